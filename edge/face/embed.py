"""Face embedding: an aligned 112x112 crop to an L2-normalised vector; cosine similarity.

Why two models: SFace (Apache-2.0, converted from OpenCV's ONNX) and MobileFaceNet (fast,
licence unclear) are both shipped so that the default is chosen by measurement and the
licence question can be answered per deployment; the model is a configuration choice.
Embeddings are biometric templates: every array returned here belongs to the caller, who
wipes it (edge.face.buffers.wiped).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edge.face.align import SIZE
from edge.face.buffers import wipe
from edge.face.errors import ImageError
from edge.face.models import model_info, verified_path
from edge.face.runtime import Model


@dataclass(frozen=True)
class _Preprocess:
    """Input normalisation per model: (x - mean) * scale (see the manifest's input notes)."""

    mean: float
    scale: float


_PREPROCESS = {
    "mobilefacenet": _Preprocess(127.5, 1.0 / 128.0),
    "sface": _Preprocess(0.0, 1.0),  # the converted graph normalises internally
}
EMBEDDERS = tuple(_PREPROCESS)
# Chosen by measurement (benchmarks/face_bench.py, docs/face.md): per-frame time is what
# limits a Pi-class CPU, and both separate the labelled set equally well.
DEFAULT_EMBEDDER = "mobilefacenet"


class Embedder:
    """One embedding model. Models with a fixed batch (MobileFaceNet: 2) are fed in batches."""

    def __init__(self, model: str = DEFAULT_EMBEDDER, threads: int = 1) -> None:
        if model not in _PREPROCESS:
            raise ValueError(f"unknown embedder {model!r}; choose one of {', '.join(EMBEDDERS)}")
        info = model_info(model, "embedder")
        self.name = model
        self.sha256 = info.sha256
        self.dim = int(info.embedding_dim or 0)
        self._pre = _PREPROCESS[model]
        self._model = Model(verified_path(model, "embedder"), threads)
        self.batch = self._model.input_shape[0]
        if self._model.input_shape[1:] != (SIZE, SIZE, 3):
            raise ValueError(f"{model}: unexpected input shape {self._model.input_shape}")

    def embed(self, aligned: np.ndarray) -> np.ndarray:
        """(dim,) float32, L2-normalised."""
        out: np.ndarray = self.embed_many([aligned])[0]
        return out

    def embed_many(self, aligned: Sequence[np.ndarray]) -> np.ndarray:
        """(n, dim) float32, rows L2-normalised; faces go through the model `batch` at a time."""
        for a in aligned:
            if not isinstance(a, np.ndarray) or a.shape != (SIZE, SIZE, 3) or a.dtype != np.uint8:
                raise ImageError(
                    f"expected an aligned ({SIZE}, {SIZE}, 3) uint8 crop",
                    code="face.aligned-invalid",
                )
        out = np.zeros((len(aligned), self.dim), dtype=np.float32)
        tensor = np.zeros(self._model.input_shape, dtype=np.float32)
        try:
            for start in range(0, len(aligned), self.batch):
                chunk = aligned[start : start + self.batch]
                for i in range(self.batch):
                    # A short last batch repeats its first face rather than feeding blanks.
                    face = chunk[i] if i < len(chunk) else chunk[0]
                    np.subtract(face, self._pre.mean, out=tensor[i], dtype=np.float32)
                tensor *= self._pre.scale
                (raw,) = self._model.run(tensor)
                out[start : start + len(chunk)] = raw[: len(chunk)]
                wipe(raw)
        finally:
            wipe(tensor)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        out /= np.where(norms > 0, norms, 1.0)
        return out

    def scrub(self) -> None:
        """Run on zeros so the interpreter's tensors no longer hold the last face."""
        self._model.scrub()


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two embeddings (normalised or not)."""
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0.0 or nb == 0.0:
        return 0.0
    return float(np.dot(a, b) / (na * nb))
