"""A whole capture-liveness-match session, watched from inside by Python audit hooks.

Run as `python -B -m tests.capture.privacy_probe [--leak DIR | --leak-native DIR]`; prints
one JSON object: the liveness and match outcomes, the erasure report, and every audited
event that could put data on disk or on the network during the session. test_privacy.py
runs it plainly (audit hooks) and under strace (which also sees writes made by C
libraries, invisible to audit hooks). The --leak options make it write a frame on purpose,
so the tests can show that each watcher catches a leak (a test that cannot fail is no test).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
#: Audit events that create, change or remove files, start programs or use the network.
FLAGGED = {
    "os.rename", "os.remove", "os.rmdir", "os.mkdir", "os.truncate", "os.symlink", "os.link",
    "os.chmod", "os.chown", "os.utime", "os.posix_spawn", "os.system", "os.exec", "os.fork",
    "shutil.copyfile", "shutil.copytree", "shutil.move", "shutil.rmtree", "shutil.make_archive",
    "tempfile.mkstemp", "tempfile.mkdtemp", "subprocess.Popen", "socket.connect",
    "socket.bind", "socket.sendto", "socket.sendmsg",
}  # fmt: skip

watching = False
violations: list[str] = []


def hook(event: str, args: tuple[Any, ...]) -> None:
    if not watching:
        return
    if event == "open":
        path, mode, flags = (*args, None, None, None)[:3]
        writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            isinstance(flags, int) and flags & WRITE_FLAGS
        )
        if writing:
            violations.append(f"open {path!r} mode={mode!r} flags={flags!r}")
    elif event in FLAGGED:
        violations.append(f"{event} {args!r}"[:300])


def main() -> int:
    global watching
    ap = argparse.ArgumentParser()
    ap.add_argument("--leak", help="write one frame with numpy into this folder")
    ap.add_argument("--leak-native", help="write one frame with OpenCV (C++) into this folder")
    args = ap.parse_args()
    sys.addaudithook(hook)

    import numpy as np

    from attest.challenge import parse_challenge_spec
    from edge.capture import CaptureSession
    from edge.capture.replay import FileReplaySource
    from edge.face import wiped
    from edge.face.imaging import read_image
    from edge.face.match import FaceMatcher
    from edge.liveness.engine import FaceModels, LivenessEngine
    from tests.shared import CLIP, STILL

    clip = CLIP
    # Everything is loaded before watching starts: reading model files is expected.
    models = FaceModels.load()
    matcher = FaceMatcher()
    chip = read_image(STILL)  # "DG2 photo"
    if args.leak_native:
        import cv2

    watching = True
    source = FileReplaySource(clip, start_frame=60, end_frame=211)
    engine = LivenessEngine(models, parse_challenge_spec("turn_right,turn_right"))
    candidates = np.zeros((4, *source.format.shape), np.uint8)  # owned here, wiped below
    picked = 0
    with wiped(chip, candidates), CaptureSession(source, buffer_frames=4) as session:
        try:
            for frame in session.frames():
                if args.leak and frame.index == 10:
                    np.save(os.path.join(args.leak, "frame.npy"), frame.pixels)
                if args.leak_native and frame.index == 10:
                    cv2.imwrite(os.path.join(args.leak_native, "frame.png"), frame.pixels)
                if frame.index in (30, 40, 90, 100) and picked < len(candidates):
                    candidates[picked] = frame.pixels
                    picked += 1
                engine.process(frame)
            liveness = engine.result()
        finally:
            engine.wipe()
        match = matcher.match(chip, list(candidates[:picked]))
    watching = False
    report = session.report
    out = {
        "liveness": liveness.outcome.value if liveness else None,
        "match": match.decision.value,
        "frames_captured": report.frames_captured,
        "frames_erased": report.frames_erased,
        "verified_zero": report.verified_zero,
        "candidates_zero": not candidates.any(),
        "chip_zero": not chip.any(),
        "violations": violations,
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
