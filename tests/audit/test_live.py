"""`edgeproof audit` against a real verifier under gunicorn, then against its tampered database.

Each test gets its own verifier (SQLite, one worker) with five logged results. Tampering is
done the way an insider would: straight in the SQLite file, under the running service or
between restarts (verifier/storage.py: log_entries holds idx, leaf_hash, data; log_head the
committed size).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from attest import cbor, cose
from attest.keys import SigningKey, b64url, b64url_decode
from attest.merkle import leaf_hash
from edgeproof_cli import main
from tests.audit.conftest import N_ENTRIES, Log, checks


def flip_last(data: bytes) -> bytes:
    """The same token with one bit of its signature changed."""
    return data[:-1] + bytes([data[-1] ^ 1])


def test_clean_log_audits_clean(log: Log, capsys: pytest.CaptureFixture[str]) -> None:
    code, rep = log.audit(capsys=capsys)
    assert code == 0, rep
    c = checks(rep)
    assert {k: v["verdict"] for k, v in c.items()} == {
        "keyset": "pass",
        "checkpoint": "pass",
        "consistency": "skip",  # nothing stored yet
        "tree": "pass",
        "entries": "pass",
        "evidence": "pass",  # every result's device evidence, signature and schema
        "privacy": "pass",
        # C2SP (audit/tlog.py): the signed-note checkpoint, and every view of one tree.
        "tlog-checkpoint": "pass",
        "tlog-fork": "pass",
    }
    assert rep["counts"]["evidence_checked"] == N_ENTRIES
    assert rep["counts"]["tree_size"] == N_ENTRIES
    assert rep["counts"]["entries_checked"] == N_ENTRIES
    assert rep["findings"] == []
    # Every check says how to reproduce it, and no report carries the token.
    assert all(v["reproduce"] for k, v in c.items() if k != "consistency")
    assert log.world.auditor not in json.dumps(rep)
    assert (log.state / "trusted-keys.json").exists()

    # The log grows: the new checkpoint must extend the stored one.
    log.add(2)
    code, rep = log.audit("--html", str(log.tmp / "report.html"), capsys=capsys)
    assert code == 0, rep
    assert checks(rep)["consistency"]["verdict"] == "pass"
    assert "size 7 extends the stored size 5" in checks(rep)["consistency"]["detail"]
    page = (log.tmp / "report.html").read_text()
    assert "edgeproof audit: <span>OK</span>" in page
    for external in ("<script", "<link", " src=", " href=", "url("):
        assert external not in page
    assert len(list((log.state / "checkpoints").glob("*.json"))) == 2

    # A seeded sample proves each sampled entry by inclusion proof.
    code, rep = log.audit("--sample", "3", "--seed", "7", capsys=capsys)
    assert code == 0, rep
    assert rep["counts"]["entries_sampled"] == 3
    assert checks(rep)["sample-inclusion"]["verdict"] == "pass"


def test_text_report_and_export(log: Log, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    args = ["--verifier", log.server.base, "--token", log.world.auditor]
    out = log.tmp / "log.json"
    assert main(["audit", "export", *args, "--out", str(out)]) == 0
    assert f"wrote {out}: {N_ENTRIES} entries" in capsys.readouterr().out
    state = str(log.tmp / "offline")
    assert main(["audit", "--export", str(out), "--state", state]) == 0
    text = capsys.readouterr().out
    assert text.startswith("audit of --export")
    assert "PASS  Tree recomputed" in text
    assert "$ edgeproof audit --export" in text
    doc = json.loads(out.read_text())
    # A key set that changed since the first audit is a warning, kept for the record.
    rotated = log.tmp / "rotated.json"
    extra = {**SigningKey.generate().public.jwk(), "cose_alg": -7, "status": "current"}
    rotated.write_text(json.dumps({**doc, "keyset": {"keys": [*doc["keyset"]["keys"], extra]}}))
    assert main(["audit", "--export", str(rotated), "--state", state, "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert checks(rep)["keyset"]["verdict"] == "warn"
    assert checks(rep)["keyset"]["code"] == "audit.keyset-changed"
    assert extra["kid"] in checks(rep)["keyset"]["detail"]
    assert len(list((Path(state) / "keys").glob("*.json"))) == 1
    assert main(["audit", "--export", str(rotated), "--state", state, "--json"]) == 0
    assert checks(json.loads(capsys.readouterr().out))["keyset"]["verdict"] == "pass"  # once
    # The export is checked, not trusted: rewrite one entry in the file.
    doc["entries"][2]["data"] = doc["entries"][3]["data"]
    doc["entries"][0]["data"] = b64url(flip_last(b64url_decode(doc["entries"][0]["data"])))
    out.write_text(json.dumps(doc))
    assert main(["audit", "--export", str(out), "--state", state, "--json"]) == 1
    rep = json.loads(capsys.readouterr().out)
    assert checks(rep)["tree"]["code"] == "audit.root-mismatch"
    reproduce = checks(rep)["first-bad-entry"]["reproduce"]
    assert reproduce[0].endswith("--entry 0")
    shell = subprocess.run(
        " && ".join(reproduce[1:]),
        shell=True,
        cwd=log.tmp,
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert shell.returncode == 1, shell.stderr
    assert "cose.bad-signature" in shell.stdout
    # Usage errors are exit 2 with a message.
    assert main(["audit", "--export", str(log.tmp / "nope.json"), "--state", state]) == 2
    assert main(["audit", "--state", state]) == 2


def test_deleted_entry_is_detected(log: Log, capsys: pytest.CaptureFixture[str]) -> None:
    assert log.audit(capsys=capsys)[0] == 0
    with log.db() as db:
        db.execute("DELETE FROM log_entries WHERE idx = 2")
    code, rep = log.audit(capsys=capsys)
    assert code == 1
    c = checks(rep)
    assert c["tree"]["verdict"] == "fail"
    assert c["tree"]["code"] == "audit.entry-missing"
    assert {(f["code"], f["index"]) for f in rep["findings"]} == {("audit.entry-missing", 2)}
    assert c["entries"]["verdict"] == "pass"  # the four served entries are genuine
    assert rep["counts"]["entries_checked"] == N_ENTRIES - 1
    # Sampling that entry fails too: it cannot be served, so it cannot be proved.
    code, rep = log.audit("--entry", "2", capsys=capsys)
    assert code == 1
    assert checks(rep)["sample-inclusion"]["verdict"] == "fail"
    # Restarted, the verifier cannot rebuild its own tree: a log it cannot serve fails too.
    log.server.stop()
    log.server.start()
    code, rep = log.audit(capsys=capsys)
    assert code == 1
    assert checks(rep)["checkpoint"]["code"] == "audit.fetch-failed"
    # The verifier itself says why, with a stable code (no stack trace).
    r = httpx.get(
        f"{log.server.base}/v1/log/checkpoint",
        headers={"Authorization": f"Bearer {log.world.auditor}"},
        timeout=10,
    )
    assert (r.status_code, r.json()["code"]) == (500, "log.corrupt"), r.text


def test_rewritten_entry_is_detected(log: Log, capsys: pytest.CaptureFixture[str]) -> None:
    assert log.audit(capsys=capsys)[0] == 0
    with log.db() as db:
        (other,) = db.execute("SELECT data FROM log_entries WHERE idx = 3").fetchone()
        # A genuine, validly signed result in the wrong place: only the tree can tell.
        db.execute("UPDATE log_entries SET data = ? WHERE idx = 1", (other,))
    code, rep = log.audit(capsys=capsys)
    assert code == 1
    c = checks(rep)
    assert c["tree"]["code"] == "audit.root-mismatch"
    assert c["entries"]["verdict"] == "pass"
    code, rep = log.audit("--entry", "1", capsys=capsys)
    assert code == 1
    assert [f["code"] for f in rep["findings"]] == ["audit.not-included"]

    # A forged byte in a result: its signature fails as well.
    with log.db() as db:
        (data,) = db.execute("SELECT data FROM log_entries WHERE idx = 4").fetchone()
        db.execute("UPDATE log_entries SET data = ? WHERE idx = 4", (flip_last(data),))
    code, rep = log.audit(capsys=capsys)
    assert code == 1
    c = checks(rep)
    assert c["entries"]["verdict"] == "fail"
    reproduce = c["first-bad-entry"]["reproduce"]
    assert reproduce[0].endswith("--entry 4")
    assert reproduce[-1] == "edgeproof attest inspect entry-4.cwt --key keys.json"
    # The commands work as printed: run them in a shell and see the same reason code.
    env = {
        **os.environ,
        "EDGEPROOF_AUDITOR_TOKEN": log.world.auditor,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    out = subprocess.run(
        " && ".join(reproduce[1:]),
        shell=True,
        cwd=log.tmp,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 1, out.stderr
    assert "cose.bad-signature" in out.stdout
    assert {f["index"] for f in rep["findings"] if f["code"] == "cose.bad-signature"} == {4}


def test_rewritten_evidence_is_detected(log: Log, capsys: pytest.CaptureFixture[str]) -> None:
    """Evidence changed under the verifier no longer matches the digest the signed result
    carries; the log itself is intact, so only the evidence check fails."""
    with log.db() as db:
        rows = db.execute("SELECT id, evidence FROM appraisals ORDER BY log_index").fetchall()
        aid, evidence = rows[1]
        db.execute("UPDATE appraisals SET evidence = ? WHERE id = ?", (flip_last(evidence), aid))
    code, rep = log.audit(capsys=capsys)
    assert code == 1
    c = checks(rep)
    assert c["evidence"]["verdict"] == "fail" and c["tree"]["verdict"] == "pass"
    assert [f["code"] for f in rep["findings"]] == ["audit.evidence-digest"]


def _swap(log: Log, a: int, b: int) -> None:
    with log.db() as db:
        rows = {
            i: db.execute("SELECT leaf_hash, data FROM log_entries WHERE idx = ?", (i,)).fetchone()
            for i in (a, b)
        }
        for i, j in ((a, b), (b, a)):
            db.execute(
                "UPDATE log_entries SET leaf_hash = ?, data = ? WHERE idx = ?", (*rows[j], i)
            )


def test_forked_checkpoint_is_detected(log: Log, capsys: pytest.CaptureFixture[str]) -> None:
    assert log.audit(capsys=capsys)[0] == 0
    stored = (log.state / "latest.json").read_text()
    # Rewrite history coherently (hashes and bytes) and restart: the verifier now signs a
    # checkpoint whose tree is self-consistent, every entry genuine, but not the one we saw.
    log.server.stop()
    _swap(log, 0, 1)
    log.server.start()
    code, rep = log.audit(capsys=capsys)
    assert code == 1
    c = checks(rep)
    assert c["checkpoint"]["verdict"] == "pass"
    assert c["consistency"]["verdict"] == "fail"
    assert c["consistency"]["code"] == "audit.fork"
    assert c["tree"]["verdict"] == "pass"  # the fork is internally consistent
    # The forked checkpoint is kept as evidence, but never becomes the reference.
    assert (log.state / "latest.json").read_text() == stored
    assert len(list((log.state / "checkpoints").glob("*.json"))) == 2
    assert log.audit("--checkpoint-only", capsys=capsys)[0] == 1

    # A rewind (the log shrinks) is caught too.
    log.server.stop()
    _swap(log, 0, 1)
    with log.db() as db:
        db.execute("DELETE FROM log_entries WHERE idx >= 3")
        db.execute("UPDATE log_head SET size = 3")
    log.server.start()
    code, rep = log.audit("--checkpoint-only", capsys=capsys)
    assert code == 1
    assert checks(rep)["consistency"]["code"] == "audit.rewind"


def test_result_inclusion(log: Log, capsys: pytest.CaptureFixture[str]) -> None:
    good = log.tmp / "result.json"
    good.write_text(json.dumps(log.results[2]))
    code, rep = log.audit("--checkpoint-only", "--result", str(good), capsys=capsys)
    assert code == 0, rep
    assert checks(rep)["result-inclusion"]["detail"].startswith("leaf 2 ")
    # Raw CWT bytes, index found by scanning the log.
    raw = log.tmp / "result.cwt"
    raw.write_bytes(b64url_decode(log.results[3]["ear"]["cwt"]))
    code, rep = log.audit("--result", str(raw), capsys=capsys)
    assert code == 0, rep
    assert checks(rep)["result-inclusion"]["detail"].startswith("leaf 3 ")

    # A fake result: the same claims re-signed by a key the verifier never published.
    msg = cose.decode_sign1(raw.read_bytes())
    fake = cose.sign1(msg.payload, SigningKey.generate())
    forged = log.tmp / "fake.cwt"
    forged.write_bytes(fake)
    code, rep = log.audit("--checkpoint-only", "--result", str(forged), capsys=capsys)
    assert code == 1
    c = checks(rep)
    assert c["result-signature"]["verdict"] == "fail"
    assert c["result-signature"]["code"] == "key.unknown-kid"
    assert c["result-inclusion"]["code"] == "audit.not-included"
    # Claiming a genuine result sits at another index fails the proof.
    lie = log.tmp / "lie.json"
    lie.write_text(json.dumps({**log.results[2], "log_index": 4}))
    code, rep = log.audit("--checkpoint-only", "--result", str(lie), capsys=capsys)
    assert code == 1
    assert checks(rep)["result-inclusion"]["code"] == "audit.not-included"


def test_privacy_finding_in_an_appended_entry(log: Log, capsys: pytest.CaptureFixture[str]) -> None:
    """A verifier that logs a result carrying an unregistered claim is caught by the scan,
    even though the log itself stays append-only and every signature is valid."""
    assert log.audit(capsys=capsys)[0] == 0
    key = SigningKey.from_private_pem((log.server.instance / "result-key.pem").read_bytes())
    msg = cose.decode_sign1(b64url_decode(log.results[0]["ear"]["cwt"]))
    claims = dict(cbor.decode(msg.payload))
    claims[-70001] = "P<UTOERIKSSON<<ANNA<MARIA"  # a name: never allowed in a result
    leaky = cose.sign1(cbor.encode(claims), key)
    log.server.stop()
    with log.db() as db:
        aid = log.results[0]["appraisal_id"]
        db.execute(
            "INSERT INTO log_entries (idx, leaf_hash, data, appraisal_id) VALUES (?, ?, ?, ?)",
            (N_ENTRIES, leaf_hash(leaky), leaky, aid),
        )
        db.execute("UPDATE log_head SET size = ?", (N_ENTRIES + 1,))
    log.server.start()
    code, rep = log.audit(capsys=capsys)
    assert code == 1
    c = checks(rep)
    assert c["consistency"]["verdict"] == "pass"
    assert c["tree"]["verdict"] == "pass"
    assert c["privacy"]["verdict"] == "fail"
    privacy = [f for f in rep["findings"] if f["severity"] == "privacy"]
    assert privacy and {f["index"] for f in privacy} == {N_ENTRIES}
    assert "ERIKSSON" not in json.dumps(rep)  # the report names the claim, not its value


def test_the_first_changed_entry_is_named(log: Log, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 19: a copy of the database with one entry overwritten showed only `audit.fork`;
    the audit now names the entry, its appraisal then and now, and both leaf hashes."""
    assert log.audit(capsys=capsys)[0] == 0  # keeps the verified tree's leaves
    with log.db() as db:
        rows = db.execute("SELECT idx, leaf_hash, data FROM log_entries ORDER BY idx").fetchall()
    was, now = rows[2], rows[4]
    was_id = log.results[2]["appraisal_id"]
    now_id = log.results[4]["appraisal_id"]
    # Overwritten coherently (hash and bytes) and served by a restarted verifier: a fork.
    log.server.stop()
    with log.db() as db:
        db.execute("UPDATE log_entries SET leaf_hash = ?, data = ? WHERE idx = 2", now[1:])
    log.server.start()
    code, rep = log.audit(capsys=capsys)
    assert code == 1
    c = checks(rep)
    assert c["consistency"]["code"] == "audit.fork"
    first = c["first-changed-entry"]
    assert (first["verdict"], first["code"]) == ("fail", "audit.entry-changed")
    assert first["detail"] == (
        f"entry 2: appraisal {was_id} was logged there, now appraisal {now_id}; "
        f"leaf hash expected {bytes(was[1]).hex()}, found {bytes(now[1]).hex()}"
    )
    assert first["reproduce"][0].endswith("--entry 2")
    assert rep["counts"]["first_changed_entry"] == 2
    # The forked tree did not become the reference: the same entry is named again.
    code, rep = log.audit(capsys=capsys)
    assert checks(rep)["first-changed-entry"]["detail"].startswith("entry 2: ")

    # Bytes changed under the running verifier (its tree still says the old hash).
    log.server.stop()
    with log.db() as db:
        db.execute("UPDATE log_entries SET leaf_hash = ?, data = ? WHERE idx = 2", was[1:])
        db.execute("UPDATE log_entries SET data = ? WHERE idx = 3", (flip_last(rows[3][2]),))
    log.server.start()
    code, rep = log.audit(capsys=capsys)
    c = checks(rep)
    assert c["tree"]["code"] == "audit.root-mismatch"
    assert c["first-changed-entry"]["detail"].startswith(
        f"entry 3: appraisal {log.results[3]['appraisal_id']} was logged there, now appraisal "
        f"{log.results[3]['appraisal_id']}; leaf hash expected {bytes(rows[3][1]).hex()}, found "
    )


def test_without_kept_leaves_inclusion_proofs_find_the_entry(
    log: Log, capsys: pytest.CaptureFixture[str]
) -> None:
    """A first audit keeps nothing to compare with; the log's own audit paths still show
    which entry's bytes are not the signed leaf. A fork needs history: it says so."""
    with log.db() as db:
        (data,) = db.execute("SELECT data FROM log_entries WHERE idx = 1").fetchone()
        db.execute("UPDATE log_entries SET data = ? WHERE idx = 1", (flip_last(data),))
    code, rep = log.audit(capsys=capsys)
    assert code == 1
    first = checks(rep)["first-changed-entry"]
    assert (first["verdict"], first["code"]) == ("fail", "audit.entry-changed")
    assert first["detail"].startswith(
        f"entry 1: appraisal {log.results[1]['appraisal_id']}, leaf hash found "
        f"{leaf_hash(flip_last(data)).hex()} does not prove against the signed root "
    )
