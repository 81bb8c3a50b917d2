"""Public COSE vectors (tests/vectors: cose-wg/Examples and veraison/go-cose, see SOURCE).

Two layers are checked for every vector:
- the structural layer (`cose.decode_sign1`, RFC 9052 only) plus the signature math
  (`sig_structure` + a signature check), which must reproduce what the vector says;
- the strict profile (`cose.verify_sign1`), which must refuse every one of them, because
  none has the exact `{1: alg, 4: kid}` protected header and an empty unprotected header.
  Each refusal is pinned to its reason code.

Algorithms outside the profile (ES384, ES512, PS256..., Ed448) are checked with
`cryptography` directly over our Sig_structure bytes: that pins our Sig_structure encoding
against independent implementations, even where the profile refuses the algorithm.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from attest import cbor, cose
from attest.errors import AttestError, CoseError, DecodeError, PrivacyError, SignatureError
from attest.evidence import Evidence
from attest.keys import EDDSA, ES256, PublicKey, b64url_decode
from tests.shared import VECTORS, files

pytestmark = pytest.mark.shared("vectors/cose-wg", "vectors/go-cose")
COSE_WG = VECTORS / "cose-wg"
GO_COSE = VECTORS / "go-cose"


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _b(key: dict[str, Any], name: str) -> bytes:
    if name + "_hex" in key:
        return bytes.fromhex(key[name + "_hex"])
    return b64url_decode(key[name])


HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "256": hashes.SHA256,
    "384": hashes.SHA384,
    "512": hashes.SHA512,
}
CURVES: dict[str, Callable[[], ec.EllipticCurve]] = {
    "P-256": ec.SECP256R1,
    "P-384": ec.SECP384R1,
    "P-521": ec.SECP521R1,
}


def independent_verify(key: dict[str, Any], alg: str, signature: bytes, tbs: bytes) -> bool:
    """The signature check with `cryptography` alone, for any algorithm in the vectors."""
    try:
        if key["kty"] == "EC":
            curve = CURVES[key["crv"]]()
            pub = ec.EllipticCurvePublicNumbers(
                int.from_bytes(_b(key, "x"), "big"), int.from_bytes(_b(key, "y"), "big"), curve
            ).public_key()
            n = len(signature) // 2
            der = encode_dss_signature(
                int.from_bytes(signature[:n], "big"), int.from_bytes(signature[n:], "big")
            )
            pub.verify(der, tbs, ec.ECDSA(HASHES[alg[-3:]]()))
        elif key["kty"] == "OKP" and key["crv"] == "Ed25519":
            ed25519.Ed25519PublicKey.from_public_bytes(_b(key, "x")).verify(signature, tbs)
        elif key["kty"] == "OKP" and key["crv"] == "Ed448":
            ed448.Ed448PublicKey.from_public_bytes(_b(key, "x")).verify(signature, tbs)
        elif key["kty"] == "RSA":
            pub_rsa = rsa.RSAPublicNumbers(
                int.from_bytes(_b(key, "e"), "big"), int.from_bytes(_b(key, "n"), "big")
            ).public_key()
            h = HASHES[alg[-3:]]()
            pub_rsa.verify(signature, tbs, padding.PSS(padding.MGF1(h), h.digest_size), h)
        else:  # pragma: no cover - a vector we do not know how to check
            raise AssertionError(f"unknown key {key['kty']}/{key.get('crv')}")
    except InvalidSignature:
        return False
    return True


def our_key(key: dict[str, Any], alg: int) -> PublicKey:
    if key["kty"] == "EC":
        return PublicKey.from_jwk(
            {"kty": "EC", "crv": "P-256", "x": key["x"], "y": key["y"]}, cose_alg=alg
        )
    return PublicKey.from_cose_key({1: 1, -1: 6, -2: _b(key, "x"), 3: alg})


def strict_code(token: bytes, key: PublicKey) -> str:
    with pytest.raises(AttestError) as err:
        cose.verify_sign1(token, lambda kid: key)
    return err.value.code


# -- cose-wg sign1-tests -----------------------------------------------------------------
# file: (structurally decodes, signature math reproduces, strict profile's reason code)
SIGN1_TESTS = {
    # alg only in the unprotected header, protected = h'A0' (an encoded empty map). RFC 9052
    # section 3 accepts that structurally; our profile must not: alg is read only from the
    # protected header (ARCHITECTURE.md, profile v1).
    "sign-pass-01": (True, True, "cose.alg-unprotected"),
    "sign-pass-02": (True, True, "cose.unprotected-not-empty"),  # external AAD; kid unprotected
    "sign-pass-03": (True, True, "cose.not-sign1"),  # untagged: the profile wants tag 18
    "sign-fail-01": (False, False, "cbor.unexpected-tag"),  # tag 998 instead of 18
    "sign-fail-02": (True, False, "cose.unprotected-not-empty"),  # changed payload byte
    "sign-fail-03": (True, False, "cose.unprotected-not-empty"),  # alg -999 in protected
    "sign-fail-04": (True, False, "cose.unprotected-not-empty"),  # alg "unknown" (text)
    "sign-fail-06": (True, False, "cose.unprotected-not-empty"),  # protected ctyp added
    "sign-fail-07": (True, False, "cose.unprotected-not-empty"),  # protected ctyp removed
}


@pytest.mark.parametrize("name", sorted(SIGN1_TESTS))
def test_cose_wg_sign1_tests(name: str) -> None:
    v = load(COSE_WG / "sign1-tests" / f"{name}.json")
    decodes, verifies, code = SIGN1_TESTS[name]
    token = bytes.fromhex(v["output"]["cbor"])
    sign0 = v["input"]["sign0"]
    key = our_key(sign0["key"], ES256)
    external = bytes.fromhex(sign0.get("external", ""))
    if not decodes:
        with pytest.raises(DecodeError) as err:
            cose.decode_sign1(token, require_tag=False)
        assert err.value.code == code
        return
    msg = cose.decode_sign1(token, require_tag=False)
    tbs = msg.to_be_signed(external)
    if name == "sign-pass-01":
        # cose-wg signed before rewriting the protected bucket to h'A0': the vector's
        # to-be-signed bytes carry a zero-length protected string. Our Sig_structure for
        # that (empty) protected header is exactly the vector's, and the signature checks.
        assert msg.protected == {} and msg.unprotected[1] == ES256
        tbs = cose.sig_structure(b"", msg.payload)
        assert tbs.hex().upper() == v["intermediates"]["ToBeSign_hex"]
    elif verifies:  # failing vectors were changed after the intermediates were recorded
        assert tbs.hex().upper() == v["intermediates"]["ToBeSign_hex"]
    if verifies:
        key.verify(msg.signature, tbs)
    else:
        with pytest.raises(SignatureError):
            key.verify(msg.signature, tbs)
    assert strict_code(token, key) == code


def test_sign_fail_03_and_04_name_an_unknown_alg() -> None:
    """With the unprotected bucket out of the way, the reason is the algorithm itself."""
    for name in ("sign-fail-03", "sign-fail-04"):
        msg = cose.decode_sign1(
            bytes.fromhex(load(COSE_WG / "sign1-tests" / f"{name}.json")["output"]["cbor"])
        )
        bare = cose.Sign1(msg.protected_bytes, msg.protected, {}, msg.payload, msg.signature, True)
        with pytest.raises(CoseError) as err:
            cose.check_profile(bare)
        # -999 and "unknown" are not algorithms of the profile; no kid either.
        assert err.value.code == "cose.bad-header"


# -- cose-wg eddsa / ecdsa examples and CWT A.3 ------------------------------------------
EXAMPLES = files(COSE_WG / "eddsa-examples", "*.json") + files(COSE_WG / "ecdsa-examples", "*.json")


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_cose_wg_signature_examples(path: Path) -> None:
    v = load(path)
    token = bytes.fromhex(v["output"]["cbor"])
    if "sign0" not in v["input"]:
        # COSE_Sign (tag 98, several signers) is not a COSE_Sign1: refused by the decoder.
        with pytest.raises(DecodeError) as err:
            cose.decode_sign1(token)
        assert err.value.code == "cbor.unexpected-tag"
        return
    sign0 = v["input"]["sign0"]
    msg = cose.decode_sign1(token)
    tbs = msg.to_be_signed()
    assert tbs.hex().upper() == v["intermediates"]["ToBeSign_hex"]
    assert independent_verify(sign0["key"], sign0["alg"], msg.signature, tbs)
    if sign0["alg"] in ("ES256", "EdDSA") and sign0["key"].get("crv") in ("P-256", "Ed25519"):
        key = our_key(sign0["key"], ES256 if sign0["alg"] == "ES256" else EDDSA)
        key.verify(msg.signature, tbs)
        with pytest.raises(SignatureError):
            key.verify(msg.signature, tbs + b"x")
    # kid in the unprotected header (or ES384/ES512/Ed448): never accepted by the profile.
    with pytest.raises(CoseError):
        cose.check_profile(msg)


def test_cwt_a3_verifies_structurally_and_is_refused_by_the_profile() -> None:
    v = load(COSE_WG / "CWT" / "A_3.json")
    token = bytes.fromhex(v["output"]["cbor"])
    sign0 = v["input"]["sign0"]
    msg = cose.decode_sign1(token)
    assert msg.to_be_signed().hex().upper() == v["intermediates"]["ToBeSign_hex"]
    key = PublicKey.from_cose_key(
        {1: 2, -1: 1, -2: _b(sign0["key"], "x"), -3: _b(sign0["key"], "y"), 3: ES256}
    )
    key.verify(msg.signature, msg.to_be_signed())
    # Protected {1: -7} without a kid: the strict profile names the missing parameter.
    assert strict_code(token, key) == "cose.bad-header"
    # The payload is a deterministic CWT claims set (RFC 8392 A.1) ...
    claims = cbor.decode(msg.payload)
    assert claims[1] == "coap://as.example.com" and claims[7] == bytes.fromhex("0b71")
    # ... whose iss/sub/aud are outside our closed registry: a privacy finding.
    with pytest.raises(PrivacyError) as err:
        Evidence.from_claims(claims)
    assert err.value.code == "claims.unknown-claim"


# -- go-cose ---------------------------------------------------------------------------
GO_VERIFY = files(GO_COSE, "sign1-verify-0*.json")
GO_NEGATIVE = {
    # protected header kept as a map, not a byte string (RFC 9052 section 3)
    "sign1-verify-negative-0000": "cose.bad-header",
    # protected byte string holds an array, not a map
    "sign1-verify-negative-0001": "cose.bad-header",
    # duplicate label in the protected map (RFC 8949 section 5.6, RFC 9052 section 3)
    "sign1-verify-negative-0002": "cose.bad-header",
    # duplicate label in the unprotected map: the strict decoder names it
    "sign1-verify-negative-0003": "cbor.duplicate-key",
}


@pytest.mark.parametrize("path", GO_VERIFY, ids=lambda p: p.stem)
def test_go_cose_verify(path: Path) -> None:
    v = load(path)
    spec = v["sign1::verify"]
    token = bytes.fromhex(spec["taggedCOSESign1"]["cborHex"])
    assert spec["shouldVerify"] is True
    msg = cose.decode_sign1(token)
    tbs = msg.to_be_signed(bytes.fromhex(spec.get("external", "")))
    assert independent_verify(v["key"], v["alg"], msg.signature, tbs)
    assert not independent_verify(v["key"], v["alg"], msg.signature, tbs + b"\x00")
    if v["alg"] == "ES256":
        our_key(v["key"], ES256).verify(msg.signature, tbs)
    with pytest.raises(CoseError):  # unprotected kid / other algorithms: not the profile
        cose.check_profile(msg)


@pytest.mark.parametrize("name", sorted(GO_NEGATIVE))
def test_go_cose_negative(name: str) -> None:
    v = load(GO_COSE / f"{name}.json")
    spec = v["sign1::verify"]
    assert spec["shouldVerify"] is False
    token = bytes.fromhex(spec["taggedCOSESign1"]["cborHex"])
    with pytest.raises(AttestError) as err:
        cose.decode_sign1(token)
    assert err.value.code == GO_NEGATIVE[name]
    with pytest.raises(AttestError):
        cose.verify_sign1(token, lambda kid: our_key(v["key"], ES256))


@pytest.mark.parametrize("path", files(GO_COSE, "sign1-sign-*.json"), ids=lambda p: p.stem)
def test_go_cose_sign_vectors_pin_our_sig_structure(path: Path) -> None:
    v = load(path)
    spec = v["sign1::sign"]
    protected = bytes.fromhex(spec["protectedHeaders"]["cborHex"])
    payload = bytes.fromhex(spec["payload"])
    external = bytes.fromhex(spec.get("external", ""))
    tbs = cose.sig_structure(protected, payload, external)
    assert tbs.hex() == spec["tbsHex"]["cborHex"]
    expected = bytes.fromhex(spec["expectedOutput"]["cborHex"])
    msg = cose.decode_sign1(expected)
    assert msg.protected_bytes == protected and msg.payload == payload
    # The signature part is random (ECDSA, PSS); the rest of the output is fixed, and our
    # deterministic encoder reproduces the whole message byte for byte.
    assert (
        cbor.encode(cbor.Tag(18, [protected, msg.unprotected, payload, msg.signature])) == expected
    )
