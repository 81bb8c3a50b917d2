"""Strict BER-TLV (ISO/IEC 7816-4 section 5.2, ICAO 9303-10 section 4.4) for LDS files and APDUs.

Bounded: at most 3-byte tags and 3-byte lengths (no LDS object needs more), definite lengths
only, and a value may never run past its container.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from edge.mrtd.errors import ParseError

MAX_LENGTH = 0xFFFFFF


@dataclass(frozen=True)
class Tlv:
    tag: int
    value: bytes
    end: int  # offset just past this object in the buffer it was read from


def encode_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    if n <= 0xFF:
        return b"\x81" + bytes([n])
    if n <= 0xFFFF:
        return b"\x82" + n.to_bytes(2, "big")
    if n <= MAX_LENGTH:
        return b"\x83" + n.to_bytes(3, "big")
    raise ValueError(f"TLV length {n} too large")


def encode(tag: int, value: bytes) -> bytes:
    tag_bytes = tag.to_bytes(max(1, (tag.bit_length() + 7) // 8), "big")
    return tag_bytes + encode_length(len(value)) + value


def read_header(buf: bytes, pos: int = 0) -> tuple[int, int, int]:
    """(tag, length, offset of value) of the object at `pos`; the value may be incomplete."""
    n = len(buf)
    if pos >= n:
        raise ParseError("TLV truncated: no tag", code="tlv.truncated")
    tag = buf[pos]
    pos += 1
    if tag & 0x1F == 0x1F:
        for _ in range(2):
            if pos >= n:
                raise ParseError("TLV truncated inside a tag", code="tlv.truncated")
            tag = (tag << 8) | buf[pos]
            pos += 1
            if not buf[pos - 1] & 0x80:
                break
        else:
            raise ParseError("TLV tag longer than 3 bytes", code="tlv.malformed")
    if pos >= n:
        raise ParseError("TLV truncated: no length", code="tlv.truncated")
    first = buf[pos]
    pos += 1
    if first < 0x80:
        return tag, first, pos
    count = first & 0x7F
    if count == 0 or count > 3:
        raise ParseError(f"TLV length form 0x{first:02X} not allowed", code="tlv.malformed")
    if pos + count > n:
        raise ParseError("TLV truncated inside a length", code="tlv.truncated")
    length = int.from_bytes(buf[pos : pos + count], "big")
    return tag, length, pos + count


def read(buf: bytes, pos: int = 0) -> Tlv:
    tag, length, start = read_header(buf, pos)
    if start + length > len(buf):
        raise ParseError(
            f"TLV 0x{tag:X} claims {length} bytes, only {len(buf) - start} present",
            code="tlv.truncated",
        )
    return Tlv(tag, buf[start : start + length], start + length)


def iterate(buf: bytes) -> Iterator[Tlv]:
    """The consecutive objects filling `buf` exactly."""
    pos = 0
    while pos < len(buf):
        obj = read(buf, pos)
        yield obj
        pos = obj.end


def children(buf: bytes) -> dict[int, bytes]:
    """Children of a constructed value by tag; a repeated tag is malformed here."""
    out: dict[int, bytes] = {}
    for obj in iterate(buf):
        if obj.tag in out:
            raise ParseError(f"TLV tag 0x{obj.tag:X} repeated", code="tlv.malformed")
        out[obj.tag] = obj.value
    return out


def expect(buf: bytes, tag: int, what: str) -> bytes:
    """The value of the single object `buf` must consist of, with tag `tag`."""
    obj = read(buf)
    if obj.tag != tag:
        raise ParseError(
            f"{what}: expected tag 0x{tag:X}, found 0x{obj.tag:X}", code="tlv.malformed"
        )
    if obj.end != len(buf):
        raise ParseError(f"{what}: {len(buf) - obj.end} trailing bytes", code="tlv.malformed")
    return obj.value
