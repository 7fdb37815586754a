"""Change points: entroseg against ruptures (Pelt, Binseg, BottomUp, Window) on the TSSB
series aeon ships and on generated regime data (covering, F1 with margin 5, time), and
entroseg's throughput on a 10^6-sample series.

    python benches/bench_change_points.py [--seeds 10] [--big 1000000] [--skip-slow]

Needs the bench extra (``pip install -e ".[bench]"``: ruptures, aeon). aeon's
``load_gun_point_segmentation`` / ``load_electric_devices_segmentation`` read CSV files
shipped inside the aeon wheel (no download). Every method gets the true number of
change points except Pelt, which takes a penalty (BIC for its cost: ``2 ln n`` per
change point for ruptures' ``normal`` cost, ``2 sigma^2 ln n`` for ``l2`` with sigma
from the first differences). ruptures runs with ``min_size=20`` (entroseg's default)
and its default ``jump=5``; Window with ``width=100``. Metrics: ``entroseg.metrics``
(TCPDBench's definitions). Times are wall-clock, best of one run per series, summed
per data set. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import math
import time
import warnings
from collections.abc import Callable

import entroseg
import numpy as np
from entroseg.metrics import covering, f1_score

warnings.filterwarnings("ignore")

try:
    import ruptures as rpt
except ImportError as err:  # pragma: no cover - bench set-up
    raise SystemExit("install the bench extra: pip install -e '.[bench]'") from err


# -- data ------------------------------------------------------------------------------


def dynamics_regimes(n: int, n_regimes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Regimes of different dynamics: white noise, AR(1), noisy sine, random walk, square
    wave, each rescaled and shifted at random (so level and scale change too)."""
    rng = np.random.default_rng(seed)
    w = rng.dirichlet(np.ones(n_regimes)) * 0.75 + 0.25 / n_regimes
    lengths = np.maximum((w * n).astype(int), 1)
    lengths[-1] = n - lengths[:-1].sum()
    kinds = ["noise", "ar", "sine", "walk", "square"]
    parts, prev = [], ""
    for length in lengths:
        kind = prev
        while kind == prev:
            kind = str(rng.choice(kinds))
        prev = kind
        e = rng.standard_normal(length)
        if kind == "noise":
            seg = e
        elif kind == "ar":
            phi, seg = rng.uniform(0.6, 0.95), np.zeros(length)
            for t in range(1, length):
                seg[t] = phi * seg[t - 1] + e[t]
            seg /= seg.std() + 1e-12
        elif kind == "sine":
            period = rng.uniform(8, 60)
            seg = np.sin(2 * np.pi * np.arange(length) / period + rng.uniform(0, 6.3)) + 0.3 * e
        elif kind == "walk":
            seg = np.cumsum(e) * 0.2
            seg -= seg.mean()
        else:
            half = int(rng.integers(5, 25))
            seg = np.where((np.arange(length) // half) % 2 == 0, 1.0, -1.0) + 0.2 * e
        parts.append(seg * rng.uniform(0.5, 2.0) + rng.normal(0, 0.5))
    return np.concatenate(parts), np.cumsum(lengths)[:-1]


def gaussian_regimes(n: int, n_regimes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """White Gaussian noise whose mean and standard deviation change at each regime:
    the case ruptures' normal cost is built for."""
    rng = np.random.default_rng(seed)
    w = rng.dirichlet(np.ones(n_regimes)) * 0.75 + 0.25 / n_regimes
    lengths = np.maximum((w * n).astype(int), 1)
    lengths[-1] = n - lengths[:-1].sum()
    parts = [rng.normal(rng.normal(0, 1.0), rng.uniform(0.3, 2.0), length) for length in lengths]
    return np.concatenate(parts), np.cumsum(lengths)[:-1]


def aeon_series() -> list[tuple[str, np.ndarray, np.ndarray]]:
    try:
        from aeon.datasets import (
            load_electric_devices_segmentation,
            load_gun_point_segmentation,
        )
    except ImportError:
        print("aeon is not installed: skipping the TSSB series")
        return []
    out = []
    for name, load in (
        ("GunPoint", load_gun_point_segmentation),
        ("ElectricDevices", load_electric_devices_segmentation),
    ):
        ts, _period, cps = load()
        out.append((name, np.asarray(ts, dtype=np.float64), np.asarray(cps)))
    return out


# -- methods ---------------------------------------------------------------------------

Method = Callable[[np.ndarray, int], list[int]]


def noise_variance(x: np.ndarray) -> float:
    return float((np.median(np.abs(np.diff(x))) / (0.6745 * math.sqrt(2))) ** 2) or 1.0


def methods(skip_slow: bool) -> dict[str, Method]:
    ms = 20
    table: dict[str, Method] = {
        "entroseg change_points (default)": lambda x, k: list(entroseg.change_points(x, n_bkps=k)),
        "entroseg change_points (variance=True)": lambda x, k: list(
            entroseg.change_points(x, n_bkps=k, variance=True)
        ),
        "entroseg change_points (order=None, variance=True)": lambda x, k: list(
            entroseg.change_points(x, n_bkps=k, order=None, variance=True)
        ),
    }
    for model in ("normal", "l2"):
        table[f"ruptures BottomUp ({model})"] = lambda x, k, m=model: (
            rpt.BottomUp(model=m, min_size=ms).fit(x).predict(n_bkps=k)
        )
        table[f"ruptures Window ({model}, width 100)"] = lambda x, k, m=model: (
            rpt.Window(width=100, model=m, min_size=ms).fit(x).predict(n_bkps=k)
        )
        table[f"ruptures Binseg ({model})"] = lambda x, k, m=model: (
            rpt.Binseg(model=m, min_size=ms).fit(x).predict(n_bkps=k)
        )
    if not skip_slow:
        table["ruptures Pelt (normal, BIC)"] = lambda x, k: (
            rpt.Pelt(model="normal", min_size=ms).fit(x).predict(pen=2 * math.log(len(x)))
        )
        table["ruptures Pelt (l2, BIC)"] = lambda x, k: (
            rpt.Pelt(model="l2", min_size=ms)
            .fit(x)
            .predict(pen=2 * noise_variance(x) * math.log(len(x)))
        )
    return table


def evaluate(
    name: str, series: list[tuple[np.ndarray, np.ndarray]], table: dict[str, Method]
) -> None:
    total = sum(len(x) for x, _ in series)
    print(f"\n### {name} ({len(series)} series, {total:,} samples)\n")
    print("| method | covering | F1 (margin 5) | time (s) | time / entroseg default |")
    print("|---|---:|---:|---:|---:|")
    rows = []
    for label, method in table.items():
        cov, f1, seconds = [], [], 0.0
        for x, cps in series:
            t = time.perf_counter()
            found = method(x, len(cps))
            seconds += time.perf_counter() - t
            cov.append(covering(cps, found, len(x)))
            f1.append(f1_score(cps, found, len(x), margin=5))
        rows.append((label, float(np.mean(cov)), float(np.mean(f1)), seconds))
    base = rows[0][3]
    for label, cov, f1, seconds in rows:
        ratio = seconds / base
        digits = 0 if ratio >= 10 else 1
        print(f"| {label} | {cov:.3f} | {f1:.3f} | {seconds:.3f} | {ratio:.{digits}f}x |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--big", type=int, default=1_000_000)
    parser.add_argument("--skip-slow", action="store_true", help="leave Pelt out")
    args = parser.parse_args()
    print(f"entroseg {entroseg.__version__}, ruptures {rpt.__version__}")
    table = methods(args.skip_slow)
    for name, x, cps in aeon_series():
        evaluate(f"TSSB {name} (aeon), n = {len(x):,}, {len(cps)} change points", [(x, cps)], table)
    evaluate(
        f"Generated: regimes of different dynamics, n = 5,000, 5 change points, {args.seeds} seeds",
        [dynamics_regimes(5000, 6, s) for s in range(args.seeds)],
        table,
    )
    evaluate(
        f"Generated: Gaussian mean and scale shifts, n = 5,000, 5 change points, "
        f"{args.seeds} seeds",
        [gaussian_regimes(5000, 6, s) for s in range(args.seeds)],
        table,
    )

    # Throughput on a long series (ruptures' Binseg and Pelt take minutes here).
    n = args.big
    x, cps = dynamics_regimes(n, 50, 0)
    print(f"\n### One series of {n:,} samples, {len(cps)} change points\n")
    print("| method | time (s) | M samples/s | covering | F1 (margin 5) |")
    print("|---|---:|---:|---:|---:|")
    for label, run in (
        ("entroseg change_points (n_bkps)", lambda: entroseg.change_points(x, n_bkps=len(cps))),
        ("entroseg change_points (default penalty)", lambda: entroseg.change_points(x)),
        (
            "ruptures BottomUp (l2)",
            lambda: rpt.BottomUp(model="l2", min_size=20).fit(x).predict(n_bkps=len(cps)),
        ),
        (
            "ruptures Window (l2, width 100)",
            lambda: rpt.Window(width=100, model="l2", min_size=20).fit(x).predict(n_bkps=len(cps)),
        ),
    ):
        t = time.perf_counter()
        found = run()
        seconds = time.perf_counter() - t
        print(
            f"| {label} | {seconds:.3f} | {n / seconds / 1e6:.2f} | "
            f"{covering(cps, found, n):.3f} | {f1_score(cps, found, n):.3f} |"
        )


if __name__ == "__main__":
    main()
