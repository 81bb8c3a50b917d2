"""The one trusted constructor: a frozen value object built without running its checks.

Why it exists: the verifier reads every token through one parse (attest.evidence.parse).
For the one byte layout profile v1 allows, that parse is a single compiled pattern
(attest.layout) that has already checked every type, size and enumeration, and a few rules
across fields; running each dataclass's `__post_init__` again would repeat that work on
the hot path, next to a signature check whose OpenSSL tables leave the caches cold.

The contract: the caller fills the object's dict with exactly the fields `f` that the
checked constructor `cls(**f)` accepts unchanged, so the result equals `cls(**f)`. The only
callers are attest.layout (claims objects) and attest.cose.in_layout (Sign1 envelopes), and
tests/attest/test_trusted.py proves the contract: over valid and mutated tokens, every
object a trusted build yields equals the one its checked constructor yields from the same
fields, and where the fast path declines a token the checked path gives the coded error.
Nothing else in the project may build these objects another way.
"""

from __future__ import annotations

from typing import Any, TypeVar

T = TypeVar("T")

_new = object.__new__


def trusted(cls: type[T]) -> tuple[T, dict[str, Any]]:
    """A new `cls` that has no fields yet, and its instance dict, for the caller to fill.

    Neither `__init__` nor `__post_init__` runs. The caller must set every field, with
    values for which the contract above holds, before the object is used or shared.
    (Filling the instance's own dict keeps CPython's shared-key layout and avoids a second
    dict: it is measurably cheaper than handing over a ready dict.)
    """
    obj: T = _new(cls)
    return obj, obj.__dict__
