"""Results checked by others: independent COSE/JOSE libraries and the draft's CDDL.

- The CWT verifies with pycose 1.1 and the JWT with PyJWT and joserfc, each given only the
  published key set (as in tests/attest/test_interop.py, here for draft-ietf-rats-ear-04
  results and their CMW wrappers).
- The claims match the CDDL of draft-ietf-rats-ear-04 narrowed to what edgeproof emits,
  taken from docs/attestation.md (between the EAR CDDL markers) and compiled with pycddl.
  JSON claims are checked against the same CDDL after mapping the draft's JSON names to
  its CBOR keys (the draft's JC<> pairs, section 9.1) and text values to their codes.
Two more check the JWT: jwcrypto, and npm's `jose` under Node.js (tests/attest/js).
python-cwt is not used: it pins cbor2 < 6 and cannot be installed beside this project.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import cbor2
import jwt as pyjwt
import pycddl  # type: ignore[import-untyped,import-not-found,unused-ignore]
import pytest
from hypothesis import HealthCheck, given, settings
from joserfc import jwt as joserfc_jwt
from joserfc.jwk import KeySet as JoseKeySet

from attest.ear import (
    EAR_PROFILE,
    Ear,
    cmw_cbor,
    cmw_json,
    sign_ear_cwt,
    sign_ear_jwt,
    unwrap_cmw,
)
from attest.keys import SigningKey, b64url, b64url_decode
from tests.attest.test_ear import bound_to, ears, sample_ear
from tests.attest.test_interop import published, pycose_key, pycose_message
from tests.rig import require

DOCS = Path(__file__).resolve().parents[2] / "docs" / "attestation.md"
JS = Path(__file__).resolve().parent / "js"
TIERS = {"none": 0, "affirming": 2, "warning": 32, "contraindicated": 96}
DECISIONS = {"match": 1, "no-match": 2, "inconclusive": 3}
TV = {"instance-identity": 0, "executables": 2, "hardware": 4, "sourced-data": 7}
# draft-ietf-rats-ear-04 section 9.1 (and RFC 9711, ar4si): JSON name -> CBOR key.
TOP = {"eat_profile": 265, "ear_status": 1000, "iat": 6, "exp": 4, "ear_verifier_id": 1004}
TOP |= {"submods": 266, "urn:edgeproof:ear:result": -65601}
APPRAISAL = {"eat_profile": 265, "ear_status": 1000, "ear_trustworthiness_vector": 1001}
APPRAISAL |= {"ear_appraisal_policy_ids": 1003, "eat_nonce": 10}
APPRAISAL |= {"urn:edgeproof:ear:face-match": -65602}
RESULT = {"appraisal_id": 0, "evidence_digest": 1, "device_kid": 2, "txn_hash": 3, "txn_salt": 4}


def draft_cddl() -> str:
    text = DOCS.read_text(encoding="utf-8")
    m = re.search(r"<!-- BEGIN EAR CDDL -->\n```cddl\n(.*?)```\n<!-- END EAR CDDL -->", text, re.S)
    assert m, "docs/attestation.md lost its EAR CDDL block"
    # pycddl 0.6.4 refuses negative ranges; this is the same set of integers.
    return m.group(1).replace("-128 .. 127", "(0 .. 127) / (nint .ge -128)")


SCHEMA = pycddl.Schema(draft_cddl())


def json_as_cbor(claims: dict[str, Any]) -> dict[Any, Any]:
    """The draft's JSON serialisation mapped onto its CBOR one (names to keys, text tiers
    and decisions to codes, base64url to bytes); any unmapped name fails the CDDL."""
    out: dict[Any, Any] = {}
    for k, v in claims.items():
        key = TOP.get(k, k)
        if k == "ear_status":
            v = TIERS[v]
        elif k == "ear_verifier_id":
            v = {0: v["developer"], 1: v["build"]}
        elif k == "urn:edgeproof:ear:result":
            v = {RESULT[n]: x if n == "appraisal_id" else b64url_decode(x) for n, x in v.items()}
        elif k == "submods":
            v = {name: appraisal_as_cbor(a) for name, a in v.items()}
        out[key] = v
    return out


def appraisal_as_cbor(a: dict[str, Any]) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    for k, v in a.items():
        if k == "ear_status":
            v = TIERS[v]
        elif k == "ear_trustworthiness_vector":
            v = {TV[n]: x for n, x in v.items()}
        elif k == "eat_nonce":
            v = b64url_decode(v)
        elif k == "urn:edgeproof:ear:face-match":
            v = {0: DECISIONS[v["decision"]]}
        out[APPRAISAL.get(k, k)] = v
    return out


def check_cddl(ear: Ear) -> None:
    SCHEMA.validate_cbor(cbor2.dumps(ear.to_cbor_claims()))
    SCHEMA.validate_cbor(cbor2.dumps(json_as_cbor(json.loads(json.dumps(ear.to_json_claims())))))


def test_the_cddl_refuses_what_the_draft_refuses() -> None:
    good = sample_ear(**bound_to(b"t" * 32)).to_cbor_claims()
    SCHEMA.validate_cbor(cbor2.dumps(good))
    bad_cases = [
        {**good, 265: "tag:github.com,2023:veraison/ear"},  # another profile
        {**good, 266: {"edgeproof-device": {**good[266]["edgeproof-device"], 1003: "p"}}},
        {**good, 266: {"edgeproof-device": {**good[266]["edgeproof-device"], 1000: 5}}},
        {**good, 266: {"edgeproof-device": {**good[266]["edgeproof-device"], 1001: {0: -129}}}},
        {**good, -65601: 7},  # an extension that is not a map
        {k: v for k, v in good.items() if k != 1004},
    ]
    for bad in bad_cases:
        with pytest.raises(pycddl.ValidationError):
            SCHEMA.validate_cbor(cbor2.dumps(bad))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ears())
def test_every_draft_04_result_matches_the_cddl(ear: Ear) -> None:
    if ear.profile == EAR_PROFILE:
        check_cddl(ear)


@pytest.mark.filterwarnings("ignore:EdDSA is deprecated")
def test_independent_libraries_verify_results_and_their_cmw(any_key: SigningKey) -> None:
    jwks = published(any_key)
    ear = sample_ear(**bound_to(b"t" * 32))
    cwt, jwt = sign_ear_cwt(ear, any_key), sign_ear_jwt(ear, any_key)
    # The CWT, bare and out of its CBOR record CMW, verifies with pycose.
    for token in (cwt, unwrap_cmw(cmw_cbor(cwt))):
        assert isinstance(token, bytes)
        msg = pycose_message(token)
        msg.key = pycose_key(jwks["keys"][0])
        assert msg.verify_signature() and msg.payload is not None
        claims = cbor2.loads(msg.payload)
        assert claims[265] == "tag:ietf.org,2026:rats/ear#04"
        SCHEMA.validate_cbor(msg.payload)
    # The JWT, bare and out of its JSON record CMW, with PyJWT and joserfc.
    for token in (jwt, unwrap_cmw(json.dumps(cmw_json(jwt)))):
        assert isinstance(token, str)
        keyset = pyjwt.PyJWKSet.from_dict(jwks)
        kid = pyjwt.get_unverified_header(token)["kid"]
        claims = pyjwt.decode(token, key=keyset[kid].key, algorithms=["ES256", "EdDSA"])
        assert claims["submods"]["edgeproof-device"]["ear_status"] == "affirming"
        jose_keys = JoseKeySet.import_key_set(jwks)  # type: ignore[arg-type]
        result = joserfc_jwt.decode(token, jose_keys, algorithms=["ES256", "EdDSA"])
        assert result.claims == claims == ear.to_json_claims()
        SCHEMA.validate_cbor(cbor2.dumps(json_as_cbor(claims)))


@pytest.mark.filterwarnings("ignore:EdDSA is deprecated")
def test_jwcrypto_and_npm_jose_verify_results(any_key: SigningKey, tmp_path: Path) -> None:
    """Two more JOSE implementations a relying party might use: Python's jwcrypto, and
    npm's `jose` in Node.js (tests/attest/js, pinned by its package-lock.json), each given
    only the published key set."""
    from jwcrypto import jwk as jwcrypto_jwk
    from jwcrypto import jwt as jwcrypto_jwt

    jwks = published(any_key)
    ear = sample_ear(**bound_to(b"t" * 32))
    token = sign_ear_jwt(ear, any_key)
    keyset = jwcrypto_jwk.JWKSet.from_json(json.dumps(jwks))
    checked = jwcrypto_jwt.JWT(jwt=token, key=keyset, algs=["ES256", "EdDSA"])
    assert json.loads(checked.claims) == ear.to_json_claims()

    node = shutil.which("node")
    require(node is not None, "Node.js (Debian package nodejs)")
    require((JS / "node_modules" / "jose").is_dir(), "npm ci --prefix tests/attest/js")
    assert node is not None
    (tmp_path / "jwks.json").write_text(json.dumps(jwks))
    (tmp_path / "ear.jwt").write_text(token)
    run = [node, str(JS / "verify_jwt.mjs"), str(tmp_path / "jwks.json")]
    ok = subprocess.run([*run, str(tmp_path / "ear.jwt")], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["claims"] == ear.to_json_claims()
    # A changed claim must fail there too, or the check would prove nothing.
    head, body, sig = token.split(".")
    claims = json.loads(b64url_decode(body))
    claims["iat"] += 1
    forged = ".".join([head, b64url(json.dumps(claims).encode()), sig])
    (tmp_path / "forged.jwt").write_text(forged)
    bad = subprocess.run([*run, str(tmp_path / "forged.jwt")], capture_output=True, text=True)
    assert bad.returncode == 1 and "signature verification failed" in bad.stderr
