"""Camera adapters on a machine without a camera: what can be tested here is that every way
of not getting a camera is a clear, coded error (a real device test needs the hardware)."""

import importlib.util

import numpy as np
import pytest

from edge.capture import (
    BackendMissingError,
    CameraBusyError,
    CameraNotFoundError,
    CaptureConfigError,
    open_source,
)
from edge.capture.picamera import copy_bgr_to_rgb
from edge.capture.v4l2 import V4L2Source, parse_device


def _free_video_index() -> int:
    import os

    return next(i for i in range(90, 200) if not os.path.exists(f"/dev/video{i}"))


def test_parse_device() -> None:
    assert parse_device(0) == (0, "/dev/video0")
    assert parse_device("3") == (3, "/dev/video3")
    assert parse_device("/dev/video12") == (12, "/dev/video12")
    with pytest.raises(CaptureConfigError, match="not /dev/videoN"):
        parse_device("/dev/null")
    with pytest.raises(CaptureConfigError):
        parse_device("webcam")


def test_missing_v4l2_camera() -> None:
    n = _free_video_index()
    with pytest.raises(CameraNotFoundError) as exc:
        open_source(f"v4l2:/dev/video{n}")
    assert exc.value.code == "capture.camera-not-found"
    assert isinstance(exc.value, LookupError)
    assert "plugged in" in str(exc.value)


def test_device_that_is_not_a_camera(tmp_path: object) -> None:
    # A /dev/videoN name that is not a V4L2 capture device: OpenCV cannot open it, and the
    # adapter must say so rather than fail later on the first read.
    import os

    n = _free_video_index()
    path = f"/dev/video{n}"
    if not os.access("/dev", os.W_OK):
        pytest.skip("cannot create a device node name here")
    os.symlink("/dev/null", path)
    try:
        with pytest.raises(CameraBusyError) as exc:
            V4L2Source(n)
        assert exc.value.code == "capture.camera-busy"
    finally:
        os.unlink(path)


@pytest.mark.skipif(
    importlib.util.find_spec("picamera2") is not None, reason="picamera2 is installed"
)
def test_picamera2_missing_is_a_clear_error() -> None:
    with pytest.raises(BackendMissingError) as exc:
        open_source("picamera2:0")
    assert exc.value.code == "capture.backend-missing"
    assert isinstance(exc.value, ImportError)
    assert "Raspberry Pi" in str(exc.value)
    with pytest.raises(CaptureConfigError):
        open_source("picamera2:front")


def test_picamera2_pixel_copy_swaps_channels_and_drops_padding() -> None:
    src = np.zeros((4, 8, 3), np.uint8)  # row stride padded to 8 pixels, image is 6 wide
    src[..., 0], src[..., 1], src[..., 2] = 10, 20, 30  # B, G, R
    out = np.zeros((4, 6, 3), np.uint8)
    copy_bgr_to_rgb(src, out)
    assert out[..., 0].tolist() == [[30] * 6] * 4 and (out[..., 2] == 10).all()
