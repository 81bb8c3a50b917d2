"""Full passport read through pcscd + vpcd + our emulator, with BAC, PACE-GM and PACE-CAM.

Reads EF.COM, EF.SOD, DG1, DG2 (about 20 KB, JPEG 2000), DG14, DG15, runs passive, chip and
active authentication, and splits the wall time into our own code (crypto, parsing, checks)
and waiting on the transport (pyscard -> pcscd -> vpcd -> emulator, which runs in this process
on its own threads, so its work counts as transport). Bounded: a few reads per protocol.

    python benchmarks/passport_read.py [--reads N]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

from asn1crypto import x509

from edge.mrtd.files import ReadLimits
from edge.mrtd.passive import TrustStore
from edge.mrtd.reader import read_passport
from edge.mrtd.transport import PcscTransport
from rig.mrtd.card import ChipLimits, EmulatedChip
from rig.mrtd.pcscd import missing_parts, pcsc_rig
from rig.mrtd.testdoc import DocOptions, TestDocument, generate

# APDUs a read needs besides file reads: EF.ATR/INFO + EF.CardAccess + SELECT application,
# the access control, CA (MSE:Set AT + GENERAL AUTHENTICATE) and AA (INTERNAL AUTHENTICATE).
# PACE-CAM proves the chip within PACE (no CA) but reads EF.CardSecurity (counted as a file).
PROTOCOL_APDUS = {"BAC": 3 + 2 + 2 + 1, "PACE": 3 + 5 + 2 + 1, "PACE-CAM": 3 + 5 + 1}
PROTOCOLS = {
    "BAC": DocOptions(pace=False),
    "PACE": DocOptions(),
    "PACE-CAM": DocOptions(pace_cam=True),
}
FILES = ("EF.COM", "EF.SOD", "DG1", "DG2", "DG14", "DG15")


class Metered:
    """Counts APDUs and bytes and the time spent inside the transport."""

    def __init__(self, inner: PcscTransport) -> None:
        self.inner = inner
        self.apdus = 0
        self.bytes = 0
        self.wait = 0.0
        self.wait_cpu = 0.0  # this thread's CPU inside the transport (pyscard, pcsc-lite client)

    def transmit(self, apdu: bytes) -> bytes:
        t, c = time.perf_counter(), time.thread_time()
        out = self.inner.transmit(apdu)
        self.wait += time.perf_counter() - t
        self.wait_cpu += time.thread_time() - c
        self.apdus += 1
        self.bytes += len(apdu) + len(out)
        return out


def minimum_apdus(doc: TestDocument, protocol: str, limits: ChipLimits, block: int) -> int:
    """SELECT + ceil(size / largest protected read) per file, plus the protocol's own APDUs."""
    # The same reading of EF.ATR/INFO as edge.mrtd.files.read_limits; short APDUs otherwise.
    read_limits = ReadLimits(limits.max_response, True) if limits.extended_length else ReadLimits()
    step = read_limits.max_read(block)
    files = FILES + (("EF.CardSecurity",) if protocol == "PACE-CAM" else ())
    reads = sum(1 + math.ceil(len(doc.files[name]) / step) for name in files)
    return reads + PROTOCOL_APDUS[protocol]


def run(protocol: str, reads: int, limits: ChipLimits, rig_dir: Path) -> dict[str, float]:
    doc = generate(PROTOCOLS[protocol])
    trust = TrustStore([x509.Certificate.load(doc.csca_der)])
    samples = []
    with pcsc_rig(rig_dir) as rig:
        for _ in range(reads):
            rig.insert(EmulatedChip(doc, limits=limits))
            with PcscTransport(rig.reader) as pcsc:
                metered = Metered(pcsc)
                start, start_cpu = time.perf_counter(), time.thread_time()
                kwargs = {"mrz": doc.mrz_key} if protocol == "BAC" else {"can": doc.can}
                with read_passport(metered, trust=trust, **kwargs) as reading:
                    total = time.perf_counter() - start
                    cpu = time.thread_time() - start_cpu
                    assert reading.authentication.authenticated, reading.authentication
                    assert reading.authentication.protocol.startswith(protocol), protocol
            samples.append((total, metered, cpu - metered.wait_cpu))
    total, metered, own_cpu = sorted(samples, key=lambda s: s[0])[len(samples) // 2]
    own = total - metered.wait
    block = 8 if protocol == "BAC" else 16
    return {
        "apdus": metered.apdus,
        "apdus_min": minimum_apdus(doc, protocol, limits, block),
        "bytes": metered.bytes,
        "total_ms": total * 1000,
        "transport_ms": metered.wait * 1000,
        "own_ms": own * 1000,
        "own_ms_per_apdu": own * 1000 / metered.apdus,
        # CPU time of our code in the reading thread: what "own" costs when the machine is
        # shared (wall-clock "own" then includes waiting for a core)
        "own_cpu_ms_per_apdu": own_cpu * 1000 / metered.apdus,
        "dg2_bytes": len(doc.files["DG2"]),
        "stdev_ms": statistics.pstdev(s[0] for s in samples) * 1000,
    }


def secure_messaging_cost(cipher: str, size: int, rounds: int = 300) -> float:
    """ms of our code per protected READ BINARY of `size` bytes (wrap, chip side excluded)."""
    from edge.mrtd.apdu import CommandApdu, ResponseApdu
    from edge.mrtd.crypto import SessionKeys
    from edge.mrtd.sm import SecureMessaging

    keys = SessionKeys(cipher, bytes(range(16)), bytes(range(16, 32)))  # type: ignore[arg-type]
    reader, chip = SecureMessaging(keys, 0), SecureMessaging(keys, 0)
    data = bytes(size)
    own = 0.0
    for _ in range(rounds):
        t = time.perf_counter()
        wrapped = reader.wrap_command(CommandApdu(0, 0xB0, 0, 0, le=size))
        own += time.perf_counter() - t
        chip.unwrap_command(wrapped)
        answer = chip.wrap_response(ResponseApdu(data, 0x9000))
        t = time.perf_counter()
        reader.unwrap_response(answer)
        own += time.perf_counter() - t
    return own * 1000 / rounds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reads", type=int, default=5, help="reads per protocol (median kept)")
    args = parser.parse_args()
    missing = missing_parts()
    if missing:
        print(f"cannot run: missing {', '.join(missing)}")
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        for label, limits in (
            ("short APDUs only", ChipLimits(extended_length=False)),
            ("extended length (4 KiB buffer)", ChipLimits()),
        ):
            print(f"-- chip with {label}")
            results = {p: run(p, args.reads, limits, Path(tmp)) for p in PROTOCOLS}
            for protocol, r in results.items():
                print(
                    f"{protocol:8}: {r['apdus']} APDUs (minimum {r['apdus_min']}, ratio "
                    f"{r['apdus'] / r['apdus_min']:.2f}), {r['bytes']} bytes, DG2 "
                    f"{r['dg2_bytes']} B; total {r['total_ms']:.1f} ms = transport "
                    f"{r['transport_ms']:.1f} ms + own {r['own_ms']:.1f} ms "
                    f"({r['own_ms_per_apdu']:.3f} ms per APDU, CPU "
                    f"{r['own_cpu_ms_per_apdu']:.3f} ms per APDU, goal < 0.5)"
                )
        for cipher, size in (("3DES", 231), ("AES", 223), ("AES", 4063)):
            print(
                f"secure messaging, our side, {cipher} READ BINARY of {size} B: "
                f"{secure_messaging_cost(cipher, size):.3f} ms per APDU"
            )
        # The BENCH lines describe the default chip (extended length), the common case.
        for protocol, r in results.items():
            print(
                f"BENCH passport_read protocol={protocol} apdus={r['apdus']} "
                f"apdus_min={r['apdus_min']} apdus_ratio={r['apdus'] / r['apdus_min']:.3f} "
                f"bytes={r['bytes']} total_ms={r['total_ms']:.1f} "
                f"transport_ms={r['transport_ms']:.1f} own_ms={r['own_ms']:.1f} "
                f"own_ms_per_apdu={r['own_ms_per_apdu']:.3f} own_ms_per_apdu_goal_ratio="
                f"{r['own_ms_per_apdu'] / 0.5:.2f} "
                f"own_cpu_ms_per_apdu={r['own_cpu_ms_per_apdu']:.3f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
