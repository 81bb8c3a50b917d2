"""A real software TPM 2.0 (Debian's swtpm) per test, on loopback, stopped by PID."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest

from rig.tpm import SoftwareTpm
from tests.rig import require, require_binary


def _make(tmp_path: Path, name: str) -> SoftwareTpm:
    require(importlib.util.find_spec("tpm2_pytss") is not None, "Python package tpm2-pytss")
    require_binary("swtpm")
    state = tmp_path / name
    state.mkdir()
    tpm = SoftwareTpm(state)
    tpm.start()
    return tpm


@pytest.fixture
def swtpm(tmp_path: Path) -> Iterator[SoftwareTpm]:
    tpm = _make(tmp_path, "tpm-state")
    try:
        yield tpm
    finally:
        tpm.stop()


@pytest.fixture
def other_swtpm(tmp_path: Path) -> Iterator[SoftwareTpm]:
    """A second, unrelated TPM (its own seeds)."""
    tpm = _make(tmp_path, "other-tpm-state")
    try:
        yield tpm
    finally:
        tpm.stop()
