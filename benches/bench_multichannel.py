"""Throughput of entroseg.segment on (n, c) input, per channel-sample, one thread.

Run pinned: PYTHONPATH=python taskset -c 1 python benches/bench_multichannel.py
Prints M channel-samples/s (best of 3 CPU times) for F- and C-ordered arrays.
"""

import time

import entroseg
import numpy as np

N = 2_000_000
METHODS = [
    dict(window=64, order=4),
    dict(window=64, order=4, channels="pooled"),
    dict(method="next_value", statistic="surprisal"),
]


def main() -> None:
    rng = np.random.default_rng(0)
    for method in METHODS:
        for c in (1, 4):
            x = np.cumsum(rng.standard_normal((N, c)), axis=0)
            layouts = {"F": np.asfortranarray(x), "C": x}
            best = dict.fromkeys(layouts, float("inf"))
            for _ in range(3):
                for name, arr in layouts.items():
                    t = time.process_time()
                    level = 0.9 if method.get("channels") == "pooled" else 0.9 * c
                    entroseg.segment(arr, threshold=level, max_len=256, **method)
                    best[name] = min(best[name], time.process_time() - t)
            name = method.get("method", "permutation") + (
                " pooled" if method.get("channels") == "pooled" else ""
            )
            rates = {k: N * c / v / 1e6 for k, v in best.items()}
            print(
                f"{name:19s} c={c}: {rates['F']:6.1f} M channel-samples/s (F-ordered), "
                f"{rates['C']:6.1f} (C-ordered, one transpose copy)"
            )


if __name__ == "__main__":
    main()
