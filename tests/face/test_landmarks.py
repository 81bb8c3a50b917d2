"""Face mesh: 468 points in image pixels that sit on the face the detector found."""

from __future__ import annotations

import numpy as np
from PIL import Image

from edge.face.detect import LEFT_EYE, NOSE_TIP, RIGHT_EYE, FaceDetector
from edge.face.landmarks import NUM_LANDMARKS, FaceMesh

# Mesh indices: nose tip, eye corners (subject's right eye: 33 outer, 133 inner; left: 263, 362).
NOSE, R_OUT, R_IN, L_OUT, L_IN = 1, 33, 133, 263, 362


def _check(lm: np.ndarray, det: object) -> None:
    k = det.keypoints  # type: ignore[attr-defined]
    iod = det.eye_distance  # type: ignore[attr-defined]
    assert lm.shape == (NUM_LANDMARKS, 3) and lm.dtype == np.float32
    assert np.linalg.norm(lm[NOSE, :2] - k[NOSE_TIP]) < 0.2 * iod
    right = (lm[R_OUT, :2] + lm[R_IN, :2]) / 2
    left = (lm[L_OUT, :2] + lm[L_IN, :2]) / 2
    assert np.linalg.norm(right - k[RIGHT_EYE]) < 0.2 * iod
    assert np.linalg.norm(left - k[LEFT_EYE]) < 0.2 * iod


def test_mesh_on_the_still(detector: FaceDetector, mesh: FaceMesh, still: np.ndarray) -> None:
    det = detector.detect(still)[0]
    lm, presence = mesh.landmarks_and_presence(still, det)
    assert presence > 0.9
    _check(lm, det)
    np.testing.assert_array_equal(mesh.landmarks(still, det), lm)


def test_mesh_follows_a_rotated_face(
    detector: FaceDetector, mesh: FaceMesh, still: np.ndarray
) -> None:
    """The crop is rotated upright from the eye line, so a tilted head still fits."""
    tilted = np.array(Image.fromarray(still).rotate(35, resample=Image.Resampling.BILINEAR))
    det = detector.detect(tilted)[0]
    lm, presence = mesh.landmarks_and_presence(tilted, det)
    assert presence > 0.5
    _check(lm, det)


def test_mesh_presence_is_low_without_a_face(
    detector: FaceDetector, mesh: FaceMesh, still: np.ndarray
) -> None:
    det = detector.detect(still)[0]
    blank = np.full_like(still, 128)
    _, presence = mesh.landmarks_and_presence(blank, det)
    assert presence < 0.5
