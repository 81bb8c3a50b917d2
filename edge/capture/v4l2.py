"""USB webcams through OpenCV's V4L2 backend (Linux).

The camera is asked for the configured size and rate; what it grants is read back and
reported in `format`, because UVC cameras silently fall back to the nearest mode. The read
timeout is offered to OpenCV (CAP_PROP_READ_TIMEOUT_MSEC), which its V4L2 backend may not
honour: it then waits up to its own select() timeout. A read that returns without a frame
is a CaptureTimeoutError either way.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from typing import Any

from edge.capture._opencv import import_cv2, read_rgb_into
from edge.capture.errors import (
    CameraBusyError,
    CameraNotFoundError,
    CaptureConfigError,
    CaptureTimeoutError,
)
from edge.capture.source import CaptureConfig, FrameFormat, Pixels, check_out

_DEVICE = re.compile(r"^(?:/dev/video)?(\d{1,3})$")


def parse_device(device: str | int) -> tuple[int, str]:
    """`0`, `"0"` or `"/dev/video0"` -> (0, "/dev/video0"). OpenCV's V4L2 backend opens by
    index, so other paths (udev symlinks) are resolved to their /dev/videoN target."""
    if isinstance(device, int):
        text = str(device)
    else:
        text = device
        if text.startswith("/") and not _DEVICE.match(text):
            text = os.path.realpath(text)
    m = _DEVICE.match(text)
    if m is None:
        raise CaptureConfigError(
            f"camera device {device!r} is not /dev/videoN or a number (list them: ls /dev/video*)"
        )
    index = int(m.group(1))
    return index, f"/dev/video{index}"


class V4L2Source:
    """A V4L2 camera. Frames are timed by `clock` from the first successful read."""

    def __init__(
        self,
        device: str | int = 0,
        config: CaptureConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        cv2 = import_cv2()
        self._cv2 = cv2
        self._config = config or CaptureConfig()
        self._clock = clock
        self._start: float | None = None
        index, self._path = parse_device(device)
        if not os.path.exists(self._path):
            raise CameraNotFoundError(
                f"no camera at {self._path}: is it plugged in? (ls /dev/video*)"
            )
        if not os.access(self._path, os.R_OK | os.W_OK):
            raise CameraBusyError(
                f"no permission to open {self._path}: add the service user to the 'video' group"
            )
        # Opened without open-parameters: OpenCV's V4L2 backend applies unsupported ones
        # through setProperty and fails the whole open if one is refused. Each mode
        # setting below is best effort instead; what the camera granted is read back.
        cap: Any = cv2.VideoCapture(index, cv2.CAP_V4L2)
        if not cap.isOpened():
            cap.release()
            raise CameraBusyError(
                f"{self._path} exists but could not be opened as a camera: another program may "
                f"be using it (fuser -v {self._path}), or it is not a capture device"
            )
        width, height = self._config.camera_size()
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        cap.set(cv2.CAP_PROP_FPS, self._config.fps)
        cap.set(cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(self._config.timeout_s * 1000))
        self._cap = cap
        got_w = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        got_h = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        got_fps = float(cap.get(cv2.CAP_PROP_FPS))
        got_fps = got_fps if got_fps > 0 else self._config.fps  # -1: the driver did not say
        try:
            self._format = FrameFormat(got_w, got_h, got_fps)
        except ValueError:
            cap.release()
            raise CameraBusyError(
                f"{self._path} reported an unusable mode {got_w}x{got_h} @ {got_fps} fps"
            ) from None

    @property
    def format(self) -> FrameFormat:
        return self._format

    def read_into(self, out: Pixels) -> float | None:
        check_out(out, self._format)
        if self._cap is None:
            raise CameraBusyError(f"{self._path} is closed")
        if not read_rgb_into(self._cv2, self._cap, out):
            raise CaptureTimeoutError(
                f"no frame from {self._path} within {self._config.timeout_s:g} s: "
                "was the camera unplugged or taken by another program?"
            )
        now = self._clock()
        if self._start is None:
            self._start = now
        return now - self._start

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
