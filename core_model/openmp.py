"""OpenMP threads that wait sleep instead of spinning: the one place that says so.

OpenMP reads ``OMP_WAIT_POLICY`` once, when torch loads its runtime, so every entry point calls
``passive_openmp()`` before torch can be imported (a child process gets it through its environment).
With the default (spinning) policy, inference sharing a busy 2-core machine with QGIS or a training run
was many times slower: clicks 2-7 s instead of 0.3-0.5 s (scripts/measure_click_latency.py --omp-default,
docs/click_latency.md), a 2-thread training step 40.6 s instead of 2.1 s. A value the user set wins.
"""
from __future__ import annotations

import os
from typing import MutableMapping

WAIT_POLICY = ("OMP_WAIT_POLICY", "PASSIVE")


def passive_openmp(env: MutableMapping[str, str] | None = None) -> None:
    """Set the passive wait policy in ``env`` (this process's environment by default) unless it is set."""
    (os.environ if env is None else env).setdefault(*WAIT_POLICY)
