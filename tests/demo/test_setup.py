"""The set-up's promises that can be checked without installing anything: the `demo` extra
is exactly the device's and the verifier's dependencies minus the two that need more than
pip (pyscard builds against libpcsclite-dev) or serve no purpose in the demo (PostgreSQL's
driver), and the scripts take the modes they document."""

from __future__ import annotations

import subprocess
import tomllib

from tests.rig import REPO


def _extras() -> dict[str, list[str]]:
    doc = tomllib.loads((REPO / "pyproject.toml").read_text())
    extras: dict[str, list[str]] = doc["project"]["optional-dependencies"]
    return extras


def test_demo_extra_is_the_device_and_verifier_minus_pyscard_and_postgresql() -> None:
    extras = _extras()
    expected = {d for d in extras["edge"] if not d.startswith("pyscard")} | {
        d for d in extras["verifier"] if not d.startswith("psycopg")
    }
    assert set(extras["demo"]) == expected
    assert extras["pcsc"] == [d for d in extras["edge"] if d.startswith("pyscard")]


def test_setup_refuses_an_unknown_mode() -> None:
    r = subprocess.run(
        ["bash", str(REPO / "scripts" / "setup.sh"), "everything"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert r.returncode == 2 and "unknown mode 'everything'" in r.stderr


def test_demo_script_installs_the_demo_mode_and_says_how_to_call_edgeproof() -> None:
    text = (REPO / "scripts" / "demo.sh").read_text()
    assert "scripts/setup.sh demo" in text and "export PATH=" in text and ".venv/bin:" in text
    assert "scripts/setup.sh test" in (REPO / "scripts" / "test.sh").read_text()
    assert " -q " not in (REPO / "scripts" / "setup.sh").read_text().split("pip install")[-1]
