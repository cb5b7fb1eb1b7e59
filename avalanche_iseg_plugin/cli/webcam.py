"""Webcam photos onto the map, headless (no QGIS needed): fit a camera on a DEM, project outlines.

    python -m avalanche_iseg_plugin.webcam fit --photo PHOTO --dem DEM --gcps GCPS.csv --out CAMERA.json
    python -m avalanche_iseg_plugin.webcam project --camera CAMERA.json --dem DEM \\
        (--mask MASK.png | --clicks CLICKS.json [--checkpoint CKPT]) --out OUT.gpkg

``fit`` prints each GCP's residual (px) and leave-one-out ground error, the RMSE, and writes the
camera file.  ``project`` writes one feature per object to a GeoPackage in the DEM's CRS (a mask is
one object, however many parts it has; a clicks file may give several).  Bad input: one line on
stderr, exit code 2.  See docs/webcam.md.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from core_model.openmp import passive_openmp

from .failures import one_line as _one_line, report_failure
from .segment import _plural
from .segment_options import EXIT_INTERRUPTED, EXIT_OK, InputError, _Parser, add_model_choice_arguments, model_choice

PROG = "python -m avalanche_iseg_plugin.webcam"
EPILOG = """\
GCPS.csv: header col,row,x,y,z; col/row in photo pixels ((0, 0) the photo's top-left corner, row down,
a pixel's centre at +0.5, as QGIS measures a photo), x/y in the DEM's CRS, z empty = from the DEM.
At least 4 GCPs with --focal-px, 6 otherwise; more allow lens distortion to be fitted.
Exit codes: 0 done, 2 bad input (one line on stderr), 1 unexpected failure.
Example:
  %(prog)s fit --photo cam.jpg --dem dem.tif --gcps gcps.csv --out cam.json
  %(prog)s project --camera cam.json --dem dem.tif --mask outline.png --out avalanches.gpkg"""


def _position(text: str):
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not X,Y or X,Y,Z") from None
    if len(values) not in (2, 3):
        raise argparse.ArgumentTypeError(f"'{text}' is not X,Y or X,Y,Z")
    return tuple(values)


def build_parser() -> argparse.ArgumentParser:
    from ..engine.webcam.camera_fit import LENS_MODELS, LOSSES

    p = _Parser(prog=PROG, description="Fit a webcam's camera on a DEM from ground control points, and "
                "project photo outlines onto the terrain.", epilog=EPILOG % {"prog": PROG},
                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    fit = sub.add_parser("fit", help="fit the camera from GCPs and write the camera file")
    fit.add_argument("--photo", required=True, type=Path, help="the webcam photo (its size is the camera's)")
    fit.add_argument("--dem", required=True, type=Path, help="terrain model (GeoTIFF, ESRI ASCII grid, ...)")
    fit.add_argument("--gcps", required=True, type=Path, metavar="GCPS.csv", help="ground control points (CSV)")
    fit.add_argument("--out", required=True, type=Path, metavar="CAMERA.json", help="camera file to write")
    fit.add_argument("--focal-px", type=float, default=None, metavar="F", help="known focal length (px): not fitted")
    fit.add_argument("--lens", choices=("auto",) + tuple(LENS_MODELS), default="auto",
                     help="lens terms to fit: pinhole, k1, k1k2, full (k1, k2, principal point); auto (default) "
                          "picks by leave-one-out error among those the GCP count allows")
    fit.add_argument("--loss", choices=LOSSES, default="linear",
                     help="least-squares loss; soft_l1/huber/cauchy resist a wrong GCP (default linear)")
    fit.add_argument("--camera-position", type=_position, default=None, metavar="X,Y[,Z]",
                     help="approximate camera position in the DEM's CRS, as a second start for the fit")
    proj = sub.add_parser("project", help="project a photo mask or clicked outlines onto the terrain")
    proj.add_argument("--camera", required=True, type=Path, metavar="CAMERA.json", help="camera file from fit")
    proj.add_argument("--dem", required=True, type=Path, help="terrain model in the camera's CRS")
    source = proj.add_mutually_exclusive_group(required=True)
    source.add_argument("--mask", type=Path, metavar="MASK.png", help="mask of the photo's size (non-zero = avalanche)")
    source.add_argument("--clicks", type=Path, metavar="CLICKS.json",
                        help="clicks on the photo (engine/click_file.py's format, photo pixels), one object each")
    proj.add_argument("--out", required=True, type=Path, metavar="OUT.gpkg", help="GeoPackage (created or appended to)")
    proj.add_argument("--photo", type=Path, default=None,
                      help="the photo (needed with --clicks; default: the photo named in the camera file)")
    add_model_choice_arguments(proj)    # --checkpoint NAME|FILE, --threshold, --preset and single settings
    proj.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where the model runs (default cpu)")
    proj.add_argument("--resolution", type=float, default=None, metavar="R",
                      help="ground grid resolution in map units (default: the DEM's cell size)")
    proj.add_argument("--min-area", type=float, default=None, metavar="A",
                      help="drop parts and fill holes smaller than this, map units² (default: 2 grid cells)")
    proj.add_argument("--simplify", type=float, default=0.0, metavar="TOL", help="simplification tolerance, map units")
    proj.add_argument("--layer-name", default="avalanches", metavar="NAME", help="layer in the GeoPackage")
    for sp in (fit, proj):
        sp.add_argument("--debug", action="store_true", help="show tracebacks of unexpected failures")
    return p


# -- fit ---------------------------------------------------------------------------------------------
def _fmt(value: float, unit: str) -> str:
    return "miss" if value != value else f"{value:.1f} {unit}"


def run_fit(args) -> int:
    from ..engine.webcam.camera_file import camera_fit_record, save_camera_file
    from ..engine.webcam.camera_fit import FitOptions, fit_camera
    from ..engine.webcam.dem import Dem
    from ..engine.webcam.gcp_file import read_gcp_file
    from ..engine.webcam.photo_masks import image_size_of

    started = time.monotonic()
    size = image_size_of(args.photo)
    dem = Dem.open(args.dem)
    gcps = read_gcp_file(args.gcps)
    out = Path(os.path.abspath(args.out))
    if not out.parent.is_dir():
        raise InputError(f"Cannot write '{out}': the folder '{out.parent}' does not exist.")
    options = FitOptions(focal_px=args.focal_px, lens=args.lens, loss=args.loss, position=args.camera_position)
    fit = fit_camera(gcps, dem, size, options)
    cam = fit.camera
    print(f"{_plural(len(fit.gcps), 'GCP')} on photo {args.photo.name} ({size[0]}×{size[1]} px) and DEM {dem.name}.")
    print("  GCP     col      row   residual  LOO residual  LOO ground error")
    for i in range(len(fit.gcps)):
        c, r = fit.gcps.pixels[i]
        print(f"  {i + 1:3d} {c:8.1f} {r:8.1f}  {fit.residuals_px[i]:6.2f} px  {fit.loo_residuals_px[i]:7.2f} px"
              f"  {_fmt(fit.loo_ground_error[i], 'm'):>12}")
    finite = fit.loo_ground_error[fit.loo_ground_error == fit.loo_ground_error]
    loo = (f"median {float(sorted(finite)[len(finite) // 2]):.1f} m, max {float(finite.max()):.1f} m"
           if finite.size else "every ray missed the DEM")
    misses = len(fit.gcps) - finite.size
    print(f"RMSE {fit.rmse_px:.2f} px; leave-one-out ground error {loo}"
          + (f" ({misses} rays missed the DEM)" if misses else "") + ".")
    print(f"Camera ({fit.lens} lens): position {cam.position[0]:.1f}, {cam.position[1]:.1f}, {cam.position[2]:.1f}; "
          f"heading {cam.heading_deg:.2f}°, pitch {cam.pitch_deg:.2f}°, roll {cam.roll_deg:.2f}°; focal "
          f"{cam.focal_px:.1f} px; principal point {cam.principal_point[0]:.1f}, {cam.principal_point[1]:.1f}; "
          f"k1 {cam.k1:.4f}, k2 {cam.k2:.4f}.")
    record = camera_fit_record(fit, dem.crs_wkt, photo=_relative(args.photo, out.parent),
                               dem=_relative(args.dem, out.parent))
    save_camera_file(out, record)
    print(f"Wrote {out} in {time.monotonic() - started:.1f} s.")
    return EXIT_OK


def _relative(path: Path, folder: Path) -> str:
    try:
        return os.path.relpath(os.path.abspath(path), folder)
    except ValueError:  # another drive on Windows
        return os.path.abspath(path)


# -- project -----------------------------------------------------------------------------------------
def _photo_for_clicks(args, record) -> Path:
    if args.photo is not None:
        return args.photo
    named = record.extra.get("photo")
    if not named:
        raise InputError("--clicks needs the photo: pass --photo PHOTO (the camera file names none).")
    photo = Path(named) if os.path.isabs(named) else Path(os.path.dirname(os.path.abspath(args.camera))) / named
    if not photo.is_file():
        raise InputError(f"The photo '{photo}' named in the camera file does not exist; pass --photo PHOTO.")
    return photo


def _objects_from_clicks(args, record, camera):
    """[(mask, n_pos, n_neg, model, threshold)] from the clicks, segmented on the photo."""
    from ..engine.click_file import read_click_file
    from ..engine.predictor_loader import PredictorUnavailable, make_predictor
    from ..engine.raster_window import RasterSource
    from ..engine.session import DigitisingSession, model_name
    from ..engine.webcam.camera_file import check_image_size
    from ..engine.webcam.photo_masks import polygons_to_photo_mask
    from .segment import segment_one
    from .segment_options import resolve_checkpoint

    photo = _photo_for_clicks(args, record)
    source = RasterSource.open(photo)
    check_image_size(camera, (source.width, source.height), f"The photo '{photo.name}'", f"'{args.camera.name}'")
    objects = read_click_file(args.clicks, source)
    choice = args.model_choice
    checkpoint = resolve_checkpoint(Path(choice.checkpoint) if args.checkpoint is not None else None)
    try:
        predictor = make_predictor(str(checkpoint), args.device, args.threshold, **choice.factory_kwargs(),
                                   **({} if args.engine == "auto" else {"engine": args.engine}))
    except PredictorUnavailable as exc:
        raise InputError(str(exc)) from None
    session = DigitisingSession(source, predictor)
    out = []
    for obj_no, clicks in enumerate(objects, 1):
        result = segment_one(session, obj_no, clicks, None, 0.0, args.threshold)
        mask = polygons_to_photo_mask(result.polygons_wkt, camera.image_size)
        out.append((mask, result.n_pos, result.n_neg, model_name(predictor), result.threshold))
    session.discard()
    return photo.name, out


def run_project(args) -> int:
    from ..engine.webcam.camera_file import check_image_size, load_camera_file, same_crs
    from ..engine.webcam.dem import Dem
    from ..engine.webcam.photo_masks import read_mask
    from ..engine.webcam.projected_layer import WebcamFeature, write_webcam_features
    from ..engine.webcam.terrain_projection import TerrainProjector
    from .segment_options import check_output

    started = time.monotonic()
    for name in ("resolution", "min_area"):
        value = getattr(args, name)
        if value is not None and not value > 0:
            raise InputError(f"--{name.replace('_', '-')} must be positive, not {value:g}.")
    if args.simplify < 0:
        raise InputError(f"--simplify cannot be negative ({args.simplify:g}).")
    if args.threshold is not None and not 0.0 < args.threshold < 1.0:
        raise InputError(f"--threshold must be between 0 and 1 (exclusive), not {args.threshold:g}.")
    args.model_choice = model_choice(args)
    record = load_camera_file(args.camera)
    camera = record.camera
    dem = Dem.open(args.dem)
    if record.crs_wkt and dem.crs_wkt and not same_crs(record.crs_wkt, dem.crs_wkt):
        raise InputError(f"The DEM '{args.dem.name}' is in another CRS than the camera '{args.camera.name}'; use the "
                         "DEM the camera was fitted on (or one in its CRS).")
    out = check_output(args.out)
    if args.mask is not None:
        mask = read_mask(args.mask)
        check_image_size(camera, (mask.shape[1], mask.shape[0]), f"The mask '{args.mask.name}'", f"'{args.camera.name}'")
        if not mask.any():
            raise InputError(f"The mask '{args.mask.name}' is empty (every pixel is 0); nothing to project.")
        photo_name = args.photo.name if args.photo is not None else args.mask.name
        objects = [(mask, None, None, None, None)]
    else:
        photo_name, objects = _objects_from_clicks(args, record, camera)
    projector = TerrainProjector(camera, dem, args.resolution)
    features = []
    for obj_no, (mask, n_pos, n_neg, model, threshold) in enumerate(objects, 1):
        projected = projector.project(mask, min_area=args.min_area, simplify=args.simplify)
        if not projected.polygons_wkt:
            raise InputError(f"Object {obj_no} shows no visible terrain ({projected.n_sky_px} of its "
                             f"{projected.n_mask_px} mask pixels hit no terrain); nothing was written.")
        features.append(WebcamFeature(projected, photo_name, args.camera.name, n_pos, n_neg, model, threshold))
    ids = write_webcam_features(out, features, dem.crs_wkt or record.crs_wkt, args.layer_name)
    for obj_no, (fid, item) in enumerate(zip(ids, features), 1):
        p = item.projected
        print(f"object {obj_no} -> id {fid}: {p.area:.0f} m² in {_plural(len(p.polygons_wkt), 'polygon')}; "
              f"{p.n_mask_px} mask px, {p.n_sky_px} hit no terrain (visible fraction {p.visible_fraction:.3f}); "
              f"mean distance {p.mean_distance:.0f} m; elevation {p.z_min:.0f}-{p.z_max:.0f} m")
    print(f"Wrote {_plural(len(ids), 'object')} to {out} (layer '{args.layer_name}', ground grid "
          f"{projector.resolution:g} m) in {time.monotonic() - started:.1f} s.")
    return EXIT_OK


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    passive_openmp()
    from osgeo import gdal

    gdal.PushErrorHandler("CPLQuietErrorHandler")
    try:
        return run_fit(args) if args.command == "fit" else run_project(args)
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted.\n")
        return EXIT_INTERRUPTED
    except Exception as exc:   # the plugin's own errors, CheckpointError, OSError: one line, exit 2
        return report_failure(exc, args.debug)
    finally:
        gdal.PopErrorHandler()


if __name__ == "__main__":
    sys.exit(main())
