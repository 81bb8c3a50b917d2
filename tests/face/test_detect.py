"""BlazeFace decoding, NMS and face choice, on the repository's labelled photos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge.face.detect import (
    _OPTIONS,
    LEFT_EYE,
    MOUTH,
    NOSE_TIP,
    RIGHT_EYE,
    Detection,
    FaceDetector,
    ssd_anchors,
    weighted_nms,
)
from edge.face.errors import ImageError

from .conftest import labelled, opencv_peer, read

pytestmark = pytest.mark.shared("data/faces", "data/video")


def test_anchor_counts_match_the_model_outputs() -> None:
    assert ssd_anchors(_OPTIONS["short"]).shape == (896, 2)
    assert ssd_anchors(_OPTIONS["full"]).shape == (2304, 2)
    first = ssd_anchors(_OPTIONS["short"])[:3]
    np.testing.assert_allclose(first, [[0.5 / 16, 0.5 / 16]] * 2 + [[1.5 / 16, 0.5 / 16]])


def test_weighted_nms_merges_overlaps_and_keeps_separate_faces() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], dtype=np.float64)
    kps = np.zeros((3, 6, 2))
    kps[1] += 2.0
    scores = np.array([0.9, 0.6, 0.8])
    out = weighted_nms(boxes, kps, scores)
    assert len(out) == 2
    box, kp, score = out[0]
    assert score == pytest.approx(0.9)
    np.testing.assert_allclose(box, [0.4, 0.4, 10.4, 10.4])  # (0.9*0 + 0.6*1) / 1.5
    np.testing.assert_allclose(kp, np.full((6, 2), 0.8))
    np.testing.assert_allclose(out[1][0], [50, 50, 60, 60])


@pytest.mark.parametrize(("identity", "path"), labelled(), ids=lambda v: getattr(v, "name", v))
def test_finds_the_face_with_plausible_keypoints(
    detector: FaceDetector, identity: str, path: Path
) -> None:
    dets = detector.detect(read(path))
    assert dets, f"no face in {path}"
    d = dets[0]
    k = d.keypoints
    x0, y0, x1, y1 = d.box
    assert d.score >= 0.5
    assert np.all((k[:4, 0] >= x0) & (k[:4, 0] <= x1) & (k[:4, 1] >= y0) & (k[:4, 1] <= y1))
    # Unmirrored photos: the subject's right eye is on the image's left.
    assert k[RIGHT_EYE, 0] < k[NOSE_TIP, 0] < k[LEFT_EYE, 0]
    eyes_y = (k[RIGHT_EYE, 1] + k[LEFT_EYE, 1]) / 2
    assert eyes_y < k[NOSE_TIP, 1] < k[MOUTH, 1]
    assert d.eye_distance > 0.2 * d.width


def test_keypoints_agree_with_opencv_yunet() -> None:
    """Independent cross-check against YuNet: eyes and nose typically within 12% of the eye
    distance; small faces in tall photos (shrunk by letterboxing to 128 px) up to 40%."""
    yunet, _ = opencv_peer()
    import cv2

    det = FaceDetector()
    errors = []
    for _, path in labelled():
        rgb = read(path)
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        yunet.setInputSize((bgr.shape[1], bgr.shape[0]))
        _, faces = yunet.detect(bgr)
        assert faces is not None
        theirs = faces[np.argmax(faces[:, 2] * faces[:, 3])][4:10].reshape(3, 2)
        ours = det.detect(rgb)[0]
        err = np.linalg.norm(ours.keypoints[:3] - theirs, axis=1) / ours.eye_distance
        assert err.max() < 0.4, (path, err)
        errors.append(err)
    assert float(np.median(np.concatenate(errors))) < 0.12


def test_full_range_model_finds_the_face(still: np.ndarray) -> None:
    near = FaceDetector("short").detect(still)[0]
    far = FaceDetector("full").detect(still)
    assert far
    assert np.linalg.norm(far[0].keypoints[:4] - near.keypoints[:4], axis=1).max() < 0.2 * (
        near.eye_distance
    )


def test_mirrored_image_swaps_the_eyes(detector: FaceDetector, still: np.ndarray) -> None:
    a = detector.detect(still)[0]
    b = detector.detect(np.ascontiguousarray(still[:, ::-1]))[0]
    w = still.shape[1]
    assert b.keypoints[RIGHT_EYE, 0] == pytest.approx(w - a.keypoints[LEFT_EYE, 0], abs=6)


def test_no_face_gives_an_empty_list(detector: FaceDetector) -> None:
    rng = np.random.default_rng(7)
    assert detector.detect(np.zeros((480, 640, 3), np.uint8)) == []
    noise = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    assert detector.detect(noise) == []


def test_two_faces_prefers_the_large_central_one(detector: FaceDetector, still: np.ndarray) -> None:
    from PIL import Image

    im = Image.fromarray(still)
    main = np.array(im.resize((still.shape[1] // 2, still.shape[0] // 2)))
    side = np.array(im.resize((still.shape[1] * 3 // 10, still.shape[0] * 3 // 10)))
    canvas = np.full((480, 640, 3), 90, np.uint8)
    canvas[160 : 160 + main.shape[0], 260 : 260 + main.shape[1]] = main
    canvas[: side.shape[0], : side.shape[1]] = side
    dets = detector.detect(canvas)
    assert len(dets) == 2
    assert dets[0].box[0] > 260 and dets[0].width > 1.4 * dets[1].width


def test_tiny_face_is_not_a_confident_large_face(detector: FaceDetector, still: np.ndarray) -> None:
    from PIL import Image

    tiny = np.array(Image.fromarray(still).resize((22, 19)))
    canvas = np.full((480, 640, 3), 128, np.uint8)
    canvas[200:219, 300:322] = tiny
    for d in detector.detect(canvas):
        assert d.width < 40 and d.eye_distance < 20


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((100, 100), np.uint8),
        np.zeros((100, 100, 4), np.uint8),
        np.zeros((100, 100, 3), np.float32),
        np.zeros((8, 100, 3), np.uint8),
        "not an array",
    ],
)
def test_bad_arrays_are_a_clear_error(detector: FaceDetector, bad: object) -> None:
    with pytest.raises(ImageError) as e:
        detector.detect(bad)  # type: ignore[arg-type]
    assert e.value.code.startswith("face.image-")


def test_detection_is_a_frozen_value() -> None:
    d = Detection((0, 0, 1, 1), 0.9, np.zeros((6, 2), np.float32))
    with pytest.raises(AttributeError):
        d.score = 1.0  # type: ignore[misc]
