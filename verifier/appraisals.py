"""Submissions and their results: appraise, sign the EAR, commit, answer with the proof.

Why this orchestration is separate from verifier/appraisal.py: that module is pure (a
token, the records it names, the policy, a time: a result); this one does the I/O around
it. Appraisal runs outside any transaction, then ONE write transaction (the committer,
which groups concurrent acceptances) consumes the nonce with a conditional UPDATE, stores
the appraisal and appends it to the log under the log head's lock. Only after COMMIT does
the client hear "accepted", so an acknowledged result is always in the log, and two
replicas can never both consume one nonce.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from attest import ear as earmod
from attest import paths
from attest.challenge import parse_challenge_spec
from attest.evidence import LivenessMethod
from attest.keys import SigningKey, b64url
from attest.keyset import KeySet
from verifier import appraisal as ap
from verifier.committer import Committer, Pending
from verifier.config import RESULT_PROFILES
from verifier.context import Context
from verifier.devices import device_record
from verifier.errors import NotFoundError, VerifierError
from verifier.hotpath import HotPath
from verifier.log import Log
from verifier.policy import Policy
from verifier.references import References
from verifier.storage import Appraisal
from verifier.tokens import Caller


@dataclass
class Appraisals:
    """Takes evidence in (`submit`) and gives results out (`get`, `tlog_proof`)."""

    ctx: Context
    policy: Policy
    result_key: SigningKey
    keyset: KeySet
    hot_reads: HotPath
    committer: Committer
    references: References
    log: Log

    def submit(self, token: bytes, profile: str | None = None) -> dict[str, Any]:
        """Appraise, sign, commit (nonce + appraisal + log entry), answer with the proof.

        `profile`: the EAR profile to issue (attest.ear.PROFILES); the configured one
        (`result_profile`) when None."""
        now = self.ctx.now()
        sub = ap.read(token)  # the one parse: the peek and the appraisal share it
        seen = sub.peek
        with self.hot_reads.connection() as conn:
            rec = self.hot_reads.read(seen.kid, seen.nonce, seen.cti, conn)
        dev, nrow = rec.device, rec.nonce
        result = ap.appraise(
            sub,
            device_record(dev),
            _nonce_record(nrow),
            self.references.current(rec.manifest_count),
            self.policy,
            now,
            cti_seen=rec.cti_seen,
        )
        ev = result.evidence
        if result.refused or ev is None or nrow is None or dev is None:
            raise _refusal(result)
        appraisal_id = uuid.uuid4().hex
        ear = earmod.Ear(
            iat=now,
            status=result.status,
            trust_vector=result.trust_vector,
            policy_id=self.policy.id,
            verifier_build=self.ctx.config.verifier_build,
            nonce=ev.nonce,
            appraisal_id=appraisal_id,
            evidence_digest=result.evidence_digest,
            device_kid=dev.kid,
            decision=ev.decision,
            txn_hash=nrow.txn_hash,
            txn_salt=nrow.txn_salt,
            profile=profile or RESULT_PROFILES[self.ctx.config.result_profile],
        )
        cwt = earmod.sign_ear_cwt(ear, self.result_key)
        jwt = earmod.sign_ear_jwt(ear, self.result_key)
        check_list = [c.to_json() for c in result.checks]
        checks = json.dumps(check_list, separators=(",", ":"))
        row = {
            "id": appraisal_id,
            "created_at": now,
            "device_kid": dev.kid,
            "nonce": ev.nonce,
            "cti": ev.cti,
            "evidence_digest": result.evidence_digest,
            "status": int(result.status),
            "policy_id": self.policy.id,
            "owner_token_id": nrow.owner_token_id,
            "ear_cwt": cwt,
            "ear_jwt": jwt,
            "checks": checks,
            "evidence": token,
        }
        # One transaction: nonce consumption, appraisal and log entry (see committer.py).
        index = self.committer.commit(Pending(row, cwt, now))
        out = self._json(appraisal_id, result.status, ev.decision, cwt, jwt, index, check_list)
        view = self.log.view
        if view.size <= index:  # the commit read at most CATCH_UP leaves: read the rest
            with self.hot_reads.connection() as conn:
                view.extend(self.hot_reads.leaves(conn, view.size, index + 1))
        out["log"] = self.log.inclusion_json(index, index + 1)
        out["tlog_proof_url"] = paths.tlog_proof(appraisal_id)
        return out

    def _json(
        self,
        aid: str,
        status: earmod.Status,
        decision: Any,
        cwt: bytes,
        jwt: str,
        index: int,
        checks: list[dict[str, Any]],
    ) -> dict[str, Any]:
        return {
            "appraisal_id": aid,
            "status": status.label,
            "decision": earmod.DECISION_NAMES[decision] if decision is not None else None,
            "policy_id": self.policy.id,
            "ear": {"cwt": b64url(cwt), "jwt": jwt},
            "log_index": index,
            "checks": checks,
        }

    def _row(self, caller: Caller, appraisal_id: str) -> Appraisal:
        with self.ctx.reader() as s:
            row: Appraisal | None = s.get(Appraisal, appraisal_id)
        # A relying party sees only its own; others' ids look the same as unknown ones.
        if row is None or (
            caller.role == "relying-party" and row.owner_token_id != caller.token_id
        ):
            raise NotFoundError("no such appraisal")
        return row

    def get(self, caller: Caller, appraisal_id: str) -> dict[str, Any]:
        row = self._row(caller, appraisal_id)
        ear = earmod.verify_ear_cwt(row.ear_cwt, self.keyset)
        out = self._json(
            row.id,
            earmod.Status(row.status),
            ear.decision,
            row.ear_cwt,
            row.ear_jwt,
            row.log_index,
            json.loads(row.checks),
        )
        out["policy_id"] = row.policy_id
        out["created_at"] = row.created_at
        if caller.role != "relying-party":  # auditors re-check the device's signature
            out["evidence"] = b64url(row.evidence) if row.evidence is not None else None
        out["tlog_proof"] = self.log.tlog_proof(row.log_index)
        return out

    def tlog_proof(self, caller: Caller, appraisal_id: str) -> str:
        return self.log.tlog_proof(self._row(caller, appraisal_id).log_index)


def _nonce_record(row: Any) -> ap.NonceRecord | None:
    """From a `nonces` row (ORM object or Core row)."""
    if row is None:
        return None
    return ap.NonceRecord(
        nonce=row.nonce,
        issued_at=row.issued_at,
        expires_at=row.expires_at,
        consumed=row.consumed_at is not None,
        liveness_method=LivenessMethod(row.liveness_method),
        challenge=parse_challenge_spec(row.challenge),
        txn_hash=row.txn_hash,
        txn_salt=row.txn_salt,
        commitment=row.commitment,
    )


def _refusal(result: ap.Result) -> VerifierError:
    """A problem carrying the first failure's reason code and every check."""
    first = result.failures[0] if result.failures else None
    code = first.code if first and first.code else "evidence.malformed"
    detail = first.detail if first else "evidence was not accepted"
    return VerifierError(
        detail,
        code=code,
        checks=[c.to_json() for c in result.checks],
        ear_status=result.status.label,
    )
