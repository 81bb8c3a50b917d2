import numpy as np
import pytest

from edge.liveness.errors import LandmarkError
from edge.liveness.signals import FaceSignals, face_signals
from tests.liveness.synth import Pose, render, template

FACE = template()


def sig(**pose: float) -> FaceSignals:
    return face_signals(render(FACE, Pose(**pose)))


def test_frontal_face() -> None:
    s = sig()
    assert abs(s.yaw) < 1 and 0.25 < s.ear < 0.35 and s.scale == pytest.approx(108, rel=0.01)


@pytest.mark.parametrize("yaw", [-40.0, -20.0, 10.0, 25.0, 40.0])
def test_yaw_sign_and_size(yaw: float) -> None:
    assert sig(yaw=yaw).yaw == pytest.approx(yaw, abs=1.5)


def test_signals_ignore_roll_scale_and_position() -> None:
    base = sig(yaw=25)
    moved = sig(yaw=25, roll=25, scale=5, tx=40, ty=900)
    for name in ("yaw", "ear", "smile", "mar"):
        assert getattr(moved, name) == pytest.approx(getattr(base, name), abs=1e-3)


def test_blink_and_smile_and_pitch_move_their_signal() -> None:
    assert sig(eyes_closed=1).ear < 0.1 < 0.25 < sig().ear
    assert sig(smile=1).smile > 1.2 * sig().smile
    assert sig(pitch=15).pitch > sig().pitch + 5 > sig(pitch=-15).pitch + 10
    assert sig(smile=1).ear == pytest.approx(sig().ear)


def test_bad_arrays_are_rejected_with_a_code() -> None:
    good = render(FACE, Pose())
    for bad in (good[:100], good[:, :1], good.reshape(-1), np.array([["a"] * 3] * 468)):
        with pytest.raises(LandmarkError) as exc:
            face_signals(bad)
        assert exc.value.code == "liveness.bad-landmarks"
    nan = good.copy()
    nan[5, 0] = np.nan
    with pytest.raises(LandmarkError, match="NaN"):
        face_signals(nan)
    with pytest.raises(LandmarkError, match="degenerate"):
        face_signals(np.zeros((468, 3)))
    assert face_signals(good[:, :2]).yaw == pytest.approx(0, abs=1)
