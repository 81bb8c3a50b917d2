"""The device release carries no test rig (issue 17): the passport emulator, the rendered
camera, the servers the tests start and the demo's portraits live in rig/, which the
device's measurement never covers, and the release process refuses a tree that mixed
them back in."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from attest.manifest import ReleaseManifest
from edge.measure import PACKAGES
from firmware.release import BuildError, build, rig_files
from tests.firmware.conftest import Stage
from tests.rig import REPO


def test_the_release_manifest_of_this_checkout_lists_no_rig_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rig = sorted(str(p.relative_to(REPO)) for p in (REPO / "rig").rglob("*") if p.is_file())
    assert "rig/mrtd/card.py" in rig and "rig/face/media/astronaut.jpg" in rig
    assert "rig" not in PACKAGES
    monkeypatch.setenv("PYTHONPATH", str(REPO))  # the child measures this checkout
    manifest = build()
    assert "edge/session.py" in manifest.files and manifest.models
    files = set(manifest.files)
    assert not files & set(rig)
    assert rig_files(manifest) == []
    assert not [p for p in files if "/sim/" in p or "/media/" in p or "facerig" in p]


def test_rig_files_names_rig_code_and_media() -> None:
    digest = bytes(32)
    manifest = ReleaseManifest(
        name="edgeproof",
        version="1.0.0",
        files={
            "edge/session.py": digest,
            "rig/mrtd/card.py": digest,
            "edge/capture/media/Astronaut.JPG": digest,
            "firmware/image/edgeproof.toml": digest,
        },
        models={},
    )
    assert rig_files(manifest) == ["edge/capture/media/Astronaut.JPG", "rig/mrtd/card.py"]


def test_a_tree_holding_the_demo_media_is_refused(
    stage: Stage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(stage.root))
    monkeypatch.setenv("EDGEPROOF_MODEL_DIR", str(stage.models))
    assert rig_files(build()) == []  # the staged copy alone builds
    planted: Path = stage.root / "edge" / "capture" / "media" / "astronaut.jpg"
    planted.parent.mkdir()
    shutil.copy2(REPO / "rig" / "face" / "media" / "astronaut.jpg", planted)
    with pytest.raises(BuildError) as caught:
        build()
    assert caught.value.code == "release.rig-in-release"
    assert "edge/capture/media/astronaut.jpg" in caught.value.message
