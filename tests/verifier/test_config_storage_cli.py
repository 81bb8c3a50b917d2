"""Configuration, schema migrations and the CLI, run for real (subprocesses, SQLite, PostgreSQL)."""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from attest.keys import SigningKey, b64url
from tests.verifier.helpers import EDGEPROOF, PostgresCluster
from verifier.app import create_app
from verifier.config import load_config, parse_config
from verifier.errors import ConfigError
from verifier.storage import Base, make_engine, migrate, schema_is_current


def test_unknown_keys_and_bad_values_are_rejected(tmp_path: Path) -> None:
    base = {"instance_path": str(tmp_path)}
    for bad in (
        {"nonce_ttl": 5},
        {"policy": "lenient"},
        {"nonce_ttl_s": 5},
        {"max_evidence_bytes": 1 << 20},
        {"database_url": "mysql://x"},
        {"release_keys": "a,,b", "clock_skew_s": True},
    ):
        with pytest.raises(ConfigError):
            parse_config({**base, **bad})
    with pytest.raises(ConfigError, match="instance_path"):
        parse_config({})


def test_file_then_environment(tmp_path: Path) -> None:
    f = tmp_path / "v.toml"
    f.write_text('instance_path = "inst"\npolicy = "demo"\nnonce_ttl_s = 120\n')
    c = load_config(f, {"EDGEPROOF_VERIFIER_NONCE_TTL_S": "90"})
    assert c.policy == "demo" and c.nonce_ttl_s == 90
    assert c.instance_path == tmp_path / "inst"
    assert c.database_url == f"sqlite:///{tmp_path / 'inst' / 'verifier.db'}"
    with pytest.raises(ConfigError, match="EDGEPROOF_VERIFIER_NONCE_TTL"):
        load_config(f, {"EDGEPROOF_VERIFIER_NONCE_TTL": "90"})
    f.write_text('instance_path = "inst"\nworkers = 4\n')
    with pytest.raises(ConfigError, match="workers"):
        load_config(f, {})


def test_secrets_never_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "result-key.pem").write_bytes(SigningKey.generate().private_pem())
    url = "postgresql+psycopg://svc:hunter2-secret@127.0.0.1:1/db"
    c = parse_config({"instance_path": str(tmp_path), "database_url": url})
    assert "hunter2" not in repr(c) and "hunter2" not in str(c.describe())
    c = parse_config({"instance_path": str(tmp_path)})
    with caplog.at_level(logging.INFO, logger="verifier"):
        create_app(c)
    key_text = (tmp_path / "result-key.pem").read_text()
    assert "verifier configured" in caplog.text
    assert key_text.splitlines()[1] not in caplog.text


def test_key_set_publishes_current_and_retiring_keys(tmp_path: Path) -> None:
    old, new = SigningKey.generate(), SigningKey.generate()
    (tmp_path / "old.pem").write_bytes(old.public.pem())
    (tmp_path / "result-key.pem").write_bytes(new.private_pem())
    c = parse_config(
        {"instance_path": str(tmp_path), "retiring_result_keys": ["old.pem"]}, base=tmp_path
    )
    engine = make_engine(c.database_url)
    migrate(engine)
    engine.dispose()
    doc = create_app(c).test_client().get("/.well-known/edgeproof/keys.json").get_json()
    status = {k["kid"]: k["status"] for k in doc["keys"]}
    assert status == {b64url(new.kid): "current", b64url(old.kid): "retiring"}
    assert all("d" not in k for k in doc["keys"])  # public keys only


def _schema_diff(url: str) -> list[object]:
    engine = make_engine(url)
    migrate(engine)
    migrate(engine)  # idempotent
    with engine.connect() as conn:
        diff: list[object] = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert schema_is_current(engine)
    engine.dispose()
    return diff


def test_migrations_match_the_models_on_sqlite(tmp_path: Path) -> None:
    assert _schema_diff(f"sqlite:///{tmp_path / 'v.db'}") == []


@pytest.mark.rig
@pytest.mark.xdist_group("verifier-pg")
def test_migrations_match_the_models_on_postgresql(pg: PostgresCluster) -> None:
    assert _schema_diff(pg.new_database()) == []


def _sql(db: Path, query: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """One statement on its own connection, closed at once (an open connection would keep
    the WAL files of a database the CLI processes also open and close)."""
    conn = sqlite3.connect(db)
    try:
        with conn:
            return conn.execute(query, params).fetchall()
    finally:
        conn.close()


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*EDGEPROOF, "verifier", *args], cwd=cwd, capture_output=True, text=True, check=False
    )


def test_init_token_migrate_and_serve_guard(tmp_path: Path) -> None:
    out = _cli("init", "--instance", "inst", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    token = out.stdout.strip().splitlines()[-1]
    assert token.startswith("ep_")
    key = tmp_path / "inst" / "result-key.pem"
    assert key.stat().st_mode & 0o777 == 0o600
    SigningKey.from_private_pem(key.read_bytes())
    db = tmp_path / "inst" / "verifier.db"
    assert _sql(db, "PRAGMA journal_mode") == [("wal",)]
    assert _sql(db, "SELECT role FROM api_tokens") == [("admin",)]
    assert token.encode() not in db.read_bytes()

    again = _cli("init", "--instance", "inst", cwd=tmp_path)
    assert again.returncode == 2 and "already initialised" in again.stderr
    more = _cli("token", "--role", "auditor", "--config", "inst/verifier.toml", cwd=tmp_path)
    assert more.returncode == 0 and more.stdout.strip().startswith("ep_")
    assert _cli("migrate", "--config", "inst/verifier.toml", cwd=tmp_path).returncode == 0
    assert _sql(db, "SELECT count(*) FROM api_tokens") == [(2,)]  # the upgrade kept the data

    _sql(  # one long-expired unused challenge, one live one
        db,
        "INSERT INTO nonces (nonce, issued_at, expires_at, liveness_method, challenge) "
        "VALUES (?, 0, 10, 1, 'blink'), (?, 0, 4102444800, 1, 'blink')",
        (b"\x01" * 16, b"\x02" * 16),
    )
    purged = _cli("purge-nonces", "--config", "inst/verifier.toml", cwd=tmp_path)
    assert purged.returncode == 0 and "deleted 1 " in purged.stdout, purged.stderr
    assert _sql(db, "SELECT count(*) FROM nonces") == [(1,)]

    # serve refuses a database whose schema is behind the code (here: never migrated).
    _sql(db, "DELETE FROM alembic_version")
    refused = _cli("serve", "--config", "inst/verifier.toml", cwd=tmp_path)
    assert refused.returncode == 2 and "migrate" in refused.stderr


def test_init_keeps_the_instance_private(tmp_path: Path) -> None:
    """Issue 16, finding 10: the TOML file (whose database URL may carry a password) was
    0644 and a pre-existing instance folder kept its 0755. Now: folder 0700, files 0600."""
    inst = tmp_path / "inst"
    inst.mkdir(mode=0o755)
    os.chmod(inst, 0o755)
    out = _cli("init", "--instance", "inst", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert inst.stat().st_mode & 0o777 == 0o700
    made = [p for p in inst.iterdir() if p.is_file()]
    assert {p.name for p in made} >= {"verifier.toml", "result-key.pem", "verifier.db"}
    for p in made:
        assert p.stat().st_mode & 0o077 == 0, (p.name, oct(p.stat().st_mode))


def test_init_with_a_database_password_writes_it_owner_only(
    tmp_path: Path, pg: PostgresCluster
) -> None:
    url = pg.new_database().replace("edgeproof@", "edgeproof:s3cret-pass@")
    out = _cli("init", "--instance", "inst", "--database-url", url, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    toml = tmp_path / "inst" / "verifier.toml"
    assert "s3cret-pass" in toml.read_text() and "s3cret-pass" not in out.stdout
    assert toml.stat().st_mode & 0o777 == 0o600


def test_cli_group_is_registered() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "edgeproof_cli", "verifier", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0
    for action in ("init", "migrate", "token", "purge-nonces", "serve"):
        assert action in out.stdout


def test_openapi_describes_exactly_the_routes(tmp_path: Path) -> None:
    import re

    from verifier.openapi import openapi

    (tmp_path / "result-key.pem").write_bytes(SigningKey.generate().private_pem())
    app = create_app(parse_config({"instance_path": str(tmp_path)}))
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        routes |= {(path, m.lower()) for m in rule.methods or () if m not in ("HEAD", "OPTIONS")}
    spec = openapi()["paths"]
    documented = {(p, m) for p, ops in spec.items() for m in ops}
    assert routes == documented
