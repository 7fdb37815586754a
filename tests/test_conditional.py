"""Conditional (block) entropy of symbol streams and conditional permutation entropy:
fast paths against the slow reference and against themselves."""

from __future__ import annotations

import math

import entroseg
import numpy as np
import numpy.typing as npt
import pytest
from _strategies import ATOL, F64, close, embedding, same_bits, series, with_non_finite
from entroseg import _reference as ref
from hypothesis import assume, example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

Symbols = npt.NDArray[np.int64]


@st.composite
def symbol_streams(draw: st.DrawFn, max_size: int = 80) -> tuple[Symbols, int]:
    """Symbols and an alphabet size; some streams are periodic so that the conditional
    entropy differs from the marginal one."""
    alphabet = draw(st.integers(1, 6))
    n = draw(st.integers(1, max_size))
    if draw(st.booleans()):
        s = draw(hnp.arrays(np.int64, n, elements=st.integers(0, alphabet - 1)))
    else:
        period = draw(st.integers(1, 5))
        base = draw(hnp.arrays(np.int64, period, elements=st.integers(0, alphabet - 1)))
        s = np.resize(base, n)
        flips = draw(st.lists(st.integers(0, n - 1), max_size=3))
        s[flips] = (s[flips] + 1) % alphabet
    return s, alphabet


@given(symbol_streams(), st.integers(0, 4), st.booleans(), st.data())
@example((np.array([0, 1, 0, 1, 0, 1, 0, 1]), 2), 1, True, None)  # fully predictable
@example((np.zeros(5, dtype=np.int64), 1), 0, True, None)  # one-symbol alphabet
def test_fast_equals_reference(
    stream: tuple[Symbols, int], k: int, normalize: bool, data: st.DataObject | None
) -> None:
    s, a = stream
    assume(len(s) > k)
    window = None
    if isinstance(data, st.DataObject):
        window = data.draw(st.none() | st.integers(k + 1, len(s)), label="window")
    kw = {"context": k, "alphabet_size": a, "normalize": normalize, "window": window}
    fast = entroseg.conditional_entropy(s, **kw)
    assert close(fast, ref.conditional_entropy(s, **kw)), (fast, ref.conditional_entropy(s, **kw))


@pytest.mark.parametrize(
    ("alphabet", "context"),
    [(4, 3), (4, 8), (4, 12), (4, 31), (256, 1), (256, 3), (256, 7), (5, 10), (1, 4)],
)
def test_dense_and_hashed_counts_equal_reference(alphabet: int, context: int) -> None:
    # Grams of more than 22 bits are counted in hash maps, smaller ones in dense arrays.
    rng = np.random.default_rng(alphabet * 100 + context)
    s = (rng.integers(0, alphabet, 600) + np.arange(600) % 3) % alphabet
    for window in (None, context + 1, context + 40):
        kw = {"context": context, "alphabet_size": alphabet, "window": window}
        assert close(entroseg.conditional_entropy(s, **kw), ref.conditional_entropy(s, **kw))


@given(symbol_streams(), st.integers(0, 3), st.data())
def test_rolling_value_is_the_whole_series_value_of_its_window(
    stream: tuple[Symbols, int], k: int, data: st.DataObject
) -> None:
    s, a = stream
    assume(len(s) > k)
    window = data.draw(st.integers(k + 1, len(s)), label="window")
    rolling = entroseg.conditional_entropy(s, context=k, window=window, alphabet_size=a)
    assert rolling.shape == s.shape and np.isnan(rolling[: window - 1]).all()
    for t in range(window - 1, len(s)):
        whole = entroseg.conditional_entropy(s[t - window + 1 : t + 1], context=k, alphabet_size=a)
        assert same_bits(rolling[t], whole), t


@given(symbol_streams(), st.integers(0, 3))
def test_normalized_values_lie_in_the_unit_interval(stream: tuple[Symbols, int], k: int) -> None:
    s, a = stream
    assume(len(s) > k)
    for window in (None, k + 1, len(s)):
        v = np.asarray(entroseg.conditional_entropy(s, context=k, window=window, alphabet_size=a))
        v = v[~np.isnan(v)]
        assert np.all((v >= 0.0) & (v <= 1.0))
        nats = entroseg.conditional_entropy(s, context=k, alphabet_size=a, normalize=False)
        assert 0.0 <= nats <= math.log(a) if a > 1 else nats == 0.0


@given(symbol_streams())
def test_context_zero_is_the_shannon_entropy_of_the_symbols(stream: tuple[Symbols, int]) -> None:
    s, a = stream
    _, counts = np.unique(s, return_counts=True)
    p = counts / counts.sum()
    shannon = float(-np.sum(p * np.log(p)))
    got = entroseg.conditional_entropy(s, context=0, alphabet_size=a, normalize=False)
    assert abs(got - shannon) <= ATOL


@given(symbol_streams(), st.integers(0, 3))
def test_alphabet_size_defaults_to_the_largest_symbol_plus_one(
    stream: tuple[Symbols, int], k: int
) -> None:
    s, _ = stream
    assume(len(s) > k)
    explicit = entroseg.conditional_entropy(s, context=k, alphabet_size=int(s.max()) + 1)
    assert same_bits(entroseg.conditional_entropy(s, context=k), explicit)


@pytest.mark.parametrize(
    "dtype",
    [np.uint8, np.uint16, np.uint32, np.uint64, np.int8, np.int16, np.int32, np.int64],
)
def test_every_integer_dtype_gives_the_same_bits(dtype: type) -> None:
    s = np.random.default_rng(0).integers(0, 4, 500)
    want = entroseg.conditional_entropy(s.astype(np.uint8), context=2, window=50, alphabet_size=4)
    got = entroseg.conditional_entropy(s.astype(dtype), context=2, window=50, alphabet_size=4)
    assert same_bits(got, want)
    listed = entroseg.conditional_entropy(s.tolist(), context=2, window=50, alphabet_size=4)
    assert same_bits(listed, want)
    strided = entroseg.conditional_entropy(
        np.repeat(s.astype(dtype), 2)[::2], context=2, window=50, alphabet_size=4
    )
    assert same_bits(strided, want)


# --------------------------------------------------------------------------------------
# Conditional permutation entropy
# --------------------------------------------------------------------------------------


def long_enough(x: F64, emb: tuple[int, int], k: int) -> int:
    """The samples one (k+1)-gram of patterns spans; shorter examples are discarded."""
    d, tau = emb
    need = (d - 1 + k) * tau + 1
    assume(len(x) >= need)
    return need


@given(series(min_size=1), embedding, st.integers(0, 2), st.booleans(), st.data())
def test_conditional_permutation_entropy_equals_reference(
    x: F64, emb: tuple[int, int], k: int, normalize: bool, data: st.DataObject
) -> None:
    d, tau = emb
    need = long_enough(x, emb, k)
    window = data.draw(st.none() | st.integers(need, len(x)), label="window")
    kw = {"order": d, "delay": tau, "context": k, "window": window, "normalize": normalize}
    fast = entroseg.conditional_permutation_entropy(x, **kw)
    assert close(fast, ref.conditional_permutation_entropy(x, **kw))


@given(series(min_size=1), embedding, st.integers(0, 2), st.data())
def test_conditional_permutation_rolling_is_whole_series_of_its_window(
    x: F64, emb: tuple[int, int], k: int, data: st.DataObject
) -> None:
    d, tau = emb
    need = long_enough(x, emb, k)
    window = data.draw(st.integers(need, len(x)), label="window")
    kw = {"order": d, "delay": tau, "context": k}
    rolling = entroseg.conditional_permutation_entropy(x, window=window, **kw)
    assert np.isnan(rolling[: window - 1]).all()
    for t in range(window - 1, len(x)):
        whole = entroseg.conditional_permutation_entropy(x[t - window + 1 : t + 1], **kw)
        assert same_bits(rolling[t], whole)
        assert 0.0 <= whole <= 1.0


@given(series(min_size=1), embedding, st.integers(0, 2), st.data())
def test_conditional_permutation_nan_windows_and_recovery(
    x: F64, emb: tuple[int, int], k: int, data: st.DataObject
) -> None:
    d, tau = emb
    need = long_enough(x, emb, k)
    x = data.draw(with_non_finite(x), label="x with NaN")
    window = data.draw(st.integers(need, len(x)), label="window")
    kw = {"order": d, "delay": tau, "context": k, "nan_policy": "propagate"}
    rolling = entroseg.conditional_permutation_entropy(x, window=window, **kw)
    for t in range(window - 1, len(x)):
        part = x[t - window + 1 : t + 1]
        if np.all(np.isfinite(part)):
            assert same_bits(rolling[t], entroseg.conditional_permutation_entropy(part, **kw))
        else:
            assert np.isnan(rolling[t])
    assert close(rolling, ref.conditional_permutation_entropy(x, window=window, **kw))
    whole = entroseg.conditional_permutation_entropy(x, **kw)
    assert math.isnan(whole) == (not np.all(np.isfinite(x)))


@given(series(min_size=1), embedding)
def test_conditional_permutation_context_zero_is_permutation_entropy(
    x: F64, emb: tuple[int, int]
) -> None:
    d, tau = emb
    assume(len(x) > (d - 1) * tau)
    cpe = entroseg.conditional_permutation_entropy(x, order=d, delay=tau, context=0)
    assert abs(cpe - entroseg.permutation_entropy(x, order=d, delay=tau)) <= ATOL


@pytest.mark.parametrize("order", [6, 7, 8])
def test_conditional_permutation_high_orders_equal_reference(order: int) -> None:
    # Pattern codes up to 8! are symbols of a 16-bit alphabet: grams are hashed.
    rng = np.random.default_rng(order)
    x = np.cumsum(rng.integers(-2, 3, 400)).astype(np.float64)
    for k in (0, 1, 2):
        assert close(
            entroseg.conditional_permutation_entropy(x, order=order, context=k),
            ref.conditional_permutation_entropy(x, order=order, context=k),
        )


def test_out_holds_exactly_the_fresh_rolling_values() -> None:
    rng = np.random.default_rng(5)
    symbols = rng.integers(0, 4, 5_000).astype(np.uint8)
    x = np.cumsum(rng.standard_normal(5_000))
    buf = np.full(5_000, -1.0)
    got = entroseg.conditional_entropy(symbols, context=2, window=100, out=buf)
    assert got is buf
    assert same_bits(buf, entroseg.conditional_entropy(symbols, context=2, window=100))
    got = entroseg.conditional_permutation_entropy(x, order=3, window=100, out=buf)
    assert got is buf
    assert same_bits(buf, entroseg.conditional_permutation_entropy(x, order=3, window=100))


def test_out_errors_name_the_problem() -> None:
    symbols = np.zeros(50, dtype=np.uint8)
    with pytest.raises(entroseg.InvalidParameterError, match="whole-series value is one number"):
        entroseg.conditional_entropy(symbols, out=np.empty(50))
    with pytest.raises(entroseg.InvalidParameterError, match="out has 49 elements"):
        entroseg.conditional_entropy(symbols, window=10, out=np.empty(49))
    with pytest.raises(TypeError, match="got int64"):
        entroseg.conditional_permutation_entropy(
            np.arange(50.0), window=10, out=np.empty(50, dtype=np.int64)
        )
    with pytest.raises(entroseg.InvalidParameterError, match="whole-series"):
        entroseg.conditional_permutation_entropy(np.arange(50.0), out=np.empty(50))
