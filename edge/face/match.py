"""The verification: chip photo against candidate live frames, on the device.

This is the entry point the session uses. Only a typed verdict leaves: the decision, the
threshold id and its false-accept rate, a coarse score band, a stable reason when
inconclusive, counts, and per-stage timings. No score, crop, landmark or embedding does.
Everything pixel- or embedding-bearing made here lives in a WipeList and is zero-filled
when the call ends (also on error); afterwards every interpreter is run once on zeros so
its tensor arena holds nothing of the person either. The caller owns and wipes its inputs
(`with wiped(chip, *frames): matcher.match(chip, frames)`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from edge.face.buffers import WipeList, wiped
from edge.face.calibration import Calibration, Decision, ScoreBand, default_calibration
from edge.face.embed import DEFAULT_EMBEDDER
from edge.face.errors import CalibrationError, ImageError
from edge.face.imaging import check_rgb
from edge.face.pipeline import FaceSample, Pipeline, StageClock

MAX_FRAMES = 64  # candidate frames per call; the capture ring buffer picks them


@dataclass(frozen=True)
class StageTimings:
    """Milliseconds per stage, summed over the chip photo and all candidate frames."""

    detect_ms: float
    landmarks_ms: float
    align_ms: float
    quality_ms: float
    embed_ms: float
    compare_ms: float
    scrub_ms: float
    total_ms: float


@dataclass(frozen=True)
class MatchResult:
    """The verdict. `reason` is a stable code when the decision is inconclusive."""

    decision: Decision
    threshold_id: str
    far: float
    score_band: ScoreBand
    reason: str | None
    frames_given: int
    frames_with_face: int
    frames_usable: int
    frames_used: int
    timings: StageTimings


class FaceMatcher:
    """Models and calibration, loaded once; `match` may be called for many verifications."""

    def __init__(
        self,
        embedder: str = DEFAULT_EMBEDDER,
        calibration: Calibration | None = None,
        detector: Literal["short", "full"] = "short",
        threads: int = 1,
        frames_to_use: int = 3,
    ) -> None:
        if frames_to_use < 1:
            raise ValueError("frames_to_use must be at least 1")
        self.pipeline = Pipeline(embedder, detector=detector, threads=threads)
        self.calibration = calibration or default_calibration(embedder)
        emb = self.pipeline.embedder
        if self.calibration.model != emb.name or self.calibration.model_sha256 != emb.sha256:
            raise CalibrationError(
                f"calibration {self.calibration.threshold_id} is for {self.calibration.model} "
                f"({self.calibration.model_sha256[:12]}), not {emb.name} ({emb.sha256[:12]})",
                code="face.calibration-model-mismatch",
            )
        self.frames_to_use = frames_to_use

    def match(self, chip_rgb: np.ndarray, live_frames: Sequence[np.ndarray]) -> MatchResult:
        """Compare the chip photo with the best of the live frames."""
        check_rgb(chip_rgb)
        if len(live_frames) > MAX_FRAMES:
            raise ImageError(
                f"{len(live_frames)} candidate frames, at most {MAX_FRAMES}",
                code="face.too-many-frames",
            )
        for frame in live_frames:
            check_rgb(frame)
        clock = StageClock()
        start = time.perf_counter()
        counts = [len(live_frames), 0, 0, 0]
        try:
            with WipeList() as keep:
                decision, band, reason = self._decide(chip_rgb, live_frames, clock, keep, counts)
        finally:
            with clock.stage("scrub"):
                self.pipeline.scrub()
        ms = clock.ms
        timings = StageTimings(
            detect_ms=ms.get("detect", 0.0),
            landmarks_ms=ms.get("landmarks", 0.0),
            align_ms=ms.get("align", 0.0),
            quality_ms=ms.get("quality", 0.0),
            embed_ms=ms.get("embed", 0.0),
            compare_ms=ms.get("compare", 0.0),
            scrub_ms=ms.get("scrub", 0.0),
            total_ms=(time.perf_counter() - start) * 1000.0,
        )
        cal = self.calibration
        return MatchResult(
            decision=decision,
            threshold_id=cal.threshold_id,
            far=cal.far,
            score_band=band,
            reason=reason,
            frames_given=counts[0],
            frames_with_face=counts[1],
            frames_usable=counts[2],
            frames_used=counts[3],
            timings=timings,
        )

    def _decide(
        self,
        chip_rgb: np.ndarray,
        live_frames: Sequence[np.ndarray],
        clock: StageClock,
        keep: WipeList,
        counts: list[int],
    ) -> tuple[Decision, ScoreBand, str | None]:
        def analysed(rgb: np.ndarray) -> FaceSample | None:
            sample = self.pipeline.analyse(rgb, clock)
            if sample is not None:
                keep(sample.aligned)
                keep(sample.landmarks)
                keep(sample.detection.keypoints)
            return sample

        inconclusive = Decision.INCONCLUSIVE, ScoreBand.NONE
        chip = analysed(chip_rgb)
        if chip is None:
            return *inconclusive, "chip.no-face"
        if not chip.quality.ok:
            return *inconclusive, "chip.low-quality"
        usable: list[FaceSample] = []
        crowded = 0
        for frame in live_frames:
            sample = analysed(frame)
            if sample is None:
                continue
            counts[1] += 1
            crowded += sample.persons > 1
            if sample.quality.ok:
                usable.append(sample)
        counts[2] = len(usable)
        if not live_frames:
            return *inconclusive, "live.no-frames"
        if crowded:
            # Exactly one person may be in the capture: with two faces in frame, someone
            # other than the holder could be the one presenting, so no verdict is given.
            return *inconclusive, "live.multiple-faces"
        if not usable:
            return *inconclusive, ("live.no-face" if counts[1] == 0 else "live.low-quality")
        best = sorted(usable, key=lambda s: s.quality.score, reverse=True)[: self.frames_to_use]
        counts[3] = len(best)
        emb = keep(self.pipeline.embed([chip, *best], clock))
        with clock.stage("compare"):
            # The live template is the mean of the best frames' embeddings: steadier than
            # any single frame, and one comparison keeps the calibrated FAR meaningful.
            live = keep(emb[1:].mean(axis=0))
            norm = float(np.linalg.norm(live))
            score = float(np.dot(emb[0], live) / norm) if norm > 0 else float("nan")
            decision, band = self.calibration.decide(score)
        reason = "score.borderline" if decision is Decision.INCONCLUSIVE else None
        return decision, band, reason


def match_faces(
    chip_rgb: np.ndarray,
    live_frames: Sequence[np.ndarray],
    matcher: FaceMatcher | None = None,
    *,
    wipe_inputs: bool = False,
) -> MatchResult:
    """Match with a given (or a freshly loaded default) matcher. With `wipe_inputs`, the
    chip photo and every frame are zero-filled when the call ends, whatever happens."""
    with wiped(*((chip_rgb, *live_frames) if wipe_inputs else ())):
        return (matcher or FaceMatcher()).match(chip_rgb, live_frames)
