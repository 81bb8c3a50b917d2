"""Compute time of one whole verification session, excluding the time the person takes.

Steps measured, on one core (sched_setaffinity, LiteRT threads=1), each split into our own
code and waiting on the transport:
  challenge  POST /v1/challenges to a real verifier under gunicorn on 127.0.0.1
  chip       a full read (PACE, DG1, DG2 ~20 KB, EF.SOD, DG14, DG15, passive + chip + active
             authentication) through pcscd + vpcd + the emulator (in-process when pcscd is
             missing); transport = time inside transmit()
  match      the chip photo against 16 frames kept from the recorded clip (what the camera
             step keeps), on the device's default models
  sign       build the claims and sign them (software ES256 key)
  submit     POST /v1/attestations, check the result signature and inclusion proof;
             transport = the HTTP round trips (the verifier's own work included)
Capture and liveness run while the person performs the gestures and are not counted here
(benchmarks/liveness_bench.py measures their per-frame cost).

    python benchmarks/session_bench.py [--sessions N]

Goal (issue 7): total <= 1.0 s, our own code <= 300 ms. Ends with one BENCH line.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
import numpy as np  # noqa: E402
from asn1crypto import x509  # noqa: E402

from attest.evidence import ConsentMethod  # noqa: E402
from attest.keys import SigningKey  # noqa: E402
from edge.face.match import FaceMatcher  # noqa: E402
from edge.mrtd.passive import TrustStore  # noqa: E402
from edge.mrtd.transport import PcscTransport  # noqa: E402
from edge.session import LiveOutcome, run_session  # noqa: E402
from edge.steps import FaceMatchStep, KeptFrames, PassportChipStep, to_liveness  # noqa: E402
from edge.verifier_link import HttpVerifier  # noqa: E402
from rig.mrtd.card import EmulatedChip, InProcessTransport  # noqa: E402
from rig.mrtd.pcscd import missing_parts, pcsc_rig  # noqa: E402
from rig.mrtd.testdoc import DocOptions, generate  # noqa: E402
from rig.verifier import VerifierServer, release  # noqa: E402
from tests.shared import CLIP  # noqa: E402 (public data beside the checkout)

STILL = CLIP.parent / "lin-manuel-miranda.png"  # the clip's performer: the chip photo
GOAL_TOTAL_S, GOAL_OWN_S = 1.0, 0.300


class Clock:
    """Per-step wall time, and time spent waiting on a transport inside the current step."""

    def __init__(self) -> None:
        self.step = "other"
        self.wall: dict[str, float] = {}
        self.wait: dict[str, float] = {}

    def timed(self, step: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*a: Any, **kw: Any) -> Any:
            self.step = step
            t = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                self.wall[step] = self.wall.get(step, 0.0) + time.perf_counter() - t
                self.step = "other"

        return wrapper

    def waited(self, seconds: float) -> None:
        self.wait[self.step] = self.wait.get(self.step, 0.0) + seconds


CLOCK = Clock()


class Metered:
    """A chip transport that books the time inside transmit() as waiting."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def transmit(self, apdu: bytes) -> bytes:
        t = time.perf_counter()
        try:
            out: bytes = self.inner.transmit(apdu)
            return out
        finally:
            CLOCK.waited(time.perf_counter() - t)

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()


def _patch_httpx() -> None:
    """Book the time inside every HTTP request as waiting: the verifier's work is not ours."""
    import httpx

    original = httpx.Client.send

    def send(self: Any, *a: Any, **kw: Any) -> Any:
        t = time.perf_counter()
        try:
            return original(self, *a, **kw)
        finally:
            CLOCK.waited(time.perf_counter() - t)

    httpx.Client.send = send  # type: ignore[method-assign]


def clip_frames(n: int = 16) -> list[np.ndarray]:
    from edge.capture.replay import FileReplaySource

    src = FileReplaySource(str(CLIP))
    frames = []
    buf = np.zeros(src.format.shape, np.uint8)
    i = 0
    while src.read_into(buf) is not None:
        if i % 10 == 0 and 80 <= i <= 240:
            frames.append(buf.copy())
        i += 1
    src.close()
    return frames[:n]


class Live:
    """The camera step's outcome without the camera: the person's time is not measured."""

    def __init__(self, frames: list[np.ndarray]) -> None:
        self.frames = frames

    def run(self, gestures: Any, method: Any, deadline: float) -> tuple[LiveOutcome, KeptFrames]:
        from edge.liveness.result import LivenessResult, Outcome, Reason

        kept = KeptFrames(len(self.frames), self.frames[0].shape)
        for f in self.frames:
            kept.keep(f)
        res = LivenessResult(Outcome.PASSED, Reason.PASSED, "passed", "")
        return LiveOutcome(to_liveness(res, gestures, method), 200, 200, True), kept


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=5)
    args = parser.parse_args()
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

    from edge.measure import measure
    from edge.steps import device_identity

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        rel = release()
        (root / "v").mkdir()
        server = VerifierServer(root / "v", rel.key, policy="demo", workers=1).start()
        try:
            admin = server.client()
            rp = admin.token("relying-party")
            device = SigningKey.generate()
            admin.enrol(device)
            admin.add_release(rel)
            doc = generate(DocOptions(face_photo=str(STILL)))
            trust = TrustStore([x509.Certificate.load(doc.csca_der)])
            matcher = FaceMatcher(threads=1)
            frames = clip_frames()
            identity = device_identity(measure())
            identity = type(identity)(identity.swname, rel.manifest.version, rel.measurements())
            use_pcscd = not missing_parts()
            rig_cm = pcsc_rig(root / "pcsc") if use_pcscd else None
            rig = rig_cm.__enter__() if rig_cm else None
            try:
                totals, owns = [], []
                per_step: dict[str, list[tuple[float, float]]] = {}
                for i in range(args.sessions + 1):  # the first warms the models up
                    global CLOCK
                    CLOCK = clock = Clock()

                    def transport() -> Metered:
                        if rig is not None:
                            rig.insert(EmulatedChip(doc))
                            return Metered(PcscTransport(rig.reader))
                        return Metered(InProcessTransport(EmulatedChip(doc)))

                    link = HttpVerifier(server.base, rp)
                    link.challenge = clock.timed("challenge", link.challenge)  # type: ignore[method-assign]
                    link.submit = clock.timed("submit", link.submit)  # type: ignore[method-assign]
                    chip = PassportChipStep(transport, trust, mrz=doc.mrz_key)
                    chip.read = clock.timed("chip", chip.read)  # type: ignore[method-assign]
                    step = FaceMatchStep(matcher)
                    step.match = clock.timed("match", step.match)  # type: ignore[method-assign]
                    signer = _TimedSigner(device, clock)
                    t0 = time.perf_counter()
                    run_session(
                        verifier=link, chip=chip, live=Live(frames), matcher=step,
                        signer=signer, device=identity, consent=ConsentMethod.OPERATOR_CONFIRMED,
                    )  # fmt: skip
                    total = time.perf_counter() - t0
                    if i == 0:
                        continue
                    totals.append(total)
                    owns.append(total - sum(clock.wait.values()))
                    for name, w in clock.wall.items():
                        per_step.setdefault(name, []).append((w, clock.wait.get(name, 0.0)))
            finally:
                if rig_cm is not None:
                    rig_cm.__exit__(None, None, None)
        finally:
            server.stop()

    via = "pcscd + vpcd" if use_pcscd else "in-process emulator"
    print(f"sessions: {args.sessions} (+1 warm-up), chip via {via}")
    print(f"{'step':10} {'wall ms':>9} {'transport ms':>13} {'own ms':>8}")
    for s, vals in per_step.items():
        w = statistics.median(v[0] for v in vals) * 1000
        t = statistics.median(v[1] for v in vals) * 1000
        print(f"{s:10} {w:9.1f} {t:13.1f} {w - t:8.1f}")
    total_s, own_s = statistics.median(totals), statistics.median(owns)
    print(
        f"total {total_s * 1000:.0f} ms (goal {GOAL_TOTAL_S * 1000:.0f}), "
        f"own {own_s * 1000:.0f} ms (goal {GOAL_OWN_S * 1000:.0f})"
    )
    print(
        f"BENCH session total_s={total_s:.3f} own_s={own_s:.3f} "
        f"ratio_total_to_goal={total_s / GOAL_TOTAL_S:.2f} "
        f"ratio_own_to_goal={own_s / GOAL_OWN_S:.2f} "
        f"chip={'pcscd' if use_pcscd else 'in-process'} sessions={args.sessions}"
    )
    return 0


class _TimedSigner:
    def __init__(self, key: SigningKey, clock: Clock) -> None:
        self.key, self.clock = key, clock
        self.alg, self.kid = key.alg, key.kid

    def sign(self, data: bytes) -> bytes:
        out: bytes = self.clock.timed("sign", self.key.sign)(data)
        return out


if __name__ == "__main__":
    _patch_httpx()
    sys.exit(main())
