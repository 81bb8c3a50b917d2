"""Scoped lifetime for buffers that hold pixels or embeddings.

Why: the privacy promise is that no frame, face crop or template outlives the verification.
Python frees memory without clearing it, so anything biometric is held in a buffer that is
zero-filled when its scope ends, whether the scope ends normally or by an exception.
`wiped` accepts numpy arrays and Pillow images (Pillow keeps its own pixel copy). Shared
with edge/capture and edge/liveness: import it from here, do not copy it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from PIL import Image


def wipe(buffer: Any) -> None:
    """Zero-fill one buffer in place; None and read-only views are refused loudly."""
    if buffer is None:
        return
    if isinstance(buffer, np.ndarray):
        if not buffer.flags.writeable:
            raise ValueError("cannot wipe a read-only array; wipe the array that owns the memory")
        buffer.fill(0)
    elif isinstance(buffer, Image.Image):
        buffer.paste(0, (0, 0, buffer.width, buffer.height))
    else:
        raise TypeError(f"cannot wipe a {type(buffer).__name__}")


@contextmanager
def wiped(*buffers: Any) -> Iterator[None]:
    """Zero-fill every buffer when the block ends, even on error."""
    try:
        yield
    finally:
        for b in buffers:
            wipe(b)


class WipeList:
    """Collects buffers made during a computation so one `finally` can wipe them all.

    Used where the number of intermediate buffers is only known while running (one crop per
    candidate frame): `with WipeList() as keep: crop = keep(align(...))`.
    """

    def __init__(self) -> None:
        self._items: list[Any] = []

    def __call__(self, buffer: Any) -> Any:
        self._items.append(buffer)
        return buffer

    def __enter__(self) -> WipeList:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            for b in self._items:
                wipe(b)
        finally:
            self._items.clear()
