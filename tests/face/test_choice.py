"""Which face, which model: one person in the capture, the licence-clean default, int8."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from PIL import Image

from edge.face.calibration import Decision, ScoreBand
from edge.face.embed import DEFAULT_EMBEDDER, UNLICENSED, UnlicensedModelWarning, default_embedder
from edge.face.models import manifest
from tests.shared import FACES

from .conftest import _require_runtime, read

pytestmark = pytest.mark.shared("data/faces", "data/video")


def _side_by_side(left: np.ndarray, right: np.ndarray, height: int = 320) -> np.ndarray:
    """Two photos scaled to one height on one canvas: two people in one frame."""
    parts = []
    for img in (left, right):
        h, w = img.shape[:2]
        parts.append(
            np.array(
                Image.fromarray(img).resize(
                    (round(w * height / h), height), Image.Resampling.BILINEAR
                )
            )
        )
    return np.concatenate(parts, axis=1)


def test_default_embedder_is_licence_clean() -> None:
    assert DEFAULT_EMBEDDER == default_embedder() == "sface_dr"
    info = manifest()[DEFAULT_EMBEDDER]
    assert info.licence.startswith("Apache-2.0")
    assert DEFAULT_EMBEDDER not in UNLICENSED


def test_unlicensed_embedder_warns() -> None:
    _require_runtime()
    from edge.face.embed import Embedder

    with pytest.warns(UnlicensedModelWarning, match="no licence"):
        Embedder("mobilefacenet")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Embedder("sface")


def test_second_person_in_frame_makes_the_match_inconclusive(matcher: object) -> None:
    from edge.face.match import FaceMatcher

    assert isinstance(matcher, FaceMatcher)
    obama = read(FACES / "fr_obama" / "obama.jpg")
    obama2 = read(FACES / "fr_obama" / "obama2.jpg")
    biden = read(FACES / "fr_biden" / "biden.jpg")
    alone = matcher.match(obama, [obama2])
    assert alone.decision is Decision.MATCH
    crowded = _side_by_side(obama2, biden)
    sample = matcher.pipeline.analyse(crowded)
    assert sample is not None and sample.persons == 2
    r = matcher.match(obama, [obama2, crowded])
    assert r.decision is Decision.INCONCLUSIVE and r.score_band is ScoreBand.NONE
    assert r.reason == "live.multiple-faces"


def test_a_face_like_pattern_is_not_a_second_person(matcher: object) -> None:
    """BlazeFace scores a printed seal behind the speaker 0.70; the mesh says no face."""
    from edge.face.match import FaceMatcher

    assert isinstance(matcher, FaceMatcher)
    seal = read(FACES / "fr_obama" / "obama1.jpg")
    sample = matcher.pipeline.analyse(seal)
    assert sample is not None and sample.faces_found == 2 and sample.persons == 1


def test_a_small_background_face_is_not_a_second_person(matcher: object) -> None:
    """Someone far behind (under half the width of the face in front) is not presenting."""
    from edge.face.match import FaceMatcher

    assert isinstance(matcher, FaceMatcher)
    front = read(FACES / "fr_obama" / "obama2.jpg")
    back = read(FACES / "fr_biden" / "biden.jpg")
    h, w = back.shape[:2]
    small = np.array(Image.fromarray(back).resize((w // 4, h // 4), Image.Resampling.BILINEAR))
    canvas = _side_by_side(front, np.full((h, w // 2, 3), 90, np.uint8))
    canvas[: small.shape[0], -small.shape[1] :] = small
    sample = matcher.pipeline.analyse(canvas)
    assert sample is not None and sample.persons == 1


def test_int8_embedder_follows_the_float_model(pipelines: dict[str, object]) -> None:
    """Full-integer SFace: int8 tensors in and out, embeddings close to the float model's."""
    from edge.face.pipeline import Pipeline

    fp, q8 = pipelines["sface"], pipelines["sface_int8"]
    assert isinstance(fp, Pipeline) and isinstance(q8, Pipeline)
    model = q8.embedder._model
    assert model.input_dtype == np.int8 and model.input_quant[0] > 0
    cos = []
    for path in sorted(FACES.glob("*/*.jpg"))[:12]:
        sample = fp.analyse(read(path))
        assert sample is not None
        a, b = fp.embed([sample])[0], q8.embed([sample])[0]
        assert abs(float(np.linalg.norm(b)) - 1.0) < 1e-4
        cos.append(float(np.dot(a, b)))
    assert min(cos) > 0.9 and float(np.mean(cos)) > 0.97, cos


def test_int8_weight_embedder_is_closer_still(pipelines: dict[str, object]) -> None:
    """Dynamic-range SFace (int8 weights, float activations): float tensors in and out."""
    from edge.face.pipeline import Pipeline

    fp, dr = pipelines["sface"], pipelines["sface_dr"]
    assert isinstance(fp, Pipeline) and isinstance(dr, Pipeline)
    assert dr.embedder._model.input_dtype == np.float32
    cos = []
    for path in sorted(FACES.glob("*/*.jpg"))[:12]:
        sample = fp.analyse(read(path))
        assert sample is not None
        cos.append(float(np.dot(fp.embed([sample])[0], dr.embed([sample])[0])))
    assert min(cos) > 0.99, cos
