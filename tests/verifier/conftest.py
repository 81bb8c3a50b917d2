"""Session-scoped real servers (one per xdist worker): gunicorn + SQLite, and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from attest.keys import SigningKey
from tests.verifier.helpers import Client, PostgresCluster, Release, VerifierServer, release


@dataclass
class World:
    """A running verifier with a relying party, an auditor, an enrolled device, a release."""

    server: VerifierServer
    client: Client
    rp: str
    auditor: str
    device: SigningKey
    release: Release

    def good(self, txn_hash: bytes | None = None, **changes: object) -> bytes:
        return self.client.good_token(
            self.rp, self.device, self.release, txn_hash=txn_hash, **changes
        )


def make_world(server: VerifierServer, rel: Release) -> World:
    c = server.client()
    device = SigningKey.generate()
    c.enrol(device)
    c.add_release(rel)
    return World(server, c, c.token("relying-party"), c.token("auditor"), device, rel)


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    rel = release()
    server = VerifierServer(tmp_path_factory.mktemp("verifier-sqlite"), rel.key).start()
    try:
        yield make_world(server, rel)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def pg() -> Iterator[PostgresCluster]:
    cluster = PostgresCluster()
    try:
        yield cluster
    finally:
        cluster.stop()
