"""EF.SOD: CMS SignedData over the LDS security object (ICAO 9303-10 section 4.6.2).

Parsed with asn1crypto into a frozen view; the signature checks live in `passive`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from asn1crypto import algos, cms, core, x509

from edge.mrtd import tlv
from edge.mrtd.errors import ParseError

LDS_SECURITY_OBJECT_OID = "2.23.136.1.1.1"
ID_DATA_OID = "1.2.840.113549.1.7.1"  # RFC 5652 section 4
MAX_SOD_BYTES = 1 << 20  # a real EF.SOD is a few KiB; READ BINARY addresses at most 32 KiB
# asn1crypto parses lazily: a malformed nested field surfaces at first access as one of
# these, not as a decode error. Every caller that walks a parsed structure maps them to its
# own coded error (fuzzing found AttributeError and RecursionError among them).
DECODE_ERRORS = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    OverflowError,
    AttributeError,
    RecursionError,
)


class DataGroupHash(core.Sequence):  # type: ignore[misc]
    _fields = [("data_group_number", core.Integer), ("data_group_hash_value", core.OctetString)]  # noqa: RUF012 (asn1crypto API)


class DataGroupHashValues(core.SequenceOf):  # type: ignore[misc]
    _child_spec = DataGroupHash


class LdsVersionInfo(core.Sequence):  # type: ignore[misc]
    _fields = [("lds_version", core.PrintableString), ("unicode_version", core.PrintableString)]  # noqa: RUF012 (asn1crypto API)


class LdsSecurityObject(core.Sequence):  # type: ignore[misc]
    """9303-10 section 4.6.2.2, ASN.1 module LDSSecurityObjectV1."""

    _fields = [  # noqa: RUF012 (asn1crypto API)
        ("version", core.Integer),
        ("hash_algorithm", algos.DigestAlgorithm),
        ("data_group_hash_values", DataGroupHashValues),
        ("lds_version_info", LdsVersionInfo, {"optional": True}),
    ]


@dataclass(frozen=True)
class Sod:
    """The parts of EF.SOD passive authentication needs, already extracted and bounded."""

    hash_algorithm: str  # asn1crypto name: sha256, sha384, ...
    data_group_hashes: dict[int, bytes]
    encapsulated: bytes  # eContent: the DER LDSSecurityObject the signer hashed
    signer: Any  # cms.SignerInfo
    certificates: tuple[x509.Certificate, ...]
    # eContentType as the SOD states it: the LDS security object OID, or id-data (tolerated,
    # see `parse`); the signed contentType attribute must repeat it (RFC 5652 section 11.1).
    content_type: str = LDS_SECURITY_OBJECT_OID

    @classmethod
    def parse(cls, raw: bytes) -> Sod:
        if len(raw) > MAX_SOD_BYTES:
            raise ParseError("EF.SOD is implausibly large", code="sod.invalid")
        body = tlv.expect(raw, 0x77, "EF.SOD")
        try:
            info = cms.ContentInfo.load(body, strict=True)
            if info["content_type"].native != "signed_data":
                raise ParseError("EF.SOD is not CMS SignedData", code="sod.invalid")
            signed = info["content"]
            _ = signed.native  # parse everything now: a malformed field surfaces here, once
            encap = signed["encap_content_info"]
            content_type = encap["content_type"].dotted
            # 9303-10 4.6.2.1 wants eContentType id-icao-mrtd-security-ldsSecurityObject and
            # SignedData version 3. Tolerance: some issuers label the same LDS security
            # object id-data (RFC 5652 section 4), with version 1 as RFC 5652 section 5.1
            # computes it for id-data. The content must still decode as an
            # LDSSecurityObject below, and the signed contentType attribute must name the
            # same type (RFC 5652 section 11.1), so nothing else can pass as one.
            if content_type not in (LDS_SECURITY_OBJECT_OID, ID_DATA_OID):
                raise ParseError(
                    "EF.SOD does not encapsulate an LDS security object", code="sod.invalid"
                )
            allowed = ("v3", "v1") if content_type == ID_DATA_OID else ("v3",)
            if signed["version"].native not in allowed:
                raise ParseError("EF.SOD SignedData version must be 3", code="sod.invalid")
            if encap["content"].contents is None:
                raise ParseError("EF.SOD has no encapsulated content", code="sod.invalid")
            encapsulated = bytes(encap["content"].contents)
            lso = LdsSecurityObject.load(encapsulated, strict=True)
            hashes: dict[int, bytes] = {}
            for item in lso["data_group_hash_values"]:
                number = int(item["data_group_number"].native)
                if not 1 <= number <= 16 or number in hashes:
                    raise ParseError(
                        f"EF.SOD lists data group {number} twice or out of range",
                        code="sod.invalid",
                    )
                hashes[number] = bytes(item["data_group_hash_value"].native)
            signers = signed["signer_infos"]
            if len(signers) != 1:
                raise ParseError("EF.SOD must have exactly one signer", code="sod.invalid")
            certs = tuple(
                c.chosen
                for c in signed["certificates"] or []
                if isinstance(c.chosen, x509.Certificate)
            )
            hash_name = str(lso["hash_algorithm"]["algorithm"].native)
            signer = signers[0]
            # RFC 5652 5.3: version 1 goes with issuerAndSerialNumber, 3 with a key identifier.
            expected_version = "v1" if signer["sid"].name == "issuer_and_serial_number" else "v3"
            if signer["version"].native != expected_version:
                raise ParseError(
                    "EF.SOD SignerInfo version does not match its sid", code="sod.invalid"
                )
            digests = {a["algorithm"].native for a in signed["digest_algorithms"]}
            if signers[0]["digest_algorithm"]["algorithm"].native not in digests:
                raise ParseError(
                    "signer digest algorithm not announced in SignedData", code="sod.invalid"
                )
            return cls(hash_name, hashes, encapsulated, signers[0], certs, content_type)
        except ParseError:
            raise
        except DECODE_ERRORS as exc:
            raise ParseError(f"EF.SOD does not decode: {exc}", code="sod.invalid") from exc
