"""Device keys: enrolment, rotation with an overlap window, revocation.

Why rows are never deleted: an auditor re-checking an old result needs the key that
signed its evidence, and a revoked key must keep answering `device.revoked`, not
`device.unknown` (docs/verifier.md, "Devices").
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy.exc import IntegrityError

from attest.keys import PublicKey, b64url
from verifier import appraisal as ap
from verifier.context import Context
from verifier.errors import NotFoundError, RequestError, VerifierError
from verifier.storage import Device

MAX_OVERLAP_S = 30 * 24 * 3600


class Devices:
    """The enrolled keys, one row per key (a rotation adds a row)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def enrol(
        self, device_id: str, key: PublicKey, hardware_model: str | None = None
    ) -> dict[str, Any]:
        row = Device(
            kid=key.kid,
            device_id=device_id,
            hardware_model=hardware_model,
            alg=key.alg,
            cose_key=key.cose_key_bytes(),
            enrolled_at=self.ctx.now(),
        )
        try:
            with self.ctx.writer() as s, s.begin():
                s.add(row)
        except IntegrityError:
            raise VerifierError("this key is already enrolled", code="request.conflict") from None
        return device_json(row)

    def get(self, kid: bytes) -> dict[str, Any]:
        with self.ctx.reader() as s:
            row = s.get(Device, kid)
        if row is None:
            raise NotFoundError("no such device key")
        return device_json(row)

    def revoke(self, kid: bytes) -> dict[str, Any]:
        now = self.ctx.now()
        with self.ctx.writer() as s, s.begin():
            row = s.get(Device, kid)
            if row is None:
                raise NotFoundError("no such device key")
            if row.revoked_at is None:
                row.revoked_at = now
            return device_json(row)

    def rotate(self, kid: bytes, new_key: PublicKey, overlap_s: int) -> dict[str, Any]:
        """The old key stays valid `overlap_s` more seconds, so queued evidence still lands."""
        if not 0 <= overlap_s <= MAX_OVERLAP_S:
            raise RequestError(f"overlap_s must be 0..{MAX_OVERLAP_S}")
        now = self.ctx.now()
        try:
            with self.ctx.writer() as s, s.begin():
                old = s.get(Device, kid)
                if old is None:
                    raise NotFoundError("no such device key")
                if old.revoked_at is not None or old.replaced_by is not None:
                    raise VerifierError(
                        "only an active, unrotated key can be rotated", code="request.conflict"
                    )
                new = Device(
                    kid=new_key.kid,
                    device_id=old.device_id,
                    hardware_model=old.hardware_model,
                    alg=new_key.alg,
                    cose_key=new_key.cose_key_bytes(),
                    enrolled_at=now,
                )
                s.add(new)
                old.not_after = now + overlap_s
                old.replaced_by = new_key.kid
                s.flush()
                return {"old": device_json(old), "new": device_json(new)}
        except IntegrityError:
            raise VerifierError(
                "the new key is already enrolled", code="request.conflict"
            ) from None


@lru_cache(maxsize=4096)
def _device_key(cose_key: bytes) -> PublicKey:
    """Parsing (and point-checking) a key is a pure function of its bytes: cache it."""
    return PublicKey.from_cose_key(cose_key)


def device_record(row: Any) -> ap.DeviceRecord | None:
    """From a `devices` row (ORM object or Core row)."""
    if row is None:
        return None
    return ap.DeviceRecord(
        kid=row.kid,
        key=_device_key(row.cose_key),
        device_id=row.device_id,
        revoked_at=row.revoked_at,
        not_after=row.not_after,
    )


def device_json(row: Device) -> dict[str, Any]:
    return {
        "kid": b64url(row.kid),
        "device_id": row.device_id,
        "hardware_model": row.hardware_model,
        "alg": row.alg,
        "cose_key": b64url(row.cose_key),
        "enrolled_at": row.enrolled_at,
        "not_after": row.not_after,
        "revoked_at": row.revoked_at,
        "replaced_by": b64url(row.replaced_by) if row.replaced_by else None,
    }
