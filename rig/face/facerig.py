"""A face photo made to move: the project's own mesh renderer for the demo and the tests.

Why it exists: a recording cannot perform a challenge derived from a fresh nonce, and no
freely licensed clip of a person doing gestures on request exists (FACTS.md). So the demo's
subject is a still portrait brought to life by the device's own face mesh model
(firmware/models/face_landmark.tflite, 468 points with depth):

1. Once, on the photo: detect the face, fit the mesh, add a ring of head points (hair,
   ears, neck) and fixed points on the frame's border, and triangulate them all
   (Delaunay, OpenCV's Subdiv2D) on the photo's own pixel positions.
2. For each frame, deform the 3-D points (eyelids closed towards the lower lid for a
   blink, mouth corners out and up for a smile), rotate them about a vertical axis behind
   the face for a head turn (points with more depth move more: real parallax, the nose
   crosses the cheek), project orthographically, and draw the triangles far to near into a
   triangle-id buffer (so the near side of a turned face hides the far side). Every pixel
   then maps back, through its triangle's affine map, to a pixel of the photo
   (cv2.remap).
3. Camera-like: a little sensor noise, a small natural sway, nothing of a print or a
   screen (no border, no moire, no glare).

Everything stays in memory. This module is demo and test infrastructure (the rig package,
outside the device release); the device never imports it (rig/face/synthetic.py wraps it
as a FrameSource).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from edge.capture.errors import SourceFormatError, SourceNotFoundError

MEDIA = Path(__file__).resolve().parent / "media"
#: The demo's subject: Eileen Collins, NASA portrait, public domain (media/SOURCES.md).
SUBJECT_PHOTO = MEDIA / "astronaut.jpg"
#: Another person, for the "wrong person" chip: Grace Hopper, US Navy, public domain.
OTHER_PHOTO = MEDIA / "grace-hopper.jpg"

# MediaPipe face mesh eye contours (the same topology edge/liveness/signals.py reads):
# upper lid from outer to inner corner, lower lid in the same order.
_UPPER_LIDS = (
    (246, 161, 160, 159, 158, 157, 173),
    (466, 388, 387, 386, 385, 384, 398),
)
_LOWER_LIDS = (
    (7, 163, 144, 145, 153, 154, 155),
    (249, 390, 373, 374, 380, 381, 382),
)
_EYE_CORNERS = ((33, 133), (263, 362))
_MOUTH_CORNERS = (61, 291)

Image = NDArray[np.uint8]


@dataclass(frozen=True)
class Pose:
    """One frame's expression. `yaw` in degrees, > 0 the subject's own left (as the
    liveness signals measure it); `blink` 0 open to 1 closed; `smile` 0 the photo's own
    mouth, 1 a full smile, negative values relax it (corners drawn in)."""

    yaw: float = 0.0
    pitch: float = 0.0
    blink: float = 0.0
    smile: float = 0.0
    dx: float = 0.0
    dy: float = 0.0


def load_photo(path: str | Path) -> Image:
    """RGB pixels of a photo file (read once; nothing is written)."""
    from PIL import Image as PILImage

    p = Path(path)
    if not p.is_file():
        raise SourceNotFoundError(f"no photo at {p}")
    try:
        with PILImage.open(p) as im:
            return np.array(im.convert("RGB"), dtype=np.uint8, order="C")
    except OSError as exc:
        raise SourceFormatError(f"{p} is not an image Pillow can read: {exc}") from None


def frame_from_photo(
    photo: Image, size: tuple[int, int] = (640, 480), face_frac: float = 0.3
) -> Image:
    """Crop and scale a portrait to a camera frame with the face about `face_frac` of its
    width, placed where a person facing a kiosk camera usually is (centred, upper half)."""
    import cv2

    from edge.face import FaceDetector

    det = _one_face(FaceDetector("short"), photo)
    w, h = size
    x0, y0, x1, y1 = det.box
    scale = face_frac * w / max(x1 - x0, 1.0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    # Source rectangle that maps to the frame; the face centre lands at (w/2, 0.42 h).
    m = np.array([[scale, 0, w / 2 - scale * cx], [0, scale, 0.42 * h - scale * cy]])
    out = cv2.warpAffine(photo, m, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    return np.ascontiguousarray(out, dtype=np.uint8)


def _one_face(detector: Any, rgb: Image) -> Any:
    dets = detector.detect(rgb)
    if not dets:
        raise SourceFormatError("no face found in the photo")
    return dets[0]


class FaceRig:
    """The photo, its mesh and triangulation; `render(pose, out)` draws one frame."""

    def __init__(self, frame: Image) -> None:
        import cv2

        from edge.face import FaceDetector, FaceMesh

        self._cv2 = cv2
        self.frame = np.ascontiguousarray(frame, dtype=np.uint8)
        h, w = frame.shape[:2]
        self.size = (w, h)
        det = _one_face(FaceDetector("short"), self.frame)
        mesh = _smooth_outline_depth(FaceMesh().landmarks(self.frame, det).astype(np.float64))
        self.mesh = mesh
        centre = mesh[:, :2].mean(axis=0)
        face_w = float(np.ptp(mesh[:, 0]))
        self.face_width = face_w
        # Rotation axis: vertical, behind the face by about half a head's depth.
        self.axis_x = float(centre[0])
        self.axis_y = float(centre[1])
        self.axis_z = float(mesh[:, 2].mean() + 0.55 * face_w)
        hull_idx = cv2.convexHull(mesh[:, :2].astype(np.float32), returnPoints=False).ravel()
        hull_idx = hull_idx[:: max(1, len(hull_idx) // 24)]
        hull = mesh[hull_idx, :2]
        hull_z = mesh[hull_idx, 2]
        ring1 = centre + 1.22 * (hull - centre)  # hair, ears, jaw: the head itself
        ring2 = centre + 1.75 * (hull - centre)  # shoulders, background: barely moves
        border = _border_points(w, h, 8)
        ring1 = np.clip(ring1, 1, [w - 2, h - 2])
        ring2 = np.clip(ring2, 1, [w - 2, h - 2])
        n_mesh = len(mesh)
        pts3 = np.zeros((n_mesh + len(ring1) + len(ring2) + len(border), 3))
        pts3[:n_mesh] = mesh
        a = n_mesh
        pts3[a : a + len(ring1), :2] = ring1
        # The head ring turns with the face as one body (hair and ears at the depth of the
        # face's outline behind them); the background between it and the outer ring takes
        # up the stretch, as it would behind a real head.
        pts3[a : a + len(ring1), 2] = hull_z
        b = a + len(ring1)
        pts3[b : b + len(ring2), :2] = ring2
        pts3[b : b + len(ring2), 2] = self.axis_z
        c = b + len(ring2)
        pts3[c:, :2] = border
        pts3[c:, 2] = self.axis_z
        self.points = pts3
        #: How much each point follows the head: mesh 1, head ring 1, outer ring 0.15, border 0.
        self.follow = np.concatenate(
            [np.ones(n_mesh), np.ones(len(ring1)), np.full(len(ring2), 0.15), np.zeros(len(border))]
        )
        self.triangles = _delaunay(pts3[:, :2], w, h)
        self._is_face = (self.triangles < n_mesh).all(axis=1)
        s = pts3[self.triangles, :2]
        self._facing = np.sign(
            (s[:, 1, 0] - s[:, 0, 0]) * (s[:, 2, 1] - s[:, 0, 1])
            - (s[:, 2, 0] - s[:, 0, 0]) * (s[:, 1, 1] - s[:, 0, 1])
        )
        # The region any moving point can reach; outside it a frame equals the photo.
        box_pts = np.vstack([ring2, ring1])
        x0, y0 = np.floor(box_pts.min(axis=0)).astype(int) - 4
        x1, y1 = np.ceil(box_pts.max(axis=0)).astype(int) + 4
        self.roi = (max(0, x0), max(0, y0), min(w, x1), min(h, y1))
        rx0, ry0, rx1, ry1 = self.roi
        gy, gx = np.mgrid[ry0:ry1, rx0:rx1]
        self._gx = gx.astype(np.float32)
        self._gy = gy.astype(np.float32)
        self._ids = np.empty((ry1 - ry0, rx1 - rx0), np.int32)
        self._coef = np.zeros((len(self.triangles) + 1, 6), np.float32)
        self._coef[-1] = (1, 0, 0, 1, 0, 0)  # the identity, for uncovered pixels
        self._lids = self._lid_moves()
        self._smile = self._smile_moves()

    def _lid_moves(self) -> NDArray[np.float64]:
        """Per-point downward displacement that closes both eyes (blink = 1).

        Upper-lid points travel to the lower lid (90 % of the gap: lids meet a little
        below the middle, as real ones do); skin above them follows with a falloff, so the
        lid stretches over the eye instead of tearing."""
        m = self.mesh
        move = np.zeros((len(self.points), 2))
        for upper, lower, corners in zip(_UPPER_LIDS, _LOWER_LIDS, _EYE_CORNERS, strict=True):
            up = m[list(upper), :2]
            lo = m[list(lower), :2]
            gap = lo[:, 1] - up[:, 1]
            eye_w = float(abs(m[corners[0], 0] - m[corners[1], 0]))
            reach = 0.75 * eye_w
            xs_sorted = np.argsort(up[:, 0])
            for i in range(len(m)):
                x, y = m[i, 0], m[i, 1]
                if not (up[:, 0].min() - 0.1 * eye_w <= x <= up[:, 0].max() + 0.1 * eye_w):
                    continue
                lid_y = float(np.interp(x, up[xs_sorted, 0], up[xs_sorted, 1]))
                g = float(np.interp(x, up[xs_sorted, 0], gap[xs_sorted]))
                above = lid_y - y
                if -0.5 <= above <= reach:
                    w = 1.0 - max(above, 0.0) / reach
                    move[i, 1] = max(move[i, 1], 0.9 * g * w * w)
            for j, idx in enumerate(upper):
                move[idx, 1] = gap[j]
        return move

    def _smile_moves(self) -> NDArray[np.float64]:
        """Per-point displacement of a full smile: mouth corners out by 20 % of the mouth's
        width and up, the cheeks above them lifted a little."""
        m = self.mesh
        left, right = m[_MOUTH_CORNERS[0], :2], m[_MOUTH_CORNERS[1], :2]
        width = float(np.linalg.norm(right - left))
        mid = (left + right) / 2
        move = np.zeros((len(self.points), 2))
        for corner in (left, right):
            out = (corner - mid) / max(float(np.linalg.norm(corner - mid)), 1e-6)
            shift = out * 0.2 * width + np.array([0.0, -0.06 * width])
            d = np.linalg.norm(m[:, :2] - corner, axis=1)
            fall = np.clip(1 - d / (0.75 * width), 0, 1) ** 2
            move[: len(m)] += fall[:, None] * shift
        return move

    def project(self, pose: Pose) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Target 2-D positions and depths of every point for `pose`."""
        p = self.points.copy()
        p[:, :2] += pose.blink * self._lids + pose.smile * self._smile
        yaw, pitch = math.radians(pose.yaw), math.radians(pose.pitch)
        x = p[:, 0] - self.axis_x
        y = p[:, 1] - self.axis_y
        z = p[:, 2] - self.axis_z
        # Yaw about the vertical axis: positive turns the subject to their own left, which
        # in an unmirrored frame brings the nose (z < 0) towards the image's right.
        x2 = x * math.cos(yaw) - z * math.sin(yaw)
        z2 = x * math.sin(yaw) + z * math.cos(yaw)
        y2 = y * math.cos(pitch) - z2 * math.sin(pitch)
        z3 = y * math.sin(pitch) + z2 * math.cos(pitch)
        f = self.follow
        nx = self.axis_x + f * x2 + (1 - f) * x + f * pose.dx
        ny = self.axis_y + f * y2 + (1 - f) * y + f * pose.dy
        nz = self.axis_z + f * z3 + (1 - f) * z
        return np.column_stack([nx, ny]), nz

    def render(self, pose: Pose, out: Image) -> None:
        """Draw the frame for `pose` into `out` (same shape as the photo frame)."""
        cv2 = self._cv2
        dst, depth = self.project(pose)
        src = self.points[:, :2]
        tri = self.triangles
        rx0, ry0, rx1, ry1 = self.roi
        d = dst[tri]  # (T, 3, 2)
        area = (d[:, 1, 0] - d[:, 0, 0]) * (d[:, 2, 1] - d[:, 0, 1]) - (d[:, 2, 0] - d[:, 0, 0]) * (
            d[:, 1, 1] - d[:, 0, 1]
        )
        usable = np.abs(area) > 1e-3
        # Back-facing triangles (folded over by the turn: the far cheek behind the nose)
        # are drawn first, whatever their depth, so that every front-facing one covers them;
        # they only fill what nothing else covers.
        back = np.sign(area) != self._facing
        # Affine maps target -> source, one per triangle: solve [x y 1] A = [sx sy].
        ones = np.ones((len(tri), 3, 1))
        mat = np.concatenate([d, ones], axis=2)
        mat[~usable] = np.eye(3)
        sol = np.linalg.solve(mat, src[tri])  # (T, 3, 2)
        # One row of six affine coefficients per triangle (target pixel -> photo pixel),
        # and a last row, the identity, for pixels no triangle covers.
        n = len(tri)
        coef = self._coef
        coef[:n] = sol.reshape(n, 6)
        ids = self._ids
        ids.fill(n)
        # Layers: folded-over triangles, then the head's surroundings (any triangle with a
        # ring or border point), then the face mesh far to near: the face's own silhouette
        # always covers what lies around it, as a head in front of a wall does.
        order = np.lexsort((-depth[tri].mean(axis=1), self._is_face, ~back))
        shift = np.array([rx0, ry0], np.float64)
        polys = np.round((d - shift) * 16).astype(np.int32)
        for t in order[usable[order]]:
            cv2.fillConvexPoly(ids, polys[t], int(t), lineType=cv2.LINE_8, shift=4)
        a = coef[ids]  # (H, W, 6) float32
        gx, gy = self._gx, self._gy
        mx = a[..., 0] * gx + a[..., 2] * gy + a[..., 4]
        my = a[..., 1] * gx + a[..., 3] * gy + a[..., 5]
        out[...] = self.frame
        out[ry0:ry1, rx0:rx1] = cv2.remap(
            self.frame, mx, my, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
        )

    def wipe(self) -> None:
        """Zero the photo frame this rig holds (it is a face, even if a public one)."""
        self.frame.fill(0)


def _smooth_outline_depth(mesh: NDArray[np.float64], k: int = 8) -> NDArray[np.float64]:
    """Even out the mesh's depth along the face's outline.

    The model's outline points alternate a little in depth; turned by 30 degrees those
    differences become a saw-tooth silhouette on the far cheek. The outer band of points
    (beyond 80 % of the way from the centre to the hull, in each direction) takes the mean
    depth of its k nearest neighbours; the inner face keeps its shape."""
    import cv2

    out = mesh.copy()
    xy = mesh[:, :2]
    centre = xy.mean(axis=0)
    rel = xy - centre
    r = np.linalg.norm(rel, axis=1)
    angle = np.arctan2(rel[:, 1], rel[:, 0])
    hull = cv2.convexHull(xy.astype(np.float32), returnPoints=False).ravel()
    order = np.argsort(angle[hull])
    ha, hr = angle[hull][order], r[hull][order]
    edge = np.interp(angle, ha, hr, period=2 * np.pi)  # the hull's radius in each direction
    outer = r > 0.8 * edge
    d = np.linalg.norm(xy[:, None, :] - xy[None, :, :], axis=2)
    near = np.argsort(d, axis=1)[:, :k]
    for _ in range(3):
        z = out[:, 2].copy()
        out[outer, 2] = z[near[outer]].mean(axis=1)
    return out


def _border_points(w: int, h: int, n: int) -> NDArray[np.float64]:
    xs = np.linspace(0, w - 1, n + 1)
    ys = np.linspace(0, h - 1, n + 1)
    pts = [(x, 0.0) for x in xs] + [(x, h - 1.0) for x in xs]
    pts += [(0.0, y) for y in ys[1:-1]] + [(w - 1.0, y) for y in ys[1:-1]]
    return np.array(pts, np.float64)


def _delaunay(pts: NDArray[np.float64], w: int, h: int) -> NDArray[np.int64]:
    """Delaunay triangles over `pts` as index triples (OpenCV Subdiv2D)."""
    import cv2

    sub = cv2.Subdiv2D((-1, -1, w + 2, h + 2))
    index: dict[tuple[float, float], int] = {}
    for i, (x, y) in enumerate(pts):
        key = (float(np.float32(x)), float(np.float32(y)))
        if key in index:
            continue
        index[key] = i
        sub.insert((key[0], key[1]))
    out = []
    for t in sub.getTriangleList():
        corners = [(float(np.float32(t[k])), float(np.float32(t[k + 1]))) for k in (0, 2, 4)]
        if all(c in index for c in corners):
            out.append([index[c] for c in corners])
    return np.array(out, np.int64)
