"""The one trusted constructor: a frozen value object built without running its checks.

Why it exists: the verifier reads every token through one parse (attest.evidence.parse).
For the one byte layout profile v1 allows, that parse is a single compiled pattern
(attest.layout) that has already checked every type, size and enumeration, and a few rules
across fields; running each dataclass's `__post_init__` again would repeat that work on
the hot path, next to a signature check whose OpenSSL tables leave the caches cold.

The contract: `trusted(cls, fields)` may only be called with `fields` that the checked
constructor `cls(**fields)` accepts unchanged, i.e. `trusted(cls, f) == cls(**f)`. The only
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


def trusted(cls: type[T], fields: dict[str, Any]) -> T:
    """`cls(**fields)` without `__init__`/`__post_init__`: the fields go straight to its dict.

    The caller guarantees the contract above.
    """
    obj: T = _new(cls)
    obj.__dict__.update(fields)
    return obj
