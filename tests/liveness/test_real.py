"""Liveness on real footage with the real models (edge.face): the shared clip and still."""

from __future__ import annotations

import io
import itertools
import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from attest.challenge import GESTURES, Gesture, derive_challenge, parse_challenge_spec
from edge.capture import CaptureSession, ErasureReport
from edge.capture.replay import FileReplaySource
from edge.liveness.engine import (
    MIN_PRESENCE,
    AnalysisReport,
    FaceModels,
    LivenessEngine,
    run_check,
)
from edge.liveness.events import GestureDetectors, GestureEvent, Sample
from edge.liveness.passive import Verdict
from edge.liveness.prompts import TextOverlay
from edge.liveness.result import Outcome, Reason
from edge.liveness.signals import face_signals
from edge.liveness.tracker import ChallengeTracker, Observation
from edgeproof_cli import main
from tests.liveness.conftest import CLIP

pytestmark = pytest.mark.shared("data/video")

#: What `edgeproof liveness analyze` finds in the clip's close-up (docs/capture-liveness.md):
#: the performer blinks and turns to his right, then turns to his right again. A fixed demo
#: challenge the clip performs.
DEMO_CHALLENGE = "turn_right,turn_right"
CLOSE_UP = (60, 211)


def _analyze(
    models: FaceModels,
    path: Path,
    challenge: Sequence[Gesture] | None = None,
    span: tuple[int, int | None] = (0, None),
) -> tuple[AnalysisReport, ErasureReport]:
    source = FileReplaySource(path, start_frame=span[0], end_frame=span[1])
    engine = LivenessEngine(models, challenge, frame_offset=span[0])
    with CaptureSession(source) as session:
        for frame in session.frames():
            engine.process(frame)
    try:
        return engine.report(), session.report
    finally:
        engine.wipe()


def test_clip_close_up_turns_right_twice(models: FaceModels) -> None:
    report, erasure = _analyze(models, CLIP, span=CLOSE_UP)
    turns = [(e.gesture, e.end_frame) for e in report.of(Gesture.TURN_LEFT, Gesture.TURN_RIGHT)]
    assert [g for g, _ in turns] == [Gesture.TURN_RIGHT, Gesture.TURN_RIGHT]
    assert 110 <= turns[0][1] <= 130 and 190 <= turns[1][1] <= 210
    # He lowers his lids as he starts the first turn, frames 115-117 by eye. The eyelid
    # model (iris.py) sees his right eye close to half its opening there and his left eye
    # (about 15 pixels wide, blurred by the turn) stay open, so it is not a both-eye blink;
    # should a later model see both, it must be there and nowhere else.
    blinks = [(e.start_frame, e.end_frame) for e in report.of(Gesture.BLINK)]
    assert len(blinks) <= 1
    assert all(113 <= b[0] <= 118 and b[1] <= 122 for b in blinks)
    assert report.passive.verdict is Verdict.LIVE  # non-rigid motion of a turning head
    assert report.frames == CLOSE_UP[1] - CLOSE_UP[0] and report.fps == pytest.approx(29.97, 0.01)
    assert erasure.complete and erasure.frames_captured == report.frames


def test_clip_performs_the_demo_challenge(models: FaceModels) -> None:
    report, _ = _analyze(models, CLIP, parse_challenge_spec(DEMO_CHALLENGE))
    assert report.result is not None and report.result.outcome is Outcome.PASSED, report.result


def test_replaying_the_clip_for_other_challenges_fails(models: FaceModels) -> None:
    """Every challenge derive_challenge can produce (36 sequences of 3) fails on the clip.

    The frames go through detection, mesh and gesture detectors once; the recorded stream
    then drives one challenge tracker per sequence (the same-face check, which only ever
    fails a run, is left out here and covered by the engine runs above)."""
    source = FileReplaySource(CLIP)
    stream: list[tuple[Observation, list[GestureEvent]]] = []
    detectors = GestureDetectors()
    with CaptureSession(source) as session:
        for frame in session.frames():
            dets = models.detector.detect(frame.pixels)
            signals = None
            if dets:
                mesh, presence = models.mesh.landmarks_and_presence(frame.pixels, dets[0])
                if presence >= MIN_PRESENCE:
                    signals = face_signals(mesh, frame.pixels)
            sample = Sample(frame.index, frame.timestamp, signals)
            faces = sum(1 for d in dets if d.width >= 0.5 * dets[0].width) if dets else 0
            stream.append((Observation(sample, faces), detectors.update(sample)))
    sequences = [c for c in itertools.product(GESTURES, repeat=3) if c[0] != c[1] != c[2]]
    assert len(sequences) == 36
    for challenge in sequences:
        tracker = ChallengeTracker(challenge)
        for obs, events in stream:
            if tracker.update(obs, events) is not None:
                break
        r = tracker.finish()
        assert r.outcome is Outcome.FAILED, (challenge, r)
        assert r.failed_step is not None and r.failed_gesture is not None
    # The one this clip does perform, through the same recorded stream:
    demo = ChallengeTracker(parse_challenge_spec(DEMO_CHALLENGE))
    for obs, events in stream:
        demo.update(obs, events)
    assert demo.finish().passed


def test_static_photo_replayed_as_video_fails(models: FaceModels, photo_replay: Path) -> None:
    challenge = derive_challenge(b"\x05" * 16)  # blink, turn_right, turn_left
    assert challenge[0] is Gesture.BLINK
    report, erasure = _analyze(models, photo_replay, challenge)
    assert report.frames_with_face > 200  # the face was seen: it just is not alive
    assert report.passive.verdict is Verdict.ATTACK, report.passive
    assert report.of(Gesture.BLINK, Gesture.TURN_LEFT, Gesture.TURN_RIGHT) == []
    r = report.result
    assert r is not None and r.outcome is Outcome.FAILED, r
    assert (r.failed_step, r.failed_gesture, r.reason) == (1, Gesture.BLINK, Reason.STEP_TIMEOUT)
    assert erasure.complete


def test_cli_analyze_json(models: FaceModels, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["liveness", "analyze", str(CLIP), "--json", "--start-frame", "60",
            "--end-frame", "211", "--challenge", "turn_left,smile"]  # fmt: skip
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"frames", "fps", "blinks", "head_turns", "verdict"} <= set(out)
    assert out["frames"] == 151 and out["verdict"] == "live"
    assert [t["direction"] for t in out["head_turns"]] == ["right", "right"]
    assert out["challenge"]["outcome"] == "failed"
    assert out["challenge"]["failed_gesture"] == "turn_left"
    assert main(["liveness", "analyze", "/nonexistent.mp4"]) == 2
    assert "capture.source-not-found" in capsys.readouterr().err


def test_live_check_shows_prompts_and_erases(models: FaceModels) -> None:
    prompts = io.StringIO()
    engine = LivenessEngine(
        models, parse_challenge_spec(DEMO_CHALLENGE), overlay=TextOverlay(prompts)
    )
    with CaptureSession(FileReplaySource(CLIP), buffer_frames=4) as session:
        result = run_check(session, engine)
    assert result.passed and result.reason is Reason.PASSED and result.decided_frame is not None
    # The check stops at the decision, long before the end of the recording.
    assert session.report.frames_captured == result.decided_frame + 1 < 275
    assert session.report.complete and session.report.ended_by == "consumer"
    lines = prompts.getvalue().splitlines()
    assert lines[0] == ">> Look at the camera"
    assert lines[1:3] == [
        ">> Step 1 of 2: Turn your head to your right, then back",
        ">> Step 2 of 2: Turn your head to your right, then back",
    ]
    assert lines[-1].startswith(">> passed")


def test_cli_check_on_a_replay(models: FaceModels, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["liveness", "check", "--source", f"replay:{CLIP}", "--challenge", DEMO_CHALLENGE,
            "--json"]  # fmt: skip
    assert main(args) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert out["liveness"]["outcome"] == "passed"
    assert out["liveness"]["method"].startswith("edgeproof-active-challenge")
    assert out["erasure"]["frames_captured"] == out["erasure"]["frames_erased"] > 100
    assert ">> Step 2 of 2: Turn your head to your right" in captured.err
    # A different challenge on the same recording: exit 1, with the failing step.
    assert main([*args[:4], "--challenge", "smile,blink", "--json"]) == 1
    failed = json.loads(capsys.readouterr().out)["liveness"]
    assert failed["outcome"] == "failed" and failed["failed_step"] == 1


def test_cli_check_without_a_camera(capsys: pytest.CaptureFixture[str]) -> None:
    import os

    n = next(i for i in range(90, 200) if not os.path.exists(f"/dev/video{i}"))
    assert main(["liveness", "check", "--source", f"v4l2:{n}", "--nonce", "00" * 16]) == 2
    assert "capture.camera-not-found" in capsys.readouterr().err


def test_a_blink_in_real_pixels_is_seen_by_eye_contrast_not_by_the_mesh(
    models: FaceModels, tmp_path: Path
) -> None:
    """The still, with its eyes shut by image editing for 4 frames (0.13 s) of a 1.1 s
    sequence of frames on disk, replayed through the real adapter and models."""
    import cv2

    from edge.face.imaging import read_image
    from edge.liveness.signals import face_signals
    from tests.liveness.conftest import STILL, close_eyes

    rgb = read_image(STILL)
    det = models.detector.detect(rgb)[0]
    mesh = models.mesh.landmarks(rgb, det)
    shut = close_eyes(rgb, mesh)
    open_s = face_signals(mesh, rgb)
    shut_s = face_signals(models.mesh.landmarks(shut, models.detector.detect(shut)[0]), shut)
    # The mesh hardly moves its lids (the reason for the contrast signal)...
    assert shut_s.ear > 0.9 * open_s.ear
    # ...while the pixels inside the eye contours lose most of their contrast.
    assert shut_s.contrast_right is not None and open_s.contrast_right is not None
    assert shut_s.contrast_right < 0.7 * open_s.contrast_right
    for i in range(34):
        frame = shut if 20 <= i < 24 else rgb
        cv2.imwrite(str(tmp_path / f"{i:03d}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    report, _ = _analyze(models, tmp_path)
    blinks = [(e.start_frame, e.end_frame) for e in report.of(Gesture.BLINK)]
    assert blinks == [(20, 24)]


def test_the_eyelid_model_measures_both_eyes_of_the_still(models: FaceModels) -> None:
    """The iris landmark model (a measured model, loaded through edge.face's digest check)
    on the real still: both eyes open at a plausible opening; with the eyes shut by image
    editing (a crude edit: skin stretched over the eye) both openings fall."""
    from edge.face.imaging import read_image
    from tests.liveness.conftest import STILL, close_eyes

    assert models.iris is not None
    rgb = read_image(STILL)
    mesh = models.mesh.landmarks(rgb, models.detector.detect(rgb)[0])
    eyes = models.iris.eyes(rgb, mesh)
    assert set(eyes) == {"right", "left"}
    for lids in eyes.values():
        assert 0.2 < lids.opening < 0.4 and abs(lids.iris_drop) < 0.2
        assert 40 < lids.width < 70  # pixels between the corners on this 704x612 still
    shut = close_eyes(rgb, mesh)
    shut_eyes = models.iris.eyes(shut, models.mesh.landmarks(shut, models.detector.detect(shut)[0]))
    for side in ("right", "left"):
        assert shut_eyes[side].opening < 0.85 * eyes[side].opening
    models.iris.scrub()


def test_the_sessions_liveness_step_shows_its_prompts(models: FaceModels) -> None:
    """edge/steps.py's CameraLiveStep hands its overlay to the engine, so the person sees
    the prompts (and any "not sure yet" re-prompt) within the step's deadline."""
    import time

    from attest.evidence import LivenessMethod
    from attest.evidence import Outcome as EvidenceOutcome
    from edge.steps import CameraLiveStep

    shown: list[str] = []

    class Recorder:
        def show(self, prompt: object) -> None:
            shown.append(getattr(prompt, "text", ""))

        def done(self, message: str) -> None:
            shown.append(message)

    step = CameraLiveStep(f"replay:{CLIP}", models, overlay=Recorder())
    gestures = parse_challenge_spec(DEMO_CHALLENGE)
    outcome, kept = step.run(gestures, LivenessMethod.ACTIVE_FIXED_DEMO, time.time() + 60)
    try:
        assert outcome.liveness.result is EvidenceOutcome.PASSED
        assert outcome.frames_erased == outcome.frames_captured > 0
        assert shown[0] == "Look at the camera"
        assert shown[1:3] == [
            "Step 1 of 2: Turn your head to your right, then back",
            "Step 2 of 2: Turn your head to your right, then back",
        ]
        assert shown[-1].startswith("passed")
    finally:
        kept.wipe()
