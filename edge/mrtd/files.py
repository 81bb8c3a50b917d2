"""Selecting and reading elementary files (ISO 7816-4 section 11, ICAO 9303-10 section 3).

Reads are as large as the link allows: the chip's EF.ATR/INFO may permit extended-length
APDUs; otherwise the largest short read whose protected response still fits 256 bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from edge.mrtd import tlv
from edge.mrtd.apdu import SW_END_OF_FILE, SW_OK, SW_WRONG_LENGTH, CommandApdu
from edge.mrtd.errors import CardStatusError, FileNotFoundOnChipError, ParseError
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


# Le values tried, largest first, after a chip refused a read (6700, 6Cxx, 6282 without data,
# or a lost link): readers report chips that refuse Le=00/256 but read 160 bytes per command.
LE_LADDER = (231, 223, 200, 160, 128, 96, 64, 32)
MAX_REFUSALS = (
    len(LE_LADDER) + 2
)  # per READ BINARY: each refusal lowers Le, so this bounds the retries


def shrink_read_size(channel: Channel, refused: int) -> None:
    """Remember for the rest of the session that the chip refused reads of `refused` bytes."""
    smaller = next((n for n in LE_LADDER if n < refused), max(1, refused // 2))
    channel.max_le = min(channel.max_le or smaller, smaller)


def read_binary(
    channel: Channel,
    offset: int,
    want: int,
    what: str,
    *,
    sfi: int | None = None,
    remaining: int | None = None,
) -> bytes:
    """One READ BINARY of up to `want` bytes (ISO 7816-4 11.3.3), adapting Le to the chip.

    `sfi` reads by short EF identifier (P1 = 80|SFI, offset < 256), which also selects the
    file. SW 6700 (wrong length) and SW 6282 with no data lower Le for this and later reads;
    6Cxx gives the exact length to ask for (ISO 7816-4 table 5/6) and lowers later reads only
    when the file does not end there (`remaining`, the bytes still expected, tells).
    """
    le = min(want, channel.max_le or want)
    for _ in range(MAX_REFUSALS):
        if sfi is not None:
            p1, p2 = 0x80 | sfi, offset
        else:
            p1, p2 = offset >> 8, offset & 0xFF
        resp = channel.send(CommandApdu(0x00, 0xB0, p1, p2, le=le))
        sw = resp.sw
        if sw in (SW_OK, SW_END_OF_FILE) and resp.data:
            return resp.data[:le]
        if sw == SW_OK:
            return b""
        if sw & 0xFF00 == 0x6C00:
            exact = sw & 0xFF or 256
            if exact >= le:
                break
            if remaining is None or exact < min(want, remaining):
                channel.max_le = min(channel.max_le or exact, exact)
            le = exact
            continue
        if sw == SW_END_OF_FILE and le <= LE_LADDER[-1]:
            return b""  # even a small read finds nothing: the file has ended here
        if sw in (SW_WRONG_LENGTH, SW_END_OF_FILE) and le > 1:
            shrink_read_size(channel, le)
            le = min(le, channel.max_le or le)
            continue
        resp.check(f"READ BINARY {what} at {offset}")
        break  # an unexpected success status without data
    raise ParseError(
        f"the chip refused to read {what} at {offset} at every read size down to {le}",
        code="lds.read-refused",
    )


def read_sfi(channel: Channel, ef: FileId, limit: int) -> bytes | None:
    """A whole file read by short EF identifier without secure messaging (EF.CardAccess,
    EF.ATR/INFO: 9303-10 section 3.11, 9303-11 4.2); None when the chip has no such file.

    The first read selects the file; the rest continue by offset. At most `limit` bytes.
    """
    try:
        buf = bytearray(read_binary(channel, 0, 256, ef.name, sfi=ef.sfi))
    except (CardStatusError, FileNotFoundOnChipError):
        return None  # 6A82 and friends: no such file, or not readable without a session
    if not buf:
        return None
    try:
        _, length, start = tlv.read_header(bytes(buf[:8]))
    except ParseError:
        return bytes(buf)  # let the caller's parser report it
    total = min(start + length, limit)
    while len(buf) < total:
        offset = len(buf)
        chunk = read_binary(
            channel, offset, min(256, total - offset), ef.name, remaining=total - offset
        )
        if not chunk:
            break
        buf += chunk
    return bytes(buf[:total])


def read_limits(channel: Channel) -> ReadLimits:
    """EF.ATR/INFO's extended-length information (ISO 7816-4 12.7.1, DO 7F66), if present."""
    try:
        raw = read_sfi(channel, EF_ATR_INFO, 1024)
    except (ParseError, CardStatusError):
        return ReadLimits()  # an unreadable EF.ATR/INFO only costs speed
    if not raw:
        return ReadLimits()
    try:
        for obj in tlv.iterate(raw):
            if obj.tag == 0x7F66:
                values = [o.value for o in tlv.iterate(obj.value) if o.tag == 0x02]
                if len(values) >= 2:
                    max_resp = min(int.from_bytes(values[1][:4], "big"), READER_MAX_RESPONSE)
                    return ReadLimits(max_response=max(max_resp, 258), extended=max_resp > 258)
    except ParseError:
        pass  # a malformed EF.ATR/INFO only costs speed: fall back to short APDUs
    return ReadLimits()


Progress = Callable[[int, int], None]  # (bytes of this file read, file size)


def read_file(
    channel: Channel,
    ef: FileId,
    limits: ReadLimits,
    on_bytes: Progress | None = None,
    buf: bytearray | None = None,
) -> bytes:
    """SELECT the EF by file identifier, then READ BINARY until its TLV length is complete.

    The first read asks for a full chunk (a short file answers 6282 with what it has), so
    a file costs exactly SELECT plus ceil(size / max_read) reads. `buf` holds what an earlier
    attempt read (the caller keeps it across a lost link): reading resumes at its end.
    """
    buf = bytearray() if buf is None else buf
    channel.send(CommandApdu(0x00, 0xA4, 0x02, 0x0C, ef.fid.to_bytes(2, "big"))).check(
        f"SELECT {ef.name}"
    )
    block = channel.sm.keys.block if channel.sm else None
    if len(buf) < 8:
        del buf[:]
        buf += read_binary(channel, 0, limits.max_read(block), ef.name)
    try:
        _, length, start = tlv.read_header(bytes(buf[:8]))
    except ParseError as exc:
        raise ParseError(
            f"{ef.name} does not start with a TLV header: {exc}", code="lds.file-malformed"
        ) from exc
    total = start + length
    if total > MAX_FILE or total - 1 > MAX_OFFSET + limits.max_read(block):
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
        if offset > MAX_OFFSET:
            raise ParseError(
                f"{ef.name} extends past offset {MAX_OFFSET}", code="lds.file-too-large"
            )
        want = min(limits.max_read(block), total - offset)
        chunk = read_binary(channel, offset, want, ef.name, remaining=total - offset)
        if not chunk:
            raise ParseError(
                f"{ef.name} ended at {offset} of {total} bytes", code="lds.file-truncated"
            )
        buf += chunk[:want]
        if on_bytes:
            on_bytes(len(buf), total)
    return bytes(buf)
