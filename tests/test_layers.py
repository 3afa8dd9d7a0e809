"""The package's layers: imports go downward only, with no cycle and no private names.

`provision/` is layered, bottom to top, as :data:`LAYERS` lists; a module may import from its
own layer or any layer below, never above. The checker reads the source (ast), so an import
inside a function counts the same as one at the top.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "provision"
# Bottom to top. The package's own top-level modules (__init__: the public API; entry,
# __main__: the console script) sit above every layer.
LAYERS = ["core", "cloudtrail", "sources", "ingest", "analysis", "report", "demo", "stack", "cli"]
TOP = len(LAYERS)


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> int:
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in LAYERS:
        return LAYERS.index(parts[1])
    return TOP


def imports_of(path: Path, root: Path) -> list[tuple[int, str, list[str]]]:
    """(line, imported module, names) for every import of the package in ``path``."""
    package = root.name
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name, []) for a in node.names if a.name.split(".")[0] == package]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and node.module.split(".")[0] == package:
            names = [a.name for a in node.names]
            subpackage_dir = root.joinpath(*node.module.split(".")[1:])
            if subpackage_dir.is_dir():  # `from provision.core import errors`: each name is a module
                modules = [n for n in names if (subpackage_dir / f"{n}.py").exists() or (subpackage_dir / n).is_dir()]
                found += [(node.lineno, f"{node.module}.{n}", []) for n in modules]
                rest = [n for n in names if n not in modules]
                if rest:
                    found.append((node.lineno, node.module, rest))
            else:
                found.append((node.lineno, node.module, names))
        elif isinstance(node, ast.ImportFrom) and node.level:
            found.append((node.lineno, "<relative>", []))
    return found


def violations(root: Path) -> list[str]:
    """Every upward import, relative import, private-name import and import cycle under ``root``."""
    problems: list[str] = []
    graph: dict[str, set[str]] = {}
    for path in sorted(root.rglob("*.py")):
        importer = module_name(path, root)
        graph.setdefault(importer, set())
        for line, imported, names in imports_of(path, root):
            where = f"{path.relative_to(root.parent)}:{line}"
            if imported == "<relative>":
                problems.append(f"{where}: relative import (spell the layer out)")
                continue
            if imported == root.name:
                continue  # `from provision import __version__`
            if layer_of(imported) > layer_of(importer):
                problems.append(f"{where}: {importer} ({LAYERS[layer_of(importer)] if layer_of(importer) < TOP else 'top'}) "
                                f"imports {imported} ({LAYERS[layer_of(imported)] if layer_of(imported) < TOP else 'top'}), a layer above it")
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if private and imported != importer:
                problems.append(f"{where}: {importer} imports private {', '.join(private)} from {imported}")
            graph[importer].add(imported)
    problems += [f"import cycle: {' -> '.join(cycle)}" for cycle in cycles(graph)]
    return problems


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Cycles among the modules, each reported once where the walk first closes it."""
    found, state, stack = [], {}, []

    def visit(node: str) -> None:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph:
                continue
            if state.get(nxt) == "open":
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


def test_provision_imports_only_downward_without_cycles_or_private_names():
    assert violations(PACKAGE) == []


def test_every_module_lives_in_a_layer_or_is_an_entry_point():
    loose = {p.name for p in PACKAGE.glob("*.py")}
    assert loose == {"__init__.py", "__main__.py", "entry.py"}
    assert {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"} == set(LAYERS)


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "provision"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for layer in {Path(n).parts[0] for n in files if "/" in n}:
        (root / layer / "__init__.py").touch()
    return root


@pytest.mark.parametrize("source, problem", [
    ("from provision.analysis.hints import Hints\n", "a layer above it"),
    ("def late():\n    from provision.analysis import hints\n", "a layer above it"),
    ("import provision.analysis.hints\n", "a layer above it"),
    ("from provision.core.errors import _secret\n", "imports private _secret"),
    ("from . import errors\n", "relative import"),
])
def test_the_layer_check_fails_on_an_upward_import_a_private_name_or_a_relative_import(tmp_path, source, problem):
    root = _tree(tmp_path, {"core/errors.py": "_secret = 1\n", "analysis/hints.py": "class Hints: ...\n",
                            "ingest/importer.py": source})
    found = violations(root)
    assert len(found) == 1 and problem in found[0], found


def test_the_layer_check_fails_on_a_cycle_inside_a_layer(tmp_path):
    root = _tree(tmp_path, {"demo/generate.py": "from provision.demo import console_work\n",
                            "demo/console_work.py": "from provision.demo.generate import write\n"})
    found = violations(root)
    assert found and "import cycle" in found[0], found


def test_the_layer_check_accepts_downward_and_same_layer_imports(tmp_path):
    root = _tree(tmp_path, {"core/errors.py": "class CtstackError(Exception): ...\n",
                            "ingest/importer.py": "from provision.core.errors import CtstackError\n",
                            "ingest/follow.py": "from provision.ingest import importer\n"})
    assert violations(root) == []
