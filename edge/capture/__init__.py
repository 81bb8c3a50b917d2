"""Live video that never touches disk.

Frames come from a `FrameSource` (Raspberry Pi camera, V4L2 webcam, or file replay) into a
preallocated ring buffer owned by a `CaptureSession`, which wipes every slot when it ends,
however it ends, and reports frames captured and erased for the attestation.

These names are the package's public face: code outside edge/capture imports them and
nothing deeper (tests/test_architecture.py), so the camera back ends stay swappable.
"""

from edge.capture.errors import (
    BackendMissingError,
    CameraBusyError,
    CameraNotFoundError,
    CaptureConfigError,
    CaptureError,
    CaptureTimeoutError,
    SourceFormatError,
    SourceNotFoundError,
)
from edge.capture.replay import FileReplaySource
from edge.capture.session import CaptureSession, ErasureReport, Frame
from edge.capture.source import CaptureConfig, FrameFormat, FrameSource
from edge.capture.spec import open_source

__all__ = [
    "BackendMissingError",
    "CameraBusyError",
    "CameraNotFoundError",
    "CaptureConfig",
    "CaptureConfigError",
    "CaptureError",
    "CaptureSession",
    "CaptureTimeoutError",
    "ErasureReport",
    "FileReplaySource",
    "Frame",
    "FrameFormat",
    "FrameSource",
    "SourceFormatError",
    "SourceNotFoundError",
    "open_source",
]
