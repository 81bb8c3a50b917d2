"""Mutation fuzzing of the document parsers: the CI tests (tests/mrtd/test_fuzz_documents.py)
and the long run (benchmarks/mrtd_fuzz.py) share this table and these mutators.

A chip, a dump and a trust-store file are untrusted input: every parser must answer bad bytes
with an `MrtdError` (a dotted code), in bounded time and memory. Anything else raised is a
"foreign" exception and a bug. To fuzz another parser, add a `Target` to `targets()`: a
name, a function taking the bytes, and seed inputs (real files where there are some).

Mutators are AFL-style and deterministic per seed: bit flips, "interesting" values written
over 1, 2 or 4 bytes (0, 0x7F, 0x80, 0xFF, 0xFFFF, ...: length fields and image sizes),
truncation, deletion, duplication, insertion of random bytes, and splicing two seeds.
"""

from __future__ import annotations

import datetime as dt
import random
import time
import tracemalloc
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from edge.mrtd.errors import MrtdError

_INTERESTING_8 = (0x00, 0x01, 0x7F, 0x80, 0x81, 0x82, 0x83, 0x84, 0xFF)
_INTERESTING_16 = (0x0000, 0x0080, 0x00FF, 0x7FFF, 0x8000, 0xFFFF)
_INTERESTING_32 = (0x00000000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x00010000)


def mutate(rng: random.Random, data: bytes, seeds: list[bytes]) -> bytes:
    """One to four stacked mutations of `data` (never empty unless `data` is)."""
    out = bytearray(data)
    for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 4))):
        if not out:
            out = bytearray(rng.randbytes(rng.randint(1, 16)))
            continue
        pos = rng.randrange(len(out))
        op = rng.randrange(9)
        if op == 0:  # flip one bit
            out[pos] ^= 1 << rng.randrange(8)
        elif op == 1:  # random byte
            out[pos] = rng.randrange(256)
        elif op == 2:
            out[pos] = rng.choice(_INTERESTING_8)
        elif op == 3 and pos + 2 <= len(out):
            out[pos : pos + 2] = rng.choice(_INTERESTING_16).to_bytes(2, "big")
        elif op == 4 and pos + 4 <= len(out):
            out[pos : pos + 4] = rng.choice(_INTERESTING_32).to_bytes(4, "big")
        elif op == 5:  # truncate
            del out[pos:]
        elif op == 6:  # delete a run
            del out[pos : pos + rng.randint(1, 32)]
        elif op == 7:  # duplicate a run
            run = out[pos : pos + rng.randint(1, 64)]
            out[pos:pos] = run
        else:  # insert random bytes, or splice in the tail of another seed
            if seeds and rng.random() < 0.5:
                other = rng.choice(seeds)
                out[pos:] = other[rng.randrange(len(other) or 1) :]
            else:
                out[pos:pos] = rng.randbytes(rng.randint(1, 16))
    return bytes(out)


@dataclass(frozen=True)
class Target:
    name: str
    run: Callable[[bytes], object]
    seeds: list[bytes]


@dataclass
class Report:
    name: str
    inputs: int = 0
    coded: int = 0  # inputs refused with an MrtdError
    foreign: list[tuple[str, str]] = field(default_factory=list)  # (exception, input hex)
    hangs: int = 0  # inputs over the hang limit
    slowest_s: float = 0.0
    peak_bytes: int = 0  # tracemalloc peak while this target ran (0 when not traced)
    seconds: float = 0.0

    @property
    def foreign_count(self) -> int:
        return len(self.foreign)


def run_target(
    target: Target,
    count: int,
    seed: int,
    *,
    hang_s: float = 1.0,
    trace_memory: bool = False,
    deadline_s: float | None = None,
) -> Report:
    """Feed `count` mutated inputs (fixed `seed`) to the target; the seeds themselves first."""
    rng = random.Random(f"{target.name}:{seed}")  # noqa: S311 (reproducible, not secret)
    report = Report(target.name)
    if trace_memory:
        tracemalloc.start()
        tracemalloc.reset_peak()
    start = time.perf_counter()
    try:
        inputs: Iterable[bytes] = (
            target.seeds[i]
            if i < len(target.seeds)
            else mutate(rng, rng.choice(target.seeds), target.seeds)
            for i in range(count)
        )
        for data in inputs:
            if deadline_s is not None and time.perf_counter() - start > deadline_s:
                break
            t0 = time.perf_counter()
            try:
                target.run(data)
            except MrtdError:
                report.coded += 1
            except Exception as exc:  # the finding: anything that is not ours
                report.foreign.append((f"{type(exc).__name__}: {exc}"[:200], data[:64].hex()))
            took = time.perf_counter() - t0
            report.inputs += 1
            report.slowest_s = max(report.slowest_s, took)
            if took > hang_s:
                report.hangs += 1
    finally:
        report.seconds = time.perf_counter() - start
        if trace_memory:
            report.peak_bytes = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
    return report


# -- the parsers ---------------------------------------------------------------------------


def _real(root: Path | None, *patterns: str) -> list[bytes]:
    if root is None or not root.is_dir():
        return []
    return [f.read_bytes() for p in patterns for f in sorted(root.glob(p)) if f.is_file()]


def _small_image(fmt: str) -> bytes:
    """A tiny face image, so that fuzzing the decoder costs milliseconds per input."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    img = Image.new("RGB", (24, 32), (150, 110, 90))
    if fmt == "jpeg":
        img.save(buf, "JPEG", quality=70)
    else:
        img.save(buf, "JPEG2000", quality_mode="rates", quality_layers=[20])
    return buf.getvalue()


def targets(real: Path | None = None) -> list[Target]:
    """Every document parser with its seeds: generated documents, plus the real files under
    `real` (../shared/vectors/mrtd-real) when given."""
    from asn1crypto import x509

    from edge.mrtd import dg2, lds
    from edge.mrtd.activeauth import load_dg15_key
    from edge.mrtd.cardsecurity import CardSecurity, verify_card_security
    from edge.mrtd.chipauth import chip_auth_keys
    from edge.mrtd.passive import TrustStore, load_crl, load_master_list, passive_checks
    from edge.mrtd.securityinfo import parse_card_access
    from edge.mrtd.sod import Sod
    from rig.mrtd.testdoc import DocOptions, generate, master_list

    now = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    docs = [
        generate(DocOptions(image_format="jpeg", image_bytes=3_000, pace_cam=True), now=now),
        generate(
            DocOptions(
                active_auth="rsa",
                sod_rsa_encryption=True,
                sid_issuer_reordered=True,
                econtent_id_data=True,
                dg15_negative_modulus=True,
                curve="secp256r1",
                face_container="39794-5",
                image_format="jpeg",
                image_bytes=3_000,
                crl=True,
            ),
            now=now,
        ),
    ]
    main = docs[0]
    trust = TrustStore([x509.Certificate.load(main.csca_der)])
    dgs = {n: main.files[f"DG{n}"] for n in (1, 2, 14, 15)}

    def passive(raw: bytes) -> object:
        return passive_checks(Sod.parse(raw), dgs, trust, now)

    def face(raw: bytes) -> object:
        if raw[:1] == b"\x75":
            image = dg2.parse_dg2(raw)
        elif raw[:3] == b"FAC":
            image = dg2.parse_19794_5(raw)
        else:
            image = dg2.parse_39794_5(raw)
        return image.to_rgb()

    def card_security(raw: bytes) -> object:
        cs = CardSecurity.parse(raw)
        verify_card_security(cs, trust, now)  # fuzzed too: it may raise only our own errors
        return cs

    def crl_target(raw: bytes) -> object:
        return TrustStore([x509.Certificate.load(docs[1].csca_der)], [load_crl(raw)])

    def files(name: str) -> list[bytes]:
        return [d.files[name] for d in docs if name in d.files]

    small_faces = [
        dg2.build_dg2(_small_image("jpeg"), "jpeg", 24, 32),
        dg2.build_dg2(_small_image("jpeg2000"), "jpeg2000", 24, 32, "39794-5"),
    ]
    r = real
    return [
        Target("EF.SOD", Sod.parse, files("EF.SOD") + _real(r, "sod/*", "docs/*/EF_SOD.bin")),
        Target("passive", passive, files("EF.SOD")[:1]),
        Target("DG1", lds.parse_dg1, files("DG1") + _real(r, "dg1/*", "docs/*/Datagroup1.bin")),
        Target("EF.COM", lds.EfCom.parse, files("EF.COM") + _real(r, "efcom/*", "docs/*/EF_COM*")),
        Target("DG2", face, small_faces + _real(r, "dg2/*")),
        Target("DG14", chip_auth_keys, files("DG14") + _real(r, "dg14/*", "docs/*/Datagroup14*")),
        Target("DG15", load_dg15_key, files("DG15") + _real(r, "dg15/*", "docs/*/Datagroup15*")),
        Target(
            "master list",
            load_master_list,
            [master_list([main.csca_der], now=now), master_list([], now=now)],
        ),
        Target("CRL", crl_target, [d.crl_der for d in docs if d.crl_der]),
        Target(
            "EF.CardAccess",
            parse_card_access,
            files("EF.CardAccess") + _real(r, "cardaccess/*"),
        ),
        Target(
            "EF.CardSecurity",
            card_security,
            files("EF.CardSecurity") + _real(r, "cardsecurity/*"),
        ),
    ]
