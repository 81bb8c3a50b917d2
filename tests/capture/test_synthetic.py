"""The demo's synthetic camera: a live performer passes the nonce's challenge, a recording
of another challenge and a held-up print fail, and nothing is written anywhere."""

from __future__ import annotations

import numpy as np
import pytest

from attest.challenge import Gesture
from edge.capture.session import CaptureSession
from edge.liveness.engine import FaceModels, LivenessEngine, run_check
from rig.face.facerig import SUBJECT_PHOTO, FaceRig, Pose, frame_from_photo, load_photo
from rig.face.synthetic import Move, Performer, PerformerSource, PrintSource


@pytest.fixture(scope="module")
def models() -> FaceModels:
    return FaceModels.load()


@pytest.fixture(scope="module")
def rig() -> FaceRig:
    return FaceRig(frame_from_photo(load_photo(SUBJECT_PHOTO)))


def _check(
    models: FaceModels, source: object, challenge: tuple[Gesture, ...], overlay: object
) -> str:
    engine = LivenessEngine(models, challenge, overlay=overlay)  # type: ignore[arg-type]
    with CaptureSession(source) as session:  # type: ignore[arg-type]
        result = run_check(session, engine)
    return result.outcome.value


def test_a_turn_moves_the_nose_across_the_face(rig: FaceRig) -> None:
    """Real parallax: the nose tip (near) moves further than the face's outline (far)."""
    left, _ = rig.project(Pose(yaw=30))
    rest, _ = rig.project(Pose())
    nose, side = 1, 454
    assert left[nose, 0] - rest[nose, 0] > 2 * abs(left[side, 0] - rest[side, 0])


@pytest.mark.parametrize(
    "challenge",
    [
        (Gesture.SMILE, Gesture.TURN_LEFT, Gesture.BLINK),
        (Gesture.TURN_RIGHT, Gesture.SMILE, Gesture.TURN_LEFT),
    ],
)
def test_the_performer_answers_the_prompts(
    models: FaceModels, rig: FaceRig, challenge: tuple[Gesture, ...]
) -> None:
    performer = Performer(seed=7)
    assert _check(models, PerformerSource(rig, performer), challenge, performer) == "passed"
    assert [m.gesture for m in performer.moves] == list(challenge)


def test_a_blink_just_after_a_turn_is_not_taken_for_a_glance(
    models: FaceModels, rig: FaceRig
) -> None:
    """The demo's second person (seed 2) blinks as asked right after turning back: the
    eyelid model sees the lids at 0.39 of their opening, while the eye contrast averaged
    in stays at 0.58 and the iris centre seems to drop as the lid covers it. Judged on
    the mean, that was a downward glance; the lids' own measure says blink (CI once saw
    this live person fail with `liveness.untimely-gesture`)."""
    performer = Performer(seed=2)
    challenge = (Gesture.SMILE, Gesture.TURN_RIGHT, Gesture.BLINK)
    source = PerformerSource(rig, performer, seed=2)
    assert _check(models, source, challenge, performer) == "passed"


def test_a_recording_of_another_challenge_fails(models: FaceModels, rig: FaceRig) -> None:
    earlier = [
        Move(0.8, Gesture.TURN_LEFT),
        Move(2.6, Gesture.BLINK),
        Move(3.6, Gesture.TURN_RIGHT),
    ]
    replay = Performer.scripted(earlier)
    source = PerformerSource(rig, replay, max_seconds=10)
    assert (
        _check(models, source, (Gesture.TURN_RIGHT, Gesture.BLINK, Gesture.SMILE), replay)
        != "passed"
    )


def test_a_held_up_print_fails(models: FaceModels, rig: FaceRig) -> None:
    source = PrintSource(rig.frame, max_seconds=8)
    assert (
        _check(models, source, (Gesture.BLINK, Gesture.TURN_LEFT, Gesture.SMILE), None) != "passed"
    )


def test_sources_wipe_what_they_hold(rig: FaceRig) -> None:
    frame = rig.frame.copy()
    src = PrintSource(frame)
    out = np.zeros(src.format.shape, np.uint8)
    assert src.read_into(out) == 0.0 and out.any()
    src.close()
    assert src.read_into(out) is None
    assert not src._photo.any()


def test_the_performer_blinks_when_asked_again() -> None:
    """An engine may ask "blink or turn your head now" after the steps (Prompt.extra)."""

    class Again:
        gesture = None
        extra = 1

    performer = Performer(seed=3)
    performer.now = 4.0
    performer.show(Again())
    assert [(m.gesture, m.t) for m in performer.moves] == [(Gesture.BLINK, 4.45)]
    scripted = Performer.scripted([])
    scripted.show(Again())
    assert scripted.moves == []
