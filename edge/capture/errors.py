"""One exception family for edge.capture, each error with a stable reason code.

Codes are the contract with operators and logs (`capture.camera-not-found` means the same
thing in every release); messages are for a person and say what to do.
"""

from __future__ import annotations

from attest.errors import CodedError


class CaptureError(CodedError):
    """Base of every error raised by edge.capture. `code` is the stable reason code."""

    code = "capture.error"


class CaptureConfigError(CaptureError, ValueError):
    """A resolution, frame rate, timeout or buffer size that makes no sense."""

    code = "capture.bad-config"


class CameraNotFoundError(CaptureError, LookupError):
    """No camera at the requested device (unplugged, wrong index, no camera on this board)."""

    code = "capture.camera-not-found"


class CameraBusyError(CaptureError, OSError):
    """The device exists but cannot be opened: another process holds it, or it is not a camera."""

    code = "capture.camera-busy"


class BackendMissingError(CaptureError, ImportError):
    """The library an adapter needs (picamera2, OpenCV) is not installed on this machine."""

    code = "capture.backend-missing"


class CaptureTimeoutError(CaptureError, TimeoutError):
    """The source gave no frame within the configured timeout."""

    code = "capture.timeout"


class SourceNotFoundError(CaptureError, FileNotFoundError):
    """The recording or frame folder to replay does not exist."""

    code = "capture.source-not-found"


class SourceFormatError(CaptureError, ValueError):
    """A recording or frame folder that cannot be decoded, or whose frames change size."""

    code = "capture.bad-source"
