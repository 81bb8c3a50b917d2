"""Deterministic CBOR (RFC 8949 section 4.2.1) and the strict decoder: every reason code,
round trips, bytewise key order, and agreement of the decoder's two paths."""

from __future__ import annotations

from typing import Any

import cbor2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attest import cbor
from attest.cbor import Tag
from attest.errors import DecodeError, EncodeError

# -- reason codes of the decoder, one input each ----------------------------------------
DECODE_REJECTS = {
    "cbor.truncated": [b"", b"\x19\x01", b"\x44ab", b"\x82\x01"],
    "cbor.indefinite": [b"\x5f\x41a\xff", b"\x9f\xff", b"\xbf\xff"],
    "cbor.reserved": [b"\x1c", b"\x1d", b"\x1e"],
    "cbor.non-minimal": [b"\x18\x01", b"\x19\x00\xff", b"\x38\x00", b"\x58\x01a", b"\x98\x01\x01"],
    "cbor.bad-utf8": [b"\x62\xc3\x28"],
    "cbor.too-deep": [b"\x81" * 17 + b"\x00"],
    "cbor.too-many-items": [b"\x99\x08\x01" + b"\x00" * 2049],
    "cbor.key-type": [b"\xa1\x41a\x00", b"\xa1\xf5\x00", b"\xa1\x80\x00"],
    "cbor.duplicate-key": [b"\xa2\x01\x00\x01\x00"],
    "cbor.unsorted-keys": [b"\xa2\x02\x00\x01\x00", b"\xa2\x20\x00\x18\x18\x00"],
    "cbor.unexpected-tag": [b"\xc1\x00", b"\xc2\x41\x01", b"\xd2\x80"],
    "cbor.float": [b"\xf9\x3c\x00", b"\xfa\x3f\x80\x00\x00", b"\xfb" + b"\x00" * 8],
    "cbor.simple-value": [b"\xf7", b"\xe0", b"\xf8\x20"],
    "cbor.trailing-bytes": [b"\x00\x00", b"\xa0\xff"],
}


@pytest.mark.parametrize(
    ("code", "data"),
    [(code, d) for code, items in DECODE_REJECTS.items() for d in items],
    ids=lambda x: x if isinstance(x, str) else x[:6].hex(),
)
def test_decoder_reason_codes(code: str, data: bytes) -> None:
    with pytest.raises(DecodeError) as err:
        cbor.decode(data)
    assert err.value.code == code
    assert isinstance(err.value, ValueError)
    assert str(err.value).startswith(code + ": ")


def test_decoder_limits_and_input_type() -> None:
    with pytest.raises(DecodeError) as err:
        cbor.decode(b"\x40" * 20, max_size=10)
    assert err.value.code == "cbor.too-large"
    with pytest.raises(DecodeError) as err:
        cbor.decode("a0")  # type: ignore[arg-type]
    assert err.value.code == "cbor.not-bytes"
    with pytest.raises(DecodeError) as err:
        cbor.decode(b"\x83\x01\x02\x03", max_items=3)
    assert err.value.code == "cbor.too-many-items"
    assert cbor.decode(b"\x83\x01\x02\x03", max_items=4) == [1, 2, 3]
    assert cbor.decode(b"\x81" * 16 + b"\x00") is not None  # depth 16 is allowed
    assert cbor.decode(b"\xd2\x80", allowed_tags=frozenset({18})) == Tag(18, [])
    with pytest.raises(DecodeError) as err:
        cbor.expect_map([], "claims")
    assert err.value.code == "cbor.wrong-type"
    with pytest.raises(DecodeError):
        cbor.expect_array([1], "pair", 2)


def test_encoder_reason_codes() -> None:
    for value, code in [
        (2**64, "cbor.int-range"),
        (-(2**64) - 1, "cbor.int-range"),
        (1.5, "cbor.unsupported-type"),
        ({1, 2}, "cbor.unsupported-type"),
        ({b"k": 1}, "cbor.key-type"),
        ({True: 1}, "cbor.key-type"),
        ([[[[[[[[[[[[[[[[[[0]]]]]]]]]]]]]]]]]], "cbor.too-deep"),
    ]:
        with pytest.raises(EncodeError) as err:
            cbor.encode(value)
        assert err.value.code == code, value


def test_rfc8949_examples_and_bytewise_key_order() -> None:
    # RFC 8949 appendix A values, shortest form.
    assert cbor.encode(0) == b"\x00"
    assert cbor.encode(23) == b"\x17"
    assert cbor.encode(24) == b"\x18\x18"
    assert cbor.encode(1000) == b"\x19\x03\xe8"
    assert cbor.encode(-1000) == b"\x39\x03\xe7"
    assert cbor.encode(2**64 - 1) == b"\x1b" + b"\xff" * 8
    assert cbor.encode(-(2**64)) == b"\x3b" + b"\xff" * 8
    assert cbor.encode("\u00fc") == b"\x62\xc3\xbc"
    # Section 4.2.1 sorts keys by their encoded bytes: 24 (18 18) < -1 (20) < "a" (61 61).
    # cbor2's canonical mode sorts length-first (RFC 7049) and puts -1 first.
    value = {24: 1, -1: 2, "a": 3}
    assert cbor.encode(value) == bytes.fromhex("a3181801200261610" + "3")
    assert cbor2.dumps(value, canonical=True) != cbor.encode(value)
    assert cbor.decode(cbor.encode(value)) == value


# -- hypothesis: round trips -------------------------------------------------------------
scalars = (
    st.integers(-(2**64), 2**64 - 1)
    | st.binary(max_size=40)
    | st.text(max_size=20)
    | st.booleans()
    | st.none()
)
keys = st.integers(-(2**64), 2**64 - 1) | st.text(max_size=8)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(keys, inner, max_size=5),
    max_leaves=25,
)


def same(a: Any, b: Any) -> bool:
    """Equality that also tells True from 1 (Python's == does not)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


def sorted_map(d: dict[Any, Any]) -> dict[Any, Any]:
    return dict(sorted(d.items(), key=lambda kv: cbor.encode(kv[0])))


def canonical(v: Any) -> Any:
    """`v` with every map in RFC 8949 section 4.2.1 key order."""
    if isinstance(v, list):
        return [canonical(x) for x in v]
    if isinstance(v, dict):
        return sorted_map({k: canonical(x) for k, x in v.items()})
    return v


@settings(max_examples=300, deadline=None)
@given(values)
def test_encode_decode_round_trip(value: Any) -> None:
    data = cbor.encode(value)
    back = cbor.decode(data, max_items=10_000)
    assert same(back, canonical(value))
    assert cbor.encode(back) == data  # one encoding per value
    # cbor2 (an independent decoder) reads the same value.
    assert same(cbor2.loads(data), canonical(value))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(keys, scalars, min_size=1, max_size=12))
def test_map_keys_sorted_bytewise(d: dict[Any, Any]) -> None:
    # Encodings are prefix-free, so sorting key+value pairs by bytes sorts by key bytes.
    pairs = sorted(cbor.encode(k) + cbor.encode(v) for k, v in d.items())
    head = bytes([0xA0 + len(d)]) if len(d) < 24 else b""
    assert cbor.encode(d) == head + b"".join(pairs)


# -- the decoder's two paths agree --------------------------------------------------------


def reference(data: bytes, **limits: Any) -> tuple[str, Any]:
    """The reference decoder (`_Reader`) alone: ("ok", value) or ("error", code)."""
    if len(data) > limits.get("max_size", cbor.DEFAULT_MAX_SIZE):
        return ("error", "cbor.too-large")
    if not data:
        return ("error", "cbor.truncated")
    r = cbor._Reader(
        data,
        limits.get("max_depth", cbor.DEFAULT_MAX_DEPTH),
        limits.get("max_items", cbor.DEFAULT_MAX_ITEMS),
        limits.get("allowed_tags", frozenset()),
    )
    try:
        value = r.item(0)
        if r.pos != len(data):
            raise r.fail("cbor.trailing-bytes", "trailing")
    except DecodeError as exc:
        return ("error", exc.code)
    return ("ok", value)


def public(data: bytes, **limits: Any) -> tuple[str, Any]:
    try:
        return ("ok", cbor.decode(data, **limits))
    except DecodeError as exc:
        return ("error", exc.code)


def agree(data: bytes, **limits: Any) -> None:
    ref, pub = reference(data, **limits), public(data, **limits)
    assert ref[0] == pub[0], (data.hex(), ref, pub)
    if ref[0] == "ok":
        assert same(ref[1], pub[1]) or (isinstance(ref[1], Tag) and ref[1] == pub[1])
    else:
        assert ref[1] == pub[1], (data.hex(), ref, pub)
    fast = cbor._fast_decode(data, cbor.DEFAULT_MAX_DEPTH, cbor.DEFAULT_MAX_ITEMS, frozenset())
    if fast is not cbor._FAILED and not limits:
        assert ref[0] == "ok" and same(fast, ref[1]), data.hex()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values, st.data())
def test_two_paths_agree_on_mutated_encodings(value: Any, data: st.DataObject) -> None:
    raw = bytearray(cbor.encode(value))
    agree(bytes(raw))
    for _ in range(data.draw(st.integers(1, 3))):
        op = data.draw(st.sampled_from(["flip", "set", "insert", "delete", "truncate"]))
        i = data.draw(st.integers(0, max(0, len(raw) - 1)))
        if op == "flip" and raw:
            raw[i] ^= 1 << data.draw(st.integers(0, 7))
        elif op == "set" and raw:
            raw[i] = data.draw(st.integers(0, 255))
        elif op == "insert":
            raw.insert(i, data.draw(st.integers(0, 255)))
        elif op == "delete" and raw:
            del raw[i]
        elif op == "truncate":
            del raw[i:]
    agree(bytes(raw))


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=64))
def test_two_paths_agree_on_random_bytes(data: bytes) -> None:
    agree(data)


@pytest.mark.parametrize("data", [d for items in DECODE_REJECTS.values() for d in items])
def test_two_paths_agree_on_every_reject(data: bytes) -> None:
    agree(data)


def test_bignum_and_non_minimal_that_cbor2_accepts_are_refused() -> None:
    # cbor2 alone would turn these into plain integers (FACTS.md): the fast path must not.
    for data in (b"\x18\x01", b"\xc2\x41\x01", b"\xc3\x41\x01", b"\x1b" + b"\x00" * 7 + b"\x01"):
        assert cbor._fast_decode(data, 16, 2048, frozenset()) is cbor._FAILED
        with pytest.raises(DecodeError):
            cbor.decode(data)
