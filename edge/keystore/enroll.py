"""Enrolment: register this device's public key with the verifier (POST /v1/devices).

The verifier pins the key's algorithm and kid (RFC 9679 thumbprint) at enrolment and from
then on accepts evidence from this device only under that key (ARCHITECTURE.md, "Verifier
API"). Only the public COSE_Key leaves the device. Enrolling a key that is already
enrolled is not an error: the verifier's record is fetched and shown instead, so the
command can be repeated safely during provisioning.
"""

from __future__ import annotations

import platform
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from attest import paths
from attest.keys import b64url
from edge.keystore.base import KeyStore
from edge.keystore.errors import KeyStoreError

DEVICE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
TIMEOUT_S = 15.0


class EnrolError(KeyStoreError, ConnectionError):
    """The verifier could not be reached, or refused the enrolment."""

    code = "keystore.enrol-failed"


@dataclass(frozen=True)
class Enrolment:
    """The verifier's record of this device's key."""

    kid: str
    device_id: str
    alg: int
    created: bool
    record: dict[str, Any]


def hardware_model() -> str:
    """What the board says it is (device tree on a Pi), else the machine architecture."""
    try:
        raw = Path("/proc/device-tree/model").read_bytes().rstrip(b"\x00").decode("ascii")
    except (OSError, UnicodeDecodeError):
        raw = ""
    model = re.sub(r"[^ -~]", "", raw).strip()[:128]
    return model or f"{platform.system()} {platform.machine()}"[:128]


def default_device_id() -> str:
    """The host name, cut to what the verifier accepts."""
    name = re.sub(r"[^A-Za-z0-9._:-]", "-", socket.gethostname())[:64].lstrip("._:-")
    return name or "edgeproof-device"


def enrol(
    store: KeyStore,
    verifier_url: str,
    admin_token: str,
    *,
    device_id: str,
    client: httpx.Client | None = None,
) -> Enrolment:
    if not DEVICE_ID.fullmatch(device_id):
        raise EnrolError(
            f"device id {device_id!r} must be 1-64 of [A-Za-z0-9._:-], starting alphanumeric",
            code="keystore.bad-device-id",
        )
    base = verifier_url.rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise EnrolError(f"verifier URL {verifier_url!r} must start with https:// or http://")
    public = store.public_key()
    body = {
        "device_id": device_id,
        "cose_key": b64url(public.cose_key_bytes()),
        "hardware_model": hardware_model(),
    }
    headers = {"Authorization": f"Bearer {admin_token}"}
    http = client or httpx.Client(timeout=TIMEOUT_S)
    try:
        r = http.post(base + paths.DEVICES, json=body, headers=headers)
        created = r.status_code == 201
        if r.status_code == 409:  # already enrolled: show what the verifier holds
            r = http.get(base + paths.device(b64url(public.kid)), headers=headers)
        if r.status_code not in (200, 201):
            raise EnrolError(_problem(r), code=f"keystore.enrol-refused-{r.status_code}")
        record = r.json()
    except httpx.HTTPError as exc:
        raise EnrolError(f"cannot reach the verifier at {base}: {exc}") from None
    except ValueError:
        raise EnrolError(f"the verifier at {base} answered with no JSON") from None
    finally:
        if client is None:
            http.close()
    if not isinstance(record, dict) or record.get("kid") != b64url(public.kid):
        raise EnrolError(
            "the verifier's record does not name this key", code="keystore.enrol-mismatch"
        )
    if record.get("alg") != public.alg:
        raise EnrolError(
            f"the verifier pinned algorithm {record.get('alg')}, the key is {public.alg}",
            code="keystore.enrol-mismatch",
        )
    return Enrolment(
        kid=record["kid"],
        device_id=str(record.get("device_id")),
        alg=public.alg,
        created=created,
        record=record,
    )


def _problem(r: httpx.Response) -> str:
    """A problem document's (RFC 9457) code and detail, for the operator."""
    try:
        doc = r.json()
    except ValueError:
        return f"HTTP {r.status_code}"
    if not isinstance(doc, dict):
        return f"HTTP {r.status_code}"
    parts = [str(doc.get(k)) for k in ("code", "title", "detail") if doc.get(k)]
    return f"HTTP {r.status_code}: " + " - ".join(parts)
