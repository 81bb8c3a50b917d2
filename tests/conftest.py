"""Suite-wide hooks: tests marked `shared(...)` need public data (tests/shared.py)."""

from __future__ import annotations

import pytest

from tests.shared import require_shared


def pytest_runtest_setup(item: pytest.Item) -> None:
    for mark in item.iter_markers("shared"):
        require_shared(*mark.args)
