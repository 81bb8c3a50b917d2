"""Every mistake a person can make on the command line gets one line and a documented code.

Walks `edgeproof` as the installed console script would be run: bad paths, bad values,
unreachable services. "One line" means: no traceback, at most one line on stderr, and the
exit code the command's help documents (2 for usage errors, 1 for invalid input).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.rig import REPO, free_port

EDGEPROOF = [sys.executable, "-m", "edgeproof_cli"]
TXN = "ab" * 32


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [*EDGEPROOF, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=cwd or REPO,
        env=env,
    )


def one_line(r: subprocess.CompletedProcess[str]) -> str:
    both = r.stdout + r.stderr
    assert "Traceback" not in both, both[-2000:]
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) <= 1, r.stderr
    return both.strip()


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("walk")
    rand = d / "random.bin"
    rand.write_bytes(os.urandom(512))
    jwt = "eyJhbGciOiJFUzI1NiJ9.eyJ4IjoxfQ.c2lnbmF0dXJl"
    (d / "jwt-missing-dot.txt").write_text(jwt.replace(".", "", 1))
    (d / "jwt-extra-dot.txt").write_text(jwt.replace(".", "..", 1))
    (d / "keys.json").write_text('{"keys": []}')
    (d / "not-keys.json").write_text("this is not JSON")
    cose = d / "cose.bin"
    cose.write_bytes(b"\xd2\x84\x40\xa0\x40\x40")  # a COSE_Sign1 shape, empty inside
    return {p.name: p for p in d.iterdir()}


def test_version_and_help_answer() -> None:
    r = run("--version")
    assert r.returncode == 0 and r.stdout.startswith("edgeproof ")
    r = run("device", "--help")
    assert r.returncode == 0 and "run " in r.stdout and "flush-queue" in r.stdout


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (("--txn", "zz"), 2, "--txn must be hex"),
        (("--txn", "abcd"), 2, "--txn must be 32 bytes"),
        (("--nonce", "00"), 2, "--nonce must be 8 to 64 bytes"),
        (("--nonce", "xyz"), 2, "--nonce must be hex"),
        (("--max-age", "0"), 2, "--max-age must be a positive"),
    ],
)
def test_rp_validate_bad_values(
    files: dict[str, Path], args: tuple[str, ...], code: int, says: str
) -> None:
    r = run("rp", "validate", str(files["cose.bin"]), "--keys", str(files["keys.json"]), *args)
    assert r.returncode == code, r.stdout + r.stderr
    assert says in one_line(r)


@pytest.mark.parametrize(
    ("name", "code", "says"),
    [
        ("random.bin", 1, "input.not-a-token"),
        ("jwt-missing-dot.txt", 1, "input.not-a-token"),
        ("jwt-extra-dot.txt", 1, "input.not-a-token"),
    ],
)
def test_rp_validate_damaged_tokens(
    files: dict[str, Path], name: str, code: int, says: str
) -> None:
    r = run("rp", "validate", str(files[name]), "--keys", str(files["keys.json"]), "--txn", TXN)
    assert r.returncode == code, r.stdout + r.stderr
    assert says in one_line(r)


def test_rp_validate_bad_paths_and_key_sets(files: dict[str, Path]) -> None:
    r = run("rp", "validate", "/nonexistent/result.cbor", "--keys", str(files["keys.json"]))
    assert r.returncode == 2 and "cannot read /nonexistent/result.cbor" in one_line(r)
    r = run("rp", "validate", str(files["cose.bin"]), "--keys", "/nonexistent/keys.json")
    assert r.returncode == 2 and "--keys" in one_line(r)
    r = run("rp", "validate", str(files["cose.bin"]), "--keys", str(files["not-keys.json"]))
    assert r.returncode == 2 and "not a key set" in one_line(r)


def test_rp_validate_unreachable_verifier(files: dict[str, Path]) -> None:
    port = free_port()  # free a moment ago: nothing listens there
    url = f"http://127.0.0.1:{port}"
    r = run("rp", "validate", str(files["cose.bin"]), "--verifier", url)
    assert r.returncode == 2
    text = one_line(r)
    assert f"cannot reach the verifier at {url}" in text and "urlopen" not in text
    r = run("rp", "validate", str(files["cose.bin"]), "--verifier", "ftp://example")
    assert r.returncode == 2 and "http(s)" in one_line(r)


@pytest.mark.parametrize(
    ("out", "says"),
    [
        ("/etc/passwd", "exists and is not a folder"),
        ("/proc/nope", "cannot create it"),
    ],
)
def test_demo_out_must_be_a_writable_folder(out: str, says: str) -> None:
    r = run("demo", "--out", out)
    assert r.returncode == 2
    assert says in one_line(r)


def test_demo_out_that_is_not_writable(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes to read-only folders; the check cannot be seen as root")
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o500)
    r = run("demo", "--out", str(ro))
    assert r.returncode == 2 and "not writable" in one_line(r)


def test_unknown_command_and_bad_choice() -> None:
    r = run("nonsense")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    r = run("demo", "--reader", "usb")
    assert r.returncode == 2 and "invalid choice" in r.stderr and "Traceback" not in r.stderr


def test_passport_read_missing_trust_store() -> None:
    # `passport read` documents 1 for every error, because its 2 means "read, but not
    # authenticated" (edge/mrtd/cli.py); the answer is one line with the reason code.
    r = run("passport", "read", "--trust", "/nonexistent", "--mrz", "L898902C3,740812,120415")
    assert r.returncode == 1 and "trust.not-found" in one_line(r)
    assert "/nonexistent" in one_line(r)


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (("verifier", "init", "--instance", "/proc/nope"), 2, "/proc/nope"),
        (("passport", "make-doc", "--out", "/proc/nope"), 2, "/proc/nope"),
        (("attest", "inspect", "/nonexistent"), 2, "/nonexistent"),
        (("liveness", "analyze", "/nonexistent"), 2, "/nonexistent"),
        (
            ("device", "show-key", "--key", "file:/nonexistent"),
            1,
            "keystore.key-not-found",
        ),
    ],
)
def test_other_groups_answer_bad_paths_in_one_line(
    args: tuple[str, ...], code: int, says: str
) -> None:
    r = run(*args)
    assert r.returncode == code, r.stdout + r.stderr
    assert says in one_line(r)


def test_normal_output_has_no_native_log_lines() -> None:
    """LiteRT's "Created TensorFlow Lite XNNPACK delegate" INFO line and OpenCV's WARN lines
    are not for users; the command's own output and errors still come through."""
    media = REPO / "rig" / "face" / "media"
    r = run("face", "match", str(media / "astronaut.jpg"), str(media / "grace-hopper.jpg"))
    assert r.returncode == 1 and "decision: no-match" in r.stdout, r.stdout + r.stderr
    assert "XNNPACK" not in r.stderr and "WARN" not in r.stderr, r.stderr
    r = run("face", "match", str(media / "astronaut.jpg"), "/nonexistent.jpg")
    assert r.returncode == 2 and "/nonexistent.jpg" in one_line(r)
