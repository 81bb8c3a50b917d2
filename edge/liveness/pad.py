"""Passive presentation-attack detection from pixels: what a screen or a print shows that a
face does not (ISO/IEC 30107-1 clause 3: a presentation attack instrument in front of the
camera). Pure numpy, one face track at a time, a few milliseconds a frame at most.

Cues, each a number per frame (or per window), each with a documented "no evidence" and
"full evidence" level, fused into one score in passive.py:

- **moire**: a screen is a grid of sub-pixels re-sampled by the camera's own grid; their
  beat (moiré) and the grid itself show as isolated peaks in the spectrum of the face's
  skin, where skin, hair and camera noise give a smooth fall-off. Measured as the ratio of
  the strongest mid/high-frequency peak to the median of that band (log10), on a patch of
  cheek and nose at native resolution (resampling would erase the grid).
- **bezel**: a phone, tablet or print held up to the camera has straight edges around the
  face: long, continuous lines above, below, left and right of it. Counted as the number of
  sides (0-4) of the region around the face crossed by a straight, near-axis edge spanning
  most of that side.
- **glare**: the glossy front of a screen or a photo reflects lamps as large saturated
  patches over the face; skin gives small highlights. Measured as the fraction of the
  face box at the sensor's ceiling in all three channels.
- **flicker**: a display refreshes and a camera samples it at another rate; the beat shows
  as frame-to-frame brightness changes of the face region that the room around it does
  not share (room lights flicker on both). Measured as the ratio of the face's detrended
  brightness fluctuation to its surroundings'.
- **colour**: an emissive display re-captured by a camera shifts skin out of the skin
  chrominance locus (Chai and Ngan's Cb/Cr box). Measured as the fraction of face-box
  pixels outside it. A weak cue: lighting does it too, so its weight is small.
- **comove**: a picture held in the hand moves the face and what surrounds it as one;
  a person in a room moves in front of a still background. Measured as the regression of
  the surroundings' shift (phase correlation) on the face's shift over the window.

What this cannot see: a replay on a large, high-resolution screen far enough from the
camera that its grid is below the sensor's resolution, shown without bezel, glare or
handheld motion, with colours close to skin. The nonce-derived challenge is what defeats
a recorded video; docs/threat-model.md says what remains.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

#: Skin chrominance locus in ITU-R BT.601 YCbCr (Chai and Ngan, 1999).
_CB = (77.0, 127.0)
_CR = (133.0, 173.0)
_LUMA = np.array([0.299, 0.587, 0.114])
#: The ceiling of an 8-bit sensor, with a little room for compression noise.
_SATURATED = 248


@dataclass(frozen=True)
class CueLevels:
    """(no evidence, full evidence) for each cue; evidence ramps linearly in between."""

    moire: tuple[float, float] = (1.2, 1.8)  # log10 peak over its ring median
    bezel: tuple[float, float] = (2.0, 3.0)  # sides with a long straight edge
    glare: tuple[float, float] = (0.02, 0.08)
    flicker: tuple[float, float] = (2.5, 6.0)  # face fluctuation / surroundings'
    colour: tuple[float, float] = (0.5, 0.85)  # fraction of face pixels outside skin
    comove: tuple[float, float] = (0.5, 0.85)  # surroundings' shift per face shift


@dataclass(frozen=True)
class CueWeights:
    """How much full evidence from each cue counts; 1.0 alone calls an attack."""

    moire: float = 1.0
    bezel: float = 0.7
    glare: float = 0.5
    flicker: float = 0.6
    colour: float = 0.3
    comove: float = 1.0


def ramp(value: float, levels: tuple[float, float]) -> float:
    lo, hi = levels
    return float(np.clip((value - lo) / (hi - lo), 0.0, 1.0)) if hi > lo else 0.0


def _gray(rgb: NDArray[np.uint8]) -> NDArray[np.float32]:
    return (rgb.astype(np.float32) @ _LUMA.astype(np.float32)).astype(np.float32)


def moire_peak(gray: NDArray[np.float32]) -> float | None:
    """log10 of the strongest spectral peak between 0.12 and 0.5 cycles per pixel, each
    magnitude first divided by the median magnitude at its own spatial frequency (rings of
    the spectrum), so that the natural fall-off of skin and lens blur is not mistaken for a
    peak. About 0.7 for noise-like texture; a periodic grid stands far above its ring.
    None for a patch under 24 pixels a side."""
    h, w = gray.shape
    if min(h, w) < 24:
        return None
    g = gray - float(gray.mean())
    win = np.outer(np.hanning(h), np.hanning(w)).astype(np.float32)
    mag = np.abs(np.fft.rfft2(g * win))
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    r = np.sqrt(fy * fy + fx * fx)
    sel = (r >= 0.12) & (r <= 0.5)
    if int(sel.sum()) < 16:
        return None
    rings = np.minimum(((r[sel] - 0.12) / 0.38 * 8).astype(int), 7)
    vals = mag[sel]
    med = np.array([np.median(vals[rings == k]) if np.any(rings == k) else 0.0 for k in range(8)])
    norm = vals / np.maximum(med[rings], 1e-6)
    if float(med.max()) <= 1e-6:
        return None
    return float(np.log10(float(norm.max())))


def _dilate(mask: NDArray[np.bool_], axis: int, r: int) -> NDArray[np.bool_]:
    out = mask.copy()
    for k in range(1, r + 1):
        out |= np.roll(mask, k, axis=axis) | np.roll(mask, -k, axis=axis)
    return out


def straight_sides(gray: NDArray[np.float32], inner: tuple[int, int, int, int]) -> int:
    """How many of the four sides around the inner (face) box, within `gray`, hold a
    straight edge along most of that side: a row (above or below the face) or a column
    (left or right of it) where a strong gradient across it runs continuously over at
    least 60 % of the region's width (or height)."""
    h, w = gray.shape
    x0, y0, x1, y1 = inner
    gy = np.abs(np.diff(gray, axis=0))[:, :-1]
    gx = np.abs(np.diff(gray, axis=1))[:-1, :]
    strong = max(10.0, float(np.percentile(np.maximum(gx, gy), 85)))
    horiz = (gy > strong) & (gy > 2 * gx)
    vert = (gx > strong) & (gx > 2 * gy)
    # A held phone or print is rarely level: let a line drift a few pixels across its
    # length (dilate across it) before asking how much of a row or column it covers.
    horiz = _dilate(horiz, axis=0, r=3)
    vert = _dilate(vert, axis=1, r=3)
    rows = horiz.mean(axis=1)  # fraction of each row that is a horizontal edge
    cols = vert.mean(axis=0)
    sides = 0
    for part in (rows[: max(y0 - 1, 0)], rows[min(y1, h - 2) :]):
        if part.size and float(part.max()) >= 0.6:
            sides += 1
    for part in (cols[: max(x0 - 1, 0)], cols[min(x1, w - 2) :]):
        if part.size and float(part.max()) >= 0.6:
            sides += 1
    return sides


def phase_shift(a: NDArray[np.float32], b: NDArray[np.float32]) -> tuple[float, float, float]:
    """(dx, dy, peak) by phase correlation of two equally sized patches; peak near 1 for a
    clean shift, near 0 for no common content."""
    fa = np.fft.rfft2(a - float(a.mean()))
    fb = np.fft.rfft2(b - float(b.mean()))
    cross = fb * np.conj(fa)
    cross /= np.abs(cross) + 1e-9
    corr = np.fft.irfft2(cross, s=a.shape)
    idx = int(np.argmax(corr))
    py, px = divmod(idx, a.shape[1])
    h, w = a.shape
    dy = py - h if py > h // 2 else py
    dx = px - w if px > w // 2 else px
    return float(dx), float(dy), float(corr.flat[idx])


@dataclass
class CueReport:
    """Window summaries of each cue, and the evidence (0-1) each gives."""

    values: dict[str, float]
    evidence: dict[str, float]
    frames: int

    def score(self, weights: CueWeights) -> float:
        return float(sum(getattr(weights, k) * v for k, v in self.evidence.items()))


class PixelCues:
    """Collects the pixel cues of one face track. Keeps only numbers and two small grey
    patches of the surroundings (for the shift), wiped by `wipe`."""

    def __init__(self, levels: CueLevels | None = None, every: int = 3, window: int = 90) -> None:
        self.levels = levels or CueLevels()
        self.every = max(1, every)
        self._n = 0
        self._moire: deque[float] = deque(maxlen=window)
        self._bezel: deque[int] = deque(maxlen=window)
        self._glare: deque[float] = deque(maxlen=window)
        self._colour: deque[float] = deque(maxlen=window)
        self._face_luma: deque[float] = deque(maxlen=window)
        self._ring_luma: deque[float] = deque(maxlen=window)
        self._face_shift: list[tuple[float, float]] = []
        self._ring_shift: list[tuple[float, float]] = []
        self._prev_ring: NDArray[np.float32] | None = None
        self._prev_centre: NDArray[np.float64] | None = None
        self._prev_box: tuple[int, int, int, int] | None = None

    def add(self, rgb: NDArray[np.uint8], xy: NDArray[np.floating]) -> None:
        """One frame and its face mesh (468, >=2) in image pixels."""
        pts = np.asarray(xy, dtype=np.float64)[:, :2]
        if pts.shape[0] != 468 or not np.isfinite(pts).all():
            return  # not a usable mesh (face_signals has already refused it in the engine)
        h, w = rgb.shape[:2]
        fx0, fy0 = np.floor(pts.min(axis=0)).astype(int)
        fx1, fy1 = np.ceil(pts.max(axis=0)).astype(int)
        fx0, fy0 = max(int(fx0), 0), max(int(fy0), 0)
        fx1, fy1 = min(int(fx1), w), min(int(fy1), h)
        if fx1 - fx0 < 8 or fy1 - fy0 < 8:
            return
        self._n += 1
        bw, bh = fx1 - fx0, fy1 - fy0
        rx0, ry0 = max(fx0 - bw, 0), max(fy0 - bh // 2, 0)
        rx1, ry1 = min(fx1 + bw, w), min(fy1 + bh // 2, h)

        face = rgb[fy0:fy1, fx0:fx1]
        region = rgb[ry0:ry1, rx0:rx1]
        face_mean = float(face[::2, ::2].mean())
        # Surroundings: the region minus the face box, from its coarse mean.
        reg_sum = float(region[::2, ::2].astype(np.float64).sum()) * 4
        face_sum = face_mean * face.shape[0] * face.shape[1] * 3
        ring_px = max(region.shape[0] * region.shape[1] * 3 - face.shape[0] * face.shape[1] * 3, 1)
        self._face_luma.append(face_mean)
        self._ring_luma.append(max(reg_sum - face_sum, 0.0) / ring_px)

        centre = pts.mean(axis=0)
        self._track_shift(rgb, centre, (rx0, ry0, rx1, ry1), (fx0, fy0, fx1, fy1))

        if (self._n - 1) % self.every:
            return
        # Skin patch: between the outer eye corners, from the eyes to the upper lip.
        ex0, ex1 = sorted((pts[33, 0], pts[263, 0]))
        ey0, ey1 = float(min(pts[33, 1], pts[263, 1])), float(pts[13, 1])
        sx0, sx1 = int(max(ex0, 0)), int(min(ex1, w))
        sy0, sy1 = int(max(ey0, 0)), int(min(ey1, h))
        if sx1 - sx0 >= 24 and sy1 - sy0 >= 24:
            cx, cy = (sx0 + sx1) // 2, (sy0 + sy1) // 2
            half = min(48, (sx1 - sx0) // 2, (sy1 - sy0) // 2)
            patch = _gray(rgb[cy - half : cy + half, cx - half : cx + half])
            m = moire_peak(patch)
            patch.fill(0)
            if m is not None:
                self._moire.append(m)
        sat = face.min(axis=2) >= _SATURATED
        self._glare.append(float(sat[::2, ::2].mean()))
        sub = face[::2, ::2].astype(np.float32)
        r, g, b = sub[..., 0], sub[..., 1], sub[..., 2]
        cb = 128.0 - 0.168736 * r - 0.331264 * g + 0.5 * b
        cr = 128.0 + 0.5 * r - 0.418688 * g - 0.081312 * b
        skin = (cb >= _CB[0]) & (cb <= _CB[1]) & (cr >= _CR[0]) & (cr <= _CR[1])
        self._colour.append(1.0 - float(skin.mean()))
        sub.fill(0)
        step = 2 if max(region.shape[:2]) > 240 else 1
        gray = _gray(region[::step, ::step])
        inner = ((fx0 - rx0) // step, (fy0 - ry0) // step, (fx1 - rx0) // step,
                 (fy1 - ry0) // step)  # fmt: skip
        self._bezel.append(straight_sides(gray, inner))
        gray.fill(0)

    def _track_shift(
        self,
        rgb: NDArray[np.uint8],
        centre: NDArray[np.float64],
        region: tuple[int, int, int, int],
        face: tuple[int, int, int, int],
    ) -> None:
        """Shift of a fixed 64x64 patch beside the face (the side with more room) from the
        previous frame, next to the face's own shift."""
        h, w = rgb.shape[:2]
        fx0, fy0, fx1, fy1 = face
        size = 64
        if self._prev_box is None:
            left = fx0 >= w - fx1
            x0 = max(fx0 - size - 4, 0) if left else min(fx1 + 4, w - size)
            y0 = int(np.clip((fy0 + fy1) // 2 - size // 2, 0, max(h - size, 0)))
            self._prev_box = (x0, y0, x0 + size, y0 + size)
        x0, y0, x1, y1 = self._prev_box
        overlaps = x0 < fx1 and x1 > fx0 and y0 < fy1 and y1 > fy0
        if x1 > w or y1 > h or x0 < 0 or y0 < 0 or overlaps:
            self._prev_ring, self._prev_centre, self._prev_box = None, None, None
            return
        patch = _gray(rgb[y0:y1, x0:x1])
        if self._prev_ring is not None and self._prev_centre is not None:
            dx, dy, peak = phase_shift(self._prev_ring, patch)
            if peak < 0.1:
                dx = dy = 0.0
            fd = centre - self._prev_centre
            self._face_shift.append((float(fd[0]), float(fd[1])))
            self._ring_shift.append((dx, dy))
            self._prev_ring.fill(0)
        self._prev_ring = patch
        self._prev_centre = centre

    def report(self) -> CueReport:
        lv = self.levels
        values: dict[str, float] = {}
        if self._moire:
            values["moire"] = float(np.median(self._moire))
        if self._bezel:
            values["bezel"] = float(np.median(self._bezel))
        if self._glare:
            values["glare"] = float(np.median(self._glare))
        if self._colour:
            values["colour"] = float(np.median(self._colour))
        if len(self._face_luma) >= 15:
            f = np.asarray(self._face_luma)
            r = np.asarray(self._ring_luma)
            df, dr = np.abs(np.diff(f, 2)), np.abs(np.diff(r, 2))
            values["flicker"] = float((df.mean() + 0.05) / (dr.mean() + 0.05))
        if self._face_shift:
            fs = np.asarray(self._face_shift)
            rs = np.asarray(self._ring_shift)
            moved = float(np.abs(fs).sum())
            if moved >= 20.0:  # pixels of face travel over the window
                values["comove"] = float((fs * rs).sum() / max(float((fs * fs).sum()), 1e-9))
        evidence = {k: ramp(v, getattr(lv, k)) for k, v in values.items()}
        return CueReport(values=values, evidence=evidence, frames=self._n)

    def wipe(self) -> None:
        if self._prev_ring is not None:
            self._prev_ring.fill(0)
        self._prev_ring = None
        self._prev_centre = None
        self._prev_box = None
