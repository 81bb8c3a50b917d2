"""The real app under gunicorn on SQLite: the whole flow, results checked offline."""

from __future__ import annotations

import pytest

from attest import cose
from attest.commitment import transaction_nonce
from attest.ear import (
    EAR_PROFILE,
    LEGACY_PROFILE,
    Status,
    unwrap_cmw,
    verify_ear_cwt,
    verify_ear_jwt,
)
from attest.evidence import AntiClone, DebugStatus, Decision, DocumentAuth, Outcome, ScoreBand
from attest.keys import SigningKey, b64url, b64url_decode
from attest.keyset import KeySet
from attest.merkle import leaf_hash, verify_consistency, verify_inclusion
from tests.verifier.conftest import World
from tests.verifier.helpers import check_with_independent_libraries
from verifier.auditlog import Checkpoint

pytestmark = pytest.mark.xdist_group("verifier-sqlite")


def published_keys(w: World) -> KeySet:
    r = w.client.http.get(f"{w.client.base}/.well-known/edgeproof/keys.json")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/jwk-set+json")
    return KeySet.from_json(r.text)


def test_accepted_result_is_signed_logged_and_checkable_offline(world: World) -> None:
    c = world.client
    r = c.submit(world.good())
    assert r.status_code == 201, r.text
    body = r.json()
    assert r.headers["Location"] == f"/v1/attestations/{body['appraisal_id']}"
    assert body["status"] == "affirming" and body["decision"] == "match"
    assert all(ch["outcome"] in ("passed", "skipped") for ch in body["checks"])

    keys = published_keys(world)
    cwt = b64url_decode(body["ear"]["cwt"])
    ear = verify_ear_cwt(cwt, keys)
    assert verify_ear_jwt(body["ear"]["jwt"], keys) == ear
    assert ear.status is Status.AFFIRMING and ear.decision is Decision.MATCH
    assert ear.policy_id == "edgeproof-production-v1"
    assert ear.device_kid == world.device.kid
    keys_doc = c.http.get(f"{c.base}/.well-known/edgeproof/keys.json").json()
    check_with_independent_libraries(keys_doc, cwt, body["ear"]["jwt"])

    log = body["log"]
    assert b64url_decode(log["leaf_hash"]) == leaf_hash(cwt)
    verify_inclusion(
        leaf_hash(cwt),
        log["index"],
        log["tree_size"],
        [b64url_decode(p) for p in log["inclusion_proof"]],
        b64url_decode(log["root_hash"]),
    )

    # The auditor reads it back, and the relying party that asked for the challenge too.
    for token in (world.auditor, world.rp):
        got = c.http.get(f"{c.base}/v1/attestations/{body['appraisal_id']}", headers=c.h(token))
        assert got.status_code == 200
        assert got.json()["ear"] == body["ear"]
    other_rp = c.token("relying-party")
    got = c.http.get(f"{c.base}/v1/attestations/{body['appraisal_id']}", headers=c.h(other_rp))
    assert got.status_code == 404


def test_result_profiles_media_types_and_cmw(world: World) -> None:
    """draft-ietf-rats-ear-04 by default; Veraison's 2023 profile when Accept names it
    (RFC 9782 eat_profile); GET negotiates the bare token or a record CMW
    (draft-ietf-rats-msg-wrap-23) with the RFC 9782 media types."""
    c = world.client
    keys = published_keys(world)
    r = c.submit(world.good())
    assert r.status_code == 201, r.text
    ear = r.json()["ear"]
    assert ear["profile"] == EAR_PROFILE
    assert ear["media_types"]["jwt"] == f'application/eat+jwt; eat_profile="{EAR_PROFILE}"'
    assert unwrap_cmw(ear["cmw_json"]) == ear["jwt"]
    assert unwrap_cmw(b64url_decode(ear["cmw_cbor"])) == b64url_decode(ear["cwt"])
    url = f"{c.base}/v1/attestations/{r.json()['appraisal_id']}"
    h = c.h(world.auditor)
    got = c.http.get(url, headers={**h, "Accept": "application/eat+cwt"})
    assert got.headers["content-type"] == f'application/eat+cwt; eat_profile="{EAR_PROFILE}"'
    assert got.content == b64url_decode(ear["cwt"])
    got = c.http.get(url, headers={**h, "Accept": "application/eat+jwt"})
    assert got.text == ear["jwt"] and got.headers["content-type"].startswith("application/eat+jwt")
    got = c.http.get(url, headers={**h, "Accept": "application/cmw+json"})
    assert got.headers["content-type"] == "application/cmw+json"
    assert verify_ear_jwt(str(unwrap_cmw(got.text)), keys).profile == EAR_PROFILE
    got = c.http.get(url, headers={**h, "Accept": "application/cmw+cbor"})
    assert got.headers["content-type"] == "application/cmw+cbor"
    assert verify_ear_cwt(bytes(unwrap_cmw(got.content)), keys).profile == EAR_PROFILE  # type: ignore[arg-type]
    assert c.http.get(url, headers={**h, "Accept": "application/json"}).json()["ear"] == ear

    legacy = c.http.post(
        f"{c.base}/v1/attestations",
        content=world.good(),
        headers={
            "Content-Type": "application/eat+cwt",
            "Accept": f'application/eat+jwt; eat_profile="{LEGACY_PROFILE}", application/json',
        },
    )
    assert legacy.status_code == 201, legacy.text
    lear = legacy.json()["ear"]
    assert lear["profile"] == LEGACY_PROFILE
    jwt_claims = verify_ear_jwt(lear["jwt"], keys).to_json_claims()
    assert jwt_claims["submods"]["edgeproof-device"]["ear.appraisal-policy-id"] == (
        "edgeproof-production-v1"
    )
    assert verify_ear_cwt(b64url_decode(lear["cwt"]), keys).profile == LEGACY_PROFILE


def test_warning_tier_and_no_match_are_results_not_errors(world: World) -> None:
    token = world.good(
        decision=Decision.NO_MATCH,
        score_band=ScoreBand.LOW,
        dbgstat=DebugStatus.ENABLED,
        document=DocumentAuth(Outcome.PASSED, AntiClone.NONE, Outcome.NOT_SUPPORTED, False),
    )
    r = world.client.submit(token)
    assert r.status_code == 201, r.text
    ear = verify_ear_cwt(b64url_decode(r.json()["ear"]["cwt"]), published_keys(world))
    keys_doc = world.client.http.get(f"{world.client.base}/.well-known/edgeproof/keys.json").json()
    check_with_independent_libraries(
        keys_doc, b64url_decode(r.json()["ear"]["cwt"]), r.json()["ear"]["jwt"]
    )
    assert ear.status is Status.WARNING
    assert ear.decision is Decision.NO_MATCH
    assert ear.trust_vector.hardware == 32 and ear.trust_vector.sourced_data == 32
    assert ear.trust_vector.instance_identity == 2 and ear.trust_vector.executables == 2


def test_log_checkpoints_are_signed_and_consistent(world: World) -> None:
    c = world.client
    keys = published_keys(world)

    def checkpoint() -> Checkpoint:
        doc = c.http.get(f"{c.base}/v1/log/checkpoint", headers=c.h(world.auditor)).json()
        cp = Checkpoint.decode(cose.verify_sign1(b64url_decode(doc["signed"]), keys).payload)
        assert cp.size == doc["tree_size"] and b64url(cp.root) == doc["root_hash"]
        return cp

    first = checkpoint()
    for _ in range(3):
        assert c.submit(world.good()).status_code == 201
    second = checkpoint()
    assert second.size >= first.size + 3
    proof = c.http.get(
        f"{c.base}/v1/log/proof/consistency",
        params={"first": first.size, "second": second.size},
        headers=c.h(world.auditor),
    ).json()
    verify_consistency(
        first.size,
        second.size,
        [b64url_decode(p) for p in proof["consistency_proof"]],
        first.root,
        second.root,
    )

    # Paged entries: every leaf is a signed EAR that checks with the key set alone.
    seen, start = [], 0
    while True:
        page = c.http.get(
            f"{c.base}/v1/log/entries",
            params={"start": start, "limit": 2},
            headers=c.h(world.auditor),
        ).json()
        seen += page["entries"]
        if page["next"] is None:
            break
        start = page["next"]
    assert [e["index"] for e in seen] == list(range(len(seen)))
    assert len(seen) >= second.size
    for e in seen[: second.size]:
        data = b64url_decode(e["data"])
        verify_ear_cwt(data, keys)
        c.check_included(world.auditor, data, e["index"], second.size, second.root)


def test_roles(world: World) -> None:
    c = world.client
    cases = [
        ("POST", "/v1/devices", world.rp, 403),
        ("POST", "/v1/tokens", world.auditor, 403),
        ("GET", "/v1/log/checkpoint", world.rp, 403),
        ("POST", "/v1/challenges", world.auditor, 403),
        ("GET", "/v1/log/checkpoint", "ep_not-a-token", 401),
        ("GET", "/v1/reference-values", world.auditor, 200),
        ("GET", "/v1/reference-values", world.rp, 403),
    ]
    for method, path, token, status in cases:
        r = c.http.request(method, f"{c.base}{path}", headers=c.h(token), json={})
        assert r.status_code == status, (method, path, r.text)
    r = c.http.get(f"{c.base}/v1/log/checkpoint")
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")


def test_revoked_token_stops_working(world: World) -> None:
    c = world.client
    r = c.http.post(f"{c.base}/v1/tokens", json={"role": "auditor"}, headers=c.h(c.admin))
    tok = r.json()
    assert c.http.get(f"{c.base}/v1/log/checkpoint", headers=c.h(tok["token"])).status_code == 200
    r = c.http.delete(f"{c.base}/v1/tokens/{tok['id']}", headers=c.h(c.admin))
    assert r.status_code == 204
    assert c.http.get(f"{c.base}/v1/log/checkpoint", headers=c.h(tok["token"])).status_code == 401


def test_key_rotation_with_overlap(world: World) -> None:
    c = world.client
    old = SigningKey.generate()
    c.enrol(old, "device-rotating")
    new = SigningKey.generate()
    r = c.http.post(
        f"{c.base}/v1/devices/{b64url(old.kid)}/rotate",
        json={"cose_key": b64url(new.public.cose_key_bytes()), "overlap_s": 600},
        headers=c.h(c.admin),
    )
    assert r.status_code == 201, r.text
    assert r.json()["old"]["replaced_by"] == b64url(new.kid)
    # Within the overlap both keys are accepted.
    for key in (old, new):
        assert c.submit(c.good_token(world.rp, key, world.release)).status_code == 201
    # Revoked keys stay readable for auditors.
    assert c.http.delete(f"{c.base}/v1/devices/{b64url(old.kid)}", headers=c.h(c.admin)).json()[
        "revoked_at"
    ]
    got = c.http.get(f"{c.base}/v1/devices/{b64url(old.kid)}", headers=c.h(world.auditor)).json()
    assert got["revoked_at"] is not None and got["device_id"] == "device-rotating"


def test_transaction_and_commitment_are_bound(world: World) -> None:
    c = world.client
    txn, commitment = bytes(range(32)), bytes(32)
    salt = bytes(range(16))
    ch = c.challenge(
        world.rp,
        txn_hash=b64url(txn),
        document_commitment=b64url(commitment),
        commitment_salt=b64url(salt),
    )
    assert ch["commitment_salt"] == b64url(salt)  # echoed for the device, never stored
    assert "txn_hash" not in ch  # the device needs only the nonce, which commits to it
    db = (world.server.instance / "verifier.db").read_bytes()
    assert salt not in db
    from attest.challenge import Gesture
    from attest.evidence import sign_evidence
    from tests.verifier.helpers import evidence

    ev = evidence(
        b64url_decode(ch["nonce"]),
        tuple(Gesture(g) for g in ch["liveness"]["challenge"]),
        world.release,
        rp_commitment_matched=True,
    )
    r = c.submit(sign_evidence(ev, world.device))
    assert r.status_code == 201, r.text
    ear = verify_ear_cwt(b64url_decode(r.json()["ear"]["cwt"]), published_keys(world))
    assert ear.txn_hash == txn and ear.txn_salt is not None
    assert ear.nonce == ev.nonce == transaction_nonce(ear.txn_salt, txn)


def test_service_endpoints(world: World) -> None:
    c = world.client
    assert c.http.get(f"{c.base}/healthz").json() == {"status": "ok"}
    metrics = c.http.get(f"{c.base}/metrics").text
    assert "edgeproof_verifier_appraisals_total" in metrics
    assert 'outcome="result-affirming"' in metrics
    spec = c.http.get(f"{c.base}/openapi.json").json()
    assert "/v1/attestations" in spec["paths"]
    # The first admin token exists only as a hash in the database.
    db = (world.server.instance / "verifier.db").read_bytes()
    assert world.client.admin.encode() not in db
