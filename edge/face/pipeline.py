"""One face through the stages: detect, landmarks, align, quality; then embed in batches.

Why one class: the verification (match.py), the evaluation tools (evaluate.py) and the
benchmark must measure the very same code path, stage by stage. Models are built once per
Pipeline and the interpreters are shared per process (runtime.load_interpreter).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from edge.face.align import SIZE, align_landmarks
from edge.face.buffers import wipe
from edge.face.detect import Detection, FaceDetector
from edge.face.embed import DEFAULT_EMBEDDER, Embedder
from edge.face.imaging import check_rgb
from edge.face.landmarks import FaceMesh
from edge.face.quality import Quality, QualityLimits, assess

STAGES = ("detect", "landmarks", "align", "quality", "embed")
#: A second detection (above the detector's score cut-off) at least this fraction of the
#: chosen face's box width counts as another person in frame (the same rule as liveness),
#: once the face mesh confirms it is a face: BlazeFace alone scored 0.70 on a printed seal
#: behind a speaker (../shared/data/faces/fr_obama/obama1.jpg; mesh presence 0.13).
SECOND_FACE_MIN_WIDTH = 0.5


@dataclass
class StageClock:
    """Milliseconds spent per stage (summed over calls), from a monotonic clock."""

    ms: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.ms[name] = self.ms.get(name, 0.0) + (time.perf_counter() - start) * 1000.0

    def total(self) -> float:
        return sum(self.ms.values())


@dataclass(frozen=True)
class FaceSample:
    """One analysed face. `aligned` and `landmarks` are buffers the caller wipes (`wipe_sample`)."""

    detection: Detection
    faces_found: int  # detections above the score cut-off
    persons: int  # of which large enough to be someone presenting (SECOND_FACE_MIN_WIDTH)
    aligned: np.ndarray
    landmarks: np.ndarray
    quality: Quality


def wipe_sample(sample: FaceSample) -> None:
    wipe(sample.aligned)
    wipe(sample.landmarks)
    wipe(sample.detection.keypoints)


class Pipeline:
    """Detector + face mesh + embedder, built once and reused for every image."""

    def __init__(
        self,
        embedder: str = DEFAULT_EMBEDDER,
        detector: Literal["short", "full"] = "short",
        threads: int = 1,
        min_score: float = 0.5,
        limits: QualityLimits | None = None,
    ) -> None:
        self.detector = FaceDetector(detector, threads=threads, min_score=min_score)
        self.mesh = FaceMesh(threads=threads)
        self.embedder = Embedder(embedder, threads=threads)
        self.limits = limits or QualityLimits()

    def analyse(self, rgb: np.ndarray, clock: StageClock | None = None) -> FaceSample | None:
        """The best face of one image with its quality, or None when no face is found."""
        clock = clock or StageClock()
        check_rgb(rgb)
        with clock.stage("detect"):
            found = self.detector.detect(rgb)
        if not found:
            return None
        best = found[0]
        persons = 1
        with clock.stage("landmarks"):
            for other in found[1:]:
                if other.width >= SECOND_FACE_MIN_WIDTH * best.width:
                    other_lm, other_presence = self.mesh.landmarks_and_presence(rgb, other)
                    wipe(other_lm)
                    persons += other_presence >= self.limits.min_presence
                wipe(other.keypoints)
            lm, presence = self.mesh.landmarks_and_presence(rgb, best)
        with clock.stage("align"):
            crop = align_landmarks(rgb, lm, np.zeros((SIZE, SIZE, 3), dtype=np.uint8))
        with clock.stage("quality"):
            quality = assess(best, crop, lm, self.limits, presence)
        return FaceSample(best, len(found), persons, crop, lm, quality)

    def embed(self, samples: Sequence[FaceSample], clock: StageClock | None = None) -> np.ndarray:
        """(n, dim) L2-normalised embeddings, a buffer the caller wipes."""
        clock = clock or StageClock()
        with clock.stage("embed"):
            return self.embedder.embed_many([s.aligned for s in samples])

    def scrub(self) -> None:
        """Overwrite every interpreter's tensors with the result of an all-zero input."""
        self.detector.scrub()
        self.mesh.scrub()
        self.embedder.scrub()
