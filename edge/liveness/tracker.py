"""The active challenge as a state machine: prompts in order, each within a time window.

    waiting (a steady, frontal face for `settle_s`) -> step 1 -> ... -> step n -> passed

A step is done when the gesture detectors (events.py) report its gesture and that gesture
*began* within its window: no sooner than `min_reaction_s` after the prompt was shown
(nobody reacts faster; an earlier start was under way before the prompt) and no later than
`start_window_s` after it. The prompts' moments are unknown in advance (they follow the
person's own pace and the random challenge), so a recording of the right gestures at the
wrong moments fails. An early start is not counted (the person may simply redo it); a late
one fails the step (`liveness.untimely-gesture`). An unrequested head turn or smile fails
the step, so a recording that performs every gesture in some other order cannot pass;
blinks are involuntary and never count against the person. The windows are device-side
policy: the verifier sees the outcome in the signed evidence, not the timing. The
face may drop out of view only briefly, must stay the same face (by embedding, checked by
the caller and passed in as `same_face`), and must be alone in the frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from attest.challenge import Gesture, challenge_spec
from edge.liveness.errors import PolicyError
from edge.liveness.events import GestureEvent, Sample
from edge.liveness.prompts import PROMPT_TEXT, Prompt
from edge.liveness.result import LivenessResult, Outcome, Reason


@dataclass(frozen=True)
class ChallengePolicy:
    settle_s: float = 0.3
    frontal_deg: float = 15.0
    step_timeout_s: float = 6.0
    session_timeout_s: float = 30.0
    max_face_gap_s: float = 0.5
    multi_face_frames: int = 3
    #: A prompted gesture must begin within this long after its prompt is shown...
    start_window_s: float = 4.0
    #: ...and not sooner than this (human reaction time is about 0.2 s or more).
    min_reaction_s: float = 0.1

    def __post_init__(self) -> None:
        if not (
            0 <= self.min_reaction_s < self.start_window_s <= self.step_timeout_s
            and self.settle_s >= 0
            and 0 < self.frontal_deg < 90
            and 0 < self.step_timeout_s <= self.session_timeout_s
            and self.max_face_gap_s > 0
            and self.multi_face_frames >= 1
        ):
            raise PolicyError(f"inconsistent challenge policy: {self}")


@dataclass(frozen=True)
class Observation:
    """One frame for the tracker: the sample, how many faces were in view, and whether the
    tracked face still matches the first one (None when not checked on this frame)."""

    sample: Sample
    faces: int
    same_face: bool | None = None


class ChallengeTracker:
    def __init__(self, challenge: Sequence[Gesture], policy: ChallengePolicy | None = None) -> None:
        if not challenge:
            raise PolicyError("a challenge needs at least one step")
        self.challenge = tuple(challenge)
        self.spec = challenge_spec(self.challenge)
        self.policy = policy or ChallengePolicy()
        self._step = -1  # -1 waiting for a steady face; len(challenge) done
        self._step_started = 0.0
        self._settle_since: float | None = None
        self._first_t: float | None = None
        self._last_face_t: float | None = None
        self._seen_face = False
        self._multi = 0
        self._frame = 0
        self.result: LivenessResult | None = None

    @property
    def prompt(self) -> Prompt:
        n = len(self.challenge)
        if 0 <= self._step < n:
            return Prompt(self._step + 1, n, self.challenge[self._step])
        return Prompt(0, n, None)

    @property
    def steps_done(self) -> int:
        return max(self._step, 0)

    def _decide(
        self, outcome: Outcome, reason: Reason, message: str, t: float | None
    ) -> LivenessResult:
        failed = outcome is Outcome.FAILED and 0 <= self._step < len(self.challenge)
        self.result = LivenessResult(
            outcome=outcome,
            reason=reason,
            message=message,
            challenge=self.spec,
            steps_done=self.steps_done,
            failed_step=self._step + 1 if failed else None,
            failed_gesture=self.challenge[self._step] if failed else None,
            decided_frame=self._frame,
            decided_at=t,
        )
        return self.result

    def _fail(self, reason: Reason, message: str, t: float) -> LivenessResult:
        if 0 <= self._step < len(self.challenge):
            gesture = PROMPT_TEXT[self.challenge[self._step]].lower()
            message = f"step {self._step + 1} ({gesture}): {message}"
        return self._decide(Outcome.FAILED, reason, message, t)

    def update(
        self, obs: Observation, events: Sequence[GestureEvent] = ()
    ) -> LivenessResult | None:
        """Feed one frame and the events the detectors found in it; returns the result
        once decided (and the same result on every later call)."""
        if self.result is not None:
            return self.result
        p = self.policy
        t = obs.sample.t
        self._frame = obs.sample.frame
        if self._first_t is None:
            self._first_t = t
        active = self._step >= 0

        # Before the first prompt, someone else in view only delays the start.
        if active and obs.same_face is False:
            return self._fail(Reason.FACE_CHANGED, "a different face appeared", t)
        self._multi = self._multi + 1 if obs.faces >= 2 else 0
        if active and self._multi >= p.multi_face_frames:
            return self._fail(Reason.MULTIPLE_FACES, "more than one face in view", t)

        s = obs.sample.signals
        if s is None:
            if (
                active
                and self._last_face_t is not None
                and t - self._last_face_t > p.max_face_gap_s
            ):
                return self._fail(Reason.FACE_LOST, "the face left the camera's view", t)
            self._settle_since = None
        else:
            self._seen_face = True
            self._last_face_t = t

        if not active:
            if s is not None and abs(s.yaw) <= p.frontal_deg and obs.faces < 2:
                if self._settle_since is None:
                    self._settle_since = t
                if t - self._settle_since >= p.settle_s:
                    self._step, self._step_started = 0, t
                    return None
            else:
                self._settle_since = None
            if t - self._first_t > p.session_timeout_s:
                reason = Reason.SESSION_TIMEOUT if self._seen_face else Reason.NO_FACE
                return self._decide(
                    Outcome.INCONCLUSIVE, reason, "no steady, frontal face to start with", t
                )
            return None

        for ev in events:
            expected = self.challenge[self._step]
            if ev.gesture is expected:
                began = ev.start_t if ev.start_t is not None else ev.t
                if began - self._step_started < p.min_reaction_s:
                    continue  # already under way when the prompt appeared: not an answer
                if began - self._step_started > p.start_window_s:
                    return self._fail(
                        Reason.UNTIMELY,
                        f"began {began - self._step_started:.1f} s after the prompt "
                        f"(window {p.start_window_s:g} s)",
                        t,
                    )
                self._step += 1
                self._step_started = t
                if self._step == len(self.challenge):
                    return self._decide(
                        Outcome.PASSED, Reason.PASSED, "every step performed in order", t
                    )
            elif ev.gesture is not Gesture.BLINK:
                return self._fail(
                    Reason.WRONG_GESTURE, f"saw {ev.gesture.value} instead of {expected.value}", t
                )
        if t - self._step_started > p.step_timeout_s:
            return self._fail(
                Reason.STEP_TIMEOUT, f"not performed within {p.step_timeout_s:g} s", t
            )
        return None

    def finish(self) -> LivenessResult:
        """The stream ended: the result, or inconclusive if it ended before a decision."""
        if self.result is not None:
            return self.result
        t = self._last_face_t
        if not self._seen_face:
            return self._decide(Outcome.INCONCLUSIVE, Reason.NO_FACE, "no face was seen", t)
        where = f"during step {self._step + 1}" if self._step >= 0 else "before the first step"
        return self._decide(Outcome.INCONCLUSIVE, Reason.INCOMPLETE, f"the video ended {where}", t)
