"""Storage: SQLAlchemy 2 models, the engine, and schema migration (Alembic).

Two backends, one schema: SQLite in WAL mode (the embedded default, one host) and
PostgreSQL through psycopg 3 (several replicas behind a load balancer). Everything that must
be atomic across replicas is a single transaction whose first statement takes a row lock:
the nonce's conditional UPDATE, then the log head's row (SELECT ... FOR UPDATE on PostgreSQL;
on SQLite the write transaction is BEGIN IMMEDIATE, which serialises writers).

Times are integer seconds since 1970 (the same unit as the claims), keys and digests raw bytes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from sqlalchemy import (
    Engine,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    create_engine,
    event,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class Base(DeclarativeBase):
    pass


class ApiToken(Base):
    """A bearer token, stored as its SHA-256 only (the token itself is shown once)."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[int] = mapped_column(Integer)
    revoked_at: Mapped[int | None] = mapped_column(Integer, nullable=True)


class ConsoleSession(Base):
    """An open console session: the SHA-256 of the random id its cookie carries."""

    __tablename__ = "console_sessions"
    sid_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("api_tokens.id"))
    created_at: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[int] = mapped_column(Integer)


class Device(Base):
    """One device key. Rotation adds a row; old rows stay for auditors."""

    __tablename__ = "devices"
    kid: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(64), index=True)
    alg: Mapped[int] = mapped_column(Integer)
    cose_key: Mapped[bytes] = mapped_column(LargeBinary(512))
    enrolled_at: Mapped[int] = mapped_column(Integer)
    not_after: Mapped[int | None] = mapped_column(Integer, nullable=True)  # end of overlap
    revoked_at: Mapped[int | None] = mapped_column(Integer, nullable=True)
    replaced_by: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)
    hardware_model: Mapped[str | None] = mapped_column(String(128), nullable=True)


class Nonce(Base):
    """A challenge. `consumed_at` is set exactly once, by the accepting transaction."""

    __tablename__ = "nonces"
    nonce: Mapped[bytes] = mapped_column(LargeBinary(64), primary_key=True)
    issued_at: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[int] = mapped_column(Integer, index=True)
    consumed_at: Mapped[int | None] = mapped_column(Integer, nullable=True)
    owner_token_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    txn_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)
    # The nonce is transaction_nonce(txn_salt, txn_hash) when a transaction is named.
    txn_salt: Mapped[bytes | None] = mapped_column(LargeBinary(16), nullable=True)
    commitment: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)
    liveness_method: Mapped[int] = mapped_column(Integer)
    challenge: Mapped[str] = mapped_column(String(128))


class ReferenceManifest(Base):
    """A release manifest accepted from the reference value provider."""

    __tablename__ = "reference_manifests"
    digest: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(64))
    signed: Mapped[bytes] = mapped_column(LargeBinary)
    added_at: Mapped[int] = mapped_column(Integer)


class Appraisal(Base):
    """An accepted appraisal: the signed results and what they were about (pseudonymous)."""

    __tablename__ = "appraisals"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    created_at: Mapped[int] = mapped_column(Integer)
    device_kid: Mapped[bytes] = mapped_column(LargeBinary(32))
    nonce: Mapped[bytes] = mapped_column(LargeBinary(64), unique=True)
    cti: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    evidence_digest: Mapped[bytes] = mapped_column(LargeBinary(32))
    status: Mapped[int] = mapped_column(Integer)
    policy_id: Mapped[str] = mapped_column(String(64))
    owner_token_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    ear_cwt: Mapped[bytes] = mapped_column(LargeBinary)
    ear_jwt: Mapped[str] = mapped_column(Text)
    checks: Mapped[str] = mapped_column(Text)  # JSON list of {check, outcome, code, detail}
    # The device's signed evidence: pseudonymous by construction (closed claim schema), kept
    # so that auditors can re-check the device signature and read the claims. None only for
    # appraisals made before schema revision 0003.
    evidence: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    log_index: Mapped[int] = mapped_column(Integer, unique=True)


class LogEntry(Base):
    """Leaf `idx` of the RFC 9162 tree: the bytes are the signed EAR (CWT)."""

    __tablename__ = "log_entries"
    idx: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    appraisal_id: Mapped[str] = mapped_column(ForeignKey("appraisals.id"))


class LogHead(Base):
    """One row (id 1): the committed tree size. Its row lock serialises appends."""

    __tablename__ = "log_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(Integer)


def make_engine(url: str, *, pool_size: int = 5, autocommit: bool = False) -> Engine:
    """An engine with the backend's settings for durability and concurrency.

    `autocommit` (PostgreSQL): every statement is its own transaction, for single-statement
    reads that need no BEGIN/ROLLBACK round trips. SQLite connections always run in the
    driver's autocommit mode; their write transactions BEGIN explicitly.
    """
    if url.startswith("sqlite"):
        # Pooled: closing the last connection to a WAL database checkpoints and removes the
        # WAL, which would cost a checkpoint per request. Each gunicorn worker builds its own
        # engine after the fork (no preload), so no connection crosses a fork.
        engine = create_engine(
            url,
            pool_size=pool_size,
            max_overflow=10,
            connect_args={"isolation_level": None, "timeout": 30, "check_same_thread": False},
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL: a commit survives a process crash (SIGKILL), which is the
            # durability the API promises; FULL would add an fsync per commit.
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            # Writers take the write lock up front, so two writers never deadlock on an
            # upgrade from a read lock (SQLITE_BUSY without waiting).
            immediate = conn.get_execution_options().get("sqlite_immediate")
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    # No pre-ping: it costs a round trip per checkout; a connection broken by a database
    # restart fails one request with 503 (request.unavailable) and is then replaced.
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=10,
        pool_recycle=3600,
        # Prepare every statement on its first execution (psycopg's default waits for the
        # fifth): the hot path runs a handful of statements millions of times.
        connect_args={"prepare_threshold": 0},
        **({"isolation_level": "AUTOCOMMIT"} if autocommit else {}),
    )


def tables() -> tuple[Table, Table, Table, Table, Table]:
    """(nonces, devices, appraisals, log_entries, log_head) for Core statements on hot paths."""
    return (
        cast(Table, Nonce.__table__),
        cast(Table, Device.__table__),
        cast(Table, Appraisal.__table__),
        cast(Table, LogEntry.__table__),
        cast(Table, LogHead.__table__),
    )


def session_factories(engine: Engine) -> tuple[sessionmaker[Any], sessionmaker[Any]]:
    """(reader, writer) session factories; the writer takes SQLite's write lock at BEGIN."""
    reader = sessionmaker(engine, expire_on_commit=False)
    writer = sessionmaker(engine.execution_options(sqlite_immediate=True), expire_on_commit=False)
    return reader, writer


def alembic_config(url: str) -> Any:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (idempotent; keeps existing data)."""
    from alembic import command

    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def schema_is_current(engine: Engine) -> bool:
    """True when the database is at the newest migration (serve refuses otherwise)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    return current == head
