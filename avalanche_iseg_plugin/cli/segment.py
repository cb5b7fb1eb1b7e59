"""Segment avalanches from given clicks into a GeoPackage, headless (no display, no QGIS window).

    python -m avalanche_iseg_plugin.segment --raster ORTHO.tif --clicks CLICKS.json --out AVALANCHES.gpkg

Every object of the clicks file runs through a DigitisingSession with the real model, exactly as in the
map tool (same windows, same predictor), and becomes one MultiPolygon feature of the avalanche layer
(created if missing, appended to otherwise) with all its attributes.  All objects are segmented
before anything is written: a bad click or an empty mask writes nothing (unless --keep-going).
Bad input: one line on stderr, exit code 2.  See docs/segment_cli.md.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

EXIT_OK, EXIT_BUG, EXIT_BAD_INPUT, EXIT_SKIPPED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
PROG = "python -m avalanche_iseg_plugin.segment"

CLICKS_HELP = """\
CLICKS.json holds the clicks of one object, or a list of objects (each a list of clicks):
  one object:   [{"x": 2600195.2, "y": 1199850.0, "positive": true},
                 {"x": 2600230.0, "y": 1199790.5, "positive": false}]
  two objects:  [[{"x": 2600195.2, "y": 1199850.0}],
                 [{"row": 120, "col": 610}, {"row": 150, "col": 640, "positive": false}]]
A click is {"x": X, "y": Y} in the raster's CRS (map units; for a photo without georeference QGIS's
pixel units: x = column, y = -row) or {"row": R, "col": C}: integer pixel indices of the raster
(row 0 = top), clicked at the pixel's centre. "positive": true (default) = on the avalanche,
false = not the avalanche. Clicks are applied in order; each object needs a positive click.

Each object becomes one feature of the layer (id, area_m2, perimeter_m, source, n_pos, n_neg, model,
threshold, created_utc, method=interactive). All objects are segmented before anything is written.
Exit codes: 0 done, 2 bad input (one line on stderr), 3 some objects skipped (--keep-going),
1 unexpected failure.
Example:
  python scripts/make_sample.py /tmp/ava
  python -m avalanche_iseg_plugin.segment --raster /tmp/ava/ortho.tif --clicks /tmp/ava/clicks.json \\
      --out /tmp/ava/avalanches.gpkg"""


class InputError(ValueError):
    """Bad input to the tool; the message is one sentence."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse API: one line, exit 2
        sys.stderr.write(f"error: {message} (see {self.prog} --help)\n")
        raise SystemExit(EXIT_BAD_INPUT)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description="Segment avalanches from clicks on an orthoimage or photo into a "
                "GeoPackage, with the bundled interactive-segmentation model (no display needed).",
                epilog=CLICKS_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--raster", required=True, type=Path, metavar="RASTER", help="orthoimage (GeoTIFF, any GDAL raster) or photo")
    p.add_argument("--clicks", required=True, type=Path, metavar="CLICKS.json", help="clicks file (JSON, see below)")
    p.add_argument("--out", required=True, type=Path, metavar="AVALANCHES.gpkg",
                   help="avalanche GeoPackage (.gpkg); created if missing, appended to otherwise")
    p.add_argument("--checkpoint", type=Path, default=None, metavar="CKPT",
                   help="RITM-format model checkpoint (.pth); default: the shipped default model "
                        "core_model/weights/avalanche_iseg_default.pth")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where the model runs (default cpu)")
    p.add_argument("--threads", type=int, default=None, metavar="N", help="torch CPU threads (default: torch's choice)")
    p.add_argument("--threshold", type=float, default=0.49, metavar="T",
                   help="probability above which a pixel is avalanche (default 0.49)")
    p.add_argument("--max-side", type=int, default=1600, metavar="PX",
                   help="longest side of the image the model sees; larger windows are downsampled (default 1600)")
    p.add_argument("--min-area", type=float, default=None, metavar="A",
                   help="drop parts and fill holes smaller than this, in map units² (default: 4 model-image pixels)")
    p.add_argument("--simplify", type=float, default=0.0, metavar="TOL",
                   help="simplification tolerance in map units (default 0: exact pixel outline)")
    p.add_argument("--layer-name", default="avalanches", metavar="NAME", help="layer inside the GeoPackage (default avalanches)")
    p.add_argument("--keep-going", action="store_true",
                   help="skip objects that fail (warning on stderr, exit code 3) and write the others")
    p.add_argument("--debug", action="store_true", help="show tracebacks of unexpected failures")
    return p


# -- checks before anything heavy starts ---------------------------------------------------------------
def check_options(args) -> None:
    if not 0.0 < args.threshold < 1.0:
        raise InputError(f"--threshold must be between 0 and 1 (exclusive), not {args.threshold:g}.")
    if args.max_side < 64:
        raise InputError(f"--max-side must be at least 64 pixels, not {args.max_side}.")
    if args.min_area is not None and args.min_area < 0:
        raise InputError(f"--min-area cannot be negative ({args.min_area:g}).")
    if args.simplify < 0:
        raise InputError(f"--simplify cannot be negative ({args.simplify:g}).")
    if args.threads is not None and args.threads < 1:
        raise InputError(f"--threads must be at least 1, not {args.threads}.")
    if not args.layer_name.strip():
        raise InputError("--layer-name cannot be empty.")


def check_output(path: Path) -> Path:
    """The output GeoPackage path, absolute; InputError when it cannot be written."""
    path = Path(os.path.abspath(path))
    if path.suffix.lower() != ".gpkg":
        raise InputError(f"The output must be a GeoPackage: give a file name ending in .gpkg, not '{path.name}'.")
    if path.is_dir():
        raise InputError(f"The output '{path}' is a folder; give a .gpkg file name.")
    folder = path.parent
    if not folder.is_dir():
        raise InputError(f"Cannot write '{path}': the folder '{folder}' does not exist.")
    if path.exists():
        with open(path, "rb") as f:
            if f.read(16) != b"SQLite format 3\x00":
                raise InputError(f"The output '{path}' exists and is not a GeoPackage; choose another file name.")
        if not os.access(path, os.W_OK):
            raise InputError(f"The output '{path}' is read-only; choose a file you can write to.")
    else:  # try it: permissions alone say nothing for root, read-only file systems, /proc, ...
        try:
            with open(path, "xb"):
                pass
            path.unlink()
        except OSError as exc:
            raise InputError(f"Cannot write '{path}' ({exc.strerror or exc}); choose a folder you can write to.") \
                from None
    return path


def resolve_checkpoint(arg: Path | None) -> Path:
    if arg is None:
        from core_model.default_model import default_checkpoint
        return default_checkpoint()  # CheckpointError (one sentence) when it is not installed
    if not arg.is_file():
        what = "is a folder" if arg.is_dir() else "does not exist"
        raise InputError(f"The checkpoint '{arg}' {what}; pass --checkpoint with a RITM-format .pth file "
                         "or leave it out to use the default model.")
    return arg


def check_device(device: str, threads: int | None) -> str:
    import torch

    if threads is not None:
        torch.set_num_threads(threads)
    if device == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda was asked for, but no CUDA GPU is available here; use --device cpu.")
    return device


# -- the work ----------------------------------------------------------------------------------------
def make_predictor(checkpoint: Path, device: str, threshold: float):
    """The real predictor, as the plugin makes it (core_model's fast inference copy of the model)."""
    from core_model.load_predictor import load_predictor

    return load_predictor(checkpoint, device=device, threshold=threshold)


def _empty_mask_error(obj_no: int, clicks, nonempty: list[bool], threshold: float) -> InputError:
    """Names the click after which the mask became (and stayed) empty."""
    k = len(nonempty)
    while k > 1 and not nonempty[k - 2]:
        k -= 1
    click = clicks[k - 1]
    later = ", and the clicks after it did not bring it back" if k < len(clicks) else ""
    if click.is_positive:
        fix = (f"the model sees no avalanche there{later}; move the click onto the avalanche, add positive "
               f"clicks, or lower --threshold (now {threshold:g})")
    else:
        fix = f"the negative click removed the whole mask{later}; move it off the avalanche or drop it"
    return InputError(f"Click {k} of object {obj_no} (at {click.x:.2f}, {click.y:.2f}) gave an empty mask: {fix}.")


def segment_object(session, obj_no: int, clicks, min_area, simplify, threshold):
    """Run the clicks of one object; its FinishedObject, or InputError naming the click at fault."""
    from ..engine.errors import SessionError

    # All clicks are known: open the window around all of them (the session's margin on every side) at
    # once, rather than growing it click by click and replaying the clicks as the map tool must.
    session.discard()
    session.open_window_around([(c.x, c.y) for c in clicks])
    nonempty = []
    for click in clicks:
        session.add_click(click.x, click.y, click.is_positive)
        mask = session.mask
        nonempty.append(mask is not None and bool(mask.any()))
    if not nonempty[-1]:
        raise _empty_mask_error(obj_no, clicks, nonempty, threshold)
    try:
        return session.finish(min_area=min_area, simplify=simplify)
    except SessionError as exc:
        raise InputError(f"Object {obj_no}: {exc}") from None


def _describe_raster(source) -> str:
    if not source.is_georeferenced:
        return f"{source.width}×{source.height} px, no georeference (pixel units)"
    from qgis.core import QgsUnitTypes

    from ..layers.crs import crs_from
    crs = crs_from(source.crs_wkt)
    name = (crs.authid() or crs.description() or "CRS without EPSG code") if crs.isValid() else "no CRS"
    unit = {QgsUnitTypes.DistanceMeters: " m", QgsUnitTypes.DistanceDegrees: "°"}.get(crs.mapUnits(), " map units")
    return f"{source.width}×{source.height} px, {name}, {source.pixel_size[0]:g}{unit} pixels"


def _open_layer(out: Path, layer_name: str, source):
    from ..layers.avalanche_layer import create_avalanche_layer
    from ..layers.crs import crs_from

    raster_crs = crs_from(source.crs_wkt)
    layer = create_avalanche_layer(str(out), raster_crs if raster_crs.isValid() else None, layer_name)
    layer_crs = crs_from(layer.crs())
    if raster_crs.isValid() and not layer_crs.isValid():
        raise InputError(f"The layer '{layer_name}' in '{out.name}' has no CRS, but the raster is in "
                         f"{raster_crs.authid() or 'a map CRS'}; write to another GeoPackage or --layer-name.")
    if layer_crs.isValid() and not raster_crs.isValid():
        raise InputError(f"The raster '{source.name}' has no georeference (pixel coordinates), but the layer "
                         f"'{layer_name}' in '{out.name}' is in {layer_crs.authid() or 'a map CRS'}; write to "
                         "another GeoPackage or --layer-name.")
    return layer


def run(args) -> int:
    from ..engine.click_file import read_click_file
    from ..engine.raster_window import RasterSource

    started = time.monotonic()
    check_options(args)
    source = RasterSource.open(args.raster)
    objects = read_click_file(args.clicks, source)
    out = check_output(args.out)
    checkpoint = resolve_checkpoint(args.checkpoint)
    device = check_device(args.device, args.threads)

    from .headless import headless_qgis
    failure = None
    created = not out.exists()
    with headless_qgis():
        try:
            layer = _open_layer(out, args.layer_name, source)
            try:
                return _segment_and_write(args, source, objects, out, layer, checkpoint, device, started)
            finally:
                del layer
        except BaseException as exc:
            failure = _detached(exc, args.debug)
    if created:
        _remove_if_empty(out)
    raise failure


def _remove_if_empty(path: Path) -> None:
    """Delete a GeoPackage this run created but wrote no feature to (the run failed).  Read with
    sqlite3: after exitQgis GDAL has no drivers left."""
    import sqlite3
    from contextlib import closing

    if not path.is_file():
        return
    try:
        with closing(sqlite3.connect(str(path))) as db:
            tables = [row[0] for row in db.execute("SELECT table_name FROM gpkg_contents")]
            empty = all(db.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] == 0 for t in tables)
    except sqlite3.Error:
        return
    if empty:
        for suffix in ("", "-wal", "-shm", "-journal"):
            try:
                os.remove(f"{path}{suffix}")
            except OSError:
                pass


def _detached(exc: BaseException, debug: bool) -> BaseException:
    """``exc`` without traceback or context: their frames hold QGIS layers, which must be freed before
    QGIS exits (a layer freed after exitQgis crashes the interpreter)."""
    if debug and not isinstance(exc, (ValueError, OSError, KeyboardInterrupt)):
        import traceback
        traceback.print_exc()
        exc.traceback_printed = True
    exc.__traceback__ = exc.__context__ = exc.__cause__ = None
    exc.__suppress_context__ = True
    return exc


def _segment_and_write(args, source, objects, out, layer, checkpoint, device, started) -> int:
    from ..layers.avalanche_layer import add_finished, area_units
    from ..engine.errors import LayerError
    from ..engine.session import DigitisingSession

    t0 = time.monotonic()
    predictor = make_predictor(checkpoint, device, args.threshold)
    n = len(objects)
    print(f"Model {Path(checkpoint).stem} on {device} (loaded in {time.monotonic() - t0:.1f} s); raster "
          f"{source.name} ({_describe_raster(source)}); {_plural(n, 'object')}.", flush=True)
    session = DigitisingSession(source, predictor, max_side=args.max_side, min_area=args.min_area,
                                simplify=args.simplify)
    finished, skipped = [], []
    t_start = time.monotonic()
    for obj_no, clicks in enumerate(objects, 1):
        t0 = time.monotonic()
        try:
            result = segment_object(session, obj_no, clicks, args.min_area, args.simplify, args.threshold)
        except ValueError as exc:  # InputError, RasterError from the session
            if not args.keep_going:
                raise InputError(f"{_one_line(exc).rstrip('.')}; nothing was written.") from None
            sys.stderr.write(f"warning: skipped: {_one_line(exc)}\n")
            skipped.append(obj_no)
            continue
        finished.append((obj_no, clicks, result))
        parts = len(result.polygons_wkt)
        print(f"[{obj_no}/{n}] object {obj_no} segmented: {_plural(len(clicks), 'click')}, "
              f"{_plural(parts, 'polygon')} ({time.monotonic() - t0:.1f} s{_time_left(t_start, obj_no, n)})",
              flush=True)
    session.discard()
    if not finished:
        raise InputError(f"No object could be segmented ({n} skipped); nothing was written.")

    area_unit = area_units(layer)
    length_unit = "m" if area_unit == "m²" else "px"
    before = layer.featureCount()
    ids = []
    for written, (obj_no, clicks, result) in enumerate(finished):
        try:
            fid = add_finished(layer, result)
        except LayerError as exc:
            raise InputError(f"{_one_line(exc).rstrip('.')} ({written} of {len(finished)} objects had been "
                             "written before).") from None
        feature = layer.getFeature(fid)
        ids.append(feature["id"])
        print(f"object {obj_no} -> id {feature['id']}: {feature['area_m2']:.1f} {area_unit}, perimeter "
              f"{feature['perimeter_m']:.1f} {length_unit}, {_plural(len(clicks), 'click')} ({result.n_pos} positive, "
              f"{result.n_neg} negative)", flush=True)
    total = layer.featureCount()
    appended = f", after {before} already there" if before else ""
    print(f"Wrote {_plural(len(finished), 'avalanche')} to {out} (layer "
          f"'{args.layer_name}'{appended}; {total} in all) in {time.monotonic() - started:.1f} s."
          + (f" Skipped objects: {', '.join(map(str, skipped))}." if skipped else ""), flush=True)
    return EXIT_SKIPPED if skipped else EXIT_OK


def _time_left(t_start: float, done: int, total: int) -> str:
    """', about 3 min left' from the mean time per object so far (empty when done or short)."""
    left = (time.monotonic() - t_start) / done * (total - done)
    if done == total or left < 10:
        return ""
    return f", about {left:.0f} s left" if left < 120 else f", about {left / 60:.0f} min left"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _one_line(text) -> str:
    return " ".join(str(text).split())


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    # torch's OpenMP threads sleep instead of spinning while they wait: on a CPU shared with other work
    # (QGIS, a training run) spinning made each click 1.5x slower; takes effect if torch is not loaded yet
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from osgeo import gdal

    gdal.PushErrorHandler("CPLQuietErrorHandler")  # GDAL's complaints reach the user as our one line
    try:
        return run(args)
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted; nothing more was written.\n")
        return EXIT_INTERRUPTED
    except (ValueError, OSError) as exc:  # InputError, RasterError, LayerError, CheckpointError, ...
        sys.stderr.write(f"error: {_one_line(exc)}\n")
        return EXIT_BAD_INPUT
    except Exception as exc:  # a bug, not bad input: still one line unless --debug
        if args.debug:
            if not getattr(exc, "traceback_printed", False):
                import traceback
                traceback.print_exc()
            return EXIT_BUG
        sys.stderr.write(f"error: unexpected failure ({type(exc).__name__}: {_one_line(exc)}); "
                         "rerun with --debug for details.\n")
        return EXIT_BUG
    finally:
        gdal.PopErrorHandler()


if __name__ == "__main__":
    sys.exit(main())
