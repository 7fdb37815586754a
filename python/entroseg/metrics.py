"""Metrics of segmentations: change-point scores used by segmentation benchmarks
(TCPDBench, TSSB), and what a patch of fixed capacity fails to reconstruct.

- :func:`reconstruction_error`: the residual sum of squares left when every segment is
  represented by a fixed-capacity patch (a least-squares line, or its first DCT-II
  coefficients): how much of a series the patches a model receives cannot carry.
  Compare it with fixed patches of the same count to judge a segmentation.

Change points are sample indices where a new segment starts; ``0`` and ``n_samples``
(the implicit first start and last end) may be included or not, so ruptures-style
lists of segment ends (the last being ``n_samples``) work as they are.

- :func:`covering`: the segmentation covering of Arbelaez et al. (2010) as TCPDBench
  uses it: every true segment is matched with the predicted segment of largest
  Jaccard overlap, and the overlaps are averaged weighted by the true segments'
  lengths. 1 is a perfect segmentation.
- :func:`f1_score` / :func:`precision_recall`: TCPDBench's F1 with a margin. The start
  ``0`` counts as a change point in both sets (as in TCPDBench, so a series without
  change points scores 1 when none is predicted); each true change point, in ascending
  order, is matched with the closest still unmatched prediction within ``margin``
  samples, so a prediction matches at most one true point.
"""

from __future__ import annotations

import itertools

import numpy as np
import numpy.typing as npt

__all__ = ["covering", "f1_score", "precision_recall", "reconstruction_error"]


def _change_points(points: npt.ArrayLike, n_samples: int, name: str) -> list[int]:
    """Sorted distinct change points strictly inside ``(0, n_samples)``."""
    if n_samples < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}")
    arr = np.asarray(points)
    if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
        raise ValueError(
            f"{name} must be a 1-D list of integer indices, got {arr.dtype} {arr.shape}"
        )
    values = sorted({int(v) for v in arr.tolist()})
    if values and (values[0] < 0 or values[-1] > n_samples):
        raise ValueError(
            f"{name} must lie in [0, n_samples = {n_samples}], got {values[0]}..{values[-1]}"
        )
    return [v for v in values if 0 < v < n_samples]


def covering(true_cps: npt.ArrayLike, pred_cps: npt.ArrayLike, n_samples: int) -> float:
    """Segmentation covering of the true segmentation by the predicted one.

    ``C = (1 / n) * sum over true segments A of |A| * max over predicted segments B of
    |A & B| / |A | B|``.

    Examples
    --------
    >>> from entroseg.metrics import covering
    >>> covering([50], [50], 100)
    1.0
    >>> covering([50], [], 100)  # one segment covers each half with Jaccard 0.5
    0.5
    >>> covering([3], [3, 5], 6)  # true {0,1,2},{3,4,5}; predicted {0,1,2},{3,4},{5}
    0.8333333333333334
    """
    truth = [0, *_change_points(true_cps, n_samples, "true_cps"), n_samples]
    pred = [0, *_change_points(pred_cps, n_samples, "pred_cps"), n_samples]
    total = 0.0
    j = 0
    for a, b in itertools.pairwise(truth):
        # Skip predicted segments that end before this true segment starts.
        while pred[j + 1] <= a:
            j += 1
        best = 0.0
        k = j
        while k < len(pred) - 1 and pred[k] < b:
            c, d = pred[k], pred[k + 1]
            inter = min(b, d) - max(a, c)
            union = max(b, d) - min(a, c)
            best = max(best, inter / union)
            k += 1
        total += (b - a) * best
    return total / n_samples


def precision_recall(
    true_cps: npt.ArrayLike, pred_cps: npt.ArrayLike, n_samples: int, *, margin: int = 5
) -> tuple[float, float]:
    """Precision and recall of predicted change points within ``margin`` samples.

    The start 0 is a change point of both sets (TCPDBench's convention); each
    prediction matches at most one true point.

    Examples
    --------
    >>> from entroseg.metrics import precision_recall
    >>> precision_recall([100, 200], [103, 150, 197, 199], 300)
    (0.6, 1.0)
    """
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    truth = [0, *_change_points(true_cps, n_samples, "true_cps")]
    free = [0, *_change_points(pred_cps, n_samples, "pred_cps")]
    n_pred = len(free)
    hits = 0
    for tau in truth:
        close = [(abs(tau - x), x) for x in free if abs(tau - x) <= margin]
        if close:
            free.remove(min(close)[1])
            hits += 1
    return hits / n_pred, hits / len(truth)


def f1_score(
    true_cps: npt.ArrayLike, pred_cps: npt.ArrayLike, n_samples: int, *, margin: int = 5
) -> float:
    """F1 of predicted change points within ``margin`` samples (TCPDBench's F-measure
    with one annotator): ``2 P R / (P + R)``.

    Examples
    --------
    >>> from entroseg.metrics import f1_score
    >>> round(f1_score([100, 200], [103, 150, 197, 199], 300), 12)
    0.75
    >>> f1_score([], [], 300)
    1.0
    """
    p, r = precision_recall(true_cps, pred_cps, n_samples, margin=margin)
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def reconstruction_error(
    x: npt.ArrayLike,
    starts: npt.ArrayLike,
    *,
    basis: str = "line",
    coefficients: int = 4,
) -> float:
    """Residual sum of squares of ``x`` when each segment is coded by a fixed-capacity
    patch: its least-squares line (``basis="line"``; 0 for segments of 1 or 2 samples)
    or its first ``coefficients`` orthonormal DCT-II coefficients (``basis="dct"``; 0 for
    segments of at most ``coefficients`` samples).

    ``starts`` are the segment starts (``Segments.starts``; the first must be 0). Lower
    is better; divide by the error of fixed patches of the same count to compare a
    segmentation with fixed patching.

    Examples
    --------
    >>> import numpy as np, entroseg
    >>> x = np.r_[np.arange(10.0), np.zeros(10)]
    >>> float(entroseg.metrics.reconstruction_error(x, [0, 10]))
    0.0
    >>> round(float(entroseg.metrics.reconstruction_error(x, [0])), 3)
    153.214
    """
    v = np.asarray(x, dtype=np.float64)
    st = np.asarray(starts, dtype=np.int64)
    n = len(v)
    if v.ndim != 1 or n == 0:
        raise ValueError(f"x must be a non-empty 1-D array, got shape {v.shape}")
    if not np.all(np.isfinite(v)):
        raise ValueError("x must be finite: the error of a non-finite sample is undefined")
    if st.ndim != 1 or len(st) == 0 or st[0] != 0 or np.any(np.diff(st) < 1) or st[-1] >= n:
        raise ValueError(f"starts must increase from 0 and stay below len(x) = {n}")
    if basis not in ("line", "dct"):
        raise ValueError(f"basis must be 'line' or 'dct', got {basis!r}")
    if coefficients < 1:
        raise ValueError(f"coefficients must be >= 1, got {coefficients}")
    lengths = np.diff(np.append(st, n))
    if basis == "line":
        return float(sum(_line_rss(v[a : a + m]) for a, m in zip(st, lengths, strict=True)))
    total = 0.0
    for m in np.unique(lengths).tolist():
        if m <= coefficients:
            continue
        rows = np.stack([v[a : a + m] for a in st[lengths == m].tolist()])
        i = np.arange(m)
        k = np.arange(coefficients)[:, None]
        scale = np.where(k == 0, np.sqrt(1.0 / m), np.sqrt(2.0 / m))
        basis_rows = scale * np.cos(np.pi * k * (2 * i + 1) / (2 * m))
        kept = rows @ basis_rows.T
        total += float(np.sum(rows * rows) - np.sum(kept * kept))
    return max(total, 0.0)


def _line_rss(y: npt.NDArray[np.float64]) -> float:
    """Residual sum of squares of the least-squares line through ``y`` (centred sums)."""
    m = len(y)
    if m <= 2:
        return 0.0
    t = np.arange(m) - (m - 1) / 2.0
    d = y - y.mean()
    slope = float(t @ d) / float(t @ t)
    r = d - slope * t
    return float(r @ r)
