"""Which camera file belongs to which webcam photo, remembered in the QGIS project (qgis.core).

The project stores one entry per photo path (``QgsProject.writeEntry``), so reopening the project finds
the camera again.  A later frame of the same webcam (another file, same image size, same folder) reuses
the camera of an earlier frame: ``camera_for_photo`` looks the photo up first, then any remembered
camera whose photo lies in the same folder and has the same width × height.
"""
from __future__ import annotations

import hashlib
import os

from qgis.core import QgsProject

SCOPE = "avalanche_iseg_webcam"
KEYS = "photos"  # list of photo paths that have a camera


def _key(photo_path: str) -> str:
    """A project-entry key for a photo path (entry keys must be plain XML names)."""
    digest = hashlib.sha1(os.path.normcase(os.path.abspath(photo_path)).encode("utf-8")).hexdigest()[:16]
    return f"camera_{digest}"


def default_camera_path(photo_path: str) -> str:
    """``<photo folder>/<photo name>.camera.json``: the camera file saved next to the photo."""
    stem = os.path.splitext(os.path.abspath(photo_path))[0]
    return stem + ".camera.json"


def remember_camera(photo_path: str, camera_path: str, image_size, project: QgsProject | None = None) -> None:
    """Store ``camera_path`` (and the photo's width × height) for ``photo_path`` in the project."""
    project = project or QgsProject.instance()
    photo = os.path.abspath(photo_path)
    key = _key(photo)
    project.writeEntry(SCOPE, f"{key}/photo", photo)
    project.writeEntry(SCOPE, f"{key}/camera", os.path.abspath(camera_path))
    project.writeEntry(SCOPE, f"{key}/size", f"{int(image_size[0])}x{int(image_size[1])}")
    photos = remembered_photos(project)
    if photo not in photos:
        photos.append(photo)
        project.writeEntry(SCOPE, KEYS, photos)


def forget_camera(photo_path: str, project: QgsProject | None = None) -> None:
    project = project or QgsProject.instance()
    photo = os.path.abspath(photo_path)
    project.removeEntry(SCOPE, _key(photo))
    photos = [p for p in remembered_photos(project) if p != photo]
    project.writeEntry(SCOPE, KEYS, photos)


def remembered_photos(project: QgsProject | None = None) -> list[str]:
    project = project or QgsProject.instance()
    values, ok = project.readListEntry(SCOPE, KEYS)
    return list(values) if ok else []


def _entry(project: QgsProject, photo: str) -> tuple[str, str]:
    key = _key(photo)
    camera, ok = project.readEntry(SCOPE, f"{key}/camera", "")
    size, _ = project.readEntry(SCOPE, f"{key}/size", "")
    return (camera if ok else ""), size


def camera_for_photo(photo_path: str, image_size, project: QgsProject | None = None) -> str:
    """The camera file for ``photo_path`` ('' when none): its own entry, else the camera of a
    remembered frame of the same webcam (same folder, same image size).  Files that no longer exist
    are ignored."""
    project = project or QgsProject.instance()
    photo = os.path.abspath(photo_path)
    size = f"{int(image_size[0])}x{int(image_size[1])}"
    camera, _ = _entry(project, photo)
    if camera and os.path.isfile(camera):
        return camera
    folder = os.path.dirname(photo)
    for other in reversed(remembered_photos(project)):
        if other == photo or os.path.dirname(other) != folder:
            continue
        camera, other_size = _entry(project, other)
        if camera and other_size == size and os.path.isfile(camera):
            return camera
    default = default_camera_path(photo)
    return default if os.path.isfile(default) else ""
