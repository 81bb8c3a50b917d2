"""The whole demo under `strace -f`: every file it (and the verifier it starts) opens for
writing is listed, and none is an image or a frame. Writes may go only to the demo's
temporary folder (verifier database and log, device key; removed at the end), the kept
`--out` folder (tokens only), Python's and LiteRT's caches under .venv, and /dev.
Also checks the demo's four outcomes, and reads the kept results with `attest inspect`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.rig import REPO, require_binary

IMAGE = re.compile(r"\.(png|jpe?g|jp2|j2k|bmp|ppm|pgm|tiff?|webp|gif|mp4|avi|mkv|npy|npz)$", re.I)
OPEN_W = re.compile(r'open(?:at|at2)?\((?:[^,]+, )?"([^"]+)", ([^,)]+)')


def test_the_demo_writes_no_image_or_frame(tmp_path: Path) -> None:
    strace = require_binary("strace")
    tmp, out = tmp_path / "tmp", tmp_path / "out"
    tmp.mkdir()
    trace = tmp_path / "trace"
    env = {
        **os.environ,
        "TMPDIR": str(tmp),
        "PYTHONPATH": str(REPO),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    cmd = [
        strace, "-f", "-qq", "-e", "trace=open,openat,openat2,creat,rename,renameat,renameat2",
        "-o", str(trace),
        sys.executable, "-m", "edgeproof_cli", "demo", "--reader", "in-process",
        "--out", str(out),
    ]  # fmt: skip
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    for outcome in ("match", "no match"):
        assert f"as expected: {outcome}\n" in r.stdout
    assert r.stdout.count("as expected: liveness fails") == 2
    assert "NOT AS EXPECTED" not in r.stdout
    written: set[str] = set()
    for line in trace.read_text(errors="replace").splitlines():
        m = OPEN_W.search(line)
        if m and re.search(r"O_WRONLY|O_RDWR|O_CREAT|O_TRUNC|O_APPEND", m.group(2)):
            written.add(m.group(1))
        elif "rename" in line:
            written.update(re.findall(r'"([^"]+)"', line))
    allowed = (str(tmp), str(out), "/dev/", str(REPO / ".venv"), sys.prefix)
    outside = sorted(p for p in written if not p.startswith(allowed))
    assert outside == [], outside
    images = sorted(p for p in written if IMAGE.search(p))
    assert images == [], images
    # Evidence and result of each session, each result's log proof, the log's and the
    # witness's note verifier keys: tokens and public data only.
    kept = sorted(p.suffix for p in out.iterdir())
    assert kept == [".cbor"] * 8 + [".tlog-proof"] * 4 + [".vkey"] * 2, kept
    assert list(tmp.iterdir()) == []
    # The kept results, read as an auditor would: the outcome in words.
    for name, outcome in (
        ("right-person", "status affirming, decision match"),
        ("wrong-person", "status affirming, decision no-match"),
        ("photo-replay", "status contraindicated"),
        ("replayed-video", "status contraindicated"),
    ):
        result = str(out / f"{name}.result.cbor")
        ins = subprocess.run(
            [sys.executable, "-m", "edgeproof_cli", "attest", "inspect", result],
            capture_output=True, text=True, timeout=60, env=env, check=False,
        )  # fmt: skip
        assert ins.returncode == 0, ins.stderr
        assert f"outcome: {outcome}" in ins.stdout, ins.stdout
        assert "sourced-data" in ins.stdout
