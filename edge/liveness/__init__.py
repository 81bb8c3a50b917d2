"""Liveness: a nonce-derived active challenge and passive replay checks, on the device.

Layers, each usable alone: `signals` (per-frame measurements from the 468-point mesh),
`events` (gesture detectors with hysteresis), `tracker` (the challenge state machine),
`passive` and `pad` (presentation-attack cues and their fusion), `evaluate` (APCER, BPCER,
blink figures on labelled recordings), all pure numpy; `iris` (the eyelid model) and
`engine` run over frames with the edge.face models; `cli` is `edgeproof liveness`.
Importing this package loads no model. Code outside edge/liveness imports the names below
and nothing deeper (tests/test_architecture.py).
See docs/capture-liveness.md.
"""

from edge.liveness.engine import (
    AnalysisReport,
    EngineConfig,
    FaceModels,
    LivenessEngine,
    run_check,
)
from edge.liveness.errors import LandmarkError, LivenessError, PolicyError
from edge.liveness.events import GestureEvent, SignalPolicy
from edge.liveness.passive import PassivePolicy, PassiveVerdict, Verdict
from edge.liveness.prompts import Overlay, Prompt, PublishingOverlay, TextOverlay
from edge.liveness.result import METHOD, LivenessResult, Outcome, Reason
from edge.liveness.tracker import ChallengePolicy

__all__ = [
    "METHOD",
    "AnalysisReport",
    "ChallengePolicy",
    "EngineConfig",
    "FaceModels",
    "GestureEvent",
    "LandmarkError",
    "LivenessEngine",
    "LivenessError",
    "LivenessResult",
    "Outcome",
    "Overlay",
    "PassivePolicy",
    "PassiveVerdict",
    "PolicyError",
    "Prompt",
    "PublishingOverlay",
    "Reason",
    "SignalPolicy",
    "TextOverlay",
    "Verdict",
    "run_check",
]
