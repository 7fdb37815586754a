"""Patch quality at equal token count: which segmentation to pick for dynamic patching.

    /root/.venvs/bench/bin/python benches/bench_patches.py [--quick] [--out FILE]
        [--wfdb-dir /tmp/wfdb] [--budget-only]

(any Python with entroseg, aeon, wfdb, dysts, numba and scipy installed will do.)

Every method cuts each series into ``K = round(n / L)`` patches, the token count of fixed
patches of length ``L`` (L = 16, 32, 64). A patch has a fixed capacity; what it fails to
reconstruct is measured two ways, summed over the patches: the residual sum of squares
of the least-squares line through the patch (0 when it has <= 2 samples), and of its
projection on the first 4 orthonormal DCT-II coefficients (0 when it has <= 4 samples).
Each sum is divided by the same sum for fixed patches (starts 0, L, 2L, ...): a ratio
below 1 means the method spends the same tokens better than fixed patches. The mean
patch length each method actually reached, over ``L``, is reported beside it.

Methods: entroseg's ``segment`` (method "line" with batch and online calibration and with
degree 0, "permutation", "conditional" and "next_symbol" surprisal over 8 quantile
symbols; next-symbol surprisal also blended over context lengths (``blend=True``,
context 3); "next_value" surprisal of the floats (mixed linear predictors); next-symbol
and next-value surprisal and permutation entropy also with ``accumulate=True``,
equal-information segments), ``entroseg.change_points`` with ``n_bkps = K - 1``, and
baselines: fixed patches, uniform random cuts (mean of 5 draws), EntroPE's model-free ablation
boundaries (a per-sample score, cut at its top ``K - 1`` positions: local difference,
left/right variance ratio, CUSUM, histogram entropy, spectral distance, windows of 16)
and greedy bottom-up merging by least added line error, the offline reference. Then the
single-threaded throughput of ``segment`` (line, line degree 0, permutation) on a
random walk.

Shared budget (``--budget-only`` runs just this part): the series of a group are one
ragged batch. ``segment_batch(target_len=L)`` calibrates every series to mean length
``L``; its total token count ``N`` is then given to ``segment_batch(budget=N)``, which
calibrates one threshold for the whole batch, and to ``segment_batch(budget=N,
budget_by="error")``, which gives each series the count that most reduces the batch's
line-fit error. Same total, three spreads: the table
reports the batch's summed reconstruction error over the summed error of fixed patches
(the batch objective: every series is z-scored, so a token is worth the same
everywhere), the median per-series ratio, and how unevenly the budget spread.

Data (no network; everything from installed packages or a local folder):

* segmentation: aeon's shipped GunPoint and ElectricDevices segmentation series;
* ucr: UCR classification sets shipped in aeon's wheel (ACSF1, ArrowHead, GunPoint,
  ItalyPowerDemand, OSULeaf, PickupGestureWiimoteZ, BasicMotions and JapaneseVowels,
  the last two first channel only): the TRAIN instances concatenated in a stable sort by
  class label (as strings), capped at 40,000 samples;
* ecg: records 100 and 3000003_0003 of wfdb-python's sample data (``--wfdb-dir``), the
  first 20,000 samples of channel 0; skipped with a note when absent;
* dysts: the first coordinate of Lorenz, Rossler, MackeyGlass and HindmarshRose, 10,000
  samples from the package's stored initial conditions (RK45, tolerances 1e-8);
* generated: two seeded series of concatenated regimes (AR(1), noisy sine, random walk,
  flat with noise, bursts).

"real" means segmentation + ucr + ecg. Every series is z-scored after dropping
non-finite values. The 75-series segmentation benchmark (TSSB) and the Turing
change-point dataset are deliberately NOT used: they are kept for evaluation.
``--quick`` caps every series at 10,000 samples, generates 4,000 samples per dysts
system and times throughput on 1,000,000 samples. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import functools
import heapq
import os
import platform
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aeon
import entroseg
import numba as nb
import numpy as np
import numpy.typing as npt
import scipy
from _common import best_of, random_walk
from numpy.lib.stride_tricks import sliding_window_view
from scipy.fft import dct
from scipy.signal import lfilter

Array = npt.NDArray[np.float64]
Starts = npt.NDArray[np.int64]

LENGTHS = (16, 32, 64)
REAL_GROUPS = ("segmentation", "ucr", "ecg")
UCR_NAMES = (
    "ACSF1", "ArrowHead", "GunPoint", "ItalyPowerDemand", "OSULeaf",
    "PickupGestureWiimoteZ", "BasicMotions", "JapaneseVowels",
)  # fmt: skip
UCR_CAP = 40_000
ECG_RECORDS = ("100", "3000003_0003")
ECG_LEN = 20_000
DYSTS_SYSTEMS = ("Lorenz", "Rossler", "MackeyGlass", "HindmarshRose")
DCT_KEEP = 4
RANDOM_DRAWS = 5
ABLATION_WINDOW = 16
HIST_BINS = 8
SYMBOLS = 8
TARGET_TOLERANCE = 0.05
PER_SERIES_METHODS = (
    "line", "line online", "permutation", "local difference", "random", "bottom-up (offline)",
)  # fmt: skip

#: entroseg ``segment`` methods: name -> (cut the 8 quantile symbols instead of the
#: floats, options besides ``target_len``).
ENTROSEG_METHODS: dict[str, tuple[bool, dict[str, Any]]] = {
    "line": (False, {}),
    "line online": (False, {"calibration": "online"}),
    "line degree=0": (False, {"method": "line", "degree": 0}),
    "permutation": (
        False, {"method": "permutation", "order": 3, "window": 64, "calibration": "batch"},
    ),
    "conditional": (True, {
        "method": "conditional", "context": 2, "window": 64, "alphabet_size": SYMBOLS,
        "calibration": "batch",
    }),
    "next_symbol surprisal": (True, {
        "method": "next_symbol", "context": 1, "alphabet_size": SYMBOLS,
        "statistic": "surprisal", "calibration": "batch",
    }),
    "next_symbol surprisal, blend": (True, {
        "method": "next_symbol", "context": 3, "alphabet_size": SYMBOLS,
        "statistic": "surprisal", "blend": True, "calibration": "batch",
    }),
    "next_symbol surprisal, accumulate": (True, {
        "method": "next_symbol", "context": 1, "alphabet_size": SYMBOLS,
        "statistic": "surprisal", "accumulate": True, "calibration": "batch",
    }),
    "next_value surprisal": (False, {
        "method": "next_value", "statistic": "surprisal", "calibration": "batch",
    }),
    "next_value surprisal, accumulate": (False, {
        "method": "next_value", "statistic": "surprisal", "accumulate": True,
        "calibration": "batch",
    }),
    "permutation, accumulate": (False, {
        "method": "permutation", "order": 3, "window": 64, "accumulate": True,
        "calibration": "batch",
    }),
}  # fmt: skip


#: Methods compared under one shared budget and under per-series targets:
#: name -> options besides ``target_len`` / ``budget`` (all on the floats).
BUDGET_METHODS: dict[str, dict[str, Any]] = {
    "line": {},
    "line degree=0": {"method": "line", "degree": 0},
    "next_value surprisal": {"method": "next_value", "statistic": "surprisal"},
    "permutation": {"method": "permutation", "order": 3, "window": 64},
}


@dataclass
class Series:
    """One z-scored series and the group it comes from."""

    name: str
    group: str
    x: Array


@dataclass
class Score:
    """One method on one series at one ``L``: error ratios to fixed patches, and the
    achieved mean patch length over ``L``."""

    series: Series
    line: float
    dct: float
    length: float


# ---------------------------------------------------------------------------- data


def zscore(values: npt.ArrayLike) -> Array:
    """``values`` as float64 without non-finite entries, mean 0 and deviation 1."""
    x = np.asarray(values, dtype=np.float64).ravel()
    x = x[np.isfinite(x)]
    mean, std = float(x.mean()), float(x.std())
    return (x - mean) / (std + 1e-12)


def ucr_series(name: str, cap: int) -> Array:
    """The TRAIN instances of the aeon-shipped UCR set ``name`` (first channel),
    concatenated in a stable sort by class label, at most ``cap`` samples."""
    from aeon.datasets import load_from_ts_file

    folder = Path(aeon.__file__).parent / "datasets" / "data" / name
    instances, labels = load_from_ts_file(str(folder / f"{name}_TRAIN.ts"))
    order = np.argsort(labels, kind="stable")
    return np.concatenate([np.asarray(instances[i][0], dtype=np.float64) for i in order])[:cap]


def regimes(seed: int, n: int) -> Array:
    """``n`` samples of concatenated regimes of 300..1500 samples each, drawn with
    ``seed``: AR(1) (phi 0.9), a noisy sine (period 8..64), a random walk, a flat level
    with small noise, and small noise with bursts of large noise; each regime starts at
    a fresh random level."""
    rng = np.random.default_rng(seed)
    parts: list[Array] = []
    total = 0
    while total < n:
        m = int(rng.integers(300, 1500))
        kind = rng.integers(5)
        noise = rng.standard_normal(m)
        if kind == 0:
            y = lfilter([np.sqrt(1 - 0.81)], [1.0, -0.9], noise)
        elif kind == 1:
            period, phase = rng.uniform(8, 64), rng.uniform(0, 2 * np.pi)
            y = rng.uniform(0.5, 2) * np.sin(2 * np.pi * np.arange(m) / period + phase)
            y += 0.1 * noise
        elif kind == 2:
            y = np.cumsum(0.2 * noise)
        elif kind == 3:
            y = 0.05 * noise
        else:
            burst = np.convolve(rng.random(m) < 0.01, np.ones(12), mode="same") > 0
            y = np.where(burst, 2.0, 0.05) * noise
        parts.append(rng.normal(0, 1) + y)
        total += m
    return np.concatenate(parts)[:n]


def load_series(args: argparse.Namespace, notes: list[str]) -> list[Series]:
    """Every benchmark series, z-scored (see the module docstring); skipped sources are
    explained in ``notes``."""
    from aeon.datasets import load_electric_devices_segmentation, load_gun_point_segmentation

    cap = 10_000 if args.quick else UCR_CAP
    raw: list[tuple[str, str, npt.ArrayLike]] = [
        ("GunPoint", "segmentation", load_gun_point_segmentation()[0]),
        ("ElectricDevices", "segmentation", load_electric_devices_segmentation()[0]),
    ]
    raw += [(name, "ucr", ucr_series(name, cap)) for name in UCR_NAMES]
    if Path(args.wfdb_dir).is_dir():
        import wfdb

        for record in ECG_RECORDS:
            try:
                signal, _ = wfdb.rdsamp(str(Path(args.wfdb_dir) / record))
            except Exception as err:  # a missing or unreadable record is skipped
                notes.append(f"ecg record {record} skipped: {err}")
                continue
            raw.append((f"ecg {record}", "ecg", signal[:ECG_LEN, 0]))
    else:
        notes.append(f"ecg skipped: {args.wfdb_dir} is not a directory")
    try:
        import dysts.flows

        n = 4_000 if args.quick else 10_000
        for system in DYSTS_SYSTEMS:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                trajectory = getattr(dysts.flows, system)().make_trajectory(
                    n, pts_per_period=50, method="RK45", rtol=1e-8, atol=1e-8, random_seed=0
                )
            raw.append((system, "dysts", trajectory[:, 0]))
    except Exception as err:  # dysts is optional; its integrators can fail
        notes.append(f"dysts skipped: {err!r}")
    n_gen = 10_000 if args.quick else 20_000
    raw += [(f"regimes seed {seed}", "generated", regimes(seed, n_gen)) for seed in (0, 1)]
    return [Series(name, group, zscore(values)[:cap]) for name, group, values in raw]


# -------------------------------------------------------------------------- metric


@nb.njit
def _segment_line_rss(x: Array, a: int, b: int) -> float:
    """Residual sum of squares of the least-squares line through ``x[a:b]``."""
    m = b - a
    if m <= 2:
        return 0.0
    x_mean = 0.0
    for i in range(a, b):
        x_mean += x[i]
    x_mean /= m
    t_mean = (m - 1) / 2.0
    sxx = 0.0
    stx = 0.0
    for i in range(m):
        d = x[a + i] - x_mean
        sxx += d * d
        stx += (i - t_mean) * d
    stt = m * (m * m - 1) / 12.0
    return max(sxx - stx * stx / stt, 0.0)


@nb.njit
def line_rss(x: Array, starts: Starts) -> float:
    """Summed line residuals of the segments that begin at ``starts`` (0 first)."""
    total = 0.0
    for s in range(len(starts)):
        end = starts[s + 1] if s + 1 < len(starts) else len(x)
        total += _segment_line_rss(x, starts[s], end)
    return total


def dct_rss(x: Array, starts: Starts) -> float:
    """Summed residuals of the segments' projections on their first ``DCT_KEEP``
    orthonormal DCT-II coefficients (one batched transform per segment length)."""
    lengths = np.diff(np.append(starts, len(x)))
    total = 0.0
    for m in np.unique(lengths[lengths > DCT_KEEP]):
        first = starts[lengths == m]
        coef = dct(x[first[:, None] + np.arange(m)], norm="ortho", axis=1)
        total += float(np.sum(coef[:, DCT_KEEP:] ** 2))
    return total


# ----------------------------------------------------------------------- baselines


@nb.njit
def bottom_up_rank(x: Array) -> npt.NDArray[np.int64]:
    """Greedy bottom-up merging by least added line error, from segments of 2 samples
    down to one. Returns, for each initial segment (starts 0, 2, 4, ...), the merge step
    at which its start stopped being a boundary (``len`` of the result if never), so
    the ``K`` segments after ``m - K`` merges start where the rank is ``>= m - K``.
    A heap with lazy invalidation: an entry is stale once either side died or grew."""
    n = len(x)
    m = (n + 1) // 2
    start = np.arange(0, n, 2)
    end = np.minimum(start + 2, n)
    cost = np.zeros(m)
    version = np.zeros(m, np.int64)
    nxt = np.arange(1, m + 1)
    prv = np.arange(-1, m - 1)
    rank = np.full(m, m, np.int64)
    heap = [(0.0, 0, 0, 0, 0)]
    heap.pop()
    for i in range(m - 1):
        gain = _segment_line_rss(x, start[i], end[i + 1]) - cost[i] - cost[i + 1]
        heap.append((gain, i, i + 1, 0, 0))
    heapq.heapify(heap)
    step = 0
    while heap:
        _, i, j, vi, vj = heapq.heappop(heap)
        if rank[i] < m or rank[j] < m or version[i] != vi or version[j] != vj:
            continue
        end[i] = end[j]
        cost[i] = _segment_line_rss(x, start[i], end[i])
        version[i] += 1
        rank[j] = step
        step += 1
        nxt[i] = nxt[j]
        if nxt[i] < m:
            prv[nxt[i]] = i
            k = nxt[i]
            gain = _segment_line_rss(x, start[i], end[k]) - cost[i] - cost[k]
            heapq.heappush(heap, (gain, i, k, version[i], version[k]))
        if prv[i] >= 0:
            k = prv[i]
            gain = _segment_line_rss(x, start[k], end[i]) - cost[k] - cost[i]
            heapq.heappush(heap, (gain, k, i, version[k], version[i]))
    return rank


def ablation_scores(x: Array) -> dict[str, Array]:
    """EntroPE's model-free boundary scores per sample ``t`` (a cut before ``t``), from
    the windows ``left = x[t-w:t]`` and ``right = x[t:t+w]``; ``-inf`` where a window
    does not fit."""
    w, n = ABLATION_WINDOW, len(x)
    t = np.arange(w, n - w + 1)
    windows = sliding_window_view(x, w)
    left, right = windows[t - w], windows[t]
    # histogram entropy of the left window, 8 bins over the series' range
    bins = np.minimum(((x - x.min()) / (np.ptp(x) + 1e-12) * HIST_BINS).astype(int), HIST_BINS - 1)
    counts = np.cumsum(np.eye(HIST_BINS)[bins], axis=0)
    counts = np.vstack([np.zeros(HIST_BINS), counts])
    p = (counts[t] - counts[t - w]) / w
    entropy = -np.sum(p * np.log(np.where(p > 0, p, 1.0)), axis=1)
    spectra = np.abs(np.fft.rfft(left, axis=1)), np.abs(np.fft.rfft(right, axis=1))
    inner = {
        "variance ratio": np.abs(np.log((right.var(1) + 1e-8) / (left.var(1) + 1e-8))),
        "CUSUM": np.abs(right.mean(1) - left.mean(1)),
        "histogram entropy": entropy,
        "spectral distance": np.sqrt(np.sum((spectra[1] - spectra[0]) ** 2, axis=1)),
    }
    scores = {"local difference": np.r_[-np.inf, np.abs(np.diff(x))]}
    for name, values in inner.items():
        full = np.full(n, -np.inf)
        full[t] = values
        scores[name] = full
    return scores


def top_starts(score: Array, k: int) -> Starts:
    """Segment starts: 0 and the ``k - 1`` highest-scoring positions (ties: earliest)."""
    cuts = np.argsort(-score, kind="stable")[: k - 1]
    return np.concatenate([[0], np.sort(cuts)]).astype(np.int64)


def entroseg_starts(x: npt.NDArray[Any], options: dict[str, Any]) -> Starts:
    """``entroseg.segment`` starts, without its target-missed UserWarning (the achieved
    length is reported instead)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return np.asarray(entroseg.segment(x, **options).starts, dtype=np.int64)


def method_starts(
    s: Series,
    length: int,
    rank: npt.NDArray[np.int64],
    scores: dict[str, Array],
    symbols: npt.NDArray[np.uint8],
    seed: int,
) -> dict[str, list[Starts]]:
    """Every method's starts on ``s`` at mean length ``length``; a list of draws (one
    except for ``random``)."""
    n = len(s.x)
    k = max(round(n / length), 1)
    out: dict[str, list[Starts]] = {}
    for name, (on_symbols, options) in ENTROSEG_METHODS.items():
        out[name] = [
            entroseg_starts(symbols if on_symbols else s.x, {"target_len": length, **options})
        ]
    ends = entroseg.change_points(s.x, n_bkps=k - 1, min_size=max(length // 4, 2))
    out["change_points"] = [np.concatenate([[0], ends[:-1]]).astype(np.int64)]
    out["fixed"] = [np.arange(0, n, length, dtype=np.int64)]
    rng = np.random.default_rng([seed, length])
    out["random"] = [
        np.concatenate([[0], np.sort(rng.choice(n - 1, k - 1, replace=False) + 1)]).astype(np.int64)
        for _ in range(RANDOM_DRAWS)
    ]
    out.update({name: [top_starts(score, k)] for name, score in scores.items()})
    first = np.arange(0, n, 2, dtype=np.int64)
    out["bottom-up (offline)"] = [first[rank >= len(first) - k]]
    return out


# ---------------------------------------------------------------------- evaluation


def evaluate(series: list[Series]) -> dict[tuple[str, int], list[Score]]:
    """Scores of every method on every series at every ``L``."""
    results: dict[tuple[str, int], list[Score]] = {}
    for index, s in enumerate(series):
        rank = bottom_up_rank(s.x)
        scores = ablation_scores(s.x)
        symbols = entroseg.quantize(s.x, method="quantile", bins=SYMBOLS)
        for length in LENGTHS:
            draws = method_starts(s, length, rank, scores, symbols, index)
            fixed = draws["fixed"][0]
            base_line, base_dct = line_rss(s.x, fixed), dct_rss(s.x, fixed)
            for name, cut_sets in draws.items():
                results.setdefault((name, length), []).append(Score(
                    s,
                    float(np.mean([line_rss(s.x, c) / base_line for c in cut_sets])),
                    float(np.mean([dct_rss(s.x, c) / base_dct for c in cut_sets])),
                    float(np.mean([len(s.x) / len(c) / length for c in cut_sets])),
                ))  # fmt: skip
    return results


def markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A markdown table, first column left-aligned, the others right-aligned."""
    align = [":---"] + ["---:"] * (len(header) - 1)
    return [f"| {' | '.join(r)} |" for r in (header, align, *rows)]


def quality_tables(results: dict[tuple[str, int], list[Score]]) -> list[str]:
    """One summary table per ``L`` and the per-series table at ``L = 32``."""
    lines: list[str] = []
    methods = list(dict.fromkeys(name for name, _ in results))
    header = [
        "method", "line (real, median)", "DCT-4 (real, median)", "line < 1 (real)",
        "line (all, median)", "mean len / L (min..max)", "off > 5%",
    ]  # fmt: skip
    for length in LENGTHS:
        rows = []
        for name in methods:
            scores = results[name, length]
            real = [sc for sc in scores if sc.series.group in REAL_GROUPS]
            lengths = [sc.length for sc in scores]
            rows.append([
                name,
                f"{np.median([sc.line for sc in real]):.3f}",
                f"{np.median([sc.dct for sc in real]):.3f}",
                f"{sum(sc.line < 1 for sc in real)}/{len(real)}",
                f"{np.median([sc.line for sc in scores]):.3f}",
                f"{min(lengths):.2f}..{max(lengths):.2f}",
                str(sum(abs(v - 1) > TARGET_TOLERANCE for v in lengths)),
            ])  # fmt: skip
        lines += [f"\n## L = {length}: error ratio to fixed patches (lower is better)\n"]
        lines += markdown_table(header, rows)
    lines += ["\n## Per series, L = 32: line error ratio to fixed patches\n"]
    per_series = [results[name, 32] for name in PER_SERIES_METHODS]
    rows = [
        [col[0].series.name, col[0].series.group, f"{len(col[0].series.x):,}"]
        + [f"{col[i].line:.3f}" for col in per_series]
        for i, col in enumerate(zip(*per_series, strict=True))
    ]
    lines += markdown_table(["series", "group", "n", *PER_SERIES_METHODS], rows)
    return lines


def throughput_table(n: int) -> list[str]:
    """Single-threaded ``entroseg.segment`` rates on an ``n``-sample random walk: the
    price batch calibration finds for ``target_len = 32`` given as a fixed threshold (the
    streaming steady state), the batch calibration itself, and online calibration."""
    x = random_walk(np.random.default_rng(0), n)
    methods: list[tuple[str, dict[str, Any]]] = [
        ("line", {}),
        ("line degree=0", {"method": "line", "degree": 0}),
        ("permutation d=3 W=64", {"method": "permutation", "order": 3, "window": 64}),
    ]
    rows = []
    for name, options in methods:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            found = entroseg.segment(x, target_len=32, calibration="batch", **options)
        assert found.calibration is not None
        threshold = found.calibration.threshold
        rules: list[tuple[str, dict[str, Any]]] = [
            (f"threshold={threshold:.4g} (calibrated, then fixed)", {"threshold": threshold}),
            ("target_len=32, batch", {"target_len": 32, "calibration": "batch"}),
            ("target_len=32, online", {"target_len": 32, "calibration": "online"}),
        ]
        for rule, extra in rules:
            call = functools.partial(entroseg_starts, x, {**options, **extra})
            seconds = best_of(3, call, warmup=True)
            rows.append([
                name, rule, f"{n / seconds / 1e6:.1f}", f"{n / len(call()):.1f}",
            ])  # fmt: skip
    lines = [f"\n## Throughput: entroseg.segment on a {n:,}-sample random walk, one thread\n"]
    header = ["method", "rule", "M samples/s (best of 3)", "mean length"]
    footnote = [
        "\ncalibrated, then fixed: the threshold batch calibration found for target_len=32 "
        "(Segments.calibration.threshold), given as a fixed threshold: what a stream runs "
        "at once its price is known. Permutation entropy ties are broken by position in "
        "batch, so its fixed threshold alone gives a slightly different mean."
    ]
    return lines + markdown_table(header, rows) + footnote


def budget_table(series: list[Series]) -> list[str]:
    """Per-series ``target_len`` against one shared ``budget`` at the same total, on the
    real series and on all of them as one batch each (see the module docstring)."""
    header = [
        "batch", "method", "L", "tokens (target_len / budget / by error)",
        "line, batch sum (target_len / budget / by error)",
        "DCT-4, batch sum (target_len / budget / by error)",
        "line, median per series (target_len / budget / by error)",
        "tokens per series, max/min (budget / by error)",
    ]  # fmt: skip
    rows = []
    groups = (("real", [s for s in series if s.group in REAL_GROUPS]), ("all", series))
    for group, batch in groups:
        values = np.concatenate([s.x for s in batch])
        offsets = np.concatenate([[0], np.cumsum([len(s.x) for s in batch])])
        for length in LENGTHS:
            fixed = [np.arange(0, len(s.x), length, dtype=np.int64) for s in batch]
            base_line = [line_rss(s.x, f) for s, f in zip(batch, fixed, strict=True)]
            base_dct = [dct_rss(s.x, f) for s, f in zip(batch, fixed, strict=True)]
            for name, options in BUDGET_METHODS.items():
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)
                    per = entroseg.segment_batch(
                        values, offsets, target_len=length, calibration="batch", **options
                    )
                    shared = entroseg.segment_batch(values, offsets, budget=len(per), **options)
                    fitted = entroseg.segment_batch(
                        values, offsets, budget=len(per), budget_by="error", **options
                    )
                cells = []
                for seg in (per, shared, fitted):
                    starts = [np.asarray(seg.series(b).starts) for b in range(len(batch))]
                    line = [line_rss(s.x, c) for s, c in zip(batch, starts, strict=True)]
                    dcts = [dct_rss(s.x, c) for s, c in zip(batch, starts, strict=True)]
                    cells.append((
                        sum(line) / sum(base_line),
                        sum(dcts) / sum(base_dct),
                        float(np.median(np.divide(line, base_line))),
                    ))  # fmt: skip
                spread = [
                    f"{(d := s.series_counts / s.series_lengths).max() / d.min():.1f}x"
                    for s in (shared, fitted)
                ]
                rows.append([
                    group, name, str(length), f"{len(per):,} / {len(shared):,} / {len(fitted):,}",
                    " / ".join(f"{c[0]:.3f}" for c in cells),
                    " / ".join(f"{c[1]:.3f}" for c in cells),
                    " / ".join(f"{c[2]:.3f}" for c in cells),
                    " / ".join(spread),
                ])  # fmt: skip
    lines = [
        "\n## One budget for the batch against per-series target_len, same total\n",
        "Error ratios to fixed patches of length L (lower is better): the batch's summed "
        "error over the batch's summed fixed-patch error, and the median of the per-series "
        "ratios. Tokens per series, max/min: the densest series' tokens per sample over the "
        "sparsest's under the shared budget (per-series targets give about 1x).\n",
    ]
    return lines + markdown_table(header, rows)


def machine_header(series: list[Series]) -> list[str]:
    """Versions, machine and the series list."""
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    return [
        "# entroseg patch benchmark",
        "",
        f"- machine: {platform.machine()}, {os.cpu_count()} logical cores, load avg {load}",
        f"- python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
        f"numba {nb.__version__}, aeon {aeon.__version__}, entroseg {entroseg.__version__}",
        f"- series ({len(series)}): "
        + ", ".join(f"{s.name} [{s.group}] {len(s.x):,}" for s in series),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter series, smaller timing run")
    parser.add_argument("--out", type=Path, help="also write the markdown to this file")
    parser.add_argument("--wfdb-dir", default="/tmp/wfdb", help="wfdb sample records")
    parser.add_argument(
        "--budget-only", action="store_true", help="only the shared-budget comparison"
    )
    args = parser.parse_args()

    began = time.perf_counter()
    notes: list[str] = []
    series = load_series(args, notes)
    lines: list[str] = []

    def emit(text: list[str]) -> None:
        print("\n".join(text), flush=True)
        lines.extend(text)

    emit(machine_header(series) + [f"- note: {note}" for note in notes])
    if not args.budget_only:
        emit(quality_tables(evaluate(series)))
    emit(budget_table(series))
    if not args.budget_only:
        emit(throughput_table(1_000_000 if args.quick else 10_000_000))
    emit(["", f"- total run time {time.perf_counter() - began:.0f} s"])
    if args.out is not None:
        args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
