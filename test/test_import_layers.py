"""The layers of the code base, as imports: doors go one way.

- ``avalanche_iseg_plugin/engine`` (the pure part) never imports ``qgis`` nor the plugin's other parts;
- ``avalanche_iseg_plugin/layers`` (the ``qgis.core`` part) imports no widgets (``qgis.gui``, Qt widgets)
  and nothing from ``gui``, ``toolbox`` or ``cli``;
- ``core_model`` imports neither Qt/QGIS nor the plugin nor ``training``;
- ``training`` never imports the plugin; the plugin never imports ``training``;
- ``gui/transport`` (commands to the session server) imports no widgets and nothing of the GUI above it;
- the ``dependencies`` package (plain Python) imports nothing of the plugin's other parts, and of the GUI only
  ``gui/setup`` uses it (plus two named single imports: the start-up check and the child's interpreter);
- no import circles anywhere in ``core_model``, ``training`` and the plugin.

Checked twice: statically over every file (so a lazy import inside a function counts too), and by
importing every engine module in a fresh interpreter where ``qgis`` and ``PyQt5`` cannot be imported.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterable
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


# ============================================================================ circles
def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph(sources: dict[str, tuple[str, bool]]) -> dict[str, set[str]]:
    """Which of the given modules each one imports, module-level and lazy imports alike; ``sources`` maps a
    dotted module name to (its source, whether it is a package's __init__).

    An edge goes to the most specific module an import names: ``from . import x`` and ``from .pkg import x``
    to the submodule x when there is one, else to the package (a name defined in its __init__);
    ``import a.b.c`` to a.b.c. The packages whose __init__ Python runs on the way are not edges, so a package
    re-exporting its submodules is no circle — unless a submodule takes a name from that package itself."""
    known = set(sources)
    graph: dict[str, set[str]] = {}
    for name, (source, is_package) in sources.items():
        package = name.split(".") if is_package else name.split(".")[:-1]
        edges: set[str] = set()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                named = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))
                named = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
            else:
                continue
            for dotted in named:
                parts = dotted.split(".")
                while parts and ".".join(parts) not in known:
                    parts.pop()
                if parts and ".".join(parts) != name:
                    edges.add(".".join(parts))
        graph[name] = edges
    return graph


def _circles(graph: dict[str, set[str]]) -> list[str]:
    """Every strongly connected component of more than one module, as one of its circles: 'a -> b -> a'."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    components: list[list[str]] = []

    def visit(v: str) -> None:                       # Tarjan; the graphs here are a few hundred modules
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return [" -> ".join(_one_circle(graph, component)) for component in sorted(components)]


def _one_circle(graph: dict[str, set[str]], component: Iterable[str]) -> list[str]:
    """A shortest way from the component's first module back to itself, inside the component."""
    members = set(component)
    start = min(members)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(graph[v] & members):
                if w == start:
                    return paths[v] + [start]
                if w not in paths:
                    paths[w] = paths[v] + [w]
                    nxt.append(w)
        frontier = nxt
    raise AssertionError(f"{sorted(members)} is no strongly connected component")


def _repository_sources() -> dict[str, tuple[str, bool]]:
    return {_module_name(p): (p.read_text(encoding="utf-8"), p.name == "__init__.py")
            for folder in ("core_model", "training", "avalanche_iseg_plugin")
            for p in sorted((REPO / folder).rglob("*.py"))}


def test_the_circle_check_can_fail_and_sees_no_false_circles():
    sources = {
        "pkg": ("from .a import f\nfrom .d import h\n", True),           # re-exports: no circle by themselves
        "pkg.a": ("def f():\n    from . import b\n", False),             # lazy import of the submodule b ...
        "pkg.b": ("from .a import f\n", False),                          # ... which imports a: a circle
        "pkg.c": ("from . import a\nimport pkg.b\n", False),             # submodules, not the package
        "pkg.d": ("from . import f\nh = 1\n", False),                    # a name of the package: a real circle
    }
    graph = _import_graph(sources)
    assert graph == {"pkg": {"pkg.a", "pkg.d"}, "pkg.a": {"pkg.b"}, "pkg.b": {"pkg.a"},
                     "pkg.c": {"pkg.a", "pkg.b"}, "pkg.d": {"pkg"}}
    assert _circles(graph) == ["pkg -> pkg.d -> pkg", "pkg.a -> pkg.b -> pkg.a"]
    three = {"x": {"y"}, "y": {"z"}, "z": {"x", "w"}, "w": set()}
    assert _circles(three) == ["x -> y -> z -> x"]


def test_no_import_circles():
    sources = _repository_sources()
    assert "avalanche_iseg_plugin.dependencies.__main__" in sources and "core_model.fused_convs" in sources
    graph = _import_graph(sources)
    assert "core_model.pointwise_conv" in graph["core_model.fused_convs"]     # the scanner sees real edges
    assert _circles(graph) == []


# ============================================================================ the GUI's wings
def test_transport_imports_no_widgets_nor_the_gui_above_it():
    own = "avalanche_iseg_plugin.gui.transport"
    found = _violations(PLUGIN / "gui" / "transport", ("qgis.gui", "qgis.PyQt.QtWidgets", "qgis.PyQt.QtGui",
                                                        "PyQt5", "training", "avalanche_iseg_plugin.gui",
                                                        "avalanche_iseg_plugin.layers", "avalanche_iseg_plugin.toolbox",
                                                        "avalanche_iseg_plugin.cli"))
    bad = [v for v in found if not (v.endswith(" imports " + own) or f" imports {own}." in v)]
    assert bad == []


def test_dependencies_package_is_plain_python():
    assert _violations(PLUGIN / "dependencies", ("qgis", "PyQt5", "core_model", "training",
                                                 "avalanche_iseg_plugin.gui", "avalanche_iseg_plugin.engine",
                                                 "avalanche_iseg_plugin.layers", "avalanche_iseg_plugin.toolbox",
                                                 "avalanche_iseg_plugin.cli")) == []


def test_of_the_gui_only_setup_uses_the_dependencies_package():
    # two single imports outside gui/setup, named: the start-up check of what is missing (opens the dialog)
    # and the Python interpreter the session server's child process runs on
    allowed = {"avalanche_iseg_plugin/gui/plugin.py": {"avalanche_iseg_plugin.dependencies.check"},
               "avalanche_iseg_plugin/gui/transport/process_transport.py": {"avalanche_iseg_plugin.dependencies.folder"}}
    graph = _import_graph(_repository_sources())
    users = {}
    for path in sorted((PLUGIN / "gui").rglob("*.py")):
        used = {m for m in graph[_module_name(path)] if m.startswith("avalanche_iseg_plugin.dependencies")}
        if used and "setup" not in path.relative_to(PLUGIN / "gui").parts:
            users[path.relative_to(REPO).as_posix()] = used
    assert users == allowed
    setup = graph["avalanche_iseg_plugin.gui.setup.dependency_dialog"]
    assert {"avalanche_iseg_plugin.dependencies.check", "avalanche_iseg_plugin.dependencies.install"} <= setup
