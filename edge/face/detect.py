"""BlazeFace face detection: letterboxing, SSD anchor decoding and weighted NMS.

Why written here rather than taken from a library: the decoding is small, and the device
must not depend on MediaPipe or TensorFlow. It follows MediaPipe's calculators
(ssd_anchors_calculator, tensors_to_detections_calculator, non_max_suppression_calculator
in WEIGHTED mode) with the options of the two BlazeFace graphs.

Which face to use matters more than which embedder: the best-first order first drops
detections under `min_score`, then prefers the face that is large and near the centre (a
background face with a high score must not win), see `_prominence`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from PIL import Image

from edge.face.buffers import wipe
from edge.face.imaging import check_rgb, pil_image
from edge.face.models import verified_path
from edge.face.runtime import Model

# Keypoint order of BlazeFace; "right" is the subject's right (left in an unmirrored photo).
RIGHT_EYE, LEFT_EYE, NOSE_TIP, MOUTH, RIGHT_EAR, LEFT_EAR = range(6)

_RAW_SCORE_LIMIT = 100.0  # MediaPipe's score_clipping_thresh
_NMS_IOU = 0.3  # MediaPipe's min_suppression_threshold for face detection


@dataclass(frozen=True)
class _SsdOptions:
    size: int
    strides: tuple[int, ...]
    two_per_cell: bool  # interpolated_scale_aspect_ratio == 1.0 adds a second anchor per cell


_OPTIONS = {
    "short": _SsdOptions(128, (8, 16, 16, 16), True),
    "full": _SsdOptions(192, (4,), False),
}
_MODEL_FILES = {"short": "face_detection_short_range", "full": "face_detection_full_range"}


def ssd_anchors(opts: _SsdOptions) -> np.ndarray:
    """(N, 2) anchor centres in [0, 1], in the order of the model's outputs (fixed anchor size)."""
    centres: list[np.ndarray] = []
    i = 0
    while i < len(opts.strides):
        stride = opts.strides[i]
        repeats = 0
        while i < len(opts.strides) and opts.strides[i] == stride:
            repeats += 2 if opts.two_per_cell else 1
            i += 1
        n = opts.size // stride
        ys, xs = np.meshgrid((np.arange(n) + 0.5) / n, (np.arange(n) + 0.5) / n, indexing="ij")
        grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
        centres.append(np.repeat(grid, repeats, axis=0))
    return np.concatenate(centres).astype(np.float32)


@dataclass(frozen=True)
class Detection:
    """One face: box (x0, y0, x1, y1) and 6 keypoints, all in image pixels."""

    box: tuple[float, float, float, float]
    score: float
    keypoints: np.ndarray  # (6, 2) float32

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    @property
    def eye_distance(self) -> float:
        """Distance between the eye centres in pixels: the usual measure of face resolution."""
        return float(np.linalg.norm(self.keypoints[LEFT_EYE] - self.keypoints[RIGHT_EYE]))


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    x0 = np.maximum(box[0], boxes[:, 0])
    y0 = np.maximum(box[1], boxes[:, 1])
    x1 = np.minimum(box[2], boxes[:, 2])
    y1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = area + areas - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def weighted_nms(
    boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray, iou: float = _NMS_IOU
) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """MediaPipe's weighted non-maximum suppression.

    Overlapping candidates (IoU above `iou` with the best remaining one) are merged into one
    detection whose box and keypoints are their score-weighted mean; the merged score is
    the best one's. BlazeFace fires on several neighbouring anchors per face, and averaging
    them gives steadier boxes and keypoints than keeping only the top anchor.
    """
    order = np.argsort(-scores, kind="stable")
    remaining = order
    out: list[tuple[np.ndarray, np.ndarray, float]] = []
    while remaining.size:
        top = remaining[0]
        overlap = _iou(boxes[top], boxes[remaining])
        group = remaining[overlap > iou]
        if group.size == 0:  # degenerate box: keep it alone
            group = remaining[:1]
        w = scores[group][:, None]
        box = (boxes[group] * w).sum(axis=0) / w.sum()
        kps = (keypoints[group] * w[:, :, None]).sum(axis=0) / w.sum()
        out.append((box, kps, float(scores[top])))
        remaining = remaining[~np.isin(remaining, group)]
    return out


def _prominence(det: Detection, width: int, height: int) -> float:
    """Larger and more central is better: face size, discounted by distance from the centre."""
    cx = (det.box[0] + det.box[2]) / 2 - width / 2
    cy = (det.box[1] + det.box[3]) / 2 - height / 2
    off_centre = float(np.hypot(cx, cy) / np.hypot(width / 2, height / 2))
    size = float(np.sqrt(max(det.width, 0.0) * max(det.height, 0.0)))
    return size * (1.0 - 0.5 * min(off_centre, 1.0))


class FaceDetector:
    """BlazeFace short-range (faces within about 2 m) or full-range (about 5 m)."""

    def __init__(
        self, model: Literal["short", "full"] = "short", threads: int = 1, min_score: float = 0.5
    ) -> None:
        if model not in _OPTIONS:
            raise ValueError(f"model must be 'short' or 'full', not {model!r}")
        if not 0.0 < min_score < 1.0:
            raise ValueError("min_score must be in (0, 1)")
        self.name = _MODEL_FILES[model]
        self._opts = _OPTIONS[model]
        self._model = Model(verified_path(self.name, "detector"), threads)
        self._anchors = ssd_anchors(self._opts)
        self.min_score = min_score
        self._logit_min = float(np.log(min_score / (1.0 - min_score)))

    def _letterbox(self, rgb: np.ndarray) -> tuple[np.ndarray, float, float, float]:
        """The model input (1, S, S, 3) in [-1, 1], and how to map back: scale, pad x, pad y."""
        h, w = rgb.shape[:2]
        s = self._opts.size
        scale = s / max(h, w)
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        px, py = (s - nw) // 2, (s - nh) // 2
        tensor = np.full((1, s, s, 3), -1.0, dtype=np.float32)
        im = pil_image(rgb)
        small = im.resize((nw, nh), Image.Resampling.BOX, reducing_gap=2.0)  # area average
        try:
            arr = np.asarray(small, dtype=np.float32)
            tensor[0, py : py + nh, px : px + nw] = arr / 127.5 - 1.0
            wipe(arr)
        finally:
            wipe(small)
            wipe(im)
        return tensor, scale, float(px), float(py)

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        """All faces with score >= min_score, best first (see module docstring)."""
        check_rgb(rgb)
        h, w = rgb.shape[:2]
        tensor, scale, px, py = self._letterbox(rgb)
        try:
            raw_boxes, raw_scores = self._model.run(tensor)
        finally:
            wipe(tensor)
        logits = np.clip(raw_scores.reshape(-1), -_RAW_SCORE_LIMIT, _RAW_SCORE_LIMIT)
        keep = np.flatnonzero(logits >= self._logit_min)
        if keep.size == 0:
            return []
        s = float(self._opts.size)
        pts = raw_boxes.reshape(-1, 8, 2)[keep] / s
        anchors = self._anchors[keep]
        centre = pts[:, 0] + anchors
        half = pts[:, 1] / 2
        boxes = np.concatenate([centre - half, centre + half], axis=1)
        kps = pts[:, 2:] + anchors[:, None, :]
        scores = 1.0 / (1.0 + np.exp(-logits[keep]))
        valid = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        merged = weighted_nms(boxes[valid], kps[valid], scores[valid])
        # From the letterboxed square (normalised) back to image pixels.
        offset = np.array([px, py], dtype=np.float64)
        dets = []
        for box, kp, score in merged:
            b = (box.reshape(2, 2) * s - offset) / scale
            b = np.clip(b, 0, [w, h])
            k = ((kp * s - offset) / scale).astype(np.float32)
            dets.append(
                Detection(
                    (float(b[0, 0]), float(b[0, 1]), float(b[1, 0]), float(b[1, 1])), score, k
                )
            )
        dets = [d for d in dets if d.width > 0 and d.height > 0]
        dets.sort(key=lambda d: _prominence(d, w, h), reverse=True)
        return dets

    def scrub(self) -> None:
        """Run on zeros so the interpreter's tensors no longer hold the last frame."""
        self._model.scrub()
