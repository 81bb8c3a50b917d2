"""The `edgeproof` command: one entry point, one subcommand group per package.

The groups live next to the code they drive (`verifier/cli.py`, `edge/mrtd/cli.py`, ...);
this module only collects them. `attest` is pure and does no I/O, so its command-line glue
(`edgeproof attest ...`) lives here in `edgeproof_cli/attest_cmd.py` instead.

Each group module exposes `register(subparsers)`, which adds its parser and sets a `func`
default taking the parsed namespace and returning an exit code. Only the group being run
is imported: a relying party's server with the base install runs `edgeproof rp validate`
without numpy, Pillow or the device code, and a group whose extra is missing answers with
one line naming it. `edgeproof --help` lists every group from the table below, fast.

Exit codes common to every group: 0 success, 1 the operation failed, 2 bad arguments or
missing parts, 3 a group-specific "done, but not to be acted on" (see each group's help),
128+N stopped by signal N. A group answers its own errors; what it lets through is still
answered here in one line: a `CodedError` (exit 1, with its code) or an `OSError` about a
path or a service the person named (exit 2). Anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import os
import sys
import threading
from collections.abc import Iterator, Sequence

from attest.errors import CodedError

# (command, module, extra it needs, help). Order is the order shown in --help.
GROUPS: tuple[tuple[str, str, str, str], ...] = (
    ("demo", "edgeproof_cli.demo", "edge,verifier", "the whole mission on this machine"),
    ("attest", "edgeproof_cli.attest_cmd", "", "inspect attestation tokens, make keys"),
    (
        "passport",
        "edgeproof_cli.passport_cmd",
        "edge",
        "read and authenticate a passport chip (ICAO 9303)",
    ),
    ("verifier", "verifier.cli", "verifier", "the verifier service"),
    ("rp", "rp.cli", "", "relying-party tools: validate a signed result offline"),
    ("audit", "audit.cli", "", "audit the verifier's log: checkpoints, entries, privacy"),
    ("witness", "witness.cli", "", "a witness of the verifier's log: init, serve, vkey"),
    ("liveness", "edge.liveness.cli", "edge", "liveness detection: analyze, challenge, check"),
    ("face", "edge.face.cli", "edge", "on-device face matching: eval, calibrate, match"),
    ("device", "edge.cli", "edge", "the edge device: key, enrolment, sessions"),
    ("firmware", "firmware.cli", "", "release manifests: build, sign, verify"),
)
EXIT_FAILED, EXIT_USAGE = 1, 2


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("edgeproof")
    except PackageNotFoundError:  # run from a source tree without installing
        return "0.1.0 (source tree)"


def _command(argv: Sequence[str]) -> str | None:
    """The group named on the command line (the first word that is not an option)."""
    for word in argv:
        if not word.startswith("-"):
            return word
    return None


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser. `only=None` imports every group (for tests that walk them all); with a
    name, that group is imported for real and the others are only listed; `""` lists all."""
    parser = argparse.ArgumentParser(
        prog="edgeproof",
        description="Privacy-first identity verification at the edge.",
        epilog="Exit codes: 0 success, 1 failed, 2 bad arguments or missing parts, "
        "3 see the group's help; 128+N stopped by signal N.",
    )
    parser.add_argument("--version", action="version", version=f"edgeproof {version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module, _extra, help_text in GROUPS:
        if importlib.util.find_spec(module.split(".")[0]) is None:
            continue  # a package this checkout does not have (found without importing it)
        if only is None or name == only:
            importlib.import_module(module).register(sub)
        else:
            sub.add_parser(name, help=help_text)
    return parser


#: Groups that load the face models (LiteRT) or OpenCV.
NATIVE_LOGGERS = frozenset({"demo", "liveness", "face", "device"})
#: LiteRT prints this at INFO level on stderr from C++ whenever an interpreter is created,
#: whatever TF_CPP_MIN_LOG_LEVEL says; it tells a user nothing.
_NOISE = (b"INFO: Created TensorFlow Lite XNNPACK delegate",)


def _quiet_native_logs() -> None:
    """OpenCV's own log lines are for developers: only its errors are shown."""
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@contextlib.contextmanager
def _filtered_stderr() -> Iterator[None]:
    """Pass everything written to file descriptor 2 through, except the lines in _NOISE.

    C++ libraries write to the descriptor, not to sys.stderr, so the filter sits there: a
    pipe whose reader thread forwards every other line, in order, to the real stderr."""
    sys.stderr.flush()
    saved = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)

    def forward() -> None:
        # Chunks, not lines: a prompt without a newline (input() writes its prompt to
        # stderr) must show at once. Only a line that may still turn out to be noise waits.
        buf, midline = b"", False
        while chunk := os.read(read_end, 65536):
            buf += chunk
            while (nl := buf.find(b"\n")) >= 0:
                line, buf = buf[: nl + 1], buf[nl + 1 :]
                if midline or not line.startswith(_NOISE):
                    os.write(saved, line)
                midline = False
            maybe_noise = any(n.startswith(buf) or buf.startswith(n) for n in _NOISE)
            if buf and (midline or not maybe_noise):
                os.write(saved, buf)
                buf, midline = b"", True
        if buf:
            os.write(saved, buf)
        os.close(read_end)

    thread = threading.Thread(target=forward, name="stderr-filter", daemon=True)
    thread.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)  # closes our last write end of the pipe: the reader sees its end
        thread.join(timeout=2)  # a child still holding the pipe must not hang the exit
        os.close(saved)


def main(argv: Sequence[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    _quiet_native_logs()
    name = _command(args_in)
    known = {g[0]: g for g in GROUPS}
    try:
        parser = build_parser(name if name in known else "")
    except ImportError as exc:
        extra = known[name][2] if name in known else ""
        hint = f"pip install 'edgeproof[{extra}]'" if extra else "reinstall edgeproof"
        print(
            f"edgeproof {name}: a part this command needs is not installed ({exc.name}); {hint}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    args = parser.parse_args(args_in)
    quiet = _filtered_stderr() if name in NATIVE_LOGGERS else contextlib.nullcontext()
    try:
        with quiet:
            code: int = args.func(args)
    except KeyboardInterrupt:
        print(f"\nedgeproof {name}: interrupted", file=sys.stderr)
        return 130
    except CodedError as exc:
        # A refusal the group did not phrase itself: still one line, with its code.
        print(f"edgeproof {name}: {exc.code}: {exc.message}", file=sys.stderr)
        return EXIT_FAILED
    except OSError as exc:
        # A path or a service a person named: missing, unreadable, unwritable, unreachable.
        where = f": {exc.filename}" if exc.filename else ""
        print(f"edgeproof {name}: {exc.strerror or exc}{where}", file=sys.stderr)
        return EXIT_USAGE
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
