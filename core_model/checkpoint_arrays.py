"""Reading a RITM checkpoint without torch: the zip that torch.save writes, unpickled by a restricted
unpickler into numpy arrays, with the same refusals as the torch loader (core_model.checkpoint).

torch.save's zip holds `<folder>/data.pkl` (the pickled dictionary; each tensor is a call of
torch._utils._rebuild_tensor_v2 on a storage named by a persistent id ('storage', type, key, location,
numel)) and `<folder>/data/<key>` (each storage's raw little-endian bytes).  The unpickler knows only
those names (and collections.OrderedDict); any other global is refused as code, before anything is
called.  Sizes are bounded before inflating (checkpoint_file.check_zip), every tensor must lie inside its
storage, and the weights are checked like the torch loader checks them (dense real types, finite,
BatchNorm variances not negative); floats come back as float32.
"""
from __future__ import annotations

import os
import pickle
import zipfile
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .checkpoint_file import cap, check_zip, describe_refused_pickle, quote
from .checkpoint_values import model_params, predictor_hints
from .errors import CheckpointError

PREDICTOR_SETTINGS_KEY = "predictor_settings"
# Elements all tensors together may have (views of one storage could otherwise multiply it).
MAX_ELEMENTS = 600_000_000
_DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
           "BFloat16Storage": "bfloat16", "LongStorage": np.int64, "IntStorage": np.int32}
# Storages and rebuild functions of tensors that are not dense real weights: named in the refusal.
_ODD_STORAGES = {"ComplexFloatStorage": "complex64", "ComplexDoubleStorage": "complex128",
                 "BoolStorage": "bool", "ByteStorage": "uint8", "CharStorage": "int8", "ShortStorage": "int16"}
_ODD_REBUILDS = {"_rebuild_sparse_tensor": "sparse", "_rebuild_sparse_csr": "sparse",
                 "_rebuild_meta_tensor_no_storage": "meta", "_rebuild_qtensor": "quantized",
                 "_rebuild_wrapper_subclass": "meta", "_rebuild_device_tensor_from_numpy": "device"}


@dataclass
class CheckpointArrays:
    """What a checkpoint holds, torch-free: HRNetModel keyword arguments (norm_layer by name), the
    weights as numpy arrays (floats float32) and the recommended predictor settings."""
    path: Path
    params: dict
    state: dict = field(repr=False)
    hints: dict


class _Odd:
    """A tensor that is no dense real weight (sparse, meta, complex…): refused when the weights are checked."""

    def __init__(self, kind: str):
        self.kind = kind


class _Storage:
    def __init__(self, kind: str):
        self.kind = kind


def checkpoint_error(path, reason: str) -> CheckpointError:
    """The one-sentence error naming the file, as every checkpoint refusal."""
    return CheckpointError(f"Checkpoint {cap(os.fspath(path), 300)} {reason}.")


class _Unpickler(pickle.Unpickler):
    def __init__(self, stream, archive: zipfile.ZipFile, prefix: str, fail):
        super().__init__(stream)
        self._archive, self._prefix, self._fail = archive, prefix, fail
        self._storages: dict[str, np.ndarray] = {}
        self.elements = 0

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if module == "torch" and name in _DTYPES:
            return _Storage(name)
        if module == "torch" and name in _ODD_STORAGES:
            return _Storage(name)
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return self._rebuild_tensor
        if module == "torch._utils" and name == "_rebuild_parameter":
            return lambda data, requires_grad=False, hooks=None, *rest: data
        if module == "torch._utils" and name in _ODD_REBUILDS:
            kind = _ODD_REBUILDS[name]
            return lambda *args, **kwargs: _Odd(kind)
        raise self._fail(f"was refused because loading it would run code ({cap(f'{module}.{name}', 80)}); "
                         "only plain weight checkpoints are accepted")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"
                and isinstance(pid[1], _Storage) and isinstance(pid[2], str)):
            raise self._fail("is truncated or corrupted and cannot be read")
        storage_type, key = pid[1], pid[2]
        if storage_type.kind in _ODD_STORAGES:
            return _Odd(_ODD_STORAGES[storage_type.kind])
        if key not in self._storages:
            self._storages[key] = self._read_storage(key, _DTYPES[storage_type.kind])
        return self._storages[key]

    def _read_storage(self, key: str, dtype) -> np.ndarray:
        try:
            raw = self._archive.read(f"{self._prefix}data/{key}")
        except KeyError:
            raise self._fail(f"is truncated or corrupted (its storage {quote(key)} is missing)") from None
        if dtype == "bfloat16":  # the upper half of a float32
            halves = np.frombuffer(raw[:len(raw) // 2 * 2], dtype="<u2")
            return (halves.astype(np.uint32) << 16).view(np.float32)
        dtype = np.dtype(dtype).newbyteorder("<")
        return np.frombuffer(raw[:len(raw) // dtype.itemsize * dtype.itemsize], dtype=dtype)

    def _rebuild_tensor(self, storage, offset, size, stride, *rest):
        if isinstance(storage, _Odd):
            return storage
        ints = lambda v: isinstance(v, tuple) and all(isinstance(i, int) and 0 <= i < 2 ** 40 for i in v)  # noqa: E731
        if not (isinstance(storage, np.ndarray) and isinstance(offset, int) and ints(size) and ints(stride)
                and len(size) == len(stride) and offset >= 0):
            raise self._fail("is truncated or corrupted and cannot be read")
        count = int(np.prod(size, dtype=object)) if size else 1
        self.elements += count
        if self.elements > MAX_ELEMENTS:
            raise self._fail(f"holds more than {MAX_ELEMENTS:,} weight elements, more than any supported model")
        last = offset + sum((n - 1) * s for n, s in zip(size, stride)) if count else offset - 1
        if last >= storage.size:
            raise self._fail("is truncated or corrupted (a weight reaches beyond its stored data)")
        item = storage.itemsize
        view = np.lib.stride_tricks.as_strided(storage[offset:], shape=size,
                                               strides=[s * item for s in stride], writeable=False)
        return np.array(view, dtype=storage.dtype.newbyteorder("="))


def read_arrays(path) -> dict:
    """The checkpoint dictionary of `path` with numpy arrays for tensors (no torch; CheckpointError naming
    the file for anything unusable)."""
    path = Path(path)
    fail = lambda reason: checkpoint_error(path, reason)  # noqa: E731
    if not path.exists():
        raise fail("does not exist")
    if not path.is_file():
        raise fail("is not a file")
    with open(path, "rb") as f:
        head = f.read(4)
    if not head:
        raise fail("is empty")
    if not head.startswith(b"PK\x03\x04"):
        described = describe_refused_pickle(path, head) if head[:1] == b"\x80" else None
        if described:
            raise fail(described)
        if head[:1] == b"\x80":
            raise fail("is in PyTorch's legacy (pre-1.6) format, which only torch can read; save it again "
                       "with torch.save")
        raise fail("is not a PyTorch checkpoint file")
    check_zip(path, fail)
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
            if len(names) != 1:
                raise fail("is not a PyTorch checkpoint file")
            prefix = names[0][:-len("data.pkl")]
            order = archive.read(prefix + "byteorder") if prefix + "byteorder" in archive.namelist() else b"little"
            if order.strip() != b"little":
                raise fail("was written on a big-endian machine, which is not supported")
            with archive.open(names[0]) as stream:
                return _Unpickler(stream, archive, prefix, fail).load()
    except CheckpointError:
        raise
    except Exception:  # pickle and zip raise many types (RecursionError, MemoryError too): all unusable
        raise fail("is truncated or corrupted and cannot be read") from None


def _is_weight(value) -> bool:
    return isinstance(value, (np.ndarray, _Odd))


def state_arrays(fail, data: dict) -> dict:
    """The weights: dense arrays of a real type, finite, BatchNorm variances not negative; floats as float32."""
    state = data.get("state_dict")
    if not isinstance(state, dict) or not state:
        raise fail("has no weights ('state_dict')")
    out = {}
    for key, value in state.items():
        if not isinstance(key, str) or not _is_weight(value):
            raise fail(f"has a non-tensor entry {quote(key)} in its weights")
        if isinstance(value, _Odd):
            raise fail(f"holds weight {quote(key)} as a {value.kind} tensor; only dense real-valued tensors are "
                       "accepted")
        if value.dtype.kind == "f":
            value = value.astype(np.float32, copy=False)
            if not np.isfinite(value).all():
                raise fail(f"holds non-finite numbers (NaN or infinity) in weight {quote(key)}")
            if key.endswith("running_var") and (value < 0).any():
                raise fail(f"holds a negative BatchNorm variance in {quote(key)}")
        out[key] = value
    return out


def load_checkpoint_arrays(path) -> CheckpointArrays:
    """Read and check a RITM checkpoint without torch (its weights are matched to a network elsewhere)."""
    path = Path(path)
    fail = lambda reason: checkpoint_error(path, reason)  # noqa: E731
    data = read_arrays(path)
    params = model_params(fail, data, _is_weight)
    state = state_arrays(fail, data)
    hints = predictor_hints(fail, data.get(PREDICTOR_SETTINGS_KEY))
    return CheckpointArrays(path, params, state, hints)
