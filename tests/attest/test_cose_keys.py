"""COSE_Sign1 under the strict profile (RFC 9052), keys (RFC 9052 section 7, RFC 9679),
JWK (RFC 7517, RFC 8037), and the key set: every reason code."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from attest import cbor, cose
from attest.errors import (
    AttestError,
    CoseError,
    KeyFormatError,
    SignatureError,
    UnknownKeyError,
)
from attest.keys import (
    ED25519,
    EDDSA,
    ES256,
    ESP256,
    PublicKey,
    SigningKey,
    _der_signature,
    b64url,
    b64url_decode,
    public_key_from_pem,
)
from attest.keyset import KeySet


def build(
    key: SigningKey,
    protected: dict[Any, Any] | bytes | None = None,
    unprotected: Any = None,
    payload: Any = b"payload",
    tag: int | None = 18,
) -> bytes:
    """A COSE_Sign1 with the given buckets, correctly signed over them."""
    if protected is None:
        protected = {1: key.alg, 4: key.kid}
    pb = protected if isinstance(protected, bytes) else cbor.encode(protected)
    body = payload if isinstance(payload, bytes) else b""
    sig = key.sign(cose.sig_structure(pb, body))
    arr = [pb, {} if unprotected is None else unprotected, payload, sig]
    return cbor.encode(cbor.Tag(tag, arr) if tag is not None else arr)


def code_of(token: bytes, keys: Any) -> str:
    with pytest.raises(AttestError) as err:
        cose.verify_sign1(token, keys)
    return err.value.code


def test_profile_tokens_verify(any_key: SigningKey) -> None:
    keys = {any_key.kid: any_key.public}
    token = cose.sign1(b"hello", any_key)
    msg = cose.verify_sign1(token, keys)
    assert msg.payload == b"hello" and msg.alg == any_key.alg and msg.kid == any_key.kid
    # The general path (built by hand) and the byte-layout fast path give the same message.
    assert build(any_key, payload=b"hello")[:-64] == token[:-64]
    by_hand = build(any_key, payload=b"hello")
    assert cose.verify_sign1(by_hand, keys) == cose.decode_sign1(by_hand)
    assert cose._LAYOUT.match(token) is not None  # the profile's tokens take the fast path
    assert cose.verified_in_layout(token, keys) == cose.decode_sign1(token)


@pytest.mark.parametrize("size", [0, 1, 23, 24, 255, 256, 1000, 10_000])
def test_payload_sizes_on_both_paths(es256_key: SigningKey, size: int) -> None:
    token = cose.sign1(bytes(size), es256_key)
    assert cose.verify_sign1(token, {es256_key.kid: es256_key.public}).payload == bytes(size)
    slow = cose.decode_sign1(token)
    assert slow.payload == bytes(size) and cose.check_profile(slow) == (ES256, es256_key.kid)


def test_profile_reason_codes(es256_key: SigningKey, eddsa_key: SigningKey) -> None:
    k = es256_key
    keys = {k.kid: k.public, eddsa_key.kid: eddsa_key.public}
    cases = {
        "cose.not-sign1": [
            build(k, tag=None),
            cbor.encode(cbor.Tag(18, [b"", {}, b"x"])),
            cbor.encode(cbor.Tag(18, [b"", {}, b"x", "sig"])),
            cbor.encode(cbor.Tag(18, [b"", {}, "text payload", b"s"])),
        ],
        "cose.bad-header": [
            build(k, protected={1: ES256}),
            build(k, protected={1: ES256, 4: k.kid, 3: 0}),
            build(k, protected=b"\x80"),  # encodes an array
            build(k, protected=b"\xa1\x01"),  # not CBOR
            cbor.encode(cbor.Tag(18, [{1: -7}, {}, b"x", b"s"])),
            build(k, unprotected=[]),
        ],
        "cose.alg-unprotected": [build(k, protected=b"", unprotected={1: ES256, 4: k.kid})],
        "cose.unprotected-not-empty": [build(k, unprotected={5: b"iv"})],
        "cose.crit-unsupported": [build(k, protected={1: ES256, 2: [99], 4: k.kid})],
        "cose.unsupported-alg": [build(k, protected={1: -35, 4: k.kid})],
        "cose.bad-kid": [build(k, protected={1: ES256, 4: k.kid[:16]})],
        "cose.detached-payload": [build(k, payload=None)],
        "cose.alg-not-pinned": [build(k, protected={1: ESP256, 4: k.kid})],
        "key.unknown-kid": [cose.sign1(b"x", SigningKey.generate(ES256))],
        "cose.bad-signature": [
            cose.sign1(b"x", k)[:-1] + bytes([cose.sign1(b"x", k)[-1] ^ 1]),
            cose.sign1(b"x", k).replace(b"\x41x", b"\x41y"),
        ],
        "cbor.unexpected-tag": [build(k, tag=98)],
    }
    for code, tokens in cases.items():
        for token in tokens:
            assert code_of(token, keys) == code, (code, token.hex())


def test_alg_confusion_between_keys(es256_key: SigningKey, eddsa_key: SigningKey) -> None:
    # A token whose header claims EdDSA, for a kid pinned to ES256, is refused before any
    # signature check (RFC 9052 section 3.1 leaves alg choice to the application).
    forged = build(es256_key, protected={1: EDDSA, 4: es256_key.kid})
    assert code_of(forged, {es256_key.kid: es256_key.public}) == "cose.alg-not-pinned"
    # An ESP256 / Ed25519 pinned key signs and verifies under its fully specified alg.
    for alg in (ESP256, ED25519):
        key = SigningKey.generate(alg)
        assert cose.verify_sign1(cose.sign1(b"x", key), {key.kid: key.public}).alg == alg


def test_key_lookup_callable_and_unknown(es256_key: SigningKey) -> None:
    token = cose.sign1(b"x", es256_key)
    assert cose.verify_sign1(token, KeySet.of([es256_key.public])).payload == b"x"
    with pytest.raises(UnknownKeyError) as err:
        cose.verify_sign1(token, {})
    assert isinstance(err.value, LookupError)


def test_signature_errors_are_cose_errors(es256_key: SigningKey) -> None:
    with pytest.raises(SignatureError) as err:
        es256_key.public.verify(b"\x00" * 63, b"data")
    assert isinstance(err.value, CoseError) and isinstance(err.value, ValueError)


# -- keys ---------------------------------------------------------------------------------


def test_kid_is_the_rfc9679_thumbprint() -> None:
    # RFC 9679 section 6 example: the thumbprint of that EC2 P-256 key.
    x = bytes.fromhex("65eda5a12577c2bae829437fe338701a10aaa375e1bb5b5de108de439c08551d")
    y = bytes.fromhex("1e52ed75701163f7f9e40ddf9f341b3dc9ba860af7e0ca7ca7e9eecd0084d19c")
    key = PublicKey.from_cose_key({1: 2, -1: 1, -2: x, -3: y, 3: ES256})
    assert key.kid.hex() == "496bd8afadf307e5b08c64b0421bf9dc01528a344a43bda88fadd1669da253ec"


def test_cose_key_round_trips(any_key: SigningKey) -> None:
    pub = any_key.public
    assert PublicKey.from_cose_key(pub.cose_key_bytes()) == pub
    assert PublicKey.from_jwk(pub.jwk()) == pub
    assert PublicKey.from_jwk(json.loads(json.dumps(pub.jwk())), cose_alg=pub.alg) == pub
    assert public_key_from_pem(pub.pem(), pub.alg) == pub
    again = SigningKey.from_private_pem(any_key.private_pem(), any_key.alg)
    assert again.kid == any_key.kid
    assert "private" not in repr(any_key).lower() or "_key" not in repr(any_key)


def test_key_reason_codes(es256_key: SigningKey, eddsa_key: SigningKey) -> None:
    ck = es256_key.public.cose_key()
    okp = eddsa_key.public.cose_key()
    bad: dict[str, list[Any]] = {
        "key.malformed": [
            cbor.encode([1]),
            {**ck, 99: 1},
            {**ck, -2: b"short"},
            {**okp, -2: b"short"},
        ],
        "key.no-alg": [{k: v for k, v in ck.items() if k != 3}, {**ck, 3: "ES256"}],
        "key.unsupported-alg": [{**ck, 3: -35}],
        "key.wrong-type": [{**ck, 3: EDDSA}, {**okp, 3: ES256}, {**ck, -1: 2}],
        "key.invalid-point": [{**ck, -3: bytes(32)}],
        "key.kid-mismatch": [{**ck, 2: bytes(32)}],
    }
    for code, items in bad.items():
        for item in items:
            with pytest.raises(KeyFormatError) as err:
                PublicKey.from_cose_key(item)
            assert err.value.code == code, (code, item)


def test_pem_and_jwk_reason_codes(es256_key: SigningKey) -> None:
    other_curve = ec.generate_private_key(ec.SECP384R1())
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    ed448_key = ed448.Ed448PrivateKey.generate()
    pkcs8 = serialization.PrivateFormat.PKCS8
    none = serialization.NoEncryption()
    for pem in (
        b"not a pem",
        rsa_key.private_bytes(serialization.Encoding.PEM, pkcs8, none),
        ed448_key.private_bytes(serialization.Encoding.PEM, pkcs8, none),
        other_curve.private_bytes(serialization.Encoding.PEM, pkcs8, none),
    ):
        with pytest.raises(KeyFormatError):
            SigningKey.from_private_pem(pem)
    with pytest.raises(KeyFormatError) as err:
        SigningKey.from_private_pem(es256_key.private_pem(), EDDSA)
    assert err.value.code == "key.wrong-type"
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    with pytest.raises(KeyFormatError):
        public_key_from_pem(rsa_key.public_key().public_bytes(serialization.Encoding.PEM, spki))
    with pytest.raises(KeyFormatError) as err:
        public_key_from_pem(other_curve.public_key().public_bytes(serialization.Encoding.PEM, spki))
    assert err.value.code == "key.wrong-type"
    jwk = es256_key.public.jwk()
    for broken, code in [
        ({**jwk, "kty": "RSA"}, "key.wrong-type"),
        ({**jwk, "x": jwk["x"] + "="}, "key.bad-base64url"),
        ({**jwk, "x": "!!"}, "key.bad-base64url"),
        ({**jwk, "kid": "AAAA"}, "key.kid-mismatch"),
    ]:
        with pytest.raises(KeyFormatError) as err:
            PublicKey.from_jwk(broken)
        assert err.value.code == code
    with pytest.raises(KeyFormatError):
        SigningKey.generate(-35)


def test_b64url_is_strict() -> None:
    assert b64url(b"\xff\xfe") == "__4"
    assert b64url_decode("__4") == b"\xff\xfe"
    for bad in ("__4=", "_", "a+b/", "__5"):
        with pytest.raises(KeyFormatError):
            b64url_decode(bad)


def test_keyset_round_trip_and_reason_codes(es256_key: SigningKey, eddsa_key: SigningKey) -> None:
    ks = KeySet.of([es256_key.public], retiring=[eddsa_key.public])
    back = KeySet.from_json(ks.dumps())
    assert back == ks
    assert back(eddsa_key.kid) == eddsa_key.public
    doc = ks.to_json()
    assert {k["status"] for k in doc["keys"]} == {"current", "retiring"}
    with pytest.raises(KeyFormatError) as err:
        KeySet.of([es256_key.public, es256_key.public])
    assert err.value.code == "keyset.duplicate-kid"
    for broken in ("{", "[]", {"keys": [1]}, {"keys": [{**doc["keys"][0], "status": "old"}]}):
        with pytest.raises(KeyFormatError) as err:
            KeySet.from_json(broken)
        assert err.value.code == "keyset.malformed"
    with pytest.raises(UnknownKeyError):
        ks(bytes(32))


def test_der_signature_matches_cryptography() -> None:
    """r||s to DER (RFC 3279 section 2.2.3): the fixed-frame fast case and the general one."""
    rnd = random.Random(5)
    cases = [rnd.randbytes(64) for _ in range(2000)]
    for r0 in (0x00, 0x01, 0x7F, 0x80, 0xFF):
        for s0 in (0x00, 0x01, 0x7F, 0x80, 0xFF):
            for fill in (0x00, 0x80):
                c = bytearray([fill] * 64)
                c[0], c[32] = r0, s0
                cases.append(bytes(c))
    for raw in cases:
        r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
        assert _der_signature(raw) == encode_dss_signature(r, s), raw.hex()


def test_payload_head_must_fit_the_token(es256_key: SigningKey) -> None:
    """A token in the profile's layout whose payload head lies takes the general path."""
    keys = {es256_key.kid: es256_key.public}
    token = bytearray(cose.sign1(b"x" * 100, es256_key))
    assert token[43:45] == b"\x58\x64"
    for length in (99, 101):
        token[44] = length
        assert cose._LAYOUT.match(token) is not None
        assert cose.verified_in_layout(bytes(token), keys) is None
        assert code_of(bytes(token), keys).startswith("cbor.")
