"""Passive authentication (ICAO 9303-11 section 5.1) of EF.SOD and of the chip's other CMS
SignedData (EF.CardSecurity, 9303-11 section 9.2).

Two entry points: `passive_authentication` raises the first failing check's
VerificationError (the reader's use), `passive_checks` reports every check by name (the
`passport check` command's use). Both run the same code. The CSCA trust store they take is
edge/mrtd/csca.py (9303-12); the X.509 and CMS signer pieces are edge/mrtd/certs.py.

Tolerances for what real issuers produce, each bounded by a check that still holds (see
docs/passport.md, "Tolerances"):
- SignerInfo.signatureAlgorithm naming only the key type (rsaEncryption, RFC 3370 section
  3.2): the hash comes from SignerInfo.digestAlgorithm (`signatures.verify_asn1`);
- a SignerIdentifier whose issuer lists the DSC issuer's RDNs in another order: names are
  matched as sets of RDNs (stretches RFC 5280 section 7.1, which compares RDN sequences in
  order), still together with the serial number;
- a DSC whose authorityKeyIdentifier names no CSCA key of that name (`_find_csca`);
- eContentType id-data around an LDS security object (`sod.Sod.parse`).
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from asn1crypto import cms, x509

from edge.mrtd.certs import (
    cert_signed_by,
    country_of,
    find_signer_certificate,
    friendly,
    valid_at,
    verify_signer,
)
from edge.mrtd.countries import alpha2_of

# The trust store lived here before edge/mrtd/csca.py; these names stay importable from
# here for callers written against the old layout.
from edge.mrtd.csca import MASTER_LIST_OID as MASTER_LIST_OID
from edge.mrtd.csca import CscaMasterList as CscaMasterList
from edge.mrtd.csca import TrustStore as TrustStore
from edge.mrtd.csca import load_crl as load_crl
from edge.mrtd.csca import load_master_list as load_master_list
from edge.mrtd.errors import MrtdError, VerificationError
from edge.mrtd.results import CheckResult, CheckStatus
from edge.mrtd.signatures import digest
from edge.mrtd.sod import DECODE_ERRORS, Sod

#: 9303-11 5.1 lists the steps of EF.SOD's check in this order; the reader reports the first
#: failure in it.
SOD_ORDER = ("sod-signature", "dsc-chain", "country", "csca-validity", "dsc-validity",
             "dsc-revocation")  # fmt: skip


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


class _Checks:
    """The checks of one report as they run: a failure is reported and its error kept, so
    the report can name every check and still raise the first failure."""

    def __init__(self) -> None:
        self.checks: list[NamedCheck] = []
        self.errors: dict[str, VerificationError] = {}

    def add(self, name: str, outcome: CheckResult | VerificationError) -> None:
        if isinstance(outcome, VerificationError):
            self.errors[name] = outcome
            outcome = CheckResult.failed(outcome)
        self.checks.append(NamedCheck(name, outcome))

    def report(self, order: Sequence[str] = ()) -> PassiveReport:
        """The report, checks named in `order` first in that order; the first failure."""
        checks = sorted(
            self.checks, key=lambda c: order.index(c.name) if c.name in order else len(order)
        )
        first = next((self.errors[c.name] for c in checks if c.name in self.errors), None)
        return PassiveReport(tuple(checks), first)


def _not_checked(why: str) -> CheckResult:
    return CheckResult(CheckStatus.NOT_CHECKED, None, why)


def _signer_and_chain(
    out: _Checks,
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
    dsc = _signature(out, sig_name, signer, certs, content, content_type, what)
    if dsc is None:
        for name in ("dsc-chain", "csca-validity", "dsc-validity", "dsc-revocation"):
            out.add(prefix + name, _not_checked("no document signer certificate"))
        return None, None
    csca = _chain(out, prefix, dsc, trust, now)
    return dsc, csca


def _signature(
    out: _Checks,
    name: str,
    signer: cms.SignerInfo,
    certs: Sequence[x509.Certificate],
    content: bytes,
    content_type: str,
    what: str,
) -> x509.Certificate | None:
    """Step 1 (5.1.1, RFC 5652 5.4): the signature, with the DSC the SignedData carries."""
    dsc = find_signer_certificate(signer, certs)
    if dsc is None:
        if certs:
            out.add(
                name,
                VerificationError(
                    f"no certificate in {what} matches its SignerIdentifier (issuer and serial "
                    "number, or key identifier)",
                    code="pa.signer-not-found",
                ),
            )
        else:
            out.add(
                name,
                VerificationError(
                    f"{what} carries no document signer certificate", code="pa.no-dsc"
                ),
            )
        return None
    try:
        verify_signer(signer, dsc, content, content_type)
        out.add(name, CheckResult.passed())
    except VerificationError as exc:
        out.add(name, exc)
    return dsc


def _find_csca(
    out: _Checks, prefix: str, dsc: x509.Certificate, trust: TrustStore
) -> x509.Certificate | None:
    """Step 2 (5.1.1, 9303-12 section 7), the chain: a trusted CSCA issued the DSC."""
    issuers = trust.issuers_of(dsc)
    if not issuers:
        # Tolerance (RFC 5280 4.2.1.1): a DSC whose authorityKeyIdentifier matches no
        # CSCA key identifier of that name (issuers computing key identifiers
        # differently) is still accepted when a CSCA of that name verifies its
        # signature; with none, the CSCA is untrusted, as before.
        csca = next((c for c in trust.by_subject(dsc.issuer) if cert_signed_by(dsc, c)), None)
        if csca is None:
            out.add(
                prefix + "dsc-chain",
                VerificationError(
                    f"no trusted CSCA issued the DSC ({friendly(dsc.issuer)}); add the "
                    "issuing state's CSCA to the trust store",
                    code="pa.csca-untrusted",
                ),
            )
            return None
    else:
        csca = next((c for c in issuers if cert_signed_by(dsc, c)), None)
        if csca is None:
            out.add(
                prefix + "dsc-chain",
                VerificationError(
                    "DSC signature does not verify with the CSCA", code="pa.dsc-signature"
                ),
            )
            return None
    out.add(prefix + "dsc-chain", CheckResult.passed())
    return csca


def _chain(
    out: _Checks, prefix: str, dsc: x509.Certificate, trust: TrustStore, now: dt.datetime
) -> x509.Certificate | None:
    """Step 2 (5.1.1, 9303-12 section 7, RFC 5280 section 5): the DSC's CSCA, both valid
    now, the DSC not revoked by that CSCA's CRL."""
    csca = _find_csca(out, prefix, dsc, trust)
    if csca is None:
        out.add(prefix + "csca-validity", _not_checked("no CSCA found"))
    elif valid_at(csca, now):
        out.add(prefix + "csca-validity", CheckResult.passed())
    else:
        out.add(
            prefix + "csca-validity",
            VerificationError("CSCA certificate is not valid now", code="pa.csca-expired"),
        )
    if valid_at(dsc, now):
        out.add(prefix + "dsc-validity", CheckResult.passed())
    else:
        out.add(
            prefix + "dsc-validity",
            VerificationError(
                "document signer certificate is not valid now", code="pa.dsc-expired"
            ),
        )
    if csca is None:
        out.add(prefix + "dsc-revocation", _not_checked("no CSCA found"))
    elif trust.is_revoked(dsc):
        out.add(
            prefix + "dsc-revocation",
            VerificationError(
                "the CSCA has revoked this document signer certificate (CRL)",
                code="pa.dsc-revoked",
            ),
        )
    else:
        out.add(prefix + "dsc-revocation", CheckResult.passed())
    return csca


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
    out = _Checks()

    # Steps 1 and 2 (5.1.1): the SOD signature with the DSC it carries; the DSC's chain.
    dsc, csca = _signer_and_chain(
        out, sod.signer, sod.certificates, sod.encapsulated, sod.content_type, trust, now
    )
    if dsc is None:
        out.add("country", _not_checked("no document signer certificate"))

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
                out.add(name, exc)
                continue
        if raw is None:
            out.add(name, _not_checked(f"DG{number} is not in the dump"))
        elif expected is None:
            out.add(
                name,
                VerificationError(
                    f"DG{number} was read but is not listed in EF.SOD", code="pa.dg-not-in-sod"
                ),
            )
        elif actual is None or not hmac.compare_digest(actual, expected):
            out.add(
                name,
                VerificationError(
                    f"DG{number} does not match its hash in EF.SOD: altered",
                    code="pa.dg-hash-mismatch",
                ),
            )
        else:
            hash_ok.add(number)
            out.add(name, CheckResult.passed())

    if dsc is not None:
        if issuing_state is None and 1 in hash_ok:
            issuing_state = _issuing_state(data_groups[1])
        out.add("country", _country_check(issuing_state, dsc, csca))

    return out.report(SOD_ORDER)


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
    out = _Checks()

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
        out, signers[0], certs, content, content_type, trust, now, what=what, prefix=prefix
    )
    return out.report()


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
