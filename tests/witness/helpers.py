"""Witnesses for tests and benchmarks: `edgeproof witness init` + `serve` on 127.0.0.1."""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path

import httpx

from tests.rig import free_port, stop_process, wait_for
from tests.verifier.helpers import EDGEPROOF, REPO, VerifierServer

ORIGIN = "edgeproof-verifier"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [*EDGEPROOF, *args], env=env, capture_output=True, text=True, check=False, timeout=60
    )


class WitnessProc:
    """`edgeproof witness init` + `serve` on 127.0.0.1, stopped by PID."""

    def __init__(self, root: Path, name: str, log_vkey: str) -> None:
        self.root = root
        self.name = name
        out = run_cli("witness", "init", "--dir", str(root), "--name", name, "--log", log_vkey)
        assert out.returncode == 0, out.stderr
        self.vkey = re.search(r"witness vkey:\s+(\S+)", out.stdout).group(1)  # type: ignore[union-attr]
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> WitnessProc:
        self.port = free_port()
        log = open(self.root / "serve.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                *EDGEPROOF,
                "witness",
                "serve",
                "--dir",
                str(self.root),
                "--bind",
                f"127.0.0.1:{self.port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
            start_new_session=True,
        )
        log.close()

        def up() -> bool:
            try:
                return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, 30, f"witness {self.name}")
        return self

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None

    def view(self) -> str:
        h = hashlib.sha256(ORIGIN.encode()).hexdigest()
        r = httpx.get(f"{self.url}/{h}/checkpoint", timeout=5)
        assert r.status_code == 200, r.text
        return r.text


def configure_witnesses(
    server: VerifierServer, witnesses: list[WitnessProc], interval_ms: int = 1000
) -> None:
    """Name the witnesses in an initialised (not yet started) verifier's configuration."""
    cfg = server.config.read_text()
    listed = ", ".join(f'"{w.vkey} {w.url}"' for w in witnesses)
    cfg = cfg.replace("witnesses = []", f"witnesses = [{listed}]")
    cfg = cfg.replace("checkpoint_interval_ms = 1000", f"checkpoint_interval_ms = {interval_ms}")
    server.config.write_text(cfg)
