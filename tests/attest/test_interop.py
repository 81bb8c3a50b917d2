"""Interoperability: what attest signs verifies with independent implementations, using
only what a relying party has, the published key set (JWKS from attest.keyset).

- COSE: pycose 1.1 (python-cwt cannot be installed: it pins cbor2 < 6). pycose's own
  `CoseMessage.decode` fails under cbor2 6, which returns tagged arrays as tuples; the
  test decodes the outer array with cbor2 and hands the four parts to pycose's
  `Sign1Message.from_cose_obj`, which rebuilds the Sig_structure and checks the signature
  itself. The reverse direction (pycose signs, attest verifies) is checked too.
- JOSE: PyJWT and joserfc verify the JWT results.
"""

from __future__ import annotations

from typing import Any

import cbor2
import jwt as pyjwt
import pytest
from joserfc import jwt as joserfc_jwt
from joserfc.jwk import KeySet as JoseKeySet
from pycose.algorithms import EdDSA as PycoseEdDSA
from pycose.algorithms import Es256 as PycoseEs256
from pycose.headers import KID, Algorithm
from pycose.keys.cosekey import CoseKey
from pycose.keys.curves import P256, Ed25519
from pycose.keys.keyparam import (
    EC2KpCurve,
    EC2KpD,
    EC2KpX,
    EC2KpY,
    KpKty,
    OKPKpCurve,
    OKPKpD,
    OKPKpX,
)
from pycose.keys.keytype import KtyEC2, KtyOKP
from pycose.messages.sign1message import Sign1Message

from attest import cose
from attest.ear import sign_ear_cwt, sign_ear_jwt
from attest.errors import AttestError
from attest.evidence import Evidence, sign_evidence, verify_evidence
from attest.keys import ES256, P256_N, SigningKey, b64url_decode, low_s
from attest.keyset import KeySet
from tests.attest.conftest import evidence
from tests.attest.test_ear import bound_to, sample_ear


def published(key: SigningKey) -> dict[str, Any]:
    """The relying party's view: the verifier's key set as JSON, nothing else."""
    doc: dict[str, Any] = KeySet.of([key.public]).to_json()
    return doc


def pycose_key(jwk: dict[str, Any]) -> CoseKey:
    if jwk["kty"] == "EC":
        return CoseKey.from_dict(
            {
                KpKty: KtyEC2,
                EC2KpCurve: P256,
                EC2KpX: b64url_decode(jwk["x"]),
                EC2KpY: b64url_decode(jwk["y"]),
            }
        )
    return CoseKey.from_dict({KpKty: KtyOKP, OKPKpCurve: Ed25519, OKPKpX: b64url_decode(jwk["x"])})


def pycose_message(token: bytes) -> Sign1Message:
    top = cbor2.loads(token)
    assert top.tag == 18  # tagged COSE_Sign1 (RFC 9052 section 2)
    protected, unprotected, payload, signature = top.value
    msg: Sign1Message = Sign1Message.from_cose_obj(
        [protected, dict(unprotected), payload, signature], True
    )
    return msg


def test_pycose_verifies_evidence_and_results(any_key: SigningKey) -> None:
    jwk = published(any_key)["keys"][0]
    for token in (sign_evidence(evidence(), any_key), sign_ear_cwt(sample_ear(), any_key)):
        msg = pycose_message(token)
        msg.key = pycose_key(jwk)
        assert msg.verify_signature()
        assert msg.phdr[KID] == b64url_decode(jwk["kid"])
        tampered = pycose_message(token)
        tampered.payload = token[-80:]  # any other payload
        tampered.key = pycose_key(jwk)
        assert not tampered.verify_signature()
    # The claims pycose saw are the claims attest decodes.
    msg = pycose_message(sign_evidence(evidence(), any_key))
    assert msg.payload is not None and Evidence.decode(msg.payload) == evidence()


def test_attest_verifies_what_pycose_signs(any_key: SigningKey) -> None:
    jwk = any_key.public.jwk()
    d = any_key._key.private_bytes_raw() if any_key.alg != ES256 else None  # type: ignore[union-attr]
    key: CoseKey
    alg: type[PycoseEs256] | type[PycoseEdDSA]
    if any_key.alg == ES256:
        priv = any_key._key.private_numbers().private_value.to_bytes(32, "big")  # type: ignore[union-attr]
        key = CoseKey.from_dict(
            {
                KpKty: KtyEC2,
                EC2KpCurve: P256,
                EC2KpX: b64url_decode(jwk["x"]),
                EC2KpY: b64url_decode(jwk["y"]),
                EC2KpD: priv,
            }
        )
        alg = PycoseEs256
    else:
        key = CoseKey.from_dict(
            {KpKty: KtyOKP, OKPKpCurve: Ed25519, OKPKpX: b64url_decode(jwk["x"]), OKPKpD: d}
        )
        alg = PycoseEdDSA
    payload = evidence().encode()
    msg = Sign1Message(phdr={Algorithm: alg, KID: any_key.kid}, payload=payload)
    msg.key = key
    token = msg.encode()
    if any_key.alg == ES256:
        # pycose does not normalise S; evidence is low-S only (docs/attestation.md): check
        # both forms of pycose's signature, the low one accepted, the high one refused.
        sig = token[-64:]
        low = token[:-64] + low_s(sig)
        high = low[:-32] + (P256_N - int.from_bytes(low[-32:], "big")).to_bytes(32, "big")
        with pytest.raises(AttestError) as err:
            verify_evidence(high, {any_key.kid: any_key.public})
        assert err.value.code == "cose.high-s"
        token = low
    ev, checked = verify_evidence(token, {any_key.kid: any_key.public})
    assert ev == evidence() and checked.kid == any_key.kid
    assert cose.decode_sign1(token).protected == {1: any_key.alg, 4: any_key.kid}


# joserfc warns that the polymorphic JOSE "EdDSA" is deprecated by RFC 9864 (in favour of
# "Ed25519"); attest still emits "EdDSA", which every JOSE library here accepts.
@pytest.mark.filterwarnings("ignore:EdDSA is deprecated")
def test_pyjwt_and_joserfc_verify_jwt_results(any_key: SigningKey) -> None:
    jwks = published(any_key)
    ear = sample_ear(**bound_to(b"t" * 32))
    token = sign_ear_jwt(ear, any_key)
    algorithms = ["ES256", "EdDSA"]

    keyset = pyjwt.PyJWKSet.from_dict(jwks)
    kid = pyjwt.get_unverified_header(token)["kid"]
    claims = pyjwt.decode(token, key=keyset[kid].key, algorithms=algorithms)
    assert claims == ear.to_json_claims()
    with pytest.raises(pyjwt.InvalidSignatureError):
        pyjwt.decode(
            token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"),
            key=keyset[kid].key,
            algorithms=algorithms,
        )

    jose_keys = JoseKeySet.import_key_set(jwks)  # type: ignore[arg-type]  # a JWKS dict
    result = joserfc_jwt.decode(token, jose_keys, algorithms=algorithms)
    assert result.claims == ear.to_json_claims()
    assert result.header["typ"] == "eat+jwt"
    head, _body, sig = token.split(".")
    forged_body = pyjwt.utils.base64url_encode(b'{"iat":1}').decode()
    with pytest.raises(Exception) as err:  # joserfc's BadSignatureError
        joserfc_jwt.decode(f"{head}.{forged_body}.{sig}", jose_keys, algorithms=algorithms)
    assert "signature" in type(err.value).__name__.lower() or "signature" in str(err.value).lower()
