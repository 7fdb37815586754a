"""Overhead of the table surfaces: the Polars plugin under ``.over`` and the Arrow stream
step, each against the numpy path on the same data in the same run.

    python benches/bench_surfaces.py [--groups 1000] [--rows 100000] [--batches 100]

Data: ``groups`` series of ``rows`` samples each (random walks), one float64 value
column and an int32 key column. Work: the rolling permutation entropy (d = 4, W = 64),
and segmentation on that profile (target_len 32 calibrated online, min_len 4,
max_len 256).

- Polars: ``pl.col("x").entroseg.<fn>(...).over("g")`` on an eager DataFrame whose rows
  are sorted by key, once with Polars told so (``set_sorted``: groups are slices) and
  once without (Polars hashes the keys, gathers each group and scatters the results
  back). Baseline: the numpy loop ``for each group: fn(x[a:b])`` over the contiguous
  slices. Polars' own ``cum_sum().over("g")`` is printed as the cost of the window
  machinery alone.
- Arrow: ``segment_stream`` / ``profile_stream`` over a ``RecordBatchReader`` of
  ``batches`` batches, with keys sorted (runs) and shuffled over the whole stream.
  Baseline: the numpy path on the same rows, grouping included: for sorted keys the
  run bounds (``np.diff``) and one call per run; for shuffled keys a stable argsort of
  the keys (radix: uint16), the gather, and one call per key. Outputs are checked equal
  before timing.

Prints seconds (best of ``--repeat``), rows/s and the ratio surface / numpy (the
overhead). Not part of the test suite.
"""

from __future__ import annotations

import argparse
import itertools
import os
from collections.abc import Callable
from typing import Any

import entroseg
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
from _common import best_of, random_walk
from entroseg.arrow import profile_stream, segment_stream

ORDER, WINDOW = 4, 64
RULES: dict[str, Any] = dict(target_len=32.0, calibration="online", min_len=4, max_len=256)


def row(name: str, seconds: float, samples: int, base: float | None = None) -> None:
    ratio = f"{seconds / base:8.2f}x" if base else " " * 9
    print(f"{name:<62} {seconds:8.3f} s {samples / seconds / 1e6:8.1f} M/s {ratio}")


def numpy_loop(
    x: np.ndarray, bounds: np.ndarray, fn: Callable[[np.ndarray], object]
) -> list[object]:
    return [fn(x[a:b]) for a, b in itertools.pairwise(bounds)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    n = args.groups * args.rows
    print(
        f"# entroseg {entroseg.__version__}, polars {pl.__version__}, pyarrow {pa.__version__}, "
        f"numpy {np.__version__}; {os.cpu_count()} logical cores, polars pool "
        f"{pl.thread_pool_size()}; "
        f"load avg {tuple(round(v, 2) for v in os.getloadavg())}"
    )
    print(
        f"# {args.groups:,} groups x {args.rows:,} rows = {n:,} rows; permutation entropy "
        f"d={ORDER} W={WINDOW}; segment {RULES}; best of {args.repeat}"
    )
    rng = np.random.default_rng(0)
    x = random_walk(rng, n)
    g = np.repeat(np.arange(args.groups, dtype=np.int32), args.rows)
    bounds = np.arange(args.groups + 1, dtype=np.int64) * args.rows
    df = pl.DataFrame({"g": g, "x": x})

    pe = lambda s: entroseg.permutation_entropy(s, order=ORDER, window=WINDOW)  # noqa: E731
    seg = lambda s: entroseg.segment(s, order=ORDER, window=WINDOW, **RULES)  # noqa: E731
    pe_expr = pl.col("x").entroseg.permutation_entropy(order=ORDER, window=WINDOW)
    sid_expr = pl.col("x").entroseg.segment_id(order=ORDER, window=WINDOW, **RULES)

    def numpy_sorted(fn: Callable[[np.ndarray], object]) -> list[object]:
        b = np.concatenate([[0], np.flatnonzero(np.diff(g)) + 1, [n]])
        return numpy_loop(x, b, fn)

    # Same values before timing.
    head = df.head(3 * args.rows)
    got = head.select(pe_expr.over("g"))["x"].fill_null(np.nan).to_numpy()
    want = np.concatenate(numpy_loop(x[: 3 * args.rows], bounds[:4], pe))  # type: ignore[arg-type]
    assert np.array_equal(got, want, equal_nan=True)

    sorted_df = df.with_columns(pl.col("g").set_sorted())
    print("\nPolars plugin, .over('g'), rows sorted by key; ratio to the numpy loop")
    for label, expr, fn in (
        ("permutation_entropy", pe_expr, pe),
        ("segment_id", sid_expr, lambda s: seg(s).patch_ids(local=True)),
    ):
        base = best_of(args.repeat, lambda fn=fn: numpy_sorted(fn))
        row(f"numpy loop over groups: {label}", base, n)
        for name, frame in (("set_sorted", sorted_df), ("hashed", df)):
            over = expr.over("g")
            t = best_of(args.repeat, lambda frame=frame, over=over: frame.select(over))
            row(f"polars .over, eager ({name}): {label}", t, n, base)
        lazy = sorted_df.lazy().select(expr.over("g"))
        t = best_of(args.repeat, lambda lazy=lazy: lazy.collect(engine="streaming"))
        row(f"polars .over, lazy streaming engine (set_sorted): {label}", t, n, base)
    print("yardstick: Polars' own window machinery, cum_sum().over('g')")
    cum = pl.col("x").cum_sum().over("g")
    for name, run in (
        ("eager (set_sorted)", lambda: sorted_df.select(cum)),
        ("eager (hashed)", lambda: df.select(cum)),
        ("lazy streaming engine (set_sorted)",
         lambda: sorted_df.lazy().select(cum).collect(engine="streaming")),
    ):  # fmt: skip
        row(f"polars cum_sum().over, {name}", best_of(args.repeat, run), n)

    table = pa.table({"g": g, "x": x})
    per_batch = -(-n // args.batches)
    shuffled = table.take(pa.array(rng.permutation(n)))
    keys_shuffled = shuffled["g"].to_numpy()
    x_shuffled = shuffled["x"].to_numpy()

    def numpy_shuffled(fn: Callable[[np.ndarray], object]) -> list[object]:
        k = keys_shuffled.astype(np.uint16) if args.groups <= 1 << 16 else keys_shuffled
        order = np.argsort(k, kind="stable")
        b = np.concatenate([[0], np.cumsum(np.bincount(k, minlength=args.groups))])
        return numpy_loop(x_shuffled[order], b, fn)

    # Equal outputs before timing (first key).
    out = segment_stream(
        shuffled.to_reader(max_chunksize=per_batch), value_column="x", key_column="g",
        order=ORDER, window=WINDOW, **RULES,
    ).read_all()  # fmt: skip
    first = out.filter(pc.equal(out["g"], 0))["start"].to_numpy()
    assert np.array_equal(first, seg(x_shuffled[keys_shuffled == 0]).starts)

    print(f"\nArrow stream step, {args.batches} batches of {per_batch:,} rows")
    for layout, source, base_fn in (
        ("keys sorted", table, numpy_sorted),
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
                lambda source=source, step=step, rules=rules: consume(step(
                    source.to_reader(max_chunksize=per_batch), value_column="x",
                    key_column="g", order=ORDER, window=WINDOW, **rules,
                )),
            )  # fmt: skip
            row(f"numpy path ({layout}): {label}", base, n)
            row(f"arrow {label} ({layout})", t, n, base)


def consume(reader: pa.RecordBatchReader) -> int:
    """Reads the stream batch by batch, as a pipeline would (nothing kept)."""
    rows = 0
    for batch in reader:
        rows += batch.num_rows
    return rows


if __name__ == "__main__":
    main()
