"""File replay: a recording or a folder of frames, read through the same interface as a camera.

For tests, demos and offline review (`edgeproof liveness analyze`). Frame times come from
the frame index and the recording's own rate, not from the wall clock, so a replay is
deterministic however fast the machine is. Nothing here writes anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edge.capture._opencv import import_cv2, read_rgb_into
from edge.capture.errors import CaptureConfigError, SourceFormatError, SourceNotFoundError
from edge.capture.source import CaptureConfig, FrameFormat, Pixels, check_out

FRAME_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
#: A folder with more frames than this is refused rather than listed (bounded input).
MAX_FOLDER_FRAMES = 100_000


class FileReplaySource:
    """Replays a video file (any container OpenCV's FFmpeg reads) or a folder of images.

    Frames in a folder are taken in file-name order at `config.fps`. With `config.width`/
    `height` set, frames are resized to that size; otherwise they keep their own. Only frames
    `start_frame` to `end_frame` (exclusive) are delivered, timed as in the whole recording.
    """

    def __init__(
        self,
        path: str | Path,
        config: CaptureConfig | None = None,
        *,
        start_frame: int = 0,
        end_frame: int | None = None,
    ) -> None:
        if start_frame < 0 or (end_frame is not None and end_frame <= start_frame):
            raise CaptureConfigError(
                f"frame range [{start_frame}, {end_frame}) is empty or negative"
            )
        self._cv2 = import_cv2()
        self._end = end_frame
        self._config = config or CaptureConfig()
        self._path = Path(path)
        self._cap: Any = None
        self._files: list[Path] = []
        self._index = 0
        self._closed = False
        if not self._path.exists():
            raise SourceNotFoundError(f"no recording or frame folder at {self._path}")
        native = self._open_folder() if self._path.is_dir() else self._open_video()
        self._native = native
        cfg = self._config
        self._format = (
            FrameFormat(cfg.width, cfg.height, native.fps)
            if cfg.width is not None and cfg.height is not None
            else native
        )
        # Decode buffer, only when resizing: owned here, wiped after every frame and at close.
        self._scratch: Pixels | None = (
            np.zeros(native.shape, np.uint8) if self._format.shape != native.shape else None
        )
        self._skip(start_frame)

    def _skip(self, n: int) -> None:
        """Move to frame `n`. Video frames are decoded and dropped (seeking in compressed
        video lands on key frames, which would make frame numbers approximate)."""
        if self._cap is None:
            self._index = min(n, len(self._files))
            return
        while self._index < n and self._cap.grab():
            self._index += 1

    def _open_video(self) -> FrameFormat:
        cv2 = self._cv2
        cap = cv2.VideoCapture(str(self._path), cv2.CAP_FFMPEG)
        if not cap.isOpened():
            cap.release()
            raise SourceFormatError(f"{self._path} is not a video OpenCV can decode")
        width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        fps = float(cap.get(cv2.CAP_PROP_FPS)) or self._config.fps
        try:
            fmt = FrameFormat(width, height, fps)
        except ValueError as exc:
            cap.release()
            raise SourceFormatError(f"{self._path}: unusable video stream ({exc})") from None
        self._cap = cap
        return fmt

    def _open_folder(self) -> FrameFormat:
        files: list[Path] = []
        for p in self._path.iterdir():
            if p.suffix.lower() in FRAME_SUFFIXES and p.is_file():
                files.append(p)
                if len(files) > MAX_FOLDER_FRAMES:
                    raise SourceFormatError(
                        f"{self._path} holds more than {MAX_FOLDER_FRAMES} frames"
                    )
        if not files:
            raise SourceFormatError(
                f"{self._path} holds no frames ({', '.join(FRAME_SUFFIXES)} files)"
            )
        self._files = sorted(files)
        first = self._imread(self._files[0])
        fmt = FrameFormat(first.shape[1], first.shape[0], self._config.fps)
        first.fill(0)
        return fmt

    def _imread(self, path: Path) -> Pixels:
        img = self._cv2.imread(str(path), self._cv2.IMREAD_COLOR)
        if img is None:
            raise SourceFormatError(f"{path} is not an image OpenCV can decode")
        result: Pixels = img
        return result

    @property
    def format(self) -> FrameFormat:
        return self._format

    def read_into(self, out: Pixels) -> float | None:
        check_out(out, self._format)
        if self._closed or (self._end is not None and self._index >= self._end):
            return None
        t = self._index / self._format.fps
        ok = self._read_video(out) if self._cap is not None else self._read_file(out)
        if not ok:
            return None
        self._index += 1
        return t

    def _read_video(self, out: Pixels) -> bool:
        if self._scratch is None:
            return read_rgb_into(self._cv2, self._cap, out)
        try:
            if not read_rgb_into(self._cv2, self._cap, self._scratch):
                return False
            self._resize(self._scratch, out)
        finally:
            self._scratch.fill(0)
        return True

    def _read_file(self, out: Pixels) -> bool:
        if self._index >= len(self._files):
            return False
        bgr = self._imread(self._files[self._index])
        try:
            if bgr.shape != self._native.shape:
                raise SourceFormatError(
                    f"{self._files[self._index]} is {bgr.shape[1]}x{bgr.shape[0]}, but the "
                    f"folder's first frame is {self._native.width}x{self._native.height}"
                )
            if bgr.shape == out.shape:
                self._cv2.cvtColor(bgr, self._cv2.COLOR_BGR2RGB, dst=out)
            else:
                self._resize(bgr, out)
                self._cv2.cvtColor(out, self._cv2.COLOR_BGR2RGB, dst=out)
        finally:
            bgr.fill(0)
        return True

    def _resize(self, src: Pixels, out: Pixels) -> None:
        cv2 = self._cv2
        cv2.resize(src, (out.shape[1], out.shape[0]), dst=out, interpolation=cv2.INTER_AREA)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._cap is not None:
            self._cap.release()
            self._cap = None
        if self._scratch is not None:
            self._scratch.fill(0)
