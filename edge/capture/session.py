"""A capture session: frames from a FrameSource into a ring the session owns and wipes.

    with CaptureSession(source, buffer_frames=8) as session:
        for frame in session.frames():
            ...                       # frame.pixels is a view into the ring
    session.report                   # ErasureReport: captured == erased, checked zero

Whatever happens inside the `with` (success, a failed check, an exception, Ctrl-C), the
exit wipes every slot, closes the source and fills in the report. Entering also sets the
process's core-dump limit to zero (memlock.py), so a crash cannot dump frames to disk.
A frame's pixels are valid until `buffer_frames` more frames have been captured; a
consumer that needs a frame longer copies it into a buffer it owns and wipes
(edge.face.buffers.wiped).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import TracebackType

from edge.capture import memlock
from edge.capture.errors import CaptureConfigError, CaptureError
from edge.capture.ring import FrameRing
from edge.capture.source import FrameFormat, FrameSource, Pixels

DEFAULT_BUFFER_FRAMES = 8


@dataclass(frozen=True)
class Frame:
    """One captured frame: its number in the session, its stream time, and its pixels
    (an RGB view into the session's ring; do not keep it beyond the session)."""

    index: int
    timestamp: float
    pixels: Pixels


@dataclass(frozen=True)
class ErasureReport:
    """What the attestation's erasure claim is built from."""

    frames_captured: int
    frames_erased: int
    buffer_bytes: int
    memory_locked: bool
    verified_zero: bool
    ended_by: str  # "end-of-stream", "limit", "consumer", "error"

    @property
    def complete(self) -> bool:
        """Every captured frame was erased and the buffers were checked to be zero."""
        return self.verified_zero and self.frames_erased == self.frames_captured


class CaptureSession:
    """Owns `source` and a ring of `buffer_frames` slots sized from `source.format`."""

    def __init__(
        self,
        source: FrameSource,
        *,
        buffer_frames: int = DEFAULT_BUFFER_FRAMES,
        max_frames: int | None = None,
        max_seconds: float | None = None,
        lock_memory: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_frames is not None and max_frames < 1:
            raise CaptureConfigError(f"max_frames must be at least 1, not {max_frames}")
        if max_seconds is not None and not max_seconds > 0:
            raise CaptureConfigError(f"max_seconds must be positive, not {max_seconds}")
        self._source = source
        self._buffer_frames = buffer_frames
        self._max_frames = max_frames
        self._max_seconds = max_seconds
        self._lock_memory = lock_memory
        self._clock = clock
        self._ring: FrameRing | None = None
        self._report: ErasureReport | None = None
        self._ended_by = "consumer"

    @property
    def format(self) -> FrameFormat:
        return self._source.format

    def __enter__(self) -> CaptureSession:
        if self._ring is not None or self._report is not None:
            raise CaptureConfigError("a capture session can be entered only once")
        try:
            memlock.disable_core_dumps()
            self._ring = FrameRing(
                self._buffer_frames, self._source.format.shape, lock=self._lock_memory
            )
        except BaseException:
            self._source.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close(error=exc is not None)

    def close(self, *, error: bool = False) -> ErasureReport:
        """Wipe and release the ring, close the source, and return the report."""
        if self._report is not None:
            return self._report
        ring = self._ring
        try:
            self._source.close()
        finally:
            if ring is None:
                self._report = ErasureReport(0, 0, 0, False, True, "error" if error else "consumer")
            else:
                verified = ring.release()
                self._report = ErasureReport(
                    frames_captured=ring.captured,
                    frames_erased=ring.erased,
                    buffer_bytes=ring.nbytes,
                    memory_locked=ring.locked,
                    verified_zero=verified,
                    ended_by="error" if error else self._ended_by,
                )
        return self._report

    @property
    def report(self) -> ErasureReport:
        """Available once the session has ended."""
        if self._report is None:
            raise CaptureError("the capture session is still running; its report comes at exit")
        return self._report

    @property
    def frames_captured(self) -> int:
        return self._ring.captured if self._ring is not None else 0

    def frames(self) -> Iterator[Frame]:
        """Read frames until the stream ends, a limit is reached, or the consumer stops."""
        ring = self._ring
        if ring is None or self._report is not None:
            raise CaptureError("frames() needs an open session: use `with CaptureSession(...)`")
        started = self._clock()
        while True:
            if self._max_frames is not None and ring.captured >= self._max_frames:
                self._ended_by = "limit"
                return
            if self._max_seconds is not None and self._clock() - started >= self._max_seconds:
                self._ended_by = "limit"
                return
            i, slot = ring.claim()
            t = self._source.read_into(slot)
            if t is None:
                self._ended_by = "end-of-stream"
                return
            ring.commit(i)
            yield Frame(ring.captured - 1, t, slot)
