"""One exception family for `audit`, each error with a stable reason code.

A failed check is not an exception (it becomes a finding in the report); these errors are
for what stops an audit from running at all or for one check's reason to fail.
"""

from __future__ import annotations

from attest.errors import CodedError


class AuditError(CodedError):
    """Base of every audit error. `code` is the stable reason code."""

    code = "audit.error"


class CheckpointError(AuditError, ValueError):
    """A checkpoint that is malformed, or whose signed and plain forms disagree."""

    code = "audit.checkpoint-malformed"


class InconsistencyError(AuditError, ValueError):
    """Two views of the log that cannot both be true (fork, rewind, wrong root)."""

    code = "audit.inconsistent"


class FetchError(AuditError, OSError):
    """The verifier could not be reached or answered with an error."""

    code = "audit.fetch-failed"


class SourceError(AuditError, ValueError):
    """An exported log or a verifier answer that is not in the expected shape."""

    code = "audit.bad-source"


class StateError(AuditError, ValueError):
    """The auditor's state folder holds something unreadable."""

    code = "audit.bad-state"
