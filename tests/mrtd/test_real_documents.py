"""What real issuers produce: each tolerance on the real file that shows it (shared data) and on
a generated document that has it; the trust store from master lists, CSCAs and CRLs; the
country check; and that CA/AA can never be "passed" when passive authentication was not.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest
from asn1crypto import cms, keys, x509

from edge.mrtd import tlv
from edge.mrtd.activeauth import load_dg15_key
from edge.mrtd.errors import ParseError, TrustStoreError, VerificationError
from edge.mrtd.passive import (
    TrustStore,
    load_crl,
    load_master_list,
    passive_authentication,
    passive_checks,
)
from edge.mrtd.reader import PassportReading, read_passport
from edge.mrtd.results import CheckResult, CheckStatus, DocumentAuthentication
from edge.mrtd.sod import ID_DATA_OID, Sod
from rig.mrtd.card import EmulatedChip, InProcessTransport
from rig.mrtd.testdoc import DocOptions
from rig.mrtd.testdoc import TestDocument as Doc
from tests.mrtd.conftest import NOW, document, trust_of
from tests.shared import MRTD_REAL

real = pytest.mark.shared("vectors/mrtd-real")
BSI = MRTD_REAL / "docs" / "jmrtd-bsi2008"
LOES = MRTD_REAL / "docs" / "jmrtd-loes2006"
NZ_SOD = MRTD_REAL / "sod" / "jmrtd_NZ2013_EF_SOD.bin"
MASTER_LISTS = MRTD_REAL / "masterlists"


def _at(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC)


def _statuses(report: object) -> dict[str, tuple[str, str | None]]:
    return {c.name: (c.result.status.value, c.result.code) for c in report.checks}  # type: ignore[attr-defined]


_STORE: list[TrustStore] = []


def _master_lists() -> TrustStore:
    if not _STORE:
        _STORE.append(TrustStore.from_path(MASTER_LISTS))
    return _STORE[0]


def _read(doc: Doc, trust: TrustStore | None = None) -> PassportReading:
    chip = EmulatedChip(doc)
    return read_passport(
        InProcessTransport(chip), mrz=doc.mrz_key, trust=trust or trust_of(doc), now=NOW
    )


# -- fault 1: SignerInfo.signatureAlgorithm = rsaEncryption (RFC 3370 section 3.2) ---------


@real
def test_real_nz_sod_with_rsa_encryption_authenticates_against_the_master_lists() -> None:
    sod = Sod.parse(NZ_SOD.read_bytes())
    assert sod.signer["signature_algorithm"]["algorithm"].dotted == "1.2.840.113549.1.1.1"
    report = passive_checks(sod, {}, _master_lists(), _at("2013-01-01"))
    status = _statuses(report)
    assert status["sod-signature"] == ("passed", None)
    assert status["dsc-chain"] == ("passed", None)
    assert status["dg1-hash"] == ("not_checked", None)
    assert report.authenticated
    # Same SOD, ten years on: the CSCA has expired, and that is what it says.
    later = passive_checks(sod, {}, _master_lists(), _at("2026-06-01"))
    assert not later.authenticated and later.error is not None
    assert later.error.code == "pa.csca-expired"


def test_generated_rsa_encryption_sod_is_authenticated() -> None:
    doc = document(DocOptions(sod_rsa_encryption=True, active_auth="none", chip_auth=False))
    sod = Sod.parse(doc.files["EF.SOD"])
    assert sod.signer["signature_algorithm"]["algorithm"].dotted == "1.2.840.113549.1.1.1"
    with _read(doc) as reading:
        assert reading.authentication.passive.status is CheckStatus.PASSED
    # The hash still matters: a digestAlgorithm that differs from the one signed fails.
    signer = sod.signer.copy()
    signer["digest_algorithm"] = {"algorithm": "sha384"}
    with pytest.raises(VerificationError):
        passive_authentication(dataclasses.replace(sod, signer=signer), {}, trust_of(doc), NOW)


# -- fault 2: SignerIdentifier issuer with the RDNs in another order ------------------------


def test_signer_identifier_with_reordered_issuer_rdns_finds_the_dsc() -> None:
    doc = document(DocOptions(sid_issuer_reordered=True))
    sod = Sod.parse(doc.files["EF.SOD"])
    sid_issuer = sod.signer["sid"].chosen["issuer"]
    assert sid_issuer != sod.certificates[0].issuer  # RFC 5280 7.1 in-order match would fail
    with _read(doc) as reading:
        assert reading.authentication.authenticated


def test_signer_identifier_matching_no_certificate_says_so() -> None:
    doc = document()
    sod = Sod.parse(doc.files["EF.SOD"])
    signer = sod.signer.copy()
    sid = signer["sid"].chosen.copy()
    sid["serial_number"] = sid["serial_number"].native + 1
    signer["sid"] = cms.SignerIdentifier({"issuer_and_serial_number": sid})
    with pytest.raises(VerificationError) as err:
        passive_authentication(dataclasses.replace(sod, signer=signer), {}, trust_of(doc), NOW)
    assert err.value.code == "pa.signer-not-found"  # not "carries no DSC": it carries one
    bare = dataclasses.replace(sod, certificates=())
    with pytest.raises(VerificationError) as err:
        passive_authentication(bare, {}, trust_of(doc), NOW)
    assert err.value.code == "pa.no-dsc"


# -- fault 3: eContentType id-data around the LDS security object --------------------------


def test_id_data_econtent_type_is_read_as_the_lds_security_object() -> None:
    doc = document(DocOptions(econtent_id_data=True))
    sod = Sod.parse(doc.files["EF.SOD"])
    assert sod.content_type == ID_DATA_OID
    with _read(doc) as reading:
        assert reading.authentication.authenticated
    # The signed contentType attribute must still name what eContentType says.
    lying = dataclasses.replace(sod, content_type="2.23.136.1.1.1")
    with pytest.raises(VerificationError):
        passive_authentication(lying, {}, trust_of(doc), NOW)


def test_other_econtent_types_stay_refused() -> None:
    doc = document()
    raw = doc.files["EF.SOD"]
    lso_oid = bytes.fromhex("0606678108010101")  # 2.23.136.1.1.1
    other = bytes.fromhex("0606678108010102")  # 2.23.136.1.1.2, the master list OID
    assert raw.count(lso_oid) >= 1
    with pytest.raises(ParseError) as err:
        Sod.parse(raw.replace(lso_oid, other, 1))
    assert err.value.code == "sod.invalid"


# -- fault 5: DG15 RSA modulus encoded as a negative INTEGER -------------------------------


@real
def test_real_dg15_with_negative_modulus_loads_as_unsigned() -> None:
    raw = (BSI / "Datagroup15.bin").read_bytes()
    info = keys.PublicKeyInfo.load(tlv.expect(raw, 0x6F, "DG15"))
    assert info["public_key"].parsed["modulus"].native < 0  # the premise: the encoder bug
    _, key = load_dg15_key(raw)
    assert key.key_size == 1024
    assert key.public_numbers().n > 0
    _, plain = load_dg15_key((MRTD_REAL / "dg15" / "gmrtd_DG15_rsa.bin").read_bytes())
    assert plain.key_size == 1792


def test_generated_negative_modulus_dg15_passes_active_authentication() -> None:
    doc = document(DocOptions(active_auth="rsa", dg15_negative_modulus=True))
    info = keys.PublicKeyInfo.load(tlv.expect(doc.files["DG15"], 0x6F, "DG15"))
    assert info["public_key"].parsed["modulus"].native < 0
    with _read(doc) as reading:
        assert reading.authentication.active.status is CheckStatus.PASSED
        assert reading.authentication.authenticated


def test_dg15_that_is_not_a_key_is_coded() -> None:
    with pytest.raises(ParseError) as err:
        load_dg15_key(tlv.encode(0x6F, tlv.encode(0x30, b"\x02\x01\x01")))
    assert err.value.code == "dg15.invalid"


# -- what already held on real data --------------------------------------------------------


@real
def test_real_bsi_2008_document_signature_and_hashes() -> None:
    sod = Sod.parse((BSI / "EF_SOD.bin").read_bytes())
    dgs = {n: (BSI / f"Datagroup{n}.bin").read_bytes() for n in (1, 2, 3, 14)}
    status = _statuses(passive_checks(sod, dgs, _master_lists(), _at("2008-06-01")))
    assert status["sod-signature"] == ("passed", None)  # ECDSA, explicit brainpool parameters
    assert {status[f"dg{n}-hash"] for n in (1, 2, 3, 14)} == {("passed", None)}
    # A test CSCA is in no master list: untrusted, and said so.
    assert status["dsc-chain"] == ("failed", "pa.csca-untrusted")


@real
def test_real_dutch_2006_document_signature_and_hashes() -> None:
    sod = Sod.parse((LOES / "ef011D.bin").read_bytes())
    dgs = {1: (LOES / "ef0101.bin").read_bytes(), 2: (LOES / "ef0102.bin").read_bytes()}
    status = _statuses(passive_checks(sod, dgs, _master_lists(), _at("2007-01-01")))
    assert status["sod-signature"] == ("passed", None)
    assert status["dg1-hash"] == status["dg2-hash"] == ("passed", None)


# -- trust store: master lists named by their signer, CSCAs, CRLs ---------------------------


def _embedded(ml: Path) -> list[x509.Certificate]:
    signed = cms.ContentInfo.load(ml.read_bytes())["content"]
    return [c.chosen for c in signed["certificates"]]


@real
def test_master_lists_load_only_under_the_csca_the_operator_names() -> None:
    nl = MASTER_LISTS / "NL_ML_2025-07-29.ml"
    nl_root = x509.Certificate.load((MRTD_REAL / "certs" / "NL_ROOT_CA.cer").read_bytes())
    certs = load_master_list(nl.read_bytes(), signers=[nl_root])
    assert len(certs) > 300
    de = MASTER_LISTS / "DE_ML_2024-08-07-07-38-24.ml"
    with pytest.raises(TrustStoreError) as err:
        load_master_list(de.read_bytes(), signers=[nl_root])
    assert err.value.code == "trust.master-list-untrusted"
    germany = [c for c in _embedded(de) if c.ca]
    assert len(load_master_list(de.read_bytes(), signers=germany)) > 500


@real
def test_three_master_lists_merge_without_duplicates() -> None:
    store = _master_lists()
    total = sum(len(load_master_list(f.read_bytes())) for f in sorted(MASTER_LISTS.glob("*.ml")))
    assert 0 < len(store.cscas) < total  # the lists overlap; each certificate is kept once
    assert len({c.sha256 for c in store.cscas}) == len(store.cscas)


def test_loose_csca_plus_master_list_and_pem(tmp_path: Path) -> None:
    from cryptography import x509 as cx509
    from cryptography.hazmat.primitives import serialization

    doc = document()
    pem = cx509.load_der_x509_certificate(doc.csca_der).public_bytes(serialization.Encoding.PEM)
    (tmp_path / "csca.pem").write_bytes(pem)
    store = TrustStore.from_paths([tmp_path / "csca.pem"])
    dgs = {n: doc.files[f"DG{n}"] for n in (1, 2, 14, 15)}
    passive_authentication(Sod.parse(doc.files["EF.SOD"]), dgs, store, NOW)
    with pytest.raises(TrustStoreError) as err:
        TrustStore.from_paths([tmp_path / "nonexistent"])
    assert err.value.code == "trust.not-found"
    # A PEM bundle of several CSCAs (as operators often keep them) loads every one.
    other = document(DocOptions(curve="secp256r1"))
    other_pem = cx509.load_der_x509_certificate(other.csca_der).public_bytes(
        serialization.Encoding.PEM
    )
    (tmp_path / "csca.pem").write_bytes(pem + other_pem)
    assert len(TrustStore.from_paths([tmp_path / "csca.pem"]).cscas) == 2


def test_revoked_dsc_fails_with_its_own_code() -> None:
    doc = document(DocOptions(revoked_dsc=True))
    assert doc.crl_der is not None
    store = TrustStore([x509.Certificate.load(doc.csca_der)], [load_crl(doc.crl_der)])
    with _read(doc, store) as reading:
        assert reading.authentication.passive.code == "pa.dsc-revoked"
        assert not reading.authentication.authenticated
    clean = document(DocOptions(crl=True))
    assert clean.crl_der is not None
    store = TrustStore([x509.Certificate.load(clean.csca_der)], [load_crl(clean.crl_der)])
    with _read(clean, store) as reading:
        assert reading.authentication.authenticated


def test_crl_not_signed_by_a_trusted_csca_is_refused() -> None:
    doc = document(DocOptions(revoked_dsc=True))
    assert doc.crl_der is not None
    other = document(DocOptions(crl=True))
    with pytest.raises(TrustStoreError) as err:
        TrustStore([x509.Certificate.load(other.csca_der)], [load_crl(doc.crl_der)])
    assert err.value.code == "trust.crl-invalid"


# -- country: DG1 issuing state = DSC country = CSCA country (9303-12 section 7.1.1) --------


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (DocOptions(issuing_state="NLD", country="NL"), ("passed", None)),
        (DocOptions(issuing_state="D<<", country="DE"), ("passed", None)),
        (DocOptions(issuing_state="FRA", country="NL"), ("failed", "pa.country-mismatch")),
        (DocOptions(issuing_state="NLD", country="NL", csca_country="FR"),
         ("failed", "pa.country-mismatch")),
        (DocOptions(), ("not_checked", None)),  # 9303's specimen state Utopia has no C=
    ],
)  # fmt: skip
def test_country_check(options: DocOptions, expected: tuple[str, str | None]) -> None:
    doc = document(options)
    dgs = {n: doc.files[f"DG{n}"] for n in (1, 2)}
    report = passive_checks(Sod.parse(doc.files["EF.SOD"]), dgs, trust_of(doc), NOW)
    assert _statuses(report)["country"] == expected
    assert report.authenticated is (expected[0] != "failed")


# -- CA/AA never "passed" when passive authentication did not pass -------------------------


def _result(status: CheckStatus) -> CheckResult:
    return CheckResult(status, None if status is CheckStatus.PASSED else "x.y")


@pytest.mark.parametrize(
    "passive", [CheckStatus.FAILED, CheckStatus.NOT_SUPPORTED, CheckStatus.NOT_CHECKED]
)
def test_chip_and_active_cannot_pass_without_passive(passive: CheckStatus) -> None:
    ok = _result(CheckStatus.PASSED)
    auth = DocumentAuthentication("PACE", _result(passive), ok, ok, ok)
    assert auth.chip.status is CheckStatus.INCONCLUSIVE
    assert auth.active.status is CheckStatus.INCONCLUSIVE
    assert auth.chip.code == "ca.key-unauthenticated"
    assert not auth.authenticated
    # Rebuilding the summary cannot sneak it back in: every construction is checked.
    again = dataclasses.replace(auth, chip=ok, active=ok)
    assert again.chip.status is CheckStatus.INCONCLUSIVE
    fixed = dataclasses.replace(auth, passive=ok, chip=ok, active=ok)
    assert fixed.chip.status is CheckStatus.PASSED and fixed.authenticated


def test_forged_data_groups_make_the_chip_proof_inconclusive_end_to_end() -> None:
    from attest.evidence import Outcome
    from edge.steps import to_document_auth

    with _read(document(DocOptions(wrong_dg_hash=True))) as reading:
        auth = reading.authentication
        assert auth.passive.code == "pa.dg-hash-mismatch"
        assert auth.chip.status is CheckStatus.INCONCLUSIVE  # the emulated chip did "pass"
        assert auth.active.status is CheckStatus.INCONCLUSIVE
        claim = to_document_auth(auth)
        assert claim.passive is Outcome.FAILED
        assert claim.anticlone is Outcome.INCONCLUSIVE


# -- integer encodings of old signers in signatures themselves ------------------------------


def test_ecdsa_signature_with_a_negative_r_still_verifies() -> None:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from edge.mrtd.signatures import verify

    key = ec.generate_private_key(ec.SECP256R1())
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for i in range(200):  # half of all signatures have r >= 2^255 (DER: 02 21 00 ...)
        data = b"message %d" % i
        sig = key.sign(data, ec.ECDSA(hashes.SHA256()))
        if sig[2:5] == b"\x02\x21\x00":
            break
    else:
        pytest.fail("no signature with a high r")
    r_len = sig[3]
    bad = bytes([0x30, sig[1] - 1, 0x02, r_len - 1]) + sig[5:]  # r without its zero octet
    assert verify(spki, "ecdsa", "sha256", bad, data)
    assert not verify(spki, "ecdsa", "sha256", bad, data + b"!")


def test_rsa_signature_missing_its_leading_zero_octet_still_verifies() -> None:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    from edge.mrtd.signatures import verify

    key = rsa.generate_private_key(65537, 1024)
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for i in range(3000):  # about one signature in 256 starts with a zero octet
        data = b"message %d" % i
        sig = key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        if sig[0] == 0:
            break
    else:
        pytest.fail("no signature with a leading zero octet")
    assert verify(spki, "rsassa_pkcs1v15", "sha256", sig[1:], data)
    assert not verify(spki, "rsassa_pkcs1v15", "sha256", sig[1:], data + b"!")


# -- EF.CardSecurity is checked like EF.SOD's signer ---------------------------------------


@real
@pytest.mark.parametrize("name", ["gmrtd_DE_EF.CardSecurity.bin", "gmrtd_FI_EF.CardSecurity.bin"])
def test_real_card_security_signature_and_chain(name: str) -> None:
    from edge.mrtd.passive import signed_data_checks

    raw = (MRTD_REAL / "cardsecurity" / name).read_bytes()
    report = signed_data_checks(raw, _master_lists(), _at("2024-01-01"))
    status = _statuses(report)
    assert status["card-security-signature"] == ("passed", None)
    assert status["card-security-dsc-chain"] == ("passed", None)
    tampered = bytearray(raw)
    tampered[-10] ^= 0x01  # inside the signature
    bad = signed_data_checks(bytes(tampered), _master_lists(), _at("2024-01-01"))
    assert not bad.authenticated and bad.error is not None


def test_dsc_whose_authority_key_id_matches_no_csca_is_chained_by_name_and_signature() -> None:
    doc = document(DocOptions(dsc_aki_mismatch=True))
    with _read(doc) as reading:
        assert reading.authentication.authenticated
    # The same name under another key is still untrusted (not merely a signature failure).
    with _read(document(DocOptions(untrusted_csca=True))) as reading:
        assert reading.authentication.passive.code == "pa.csca-untrusted"


def test_sod_with_a_hash_9303_does_not_allow_fails_with_a_code() -> None:
    doc = document()
    sod = dataclasses.replace(Sod.parse(doc.files["EF.SOD"]), hash_algorithm="md5")
    report = passive_checks(sod, {1: doc.files["DG1"]}, trust_of(doc), NOW)
    assert _statuses(report)["dg1-hash"] == ("failed", "crypto.unsupported-algorithm")
    assert not report.authenticated
