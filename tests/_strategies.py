"""Hypothesis strategies and comparison helpers shared by the test files."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

F64 = npt.NDArray[np.float64]

# Entropies are compared with the reference within this absolute tolerance: the fast path
# sums fixed-point c*ln(c) terms (rounding below K ln N / 2^60 nats for K distinct items
# among N, about 1e-16 at these sizes) and evaluates ln N - S/N, while the reference
# evaluates -sum p ln p in floats; the two orders of rounding differ by a few ulps of
# ln(order!) <= 15.1. 1e-12 leaves three orders of magnitude of margin and still catches
# any real error (a single miscounted pattern moves the value by >= 1e-4 at these sizes).
ATOL = 1e-12

# Moderate magnitudes: |x| <= 1e6 keeps the weighted variant's variances (squares of
# differences) far from overflow and underflow, so the reference's float sums are
# accurate to ~1e-15 relative; the pattern codes themselves do not care about magnitude
# (the ordinal tests use the full float range).
moderate_floats = st.floats(-1e6, 1e6, allow_nan=False, allow_subnormal=False)


@st.composite
def series(draw: st.DrawFn, min_size: int = 0, max_size: int = 80) -> F64:
    """A real series: heavy ties (few levels), plain floats, or a random walk of integer
    steps (ties between distant samples)."""
    n = draw(st.integers(min_size, max_size))
    kind = draw(st.sampled_from(["levels", "floats", "walk"]))
    if kind == "levels":
        levels = draw(st.integers(1, 4))
        values = draw(hnp.arrays(np.int64, n, elements=st.integers(0, levels - 1)))
        return values.astype(np.float64)
    if kind == "floats":
        return draw(hnp.arrays(np.float64, n, elements=moderate_floats))
    steps = draw(hnp.arrays(np.int64, n, elements=st.integers(-2, 2)))
    return np.cumsum(steps).astype(np.float64)


@st.composite
def with_non_finite(draw: st.DrawFn, x: F64) -> F64:
    """``x`` with a few samples replaced by NaN or +-inf."""
    x = x.copy()
    if len(x):
        k = draw(st.integers(1, max(1, len(x) // 10)))
        for _ in range(k):
            i = draw(st.integers(0, len(x) - 1))
            x[i] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    return x


embedding = st.tuples(st.integers(2, 5), st.integers(1, 3))


def same_bits(a: object, b: object) -> bool:
    """Bit-for-bit equality of two float arrays or scalars (NaN equals NaN)."""
    return bool(
        np.asarray(a, dtype=np.float64).tobytes() == np.asarray(b, dtype=np.float64).tobytes()
    )


def close(fast: object, ref: object, atol: float = ATOL) -> bool:
    """Equal NaN positions and values within ``atol`` elsewhere."""
    f = np.asarray(fast, dtype=np.float64)
    r = np.asarray(ref, dtype=np.float64)
    if f.shape != r.shape or not np.array_equal(np.isnan(f), np.isnan(r)):
        return False
    mask = ~np.isnan(f)
    return bool(np.all(np.abs(f[mask] - r[mask]) <= atol))
