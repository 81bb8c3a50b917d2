"""Eyelids from MediaPipe's iris landmark model, for blinks.

Why a second model: the 468-point face mesh barely moves its eyelid points when the eyes
close (docs/capture-liveness.md), so the eye aspect ratio taken from it misses blinks,
and the pixel "eye contrast" that replaced it also falls when a person looks down. The iris
landmark model is made for the eye region: from a 64x64 crop around one eye it returns 71
eye-contour points (both lids and the brow) and 5 iris points, and its lids do follow the
eye shut. It ships in the same registry wheel as the detector and the mesh
(firmware/models/manifest.json, `iris_landmark`), and is loaded only after its digest was
checked, like every measured model.

The crop follows MediaPipe's iris_landmark_cpu graph as the wheel documents it: a square
2.3 times the eye-corner distance around the corners' midpoint, rotated so the corners are
level, values scaled to 0..1, and the subject's left eye mirrored so that both eyes look
like a right eye to the model. Points come back in crop pixels and are mapped to image
pixels through the inverse of the same transform. Nothing of the frame is kept: the crop
and the input tensor are wiped after each call.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from edge.liveness.errors import LandmarkError

#: Eye corners in the face mesh, per eye: (first, second) as the model's crop expects
#: them, and whether that eye is mirrored. Subject's right eye (image left when unmirrored):
#: 33 outer, 133 inner; subject's left eye: 362 inner, 263 outer (mirrored).
EYES: dict[str, tuple[int, int, bool]] = {"right": (33, 133, False), "left": (362, 263, True)}
ROI_SCALE = 2.3
CONTOUR_POINTS = 71
IRIS_POINTS = 5
#: Contour layout (mesh indices for the right eye): 0 and 8 the corners (33, 133), 1-7 the
#: lower lid (7, 163, 144, 145, 153, 154, 155), 9-15 the upper lid (246, 161, 160, 159,
#: 158, 157, 173), each from the first corner to the second; the rest is the brow and
#: outer rings. The middle five lid pairs carry the opening.
CORNERS = (0, 8)
LOWER_MID = (2, 3, 4, 5, 6)
UPPER_MID = (10, 11, 12, 13, 14)


@dataclass(frozen=True)
class EyeLids:
    """One eye, measured in its own frame (the corner line), in units of the corner distance.

    `opening`: mean perpendicular distance between the middle upper and lower lid points
    (about 0.25-0.35 open, under 0.1 shut). `iris_drop`: how far below the corner line the
    iris centre sits (positive downwards in the face), which rises when the person looks
    down and not in a blink. `width`: the corner distance in pixels."""

    opening: float
    iris_drop: float
    width: float


def eye_transform(corner_a: NDArray[np.float64], corner_b: NDArray[np.float64], size: int,
                  mirror: bool) -> NDArray[np.float64]:  # fmt: skip
    """2x3 map from image pixels to the size x size eye crop."""
    d = corner_b - corner_a
    dist = float(np.hypot(d[0], d[1]))
    if dist < 1e-6:
        raise LandmarkError("eye corners coincide")
    theta = float(np.arctan2(d[1], d[0]))
    c, s = np.cos(theta), np.sin(theta)
    k = size / (dist * ROI_SCALE)
    lin = k * np.array([[c, s], [-s, c]])
    centre = (corner_a + corner_b) / 2.0
    fwd = np.column_stack([lin, np.array([size / 2, size / 2]) - lin @ centre])
    if mirror:
        flip = np.array([[-1.0, 0.0, float(size)], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
        fwd = (flip @ np.vstack([fwd, [0.0, 0.0, 1.0]]))[:2]
    return fwd


def lids_from_contour(contour: NDArray[np.float64], iris: NDArray[np.float64]) -> EyeLids:
    """Measure one eye from its contour (71, 2) and iris (5, 2) points in image pixels."""
    a, b = contour[CORNERS[0]], contour[CORNERS[1]]
    d = b - a
    width = float(np.hypot(d[0], d[1]))
    if width < 1e-6 or not (np.isfinite(contour).all() and np.isfinite(iris).all()):
        raise LandmarkError("degenerate eye contour")
    u = d / width
    n = np.array([-u[1], u[0]])  # perpendicular to the corner line
    up = contour[list(UPPER_MID)] @ n
    low = contour[list(LOWER_MID)] @ n
    opening = float(np.mean(np.abs(low - up))) / width
    mid = (a + b) / 2.0
    # Downwards in the face: the side of the line where the lower lid lies.
    down = 1.0 if float(np.mean(low - up)) >= 0 else -1.0
    drop = down * float((iris[0] - mid) @ n) / width
    return EyeLids(opening=opening, iris_drop=drop, width=width)


class IrisLandmarks:
    """The iris landmark model over both eyes of one face mesh."""

    def __init__(self, threads: int = 1) -> None:
        from edge.face import Model, verified_path

        self._model = Model(verified_path("iris_landmark", "landmarks"), threads)
        self.size = int(self._model.input_shape[1])

    def eyes(self, rgb: NDArray[np.uint8], mesh: NDArray[np.floating]) -> dict[str, EyeLids]:
        """Both eyes' lids for a (468, >=2) mesh in image pixels. Eyes whose crop falls
        mostly outside the frame are left out."""
        from edge.face import check_rgb, warp_affine, wipe

        check_rgb(rgb)
        xy = np.asarray(mesh, dtype=np.float64)
        if xy.ndim != 2 or xy.shape[0] != 468 or xy.shape[1] < 2 or not np.isfinite(xy).all():
            raise LandmarkError(f"a face mesh is a finite (468, 3) array, got {xy.shape}")
        xy = xy[:, :2]
        out: dict[str, EyeLids] = {}
        h, w = rgb.shape[:2]
        for name, (ia, ib, mirror) in EYES.items():
            a, b = xy[ia], xy[ib]
            centre = (a + b) / 2.0
            if not (0 <= centre[0] < w and 0 <= centre[1] < h):
                continue
            fwd = eye_transform(a, b, self.size, mirror)
            crop = warp_affine(rgb, fwd, self.size)
            tensor = crop.astype(np.float32)[None] / 255.0
            try:
                raw_contour, raw_iris = self._model.run(tensor)
            finally:
                wipe(crop)
                wipe(tensor)
            inv = np.linalg.inv(np.vstack([fwd, [0.0, 0.0, 1.0]]))[:2]
            contour = raw_contour.reshape(CONTOUR_POINTS, 3)[:, :2].astype(np.float64)
            iris = raw_iris.reshape(IRIS_POINTS, 3)[:, :2].astype(np.float64)
            contour = contour @ inv[:, :2].T + inv[:, 2]
            iris = iris @ inv[:, :2].T + inv[:, 2]
            try:
                out[name] = lids_from_contour(contour, iris)
            except LandmarkError:
                continue
        return out

    def scrub(self) -> None:
        """Run on zeros so the interpreter's tensors no longer hold the last eye."""
        self._model.scrub()
