"""Exact chunk-parallel segmentation of one long stream.

A rolling profile value depends only on its window, so chunks that start with
``window - 1`` samples of warm-up compute exactly the one-pass profile. Boundaries
depend on where the previous segment started, so each chunk is segmented as if a
segment started at its first sample and continues for an ``overlap`` into the next
chunk; stitching joins the runs at the first start both share (from there on the two
runs are in the same state and agree). When an overlap holds no shared start, the true
run continues sequentially until one appears, and the report counts it.

What cannot be split exactly runs sequentially and the report says why: the online
``target_len`` controller (its threshold depends on the whole history) and the
next-symbol profile (the context model counts everything seen; the rules after it still
run in parallel). Batch ``target_len`` calibration is computed once over the whole
profile (the profile itself in parallel); on a long profile that calibration cuts it in
about one pass and its segments are the answer, else the rules run in parallel with the
threshold it found.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, overload

import numpy.typing as npt

from entroseg._entroseg import InvalidParameterError, SegmentSpec, _segment_parallel
from entroseg._options import SegmentOptions, build_spec
from entroseg.segments import Segments, checked_target

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["StitchReport", "segment_parallel"]


@dataclass(frozen=True)
class StitchReport:
    """How a chunk-parallel run went.

    Attributes
    ----------
    chunks : int
        Chunks the stream was cut into (1 when it ran sequentially).
    stitched : int
        Chunk joins made at a start shared inside the overlap.
    fallbacks : int
        Joins that needed the true run continued sequentially past the overlap.
    sequential_samples : int
        Samples whose rules were re-run sequentially by those fallbacks.
    sequential_reason : str or None
        Why the run, or its profile, was sequential.
    """

    chunks: int
    stitched: int
    fallbacks: int
    sequential_samples: int
    sequential_reason: str | None


@overload
def segment_parallel(
    x: npt.ArrayLike,
    *,
    with_report: Literal[False] = False,
    chunks: int | None = None,
    threads: int | None = None,
    overlap: int | None = None,
    spec: SegmentSpec | None = None,
    **options: Unpack[SegmentOptions],
) -> Segments: ...
@overload
def segment_parallel(
    x: npt.ArrayLike,
    *,
    with_report: Literal[True],
    chunks: int | None = None,
    threads: int | None = None,
    overlap: int | None = None,
    spec: SegmentSpec | None = None,
    **options: Unpack[SegmentOptions],
) -> tuple[Segments, StitchReport]: ...
def segment_parallel(
    x: npt.ArrayLike,
    *,
    with_report: bool = False,
    chunks: int | None = None,
    threads: int | None = None,
    overlap: int | None = None,
    spec: SegmentSpec | None = None,
    **options: Unpack[SegmentOptions],
) -> Segments | tuple[Segments, StitchReport]:
    """Segment one long series on several threads, exactly as :func:`entroseg.segment`.

    Parameters
    ----------
    x : array_like
        The series (floats, or integer symbols for symbol methods).
    with_report : bool, default False
        Also return a :class:`StitchReport`.
    chunks : int, optional
        Number of chunks (default: 4 per thread).
    threads : int, optional
        Threads (default: all cores). The GIL is released.
    overlap : int, optional
        Samples each chunk's run continues into the next chunk to meet the true run
        (default: ``max(256, 8 * max(min_len, max_len))``).
    spec, **options
        A :class:`entroseg.SegmentSpec`, or the options of :func:`entroseg.segment`.

    Returns
    -------
    Segments, or (Segments, StitchReport)
        Equal to ``entroseg.segment(x, ...)`` segment for segment.

    Examples
    --------
    >>> import numpy as np, entroseg
    >>> x = np.cumsum(np.random.default_rng(0).standard_normal(200_000))
    >>> opts = dict(order=4, window=64, threshold=0.9, min_len=4, max_len=64)
    >>> seg, report = entroseg.segment_parallel(x, chunks=8, with_report=True, **opts)
    >>> seg == entroseg.segment(x, **opts)
    True
    >>> report.chunks, report.stitched + report.fallbacks
    (8, 7)

    A batch-calibrated ``target_len`` on a long profile is cut by the calibration
    itself, in about one pass, and the report says so:

    >>> opts = dict(order=4, window=64, target_len=16, min_len=4, max_len=64)
    >>> seg, report = entroseg.segment_parallel(x, chunks=8, with_report=True, **opts)
    >>> seg == entroseg.segment(x, **opts), report.chunks
    (True, 1)
    >>> report.sequential_reason
    'the batch calibration cut the whole profile in its own pass'
    """
    shape = getattr(x, "shape", None)
    if shape is not None and len(shape) == 2:
        raise InvalidParameterError(
            f"segment_parallel cuts one channel; x has shape {tuple(shape)}: segment an "
            "(n, c) input with entroseg.segment (one pass), or many series on every core "
            "with entroseg.segment_batch"
        )
    built = build_spec(options, streaming=False, spec=spec, data=x)
    starts, lengths, reasons, report = _segment_parallel(x, built, chunks, threads, overlap)
    seg = checked_target(Segments._native(starts, lengths, reasons), built)
    if not with_report:
        return seg
    return seg, StitchReport(
        chunks=int(report["chunks"] or 0),
        stitched=int(report["stitched"] or 0),
        fallbacks=int(report["fallbacks"] or 0),
        sequential_samples=int(report["sequential_samples"] or 0),
        sequential_reason=None
        if report["sequential_reason"] is None
        else str(report["sequential_reason"]),
    )
