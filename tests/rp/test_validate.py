"""Relying-party validation (attest.rp): every way a result must be refused, and rotation."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from attest import cbor, cose, keys
from attest.commitment import transaction_nonce
from attest.ear import (
    EAR_PROFILE,
    LEGACY_PROFILE,
    Ear,
    Status,
    TrustVector,
    cmw_cbor,
    cmw_json,
    sign_ear_cwt,
    sign_ear_jwt,
)
from attest.errors import AttestError
from attest.evidence import Decision
from attest.keyset import KeySet
from attest.rp import validate_result
from rp.keyset_cache import CachedKeySet

NOW = 1_800_000_000
Sign = Callable[[Ear, keys.SigningKey], bytes | str]  # sign_ear_cwt or sign_ear_jwt
TXN = hashlib.sha256(b"order 42").digest()
SALT = bytes(range(16))


def make_ear(**changes: object) -> Ear:
    base = Ear(
        iat=NOW,
        status=Status.AFFIRMING,
        trust_vector=TrustVector(2, 2, 2, 2),
        policy_id="production-v1",
        verifier_build="edgeproof-0.1.0",
        nonce=transaction_nonce(SALT, TXN),
        appraisal_id="ap-1",
        evidence_digest=b"\x01" * 32,
        device_kid=b"\x02" * 32,
        decision=Decision.MATCH,
        txn_hash=TXN,
        txn_salt=SALT,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


@pytest.fixture(scope="module", params=[keys.ES256, keys.EDDSA], ids=["es256", "eddsa"])
def key(request: pytest.FixtureRequest) -> keys.SigningKey:
    return keys.SigningKey.generate(request.param)


@pytest.fixture(params=["cwt", "jwt"])
def sign(request: pytest.FixtureRequest) -> Sign:
    return sign_ear_cwt if request.param == "cwt" else sign_ear_jwt


def test_valid_result_is_accepted(key: keys.SigningKey, sign: Sign) -> None:
    ks = KeySet.of([key.public])
    res = validate_result(sign(make_ear(), key), ks, now=NOW + 5, expected_txn_hash=TXN)
    assert res.accepted and res.decision is Decision.MATCH and res.tier is Status.AFFIRMING


@pytest.mark.parametrize(
    ("ear", "accepted"),
    [
        ({"decision": Decision.NO_MATCH}, False),
        ({"status": Status.WARNING}, False),
        ({"status": Status.CONTRAINDICATED, "decision": None}, False),
    ],
)
def test_valid_but_not_accepted(
    key: keys.SigningKey, sign: Sign, ear: dict[str, object], accepted: bool
) -> None:
    res = validate_result(
        sign(make_ear(**ear), key), KeySet.of([key.public]), now=NOW, expected_txn_hash=TXN
    )
    assert res.accepted is accepted


def _code(fn: Callable[[], object]) -> str:
    with pytest.raises(AttestError) as exc:
        fn()
    return exc.value.code


def test_tampered_cwt_is_refused(key: keys.SigningKey) -> None:
    token = sign_ear_cwt(make_ear(), key)
    at = token.index(TXN)  # a signed byte inside the payload, structure unchanged
    for pos in (at, len(token) - 1):
        forged = bytearray(token)
        forged[pos] ^= 0x01
        with pytest.raises(AttestError) as exc:
            validate_result(bytes(forged), KeySet.of([key.public]), now=NOW, expected_txn_hash=TXN)
        assert exc.value.code == "cose.bad-signature"


def test_tampered_jwt_is_refused(key: keys.SigningKey) -> None:
    head, _body, sig = sign_ear_jwt(make_ear(), key).split(".")
    forged = sign_ear_jwt(make_ear(decision=Decision.MATCH, appraisal_id="ap-2"), key).split(".")[1]
    code = _code(
        lambda: validate_result(
            f"{head}.{forged}.{sig}", KeySet.of([key.public]), now=NOW, expected_txn_hash=TXN
        )
    )
    assert code == "cose.bad-signature"


def test_expired_and_future(key: keys.SigningKey, sign: Sign) -> None:
    ks = KeySet.of([key.public])
    token = sign(make_ear(), key)
    assert (
        _code(lambda: validate_result(token, ks, now=NOW + 601, expected_txn_hash=TXN))
        == "rp.expired"
    )
    assert (
        _code(lambda: validate_result(token, ks, now=NOW - 61, expected_txn_hash=TXN))
        == "rp.not-yet-valid"
    )


def test_wrong_transaction_and_nonce(key: keys.SigningKey, sign: Sign) -> None:
    ks = KeySet.of([key.public])
    other = hashlib.sha256(b"order 43").digest()
    assert (
        _code(lambda: validate_result(sign(make_ear(), key), ks, now=NOW, expected_txn_hash=other))
        == "rp.wrong-transaction"
    )
    # A verifier that echoes a transaction the device's nonce does not commit to is caught
    # by every relying party, even with its own valid signature on the result.
    claims = make_ear().to_cbor_claims()
    claims[-65601] = {**claims[-65601], 3: other}  # the result extension's txn_hash
    rebound = cose.sign1(cbor.encode(claims), key)
    assert (
        _code(lambda: validate_result(rebound, ks, now=NOW, expected_txn_hash=other))
        == "ear.unbound-transaction"
    )
    unbound = sign(make_ear(txn_hash=None, txn_salt=None, nonce=bytes(range(16))), key)
    assert (
        _code(lambda: validate_result(unbound, ks, now=NOW, expected_txn_hash=TXN))
        == "rp.wrong-transaction"
    )
    assert (
        _code(lambda: validate_result(unbound, ks, now=NOW, expected_nonce=b"\x00" * 16))
        == "rp.wrong-nonce"
    )
    assert validate_result(unbound, ks, now=NOW, expected_nonce=bytes(range(16))).accepted
    assert _code(lambda: validate_result(unbound, ks, now=NOW)) == "rp.no-binding"


def test_wrong_key_and_pinned_algorithm(key: keys.SigningKey, sign: Sign) -> None:
    stranger = keys.SigningKey.generate(key.alg)
    token = sign(make_ear(), stranger)
    assert (
        _code(
            lambda: validate_result(token, KeySet.of([key.public]), now=NOW, expected_txn_hash=TXN)
        )
        == "key.unknown-kid"
    )


def test_rotation_with_cache() -> None:
    """Old results validate while the old key is retiring; new keys are picked up on demand."""
    old, new = keys.SigningKey.generate(keys.ES256), keys.SigningKey.generate(keys.ES256)
    published = {"set": KeySet.of([old.public])}
    fetches = []
    clock = [0.0]

    def fetch() -> KeySet:
        fetches.append(clock[0])
        return published["set"]

    cache = CachedKeySet(fetch, ttl_s=3600, min_refetch_s=30, clock=lambda: clock[0])
    old_result = sign_ear_cwt(make_ear(), old)
    assert validate_result(old_result, cache, now=NOW, expected_txn_hash=TXN).accepted
    # The verifier rotates: new key current, old key retiring.
    published["set"] = KeySet.of([new.public], retiring=[old.public])
    new_result = sign_ear_cwt(make_ear(appraisal_id="ap-9"), new)
    clock[0] = 10.0  # too soon to refetch: the unknown kid is refused
    assert (
        _code(lambda: validate_result(new_result, cache, now=NOW, expected_txn_hash=TXN))
        == "key.unknown-kid"
    )
    clock[0] = 100.0
    assert validate_result(new_result, cache, now=NOW, expected_txn_hash=TXN).accepted
    assert validate_result(old_result, cache, now=NOW, expected_txn_hash=TXN).accepted
    # The old key is finally dropped: its results no longer validate.
    published["set"] = KeySet.of([new.public])
    clock[0] = 4000.0  # past the TTL
    assert (
        _code(lambda: validate_result(old_result, cache, now=NOW, expected_txn_hash=TXN))
        == "key.unknown-kid"
    )
    assert len(fetches) == 3


def test_cli_exit_codes(tmp_path: Path) -> None:
    key = keys.SigningKey.generate(keys.ES256)
    (tmp_path / "keys.json").write_text(KeySet.of([key.public]).dumps())
    (tmp_path / "ok.cwt").write_bytes(sign_ear_cwt(make_ear(iat=_now()), key))
    (tmp_path / "nomatch.jwt").write_text(
        sign_ear_jwt(make_ear(iat=_now(), decision=Decision.NO_MATCH), key)
    )
    (tmp_path / "ok.hex").write_text(sign_ear_cwt(make_ear(iat=_now()), key).hex())

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "edgeproof_cli",
                "rp",
                "validate",
                *args,
                "--keys",
                str(tmp_path / "keys.json"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    ok = run(str(tmp_path / "ok.cwt"), "--txn", TXN.hex(), "--json")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert json.loads(ok.stdout)["decision"] == "match"
    assert run(str(tmp_path / "ok.hex"), "--txn", TXN.hex()).returncode == 0
    assert run(str(tmp_path / "ok.cwt"), "--txn", "00" * 32).returncode == 1
    assert run(str(tmp_path / "nomatch.jwt"), "--txn", TXN.hex()).returncode == 3
    assert run(str(tmp_path / "missing"), "--txn", TXN.hex()).returncode == 2
    # The 2023 profile (Veraison's libraries) and CMW records (draft-ietf-rats-msg-wrap-23).
    legacy = sign_ear_jwt(make_ear(iat=_now(), profile=LEGACY_PROFILE), key)
    (tmp_path / "legacy.jwt").write_text(legacy)
    (tmp_path / "legacy.cmw.json").write_text(json.dumps(cmw_json(legacy, LEGACY_PROFILE)))
    (tmp_path / "ok.cmw.cbor").write_bytes(cmw_cbor(sign_ear_cwt(make_ear(iat=_now()), key)))
    for name, profile in (
        ("legacy.jwt", LEGACY_PROFILE),
        ("legacy.cmw.json", LEGACY_PROFILE),
        ("ok.cmw.cbor", EAR_PROFILE),
    ):
        out = run(str(tmp_path / name), "--txn", TXN.hex(), "--json")
        assert out.returncode == 0, (name, out.stdout + out.stderr)
        assert json.loads(out.stdout)["profile"] == profile


def _now() -> int:
    import time

    return int(time.time())


def test_document_commitment() -> None:
    from attest.commitment import commitment_matches, document_commitment

    salt = bytes(range(16))
    c = document_commitment(salt, "L898902C3")
    assert commitment_matches(salt, c, bytearray(b"L898902C3<"))
    assert commitment_matches(salt, c, "l898902c3")
    assert not commitment_matches(salt, c, "L898902C4")
    assert not commitment_matches(bytes(16), c, "L898902C3")
    with pytest.raises(ValueError):
        document_commitment(b"short", "L898902C3")


def test_transaction_nonce() -> None:
    from attest.commitment import nonce_binds_transaction

    # The construction written out, so that other implementations can check theirs.
    want = hashlib.sha256(b"edgeproof transaction nonce v1\x00" + SALT + TXN).digest()
    assert transaction_nonce(SALT, TXN) == want
    assert nonce_binds_transaction(want, SALT, TXN)
    assert not nonce_binds_transaction(want, SALT, hashlib.sha256(b"order 43").digest())
    assert not nonce_binds_transaction(want, bytes(16), TXN)
    assert not nonce_binds_transaction(want[:16], SALT, TXN)
    for salt, txn in ((b"short", TXN), (SALT + b"x", TXN), (SALT, TXN[:31]), (SALT, "x" * 32)):
        with pytest.raises(ValueError):
            transaction_nonce(salt, txn)  # type: ignore[arg-type]


def test_both_profiles_and_cmw_wrapped_results(key: keys.SigningKey, sign: Sign) -> None:
    """A relying party on draft-ietf-rats-ear-04 or on Veraison's 2023 profile, bare or
    wrapped in a record CMW (draft-ietf-rats-msg-wrap-23), validates the same way."""
    ks = KeySet.of([key.public])
    for profile in (EAR_PROFILE, LEGACY_PROFILE):
        ear = make_ear(profile=profile)
        token = sign(ear, key)
        res = validate_result(token, ks, now=NOW, expected_txn_hash=TXN)
        assert res.accepted and res.ear.profile == profile
        wrapped: bytes | str = (
            json.dumps(cmw_json(token, profile))
            if isinstance(token, str)
            else cmw_cbor(token, profile)
        )
        res = validate_result(wrapped, ks, now=NOW, expected_txn_hash=TXN)
        assert res.ear == ear


def test_unknown_claims_are_ignored_exp_is_honoured(key: keys.SigningKey) -> None:
    """draft-ietf-rats-ear-04 section 4 ("A receiver MUST ignore any unknown claim") and
    section 3.1 (after `exp` a result MUST NOT be accepted)."""
    ks = KeySet.of([key.public])
    claims = make_ear().to_cbor_claims()
    claims[-70000] = {"annotated": "evidence"}  # a Veraison extension
    claims[1002] = b"raw evidence"  # ear_raw_evidence: known to the draft, unused here
    claims[266]["edgeproof-device"][-999999] = 1
    token = cose.sign1(cbor.encode(claims), key)
    assert validate_result(token, ks, now=NOW, expected_txn_hash=TXN).accepted
    expiring = sign_ear_cwt(make_ear(exp=NOW + 10), key)
    assert validate_result(expiring, ks, now=NOW + 9, expected_txn_hash=TXN).accepted
    assert _code(lambda: validate_result(expiring, ks, now=NOW + 10, expected_txn_hash=TXN)) == (
        "rp.expired"
    )
