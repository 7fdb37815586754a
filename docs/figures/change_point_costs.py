"""The README's figure: which change-point cost fits which kind of regime.

    python docs/figures/change_point_costs.py     # writes change_point_costs.png beside it

Three generated series (seeded, so the figure is reproducible): regimes that differ in
dynamics, in level and scale, and in slope. Each row shows the true change points (grey)
and those found with the number of regimes unknown by the ordinal cost (the default from
1,000 samples), the level-and-scale cost and the own-line cost.
"""

from __future__ import annotations

from pathlib import Path

import entroseg
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np


def series() -> list[tuple[str, np.ndarray, list[int]]]:
    rng = np.random.default_rng(7)
    noise = rng.standard_normal(700)
    wave = np.sin(np.arange(600) * 2 * np.pi / 14) + 0.25 * rng.standard_normal(600)
    ar = np.zeros(700)
    e = rng.standard_normal(700)
    for t in range(1, 700):
        ar[t] = 0.9 * ar[t - 1] + e[t]
    dynamics = np.concatenate([noise, wave, ar / ar.std()])
    level = np.concatenate([rng.normal(0, 1, 600), rng.normal(2.5, 1, 700), rng.normal(1, 3, 700)])
    t = np.arange(2000)
    slope = np.where(t < 800, 0.01, np.where(t < 1400, -0.02, 0.015))
    trend = np.cumsum(slope) + 0.4 * rng.standard_normal(2000)
    return [
        ("dynamics change (noise, oscillation, AR(0.9))", dynamics, [700, 1300]),
        ("level and scale change", level, [600, 1300]),
        ("slope change", trend, [800, 1400]),
    ]


COSTS = [
    ("ordinal (order=4)", {"order": 4}, "tab:blue"),
    ("level & scale (order=None, variance=True)", {"order": None, "variance": True}, "tab:orange"),
    ("own line (order=None, trend=True)", {"order": None, "trend": True}, "tab:green"),
]


def main() -> None:
    rows = series()
    fig, axes = plt.subplots(len(rows), 1, figsize=(10, 7.5), sharex=True, layout="constrained")
    for ax, (title, x, truth) in zip(axes, rows, strict=True):
        ax.plot(x, color="0.35", lw=0.6)
        lo, hi = float(x.min()), float(x.max())
        for c in truth:
            ax.axvline(c, color="0.6", lw=4, alpha=0.5)
        for k, (label, kwargs, colour) in enumerate(COSTS):
            found = [int(c) for c in entroseg.change_points(x, **kwargs)[:-1]]
            y = hi + (k + 1) * 0.12 * (hi - lo)
            ax.plot(found, [y] * len(found), "v", color=colour, ms=8, label=label)
        ax.set_title(title, fontsize=10, loc="left")
        ax.set_yticks([])
    axes[-1].set_xlabel("sample (grey bars: true change points; markers: found, count unknown)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=3, fontsize=8, frameon=False)
    out = Path(__file__).with_suffix(".png")
    fig.savefig(out, dpi=90)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
