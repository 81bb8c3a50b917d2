"""Record CMW (draft-ietf-rats-msg-wrap-23 section 3.1) around an EAR: wrap and unwrap.

Why apart from attest.ear: wrapping is transport, not the result's claims; it needs only
the media types and profile names (attest.ear_claims). attest.ear re-exports these names.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from attest import cbor
from attest.ear_claims import (
    CMW_IND_ATTESTATION_RESULTS,
    CWT_MEDIA,
    EAR_PROFILE,
    JWT_MEDIA,
    MAX_JWT_SIZE,
    PROFILES,
)
from attest.errors import KeyFormatError, ResultError
from attest.keys import b64url_decode


def cmw_json(jwt: str, profile: str = EAR_PROFILE) -> list[Any]:
    """A JSON record CMW: [media type, base64url value, ind]. The value is base64url even
    though a JWT is text (section 3.1: "This always applies"); `ind` says "attestation
    results" (section 3.1.1), since application/eat+jwt alone does not."""
    value = base64.urlsafe_b64encode(jwt.encode("ascii")).rstrip(b"=").decode("ascii")
    return [f'{JWT_MEDIA}; eat_profile="{profile}"', value, CMW_IND_ATTESTATION_RESULTS]


def cmw_cbor(cwt: bytes, profile: str = EAR_PROFILE) -> bytes:
    """A CBOR record CMW: [media type, bstr value, ind], deterministic CBOR."""
    return cbor.encode([f'{CWT_MEDIA}; eat_profile="{profile}"', cwt, CMW_IND_ATTESTATION_RESULTS])


def unwrap_cmw(data: bytes | str | list[Any]) -> bytes | str:
    """The EAR token inside a record CMW (JSON text, a parsed JSON array, or CBOR bytes).

    Only records whose type is an EAT media type of an EAR profile are unwrapped: anything
    else is not an attestation result of ours (`cmw.unsupported`)."""
    rec: Any
    if isinstance(data, list):
        rec = data
    elif isinstance(data, str) or (isinstance(data, bytes) and data[:1] == b"["):
        try:
            rec = json.loads(data)
        except (ValueError, RecursionError):
            raise ResultError("CMW is not JSON", code="cmw.malformed") from None
    else:
        rec = cbor.decode(bytes(data), max_size=MAX_JWT_SIZE + 64)
    if not isinstance(rec, list) or len(rec) not in (2, 3) or not isinstance(rec[0], str):
        raise ResultError("a record CMW is [type, value, ?ind]", code="cmw.malformed")
    if len(rec) == 3 and (
        not isinstance(rec[2], int)
        or isinstance(rec[2], bool)
        or not 0 < rec[2] < 2**32
        or not rec[2] & CMW_IND_ATTESTATION_RESULTS
    ):
        raise ResultError("CMW ind does not say attestation results", code="cmw.unsupported")
    mtype, _, params = rec[0].partition(";")
    mtype = mtype.strip().lower()
    profile = _eat_profile_param(params)
    if profile is not None and profile not in {p.lower() for p in PROFILES}:
        raise ResultError(f"CMW carries eat_profile {profile!r}", code="cmw.unsupported")
    if mtype == JWT_MEDIA and isinstance(rec[1], str):
        return _b64_cmw(rec[1]).decode("ascii", "replace")
    if mtype == CWT_MEDIA and isinstance(rec[1], bytes):
        return rec[1]
    if mtype == CWT_MEDIA and isinstance(rec[1], str):
        return _b64_cmw(rec[1])
    raise ResultError(f"CMW type {mtype!r} is not an EAT result", code="cmw.unsupported")


def _eat_profile_param(params: str) -> str | None:
    """RFC 9782: the optional eat_profile parameter, case-insensitive."""
    for p in params.split(";"):
        name, _, value = p.strip().partition("=")
        if name.strip().lower() == "eat_profile":
            return value.strip().strip('"').lower()
    return None


def _b64_cmw(v: str) -> bytes:
    try:
        return b64url_decode(v)
    except KeyFormatError:
        raise ResultError("CMW value is not base64url", code="cmw.malformed") from None
