"""Public data beside the checkout: `../shared` (see its README), never copied into the project.

Files that came from public repositories (labelled faces, the stage clip, COSE and Merkle
vectors, real chip files) live only there. A test that reads them is marked
`@pytest.mark.shared("data/faces", ...)`; tests/conftest.py skips it with a one-line reason
where the folder is absent (a newcomer's clone) and fails it in CI (CI=true), where the
folder is always laid beside the checkout.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.rig import REPO

SHARED = REPO.parent / "shared"
FACES = SHARED / "data" / "faces"
CLIP = SHARED / "data" / "video" / "short_hamilton_clip.mp4"
STILL = SHARED / "data" / "video" / "lin-manuel-miranda.png"
VECTORS = SHARED / "vectors"
MRTD_REAL = VECTORS / "mrtd-real"


def require_shared(*parts: str) -> None:
    """Skip (locally) or fail (in CI) unless each of `parts` exists under ../shared."""
    missing = [p for p in parts if not (SHARED / p).exists()]
    if not missing:
        return
    why = f"public data absent: ../shared/{missing[0]} (it sits beside the checkout in CI)"
    if os.environ.get("CI") == "true" or os.environ.get("EDGEPROOF_REQUIRE_RIG") == "1":
        pytest.fail(why)
    pytest.skip(why)


def files(root: Path, pattern: str) -> list[Path]:
    """Files under `root` for a parametrized test. Where ../shared is absent: one placeholder,
    so that the test is collected, then skipped (or failed in CI) by its `shared` mark."""
    found = sorted(root.glob(pattern)) if root.is_dir() else []
    return found or [root / "absent"]
