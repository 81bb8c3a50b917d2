"""Passive authentication (ICAO 9303-11 section 5.1) and the CSCA trust store (9303-12)."""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Iterable, Mapping
from pathlib import Path

from asn1crypto import cms, core, pem, x509

from edge.mrtd.errors import TrustStoreError, VerificationError
from edge.mrtd.signatures import digest, verify_asn1
from edge.mrtd.sod import LDS_SECURITY_OBJECT_OID, Sod

MASTER_LIST_OID = "2.23.136.1.1.2"  # 9303-12 section 8: id-icao-cscaMasterList


class CscaCertificates(core.SetOf):  # type: ignore[misc]
    _child_spec = x509.Certificate


class CscaMasterList(core.Sequence):  # type: ignore[misc]
    _fields = [("version", core.Integer), ("cert_list", CscaCertificates)]  # noqa: RUF012 (asn1crypto API)


class TrustStore:
    """The CSCA certificates this device trusts, looked up by subject name."""

    def __init__(self, cscas: Iterable[x509.Certificate]) -> None:
        self.cscas = tuple(cscas)

    @classmethod
    def from_path(cls, path: str | Path) -> TrustStore:
        """A folder of CSCA certificates (DER or PEM) and/or ICAO master lists (.ml)."""
        p = Path(path)
        files = sorted(f for f in p.iterdir() if f.is_file()) if p.is_dir() else [p]
        certs: list[x509.Certificate] = []
        for f in files:
            data = f.read_bytes()
            if f.suffix.lower() == ".ml":
                certs.extend(load_master_list(data))
            elif f.suffix.lower() in (".der", ".cer", ".crt", ".pem"):
                certs.append(_load_certificate(data, f.name))
        if not certs:
            raise TrustStoreError(
                f"no CSCA certificate found in {p} (expected .der/.cer/.crt/.pem or .ml files)",
                code="trust.empty",
            )
        return cls(certs)

    def issuers_of(self, cert: x509.Certificate) -> list[x509.Certificate]:
        """CSCAs whose subject is the certificate's issuer (and whose key id matches, if given)."""
        aki = cert.authority_key_identifier
        return [
            c
            for c in self.cscas
            if c.subject == cert.issuer and (aki is None or c.key_identifier in (None, aki))
        ]


def _load_certificate(data: bytes, name: str) -> x509.Certificate:
    try:
        if pem.detect(data):
            _, _, data = pem.unarmor(data)
        cert = x509.Certificate.load(data, strict=True)
        _ = cert.native
        return cert
    except (ValueError, TypeError) as exc:
        raise TrustStoreError(f"{name} is not an X.509 certificate: {exc}") from exc


def load_master_list(data: bytes) -> list[x509.Certificate]:
    """CSCA certificates from an ICAO master list (9303-12 section 8), its signature checked.

    The list's signer certificate must be issued by one of the CSCAs the list carries: that
    proves integrity; trusting the list at all is the operator's decision when installing it.
    """
    try:
        info = cms.ContentInfo.load(data, strict=True)
        signed = info["content"]
        encap = signed["encap_content_info"]
        if encap["content_type"].dotted != MASTER_LIST_OID:
            raise TrustStoreError(
                "file is not an ICAO CSCA master list", code="trust.master-list-invalid"
            )
        body = bytes(encap["content"].contents)
        certs = list(CscaMasterList.load(body, strict=True)["cert_list"])
        signer = signed["signer_infos"][0]
        embedded = [c.chosen for c in signed["certificates"] or []]
    except TrustStoreError:
        raise
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise TrustStoreError(
            f"master list does not decode: {exc}", code="trust.master-list-invalid"
        ) from exc
    signer_cert = _find_signer(signer, embedded)
    if signer_cert is None:
        raise TrustStoreError(
            "master list signer certificate missing", code="trust.master-list-invalid"
        )
    try:
        verify_signer(signer, signer_cert, body, MASTER_LIST_OID)
    except VerificationError as exc:
        raise TrustStoreError(
            f"master list signature: {exc}", code="trust.master-list-invalid"
        ) from exc
    issuers = TrustStore(certs).issuers_of(signer_cert)
    if not any(_cert_signed_by(signer_cert, i) for i in issuers):
        raise TrustStoreError(
            "master list signer is not issued by a CSCA in the list",
            code="trust.master-list-invalid",
        )
    return certs


def _find_signer(
    signer: cms.SignerInfo, certs: Iterable[x509.Certificate]
) -> x509.Certificate | None:
    sid = signer["sid"]
    for c in certs:
        if sid.name == "issuer_and_serial_number":
            if (
                c.issuer == sid.chosen["issuer"]
                and c.serial_number == sid.chosen["serial_number"].native
            ):
                return c
        elif c.key_identifier == sid.chosen.native:
            return c
    return None


def _cert_signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """RFC 5280 4.1.1.3: the signature BIT STRING holds whole octets (no unused bits)."""
    if cert["signature_value"].contents[:1] != b"\x00":
        return False
    return verify_asn1(
        issuer.public_key.dump(),
        cert["signature_algorithm"],
        cert["signature_value"].native,
        cert["tbs_certificate"].dump(),
    )


def verify_signer(
    signer: cms.SignerInfo, cert: x509.Certificate, content: bytes, content_type: str
) -> None:
    """RFC 5652 section 5.4: signed contentType and messageDigest, then the signature.

    9303-10 section 4.6.2.1 requires signed attributes in EF.SOD (and 9303-12 section 8 in
    master lists), so their absence fails.
    """
    attrs = signer["signed_attrs"]
    if not attrs:
        raise VerificationError("signer has no signed attributes", code="pa.sod-signature")
    by_type = {a["type"].native: a["values"] for a in attrs}
    hash_name = signer["digest_algorithm"]["algorithm"].native
    md = by_type.get("message_digest")
    if (
        md is None
        or len(md) != 1
        or not hmac.compare_digest(bytes(md[0].native), digest(hash_name, content))
    ):
        raise VerificationError(
            "signed messageDigest does not match the content", code="pa.sod-signature"
        )
    types = by_type.get("content_type")
    if types is None or [t.dotted for t in types] != [content_type]:
        raise VerificationError(
            "signed contentType is not the expected one", code="pa.sod-signature"
        )
    signed_bytes = b"\x31" + attrs.dump()[1:]  # RFC 5652 5.4: DER of the SET OF, not [0]
    if not verify_asn1(
        cert.public_key.dump(),
        signer["signature_algorithm"],
        signer["signature"].native,
        signed_bytes,
    ):
        raise VerificationError(
            "signature does not verify with the signer certificate", code="pa.sod-signature"
        )


def _valid_at(cert: x509.Certificate, now: dt.datetime) -> bool:
    validity = cert["tbs_certificate"]["validity"]
    return bool(validity["not_before"].native <= now <= validity["not_after"].native)


def passive_authentication(
    sod: Sod, data_groups: Mapping[int, bytes], trust: TrustStore, now: dt.datetime
) -> None:
    """Raise VerificationError (with its reason code) unless every step of 9303-11 5.1 holds.

    1. the SOD signature verifies with the DSC it carries (5.1.1 step 1, RFC 5652 5.4);
    2. a trusted CSCA issued the DSC, both are valid now (5.1.1 step 2, 9303-12 section 7);
    3. each data group read hashes to the value in the SOD (5.1.1 step 3).
    """
    signer = sod.signer
    dsc = _find_signer(signer, sod.certificates)
    if dsc is None:
        raise VerificationError("EF.SOD carries no document signer certificate", code="pa.no-dsc")
    verify_signer(signer, dsc, sod.encapsulated, LDS_SECURITY_OBJECT_OID)
    issuers = trust.issuers_of(dsc)
    if not issuers:
        raise VerificationError(
            f"no trusted CSCA issued the DSC ({dsc.issuer.human_friendly}); add the issuing "
            "state's CSCA to the trust store",
            code="pa.csca-untrusted",
        )
    csca = next((c for c in issuers if _cert_signed_by(dsc, c)), None)
    if csca is None:
        raise VerificationError(
            "DSC signature does not verify with the CSCA", code="pa.dsc-signature"
        )
    if not _valid_at(csca, now):
        raise VerificationError("CSCA certificate is not valid now", code="pa.csca-expired")
    if not _valid_at(dsc, now):
        raise VerificationError(
            "document signer certificate is not valid now", code="pa.dsc-expired"
        )
    for number, raw in sorted(data_groups.items()):
        expected = sod.data_group_hashes.get(number)
        if expected is None:
            raise VerificationError(
                f"DG{number} was read but is not listed in EF.SOD", code="pa.dg-not-in-sod"
            )
        if not hmac.compare_digest(digest(sod.hash_algorithm, raw), expected):
            raise VerificationError(
                f"DG{number} does not match its hash in EF.SOD: altered", code="pa.dg-hash-mismatch"
            )
