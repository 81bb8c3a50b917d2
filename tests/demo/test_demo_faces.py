"""The demo's people, as the face matcher sees them, with both shipped embedders: the
animated subject matches the right person's chip photo (the same public-domain portrait,
as the chip stores it: JPEG 2000 of about 20 KB) and not the wrong person's."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from edge.face.calibration import Decision
from edge.face.match import FaceMatcher
from rig.face.facerig import (
    OTHER_PHOTO,
    SUBJECT_PHOTO,
    FaceRig,
    Pose,
    frame_from_photo,
    load_photo,
)
from rig.mrtd.testdoc import FACE_PHOTO, face_image


def _chip_rgb(photo: object) -> np.ndarray:
    data, _, _ = face_image("jpeg2000", 20_000, str(photo))
    with Image.open(io.BytesIO(data)) as im:
        return np.array(im.convert("RGB"))


@pytest.fixture(scope="module")
def live_frames() -> list[np.ndarray]:
    rig = FaceRig(frame_from_photo(load_photo(SUBJECT_PHOTO)))
    frames = []
    for pose in (Pose(smile=-0.35), Pose(yaw=8, smile=-0.35), Pose(yaw=-6, pitch=2)):
        out = np.zeros_like(rig.frame)
        rig.render(pose, out)
        frames.append(out)
    return frames


def test_the_chip_photo_default_is_the_demo_subject() -> None:
    assert FACE_PHOTO == SUBJECT_PHOTO


@pytest.mark.parametrize("embedder", ["mobilefacenet", "sface"])
def test_right_person_matches_and_wrong_person_does_not(
    embedder: str, live_frames: list[np.ndarray]
) -> None:
    matcher = FaceMatcher(embedder)
    right = matcher.match(_chip_rgb(SUBJECT_PHOTO), live_frames)
    wrong = matcher.match(_chip_rgb(OTHER_PHOTO), live_frames)
    assert right.decision is Decision.MATCH, right
    assert wrong.decision is Decision.NO_MATCH, wrong
