"""Segment avalanches from given clicks into a GeoPackage, headless (no display, no QGIS window).

    python -m avalanche_iseg_plugin.segment --raster ORTHO.tif --clicks CLICKS.json --out AVALANCHES.gpkg

Every object of the clicks file runs through ``engine.avalanche_engine.segment_object`` with the real
model (the same session, predictor and empty-mask error as the map tool and the Processing algorithm)
and becomes one MultiPolygon feature of the avalanche layer (created if missing, appended to otherwise)
with all its attributes.  All objects are segmented before the GeoPackage is created or opened: a bad
click or an empty mask writes nothing and leaves no new file (unless --keep-going).  Bad input: one
line on stderr, exit code 2.  Options and their checks: ``cli.segment_options``.  See
docs/segment_cli.md.
"""
from __future__ import annotations

import signal
import sys
import threading
import time
from pathlib import Path

from core_model.openmp import passive_openmp

from ..engine.errors import AvalancheError, EmptyMaskError, LayerError
from .failures import bad_input_types, report_failure
from .failures import one_line as _one_line  # noqa: F401 - also used by cli/webcam.py
from .segment_options import (EXIT_BAD_INPUT, EXIT_BUG, EXIT_INTERRUPTED, EXIT_OK, EXIT_SKIPPED,  # noqa: F401
                              EXIT_TERMINATED,
                              PROG, InputError, build_parser, check_device, check_options, check_output,
                              model_choice, resolve_checkpoint)


# -- the work ----------------------------------------------------------------------------------------
def make_predictor(checkpoint: Path, device: str, threshold: float, brs_mode: str = "NoBRS", **settings):
    """The real predictor, made as the plugin makes it, with the command line's wording (a name of its own
    so that tests can put a fake in its place); `settings`: the model choice's (settings=, overrides=)."""
    from ..engine import predictor_loader

    return predictor_loader.make_predictor(str(checkpoint), device, threshold, brs_mode, command_line=True,
                                           **settings)


def segment_one(session, obj_no: int, clicks, min_area, simplify, threshold):
    """Run the clicks of one object; its FinishedObject, or InputError naming the object (and the click at
    fault for an empty mask)."""
    from ..engine.avalanche_engine import segment_object

    try:
        return segment_object(session, clicks, min_area=min_area, simplify=simplify)
    except EmptyMaskError as exc:
        hint = f", or lower --threshold (now {threshold:g})" if exc.is_positive else ""
        raise InputError(f"{exc.sentence(f'object {obj_no}').rstrip('.')}{hint}.") from None
    except AvalancheError as exc:  # SessionError (nothing left after dropping specks), RasterError
        raise InputError(f"Object {obj_no}: {exc}") from None


def _describe_raster(source) -> str:
    if not source.is_georeferenced:
        return f"{source.width}×{source.height} px, no georeference (pixel units)"
    if not source.crs_wkt:
        return (f"{source.width}×{source.height} px, a geotransform but no CRS: areas and lengths are in its map "
                f"units (units 'u'), {source.grid.pixel_size[0]:g} map units pixels; give the file its CRS (gdal_edit.py "
                "-a_srs EPSG:xxxx) to measure in metres")
    from qgis.core import QgsUnitTypes

    from ..layers.crs import crs_from
    crs = crs_from(source.crs_wkt)
    name = (crs.authid() or crs.description() or "CRS without EPSG code") if crs.isValid() else "no CRS"
    unit = {QgsUnitTypes.DistanceMeters: " m", QgsUnitTypes.DistanceDegrees: "°"}.get(crs.mapUnits(), " map units")
    return f"{source.width}×{source.height} px, {name}, {source.grid.pixel_size[0]:g}{unit} pixels"


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
        raise InputError(f"The raster '{source.name}' has no CRS (pixel or local map coordinates), but the layer "
                         f"'{layer_name}' in '{out.name}' is in {layer_crs.authid() or 'a map CRS'}; write to "
                         "another GeoPackage or --layer-name.")
    return layer


def run(args) -> int:
    from ..engine.click_file import read_click_file
    from ..engine.raster_window import RasterSource

    started = time.monotonic()
    check_options(args)
    source = RasterSource.open(args.raster)
    args.raster_is_georeferenced = source.is_georeferenced
    objects = read_click_file(args.clicks, source)
    out = check_output(args.out)
    args.model_choice = model_choice(args)   # the checkpoint (or catalogue name), preset and settings
    checkpoint = resolve_checkpoint(Path(args.model_choice.checkpoint) if args.checkpoint is not None else None)
    device = check_device(args.device, args.threads)

    from .headless import headless_qgis
    created_here = False
    with headless_qgis():
        try:
            # segment everything first: the GeoPackage is created (or opened) only when there is
            # something to write, so a run that fails here leaves no file behind
            finished, skipped = _segment_all(args, source, objects, checkpoint, device)
            created_here = not out.exists()
            layer = _open_layer(out, args.layer_name, source)
            try:
                return _write(args, out, layer, finished, skipped, started)
            finally:
                del layer
        except BaseException as exc:
            failure = _detached(exc, args.debug)
        if created_here:  # failed or interrupted (SIGINT, SIGTERM) before any feature was written
            import gc

            from ..layers.geopackage_files import discard_if_empty
            gc.collect()  # the layers the failure held are closed first
            discard_if_empty(str(out))
    raise failure


def _detached(exc: BaseException, debug: bool) -> BaseException:
    """``exc`` without traceback or context: their frames hold QGIS layers, which must be freed before
    QGIS exits (a layer freed after exitQgis crashes the interpreter)."""
    if debug and not isinstance(exc, bad_input_types() + (KeyboardInterrupt,)):
        import traceback
        traceback.print_exc()
        exc.traceback_printed = True
    exc.__traceback__ = exc.__context__ = exc.__cause__ = None
    exc.__suppress_context__ = True
    return exc


def _segment_all(args, source, objects, checkpoint, device):
    """([(obj_no, clicks, FinishedObject), ...], skipped object numbers); prints one line per object."""
    from ..engine.session import DigitisingSession

    t0 = time.monotonic()
    # the refinement mode only when chosen: replacements of the three-argument kind keep working
    predictor = make_predictor(checkpoint, device, args.threshold,
                               **({} if args.brs == "NoBRS" else {"brs_mode": args.brs}),
                               **({} if args.engine == "auto" else {"engine": args.engine}),
                               **args.model_choice.factory_kwargs())
    n = len(objects)
    refinement = "" if args.brs == "NoBRS" else f" with {args.brs}"
    if args.model_choice.describe():
        refinement += f" ({args.model_choice.describe()}, threshold {args.threshold:g})"
    print(f"Model {Path(checkpoint).stem} on {device}{refinement} (loaded in {time.monotonic() - t0:.1f} s); raster "
          f"{source.name} ({_describe_raster(source)}); {_plural(n, 'object')}.", flush=True)
    session = DigitisingSession(source, predictor, max_side=args.max_side, min_area=args.min_area,
                                simplify=args.simplify)
    finished, skipped = [], []
    t_start = time.monotonic()
    for obj_no, clicks in enumerate(objects, 1):
        t0 = time.monotonic()
        try:
            result = segment_one(session, obj_no, clicks, args.min_area, args.simplify, args.threshold)
        except InputError as exc:
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
    return finished, skipped


def _write(args, out, layer, finished, skipped, started) -> int:
    from ..engine.avalanche_schema import FIELDS
    from ..layers.avalanche_layer import add_finished
    from ..layers.measure import area_units

    # the schema is checked before anything is written: a foreign layer gets only the fields it has
    names = set(layer.fields().names())
    missing = [spec.name for spec in FIELDS if spec.name not in names]
    if missing:
        print(f"The layer '{args.layer_name}' lacks the field{'s' if len(missing) > 1 else ''} "
              f"{', '.join(missing)} of the avalanche schema; only the fields it has are filled.", flush=True)
    area_unit = area_units(layer, georeferenced=source_is_georeferenced(args))
    length_unit = {"m²": "m", "pixel²": "px"}.get(area_unit, "map units")
    before = layer.featureCount()
    for written, (obj_no, clicks, result) in enumerate(finished):
        try:
            fid = add_finished(layer, result, _terrain(args, obj_no, result))
        except LayerError as exc:
            raise InputError(f"{_one_line(exc).rstrip('.')} ({written} of {len(finished)} objects had been "
                             "written before).") from None
        print(_written_line(obj_no, layer.getFeature(fid), names, area_unit, length_unit, clicks, result),
              flush=True)
    total = layer.featureCount()
    appended = f", after {before} already there" if before else ""
    print(f"Wrote {_plural(len(finished), 'avalanche')} to {out} (layer "
          f"'{args.layer_name}'{appended}; {total} in all) in {time.monotonic() - started:.1f} s."
          + (f" Skipped objects: {', '.join(map(str, skipped))}." if skipped else ""), flush=True)
    return EXIT_SKIPPED if skipped else EXIT_OK


def _terrain(args, obj_no: int, result) -> dict:
    """--dem: the terrain fields of one object (engine.terrain_attributes); a warning where it has none."""
    if getattr(args, "dem", None) is None:
        return {}
    from ..engine.terrain_attributes import terrain_attributes

    terrain = terrain_attributes(str(args.dem), result.polygons_wkt, result.raster_crs_wkt)
    if terrain.problem:
        sys.stderr.write(f"warning: object {obj_no}: {terrain.problem}\n")
    return terrain.values


def source_is_georeferenced(args) -> bool:
    """Whether the run's raster has a geotransform (set by ``run``; a photo has none)."""
    return bool(getattr(args, "raster_is_georeferenced", False))


def _number(feature, name: str, names, unit: str) -> str | None:
    if name not in names:
        return None
    value = feature[name]
    return f"{value:.1f} {unit}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "no value"


def _written_line(obj_no, feature, names, area_unit, length_unit, clicks, result) -> str:
    """'object 1 -> id 3: 12.0 m², perimeter 14.0 m, ...', with only the fields the layer has."""
    ident = f"id {feature['id']}" if "id" in names else f"feature {feature.id()}"
    area, perimeter = _number(feature, "area_m2", names, area_unit), _number(feature, "perimeter_m", names, length_unit)
    sizes = "".join(part for part in (f" {area}," if area else "", f" perimeter {perimeter}," if perimeter else ""))
    terrain = ""
    if "elev_min_m" in names and isinstance(feature["elev_min_m"], float):
        terrain = (f", {feature['elev_min_m']:.0f}–{feature['elev_max_m']:.0f} m, slope {feature['slope_mean_deg']:.1f}°"
                   + (f", aspect {feature['aspect_deg']:.0f}°" if isinstance(feature["aspect_deg"], float) else ""))
    return (f"object {obj_no} -> {ident}:{sizes} {_plural(len(clicks), 'click')} ({result.n_pos} positive, "
            f"{result.n_neg} negative){terrain}")


def _time_left(t_start: float, done: int, total: int) -> str:
    """', about 3 min left' from the mean time per object so far (empty when done or short)."""
    left = (time.monotonic() - t_start) / done * (total - done)
    if done == total or left < 10:
        return ""
    return f", about {left:.0f} s left" if left < 120 else f", about {left / 60:.0f} min left"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    passive_openmp()   # before torch loads (core_model.openmp)
    from osgeo import gdal

    gdal.PushErrorHandler("CPLQuietErrorHandler")  # GDAL's complaints reach the user as our one line
    from core_model.warning_lines import warnings_as_lines  # standard library only
    _terminations.clear()
    previous = _terminate_like_interrupt()
    try:
        with warnings_as_lines():  # library warnings: one line each, none after an error
            return run(args)
    except KeyboardInterrupt:
        terminated = bool(_terminations)
        sys.stderr.write(f"error: {'terminated' if terminated else 'interrupted'}; nothing more was written.\n")
        return EXIT_TERMINATED if terminated else EXIT_INTERRUPTED
    except Exception as exc:
        return report_failure(exc, args.debug)
    finally:
        gdal.PopErrorHandler()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


#: SIGTERMs received by this run (a service manager, ``kill``, a closing terminal)
_terminations: list[int] = []


def _raise_terminated(signum, _frame):
    """SIGTERM is handled like Ctrl+C (KeyboardInterrupt), so that the run stops cleanly and removes a
    GeoPackage it created but never filled; ``_terminations`` tells the two apart for the exit code."""
    _terminations.append(signum)
    raise KeyboardInterrupt()


def _terminate_like_interrupt():
    """Install the SIGTERM handler (main thread only); the previous handler, or None."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGTERM"):
        return None
    return signal.signal(signal.SIGTERM, _raise_terminated)


if __name__ == "__main__":
    sys.exit(main())
