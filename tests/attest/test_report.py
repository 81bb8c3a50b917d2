"""attest.report.describe: the auditor's view of any token, and the sample evidence."""

from __future__ import annotations

import json

import pytest

from attest import cbor, cose
from attest.ear import sign_ear_cwt
from attest.errors import AttestError
from attest.evidence import REGISTRY, sign_evidence
from attest.keys import EDDSA, SigningKey
from attest.manifest import ReleaseManifest, sign_manifest
from attest.report import describe
from attest.sample import sample_evidence
from tests.attest.conftest import evidence
from tests.attest.test_ear import sample_ear


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey.generate(EDDSA)


def test_evidence_report_names_every_claim(key: SigningKey) -> None:
    token = sign_evidence(evidence(), key)
    r = describe(token, {key.kid: key.public})
    assert r.ok and r.kind == "evidence" and r.signature_valid and not r.findings
    present = set(evidence().to_claims())
    assert [e.name for e in r.claims] == [
        s.name for s in sorted(REGISTRY, key=lambda s: cbor.encode(s.label)) if s.label in present
    ]
    by_name = {e.name: e for e in r.claims}
    assert by_name["decision"].value == {"decision": "match", "score_band": "high"}
    assert by_name["erasure"].text.startswith("148 frames captured, 148 erased")
    assert by_name["eat_nonce"].data_kind == "random bytes from the verifier"
    assert [e.name for e in r.protected] == ["alg", "kid"] and r.unprotected == ()
    json.dumps(r.to_json())  # JSON-ready throughout


def test_other_token_kinds(key: SigningKey) -> None:
    ear = describe(sign_ear_cwt(sample_ear(), key))
    assert ear.ok and ear.kind == "ear"
    m = ReleaseManifest("edgeproof", "0.1.0", {"edge/a.py": b"a" * 32}, {"m.tflite": b"m" * 32})
    man = describe(sign_manifest(m, key))
    assert man.ok and man.kind == "release-manifest"
    other = describe(cose.sign1(cbor.encode({1: "iss"}), key))
    assert not other.ok and other.findings[0].code == "inspect.unknown-profile"
    not_cbor = describe(cose.sign1(b"\xf7", key))
    assert not_cbor.findings[0].code == "cbor.simple-value"


def test_findings_and_signature_problems(key: SigningKey) -> None:
    leaky = cose.sign1(cbor.encode({**evidence().to_claims(), -99999: b"\xff\xd8jpeg"}), key)
    r = describe(leaky)
    assert [f.severity for f in r.privacy_findings] == ["privacy"]
    assert "byte string of 6 bytes" in r.privacy_findings[0].message
    bad = bytearray(sign_evidence(evidence(), key))
    bad[-1] ^= 1
    r = describe(bytes(bad), {key.kid: key.public})
    assert not r.ok and r.signature_checked and not r.signature_valid
    assert r.findings[0].code == "cose.bad-signature"
    r = describe(sign_evidence(evidence(), key), {})
    assert r.findings[0].code == "key.unknown-kid"
    with pytest.raises(AttestError):
        describe(b"\xa0")


def test_sample_is_deterministic_and_typical() -> None:
    a = sample_evidence(nonce=b"n" * 32, cti=b"c" * 16, now=1_790_000_000)
    assert a == sample_evidence(nonce=b"n" * 32, cti=b"c" * 16, now=1_790_000_000)
    assert a.document.authenticated and a.erasure.complete and len(a.measurements) == 4
