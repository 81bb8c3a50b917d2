"""The pure appraisal function and the check -> EAR table; the demo policy in-process."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from attest import cbor
from attest.challenge import derive_challenge
from attest.commitment import transaction_nonce
from attest.ear import Status, verify_ear_cwt
from attest.evidence import (
    AntiClone,
    Consent,
    ConsentMethod,
    DebugStatus,
    DocumentAuth,
    LivenessMethod,
    Outcome,
    sign_evidence,
)
from attest.keys import ED25519, EDDSA, PublicKey, SigningKey, b64url, b64url_decode
from tests.verifier.helpers import evidence, release
from verifier.app import create_app
from verifier.appraisal import DeviceRecord, NonceRecord, Peek, ReferenceValues, appraise, peek
from verifier.config import parse_config
from verifier.policy import CHECK_COMPONENT, DEMO_CHALLENGE, policy_named
from verifier.storage import make_engine, migrate

NOW = 1_800_000_000
NONCE = bytes(range(16))
DEVICE = SigningKey.generate()
REL = release()
REFS = ReferenceValues({REL.manifest.digest(): frozenset(REL.manifest.models.values())})
PROD = policy_named("production")


def _records() -> tuple[DeviceRecord, NonceRecord]:
    dev = DeviceRecord(DEVICE.kid, DEVICE.public, "d1")
    nonce = NonceRecord(
        NONCE, NOW - 10, NOW + 290, False, LivenessMethod.ACTIVE_NONCE, derive_challenge(NONCE)
    )
    return dev, nonce


def _token(**changes: object) -> bytes:
    ev = evidence(NONCE, derive_challenge(NONCE), REL, now=NOW, **changes)  # type: ignore[arg-type]
    return sign_evidence(ev, DEVICE)


def test_good_evidence_passes_every_check() -> None:
    dev, nonce = _records()
    r = appraise(_token(), dev, nonce, REFS, PROD, NOW)
    assert r.accepted and r.status is Status.AFFIRMING
    assert [c.name for c in r.checks] == list(CHECK_COMPONENT)
    assert {c.outcome.value for c in r.checks} <= {"passed", "skipped"}


def test_eddsa_minus_8_still_verifies_for_a_key_pinned_to_it() -> None:
    """RFC 9864: new enrolments of -8 are refused at the API (device.deprecated-alg); a
    device pinned to -8 before keeps working, and a -19 pin does not accept -8 tokens."""
    old = SigningKey.generate(EDDSA)
    _, nonce = _records()
    ev = evidence(NONCE, derive_challenge(NONCE), REL, now=NOW)
    r = appraise(
        sign_evidence(ev, old), DeviceRecord(old.kid, old.public, "d-old"), nonce, REFS, PROD, NOW
    )
    assert r.accepted
    new = SigningKey.generate(ED25519)
    r = appraise(
        sign_evidence(ev, new), DeviceRecord(new.kid, new.public, "d-new"), nonce, REFS, PROD, NOW
    )
    assert r.accepted
    as_19 = cbor.encode({**cbor.decode(old.public.cose_key_bytes()), 3: ED25519})
    pinned_19 = DeviceRecord(old.kid, PublicKey.from_cose_key(as_19), "d-19")
    r = appraise(sign_evidence(ev, old), pinned_19, nonce, REFS, PROD, NOW)
    assert not r.accepted and r.failures[0].code == "evidence.alg-not-pinned"
    # A device pinned to -8 whose software now signs -19 (the same key): accepted.
    upgraded = SigningKey.from_private_pem(old.private_pem())  # an Ed25519 PEM reads as -19
    assert upgraded.alg == ED25519 and upgraded.kid == old.kid
    pinned_8 = DeviceRecord(old.kid, old.public, "d-8")
    assert appraise(sign_evidence(ev, upgraded), pinned_8, nonce, REFS, PROD, NOW).accepted


def test_transaction_is_bound_through_the_nonce() -> None:
    txn, salt = b"\x05" * 32, b"\x06" * 16
    bound = transaction_nonce(salt, txn)
    dev = _records()[0]
    record = NonceRecord(
        bound, NOW - 10, NOW + 290, False, LivenessMethod.ACTIVE_NONCE, derive_challenge(bound)
    )
    ev = evidence(bound, derive_challenge(bound), REL, now=NOW)
    token = sign_evidence(ev, DEVICE)

    def outcome(rec: NonceRecord) -> tuple[str, str | None]:
        r = appraise(token, dev, rec, REFS, PROD, NOW)
        (check,) = [c for c in r.checks if c.name == "transaction"]
        return check.outcome.value, check.code

    assert outcome(record)[0] == "skipped"  # no transaction named
    ok = dataclasses.replace(record, txn_hash=txn, txn_salt=salt)
    assert outcome(ok) == ("passed", None)
    for bad in (
        dataclasses.replace(ok, txn_hash=b"\x07" * 32),  # the record's transaction changed
        dataclasses.replace(ok, txn_salt=b"\x08" * 16),
        dataclasses.replace(ok, txn_salt=None),
    ):
        assert outcome(bad) == ("failed", "transaction.mismatch")


def test_every_failure_is_reported_not_just_the_first() -> None:
    dev, nonce = (
        dataclasses.replace(_records()[0]),
        dataclasses.replace(_records()[1], consumed=True),
    )
    token = _token(
        consent=Consent(False, ConsentMethod.SELF_SERVICE),
        document=DocumentAuth(Outcome.FAILED, AntiClone.NONE, Outcome.NOT_SUPPORTED, True),
    )
    r = appraise(token, dev, nonce, REFS, PROD, NOW + 400, cti_seen=True)
    codes = [c.code for c in r.failures]
    assert codes == [
        "nonce.replayed",
        "nonce.expired",
        "evidence.expired",
        "evidence.cti-replayed",
        "document.not-authenticated",
        "document.expired",
        "consent.missing",
    ]
    assert not r.accepted and r.status is Status.CONTRAINDICATED
    assert r.trust_vector.sourced_data == 96 and r.trust_vector.executables == 2


def test_identity_failures_skip_the_claims() -> None:
    _, nonce = _records()
    other = SigningKey.generate()
    r = appraise(_token(), DeviceRecord(other.kid, other.public, "x"), nonce, REFS, PROD, NOW)
    assert [c.code for c in r.failures] == ["device.unknown"]
    assert r.evidence is None
    after = [c for c in r.checks if list(CHECK_COMPONENT).index(c.name) > 1]
    assert {c.outcome.value for c in after} == {"skipped"}
    assert r.trust_vector.instance_identity == 96 and r.trust_vector.sourced_data == 0


def test_warnings_lower_the_tier_only() -> None:
    dev, nonce = _records()
    token = _token(
        dbgstat=DebugStatus.ENABLED,
        document=DocumentAuth(Outcome.PASSED, AntiClone.NONE, Outcome.NOT_SUPPORTED, False),
    )
    r = appraise(token, dev, nonce, REFS, PROD, NOW)
    assert r.accepted and r.status is Status.WARNING
    assert (r.trust_vector.hardware, r.trust_vector.sourced_data) == (32, 32)


def test_peek_never_raises() -> None:
    for junk in (b"", b"\xff" * 10, b"\xd2\x84", b"\xd2\x84\x40\xa0\x41\x01\x40"):
        assert peek(junk) == Peek(None, None, None)
    p = peek(_token())
    assert p.kid == DEVICE.kid and p.nonce == NONCE and p.cti is not None


def test_demo_policy_issues_and_accepts_the_fixed_challenge(tmp_path: Path) -> None:
    """The explicit demo policy (never the default) for `edgeproof demo`."""
    (tmp_path / "rel.pem").write_bytes(REL.key.public.pem())
    (tmp_path / "result-key.pem").write_bytes(SigningKey.generate().private_pem())
    cfg = parse_config(
        {
            "instance_path": str(tmp_path),
            "policy": "demo",
            "release_keys": [str(tmp_path / "rel.pem")],
        }
    )
    engine = make_engine(cfg.database_url)
    migrate(engine)
    engine.dispose()
    app = create_app(cfg)
    v = app.extensions["verifier"]
    _, admin = v.create_token("admin", "a")
    cl = app.test_client()
    h = {"Authorization": f"Bearer {admin}"}
    body = {"device_id": "demo", "cose_key": b64url(DEVICE.public.cose_key_bytes())}
    assert cl.post("/v1/devices", json=body, headers=h).status_code == 201
    r = cl.put(
        "/v1/reference-values", data=REL.signed, headers={**h, "Content-Type": "application/cose"}
    )
    assert r.status_code == 201

    def attempt(method: LivenessMethod) -> tuple[int, dict[str, object]]:
        ch = cl.post("/v1/challenges", headers=h).get_json()
        assert ch["liveness"] == {
            "method": "active-fixed-demo",
            "challenge": [g.value for g in DEMO_CHALLENGE],
        }
        nonce = b64url_decode(ch["nonce"])
        gestures = (
            DEMO_CHALLENGE
            if method is LivenessMethod.ACTIVE_FIXED_DEMO
            else derive_challenge(nonce)
        )
        token = sign_evidence(evidence(nonce, gestures, REL, method=method), DEVICE)
        resp = cl.post(
            "/v1/attestations", data=token, headers={"Content-Type": "application/eat+cwt"}
        )
        return resp.status_code, resp.get_json()

    status, doc = attempt(LivenessMethod.ACTIVE_FIXED_DEMO)
    assert status == 201, doc
    ear = verify_ear_cwt(b64url_decode(doc["ear"]["cwt"]), v.keyset)  # type: ignore[index]
    assert ear.policy_id == "edgeproof-demo-v1"
    status, doc = attempt(LivenessMethod.ACTIVE_NONCE)
    assert status == 422 and doc["code"] == "liveness.wrong-challenge"
