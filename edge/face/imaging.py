"""Image input at the boundary: strict decoding and the small resampling helpers.

Why here: every entry point (CLI, evaluation, session) hands the pipeline either encoded
bytes or an RGB array; both are checked once, here, so the model code can trust its input.
Resampling uses Pillow (C code, no OpenCV on the device); every Pillow image made from a
face is zero-filled when done (Pillow keeps its own pixel copy).
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from edge.face.buffers import wipe
from edge.face.errors import ImageError

MAX_PIXELS = 40_000_000  # a 40 MP still is already far beyond any passport photo or camera frame
MIN_SIDE = 16
MAX_BYTES = 64 * 1024 * 1024


def check_rgb(rgb: object) -> np.ndarray:
    """The array itself if it is an (H, W, 3) uint8 image of sane size, else ImageError."""
    if (
        not isinstance(rgb, np.ndarray)
        or rgb.dtype != np.uint8
        or rgb.ndim != 3
        or rgb.shape[2] != 3
    ):
        shape = getattr(rgb, "shape", None)
        dtype = getattr(rgb, "dtype", type(rgb).__name__)
        raise ImageError(
            f"expected an (H, W, 3) uint8 RGB array, got shape {shape} dtype {dtype}",
            code="face.image-not-rgb",
        )
    h, w = rgb.shape[:2]
    if min(h, w) < MIN_SIDE:
        raise ImageError(
            f"image {w}x{h} is smaller than {MIN_SIDE} px", code="face.image-too-small"
        )
    if h * w > MAX_PIXELS:
        raise ImageError(f"image {w}x{h} exceeds {MAX_PIXELS} pixels", code="face.image-too-large")
    return rgb


def decode(data: bytes) -> np.ndarray:
    """Decode JPEG/PNG/JPEG 2000/... bytes to a fresh (H, W, 3) uint8 RGB array (caller wipes).

    EXIF orientation is applied (phone photos); alpha is dropped; the size is checked from
    the header before any pixel is decoded, so a decompression bomb costs nothing.
    """
    if len(data) > MAX_BYTES:
        raise ImageError(
            f"image file of {len(data)} bytes exceeds {MAX_BYTES}", code="face.image-too-large"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
            w, h = im.size
            if w * h > MAX_PIXELS:
                raise ImageError(
                    f"image {w}x{h} exceeds {MAX_PIXELS} pixels", code="face.image-too-large"
                )
            im.load()
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageError(f"image too large: {e}", code="face.image-too-large") from e
    except UnidentifiedImageError as e:
        raise ImageError("not an image format Pillow can read", code="face.image-unreadable") from e
    except (OSError, ValueError, SyntaxError, Warning) as e:
        raise ImageError(f"image is corrupt or truncated: {e}", code="face.image-corrupt") from e
    oriented = ImageOps.exif_transpose(im)
    rgb_im = oriented.convert("RGB")
    try:
        return check_rgb(np.array(rgb_im, dtype=np.uint8))
    finally:
        for temp in {id(x): x for x in (im, oriented, rgb_im)}.values():
            wipe(temp)


def read_image(path: str | Path) -> np.ndarray:
    """Read and decode an image file (for the CLI and evaluation; the device never reads files)."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_BYTES:
            raise ImageError(f"{p} is {size} bytes, over {MAX_BYTES}", code="face.image-too-large")
        data = p.read_bytes()
    except IsADirectoryError as e:
        raise ImageError(f"{p} is a folder, not an image", code="face.image-unreadable") from e
    except FileNotFoundError as e:
        raise ImageError(f"{p} does not exist", code="face.image-missing") from e
    return decode(data)


def pil_image(rgb: np.ndarray) -> Image.Image:
    """A Pillow copy of an RGB array (the caller wipes it)."""
    return (
        Image.fromarray(rgb, mode="RGB")
        if rgb.flags.c_contiguous
        else Image.fromarray(np.ascontiguousarray(rgb), mode="RGB")
    )


def warp_affine(
    rgb: np.ndarray, forward: np.ndarray, size: int, out: np.ndarray | None = None
) -> np.ndarray:
    """Resample the size x size square that `forward` (2x3, image -> output) maps onto.

    Coordinates are continuous (pixel i spans [i, i+1)), as Pillow's AFFINE transform uses.
    Only the source region under the output square is copied out of the frame, and when the
    output is much smaller than that region it is first box-reduced by an integer factor:
    bilinear sampling alone would alias a large face into a noisy crop. The result is written
    into `out` when given (a buffer the caller owns and wipes). Areas outside the frame are 0.
    """
    a = np.asarray(forward, dtype=np.float64)[:2, :3]
    lin_inv = np.linalg.inv(a[:, :2])
    shift_inv = -lin_inv @ a[:, 2]
    corners = np.array([[0, 0], [size, 0], [0, size], [size, size]], dtype=np.float64)
    src = corners @ lin_inv.T + shift_inv
    h, w = rgb.shape[:2]
    x0 = int(np.clip(np.floor(src[:, 0].min()) - 2, 0, w))
    y0 = int(np.clip(np.floor(src[:, 1].min()) - 2, 0, h))
    x1 = int(np.clip(np.ceil(src[:, 0].max()) + 2, 0, w))
    y1 = int(np.clip(np.ceil(src[:, 1].max()) + 2, 0, h))
    if out is None:
        out = np.zeros((size, size, 3), dtype=np.uint8)
    if x1 - x0 < 2 or y1 - y0 < 2:
        out.fill(0)
        return out
    scale = float(np.sqrt(abs(np.linalg.det(a[:, :2]))))
    k = max(1, int(1.0 / scale)) if scale > 0 else 1
    region = pil_image(rgb[y0:y1, x0:x1])
    reduced = region.reduce(k) if k > 1 else region
    inv = np.column_stack([lin_inv, shift_inv - (x0, y0)]) / k
    coeffs = tuple(float(v) for v in inv.reshape(-1))
    crop = reduced.transform(
        (size, size), Image.Transform.AFFINE, coeffs, Image.Resampling.BILINEAR
    )
    try:
        out[...] = np.asarray(crop)
        return out
    finally:
        for temp in {id(x): x for x in (region, reduced, crop)}.values():
            wipe(temp)
