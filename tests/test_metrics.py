"""Change-point metrics: hand-computed cases, a set-based reference, and ruptures."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import ruptures.metrics
from entroseg import metrics
from entroseg.metrics import covering, f1_score, precision_recall
from hypothesis import given
from hypothesis import strategies as st


def partition(cps: list[int], n: int) -> list[set[int]]:
    """The segments of 0..n-1 as sets of indices (the definition, literally)."""
    bounds = [0, *sorted(c for c in set(cps) if 0 < c < n), n]
    return [set(range(a, b)) for a, b in itertools.pairwise(bounds)]


def covering_by_sets(true: list[int], pred: list[int], n: int) -> float:
    total = 0.0
    for a in partition(true, n):
        total += len(a) * max(len(a & b) / len(a | b) for b in partition(pred, n))
    return total / n


# -- hand-computed cases -------------------------------------------------------------


@pytest.mark.parametrize(
    ("true", "pred", "n", "expected"),
    [
        # TCPDBench's documented cases, as 0-based change points.
        ([3], [3, 5], 6, 5 / 6),  # true {0,1,2},{3,4,5}; pred {0,1,2},{3,4},{5}
        ([], [4], 6, 2 / 3),  # one true segment; best overlap 4/6
        ([3], [2, 4], 6, 2 / 3),  # each true segment overlaps a predicted pair 2/3
        ([1, 2, 3], [], 6, 1 / 3),  # (1/6 + 1/6 + 1/6) * 1 + (3/6) * 3, over 6
        ([50], [50], 100, 1.0),
        ([50], [], 100, 0.5),
        ([50, 100], [100], 100, 0.5),  # ruptures-style ends: n is ignored
    ],
)
def test_covering_hand_cases(true: list[int], pred: list[int], n: int, expected: float) -> None:
    assert covering(true, pred, n) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("true", "pred", "margin", "p", "r"),
    [
        ([10, 20], [10, 20], 5, 1.0, 1.0),
        ([100], [], 5, 1.0, 0.5),  # only the start matches
        ([10, 12], [11], 5, 1.0, 2 / 3),  # one prediction matches one true point only
        ([100], [105], 5, 1.0, 1.0),  # the margin is inclusive, as TCPDBench
        ([100], [106], 5, 0.5, 0.5),
        ([100, 200], [103, 150, 197, 199], 5, 3 / 5, 1.0),  # 200 takes the closer 199
    ],
)
def test_precision_recall_hand_cases(
    true: list[int], pred: list[int], margin: int, p: float, r: float
) -> None:
    assert precision_recall(true, pred, 300, margin=margin) == pytest.approx((p, r))
    f1 = f1_score(true, pred, 300, margin=margin)
    assert f1 == pytest.approx(2 * p * r / (p + r))


def test_bad_points_are_rejected() -> None:
    with pytest.raises(ValueError, match="must lie in"):
        covering([5], [120], 100)
    with pytest.raises(ValueError, match="integer indices"):
        f1_score([1.5], [2], 10)
    with pytest.raises(ValueError, match="n_samples must be >= 1"):
        covering([], [], 0)
    with pytest.raises(ValueError, match="margin must be >= 0"):
        f1_score([1], [2], 10, margin=-1)


# -- references ----------------------------------------------------------------------


@given(
    st.integers(1, 60).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.lists(st.integers(0, n), max_size=8),
            st.lists(st.integers(0, n), max_size=8),
        )
    )
)
def test_covering_equals_the_set_definition(case: tuple[int, list[int], list[int]]) -> None:
    n, true, pred = case
    value = covering(true, pred, n)
    assert value == pytest.approx(covering_by_sets(true, pred, n))
    assert 0.0 < value <= 1.0
    assert covering(true, true, n) == 1.0


@st.composite
def unambiguous(draw: st.DrawFn) -> tuple[list[int], list[int]]:
    """True points 40+ apart; each prediction within 8 of one true point or 20+ from all."""
    gaps = draw(st.lists(st.integers(40, 80), min_size=1, max_size=6))
    true = np.cumsum(gaps).tolist()
    pred: list[int] = []
    for t in true:
        if draw(st.booleans()):
            pred.append(t + draw(st.integers(-8, 8)))
        if draw(st.booleans()):
            pred.append(t + 20)
    return true, sorted(pred)


@given(unambiguous())
def test_precision_recall_agree_with_ruptures(case: tuple[list[int], list[int]]) -> None:
    true, pred = case
    n = true[-1] + 100
    p, r = precision_recall(true, pred, n, margin=5)
    # TCPDBench counts the start as a matched change point in both sets; ruptures does
    # not, and its margin is strict (|d| < margin): remove the start, widen by one.
    hits = round(r * (len(true) + 1)) - 1
    assert round(p * (len(pred) + 1)) - 1 == hits
    rp, rr = ruptures.metrics.precision_recall([*true, n], [*pred, n], margin=6)
    if pred:
        assert rp == pytest.approx(hits / len(pred))
        assert rr == pytest.approx(hits / len(true))


@given(
    values=st.lists(st.floats(-100, 100), min_size=1, max_size=120),
    cuts=st.lists(st.integers(1, 119), max_size=10),
    coefficients=st.integers(1, 6),
)
def test_reconstruction_error_is_the_residual_of_each_patch(
    values: list[float], cuts: list[int], coefficients: int
) -> None:
    from scipy.fft import dct

    x = np.asarray(values)
    starts = sorted({0, *(c for c in cuts if c < len(x))})
    ends = [*starts[1:], len(x)]
    line = 0.0
    cosine = 0.0
    for a, b in zip(starts, ends, strict=True):
        y = x[a:b]
        if len(y) > 2:
            t = np.arange(len(y))
            line += float(np.sum((y - np.polyval(np.polyfit(t, y, 1), t)) ** 2))
        if len(y) > coefficients:
            cosine += float(np.sum(dct(y, norm="ortho")[coefficients:] ** 2))
    scale = 1e-9 * (1.0 + float(np.sum(x * x)))
    assert abs(metrics.reconstruction_error(x, starts) - line) <= scale
    got = metrics.reconstruction_error(x, starts, basis="dct", coefficients=coefficients)
    assert abs(got - cosine) <= scale


def test_reconstruction_error_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="starts must increase from 0"):
        metrics.reconstruction_error(np.zeros(5), [1, 3])
    with pytest.raises(ValueError, match="finite"):
        metrics.reconstruction_error(np.array([0.0, np.nan]), [0])
    with pytest.raises(ValueError, match="basis must be"):
        metrics.reconstruction_error(np.zeros(5), [0], basis="poly")
