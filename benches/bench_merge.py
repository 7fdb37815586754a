"""Merge-planning throughput: ``merge_plan`` over 10^7 units, window 16, 4 levels, and
``assign_rates`` over 10^6 segments, on one core.

    python benches/bench_merge.py [--n 10000000] [--series-len 10000] [--repeat 3]

Units are the samples of a random walk with an entropy-like profile (one column) or
small random vectors (cosine); they come as one batch of series of ``--series-len``
units and as one single series. Prints units/s (best of ``--repeat`` runs, CPU time
of the calling thread, so other load on the machine does not count) for each
schedule, the groups per level, and, as yardsticks measured in the same run, numpy's
``argsort`` of 10^7 pair similarities (what a sort-based greedy would pay per level)
and a gather of 10^7 indices (what applying one unmerge map costs). Not part of the
test suite.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import entroseg
import numpy as np
from _common import random_walk, timed


def best_of(repeat: int, fn: Callable[[], object]) -> tuple[float, object]:
    """Best CPU time of the calling thread over ``repeat`` calls, and the last result."""
    return timed(repeat, fn, clock=time.thread_time)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000_000)
    parser.add_argument("--series-len", type=int, default=10_000)
    parser.add_argument("--dim", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    n = args.n
    rng = np.random.default_rng(0)
    profile = np.abs(np.sin(random_walk(rng, n) / 50.0))
    vectors = rng.standard_normal((n, args.dim)).astype(np.float32)
    batch = np.arange(0, n + 1, args.series_len, dtype=np.int64)
    if batch[-1] != n:
        batch = np.append(batch, n)
    print(
        f"entroseg {entroseg.__version__}, {os.cpu_count()} logical cores (one used), "
        f"n = {n:,} units, window 16, 4 levels"
    )
    sims = -np.abs(np.diff(profile))
    t, _ = best_of(args.repeat, lambda: np.argsort(sims, kind="stable"))
    print(f"{'yardstick: numpy argsort of n-1 pair similarities':<62} {n / t / 1e6:8.1f} M units/s")
    idx = rng.integers(0, n // 2, n).astype(np.int32)
    values = rng.standard_normal(n // 2)
    t, _ = best_of(args.repeat, lambda: values[idx])
    print(f"{'yardstick: numpy gather of n values (one unmerge)':<62} {n / t / 1e6:8.1f} M units/s")

    schedules: list[tuple[str, dict[str, object]]] = [
        ("ratio 0.25 (keep 1/4 after 4 levels)", {"ratio": 0.25}),
        ("r = 1000 per series and level (ToMe constant)", {"r": 1000}),
        ("r = (1000, -1.0) (ToMe decreasing)", {"r": (1000, -1.0)}),
        ("threshold -0.01", {"threshold": -0.01}),
        ("adaptive EMA threshold (momentum 0.9)", {"schedule": "ema"}),
    ]
    for layout, offsets in (
        (f"{len(batch) - 1} series of {args.series_len}", batch),
        ("one series", None),
    ):
        print(f"\nprofile similarity, {layout}:")
        for name, sched in schedules:
            if offsets is None and "r" in sched:
                continue  # r is per series: a single series would merge only 1000
            t, plan = best_of(
                args.repeat,
                lambda s=sched, o=offsets: entroseg.merge_plan(  # type: ignore[misc]
                    profile=profile, series_offsets=o, window=16, levels=4, **s
                ),
            )
            counts = " -> ".join(f"{lv.num_groups:,}" for lv in plan)  # type: ignore[attr-defined]
            print(f"  {name:<60} {n / t / 1e6:8.1f} M units/s  ({t:.2f} s; {counts})")
    t, plan = best_of(
        args.repeat,
        lambda: entroseg.merge_plan(
            vectors=vectors, series_offsets=batch, window=16, levels=4, ratio=0.25
        ),
    )
    print(
        f"\ncosine similarity, float32 vectors of dim {args.dim}, {len(batch) - 1} series, "
        f"ratio 0.25:\n  {'':<60} {n / t / 1e6:8.1f} M units/s  ({t:.2f} s)"
    )

    # Rates: 10^6 segments of 1..32 tokens in 1000 series.
    m = 1_000_000
    lengths = rng.integers(1, 33, m)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    per = m // 1000
    series_offsets = np.arange(0, m + 1, per)
    starts = starts - np.repeat(starts[series_offsets[:-1]], per)
    seg = entroseg.Segments(starts, lengths, series_offsets=series_offsets)
    scores = rng.gamma(2.0, 0.5, m)
    t, rates = best_of(
        args.repeat, lambda: entroseg.assign_rates(seg, scores, keep_ratio=0.4, factors=(1, 2, 4))
    )
    kept = int(rates.kept.sum()) / seg.num_samples  # type: ignore[attr-defined]
    print(
        f"\nassign_rates, {m:,} segments ({seg.num_samples:,} tokens) in 1000 series, "
        f"factors (1, 2, 4), keep_ratio 0.4 (kept {kept:.3f}):\n"
        f"  {'':<60} {m / t / 1e6:8.1f} M segments/s  ({t:.2f} s)"
    )


if __name__ == "__main__":
    main()
