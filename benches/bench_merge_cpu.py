"""Streaming merge plans through Python, in thread CPU time (best of ``--repeat``): one
series of ``--n`` units pushed 65,536 at a time to ``MergePlanner`` (window 16, 4 levels,
blocks of ``--block``), per schedule, and ``arrow.merge_stream`` over the same profile
with 16 interleaved keys (threshold -0.01). CPU time rather than wall time, so that old
and new builds can be compared on a shared machine (alternate them, compare minima)::

    PYTHONPATH=<private install> taskset -c 1 python benches/bench_merge_cpu.py --repeat 3
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import entroseg
import numpy as np

CHUNK = 1 << 16


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=2_000_000)
    parser.add_argument("--block", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cases", default="threshold,ema,r,ratio,cosine,arrow")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    profile = np.abs(np.sin(np.cumsum(rng.standard_normal(args.n)) / 50.0))
    vectors = rng.standard_normal((args.n, 4)).astype(np.float32)
    cases: dict[str, tuple[str, dict[str, Any]]] = {
        "threshold": ("profile", {"threshold": -0.01}),
        "ema": ("profile", {"schedule": "ema"}),
        "r": ("profile", {"r": args.block // 16}),
        "ratio": ("profile", {"ratio": 0.25}),
        "cosine": ("cosine", {"ratio": 0.25}),
    }

    def planner_run(similarity: str, schedule: dict[str, Any]) -> int:
        data = profile if similarity == "profile" else vectors
        planner = entroseg.MergePlanner(
            similarity=similarity,  # type: ignore[arg-type]
            block=args.block, window=16, levels=4, **schedule,
        )  # fmt: skip
        groups = 0
        for a in range(0, args.n, CHUNK):
            groups += planner.push(data[a : a + CHUNK])[-1].num_groups
        return groups + planner.finish()[-1].num_groups

    tables: list[Any] = []

    def arrow_run() -> int:
        import pyarrow as pa
        from entroseg.arrow import merge_stream

        if not tables:  # built once, outside the timed runs
            keys = np.random.default_rng(1).integers(0, 16, args.n).astype(np.int32)
            tables.append(pa.table({"key": pa.array(keys), "h": profile}))
        out = merge_stream(
            tables[0].to_reader(max_chunksize=CHUNK), key_column="key", profile_column="h",
            block=args.block, window=16, levels=4, threshold=-0.01,
        )  # fmt: skip
        return sum(b.num_rows for b in out)

    results = []
    for name in args.cases.split(","):
        best = float("inf")
        if name == "arrow":
            arrow_run()  # the table, and a warm-up
        for _ in range(args.repeat):
            start = time.thread_time()
            if name == "arrow":
                arrow_run()
            else:
                planner_run(*cases[name])
            best = min(best, time.thread_time() - start)
        results.append(f"{name} {args.n / best / 1e6:.1f}")
    print(f"block {args.block}, M units/s (Arrow: M rows/s): " + " | ".join(results))


if __name__ == "__main__":
    main()
