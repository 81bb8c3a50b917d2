"""One exception family for edge/face, each error with a stable reason code.

The codes are a contract with callers (the session turns them into "inconclusive" reasons
and operator messages); the messages are for a person and may be reworded. A photo with no
face is *not* an error: it is a result (`no_face`), because a pipeline must never guess.
"""

from __future__ import annotations

from attest.errors import CodedError


class FaceError(CodedError):
    """Base of every error raised by edge/face. `code` is the stable reason code."""

    code = "face.error"


class ImageError(FaceError, ValueError):
    """Bytes or arrays that are not a decodable, bounded RGB image."""

    code = "face.image-invalid"


class ModelError(FaceError, LookupError):
    """A model file that is missing, unknown, or does not match firmware/models/manifest.json."""

    code = "face.model-missing"


class RuntimeMissingError(FaceError, ImportError):
    """Neither ai-edge-litert nor tflite-runtime can be imported."""

    code = "face.runtime-missing"


class CalibrationError(FaceError, ValueError):
    """A calibration file that is not well-formed or not usable with the chosen model."""

    code = "face.calibration-invalid"


class EvaluationError(FaceError, ValueError):
    """An evaluation folder that cannot give pairs (too few identities or photos)."""

    code = "face.eval-invalid"
