"""The predictor's undo history: its exact state before each click, newest last, in a fixed memory budget.

Each state holds the probability map before the click (the zoom-in shares it), H×W float32: 4·H·W bytes
per click (2.6 MB for an 800×800 window).  The tensors of the kept states live in one buffer of
`UNDO_MEMORY_BUDGET` bytes (128 MiB: 50 clicks of an 800×800 window, 1300 of a 160×160 one), allocated
once per predictor on its first click: a history of many small copies between the pipeline's larger
temporary tensors fragmented the heap, so the process held several times the history's size.  When a new
state does not fit, the oldest states are dropped (a state larger than the whole buffer is kept on its
own, as the only one).  Undo within the kept states is exact (the tensors are copied back bit for bit).
Undoing a click whose state was dropped makes the predictor replay the remaining clicks from the start
(InteractivePredictor.undo), which gives the same result bit for bit (the pipeline is deterministic) at
the cost of one network run per remaining click.
The states hold torch tensors (torch engine) or numpy arrays (ONNX Runtime engine, `numpy_arrays=True`);
the buffer is of that kind, and only arrays of that kind are copied into it (others, e.g. a refinement
mode's numpy state beside torch tensors, are kept by reference, as they are never changed in place).
torch is never imported for numpy states.
"""
from __future__ import annotations

import sys
from collections import deque
from dataclasses import dataclass

import numpy as np

UNDO_MEMORY_BUDGET = 128 << 20  # bytes
_ALIGN = 64


@dataclass(frozen=True)
class _Stored:
    """A tensor of a kept state: `nbytes` bytes at `offset` of the buffer."""
    offset: int
    nbytes: int
    shape: tuple
    dtype: object  # torch.dtype or numpy dtype
    ref: int  # equal refs within one state: the same tensor (kept shared on restore)


def _is_torch_tensor(item) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(item, torch.Tensor)


def _is_numpy_array(item) -> bool:
    return isinstance(item, np.ndarray)


def _nbytes(t) -> int:
    return t.nbytes if isinstance(t, np.ndarray) else t.numel() * t.element_size()


def _device(t):
    return "numpy" if isinstance(t, np.ndarray) else t.device


def _clone(t):
    return t.copy() if isinstance(t, np.ndarray) else t.clone()


def _tensors(state, is_tensor) -> dict:
    found, todo = {}, [state]
    while todo:
        item = todo.pop()
        if is_tensor(item):
            found.setdefault(id(item), item)
        elif isinstance(item, (tuple, list)):
            todo.extend(item)
    return found


def _replace(state, mapping, is_tensor):
    if is_tensor(state):
        return mapping[id(state)]
    if isinstance(state, _Stored):
        return mapping[state.ref]
    if isinstance(state, (tuple, list)):
        return type(state)(_replace(s, mapping, is_tensor) for s in state)
    return state


def _padded(n: int) -> int:
    return (n + _ALIGN - 1) // _ALIGN * _ALIGN


class UndoHistory:
    """States before each click within `budget` bytes (default UNDO_MEMORY_BUDGET); `dropped` counts the
    oldest states let go since the last `clear` (undoing that far needs a replay)."""

    def __init__(self, budget: int | None = None, numpy_arrays: bool = False):
        self._is_tensor = _is_numpy_array if numpy_arrays else _is_torch_tensor
        self.budget = _padded(int(UNDO_MEMORY_BUDGET if budget is None else budget))
        self._buffer = None  # uint8 torch tensor or numpy array of `budget` bytes
        self._entries: deque[tuple[object, int, int]] = deque()  # (state, offset, bytes); offset -1: own tensors
        self.dropped = 0

    @property
    def nbytes(self) -> int:
        """Bytes of the kept states' tensors."""
        return sum(size for _, _, size in self._entries)

    def push(self, state) -> None:
        tensors = _tensors(state, self._is_tensor)
        if not tensors:
            self._entries.append((state, 0, 0))
            return
        device = _device(next(iter(tensors.values())))
        size = sum(_padded(_nbytes(t)) for t in tensors.values())
        if self._buffer is not None and _device(self._buffer) != device:
            self.clear()
            self._buffer = None
        if size > self.budget:
            self.dropped += len(self._entries)
            self._entries.clear()
            copies = {k: _clone(t) for k, t in tensors.items()}
            self._entries.append((_replace(state, copies, self._is_tensor), -1, size))
            return
        if self._buffer is None:
            if device == "numpy":
                self._buffer = np.empty(self.budget, dtype=np.uint8)
            else:
                import torch
                self._buffer = torch.empty(self.budget, dtype=torch.uint8, device=device)
        offset = self._place(size)
        stored, at = {}, offset
        for key, t in tensors.items():
            n = _nbytes(t)
            view = self._view(at, n, t.shape, t.dtype)
            if isinstance(view, np.ndarray):
                view[...] = t
            else:
                view.copy_(t)
            stored[key] = _Stored(at, n, tuple(t.shape), t.dtype, key)
            at += _padded(n)
        self._entries.append((_replace(state, stored, self._is_tensor), offset, size))

    def _place(self, size: int) -> int:
        """Offset of `size` free bytes after the newest state (wrapping round), dropping the oldest."""
        while True:
            live = [(off, n) for _, off, n in self._entries if off >= 0 and n]
            if not live:
                self.dropped += len(self._entries)
                self._entries.clear()
                return 0
            head = live[-1][0] + live[-1][1]
            tail = live[0][0]
            if live[-1][0] >= tail:  # the kept bytes are one run [tail, head)
                if head + size <= self.budget:
                    return head
                if size <= tail:
                    return 0
            elif head + size <= tail:  # wrapped: [tail, end) then [0, head)
                return head
            self._entries.popleft()
            self.dropped += 1

    def _view(self, offset: int, nbytes: int, shape, dtype):
        flat = self._buffer[offset:offset + nbytes].view(dtype)
        return flat.reshape(shape) if isinstance(flat, np.ndarray) else flat.view(shape)

    def pop(self):
        """The newest state (its tensors fresh copies), or None when none is kept."""
        if not self._entries:
            return None
        state, offset, _ = self._entries.pop()
        if offset < 0:
            return state
        copies = {}
        for item in _stored(state):
            copies[item.ref] = _clone(self._view(item.offset, item.nbytes, item.shape, item.dtype))
        return _replace(state, copies, self._is_tensor)

    def clear(self) -> None:
        self._entries.clear()
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._entries)


def _stored(state) -> list[_Stored]:
    found, todo = [], [state]
    while todo:
        item = todo.pop()
        if isinstance(item, _Stored):
            found.append(item)
        elif isinstance(item, (tuple, list)):
            todo.extend(item)
    return found
