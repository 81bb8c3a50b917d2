"""Synthetic 468-point face meshes for unit tests of the pure liveness logic.

A 3-D face is built with the mesh points the signals use at anatomically plausible places
(eye corners and lids, mouth corners and lips, nose tip, face outline, forehead, chin) and
every other point on an ellipsoid over the face. Gestures move those points as a face does
(lids close, mouth corners widen, the head rotates in depth), and frames are projected
orthographically into pixels, with optional noise. Units: centimetres before scaling.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from edge.liveness.signals import NOSE_DEPTH_RATIO

_KEY: dict[int, tuple[float, float, float]] = {
    # right eye (subject's right = image left = -x): corners, upper lid, lower lid
    33: (-4.5, -1.0, 2.0), 133: (-1.5, -1.0, 2.5),
    160: (-3.5, -1.45, 2.3), 158: (-2.5, -1.45, 2.4), 144: (-3.5, -0.55, 2.3),
    153: (-2.5, -0.55, 2.4), 159: (-3.0, -1.5, 2.35), 145: (-3.0, -0.5, 2.35),
    # left eye
    263: (4.5, -1.0, 2.0), 362: (1.5, -1.0, 2.5),
    387: (3.5, -1.45, 2.3), 385: (2.5, -1.45, 2.4), 373: (3.5, -0.55, 2.3),
    380: (2.5, -0.55, 2.4), 386: (3.0, -1.5, 2.35), 374: (3.0, -0.5, 2.35),
    # nose, mouth, outline, forehead, chin
    1: (0.0, 2.0, 5.0), 4: (0.0, 1.7, 4.8),
    61: (-2.4, 4.2, 3.0), 291: (2.4, 4.2, 3.0), 13: (0.0, 4.0, 3.5), 14: (0.0, 4.3, 3.5),
    0: (0.0, 3.5, 3.6), 17: (0.0, 5.0, 3.4),
    # the outline sits as far behind the nose tip as the signals' head model assumes
    234: (-7.0, 0.0, 5.0 - 7.0 * NOSE_DEPTH_RATIO), 454: (7.0, 0.0, 5.0 - 7.0 * NOSE_DEPTH_RATIO),
    10: (0.0, -7.0, 2.0), 152: (0.0, 9.0, 2.0),
}  # fmt: skip
_UPPER_LIDS = (160, 158, 159, 387, 385, 386)
_LOWER_LIDS = (144, 153, 145, 373, 380, 374)
_EYE_LINE_Y = -1.0


def template(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pts = np.zeros((468, 3))
    theta = rng.uniform(-1.2, 1.2, 468)
    phi = rng.uniform(-1.0, 1.0, 468)
    pts[:, 0] = 7.0 * np.sin(theta)
    pts[:, 1] = 9.0 * np.sin(phi)
    pts[:, 2] = 4.0 * np.cos(theta) * np.cos(phi) - 1.0
    for i, p in _KEY.items():
        pts[i] = p
    return pts


@dataclass
class Pose:
    yaw: float = 0.0  # degrees, + = subject's left
    pitch: float = 0.0
    roll: float = 0.0
    eyes_closed: float = 0.0  # 0 open .. 1 shut
    wink: float = 0.0  # the subject's right eye only
    smile: float = 0.0  # 0 neutral .. 1 broad smile
    tx: float = 320.0
    ty: float = 240.0
    scale: float = 12.0  # pixels per cm


def render(face: np.ndarray, pose: Pose, rng: np.random.Generator | None = None,
           noise: float = 0.0) -> np.ndarray:  # fmt: skip
    """(468, 3) float32 landmarks in pixels for `face` in `pose`."""
    p = face.copy()
    for i in _UPPER_LIDS + _LOWER_LIDS:
        closed = max(pose.eyes_closed, pose.wink if p[i, 0] < 0 else 0.0)
        p[i, 1] = _EYE_LINE_Y + (p[i, 1] - _EYE_LINE_Y) * (1.0 - 0.9 * closed)
    for i in (61, 291):
        p[i, 0] *= 1.0 + 0.3 * pose.smile
        p[i, 1] -= 0.5 * pose.smile
    # z points at the camera. Yaw +: the nose moves towards the subject's left (+x) and
    # that side of the face turns away; pitch +: the nose moves up (-y).
    a = np.radians(pose.yaw)
    ry = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    b = np.radians(pose.pitch)
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    c = np.radians(pose.roll)
    rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    p = p @ (rz @ rx @ ry).T
    out = np.empty((468, 3), np.float32)
    out[:, 0] = pose.tx + pose.scale * p[:, 0]
    out[:, 1] = pose.ty + pose.scale * p[:, 1]
    out[:, 2] = pose.scale * -p[:, 2]
    if rng is not None and noise:
        out[:, :2] += rng.normal(0, noise, (468, 2)).astype(np.float32)
    return out


def ramp(
    key: str, peak: float, frames_in: int, hold: int, frames_out: int
) -> list[dict[str, float]]:
    """Pose changes for one gesture: ease in, hold, ease out."""
    up = [peak * (i + 1) / frames_in for i in range(frames_in)]
    down = [peak * (frames_out - i - 1) / frames_out for i in range(frames_out)]
    return [{key: v} for v in up + [peak] * hold + down]


def still(n: int) -> list[dict[str, float]]:
    return [{} for _ in range(n)]


BLINK = ramp("eyes_closed", 1.0, 2, 2, 2)  # ~0.2 s at 30 fps
TURN_LEFT = ramp("yaw", 35.0, 8, 8, 8)
TURN_RIGHT = ramp("yaw", -35.0, 8, 8, 8)
SMILE = ramp("smile", 1.0, 5, 10, 5)


def sequence(*parts: Iterable[dict[str, float]]) -> list[dict[str, float]]:
    out: list[dict[str, float]] = []
    for p in parts:
        out.extend(p)
    return out


def frames(
    poses: list[dict[str, float]], *, fps: float = 30.0, noise: float = 0.3, seed: int = 1
) -> Iterator[tuple[int, float, np.ndarray]]:
    """(frame, t, landmarks) for each pose delta applied to a neutral face."""
    face = template()
    rng = np.random.default_rng(seed)
    for i, delta in enumerate(poses):
        yield i, i / fps, render(face, Pose(**delta), rng, noise)
