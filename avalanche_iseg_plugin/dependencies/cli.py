"""Command line of the dependency step (no QGIS needed):

    python -m avalanche_iseg_plugin.dependencies status [--target DIR]
    python -m avalanche_iseg_plugin.dependencies install [--cuda] [--target DIR] [--package SPEC ...]
    python -m avalanche_iseg_plugin.dependencies uninstall [--target DIR]

status prints one line per dependency (its version, or what is wrong) and exits 0 when all are usable,
3 when something is missing or broken. install runs pip into the plugin-private folder (default: the
one in the QGIS profile; see folder.private_dir) and exits 0, or 1 with one sentence on stderr.
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
            p.add_argument("--cuda", action="store_true", help="the CUDA (NVIDIA GPU) build of PyTorch")
            p.add_argument("--package", action="append", default=[], metavar="SPEC",
                           help="install these pip requirements instead of PyTorch and OpenCV")
            p.add_argument("--quiet", action="store_true", help="do not echo pip's output")
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
        return 0 if all(s.usable for s in statuses) else MISSING_EXIT
    if args.action == "uninstall":
        dependency_install.uninstall(target)
        print(f"removed {target}")
        return 0
    echo = None if args.quiet else (lambda line: print(line, flush=True))
    result = dependency_install.install(target, packages=args.package or None, cuda=args.cuda, on_line=echo)
    if not result.ok:
        print(result.reason, file=sys.stderr)
        return 1
    print(f"installed into {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
