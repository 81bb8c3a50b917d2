"""The dependency rules of the shared design (ARCHITECTURE.md, "Packages and the direction of
imports") as a test: each failure names the offending file, line and import.

Every import is read from the source with `ast`, including imports inside functions (a lazy
import is still a dependency).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.rig import REPO

#: Each shipped package and the project packages it may import (itself always allowed).
ALLOWED: dict[str, set[str]] = {
    "attest": set(),  # pure: the format, no I/O
    "edge": {"attest"},  # the device
    "verifier": {"attest"},  # the service: never edge
    "firmware": {"attest"},  # the device image and release manifests
    "rp": {"attest"},  # relying parties validate with the format alone
    "audit": {"attest"},  # auditors check with the format alone
    "witness": {"attest"},  # a log witness: its own process, the format alone
    "rig": {"attest", "edge", "verifier", "firmware"},  # test and demo infrastructure
    # The command line collects one group per package.
    "edgeproof_cli": {"attest", "edge", "verifier", "firmware", "rp", "audit", "witness", "rig"},
}

#: Third-party libraries that only attest may use: the pure core depends on nothing else.
ATTEST_THIRD_PARTY = {"cbor2", "cryptography"}

#: Hardware and native runtimes live in one thin adapter each (STYLE.md, habit 3).
ADAPTERS: dict[str, set[str]] = {
    "smartcard": {"edge/mrtd/transport.py", "rig/mrtd/pcscd.py"},
    "picamera2": {"edge/capture/picamera.py"},
    # OpenCV: the camera and file adapter, and the demo's renderer (image math, no device).
    "cv2": {"edge/capture/_opencv.py", "rig/face/facerig.py", "rig/face/synthetic.py"},
    "ai_edge_litert": {"edge/face/runtime.py"},
    "tflite_runtime": {"edge/face/runtime.py"},
    "tpm2_pytss": {"edge/keystore/tpm.py"},
}

#: Imports that break a rule today and are scheduled to go (issue 17, the redesign). The
#: test fails if one of them disappears without being struck from this list, so it only
#: shrinks.
KNOWN: set[tuple[str, str]] = {
    ("rp/cli.py", "edgeproof_cli.tokenio"),
}


@dataclass(frozen=True)
class Import:
    path: str  # relative to the repository
    line: int
    module: str  # the imported module, absolute

    @property
    def top(self) -> str:
        return self.module.split(".")[0]

    def __str__(self) -> str:
        return f"{self.path}:{self.line} imports {self.module}"


def _package_of(path: Path) -> str:
    return path.relative_to(REPO).parts[0]


def _imports(path: Path, root: Path = REPO) -> Iterator[Import]:
    rel = str(path.relative_to(root))
    tree = ast.parse(path.read_text(), filename=rel)
    package = ".".join(path.relative_to(root).with_suffix("").parts[:-1])
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(rel, node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the file's own package
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            yield Import(rel, node.lineno, module)


def _shipped_files() -> list[Path]:
    return sorted(
        p
        for name in ALLOWED
        if (REPO / name).is_dir()
        for p in (REPO / name).rglob("*.py")
        if ".venv" not in p.parts
    )


ALL = [imp for path in _shipped_files() for imp in _imports(path)]
PROJECT = set(ALLOWED)


def test_every_top_level_package_is_in_the_table() -> None:
    """A new package must be placed in the picture before it can depend on anything."""
    found = {
        p.name
        for p in REPO.iterdir()
        if p.is_dir() and (p / "__init__.py").is_file() and p.name not in {"tests", "benchmarks"}
    }
    assert found <= PROJECT, f"add {sorted(found - PROJECT)} to ALLOWED in this file"


def _against_the_table(imports: list[Import]) -> list[str]:
    return [
        str(imp)
        for imp in imports
        if imp.top in PROJECT
        and imp.top != imp.path.split("/")[0]
        and imp.top not in ALLOWED[imp.path.split("/")[0]]
        and (imp.path, imp.module) not in KNOWN
    ]


def test_packages_import_only_what_the_architecture_allows() -> None:
    bad = _against_the_table(ALL)
    assert not bad, "imports against the architecture:\n" + "\n".join(bad)


def test_known_exceptions_still_exist() -> None:
    """Strike an entry from KNOWN once the import is gone, so the list only shrinks."""
    present = {(imp.path, imp.module) for imp in ALL}
    assert present >= KNOWN, f"no longer imported, strike from KNOWN: {sorted(KNOWN - present)}"


def test_attest_is_pure() -> None:
    stdlib = sys.stdlib_module_names
    bad = [
        str(imp)
        for imp in ALL
        if imp.path.startswith("attest/")
        and imp.top not in stdlib
        and imp.top not in ATTEST_THIRD_PARTY
        and imp.top != "attest"
        and imp.top != "__future__"
    ]
    assert not bad, "attest may use only the standard library, cbor2 and cryptography:\n" + (
        "\n".join(bad)
    )


@pytest.mark.parametrize("library", sorted(ADAPTERS))
def test_hardware_libraries_only_in_their_adapter(library: str) -> None:
    bad = [str(imp) for imp in ALL if imp.top == library and imp.path not in ADAPTERS[library]]
    assert not bad, f"{library} belongs in {sorted(ADAPTERS[library])} only:\n" + "\n".join(bad)


def test_no_cycles_between_packages() -> None:
    edges: dict[str, set[str]] = {name: set() for name in PROJECT}
    for imp in ALL:
        src = _package_of(REPO / imp.path)
        if imp.top in PROJECT and imp.top != src:
            edges[src].add(imp.top)

    def reach(start: str) -> set[str]:
        seen: set[str] = set()
        todo = list(edges[start])
        while todo:
            n = todo.pop()
            if n not in seen:
                seen.add(n)
                todo.extend(edges[n])
        return seen

    cycles = sorted(name for name in PROJECT if name in reach(name))
    assert not cycles, f"packages on an import cycle: {cycles} ({edges})"


def test_the_rules_catch_a_planted_violation(tmp_path: Path) -> None:
    """The reader must see lazy and relative imports, or the rules above watch nothing."""
    planted = tmp_path / "attest" / "sub" / "planted.py"
    planted.parent.mkdir(parents=True)
    planted.write_text("def f():\n    from ...edge import session\n    import numpy\n")
    found = list(_imports(planted, tmp_path))
    assert {imp.module for imp in found} == {"edge", "numpy"}
    assert _against_the_table(found) == ["attest/sub/planted.py:2 imports edge"]
