"""Signing and verification keys: COSE_Key (RFC 9052 section 7), thumbprints, JWK.

Two families only: ECDSA on P-256 with SHA-256 (TPMs and secure elements sign nothing
else) and Ed25519 for software keys. A key knows the one COSE algorithm it is pinned to;
verification elsewhere refuses any other algorithm for it.

`kid` is the COSE Key Thumbprint (RFC 9679 section 3) with SHA-256: the hash of the
deterministic encoding of the key's required parameters only.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
)

from attest import cbor
from attest.errors import KeyFormatError, SignatureError

# COSE algorithms (IANA COSE Algorithms registry; RFC 9053, RFC 9864 for the fully
# specified ESP256 and Ed25519). RFC 9864 section 4.2 deprecates the polymorphic EdDSA (-8):
# new Ed25519 keys are pinned to Ed25519 (-19) by default; -8 still verifies for keys that
# were pinned to it before (the verifier refuses new enrolments of it: docs/attestation.md).
ES256 = -7
ESP256 = -9
EDDSA = -8
ED25519 = -19
ECDSA_ALGS = frozenset({ES256, ESP256})
EDDSA_ALGS = frozenset({EDDSA, ED25519})
SUPPORTED_ALGS = ECDSA_ALGS | EDDSA_ALGS
ALG_NAMES = {ES256: "ES256", ESP256: "ESP256", EDDSA: "EdDSA", ED25519: "Ed25519"}
JOSE_ALG = {ES256: "ES256", ESP256: "ES256", EDDSA: "EdDSA", ED25519: "EdDSA"}

# COSE_Key parameters (RFC 9052 section 7.1, RFC 9053 section 7).
KTY, KID, ALG = 1, 2, 3
CRV, X, Y = -1, -2, -3
KTY_OKP, KTY_EC2 = 1, 2
CRV_P256, CRV_ED25519 = 1, 6


def b64url(data: bytes) -> str:
    """Unpadded base64url (RFC 7515 section 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Strict unpadded base64url: rejects padding and characters outside the alphabet."""
    if not isinstance(text, str) or "=" in text or len(text) % 4 == 1:
        raise KeyFormatError("not unpadded base64url", code="key.bad-base64url")
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (ValueError, TypeError):
        raise KeyFormatError("not unpadded base64url", code="key.bad-base64url") from None
    if b64url(raw) != text:
        raise KeyFormatError("non-canonical base64url", code="key.bad-base64url")
    return raw


def alg_name(alg: int) -> str:
    return ALG_NAMES.get(alg, f"unknown ({alg})")


def _check_alg(alg: int) -> None:
    if alg not in SUPPORTED_ALGS:
        raise KeyFormatError(
            f"algorithm {alg} is not supported; use ES256 (-7), ESP256 (-9), EdDSA (-8) "
            "or Ed25519 (-19)",
            code="key.unsupported-alg",
        )


@dataclass(frozen=True)
class PublicKey:
    """A verification key pinned to one COSE algorithm."""

    alg: int
    _key: ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey = field(repr=False)
    kid: bytes = field(init=False)

    def __post_init__(self) -> None:
        _check_alg(self.alg)
        if self.alg in ECDSA_ALGS:
            if not isinstance(self._key, ec.EllipticCurvePublicKey) or not isinstance(
                self._key.curve, ec.SECP256R1
            ):
                raise KeyFormatError(
                    f"{alg_name(self.alg)} needs a P-256 key", code="key.wrong-type"
                )
        elif not isinstance(self._key, ed25519.Ed25519PublicKey):
            raise KeyFormatError(
                f"{alg_name(self.alg)} needs an Ed25519 key", code="key.wrong-type"
            )
        object.__setattr__(self, "kid", hashlib.sha256(cbor.encode(self._required())).digest())

    def _required(self) -> dict[int, Any]:
        """The parameters RFC 9679 section 3 hashes for the thumbprint."""
        if isinstance(self._key, ec.EllipticCurvePublicKey):
            nums = self._key.public_numbers()
            return {
                KTY: KTY_EC2,
                CRV: CRV_P256,
                X: nums.x.to_bytes(32, "big"),
                Y: nums.y.to_bytes(32, "big"),
            }
        raw = self._key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {KTY: KTY_OKP, CRV: CRV_ED25519, X: raw}

    # -- COSE_Key -------------------------------------------------------------------------

    def cose_key(self) -> dict[int, Any]:
        """The COSE_Key map, with `alg` and `kid` so that enrolment pins both."""
        return {**self._required(), ALG: self.alg, KID: self.kid}

    def cose_key_bytes(self) -> bytes:
        return cbor.encode(self.cose_key())

    @classmethod
    def from_cose_key(cls, key: bytes | dict[Any, Any]) -> PublicKey:
        """Parse a COSE_Key (bytes or decoded map); `alg` is required, so it can be pinned."""
        m = cbor.decode(key, max_size=512) if isinstance(key, bytes) else key
        if not isinstance(m, dict):
            raise KeyFormatError("a COSE_Key is a map", code="key.malformed")
        allowed = {KTY, KID, ALG, CRV, X, Y}
        extra = set(m) - allowed
        if extra:
            raise KeyFormatError(
                f"unexpected COSE_Key parameters {sorted(extra)}", code="key.malformed"
            )
        alg = m.get(ALG)
        if not isinstance(alg, int) or isinstance(alg, bool):
            raise KeyFormatError("COSE_Key has no integer alg (3) to pin", code="key.no-alg")
        _check_alg(alg)
        kty, crv, x = m.get(KTY), m.get(CRV), m.get(X)
        try:
            pub: ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
            if kty == KTY_EC2 and crv == CRV_P256 and alg in ECDSA_ALGS:
                y = m.get(Y)
                if not (isinstance(x, bytes) and isinstance(y, bytes) and len(x) == len(y) == 32):
                    raise KeyFormatError("EC2 key needs 32-byte x and y", code="key.malformed")
                pub = ec.EllipticCurvePublicNumbers(
                    int.from_bytes(x, "big"), int.from_bytes(y, "big"), ec.SECP256R1()
                ).public_key()
            elif kty == KTY_OKP and crv == CRV_ED25519 and alg in EDDSA_ALGS and Y not in m:
                if not (isinstance(x, bytes) and len(x) == 32):
                    raise KeyFormatError("OKP key needs a 32-byte x", code="key.malformed")
                pub = ed25519.Ed25519PublicKey.from_public_bytes(x)
            else:
                raise KeyFormatError(
                    f"key type {kty!r} / curve {crv!r} does not fit algorithm {alg_name(alg)}",
                    code="key.wrong-type",
                )
        except ValueError as exc:
            if isinstance(exc, KeyFormatError):
                raise
            raise KeyFormatError(f"invalid public key: {exc}", code="key.invalid-point") from None
        out = cls(alg, pub)
        if KID in m and m[KID] != out.kid:
            raise KeyFormatError(
                "kid is not the key's RFC 9679 thumbprint", code="key.kid-mismatch"
            )
        return out

    # -- JWK (RFC 7517, RFC 8037) --------------------------------------------------------

    def jwk(self) -> dict[str, Any]:
        req = self._required()
        common: dict[str, Any] = {"kid": b64url(self.kid), "alg": JOSE_ALG[self.alg], "use": "sig"}
        if self.alg not in (ES256, ED25519):  # the JOSE name alone would read back as these
            common["cose_alg"] = self.alg
        if req[KTY] == KTY_EC2:
            return {"kty": "EC", "crv": "P-256", "x": b64url(req[X]), "y": b64url(req[Y]), **common}
        return {"kty": "OKP", "crv": "Ed25519", "x": b64url(req[X]), **common}

    @classmethod
    def from_jwk(cls, jwk: dict[str, Any], cose_alg: int | None = None) -> PublicKey:
        """Parse a JWK; `cose_alg` (or the `cose_alg` member) picks among COSE aliases."""
        if not isinstance(jwk, dict):
            raise KeyFormatError("a JWK is a JSON object", code="key.malformed")
        kty, crv = jwk.get("kty"), jwk.get("crv")
        alg = cose_alg if cose_alg is not None else jwk.get("cose_alg")
        if kty == "EC" and crv == "P-256":
            cose = {
                KTY: KTY_EC2,
                CRV: CRV_P256,
                X: b64url_decode(jwk.get("x", "")),
                Y: b64url_decode(jwk.get("y", "")),
                ALG: alg if alg is not None else ES256,
            }
        elif kty == "OKP" and crv == "Ed25519":
            cose = {
                KTY: KTY_OKP,
                CRV: CRV_ED25519,
                X: b64url_decode(jwk.get("x", "")),
                ALG: alg if alg is not None else ED25519,
            }
        else:
            raise KeyFormatError(f"unsupported JWK kty={kty!r} crv={crv!r}", code="key.wrong-type")
        out = cls.from_cose_key(cose)
        if "kid" in jwk and jwk["kid"] != b64url(out.kid):
            raise KeyFormatError("JWK kid is not the key's thumbprint", code="key.kid-mismatch")
        return out

    def pem(self) -> bytes:
        return self._key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    # -- verification --------------------------------------------------------------------

    def accepts_alg(self, alg: int) -> bool:
        """Whether a token's `alg` fits this key's pin. Exactly the pin, with one widening:
        a key pinned to EdDSA (-8) before RFC 9864 also accepts Ed25519 (-19), which for an
        Ed25519 key is the same algorithm (RFC 9864 section 2.2), so a device pinned to -8
        keeps working after its software moves to -19. A -19 pin never accepts -8."""
        return alg == self.alg or (self.alg == EDDSA and alg == ED25519)

    def verify(self, signature: bytes, data: bytes) -> None:
        """Check a raw COSE signature (r||s for ECDSA, RFC 9053 section 2.1) over `data`."""
        try:
            if self.alg in ECDSA_ALGS:  # the key type was checked against alg at construction
                if len(signature) != 64:
                    raise SignatureError("ES256 signatures are 64 bytes (r || s)")
                self._key.verify(_der_signature(signature), data, _ECDSA_SHA256)  # type: ignore[call-arg]
            else:
                self._key.verify(signature, data)  # type: ignore[call-arg]
        except InvalidSignature:
            raise SignatureError("signature does not verify with the pinned key") from None


_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())
# The order of the P-256 group (SEC 2 section 2.4.2, FIPS 186-5 D.1.2.3).
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


# n/2 as 32 big-endian bytes: for equal-length big-endian byte strings, bytewise order is
# numeric order, so s <= n/2 is one comparison of bytes (no integer conversion).
_HALF_N = (P256_N // 2).to_bytes(32, "big")


def is_low_s(signature: bytes) -> bool:
    """Whether a raw P-256 r||s signature has s <= n/2 (the one of the pair (r, s),
    (r, n - s) that BIP-146 and EIP-2 call canonical)."""
    return len(signature) == 64 and signature[32:] <= _HALF_N


def low_s(signature: bytes) -> bytes:
    """The low-S form of a raw P-256 r||s signature, for signers that do not normalise
    (a TPM's TPM2_Sign, a secure element): same validity, one encoding."""
    if len(signature) != 64:
        raise SignatureError("ES256 signatures are 64 bytes (r || s)")
    s = int.from_bytes(signature[32:], "big")
    return signature[:32] + min(s, P256_N - s).to_bytes(32, "big")


def _der_integer(v: bytes) -> bytes:
    """A DER INTEGER (X.690 section 8.3) for the unsigned big-endian `v`: minimal, positive."""
    v = v.lstrip(b"\x00")
    if not v or v[0] & 0x80:
        v = b"\x00" + v
    return b"\x02" + bytes((len(v),)) + v


# The DER framing of r and s when neither starts with a zero byte (all but 1 in 128
# signatures): each INTEGER is 32 bytes, or 33 with a 0x00 in front when its top bit is set
# (X.690 section 8.3.2: minimal, and positive). Indexed by (r's top bit) | (s's top bit) << 1:
# (SEQUENCE head + r's INTEGER head, s's INTEGER head).
_DER_FRAMES = tuple(
    (
        bytes((0x30, 0x44 + hi_r + hi_s, 0x02, 0x20 + hi_r)) + b"\x00" * hi_r,
        bytes((0x02, 0x20 + hi_s)) + b"\x00" * hi_s,
    )
    for hi_s in (0, 1)
    for hi_r in (0, 1)
)


def _der_signature(raw: bytes) -> bytes:
    """r||s (RFC 9053 section 2.1) as the Ecdsa-Sig-Value SEQUENCE (RFC 3279 section 2.2.3)."""
    if raw[0] and raw[32]:
        head, mid = _DER_FRAMES[raw[0] >> 7 | raw[32] >> 7 << 1]
        return b"".join((head, raw[:32], mid, raw[32:]))
    body = _der_integer(raw[:32]) + _der_integer(raw[32:])
    return b"\x30" + bytes((len(body),)) + body


@dataclass(frozen=True)
class SigningKey:
    """A private key pinned to one COSE algorithm. Never printed, never logged."""

    alg: int
    _key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey = field(repr=False)
    public: PublicKey = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "public", PublicKey(self.alg, self._key.public_key()))

    @property
    def kid(self) -> bytes:
        return self.public.kid

    @classmethod
    def generate(cls, alg: int = ES256) -> SigningKey:
        """A fresh key from the operating system's CSPRNG (through cryptography)."""
        _check_alg(alg)
        if alg in ECDSA_ALGS:
            return cls(alg, ec.generate_private_key(ec.SECP256R1()))
        return cls(alg, ed25519.Ed25519PrivateKey.generate())

    def sign(self, data: bytes) -> bytes:
        """A raw COSE signature: r||s (32 bytes each) for ECDSA, 64 bytes for Ed25519.

        ECDSA signatures are always low-S (s <= n/2): evidence with a high S is refused
        (attest.evidence.verify_evidence), because (r, n - s) is a second valid signature
        over the same bytes that anyone could make from the device's."""
        if isinstance(self._key, ec.EllipticCurvePrivateKey):
            r, s = decode_dss_signature(self._key.sign(data, ec.ECDSA(hashes.SHA256())))
            return r.to_bytes(32, "big") + min(s, P256_N - s).to_bytes(32, "big")
        return self._key.sign(data)

    def private_pem(self) -> bytes:
        """PKCS#8 PEM, unencrypted: the caller stores it with tight permissions."""
        return self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @classmethod
    def from_private_pem(cls, pem: bytes, alg: int | None = None) -> SigningKey:
        """Load a PKCS#8 PEM; `alg` defaults to ES256 for P-256 and Ed25519 (-19, RFC 9864)
        for Ed25519."""
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError) as exc:
            raise KeyFormatError(f"not a private key PEM: {exc}", code="key.malformed") from None
        if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
            chosen = ES256 if alg is None else alg
            if chosen not in ECDSA_ALGS:
                raise KeyFormatError("a P-256 key signs ES256 or ESP256", code="key.wrong-type")
            return cls(chosen, key)
        if isinstance(key, ed25519.Ed25519PrivateKey):
            chosen = ED25519 if alg is None else alg
            if chosen not in EDDSA_ALGS:
                raise KeyFormatError("an Ed25519 key signs EdDSA or Ed25519", code="key.wrong-type")
            return cls(chosen, key)
        raise KeyFormatError(
            "only P-256 and Ed25519 private keys are supported", code="key.wrong-type"
        )


def public_key_from_pem(pem: bytes, alg: int | None = None) -> PublicKey:
    """Load a SubjectPublicKeyInfo PEM as a pinned PublicKey."""
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError) as exc:
        raise KeyFormatError(f"not a public key PEM: {exc}", code="key.malformed") from None
    if isinstance(key, ec.EllipticCurvePublicKey):
        return PublicKey(ES256 if alg is None else alg, key)
    if isinstance(key, ed25519.Ed25519PublicKey):
        return PublicKey(ED25519 if alg is None else alg, key)
    raise KeyFormatError("only P-256 and Ed25519 public keys are supported", code="key.wrong-type")
