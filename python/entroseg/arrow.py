"""Arrow stream steps: segments and entropy profiles over a stream of record batches.

:func:`segment_stream` and :func:`profile_stream` take anything that exports an Arrow
stream (``__arrow_c_stream__``: a pyarrow ``RecordBatchReader`` or ``Table``, a Polars
``DataFrame``, a DuckDB result ...) or the path of a Parquet, Arrow IPC or CSV file, and
return a lazy :class:`pyarrow.RecordBatchReader`: nothing is read until the result is,
and then one input batch at a time. Rows of many series may be interleaved; each value
of ``key_column`` owns one streaming state (:class:`entroseg.Segmenter` or
:class:`entroseg.Profiler`), carried across batches, so the output is exactly that of the one-shot
function on each key's rows alone, whatever the batching. Memory is the states (O(window)
each) plus one batch.

Missing values follow the Polars surface: a null value counts as NaN (``nan_policy``
decides), symbols cannot be missing, and the profile is null where the numpy function
gives NaN. A null key is a key of its own. An exception raised by the producer of a
pyarrow reader reaches the consumer unchanged (the reader is used as it is); through the
C stream interface of other producers it arrives as a ``pyarrow.ArrowInvalid`` carrying
the producer's message.

Examples
--------
>>> import numpy as np, pyarrow as pa, pyarrow.compute as pc, entroseg
>>> from entroseg.arrow import segment_stream
>>> x, _ = entroseg.sample_series(500)
>>> table = pa.table({"device": np.repeat(["a", "b"], 1000), "x": x})
>>> reader = segment_stream(table.to_reader(max_chunksize=256), value_column="x",
...                         key_column="device", order=3, window=32, target_len=50,
...                         calibration="online")
>>> out = reader.read_all()
>>> out.column_names
['device', 'start', 'length', 'reason']
>>> a = entroseg.segment(x[:1000], order=3, window=32, target_len=50, calibration="online")
>>> out.filter(pc.equal(out["device"], "a"))["start"].to_numpy().tolist() == a.starts.tolist()
True
"""

from __future__ import annotations

import io
import itertools
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from entroseg._entroseg import (
    InvalidParameterError,
    SegmentSpec,
    _merge_stream_finish,
    _merge_stream_push,
    _MergePlanner,
    _Profiler,
    _Segmenter,
)
from entroseg._options import SegmentOptions, build_spec, profile_options
from entroseg._resume import (
    CheckpointMismatchError,
    ResumePosition,
    Resumer,
    check_every,
    read_position,
)
from entroseg.changepoints import ChangePointDetector
from entroseg.segments import _arrow_batch, segment_batch, warn_missed_target

if TYPE_CHECKING:
    import pyarrow as pa
    from typing_extensions import Unpack

    from entroseg.merge import ScheduleOptions

__all__ = [
    "CheckpointMismatchError",
    "ResumePosition",
    "boundary_probs_table",
    "change_point_stream",
    "merge_stream",
    "open_stream",
    "profile_stream",
    "resume_position",
    "segment_batches",
    "segment_stream",
]

#: File suffixes read by :func:`open_stream`.
PARQUET_SUFFIXES = (".parquet", ".pq")
IPC_SUFFIXES = (".arrow", ".feather", ".ipc", ".arrows")
CSV_SUFFIXES = (".csv", ".tsv")


def _pyarrow() -> Any:
    try:
        import pyarrow
    except ImportError:  # pragma: no cover - pyarrow is in the arrow and test extras
        raise ImportError("entroseg.arrow needs pyarrow: pip install 'entroseg[arrow]'") from None
    return pyarrow


def open_stream(source: Any, *, batch_size: int | None = None) -> pa.RecordBatchReader:
    """A :class:`pyarrow.RecordBatchReader` over ``source``, read lazily.

    Parameters
    ----------
    source
        An object with ``__arrow_c_stream__`` (a pyarrow reader is used as it is, so
        its producer's exceptions keep their type), or the path of a Parquet file, an
        Arrow IPC file or stream (``.arrow``, ``.feather``, ``.ipc``, ``.arrows``) or a
        CSV/TSV file with a header row.
    batch_size
        Rows per batch for Parquet files (default: the reader's).

    Raises
    ------
    TypeError
        When ``source`` is neither a stream nor a path.
    FileNotFoundError, ValueError
        When the file is missing, its type is unknown or it cannot be parsed.
    """
    pa = _pyarrow()
    if isinstance(source, pa.RecordBatchReader):
        return source
    if hasattr(source, "__arrow_c_stream__"):
        if hasattr(pa.RecordBatchReader, "from_stream"):
            return pa.RecordBatchReader.from_stream(source)
        # pyarrow 14 has the capsule import but not from_stream.
        return pa.RecordBatchReader._import_from_c_capsule(source.__arrow_c_stream__())
    if isinstance(source, str | os.PathLike):
        return _open_file(Path(source), batch_size)
    raise TypeError(
        "source must export an Arrow stream (__arrow_c_stream__: a pyarrow "
        "RecordBatchReader or Table, a polars DataFrame ...) or be a file path, got "
        f"{type(source).__name__}"
    )


def _open_file(path: Path, batch_size: int | None) -> pa.RecordBatchReader:
    pa = _pyarrow()
    if not path.is_file():
        raise FileNotFoundError(f"cannot read {str(path)!r}: no such file")
    suffix = path.suffix.lower()
    try:
        if suffix in PARQUET_SUFFIXES:
            import pyarrow.parquet as pq

            pf = pq.ParquetFile(path)
            kw = {} if batch_size is None else {"batch_size": batch_size}
            return pa.RecordBatchReader.from_batches(pf.schema_arrow, pf.iter_batches(**kw))
        if suffix in IPC_SUFFIXES:
            try:
                f = pa.ipc.open_file(path)
            except pa.ArrowInvalid:
                return pa.ipc.open_stream(path)  # the streaming IPC format
            batches = (f.get_batch(i) for i in range(f.num_record_batches))
            return pa.RecordBatchReader.from_batches(f.schema, batches)
        if suffix in CSV_SUFFIXES:
            import pyarrow.csv as pcsv

            parse = pcsv.ParseOptions(delimiter="\t" if suffix == ".tsv" else ",")
            return pcsv.open_csv(path, parse_options=parse)
    except (pa.ArrowInvalid, OSError) as exc:
        raise ValueError(f"cannot read {str(path)!r}: {exc}") from None
    raise ValueError(
        f"cannot read {str(path)!r}: unknown file type {suffix!r} (expected Parquet "
        f"{'/'.join(PARQUET_SUFFIXES)}, Arrow IPC {'/'.join(IPC_SUFFIXES)} or CSV "
        f"{'/'.join(CSV_SUFFIXES)})"
    )


# ---- per-key routing ----------------------------------------------------------------


def _column_index(schema: pa.Schema, name: str, role: str) -> int:
    idx = schema.get_field_index(name)
    if idx < 0:
        raise KeyError(f"{role} {name!r} is not in the stream (columns: {', '.join(schema.names)})")
    return int(idx)


def _check_value_type(schema: pa.Schema, column: str, takes_symbols: bool) -> None:
    pa = _pyarrow()
    t = schema.field(column).type
    if pa.types.is_struct(t):
        for i in range(t.num_fields):
            _check_value_type(pa.schema([t.field(i)]), t.field(i).name, takes_symbols)
        return
    if pa.types.is_fixed_size_list(t):
        t = t.value_type
    if takes_symbols:
        if not pa.types.is_integer(t):
            raise TypeError(
                f"value column {column!r} must hold integer symbols for this method, got {t}"
            )
    elif not (pa.types.is_integer(t) or pa.types.is_floating(t)):
        raise TypeError(f"value column {column!r} must be numeric (float or integer), got {t}")


def _values(column: Any, takes_symbols: bool, name: str) -> npt.NDArray[Any]:
    """A batch's value column as numpy: floats with nulls as NaN, or symbols."""
    pa = _pyarrow()
    if takes_symbols:
        if column.null_count:
            row = int(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0])
            raise ValueError(
                f"value column {name!r} has a null at row {row} of its batch; symbols "
                "cannot be missing: fill or drop the nulls first"
            )
        return np.asarray(column.to_numpy(zero_copy_only=False))
    if not pa.types.is_float64(column.type):
        column = column.cast(pa.float64())
    if column.null_count:
        column = column.fill_null(np.nan)
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)


def _value_names(value_column: str | Sequence[str]) -> list[str]:
    """The value column(s): one name (a 1-D series, or a fixed-size-list column of c
    channels), or several names (one channel each)."""
    names = [value_column] if isinstance(value_column, str) else list(value_column)
    if not names:
        raise InvalidParameterError(
            "value_column names no column: give one name, or several for the channels of a "
            "multichannel series"
        )
    return names


def _null_rows(column: Any, takes_symbols: bool, name: str) -> npt.NDArray[np.bool_] | None:
    """The null rows of a multichannel column (None when there are none); symbols
    cannot be missing."""
    if not column.null_count:
        return None
    null_rows = np.asarray(column.is_null().to_numpy(zero_copy_only=False))
    if takes_symbols:
        row = int(np.flatnonzero(null_rows)[0])
        raise ValueError(
            f"value column {name!r} has a null at row {row} of its batch; symbols "
            "cannot be missing: fill or drop the nulls first"
        )
    return null_rows


def _list_values(column: Any, takes_symbols: bool, name: str) -> npt.NDArray[Any]:
    """A fixed-size-list column of c channels as an (n, c) array; a null row reads as
    NaN in every channel (floats), or is refused (symbols)."""
    pa = _pyarrow()
    c = column.type.list_size
    n = len(column)
    null_rows = _null_rows(column, takes_symbols, name)
    # The child values of every row, null rows included (flatten() would drop them).
    child = column.values.slice(column.offset * c, n * c)
    if not takes_symbols and not pa.types.is_float64(child.type):
        child = child.cast(pa.float64())
    flat = _values(child, takes_symbols, name)
    values = np.array(flat, copy=null_rows is not None).reshape(n, c)
    if null_rows is not None:
        values[null_rows] = np.nan
    return values


def _struct_values(column: Any, takes_symbols: bool, name: str) -> npt.NDArray[Any]:
    """A struct column's fields as the channels of an (n, c) array; a null row reads as
    NaN in every channel (floats), or is refused (symbols)."""
    null_rows = _null_rows(column, takes_symbols, name)
    fields = [column.field(i) for i in range(column.type.num_fields)]
    values = np.column_stack(
        [_values(f, takes_symbols, f"{name}.{column.type.field(i).name}")
         for i, f in enumerate(fields)]
    )  # fmt: skip
    if null_rows is not None:
        values[null_rows] = np.nan
    return values


def _channel_values(
    batch: Any, indices: list[int], names: list[str], takes_symbols: bool
) -> npt.NDArray[Any]:
    """A batch's series: 1-D for one plain value column, (n, c) for a fixed-size-list
    column of c channels or for c value columns."""
    if len(indices) == 1:
        column = batch.column(indices[0])
        if _pyarrow().types.is_fixed_size_list(column.type):
            return _list_values(column, takes_symbols, names[0])
        if _pyarrow().types.is_struct(column.type):
            return _struct_values(column, takes_symbols, names[0])
        return _values(column, takes_symbols, names[0])
    return np.column_stack(
        [_values(batch.column(i), takes_symbols, n) for i, n in zip(indices, names, strict=True)]
    )


def _key_type(schema: pa.Schema, index: int) -> pa.DataType:
    """The key column's type in the output: dictionary keys are decoded (each batch may
    carry its own dictionary)."""
    pa = _pyarrow()
    t = schema.field(index).type
    return t.value_type if pa.types.is_dictionary(t) else t


#: Mean run length (rows of one key in a row) above which a batch is processed run by
#: run, in stream order, with no grouping at all; below it rows are grouped by key.
#: A run costs a few microseconds of Python; grouping ~15 ns per row (hash, sort, gather).
RUN_PATH_MIN_MEAN_RUN = 1024

_Rows = slice | npt.NDArray[np.intp]


class _Router:
    """Splits each batch's rows by key, and keeps one row of each key's column (the key
    as Arrow data, exact type) for the output.

    Every batch's keys are hashed to codes by Arrow (``dictionary_encode``; nulls get a
    code of their own). :meth:`route` hands the codes on (``merge_stream`` groups the rows
    in Rust). :meth:`split` cuts sorted or blocky input (long runs of one key) into runs
    with one vectorised comparison of neighbouring codes: each run is a slice, no copy,
    processed in stream order; interleaved input is grouped by a stable sort of the
    codes (a radix sort when they fit 16 bits), which keeps each key's rows in stream
    order.
    """

    def __init__(self, key_index: int | None) -> None:
        self.key_index = key_index
        self.key_rows: dict[Any, Any] = {}

    def route(self, batch: pa.RecordBatch) -> tuple[list[Any], Any]:
        """``(keys, codes)`` for the batch: ``codes`` (a numpy integer array, one per
        row) says which of ``keys`` each row has. Without a key column: ``([None],
        None)``, every row of the one series."""
        pa = _pyarrow()
        if self.key_index is None:
            return [None], None
        keys = batch.column(self.key_index)
        if isinstance(keys, pa.ChunkedArray):  # a Table's column (Ray Data batches)
            keys = keys.combine_chunks()
        if pa.types.is_dictionary(keys.type):
            keys = keys.dictionary_decode()
        encoded = keys.dictionary_encode(null_encoding="encode")  # nulls: a key of their own
        codes = encoded.indices.to_numpy(zero_copy_only=False)
        dictionary = encoded.dictionary.to_pylist()
        new = [c for c, key in enumerate(dictionary) if key not in self.key_rows]
        if new:
            firsts = np.full(len(dictionary), len(codes), dtype=np.intp)
            np.minimum.at(firsts, codes, np.arange(len(codes)))
            for c in new:
                self.key_rows[dictionary[c]] = keys.slice(int(firsts[c]), 1)
        return dictionary, codes

    def split(self, batch: pa.RecordBatch) -> Iterator[tuple[Any, _Rows]]:
        """``(key, rows)`` for the batch, each key's rows in stream order; ``rows`` is a
        slice (a run) or an index array (a group)."""
        n = batch.num_rows
        if n == 0:
            return
        keys, codes = self.route(batch)
        if codes is None:
            yield None, slice(0, n)
            return
        starts = np.flatnonzero(codes[1:] != codes[:-1]) + 1
        if n >= RUN_PATH_MIN_MEAN_RUN * (len(starts) + 1):
            bounds = [0, *starts.tolist(), n]
            for a, b in itertools.pairwise(bounds):
                yield keys[codes[a]], slice(a, b)
            return
        if len(keys) <= 1 << 16:
            codes = codes.astype(np.uint16)  # numpy's stable sort of 16-bit ints is a radix sort
        order = np.argsort(codes, kind="stable")
        bounds_ = np.concatenate([[0], np.cumsum(np.bincount(codes, minlength=len(keys)))])
        for code, key in enumerate(keys):
            yield key, order[bounds_[code] : bounds_[code + 1]]

    def key_column(self, keys: list[Any], counts: list[int]) -> Any:
        """The key column of output rows: ``counts[i]`` rows of ``keys[i]``."""
        pa = _pyarrow()
        firsts = pa.concat_arrays([self.key_rows[k] for k in keys])
        t = firsts.type
        if not firsts.null_count and (pa.types.is_integer(t) or pa.types.is_floating(t)):
            # Numbers: the keys repeated by numpy, one pass, no index array.
            return pa.array(np.repeat(firsts.to_numpy(), counts), t)
        index = np.repeat(np.arange(len(keys), dtype=np.int32), counts)
        return firsts.take(pa.array(index))

    def segments_batch(
        self, key_name: str | None, parts: list[tuple[Any, tuple[Any, Any, Any]]]
    ) -> pa.RecordBatch:
        """One row per segment of ``parts`` (``(key, (starts, lengths, reasons))``, in
        output order): ``key_name`` (when given; the keys as this router saw them),
        ``start``, ``length``, ``reason``."""
        keys = None
        if key_name is not None:
            keys = self.key_column([k for k, _ in parts], [len(out[0]) for _, out in parts])
        starts, lengths, reasons = (np.concatenate([out[i] for _, out in parts]) for i in range(3))
        return _arrow_batch(key_name, keys, starts, lengths, reasons)


def _reader(schema: pa.Schema, batches: Iterator[pa.RecordBatch]) -> pa.RecordBatchReader:
    pa = _pyarrow()
    return pa.RecordBatchReader.from_batches(schema, batches)


# ---- checkpoints --------------------------------------------------------------------

#: Input batches between two checkpoints when ``checkpoint=`` is given without
#: ``checkpoint_every=``.
CHECKPOINT_EVERY = 64

OnCheckpoint = Callable[[ResumePosition], None]


def resume_position(checkpoint: str | os.PathLike[str]) -> ResumePosition | None:
    """Where the checkpoint file of a keyed step stands; None when there is none.

    A consumer that resumes a step keeps the first ``output_rows`` rows it had written
    (every row emitted before the checkpoint) and drops the rest: they were emitted
    after the checkpoint, and the resumed step emits them again.

    Raises
    ------
    entroseg.CheckpointError
        When the file is torn, truncated or corrupt (named in the message).

    Examples
    --------
    >>> import os, tempfile, pyarrow as pa
    >>> from entroseg.arrow import resume_position, segment_stream
    >>> path = os.path.join(tempfile.mkdtemp(), "run.ckpt")
    >>> t = pa.table({"k": ["a", "b"] * 500, "x": [float(i % 7) for i in range(1000)]})
    >>> out = segment_stream(t.to_reader(max_chunksize=100), value_column="x",
    ...                      key_column="k", threshold=0.5, checkpoint=path,
    ...                      checkpoint_every=4).read_all()
    >>> p = resume_position(path)
    >>> p.finished, p.input_rows, p.output_rows == len(out)
    (True, 1000, True)
    """
    return read_position(checkpoint)


def _resumer(
    checkpoint: str | os.PathLike[str] | None,
    every: int,
    on_checkpoint: OnCheckpoint | None,
    fingerprint: dict[str, Any],
    schema: pa.Schema,
    key_index: int | None,
) -> Resumer | None:
    """The run's checkpointing (None without ``checkpoint``); reads and checks an
    existing checkpoint now, so a torn file or other arguments fail before any reading."""
    check_every(checkpoint, every)
    if checkpoint is None:
        if on_checkpoint is not None:
            raise ValueError("on_checkpoint is called at checkpoints: give checkpoint= too")
        return None
    columns = {name: str(schema.field(name).type) for name in schema.names}
    key_type = None if key_index is None else _key_type(schema, key_index)
    fingerprint = {**fingerprint, "input_columns": columns}
    return Resumer(checkpoint, every, fingerprint, on_checkpoint, key_type)


def _inputs(reader: Any, resumer: Resumer | None, digest_of: Callable[[Any], Any]) -> Iterator[Any]:
    """The input batches; with a checkpoint, those after its position."""
    return iter(reader) if resumer is None else resumer.input(reader, digest_of)


def _emit(resumer: Resumer | None, batch: Any) -> Any:
    return batch if resumer is None else resumer.emitted(batch)


# ---- segment_stream -----------------------------------------------------------------


def segment_stream(
    source: Any,
    *,
    value_column: str | Sequence[str],
    key_column: str | None = None,
    spec: SegmentSpec | None = None,
    merge: dict[str, Any] | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    checkpoint_every: int = CHECKPOINT_EVERY,
    on_checkpoint: OnCheckpoint | None = None,
    **options: Unpack[SegmentOptions],
) -> pa.RecordBatchReader:
    """Segment every series of an Arrow stream; a lazy reader of one row per segment.

    Each key's rows go through its own :class:`entroseg.Segmenter` (``spec`` or the
    options of :func:`entroseg.segment`; streaming, so ``target_len`` takes
    ``calibration="online"``); segments are emitted as soon as they close, the last
    ones when the input ends.

    Parameters
    ----------
    source
        An Arrow stream (``__arrow_c_stream__``) or a Parquet / Arrow IPC / CSV path
        (see :func:`open_stream`).
    value_column
        The series: floats (or integers) for ``"permutation"`` and ``"scores"``, integer
        symbols for ``"conditional"`` and ``"next_symbol"``. A multichannel series (one
        boundary set for all channels, as :func:`entroseg.segment` of the ``(n, c)``
        array, ``channels="sum"``, ``"max"`` or ``"pooled"``): a fixed-size-list column
        of ``c`` values per row, a struct column of ``c`` numeric fields, or a list of
        ``c`` column names.
    key_column
        The series key; rows of different keys may interleave. None: one series.
    merge
        Also plan merges of each key's segments, in the same pass: the options of
        :class:`entroseg.MergePlanner` (``block`` required; ``window``, ``levels``,
        ``r`` / ``ratio`` / ``threshold`` / ``schedule``, ``momentum``, ``max_size``).
        Each segment is a unit weighted by its length and described by the mean of the
        values it covers (profile similarity; the values must then be finite). A
        segment is emitted once its block is planned (at most ``block - 1`` segments
        later), with its group at every level.

    Returns
    -------
    pyarrow.RecordBatchReader
        Columns: ``key_column`` (its own name and type, when given), ``start`` (int64,
        row offset within that key's rows, from 0), ``length`` (int64) and ``reason``
        (dictionary of :data:`entroseg.REASONS`). Per key, the rows equal
        ``entroseg.segment(key_rows, ...)`` with the same options. With ``merge``, also
        ``group_0`` ... ``group_{levels-1}`` (int64): the segment's group at each level,
        numbered from 0 per key, which equals ``plan[l].source`` of
        ``entroseg.merge_plan(segments, profile=key_rows, weights=segments.lengths,
        **merge)`` (the unmerge index: ``coarse[group_l]`` gathers group values back to
        the segments).
    checkpoint, checkpoint_every, on_checkpoint
        Exactly-once resume (see the README's "Exactly-once resume" section and
        :func:`resume_position`): every ``checkpoint_every`` input batches, every key's
        state and the stream position are written atomically to the file
        ``checkpoint``, once the consumer has taken the output of those batches (it asks
        for the next one). ``on_checkpoint(position)`` is called just before: a sink
        makes every row emitted so far durable there. Called again with the same
        arguments and path, the step skips the input already consumed and emits exactly
        the rows after ``position.output_rows``: rows a killed consumer received after
        its last checkpoint are emitted again, so it must drop them (truncate its sink
        to ``output_rows``). The last checkpoint, written after the last batch, says
        ``finished``; resuming it emits nothing.

    Raises
    ------
    KeyError
        When ``value_column`` or ``key_column`` is not in the stream.
    TypeError
        When the value column's type does not suit the method.
    InvalidParameterError
        For bad options (at once, before anything is read).
    entroseg.CheckpointError
        When the checkpoint file is torn or corrupt; :class:`CheckpointMismatchError`
        (a subclass) when it was written with other arguments or for another input.

    Examples
    --------
    A consumer that dies at its third checkpoint (before it is written) resumes from the
    second; the rows it keeps plus the resumed run's are exactly one uninterrupted run's:

    >>> import os, tempfile, numpy as np, pyarrow as pa
    >>> from entroseg.arrow import resume_position, segment_stream
    >>> x = np.cumsum(np.random.default_rng(0).standard_normal(6000))
    >>> t = pa.table({"k": np.tile(["a", "b", "c"], 2000), "x": x})
    >>> opts = dict(value_column="x", key_column="k", target_len=20.0,
    ...             calibration="online", checkpoint_every=2)
    >>> whole = segment_stream(t.to_reader(max_chunksize=500), **opts).read_all()
    >>> path = os.path.join(tempfile.mkdtemp(), "run.ckpt")
    >>> sink = []
    >>> def commit(position):
    ...     if position.checkpoints == 3:
    ...         raise RuntimeError("killed")
    >>> try:
    ...     for batch in segment_stream(t.to_reader(max_chunksize=500), checkpoint=path,
    ...                                 on_checkpoint=commit, **opts):
    ...         sink.append(batch)
    ... except RuntimeError:
    ...     pass
    >>> kept = pa.Table.from_batches(sink, whole.schema).slice(0, resume_position(path).output_rows)
    >>> rest = segment_stream(t.to_reader(max_chunksize=500), checkpoint=path, **opts).read_all()
    >>> pa.concat_tables([kept, rest]).equals(whole)
    True
    """
    pa = _pyarrow()
    spec = build_spec(options, streaming=True, spec=spec)
    reader = open_stream(source)
    value_names = _value_names(value_column)
    value_indices = [_column_index(reader.schema, n, "value_column") for n in value_names]
    key_index = (
        None if key_column is None else _column_index(reader.schema, key_column, "key_column")
    )
    for name in value_names:
        _check_value_type(reader.schema, name, spec.takes_symbols)
    first_type = reader.schema.field(value_names[0]).type
    multichannel = (
        len(value_names) > 1
        or pa.types.is_fixed_size_list(first_type)
        or pa.types.is_struct(first_type)
    )
    reason_type = pa.dictionary(pa.int8(), pa.string())
    fields = [
        pa.field("start", pa.int64()),
        pa.field("length", pa.int64()),
        pa.field("reason", reason_type),
    ]
    if key_index is not None:
        fields.insert(0, pa.field(key_column, _key_type(reader.schema, key_index)))
    router = _Router(key_index)
    planner_options = None
    if merge is not None:
        if spec.takes_symbols or multichannel:
            raise ValueError(
                "merge= plans over the mean value of each segment; symbol methods have no "
                "mean and multichannel series no single one: plan with entroseg.merge_plan "
                "and a profile instead"
            )
        planner_options = _planner_options(merge)
        num_levels = _MergePlanner(**planner_options).num_levels  # bad options fail now
        fields += [pa.field(f"group_{level}", pa.int64()) for level in range(num_levels)]
    fingerprint = {
        "step": "segment_stream",
        "value_column": value_column,
        "key_column": key_column,
        "spec": spec.options,
        "merge": planner_options,
    }
    resumer = _resumer(
        checkpoint, checkpoint_every, on_checkpoint, fingerprint, reader.schema, key_index
    )

    def series_of(batch: Any) -> npt.NDArray[Any]:
        return _channel_values(batch, value_indices, value_names, spec.takes_symbols)

    def digest_of(batch: Any) -> Any:
        return np.ascontiguousarray(series_of(batch)).data

    if planner_options is not None:
        value_index = value_indices[0]
        return _reader(
            pa.schema(fields),
            _segment_merge_batches(
                _inputs(reader, resumer, digest_of),
                value_index,
                spec,
                router,
                key_column,
                pa.schema(fields),
                planner_options,
                value_names[0],
                resumer,
            ),
        )
    schema = pa.schema(fields)

    def to_batch(parts: list[tuple[Any, tuple[Any, Any, Any]]]) -> Any:
        columns = router.segments_batch(key_column, parts).columns
        return pa.RecordBatch.from_arrays(columns, schema=schema)

    def batches() -> Iterator[Any]:
        states: dict[Any, _Segmenter] = {}
        if resumer is not None:
            if resumer.finished:
                return
            states = resumer.restore(router, _Segmenter.from_checkpoint)
        for batch in _inputs(reader, resumer, digest_of):
            values = series_of(batch)
            closed = []
            for key, rows in router.split(batch):
                seg = states.get(key)
                if seg is None:
                    seg = states[key] = _Segmenter(spec)
                out = seg.push(values[rows])
                if len(out[0]):
                    closed.append((key, out))
            if closed:
                yield _emit(resumer, to_batch(closed))
            if resumer is not None:
                resumer.after_batch(router, states, _Segmenter.checkpoint)
        last = [(key, seg.finish()) for key, seg in states.items()]
        target = spec.options["target_len"]
        if isinstance(target, float) and states:
            warn_missed_target(
                target,
                "online",
                [seg.segments_closed for seg in states.values()],
                [seg.samples_seen for seg in states.values()],
                stacklevel=2,
            )
        last = [(k, out) for k, out in last if len(out[0])]
        if last:
            yield _emit(resumer, to_batch(last))
        if resumer is not None:
            resumer.finish()

    return _reader(schema, batches())


def _planner_options(merge: dict[str, Any]) -> dict[str, Any]:
    """The ``_MergePlanner`` options of a ``merge=`` dict (segments as profile units)."""
    from entroseg.merge import _plan_options

    merge_options = dict(merge)
    if "block" not in merge_options:
        raise ValueError(
            "merge= needs block (segments planned together): a stream plans its merges "
            "block by block, see entroseg.MergePlanner"
        )
    block = merge_options.pop("block")
    strict = merge_options.pop("strict", False)
    return {
        "similarity": "profile",
        "block": block,
        "strict": strict,
        **_plan_options(merge_options),
    }


def _segments_with_groups(
    router: _Router, key_name: str | None, parts: list[tuple[Any, tuple[Any, ...]]]
) -> list[Any]:
    """The columns of segment rows with their groups: ``parts`` as
    :meth:`_SegmentMerger.feed` returns them, per key."""
    pa = _pyarrow()
    base = router.segments_batch(key_name, [(k, out[:3]) for k, out in parts]).columns
    extra = [
        pa.array(np.concatenate([out[3 + level] for _, out in parts]), pa.int64())
        for level in range(len(parts[0][1]) - 3)
    ]
    return [*base, *extra]


class _SegmentMerger:
    """One key of ``segment_stream(..., merge=...)``: its segmenter, its planner, the
    values not yet covered by a closed segment and the segments whose block is open."""

    def __init__(self, spec: SegmentSpec, planner_options: dict[str, Any]) -> None:
        self.segmenter = _Segmenter(spec)
        self.planner = _MergePlanner(**planner_options)
        self.values: list[npt.NDArray[np.float64]] = []
        self.open: list[tuple[Any, ...]] = []

    def checkpoint(self) -> bytes:
        """The state as bytes (an ``.npz``: the segmenter's and the planner's checkpoint
        bytes, the values held and the open segments)."""
        held = np.concatenate(self.values) if self.values else np.zeros(0)
        open_ = [
            np.concatenate([o[i] for o in self.open]) if self.open else np.zeros(0)
            for i in range(3)
        ]
        buffer = io.BytesIO()
        np.savez(
            buffer,
            segmenter=np.frombuffer(self.segmenter.checkpoint(), np.uint8),
            planner=np.frombuffer(self.planner.checkpoint(), np.uint8),
            values=held,
            starts=open_[0],
            lengths=open_[1],
            reasons=open_[2],
        )
        return buffer.getvalue()

    @classmethod
    def from_checkpoint(cls, state: bytes) -> _SegmentMerger:
        """Rebuild from :meth:`checkpoint` bytes."""
        with np.load(io.BytesIO(state), allow_pickle=False) as f:
            obj = cls.__new__(cls)
            obj.segmenter = _Segmenter.from_checkpoint(f["segmenter"].tobytes())
            obj.planner = _MergePlanner.from_checkpoint(f["planner"].tobytes())
            values = f["values"].astype(np.float64)
            obj.values = [values] if len(values) else []
            starts = f["starts"]
            obj.open = (
                [
                    (
                        starts.astype(np.int64),
                        f["lengths"].astype(np.int64),
                        f["reasons"].astype(np.uint8),
                    )
                ]
                if len(starts)
                else []
            )
        return obj

    def feed(self, chunk: npt.NDArray[np.float64] | None) -> tuple[Any, ...] | None:
        """Pushes a chunk (None: finishes); returns ``(starts, lengths, reasons,
        group_0, ...)`` of the segments whose groups became final, or None."""
        if chunk is None:
            closed = self.segmenter.finish()
        else:
            closed = self.segmenter.push(chunk)
            self.values.append(chunk)
        lengths = closed[1]
        held = np.concatenate(self.values) if len(self.values) > 1 else (
            self.values[0] if self.values else np.zeros(0))  # fmt: skip
        used = int(lengths.sum())
        raw = self.planner.push(held[:used], unit_lengths=lengths, weights=lengths)
        self.values = [held[used:]] if used < len(held) else []
        if len(lengths):
            self.open.append(closed)
        parts = [raw]
        if chunk is None:
            parts.append(self.planner.finish())
        done = sum(len(levels[0][1]) if levels else 0 for _, _, levels in parts)
        if not done:
            return None
        segs = [np.concatenate([o[i] for o in self.open]) for i in range(3)]
        self.open = [tuple(a[done:] for a in segs)] if done < len(segs[0]) else []
        groups = []
        for level in range(self.planner.num_levels):
            groups.append(np.concatenate([first[level] + levels[level][1].astype(np.int64)
                                          for _, first, levels in parts if levels]))  # fmt: skip
        return (*(a[:done] for a in segs), *groups)


def _segment_merge_batches(
    reader: Any,
    value_index: int,
    spec: SegmentSpec,
    router: _Router,
    key_name: str | None,
    schema: Any,
    planner_options: dict[str, Any],
    value_name: str,
    resumer: Resumer | None,
) -> Iterator[Any]:
    """The batches of ``segment_stream(..., merge=...)`` (``reader``: the input after
    the checkpoint's position, when resuming)."""
    pa = _pyarrow()

    def to_batch(parts: list[tuple[Any, tuple[Any, ...]]]) -> Any:
        columns = _segments_with_groups(router, key_name, parts)
        return _emit(resumer, pa.RecordBatch.from_arrays(columns, schema=schema))

    states: dict[Any, _SegmentMerger] = {}
    if resumer is not None:
        if resumer.finished:
            return
        states = resumer.restore(router, _SegmentMerger.from_checkpoint)
    for batch in reader:
        values = _values(batch.column(value_index), False, value_name)
        ready = []
        for key, rows in router.split(batch):
            state = states.get(key)
            if state is None:
                state = states[key] = _SegmentMerger(spec, planner_options)
            out = state.feed(values[rows])
            if out is not None:
                ready.append((key, out))
        if ready:
            yield to_batch(ready)
        if resumer is not None:
            resumer.after_batch(router, states, _SegmentMerger.checkpoint)
    last = []
    for key, state in states.items():
        out = state.feed(None)
        if out is not None:
            last.append((key, out))
    if last:
        yield to_batch(last)
    if resumer is not None:
        resumer.finish()


# ---- profile_stream -----------------------------------------------------------------


def profile_stream(
    source: Any,
    *,
    value_column: str | Sequence[str],
    key_column: str | None = None,
    profile_column: str = "profile",
    checkpoint: str | os.PathLike[str] | None = None,
    checkpoint_every: int = CHECKPOINT_EVERY,
    on_checkpoint: OnCheckpoint | None = None,
    **options: Unpack[SegmentOptions],
) -> pa.RecordBatchReader:
    """Add an entropy profile column to every batch of an Arrow stream; lazily.

    The profile is the score :func:`entroseg.segment` would cut (the options as there;
    rule options are ignored): each key's rows feed their own
    :class:`entroseg.Profiler`, so per key the column equals :func:`entroseg.profile`
    of that key's rows alone (null where it gives NaN).

    Parameters
    ----------
    value_column
        The series, or the channels of a multichannel one as in :func:`segment_stream`
        (several column names, a fixed-size-list column or a struct column): their
        profiles combine by the ``channels`` option into one score per row.
    checkpoint, checkpoint_every, on_checkpoint
        Exactly-once resume, as :func:`segment_stream`.

    Returns
    -------
    pyarrow.RecordBatchReader
        The input batches, unchanged, plus ``profile_column`` (float64).

    Raises
    ------
    KeyError, TypeError, InvalidParameterError
        As :func:`segment_stream`; ``ValueError`` when ``profile_column`` already exists.

    Examples
    --------
    >>> import numpy as np, pyarrow as pa, entroseg
    >>> from entroseg.arrow import profile_stream
    >>> t = pa.table({"x": [4.0, 7, 9, 10, 6, 11, 3]})
    >>> out = profile_stream(t, value_column="x", order=2, window=3).read_all()
    >>> out["profile"].to_pylist()
    [None, None, 0.0, 0.0, 1.0, 1.0, 1.0]
    """
    pa = _pyarrow()
    opts = profile_options(options)
    takes_symbols = _Profiler(**opts).takes_symbols  # bad options fail now
    reader = open_stream(source)
    value_names = _value_names(value_column)
    value_indices = [_column_index(reader.schema, n, "value_column") for n in value_names]
    key_index = (
        None if key_column is None else _column_index(reader.schema, key_column, "key_column")
    )
    for name in value_names:
        _check_value_type(reader.schema, name, takes_symbols)
    if reader.schema.get_field_index(profile_column) >= 0:
        raise ValueError(
            f"profile_column {profile_column!r} is already a column of the stream; name "
            "another with profile_column="
        )
    schema = reader.schema.append(pa.field(profile_column, pa.float64()))
    fingerprint = {
        "step": "profile_stream",
        "value_column": value_column,
        "key_column": key_column,
        "profile_column": profile_column,
        "options": opts,
    }
    resumer = _resumer(
        checkpoint, checkpoint_every, on_checkpoint, fingerprint, reader.schema, key_index
    )

    def series_of(batch: Any) -> npt.NDArray[Any]:
        return _channel_values(batch, value_indices, value_names, takes_symbols)

    def digest_of(batch: Any) -> Any:
        return np.ascontiguousarray(series_of(batch)).data

    def batches() -> Iterator[Any]:
        states: dict[Any, _Profiler] = {}
        router = _Router(key_index)
        if resumer is not None:
            if resumer.finished:
                return
            states = resumer.restore(router, _Profiler.from_checkpoint)
        for batch in _inputs(reader, resumer, digest_of):
            values = series_of(batch)
            profile = np.empty(len(values), dtype=np.float64)
            for key, rows in router.split(batch):
                profiler = states.get(key)
                if profiler is None:
                    profiler = states[key] = _Profiler(**opts)
                profile[rows] = profiler.push(values[rows])
            column = pa.array(profile, pa.float64(), from_pandas=True)  # NaN -> null
            yield _emit(
                resumer, pa.RecordBatch.from_arrays([*batch.columns, column], schema=schema)
            )
            if resumer is not None:
                resumer.after_batch(router, states, _Profiler.checkpoint)
        if resumer is not None:
            resumer.finish()

    return _reader(schema, batches())


# ---- merge_stream -------------------------------------------------------------------


def _unit_vectors(column: Any, name: str) -> npt.NDArray[np.float32]:
    """A batch's list column as ``[rows, dim]`` float32 (every row the same length)."""
    pa = _pyarrow()
    t = column.type
    if not (pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t)):
        raise TypeError(f"vector column {name!r} must be a list of floats per row, got {t}")
    if column.null_count:
        row = int(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0])
        raise ValueError(f"vector column {name!r} has a null at row {row} of its batch")
    n = len(column)
    if pa.types.is_fixed_size_list(t):
        dim = t.list_size
        flat = column.flatten()
    else:
        offsets = column.offsets.to_numpy()
        lengths = np.diff(offsets)
        dim = int(lengths[0]) if n else 0
        if n and (lengths != dim).any():
            row = int(np.flatnonzero(lengths != dim)[0])
            raise ValueError(
                f"vector column {name!r}: every row needs the same length, row {row} of its "
                f"batch has {int(lengths[row])}, row 0 has {dim}"
            )
        flat = column.flatten()
    values = np.asarray(flat.cast(pa.float32()).to_numpy(zero_copy_only=False), np.float32)
    return values.reshape(n, dim) if n else np.zeros((0, max(dim, 1)), np.float32)


def merge_stream(
    source: Any,
    *,
    block: int,
    key_column: str | None = None,
    vector_column: str | None = None,
    profile_column: str | None = None,
    weight_column: str | None = None,
    output: Literal["groups", "units"] = "groups",
    checkpoint: str | os.PathLike[str] | None = None,
    checkpoint_every: int = CHECKPOINT_EVERY,
    on_checkpoint: OnCheckpoint | None = None,
    **schedule: Unpack[ScheduleOptions],
) -> pa.RecordBatchReader:
    """Plan merges of every series of an Arrow stream, one row per unit in; lazily.

    Each row is a unit (a token, or a segment such as a row of :func:`segment_stream`
    with its vector or profile mean); each key's units go through their own
    :class:`entroseg.MergePlanner`, carried across batches, and each block's groups are
    emitted as soon as its last unit arrives (the rest when the input ends). Per key
    and level the rows equal ``entroseg.merge_plan(key_units, ..., block=block)``,
    whatever the batching and the interleaving of keys. Memory: one open block per key
    plus one batch.

    Parameters
    ----------
    source
        An Arrow stream (``__arrow_c_stream__``) or a Parquet / Arrow IPC / CSV path
        (see :func:`open_stream`).
    block
        Units planned together per key (see :class:`entroseg.MergePlanner`).
    key_column
        The series key; rows of different keys may interleave. None: one series.
    vector_column, profile_column
        Exactly one: a list-of-floats column (cosine similarity of the vectors) or a
        numeric column (one profile value per unit; similarity of group means).
    weight_column
        Integer weight of each unit (>= 1; e.g. segment lengths), default 1.
    output : {"groups", "units"}
        ``"groups"``: one row per group and level: ``key_column``, ``level`` (int32),
        ``group`` (int64, the group's id at that level within its key, from 0),
        ``start`` (int64, its first unit, counting the key's rows from 0), ``length``
        (int64, units) and ``size`` (int64, summed weights). ``"units"``: the unmerge
        index, one row per unit and level: ``key_column``, ``level``, ``unit``,
        ``group`` (``source`` of :class:`MergeLevel`).
    window, max_size, levels, r, ratio, threshold, schedule, momentum
        As in :func:`entroseg.merge_plan`.
    checkpoint, checkpoint_every, on_checkpoint
        Exactly-once resume, as :func:`segment_stream`.

    Raises
    ------
    KeyError
        When a named column is not in the stream.
    TypeError
        When a column's type does not fit.
    InvalidParameterError
        For bad options (at once, before anything is read).

    Examples
    --------
    >>> import numpy as np, pyarrow as pa, pyarrow.compute as pc, entroseg
    >>> from entroseg.arrow import merge_stream
    >>> h = np.abs(np.sin(np.arange(200) / 9.0))
    >>> t = pa.table({"k": np.tile(["a", "b"], 100), "h": h})
    >>> opts = dict(window=8, threshold=-0.05, levels=2, block=32)
    >>> out = merge_stream(t.to_reader(max_chunksize=50), key_column="k",
    ...                    profile_column="h", **opts).read_all()
    >>> out.column_names
    ['k', 'level', 'group', 'start', 'length', 'size']
    >>> a = out.filter(pc.and_(pc.equal(out["k"], "a"), pc.equal(out["level"], 1)))
    >>> plan = entroseg.merge_plan(profile=h[0::2], **opts)
    >>> a["start"].to_numpy().tolist() == plan[1].cu_seqlens[:-1].tolist()
    True
    """
    pa = _pyarrow()
    from entroseg.merge import _plan_options

    if (vector_column is None) == (profile_column is None):
        raise ValueError("give exactly one of vector_column and profile_column")
    if output not in ("groups", "units"):
        raise ValueError(f"output must be 'groups' or 'units', got {output!r}")
    if isinstance(block, bool) or not isinstance(block, (int, np.integer)):
        raise TypeError(f"block must be an int, got {block!r}")
    similarity = "cosine" if vector_column is not None else "profile"
    planner_options: dict[str, Any] = dict(
        block=int(block), similarity=similarity, **_plan_options(schedule)
    )
    _MergePlanner(**planner_options)  # bad options fail now
    reader = open_stream(source)
    value_name = vector_column if vector_column is not None else profile_column
    assert value_name is not None
    value_index = _column_index(
        reader.schema, value_name, "vector_column" if vector_column else "profile_column"
    )
    if profile_column is not None:
        _check_value_type(reader.schema, profile_column, False)
    weight_index = (
        None
        if weight_column is None
        else _column_index(reader.schema, weight_column, "weight_column")
    )
    if weight_index is not None and not pa.types.is_integer(reader.schema.field(weight_index).type):
        raise TypeError(
            f"weight column {weight_column!r} must hold integers, got "
            f"{reader.schema.field(weight_index).type}"
        )
    key_index = (
        None if key_column is None else _column_index(reader.schema, key_column, "key_column")
    )
    if output == "groups":
        names = [("level", pa.int32()), ("group", pa.int64()), ("start", pa.int64()),
                 ("length", pa.int64()), ("size", pa.int64())]  # fmt: skip
    else:
        names = [("level", pa.int32()), ("unit", pa.int64()), ("group", pa.int64())]
    fields = [pa.field(n, t) for n, t in names]
    if key_index is not None:
        assert key_column is not None
        fields.insert(0, pa.field(key_column, _key_type(reader.schema, key_index)))
    schema = pa.schema(fields)
    router = _Router(key_index)
    fingerprint = {
        "step": "merge_stream",
        "key_column": key_column,
        "value_column": value_name,
        "similarity": similarity,
        "weight_column": weight_column,
        "output": output,
        "planner": planner_options,
    }
    resumer = _resumer(
        checkpoint, checkpoint_every, on_checkpoint, fingerprint, reader.schema, key_index
    )

    def digest_of(batch: Any) -> Any:
        column = batch.column(value_index)
        if vector_column is not None:
            data = _unit_vectors(column, vector_column).tobytes()
        else:
            data = _values(column, False, value_name).tobytes()
        if weight_index is not None:
            data += batch.column(weight_index).to_numpy(zero_copy_only=False).tobytes()
        return data

    units = output == "units"

    def to_batch(keys: list[Any], counts: list[int], columns: tuple[Any, ...]) -> Any:
        arrays = [pa.array(c, t) for c, (_, t) in zip(columns, names, strict=True)]
        if key_index is not None:
            emitted = [(k, c) for k, c in zip(keys, counts, strict=True) if c]
            arrays.insert(0, router.key_column([k for k, _ in emitted], [c for _, c in emitted]))
        return _emit(resumer, pa.RecordBatch.from_arrays(arrays, schema=schema))

    def batches() -> Iterator[Any]:
        states: dict[Any, _MergePlanner] = {}
        if resumer is not None:
            if resumer.finished:
                return
            states = resumer.restore(router, _MergePlanner.from_checkpoint)
        for batch in _inputs(reader, resumer, digest_of):
            column = batch.column(value_index)
            if vector_column is not None:
                values: npt.NDArray[Any] = _unit_vectors(column, vector_column)
            else:
                values = _values(column, False, value_name)
            weights = None
            if weight_index is not None:
                wcol = batch.column(weight_index)
                if wcol.null_count:
                    raise ValueError(f"weight column {weight_column!r} has nulls")
                weights = np.asarray(wcol.to_numpy(zero_copy_only=False), np.int64)
            # One call plans every key's rows of the batch (grouped in Rust, in stream
            # order per key) and returns the output columns of all of them.
            keys, codes = router.route(batch)
            planners: list[_MergePlanner] = []
            for key in keys:
                planner = states.get(key)
                if planner is None:
                    planner = states[key] = _MergePlanner(**planner_options)
                planners.append(planner)
            if batch.num_rows:
                if codes is None:
                    counts, columns = _merge_stream_push(
                        planners, values, [0, batch.num_rows], weights=weights, units=units
                    )
                else:
                    counts, columns = _merge_stream_push(
                        planners, values, codes=codes, weights=weights, units=units
                    )
                if sum(counts):
                    yield to_batch(keys, counts, columns)
            if resumer is not None:
                resumer.after_batch(router, states, _MergePlanner.checkpoint)
        counts, columns = _merge_stream_finish(list(states.values()), units=units)
        if sum(counts):
            yield to_batch(list(states), counts, columns)
        if resumer is not None:
            resumer.finish()

    return _reader(schema, batches())


# ---- change_point_stream ------------------------------------------------------------


def change_point_stream(
    source: Any,
    *,
    value_column: str,
    key_column: str | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    checkpoint_every: int = CHECKPOINT_EVERY,
    on_checkpoint: OnCheckpoint | None = None,
    **options: Any,
) -> pa.RecordBatchReader:
    """Regime change points of every series of an Arrow stream; a lazy reader of one row
    per change point, emitted as soon as it is confirmed.

    Each key's rows go through their own :class:`entroseg.ChangePointDetector` (options
    as there; none: the defaults of :func:`entroseg.change_points`), carried across
    batches, so per key the rows are exactly the detector's on that key's rows alone,
    whatever the batching and interleaving. Memory: ``O(window)`` per key plus a batch.

    Parameters
    ----------
    checkpoint, checkpoint_every, on_checkpoint
        Exactly-once resume, as :func:`segment_stream`.

    Returns
    -------
    pyarrow.RecordBatchReader
        Columns: ``key_column`` (when given), ``start`` (int64: the first row of the new
        regime, counted within that key's rows from 0) and ``delay`` (int64: rows of that
        key between ``start`` and the row that confirmed it).

    Raises
    ------
    KeyError, TypeError
        As :func:`segment_stream`.
    InvalidParameterError
        For bad options (at once, before anything is read).
    NonFiniteError
        When a value is null, NaN or infinite (naming the key's row).

    Examples
    --------
    >>> import numpy as np, pyarrow as pa, entroseg
    >>> from entroseg.arrow import change_point_stream
    >>> rng = np.random.default_rng(1)
    >>> a = np.concatenate([rng.standard_normal(3000), np.sin(np.arange(3000) / 2)])
    >>> t = pa.table({"id": np.repeat(["a", "b"], 6000), "x": np.concatenate([a, a[::-1]])})
    >>> out = change_point_stream(t.to_reader(max_chunksize=1000), value_column="x",
    ...                           key_column="id").read_all()
    >>> out.to_pylist()  # doctest: +NORMALIZE_WHITESPACE
    [{'id': 'a', 'start': 2999, 'delay': 2121}, {'id': 'b', 'start': 3001, 'delay': 2119}]
    """
    pa = _pyarrow()
    ChangePointDetector(**options)  # bad options fail now
    reader = open_stream(source)
    value_index = _column_index(reader.schema, value_column, "value_column")
    key_index = (
        None if key_column is None else _column_index(reader.schema, key_column, "key_column")
    )
    _check_value_type(reader.schema, value_column, False)
    fields = [pa.field("start", pa.int64()), pa.field("delay", pa.int64())]
    if key_index is not None:
        fields.insert(0, pa.field(key_column, _key_type(reader.schema, key_index)))
    schema = pa.schema(fields)
    router = _Router(key_index)
    fingerprint = {
        "step": "change_point_stream",
        "value_column": value_column,
        "key_column": key_column,
        "options": options,
    }
    resumer = _resumer(
        checkpoint, checkpoint_every, on_checkpoint, fingerprint, reader.schema, key_index
    )

    def digest_of(batch: Any) -> Any:
        return _values(batch.column(value_index), False, value_column).data

    def to_batch(parts: list[tuple[Any, Any]]) -> Any:
        columns = [
            pa.array(np.concatenate([p[1].start for p in parts]), pa.int64()),
            pa.array(np.concatenate([p[1].delay for p in parts]), pa.int64()),
        ]
        if key_column is not None:
            columns.insert(
                0, router.key_column([k for k, _ in parts], [len(p.start) for _, p in parts])
            )
        return _emit(resumer, pa.RecordBatch.from_arrays(columns, schema=schema))

    def batches() -> Iterator[Any]:
        states: dict[Any, ChangePointDetector] = {}
        if resumer is not None:
            if resumer.finished:
                return
            states = resumer.restore(router, ChangePointDetector.from_checkpoint)
        for batch in _inputs(reader, resumer, digest_of):
            values = _values(batch.column(value_index), False, value_column)
            found = []
            for key, rows in router.split(batch):
                det = states.get(key)
                if det is None:
                    det = states[key] = ChangePointDetector(**options)
                out = det.push(values[rows])
                if len(out.start):
                    found.append((key, out))
            if found:
                yield to_batch(found)
            if resumer is not None:
                resumer.after_batch(router, states, ChangePointDetector.checkpoint)
        last = [(key, det.finish()) for key, det in states.items()]
        last = [(k, out) for k, out in last if len(out.start)]
        if last:
            yield to_batch(last)
        if resumer is not None:
            resumer.finish()

    return _reader(schema, batches())


def segment_batches(
    source: Any,
    *,
    value_column: str,
    threads: int | None = None,
    spec: SegmentSpec | None = None,
    **options: Unpack[SegmentOptions],
) -> pa.RecordBatchReader:
    """Segment each record batch of whole series as one batch: a lazy reader of the
    input batches with their segments added.

    For training data whose rows are whole series (``value_column`` a list, large-list
    or fixed-size-list column, one series per row), each input batch is cut by
    :func:`entroseg.segment_batch` over its rows (series on ``threads`` threads, GIL
    released). So ``budget=N`` is one token budget *per batch*, shared by its series
    (``budget_by="error"`` spreads it by reconstruction error), as a training loop with
    a fixed compute budget per step wants; ``target_len`` is calibrated per series.
    Unlike :func:`segment_stream`, nothing is carried between batches: a series must
    lie within one row. Memory is one batch.

    Returns
    -------
    pyarrow.RecordBatchReader
        The input columns, plus ``segment_lengths`` (list of int64: the series' segment
        lengths, in order; ``pyarrow.compute.list_value_length`` gives the tokens per
        series) and ``segment_reasons`` (list of uint8, :data:`entroseg.REASONS`
        codes). Row for row equal to ``entroseg.segment_batch`` over the batch's series.

    Raises
    ------
    KeyError
        When ``value_column`` is not in the stream.
    TypeError
        When ``value_column`` is not a list column.
    InvalidParameterError
        For bad options (at once, before anything is read).

    Examples
    --------
    >>> import numpy as np, pyarrow as pa, pyarrow.compute as pc, entroseg
    >>> from entroseg.arrow import segment_batches
    >>> rng = np.random.default_rng(0)
    >>> rows = [np.sin(np.arange(400) / 20.0), rng.standard_normal(400), np.zeros(200)]
    >>> table = pa.table({"id": [1, 2, 3], "x": [r.tolist() for r in rows]})
    >>> out = segment_batches(table.to_reader(max_chunksize=3), value_column="x",
    ...                       budget=60, budget_by="error").read_all()
    >>> tokens = pc.list_value_length(out["segment_lengths"]).to_pylist()
    >>> sum(tokens), tokens[2]
    (60, 1)
    """
    pa = _pyarrow()
    built = build_spec(options, streaming=False, spec=spec)
    reader = open_stream(source)
    index = _column_index(reader.schema, value_column, "value_column")
    value_type = reader.schema.field(index).type
    if not (
        pa.types.is_list(value_type)
        or pa.types.is_large_list(value_type)
        or pa.types.is_fixed_size_list(value_type)
    ):
        raise TypeError(
            f"segment_batches takes one series per row: column {value_column!r} must be a "
            f"list column, got {value_type}; for rows of scalar values with a key, use "
            "segment_stream"
        )
    fields = [
        pa.field("segment_lengths", pa.list_(pa.int64())),
        pa.field("segment_reasons", pa.list_(pa.uint8())),
    ]
    for f in fields:
        if f.name in reader.schema.names:
            raise ValueError(f"output column {f.name!r} is already in the stream")
    schema = pa.schema([*reader.schema, *fields])

    def batches() -> Iterator[Any]:
        for batch in reader:
            yield segments_of_rows(batch, value_column, threads=threads, spec=built)

    return _reader(schema, batches())


def segments_of_rows(
    batch: Any, value_column: str, *, threads: int | None, spec: SegmentSpec
) -> Any:
    """``batch`` (a record batch or table whose ``value_column`` holds one series per
    row) with ``segment_lengths`` and ``segment_reasons`` appended: the segments of
    :func:`entroseg.segment_batch` over its rows (one call, so a ``budget`` is shared by
    the batch)."""
    pa = _pyarrow()
    column = batch.column(value_column)
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_fixed_size_list(column.type) or pa.types.is_large_list(column.type):
        column = column.cast(pa.list_(column.type.value_type))
    offsets = np.asarray(column.offsets.to_numpy(), dtype=np.int64)
    flat = column.values.to_numpy(zero_copy_only=False)
    base = offsets[0]
    seg = segment_batch(flat[base : offsets[-1]], offsets - base, threads=threads, spec=spec)
    series_offsets = pa.array(seg.series_offsets, pa.int32())
    lengths = pa.ListArray.from_arrays(series_offsets, pa.array(seg.lengths, pa.int64()))
    reasons = pa.ListArray.from_arrays(series_offsets, pa.array(seg.reasons, pa.uint8()))
    return batch.append_column("segment_lengths", lengths).append_column("segment_reasons", reasons)


def boundary_probs_table(
    source: Any,
    *,
    value_column: str,
    key_column: str | None = None,
    output_column: str = "boundary_prob",
    temperature: float | None = None,
    ratio: float | None = None,
    spec: SegmentSpec | None = None,
    **options: Unpack[SegmentOptions],
) -> pa.Table:
    """The rows of ``source`` with a column of boundary probabilities: each key's rows
    (in their order, wherever they sit in the stream) as :func:`entroseg.boundary_probs`
    of that key's series alone.

    Not a streaming step: the probabilities of a key depend on its whole series (the
    temperature is calibrated over it), so the stream is read whole and a ``Table``
    returned. Values as in :func:`segment_stream`: a null value counts as NaN
    (``nan_policy`` decides), integer columns are symbols and cannot hold nulls; a null
    key is a key of its own. The output column is Float64, null where the numpy
    function gives NaN.

    Examples
    --------
    >>> import numpy as np, pyarrow as pa, entroseg
    >>> from entroseg.arrow import boundary_probs_table
    >>> x, _ = entroseg.sample_series(500)
    >>> table = pa.table({"device": np.repeat(["a", "b"], 1000), "x": x})
    >>> out = boundary_probs_table(table, value_column="x", key_column="device",
    ...                            order=3, window=32, target_len=50)
    >>> p = out.column("boundary_prob").to_numpy(zero_copy_only=False)
    >>> np.array_equal(p[1000:], entroseg.boundary_probs(x[1000:], order=3, window=32,
    ...                                                   target_len=50), equal_nan=True)
    True
    """
    from entroseg.soft import boundary_probs, check_soft_options

    pa = _pyarrow()
    check_soft_options(temperature, ratio)
    if spec is None:
        build_spec(options, streaming=False)  # bad options fail before the stream is read
    table = open_stream(source).read_all()
    if output_column in table.column_names:
        raise ValueError(f"output column {output_column!r} is already in the stream")
    column = table.column(value_column).combine_chunks()
    symbols = pa.types.is_integer(column.type)
    _check_value_type(table.schema, value_column, takes_symbols=symbols)
    values = _values(column, symbols, value_column)
    n = len(values)
    out = np.full(n, np.nan)
    if key_column is None:
        groups: list[npt.NDArray[np.intp]] = [np.arange(n)]
    else:
        keys = table.column(key_column)
        if pa.types.is_dictionary(keys.type):
            # Batches may carry dictionaries of their own: decode, then encode once.
            keys = keys.cast(keys.type.value_type)
        keys = keys.combine_chunks().dictionary_encode(null_encoding="encode")
        codes = np.asarray(keys.indices.fill_null(-1).to_numpy(zero_copy_only=False))
        order = np.argsort(codes, kind="stable")
        cuts = np.flatnonzero(np.diff(codes[order])) + 1
        groups = np.split(order, cuts) if n else []
    for rows in groups:
        out[rows] = boundary_probs(
            values[rows], temperature=temperature, ratio=ratio, spec=spec, **options
        )
    probs = pa.array(out, pa.float64(), mask=np.isnan(out))
    return table.append_column(output_column, probs)
