"""The Raspberry Pi camera through picamera2 (libcamera). Only on the device (`pi` extra).

picamera2 is imported when a source is opened, never at module import, so this module is
importable (and its error testable) on any machine. Frames are copied straight from the
camera's memory-mapped request buffer into the ring slot (no intermediate array); the
request buffers themselves belong to libcamera and are reused by it, which docs/privacy.md
states as a limit. picamera2's "RGB888" format is B, G, R in memory, hence the swap.

Not testable here: no Raspberry Pi camera and no libcamera on x86 CI. Tested: the clear error
when picamera2 is missing, and the pixel conversion.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from edge.capture.errors import (
    BackendMissingError,
    CameraBusyError,
    CameraNotFoundError,
    CaptureTimeoutError,
)
from edge.capture.source import CaptureConfig, FrameFormat, Pixels, check_out


def copy_bgr_to_rgb(src: np.ndarray[Any, Any], out: Pixels) -> None:
    """Copy a (possibly row-padded) B,G,R image into `out` as R,G,B without a temporary."""
    h, w = out.shape[:2]
    np.copyto(out, src[:h, :w, 2::-1])


class Picamera2Source:
    """Camera `camera_num` of the board, in a video configuration of the requested size."""

    def __init__(
        self,
        camera_num: int = 0,
        config: CaptureConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        try:
            from picamera2 import MappedArray, Picamera2
        except ImportError as exc:
            raise BackendMissingError(
                f"picamera2 is not available ({exc}): it runs only on Raspberry Pi OS; install "
                "it there (apt install python3-picamera2, or the 'pi' extra) or use a USB "
                "camera (V4L2) instead"
            ) from None
        self._mapped_array = MappedArray
        self._config = config or CaptureConfig()
        self._clock = clock
        self._t0: int | None = None
        if camera_num >= len(Picamera2.global_camera_info()):
            raise CameraNotFoundError(
                f"no Raspberry Pi camera number {camera_num}: check the ribbon cable and "
                "`rpicam-hello --list-cameras`"
            )
        try:
            cam: Any = Picamera2(camera_num)
        except (RuntimeError, OSError) as exc:
            raise CameraBusyError(
                f"Raspberry Pi camera {camera_num} could not be acquired ({exc}): another "
                "program may hold it"
            ) from None
        width, height = self._config.camera_size()
        video = cam.create_video_configuration(
            main={"size": (width, height), "format": "RGB888"},
            controls={"FrameRate": self._config.fps},
            buffer_count=2,
        )
        cam.configure(video)
        cam.start()
        self._cam = cam
        self._format = FrameFormat(width, height, self._config.fps)

    @property
    def format(self) -> FrameFormat:
        return self._format

    def read_into(self, out: Pixels) -> float | None:
        check_out(out, self._format)
        if self._cam is None:
            raise CameraBusyError("the Raspberry Pi camera is closed")
        try:
            request = self._cam.capture_request(wait=self._config.timeout_s)
        except TimeoutError:
            raise CaptureTimeoutError(
                f"no frame from the Raspberry Pi camera within {self._config.timeout_s:g} s"
            ) from None
        try:
            with self._mapped_array(request, "main") as mapped:
                copy_bgr_to_rgb(mapped.array, out)
            stamp = request.get_metadata().get("SensorTimestamp")
        finally:
            request.release()
        if not isinstance(stamp, int):
            stamp = int(self._clock() * 1e9)
        if self._t0 is None:
            self._t0 = stamp
        return (stamp - self._t0) / 1e9

    def close(self) -> None:
        if self._cam is not None:
            try:
                self._cam.stop()
            finally:
                self._cam.close()
                self._cam = None
