"""`edgeproof verifier ...`: init, migrate, token, purge-nonces, serve.

`init` makes a working instance folder: configuration file, result-signing key (0600),
database at the newest schema, and a first admin token printed once (only its hash is
stored). `serve` runs the app under gunicorn with defaults sized to the machine.
"""

from __future__ import annotations

import argparse
import errno
import os
import shutil
import socket
import sys
from pathlib import Path
from typing import Any

DEFAULT_CONFIG = "instance/verifier.toml"


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("verifier", help="the verifier service")
    sub = p.add_subparsers(dest="verifier_command", metavar="ACTION", required=True)

    init = sub.add_parser("init", help="create instance folder, keys, database, admin token")
    init.add_argument("--instance", default="instance", help="instance folder (default ./instance)")
    init.add_argument("--database-url", default="", help="default: SQLite in the instance folder")
    init.add_argument("--policy", choices=("production", "demo"), default="production")
    init.add_argument(
        "--release-key", action="append", default=[], help="trusted release key (public PEM)"
    )
    init.set_defaults(func=_init)

    mig = sub.add_parser("migrate", help="upgrade the database schema (keeps the data)")
    mig.add_argument("--config", default=DEFAULT_CONFIG)
    mig.set_defaults(func=_migrate)

    tok = sub.add_parser("token", help="create a bearer token (printed once)")
    tok.add_argument("--config", default=DEFAULT_CONFIG)
    tok.add_argument("--role", choices=("admin", "auditor", "relying-party"), required=True)
    tok.add_argument("--label", default="")
    tok.set_defaults(func=_token)

    purge = sub.add_parser("purge-nonces", help="delete challenges that expired unused")
    purge.add_argument("--config", default=DEFAULT_CONFIG)
    purge.add_argument("--grace", type=int, default=3600, help="seconds after expiry (3600)")
    purge.set_defaults(func=_purge)

    from verifier.tlog_cli import register as register_tlog

    register_tlog(sub, DEFAULT_CONFIG)

    serve = sub.add_parser("serve", help="run under gunicorn")
    serve.add_argument("--config", default=DEFAULT_CONFIG)
    serve.add_argument("--bind", default="127.0.0.1:8000")
    # One process per core, threads for the waits: accepted appraisals are committed in
    # groups per process (verifier/committer.py), so fewer, busier processes batch better;
    # a request thread waits for its group's COMMIT, so the thread count bounds a group's
    # size. 16 measured best (verifier_load, PostgreSQL: 8 and 24 to 32 gave 10 to 20 % less).
    serve.add_argument("--workers", type=int, default=0, help="default: one per core")
    serve.add_argument("--threads", type=int, default=16)
    serve.add_argument("--timeout", type=int, default=30)
    serve.add_argument("--access-log", default="-", help="file, '-' for stdout, '' for none")
    serve.set_defaults(func=_serve)


def _fail(message: str) -> int:
    print(f"edgeproof verifier: {message}", file=sys.stderr)
    return 2


def _init(args: argparse.Namespace) -> int:
    instance = Path(args.instance).resolve()
    config_file = instance / "verifier.toml"
    if config_file.exists():
        # The first admin token is printed once, by the first init; more come from `token`.
        return _fail(
            f"{instance} is already initialised; use `edgeproof verifier migrate` to upgrade "
            "or `edgeproof verifier token --role admin` for another admin token"
        )
    # The instance holds the result key and a configuration whose database URL may carry a
    # password (issue 16, finding 10): the folder is 0700 and every file init creates is
    # 0600 (umask 077 while init runs: the TOML file, the SQLite database and its WAL).
    if instance.exists():
        st = instance.stat()
        if not instance.is_dir():
            return _fail(f"{instance} exists and is not a folder")
        if st.st_uid != os.getuid():
            return _fail(f"{instance} belongs to another user (uid {st.st_uid}); refusing")
        if st.st_mode & 0o077:
            os.chmod(instance, 0o700)
            print(f"note: {instance} was {oct(st.st_mode & 0o777)}; now 0o700 (it holds keys)")
    else:
        instance.mkdir(mode=0o700, parents=True)
    old_umask = os.umask(0o077)
    try:
        return _init_files(args, instance, config_file)
    finally:
        os.umask(old_umask)


def _init_files(args: argparse.Namespace, instance: Path, config_file: Path) -> int:
    from attest.keys import SigningKey
    from verifier.config import parse_config, write_config
    from verifier.errors import VerifierError
    from verifier.service import Verifier
    from verifier.storage import make_engine, migrate

    values: dict[str, Any] = {"instance_path": str(instance), "policy": args.policy}
    if args.database_url:
        values["database_url"] = args.database_url
    if args.release_key:
        values["release_keys"] = [str(Path(k).resolve()) for k in args.release_key]
    try:
        config = parse_config(values)
        assert config.result_key is not None
        if not config.result_key.exists():
            fd = os.open(config.result_key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(SigningKey.generate().private_pem())
        write_config(config, config_file)
        from verifier.tlog_cli import make_log_key

        log_vkey = make_log_key(config)
        engine = make_engine(config.database_url)
        migrate(engine)
        engine.dispose()
        v = Verifier(config)
        _, token = v.create_token("admin", "first admin")
        v.engine.dispose()
    except VerifierError as exc:
        return _fail(str(exc))
    print(f"configuration: {config_file}")
    print(f"result key:    {config.result_key}")
    print(f"log vkey:      {log_vkey}")
    print(f"database:      {config.describe()['database_url']}")
    print("admin token (shown once, only its hash is stored):")
    print(token)
    return 0


def _load(path: str) -> Any:
    from verifier.config import load_config

    return load_config(Path(path))


def _migrate(args: argparse.Namespace) -> int:
    from verifier.errors import VerifierError
    from verifier.storage import make_engine, migrate

    try:
        engine = make_engine(_load(args.config).database_url)
    except VerifierError as exc:
        return _fail(str(exc))
    migrate(engine)
    engine.dispose()
    print("schema is at the newest revision")
    return 0


def _token(args: argparse.Namespace) -> int:
    from verifier.errors import VerifierError
    from verifier.service import Verifier

    try:
        v = Verifier(_load(args.config))
        _, token = v.create_token(args.role, args.label or args.role)
    except VerifierError as exc:
        return _fail(str(exc))
    print(token)
    return 0


def _purge(args: argparse.Namespace) -> int:
    from verifier.errors import VerifierError
    from verifier.service import Verifier

    try:
        n = Verifier(_load(args.config)).purge_nonces(max(0, args.grace))
    except VerifierError as exc:
        return _fail(str(exc))
    print(f"deleted {n} expired, unused challenges")
    return 0


def _address_in_use(bind: str) -> str | None:
    """Why `bind` cannot be served, or None.

    gunicorn is started with SO_REUSEPORT (one socket per worker), and the kernel lets a
    second process of the same user bind the same port that way: a second `serve` would start
    silently and the two verifiers would answer in turn, each with its own log root. A plain
    bind, without SO_REUSEPORT, fails on a port that anyone holds, so it tells the two apart.
    A Unix socket path (`unix:...`) is left to gunicorn.
    """
    if bind.startswith(("unix:", "fd://")):
        return None
    host, sep, port_text = bind.rpartition(":")
    if not sep or not port_text.isdigit():
        return f"--bind {bind!r} is not HOST:PORT"
    host = host.strip("[]") or "0.0.0.0"  # noqa: S104 - gunicorn's own meaning of ":PORT"
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As gunicorn does: a port whose last server just stopped (TIME_WAIT) is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, int(port_text)))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return f"{bind} is already in use (another verifier?); stop it or pick --bind"
            return f"cannot bind {bind}: {exc.strerror}"
    return None


def _serve(args: argparse.Namespace) -> int:
    from verifier.errors import VerifierError
    from verifier.storage import make_engine, schema_is_current

    try:
        config = _load(args.config)
    except VerifierError as exc:
        return _fail(str(exc))
    engine = make_engine(config.database_url)
    current = schema_is_current(engine)
    engine.dispose()
    if not current:
        return _fail("the database schema is not current: run `edgeproof verifier migrate`")
    taken = _address_in_use(args.bind)
    if taken:
        return _fail(taken)
    workers = args.workers or os.cpu_count() or 1
    prom = Path(config.instance_path) / "prometheus" / str(os.getpid())
    shutil.rmtree(prom, ignore_errors=True)
    prom.mkdir(parents=True)
    env = {
        **os.environ,
        "EDGEPROOF_VERIFIER_CONFIG": str(Path(args.config).resolve()),
        "PROMETHEUS_MULTIPROC_DIR": str(prom),
    }
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        args.bind,
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(args.threads),
        "--timeout",
        str(args.timeout),
        "--graceful-timeout",
        "10",
        "--keep-alive",
        "5",
        # Each worker listens on its own SO_REUSEPORT socket, so the kernel spreads new
        # connections across workers. With one shared socket, whichever worker wins the
        # accept race can end up holding every keep-alive connection while the other idles.
        "--reuse-port",
    ]
    if args.access_log:
        argv += ["--access-logfile", args.access_log]
    argv.append("verifier.app:create_app_from_env()")
    sys.stdout.flush()
    os.execve(sys.executable, argv, env)  # noqa: S606 - replaces this process with gunicorn
    return 0  # pragma: no cover - execve does not return
