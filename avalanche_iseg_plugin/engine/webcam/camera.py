"""The pinhole camera of a webcam, in the DEM's CRS.

World frame: x east (grid), y north (grid), z up, in the DEM's CRS and height units (metres).
Camera frame (OpenCV's): x to the right of the photo, y down the photo, z along the optical axis.

* ``heading_deg``: azimuth of the optical axis, degrees clockwise from grid north;
* ``pitch_deg``: elevation of the optical axis, degrees, negative looking down;
* ``roll_deg``: rotation of the camera about its optical axis, degrees, positive clockwise as seen
  from behind the camera (the photo's content then turns anticlockwise);
* ``focal_px``: focal length in pixels; ``principal_point``: (col, row) where the optical axis meets
  the photo; ``k1``, ``k2``: radial distortion of the normalised coordinates
  (``r' = r (1 + k1 r² + k2 r⁴)``, Brown's model without tangential terms, as OpenCV's first two).

Pixel convention: see the package doc ((0, 0) is the photo's top-left corner, row down, pixel
centres at +0.5).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np


def rotation_matrix(heading_deg: float, pitch_deg: float, roll_deg: float) -> np.ndarray:
    """3×3 world -> camera rotation; its rows are the camera's right, down and forward axes."""
    h, p, r = (math.radians(v) for v in (heading_deg, pitch_deg, roll_deg))
    forward = np.array([math.sin(h) * math.cos(p), math.cos(h) * math.cos(p), math.sin(p)])
    right0 = np.array([math.cos(h), -math.sin(h), 0.0])
    up0 = np.cross(right0, forward)
    right = right0 * math.cos(r) - up0 * math.sin(r)
    up = up0 * math.cos(r) + right0 * math.sin(r)
    return np.vstack([right, -up, forward])


def angles_of(rotation: np.ndarray) -> tuple[float, float, float]:
    """(heading, pitch, roll) in degrees of a world -> camera rotation (inverse of rotation_matrix)."""
    right, forward = rotation[0], rotation[2]
    heading = math.degrees(math.atan2(forward[0], forward[1])) % 360.0
    pitch = math.degrees(math.asin(max(-1.0, min(1.0, forward[2]))))
    h = math.radians(heading)
    right0 = np.array([math.cos(h), -math.sin(h), 0.0])
    up0 = np.cross(right0, forward)
    roll = math.degrees(math.atan2(-float(right @ up0), float(right @ right0)))
    return heading, pitch, roll


@dataclass(frozen=True)
class Camera:
    position: tuple[float, float, float]
    heading_deg: float
    pitch_deg: float
    roll_deg: float
    focal_px: float
    principal_point: tuple[float, float]
    image_size: tuple[int, int]  # (width, height) in pixels
    k1: float = 0.0
    k2: float = 0.0

    @classmethod
    def looking_at(cls, position, target, focal_px: float, image_size, roll_deg: float = 0.0) -> "Camera":
        """A camera at ``position`` whose optical axis goes through ``target`` (both x, y, z), with its
        principal point at the photo's centre and no distortion."""
        d = np.asarray(target, dtype=np.float64) - np.asarray(position, dtype=np.float64)
        heading = math.degrees(math.atan2(d[0], d[1])) % 360.0
        pitch = math.degrees(math.atan2(d[2], math.hypot(d[0], d[1])))
        w, h = int(image_size[0]), int(image_size[1])
        return cls(tuple(float(v) for v in position), heading, pitch, float(roll_deg), float(focal_px),
                   (w / 2.0, h / 2.0), (w, h))

    @property
    def width(self) -> int:
        return int(self.image_size[0])

    @property
    def height(self) -> int:
        return int(self.image_size[1])

    @property
    def rotation(self) -> np.ndarray:
        return rotation_matrix(self.heading_deg, self.pitch_deg, self.roll_deg)

    def with_(self, **changes) -> "Camera":
        return replace(self, **changes)

    # -- world -> photo ---------------------------------------------------------------------------
    def to_camera_frame(self, points_xyz) -> np.ndarray:
        """N×3 world points -> N×3 camera-frame points (z = depth along the optical axis)."""
        pts = np.asarray(points_xyz, dtype=np.float64).reshape(-1, 3)
        return (pts - np.asarray(self.position, dtype=np.float64)) @ self.rotation.T

    def distort(self, xn: np.ndarray, yn: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.k1 == 0.0 and self.k2 == 0.0:
            return xn, yn
        r2 = xn * xn + yn * yn
        factor = 1.0 + self.k1 * r2 + self.k2 * r2 * r2
        return xn * factor, yn * factor

    def project(self, points_xyz) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """World points (N×3) -> (col, row, depth), each of length N.  Depth is the distance along the
        optical axis (negative behind the camera: col/row are then meaningless, NaN)."""
        cam = self.to_camera_frame(points_xyz)
        depth = cam[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = np.where(depth > 0, 1.0 / depth, np.nan)
        xn, yn = cam[:, 0] * inv, cam[:, 1] * inv
        if self.k1 != 0.0 or self.k2 != 0.0:  # the polynomial folds back far outside the photo
            r_max = 1.2 * self.corner_radius()
            far = xn * xn + yn * yn > r_max * r_max
            xn, yn = np.where(far, np.nan, xn), np.where(far, np.nan, yn)
        xd, yd = self.distort(xn, yn)
        col = self.principal_point[0] + self.focal_px * xd
        row = self.principal_point[1] + self.focal_px * yd
        return col, row, depth

    # -- photo -> world ---------------------------------------------------------------------------
    def undistort(self, xd: np.ndarray, yd: np.ndarray, iterations: int = 20) -> tuple[np.ndarray, np.ndarray]:
        """Normalised distorted coordinates -> undistorted ones (fixed-point iteration)."""
        if self.k1 == 0.0 and self.k2 == 0.0:
            return xd, yd
        xn, yn = xd.copy(), yd.copy()
        for _ in range(iterations):
            r2 = xn * xn + yn * yn
            factor = 1.0 + self.k1 * r2 + self.k2 * r2 * r2
            xn, yn = xd / factor, yd / factor
        return xn, yn

    def corner_radius(self) -> float:
        """Largest undistorted normalised radius of the photo's corners (the photo's reach)."""
        w, h = self.image_size
        cx, cy = self.principal_point
        xd = (np.array([0.0, w, 0.0, w]) - cx) / self.focal_px
        yd = (np.array([0.0, 0.0, h, h]) - cy) / self.focal_px
        xn, yn = self.undistort(xd, yd)
        return float(np.max(np.hypot(xn, yn)))

    def ray(self, col, row) -> tuple[np.ndarray, np.ndarray]:
        """Photo points -> (origin 3, unit directions N×3) of their viewing rays in the world frame."""
        col = np.atleast_1d(np.asarray(col, dtype=np.float64))
        row = np.atleast_1d(np.asarray(row, dtype=np.float64))
        xd = (col - self.principal_point[0]) / self.focal_px
        yd = (row - self.principal_point[1]) / self.focal_px
        xn, yn = self.undistort(xd, yd)
        dirs = np.stack([xn, yn, np.ones_like(xn)], axis=1) @ self.rotation
        dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
        return np.asarray(self.position, dtype=np.float64), dirs

    def in_image(self, col: np.ndarray, row: np.ndarray) -> np.ndarray:
        return (col >= 0) & (col < self.width) & (row >= 0) & (row < self.height)
