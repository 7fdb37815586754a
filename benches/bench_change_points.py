"""Change points with the number of regimes unknown: entroseg against ClaSP and ClaSS
(claspy) and ruptures (Binseg, Pelt, BottomUp, Window) on public data (covering, F1 with
margin 5, time); the same with the true number given; entroseg's throughput on a long
series.

    python benches/bench_change_points.py [--peers cached|fresh|none] [--big 1000000]

Data (``benches/_cp_data.py``, nothing downloaded at run time): the two TSSB series aeon
ships, series concatenated from classes of the UCR panels aeon ships (the way TSSB was
built), generated regimes (dynamics, Gaussian mean and scale, trend, level shifts in AR
noise) and short series (30 to 800 samples) of level and trend shifts. The 75-series
benchmark beyond aeon's two and the Turing change-point dataset are kept for evaluation
and not used.

Peers run on one core (``n_jobs=1``). ClaSP takes minutes, so the peers' results and
times are cached in ``~/.cache/entroseg/cp-bench`` keyed by each series' bytes;
``--peers fresh`` recomputes them, ``--peers none`` leaves them out. entroseg always runs.
Needs the bench extra plus ``claspy`` (``pip install claspy``; it pins its own numba).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import _cp_data as data
import entroseg
import numpy as np
from entroseg.metrics import covering, f1_score

warnings.filterwarnings("ignore")

CACHE = Path(os.environ.get("ENTROSEG_CACHE", Path.home() / ".cache" / "entroseg")) / "cp-bench"

# A method maps (x, true number of change points) to the predicted change points.
Method = Callable[[np.ndarray, int], list[int]]


def _ends_to_cps(ends, n: int) -> list[int]:
    return [int(c) for c in ends if 0 < int(c) < n]


def _streamed(x: np.ndarray, chunk: int = 1000) -> list[int]:
    """The streaming detector with its defaults, fed ``chunk`` samples at a time."""
    det = entroseg.ChangePointDetector()
    found = [det.push(x[i : i + chunk]).start for i in range(0, len(x), chunk)]
    found.append(det.finish().start)
    return [int(c) for c in np.concatenate(found)]


def entroseg_methods() -> dict[str, Method]:
    return {
        "entroseg change_points (default)": lambda x, k: _ends_to_cps(
            entroseg.change_points(x), len(x)
        ),
        "entroseg ChangePointDetector (streaming, default)": lambda x, k: _streamed(x),
    }


def _rss_mb() -> float:
    """Resident memory of this process now (Linux), in MB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def stream_long(n: int, report_every: int) -> None:
    """The detector over ``n`` samples generated chunk by chunk (regimes of 5,000 to
    50,000 samples of white noise, oscillation or AR(1)): throughput and resident memory
    as the stream grows, and detection quality against the generated change points."""
    print(f"\n### Streaming {n:,} samples (defaults, chunks of 100,000)\n")
    print("| samples | M samples/s (detector) | RSS (MB) | retained samples | covering so far |")
    print("|---:|---:|---:|---:|---:|")
    rng = np.random.default_rng(0)
    det = entroseg.ChangePointDetector()
    truth: list[int] = []
    found: list[int] = []
    regime_left, kind, phase, ar = 0, 0, 0.0, 0.0
    seconds, seen, chunk = 0.0, 0, 100_000
    while seen < n:
        m = min(chunk, n - seen)
        x = np.empty(m)
        i = 0
        while i < m:
            if regime_left == 0:
                regime_left = int(rng.integers(5_000, 50_000))
                kind = (kind + 1 + int(rng.integers(0, 2))) % 3
                if seen + i > 0:
                    truth.append(seen + i)
            k = min(regime_left, m - i)
            if kind == 0:
                x[i : i + k] = rng.standard_normal(k)
            elif kind == 1:
                t = phase + np.arange(k)
                x[i : i + k] = np.sin(2 * np.pi * t / 17) + 0.3 * rng.standard_normal(k)
                phase += k
            else:
                e = rng.standard_normal(k)
                e[0] += 0.8 * ar
                x[i : i + k] = _ar(e, 0.8)
                ar = x[i + k - 1]
            i += k
            regime_left -= k
        t0 = time.perf_counter()
        found.extend(int(c) for c in det.push(x).start)
        seconds += time.perf_counter() - t0
        seen += m
        if seen % report_every == 0 or seen == n:
            cov = covering([c for c in truth if c < seen], found, seen)
            print(
                f"| {seen:,} | {seen / seconds / 1e6:.2f} | {_rss_mb():.0f} | "
                f"{det.retained:,} | {cov:.3f} |"
            )
    found.extend(int(c) for c in det.finish().start)
    print(
        f"\n{len(truth)} true change points, {len(found)} found; covering "
        f"{covering(truth, found, n):.3f}, "
        f"F1 (margin 50) {f1_score(truth, found, n, margin=50):.3f}"
    )


def _ar(e: np.ndarray, phi: float) -> np.ndarray:
    """AR(1) filter of innovations ``e``."""
    from scipy.signal import lfilter

    return lfilter([1.0], [1.0, -phi], e)


def known_count_methods() -> dict[str, Method]:
    table: dict[str, Method] = {
        "entroseg change_points (n_bkps)": lambda x, k: _ends_to_cps(
            entroseg.change_points(x, n_bkps=k), len(x)
        ),
    }
    try:
        import ruptures as rpt
    except ImportError:
        return table
    table["ruptures BottomUp (normal, n_bkps)"] = lambda x, k: _ends_to_cps(
        rpt.BottomUp(model="normal", min_size=20).fit(x).predict(n_bkps=k), len(x)
    )
    table["ruptures Binseg (normal, n_bkps)"] = lambda x, k: _ends_to_cps(
        rpt.Binseg(model="normal", min_size=20).fit(x).predict(n_bkps=k)
        if len(x) >= 20 * (k + 1)
        else [],
        len(x),
    )
    return table


def _standardised(x: np.ndarray) -> np.ndarray:
    return (x - x.mean()) / (x.std() or 1.0)


def peer_methods() -> dict[str, Method]:
    table: dict[str, Method] = {}
    try:
        import ruptures as rpt
    except ImportError:
        print("ruptures is not installed: skipping it")
    else:

        def penalised(algo: type, model: str) -> Method:
            # TCPDBench's default experiment: standardised series, SIC penalty 2 ln n.
            def run(x: np.ndarray, k: int) -> list[int]:
                ms = min(20, max(len(x) // 4, 2))
                fitted = algo(model=model, min_size=ms).fit(_standardised(x))
                return _ends_to_cps(fitted.predict(pen=2 * math.log(len(x))), len(x))

            return run

        table["ruptures Binseg (l2, pen 2 ln n, standardised)"] = penalised(rpt.Binseg, "l2")
        table["ruptures BottomUp (l2, pen 2 ln n, standardised)"] = penalised(rpt.BottomUp, "l2")
        table["ruptures Pelt (normal, pen 2 ln n, standardised)"] = penalised(rpt.Pelt, "normal")

        def window(x: np.ndarray, k: int) -> list[int]:
            width = max(2 * min(50, len(x) // 8), 4)
            fitted = rpt.Window(model="l2", width=width).fit(_standardised(x))
            return _ends_to_cps(fitted.predict(pen=2 * math.log(len(x))), len(x))

        table["ruptures Window (l2, pen 2 ln n, standardised)"] = window
    try:
        from claspy.segmentation import BinaryClaSPSegmentation
        from claspy.streaming.segmentation import StreamingClaSPSegmentation
    except ImportError:
        print("claspy is not installed: skipping ClaSP and ClaSS")
    else:

        def clasp(x: np.ndarray, k: int) -> list[int]:
            try:
                found = BinaryClaSPSegmentation(n_jobs=1).fit_predict(x)
            except Exception:  # ClaSP refuses some short series
                found = []
            return _ends_to_cps(found, len(x))

        def class_stream(x: np.ndarray, k: int) -> list[int]:
            warm = min(10_000, max(len(x) // 5, 100))
            try:
                model = StreamingClaSPSegmentation(n_timepoints=10_000, n_warmup=warm, log_cps=True)
                for v in x:
                    model.update(float(v))
                found = model.change_points
            except Exception:  # too short for its window
                found = []
            return _ends_to_cps(found, len(x))

        table["claspy ClaSP (BinaryClaSPSegmentation)"] = clasp
        table["claspy ClaSS (streaming)"] = class_stream
    return table


_COMPUTED: set[str] = set()


def _key(x: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(x).tobytes()).hexdigest()[:16]


def run(
    label: str, method: Method, series: list[data.Series], cache: str
) -> list[tuple[list[int], float]]:
    """Per series: found change points and seconds; peers through the cache."""
    path = CACHE / (hashlib.sha1(label.encode()).hexdigest()[:12] + ".json")
    stored: dict = {}
    if cache != "off" and path.exists():
        stored = json.loads(path.read_text())
    out = []
    for name, x, cps in series:
        key = f"{name}:{_key(x)}"
        # "fresh" recomputes what an earlier run stored, once per run.
        if key in stored and (cache == "cached" or key in _COMPUTED):
            out.append((stored[key]["cps"], stored[key]["seconds"]))
            continue
        t = time.perf_counter()
        found = method(x, len(cps))
        seconds = time.perf_counter() - t
        out.append((found, seconds))
        _COMPUTED.add(key)
        if cache != "off":
            stored[key] = {"cps": found, "seconds": seconds}
            CACHE.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(stored))
    return out


def table(
    title: str, series: list[data.Series], methods: dict[str, tuple[Method, str]]
) -> dict[str, tuple[float, float, float]]:
    total = sum(len(x) for _, x, _ in series)
    print(f"\n#### {title} ({len(series)} series, {total:,} samples)\n")
    print("| method | covering | F1 (margin 5) | time (s) | time / entroseg default |")
    print("|---|---:|---:|---:|---:|")
    rows = {}
    for label, (method, cache) in methods.items():
        results = run(label, method, series, cache)
        cov = [covering(c, f, len(x)) for (_, x, c), (f, _) in zip(series, results, strict=True)]
        f1 = [
            f1_score(c, f, len(x), margin=5)
            for (_, x, c), (f, _) in zip(series, results, strict=True)
        ]
        rows[label] = (float(np.mean(cov)), float(np.mean(f1)), sum(s for _, s in results))
    base = next(iter(rows.values()))[2] or 1e-9
    for label, (cov, f1, seconds) in rows.items():
        ratio = seconds / base
        digits = 0 if ratio >= 10 else 1
        print(f"| {label} | {cov:.3f} | {f1:.3f} | {seconds:.3f} | {ratio:.{digits}f}x |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--peers", choices=("cached", "fresh", "none"), default="cached")
    parser.add_argument("--big", type=int, default=1_000_000)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--stream", type=int, default=100_000_000, help="samples (0: skip)")
    args = parser.parse_args()
    print(f"entroseg {entroseg.__version__}")
    ours = {label: (m, "off") for label, m in entroseg_methods().items()}
    peers = {} if args.peers == "none" else peer_methods()
    cache = "cached" if args.peers == "cached" else "fresh"
    methods = {**ours, **{label: (m, cache) for label, m in peers.items()}}
    groups = {
        "TSSB series aeon ships": data.tssb_aeon(),
        "UCR class concatenations (TSSB-style)": data.ucr_concatenations(),
        "Generated regimes (dynamics, Gaussian, trend, level), n = 5,000": data.generated(
            seeds=args.seeds
        ),
        "Short series (30-800 samples) of level and trend shifts": data.short_series(),
        "statsmodels macro series (documented breaks)": data.statsmodels_series(),
    }
    print("\n### Number of change points unknown (defaults)")
    summary = {name: table(name, series, methods) for name, series in groups.items()}
    everything = [s for series in groups.values() for s in series]
    table("All of the above", everything, methods)
    del summary

    print("\n### Number of change points given")
    known = {label: (m, "off") for label, m in known_count_methods().items()}
    for name, series in groups.items():
        if not name.startswith(("Short", "statsmodels")):
            table(name, series, known)

    n = args.big
    x, cps = data.dynamics(n, 50, 0)
    print(f"\n### One series of {n:,} samples, {len(cps)} change points\n")
    print("| method | time (s) | M samples/s | covering | F1 (margin 5) |")
    print("|---|---:|---:|---:|---:|")
    for label, call in (
        ("entroseg change_points (default)", lambda: entroseg.change_points(x)),
        ("entroseg change_points (n_bkps)", lambda: entroseg.change_points(x, n_bkps=len(cps))),
        ("entroseg ChangePointDetector (streaming)", lambda: np.array(_streamed(x, 65536))),
    ):
        t = time.perf_counter()
        found = _ends_to_cps(call(), n)
        seconds = time.perf_counter() - t
        print(
            f"| {label} | {seconds:.3f} | {n / seconds / 1e6:.2f} | "
            f"{covering(cps, found, n):.3f} | {f1_score(cps, found, n):.3f} |"
        )
    if args.stream:
        stream_long(args.stream, max(args.stream // 10, 100_000))


if __name__ == "__main__":
    main()
