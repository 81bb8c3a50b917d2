"""Fetch and cache the verifier's key set, honouring rotation.

Rotation works like this: the verifier adds a new `current` key and marks the old one
`retiring` before it stops signing with it, and drops it only after every result it signed
has aged out. A cached set can therefore miss only a key newer than the cache; on an
unknown kid the cache refetches once (rate-limited), then gives up with the lookup error.
"""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable

from attest import paths
from attest.errors import KeyFormatError, UnknownKeyError
from attest.keys import PublicKey
from attest.keyset import MAX_KEYSET_SIZE, KeySet

WELL_KNOWN_PATH = paths.KEYSET


def fetch_keyset(verifier_url: str, timeout: float = 5.0) -> KeySet:
    """GET the key set from `verifier_url` (http or https only)."""
    url = verifier_url.rstrip("/") + WELL_KNOWN_PATH
    if not url.startswith(("http://", "https://")):
        raise KeyFormatError(
            f"verifier URL must be http(s): {verifier_url!r}", code="keyset.bad-url"
        )
    req = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - scheme checked above
        body = resp.read(MAX_KEYSET_SIZE + 1)
    return KeySet.from_json(body)


class CachedKeySet:
    """A key lookup for `attest.rp.validate_result` backed by a refreshed cache."""

    def __init__(
        self,
        fetch: Callable[[], KeySet],
        *,
        ttl_s: float = 3600.0,
        min_refetch_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._ttl = ttl_s
        self._min_refetch = min_refetch_s
        self._clock = clock
        self._keys: KeySet | None = None
        self._fetched_at = float("-inf")

    @classmethod
    def for_verifier(
        cls, verifier_url: str, *, ttl_s: float = 3600.0, min_refetch_s: float = 30.0
    ) -> CachedKeySet:
        return cls(lambda: fetch_keyset(verifier_url), ttl_s=ttl_s, min_refetch_s=min_refetch_s)

    def _refresh(self) -> KeySet:
        self._keys = self._fetch()
        self._fetched_at = self._clock()
        return self._keys

    def keyset(self) -> KeySet:
        if self._keys is None or self._clock() - self._fetched_at > self._ttl:
            return self._refresh()
        return self._keys

    def __call__(self, kid: bytes) -> PublicKey:
        try:
            return self.keyset()(kid)
        except UnknownKeyError:
            if self._clock() - self._fetched_at < self._min_refetch:
                raise
            return self._refresh()(kid)
