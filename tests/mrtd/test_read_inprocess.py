"""read_passport against the emulator in-process: every protocol, negative document and fault.

The same chip model sits behind pcscd in test_rig_e2e.py; here it is called directly so the
whole matrix stays fast.
"""

from __future__ import annotations

import dataclasses

import pytest

from edge.mrtd.errors import (
    AccessControlError,
    CardRemovedError,
    CardStatusError,
    MrtdError,
    SecureMessagingError,
)
from edge.mrtd.reader import PassportReading, read_passport
from edge.mrtd.results import CheckStatus
from rig.mrtd.card import ChipLimits, EmulatedChip, Fault, InProcessTransport
from rig.mrtd.testdoc import DocOptions
from tests.mrtd.conftest import NOW, document, trust_of

BAC = DocOptions(pace=False)


def _read(
    options: DocOptions,
    *,
    fault: Fault | None = None,
    limits: ChipLimits | None = None,
    **kw: object,
) -> PassportReading:
    doc = document(options)
    args: dict[str, object] = {"mrz": doc.mrz_key, "trust": trust_of(doc), "now": NOW}
    args.update(kw)
    chip = EmulatedChip(doc, fault=fault, limits=limits or ChipLimits())
    return read_passport(InProcessTransport(chip), **args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("options", "method"),
    [
        (BAC, "BAC"),
        (DocOptions(pace_suite=1), "PACE"),  # 3DES
        (DocOptions(pace_suite=2), "PACE"),  # AES-128, brainpoolP256r1
        (DocOptions(pace_suite=3, curve="secp256r1"), "PACE"),  # AES-192, NIST P-256
        (DocOptions(pace_suite=4), "PACE"),  # AES-256
        (DocOptions(face_container="39794-5", image_format="jpeg"), "PACE"),
    ],
)
def test_genuine_document_is_authenticated(options: DocOptions, method: str) -> None:
    with _read(options) as reading:
        auth = reading.authentication
        assert auth.access_control == method
        assert [r.status for _, r in auth.rows()] == [CheckStatus.PASSED] * 4
        assert auth.authenticated
        assert reading.mrz.primary_identifier == "ERIKSSON"
        assert reading.face.to_rgb().shape[2] == 3


def test_pace_with_can_and_rsa_active_authentication() -> None:
    options = DocOptions(active_auth="rsa", image_format="jpeg", curve="secp256r1")
    with _read(options, mrz=None, can=document(options).can) as reading:
        assert reading.authentication.access_control == "PACE"
        assert reading.authentication.active.status is CheckStatus.PASSED
        assert reading.face.format == "jpeg"


def test_short_apdus_only_when_the_chip_has_no_extended_length() -> None:
    with _read(BAC, limits=ChipLimits(extended_length=False)) as reading:
        assert reading.authentication.authenticated


def test_without_dg14_and_dg15_the_checks_are_not_supported_never_passed() -> None:
    with _read(DocOptions(chip_auth=False, active_auth="none")) as reading:
        auth = reading.authentication
        assert auth.chip.status is CheckStatus.NOT_SUPPORTED
        assert auth.active.status is CheckStatus.NOT_SUPPORTED
        assert auth.passive.status is CheckStatus.PASSED


@pytest.mark.parametrize(
    ("options", "check", "code"),
    [
        (DocOptions(expired_dsc=True), "passive", "pa.dsc-expired"),
        (DocOptions(untrusted_csca=True), "passive", "pa.csca-untrusted"),
        (DocOptions(wrong_dg_hash=True), "passive", "pa.dg-hash-mismatch"),
        (DocOptions(mismatched_aa_key=True), "active", "aa.signature-invalid"),
        (DocOptions(mismatched_ca_key=True), "chip", "ca.failed"),
        (DocOptions(date_of_expiry="250101"), "not_expired", "document_expired"),
    ],
)
def test_negative_documents_fail_their_check(options: DocOptions, check: str, code: str) -> None:
    with _read(options) as reading:
        result = getattr(reading.authentication, check)
        assert result.status is CheckStatus.FAILED
        assert result.code == code
        assert result.message
        assert not reading.authentication.authenticated


def test_wrong_mrz_key_bac() -> None:
    bad = dataclasses.replace(document(BAC).mrz_key, date_of_birth="740813")
    with pytest.raises(AccessControlError) as err:
        _read(BAC, mrz=bad)
    assert err.value.code == "bac.wrong-key"


def test_wrong_can_pace() -> None:
    with pytest.raises(AccessControlError) as err:
        _read(DocOptions(), mrz=None, can="000000")
    assert err.value.code == "pace.wrong-key"


@pytest.mark.parametrize(
    ("kind", "error", "code"),
    [
        ("bad_mac", SecureMessagingError, "sm.mac-invalid"),
        ("truncated", SecureMessagingError, "sm.malformed"),
        ("wrong_sw", CardStatusError, "chip.unexpected-status"),
        ("removed", CardRemovedError, "pcsc.card-removed"),
    ],
)
@pytest.mark.parametrize("options", [BAC, DocOptions()], ids=["bac", "pace"])
def test_faults_give_their_own_error(
    kind: str, error: type[MrtdError], code: str, options: DocOptions
) -> None:
    with pytest.raises(error) as err:
        _read(options, fault=Fault(kind, after=2))  # type: ignore[arg-type]
    assert err.value.code == code


def test_slow_chip_is_still_read_correctly() -> None:
    with _read(BAC, fault=Fault("slow", after=1, delay=0.02)) as reading:
        assert reading.authentication.authenticated


def test_wipe_overwrites_every_buffer() -> None:
    reading = _read(BAC)
    buffers = [
        reading.face.data,
        reading.mrz.raw,
        reading.document_number,
        *reading.data_groups.values(),
    ]
    assert all(any(b) for b in buffers)
    reading.wipe()
    assert not any(any(b) for b in buffers)


def test_no_access_key() -> None:
    with pytest.raises(AccessControlError) as err:
        _read(BAC, mrz=None)
    assert err.value.code == "access.no-key"
