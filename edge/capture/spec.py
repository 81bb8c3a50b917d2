"""One text form for "where the frames come from", shared by the CLIs and the session.

v4l2:/dev/video0   a USB camera (also v4l2:0)
picamera2:0        the Raspberry Pi camera number 0
replay:PATH        a video file or a folder of frames
PATH               same as replay:PATH
"""

from __future__ import annotations

from edge.capture.errors import CaptureConfigError
from edge.capture.source import CaptureConfig, FrameSource


def open_source(spec: str, config: CaptureConfig | None = None) -> FrameSource:
    """Open the source named by `spec`; adapters import their libraries only here."""
    kind, sep, rest = spec.partition(":")
    if not sep or kind not in ("v4l2", "picamera2", "replay"):
        kind, rest = "replay", spec
    if kind == "v4l2":
        from edge.capture.v4l2 import V4L2Source

        return V4L2Source(rest or 0, config)
    if kind == "picamera2":
        from edge.capture.picamera import Picamera2Source

        try:
            num = int(rest or "0")
        except ValueError:
            raise CaptureConfigError(
                f"picamera2 camera number must be an integer: {spec!r}"
            ) from None
        return Picamera2Source(num, config)
    if not rest:
        raise CaptureConfigError("replay needs a path: replay:VIDEO_OR_FOLDER")
    from edge.capture.replay import FileReplaySource

    return FileReplaySource(rest, config)
