"""The console's device page: keys grouped by device, with enrolment, rotation and
revocation as a history (a revoked key stays listed: old results still name it).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from attest.keys import ALG_NAMES, b64url
from verifier.console_base import (
    bp,
    page,
    utc_epoch,
)
from verifier.http import verifier
from verifier.storage import Appraisal, Device

MAX_DEVICES = 1000


@bp.get("/devices")
def devices() -> Any:
    v = verifier()
    with v.reader() as s:
        keys = (
            s.execute(select(Device).order_by(Device.device_id, Device.enrolled_at))
            .scalars()
            .all()[: MAX_DEVICES + 1]
        )
        used = dict(
            s.execute(
                select(Appraisal.device_kid, func.count()).group_by(Appraisal.device_kid)
            ).all()
        )
    groups: dict[str, list[dict[str, Any]]] = {}
    events: dict[str, list[tuple[int, str]]] = {}
    enrolled = {k.kid: k for k in keys}
    for k in keys[:MAX_DEVICES]:
        kid = b64url(k.kid)
        groups.setdefault(k.device_id, []).append(
            {
                "kid": kid,
                "alg": ALG_NAMES.get(k.alg, str(k.alg)),
                "enrolled_at": k.enrolled_at,
                "not_after": k.not_after,
                "revoked_at": k.revoked_at,
                "replaced_by": b64url(k.replaced_by) if k.replaced_by else None,
                "appraisals": int(used.get(k.kid, 0)),
                "state": _key_state(k, v.now()),
            }
        )
        ev = events.setdefault(k.device_id, [])
        ev.append((k.enrolled_at, f"key {kid} enrolled"))
        if k.replaced_by is not None:
            # Rotation enrols the new key and closes the old one in one transaction, so
            # the new key's enrolment time is when the rotation happened.
            new = enrolled.get(k.replaced_by)
            until = f"; still accepted until {utc_epoch(k.not_after)}" if k.not_after else ""
            ev.append(
                (
                    new.enrolled_at if new is not None else k.enrolled_at,
                    f"key {kid} rotated to {b64url(k.replaced_by)}{until}",
                )
            )
        if k.revoked_at is not None:
            ev.append((k.revoked_at, f"key {kid} revoked"))
    history = {d: sorted(e, key=lambda x: x[0]) for d, e in events.items()}  # stable
    return page("devices.html", groups=groups, history=history, truncated=len(keys) > MAX_DEVICES)


def _key_state(k: Device, now: int) -> str:
    if k.revoked_at is not None:
        return "revoked"
    if k.replaced_by is not None:
        return "retiring" if k.not_after is not None and k.not_after > now else "rotated"
    return "active"
