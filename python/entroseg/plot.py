"""Figures: a series, its entropy profile and its segments in one picture.

Needs matplotlib (``pip install 'entroseg[plot]'``). Figures are drawn without pyplot
(no global state, no display needed), so this works in scripts, servers and tests.
:func:`plot_segments` draws the figure (``segments`` is its deprecated old name).
"""

from __future__ import annotations

import functools
import itertools
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import numpy as np
import numpy.typing as npt

import entroseg
from entroseg.segments import Segments

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from typing_extensions import Unpack

    from entroseg._options import SegmentOptions

__all__ = ["plot_segments", "score_profile", "segments"]


def score_profile(x: npt.ArrayLike, **options: Unpack[SegmentOptions]) -> npt.NDArray[np.float64]:
    """The score signal :func:`entroseg.segment` cuts, for the same options:
    :func:`entroseg.profile` (rule options are ignored).

    Examples
    --------
    >>> import numpy as np
    >>> from entroseg.plot import score_profile
    >>> score_profile(np.array([4.0, 7, 9, 10, 6, 11, 3]), order=2, window=3, threshold=0.5)
    array([nan, nan,  0.,  0.,  1.,  1.,  1.])
    """
    return entroseg.profile(x, **options)


def _buckets(n: int, max_points: int) -> npt.NDArray[np.int64]:
    """Bucket edges so that a long series is drawn as at most ``max_points`` buckets."""
    count = max(1, min(n, max_points))
    return np.linspace(0, n, count + 1).astype(np.int64)


def _envelope(
    y: npt.NDArray[np.float64], edges: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Bucket centres, minima and maxima (NaN-aware; an all-NaN bucket gives NaN)."""
    lo = np.full(len(edges) - 1, np.nan)
    hi = np.full(len(edges) - 1, np.nan)
    finite = np.where(np.isfinite(y), y, np.nan)
    for i, (a, b) in enumerate(itertools.pairwise(edges)):
        part = finite[a:b]
        if len(part) and not np.all(np.isnan(part)):
            lo[i], hi[i] = np.nanmin(part), np.nanmax(part)
    centres = (edges[:-1] + edges[1:] - 1) / 2.0
    return centres, lo, hi


def _draw_series(ax: Axes, y: npt.NDArray[np.float64], max_points: int, color: str) -> None:
    if len(y) <= max_points:
        ax.plot(np.arange(len(y)), y, color=color, linewidth=0.8)
        return
    centres, lo, hi = _envelope(y, _buckets(len(y), max_points))
    ax.fill_between(centres, lo, hi, color=color, linewidth=0.5)


def plot_segments(
    x: npt.ArrayLike,
    seg: Segments | None = None,
    *,
    profile: npt.ArrayLike | None = None,
    truth: npt.ArrayLike | None = None,
    path: str | Path | None = None,
    title: str | None = None,
    max_points: int = 4000,
    max_lines: int = 150,
    **options: Unpack[SegmentOptions],
) -> Figure:
    """Draw a series, its entropy profile and its segments in one figure.

    Three panels share the sample axis: the signal, the score profile, and the length
    of the segment each sample belongs to (log scale), which shows how segment sizes
    follow the information in the signal. Method ``"line"`` has no profile apart from
    its cuts: without ``profile`` its figure has the signal and the lengths only.
    Segment boundaries are drawn as lines when there are at most ``max_lines`` of them;
    long series are drawn as min-max envelopes of ``max_points`` buckets.

    Parameters
    ----------
    x : array_like
        The series (one series).
    seg : Segments, optional
        Its segments; default ``entroseg.segment(x, **options)``.
    profile : array_like, optional
        The score profile; default :func:`score_profile` with ``options``.
    truth : array_like of int, optional
        Known change points to mark (e.g. regime starts of the bundled sample).
    path : str or Path, optional
        Save the figure there (PNG, or any format matplotlib infers from the suffix).
    title : str, optional
        Figure title (default: counts and mean segment length).
    **options
        Options of :func:`entroseg.segment`, used when ``seg`` or ``profile`` is not
        given.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import entroseg, entroseg.plot
    >>> x, starts = entroseg.sample_series(1000)
    >>> fig = entroseg.plot.plot_segments(x, truth=starts, order=4, window=64, target_len=32,
    ...                                   calibration="batch")
    >>> [ax.get_ylabel() for ax in fig.axes]
    ['signal', 'entropy', 'segment length']
    """
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("entroseg.plot needs matplotlib: pip install 'entroseg[plot]'") from None
    xs = np.asarray(x)
    if xs.ndim != 1:
        raise ValueError(f"x must be one series (1-D), got shape {xs.shape}")
    if seg is None:
        seg = entroseg.segment(xs, **options)
    if seg.num_series != 1 or seg.num_samples != len(xs):
        raise ValueError(
            f"seg must be the segments of x: one series of {len(xs)} samples, got {seg!r}"
        )
    # Method "line" has no profile apart from its cuts: its figure has no profile panel.
    has_profile = profile is not None or entroseg.SegmentSpec.method_of(**options) != "line"
    fig = Figure(figsize=(12, 7 if has_profile else 5), layout="constrained")
    if has_profile:
        prof = np.asarray(score_profile(xs, **options) if profile is None else profile, np.float64)
        if prof.shape != xs.shape:
            raise ValueError(f"profile must have the shape of x {xs.shape}, got {prof.shape}")
        ax_x, ax_p, ax_l = fig.subplots(3, 1, sharex=True, height_ratios=[3, 2, 2])
        _draw_series(ax_p, prof, max_points, "#c8553d")
        ax_p.set_ylabel("entropy")
        panels: tuple[Any, ...] = (ax_x, ax_p)
    else:
        ax_x, ax_l = fig.subplots(2, 1, sharex=True, height_ratios=[3, 2])
        panels = (ax_x,)
    _draw_series(ax_x, xs.astype(np.float64), max_points, "#3b6ea8")
    lengths_per_sample = np.repeat(seg.lengths, seg.lengths).astype(np.float64)
    if len(lengths_per_sample) > max_points:
        centres, lo, hi = _envelope(lengths_per_sample, _buckets(len(xs), max_points))
        ax_l.fill_between(centres, lo, hi, step="mid", color="#2a9d8f")
    else:
        ax_l.step(np.arange(len(xs)), lengths_per_sample, where="post", color="#2a9d8f")
    ax_l.set_yscale("log")
    if len(seg) <= max_lines:
        for ax in panels:
            ax.vlines(seg.starts[1:], 0, 1, transform=ax.get_xaxis_transform(),
                      colors="0.35", linewidth=0.6, alpha=0.7)  # fmt: skip
    if truth is not None:
        for ax in (*panels, ax_l):
            ax.vlines(np.asarray(truth)[1:], 0, 1, transform=ax.get_xaxis_transform(),
                      colors="black", linestyles="dashed", linewidth=1.2)  # fmt: skip
    ax_x.set_ylabel("signal")
    ax_l.set_ylabel("segment length")
    ax_l.set_xlabel("sample")
    ax_l.set_xlim(0, max(len(xs) - 1, 1))
    mean = seg.num_samples / len(seg) if len(seg) else 0.0
    fig.suptitle(
        title
        or f"{len(xs):,} samples, {len(seg):,} segments, mean length {mean:.1f}, "
        f"max {seg.max_seqlen}"
    )
    if path is not None:
        fig.savefig(path, dpi=100)
    return fig


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _deprecated_alias(func: Callable[_P, _R], old: str) -> Callable[_P, _R]:
    """``func`` under its old name, warning :class:`DeprecationWarning` at each call."""

    @functools.wraps(func)
    def alias(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        warnings.warn(
            f"entroseg.plot.{old} is deprecated and will be removed in the next release; "
            f"use entroseg.plot.{func.__name__} (same arguments)",
            DeprecationWarning,
            stacklevel=2,
        )
        return func(*args, **kwargs)

    alias.__name__ = alias.__qualname__ = old
    alias.__doc__ = f"Deprecated alias of :func:`{func.__name__}` (same arguments)."
    return alias


#: The old name of :func:`plot_segments`, which collided with :mod:`entroseg.segments`
#: and :class:`entroseg.Segments`. Deprecated; removed in the next release.
segments = _deprecated_alias(plot_segments, "segments")
