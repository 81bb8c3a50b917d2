"""Reference values: the signed release manifests whose model digests evidence may name.

Why a cache keyed by the row count: manifests are append-only (there is no delete), so
the set in memory is current exactly when the count the hot-path read returns matches
it; appraisal then needs no extra query (verifier/hotpath.py reads the count with the
device and the nonce).
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from attest.errors import AttestError
from attest.keys import PublicKey, b64url
from attest.manifest import ReleaseManifest, verify_manifest
from verifier import appraisal as ap
from verifier.context import Context
from verifier.errors import VerifierError
from verifier.storage import ReferenceManifest

MAX_MANIFEST = 300 * 1024


class References:
    """Accepts manifests signed by a trusted release key and serves their digests."""

    def __init__(self, ctx: Context, release_keys: dict[bytes, PublicKey]) -> None:
        self.ctx = ctx
        self.release_keys = release_keys
        self._refs: dict[bytes, frozenset[bytes]] = {}
        self._lock = threading.Lock()

    def add(self, signed: bytes) -> tuple[bool, dict[str, Any]]:
        """(created, info): adding a manifest already held is not an error (idempotent PUT)."""
        try:
            manifest = verify_manifest(signed, self.release_keys)
        except AttestError as exc:
            raise VerifierError(f"{exc.code}: {exc.message}", code="manifest.invalid") from None
        digest = manifest.digest()
        info = {"digest": b64url(digest), "name": manifest.name, "version": manifest.version}
        try:
            with self.ctx.writer() as s, s.begin():
                if s.get(ReferenceManifest, digest) is not None:
                    return False, info
                s.add(
                    ReferenceManifest(
                        digest=digest,
                        name=manifest.name,
                        version=manifest.version,
                        signed=signed,
                        added_at=self.ctx.now(),
                    )
                )
        except IntegrityError:  # another replica added it at the same moment
            return False, info
        return True, info

    def manifests(self) -> list[dict[str, Any]]:
        with self.ctx.reader() as s:
            rows = s.execute(
                select(ReferenceManifest).order_by(ReferenceManifest.added_at)
            ).scalars()
            return [
                {
                    "digest": b64url(r.digest),
                    "name": r.name,
                    "version": r.version,
                    "added_at": r.added_at,
                }
                for r in rows
            ]

    def current(self, count: int) -> ap.ReferenceValues:
        """Manifests are append-only, so the cache is current when the row count matches."""
        with self._lock:
            if count != len(self._refs):
                refs = {}
                with self.ctx.reader() as s:
                    rows = s.execute(select(ReferenceManifest.digest, ReferenceManifest.signed))
                    for row in rows:
                        m = ReleaseManifest.decode(_payload(row.signed))
                        refs[row.digest] = frozenset(m.models.values())
                self._refs = refs
            return ap.ReferenceValues(dict(self._refs))


def _payload(signed: bytes) -> bytes:
    from attest.cose import decode_sign1

    return decode_sign1(signed, max_size=MAX_MANIFEST).payload
