"""Bad input: each case raises a typed exception whose message names the value and the
limit; nothing panics (a pyo3 PanicException is a BaseException and would escape the
``pytest.raises`` below, failing the test)."""

from __future__ import annotations

import pickle
import re
from collections.abc import Callable
from typing import Any

import entroseg
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

X = np.random.default_rng(0).standard_normal(200)
S = np.random.default_rng(1).integers(0, 4, 200).astype(np.uint8)

# Every function taking a real series, with its minimal extra options.
SERIES_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "permutation_entropy": entroseg.permutation_entropy,
    "permutation_entropy_rolling": lambda x, **k: entroseg.permutation_entropy(x, window=50, **k),
    "weighted": lambda x, **k: entroseg.permutation_entropy(x, weighted=True, **k),
    "statistical_complexity": entroseg.statistical_complexity,
    "missing_patterns": entroseg.missing_patterns,
    "ordinal_patterns": entroseg.ordinal_patterns,
    "conditional_permutation_entropy": entroseg.conditional_permutation_entropy,
    "cpe_rolling": lambda x, **k: entroseg.conditional_permutation_entropy(x, window=50, **k),
}
EMBEDDING_FUNCTIONS = {k: v for k, v in SERIES_FUNCTIONS.items()}
ALL_SERIES = pytest.mark.parametrize("fn", list(SERIES_FUNCTIONS.values()), ids=SERIES_FUNCTIONS)


def _streaming_pe(x: Any, **k: Any) -> Any:
    return entroseg.RollingPermutationEntropy(window=50, **k).push(x)


def _streaming_cpe(x: Any, **k: Any) -> Any:
    return entroseg.RollingConditionalPermutationEntropy(window=50, **k).push(x)


STREAMING_SERIES = pytest.mark.parametrize(
    "fn", [_streaming_pe, _streaming_cpe], ids=["RollingPE", "RollingCPE"]
)


def _raises(exc: type[BaseException], *fragments: str) -> Any:
    """pytest.raises whose message must contain every fragment (as literal text)."""
    return pytest.raises(exc, match="(?s)" + "".join(f"(?=.*{re.escape(f)})" for f in fragments))


# --------------------------------------------------------------------------------------
# Shape, size and dtype of the data
# --------------------------------------------------------------------------------------


@ALL_SERIES
def test_empty_input(fn: Callable[..., Any]) -> None:
    with _raises(entroseg.EmptyInputError, "x is empty", "at least one sample"):
        fn(np.array([]))
    with _raises(entroseg.EmptyInputError, "x is empty"):
        fn([])


def test_empty_symbols_and_quantizer_input() -> None:
    with _raises(entroseg.EmptyInputError, "symbols is empty"):
        entroseg.conditional_entropy(np.array([], dtype=np.uint8))
    with _raises(entroseg.EmptyInputError, "symbols is empty"):
        entroseg.conditional_entropy([])
    with _raises(entroseg.EmptyInputError, "x is empty"):
        entroseg.quantize(np.array([]))
    with _raises(entroseg.EmptyInputError, "empty sample"):
        entroseg.quantize(X, method="quantile", sample=np.array([]))


def test_streaming_updates_accept_empty_chunks() -> None:
    assert entroseg.RollingPermutationEntropy(window=5).push(np.array([])).shape == (0,)
    ce = entroseg.RollingConditionalEntropy(window=5, alphabet_size=4)
    assert ce.push([]).shape == (0,) and ce.push(np.array([], dtype=np.int64)).shape == (0,)


@ALL_SERIES
@pytest.mark.parametrize(("bad", "shape"), [(np.zeros((4, 50)), "(4, 50)"), (np.float64(3), "()")])
def test_not_one_dimensional(fn: Callable[..., Any], bad: Any, shape: str) -> None:
    with _raises(entroseg.InvalidParameterError, "1-D", shape):
        fn(bad)


def test_not_one_dimensional_symbols_and_chunks() -> None:
    with _raises(entroseg.InvalidParameterError, "symbols must be a 1-D", "(2, 100)"):
        entroseg.conditional_entropy(S.reshape(2, 100))
    with _raises(entroseg.InvalidParameterError, "chunk must be a 1-D", "(2, 100)"):
        entroseg.RollingPermutationEntropy(window=5).push(X.reshape(2, 100))
    with _raises(entroseg.InvalidParameterError, "chunk must be a 1-D"):
        entroseg.RollingConditionalEntropy(window=5, alphabet_size=4).push(S.reshape(2, 100))


NON_NUMERIC = {
    "complex": X.astype(np.complex128),
    "bool": X > 0,
    "str": X.astype(str),
    "object": X.astype(object),
    "datetime": np.arange(200).astype("datetime64[s]"),
}


@ALL_SERIES
@pytest.mark.parametrize("name", list(NON_NUMERIC))
def test_non_numeric_dtypes_are_type_errors(fn: Callable[..., Any], name: str) -> None:
    # bool is rejected too: True/False are not measurements, and silently ranking them
    # as 1.0/0.0 would hide a mistake (a mask passed instead of the data).
    bad = NON_NUMERIC[name]
    with _raises(TypeError, "real numeric dtype", str(bad.dtype)):
        fn(bad)


@STREAMING_SERIES
@pytest.mark.parametrize("name", list(NON_NUMERIC))
def test_non_numeric_chunks_are_type_errors(fn: Callable[..., Any], name: str) -> None:
    with _raises(TypeError, "chunk must have a real numeric dtype"):
        fn(NON_NUMERIC[name])


@pytest.mark.parametrize(
    "bad", [X, X > 0, X.astype(np.complex64), X.astype(str)], ids=["float", "bool", "c", "s"]
)
def test_symbols_must_be_integers(bad: Any) -> None:
    with _raises(TypeError, "integer array of symbols", str(bad.dtype)):
        entroseg.conditional_entropy(bad, alphabet_size=4)
    with _raises(TypeError, "chunk must be an integer array"):
        entroseg.RollingConditionalEntropy(window=5, alphabet_size=4).push(bad)


# --------------------------------------------------------------------------------------
# NaN and infinity
# --------------------------------------------------------------------------------------


@ALL_SERIES
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_under_raise_names_value_and_index(fn: Callable[..., Any], value: float) -> None:
    x = X.copy()
    x[137] = value
    text = {"nan": "NaN", "inf": "inf", "-inf": "-inf"}[str(value)]
    with _raises(entroseg.NonFiniteError, f"contains {text} at index 137", "propagate"):
        fn(x)
    with _raises(ValueError, "index 137"):  # a NonFiniteError is a ValueError
        fn(x, nan_policy="raise")


@STREAMING_SERIES
def test_streaming_non_finite_names_the_stream_position_and_keeps_state(
    fn: Callable[..., Any],
) -> None:
    cls = (
        entroseg.RollingPermutationEntropy
        if fn is _streaming_pe
        else entroseg.RollingConditionalPermutationEntropy
    )
    est = cls(window=50)
    first = est.push(X[:120])
    bad = X[120:].copy()
    bad[3] = np.nan
    with _raises(entroseg.NonFiniteError, "index 3 of this chunk", "sample 123 of the stream"):
        est.push(bad)
    # The failed call changed nothing: the clean continuation gives the one-pass output.
    assert est.samples_seen == 120
    rest = est.push(X[120:])
    assert np.array_equal(np.concatenate([first, rest]), fn(X), equal_nan=True)


def test_quantizers_reject_non_finite_values() -> None:
    x = X.copy()
    x[5] = np.nan
    for method in ("uniform", "mean_scale", "quantile"):
        with _raises(entroseg.NonFiniteError, "input contains NaN at index 5"):
            entroseg.quantize(x, method=method)  # type: ignore[arg-type]
        with _raises(entroseg.NonFiniteError, "the sample contains NaN at index 5"):
            entroseg.quantize(X, method=method, sample=x)  # type: ignore[arg-type]


def test_bad_nan_policy() -> None:
    with _raises(entroseg.InvalidParameterError, "nan_policy", "'raise' or 'propagate'", '"omit"'):
        entroseg.permutation_entropy(X, nan_policy="omit")  # type: ignore[call-overload]


def test_weighted_rejects_magnitudes_whose_variances_overflow() -> None:
    x = X.copy()
    x[10] = 3e200
    with _raises(entroseg.InvalidParameterError, "|x| <= 1e100", "3e200 at index 10"):
        entroseg.permutation_entropy(x, weighted=True)
    # The unweighted statistics only compare samples: any finite magnitude is fine.
    assert 0.0 < entroseg.permutation_entropy(x) <= 1.0


# --------------------------------------------------------------------------------------
# Options out of range
# --------------------------------------------------------------------------------------


@ALL_SERIES
@pytest.mark.parametrize("order", [-3, 0, 1, entroseg.MAX_ORDER + 1, 1000])
def test_order_outside_the_supported_range(fn: Callable[..., Any], order: int) -> None:
    with _raises(entroseg.InvalidParameterError, f"order must be in 2..={entroseg.MAX_ORDER}"):
        fn(X, order=order)


@ALL_SERIES
@pytest.mark.parametrize("delay", [-1, 0])
def test_delay_below_one(fn: Callable[..., Any], delay: int) -> None:
    with _raises(entroseg.InvalidParameterError, "delay must be >= 1", f"got {delay}"):
        fn(X, delay=delay)


@pytest.mark.parametrize(("order", "delay"), [(3, 1), (4, 3), (10, 2)])
def test_window_shorter_than_one_pattern(order: int, delay: int) -> None:
    need = (order - 1) * delay + 1
    for window in (1, need - 1):
        with _raises(entroseg.InvalidParameterError, f"window >= {need}", f"got {window}"):
            entroseg.permutation_entropy(X, order=order, delay=delay, window=window)
        with _raises(entroseg.InvalidParameterError, f"window >= {need}", f"got {window}"):
            entroseg.RollingPermutationEntropy(window=window, order=order, delay=delay)
    with _raises(entroseg.InvalidParameterError, "window must be >= 1", "got 0"):
        entroseg.permutation_entropy(X, window=0)
    with _raises(entroseg.InvalidParameterError, "window must be >= 1", "got -5"):
        entroseg.RollingPermutationEntropy(window=-5)


def test_conditional_windows_and_contexts() -> None:
    need = (3 - 1 + 2) * 2 + 1
    with _raises(entroseg.InvalidParameterError, f"window >= (order-1+context)*delay + 1 = {need}"):
        entroseg.conditional_permutation_entropy(X, delay=2, context=2, window=need - 1)
    with _raises(entroseg.InvalidParameterError, "window >= 4 samples", "got 3"):
        entroseg.conditional_entropy(S, context=3, window=3, alphabet_size=4)
    with _raises(entroseg.InvalidParameterError, "window >= 3 samples", "got 2"):
        entroseg.RollingConditionalEntropy(window=2, alphabet_size=4, context=2)
    with _raises(entroseg.InvalidParameterError, "context must be >= 0", "got -1"):
        entroseg.conditional_entropy(S, context=-1)
    with _raises(entroseg.InvalidParameterError, "context must be <= 7 for alphabet_size 256"):
        entroseg.conditional_entropy(S, context=8, alphabet_size=256)
    with _raises(entroseg.InvalidParameterError, "context must be <= 31 for alphabet_size 4"):
        entroseg.RollingConditionalEntropy(window=100, alphabet_size=4, context=32)
    with _raises(entroseg.InvalidParameterError, "context must be <= 1 for order 10", "got 2"):
        entroseg.conditional_permutation_entropy(X, order=10, context=2)


def test_too_short_for_one_pattern_or_gram() -> None:
    with _raises(entroseg.EmptyInputError, "at least (order-1)*delay + 1 = 9 samples", "got 5"):
        entroseg.permutation_entropy(X[:5], order=5, delay=2)
    with _raises(entroseg.EmptyInputError, "context*lag + 1 = 4 symbols", "got 3"):
        entroseg.conditional_entropy(S[:3], context=3)
    with _raises(entroseg.EmptyInputError, "(order-1+context)*delay + 1 = 4 samples", "got 3"):
        entroseg.conditional_permutation_entropy(X[:3], order=3, context=1)


def test_weighted_complexity_is_undefined() -> None:
    with _raises(entroseg.InvalidParameterError, "weighted=True is defined for entropy only"):
        entroseg.RollingPermutationEntropy(window=10, weighted=True, statistic="complexity")
    with _raises(entroseg.InvalidParameterError, "statistic must be", '"variance"'):
        entroseg.RollingPermutationEntropy(window=10, statistic="variance")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------
# Symbols and alphabets
# --------------------------------------------------------------------------------------


def test_symbols_outside_the_alphabet() -> None:
    s = S.copy()
    s[77] = 9
    with _raises(entroseg.SymbolOutOfRangeError, "symbol 9 at index 77", "alphabet 0..4"):
        entroseg.conditional_entropy(s, alphabet_size=4)
    ce = entroseg.RollingConditionalEntropy(window=10, alphabet_size=4)
    ce.push(S[:50])
    with _raises(entroseg.SymbolOutOfRangeError, "symbol 9 at index 27", "alphabet_size=4"):
        ce.push(s[50:])
    assert ce.samples_seen == 50  # the failed update changed nothing
    neg = S.astype(np.int16)
    neg[12] = -2
    with _raises(entroseg.SymbolOutOfRangeError, "symbol -2 at index 12", "negative"):
        entroseg.conditional_entropy(neg, alphabet_size=4)
    with _raises(entroseg.SymbolOutOfRangeError, "negative"):
        ce.push(neg)
    huge = S.astype(np.uint64)
    huge[3] = 2**40
    with _raises(entroseg.SymbolOutOfRangeError, f"symbol {2**40} at index 3"):
        entroseg.conditional_entropy(huge, alphabet_size=4)
    wide = S.astype(np.int64)
    wide[0] = 300
    with _raises(entroseg.InvalidParameterError, "symbols go up to 300", "256 symbols"):
        entroseg.conditional_entropy(wide)


@pytest.mark.parametrize("alphabet_size", [-1, 0, 257, 10**6])
def test_alphabet_size_out_of_range(alphabet_size: int) -> None:
    limit = "must be >= 1" if alphabet_size < 1 else "must be in 1..=256"
    with _raises(entroseg.InvalidParameterError, "alphabet_size", limit, f"got {alphabet_size}"):
        entroseg.conditional_entropy(S, alphabet_size=alphabet_size)
    with _raises(entroseg.InvalidParameterError, "alphabet_size", limit, f"got {alphabet_size}"):
        entroseg.RollingConditionalEntropy(window=10, alphabet_size=alphabet_size)


# --------------------------------------------------------------------------------------
# Quantizer options
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("bins", [-4, 0, 257])
def test_bins_out_of_range(bins: int) -> None:
    for method in ("uniform", "mean_scale", "quantile"):
        with _raises(entroseg.InvalidParameterError, "bins must be in 1..=256", f"got {bins}"):
            entroseg.quantize(X, method=method, bins=bins)  # type: ignore[arg-type]


def test_quantizer_option_errors() -> None:
    with _raises(entroseg.InvalidParameterError, "method must be", '"kmeans"'):
        entroseg.quantize(X, method="kmeans")  # type: ignore[arg-type]
    with _raises(entroseg.InvalidParameterError, "low/high apply to method='uniform' only"):
        entroseg.quantize(X, method="quantile", low=0.0)
    with _raises(entroseg.InvalidParameterError, "low < high", "low=2, high=1"):
        entroseg.quantize(X, low=2.0, high=1.0)
    with _raises(entroseg.InvalidParameterError, "low=-1e308"):
        entroseg.quantize(X, low=-1e308, high=1e308)  # the bin width overflows
    with _raises(entroseg.InvalidParameterError, "limit must be finite and > 0", "got -1"):
        entroseg.quantize(X, method="mean_scale", limit=-1.0)


# --------------------------------------------------------------------------------------
# Checkpoints and pickles
# --------------------------------------------------------------------------------------


def _estimators() -> dict[str, Any]:
    pe = entroseg.RollingPermutationEntropy(window=20, order=4, weighted=True)
    pe.push(X[:77])
    ce = entroseg.RollingConditionalEntropy(window=20, alphabet_size=4, context=2)
    ce.push(S[:77])
    cpe = entroseg.RollingConditionalPermutationEntropy(window=20, order=3, context=1, delay=2)
    cpe.push(X[:77])
    return {"pe": pe, "ce": ce, "cpe": cpe}


def test_checkpoint_fed_to_the_wrong_class_names_both() -> None:
    est = _estimators()
    names = {
        "pe": "PermutationEstimator",
        "ce": "ConditionalEstimator",
        "cpe": "ConditionalPermutationEstimator",
    }
    for source, obj in est.items():
        state = obj.checkpoint()
        _, (pickled_state,) = obj.__reduce__()  # what pickle stores
        for target, other in est.items():
            if target == source:
                continue
            for blob in (state, pickled_state):
                with _raises(
                    entroseg.CheckpointError, f'written by "{names[source]}"', names[target]
                ):
                    type(other).from_checkpoint(blob)


@pytest.mark.parametrize("kind", ["pe", "ce", "cpe"])
def test_truncated_checkpoints_fail_cleanly_at_every_length(kind: str) -> None:
    obj = _estimators()[kind]
    state = obj.checkpoint()
    for cut in range(len(state)):
        with pytest.raises(entroseg.CheckpointError):
            type(obj).from_checkpoint(state[:cut])
    with _raises(entroseg.CheckpointError, "checksum"):
        type(obj).from_checkpoint(state + b"\0")


def test_foreign_and_future_checkpoints() -> None:
    cls = entroseg.RollingPermutationEntropy
    with _raises(entroseg.CheckpointError, "not an entroseg checkpoint"):
        cls.from_checkpoint(b"")
    with _raises(entroseg.CheckpointError, "not an entroseg checkpoint"):
        cls.from_checkpoint(pickle.dumps([1, 2, 3]))
    state = bytearray(cls(window=10).checkpoint())
    state[4] = 99  # format version
    with _raises(entroseg.CheckpointError, "version 99 is not supported"):
        cls.from_checkpoint(bytes(state))
    with pytest.raises(TypeError):
        cls.from_checkpoint("ESEG")  # type: ignore[arg-type]


@given(st.sampled_from(["pe", "ce", "cpe"]), st.data())
def test_corrupt_checkpoints_are_refused(kind: str, data: st.DataObject) -> None:
    obj = _estimators()[kind]
    original = obj.checkpoint()
    state = bytearray(original)
    for _ in range(data.draw(st.integers(1, 4), label="changes")):
        i = data.draw(st.integers(0, len(state) - 1), label="byte")
        state[i] = data.draw(st.integers(0, 255), label="value")
    if bytes(state) == original:
        return
    # The checksum catches every changed byte, wherever it lies (magic, version, tag,
    # options, samples): no corrupted state is ever restored.
    with pytest.raises(entroseg.CheckpointError):
        type(obj).from_checkpoint(bytes(state))
