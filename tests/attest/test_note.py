"""C2SP signed notes, checkpoints, cosignatures and tlog-proofs (attest.note, attest.tlog)."""

from __future__ import annotations

import base64
import contextlib
import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from attest import merkle
from attest.note import (
    ALG_COSIGNATURE_V1,
    Checkpoint,
    Note,
    NoteError,
    Signer,
    Verifier,
    open_checkpoint,
    open_note,
    sign_checkpoint,
)
from attest.tlog import (
    AddCheckpoint,
    TlogProof,
    entry_bundle,
    parse_entry_bundle,
    parse_tile_index,
    tile_index_path,
    verify_proof,
)

# signed-note@v1.0.0, "Verifier keys", "Example": a vkey and the note it verifies.
SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = (
    "This is an example message.\n\n"
    "\u2014 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYj"
    "OBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
)


def test_the_specs_example_note_verifies() -> None:
    v = Verifier.from_vkey(SPEC_VKEY)
    assert v.vkey == SPEC_VKEY
    note, ok = open_note(SPEC_NOTE, [v])
    assert note.text == "This is an example message.\n"
    assert ok == {"example.com/foo": 0}
    tampered = SPEC_NOTE.replace("example message", "example massage")
    with pytest.raises(NoteError) as e:
        open_note(tampered, [v])
    assert e.value.code == "note.bad-signature"


def test_unknown_keys_are_ignored_and_a_note_needs_one_known() -> None:
    v = Verifier.from_vkey(SPEC_VKEY)
    other = Signer.generate("example.com/foo")  # same name, different key ID
    note = Note.parse(SPEC_NOTE)
    both = Note.parse(note.text + "\n" + other.sign_note(note.text) + note.signatures[0].line)
    assert both.signed_by([v]) == {"example.com/foo": 0}
    with pytest.raises(NoteError) as e:
        open_note(both.encode(), [Signer.generate("x.example/y").verifier])
    assert e.value.code == "note.unverified"


@pytest.mark.parametrize(
    "bad",
    [
        "no blank line\n\u2014 a AAAAAAA=\n",
        "text\n\n",  # no signature
        "text\n\n\u2014 a b c\n",  # space inside
        "text\n\n- a AAAAAAAA\n",  # not an em dash
        "te\x01xt\n\n\u2014 a AAAAAAAA\n",  # control character
        "text\n\n\u2014 a AAAA\n",  # shorter than a key ID
        "text\n\n\u2014 a+b AAAAAAAA\n",  # plus in a key name
        "text\n\n\u2014 a AAAAAAAA",  # no final newline
    ],
)
def test_malformed_notes_are_refused(bad: str) -> None:
    with pytest.raises(NoteError):
        Note.parse(bad)


def test_vkeys_round_trip_and_mismatched_ids_are_refused() -> None:
    s = Signer.generate("edgeproof.example/log")
    v = Verifier.from_vkey(s.vkey)
    assert v == s.verifier
    name, kid, key = s.vkey.split("+", 2)
    with pytest.raises(NoteError):
        Verifier.from_vkey(f"{name}+00000000+{key}")
    with pytest.raises(NoteError):
        Verifier.from_vkey(f"other+{kid}+{key}")
    # The key ID is SHA-256(name || 0x0A || 0x01 || key)[:4] (signed-note, Ed25519).
    raw = base64.b64decode(key)
    assert kid == hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4].hex()


def _tree(n: int) -> merkle.MerkleTree:
    t = merkle.MerkleTree()
    for i in range(n):
        t.append(f"entry {i}".encode())
    return t


def test_checkpoint_and_cosignature_round_trip() -> None:
    log = Signer.generate("edgeproof.example/log")
    w = Signer.generate("witness.example/w1", ALG_COSIGNATURE_V1)
    t = _tree(5)
    cp = Checkpoint("edgeproof.example/log", 5, t.root())
    note = sign_checkpoint(cp, log)
    assert note.text == f"edgeproof.example/log\n5\n{base64.b64encode(t.root()).decode()}\n"
    cosigned = note.encode() + w.cosign(note.text, 1_700_000_000)
    scp = open_checkpoint(cosigned, log.verifier, [w.verifier])
    assert scp.checkpoint == cp
    assert scp.cosigners == {"witness.example/w1": 1_700_000_000}
    # A cosignature over another body does not verify: the whole note is refused.
    other = sign_checkpoint(Checkpoint(cp.origin, 5, bytes(32)), log)
    bad = other.encode() + w.cosign(note.text, 1_700_000_000)
    with pytest.raises(NoteError):
        open_checkpoint(bad, log.verifier, [w.verifier])
    # The log's key signs only its own origin.
    stranger = sign_checkpoint(Checkpoint("elsewhere.example", 5, t.root()), log)
    with pytest.raises(NoteError):
        open_checkpoint(stranger.encode(), log.verifier)


@pytest.mark.parametrize(
    "body",
    [
        "o\n01\nAAAA\n",
        "o\n1\n",
        "o\n-1\n" + "A" * 43 + "=\n",
        "\n1\n" + "A" * 43 + "=\n",
        "o\n1\nAA==\n",
    ],
)
def test_malformed_checkpoints(body: str) -> None:
    with pytest.raises(NoteError):
        Checkpoint.parse(body)


def test_tlog_proof_round_trip_and_checks() -> None:
    log = Signer.generate("edgeproof.example/log")
    w1 = Signer.generate("w1.example", ALG_COSIGNATURE_V1)
    w2 = Signer.generate("w2.example", ALG_COSIGNATURE_V1)
    t = _tree(11)
    note = sign_checkpoint(Checkpoint("edgeproof.example/log", 11, t.root()), log)
    cosigned = note.encode() + w1.cosign(note.text, 1_800_000_000)
    p = TlogProof(6, tuple(t.inclusion_proof(6)), cosigned, extra=b"context")
    text = p.encode()
    assert text.startswith("c2sp.org/tlog-proof@v1\nextra Y29udGV4dA==\nindex 6\n")
    assert TlogProof.parse(text) == p
    res = verify_proof(text, b"entry 6", log.verifier, required=[w1.verifier])
    assert res.index == 6 and res.witnesses == ["w1.example"]
    with pytest.raises(NoteError) as e:
        verify_proof(text, b"entry 6", log.verifier, required=[w2.verifier])
    assert e.value.code == "tlog-proof.missing-cosignature"
    with pytest.raises(NoteError) as e:
        verify_proof(text, b"entry 7", log.verifier)
    assert e.value.code == "tlog-proof.not-included"


@given(st.binary(max_size=400))
def test_tlog_proof_parser_never_crashes(data: bytes) -> None:
    with contextlib.suppress(NoteError):
        TlogProof.parse(data)


@given(st.binary(max_size=400))
def test_add_checkpoint_parser_never_crashes(data: bytes) -> None:
    with contextlib.suppress(NoteError):
        AddCheckpoint.parse(data)


@given(st.text(max_size=300))
def test_note_parser_never_crashes(data: str) -> None:
    with contextlib.suppress(NoteError):
        Note.parse(data)


def test_tile_paths_and_bundles() -> None:
    assert tile_index_path(0) == "000"
    assert tile_index_path(1234067) == "x001/x234/067"
    for n in (0, 5, 999, 1000, 1234067, 10**9):
        assert parse_tile_index(tile_index_path(n)) == n
    for bad in ("1234", "x001", "001/002", "x01/002", "x000/001", ""):
        with pytest.raises(NoteError):
            parse_tile_index(bad)
    entries = [b"", b"a", bytes(300)]
    assert parse_entry_bundle(entry_bundle(entries)) == entries


def test_complete_subtrees_are_tile_hashes() -> None:
    t = _tree(600)
    assert t.complete_subtrees(0, 256, 3) == [t.leaf(256), t.leaf(257), t.leaf(258)]
    # Level-1 tile hash 0 is MTH of the first 256 leaves (tlog-tiles, "Merkle Tree").
    assert t.complete_subtrees(8, 0, 2) == [
        merkle.MerkleTree([t.leaf(i) for i in range(256)]).root(),
        merkle.MerkleTree([t.leaf(i) for i in range(256, 512)]).root(),
    ]
    with pytest.raises(ValueError):
        t.complete_subtrees(8, 0, 3)


def test_vkeys_whose_base64_holds_a_plus_round_trip() -> None:
    # About half of all Ed25519 vkeys have a "+" in their base64 part (RFC 4648 alphabet).
    for _ in range(40):
        s = Signer.generate("edgeproof.example/log")
        assert Verifier.from_vkey(s.vkey) == s.verifier
