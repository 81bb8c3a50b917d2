"""The CSCA trust store (ICAO 9303-12): CSCA certificates, ICAO master lists and CRLs,
loaded from files and indexed for lookup.

Split from passive authentication (edge/mrtd/passive.py), which takes a `TrustStore`; the
`passport trust` command's build and write steps are edge/mrtd/trust.py.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from asn1crypto import cms, core, crl, pem, x509

from edge.mrtd.certs import (
    NameKey,
    cert_signed_by,
    fast_name_key,
    find_signer_certificate,
    name_key,
    subject_key_id,
    verifies,
    verify_signer,
)
from edge.mrtd.errors import TrustStoreError, VerificationError
from edge.mrtd.sod import DECODE_ERRORS

MASTER_LIST_OID = "2.23.136.1.1.2"  # 9303-12 section 8: id-icao-cscaMasterList


class CscaCertificates(core.SetOf):  # type: ignore[misc]
    _child_spec = x509.Certificate


class CscaMasterList(core.Sequence):  # type: ignore[misc]
    _fields = [("version", core.Integer), ("cert_list", CscaCertificates)]  # noqa: RUF012 (asn1crypto API)


class TrustStore:
    """The CSCA certificates (and CRLs) this device trusts, indexed for lookup.

    Indexed by subject key identifier and by order-insensitive subject name, so a lookup
    costs the same with 5 or 5,000 CSCAs (three master lists hold about 1,450). CRLs
    (RFC 5280 section 5) are accepted only when a CSCA of the store signed them; their
    revoked serial numbers are kept per issuer name.
    """

    def __init__(
        self, cscas: Iterable[x509.Certificate], crls: Iterable[crl.CertificateList] = ()
    ) -> None:
        unique: dict[bytes, x509.Certificate] = {}
        for c in cscas:
            unique.setdefault(hashlib.sha256(c.dump()).digest(), c)
        self.cscas = tuple(unique.values())
        self._by_name: dict[NameKey, list[x509.Certificate]] = {}
        # Built on the first lookup the DER index misses (a name spelt with another string
        # type or case): preparing 1,500 names costs about half a second.
        self._by_prepared_name: dict[NameKey, list[x509.Certificate]] | None = None
        for c in self.cscas:
            self._by_name.setdefault(fast_name_key(c.subject), []).append(c)
        self.crls: tuple[crl.CertificateList, ...] = ()
        self._revoked: dict[NameKey, set[int]] = {}
        for item in crls:
            self.add_crl(item)

    def add_crl(self, item: crl.CertificateList) -> None:
        """RFC 5280 section 6.3.3 (f)/(g): the CRL's signature must verify with a CSCA here."""
        try:
            issuer_key = name_key(item.issuer)
            candidates = self.by_subject(item.issuer)
            tbs = item["tbs_cert_list"]
            signed = any(
                item["signature"].contents[:1] == b"\x00"
                and verifies(c, item["signature_algorithm"], item["signature"].native, tbs.dump())
                for c in candidates
            )
            serials = {int(r["user_certificate"].native) for r in tbs["revoked_certificates"]}
        except DECODE_ERRORS as exc:
            raise TrustStoreError(f"CRL does not decode: {exc}", code="trust.crl-invalid") from exc
        if not signed:
            raise TrustStoreError(
                f"CRL of {item.issuer.human_friendly} is not signed by a CSCA in the trust "
                "store; add its CSCA first",
                code="trust.crl-invalid",
            )
        self.crls = (*self.crls, item)
        self._revoked.setdefault(issuer_key, set()).update(serials)

    @classmethod
    def from_path(cls, path: str | Path) -> TrustStore:
        """A folder of CSCA certificates (DER or PEM), ICAO master lists (.ml) and CRLs."""
        return cls.from_paths([path])

    @classmethod
    def from_paths(cls, paths: Iterable[str | Path]) -> TrustStore:
        """Each path a certificate, a master list, a CRL or a folder of them (recursively,
        so a store written by `passport trust build` loads as it is)."""
        certs: list[x509.Certificate] = []
        crls: list[crl.CertificateList] = []
        for path in paths:
            p = Path(path)
            if not p.exists():
                raise TrustStoreError(f"{p} does not exist", code="trust.not-found")
            files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
            for f in files:
                kind = _kind_of(f)
                if kind is None:
                    continue
                try:
                    data = f.read_bytes()
                except OSError as exc:
                    raise TrustStoreError(
                        f"{f} cannot be read: {exc.strerror}", code="trust.unreadable"
                    ) from exc
                if kind == "ml":
                    certs.extend(load_master_list(data))
                elif kind == "crl":
                    crls.append(load_crl(data, f.name))
                else:
                    certs.extend(load_certificates(data, f.name))
        if not certs:
            raise TrustStoreError(
                "no CSCA certificate found in "
                + ", ".join(str(p) for p in paths)
                + " (expected .der/.cer/.crt/.pem certificates or .ml master lists)",
                code="trust.empty",
            )
        return cls(certs, crls)

    def by_subject(self, name: x509.Name) -> list[x509.Certificate]:
        """CSCAs with this subject, RDNs in any order (`fast_name_key`, then `name_key`)."""
        found = self._by_name.get(fast_name_key(name))
        if found:
            return list(found)
        if self._by_prepared_name is None:
            self._by_prepared_name = {}
            for c in self.cscas:
                self._by_prepared_name.setdefault(name_key(c.subject), []).append(c)
        return list(self._by_prepared_name.get(name_key(name), []))

    def issuers_of(self, cert: x509.Certificate) -> list[x509.Certificate]:
        """CSCAs named as the certificate's issuer whose key identifier is the one the
        certificate's authorityKeyIdentifier gives (or who carry none): that separates a
        re-keyed CSCA from its predecessor of the same name (RFC 5280 section 4.2.1.1).
        The caller still verifies the signature, which decides."""
        try:
            aki = cert.authority_key_identifier
        except DECODE_ERRORS:
            aki = None
        named = self.by_subject(cert.issuer)
        if aki is None:
            return named
        return [c for c in named if subject_key_id(c) in (None, bytes(aki))]

    def is_revoked(self, cert: x509.Certificate) -> bool:
        try:
            return cert.serial_number in self._revoked.get(name_key(cert.issuer), set())
        except DECODE_ERRORS:
            return False


def _kind_of(f: Path) -> str | None:
    suffix = f.suffix.lower()
    if suffix == ".ml":
        return "ml"
    if suffix == ".crl":
        return "crl"
    if suffix in (".der", ".cer", ".crt", ".pem"):
        return "cert"
    return None


def load_certificates(data: bytes, name: str) -> list[x509.Certificate]:
    """One DER certificate, or every certificate of a PEM file (CSCA bundles are common)."""
    if not pem.detect(data):
        return [_load_certificate(data, name)]
    try:
        blocks = [der for kind, _, der in pem.unarmor(data, multiple=True) if kind == "CERTIFICATE"]
    except DECODE_ERRORS as exc:
        raise TrustStoreError(f"{name} is not PEM: {exc}") from exc
    if not blocks:
        raise TrustStoreError(f"{name} holds no PEM CERTIFICATE block")
    return [_load_certificate(der, name) for der in blocks]


def _load_certificate(data: bytes, name: str) -> x509.Certificate:
    try:
        if pem.detect(data):
            _, _, data = pem.unarmor(data)
        cert = x509.Certificate.load(data, strict=True)
        # Decode what the store indexes now; the rest is decoded when used, under the
        # DECODE_ERRORS guards (a full `.native` costs more than the whole index).
        _ = (cert.subject.chosen, cert.public_key["algorithm"], cert.serial_number)
        return cert
    except DECODE_ERRORS as exc:
        raise TrustStoreError(f"{name} is not an X.509 certificate: {exc}") from exc


def load_crl(data: bytes, name: str = "CRL") -> crl.CertificateList:
    """An X.509 CRL (RFC 5280 section 5), DER or PEM; its signature is checked on adding."""
    try:
        if pem.detect(data):
            _, _, data = pem.unarmor(data)
        item = crl.CertificateList.load(data, strict=True)
        _ = item.native
        return item
    except DECODE_ERRORS as exc:
        raise TrustStoreError(
            f"{name} is not an X.509 CRL: {exc}", code="trust.crl-invalid"
        ) from exc


def load_master_list(
    data: bytes, *, signers: Iterable[x509.Certificate] | None = None
) -> list[x509.Certificate]:
    """CSCA certificates from an ICAO master list (9303-12 section 8), its signature checked.

    Without `signers`, the list's signer certificate must be issued by one of the CSCAs the
    list carries: that proves integrity only, and trusting the file is the operator's
    decision when installing it. With `signers` (the CSCAs the operator names, e.g. the
    issuing state's CSCA of a national list), the signer certificate must also be one of
    them or be issued by one of them: that is the trust decision `passport trust build`
    makes.
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
    except DECODE_ERRORS as exc:
        raise TrustStoreError(
            f"master list does not decode: {exc}", code="trust.master-list-invalid"
        ) from exc
    signer_cert = find_signer_certificate(signer, embedded)
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
    if not any(cert_signed_by(signer_cert, i) for i in issuers):
        raise TrustStoreError(
            "master list signer is not issued by a CSCA in the list",
            code="trust.master-list-invalid",
        )
    if signers is not None:
        named = list(signers)
        fingerprint = hashlib.sha256(signer_cert.dump()).digest()
        if not any(hashlib.sha256(c.dump()).digest() == fingerprint for c in named):
            anchors = TrustStore(named).issuers_of(signer_cert)
            if not any(cert_signed_by(signer_cert, a) for a in anchors):
                raise TrustStoreError(
                    f"master list signer ({signer_cert.subject.human_friendly}) is not issued "
                    "by any CSCA named with --master-list-signer",
                    code="trust.master-list-untrusted",
                )
    return certs
