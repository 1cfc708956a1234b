"""Check the layering of source/: no import cycle between its packages or between its modules, and no
layer importing above it.

    .venv/bin/python scripts/check_layers.py          # prints the package graph; exit 1 on a cycle or a broken rule

Reads every module under source/ with `ast` (nothing is imported or run), resolves its imports
(absolute `source.x` and relative `from ..x import y`, at module level or inside functions), and
groups modules into packages: `source/media/guides.py` belongs to `media`, a top-level module such as
`source/worker.py` is its own package (`worker`). Lazy imports count too: a cycle hidden in a function
body is still a cycle. Between modules, `from package import name` counts as importing the submodule
`package.name` when there is one (not the package's `__init__`, which Python has loaded anyway).
"""
from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "source"

# What each bottom layer may import (itself always allowed). Packages not listed here may import
# anything, as long as no cycle appears.
ALLOWED = {
    "errors": set(),
    "retry": set(),
    "log": set(),
    "config": {"errors"},
    "media": {"errors"},
    "storage": {"errors", "config", "retry"},
    "queue": {"errors", "config", "retry"},
}


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_of(module: str) -> str:
    """source.media.guides -> media; source.worker -> worker; source -> source."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def imports_of(path: Path, root: Path = ROOT, known: frozenset[str] = frozenset()) -> set[str]:
    """Absolute names of the source.* modules a file imports. With `known` (the modules that exist),
    `from P import name` names only P.name when that is a module."""
    module = module_name(path, root)
    top = module.split(".")[0]
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base if is_package else base[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = {f"{target}.{alias.name}" for alias in node.names}
            found.update(names)
            if not known or not names <= known:
                found.add(target)
    return {name for name in found if name == top or name.startswith(top + ".")}


def package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for path in sorted(SOURCE.rglob("*.py")):
        source_package = package_of(module_name(path))
        graph[source_package]
        for target in imports_of(path):
            target_package = package_of(target)
            exists = (SOURCE / target_package).is_dir() or (SOURCE / f"{target_package}.py").is_file()
            if exists and target_package != source_package:
                graph[source_package].add(target_package)
    return graph


def module_graph(source: Path = SOURCE) -> dict[str, set[str]]:
    """Every module of the package folder `source` and the modules of it that it imports."""
    root = source.parent
    paths = {module_name(path, root): path for path in sorted(source.rglob("*.py"))}
    known = frozenset(paths)
    return {module: {target for target in imports_of(path, root, known) if target in known and target != module}
            for module, path in paths.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (package or module; Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def broken_rules(graph: dict[str, set[str]]) -> list[str]:
    problems = []
    for package, allowed in ALLOWED.items():
        for target in sorted(graph.get(package, set()) - allowed):
            problems.append(f"{package} imports {target} (allowed: {', '.join(sorted(allowed)) or 'nothing'})")
    return problems


def main() -> int:
    graph = package_graph()
    for package in sorted(graph):
        print(f"{package:<10} -> {', '.join(sorted(graph[package])) or '-'}")
    problems = [f"import cycle between packages: {' <-> '.join(c)}" for c in cycles(graph)]
    problems += [f"import cycle between modules: {' <-> '.join(c)}" for c in cycles(module_graph())]
    problems += broken_rules(graph)
    for problem in problems:
        print(f"error: {problem}")
    print("layers: ok" if not problems else f"layers: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
