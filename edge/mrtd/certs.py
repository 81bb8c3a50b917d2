"""X.509 and CMS pieces that the CSCA trust store (edge/mrtd/csca.py) and passive
authentication (edge/mrtd/passive.py) both rest on: names compared as sets of RDNs, key
identifiers, the signer a SignerInfo names, and a certificate's or SignerInfo's signature.

Apart so that neither of those two owns what the other needs (a master list is checked with
the very signer code EF.SOD is). Tolerances are listed in passive.py's docstring.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Iterable

from asn1crypto import cms, x509

from edge.mrtd.errors import VerificationError
from edge.mrtd.signatures import digest, verify_asn1
from edge.mrtd.sod import DECODE_ERRORS

NameKey = tuple[str, ...]


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


def friendly(name: x509.Name) -> str:
    try:
        return str(name.human_friendly)
    except DECODE_ERRORS:
        return "undecodable name"


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


def verifies(issuer: x509.Certificate, algorithm: object, signature: bytes, data: bytes) -> bool:
    try:
        return verify_asn1(issuer.public_key.dump(), algorithm, signature, data)
    except VerificationError:
        return False
    except DECODE_ERRORS:
        return False


def cert_signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """RFC 5280 4.1.1.3: the signature BIT STRING holds whole octets (no unused bits)."""
    try:
        if cert["signature_value"].contents[:1] != b"\x00":
            return False
        return verifies(
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


def valid_at(cert: x509.Certificate, now: dt.datetime) -> bool:
    try:
        validity = cert["tbs_certificate"]["validity"]
        return bool(validity["not_before"].native <= now <= validity["not_after"].native)
    except DECODE_ERRORS:
        return False
