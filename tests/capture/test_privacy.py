"""Privacy as a tested property: a whole capture-liveness-match session writes nothing.

Two independent watchers over the same session (tests/capture/privacy_probe.py):
Python audit hooks inside the process (every `open` for writing, file-system changes,
subprocesses, sockets) and `strace -f` outside it, which also sees what C libraries
(OpenCV, FFmpeg, LiteRT) do. Each is shown to catch a deliberate leak, so a green run
means something. Plus: the frame buffers are zero after a real session, also after an
exception in the middle of one.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge.face.embed import DEFAULT_EMBEDDER
from tests.rig import REPO, require, require_binary
from tests.shared import CLIP

MODELS = REPO / "firmware" / "models"
# Syscalls that change the file system or talk to the network.
_MUTATING = re.compile(
    r"^(rename|renameat2?|unlink|unlinkat|mkdir|mkdirat|rmdir|truncate|ftruncate|link|linkat|"
    r"symlink|symlinkat|chmod|fchmod|fchmodat|chown|fchown|fchownat|lchown|mknod|mknodat|"
    r"connect|bind|sendto|sendmsg|sendmmsg|utimensat)\("
)
_OPEN = re.compile(r"^(open|openat|openat2|creat)\(")
_WRITE_FLAGS = re.compile(r"O_WRONLY|O_RDWR|O_CREAT|O_TRUNC|O_APPEND")
_WRITE = re.compile(r"^(write|pwrite64|writev|pwritev2?)\((\d+),.*= (\d+)$")
#: The probe's own JSON line and the runtime's log lines: far below one frame (691 kB).
MAX_STDIO_BYTES = 64 * 1024


def _require_models() -> None:
    for name in ("face_detection_short_range", "face_landmark", DEFAULT_EMBEDDER):
        require((MODELS / f"{name}.tflite").is_file(), f"model file {name}.tflite")


def _probe(*args: str, strace: str | None = None, trace: Path | None = None) -> dict[str, Any]:
    cmd = [sys.executable, "-B", "-m", "tests.capture.privacy_probe", *args]
    if strace is not None and trace is not None:
        cmd = [strace, "-f", "-qq", "-e", "trace=%file,%network,%desc", "-o", str(trace), *cmd]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def _trace_violations(trace: Path) -> list[str]:
    found: list[str] = []
    stdio = 0
    for line in trace.read_text(errors="replace").splitlines():
        call = line.split(" ", 1)[1].lstrip() if " " in line else line
        opens_for_write = _OPEN.match(call) and _WRITE_FLAGS.search(call.split(")", 1)[0])
        if _MUTATING.match(call) or opens_for_write:
            found.append(call[:200])
        elif m := _WRITE.match(call):
            fd, n = int(m.group(2)), int(m.group(3))
            if fd in (1, 2):
                stdio += n
            else:
                found.append(call[:200])
    if stdio > MAX_STDIO_BYTES:
        found.append(f"{stdio} bytes written to stdout/stderr")
    return found


def _assert_clean_session(out: dict[str, Any]) -> None:
    assert out["liveness"] == "passed" and out["match"] == "match"
    assert out["frames_captured"] == out["frames_erased"] == 151
    assert out["verified_zero"] and out["candidates_zero"] and out["chip_zero"]


@pytest.mark.shared("data/video")
def test_audit_hooks_see_no_write_in_a_whole_session(tmp_path: Path) -> None:
    _require_models()
    out = _probe()
    _assert_clean_session(out)
    assert out["violations"] == []
    # The same watcher catches a frame saved to disk from Python.
    leaked = _probe("--leak", str(tmp_path))
    assert any("frame.npy" in v for v in leaked["violations"]), leaked["violations"]


@pytest.mark.shared("data/video")
def test_strace_sees_no_write_in_a_whole_session(tmp_path: Path) -> None:
    _require_models()
    strace = require_binary("strace")
    ok = subprocess.run([strace, "-f", "-o", os.devnull, "true"], capture_output=True)
    require(ok.returncode == 0, "strace allowed to trace (ptrace) in this container")
    trace = tmp_path / "clean.trace"
    out = _probe(strace=strace, trace=trace)
    _assert_clean_session(out)
    assert _trace_violations(trace) == []
    # A frame written by a C library is invisible to audit hooks, but not to strace.
    leak_dir = tmp_path / "leak"
    leak_dir.mkdir()
    leak_trace = tmp_path / "leak.trace"
    leaked = _probe("--leak-native", str(leak_dir), strace=strace, trace=leak_trace)
    assert leaked["violations"] == []  # audit hooks are blind to it...
    caught = _trace_violations(leak_trace)
    assert any("frame.png" in v for v in caught), caught  # ...strace is not


@pytest.mark.shared("data/video")
def test_buffers_are_zero_after_an_exception_in_a_real_session() -> None:
    from edge.capture import CaptureSession
    from edge.capture.replay import FileReplaySource

    views: list[np.ndarray] = []
    session = CaptureSession(FileReplaySource(CLIP), buffer_frames=5)
    with pytest.raises(RuntimeError, match="mid-session"), session:
        for frame in session.frames():
            views.append(frame.pixels)
            assert frame.pixels.any()
            if frame.index == 97:
                raise RuntimeError("mid-session failure")
    report = session.report
    assert report.frames_captured == report.frames_erased == 98
    assert report.verified_zero and report.ended_by == "error"
    assert all(not v.any() for v in views)
