"""RFC 9162 Merkle proofs: the transparency-dev vectors (every `wantErr` honoured) and
round trips between the proofs our tree produces and the verifiers."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attest.errors import ProofError
from attest.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)
from tests.shared import VECTORS as SHARED_VECTORS
from tests.shared import files

SHARED = pytest.mark.shared("vectors/merkle")
VECTORS = SHARED_VECTORS / "merkle"


def b(s: str | None) -> bytes:
    return base64.b64decode(s) if s else b""


def cases(kind: str) -> list[Path]:
    return files(VECTORS / kind, "**/*.json")


def case_id(p: Path) -> str:
    return str(p.relative_to(VECTORS))


@SHARED
@pytest.mark.parametrize("path", cases("inclusion"), ids=case_id)
def test_inclusion_vectors(path: Path) -> None:
    v: dict[str, Any] = json.loads(path.read_text())
    args = (
        b(v["leafHash"]),
        v["leafIdx"],
        v["treeSize"],
        [b(p) for p in v["proof"] or []],
        b(v["root"]),
    )
    if v["wantErr"]:
        with pytest.raises(ProofError) as err:
            verify_inclusion(*args)
        assert err.value.code.startswith("merkle.")
    else:
        verify_inclusion(*args)


# The one vector whose expectation we do not share, and why: it passes 12-byte placeholder
# roots ("don't care 2") and expects success because sizes and roots are equal. Our verifier
# first insists that roots are SHA-256 values (32 bytes), so a placeholder is refused with
# merkle.bad-hash; the same case with a real 32-byte root passes (checked below).
PLACEHOLDER_ROOTS = {"consistency/additional/sizes-are-equal-one-and-proof-is-empty.json"}


@SHARED
@pytest.mark.parametrize("path", cases("consistency"), ids=case_id)
def test_consistency_vectors(path: Path) -> None:
    v: dict[str, Any] = json.loads(path.read_text())
    args = (v["size1"], v["size2"], [b(p) for p in v["proof"] or []], b(v["root1"]), b(v["root2"]))
    if case_id(path) in PLACEHOLDER_ROOTS:
        assert not v["wantErr"]
        with pytest.raises(ProofError) as err:
            verify_consistency(*args)
        assert err.value.code == "merkle.bad-hash"
        real = leaf_hash(b(v["root1"]))
        verify_consistency(v["size1"], v["size2"], [], real, real)
        return
    if v["wantErr"]:
        with pytest.raises(ProofError) as err:
            verify_consistency(*args)
        assert err.value.code.startswith("merkle.")
    else:
        verify_consistency(*args)


@SHARED
def test_vectors_are_present() -> None:
    # Both kinds, with positive and negative cases (a vanished folder must not pass quietly).
    for kind in ("inclusion", "consistency"):
        wants = {json.loads(p.read_text())["wantErr"] for p in cases(kind)}
        assert wants == {True, False}, kind


def test_rfc9162_hashing() -> None:
    # Section 2.1.1: leaves with 0x00, nodes with 0x01, empty tree = SHA-256("").
    assert hashlib.sha256(b"").digest() == EMPTY_ROOT
    assert leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()
    assert (
        node_hash(b"a" * 32, b"b" * 32) == hashlib.sha256(b"\x01" + b"a" * 32 + b"b" * 32).digest()
    )
    assert MerkleTree().root() == EMPTY_ROOT


def _reference_root(leaves: list[bytes]) -> bytes:
    """MTH (RFC 9162 section 2.1.1) by its recursive definition."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return node_hash(_reference_root(leaves[:k]), _reference_root(leaves[k:]))


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 70), st.data())
def test_produced_proofs_verify_and_tampered_ones_do_not(n: int, data: st.DataObject) -> None:
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(n)]
    tree = MerkleTree(leaves)
    assert tree.root() == _reference_root(leaves)
    size = data.draw(st.integers(1, n))
    index = data.draw(st.integers(0, size - 1))
    root = tree.root(size)
    assert root == _reference_root(leaves[:size])
    proof = tree.inclusion_proof(index, size)
    verify_inclusion(tree.leaf(index), index, size, proof, root)
    with pytest.raises(ProofError):
        verify_inclusion(leaf_hash(b"not in the log"), index, size, proof, root)
    if proof:
        bad = list(proof)
        bad[data.draw(st.integers(0, len(bad) - 1))] = b"\x00" * 32
        with pytest.raises(ProofError):
            verify_inclusion(tree.leaf(index), index, size, bad, root)
    old = data.draw(st.integers(0, size))
    cproof = tree.consistency_proof(old, size)
    verify_consistency(old, size, cproof, tree.root(old), root)
    if 0 < old < size:
        with pytest.raises(ProofError):
            verify_consistency(old, size, cproof, tree.root(old), leaf_hash(b"rewritten"))
        with pytest.raises(ProofError):
            verify_consistency(old, size, cproof[:-1], tree.root(old), root)
