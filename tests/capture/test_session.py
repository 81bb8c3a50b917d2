import numpy as np
import pytest

from edge.capture import CaptureConfigError, CaptureError, CaptureSession
from tests.capture.doubles import PatternSource


def test_reads_to_end_and_erases_everything() -> None:
    src = PatternSource(20)
    seen = []
    with CaptureSession(src, buffer_frames=4) as s:
        for f in s.frames():
            assert f.pixels.any()
            assert int(f.pixels[0, 0, 0]) == f.index % 250 + 1
            seen.append(f.pixels)
    r = s.report
    assert (r.frames_captured, r.frames_erased) == (20, 20)
    assert r.verified_zero and r.complete and r.ended_by == "end-of-stream"
    assert r.buffer_bytes == 4 * 24 * 32 * 3
    assert src.closed
    assert all(not v.any() for v in seen)


def test_exception_mid_session_still_wipes_and_counts() -> None:
    src = PatternSource(100, fail_at=6)
    views = []
    with pytest.raises(OSError, match="unplugged"), CaptureSession(src, buffer_frames=3) as s:
        for f in s.frames():
            views.append(f.pixels)
    r = s.report
    assert (r.frames_captured, r.frames_erased) == (6, 6)
    assert r.verified_zero and r.ended_by == "error"
    assert src.closed
    assert all(not v.any() for v in views)


def test_consumer_error_and_early_stop() -> None:
    views: list[np.ndarray] = []
    with pytest.raises(RuntimeError), CaptureSession(PatternSource(50)) as s:
        for f in s.frames():
            views.append(f.pixels)
            if f.index == 10:
                raise RuntimeError("face match failed")
    assert s.report.frames_captured == s.report.frames_erased == 11
    assert all(not v.any() for v in views)

    with CaptureSession(PatternSource(50)) as s2:
        for f in s2.frames():
            if f.index == 2:
                break
    assert s2.report.frames_captured == 3 and s2.report.ended_by == "consumer"


def test_limits() -> None:
    with CaptureSession(PatternSource(50), max_frames=7) as s:
        n = sum(1 for _ in s.frames())
    assert n == 7 and s.report.ended_by == "limit" and s.report.complete

    ticks = iter(range(1000))
    with CaptureSession(PatternSource(50), max_seconds=5, clock=lambda: next(ticks)) as s2:
        n2 = sum(1 for _ in s2.frames())
    assert n2 == 4 and s2.report.ended_by == "limit"


def test_misuse_is_a_clear_error() -> None:
    s = CaptureSession(PatternSource(3))
    with pytest.raises(CaptureError, match="open session"):
        next(s.frames())
    with pytest.raises(CaptureError, match="still running"):
        _ = s.report
    with pytest.raises(CaptureConfigError):
        CaptureSession(PatternSource(3), max_frames=0)
    with s:
        pass
    with pytest.raises(CaptureConfigError, match="only once"):
        s.__enter__()
