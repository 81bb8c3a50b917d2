"""The witness's folder: `witness.toml`, its cosigner key (0600) and its SQLite state.

```
name = "witness.example/w1"          # the cosigner's key name (tlog-cosignature)
logs = ["edgeproof-verifier+1a2b3c4d+AX..."]   # vkeys of the logs it witnesses
```
Unknown keys are refused, so a typo fails at start-up.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from attest.note import ALG_COSIGNATURE_V1, ALG_ED25519, NoteError, Signer, Verifier

CONFIG = "witness.toml"
KEY = "witness-key.pem"
DB = "witness.db"
ENV_DIR = "EDGEPROOF_WITNESS_DIR"


class WitnessConfigError(Exception):
    pass


@dataclass(frozen=True)
class WitnessConfig:
    root: Path
    name: str
    logs: tuple[Verifier, ...]

    @property
    def db(self) -> Path:
        return self.root / DB

    def signer(self) -> Signer:
        try:
            pem = (self.root / KEY).read_bytes()
            return Signer.from_pem(self.name, pem, ALG_COSIGNATURE_V1)
        except OSError as exc:
            raise WitnessConfigError(f"cannot read {self.root / KEY}: {exc.strerror}") from None
        except NoteError as exc:
            raise WitnessConfigError(f"{self.root / KEY}: {exc.message}") from None


def _toml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write(cfg: WitnessConfig) -> None:
    text = f"name = {_toml_str(cfg.name)}\nlogs = [\n"
    text += "".join(f"    {_toml_str(v.vkey)},\n" for v in cfg.logs) + "]\n"
    path = cfg.root / CONFIG
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def load(root: Path) -> WitnessConfig:
    path = root / CONFIG
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise WitnessConfigError(f"cannot read {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise WitnessConfigError(f"{path} is not valid TOML: {exc}") from None
    unknown = sorted(set(doc) - {"name", "logs"})
    if unknown:
        raise WitnessConfigError(f"{path}: unknown keys {unknown}; known: ['logs', 'name']")
    name, logs = doc.get("name"), doc.get("logs", [])
    if not isinstance(name, str) or not isinstance(logs, list):
        raise WitnessConfigError(f"{path}: name is a string and logs a list of vkeys")
    try:
        vkeys = tuple(Verifier.from_vkey(str(v)) for v in logs)
    except NoteError as exc:
        raise WitnessConfigError(f"{path}: a log vkey: {exc.message}") from None
    for v in vkeys:
        if v.alg != ALG_ED25519:
            raise WitnessConfigError(f"{path}: log {v.name} must be an Ed25519 note key (0x01)")
    return WitnessConfig(root, name, vkeys)


def init(root: Path, name: str, logs: list[str]) -> tuple[WitnessConfig, Signer]:
    """A new witness folder (0700), key (0600) and configuration; refuses an existing one."""
    if (root / CONFIG).exists():
        raise WitnessConfigError(f"{root} already holds a witness")
    try:
        vkeys = tuple(Verifier.from_vkey(v) for v in logs)
        signer = Signer.generate(name, ALG_COSIGNATURE_V1)
    except NoteError as exc:
        raise WitnessConfigError(exc.message) from None
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(root, 0o700)
    fd = os.open(root / KEY, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(signer.private_pem())
    cfg = WitnessConfig(root, name, vkeys)
    write(cfg)
    return cfg, signer
