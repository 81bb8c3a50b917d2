"""`edgeproof rp validate --proof FILE`: the offline log check of a result (C2SP tlog-proof).

The relying party holds the result, its `.tlog-proof`, the log's vkey and the vkeys of
the witnesses it requires. attest.tlog.verify_proof does every check (c2sp.org/tlog-proof@v1,
"Verifying a tlog proof"); this module only reads the files and keys.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

from attest import paths
from attest.keyset import MAX_KEYSET_SIZE
from attest.note import NoteError, Verifier
from attest.tlog import verify_proof

KEYS_PATH = paths.KEYSET  # its `tlog` member names the log's vkey


def read_vkey(arg: str) -> Verifier:
    """A vkey given as text, or as a file holding one (`*.vkey`)."""
    text = arg
    if "+" not in arg or Path(arg).is_file():
        text = Path(arg).read_text(encoding="utf-8")
    return Verifier.from_vkey(text.strip())


def fetch_log_vkey(verifier_url: str, timeout: float = 5.0) -> Verifier:
    url = verifier_url.rstrip("/") + KEYS_PATH
    if not url.startswith(("http://", "https://")):
        raise NoteError(f"verifier URL must be http(s): {verifier_url!r}")
    with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - scheme checked
        doc = json.loads(resp.read(MAX_KEYSET_SIZE + 1))
    vkey = doc.get("tlog", {}).get("log_vkey") if isinstance(doc, dict) else None
    if not isinstance(vkey, str):
        raise NoteError("the verifier's key set names no log vkey (member tlog.log_vkey)")
    return Verifier.from_vkey(vkey)


def check(
    result_cwt: bytes, proof_file: str, log: Verifier, required: list[Verifier]
) -> dict[str, Any]:
    """Raise NoteError unless the proof puts this exact result in the log, cosigned by every
    required witness; else what it established."""
    data = Path(proof_file).read_bytes()
    res = verify_proof(data, result_cwt, log, required=required)
    cp = res.checkpoint.checkpoint
    return {
        "log_index": res.index,
        "tree_size": cp.size,
        "origin": cp.origin,
        "witnesses": res.witnesses,
    }
