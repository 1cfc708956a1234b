"""The layering of source/ (docs/ARCHITECTURE.md): no package import cycle, bottom layers import nothing above."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_no_package_cycle_and_bottom_layers_stay_at_the_bottom():
    result = subprocess.run([sys.executable, "scripts/check_layers.py"], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith("layers: ok")


def test_the_checker_finds_a_cycle():
    import importlib.util

    spec = importlib.util.spec_from_file_location("check_layers", ROOT / "scripts" / "check_layers.py")
    check_layers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check_layers)
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert check_layers.cycles(graph) == [["a", "b", "c"]]
    assert check_layers.broken_rules({"media": {"queue", "errors"}}) == [
        "media imports queue (allowed: errors)"]


def _check_layers():
    import importlib.util

    spec = importlib.util.spec_from_file_location("check_layers", ROOT / "scripts" / "check_layers.py")
    check_layers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check_layers)
    return check_layers


def test_the_checker_finds_a_cycle_between_modules_of_one_package(tmp_path):
    """Three modules of one package importing each other in a ring (one import lazy, inside a function),
    as engines/loras.py -> tiny.py -> residency.py once did: one package, so only the module graph sees it.
    `from . import d` names the module d, not the package, so d <-> the package's __init__ is no cycle."""
    package = tmp_path / "pkg" / "sub"
    package.mkdir(parents=True)
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (package / "__init__.py").write_text("from .d import D\n")
    (package / "a.py").write_text("def f():\n    from .b import g\n    return g\n")
    (package / "b.py").write_text("from .c import h\n\ng = 1\n")
    (package / "c.py").write_text("from pkg.sub.a import f\n\nh = 2\n")
    (package / "d.py").write_text("from . import a\n\nD = 3\n")
    check_layers = _check_layers()
    graph = check_layers.module_graph(tmp_path / "pkg")
    assert graph["pkg.sub.d"] == {"pkg.sub.a"}
    assert check_layers.cycles(graph) == [["pkg.sub.a", "pkg.sub.b", "pkg.sub.c"]]
    (package / "c.py").write_text("h = 2\n")
    assert check_layers.cycles(check_layers.module_graph(tmp_path / "pkg")) == []
