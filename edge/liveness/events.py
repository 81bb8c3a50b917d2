"""Gesture detectors: per-frame signals in, discrete gesture events out.

Each detector is a small hysteresis state machine: a gesture starts when its signal crosses
an "enter" threshold and counts only once the signal has stayed there long enough (or, for
a blink, came back within a time window); it can start again only after the signal fell
back past a separate "exit" threshold, so noise around one threshold cannot produce a
stream of events. Blink and smile thresholds are relative to the person's own running
baseline (eye and mouth shapes differ a lot between people); head turns use absolute yaw.
A frame without a usable face, or a gap longer than `max_gap_s`, resets a gesture in
progress: a blink is only a blink if the eyes were seen closing and opening.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from attest.challenge import Gesture
from edge.liveness.errors import PolicyError
from edge.liveness.signals import FaceSignals


@dataclass(frozen=True)
class Sample:
    """One frame as the detectors see it. `signals` is None when no usable face was found."""

    frame: int
    t: float
    signals: FaceSignals | None


@dataclass(frozen=True)
class GestureEvent:
    """A detected gesture. For a blink, `start_frame` is the first closed frame and
    `end_frame` the frame the eyes reopened, and `peak` the lowest eye openness relative to
    its baseline; for a turn or smile, `end_frame` is the frame the gesture was confirmed
    (held long enough) and `peak` the extreme yaw or smile ratio up to then."""

    gesture: Gesture
    start_frame: int
    end_frame: int
    t: float
    peak: float
    start_t: float | None = None  # time of `start_frame` (when the gesture began)


@dataclass(frozen=True)
class SignalPolicy:
    """Thresholds. Defaults tuned on the mesh's output for real faces (docs/capture-liveness.md)."""

    blink_close: float = 0.70  # mean eye openness below this fraction of its baseline
    blink_close_each: float = 0.85  # ...and neither eye above this one
    blink_open: float = 0.85  # mean openness back above this fraction: eyes open again
    blink_max_s: float = 0.7  # longer than this is "eyes closed", not a blink
    blink_max_yaw: float = 35.0  # beyond this the far eye is too foreshortened to judge
    glance_drop: float = 0.06  # iris centre this far below its baseline (eye widths): a glance
    glance_floor: float = 0.45  # ...unless the lids closed further than this (rel. openness)
    baseline_s: float = 2.0  # running window for the open-eye and neutral-mouth baselines
    baseline_min: int = 5  # samples needed before blinks/smiles are judged
    turn_enter: float = 20.0  # degrees of yaw
    turn_exit: float = 10.0
    turn_hold_s: float = 0.1
    smile_enter: float = 1.12  # mouth width / eye distance, relative to the baseline
    smile_exit: float = 1.05
    smile_hold_s: float = 0.2
    smile_max_yaw: float = 15.0
    max_gap_s: float = 0.3

    def __post_init__(self) -> None:
        checks = (
            0 < self.blink_close < self.blink_open <= 1,
            self.glance_drop > 0 and 0 <= self.glance_floor < self.blink_close,
            self.blink_close <= self.blink_close_each <= 1,
            0 < self.turn_exit < self.turn_enter < 90,
            1 < self.smile_exit < self.smile_enter,
            self.blink_max_s > 0 and self.turn_hold_s >= 0 and self.smile_hold_s >= 0,
            self.baseline_s > 0 and self.baseline_min >= 1 and self.max_gap_s > 0,
        )
        if not all(checks):
            raise PolicyError(f"inconsistent signal thresholds: {self}")


class _Baseline:
    """A running robust statistic (a percentile) over the last `window_s` seconds."""

    def __init__(self, window_s: float, q: float) -> None:
        self._window_s = window_s
        self._q = q
        self._items: deque[tuple[float, float]] = deque()

    def add(self, t: float, value: float) -> None:
        self._items.append((t, value))
        while self._items and t - self._items[0][0] > self._window_s:
            self._items.popleft()

    def value(self, minimum: int) -> float | None:
        if len(self._items) < minimum:
            return None
        return float(np.percentile([v for _, v in self._items], self._q))


class BlinkDetector:
    """Both eyes' openness relative to the person's own open-eye baseline (the median of
    open-eye frames over the last `baseline_s`), with hysteresis.

    Openness per eye: the eyelid opening from the iris landmark model (iris.py) when it ran,
    averaged with the eye contrast when the frame was also at hand; the contrast alone, or
    the mesh's eye aspect ratio alone, otherwise. Closing needs the mean of both eyes below
    `blink_close` and neither eye above `blink_close_each` (one eye hidden by a turned head,
    or a wink, is not a blink); the blink counts when the mean is back above `blink_open`
    within `blink_max_s`. Nothing requires two closed frames: at 6 fps a blink is often one
    closed frame between two open ones, and that counts.

    A downward glance also lowers the lids and darkens the eye region, but the iris goes
    down with the gaze while in a blink it is covered where it was. So a closing during
    which the iris centre dropped more than `glance_drop` (in eye widths) below its open-eye
    baseline, without the lids closing below `glance_floor`, is a glance, not a blink.
    """

    def __init__(self, policy: SignalPolicy) -> None:
        self._p = policy
        self._baselines = {
            src: (_Baseline(policy.baseline_s, 50), _Baseline(policy.baseline_s, 50))
            for src in ("lids", "contrast", "ear")
        }
        self._drop = _Baseline(policy.baseline_s, 50)
        self._closed_at: tuple[int, float] | None = None
        self._source = ""
        self._lowest = math.inf
        self._lowest_lids = math.inf
        self._max_drop = -math.inf
        self._lids_t: float | None = None

    def reset(self) -> None:
        self._closed_at = None
        self._lowest = math.inf
        self._lowest_lids = math.inf
        self._max_drop = -math.inf

    @property
    def closing(self) -> bool:
        return self._closed_at is not None

    @staticmethod
    def _sources(s: FaceSignals) -> dict[str, tuple[float, float]]:
        out: dict[str, tuple[float, float]] = {}
        if s.lids_right is not None and s.lids_left is not None:
            out["lids"] = (s.lids_right, s.lids_left)
        if s.contrast_right is not None and s.contrast_left is not None:
            out["contrast"] = (s.contrast_right, s.contrast_left)
        if not out:
            out["ear"] = (s.ear_right, s.ear_left)
        return out

    def update(self, frame: int, t: float, s: FaceSignals) -> GestureEvent | None:
        p = self._p
        if abs(s.yaw) > p.blink_max_yaw:
            self.reset()
            return None
        values = self._sources(s)
        if "lids" in values:
            self._lids_t = t
        elif self._lids_t is not None and t - self._lids_t < p.max_gap_s:
            return None  # the eyelid model skipped this frame (engine.py): wait for it
        source = "+".join(sorted(values))
        if self._closed_at is not None and source != self._source:
            return None  # judge the reopening with the measures that saw the closing
        drop = None
        if s.drop_right is not None and s.drop_left is not None:
            drop = (s.drop_right + s.drop_left) / 2.0
        rels: list[tuple[float, float]] = []
        lids_open = math.inf  # the eyelid model's own openness, when it ran on this frame
        ready = True
        for name, (v_r, v_l) in values.items():
            base_r, base_l = self._baselines[name]
            b_r, b_l = base_r.value(p.baseline_min), base_l.value(p.baseline_min)
            if b_r is None or b_l is None or b_r <= 0 or b_l <= 0:
                ready = False
                continue
            rels.append((v_r / b_r, v_l / b_l))
            if name == "lids":
                lids_open = (v_r / b_r + v_l / b_l) / 2.0
        if not ready:
            self._feed(t, values, drop)
            return None
        rel = (
            sum(r[0] for r in rels) / len(rels),
            sum(r[1] for r in rels) / len(rels),
        )
        openness = (rel[0] + rel[1]) / 2.0
        base_drop = self._drop.value(p.baseline_min)
        if self._closed_at is None:
            if openness < p.blink_close and max(rel) < p.blink_close_each:
                self._closed_at, self._source, self._lowest = (frame, t), source, openness
                self._lowest_lids = lids_open
                self._max_drop = -math.inf
                self._track_drop(drop, base_drop)
            else:  # only open-eye frames feed the baselines
                self._feed(t, values, drop)
            return None
        self._lowest = min(self._lowest, openness)
        self._lowest_lids = min(self._lowest_lids, lids_open)
        start_frame, start_t = self._closed_at
        if t - start_t > p.blink_max_s:
            if openness >= p.blink_open:
                self.reset()
            return None
        if openness >= p.blink_open:
            lowest, glance = self._lowest, self._max_drop > p.glance_drop
            # How far the lids closed is the eyelid model's measure when it ran: the eye
            # contrast averaged into `openness` falls less far (skin and lashes stay dark),
            # and a real blink would pass for a glance.
            lids_floor = min(lowest, self._lowest_lids)
            self.reset()
            if glance and lids_floor > p.glance_floor:
                return None  # the gaze went down and came back: not a blink
            return GestureEvent(Gesture.BLINK, start_frame, frame, t, lowest, start_t)
        self._track_drop(drop, base_drop)
        return None

    def _track_drop(self, drop: float | None, base: float | None) -> None:
        if drop is not None and base is not None:
            self._max_drop = max(self._max_drop, drop - base)

    def _feed(self, t: float, values: dict[str, tuple[float, float]], drop: float | None) -> None:
        for name, (v_r, v_l) in values.items():
            base_r, base_l = self._baselines[name]
            base_r.add(t, v_r)
            base_l.add(t, v_l)
        if drop is not None:
            self._drop.add(t, drop)


class _HoldDetector:
    """Enter, hold for `hold_s`, emit once, then wait for the exit threshold."""

    def __init__(self, hold_s: float) -> None:
        self._hold_s = hold_s
        self._since: tuple[int, float] | None = None
        self._fired = False
        self._peak = 0.0

    def reset(self) -> None:
        self._since = None
        self._fired = False
        self._peak = 0.0

    def step(
        self, frame: int, t: float, value: float, entered: bool, exited: bool
    ) -> tuple[int, float, float] | None:
        """Returns (start_frame, peak, start time) when the gesture is confirmed here."""
        if self._since is None:
            if entered:
                self._since = (frame, t)
                self._peak = value
            else:
                return None
        if exited:
            self.reset()
            return None
        self._peak = max(self._peak, value, key=abs)
        start_frame, start_t = self._since
        if not self._fired and entered and t - start_t >= self._hold_s:
            self._fired = True
            return start_frame, self._peak, start_t
        return None


class TurnDetector:
    """Head turns. Yaw > 0 is the subject's left (see signals.py)."""

    def __init__(self, policy: SignalPolicy) -> None:
        self._p = policy
        self._left = _HoldDetector(policy.turn_hold_s)
        self._right = _HoldDetector(policy.turn_hold_s)

    def reset(self) -> None:
        self._left.reset()
        self._right.reset()

    def update(self, frame: int, t: float, s: FaceSignals) -> GestureEvent | None:
        p = self._p
        for det, sign, gesture in ((self._left, 1.0, Gesture.TURN_LEFT),
                                   (self._right, -1.0, Gesture.TURN_RIGHT)):  # fmt: skip
            y = sign * s.yaw
            hit = det.step(frame, t, s.yaw, y >= p.turn_enter, y <= p.turn_exit)
            if hit is not None:
                return GestureEvent(gesture, hit[0], frame, t, hit[1], hit[2])
        return None


class SmileDetector:
    def __init__(self, policy: SignalPolicy) -> None:
        self._p = policy
        # A low percentile: the neutral mouth, even if the person smiles part of the time.
        self._baseline = _Baseline(policy.baseline_s * 2, 25)
        self._hold = _HoldDetector(policy.smile_hold_s)

    def reset(self) -> None:
        self._hold.reset()

    def update(self, frame: int, t: float, s: FaceSignals) -> GestureEvent | None:
        p = self._p
        if abs(s.yaw) > p.smile_max_yaw:
            self._hold.reset()
            return None
        self._baseline.add(t, s.smile)
        base = self._baseline.value(p.baseline_min)
        if base is None or base <= 0:
            return None
        rel = s.smile / base
        hit = self._hold.step(frame, t, rel, rel >= p.smile_enter, rel <= p.smile_exit)
        if hit is not None:
            return GestureEvent(Gesture.SMILE, hit[0], frame, t, hit[1], hit[2])
        return None


class GestureDetectors:
    """All detectors over one face track. `update` returns the events this frame completed."""

    def __init__(self, policy: SignalPolicy | None = None) -> None:
        self.policy = policy or SignalPolicy()
        self._blink = BlinkDetector(self.policy)
        self._turn = TurnDetector(self.policy)
        self._smile = SmileDetector(self.policy)
        self._last_t: float | None = None

    def reset(self) -> None:
        self._blink.reset()
        self._turn.reset()
        self._smile.reset()

    @property
    def blink_in_progress(self) -> bool:
        """The eyes were seen closing and the reopening is awaited."""
        return self._blink.closing

    def update(self, sample: Sample) -> list[GestureEvent]:
        s = sample.signals
        if s is None:
            return []
        if self._last_t is not None and sample.t - self._last_t > self.policy.max_gap_s:
            self.reset()
        self._last_t = sample.t
        events = [
            self._blink.update(sample.frame, sample.t, s),
            self._turn.update(sample.frame, sample.t, s),
            self._smile.update(sample.frame, sample.t, s),
        ]
        return [e for e in events if e is not None]
