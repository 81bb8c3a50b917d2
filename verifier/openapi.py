"""The OpenAPI 3.1 description served at /openapi.json (kept next to the routes it describes)."""

from __future__ import annotations

from typing import Any

from attest import paths
from verifier.tlog_api import tlog_paths

B64 = {"type": "string", "pattern": "^[A-Za-z0-9_-]*$"}
DIGEST = {"type": "string", "pattern": "^[A-Za-z0-9_-]{43}$", "description": "base64url SHA-256"}
PROBLEM = {"$ref": "#/components/schemas/Problem"}


def _problems(*statuses: int) -> dict[str, Any]:
    return {
        str(s): {
            "description": "problem document (RFC 9457)",
            "content": {"application/problem+json": {"schema": PROBLEM}},
        }
        for s in statuses
    }


def _json(schema: dict[str, Any], description: str = "ok") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _op(
    summary: str,
    ok: dict[str, dict[str, Any]],
    errors: tuple[int, ...],
    *,
    secured: bool = True,
    params: list[dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": {**ok, **_problems(*errors)}}
    if secured:
        op["security"] = [{"bearer": []}]
        op["responses"].update(_problems(401, 403))
    if params:
        op["parameters"] = params
    if body:
        op["requestBody"] = body
    return op


def _q(name: str, required: bool = True, maximum: int = 2**31) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "schema": {"type": "integer", "minimum": 0, "maximum": maximum},
    }


KID = {"name": "kid", "in": "path", "required": True, "schema": DIGEST}
OBJ = {"type": "object"}
JSON_BODY = {"required": True, "content": {"application/json": {"schema": OBJ}}}


def _html(
    summary: str,
    statuses: tuple[int, ...],
    *,
    params: list[dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
    secured: bool = True,
) -> dict[str, Any]:
    """An auditor-console page (verifier/console.py): HTML, a session cookie, no bearer."""
    page = {"text/html": {"schema": {"type": "string"}}}
    descriptions = {
        200: "page",
        303: "redirect (to the login page without a session; after login or logout)",
        400: "page saying what was wrong with the input",
        401: "login page: unknown or revoked token",
        403: "login page: the token's role may not use the console",
        404: "page: no such appraisal",
    }
    responses: dict[str, Any] = {}
    for st in statuses:
        r: dict[str, Any] = {"description": descriptions[st]}
        if st != 303:
            r["content"] = page
        responses[str(st)] = r
    op: dict[str, Any] = {"summary": summary, "tags": ["console"], "responses": responses}
    if secured:  # a page behind the login: without a session, 303 to it
        op["security"] = [{"console_session": []}]
    if params:
        op["parameters"] = params
    if body:
        op["requestBody"] = body
    return op


def _text_q(name: str, max_length: int = 32) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": {"type": "string", "maxLength": max_length},
    }


APPRAISAL_ID = {
    "name": "appraisal_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
}
CONSOLE_FORM = {
    "required": True,
    "content": {
        "application/x-www-form-urlencoded": {
            "schema": {
                "type": "object",
                "properties": {"token": {"type": "string"}, "csrf": {"type": "string"}},
            }
        }
    },
}


def console_paths() -> dict[str, Any]:
    """The auditor console's pages (docs/verifier.md, "Console")."""
    return {
        "/console/login": {
            "get": _html("console login page", (200,), secured=False),
            "post": _html(
                "log in with an auditor or admin token",
                (200, 303, 400, 401, 403),
                body=CONSOLE_FORM,
                secured=False,
            ),
        },
        "/console/logout": {
            "post": _html("log out", (303, 400), body=CONSOLE_FORM, secured=False),
        },
        "/console/": {"get": _html("log overview: latest checkpoint, counts", (200, 303))},
        "/console/appraisals": {
            "get": _html(
                "search appraisals by id prefix, time range and status (paged)",
                (200, 303, 400),
                params=[
                    _text_q("id"),
                    _text_q("from"),
                    _text_q("to"),
                    _text_q("status", 16),
                    _text_q("page", 8),
                ],
            )
        },
        "/console/appraisals/{appraisal_id}": {
            "get": _html(
                "one appraisal: checks and the EAR claim by claim",
                (200, 303, 404),
                params=[APPRAISAL_ID],
            )
        },
        "/console/appraisals/{appraisal_id}/proof": {
            "get": _html(
                "the appraisal's inclusion proof, checked",
                (200, 303, 404),
                params=[APPRAISAL_ID],
            )
        },
        "/console/devices": {
            "get": _html("devices with enrolment, rotation, revocation", (200, 303))
        },
        "/console/charts": {
            "get": _html(
                "decisions and failure reasons per day (inline SVG)",
                (200, 303, 400),
                params=[_text_q("days", 8)],
            )
        },
    }


COSE_KEY_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {
                    "device_id": {"type": "string"},
                    "hardware_model": {"type": "string"},
                    "cose_key": B64,
                    "jwk": OBJ,
                    "overlap_s": {"type": "integer"},
                },
            }
        }
    },
}


def _public_paths() -> dict[str, Any]:
    """Unauthenticated: health, metrics, this document, the key set."""
    return {
        paths.HEALTHZ: {
            "get": _op(
                "liveness of service and database", {"200": _json(OBJ)}, (503,), secured=False
            )
        },
        paths.METRICS: {
            "get": _op(
                "Prometheus metrics",
                {
                    "200": {
                        "description": "text exposition",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
                (),
                secured=False,
            )
        },
        paths.OPENAPI: {"get": _op("this document", {"200": _json(OBJ)}, (), secured=False)},
        paths.KEYSET: {
            "get": _op(
                "result-signing keys (JWKS with status current / retiring)",
                {
                    "200": {
                        "description": "JWKS",
                        "content": {"application/jwk-set+json": {"schema": OBJ}},
                    }
                },
                (),
                secured=False,
            )
        },
    }


def _attestation_paths() -> dict[str, Any]:
    """Challenges in, evidence in, results out (ARCHITECTURE.md, "Verifier API")."""
    return {
        paths.CHALLENGES: {
            "post": _op(
                "issue a nonce and its liveness challenge",
                {"201": _json(OBJ)},
                (400, 413, 415),
                body={
                    "required": False,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "txn_hash": DIGEST,
                                    "document_commitment": DIGEST,
                                },
                                "additionalProperties": False,
                            }
                        }
                    },
                },
            )
        },
        paths.ATTESTATIONS: {
            "post": _op(
                "appraise evidence; returns the signed EAR (draft-ietf-rats-ear-04, or the"
                " 2023 Veraison profile when Accept names it by eat_profile), its record"
                " CMWs, the log index and inclusion proof",
                {"201": _json(OBJ)},
                (400, 406, 409, 413, 415, 422),
                secured=False,
                body={
                    "required": True,
                    "content": {
                        "application/eat+cwt": {"schema": {"type": "string", "format": "binary"}}
                    },
                },
            )
        },
        paths.openapi_path(paths.ATTESTATION_RULE): {
            "get": _op(
                "one appraisal (relying parties: their own only); by Accept, the bare"
                " EAR (application/eat+cwt, application/eat+jwt) or a record CMW"
                " (application/cmw+json, application/cmw+cbor)",
                {
                    "200": {
                        "description": "the appraisal, or the form of its result asked for",
                        "content": {
                            "application/json": {"schema": OBJ},
                            "application/eat+cwt": {"schema": {"type": "string"}},
                            "application/eat+jwt": {"schema": {"type": "string"}},
                            "application/cmw+json": {"schema": {"type": "array"}},
                            "application/cmw+cbor": {"schema": {"type": "string"}},
                        },
                    }
                },
                (404,),
                params=[
                    {
                        "name": "appraisal_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    }
                ],
            )
        },
    }


def _management_paths() -> dict[str, Any]:
    """Admin operations: devices, reference values, tokens."""
    return {
        paths.DEVICES: {
            "post": _op(
                "enrol a device key",
                {"201": _json(OBJ)},
                (400, 409, 413, 415, 422),
                body=COSE_KEY_BODY,
            )
        },
        paths.openapi_path(paths.DEVICE_RULE): {
            "get": _op("a device key record", {"200": _json(OBJ)}, (404,), params=[KID]),
            "delete": _op(
                "revoke a device key (kept for auditors)",
                {"200": _json(OBJ)},
                (404,),
                params=[KID],
            ),
        },
        paths.openapi_path(paths.DEVICE_ROTATE_RULE): {
            "post": _op(
                "rotate a device key with an overlap window",
                {"201": _json(OBJ)},
                (400, 404, 409, 413, 415, 422),
                params=[KID],
                body=COSE_KEY_BODY,
            )
        },
        paths.REFERENCE_VALUES: {
            "put": _op(
                "add a signed release manifest (COSE_Sign1 by a trusted release key)",
                {"200": _json(OBJ), "201": _json(OBJ)},
                (400, 413, 415, 422),
                body={
                    "required": True,
                    "content": {
                        "application/cose": {"schema": {"type": "string", "format": "binary"}}
                    },
                },
            ),
            "get": _op("accepted release manifests", {"200": _json(OBJ)}, ()),
        },
        paths.TOKENS: {
            "post": _op(
                "create a bearer token (shown once)",
                {"201": _json(OBJ)},
                (400, 413, 415),
                body={
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["role"],
                                "properties": {
                                    "role": {"enum": ["admin", "auditor", "relying-party"]},
                                    "label": {"type": "string"},
                                },
                            }
                        }
                    },
                },
            )
        },
        paths.openapi_path(paths.TOKEN_RULE): {
            "delete": _op(
                "revoke a bearer token",
                {"204": {"description": "revoked"}},
                (404,),
                params=[
                    {
                        "name": "token_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer", "minimum": 0, "maximum": 2**31},
                    }
                ],
            )
        },
    }


def _log_paths() -> dict[str, Any]:
    """The RFC 9162 log as JSON (the C2SP routes are in verifier/tlog_api.py)."""
    return {
        paths.LOG_CHECKPOINT: {
            "get": _op("signed checkpoint (size, root, time)", {"200": _json(OBJ)}, ())
        },
        paths.LOG_INCLUSION: {
            "get": _op(
                "inclusion proof (RFC 9162 section 2.1.3)",
                {"200": _json(OBJ)},
                (400,),
                params=[_q("index"), _q("tree_size", required=False)],
            )
        },
        paths.LOG_CONSISTENCY: {
            "get": _op(
                "consistency proof (RFC 9162 section 2.1.4)",
                {"200": _json(OBJ)},
                (400,),
                params=[_q("first"), _q("second")],
            )
        },
        paths.LOG_ENTRIES: {
            "get": _op(
                "log entries (signed EARs), paged",
                {"200": _json(OBJ)},
                (400,),
                params=[_q("start", required=False), _q("limit", required=False, maximum=1000)],
            )
        },
    }


def openapi() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "edgeproof verifier",
            "version": "1",
            "description": "Appraises device evidence, signs EARs, keeps an RFC 9162 audit log. "
            "Errors are RFC 9457 problem documents with a stable `code` (docs/verifier.md).",
        },
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "console_session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "edgeproof_console",
                    "description": "the auditor console's session (POST /console/login)",
                },
            },
            "schemas": {
                "Problem": {
                    "type": "object",
                    "required": ["type", "title", "status", "code"],
                    "properties": {
                        "type": {"type": "string"},
                        "title": {"type": "string"},
                        "status": {"type": "integer"},
                        "detail": {"type": "string"},
                        "code": {"type": "string"},
                        "checks": {"type": "array"},
                    },
                }
            },
        },
        "paths": {
            **_public_paths(),
            **_attestation_paths(),
            **_management_paths(),
            **_log_paths(),
            **console_paths(),
            **tlog_paths(_op, _json),
        },
    }
