"""Log witnesses for the demo, the tests and the benchmarks: `edgeproof witness init` +
`serve` on 127.0.0.1 on a free port, stopped by PID (`WitnessProc`).

The demo (`edgeproof demo`) runs one: `start_for` starts it between `verifier init` and
`serve` (the witness must be in the verifier's configuration before it starts) and
`keep_proof`, after each result, keeps beside it under `--out DIR` its `.tlog-proof` and
the `*.vkey` files that let anyone check it with our tools or another C2SP implementation.
"""

from __future__ import annotations

import hashlib
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from attest import paths
from attest.ear import decode_ear_unverified
from attest.errors import AttestError
from attest.note import Verifier, open_checkpoint
from attest.tlog import TlogProof
from rig.proc import EDGEPROOF, child_env, free_port, healthy, stop_process

#: The verifier log's origin line (its checkpoints' first line).
ORIGIN = "edgeproof-verifier"
NAME = "witness.demo.example/w1"
INTERVAL_MS = 200  # the demo verifier asks for a cosignature this often


def _cli(*args: str) -> str:
    """Run an `edgeproof` command that must succeed; its standard output."""
    out = subprocess.run(
        [*EDGEPROOF, *args],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"edgeproof {args[0]} {args[1]} failed: {out.stderr.strip()[-1000:]}")
    return out.stdout


class WitnessProc:
    """`edgeproof witness init` (in the constructor) + `serve` (`start`), stopped by PID."""

    def __init__(self, root: Path, name: str, log_vkey: str) -> None:
        self.root = root
        self.name = name
        self.log_vkey = log_vkey
        out = _cli("witness", "init", "--dir", str(root), "--name", name, "--log", log_vkey)
        self.vkey = out.split("witness vkey:", 1)[1].split()[0]
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.root / "serve.log"

    def start(self, timeout: float = 30.0) -> WitnessProc:
        self.port = free_port()
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    *(*EDGEPROOF, "witness", "serve", "--dir", str(self.root)),
                    *("--bind", f"127.0.0.1:{self.port}"),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=child_env(),
                start_new_session=True,  # stopped by PID; a terminal's SIGHUP must not reload it
            )
        deadline = time.monotonic() + timeout
        while not healthy(self.url):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                tail = self.log.read_text(errors="replace")[-500:]
                raise RuntimeError(f"witness {self.name} did not start: {tail}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self in RUNNING:
            RUNNING.remove(self)
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None

    def view(self) -> str:
        """The latest checkpoint this witness cosigned for the verifier's log."""
        h = hashlib.sha256(ORIGIN.encode()).hexdigest()
        r = httpx.get(f"{self.url}/{h}/checkpoint", timeout=5)
        if r.status_code != 200:
            raise RuntimeError(f"witness {self.name}: checkpoint: {r.status_code} {r.text}")
        return r.text


def configure_witnesses(config: Path, witnesses: list[WitnessProc], interval_ms: int) -> None:
    """Name the witnesses in an initialised (not yet started) verifier's configuration."""
    text = config.read_text()
    listed = ", ".join(f'"{w.vkey} {w.url}"' for w in witnesses)
    text = text.replace("witnesses = []", f"witnesses = [{listed}]")
    text = text.replace("checkpoint_interval_ms = 1000", f"checkpoint_interval_ms = {interval_ms}")
    config.write_text(text)


RUNNING: list[WitnessProc] = []  # the demo's witness, for `keep_proof(None, ...)`


def start_for(work: Path, instance: Path, say: Callable[[str], None]) -> WitnessProc:
    """Init and serve one witness for the verifier in `instance`; name it in its config."""
    conf = instance / "verifier.toml"
    log_vkey = _cli("verifier", "log-vkey", "--config", str(conf)).strip()
    w = WitnessProc(work / "witness", NAME, log_vkey).start()
    configure_witnesses(conf, [w], INTERVAL_MS)
    assert w.proc is not None
    say(f"witness {NAME} up at {w.url} (pid {w.proc.pid}): it cosigns the log's checkpoints")
    RUNNING[:] = [w]
    return w


def keep_proof(
    w: WitnessProc | None,
    out: Path,
    slug: str,
    verifier_url: str,
    token: str,
    result: bytes,
    say: Callable[[str], None],
) -> None:
    """Write `<slug>.tlog-proof` (once the witness cosigned a checkpoint covering it, at
    most 10 s) and the `log.vkey` and `witness.vkey` files beside it. `w` None: the one
    `start_for` started, if any."""
    if w is None:
        if not RUNNING:
            return
        w = RUNNING[0]
    (out / "log.vkey").write_text(w.log_vkey + "\n")
    (out / "witness.vkey").write_text(w.vkey + "\n")
    try:
        aid = decode_ear_unverified(result).appraisal_id
    except AttestError:
        return
    url = verifier_url + paths.tlog_proof(aid)
    log, wkey = Verifier.from_vkey(w.log_vkey), Verifier.from_vkey(w.vkey)
    deadline = time.monotonic() + 10
    text = ""
    while time.monotonic() < deadline:
        r = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        if r.status_code == 200:
            text = r.text
            cp = open_checkpoint(TlogProof.parse(text).checkpoint, log, [wkey])
            if cp.cosigners:
                break
        time.sleep(INTERVAL_MS / 1000)
    if text:
        (out / f"{slug}.tlog-proof").write_text(text)
        say(f"  log: {slug}.tlog-proof kept (check: edgeproof rp validate ... --proof)")
