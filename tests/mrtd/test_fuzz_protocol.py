"""Mutation fuzzing of the chip-protocol parsers (bounded, fixed seeds, CI-sized).

Every input a chip can send is untrusted: each parser must answer bad bytes with an
MrtdError subclass carrying a dotted code, never with a foreign exception. Seeds are the real
files of the shared vectors/mrtd-real where there are some (EF.CardAccess of AT and DE chips,
EF.CardSecurity of DE and FI chips) plus our generator's. The long run (>= 10^4 inputs per
parser, hangs and memory) is benchmarks/mrtd_fuzz.py.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator

import pytest

from edge.mrtd import tlv
from edge.mrtd.apdu import CommandApdu, ResponseApdu
from edge.mrtd.cardsecurity import CardSecurity
from edge.mrtd.crypto import SessionKeys
from edge.mrtd.errors import MrtdError
from edge.mrtd.mrz import Mrz, MrzKey
from edge.mrtd.reader import _Session
from edge.mrtd.securityinfo import parse_card_access
from edge.mrtd.sm import SecureMessaging
from edge.mrtd.transport import Channel
from rig.mrtd.card import EmulatedChip, InProcessTransport
from rig.mrtd.testdoc import DocOptions
from tests.mrtd.conftest import document
from tests.shared import MRTD_REAL

CODE = re.compile(r"^[a-z0-9]+(\.[a-z0-9-]+)+$")
INTERESTING = (0x00, 0x01, 0x02, 0x30, 0x31, 0x7F, 0x80, 0x81, 0x82, 0x83, 0x84, 0xFF)


def mutations(seeds: list[bytes], count: int, seed: int) -> Iterator[bytes]:
    """Deterministic mutants: bit flips, interesting bytes (lengths, tags), cuts, insertions,
    duplicated and deleted slices; one to three mutations each."""
    rng = random.Random(seed)
    for _ in range(count):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 3)):
            if not data:
                data = bytearray(rng.randbytes(rng.randint(1, 8)))
            pos = rng.randrange(len(data))
            op = rng.randrange(6)
            if op == 0:
                data[pos] ^= 1 << rng.randrange(8)
            elif op == 1:
                data[pos] = rng.choice(INTERESTING)
            elif op == 2:
                del data[pos:]
            elif op == 3:
                data[pos:pos] = rng.randbytes(rng.randint(1, 4))
            elif op == 4:
                end = min(len(data), pos + rng.randint(1, 32))
                data[pos:pos] = data[pos:end]
            else:
                del data[pos : pos + rng.randint(1, 16)]
        yield bytes(data)


def only_coded_errors(parse: Callable[[bytes], object], inputs: Iterator[bytes]) -> int:
    """Run every input; return how many were rejected. Foreign exceptions fail the test."""
    rejected = 0
    for raw in inputs:
        try:
            parse(raw)
        except MrtdError as exc:
            assert CODE.match(exc.code), (exc.code, raw.hex())
            rejected += 1
        except Exception as exc:
            pytest.fail(f"{type(exc).__name__}: {exc} on input {raw.hex()}")
    return rejected


def _real(folder: str, pattern: str) -> list[bytes]:
    root = MRTD_REAL / folder
    return [p.read_bytes() for p in sorted(root.glob(pattern))] if root.is_dir() else []


def _generated(name: str) -> list[bytes]:
    return [
        document(o).files[name]
        for o in (DocOptions(pace_cam=True), DocOptions(pace_cam=True, curve="secp256r1"))
    ]


@pytest.mark.shared("vectors/mrtd-real")
def test_card_access() -> None:
    seeds = _real("cardaccess", "*.bin") + _generated("EF.CardAccess")
    assert len(seeds) == 4
    rejected = only_coded_errors(parse_card_access, mutations(seeds, 4000, seed=13))
    assert 0 < rejected < 4000  # many mutants still parse (or are skipped entries)


@pytest.mark.shared("vectors/mrtd-real")
def test_card_security() -> None:
    seeds = _real("cardsecurity", "*.bin") + _generated("EF.CardSecurity")
    assert len(seeds) == 4
    rejected = only_coded_errors(CardSecurity.parse, mutations(seeds, 2500, seed=11))
    assert rejected > 1000


def test_tlv_and_apdus() -> None:
    doc = document(DocOptions(pace_cam=True))
    seeds = [doc.files["EF.COM"], doc.files["DG1"], doc.files["EF.CardAccess"][:40]]

    def parse(raw: bytes) -> None:
        list(tlv.iterate(raw))
        tlv.children(raw)
        ResponseApdu.parse(raw)
        CommandApdu.parse(raw)

    only_coded_errors(parse, mutations(seeds, 4000, seed=7))


def test_secure_messaging_responses() -> None:
    """Mutated protected responses (DO'87'/'99'/'8E') under both ciphers: every one is
    rejected with an sm.* code (the MAC covers the rest), none crashes."""
    for cipher, seed in (("AES", 3), ("3DES", 5)):
        keys = SessionKeys(cipher, bytes(range(16)), bytes(range(16, 32)))  # type: ignore[arg-type]
        # each answer as a chip at SSC 0 sends it: unmutated, every one would verify
        answers = [
            SecureMessaging(keys, 0).wrap_response(ResponseApdu(bytes(n), 0x9000)).encode()
            for n in (0, 1, 40, 223)
        ]
        for answer in answers:
            SecureMessaging(keys, 0).unwrap_response(ResponseApdu.parse(answer))
        rejected = 0
        for raw in mutations(answers, 1500, seed=seed):
            reader = SecureMessaging(keys, 0)
            try:
                reader.unwrap_response(ResponseApdu.parse(raw))
            except MrtdError as exc:
                assert CODE.match(exc.code)
                rejected += 1
            except Exception as exc:
                pytest.fail(f"{type(exc).__name__}: {exc} on {raw.hex()}")
        assert rejected > 1400  # the rest are mutations that changed nothing


def test_mrz_text() -> None:
    td3 = (
        b"P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<L898902C36UTO7408122F1204159ZE184226B<<<<<10"
    )
    only_coded_errors(lambda raw: Mrz(bytearray(raw)), mutations([td3], 3000, seed=17))

    def key(raw: bytes) -> None:
        MrzKey.parse(raw.decode("latin-1"))

    only_coded_errors(key, mutations([b"L898902C<,690806,940623"], 2000, seed=19))


class _Mutating(InProcessTransport):
    """Mutates one response of the session (`victim`-th APDU): the chip side of fuzzing."""

    def __init__(self, chip: EmulatedChip, victim: int, mutant: Callable[[bytes], bytes]) -> None:
        super().__init__(chip)
        self.n = 0
        self.victim = victim
        self.mutant = mutant

    def transmit(self, apdu: bytes) -> bytes:
        answer = super().transmit(apdu)
        self.n += 1
        return self.mutant(answer) if self.n - 1 == self.victim else answer


@pytest.mark.parametrize(
    "options",
    [DocOptions(pace_cam=True), DocOptions(pace_suite=1), DocOptions(pace=False)],
    ids=["pace-cam", "pace-3des", "bac"],
)
def test_access_control_with_mutated_chip_answers(options: DocOptions) -> None:
    """EF.ATR/INFO, EF.CardAccess, MSE, GENERAL AUTHENTICATE, GET CHALLENGE, EXTERNAL
    AUTHENTICATE, EF.CardSecurity: one answer of the opening mutated per run."""
    doc = document(options)
    rng = random.Random(23)
    outcomes = {"ok": 0, "error": 0}
    for i in range(150):
        victim = i % 12

        def mutant(answer: bytes, _rng: random.Random = rng, _i: int = i) -> bytes:
            return next(mutations([answer], 1, seed=_i)) if answer else b""

        transport = _Mutating(EmulatedChip(doc), victim, mutant)
        session = _Session(Channel(transport), doc.mrz_key, None, rng.randbytes)
        try:
            session.start()
            outcomes["ok"] += 1
        except MrtdError as exc:
            assert CODE.match(exc.code), exc.code
            outcomes["error"] += 1
        except Exception as exc:
            pytest.fail(f"{type(exc).__name__}: {exc} (answer {victim} mutated, run {i})")
    assert outcomes["error"] > 0 and outcomes["ok"] > 0
