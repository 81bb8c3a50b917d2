"""Appraisal policies and the one table that turns check outcomes into an EAR.

A policy is versioned by its id (it goes into every result as `ear.appraisal-policy-id`),
so a relying party can tell which rules a result was appraised under. Two exist:

- `production` (the default): the liveness challenge is derived from the nonce
  (attest.challenge.derive_challenge), and evidence using the fixed demo method is refused
  with reason `liveness.demo-method`.
- `demo`: explicit and never the default; challenges carry one fixed gesture sequence
  (LivenessMethod.ACTIVE_FIXED_DEMO) so a scripted demonstration can perform it. Results
  say `edgeproof-demo-v1`, so nobody can mistake them for production results.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from attest.challenge import Gesture, derive_challenge
from attest.ear import Status, TrustVector
from attest.evidence import LivenessMethod

# The sequence the shared stage clip performs (../shared/data/video, docs/capture-liveness.md):
# `edgeproof demo` replays it. derive_challenge never yields a repeated gesture, so no
# production challenge can coincide with it.
DEMO_CHALLENGE: tuple[Gesture, ...] = (Gesture.TURN_RIGHT, Gesture.TURN_RIGHT)


@dataclass(frozen=True)
class Policy:
    id: str
    liveness_method: LivenessMethod  # the one method this policy issues and accepts
    clock_skew_s: int = 60
    reject_expired_document: bool = True

    def challenge_for(self, nonce: bytes) -> tuple[Gesture, ...]:
        if self.liveness_method is LivenessMethod.ACTIVE_FIXED_DEMO:
            return DEMO_CHALLENGE
        return derive_challenge(nonce)


def policy_named(name: str, clock_skew_s: int = 60) -> Policy:
    if name == "production":
        return Policy("edgeproof-production-v1", LivenessMethod.ACTIVE_NONCE, clock_skew_s)
    if name == "demo":
        return Policy("edgeproof-demo-v1", LivenessMethod.ACTIVE_FIXED_DEMO, clock_skew_s)
    raise ValueError(f"unknown policy {name!r}")


class Outcome(StrEnum):
    PASSED = "passed"
    WARNING = "warning"  # accepted, but lowers the trust tier
    FAILED = "failed"  # the appraisal is refused
    SKIPPED = "skipped"  # not evaluated (an earlier check made it meaningless, or n/a)


class Component(StrEnum):
    """AR4SI trustworthiness claims (draft-ietf-rats-ar4si section 2.3) a check feeds."""

    INSTANCE_IDENTITY = "instance-identity"
    EXECUTABLES = "executables"
    HARDWARE = "hardware"
    SOURCED_DATA = "sourced-data"
    NONE = "none"  # informational (the face-match decision is its own claim)


# THE TABLE (docs/verifier.md, "From checks to an EAR"): each check feeds one component;
# a component's value is the worst over its evaluated checks: passed 2 (affirming),
# warning 32 (warning tier), failed 96 (contraindicated). A component with no evaluated
# check stays 0 (no claim). ear.status is the tier of the worst component.
CHECK_COMPONENT: dict[str, Component] = {
    "structure": Component.INSTANCE_IDENTITY,
    "device-enrolled": Component.INSTANCE_IDENTITY,
    "device-active": Component.INSTANCE_IDENTITY,
    "algorithm-pinned": Component.INSTANCE_IDENTITY,
    "signature": Component.INSTANCE_IDENTITY,
    "claims": Component.INSTANCE_IDENTITY,
    "nonce-known": Component.SOURCED_DATA,
    "nonce-unused": Component.SOURCED_DATA,
    "nonce-fresh": Component.SOURCED_DATA,
    "time-bounds": Component.SOURCED_DATA,
    "cti-unique": Component.SOURCED_DATA,
    "release-measurement": Component.EXECUTABLES,
    "model-measurements": Component.EXECUTABLES,
    "debug-status": Component.HARDWARE,
    "transaction": Component.SOURCED_DATA,
    "commitment": Component.SOURCED_DATA,
    "document-authenticated": Component.SOURCED_DATA,
    "document-valid": Component.SOURCED_DATA,
    "liveness-method": Component.SOURCED_DATA,
    "liveness-challenge": Component.SOURCED_DATA,
    "liveness-result": Component.SOURCED_DATA,
    "consent": Component.SOURCED_DATA,
    "decision": Component.NONE,
}
OUTCOME_VALUE = {Outcome.PASSED: 2, Outcome.WARNING: 32, Outcome.FAILED: 96}

# Checks whose failure means the evidence cannot be attributed to an enrolled device, is not
# fresh, or does not answer this challenge: the submission is refused with a problem
# document, nothing is logged and the nonce stays unused. A failure of any other check is a
# finding about genuine, fresh evidence (unknown software, a cloned or expired document, a
# failed liveness challenge, no consent): it is answered with a signed `contraindicated`
# result and logged, so the relying party holds a signed "no" and auditors see the attempt.
REFUSING_CHECKS = frozenset(
    {
        "structure",
        "device-enrolled",
        "device-active",
        "algorithm-pinned",
        "signature",
        "claims",
        "nonce-known",
        "nonce-unused",
        "nonce-fresh",
        "time-bounds",
        "cti-unique",
        "transaction",
        "liveness-method",
    }
)


def tier(value: int) -> Status:
    """AR4SI tiers (draft-ietf-rats-ar4si section 2.3.3)."""
    if value >= 96:
        return Status.CONTRAINDICATED
    if value >= 32:
        return Status.WARNING
    if value >= 2:
        return Status.AFFIRMING
    return Status.NONE


def trust_from(outcomes: list[tuple[str, Outcome]]) -> tuple[Status, TrustVector]:
    """The table applied: the trust vector and ear.status from named check outcomes."""
    worst: dict[Component, int] = {}
    for name, outcome in outcomes:
        comp = CHECK_COMPONENT[name]
        if comp is Component.NONE or outcome is Outcome.SKIPPED:
            continue
        worst[comp] = max(worst.get(comp, 0), OUTCOME_VALUE[outcome])
    tv = TrustVector(
        instance_identity=worst.get(Component.INSTANCE_IDENTITY, 0),
        executables=worst.get(Component.EXECUTABLES, 0),
        hardware=worst.get(Component.HARDWARE, 0),
        sourced_data=worst.get(Component.SOURCED_DATA, 0),
    )
    return tier(max(worst.values(), default=0)), tv
