"""Command line of the dependency step (no QGIS needed):

    python -m avalanche_iseg_plugin.dependencies status [--target DIR]
    python -m avalanche_iseg_plugin.dependencies install [--step digitising|pytorch] [--cuda] [--target DIR]
                                                         [--index-url URL] [--package SPEC ...]
    python -m avalanche_iseg_plugin.dependencies uninstall [--target DIR]

status prints one line per dependency (its version, or what is wrong) and exits 0 when all that digitising
needs are usable (PyTorch is optional), 3 when one of them is missing or broken. install runs one step's
pip into the plugin-private folder (default: the one in the QGIS profile; see folder.private_dir):
digitising (ONNX Runtime + OpenCV, the default) or pytorch (the CPU build, ``--cuda`` the CUDA build, from
the PyTorch index only; ``--index-url`` names another PyTorch index) and exits 0, or 1 with one sentence
on stderr. Progress goes to stdout as packages and megabytes (``--verbose``: pip's own lines).
"""
from __future__ import annotations

import argparse
import os
import sys

from . import check as deps
from . import install as dependency_install

MISSING_EXIT = 3


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m avalanche_iseg_plugin.dependencies",
                                     description="Check or install the plugin's Python dependencies.")
    sub = parser.add_subparsers(dest="action", required=True)
    for name in ("status", "install", "uninstall"):
        p = sub.add_parser(name)
        p.add_argument("--target", default=None, help="the private folder (default: the plugin's "
                       "folder in the QGIS profile)")
        if name == "status":
            p.add_argument("--module", action="append", default=[], metavar="MODULE[=DISTRIBUTION]",
                           help="check this module too")
        if name == "install":
            p.add_argument("--step", choices=("digitising", "pytorch"), default=None,
                           help="digitising: ONNX Runtime + OpenCV (default); pytorch: the optional PyTorch")
            p.add_argument("--cuda", action="store_true", help="the CUDA (NVIDIA GPU) build of PyTorch")
            p.add_argument("--index-url", default=None, help="the PyTorch index to use instead of "
                           "download.pytorch.org (the only index pip then sees)")
            p.add_argument("--package", action="append", default=[], metavar="SPEC",
                           help="install these pip requirements (from pip's index) instead of a step")
            p.add_argument("--quiet", action="store_true", help="print nothing but the result")
            p.add_argument("--verbose", action="store_true", help="echo pip's own output")
    return parser


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    target = args.target or deps.private_dir()
    if args.action == "status":
        deps.add_private_dir_to_path(target)
        extra = tuple(deps.Dependency(m.split("=")[0], (m.split("=") + [m])[1], "requested")
                      for m in args.module)
        note = "" if os.path.isdir(target) else " (not created yet)"
        print(f"private folder: {target}{note}")
        statuses = deps.status(deep=True, dependencies=deps.DEPENDENCIES + extra)
        for s in statuses:
            print(s.line())
        return 0 if all(s.usable or s.dependency.optional for s in statuses) else MISSING_EXIT
    if args.action == "uninstall":
        dependency_install.uninstall(target)
        print(f"removed {target}")
        return 0
    if args.package:
        step = dependency_install.packages_step(args.package)
    elif args.step == "pytorch" or args.cuda or args.index_url:
        step = dependency_install.pytorch_step(args.cuda, args.index_url)
    else:
        step = dependency_install.digitising_step()
    echo = (lambda line: print(line, flush=True)) if args.verbose and not args.quiet else None
    shown = [None]

    def show(fraction: float, text: str) -> None:
        key = (int(fraction * 50), text.split(" (")[0])      # a line per 2 % or per new package/stage
        if not args.quiet and key != shown[0]:
            shown[0] = key
            print(f"[{fraction * 100:3.0f} %] {text}", flush=True)

    result = dependency_install.install(target, step=step, on_line=echo, on_progress=show)
    if not result.ok:
        print(result.reason, file=sys.stderr)
        return 1
    print(f"installed into {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
