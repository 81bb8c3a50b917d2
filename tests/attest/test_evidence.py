"""Evidence profile v1: the closed schema, every reason code, round trips, the privacy
rule, and agreement of Evidence.decode's fast path with the general path."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attest import cbor, cose, layout
from attest import evidence as evm
from attest.challenge import Gesture
from attest.errors import AttestError, ClaimsError, PrivacyError
from attest.evidence import (
    REGISTRY,
    AntiClone,
    Consent,
    ConsentMethod,
    DebugStatus,
    Decision,
    DocumentAuth,
    Erasure,
    Evidence,
    IntendedUse,
    Liveness,
    LivenessMethod,
    MeasuredItem,
    Outcome,
    ScoreBand,
    Threshold,
    sign_evidence,
    verify_evidence,
)
from attest.keys import EDDSA, ES256, SigningKey
from tests.attest.conftest import NOW, evidence

IDENT = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,31}", fullmatch=True)
DIGEST = st.binary(min_size=32, max_size=32)


@st.composite
def evidences(draw: st.DrawFn) -> Evidence:
    iat = draw(st.integers(0, 2**40 - 300))
    decision = draw(st.sampled_from(Decision))
    bands = [b for b in ScoreBand if not (decision is Decision.MATCH and b is ScoreBand.LOW)]
    challenge = tuple(draw(st.lists(st.sampled_from(Gesture), min_size=1, max_size=8)))
    result = draw(st.sampled_from([Outcome.PASSED, Outcome.FAILED, Outcome.INCONCLUSIVE]))
    failed = None
    if result is Outcome.FAILED:
        failed = draw(st.none() | st.integers(0, len(challenge) - 1))
    method = draw(st.sampled_from(AntiClone))
    anticlone = (
        Outcome.NOT_SUPPORTED
        if method is AntiClone.NONE
        else draw(st.sampled_from([Outcome.PASSED, Outcome.FAILED, Outcome.INCONCLUSIVE]))
    )
    frames = draw(st.integers(0, evm.MAX_FRAMES))
    others = draw(st.lists(st.sampled_from(list(MeasuredItem)[1:]), unique=True))
    return Evidence(
        nonce=draw(st.binary(min_size=16, max_size=64)),
        iat=iat,
        exp=iat + draw(st.integers(1, 300)),
        cti=draw(st.binary(min_size=8, max_size=32)),
        swname=draw(IDENT),
        swversion=draw(IDENT),
        measurements={m: draw(DIGEST) for m in [MeasuredItem.RELEASE_MANIFEST, *others]},
        decision=decision,
        score_band=draw(st.sampled_from(bands)),
        threshold=Threshold(draw(IDENT), draw(st.integers(-12, -1))),
        liveness=Liveness(draw(st.sampled_from(LivenessMethod)), challenge, result, failed),
        document=DocumentAuth(
            draw(st.sampled_from(Outcome)), method, anticlone, draw(st.booleans())
        ),
        consent=Consent(draw(st.booleans()), draw(st.sampled_from(ConsentMethod))),
        erasure=Erasure(frames, frames, draw(st.integers(0, iat))),
        dbgstat=draw(st.sampled_from(DebugStatus)),
        intuse=draw(st.sampled_from(IntendedUse)),
        rp_commitment_matched=draw(st.none() | st.booleans()),
    )


def outcome(fn: Any, *args: Any) -> tuple[str, Any]:
    try:
        return ("ok", fn(*args))
    except AttestError as exc:
        return ("error", exc.code)


def fast_decode(payload: bytes) -> Evidence | None:
    """The parse's fast path alone (attest.layout), built by the one trusted constructor."""
    m = layout.CLAIMS.fullmatch(payload)
    return None if m is None else layout.build(m, Evidence)


def general(payload: bytes) -> Evidence:
    return Evidence.from_claims(cbor.decode(payload, max_size=evm.MAX_PAYLOAD))


# -- round trips ------------------------------------------------------------------------


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(evidences())
def test_round_trip_through_both_paths(ev: Evidence) -> None:
    payload = ev.encode()
    fast = fast_decode(payload)
    assert fast == ev  # the fast path takes every valid payload
    # ... and its objects, built without re-running the constructors, pass them unchanged.
    assert fast is not None
    for obj in (fast.threshold, fast.liveness, fast.document, fast.consent, fast.erasure, fast):
        assert type(obj)(**vars(obj)) == obj
    assert general(payload) == ev
    assert Evidence.decode(payload) == ev
    assert cbor.encode(cbor.decode(payload)) == payload  # deterministic


def mutated(original: bytes, data: st.DataObject) -> bytes:
    """One to three random flips, sets, insertions or deletions of single bytes."""
    raw = bytearray(original)
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(raw) - 1))
        op = data.draw(st.sampled_from(["flip", "set", "insert", "delete"]))
        if op == "flip":
            raw[i] ^= 1 << data.draw(st.integers(0, 7))
        elif op == "set":
            raw[i] = data.draw(st.integers(0, 255))
        elif op == "insert":
            raw.insert(i, data.draw(st.integers(0, 255)))
        else:
            del raw[i]
    return bytes(raw)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(evidences(), st.data())
def test_paths_agree_on_mutated_payloads(ev: Evidence, data: st.DataObject) -> None:
    p = mutated(ev.encode(), data)
    assert outcome(Evidence.decode, p) == outcome(general, p)
    fast = outcome(fast_decode, p)
    if fast[0] == "ok" and fast[1] is not None:
        assert outcome(general, p) == fast


def general_verify(token: bytes, keys: Any) -> tuple[Evidence, cose.Sign1]:
    """verify_evidence by the general paths only: decode_sign1, the profile, from_claims."""
    msg = cose.decode_sign1(token)
    alg, kid = cose.check_profile(msg)
    cose.check_signature(keys, alg, kid, msg.signature, msg.to_be_signed())
    return general(msg.payload), msg


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(evidences(), st.data())
def test_token_paths_agree_on_mutated_tokens(ev: Evidence, data: st.DataObject) -> None:
    """verify_evidence's one-match path answers as the general paths do, error codes too.

    Mutations of the payload are signed afterwards (so only the claims decide), mutations
    of the token are not (so the envelope and the signature decide).
    """
    key = SIGNERS[data.draw(st.integers(0, 1))]
    keys = {key.kid: key.public}
    payload = ev.encode()
    token = cose.sign1(payload, key)  # ES256 signatures are randomised: sign once
    assert (
        verify_evidence(token, keys)
        == general_verify(token, keys)
        == (ev, cose.decode_sign1(token))
    )
    signed_after = data.draw(st.booleans())
    raw = mutated(payload if signed_after else token, data)
    token = cose.sign1(raw, key) if signed_after else raw
    assert outcome(verify_evidence, token, keys) == outcome(general_verify, token, keys)


SIGNERS = [SigningKey.generate(ES256), SigningKey.generate(EDDSA)]


def test_sign_and_verify(any_key: SigningKey) -> None:
    ev = evidence()
    token = sign_evidence(ev, any_key)
    back, msg = verify_evidence(token, {any_key.kid: any_key.public})
    assert back == ev and msg.kid == any_key.kid and msg.alg == any_key.alg


def test_typical_token_size(es256_key: SigningKey) -> None:
    # Measured in benchmarks/attest_bench.py too; here only as a regression guard.
    assert len(sign_evidence(evidence(txn=False), es256_key)) <= 450
    assert len(sign_evidence(evidence(txn=True), es256_key)) <= 450


def test_wire_form_of_erasure_is_seconds_before_iat() -> None:
    ev = evidence()
    assert ev.to_claims()[evm.ERASURE] == [148, 148, 2]
    with pytest.raises(ClaimsError) as err:
        evidence(erasure=Erasure(1, 1, NOW + 1))
    assert err.value.code == "claims.bad-value"


# -- the closed schema: reason codes ----------------------------------------------------


def claims(**changes: Any) -> dict[int, Any]:
    c = evidence().to_claims()
    for label, value in changes.items():
        key = getattr(evm, label.upper())
        if value is KeyError:
            del c[key]
        else:
            c[key] = value
    return c


ENTRY = [bytes((k,)) + b"\x58\x20" + bytes((k,)) * 32 for k in range(4)]  # key, digest

SCHEMA_REJECTS: list[tuple[str, Any]] = [
    ("claims.not-a-map", [1, 2]),
    ("claims.unknown-claim", {**claims(), -70000: "Jane Doe"}),
    ("claims.unknown-claim", {**claims(), "name": "x"}),
    ("claims.missing-claim", claims(eat_nonce=KeyError)),
    ("claims.missing-claim", claims(erasure=KeyError)),
    ("claims.wrong-profile", claims(eat_profile="urn:other")),
    ("claims.bad-value", claims(eat_nonce=b"short")),
    ("claims.bad-value", claims(eat_nonce=b"x" * 65)),
    ("claims.bad-value", claims(cti=b"x" * 7)),
    ("claims.bad-value", claims(iat=True)),
    ("claims.bad-value", claims(swname="John Smith")),
    ("claims.bad-value", claims(swname="x" * 33)),
    ("claims.bad-value", claims(swversion="1.0")),
    ("claims.bad-value", claims(measurements=[[60, cbor.encode({1: b"x" * 32})]])),
    ("claims.bad-value", claims(measurements=[[61, cbor.encode({0: b"x" * 32})]])),
    ("claims.bad-value", claims(measurements=[[60, cbor.encode({0: b"x" * 31})]])),
    ("claims.bad-value", claims(measurements=[[60, b"\xa1\x00\x18"]])),
    ("claims.bad-value", claims(measurements=[[60, cbor.encode({9: b"x" * 32})]])),
    ("claims.bad-value", claims(decision=[1, 0])),  # a match with a low band
    ("claims.bad-value", claims(decision=[7, 0])),
    ("claims.bad-value", claims(threshold=["t", 0])),
    ("claims.bad-value", claims(liveness=[1, [], 1, None])),
    ("claims.bad-value", claims(liveness=[1, [9], 1, None])),
    ("claims.bad-value", claims(liveness=[1, [1], 3, None])),  # "not supported"
    ("claims.bad-value", claims(liveness=[1, [1], 1, 0])),  # failed step but passed
    ("claims.bad-value", claims(liveness=[1, [1, 2], 2, 2])),  # step out of range
    ("claims.bad-value", claims(document=[1, 0, 1, False])),  # no method, result "passed"
    ("claims.bad-value", claims(document=[1, 1, 1, 0])),
    ("claims.bad-value", claims(consent=[1, 1])),
    ("claims.bad-value", claims(erasure=[1, 1, -1])),
    # The retired transaction-hash label is outside the registry like any other.
    ("claims.unknown-claim", {**claims(), -65543: b"x" * 32}),
    ("claims.bad-value", claims(rp_commitment=1)),
    ("claims.bad-value", claims(dbgstat=9)),
    ("claims.bad-validity", claims(exp=NOW + 301)),
    ("claims.bad-validity", claims(exp=NOW)),
    ("claims.erasure-incomplete", claims(erasure=[10, 9, 0])),
    ("claims.bad-value", claims(erasure=[evm.MAX_FRAMES + 1, evm.MAX_FRAMES + 1, 0])),
    ("claims.bad-value", claims(erasure=[1, 1, NOW + 1])),  # erased before 1970
    ("claims.bad-value", claims(iat=2**40 + 1, exp=2**40 + 2)),
    ("claims.bad-value", claims(exp=2**40 + 1, iat=2**40 - 1)),
    ("claims.bad-value", claims(measurements=[[60, cbor.encode({1: b"x" * 32, 2: b"y" * 32})]])),
    # Measurement maps in bytes the fast path's pattern must not take (RFC 8949 4.2.1).
    ("claims.bad-value", claims(measurements=[[60, b"\xa2" + ENTRY[1] + ENTRY[0]]])),  # order
    ("claims.bad-value", claims(measurements=[[60, b"\xa2" + ENTRY[0] + ENTRY[0]]])),  # twice
    ("claims.bad-value", claims(measurements=[[60, b"\xa2" + ENTRY[0] + ENTRY[1] + ENTRY[2]]])),
    ("claims.bad-value", claims(measurements=[[60, b"\xa3" + ENTRY[0] + ENTRY[1]]])),
    ("claims.bad-value", claims(measurements=[[60, b"\xa1\x00\x59\x00\x20" + b"x" * 32]])),
]


@pytest.mark.parametrize(("code", "value"), SCHEMA_REJECTS, ids=[c for c, _ in SCHEMA_REJECTS])
def test_schema_reason_codes(code: str, value: Any) -> None:
    with pytest.raises(ClaimsError) as err:
        Evidence.from_claims(value)
    assert err.value.code == code
    if isinstance(value, dict):
        try:
            payload = cbor.encode(value)
        except AttestError:
            return
        with pytest.raises(ClaimsError) as err2:
            Evidence.decode(payload)
        assert err2.value.code == code


def test_privacy_errors_are_privacy_errors() -> None:
    with pytest.raises(PrivacyError):
        Evidence.from_claims({**claims(), -70000: b"\xff\xd8 a JPEG"})
    with pytest.raises(PrivacyError):
        evidence(erasure=Erasure(5, 4, NOW))


def test_constructors_check_types_and_accept_wire_integers() -> None:
    assert Consent(True, 1).method is ConsentMethod.OPERATOR_CONFIRMED  # type: ignore[arg-type]
    assert Liveness(1, [Gesture.BLINK], 1).challenge == (Gesture.BLINK,)  # type: ignore[arg-type]
    for bad in (
        lambda: Consent(1, ConsentMethod.SELF_SERVICE),  # type: ignore[arg-type]
        lambda: Consent(True, 9),  # type: ignore[arg-type]
        lambda: DocumentAuth(Outcome.PASSED, AntiClone.NONE, Outcome.NOT_SUPPORTED, "no"),  # type: ignore[arg-type]
        lambda: Liveness(LivenessMethod.ACTIVE_NONCE, ("blink",), Outcome.PASSED),  # type: ignore[arg-type]
        lambda: evidence(threshold=("id", -4)),
        lambda: evidence(decision=True),
        lambda: evidence(measurements={0: b"x" * 32}),
    ):
        with pytest.raises(ClaimsError):
            bad()


# -- the privacy rule ---------------------------------------------------------------------

ALLOWED_KINDS = {
    "random bytes from the verifier",
    "random bytes from the device",
    "time",
    "identifier",
    "software digests",
    "device state",
    "enumeration",
    "outcome",
    "counts and time",
    "digest chosen by the relying party",
}


def test_registry_is_closed_and_private_labels_are_private() -> None:
    labels = [c.label for c in REGISTRY]
    assert len(set(labels)) == len(labels)
    assert {c.name for c in REGISTRY} >= {"eat_nonce", "iat", "exp", "cti", "measurements"}
    for spec in REGISTRY:
        assert spec.data_kind in ALLOWED_KINDS, spec
        assert spec.meaning and spec.name
        assert spec.label < -65536 or spec.label in {4, 6, 7, 10, 263, 265, 270, 271, 273, 275}
    assert set(evidence().to_claims()) <= set(labels)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(evidences())
def test_no_field_can_carry_a_blob(ev: Evidence) -> None:
    """Every string in a token is short and bounded: no image, template or free text fits."""

    def walk(v: Any) -> None:
        if isinstance(v, bytes):
            # the nested measurement map is itself made of 32-byte digests
            if len(v) > 64:
                walk(cbor.decode(v))
        elif isinstance(v, str):
            assert len(v) <= 32
        elif isinstance(v, list):
            assert len(v) <= 8
            for x in v:
                walk(x)
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)
        else:
            assert v is None or isinstance(v, bool | int)

    walk(cbor.decode(ev.encode()))
    assert len(ev.encode()) <= evm.MAX_PAYLOAD


def test_fast_path_objects_have_every_field() -> None:
    ev = fast_decode(evidence().encode())
    assert ev is not None
    for obj in (ev, ev.threshold, ev.liveness, ev.document, ev.consent, ev.erasure):
        assert set(vars(obj)) == {f.name for f in dataclasses.fields(obj)}


def test_rp_commitment_null_is_refused_one_encoding_per_claim_set(es256_key: SigningKey) -> None:
    """Issue 16, finding 6: `rp_commitment: null` was read as "no commitment", so one
    claim set had two encodings and two digests. Absent or a bool, nothing else."""
    claims = evidence().to_claims()
    assert evm.RP_COMMITMENT not in claims
    nulled = {**claims, evm.RP_COMMITMENT: None}
    for bad in (nulled, {**claims, evm.RP_COMMITMENT: 1}):
        with pytest.raises(ClaimsError) as err:
            Evidence.from_claims(bad)
        assert err.value.code == "claims.bad-value"
        with pytest.raises(ClaimsError):
            Evidence.decode(cbor.encode(bad))
        token = cose.sign1(cbor.encode(bad), es256_key)
        with pytest.raises(ClaimsError):
            evm.verify_evidence(token, {es256_key.kid: es256_key.public})


def test_accepted_payloads_reencode_to_themselves() -> None:
    """Exactly closed: whatever Evidence.decode accepts, Evidence.encode gives back byte
    for byte, so the SHA-256 of a token names one claim set."""
    payload = evidence().encode()
    assert Evidence.decode(payload).encode() == payload
    claims = cbor.decode(payload)
    for wider in (
        {**claims, evm.IAT: cbor.Tag(1, claims[evm.IAT])},  # a tagged time (RFC 8949 3.4.2)
        {**claims, evm.RP_COMMITMENT: None},
    ):
        with pytest.raises(AttestError):
            Evidence.decode(cbor.encode(wider))


def test_high_s_ecdsa_evidence_is_refused(es256_key: SigningKey) -> None:
    """Issue 16, finding 7: (r, n - s) verifies as well as (r, s). A third party could turn
    a device's token into a second valid one (another digest) and, submitted first, have
    the device's own refused as a replay. Evidence is low-S only; our signer makes low S."""
    from attest.keys import P256_N, is_low_s

    keys = {es256_key.kid: es256_key.public}
    token = evm.sign_evidence(evidence(), es256_key)
    assert is_low_s(token[-64:])
    r, s = token[-64:-32], int.from_bytes(token[-32:], "big")
    flipped = token[:-32] + (P256_N - s).to_bytes(32, "big")
    es256_key.public.verify(flipped[-64:], cose.decode_sign1(flipped).to_be_signed())  # valid
    evm.verify_evidence(token, keys)
    with pytest.raises(AttestError) as err:
        evm.verify_evidence(flipped, keys)
    assert err.value.code == "cose.high-s"
    assert r == flipped[-64:-32]
