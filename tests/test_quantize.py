"""Quantizers: exact agreement with the reference (numpy's quantiles included),
monotonicity, range, and chunk invariance with a fitted sample."""

from __future__ import annotations

from typing import Any

import entroseg
import numpy as np
import pytest
from _strategies import F64, moderate_floats
from entroseg import _reference as ref
from hypothesis import assume, example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

METHODS = ["uniform", "mean_scale", "quantile"]


@st.composite
def real_arrays(draw: st.DrawFn, min_size: int = 1, max_size: int = 60) -> F64:
    """Floats, or few levels (values exactly on quantile edges are the hard case)."""
    n = draw(st.integers(min_size, max_size))
    if draw(st.booleans()):
        levels = draw(hnp.arrays(np.int64, n, elements=st.integers(-3, 3)))
        return levels.astype(np.float64) * draw(st.sampled_from([1.0, 0.1, 0.25]))
    return draw(hnp.arrays(np.float64, n, elements=moderate_floats))


@given(real_arrays(), st.sampled_from(METHODS), st.integers(1, 256), st.booleans(), st.data())
@example(np.arange(8.0), "quantile", 4, False, None)
@example(np.array([1.0, 1.0, 1.0]), "uniform", 5, False, None)  # constant sample
@example(np.zeros(4), "mean_scale", 3, False, None)  # zero scale falls back to 1
def test_fast_equals_reference_exactly(
    x: F64, method: str, bins: int, separate_sample: bool, data: st.DataObject | None
) -> None:
    kw: dict[str, Any] = {"method": method, "bins": bins}
    if separate_sample and isinstance(data, st.DataObject):
        kw["sample"] = data.draw(real_arrays(), label="sample")
    if method == "uniform" and isinstance(data, st.DataObject):
        low = data.draw(st.none() | moderate_floats, label="low")
        high = data.draw(st.none() | moderate_floats, label="high")
        if low is not None and high is not None:
            assume(low < high)
        kw.update(low=low, high=high)
    if method == "mean_scale" and isinstance(data, st.DataObject):
        kw["limit"] = data.draw(st.floats(0.5, 20.0), label="limit")
    try:
        want = ref.quantize(x, **kw)
    except ValueError:
        # e.g. a one-sided range that ends up empty (low above the sample's maximum)
        with pytest.raises(entroseg.InvalidParameterError):
            entroseg.quantize(x, **kw)
        return
    got = entroseg.quantize(x, **kw)
    assert got.dtype == np.uint8 and got.shape == x.shape
    assert np.array_equal(got, want), (got, want)


@given(real_arrays(), st.sampled_from(METHODS), st.integers(1, 40))
def test_symbols_are_in_range_and_monotone_in_the_value(x: F64, method: str, bins: int) -> None:
    order = np.argsort(x, kind="stable")
    got = entroseg.quantize(x, method=method, bins=bins)
    assert got.max() < bins
    assert np.all(np.diff(got[order].astype(int)) >= 0)


@given(real_arrays(min_size=2), st.sampled_from(METHODS), st.integers(1, 40), st.data())
def test_chunks_quantized_with_one_sample_match_the_whole(
    x: F64, method: str, bins: int, data: st.DataObject
) -> None:
    cut = data.draw(st.integers(1, len(x) - 1), label="cut")
    whole = entroseg.quantize(x, method=method, bins=bins, sample=x)
    parts = [entroseg.quantize(p, method=method, bins=bins, sample=x) for p in (x[:cut], x[cut:])]
    assert np.array_equal(np.concatenate(parts), whole)


@given(real_arrays(), st.integers(1, 40), st.integers(-20, 20))
def test_mean_scale_is_invariant_to_scaling(x: F64, bins: int, power: int) -> None:
    # Powers of two scale exactly in floating point, so the symbols must not move (as long
    # as the scaled bin width stays a normal float: a mean |x| near 1e-300 is refused).
    scale = float(np.mean(np.abs(x)))
    assume(scale == 0.0 or scale > 1e-250)
    scaled = x * 2.0**power
    assert np.array_equal(
        entroseg.quantize(scaled, method="mean_scale", bins=bins),
        entroseg.quantize(x, method="mean_scale", bins=bins),
    )


def test_quantile_bins_split_evenly_and_feed_conditional_entropy() -> None:
    x = np.random.default_rng(0).standard_normal(4000)
    s = entroseg.quantize(x, method="quantile", bins=8)
    assert np.array_equal(np.bincount(s, minlength=8), np.full(8, 500))
    # Equal-frequency symbols of white noise: Shannon entropy ln 8 exactly (normalized 1).
    assert entroseg.conditional_entropy(s, context=0, alphabet_size=8) == pytest.approx(1.0)


def test_uniform_values_outside_the_range_go_to_the_end_bins() -> None:
    got = entroseg.quantize(np.array([-5.0, 0.0, 0.99, 1.0, 3.99, 4.0, 9.0]), bins=4, low=0, high=4)
    assert got.tolist() == [0, 0, 0, 1, 3, 3, 3]
