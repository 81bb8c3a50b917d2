"""The file-replay adapter against the real recording in the shared data, and frames from it."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.capture import (
    CaptureConfig,
    CaptureConfigError,
    CaptureSession,
    SourceFormatError,
    SourceNotFoundError,
    open_source,
)
from edge.capture.replay import FileReplaySource
from tests.shared import CLIP, STILL

pytestmark = pytest.mark.shared("data/video")


def test_video_format_and_first_frame_match_opencv() -> None:
    src = FileReplaySource(CLIP)
    assert (src.format.width, src.format.height) == (640, 360)
    assert src.format.fps == pytest.approx(29.97, abs=0.01)
    out = np.zeros(src.format.shape, np.uint8)
    assert src.read_into(out) == 0.0
    cap = cv2.VideoCapture(str(CLIP))
    ok, bgr = cap.read()
    cap.release()
    assert ok and np.array_equal(out, bgr[:, :, ::-1]), "frames must arrive as RGB"
    assert src.read_into(out) == pytest.approx(1 / 29.97)
    src.close()
    assert src.read_into(out) is None


def test_whole_clip_through_a_session() -> None:
    with CaptureSession(open_source(f"replay:{CLIP}"), buffer_frames=4) as s:
        last = None
        for f in s.frames():
            last = f
    assert last is not None and last.index >= 270
    r = s.report
    assert r.frames_captured == r.frames_erased == last.index + 1
    assert r.complete and r.ended_by == "end-of-stream"
    assert r.buffer_bytes == 4 * 640 * 360 * 3
    assert not last.pixels.any()


def test_resize_on_replay() -> None:
    src = FileReplaySource(CLIP, CaptureConfig(width=320, height=180))
    out = np.zeros((180, 320, 3), np.uint8)
    assert src.format.shape == (180, 320, 3)
    assert src.read_into(out) == 0.0 and out.any()
    src.close()


def test_frame_folder(tmp_path: Path) -> None:
    bgr = cv2.imread(str(STILL))
    assert bgr is not None, STILL
    small = cv2.resize(bgr, (64, 48))
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"f{i:03d}.png"), np.roll(small, i, axis=1))
    (tmp_path / "notes.txt").write_text("ignored")
    src = open_source(str(tmp_path), CaptureConfig(fps=10))
    assert src.format.shape == (48, 64, 3) and src.format.fps == 10
    out = np.zeros(src.format.shape, np.uint8)
    times = []
    while (t := src.read_into(out)) is not None:
        times.append(t)
        assert np.array_equal(out, np.roll(small, len(times) - 1, axis=1)[:, :, ::-1])
    assert times == [0.0, 0.1, 0.2]


def test_bad_inputs_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceNotFoundError, match="no recording"):
        FileReplaySource(tmp_path / "missing.mp4")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00" * 1000)
    with pytest.raises(SourceFormatError) as exc:
        FileReplaySource(junk)
    assert exc.value.code == "capture.bad-source"
    with pytest.raises(SourceFormatError, match="no frames"):
        FileReplaySource(tmp_path)
    cv2.imwrite(str(tmp_path / "a.png"), np.ones((8, 8, 3), np.uint8))
    cv2.imwrite(str(tmp_path / "b.png"), np.ones((9, 8, 3), np.uint8))
    src = FileReplaySource(tmp_path)
    out = np.zeros(src.format.shape, np.uint8)
    assert src.read_into(out) == 0.0
    with pytest.raises(SourceFormatError, match="first frame"):
        src.read_into(out)
    with pytest.raises(CaptureConfigError, match="C-contiguous"):
        src.read_into(np.zeros((3, 3, 3), np.uint8))
    with pytest.raises(CaptureConfigError):
        CaptureConfig(width=640)
    with pytest.raises(CaptureConfigError):
        CaptureConfig(fps=0)
    with pytest.raises(CaptureConfigError):
        CaptureConfig(timeout_s=-1)


def test_frame_range_keeps_the_recordings_numbering_and_times() -> None:
    whole = FileReplaySource(CLIP)
    buf = np.zeros(whole.format.shape, np.uint8)
    for _ in range(100):
        whole.read_into(buf)
    expected = [buf.copy() for _ in range(3) if whole.read_into(buf) is not None]
    whole.close()
    part = FileReplaySource(CLIP, start_frame=100, end_frame=103)
    got = []
    while (t := part.read_into(buf)) is not None:
        got.append((t, buf.copy()))
    assert [t for t, _ in got] == pytest.approx([100 / 29.97, 101 / 29.97, 102 / 29.97], 1e-3)
    assert all(np.array_equal(a, b) for (_, a), b in zip(got, expected, strict=True))
    with pytest.raises(CaptureConfigError, match="empty"):
        FileReplaySource(CLIP, start_frame=5, end_frame=5)
