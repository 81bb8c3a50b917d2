"""One exception family for edge.liveness. A failed liveness check is a *result*
(LivenessResult), never an exception: these errors are for bad input and misuse."""

from __future__ import annotations


class LivenessError(Exception):
    """Base of every error raised by edge.liveness. `code` is the stable reason code."""

    code: str = "liveness.error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class LandmarkError(LivenessError, ValueError):
    """An array that is not a (468, 3) finite face mesh."""

    code = "liveness.bad-landmarks"


class PolicyError(LivenessError, ValueError):
    """Thresholds or windows that make no sense (e.g. exit above enter)."""

    code = "liveness.bad-policy"
