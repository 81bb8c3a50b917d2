import numpy as np
import pytest

from edge.capture.errors import CaptureConfigError
from edge.capture.ring import MAX_RING_BYTES, FrameRing


def test_slots_are_reused_and_zeroed_before_reuse() -> None:
    ring = FrameRing(3, (4, 5, 3))
    views = []
    for n in range(5):
        i, slot = ring.claim()
        assert not slot.any(), "a claimed slot must arrive zeroed"
        slot.fill(n + 1)
        ring.commit(i)
        views.append(slot)
    assert ring.captured == 5
    assert ring.erased == 2  # frames 0 and 1 were overwritten by frames 3 and 4
    assert int(views[2][0, 0, 0]) == 3
    assert ring.release()
    assert ring.erased == 5
    for v in views:
        assert not v.any()


def test_claim_without_commit_is_not_counted() -> None:
    ring = FrameRing(2, (2, 2, 3))
    _, slot = ring.claim()
    slot.fill(9)  # a read that failed halfway
    assert ring.release()
    assert (ring.captured, ring.erased) == (0, 0)
    assert not slot.any()


def test_release_is_idempotent_and_ring_unusable_after() -> None:
    ring = FrameRing(2, (2, 2, 3))
    assert ring.release() and ring.release()
    with pytest.raises(CaptureConfigError):
        ring.claim()


def test_bounds() -> None:
    with pytest.raises(CaptureConfigError):
        FrameRing(0, (2, 2, 3))
    side = int(np.sqrt(MAX_RING_BYTES / 3)) + 10
    with pytest.raises(CaptureConfigError, match="MiB"):
        FrameRing(1, (side, side, 3))


def test_memory_lock_reports_what_happened() -> None:
    ring = FrameRing(1, (8, 8, 3), lock=True)
    assert isinstance(ring.locked, bool)
    assert FrameRing(1, (8, 8, 3), lock=False).locked is False
    ring.release()


def test_a_session_disables_core_dumps() -> None:
    import resource

    from edge.capture import CaptureSession
    from tests.capture.doubles import PatternSource

    with CaptureSession(PatternSource(1)):
        assert resource.getrlimit(resource.RLIMIT_CORE) == (0, 0)
