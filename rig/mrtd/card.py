"""An ICAO 9303 eMRTD chip in software: file system, BAC, PACE, secure messaging, CA, AA.

`EmulatedChip.process(apdu) -> response` is all the transport layers need; `vpcd.py` puts it
behind pcscd, `InProcessTransport` calls it directly. Fault injection (`Fault`) breaks the
exchange in the ways a real link or a forged chip would.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from edge.mrtd import lds
from edge.mrtd.apdu import CommandApdu, ResponseApdu
from edge.mrtd.bac import BacKeys, authenticate_message, open_authenticated, session_from
from edge.mrtd.errors import CardRemovedError, MrtdError
from edge.mrtd.pace import PaceChip
from edge.mrtd.sm import SW_SM_INCORRECT, SecureMessaging
from rig.mrtd.testdoc import TestDocument

FaultKind = Literal[
    "bad_mac", "truncated", "wrong_sw", "removed", "slow", "tag_lost", "pace_6300", "pace_refused"
]
LeRefusal = Literal["6700", "6C", "6282"]
# Historical bytes of a contactless eMRTD as a PC/SC reader reports it (PC/SC part 3, 3.1.3.2.3).
_ATR_BODY = bytes.fromhex("3B8880014D52544445564943")


def _with_tck(atr: bytes) -> bytes:
    tck = 0
    for b in atr[1:]:
        tck ^= b
    return atr + bytes([tck])


ATR = _with_tck(_ATR_BODY)
SW_SECURITY_NOT_SATISFIED = 0x6982
SW_AUTH_FAILED = 0x6300
SW_WRONG_P1P2 = 0x6B00
SW_INS_NOT_SUPPORTED = 0x6D00
SW_FILE_NOT_FOUND = 0x6A82
SW_WRONG_DATA = 0x6A80


@dataclass(frozen=True)
class Fault:
    """Break the `after`-th protected READ BINARY (counting from 0) in one way.

    bad_mac: flips a bit of the response MAC; truncated: cuts the response short;
    wrong_sw: answers 6A80 instead of data; removed: the card leaves the field;
    slow: every response from then on is delayed by `delay` seconds;
    tag_lost: the response is lost and the chip resets (RF field lost and found again, as
    phone and desk readers report "tag lost"), `count` times: in process the transport
    fails; through vpcd, where a dropped link kills Debian's pcscd, the reset chip answers
    the command with a plain 6982 instead;
    pace_6300: GENERAL AUTHENTICATE step `after` (0-3: nonce, mapping, key agreement,
    mutual authentication) of PACE answers 6300, `count` times, as readers report;
    pace_refused: MSE:Set AT for PACE answers 6A80 (a chip that advertises PACE but fails
    it): a reader may then fall back to BAC if the chip also offers BAC.
    """

    kind: FaultKind
    after: int = 3
    delay: float = 0.2
    count: int = 1


class ChipRemovedError(MrtdError):
    """Raised by the chip model when a 'removed' fault fires; transports turn it into silence."""

    code = "pcsc.card-removed"


class TagLostError(ChipRemovedError):
    """A 'tag_lost' fault: this response is lost, the chip is back (reset) for the next one."""

    code = "pcsc.tag-lost"


@dataclass(frozen=True)
class ChipLimits:
    """The chip's I/O buffer, advertised in EF.ATR/INFO (ISO 7816-4 section 12.7.1)."""

    extended_length: bool = True
    max_command: int = 4096
    max_response: int = 4096
    # A chip that refuses READ BINARY with Le above `max_le` (readers report chips that
    # refuse Le=00/256 but read 160), answering 6700, 6C<max_le> or 6282 without data.
    max_le: int | None = None
    le_refusal: LeRefusal = "6700"


class EmulatedChip:
    def __init__(
        self,
        doc: TestDocument,
        *,
        fault: Fault | None = None,
        limits: ChipLimits = ChipLimits(),
        random: Callable[[int], bytes] = os.urandom,
        bac: bool = True,
        pace_nonce_blocks: int | None = None,
    ) -> None:
        self.doc = doc
        self.fault = fault
        self.limits = limits
        self.random = random
        self.bac = bac  # False: a PACE-only chip (GET CHALLENGE is refused)
        self.pace_nonce_blocks = pace_nonce_blocks  # default: 2 for 3DES, 1 for AES
        self.removed = False
        self._slow = False
        self._reads = 0
        self._fired = 0
        self.files: dict[int, bytes] = {}  # the eMRTD application's files
        self.mf_files: dict[int, bytes] = {}  # the master file's: CardAccess, CardSecurity
        for name, data in doc.files.items():
            if name in _MF_FIDS:
                self.mf_files[_MF_FIDS[name]] = data
            elif name in _FIDS:
                self.files[_FIDS[name]] = data
        if limits.extended_length:
            info = (
                b"\x02\x02"
                + limits.max_command.to_bytes(2, "big")
                + b"\x02\x02"
                + limits.max_response.to_bytes(2, "big")
            )
            self.mf_files[lds.EF_ATR_INFO.fid] = b"\x7f\x66" + bytes([len(info)]) + info
        self.reset()

    def reset(self) -> None:
        self.sm: SecureMessaging | None = None
        self.app_selected = False
        self.selected: int | None = None
        self._challenge: bytes | None = None
        self._ca_pending = False
        self._next_sm: SecureMessaging | None = None
        self._pace: PaceChip | None = None
        self._ga_steps = 0

    # -- dispatch ---------------------------------------------------------------------------

    def process(self, raw: bytes) -> bytes:
        """One APDU in, one response out (data + SW1 SW2)."""
        if self.removed:
            raise ChipRemovedError("the chip has left the field")
        if self._slow and self.fault is not None:
            time.sleep(self.fault.delay)
        try:
            cmd = CommandApdu.parse(raw)
        except MrtdError:
            return b"\x67\x00"
        if self.sm is None or cmd.cla & 0x0C != 0x0C:
            if self.sm is not None:
                # A plain command inside a session ends the session (9303-11 section 9.8.4).
                self.sm = None
                return SW_SECURITY_NOT_SATISFIED.to_bytes(2, "big")
            return self._plain(cmd).encode()
        try:
            inner = self.sm.unwrap_command(cmd)
        except MrtdError:
            self.sm = None
            return SW_SM_INCORRECT.to_bytes(2, "big")
        fault = self._fault_for(inner)
        if fault == "removed":
            self.removed = True
            raise ChipRemovedError("the chip left the field mid-read")
        if fault == "tag_lost":
            self.reset()
            raise TagLostError("the chip left the field and came back (reset)")
        resp = self._protected(inner)
        if fault == "wrong_sw":
            resp = ResponseApdu(b"", SW_WRONG_DATA)
        wrapped = self.sm.wrap_response(resp).encode() if self.sm else resp.encode()
        if self._next_sm is not None:
            self.sm, self._next_sm = self._next_sm, None
        if fault == "bad_mac":
            broken = bytearray(wrapped)
            broken[-3] ^= 0x01  # last byte of the DO'8E' MAC
            return bytes(broken)
        if fault == "truncated":
            return wrapped[: len(wrapped) // 2]
        return wrapped

    def _fault_for(self, cmd: CommandApdu) -> FaultKind | None:
        if self.fault is None or cmd.ins != 0xB0:
            return None
        n = self._reads
        self._reads += 1
        if self.fault.kind == "slow":
            self._slow = self._slow or n >= self.fault.after
            return None
        if self.fault.kind == "tag_lost":
            # `count` losses in all: the read counter restarts with each new session
            if n == self.fault.after and self._fired < self.fault.count:
                self._fired += 1
                return "tag_lost"
            return None
        return self.fault.kind if n == self.fault.after else None

    # -- before access control ---------------------------------------------------------------

    def _plain(self, cmd: CommandApdu) -> ResponseApdu:
        if cmd.ins == 0xA4:
            return self._select(cmd, protected=False)
        if cmd.ins == 0xB0:
            if cmd.p1 & 0x80 and (cmd.p1 & 0x1F) in (lds.EF_CARD_ACCESS.sfi, lds.EF_ATR_INFO.sfi):
                fid = (
                    lds.EF_CARD_ACCESS.fid
                    if cmd.p1 & 0x1F == lds.EF_CARD_ACCESS.sfi
                    else lds.EF_ATR_INFO.fid
                )
                if fid not in self.mf_files:
                    return ResponseApdu(b"", SW_FILE_NOT_FOUND)
                self.selected = fid
                return self._read(self.mf_files[fid], cmd.p2, cmd.le or 256)
            if self.selected in _PUBLIC and not self.app_selected:
                return self._read(self.mf_files[self.selected], _offset(cmd), cmd.le or 256)
            return ResponseApdu(b"", SW_SECURITY_NOT_SATISFIED)
        if cmd.ins == 0x84 and self.app_selected and not self.bac:
            return ResponseApdu(b"", SW_INS_NOT_SUPPORTED)  # PACE-only chip
        if cmd.ins == 0x84 and self.app_selected:
            self._challenge = self.random(8)
            return ResponseApdu(self._challenge, 0x9000)
        if cmd.ins == 0x82 and self.app_selected:
            return self._external_authenticate(cmd)
        if cmd.ins == 0x22 and cmd.p1 == 0xC1 and cmd.p2 == 0xA4:
            return self._pace_set_at(cmd)
        if cmd.ins == 0x86 and self._pace is not None:
            step = self._ga_steps
            self._ga_steps += 1
            fault = self.fault
            if (
                fault is not None
                and fault.kind == "pace_6300"
                and step == fault.after
                and self._fired < fault.count
            ):
                self._fired += 1
                self._pace = None
                return ResponseApdu(b"", SW_AUTH_FAILED)
            data, sw = self._pace.general_authenticate(cmd.data)
            if sw == 0x9000 and self._pace.step == 4:
                self.sm, self._pace = self._pace.sm, None
                self._reads = 0
            elif sw != 0x9000:
                self._pace = None
            return ResponseApdu(data, sw)
        return ResponseApdu(b"", SW_SECURITY_NOT_SATISFIED)

    def _pace_set_at(self, cmd: CommandApdu) -> ResponseApdu:
        """MSE:Set AT for PACE (9303-11 section 4.4.4.1): protocol OID and password reference."""
        from edge.mrtd import tlv
        from edge.mrtd.pace import PASSWORD_CAN, PASSWORD_MRZ, PaceChip, Password, oid_bytes
        from edge.mrtd.securityinfo import parse_card_access

        if self.fault is not None and self.fault.kind == "pace_refused":
            return ResponseApdu(b"", SW_WRONG_DATA)
        card_access = self.mf_files.get(lds.EF_CARD_ACCESS.fid)
        try:
            kids = tlv.children(cmd.data)
            infos = parse_card_access(card_access) if card_access else []
        except MrtdError:
            return ResponseApdu(b"", SW_WRONG_DATA)
        info = next((i for i in infos if oid_bytes(i.protocol) == kids.get(0x80)), None)
        ref = kids.get(0x83, b"\x00")[0]
        if info is None or ref not in (PASSWORD_MRZ, PASSWORD_CAN):
            return ResponseApdu(b"", SW_WRONG_DATA)
        password = (
            Password.choose(None, self.doc.can)
            if ref == PASSWORD_CAN
            else Password.choose(self.doc.mrz_key, None)
        )
        blocks = self.pace_nonce_blocks or (2 if info.cipher == "3DES" else 1)
        ca_private = None
        if info.mapping == "CAM" and self.doc.ca_key_pem:
            from cryptography.hazmat.primitives import serialization
            from cryptography.hazmat.primitives.asymmetric import ec

            key = serialization.load_pem_private_key(self.doc.ca_key_pem, None)
            assert isinstance(key, ec.EllipticCurvePrivateKey)
            ca_private = key.private_numbers().private_value
        self._pace = PaceChip(
            info, password, self.random, nonce_blocks=blocks, ca_private=ca_private
        )
        self._ga_steps = 0
        return ResponseApdu(b"", 0x9000)

    def _external_authenticate(self, cmd: CommandApdu) -> ResponseApdu:
        """The chip's half of BAC (9303-11 section 4.3.4.1 steps 3 to 5)."""
        keys = BacKeys.from_mrz(self.doc.mrz_key)
        challenge, self._challenge = self._challenge, None
        plain = open_authenticated(keys, cmd.data)
        if challenge is None or plain is None or plain[8:16] != challenge:
            return ResponseApdu(b"", SW_AUTH_FAILED)
        rnd_ifd, k_ifd = plain[:8], plain[16:]
        k_ic = self.random(16)
        reply = authenticate_message(keys, challenge + rnd_ifd + k_ic)
        self.sm = session_from(k_ifd, k_ic, challenge, rnd_ifd)
        self._reads = 0
        return ResponseApdu(reply, 0x9000)

    # -- inside secure messaging ----------------------------------------------------------------

    def _protected(self, cmd: CommandApdu) -> ResponseApdu:
        if cmd.ins == 0xA4:
            return self._select(cmd, protected=True)
        if cmd.ins == 0xB0:
            if self.selected is None or cmd.p1 & 0x80:
                return ResponseApdu(b"", SW_WRONG_P1P2)
            files = self.files if self.app_selected else self.mf_files
            return self._read(files[self.selected], _offset(cmd), cmd.le or 256)
        if cmd.ins == 0x88 and self.doc.aa_key_pem:
            from edge.mrtd.activeauth import sign_challenge

            return ResponseApdu(sign_challenge(self.doc.aa_key_pem, cmd.data, self.random), 0x9000)
        if cmd.ins == 0x22 and cmd.p1 == 0x41 and cmd.p2 == 0xA4 and self.doc.ca_key_pem:
            self._ca_pending = True
            return ResponseApdu(b"", 0x9000)
        if cmd.ins == 0x86 and self._ca_pending and self.doc.ca_key_pem:
            return self._chip_authenticate(cmd)
        return ResponseApdu(b"", SW_INS_NOT_SUPPORTED)

    def _chip_authenticate(self, cmd: CommandApdu) -> ResponseApdu:
        """9303-11 6.2.4.2: answer under the old keys, then switch to the CA session."""
        from edge.mrtd import tlv
        from edge.mrtd.chipauth import chip_side_agree

        self._ca_pending = False
        try:
            point = tlv.children(tlv.expect(cmd.data, 0x7C, "GA"))[0x80]
        except (MrtdError, KeyError):
            return ResponseApdu(b"", SW_WRONG_DATA)
        assert self.doc.ca_key_pem is not None and self.sm is not None
        from edge.mrtd.securityinfo import parse_dg14

        info = parse_dg14(tlv.expect(self.files[lds.DG14.fid], 0x6E, "DG14"))[0]
        new = chip_side_agree(self.doc.ca_key_pem, point, info.cipher, info.key_len)
        self._next_sm = new
        return ResponseApdu(b"\x7c\x00", 0x9000)

    def _select(self, cmd: CommandApdu, *, protected: bool) -> ResponseApdu:
        if cmd.p1 == 0x04:
            if cmd.data != lds.LDS1_AID:
                return ResponseApdu(b"", SW_FILE_NOT_FOUND)
            self.app_selected = True
            self.selected = None
            return ResponseApdu(b"", 0x9000)
        if cmd.p1 == 0x00 and cmd.data in (b"", b"\x3f\x00"):
            self.app_selected = False
            self.selected = None
            return ResponseApdu(b"", 0x9000)
        if cmd.p1 == 0x02 and len(cmd.data) == 2:
            fid = int.from_bytes(cmd.data, "big")
            # The current DF decides: the MF holds EF.CardAccess/ATR/INFO (public) and
            # EF.CardSecurity (after PACE), the application the LDS files (9303-10 3.11).
            files = self.files if self.app_selected else self.mf_files
            public = not self.app_selected and fid in _PUBLIC
            if fid not in files:
                return ResponseApdu(b"", SW_FILE_NOT_FOUND)
            if not public and not protected:
                return ResponseApdu(b"", SW_SECURITY_NOT_SATISFIED)
            self.selected = fid
            return ResponseApdu(b"", 0x9000)
        return ResponseApdu(b"", SW_WRONG_P1P2)

    def _read(self, data: bytes, offset: int, le: int) -> ResponseApdu:
        """READ BINARY (ISO 7816-4 section 11.3.3): 6282 when the file ends before Le."""
        max_le = self.limits.max_le
        if max_le is not None and le > max_le:
            if self.limits.le_refusal == "6C":
                return ResponseApdu(b"", 0x6C00 | (max_le & 0xFF))
            return ResponseApdu(b"", 0x6282 if self.limits.le_refusal == "6282" else 0x6700)
        limit = self.limits.max_response if self.limits.extended_length else 256
        le = min(le, limit)
        if offset > len(data):
            return ResponseApdu(b"", SW_WRONG_P1P2)
        chunk = data[offset : offset + le]
        return ResponseApdu(chunk, 0x9000 if len(chunk) == le else 0x6282)


def _offset(cmd: CommandApdu) -> int:
    return ((cmd.p1 & 0x7F) << 8) | cmd.p2


_MF_FIDS = {lds.EF_CARD_ACCESS.name: lds.EF_CARD_ACCESS.fid, "EF.CardSecurity": 0x011D}
_PUBLIC = (lds.EF_CARD_ACCESS.fid, lds.EF_ATR_INFO.fid)
_FIDS = {
    f.name: f.fid
    for f in (
        lds.EF_COM,
        lds.EF_SOD,
        lds.DG1,
        lds.DG2,
        lds.DG11,
        lds.DG12,
        lds.DG14,
        lds.DG15,
    )
}


class InProcessTransport:
    """The Transport protocol straight onto an EmulatedChip: no pcscd, no sockets.

    For fast tests and for the demo on machines without pcscd; the end-to-end tests use vpcd.
    """

    def __init__(self, chip: EmulatedChip) -> None:
        self.chip = chip

    def transmit(self, apdu: bytes) -> bytes:
        try:
            return self.chip.process(apdu)
        except ChipRemovedError as exc:
            raise CardRemovedError("the card left the reader's field") from exc

    def reconnect(self) -> None:
        """As PcscTransport.reconnect: reset the chip; fails if it has left for good."""
        if self.chip.removed:
            raise CardRemovedError("the card left the reader's field")
        self.chip.reset()
