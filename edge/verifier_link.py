"""The device's side of the verifier API, over HTTP (docs/verifier.md).

The device asks for a challenge with the field office's relying-party token (the office is
the relying party, or acts for one), and submits signed evidence (the device is
authenticated by its signature, not by a token). It checks what comes back before showing
it: the result's signature against the verifier's published key set, and the log
inclusion proof against the root the verifier claims. Nothing personal is ever sent: the
only body the device posts is the evidence token.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

import httpx

from attest import merkle, paths
from attest.challenge import parse_challenge_spec
from attest.ear import DECISION_NAMES, verify_ear_cwt
from attest.errors import AttestError
from attest.evidence import LivenessMethod
from attest.keys import b64url, b64url_decode
from attest.keyset import KeySet
from edge.queue import DrainReport, EvidenceQueue, SendResult
from edge.session import Challenge, SessionError, Submission, VerifierUnreachableError

EVIDENCE_TYPE = "application/eat+cwt"
_METHODS = {
    "active-nonce": LivenessMethod.ACTIVE_NONCE,
    "active-fixed-demo": LivenessMethod.ACTIVE_FIXED_DEMO,
}


@dataclass
class HttpVerifier:
    base_url: str
    token: str  # relying-party bearer token of the field office
    txn_hash: bytes | None = None
    commitment: tuple[bytes, bytes] | None = None  # (salt, commitment) from the relying party
    timeout_s: float = 10.0

    def __post_init__(self) -> None:
        # One client for the session: building one costs tens of milliseconds (TLS setup).
        self._http = httpx.Client(base_url=self.base_url.rstrip("/"), timeout=self.timeout_s)

    def close(self) -> None:
        self._http.close()

    def _request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        try:
            return self._http.request(method, path, **kw)
        except httpx.TransportError as exc:
            raise VerifierUnreachableError(f"{self.base_url}: {exc}") from None

    @staticmethod
    def _problem(step: str, resp: httpx.Response) -> SessionError:
        try:
            doc = resp.json()
            code, detail = str(doc.get("code", "http")), str(doc.get("detail", resp.reason_phrase))
        except ValueError:
            code, detail = "http", resp.reason_phrase
        return SessionError(step, code, f"verifier answered {resp.status_code}: {detail}")

    def keyset(self) -> KeySet:
        resp = self._request("GET", paths.KEYSET)
        if resp.status_code != 200:
            raise self._problem("result", resp)
        return KeySet.from_json(resp.content)

    def challenge(self) -> Challenge:
        body: dict[str, str] = {}
        if self.txn_hash is not None:
            body["txn_hash"] = b64url(self.txn_hash)
        if self.commitment is not None:
            body["commitment_salt"] = b64url(self.commitment[0])
            body["document_commitment"] = b64url(self.commitment[1])
        resp = self._request(
            "POST", paths.CHALLENGES, json=body, headers={"Authorization": f"Bearer {self.token}"}
        )
        if resp.status_code != 201:
            raise self._problem("challenge", resp)
        doc = resp.json()
        method = _METHODS.get(doc["liveness"]["method"])
        if method is None:
            raise SessionError("challenge", "session.unknown-liveness-method", str(doc["liveness"]))
        return Challenge(
            nonce=b64url_decode(doc["nonce"]),
            expires_at=int(doc["expires_at"]),
            gestures=parse_challenge_spec(",".join(doc["liveness"]["challenge"])),
            liveness_method=method,
            commitment=self.commitment,
        )

    def submit(self, evidence: bytes) -> Submission:
        resp = self._request(
            "POST", paths.ATTESTATIONS, content=evidence, headers={"Content-Type": EVIDENCE_TYPE}
        )
        if resp.status_code != 201:
            raise self._problem("submit", resp)
        doc = resp.json()
        cwt = b64url_decode(doc["ear"]["cwt"])
        try:
            ear = verify_ear_cwt(cwt, self.keyset())
            if ear.evidence_digest != hashlib.sha256(evidence).digest():
                raise SessionError(
                    "result", "session.result-mismatch", "result is for other evidence"
                )
            log = doc["log"]
            merkle.verify_inclusion(
                b64url_decode(log["leaf_hash"]),
                int(log["index"]),
                int(log["tree_size"]),
                [b64url_decode(p) for p in log["inclusion_proof"]],
                b64url_decode(log["root_hash"]),
            )
        except AttestError as exc:
            raise SessionError(
                "result", exc.code, f"the verifier's answer does not check: {exc.message}"
            ) from None
        return Submission(
            appraisal_id=ear.appraisal_id,
            status=ear.status.label,
            decision=DECISION_NAMES[ear.decision] if ear.decision is not None else None,
            log_index=int(doc["log_index"]),
            inclusion_verified=True,
            result_token=cwt,
            reason=_first_reason(doc.get("checks")),
        )


def _first_reason(checks: Any) -> str | None:
    """The reason code of the first check that carries one (verifier/appraisal.py `Check`).

    Shown on the clerk's terminal, so only a well-formed dotted code is taken (no control
    characters or escape sequences from an unsigned part of the answer reach the screen)."""
    if not isinstance(checks, list):
        return None
    for check in checks[:64]:
        code = check.get("code") if isinstance(check, dict) else None
        if isinstance(code, str) and _REASON.fullmatch(code):
            return code
    return None


_REASON = re.compile(r"[a-z][a-z0-9-]{0,30}(\.[a-z0-9-]{1,31}){1,3}")


def flush_queue(
    queue: EvidenceQueue, base_url: str, *, now: int, timeout_s: float = 10.0
) -> DrainReport:
    """Send queued evidence, oldest deadline first; expired entries are dropped and counted.

    Any answer from the verifier, acceptance or refusal, settles an entry: resending a
    refused token would be refused again. Only an unreachable verifier keeps it queued.
    """

    def send(token: bytes) -> SendResult:
        try:
            with httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout_s) as c:
                c.post(paths.ATTESTATIONS, content=token, headers={"Content-Type": EVIDENCE_TYPE})
        except httpx.TransportError:
            return SendResult.UNREACHABLE
        return SendResult.SENT

    return queue.drain(send, now=now)
