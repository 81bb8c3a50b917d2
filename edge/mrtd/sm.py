"""Secure messaging, ICAO 9303-11 section 9.8, for both ends of the link.

The reader wraps commands and unwraps responses; the emulator (rig.mrtd) uses the same
class for the chip's side, so both sides share one implementation of the data objects,
the send-sequence counter and the MAC.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from edge.mrtd import tlv
from edge.mrtd.apdu import CommandApdu, ResponseApdu
from edge.mrtd.crypto import SessionKeys, pad, unpad
from edge.mrtd.errors import CardStatusError, ParseError, SecureMessagingError

SW_SM_MISSING = 0x6987  # expected SM data objects missing (ISO 7816-4 table 6)
SW_SM_INCORRECT = 0x6988  # SM data objects incorrect


@dataclass
class SecureMessaging:
    """Session keys plus the send-sequence counter (9303-11 section 9.8.2)."""

    keys: SessionKeys
    ssc: int

    def _next_ssc(self) -> bytes:
        self.ssc = (self.ssc + 1) % (1 << (8 * self.keys.block))
        return self.ssc.to_bytes(self.keys.block, "big")

    def _mac(self, ssc: bytes, body: bytes) -> bytes:
        return self.keys.mac8(pad(ssc + body, self.keys.block))

    def _encrypt_do87(self, data: bytes, ssc: bytes) -> bytes:
        return tlv.encode(0x87, b"\x01" + self.keys.encrypt(pad(data, self.keys.block), ssc))

    def _decrypt_do87(self, value: bytes, ssc: bytes) -> bytes:
        if not value or value[0] != 0x01 or (len(value) - 1) % self.keys.block or len(value) == 1:
            raise SecureMessagingError(
                "DO'87' is not padding-indicator 01 plus whole cipher blocks",
                code="sm.malformed",
            )
        return unpad(self.keys.encrypt(value[1:], ssc, decrypt=True))

    # -- reader side ------------------------------------------------------------------------

    def wrap_command(self, cmd: CommandApdu) -> CommandApdu:
        """Protect a command (9303-11 section 9.8.4, figure 4)."""
        ssc = self._next_ssc()
        cla = cmd.cla | 0x0C
        header = bytes([cla, cmd.ins, cmd.p1, cmd.p2])
        do87 = self._encrypt_do87(cmd.data, ssc) if cmd.data else b""
        do97 = b""
        if cmd.le is not None:
            le = (cmd.le & 0xFFFF).to_bytes(2, "big") if cmd.is_extended else bytes([cmd.le & 0xFF])
            do97 = tlv.encode(0x97, le)
        body = do87 + do97
        mac = self._mac(ssc, pad(header, self.keys.block) + body)
        data = body + tlv.encode(0x8E, mac)
        extended = cmd.is_extended or len(data) > 255
        return CommandApdu(cla, cmd.ins, cmd.p1, cmd.p2, data, 65536 if extended else 256, extended)

    def unwrap_response(self, resp: ResponseApdu) -> ResponseApdu:
        """Check and decrypt a protected response (9303-11 section 9.8.5, figure 5).

        Every response must carry DO'99' and DO'8E'; a chip that drops secure messaging
        (plain 6987/6988, or any unprotected answer) ends the session with an error.
        """
        ssc = self._next_ssc()
        if not resp.data:
            if resp.sw in (SW_SM_MISSING, SW_SM_INCORRECT):
                raise SecureMessagingError(
                    "the chip rejected our secure-messaging MAC; the session is over",
                    code="sm.rejected-by-chip",
                )
            raise CardStatusError(
                "unprotected status word inside a secure-messaging session",
                resp.sw,
                code="sm.unprotected-status",
            )
        try:
            objs = list(tlv.iterate(resp.data))
        except ParseError as exc:
            raise SecureMessagingError(
                f"protected response malformed: {exc}", code="sm.malformed"
            ) from exc
        tags = [o.tag for o in objs]
        if tags not in ([0x99, 0x8E], [0x87, 0x99, 0x8E]):
            raise SecureMessagingError(
                f"protected response has data objects {[hex(t) for t in tags]}, "
                "expected [87] 99 8E",
                code="sm.malformed",
            )
        mac_end = objs[-2].end
        if not hmac.compare_digest(self._mac(ssc, resp.data[:mac_end]), objs[-1].value):
            raise SecureMessagingError(
                "response MAC does not verify: the data was altered or a different chip answered",
                code="sm.mac-invalid",
            )
        inner_sw = objs[-2].value
        if len(inner_sw) != 2:
            raise SecureMessagingError("DO'99' must hold two status bytes", code="sm.malformed")
        sw = int.from_bytes(inner_sw, "big")
        if sw != resp.sw:
            raise SecureMessagingError(
                f"protected status {sw:04X} differs from the outer status {resp.sw:04X}",
                code="sm.status-mismatch",
            )
        data = self._decrypt_do87(objs[0].value, ssc) if tags[0] == 0x87 else b""
        return ResponseApdu(data, sw)

    # -- chip side (used by the emulator) ---------------------------------------------------

    def unwrap_command(self, cmd: CommandApdu) -> CommandApdu:
        """The chip's check of a protected command; raises SecureMessagingError when bad."""
        ssc = self._next_ssc()
        if cmd.cla & 0x0C != 0x0C:
            raise SecureMessagingError("command not protected", code="sm.missing")
        objs = list(tlv.iterate(cmd.data))
        if not objs or objs[-1].tag != 0x8E:
            raise SecureMessagingError("command lacks DO'8E'", code="sm.missing")
        body_end = objs[-2].end if len(objs) > 1 else 0
        header = bytes([cmd.cla, cmd.ins, cmd.p1, cmd.p2])
        expected = self._mac(ssc, pad(header, self.keys.block) + cmd.data[:body_end])
        if not hmac.compare_digest(expected, objs[-1].value):
            raise SecureMessagingError("command MAC does not verify", code="sm.mac-invalid")
        data, le = b"", None
        for o in objs[:-1]:
            if o.tag == 0x87:
                data = self._decrypt_do87(o.value, ssc)
            elif o.tag == 0x97:
                le = int.from_bytes(o.value, "big") or (256 if len(o.value) == 1 else 65536)
            else:
                raise SecureMessagingError(f"unexpected DO {o.tag:X}", code="sm.malformed")
        return CommandApdu(
            cmd.cla & ~0x0C & 0xFF, cmd.ins, cmd.p1, cmd.p2, data, le, cmd.is_extended
        )

    def wrap_response(self, resp: ResponseApdu) -> ResponseApdu:
        ssc = self._next_ssc()
        body = self._encrypt_do87(resp.data, ssc) if resp.data else b""
        body += tlv.encode(0x99, resp.sw.to_bytes(2, "big"))
        return ResponseApdu(body + tlv.encode(0x8E, self._mac(ssc, body)), resp.sw)
