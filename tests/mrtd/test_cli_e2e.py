"""The CLI end to end: make-doc, `passport emulate` as its own process, pcscd, `passport read`."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from edgeproof_cli import main
from tests.mrtd.pcsc_rig import PcscRig, open_rig, port_open
from tests.rig import stop_process, wait_for

pytestmark = pytest.mark.rig
CLI = [sys.executable, "-m", "edgeproof_cli"]


@pytest.fixture(scope="module")
def emulated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PcscRig, Path]]:
    work = tmp_path_factory.mktemp("cli")
    assert main(["passport", "make-doc", "--out", str(work / "doc"), "--curve", "secp256r1"]) == 0
    with open_rig(work, with_server=False) as rig:
        log = open(work / "emulator.log", "wb")  # noqa: SIM115
        emu = subprocess.Popen(
            [*CLI, "passport", "emulate", "--doc", str(work / "doc")], stdout=log, stderr=log
        )
        try:
            wait_for(lambda: port_open(35964), 20, "the emulator to listen")
            rig.start_pcscd()
            yield rig, work
        finally:
            rig.stop_pcscd()
            stop_process(emu)
            log.close()


def _mrz(doc: Path) -> str:
    import json

    meta = json.loads((doc / "document.json").read_text())
    return f"{meta['document_number']},{meta['date_of_birth']},{meta['date_of_expiry']}"


def test_read_prints_summary_and_writes_nothing(
    emulated: tuple[PcscRig, Path], tmp_path: Path
) -> None:
    rig, work = emulated
    doc = work / "doc"
    out = subprocess.run(
        [
            *CLI,
            "passport",
            "read",
            "--mrz",
            _mrz(doc),
            "--reader",
            rig.reader,
            "--trust",
            str(doc / "trust"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert "access control: PACE" in out.stdout
    assert "document authenticated: yes" in out.stdout
    assert "ERIKSSON" not in out.stdout + out.stderr  # no personal data on the terminal
    assert "bytes" in out.stderr  # the progress bar
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_show_photo_writes_only_when_asked(emulated: tuple[PcscRig, Path], tmp_path: Path) -> None:
    _rig, work = emulated
    doc = work / "doc"
    photo = tmp_path / "face.png"
    out = subprocess.run(
        [
            *CLI,
            "passport",
            "read",
            "--mrz",
            _mrz(doc),
            "--trust",
            str(doc / "trust"),
            "--show-photo",
            str(photo),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    from PIL import Image

    with Image.open(photo) as img:
        assert img.size[0] > 100


def test_wrong_mrz_exits_with_the_reason(emulated: tuple[PcscRig, Path], tmp_path: Path) -> None:
    _rig, work = emulated
    doc = work / "doc"
    out = subprocess.run(
        [
            *CLI,
            "passport",
            "read",
            "--mrz",
            "X1234567,010101,300101",
            "--trust",
            str(doc / "trust"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1
    assert "pace.wrong-key: " in out.stderr
