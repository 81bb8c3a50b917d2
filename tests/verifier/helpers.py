"""Test helpers: results checked with independent libraries, and the rig's verifier parts.

The servers (the verifier under gunicorn, the PostgreSQL cluster), the test release, the
evidence builder and the API client are the rig's (rig/verifier.py, rig/postgres.py),
shared with the demo and the benchmarks; they are re-exported here so the tests import
them from one place. PostgresCluster adds the tests' rule: skip (or fail in CI) when
PostgreSQL is missing.
"""

from __future__ import annotations

from typing import Any

import cbor2
import jwt as pyjwt
from pycose.keys.curves import P256
from pycose.keys.ec2 import EC2Key
from pycose.messages.sign1message import Sign1Message

import rig.postgres
from attest.keys import b64url, b64url_decode
from rig.postgres import PG_BIN
from rig.proc import EDGEPROOF, REPO
from rig.verifier import MODELS, Client, Release, VerifierServer, evidence, release
from tests.rig import require_binary

__all__ = [
    "EDGEPROOF",
    "MODELS",
    "REPO",
    "Client",
    "PostgresCluster",
    "Release",
    "VerifierServer",
    "check_with_independent_libraries",
    "evidence",
    "release",
]


def check_with_independent_libraries(keys_doc: dict[str, Any], cwt: bytes, jwt: str) -> None:
    """pycose (COSE), PyJWT and joserfc (JOSE) validate a result with the published JWKS
    alone, and both serialisations match the draft-ietf-rats-ear-04 CDDL."""
    # cbor2 6 decodes a tagged array as a tuple (its maps frozen), which pycose refuses:
    # hand it plain types.
    top = cbor2.loads(cwt)
    assert top.tag == 18
    phdr, uhdr, payload, sig = top.value
    msg = Sign1Message.from_cose_obj([phdr, dict(uhdr), payload, sig], True)
    kid = b64url(next(v for k, v in msg.phdr.items() if getattr(k, "identifier", None) == 4))
    jwk = next(k for k in keys_doc["keys"] if k["kid"] == kid)
    msg.key = EC2Key(crv=P256, x=b64url_decode(jwk["x"]), y=b64url_decode(jwk["y"]))
    assert msg.verify_signature() and msg.payload is not None
    claims = cbor2.loads(msg.payload)
    assert claims[265] == "tag:ietf.org,2026:rats/ear#04"  # draft-ietf-rats-ear-04

    header = pyjwt.get_unverified_header(jwt)
    assert header["kid"] == kid
    key = pyjwt.PyJWKSet.from_dict(keys_doc)[header["kid"]]
    decoded = pyjwt.decode(jwt, key=key.key, algorithms=["ES256"])
    sub = decoded["submods"]["edgeproof-device"]
    assert sub["ear_status"] in ("affirming", "warning")
    assert sub["eat_nonce"] == b64url(claims[266]["edgeproof-device"][10])
    # joserfc too, and both serialisations against draft-ietf-rats-ear-04's CDDL (docs).
    from joserfc import jwt as joserfc_jwt
    from joserfc.jwk import KeySet as JoseKeySet

    from tests.attest.test_ear_interop import SCHEMA, json_as_cbor

    jose = joserfc_jwt.decode(jwt, JoseKeySet.import_key_set(keys_doc), algorithms=["ES256"])  # type: ignore[arg-type]
    assert jose.claims == decoded
    SCHEMA.validate_cbor(msg.payload)
    SCHEMA.validate_cbor(cbor2.dumps(json_as_cbor(decoded)))


class PostgresCluster(rig.postgres.PostgresCluster):
    """The rig's cluster, skipped locally (failed in CI) when PostgreSQL is not installed."""

    def __init__(self) -> None:
        super().__init__(require_binary("initdb", PG_BIN), require_binary("postgres", PG_BIN))
