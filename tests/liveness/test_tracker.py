import pytest

from attest.challenge import Gesture, derive_challenge
from edge.liveness.errors import PolicyError
from edge.liveness.result import Outcome, Reason
from edge.liveness.tracker import ChallengePolicy, ChallengeTracker
from tests.liveness.helpers import challenge_run
from tests.liveness.synth import BLINK, SMILE, TURN_LEFT, TURN_RIGHT, sequence, still

PART = {
    Gesture.BLINK: BLINK,
    Gesture.TURN_LEFT: TURN_LEFT,
    Gesture.TURN_RIGHT: TURN_RIGHT,
    Gesture.SMILE: SMILE,
}
L, R, B, S = Gesture.TURN_LEFT, Gesture.TURN_RIGHT, Gesture.BLINK, Gesture.SMILE


def perform(*gestures: Gesture, lead: int = 20, gap: int = 15) -> list[dict[str, float]]:
    parts = [still(lead)]
    for g in gestures:
        parts += [PART[g], still(gap)]
    return sequence(*parts)


@pytest.mark.parametrize("nonce", [bytes([i]) * 16 for i in range(8)])
def test_performing_the_derived_challenge_passes(nonce: bytes) -> None:
    challenge = derive_challenge(nonce)
    result, _, _ = challenge_run(perform(*challenge), challenge)
    assert result is not None and result.outcome is Outcome.PASSED, result
    assert result.reason is Reason.PASSED and result.steps_done == len(challenge)
    assert result.challenge == ",".join(g.value for g in challenge)
    assert result.method.startswith("edgeproof-active-challenge")
    assert result.decided_frame is not None


def test_wrong_order_fails_at_the_step_with_the_gesture() -> None:
    result, _, _ = challenge_run(perform(R, L, S), (L, R, S))
    assert result is not None and result.outcome is Outcome.FAILED
    assert result.reason is Reason.WRONG_GESTURE
    assert (result.failed_step, result.failed_gesture) == (1, L)
    assert "turn_right instead of turn_left" in result.message


def test_a_replay_of_another_challenge_fails() -> None:
    # Every ordered 3-step challenge other than the one performed fails.
    performed = (L, S, R)
    poses = perform(*performed)
    for nonce in (bytes([i, 7]) for i in range(40)):
        challenge = derive_challenge(nonce)
        result, _, _ = challenge_run(poses, challenge)
        assert result is not None
        assert (result.outcome is Outcome.PASSED) == (challenge == performed), challenge


def test_involuntary_blinks_do_not_count_against_the_person() -> None:
    poses = perform(L, lead=20) + sequence(BLINK, still(10)) + perform(S, lead=5)
    result, _, _ = challenge_run(poses, (L, S))
    assert result is not None and result.passed


def test_step_not_performed_times_out() -> None:
    result, _, _ = challenge_run(perform(L) + still(200), (L, S))
    assert result is not None and result.outcome is Outcome.FAILED
    assert result.reason is Reason.STEP_TIMEOUT
    assert (result.failed_step, result.failed_gesture) == (2, S)


def test_face_lost_mid_challenge_fails() -> None:
    poses = perform(L, R)
    result, _, _ = challenge_run(poses, (L, R), missing=range(50, 70))
    assert result is not None and result.reason is Reason.FACE_LOST
    # ...but a few dropped frames are tolerated.
    result2, _, _ = challenge_run(poses, (L, R), missing={30, 31, 60})
    assert result2 is not None and result2.passed


def test_two_faces_fail_but_a_one_frame_glitch_does_not() -> None:
    poses = perform(L, R)
    result, _, _ = challenge_run(poses, (L, R), two_faces=range(40, 50))
    assert result is not None and result.reason is Reason.MULTIPLE_FACES
    result2, _, _ = challenge_run(poses, (L, R), two_faces={40, 60})
    assert result2 is not None and result2.passed


def test_a_different_face_fails() -> None:
    result, _, _ = challenge_run(perform(L, R), (L, R), other_face={45})
    assert result is not None and result.reason is Reason.FACE_CHANGED


def test_inconclusive_without_a_face_or_when_the_video_stops() -> None:
    result, _, _ = challenge_run(still(30), (L,), missing=range(30))
    assert result is not None and result.outcome is Outcome.INCONCLUSIVE
    assert result.reason is Reason.NO_FACE
    result2, _, _ = challenge_run(perform(L), (L, R))
    assert result2 is not None and result2.outcome is Outcome.INCONCLUSIVE
    assert result2.reason is Reason.INCOMPLETE and "step 2" in result2.message
    # A face that never looks at the camera never gets a first prompt.
    turned = [{"yaw": 40.0}] * 1000
    result3, _, _ = challenge_run(turned, (L,))
    assert result3 is not None and result3.reason is Reason.SESSION_TIMEOUT


def test_prompts_follow_the_steps() -> None:
    _, tracker, _ = challenge_run(perform(L), (L, S), finish=False)
    assert tracker.prompt.step == 2 and tracker.prompt.gesture is S
    assert tracker.prompt.text == "Step 2 of 2: Smile"
    assert ChallengeTracker((B,)).prompt.text == "Look at the camera"


def test_policy_and_empty_challenge_are_checked() -> None:
    with pytest.raises(PolicyError):
        ChallengeTracker(())
    with pytest.raises(PolicyError):
        ChallengePolicy(step_timeout_s=60, session_timeout_s=30)


def test_before_the_first_prompt_a_second_face_only_delays_the_start() -> None:
    poses = perform(L, lead=40)
    result, tracker, _ = challenge_run(poses, (L,), two_faces=range(0, 30), other_face={5})
    assert result is not None and result.passed
    assert tracker.result is not None and tracker.result.decided_frame is not None
    # The first prompt came only after the second face had gone (frame 30) plus settling.
    assert not challenge_run(poses[:38], (L,), two_faces=range(0, 30), finish=False)[
        1
    ].prompt.gesture
