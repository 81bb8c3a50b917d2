"""What the person is asked to do: text for the CLI, and a hook for an on-screen overlay.

The words say "your left" because people follow that better than "the screen's left"; the
detectors measure the same thing (signals.py), so a mirrored preview changes nothing.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TextIO

from attest.challenge import Gesture

PROMPT_TEXT: dict[Gesture, str] = {
    Gesture.BLINK: "Blink once",
    Gesture.TURN_LEFT: "Turn your head to your left, then back",
    Gesture.TURN_RIGHT: "Turn your head to your right, then back",
    Gesture.SMILE: "Smile",
}


@dataclass(frozen=True)
class Prompt:
    """Step `step` (1-based) of `total`; `gesture` None while waiting for a steady face."""

    step: int
    total: int
    gesture: Gesture | None
    #: After the challenge, when the passive checks saw too little (no blink, no motion
    #: in depth): ask for either again, the `extra`-th time.
    extra: int = 0

    @property
    def text(self) -> str:
        if self.extra:
            return "Not sure yet: blink or turn your head now"
        if self.gesture is None:
            return "Look at the camera"
        return f"Step {self.step} of {self.total}: {PROMPT_TEXT[self.gesture]}"


class Overlay(Protocol):
    """Shows prompts to the person: a terminal line, or drawn over the camera preview."""

    def show(self, prompt: Prompt) -> None: ...

    def done(self, message: str) -> None: ...


class TextOverlay:
    """The CLI's overlay: one line per prompt change."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stderr

    def show(self, prompt: Prompt) -> None:
        print(f">> {prompt.text}", file=self._stream, flush=True)

    def done(self, message: str) -> None:
        print(f">> {message}", file=self._stream, flush=True)


class PublishingOverlay:
    """An overlay for a screen in another thread or process (edge/screen/page.py): each
    prompt becomes a small dict handed to `publish`, with the seconds the person has for
    it (`window_s`: the tracker's step timeout, tracker.py `TrackerConfig.step_timeout_s`)
    so the screen can count down. Gesture names and step numbers only: nothing personal."""

    def __init__(self, publish: Callable[[dict[str, object]], None], window_s: float = 6.0) -> None:
        self._publish = publish
        self._window_s = window_s

    def show(self, prompt: Prompt) -> None:
        self._publish(
            {
                "kind": "prompt",
                "step": prompt.step,
                "total": prompt.total,
                "gesture": prompt.gesture.value if prompt.gesture is not None else None,
                "extra": prompt.extra,
                "seconds": self._window_s if prompt.gesture is not None or prompt.extra else 0,
                "text": prompt.text,
            }
        )

    def done(self, message: str) -> None:
        self._publish({"kind": "prompt-done"})
