"""Pixel presentation-attack cues (pad.py) and their fusion (passive.py), on synthetic
pictures the project makes here: a screen's sub-pixel grid, a rectangle around the face, a
glare patch, a picture moving with its surroundings. These pin what each cue measures, not
its error rates (docs/capture-liveness.md has those, and says how little data backs them)."""

from __future__ import annotations

import numpy as np
import pytest

from edge.liveness.pad import (
    CueLevels,
    PixelCues,
    moire_peak,
    phase_shift,
    ramp,
    straight_sides,
)
from edge.liveness.passive import PassiveChecks, Verdict
from tests.liveness.synth import Pose, render, template


def _skin(n: int = 96, seed: int = 0) -> np.ndarray:
    """Smooth, textured skin-like luminance: blurred noise plus a shading gradient."""
    rng = np.random.default_rng(seed)
    g = rng.normal(0, 1, (n, n))
    k = np.exp(-0.5 * (np.arange(-6, 7) / 2.5) ** 2)
    g = np.apply_along_axis(lambda r: np.convolve(r, k, "same"), 0, g)
    g = np.apply_along_axis(lambda r: np.convolve(r, k, "same"), 1, g)
    y = np.linspace(0, 1, n)[:, None]
    out: np.ndarray = 140 + 25 * g / (g.std() + 1e-9) + 30 * y + rng.normal(0, 2, (n, n))
    return out.astype(np.float32)


def test_a_subpixel_grid_shows_as_an_isolated_spectral_peak() -> None:
    skin = _skin()
    live = moire_peak(skin)
    n = skin.shape[0]
    x = np.arange(n)
    grid = skin * (0.75 + 0.25 * np.cos(2 * np.pi * 0.31 * x))[None, :]  # a beat at 0.31 c/px
    screen = moire_peak(grid.astype(np.float32))
    assert live is not None and screen is not None
    assert live < CueLevels().moire[0] <= CueLevels().moire[1] < screen
    assert moire_peak(skin[:10, :10]) is None


def test_a_rectangle_round_the_face_counts_its_sides() -> None:
    img = np.full((120, 160), 90.0, dtype=np.float32)
    img[10:110, 20:140] = 30.0  # bezel
    img[16:104, 26:134] = 160.0  # screen
    assert straight_sides(img, (55, 35, 105, 85)) == 4
    plain = _skin(120)[:, :120].repeat(2, axis=1)[:, :160]
    assert straight_sides(plain, (55, 35, 105, 85)) <= 1


def test_phase_correlation_finds_a_shift() -> None:
    a = _skin(64, seed=2)
    b = np.roll(a, (3, -5), axis=(0, 1))
    dx, dy, peak = phase_shift(a, b)
    assert (dx, dy) == (-5.0, 3.0) and peak > 0.3


def _frame(face_shift: tuple[int, int], bg_shift: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """A 240x320 frame: textured background (shifted by bg_shift), a face-sized textured
    patch (shifted by face_shift), and a synthetic mesh placed on that patch."""
    rng = np.random.default_rng(7)
    bg = rng.integers(0, 255, (240 + 40, 320 + 40, 3)).astype(np.uint8)
    by, bx = 20 - bg_shift[1], 20 - bg_shift[0]  # the crop window moves against its content
    img = np.ascontiguousarray(bg[by : by + 240, bx : bx + 320])
    mesh = render(template(), Pose())[:, :2]
    mesh = (mesh - mesh.mean(axis=0)) / (np.ptp(mesh[:, 0]) / 70.0)
    mesh += np.array([160 + face_shift[0], 120 + face_shift[1]])
    x0, y0 = (mesh.min(axis=0)).astype(int)
    x1, y1 = (mesh.max(axis=0)).astype(int)
    img[y0:y1, x0:x1] = 150
    return img, mesh


def test_surroundings_moving_with_the_face_is_evidence_of_a_held_picture() -> None:
    held, room = PixelCues(), PixelCues()
    for i in range(30):
        s = (round(8 * np.sin(i / 4)), round(5 * np.cos(i / 5)))
        held.add(*_frame(s, s))
        room.add(*_frame(s, (0, 0)))
    assert held.report().evidence["comove"] == 1.0
    assert room.report().evidence["comove"] == 0.0


def test_a_still_face_gives_no_comove_value_and_glare_is_measured() -> None:
    cues = PixelCues()
    img, mesh = _frame((0, 0), (0, 0))
    x0, y0 = mesh.min(axis=0).astype(int)
    img[y0 : y0 + 30, x0 : x0 + 40] = 255  # a lamp reflected in the glass
    for _ in range(20):
        cues.add(img, mesh)
    rep = cues.report()
    assert "comove" not in rep.values  # nothing moved: no evidence either way
    assert rep.values["glare"] > 0.08 and rep.evidence["glare"] == 1.0
    cues.wipe()


def test_ramp_and_fusion_thresholds() -> None:
    assert ramp(0.0, (1.0, 2.0)) == 0.0 and ramp(1.5, (1.0, 2.0)) == 0.5
    assert ramp(9.0, (1.0, 2.0)) == 1.0 and ramp(1.0, (2.0, 2.0)) == 0.0


def test_a_held_picture_moving_with_its_background_is_an_attack_even_if_it_blinks() -> None:
    """Replays show blinks too: live evidence does not override attack evidence."""
    checks = PassiveChecks()
    for i in range(40):
        s = (round(8 * np.sin(i / 4)), round(5 * np.cos(i / 5)))
        checks.add_frame(*_frame(s, s))
    checks.add_blink()
    v = checks.verdict()
    assert v.verdict is Verdict.ATTACK, v
    assert v.score >= 1.0 and any(r.startswith("comove") for r in v.reasons)
    assert dict((c, e) for c, _, e in v.cues)["comove"] == 1.0 and "comove" in v.checks
    assert "pad_score" in v.to_dict()


def test_a_person_in_a_room_who_keeps_still_is_inconclusive_and_one_who_blinks_live() -> None:
    still = PassiveChecks()
    img, mesh = _frame((0, 0), (0, 0))
    for _ in range(40):
        still.add_frame(img, mesh)
    v = still.verdict()
    assert v.verdict is Verdict.INCONCLUSIVE and v.score < 0.5
    still.add_blink()
    assert still.verdict().verdict is Verdict.LIVE


@pytest.mark.parametrize("bad", [dict(attack_score=0.4), dict(pixel_every=0)])
def test_passive_policy_is_checked(bad: dict[str, float]) -> None:
    from edge.liveness.errors import PolicyError
    from edge.liveness.passive import PassivePolicy

    with pytest.raises(PolicyError):
        PassivePolicy(**bad)  # type: ignore[arg-type]


def test_cues_ignore_a_malformed_mesh_and_a_tiny_face() -> None:
    cues = PixelCues()
    img = np.zeros((120, 160, 3), dtype=np.uint8)
    bad = np.full((468, 2), np.nan)
    cues.add(img, bad)
    cues.add(img, np.zeros((10, 2)))
    cues.add(img, np.full((468, 2), 50.0))  # every point in one place: no face box
    assert cues.report().frames == 0 and cues.report().values == {}
