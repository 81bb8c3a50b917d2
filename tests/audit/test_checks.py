"""The pure checks (audit/checks.py) and the report, without a verifier."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from attest import cbor, cose
from attest.commitment import transaction_nonce
from attest.ear import Ear, Status, TrustVector, sign_ear_cwt
from attest.errors import AttestError
from attest.evidence import sign_evidence
from attest.keys import SigningKey, b64url
from attest.keyset import KeySet
from attest.merkle import MerkleTree, leaf_hash
from attest.sample import sample_evidence
from audit.checks import (
    Finding,
    TrustedKeys,
    check_consistency,
    check_evidence,
    check_inclusion,
    keyset_change,
    recompute,
    scan_entry,
    verify_checkpoint,
)
from audit.errors import CheckpointError, InconsistencyError
from audit.report import Check, Report
from edgeproof_cli import main
from tests.rig import free_port

KEY = SigningKey.generate()
KEYS = KeySet.of([KEY.public])


def checkpoint_doc(
    size: int, root: bytes, key: SigningKey = KEY, origin: str = "o", **plain: object
) -> dict[str, object]:
    payload = {
        "format": "edgeproof-checkpoint/1",
        "origin": origin,
        "size": size,
        "root": root,
        "time": 1700000000,
    }
    doc = {
        "origin": origin,
        "tree_size": size,
        "root_hash": b64url(root),
        "timestamp": 1700000000,
        "signed": b64url(cose.sign1(cbor.encode(payload), key)),
    }
    return {**doc, **plain}


def tree(n: int, changed: int = -1) -> MerkleTree:
    t = MerkleTree()
    for i in range(n):
        t.append(b"entry %d" % i if i != changed else b"rewritten")
    return t


def test_checkpoint_signature_and_members() -> None:
    t = tree(10)
    cp = verify_checkpoint(checkpoint_doc(10, t.root()), KEYS)
    assert (cp.size, cp.root, cp.origin) == (10, t.root(), "o")
    assert verify_checkpoint(cp.to_json(), KEYS) == cp
    with pytest.raises(AttestError) as e:
        verify_checkpoint(checkpoint_doc(10, t.root(), SigningKey.generate()), KEYS)
    assert e.value.code == "key.unknown-kid"
    # The plain members must say what the signed payload says.
    with pytest.raises(CheckpointError) as c:
        verify_checkpoint(checkpoint_doc(10, t.root(), tree_size=11), KEYS)
    assert c.value.code == "audit.checkpoint-mismatch"
    with pytest.raises(CheckpointError):
        verify_checkpoint({"signed": b64url(cose.sign1(cbor.encode({"x": 1}), KEY))}, KEYS)
    with pytest.raises(CheckpointError):
        verify_checkpoint([], KEYS)


def test_consistency_fork_rewind_origin() -> None:
    t = tree(20)
    old = verify_checkpoint(checkpoint_doc(7, t.root(7)), KEYS)
    new = verify_checkpoint(checkpoint_doc(20, t.root()), KEYS)
    check_consistency(old, new, t.consistency_proof(7, 20))
    fork = tree(20, changed=3)  # a different history behind the same size
    forked = verify_checkpoint(checkpoint_doc(20, fork.root()), KEYS)
    with pytest.raises(InconsistencyError) as e:
        check_consistency(old, forked, t.consistency_proof(7, 20))
    assert e.value.code == "audit.fork"
    with pytest.raises(InconsistencyError) as e:
        check_consistency(new, old, [])
    assert e.value.code == "audit.rewind"
    other = verify_checkpoint(checkpoint_doc(20, t.root(), origin="elsewhere"), KEYS)
    with pytest.raises(InconsistencyError) as e:
        check_consistency(old, other, t.consistency_proof(7, 20))
    assert e.value.code == "audit.origin-changed"


def test_inclusion_and_recompute() -> None:
    t = tree(9)
    cp = verify_checkpoint(checkpoint_doc(9, t.root()), KEYS)
    check_inclusion(b"entry 4", 4, cp, t.inclusion_proof(4))
    with pytest.raises(InconsistencyError):
        check_inclusion(b"entry 5", 4, cp, t.inclusion_proof(4))
    entries = {i: leaf_hash(b"entry %d" % i) for i in range(9)}
    assert recompute(entries, 9).tree.root() == t.root()
    del entries[6]
    assert recompute(entries, 9).missing == (6,)


def ear(**changes: object) -> Ear:
    base = dict(
        iat=1700000000,
        status=Status.AFFIRMING,
        trust_vector=TrustVector.from_items({}),
        policy_id="p",
        verifier_build="b",
        nonce=b"n" * 32,
        appraisal_id="a" * 32,
        evidence_digest=b"d" * 32,
        device_kid=b"k" * 32,
        decision=None,
        txn_hash=None,
    )
    return Ear(**{**base, **changes})  # type: ignore[arg-type]


def test_scan_entry_signature_and_privacy() -> None:
    good = sign_ear_cwt(ear(), KEY)
    assert scan_entry(0, good, KEYS) == []
    bad = scan_entry(1, sign_ear_cwt(ear(), SigningKey.generate()), KEYS)
    assert [f.code for f in bad] == ["key.unknown-kid"]
    claims = dict(cbor.decode(cose.decode_sign1(good).payload))
    claims[-70001] = "a name"
    leaky = scan_entry(2, cose.sign1(cbor.encode(claims), KEY), KEYS)
    assert {f.severity for f in leaky} == {"privacy"}
    assert all(f.index == 2 for f in leaky)
    assert scan_entry(3, b"not cose", KEYS)[0].severity == "error"


def test_check_evidence_ties_the_result_to_the_device_signature() -> None:
    device = SigningKey.generate()
    txn, salt = hashlib.sha256(b"order 7").digest(), b"\x01" * 16
    nonce = transaction_nonce(salt, txn)
    token = sign_evidence(sample_evidence(nonce=nonce, cti=bytes(16), now=1700000000), device)
    bound = {"txn_hash": txn, "txn_salt": salt, "device_kid": device.kid}

    def findings(evidence: bytes, **changes: object) -> list[str]:
        changes = {"nonce": nonce, "evidence_digest": hashlib.sha256(evidence).digest(), **changes}
        data = sign_ear_cwt(ear(**{**bound, **changes}), KEY)
        return [f.code for f in check_evidence(0, data, evidence, device.public)]

    assert findings(token) == []
    # A result for another transaction around this evidence: its nonce is not the signed one.
    other_txn = hashlib.sha256(b"order 8").digest()
    assert findings(token, txn_hash=other_txn, nonce=transaction_nonce(salt, other_txn)) == [
        "audit.nonce-mismatch"
    ]
    assert findings(token, evidence_digest=bytes(32)) == ["audit.evidence-digest"]
    assert findings(token, device_kid=bytes(32)) == ["audit.device-unknown"]


def test_keyset_change_and_trusted_lookup() -> None:
    new = SigningKey.generate()
    rotated = KeySet.of([new.public], [KEY.public])
    assert keyset_change(KEYS, rotated) == ([b64url(new.public.kid)], [])
    # A key dropped from the published set still validates what it signed while trusted.
    dropped = KeySet.of([new.public])
    keys = TrustedKeys(dropped, KEYS)
    assert keys(KEY.public.kid) == KEY.public
    assert keys(new.public.kid) == new.public
    with pytest.raises(LookupError):
        keys(b"x" * 32)


def test_report_renders_and_decides() -> None:
    ok = Report("src", None, (Check("a", "A", "pass", "fine", ("cmd <x>",)),), ())
    assert ok.ok and "PASS  A: fine" in ok.text()
    warn = Report("src", None, (Check("a", "A", "warn", "rotated"),), ())
    assert warn.ok
    bad = Report("src", None, (), (Finding("c", "<b>hi</b>", "privacy", 3),))
    assert not bad.ok
    page = bad.html()
    assert "&lt;b&gt;hi&lt;/b&gt;" in page and "<b>hi</b>" not in page
    assert bad.to_json()["findings"][0]["index"] == 3


def test_unreachable_verifier_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    state = str(tmp_path / "state")
    assert main(["audit", "--verifier", url, "--token", "t", "--state", state]) == 2
    assert "audit.fetch-failed" in capsys.readouterr().err
    assert main(["audit", "--verifier", url, "--export", "x.json", "--state", state]) == 2


def test_reports_write_hashes_hex_and_times_utc_with_the_epoch() -> None:
    """Issue 19, finding 7: no raw epoch and no base64url hash in the text and HTML
    reports; the JSON keeps the verifier's signed checkpoint as served."""
    from audit.report import Report

    root = bytes(range(32))
    cp = {"origin": "o", "tree_size": 3, "root_hash": b64url(root), "timestamp": 1_700_000_000}
    rep = Report("--verifier x", cp, (), ())
    want = "2023-11-14 22:13:20 UTC (1700000000)"
    assert f"root {root.hex()}, time {want}, origin o" in rep.text()
    assert root.hex() in rep.html() and want in rep.html() and b64url(root) not in rep.html()
    assert rep.to_json()["checkpoint"]["root_hash"] == b64url(root)
