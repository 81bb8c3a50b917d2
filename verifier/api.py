"""The HTTP API (ARCHITECTURE.md, "Verifier API"): thin views over verifier.service.

Views parse and check their inputs at the boundary, call one service operation and
return JSON; every error is a VerifierError turned into a problem document by verifier/http.py.
/openapi.json (verifier/openapi.py) describes exactly these routes.
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Blueprint, Response, jsonify, request

from attest import ear as earmod
from attest import paths
from attest.errors import AttestError
from attest.keys import EDDSA, PublicKey, b64url, b64url_decode
from verifier import metrics
from verifier.errors import RequestError, VerifierError
from verifier.http import body, caller, created, int_arg, json_body, only, require, verifier
from verifier.openapi import openapi

bp = Blueprint("api", __name__)
EVIDENCE_TYPE = "application/eat+cwt"
MANIFEST_TYPE = "application/cose"
MAX_MANIFEST_BODY = 300 * 1024
_DEVICE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
_HARDWARE = re.compile(r"[ -~]{1,128}")  # printable ASCII, e.g. "Raspberry Pi 5 Model B Rev 1.0"
_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._:-]{0,63}")


def _digest(doc: dict[str, Any], name: str, lo: int = 32, hi: int = 32) -> bytes | None:
    v = doc.get(name)
    if v is None:
        return None
    try:
        raw = b64url_decode(v)
    except AttestError:
        raise RequestError(f"{name} must be unpadded base64url") from None
    if not lo <= len(raw) <= hi:
        size = "a 32-byte SHA-256 digest" if lo == hi == 32 else f"{lo} to {hi} bytes"
        raise RequestError(f"{name} must be {size}")
    return raw


def _kid(text: str) -> bytes:
    try:
        raw = b64url_decode(text)
    except AttestError:
        raw = b""
    if len(raw) != 32:
        raise VerifierError("a kid is 32 bytes of base64url", code="request.not-found")
    return raw


def _key(doc: dict[str, Any]) -> PublicKey:
    v = doc.get("cose_key")
    try:
        if isinstance(v, str):
            key = PublicKey.from_cose_key(b64url_decode(v))
        elif isinstance(doc.get("jwk"), dict):
            key = PublicKey.from_jwk(doc["jwk"])
        else:
            raise RequestError("give cose_key (base64url COSE_Key bytes) or jwk")
    except AttestError as exc:
        raise VerifierError(f"{exc.code}: {exc.message}", code="device.bad-key") from None
    if key.alg == EDDSA:
        # RFC 9864 section 4.2 deprecates the polymorphic EdDSA (-8) for the fully specified
        # Ed25519 (-19). A new enrolment (or rotation) must pin -19: the same key, the same
        # kid (RFC 9679 thumbprints leave alg out). Devices pinned to -8 before keep working:
        # their pin is stored, and for an OKP/Ed25519 key -8 is not ambiguous.
        raise VerifierError(
            "COSE alg -8 (EdDSA) is deprecated by RFC 9864: enrol the key with alg -19",
            code="device.deprecated-alg",
        )
    return key


# -- public ---------------------------------------------------------------------------------


@bp.get(paths.HEALTHZ)
def healthz() -> Response:
    if not verifier().healthy():
        raise VerifierError("the database is not reachable", code="request.unavailable")
    return jsonify({"status": "ok"})


@bp.get(paths.METRICS)
def metrics_view() -> Response:
    data, ctype = metrics.exposition()
    return Response(data, content_type=ctype)


@bp.get(paths.OPENAPI)
def openapi_view() -> Response:
    return jsonify(openapi())


@bp.get(paths.KEYSET)
def keyset() -> Response:
    return Response(verifier().keyset_document(), mimetype="application/jwk-set+json")


# -- challenges and attestations -------------------------------------------------------------


@bp.post(paths.CHALLENGES)
@require("relying-party", "admin")
def challenges() -> Response:
    doc = json_body(optional=True)
    only(doc, {"txn_hash", "document_commitment", "commitment_salt"})
    commitment = _digest(doc, "document_commitment")
    # attest/commitment.py: the salt travels with the commitment to the device. It is
    # echoed, never stored: with the salt, a stored commitment could be brute-forced
    # over the space of document numbers.
    salt = _digest(doc, "commitment_salt", 16, 64)
    if (commitment is None) != (salt is None):
        raise RequestError("document_commitment and commitment_salt come together")
    out = verifier().issue_challenge(caller(), _digest(doc, "txn_hash"), commitment)
    if salt is not None:
        out["commitment_salt"] = doc["commitment_salt"]
    return created(out)


def _accept() -> list[tuple[str, str | None]]:
    """The Accept header's media types, in order, each with its eat_profile parameter
    (RFC 9782: optional, case-insensitive). Bounded: at most 16 entries."""
    out: list[tuple[str, str | None]] = []
    for item in _split_unquoted(request.headers.get("Accept", "")[:1024], ",")[:16]:
        mtype, _, params = item.partition(";")
        profile = None
        for p in params.split(";"):
            name, _, value = p.strip().partition("=")
            if name.strip().lower() == "eat_profile":
                profile = value.strip().strip('"').lower()
        out.append((mtype.strip().lower(), profile))
    return out


def _split_unquoted(text: str, sep: str) -> list[str]:
    """Split at `sep` outside quoted strings (RFC 9110 section 5.6.4): the 2023 EAR
    profile, `tag:github.com,2023:veraison/ear`, has a comma in it."""
    parts: list[str] = []
    cur: list[str] = []
    quoted = False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if ch == sep and not quoted:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


def _requested_profile() -> str | None:
    """An EAR profile named in Accept (`application/eat+cwt; eat_profile="..."` or the
    +jwt form); None: the configured default. A profile we do not issue is a 406."""
    for mtype, profile in _accept():
        if profile is None or mtype not in (earmod.CWT_MEDIA, earmod.JWT_MEDIA, "*/*"):
            continue
        for known in earmod.PROFILES:
            if profile == known.lower():
                return known
        raise VerifierError(
            f"results are issued in the EAR profiles {list(earmod.PROFILES)}",
            code="request.not-acceptable",
        )
    return None


def _with_cmw(out: dict[str, Any]) -> dict[str, Any]:
    """The result also as record CMWs (draft-ietf-rats-msg-wrap-23 section 3.1), and the
    RFC 9782 media type of each serialisation with its eat_profile."""
    ear = out["ear"]
    cwt = b64url_decode(ear["cwt"])
    profile = earmod.decode_ear_unverified(cwt).profile
    ear["profile"] = profile
    ear["media_types"] = {
        "cwt": f'{earmod.CWT_MEDIA}; eat_profile="{profile}"',
        "jwt": f'{earmod.JWT_MEDIA}; eat_profile="{profile}"',
    }
    ear["cmw_json"] = earmod.cmw_json(ear["jwt"], profile)
    ear["cmw_cbor"] = b64url(earmod.cmw_cbor(cwt, profile))
    return out


def _negotiated(out: dict[str, Any]) -> Response:
    """GET of a result: the JSON document, or the bare token / CMW the Accept header asks
    for (RFC 9110 section 12.5.1; q-values are not weighed, the first match wins)."""
    ear = out["ear"]
    for mtype, _ in _accept():
        if mtype == earmod.CWT_MEDIA:
            return Response(b64url_decode(ear["cwt"]), content_type=ear["media_types"]["cwt"])
        if mtype == earmod.JWT_MEDIA:
            return Response(ear["jwt"], content_type=ear["media_types"]["jwt"])
        if mtype == earmod.CMW_JSON_MEDIA:
            body_ = json.dumps(ear["cmw_json"], separators=(",", ":"))
            return Response(body_, content_type=earmod.CMW_JSON_MEDIA)
        if mtype == earmod.CMW_CBOR_MEDIA:
            return Response(b64url_decode(ear["cmw_cbor"]), content_type=earmod.CMW_CBOR_MEDIA)
    return jsonify(out)


@bp.post(paths.ATTESTATIONS)
def attestations() -> Response:
    v = verifier()
    token = body(EVIDENCE_TYPE, v.config.max_evidence_bytes)
    profile = _requested_profile()
    try:
        out = v.submit(token, profile)
    except VerifierError as exc:
        metrics.appraisal(exc.code)
        raise
    metrics.appraisal(f"result-{out['status']}")
    return created(_with_cmw(out), paths.attestation(out["appraisal_id"]))


@bp.get(paths.ATTESTATION_RULE)
@require("auditor", "admin", "relying-party")
def attestation(appraisal_id: str) -> Response:
    if not re.fullmatch(r"[0-9a-f]{32}", appraisal_id):
        raise VerifierError("no such appraisal", code="request.not-found")
    return _negotiated(_with_cmw(verifier().appraisal(caller(), appraisal_id)))


# -- management ------------------------------------------------------------------------------


@bp.post(paths.DEVICES)
@require("admin")
def enrol() -> Response:
    doc = json_body()
    only(doc, {"device_id", "cose_key", "jwk", "hardware_model"})
    device_id = doc.get("device_id")
    if not isinstance(device_id, str) or not _DEVICE_ID.fullmatch(device_id):
        raise RequestError("device_id must be a short identifier ([A-Za-z0-9._:-], <= 64)")
    model = doc.get("hardware_model")
    if model is not None and (not isinstance(model, str) or not _HARDWARE.fullmatch(model)):
        raise RequestError("hardware_model must be printable text of at most 128 characters")
    out = verifier().enrol(device_id, _key(doc), model)
    return created(out, paths.device(out["kid"]))


@bp.get(paths.DEVICE_RULE)
@require("admin", "auditor")
def device(kid: str) -> Response:
    return jsonify(verifier().device(_kid(kid)))


@bp.delete(paths.DEVICE_RULE)
@require("admin")
def revoke(kid: str) -> Response:
    return jsonify(verifier().revoke_device(_kid(kid)))


@bp.post(paths.DEVICE_ROTATE_RULE)
@require("admin")
def rotate(kid: str) -> Response:
    doc = json_body()
    only(doc, {"cose_key", "jwk", "overlap_s"})
    overlap = doc.get("overlap_s", 0)
    if not isinstance(overlap, int) or isinstance(overlap, bool):
        raise RequestError("overlap_s must be an integer (seconds)")
    return created(verifier().rotate_device(_kid(kid), _key(doc), overlap))


@bp.put(paths.REFERENCE_VALUES)
@require("admin")
def put_reference_values() -> Response:
    signed = body(MANIFEST_TYPE, MAX_MANIFEST_BODY)
    created, info = verifier().add_manifest(signed)
    resp = jsonify(info)
    resp.status_code = 201 if created else 200
    return resp


@bp.get(paths.REFERENCE_VALUES)
@require("admin", "auditor")
def get_reference_values() -> Response:
    return jsonify({"manifests": verifier().manifests()})


@bp.post(paths.TOKENS)
@require("admin")
def create_token() -> Response:
    doc = json_body()
    only(doc, {"role", "label"})
    role, label = doc.get("role"), doc.get("label", "")
    if not isinstance(role, str) or not isinstance(label, str):
        raise RequestError("role and label are strings")
    if label and not _LABEL.fullmatch(label):
        raise RequestError("label must be short plain text")
    token_id, token = verifier().create_token(role, label or role)
    return created({"id": token_id, "role": role, "token": token})


@bp.delete(paths.TOKEN_RULE)
@require("admin")
def revoke_token(token_id: int) -> Response:
    verifier().revoke_token(token_id)
    return Response(status=204)


# -- audit log (RFC 9162) --------------------------------------------------------------------


@bp.get(paths.LOG_CHECKPOINT)
@require("auditor", "admin")
def checkpoint() -> Response:
    return jsonify(verifier().checkpoint())


@bp.get(paths.LOG_INCLUSION)
@require("auditor", "admin")
def inclusion() -> Response:
    size = request.args.get("tree_size")
    return jsonify(
        verifier().inclusion(int_arg("index"), None if size is None else int_arg("tree_size"))
    )


@bp.get(paths.LOG_CONSISTENCY)
@require("auditor", "admin")
def consistency() -> Response:
    return jsonify(verifier().consistency(int_arg("first"), int_arg("second")))


@bp.get(paths.LOG_ENTRIES)
@require("auditor", "admin")
def entries() -> Response:
    return jsonify(verifier().entries(int_arg("start", 0), int_arg("limit", 100, hi=1000) or 1))
