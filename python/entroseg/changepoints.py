"""Regime change points from entropy costs: bottom-up merging of fine segments, offline
(:func:`change_points`) and streaming (:class:`ChangePointDetector`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, TypedDict

import numpy as np
import numpy.typing as npt

from entroseg._entroseg import SHORT_SERIES as _SHORT_SERIES
from entroseg._entroseg import _change_points, _ChangePointDetector, _default_penalty
from entroseg.segments import Segments

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "SHORT_SERIES",
    "ChangePointDetector",
    "CostOptions",
    "Detections",
    "change_points",
    "default_penalty",
]

#: Below this many samples ``order="auto"`` uses the own-line Gaussian cost instead of
#: ordinal patterns: a 20-sample segment holds too few patterns to estimate 12 pattern
#: probabilities per scale, while a line and a variance are 3 parameters. (The rule
#: lives in the core, which the offline search, the stream and Polars share.)
SHORT_SERIES: int = _SHORT_SERIES


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
    cost = dict(order=order, symmetric=symmetric, mean=mean, variance=variance, trend=trend)
    return _default_penalty(n_samples, _cost_options(cost))


class CostOptions(TypedDict, total=False):
    """The cost options of :func:`change_points`, :class:`ChangePointDetector` and the
    Polars ``regime_id`` expression (one definition; see :func:`change_points` for each
    one's meaning and default)."""

    min_size: int
    order: int | Literal["auto"] | None
    delays: Sequence[int]
    symmetric: bool
    mean: bool
    variance: bool
    trend: bool
    refine_variance: bool
    block: int | None
    radius: int | None


_COST_DEFAULTS: CostOptions = {
    "min_size": 20,
    "order": "auto",
    "delays": (1, 2, 4, 8),
    "symmetric": True,
    "mean": False,
    "variance": False,
    "trend": False,
    "refine_variance": True,
    "block": None,
    "radius": None,
}


def _cost_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The cost options, defaults filled in, as the native functions take them;
    ``order="auto"`` is resolved there, for each series' length, by the core's one rule
    (the Polars expression reads the same fields)."""
    unknown = sorted(set(options) - set(_COST_DEFAULTS))
    if unknown:
        raise TypeError(
            f"unexpected option(s) {', '.join(map(repr, unknown))}; the cost options are "
            + ", ".join(_COST_DEFAULTS)
        )
    o: dict[str, Any] = {**_COST_DEFAULTS, **options}
    order = o["order"]
    auto = isinstance(order, str)
    if auto and order != "auto":
        raise ValueError(f"order must be an int, None or 'auto', got {order!r}")
    return {
        "auto": auto,
        "order": None if auto else order,
        "delays": [int(d) for d in o["delays"]],
        "symmetric": bool(o["symmetric"]),
        "mean": bool(o["mean"]),
        "variance": bool(o["variance"]),
        "trend": bool(o["trend"]),
        "min_size": o["min_size"],
        "block": o["block"],
        "radius": o["radius"],
        "refine_variance": bool(o["refine_variance"]),
    }


def change_points(
    x: npt.ArrayLike,
    *,
    n_bkps: int | None = None,
    pen: float | None = None,
    fine: Segments | None = None,
    **cost: Unpack[CostOptions],
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
    options = _cost_options(cost)
    fine_starts = None
    if fine is not None:
        if not isinstance(fine, Segments) or fine.num_series != 1:
            raise ValueError("fine must be a one-series Segments value of x")
        fine_starts = [int(s) for s in fine.starts]
        if fine.num_samples != np.shape(x)[0]:
            raise ValueError(f"fine covers {fine.num_samples} samples but x has {np.shape(x)[0]}")
    return _change_points(x, options, fine=fine_starts, n_bkps=n_bkps, pen=pen)


class Detections(NamedTuple):
    """Change points confirmed by a :class:`ChangePointDetector` call."""

    #: First sample of each new regime (counted from the start of the stream), ascending.
    start: npt.NDArray[np.int64]
    #: Samples the stream had passed ``start`` by when it was confirmed.
    delay: npt.NDArray[np.int64]


def _detections(found: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]) -> Detections:
    return Detections(*found)


class ChangePointDetector:
    """Streaming :func:`change_points`: ``push(chunk)`` returns the change points
    confirmed so far, ``finish()`` those of the last window; each is reported once, with
    its index in the stream and the delay at which it was confirmed.

    Every ``step`` samples (at stream positions ``step, 2 step, ...``) the detector runs
    the offline search, with the default penalty of the stream so far (or ``pen``), on
    the last ``window`` samples, or from the last confirmed change point if that is
    later. A change point found at least ``lag`` samples behind the head is confirmed
    (``lag`` samples of the new regime are what tells it apart), and the next window
    starts there. The delay is ``lag`` to ``lag + step`` samples, more when a change only
    becomes clear later. Detections are identical for any chunking and across a
    :meth:`checkpoint` or pickle; memory is ``O(window)`` whatever the stream's length.

    With no arguments it uses the defaults of :func:`change_points`: ordinal patterns of
    order 4 at delays 1, 2, 4, 8; nothing is confirmed before :data:`SHORT_SERIES`
    samples, and a stream that finishes shorter is searched whole with the short-series
    cost, exactly as :func:`change_points` does (``order="auto"``). Cost options as in
    :func:`change_points`. On series of the change-point benchmark
    (``benches/bench_change_points.py``) the default window keeps covering within 0.01
    of the offline search.

    Parameters
    ----------
    window : int, default 4096
        Samples each search sees at most (>= ``2 * min_size``). Regimes much longer than
        the window are still found.
    lag : int, optional
        Look-ahead a change point needs before it is confirmed (< ``window``; default
        ``window // 2``).
    step : int, optional
        Samples between searches (1..``window``; default ``window // 8``): smaller
        confirms sooner and costs more.
    pen : float, optional
        Penalty per change point (nats, >= 0); default :func:`default_penalty` of the
        samples seen so far (it grows with the stream as the offline one grows with the
        series, keeping false alarms rare on long streams).

    Examples
    --------
    >>> import numpy as np, pickle, entroseg
    >>> rng = np.random.default_rng(0)
    >>> noise = rng.standard_normal(6000)
    >>> wave = np.sin(np.arange(6000) * 2 * np.pi / 16) + 0.2 * rng.standard_normal(6000)
    >>> x = np.concatenate([noise, wave, noise])  # regimes change at 6000 and 12000
    >>> det = entroseg.ChangePointDetector()
    >>> found = [det.push(x[:7000])]
    >>> det = pickle.loads(pickle.dumps(det))  # checkpoint / resume
    >>> found += [det.push(x[7000:]), det.finish()]
    >>> np.concatenate([f.start for f in found])
    array([ 5997, 12004])
    >>> [int(d) for f in found for d in f.delay]  # samples until each was confirmed
    [2195, 2332]
    """

    __slots__ = ("_inner",)

    def __init__(
        self,
        *,
        window: int = 4096,
        lag: int | None = None,
        step: int | None = None,
        pen: float | None = None,
        **cost: Unpack[CostOptions],
    ) -> None:
        self._inner = _ChangePointDetector(
            _cost_options(cost),
            window=window,
            lag=window // 2 if lag is None else lag,
            step=max(window // 8, 1) if step is None else step,
            pen=pen,
        )

    def push(self, chunk: npt.ArrayLike) -> Detections:
        """Feed the next chunk (1-D, finite); returns the change points confirmed."""
        return _detections(self._inner.push(chunk))

    def finish(self) -> Detections:
        """Close the stream; returns the change points of the last window. Pushing
        afterwards raises :class:`StreamClosedError` until :meth:`reset`."""
        return _detections(self._inner.finish())

    def reset(self) -> None:
        """Start a new stream with the same options."""
        self._inner.reset()

    def checkpoint(self) -> bytes:
        """The state as bytes (options and the samples a later window can see)."""
        return self._inner.checkpoint()

    @classmethod
    def from_checkpoint(cls, state: bytes) -> ChangePointDetector:
        """Rebuild a detector from :meth:`checkpoint` bytes; it resumes identically."""
        obj = cls.__new__(cls)
        obj._inner = _ChangePointDetector.from_checkpoint(state)
        return obj

    def __reduce__(self) -> tuple[Any, tuple[bytes]]:
        return (ChangePointDetector.from_checkpoint, (self.checkpoint(),))

    @property
    def samples_seen(self) -> int:
        """Samples consumed so far."""
        return self._inner.samples_seen

    @property
    def reported(self) -> int:
        """Change points reported so far."""
        return self._inner.reported

    @property
    def retained(self) -> int:
        """Samples held now (at most about twice the window)."""
        return self._inner.retained

    @property
    def is_finished(self) -> bool:
        """True after :meth:`finish`."""
        return self._inner.is_finished

    def __repr__(self) -> str:
        window, lag, step = self._inner.geometry
        state = "finished" if self.is_finished else "open"
        return (
            f"ChangePointDetector(window={window}, lag={lag}, step={step}, "
            f"samples_seen={self.samples_seen}, reported={self.reported}, {state})"
        )
