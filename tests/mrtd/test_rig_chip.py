"""The chip-protocol behaviours of test_chip_protocols.py through real pcscd + vpcd + pyscard:
PACE-CAM, 3DES PACE with a two-block nonce, the BAC fallback rule, Le refusals, 6300 during
PACE and a tag lost mid-read (which vpcd shows as the reset chip's plain 6982, see
rig/mrtd/vpcd.py)."""

from __future__ import annotations

import pytest

from edge.mrtd.errors import AccessControlError, CardRemovedError
from edge.mrtd.reader import read_passport
from edge.mrtd.results import CheckStatus
from edge.mrtd.transport import PcscTransport
from rig.mrtd.card import ChipLimits, EmulatedChip, Fault
from rig.mrtd.testdoc import DocOptions
from tests.mrtd.conftest import NOW, document, trust_of

pytestmark = pytest.mark.rig

CAM = DocOptions(pace_cam=True)


@pytest.mark.parametrize("password", ["can", "mrz"])
def test_pace_cam_through_pcscd(rig, password: str) -> None:  # type: ignore[no-untyped-def]
    doc = document(CAM)
    rig.insert(EmulatedChip(doc))
    key = {"can": doc.can} if password == "can" else {"mrz": doc.mrz_key}
    with (
        PcscTransport(rig.reader) as transport,
        read_passport(transport, trust=trust_of(doc), now=NOW, **key) as reading,
    ):
        auth = reading.authentication
        assert auth.protocol == "PACE-CAM AES-128 brainpoolP256r1"
        assert auth.chip.status is CheckStatus.PASSED
        assert auth.authenticated


def test_cloned_chip_fails_cam_through_pcscd(rig) -> None:  # type: ignore[no-untyped-def]
    doc = document(DocOptions(pace_cam=True, mismatched_ca_key=True))
    rig.insert(EmulatedChip(doc))
    with (
        PcscTransport(rig.reader) as transport,
        read_passport(transport, can=doc.can, trust=trust_of(doc), now=NOW) as reading,
    ):
        assert reading.authentication.chip.code == "cam.failed"
        assert not reading.authentication.authenticated


def test_3des_pace_two_block_nonce_through_pcscd(rig) -> None:  # type: ignore[no-untyped-def]
    doc = document(DocOptions(pace_suite=1))
    rig.insert(EmulatedChip(doc, pace_nonce_blocks=2))
    with (
        PcscTransport(rig.reader) as transport,
        read_passport(transport, mrz=doc.mrz_key, trust=trust_of(doc), now=NOW) as reading,
    ):
        assert reading.authentication.protocol == "PACE-GM 3DES brainpoolP256r1"
        assert reading.authentication.authenticated


def test_fallback_rule_through_pcscd(rig) -> None:  # type: ignore[no-untyped-def]
    doc = document(DocOptions())
    rig.insert(EmulatedChip(doc, fault=Fault("pace_refused")))
    with (
        PcscTransport(rig.reader) as transport,
        read_passport(transport, mrz=doc.mrz_key, trust=trust_of(doc), now=NOW) as reading,
    ):
        assert reading.authentication.access_control == "BAC"
        assert "failed: pace.protocol" in reading.authentication.protocol
    rig.insert(EmulatedChip(doc, fault=Fault("pace_refused"), bac=False))
    with PcscTransport(rig.reader) as transport, pytest.raises(AccessControlError) as err:
        read_passport(transport, mrz=doc.mrz_key, trust=trust_of(doc), now=NOW)
    assert err.value.code == "pace.protocol"


@pytest.mark.parametrize("refusal", ["6700", "6C", "6282"])
def test_le_refusals_through_pcscd(rig, refusal: str) -> None:  # type: ignore[no-untyped-def]
    doc = document(CAM)
    limits = ChipLimits(extended_length=False, max_le=160, le_refusal=refusal)  # type: ignore[arg-type]
    rig.insert(EmulatedChip(doc, limits=limits))
    with (
        PcscTransport(rig.reader) as transport,
        read_passport(transport, can=doc.can, trust=trust_of(doc), now=NOW) as reading,
    ):
        assert reading.authentication.authenticated
        assert reading.face.to_rgb().std() > 10


def test_6300_in_pace_through_pcscd(rig) -> None:  # type: ignore[no-untyped-def]
    doc = document(CAM)
    rig.insert(EmulatedChip(doc, fault=Fault("pace_6300", after=1, count=2)))
    with (
        PcscTransport(rig.reader) as transport,
        read_passport(transport, can=doc.can, trust=trust_of(doc), now=NOW) as reading,
    ):
        assert reading.authentication.protocol.startswith("PACE-CAM")


def test_tag_lost_through_pcscd(rig) -> None:  # type: ignore[no-untyped-def]
    doc = document(CAM)
    rig.insert(EmulatedChip(doc, fault=Fault("tag_lost", after=4, count=2)))
    with (
        PcscTransport(rig.reader) as transport,
        read_passport(transport, can=doc.can, trust=trust_of(doc), now=NOW) as reading,
    ):
        assert reading.authentication.authenticated
    rig.insert(EmulatedChip(doc, fault=Fault("tag_lost", after=2, count=10)))
    with PcscTransport(rig.reader) as transport, pytest.raises(CardRemovedError) as err:
        read_passport(transport, can=doc.can, trust=trust_of(doc), now=NOW)
    assert err.value.code == "pcsc.tag-lost"


def test_cli_read_with_can_on_a_pace_cam_chip(rig, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    doc = document(CAM)
    rig.insert(EmulatedChip(doc))
    (tmp_path / "trust").mkdir()
    (tmp_path / "trust" / "csca.der").write_bytes(doc.csca_der)
    out = subprocess.run(
        [
            *(sys.executable, "-m", "edgeproof_cli", "passport", "read", "--can", doc.can),
            *("--reader", rig.reader, "--trust", str(tmp_path / "trust")),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    # the test document's validity starts at NOW (2026-06-01); today is later, so it passes
    assert "access control: PACE-CAM AES-128 brainpoolP256r1" in out.stdout, out.stderr
    assert "chip authentication: passed" in out.stdout
