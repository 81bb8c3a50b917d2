"""PACE with ECDH generic and chip authentication mapping, ICAO 9303-11 section 4.4 (both
ends of the protocol; the check of CAM against EF.CardSecurity is in `cardsecurity`).

Point arithmetic (the mapping G' = s*G + H needs full points, which `cryptography` does not
expose) comes from the `ecdsa` package's curve tables, which include the brainpool curves.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

import ecdsa
from cryptography.hazmat.primitives.asymmetric import ec
from ecdsa.ellipticcurve import INFINITY, Point, PointJacobi

from edge.mrtd import tlv
from edge.mrtd.apdu import CommandApdu
from edge.mrtd.bac import RandomBytes
from edge.mrtd.crypto import (
    SessionKeys,
    aes_cbc,
    aes_cmac8,
    aes_ecb_block,
    des3_cbc,
    kdf,
    pad,
    retail_mac,
    unpad,
)
from edge.mrtd.errors import AccessControlError, CardStatusError, MrtdError, ParseError
from edge.mrtd.mrz import MrzKey
from edge.mrtd.securityinfo import PaceInfo
from edge.mrtd.sm import SecureMessaging
from edge.mrtd.transport import Channel

# Standardized domain parameters (9303-11 section 9.5.1, table 6) in ecdsa's tables.
CURVES: dict[int, Any] = {
    8: ecdsa.NIST192p,
    9: ecdsa.BRAINPOOLP192r1,
    10: ecdsa.NIST224p,
    11: ecdsa.BRAINPOOLP224r1,
    12: ecdsa.NIST256p,
    13: ecdsa.BRAINPOOLP256r1,
    14: ecdsa.BRAINPOOLP320r1,
    15: ecdsa.NIST384p,
    16: ecdsa.BRAINPOOLP384r1,
    17: ecdsa.BRAINPOOLP512r1,
    18: ecdsa.NIST521p,
}
# The same curves in `cryptography` (OpenSSL). Measured here: plain ECDH takes 1.4 ms on
# brainpoolP256r1 against 2.5 ms in `ecdsa`, and k*G on the NIST curves 0.04 ms against 0.7 ms
# (OpenSSL has no fast brainpool generator, so `ecdsa`'s precomputed table wins there). Points
# on the mapped generator need `ecdsa` in any case.
_OPENSSL: dict[int, type[ec.EllipticCurve]] = {
    8: ec.SECP192R1,
    10: ec.SECP224R1,
    12: ec.SECP256R1,
    13: ec.BrainpoolP256R1,
    15: ec.SECP384R1,
    16: ec.BrainpoolP384R1,
    17: ec.BrainpoolP512R1,
    18: ec.SECP521R1,
}
_FAST_GENERATOR = {8, 10, 12, 15, 18}
PASSWORD_MRZ, PASSWORD_CAN = 0x01, 0x02
MAX_NONCE = 64
PACE_ATTEMPTS = 3  # a chip answering 6300 to an early step gets this many tries in all
# IV of the encrypted chip authentication data: E(KSenc, -1), -1 being all bits set
# (9303-11 section 4.4.3.5.1).
_CAM_IV_INPUT = b"\xff" * 16


@dataclass(frozen=True)
class Password:
    """The PACE password and its reference (9303-11 sections 4.4.1 and 4.4.4.1).

    K_pi = KDF_pi(pi) = KDF(f(pi), 3) (9303-11 section 9.7.3, `Suite.nonce_key`), where
    f(pi) is SHA-1 of the MRZ information (document number, date of birth, date of expiry,
    each with its check digit: 9303-11 section 9.7.2, as for BAC) for the MRZ, and the CAN's
    digits as they are (ISO 646 characters) for the CAN; the reference is 01 (MRZ) or 02
    (CAN) in MSE:Set AT's DO'83'.
    """

    secret: bytes
    reference: int

    @classmethod
    def choose(cls, mrz: MrzKey | None, can: str | None) -> Password:
        if can is not None:
            if not can.isdigit() or len(can) != 6:
                raise AccessControlError(
                    "the CAN is the 6-digit number printed on the data page", code="mrz.can-invalid"
                )
            return cls(can.encode("ascii"), PASSWORD_CAN)
        if mrz is None:
            raise AccessControlError("PACE needs the MRZ key or the CAN", code="access.no-key")
        return cls(hashlib.sha1(mrz.information()).digest(), PASSWORD_MRZ)  # noqa: S324


def oid_bytes(dotted: str) -> bytes:
    from asn1crypto import core

    encoded: bytes = core.ObjectIdentifier(dotted).dump()
    return encoded[2:]


class Suite:
    """The cipher and curve of one PACE protocol OID and parameter id."""

    def __init__(self, info: PaceInfo) -> None:
        self.info = info
        self.curve = CURVES[info.parameter_id]
        self.size = self.curve.baselen
        self.order = int(self.curve.order)  # a plain int even where ecdsa uses gmpy2
        openssl = _OPENSSL.get(info.parameter_id)
        self.openssl = openssl() if openssl else None
        self.fast_generator = info.parameter_id in _FAST_GENERATOR and self.openssl is not None

    def base_mult(self, k: int) -> Any:
        """k*G for the curve's standard generator."""
        if not self.fast_generator or self.openssl is None:
            return self.curve.generator * k
        numbers = ec.derive_private_key(int(k), self.openssl).public_key().public_numbers()
        return PointJacobi.from_affine(
            Point(self.curve.curve, numbers.x, numbers.y, self.curve.order)
        )

    def shared_x(self, k: int, peer: bytes) -> int:
        """x(k * peer) for a point on the standard curve: plain ECDH (9303-11 4.4.3.4)."""
        if self.openssl is None:
            return int((self.decode(peer) * k).x())
        public = ec.EllipticCurvePublicKey.from_encoded_point(self.openssl, peer)
        return int.from_bytes(
            ec.derive_private_key(int(k), self.openssl).exchange(ec.ECDH(), public), "big"
        )

    def nonce_key(self, password: Password) -> bytes:
        return kdf(password.secret, 3, self.info.cipher, self.info.key_len)

    def crypt_nonce(self, key: bytes, data: bytes, *, decrypt: bool) -> bytes:
        """E(K_pi, s) with a zero IV (9303-11 section 4.4.3.1)."""
        if self.info.cipher == "3DES":
            return des3_cbc(key, data, decrypt=decrypt)
        return aes_cbc(key, data, decrypt=decrypt)

    @property
    def block(self) -> int:
        return 8 if self.info.cipher == "3DES" else 16

    def nonce_ok(self, z: bytes) -> bool:
        """9303-11 4.4.3.1 fixes no length for s: real 3DES chips send 16 bytes (two blocks),
        AES chips 16 (one). Any whole number of cipher blocks up to 64 bytes is accepted."""
        return 0 < len(z) <= MAX_NONCE and len(z) % self.block == 0

    def encode(self, point: Any) -> bytes:
        x, y = int(point.x()), int(point.y())  # gmpy2's mpz when installed
        return b"\x04" + x.to_bytes(self.size, "big") + y.to_bytes(self.size, "big")

    def decode(self, data: bytes) -> Any:
        """An uncompressed point on the curve, or ParseError (9303-11 4.4.3.3: validate keys)."""
        if len(data) != 1 + 2 * self.size or data[0] != 0x04:
            raise ParseError("PACE public key is not an uncompressed point", code="pace.bad-point")
        try:
            vk = ecdsa.VerifyingKey.from_string(data, curve=self.curve)
        except (ecdsa.keys.MalformedPointError, AssertionError) as exc:
            raise ParseError(
                f"PACE public key is not on the curve: {exc}", code="pace.bad-point"
            ) from exc
        return PointJacobi.from_affine(vk.pubkey.point)

    def private_key(self, random: RandomBytes) -> int:
        n = self.order
        while True:
            k = int.from_bytes(random(self.size), "big")
            if 1 <= k < n:
                return k

    def mapped_generator(self, nonce: bytes, shared: Any) -> Any:
        """Generic mapping G' = s*G + H (9303-11 section 4.4.3.3.1)."""
        if shared == INFINITY:
            raise AccessControlError(
                "PACE mapping produced the point at infinity", code="pace.protocol"
            )
        return self.base_mult(int.from_bytes(nonce, "big")) + shared

    def session(self, shared_x: int) -> SecureMessaging:
        cipher = self.info.cipher
        k = shared_x.to_bytes(self.size, "big")
        keys = SessionKeys(
            cipher, kdf(k, 1, cipher, self.info.key_len), kdf(k, 2, cipher, self.info.key_len)
        )
        return SecureMessaging(keys, 0)

    def token(self, keys: SessionKeys, point: bytes) -> bytes:
        """Authentication token over the peer's ephemeral key (9303-11 section 4.4.3.4)."""
        data = tlv.encode(
            0x7F49, tlv.encode(0x06, oid_bytes(self.info.protocol)) + tlv.encode(0x86, point)
        )
        if keys.cipher == "3DES":
            return retail_mac(keys.mac, pad(data, 8))
        return aes_cmac8(keys.mac, data)


def _ga(
    channel: Channel, tag: int, value: bytes, reply: int, *, last: bool = False, whole: bool = False
) -> Any:
    """One GENERAL AUTHENTICATE step: the reply data object (or, `whole`, all of them)."""
    cmd = CommandApdu(
        0x00 if last else 0x10,
        0x86,
        0x00,
        0x00,
        tlv.encode(0x7C, tlv.encode(tag, value) if tag else b""),
        le=256,
    )
    resp = channel.send(cmd)
    if last and resp.sw == 0x6300:
        # Only the chip's check of T_IFD (9303-11 4.4.3.4) can reveal a wrong password; but
        # readers also report chips refusing a right token now and then (worth a new run).
        raise PaceTokenRefusedError(
            "the chip rejected the PACE password: check the CAN or the MRZ key"
        )
    if last and resp.sw in (0x6982, 0x6A80):
        raise AccessControlError(
            "the chip rejected the PACE password: check the CAN or the MRZ key",
            code="pace.wrong-key",
        )
    if resp.sw == 0x6300:
        # Before mutual authentication the chip cannot know the password; readers report
        # chips that answer 6300 here now and then and succeed on a new attempt.
        raise PaceStepRefusedError(f"the chip answered 6300 to PACE step {tag:02X}")
    try:
        resp.check("GENERAL AUTHENTICATE (PACE)")
        kids = tlv.children(tlv.expect(resp.data, 0x7C, "dynamic authentication data"))
    except (CardStatusError, ParseError) as exc:
        raise AccessControlError(f"PACE step failed: {exc}", code="pace.protocol") from exc
    if reply not in kids:
        raise AccessControlError(f"PACE reply lacks data object {reply:02X}", code="pace.protocol")
    return kids if whole else kids[reply]


class PaceStepRefusedError(AccessControlError):
    """SW 6300 before mutual authentication: a transient refusal, worth a new attempt."""

    code = "pace.step-refused"


class PaceTokenRefusedError(AccessControlError):
    """SW 6300 to our token: a wrong password, unless a new attempt succeeds."""

    code = "pace.wrong-key"


@dataclass(frozen=True)
class PaceOutcome:
    """What the reader needs after PACE: the suite that ran and, for CAM, the values the
    chip authentication check takes (9303-11 4.4.3.5.2)."""

    info: PaceInfo
    pk_map_ic: bytes
    ca_ic: int | None  # decrypted chip authentication data (CAM only)


def perform_pace(
    channel: Channel,
    info: PaceInfo,
    *,
    mrz: MrzKey | None,
    can: str | None,
    random: RandomBytes,
    attempts: int = PACE_ATTEMPTS,
) -> PaceOutcome:
    """Run PACE, starting over (MSE:Set AT) when the chip answers a step with 6300.

    Readers report chips that refuse a step with 6300 now and then and succeed on a new
    run (docs/passport.md). Bounded: after `attempts` runs the last refusal stands, as
    `pace.step-refused` (an early step) or `pace.wrong-key` (our token: 6300 there every
    time is what a wrong CAN or MRZ key gives).
    """
    for attempt in range(1, attempts + 1):
        try:
            return _pace_once(channel, info, mrz=mrz, can=can, random=random)
        except (PaceStepRefusedError, PaceTokenRefusedError) as exc:
            if attempt == attempts:
                raise type(exc)(f"{exc.message} ({attempts} attempts)") from exc
    raise AssertionError("unreachable")  # pragma: no cover


def _pace_once(
    channel: Channel, info: PaceInfo, *, mrz: MrzKey | None, can: str | None, random: RandomBytes
) -> PaceOutcome:
    """The terminal's side of PACE-GM or PACE-CAM; on success `channel` runs secure messaging
    (SSC 0)."""
    suite = Suite(info)
    password = Password.choose(mrz, can)
    mse = (
        tlv.encode(0x80, oid_bytes(info.protocol))
        + tlv.encode(0x83, bytes([password.reference]))
        + tlv.encode(0x84, bytes([info.parameter_id]))
    )
    resp = channel.send(CommandApdu(0x00, 0x22, 0xC1, 0xA4, mse))
    try:
        resp.check("MSE:Set AT (PACE)")
    except MrtdError as exc:
        raise AccessControlError(
            f"the chip refused the PACE parameters: {exc}", code="pace.protocol"
        ) from exc
    # 1. encrypted nonce (4.4.3.1)
    z = _ga(channel, 0, b"", 0x80)
    if not suite.nonce_ok(z):
        raise AccessControlError(
            f"PACE encrypted nonce of {len(z)} bytes is not whole {suite.block}-byte blocks",
            code="pace.protocol",
        )
    nonce = suite.crypt_nonce(suite.nonce_key(password), z, decrypt=True)
    # 2. mapping (4.4.3.3.1)
    sk_map = suite.private_key(random)
    pk_map = suite.base_mult(sk_map)
    try:
        pk_map_ic_raw = _ga(channel, 0x81, suite.encode(pk_map), 0x82)
        pk_map_ic = suite.decode(pk_map_ic_raw)
        generator = suite.mapped_generator(nonce, pk_map_ic * sk_map)
        # 3. key agreement on the mapped generator (4.4.3.4)
        sk_eph = suite.private_key(random)
        pk_eph = suite.encode(generator * sk_eph)
        pk_eph_ic_raw = _ga(channel, 0x83, pk_eph, 0x84)
        if pk_eph_ic_raw == pk_eph:  # 4.4.3.4 step 3: the chip must not echo our key
            raise AccessControlError("chip echoed our PACE key", code="pace.protocol")
        suite.decode(pk_eph_ic_raw)  # validates the point before it is used
        shared_x = suite.shared_x(sk_eph, pk_eph_ic_raw)
    except (ParseError, ValueError) as exc:
        raise AccessControlError(str(exc), code="pace.protocol") from exc
    sm = suite.session(shared_x)
    # 4. mutual authentication (4.4.3.4), with CAM the encrypted CA data (4.4.3.5.1)
    kids = _ga(channel, 0x85, suite.token(sm.keys, pk_eph_ic_raw), 0x86, last=True, whole=True)
    t_ic = kids[0x86]
    if not hmac.compare_digest(t_ic, suite.token(sm.keys, pk_eph)):
        raise AccessControlError(
            "the chip's PACE token is wrong: not the expected chip", code="pace.chip-token"
        )
    ca_ic = None
    if info.mapping == "CAM":
        if 0x8A not in kids:
            raise AccessControlError(
                "PACE-CAM: the chip sent no encrypted chip authentication data (DO'8A')",
                code="pace.protocol",
            )
        ca_ic = decrypt_ca_data(sm.keys, kids[0x8A])
    channel.sm = sm
    return PaceOutcome(info, pk_map_ic_raw, ca_ic)


def encrypt_ca_data(keys: SessionKeys, ca_ic: int, size: int) -> bytes:
    """A_IC = E(KSenc, CA_IC), AES-CBC with IV = E(KSenc, -1) (9303-11 4.4.3.5.1)."""
    iv = aes_ecb_block(keys.enc, _CAM_IV_INPUT)
    return aes_cbc(keys.enc, pad(ca_ic.to_bytes(size, "big"), 16), iv=iv)


def decrypt_ca_data(keys: SessionKeys, a_ic: bytes) -> int:
    """CA_IC from A_IC (9303-11 4.4.3.5.2); a malformed block is a protocol error."""
    if keys.cipher != "AES" or not a_ic or len(a_ic) % 16 or len(a_ic) > MAX_NONCE * 2:
        raise AccessControlError(
            "PACE-CAM chip authentication data is not whole AES blocks", code="pace.protocol"
        )
    iv = aes_ecb_block(keys.enc, _CAM_IV_INPUT)
    try:
        return int.from_bytes(unpad(aes_cbc(keys.enc, a_ic, decrypt=True, iv=iv)), "big")
    except MrtdError as exc:
        raise AccessControlError(
            f"PACE-CAM chip authentication data does not decrypt: {exc}", code="pace.protocol"
        ) from exc


class PaceChip:
    """The chip's side of PACE-GM, for the emulator; one instance per MSE:Set AT."""

    def __init__(
        self,
        info: PaceInfo,
        password: Password,
        random: RandomBytes,
        *,
        nonce_blocks: int = 1,
        ca_private: int | None = None,
    ) -> None:
        self.suite = Suite(info)
        self.password = password
        self.random = random
        self.nonce_blocks = nonce_blocks  # 2 for 3DES, as real 3DES chips send
        self.ca_private = ca_private  # static CA key for PACE-CAM (9303-11 4.4.3.5.1)
        self.step = 0
        self.nonce = b""
        self.sk_map = 0
        self.generator: Any = None
        self.pk_eph_pcd = b""
        self.pk_eph = b""
        self.sm: SecureMessaging | None = None

    def general_authenticate(self, data: bytes) -> tuple[bytes, int]:
        """One GA step: (response data, SW). Returns SW 6300 when the terminal's token is wrong."""
        suite = self.suite
        try:
            kids = tlv.children(tlv.expect(data, 0x7C, "GA"))
            if self.step == 0 and not kids:
                self.nonce = self.random(suite.block * self.nonce_blocks)
                z = suite.crypt_nonce(suite.nonce_key(self.password), self.nonce, decrypt=False)
                self.step = 1
                return tlv.encode(0x7C, tlv.encode(0x80, z)), 0x9000
            if self.step == 1 and 0x81 in kids:
                self.sk_map = suite.private_key(self.random)
                shared = suite.decode(kids[0x81]) * self.sk_map
                self.generator = suite.mapped_generator(self.nonce, shared)
                self.step = 2
                pk = suite.encode(suite.base_mult(self.sk_map))
                return tlv.encode(0x7C, tlv.encode(0x82, pk)), 0x9000
            if self.step == 2 and 0x83 in kids:
                sk = suite.private_key(self.random)
                self.pk_eph = suite.encode(self.generator * sk)
                self.pk_eph_pcd = kids[0x83]
                suite.decode(kids[0x83])
                self.sm = suite.session(suite.shared_x(sk, kids[0x83]))
                self.step = 3
                return tlv.encode(0x7C, tlv.encode(0x84, self.pk_eph)), 0x9000
            if self.step == 3 and 0x85 in kids and self.sm is not None:
                expected = suite.token(self.sm.keys, self.pk_eph)
                if not hmac.compare_digest(expected, kids[0x85]):
                    self.sm = None
                    return b"", 0x6300
                self.step = 4
                t_ic = suite.token(self.sm.keys, self.pk_eph_pcd)
                out = tlv.encode(0x86, t_ic)
                if suite.info.mapping == "CAM" and self.ca_private is not None:
                    # CA_IC = SK_IC^-1 * SK_Map,IC mod n (9303-11 4.4.3.5.1)
                    n = suite.order
                    ca_ic = pow(self.ca_private, -1, n) * self.sk_map % n
                    out += tlv.encode(0x8A, encrypt_ca_data(self.sm.keys, ca_ic, suite.size))
                return tlv.encode(0x7C, out), 0x9000
        except (MrtdError, ValueError):
            return b"", 0x6A80
        return b"", 0x6985  # conditions of use not satisfied: out-of-order step
