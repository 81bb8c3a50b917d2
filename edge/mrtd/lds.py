"""The logical data structure: file identifiers, EF.COM, DG1 (ICAO 9303-10 sections 3 and 4)."""

from __future__ import annotations

from dataclasses import dataclass

from edge.mrtd import tlv
from edge.mrtd.errors import ParseError
from edge.mrtd.mrz import Mrz

LDS1_AID = bytes.fromhex("A0000002471001")  # 9303-10 section 3.6.1


@dataclass(frozen=True)
class FileId:
    """An elementary file: name, FID, short EF identifier, outer tag (9303-10 table 30)."""

    name: str
    fid: int
    sfi: int
    tag: int


EF_CARD_ACCESS = FileId("EF.CardAccess", 0x011C, 0x1C, 0x31)
EF_ATR_INFO = FileId("EF.ATR/INFO", 0x2F01, 0x01, 0)
EF_COM = FileId("EF.COM", 0x011E, 0x1E, 0x60)
EF_SOD = FileId("EF.SOD", 0x011D, 0x1D, 0x77)
DG1 = FileId("DG1", 0x0101, 0x01, 0x61)
DG2 = FileId("DG2", 0x0102, 0x02, 0x75)
DG11 = FileId("DG11", 0x010B, 0x0B, 0x6B)
DG12 = FileId("DG12", 0x010C, 0x0C, 0x6C)
DG14 = FileId("DG14", 0x010E, 0x0E, 0x6E)
DG15 = FileId("DG15", 0x010F, 0x0F, 0x6F)

DATA_GROUPS: dict[int, FileId] = {1: DG1, 2: DG2, 11: DG11, 12: DG12, 14: DG14, 15: DG15}
TAG_TO_DG = {f.tag: n for n, f in DATA_GROUPS.items()}
# EF.COM lists the data groups by these tags (9303-10 table 31): DG n <-> tag.
_COM_TAGS = {
    0x61: 1,
    0x75: 2,
    0x63: 3,
    0x76: 4,
    0x65: 5,
    0x66: 6,
    0x67: 7,
    0x68: 8,
    0x69: 9,
    0x6A: 10,
    0x6B: 11,
    0x6C: 12,
    0x6D: 13,
    0x6E: 14,
    0x6F: 15,
    0x70: 16,
}


@dataclass(frozen=True)
class EfCom:
    """EF.COM (9303-10 section 4.6.1): LDS version and the data groups present."""

    lds_version: str
    unicode_version: str
    data_groups: tuple[int, ...]

    @classmethod
    def parse(cls, raw: bytes) -> EfCom:
        kids = tlv.children(tlv.expect(raw, 0x60, "EF.COM"))
        if 0x5C not in kids:
            raise ParseError("EF.COM lacks its tag list (5C)", code="efcom.invalid")
        groups = []
        for t in kids[0x5C]:
            if t not in _COM_TAGS:
                raise ParseError(f"EF.COM lists unknown tag 0x{t:02X}", code="efcom.invalid")
            groups.append(_COM_TAGS[t])
        return cls(
            kids.get(0x5F01, b"").decode("ascii", "replace"),
            kids.get(0x5F36, b"").decode("ascii", "replace"),
            tuple(groups),
        )

    @staticmethod
    def build(data_groups: list[int]) -> bytes:
        inv = {v: k for k, v in _COM_TAGS.items()}
        return tlv.encode(
            0x60,
            tlv.encode(0x5F01, b"0107")
            + tlv.encode(0x5F36, b"040000")
            + tlv.encode(0x5C, bytes(inv[n] for n in data_groups)),
        )


def parse_dg1(raw: bytes) -> Mrz:
    """DG1 (9303-10 section 4.7.1): tag 61 holding the MRZ in 5F1F."""
    kids = tlv.children(tlv.expect(raw, 0x61, "DG1"))
    if 0x5F1F not in kids:
        raise ParseError("DG1 lacks the MRZ data element 5F1F", code="dg1.invalid")
    return Mrz(bytearray(kids[0x5F1F]))


def build_dg1(mrz: str) -> bytes:
    return tlv.encode(0x61, tlv.encode(0x5F1F, mrz.encode("ascii")))
