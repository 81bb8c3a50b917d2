"""Face embedding: an aligned 112x112 crop to an L2-normalised vector; cosine similarity.

Why SFace by default: its weights are Apache-2.0 (OpenCV Zoo), so a field office may deploy
it, and it is the more accurate of the shipped embedders at FAR 1e-3 (docs/face.md). The
default is `sface_dr`, SFace with int8 weights and float activations (dynamic-range
quantization): on LFW it loses 0.07 points of 10-fold accuracy against the float16
`sface` and nothing at FAR 1e-3, and it is 1.5x faster with 47 MB less memory.
`sface_int8` is the same network quantized to full int8 for Pi-class CPUs (on x86 it is
slower than float16).
MobileFaceNet stays only as an opt-in: its weights carry no licence
(firmware/models/README.md). Embeddings are biometric templates: every array returned
here belongs to the caller, who wipes it (edge.face.buffers.wiped).
"""

from __future__ import annotations

import warnings
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
    "sface": _Preprocess(0.0, 1.0),  # the converted graph normalises internally
    "sface_int8": _Preprocess(0.0, 1.0),  # raw pixels, then the input tensor's quantization
    "sface_dr": _Preprocess(0.0, 1.0),  # int8 weights, float input like sface
    "mobilefacenet": _Preprocess(127.5, 1.0 / 128.0),
}
EMBEDDERS = tuple(_PREPROCESS)
#: The default: licence-clean (Apache-2.0), as accurate as the float model at FAR 1e-3 on
#: LFW, the fastest and smallest SFace (docs/face.md, benchmarks/face_bench.py).
DEFAULT_EMBEDDER = "sface_dr"
#: Embedders whose weights have no licence allowing deployment: opt-in only, with a warning.
UNLICENSED = frozenset({"mobilefacenet"})


def default_embedder() -> str:
    """The embedder a device runs unless configured otherwise (stable for other modules,
    e.g. liveness's same-face check, whatever the default's name becomes)."""
    return DEFAULT_EMBEDDER


class UnlicensedModelWarning(UserWarning):
    """An embedder whose weights may not lawfully be deployed was loaded."""


class Embedder:
    """One embedding model. Models with a fixed batch (MobileFaceNet: 2) are fed in batches."""

    def __init__(self, model: str = DEFAULT_EMBEDDER, threads: int = 1) -> None:
        if model not in _PREPROCESS:
            raise ValueError(f"unknown embedder {model!r}; choose one of {', '.join(EMBEDDERS)}")
        if model in UNLICENSED:
            warnings.warn(
                f"{model}: its weights carry no licence that allows deployment (trained on a "
                "research-only data set); opt-in for evaluation only, see "
                f"firmware/models/README.md. The default embedder is {DEFAULT_EMBEDDER} "
                "(Apache-2.0).",
                UnlicensedModelWarning,
                stacklevel=2,
            )
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
        q_scale, q_zero = self._model.input_quant
        quantized = self._model.input_dtype != np.float32
        qtensor = np.zeros(self._model.input_shape, dtype=self._model.input_dtype)
        o_scale, o_zero = self._model.output_quant[0]
        try:
            for start in range(0, len(aligned), self.batch):
                chunk = aligned[start : start + self.batch]
                for i in range(self.batch):
                    # A short last batch repeats its first face rather than feeding blanks.
                    face = chunk[i] if i < len(chunk) else chunk[0]
                    np.subtract(face, self._pre.mean, out=tensor[i], dtype=np.float32)
                tensor *= self._pre.scale
                if quantized:
                    # Full-integer model: q = round(x / scale) + zero point (TFLite's
                    # affine quantization), clipped to the integer type.
                    info = np.iinfo(qtensor.dtype)
                    np.divide(tensor, q_scale, out=tensor)
                    np.rint(tensor, out=tensor)
                    tensor += q_zero
                    np.clip(tensor, info.min, info.max, out=tensor)
                    qtensor[...] = tensor
                (raw,) = self._model.run(qtensor if quantized else tensor)
                rows = raw[: len(chunk)].astype(np.float32)
                if o_scale:
                    rows = (rows - o_zero) * o_scale
                out[start : start + len(chunk)] = rows
                wipe(raw)
                wipe(rows)
        finally:
            wipe(tensor)
            wipe(qtensor)
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
