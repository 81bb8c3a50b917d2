"""The verifier's and the witness's HTTP paths, spelled once.

Why here: the verifier's Flask routes, its OpenAPI document and every client (the device's
verifier link and enrolment, the auditor, the relying-party tools, the witness) must agree
on the wire, and a path spelled in eight files drifts. `attest` is the one package every
side may import (ARCHITECTURE.md), and these are pure constants, so they live beside the
token formats. tests/verifier/test_paths.py checks that the Flask url_map and the OpenAPI
document name exactly these paths.

Each route is given twice where it has a parameter: a `*_RULE` in Flask's `<name>` form
(what the server registers), and a function that fills it in for a client. The OpenAPI
form (`{name}`) is derived from the rule by `openapi_path`.
"""

from __future__ import annotations

import re

# -- public, unauthenticated ----------------------------------------------------------------
HEALTHZ = "/healthz"
METRICS = "/metrics"
OPENAPI = "/openapi.json"
KEYSET = "/.well-known/edgeproof/keys.json"  # the result keys and the log's note vkeys

# -- the API (ARCHITECTURE.md, "Verifier API") ----------------------------------------------
V1 = "/v1"
CHALLENGES = V1 + "/challenges"
ATTESTATIONS = V1 + "/attestations"
ATTESTATION_RULE = ATTESTATIONS + "/<appraisal_id>"
TLOG_PROOF_RULE = ATTESTATION_RULE + "/tlog-proof"
DEVICES = V1 + "/devices"
DEVICE_RULE = DEVICES + "/<kid>"
DEVICE_ROTATE_RULE = DEVICE_RULE + "/rotate"
REFERENCE_VALUES = V1 + "/reference-values"
TOKENS = V1 + "/tokens"
TOKEN_RULE = TOKENS + "/<int:token_id>"

# -- the RFC 9162 log, as JSON ---------------------------------------------------------------
LOG_CHECKPOINT = V1 + "/log/checkpoint"
LOG_INCLUSION = V1 + "/log/proof/inclusion"
LOG_CONSISTENCY = V1 + "/log/proof/consistency"
LOG_ENTRIES = V1 + "/log/entries"

# -- the log in C2SP formats (c2sp.org/tlog-tiles, tlog-checkpoint) -------------------------
TLOG_CHECKPOINT = "/log/checkpoint"
TLOG_TILES = "/log/tile/"
TLOG_TILE_RULE = TLOG_TILES + "<int:level>/<path:rest>"
TLOG_ENTRIES_RULE = TLOG_TILES + "entries/<path:rest>"

# -- the witness (c2sp.org/tlog-witness@v1.0.0, "add-checkpoint") --------------------------
WITNESS_ADD_CHECKPOINT = "/add-checkpoint"
WITNESS_CHECKPOINT_RULE = "/<ohash>/checkpoint"  # this project's read-back, not in C2SP

_PARAM = re.compile(r"<(?:[a-z]+:)?([a-z_]+)>")


def attestation(appraisal_id: str) -> str:
    """GET one result (and the Location of a new one)."""
    return f"{ATTESTATIONS}/{appraisal_id}"


def tlog_proof(appraisal_id: str) -> str:
    """The result's `.tlog-proof` (c2sp.org/tlog-proof)."""
    return f"{attestation(appraisal_id)}/tlog-proof"


def device(kid_b64: str) -> str:
    """One enrolled key, by its base64url kid."""
    return f"{DEVICES}/{kid_b64}"


def device_rotate(kid_b64: str) -> str:
    return f"{device(kid_b64)}/rotate"


def token(token_id: int) -> str:
    return f"{TOKENS}/{token_id}"


def log_entries(start: int, limit: int) -> str:
    """A page of log entries with its query, for a client (or a printed curl command)."""
    return f"{LOG_ENTRIES}?start={start}&limit={limit}"


def log_consistency(first: int, second: int) -> str:
    return f"{LOG_CONSISTENCY}?first={first}&second={second}"


def openapi_path(rule: str) -> str:
    """A Flask rule in OpenAPI's template form: `<int:token_id>` becomes `{token_id}`."""
    return _PARAM.sub(r"{\1}", rule)
