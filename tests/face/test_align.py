"""Alignment: the similarity transform is exact, and crops put the face on the template."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edge.face.align import _TARGET, SIZE, align, alignment_matrix, similarity
from edge.face.detect import LEFT_EYE, MOUTH, NOSE_TIP, RIGHT_EYE, FaceDetector

from .conftest import labelled, opencv_peer, read

pytestmark = pytest.mark.shared("data/faces", "data/video")


def test_similarity_recovers_a_known_transform() -> None:
    rng = np.random.default_rng(1)
    src = rng.uniform(0, 300, (5, 2))
    angle, scale, shift = 0.4, 0.37, np.array([12.0, -7.5])
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = src @ rot.T + shift
    m = similarity(src, dst)
    np.testing.assert_allclose(m[:, :2], rot, atol=1e-9)
    np.testing.assert_allclose(m[:, 2], shift, atol=1e-9)


def test_similarity_rejects_degenerate_points() -> None:
    with pytest.raises(ValueError):
        similarity(np.ones((4, 2)), np.zeros((4, 2)))


@pytest.mark.parametrize(("identity", "path"), labelled()[::4], ids=lambda v: getattr(v, "name", v))
def test_keypoints_land_near_the_template(
    detector: FaceDetector, identity: str, path: Path
) -> None:
    rgb = read(path)
    det = detector.detect(rgb)[0]
    m = alignment_matrix(det)
    pts = det.keypoints[[RIGHT_EYE, LEFT_EYE, NOSE_TIP, MOUTH]].astype(np.float64)
    mapped = pts @ m[:, :2].T + m[:, 2]
    # Four points, four degrees of freedom: a least-squares fit, a few pixels of residual.
    assert np.abs(mapped - _TARGET).max() < 8.0
    crop = align(rgb, det)
    assert crop.shape == (SIZE, SIZE, 3) and crop.dtype == np.uint8
    assert crop[40:100, 30:82].std() > 10  # the face, not padding


def test_alignment_undoes_rotation(detector: FaceDetector, still: np.ndarray) -> None:
    upright = align(still, detector.detect(still)[0]).astype(np.float32)
    tilted_img = np.array(Image.fromarray(still).rotate(25, resample=Image.Resampling.BILINEAR))
    tilted = align(tilted_img, detector.detect(tilted_img)[0]).astype(np.float32)
    centre = slice(20, 92)
    corr = np.corrcoef(upright[centre, centre].ravel(), tilted[centre, centre].ravel())[0, 1]
    assert corr > 0.8


def test_align_writes_into_a_caller_buffer(detector: FaceDetector, still: np.ndarray) -> None:
    buf = np.zeros((SIZE, SIZE, 3), np.uint8)
    out = align(still, detector.detect(still)[0], buf)
    assert out is buf and buf.any()


def test_crop_matches_opencv_alignment_by_embedding(
    detector: FaceDetector, still: np.ndarray
) -> None:
    """Cross-check with OpenCV's own alignCrop (YuNet landmarks): SFace sees the same face."""
    yunet, sface = opencv_peer()
    import cv2

    bgr = cv2.cvtColor(still, cv2.COLOR_RGB2BGR)
    yunet.setInputSize((bgr.shape[1], bgr.shape[0]))
    _, faces = yunet.detect(bgr)
    theirs = sface.feature(sface.alignCrop(bgr, faces[0]))
    ours_crop = cv2.cvtColor(align(still, detector.detect(still)[0]), cv2.COLOR_RGB2BGR)
    ours = sface.feature(ours_crop)
    assert sface.match(theirs, ours, cv2.FaceRecognizerSF_FR_COSINE) > 0.8


def test_mesh_alignment_puts_five_points_on_the_template(
    pipeline: object, still: np.ndarray
) -> None:
    from edge.face.align import ARCFACE_TEMPLATE, align_landmarks, landmark_points

    sample = pipeline.analyse(still)  # type: ignore[attr-defined]
    assert sample is not None
    pts = landmark_points(sample.landmarks)
    m = similarity(pts, ARCFACE_TEMPLATE + 0.5)
    mapped = pts @ m[:, :2].T + m[:, 2]
    assert np.abs(mapped - (ARCFACE_TEMPLATE + 0.5)).max() < 5.0
    # The pipeline's crop is this one, and it is close to the detection-based crop.
    np.testing.assert_array_equal(sample.aligned, align_landmarks(still, sample.landmarks))
    by_det = align(still, sample.detection).astype(np.float32)
    corr = np.corrcoef(sample.aligned[20:92, 20:92].ravel(), by_det[20:92, 20:92].ravel())[0, 1]
    assert corr > 0.85
