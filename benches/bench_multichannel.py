"""Multichannel input: throughput of entroseg.segment on (n, c) input, per
channel-sample, one thread; and (``--quality``) what one boundary set for all channels
is worth to a patch model.

Run pinned: PYTHONPATH=python taskset -c 1 python benches/bench_multichannel.py
Prints M channel-samples/s (best of 3 CPU times) for F- and C-ordered arrays.

``--quality`` (needs aeon for its shipped multivariate data: BasicMotions and
JapaneseVowels, training cases joined end to end; the Daphnet S06R02E0 accelerometer
recording; plus generated regimes): every channel z-scored, then cut at the same mean
patch length L by fixed patches and by each method with ``target_len=L`` (batch
calibration); the score is the summed squared error of a least-squares line per patch
and channel, relative to fixed patches (below 1: better than fixed).
"""

import argparse
import pathlib
import time
from typing import Any

import entroseg
import numpy as np
import numpy.typing as npt

N = 2_000_000
METHODS: list[dict[str, Any]] = [
    dict(method="line"),
    dict(window=64, order=4),
    dict(window=64, order=4, channels="pooled"),
    dict(method="next_value", statistic="surprisal"),
]


def throughput() -> None:
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
                    if method.get("method") == "line":
                        level = 8.0 * c
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


QUALITY_METHODS: list[tuple[str, dict[str, Any]]] = [
    ("line, channels=sum", dict(method="line")),
    ("line, channels=max", dict(method="line", channels="max")),
    ("permutation w=32 d=3, sum", dict(method="permutation", window=32, order=3)),
    ("next_value surprisal, sum", dict(method="next_value", statistic="surprisal")),
]


def line_error(x: npt.NDArray[np.float64], starts: npt.NDArray[np.int64]) -> float:
    """Summed squared residuals of a least-squares line per segment and channel, from
    prefix sums (segments start at ``starts``, the first at 0)."""
    n = len(x)
    ends = np.append(starts[1:], n)
    m = (ends - starts).astype(np.float64)
    i = np.arange(n, dtype=np.float64)[:, None]
    zero = np.zeros((1, x.shape[1]))
    px = np.vstack([zero, np.cumsum(x, axis=0)])
    pxx = np.vstack([zero, np.cumsum(x * x, axis=0)])
    pix = np.vstack([zero, np.cumsum(i * x, axis=0)])
    sx = px[ends] - px[starts]
    sxx = pxx[ends] - pxx[starts]
    # Positions relative to the segment start: sum (i - a) x = sum i x - a sum x.
    stx = pix[ends] - pix[starts] - starts[:, None] * sx
    mm = m[:, None]
    t_mean = (mm - 1) / 2
    stt = mm * (mm * mm - 1) / 12
    with np.errstate(invalid="ignore", divide="ignore"):
        rss = sxx - sx * sx / mm - np.where(stt > 0, (stx - t_mean * sx) ** 2 / stt, 0.0)
    return float(np.sum(np.maximum(rss, 0.0)))


def quality_data() -> list[tuple[str, npt.NDArray[np.float64]]]:
    import aeon
    import pandas as pd
    from aeon.datasets import load_from_ts_file

    root = pathlib.Path(aeon.__file__).parent / "datasets" / "data"
    out = []
    basic, _ = load_from_ts_file(str(root / "BasicMotions" / "BasicMotions_TRAIN.ts"))
    out.append(("BasicMotions (40 cases, 6 ch)", np.concatenate(list(basic), axis=1).T))
    vowels, _ = load_from_ts_file(str(root / "JapaneseVowels" / "JapaneseVowels_TRAIN.ts"))
    out.append(("JapaneseVowels (270 cases, 12 ch)", np.concatenate(list(vowels), axis=1).T))
    daphnet = pd.read_csv(root / "Daphnet_S06R02E0" / "S06R02E0.csv")
    cols = [c for c in daphnet.columns if c not in ("timestamp", "is_anomaly")]
    out.append(("Daphnet S06R02E0 (9 ch)", daphnet[cols].to_numpy(np.float64)))
    # Generated: 4 channels sharing regime changes (level, slope, noise, oscillation).
    rng = np.random.default_rng(7)
    parts = []
    for _ in range(40):
        m = int(rng.integers(50, 400))
        t = np.arange(m)[:, None]
        slope = rng.normal(0, 0.05, 4)
        wave = rng.uniform(0, 2, 4) * np.sin(2 * np.pi * t / rng.uniform(5, 60, 4))
        noise = rng.uniform(0.05, 1, 4) * rng.standard_normal((m, 4))
        parts.append(rng.normal(0, 3, 4) + slope * t + wave + noise)
    out.append(("generated regimes (4 ch)", np.concatenate(parts)))
    return [(name, (x - x.mean(0)) / np.where(x.std(0) > 0, x.std(0), 1.0)) for name, x in out]


def quality() -> None:
    print("relative line error (summed over channels) against fixed patches of the same mean")
    for name, x in quality_data():
        print(f"\n{name}, n = {len(x):,}")
        print(f"  {'method':28s}" + "".join(f"   L={L:<3d}" for L in (8, 16, 32)))
        fixed = {L: line_error(x, np.arange(0, len(x), L)) for L in (8, 16, 32)}
        print(f"  {'fixed patches (error)':28s}" + "".join(f" {fixed[L]:8.1f}" for L in fixed))
        for label, options in QUALITY_METHODS:
            row = []
            for L in fixed:
                seg = entroseg.segment(np.ascontiguousarray(x), target_len=L, **options)
                mean = len(x) / len(seg)
                flag = "*" if abs(mean / L - 1) > 0.02 else " "
                row.append(f" {line_error(x, seg.starts) / fixed[L]:5.3f}{flag} ")
            print(f"  {label:28s}" + "".join(row))
    print("\n(* : the calibrated mean length missed L by more than 2%)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quality", action="store_true", help="reconstruction, not speed")
    args = parser.parse_args()
    if args.quality:
        quality()
    else:
        throughput()


if __name__ == "__main__":
    main()
