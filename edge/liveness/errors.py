"""One exception family for edge.liveness. A failed liveness check is a *result*
(LivenessResult), never an exception: these errors are for bad input and misuse."""

from __future__ import annotations

from attest.errors import CodedError


class LivenessError(CodedError):
    """Base of every error raised by edge.liveness. `code` is the stable reason code."""

    code = "liveness.error"


class LandmarkError(LivenessError, ValueError):
    """An array that is not a (468, 3) finite face mesh."""

    code = "liveness.bad-landmarks"


class PolicyError(LivenessError, ValueError):
    """Thresholds or windows that make no sense (e.g. exit above enter)."""

    code = "liveness.bad-policy"
