"""An in-process verifier (the real app and a real SQLite database) with a few appraisals.

The appraisals are made through the service exactly as the API makes them (challenge,
device-signed evidence, appraisal, signing, log append); the pages are then read through
Flask's test client. The browser test (test_browser.py) runs the same flow under gunicorn.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from attest.challenge import Gesture
from attest.evidence import AntiClone, DocumentAuth, Outcome, sign_evidence
from attest.keys import SigningKey, b64url_decode
from tests.verifier.helpers import Release, evidence, release
from verifier.app import create_app
from verifier.config import parse_config
from verifier.service import Caller, Verifier
from verifier.storage import make_engine, migrate


@dataclass
class Console:
    """The app, its verifier, tokens for each role, and the appraisals made so far."""

    app: Flask
    v: Verifier
    tokens: dict[str, str]
    device: SigningKey
    release: Release
    rp: Caller
    results: list[dict[str, Any]] = field(default_factory=list)

    def client(self) -> FlaskClient:
        return self.app.test_client()

    def login(self, role: str = "auditor") -> FlaskClient:
        c = self.client()
        page = c.get("/console/login")
        r = c.post("/console/login", data={"token": self.tokens[role], "csrf": csrf_of(page.text)})
        assert r.status_code == 303, r.text
        return c

    def appraise(self, **changes: Any) -> dict[str, Any]:
        """One appraisal through the service: challenge, evidence, submit."""
        ch = self.v.issue_challenge(self.rp, None, None)
        nonce = b64url_decode(ch["nonce"])
        gestures = tuple(Gesture(g) for g in ch["liveness"]["challenge"])
        ev = evidence(nonce, gestures, self.release, now=self.v.now(), **changes)
        out = self.v.submit(sign_evidence(ev, self.device))
        self.results.append(out)
        return out


def csrf_of(html: str) -> str:
    marker = 'name="csrf" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


EXPIRED_DOCUMENT = DocumentAuth(
    Outcome.PASSED, AntiClone.CHIP_AUTHENTICATION, Outcome.PASSED, expired=True
)


def make_console(root: Path, database_url: str = "") -> Console:
    rel = release()
    (root / "result-key.pem").write_bytes(SigningKey.generate().private_pem())
    (root / "release.pem").write_bytes(rel.key.public.pem())
    values = {"instance_path": str(root), "release_keys": [str(root / "release.pem")]}
    if database_url:
        values["database_url"] = database_url
    config = parse_config(values)
    engine = make_engine(config.database_url)
    migrate(engine)
    engine.dispose()
    app = create_app(config)
    v: Verifier = app.extensions["verifier"]
    tokens = {role: v.create_token(role, role)[1] for role in ("admin", "auditor", "relying-party")}
    rp = v.authenticate(tokens["relying-party"])
    assert rp is not None
    device = SigningKey.generate()
    v.enrol("device-1", device.public)
    v.add_manifest(rel.signed)
    return Console(app, v, tokens, device, rel, rp)


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Console]:
    c = make_console(tmp_path)
    c.appraise()
    c.appraise()
    c.appraise(document=EXPIRED_DOCUMENT)
    try:
        yield c
    finally:
        c.v.engine.dispose()
