"""The witness's add-checkpoint decisions, status by status (c2sp.org/tlog-witness@v1.0.0)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attest import merkle
from attest.note import ALG_COSIGNATURE_V1, Checkpoint, Signer, open_checkpoint, sign_checkpoint
from attest.tlog import AddCheckpoint
from witness.core import Witness, origin_hash
from witness.store import Store

ORIGIN = "edgeproof.example/log"


class Rig:
    def __init__(self, tmp: Path) -> None:
        self.log = Signer.generate(ORIGIN)
        self.key = Signer.generate("w.example/w1", ALG_COSIGNATURE_V1)
        self.now = 1_800_000_000
        self.w = Witness(self.key, [self.log.verifier], Store(tmp / "w.db"), lambda: self.now)
        self.tree = merkle.MerkleTree()

    def grow(self, n: int, tag: str = "") -> None:
        for _ in range(n):
            self.tree.append(f"{tag}{self.tree.size}".encode())

    def note(self, size: int | None = None, tree: merkle.MerkleTree | None = None) -> str:
        t = tree or self.tree
        n = t.size if size is None else size
        return sign_checkpoint(Checkpoint(ORIGIN, n, t.root(n)), self.log).encode()

    def add(
        self, old: int, note: str | None = None, proof: list[bytes] | None = None
    ) -> tuple[int, str]:
        if proof is None:
            proof = self.tree.consistency_proof(old) if old else []
        a = self.w.add_checkpoint(AddCheckpoint(old, tuple(proof), note or self.note()).encode())
        return a.status, a.body


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    return Rig(tmp_path)


def test_cosigns_a_consistent_sequence(rig: Rig) -> None:
    rig.grow(3)
    status, body = rig.add(0)
    assert status == 200
    scp = open_checkpoint(rig.note() + body, rig.log.verifier, [rig.key.verifier])
    assert scp.cosigners == {"w.example/w1": rig.now}
    rig.grow(5)
    rig.now += 1
    assert rig.add(3)[0] == 200
    # Same size, same root again: cosigned again (fresh timestamp).
    assert rig.add(8, proof=[])[0] == 200
    served = rig.w.checkpoint(origin_hash(ORIGIN))
    assert served.status == 200
    assert open_checkpoint(served.body, rig.log.verifier, [rig.key.verifier]).checkpoint.size == 8


def test_conflict_answers_the_stored_size(rig: Rig) -> None:
    rig.grow(4)
    assert rig.add(0)[0] == 200
    rig.grow(2)
    a = rig.w.add_checkpoint(AddCheckpoint(0, (), rig.note()).encode())
    assert (a.status, a.content_type, a.body) == (409, "text/x.tlog.size", "4\n")
    a = rig.w.add_checkpoint(
        AddCheckpoint(5, tuple(rig.tree.consistency_proof(5)), rig.note()).encode()
    )
    assert a.status == 409


def test_a_fork_is_refused_and_kept_as_evidence(rig: Rig) -> None:
    rig.grow(4)
    assert rig.add(0)[0] == 200
    fork = merkle.MerkleTree()
    for i in range(4):
        fork.append(f"forged{i}".encode())
    # Two different checkpoints of one size: 422, not cosigned.
    status, body = rig.add(4, note=rig.note(tree=fork), proof=[])
    assert status == 422 and "not consistent" in body
    # A larger forked tree with a proof from its own history: 422 too.
    fork.append(b"x")
    status, _ = rig.add(4, note=rig.note(tree=fork), proof=fork.consistency_proof(4))
    assert status == 422
    refused = rig.w.store.refusals(ORIGIN)
    assert [r[1] for r in refused] == [422, 422]
    # The witness's view did not move.
    served = rig.w.checkpoint(origin_hash(ORIGIN)).body
    assert open_checkpoint(served, rig.log.verifier).checkpoint.root == rig.tree.root(4)


def test_statuses_for_bad_requests(rig: Rig) -> None:
    rig.grow(2)
    assert rig.w.add_checkpoint(b"garbage").status == 400
    other = Signer.generate("other.example/log")
    note = sign_checkpoint(Checkpoint("other.example/log", 2, rig.tree.root()), other).encode()
    assert rig.add(0, note=note)[0] == 404
    impostor = Signer.generate(ORIGIN)  # right origin, untrusted key
    note = sign_checkpoint(Checkpoint(ORIGIN, 2, rig.tree.root()), impostor).encode()
    assert rig.add(0, note=note)[0] == 403
    good = rig.note()
    body_lines = good.split("\n")
    body_lines[1] = "3"  # size changed under the log's signature: a bad signature
    assert rig.add(0, note="\n".join(body_lines))[0] == 403
    assert rig.add(5, proof=[])[0] == 400  # old size above the checkpoint's
    assert rig.add(0, proof=[bytes(32)])[0] == 422  # a proof from the empty tree
    empty = sign_checkpoint(Checkpoint(ORIGIN, 0, bytes(32)), rig.log).encode()
    assert rig.add(0, note=empty)[0] == 422  # size 0 must carry the empty root
    assert rig.w.checkpoint("00" * 32).status == 404


_FUZZ: dict[str, Rig] = {}


def _fuzz_rig() -> Rig:
    if "rig" not in _FUZZ:
        import tempfile

        rig = Rig(Path(tempfile.mkdtemp(prefix="witness-fuzz-")))
        rig.grow(5)
        assert rig.add(0)[0] == 200
        rig.grow(3)
        _FUZZ["rig"] = rig
    return _FUZZ["rig"]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_random_bodies_get_a_4xx(data: bytes) -> None:
    a = _fuzz_rig().w.add_checkpoint(data)
    assert a.status in (400, 403, 404, 409, 422)


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_mutated_requests_are_never_cosigned(data: st.DataObject) -> None:
    rig = _fuzz_rig()
    good = AddCheckpoint(5, tuple(rig.tree.consistency_proof(5)), rig.note()).encode()
    body = bytearray(good)
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(body) - 1))
        body[i] = data.draw(st.integers(0, 255))
    if bytes(body) == good:
        return
    a = rig.w.add_checkpoint(bytes(body))
    assert a.status in (400, 403, 404, 409, 422), (a.status, bytes(body))
