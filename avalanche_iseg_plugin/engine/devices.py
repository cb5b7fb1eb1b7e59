"""Which devices the model can run on: the CPU and each CUDA device PyTorch sees (no Qt, no QGIS).

``available_devices()`` imports torch only when it is installed (call it lazily). ``resolve_device``
turns a stored or chosen device into one that exists: an unavailable one falls back to the CPU with a
one-sentence message; ``device_problem`` gives the sentence for Processing, which refuses instead.
"""
from __future__ import annotations

import importlib.util

CPU = "cpu"


def _torch():
    try:
        if importlib.util.find_spec("torch") is None:
            return None
        import torch
    except Exception:
        return None
    return torch


def available_devices() -> list[tuple[str, str]]:
    """[(device, label)]: ('cpu', 'CPU') first, then ('cuda:N', 'GPU N: <name>') for each CUDA device."""
    devices = [(CPU, "CPU")]
    torch = _torch()
    if torch is None:
        return devices
    try:
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        for index in range(count):
            devices.append((f"cuda:{index}", f"GPU {index}: {torch.cuda.get_device_name(index)}"))
    except Exception:  # a broken CUDA runtime: only the CPU is usable
        pass
    return devices


def normalise(device: str) -> str:
    """'cuda' means the first GPU; anything else as typed, lower case."""
    device = (device or CPU).strip().lower()
    return "cuda:0" if device == "cuda" else device


def device_problem(device: str, available=None) -> str:
    """'' when ``device`` can be used, else one sentence saying why not."""
    wanted = normalise(device)
    names = [d for d, _ in (available if available is not None else available_devices())]
    if wanted in names:
        return ""
    gpus = [d for d in names if d.startswith("cuda")]
    if wanted.startswith("cuda"):
        if not gpus:
            why = "PyTorch is not installed" if _torch() is None else "PyTorch sees no CUDA GPU on this computer"
            return f"The device '{device}' is not available ({why}); choose CPU."
        return f"The device '{device}' is not available (PyTorch sees {', '.join(gpus)}); choose one of those or CPU."
    return f"The device '{device}' is unknown; choose CPU or a CUDA GPU."


def resolve_device(device: str, available=None) -> tuple[str, str]:
    """(the device to use, '' or the sentence telling that ``device`` fell back to the CPU)."""
    available = available if available is not None else available_devices()
    problem = device_problem(device, available)
    if not problem:
        return normalise(device), ""
    return CPU, problem.replace("; choose CPU.", "").rstrip(".").split("; choose")[0] + \
        ": the model runs on the CPU instead (the setting was changed to CPU)."
