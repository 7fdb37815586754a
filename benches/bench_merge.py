"""Merge-planning throughput: ``merge_plan`` over 10^7 units, window 16, 4 levels, and
``assign_rates`` over 10^6 segments, on one core; with ``--stream``, the streaming
planner (``MergePlanner``, ``arrow.merge_stream``): throughput, and resident memory over
``--stream-rows`` units (one planner) and rows (``arrow.merge_stream``, 16 keys).

    python benches/bench_merge.py [--n 10000000] [--series-len 10000] [--repeat 3]
    python benches/bench_merge.py --stream [--stream-rows 100000000] [--block 1024]

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
import resource
import time
from collections.abc import Callable, Iterator

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
    parser.add_argument("--stream", action="store_true", help="bench the streaming planner only")
    parser.add_argument("--stream-rows", type=int, default=100_000_000)
    parser.add_argument("--block", type=int, default=1024)
    args = parser.parse_args()
    if args.stream:
        stream_main(args)
        return
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


def rss_mib() -> float:
    """Resident memory of this process now (Linux /proc), MiB."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def stream_main(args: argparse.Namespace) -> None:
    """The streaming planner: units/s on one core, then memory over a long stream."""
    chunk = 1 << 16
    rng = np.random.default_rng(0)
    n = args.n
    profile = np.abs(np.sin(random_walk(rng, n) / 50.0))
    vectors = rng.standard_normal((n, args.dim)).astype(np.float32)
    print(
        f"entroseg {entroseg.__version__}, {os.cpu_count()} logical cores (one used), "
        f"n = {n:,} units pushed {chunk:,} at a time, window 16, 4 levels"
    )
    schedules: list[tuple[str, dict[str, object]]] = [
        ("threshold -0.01", {"threshold": -0.01}),
        ("adaptive EMA threshold (momentum 0.9)", {"schedule": "ema"}),
        ("r = block/16 per block and level (ToMe constant)", {"r": args.block // 16}),
        ("ratio 0.25 per block", {"ratio": 0.25}),
    ]

    def run(similarity: str, data: np.ndarray, block: int, sched: dict[str, object]) -> int:
        planner = entroseg.MergePlanner(
            similarity=similarity,  # type: ignore[arg-type]
            block=block, window=16, levels=4, **sched,  # type: ignore[arg-type]
        )  # fmt: skip
        groups = 0
        for a in range(0, len(data), chunk):
            groups += planner.push(data[a : a + chunk])[-1].num_groups
        return groups + planner.finish()[-1].num_groups

    for block in sorted({256, args.block, 4096}):
        print(f"\nMergePlanner, profile similarity, block {block}:")
        for name, sched in schedules:
            if "r" in sched:
                sched = {"r": block // 16}
            t, groups = best_of(args.repeat, lambda s=sched, b=block: run("profile", profile, b, s))  # type: ignore[misc]
            print(f"  {name:<60} {n / t / 1e6:8.1f} M units/s  ({t:.2f} s; {groups:,} groups)")
        t, groups = best_of(args.repeat, lambda b=block: run("cosine", vectors, b, {"ratio": 0.25}))  # type: ignore[misc]
        label = f"cosine, float32 vectors of dim {args.dim}, ratio 0.25"
        print(f"  {label:<60} {n / t / 1e6:8.1f} M units/s  ({t:.2f} s; {groups:,} groups)")
    t, _ = best_of(
        args.repeat,
        lambda: entroseg.merge_plan(
            profile=profile, window=16, levels=4, threshold=-0.01, block=args.block
        ),
    )
    print(f"\none-shot merge_plan(block={args.block}), threshold -0.01, for comparison:")
    print(f"  {'':<60} {n / t / 1e6:8.1f} M units/s  ({t:.2f} s)")

    # The Arrow step: keyed rows, 16 keys interleaved, batches of 2^16 rows.
    import pyarrow as pa
    from entroseg.arrow import merge_stream

    m = min(n, 10_000_000)
    keys = pa.array(rng.integers(0, 16, m).astype(np.int32))
    table = pa.table({"key": keys, "h": profile[:m]})
    reader_rows = 0

    def arrow_run() -> int:
        out = merge_stream(
            table.to_reader(max_chunksize=chunk), key_column="key", profile_column="h",
            block=args.block, window=16, levels=4, threshold=-0.01,
        )  # fmt: skip
        return sum(b.num_rows for b in out)

    t, reader_rows = timed(args.repeat, arrow_run)
    print(
        f"\narrow.merge_stream, {m:,} rows, 16 keys interleaved, batches of {chunk:,}, wall time:"
    )
    print(f"  {'':<60} {m / t / 1e6:8.1f} M rows/s  ({t:.2f} s; {reader_rows:,} group rows)")

    # Memory over a long stream: units generated chunk by chunk, never kept.
    total = args.stream_rows
    planner = entroseg.MergePlanner(
        similarity="profile", block=args.block, window=16, levels=4, threshold=-0.01
    )
    base = np.arange(chunk, dtype=np.float64)
    marks: list[tuple[int, float]] = []
    start = time.perf_counter()
    groups = 0
    for i, a in enumerate(range(0, total, chunk)):
        k = min(chunk, total - a)
        units = np.abs(np.sin((base[:k] + a) / 977.0))
        groups += planner.push(units)[-1].num_groups
        if i % max(1, total // chunk // 10) == 0:
            marks.append((a + k, rss_mib()))
    groups += planner.finish()[-1].num_groups
    marks.append((total, rss_mib()))
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nmemory: MergePlanner over {total:,} units (block {args.block}, threshold -0.01), "
          f"{wall:.1f} s wall, {groups:,} top-level groups")  # fmt: skip
    print("  units pushed -> RSS: " + ", ".join(f"{u / 1e6:,.0f}M {r:.1f} MiB" for u, r in marks))
    first = marks[1][1] if len(marks) > 1 else marks[0][1]
    print(f"  RSS growth after the first tenth: {marks[-1][1] - first:+.1f} MiB (peak RSS of the "
          f"process {peak:.0f} MiB, including the throughput data above)")  # fmt: skip

    # The Arrow step over a long keyed stream: batches generated one at a time (never
    # kept), 16 keys interleaved, every output batch consumed and dropped.
    schema = pa.schema([("key", pa.int32()), ("h", pa.float64())])
    key_rng = np.random.default_rng(7)
    arrow_marks: list[tuple[int, float]] = []

    def keyed_batches() -> Iterator[pa.RecordBatch]:
        for i, a in enumerate(range(0, total, chunk)):
            k = min(chunk, total - a)
            if i % max(1, total // chunk // 10) == 0:
                arrow_marks.append((a, rss_mib()))
            yield pa.record_batch(
                [pa.array(key_rng.integers(0, 16, k).astype(np.int32)),
                 pa.array(np.abs(np.sin((base[:k] + a) / 977.0)))],
                schema=schema,
            )  # fmt: skip

    start = time.perf_counter()
    out_rows = 0
    for batch in merge_stream(
        pa.RecordBatchReader.from_batches(schema, keyed_batches()), key_column="key",
        profile_column="h", block=args.block, window=16, levels=4, threshold=-0.01,
    ):  # fmt: skip
        out_rows += batch.num_rows
    arrow_marks.append((total, rss_mib()))
    wall = time.perf_counter() - start
    print(f"\nmemory: arrow.merge_stream over {total:,} rows of 16 interleaved keys (block "
          f"{args.block}, threshold -0.01), {wall:.1f} s wall ({total / wall / 1e6:.1f} M rows/s, "
          f"generating the input included), {out_rows:,} group rows")  # fmt: skip
    marks_text = ", ".join(f"{u / 1e6:,.0f}M {r:.1f} MiB" for u, r in arrow_marks)
    print("  rows read -> RSS: " + marks_text)
    first = arrow_marks[1][1] if len(arrow_marks) > 1 else arrow_marks[0][1]
    print(f"  RSS growth after the first tenth: {arrow_marks[-1][1] - first:+.1f} MiB")


if __name__ == "__main__":
    main()
