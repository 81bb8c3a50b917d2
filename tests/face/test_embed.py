"""Embedders: normalised vectors, batching, SFace equal to OpenCV's, and separation."""

from __future__ import annotations

import numpy as np
import pytest

from edge.face.align import align
from edge.face.embed import EMBEDDERS, Embedder, cosine
from edge.face.errors import ImageError

from .conftest import labelled, opencv_peer, read

pytestmark = pytest.mark.shared("data/faces", "data/video")


@pytest.fixture(scope="module")
def crops(pipeline: object) -> list[np.ndarray]:
    det = pipeline.detector  # type: ignore[attr-defined]
    out = []
    for _, path in labelled()[:7]:
        rgb = read(path)
        out.append(align(rgb, det.detect(rgb)[0]))
    return out


@pytest.mark.parametrize("name", EMBEDDERS)
def test_embeddings_are_unit_vectors_and_batch_independent(
    pipelines: dict[str, object], crops: list[np.ndarray], name: str
) -> None:
    emb: Embedder = pipelines[name].embedder  # type: ignore[attr-defined]
    many = emb.embed_many(crops)  # 7 faces: an odd count exercises MobileFaceNet's pairs
    assert many.shape == (len(crops), emb.dim) and many.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(many, axis=1), 1.0, atol=1e-5)
    for i in (0, 6):
        np.testing.assert_allclose(emb.embed(crops[i]), many[i], atol=1e-5)


def test_sface_tflite_equals_opencv_sface(
    pipelines: dict[str, object], crops: list[np.ndarray]
) -> None:
    """The converted model gives OpenCV's embeddings (int8 ONNX) on the same crops."""
    _, sface = opencv_peer()
    import cv2

    emb: Embedder = pipelines["sface"].embedder  # type: ignore[attr-defined]
    for crop in crops:
        theirs = sface.feature(cv2.cvtColor(crop, cv2.COLOR_RGB2BGR)).reshape(-1)
        assert cosine(emb.embed(crop), theirs) > 0.999


@pytest.mark.parametrize("name", EMBEDDERS)
def test_same_person_scores_above_different_people(pipelines: dict[str, object], name: str) -> None:
    from edge.face.evaluate import embed_folder, pair_scores

    from .conftest import FACES

    data = embed_folder(FACES, pipelines[name])  # type: ignore[arg-type]
    genuine, impostor = pair_scores(data)
    assert data.no_face == [] and data.unreadable == []
    assert genuine.size == 51 and impostor.size == 729
    assert genuine.min() > impostor.max()
    assert np.median(genuine) - np.median(impostor) > 0.4


def test_bad_crops_are_refused(pipeline: object) -> None:
    emb: Embedder = pipeline.embedder  # type: ignore[attr-defined]
    with pytest.raises(ImageError) as e:
        emb.embed(np.zeros((100, 100, 3), np.uint8))
    assert e.value.code == "face.aligned-invalid"
    with pytest.raises(ValueError):
        Embedder("facenet")


def test_cosine() -> None:
    a = np.array([1.0, 0.0])
    assert cosine(a, np.array([2.0, 0.0])) == pytest.approx(1.0)
    assert cosine(a, np.array([0.0, 3.0])) == pytest.approx(0.0)
    assert cosine(a, np.zeros(2)) == 0.0
