"""Smoke tests of an installed entroseg: numpy and pytest only, nothing from the repo.

They run in the full suite and, on their own, against the wheel that ``make wheel``
builds, installed into a fresh virtual environment without cargo (``make wheel-check``):
the file is copied out of the repository first so that only the installed package can be
imported. Each test checks behaviour against a small obviously-correct reference, not
just that a call returns.
"""

from __future__ import annotations

import importlib.metadata
import itertools
import math
import pickle
import sys
from pathlib import Path

import entroseg
import numpy as np
import pytest


def test_version_matches_the_installed_distribution() -> None:
    assert entroseg.__version__ == importlib.metadata.version("entroseg")


def test_extension_uses_the_stable_abi() -> None:
    # One wheel serves every CPython >= 3.10: the extension is built against abi3.
    name = Path(entroseg._entroseg.__file__).name  # type: ignore[attr-defined]
    if sys.platform == "win32":
        assert name.endswith(".pyd"), name
    else:
        assert name.endswith(".abi3.so"), name


def _reference_pe(x: list[float], order: int) -> float:
    """Normalised permutation entropy by counting patterns (ties in order of position)."""
    counts: dict[tuple[int, ...], int] = {}
    for t in range(len(x) - order + 1):
        window = x[t : t + order]
        pattern = tuple(sorted(range(order), key=lambda i: (window[i], i)))
        counts[pattern] = counts.get(pattern, 0) + 1
    n = sum(counts.values())
    h = -sum(c / n * math.log(c / n) for c in counts.values())
    return h / math.log(math.factorial(order))


def test_permutation_entropy_equals_pattern_counting() -> None:
    x = np.random.default_rng(1).standard_normal(400).round(1)  # rounding makes ties
    for order in (2, 3, 4):
        got = entroseg.permutation_entropy(x, order=order)
        assert got == pytest.approx(_reference_pe(x.tolist(), order), abs=1e-12)


def test_rolling_profile_is_the_whole_series_value_of_each_window() -> None:
    x = np.random.default_rng(2).standard_normal(300)
    prof = entroseg.permutation_entropy(x, order=3, window=50)
    assert prof.shape == x.shape and np.isnan(prof[:49]).all()
    for t in (49, 120, 299):
        assert prof[t] == pytest.approx(_reference_pe(x[t - 49 : t + 1].tolist(), 3), abs=1e-12)


def test_segment_tiles_the_series_within_hard_limits() -> None:
    x, _ = entroseg.sample_series(4000)
    seg = entroseg.segment(x, order=4, window=64, target_len=32, min_len=4, max_len=96)
    starts, lengths = seg.starts, seg.lengths
    assert starts[0] == 0 and int(lengths.sum()) == len(x)
    assert np.array_equal(starts[1:], np.cumsum(lengths)[:-1])
    assert lengths[:-1].min() >= 4 and lengths.max() <= 96
    assert abs(len(x) / len(seg) - 32) <= 0.05 * 32
    cu = seg.cu_seqlens
    assert cu.dtype == np.int32 and cu[0] == 0 and cu[-1] == len(x)


def test_streaming_with_a_pickled_checkpoint_equals_one_shot() -> None:
    x, _ = entroseg.sample_series(3000)
    opts = dict(order=3, window=48, threshold=0.8, min_len=2, max_len=64)
    s = entroseg.Segmenter(**opts)
    parts = [s.push(x[:1234])]
    s = pickle.loads(pickle.dumps(s))
    parts += [s.push(x[1234:]), s.finish()]
    assert entroseg.Segments.join(parts) == entroseg.segment(x, **opts)


def test_dust_mask_finds_the_low_complexity_run_only() -> None:
    rng = np.random.default_rng(3)
    left = "".join(rng.choice(list("ACGT"), 300))
    right = "".join(rng.choice(list("ACGT"), 300))
    seq = left + "CA" * 60 + right
    mask = entroseg.dust_mask(seq)
    assert mask.shape[1] == 2 and len(mask) >= 1
    covered = set(itertools.chain.from_iterable(range(a, b) for a, b in mask.tolist()))
    repeat = set(range(300, 420))
    assert len(repeat & covered) >= 100
    assert len(covered - set(range(250, 470))) == 0


def test_bad_input_raises_a_typed_error_naming_the_value() -> None:
    with pytest.raises(entroseg.InvalidParameterError, match="order"):
        entroseg.permutation_entropy(np.arange(10.0), order=1)
    with pytest.raises(entroseg.NonFiniteError):
        entroseg.permutation_entropy(np.array([0.0, 1.0, np.nan, 2.0, 3.0]), order=3)


def test_polars_plugin_ships_in_the_wheel() -> None:
    pl = pytest.importorskip("polars")
    x = np.random.default_rng(4).standard_normal(500)
    out = pl.DataFrame({"x": x}).select(
        pl.col("x").entroseg.permutation_entropy(order=3, window=40)
    )
    assert np.allclose(
        out.to_series().to_numpy(), entroseg.permutation_entropy(x, order=3, window=40),
        equal_nan=True,
    )  # fmt: skip
