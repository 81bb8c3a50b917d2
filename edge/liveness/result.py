"""The liveness outcome, as the attestation's liveness claim needs it (method, challenge,
result) plus what an operator needs to know why. Terms follow ISO/IEC 30107-1 (clause 3):
a "presentation attack" is a photo, screen or recording presented to the camera, and the
passive checks are a (software) presentation attack detection method."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from attest.challenge import Gesture

#: The method name carried in the claim: an active challenge from the nonce, plus the
#: passive replay checks of passive.py. Bump the version when a threshold changes meaning.
METHOD = "edgeproof-active-challenge+passive/v2"


class Outcome(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    INCONCLUSIVE = "inconclusive"


class Reason(StrEnum):
    """Stable reason codes. Never change a meaning; add new ones."""

    PASSED = "liveness.passed"
    STEP_TIMEOUT = "liveness.step-timeout"
    WRONG_GESTURE = "liveness.wrong-gesture"
    FACE_LOST = "liveness.face-lost"
    FACE_CHANGED = "liveness.face-changed"
    MULTIPLE_FACES = "liveness.multiple-faces"
    PASSIVE_ATTACK = "liveness.presentation-attack"
    NO_FACE = "liveness.no-face"
    INCOMPLETE = "liveness.incomplete"
    SESSION_TIMEOUT = "liveness.session-timeout"
    UNTIMELY = "liveness.untimely-gesture"  # the right gesture, begun outside its window
    INSUFFICIENT = "liveness.insufficient-evidence"  # challenge done, no sign of life


@dataclass(frozen=True)
class LivenessResult:
    """`failed_step` is 1-based (as shown to the person); None unless a step failed."""

    outcome: Outcome
    reason: Reason
    message: str
    challenge: str
    method: str = METHOD
    steps_done: int = 0
    failed_step: int | None = None
    failed_gesture: Gesture | None = None
    decided_frame: int | None = None
    decided_at: float | None = None
    #: Which checks ran and produced a value (e.g. "challenge", "timed-window", "lids",
    #: "nonrigid", "moire", "comove"): the evidence says what was looked at.
    checks: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return self.outcome is Outcome.PASSED

    def to_dict(self) -> dict[str, object]:
        return {
            "outcome": self.outcome.value,
            "reason": self.reason.value,
            "message": self.message,
            "challenge": self.challenge,
            "method": self.method,
            "steps_done": self.steps_done,
            "failed_step": self.failed_step,
            "failed_gesture": self.failed_gesture.value if self.failed_gesture else None,
            "decided_frame": self.decided_frame,
            "decided_at": self.decided_at,
            "checks": list(self.checks),
        }
