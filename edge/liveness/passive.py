"""Passive replay checks: does the face move like a face, or like a picture of one?

A printed photo or a still on a screen, however it is moved, tilted or bent slightly, maps
its landmarks from one frame to the next by a plane-to-plane projection (a homography).
A real head does not: it turns in depth, and its eyes and mouth move on their own. So each
frame's landmarks are fitted to the first frame's by the best homography, and what is left
over ("non-rigid residual", in units of the eye distance) is evidence of life, and a
face that was tilted (far from a mere shift, turn and zoom of the picture) yet still fits
one plane is evidence of a picture. Blinks are evidence of life too.

Pixel cues of screens and prints (pad.py: moiré, bezel edges, glare, refresh flicker,
colour, surroundings moving with the face) are fused with the planar cue into one
presentation-attack score. The verdict (ISO/IEC 30107-3 terms: an attack presentation
is classified as an attack, a bona fide one as live):

- attack: the fused score reaches 1 (one strong cue, or several partial ones);
- live: a blink or non-rigid motion was seen and the score stays under 0.5;
- otherwise inconclusive. Above all, a live person who keeps still is never called an
  attack: too little evidence is "inconclusive", and the engine asks for a blink or a
  turn again (engine.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

from edge.liveness.errors import PolicyError
from edge.liveness.pad import CueLevels, CueReport, CueWeights, PixelCues, ramp
from edge.liveness.signals import EYE_OUTER

#: A subset of mesh points spread over the face (every 4th point) keeps the fit cheap.
_POINTS = np.arange(0, 468, 4)


class Verdict(StrEnum):
    LIVE = "live"
    ATTACK = "presentation-attack"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class PassivePolicy:
    """Thresholds. Residuals are the 90th percentile over the window, in eye distances.
    Measured here: the still photo replayed with tilts and moves (MPEG-4, as in
    tests/liveness) 0.010 to 0.015; the clip's live close-up 0.13 (10th percentile 0.035).
    See docs/capture-liveness.md."""

    min_frames: int = 15
    rigid_below: float = 0.025  # kept for the report: residual this small looks flat
    live_above: float = 0.045  # residual this large: a real, moving face
    quantile: float = 90.0
    #: A frame counts as "tilted" when a similarity transform (shift, turn in the image
    #: plane, zoom) leaves this much unexplained; only then can planarity say anything.
    tilted_above: float = 0.03
    #: Fraction of tilted frames a homography explains (residual under a third of the
    #: similarity's): (no evidence, full evidence) of a flat picture; needs `tilted_min`.
    planar_levels: tuple[float, float] = (0.5, 0.9)
    tilted_min: int = 10
    attack_score: float = 1.0  # fused score at which an attack is called
    live_max_score: float = 0.5  # live evidence counts only under this score
    levels: CueLevels = field(default_factory=CueLevels)
    weights: CueWeights = field(default_factory=CueWeights)
    planar_weight: float = 1.0
    pixel_every: int = 3  # pixel cues on every n-th frame (the shift on every frame)

    def __post_init__(self) -> None:
        if not (
            self.min_frames >= 2
            and 0 < self.rigid_below < self.live_above
            and 0 < self.live_max_score < self.attack_score
            and self.tilted_min >= 1
            and self.pixel_every >= 1
        ):
            raise PolicyError(f"inconsistent passive policy: {self}")


@dataclass(frozen=True)
class PassiveVerdict:
    verdict: Verdict
    reasons: tuple[str, ...]
    frames: int
    nonrigid: float
    blinks: int
    score: float = 0.0  # fused presentation-attack score (1 and above: attack)
    cues: tuple[tuple[str, float, float], ...] = ()  # (cue, value, evidence 0-1)

    @property
    def checks(self) -> tuple[str, ...]:
        """Which checks produced a value on this window (the evidence names them)."""
        return tuple(["nonrigid", "blink"] + [c for c, _, _ in self.cues])

    def to_dict(self) -> dict[str, object]:
        return {
            "verdict": self.verdict.value,
            "reasons": list(self.reasons),
            "frames": self.frames,
            "nonrigid_residual": round(self.nonrigid, 4),
            "blinks": self.blinks,
            "pad_score": round(self.score, 3),
            "cues": {c: {"value": round(v, 4), "evidence": round(e, 3)} for c, v, e in self.cues},
            "checks": list(self.checks),
        }


def similarity_residual(ref: NDArray[np.float64], cur: NDArray[np.float64], scale: float) -> float:
    """RMS distance left after the least-squares similarity (shift, rotation in the image
    plane, uniform scale) from `ref` to `cur`, divided by `scale`."""
    a = ref - ref.mean(axis=0)
    b = cur - cur.mean(axis=0)
    za = a[:, 0] + 1j * a[:, 1]
    zb = b[:, 0] + 1j * b[:, 1]
    den = float((np.abs(za) ** 2).sum())
    k = complex((np.conj(za) * zb).sum()) / den if den > 0 else 0j
    res = zb - k * za
    rms = float(np.sqrt((np.abs(res) ** 2).mean()))
    return rms / scale if scale > 0 else 0.0


def homography_residual(ref: NDArray[np.float64], cur: NDArray[np.float64], scale: float) -> float:
    """RMS distance left after mapping points `ref` onto `cur` by the least-squares
    homography (DLT with h33 = 1), divided by `scale` (the eye distance in `cur`)."""
    x, y = ref[:, 0], ref[:, 1]
    u, v = cur[:, 0], cur[:, 1]

    # Normalise for conditioning (Hartley): centre and scale both point sets.
    def norm(p: NDArray[np.float64]) -> tuple[NDArray[np.float64], float, NDArray[np.float64]]:
        c = p.mean(axis=0)
        s = float(np.sqrt(((p - c) ** 2).sum(axis=1).mean())) or 1.0
        return (p - c) / s, s, c

    a, _, _ = norm(np.stack([x, y], 1))
    b, sb, _ = norm(np.stack([u, v], 1))
    n = len(a)
    ones, zeros = np.ones(n), np.zeros(n)
    ax, ay, bx, by = a[:, 0], a[:, 1], b[:, 0], b[:, 1]
    m = np.concatenate([
        np.stack([ax, ay, ones, zeros, zeros, zeros, -ax * bx, -ay * bx], 1),
        np.stack([zeros, zeros, zeros, ax, ay, ones, -ax * by, -ay * by], 1),
    ])  # fmt: skip
    rhs = np.concatenate([bx, by])
    h, *_ = np.linalg.lstsq(m, rhs, rcond=None)
    w = h[6] * ax + h[7] * ay + 1.0
    px = (h[0] * ax + h[1] * ay + h[2]) / w
    py = (h[3] * ax + h[4] * ay + h[5]) / w
    rms = float(np.sqrt(((px - bx) ** 2 + (py - by) ** 2).mean())) * sb
    return rms / scale if scale > 0 else 0.0


class PassiveChecks:
    """Accumulates evidence over a face track. Holds one reference mesh and two small grey
    patches of the surroundings (wiped by `wipe`)."""

    def __init__(self, policy: PassivePolicy | None = None) -> None:
        self.policy = policy or PassivePolicy()
        self._ref: NDArray[np.float64] | None = None
        self._residuals: list[float] = []
        self._similar: list[float] = []
        self._blinks = 0
        self._frames = 0
        self.pixels = PixelCues(self.policy.levels, every=self.policy.pixel_every)

    def add(self, xy: NDArray[np.float64]) -> None:
        """One frame's (468, 2) landmarks in pixels."""
        pts = np.ascontiguousarray(xy[:, :2], dtype=np.float64)
        self._frames += 1
        if self._ref is None:
            self._ref = pts[_POINTS].copy()
            return
        eye = float(np.linalg.norm(pts[EYE_OUTER[1]] - pts[EYE_OUTER[0]]))
        self._residuals.append(homography_residual(self._ref, pts[_POINTS], eye))
        self._similar.append(similarity_residual(self._ref, pts[_POINTS], eye))

    def add_frame(self, rgb: NDArray[np.uint8], xy: NDArray[np.floating]) -> None:
        """One frame with its pixels: the landmark checks and the pixel cues (pad.py)."""
        self.add(np.asarray(xy, dtype=np.float64)[:, :2])
        self.pixels.add(rgb, xy)

    def new_track(self) -> None:
        """The face was out of view: the next frame starts a new reference."""
        self.wipe()
        self.pixels = PixelCues(self.policy.levels, every=self.policy.pixel_every)

    def add_blink(self) -> None:
        self._blinks += 1

    def wipe(self) -> None:
        if self._ref is not None:
            self._ref.fill(0)
            self._ref = None
        self.pixels.wipe()

    def _planar(self) -> tuple[float, float] | None:
        """(fraction of tilted frames a plane explains, evidence), None without enough
        tilted frames."""
        p = self.policy
        pairs = [(h, s) for h, s in zip(self._residuals, self._similar, strict=True)
                 if s >= p.tilted_above]  # fmt: skip
        if len(pairs) < p.tilted_min:
            return None
        flat = sum(1 for h, s in pairs if h < s / 3.0) / len(pairs)
        return flat, ramp(flat, p.planar_levels)

    def cue_report(self) -> CueReport:
        return self.pixels.report()

    def verdict(self) -> PassiveVerdict:
        p = self.policy
        res = float(np.percentile(self._residuals, p.quantile)) if self._residuals else 0.0
        pix = self.pixels.report()
        cues = [(k, pix.values[k], pix.evidence[k]) for k in sorted(pix.values)]
        score = pix.score(p.weights)
        planar = self._planar()
        if planar is not None:
            cues.append(("planar", planar[0], planar[1]))
            score += p.planar_weight * planar[1]
        base = (self._frames, res, self._blinks, score, tuple(cues))
        if self._frames < p.min_frames:
            return PassiveVerdict(
                Verdict.INCONCLUSIVE,
                (f"only {self._frames} frames with a face (need {p.min_frames})",),
                *base,
            )
        strong = [f"{name} {value:.3g}" for name, value, ev in cues if ev > 0]
        if score >= p.attack_score:
            named = [
                f"{'only planar (picture-like) motion' if n == 'planar' else n} "
                f"(value {v:.3g}, evidence {e:.2f})"
                for n, v, e in cues
                if e > 0
            ]
            return PassiveVerdict(
                Verdict.ATTACK,
                (f"presentation-attack score {score:.2f} >= {p.attack_score:g}", *named),
                *base,
            )
        live: list[str] = []
        if self._blinks:
            live.append(f"{self._blinks} blink(s) seen")
        if res >= p.live_above:
            live.append(f"non-rigid face motion (residual {res:.3f} >= {p.live_above})")
        if live and score < p.live_max_score:
            return PassiveVerdict(Verdict.LIVE, tuple(live), *base)
        why = ["not enough evidence: blink or turn the head now"]
        if live:
            why.append(f"signs of life, but screen or print cues ({', '.join(strong)})")
        else:
            why.append(f"no blink, little non-rigid motion (residual {res:.3f})")
        return PassiveVerdict(Verdict.INCONCLUSIVE, tuple(why), *base)
