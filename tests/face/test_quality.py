"""Quality: blurred, dark, tiny and turned faces are told apart from good ones."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

from edge.face.pipeline import Pipeline
from edge.face.quality import head_pose


def test_good_photo_passes(pipeline: Pipeline, still: np.ndarray) -> None:
    sample = pipeline.analyse(still)
    assert sample is not None and sample.quality.ok, sample.quality if sample else None
    assert abs(sample.quality.yaw) < 20 and abs(sample.quality.pitch) < 20
    assert 0.0 < sample.quality.score <= 1.0


def test_blurred_photo_is_flagged(pipeline: Pipeline, still: np.ndarray) -> None:
    blurred = np.array(Image.fromarray(still).filter(ImageFilter.GaussianBlur(6)))
    sample = pipeline.analyse(blurred)
    assert sample is not None
    assert "face.blurred" in sample.quality.failures


def test_dark_photo_is_flagged(pipeline: Pipeline, still: np.ndarray) -> None:
    dark = (still.astype(np.float32) * 0.15).astype(np.uint8)
    sample = pipeline.analyse(dark)
    assert sample is not None
    assert "face.exposure" in sample.quality.failures


def test_small_face_is_flagged(pipeline: Pipeline, still: np.ndarray) -> None:
    small = np.array(Image.fromarray(still).resize((100, 87), Image.Resampling.BOX))
    canvas = np.full((160, 200, 3), 100, np.uint8)
    canvas[30:117, 50:150] = small
    sample = pipeline.analyse(canvas)
    assert sample is not None
    assert sample.quality.eye_distance < 20
    assert "face.too-small" in sample.quality.failures


def _turn(points: np.ndarray, yaw_deg: float, pitch_deg: float) -> np.ndarray:
    y, p = np.radians(yaw_deg), np.radians(pitch_deg)
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    turned: np.ndarray = points @ (rx @ ry).T
    return turned


def test_head_pose_from_the_mesh(pipeline: Pipeline, still: np.ndarray) -> None:
    """Turning the measured mesh in 3-D by a known angle changes yaw/pitch by that angle."""
    sample = pipeline.analyse(still)
    assert sample is not None
    lm = sample.landmarks.astype(np.float64)
    centred = lm - lm.mean(axis=0)
    yaw0, pitch0 = head_pose(centred)
    yaw, pitch = head_pose(_turn(centred, 30.0, 0.0))
    assert abs(abs(yaw - yaw0) - 30.0) < 4.0 and abs(pitch - pitch0) < 4.0
    yaw, pitch = head_pose(_turn(centred, 0.0, 20.0))
    assert abs(abs(pitch - pitch0) - 20.0) < 4.0 and abs(yaw - yaw0) < 4.0


def test_low_mesh_presence_is_not_a_face(pipeline: Pipeline, still: np.ndarray) -> None:
    """A detector false positive shows as a low face-presence probability of the mesh."""
    from edge.face.quality import assess

    sample = pipeline.analyse(still)
    assert sample is not None and sample.quality.presence > 0.9
    q = assess(sample.detection, sample.aligned, sample.landmarks, presence=0.1)
    assert q.failures == ("face.not-a-face",)


def test_closed_eyes_are_flagged(pipeline: Pipeline, still: np.ndarray) -> None:
    """ISO/IEC 29794-5 eyes-open: moving each upper eyelid onto the lower one closes the eye."""
    from edge.face.quality import _EYES, assess, eye_openness

    sample = pipeline.analyse(still)
    assert sample is not None and "face.eyes-closed" not in sample.quality.failures
    assert 0.18 < sample.quality.eye_openness < 0.45
    closed = sample.landmarks.astype(np.float64).copy()
    for _, _, upper, lower in _EYES:
        closed[upper] = closed[lower] + np.array([0.0, -0.5, 0.0])
    assert eye_openness(closed) < 0.05
    q = assess(sample.detection, sample.aligned, closed, presence=1.0)
    assert "face.eyes-closed" in q.failures
