"""Builds the installable QGIS plugin zip: zip_build/avalanche_iseg_plugin.zip.

    .venv/bin/python scripts/build_zip.py [--out DIR] [--no-pb-tool]

The zip holds one folder, avalanche_iseg_plugin/, with the plugin's files, metadata.txt and icon.png
at its top and core_model/ bundled inside it (the plugin's __init__ puts that folder on sys.path).
The file lists come from pb_tool.cfg at the repository root. pb_tool copies paths relative to its
working directory, and this repository keeps metadata.txt and core_model/ beside the plugin package,
so this script stages the plugin folder in the layout QGIS wants, expands the globs of pb_tool.cfg
(pb_tool does not glob) and runs `pb_tool zip` in that staged folder. Without pb_tool or a `zip`
program (or with --no-pb-tool) it writes the same zip with Python's zipfile.
"""
from __future__ import annotations

import argparse
import configparser
import fnmatch
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "avalanche_iseg_plugin"
REQUIRED_EXTRAS = ("metadata.txt", "icon.png")
SKIP_DIRS = {"__pycache__", ".pytest_cache"}
SKIP_FILES = ("*.pyc", "*.pyo", ".DS_Store")
SHIPPED_WEIGHTS = "avalanche_iseg_default.pth"   # core_model/weights/: the one model the plugin ships


class BuildError(RuntimeError):
    pass


def read_config(path: Path) -> configparser.ConfigParser:
    if not path.is_file():
        raise BuildError(f"{path} is missing: the zip's file lists come from it.")
    cfg = configparser.ConfigParser()
    cfg.read(path, encoding="utf-8")
    return cfg


def _source_of(name: str) -> Path | None:
    """A file or folder named in pb_tool.cfg: looked up in the package folder, then at the root."""
    for base in (REPO / PACKAGE, REPO):
        if (base / name).exists():
            return base / name
    return None


def _ignore(directory, names):
    """Caches and bytecode never go in; of the weights, only the shipped default model does (training
    checkpoints and optimizer states stay out of the plugin)."""
    skipped = [n for n in names if n in SKIP_DIRS or any(fnmatch.fnmatch(n, p) for p in SKIP_FILES)]
    if Path(directory).name == "weights":
        skipped += [n for n in names if n != SHIPPED_WEIGHTS and n not in skipped
                    and not n.lower().startswith(("readme", "license"))]
    return skipped


def stage(cfg: configparser.ConfigParser, stage_dir: Path) -> configparser.ConfigParser:
    """Copies the plugin folder into stage_dir in its installed layout; returns the expanded config."""
    if stage_dir.exists():
        shutil.rmtree(stage_dir)
    stage_dir.mkdir(parents=True)
    excluded = cfg.get("files", "excluded_files", fallback="").split()

    python_files: list[str] = []
    for pattern in cfg.get("files", "python_files").split():
        for path in sorted((REPO / PACKAGE).glob(pattern)):
            if path.is_file() and not any(fnmatch.fnmatch(path.name, p) for p in excluded):
                python_files.append(path.name)
    if "__init__.py" not in python_files:
        raise BuildError(f"{PACKAGE}/__init__.py is missing: QGIS cannot load a plugin without it.")

    extras: list[str] = []
    for name in cfg.get("files", "extras", fallback="").split():
        source = _source_of(name)
        if source is None:
            if name in REQUIRED_EXTRAS:
                raise BuildError(f"{name} is missing from the repository: the plugin zip needs it.")
            print(f"build_zip: note: {name} does not exist yet, left out of the zip", file=sys.stderr)
            continue
        extras.append(name)

    extra_dirs: list[str] = []
    for name in cfg.get("files", "extra_dirs", fallback="").split():
        source = _source_of(name)
        if source is None or not source.is_dir():
            raise BuildError(f"{name}/ is missing from the repository: the plugin zip bundles it.")
        extra_dirs.append(name)

    for name in python_files:
        shutil.copy2(REPO / PACKAGE / name, stage_dir / name)
    for name in extras:
        shutil.copy2(_source_of(name), stage_dir / name)
    for name in extra_dirs:
        shutil.copytree(_source_of(name), stage_dir / name, ignore=_ignore)

    staged = configparser.ConfigParser()
    staged.read_dict({section: dict(cfg[section]) for section in cfg.sections()})
    staged["files"]["python_files"] = " ".join(python_files)
    staged["files"]["extras"] = " ".join(extras)
    staged["files"]["extra_dirs"] = " ".join(extra_dirs)
    with open(stage_dir / "pb_tool.cfg", "w", encoding="utf-8") as fh:
        staged.write(fh)
    return staged


def zip_with_pb_tool(stage_dir: Path, work_dir: Path, name: str) -> Path:
    deploy = work_dir / "deploy"
    if deploy.exists():
        shutil.rmtree(deploy)
    deploy.mkdir(parents=True)
    cmd = [sys.executable, "-c", "import sys; from pb_tool.pb_tool import cli; sys.exit(cli())",
           "zip", "--quick", "--no-docs", "--plugin_path", str(deploy)]
    result = subprocess.run(cmd, cwd=stage_dir, capture_output=True, text=True)
    made = stage_dir / f"{name}.zip"
    if result.returncode != 0 or not made.is_file() or "ERROR" in result.stdout:
        lines = (result.stderr.strip() or result.stdout.strip() or "no output").splitlines()
        raise BuildError(f"pb_tool zip failed in {stage_dir}: {lines[-1]}")
    return made


def zip_with_python(stage_dir: Path, work_dir: Path, name: str) -> Path:
    made = work_dir / f"{name}.zip"
    with zipfile.ZipFile(made, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(stage_dir.rglob("*")):
            rel = path.relative_to(stage_dir)
            if path.is_file() and rel.name != "pb_tool.cfg":
                zf.write(path, f"{name}/{rel.as_posix()}")
    return made


def pb_tool_usable() -> bool:
    try:
        import pb_tool.pb_tool  # noqa: F401
    except ImportError:
        return False
    return shutil.which("zip") is not None or shutil.which("7z") is not None


def build(out_dir: Path = REPO / "zip_build", use_pb_tool: bool = True) -> Path:
    cfg = read_config(REPO / "pb_tool.cfg")
    name = cfg.get("plugin", "name", fallback=PACKAGE)
    out_dir = Path(out_dir).resolve()
    work_dir = out_dir / "work"
    stage_dir = work_dir / name
    stage(cfg, stage_dir)
    if use_pb_tool and pb_tool_usable():
        made = zip_with_pb_tool(stage_dir, work_dir, name)
        how = "pb_tool zip"
    else:
        made = zip_with_python(stage_dir, work_dir, name)
        how = "zipfile"
    target = out_dir / f"{name}.zip"
    if target.exists():
        target.unlink()
    shutil.move(str(made), target)
    shutil.rmtree(work_dir, ignore_errors=True)
    print(f"build_zip: {target} ({how}, {target.stat().st_size / 1e6:.1f} MB)")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the installable QGIS plugin zip.")
    parser.add_argument("--out", type=Path, default=REPO / "zip_build", help="output folder (default zip_build/)")
    parser.add_argument("--no-pb-tool", action="store_true", help="write the zip with Python's zipfile")
    args = parser.parse_args(argv)
    try:
        build(args.out, use_pb_tool=not args.no_pb_tool)
    except (BuildError, OSError) as exc:
        print(f"build_zip: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    sys.exit(main())
