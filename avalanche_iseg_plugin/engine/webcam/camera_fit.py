"""Fitting a webcam's camera to ground control points on a DEM.

1. Checks (``CameraError``, one sentence): at least 4 GCPs with a known focal length, 6 when it is
   fitted; every GCP inside the photo and on the DEM (heights taken from the DEM where not given);
   neither the photo points nor the ground points (in map view: x, y) on one line.
2. Start: OpenCV's SQPnP + Levenberg-Marquardt refinement (``solvePnP``, ``solvePnPRefineLM``) for 32
   focal lengths from a 150° to a 3° horizontal field of view, keeping the start with the smallest
   reprojection error and every GCP in front of the camera; a camera position the user gives (e.g.
   clicked on the map) is a second start, looking at the GCPs.
3. Fit: ``scipy.optimize.least_squares`` on the reprojection errors (px) over the position, heading,
   pitch, roll and focal length, plus the lens terms of the chosen lens model:

   ``pinhole`` (none), ``k1``, ``k1k2`` (radial distortion), ``full`` (k1, k2 and the principal point).
   Lens terms carry weak priors (k1, k2 ~ 0 ± 0.3; principal point at the photo's centre ± 5 % of its
   longest side), so they move only as far as the GCPs ask and a model is never under-determined.
   ``lens="auto"`` fits every model the number of GCPs allows (2 more GCPs per step: k1 from minimum
   + 2, k1k2 from + 4, full from + 6) and keeps the one that predicts left-out GCPs best (leave-one-out
   reprojection error; a richer model must beat a simpler one by 2 %).  ``loss`` is any of
   least_squares's losses (``soft_l1``, ``huber``, ``cauchy``: robust to a wrong GCP, scale
   ``f_scale_px``).  The camera is kept at least 1 m above the DEM under it (webcams stand close to
   the ground, and the distance along the line of sight is the least certain part of a fit: a
   camera fitted into the slope it stands on would see nothing but that slope).
4. Report: per-GCP residuals (px), RMSE, and a leave-one-out ground error per GCP: the camera refitted
   without GCP i, GCP i's photo ray intersected with the DEM, horizontal distance (map units) to its
   true map position (NaN when the ray misses the DEM).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy.optimize import least_squares

from ..errors import CameraError
from .camera import Camera, angles_of
from .gcp_file import GroundControlPoints

LENS_MODELS = {"pinhole": (), "k1": ("k1",), "k1k2": ("k1", "k2"), "full": ("k1", "k2", "cx", "cy")}
LENS_EXTRA_GCPS = {"pinhole": 0, "k1": 2, "k1k2": 4, "full": 6}
LOSSES = ("linear", "soft_l1", "huber", "cauchy", "arctan")
K_PRIOR_SIGMA = 0.3
PP_PRIOR_FRACTION = 0.05
RICHER_MODEL_GAIN = 0.98
FOV_RANGE_DEG = (150.0, 3.0)
N_FOCAL_STARTS = 32
GROUND_CLEARANCE_M = 1.0  # the fitted camera stays at least this far above the DEM under it ...
BELOW_GROUND_PX_PER_M = 10.0  # ... at a cost of 10 px of reprojection error per metre below


@dataclass
class FitOptions:
    focal_px: float | None = None  # known focal length: not fitted
    lens: str = "auto"
    loss: str = "linear"
    f_scale_px: float = 2.0
    position: tuple | None = None  # a start for the camera position: (x, y) or (x, y, z)


@dataclass
class CameraFit:
    camera: Camera
    gcps: GroundControlPoints  # heights filled from the DEM
    lens: str
    residuals_xy: np.ndarray  # N×2, projected - observed (px)
    loo_ground_error: np.ndarray  # N, map units; NaN: the ray misses the DEM
    loo_residuals_px: np.ndarray  # N, px, the left-out GCP's reprojection error
    lens_scores: dict = field(default_factory=dict)  # lens model -> LOO reprojection RMS (px)

    @property
    def residuals_px(self) -> np.ndarray:
        return np.hypot(self.residuals_xy[:, 0], self.residuals_xy[:, 1])

    @property
    def rmse_px(self) -> float:
        return float(np.sqrt(np.mean(self.residuals_px ** 2)))


# -- checks ------------------------------------------------------------------------------------------
def minimum_gcps(focal_known: bool) -> int:
    return 4 if focal_known else 6


def _is_collinear(points: np.ndarray, tolerance: float) -> bool:
    centred = points - points.mean(axis=0)
    s = np.linalg.svd(centred, compute_uv=False)
    return s[0] == 0 or s[1] / math.sqrt(len(points)) < tolerance or s[1] / s[0] < 0.01


def check_gcps(gcps: GroundControlPoints, image_size, dem, focal_known: bool) -> GroundControlPoints:
    """The GCPs with heights from the DEM, or CameraError naming what is wrong."""
    n, need = len(gcps), minimum_gcps(focal_known)
    if n < need:
        why = "with a known focal length" if focal_known else "when the focal length is fitted (4 with --focal-px)"
        raise CameraError(f"{n} GCP{'s' if n != 1 else ''} given, but a camera needs at least {need} {why}; "
                          "add GCPs spread over the photo.")
    w, h = image_size
    for i, (c, r) in enumerate(gcps.pixels):
        if not (0 <= c <= w and 0 <= r <= h):
            raise CameraError(f"GCP {i + 1} at col {c:g}, row {r:g} is outside the photo ({w}×{h} px).")
    gcps = gcps.with_dem_heights(dem)
    if _is_collinear(gcps.pixels, tolerance=max(2.0, 0.002 * math.hypot(w, h))):
        raise CameraError("The GCPs lie on one line in the photo, which cannot fix the camera; add GCPs off that line.")
    if _is_collinear(gcps.world[:, :2], tolerance=max(1.0, dem.cell_size / 5)):  # in map view
        raise CameraError("The GCPs lie on one line on the ground, which cannot fix the camera; add GCPs off that line.")
    return gcps


# -- parameters <-> camera -------------------------------------------------------------------------
class _Parameters:
    """Which camera values least_squares moves, and the weak priors on the lens terms."""

    def __init__(self, base: Camera, fit_focal: bool, lens: str):
        self.base = base
        self.names = ["x", "y", "z", "heading", "pitch", "roll"] + (["f"] if fit_focal else []) + list(LENS_MODELS[lens])
        w, h = base.image_size
        self.prior = {"k1": (0.0, K_PRIOR_SIGMA), "k2": (0.0, K_PRIOR_SIGMA),
                      "cx": (w / 2.0, PP_PRIOR_FRACTION * max(w, h)), "cy": (h / 2.0, PP_PRIOR_FRACTION * max(w, h))}

    def vector(self, cam: Camera) -> np.ndarray:
        values = {"x": cam.position[0], "y": cam.position[1], "z": cam.position[2], "heading": cam.heading_deg,
                  "pitch": cam.pitch_deg, "roll": cam.roll_deg, "f": cam.focal_px, "k1": cam.k1, "k2": cam.k2,
                  "cx": cam.principal_point[0], "cy": cam.principal_point[1]}
        return np.array([values[n] for n in self.names], dtype=np.float64)

    def camera(self, v: np.ndarray) -> Camera:
        d = dict(zip(self.names, v))
        b = self.base
        return Camera(position=(d.get("x", b.position[0]), d.get("y", b.position[1]), d.get("z", b.position[2])),
                      heading_deg=d.get("heading", b.heading_deg), pitch_deg=d.get("pitch", b.pitch_deg),
                      roll_deg=d.get("roll", b.roll_deg), focal_px=d.get("f", b.focal_px),
                      principal_point=(d.get("cx", b.principal_point[0]), d.get("cy", b.principal_point[1])),
                      image_size=b.image_size, k1=d.get("k1", b.k1), k2=d.get("k2", b.k2))

    def prior_residuals(self, v: np.ndarray) -> np.ndarray:
        out = [(val - self.prior[n][0]) / self.prior[n][1] for n, val in zip(self.names, v) if n in self.prior]
        return np.array(out, dtype=np.float64)


def reprojection_residuals(cam: Camera, gcps: GroundControlPoints) -> np.ndarray:
    """N×2 projected - observed (px); 1e4 px where a GCP is behind the camera."""
    col, row, depth = cam.project(gcps.world)
    res = np.column_stack([col, row]) - gcps.pixels
    res[~(depth > 0)] = 1e4
    return res


def refine(cam: Camera, gcps: GroundControlPoints, fit_focal: bool, lens: str = "pinhole",
           loss: str = "linear", f_scale_px: float = 2.0, dem=None) -> Camera:
    """Least-squares fit of ``cam`` to the GCPs (see the module doc).  With a DEM the camera is kept
    ``GROUND_CLEARANCE_M`` above the terrain under it (a one-sided penalty)."""
    params = _Parameters(cam, fit_focal, lens)

    def residuals(v):
        c = params.camera(v)
        out = [reprojection_residuals(c, gcps).ravel(), params.prior_residuals(v)]
        if dem is not None:
            ground = float(dem.sample(c.position[0], c.position[1]))
            below = ground + GROUND_CLEARANCE_M - c.position[2] if np.isfinite(ground) else 0.0
            out.append(np.array([max(below, 0.0) * BELOW_GROUND_PX_PER_M]))
        return np.concatenate(out)

    v0 = params.vector(cam)
    result = least_squares(residuals, v0, method="trf", loss=loss, f_scale=f_scale_px, x_scale="jac",
                           max_nfev=200 * len(v0))
    fitted = params.camera(result.x)
    return fitted.with_(heading_deg=fitted.heading_deg % 360.0)


# -- start ------------------------------------------------------------------------------------------
def _focal_candidates(image_size, focal_px: float | None) -> np.ndarray:
    if focal_px is not None:
        return np.array([float(focal_px)])
    fov = np.radians(np.geomspace(*FOV_RANGE_DEG, N_FOCAL_STARTS))
    return image_size[0] / 2.0 / np.tan(fov / 2.0)


def _pnp_start(gcps: GroundControlPoints, image_size, focal_px: float) -> Camera | None:
    w, h = image_size
    centre = gcps.world.mean(axis=0)
    obj = np.ascontiguousarray(gcps.world - centre)
    img = np.ascontiguousarray(gcps.pixels)
    k = np.array([[focal_px, 0, w / 2.0], [0, focal_px, h / 2.0], [0, 0, 1]], dtype=np.float64)
    try:
        ok, rvec, tvec = cv2.solvePnP(obj, img, k, None, flags=cv2.SOLVEPNP_SQPNP)
        if not ok:
            return None
        rvec, tvec = cv2.solvePnPRefineLM(obj, img, k, None, rvec, tvec)
    except cv2.error:
        return None
    rot = cv2.Rodrigues(rvec)[0]
    position = -rot.T @ tvec.ravel() + centre
    heading, pitch, roll = angles_of(rot)
    return Camera(tuple(float(v) for v in position), heading, pitch, roll, float(focal_px), (w / 2.0, h / 2.0),
                  (int(w), int(h)))


def _look_at_start(gcps: GroundControlPoints, image_size, focal_px: float, position, dem) -> Camera:
    x, y = float(position[0]), float(position[1])
    if len(position) > 2 and position[2] is not None and np.isfinite(position[2]):
        z = float(position[2])
    else:
        z = float(dem.sample(x, y)) + 2.0
        if not np.isfinite(z):
            raise CameraError(f"The camera position ({x:.2f}, {y:.2f}) is outside the DEM; give its height too.")
    return Camera.looking_at((x, y, z), gcps.world.mean(axis=0), focal_px, image_size)


def _rmse(cam: Camera | None, gcps: GroundControlPoints) -> float:
    if cam is None:
        return math.inf
    res = reprojection_residuals(cam, gcps)
    return float(np.sqrt(np.mean(np.sum(res ** 2, axis=1))))


def initial_camera(gcps: GroundControlPoints, image_size, options: FitOptions, dem=None) -> Camera:
    """The best start (see the module doc); CameraError when no start sees every GCP."""
    fit_focal = options.focal_px is None
    starts = [_pnp_start(gcps, image_size, f) for f in _focal_candidates(image_size, options.focal_px)]
    starts = [c for c in starts if c is not None and _rmse(c, gcps) < 1e3]
    best = min(starts, key=lambda c: _rmse(c, gcps)) if starts else None
    if best is not None:
        best = refine(best, gcps, fit_focal, dem=dem)
    if options.position is not None:
        focal = options.focal_px or (best.focal_px if best is not None else image_size[0])
        hinted = refine(_look_at_start(gcps, image_size, focal, options.position, dem), gcps, fit_focal, dem=dem)
        if _rmse(hinted, gcps) < _rmse(best, gcps):
            best = hinted
    if best is None or _rmse(best, gcps) >= 1e3:
        raise CameraError("No camera sees every GCP in front of it; check that each photo point is paired with the "
                          "right map point.")
    return best


# -- the whole fit --------------------------------------------------------------------------------
def _lens_models(n: int, focal_known: bool, lens: str) -> list[str]:
    if lens != "auto":
        if lens not in LENS_MODELS:
            raise CameraError(f"Unknown lens model '{lens}'; choose auto, {', '.join(LENS_MODELS)}.")
        return [lens]
    need = minimum_gcps(focal_known)
    return [m for m in LENS_MODELS if n >= need + LENS_EXTRA_GCPS[m]]


def _leave_one_out(cam: Camera, gcps: GroundControlPoints, fit_focal: bool, lens: str, options: FitOptions, dem):
    """Cameras refitted without each GCP, and each left-out GCP's reprojection error (px)."""
    cams, errors = [], np.zeros(len(gcps))
    for i in range(len(gcps)):
        keep = np.arange(len(gcps)) != i
        c = refine(cam, gcps.subset(keep), fit_focal, lens, options.loss, options.f_scale_px, dem)
        cams.append(c)
        errors[i] = float(np.hypot(*reprojection_residuals(c, gcps.subset(~keep))[0]))
    return cams, errors


def loo_ground_errors(cams, gcps: GroundControlPoints, dem) -> np.ndarray:
    """Horizontal distance from GCP i's map position to where camera i's ray through it meets the DEM."""
    out = np.full(len(gcps), np.nan)
    for i, c in enumerate(cams):
        origin, dirs = c.ray(gcps.pixels[i, 0], gcps.pixels[i, 1])
        hit = dem.intersect_rays(origin, dirs)[0]
        if np.all(np.isfinite(hit)):
            out[i] = float(np.hypot(hit[0] - gcps.world[i, 0], hit[1] - gcps.world[i, 1]))
    return out


def fit_camera(gcps: GroundControlPoints, dem, image_size, options: FitOptions | None = None) -> CameraFit:
    """Check, start, fit and report (see the module doc)."""
    options = options or FitOptions()
    if options.loss not in LOSSES:
        raise CameraError(f"Unknown loss '{options.loss}'; choose one of {', '.join(LOSSES)}.")
    if options.focal_px is not None and not options.focal_px > 0:
        raise CameraError(f"The focal length must be positive, not {options.focal_px:g} px.")
    image_size = (int(image_size[0]), int(image_size[1]))
    focal_known = options.focal_px is not None
    gcps = check_gcps(gcps, image_size, dem, focal_known)
    start = initial_camera(gcps, image_size, options, dem)
    fit_focal = not focal_known
    models = _lens_models(len(gcps), focal_known, options.lens)
    best = None
    scores = {}
    for lens in models:
        cam = refine(start, gcps, fit_focal, lens, options.loss, options.f_scale_px, dem)
        cams, loo_px = _leave_one_out(cam, gcps, fit_focal, lens, options, dem)
        scores[lens] = float(np.sqrt(np.mean(loo_px ** 2)))
        if best is None or scores[lens] < RICHER_MODEL_GAIN * scores[best[0]]:
            best = (lens, cam, cams, loo_px)
    lens, cam, cams, loo_px = best
    residuals = reprojection_residuals(cam, gcps)
    if np.any(residuals >= 1e4):
        raise CameraError("The fitted camera has a GCP behind it; check that each photo point is paired with the "
                          "right map point.")
    return CameraFit(camera=cam, gcps=gcps, lens=lens, residuals_xy=residuals,
                     loo_ground_error=loo_ground_errors(cams, gcps, dem), loo_residuals_px=loo_px,
                     lens_scores=scores)

