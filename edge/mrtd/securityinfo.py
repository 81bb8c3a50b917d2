"""SecurityInfos (ICAO 9303-11 section 9.2): EF.CardAccess, DG14 and their protocol OIDs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

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
    mapping: Literal["GM", "CAM"]  # generic or chip authentication mapping (9303-11 4.4.3.3)
    parameter_id: int

    @property
    def name(self) -> str:
        """What the result reports, e.g. "PACE-CAM AES-128 brainpoolP256r1"."""
        cipher = "3DES" if self.cipher == "3DES" else f"AES-{8 * self.key_len}"
        return f"PACE-{self.mapping} {cipher} {CURVES_BY_ID[self.parameter_id]}"


@dataclass(frozen=True)
class ChipAuthInfo:
    protocol: str
    cipher: CipherName
    key_len: int
    public_key: bytes  # SubjectPublicKeyInfo DER
    key_id: int | None


# What asn1crypto and its lazy parsing raise on hostile input, besides ValueError: a chip is
# an untrusted source, so each of these becomes a ParseError with a code at this boundary.
DECODE_ERRORS = (
    ValueError,
    TypeError,
    AttributeError,
    KeyError,
    IndexError,
    OverflowError,
    RecursionError,
)
MAX_SECURITY_INFOS = 64  # real files hold 1-10; bounds the work on a hostile one


def _load(raw: bytes, what: str) -> SecurityInfos:
    try:
        infos: SecurityInfos = SecurityInfos.load(raw, strict=True)
        _ = infos.native
        if len(infos) > MAX_SECURITY_INFOS:
            raise ParseError(
                f"{what} holds {len(infos)} SecurityInfos, more than {MAX_SECURITY_INFOS}",
                code="securityinfo.invalid",
            )
        return infos
    except DECODE_ERRORS as exc:
        raise ParseError(
            f"{what} does not decode as SecurityInfos: {exc}", code="securityinfo.invalid"
        ) from exc


def _small_int(value: core.Asn1Value | None) -> int | None:
    """An INTEGER field (version, parameterId, keyId) or None when absent or of another type."""
    if value is None or value.native is None:
        return None
    parsed = value.parse(core.Integer).native
    return int(parsed) if isinstance(parsed, int) and 0 <= parsed < 1 << 32 else None


def pace_infos(infos: SecurityInfos) -> list[PaceInfo]:
    """PACEInfo entries we can run, best first (9303-11 section 9.2.1).

    ECDH generic mapping (id-PACE-ECDH-GM-*, 3DES or AES) and ECDH chip authentication
    mapping (id-PACE-ECDH-CAM-*, AES only, 9303-11 4.4.3.3.3) on the standardized curves;
    DH and integrated mapping are skipped (docs/passport.md says why). PACEInfo version must
    be 2 (9303-11 9.2.1) and the curve given by parameterId: a chip with proprietary domain
    parameters (PACEDomainParameterInfo) is treated as offering no PACE we can run.
    """
    out = []
    for info in infos:
        oid = info["protocol"].dotted
        if not oid.startswith(PACE_PREFIX + "."):
            continue
        parts = oid[len(PACE_PREFIX) + 1 :].split(".")
        if len(parts) != 2 or parts[1] not in _SUITES:
            continue
        mapping: Literal["GM", "CAM"]
        if parts[0] == "2":
            mapping = "GM"
        elif parts[0] == "6" and parts[1] != "1":  # CAM is defined with AES only
            mapping = "CAM"
        else:
            continue
        if _small_int(info["required_data"]) != 2:
            continue
        param = _small_int(info["optional_data"])
        if param not in CURVES_BY_ID:
            continue
        cipher, key_len = _SUITES[parts[1]]
        out.append(PaceInfo(oid, cipher, key_len, mapping, param))
    return sorted(
        out, key=lambda p: (p.mapping == "CAM", p.cipher == "AES", p.key_len), reverse=True
    )


def parse_card_access(raw: bytes) -> list[PaceInfo]:
    """EF.CardAccess (9303-11 section 9.2.11): the PACE parameters we can run, best first.

    Raises ParseError (securityinfo.invalid) on anything that is not SecurityInfos.
    """
    infos = _load(raw, "EF.CardAccess")
    try:
        return pace_infos(infos)
    except DECODE_ERRORS as exc:
        raise ParseError(
            f"EF.CardAccess holds a malformed PACEInfo: {exc}", code="securityinfo.invalid"
        ) from exc


def parse_dg14(raw_infos: bytes) -> list[ChipAuthInfo]:
    """ECDH chip-authentication keys of DG14 with their protocol (9303-11 9.2.5 and 9.2.6)."""
    infos = _load(raw_infos, "DG14")
    try:
        return _dg14_keys(infos)
    except DECODE_ERRORS as exc:
        raise ParseError(
            f"DG14 holds a malformed SecurityInfo: {exc}", code="securityinfo.invalid"
        ) from exc


def _dg14_keys(infos: SecurityInfos) -> list[ChipAuthInfo]:
    keys_by_id: dict[int | None, bytes] = {}
    protocols: dict[int | None, str] = {}
    for info in infos:
        oid = info["protocol"].dotted
        key_id = _small_int(info["optional_data"])
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
