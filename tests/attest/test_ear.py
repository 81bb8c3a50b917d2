"""Attestation results (EAR): typed claims, CWT and JWT round trips, strict JWS checks."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attest import cbor, cose
from attest.commitment import transaction_nonce
from attest.ear import (
    Ear,
    Status,
    TrustVector,
    decode_ear_unverified,
    sign_ear_cwt,
    sign_ear_jwt,
    verify_ear_cwt,
    verify_ear_jwt,
)
from attest.errors import AttestError, ClaimsError, ResultError
from attest.evidence import Decision
from attest.keys import EDDSA, SigningKey, b64url

ID = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:+-]{0,63}", fullmatch=True)
TV = st.integers(-128, 127)


@st.composite
def ears(draw: st.DrawFn) -> Ear:
    fields: dict[str, Any] = {
        "iat": draw(st.integers(0, 2**40 - 1)),
        "status": draw(st.sampled_from(Status)),
        "trust_vector": TrustVector(draw(TV), draw(TV), draw(TV), draw(TV)),
        "policy_id": draw(ID),
        "verifier_build": draw(ID),
        "nonce": draw(st.binary(min_size=8, max_size=64)),
        "appraisal_id": draw(ID),
        "evidence_digest": draw(st.binary(min_size=32, max_size=32)),
        "device_kid": draw(st.binary(min_size=32, max_size=32)),
        "decision": draw(st.none() | st.sampled_from(Decision)),
        "developer": draw(ID),
    }
    txn = draw(st.none() | st.binary(min_size=32, max_size=32))
    salt = draw(st.binary(min_size=16, max_size=16))
    return Ear(**{**fields, **bound_to(txn, salt)})


def bound_to(txn_hash: bytes | None, salt: bytes = b"s" * 16) -> dict[str, Any]:
    """The nonce, transaction hash and salt of a result bound to `txn_hash` (or to none)."""
    if txn_hash is None:
        return {}
    return {"nonce": transaction_nonce(salt, txn_hash), "txn_hash": txn_hash, "txn_salt": salt}


def sample_ear(**changes: Any) -> Ear:
    base: dict[str, Any] = {
        "iat": 1_790_000_000,
        "status": Status.AFFIRMING,
        "trust_vector": TrustVector(2, 2, 0, 2),
        "policy_id": "edgeproof-policy-v1",
        "verifier_build": "0.1.0",
        "nonce": b"n" * 32,
        "appraisal_id": "a1",
        "evidence_digest": b"d" * 32,
        "device_kid": b"k" * 32,
        "decision": Decision.MATCH,
    }
    base.update(changes)
    return Ear(**base)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ears())
def test_claims_round_trip(ear: Ear) -> None:
    assert Ear.from_cbor_claims(cbor.decode(cbor.encode(ear.to_cbor_claims()))) == ear
    assert Ear.from_json_claims(json.loads(json.dumps(ear.to_json_claims()))) == ear


def test_signed_round_trips(any_key: SigningKey) -> None:
    keys = {any_key.kid: any_key.public}
    ear = sample_ear(**bound_to(b"t" * 32))
    cwt = sign_ear_cwt(ear, any_key)
    assert verify_ear_cwt(cwt, keys) == ear
    assert decode_ear_unverified(cwt) == ear
    jwt = sign_ear_jwt(ear, any_key)
    assert verify_ear_jwt(jwt, keys) == ear
    header = json.loads(__import__("base64").urlsafe_b64decode(jwt.split(".")[0] + "=="))
    assert header == {
        "alg": "ES256" if any_key.alg != EDDSA else "EdDSA",
        "kid": b64url(any_key.kid),
        "typ": "eat+jwt",
    }


def test_no_raw_evidence_and_decision_apart_from_status() -> None:
    claims = sample_ear(status=Status.AFFIRMING, decision=Decision.NO_MATCH).to_json_claims()
    sub = claims["submods"]["edgeproof-device"]
    assert sub["ear.status"] == "affirming" and sub["edgeproof.decision"] == "no-match"
    assert "ear.raw-evidence" not in json.dumps(claims)


def _jwt_parts(token: str) -> list[str]:
    return token.split(".")


def test_jwt_reason_codes(es256_key: SigningKey, eddsa_key: SigningKey) -> None:
    keys = {es256_key.kid: es256_key.public, eddsa_key.kid: eddsa_key.public}
    good = sign_ear_jwt(sample_ear(), es256_key)
    h, p, s = _jwt_parts(good)

    def header(d: dict[str, Any]) -> str:
        return b64url(json.dumps(d).encode())

    base = {"alg": "ES256", "kid": b64url(es256_key.kid), "typ": "eat+jwt"}
    cases = {
        "jwt.malformed": [good + ".x", "a.b", f"{h}.{p}.{s}=", "x" * 9000, f"{h}.!!.{s}"],
        "jwt.bad-header": [
            f"{header({**base, 'crit': ['exp']})}.{p}.{s}",
            f"{header({**base, 'typ': 'JWT'})}.{p}.{s}",
            f"{header({**base, 'kid': 'not base64url!'})}.{p}.{s}",
        ],
        "cose.alg-not-pinned": [f"{header({**base, 'alg': 'EdDSA'})}.{p}.{s}"],
        # A changed first character (a fixed suffix would equal the real one at times).
        "cose.bad-signature": [f"{h}.{p}.{'BA'[s[0] == 'B']}{s[1:]}", f"{h}.{b64url(b'{}')}.{s}"],
        "key.unknown-kid": [f"{header({**base, 'kid': b64url(bytes(32))})}.{p}.{s}"],
    }
    for code, tokens in cases.items():
        for token in tokens:
            with pytest.raises(AttestError) as err:
                verify_ear_jwt(token, keys)
            assert err.value.code == code, (code, token[:40])
    with pytest.raises(ResultError):
        verify_ear_jwt(b"bytes", keys)  # type: ignore[arg-type]


def test_claims_reason_codes() -> None:
    c = sample_ear().to_cbor_claims()
    j = sample_ear().to_json_claims()
    sub = dict(j["submods"]["edgeproof-device"])
    bc = sample_ear(**bound_to(b"t" * 32)).to_cbor_claims()
    bj = sample_ear(**bound_to(b"t" * 32)).to_json_claims()
    cases: dict[str, list[tuple[str, Any]]] = {
        # A result must not echo a transaction its evidence's nonce does not commit to.
        "ear.unbound-transaction": [
            ("cbor", {**bc, -70002: b"u" * 32}),  # another transaction
            ("json", {**bj, "edgeproof.txn-salt": b64url(b"x" * 16)}),  # another salt
            ("json", {**bj, "eat_nonce": b64url(b"n" * 32)}),  # another nonce
            ("cbor", {k: v for k, v in bc.items() if k != -70006}),  # no salt
            ("json", {k: v for k, v in bj.items() if k != "edgeproof.txn-hash"}),  # no hash
        ],
        "ear.unknown-claim": [
            ("cbor", {**c, 99: 1}),
            ("json", {**j, "name": "x"}),
            ("json", {**j, "submods": {"edgeproof-device": {**sub, "ear.raw-evidence": "x"}}}),
        ],
        "ear.missing-claim": [("cbor", {k: v for k, v in c.items() if k != 6})],
        "ear.wrong-profile": [("json", {**j, "eat_profile": "other"})],
        "ear.bad-claim": [
            ("json", {**j, "eat_nonce": "!!"}),
            ("json", {**j, "iat": "now"}),
            ("json", {**j, "submods": {"edgeproof-device": {**sub, "ear.status": "fine"}}}),
            ("json", {**j, "submods": {"edgeproof-device": {**sub, "edgeproof.decision": "yes"}}}),
            ("cbor", {**c, 6: -1}),
            ("cbor", [1]),
        ],
    }
    for code, items in cases.items():
        for kind, claims in items:
            with pytest.raises(ClaimsError) as err:
                if kind == "cbor":
                    Ear.from_cbor_claims(claims)
                else:
                    Ear.from_json_claims(claims)
            assert err.value.code == code, (code, claims)
    for bad in (
        {"nonce": b"short"},
        {"policy_id": "has space"},
        {"evidence_digest": b"x"},
        {"status": 2},
        {"decision": 1},
        {**bound_to(b"t" * 32), "txn_salt": b"short"},
    ):
        with pytest.raises(ClaimsError):
            sample_ear(**bad)
    with pytest.raises(ClaimsError):
        TrustVector(hardware=200)


def test_cwt_result_uses_the_strict_profile(es256_key: SigningKey) -> None:
    token = sign_ear_cwt(sample_ear(), es256_key)
    assert cose.check_profile(cose.decode_sign1(token)) == (es256_key.alg, es256_key.kid)
