"""On-device face matching with TFLite: detection, landmarks, alignment, embedding, decision.

Public API (the contract with edge/liveness and the session, see docs/face.md):
`load_interpreter`, `FaceDetector`/`Detection`, `FaceMesh`, `align`, `Embedder`/`cosine`,
`wiped`, and the verification entry point `FaceMatcher.match` with its `MatchResult`; for
edge/liveness's iris model, `Model`, `verified_path`, `check_rgb` and `warp_affine`. Code
outside edge/face imports these names and nothing deeper (tests/test_architecture.py).
LiteRT is imported only when a model is first built, so importing this package is cheap.
"""

from __future__ import annotations

from edge.face.align import align, align_landmarks
from edge.face.buffers import WipeList, wipe, wiped
from edge.face.calibration import Calibration, Decision, ScoreBand, default_calibration
from edge.face.detect import Detection, FaceDetector
from edge.face.embed import DEFAULT_EMBEDDER, EMBEDDERS, Embedder, cosine, default_embedder
from edge.face.errors import (
    CalibrationError,
    EvaluationError,
    FaceError,
    ImageError,
    ModelError,
    RuntimeMissingError,
)
from edge.face.imaging import check_rgb, warp_affine
from edge.face.landmarks import FaceMesh
from edge.face.match import FaceMatcher, MatchResult, StageTimings, match_faces
from edge.face.models import model_digests, model_info, verified_path
from edge.face.runtime import Model, load_interpreter

__all__ = [
    "DEFAULT_EMBEDDER",
    "EMBEDDERS",
    "Calibration",
    "CalibrationError",
    "Decision",
    "Detection",
    "Embedder",
    "EvaluationError",
    "FaceDetector",
    "FaceError",
    "FaceMatcher",
    "FaceMesh",
    "ImageError",
    "MatchResult",
    "Model",
    "ModelError",
    "RuntimeMissingError",
    "ScoreBand",
    "StageTimings",
    "WipeList",
    "align",
    "align_landmarks",
    "check_rgb",
    "cosine",
    "default_calibration",
    "default_embedder",
    "load_interpreter",
    "match_faces",
    "model_digests",
    "model_info",
    "verified_path",
    "warp_affine",
    "wipe",
    "wiped",
]
