"""Drive the pure liveness logic with synthetic meshes, frame by frame."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from attest.challenge import Gesture
from edge.liveness.events import GestureDetectors, GestureEvent, Sample
from edge.liveness.passive import PassiveChecks
from edge.liveness.result import LivenessResult
from edge.liveness.signals import face_signals
from edge.liveness.tracker import ChallengeTracker, Observation
from tests.liveness.synth import frames


def detect(
    poses: list[dict[str, float]], *, missing: Collection[int] = (), noise: float = 0.3
) -> list[GestureEvent]:
    det = GestureDetectors()
    out: list[GestureEvent] = []
    for i, t, lm in frames(poses, noise=noise):
        out += det.update(Sample(i, t, None if i in missing else face_signals(lm)))
    return out


def kinds(events: Sequence[GestureEvent]) -> list[Gesture]:
    return [e.gesture for e in events]


def challenge_run(
    poses: list[dict[str, float]],
    challenge: Sequence[Gesture],
    *,
    missing: Collection[int] = (),
    two_faces: Collection[int] = (),
    other_face: Collection[int] = (),
    finish: bool = True,
) -> tuple[LivenessResult | None, ChallengeTracker, PassiveChecks]:
    det = GestureDetectors()
    tracker = ChallengeTracker(challenge)
    passive = PassiveChecks()
    result = None
    for i, t, lm in frames(poses):
        signals = None if i in missing else face_signals(lm)
        if signals is not None:
            passive.add(lm[:, :2])
        sample = Sample(i, t, signals)
        events = det.update(sample)
        passive_blinks = [e for e in events if e.gesture is Gesture.BLINK]
        for _ in passive_blinks:
            passive.add_blink()
        same = False if i in other_face else (True if i % 10 == 0 else None)
        faces = 0 if signals is None else (2 if i in two_faces else 1)
        result = tracker.update(Observation(sample, faces, same), events)
        if result is not None:
            break
    if result is None and finish:
        result = tracker.finish()
    return result, tracker, passive
