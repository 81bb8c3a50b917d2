"""The verifier's operations: one facade over the parts that own them.

Why a facade: api.py, console.py, the CLI and the tests call one object per worker with
the method names below; each method is a line handing over to the part that owns the
data (ARCHITECTURE.md, "Verifier"):

  tokens      verifier/tokens.py      API bearer tokens and roles
  challenges  verifier/challenges.py  nonces and their liveness challenges
  devices     verifier/devices.py     enrolled keys, rotation, revocation
  references  verifier/references.py  signed release manifests (reference values)
  appraisals  verifier/appraisals.py  submit: appraise, sign, commit; results out
  audit_log   verifier/log.py         RFC 9162 proofs and the C2SP formats

This module builds them from the configuration: keys, engines and connection pools, the
worker's copy of the log; the parts share a `Context` (verifier/context.py).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import DatabaseError

from attest.errors import AttestError
from attest.keys import PublicKey, SigningKey, public_key_from_pem
from attest.keyset import KeySet
from verifier.appraisals import Appraisals
from verifier.auditlog import LogView
from verifier.challenges import Challenges
from verifier.committer import Committer
from verifier.config import Config
from verifier.context import Context
from verifier.devices import MAX_OVERLAP_S, Devices
from verifier.errors import ConfigError
from verifier.hotpath import HotPath
from verifier.log import Log
from verifier.policy import Policy, policy_named
from verifier.references import References
from verifier.storage import make_engine, session_factories
from verifier.tlog import CheckpointStore, Publisher, TlogView, WitnessSpec, load_log_key
from verifier.tokens import ROLES, Caller, Tokens, hash_token, new_token

__all__ = ["MAX_OVERLAP_S", "POOL_SIZE", "ROLES", "Caller", "Verifier", "hash_token", "new_token"]

log = logging.getLogger("verifier")
POOL_SIZE = 20  # the appraisal's connections per worker: see Verifier.__init__


def _read_key(path: Path) -> PublicKey:
    pem = path.read_bytes()
    if b"PRIVATE KEY" in pem:
        return SigningKey.from_private_pem(pem).public
    return public_key_from_pem(pem)


class Verifier:
    """Everything one worker process holds: engine, keys, policy, its copy of the log."""

    def __init__(self, config: Config, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.policy: Policy = policy_named(config.policy, config.clock_skew_s)
        assert config.result_key is not None
        try:
            self.result_key = SigningKey.from_private_pem(config.result_key.read_bytes())
            retiring = [_read_key(p) for p in config.retiring_result_keys]
            self.release_keys = {k.kid: k for k in map(_read_key, config.release_keys)}
        except OSError as exc:
            raise ConfigError(f"cannot read key file {exc.filename}: {exc.strerror}") from None
        except AttestError as exc:
            raise ConfigError(f"unusable key file: {exc}") from None
        self.keyset = KeySet.of([self.result_key.public], retiring)
        # A pooled connection per request thread (serve runs 16 per worker) plus the
        # committer's: when the pool is smaller, connections beyond it are closed on return
        # and opened again on the next request (on PostgreSQL a new server process each).
        sqlite = config.backend == "sqlite"
        self.engine = make_engine(config.database_url, pool_size=POOL_SIZE if sqlite else 5)
        self.reader, self.writer = session_factories(self.engine)
        self.ctx = Context(config, clock, self.reader, self.writer)
        # Hot-path reads need no transaction: autocommit saves BEGIN/ROLLBACK per request
        # (each statement still reads committed data only). On PostgreSQL that takes a pool
        # of its own, so a driver connection never changes mode between uses.
        self.hot_reads = HotPath(
            self.engine
            if sqlite
            else make_engine(config.database_url, pool_size=POOL_SIZE, autocommit=True)
        )
        self.log = LogView()
        lock_file = None
        if sqlite:
            lock_file = Path(config.database_url.removeprefix("sqlite:///") + ".writelock")
        # SQLite: one engine, so one set of statements for reads and writes.
        writes = self.hot_reads if sqlite else HotPath(self.engine)
        self.committer = Committer(writes, self.log, lock_file)
        # The log in C2SP formats (verifier/tlog.py): note key, witnesses, checkpoints.
        assert config.log_key is not None
        self.tlog = TlogView(
            self.log,
            load_log_key(config.log_key, config.log_origin),
            tuple(WitnessSpec.parse(w) for w in config.witnesses),
            CheckpointStore(config.instance_path),
        )
        self.tokens = Tokens(self.ctx)
        self.challenges = Challenges(self.ctx, self.policy)
        self.devices = Devices(self.ctx)
        self.references = References(self.ctx, self.release_keys)
        self.audit_log = Log(self.ctx, self.log, self.tlog, self.result_key)
        self.appraisals = Appraisals(
            self.ctx,
            self.policy,
            self.result_key,
            self.keyset,
            self.hot_reads,
            self.committer,
            self.references,
            self.audit_log,
        )

    @property
    def config(self) -> Config:
        """The parts read it through the shared context, so replacing it reaches them all."""
        return self.ctx.config

    @config.setter
    def config(self, value: Config) -> None:
        self.ctx.config = value

    @property
    def publisher(self) -> Publisher | None:
        return self.audit_log.publisher

    def now(self) -> int:
        return self.ctx.now()

    # -- tokens ----------------------------------------------------------------------------

    def authenticate(self, token: str) -> Caller | None:
        return self.tokens.authenticate(token)

    def create_token(self, role: str, label: str) -> tuple[int, str]:
        return self.tokens.create(role, label)

    def revoke_token(self, token_id: int) -> None:
        self.tokens.revoke(token_id)

    # -- challenges ------------------------------------------------------------------------

    def issue_challenge(
        self, caller: Caller, txn_hash: bytes | None, commitment: bytes | None
    ) -> dict[str, Any]:
        return self.challenges.issue(caller, txn_hash, commitment)

    def purge_nonces(self, grace_s: int = 3600) -> int:
        return self.challenges.purge(grace_s)

    # -- devices ---------------------------------------------------------------------------

    def enrol(
        self, device_id: str, key: PublicKey, hardware_model: str | None = None
    ) -> dict[str, Any]:
        return self.devices.enrol(device_id, key, hardware_model)

    def device(self, kid: bytes) -> dict[str, Any]:
        return self.devices.get(kid)

    def revoke_device(self, kid: bytes) -> dict[str, Any]:
        return self.devices.revoke(kid)

    def rotate_device(self, kid: bytes, new_key: PublicKey, overlap_s: int) -> dict[str, Any]:
        return self.devices.rotate(kid, new_key, overlap_s)

    # -- reference values ------------------------------------------------------------------

    def add_manifest(self, signed: bytes) -> tuple[bool, dict[str, Any]]:
        return self.references.add(signed)

    def manifests(self) -> list[dict[str, Any]]:
        return self.references.manifests()

    # -- attestations ----------------------------------------------------------------------

    def submit(self, token: bytes, profile: str | None = None) -> dict[str, Any]:
        return self.appraisals.submit(token, profile)

    def appraisal(self, caller: Caller, appraisal_id: str) -> dict[str, Any]:
        return self.appraisals.get(caller, appraisal_id)

    def tlog_proof(self, caller: Caller, appraisal_id: str) -> str:
        return self.appraisals.tlog_proof(caller, appraisal_id)

    # -- log -------------------------------------------------------------------------------

    def checkpoint(self) -> dict[str, Any]:
        return self.audit_log.checkpoint()

    def inclusion(self, index: int, size: int | None = None) -> dict[str, Any]:
        return self.audit_log.inclusion(index, size)

    def consistency(self, first: int, second: int) -> dict[str, Any]:
        return self.audit_log.consistency(first, second)

    def entries(self, start: int, limit: int) -> dict[str, Any]:
        return self.audit_log.entries(start, limit)

    def start_publisher(self) -> None:
        self.audit_log.start_publisher()

    def note_checkpoint(self) -> str:
        return self.audit_log.note_checkpoint()

    def witness_status(self) -> dict[str, Any]:
        return self.audit_log.witness_status()

    def tile(self, level: int, n: int, width: int) -> bytes:
        return self.audit_log.tile(level, n, width)

    def entry_bundle(self, n: int, width: int) -> bytes:
        return self.audit_log.entry_bundle(n, width)

    def keyset_document(self) -> str:
        """The published key set, with the log's note vkeys as its `tlog` member."""
        return json.dumps(
            {**self.keyset.to_json(), "tlog": self.tlog.document()}, indent=2, sort_keys=True
        )

    # -- the worker ------------------------------------------------------------------------

    def open_pool(self) -> None:
        """Open the appraisal's connections before the first request needs them.

        Otherwise the first requests after a start each wait for a connection to be set up
        (on PostgreSQL a new server process and its authentication) and for the first
        execution of the read, which PostgreSQL parses, plans and, since the engine asks
        psycopg to prepare at once (storage.make_engine), keeps prepared. In verifier_load on
        PostgreSQL this took the p99 of the first two seconds from about 83 ms to that of
        the rest of the run (about 45 ms). A database that is down is not an error here:
        the requests will say so.
        """
        conns = []
        try:
            for _ in range(POOL_SIZE):
                conns.append(self.hot_reads.engine.raw_connection())
                self.hot_reads.read(None, None, None, conns[-1])
        except (DatabaseError, self.hot_reads.driver_error):
            log.warning("could not open the connection pool; the database is not reachable")
        finally:
            for c in conns:
                c.close()

    def healthy(self) -> bool:
        try:
            with self.reader() as s:
                s.execute(select(1))
        except DatabaseError:
            return False
        return True
