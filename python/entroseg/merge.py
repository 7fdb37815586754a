"""Merge planning: order-preserving hierarchical merges of adjacent units, and
per-segment keep rates matched to a token budget.

:func:`merge_plan` decides, ahead of the model and from the data, which adjacent units
(tokens, or the segments of a :class:`~entroseg.Segments` value) merge at each level,
and hands over compact maps: the group of every unit at every level (an unmerge gather
index), group sizes and ``log(size)`` for proportional attention, and ``cu_seqlens``.
:func:`assign_rates` gives each segment a keep factor (keep 1 token in 1, 2, 4 ...)
from its score so that a series keeps a target share of its tokens.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, TypedDict, overload

import numpy as np
import numpy.typing as npt

from entroseg._entroseg import _assign_rates, _merge_plan, _MergePlanner
from entroseg.segments import Segments

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "MergeLevel",
    "MergePlan",
    "MergePlanner",
    "Rates",
    "assign_rates",
    "merge_plan",
    "segment_means",
]

ScheduleName = Literal["r", "ratio", "threshold", "ema"]
SimilarityName = Literal["cosine", "profile"]
_I64 = npt.NDArray[np.int64]


def _frozen(a: npt.NDArray[Any]) -> npt.NDArray[Any]:
    a.setflags(write=False)
    return a


class MergeLevel(NamedTuple):
    """One level of a :class:`MergePlan` (read-only numpy arrays; ids count over the
    whole batch, in order).

    Attributes
    ----------
    group_ids : int32, one per group of the previous level (per unit at level 0)
        The group each previous-level group joins here.
    source : int32, one per original unit
        The group of each original unit at this level: ``merged[source]`` unmerges
        (gathers group values back to units).
    sizes : int64, one per group
        Sum of the unit weights of each group (units counted once without weights).
    log_sizes : float32, one per group
        ``log(sizes)``: the bias proportional attention adds to the attention logits.
    cu_seqlens : int32, ``num_groups + 1``
        Original units per group, cumulative with a leading 0 (each group is the unit
        range ``cu_seqlens[g]:cu_seqlens[g+1]``), for varlen kernels and pooling.
    series_offsets : int64, ``num_series + 1``
        Groups per series, cumulative with a leading 0: the ``cu_seqlens`` of the merged
        sequences, for attention over this level's tokens.
    requested, achieved, capacity : int64, one per block
        Merges the schedule asked of each block (-1 for threshold schedules), merges
        made, and the most disjoint eligible pairs the block had. A series is one block
        unless the plan was made with ``block=`` (then these are per block of the series).
    thresholds : float64, one per block
        Similarity threshold used (NaN for count schedules).
    block_offsets : int64, ``num_series + 1``
        Blocks per series, cumulative with a leading 0 (``0, 1, ..., num_series``
        without ``block=``): which entries of the per-block arrays belong to a series.
    """

    group_ids: npt.NDArray[np.int32]
    source: npt.NDArray[np.int32]
    sizes: _I64
    log_sizes: npt.NDArray[np.float32]
    cu_seqlens: npt.NDArray[np.int32]
    series_offsets: _I64
    requested: _I64
    achieved: _I64
    capacity: _I64
    thresholds: npt.NDArray[np.float64]
    block_offsets: _I64

    @property
    def num_groups(self) -> int:
        """Groups at this level, over all series."""
        return len(self.sizes)

    @property
    def max_seqlen(self) -> int:
        """The most original units in one group."""
        return int(np.diff(self.cu_seqlens).max()) if self.num_groups else 0

    @property
    def feasible(self) -> npt.NDArray[np.bool_]:
        """Per block: True when the level made every merge the schedule asked for."""
        return np.asarray(self.achieved >= self.requested)


def _levels_equal(a: MergeLevel, b: MergeLevel) -> bool:
    xs: tuple[npt.NDArray[Any], ...] = tuple(a)
    ys: tuple[npt.NDArray[Any], ...] = tuple(b)
    return all(
        np.array_equal(x, y, equal_nan=x.dtype.kind == "f") for x, y in zip(xs, ys, strict=True)
    )


class MergePlan:
    """A merge plan: one :class:`MergeLevel` per level, from :func:`merge_plan`.

    ``plan[l]`` is level ``l``; ``plan.pool(x)`` averages unit values into the groups
    of a level and ``plan.unmerge(y)`` gathers group values back to the units.
    """

    __slots__ = ("_levels", "_num_series", "_num_units")

    def __init__(self, levels: Sequence[MergeLevel], num_units: int, num_series: int) -> None:
        self._levels = tuple(levels)
        self._num_units = num_units
        self._num_series = num_series

    @property
    def levels(self) -> tuple[MergeLevel, ...]:
        """The levels, first to last."""
        return self._levels

    @property
    def num_units(self) -> int:
        """Original units, over all series."""
        return self._num_units

    @property
    def num_series(self) -> int:
        """Series in the batch."""
        return self._num_series

    @property
    def feasible(self) -> bool:
        """True when every level made every merge the schedule asked for."""
        return all(bool(level.feasible.all()) for level in self._levels)

    def pool(
        self, x: npt.ArrayLike, *, level: int = -1, weights: npt.ArrayLike | None = None
    ) -> npt.NDArray[np.float64]:
        """Average unit values (rows of ``x``) into the groups of ``level``.

        With ``weights`` (one per unit) the average is weighted, as ToMe's size-weighted
        merge. Returns ``[num_groups, ...]`` float64.
        """
        lv = self._levels[level]
        arr = np.asarray(_unmasked(x, "x"), dtype=np.float64)
        if arr.shape[:1] != (self._num_units,):
            raise ValueError(f"x must have {self._num_units} rows (one per unit), got {arr.shape}")
        w = (
            np.ones(self._num_units)
            if weights is None
            else np.asarray(_unmasked(weights, "weights"), dtype=np.float64).reshape(-1)
        )
        if w.shape != (self._num_units,):
            raise ValueError(f"weights must have {self._num_units} entries, got {w.shape}")
        wx = arr * w.reshape((-1,) + (1,) * (arr.ndim - 1))
        starts = lv.cu_seqlens[:-1]
        total = np.add.reduceat(wx, starts, axis=0) if len(starts) else wx[:0]
        mass = np.add.reduceat(w, starts) if len(starts) else w[:0]
        return np.asarray(total / mass.reshape((-1,) + (1,) * (arr.ndim - 1)))

    def unmerge(self, y: npt.ArrayLike, *, level: int = -1) -> npt.NDArray[Any]:
        """Gather group values (rows of ``y``) back to the original units:
        ``y[plan[level].source]``."""
        arr = np.asarray(_unmasked(y, "y"))
        lv = self._levels[level]
        if arr.shape[:1] != (lv.num_groups,):
            raise ValueError(
                f"y must have {lv.num_groups} rows (one per group of the level), got {arr.shape}"
            )
        return np.asarray(arr[lv.source])

    @classmethod
    def concat(cls, parts: Iterable[MergePlan]) -> MergePlan:
        """Join consecutive plans of one series into one (what :class:`MergePlanner`
        returns, push after push): group ids and unit positions of each part are shifted
        past the parts before it, per-block statistics are concatenated.

        Raises
        ------
        ValueError
            When there are no parts, a part holds more than one series, or the parts
            have different numbers of levels.
        """
        plans = list(parts)
        if not plans:
            raise ValueError("concat needs at least one MergePlan, got none")
        num_levels = len(plans[0])
        for i, p in enumerate(plans):
            if p.num_series != 1 or len(p) != num_levels:
                raise ValueError(
                    f"concat joins plans of one series with {num_levels} levels; part {i} "
                    f"has {p.num_series} series and {len(p)} levels"
                )
        units = np.cumsum([0] + [p.num_units for p in plans])
        levels = []
        for lv in range(num_levels):
            own = [p[lv] for p in plans]
            groups = np.cumsum([0] + [x.num_groups for x in own])
            blocks = np.cumsum([0] + [len(x.requested) for x in own])
            # group_ids index this level's groups, as source does: both shift alike.
            shifted = [
                (x.group_ids + g, x.source + g, x.cu_seqlens[1:] + u)
                for x, g, u in zip(own, groups[:-1].astype(np.int32), units[:-1], strict=False)
            ]
            levels.append(
                MergeLevel(
                    np.concatenate([s[0] for s in shifted]).astype(np.int32),
                    np.concatenate([s[1] for s in shifted]).astype(np.int32),
                    np.concatenate([x.sizes for x in own]),
                    np.concatenate([x.log_sizes for x in own]),
                    np.concatenate([[0], *(s[2] for s in shifted)]).astype(np.int32),
                    np.array([0, groups[-1]], dtype=np.int64),
                    np.concatenate([x.requested for x in own]),
                    np.concatenate([x.achieved for x in own]),
                    np.concatenate([x.capacity for x in own]),
                    np.concatenate([x.thresholds for x in own]),
                    np.array([0, blocks[-1]], dtype=np.int64),
                )
            )
        return cls([MergeLevel(*(_frozen(a) for a in lv)) for lv in levels], int(units[-1]), 1)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MergePlan):
            return NotImplemented
        return (
            self._num_units == other._num_units
            and self._num_series == other._num_series
            and len(self._levels) == len(other._levels)
            and all(_levels_equal(a, b) for a, b in zip(self._levels, other._levels, strict=True))
        )

    __hash__ = None  # type: ignore[assignment]

    def __len__(self) -> int:
        return len(self._levels)

    @overload
    def __getitem__(self, index: int) -> MergeLevel: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[MergeLevel, ...]: ...
    def __getitem__(self, index: int | slice) -> MergeLevel | tuple[MergeLevel, ...]:
        return self._levels[index]

    def __iter__(self) -> Iterator[MergeLevel]:
        return iter(self._levels)

    def __repr__(self) -> str:
        counts = " -> ".join(str(lv.num_groups) for lv in self._levels)
        return (
            f"MergePlan({self._num_units} units in {self._num_series} series -> {counts}"
            f"{'' if self.feasible else ', some levels short of their schedule'})"
        )


def _schedule_args(
    r: int | tuple[int, float] | Sequence[int] | None,
    ratio: float | None,
    threshold: float | None,
    schedule: str | None,
) -> dict[str, Any]:
    given = [name for name, v in (("r", r), ("ratio", ratio)) if v is not None]
    if schedule is None:
        if threshold is not None:
            given.append("threshold")
        if len(given) != 1:
            raise ValueError(
                "give exactly one schedule: r (int, (r, inflect) or a list), ratio, threshold, "
                f"or schedule='ema'; got {given or 'none'}"
            )
        schedule = given[0]
    elif schedule in ("threshold", "ema") and given:
        raise ValueError(f"schedule={schedule!r} takes threshold, not {' and '.join(given)}")
    if schedule == "r":
        if isinstance(r, bool):
            raise TypeError(f"r must be an int, a (r, inflect) pair or a list, got {r!r}")
        if isinstance(r, tuple):
            if len(r) != 2:
                raise ValueError(f"r as a tuple must be (r, inflect), got {r!r}")
            return {"schedule": "r", "r": int(r[0]), "inflect": float(r[1])}
        if isinstance(r, (int, np.integer)):
            return {"schedule": "r", "r": int(r)}
        if r is None:
            return {"schedule": "r"}
        return {"schedule": "list", "counts": [int(v) for v in r]}
    return {"schedule": schedule, "ratio": ratio, "threshold": threshold}


class ScheduleOptions(TypedDict, total=False):
    """The merge schedule and limits of :func:`merge_plan`, :class:`MergePlanner`,
    :func:`entroseg.arrow.merge_stream` and the Polars ``merge_group`` expression (one
    definition; see :func:`merge_plan` for each one's meaning and default)."""

    window: int
    max_size: int | None
    levels: int | None
    r: int | tuple[int, float] | Sequence[int] | None
    ratio: float | None
    threshold: float | None
    schedule: ScheduleName | None
    momentum: float


_SCHEDULE_DEFAULTS: ScheduleOptions = {
    "window": 16,
    "max_size": None,
    "levels": None,
    "r": None,
    "ratio": None,
    "threshold": None,
    "schedule": None,
    "momentum": 0.9,
}


def _plan_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The schedule options, defaults filled in and the schedule resolved, as the native
    planner takes them; an unknown option is a TypeError naming the known ones."""
    unknown = sorted(set(options) - set(_SCHEDULE_DEFAULTS))
    if unknown:
        raise TypeError(
            f"unexpected option(s) {', '.join(map(repr, unknown))}; the merge options are "
            + ", ".join(_SCHEDULE_DEFAULTS)
        )
    o: dict[str, Any] = {**_SCHEDULE_DEFAULTS, **options}
    return {
        "window": o["window"],
        "max_size": o["max_size"],
        "levels": o["levels"],
        "momentum": o["momentum"],
        **_schedule_args(o["r"], o["ratio"], o["threshold"], o["schedule"]),
    }


def merge_plan(
    units: Segments | None = None,
    *,
    vectors: npt.ArrayLike | None = None,
    profile: npt.ArrayLike | None = None,
    series_offsets: npt.ArrayLike | None = None,
    weights: npt.ArrayLike | None = None,
    strict: bool = False,
    block: int | None = None,
    **schedule: Unpack[ScheduleOptions],
) -> MergePlan:
    """Plan order-preserving merges of adjacent units, level by level.

    Each level merges **disjoint adjacent pairs** of the previous level's groups (so a
    level at most halves a series, as ToMe's matching at most halves a sequence per
    layer), never across series, and only pairs whose merged group spans at most
    ``window`` original units and weighs at most ``max_size``. Among the eligible pairs,
    a level asked for ``r`` merges takes the ``r`` disjoint pairs of **maximum total
    similarity** (exactly ``r`` whenever the series has that many disjoint eligible
    pairs; otherwise as many as it has, recorded in ``achieved`` / ``capacity``); a
    threshold level takes the disjoint pairs maximising the total of
    ``similarity - threshold`` (each chosen pair is above it). Both are exact
    (an exchange algorithm, ``O(m log m)`` per series and level); ties go to the
    leftmost pair. Each series is planned exactly as it would be alone. The GIL is
    released.

    Parameters
    ----------
    units : Segments, optional
        The segments to merge (one unit per segment, series as in the value). Without
        it the units are the rows of ``vectors`` (or of ``profile``), in series given by
        ``series_offsets``.
    vectors : array_like, float [N, D], optional
        One vector per unit (float32; other real dtypes are converted). Similarity is
        the cosine of the groups' size-weighted sums (ToMe's size-weighted average);
        a zero vector has similarity 0 to everything.
    profile : array_like, float [n_samples] or [n_samples, F], optional
        A profile over the samples (e.g. an entropy profile from
        :func:`~entroseg.permutation_entropy`; with ``units``, one row per sample of
        all series concatenated, else one per unit). Each group is described by the
        mean profile over every sample it covers; similarity is minus the root mean
        square difference of two groups' means (0 = identical). Give exactly one of
        ``vectors`` and ``profile``.
    series_offsets : array_like of int, optional
        Units per series as offsets (leading 0), when ``units`` is not given; default
        one series.
    weights : array_like of int, optional
        Weight of each unit (>= 1, default 1): group ``sizes`` sum them, ``max_size``
        limits them, and vectors are averaged with them. For segments, pass
        ``units.lengths`` to count samples.
    window : int, default 16
        No group spans more than ``window`` original units (>= 2).
    max_size : int, optional
        No group weighs more than this.
    levels : int, optional
        Number of levels (required except with ``r`` as a list).
    r : int, (int, float) or list of int, optional
        Merges per series and level, in ToMe's forms: a constant; ``(r, inflect)`` for
        ToMe's linear schedule (``lo = int(r * (1 - inflect))``, ``hi = 2r - lo``, level
        ``i`` merges ``int(lo + (hi - lo) * i / (levels - 1))``: ``inflect=-1`` decreases
        from ``2r`` to 0); or an explicit list (padded with zeros up to ``levels``).
    ratio : float, optional
        Keep ``ceil(ratio * n)`` units of a series of ``n`` after ``levels`` levels, in
        (0, 1], split evenly (geometrically): level ``l`` aims at
        ``ceil(n * ratio ** ((l + 1) / levels))`` groups, so each level keeps the same
        fraction and a level that falls short is made up later when it can be.
    threshold : float, optional
        Merge pairs above this similarity (the schedule ``"threshold"``); with
        ``schedule="ema"``, the initial threshold.
    schedule : {"r", "ratio", "threshold", "ema"}, optional
        Inferred from which of ``r``, ``ratio`` and ``threshold`` is given; ``"ema"``
        asks for the adaptive threshold (D2O-style), per series: at level ``l``,
        ``m_l`` is the mean over groups (with an eligible neighbour) of their best
        neighbour similarity, ``tau_l = momentum * tau_{l-1} + (1 - momentum) * m_l``
        starting from ``tau_{-1} = threshold`` (or ``m_0`` when not given), and the
        level merges as a threshold level with ``tau_l``.
    momentum : float, default 0.9
        EMA momentum in [0, 1) for ``schedule="ema"``.
    strict : bool, default False
        Raise :class:`InvalidParameterError` when a level cannot make the merges the
        schedule asks of a series, instead of recording it.
    block : int, optional
        Plan each series as consecutive blocks of ``block`` units (from its first unit;
        the last block may be shorter), each exactly as if it were a series alone: no
        group crosses a block edge and the schedule (``r``, ``ratio``, threshold, EMA)
        applies per block. This is the plan a stream can make, and what
        :class:`MergePlanner` returns for the same options. The per-series statistics
        of each level are then per block (``block_offsets``).

    Returns
    -------
    MergePlan
        One :class:`MergeLevel` per level.

    Raises
    ------
    InvalidParameterError
        Window < 2, ratio outside (0, 1], negative r, no levels, unknown schedule,
        wrong row counts, or (with ``strict``) a level short of its schedule.
    NonFiniteError
        A NaN or infinity in ``vectors`` or ``profile``.

    Examples
    --------
    >>> import numpy as np, entroseg
    >>> profile = np.array([0.1, 0.1, 0.5, 0.5, 0.9, 0.9, 0.9, 0.2])
    >>> plan = entroseg.merge_plan(profile=profile, r=[3, 1], window=4)
    >>> plan
    MergePlan(8 units in 1 series -> 5 -> 4)
    >>> plan[0].source
    array([0, 0, 1, 1, 2, 2, 3, 4], dtype=int32)
    >>> plan[1].source, plan[1].sizes
    (array([0, 0, 1, 1, 2, 2, 2, 3], dtype=int32), array([2, 2, 3, 1]))
    >>> plan.unmerge(plan.pool(profile))
    array([0.1, 0.1, 0.5, 0.5, 0.9, 0.9, 0.9, 0.2])
    """
    if units is not None:
        if not isinstance(units, Segments):
            raise TypeError(f"units must be a Segments value or None, got {type(units).__name__}")
        if series_offsets is not None:
            raise ValueError("series_offsets come from units; do not give both")
        offsets = units.series_offsets
        unit_lengths = units.lengths if profile is not None else None
        n_units = len(units)
        num_series = units.num_series
    else:
        source = vectors if vectors is not None else profile
        n_units = int(np.shape(source)[0]) if source is not None else 0
        offsets = (
            np.array([0, n_units], dtype=np.int64)
            if series_offsets is None
            else np.asarray(series_offsets)
        )
        unit_lengths = None
        num_series = max(len(offsets) - 1, 0)
    raw = _merge_plan(
        offsets,
        vectors=vectors,
        profile=profile,
        unit_lengths=unit_lengths,
        weights=weights,
        strict=strict,
        block=block,
        **_plan_options(schedule),
    )
    return MergePlan(
        [MergeLevel(*(_frozen(a) for a in arrays)) for arrays in raw], n_units, num_series
    )


def _part_plan(raw: tuple[int, list[int], list[Any]]) -> MergePlan:
    _, _, levels = raw
    n = len(levels[0][1]) if levels else 0
    return MergePlan([MergeLevel(*(_frozen(a) for a in arrays)) for arrays in levels], n, 1)


class MergePlanner:
    """The streaming form of :func:`merge_plan` for one series: units (tokens, or
    segments as a :class:`Segmenter` closes them) go in chunk by chunk, final groups
    come out as soon as they are final.

    A stream cannot wait for the whole series, and the plan of a whole series is not
    local (which of two overlapping pairs above a threshold wins can depend on a
    similarity arbitrarily far ahead; ``r``, ``ratio`` and the EMA's mean are per
    series by definition). So the planner plans **blocks**: consecutive runs of
    ``block`` units, each exactly as :func:`merge_plan` plans a series alone, and
    ``MergePlan.concat`` of everything ``push`` and ``finish`` return equals
    ``merge_plan(..., block=block)`` on the whole stream, bit for bit, for any chunking
    and across any checkpoint / pickle, for every schedule: a threshold and the EMA
    (D2O-style) per block; ``r`` per block and level (ToMe's per-level ``r`` in fixed
    windows); ``ratio`` per block (every block of ``n`` units keeps ``ceil(ratio * n)``
    groups whenever its window allows it, so a full block keeps exactly
    ``ceil(ratio * block)``; each level records ``requested`` / ``achieved`` per block).

    Look-ahead: a unit's groups are final, and returned, when the last unit of its block
    arrives (at most ``block - 1`` units later); :meth:`finish` plans the last, shorter
    block. Memory: one block of units. ``push`` releases the GIL.

    Parameters
    ----------
    block : int
        Units planned together (>= 2); groups never cross a block edge.
    similarity : {"cosine", "profile"}, default "cosine"
        What ``push`` takes: vectors ``[n, dim]`` (cosine of size-weighted sums), or
        profile rows (one per sample; ``unit_lengths`` samples per unit, default 1).
    window, max_size, levels, r, ratio, threshold, schedule, momentum, strict
        As in :func:`merge_plan`.

    Examples
    --------
    >>> import numpy as np, pickle, entroseg
    >>> profile = np.abs(np.sin(np.arange(1000) / 40.0))
    >>> opts = dict(window=8, threshold=-0.02, levels=3, block=64)
    >>> planner = entroseg.MergePlanner(similarity="profile", **opts)
    >>> parts = [planner.push(profile[:300])]
    >>> planner = pickle.loads(pickle.dumps(planner))  # checkpoint / resume
    >>> parts += [planner.push(profile[300:]), planner.finish()]
    >>> [p.num_units for p in parts], planner.pending
    ([256, 704, 40], 0)
    >>> entroseg.MergePlan.concat(parts) == entroseg.merge_plan(profile=profile, **opts)
    True
    """

    __slots__ = ("_inner",)

    def __init__(
        self,
        *,
        block: int,
        similarity: SimilarityName = "cosine",
        strict: bool = False,
        **schedule: Unpack[ScheduleOptions],
    ) -> None:
        if isinstance(block, bool) or not isinstance(block, (int, np.integer)):
            raise TypeError(f"block must be an int, got {block!r}")
        self._inner = _MergePlanner(
            block=int(block),
            similarity=similarity,
            strict=strict,
            **_plan_options(schedule),
        )

    def push(
        self,
        values: npt.ArrayLike,
        *,
        unit_lengths: npt.ArrayLike | None = None,
        weights: npt.ArrayLike | None = None,
    ) -> MergePlan:
        """Feed the next units; returns the plan of the blocks that completed (one
        series, ids local to it: join with :meth:`MergePlan.concat`). ``values`` are
        vectors ``[n, dim]`` or profile rows (``[samples]`` or ``[samples, F]``, whole
        units: ``unit_lengths`` samples each); ``weights`` one per unit (>= 1)."""
        return _part_plan(self._inner.push(values, unit_lengths=unit_lengths, weights=weights))

    def push_raw(
        self,
        values: npt.ArrayLike,
        *,
        unit_lengths: npt.ArrayLike | None = None,
        weights: npt.ArrayLike | None = None,
    ) -> tuple[int, list[int], MergePlan]:
        """As :meth:`push`, with where the plan sits in the stream: ``(first_unit,
        first_groups, plan)``, ``first_groups[l]`` the stream-wide id of the plan's
        first group at level ``l``."""
        raw = self._inner.push(values, unit_lengths=unit_lengths, weights=weights)
        return raw[0], raw[1], _part_plan(raw)

    def finish(self) -> MergePlan:
        """Close the stream: the plan of the last (shorter) block. Pushing afterwards
        raises :class:`StreamClosedError` until :meth:`reset`."""
        return _part_plan(self._inner.finish())

    def finish_raw(self) -> tuple[int, list[int], MergePlan]:
        """As :meth:`finish`, with ``(first_unit, first_groups, plan)``."""
        raw = self._inner.finish()
        return raw[0], raw[1], _part_plan(raw)

    def reset(self) -> None:
        """Start a new stream with the same options."""
        self._inner.reset()

    def checkpoint(self) -> bytes:
        """The state as bytes (options, the open block, counters)."""
        return self._inner.checkpoint()

    @classmethod
    def from_checkpoint(cls, state: bytes) -> MergePlanner:
        """Rebuild a planner from :meth:`checkpoint` bytes; it resumes bit-identically."""
        obj = cls.__new__(cls)
        obj._inner = _MergePlanner.from_checkpoint(state)
        return obj

    def __reduce__(self) -> tuple[Any, tuple[bytes]]:
        return (MergePlanner.from_checkpoint, (self.checkpoint(),))

    @property
    def units_seen(self) -> int:
        """Units pushed so far."""
        return self._inner.units_seen

    @property
    def pending(self) -> int:
        """Units waiting for their block to complete (fewer than ``block``)."""
        return self._inner.pending

    @property
    def block(self) -> int:
        """Units planned together."""
        return self._inner.block

    @property
    def is_finished(self) -> bool:
        """True after :meth:`finish`."""
        return self._inner.is_finished

    def __repr__(self) -> str:
        state = "finished" if self.is_finished else "open"
        return (
            f"MergePlanner(block={self.block}, units_seen={self.units_seen}, "
            f"pending={self.pending}, {state})"
        )


def _unmasked(a: Any, name: str) -> Any:
    """``a``, or a masked array's data when nothing is masked; values that cannot be
    missing (rows to pool or gather, weights) refuse a masked entry."""
    if not isinstance(a, np.ma.MaskedArray):
        return a
    masked = int(np.ma.getmaskarray(a).sum())
    if masked:
        raise TypeError(
            f"{name} is a masked array with {masked} masked value(s); {name} cannot be "
            f"missing: pass {name}.filled(value)"
        )
    return np.ma.getdata(a)


def segment_means(segments: Segments, profile: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Mean of a per-sample profile over each segment (NaN-aware: NaN samples, such as a
    rolling profile's warm-up, are left out; a segment with none left gives NaN).

    Examples
    --------
    >>> import numpy as np, entroseg
    >>> seg = entroseg.Segments(starts=[0, 2], lengths=[2, 3])
    >>> entroseg.segment_means(seg, [np.nan, 1.0, 2.0, 3.0, 4.0])
    array([1., 3.])
    """
    if isinstance(profile, np.ma.MaskedArray):  # masked samples are missing: left out
        p = np.asarray(np.ma.filled(profile.astype(np.float64), np.nan))
    else:
        p = np.asarray(profile, dtype=np.float64)
    if p.shape != (segments.num_samples,):
        raise ValueError(
            f"profile must have one value per sample ({segments.num_samples}), got {p.shape}"
        )
    if len(segments) == 0:
        return np.zeros(0)
    ok = ~np.isnan(p)
    starts = segments.offsets()[:-1]
    total = np.add.reduceat(np.where(ok, p, 0.0), starts)
    count = np.add.reduceat(ok.astype(np.float64), starts)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(np.where(count > 0, total / count, np.nan))


class Rates(NamedTuple):
    """Keep factors per segment matched to a token budget, from :func:`assign_rates`.

    Attributes
    ----------
    factors : int64, one per segment
        Keep one token in ``factor``.
    kept_counts : int64, one per segment
        ``ceil(length / factor)`` tokens kept.
    kept_indices : int64
        The kept tokens as flat sample indices (all series concatenated): the first of
        every ``factor`` tokens of each segment.
    thresholds, budgets, kept : per series
        The threshold found (``-inf`` when every segment keeps the smallest factor),
        the budget ``floor(keep_ratio * n)`` (at least 1), and the tokens kept.
    """

    factors: _I64
    kept_counts: _I64
    kept_indices: _I64
    thresholds: npt.NDArray[np.float64]
    budgets: _I64
    kept: _I64

    @property
    def feasible(self) -> npt.NDArray[np.bool_]:
        """Per series: True when the kept tokens fit the budget."""
        return np.asarray(self.kept <= self.budgets)


def assign_rates(
    segments: Segments,
    scores: npt.ArrayLike,
    *,
    keep_ratio: float,
    factors: Sequence[int] = (1, 2, 4),
    strict: bool = False,
) -> Rates:
    """Give each segment a keep factor so each series keeps at most ``keep_ratio`` of its
    tokens, keeping as many as that budget allows (VGDFR-style dynamic rates).

    ``scores`` are information densities, one per segment, >= 0 (e.g. the mean entropy
    of the segment, :func:`segment_means`): a segment's kept rate should be
    proportional to its score. For a threshold ``theta``, a segment gets the largest
    factor ``f`` with ``f * score <= theta`` (it keeps at least ``score / theta`` of its
    tokens), or the smallest factor when none qualifies. The kept count never grows with
    ``theta``; per series the smallest ``theta`` whose kept count fits the budget
    ``floor(keep_ratio * n)`` is found exactly (a sweep over the values ``f * score``
    where an assignment changes). A series over budget even with the largest factor
    everywhere is recorded (``feasible``) or, with ``strict``, raises
    :class:`InvalidParameterError`. The GIL is released.

    Examples
    --------
    >>> import numpy as np, entroseg
    >>> seg = entroseg.Segments(starts=[0, 8, 16], lengths=[8, 8, 8])
    >>> rates = entroseg.assign_rates(seg, [1.0, 0.5, 0.0], keep_ratio=0.5)
    >>> rates.factors, rates.kept, rates.budgets
    (array([2, 4, 4]), array([8]), array([12]))
    >>> rates.kept_indices
    array([ 0,  2,  4,  6,  8, 12, 16, 20])
    """
    if not isinstance(segments, Segments):
        raise TypeError(f"segments must be a Segments value, got {type(segments).__name__}")
    out = _assign_rates(
        scores,
        segments.lengths,
        segments.series_offsets,
        [int(f) for f in factors],
        float(keep_ratio),
        strict,
    )
    return Rates(*(_frozen(a) for a in out))
