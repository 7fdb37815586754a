"""Throughput of entroseg against the tools users run today, measured in the same run.

Prints samples/s for

- permutation entropy of one 10M-sample random walk, d = 3, 5, 7: entroseg whole-series,
  entroseg rolling (W = 256, one call), entroseg streaming (the same rolling values fed in
  65,536-sample chunks), antropy and ordpy whole-series, and the windowed loop users write
  today (one antropy / ordpy call per W = 256 window);
- one numpy pass (``np.sum``) over the same array, as the memory-bandwidth yardstick;
- conditional entropy of a 4-letter (DNA-size) alphabet, k = 3..8, W = 256, in symbols/s,
  against the per-window numpy loop (``np.unique`` over the window's (k+1)-grams);

and the ratio of entroseg to each peer. Each figure is the best of ``--repeat`` timed runs
after one untimed warm-up call (numba compilation for antropy happens there). Peers that
would take minutes on the full series run on a prefix (``--ordpy-prefix`` samples for
ordpy whole-series, ``--loop-prefix`` for the windowed loops); their rate is still
samples (or windows) per second, which does not depend on the length for these O(n)
loops. Everything runs on one thread (entroseg is single-threaded; the environment
variables below pin numpy's and numba's pools to one thread); pin the process to one
core with ``taskset`` as in benches/README.md.

Usage: ``python benches/bench_entropy.py [--n 10000000] [--repeat 3] [--quick]
[--whole-series]``; ``--whole-series`` prints only whole-series (and one-call rolling)
permutation entropy beside ``x.sum()`` at 10^6 and ``--n`` samples, without peers.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402
from importlib.metadata import PackageNotFoundError, version  # noqa: E402
from typing import Any  # noqa: E402

import entroseg  # noqa: E402
import numpy as np  # noqa: E402
from _common import best_of, random_walk  # noqa: E402

W = 256
ORDERS = (3, 5, 7)
CONTEXTS = (3, 4, 5, 6, 7, 8)


def best_time(fn: Callable[[], Any], repeat: int) -> float:
    """Best wall time of ``repeat`` calls after one untimed warm-up call."""
    return best_of(repeat, fn, warmup=True)


def rate(n: int, seconds: float) -> float:
    return n / seconds


def fmt_rate(r: float) -> str:
    if r >= 1e6:
        return f"{r / 1e6:9.1f} M/s"
    return f"{r / 1e3:9.1f} k/s"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            names = [line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")]
        cpu = f"{names[0]} ({len(names)} logical cores)" if names else cpu
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("n/a",)

    def installed(pkg: str) -> str:
        try:
            return f"{pkg} {version(pkg)}"
        except PackageNotFoundError:
            return f"{pkg} (not installed)"

    versions = ", ".join(
        installed(pkg) for pkg in ("entroseg", "numpy", "antropy", "ordpy", "numba")
    )
    return f"{cpu}; Python {platform.python_version()}; {versions}; load avg {load}"


def antropy_loop(x: np.ndarray[Any, Any], order: int) -> list[float]:
    import antropy

    return [
        antropy.perm_entropy(x[t - W + 1 : t + 1], order=order, normalize=True)
        for t in range(W - 1, len(x))
    ]


def ordpy_loop(x: np.ndarray[Any, Any], order: int) -> list[float]:
    import ordpy

    return [ordpy.permutation_entropy(x[t - W + 1 : t + 1], dx=order) for t in range(W - 1, len(x))]


def numpy_conditional_loop(s: np.ndarray[Any, Any], k: int) -> list[float]:
    """What users write today for a rolling conditional entropy: per window, the counts of
    its (k+1)-grams and k-gram contexts with np.unique."""
    weights = 4 ** np.arange(k, -1, -1)
    codes = np.lib.stride_tricks.sliding_window_view(s.astype(np.int64), k + 1) @ weights
    out = []
    n_grams = W - k
    for t in range(n_grams - 1, len(codes)):
        grams = codes[t - n_grams + 1 : t + 1]
        _, joint = np.unique(grams, return_counts=True)
        _, ctx = np.unique(grams // 4, return_counts=True)
        h = (np.sum(ctx * np.log(ctx)) - np.sum(joint * np.log(joint))) / n_grams
        out.append(h / np.log(4))
    return out


def bench_order(x: np.ndarray[Any, Any], d: int, args: argparse.Namespace, t_sum: float) -> None:
    """Print the permutation-entropy rows of one order."""
    import antropy
    import ordpy

    n = len(x)
    ours_whole = rate(n, best_time(lambda: entroseg.permutation_entropy(x, order=d), args.repeat))
    ours_roll = rate(
        n, best_time(lambda: entroseg.permutation_entropy(x, order=d, window=W), args.repeat)
    )

    def streaming() -> None:
        est = entroseg.RollingPermutationEntropy(window=W, order=d)
        for start in range(0, n, 65_536):
            est.push(x[start : start + 65_536])

    ours_stream = rate(n, best_time(streaming, args.repeat))
    px = x[: args.ordpy_prefix]
    lx = x[: args.loop_prefix]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ant_whole = rate(
            n, best_time(lambda: antropy.perm_entropy(x, order=d, normalize=True), args.repeat)
        )
        ord_whole = rate(
            len(px), best_time(lambda: ordpy.permutation_entropy(px, dx=d), args.repeat)
        )
        ant_loop = rate(len(lx) - W + 1, best_time(lambda: antropy_loop(lx, d), 1))
        ord_loop = rate(len(lx) - W + 1, best_time(lambda: ordpy_loop(lx, d), 1))
        # The peers compute the same numbers (checked on part of the loop prefix), so the
        # rates compare equal work.
        same = entroseg.permutation_entropy(lx, order=d, window=W)[W - 1 :]
        assert np.allclose(antropy_loop(lx[:2000], d), same[: 2000 - W + 1], atol=1e-9)
        assert np.allclose(ordpy_loop(lx[:1000], d), same[: 1000 - W + 1], atol=1e-9)
    rows = [
        ("entroseg whole series", ours_whole, ""),
        ("antropy whole series", ant_whole, f"{ours_whole / ant_whole:12,.0f}x"),
        (f"ordpy whole series (first {len(px):,})", ord_whole, f"{ours_whole / ord_whole:12,.0f}x"),
        (f"entroseg rolling W={W} (one call)", ours_roll, ""),
        (f"entroseg rolling W={W} (65,536-sample chunks)", ours_stream, ""),
        (
            f"antropy loop over windows (first {len(lx):,})",
            ant_loop,
            f"{ours_roll / ant_loop:12,.0f}x",
        ),
        (
            f"ordpy loop over windows (first {len(lx):,})",
            ord_loop,
            f"{ours_roll / ord_loop:12,.0f}x",
        ),
        ("numpy np.sum (rolling / np.sum)", rate(n, t_sum), f"{ours_roll * t_sum / n:12.3f}x"),
    ]
    for what, r, ratio in rows:
        print(f"{d:>2}  {what:<46}{fmt_rate(r):>14}  {ratio:>14}")
    print()


def bench_context(dna: np.ndarray[Any, Any], k: int, args: argparse.Namespace) -> None:
    """Print the conditional-entropy row of one context length."""
    n = len(dna)
    ours = rate(
        n,
        best_time(
            lambda: entroseg.conditional_entropy(dna, context=k, window=W, alphabet_size=4),
            args.repeat,
        ),
    )
    prefix = dna[: args.loop_prefix]
    loop = rate(len(prefix) - W + 1, best_time(lambda: numpy_conditional_loop(prefix, k), 1))
    same = entroseg.conditional_entropy(prefix[:1000], context=k, window=W, alphabet_size=4)
    assert np.allclose(numpy_conditional_loop(prefix[:1000], k), same[W - 1 :], atol=1e-9)
    print(f"{k:>2}  {fmt_rate(ours):>18}  {fmt_rate(loop):>30}  {ours / loop:11,.0f}x")


def bench_whole_series(x: np.ndarray[Any, Any], args: argparse.Namespace) -> None:
    """Whole-series PE against ``x.sum()`` on the same array, in cache and out of it.

    The sum reads the array once, so its rate is the memory-bandwidth yardstick: the ratio
    says how close whole-series PE comes to one streaming pass over the input. The two
    lengths (the first 10^6 samples, which fit in cache on most machines, and all of
    them) separate the arithmetic from memory effects. No peer libraries are needed.
    """
    print("whole-series permutation entropy beside x.sum() on the same array")
    header = f"{'n':>12}  {'what':<28}{'samples/s':>14}  {'/ x.sum()':>10}"
    print(header)
    print("-" * len(header))
    for n in sorted({min(1_000_000, len(x)), len(x)}):
        xs = x[:n]
        t_sum = best_time(xs.sum, args.repeat)
        print(f"{n:>12,}  {'x.sum()':<28}{fmt_rate(rate(n, t_sum)):>14}  {1.0:>10.3f}")
        for d in ORDERS:
            t = best_time(lambda d=d, xs=xs: entroseg.permutation_entropy(xs, order=d), args.repeat)
            what = f"entroseg whole series d={d}"
            print(f"{n:>12,}  {what:<28}{fmt_rate(rate(n, t)):>14}  {t_sum / t:>10.3f}")
        for d in ORDERS:
            t = best_time(
                lambda d=d, xs=xs: entroseg.permutation_entropy(xs, order=d, window=W),
                args.repeat,
            )
            what = f"entroseg rolling W={W} d={d}"
            print(f"{n:>12,}  {what:<28}{fmt_rate(rate(n, t)):>14}  {t_sum / t:>10.3f}")
        # The same into one reused buffer (out=): no fresh output's page faults.
        buf = np.empty(n)
        for d in ORDERS:
            t = best_time(
                lambda d=d, xs=xs, buf=buf: entroseg.permutation_entropy(
                    xs, order=d, window=W, out=buf
                ),
                args.repeat,
            )
            what = f"  ... into out= d={d}"
            print(f"{n:>12,}  {what:<28}{fmt_rate(rate(n, t)):>14}  {t_sum / t:>10.3f}")
        print()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000_000, help="series length")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per figure (best)")
    parser.add_argument("--ordpy-prefix", type=int, default=1_000_000)
    parser.add_argument("--loop-prefix", type=int, default=20_000)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    parser.add_argument(
        "--whole-series",
        action="store_true",
        help="only whole-series (and one-call rolling) PE beside x.sum(), at 10^6 and --n "
        "samples; needs no peer libraries",
    )
    args = parser.parse_args()
    if args.quick:
        args.n, args.repeat, args.ordpy_prefix, args.loop_prefix = 200_000, 1, 20_000, 3_000

    n = args.n
    rng = np.random.default_rng(42)
    x = random_walk(rng, n)
    dna = rng.integers(0, 4, n).astype(np.uint8)
    print(f"# machine: {machine()}")
    print(f"# series: random walk of {n:,} float64 samples; W = {W}; best of {args.repeat}")
    print()
    if args.whole_series:
        bench_whole_series(x, args)
        print(f"# load avg at the end: {os.getloadavg() if hasattr(os, 'getloadavg') else 'n/a'}")
        return
    t_sum = best_time(lambda: np.sum(x), args.repeat)
    print(f"numpy np.sum over the series: {fmt_rate(rate(n, t_sum))}")
    print()
    header = f"{'d':>2}  {'permutation entropy':<46}{'samples/s':>14}  {'entroseg is':>14}"
    print(header)
    print("-" * len(header))
    for d in ORDERS:
        bench_order(x, d, args, t_sum)

    print(f"conditional entropy, alphabet 4 (DNA-size), W = {W}, {n:,} symbols")
    loop_label = f"numpy loop (first {args.loop_prefix:,})"
    header = f"{'k':>2}  {'entroseg rolling':>18}  {loop_label:>30}  {'entroseg is':>12}"
    print(header)
    print("-" * len(header))
    for k in CONTEXTS:
        bench_context(dna, k, args)
    print()
    print(f"# load avg at the end: {os.getloadavg() if hasattr(os, 'getloadavg') else 'n/a'}")


if __name__ == "__main__":
    main()
