"""Frames in, liveness out: detection and mesh (edge.face), signals, gestures, challenge,
passive checks and the same-face check, one frame at a time.

The engine does not own frames: it reads each frame's pixels while `process` runs and
keeps nothing of them. What it derives and keeps for the length of a session (one
reference mesh for the passive check, one anchor embedding for the same-face check) is
wiped by `wipe()`, which `run_check` calls in `finally`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Protocol

import numpy as np

from attest.challenge import Gesture, challenge_spec
from edge.liveness.errors import PolicyError
from edge.liveness.events import GestureDetectors, GestureEvent, Sample, SignalPolicy
from edge.liveness.passive import PassiveChecks, PassivePolicy, PassiveVerdict, Verdict
from edge.liveness.prompts import Overlay, Prompt
from edge.liveness.result import LivenessResult, Outcome, Reason
from edge.liveness.signals import FaceSignals, face_signals
from edge.liveness.tracker import ChallengePolicy, ChallengeTracker, Observation

if TYPE_CHECKING:
    from edge.capture import Frame
    from edge.face import Detection, Embedder, FaceDetector, FaceMesh
    from edge.liveness.iris import IrisLandmarks

#: Same-face check (the default embedder, SFace `sface_dr`): a frame's embedding is compared
#: with the mean embedding of the track so far. On the shared stage clip (small, stage-lit
#: faces, eye distance about 35 px) frames 60-200 of the one performer scored 0.61 to 0.93
#: against the running mean (5th percentile 0.66); the 40 photos of 15 other people in the
#: shared data/faces scored at most 0.37 against the performer's mean (MobileFaceNet, the
#: old default: 0.65 and at most 0.46). So this catches a swap to a clearly different face;
#: it is a continuity check, not a verification (edge.face does that against the chip photo).
SAME_FACE_MIN = 0.45
#: Consecutive low scores before the face counts as changed (one bad frame is noise).
SAME_FACE_STRIKES = 2
#: Only near-frontal faces are embedded: turned faces embed poorly.
EMBED_MAX_YAW = 20.0
#: A second detection at least this fraction of the main face's width counts as a person.
SECOND_FACE_MIN_WIDTH = 0.5
#: Below this mesh face-presence probability, the crop holds no usable face.
MIN_PRESENCE = 0.5


@dataclass
class FaceModels:
    """The edge.face models liveness uses; load once per process and share."""

    detector: FaceDetector
    mesh: FaceMesh
    embedder: Embedder | None = None
    same_face_min: float = SAME_FACE_MIN
    #: The eyelid model (iris.py) for blinks; without it blinks fall back to eye contrast.
    iris: IrisLandmarks | None = None

    @classmethod
    def load(cls, *, threads: int = 1, embed: bool = True, iris: bool = True) -> FaceModels:
        from edge.face import Embedder, FaceDetector, FaceMesh

        return cls(
            detector=FaceDetector("short", threads=threads),
            mesh=FaceMesh(threads=threads),
            embedder=Embedder(threads=threads) if embed else None,
            iris=_iris_model(threads) if iris else None,
        )


def _iris_model(threads: int) -> IrisLandmarks:
    from edge.liveness.iris import IrisLandmarks

    return IrisLandmarks(threads=threads)


@dataclass
class EngineConfig:
    signals: SignalPolicy = field(default_factory=SignalPolicy)
    challenge: ChallengePolicy = field(default_factory=ChallengePolicy)
    passive: PassivePolicy = field(default_factory=PassivePolicy)
    embed_every: int = 5  # frames between same-face checks
    #: The eyelid model runs at least this often (8 times a second, every frame at 8 fps
    #: or less), and on every frame where the eyes' contrast dips under `lids_dip` of its
    #: running level, or a closing is being judged: a blink darkens the eye region as it
    #: starts, so the model sees it close and reopen, and open frames in between cost
    #: nothing. Frames without it are skipped by the blink detector.
    lids_every_s: float = 1.0 / 8.0
    lids_dip: float = 0.8  # a blink took the contrast to 0.45-0.6 on the footage at hand
    #: After a passed challenge with too little passive evidence (no blink, no motion in
    #: depth): ask "blink or turn your head now" up to this many times, this long each.
    reprompts: int = 2
    reprompt_s: float = 4.0

    def __post_init__(self) -> None:
        if not (
            self.embed_every >= 1
            and self.lids_every_s >= 0
            and 0 < self.lids_dip <= 1
            and self.reprompts >= 0
            and self.reprompt_s > 0
        ):
            raise PolicyError(f"inconsistent engine configuration: {self}")


@dataclass(frozen=True)
class AnalysisReport:
    """What the detectors saw over a recording (`edgeproof liveness analyze`)."""

    frames: int
    fps: float
    frames_with_face: int
    frames_multiple_faces: int
    events: tuple[GestureEvent, ...]
    passive: PassiveVerdict
    result: LivenessResult | None

    def of(self, *gestures: Gesture) -> list[GestureEvent]:
        return [e for e in self.events if e.gesture in gestures]

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "frames": self.frames,
            "fps": round(self.fps, 3),
            "frames_with_face": self.frames_with_face,
            "frames_multiple_faces": self.frames_multiple_faces,
            "blinks": [
                {"start_frame": e.start_frame, "end_frame": e.end_frame}
                for e in self.of(Gesture.BLINK)
            ],
            "head_turns": [
                {
                    "direction": "left" if e.gesture is Gesture.TURN_LEFT else "right",
                    "frame": e.end_frame,
                    "start_frame": e.start_frame,
                    "yaw_deg": round(e.peak, 1),  # the largest yaw up to `frame`
                }
                for e in self.of(Gesture.TURN_LEFT, Gesture.TURN_RIGHT)
            ],
            "smiles": [
                {"frame": e.end_frame, "start_frame": e.start_frame, "peak": round(e.peak, 3)}
                for e in self.of(Gesture.SMILE)
            ],
            "verdict": self.passive.verdict.value,
            "passive": self.passive.to_dict(),
        }
        if self.result is not None:
            out["challenge"] = self.result.to_dict()
        return out


def combine(
    active: LivenessResult, passive: PassiveVerdict, checks: Sequence[str] = ()
) -> LivenessResult:
    """A challenge passed, or left undecided, still fails if the passive checks call it a
    picture or a screen: a held-up photo that never completes a step is an attack, not a
    shrug. `checks` (the ones that ran) are recorded in the result either way."""
    ran = tuple(dict.fromkeys([*active.checks, *checks, *passive.checks]))
    if active.outcome is not Outcome.FAILED and passive.verdict is Verdict.ATTACK:
        return LivenessResult(
            outcome=Outcome.FAILED,
            reason=Reason.PASSIVE_ATTACK,
            message="passive checks: " + "; ".join(passive.reasons),
            challenge=active.challenge,
            steps_done=active.steps_done,
            decided_frame=active.decided_frame,
            decided_at=active.decided_at,
            checks=ran,
        )
    if ran == active.checks:
        return active
    return replace(active, checks=ran)


class LivenessEngine:
    """One face track through one recording or live session."""

    def __init__(
        self,
        models: FaceModels,
        challenge: Sequence[Gesture] | None = None,
        *,
        config: EngineConfig | None = None,
        overlay: Overlay | None = None,
        frame_offset: int = 0,
    ) -> None:
        self.models = models
        self.frame_offset = frame_offset
        self.config = config or EngineConfig()
        self.detectors = GestureDetectors(self.config.signals)
        self.passive = PassiveChecks(self.config.passive)
        self.tracker = (
            ChallengeTracker(challenge, self.config.challenge) if challenge is not None else None
        )
        self.overlay = overlay
        self._shown: Prompt | None = None
        self._anchor: np.ndarray | None = None
        self._last_embed = -(10**9)
        self._strikes = 0
        self._last_face_t: float | None = None
        self.events: list[GestureEvent] = []
        self.frames = 0
        self.frames_with_face = 0
        self.frames_multiple = 0
        self._last_t = 0.0
        self._first_t: float | None = None
        self._lids_t = -(10.0**9)
        self._lids_used = False
        self._contrast_ema: float | None = None
        self._extra_multi = 0  # frames in a row with a second face (during a re-prompt)
        # After the challenge: (prompts shown so far, when the current one ends, result).
        self._extra: tuple[int, float, LivenessResult] | None = None
        self._final: LivenessResult | None = None

    def _lids_due(self, t: float, s: FaceSignals) -> bool:
        """Run the eyelid model on this frame? On schedule, while a closing is judged, or
        when the eye contrast dips (the start of a blink, or a glance to tell from one)."""
        cfg = self.config
        due = t - self._lids_t >= cfg.lids_every_s or self.detectors.blink_in_progress
        if s.contrast_right is None or s.contrast_left is None:
            return True
        level = (s.contrast_right + s.contrast_left) / 2.0
        ema = self._contrast_ema
        if ema is not None and level < cfg.lids_dip * ema:
            due = True
        if ema is None or level >= cfg.lids_dip * ema:  # open-eye frames set the level
            self._contrast_ema = level if ema is None else 0.9 * ema + 0.1 * level
        return due

    @property
    def checks(self) -> tuple[str, ...]:
        """The checks this engine runs: the challenge and its timing, the blink measure,
        the same-face check when an embedder is loaded; passive.py adds its own."""
        out = ["challenge", "timed-window"] if self.tracker is not None else []
        out.append("lids" if self._lids_used else "eye-contrast")
        if self.models.embedder is not None and self.tracker is not None:
            out.append("same-face")
        return tuple(out)

    @property
    def spec(self) -> str | None:
        return challenge_spec(self.tracker.challenge) if self.tracker else None

    def _faces(self, dets: list[Detection]) -> int:
        if not dets:
            return 0
        main_w = dets[0].width
        return sum(1 for d in dets if d.width >= SECOND_FACE_MIN_WIDTH * main_w)

    def _same_face(self, rgb: np.ndarray, det: Detection, yaw: float) -> bool | None:
        """Embed a near-frontal face every `embed_every` frames and compare it with the
        track's mean embedding; False after SAME_FACE_STRIKES low scores in a row."""
        emb = self.models.embedder
        if (
            emb is None
            or self.tracker is None
            or abs(yaw) > EMBED_MAX_YAW
            or self.frames - self._last_embed < self.config.embed_every
        ):
            return None
        from edge.face import align, cosine, wipe

        self._last_embed = self.frames
        crop = align(rgb, det)
        try:
            vec = emb.embed(crop)
        finally:
            wipe(crop)
        try:
            if self._anchor is None:
                self._anchor = vec.astype(np.float64)
                return True
            if cosine(self._anchor, vec) >= self.models.same_face_min:
                self._strikes = 0
                self._anchor += vec
                return True
            self._strikes += 1
            return self._strikes < SAME_FACE_STRIKES
        finally:
            wipe(vec)

    def process(self, frame: Frame) -> LivenessResult | None:
        """Feed one frame; once the challenge is decided, returns the result with the
        passive checks folded in (else None, and always None without a challenge)."""
        rgb, t = frame.pixels, frame.timestamp
        self.frames += 1
        self._last_t = t
        if self._first_t is None:
            self._first_t = t
        dets = self.models.detector.detect(rgb)
        faces = self._faces(dets)
        self.frames_multiple += faces >= 2
        signals = None
        same: bool | None = None
        if dets:
            mesh, presence = self.models.mesh.landmarks_and_presence(rgb, dets[0])
            try:
                if presence >= MIN_PRESENCE:
                    signals = face_signals(mesh, rgb)
                    iris = self.models.iris
                    if iris is not None and self._lids_due(t, signals):
                        lids = iris.eyes(rgb, mesh)
                        self._lids_t = t
                        self._lids_used = self._lids_used or bool(lids)
                        signals = face_signals(mesh, rgb, lids)
                    gap = self.config.signals.max_gap_s
                    if self._last_face_t is not None and t - self._last_face_t > gap:
                        self._new_track()
                    self.passive.add_frame(rgb, mesh)
            finally:
                mesh.fill(0)
        sample = Sample(frame.index + self.frame_offset, t, signals)
        events = self.detectors.update(sample)
        if signals is not None:
            self.frames_with_face += 1
            self._last_face_t = t
            same = self._same_face(rgb, dets[0], signals.yaw)
            if same is False and self.tracker is not None and self.tracker.prompt.gesture is None:
                self._wipe_anchor()  # a new person before the first prompt: start afresh
                same = None
        for e in events:
            self.events.append(e)
            if e.gesture is Gesture.BLINK:
                self.passive.add_blink()
        if self.tracker is None:
            return None
        if self._final is not None:
            return self._final
        self._extra_multi = self._extra_multi + 1 if faces >= 2 else 0
        crowded = self._extra_multi >= self.config.challenge.multi_face_frames
        if self._extra is not None and (same is False or crowded):
            # The re-prompt asks *this* person for a blink or a turn: another face now
            # would lend its evidence to the one that performed the challenge.
            reason = Reason.FACE_CHANGED if same is False else Reason.MULTIPLE_FACES
            self._final = combine(
                replace(self._extra[2], outcome=Outcome.FAILED, reason=reason,
                        message="another face appeared while more evidence was awaited"),
                self.passive.verdict(),
                self.checks,
            )  # fmt: skip
            return self._final
        result = self.tracker.update(Observation(sample, faces, same), events)
        if result is None:
            self._show()
            return None
        return self._decide(result, t)

    def _decide(
        self, result: LivenessResult, t: float, *, final: bool = False
    ) -> LivenessResult | None:
        """Fold the passive verdict into a decided challenge. A passed challenge without
        enough passive evidence is not called an attack: the person is asked to blink or
        turn again (`reprompts` times, `reprompt_s` each) until the evidence is there or
        the prompts run out (then inconclusive). None while such a prompt is open."""
        verdict = self.passive.verdict()
        cfg = self.config
        if result.outcome is not Outcome.PASSED or verdict.verdict is not Verdict.INCONCLUSIVE:
            self._final = combine(result, verdict, self.checks)
            return self._final
        shown, until, _ = self._extra or (0, t, result)
        if t < until and not final:
            return None
        if shown < cfg.reprompts and not final:
            self._extra = (shown + 1, t + cfg.reprompt_s, result)
            self._show_prompt(Prompt(0, len(self.tracker.challenge) if self.tracker else 0,
                                     None, extra=shown + 1))  # fmt: skip
            return None
        self._final = combine(
            replace(
                result,
                outcome=Outcome.INCONCLUSIVE,
                reason=Reason.INSUFFICIENT,
                message="challenge performed, but no blink or motion in depth was seen "
                f"after {shown} more prompt(s): " + "; ".join(verdict.reasons[1:]),
            ),
            verdict,
            self.checks,
        )
        return self._final

    def _new_track(self) -> None:
        """The face was out of view for a while. During a challenge the tracker fails on
        that; before the first prompt (or in analysis) the next face starts afresh."""
        self.passive.new_track()
        if self.tracker is None or self.tracker.prompt.gesture is None:
            self._wipe_anchor()

    def _wipe_anchor(self) -> None:
        if self._anchor is not None:
            self._anchor.fill(0)
            self._anchor = None
        self._strikes = 0

    def _show(self) -> None:
        if self.overlay is None or self.tracker is None:
            return
        prompt = self.tracker.prompt
        if prompt != self._shown and self.tracker.result is None:
            self._show_prompt(prompt)

    def _show_prompt(self, prompt: Prompt) -> None:
        self._shown = prompt
        if self.overlay is not None:
            self.overlay.show(prompt)

    def pending(self) -> bool:
        """A passed challenge waits for more passive evidence (a blink or turn prompt)."""
        return self._final is None and self._extra is not None

    def result(self) -> LivenessResult | None:
        """The result so far with the passive checks folded in (None without a challenge).
        At the end of a stream, a challenge still waiting for evidence is inconclusive."""
        if self.tracker is None:
            return None
        if self._final is not None:
            return self._final
        res = self.tracker.finish()
        if self._extra is not None:
            return self._decide(res, self._last_t, final=True)
        return combine(res, self.passive.verdict(), self.checks)

    def report(self) -> AnalysisReport:
        span = self._last_t - (self._first_t or 0.0)
        fps = (self.frames - 1) / span if self.frames > 1 and span > 0 else 0.0
        return AnalysisReport(
            frames=self.frames,
            fps=fps,
            frames_with_face=self.frames_with_face,
            frames_multiple_faces=self.frames_multiple,
            events=tuple(self.events),
            passive=self.passive.verdict(),
            result=self.result(),
        )

    def wipe(self) -> None:
        """Zero what the engine derived from faces (reference mesh, anchor embedding)."""
        self.passive.wipe()
        self._wipe_anchor()


class FrameStream(Protocol):
    """What run_check reads: a capture session, or a wrapper around one."""

    def frames(self) -> Iterator[Frame]: ...


def run_check(session: FrameStream, engine: LivenessEngine) -> LivenessResult:
    """Run a live challenge over an open capture session; stop as soon as it is decided.

    The caller owns `session` (its `with` block wipes the frames); this wipes the engine.
    """
    if engine.tracker is None:
        raise PolicyError("run_check needs an engine with a challenge")
    try:
        result = None
        for frame in session.frames():
            result = engine.process(frame)
            if result is not None:
                break
        if result is None:  # the stream ended first
            result = engine.result() or engine.tracker.finish()
        if engine.overlay is not None:
            engine.overlay.done(f"{result.outcome.value}: {result.message}")
        return result
    finally:
        engine.wipe()
