"""Slow, obviously-correct references for segmentation, used by the tests.

Each function states the rules as plainly as possible, with no attempt at speed: the
native rule engine (bit masks, lazy split search, calibration probes) must agree with
these exactly. The BLT and EntroPE references follow the published tensor formulations
(masks over the entropy array, start ids, lengths from start ids), written in numpy.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

REASON_START, REASON_THRESHOLD, REASON_RELATIVE, REASON_BOTH, REASON_MAX_LEN = range(5)


def native_rules(
    s: npt.ArrayLike,
    *,
    threshold: float | None = None,
    relative: float | None = None,
    combine: str | None = None,
    min_len: int = 1,
    max_len: int | None = None,
) -> list[tuple[int, int]]:
    """Segment starts ``(index, reason)`` under the native rules, scanning left to right.

    A start at ``t`` when the rule fires and the current segment has at least
    ``min_len`` samples; when the segment reaches ``max_len`` samples without a start,
    it is split at the highest score in ``[cur + min_len, cur + max_len]`` (latest on
    ties, NaN lowest).
    """
    x = np.asarray(s, dtype=np.float64)
    n = len(x)
    if n == 0:
        return []
    starts = [(0, REASON_START)]
    cur = 0
    for t in range(1, n):
        above = threshold is not None and bool(x[t] > threshold)
        rises = relative is not None and bool(x[t] - x[t - 1] > relative)
        if threshold is not None and relative is not None:
            fired = (above and rises) if combine == "and" else (above or rises)
        else:
            fired = above or rises
        if fired and t - cur >= min_len:
            reason = (
                REASON_BOTH if above and rises else REASON_THRESHOLD if above else REASON_RELATIVE
            )
            starts.append((t, reason))
            cur = t
            continue
        if max_len is not None and t - cur == max_len:
            best, best_key = t, -np.inf
            for p in range(cur + min_len, t + 1):
                key = -np.inf if np.isnan(x[p]) else x[p]
                if key >= best_key:
                    best, best_key = p, key
            starts.append((best, REASON_MAX_LEN))
            cur = best
    return starts


def lengths_of(starts: list[int], n: int) -> list[int]:
    """Segment lengths from sorted start indices of a series of ``n`` samples."""
    if not starts:
        return []
    return [b - a for a, b in zip(starts, [*starts[1:], n], strict=True)]


def split_from_left(lengths: list[int], m: int) -> list[int]:
    """Cut every length above ``m`` into ``m``-sized pieces and a remainder."""
    out: list[int] = []
    for v in lengths:
        while v > m:
            out.append(m)
            v -= m
        out.append(v)
    return out


def blt_starts(
    entropies: npt.ArrayLike,
    *,
    threshold: float,
    threshold_add: float | None = None,
    monotonicity: bool = False,
) -> list[int]:
    """BLT's patch start ids for one sequence (``include_next_token=False``).

    The entropy array is cast to float32 and the threshold compared in float32; the
    first entropy is dropped (positions 0 and 1 always start), the mask is built on
    the rest and its last column dropped, and start ids are mask positions + 2.
    """
    e = np.asarray(entropies, dtype=np.float32)
    n = len(e)
    t = np.float32(threshold)
    rest = e[1:]
    if monotonicity:
        mask = np.zeros(len(rest), dtype=bool)
        if len(rest):
            mask[0] = True
            mask[1:] = (rest[1:] - rest[:-1]) > t
    elif threshold_add is not None:
        mask = np.zeros(len(rest), dtype=bool)
        if len(rest):
            mask[0] = True
            cond = ((rest[1:] - rest[:-1]) > np.float32(threshold_add)) & (rest[1:] > t)
            cond &= ~mask[:-1]  # evaluated against the initial mask: column 1 is never set
            mask[1:] = cond
    else:
        mask = rest > t
    mask = mask[:-1]
    ids = [0, 1][: min(n, 2)] + [int(i) + 2 for i in np.flatnonzero(mask)]
    return ids


def torch_quantile(x: npt.ArrayLike, q: float) -> float:
    """``torch.quantile`` (linear interpolation) in float32 arithmetic; the float32
    result is returned as a Python float (exactly), which numpy compares with float32
    arrays in float32."""
    v = np.sort(np.asarray(x, dtype=np.float32))
    if np.isnan(v).any():
        return float("nan")
    rank = np.float32(q) * np.float32(len(v) - 1)
    below = int(np.floor(rank))
    above = min(int(np.ceil(rank)), len(v) - 1)
    w = np.float32(rank - np.float32(below))
    lo, hi = np.float32(v[below]), np.float32(v[above])
    diff = np.float32(hi - lo)
    if abs(w) < 0.5:
        return float(np.float32(lo + np.float32(w * diff)))
    return float(np.float32(hi - np.float32(diff * np.float32(np.float32(1) - w))))


def entrope_starts(entropies: npt.ArrayLike, *, quantile: float, monotonic: bool) -> list[int]:
    """EntroPE's patch start ids for one sequence, quantile mode, next token excluded."""
    e = np.asarray(entropies, dtype=np.float32)
    n = len(e)
    if n < 2:
        return [0][:n]
    if monotonic:
        d = e[1:] - e[:-1]
        thr = torch_quantile(d, quantile)
        mask = np.zeros(n, dtype=bool)
        mask[0] = True
        mask[1:] = d > thr
    else:
        thr = torch_quantile(e, quantile)
        mask = e > thr
    mask = mask[:-1]
    return [0] + [int(i) + 1 for i in np.flatnonzero(mask)]


def fit_rss(positions: npt.ArrayLike, values: npt.ArrayLike, degree: int) -> float:
    """Residual sum of squares of the least-squares polynomial of ``degree`` through the
    points ``(positions, values)`` (0 when it fits them exactly)."""
    t = np.asarray(positions, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    if len(y) <= degree + 1:
        return 0.0
    design = np.vander(t, degree + 1)
    coef = np.linalg.lstsq(design, y, rcond=None)[0]
    return float(np.sum((y - design @ coef) ** 2))


def line_starts(
    x: npt.ArrayLike,
    *,
    threshold: float,
    degree: int = 1,
    min_len: int = 1,
    max_len: int | None = None,
    channels: str = "sum",
) -> list[tuple[int, int]]:
    """Segment starts ``(index, reason)`` of method "line" with a fixed threshold,
    refitting from scratch at every sample: a segment starts at ``t`` when adding
    ``x[t]`` raises the open segment's residual sum of squares by more than
    ``threshold`` and the segment holds at least ``min_len`` samples, or when it holds
    ``max_len`` samples. Non-finite samples join without entering the fit and never
    start a segment by the threshold. A 2-D ``x`` of shape ``(n, c)`` fits every channel
    on its own; the price of a sample is the sum of the channels' residual increases
    (``channels="max"``: the largest), and a sample with a non-finite value in any
    channel never starts a segment by the threshold."""
    y = np.asarray(x, dtype=np.float64)
    if y.ndim == 1:
        y = y[:, None]
    if len(y) == 0:
        return []
    starts = [(0, REASON_START)]
    cur = 0
    for t in range(1, len(y)):
        fires = False
        if np.isfinite(y[t]).all():
            deltas = []
            for k in range(y.shape[1]):
                seg = y[cur:t, k]
                keep = np.isfinite(seg)
                pos = np.flatnonzero(keep)
                # The fit runs over the finite samples, at their positions in the segment.
                before = fit_rss(pos, seg[keep], degree)
                after = fit_rss(np.append(pos, t - cur), np.append(seg[keep], y[t, k]), degree)
                deltas.append(after - before)
            price = max(deltas) if channels == "max" else sum(deltas)
            fires = price > threshold and t - cur >= min_len
        if fires or (max_len is not None and t - cur >= max_len):
            starts.append((t, REASON_THRESHOLD if fires else REASON_MAX_LEN))
            cur = t
    return starts


def budget_threshold(
    series: list[npt.ArrayLike],
    budget: int,
    *,
    min_len: int = 1,
    max_len: int | None = None,
) -> tuple[float, int]:
    """The one threshold, among every distinct score of the batch (and +-inf), whose
    segments, counted series by series with :func:`native_rules`, come closest to
    ``budget`` in all (ties: the higher threshold); with that total. Tied scores are not
    broken (the native calibration may break them to come closer still)."""
    values = np.concatenate([np.asarray(s, dtype=np.float64) for s in series] + [np.zeros(0)])
    candidates = sorted({float(v) for v in values if np.isfinite(v)} | {-np.inf, np.inf})
    best: tuple[float, int] | None = None
    for theta in candidates:
        total = sum(
            len(native_rules(s, threshold=theta, min_len=min_len, max_len=max_len)) for s in series
        )
        if best is None or abs(total - budget) <= abs(best[1] - budget):
            best = (theta, total)
    assert best is not None
    return best
