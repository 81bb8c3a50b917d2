"""Live video that never touches disk.

Frames come from a `FrameSource` (Raspberry Pi camera, V4L2 webcam, or file replay) into a
preallocated ring buffer owned by a `CaptureSession`, which wipes every slot when it ends,
however it ends, and reports frames captured and erased for the attestation.
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
    "Frame",
    "FrameFormat",
    "FrameSource",
    "SourceFormatError",
    "SourceNotFoundError",
    "open_source",
]
