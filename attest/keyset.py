"""The verifier's published key set: JWKS (RFC 7517 section 5) with rotation status.

Relying parties validate results offline with this set alone. Each key carries its
thumbprint as `kid` (the same bytes as the COSE kid, base64url), its JOSE `alg`, the exact
COSE algorithm it is pinned to (`cose_alg`) and a `status`: `current` keys sign new
results, `retiring` keys no longer sign but still validate results issued before the
rotation, until they are dropped from the set.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from attest.errors import KeyFormatError, UnknownKeyError
from attest.keys import PublicKey, b64url

KeyStatus = Literal["current", "retiring"]
MAX_KEYSET_SIZE = 64 * 1024


@dataclass(frozen=True)
class KeySetEntry:
    key: PublicKey
    status: KeyStatus


@dataclass(frozen=True)
class KeySet:
    entries: tuple[KeySetEntry, ...]

    def __post_init__(self) -> None:
        kids = [e.key.kid for e in self.entries]
        if len(set(kids)) != len(kids):
            raise KeyFormatError("a key appears twice in the key set", code="keyset.duplicate-kid")

    @classmethod
    def of(cls, current: Iterable[PublicKey], retiring: Iterable[PublicKey] = ()) -> KeySet:
        return cls(
            tuple(KeySetEntry(k, "current") for k in current)
            + tuple(KeySetEntry(k, "retiring") for k in retiring)
        )

    def __call__(self, kid: bytes) -> PublicKey:
        """Key lookup for cose.verify_sign1 and ear.verify_ear_*."""
        for e in self.entries:
            if e.key.kid == kid:
                return e.key
        raise UnknownKeyError(f"kid {b64url(kid)} is not in the verifier's key set")

    def to_json(self) -> dict[str, Any]:
        return {
            "keys": [
                {**e.key.jwk(), "cose_alg": e.key.alg, "status": e.status} for e in self.entries
            ]
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, doc: Any) -> KeySet:
        if isinstance(doc, str | bytes):
            if len(doc) > MAX_KEYSET_SIZE:
                raise KeyFormatError("key set too large", code="keyset.malformed")
            try:
                doc = json.loads(doc)
            except ValueError:
                raise KeyFormatError("key set is not JSON", code="keyset.malformed") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("keys"), list):
            raise KeyFormatError('a key set is {"keys": [...]}', code="keyset.malformed")
        entries = []
        for jwk in doc["keys"]:
            if not isinstance(jwk, dict):
                raise KeyFormatError("each key is a JSON object", code="keyset.malformed")
            status = jwk.get("status", "current")
            if status not in ("current", "retiring"):
                raise KeyFormatError(f"unknown key status {status!r}", code="keyset.malformed")
            key = PublicKey.from_jwk(jwk, cose_alg=jwk.get("cose_alg"))
            entries.append(KeySetEntry(key, status))
        return cls(tuple(entries))
