"""Wiping: buffers are zero after the scope, also when the scope raises."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from edge.face.buffers import WipeList, wipe, wiped


def test_wiped_zeroes_arrays_and_images_even_on_error() -> None:
    a = np.full((4, 4, 3), 7, np.uint8)
    e = np.ones(128, np.float32)
    im = Image.new("RGB", (8, 8), (200, 100, 50))
    with pytest.raises(RuntimeError), wiped(a, e, im, None):
        raise RuntimeError("boom")
    assert not a.any() and not e.any()
    assert im.getextrema() == ((0, 0), (0, 0), (0, 0))


def test_wipelist_collects_and_wipes() -> None:
    with WipeList() as keep:
        a = keep(np.ones(3))
        b = keep(np.ones((2, 2)))
    assert not a.any() and not b.any()


def test_read_only_and_unknown_buffers_are_refused() -> None:
    ro = np.ones(3)
    ro.flags.writeable = False
    with pytest.raises(ValueError):
        wipe(ro)
    with pytest.raises(TypeError):
        wipe(b"bytes cannot be wiped")
