"""The console's overview names the witnesses that cosigned the log's C2SP checkpoint."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from attest.note import ALG_COSIGNATURE_V1, Signer, sign_checkpoint
from attest.note import Checkpoint as NoteCheckpoint
from tests.console.conftest import Console, csrf_of
from verifier.app import create_app
from verifier.service import Verifier


def test_overview_shows_the_witnesses_that_cosigned(console: Console, tmp_path: Path) -> None:
    c = console.login()
    assert '<td id="witnesses">none configured</td>' in c.get("/console/").text
    # A verifier with two witnesses; one of them cosigned the stored checkpoint. (A long
    # interval keeps the publisher from replacing the file during the test.)
    w1 = Signer.generate("w1.example", ALG_COSIGNATURE_V1)
    w2 = Signer.generate("w2.example", ALG_COSIGNATURE_V1)
    config = replace(
        console.v.config,
        witnesses=(f"{w1.vkey} http://127.0.0.1:9", f"{w2.vkey} http://127.0.0.1:9"),
        checkpoint_interval_ms=60_000,
    )
    app = create_app(config)
    v: Verifier = app.extensions["verifier"]
    try:
        v.note_checkpoint()  # catches its tree up from the database
        note = sign_checkpoint(NoteCheckpoint(v.tlog.key.name, 3, v.log.root(3)), v.tlog.key)
        v.tlog.store.write(note.encode() + w1.cosign(note.text, 1_800_000_000))
        client = app.test_client()
        page = client.get("/console/login").text
        client.post(
            "/console/login", data={"token": console.tokens["auditor"], "csrf": csrf_of(page)}
        )
        html = client.get("/console/").text
        assert '<td id="witnesses">1 of 2 cosigned size 3: w1.example</td>' in html
        assert "\u2014 w1.example " in html  # the note, cosignature line included
        assert '<span class="ok">consistent</span>' in html
        assert (
            '<td>checkpoint the witnesses cosigned (w1.example)</td><td><span class="ok">' in html
        )
        # A witness cosigned a tree of size 3 that these entries do not rebuild (the log
        # was rewritten after witnessing): the overview says so.
        forked = sign_checkpoint(NoteCheckpoint(v.tlog.key.name, 3, v.log.root(2)), v.tlog.key)
        v.tlog.store.write(forked.encode() + w1.cosign(forked.text, 1_800_000_001))
        html = client.get("/console/").text
        assert '<span class="bad">inconsistent</span>' in html
        assert (
            '<td>checkpoint the witnesses cosigned (w1.example)</td><td><span class="bad">no'
        ) in html
        assert f"the entries rebuild {v.log.root(3).hex()}" in html
    finally:
        if v.publisher is not None:
            v.publisher.stop()
        v.engine.dispose()
