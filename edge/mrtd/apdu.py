"""Command and response APDUs (ISO/IEC 7816-4 section 5.1), short and extended."""

from __future__ import annotations

from dataclasses import dataclass

from edge.mrtd.errors import CardStatusError, FileNotFoundOnChipError, ParseError

SW_OK = 0x9000
SW_END_OF_FILE = 0x6282  # fewer bytes than Le: the file ended (ISO 7816-4 table 5)
SW_WRONG_LENGTH = 0x6700  # wrong length; no further indication (ISO 7816-4 table 6)


@dataclass(frozen=True)
class CommandApdu:
    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    le: int | None = None  # expected response length Ne: 1..65536, None when absent
    extended: bool = False  # force the extended form even when short would do

    @property
    def is_extended(self) -> bool:
        return self.extended or len(self.data) > 255 or (self.le is not None and self.le > 256)

    def encode(self) -> bytes:
        out = bytes([self.cla, self.ins, self.p1, self.p2])
        if self.is_extended:
            if self.data:
                out += b"\x00" + len(self.data).to_bytes(2, "big") + self.data
            if self.le is not None:
                out += (b"" if self.data else b"\x00") + (self.le & 0xFFFF).to_bytes(2, "big")
            return out
        if self.data:
            out += bytes([len(self.data)]) + self.data
        if self.le is not None:
            out += bytes([self.le & 0xFF])
        return out

    @classmethod
    def parse(cls, raw: bytes) -> CommandApdu:
        """Decode the four ISO 7816-4 cases; anything else is malformed."""
        if len(raw) < 4:
            raise ParseError("command APDU shorter than 4 bytes", code="apdu.malformed")
        cla, ins, p1, p2 = raw[:4]
        body = raw[4:]
        if not body:
            return cls(cla, ins, p1, p2)
        if len(body) == 1:
            return cls(cla, ins, p1, p2, le=body[0] or 256)
        if body[0] != 0:
            lc = body[0]
            if len(body) == 1 + lc:
                return cls(cla, ins, p1, p2, body[1:])
            if len(body) == 2 + lc:
                return cls(cla, ins, p1, p2, body[1 : 1 + lc], body[-1] or 256)
            raise ParseError("short APDU length mismatch", code="apdu.malformed")
        if len(body) == 3:
            return cls(cla, ins, p1, p2, le=int.from_bytes(body[1:], "big") or 65536, extended=True)
        lc = int.from_bytes(body[1:3], "big")
        if lc == 0 or len(body) < 3 + lc:
            raise ParseError("extended APDU length mismatch", code="apdu.malformed")
        rest = body[3 + lc :]
        data = body[3 : 3 + lc]
        if not rest:
            return cls(cla, ins, p1, p2, data, extended=True)
        if len(rest) == 2:
            return cls(cla, ins, p1, p2, data, int.from_bytes(rest, "big") or 65536, True)
        raise ParseError("extended APDU length mismatch", code="apdu.malformed")


@dataclass(frozen=True)
class ResponseApdu:
    data: bytes
    sw: int

    @classmethod
    def parse(cls, raw: bytes) -> ResponseApdu:
        if len(raw) < 2:
            raise ParseError(
                "response APDU shorter than its status word", code="apdu.response-truncated"
            )
        return cls(raw[:-2], int.from_bytes(raw[-2:], "big"))

    def encode(self) -> bytes:
        return self.data + self.sw.to_bytes(2, "big")

    def check(self, what: str, *allowed: int) -> ResponseApdu:
        """Raise the matching error unless the status word is 9000 or one of `allowed`."""
        if self.sw == SW_OK or self.sw in allowed:
            return self
        if self.sw == 0x6A82:
            raise FileNotFoundOnChipError(f"{what}: file not found on the chip")
        raise CardStatusError(f"{what}: the chip refused the command", self.sw)
