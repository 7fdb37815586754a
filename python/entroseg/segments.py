"""Segments for GPU models, and the segmentation entry points.

A :class:`Segments` value holds the segments of one or many series (varlen: each
series keeps its own positions, nothing leaks between series) and hands them to models
in the forms they take: ``cu_seqlens`` for FlashAttention-style varlen kernels,
per-token patch ids, and right-padded ``[B, P]`` patch lengths (the BLT / EntroPE
layout). Arrays are numpy, so ``torch.from_dlpack(seg.cu_seqlens)`` shares memory.

:func:`segment` computes an entropy profile and applies the rules in one native pass;
:func:`boundaries` applies the rules to any score array (your model's entropies);
:func:`segment_batch` segments a ragged batch on all cores; :class:`Segmenter` streams.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import numpy.typing as npt

from entroseg._entroseg import (
    REASONS,
    SegmentSpec,
    _profile,
    _Profiler,
    _segment,
    _segment_batch,
    _Segmenter,
)
from entroseg._options import RuleOptions, SegmentOptions, build_spec, profile_options

if TYPE_CHECKING:
    import pyarrow
    from typing_extensions import Unpack

__all__ = [
    "REASONS",
    "Calibration",
    "PaddedSegments",
    "Profiler",
    "SegmentSpec",
    "Segmenter",
    "Segments",
    "boundaries",
    "profile",
    "segment",
    "segment_batch",
]

_I64 = npt.NDArray[np.int64]


class PaddedSegments(NamedTuple):
    """Right-padded segment lengths of a batch: the BLT / EntroPE ``patch_lengths`` layout.

    ``lengths[b, p]`` is the length of patch ``p`` of series ``b`` (0 after its last
    patch, so each row sums to the series length); ``mask`` is True where a patch exists.
    """

    lengths: npt.NDArray[np.int64]
    mask: npt.NDArray[np.bool_]


class Calibration(NamedTuple):
    """How a one-shot segmentation met ``target_len`` or ``budget``
    (``Segments.calibration``).

    ``threshold`` is the threshold the rules cut with (for method ``"line"``, the price
    of a new segment; online, the controller's final value). ``tie_cut`` says how tied
    scores were broken: 0 when no tie was broken (the threshold alone reproduces the
    segments, e.g. ``Segmenter(threshold=...)``); otherwise scores equal to the threshold
    started a segment where a fixed mix of their position ranks below ``tie_cut`` (a
    deterministic rule, the same for every chunking). ``achieved`` is the mean segment
    length obtained; ``met`` is True when it is within 5% of ``target_len``.

    Under ``budget`` (the total number of segments of a batch, one threshold shared by
    its series), ``budget`` is that number, ``target_len`` the mean length it stands for
    (samples / budget) and ``achieved`` the mean length obtained over the whole batch;
    ``met`` is then True when the total is within 2% of the budget
    (:data:`BUDGET_TOLERANCE`) or one segment of it. Series get different numbers of
    segments by design: ``Segments.series_counts`` says how many each. With
    ``budget_by="error"`` each series has its own threshold, and ``threshold`` is None.
    """

    target_len: float
    calibration: str
    threshold: float | None
    tie_cut: int
    achieved: float
    budget: int | None = None

    @property
    def met(self) -> bool:
        """True when the achieved mean length is within 5% of the target (under
        ``budget``: when the total is within 2% of the budget, or one segment)."""
        if self.budget is not None:
            # The total, from the mean lengths (both over the same samples).
            total = round(self.budget * self.target_len / self.achieved)
            return abs(total - self.budget) <= max(BUDGET_TOLERANCE * self.budget, 1)
        return abs(self.achieved / self.target_len - 1.0) <= TARGET_TOLERANCE


def _frozen(a: npt.NDArray[Any]) -> npt.NDArray[Any]:
    a.setflags(write=False)
    return a


class Segments:
    """Segments of one or more series.

    Segment ``i`` covers samples ``starts[i] : starts[i] + lengths[i]`` of its series;
    series ``b`` owns segments ``series_offsets[b] : series_offsets[b + 1]``. Within a
    series, segments are contiguous and in order. The arrays are read-only numpy arrays
    (DLPack-ready).

    Parameters
    ----------
    starts, lengths : array_like of int
        First sample and length of each segment (lengths >= 1).
    reasons : array_like of int, optional
        Why each segment started, as codes into :data:`REASONS` (default all "start").
    series_offsets : array_like of int, optional
        Segments per series as offsets (leading 0); default: one series.

    Examples
    --------
    >>> import numpy as np, entroseg
    >>> seg = entroseg.Segments(starts=[0, 3, 0], lengths=[3, 2, 4], series_offsets=[0, 2, 3])
    >>> seg
    Segments(3 segments in 2 series, 9 samples, max_seqlen=4)
    >>> seg.cu_seqlens
    array([0, 3, 5, 9], dtype=int32)
    >>> seg.patch_ids()
    array([0, 0, 0, 1, 1, 2, 2, 2, 2])
    >>> seg.patch_ids(local=True)
    array([0, 0, 0, 1, 1, 0, 0, 0, 0])
    >>> seg.to_padded().lengths
    array([[3, 2],
           [4, 0]])
    """

    __slots__ = ("_calibration", "_lengths", "_reasons", "_series_offsets", "_starts")

    def __init__(
        self,
        starts: npt.ArrayLike,
        lengths: npt.ArrayLike,
        reasons: npt.ArrayLike | None = None,
        series_offsets: npt.ArrayLike | None = None,
    ) -> None:
        st = np.array(starts, dtype=np.int64, ndmin=1)
        ln = np.array(lengths, dtype=np.int64, ndmin=1)
        if st.ndim != 1 or ln.shape != st.shape:
            raise ValueError(
                f"starts and lengths must be 1-D of equal length, got shapes {st.shape} "
                f"and {ln.shape}"
            )
        n = len(st)
        rs = (
            np.zeros(n, dtype=np.uint8)
            if reasons is None
            else np.array(reasons, dtype=np.uint8, ndmin=1)
        )
        if rs.shape != st.shape:
            raise ValueError(f"reasons must have {n} entries, got shape {rs.shape}")
        so = (
            np.array([0, n], dtype=np.int64)
            if series_offsets is None
            else np.array(series_offsets, dtype=np.int64, ndmin=1)
        )
        if so.ndim != 1 or len(so) < 1 or so[0] != 0 or so[-1] != n or np.any(np.diff(so) < 0):
            raise ValueError(
                f"series_offsets must start at 0, never decrease and end at {n} (the number "
                f"of segments), got {so.tolist()[:8]}{'...' if len(so) > 8 else ''}"
            )
        if n and (ln.min() < 1 or st.min() < 0):
            raise ValueError("segment lengths must be >= 1 and starts >= 0")
        # Contiguity within each series: the next start is this start plus this length.
        follows = st[1:] == st[:-1] + ln[:-1]
        first_of_series = np.zeros(n, dtype=bool)
        first_of_series[so[:-1][so[:-1] < n]] = True
        if n > 1 and not np.all(follows | first_of_series[1:]):
            i = int(np.flatnonzero(~(follows | first_of_series[1:]))[0]) + 1
            raise ValueError(
                f"segments of a series must be contiguous: segment {i} starts at {st[i]}, "
                f"expected {st[i - 1] + ln[i - 1]}"
            )
        if n and rs.max() >= len(REASONS):
            raise ValueError(f"reason codes must be < {len(REASONS)}, got {int(rs.max())}")
        self._calibration: Calibration | None = None
        self._starts = _frozen(st)
        self._lengths = _frozen(ln)
        self._reasons = _frozen(rs)
        self._series_offsets = _frozen(so)

    @classmethod
    def _native(
        cls,
        starts: _I64,
        lengths: _I64,
        reasons: npt.NDArray[np.uint8],
        series_offsets: _I64 | None = None,
    ) -> Segments:
        """Segments of arrays fresh from the native core (int64, int64, uint8, owned by
        nobody else), taken as they are: the core's segments are contiguous, ordered and
        legal by construction (its own tests check that), so the constructor's copies
        and its checks, several passes over every segment, are skipped."""
        seg = cls.__new__(cls)
        seg._calibration = None
        seg._starts = _frozen(starts)
        seg._lengths = _frozen(lengths)
        seg._reasons = _frozen(reasons)
        seg._series_offsets = _frozen(
            np.array([0, len(starts)], dtype=np.int64) if series_offsets is None else series_offsets
        )
        return seg

    # -- the arrays ---------------------------------------------------------------
    @property
    def calibration(self) -> Calibration | None:
        """How ``target_len`` was met (one-shot :func:`segment` and :func:`boundaries`
        with ``target_len``), or ``budget`` (also :func:`segment_batch`); None otherwise
        (and after joining or slicing)."""
        return self._calibration

    @property
    def starts(self) -> _I64:
        """First sample of each segment, within its series (int64)."""
        return self._starts

    @property
    def lengths(self) -> _I64:
        """Length of each segment (int64)."""
        return self._lengths

    @property
    def reasons(self) -> npt.NDArray[np.uint8]:
        """Why each segment started: codes into :data:`REASONS` (uint8)."""
        return self._reasons

    @property
    def reason_names(self) -> list[str]:
        """The reasons as names ("start", "threshold", "relative", "both", "max_len")."""
        return [REASONS[r] for r in self._reasons.tolist()]

    @property
    def series_offsets(self) -> _I64:
        """Segments per series as offsets, leading 0 (int64, ``num_series + 1`` entries)."""
        return self._series_offsets

    @property
    def num_series(self) -> int:
        """Number of series."""
        return len(self._series_offsets) - 1

    @property
    def num_samples(self) -> int:
        """Samples covered, over all series."""
        return int(self._lengths.sum())

    @property
    def series_counts(self) -> _I64:
        """Segments (tokens) per series (int64): how a shared ``budget`` was spread."""
        return np.diff(self._series_offsets)

    @property
    def series_lengths(self) -> _I64:
        """Samples per series (int64)."""
        if len(self._series_offsets) == 2:
            # One series: its samples are all the samples (no running sum needed).
            return np.array([self._lengths.sum()], dtype=np.int64)
        totals = np.concatenate([[0], np.cumsum(self._lengths)])
        return np.asarray(totals[self._series_offsets[1:]] - totals[self._series_offsets[:-1]])

    @property
    def cu_seqlens(self) -> npt.NDArray[np.int32]:
        """Cumulative segment lengths with a leading 0, int32: FlashAttention's varlen
        ``cu_seqlens`` (and PyTorch's jagged ``offsets``) over all segments of all series.

        Raises ``OverflowError`` when the total exceeds int32; use :meth:`offsets` then.
        """
        out = self.offsets()
        if len(out) and out[-1] > np.iinfo(np.int32).max:
            raise OverflowError(
                f"{out[-1]} samples do not fit int32 cu_seqlens; use offsets() (int64)"
            )
        return out.astype(np.int32)

    def offsets(self) -> _I64:
        """Cumulative segment lengths with a leading 0, int64."""
        return np.concatenate([np.zeros(1, dtype=np.int64), np.cumsum(self._lengths)])

    @property
    def max_seqlen(self) -> int:
        """The longest segment (0 when there is none)."""
        return int(self._lengths.max()) if len(self._lengths) else 0

    def patch_ids(self, *, local: bool = False) -> _I64:
        """Token -> patch index, one entry per sample of all series concatenated.

        With ``local=False`` the index counts over the whole batch (it indexes
        ``starts``/``lengths``); with ``local=True`` it restarts at 0 in every series.
        """
        ids = np.repeat(np.arange(len(self._lengths), dtype=np.int64), self._lengths)
        if local:
            first = np.repeat(self._series_offsets[:-1], np.diff(self._series_offsets))
            ids -= np.repeat(first, self._lengths)
        return ids

    def to_padded(self) -> PaddedSegments:
        """Right-padded ``[num_series, max_patches]`` patch lengths and mask (BLT/EntroPE)."""
        counts = np.diff(self._series_offsets)
        width = int(counts.max()) if len(counts) else 0
        mask = np.arange(width)[None, :] < counts[:, None]
        lengths = np.zeros((self.num_series, width), dtype=np.int64)
        lengths[mask] = self._lengths
        return PaddedSegments(lengths, mask)

    def series(self, index: int) -> Segments:
        """The segments of one series (as a one-series value)."""
        if not -self.num_series <= index < self.num_series:
            raise IndexError(f"series index {index} out of range for {self.num_series} series")
        index %= self.num_series
        lo, hi = int(self._series_offsets[index]), int(self._series_offsets[index + 1])
        return Segments(self._starts[lo:hi], self._lengths[lo:hi], self._reasons[lo:hi])

    def to_arrow(self) -> pyarrow.Table:
        """A pyarrow Table with columns ``series``, ``start``, ``length``, ``reason``."""
        import pyarrow as pa

        series = np.repeat(
            np.arange(self.num_series, dtype=np.int64), np.diff(self._series_offsets)
        )
        batch = _arrow_batch("series", pa.array(series), self._starts, self._lengths, self._reasons)
        return pa.Table.from_batches([batch])

    @classmethod
    def concat(cls, parts: Iterable[Segments]) -> Segments:
        """Stack values series-wise: the series of each part, in order."""
        parts = list(parts)
        if not parts:
            return cls([], [], series_offsets=[0])
        offsets = [np.zeros(1, dtype=np.int64)]
        total = 0
        for p in parts:
            offsets.append(p._series_offsets[1:] + total)
            total += len(p)
        return cls(
            np.concatenate([p._starts for p in parts]),
            np.concatenate([p._lengths for p in parts]),
            np.concatenate([p._reasons for p in parts]),
            np.concatenate(offsets),
        )

    @classmethod
    def join(cls, parts: Iterable[Segments]) -> Segments:
        """Join one-series pieces of the same stream (e.g. successive ``Segmenter.push``
        results) into one series; they must follow each other."""
        parts = [p for p in parts if len(p)]
        if any(p.num_series != 1 for p in parts):
            raise ValueError("join() takes one-series values; use concat() to stack series")
        if not parts:
            return cls([], [])
        return cls(
            np.concatenate([p._starts for p in parts]),
            np.concatenate([p._lengths for p in parts]),
            np.concatenate([p._reasons for p in parts]),
        )

    # -- protocol -----------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._starts)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Segments):
            return NotImplemented
        return all(
            np.array_equal(a, b)
            for a, b in (
                (self._starts, other._starts),
                (self._lengths, other._lengths),
                (self._reasons, other._reasons),
                (self._series_offsets, other._series_offsets),
            )
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"Segments({len(self)} segments in {self.num_series} series, "
            f"{self.num_samples} samples, max_seqlen={self.max_seqlen})"
        )

    def __getstate__(self) -> tuple[_I64, _I64, npt.NDArray[np.uint8], _I64]:
        return (self._starts, self._lengths, self._reasons, self._series_offsets)

    def __setstate__(self, state: tuple[_I64, _I64, npt.NDArray[np.uint8], _I64]) -> None:
        fresh = Segments(*state)
        for name in self.__slots__:
            object.__setattr__(self, name, getattr(fresh, name))


def _arrow_batch(
    key_name: str | None,
    keys: Any,
    starts: npt.ArrayLike,
    lengths: npt.ArrayLike,
    reasons: npt.ArrayLike,
) -> pyarrow.RecordBatch:
    """One row per segment: ``key_name`` (the Arrow array ``keys``, one per row; no such
    column when ``key_name`` is None), ``start`` and ``length`` (int64) and ``reason``
    (int8 codes into a dictionary of :data:`REASONS`). The one builder of segment tables
    (:meth:`Segments.to_arrow`, the Arrow stream step, the Ray step)."""
    import pyarrow as pa

    reason = pa.DictionaryArray.from_arrays(
        pa.array(np.asarray(reasons, dtype=np.int8), pa.int8()),
        pa.array(list(REASONS), pa.string()),
    )
    arrays = [pa.array(starts, pa.int64()), pa.array(lengths, pa.int64()), reason]
    names = ["start", "length", "reason"]
    if key_name is not None:
        arrays.insert(0, keys)
        names.insert(0, key_name)
    return pa.RecordBatch.from_arrays(arrays, names=names)


def _one_series(arrays: tuple[_I64, _I64, npt.NDArray[np.uint8]]) -> Segments:
    starts, lengths, reasons = arrays
    return Segments._native(starts, lengths, reasons)


def _calibrated(
    result: tuple[tuple[_I64, _I64, npt.NDArray[np.uint8]], tuple[float, int] | None],
    spec: SegmentSpec,
) -> Segments:
    """The segments of a native one-shot call, carrying their :class:`Calibration` when
    the spec calibrates ``target_len``."""
    arrays, threshold = result
    seg = _one_series(arrays)
    if isinstance(spec.options["budget"], int):
        # Called by segment() and boundaries(): the caller is four frames up.
        return _budgeted(seg, spec, threshold, stacklevel=4)
    target = spec.options["target_len"]
    if isinstance(target, float) and threshold is not None and len(seg):
        value, tie_cut = threshold
        seg._calibration = Calibration(
            target_len=target,
            calibration=str(spec.options["calibration"]),
            threshold=value,
            tie_cut=tie_cut,
            achieved=seg.num_samples / len(seg),
        )
    return seg


def _budgeted(
    seg: Segments, spec: SegmentSpec, threshold: tuple[float, int] | None, *, stacklevel: int = 3
) -> Segments:
    """``seg`` carrying the :class:`Calibration` of a ``budget`` (its series shared
    ``threshold``), after a ``UserWarning`` when the total misses the budget by more than
    :data:`BUDGET_TOLERANCE` and more than one segment."""
    budget = spec.options["budget"]
    by_error = spec.options["budget_by"] == "error"
    if not isinstance(budget, int) or (threshold is None and not by_error) or not len(seg):
        return seg
    # Under budget_by="error" each series has its own calibrated threshold: none shared.
    value, tie_cut = threshold if threshold is not None else (None, 0)
    seg._calibration = Calibration(
        target_len=seg.num_samples / budget,
        calibration="batch",
        threshold=value,
        tie_cut=tie_cut,
        achieved=seg.num_samples / len(seg),
        budget=budget,
    )
    if not seg._calibration.met:
        warnings.warn(
            f"budget={budget} missed: {len(seg)} segments in {seg.num_series} series, more "
            f"than {BUDGET_TOLERANCE:.0%} off: the rules allow no closer total (at least "
            "one segment per series, hard min_len/max_len, tied scores)",
            UserWarning,
            stacklevel=stacklevel,
        )
    return seg


#: How far (relative) the total may be from ``budget`` before the one-shot surfaces say
#: so with a ``UserWarning``.
BUDGET_TOLERANCE = 0.02

#: How far (relative) the achieved mean length may be from ``target_len`` before the
#: one-shot surfaces say so with a ``UserWarning``.
TARGET_TOLERANCE = 0.05


def checked_target(seg: Segments, spec: SegmentSpec, *, stacklevel: int = 3) -> Segments:
    """``seg``, after a ``UserWarning`` when a series' mean segment length misses the
    spec's ``target_len`` by more than :data:`TARGET_TOLERANCE`: the calibration is never
    off silently (tied scores, hard ``min_len``/``max_len`` or a short series can leave
    no threshold closer to the target)."""
    target = spec.options["target_len"]
    if isinstance(target, float) and len(seg):
        warn_missed_target(
            target,
            str(spec.options["calibration"]),
            np.diff(seg.series_offsets),
            seg.series_lengths,
            stacklevel=stacklevel + 1,
        )
    return seg


def warn_missed_target(
    target: float,
    calibration: str,
    counts: npt.ArrayLike,
    samples: npt.ArrayLike,
    *,
    stacklevel: int,
) -> None:
    """The one ``UserWarning`` of a missed ``target_len``: ``counts[b]`` segments over
    ``samples[b]`` samples in series ``b`` (one-shot surfaces, and streams at
    ``finish``)."""
    counts = np.asarray(counts, dtype=np.int64)
    samples = np.asarray(samples, dtype=np.int64)
    live = counts > 0
    if not live.any():
        return
    achieved = samples[live] / counts[live]
    off = np.abs(achieved / target - 1.0) > TARGET_TOLERANCE
    if not off.any():
        return
    worst = int(np.argmax(np.abs(achieved / target - 1.0)))
    where = "" if len(counts) == 1 else f" in {int(off.sum())} of {len(counts)} series"
    why = (
        "the online controller had too little of the stream to converge "
        "(calibration='online'; 'batch' is exact where the whole series is at hand)"
        if calibration == "online"
        else "the scores allow no closer cut (tied scores, hard min_len/max_len, or a "
        "series too short; calibration='batch')"
    )
    warnings.warn(
        f"target_len={target:g} missed{where}: mean segment length "
        f"{achieved[worst]:.2f} ({int(counts[live][worst])} segments over "
        f"{int(samples[live][worst])} samples), more than {TARGET_TOLERANCE:.0%} off: {why}",
        UserWarning,
        stacklevel=stacklevel + 1,
    )


def segment(
    x: npt.ArrayLike, *, spec: SegmentSpec | None = None, **options: Unpack[SegmentOptions]
) -> Segments:
    """Cut ``x`` into segments, in one native pass.

    With no method given (and no ``window``/``order``), method ``"line"``: a segment
    starts where adding the sample would raise the residual of the least-squares line
    through the open segment by more than the threshold (the price of a new token), so
    segments are short where a line cannot follow the series and long where it can. With
    a profile method (``"permutation"``, ``"conditional"``, ``"next_symbol"``,
    ``"scores"``) the profile gives a score per sample and a segment starts where the
    rule fires. The result's ``calibration`` says how ``target_len`` was met. The GIL is
    released.

    Parameters
    ----------
    x : array_like
        The series: floats for ``"line"``, ``"permutation"`` and ``"scores"``, integer
        symbols for ``"conditional"`` and ``"next_symbol"``. Shape ``(n,)``, or
        ``(n, c)`` for ``c`` channels sharing one boundary set (C- or F-ordered): each
        channel is profiled alone and the profiles combine by ``channels="sum"`` (the
        default) or ``"max"`` before the rules; method ``"line"`` fits each channel and
        adds (or, with ``"max"``, takes the largest of) their residual increases.
    spec : SegmentSpec, optional
        A spec built once (``SegmentSpec(**options)``), instead of the options.
    **options
        The segmentation options, the same on every surface (see
        :mod:`entroseg._options`): the score method (``method``, ``order``, ``delay``,
        ``window``, ``weighted``, ``normalize``, ``context``, ``alphabet_size``,
        ``alpha``, ``min_count``, ``reset_symbol``, ``statistic``, ``nan_policy``) and the
        rules (``threshold``, ``relative``, ``combine``, ``min_len``, ``max_len``,
        ``target_len`` with ``calibration``, ``preset``, ``mode``, ``quantile``).
        ``min_len`` and ``max_len`` are hard: every segment but the last obeys both, the
        last obeys ``max_len``. ``calibration="batch"`` calibrates ``target_len``
        exactly over the whole profile; ``"online"`` uses the streaming controller, so
        results equal a :class:`Segmenter` fed the same series.

    Returns
    -------
    Segments
        One series. Positions in the profile's warm-up (NaN scores) never start a
        segment by rule; ``max_len`` splits can still fall there.

    Examples
    --------
    >>> import numpy as np, entroseg
    >>> x, _ = entroseg.sample_series(1000)
    >>> seg = entroseg.segment(x, target_len=32, max_len=128)
    >>> int(seg.lengths.sum()), seg.num_series, seg.calibration.met
    (4000, 1, True)
    >>> pe = entroseg.segment(x, order=4, window=64, target_len=32, min_len=8, max_len=128)
    >>> bool(28 < np.mean(pe.lengths) < 36)
    True
    """
    built = build_spec(options, streaming=False, spec=spec, data=x)
    return checked_target(_calibrated(_segment(x, built), built), built)


def profile(x: npt.ArrayLike, **options: Unpack[SegmentOptions]) -> npt.NDArray[np.float64]:
    """The score signal :func:`segment` cuts, for the same options (rule options are
    accepted and ignored). The GIL is released.

    ``method="permutation"`` gives the rolling permutation entropy, ``"conditional"``
    the rolling conditional entropy, ``"next_symbol"`` the next-symbol entropy (or
    surprisal, ``statistic=``), ``"scores"`` the input itself. Warm-up positions are NaN.

    Examples
    --------
    >>> import numpy as np, entroseg
    >>> entroseg.profile(np.array([4.0, 7, 9, 10, 6, 11, 3]), order=2, window=3)
    array([nan, nan,  0.,  0.,  1.,  1.,  1.])
    """
    return _profile(x, **profile_options(options))


def boundaries(
    scores: npt.ArrayLike, *, spec: SegmentSpec | None = None, **options: Unpack[RuleOptions]
) -> Segments:
    """Cut a score signal into segments: our profiles, or your model's entropies.

    ``segment(scores, method="scores", ...)``: the rule options of :func:`segment`
    (``threshold``, ``relative``, ``combine``, ``min_len``, ``max_len``, ``target_len``
    with ``calibration``, ``preset``, ``mode``, ``quantile``, ``nan_policy``). Every
    segment but the last obeys ``min_len <= length <= max_len``; the last obeys
    ``length <= max_len``; lengths sum to ``len(scores)``. Non-finite scores raise
    under ``nan_policy="raise"``; under ``"propagate"`` a NaN never starts a segment.

    Presets reproduce published patchers exactly on the same entropy arrays (each
    array one sequence; for a batch use :func:`segment_batch` with ``method="scores"``).
    Entropies are rounded to float32 as both projects do, and ``max_len`` then cuts
    over-long patches from the left into ``max_len`` pieces (their
    ``max_patch_length``):

    - ``preset="blt"``: BLT's ``find_entropy_patch_start_ids`` with
      ``include_next_token=False`` (so lengths sum to n). Patches start at 0 and 1; an
      entropy at ``t`` decides a start at ``t + 1``. ``mode="global"``:
      ``e[t] > threshold`` (default threshold: BLT's 1.335442066192627).
      ``mode="monotonic"`` (BLT's ``monotonicity=True``): always a start at 2, then
      ``e[t] - e[t-1] > relative``. ``mode="combined"`` (BLT's ``threshold_add``):
      always 2, never 3, then ``e[t] - e[t-1] > relative and e[t] > threshold``.
    - ``preset="entrope"``: EntroPE's quantile patching with
      ``include_next_token=False``. A patch starts at 0; ``mode="global"``: at
      ``t + 1`` when ``e[t]`` exceeds the per-sequence ``torch.quantile(e, quantile)``;
      ``mode="monotonic"``: always at 1, then when ``e[t] - e[t-1]`` exceeds the
      quantile of the increases.

    Returns
    -------
    Segments
        One series; ``reasons`` say why each segment started.

    Examples
    --------
    >>> import numpy as np, entroseg
    >>> e = np.array([0.9, 0.1, 0.7, 0.2, 0.8, 0.6, 0.3])
    >>> entroseg.boundaries(e, preset="blt", threshold=0.5).starts
    array([0, 1, 3, 5, 6])
    >>> seg = entroseg.boundaries(e, threshold=0.5, min_len=2)
    >>> seg.starts, seg.reason_names
    (array([0, 2, 4]), ['start', 'threshold', 'threshold'])
    """
    if spec is None:
        if "method" in options:
            raise TypeError("boundaries() cuts the scores it is given: it takes no method")
        spec = build_spec({**options, "method": "scores"}, streaming=False)
    elif spec.method != "scores":
        raise TypeError(f"boundaries() takes a spec of method 'scores', got {spec.method!r}")
    return checked_target(_calibrated(_segment(scores, spec), spec), spec)


def segment_batch(
    values: npt.ArrayLike,
    offsets: npt.ArrayLike,
    *,
    threads: int | None = None,
    spec: SegmentSpec | None = None,
    **options: Unpack[SegmentOptions],
) -> Segments:
    """Segment a ragged batch: series ``b`` is ``values[offsets[b]:offsets[b+1]]``.

    Series run in parallel on ``threads`` threads (default: all cores) with the GIL
    released; each is segmented exactly as :func:`segment` would segment it alone (no
    state crosses series). Options as in :func:`segment`; with ``method="scores"`` and a
    preset, each series is one sequence of the published patcher's batch.

    With ``budget=N`` the series share one token budget instead: every series is
    profiled, one threshold (for method ``"line"`` and ``accumulate``: one price) is
    calibrated over all the profiles so that the batch has ``N`` segments in all
    (within 2% on mixed series; counted series by series, so ``min_len`` and ``max_len``
    hold in every series), and each series is cut with it, exactly as :func:`segment`
    cuts it with ``threshold=seg.calibration.threshold`` (when ``tie_cut`` is 0). A
    series with more information above the shared threshold gets more segments;
    ``seg.series_counts`` says how many each got, ``seg.calibration`` how the budget was
    met. ``target_len`` instead calibrates each series to the same mean length.

    "More information" is what the score says: for entropy-type scores and for the line
    rule's price that favours the noisiest series, which reconstruction rarely needs.
    ``budget_by="error"`` spreads the budget by reconstruction instead: each series is
    cut by its own calibrated rules at a grid of counts, the squared error of a
    least-squares line fitted to every segment is measured, and the budget goes where a
    segment removes the most error (equal marginal gains over the convex error curves);
    ``seg.calibration.threshold`` is then None (each series has its own).

    Raises
    ------
    InvalidParameterError
        When ``offsets`` do not start at 0, decrease, or do not end at ``len(values)``;
        errors inside a series name it (``"series 3: ..."``).

    Examples
    --------
    >>> import numpy as np, entroseg
    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.standard_normal(500), np.sin(np.arange(300) / 5.0)
    >>> opts = dict(order=3, window=32, target_len=20, calibration="batch")
    >>> seg = entroseg.segment_batch(np.concatenate([a, b]), [0, 500, 800], **opts)
    >>> seg.num_series, seg.series_lengths.tolist()
    (2, [500, 300])
    >>> seg.series(1) == entroseg.segment(b, **opts)
    True
    >>> shared = entroseg.segment_batch(np.concatenate([a, b]), [0, 500, 800], budget=40)
    >>> int(shared.series_counts.sum()), shared.calibration.met
    (40, True)
    >>> fitted = entroseg.segment_batch(
    ...     np.concatenate([a, b]), [0, 500, 800], budget=40, budget_by="error")
    >>> int(fitted.series_counts.sum()), fitted.calibration.threshold is None
    (40, True)
    """
    built = build_spec(options, streaming=False, spec=spec, data=values)
    starts, lengths, reasons, series_offsets, threshold = _segment_batch(
        values, offsets, built, threads
    )
    seg = Segments._native(starts, lengths, reasons, series_offsets)
    if isinstance(built.options["budget"], int):
        return _budgeted(seg, built, threshold)
    return checked_target(seg, built)


class Segmenter:
    """The streaming segmentation pipeline: estimator, then rules.

    ``push(chunk)`` returns the segments that closed (positions count from the start of
    the stream); ``finish()`` returns the last one. Any chunking, and any checkpoint /
    pickle point, gives exactly the segments of one-shot :func:`segment` on the whole
    stream with the same options (a stream calibrates ``target_len`` with
    ``calibration="online"`` only: it cannot see data it has not been given). A segment
    closes at most ``max_len`` samples after its end is decided. Memory is constant in
    the stream length. Options as in :func:`segment`; symbol methods need
    ``alphabet_size``; ``preset="entrope"`` needs the whole sequence and cannot stream.
    ``push`` releases the GIL.

    Examples
    --------
    >>> import numpy as np, pickle, entroseg
    >>> x, _ = entroseg.sample_series(2000)
    >>> opts = dict(order=4, window=64, target_len=32, calibration="online", max_len=96)
    >>> s = entroseg.Segmenter(**opts)
    >>> parts = [s.push(x[:3000])]
    >>> s = pickle.loads(pickle.dumps(s))  # checkpoint / resume
    >>> parts += [s.push(x[3000:]), s.finish()]
    >>> entroseg.Segments.join(parts) == entroseg.segment(x, **opts)
    True
    """

    __slots__ = ("_inner",)

    def __init__(
        self, *, spec: SegmentSpec | None = None, **options: Unpack[SegmentOptions]
    ) -> None:
        self._inner = _Segmenter(build_spec(options, streaming=True, spec=spec))

    def push(self, chunk: npt.ArrayLike) -> Segments:
        """Feed the next chunk; returns the segments that closed (one series)."""
        return _one_series(self._inner.push(chunk))

    def finish(self) -> Segments:
        """Close the stream; returns the last segment(s). Pushing afterwards raises
        :class:`StreamClosedError` until :meth:`reset`. With ``target_len``, a stream
        whose mean segment length missed it by more than 5% warns here."""
        last = _one_series(self._inner.finish())
        target = self._inner.target_len
        if target is not None:
            warn_missed_target(
                target, "online", [self._inner.segments_closed], [self.samples_seen],
                stacklevel=2,
            )  # fmt: skip
        return last

    def reset(self) -> None:
        """Start a new stream with the same options."""
        self._inner.reset()

    def checkpoint(self) -> bytes:
        """The state as bytes (estimator and rule engine)."""
        return self._inner.checkpoint()

    @classmethod
    def from_checkpoint(cls, state: bytes) -> Segmenter:
        """Rebuild a segmenter from :meth:`checkpoint` bytes; it resumes bit-identically."""
        obj = cls.__new__(cls)
        obj._inner = _Segmenter.from_checkpoint(state)
        return obj

    def __reduce__(self) -> tuple[Any, tuple[bytes]]:
        return (Segmenter.from_checkpoint, (self.checkpoint(),))

    @property
    def samples_seen(self) -> int:
        """Samples consumed so far."""
        return self._inner.samples_seen

    @property
    def is_finished(self) -> bool:
        """True after :meth:`finish`."""
        return self._inner.is_finished

    @property
    def channels(self) -> int:
        """The stream's channel count: fixed by its first samples (a 1-D chunk is one
        channel, an ``(n, c)`` chunk ``c``); 1 before any."""
        return self._inner.channels

    def __repr__(self) -> str:
        state = "finished" if self.is_finished else "open"
        return f"Segmenter(samples_seen={self.samples_seen}, {state})"


class Profiler:
    """The streaming form of :func:`profile`: ``push(chunk)`` returns the scores of the
    chunk's samples, bit-identical to :func:`profile` of the whole stream for any
    chunking and after any checkpoint / pickle. Options as in :func:`segment` (rule
    options are ignored); symbol methods need ``alphabet_size``. Chunks of shape
    ``(n, c)`` give the channels' profiles combined by ``channels`` (as :func:`profile`
    of an ``(n, c)`` array); the first samples fix ``c``. ``push`` releases the GIL.

    Examples
    --------
    >>> import numpy as np, pickle, entroseg
    >>> x, _ = entroseg.sample_series(500)
    >>> p = entroseg.Profiler(order=4, window=64)
    >>> head = p.push(x[:700])
    >>> p = pickle.loads(pickle.dumps(p))
    >>> whole = entroseg.profile(x, order=4, window=64)
    >>> np.array_equal(np.concatenate([head, p.push(x[700:])]), whole, equal_nan=True)
    True
    """

    __slots__ = ("_inner",)

    def __init__(self, **options: Unpack[SegmentOptions]) -> None:
        self._inner = _Profiler(**profile_options(options))

    def push(self, chunk: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Feed the next chunk; returns one score per sample (NaN in the warm-up)."""
        return self._inner.push(chunk)

    def reset(self) -> None:
        """Start a new stream with the same options."""
        self._inner.reset()

    def checkpoint(self) -> bytes:
        """The state as bytes."""
        return self._inner.checkpoint()

    @classmethod
    def from_checkpoint(cls, state: bytes) -> Profiler:
        """Rebuild a profiler from :meth:`checkpoint` bytes; it resumes bit-identically."""
        obj = cls.__new__(cls)
        obj._inner = _Profiler.from_checkpoint(state)
        return obj

    def __reduce__(self) -> tuple[Any, tuple[bytes]]:
        return (Profiler.from_checkpoint, (self.checkpoint(),))

    @property
    def samples_seen(self) -> int:
        """Samples consumed so far."""
        return self._inner.samples_seen

    @property
    def takes_symbols(self) -> bool:
        """True when the method reads integer symbols."""
        return self._inner.takes_symbols

    @property
    def channels(self) -> int:
        """The stream's channel count (1 until a multichannel chunk arrives)."""
        return self._inner.channels

    def __repr__(self) -> str:
        return f"Profiler(samples_seen={self.samples_seen})"
