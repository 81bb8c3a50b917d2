"""The liveness challenge, derived from the verifier's nonce.

Both sides derive it: the verifier when it issues a nonce (so it can show and later check
the challenge), the device when it films the person. Because the sequence depends on a
fresh nonce, a recording made earlier cannot perform it (ARCHITECTURE.md, step 3).

Derivation (profile v1): SHA-256 over a domain-separation label and the nonce; byte i of
the digest picks step i from the gestures not equal to step i-1, so no gesture repeats
back to back (a held pose would otherwise satisfy two steps).
"""

from __future__ import annotations

import hashlib
from enum import StrEnum

CHALLENGE_LABEL = b"edgeproof liveness challenge v1\x00"
DEFAULT_STEPS = 3
MAX_STEPS = 8


class Gesture(StrEnum):
    """One step of an active liveness challenge; values are the wire names."""

    BLINK = "blink"
    TURN_LEFT = "turn_left"
    TURN_RIGHT = "turn_right"
    SMILE = "smile"


GESTURES: tuple[Gesture, ...] = tuple(Gesture)


def derive_challenge(nonce: bytes, steps: int = DEFAULT_STEPS) -> tuple[Gesture, ...]:
    """The gesture sequence for `nonce`: deterministic, no gesture twice in a row."""
    if not 1 <= steps <= MAX_STEPS:
        raise ValueError(f"a challenge has 1 to {MAX_STEPS} steps, not {steps}")
    digest = hashlib.sha256(CHALLENGE_LABEL + nonce).digest()
    out: list[Gesture] = []
    for i in range(steps):
        choices = [g for g in GESTURES if not out or g != out[-1]]
        out.append(choices[digest[i] % len(choices)])
    return tuple(out)


def challenge_spec(challenge: tuple[Gesture, ...]) -> str:
    """The compact text form used on the CLI and in claims: `blink,turn_left,smile`."""
    return ",".join(g.value for g in challenge)


def parse_challenge_spec(spec: str) -> tuple[Gesture, ...]:
    """Inverse of `challenge_spec`; rejects unknown gestures with a clear message."""
    names = [s.strip() for s in spec.split(",") if s.strip()]
    if not 1 <= len(names) <= MAX_STEPS:
        raise ValueError(f"a challenge has 1 to {MAX_STEPS} steps, got {len(names)}")
    try:
        return tuple(Gesture(n) for n in names)
    except ValueError:
        known = ", ".join(g.value for g in GESTURES)
        raise ValueError(f"unknown gesture in {spec!r}; known gestures: {known}") from None
