"""Runs a Python module or script as if some packages were not installed:

    python test/hidden_modules.py torch,cv2 -m avalanche_iseg_plugin.dependencies status
    python test/hidden_modules.py torch,cv2 script.py [args]

An import hook first on sys.meta_path makes ``import torch`` (and its submodules) fail with
ModuleNotFoundError and ``importlib.util.find_spec('torch')`` find nothing, like a QGIS whose Python has
neither PyTorch nor OpenCV."""
import importlib.abc
import os
import runpy
import sys


class HiddenModules(importlib.abc.MetaPathFinder):
    def __init__(self, names):
        self.names = set(names)

    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] in self.names:
            raise ModuleNotFoundError(f"No module named '{fullname}'", name=fullname)
        return None


def main() -> None:
    names = [n for n in sys.argv[1].split(",") if n]
    sys.meta_path.insert(0, HiddenModules(names))
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
