"""A staged installation: a copy of the measured packages and a small model folder.

Tests tamper with the copy, never with the repository. The model folder holds one real
model (the 229 KB detector) and the models' manifest, enough for the rule to be exercised.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from edge.measure import PACKAGES, package_dirs

SMALL_MODEL = "face_detection_short_range.tflite"


@dataclass(frozen=True)
class Stage:
    root: Path  # put on PYTHONPATH to make the copy "the installation"
    models: Path

    @property
    def packages(self) -> dict[str, Path]:
        return {name: self.root / name for name in PACKAGES}


@pytest.fixture
def stage(tmp_path: Path) -> Stage:
    return make_stage(tmp_path)


def make_stage(tmp_path: Path) -> Stage:
    root = tmp_path / "site"
    installed = package_dirs()
    ignore = shutil.ignore_patterns("__pycache__", "*.tflite")
    for name, src in installed.items():
        shutil.copytree(src, root / name, ignore=ignore)
    real_models = installed["firmware"] / "models"
    models = tmp_path / "models"
    models.mkdir()
    for name in (SMALL_MODEL, "manifest.json"):
        shutil.copy2(real_models / name, models / name)
    # The staged firmware/models folder is not the one in use: drop it from the copy.
    shutil.rmtree(root / "firmware" / "models")
    return Stage(root, models)
