"""Real models and real recordings, loaded or made once per test process."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.face.embed import DEFAULT_EMBEDDER
from edge.liveness.engine import FaceModels
from tests.rig import REPO, require
from tests.shared import CLIP, STILL, require_shared

__all__ = ["CLIP", "STILL"]
MODELS = REPO / "firmware" / "models"


@pytest.fixture(scope="session")
def models() -> FaceModels:
    for name in ("face_detection_short_range", "face_landmark", DEFAULT_EMBEDDER):
        require((MODELS / f"{name}.tflite").is_file(), f"model file {name}.tflite")
    return FaceModels.load()


def f32(points: object) -> np.ndarray:
    """Point arrays as OpenCV's geometry functions take them (float32)."""
    return np.asarray(points, dtype=np.float32)


def write_photo_replay(path: Path, seconds: float = 8.0, fps: float = 30.0) -> Path:
    """A recording of the still photo held up to the camera: moved, tilted and turned in
    front of a plain background (each frame a perspective warp of the photo), as an
    attacker holding a print would produce. Encoded as MPEG-4 like a real recording."""
    require_shared("data/video")
    photo = cv2.imread(str(STILL))
    assert photo is not None, STILL
    h, w = 360, 640
    ph, pw = photo.shape[:2]
    k = 300 / ph
    base = f32([[170, 30], [170 + pw * k, 30], [170 + pw * k, 330], [170, 330]])
    src = f32([[0, 0], [pw, 0], [pw, ph], [0, ph]])
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, (w, h))
    assert writer.isOpened()
    n = int(seconds * fps)
    for i in range(n):
        a = 2 * np.pi * i / 90
        tilt = 25 * np.sin(a)  # turning the print about its vertical axis
        d = f32([[tilt, -0.3 * tilt], [-tilt, 0.3 * tilt], [-tilt, -0.3 * tilt],
                 [tilt, 0.3 * tilt]])  # fmt: skip
        shift = f32([15 * np.sin(a / 2), 8 * np.cos(a / 3)])
        m = cv2.getPerspectiveTransform(src, base + d + shift)
        frame = cv2.warpPerspective(photo, m, (w, h), borderValue=(90, 100, 110))
        writer.write(frame)
    writer.release()
    return path


@pytest.fixture(scope="session")
def photo_replay(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_photo_replay(tmp_path_factory.mktemp("replay") / "photo.mp4")


RIGHT_EYE_RING = (33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7)
LEFT_EYE_RING = (362, 398, 384, 385, 386, 387, 388, 466, 263, 249, 390, 373, 374, 380, 381, 382)


def close_eyes(rgb: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """A copy of `rgb` with both eyes shut by image editing: the skin between brow and eye
    is stretched down over the eye to the lower lid, as a closing upper lid does."""
    out = rgb.copy()
    for ring in (RIGHT_EYE_RING, LEFT_EYE_RING):
        pts = landmarks[list(ring), :2]
        x0, x1 = int(pts[:, 0].min()) - 6, int(pts[:, 0].max()) + 6
        top, bottom = int(pts[:, 1].min()), int(pts[:, 1].max())
        y0 = top - 25
        skin = rgb[y0:top, x0:x1]
        out[y0 : bottom - 2, x0:x1] = cv2.resize(skin, (x1 - x0, bottom - 2 - y0))
    return out
