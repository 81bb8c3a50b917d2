"""Promises about the repository itself: the two commands, CI, scripts, no network names."""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

from tests.rig import REPO, require_binary


def test_readme_opens_with_the_two_commands() -> None:
    lines = (REPO / "README.md").read_text().splitlines()
    block = lines[lines.index("```") + 1 : lines.index("```", lines.index("```") + 1)]
    commands = [line.split("#")[0].strip() for line in block]
    assert commands == ["bash scripts/demo.sh", "bash scripts/test.sh"]
    ci = (REPO / ".ci" / "run").read_text()
    assert "bash scripts/test.sh" in ci and "set -euo pipefail" in ci


def test_scripts_pass_shellcheck() -> None:
    shellcheck = require_binary("shellcheck")
    scripts = [*sorted((REPO / "scripts").glob("*.sh")), REPO / ".ci" / "run"]
    out = subprocess.run(
        [shellcheck, *map(str, scripts)], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stdout


def test_no_registry_host_names_and_no_shared_paths() -> None:
    """Nothing may download at run time; public data beside the checkout is reached only
    through tests/shared.py, which skips (or fails in CI) where a fresh clone lacks it."""
    hosts = re.compile(r"(pypi\.org|files\.pythonhosted|registry\.npmjs|deb\.debian\.org)")
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for name in files:
        path = REPO / name
        if path.suffix not in {".py", ".sh", ".md", ".toml", ".txt", ".json", ".cfg", ".ini"}:
            continue
        text = path.read_text(errors="replace")
        assert not hosts.search(text), f"{name} names a package registry host"
        if name.startswith(("tests/", "benchmarks/", ".ci/")) and name not in {
            "tests/test_repository.py",
            "tests/shared.py",  # the one way in: it skips or fails where the data is absent
        }:
            assert not _shared_path_literals(path, text), f"{name} builds a path to ../shared"


def _shared_path_literals(path: Path, text: str) -> list[str]:
    """Code that builds a path into the shared folder: `... / "shared"`, or a string that
    starts with it. Prose that names the folder (docstrings, messages) is fine."""
    if path.suffix != ".py":  # shell and config: every word
        words = text.replace('"', " ").replace("'", " ").split()
        return [w for w in words if w.startswith(("../" + "shared", "/work/" + "shared"))]
    found = []
    for n in ast.walk(ast.parse(text)):
        if (
            isinstance(n, ast.BinOp)
            and isinstance(n.op, ast.Div)
            and isinstance(n.right, ast.Constant)
            and n.right.value == "shared"
        ):
            found.append(f'line {n.lineno}: / "shared"')
        elif (
            isinstance(n, ast.Constant)
            and isinstance(n.value, str)
            and n.value.startswith(("../" + "shared", "/work/" + "shared"))
        ):
            found.append(f"line {n.lineno}: {n.value!r}")
    return found
