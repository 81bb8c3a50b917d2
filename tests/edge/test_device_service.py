"""`edgeproof device run` with each part missing (issue 19): one line on the screen
(stdout, tty1 under systemd) and in the journal (stderr) naming the part and the action;
waiting where waiting helps (the process stays up), a non-zero exit where it cannot, never 0.
The real command in a subprocess; no part is faked."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.keystore.software import SoftwareKeyStore
from rig.mrtd.testdoc import DocOptions, generate
from tests.shared import CLIP

RUN = [sys.executable, "-m", "edgeproof_cli", "device", "run"]


@pytest.fixture
def site(tmp_path: Path) -> Iterator[dict[str, Path]]:
    """A complete site (software key, one CSCA, token), each test then removes one part."""
    (tmp_path / "keys").mkdir(mode=0o700)
    SoftwareKeyStore.create(tmp_path / "keys" / "device.pem")
    (tmp_path / "csca").mkdir()
    (tmp_path / "csca" / "csca.der").write_bytes(generate(DocOptions()).csca_der)
    (tmp_path / "rp-token").write_text("rp-token\n")
    yield {
        "dir": tmp_path,
        "key": tmp_path / "keys" / "device.pem",
        "csca": tmp_path / "csca",
        "token": tmp_path / "rp-token",
    }


def _config(site: dict[str, Path], *, camera: str | None = None, **extra: str) -> Path:
    cam = camera or f"replay:{CLIP}"
    values = {
        "verifier_url": "http://127.0.0.1:9",
        "camera": cam,
        "trust": str(site["csca"]),
        "token_file": str(site["token"]),
        "screen_port": "0",
        **extra,
    }
    text = "[site]\n" + "".join(
        f"{k} = {v}\n" if k == "screen_port" else f'{k} = "{v}"\n' for k, v in values.items()
    )
    path = site["dir"] / "site.toml"
    path.write_text(text)
    return path


def _env(site: dict[str, Path], key: str | None = None, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "EDGEPROOF_KEY": key or f"file:{site['key']}",
        "EDGEPROOF_QUEUE": str(site["dir"] / "queue"),
        **extra,
    }


def _run(config: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*RUN, "--config", str(config)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def _one_line(r: subprocess.CompletedProcess[str], part: str, action: str) -> str:
    """The part's line is on the screen and in the journal, with its action, no traceback."""
    screen = [ln for ln in r.stdout.splitlines() if ln.startswith(f"[{part}]")]
    journal = [ln for ln in r.stderr.splitlines() if ln.startswith(f"[{part}]")]
    assert len(screen) == 1 and screen == journal, (r.stdout, r.stderr)
    assert action in screen[0], screen[0]
    assert "Traceback" not in r.stdout + r.stderr, r.stderr
    return screen[0]


def test_missing_tpm_key_names_the_tpm_form(site: dict[str, Path]) -> None:
    spec = f"tpm:{site['dir'] / 'keys' / 'device.tpmkey'}"
    r = _run(_config(site), _env(site, key=spec))
    assert r.returncode == 1
    _one_line(r, "key", f"edgeproof device keygen --key {spec}`")


def test_missing_software_key(site: dict[str, Path]) -> None:
    site["key"].unlink()
    r = _run(_config(site), _env(site))
    assert r.returncode == 1
    _one_line(r, "key", f"keygen --key file:{site['key']}`")


def test_empty_trust_store(site: dict[str, Path]) -> None:
    (site["csca"] / "csca.der").unlink()
    r = _run(_config(site), _env(site))
    assert r.returncode == 1
    line = _one_line(r, "trust", "passport trust build")
    assert "trust.empty" in line


def test_missing_trust_folder(site: dict[str, Path]) -> None:
    r = _run(_config(site, trust=str(site["dir"] / "nowhere")), _env(site))
    assert r.returncode == 1
    assert "trust.not-found" in _one_line(r, "trust", "CSCA certificates")


def test_missing_token_and_bad_config(site: dict[str, Path]) -> None:
    site["token"].unlink()
    r = _run(_config(site), _env(site))
    assert r.returncode == 2
    _one_line(r, "token", "relying-party token")
    bad = site["dir"] / "bad.toml"
    bad.write_text('[site]\nverifier_url = ""\n')
    r = _run(bad, _env(site))
    assert r.returncode == 2
    _one_line(r, "config", f"fix {bad}")


@pytest.mark.shared("data/video")
def test_camera_missing_is_retried_then_fails(site: dict[str, Path]) -> None:
    r = _run(_config(site, camera="v4l2:/dev/video97"), _env(site, EDGEPROOF_RETRY_MAX="2"))
    assert r.returncode == 1
    _one_line(r, "camera", "connect the camera")


@pytest.mark.xdist_group("pcscd")
@pytest.mark.shared("data/video")
def test_pcscd_down_waits_and_stays_up(site: dict[str, Path]) -> None:
    """pcscd down: the service says so once and keeps waiting (it must not exit: pcscd is
    socket-activated and comes back); bounded by EDGEPROOF_RETRY_MAX it exits non-zero."""
    from rig.mrtd.pcscd import rig_lock

    with rig_lock():  # no other test's pcscd on the machine's socket meanwhile
        config = _config(site)
        proc = subprocess.Popen(
            [*RUN, "--config", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(site),
        )
        watchdog = threading.Timer(150, proc.kill)  # a blocked readline cannot hang the run
        watchdog.start()
        try:
            deadline = time.monotonic() + 90
            line = ""
            assert proc.stdout is not None
            while not line.startswith("[pcscd]") and time.monotonic() < deadline:
                line = proc.stdout.readline()
                assert line or proc.poll() is None, "the service exited"
            assert "systemctl start pcscd.socket" in line, line
            time.sleep(3)  # two more attempts (back-off 1 s, 2 s)
            assert proc.poll() is None, "the service died while pcscd was down"
        finally:
            watchdog.cancel()
            proc.terminate()
            proc.wait(timeout=30)
        r = _run(config, _env(site, EDGEPROOF_RETRY_MAX="2"))
    assert r.returncode == 1
    _one_line(r, "pcscd", "systemctl start pcscd.socket")


@pytest.mark.xdist_group("pcscd")
@pytest.mark.shared("data/video")
def test_pcscd_up_without_a_reader_waits_for_one(site: dict[str, Path]) -> None:
    """pcscd answers but no reader is plugged in (its reader.conf folder empty, no USB
    reader): one [reader] line naming the fix, not the pcscd one; bounded by
    EDGEPROOF_RETRY_MAX, a non-zero exit."""
    from edge.mrtd import TransportError, list_readers
    from rig.mrtd.pcscd import find_pcscd, rig_lock
    from rig.proc import stop_process, wait_for
    from tests.rig import require

    pcscd = find_pcscd()
    require(pcscd is not None, "pcscd")
    assert pcscd is not None
    empty = site["dir"] / "reader.conf.d"
    empty.mkdir()

    def answers() -> bool:
        try:
            return list_readers() == []
        except TransportError:
            return False

    with rig_lock():
        proc = subprocess.Popen(
            [pcscd, "-f", "-c", str(empty)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for(answers, 15, "pcscd to answer with no reader")
            r = _run(_config(site), _env(site, EDGEPROOF_RETRY_MAX="2"))
        finally:
            stop_process(proc)
    assert r.returncode == 1
    _one_line(r, "reader", "plug in the passport reader")
    assert "[pcscd]" not in r.stdout, r.stdout


def test_unreachable_tpm_names_the_tpm(site: dict[str, Path]) -> None:
    """A TPM key made on a TPM that then goes away (swtpm stopped: as a TPM whose device
    node or resource manager is gone): one [key] line naming the TPM, no traceback, exit 1."""
    import importlib.util

    from edge.keystore.tpm import TpmKeyStore
    from rig.tpm import SoftwareTpm
    from tests.rig import require, require_binary

    require(importlib.util.find_spec("tpm2_pytss") is not None, "Python package tpm2-pytss")
    require_binary("swtpm")
    (site["dir"] / "tpm").mkdir()
    tpm = SoftwareTpm(site["dir"] / "tpm")
    tpm.start()
    try:
        key = site["dir"] / "keys" / "device.tpmkey"
        TpmKeyStore.create(key, tpm.tcti).close()
        tcti = tpm.tcti
    finally:
        tpm.stop()
    r = _run(_config(site), _env(site, key=f"tpm:{key}", EDGEPROOF_TCTI=tcti))
    assert r.returncode == 1
    line = _one_line(r, "key", "check the TPM")
    assert f"tpm:{key}" in line and tcti in line and "keystore.tpm-unavailable" in line, line


def _read_line(proc: subprocess.Popen[str], start: str, timeout: float) -> str:
    """The first stdout line starting with `start` (the process must stay up meanwhile)."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"the service exited ({proc.poll()}) before {start!r}")
        if start in line:  # input()'s prompt has no newline: a line may follow it
            return line[line.index(start) :]
    raise AssertionError(f"no {start!r} within {timeout} s")


@pytest.mark.xdist_group("pcscd")
@pytest.mark.shared("data/video")
def test_verifier_down_waits_then_carries_on(site: dict[str, Path]) -> None:
    """The verifier is down at start: one line, the service waits; the verifier comes up on
    its address: `[ok] back`, and the consent question for the first person."""
    from rig.mrtd.pcscd import missing_parts, pcsc_rig
    from tests.rig import require
    from tests.verifier.helpers import VerifierServer, release

    require(not missing_parts(), f"pcscd rig ({', '.join(missing_parts())})")
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    (site["dir"] / "v").mkdir()
    server = VerifierServer(site["dir"] / "v", release().key, workers=1)
    config = _config(site, verifier_url=f"http://127.0.0.1:{port}")
    with pcsc_rig(site["dir"] / "pcsc"):
        proc = subprocess.Popen(
            [*RUN, "--config", str(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(site),
        )
        watchdog = threading.Timer(240, proc.kill)  # a blocked readline cannot hang the run
        watchdog.start()
        try:
            line = _read_line(proc, "[verifier]", 90)
            assert f"127.0.0.1:{port} unreachable" in line and "retrying" in line, line
            server.start(port)
            try:
                back = _read_line(proc, "[ok]", 90)
                assert "back: verifier" in back, back
                assert proc.stdin is not None
                proc.stdin.write("\n")  # an empty line only asks again
                proc.stdin.write("n\n")  # the person declines: nothing is read
                proc.stdin.flush()
                verdict = _read_line(proc, "[verdict]", 30)
                assert "NO CONSENT" in verdict and "[session.no-consent]" in verdict, verdict
                proc.stdin.close()  # end of input: the service exits non-zero, never 0
                assert proc.wait(timeout=60) == 1
            finally:
                server.stop()
        finally:
            watchdog.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
    assert proc.stderr is not None
    journal = proc.stderr.read()
    assert journal.count("[verifier]") == 1 and "Traceback" not in journal, journal
    assert "[verdict] NO CONSENT" in journal and "[console] the terminal closed" in journal


def test_show_key_hint_keeps_the_tpm_form(tmp_path: Path) -> None:
    spec = f"tpm:{tmp_path / 'device.tpmkey'}"
    r = subprocess.run(
        [sys.executable, "-m", "edgeproof_cli", "device", "show-key", "--key", spec],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert r.returncode == 1
    assert f"`edgeproof device keygen --key {spec}`" in r.stderr, r.stderr
