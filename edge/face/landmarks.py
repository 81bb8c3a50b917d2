"""MediaPipe face mesh: 468 landmarks for pose (quality) and for liveness gestures.

Why the rotated crop: the mesh model expects an upright face filling a square 1.5 times the
detection box, as MediaPipe's face_landmark graph prepares it (rotation from the eye line,
SQUARE_LONG, scale 1.5). The landmarks come back in crop pixels and are mapped to image
pixels through the inverse of the same transform.
"""

from __future__ import annotations

import numpy as np

from edge.face.buffers import wipe
from edge.face.detect import LEFT_EYE, RIGHT_EYE, Detection
from edge.face.imaging import check_rgb, warp_affine
from edge.face.models import verified_path
from edge.face.runtime import Model

NUM_LANDMARKS = 468
_ROI_SCALE = 1.5


def roi_transform(detection: Detection, size: int) -> np.ndarray:
    """2x3 map from image pixels to the size x size mesh crop (eyes level, face centred)."""
    x0, y0, x1, y1 = detection.box
    centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
    side = max(x1 - x0, y1 - y0) * _ROI_SCALE
    eye = detection.keypoints[LEFT_EYE].astype(np.float64) - detection.keypoints[RIGHT_EYE]
    theta = float(np.arctan2(eye[1], eye[0]))
    c, s = np.cos(theta), np.sin(theta)
    k = size / side
    # Rotate by -theta about the centre, scale to the crop, move the centre to the middle.
    lin = k * np.array([[c, s], [-s, c]])
    return np.column_stack([lin, np.array([size / 2, size / 2]) - lin @ centre])


class FaceMesh:
    """The 468-point face landmark model."""

    def __init__(self, threads: int = 1) -> None:
        self._model = Model(verified_path("face_landmark", "landmarks"), threads)
        self.size = self._model.input_shape[1]

    def landmarks_and_presence(
        self, rgb: np.ndarray, detection: Detection
    ) -> tuple[np.ndarray, float]:
        """(468, 3) landmarks in image pixels (z: relative depth, same scale) and the model's
        face-presence probability (low when the crop holds no face)."""
        check_rgb(rgb)
        forward = roi_transform(detection, self.size)
        crop = warp_affine(rgb, forward, self.size)
        tensor = crop.astype(np.float32)[None] / 255.0
        try:
            raw, presence = self._model.run(tensor)
        finally:
            wipe(crop)
            wipe(tensor)
        pts = raw.reshape(NUM_LANDMARKS, 3).astype(np.float64)
        lin_inv = np.linalg.inv(forward[:, :2])
        xy = (pts[:, :2] - forward[:, 2]) @ lin_inv.T
        z = pts[:, 2] * float(np.sqrt(abs(np.linalg.det(lin_inv))))
        out = np.column_stack([xy, z]).astype(np.float32)
        p = float(1.0 / (1.0 + np.exp(-float(np.clip(presence.reshape(-1)[0], -100, 100)))))
        return out, p

    def landmarks(self, rgb: np.ndarray, detection: Detection) -> np.ndarray:
        """(468, 3) float32: x, y in image pixels, z relative depth (MediaPipe mesh topology)."""
        return self.landmarks_and_presence(rgb, detection)[0]

    def scrub(self) -> None:
        """Run on zeros so the interpreter's tensors no longer hold the last face."""
        self._model.scrub()
