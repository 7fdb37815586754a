"""Helpers shared by the benchmark scripts.

Each script is run as ``python benches/bench_x.py``, which puts this folder first on
``sys.path``, so the scripts import this module as ``_common``. Not part of the test
suite.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")

#: The segmentation measured across the benches: permutation entropy d = 4, W = 64, the
#: threshold calibrated (batch) to a mean length of 16, hard lengths 4..64.
SEGMENT_OPTS: dict[str, Any] = {
    "order": 4, "window": 64, "target_len": 16, "calibration": "batch", "min_len": 4,
    "max_len": 64,
}  # fmt: skip


def timed(
    repeat: int,
    fn: Callable[[], T],
    *,
    clock: Callable[[], float] = time.perf_counter,
    warmup: bool = False,
) -> tuple[float, T | None]:
    """The best time of ``repeat`` calls of ``fn`` by ``clock``, and the last result.

    With ``warmup``, one untimed call comes first (numba compilation, caches).
    """
    if warmup:
        fn()
    best, out = float("inf"), None
    for _ in range(repeat):
        t = clock()
        out = fn()
        best = min(best, clock() - t)
    return best, out


def best_of(
    repeat: int,
    fn: Callable[[], object],
    *,
    clock: Callable[[], float] = time.perf_counter,
    warmup: bool = False,
) -> float:
    """The best wall time (by default) of ``repeat`` calls of ``fn``."""
    return timed(repeat, fn, clock=clock, warmup=warmup)[0]


def random_walk(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` samples of a Gaussian random walk drawn from ``rng``."""
    return np.cumsum(rng.standard_normal(n))
