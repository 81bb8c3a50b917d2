"""No import cycle among the verifier's own modules (issue 17: api.py, app.py and
console.py imported each other). Imports are read with `ast`, lazy ones inside functions
included: a cycle hidden behind a function-level import is still a cycle, it only fails
later and in whichever order the modules happen to load.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.rig import REPO

PACKAGE = "verifier"


def _module_name(path: Path, base: Path) -> str:
    rel = path.relative_to(base).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def import_graph(base: Path, package: str) -> dict[str, set[str]]:
    """Module -> the modules of `package` it imports (package `__init__`s left out: every
    submodule import loads its package first, which is not a dependency between parts)."""
    files = {_module_name(p, base): p for p in sorted((base / package).rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                deps.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                deps.add(node.module)
                # `from verifier import appraisal` names a module, not an attribute.
                deps.update(f"{node.module}.{a.name}" for a in node.names)
        graph[name] = {d for d in deps if d in files and d != name and d != package}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a path `[a, b, ..., a]`, or None (depth-first, colours per node)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return [*stack[stack.index(dep) :], dep]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_no_import_cycle_among_verifier_modules() -> None:
    graph = import_graph(REPO, PACKAGE)
    assert "verifier.app" in graph and "verifier.api" in graph["verifier.app"]
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or ())


def test_a_planted_cycle_is_named(tmp_path: Path) -> None:
    """The check itself can fail: a cycle through a lazy import is found and named."""
    graph = {
        "verifier.app": {"verifier.api"},
        "verifier.api": {"verifier.http"},
        "verifier.http": {"verifier.app"},
        "verifier.errors": set(),
    }
    assert find_cycle(graph) == ["verifier.api", "verifier.http", "verifier.app", "verifier.api"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    pkg = tmp_path / "verifier"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "one.py").write_text("def f():\n    from verifier import two\n")
    (pkg / "two.py").write_text("import verifier.one\n")
    planted = import_graph(tmp_path, "verifier")
    assert planted == {
        "verifier": set(),
        "verifier.one": {"verifier.two"},
        "verifier.two": {"verifier.one"},
    }
    assert find_cycle(planted) == ["verifier.one", "verifier.two", "verifier.one"]
