"""Synthetic cameras for the demo and the tests: frames made in memory, read through the
same `FrameSource` interface as a camera or a recording (source.py).

- `PerformerSource`: the face photo of `facerig.FaceRig`, animated by a `Performer` who
  watches the prompts (it is an `edge.liveness.prompts.Overlay`: the device shows it what
  a person would see) and answers each one after a human reaction time, with natural
  speeds: blinks of about 200 ms, head turns of about 35 degrees and back in 1.3 s, smiles
  held for most of a second. Involuntary blinks every few seconds and a slight sway keep
  the face alive, as a real one is.
- A `Performer` built with `scripted(...)` ignores the prompts and replays the moves of an
  earlier session at their earlier times: a recording of someone answering another
  nonce's challenge, which a fresh challenge must refuse.
- `PrintSource`: the same photo as a flat print held up to the camera (moved and tilted as a
  whole, so it never shows parallax, never blinks).

Frame times come from the frame index at the source's rate, as in a file replay: the
result does not depend on how fast the machine renders. Nothing here writes anything; the
pixels live in the rig and in the caller's slot, and `close()` wipes what the source holds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from attest.challenge import Gesture
from edge.capture.source import FrameFormat, Pixels, check_out
from rig.face.facerig import FaceRig, Pose

#: Seconds from a prompt appearing to the person starting to move (a human's simple
#: reaction time plus reading a short prompt).
REACTION_S = 0.45
BLINK_S = 0.22
TURN_S = 1.3
TURN_DEG = 36.0
SMILE_S = 1.3
#: The face at rest: the portrait's posed smile relaxed (corners drawn in a little).
REST_SMILE = -0.35
#: Involuntary blinks: a person blinks every 2 to 6 s (mean about 4).
SPONTANEOUS_BLINK_S = (2.5, 5.5)


@dataclass(frozen=True)
class Move:
    """One gesture started at `t` seconds into the stream."""

    t: float
    gesture: Gesture

    @property
    def duration(self) -> float:
        return {
            Gesture.BLINK: BLINK_S,
            Gesture.TURN_LEFT: TURN_S,
            Gesture.TURN_RIGHT: TURN_S,
            Gesture.SMILE: SMILE_S,
        }[self.gesture]


def _bump(u: float, rise: float, fall: float) -> float:
    """0 -> 1 -> 0 over u in [0, 1]: a smooth rise over `rise`, hold, smooth fall."""
    if u <= 0 or u >= 1:
        return 0.0
    if u < rise:
        return 0.5 - 0.5 * math.cos(math.pi * u / rise)
    if u > 1 - fall:
        return 0.5 - 0.5 * math.cos(math.pi * (1 - u) / fall)
    return 1.0


class Performer:
    """The person in front of the camera: answers prompts (live) or replays a script."""

    def __init__(self, seed: int = 0, *, script: Sequence[Move] | None = None) -> None:
        self._rng = np.random.default_rng(seed)
        self._live = script is None
        self.moves: list[Move] = list(script or ())
        self.now = 0.0
        self._phase = float(self._rng.uniform(0, 2 * math.pi))
        self._blinks: list[float] = []
        t = float(self._rng.uniform(*SPONTANEOUS_BLINK_S))
        while t < 120:
            self._blinks.append(t)
            t += float(self._rng.uniform(*SPONTANEOUS_BLINK_S))

    @classmethod
    def scripted(cls, moves: Sequence[Move], seed: int = 1) -> Performer:
        """A recording: the given moves at their times, whatever is asked."""
        return cls(seed, script=moves)

    # edge.liveness.prompts.Overlay: what the device shows the person.
    def show(self, prompt: object) -> None:
        gesture = getattr(prompt, "gesture", None)
        if getattr(prompt, "extra", 0):
            # "Not sure yet: blink or turn your head now": a person blinks.
            gesture = Gesture.BLINK
        if not self._live or not isinstance(gesture, Gesture):
            return
        start = self.now + REACTION_S
        if self.moves:
            last = self.moves[-1]
            start = max(start, last.t + last.duration)
        self.moves.append(Move(start, gesture))

    def done(self, message: str) -> None:
        return None

    def _busy(self, t: float) -> bool:
        return any(m.t - 0.6 <= t <= m.t + m.duration + 0.3 for m in self.moves)

    def pose(self, t: float) -> Pose:
        """The face at `t` seconds: scheduled moves on top of a living face."""
        self.now = t
        ph = self._phase
        yaw = 2.0 * math.sin(0.9 * t + ph) + 0.8 * math.sin(2.3 * t)
        pitch = 1.2 * math.sin(0.7 * t + 2 * ph)
        dx = 2.0 * math.sin(0.5 * t + ph)
        dy = 1.5 * math.sin(0.8 * t + 1.0) + 0.6 * math.sin(1.7 * t)  # breathing, posture
        blink, smile = 0.0, REST_SMILE
        for m in self.moves:
            u = (t - m.t) / m.duration
            if m.gesture is Gesture.BLINK:
                blink = max(blink, _bump(u, 0.35, 0.5))
            elif m.gesture is Gesture.SMILE:
                smile = max(smile, REST_SMILE + (1.0 - REST_SMILE) * _bump(u, 0.25, 0.25))
            else:
                sign = 1.0 if m.gesture is Gesture.TURN_LEFT else -1.0
                yaw += sign * TURN_DEG * _bump(u, 0.35, 0.35)
        for b in self._blinks:
            if b <= t <= b + BLINK_S and not self._busy(b):
                blink = max(blink, _bump((t - b) / BLINK_S, 0.35, 0.5))
        return Pose(yaw=yaw, pitch=pitch, blink=blink, smile=smile, dx=dx, dy=dy)


class _Noise:
    """Sensor noise: a few precomputed fields, chosen at random per frame."""

    def __init__(self, shape: tuple[int, int, int], seed: int, sigma: float = 2.0) -> None:
        rng = np.random.default_rng(seed)
        self._fields = [np.round(rng.normal(0, sigma, shape)).astype(np.int16) for _ in range(6)]
        self._rng = rng
        self._tmp = np.zeros(shape, np.int16)

    def add(self, out: Pixels) -> None:
        f = self._fields[int(self._rng.integers(len(self._fields)))]
        np.add(out, f, out=self._tmp, dtype=np.int16)
        np.clip(self._tmp, 0, 255, out=self._tmp)
        out[...] = self._tmp

    def wipe(self) -> None:
        self._tmp.fill(0)


class _ClockedSource:
    """A frame source on stream time: frame n is drawn for t = n / fps, with sensor noise,
    until `max_seconds`; subclasses say only what the camera sees at t."""

    def __init__(self, width: int, height: int, fps: float, max_seconds: float, seed: int) -> None:
        self._format = FrameFormat(width, height, fps)
        self._n = 0
        self._last = int(max_seconds * fps)
        self._noise = _Noise(self._format.shape, seed)
        self._closed = False

    @property
    def format(self) -> FrameFormat:
        return self._format

    def _draw(self, t: float, out: Pixels) -> None:
        raise NotImplementedError

    def read_into(self, out: Pixels) -> float | None:
        check_out(out, self._format)
        if self._closed or self._n >= self._last:
            return None
        t = self._n / self._format.fps
        self._draw(t, out)
        self._noise.add(out)
        self._n += 1
        return t

    def close(self) -> None:
        self._closed = True
        self._noise.wipe()


class PerformerSource(_ClockedSource):
    """A camera filming the performer; ends after `max_seconds` of stream time."""

    def __init__(
        self,
        rig: FaceRig,
        performer: Performer,
        *,
        fps: float = 30.0,
        max_seconds: float = 30.0,
        seed: int = 0,
    ) -> None:
        h, w = rig.frame.shape[:2]
        super().__init__(w, h, fps, max_seconds, seed)
        self._rig = rig
        self.performer = performer

    def _draw(self, t: float, out: Pixels) -> None:
        self._rig.render(self.performer.pose(t), out)


class PrintSource(_ClockedSource):
    """The photo printed and held up to the camera: one plane, moved by a hand."""

    def __init__(
        self, frame: Pixels, *, fps: float = 30.0, max_seconds: float = 30.0, seed: int = 0
    ) -> None:
        import cv2

        h, w = frame.shape[:2]
        super().__init__(w, h, fps, max_seconds, seed)
        self._cv2 = cv2
        self._photo = np.ascontiguousarray(frame, dtype=np.uint8).copy()

    def _draw(self, t: float, out: Pixels) -> None:
        w, h = self._format.width, self._format.height
        # The print's corners: 80 % of the frame, swaying and tilting a few degrees as a
        # hand holds it; a plane, so every point moves with the same homography.
        s = 0.8 + 0.01 * math.sin(0.6 * t)
        tilt = 0.04 * math.sin(0.9 * t)
        cx, cy = w / 2 + 6 * math.sin(0.7 * t), h / 2 + 4 * math.sin(1.1 * t)
        hw, hh = s * w / 2, s * h / 2
        dst = np.array(
            [
                [cx - hw * (1 - tilt), cy - hh * (1 + tilt)],
                [cx + hw * (1 + tilt), cy - hh * (1 - tilt)],
                [cx + hw * (1 + tilt), cy + hh * (1 - tilt)],
                [cx - hw * (1 - tilt), cy + hh * (1 + tilt)],
            ],
            np.float32,
        )
        src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
        m = self._cv2.getPerspectiveTransform(src, dst)
        out.fill(0)
        out[...] = (52, 50, 48)  # the room behind the hand-held print
        self._cv2.warpPerspective(
            self._photo, m, (w, h), dst=out, borderMode=self._cv2.BORDER_TRANSPARENT
        )

    def close(self) -> None:
        super().close()
        self._photo.fill(0)
