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

    @classmethod
    def parse(cls, raw: bytes) -> Sod:
        body = tlv.expect(raw, 0x77, "EF.SOD")
        try:
            info = cms.ContentInfo.load(body, strict=True)
            if info["content_type"].native != "signed_data":
                raise ParseError("EF.SOD is not CMS SignedData", code="sod.invalid")
            signed = info["content"]
            _ = signed.native  # parse everything now: a malformed field surfaces here, once
            if signed["version"].native != "v3":
                # 9303-10 4.6.2.1: SignedData version 3 (eContentType is not id-data).
                raise ParseError("EF.SOD SignedData version must be 3", code="sod.invalid")
            encap = signed["encap_content_info"]
            if encap["content_type"].dotted != LDS_SECURITY_OBJECT_OID:
                raise ParseError(
                    "EF.SOD does not encapsulate an LDS security object", code="sod.invalid"
                )
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
            return cls(hash_name, hashes, encapsulated, signers[0], certs)
        except ParseError:
            raise
        except (ValueError, TypeError, KeyError, IndexError, OverflowError) as exc:
            raise ParseError(f"EF.SOD does not decode: {exc}", code="sod.invalid") from exc
