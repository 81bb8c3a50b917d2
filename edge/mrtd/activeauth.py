"""Active authentication, ICAO 9303-11 section 6.1 (DG15): ECDSA or RSA ISO/IEC 9796-2."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from asn1crypto import keys
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from ecdsa import VerifyingKey as EcdsaKey

from edge.mrtd import tlv
from edge.mrtd.apdu import CommandApdu
from edge.mrtd.bac import RandomBytes
from edge.mrtd.errors import MrtdError, ParseError, TransportError, VerificationError
from edge.mrtd.results import CheckResult
from edge.mrtd.signatures import load_public_key, verify
from edge.mrtd.sod import DECODE_ERRORS
from edge.mrtd.transport import Channel

# ISO/IEC 9796-2 trailers: 0xBC means SHA-1 implied; 0x??CC names the hash (ISO/IEC 10118).
_TRAILERS = {
    b"\xbc": "sha1",
    b"\x33\xcc": "sha1",
    b"\x34\xcc": "sha256",
    b"\x36\xcc": "sha384",
    b"\x35\xcc": "sha512",
    b"\x38\xcc": "sha224",
}


def active_authentication(channel: Channel, dg15: bytes, random: RandomBytes) -> CheckResult:
    """INTERNAL AUTHENTICATE over a fresh 8-byte challenge, verified with DG15's key."""
    try:
        spki, key = load_dg15_key(dg15)
    except ParseError as exc:
        return CheckResult.failed(exc)
    challenge = random(8)
    try:
        resp = channel.send(CommandApdu(0x00, 0x88, 0x00, 0x00, challenge, le=256)).check(
            "INTERNAL AUTHENTICATE"
        )
    except TransportError:
        raise  # the card left: the read failed, this is no verdict on the chip
    except MrtdError as exc:
        return CheckResult.failed(
            VerificationError(f"active authentication failed: {exc}", code="aa.failed")
        )
    if isinstance(key, ec.EllipticCurvePublicKey | EcdsaKey):
        # 9303-11 6.1: plain r||s (BSI TR-03111), hash per DG14 AA info; SHA-256 here.
        ok = verify(spki, "ecdsa", "sha256", resp.data, challenge, ecdsa_plain=True)
    elif isinstance(key, rsa.RSAPublicKey):
        ok = verify_9796_2(key, resp.data, challenge)
    else:
        return CheckResult.not_supported("DG15 key type is neither RSA nor EC")
    if not ok:
        return CheckResult.failed(
            VerificationError(
                "active authentication signature does not verify with DG15: a cloned chip?",
                code="aa.signature-invalid",
            )
        )
    return CheckResult.passed()


def load_dg15_key(dg15: bytes) -> tuple[bytes, Any]:
    """DG15's SubjectPublicKeyInfo (9303-10 section 4.7.15) and the key it holds.

    Tolerance: an RSA modulus DER-encoded as a negative INTEGER (an old encoder dropped the
    leading zero octet that X.690 section 8.3 requires when the top bit is set; seen in a
    real DG15). RFC 8017 section A.1.1 defines the modulus as a positive integer, so the
    octets are read as unsigned and the SPKI re-encoded; nothing else is relaxed. EC keys
    with explicit curve parameters (9303-11 section 9.2, BSI TR-03111) go through the
    `ecdsa` fallback of `signatures.load_public_key`.
    """
    try:
        spki = tlv.expect(dg15, 0x6F, "DG15")
    except ParseError as exc:
        raise ParseError(f"DG15 unreadable: {exc}", code="dg15.invalid") from exc
    try:
        info = keys.PublicKeyInfo.load(spki, strict=True)
        if info.algorithm == "rsa":
            parsed = info["public_key"].parsed
            n, e = int(parsed["modulus"].native), int(parsed["public_exponent"].native)
            if n < 0:
                octets = parsed["modulus"].contents
                n = int.from_bytes(octets, "big")
            if e < 3 or e % 2 == 0 or n.bit_length() < 1024 or n.bit_length() > 8192:
                raise ParseError("DG15 RSA key out of range", code="dg15.invalid")
            key = rsa.RSAPublicNumbers(e, n).public_key()
            fixed = key.public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            return fixed, key
        if info.algorithm == "ec":
            loaded = load_public_key(spki)
            if isinstance(loaded, ec.EllipticCurvePublicKey | EcdsaKey):
                return spki, loaded
        raise ParseError(
            f"DG15 key type {info.algorithm} is neither RSA nor EC", code="dg15.unsupported-key"
        )
    except ParseError:
        raise
    except VerificationError as exc:
        raise ParseError(f"DG15 key unusable: {exc}", code="dg15.invalid") from exc
    except (*DECODE_ERRORS, UnsupportedAlgorithm) as exc:
        raise ParseError(f"DG15 key unreadable: {exc}", code="dg15.invalid") from exc


def verify_9796_2(key: rsa.RSAPublicKey, signature: bytes, m2: bytes) -> bool:
    """ISO/IEC 9796-2 digital signature scheme 1, partial message recovery (9303-11 6.1.2)."""
    numbers = key.public_numbers()
    k = (numbers.n.bit_length() + 7) // 8
    if len(signature) != k:
        return False
    f = pow(int.from_bytes(signature, "big"), numbers.e, numbers.n).to_bytes(k, "big")
    if f[0] != 0x6A:
        return False
    trailer = f[-1:] if f[-1] == 0xBC else f[-2:]
    hash_name = _TRAILERS.get(trailer)
    if hash_name is None:
        return False
    hlen = hashlib.new(hash_name).digest_size
    digest_at = len(f) - len(trailer) - hlen
    m1, h = f[1:digest_at], f[digest_at : len(f) - len(trailer)]
    return hmac.compare_digest(hashlib.new(hash_name, m1 + m2).digest(), h)


def sign_challenge(private_pem: bytes, challenge: bytes, random: RandomBytes) -> bytes:
    """The emulator's answer to INTERNAL AUTHENTICATE (ECDSA plain, or 9796-2 with SHA-1)."""
    key = serialization.load_pem_private_key(private_pem, None)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(key.sign(challenge, ec.ECDSA(hashes.SHA256())))
        size = (key.curve.key_size + 7) // 8
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    if isinstance(key, rsa.RSAPrivateKey):
        n = key.private_numbers().public_numbers.n
        k = (n.bit_length() + 7) // 8
        m1 = random(k - 20 - 2)
        f = b"\x6a" + m1 + hashlib.sha1(m1 + challenge).digest() + b"\xbc"  # noqa: S324
        return pow(int.from_bytes(f, "big"), key.private_numbers().d, n).to_bytes(k, "big")
    raise VerificationError("unsupported AA key type", code="aa.unsupported")
