"""The layers of the code base, as imports: doors go one way.

- ``avalanche_iseg_plugin/engine`` (the pure part) never imports ``qgis`` nor the plugin's other parts;
- ``avalanche_iseg_plugin/layers`` (the ``qgis.core`` part) imports no widgets (``qgis.gui``, Qt widgets)
  and nothing from ``gui``, ``toolbox`` or ``cli``;
- ``core_model`` imports neither Qt/QGIS nor the plugin nor ``training``;
- ``training`` never imports the plugin; the plugin never imports ``training``.

Checked twice: statically over every file (so a lazy import inside a function counts too), and by
importing every engine module in a fresh interpreter where ``qgis`` and ``PyQt5`` cannot be imported.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PLUGIN = REPO / "avalanche_iseg_plugin"


def _imports(path: Path) -> list[str]:
    """Every module a file imports, relative imports resolved to dotted names from the repository root."""
    return _imports_of(path.read_text(encoding="utf-8"), list(path.relative_to(REPO).with_suffix("").parts[:-1]))


def _imports_of(source: str, package: list[str]) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
                if node.module is None:
                    found += [f"{module}.{alias.name}" for alias in node.names]
                else:
                    found.append(module)
            else:
                found.append(node.module)
    return found


def _violations(folder: Path, forbidden: tuple[str, ...]) -> list[str]:
    bad = []
    for path in sorted(folder.rglob("*.py")):
        for module in _imports(path):
            if any(module == f or module.startswith(f + ".") for f in forbidden):
                bad.append(f"{path.relative_to(REPO)} imports {module}")
    return bad


def test_the_import_scanner_sees_relative_and_lazy_imports():
    # the scanner itself must be able to fail: lazy imports of the GUI and of qgis from an engine module
    source = "def f():\n    from ..gui import controller\n    from ..layers.crs import crs_from\n    import qgis.core\n"
    assert _imports_of(source, ["avalanche_iseg_plugin", "engine"]) == [
        "avalanche_iseg_plugin.gui", "avalanche_iseg_plugin.layers.crs", "qgis.core"]


def test_engine_is_pure():
    assert _violations(PLUGIN / "engine", ("qgis", "PyQt5", "training", "avalanche_iseg_plugin.layers",
                                           "avalanche_iseg_plugin.gui", "avalanche_iseg_plugin.toolbox",
                                           "avalanche_iseg_plugin.cli")) == []


def test_layers_part_has_no_widgets():
    assert _violations(PLUGIN / "layers", ("qgis.gui", "qgis.PyQt.QtWidgets", "PyQt5.QtWidgets", "training",
                                           "avalanche_iseg_plugin.gui", "avalanche_iseg_plugin.toolbox",
                                           "avalanche_iseg_plugin.cli")) == []


def test_core_model_and_training_doors():
    assert _violations(REPO / "core_model", ("qgis", "PyQt5", "avalanche_iseg_plugin", "training")) == []
    assert _violations(REPO / "training", ("qgis", "PyQt5", "avalanche_iseg_plugin")) == []
    assert _violations(PLUGIN, ("training",)) == []


def test_every_engine_module_imports_without_qgis():
    modules = sorted(".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
                     for p in (PLUGIN / "engine").rglob("*.py"))
    assert "avalanche_iseg_plugin.engine.session" in modules
    code = ("import sys, importlib\n"
            "for name in ('qgis', 'PyQt5'):\n    sys.modules[name] = None  # any import of them fails\n"
            f"for m in {modules!r}:\n    importlib.import_module(m)\n"
            "print('imported', len(" + repr(modules) + "))\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"imported {len(modules)}" in result.stdout


@pytest.mark.parametrize("folder", ["avalanche_iseg_plugin", "core_model", "training"])
def test_no_production_file_over_400_lines(folder):
    long = [f"{p.relative_to(REPO)}: {n}" for p in sorted((REPO / folder).rglob("*.py"))
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 400]
    assert long == []


@pytest.mark.parametrize("folder", ["avalanche_iseg_plugin", "core_model", "training"])
def test_no_class_over_250_lines(folder):
    long = []
    for path in sorted((REPO / folder).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and node.end_lineno - node.lineno + 1 > 250:
                long.append(f"{path.relative_to(REPO)}:{node.name} {node.end_lineno - node.lineno + 1}")
    assert long == []
