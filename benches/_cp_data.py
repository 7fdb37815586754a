"""Change-point evaluation data that installs from the registries (no download at run time).

Each loader returns a list of ``(name, x, change_points)`` with ``change_points`` the
sorted starts of the regimes after the first (the convention of ``entroseg.metrics``).

- :func:`tssb_aeon`: the two series of the TSSB segmentation benchmark that aeon ships.
- :func:`ucr_concatenations`: series built the way that benchmark was built, by
  concatenating instances of one class into a segment and segments of different classes
  into a series, from the UCR panels aeon ships (GunPoint, ArrowHead, OSULeaf,
  ItalyPowerDemand, ACSF1, UnitTest, PickupGestureWiimoteZ, and one channel of
  BasicMotions). The 75-series benchmark itself (beyond aeon's two) is not used here.
- :func:`generated`: regimes of different dynamics, Gaussian mean-and-scale shifts, trend
  changes, AR noise with level shifts, each with a seed.
- :func:`short_series`: short series (30 to 800 samples) of level and trend shifts with
  0 to 3 change points, the shape of economic and climate series.

Not part of the test suite.
"""

from __future__ import annotations

import numpy as np

Series = tuple[str, np.ndarray, np.ndarray]


def tssb_aeon() -> list[Series]:
    from aeon.datasets import load_electric_devices_segmentation, load_gun_point_segmentation

    out = []
    for name, load in (
        ("GunPoint", load_gun_point_segmentation),
        ("ElectricDevices", load_electric_devices_segmentation),
    ):
        ts, _period, cps = load()
        out.append((f"tssb-{name}", np.asarray(ts, dtype=np.float64), np.asarray(cps)))
    return out


def _panel(name: str) -> tuple[list[np.ndarray], np.ndarray]:
    """A UCR panel's instances (train and test) as 1-D arrays, and their labels."""
    import aeon.datasets as ad

    loaders = {
        "GunPoint": ad.load_gunpoint,
        "ArrowHead": ad.load_arrow_head,
        "OSULeaf": ad.load_osuleaf,
        "ItalyPowerDemand": ad.load_italy_power_demand,
        "ACSF1": ad.load_acsf1,
        "UnitTest": ad.load_unit_test,
        "BasicMotions": ad.load_basic_motions,
        "PickupGestureWiimoteZ": ad.load_pickup_gesture_wiimoteZ,
    }
    x, y = loaders[name]()
    instances = []
    for inst in x:
        a = np.asarray(inst, dtype=np.float64)
        a = a[0] if a.ndim == 2 else a  # first channel of a multivariate panel
        instances.append(a[np.isfinite(a)])
    return instances, np.asarray(y)


UCR_PANELS = (
    "GunPoint",
    "ArrowHead",
    "OSULeaf",
    "ItalyPowerDemand",
    "ACSF1",
    "UnitTest",
    "BasicMotions",
    "PickupGestureWiimoteZ",
)


def ucr_concatenations(per_panel: int = 3, seed: int = 0) -> list[Series]:
    """``per_panel`` series per UCR panel: 2 to 5 distinct classes in random order (a class
    may come back after another one, as in the benchmark), each segment 3 to 10 instances
    of its class, at least 400 samples when the instances are short."""
    rng = np.random.default_rng(seed)
    out = []
    for panel in UCR_PANELS:
        instances, labels = _panel(panel)
        classes = np.unique(labels)
        by_class = {c: [i for i in range(len(labels)) if labels[i] == c] for c in classes}
        mean_len = float(np.mean([len(a) for a in instances]))
        for k in range(per_panel):
            n_seg = int(rng.integers(2, min(len(classes), 4) + 2))
            order: list = []
            while len(order) < n_seg:
                c = classes[int(rng.integers(len(classes)))]
                if not order or c != order[-1]:
                    order.append(c)
            parts, cps, pos = [], [], 0
            for c in order:
                count = int(rng.integers(3, 11))
                count = max(count, int(np.ceil(400 / mean_len)))
                pool = by_class[c]
                pick = rng.choice(len(pool), size=count, replace=count > len(pool))
                seg = np.concatenate([instances[pool[i]] for i in pick])
                if pos:
                    cps.append(pos)
                parts.append(seg)
                pos += len(seg)
            out.append((f"ucr-{panel}-{k}", np.concatenate(parts), np.asarray(cps)))
    return out


def _ar1(rng: np.random.Generator, n: int, max_phi: float) -> np.ndarray:
    """AR(1) noise of unit variance, its coefficient drawn uniformly below ``max_phi``."""
    phi = rng.uniform(0.0, max_phi)
    e = rng.standard_normal(n)
    noise = np.empty(n)
    acc = 0.0
    for t in range(n):
        acc = phi * acc + e[t]
        noise[t] = acc
    return noise * np.sqrt(1 - phi * phi)


def _lengths(rng: np.random.Generator, n: int, n_regimes: int, min_len: int) -> np.ndarray:
    w = rng.dirichlet(np.ones(n_regimes)) * 0.7 + 0.3 / n_regimes
    lengths = np.maximum((w * n).astype(int), min_len)
    lengths[-1] = max(n - lengths[:-1].sum(), min_len)
    return lengths


def dynamics(n: int, n_regimes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Regimes of different dynamics (white noise, AR(1), noisy sine, random walk,
    square wave), each randomly rescaled and shifted."""
    rng = np.random.default_rng(seed)
    lengths = _lengths(rng, n, n_regimes, 50)
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
            phi = rng.uniform(0.6, 0.95)
            seg = np.empty(length)
            acc = 0.0
            for t in range(length):
                acc = phi * acc + e[t]
                seg[t] = acc
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


def gaussian(n: int, n_regimes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """White Gaussian noise whose mean and standard deviation change at each regime."""
    rng = np.random.default_rng(seed)
    lengths = _lengths(rng, n, n_regimes, 20)
    parts = [rng.normal(rng.normal(0, 1.0), rng.uniform(0.3, 2.0), m) for m in lengths]
    return np.concatenate(parts), np.cumsum(lengths)[:-1]


def trend(n: int, n_regimes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A continuous piecewise-linear trend (slopes change at the change points) plus
    AR(1) noise."""
    rng = np.random.default_rng(seed)
    lengths = _lengths(rng, n, n_regimes, 20)
    level, parts = 0.0, []
    for m in lengths:
        slope = rng.normal(0, 4.0) / m * 4
        seg = level + slope * np.arange(1, m + 1)
        level = float(seg[-1])
        parts.append(seg)
    return np.concatenate(parts) + _ar1(rng, n, 0.7), np.cumsum(lengths)[:-1]


def level_ar(n: int, n_regimes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Level shifts of 1 to 3 noise standard deviations in AR(1) noise."""
    rng = np.random.default_rng(seed)
    lengths = _lengths(rng, n, n_regimes, 20)
    levels = np.cumsum(rng.choice([-1, 1], size=len(lengths)) * rng.uniform(1.0, 3.0, len(lengths)))
    return np.repeat(levels, lengths) + _ar1(rng, n, 0.6), np.cumsum(lengths)[:-1]


GENERATORS = {"dynamics": dynamics, "gaussian": gaussian, "trend": trend, "level-ar": level_ar}


def generated(n: int = 5000, n_regimes: int = 6, seeds: int = 5, offset: int = 0) -> list[Series]:
    out = []
    for kind, make in GENERATORS.items():
        for s in range(offset, offset + seeds):
            x, cps = make(n, n_regimes, s)
            out.append((f"gen-{kind}-{s}", x, cps))
    return out


def short_series(count: int = 40, seed: int = 0) -> list[Series]:
    """Short series: 30 to 800 samples, 0 to 3 change points of level or slope, noise
    white or AR(1); a quarter have no change at all."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(count):
        n = int(np.exp(rng.uniform(np.log(30), np.log(800))))
        n_cp = int(rng.choice([0, 1, 1, 2, 3]))
        n_cp = min(n_cp, max(n // 20 - 1, 0))
        kind = str(rng.choice(["level", "trend", "both"]))
        if n_cp:
            cps = np.sort(rng.choice(np.arange(8, n - 8), size=n_cp, replace=False))
            while np.any(np.diff(np.concatenate([[0], cps, [n]])) < 8):
                cps = np.sort(rng.choice(np.arange(8, n - 8), size=n_cp, replace=False))
        else:
            cps = np.zeros(0, dtype=np.int64)
        bounds = np.concatenate([[0], cps, [n]])
        level = np.zeros(n)
        slope = np.full(n, rng.normal(0, 0.02))
        for a in bounds[1:-1]:
            if kind in ("level", "both"):
                level[a:] += rng.choice([-1, 1]) * rng.uniform(1.5, 4.0)
            if kind in ("trend", "both"):
                slope[a:] += rng.choice([-1, 1]) * rng.uniform(0.03, 0.15)
        signal = level + np.cumsum(slope)
        noise = _ar1(rng, n, 0.5)
        scale = rng.uniform(0.1, 100.0)
        out.append((f"short-{kind}-{k}", (signal + noise) * scale + rng.normal(0, 50), cps))
    return out


def _quarter(year: int, quarter: int) -> int:
    """Row of statsmodels' macrodata (quarterly from 1959Q1) for a year and quarter."""
    return (year - 1959) * 4 + quarter - 1


def statsmodels_series() -> list[Series]:
    """Real quarterly US series from statsmodels' ``macrodata`` (1959Q1-2009Q3), with
    change points dated by documented events rather than by eye:

    - real GDP growth (quarterly log difference): the fall in its volatility from 1984Q1
      (the "Great Moderation"; McConnell & Perez-Quiros, American Economic Review 2000,
      date the break at 1984Q1);
    - the 3-month Treasury bill rate: the Federal Reserve's change of operating procedure
      in October 1979 (1979Q4) and its end in late 1982 (1982Q4);
    - the unemployment rate: the starts of the NBER recessions of 1973Q4, 1980Q1, 1981Q3,
      1990Q3, 2001Q1 and 2007Q4 after which it rose for at least four quarters
      (business-cycle peaks from the NBER chronology).

    The Nile, which the issue reserves, is not used. Dates are the first quarter of the
    new regime; a growth series' rows are one quarter later than its level's.
    """
    import statsmodels.api as sm

    d = sm.datasets.macrodata.load_pandas().data
    gdp = np.diff(np.log(d["realgdp"].to_numpy(dtype=np.float64)))
    peaks = ((1973, 4), (1980, 1), (1981, 3), (1990, 3), (2001, 1), (2007, 4))
    out: list[Series] = [
        ("macro-gdp-growth", gdp * 100, np.array([_quarter(1984, 1) - 1])),
        (
            "macro-tbilrate",
            d["tbilrate"].to_numpy(dtype=np.float64),
            np.array([_quarter(1979, 4), _quarter(1982, 4)]),
        ),
        (
            "macro-unemp",
            d["unemp"].to_numpy(dtype=np.float64),
            np.array([_quarter(y, q) for y, q in peaks]),
        ),
    ]
    return out
