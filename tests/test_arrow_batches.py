"""entroseg.arrow.segment_batches: each record batch of whole series (one per row) is one
segment_batch call, so a budget is shared per batch."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import entroseg
import numpy as np
import pytest
from entroseg import InvalidParameterError
from entroseg.arrow import segment_batches
from hypothesis import given, settings
from hypothesis import strategies as st

pa = pytest.importorskip("pyarrow")
pc = pytest.importorskip("pyarrow.compute")


def series_rows(seed: int, count: int) -> list[np.ndarray]:
    """Series of mixed kinds and lengths (some short, one empty)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(count):
        n = int(rng.integers(0, 600)) if i % 5 else int(rng.integers(40, 900))
        kind = i % 3
        if kind == 0:
            rows.append(np.sin(np.arange(n) / rng.uniform(5, 40)))
        elif kind == 1:
            rows.append(rng.standard_normal(n))
        else:
            rows.append(np.cumsum(rng.standard_normal(n)))
    return rows


def expected(rows: list[np.ndarray], **options: Any) -> entroseg.Segments:
    offsets = np.concatenate([[0], np.cumsum([len(r) for r in rows])]).astype(np.int64)
    values = np.concatenate(rows) if rows else np.zeros(0)
    return entroseg.segment_batch(values, offsets, **options)


@pytest.mark.filterwarnings("ignore:budget=.* missed:UserWarning")
@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    count=st.integers(1, 12),
    chunk=st.integers(1, 6),
    by=st.sampled_from(["information", "error"]),
    layout=st.sampled_from(["list", "large_list"]),
)
def test_each_batch_is_one_segment_batch_call(
    seed: int, count: int, chunk: int, by: str, layout: str
) -> None:
    rows = series_rows(seed, count)
    typ = pa.list_(pa.float64()) if layout == "list" else pa.large_list(pa.float64())
    table = pa.table({"id": np.arange(count), "x": pa.array([r.tolist() for r in rows], typ)})
    opts: dict[str, Any] = dict(budget=max(1, sum(len(r) for r in rows) // 25), max_len=64)
    if by == "error":
        opts["budget_by"] = "error"
    out = segment_batches(table.to_reader(max_chunksize=chunk), value_column="x", **opts)
    got = list(out)
    assert out.schema.names == ["id", "x", "segment_lengths", "segment_reasons"]
    for b, start in enumerate(range(0, count, chunk)):
        part = rows[start : start + chunk]
        want = expected(part, **opts) if sum(len(r) for r in part) else None
        batch = got[b]
        assert batch.column("id").to_pylist() == list(range(start, start + len(part)))
        lengths = batch.column("segment_lengths").to_pylist()
        reasons = batch.column("segment_reasons").to_pylist()
        for i, r in enumerate(part):
            assert sum(lengths[i]) == len(r)
            assert all(n <= 64 for n in lengths[i])
            if want is not None:
                s = want.series(i)
                assert lengths[i] == s.lengths.tolist()
                assert reasons[i] == s.reasons.tolist()


def test_the_budget_is_per_batch_and_met() -> None:
    rows = series_rows(7, 12)
    table = pa.table({"x": [r.tolist() for r in rows]})
    for by in ("information", "error"):
        out = segment_batches(
            table.to_reader(max_chunksize=4), value_column="x", budget=90, budget_by=by
        )
        for batch in out:
            tokens = pc.sum(pc.list_value_length(batch.column("segment_lengths"))).as_py()
            assert abs(tokens - 90) <= 0.02 * 90, (by, tokens)


def test_fixed_size_lists_and_target_len() -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((6, 256))
    column = pa.FixedSizeListArray.from_arrays(pa.array(x.ravel()), 256)
    table = pa.table({"x": column})
    out = segment_batches(table, value_column="x", target_len=16.0).read_all()
    want = expected(list(x), target_len=16.0)
    lengths = out.column("segment_lengths").to_pylist()
    assert [sum(v) for v in lengths] == [256] * 6
    assert np.concatenate(lengths).tolist() == want.lengths.tolist()


def test_bad_input_is_refused_before_reading() -> None:
    def never() -> Iterator[Any]:
        raise AssertionError("read")
        yield  # pragma: no cover

    schema = pa.schema([("x", pa.list_(pa.float64())), ("v", pa.float64())])
    reader = pa.RecordBatchReader.from_batches(schema, never())
    with pytest.raises(InvalidParameterError, match="budget must be >= 1, got 0"):
        segment_batches(reader, value_column="x", budget=0)
    reader = pa.RecordBatchReader.from_batches(schema, never())
    with pytest.raises(TypeError, match="'v' must be a list column, got double"):
        segment_batches(reader, value_column="v", max_len=8)
    reader = pa.RecordBatchReader.from_batches(schema, never())
    with pytest.raises(KeyError, match="nope"):
        segment_batches(reader, value_column="nope", max_len=8)
    taken = pa.table({"x": [[1.0, 2.0]], "segment_lengths": [1]})
    with pytest.raises(ValueError, match="'segment_lengths' is already in the stream"):
        segment_batches(taken, value_column="x", max_len=8)


def test_nan_follows_nan_policy() -> None:
    table = pa.table({"x": [[0.1, None, 0.3, 0.2]]})
    with pytest.raises(ValueError, match="index 1"):
        segment_batches(table, value_column="x", method="scores", threshold=0.15).read_all()
