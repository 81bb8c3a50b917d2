"""Strict, bounded image input: every bad file is a clear error with a stable code."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from edge.face.errors import FaceError, ImageError
from edge.face.imaging import MAX_PIXELS, decode, read_image, warp_affine
from tests.shared import FACES, STILL

pytestmark = pytest.mark.shared("data/faces", "data/video")
# Read at collection where the shared data is there; where it is absent every test here is skipped.
_STILL_HEAD = STILL.read_bytes()[:2000] if STILL.is_file() else b""


def _png_header_claiming(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))


def test_decodes_png_with_alpha_to_rgb() -> None:
    rgb = read_image(STILL)
    assert rgb.dtype == np.uint8 and rgb.shape == (612, 704, 3)


def test_exif_orientation_is_applied() -> None:
    buf = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise for display
    Image.new("RGB", (64, 32), (10, 20, 30)).save(buf, "JPEG", exif=exif)
    assert decode(buf.getvalue()).shape == (64, 32, 3)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "face.image-unreadable"),
        (b"%PDF-1.7 not an image", "face.image-unreadable"),
        (_STILL_HEAD, "face.image-corrupt"),
        (_png_header_claiming(100_000, 100_000), "face.image-too-large"),
    ],
    ids=["empty", "pdf", "truncated-png", "bomb"],
)
def test_bad_bytes(data: bytes, code: str) -> None:
    with pytest.raises(ImageError) as e:
        decode(data)
    assert e.value.code == code
    assert isinstance(e.value, ValueError) and isinstance(e.value, FaceError)
    assert str(e.value).startswith(code)


def test_truncated_jpeg_is_corrupt(tmp_path: Path) -> None:
    jpeg = (FACES / "fr_obama" / "obama.jpg").read_bytes()
    with pytest.raises(ImageError) as e:
        decode(jpeg[: len(jpeg) // 3])
    assert e.value.code == "face.image-corrupt"


def test_files(tmp_path: Path) -> None:
    with pytest.raises(ImageError) as e:
        read_image(tmp_path / "missing.jpg")
    assert e.value.code == "face.image-missing"
    with pytest.raises(ImageError) as e:
        read_image(tmp_path)
    assert e.value.code == "face.image-unreadable"


def test_limits_are_sane() -> None:
    assert MAX_PIXELS >= 4000 * 3000


def test_warp_outside_the_frame_is_black() -> None:
    img = np.full((50, 50, 3), 255, np.uint8)
    far_away = np.array([[1.0, 0.0, -500.0], [0.0, 1.0, -500.0]])
    assert not warp_affine(img, far_away, 20).any()


def test_jpeg2000_chip_photo_decodes(still: np.ndarray) -> None:
    """DG2 face images are often JPEG 2000 (ISO/IEC 39794-5 / 19794-5); Pillow's wheel reads it."""
    buf = io.BytesIO()
    Image.fromarray(still).resize((240, 209)).save(
        buf, "JPEG2000", quality_mode="rates", quality_layers=[20]
    )
    rgb = decode(buf.getvalue())
    assert rgb.shape == (209, 240, 3) and rgb.std() > 20


_CLAPTON = FACES / "of_clapton" / "clapton-2.jpg"
_JPEG = _CLAPTON.read_bytes() if _CLAPTON.is_file() else bytes(64)  # tests skip without it


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.integers(0, len(_JPEG) - 1), st.integers(0, 255)), min_size=1, max_size=8
    ),
    st.integers(16, len(_JPEG)),
)
def test_mutated_jpeg_decodes_or_fails_cleanly(edits: list[tuple[int, int]], cut: int) -> None:
    """Flipped bytes and truncation: an RGB array or an ImageError, never anything else."""
    data = bytearray(_JPEG[:cut])
    for pos, value in edits:
        if pos < len(data):
            data[pos] = value
    try:
        rgb = decode(bytes(data))
    except ImageError as e:
        assert e.code.startswith("face.image-")
    else:
        assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3
