"""Chunk-parallel segmentation of one long stream equals the one-pass result."""

from __future__ import annotations

import entroseg
import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

#: These tests check other things on short series; the target-miss warning itself is
#: tested in test_calibration.py and test_surfaces_agree.py.
pytestmark = pytest.mark.filterwarnings("ignore:target_len=.* missed:UserWarning")


def walk(seed: int, n: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    steps = rng.standard_normal(n)
    steps[(np.arange(n) // 400) % 3 == 0] *= 0.01
    return np.cumsum(steps)


rules_st = st.sampled_from(
    [
        {"threshold": 0.9},
        {"threshold": 0.95, "min_len": 3, "max_len": 40},
        {"relative": 0.02, "min_len": 2, "max_len": 30},
        {"threshold": 0.9, "relative": 0.0, "combine": "and", "max_len": 25},
        {"target_len": 12, "calibration": "batch"},
        {"target_len": 10, "calibration": "batch", "min_len": 4, "max_len": 48},
        {"target_len": 10, "calibration": "online", "max_len": 48},
        {"preset": "blt", "threshold": 0.9, "max_len": 16},
        {"preset": "entrope", "quantile": 0.85, "mode": "monotonic"},
    ]
)


@given(
    seed=st.integers(0, 10_000),
    n=st.integers(0, 6000),
    chunks=st.integers(1, 16),
    overlap=st.none() | st.integers(1, 300),
    rules=rules_st,
)
# A stitch at a start that the chunk's run made artificially: the true run's reason wins.
@example(seed=0, n=140, chunks=7, overlap=1, rules={"threshold": 0.95, "min_len": 3, "max_len": 40})
def test_parallel_equals_one_pass(
    seed: int, n: int, chunks: int, overlap: int | None, rules: dict[str, object]
) -> None:
    x = walk(seed, n)
    opts = {"order": 3, "window": 32, **rules}
    one = entroseg.segment(x, **opts)  # type: ignore[arg-type]
    par, report = entroseg.segment_parallel(
        x, chunks=chunks, threads=2, overlap=overlap, with_report=True, **opts
    )
    assert par == one
    if rules.get("calibration") == "online":
        assert report.sequential_reason is not None and report.chunks == 1


def test_symbol_methods_and_report() -> None:
    x = walk(5, 50_000)
    symbols = entroseg.quantize(np.diff(x, prepend=0.0), method="quantile", bins=4)
    for opts in (
        {"method": "conditional", "context": 2, "window": 64, "threshold": 0.8, "max_len": 64},
        {"method": "next_symbol", "context": 2, "threshold": 0.9, "min_len": 2, "max_len": 32},
    ):
        par, report = entroseg.segment_parallel(symbols, chunks=6, with_report=True, **opts)
        assert par == entroseg.segment(symbols, **opts)  # type: ignore[arg-type]
    assert report.sequential_reason is not None  # the next-symbol profile is sequential
    assert report.chunks == 6
