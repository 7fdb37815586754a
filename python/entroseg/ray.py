"""Ray integration: segment many streams on a Ray cluster.

Two shapes of data, two paths:

- **Rows of one or many streams, interleaved** (sensor readings keyed by device, in
  arrival order): :func:`segment_dataset` streams a Ray Dataset through stateful actors.
  Each key is routed to the same actor every time (a stable hash of the key), and each
  actor keeps one :class:`entroseg.Segmenter` per key, so a key's rows are segmented in
  order, across batches, exactly as one :func:`entroseg.segment` call over that key's
  whole stream would (use ``calibration="online"`` with ``target_len``: a stream cannot
  be calibrated on data it has not seen). Output: Arrow tables with one row per closed
  segment (key, start, length, reason), produced while the input streams. With
  ``max_restarts``, an actor that dies is restarted by Ray and brought back to its last
  snapshot plus the pushes since (kept by the driver): nothing lost, nothing twice.
- **One whole series per row** (training examples): :func:`training_batches` runs
  :class:`SegmentSeries` over the dataset with Ray Data's streaming ``map_batches`` (all
  cores of the cluster, the GIL released in the segmenter) and yields training batches
  whose ``segments`` give ``cu_seqlens``, patch ids and padded lengths directly.

Install with ``pip install "entroseg[ray]"``. Start Ray yourself (``ray.init(...)``) or
let these functions connect to / start a local instance as Ray does by default.
"""

from __future__ import annotations

import pickle
import time
import zlib
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

import entroseg
from entroseg._entroseg import _MergePlanner
from entroseg._optional import require
from entroseg._options import SegmentOptions, build_spec
from entroseg._resume import check_every
from entroseg.arrow import (
    _planner_options,
    _pyarrow,
    _Router,
    _SegmentMerger,
    _segments_with_groups,
    segments_of_rows,
)
from entroseg.merge import MergePlan, merge_plan
from entroseg.segments import Segmenter, Segments

if TYPE_CHECKING:
    import pyarrow as pa
    from typing_extensions import Unpack

__all__ = ["SegmentSeries", "TrainingBatch", "segment_dataset", "training_batches"]


def _ray() -> Any:
    return require("ray", 'entroseg.ray needs Ray: pip install "entroseg[ray]" (or ray[data])')


def _route(key: object, actors: int) -> int:
    """The actor of a key: stable across batches, processes and runs (not Python's
    salted ``hash``)."""
    if isinstance(key, (int, np.integer)):
        return int(key) % actors
    return zlib.crc32(repr(key).encode()) % actors


#: Closed segments of one actor call: ``(key, (starts, lengths, reasons))`` in order
#: (with ``merge=``, followed by the segments' group at each level).
_Parts = list[tuple[object, tuple[Any, ...]]]


class _StreamActor:
    """One Segmenter per key; called in order by the driver (Ray runs an actor's calls
    from one caller in submission order)."""

    def __init__(
        self,
        value_column: str | Sequence[str],
        key_column: str,
        options: dict[str, Any],
        merge: dict[str, Any] | None = None,
    ) -> None:
        self.value_column = value_column
        self.key_column = key_column
        self.options = options
        self.segmenters: dict[object, Segmenter] = {}
        # With merge=: one segmenter and merge planner per key (segment_stream's path).
        self.merge = merge
        self.mergers: dict[object, _SegmentMerger] = {}

    def push(self, keys: list[object], values: list[npt.NDArray[Any]]) -> _Parts:
        if self.merge is not None:
            return self._push_merged(keys, values)
        parts = []
        for key, chunk in zip(keys, values, strict=True):
            seg = self.segmenters.get(key)
            if seg is None:
                seg = self.segmenters[key] = Segmenter(**self.options)
            parts.append((key, seg.push(chunk)))
        return _closed(parts)

    def _push_merged(self, keys: list[object], values: list[npt.NDArray[Any]]) -> _Parts:
        assert self.merge is not None
        parts: _Parts = []
        for key, chunk in zip(keys, values, strict=True):
            merger = self.mergers.get(key)
            if merger is None:
                spec = build_spec(dict(self.options), streaming=True)
                merger = self.mergers[key] = _SegmentMerger(spec, self.merge)
            out = merger.feed(np.asarray(chunk, dtype=np.float64))
            if out is not None:
                parts.append((key, out))
        return parts

    def snapshot(self) -> bytes:
        """Every key's state, after every push submitted before this call (an actor runs
        one caller's calls in order)."""
        return pickle.dumps((self.segmenters, self.mergers))

    def restore(self, snapshot: bytes | None) -> None:
        """Back to a :meth:`snapshot` (None: to a fresh actor), replacing every state,
        including any built by pushes that reached a restarted actor before this call."""
        if snapshot is None:
            self.segmenters, self.mergers = {}, {}
        else:
            # The driver's own bytes from snapshot(), never data from elsewhere.
            self.segmenters, self.mergers = pickle.loads(snapshot)

    def finish(self) -> _Parts:
        if self.merge is not None:
            done = [(key, merger.feed(None)) for key, merger in self.mergers.items()]
            self.mergers.clear()
            return [(key, out) for key, out in done if out is not None]
        parts = [(key, seg.finish()) for key, seg in self.segmenters.items()]
        self.segmenters.clear()
        return _closed(parts)


def _closed(parts: list[tuple[object, Segments]]) -> _Parts:
    return [(key, (seg.starts, seg.lengths, seg.reasons)) for key, seg in parts if len(seg)]


@dataclass(eq=False)
class _Call:
    """One call to an actor, kept by the driver until its result is used: a push (with
    its keys and values, to replay), a snapshot or the finish."""

    actor: int
    kind: str  # "push", "snapshot" or "finish"
    future: Any
    keys: list[object] = field(default_factory=list)
    values: list[Any] = field(default_factory=list)
    done: bool = False  # its result was used (a replayed push's result is then dropped)
    covers: _Call | None = None  # a snapshot's: the last push it includes


@dataclass
class _Replay:
    """What the driver keeps per actor to survive the actor's restart: its last snapshot
    and the pushes sent since that snapshot was asked for."""

    snapshot: bytes | None = None
    log: list[_Call] = field(default_factory=list)
    since: int = 0  # pushes since the last snapshot was asked for


#: How long ``segment_dataset`` waits for an actor that Ray is restarting (seconds).
RESTART_WAIT_S = 300.0


def _split_by_key(
    batch: pa.Table, key_column: str, value_column: str | Sequence[str], router: _Router
) -> tuple[list[object], list[npt.NDArray[Any]]]:
    """The batch's keys (the router's order: runs, or first appearance), each with its
    values in row order ((rows, c) for several value columns); the router keeps each
    key's Arrow value for the output."""
    names = [value_column] if isinstance(value_column, str) else list(value_column)
    for name in (key_column, *names):
        if name not in batch.column_names:
            raise KeyError(f"column {name!r} not in the dataset (columns: {batch.column_names})")
    router.key_index = batch.schema.get_field_index(key_column)
    columns = [batch.column(name).to_numpy() for name in names]
    values = columns[0] if len(columns) == 1 else np.column_stack(columns)
    keys: list[object] = []
    groups: list[npt.NDArray[Any]] = []
    for key, rows in router.split(batch):
        keys.append(key)
        groups.append(np.ascontiguousarray(values[rows]))
    return keys, groups


def segment_dataset(
    ds: Any,
    *,
    value_column: str | Sequence[str],
    key_column: str,
    num_actors: int = 2,
    batch_size: int | None = 65_536,
    max_in_flight: int = 8,
    merge: dict[str, Any] | None = None,
    max_restarts: int = 0,
    checkpoint_every: int = 16,
    **options: Unpack[SegmentOptions],
) -> Iterator[pa.Table]:
    """Segment the keyed streams of a Ray Dataset on stateful actors, streaming.

    With ``merge`` (the options of :class:`entroseg.MergePlanner`, ``block`` required),
    each key's actor also plans merges of its segments as
    ``arrow.segment_stream(..., merge=...)`` does, and the tables gain ``group_0`` ...

    Parameters
    ----------
    ds : ray.data.Dataset
        Rows in stream order; ``key_column`` says which stream a row belongs to.
    value_column : str or sequence of str
        The samples; several columns are the channels of one multichannel stream per key
        (combined by the ``channels`` option, as :class:`entroseg.Segmenter` combines an
        ``(n, c)`` chunk).
    key_column : str
        The stream key.
    num_actors : int, default 2
        Actors holding the per-key segmenters; each key always goes to the same one.
    batch_size : int or None
        Rows per batch read from the dataset.
    max_in_flight : int, default 8
        Batches sent to the actors before the driver waits for results (back-pressure).
    max_restarts : int, default 0
        Restarts Ray may make of each actor (its ``max_restarts``). With restarts, the
        driver asks each actor for a snapshot of its keys' states every
        ``checkpoint_every`` pushes and keeps the pushes sent since; when an actor dies
        (its process killed, its node lost), Ray restarts it, the driver restores the
        snapshot into it and replays those pushes, dropping the results it had already
        yielded. The output is then exactly that of a run without the failure: no
        segment lost or yielded twice. The snapshots and pushes live in the driver's
        memory (``checkpoint_every`` batches per actor at most): a failure of the driver
        itself is not covered (see :func:`entroseg.arrow.segment_stream`'s
        ``checkpoint=`` for a resumable stream). An actor may die in any call (a
        push, a snapshot, its finish): the call the driver waits on is asked again after
        the replay. A restarted actor needs its CPU slot again: on a cluster whose slots
        are all held (by other actors or Ray Data pools) the driver waits for it up to
        :data:`RESTART_WAIT_S` (five minutes), then raises Ray's
        ``ActorUnavailableError``.
    checkpoint_every : int, default 16
        Pushes to an actor between two snapshots of it (with ``max_restarts``).
    **options
        What :class:`entroseg.Segmenter` takes (``window``, ``target_len`` with
        ``calibration="online"``, ``min_len``, ``max_len``, ...).

    Yields
    ------
    pyarrow.Table
        Closed segments: ``key_column``, ``start`` (offset within that key's stream),
        ``length``, ``reason``; each key's segments in order.

    Examples
    --------
    >>> import numpy as np, pyarrow as pa, ray, entroseg
    >>> from entroseg.ray import segment_dataset
    >>> _ = ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)  # doctest: +SKIP
    >>> x = np.cumsum(np.random.default_rng(0).standard_normal(4000))
    >>> table = pa.table({"device": np.repeat([7, 9], 2000), "value": x})
    >>> ds = ray.data.from_arrow(table)  # doctest: +SKIP
    >>> opts = dict(value_column="value", key_column="device", window=32, threshold=0.9)
    >>> parts = list(segment_dataset(ds, **opts))  # doctest: +SKIP
    """
    ray = _ray()
    if num_actors < 1:
        raise ValueError(f"num_actors must be >= 1, got {num_actors}")
    if max_restarts < 0 and max_restarts != -1:
        raise ValueError(f"max_restarts must be >= 0 (or -1: unlimited), got {max_restarts}")
    check_every(None, checkpoint_every)
    # Checked (and the deprecated spellings resolved) once, before starting actors.
    given = build_spec(options, streaming=True).given
    planner_options = None
    if merge is not None:
        if not isinstance(value_column, str):
            raise ValueError(
                "merge= plans over the mean value of each segment; several value columns "
                "have no single one: give one value_column"
            )
        planner_options = _planner_options(merge)
        _MergePlanner(**planner_options)  # bad merge options fail before any actor starts
    actor_cls = ray.remote(_StreamActor)
    if max_restarts:
        actor_cls = actor_cls.options(max_restarts=max_restarts, max_task_retries=0)
    actors = [
        actor_cls.remote(value_column, key_column, given, planner_options)
        for _ in range(num_actors)
    ]
    pending: deque[_Call] = deque()
    replays = [_Replay() for _ in actors]
    router = _Router(None)  # the key column's index is set batch by batch

    def submit(index: int, keys: list[object], values: list[Any]) -> None:
        call = _Call(index, "push", actors[index].push.remote(keys, values), keys, values)
        pending.append(call)
        if not max_restarts:
            return
        replay = replays[index]
        replay.log.append(call)
        replay.since += 1
        if replay.since >= checkpoint_every:
            replay.since = 0
            snapshot = _Call(index, "snapshot", actors[index].snapshot.remote(), covers=call)
            pending.append(snapshot)

    def recover(index: int, current: _Call) -> None:
        """The actor died and Ray restarts it: its state back to the last snapshot, then
        every push since, in order (calls to one actor run in submission order), then
        its snapshots and finish asked again: first ``current`` (the call the driver
        waits on, already taken from ``pending``), then those still pending."""
        replay = replays[index]
        actors[index].restore.remote(replay.snapshot)
        for call in replay.log:
            call.future = actors[index].push.remote(call.keys, call.values)
        for call in (current, *pending):
            # Asked for again after the replay, a snapshot includes every logged push.
            if call.actor == index and call.kind == "snapshot":
                call.future = actors[index].snapshot.remote()
                call.covers = replay.log[-1] if replay.log else None
            elif call.actor == index and call.kind == "finish":
                call.future = actors[index].finish.remote()

    def result(call: _Call) -> Any:
        """The call's result; an actor that died is recovered and the call retried."""
        failures = 0
        waited_until: float | None = None
        pause = 0.25
        while True:
            try:
                return ray.get(call.future)
            except ray.exceptions.ActorUnavailableError:
                # Restarting, not a new death (the call may or may not have run): wait,
                # then replay from the snapshot, which makes running it twice harmless.
                # The pause doubles up to 5 s (each replay resends the logged pushes);
                # a restart that takes more than RESTART_WAIT_S is given up.
                now = time.monotonic()
                waited_until = waited_until or now + RESTART_WAIT_S
                if not max_restarts or now > waited_until:
                    raise
                time.sleep(pause)
                pause = min(2 * pause, 5.0)
                recover(call.actor, call)
            except ray.exceptions.RayActorError:
                failures += 1
                if not max_restarts or (max_restarts != -1 and failures > max_restarts):
                    raise
                recover(call.actor, call)

    def take() -> _Parts:
        """The parts of the oldest call (none for a snapshot)."""
        call = pending.popleft()
        out = result(call)
        call.done = True
        if call.kind != "snapshot":
            return list(out)
        replay = replays[call.actor]
        replay.snapshot = out
        # The pushes the snapshot includes need no replay any more.
        covered = next((i for i, c in enumerate(replay.log) if c is call.covers), -1)
        replay.log = replay.log[covered + 1 :]
        return []

    def table(parts: _Parts) -> pa.Table:
        pa_ = _pyarrow()
        if merge is not None:
            columns = _segments_with_groups(router, key_column, parts)
            names = [key_column, "start", "length", "reason"]
            names += [f"group_{level}" for level in range(len(columns) - 4)]
            return pa_.Table.from_arrays(columns, names=names)
        return pa_.Table.from_batches([router.segments_batch(key_column, parts)])

    try:
        for batch in ds.iter_batches(batch_size=batch_size, batch_format="pyarrow"):
            keys, values = _split_by_key(batch, key_column, value_column, router)
            per_actor: list[tuple[list[object], list[Any]]] = [([], []) for _ in actors]
            for key, chunk in zip(keys, values, strict=True):
                k, v = per_actor[_route(key, num_actors)]
                k.append(key)
                v.append(chunk)
            for index, (k, v) in enumerate(per_actor):
                if k:
                    submit(index, k, v)
            while len(pending) > max_in_flight:
                parts = take()
                if parts:
                    yield table(parts)
        for index, actor in enumerate(actors):
            pending.append(_Call(index, "finish", actor.finish.remote()))
        while pending:
            parts = take()
            if parts:
                yield table(parts)
    finally:
        for actor in actors:
            ray.kill(actor)


class SegmentSeries:
    """A Ray Data ``map_batches`` step for datasets whose rows are whole series.

    Each row's ``value_column`` holds one series (a list or array). The step segments
    every series of the batch with :func:`entroseg.segment_batch` (series in parallel on
    the worker's cores, GIL released) and adds a ``segment_lengths`` column (a list per
    row) and a ``segment_reasons`` column. Use through :func:`training_batches`, or
    directly: ``ds.map_batches(SegmentSeries, fn_constructor_kwargs={...},
    batch_format="pyarrow", concurrency=n)``.
    """

    def __init__(self, *, value_column: str, threads: int | None = None, **options: Any):
        self.value_column = value_column
        self.threads = threads
        self.spec = build_spec(options, streaming=False)

    def __call__(self, batch: pa.Table) -> pa.Table:
        if self.value_column not in batch.column_names:
            raise KeyError(
                f"column {self.value_column!r} not in the dataset (columns: {batch.column_names})"
            )
        # The Arrow step's per-batch segmentation (entroseg.arrow.segment_batches).
        return segments_of_rows(batch, self.value_column, threads=self.threads, spec=self.spec)


@dataclass(frozen=True)
class TrainingBatch:
    """A batch of whole series and their segments, ready for a model.

    ``values`` holds the series concatenated; ``segments`` has one series per row
    (``segments.cu_seqlens``, ``patch_ids()``, ``to_padded()``); ``rows`` is the Arrow
    batch the series came from (other columns: labels, ids ...); ``plan``, with
    ``training_batches(..., merge=...)``, the merge levels of the segments
    (``plan[l].source``, ``plan[l].series_offsets`` beside ``segments.cu_seqlens``).
    """

    values: npt.NDArray[Any]
    segments: Segments
    rows: pa.Table
    plan: MergePlan | None = None


def training_batches(
    ds: Any,
    *,
    value_column: str,
    batch_size: int = 256,
    concurrency: int | None = None,
    merge: dict[str, Any] | None = None,
    **options: Unpack[SegmentOptions],
) -> Iterator[TrainingBatch]:
    """Segment every series of a Ray Dataset (one series per row) with Ray Data's
    streaming execution and yield training batches.

    Parameters
    ----------
    ds : ray.data.Dataset
        One series per row in ``value_column`` (list or array column).
    batch_size : int, default 256
        Series per yielded batch.
    concurrency : int, optional
        Parallel ``map_batches`` workers (default: the cluster's CPUs); each segments its
        batches on one thread, so the workers together use the cores.
    merge : dict, optional
        Also plan merges of each series' segments: the options of
        :func:`entroseg.merge_plan` (each segment a unit weighted by its length and
        described by the mean of its values, as ``segment_stream(..., merge=...)``).
    **options
        What :func:`entroseg.segment` takes. ``budget=N`` is one token budget per
        yielded batch: its series share one threshold so that the batch has ``N``
        segments in all (see :func:`entroseg.segment_batch`); they are then segmented
        together in the driver (on all its cores), since the batches of the Ray Data
        workers do not line up with the batches yielded here (``concurrency`` does not
        apply).

    Yields
    ------
    TrainingBatch
        Equal, series for series, to ``entroseg.segment_batch`` over the same rows;
        with ``merge``, ``plan`` equals ``merge_plan(segments, profile=values,
        weights=segments.lengths, **merge)``.
    """
    ray = _ray()
    spec = build_spec(options, streaming=False)  # checked before any work
    given = spec.given
    if merge is not None:
        merge_plan(profile=np.zeros(2), **merge)  # bad merge options fail now
    if given.get("budget") is not None:
        for batch in ds.iter_batches(batch_size=batch_size, batch_format="pyarrow"):
            values, offsets = _flat_series(batch, value_column)
            segments = entroseg.segment_batch(values, offsets, spec=spec)
            yield _training_batch(values, segments, batch, merge)
        return
    if concurrency is None:
        concurrency = max(1, int(ray.available_resources().get("CPU", 1)))
    mapped = ds.map_batches(
        SegmentSeries,
        fn_constructor_kwargs={"value_column": value_column, "threads": 1, **given},
        batch_format="pyarrow",
        compute=ray.data.ActorPoolStrategy(size=concurrency),
    )
    for batch in mapped.iter_batches(batch_size=batch_size, batch_format="pyarrow"):
        values, token_offsets = _flat_series(batch, value_column)
        lengths = batch.column("segment_lengths").combine_chunks()
        reasons = batch.column("segment_reasons").combine_chunks()
        seg_offsets = np.asarray(lengths.offsets.to_numpy(), dtype=np.int64)
        seg_offsets -= seg_offsets[0]
        seg_lengths = np.asarray(lengths.values.to_numpy(zero_copy_only=False), dtype=np.int64)
        # Starts within each series: global starts minus the series' first token.
        global_starts = np.cumsum(seg_lengths) - seg_lengths
        series_of = np.repeat(np.arange(len(seg_offsets) - 1), np.diff(seg_offsets))
        starts = global_starts - token_offsets[series_of]
        segments = Segments(
            starts, seg_lengths, reasons.values.to_numpy(zero_copy_only=False), seg_offsets
        )
        rows = batch.drop_columns(["segment_lengths", "segment_reasons"])
        yield _training_batch(values, segments, rows, merge)


def _flat_series(
    batch: pa.Table, value_column: str
) -> tuple[npt.NDArray[Any], npt.NDArray[np.int64]]:
    """The series of a batch's list column, flat, with their offsets (leading 0)."""
    pa = _pyarrow()
    column = batch.column(value_column).combine_chunks()
    if not pa.types.is_list(column.type):
        column = column.cast(pa.list_(column.type.value_type))
    offsets = np.asarray(column.offsets.to_numpy(), dtype=np.int64)
    values = column.values.to_numpy(zero_copy_only=False)[offsets[0] : offsets[-1]]
    return values, offsets - offsets[0]


def _training_batch(
    values: npt.NDArray[Any], segments: Segments, rows: pa.Table, merge: dict[str, Any] | None
) -> TrainingBatch:
    """A :class:`TrainingBatch`, with its merge plan when ``merge`` is given."""
    plan = None
    if merge is not None:
        profile = np.asarray(values, dtype=np.float64)
        plan = merge_plan(segments, profile=profile, weights=segments.lengths, **merge)
    return TrainingBatch(values=values, segments=segments, rows=rows, plan=plan)
