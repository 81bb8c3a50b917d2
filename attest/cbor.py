"""Deterministic CBOR (RFC 8949 section 4.2.1) and a strict, bounded decoder.

Why our own: cbor2's `canonical=True` sorts map keys length-first (RFC 7049 section 3.9),
not by their encoded bytes as RFC 8949 section 4.2.1 asks, and its decoder accepts
non-minimal integers and trailing bytes (FACTS.md). A token is hashed and signed, so the
same claims must give the same bytes everywhere, and a decoder must accept exactly one
encoding of each value.

The data model is the part of CBOR that profile v1 needs: unsigned and negative integers,
byte and text strings, arrays, maps (keys: integers or text), true, false, null, and tags
the caller expects. No floats, no undefined, no other simple values.

The decoder checks determinism while it reads (shortest heads, ascending encoded keys), so
it never has to re-encode to compare.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import cbor2 as _cbor2

from attest.errors import DecodeError, EncodeError

DEFAULT_MAX_SIZE = 16 * 1024
DEFAULT_MAX_DEPTH = 16
DEFAULT_MAX_ITEMS = 2048


@dataclass(frozen=True, slots=True)
class Tag:
    """A CBOR tag (RFC 8949 section 3.4) around a value."""

    tag: int
    value: Any


# ---------------------------------------------------------------------------------------
# Encoder


# One-byte heads for arguments below 24, per major type: the common case, precomputed.
_TINY = tuple(tuple(bytes(((major << 5) | n,)) for n in range(24)) for major in range(8))


def _head(major: int, n: int) -> bytes:
    """The shortest head for `n` (RFC 8949 section 4.2.1, first rule)."""
    if n < 24:
        return _TINY[major][n]
    mt = major << 5
    if n < 0x100:
        return bytes((mt | 24, n))
    if n < 0x10000:
        return bytes((mt | 25,)) + n.to_bytes(2, "big")
    if n < 0x100000000:
        return bytes((mt | 26,)) + n.to_bytes(4, "big")
    if n < 0x10000000000000000:
        return bytes((mt | 27,)) + n.to_bytes(8, "big")
    raise EncodeError(f"integer {n} does not fit in 64 bits", code="cbor.int-range")


def bstr_head(n: int) -> bytes:
    """The head of a byte string of `n` bytes (major type 2)."""
    return _head(2, n)


def _first(pair: tuple[bytes, Any]) -> bytes:
    return pair[0]


def _key_bytes(k: Any) -> bytes:
    if type(k) is int:
        return _head(0, k) if k >= 0 else _head(1, -1 - k)
    if type(k) is str:
        b = k.encode("utf-8")
        return _head(3, len(b)) + b
    if isinstance(k, bool) or not isinstance(k, int | str):
        raise EncodeError(f"map key {k!r}: only integers and text", code="cbor.key-type")
    return encode(k)  # int or str subclasses (IntEnum, StrEnum): encoded as their value


def _encode(obj: Any, out: list[bytes], depth: int) -> None:
    if depth > DEFAULT_MAX_DEPTH:
        raise EncodeError("value nested too deeply", code="cbor.too-deep")
    t = type(obj)
    # Exact types first (the common case, and bool is not `int` by type), then subclasses.
    if t is int:
        out.append(_head(0, obj) if obj >= 0 else _head(1, -1 - obj))
    elif t is bytes:
        out.append(_head(2, len(obj)))
        out.append(obj)
    elif t is str:
        b = obj.encode("utf-8")
        out.append(_head(3, len(b)))
        out.append(b)
    elif t is list or t is tuple:
        out.append(_head(4, len(obj)))
        for item in obj:
            _encode(item, out, depth + 1)
    elif t is dict or (not isinstance(obj, str | bytes) and isinstance(obj, Mapping)):
        # RFC 8949 section 4.2.1: keys sorted by their encoded bytes (bytewise lexicographic).
        pairs = sorted(((_key_bytes(k), v) for k, v in obj.items()), key=_first)
        out.append(_head(5, len(pairs)))
        for kb, v in pairs:
            out.append(kb)
            _encode(v, out, depth + 1)
    elif obj is True:
        out.append(b"\xf5")
    elif obj is False:
        out.append(b"\xf4")
    elif obj is None:
        out.append(b"\xf6")
    elif isinstance(obj, int):
        _encode(int(obj), out, depth)
    elif isinstance(obj, bytes | bytearray | memoryview):
        _encode(bytes(obj), out, depth)
    elif isinstance(obj, str):
        _encode(str(obj), out, depth)
    elif isinstance(obj, list | tuple):
        _encode(list(obj), out, depth)
    elif isinstance(obj, Tag):
        out.append(_head(6, obj.tag))
        _encode(obj.value, out, depth + 1)
    else:
        raise EncodeError(f"cannot encode {type(obj).__name__} in profile v1 CBOR")


def encode(obj: Any) -> bytes:
    """Deterministic encoding of `obj` (RFC 8949 section 4.2.1)."""
    out: list[bytes] = []
    _encode(obj, out, 0)
    return b"".join(out)


# ---------------------------------------------------------------------------------------
# Decoder

_ARG_BYTES = {24: 1, 25: 2, 26: 4, 27: 8}
_MIN_FOR_AI = {24: 24, 25: 0x100, 26: 0x10000, 27: 0x100000000}


class _Reader:
    __slots__ = ("allowed_tags", "data", "items", "max_depth", "max_items", "pos")

    def __init__(
        self, data: bytes, max_depth: int, max_items: int, allowed_tags: frozenset[int]
    ) -> None:
        self.data = data
        self.pos = 0
        self.items = 0
        self.max_depth = max_depth
        self.max_items = max_items
        self.allowed_tags = allowed_tags

    def fail(self, code: str, message: str) -> DecodeError:
        return DecodeError(f"{message} (at byte {self.pos})", code=code)

    def head(self) -> tuple[int, int]:
        data = self.data
        pos = self.pos
        if pos >= len(data):
            raise self.fail("cbor.truncated", "input ends in the middle of a data item")
        ib = data[pos]
        major = ib >> 5
        ai = ib & 0x1F
        pos += 1
        if ai < 24:
            self.pos = pos
            return major, ai
        if ai == 31:
            raise self.fail("cbor.indefinite", "indefinite-length items are not allowed")
        n = _ARG_BYTES.get(ai)
        if n is None:
            raise self.fail("cbor.reserved", f"reserved additional information {ai}")
        if pos + n > len(data):
            raise self.fail("cbor.truncated", "input ends in the middle of a data item")
        val = int.from_bytes(data[pos : pos + n], "big")
        if major != 7 and val < _MIN_FOR_AI[ai]:
            # RFC 8949 section 4.2.1: arguments as short as possible.
            raise self.fail("cbor.non-minimal", f"non-minimal encoding of {val}")
        self.pos = pos + n
        return major, val if major != 7 else -ai

    def take(self, n: int) -> bytes:
        end = self.pos + n
        if end > len(self.data):
            raise self.fail("cbor.truncated", f"string of {n} bytes runs past the end")
        b = self.data[self.pos : end]
        self.pos = end
        return b

    def item(self, depth: int) -> Any:
        self.items += 1
        if self.items > self.max_items:
            raise self.fail("cbor.too-many-items", f"more than {self.max_items} data items")
        start = self.pos
        major, val = self.head()
        if major == 0:
            return val
        if major == 1:
            return -1 - val
        if major == 2:
            return self.take(val)
        if major == 3:
            raw = self.take(val)
            try:
                return raw.decode("utf-8")
            except UnicodeDecodeError:
                raise self.fail("cbor.bad-utf8", "text string is not valid UTF-8") from None
        if depth >= self.max_depth:
            raise self.fail("cbor.too-deep", f"nesting deeper than {self.max_depth}")
        if major == 4:
            if val > self.max_items:
                raise self.fail("cbor.too-many-items", f"array of {val} items")
            return [self.item(depth + 1) for _ in range(val)]
        if major == 5:
            if val > self.max_items:
                raise self.fail("cbor.too-many-items", f"map of {val} pairs")
            out: dict[Any, Any] = {}
            prev = b""
            for i in range(val):
                kstart = self.pos
                key = self.item(depth + 1)
                kbytes = self.data[kstart : self.pos]
                if isinstance(key, bool) or not isinstance(key, int | str):
                    self.pos = kstart
                    raise self.fail("cbor.key-type", "map keys must be integers or text")
                if i and kbytes <= prev:
                    self.pos = kstart
                    if kbytes == prev:
                        raise self.fail("cbor.duplicate-key", f"duplicate map key {key!r}")
                    # RFC 8949 section 4.2.1: keys sorted by their encoded bytes.
                    raise self.fail("cbor.unsorted-keys", f"map key {key!r} out of order")
                prev = kbytes
                out[key] = self.item(depth + 1)
            return out
        if major == 6:
            if val not in self.allowed_tags:
                self.pos = start
                raise self.fail("cbor.unexpected-tag", f"tag {val} is not expected here")
            return Tag(val, self.item(depth + 1))
        # major 7: simple values and floats
        if val == 20:
            return False
        if val == 21:
            return True
        if val == 22:
            return None
        self.pos = start
        if val in (-25, -26, -27):
            raise self.fail("cbor.float", "floating-point values are not used in profile v1")
        raise self.fail("cbor.simple-value", "only true, false and null simple values")


def decode(
    data: bytes,
    *,
    max_size: int = DEFAULT_MAX_SIZE,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_items: int = DEFAULT_MAX_ITEMS,
    allowed_tags: frozenset[int] = frozenset(),
) -> Any:
    """Decode exactly one deterministic data item that fills `data`, or raise DecodeError.

    `allowed_tags` are accepted around the top-level item only (COSE_Sign1's tag 18).

    Two paths, one answer. The reference is `_Reader`, a strict decoder written from RFC
    8949. On the hot path (every token the verifier appraises) cbor2's native decoder reads
    the bytes first, and the result is accepted only if re-encoding it reproduces the input
    exactly (shortest heads, definite lengths, no trailing bytes), its map keys are in
    bytewise order and every value is of the profile's types; anything else goes to
    `_Reader`, which gives the precise reason.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise DecodeError(f"expected bytes, got {type(data).__name__}", code="cbor.not-bytes")
    data = bytes(data)
    if len(data) > max_size:
        raise DecodeError(
            f"{len(data)} bytes exceed the {max_size}-byte limit", code="cbor.too-large"
        )
    if not data:
        raise DecodeError("empty input", code="cbor.truncated")
    value = _fast_decode(data, max_depth, max_items, allowed_tags)
    if value is not _FAILED:
        return value
    reader = _Reader(data, max_depth, max_items, allowed_tags)
    value = reader.item(0)
    if reader.pos != len(data):
        raise reader.fail("cbor.trailing-bytes", f"{len(data) - reader.pos} bytes after the item")
    return value


_FAILED = object()
_PLAIN = frozenset({int, bytes, str, bool, type(None)})


def _reject_tag(_decoder: Any, _tag: Any) -> Any:
    raise ValueError("tag")


def _reject_semantic(_decoder: Any) -> Any:
    raise ValueError("tag")


# Tags cbor2 would turn into Python ints (bignums): reject them before they look plain.
_NO_SEMANTICS = {2: _reject_semantic, 3: _reject_semantic}


def _key_order(k: Any) -> tuple[int, int, bytes]:
    """Sort key equal to the bytewise order of deterministic key encodings (int or text)."""
    if type(k) is int:
        return (0, k, b"") if k >= 0 else (1, -1 - k, b"")
    if type(k) is not str:  # bytes, bool, tuple, ...: not a key of the profile's data model
        raise TypeError("map key type")
    raw = k.encode("utf-8")
    return (2, len(raw), raw)


def _fast_decode(data: bytes, max_depth: int, max_items: int, allowed_tags: frozenset[int]) -> Any:
    """cbor2's decoder with the checks above; `_FAILED` whenever anything is off."""
    body = data
    tag = None
    if allowed_tags and data[0] >> 5 == 6 and data[0] & 0x1F in allowed_tags:
        tag, body = data[0] & 0x1F, data[1:]
    try:
        value = _cbor2.loads(
            body,
            tag_hook=_reject_tag,
            semantic_decoders=_NO_SEMANTICS,
            allow_indefinite=False,
            allow_duplicate_keys=False,
            max_depth=max_depth,
        )
        if _cbor2.dumps(value) != body:
            return _FAILED
    except Exception:
        return _FAILED
    stack = [value]
    count = 0
    while stack:
        x = stack.pop()
        count += 1
        t = type(x)
        if t is list:
            stack.extend(x)
        elif t is dict:
            keys = list(x)
            try:
                order = [_key_order(k) for k in keys]
            except TypeError:
                return _FAILED
            if any(a >= b for a, b in pairwise(order)):
                return _FAILED
            stack.extend(keys)
            stack.extend(x.values())
        elif t not in _PLAIN:
            return _FAILED
    if count > max_items:
        return _FAILED
    return value if tag is None else Tag(tag, value)


def expect_map(value: Any, what: str) -> dict[Any, Any]:
    """`value` as a map, or a DecodeError naming `what`."""
    if not isinstance(value, dict):
        raise DecodeError(f"{what} must be a map", code="cbor.wrong-type")
    return value


def expect_array(value: Any, what: str, length: int | None = None) -> Sequence[Any]:
    """`value` as an array (of `length` items if given), or a DecodeError naming `what`."""
    if not isinstance(value, list) or (length is not None and len(value) != length):
        n = f" of {length} items" if length is not None else ""
        raise DecodeError(f"{what} must be an array{n}", code="cbor.wrong-type")
    return value
