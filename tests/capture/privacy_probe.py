"""The device's whole session as it ships, watched from inside by Python audit hooks.

Run as `python -B -m tests.capture.privacy_probe [--leak DIR | --leak-native DIR |
--leak-net]` with the rig's settings as one JSON object on stdin (test_privacy.py writes
it); prints one JSON object. What runs is the device's code path, nothing rewired:
`edge.session.run_session` with the real steps of edge/steps.py: `PassportChipStep` over
`PcscTransport` (pyscard, real pcscd, an emulated chip behind vpcd, the DG2 photo decoded by
the reader), `CameraLiveStep` on a replayed clip with the real liveness models,
`FaceMatchStep`, the device's software key and `HttpVerifier` talking to a real verifier
under gunicorn. The rig (pcscd, emulator, verifier, a wire tap in front of the verifier)
runs in the test's process, outside this one, so each watcher sees only the device.

The steps are wrapped by watchers that only keep references to what passes through (the
chip reading, the kept frames, the arrays handed to the matcher), to show after the session
that every one of them is zero. The audit hooks record every event that could put data on
disk or on the network; the one connection the device may open from Python is to the
verifier's address (pyscard reaches pcscd from C, which strace checks in test_privacy.py).

The --leak options plant a leak on purpose, so the tests can show that each watcher catches
one (a test that cannot fail is no test): a frame saved with NumPy (audit hooks), a frame
saved with OpenCV's C++ writer (only strace), the document number and a row of the chip
photo posted to the verifier (the wire tap).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
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
#: The frame (counted from 1, as the camera delivers them) a planted leak writes out.
LEAK_FRAME = 10

watching = False
violations: list[str] = []
#: Connections to the verifier the hooks saw (proof that they see the session's sockets).
links = 0
#: The one (host, port) the device may connect to from Python: the verifier.
verifier_address: tuple[str, int] | None = None


def hook(event: str, args: tuple[Any, ...]) -> None:
    global links
    if not watching:
        return
    if event == "open":
        path, mode, flags = (*args, None, None, None)[:3]
        writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            isinstance(flags, int) and flags & WRITE_FLAGS
        )
        if writing:
            violations.append(f"open {path!r} mode={mode!r} flags={flags!r}")
    elif event == "socket.connect" and _address(args) == verifier_address:
        links += 1  # the device's one link out; what it carries is checked on the wire
    elif event in FLAGGED:
        violations.append(f"{event} {args!r}"[:300])


def _address(args: tuple[Any, ...]) -> tuple[str, int] | None:
    addr = args[1] if len(args) > 1 else None
    if isinstance(addr, tuple) and len(addr) >= 2:
        return (str(addr[0]), int(addr[1]))
    return None


class LeakySource:
    """A frame source that writes one frame out (the planted leaks); otherwise the source."""

    def __init__(self, inner: Any, leak: str | None, native: str | None) -> None:
        self.inner, self.leak, self.native, self.n = inner, leak, native, 0

    @property
    def format(self) -> Any:
        return self.inner.format

    def read_into(self, out: Any) -> float | None:
        t: float | None = self.inner.read_into(out)
        self.n += 1
        if self.n == LEAK_FRAME and t is not None:
            if self.leak:
                import numpy as np

                np.save(os.path.join(self.leak, "frame.npy"), out)
            if self.native:
                import cv2

                cv2.imwrite(os.path.join(self.native, "frame.png"), out)
        return t

    def close(self) -> None:
        self.inner.close()


class WatchedChip:
    """The real chip step; keeps the reading to check it is wiped after the session."""

    def __init__(self, inner: Any, leak_to: str | None) -> None:
        self.inner, self.leak_to = inner, leak_to
        self.readings: list[Any] = []

    def read(self, deadline: float) -> Any:
        reading = self.inner.read(deadline)
        self.readings.append(reading)
        if self.leak_to:  # planted: personal data sent to the verifier, beside the protocol
            import httpx

            leak = bytes(reading.document_number()) + reading.face_rgb()[100].tobytes()
            httpx.post(f"{self.leak_to}/v1/challenges", content=leak, timeout=10)
        return reading

    def wiped(self) -> bool:
        """The document number, the MRZ, the encoded photo and every data group read are zero
        (the decoded photo is the array the match step was handed: WatchedMatch)."""
        for r in self.readings:
            inner = r._reading  # the PassportReading the step's reading adapts
            buffers = [inner.document_number, inner.mrz.raw, inner.face.data]
            if any(any(b) for b in [*buffers, *inner.data_groups.values()]):
                return False
        return bool(self.readings)


class WatchedLive:
    """The real camera step; keeps its outcome and the kept frames' buffer."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.outcome: Any = None
        self.kept: Any = None

    def run(self, gestures: Any, method: Any, deadline: float) -> tuple[Any, Any]:
        self.outcome, self.kept = self.inner.run(gestures, method, deadline)
        return self.outcome, self.kept


class WatchedMatch:
    """The real match step; keeps the very arrays it is handed (views, not copies)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.chip: list[Any] = []
        self.frames: list[Any] = []

    def match(self, chip_face: Any, live_frames: Sequence[Any]) -> Any:
        self.chip.append(chip_face)
        self.frames.extend(live_frames)
        return self.inner.match(chip_face, live_frames)


@dataclass
class Device:
    """The device as `edge/verify_cmd.py` builds it, with the watchers around its steps."""

    chip: WatchedChip
    live: WatchedLive
    match: WatchedMatch
    signer: Any
    identity: Any
    verifier: str
    rp_token: str


def build_device(rig: dict[str, Any], args: argparse.Namespace) -> Device:
    """What a device does once at start: load models and key, measure itself. Reading
    files is expected; watching starts with the session."""
    from asn1crypto.x509 import Certificate

    from edge.capture.replay import FileReplaySource
    from edge.face.match import FaceMatcher
    from edge.keystore.base import cose_signer
    from edge.keystore.open import open_keystore
    from edge.liveness.engine import FaceModels
    from edge.measure import measure
    from edge.mrtd.mrz import MrzKey
    from edge.mrtd.passive import TrustStore
    from edge.mrtd.transport import PcscTransport
    from edge.steps import CameraLiveStep, FaceMatchStep, PassportChipStep, device_identity

    models, matcher = FaceModels.load(), FaceMatcher()
    trust = TrustStore([Certificate.load(bytes.fromhex(rig["csca"]))])
    if args.leak_native:
        import cv2  # noqa: F401  (its import opens files; the leak itself is the point)

    def camera(config: Any) -> Any:
        src = FileReplaySource(rig["clip"], start_frame=rig["start"], end_frame=rig["end"])
        if args.leak or args.leak_native:
            return LeakySource(src, args.leak, args.leak_native)
        return src

    chip = PassportChipStep(lambda: PcscTransport(rig["reader"]), trust, MrzKey(*rig["mrz"]))
    return Device(
        chip=WatchedChip(chip, rig["verifier"] if args.leak_net else None),
        live=WatchedLive(CameraLiveStep(camera, models)),
        match=WatchedMatch(FaceMatchStep(matcher)),
        signer=cose_signer(open_keystore(f"file:{rig['key']}")),
        identity=device_identity(measure()),
        verifier=rig["verifier"],
        rp_token=rig["rp_token"],
    )


def run_watched(device: Device) -> dict[str, Any]:
    """One session, exactly as the device runs it, with the audit hooks recording."""
    global watching
    from attest.evidence import ConsentMethod
    from edge.session import SessionError, run_session
    from edge.verifier_link import HttpVerifier

    link = HttpVerifier(device.verifier, device.rp_token)
    watching = True
    try:
        result = run_session(
            verifier=link,
            chip=device.chip,
            live=device.live,
            matcher=device.match,
            signer=device.signer,
            device=device.identity,
            consent=ConsentMethod.OPERATOR_CONFIRMED,
        )
    except SessionError as exc:
        return {"error": f"{exc.step}: {exc.code}: {exc.message}"}
    finally:
        link.close()
        watching = False
    sub, ev = result.submission, result.evidence
    return {
        "document": [
            ev.document.passive.name,
            ev.document.anticlone_method.name,
            ev.document.anticlone.name,
        ],
        "liveness": ev.liveness.result.name.lower(),
        "match": ev.decision.name.lower().replace("_", "-"),
        "status": sub.status if sub else None,
        "decision": sub.decision if sub else None,
        "evidence_token": result.evidence_token.hex(),
        "frames_captured": ev.erasure.captured,
        "frames_erased": ev.erasure.erased,
    }


def wiped(device: Device) -> dict[str, bool]:
    """Every buffer the watchers kept a reference to is zero now the session is over."""
    live, match, kept = device.live, device.match, device.live.kept
    return {
        "verified_zero": bool(live.outcome and live.outcome.erasure_verified),
        "candidates_zero": bool(match.frames)
        and not any(f.any() for f in match.frames)
        and kept is not None
        and not kept._buf.any(),  # the whole preallocated buffer, not only the views
        "chip_zero": bool(match.chip) and not any(c.any() for c in match.chip),
        "chip_data_zero": device.chip.wiped(),
    }


def main() -> int:
    global verifier_address
    ap = argparse.ArgumentParser()
    ap.add_argument("--leak", help="write one frame with numpy into this folder")
    ap.add_argument("--leak-native", help="write one frame with OpenCV (C++) into this folder")
    ap.add_argument("--leak-net", action="store_true", help="post chip data to the verifier")
    args = ap.parse_args()
    rig = json.loads(sys.stdin.read())
    sys.addaudithook(hook)
    host, port = rig["verifier"].removeprefix("http://").rsplit(":", 1)
    verifier_address = (host, int(port))
    device = build_device(rig, args)
    out = run_watched(device) | wiped(device) | {"violations": violations, "links": links}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
