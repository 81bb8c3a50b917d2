"""The TFLite runtime adapter: the only place that imports LiteRT.

Why a thin adapter: the runtime is a native dependency that differs between the x86 test
machines and the Pi. LiteRT (`ai-edge-litert`) is the default; `tflite-runtime` is a
fallback import for images that still carry it (it needs numpy<2 and is about 2x slower).
Interpreters are cached per (file, threads), so each model is loaded once per process; an
interpreter is not thread-safe, so callers share it within one thread only.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from edge.face.errors import RuntimeMissingError


class Interpreter(Protocol):
    """The part of the TFLite Interpreter API that edge/face uses."""

    def allocate_tensors(self) -> None: ...
    def get_input_details(self) -> list[dict[str, Any]]: ...
    def get_output_details(self) -> list[dict[str, Any]]: ...
    def set_tensor(self, tensor_index: int, value: np.ndarray) -> None: ...
    def invoke(self) -> None: ...
    def get_tensor(self, tensor_index: int) -> np.ndarray: ...


def _interpreter_class() -> Any:
    try:
        from ai_edge_litert.interpreter import Interpreter as LiteRT

        return LiteRT
    except ImportError:
        pass
    try:
        from tflite_runtime.interpreter import Interpreter as TfliteRuntime

        return TfliteRuntime
    except ImportError as e:
        raise RuntimeMissingError(
            "no TFLite runtime: pip install ai-edge-litert (64-bit OS only)"
        ) from e


def runtime_name() -> str:
    """Which runtime is in use, for benchmarks and the device's software inventory."""
    cls = _interpreter_class()
    return "ai-edge-litert" if cls.__module__.startswith("ai_edge_litert") else "tflite-runtime"


_lock = threading.Lock()
_cache: dict[tuple[str, int], Interpreter] = {}


def load_interpreter(model_path: str | Path, threads: int = 1) -> Interpreter:
    """A ready (allocated) interpreter for `model_path`, shared per (path, threads)."""
    if threads < 1:
        raise ValueError("threads must be at least 1")
    key = (str(Path(model_path).resolve()), threads)
    with _lock:
        cached = _cache.get(key)
        if cached is None:
            cached = _interpreter_class()(model_path=key[0], num_threads=threads)
            cached.allocate_tensors()
            _cache[key] = cached
        return cached


class Model:
    """One single-input model: set the input, invoke, read named outputs.

    Keeps tensor indices looked up once, and can scrub itself: `scrub()` runs the model on
    zeros so that the input, the activations and the outputs that TFLite keeps in its arena
    no longer hold anything derived from a face.
    """

    def __init__(self, path: Path, threads: int) -> None:
        self.interpreter = load_interpreter(path, threads)
        inp = self.interpreter.get_input_details()
        if len(inp) != 1:
            raise ValueError(f"{path.name}: expected one input, found {len(inp)}")
        self.input_index: int = int(inp[0]["index"])
        self.input_shape: tuple[int, ...] = tuple(int(v) for v in inp[0]["shape"])
        self.input_dtype: np.dtype[Any] = np.dtype(inp[0]["dtype"])
        # (scale, zero point) of a quantized (int8) input or output; (0.0, 0) for float.
        self.input_quant: tuple[float, int] = _quant(inp[0])
        outs = self.interpreter.get_output_details()
        self.output_indices: list[int] = [int(d["index"]) for d in outs]
        self.output_quant: list[tuple[float, int]] = [_quant(d) for d in outs]

    def run(self, tensor: np.ndarray) -> list[np.ndarray]:
        self.interpreter.set_tensor(self.input_index, tensor)
        self.interpreter.invoke()
        return [self.interpreter.get_tensor(i) for i in self.output_indices]

    def scrub(self) -> None:
        self.run(np.zeros(self.input_shape, dtype=self.input_dtype))


def _quant(detail: dict[str, Any]) -> tuple[float, int]:
    scale, zero = detail.get("quantization", (0.0, 0))
    return float(scale), int(zero)
