"""Streaming classes: any chunking, any pickle or checkpoint point, and reset give
bit-identical output to one pass; long streams do not drift."""

from __future__ import annotations

import itertools
import pickle
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import entroseg
import numpy as np
import numpy.typing as npt
import pytest
from _strategies import moderate_floats, same_bits
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

PE_STATISTICS = ["entropy", "complexity", "missing_patterns"]


@dataclass
class Case:
    """A stream, how to cut it, and what to do to the estimator after each chunk."""

    kind: str  # "pe", "ce" or "cpe"
    options: dict[str, Any]
    data: npt.NDArray[Any]
    cuts: list[int]
    actions: list[str] = field(default_factory=list)


def make(case: Case) -> Any:
    if case.kind == "pe":
        return entroseg.RollingPermutationEntropy(**case.options)
    if case.kind == "ce":
        return entroseg.RollingConditionalEntropy(**case.options)
    return entroseg.RollingConditionalPermutationEntropy(**case.options)


def one_pass(case: Case) -> npt.NDArray[np.float64]:
    """The one-shot function's output on the whole stream."""
    o = dict(case.options)
    if case.kind == "pe":
        statistic = o.pop("statistic", "entropy")
        if statistic == "entropy":
            return entroseg.permutation_entropy(case.data, **o)
        o.pop("normalize", None)
        o.pop("weighted", None)
        if statistic == "complexity":
            return entroseg.statistical_complexity(case.data, **o)
        return entroseg.missing_patterns(case.data, **o)
    if case.kind == "ce":
        return entroseg.conditional_entropy(case.data, **o)
    return entroseg.conditional_permutation_entropy(case.data, **o)


def run_chunked(case: Case) -> npt.NDArray[np.float64]:
    est = make(case)
    bounds = [0, *sorted(case.cuts), len(case.data)]
    parts = []
    for i, (lo, hi) in enumerate(itertools.pairwise(bounds)):
        chunk = case.data[lo:hi]
        action = case.actions[i] if i < len(case.actions) else "none"
        if action == "list":
            out = est.push(chunk.tolist())
        elif action == "strided":  # a non-contiguous view takes the copying path
            out = est.push(np.repeat(chunk, 2)[::2])
        else:
            out = est.push(chunk)
        assert out.shape == (hi - lo,) and out.dtype == np.float64
        assert est.samples_seen == hi
        parts.append(out)
        if action == "pickle":
            est = pickle.loads(pickle.dumps(est))
        elif action == "checkpoint":
            est = type(est).from_checkpoint(est.checkpoint())
    return np.concatenate(parts)


@st.composite
def cases(draw: st.DrawFn) -> Case:
    kind = draw(st.sampled_from(["pe", "ce", "cpe"]))
    n = draw(st.integers(0, 120))
    if kind == "ce":
        alphabet = draw(st.integers(1, 5))
        context = draw(st.integers(0, 3))
        data: npt.NDArray[Any] = draw(
            hnp.arrays(np.uint8, n, elements=st.integers(0, alphabet - 1))
        )
        options: dict[str, Any] = {
            "alphabet_size": alphabet,
            "context": context,
            "window": draw(st.integers(context + 1, context + 30)),
            "normalize": draw(st.booleans()),
        }
    else:
        order, delay = draw(st.integers(2, 5)), draw(st.integers(1, 3))
        levels = draw(st.sampled_from([2, 3, 0]))  # 0: continuous values
        if levels:
            data = draw(hnp.arrays(np.int64, n, elements=st.integers(0, levels - 1))).astype(float)
        else:
            data = draw(hnp.arrays(np.float64, n, elements=moderate_floats))
        nan_policy = draw(st.sampled_from(["raise", "propagate"]))
        if nan_policy == "propagate" and n:
            for i in draw(st.lists(st.integers(0, n - 1), max_size=3)):
                data[i] = draw(st.sampled_from([np.nan, np.inf]))
        options = {"order": order, "delay": delay, "nan_policy": nan_policy}
        span = (order - 1) * delay
        if kind == "pe":
            statistic = draw(st.sampled_from(PE_STATISTICS))
            options["statistic"] = statistic
            if statistic == "entropy":
                options["weighted"] = draw(st.booleans())
                options["normalize"] = draw(st.booleans())
            options["window"] = draw(st.integers(span + 1, span + 30))
        else:
            context = draw(st.integers(0, 2))
            options["context"] = context
            options["normalize"] = draw(st.booleans())
            options["window"] = draw(st.integers(span + context * delay + 1, span + 40))
    cuts = draw(st.lists(st.integers(0, n), max_size=8))
    actions = draw(
        st.lists(
            st.sampled_from(["none", "pickle", "checkpoint", "list", "strided"]),
            max_size=len(cuts) + 1,
        )
    )
    return Case(kind, options, data, cuts, actions)


_PE = {"window": 4, "order": 3, "nan_policy": "propagate"}
_CPE = {"window": 6, "order": 3, "context": 1, "nan_policy": "propagate"}
_CE = {"window": 5, "alphabet_size": 3, "context": 2}
_walk = np.cumsum(np.resize([1.0, -2.0, 0.5, 3.0, -1.0], 30))
_nan_at_edge = _walk.copy()
_nan_at_edge[[9, 10]] = np.nan  # the cut at 10 falls between two NaNs
_symbols = np.resize(np.array([0, 1, 2, 2, 1], dtype=np.uint8), 30)


@given(cases())
@example(Case("pe", _PE, _walk, [0, 0, 7, 7, 30, 30], ["none", "pickle"]))  # empty chunks
@example(Case("ce", _CE, _symbols, [0, 0, 13, 13], ["checkpoint", "pickle"]))
@example(Case("cpe", _CPE, _walk, [5, 5, 5], ["pickle", "none", "checkpoint"]))
@example(Case("pe", _PE, _walk, list(range(1, 30)), ["pickle"] * 30))  # one sample each
@example(Case("ce", _CE, _symbols, list(range(1, 30)), ["checkpoint"] * 30))
@example(Case("cpe", _CPE, _walk, list(range(1, 30)), ["checkpoint"] * 30))
@example(Case("pe", _PE, np.full(25, 2.5), [3, 11], ["pickle"]))  # constant input
@example(Case("pe", {**_PE, "weighted": True}, np.full(25, 2.5), [3, 11], ["checkpoint"]))
@example(Case("ce", _CE, np.zeros(25, dtype=np.uint8), [3, 11], ["pickle"]))
@example(Case("cpe", _CPE, np.full(25, -1.0), [3, 11], ["pickle"]))
@example(Case("pe", _PE, _nan_at_edge, [10], ["pickle"]))  # NaN at a chunk edge
@example(Case("pe", {**_PE, "weighted": True}, _nan_at_edge, [10], ["checkpoint"]))
@example(Case("pe", {**_PE, "statistic": "complexity"}, _nan_at_edge, [9, 11], ["pickle"]))
@example(Case("cpe", _CPE, _nan_at_edge, [10], ["checkpoint"]))
@example(Case("pe", _PE, np.array([]), [0], ["pickle"]))  # empty stream
@example(Case("pe", _PE, np.array([1.0]), [], []))  # one sample in all
def test_any_chunking_and_checkpoint_gives_the_one_pass_output(case: Case) -> None:
    got = run_chunked(case)
    if len(case.data) == 0:
        assert got.shape == (0,)
        return
    assert same_bits(got, one_pass(case))


@given(cases())
def test_reset_forgets_the_stream(case: Case) -> None:
    if len(case.data) == 0:
        return
    est = make(case)
    est.push(case.data[: len(case.data) // 2])
    est.reset()
    assert est.samples_seen == 0
    assert same_bits(est.push(case.data), one_pass(case))


# --------------------------------------------------------------------------------------
# No drift
# --------------------------------------------------------------------------------------

TEN_MILLION = 10_000_000


def _long_walk(n: int) -> npt.NDArray[np.float64]:
    """A random walk with bursts of very large and very small increments, so exact
    running sums are stressed by values of many magnitudes coming and going."""
    rng = np.random.default_rng(2024)
    steps = rng.standard_normal(n)
    steps[rng.integers(0, n, n // 1000)] *= 1e9
    steps[n // 3 : n // 3 + 100_000] *= 1e-9
    return np.cumsum(steps)


@pytest.fixture(scope="module")
def long_walk() -> npt.NDArray[np.float64]:
    return _long_walk(TEN_MILLION + 4321)


def last_push(est: Any, x: npt.NDArray[Any], pieces: int) -> npt.NDArray[np.float64]:
    """Feed ``x`` to ``est`` in ``pieces`` chunks; the values of the last chunk."""
    tail = np.empty(0)
    for chunk in np.array_split(x, pieces):
        tail = est.push(chunk)
    return tail


def assert_tail_is_one_shot(
    tail: npt.NDArray[np.float64],
    x: npt.NDArray[Any],
    window: int,
    one_shot: Callable[[npt.NDArray[Any]], float],
) -> None:
    """The last 49 values of a rolling estimator fed all of ``x`` are, bit for bit, the
    one-shot function of their windows."""
    for back in range(1, 50):
        t = len(x) - back
        assert same_bits(tail[-back], one_shot(x[t - window + 1 : t + 1])), back


@pytest.mark.parametrize(
    "options",
    [
        {"order": 5},
        {"order": 3, "weighted": True},
        {"order": 4, "statistic": "complexity"},
        {"order": 7, "delay": 2, "normalize": False},
    ],
    ids=["entropy", "weighted", "complexity", "nats-d7"],
)
def test_no_drift_after_ten_million_permutation_updates(
    long_walk: npt.NDArray[np.float64], options: dict[str, Any]
) -> None:
    window = 256
    est = entroseg.RollingPermutationEntropy(window=window, **options)
    tail = np.empty(0)
    for i, chunk in enumerate(np.array_split(long_walk, 37)):
        tail = est.push(chunk)
        if i == 18:  # a checkpoint half-way must not change anything either
            est = pickle.loads(pickle.dumps(est))
    assert est.samples_seen >= TEN_MILLION
    statistic = options.get("statistic", "entropy")
    one_shot = {k: v for k, v in options.items() if k != "statistic"}
    fn = entroseg.statistical_complexity if statistic == "complexity" else None
    assert_tail_is_one_shot(
        tail,
        long_walk,
        window,
        lambda part: fn(part, **one_shot) if fn else entroseg.permutation_entropy(part, **one_shot),
    )


def test_no_drift_after_ten_million_conditional_updates() -> None:
    rng = np.random.default_rng(7)
    s = rng.integers(0, 4, TEN_MILLION + 77).astype(np.uint8)
    s[: TEN_MILLION // 2] = (np.arange(TEN_MILLION // 2) % 4).astype(np.uint8)  # a regime
    window = 256
    for context in (3, 8):
        est = entroseg.RollingConditionalEntropy(window=window, alphabet_size=4, context=context)
        assert_tail_is_one_shot(
            last_push(est, s, 23),
            s,
            window,
            lambda part, c=context: entroseg.conditional_entropy(part, context=c, alphabet_size=4),
        )


def test_no_drift_after_ten_million_conditional_permutation_updates(
    long_walk: npt.NDArray[np.float64],
) -> None:
    window = 300
    est = entroseg.RollingConditionalPermutationEntropy(window=window, order=4, context=2)
    assert_tail_is_one_shot(
        last_push(est, long_walk, 11),
        long_walk,
        window,
        lambda part: entroseg.conditional_permutation_entropy(part, order=4, context=2),
    )


# --------------------------------------------------------------------------------------
# Attributes
# --------------------------------------------------------------------------------------


def test_attributes_and_repr() -> None:
    pe = entroseg.RollingPermutationEntropy(window=50, order=4, delay=2, weighted=True)
    pe.push(np.arange(10.0))
    assert (pe.window, pe.order, pe.delay, pe.samples_seen) == (50, 4, 2, 10)
    assert "weighted=True" in repr(pe) and "samples_seen=10" in repr(pe)
    ce = entroseg.RollingConditionalEntropy(window=9, alphabet_size=4, context=2)
    ce.push(np.zeros(3, dtype=np.uint8))
    assert (ce.window, ce.samples_seen) == (9, 3)
    assert "alphabet_size=4" in repr(ce)
    cpe = entroseg.RollingConditionalPermutationEntropy(window=20, order=3, context=2)
    cpe.push(np.arange(5.0))
    assert cpe.samples_seen == 5 and "context=2" in repr(cpe)
    restored = pickle.loads(pickle.dumps(cpe))
    assert restored.samples_seen == 5 and repr(restored) == repr(cpe)
