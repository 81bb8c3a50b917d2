"""The log's C2SP routes (verifier/tlog.py says which specification each follows).

  GET /log/checkpoint                    the newest (cosigned) checkpoint note   public
  GET /log/tile/<L>/<N>[.p/<W>]          Merkle tree tiles (hashes only)         public
  GET /log/tile/entries/<N>[.p/<W>]      entry bundles (the signed results)      auditor, admin
  GET /v1/attestations/<id>/tlog-proof   the result's `.tlog-proof`              as the result

The log's and witnesses' note vkeys are published in the key set document
(/.well-known/edgeproof/keys.json, member `tlog`, see `TlogView.document` in verifier/tlog.py).

The checkpoint and hash tiles carry sizes and hashes only (the witnesses' monitoring API
publishes the checkpoint anyway); the entries are the pseudonymous results, which stay
behind the auditor token like /v1/log/entries. Full tiles and bundles never change, so
they are cached for a year; partial ones for an hour (a full one replaces them).
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response

from attest import paths
from attest.note import NoteError
from attest.tlog import TILE_WIDTH, parse_tile_index
from verifier.errors import VerifierError
from verifier.http import caller, require, verifier

bp = Blueprint("tlog", __name__)
TEXT = "text/plain; charset=utf-8"
IMMUTABLE = "public, max-age=31536000, immutable"
PARTIAL = "public, max-age=3600"
_TILE = re.compile(r"((?:x[0-9]{3}/){0,6}[0-9]{3})(?:\.p/([1-9][0-9]{0,2}))?")


def _tile_arg(rest: str) -> tuple[int, int]:
    """(tile index, width) from `<N>[.p/<W>]` (tlog-tiles, "Merkle Tree")."""
    m = _TILE.fullmatch(rest)
    if not m:
        raise VerifierError("not a tile path (tlog-tiles)", code="request.not-found")
    try:
        n = parse_tile_index(m.group(1))
    except NoteError:
        raise VerifierError("not a tile path (tlog-tiles)", code="request.not-found") from None
    width = int(m.group(2)) if m.group(2) else TILE_WIDTH
    if m.group(2) and width > 255:
        raise VerifierError("a partial tile is 1 to 255 wide", code="request.not-found")
    return n, width


def _static(data: bytes, width: int, ctype: str = "application/octet-stream") -> Response:
    resp = Response(data, content_type=ctype)
    resp.headers["Cache-Control"] = IMMUTABLE if width == TILE_WIDTH else PARTIAL
    return resp


@bp.get(paths.TLOG_CHECKPOINT)
def checkpoint() -> Response:
    resp = Response(verifier().note_checkpoint(), content_type=TEXT)
    # tlog-tiles "Checkpoints": mutable, so no caching beyond a few seconds.
    resp.headers["Cache-Control"] = "public, max-age=1"
    return resp


@bp.get(paths.TLOG_TILE_RULE)
def tile(level: int, rest: str) -> Response:
    if not 0 <= level <= 63:
        raise VerifierError("tile levels are 0 to 63", code="request.not-found")
    n, width = _tile_arg(rest)
    return _static(verifier().tile(level, n, width), width)


@bp.get(paths.TLOG_ENTRIES_RULE)
@require("auditor", "admin")
def entries(rest: str) -> Response:
    n, width = _tile_arg(rest)
    resp = _static(verifier().entry_bundle(n, width), width)
    resp.headers["Cache-Control"] = resp.headers["Cache-Control"].replace("public", "private")
    return resp


@bp.get(paths.TLOG_PROOF_RULE)
@require("auditor", "admin", "relying-party")
def tlog_proof(appraisal_id: str) -> Response:
    if not re.fullmatch(r"[0-9a-f]{32}", appraisal_id):
        raise VerifierError("no such appraisal", code="request.not-found")
    resp = Response(verifier().tlog_proof(caller(), appraisal_id), content_type=TEXT)
    resp.headers["Content-Disposition"] = f'attachment; filename="{appraisal_id}.tlog-proof"'
    return resp


def _text(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/plain": {"schema": {"type": "string"}}}}


def _binary(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }


def tlog_paths(op: Any, json_ok: Any) -> dict[str, Any]:
    """These routes for verifier/openapi.py (`op` and `json_ok` are its helpers)."""
    path = {"name": "rest", "in": "path", "required": True, "schema": {"type": "string"}}
    level = {
        "name": "level",
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "minimum": 0, "maximum": 63},
    }
    aid = {"name": "appraisal_id", "in": "path", "required": True, "schema": {"type": "string"}}
    return {
        paths.TLOG_CHECKPOINT: {
            "get": op(
                "checkpoint note (C2SP tlog-checkpoint) with cosignatures",
                {"200": _text("signed note")},
                (),
                secured=False,
            )
        },
        paths.openapi_path(paths.TLOG_TILE_RULE): {
            "get": op(
                "Merkle tree tile (C2SP tlog-tiles)",
                {"200": _binary("hashes")},
                (404,),
                secured=False,
                params=[level, path],
            )
        },
        paths.openapi_path(paths.TLOG_ENTRIES_RULE): {
            "get": op(
                "entry bundle (C2SP tlog-tiles)", {"200": _binary("bundle")}, (404,), params=[path]
            )
        },
        paths.openapi_path(paths.TLOG_PROOF_RULE): {
            "get": op(
                "the result's .tlog-proof (C2SP tlog-proof)",
                {"200": _text("proof")},
                (404,),
                params=[aid],
            )
        },
    }
