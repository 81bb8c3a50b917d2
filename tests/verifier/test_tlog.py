"""verifier.tlog: the log's note key, tiles, and never serving a checkpoint of another tree."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from attest import merkle
from attest.note import Checkpoint, open_checkpoint, sign_checkpoint
from attest.tlog import TlogProof
from tests.witness import c2sp_independent as c2sp
from verifier.auditlog import LogView
from verifier.errors import VerifierError
from verifier.tlog import CheckpointStore, TlogView, load_log_key
from verifier.tlog_api import _tile_arg


def _view(tmp: Path, n: int) -> tuple[TlogView, list[bytes]]:
    entries = [f"result {i}".encode() for i in range(n)]
    lv = LogView()
    lv.extend((i, merkle.leaf_hash(e)) for i, e in enumerate(entries))
    key = load_log_key(tmp / "log-key.pem", "edgeproof.test/log")
    return TlogView(lv, key, (), CheckpointStore(tmp)), entries


def test_the_log_key_is_made_once_0600(tmp_path: Path) -> None:
    a = load_log_key(tmp_path / "log-key.pem", "edgeproof.test/log")
    b = load_log_key(tmp_path / "log-key.pem", "edgeproof.test/log")
    assert a.vkey == b.vkey and a.vkey.startswith("edgeproof.test/log+")
    assert stat.S_IMODE((tmp_path / "log-key.pem").stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["log-key.pem"]  # no temporary left


def test_tiles_hold_the_subtree_hashes(tmp_path: Path) -> None:
    t, entries = _view(tmp_path, 600)
    leaves = [merkle.leaf_hash(e) for e in entries]
    assert t.tile(0, 0, 256) == b"".join(leaves[:256])
    assert t.tile(0, 2, 88) == b"".join(leaves[512:600])  # the partial tile of size 600
    # Level 1: each hash is the MTH of a full level-0 tile (tlog-tiles), by definition.
    assert t.tile(1, 0, 2) == c2sp.root_of(entries[:256]) + c2sp.root_of(entries[256:512])
    with pytest.raises(ValueError):
        t.tile(0, 2, 89)
    with pytest.raises(ValueError):
        t.tile(1, 0, 3)


@pytest.mark.parametrize(
    ("path", "want"),
    [("000", (0, 256)), ("x001/234.p/17", (1234, 17)), ("007.p/255", (7, 255))],
)
def test_tile_paths(path: str, want: tuple[int, int]) -> None:
    assert _tile_arg(path) == want


@pytest.mark.parametrize("path", ["0", "000.p/0", "000.p/256", "000.p/", "x000/001", "abc", "001/"])
def test_bad_tile_paths_are_not_found(path: str) -> None:
    with pytest.raises(VerifierError) as e:
        _tile_arg(path)
    assert e.value.code == "request.not-found"


def test_a_stored_checkpoint_of_another_tree_is_never_served(tmp_path: Path) -> None:
    t, entries = _view(tmp_path, 5)
    other = merkle.MerkleTree()
    for e in [b"forged", *entries[1:]]:
        other.append(e)
    t.store.write(sign_checkpoint(Checkpoint(t.key.name, 5, other.root()), t.key).encode())
    assert t.witnessed() is None
    served = open_checkpoint(t.checkpoint(5), t.key.verifier).checkpoint
    assert served.root == t.log.root(5)
    proof = TlogProof.parse(t.proof(3, 5).encode())
    assert c2sp.check_tlog_proof(proof.encode(), entries[3], t.key.vkey, []) == {}
