"""A throwaway PostgreSQL cluster for the tests and the benchmarks: Debian's initdb in a
temporary folder, then the postgres server on 127.0.0.1 on a free port, stopped by PID and
removed with its folder.

Why a real server: the verifier's PostgreSQL paths (row locks, the log's serialisation,
migrations) behave differently from SQLite's, and only the real server shows it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from rig.proc import free_port, wait_for

#: Where Debian's postgresql-15 keeps initdb and postgres (they are not on PATH).
PG_BIN = "/usr/lib/postgresql/15/bin"


def pg_binary(name: str) -> str | None:
    """`initdb` or `postgres` from PATH or Debian's folder, or None when not installed."""
    found = shutil.which(name)
    if found is None and os.access(os.path.join(PG_BIN, name), os.X_OK):
        found = os.path.join(PG_BIN, name)
    return found


class PostgresCluster:
    """initdb in a temp dir, postgres on 127.0.0.1:free port, trust auth for `edgeproof`."""

    def __init__(self, initdb: str | None = None, postgres: str | None = None) -> None:
        initdb = initdb or pg_binary("initdb")
        postgres = postgres or pg_binary("postgres")
        if initdb is None or postgres is None:
            raise FileNotFoundError(f"PostgreSQL is not installed (initdb, postgres in {PG_BIN})")
        self.dir = Path(tempfile.mkdtemp(prefix="edgeproof-pg-"))
        self.user = "postgres" if os.geteuid() == 0 else None  # initdb refuses to run as root
        if self.user:
            shutil.chown(self.dir, self.user)
        data = self.dir / "data"
        out = subprocess.run(
            [initdb, "-D", str(data), "-U", "edgeproof", "--auth=trust", "-E", "UTF8"],
            capture_output=True,
            user=self.user,
            check=False,
        )
        if out.returncode != 0:
            shutil.rmtree(self.dir, ignore_errors=True)
            raise RuntimeError(f"initdb failed: {out.stderr.decode(errors='replace')[-2000:]}")
        self.port = free_port()
        self.log = open(self.dir / "postgres.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                *(postgres, "-D", str(data), "-p", str(self.port), "-h", "127.0.0.1"),
                *("-k", str(self.dir), "-c", "max_connections=200", "-c", "fsync=on"),
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            user=self.user,
        )
        self._n = 0
        wait_for(self._ready, 30, "postgres")

    def _ready(self) -> bool:
        import psycopg

        try:
            with psycopg.connect(self.dsn("postgres"), connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def dsn(self, db: str) -> str:
        return f"postgresql://edgeproof@127.0.0.1:{self.port}/{db}"

    def new_database(self) -> str:
        """A fresh database; returns its SQLAlchemy URL."""
        import psycopg

        self._n += 1
        name = f"verifier{self._n}"
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return f"postgresql+psycopg://edgeproof@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # "fast" shutdown: ends sessions, no waiting
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
