"""The demo's witness (`edgeproof demo`): one witness cosigns the demo verifier's log, and
`--out DIR` keeps, beside each result, its `.tlog-proof` and the `*.vkey` files that let
anyone check it with our tools or another C2SP implementation.

edgeproof_cli/demo.py calls `start_for` between `verifier init` and `serve` (the witness
must be in the verifier's configuration before it starts) and `keep_proof` after each
result. Everything binds 127.0.0.1 and the witness process is stopped by its PID.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from attest.ear import decode_ear_unverified
from attest.errors import AttestError
from attest.note import Verifier, open_checkpoint
from attest.tlog import TlogProof

NAME = "witness.demo.example/w1"
INTERVAL_MS = 200  # the demo verifier asks for a cosignature this often
EDGEPROOF = [sys.executable, "-m", "edgeproof_cli"]


class DemoWitness:
    def __init__(
        self, root: Path, log_vkey: str, vkey: str, url: str, proc: subprocess.Popen[bytes]
    ):
        self.root = root
        self.log_vkey = log_vkey
        self.vkey = vkey
        self.url = url
        self.proc = proc

    def stop(self) -> None:
        if self in RUNNING:
            RUNNING.remove(self)
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def start_for(work: Path, instance: Path, say: Callable[[str], None]) -> DemoWitness:
    """Init and serve one witness for the verifier in `instance`; name it in its config."""
    conf = instance / "verifier.toml"
    vkey_out = subprocess.run(
        [*EDGEPROOF, "verifier", "log-vkey", "--config", str(conf)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    log_vkey = vkey_out.stdout.strip()
    root = work / "witness"
    init = subprocess.run(
        [*EDGEPROOF, "witness", "init", "--dir", str(root), "--name", NAME, "--log", log_vkey],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    vkey = init.stdout.split("witness vkey:", 1)[1].split()[0]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    log = (work / "witness.log").open("wb")
    proc = subprocess.Popen(
        [*EDGEPROOF, "witness", "serve", "--dir", str(root), "--bind", f"127.0.0.1:{port}"],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # the demo stops it by PID; a terminal's SIGHUP must not reload it
    )
    log.close()
    w = DemoWitness(root, log_vkey, vkey, url, proc)
    deadline = time.monotonic() + 30
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        if proc.poll() is not None or time.monotonic() > deadline:
            w.stop()
            raise RuntimeError(
                "the witness did not start: " + (work / "witness.log").read_text()[-500:]
            )
        time.sleep(0.1)
    text = conf.read_text()
    text = text.replace("witnesses = []", f'witnesses = ["{vkey} {url}"]')
    text = text.replace("checkpoint_interval_ms = 1000", f"checkpoint_interval_ms = {INTERVAL_MS}")
    conf.write_text(text)
    say(f"witness {NAME} up at {url} (pid {proc.pid}): it cosigns the log's checkpoints")
    RUNNING[:] = [w]
    return w


RUNNING: list[DemoWitness] = []  # the demo's witness, for `keep_proof(None, ...)`


def keep_proof(
    w: DemoWitness | None,
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
    url = f"{verifier_url}/v1/attestations/{aid}/tlog-proof"
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
