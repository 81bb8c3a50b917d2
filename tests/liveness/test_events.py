import pytest

from attest.challenge import Gesture
from edge.liveness.errors import PolicyError
from edge.liveness.events import SignalPolicy
from tests.liveness.helpers import detect, kinds
from tests.liveness.synth import BLINK, SMILE, TURN_LEFT, TURN_RIGHT, ramp, sequence, still


def test_blink_has_start_and_end_frames() -> None:
    events = detect(sequence(still(20), BLINK, still(10)))
    assert kinds(events) == [Gesture.BLINK]
    b = events[0]
    assert 20 <= b.start_frame < b.end_frame <= 26 and b.peak < 0.15


def test_noise_alone_is_no_gesture() -> None:
    assert detect(still(150), noise=0.8) == []


def test_eyes_closed_too_long_is_not_a_blink() -> None:
    long_closure = ramp("eyes_closed", 1.0, 2, 30, 2)  # a second with eyes shut
    assert detect(sequence(still(20), long_closure, still(10))) == []


def test_blink_needs_to_be_seen_closing_and_opening() -> None:
    # The face drops out for 12 frames (0.4 s) right in the blink: not a blink.
    poses = sequence(still(20), BLINK, still(30))
    assert detect(poses, missing=range(21, 33)) == []
    # A one-frame dropout outside the blink changes nothing.
    assert kinds(detect(poses, missing={10})) == [Gesture.BLINK]


def test_one_eye_closing_is_not_a_blink() -> None:
    # A wink, or the far eye hidden by a turned head: both eyes must close.
    assert detect(sequence(still(20), ramp("wink", 1.0, 2, 2, 2), still(10))) == []


def test_blink_on_a_turned_face_is_ignored() -> None:
    turned = [{"yaw": 45.0, **p} for p in BLINK]
    assert kinds(detect(sequence(still(20), [{"yaw": 45.0}] * 10, turned))) == [Gesture.TURN_LEFT]


@pytest.mark.parametrize(
    ("part", "gesture"), [(TURN_LEFT, Gesture.TURN_LEFT), (TURN_RIGHT, Gesture.TURN_RIGHT)]
)
def test_turns(part: list[dict[str, float]], gesture: Gesture) -> None:
    events = detect(sequence(still(15), part, still(15)))
    assert kinds(events) == [gesture]
    assert abs(events[0].peak) > 30


def test_small_turn_is_no_turn() -> None:
    assert detect(sequence(still(15), ramp("yaw", 15.0, 5, 10, 5), still(15))) == []


def test_hysteresis_one_event_for_a_wobbly_turn() -> None:
    wobble = [{"yaw": 22.0 + (4.0 if i % 2 else -4.0)} for i in range(40)]
    assert kinds(detect(sequence(still(15), wobble, still(15)))) == [Gesture.TURN_LEFT]
    back_and_again = sequence(still(15), TURN_LEFT, still(10), TURN_LEFT, still(10))
    assert kinds(detect(back_and_again)) == [Gesture.TURN_LEFT, Gesture.TURN_LEFT]


def test_smile() -> None:
    events = detect(sequence(still(40), SMILE, still(20)))
    assert kinds(events) == [Gesture.SMILE]
    assert events[0].peak > 1.12


def test_every_gesture_in_one_sequence() -> None:
    poses = sequence(still(20), TURN_LEFT, still(10), BLINK, still(10), TURN_RIGHT, still(10),
                     SMILE, still(10))  # fmt: skip
    assert kinds(detect(poses)) == [
        Gesture.TURN_LEFT, Gesture.BLINK, Gesture.TURN_RIGHT, Gesture.SMILE,
    ]  # fmt: skip


def test_policy_is_checked() -> None:
    with pytest.raises(PolicyError):
        SignalPolicy(turn_enter=10, turn_exit=20)
    with pytest.raises(PolicyError):
        SignalPolicy(blink_close=0.9, blink_open=0.8)
