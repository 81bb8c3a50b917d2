"""The filter that keeps LiteRT's INFO line out of normal output passes everything else at
once, in order, including a prompt that has no newline yet (input() writes its prompt to
stderr): the device's operator console must not wait on it."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time

from tests.rig import REPO

CHILD = r"""
import os, sys, time
from edgeproof_cli import _filtered_stderr
with _filtered_stderr():
    os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
    os.write(2, b"INF")
    time.sleep(0.2)
    os.write(2, b"O: Created TensorFlow Lite XNNPACK delegate for CPU.\nfirst\n")
    os.write(2, b"MRZ key: ")
    time.sleep(5)
    os.write(2, b"typed\n")
    print("from python", file=sys.stderr)
print("after", file=sys.stderr)
"""


def test_noise_dropped_prompts_passed_at_once() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD],
        stderr=subprocess.PIPE,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.stderr is not None
    fd = proc.stderr.fileno()
    seen = b""
    start = time.monotonic()
    while b"MRZ key: " not in seen and time.monotonic() - start < 4.5:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            seen += os.read(fd, 4096)
    assert seen == b"first\nMRZ key: ", seen  # before the child's 5 s sleep ends
    rest = proc.stderr.read()
    proc.wait(timeout=30)
    assert seen + rest == b"first\nMRZ key: typed\nfrom python\nafter\n"
