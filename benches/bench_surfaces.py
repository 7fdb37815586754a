"""Overhead of the table surfaces: the Polars plugin under ``.over`` and the Arrow stream
step, each against the numpy path on the same data in the same run.

    python benches/bench_surfaces.py [--groups 1000] [--rows 100000] [--batches 100]

Data: ``groups`` series of ``rows`` samples each (random walks), one float64 value
column and an int32 key column, sorted by key (as a Parquet file partitioned by device
usually is). Work: the rolling permutation entropy (d = 4, W = 64) and segmentation with
the same profile (target_len 32 calibrated online, min_len 4, max_len 256).

- Polars: ``pl.col("x").entroseg.<fn>(...).over("g")`` on an eager DataFrame, against
  the numpy loop ``for each group: fn(x[group])`` over contiguous slices (1 thread).
  Polars runs groups on its thread pool, so the numpy loop is also measured on a thread
  pool of the same size (``ThreadPoolExecutor``; the functions release the GIL).
- Arrow: ``segment_stream`` / ``profile_stream`` over a ``RecordBatchReader`` of
  ``batches`` batches (keys sorted, and shuffled across the whole stream), against the
  one-shot numpy functions on each key's rows (``segment(..., calibration="online")``
  equals the stream's output; the check is done before timing).

Prints seconds (best of ``--repeat``) and the ratio surface / numpy (the overhead).
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import itertools
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import entroseg
import numpy as np
import polars as pl
import pyarrow as pa
from entroseg.arrow import profile_stream, segment_stream

ORDER, WINDOW = 4, 64
RULES: dict[str, Any] = dict(target_len=32.0, calibration="online", min_len=4, max_len=256)


def best_of(repeat: int, fn: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def row(name: str, seconds: float, samples: int, base: float | None = None) -> None:
    ratio = f"{seconds / base:8.2f}x" if base else " " * 9
    print(f"{name:<62} {seconds:8.3f} s {samples / seconds / 1e6:8.1f} M/s {ratio}")


def numpy_loop(
    x: np.ndarray, bounds: np.ndarray, fn: Callable[[np.ndarray], object], threads: int = 1
) -> list[object]:
    slices = [x[a:b] for a, b in itertools.pairwise(bounds)]
    if threads == 1:
        return [fn(s) for s in slices]
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(fn, slices))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    threads = pl.thread_pool_size()
    n = args.groups * args.rows
    print(
        f"# entroseg {entroseg.__version__}, polars {pl.__version__}, pyarrow {pa.__version__}, "
        f"numpy {np.__version__}; {os.cpu_count()} logical cores, polars pool {threads}; "
        f"load avg {tuple(round(v, 2) for v in os.getloadavg())}"
    )
    print(
        f"# {args.groups:,} groups x {args.rows:,} rows = {n:,} rows; permutation entropy "
        f"d={ORDER} W={WINDOW}; segment {RULES}; best of {args.repeat}"
    )
    rng = np.random.default_rng(0)
    x = np.cumsum(rng.standard_normal(n))
    g = np.repeat(np.arange(args.groups, dtype=np.int32), args.rows)
    bounds = np.arange(args.groups + 1, dtype=np.int64) * args.rows
    df = pl.DataFrame({"g": g, "x": x})

    pe = lambda s: entroseg.permutation_entropy(s, order=ORDER, window=WINDOW)  # noqa: E731
    seg = lambda s: entroseg.segment(s, order=ORDER, window=WINDOW, **RULES)  # noqa: E731
    pe_expr = pl.col("x").entroseg.permutation_entropy(order=ORDER, window=WINDOW).over("g")
    sid_expr = pl.col("x").entroseg.segment_id(order=ORDER, window=WINDOW, **RULES).over("g")

    # Same values before timing.
    got = df.head(3 * args.rows).select(pe_expr)["x"].fill_null(np.nan).to_numpy()
    want = np.concatenate(numpy_loop(x[: 3 * args.rows], bounds[:4], pe))  # type: ignore[arg-type]
    assert np.array_equal(got, want, equal_nan=True)

    print("\nPolars plugin, .over('g')")
    for label, expr, fn in (
        ("permutation_entropy", pe_expr, pe),
        ("segment_id", sid_expr, lambda s: seg(s).patch_ids(local=True)),
    ):
        base1 = best_of(args.repeat, lambda fn=fn: numpy_loop(x, bounds, fn))
        basep = best_of(args.repeat, lambda fn=fn: numpy_loop(x, bounds, fn, threads))
        t = best_of(args.repeat, lambda expr=expr: df.select(expr))
        row(f"numpy loop over groups, 1 thread: {label}", base1, n)
        row(f"numpy loop over groups, {threads} threads: {label}", basep, n)
        row(f"polars .over: {label} (vs 1 thread)", t, n, base1)
        row(f"polars .over: {label} (vs {threads} threads)", t, n, basep)
        lazy = df.lazy().select(expr)
        t = best_of(args.repeat, lambda lazy=lazy: lazy.collect(engine="streaming"))
        row(f"polars lazy, streaming engine: {label} (vs {threads} threads)", t, n, basep)

    table = pa.table({"g": g, "x": x})
    per_batch = -(-n // args.batches)
    shuffled = table.take(pa.array(rng.permutation(n)))
    keys_shuffled = shuffled["g"].to_numpy()
    x_shuffled = shuffled["x"].to_numpy()
    # numpy path on the shuffled stream: gather each key's rows, then one call per key.
    order = np.argsort(keys_shuffled, kind="stable")
    b_sh = np.concatenate([[0], np.cumsum(np.bincount(keys_shuffled, minlength=args.groups))])

    def numpy_shuffled(fn: Callable[[np.ndarray], object]) -> list[object]:
        return numpy_loop(x_shuffled[order], b_sh, fn)

    # Equal outputs before timing (first key).
    out = segment_stream(
        shuffled.to_reader(max_chunksize=per_batch), value_column="x", key_column="g",
        order=ORDER, window=WINDOW, **RULES,
    ).read_all()  # fmt: skip
    first = out.filter(pa.compute.equal(out["g"], 0))["start"].to_numpy()
    assert np.array_equal(first, seg(x_shuffled[order][b_sh[0] : b_sh[1]]).starts)

    print(f"\nArrow stream step, {args.batches} batches of {per_batch:,} rows")
    for layout, source, base_fn in (
        ("keys sorted", table, lambda fn: numpy_loop(x, bounds, fn)),
        ("keys shuffled", shuffled, numpy_shuffled),
    ):
        for label, step, fn in (
            ("segment_stream", segment_stream, seg),
            ("profile_stream", profile_stream, pe),
        ):
            rules = RULES if step is segment_stream else {}
            base = best_of(args.repeat, lambda fn=fn, base_fn=base_fn: base_fn(fn))
            t = best_of(
                args.repeat,
                lambda source=source, step=step, rules=rules: step(
                    source.to_reader(max_chunksize=per_batch), value_column="x",
                    key_column="g", order=ORDER, window=WINDOW, **rules,
                ).read_all(),
            )  # fmt: skip
            row(f"numpy one-shot per key ({layout}): {label}", base, n)
            row(f"arrow {label} ({layout})", t, n, base)


if __name__ == "__main__":
    main()
