"""The independent C2SP checker (c2sp_independent.py) against the spec's example and our own."""

from __future__ import annotations

import pytest

from attest import merkle
from attest.note import ALG_COSIGNATURE_V1, Checkpoint, Signer, sign_checkpoint
from attest.tlog import TlogProof
from tests.witness import c2sp_independent as c2sp

# c2sp.org/signed-note@v1.0.0, "Verifier keys", "Example".
SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = (
    "This is an example message.\n\n"
    "\u2014 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYj"
    "OBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
)


def test_independent_checker_agrees_with_the_spec_examples() -> None:
    assert c2sp.check_note(SPEC_NOTE, [SPEC_VKEY]) == {"example.com/foo": 0}
    with pytest.raises(c2sp.BadError):
        c2sp.check_note(SPEC_NOTE.replace("example message", "example massage"), [SPEC_VKEY])


def test_independent_checker_agrees_with_ours_on_many_trees() -> None:
    log = Signer.generate("edgeproof.example/log")
    w = Signer.generate("w.example", ALG_COSIGNATURE_V1)
    entries: list[bytes] = []
    t = merkle.MerkleTree()
    for n in range(1, 40):
        entries.append(f"e{n}".encode())
        t.append(entries[-1])
        assert c2sp.root_of(entries) == t.root()
        note = sign_checkpoint(Checkpoint(log.name, n, t.root()), log)
        text = note.encode() + w.cosign(note.text, 1_800_000_000 + n)
        assert c2sp.check_note(text, [log.vkey, w.vkey]) == {
            log.name: 0,
            "w.example": 1_800_000_000 + n,
        }
        for i in range(n):
            proof = TlogProof(i, tuple(t.inclusion_proof(i)), text).encode()
            assert c2sp.check_tlog_proof(proof, entries[i], log.vkey, [w.vkey]) == {
                "w.example": 1_800_000_000 + n
            }
            if n > 1:
                with pytest.raises(c2sp.BadError):
                    c2sp.check_tlog_proof(proof, entries[i - 1] + b"x", log.vkey, [w.vkey])
