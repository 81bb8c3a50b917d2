"""The model files and their manifest (firmware/models/manifest.json).

Why a manifest: the models are part of the measured device image; their digests go into
the attestation's measurements claim, and the verifier compares them with the reference
values of the release. A model is therefore only ever loaded after its bytes were checked
against the manifest, so the model that ran is the model that was measured.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from edge.face.errors import ModelError

_ROLES = ("detector", "landmarks", "embedder")


@dataclass(frozen=True)
class ModelInfo:
    """One manifest entry, parsed and checked at the boundary."""

    name: str
    file: str
    sha256: str
    role: str
    input_shape: tuple[int, ...]
    embedding_dim: int | None
    licence: str

    @classmethod
    def parse(cls, name: str, raw: Any) -> ModelInfo:
        if not isinstance(raw, dict):
            raise ModelError(
                f"manifest entry {name!r} is not an object", code="face.manifest-invalid"
            )
        try:
            file, digest, role = str(raw["file"]), str(raw["sha256"]), str(raw["role"])
            shape = tuple(int(v) for v in raw["input"]["shape"])
            dim = raw.get("embedding_dim")
            licence = str(raw["licence"])
        except (KeyError, TypeError, ValueError) as e:
            raise ModelError(
                f"manifest entry {name!r} lacks or mangles {e}", code="face.manifest-invalid"
            ) from e
        if role not in _ROLES or "/" in file or len(digest) != 64:
            raise ModelError(f"manifest entry {name!r} is malformed", code="face.manifest-invalid")
        if role == "embedder" and not isinstance(dim, int):
            raise ModelError(
                f"embedder {name!r} has no embedding_dim", code="face.manifest-invalid"
            )
        return cls(name, file, digest, role, shape, dim if isinstance(dim, int) else None, licence)


def model_dir() -> Path:
    """The folder holding the models: $EDGEPROOF_MODEL_DIR, else the installed firmware/models."""
    override = os.environ.get("EDGEPROOF_MODEL_DIR")
    if override:
        return Path(override)
    return Path(str(resources.files("firmware").joinpath("models")))


_lock = threading.Lock()
_manifests: dict[Path, dict[str, ModelInfo]] = {}
_verified: set[tuple[Path, str]] = set()


def manifest(directory: Path | None = None) -> dict[str, ModelInfo]:
    """All manifest entries by name (parsed once per folder)."""
    folder = (directory or model_dir()).resolve()
    with _lock:
        if folder not in _manifests:
            path = folder / "manifest.json"
            try:
                raw = json.loads(path.read_text(encoding="utf-8"))
            except FileNotFoundError as e:
                raise ModelError(f"no model manifest at {path}") from e
            except (ValueError, UnicodeDecodeError) as e:
                raise ModelError(f"{path} is not JSON: {e}", code="face.manifest-invalid") from e
            models = raw.get("models") if isinstance(raw, dict) else None
            if not isinstance(models, dict):
                raise ModelError(f"{path} has no 'models' object", code="face.manifest-invalid")
            _manifests[folder] = {n: ModelInfo.parse(n, v) for n, v in models.items()}
        return _manifests[folder]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def model_info(name: str, role: str | None = None, directory: Path | None = None) -> ModelInfo:
    """The manifest entry for `name`; `role` guards against, e.g., a detector as embedder."""
    entries = manifest(directory)
    info = entries.get(name)
    if info is None:
        known = ", ".join(sorted(n for n, m in entries.items() if role in (None, m.role)))
        raise ModelError(f"unknown model {name!r}; known: {known}", code="face.model-unknown")
    if role is not None and info.role != role:
        raise ModelError(
            f"model {name!r} is a {info.role}, not a {role}", code="face.model-unknown"
        )
    return info


def verified_path(name: str, role: str | None = None, directory: Path | None = None) -> Path:
    """Path of a model file whose sha256 matches the manifest (hashed once per process)."""
    folder = (directory or model_dir()).resolve()
    info = model_info(name, role, folder)
    path = folder / info.file
    with _lock:
        if (folder, name) in _verified:
            return path
    if not path.is_file():
        raise ModelError(f"model file {path} is missing; run firmware/models/reproduce.py")
    digest = sha256_file(path)
    if digest != info.sha256:
        raise ModelError(
            f"{path} has sha256 {digest}, manifest says {info.sha256}",
            code="face.model-digest-mismatch",
        )
    with _lock:
        _verified.add((folder, name))
    return path


def model_digests(directory: Path | None = None) -> dict[str, str]:
    """name -> sha256 of every model, for the attestation's measurements claim."""
    return {n: m.sha256 for n, m in manifest(directory).items()}
