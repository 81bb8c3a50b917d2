"""EF.CardSecurity and the chip authentication mapping's last step (ICAO 9303-11).

EF.CardSecurity (9303-11 section 9.2.12; BSI TR-03110-3 A.1.2.2) is CMS SignedData, signed by
a document signer like EF.SOD, over SecurityInfos whose eContentType is id-SecurityObject.
After PACE-CAM it supplies the chip's static public key (ChipAuthenticationPublicKeyInfo,
9303-11 9.2.5); 9303-11 section 4.4.3.5.2 has the terminal verify the file (passive
authentication) and then check PK_Map,IC = KA(CA_IC, PK_IC, D_IC) with the CA_IC the chip sent
encrypted after mutual authentication. The signature checks reuse `edge.mrtd.passive`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from asn1crypto import cms, core, x509

from edge.mrtd import passive
from edge.mrtd.csca import TrustStore
from edge.mrtd.errors import ParseError, VerificationError
from edge.mrtd.lds import FileId
from edge.mrtd.pace import Suite
from edge.mrtd.securityinfo import (
    DECODE_ERRORS,
    PK_ECDH,
    PaceInfo,
    SecurityInfos,
    _small_int,
    pace_infos,
)

EF_CARD_SECURITY = FileId("EF.CardSecurity", 0x011D, 0x1D, 0x30)  # in the MF (9303-10 3.11)
SECURITY_OBJECT_OID = "0.4.0.127.0.7.3.2.1"  # id-SecurityObject (BSI TR-03110-3 A.1.2.2)
MAX_CARD_SECURITY = 0x8000  # real files are 1-4 KB; bounds parsing work on a hostile chip


class _AlgorithmIdentifier(core.Sequence):  # type: ignore[misc]
    _fields = [  # noqa: RUF012 (asn1crypto API)
        ("algorithm", core.ObjectIdentifier),
        ("parameters", core.Any, {"optional": True}),
    ]


class _PublicKeyInfo(core.Sequence):  # type: ignore[misc]
    """SubjectPublicKeyInfo, kept generic: chips name their curve by id-ecPublicKey with
    parameters, or by BSI's standardizedDomainParameters (0.4.0.127.0.7.1.2) and an id."""

    _fields = [  # noqa: RUF012 (asn1crypto API)
        ("algorithm", _AlgorithmIdentifier),
        ("public_key", core.BitString),
    ]


@dataclass(frozen=True)
class ChipPublicKey:
    """One ChipAuthenticationPublicKeyInfo (9303-11 9.2.5): ECDH key and its keyId."""

    key_id: int | None
    point: bytes  # the subjectPublicKey bits: an encoded EC point


@dataclass(frozen=True)
class CardSecurity:
    """EF.CardSecurity parsed once, up front; signature checks in `verify_card_security`."""

    raw: bytes  # the file as read: its signature is checked the way EF.SOD's is
    content: bytes  # eContent: the DER SecurityInfos the signer hashed
    signer: Any  # cms.SignerInfo
    certificates: tuple[x509.Certificate, ...]
    pace: tuple[PaceInfo, ...]
    chip_keys: tuple[ChipPublicKey, ...]

    @classmethod
    def parse(cls, raw: bytes) -> CardSecurity:
        """Strict CMS SignedData (RFC 5652 5.1) over SecurityInfos; ParseError otherwise."""
        if len(raw) > MAX_CARD_SECURITY:
            raise ParseError(
                f"EF.CardSecurity has {len(raw)} bytes, more than {MAX_CARD_SECURITY}",
                code="cardsecurity.invalid",
            )
        try:
            info = cms.ContentInfo.load(raw, strict=True)
            if info["content_type"].native != "signed_data":
                raise ParseError(
                    "EF.CardSecurity is not CMS SignedData", code="cardsecurity.invalid"
                )
            signed = info["content"]
            _ = signed.native  # decode everything now: a malformed field surfaces here
            # RFC 5652 5.1: version 3 whenever eContentType is not id-data.
            if signed["version"].native != "v3":
                raise ParseError(
                    "EF.CardSecurity SignedData version must be 3", code="cardsecurity.invalid"
                )
            encap = signed["encap_content_info"]
            if encap["content_type"].dotted != SECURITY_OBJECT_OID:
                raise ParseError(
                    "EF.CardSecurity does not encapsulate id-SecurityObject",
                    code="cardsecurity.invalid",
                )
            if encap["content"].contents is None:
                raise ParseError(
                    "EF.CardSecurity has no encapsulated content", code="cardsecurity.invalid"
                )
            content = bytes(encap["content"].contents)
            signers = signed["signer_infos"]
            if len(signers) != 1:
                raise ParseError(
                    "EF.CardSecurity must have exactly one signer", code="cardsecurity.invalid"
                )
            certs = tuple(
                c.chosen
                for c in signed["certificates"] or []
                if isinstance(c.chosen, x509.Certificate)
            )
            infos = SecurityInfos.load(content, strict=True)
            _ = infos.native
            return cls(
                bytes(raw), content, signers[0], certs, tuple(pace_infos(infos)), _chip_keys(infos)
            )
        except ParseError:
            raise
        except DECODE_ERRORS as exc:
            raise ParseError(
                f"EF.CardSecurity does not decode: {exc}", code="cardsecurity.invalid"
            ) from exc


def _chip_keys(infos: SecurityInfos) -> tuple[ChipPublicKey, ...]:
    out = []
    for info in infos:
        if info["protocol"].dotted != PK_ECDH:
            continue
        spki = info["required_data"].parse(_PublicKeyInfo)
        bits = spki["public_key"].contents
        if not bits or bits[0] != 0:  # whole octets only (X.690 8.6.2.2)
            raise ParseError("chip public key has unused bits", code="cardsecurity.invalid")
        out.append(ChipPublicKey(_small_int(info["optional_data"]), bytes(bits[1:])))
    return tuple(out)


def verify_card_security(cs: CardSecurity, trust: TrustStore, now: dt.datetime) -> None:
    """Passive authentication of EF.CardSecurity (9303-11 4.4.3.5.2 and 5.1, RFC 5652 5.4).

    The very checks EF.SOD's signer gets, through `passive.signed_data_checks`: the signature
    by the embedded DSC, the DSC issued by a trusted CSCA, both valid at `now`, the DSC not
    revoked, with the same documented tolerances. Raises VerificationError whose code is the
    SOD's reason under `cardsecurity.` (`pa.csca-untrusted` becomes
    `cardsecurity.csca-untrusted`; a bad signature is `cardsecurity.signature`).
    """
    report = passive.signed_data_checks(cs.raw, trust, now)
    if report.error is None and report.authenticated:
        return
    error = report.error or VerificationError("incomplete", code="pa.failed")
    reason = error.code.partition(".")[2]
    reason = {"sod-signature": "signature"}.get(reason, reason)
    raise VerificationError(
        f"EF.CardSecurity: {error.message}", code=f"cardsecurity.{reason}"
    ) from error


def check_cam(
    info: PaceInfo, ca_ic: int, pk_map_ic: bytes, chip_keys: Iterable[ChipPublicKey]
) -> None:
    """PK_Map,IC = CA_IC * PK_IC on the PACE curve (9303-11 section 4.4.3.5.2).

    The key is the ChipAuthenticationPublicKeyInfo whose keyId is the PACE parameterId when
    there is one (as in the German and Finnish files we have), else any key on the PACE
    curve: every candidate is signed, so accepting any that satisfies the equation is sound.
    Raises VerificationError (cam.*) when no key proves the chip genuine.
    """
    suite = Suite(info)
    keys = list(chip_keys)
    matching = [k for k in keys if k.key_id == info.parameter_id] or keys
    if not 1 <= ca_ic < suite.order:
        raise VerificationError("the chip's CA_IC is out of range", code="cam.failed")
    expected_x = int(suite.decode(pk_map_ic).x())
    candidates = 0
    for key in matching:
        try:
            suite.decode(key.point)  # validates the point on the PACE curve
        except ParseError:
            continue  # a key on another curve (EF.CardSecurity may list several)
        candidates += 1
        # KA is ECDH, whose result is the x-coordinate (9303-11 9.6 / BSI TR-03111 4.3.1):
        # x(CA_IC * PK_IC) = x(PK_Map,IC). Accepting -PK_Map,IC too gains a clone nothing:
        # n - CA_IC is as hard to compute as CA_IC without SK_IC. OpenSSL does it where it can.
        if suite.shared_x(ca_ic, key.point) == expected_x:
            return
    if not candidates:
        raise VerificationError(
            f"EF.CardSecurity has no chip key on the PACE curve (parameter id {info.parameter_id})",
            code="cam.no-key",
        )
    raise VerificationError(
        "PACE-CAM: the chip's authentication data does not match its signed public key; "
        "the chip may be a clone",
        code="cam.failed",
    )
