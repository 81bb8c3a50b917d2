"""End to end through real pcscd + vpcd + pyscard into our emulator (the rig)."""

from __future__ import annotations

import pytest

from edge.mrtd.errors import CardRemovedError, MrtdError
from edge.mrtd.reader import read_passport
from edge.mrtd.results import CheckStatus
from edge.mrtd.transport import PcscTransport, list_readers
from rig.mrtd.card import EmulatedChip, Fault
from rig.mrtd.testdoc import DocOptions
from tests.mrtd.conftest import NOW, document, trust_of

pytestmark = pytest.mark.rig

BAC_DOC = DocOptions(pace=False)


def test_bac_read_authenticate_and_decode_photo(rig) -> None:  # type: ignore[no-untyped-def]
    doc = document(BAC_DOC)
    rig.insert(EmulatedChip(doc))
    seen: list[tuple[int, int]] = []
    with (
        PcscTransport(rig.reader) as transport,
        read_passport(
            transport,
            mrz=doc.mrz_key,
            trust=trust_of(doc),
            now=NOW,
            progress=lambda done, total: seen.append((done, total)),
        ) as reading,
    ):
        auth = reading.authentication
        assert auth.access_control == "BAC"
        assert auth.passive.status is CheckStatus.PASSED
        assert auth.chip.status is CheckStatus.PASSED
        assert auth.active.status is CheckStatus.PASSED
        assert auth.authenticated
        assert reading.mrz.document_number == doc.mrz_key.document_number
        rgb = reading.face.to_rgb()
        assert rgb.shape == (reading.face.height, reading.face.width, 3)
        assert rgb.std() > 10  # a real photo, not a blank
    assert not any(reading.face.data) and not any(reading.document_number)
    assert seen[-1][0] == seen[-1][1] > 20_000


def test_reader_by_index_and_missing_reader(rig) -> None:  # type: ignore[no-untyped-def]
    rig.insert(EmulatedChip(document(BAC_DOC)))
    assert rig.reader in list_readers()
    with PcscTransport(0) as t:
        assert t.reader_name == rig.reader
    with pytest.raises(MrtdError) as err:
        PcscTransport("no such reader")
    assert err.value.code == "pcsc.reader-not-found"


def test_card_removed_mid_read(rig) -> None:  # type: ignore[no-untyped-def]
    doc = document(BAC_DOC)
    rig.insert(EmulatedChip(doc, fault=Fault("removed", after=4)))
    with PcscTransport(rig.reader) as transport, pytest.raises(CardRemovedError) as err:
        read_passport(transport, mrz=doc.mrz_key, trust=trust_of(doc), now=NOW)
    assert err.value.code == "pcsc.card-removed"


@pytest.mark.parametrize(
    "options",
    [DocOptions(), DocOptions(curve="secp256r1", pace_suite=4, face_container="39794-5")],
    ids=["brainpool-aes128-19794", "p256-aes256-39794"],
)
def test_pace_read_authenticate_and_decode_photo(rig, options: DocOptions) -> None:  # type: ignore[no-untyped-def]
    doc = document(options)
    rig.insert(EmulatedChip(doc))
    with (
        PcscTransport(rig.reader) as transport,
        read_passport(transport, can=doc.can, trust=trust_of(doc), now=NOW) as reading,
    ):
        auth = reading.authentication
        assert auth.access_control == "PACE"
        assert [r.status for _, r in auth.rows()] == [CheckStatus.PASSED] * 4
        assert reading.face.to_rgb().std() > 10


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        ("bad_mac", "sm.mac-invalid"),
        ("truncated", "sm.malformed"),
        ("wrong_sw", "chip.unexpected-status"),
    ],
)
def test_faults_through_pcscd(rig, kind: str, code: str) -> None:  # type: ignore[no-untyped-def]
    doc = document(BAC_DOC)
    rig.insert(EmulatedChip(doc, fault=Fault(kind, after=3)))  # type: ignore[arg-type]
    with PcscTransport(rig.reader) as transport, pytest.raises(MrtdError) as err:
        read_passport(transport, mrz=doc.mrz_key, trust=trust_of(doc), now=NOW)
    assert err.value.code == code


def test_slow_chip_through_pcscd(rig) -> None:  # type: ignore[no-untyped-def]
    doc = document(BAC_DOC)
    rig.insert(EmulatedChip(doc, fault=Fault("slow", after=2, delay=0.05)))
    with (
        PcscTransport(rig.reader) as transport,
        read_passport(transport, mrz=doc.mrz_key, trust=trust_of(doc), now=NOW) as reading,
    ):
        assert reading.authentication.authenticated


def test_forged_document_through_pcscd_is_not_authenticated(rig) -> None:  # type: ignore[no-untyped-def]
    doc = document(DocOptions(wrong_dg_hash=True, pace=False))
    rig.insert(EmulatedChip(doc))
    with (
        PcscTransport(rig.reader) as transport,
        read_passport(transport, mrz=doc.mrz_key, trust=trust_of(doc), now=NOW) as reading,
    ):
        assert reading.authentication.passive.code == "pa.dg-hash-mismatch"
        assert not reading.authentication.authenticated
