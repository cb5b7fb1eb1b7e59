"""The JSON camera file of a webcam: written by ``fit``, read for every later frame of that webcam.

::

    {"format": "avalanche-iseg-camera", "version": 1,
     "position": [x, y, z], "heading_deg": h, "pitch_deg": p, "roll_deg": r, "focal_px": f,
     "principal_point": [col, row], "k1": 0.0, "k2": 0.0, "image_size": [width, height],
     "crs": "<WKT of the DEM's CRS, empty when the DEM has none>",
     "rmse_px": 0.8, "residuals_px": [...], "lens": "k1",
     "gcps": [{"col": c, "row": r, "x": x, "y": y, "z": z, "z_from_dem": true, "residual_px": 0.7,
               "loo_ground_error": 3.1}, ...],
     "loo_ground_error": [...], "photo": "frame.jpg", "dem": "dem.tif"}

Angles and pixel conventions: see camera.py.  ``load_camera_file`` checks every value and raises
``CameraError`` with one sentence naming the file and the key at fault; ``check_image_size`` refuses a
photo or mask of another size.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import CameraError
from .camera import Camera

FORMAT = "avalanche-iseg-camera"
VERSION = 1


@dataclass
class CameraRecord:
    camera: Camera
    crs_wkt: str = ""
    rmse_px: float | None = None
    residuals_px: list = field(default_factory=list)
    extra: dict = field(default_factory=dict)  # gcps, loo errors, photo, dem, lens
    path: Path | None = None


def _finite(v) -> float | None:
    return float(v) if v is not None and math.isfinite(float(v)) else None


def camera_fit_record(fit, crs_wkt: str, photo: str = "", dem: str = "") -> CameraRecord:
    """A record of a CameraFit (camera_fit.py) for ``save_camera_file``."""
    gcps = []
    for i in range(len(fit.gcps)):
        (c, r), (x, y, z) = fit.gcps.pixels[i], fit.gcps.world[i]
        gcps.append({"col": float(c), "row": float(r), "x": float(x), "y": float(y), "z": float(z),
                     "z_from_dem": bool(fit.gcps.z_from_dem[i]), "residual_px": float(fit.residuals_px[i]),
                     "loo_residual_px": float(fit.loo_residuals_px[i]),
                     "loo_ground_error": _finite(fit.loo_ground_error[i])})
    extra = {"lens": fit.lens, "gcps": gcps,
             "loo_ground_error": [_finite(v) for v in fit.loo_ground_error],
             "lens_loo_rms_px": fit.lens_scores, "photo": photo, "dem": dem}
    return CameraRecord(fit.camera, crs_wkt, fit.rmse_px, [float(v) for v in fit.residuals_px], extra)


def save_camera_file(path, record: CameraRecord) -> Path:
    cam = record.camera
    data = {"format": FORMAT, "version": VERSION,
            "position": [float(v) for v in cam.position], "heading_deg": float(cam.heading_deg),
            "pitch_deg": float(cam.pitch_deg), "roll_deg": float(cam.roll_deg), "focal_px": float(cam.focal_px),
            "principal_point": [float(v) for v in cam.principal_point], "k1": float(cam.k1), "k2": float(cam.k2),
            "image_size": [int(cam.image_size[0]), int(cam.image_size[1])], "crs": record.crs_wkt or "",
            "rmse_px": record.rmse_px, "residuals_px": list(record.residuals_px)}
    data.update(record.extra)
    path = Path(path)
    try:
        path.write_text(json.dumps(data, indent=1), encoding="utf-8")
    except OSError as exc:
        raise CameraError(f"Cannot write the camera file '{path}' ({exc.strerror or exc}).") from None
    return path


def _numbers(data: dict, key: str, count: int, name: str) -> list[float]:
    value = data.get(key)
    ok = isinstance(value, list) and len(value) == count and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value)
    if not ok:
        raise CameraError(f"The camera file '{name}' needs \"{key}\" as a list of {count} numbers, not "
                          f"{json.dumps(value)[:60]}.")
    return [float(v) for v in value]


def _number(data: dict, key: str, name: str, default=None) -> float:
    value = data.get(key, default)
    if not (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)):
        raise CameraError(f"The camera file '{name}' needs \"{key}\" as a number, not {json.dumps(value)[:60]}.")
    return float(value)


def camera_from_dict(data, name: str = "camera") -> tuple[Camera, str]:
    """(Camera, CRS WKT) from a camera file's JSON value; CameraError naming the key at fault."""
    if not isinstance(data, dict):
        raise CameraError(f"The camera file '{name}' must hold a JSON object with \"position\", \"heading_deg\", ...")
    if data.get("format", FORMAT) != FORMAT:
        raise CameraError(f"The file '{name}' is not a camera file (its \"format\" is {json.dumps(data['format'])[:40]}).")
    position = _numbers(data, "position", 3, name)
    pp = _numbers(data, "principal_point", 2, name)
    size = _numbers(data, "image_size", 2, name)
    if not all(v.is_integer() and v > 0 for v in size):
        raise CameraError(f"The camera file '{name}' has \"image_size\" {size}; give [width, height] as whole pixels.")
    focal = _number(data, "focal_px", name)
    if focal <= 0:
        raise CameraError(f"The camera file '{name}' has \"focal_px\" {focal:g}; the focal length must be positive.")
    pitch = _number(data, "pitch_deg", name)
    if not -90.0 < pitch < 90.0:
        raise CameraError(f"The camera file '{name}' has \"pitch_deg\" {pitch:g}; it must lie between -90 and 90.")
    crs = data.get("crs", "")
    if not isinstance(crs, str):
        raise CameraError(f"The camera file '{name}' needs \"crs\" as WKT text (or \"\" for none).")
    cam = Camera(position=tuple(position), heading_deg=_number(data, "heading_deg", name), pitch_deg=pitch,
                 roll_deg=_number(data, "roll_deg", name), focal_px=focal, principal_point=tuple(pp),
                 image_size=(int(size[0]), int(size[1])), k1=_number(data, "k1", name, 0.0),
                 k2=_number(data, "k2", name, 0.0))
    return cam, crs


def load_camera_file(path) -> CameraRecord:
    path = Path(path)
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        raise CameraError(f"The camera file '{path}' {what}.")
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise CameraError(f"The camera file '{path}' is not valid JSON ({exc.msg} at line {exc.lineno}).") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CameraError(f"The camera file '{path}' cannot be read as UTF-8 text ({exc}).") from None
    cam, crs = camera_from_dict(data, path.name)
    known = {"format", "version", "position", "heading_deg", "pitch_deg", "roll_deg", "focal_px",
             "principal_point", "k1", "k2", "image_size", "crs", "rmse_px", "residuals_px"}
    rmse = data.get("rmse_px")
    return CameraRecord(cam, crs, float(rmse) if isinstance(rmse, (int, float)) else None,
                        list(data.get("residuals_px") or []), {k: v for k, v in data.items() if k not in known}, path)


def check_image_size(camera: Camera, size, what: str, camera_name: str = "the camera") -> None:
    """CameraError unless a photo or mask (``size`` = (width, height)) is the camera's size."""
    w, h = int(size[0]), int(size[1])
    if (w, h) != tuple(camera.image_size):
        raise CameraError(f"{what} is {w}×{h} px but {camera_name} was fitted on {camera.width}×{camera.height} px "
                          "photos; fit a camera for this image size.")


def same_crs(wkt_a: str, wkt_b: str) -> bool:
    """True when both are empty or both describe the same CRS (OSR's IsSame)."""
    if not wkt_a or not wkt_b:
        return not wkt_a and not wkt_b
    from osgeo import osr

    a, b = osr.SpatialReference(), osr.SpatialReference()
    if a.ImportFromWkt(wkt_a) != 0 or b.ImportFromWkt(wkt_b) != 0:
        return wkt_a == wkt_b
    return bool(a.IsSame(b))

