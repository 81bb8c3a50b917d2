"""Chip authentication, ICAO 9303-11 section 6.2 (ECDH, DG14), for both ends.

The proof is implicit: after the key agreement both sides restart secure messaging with keys
only the genuine chip (holder of DG14's private key) can derive, so the first protected
response after the switch verifies only if the chip is genuine.
"""

from __future__ import annotations

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from edge.mrtd import tlv
from edge.mrtd.apdu import CommandApdu
from edge.mrtd.bac import RandomBytes
from edge.mrtd.crypto import CipherName, SessionKeys, kdf
from edge.mrtd.errors import MrtdError, ParseError, TransportError, VerificationError
from edge.mrtd.lds import EF_COM
from edge.mrtd.pace import oid_bytes
from edge.mrtd.results import CheckResult
from edge.mrtd.securityinfo import ChipAuthInfo, parse_dg14
from edge.mrtd.sm import SecureMessaging
from edge.mrtd.sod import DECODE_ERRORS
from edge.mrtd.transport import Channel


def new_session(cipher: CipherName, key_len: int, shared_x: bytes) -> SecureMessaging:
    """Keys from the ECDH shared secret, SSC restarting at zero (9303-11 6.2.3 and 9.8.2)."""
    keys = SessionKeys(cipher, kdf(shared_x, 1, cipher, key_len), kdf(shared_x, 2, cipher, key_len))
    return SecureMessaging(keys, 0)


def chip_auth_keys(dg14: bytes) -> list[tuple[ChipAuthInfo, ec.EllipticCurvePublicKey]]:
    """DG14's ECDH chip-authentication keys (9303-11 sections 6.2 and 9.2.5), each loaded.

    DG14 is chip data, authenticated only by passive authentication: every malformation
    (SecurityInfos that do not decode, a key `cryptography` calls invalid or unsupported, a
    point not on its curve) is a ParseError `dg14.invalid`, never a foreign exception.
    """
    try:
        infos = parse_dg14(tlv.expect(dg14, 0x6E, "DG14"))
    except ParseError as exc:
        raise ParseError(f"DG14 unreadable: {exc}", code="dg14.invalid") from exc
    except DECODE_ERRORS as exc:
        raise ParseError(f"DG14 does not decode: {exc}", code="dg14.invalid") from exc
    out = []
    for info in infos:
        try:
            public = serialization.load_der_public_key(info.public_key)
        except (*DECODE_ERRORS, UnsupportedAlgorithm) as exc:
            raise ParseError(
                f"DG14 chip-authentication key unusable: {exc}", code="dg14.invalid"
            ) from exc
        if not isinstance(public, ec.EllipticCurvePublicKey):
            raise ParseError("DG14 ECDH key is not an EC key", code="dg14.invalid")
        out.append((info, public))
    return out


def chip_authentication(channel: Channel, dg14: bytes, random: RandomBytes) -> CheckResult:
    """Run CA with the first usable DG14 key and report the outcome."""
    try:
        keys = chip_auth_keys(dg14)
    except ParseError as exc:
        return CheckResult.failed(exc)
    if not keys:
        return CheckResult.not_supported("DG14 offers no ECDH chip-authentication key we support")
    info, public = keys[0]
    try:
        _agree(channel, info, public)
        # Any protected exchange under the new keys proves the chip derived them too.
        channel.send(CommandApdu(0x00, 0xA4, 0x02, 0x0C, EF_COM.fid.to_bytes(2, "big"))).check(
            "SELECT after chip authentication"
        )
    except TransportError:
        raise  # the card left: the read failed, this is no verdict on the chip
    except MrtdError as exc:
        return CheckResult.failed(
            VerificationError(
                f"chip authentication failed: {exc}; the chip does not hold the DG14 private key",
                code="ca.failed",
            )
        )
    return CheckResult.passed()


def _agree(channel: Channel, info: ChipAuthInfo, public: ec.EllipticCurvePublicKey) -> None:
    ephemeral = ec.generate_private_key(public.curve)
    point = ephemeral.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    ref = tlv.encode(0x84, info.key_id.to_bytes(1, "big")) if info.key_id is not None else b""
    if info.cipher == "3DES":  # 9303-11 6.2.4.1: MSE:Set KAT
        channel.send(CommandApdu(0x00, 0x22, 0x41, 0xA6, tlv.encode(0x91, point) + ref)).check(
            "MSE:Set KAT"
        )
    else:  # 9303-11 6.2.4.2: MSE:Set AT, then GENERAL AUTHENTICATE
        channel.send(
            CommandApdu(0x00, 0x22, 0x41, 0xA4, tlv.encode(0x80, oid_bytes(info.protocol)) + ref)
        ).check("MSE:Set AT (chip authentication)")
        channel.send(
            CommandApdu(0x00, 0x86, 0x00, 0x00, tlv.encode(0x7C, tlv.encode(0x80, point)), le=256)
        ).check("GENERAL AUTHENTICATE (chip authentication)")
    shared = ephemeral.exchange(ec.ECDH(), public)
    channel.sm = new_session(info.cipher, info.key_len, shared)


def chip_side_agree(
    private_pem: bytes, point: bytes, cipher: CipherName, key_len: int
) -> SecureMessaging:
    """The emulator's half: ECDH with its DG14 private key, then the same new session."""
    key = serialization.load_pem_private_key(private_pem, None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise VerificationError("chip CA key is not EC", code="ca.unsupported")
    peer = ec.EllipticCurvePublicKey.from_encoded_point(key.curve, point)
    return new_session(cipher, key_len, key.exchange(ec.ECDH(), peer))
