"""Session-scoped real servers (one per xdist worker): gunicorn + SQLite, and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rig.verifier import World, make_world
from tests.verifier.helpers import PostgresCluster, VerifierServer, release

__all__ = ["World", "make_world"]  # the rig's, imported from here by the tests


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
