"""Segmentation throughput: end-to-end ``segment`` on one core and ``segment_batch``
scaling over cores.

    python benches/bench_segment.py [--n 10000000] [--series 1000] [--series-len 100000]

Prints samples/s (best of ``--repeat`` runs) for ``segment`` (permutation entropy
d = 4, W = 64), and its ratio to the profile alone timed in alternation with it, with a
fixed threshold, with ``target_len = 16`` (batch calibration and
the online controller, with and without hard lengths), and ``segment_batch`` over a
ragged batch on 1 thread and on all cores, with the speed-up. The input is a random
walk; the numpy pass (``np.sum``) over the same array is printed as a yardstick.
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import os

import entroseg
import numpy as np
from _common import SEGMENT_OPTS, best_of, random_walk


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000_000)
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--series-len", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    x = random_walk(rng, args.n)
    print(f"entroseg {entroseg.__version__}, {os.cpu_count()} logical cores, n = {args.n:,}")
    t = best_of(args.repeat, lambda: np.sum(x))
    print(f"{'numpy np.sum (yardstick)':<58} {args.n / t / 1e6:9.1f} M samples/s")
    t = best_of(args.repeat, lambda: entroseg.permutation_entropy(x, order=4, window=64))
    print(f"{'profile only: permutation_entropy d=4 W=64':<58} {args.n / t / 1e6:9.1f} M samples/s")

    hard = {"min_len": 4, "max_len": 64}
    cases: list[tuple[str, dict[str, object]]] = [
        ("threshold 0.97, min_len 4, max_len 64", {"threshold": 0.97, **hard}),
        ("target_len 16 (batch calibration)", {"target_len": 16, "calibration": "batch"}),
        (
            "target_len 16 (batch), min_len 4, max_len 64",
            {"target_len": 16, "calibration": "batch", **hard},
        ),
        (
            "target_len 16 (online), min_len 4, max_len 64",
            {"target_len": 16, "calibration": "online", **hard},
        ),
    ]
    # Each case beside the profile alone, measured in alternation (best of each), so the
    # ratio holds when the machine's speed drifts during the run.
    print(f"{'':<58} {'':>9}              {'/ profile':>9}")
    for name, rules in cases:
        seg = entroseg.segment(x, order=4, window=64, **rules)  # type: ignore[arg-type]
        t_case, t_prof = float("inf"), float("inf")
        for _ in range(args.repeat):
            t_case = min(
                t_case,
                best_of(1, lambda r=rules: entroseg.segment(x, order=4, window=64, **r)),  # type: ignore[misc]
            )
            t_prof = min(
                t_prof, best_of(1, lambda: entroseg.permutation_entropy(x, order=4, window=64))
            )
        print(
            f"segment PE d=4 W=64, {name:<37} {args.n / t_case / 1e6:9.1f} M samples/s"
            f"  {t_prof / t_case:8.2f}x  (mean length {np.mean(seg.lengths):.2f})"
        )

    n_batch = args.series * args.series_len
    values = random_walk(rng, n_batch)
    offsets = np.arange(0, n_batch + 1, args.series_len)
    rules = SEGMENT_OPTS
    times = {}
    for threads in sorted({1, os.cpu_count() or 1}):
        times[threads] = best_of(
            args.repeat,
            lambda th=threads: entroseg.segment_batch(values, offsets, threads=th, **rules),  # type: ignore[misc]
        )
        print(
            f"segment_batch {args.series} x {args.series_len:,}, {threads} thread(s)"
            f"{'':<20} {n_batch / times[threads] / 1e6:9.1f} M samples/s"
        )
    if len(times) > 1:
        print(
            f"segment_batch speed-up on {max(times)} threads: {times[1] / times[max(times)]:.2f}x"
        )


if __name__ == "__main__":
    main()
