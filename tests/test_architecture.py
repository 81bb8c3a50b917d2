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
KNOWN: set[tuple[str, str]] = set()


@dataclass(frozen=True)
class Import:
    path: str  # relative to the repository
    line: int
    module: str  # the imported module, absolute
    names: tuple[str, ...] = ()  # what `from module import ...` takes from it

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
            yield Import(rel, node.lineno, module, tuple(a.name for a in node.names))


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


# Outside callers use a package's public names (issue 17). Each sub-package of edge (mrtd,
# face, liveness, capture, keystore, screen) has a facade, its __init__.py with `__all__`;
# production code outside the sub-package imports that and nothing deeper, so the pieces
# behind it can move without touching the session. Two things may reach further:
#  * a sub-package's `cli` module, which the `edgeproof` command collects by name (edge/cli.py
#    takes the key's commands from edge/keystore/cli.py);
#  * rig/, the test and demo infrastructure: the passport emulator answers the reader with the
#    same TLV, secure-messaging and LDS pieces the reader uses, which no device caller needs,
#    so exporting them would widen the device's API for the sake of its test double. rig/ is
#    not in the device release (firmware/release.py), and tests and benchmarks are not
#    scanned at all: they test the pieces directly.

#: Deep imports that break the facade rule today, scheduled to go; only shrinks. All in the
#: demo, which the rig/ move rewrites: the emulator and renderer imports become rig imports,
#: and every remaining name is exported by its facade (cose_signer, enrol, SoftwareKeyStore,
#: FaceMatcher, FaceModels, PcscTransport, TrustStore).
KNOWN_DEEP: set[tuple[str, str]] = set()


def _facades(root: Path = REPO) -> dict[str, set[str]]:
    """Each sub-package of edge and the names its __init__.py lists in `__all__` (read with
    ast: importing the device code is not needed to check it)."""
    out: dict[str, set[str]] = {}
    for init in sorted((root / "edge").glob("*/__init__.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(init.read_text())):
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
            ):
                names = set(ast.literal_eval(node.value))
        out[f"edge.{init.parent.name}"] = names
    return out


def _past_the_facade(imports: list[Import], facades: dict[str, set[str]]) -> list[str]:
    bad = []
    for imp in imports:
        if imp.path.startswith("rig/"):
            continue
        parts = imp.module.split(".")
        facade = ".".join(parts[:2])
        if facade not in facades or imp.path.startswith(facade.replace(".", "/") + "/"):
            continue
        if len(parts) > 2:
            if parts[2:] == ["cli"] or (imp.path, imp.module) in KNOWN_DEEP:
                continue
            bad.append(f"{imp}: use {facade}'s public names")
        elif private := sorted(set(imp.names) - facades[facade] - {"cli"}):
            bad.append(f"{imp}: {private} not in {facade}.__all__")
    return bad


def test_callers_use_the_facades() -> None:
    bad = _past_the_facade(ALL, _facades())
    assert not bad, "imports past a package's facade:\n" + "\n".join(bad)


def test_known_deep_imports_still_exist() -> None:
    """Strike an entry from KNOWN_DEEP once the import is gone, so the list only shrinks."""
    present = {(imp.path, imp.module) for imp in ALL}
    gone = sorted(KNOWN_DEEP - present)
    assert not gone, f"no longer imported, strike from KNOWN_DEEP: {gone}"


def test_every_facade_declares_its_public_names() -> None:
    """A facade without `__all__` would let the rule above pass any name."""
    empty = sorted(name for name, names in _facades().items() if not names)
    assert not empty, f"give these a facade (__init__.py with __all__): {empty}"


def test_the_facade_rule_catches_a_planted_violation(tmp_path: Path) -> None:
    planted = tmp_path / "edge" / "planted.py"
    planted.parent.mkdir(parents=True)
    planted.write_text(
        "from edge.mrtd.reader import read_passport\n"
        "from edge.mrtd import tlv, read_passport\n"
        "def f():\n    from .mrtd import sm\n    from edge.mrtd import cli\n"
        "from edge.mrtd.cli import register\n"
    )
    found = list(_imports(planted, tmp_path))
    facades = {"edge.mrtd": {"read_passport"}}
    assert _past_the_facade(found, facades) == [
        "edge/planted.py:1 imports edge.mrtd.reader: use edge.mrtd's public names",
        "edge/planted.py:2 imports edge.mrtd: ['tlv'] not in edge.mrtd.__all__",
        "edge/planted.py:4 imports edge.mrtd: ['sm'] not in edge.mrtd.__all__",
    ]
    inside = tmp_path / "edge" / "mrtd" / "inside.py"
    inside.parent.mkdir()
    inside.write_text("from edge.mrtd import tlv\nfrom edge.mrtd.sm import x\n")
    assert _past_the_facade(list(_imports(inside, tmp_path)), facades) == []


# Sizes (issue 17): no module over 600 lines and no function over 100 lines of logic in the
# shipped packages, so a module has one owner and a function can be read in one go. Lines
# of a data display (a dict, list, tuple or set literal over several lines, with no
# comprehension, lambda or conditional in it: an OpenAPI document, a table) do not count.
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 100

#: Over the limits today and being split by the redesign's other parts; only shrinks (the
#: lead strikes each at merge). "path" is a module, "path:function" a function.
KNOWN_SIZE: set[str] = set()

_NOT_DATA = (
    ast.Lambda,
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
    ast.GeneratorExp,
    ast.IfExp,
    ast.NamedExpr,
    ast.Await,
    ast.Yield,
    ast.YieldFrom,
)


def _data_lines(node: ast.AST) -> set[int]:
    """Lines of the outermost multi-line data displays under `node`."""
    if (
        isinstance(node, ast.Dict | ast.List | ast.Tuple | ast.Set)
        and node.end_lineno is not None
        and node.end_lineno > node.lineno
        and not any(isinstance(n, _NOT_DATA) for n in ast.walk(node))
    ):
        return set(range(node.lineno, node.end_lineno + 1))
    return set().union(*(_data_lines(c) for c in ast.iter_child_nodes(node)))


def _oversized(path: Path, root: Path = REPO) -> Iterator[tuple[str, str]]:
    """(entry, why) for the module and each function of `path` over the limits."""
    rel = str(path.relative_to(root))
    text = path.read_text()
    lines = len(text.splitlines())
    if lines > MAX_MODULE_LINES:
        yield rel, f"{rel}: {lines} lines (at most {MAX_MODULE_LINES})"
    for node in ast.walk(ast.parse(text, filename=rel)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno:
            logic = node.end_lineno - node.lineno + 1 - len(_data_lines(node))
            if logic > MAX_FUNCTION_LINES:
                yield (
                    f"{rel}:{node.name}",
                    f"{rel}:{node.lineno} {node.name}(): {logic} lines of logic "
                    f"(at most {MAX_FUNCTION_LINES})",
                )


SIZES = dict(entry for path in _shipped_files() for entry in _oversized(path))


def test_modules_and_functions_stay_small() -> None:
    bad = [why for entry, why in sorted(SIZES.items()) if entry not in KNOWN_SIZE]
    assert not bad, "split by what each part owns:\n" + "\n".join(bad)


def test_known_sizes_still_offend() -> None:
    """Strike an entry from KNOWN_SIZE once it is within the limits, so the list only
    shrinks."""
    gone = sorted(KNOWN_SIZE - set(SIZES))
    assert not gone, f"within the limits now, strike from KNOWN_SIZE: {gone}"


def test_the_size_rule_catches_a_planted_violation(tmp_path: Path) -> None:
    """A long function is caught, the same length of data literal is not."""
    body = "".join(f"    x = {i}\n" for i in range(101))
    table = "    return {\n" + "".join(f"        {i}: 'v',\n" for i in range(200)) + "    }\n"
    planted = tmp_path / "planted.py"
    planted.write_text(f"def long():\n{body}\n\ndef table():\n{table}")
    found = dict(_oversized(planted, tmp_path))
    assert list(found) == ["planted.py:long"], found
    assert "102 lines of logic" in found["planted.py:long"]
    planted.write_text("x = 1\n" * 601)
    assert list(dict(_oversized(planted, tmp_path))) == ["planted.py"]
