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
    EAR_PROFILE,
    LEGACY_PROFILE,
    Ear,
    Status,
    TrustVector,
    cmw_cbor,
    cmw_json,
    decode_ear_unverified,
    sign_ear_cwt,
    sign_ear_jwt,
    unknown_claims,
    unwrap_cmw,
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
        "profile": draw(st.sampled_from([EAR_PROFILE, LEGACY_PROFILE])),
        "exp": draw(st.none() | st.integers(0, 2**40 - 1)),
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
    assert sub["ear_status"] == "affirming"
    assert sub["urn:edgeproof:ear:face-match"] == {"decision": "no-match"}
    assert "ear_raw_evidence" not in json.dumps(claims)


def test_draft_04_names_profile_and_policy_ids() -> None:
    """draft-ietf-rats-ear-04 section 3: the #04 profile, underscore names, a list of
    policy ids; CBOR keys stay in the 1000 range; extensions are maps under names clear
    of the ones the draft gives Project Veraison (-70000..-70002)."""
    j = sample_ear().to_json_claims()
    assert j["eat_profile"] == "tag:ietf.org,2026:rats/ear#04"
    assert set(j) >= {"ear_verifier_id", "submods", "ear_status", "urn:edgeproof:ear:result"}
    sub = j["submods"]["edgeproof-device"]
    assert sub["ear_appraisal_policy_ids"] == ["edgeproof-policy-v1"]
    assert "ear_trustworthiness_vector" in sub
    assert not any("." in k or "-" in k for k in j if not k.startswith("urn:"))
    c = sample_ear().to_cbor_claims()
    csub = c[266]["edgeproof-device"]
    assert {1000, 1001, 1003} <= set(csub) and 1004 in c
    assert not {-70000, -70001, -70002} & (set(c) | set(csub))
    pairs: list[tuple[Any, Any]] = [*c.items(), *csub.items(), *j.items(), *sub.items()]
    for k, v in pairs:
        if (isinstance(k, int) and k < -65536) or (isinstance(k, str) and ":" in k):
            assert isinstance(v, dict), k  # "An EAR extension MUST be a map"


def test_unknown_claims_ignored_by_a_receiver_refused_when_closed(es256_key: SigningKey) -> None:
    """Section 4: "A receiver MUST ignore any unknown claim"; the auditor's closed view
    still names each one (a result is published data, docs/privacy.md)."""
    keys = {es256_key.kid: es256_key.public}
    c = sample_ear().to_cbor_claims()
    c[99] = 1
    c[266]["edgeproof-device"][-70001] = {"policy": "veraison's claims"}
    c[-65601][9] = "future member"
    assert Ear.from_cbor_claims(c) == sample_ear()
    token = cose.sign1(cbor.encode(c), es256_key)
    assert verify_ear_cwt(token, keys, closed=False) == sample_ear()
    with pytest.raises(ClaimsError) as err:
        verify_ear_cwt(token, keys)
    assert err.value.code == "ear.unknown-claim"
    assert unknown_claims(c) == ["99", "-65601/9", "edgeproof-device/-70001"]
    j = sample_ear().to_json_claims()
    j["name"] = "x"
    j["submods"]["edgeproof-device"]["ear_raw_evidence"] = "eA"
    assert Ear.from_json_claims(j) == sample_ear()
    assert sorted(unknown_claims(j, cbor_form=False)) == [
        "edgeproof-device/ear_raw_evidence",
        "name",
    ]


def test_legacy_profile_read_and_issued(any_key: SigningKey) -> None:
    """The 2023 profile of Veraison's libraries: dotted names, one policy id string; read
    both as issued now (extensions as maps) and as issued before EAR-04 (bare values)."""
    keys = {any_key.kid: any_key.public}
    legacy = sample_ear(profile=LEGACY_PROFILE, **bound_to(b"t" * 32))
    j = legacy.to_json_claims()
    assert j["eat_profile"] == "tag:github.com,2023:veraison/ear"
    assert j["submods"]["edgeproof-device"]["ear.appraisal-policy-id"] == "edgeproof-policy-v1"
    assert "ear.verifier-id" in j and "eat_nonce" in j
    assert verify_ear_jwt(sign_ear_jwt(legacy, any_key), keys) == legacy
    assert verify_ear_cwt(sign_ear_cwt(legacy, any_key), keys) == legacy
    before = {  # a result exactly as edgeproof issued it before this change
        265: LEGACY_PROFILE,
        6: legacy.iat,
        1004: {0: "edgeproof", 1: "0.1.0"},
        10: legacy.nonce,
        266: {
            "edgeproof-device": {
                1000: 2,
                1001: {0: 2, 2: 2, 7: 2},
                1003: "edgeproof-policy-v1",
                -70001: 1,
            }
        },
        -70003: "a1",
        -70004: b"d" * 32,
        -70005: b"k" * 32,
        -70002: b"t" * 32,
        -70006: legacy.txn_salt,
    }
    assert verify_ear_cwt(cose.sign1(cbor.encode(before), any_key), keys) == legacy


def test_cmw_records_wrap_and_unwrap(es256_key: SigningKey) -> None:
    """draft-ietf-rats-msg-wrap-23 section 3.1 record CMWs with RFC 9782 media types."""
    keys = {es256_key.kid: es256_key.public}
    cwt, jwt = sign_ear_cwt(sample_ear(), es256_key), sign_ear_jwt(sample_ear(), es256_key)
    rec = cmw_json(jwt)
    assert rec[0] == 'application/eat+jwt; eat_profile="tag:ietf.org,2026:rats/ear#04"'
    assert rec[2] == 8 and "=" not in rec[1]
    assert unwrap_cmw(json.dumps(rec)) == jwt
    cb = cmw_cbor(cwt)
    assert cbor.decode(cb)[0].startswith("application/eat+cwt")
    assert verify_ear_cwt(bytes(unwrap_cmw(cb)), keys) == sample_ear()  # type: ignore[arg-type]
    for bad, code in (
        ('["application/json", "eA"]', "cmw.unsupported"),
        ('["application/eat+jwt", "eA", 4]', "cmw.unsupported"),  # ind says evidence
        (json.dumps(['application/eat+jwt; eat_profile="urn:x"', "eA"]), "cmw.unsupported"),
        ("[1]", "cmw.malformed"),
        ("[[[", "cmw.malformed"),
        ('["application/eat+jwt", "a="]', "cmw.malformed"),
    ):
        with pytest.raises(AttestError) as err:
            unwrap_cmw(bad)
        assert err.value.code == code, bad


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
    x = "urn:edgeproof:ear:result"

    def with_sub(**m: Any) -> dict[str, Any]:
        return {**j, "submods": {"edgeproof-device": {**sub, **m}}}

    cases: dict[str, list[tuple[str, Any]]] = {
        # A result must not echo a transaction its evidence's nonce does not commit to.
        "ear.unbound-transaction": [
            ("cbor", {**bc, -65601: {**bc[-65601], 3: b"u" * 32}}),  # another transaction
            ("json", {**bj, x: {**bj[x], "txn_salt": b64url(b"x" * 16)}}),  # another salt
            ("cbor", {**bc, -65601: {k: v for k, v in bc[-65601].items() if k != 4}}),
            ("json", {**bj, x: {k: v for k, v in bj[x].items() if k != "txn_hash"}}),
        ],
        "ear.missing-claim": [
            ("cbor", {k: v for k, v in c.items() if k != 6}),
            ("cbor", {k: v for k, v in c.items() if k != -65601}),
            (
                "json",
                with_sub(eat_nonce=None)
                | {
                    "submods": {
                        "edgeproof-device": {k: v for k, v in sub.items() if k != "eat_nonce"}
                    }
                },
            ),
        ],
        "ear.wrong-profile": [("json", {**j, "eat_profile": "other"})],
        "ear.bad-claim": [
            ("json", with_sub(eat_nonce="!!")),
            ("json", {**j, "iat": "now"}),
            ("json", {**j, "iat": 1.5}),  # section 3: never floating point
            ("json", with_sub(ear_status="fine")),
            ("json", with_sub(**{"urn:edgeproof:ear:face-match": {"decision": "yes"}})),
            ("json", with_sub(**{"urn:edgeproof:ear:face-match": "match"})),  # not a map
            ("json", with_sub(ear_appraisal_policy_ids="edgeproof-policy-v1")),  # not a list
            ("json", with_sub(ear_appraisal_policy_ids=[])),
            ("json", {**j, "ear_status": "none"}),  # overall claims more than the appraisal
            ("json", with_sub(ear_trustworthiness_vector={"made-up": 2})),
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
