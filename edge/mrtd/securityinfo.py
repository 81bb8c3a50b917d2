"""SecurityInfos (ICAO 9303-11 section 9.2): EF.CardAccess, DG14 and their protocol OIDs."""

from __future__ import annotations

from dataclasses import dataclass

from asn1crypto import core, keys

from edge.mrtd.crypto import CipherName
from edge.mrtd.errors import ParseError

BSI = "0.4.0.127.0.7.2.2"
PACE_PREFIX = BSI + ".4"
CA_PREFIX = BSI + ".3"
PK_DH, PK_ECDH = BSI + ".1.1", BSI + ".1.2"
AA_PROTOCOL = "2.23.136.1.1.5"  # ActiveAuthenticationInfo (9303-11 section 9.2.11)

# 9303-11 table 4 / section 9.2.1: key agreement, cipher and key length of each protocol OID.
_SUITES: dict[str, tuple[CipherName, int]] = {
    "1": ("3DES", 16),
    "2": ("AES", 16),
    "3": ("AES", 24),
    "4": ("AES", 32),
}
# Standardized domain parameter ids (9303-11 section 9.5.1, table 6).
CURVES_BY_ID = {
    8: "secp192r1",
    9: "brainpoolP192r1",
    10: "secp224r1",
    11: "brainpoolP224r1",
    12: "secp256r1",
    13: "brainpoolP256r1",
    14: "brainpoolP320r1",
    15: "secp384r1",
    16: "brainpoolP384r1",
    17: "brainpoolP512r1",
    18: "secp521r1",
}


class SecurityInfo(core.Sequence):  # type: ignore[misc]
    _fields = [  # noqa: RUF012 (asn1crypto API)
        ("protocol", core.ObjectIdentifier),
        ("required_data", core.Any),
        ("optional_data", core.Any, {"optional": True}),
    ]


class SecurityInfos(core.SetOf):  # type: ignore[misc]
    _child_spec = SecurityInfo


@dataclass(frozen=True)
class PaceInfo:
    protocol: str
    cipher: CipherName
    key_len: int
    mapping: str  # "GM" generic mapping; others are not supported
    parameter_id: int


@dataclass(frozen=True)
class ChipAuthInfo:
    protocol: str
    cipher: CipherName
    key_len: int
    public_key: bytes  # SubjectPublicKeyInfo DER
    key_id: int | None


def _load(raw: bytes, what: str) -> SecurityInfos:
    try:
        infos: SecurityInfos = SecurityInfos.load(raw, strict=True)
        _ = infos.native
        return infos
    except (ValueError, TypeError) as exc:
        raise ParseError(
            f"{what} does not decode as SecurityInfos: {exc}", code="securityinfo.invalid"
        ) from exc


def parse_card_access(raw: bytes) -> list[PaceInfo]:
    """PACEInfo entries we can run (ECDH generic mapping), best first (9303-11 9.2.1)."""
    out = []
    for info in _load(raw, "EF.CardAccess"):
        oid = info["protocol"].dotted
        if not oid.startswith(PACE_PREFIX + "."):
            continue
        parts = oid[len(PACE_PREFIX) + 1 :].split(".")
        # .2 = ECDH-GM; DH-GM (.1), IM (.3, .4) and CAM (.6) are not implemented.
        if len(parts) != 2 or parts[0] != "2" or parts[1] not in _SUITES:
            continue
        version = info["required_data"].parse(core.Integer).native
        optional = info["optional_data"]
        if version != 2 or not optional or optional.native is None:
            continue
        param = optional.parse(core.Integer).native
        if param not in CURVES_BY_ID:
            continue
        cipher, key_len = _SUITES[parts[1]]
        out.append(PaceInfo(oid, cipher, key_len, "GM", param))
    return sorted(out, key=lambda p: (p.cipher == "AES", p.key_len), reverse=True)


def parse_dg14(raw_infos: bytes) -> list[ChipAuthInfo]:
    """ECDH chip-authentication keys of DG14 with their protocol (9303-11 9.2.5 and 9.2.6)."""
    keys_by_id: dict[int | None, bytes] = {}
    protocols: dict[int | None, str] = {}
    for info in _load(raw_infos, "DG14"):
        oid = info["protocol"].dotted
        key_id = (
            info["optional_data"].parse(core.Integer).native
            if info["optional_data"] and info["optional_data"].native is not None
            else None
        )
        if oid == PK_ECDH:
            keys_by_id[key_id] = info["required_data"].parse(keys.PublicKeyInfo).dump()
        elif oid.startswith(CA_PREFIX + ".2."):  # id-CA-ECDH-*
            protocols[key_id] = oid
    out = []
    for key_id, spki in keys_by_id.items():
        oid = protocols.get(key_id) or next(iter(protocols.values()), None)
        if oid is None:
            continue
        suite = oid.rsplit(".", 1)[1]
        if suite in _SUITES:
            cipher, key_len = _SUITES[suite]
            out.append(ChipAuthInfo(oid, cipher, key_len, spki, key_id))
    return out


def build_security_infos(entries: list[tuple[str, core.Asn1Value, core.Asn1Value | None]]) -> bytes:
    items = []
    for oid, required, optional in entries:
        item = {"protocol": oid, "required_data": core.Any(required)}
        if optional is not None:
            item["optional_data"] = core.Any(optional)
        items.append(item)
    return bytes(SecurityInfos(items).dump(force=True))
