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
