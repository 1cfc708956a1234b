"""Check the layering of source/: no import cycle between its packages, and no layer importing above it.

    python scripts/check_layers.py          # prints the package graph; exit 1 on a cycle or a broken rule

Reads every module under source/ with `ast` (nothing is imported or run), resolves its imports
(absolute `source.x` and relative `from ..x import y`, at module level or inside functions), and
groups modules into packages: `source/media/guides.py` belongs to `media`, a top-level module such as
`source/worker.py` is its own package (`worker`). Lazy imports count too: a cycle hidden in a function
body is still a cycle.
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


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_of(module: str) -> str:
    """source.media.guides -> media; source.worker -> worker; source -> source."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def imports_of(path: Path) -> set[str]:
    """Absolute names of the source.* modules a file imports."""
    module = module_name(path)
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
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return {name for name in found if name == "source" or name.startswith("source.")}


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


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one package (Tarjan)."""
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
    problems = [f"import cycle between packages: {' <-> '.join(c)}" for c in cycles(graph)] + broken_rules(graph)
    for problem in problems:
        print(f"error: {problem}")
    print("layers: ok" if not problems else f"layers: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
