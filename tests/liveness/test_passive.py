import cv2
import numpy as np

from edge.liveness.passive import PassiveChecks, Verdict, homography_residual
from tests.liveness.conftest import f32
from tests.liveness.synth import BLINK, TURN_LEFT, Pose, render, sequence, still, template


def _photo_frames(n: int, seed: int = 3) -> list[np.ndarray]:
    """A printed photo moved, tilted and turned: each frame's landmarks are one homography
    of the photo's, plus landmark jitter."""
    rng = np.random.default_rng(seed)
    flat = render(template(), Pose())[:, :2]
    quad = f32([[0, 0], [640, 0], [640, 480], [0, 480]])
    out = []
    for i in range(n):
        a = 2 * np.pi * i / n
        d = f32([[30 * np.sin(a), 20 * np.cos(a)], [-15 * np.sin(a), -10],
                 [10, 25 * np.sin(a)], [-20 * np.cos(a), 5]])  # fmt: skip
        h = cv2.getPerspectiveTransform(quad, quad + d)
        pts = cv2.perspectiveTransform(flat[None].astype(np.float32), h)[0]
        out.append(pts + rng.normal(0, 0.3, pts.shape))
    return out


def test_residual_is_zero_for_an_exact_homography() -> None:
    flat = render(template(), Pose())[:, :2].astype(np.float64)
    h = np.array([[1.1, 0.05, 10], [-0.03, 0.95, 5], [1e-4, -2e-4, 1]])
    moved = np.c_[flat, np.ones(468)] @ h.T
    moved = moved[:, :2] / moved[:, 2:]
    assert homography_residual(flat, moved, 100.0) < 1e-9


def test_photo_moved_around_is_a_presentation_attack() -> None:
    checks = PassiveChecks()
    for xy in _photo_frames(60):
        checks.add(xy)
    v = checks.verdict()
    assert v.verdict is Verdict.ATTACK, v
    assert v.nonrigid < 0.025 and v.blinks == 0 and any("planar" in r for r in v.reasons)


def test_real_head_motion_or_a_blink_is_live() -> None:
    checks = PassiveChecks()
    for p in sequence(still(10), TURN_LEFT, still(10)):
        checks.add(render(template(), Pose(**p))[:, :2])
    v = checks.verdict()
    assert v.verdict is Verdict.LIVE and v.nonrigid > 0.045

    blink_only = PassiveChecks()
    for p in sequence(still(20), BLINK, still(10)):
        blink_only.add(render(template(), Pose(**p))[:, :2])
    blink_only.add_blink()
    assert blink_only.verdict().verdict is Verdict.LIVE


def test_a_face_that_holds_still_and_never_blinks_is_inconclusive_not_an_attack() -> None:
    # Issue 14: without blinks or motion in depth a face cannot be told from a picture of
    # it, and a live person must never be called an attack for keeping still. So: not
    # enough evidence, "blink / turn now" (the engine prompts again).
    checks = PassiveChecks()
    for i in range(40):
        checks.add(render(template(), Pose(yaw=3 * np.sin(i / 6)))[:, :2])
    v = checks.verdict()
    assert v.verdict is Verdict.INCONCLUSIVE, v
    assert "blink or turn" in v.reasons[0] and v.score == 0.0


def test_too_few_frames_is_inconclusive_and_wipe_clears_the_reference() -> None:
    checks = PassiveChecks()
    for xy in _photo_frames(5):
        checks.add(xy)
    assert checks.verdict().verdict is Verdict.INCONCLUSIVE
    ref = checks._ref
    assert ref is not None and ref.any()
    checks.wipe()
    assert not ref.any() and checks._ref is None


def test_a_passed_challenge_fails_when_the_passive_checks_see_a_picture() -> None:
    from edge.liveness.engine import combine
    from edge.liveness.passive import PassiveVerdict
    from edge.liveness.result import LivenessResult, Outcome, Reason

    passed = LivenessResult(Outcome.PASSED, Reason.PASSED, "ok", "blink", steps_done=1)
    attack = PassiveVerdict(Verdict.ATTACK, ("no blink", "only planar"), 90, 0.01, 0)
    live = PassiveVerdict(Verdict.LIVE, ("1 blink(s) seen",), 90, 0.1, 1)
    vetoed = combine(passed, attack)
    assert vetoed.outcome is Outcome.FAILED and vetoed.reason is Reason.PASSIVE_ATTACK
    assert "only planar" in vetoed.message and vetoed.challenge == "blink"
    kept = combine(passed, live, ("challenge",))
    assert kept.outcome is Outcome.PASSED and kept.reason is Reason.PASSED
    assert kept.checks == ("challenge", "nonrigid", "blink")  # the evidence names them
    timed_out = LivenessResult(Outcome.FAILED, Reason.STEP_TIMEOUT, "late", "blink")
    late = combine(timed_out, attack)
    assert late.outcome is Outcome.FAILED and late.reason is Reason.STEP_TIMEOUT
