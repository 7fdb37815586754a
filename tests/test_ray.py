"""Ray integration on a local Ray cluster started (and shut down) here: results equal the
single-process ones exactly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import entroseg
import numpy as np
import pytest

ray = pytest.importorskip("ray")
pa = pytest.importorskip("pyarrow")
from entroseg.ray import segment_dataset, training_batches  # noqa: E402

#: These tests check other things on short series; the target-miss warning itself is
#: tested in test_calibration.py and test_surfaces_agree.py.
pytestmark = pytest.mark.filterwarnings("ignore:target_len=.* missed:UserWarning")


def _start_cluster() -> None:
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
        ignore_reinit_error=True,
    )
    ray.data.DataContext.get_current().enable_progress_bars = False


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    _start_cluster()
    try:
        yield
    finally:
        ray.shutdown()


@pytest.fixture
def fresh_cluster(cluster: None) -> Iterator[None]:
    """A cluster of its own for one test: an actor restarted mid-stream must be scheduled
    again, and the actors and Ray Data pools that earlier tests leave behind (released
    asynchronously) may still hold every CPU slot, which made the restart wait for ever
    when the module ran whole."""
    ray.shutdown()
    _start_cluster()
    try:
        yield
    finally:
        ray.shutdown()
        _start_cluster()


def interleaved(seed: int, keys: list[object], n: int) -> tuple[pa.Table, dict[object, np.ndarray]]:
    rng = np.random.default_rng(seed)
    owner = rng.choice(len(keys), size=n)
    x = np.cumsum(rng.standard_normal(n))
    table = pa.table({"device": [keys[i] for i in owner], "value": x})
    per_key = {k: x[owner == i] for i, k in enumerate(keys)}
    return table, per_key


def test_segment_dataset_equals_segment_per_key(cluster: None) -> None:
    keys: list[object] = ["a", "b", "kk", "c"]
    table, per_key = interleaved(0, keys, 20_000)
    opts = {"order": 3, "window": 32, "target_len": 12, "calibration": "online", "max_len": 48}
    ds = ray.data.from_arrow(table).repartition(7)  # several blocks: state crosses batches
    out = pa.concat_tables(
        segment_dataset(
            ds, value_column="value", key_column="device", num_actors=3, batch_size=1000, **opts
        )
    )
    for key, x in per_key.items():
        rows = out.filter(pa.compute.equal(out["device"], key))
        want = entroseg.segment(x, **opts)
        assert rows["start"].to_pylist() == want.starts.tolist()
        assert rows["length"].to_pylist() == want.lengths.tolist()
        assert rows["reason"].to_pylist() == want.reason_names


def test_segment_dataset_takes_channels_per_key(cluster: None) -> None:
    rng = np.random.default_rng(4)
    n = 9000
    owner = rng.choice(2, size=n)
    x = np.cumsum(rng.standard_normal((n, 2)), axis=0)
    table = pa.table({"device": owner, "a": x[:, 0], "b": x[:, 1]})
    opts = {"threshold": 3.0, "max_len": 64, "channels": "max"}
    ds = ray.data.from_arrow(table).repartition(3)
    out = pa.concat_tables(
        segment_dataset(ds, value_column=["a", "b"], key_column="device", batch_size=1000, **opts)
    )
    for key in (0, 1):
        rows = out.filter(pa.compute.equal(out["device"], key))
        want = entroseg.segment(x[owner == key], **opts)  # type: ignore[arg-type]
        assert rows["start"].to_pylist() == want.starts.tolist()
    with pytest.raises(ValueError, match="several value columns have no single one"):
        next(
            segment_dataset(
                ds,
                value_column=["a", "b"],
                key_column="device",
                merge={"ratio": 0.5, "block": 64},
                **opts,
            )
        )


def test_segment_dataset_plans_merges_per_key(cluster: None) -> None:
    keys: list[object] = ["a", "b", "c"]
    table, per_key = interleaved(4, keys, 6_000)
    opts = {"order": 3, "window": 16, "threshold": 0.9, "min_len": 2, "max_len": 40}
    merge = {"block": 16, "ratio": 0.5, "levels": 2, "window": 8}
    ds = ray.data.from_arrow(table).repartition(5)
    out = pa.concat_tables(
        segment_dataset(
            ds,
            value_column="value",
            key_column="device",
            num_actors=2,
            batch_size=700,
            merge=merge,
            **opts,
        )
    )
    assert out.column_names == ["device", "start", "length", "reason", "group_0", "group_1"]
    for key, x in per_key.items():
        rows = out.filter(pa.compute.equal(out["device"], key))
        seg = entroseg.segment(x, **opts)
        plan = entroseg.merge_plan(seg, profile=x, weights=seg.lengths, **merge)
        assert rows["start"].to_pylist() == seg.starts.tolist()
        assert rows["group_1"].to_pylist() == plan[1].source.tolist()


def test_segment_dataset_errors(cluster: None) -> None:
    table, _ = interleaved(1, [1, 2], 100)
    ds = ray.data.from_arrow(table)
    with pytest.raises(KeyError, match="'nope'"):
        list(segment_dataset(ds, value_column="nope", key_column="device", window=8, threshold=1))
    with pytest.raises(ValueError, match="num_actors must be >= 1, got 0"):
        list(segment_dataset(ds, value_column="value", key_column="device", num_actors=0,
                             window=8, threshold=1))  # fmt: skip
    with pytest.raises(ValueError, match=r"max_restarts must be >= 0 \(or -1: unlimited\), got -2"):
        list(segment_dataset(ds, value_column="value", key_column="device", max_restarts=-2,
                             window=8, threshold=1))  # fmt: skip
    with pytest.raises(entroseg.InvalidParameterError, match="checkpoint_every must be an int"):
        list(segment_dataset(ds, value_column="value", key_column="device", checkpoint_every=0,
                             window=8, threshold=1))  # fmt: skip
    with pytest.raises(entroseg.InvalidParameterError, match="give window"):
        list(segment_dataset(ds, value_column="value", key_column="device",
                             method="permutation", threshold=1))  # fmt: skip


def _batches_equal_segment_batch(
    series: list[np.ndarray], batch_size: int, **opts: Any
) -> list[entroseg.Segments]:
    """The segments of every training batch, each checked against segment_batch over the
    same rows."""
    ds = ray.data.from_arrow(
        pa.table({"x": [s.tolist() for s in series], "id": range(len(series))})
    )
    seen, out = 0, []
    for batch in training_batches(ds, value_column="x", batch_size=batch_size, **opts):
        ids = batch.rows["id"].to_pylist()
        flat = np.concatenate([series[i] for i in ids])
        offsets = np.concatenate([[0], np.cumsum([len(series[i]) for i in ids])])
        assert batch.segments == entroseg.segment_batch(flat, offsets, **opts)
        assert np.array_equal(batch.values, flat)
        assert batch.segments.cu_seqlens[-1] == len(flat)
        seen += len(ids)
        out.append(batch.segments)
    assert seen == len(series)
    return out


def test_training_batches_equal_segment_batch(cluster: None) -> None:
    rng = np.random.default_rng(2)
    series = [np.cumsum(rng.standard_normal(n)) for n in rng.integers(50, 400, size=40)]
    opts = {
        "order": 3,
        "window": 16,
        "target_len": 10,
        "calibration": "batch",
        "min_len": 2,
        "max_len": 30,
    }
    _batches_equal_segment_batch(series, 16, **opts)


def test_training_batches_carry_the_merge_levels(cluster: None) -> None:
    rng = np.random.default_rng(3)
    series = [np.cumsum(rng.standard_normal(n)) for n in rng.integers(50, 300, size=20)]
    ds = ray.data.from_arrow(pa.table({"x": [s.tolist() for s in series], "id": range(20)}))
    opts = {"order": 3, "window": 16, "threshold": 0.9, "min_len": 2, "max_len": 30}
    merge = {"ratio": 0.5, "levels": 2, "window": 8, "block": 16}
    seen = 0
    for batch in training_batches(ds, value_column="x", batch_size=8, merge=merge, **opts):
        assert batch.plan is not None
        want = entroseg.merge_plan(batch.segments, profile=batch.values,
                                   weights=batch.segments.lengths, **merge)  # fmt: skip
        assert batch.plan == want
        assert batch.plan[-1].series_offsets[-1] == batch.plan[-1].num_groups
        ids = batch.rows["id"].to_pylist()
        for i, j in enumerate(ids):
            # Each series is planned as it would be alone.
            own = batch.segments.series(i)
            alone = entroseg.merge_plan(own, profile=series[j], weights=own.lengths, **merge)
            lo, hi = batch.plan[-1].series_offsets[i : i + 2]
            assert alone[-1].num_groups == hi - lo
        seen += batch.segments.num_series
    assert seen == 20


@pytest.mark.parametrize(
    ("merge", "method", "crash_at"),
    [
        (None, "push", [7, 13, 30]),
        ({"block": 8, "ratio": 0.5, "levels": 2, "window": 4}, "push", [7, 13, 30]),
        # The driver waits on the very call that died (a snapshot, the finish): it is
        # asked again after the replay, not waited on for ever.
        (None, "snapshot", [2, 3]),
        (None, "finish", [1]),
    ],
)
def test_segment_dataset_survives_actor_restarts_exactly(
    fresh_cluster: None,
    merge: dict[str, object] | None,
    method: str,
    crash_at: list[int],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Actors die mid-stream (their process exits); Ray restarts them, the driver restores
    their last snapshot and replays the calls since: the tables equal a run without
    failures, row for row and in the same order."""
    import _resume_children
    import entroseg.ray
    from ray import cloudpickle

    keys: list[object] = ["a", "b", "kk", "c", "d"]
    table, _ = interleaved(5, keys, 24_000)
    opts = {"order": 3, "window": 16, "target_len": 10.0, "calibration": "online", "max_len": 40}
    run = {"value_column": "value", "key_column": "device", "num_actors": 2, "batch_size": 600,
           "merge": merge, **opts}  # fmt: skip
    want = pa.concat_tables(segment_dataset(ray.data.from_arrow(table), **run))
    markers = [tmp_path / f"crash-{i}" for i in range(len(crash_at))]
    for m in markers:
        m.touch()
    # A hang is a failure here, not a five-minute wait.
    monkeypatch.setattr(entroseg.ray, "RESTART_WAIT_S", 60.0)
    cloudpickle.register_pickle_by_value(_resume_children)
    try:
        crashing = _resume_children.crashing_actor([str(m) for m in markers], crash_at, method)
        monkeypatch.setattr(entroseg.ray, "_StreamActor", crashing)
        got = pa.concat_tables(
            segment_dataset(ray.data.from_arrow(table), max_restarts=5, checkpoint_every=4, **run)
        )
        if merge is None and method == "push":  # without restarts, the crash fails the stream
            markers[0].touch()
            with pytest.raises(ray.exceptions.RayActorError):
                list(segment_dataset(ray.data.from_arrow(table), **run))
    finally:
        cloudpickle.unregister_pickle_by_value(_resume_children)
    assert not any(m.exists() for m in markers)  # every crash happened
    assert got.equals(want)


def test_training_batches_share_one_budget_per_batch(cluster: None) -> None:
    rng = np.random.default_rng(4)
    series = [
        np.cumsum(rng.standard_normal(n)) if k % 2 else np.sin(np.arange(n) / 20.0)
        for k, n in enumerate(rng.integers(200, 600, size=24))
    ]
    for segments in _batches_equal_segment_batch(series, 8, budget=120, min_len=2, max_len=64):
        # One budget per yielded batch.
        assert abs(len(segments) - 120) <= 0.02 * 120
