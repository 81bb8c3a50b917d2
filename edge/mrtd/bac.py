"""Basic Access Control, ICAO 9303-11 section 4.3 (and the chip's half, for the emulator)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass

from edge.mrtd.apdu import CommandApdu
from edge.mrtd.crypto import SessionKeys, des3_cbc, kdf, pad, retail_mac
from edge.mrtd.errors import AccessControlError, CardStatusError
from edge.mrtd.mrz import MrzKey
from edge.mrtd.sm import SecureMessaging
from edge.mrtd.transport import Channel

RandomBytes = Callable[[int], bytes]


@dataclass(frozen=True)
class BacKeys:
    """Document basic access keys KEnc/KMAC (9303-11 section 4.3.2 and 9.7.2)."""

    enc: bytes
    mac: bytes

    @classmethod
    def from_mrz(cls, key: MrzKey) -> BacKeys:
        seed = hashlib.sha1(key.information()).digest()[:16]  # noqa: S324 (9303-11 4.3.2)
        return cls(kdf(seed, 1, "3DES"), kdf(seed, 2, "3DES"))


def session_from(k_ifd: bytes, k_ic: bytes, rnd_ic: bytes, rnd_ifd: bytes) -> SecureMessaging:
    """Session keys from Kseed = K.IFD xor K.IC, SSC from the two nonces (9303-11 9.7.4, 9.8.2)."""
    seed = bytes(a ^ b for a, b in zip(k_ifd, k_ic, strict=True))
    keys = SessionKeys("3DES", kdf(seed, 1, "3DES"), kdf(seed, 2, "3DES"))
    return SecureMessaging(keys, int.from_bytes(rnd_ic[4:] + rnd_ifd[4:], "big"))


def authenticate_message(keys: BacKeys, plain: bytes) -> bytes:
    """E = 3DES(KEnc, S), M = MAC(KMAC, E): the cryptogram both sides send (9303-11 4.3.4.1)."""
    e = des3_cbc(keys.enc, plain)
    return e + retail_mac(keys.mac, pad(e, 8))


def open_authenticated(keys: BacKeys, cryptogram: bytes) -> bytes | None:
    """The plaintext S of a 40-byte E||M cryptogram, or None when its MAC does not verify."""
    if len(cryptogram) != 40:
        return None
    e, m = cryptogram[:32], cryptogram[32:]
    if not hmac.compare_digest(retail_mac(keys.mac, pad(e, 8)), m):
        return None
    return des3_cbc(keys.enc, e, decrypt=True)


def perform_bac(channel: Channel, key: MrzKey, random: RandomBytes) -> None:
    """Run BAC on `channel` and switch it to secure messaging.

    9303-11 section 4.3.4: GET CHALLENGE, then EXTERNAL AUTHENTICATE with E.IFD||M.IFD; the
    chip proves knowledge of the same keys by returning E.IC||M.IC over RND.IC||RND.IFD||K.IC.
    """
    keys = BacKeys.from_mrz(key)
    challenge = channel.send(CommandApdu(0x00, 0x84, 0x00, 0x00, le=8)).check("GET CHALLENGE")
    rnd_ic = challenge.data
    if len(rnd_ic) != 8:
        raise AccessControlError(
            f"GET CHALLENGE returned {len(rnd_ic)} bytes, expected 8", code="bac.protocol"
        )
    rnd_ifd, k_ifd = random(8), random(16)
    cryptogram = authenticate_message(keys, rnd_ifd + rnd_ic + k_ifd)
    resp = channel.send(CommandApdu(0x00, 0x82, 0x00, 0x00, cryptogram, le=40))
    if resp.sw in (0x6300, 0x6982):
        raise AccessControlError(
            "the chip rejected the MRZ key (BAC): check the document number, birth and "
            "expiry dates",
            code="bac.wrong-key",
        )
    try:
        resp.check("EXTERNAL AUTHENTICATE")
    except CardStatusError as exc:
        raise AccessControlError(str(exc), code="bac.protocol") from exc
    plain = open_authenticated(keys, resp.data)
    if plain is None:
        raise AccessControlError(
            "the chip's BAC cryptogram has a bad MAC: not the chip the MRZ key belongs to",
            code="bac.chip-mac",
        )
    # 9303-11 4.3.4.1 step 6: the chip must echo our nonce and its own.
    if plain[:8] != rnd_ic or plain[8:16] != rnd_ifd:
        raise AccessControlError("the chip did not echo the BAC nonces", code="bac.nonce-mismatch")
    channel.sm = session_from(k_ifd, plain[16:], rnd_ic, rnd_ifd)
