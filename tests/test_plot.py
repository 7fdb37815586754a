"""entroseg.plot: the figure holds the data it claims, and the PNG is a real image."""

from __future__ import annotations

from pathlib import Path

import entroseg
import numpy as np
import pytest
from entroseg.plot import plot_segments, score_profile

matplotlib = pytest.importorskip("matplotlib")


def _colour_fraction(image: np.ndarray, rgb: tuple[int, int, int], tol: float = 0.06) -> float:
    target = np.array(rgb) / 255.0
    close = np.all(np.abs(image[..., :3] - target) < tol, axis=-1)
    return float(close.mean())


def test_png_has_three_panels_with_the_data(tmp_path: Path) -> None:
    import matplotlib.image

    x, starts = entroseg.sample_series(1500)
    seg = entroseg.segment(
        x, order=4, window=64, target_len=40, calibration="batch", min_len=4, max_len=400
    )
    path = tmp_path / "fig.png"
    fig = plot_segments(x, seg, truth=starts, path=path, order=4, window=64)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    image = matplotlib.image.imread(path)
    assert image.shape == (700, 1200, 4)
    # The signal (blue), profile (red) and lengths (green) are actually drawn.
    for colour in ((0x3B, 0x6E, 0xA8), (0xC8, 0x55, 0x3D), (0x2A, 0x9D, 0x8F)):
        assert _colour_fraction(image, colour) > 0.002, colour
    _, ax_p, ax_l = fig.axes
    # The profile panel shows the permutation entropy (long series: a min-max envelope
    # whose extremes are the profile's).
    prof = entroseg.permutation_entropy(x, order=4, window=64)
    lo, hi = ax_p.get_ylim()
    assert lo <= np.nanmin(prof) and np.nanmax(prof) <= hi
    # The length panel spans the segment lengths.
    lo, hi = ax_l.get_ylim()
    assert lo <= seg.lengths.min() and seg.lengths.max() <= hi
    assert f"{len(seg):,} segments" in fig.get_suptitle()


def test_short_series_draws_lines_and_boundaries() -> None:
    x = np.sin(np.arange(300) / 5.0)
    e = np.abs(np.diff(x, prepend=0.0))
    seg = entroseg.boundaries(e, threshold=0.15, min_len=5)
    fig = plot_segments(x, seg, profile=e)
    ax_x, ax_p, _ = fig.axes
    (line,) = ax_x.get_lines()
    assert np.array_equal(line.get_ydata(), x)
    # One boundary line per segment start after the first.
    segments_drawn = sum(len(c.get_segments()) for c in ax_p.collections)
    assert segments_drawn == len(seg) - 1


@pytest.mark.parametrize(
    ("options", "reference"),
    [
        (dict(order=3, window=20),
         lambda x, s: entroseg.permutation_entropy(x, order=3, window=20)),
        (dict(method="conditional", context=1, window=16, alphabet_size=4),
         lambda x, s: entroseg.conditional_entropy(s, context=1, window=16, alphabet_size=4)),
        (dict(method="next_symbol", context=2, alphabet_size=4, statistic="surprisal"),
         lambda x, s: entroseg.next_symbol_entropy(s, context=2, alphabet_size=4)[1]),
        (dict(method="scores", threshold=0.3), lambda x, s: x),
    ],
)  # fmt: skip
def test_score_profile_is_the_profile_segment_cuts(options: dict, reference: object) -> None:
    rng = np.random.default_rng(0)
    x, s = rng.random(400), rng.integers(0, 4, 400)
    data = s if options.get("method") in ("conditional", "next_symbol") else x
    got = score_profile(data, **options)
    assert np.array_equal(got, reference(x, s), equal_nan=True)  # type: ignore[operator]


def test_mismatched_inputs_are_rejected() -> None:
    x = np.arange(100.0)
    other = entroseg.boundaries(np.ones(50), max_len=10)
    with pytest.raises(ValueError, match="one series of 100 samples"):
        plot_segments(x, other, profile=x)
    with pytest.raises(ValueError, match="profile must have the shape"):
        plot_segments(x, entroseg.boundaries(x, max_len=10), profile=x[:10])
    with pytest.raises(entroseg.InvalidParameterError, match="give window"):
        score_profile(x, order=3)
