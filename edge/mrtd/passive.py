"""Passive authentication (ICAO 9303-11 section 5.1) and the CSCA trust store (9303-12).

Two entry points: `passive_authentication` raises the first failing check's
VerificationError (the reader's use), `passive_checks` reports every check by name (the
`passport check` command's use). Both run the same code.

Tolerances for what real issuers produce, each bounded by a check that still holds (see
docs/passport.md, "Tolerances"):
- SignerInfo.signatureAlgorithm naming only the key type (rsaEncryption, RFC 3370 section
  3.2): the hash comes from SignerInfo.digestAlgorithm (`signatures.verify_asn1`);
- a SignerIdentifier whose issuer lists the DSC issuer's RDNs in another order: names are
  matched as sets of RDNs (stretches RFC 5280 section 7.1, which compares RDN sequences in
  order), still together with the serial number;
- eContentType id-data around an LDS security object (`sod.Sod.parse`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import cms, core, crl, pem, x509

from edge.mrtd.countries import alpha2_of
from edge.mrtd.errors import MrtdError, TrustStoreError, VerificationError
from edge.mrtd.results import CheckResult, CheckStatus
from edge.mrtd.signatures import digest, verify_asn1
from edge.mrtd.sod import DECODE_ERRORS, Sod

MASTER_LIST_OID = "2.23.136.1.1.2"  # 9303-12 section 8: id-icao-cscaMasterList
NameKey = tuple[str, ...]


class CscaCertificates(core.SetOf):  # type: ignore[misc]
    _child_spec = x509.Certificate


class CscaMasterList(core.Sequence):  # type: ignore[misc]
    _fields = [("version", core.Integer), ("cert_list", CscaCertificates)]  # noqa: RUF012 (asn1crypto API)


def name_key(name: x509.Name) -> NameKey:
    """A distinguished name as the sorted multiset of its attribute values, each compared
    as RFC 5280 section 7.1 asks (RFC 4518: case folded, insignificant spaces removed,
    whatever the string type; the Unicode mapping tables are left out, no CSCA name needs
    them).

    RFC 5280 section 7.1 compares names RDN by RDN in order; issuers that re-encode the
    same RDNs in another order (seen in a real SignerIdentifier) would then fail to match.
    Order-insensitive matching is the tolerance; the serial number or key identifier and
    finally the signature still bind the certificate.
    """
    try:
        return tuple(
            sorted(
                "+".join(
                    sorted(f"{atv['type'].dotted}={_prepared(atv['value'].native)}" for atv in rdn)
                )
                for rdn in name.chosen
            )
        )
    except DECODE_ERRORS:
        return ("<undecodable name>",)


def _prepared(value: object) -> str:
    return " ".join(str(value).casefold().split())


def fast_name_key(name: x509.Name) -> NameKey:
    """The RDNs' DER, sorted: equal for the same RDNs in any order, without RFC 4518
    preparation (so a miss falls back to `name_key`). Cheap enough to index 1,500 CSCAs in
    well under the one-second load budget, where preparing every name takes seconds."""
    try:
        return tuple(sorted(bytes(rdn.dump()).hex() for rdn in name.chosen))
    except DECODE_ERRORS:
        return ("<undecodable name>",)


def subject_key_id(cert: x509.Certificate) -> bytes | None:
    """The subjectKeyIdentifier extension (RFC 5280 section 4.2.1.2), None when absent.

    Reads only that extension: asn1crypto's `key_identifier` parses every extension, which
    dominated loading a trust store of master lists.
    """
    try:
        for ext in cert["tbs_certificate"]["extensions"]:
            if ext["extn_id"].dotted == "2.5.29.14":
                return bytes(ext["extn_value"].parsed.native)
    except DECODE_ERRORS:
        return b""
    return None


def key_id_of(cert: x509.Certificate) -> bytes:
    """The subjectKeyIdentifier, or RFC 5280 section 4.2.1.2 method (1) when absent."""
    ski = subject_key_id(cert)
    if ski is not None:
        return ski
    try:
        return hashlib.sha1(cert.public_key["public_key"].contents[1:]).digest()  # noqa: S324
    except DECODE_ERRORS:
        return b""


def country_of(name: x509.Name) -> str | None:
    try:
        value = name.native.get("country_name")
    except DECODE_ERRORS:
        return None
    if isinstance(value, list):  # several C= attributes: ambiguous, treat as unknown
        return None
    return str(value).upper() if value else None


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
                and _verifies(c, item["signature_algorithm"], item["signature"].native, tbs.dump())
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
    if not any(_cert_signed_by(signer_cert, i) for i in issuers):
        raise TrustStoreError(
            "master list signer is not issued by a CSCA in the list",
            code="trust.master-list-invalid",
        )
    if signers is not None:
        named = list(signers)
        fingerprint = hashlib.sha256(signer_cert.dump()).digest()
        if not any(hashlib.sha256(c.dump()).digest() == fingerprint for c in named):
            anchors = TrustStore(named).issuers_of(signer_cert)
            if not any(_cert_signed_by(signer_cert, a) for a in anchors):
                raise TrustStoreError(
                    f"master list signer ({signer_cert.subject.human_friendly}) is not issued "
                    "by any CSCA named with --master-list-signer",
                    code="trust.master-list-untrusted",
                )
    return certs


def find_signer_certificate(
    signer: cms.SignerInfo, certs: Iterable[x509.Certificate]
) -> x509.Certificate | None:
    """The certificate a SignerInfo's sid names (RFC 5652 section 5.3).

    issuerAndSerialNumber: serial number plus issuer name, the name compared as a set of
    RDNs (`name_key`). subjectKeyIdentifier: the certificate's extension, or the RFC 5280
    4.2.1.2 (1) hash of its key when it has none.
    """
    try:
        sid = signer["sid"]
        if sid.name == "issuer_and_serial_number":
            serial = sid.chosen["serial_number"].native
            wanted = name_key(sid.chosen["issuer"])
            for c in certs:
                if c.serial_number == serial and name_key(c.issuer) == wanted:
                    return c
        else:
            ski = bytes(sid.chosen.native)
            for c in certs:
                if key_id_of(c) == ski:
                    return c
    except DECODE_ERRORS:
        return None
    return None


_find_signer = find_signer_certificate  # the name other modules and helpers already use


def _verifies(issuer: x509.Certificate, algorithm: object, signature: bytes, data: bytes) -> bool:
    try:
        return verify_asn1(issuer.public_key.dump(), algorithm, signature, data)
    except VerificationError:
        return False
    except DECODE_ERRORS:
        return False


def _cert_signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """RFC 5280 4.1.1.3: the signature BIT STRING holds whole octets (no unused bits)."""
    try:
        if cert["signature_value"].contents[:1] != b"\x00":
            return False
        return _verifies(
            issuer,
            cert["signature_algorithm"],
            cert["signature_value"].native,
            cert["tbs_certificate"].dump(),
        )
    except DECODE_ERRORS:
        return False


def verify_signer(
    signer: cms.SignerInfo, cert: x509.Certificate, content: bytes, content_type: str
) -> None:
    """RFC 5652 section 5.4: signed contentType and messageDigest, then the signature.

    9303-10 section 4.6.2.1 requires signed attributes in EF.SOD (and 9303-12 section 8 in
    master lists), so their absence fails.
    """
    try:
        _verify_signer(signer, cert, content, content_type)
    except VerificationError:
        raise
    except DECODE_ERRORS as exc:
        raise VerificationError(
            f"signer information does not decode: {exc}", code="pa.sod-signature"
        ) from exc


def _verify_signer(
    signer: cms.SignerInfo, cert: x509.Certificate, content: bytes, content_type: str
) -> None:
    attrs = signer["signed_attrs"]
    if not attrs:
        raise VerificationError("signer has no signed attributes", code="pa.sod-signature")
    by_type: dict[str, list[object]] = {}
    for a in attrs:
        # RFC 5652 section 5.3: each attribute type appears once.
        if a["type"].dotted in by_type:
            raise VerificationError(
                f"signed attribute {a['type'].native} repeated", code="pa.sod-signature"
            )
        by_type[a["type"].dotted] = list(a["values"])
    hash_name = signer["digest_algorithm"]["algorithm"].native
    md = by_type.get("1.2.840.113549.1.9.4")  # messageDigest
    if (
        md is None
        or len(md) != 1
        or not hmac.compare_digest(bytes(md[0].native), digest(hash_name, content))  # type: ignore[attr-defined]
    ):
        raise VerificationError(
            "signed messageDigest does not match the content", code="pa.sod-signature"
        )
    types = by_type.get("1.2.840.113549.1.9.3")  # contentType
    if types is None or [t.dotted for t in types] != [content_type]:  # type: ignore[attr-defined]
        raise VerificationError(
            "signed contentType is not the expected one", code="pa.sod-signature"
        )
    signed_bytes = b"\x31" + attrs.dump()[1:]  # RFC 5652 5.4: DER of the SET OF, not [0]
    if not verify_asn1(
        cert.public_key.dump(),
        signer["signature_algorithm"],
        signer["signature"].native,
        signed_bytes,
        digest_algorithm=hash_name,
    ):
        raise VerificationError(
            "signature does not verify with the signer certificate", code="pa.sod-signature"
        )


def _valid_at(cert: x509.Certificate, now: dt.datetime) -> bool:
    try:
        validity = cert["tbs_certificate"]["validity"]
        return bool(validity["not_before"].native <= now <= validity["not_after"].native)
    except DECODE_ERRORS:
        return False


@dataclass(frozen=True)
class NamedCheck:
    name: str
    result: CheckResult


@dataclass(frozen=True)
class PassiveReport:
    """Every step of 9303-11 section 5.1 by name, in order; `error` is the first failure."""

    checks: tuple[NamedCheck, ...]
    error: VerificationError | None

    @property
    def authenticated(self) -> bool:
        """The SOD signature and its chain passed and no check failed; data groups absent
        from the dump are reported "not checked" and do not fail it."""
        signature = next((c for c in self.checks if c.name.endswith("signature")), None)
        chain = next((c for c in self.checks if c.name.endswith("dsc-chain")), None)
        return (
            self.error is None
            and signature is not None
            and signature.result.status is CheckStatus.PASSED
            and chain is not None
            and chain.result.status is CheckStatus.PASSED
        )


def _not_checked(why: str) -> CheckResult:
    return CheckResult(CheckStatus.NOT_CHECKED, None, why)


def _signer_and_chain(
    add: Callable[[str, CheckResult | VerificationError], None],
    signer: cms.SignerInfo,
    certs: Sequence[x509.Certificate],
    content: bytes,
    content_type: str,
    trust: TrustStore,
    now: dt.datetime,
    *,
    what: str = "EF.SOD",
    prefix: str = "",
) -> tuple[x509.Certificate | None, x509.Certificate | None]:
    """Steps 1 and 2 of 9303-11 5.1.1 for any CMS SignedData of the chip (EF.SOD, and
    EF.CardSecurity, TR-03110-3 / 9303-11 section 9.2): signature with the embedded signer
    certificate, then that certificate's CSCA, validity and revocation. Returns (DSC, CSCA).
    """
    sig_name = f"{prefix}signature" if prefix else "sod-signature"
    # Step 1 (5.1.1, RFC 5652 5.4): the SOD signature, with the DSC the SOD carries.
    dsc = find_signer_certificate(signer, certs)
    if dsc is None:
        if certs:
            add(
                sig_name,
                VerificationError(
                    f"no certificate in {what} matches its SignerIdentifier (issuer and serial "
                    "number, or key identifier)",
                    code="pa.signer-not-found",
                ),
            )
        else:
            add(
                sig_name,
                VerificationError(
                    f"{what} carries no document signer certificate", code="pa.no-dsc"
                ),
            )
    else:
        try:
            verify_signer(signer, dsc, content, content_type)
            add(sig_name, CheckResult.passed())
        except VerificationError as exc:
            add(sig_name, exc)

    # Step 2 (5.1.1, 9303-12 section 7): a trusted CSCA issued the DSC, both valid now.
    csca = None
    if dsc is None:
        for name in ("dsc-chain", "csca-validity", "dsc-validity", "dsc-revocation"):
            add(prefix + name, _not_checked("no document signer certificate"))
    else:
        issuers = trust.issuers_of(dsc)
        if not issuers:
            # Tolerance (RFC 5280 4.2.1.1): a DSC whose authorityKeyIdentifier matches no
            # CSCA key identifier of that name (issuers computing key identifiers
            # differently) is still accepted when a CSCA of that name verifies its
            # signature; with none, the CSCA is untrusted, as before.
            csca = next((c for c in trust.by_subject(dsc.issuer) if _cert_signed_by(dsc, c)), None)
        if csca is not None:
            add(prefix + "dsc-chain", CheckResult.passed())
        elif not issuers:
            add(
                prefix + "dsc-chain",
                VerificationError(
                    f"no trusted CSCA issued the DSC ({_friendly(dsc.issuer)}); add the "
                    "issuing state's CSCA to the trust store",
                    code="pa.csca-untrusted",
                ),
            )
        else:
            csca = next((c for c in issuers if _cert_signed_by(dsc, c)), None)
            if csca is None:
                add(
                    prefix + "dsc-chain",
                    VerificationError(
                        "DSC signature does not verify with the CSCA", code="pa.dsc-signature"
                    ),
                )
            else:
                add(prefix + "dsc-chain", CheckResult.passed())
        if csca is None:
            add(prefix + "csca-validity", _not_checked("no CSCA found"))
        elif _valid_at(csca, now):
            add(prefix + "csca-validity", CheckResult.passed())
        else:
            add(
                prefix + "csca-validity",
                VerificationError("CSCA certificate is not valid now", code="pa.csca-expired"),
            )
        if _valid_at(dsc, now):
            add(prefix + "dsc-validity", CheckResult.passed())
        else:
            add(
                prefix + "dsc-validity",
                VerificationError(
                    "document signer certificate is not valid now", code="pa.dsc-expired"
                ),
            )
        if csca is None:
            add(prefix + "dsc-revocation", _not_checked("no CSCA found"))
        elif trust.is_revoked(dsc):
            add(
                prefix + "dsc-revocation",
                VerificationError(
                    "the CSCA has revoked this document signer certificate (CRL)",
                    code="pa.dsc-revoked",
                ),
            )
        else:
            add(prefix + "dsc-revocation", CheckResult.passed())

    return dsc, csca


def passive_checks(
    sod: Sod,
    data_groups: Mapping[int, bytes],
    trust: TrustStore,
    now: dt.datetime,
    *,
    issuing_state: str | None = None,
) -> PassiveReport:
    """The checks of 9303-11 section 5.1, each reported; see `passive_authentication`.

    `issuing_state` is DG1's issuing state; when None and DG1 is given, it is read from DG1
    (only after DG1's hash matched, so it is authenticated data).
    """
    checks: list[NamedCheck] = []
    errors: dict[str, VerificationError] = {}

    def add(name: str, outcome: CheckResult | VerificationError) -> None:
        if isinstance(outcome, VerificationError):
            errors[name] = outcome
            outcome = CheckResult.failed(outcome)
        checks.append(NamedCheck(name, outcome))

    # Steps 1 and 2 (5.1.1): the SOD signature with the DSC it carries; the DSC's chain.
    dsc, csca = _signer_and_chain(
        add, sod.signer, sod.certificates, sod.encapsulated, sod.content_type, trust, now
    )
    if dsc is None:
        add("country", _not_checked("no document signer certificate"))

    # Step 3 (5.1.1): each data group read hashes to its value in the SOD.
    hash_ok: set[int] = set()
    for number in sorted(set(sod.data_group_hashes) | set(data_groups)):
        name = f"dg{number}-hash"
        expected = sod.data_group_hashes.get(number)
        raw = data_groups.get(number)
        actual = None
        if raw is not None and expected is not None:
            try:
                actual = digest(sod.hash_algorithm, raw)
            except VerificationError as exc:  # a hash 9303-12 does not allow
                add(name, exc)
                continue
        if raw is None:
            add(name, _not_checked(f"DG{number} is not in the dump"))
        elif expected is None:
            add(
                name,
                VerificationError(
                    f"DG{number} was read but is not listed in EF.SOD", code="pa.dg-not-in-sod"
                ),
            )
        elif actual is None or not hmac.compare_digest(actual, expected):
            add(
                name,
                VerificationError(
                    f"DG{number} does not match its hash in EF.SOD: altered",
                    code="pa.dg-hash-mismatch",
                ),
            )
        else:
            hash_ok.add(number)
            add(name, CheckResult.passed())

    if dsc is not None:
        if issuing_state is None and 1 in hash_ok:
            issuing_state = _issuing_state(data_groups[1])
        add("country", _country_check(issuing_state, dsc, csca))

    # 9303-11 5.1 lists the steps in this order; the reader reports the first failure.
    order = [
        "sod-signature",
        "dsc-chain",
        "country",
        "csca-validity",
        "dsc-validity",
        "dsc-revocation",
    ]
    checks.sort(key=lambda c: order.index(c.name) if c.name in order else len(order))
    first = next((errors[c.name] for c in checks if c.name in errors), None)
    return PassiveReport(tuple(checks), first)


def signed_data_checks(
    raw: bytes,
    trust: TrustStore,
    now: dt.datetime,
    *,
    what: str = "EF.CardSecurity",
    prefix: str = "card-security-",
) -> PassiveReport:
    """Signature, chain, validity and revocation of a chip's CMS SignedData other than EF.SOD
    (EF.CardSecurity: 9303-11 section 9.2, BSI TR-03110-3 appendix A.1.2), checked exactly
    as the SOD's signer is: the same tolerances, the same trust store. The content is not
    interpreted here (SecurityInfos are the chip-protocol side's)."""
    checks: list[NamedCheck] = []
    errors: dict[str, VerificationError] = {}

    def add(name: str, outcome: CheckResult | VerificationError) -> None:
        if isinstance(outcome, VerificationError):
            errors[name] = outcome
            outcome = CheckResult.failed(outcome)
        checks.append(NamedCheck(name, outcome))

    try:
        if len(raw) > 1 << 20:
            raise ValueError("implausibly large")
        info = cms.ContentInfo.load(raw, strict=True)
        if info["content_type"].native != "signed_data":
            raise ValueError("not CMS SignedData")
        signed = info["content"]
        _ = signed.native
        signers = signed["signer_infos"]
        if len(signers) != 1:
            raise ValueError("not exactly one signer")
        encap = signed["encap_content_info"]
        content = bytes(encap["content"].contents)
        content_type = encap["content_type"].dotted
        certs = [
            c.chosen for c in signed["certificates"] or [] if isinstance(c.chosen, x509.Certificate)
        ]
    except DECODE_ERRORS as exc:
        error = VerificationError(f"{what} does not decode: {exc}", code="pa.signed-data-invalid")
        return PassiveReport((NamedCheck(f"{prefix}signature", CheckResult.failed(error)),), error)
    _signer_and_chain(
        add, signers[0], certs, content, content_type, trust, now, what=what, prefix=prefix
    )
    first = next((errors[c.name] for c in checks if c.name in errors), None)
    return PassiveReport(tuple(checks), first)


def _friendly(name: x509.Name) -> str:
    try:
        return str(name.human_friendly)
    except DECODE_ERRORS:
        return "undecodable name"


def _issuing_state(dg1: bytes) -> str | None:
    from edge.mrtd.lds import parse_dg1

    try:
        return parse_dg1(dg1).issuing_state
    except MrtdError:
        return None


def _country_check(
    issuing_state: str | None, dsc: x509.Certificate, csca: x509.Certificate | None
) -> CheckResult | VerificationError:
    """9303-12 section 7.1.1: the DSC's and CSCA's country (C=) is the issuing state's.

    A CSCA of one state signing documents of another is exactly what a compromised or rogue
    CSCA would do, and the signature checks alone cannot see it. MRZ codes we cannot map to
    a country (9303-3 special codes without a CSCA country) are reported "not checked".
    """
    dsc_country = country_of(dsc.subject)
    if dsc_country is None:
        return _not_checked("the DSC names no country (C=)")
    if csca is not None:
        csca_country = country_of(csca.subject)
        if csca_country is not None and dsc_country != csca_country:
            return VerificationError(
                f"DSC country {dsc_country} differs from its CSCA's country {csca_country}",
                code="pa.country-mismatch",
            )
    if issuing_state is None:
        return _not_checked("DG1 (issuing state) not available")
    expected = alpha2_of(issuing_state)
    if expected is None:
        return _not_checked(f"issuing state {issuing_state!r} has no known country code")
    if dsc_country not in expected:
        return VerificationError(
            f"issuing state {issuing_state} ({'/'.join(sorted(expected))}) differs from the "
            f"DSC country {dsc_country}",
            code="pa.country-mismatch",
        )
    return CheckResult.passed()


def passive_authentication(
    sod: Sod, data_groups: Mapping[int, bytes], trust: TrustStore, now: dt.datetime
) -> None:
    """Raise VerificationError (with its reason code) unless every step of 9303-11 5.1 holds.

    1. the SOD signature verifies with the DSC it carries (5.1.1 step 1, RFC 5652 5.4);
    2. a trusted CSCA issued the DSC, both are valid now and the DSC is not revoked
       (5.1.1 step 2, 9303-12 section 7, RFC 5280 section 5); DG1's issuing state, the
       DSC's country and the CSCA's country agree (9303-12 section 7.1.1);
    3. each data group read hashes to the value in the SOD (5.1.1 step 3).
    """
    report = passive_checks(sod, data_groups, trust, now)
    if report.error is not None:
        raise report.error
    if not report.authenticated:  # cannot happen without an error; never pass silently
        raise VerificationError("passive authentication incomplete", code="pa.failed")
