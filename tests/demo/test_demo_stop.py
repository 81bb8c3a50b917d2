"""A stopped demo leaves nothing behind: SIGINT (Ctrl-C), SIGTERM, SIGHUP (a closed terminal).

Each signal is sent to a running `edgeproof demo` once its verifier is up. Then: the demo
exits with 128+N and one line (no traceback), the verifier (gunicorn, in its own session
so the terminal's signals do not reach it) is gone, and the temporary folder holding the
device key and the verifier's database is removed.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.rig import REPO

EDGEPROOF = [sys.executable, "-m", "edgeproof_cli"]


def _processes_mentioning(text: str) -> list[int]:
    """PIDs whose command line contains `text` (the demo's temporary folder)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmdline:
            found.append(int(entry.name))
    return found


@pytest.mark.parametrize(
    ("sig", "when"),
    [
        (signal.SIGINT, "verifier up at"),
        (signal.SIGTERM, "verifier up at"),
        (signal.SIGHUP, "verifier up at"),
        # while `verifier init` / gunicorn boot in the background
        (signal.SIGTERM, "starting in the background"),
    ],
)
def test_signal_stops_the_demo_cleanly(tmp_path: Path, sig: signal.Signals, when: str) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp), "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [*EDGEPROOF, "demo", "--reader", "in-process"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    lines: list[str] = []
    up = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if when in line:
                up.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert up.wait(120), "".join(lines)[-2000:]
        m = re.search(r"\(pid (\d+)\)", "".join(lines))
        verifier_pid = int(m.group(1)) if m else None
        folders = list(tmp.glob("edgeproof-demo-*"))
        assert len(folders) == 1
        time.sleep(1.0)  # into enrolment and the first session, or into the boot
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    reader.join(timeout=10)
    assert proc.returncode == 128 + sig, err
    assert "Traceback" not in err, err
    assert [ln for ln in err.splitlines() if ln.strip()] == [
        f"edgeproof demo: stopped by {sig.name}; verifier stopped, temporary folder removed"
    ]
    if verifier_pid is not None:
        with pytest.raises(ProcessLookupError):
            os.kill(verifier_pid, 0)
    assert _processes_mentioning(str(tmp)) == []
    assert list(tmp.iterdir()) == []


def test_a_swallowed_stop_signal_still_stops_the_demo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Code that catches BaseException where the signal lands (a finaliser, a third-party
    fallback) swallows the demo's `Stopped`; the demo must still end with 128+N, not 0."""
    import argparse

    from edgeproof_cli import demo

    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signal handlers run only in the main thread")

    def run_swallowing(work: Path, out: Path | None, reader: str) -> int:
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)  # the handler runs here and raises Stopped...
        except BaseException:  # ...which this swallows, on purpose
            pass
        return 0

    monkeypatch.setattr(demo, "_run", run_swallowing)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    before = signal.getsignal(signal.SIGTERM)
    code = demo._demo(argparse.Namespace(out=None, reader="in-process"))
    assert code == 128 + signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) == before
    assert list(tmp_path.iterdir()) == []
