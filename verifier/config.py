"""Typed configuration: a TOML file, overridden by EDGEPROOF_VERIFIER_* variables.

Parsing (`parse_config`) is pure and rejects unknown keys, so a typo fails at start-up
instead of silently running with a default. Loading (`load_config`) does the I/O. The
database URL may carry a password: it is never shown in repr() or logs, only
`Config.describe()`'s redacted view is.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from verifier.errors import ConfigError

ENV_PREFIX = "EDGEPROOF_VERIFIER_"
ENV_CONFIG_FILE = ENV_PREFIX + "CONFIG"  # path of the TOML file; not itself a setting
MAX_EVIDENCE_BYTES = 16 * 1024  # ARCHITECTURE.md: evidence bodies capped at 16 KiB
POLICIES = ("production", "demo")
# Which EAR profile results are issued in when the request does not ask (attest/ear.py):
# draft-ietf-rats-ear-04, or the 2023 profile that Veraison's libraries read.
RESULT_PROFILES = {
    "ear-04": "tag:ietf.org,2026:rats/ear#04",
    "veraison-2023": "tag:github.com,2023:veraison/ear",
}
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+-]{0,63}")


@dataclass(frozen=True)
class Config:
    instance_path: Path
    database_url: str = field(default="", repr=False)  # secret: may hold a password
    result_key: Path | None = None  # private PEM of the current result-signing key
    retiring_result_keys: tuple[Path, ...] = ()  # PEMs (public or private) still published
    release_keys: tuple[Path, ...] = ()  # public PEMs of trusted release (manifest) keys
    policy: str = "production"
    result_profile: str = "ear-04"
    verifier_build: str = "edgeproof-verifier-0.1.0"
    log_origin: str = "edgeproof-verifier"
    # The log's Ed25519 note key (C2SP signed-note), private PEM; default in the instance.
    log_key: Path | None = None
    # Witnesses asked to cosign each checkpoint: "<vkey> <URL prefix>" (verifier/tlog.py).
    witnesses: tuple[str, ...] = ()
    checkpoint_interval_ms: int = 1000
    nonce_ttl_s: int = 300
    clock_skew_s: int = 60
    max_json_bytes: int = 8 * 1024
    max_evidence_bytes: int = MAX_EVIDENCE_BYTES

    def __post_init__(self) -> None:
        if not self.database_url:
            url = f"sqlite:///{self.instance_path / 'verifier.db'}"
            object.__setattr__(self, "database_url", url)
        if self.result_key is None:
            object.__setattr__(self, "result_key", self.instance_path / "result-key.pem")
        if self.log_key is None:
            object.__setattr__(self, "log_key", self.instance_path / "log-key.pem")
        if not self.database_url.startswith(("sqlite:///", "postgresql+psycopg://")):
            raise ConfigError("database_url must be sqlite:///PATH or postgresql+psycopg://...")
        if self.policy not in POLICIES:
            raise ConfigError(f"policy must be one of {POLICIES}, not {self.policy!r}")
        if self.result_profile not in RESULT_PROFILES:
            raise ConfigError(f"result_profile must be one of {sorted(RESULT_PROFILES)}")
        for name in ("verifier_build", "log_origin"):
            if not _ID.fullmatch(getattr(self, name)):
                raise ConfigError(f"{name} must be a short identifier")
        _bounded("nonce_ttl_s", self.nonce_ttl_s, 10, 3600)
        _bounded("checkpoint_interval_ms", self.checkpoint_interval_ms, 50, 60_000)
        if any(" " not in w.strip() for w in self.witnesses):
            raise ConfigError("each witness is '<vkey> <URL prefix>'")
        _bounded("clock_skew_s", self.clock_skew_s, 0, 600)
        _bounded("max_json_bytes", self.max_json_bytes, 1024, 64 * 1024)
        _bounded("max_evidence_bytes", self.max_evidence_bytes, 1024, MAX_EVIDENCE_BYTES)

    @property
    def backend(self) -> str:
        return "sqlite" if self.database_url.startswith("sqlite") else "postgresql"

    def describe(self) -> dict[str, Any]:
        """What may be logged: everything but secrets (the URL keeps only scheme and host)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            out[f.name] = [str(p) for p in v] if isinstance(v, tuple) else str(v)
        out["database_url"] = _redact_url(self.database_url)
        return out


def _bounded(name: str, v: int, lo: int, hi: int) -> None:
    if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
        raise ConfigError(f"{name} must be an integer in {lo}..{hi}")


def _redact_url(url: str) -> str:
    return re.sub(r"//[^@/]*@", "//***@", url)


_KINDS: dict[str, str] = {
    "instance_path": "path",
    "database_url": "str",
    "result_key": "path",
    "retiring_result_keys": "paths",
    "release_keys": "paths",
    "policy": "str",
    "result_profile": "str",
    "verifier_build": "str",
    "log_origin": "str",
    "log_key": "path",
    "witnesses": "strs",
    "checkpoint_interval_ms": "int",
    "nonce_ttl_s": "int",
    "clock_skew_s": "int",
    "max_json_bytes": "int",
    "max_evidence_bytes": "int",
}


def parse_config(values: Mapping[str, Any], *, base: Path | None = None) -> Config:
    """A Config from plain values; relative paths resolve against `base`."""
    unknown = sorted(set(values) - set(_KINDS))
    if unknown:
        raise ConfigError(f"unknown configuration keys {unknown}; known: {sorted(_KINDS)}")
    if "instance_path" not in values:
        raise ConfigError("instance_path is required")
    root = base or Path.cwd()
    out: dict[str, Any] = {}
    for key, v in values.items():
        kind = _KINDS[key]
        if kind == "int":
            if isinstance(v, str) and re.fullmatch(r"-?[0-9]{1,9}", v):
                v = int(v)
            if not isinstance(v, int) or isinstance(v, bool):
                raise ConfigError(f"{key} must be an integer")
        elif kind == "str":
            if not isinstance(v, str):
                raise ConfigError(f"{key} must be a string")
        elif kind == "strs":
            if isinstance(v, str):  # the environment: comma-separated
                v = [w for w in v.split(",") if w.strip()]
            if not isinstance(v, list) or not all(isinstance(w, str) and w for w in v):
                raise ConfigError(f"{key} must be a list of strings")
            v = tuple(v)
        elif kind == "path":
            if not isinstance(v, str) or not v:
                raise ConfigError(f"{key} must be a path")
            v = root / v
        else:
            if isinstance(v, str):
                v = [p for p in v.split(",") if p]
            if not isinstance(v, list) or not all(isinstance(p, str) and p for p in v):
                raise ConfigError(f"{key} must be a list of paths")
            v = tuple(root / p for p in v)
        out[key] = v
    try:
        return Config(**out)
    except TypeError as exc:  # pragma: no cover - keys are checked above
        raise ConfigError(str(exc)) from None


def load_config(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """The file (if any), then the environment on top of it."""
    env = os.environ if environ is None else environ
    if path is None and env.get(ENV_CONFIG_FILE):
        path = Path(env[ENV_CONFIG_FILE])
    values: dict[str, Any] = {}
    base = Path.cwd()
    if path is not None:
        try:
            values.update(tomllib.loads(path.read_text(encoding="utf-8")))
        except OSError as exc:
            raise ConfigError(f"cannot read configuration file {path}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}") from None
        base = path.resolve().parent
    for name, v in env.items():
        if name.startswith(ENV_PREFIX) and name != ENV_CONFIG_FILE:
            key = name[len(ENV_PREFIX) :].lower()
            if key not in _KINDS:
                raise ConfigError(f"unknown environment setting {name}")
            values[key] = v
    return parse_config(values, base=base)


def write_config(config: Config, path: Path) -> None:
    """The TOML file `init` leaves behind, readable by its owner only."""
    lines = []
    for f in fields(config):
        v = getattr(config, f.name)
        if isinstance(v, tuple):
            lines.append(f"{f.name} = [{', '.join(_toml_str(str(p)) for p in v)}]")
        elif isinstance(v, int):
            lines.append(f"{f.name} = {v}")
        else:
            lines.append(f"{f.name} = {_toml_str(str(v))}")
    # 0600: the database URL may carry a password (issue 16, finding 10).
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # a file that existed keeps its mode through O_CREAT: set it
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")


def _toml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
