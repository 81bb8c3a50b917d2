"""Per-frame signals from the 468-point face mesh (MediaPipe topology), as pure numpy.

Geometric signals are ratios of distances within one face, so they do not depend on the
face's size or position in the frame. One signal also looks at pixels: the eye contrast
(below), because the mesh model's eyelid points barely move when the eyes close. Head
pose comes from 2-D geometry only (where the nose tip sits between the two sides of the
face), not from the mesh's z, whose scale is only "roughly" that of x and y. Useful side
effect: a flat photo turned in front of the camera is foreshortened as a whole, so its nose
never moves relative to its cheeks and it cannot fake a head turn.

Directions are the subject's own: `yaw > 0` means the person turned to their left (their
left eye, mesh points 263/362, moving away from the camera), whether or not the display
mirrors the picture.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from edge.liveness.errors import LandmarkError
from edge.liveness.iris import EyeLids

# MediaPipe face mesh indices (canonical_face_model_uv_visualization).
# Eye aspect ratio points, Soukupová & Čech 2016: p1 and p4 the corners, p2/p6 and p3/p5
# the lid pairs. "Right" is the subject's right eye (image left in an unmirrored frame).
RIGHT_EYE = (33, 160, 158, 133, 153, 144)
LEFT_EYE = (362, 385, 387, 263, 373, 380)
EYE_OUTER = (33, 263)
MOUTH_CORNERS = (61, 291)
LIPS_INNER = (13, 14)
NOSE_TIP = 1
FACE_SIDES = (234, 454)  # face outline at eye level, subject's right then left
# The full eye contours (16 points each), used as the region for the eye contrast.
RIGHT_EYE_RING = (33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7)
LEFT_EYE_RING = (362, 398, 384, 385, 386, 387, 388, 466, 263, 249, 390, 373, 374, 380, 381, 382)
#: Eye regions smaller than this many pixels give no contrast (too few to measure).
MIN_EYE_PIXELS = 12
FOREHEAD, CHIN = 10, 152

#: Nose-tip protrusion over the half face width, in the model below (yaw = atan(r / k)).
#: Measured on frontal and turned faces from the mesh; see docs/capture-liveness.md.
NOSE_DEPTH_RATIO = 1.35
#: Where the nose tip sits between forehead (-1) and chin (+1) on a level, frontal face.
NOSE_LEVEL = 0.16
NOSE_PITCH_RATIO = 0.9

Landmarks = NDArray[np.floating]


@dataclass(frozen=True)
class FaceSignals:
    """One frame's measurements. `scale` is the outer-eye distance in pixels."""

    ear: float
    ear_right: float
    ear_left: float
    mar: float
    smile: float
    yaw: float
    pitch: float
    scale: float
    contrast_right: float | None = None
    contrast_left: float | None = None
    #: Eyelid opening per eye from the iris landmark model (iris.py, in units of the eye's
    #: corner distance), and how far the iris sits below the corner line (a downward
    #: glance raises it, a blink does not). None without that model.
    lids_right: float | None = None
    lids_left: float | None = None
    drop_right: float | None = None
    drop_left: float | None = None


def check_landmarks(landmarks: Landmarks) -> NDArray[np.float64]:
    """Parse at the boundary: (468, 3) (or (468, 2)), finite, not degenerate."""
    arr = np.asarray(landmarks)
    if arr.ndim != 2 or arr.shape[0] != 468 or arr.shape[1] not in (2, 3):
        raise LandmarkError(f"a face mesh is a (468, 3) array, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number):
        raise LandmarkError(f"a face mesh holds numbers, got {arr.dtype}")
    xy = arr[:, :2].astype(np.float64)
    if not np.isfinite(xy).all():
        raise LandmarkError("the face mesh holds NaN or infinite coordinates")
    if np.linalg.norm(xy[EYE_OUTER[1]] - xy[EYE_OUTER[0]]) < 1e-6:
        raise LandmarkError("the face mesh is degenerate (both eye corners in one place)")
    return xy


def _dist(xy: NDArray[np.float64], a: int, b: int) -> float:
    return float(np.linalg.norm(xy[a] - xy[b]))


def eye_aspect_ratio(xy: NDArray[np.float64], eye: tuple[int, ...]) -> float:
    """(|p2-p6| + |p3-p5|) / (2 |p1-p4|): about 0.3 open, near 0 closed."""
    p1, p2, p3, p4, p5, p6 = eye
    width = _dist(xy, p1, p4)
    return (_dist(xy, p2, p6) + _dist(xy, p3, p5)) / (2.0 * width) if width > 0 else 0.0


def _polygon_mask(poly: NDArray[np.float64], x0: int, y0: int, w: int, h: int) -> NDArray[np.bool_]:
    """Pixels (centres) of the box [x0, x0+w) x [y0, y0+h) inside `poly` (even-odd rule:
    a pixel is inside when a ray to its right crosses the outline an odd number of times)."""
    px = x0 + np.arange(w) + 0.5
    py = (y0 + np.arange(h) + 0.5)[None, :, None]
    a = poly[:, None, None, :]
    b = np.roll(poly, -1, axis=0)[:, None, None, :]
    ya, yb, xa, xb = a[..., 1], b[..., 1], a[..., 0], b[..., 0]
    crosses = (ya > py) != (yb > py)  # edges (n, 1, 1) against rows (1, h, 1)
    dy = np.where(ya == yb, 1.0, yb - ya)
    x_at = xa + (py - ya) * (xb - xa) / dy
    hits: NDArray[np.bool_] = np.logical_xor.reduce(crosses & (px < x_at), axis=0)
    return hits


def eye_contrast(
    rgb: NDArray[np.uint8], xy: NDArray[np.float64], ring: tuple[int, ...]
) -> float | None:
    """Luminance spread over mean inside one eye's contour: high while the dark iris and the
    white sclera show, lower once the eyelid covers them with skin. Why pixels: on the mesh
    model used here the lid points stay put when the eyes close (measured on edited photos:
    the EAR changed by under 2 %, this contrast fell by 40 %). None for a tiny region."""
    poly = xy[list(ring)]
    h_img, w_img = rgb.shape[:2]
    x0, y0 = np.floor(poly.min(axis=0)).astype(int)
    x1, y1 = np.ceil(poly.max(axis=0)).astype(int)
    x0, y0 = max(int(x0), 0), max(int(y0), 0)
    x1, y1 = min(int(x1), w_img), min(int(y1), h_img)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    mask = _polygon_mask(poly, x0, y0, x1 - x0, y1 - y0)
    if int(mask.sum()) < MIN_EYE_PIXELS:
        return None
    # ITU-R BT.601 luma, only for the pixels inside (a small temporary, wiped below).
    patch = rgb[y0:y1, x0:x1][mask].astype(np.float64)
    luma = patch @ np.array([0.299, 0.587, 0.114])
    try:
        mean = float(luma.mean())
        return float(luma.std()) / mean if mean > 1.0 else None
    finally:
        patch.fill(0)
        luma.fill(0)


def face_signals(
    landmarks: Landmarks,
    rgb: NDArray[np.uint8] | None = None,
    lids: Mapping[str, EyeLids] | None = None,
) -> FaceSignals:
    """All signals for one mesh; with the frame `rgb`, also the eye contrast; with `lids`
    (iris.IrisLandmarks.eyes), the eyelid openings. Raises LandmarkError for a malformed
    array."""
    xy = check_landmarks(landmarks)
    lid_r = lids.get("right") if lids else None
    lid_l = lids.get("left") if lids else None
    scale = _dist(xy, *EYE_OUTER)
    ear_r = eye_aspect_ratio(xy, RIGHT_EYE)
    ear_l = eye_aspect_ratio(xy, LEFT_EYE)
    mouth_w = _dist(xy, *MOUTH_CORNERS)
    mar = _dist(xy, *LIPS_INNER) / mouth_w if mouth_w > 0 else 0.0

    # Face axes from the image, so that head roll does not leak into yaw or pitch.
    u = (xy[EYE_OUTER[1]] - xy[EYE_OUTER[0]]) / scale  # towards the subject's left
    v = np.array([-u[1], u[0]])  # towards the chin
    side_r, side_l = float(xy[FACE_SIDES[0]] @ u), float(xy[FACE_SIDES[1]] @ u)
    half_w = (side_l - side_r) / 2.0
    nose_u = float(xy[NOSE_TIP] @ u) - (side_l + side_r) / 2.0
    r = nose_u / half_w if half_w > 1e-6 else 0.0
    yaw = math.degrees(math.atan(r / NOSE_DEPTH_RATIO))

    top, bottom = float(xy[FOREHEAD] @ v), float(xy[CHIN] @ v)
    half_h = (bottom - top) / 2.0
    nose_v = (float(xy[NOSE_TIP] @ v) - (top + bottom) / 2.0) / half_h if half_h > 1e-6 else 0.0
    pitch = math.degrees(math.atan((NOSE_LEVEL - nose_v) / NOSE_PITCH_RATIO))

    return FaceSignals(
        ear=(ear_r + ear_l) / 2.0,
        ear_right=ear_r,
        ear_left=ear_l,
        mar=mar,
        smile=mouth_w / scale,
        yaw=yaw,
        pitch=pitch,
        scale=scale,
        contrast_right=eye_contrast(rgb, xy, RIGHT_EYE_RING) if rgb is not None else None,
        contrast_left=eye_contrast(rgb, xy, LEFT_EYE_RING) if rgb is not None else None,
        lids_right=lid_r.opening if lid_r else None,
        lids_left=lid_l.opening if lid_l else None,
        drop_right=lid_r.iris_drop if lid_r else None,
        drop_left=lid_l.iris_drop if lid_l else None,
    )
