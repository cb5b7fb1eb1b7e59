"""Models: python -m core_model.models list|download|import|remove|verify [--catalogue FILE] [--dir DIR]

  list [--json] [--installed]   the catalogue and the installed models ({"models": [{"name", "installed", ...}]})
  download NAME                 download, verify (git blob id) and install; progress on stderr, the path last
  import FILE [--name NAME]     install a local file: a catalogue entry when its id matches, else a custom
                                model after the safe load; the path last
  remove NAME                   delete an installed model (and any partial download)
  verify [NAME ...]             recompute the ids of installed models (all by default); exit 1 on a mismatch

--catalogue FILE|URL (repeatable) adds an institution catalogue (same name: its entry wins);
--dir DIR is the models folder (default: $AVALANCHE_ISEG_MODELS_DIR or a per-user folder).
Bad input or a failed download: one line on stderr, exit code 2.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

from ..cli.running import ArgumentParser, run
from .catalogue import load_catalogue
from .install_folder import models_dir
from .store import ModelStore


def _common(parser) -> None:
    parser.add_argument("--catalogue", action="append", default=[], metavar="FILE",
                        help="an institution catalogue file or URL (repeatable)")
    parser.add_argument("--dir", default=None, help="the models folder (default: $AVALANCHE_ISEG_MODELS_DIR, else a per-user folder)")


def _size(n, published_mb=None) -> str:
    if n is None:
        return "?" if published_mb is None else f"~{published_mb:g} MB"
    return f"{n / 1e6:.1f} MB"


def _preset_text(settings: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in settings.items()) or "RITM's defaults"


class _Progress:
    """download progress on stderr: a line updated in place on a terminal, else a line per 10 %."""

    def __init__(self, header: str, stream=None):
        self.stream = stream if stream is not None else sys.stderr
        self.last, self.tty, self.header = -1.0, self.stream.isatty(), header

    def __call__(self, done: int, total, speed: float) -> None:
        if self.header:  # written with the first bytes: a refusal before them stays the only line
            self.stream.write(self.header + "\n")
            self.header = ""
        now = time.monotonic()
        if total:
            step = int(10 * done / total)
            if not self.tty and step == self.last and done != total:
                return
            self.last = step
            text = f"{done / 1e6:.1f} of {total / 1e6:.1f} MB ({100 * done / total:.0f} %), {speed / 1e6:.2f} MB/s"
        else:
            if not self.tty and now - self.last < 2 and done:
                return
            self.last = now
            text = f"{done / 1e6:.1f} MB, {speed / 1e6:.2f} MB/s"
        self.stream.write(("\r" + text + " " * 8) if self.tty else text + "\n")
        self.stream.flush()

    def end(self) -> None:
        if self.tty:
            self.stream.write("\n")


def _list(store: ModelStore, args) -> int:
    infos = store.models(installed_only=args.installed)
    if args.json:
        print(json.dumps({"models_dir": str(store.folder), "models": [i.to_json() for i in infos]}, indent=1,
                         ensure_ascii=False))
        return 0
    print(f"models folder: {store.folder}")
    for info in infos:
        mark = "installed" if info.installed else ("partial" if info.partial_bytes else "-")
        flags = [f for f, on in (("avalanche", info.entry.avalanche), ("unpinned", info.unpinned),
                                 ("custom", info.custom), ("bundled", info.bundled)) if on]
        print(f"{info.name:26} {mark:9} {_size(info.size, info.entry.size_mb):>9}  {info.entry.architecture or '?':8} "
              f"{info.entry.trained_on or '?'}{' [' + ', '.join(flags) + ']' if flags else ''}; "
              f"preset: {_preset_text(info.entry.settings)}")
    return 0


def _download(store: ModelStore, args) -> int:
    progress = _Progress(f"downloading {args.name} into {store.folder}")
    try:
        path = store.download(args.name, progress=progress)
    finally:
        progress.end()
    print(path)
    return 0


def _import(store: ModelStore, args) -> int:
    info, kind = store.import_file(args.file, args.name)
    what = {"catalogue": "recognised by its git blob id as catalogue model", "bundled": "is the bundled model",
            "unpinned": "accepted after the safe load as the unpinned catalogue model",
            "custom": "installed after the safe load as custom model"}[kind]
    sys.stderr.write(f"{args.file} {what} {info.name}\n")
    print(info.installed)
    return 0


def _remove(store: ModelStore, args) -> int:
    for path in store.remove(args.name):
        print(f"deleted {path}")
    return 0


def _verify(store: ModelStore, args) -> int:
    names = args.names or [i.name for i in store.models(installed_only=True)]
    bad = 0
    for name in names:
        result = store.verify(name)
        print(("ok   " if result.ok else "FAIL ") + result.message)
        bad += not result.ok
    return 1 if bad else 0


def main(argv=None) -> int:
    parser = ArgumentParser(prog="python -m core_model.models", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="list|download|import|remove|verify",
                                parser_class=ArgumentParser)
    p = sub.add_parser("list", help="the catalogue and the installed models")
    p.add_argument("--json", action="store_true", help='print {"models": [...]} as JSON')
    p.add_argument("--installed", action="store_true", help="only installed models")
    p = sub.add_parser("download", help="download, verify and install a catalogue model")
    p.add_argument("name")
    p = sub.add_parser("import", help="install a local model file")
    p.add_argument("file")
    p.add_argument("--name", default=None, help="name of a custom model (default: the file's name)")
    p = sub.add_parser("remove", help="delete an installed model")
    p.add_argument("name")
    p = sub.add_parser("verify", help="check installed models' git blob ids")
    p.add_argument("names", nargs="*")
    for action in sub.choices.values():
        _common(action)
    args = parser.parse_args(argv)
    store = ModelStore(models_dir(args.dir), load_catalogue(args.catalogue))
    handler = {"list": _list, "download": _download, "import": _import, "remove": _remove, "verify": _verify}
    return handler[args.command](store, args)


def cli() -> None:
    run(lambda: main(sys.argv[1:]))
