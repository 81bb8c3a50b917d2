"""PACE (CAN/MRZ, GM/CAM, 3DES/AES), the BAC fallback rule, read-size adaptation and
recovery from lost links, against the in-process emulator; EF.CardAccess and
EF.CardSecurity of real chips (the shared vectors/mrtd-real)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from asn1crypto import x509

from edge.mrtd import tlv
from edge.mrtd.apdu import CommandApdu, ResponseApdu
from edge.mrtd.cardsecurity import CardSecurity, ChipPublicKey, check_cam, verify_card_security
from edge.mrtd.errors import (
    AccessControlError,
    CardRemovedError,
    MrtdError,
    ParseError,
    VerificationError,
)
from edge.mrtd.pace import Suite
from edge.mrtd.passive import TrustStore, load_master_list
from edge.mrtd.reader import PassportReading, read_passport
from edge.mrtd.results import CheckStatus
from edge.mrtd.securityinfo import parse_card_access
from rig.mrtd.card import ChipLimits, EmulatedChip, Fault, InProcessTransport
from rig.mrtd.testdoc import DocOptions
from tests.mrtd.conftest import NOW, document, trust_of
from tests.shared import MRTD_REAL

CAM = DocOptions(pace_cam=True)
SHORT = ChipLimits(extended_length=False)


class Counting(InProcessTransport):
    """Counts APDUs and records the INS bytes, to check the protocol that ran."""

    def __init__(self, chip: EmulatedChip) -> None:
        super().__init__(chip)
        self.sent: list[bytes] = []
        self.answers: list[bytes] = []
        self.reconnects = 0

    def transmit(self, apdu: bytes) -> bytes:
        self.sent.append(apdu)
        answer = super().transmit(apdu)
        self.answers.append(answer)
        return answer

    def reconnect(self) -> None:
        self.reconnects += 1
        super().reconnect()


def _read(
    options: DocOptions,
    *,
    chip: dict[str, object] | None = None,
    transport: list[Counting] | None = None,
    **kw: object,
) -> PassportReading:
    doc = document(options)
    args: dict[str, object] = {"mrz": doc.mrz_key, "trust": trust_of(doc), "now": NOW}
    args.update(kw)
    t = Counting(EmulatedChip(doc, **(chip or {})))  # type: ignore[arg-type]
    if transport is not None:
        transport.append(t)
    return read_passport(t, **args)  # type: ignore[arg-type]


# -- PACE: passwords, ciphers, mappings ------------------------------------------------------


@pytest.mark.parametrize("password", ["mrz", "can"])
@pytest.mark.parametrize(
    ("options", "protocol"),
    [
        (DocOptions(pace_suite=1), "PACE-GM 3DES brainpoolP256r1"),
        (DocOptions(pace_suite=2, curve="secp256r1"), "PACE-GM AES-128 secp256r1"),
        (DocOptions(pace_cam=True), "PACE-CAM AES-128 brainpoolP256r1"),
        (DocOptions(pace_cam=True, pace_suite=4, curve="secp256r1"), "PACE-CAM AES-256 secp256r1"),
    ],
)
def test_pace_suites_with_mrz_or_can(options: DocOptions, protocol: str, password: str) -> None:
    doc = document(options)
    kw: dict[str, object] = {"mrz": None, "can": doc.can} if password == "can" else {}
    with _read(options, **kw) as reading:  # type: ignore[arg-type]
        auth = reading.authentication
        assert auth.access_control == "PACE" and auth.protocol == protocol
        assert [r.status for _, r in auth.rows()] == [CheckStatus.PASSED] * 4


@pytest.mark.parametrize("blocks", [1, 2])
def test_3des_pace_nonce_of_one_or_two_blocks(blocks: int) -> None:
    """Fault 4: real 3DES chips send a 16-byte encrypted nonce (two DES blocks)."""
    sent: list[Counting] = []
    with _read(
        DocOptions(pace_suite=1), chip={"pace_nonce_blocks": blocks}, transport=sent
    ) as reading:
        assert reading.authentication.protocol == "PACE-GM 3DES brainpoolP256r1"
    t = sent[0]
    first_ga = next(i for i, a in enumerate(t.sent) if a[1] == 0x86)
    reply = t.answers[first_ga]  # 7C L 80 L z, SW
    assert reply[2] == 0x80 and reply[3] == 8 * blocks


class _Recording(EmulatedChip):
    """Records (application selected?, FID) of every SELECT by file identifier."""

    def __init__(self, *args: object, **kw: object) -> None:
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        self.selects: list[tuple[bool, int]] = []

    def _select(self, cmd: CommandApdu, *, protected: bool) -> ResponseApdu:
        if cmd.p1 == 0x02 and len(cmd.data) == 2:
            self.selects.append((self.app_selected, int.from_bytes(cmd.data, "big")))
        return super()._select(cmd, protected=protected)


def test_cam_replaces_chip_authentication_and_reads_card_security() -> None:
    doc = document(CAM)
    chip = _Recording(doc)
    t = Counting(chip)
    with read_passport(t, can=doc.can, trust=trust_of(doc), now=NOW) as reading:
        assert reading.authentication.chip.status is CheckStatus.PASSED
    # EF.CardSecurity (011D) from the master file, before the application's EF.SOD (011D)
    assert chip.selects[0] == (False, 0x011D)
    assert (True, 0x011D) in chip.selects[1:]
    assert not any(a[1] == 0x22 and a[2] == 0x41 for a in t.sent)  # no MSE:Set AT for CA


def test_cam_with_a_cloned_chip_fails_chip_authentication() -> None:
    """A chip without the private key of EF.CardSecurity's public key: CA_IC cannot match."""
    with _read(DocOptions(pace_cam=True, mismatched_ca_key=True)) as reading:
        auth = reading.authentication
        assert auth.chip.status is CheckStatus.FAILED and auth.chip.code == "cam.failed"
        assert not auth.authenticated


def test_cam_with_card_security_under_an_untrusted_csca() -> None:
    with _read(DocOptions(pace_cam=True, untrusted_csca=True)) as reading:
        auth = reading.authentication
        assert auth.chip.code == "cardsecurity.csca-untrusted"
        assert auth.passive.code == "pa.csca-untrusted"
        assert not auth.authenticated


def test_cam_chip_without_card_security_falls_back_to_dg14() -> None:
    doc = document(CAM)
    files = {k: v for k, v in doc.files.items() if k != "EF.CardSecurity"}
    chip = EmulatedChip(dataclasses.replace(doc, files=files))
    reading = read_passport(InProcessTransport(chip), can=doc.can, trust=trust_of(doc), now=NOW)
    with reading:
        assert reading.authentication.protocol.startswith("PACE-CAM")
        assert reading.authentication.chip.status is CheckStatus.PASSED  # by DG14's CA


class _NoCamData(EmulatedChip):
    """Advertises PACE-CAM but leaves DO'8A' out of its last PACE answer."""

    def process(self, raw: bytes) -> bytes:
        answer = super().process(raw)
        if raw[1] == 0x86 and raw[0] == 0x00 and b"\x8a" in answer:
            body = tlv.children(tlv.expect(answer[:-2], 0x7C, "GA"))
            return tlv.encode(0x7C, tlv.encode(0x86, body[0x86])) + answer[-2:]
        return answer


def test_failed_cam_gives_way_to_gm_before_bac() -> None:
    doc = document(CAM)
    chip = _NoCamData(doc)
    with read_passport(
        InProcessTransport(chip), can=doc.can, trust=trust_of(doc), now=NOW
    ) as reading:
        assert reading.authentication.protocol == "PACE-GM AES-128 brainpoolP256r1"
        assert reading.authentication.authenticated


def test_check_cam_directly() -> None:
    suite = Suite(parse_card_access(document(CAM).files["EF.CardAccess"])[0])
    info = suite.info
    k_ic, k_map = 12345, 67890
    pk_ic = suite.encode(suite.base_mult(k_ic))
    pk_map = suite.encode(suite.base_mult(k_map))
    ca = pow(k_ic, -1, suite.order) * k_map % suite.order
    check_cam(info, ca, pk_map, [ChipPublicKey(info.parameter_id, pk_ic)])
    with pytest.raises(VerificationError) as err:
        check_cam(info, ca + 1, pk_map, [ChipPublicKey(info.parameter_id, pk_ic)])
    assert err.value.code == "cam.failed"
    with pytest.raises(VerificationError) as err:
        check_cam(info, ca, pk_map, [ChipPublicKey(None, b"\x04" + bytes(10))])
    assert err.value.code == "cam.no-key"
    with pytest.raises(VerificationError):
        check_cam(info, 0, pk_map, [ChipPublicKey(None, pk_ic)])


# -- the BAC fallback rule (9303-11 section 4.2) ---------------------------------------------


def test_pace_failure_falls_back_to_bac_on_a_chip_that_offers_it() -> None:
    with _read(DocOptions(), chip={"fault": Fault("pace_refused")}) as reading:
        auth = reading.authentication
        assert auth.access_control == "BAC"
        assert auth.protocol == "BAC (after PACE-GM AES-128 brainpoolP256r1 failed: pace.protocol)"
        assert auth.authenticated


def test_pace_only_chip_is_never_downgraded() -> None:
    with pytest.raises(AccessControlError) as err:
        _read(DocOptions(), chip={"fault": Fault("pace_refused"), "bac": False})
    assert err.value.code == "pace.protocol"
    assert "refuses BAC" in str(err.value)


def test_wrong_password_is_not_retried_with_bac() -> None:
    sent: list[Counting] = []
    bad = dataclasses.replace(document(DocOptions()).mrz_key, date_of_birth="740813")
    with pytest.raises(AccessControlError) as err:
        _read(DocOptions(), mrz=bad, transport=sent)
    assert err.value.code == "pace.wrong-key"
    assert not any(a[1] == 0x84 for a in sent[0].sent)  # no GET CHALLENGE


def test_can_only_on_a_failing_pace_chip_cannot_fall_back() -> None:
    doc = document(DocOptions())
    with pytest.raises(AccessControlError) as err:
        _read(DocOptions(), chip={"fault": Fault("pace_refused")}, mrz=None, can=doc.can)
    assert err.value.code == "pace.protocol"


# -- 6300 during PACE, read sizes, lost links ------------------------------------------------


@pytest.mark.parametrize("step", [0, 1, 2, 3])
def test_6300_during_a_pace_step_is_retried(step: int) -> None:
    with _read(DocOptions(), chip={"fault": Fault("pace_6300", after=step, count=2)}) as r:
        assert r.authentication.authenticated


def test_6300_every_time_ends_with_a_coded_error_or_bac() -> None:
    fault = Fault("pace_6300", after=1, count=99)
    with pytest.raises(AccessControlError) as err:
        _read(DocOptions(), chip={"fault": fault, "bac": False})
    assert err.value.code == "pace.step-refused"
    with _read(DocOptions(), chip={"fault": fault}) as reading:  # the chip also offers BAC
        assert reading.authentication.protocol.endswith("failed: pace.step-refused)")


@pytest.mark.parametrize("refusal", ["6700", "6C", "6282"])
@pytest.mark.parametrize("options", [DocOptions(pace=False), CAM], ids=["bac", "pace-cam"])
def test_chip_refusing_large_reads(refusal: str, options: DocOptions) -> None:
    limits = ChipLimits(extended_length=False, max_le=160, le_refusal=refusal)  # type: ignore[arg-type]
    sent: list[Counting] = []
    with _read(options, chip={"limits": limits}, transport=sent) as reading:
        assert reading.authentication.authenticated
        assert reading.face.to_rgb().shape[2] == 3
    reads = [a for a in sent[0].sent if a[1] == 0xB0]
    # the size is learnt once, not per file: a handful of refusals, then 160-byte reads
    dg2 = len(document(options).files["DG2"])
    assert len(reads) <= dg2 // 160 + 40


def test_tag_lost_mid_read_is_recovered() -> None:
    sent: list[Counting] = []
    with _read(CAM, chip={"fault": Fault("tag_lost", after=5, count=2)}, transport=sent) as r:
        assert r.authentication.authenticated
        assert r.authentication.protocol.startswith("PACE-CAM")
    assert sent[0].reconnects == 2


def test_tag_lost_too_often_gives_a_clear_error() -> None:
    with pytest.raises(CardRemovedError) as err:
        _read(DocOptions(pace=False), chip={"fault": Fault("tag_lost", after=2, count=10)})
    assert err.value.code == "pcsc.tag-lost"


def test_card_removed_for_good_is_reported_as_removed() -> None:
    with pytest.raises(CardRemovedError) as err:
        _read(CAM, chip={"fault": Fault("removed", after=2)})
    assert err.value.code == "pcsc.card-removed"


def test_unreadable_card_access_on_a_pace_only_chip_reports_the_card_access() -> None:
    doc = document(DocOptions())
    broken = dataclasses.replace(doc, files={**doc.files, "EF.CardAccess": b"\x31\x03\x02\x01"})
    chip = EmulatedChip(broken, bac=False)
    with pytest.raises(MrtdError) as err:
        read_passport(InProcessTransport(chip), mrz=doc.mrz_key, trust=trust_of(doc), now=NOW)
    assert err.value.code in ("securityinfo.invalid", "tlv.truncated")


def test_pace_only_chip_offering_only_integrated_mapping() -> None:
    doc = document(DocOptions())
    im = doc.files["EF.CardAccess"].replace(bytes.fromhex("04020202"), bytes.fromhex("04040202"))
    assert im != doc.files["EF.CardAccess"]
    chip = EmulatedChip(
        dataclasses.replace(doc, files={**doc.files, "EF.CardAccess": im}), bac=False
    )
    with pytest.raises(AccessControlError) as err:
        read_passport(InProcessTransport(chip), mrz=doc.mrz_key, trust=trust_of(doc), now=NOW)
    assert err.value.code == "pace.unsupported"


# -- real chips' files -------------------------------------------------------------------------


@pytest.mark.shared("vectors/mrtd-real")
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("gmrtd_AT.bin", ["PACE-GM AES-128 brainpoolP256r1"]),
        ("gmrtd_DE.bin", ["PACE-CAM AES-128 brainpoolP256r1", "PACE-GM AES-128 brainpoolP256r1"]),
    ],
)
def test_real_card_access(name: str, expected: list[str]) -> None:
    raw = (MRTD_REAL / "cardaccess" / name).read_bytes()
    assert [p.name for p in parse_card_access(raw)] == expected


def _real_trust() -> TrustStore:
    certs: list[x509.Certificate] = []
    for ml in sorted((MRTD_REAL / "masterlists").glob("*.ml")):
        certs += load_master_list(ml.read_bytes())
    return TrustStore(certs)


@pytest.mark.shared("vectors/mrtd-real")
@pytest.mark.parametrize(
    ("country", "pace", "key_ids", "when"),
    [
        (
            "DE",
            ["PACE-CAM AES-128 brainpoolP256r1", "PACE-GM AES-128 brainpoolP256r1"],
            [13, 72],
            dt.datetime(2024, 6, 1, tzinfo=dt.UTC),
        ),
        (
            "FI",
            ["PACE-CAM AES-256 brainpoolP384r1", "PACE-GM AES-256 brainpoolP384r1"],
            [16],
            dt.datetime(2024, 6, 1, tzinfo=dt.UTC),
        ),
    ],
)
def test_real_card_security_parsed_and_verified(
    country: str, pace: list[str], key_ids: list[int], when: dt.datetime
) -> None:
    """The German and Finnish EF.CardSecurity: signature by the embedded DSC, DSC issued by a
    CSCA of the German/Dutch/ICAO master lists; the chip keys on the PACE curve."""
    raw = (MRTD_REAL / "cardsecurity" / f"gmrtd_{country}_EF.CardSecurity.bin").read_bytes()
    cs = CardSecurity.parse(raw)
    assert [p.name for p in cs.pace] == pace
    assert [k.key_id for k in cs.chip_keys] == key_ids
    verify_card_security(cs, _real_trust(), when)
    cam = cs.pace[0]
    point = next(k.point for k in cs.chip_keys if k.key_id == cam.parameter_id)
    Suite(cam).decode(point)  # on the PACE curve
    # one flipped byte anywhere in the signed content fails the signature
    mutated = bytearray(raw)
    mutated[raw.index(point) + 10] ^= 0x01  # a bit of the chip's public key
    with pytest.raises(VerificationError) as err:
        verify_card_security(CardSecurity.parse(bytes(mutated)), _real_trust(), when)
    assert err.value.code == "cardsecurity.signature"
    with pytest.raises(VerificationError) as err:
        verify_card_security(cs, _real_trust(), dt.datetime(2040, 1, 1, tzinfo=dt.UTC))
    assert err.value.code in ("cardsecurity.dsc-expired", "cardsecurity.csca-expired")


@pytest.mark.shared("vectors/mrtd-real")
def test_real_card_security_needs_its_csca() -> None:
    raw = (MRTD_REAL / "cardsecurity" / "gmrtd_DE_EF.CardSecurity.bin").read_bytes()
    doc_trust = trust_of(document(CAM))
    with pytest.raises(VerificationError) as err:
        verify_card_security(CardSecurity.parse(raw), doc_trust, NOW)
    assert err.value.code == "cardsecurity.csca-untrusted"


def test_card_security_rejects_other_content() -> None:
    doc = document(CAM)
    with pytest.raises(ParseError) as err:
        CardSecurity.parse(tlv.expect(doc.files["EF.SOD"], 0x77, "EF.SOD"))
    assert err.value.code == "cardsecurity.invalid"
    with pytest.raises(ParseError):
        CardSecurity.parse(b"\x30\x80")


def test_session_chip_step_recovers_a_lost_tag() -> None:
    """The session's PassportChipStep wraps the transport in a deadline; the reader must still
    reach its reconnect to recover (edge/steps.py `_Deadline`)."""
    import time

    from edge.steps import PassportChipStep

    doc = document(CAM)
    chip = EmulatedChip(doc, fault=Fault("tag_lost", after=3))
    step = PassportChipStep(lambda: InProcessTransport(chip), trust_of(doc), can=doc.can)
    reading = step.read(time.time() + 60)
    try:
        assert reading._reading.authentication.protocol.startswith("PACE-CAM")
        assert chip._fired == 1
    finally:
        reading.wipe()
