"""The Arrow stream steps: per-key streaming state across batches equals the one-shot
functions on each key's rows, for any batching and any interleaving of keys."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import entroseg
import entroseg.arrow
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from entroseg.arrow import change_point_stream, open_stream, profile_stream, segment_stream
from hypothesis import given, settings
from hypothesis import strategies as st

#: These tests check other things on short series; the target-miss warning itself is
#: tested in test_calibration.py and test_surfaces_agree.py.
pytestmark = pytest.mark.filterwarnings("ignore:target_len=.* missed:UserWarning")


@pytest.fixture(autouse=True)
def _restore_route() -> Iterator[None]:
    saved = entroseg.arrow.RUN_PATH_MIN_MEAN_RUN
    yield
    entroseg.arrow.RUN_PATH_MIN_MEAN_RUN = saved


SEG = dict(order=3, window=16, target_len=12.0, calibration="online", min_len=2, max_len=40)


def _rows_of(table: pa.Table, key_column: str, key: Any) -> pa.Table:
    return table.filter(pc.equal(table[key_column], pa.scalar(key, table[key_column].type)))


def _batches(table: pa.Table, cuts: list[int]) -> pa.RecordBatchReader:
    """The table as a stream cut at the given row offsets (empty batches included)."""
    bounds = [0, *sorted(cuts), table.num_rows]
    batches = [
        table.slice(a, b - a).combine_chunks().to_batches()[0]
        if b > a
        else pa.RecordBatch.from_pylist([], schema=table.schema)
        for a, b in itertools.pairwise(bounds)
    ]
    return pa.RecordBatchReader.from_batches(table.schema, iter(batches))


def _interleaved(series: dict[str, np.ndarray], order: list[str]) -> pa.Table:
    """Rows of the series interleaved in ``order`` (a sequence of keys; each key's own
    rows keep their order)."""
    pos = dict.fromkeys(series, 0)
    keys, values = [], []
    for k in order:
        keys.append(k)
        values.append(series[k][pos[k]])
        pos[k] += 1
    return pa.table({"device": pa.array(keys, pa.string()), "x": pa.array(values, pa.float64())})


def _expected_segments(series: dict[str, np.ndarray], **opts: Any) -> dict[str, entroseg.Segments]:
    return {k: entroseg.segment(v, **opts) for k, v in series.items()}


def _check_segments(out: pa.Table, expected: dict[str, entroseg.Segments]) -> None:
    assert out.column_names == ["device", "start", "length", "reason"]
    for k, seg in expected.items():
        got = _rows_of(out, "device", k)
        assert got["start"].to_numpy().tolist() == seg.starts.tolist()
        assert got["length"].to_numpy().tolist() == seg.lengths.tolist()
        assert got["reason"].to_pylist() == seg.reason_names
    assert set(out["device"].to_pylist()) == set(expected)


@st.composite
def _streams(draw: Any) -> tuple[dict[str, np.ndarray], list[str], list[int]]:
    n_keys = draw(st.integers(1, 4))
    lengths = [draw(st.integers(1, 150)) for _ in range(n_keys)]
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    series = {f"k{i}": rng.standard_normal(n).cumsum() for i, n in enumerate(lengths)}
    order = [k for k, n in zip(series, lengths, strict=True) for _ in range(n)]
    order = list(np.array(order)[rng.permutation(len(order))]) if draw(st.booleans()) else order
    total = len(order)
    cuts = draw(st.lists(st.integers(0, total), max_size=8))
    return series, [str(k) for k in order], cuts


# Both ways of splitting a batch by key: run by run (long runs) and grouped (interleaved).
ROUTES = [1, 10**9]


def _routed(
    stream: tuple[dict[str, np.ndarray], list[str], list[int]], route: int
) -> tuple[dict[str, np.ndarray], pa.Table, pa.RecordBatchReader]:
    """The drawn stream's series, its interleaved table and that table cut into batches;
    ``route`` picks how batches are split by key."""
    series, order, cuts = stream
    table = _interleaved(series, order)
    entroseg.arrow.RUN_PATH_MIN_MEAN_RUN = route
    return series, table, _batches(table, cuts)


@settings(deadline=None, max_examples=60)
@given(_streams(), st.sampled_from(ROUTES))
def test_segment_stream_equals_one_shot_per_key_for_any_batching(
    stream: tuple[dict[str, np.ndarray], list[str], list[int]], route: int
) -> None:
    series, _, batches = _routed(stream, route)
    out = segment_stream(batches, value_column="x", key_column="device", **SEG)
    _check_segments(out.read_all(), _expected_segments(series, **SEG))


@settings(deadline=None, max_examples=40)
@given(_streams(), st.sampled_from(ROUTES))
def test_profile_stream_equals_numpy_per_key_for_any_batching(
    stream: tuple[dict[str, np.ndarray], list[str], list[int]], route: int
) -> None:
    series, table, batches = _routed(stream, route)
    out = profile_stream(
        batches, value_column="x", key_column="device", order=3, window=8
    ).read_all()
    # The input columns come back unchanged, in order.
    assert out.select(["device", "x"]).equals(table)
    for k, v in series.items():
        got = _rows_of(out, "device", k)["profile"]
        want = entroseg.permutation_entropy(v, order=3, window=8)
        # Null exactly where numpy gives NaN; equal values elsewhere.
        assert got.is_null().to_numpy(zero_copy_only=False).tolist() == np.isnan(want).tolist()
        assert np.array_equal(got.to_numpy(zero_copy_only=False), want, equal_nan=True)


CPD = dict(order=3, delays=(1, 2), window=100, lag=30, step=10, min_size=10)


@st.composite
def _regime_streams(draw: Any) -> tuple[dict[str, np.ndarray], list[str], list[int]]:
    """1-3 keys of 100-600 rows of alternating noise and oscillation, interleaved or
    not, with batch cuts."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    series = {}
    for i in range(draw(st.integers(1, 3))):
        parts = [
            rng.standard_normal(m) if r % 2 == 0 else np.sin(np.arange(m) / 1.5)
            for r, m in enumerate(rng.integers(40, 150, size=draw(st.integers(1, 5))))
        ]
        series[f"k{i}"] = np.concatenate(parts)
    order = [k for k, v in series.items() for _ in range(len(v))]
    if draw(st.booleans()):
        order = [str(k) for k in np.array(order)[rng.permutation(len(order))]]
    cuts = draw(st.lists(st.integers(0, len(order)), max_size=8))
    return series, order, cuts


@settings(deadline=None, max_examples=40)
@given(_regime_streams(), st.sampled_from(ROUTES), st.booleans())
def test_change_point_stream_equals_a_detector_per_key_for_any_batching(
    stream: tuple[dict[str, np.ndarray], list[str], list[int]], route: int, defaults: bool
) -> None:
    series, _, batches = _routed(stream, route)
    opts: dict[str, Any] = {} if defaults else CPD
    out = change_point_stream(batches, value_column="x", key_column="device", **opts).read_all()
    assert out.column_names == ["device", "start", "delay"]
    for k, v in series.items():
        det = entroseg.ChangePointDetector(**opts)
        found = [det.push(v), det.finish()]
        got = _rows_of(out, "device", k)
        assert got["start"].to_pylist() == [int(i) for f in found for i in f.start]
        assert got["delay"].to_pylist() == [int(i) for f in found for i in f.delay]
        if defaults:  # short series: the offline default, found at the end
            assert got["start"].to_pylist() == entroseg.change_points(v)[:-1].tolist()


def test_change_point_stream_errors() -> None:
    t = pa.table({"x": [1.0, 2.0, None, 4.0], "s": ["a", "b", "c", "d"]})
    with pytest.raises(KeyError, match="value_column 'y'"):
        change_point_stream(t, value_column="y")
    with pytest.raises(TypeError, match="must be numeric"):
        change_point_stream(t, value_column="s")
    with pytest.raises(entroseg.InvalidParameterError, match="lag must be < window"):
        change_point_stream(t, value_column="x", window=100, lag=200)
    with pytest.raises(entroseg.NonFiniteError, match="sample 2"):
        change_point_stream(t, value_column="x").read_all()


def test_no_key_is_one_series_and_sources_of_every_kind() -> None:
    x, _ = entroseg.sample_series(600)
    want = entroseg.segment(x, **SEG)
    table = pa.table({"x": x})
    import polars as pl

    sources = [
        table,  # Table: __arrow_c_stream__
        table.to_reader(max_chunksize=333),  # RecordBatchReader
        pl.DataFrame({"x": x}),  # polars exports a stream too
    ]
    for source in sources:
        out = segment_stream(source, value_column="x", **SEG).read_all()
        assert out.column_names == ["start", "length", "reason"]
        assert out["start"].to_numpy().tolist() == want.starts.tolist()
        assert out["length"].to_numpy().tolist() == want.lengths.tolist()


def test_parquet_file_is_read_batch_by_batch(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    keys = rng.integers(0, 5, 5000)
    x = rng.standard_normal(5000)
    path = tmp_path / "data.parquet"
    pq.write_table(pa.table({"g": keys, "x": x}), path, row_group_size=700)
    reader = open_stream(path, batch_size=250)
    assert reader.read_next_batch().num_rows == 250  # lazily, one batch at a time
    out = segment_stream(path, value_column="x", key_column="g", **SEG).read_all()
    assert out.schema.field("g").type == pa.int64()
    for g in range(5):
        seg = entroseg.segment(x[keys == g], **SEG)
        assert _rows_of(out, "g", g)["start"].to_numpy().tolist() == seg.starts.tolist()


def test_arrow_ipc_and_csv_files(tmp_path: Path) -> None:
    x = np.sin(np.arange(3000) / 7.0) + np.random.default_rng(1).standard_normal(3000) * 0.1
    table = pa.table({"x": x})
    ipc = tmp_path / "data.arrow"
    with pa.ipc.new_file(ipc, table.schema) as w:
        for b in table.to_batches(max_chunksize=500):
            w.write_batch(b)
    csv = tmp_path / "data.csv"
    import pyarrow.csv as pcsv

    pcsv.write_csv(table, csv)
    want = entroseg.segment(x, **SEG)
    for path in (ipc, csv):
        out = segment_stream(path, value_column="x", **SEG).read_all()
        assert out["start"].to_numpy().tolist() == want.starts.tolist(), path


def test_the_input_is_never_collected() -> None:
    """The step pulls one batch at a time: after reading k output batches, the producer
    has yielded only a few more input batches than that."""
    produced = []

    def gen() -> Iterator[pa.RecordBatch]:
        rng = np.random.default_rng(0)
        for i in range(1000):
            produced.append(i)
            yield pa.RecordBatch.from_pydict({"x": rng.standard_normal(100)})

    schema = pa.schema([("x", pa.float64())])
    out = profile_stream(
        pa.RecordBatchReader.from_batches(schema, gen()), value_column="x", window=8
    )
    assert produced == []  # lazy: nothing read before the result is
    for _ in range(3):
        out.read_next_batch()
    assert len(produced) <= 4


class ProducerFailure(RuntimeError):
    pass


def test_an_exception_in_the_producer_propagates_unchanged() -> None:
    def gen() -> Iterator[pa.RecordBatch]:
        yield pa.RecordBatch.from_pydict({"x": np.arange(50.0)})
        raise ProducerFailure("sensor 7 went away")

    schema = pa.schema([("x", pa.float64())])
    for step in (segment_stream, profile_stream):
        reader = pa.RecordBatchReader.from_batches(schema, gen())
        kwargs: dict[str, Any] = SEG if step is segment_stream else {"window": 8}
        with pytest.raises(ProducerFailure, match="sensor 7 went away"):
            step(reader, value_column="x", **kwargs).read_all()

    class OnlyCStream:
        """A producer known only by its Arrow C stream (as from another library)."""

        def __init__(self, reader: pa.RecordBatchReader) -> None:
            self.reader = reader

        def __arrow_c_stream__(self, requested_schema: object = None) -> object:
            return self.reader.__arrow_c_stream__(requested_schema)

    wrapped = OnlyCStream(pa.RecordBatchReader.from_batches(schema, gen()))
    with pytest.raises(pa.ArrowInvalid, match="sensor 7 went away"):
        profile_stream(wrapped, value_column="x", window=8).read_all()


def test_symbol_methods_stream_per_key() -> None:
    rng = np.random.default_rng(3)
    keys = rng.integers(0, 3, 3000)
    syms = rng.integers(0, 4, 3000).astype(np.uint8)
    table = pa.table({"k": keys, "s": syms})
    opts = dict(method="conditional", window=32, context=1, alphabet_size=4, threshold=0.9)
    out = segment_stream(table.to_reader(max_chunksize=128), value_column="s", key_column="k",
                         **opts).read_all()  # fmt: skip
    prof = profile_stream(table.to_reader(max_chunksize=100), value_column="s", key_column="k",
                          method="next_symbol", alphabet_size=4, context=2, statistic="surprisal",
                          ).read_all()  # fmt: skip
    for k in range(3):
        mine = syms[keys == k]
        seg = entroseg.segment(mine, **opts)
        assert _rows_of(out, "k", k)["start"].to_numpy().tolist() == seg.starts.tolist()
        _, q = entroseg.next_symbol_entropy(mine, context=2, alphabet_size=4)
        got = _rows_of(prof, "k", k)["profile"].to_numpy(zero_copy_only=False)
        assert np.array_equal(got, q)


@pytest.mark.parametrize("route", ROUTES)
def test_nulls_count_as_nan_and_null_keys_are_a_series(route: int) -> None:
    entroseg.arrow.RUN_PATH_MIN_MEAN_RUN = route
    x = np.random.default_rng(2).standard_normal(200)
    values = pa.array([None if i % 37 == 5 else v for i, v in enumerate(x)], pa.float64())
    # Runs of 3 rows: adjacent nulls are one key, a null beside a value is a change.
    keys = pa.array([None if (i // 3) % 2 else "a" for i in range(200)], pa.string())
    table = pa.table({"key": keys, "x": values})
    with pytest.raises(entroseg.NonFiniteError):
        profile_stream(table, value_column="x", key_column="key", window=8).read_all()
    out = profile_stream(
        table, value_column="x", key_column="key", window=8, nan_policy="propagate"
    ).read_all()
    with_nan = np.where(values.is_null().to_numpy(zero_copy_only=False), np.nan, x)
    for k in ("a", None):
        rows = np.array([(k is None) == bool((i // 3) % 2) for i in range(200)])
        want = entroseg.permutation_entropy(with_nan[rows], window=8, nan_policy="propagate")
        got = out.filter(pa.array(rows))["profile"].to_numpy(zero_copy_only=False)
        assert np.array_equal(got, want, equal_nan=True)
    sym = pa.table({"s": pa.array([1, None, 2], pa.int64())})
    with pytest.raises(ValueError, match="symbols cannot be missing"):
        profile_stream(sym, value_column="s", method="conditional", window=3,
                       alphabet_size=3).read_all()  # fmt: skip


@pytest.mark.parametrize("route", ROUTES)
def test_dictionary_keys_are_decoded(route: int) -> None:
    entroseg.arrow.RUN_PATH_MIN_MEAN_RUN = route
    x = np.random.default_rng(4).standard_normal(400)
    keys = pa.array(["a", "b"] * 200).dictionary_encode()
    out = segment_stream(pa.table({"k": keys, "x": x}), value_column="x", key_column="k",
                         **SEG).read_all()  # fmt: skip
    assert out.schema.field("k").type == pa.string()
    seg = entroseg.segment(x[1::2], **SEG)
    assert _rows_of(out, "k", "b")["length"].to_numpy().tolist() == seg.lengths.tolist()


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"value_column": "nope"}, KeyError, "value_column 'nope' is not in the stream"),
        ({"value_column": "x", "key_column": "nope"}, KeyError, "key_column 'nope'"),
        ({"value_column": "name"}, TypeError, "must be numeric"),
        ({"value_column": "x", "method": "conditional", "alphabet_size": 4}, TypeError,
         "integer symbols"),
        ({"value_column": "x", "window": 1}, entroseg.InvalidParameterError, "window"),
        ({"value_column": "x", "threshold": None, "target_len": 8.0, "calibration": "batch"},
         entroseg.InvalidParameterError, "calibration='online'"),
    ],
)  # fmt: skip
def test_bad_schema_and_options_give_clear_errors(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    table = pa.table({"x": [1.0, 2.0, 3.0], "name": ["a", "b", "c"]})
    opts = {"order": 3, "window": 8, "threshold": 0.5, **kwargs}
    with pytest.raises(error, match=message):
        segment_stream(table, **opts)


def test_profile_stream_errors() -> None:
    table = pa.table({"x": [1.0, 2.0, 3.0], "profile": [0.0, 0.0, 0.0]})
    with pytest.raises(ValueError, match="profile_column 'profile' is already a column"):
        profile_stream(table, value_column="x", window=3)
    with pytest.raises(entroseg.InvalidParameterError, match="needs window"):
        profile_stream(table, value_column="x", profile_column="pe", method="permutation")
    with pytest.raises(entroseg.InvalidParameterError, match="no profile apart from its cuts"):
        profile_stream(table, value_column="x", profile_column="pe")
    with pytest.raises(TypeError, match="must export an Arrow stream"):
        profile_stream([1.0, 2.0], value_column="x", window=3)
    with pytest.raises(FileNotFoundError):
        profile_stream("/no/such/file.parquet", value_column="x", window=3)
