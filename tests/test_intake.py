"""Array intake: which inputs are borrowed, which are converted, and that conversion
never changes a result."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from typing import Any

import entroseg
import numpy as np
import pytest
from _strategies import same_bits

N = 1_000_000  # 8 MB of float64: large against everything else a call allocates
X = np.cumsum(np.random.default_rng(5).standard_normal(N))


def _peak_bytes(fn: Callable[[], Any]) -> int:
    """Peak memory numpy and Python allocate during ``fn()`` (numpy reports its buffers to
    tracemalloc, so a copy of the input shows up here)."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: entroseg.permutation_entropy(x, order=5),
        lambda x: entroseg.permutation_entropy(x, order=3, weighted=True),
        lambda x: entroseg.statistical_complexity(x, order=4),
        lambda x: entroseg.conditional_permutation_entropy(x, order=3),
    ],
    ids=["pe", "weighted", "complexity", "cpe"],
)
def test_contiguous_float64_input_is_not_copied(fn: Callable[[Any], Any]) -> None:
    fn(X[:1000])  # warm up lazily built tables outside the measurement
    borrowed = _peak_bytes(lambda: fn(X))
    converted = _peak_bytes(lambda: fn(X.astype(np.float32)))
    assert borrowed < N  # well below the 8 MB a float64 copy would take
    assert converted >= 8 * N  # the control: a dtype change must copy


def test_contiguous_uint8_symbols_are_not_copied() -> None:
    s = np.random.default_rng(0).integers(0, 4, 8 * N).astype(np.uint8)
    entroseg.conditional_entropy(s[:1000], context=3, alphabet_size=4)
    assert _peak_bytes(lambda: entroseg.conditional_entropy(s, context=3, alphabet_size=4)) < N
    as_int64 = s.astype(np.int64)
    peak = _peak_bytes(lambda: entroseg.conditional_entropy(as_int64, context=3, alphabet_size=4))
    assert peak >= 8 * N  # converted to a narrow unsigned type first


def _misaligned(x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    buf = np.zeros(x.nbytes + 1, dtype=np.uint8)
    out = np.frombuffer(buf.data, dtype=x.dtype, offset=1, count=len(x))
    out[...] = x  # frombuffer of a writable buffer is writable
    assert not out.flags.aligned
    return out


@pytest.mark.parametrize(
    "convert",
    [
        lambda x: x.astype(x.dtype.newbyteorder(">")),  # byte-swapped
        lambda x: np.repeat(x, 3)[::3],  # strided view
        lambda x: x[::-1].copy()[::-1],  # negative stride
        _misaligned,
        lambda x: x.tolist(),
        lambda x: np.asfortranarray(x),
    ],
    ids=["big-endian", "strided", "reversed", "misaligned", "list", "fortran"],
)
def test_every_layout_gives_the_same_bits(convert: Callable[[Any], Any]) -> None:
    x = X[:3000]
    want = entroseg.permutation_entropy(x, order=4, window=200)
    assert same_bits(entroseg.permutation_entropy(convert(x), order=4, window=200), want)
    pe = entroseg.RollingPermutationEntropy(window=200, order=4)
    assert same_bits(pe.push(convert(x)), want)
    s = (np.abs(x * 10).astype(np.int64) % 5).astype(np.uint16)
    want_s = entroseg.conditional_entropy(s, context=2, window=100, alphabet_size=5)
    got_s = entroseg.conditional_entropy(convert(s), context=2, window=100, alphabet_size=5)
    assert same_bits(got_s, want_s)


@pytest.mark.parametrize(
    "dtype", [np.float16, np.float32, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint64]
)
def test_real_dtypes_are_converted_exactly(dtype: type) -> None:
    # Values exactly representable in every dtype: the result must equal float64's.
    x = np.random.default_rng(1).integers(0, 100, 2000)
    want = entroseg.permutation_entropy(x.astype(np.float64), order=3, window=100)
    assert same_bits(entroseg.permutation_entropy(x.astype(dtype), order=3, window=100), want)


def test_outputs_are_fresh_float64_arrays_of_the_input_length() -> None:
    out = entroseg.permutation_entropy(X[:500], window=50)
    assert out.dtype == np.float64 and out.flags.c_contiguous and out.flags.writeable
    assert out.shape == (500,) and out.base is None
    codes = entroseg.ordinal_patterns(X[:500])
    assert codes.dtype == np.int32 and codes.shape == (500,)
    assert entroseg.quantize(X[:500]).dtype == np.uint8
