"""What every part of the verifier shares: the configuration, the clock and the sessions.

Why a context object: the parts (tokens, challenges, devices, references, appraisals, the
log) are built once per worker by the facade (verifier/service.py) and each reads the
configuration when it acts, not when it was built, so a setting changed on the facade (a
test that swaps `result_profile`) is seen by every part at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import sessionmaker

from verifier.config import Config


@dataclass
class Context:
    config: Config
    clock: Callable[[], float]
    reader: sessionmaker[Any]  # read-only sessions (verifier.storage.session_factories)
    writer: sessionmaker[Any]  # sessions for one short write transaction each

    def now(self) -> int:
        """Whole seconds: every stored time and every claim is an integer (RFC 8392 NumericDate)."""
        return int(self.clock())
