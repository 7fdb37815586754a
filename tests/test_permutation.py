"""Ordinal patterns and the permutation-entropy family (plain, weighted, statistical
complexity, missing patterns): fast paths against the slow reference, against ordpy,
and against themselves (rolling vs whole series)."""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable
from typing import Any

import entroseg
import numpy as np
import ordpy
import pytest
from _strategies import ATOL, F64, close, embedding, same_bits, series, with_non_finite
from entroseg import _reference as ref
from hypothesis import assume, example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

# --------------------------------------------------------------------------------------
# Ordinal pattern codes
# --------------------------------------------------------------------------------------


def test_reference_rank_is_the_itertools_order() -> None:
    for d in range(2, 7):
        for i, perm in enumerate(itertools.permutations(range(d))):
            assert ref.lexicographic_rank(perm) == i


@given(st.integers(2, 6), st.data())
def test_ties_follow_numpy_stable_argsort(d: int, data: st.DataObject) -> None:
    # Few distinct values (and -0.0 beside 0.0, which compare equal) force ties.
    v = data.draw(hnp.arrays(np.float64, d, elements=st.sampled_from([0.0, -0.0, 1.0, 2.0])))
    perms = list(itertools.permutations(range(d)))
    want = perms.index(tuple(np.argsort(v, kind="stable").tolist()))
    assert entroseg.ordinal_patterns(v, order=d)[-1] == want


@given(
    hnp.arrays(
        np.float64,
        st.integers(1, 60),
        elements=st.floats(allow_nan=False, allow_infinity=False),
    )
    | series(min_size=1),
    embedding,
)
@example(np.array([1.0, 2, 3, 2, 1, 1]), (3, 1))
@example(np.array([5.0]), (2, 1))
def test_codes_equal_reference(x: F64, emb: tuple[int, int]) -> None:
    d, tau = emb
    got = entroseg.ordinal_patterns(x, order=d, delay=tau)
    assert got.dtype == np.int32
    assert np.array_equal(got, ref.ordinal_patterns(x, order=d, delay=tau))


@given(series(min_size=1, max_size=60), embedding, st.data())
def test_codes_with_non_finite_samples_equal_reference(
    x: F64, emb: tuple[int, int], data: st.DataObject
) -> None:
    d, tau = emb
    x = data.draw(with_non_finite(x))
    got = entroseg.ordinal_patterns(x, order=d, delay=tau, nan_policy="propagate")
    assert np.array_equal(got, ref.ordinal_patterns(x, order=d, delay=tau, nan_policy="propagate"))


@pytest.mark.parametrize("order", range(2, entroseg.MAX_ORDER + 1))
def test_codes_of_every_supported_order_equal_reference_and_ordpy(order: int) -> None:
    rng = np.random.default_rng(order)
    for x in (rng.standard_normal(400), rng.integers(0, 3, 400).astype(np.float64)):
        got = entroseg.ordinal_patterns(x, order=order, delay=2)
        assert np.array_equal(got, ref.ordinal_patterns(x, order=order, delay=2))
        # ordpy gives the argsort permutations themselves; rank them independently.
        perms = ordpy.ordinal_sequence(x, dx=order, taux=2)
        ranks = [ref.lexicographic_rank(p.tolist()) for p in perms]
        assert got[(order - 1) * 2 :].tolist() == ranks


# --------------------------------------------------------------------------------------
# Values against the reference
# --------------------------------------------------------------------------------------

STATISTICS: dict[str, tuple[Callable[..., Any], Callable[..., Any], dict[str, Any]]] = {
    "entropy": (entroseg.permutation_entropy, ref.permutation_entropy, {}),
    "entropy_nats": (entroseg.permutation_entropy, ref.permutation_entropy, {"normalize": False}),
    "weighted": (entroseg.permutation_entropy, ref.permutation_entropy, {"weighted": True}),
    "weighted_nats": (
        entroseg.permutation_entropy,
        ref.permutation_entropy,
        {"weighted": True, "normalize": False},
    ),
    "complexity": (entroseg.statistical_complexity, ref.statistical_complexity, {}),
    "missing": (entroseg.missing_patterns, ref.missing_patterns, {}),
}
statistic_names = st.sampled_from(sorted(STATISTICS))


@given(series(min_size=1), embedding, statistic_names, st.data())
@example(np.zeros(6), (3, 1), "weighted", None)  # every weight 0: documented value 0
@example(np.zeros(6), (3, 1), "complexity", 4)
@example(np.array([0.0, 1, 0, 1, 0, 1, 0]), (2, 1), "entropy", None)  # exactly uniform
def test_fast_equals_reference(
    x: F64, emb: tuple[int, int], name: str, data: st.DataObject | int | None
) -> None:
    d, tau = emb
    span = (d - 1) * tau
    assume(len(x) > span)
    if isinstance(data, st.DataObject):
        window = data.draw(st.none() | st.integers(span + 1, len(x)), label="window")
    else:
        window = data
    fast_fn, ref_fn, kw = STATISTICS[name]
    fast = fast_fn(x, order=d, delay=tau, window=window, **kw)
    want = ref_fn(x, order=d, delay=tau, window=window, **kw)
    if name == "missing":
        # Integer counts: exact, and an int for the whole series.
        assert np.array_equal(fast, want, equal_nan=True)
        assert isinstance(fast, int) == isinstance(want, int)
    else:
        assert close(fast, want), (fast, want)


@pytest.mark.parametrize("order", range(6, entroseg.MAX_ORDER + 1))
def test_high_orders_equal_reference(order: int) -> None:
    rng = np.random.default_rng(100 + order)
    for x in (np.cumsum(rng.standard_normal(300)), rng.integers(0, 4, 300).astype(float)):
        for name in ("entropy", "weighted", "complexity", "missing"):
            fast_fn, ref_fn, kw = STATISTICS[name]
            assert close(fast_fn(x, order=order, **kw), ref_fn(x, order=order, **kw)), name
        if order <= 7:
            w = order + 40
            assert close(
                entroseg.permutation_entropy(x[:120], order=order, window=w),
                ref.permutation_entropy(x[:120], order=order, window=w),
            )


# --------------------------------------------------------------------------------------
# Rolling vs whole series, bounds, NaN
# --------------------------------------------------------------------------------------


@given(series(min_size=1), embedding, statistic_names, st.data())
def test_rolling_value_is_the_whole_series_value_of_its_window(
    x: F64, emb: tuple[int, int], name: str, data: st.DataObject
) -> None:
    d, tau = emb
    span = (d - 1) * tau
    assume(len(x) > span)
    window = data.draw(st.integers(span + 1, len(x)), label="window")
    fn, _, kw = STATISTICS[name]
    rolling = fn(x, order=d, delay=tau, window=window, **kw)
    assert rolling.shape == x.shape and rolling.dtype == np.float64
    assert np.isnan(rolling[: window - 1]).all()
    for t in range(window - 1, len(x)):
        whole = fn(x[t - window + 1 : t + 1], order=d, delay=tau, **kw)
        assert same_bits(rolling[t], float(whole)), (t, rolling[t], whole)


@given(series(min_size=1), embedding, st.data())
@example(np.array([0.0, 1, 0, 1, 0, 1, 0, 1, 0]), (2, 1), None)
def test_normalized_values_lie_in_the_unit_interval(
    x: F64, emb: tuple[int, int], data: st.DataObject | None
) -> None:
    d, tau = emb
    span = (d - 1) * tau
    assume(len(x) > span)
    windows: list[int | None] = [None, span + 1, len(x)]
    if isinstance(data, st.DataObject):
        windows.append(data.draw(st.integers(span + 1, len(x)), label="window"))
    for window in windows:
        for values in (
            entroseg.permutation_entropy(x, order=d, delay=tau, window=window),
            entroseg.permutation_entropy(x, order=d, delay=tau, window=window, weighted=True),
            entroseg.statistical_complexity(x, order=d, delay=tau, window=window),
        ):
            v = np.asarray(values)
            v = v[~np.isnan(v)]
            assert np.all((v >= 0.0) & (v <= 1.0)), v
        m = np.asarray(entroseg.missing_patterns(x, order=d, delay=tau, window=window))
        m = m[~np.isnan(m)]
        assert np.all((m >= 0) & (m <= math.factorial(d) - 1))


@given(series(min_size=1), embedding, statistic_names, st.data())
@example(np.arange(12.0), (3, 1), "entropy", None)
def test_nan_gives_nan_exactly_for_windows_containing_it_and_recovers(
    x: F64, emb: tuple[int, int], name: str, data: st.DataObject | None
) -> None:
    d, tau = emb
    span = (d - 1) * tau
    assume(len(x) > span)
    if isinstance(data, st.DataObject):
        x = data.draw(with_non_finite(x), label="x with NaN")
        window = data.draw(st.integers(span + 1, len(x)), label="window")
    else:
        x = x.copy()
        x[5] = np.nan
        window = span + 2
    fn, ref_fn, kw = STATISTICS[name]
    rolling = fn(x, order=d, delay=tau, window=window, nan_policy="propagate", **kw)
    for t in range(window - 1, len(x)):
        part = x[t - window + 1 : t + 1]
        if np.all(np.isfinite(part)):
            # Clean again: the exact value of that window, as if no NaN had ever been seen.
            assert same_bits(rolling[t], float(fn(part, order=d, delay=tau, **kw)))
        else:
            assert np.isnan(rolling[t])
    whole = fn(x, order=d, delay=tau, nan_policy="propagate", **kw)
    assert math.isnan(whole) == (not np.all(np.isfinite(x)))
    want = ref_fn(x, order=d, delay=tau, window=window, nan_policy="propagate", **kw)
    if name == "missing":
        assert np.array_equal(rolling, want, equal_nan=True)
    else:
        assert close(rolling, want)


# --------------------------------------------------------------------------------------
# Agreement with ordpy, the peer users trust
# --------------------------------------------------------------------------------------


def _ordpy_all(x: Any, d: int, tau: int) -> dict[str, float]:
    with warnings.catch_warnings():
        # ordpy divides 0 by 0 when every weight is 0 and then drops the NaNs: value 0.
        warnings.simplefilter("ignore", RuntimeWarning)
        _, c = ordpy.complexity_entropy(x, dx=d, taux=tau)
        return {
            "entropy": ordpy.permutation_entropy(x, dx=d, taux=tau),
            "entropy_nats": ordpy.permutation_entropy(x, dx=d, taux=tau, normalized=False),
            "complexity": c,
            "weighted": ordpy.weighted_permutation_entropy(x, dx=d, taux=tau),
            "missing": ordpy.missing_patterns(
                x, dx=d, taux=tau, return_missing=False, return_fraction=False
            ),
        }


def _entroseg_all(x: Any, d: int, tau: int) -> dict[str, float]:
    return {
        "entropy": entroseg.permutation_entropy(x, order=d, delay=tau),
        "entropy_nats": entroseg.permutation_entropy(x, order=d, delay=tau, normalize=False),
        "complexity": entroseg.statistical_complexity(x, order=d, delay=tau),
        "weighted": entroseg.permutation_entropy(x, order=d, delay=tau, weighted=True),
        "missing": entroseg.missing_patterns(x, order=d, delay=tau),
    }


@given(series(min_size=1), embedding, st.booleans())
# Subnormal weights (variances of 4.7e-319): unscaled w ln w terms were off by 1.5e-6.
@example(np.array([0.0, 1.457256017387996e-159, 0.0, 0.0]), (3, 1), False)
def test_agrees_with_ordpy_within_1e12(x: F64, emb: tuple[int, int], as_int: bool) -> None:
    d, tau = emb
    assume(len(x) > (d - 1) * tau)
    data: Any = x
    if as_int and np.array_equal(x, np.round(x)):
        data = x.astype(np.int64)  # integer (tied) data as users pass it
    ours = _entroseg_all(data, d, tau)
    theirs = _ordpy_all(data, d, tau)
    assert ours["missing"] == theirs["missing"]
    for key in ("entropy", "entropy_nats", "complexity", "weighted"):
        assert abs(ours[key] - theirs[key]) <= 1e-12, (key, ours[key], theirs[key])


@pytest.mark.parametrize("order", [3, 4, 5, 6, 7])
@pytest.mark.parametrize("kind", ["walk", "levels", "noise"])
def test_agrees_with_ordpy_on_longer_series(order: int, kind: str) -> None:
    rng = np.random.default_rng(order)
    n = 5000
    x: Any = {
        "walk": np.cumsum(rng.integers(-2, 3, n)),  # integers, many ties
        "levels": rng.integers(0, 3, n),
        "noise": rng.standard_normal(n),
    }[kind]
    for delay in (1, 3):
        ours = _entroseg_all(x, order, delay)
        theirs = _ordpy_all(x, order, delay)
        assert ours["missing"] == theirs["missing"]
        for key in ("entropy", "entropy_nats", "complexity", "weighted"):
            assert abs(ours[key] - theirs[key]) <= 1e-12, (key, ours[key], theirs[key])


def test_documented_examples_by_hand() -> None:
    # Values computed by hand from the definitions (not by our code): x has order-2
    # patterns up, up, up, down, up, down: p = (4/6, 2/6).
    x = np.array([4.0, 7, 9, 10, 6, 11, 3])
    h = -(4 / 6 * math.log(4 / 6) + 2 / 6 * math.log(2 / 6))
    assert entroseg.permutation_entropy(x, order=2, normalize=False) == pytest.approx(h, abs=ATOL)
    assert entroseg.permutation_entropy(x, order=2) == pytest.approx(h / math.log(2), abs=ATOL)
    assert entroseg.missing_patterns(np.arange(10.0), order=3) == 5
    assert entroseg.permutation_entropy(np.arange(10.0)) == 0.0
    assert entroseg.statistical_complexity(np.arange(10.0)) == 0.0


# --------------------------------------------------------------------------------------
# out=: the rolling values written into the caller's array
# --------------------------------------------------------------------------------------

_ROLLING = [
    entroseg.permutation_entropy,
    entroseg.statistical_complexity,
    entroseg.missing_patterns,
]


@given(x=series(min_size=1, max_size=120), emb=embedding, data=st.data())
def test_out_holds_exactly_the_fresh_result(x: F64, emb: tuple[int, int], data: Any) -> None:
    order, delay = emb
    window = data.draw(st.integers((order - 1) * delay + 1, (order - 1) * delay + 30))
    if data.draw(st.booleans()):
        x = data.draw(with_non_finite(x))
    for f in _ROLLING:
        opts: dict[str, Any] = {
            "order": order,
            "delay": delay,
            "window": window,
            "nan_policy": "propagate",
        }
        want = f(x, **opts)
        # Stale values in the buffer must all be overwritten.
        buf = np.full(len(x), 7.5)
        got = f(x, out=buf, **opts)
        assert got is buf
        assert same_bits(buf, want)
        # The same buffer again, for another series of the same length.
        again = f(x[::-1].copy(), out=buf, **opts)
        assert again is buf and same_bits(buf, f(x[::-1].copy(), **opts))


def test_out_is_reused_across_calls_without_reallocation() -> None:
    rng = np.random.default_rng(3)
    buf = np.empty(10_000)
    address = buf.__array_interface__["data"][0]
    for _ in range(3):
        x = np.cumsum(rng.standard_normal(10_000))
        entroseg.permutation_entropy(x, order=4, window=64, out=buf)
        assert buf.__array_interface__["data"][0] == address
        assert same_bits(buf, entroseg.permutation_entropy(x, order=4, window=64))


def test_out_bad_buffers_are_refused_with_messages() -> None:
    x = np.cumsum(np.random.default_rng(0).standard_normal(100))
    pe = entroseg.permutation_entropy
    with pytest.raises(TypeError, match="1-D float64 numpy array, got float32"):
        pe(x, window=10, out=np.empty(100, dtype=np.float32))
    with pytest.raises(TypeError, match="got a 2-D array of float64"):
        pe(x, window=10, out=np.empty((100, 1)))
    with pytest.raises(TypeError, match="1-D float64 numpy array, got <class 'list'>"):
        pe(x, window=10, out=[0.0] * 100)
    with pytest.raises(entroseg.InvalidParameterError, match="out has 99 elements; the result has"):
        pe(x, window=10, out=np.empty(99))
    with pytest.raises(entroseg.InvalidParameterError, match="C-contiguous"):
        pe(x, window=10, out=np.empty(200)[::2])
    ro = np.empty(100)
    ro.flags.writeable = False
    with pytest.raises(entroseg.InvalidParameterError, match="out is read-only"):
        pe(x, window=10, out=ro)
    with pytest.raises(entroseg.InvalidParameterError, match="whole-series value is one number"):
        pe(x, out=np.empty(100))
    with pytest.raises(entroseg.InvalidParameterError, match="whole-series"):
        entroseg.missing_patterns(x, out=np.empty(100))


def test_out_may_not_overlap_the_input() -> None:
    base = np.cumsum(np.random.default_rng(1).standard_normal(300))
    x = base[:200]
    with pytest.raises(entroseg.InvalidParameterError, match="shares memory with the input x"):
        entroseg.permutation_entropy(x, window=10, out=x)
    with pytest.raises(entroseg.InvalidParameterError, match="shares memory"):
        entroseg.permutation_entropy(x, window=10, out=base[100:300])
    # A disjoint part of the same allocation is fine.
    other = np.empty(400)
    other[:200] = x
    got = entroseg.permutation_entropy(other[:200], window=10, out=other[200:])
    assert same_bits(got, entroseg.permutation_entropy(x, window=10))
