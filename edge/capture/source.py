"""The one interface every camera and recording is read through.

A `FrameSource` fills a caller-owned array with the next RGB frame. Frames never travel
as fresh arrays the source allocates: the capture session hands the source a slot of its
preallocated ring buffer (ring.py), so every pixel the session is responsible for lives in
memory it can wipe. Adapters: picamera2.py (Raspberry Pi camera), v4l2.py (USB webcams
through OpenCV), replay.py (a video file or a folder of frames, for tests and review).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from edge.capture.errors import CaptureConfigError

#: Upper bounds that keep a mistyped option from allocating gigabytes.
MAX_SIDE = 4096
MAX_FPS = 240.0
MAX_TIMEOUT_S = 60.0

Pixels = NDArray[np.uint8]


@dataclass(frozen=True)
class FrameFormat:
    """What a source actually delivers (a camera may not grant the requested mode)."""

    width: int
    height: int
    fps: float

    def __post_init__(self) -> None:
        if not (0 < self.width <= MAX_SIDE and 0 < self.height <= MAX_SIDE):
            raise CaptureConfigError(
                f"frame size {self.width}x{self.height} is outside 1..{MAX_SIDE} pixels a side"
            )
        if not (math.isfinite(self.fps) and 0 < self.fps <= MAX_FPS):
            raise CaptureConfigError(f"frame rate {self.fps} is outside (0, {MAX_FPS}] fps")

    @property
    def shape(self) -> tuple[int, int, int]:
        """The numpy shape of one RGB frame."""
        return (self.height, self.width, 3)


@dataclass(frozen=True)
class CaptureConfig:
    """What the caller asks of a camera. `width`/`height` None keep the source's own size
    (useful for recordings); cameras are asked for 640x480 unless told otherwise."""

    width: int | None = None
    height: int | None = None
    fps: float = 30.0
    timeout_s: float = 2.0

    def __post_init__(self) -> None:
        if (self.width is None) != (self.height is None):
            raise CaptureConfigError("give both width and height, or neither")
        if self.width is not None and self.height is not None:
            FrameFormat(self.width, self.height, self.fps)  # same bounds
        elif not (math.isfinite(self.fps) and 0 < self.fps <= MAX_FPS):
            raise CaptureConfigError(f"frame rate {self.fps} is outside (0, {MAX_FPS}] fps")
        if not (math.isfinite(self.timeout_s) and 0 < self.timeout_s <= MAX_TIMEOUT_S):
            raise CaptureConfigError(
                f"timeout {self.timeout_s} s is outside (0, {MAX_TIMEOUT_S}] seconds"
            )

    def camera_size(self) -> tuple[int, int]:
        """The size to request from a live camera."""
        if self.width is None or self.height is None:
            return (640, 480)
        return (self.width, self.height)


class FrameSource(Protocol):
    """A camera or a recording. Owned by one capture session, closed by it."""

    @property
    def format(self) -> FrameFormat:
        """The size and rate of the frames `read_into` delivers."""
        ...

    def read_into(self, out: Pixels) -> float | None:
        """Fill `out` (shape `format.shape`, uint8, RGB) with the next frame.

        Returns the frame's time in seconds since the stream started, or None when a finite
        recording has ended. Raises CaptureTimeoutError when a live camera stays silent.
        """
        ...

    def close(self) -> None:
        """Release the device; wipe any pixel buffer the adapter itself holds. Idempotent."""
        ...


def check_out(out: Pixels, fmt: FrameFormat) -> None:
    """Adapters write in place, so a wrong slot would be a silent bug: refuse it loudly."""
    if out.shape != fmt.shape or out.dtype != np.uint8 or not out.flags.c_contiguous:
        raise CaptureConfigError(
            f"frame slot must be a C-contiguous uint8 array of shape {fmt.shape}, "
            f"got {out.dtype} {out.shape}"
        )
