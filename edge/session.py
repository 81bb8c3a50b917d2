"""One verification session, from "place the passport" to "signed result received".

This module is the plain sequence a newcomer reads top to bottom (`run_session`). Each step
is a small protocol; the device's real steps (chip over PC/SC, camera, LiteRT models, the
verifier over HTTP) are thin adapters in `edge/steps.py`, and tests drive the same sequence
with in-memory steps.

Two kinds of trouble, handled differently:
- a check that ran and failed (passive authentication, liveness, no match) is a result:
  it goes into the evidence, which is signed and sent, so the verifier records the attempt;
- a step that could not run (no card, no camera, timeout, no consent) aborts the session:
  nothing is signed or sent, because there is nothing true to attest.
Either way, every buffer holding pixels, embeddings or personal data is wiped before the
function returns, and the evidence is built only after the wipe has been verified.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

from attest import cose
from attest.challenge import Gesture
from attest.commitment import commitment_matches
from attest.cose import Signer
from attest.evidence import (
    MAX_VALIDITY_S,
    Consent,
    ConsentMethod,
    Decision,
    DocumentAuth,
    Erasure,
    Evidence,
    Liveness,
    LivenessMethod,
    MeasuredItem,
    Outcome,
    ScoreBand,
    Threshold,
)

EVIDENCE_VALIDITY_S = min(120, MAX_VALIDITY_S)  # submission follows signing at once


class SessionError(Exception):
    """A step could not run; nothing was signed or sent. `code` is stable, `step` names it."""

    def __init__(self, step: str, code: str, message: str) -> None:
        super().__init__(f"{step}: {message}")
        self.step = step
        self.code = code
        self.message = message


class VerifierUnreachableError(SessionError):
    def __init__(self, message: str) -> None:
        super().__init__("submit", "session.verifier-unreachable", message)


# -- what each step hands to the next ---------------------------------------------------


@dataclass(frozen=True)
class Challenge:
    """What the verifier issued: the nonce binds everything that follows.

    A relying party's transaction is already inside the nonce (attest.commitment), so the
    device never holds the transaction hash.
    """

    nonce: bytes
    expires_at: int
    gestures: tuple[Gesture, ...]
    liveness_method: LivenessMethod
    commitment: tuple[bytes, bytes] | None = None  # (salt, SHA-256 commitment)


@dataclass(frozen=True)
class Submission:
    """What the verifier answered, already checked by the adapter (signature, inclusion)."""

    appraisal_id: str
    status: str  # EAR status: affirming, warning, contraindicated, none
    decision: str | None  # match, no-match, inconclusive
    log_index: int
    inclusion_verified: bool
    result_token: bytes
    #: The first reason code among the verifier's checks (unsigned, from the HTTP answer;
    #: for the clerk's screen only, never for a decision: the signed EAR decides).
    reason: str | None = None


@dataclass(frozen=True)
class LiveOutcome:
    liveness: Liveness
    frames_captured: int
    frames_erased: int
    erasure_verified: bool  # the capture buffers were checked to be all zero


@dataclass(frozen=True)
class MatchOutcome:
    decision: Decision
    band: ScoreBand
    threshold: Threshold


class Wipeable(Protocol):
    def wipe(self) -> None: ...


class ChipReading(Wipeable, Protocol):
    """The chip's data, held in buffers `wipe()` overwrites."""

    @property
    def document(self) -> DocumentAuth: ...

    def face_rgb(self) -> Any: ...  # (H, W, 3) uint8 array owned by the reading

    def document_number(self) -> bytearray: ...


class LiveFrames(Wipeable, Protocol):
    """Frames kept for matching after capture ended, in buffers `wipe()` overwrites."""

    def frames(self) -> Sequence[Any]: ...


class VerifierLink(Protocol):
    def challenge(self) -> Challenge: ...

    def submit(self, evidence: bytes) -> Submission: ...


class ChipStep(Protocol):
    def read(self, deadline: float) -> ChipReading: ...


class LiveStep(Protocol):
    def run(
        self, gestures: tuple[Gesture, ...], method: LivenessMethod, deadline: float
    ) -> tuple[LiveOutcome, LiveFrames]: ...


class MatchStep(Protocol):
    def match(self, chip_face: Any, live_frames: Sequence[Any]) -> MatchOutcome: ...


@dataclass(frozen=True)
class DeviceIdentity:
    swname: str
    swversion: str
    measurements: dict[MeasuredItem, bytes]


@dataclass(frozen=True)
class Timeouts:
    chip_s: float = 60.0
    live_s: float = 45.0


@dataclass(frozen=True)
class SessionResult:
    evidence: Evidence
    evidence_token: bytes
    submission: Submission | None  # None when queued for later (verifier unreachable)


Progress = Callable[[str, str], None]  # (step, message)


def _quiet(step: str, message: str) -> None:
    pass


@contextmanager
def _wiped(items: list[Wipeable]) -> Iterator[list[Wipeable]]:
    """Wipe everything registered, whatever happens inside (ARCHITECTURE.md, step 5)."""
    try:
        yield items
    finally:
        for item in items:
            item.wipe()


def run_session(
    *,
    verifier: VerifierLink,
    chip: ChipStep,
    live: LiveStep,
    matcher: MatchStep,
    signer: Signer,
    device: DeviceIdentity,
    consent: ConsentMethod | None,
    timeouts: Timeouts = Timeouts(),
    clock: Callable[[], float] = time.time,
    random: Callable[[int], bytes] = os.urandom,
    progress: Progress = _quiet,
    on_unreachable: Callable[[bytes, Evidence, Challenge], None] | None = None,
) -> SessionResult:
    """Run one verification. Raises SessionError when a step cannot run."""
    # 0. Consent first: without it nothing is read or captured.
    if consent is None:
        raise SessionError("consent", "session.no-consent", "the person did not consent")

    # 1. A fresh challenge from the verifier.
    progress("challenge", "asking the verifier for a challenge")
    challenge = verifier.challenge()
    progress("challenge", "challenge: " + ", ".join(g.value for g in challenge.gestures))

    with _wiped([]) as sensitive:
        # 2. Read and authenticate the chip.
        progress("chip", "place the passport on the reader")
        reading = chip.read(clock() + timeouts.chip_s)
        sensitive.append(reading)
        document = reading.document
        matched_commitment = None
        if challenge.commitment is not None:
            salt, commitment = challenge.commitment
            matched_commitment = commitment_matches(salt, commitment, reading.document_number())
        progress("chip", _describe_document(document))

        # 3. Film the person performing the challenge.
        progress("liveness", "look at the camera and follow the prompts")
        live_outcome, live_frames = live.run(
            challenge.gestures, challenge.liveness_method, clock() + timeouts.live_s
        )
        sensitive.append(live_frames)
        progress("liveness", f"liveness {_name(live_outcome.liveness.result)}")

        # 4. Compare the live face with the chip photo, on the device.
        match = _match(matcher, reading, live_frames, live_outcome)
        progress("match", f"decision {_name(match.decision)} ({_name(match.band)} score band)")
    # 5. Everything sensitive is wiped here (the `with` above), success or not.
    if (
        not live_outcome.erasure_verified
        or live_outcome.frames_erased != live_outcome.frames_captured
    ):
        raise SessionError(
            "erase", "session.erasure-unproven", "frame buffers were not verifiably wiped"
        )
    erased_at = int(clock())
    progress("erase", f"{live_outcome.frames_erased} frames erased")

    # 6. Build the claims from typed results, sign them.
    now = max(int(clock()), erased_at)  # a clock stepping back must not undo the order
    evidence = Evidence(
        nonce=challenge.nonce,
        iat=now,
        exp=min(now + EVIDENCE_VALIDITY_S, max(challenge.expires_at, now + 1)),
        cti=random(16),
        swname=device.swname,
        swversion=device.swversion,
        measurements=device.measurements,
        decision=match.decision,
        score_band=match.band,
        threshold=match.threshold,
        liveness=live_outcome.liveness,
        document=document,
        consent=Consent(True, consent),
        erasure=Erasure(live_outcome.frames_captured, live_outcome.frames_erased, erased_at),
        rp_commitment_matched=matched_commitment,
    )
    token = cose.sign1(evidence.encode(), signer)
    progress("sign", f"evidence signed ({len(token)} bytes)")

    # 7. Submit; when the verifier is unreachable the caller may queue the signed evidence.
    try:
        submission = verifier.submit(token)
    except VerifierUnreachableError:
        if on_unreachable is None:
            raise
        on_unreachable(token, evidence, challenge)
        progress("submit", "verifier unreachable: evidence queued")
        return SessionResult(evidence, token, None)
    progress(
        "result",
        f"{submission.status}, decision {submission.decision}, log index {submission.log_index}"
        + (", inclusion proof verified" if submission.inclusion_verified else ""),
    )
    return SessionResult(evidence, token, submission)


def _match(
    matcher: MatchStep, reading: ChipReading, live_frames: LiveFrames, live: LiveOutcome
) -> MatchOutcome:
    """No live frames (for example liveness failed before any good frame) means no guess."""
    frames = live_frames.frames()
    if not frames:
        return MatchOutcome(Decision.INCONCLUSIVE, ScoreBand.LOW, _NO_THRESHOLD)
    return matcher.match(reading.face_rgb(), frames)


_NO_THRESHOLD = Threshold("none", -1)


def _name(value: Enum) -> str:
    return value.name.lower().replace("_", " ")


def _describe_document(doc: DocumentAuth) -> str:
    anticlone = doc.anticlone_method.name.lower().replace("_", " ")
    return (
        f"passive authentication {doc.passive.name.lower()}, "
        f"{anticlone} {doc.anticlone.name.lower().replace('_', ' ')}"
        + (", document expired" if doc.expired else "")
    )


__all__ = [
    "Challenge",
    "ChipReading",
    "ChipStep",
    "DeviceIdentity",
    "LiveFrames",
    "LiveOutcome",
    "LiveStep",
    "MatchOutcome",
    "MatchStep",
    "Outcome",
    "SessionError",
    "SessionResult",
    "Signer",
    "Submission",
    "Timeouts",
    "VerifierLink",
    "VerifierUnreachableError",
    "run_session",
]
