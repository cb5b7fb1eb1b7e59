"""Runs a Python module or script as if some packages were not installed:

    python test/hidden_modules.py torch,cv2 -m avalanche_iseg_plugin.dependencies status
    python test/hidden_modules.py torch,cv2 script.py [args]

An import hook in place of sys.meta_path's path finder finds everything except those packages, so
``import torch`` fails with ModuleNotFoundError and ``importlib.util.find_spec('torch')`` is None, like a QGIS whose Python has
neither PyTorch nor OpenCV."""
import importlib.abc
import importlib.machinery
import os
import runpy
import sys


class HiddenModules(importlib.abc.MetaPathFinder):
    """Stands in for the path finder: finds everything it finds except the hidden packages."""

    def __init__(self, names):
        self.names = set(names)

    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] in self.names:
            return None
        return importlib.machinery.PathFinder.find_spec(fullname, path, target)

    def find_distributions(self, *args, **kwargs):   # importlib.metadata (pytest's plugins) asks here
        return importlib.machinery.PathFinder.find_distributions(*args, **kwargs)

    def invalidate_caches(self):
        importlib.machinery.PathFinder.invalidate_caches()


def main() -> None:
    names = [n for n in sys.argv[1].split(",") if n]
    index = sys.meta_path.index(importlib.machinery.PathFinder)
    sys.meta_path[index] = HiddenModules(names)
    for name in list(sys.modules):
        if name.split(".")[0] in names:
            del sys.modules[name]
    rest = sys.argv[2:]
    sys.path.insert(0, os.getcwd())
    if rest[0] == "-m":
        sys.argv = [rest[1]] + rest[2:]
        runpy.run_module(rest[1], run_name="__main__", alter_sys=True)
    else:
        sys.argv = rest
        runpy.run_path(rest[0], run_name="__main__")


if __name__ == "__main__":
    main()
