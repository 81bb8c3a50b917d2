"""The verification entry point: decisions, reasons, and the privacy properties."""

from __future__ import annotations

import dataclasses
import os
import sys
from enum import Enum
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageFilter

from edge.face.calibration import Decision, ScoreBand, default_calibration
from edge.face.errors import CalibrationError, ImageError
from edge.face.match import FaceMatcher, MatchResult, StageTimings, match_faces
from tests.shared import CLIP, FACES

from .conftest import read

pytestmark = pytest.mark.shared("data/faces", "data/video")


# Read at import where the shared data is there; where it is absent every test here is skipped.
_HERE = FACES.is_dir()
OBAMA = (
    [read(FACES / "fr_obama" / n) for n in ("obama.jpg", "obama1.jpg", "obama2.jpg")]
    if _HERE
    else []
)
LENNON = read(FACES / "of_lennon" / "lennon-1.jpg") if _HERE else np.zeros((1, 1, 3), np.uint8)


def test_same_person_matches(matcher: FaceMatcher) -> None:
    r = matcher.match(OBAMA[0], OBAMA[1:])
    assert r.decision is Decision.MATCH and r.score_band is ScoreBand.HIGH and r.reason is None
    assert r.threshold_id == matcher.calibration.threshold_id
    assert r.far == matcher.calibration.far
    assert (r.frames_given, r.frames_with_face, r.frames_usable, r.frames_used) == (2, 2, 2, 2)
    t = r.timings
    assert min(t.detect_ms, t.landmarks_ms, t.align_ms, t.embed_ms, t.scrub_ms) > 0
    assert t.total_ms >= t.detect_ms + t.embed_ms


def test_different_person_does_not_match(matcher: FaceMatcher, still: np.ndarray) -> None:
    r = matcher.match(still, OBAMA)
    assert r.decision is Decision.NO_MATCH and r.score_band is ScoreBand.LOW


def test_live_video_frames_match_the_still(matcher: FaceMatcher, still: np.ndarray) -> None:
    """Close-ups from the stage clip (a different camera, light and day) against the still."""
    from .conftest import opencv_peer

    opencv_peer()  # needs cv2 to decode the clip
    import cv2

    cap = cv2.VideoCapture(str(CLIP))
    frames = []
    for i in range(200):
        ok, bgr = cap.read()
        assert ok
        if i >= 90 and i % 10 == 0:
            frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    cap.release()
    r = matcher.match(still, frames)
    assert r.decision is Decision.MATCH, r
    assert r.frames_used == 3 and r.frames_usable >= 3


def test_chip_without_a_face_is_inconclusive(matcher: FaceMatcher) -> None:
    r = matcher.match(np.full((400, 300, 3), 200, np.uint8), OBAMA)
    assert (r.decision, r.score_band, r.reason) == (
        Decision.INCONCLUSIVE,
        ScoreBand.NONE,
        "chip.no-face",
    )


def test_low_quality_chip_is_inconclusive_not_a_guess(matcher: FaceMatcher) -> None:
    blurred = np.array(Image.fromarray(OBAMA[0]).filter(ImageFilter.GaussianBlur(6)))
    r = matcher.match(blurred, OBAMA[1:])
    assert (r.decision, r.reason) == (Decision.INCONCLUSIVE, "chip.low-quality")


def test_live_frame_problems_are_inconclusive(matcher: FaceMatcher) -> None:
    assert matcher.match(OBAMA[0], []).reason == "live.no-frames"
    blank = np.zeros((240, 320, 3), np.uint8)
    assert matcher.match(OBAMA[0], [blank, blank]).reason == "live.no-face"
    dark = (OBAMA[1].astype(np.float32) * 0.12).astype(np.uint8)
    r = matcher.match(OBAMA[0], [dark])
    assert (r.decision, r.reason, r.frames_with_face) == (
        Decision.INCONCLUSIVE,
        "live.low-quality",
        1,
    )


def test_bad_inputs_are_clear_errors(matcher: FaceMatcher) -> None:
    with pytest.raises(ImageError):
        matcher.match(np.zeros((10, 10, 3), np.uint8), OBAMA)
    with pytest.raises(ImageError):
        matcher.match(OBAMA[0], [np.zeros((100, 100), np.uint8)])
    with pytest.raises(ImageError) as e:
        matcher.match(OBAMA[0], [OBAMA[1]] * 65)
    assert e.value.code == "face.too-many-frames"


def test_calibration_for_another_model_is_refused() -> None:
    with pytest.raises(CalibrationError) as e:
        FaceMatcher("sface", calibration=default_calibration("mobilefacenet"))
    assert e.value.code == "face.calibration-model-mismatch"


def test_sface_is_a_configuration_choice() -> None:
    m = FaceMatcher("sface")
    assert m.calibration.model == "sface"
    assert m.match(OBAMA[0], OBAMA[1:]).decision is Decision.MATCH
    assert match_faces(OBAMA[0], [LENNON], m).decision is Decision.NO_MATCH


def _leaf_types(cls: type) -> set[Any]:
    out: set[Any] = set()
    for f in dataclasses.fields(cls):
        t = (
            f.type
            if not isinstance(f.type, str)
            else eval(f.type, vars(sys.modules[cls.__module__]))
        )
        if dataclasses.is_dataclass(t):
            out |= _leaf_types(t)
        else:
            out.add(t)
    return out


def test_result_carries_no_pixels_scores_or_embeddings(matcher: FaceMatcher) -> None:
    """Privacy: only enums, ids, counts, the FAR and timings leave the module."""
    assert _leaf_types(MatchResult) <= {Decision, ScoreBand, str, float, int, str | None}
    r = matcher.match(OBAMA[0], OBAMA[1:])
    for f in dataclasses.fields(r):
        value = getattr(r, f.name)
        assert not isinstance(value, np.ndarray | bytes | list)
    assert all(
        isinstance(getattr(r.timings, f.name), float) for f in dataclasses.fields(StageTimings)
    )
    assert {f.name for f in dataclasses.fields(MatchResult)}.isdisjoint({"score", "embedding"})
    assert all(
        isinstance(v, Enum | str | float | int | type(None) | StageTimings)
        for v in dataclasses.asdict(r).values()
        if not isinstance(v, dict)
    )


def test_intermediate_buffers_and_interpreters_are_wiped(matcher: FaceMatcher) -> None:
    """Every crop, landmark set and embedding made during a match is zero afterwards, and
    every interpreter's input tensor holds zeros (the scrub ran)."""
    seen: list[np.ndarray] = []
    pipeline = matcher.pipeline
    real_analyse, real_embed = pipeline.analyse, pipeline.embed

    def analyse(rgb: np.ndarray, clock: Any = None) -> Any:
        s = real_analyse(rgb, clock)
        if s is not None:
            seen.extend([s.aligned, s.landmarks, s.detection.keypoints])
        return s

    def embed(samples: Any, clock: Any = None) -> np.ndarray:
        e = real_embed(samples, clock)
        seen.append(e)
        return e

    pipeline.analyse, pipeline.embed = analyse, embed  # type: ignore[method-assign]
    try:
        r = matcher.match(OBAMA[0], OBAMA[1:])
    finally:
        del pipeline.analyse, pipeline.embed
    assert r.decision is Decision.MATCH
    assert len(seen) == 3 * 3 + 1
    assert all(not a.any() for a in seen)
    for model in (pipeline.detector._model, pipeline.mesh._model, pipeline.embedder._model):
        it = model.interpreter
        assert not it.get_tensor(model.input_index).any()


def test_match_writes_nothing_to_disk(matcher: FaceMatcher) -> None:
    """Privacy: no file is opened for writing while matching (audit hook on open)."""
    writes: list[Any] = []
    active = [True]

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if not active[0] or event != "open":
            return
        mode, flags = args[1], args[2]
        writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)
        )
        if writing:
            writes.append(args)

    sys.addaudithook(hook)
    try:
        matcher.match(OBAMA[0], OBAMA[1:])
    finally:
        active[0] = False
    assert writes == []


def test_chip_with_two_faces_uses_the_main_one(matcher: FaceMatcher, still: np.ndarray) -> None:
    """A second, smaller face beside the main one (a photo-in-photo) does not take over."""
    side = np.array(
        Image.fromarray(OBAMA[0]).resize((OBAMA[0].shape[1] // 4, OBAMA[0].shape[0] // 4))
    )
    canvas = np.full((800, 1000, 3), 90, np.uint8)
    canvas[100 : 100 + still.shape[0], 250 : 250 + still.shape[1]] = still
    canvas[: side.shape[0], : side.shape[1]] = side
    assert len(matcher.pipeline.detector.detect(canvas)) >= 1
    r = matcher.match(canvas, [still])
    assert r.decision is Decision.MATCH


def test_tiny_chip_face_is_inconclusive(matcher: FaceMatcher, still: np.ndarray) -> None:
    tiny = np.array(Image.fromarray(still).resize((100, 87), Image.Resampling.BOX))
    canvas = np.full((160, 200, 3), 100, np.uint8)
    canvas[30:117, 50:150] = tiny
    r = matcher.match(canvas, [still])
    assert r.decision is Decision.INCONCLUSIVE
    assert r.reason in {"chip.low-quality", "chip.no-face"}


def test_match_faces_can_wipe_its_inputs(matcher: FaceMatcher, still: np.ndarray) -> None:
    frames = [OBAMA[1].copy()]
    chip = OBAMA[0].copy()
    r = match_faces(chip, frames, matcher, wipe_inputs=True)
    assert r.decision is Decision.MATCH
    assert not chip.any() and not frames[0].any()
    with pytest.raises(ImageError):
        match_faces(still, [np.zeros((4, 4), np.uint8)], matcher, wipe_inputs=True)
    assert not still.any()  # wiped even though the call failed


def test_small_jpeg2000_chip_photo_matches_the_live_face(
    matcher: FaceMatcher, still: np.ndarray
) -> None:
    """A DG2-like chip photo: 240 px wide, JPEG 2000 compressed to about 15 KB."""
    import io

    from edge.face.imaging import decode

    buf = io.BytesIO()
    Image.fromarray(still).resize((240, 209)).save(
        buf, "JPEG2000", quality_mode="rates", quality_layers=[20]
    )
    assert len(buf.getvalue()) < 20_000
    chip = decode(buf.getvalue())
    assert matcher.match(chip, [still]).decision is Decision.MATCH
    assert matcher.match(chip, [OBAMA[0]]).decision is Decision.NO_MATCH
