"""Every reason code in verifier.errors.REASONS, triggered for real, as a problem document."""

from __future__ import annotations

import secrets
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from attest import cose
from attest.challenge import Gesture
from attest.ear import Status, verify_ear_cwt
from attest.evidence import (
    AntiClone,
    Consent,
    ConsentMethod,
    DocumentAuth,
    Liveness,
    LivenessMethod,
    MeasuredItem,
    Outcome,
    sign_evidence,
)
from attest.keys import EDDSA, ESP256, SigningKey, b64url, b64url_decode
from attest.sample import sample_evidence
from tests.verifier.conftest import World
from tests.verifier.helpers import evidence, release
from verifier.app import create_app
from verifier.config import parse_config
from verifier.errors import REASONS, ConfigError
from verifier.policy import DEMO_CHALLENGE
from verifier.storage import make_engine, migrate

pytestmark = pytest.mark.xdist_group("verifier-sqlite")


def _fresh(w: World, **body: object) -> tuple[bytes, tuple[Gesture, ...]]:
    ch = w.client.challenge(w.rp, **body)
    return b64url_decode(ch["nonce"]), tuple(Gesture(g) for g in ch["liveness"]["challenge"])


def _submit_ev(w: World, key: SigningKey | None = None, **changes: object) -> httpx.Response:
    nonce, gestures = _fresh(w)
    ev = evidence(nonce, gestures, w.release, **changes)  # type: ignore[arg-type]
    return w.client.submit(sign_evidence(ev, key or w.device))


def _sql(w: World, statement: str, args: tuple[object, ...]) -> None:
    db = sqlite3.connect(w.server.instance / "verifier.db")
    try:
        with db:
            db.execute(statement, args)
    finally:
        db.close()


def _admin(w: World, method: str, path: str, **kw: object) -> httpx.Response:
    c = w.client
    headers = {**c.h(c.admin), **kw.pop("headers", {})}  # type: ignore[dict-item]
    return c.http.request(method, f"{c.base}{path}", headers=headers, **kw)  # type: ignore[arg-type]


def unauthorized(w: World) -> httpx.Response:
    return w.client.http.get(f"{w.client.base}/v1/log/checkpoint")


def forbidden(w: World) -> httpx.Response:
    c = w.client
    return c.http.post(f"{c.base}/v1/devices", json={}, headers=c.h(w.rp))


def not_found(w: World) -> httpx.Response:
    return w.client.http.get(f"{w.client.base}/v1/nothing-here")


def method_not_allowed(w: World) -> httpx.Response:
    return w.client.http.put(f"{w.client.base}/healthz")


def too_large(w: World) -> httpx.Response:
    return w.client.http.post(
        f"{w.client.base}/v1/attestations",
        content=b"\x00" * (16 * 1024 + 1),
        headers={"Content-Type": "application/eat+cwt"},
    )


def unsupported_media_type(w: World) -> httpx.Response:
    c = w.client
    return c.http.post(
        f"{c.base}/v1/attestations", content=w.good(), headers={"Content-Type": "application/json"}
    )


def not_acceptable(w: World) -> httpx.Response:
    """A result asked for in an EAR profile the verifier does not issue (RFC 9782 eat_profile)."""
    c = w.client
    return c.http.post(
        f"{c.base}/v1/attestations",
        content=w.good(),
        headers={
            "Content-Type": "application/eat+cwt",
            "Accept": 'application/eat+cwt; eat_profile="tag:example.org,2020:other"',
        },
    )


def malformed(w: World) -> httpx.Response:
    c = w.client
    return c.http.post(
        f"{c.base}/v1/challenges",
        content=b"{not json",
        headers={**c.h(w.rp), "Content-Type": "application/json"},
    )


def conflict(w: World) -> httpx.Response:
    key = SigningKey.generate()
    w.client.enrol(key, "twice")
    body = {"device_id": "twice", "cose_key": b64url(key.public.cose_key_bytes())}
    return _admin(w, "POST", "/v1/devices", json=body)


def evidence_malformed(w: World) -> httpx.Response:
    return w.client.submit(secrets.token_bytes(200))


def claims_invalid(w: World) -> httpx.Response:
    return w.client.submit(cose.sign1(b"\xa1\x01\x02", w.device))  # {1: 2}: not profile v1


def bad_signature(w: World) -> httpx.Response:
    token = bytearray(w.good())
    token[-1] ^= 0x01
    return w.client.submit(bytes(token))


def alg_not_pinned(w: World) -> httpx.Response:
    # The same P-256 key, but the header claims ESP256 while enrolment pinned ES256.
    other = SigningKey.from_private_pem(w.device.private_pem(), alg=ESP256)
    return _submit_ev(w, key=other)


def device_unknown(w: World) -> httpx.Response:
    return _submit_ev(w, key=SigningKey.generate())


def device_revoked(w: World) -> httpx.Response:
    key = SigningKey.generate()
    w.client.enrol(key, "revoked")
    assert _admin(w, "DELETE", f"/v1/devices/{b64url(key.kid)}").status_code == 200
    return _submit_ev(w, key=key)


def key_retired(w: World) -> httpx.Response:
    key, new = SigningKey.generate(), SigningKey.generate()
    w.client.enrol(key, "rotated")
    body = {"cose_key": b64url(new.public.cose_key_bytes()), "overlap_s": 0}
    assert _admin(w, "POST", f"/v1/devices/{b64url(key.kid)}/rotate", json=body).status_code == 201
    time.sleep(1.1)  # the overlap (0 s) ends at the second of rotation
    return _submit_ev(w, key=key)


def nonce_unknown(w: World) -> httpx.Response:
    _, gestures = _fresh(w)
    return w.client.submit(
        sign_evidence(evidence(secrets.token_bytes(16), gestures, w.release), w.device)
    )


def nonce_expired(w: World) -> httpx.Response:
    nonce, gestures = _fresh(w)
    _sql(w, "UPDATE nonces SET expires_at = expires_at - 3600 WHERE nonce = ?", (nonce,))
    return w.client.submit(sign_evidence(evidence(nonce, gestures, w.release), w.device))


def nonce_replayed(w: World) -> httpx.Response:
    token = w.good()
    assert w.client.submit(token).status_code == 201
    return w.client.submit(token)


def cti_replayed(w: World) -> httpx.Response:
    cti = secrets.token_bytes(16)
    assert _submit_ev(w, cti=cti).status_code == 201
    return _submit_ev(w, cti=cti)


def not_yet_valid(w: World) -> httpx.Response:
    now = int(time.time())
    return _submit_ev(w, iat=now + 600, exp=now + 700)


def ev_expired(w: World) -> httpx.Response:
    now = int(time.time())
    return _submit_ev(w, iat=now - 400, exp=now - 100)


def before_challenge(w: World) -> httpx.Response:
    now = int(time.time())
    return _submit_ev(w, iat=now - 200, exp=now + 50)


def unknown_release(w: World) -> httpx.Response:
    return _submit_ev(w, measurements=release("9.9.9").measurements())


def unknown_model(w: World) -> httpx.Response:
    m = w.release.measurements()
    m[MeasuredItem.EMBEDDING_MODEL] = bytes(32)
    return _submit_ev(w, measurements=m)


def txn_mismatch(w: World) -> httpx.Response:
    # The nonce commits to the transaction, so only a record changed behind the verifier's
    # back can disagree with it; the result must not then echo the changed transaction.
    nonce, gestures = _fresh(w, txn_hash=b64url(bytes(32)))
    _sql(w, "UPDATE nonces SET txn_hash = ? WHERE nonce = ?", (b"\x01" * 32, nonce))
    return w.client.submit(sign_evidence(evidence(nonce, gestures, w.release), w.device))


def commitment_mismatch(w: World) -> httpx.Response:
    nonce, gestures = _fresh(
        w, document_commitment=b64url(bytes(32)), commitment_salt=b64url(b"\x07" * 16)
    )
    ev = evidence(nonce, gestures, w.release, rp_commitment_matched=False)
    return w.client.submit(sign_evidence(ev, w.device))


def doc_not_authenticated(w: World) -> httpx.Response:
    doc = DocumentAuth(Outcome.FAILED, AntiClone.CHIP_AUTHENTICATION, Outcome.PASSED, False)
    return _submit_ev(w, document=doc)


def doc_expired(w: World) -> httpx.Response:
    doc = DocumentAuth(Outcome.PASSED, AntiClone.CHIP_AUTHENTICATION, Outcome.PASSED, True)
    return _submit_ev(w, document=doc)


def liveness_failed(w: World) -> httpx.Response:
    nonce, gestures = _fresh(w)
    lv = Liveness(LivenessMethod.ACTIVE_NONCE, gestures, Outcome.FAILED, 1)
    return w.client.submit(
        sign_evidence(evidence(nonce, gestures, w.release, liveness=lv), w.device)
    )


def wrong_challenge(w: World) -> httpx.Response:
    nonce, gestures = _fresh(w)
    other = tuple(Gesture.SMILE if g is not Gesture.SMILE else Gesture.BLINK for g in gestures)
    return w.client.submit(sign_evidence(evidence(nonce, other, w.release), w.device))


def demo_method(w: World) -> httpx.Response:
    """The production policy refuses the fixed demo liveness method."""
    nonce, _ = _fresh(w)
    ev = evidence(nonce, DEMO_CHALLENGE, w.release, method=LivenessMethod.ACTIVE_FIXED_DEMO)
    return w.client.submit(sign_evidence(ev, w.device))


def consent_missing(w: World) -> httpx.Response:
    return _submit_ev(w, consent=Consent(False, ConsentMethod.SELF_SERVICE))


def manifest_invalid(w: World) -> httpx.Response:
    rogue = release("6.6.6")  # signed by a key the verifier does not trust
    return _admin(
        w,
        "PUT",
        "/v1/reference-values",
        content=rogue.signed,
        headers={"Content-Type": "application/cose"},
    )


def bad_key(w: World) -> httpx.Response:
    return _admin(w, "POST", "/v1/devices", json={"device_id": "x", "cose_key": b64url(b"\xa0")})


def deprecated_alg(w: World) -> httpx.Response:
    """RFC 9864: a new enrolment pinned to the polymorphic EdDSA (-8)."""
    key = SigningKey.generate(EDDSA).public
    return _admin(
        w, "POST", "/v1/devices", json={"device_id": "ed", "cose_key": b64url(key.cose_key_bytes())}
    )


def log_bad_size(w: World) -> httpx.Response:
    c = w.client
    return c.http.get(
        f"{c.base}/v1/log/proof/inclusion",
        params={"index": 10**6},
        headers=c.h(w.auditor),
    )


TRIGGERS: dict[str, Callable[[World], httpx.Response]] = {
    "request.unauthorized": unauthorized,
    "request.forbidden": forbidden,
    "request.not-found": not_found,
    "request.method-not-allowed": method_not_allowed,
    "request.too-large": too_large,
    "request.unsupported-media-type": unsupported_media_type,
    "request.not-acceptable": not_acceptable,
    "request.malformed": malformed,
    "request.conflict": conflict,
    "evidence.malformed": evidence_malformed,
    "evidence.claims-invalid": claims_invalid,
    "evidence.bad-signature": bad_signature,
    "evidence.alg-not-pinned": alg_not_pinned,
    "device.unknown": device_unknown,
    "device.revoked": device_revoked,
    "device.key-retired": key_retired,
    "nonce.unknown": nonce_unknown,
    "nonce.expired": nonce_expired,
    "nonce.replayed": nonce_replayed,
    "evidence.cti-replayed": cti_replayed,
    "evidence.not-yet-valid": not_yet_valid,
    "evidence.expired": ev_expired,
    "evidence.before-challenge": before_challenge,
    "reference.unknown-release": unknown_release,
    "reference.unknown-model": unknown_model,
    "transaction.mismatch": txn_mismatch,
    "commitment.mismatch": commitment_mismatch,
    "document.not-authenticated": doc_not_authenticated,
    "document.expired": doc_expired,
    "liveness.failed": liveness_failed,
    "liveness.wrong-challenge": wrong_challenge,
    "liveness.demo-method": demo_method,
    "consent.missing": consent_missing,
    "manifest.invalid": manifest_invalid,
    "device.bad-key": bad_key,
    "device.deprecated-alg": deprecated_alg,
    "log.bad-size": log_bad_size,
}
# Triggered below without the shared server: a broken database, a bug, a bad configuration.
# Server-side conditions: request.internal and .unavailable below; log.corrupt is
# triggered by tests/audit (a log entry deleted under the verifier).
OTHERS = {"request.internal", "request.unavailable", "config.invalid", "log.corrupt"}
# Findings about genuine, fresh evidence: answered with a signed contraindicated result
# that lists the failed check, not with a problem document (verifier.policy.REFUSING_CHECKS).
SIGNED_FINDINGS = {
    "reference.unknown-release",
    "reference.unknown-model",
    "commitment.mismatch",
    "document.not-authenticated",
    "document.expired",
    "liveness.failed",
    "liveness.wrong-challenge",
    "consent.missing",
}


def test_every_reason_code_has_a_trigger() -> None:
    assert set(TRIGGERS) | OTHERS == set(REASONS)


@pytest.mark.parametrize("code", sorted(TRIGGERS))
def test_reason_code(world: World, code: str) -> None:
    r = TRIGGERS[code](world)
    if code in SIGNED_FINDINGS:
        assert r.status_code == 201, r.text
        doc = r.json()
        assert doc["status"] == "contraindicated"
        failed = [ch for ch in doc["checks"] if ch["outcome"] == "failed"]
        assert failed and failed[0]["code"] == code, failed
        ear = verify_ear_cwt(b64url_decode(doc["ear"]["cwt"]), world.client.keyset())
        assert ear.status is Status.CONTRAINDICATED
        return
    assert r.headers["content-type"] == "application/problem+json", r.text
    doc = r.json()
    assert doc["code"] == code, doc
    assert r.status_code == REASONS[code].status == doc["status"]
    assert doc["type"] == f"urn:edgeproof:problem:{code}"
    assert doc["title"] == REASONS[code].title
    if "checks" in doc:  # appraisal refusals list every check with its outcome
        failed = [ch for ch in doc["checks"] if ch["outcome"] == "failed"]
        assert failed[0]["code"] == code


def _inproc(tmp_path: Path) -> tuple[object, Path]:
    key = tmp_path / "result-key.pem"
    key.write_bytes(SigningKey.generate().private_pem())
    config = parse_config({"instance_path": str(tmp_path)})
    engine = make_engine(config.database_url)
    migrate(engine)
    engine.dispose()
    return create_app(config), tmp_path / "verifier.db"


def test_request_internal_hides_the_trace(tmp_path: Path) -> None:
    app, _ = _inproc(tmp_path)

    def boom() -> None:
        raise RuntimeError("secret internals")

    app.extensions["verifier"].healthy = boom  # type: ignore[attr-defined]
    r = app.test_client().get("/healthz")  # type: ignore[attr-defined]
    assert r.status_code == 500
    assert r.json["code"] == "request.internal"
    assert "secret" not in r.get_data(as_text=True)


def test_request_unavailable_when_the_database_is_broken(tmp_path: Path) -> None:
    app, db = _inproc(tmp_path)
    for p in tmp_path.glob("verifier.db*"):
        p.unlink()
    db.write_bytes(b"this is not a database" * 100)
    app.extensions["verifier"].open_pool()  # type: ignore[attr-defined]  # logs, no raise
    client = app.test_client()  # type: ignore[attr-defined]
    for path in ("/healthz", "/v1/log/checkpoint"):
        r = client.get(path, headers={"Authorization": "Bearer ep_x"})
        assert r.status_code == 503, r.get_data(as_text=True)
        assert r.json["code"] == "request.unavailable"
    # The appraisal's hot path reads through the driver directly (verifier/hotpath.py).
    ev = sample_evidence(nonce=bytes(16), cti=bytes(16), now=int(time.time()))
    token = sign_evidence(ev, SigningKey.generate())
    r = client.post("/v1/attestations", data=token, content_type="application/eat+cwt")
    assert r.status_code == 503, r.get_data(as_text=True)
    assert r.json["code"] == "request.unavailable"


def test_config_invalid(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({"instance_path": str(tmp_path), "polcy": "demo"})
    assert err.value.code == "config.invalid"
    assert "polcy" in err.value.message


def test_docs_list_every_reason_code() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "verifier.md").read_text()
    for code, reason in REASONS.items():
        assert f"| `{code}` | {reason.status} |" in doc, code
