"""The session sequence, with in-memory steps standing in for chip, camera and verifier.

What is checked here is the orchestration: order, consent, wiping on every path, what is
signed and sent, and what is not. The real steps are tested against real components in
their own areas and end to end by the demo test.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from attest import cose, keys
from attest.challenge import derive_challenge
from attest.commitment import document_commitment
from attest.evidence import (
    AntiClone,
    ConsentMethod,
    Decision,
    DocumentAuth,
    Evidence,
    Liveness,
    LivenessMethod,
    MeasuredItem,
    Outcome,
    ScoreBand,
    Threshold,
)
from edge.session import (
    Challenge,
    DeviceIdentity,
    LiveOutcome,
    MatchOutcome,
    SessionError,
    SessionResult,
    Submission,
    VerifierUnreachableError,
    run_session,
)

NONCE = bytes(range(16))
DEVICE = DeviceIdentity("edgeproof", "0.1.0", {MeasuredItem.RELEASE_MANIFEST: b"\x07" * 32})
KEY = keys.SigningKey.generate(keys.ES256)


@dataclass
class Reading:
    document: DocumentAuth
    face: np.ndarray = field(default_factory=lambda: np.full((8, 8, 3), 200, np.uint8))
    number: bytearray = field(default_factory=lambda: bytearray(b"L898902C3"))
    wiped: bool = False

    def face_rgb(self) -> np.ndarray:
        return self.face

    def document_number(self) -> bytearray:
        return self.number

    def wipe(self) -> None:
        self.face.fill(0)
        self.number[:] = b"\x00" * len(self.number)
        self.wiped = True


@dataclass
class Frames:
    items: list[np.ndarray]
    wiped: bool = False

    def frames(self) -> Sequence[Any]:
        return self.items

    def wipe(self) -> None:
        for f in self.items:
            f.fill(0)
        self.wiped = True


class Verifier:
    def __init__(self, commitment: tuple[bytes, bytes] | None = None, up: bool = True) -> None:
        self.commitment = commitment
        self.up = up
        self.submitted: list[bytes] = []

    def challenge(self) -> Challenge:
        return Challenge(
            NONCE,
            2_000_000_000,
            derive_challenge(NONCE),
            LivenessMethod.ACTIVE_NONCE,
            commitment=self.commitment,
        )

    def submit(self, evidence: bytes) -> Submission:
        if not self.up:
            raise VerifierUnreachableError("connection refused")
        self.submitted.append(evidence)
        return Submission("ap-1", "affirming", "match", 0, True, b"")


class Chip:
    def __init__(self, doc: DocumentAuth | None = None, fail: bool = False) -> None:
        self.reading = Reading(
            doc
            or DocumentAuth(Outcome.PASSED, AntiClone.CHIP_AUTHENTICATION, Outcome.PASSED, False)
        )
        self.fail = fail

    def read(self, deadline: float) -> Reading:
        if self.fail:
            raise SessionError("chip", "mrtd.no-card", "no passport on the reader")
        return self.reading


class Live:
    def __init__(self, result: Outcome = Outcome.PASSED, erased: int = 30, frames: int = 2) -> None:
        self.result, self.erased = result, erased
        self.kept = Frames([np.full((4, 4, 3), 99, np.uint8) for _ in range(frames)])

    def run(self, gestures, method, deadline):  # type: ignore[no-untyped-def]
        failed = 1 if self.result is Outcome.FAILED else None
        lv = Liveness(method, gestures, self.result, failed)
        return LiveOutcome(lv, 30, self.erased, True), self.kept


class Matcher:
    def __init__(self, explode: bool = False) -> None:
        self.explode = explode
        self.calls = 0

    def match(self, chip_face: Any, live_frames: Sequence[Any]) -> MatchOutcome:
        self.calls += 1
        assert chip_face.any() and all(f.any() for f in live_frames), "matched wiped data"
        if self.explode:
            raise RuntimeError("model crashed")
        return MatchOutcome(Decision.MATCH, ScoreBand.HIGH, Threshold("sface-v1", -3))


def run(**kw: Any) -> tuple[SessionResult, dict[str, Any]]:
    args: dict[str, Any] = dict(
        verifier=Verifier(),
        chip=Chip(),
        live=Live(),
        matcher=Matcher(),
        signer=KEY,
        device=DEVICE,
        consent=ConsentMethod.OPERATOR_CONFIRMED,
        clock=lambda: 1_900_000_000.0,
    )
    args.update(kw)
    return run_session(**args), args


def test_happy_path_signs_sends_and_wipes() -> None:
    result, a = run()
    assert a["verifier"].submitted == [result.evidence_token]
    msg = cose.verify_sign1(result.evidence_token, {KEY.kid: KEY.public})
    ev = Evidence.decode(msg.payload)
    assert ev.decision is Decision.MATCH and ev.nonce == NONCE
    assert ev.erasure.captured == ev.erasure.erased == 30 and ev.consent.recorded
    assert ev.rp_commitment_matched is None
    assert a["chip"].reading.wiped and not a["chip"].reading.face.any()
    assert a["live"].kept.wiped and not any(f.any() for f in a["live"].kept.items)


def test_no_consent_reads_nothing() -> None:
    chip = Chip()
    with pytest.raises(SessionError) as exc:
        run(consent=None, chip=chip)
    assert exc.value.code == "session.no-consent" and not chip.reading.wiped


def test_chip_failure_sends_nothing() -> None:
    v = Verifier()
    with pytest.raises(SessionError) as exc:
        run(chip=Chip(fail=True), verifier=v)
    assert exc.value.step == "chip" and v.submitted == []


def test_crash_mid_match_still_wipes_and_sends_nothing() -> None:
    v, chip, live = Verifier(), Chip(), Live()
    with pytest.raises(RuntimeError):
        run(matcher=Matcher(explode=True), verifier=v, chip=chip, live=live)
    assert chip.reading.wiped and live.kept.wiped and v.submitted == []


def test_failed_liveness_is_attested_not_hidden() -> None:
    result, _ = run(live=Live(result=Outcome.FAILED, frames=0))
    assert result.evidence.liveness.result is Outcome.FAILED
    assert result.evidence.decision is Decision.INCONCLUSIVE  # no frames: no guess


def test_unproven_erasure_sends_nothing() -> None:
    v = Verifier()
    with pytest.raises(SessionError) as exc:
        run(live=Live(erased=29), verifier=v)
    assert exc.value.code == "session.erasure-unproven" and v.submitted == []


def test_commitment_checked_on_device() -> None:
    salt = b"\x05" * 16
    good, _ = run(verifier=Verifier(commitment=(salt, document_commitment(salt, "L898902C3"))))
    bad, _ = run(verifier=Verifier(commitment=(salt, document_commitment(salt, "X0000000"))))
    assert good.evidence.rp_commitment_matched is True
    assert bad.evidence.rp_commitment_matched is False


def test_unreachable_verifier_queues_signed_evidence() -> None:
    queued: list[bytes] = []
    result, _ = run(verifier=Verifier(up=False), on_unreachable=lambda t, e, c: queued.append(t))
    assert result.submission is None and queued == [result.evidence_token]
    with pytest.raises(VerifierUnreachableError):
        run(verifier=Verifier(up=False))


def test_chip_step_honours_its_deadline() -> None:
    """The real chip step over the in-process emulator: past the deadline, a clear error."""
    import time

    from asn1crypto import x509

    from edge.mrtd.passive import TrustStore
    from edge.steps import PassportChipStep
    from rig.mrtd.card import EmulatedChip, InProcessTransport
    from rig.mrtd.testdoc import DocOptions, generate

    doc = generate(DocOptions())
    step = PassportChipStep(
        lambda: InProcessTransport(EmulatedChip(doc)),
        TrustStore([x509.Certificate.load(doc.csca_der)]),
        mrz=doc.mrz_key,
    )
    with pytest.raises(SessionError) as exc:
        step.read(time.time() - 1)
    assert (exc.value.step, exc.value.code) == ("chip", "pcsc.chip-timeout")
    reading = step.read(time.time() + 30)
    try:
        assert reading.document.passive is Outcome.PASSED
        assert reading.face_rgb().shape[2] == 3
    finally:
        reading.wipe()
    assert not reading.document_number().strip(b"\x00")
