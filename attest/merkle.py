"""The audit log's Merkle tree: RFC 9162 section 2.1 (Certificate Transparency v2).

Leaves are hashed with a 0x00 prefix and interior nodes with 0x01 (section 2.1.1), so a
leaf can never be passed off as a node. Proof verification follows the algorithms of
sections 2.1.3.2 (inclusion) and 2.1.4.2 (consistency) step by step; an auditor needs only
these functions, the checkpoints and the entries, never the verifier's word.

`MerkleTree` keeps every complete subtree hash it has seen, so the root of any prefix and
any proof cost O(log n) hashes once the leaves are in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from attest.errors import ProofError

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    """MTH of a one-leaf tree: SHA-256(0x00 || d) (RFC 9162 section 2.1.1)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right) (RFC 9162 section 2.1.1)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


class MerkleTree:
    """An append-only tree over leaf hashes, with cached complete subtrees."""

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        # levels[h][i] is the hash of the complete subtree of 2**h leaves starting at i * 2**h.
        self._levels: list[list[bytes]] = [[]]
        for h in leaf_hashes:
            self.append_hash(h)

    @property
    def size(self) -> int:
        return len(self._levels[0])

    def append(self, data: bytes) -> int:
        """Append the leaf for `data`; returns its index."""
        return self.append_hash(leaf_hash(data))

    def append_hash(self, h: bytes) -> int:
        if len(h) != HASH_SIZE:
            raise ValueError("leaf hashes are 32 bytes")
        index = self.size
        self._levels[0].append(h)
        level, i = 0, index
        while i % 2 == 1:  # completed a pair: cache the parent
            parent = node_hash(self._levels[level][i - 1], self._levels[level][i])
            level += 1
            if level == len(self._levels):
                self._levels.append([])
            self._levels[level].append(parent)
            i //= 2
        return index

    def leaf(self, index: int) -> bytes:
        return self._levels[0][index]

    def complete_subtrees(self, height: int, start: int, count: int) -> list[bytes]:
        """MTH of the complete subtrees of 2**height leaves numbered start..start+count-1.

        These are what a tlog-tiles tile holds (level L of the tiles is height 8L here);
        ValueError when one of them is not complete yet.
        """
        if start < 0 or count < 0 or start + count > self.size >> height:
            raise ValueError("those subtrees are not complete")
        if count == 0:
            return []
        return list(self._levels[height][start : start + count])

    def _subtree(self, start: int, n: int) -> bytes:
        """MTH(D[start:start+n]) (RFC 9162 section 2.1.1)."""
        if n == 1:
            return self._levels[0][start]
        if n & (n - 1) == 0 and start % n == 0:
            level = n.bit_length() - 1
            if level < len(self._levels) and start // n < len(self._levels[level]):
                return self._levels[level][start // n]
        k = _split(n)
        return node_hash(self._subtree(start, k), self._subtree(start + k, n - k))

    def _check_size(self, size: int | None) -> int:
        n = self.size if size is None else size
        if not 0 <= n <= self.size:
            raise ValueError(f"tree size {n} outside 0..{self.size}")
        return n

    def root(self, size: int | None = None) -> bytes:
        n = self._check_size(size)
        return EMPTY_ROOT if n == 0 else self._subtree(0, n)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(m, D[n]) (RFC 9162 section 2.1.3.1)."""
        n = self._check_size(size)
        if not 0 <= index < n:
            raise ValueError(f"leaf index {index} outside a tree of size {n}")
        return self._path(index, 0, n)

    def _path(self, m: int, start: int, n: int) -> list[bytes]:
        if n == 1:
            return []
        k = _split(n)
        if m < k:
            return [*self._path(m, start, k), self._subtree(start + k, n - k)]
        return [*self._path(m - k, start + k, n - k), self._subtree(start, k)]

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """PROOF(m, D[n]) (RFC 9162 section 2.1.4.1)."""
        n = self._check_size(new_size)
        if not 0 <= old_size <= n:
            raise ValueError(f"old size {old_size} outside 0..{n}")
        if old_size in (0, n):
            return []
        return self._subproof(old_size, 0, n, True)

    def _subproof(self, m: int, start: int, n: int, complete: bool) -> list[bytes]:
        if m == n:
            return [] if complete else [self._subtree(start, n)]
        k = _split(n)
        if m <= k:
            return [*self._subproof(m, start, k, complete), self._subtree(start + k, n - k)]
        return [*self._subproof(m - k, start + k, n - k, False), self._subtree(start, k)]


def _check_hashes(proof: Sequence[bytes], *more: bytes) -> None:
    for h in (*proof, *more):
        if not isinstance(h, bytes) or len(h) != HASH_SIZE:
            raise ProofError("proof hashes and roots are 32-byte strings", code="merkle.bad-hash")


def root_from_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """The root an inclusion proof leads to (RFC 9162 section 2.1.3.2, steps 1 to 6)."""
    _check_hashes(proof, leaf)
    if not 0 <= index < size:
        raise ProofError(
            f"leaf index {index} outside a tree of size {size}", code="merkle.bad-index"
        )
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof is too long", code="merkle.bad-proof-length")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof is too short", code="merkle.bad-proof-length")
    return r


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Raise ProofError unless `leaf` is entry `index` of the tree of `size` with `root`."""
    _check_hashes((), root)
    if root_from_inclusion(leaf, index, size, proof) != root:
        raise ProofError("inclusion proof does not lead to the root", code="merkle.root-mismatch")


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """Raise ProofError unless tree `size2` extends tree `size1` (RFC 9162 section 2.1.4.2)."""
    _check_hashes(proof, root1, root2)
    if not 0 <= size1 <= size2:
        raise ProofError(f"sizes {size1} and {size2} cannot be consistent", code="merkle.bad-size")
    if size1 == size2:
        if proof:
            raise ProofError(
                "proof between equal sizes must be empty", code="merkle.bad-proof-length"
            )
        if root1 != root2:
            raise ProofError("equal sizes with different roots", code="merkle.root-mismatch")
        return
    if size1 == 0:
        if proof:
            raise ProofError(
                "proof from the empty tree must be empty", code="merkle.bad-proof-length"
            )
        return
    if not proof:
        raise ProofError("empty consistency proof", code="merkle.bad-proof-length")
    path = list(proof)
    # Step 1: if size1 is an exact power of 2, prepend first_hash (root1).
    if size1 & (size1 - 1) == 0:
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    # Step 3: right-shift while LSB(fn) is set.
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is too long", code="merkle.bad-proof-length")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof is too short", code="merkle.bad-proof-length")
    if fr != root1 or sr != root2:
        raise ProofError("consistency proof does not match the roots", code="merkle.root-mismatch")
