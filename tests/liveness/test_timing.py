"""The timed challenge and the re-prompt (issue 14): a gesture counts only if it begins
within its window after the prompt; a recording of the right gestures at the wrong
moments fails; a passed challenge with too little passive evidence asks again, and ends
inconclusive (never an attack) if the evidence never comes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

from attest.challenge import Gesture
from edge.face import Detection
from edge.liveness.engine import EngineConfig, FaceModels, LivenessEngine
from edge.liveness.errors import PolicyError
from edge.liveness.events import GestureEvent, Sample
from edge.liveness.passive import PassiveVerdict, Verdict
from edge.liveness.prompts import Prompt
from edge.liveness.result import LivenessResult, Outcome, Reason
from edge.liveness.signals import face_signals
from edge.liveness.tracker import ChallengePolicy, ChallengeTracker, Observation
from tests.liveness.synth import TURN_LEFT, Pose, frames, render, sequence, still, template

FPS = 30.0


def _tracker_run(
    challenge: tuple[Gesture, ...], gestures: dict[int, tuple[Gesture, int]], n: int
) -> tuple[Outcome, Reason, int]:
    """Feed `n` frontal frames; `gestures`: frame -> (gesture, frames since it began)."""
    tracker = ChallengeTracker(challenge)
    lm = render(template(), Pose())
    s = face_signals(lm)
    for i in range(n):
        t = i / FPS
        events = []
        if i in gestures:
            g, began = gestures[i]
            events.append(GestureEvent(g, i - began, i, t, 25.0, (i - began) / FPS))
        r = tracker.update(Observation(Sample(i, t, s), 1), events)
        if r is not None:
            return r.outcome, r.reason, i
    r = tracker.finish()
    return r.outcome, r.reason, n


def test_gestures_begun_inside_their_windows_pass() -> None:
    # Steady face for 0.3 s: prompt 1 at frame 9; each answer begins 0.5 s after its prompt.
    out = _tracker_run(
        (Gesture.TURN_LEFT, Gesture.SMILE),
        {9 + 15 + 6: (Gesture.TURN_LEFT, 6), 30 + 15 + 6: (Gesture.SMILE, 6)},
        200,
    )
    assert out[:2] == (Outcome.PASSED, Reason.PASSED)


def test_a_gesture_under_way_before_its_prompt_does_not_count() -> None:
    # The turn began at frame 5, before the prompt (frame 9): not an answer; nothing else
    # follows, so the step times out instead of passing.
    out = _tracker_run((Gesture.TURN_LEFT,), {12: (Gesture.TURN_LEFT, 7)}, 300)
    assert out[:2] == (Outcome.FAILED, Reason.STEP_TIMEOUT)


def test_a_gesture_begun_after_its_window_fails_the_step() -> None:
    late = 9 + int(4.5 * FPS)
    out = _tracker_run((Gesture.TURN_LEFT,), {late + 6: (Gesture.TURN_LEFT, 6)}, 400)
    assert out[:2] == (Outcome.FAILED, Reason.UNTIMELY)


def test_a_recording_of_the_right_gestures_at_its_own_pace_fails() -> None:
    """A replay performs turn_left then smile, 5 s apart, whatever the prompts do: the
    smile begins 5 s after its prompt, outside the 4 s window."""
    out = _tracker_run(
        (Gesture.TURN_LEFT, Gesture.SMILE),
        {9 + 15 + 6: (Gesture.TURN_LEFT, 6), 30 + 150 + 6: (Gesture.SMILE, 6)},
        400,
    )
    assert out[:2] == (Outcome.FAILED, Reason.UNTIMELY)


def test_window_policy_is_checked() -> None:
    with pytest.raises(PolicyError):
        ChallengePolicy(start_window_s=7.0)  # beyond the step timeout
    with pytest.raises(PolicyError):
        ChallengePolicy(min_reaction_s=5.0)


# --- the re-prompt, through the engine with stand-in models below the edge.face API ---


class _Detector:
    def detect(self, rgb: np.ndarray) -> list[Detection]:
        kp = np.array([[280, 160], [360, 160], [320, 200], [320, 230], [250, 170], [390, 170]],
                      dtype=np.float32)  # fmt: skip
        return [Detection((240.0, 100.0, 400.0, 280.0), 0.99, kp)]


@dataclass
class _Mesh:
    """Plays a list of synthetic meshes, one per call (a person, not a picture)."""

    meshes: list[np.ndarray]
    i: int = 0

    def landmarks_and_presence(self, rgb: np.ndarray, det: Detection) -> tuple[np.ndarray, float]:
        lm = self.meshes[min(self.i, len(self.meshes) - 1)].astype(np.float32).copy()
        self.i += 1
        return lm, 1.0


@dataclass
class _Overlay:
    shown: list[Prompt] = field(default_factory=list)
    done_msg: str = ""

    def show(self, prompt: Prompt) -> None:
        self.shown.append(prompt)

    def done(self, message: str) -> None:
        self.done_msg = message


@dataclass
class _Frame:
    index: int
    timestamp: float
    pixels: np.ndarray


def _engine(
    poses: list[dict[str, float]], verdicts: list[Verdict]
) -> tuple[LivenessEngine, _Overlay]:
    meshes = []
    for _, _, lm in frames(poses):
        m = lm.copy()
        m[:, :2] = (m[:, :2] - m[:, :2].mean(axis=0)) * 0.5 + np.array([320.0, 190.0])
        meshes.append(m)
    models = FaceModels(detector=_Detector(), mesh=_Mesh(meshes))  # type: ignore[arg-type]
    overlay = _Overlay()
    engine = LivenessEngine(models, (Gesture.TURN_LEFT,), overlay=overlay,
                            config=EngineConfig(reprompt_s=1.0))  # fmt: skip
    calls = iter(verdicts)

    def verdict() -> PassiveVerdict:
        v = next(calls, verdicts[-1])
        return PassiveVerdict(v, ("stand-in",), 60, 0.0, 0)

    engine.passive.verdict = verdict  # type: ignore[method-assign]
    return engine, overlay


def _play(engine: LivenessEngine, n: int) -> tuple[LivenessResult | None, int]:
    img = np.zeros((360, 640, 3), dtype=np.uint8)
    for i in range(n):
        r = engine.process(_Frame(i, i / FPS, img))  # type: ignore[arg-type]
        if r is not None:
            return r, i
    return engine.result(), n


def test_a_passed_challenge_without_passive_evidence_prompts_again_then_is_inconclusive() -> None:
    poses = sequence(still(20), TURN_LEFT, still(200))
    engine, overlay = _engine(poses, [Verdict.INCONCLUSIVE])
    result, _at = _play(engine, len(poses))
    assert result is not None
    assert result.outcome is Outcome.INCONCLUSIVE and result.reason is Reason.INSUFFICIENT
    extras = [p for p in overlay.shown if p.extra]
    assert [p.extra for p in extras] == [1, 2] and "blink or turn" in extras[0].text
    assert "challenge" in result.checks and "timed-window" in result.checks


def test_evidence_arriving_after_a_reprompt_passes() -> None:
    poses = sequence(still(20), TURN_LEFT, still(200))
    # Inconclusive when the challenge completes and a few frames after; then a blink.
    engine, overlay = _engine(poses, [Verdict.INCONCLUSIVE] * 5 + [Verdict.LIVE])
    result, _ = _play(engine, len(poses))
    assert result is not None and result.outcome is Outcome.PASSED, result
    assert any(p.extra for p in overlay.shown)


def test_attack_evidence_during_the_reprompt_fails() -> None:
    poses = sequence(still(20), TURN_LEFT, still(200))
    engine, _ = _engine(poses, [Verdict.INCONCLUSIVE] * 3 + [Verdict.ATTACK])
    result, _ = _play(engine, len(poses))
    assert result is not None and result.reason is Reason.PASSIVE_ATTACK


def test_a_stream_that_ends_during_the_reprompt_is_inconclusive() -> None:
    poses = sequence(still(20), TURN_LEFT, still(10))
    engine, _ = _engine(poses, [Verdict.INCONCLUSIVE])
    result, _ = _play(engine, len(poses))
    assert result is not None and result.outcome is Outcome.INCONCLUSIVE
    assert result.reason is Reason.INSUFFICIENT


def test_engine_config_is_checked() -> None:
    with pytest.raises(PolicyError):
        EngineConfig(reprompt_s=0.0)


def test_the_eyelid_model_runs_on_schedule_and_on_every_contrast_dip() -> None:
    from edge.liveness.signals import FaceSignals

    engine, _ = _engine(still(5), [Verdict.INCONCLUSIVE])

    def sig(contrast: float | None) -> FaceSignals:
        return FaceSignals(0.3, 0.3, 0.3, 0.1, 1.0, 0.0, 0.0, 60.0, contrast, contrast)

    runs = []
    for i in range(30):  # 1 s at 30 fps, eyes open: on schedule only (8 a second)
        due = engine._lids_due(i / FPS, sig(0.6))
        if due:
            engine._lids_t = i / FPS
        runs.append(due)
    assert 7 <= sum(runs) <= 9
    t = 30 / FPS
    assert engine._lids_due(t, sig(0.4))  # contrast dipped: the eyelids decide
    assert not engine._lids_due(t, sig(0.58)) or t - engine._lids_t >= 1 / 8
    assert engine._lids_due(t, sig(None))  # no contrast measured: always


def test_a_second_face_during_the_reprompt_fails() -> None:
    poses = sequence(still(20), TURN_LEFT, still(200))
    engine, _ = _engine(poses, [Verdict.INCONCLUSIVE])
    img = np.zeros((360, 640, 3), dtype=np.uint8)
    result = None
    two = [_Detector().detect(img)[0]] * 2
    for i in range(len(poses)):
        if engine.pending():
            engine.models.detector.detect = lambda rgb: two  # type: ignore[method-assign]
        result = engine.process(_Frame(i, i / FPS, img))  # type: ignore[arg-type]
        if result is not None:
            break
    assert result is not None and result.reason is Reason.MULTIPLE_FACES, result
    assert result.outcome is Outcome.FAILED
