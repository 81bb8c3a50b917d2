"""An in-memory FrameSource for session tests (below the adapter line: the real adapters are
tested against a real recording in test_replay.py)."""

from __future__ import annotations

from edge.capture.source import FrameFormat, Pixels, check_out


class PatternSource:
    """Frames whose every pixel is (index % 250) + 1, so no frame is ever all zero."""

    def __init__(
        self, count: int, *, size: tuple[int, int] = (32, 24), fail_at: int | None = None
    ) -> None:
        self.format = FrameFormat(size[0], size[1], 30.0)
        self.count = count
        self.fail_at = fail_at
        self.read = 0
        self.closed = False

    def read_into(self, out: Pixels) -> float | None:
        check_out(out, self.format)
        if self.fail_at is not None and self.read == self.fail_at:
            out[: out.shape[0] // 2] = 7  # a half-written frame, then the camera dies
            raise OSError("camera unplugged")
        if self.read >= self.count:
            return None
        out.fill(self.read % 250 + 1)
        self.read += 1
        return (self.read - 1) / self.format.fps

    def close(self) -> None:
        self.closed = True
