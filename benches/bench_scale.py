"""Scaling: chunk-parallel segmentation of one long stream, and the Ray steps against
the in-process path on the same data.

    python benches/bench_scale.py [--n 100000000] [--ray-rows 4000000]

Prints, for a random walk of ``--n`` samples (permutation entropy d = 4, W = 64,
target_len = 16 with min_len 4 / max_len 64, and a fixed-threshold variant):
``segment`` (one pass), ``segment_parallel`` on 1 thread and on every core, the speed-up
and the stitch report. Then, on ``--ray-rows`` rows of 100 interleaved keyed streams,
``entroseg.ray.segment_dataset`` on a local Ray instance (2 actors) against one
``Segmenter`` per key in-process; and ``training_batches`` against ``segment_batch``
over the same whole series. Not part of the test suite; Ray is optional (skipped when
absent).
"""

from __future__ import annotations

import argparse
import os

import entroseg
import numpy as np
from _common import SEGMENT_OPTS, best_of, random_walk


def bench_parallel(n: int, repeat: int) -> None:
    x = random_walk(np.random.default_rng(0), n)
    cores = os.cpu_count() or 1
    print(f"one stream of {n:,} samples, {cores} logical cores")
    for name, opts in [
        ("threshold 0.97, min 4, max 64", {"threshold": 0.97, "min_len": 4, "max_len": 64}),
        (
            "target_len 16, min 4, max 64",
            {"target_len": 16, "calibration": "batch", "min_len": 4, "max_len": 64},
        ),
    ]:
        opts = {"order": 4, "window": 64, **opts}
        t1 = best_of(repeat, lambda o=opts: entroseg.segment(x, **o))  # type: ignore[misc]
        tp1 = best_of(repeat, lambda o=opts: entroseg.segment_parallel(x, threads=1, **o))  # type: ignore[misc]
        tpn = best_of(repeat, lambda o=opts: entroseg.segment_parallel(x, threads=cores, **o))  # type: ignore[misc]
        _, report = entroseg.segment_parallel(x, threads=cores, with_report=True, **opts)
        print(f"  {name}")
        print(f"    segment (one pass)              {n / t1 / 1e6:8.1f} M samples/s")
        print(f"    segment_parallel, 1 thread      {n / tp1 / 1e6:8.1f} M samples/s")
        print(f"    segment_parallel, {cores} threads     {n / tpn / 1e6:8.1f} M samples/s"
              f"  speed-up {t1 / tpn:.2f}x over one pass")  # fmt: skip
        print(f"    stitch report: {report}")


def bench_ray(rows: int) -> None:
    try:
        import pyarrow as pa
        import ray
        from entroseg.ray import segment_dataset, training_batches
    except ImportError:
        print("ray not installed: skipping the Ray rows")
        return
    rng = np.random.default_rng(1)
    keys = rng.integers(0, 100, size=rows)
    x = random_walk(rng, rows)
    table = pa.table({"device": keys, "value": x})
    opts = {"order": 4, "window": 64, "target_len": 16, "calibration": "online", "max_len": 64}

    def in_process() -> int:
        segs: dict[int, entroseg.Segmenter] = {}
        total = 0
        for batch in table.to_batches(max_chunksize=65_536):
            k = batch.column("device").to_numpy()
            v = batch.column("value").to_numpy()
            for key in np.unique(k):
                s = segs.setdefault(int(key), entroseg.Segmenter(**opts))
                total += len(s.push(v[k == key]))
        return total + sum(len(s.finish()) for s in segs.values())

    t_local = best_of(1, in_process)
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    ds = ray.data.from_arrow(table).repartition(16).materialize()
    t_ray = best_of(
        1,
        lambda: sum(
            t.num_rows
            for t in segment_dataset(ds, value_column="value", key_column="device", **opts)
        ),
    )
    print(f"keyed streams: {rows:,} rows, 100 keys")
    print(f"  in-process Segmenter per key        {rows / t_local / 1e6:8.2f} M rows/s")
    print(f"  entroseg.ray.segment_dataset (2 actors) {rows / t_ray / 1e6:8.2f} M rows/s"
          f"  ({t_ray / t_local:.2f}x the in-process time)")  # fmt: skip

    series = [random_walk(rng, n) for n in rng.integers(500, 5000, size=2000)]
    flat = np.concatenate(series)
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in series])])
    sopts = SEGMENT_OPTS
    t_local = best_of(1, lambda: entroseg.segment_batch(flat, offsets, **sopts))
    ds = ray.data.from_arrow(pa.table({"x": [s.tolist() for s in series]})).materialize()
    t_ray = best_of(
        1, lambda: sum(len(b.segments) for b in training_batches(ds, value_column="x", **sopts))
    )
    print(f"whole series: {len(series):,} series, {len(flat):,} samples")
    print(f"  segment_batch (all cores)           {len(flat) / t_local / 1e6:8.2f} M samples/s")
    print(f"  entroseg.ray.training_batches       {len(flat) / t_ray / 1e6:8.2f} M samples/s"
          f"  ({t_ray / t_local:.2f}x the in-process time)")  # fmt: skip
    ray.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000_000)
    parser.add_argument("--ray-rows", type=int, default=4_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    print(f"entroseg {entroseg.__version__}")
    bench_parallel(args.n, args.repeat)
    bench_ray(args.ray_rows)


if __name__ == "__main__":
    main()
