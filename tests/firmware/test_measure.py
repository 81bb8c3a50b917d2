"""The device's own measurement: what is in it, and that tampering changes it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from attest.evidence import MeasuredItem
from attest.manifest import ReleaseManifest
from edge.measure import (
    InstalledTreeError,
    NotInstalledError,
    installed_version,
    measure,
)
from firmware.release import compare
from tests.firmware.conftest import SMALL_MODEL, Stage


def _measure(stage: Stage) -> ReleaseManifest:
    return measure(packages=stage.packages, model_dir=stage.models, version="1.2.3").manifest


def test_the_installed_measurement_covers_code_config_and_models() -> None:
    m = measure()
    files, models = m.manifest.files, m.models
    assert m.manifest.name == "edgeproof" and m.manifest.version == installed_version()
    for path in (
        "attest/manifest.py",
        "edge/measure.py",
        "edge/keystore/tpm.py",
        "edgeproof_cli/__init__.py",
        "firmware/release.py",
        "firmware/image/edgeproof.toml",  # the default device configuration
        "firmware/models/manifest.json",
    ):
        assert path in files, path
    assert not [p for p in files if "__pycache__" in p or p.endswith(".tflite")]
    assert SMALL_MODEL in models and "face_landmark.tflite" in models
    assert m.digest == m.manifest.digest() and len(m.digest) == 32


def test_the_measurement_is_deterministic(stage: Stage) -> None:
    # On a frozen copy: the shared working tree may change between two measurements.
    first, second = _measure(stage), _measure(stage)
    assert first.encode() == second.encode()
    assert first.digest() == ReleaseManifest.decode(first.encode()).digest()


@pytest.mark.parametrize("override", [False, True])
def test_the_measured_model_folder_is_the_one_the_face_code_loads(
    override: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from edge.face.models import model_dir
    from edge.measure import default_model_dir

    if override:
        monkeypatch.setenv("EDGEPROOF_MODEL_DIR", str(tmp_path))
    else:
        monkeypatch.delenv("EDGEPROOF_MODEL_DIR", raising=False)
    assert default_model_dir().resolve() == model_dir().resolve()


def test_a_tampered_file_changes_the_measurement(stage: Stage) -> None:
    before = _measure(stage)
    target = stage.root / "edge" / "measure.py"
    target.write_bytes(target.read_bytes() + b"\n# one more line\n")
    after = _measure(stage)
    assert after.digest() != before.digest()
    diff = compare(before, after)
    assert diff.changed == ("edge/measure.py",) and not diff.added and not diff.missing


def test_added_removed_and_model_changes_are_seen(stage: Stage) -> None:
    before = _measure(stage)
    (stage.root / "edge" / "sitecustomize.py").write_text("print('hello')\n")
    (stage.root / "attest" / "ear.py").unlink()
    model = stage.models / SMALL_MODEL
    data = bytearray(model.read_bytes())
    data[1000] ^= 0xFF
    model.write_bytes(bytes(data))
    after = _measure(stage)
    diff = compare(before, after)
    assert diff.added == ("edge/sitecustomize.py",)
    assert diff.missing == ("attest/ear.py",)
    assert diff.changed == (f"model:{SMALL_MODEL}",)
    assert after.models[SMALL_MODEL] != before.models[SMALL_MODEL]


def test_byte_code_caches_are_not_measured(stage: Stage) -> None:
    before = _measure(stage)
    cache = stage.root / "edge" / "__pycache__"
    cache.mkdir(exist_ok=True)
    (cache / "measure.cpython-311.pyc").write_bytes(b"\0" * 16)
    assert _measure(stage).digest() == before.digest()


def test_symlinks_are_refused(stage: Stage) -> None:
    os.symlink("/etc/hostname", stage.root / "edge" / "link.py")
    with pytest.raises(InstalledTreeError, match="not a regular file"):
        _measure(stage)
    (stage.root / "edge" / "link.py").unlink()
    os.symlink(stage.root / "attest", stage.root / "edge" / "linked_dir")
    with pytest.raises(InstalledTreeError, match="symlink"):
        _measure(stage)


def test_names_a_manifest_cannot_hold_are_refused(stage: Stage) -> None:
    (stage.root / "edge" / "bad name.py").write_text("")
    with pytest.raises(InstalledTreeError) as info:
        _measure(stage)
    assert info.value.code == "measure.bad-tree"


def test_missing_model_folder(tmp_path: Path, stage: Stage) -> None:
    with pytest.raises(NotInstalledError):
        measure(packages=stage.packages, model_dir=tmp_path / "none", version="1")


def test_evidence_measurements(stage: Stage) -> None:
    m = measure(packages=stage.packages, model_dir=stage.models, version="1")
    got = m.evidence_measurements(detector=SMALL_MODEL, landmarks=SMALL_MODEL, embedder=SMALL_MODEL)
    assert got[MeasuredItem.RELEASE_MANIFEST] == m.digest
    assert got[MeasuredItem.EMBEDDING_MODEL] == m.models[SMALL_MODEL]
    with pytest.raises(NotInstalledError, match=r"sface\.tflite"):
        m.evidence_measurements(
            detector=SMALL_MODEL, landmarks=SMALL_MODEL, embedder="sface.tflite"
        )
