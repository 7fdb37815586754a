"""Regime change points from entropy costs: bottom-up merging of fine segments."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt

from entroseg._entroseg import _change_points
from entroseg.segments import Segments

__all__ = ["SHORT_SERIES", "change_points", "default_penalty"]

#: Below this many samples ``order="auto"`` uses the own-line Gaussian cost instead of
#: ordinal patterns: a 20-sample segment holds too few patterns to estimate 12 pattern
#: probabilities per scale, while a line and a variance are 3 parameters.
SHORT_SERIES = 1000


def default_penalty(
    n_samples: int,
    *,
    order: int | None = 4,
    symmetric: bool = True,
    mean: bool = False,
    variance: bool = False,
    trend: bool = False,
) -> float:
    """The penalty :func:`change_points` uses when neither ``n_bkps`` nor ``pen`` is
    given: ``q ln(n)`` nats per change point, twice BIC's ``(q / 2) ln(n)``, for the
    ``q`` free parameters of one scale's pattern distribution (``order! - 1``, or
    ``order!/2 - 1`` with ``symmetric``) plus 3 with ``trend`` (slope, intercept and
    variance), 2 with ``variance`` or 1 with ``mean``.
    The scales are counted once because they see the same samples. On the generated
    regime data of ``benches/bench_change_points.py`` it finds the true number of
    change points to within about one.

    Examples
    --------
    >>> from entroseg.changepoints import default_penalty
    >>> round(default_penalty(10_000), 1)  # 11 ln(10^4)
    101.3
    """
    q = 0
    if order is not None:
        q += math.factorial(order) // (2 if symmetric else 1) - 1
    q += 3 if trend else (2 if variance else (1 if mean else 0))
    return float(q * math.log(max(n_samples, 2)))


def change_points(
    x: npt.ArrayLike,
    *,
    n_bkps: int | None = None,
    pen: float | None = None,
    min_size: int = 20,
    order: int | Literal["auto"] | None = "auto",
    delays: Sequence[int] = (1, 2, 4, 8),
    symmetric: bool = True,
    mean: bool = False,
    variance: bool = False,
    trend: bool = False,
    refine_variance: bool = True,
    fine: Segments | None = None,
    block: int | None = None,
    radius: int | None = None,
) -> npt.NDArray[np.int64]:
    """Regime change points of a series, as ruptures returns them: the sorted ends of
    the segments, the last being ``len(x)`` (a value ``c < len(x)`` means a new regime
    starts at sample ``c``).

    With the default ``order="auto"``, a series of at least :data:`SHORT_SERIES` (1,000)
    samples is segmented by its multi-scale ordinal patterns of order 4 (dynamics: sensor
    data, physiology, gestures); a shorter one by the own-line Gaussian cost
    (``order=None, trend=True``: level, slope and scale shifts, as in economic and
    climate series). Give ``order`` and the Gaussian parts explicitly to choose the cost
    (the README's "Regime change points" has a table of which cost fits which regime).

    A segment's cost is its negative log-likelihood in nats. For each delay ``tau`` (a
    scale) it is ``N`` times the permutation entropy of the segment's own ordinal
    patterns of ``order`` (``N ln N - sum c ln c`` over the pattern counts ``c``), so
    regimes that differ in entropy, complexity or forbidden patterns cost more merged
    than apart; with ``symmetric`` a pattern and its amplitude mirror count as one, so
    an oscillation slower than a segment is not cut at each turn. Optionally a
    Gaussian part: the segment's own mean (``mean``; noise variance from the series'
    first differences), own mean and variance (``variance``), or own least-squares line
    and residual variance (``trend``: regimes that differ in level, slope or scale, as
    in economic and climate series).

    Fine segments (a grid of ``block`` samples, default ``min_size``; or the segments of
    ``fine``, e.g. from :func:`~entroseg.segment`) merge bottom-up, cheapest merge first,
    until ``n_bkps`` change points remain, or while the cheapest merge costs less than
    ``pen``. Each boundary is then moved to its best position within ``radius``
    samples (default ``2 * block``), counting on each side only the patterns that lie
    wholly inside it, and with ``refine_variance`` adding the Gaussian mean-and-variance
    part, whose sharp level and scale changes place boundaries precisely. Every segment
    has at least ``min_size`` samples. ``O(n)`` to build the statistics,
    ``O(m log m)`` for ``m`` fine segments, ``O(n_bkps * radius)`` to refine. The GIL
    is released.

    Parameters
    ----------
    x : array_like
        1-D real series (finite).
    n_bkps : int, optional
        Number of change points to keep (fewer when ``min_size`` forbids).
    pen : float, optional
        Penalty per change point, in nats (>= 0). Without ``n_bkps`` or ``pen``,
        :func:`default_penalty`.
    min_size : int, default 20
        Minimum segment length.
    order : int, None or "auto", default "auto"
        Ordinal pattern order (2..7); None leaves patterns out (then give ``mean``,
        ``trend`` or ``variance``); "auto": 4 from :data:`SHORT_SERIES` samples on, else
        None with ``trend`` (unless ``mean`` or ``variance`` is given).
    delays : sequence of int, default (1, 2, 4, 8)
        Scales: one ordinal cost part per delay.
    symmetric : bool, default True
        Count a pattern and its amplitude mirror as one.
    mean, variance, trend : bool, default False
        Add a Gaussian part to the merge cost (own mean; own mean and variance; or own
        line, which takes precedence). ``variance`` suits regimes
        that differ in level or scale, ``trend`` regimes that differ in slope.
    refine_variance : bool, default True
        Add the own-mean-and-variance part when refining boundaries.
    fine : Segments, optional
        One-series segments of ``x`` to start from instead of a regular grid.
    block, radius : int, optional
        Grid length (default ``min_size``) and refinement radius (default
        ``2 * block``; 0 turns refinement off).

    Returns
    -------
    numpy.ndarray of int64
        Segment ends, ascending, the last being ``len(x)``.

    Examples
    --------
    >>> import numpy as np, entroseg
    >>> rng = np.random.default_rng(0)
    >>> noise = rng.standard_normal(600)
    >>> wave = np.sin(np.arange(400) * 2 * np.pi / 16) + 0.2 * rng.standard_normal(400)
    >>> x = np.concatenate([noise, wave, noise[:300]])  # regimes change at 600 and 1000
    >>> entroseg.change_points(x, n_bkps=2)
    array([ 594, 1006, 1300])
    >>> entroseg.change_points(x)  # the default penalty finds the same two
    array([ 594, 1006, 1300])
    """
    n = int(np.shape(x)[0]) if np.ndim(x) == 1 else 0
    if isinstance(order, str):
        if order != "auto":
            raise ValueError(f"order must be an int, None or 'auto', got {order!r}")
        if n >= SHORT_SERIES:
            order = 4
        else:
            order = None
            trend = trend or not (mean or variance)
    fine_starts = None
    if fine is not None:
        if not isinstance(fine, Segments) or fine.num_series != 1:
            raise ValueError("fine must be a one-series Segments value of x")
        fine_starts = [int(s) for s in fine.starts]
        if fine.num_samples != np.shape(x)[0]:
            raise ValueError(f"fine covers {fine.num_samples} samples but x has {np.shape(x)[0]}")
    if n_bkps is None and pen is None:
        pen = default_penalty(
            n,
            order=order,
            symmetric=symmetric,
            mean=mean,
            variance=variance,
            trend=trend,
        )
    return _change_points(
        x,
        fine=fine_starts,
        order=order,
        delays=[int(d) for d in delays],
        symmetric=symmetric,
        mean=mean,
        variance=variance,
        trend=trend,
        min_size=min_size,
        block=block,
        radius=radius,
        refine_variance=refine_variance,
        n_bkps=n_bkps,
        pen=pen,
    )
