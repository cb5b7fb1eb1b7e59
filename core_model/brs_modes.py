"""The refinement modes' names and RITM's net-clicks limit of each (torch-free: the predictor and the
command lines read them where only the ONNX Runtime engine may be installed; the modes run in core_model.brs)."""
from __future__ import annotations

NO_BRS = "NoBRS"
BRS_MODES = (NO_BRS, "f-BRS-A", "f-BRS-B", "f-BRS-C", "RGB-BRS", "DistMap-BRS")
OPTIMIZE_AFTER_N_CLICKS = 1   # RITM: optimisation from the second click on
_NET_CLICKS_LIMIT = {"f-BRS-A": 8, "f-BRS-B": 8, "f-BRS-C": 8, "RGB-BRS": 5, "DistMap-BRS": 5}


def check_brs_mode(mode: str) -> str:
    if mode not in BRS_MODES:
        raise ValueError(f"Unknown refinement mode {mode!r}; choose one of {', '.join(BRS_MODES)}.")
    return mode


def brs_net_clicks_limit(mode: str) -> int | None:
    """RITM's net clicks limit for `mode` (None: no limit, NoBRS)."""
    return _NET_CLICKS_LIMIT.get(check_brs_mode(mode))
