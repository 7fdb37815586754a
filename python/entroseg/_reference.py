"""Slow, obviously-correct reference implementations of every entroseg estimator.

Each function here computes its statistic straight from the definition, in plain
Python and numpy floats, with no incremental state: rolling variants recompute every
window from scratch. They exist so that the fast Rust paths can be checked against
something a reader can verify by eye (the test suite compares the two with hypothesis),
and as executable documentation of what the fast functions compute. They take the same
arguments as the public functions of the same names and return the same shapes, but
they are orders of magnitude slower; do not use them on real data.

Where the fast path is exact integer arithmetic (pattern codes, missing-pattern counts,
symbols) the two agree exactly. Entropies agree to about 1e-12: the fast path sums
fixed-point ``c ln c`` terms and evaluates ``ln N - S / N``, the reference evaluates
``-sum p ln p`` in floating point, and the two round differently.

Definitions (``x`` a real series, ``d`` the order, ``tau`` the delay):

- the *pattern* ending at ``t`` (for ``t >= (d-1)*tau``) is the embedding vector
  ``v = x[t-(d-1)*tau : t+1 : tau]``; its *code* is the lexicographic rank of
  ``numpy.argsort(v, kind="stable")`` among ``itertools.permutations(range(d))``;
- a window of ``W`` samples ending at ``t`` holds the ``W - (d-1)*tau`` patterns whose
  samples all lie in ``x[t-W+1 : t+1]``; a window containing a NaN or infinity yields NaN
  under ``nan_policy="propagate"``.

Examples
--------
>>> import numpy as np
>>> from entroseg import _reference as ref
>>> ref.pattern_code([2.0, 1.0, 1.0])  # argsort (1, 2, 0) is the 4th permutation of 0..2
3
>>> ref.ordinal_patterns(np.array([1.0, 2, 3, 2, 1, 1]), order=3).tolist()
[-1, -1, 0, 1, 5, 3]
>>> round(ref.permutation_entropy(np.array([4.0, 7, 9, 10, 6, 11, 3]), normalize=False), 4)
1.0549
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

__all__ = [
    "conditional_entropy",
    "conditional_permutation_entropy",
    "lexicographic_rank",
    "missing_patterns",
    "ordinal_patterns",
    "pattern_code",
    "permutation_entropy",
    "quantize",
    "statistical_complexity",
]

F64 = npt.NDArray[np.float64]
NanPolicy = Literal["raise", "propagate"]


# --------------------------------------------------------------------------------------
# Ordinal patterns
# --------------------------------------------------------------------------------------


def lexicographic_rank(perm: Sequence[int]) -> int:
    """Rank of a permutation of ``0..len(perm)`` in lexicographic order.

    This is its index in ``list(itertools.permutations(range(len(perm))))``: the first
    element contributes (number of smaller elements after it) * (d-1)!, and so on.

    Examples
    --------
    >>> import itertools
    >>> [lexicographic_rank(p) for p in itertools.permutations(range(3))]
    [0, 1, 2, 3, 4, 5]
    """
    d = len(perm)
    rank = 0
    for i in range(d):
        smaller_after = sum(1 for q in perm[i + 1 :] if q < perm[i])
        rank += smaller_after * math.factorial(d - 1 - i)
    return rank


def pattern_code(v: npt.ArrayLike) -> int:
    """Ordinal pattern code of one embedding vector.

    The lexicographic rank of ``numpy.argsort(v, kind="stable")``: equal values keep
    their time order, so the earlier of two equal samples ranks lower.

    Examples
    --------
    >>> pattern_code([0.5, 1.0, 2.0]), pattern_code([3.0, 2.0, 1.0]), pattern_code([1, 1, 1])
    (0, 5, 0)
    """
    order = np.argsort(np.asarray(v, dtype=np.float64), kind="stable")
    return lexicographic_rank([int(i) for i in order])


def _check_embedding(order: int, delay: int) -> int:
    if not 2 <= order <= 10:
        raise ValueError(f"order must be in 2..=10, got {order}")
    if delay < 1:
        raise ValueError(f"delay must be >= 1, got {delay}")
    return (order - 1) * delay


def _as_series(x: npt.ArrayLike, nan_policy: NanPolicy) -> F64:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"x must be 1-D, got shape {arr.shape}")
    if nan_policy not in ("raise", "propagate"):
        raise ValueError(f"nan_policy must be 'raise' or 'propagate', got {nan_policy!r}")
    if nan_policy == "raise" and not np.all(np.isfinite(arr)):
        bad = int(np.argmin(np.isfinite(arr)))
        raise ValueError(f"input contains {arr[bad]} at index {bad}")
    return arr


def _embeddings(x: F64, order: int, delay: int) -> F64:
    """Row ``i`` is the embedding vector of the pattern ending at ``i + (order-1)*delay``."""
    span = (order - 1) * delay
    if len(x) <= span:
        return np.empty((0, order))
    return np.stack([x[j * delay : len(x) - span + j * delay] for j in range(order)], axis=1)


def _codes(x: F64, order: int, delay: int) -> npt.NDArray[np.int64]:
    """Code of every complete pattern of ``x`` (no NaN handling): one per row of
    ``_embeddings``. Vectorised form of ``pattern_code`` applied row by row."""
    perms = np.argsort(_embeddings(x, order, delay), axis=1, kind="stable")
    codes = np.zeros(len(perms), dtype=np.int64)
    for i in range(order):
        smaller_after = np.zeros(len(perms), dtype=np.int64)
        for j in range(i + 1, order):
            smaller_after += perms[:, j] < perms[:, i]
        codes += smaller_after * math.factorial(order - 1 - i)
    return codes


def ordinal_patterns(
    x: npt.ArrayLike, *, order: int = 3, delay: int = 1, nan_policy: NanPolicy = "raise"
) -> npt.NDArray[np.int32]:
    """Code of the pattern ending at each sample; -1 where there is none.

    -1 for the first ``(order-1)*delay`` samples and for every pattern whose span
    ``x[t-(order-1)*delay : t+1]`` holds a NaN or infinity.

    Examples
    --------
    >>> ordinal_patterns(np.array([3.0, 1, 2, 2]), order=2).tolist()
    [-1, 1, 0, 0]
    """
    span = _check_embedding(order, delay)
    arr = _as_series(x, nan_policy)
    out = np.full(len(arr), -1, dtype=np.int32)
    for t in range(span, len(arr)):
        if np.all(np.isfinite(arr[t - span : t + 1])):
            out[t] = pattern_code(arr[t - span : t + 1 : delay])
    return out


# --------------------------------------------------------------------------------------
# Permutation entropy, weighted PE, complexity, missing patterns
# --------------------------------------------------------------------------------------


def _shannon(weights: F64) -> float:
    """``-sum p ln p`` of the distribution proportional to non-negative ``weights``;
    0 when every weight is 0 (a window of constant embeddings carries no information)."""
    total = float(np.sum(weights))
    if total == 0.0:
        return 0.0
    p = weights[weights > 0] / total
    return float(-np.sum(p * np.log(p)))


def _pattern_weights(x: F64, order: int, delay: int, weighted: bool) -> F64:
    """Total weight of each of the ``order!`` patterns in ``x``: its count, or the sum of
    the population variances (``numpy.var``) of its embedding vectors when weighted."""
    codes = _codes(x, order, delay)
    if weighted:
        w = np.var(_embeddings(x, order, delay), axis=1)
    else:
        w = np.ones(len(codes))
    totals = np.zeros(math.factorial(order))
    np.add.at(totals, codes, w)
    return totals


def _rolling(x: Any, window: int, span: int, whole: Callable[[Any], float], what: str) -> F64:
    """Apply ``whole`` to every full window ``x[t-window+1 : t+1]`` independently (``x`` a
    float array, or a list of symbols)."""
    if window < span + 1:
        raise ValueError(f"window must hold at least one {what}: window >= {span + 1}")
    out = np.full(len(x), np.nan)
    for t in range(window - 1, len(x)):
        out[t] = whole(x[t - window + 1 : t + 1])
    return out


def _whole_or_rolling(
    x: F64, window: int | None, span: int, stat: Callable[[F64], float], what: str
) -> float | F64:
    def whole(part: F64) -> float:
        if len(part) <= span:
            raise ValueError(f"need at least one {what}: at least {span + 1} samples")
        if not np.all(np.isfinite(part)):
            return math.nan
        return stat(part)

    if window is None:
        return whole(x)
    return _rolling(x, window, span, whole, what)


def _pattern_statistic(
    x: npt.ArrayLike,
    order: int,
    delay: int,
    window: int | None,
    nan_policy: NanPolicy,
    stat: Callable[[F64], float],
) -> float | F64:
    """``stat`` of the whole series or of every window, over ordinal patterns."""
    span = _check_embedding(order, delay)
    return _whole_or_rolling(_as_series(x, nan_policy), window, span, stat, "ordinal pattern")


def permutation_entropy(
    x: npt.ArrayLike,
    *,
    order: int = 3,
    delay: int = 1,
    window: int | None = None,
    normalize: bool = True,
    weighted: bool = False,
    nan_policy: NanPolicy = "raise",
) -> float | F64:
    """Permutation entropy (Bandt-Pompe) of the pattern distribution, in nats or
    normalised by ``ln(order!)``; ``weighted`` weights each pattern by the variance of its
    embedding vector (Fadlallah et al. 2013), and a window whose weights are all 0 gives 0.

    Examples
    --------
    >>> permutation_entropy(np.arange(10.0)) == 0.0
    True
    >>> h = permutation_entropy(np.array([4.0, 7, 9, 10, 6, 11, 3]), order=2, window=3)
    >>> (h + 0.0).tolist()  # + 0.0 turns the -0.0 of a one-pattern window into 0.0
    [nan, nan, 0.0, 0.0, 1.0, 1.0, 1.0]
    """

    def stat(part: F64) -> float:
        norm = math.log(math.factorial(order)) if normalize else 1.0
        return _shannon(_pattern_weights(part, order, delay, weighted)) / norm

    return _pattern_statistic(x, order, delay, window, nan_policy, stat)


def statistical_complexity(
    x: npt.ArrayLike, *, order: int = 3, delay: int = 1, window: int | None = None,
    nan_policy: NanPolicy = "raise",
) -> float | F64:  # fmt: skip
    """Jensen-Shannon statistical complexity (Rosso et al. 2007), as ordpy computes it.

    ``C = H[P] / ln(n) * JS(P, U) / JS_max`` over the ``n = order!`` patterns, with
    ``JS(P, U) = S((P + U) / 2) - S(P) / 2 - S(U) / 2`` and
    ``JS_max = -((n+1)/n * ln(n+1) + ln(n) - 2 ln(2n)) / 2``.

    Examples
    --------
    >>> round(statistical_complexity(np.array([4.0, 7, 9, 10, 6, 11, 3]), order=3), 4)
    0.29
    """

    def stat(part: F64) -> float:
        n = math.factorial(order)
        counts = _pattern_weights(part, order, delay, weighted=False)
        p = counts / counts.sum()
        h = _shannon(counts)
        mix = (p + 1.0 / n) / 2.0  # every entry > 0: all n patterns included
        js = float(-np.sum(mix * np.log(mix))) - h / 2.0 - math.log(n) / 2.0
        js_max = -0.5 * ((n + 1) / n * math.log(n + 1) + math.log(n) - 2.0 * math.log(2.0 * n))
        return h / math.log(n) * js / js_max

    return _pattern_statistic(x, order, delay, window, nan_policy, stat)


def missing_patterns(
    x: npt.ArrayLike, *, order: int = 3, delay: int = 1, window: int | None = None,
    nan_policy: NanPolicy = "raise",
) -> int | float | F64:  # fmt: skip
    """Number of the ``order!`` patterns that do not occur; an int for the whole series
    (NaN if it holds a NaN under "propagate"), a float array (NaN where the window is
    incomplete or holds NaN) when rolling.

    Examples
    --------
    >>> missing_patterns(np.arange(10.0), order=3)
    5
    """

    def stat(part: F64) -> float:
        return float(math.factorial(order) - len(set(_codes(part, order, delay).tolist())))

    value = _pattern_statistic(x, order, delay, window, nan_policy, stat)
    if isinstance(value, float) and not math.isnan(value):
        return int(value)
    return value


# --------------------------------------------------------------------------------------
# Conditional (block) entropy
# --------------------------------------------------------------------------------------


def _conditional_of_grams(grams: list[tuple[int, ...]]) -> float:
    """``-sum_(u,a) c(u,a)/N ln(c(u,a)/c(u))`` over the grams ``u + (a,)``."""
    n = len(grams)
    joint = Counter(grams)
    context = Counter(g[:-1] for g in grams)
    return -sum(c / n * math.log(c / context[g[:-1]]) for g, c in joint.items())


def conditional_entropy(
    symbols: npt.ArrayLike,
    *,
    context: int = 1,
    window: int | None = None,
    alphabet_size: int | None = None,
    normalize: bool = True,
) -> float | F64:
    """Plug-in conditional entropy ``H(X_t | X_{t-context..t-1})`` from the
    ``(context+1)``-grams inside the window; ``context=0`` is the Shannon entropy of the
    symbols. ``normalize`` divides by ``ln(alphabet_size)`` (when it exceeds 1);
    ``alphabet_size=None`` uses ``max(symbols) + 1``.

    Examples
    --------
    >>> conditional_entropy(np.array([0, 1, 0, 1, 0, 1]), context=1) == 0.0
    True
    >>> round(conditional_entropy(np.array([0, 1, 0, 1]), context=0), 12)
    1.0
    """
    s = np.asarray(symbols)
    if s.ndim != 1 or s.dtype.kind not in "iu":
        raise ValueError("symbols must be a 1-D integer array")
    if context < 0:
        raise ValueError(f"context must be >= 0, got {context}")
    if alphabet_size is None:
        alphabet_size = int(s.max()) + 1 if len(s) else 1
    if len(s) and (int(s.min()) < 0 or int(s.max()) >= alphabet_size):
        raise ValueError(f"symbols must lie in 0..{alphabet_size}")
    norm = math.log(alphabet_size) if normalize and alphabet_size > 1 else 1.0
    seq = [int(v) for v in s]

    def whole(part: Sequence[int]) -> float:
        if len(part) <= context:
            raise ValueError(f"need at least one (context+1)-gram: {context + 1} symbols")
        grams = [tuple(part[t - context : t + 1]) for t in range(context, len(part))]
        return _conditional_of_grams(grams) / norm

    if window is None:
        return whole(seq)
    return _rolling(seq, window, context, whole, "(context+1)-gram")


def conditional_permutation_entropy(
    x: npt.ArrayLike,
    *,
    order: int = 3,
    delay: int = 1,
    context: int = 1,
    window: int | None = None,
    normalize: bool = True,
    nan_policy: NanPolicy = "raise",
) -> float | F64:
    """Conditional entropy of the pattern stream:
    ``H(code_t | code_{t-delay}, ..., code_{t-context*delay})``, normalised by
    ``ln(order!)``. A window of ``W`` samples holds the grams whose samples all lie in it:
    ``W - (order-1+context)*delay`` of them.

    Examples
    --------
    >>> x = np.sin(np.arange(200) / 5.0)
    >>> bool(conditional_permutation_entropy(x) < permutation_entropy(x))
    True
    """
    span = _check_embedding(order, delay)
    arr = _as_series(x, nan_policy)
    if context < 0:
        raise ValueError(f"context must be >= 0, got {context}")
    norm = math.log(math.factorial(order)) if normalize else 1.0

    def stat(part: F64) -> float:
        codes = _codes(part, order, delay).tolist()  # codes[i] is the pattern ending at i+span
        lag = context * delay
        grams = [
            tuple(codes[i - lag + j * delay] for j in range(context + 1))
            for i in range(lag, len(codes))
        ]
        return _conditional_of_grams(grams) / norm

    return _whole_or_rolling(
        arr, window, span + context * delay, stat, "(context+1)-gram of patterns"
    )


# --------------------------------------------------------------------------------------
# Quantizers
# --------------------------------------------------------------------------------------


def _uniform_bins(x: F64, low: float, high: float, bins: int) -> npt.NDArray[np.uint8]:
    # The bin of v is floor((v - low) * (bins / (high - low))), clamped to the end bins.
    # This float expression *is* the definition: a value within rounding of an edge falls
    # on the side this expression gives.
    if not high > low:
        raise ValueError(f"uniform bins need low < high, got low={low}, high={high}")
    width = float(high) - float(low)  # Python floats: inf on overflow, no exception
    if not (math.isfinite(width) and math.isfinite(bins / width)):
        raise ValueError(f"the bin width of [{low}, {high}] / {bins} is not a finite float")
    scale = bins / width
    symbols: npt.NDArray[np.uint8] = np.clip(np.floor((x - low) * scale), 0, bins - 1).astype(
        np.uint8
    )
    return symbols


def quantize(
    x: npt.ArrayLike,
    *,
    method: Literal["uniform", "mean_scale", "quantile"] = "uniform",
    bins: int = 16,
    low: float | None = None,
    high: float | None = None,
    limit: float = 5.0,
    sample: npt.ArrayLike | None = None,
) -> npt.NDArray[np.uint8]:
    """Map a real series to symbols ``0..bins``.

    - "uniform": equal-width bins over ``[low, high]`` (a missing end from the range of
      ``sample``; a constant sample gets ``[v - 0.5, v + 0.5]``), values outside go to the
      end bins;
    - "mean_scale": the uniform bins over ``[-limit*s, limit*s]`` where ``s`` is the mean
      absolute value of ``sample`` (summed in order; 1 when it is 0);
    - "quantile": edges ``numpy.quantile(sample, [1/bins, ..., (bins-1)/bins])`` (linear
      interpolation); a value's symbol is the number of edges ``<=`` it.

    ``sample`` defaults to ``x``.

    Examples
    --------
    >>> quantize(np.array([0.0, 0.5, 1.0, 1.5, 2.0]), bins=4, low=0.0, high=2.0).tolist()
    [0, 1, 2, 3, 3]
    >>> quantize(np.arange(8.0), method="quantile", bins=4).tolist()
    [0, 0, 1, 1, 2, 2, 3, 3]
    """
    arr = np.asarray(x, dtype=np.float64)
    fit = arr if sample is None else np.asarray(sample, dtype=np.float64)
    if not 1 <= bins <= 256:
        raise ValueError(f"bins must be in 1..=256, got {bins}")
    if not (np.all(np.isfinite(arr)) and np.all(np.isfinite(fit))):
        raise ValueError("quantizers need finite values")
    if method == "uniform":
        if low is None or high is None:
            lo, hi = float(fit.min()), float(fit.max())
            if not hi > lo:
                lo, hi = lo - 0.5, lo + 0.5
            low = lo if low is None else low
            high = hi if high is None else high
        return _uniform_bins(arr, low, high, bins)
    if method == "mean_scale":
        total = 0.0
        for v in fit.tolist():
            total += abs(v)
        scale = total / len(fit)
        if scale == 0.0:
            scale = 1.0
        return _uniform_bins(arr, -limit * scale, limit * scale, bins)
    if method == "quantile":
        edges = np.quantile(fit, np.arange(1, bins) / bins)
        return np.searchsorted(edges, arr, side="right").astype(np.uint8)
    raise ValueError(f"unknown method {method!r}")
