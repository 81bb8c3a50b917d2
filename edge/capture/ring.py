"""The bounded, preallocated ring of frame slots a capture session owns.

Every pixel the session captures lands in one array allocated once, up front; its size is
`capacity * height * width * 3` bytes and never grows, so peak frame memory is fixed by
configuration. A slot is zeroed before it is reused, and the whole array is zeroed (and
checked) when the ring is wiped. Each captured frame is counted once when captured and
once when erased, which is the erasure claim of the attestation (ARCHITECTURE.md, step 5).
"""

from __future__ import annotations

import numpy as np

from edge.capture import memlock
from edge.capture.errors import CaptureConfigError
from edge.capture.source import Pixels

#: A ring larger than this is a configuration mistake (about 2 s of 640x480 at 30 fps is
#: 55 MB; the liveness path needs only a few frames).
MAX_RING_BYTES = 256 * 1024 * 1024


class FrameRing:
    """`capacity` slots of `shape` uint8. Not thread-safe: one session, one thread."""

    def __init__(self, capacity: int, shape: tuple[int, int, int], *, lock: bool = True) -> None:
        if capacity < 1:
            raise CaptureConfigError(f"a frame ring needs at least one slot, not {capacity}")
        nbytes = capacity * shape[0] * shape[1] * shape[2]
        if nbytes > MAX_RING_BYTES:
            raise CaptureConfigError(
                f"{capacity} frames of {shape[1]}x{shape[0]} need {nbytes / 2**20:.0f} MiB, "
                f"more than the {MAX_RING_BYTES // 2**20} MiB limit: use fewer slots or a "
                "smaller resolution"
            )
        self._buf: Pixels = np.zeros((capacity, *shape), np.uint8)
        self.nbytes = nbytes
        self.locked = memlock.lock(self._buf) if lock else False
        self._occupied = np.zeros(capacity, bool)
        self._next = 0
        self._released = False
        self.captured = 0
        self.erased = 0

    @property
    def capacity(self) -> int:
        return int(self._buf.shape[0])

    def claim(self) -> tuple[int, Pixels]:
        """The next slot to fill, zeroed first if it still holds a frame (that frame is
        erased here, and counted)."""
        if self._released:
            raise CaptureConfigError("this frame ring has been released")
        i = self._next
        self._next = (i + 1) % self.capacity
        slot = self._buf[i]
        if self._occupied[i]:
            slot.fill(0)
            self._occupied[i] = False
            self.erased += 1
        return i, slot

    def commit(self, i: int) -> None:
        """Slot `i` now holds a captured frame."""
        self._occupied[i] = True
        self.captured += 1

    def wipe(self) -> bool:
        """Zero every slot, count the frames that were in them as erased, and check that
        nothing non-zero is left. Returns the result of that check."""
        self._buf.fill(0)
        self.erased += int(self._occupied.sum())
        self._occupied[:] = False
        return not bool(self._buf.any())

    def release(self) -> bool:
        """Wipe, unlock and drop the buffer; safe to call twice. Returns wipe()'s check."""
        if self._released:
            return True
        ok = self.wipe()
        if self.locked:
            memlock.unlock(self._buf)
        # Drop our reference; views a consumer still holds now see only zeros.
        self._buf = np.zeros((0, *self._buf.shape[1:]), np.uint8)
        self._released = True
        return ok
