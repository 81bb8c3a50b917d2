"""Passive replay checks: does the face move like a face, or like a picture of one?

A printed photo or a still on a screen, however it is moved, tilted or bent slightly, maps
its landmarks from one frame to the next by a plane-to-plane projection (a homography).
A real head does not: it turns in depth, and its eyes and mouth move on their own. So each
frame's landmarks are fitted to the first frame's by the best homography, and what is left
over ("non-rigid residual", in units of the eye distance) is the evidence. Blinks are
evidence too (a photo never blinks). A video replayed on a screen passes these checks by
design: the active challenge is what defeats it.

Not done, and why: moiré and screen-border cues need screen-replay footage to calibrate,
which this project does not have; the passive anti-spoofing model in FACTS.md was not
usable without calibration. docs/capture-liveness.md says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

from edge.liveness.errors import PolicyError
from edge.liveness.signals import EYE_OUTER

#: A subset of mesh points spread over the face (every 4th point) keeps the fit cheap.
_POINTS = np.arange(0, 468, 4)


class Verdict(StrEnum):
    LIVE = "live"
    ATTACK = "presentation-attack"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class PassivePolicy:
    """Thresholds on the 90th percentile of the residual over the window. Measured here:
    the still photo replayed with tilts and moves (MPEG-4, as in tests/liveness) 0.010 to
    0.015; the clip's live close-up 0.13 (10th percentile 0.035). See
    docs/capture-liveness.md."""

    min_frames: int = 15
    rigid_below: float = 0.025  # residual this small over the window: a flat picture
    live_above: float = 0.045  # residual this large: a real, moving face
    quantile: float = 90.0

    def __post_init__(self) -> None:
        if not (self.min_frames >= 2 and 0 < self.rigid_below < self.live_above):
            raise PolicyError(f"inconsistent passive policy: {self}")


@dataclass(frozen=True)
class PassiveVerdict:
    verdict: Verdict
    reasons: tuple[str, ...]
    frames: int
    nonrigid: float
    blinks: int

    def to_dict(self) -> dict[str, object]:
        return {
            "verdict": self.verdict.value,
            "reasons": list(self.reasons),
            "frames": self.frames,
            "nonrigid_residual": round(self.nonrigid, 4),
            "blinks": self.blinks,
        }


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
    """Accumulates evidence over a face track. Holds one reference mesh (wiped by `wipe`)."""

    def __init__(self, policy: PassivePolicy | None = None) -> None:
        self.policy = policy or PassivePolicy()
        self._ref: NDArray[np.float64] | None = None
        self._residuals: list[float] = []
        self._blinks = 0
        self._frames = 0

    def add(self, xy: NDArray[np.float64]) -> None:
        """One frame's (468, 2) landmarks in pixels."""
        pts = np.ascontiguousarray(xy[:, :2], dtype=np.float64)
        self._frames += 1
        if self._ref is None:
            self._ref = pts[_POINTS].copy()
            return
        eye = float(np.linalg.norm(pts[EYE_OUTER[1]] - pts[EYE_OUTER[0]]))
        self._residuals.append(homography_residual(self._ref, pts[_POINTS], eye))

    def new_track(self) -> None:
        """The face was out of view: the next frame starts a new reference."""
        self.wipe()

    def add_blink(self) -> None:
        self._blinks += 1

    def wipe(self) -> None:
        if self._ref is not None:
            self._ref.fill(0)
            self._ref = None

    def verdict(self) -> PassiveVerdict:
        p = self.policy
        res = float(np.percentile(self._residuals, p.quantile)) if self._residuals else 0.0
        if self._frames < p.min_frames:
            return PassiveVerdict(
                Verdict.INCONCLUSIVE,
                (f"only {self._frames} frames with a face (need {p.min_frames})",),
                self._frames, res, self._blinks,
            )  # fmt: skip
        live: list[str] = []
        if self._blinks:
            live.append(f"{self._blinks} blink(s) seen")
        if res >= p.live_above:
            live.append(f"non-rigid face motion (residual {res:.3f} >= {p.live_above})")
        if live:
            return PassiveVerdict(Verdict.LIVE, tuple(live), self._frames, res, self._blinks)
        if res < p.rigid_below:
            return PassiveVerdict(
                Verdict.ATTACK,
                ("no blink", f"only planar (picture-like) motion: residual {res:.3f} < "
                 f"{p.rigid_below}"),
                self._frames, res, self._blinks,
            )  # fmt: skip
        return PassiveVerdict(
            Verdict.INCONCLUSIVE,
            ("no blink", f"little non-rigid motion (residual {res:.3f})"),
            self._frames, res, self._blinks,
        )  # fmt: skip
