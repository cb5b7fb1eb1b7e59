"""The plugin's third-party Python dependencies and the plugin-private folder they are installed into —
plain Python, no QGIS, so it also runs as a command line:

    python -m avalanche_iseg_plugin.dependencies status [--target DIR]
    python -m avalanche_iseg_plugin.dependencies install [--step digitising|pytorch] [--cuda] [--target DIR]

Two steps (install.py): *digitising* (ONNX Runtime and OpenCV: needed to digitise) and the optional
*pytorch* (refinement modes, training, the NVIDIA GPU); each dependency says which step brings it.

The private folder lives in the QGIS profile (``<profile>/avalanche_iseg_deps/py3.X``, one per Python
version), never in QGIS's own site-packages; ``add_private_dir_to_path`` puts it on sys.path at plugin
start (after QGIS's own folders, so QGIS's numpy and GDAL always win). numpy is QGIS's: it is checked,
never installed or upgraded (see install.py).
"""
from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
from dataclasses import dataclass

from .folder import (FOLDER_NAME, TARGET_ENV, add_private_dir_to_path, private_dir,  # noqa: F401
                     profile_dir, python_executable, python_tag)


@dataclass(frozen=True)
class Dependency:
    module: str          # what the plugin imports
    distribution: str    # what pip installs
    purpose: str
    installable: bool = True   # False: QGIS's own (numpy); checked, never installed
    step: str = "digitising"   # the install step that brings it; 'pytorch' is optional

    @property
    def optional(self) -> bool:
        return self.step == "pytorch"


DEPENDENCIES = (
    Dependency("numpy", "numpy", "arrays (QGIS's own copy)", installable=False),
    Dependency("onnxruntime", "onnxruntime", "runs the segmentation model"),
    Dependency("cv2", "opencv-python-headless", "image resizing and mask outlines"),
    Dependency("torch", "torch", "optional: refinement modes, training, NVIDIA GPU", step="pytorch"),
)
REQUIRED = tuple(d for d in DEPENDENCIES if not d.optional)


@dataclass(frozen=True)
class DependencyStatus:
    dependency: Dependency
    version: str = ""     # '' when missing or broken
    problem: str = ""     # '' when usable; else one sentence
    location: str = ""    # the folder it was imported from

    @property
    def usable(self) -> bool:
        return not self.problem

    def line(self) -> str:
        name = self.dependency.module if self.dependency.module == self.dependency.distribution else \
            f"{self.dependency.module} ({self.dependency.distribution})"
        if self.usable:
            where = f" in {self.location}" if self.location else ""
            return f"{name}: {self.version} OK{where}"
        return f"{name}: {self.problem}"


# ============================================================================ checks
def _distribution_version(dependency: Dependency) -> str:
    for name in (dependency.distribution, dependency.module, "opencv-python", "opencv-contrib-python"):
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        except Exception:
            break
    return ""


def find(dependency: Dependency) -> DependencyStatus:
    """Cheap check without importing (safe in QGIS's GUI thread): is the module there at all?"""
    try:
        spec = importlib.util.find_spec(dependency.module)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        return DependencyStatus(dependency, problem=_missing(dependency))
    origin = spec.origin or ""
    return DependencyStatus(dependency, _distribution_version(dependency) or "?",
                            location=os.path.dirname(os.path.dirname(origin)) if origin else "")


def _missing(dependency: Dependency) -> str:
    if not dependency.installable:
        return f"missing: {dependency.distribution} is part of QGIS; reinstall or repair QGIS."
    return f"missing: {dependency.distribution} is not installed ({dependency.purpose})."


def check(dependency: Dependency) -> DependencyStatus:
    """Full check: imports the module and, for torch and OpenCV, makes them work with QGIS's numpy."""
    found = find(dependency)
    if not found.usable:
        return found
    try:
        module = importlib.import_module(dependency.module)
        version = str(getattr(module, "__version__", "") or found.version)
        _exercise(dependency.module, module)
    except Exception as exc:  # a broken or numpy-incompatible build: one sentence
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return DependencyStatus(dependency, found.version, f"installed ({found.version}) but cannot be used "
                                f"with this Python/numpy ({type(exc).__name__}: {text}); use install to repair it.",
                                found.location)
    location = os.path.dirname(os.path.dirname(os.path.abspath(module.__file__))) if getattr(module, "__file__", None) else ""
    return DependencyStatus(dependency, version, location=location)


def _exercise(name: str, module) -> None:
    import numpy as np

    if name == "torch":
        tensor = module.from_numpy(np.arange(6, dtype=np.float32).reshape(2, 3))
        if float(tensor.sum()) != 15.0 or tensor.numpy().shape != (2, 3):
            raise RuntimeError("torch and numpy do not exchange arrays")
    elif name == "onnxruntime":
        if "CPUExecutionProvider" not in module.get_available_providers():
            raise RuntimeError("ONNX Runtime has no CPU provider")
    elif name == "cv2":
        out = module.resize(np.zeros((4, 4), np.uint8), (2, 2))
        if out.shape != (2, 2):
            raise RuntimeError("cv2.resize gave a wrong shape")


def status(deep: bool = True, dependencies=DEPENDENCIES) -> list[DependencyStatus]:
    return [check(d) if deep else find(d) for d in dependencies]


def missing(dependencies=REQUIRED) -> list[DependencyStatus]:
    """The dependencies needed to digitise that are not there (cheap; no import); PyTorch is optional."""
    return [s for s in status(deep=False, dependencies=dependencies) if not s.usable]


def nvidia_driver() -> str:
    """A one-line description of the NVIDIA driver when one is present ('' when none): the GPU name
    from nvidia-smi, or the kernel driver's version."""
    import shutil
    import subprocess

    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            out = subprocess.run([smi, "--query-gpu=name,driver_version", "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=10)
            first = out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else ""
            if first:
                name, _, version = first.partition(",")
                return f"{name.strip()} (driver {version.strip()})"
        except (OSError, subprocess.SubprocessError):
            pass
    try:
        with open("/proc/driver/nvidia/version", encoding="utf-8") as f:
            return "NVIDIA driver: " + f.readline().strip()
    except OSError:
        return ""
