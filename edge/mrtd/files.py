"""Selecting and reading elementary files (ISO 7816-4 section 11, ICAO 9303-10 section 3).

Reads are as large as the link allows: the chip's EF.ATR/INFO may permit extended-length
APDUs; otherwise the largest short read whose protected response still fits 256 bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from edge.mrtd import tlv
from edge.mrtd.apdu import SW_END_OF_FILE, CommandApdu
from edge.mrtd.errors import ParseError
from edge.mrtd.lds import EF_ATR_INFO, FileId
from edge.mrtd.transport import Channel

MAX_OFFSET = 0x7FFF  # READ BINARY with even INS addresses 15 bits (ISO 7816-4 11.3.3)
MAX_FILE = 0x10000  # no LDS1 file we read is larger; bounds memory on a hostile chip
READER_MAX_RESPONSE = 0xFFFF  # vpcd and pcsc-lite frame at most 64 KiB


@dataclass(frozen=True)
class ReadLimits:
    """How many plain bytes one READ BINARY may ask for, with and without secure messaging."""

    max_response: int = 258  # largest response APDU (data + SW1 SW2) the chip sends
    extended: bool = False

    def max_read(self, block: int | None) -> int:
        """Largest Le whose response fits `max_response`; `block` is the SM cipher block size."""
        budget = self.max_response - 2  # SW1 SW2
        cap = MAX_OFFSET if self.extended else 256
        if block is None:
            return min(budget, cap)

        def protected_size(n: int) -> int:
            # 87 L 01 <padded data>, 99 02 SW, 8E 08 MAC (9303-11 section 9.8.5).
            padded = (n // block + 1) * block
            return 1 + len(tlv.encode_length(1 + padded)) + 1 + padded + 4 + 10

        lo, hi = 0, cap  # largest n with protected_size(n) <= budget, by bisection
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if protected_size(mid) <= budget:
                lo = mid
            else:
                hi = mid - 1
        return lo


def read_limits(channel: Channel) -> ReadLimits:
    """EF.ATR/INFO's extended-length information (ISO 7816-4 12.7.1, DO 7F66), if present."""
    resp = channel.send(CommandApdu(0x00, 0xB0, 0x80 | EF_ATR_INFO.sfi, 0x00, le=256))
    if resp.sw not in (0x9000, SW_END_OF_FILE) or not resp.data:
        return ReadLimits()
    try:
        for obj in tlv.iterate(resp.data):
            if obj.tag == 0x7F66:
                values = [o.value for o in tlv.iterate(obj.value) if o.tag == 0x02]
                if len(values) >= 2:
                    max_resp = min(int.from_bytes(values[1], "big"), READER_MAX_RESPONSE)
                    return ReadLimits(max_response=max(max_resp, 258), extended=max_resp > 258)
    except ParseError:
        pass  # a malformed EF.ATR/INFO only costs speed: fall back to short APDUs
    return ReadLimits()


Progress = Callable[[int, int], None]  # (bytes of this file read, file size)


def read_file(
    channel: Channel, ef: FileId, limits: ReadLimits, on_bytes: Progress | None = None
) -> bytes:
    """SELECT the EF by file identifier, then READ BINARY until its TLV length is complete.

    The first read asks for a full chunk (a short file answers 6282 with what it has), so
    a file costs exactly SELECT plus ceil(size / max_read) reads.
    """
    channel.send(CommandApdu(0x00, 0xA4, 0x02, 0x0C, ef.fid.to_bytes(2, "big"))).check(
        f"SELECT {ef.name}"
    )
    step = limits.max_read(channel.sm.keys.block if channel.sm else None)
    first = channel.send(CommandApdu(0x00, 0xB0, 0x00, 0x00, le=step)).check(
        f"READ BINARY {ef.name}", SW_END_OF_FILE
    )
    buf = bytearray(first.data)
    try:
        _, length, start = tlv.read_header(bytes(buf[:8]))
    except ParseError as exc:
        raise ParseError(
            f"{ef.name} does not start with a TLV header: {exc}", code="lds.file-malformed"
        ) from exc
    total = start + length
    if total > MAX_FILE or total - 1 > MAX_OFFSET + step:
        raise ParseError(
            f"{ef.name} claims {total} bytes, more than this reader supports",
            code="lds.file-too-large",
        )
    if len(buf) > total:
        del buf[total:]
    if on_bytes:
        on_bytes(len(buf), total)
    while len(buf) < total:
        offset = len(buf)
        want = min(step, total - offset)
        resp = channel.send(CommandApdu(0x00, 0xB0, offset >> 8, offset & 0xFF, le=want)).check(
            f"READ BINARY {ef.name} at {offset}", SW_END_OF_FILE
        )
        if not resp.data:
            raise ParseError(
                f"{ef.name} ended at {offset} of {total} bytes", code="lds.file-truncated"
            )
        buf += resp.data[:want]
        if on_bytes:
            on_bytes(len(buf), total)
    return bytes(buf)
