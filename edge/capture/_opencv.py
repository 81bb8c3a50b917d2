"""The little both OpenCV adapters (V4L2 and file replay) share.

OpenCV is imported here, lazily, so `edge.capture` imports on a device that has only
picamera2, and a missing install is a clear BackendMissingError rather than a traceback.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from edge.capture.errors import BackendMissingError, SourceFormatError
from edge.capture.source import Pixels


def import_cv2() -> ModuleType:
    try:
        import cv2
    except ImportError as exc:  # pragma: no cover - cv2 is installed wherever tests run
        raise BackendMissingError(
            f"OpenCV is not installed ({exc}); install the 'edge' extra "
            "(opencv-python-headless<5) to use a USB camera or replay a recording"
        ) from None
    return cv2


def read_rgb_into(cv2: ModuleType, cap: Any, out: Pixels) -> bool:
    """Decode the next frame straight into `out` and swap BGR to RGB in place.

    Passing `out` to `read` makes OpenCV decode into our slot instead of a fresh array (it
    reuses a destination of the right shape and type); the check below makes sure it did,
    so no frame ends up in memory the ring buffer does not own and wipe.
    """
    ok, got = cap.read(out)
    if not ok:
        return False
    if got is not out:
        if got is not None:
            got.fill(0)
        raise SourceFormatError(
            "the decoder returned frames of another size or type than it announced "
            f"(expected {out.shape}); the recording may be corrupt"
        )
    cv2.cvtColor(out, cv2.COLOR_BGR2RGB, dst=out)
    return True
