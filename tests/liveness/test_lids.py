"""Blinks from eyelid geometry (iris.py and the blink detector), issue 14: robust from 6 to
30 fps (a blink may be one closed frame), a wink or a downward glance is not a blink."""

from __future__ import annotations

import math

import numpy as np
import pytest

from attest.challenge import Gesture
from edge.liveness.errors import LandmarkError, PolicyError
from edge.liveness.events import BlinkDetector, GestureDetectors, Sample, SignalPolicy
from edge.liveness.iris import CONTOUR_POINTS, eye_transform, lids_from_contour
from edge.liveness.signals import FaceSignals

OPEN, SHUT = 0.30, 0.05


def _signals(right: float, left: float, drop: float = -0.05, yaw: float = 0.0) -> FaceSignals:
    return FaceSignals(
        ear=0.3, ear_right=0.3, ear_left=0.3, mar=0.1, smile=1.0, yaw=yaw, pitch=0.0,
        scale=60.0, lids_right=right, lids_left=left, drop_right=drop, drop_left=drop,
    )  # fmt: skip


def _run(
    openings: list[tuple[float, float, float]], fps: float, policy: SignalPolicy | None = None
) -> list[tuple[int, int]]:
    """(right, left, iris drop) per frame at `fps`; returns blinks as (start, end) frames."""
    rng = np.random.default_rng(4)
    det = BlinkDetector(policy or SignalPolicy())
    out = []
    for i, (r, lf, d) in enumerate(openings):
        jitter = rng.normal(0, 0.006, 2)
        ev = det.update(i, i / fps, _signals(r + jitter[0], lf + jitter[1], d))
        if ev is not None:
            assert ev.gesture is Gesture.BLINK and ev.start_t is not None
            out.append((ev.start_frame, ev.end_frame))
    return out


def _timeline(fps: float, seconds: float, events: dict[float, tuple[float, float, float, float]]
              ) -> list[tuple[float, float, float]]:  # fmt: skip
    """Open eyes for `seconds`; `events`: start time -> (duration, right, left, drop)."""
    out = []
    for i in range(int(seconds * fps)):
        t = i / fps
        value = (OPEN, OPEN, -0.05)
        for start, (dur, r, lf, d) in events.items():
            if start <= t < start + dur:
                value = (r, lf, d)
        out.append(value)
    return out


@pytest.mark.parametrize("fps", [6.0, 7.5, 15.0, 30.0])
def test_a_blink_is_found_at_every_rate_even_as_one_closed_frame(fps: float) -> None:
    # A 150 ms blink: at 6 fps (167 ms between frames) it is at most one closed frame.
    blinks = _run(_timeline(fps, 6.0, {2.0: (0.15, SHUT, SHUT, -0.05),
                                       4.0: (0.15, SHUT, SHUT, -0.05)}), fps)  # fmt: skip
    assert len(blinks) == 2, blinks
    for (start, end), at in zip(blinks, (2.0, 4.0), strict=True):
        assert abs(start / fps - at) <= 1.0 / fps + 1e-9 and end > start


def test_a_half_closed_frame_caught_mid_blink_at_6_fps_counts() -> None:
    blinks = _run(_timeline(6.0, 5.0, {2.0: (0.1, 0.15, 0.15, -0.05)}), 6.0)
    assert len(blinks) == 1


def test_a_downward_glance_is_not_a_blink() -> None:
    # Looking down for 0.4 s: the lids drop to 60 % and the iris goes down with the gaze.
    glance = _timeline(30.0, 5.0, {2.0: (0.4, 0.18, 0.18, 0.08)})
    assert _run(glance, 30.0) == []
    assert _run(_timeline(6.0, 5.0, {2.0: (0.34, 0.18, 0.18, 0.08)}), 6.0) == []
    # The same lid movement with the iris staying where it was is a (slow) blink.
    assert len(_run(_timeline(30.0, 5.0, {2.0: (0.4, 0.08, 0.08, -0.05)}), 30.0)) == 1


def test_a_wink_or_a_long_closure_is_not_a_blink() -> None:
    assert _run(_timeline(30.0, 5.0, {2.0: (0.2, SHUT, OPEN, -0.05)}), 30.0) == []
    assert _run(_timeline(30.0, 5.0, {2.0: (1.5, SHUT, SHUT, -0.05)}), 30.0) == []


def test_the_baseline_is_the_persons_own() -> None:
    # Narrow eyes (opening 0.18) blink to 0.03: relative, not absolute thresholds.
    narrow = [(0.18 * r / OPEN, 0.18 * lf / OPEN, d)
              for r, lf, d in _timeline(15.0, 5.0, {2.0: (0.15, SHUT, SHUT, -0.05)})]  # fmt: skip
    assert len(_run(narrow, 15.0)) == 1


def test_frames_the_eyelid_model_skipped_neither_start_nor_end_a_blink() -> None:
    """The engine runs the eyelid model on every other frame at 30 fps; frames without it
    are skipped by the detector rather than judged by another measure."""
    det = GestureDetectors()
    found = []
    for i in range(150):
        t = i / 30.0
        shut = 60 <= i < 66
        if i % 2:
            s = FaceSignals(0.3, 0.3, 0.3, 0.1, 1.0, 0.0, 0.0, 60.0, 0.5, 0.5)  # contrast only
        else:
            s = _signals(SHUT if shut else OPEN, SHUT if shut else OPEN)
        found += det.update(Sample(i, t, s))
    assert [(e.gesture, e.start_frame) for e in found] == [(Gesture.BLINK, 60)]


def test_policy_rejects_a_glance_floor_above_the_closing_threshold() -> None:
    with pytest.raises(PolicyError):
        SignalPolicy(glance_floor=0.8)


def _eye(opening: float, iris_y: float) -> tuple[np.ndarray, np.ndarray]:
    """A level eye 40 px wide at (100, 50): corners, lids `opening` (in eye widths)."""
    c = np.zeros((CONTOUR_POINTS, 2))
    xs = np.linspace(80, 120, 9)
    c[0:9, 0], c[0:9, 1] = xs, 50 + opening * 20 * np.sin(np.linspace(0, math.pi, 9))
    c[9:16, 0] = xs[1:8]
    c[9:16, 1] = 50 - opening * 20 * np.sin(np.linspace(0, math.pi, 9))[1:8]
    iris = np.array([[100.0, 50 + iris_y]] * 5)
    return c, iris


def test_lid_opening_and_iris_drop_from_a_contour() -> None:
    c, iris = _eye(0.3, 0.0)
    lids = lids_from_contour(c, iris)
    assert lids.width == pytest.approx(40.0)
    assert 0.24 < lids.opening < 0.27  # lids 2 x 0.3 x 20 px x sin, middle five pairs
    shut = lids_from_contour(*_eye(0.02, 0.0))
    assert shut.opening < 0.05
    down = lids_from_contour(*_eye(0.3, 6.0))
    assert down.iris_drop == pytest.approx(6.0 / 40.0)  # image y grows downwards
    with pytest.raises(LandmarkError):
        lids_from_contour(np.zeros((CONTOUR_POINTS, 2)), iris)


def test_eye_crop_transform_maps_corners_level_and_mirrors_the_left_eye() -> None:
    a, b = np.array([100.0, 80.0]), np.array([140.0, 90.0])
    for mirror in (False, True):
        m = eye_transform(a, b, 64, mirror)
        pa, pb = m[:, :2] @ a + m[:, 2], m[:, :2] @ b + m[:, 2]
        assert pa[1] == pytest.approx(pb[1])  # level
        assert abs(pb[0] - pa[0]) == pytest.approx(64 / 2.3)
        assert bool(pb[0] < pa[0]) is mirror
        assert (pa + pb)[0] / 2 == pytest.approx(32.0)
    with pytest.raises(LandmarkError):
        eye_transform(a, a, 64, False)


def test_the_eyelid_model_refuses_a_malformed_mesh() -> None:
    from edge.liveness.iris import IrisLandmarks

    model = IrisLandmarks.__new__(IrisLandmarks)  # the checks run before any model call
    img = np.zeros((60, 80, 3), dtype=np.uint8)
    for mesh in (np.zeros((10, 3)), np.full((468, 3), np.inf)):
        with pytest.raises(LandmarkError):
            model.eyes(img, mesh)
