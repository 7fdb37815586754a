"""Method "line": segments close where the open segment's least-squares fit would fail
to code the next sample. Checked against a reference that refits from scratch at every
sample, across every surface, and for what it is for (cuts at the changes a line cannot
follow, the target length met)."""

from __future__ import annotations

import pickle
import warnings

import entroseg
import numpy as np
import pytest
from entroseg import _reference_segments as ref
from hypothesis import given, settings
from hypothesis import strategies as st


def starts_reasons(seg: entroseg.Segments) -> list[tuple[int, int]]:
    return list(zip(seg.starts.tolist(), seg.reasons.tolist(), strict=True))


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(st.floats(-3, 3), min_size=1, max_size=160),
    threshold=st.floats(0.01, 20.0),
    degree=st.sampled_from([0, 1]),
    min_len=st.integers(1, 6),
    extra=st.one_of(st.none(), st.integers(0, 40)),
    holes=st.lists(st.integers(0, 159), max_size=4),
)
def test_the_rule_is_the_reference(
    steps: list[float],
    threshold: float,
    degree: int,
    min_len: int,
    extra: int | None,
    holes: list[int],
) -> None:
    x = np.cumsum(steps)
    for h in holes:
        if h < len(x):
            x[h] = np.nan
    max_len = None if extra is None else min_len + extra
    opts = dict(threshold=threshold, degree=degree, min_len=min_len, max_len=max_len)
    got = entroseg.segment(x, method="line", nan_policy="propagate", **opts)
    want = ref.line_starts(x, **opts)  # type: ignore[arg-type]
    assert starts_reasons(got) == want
    assert got.num_samples == len(x)


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    cuts=st.lists(st.integers(1, 1999), max_size=12),
    target=st.sampled_from([6.0, 24.0]),
)
def test_any_chunking_and_checkpoint_give_the_one_shot_segments(
    seed: int, cuts: list[int], target: float
) -> None:
    x = np.cumsum(np.random.default_rng(seed).standard_normal(2000))
    for opts in (dict(threshold=1.5, max_len=50), dict(target_len=target)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # 2,000 samples: online may miss
            one = entroseg.segment(x, calibration="online", **opts)  # type: ignore[arg-type]
        s = entroseg.Segmenter(**opts)  # type: ignore[arg-type]
        parts = []
        for a, b in zip([0, *sorted(cuts)], [*sorted(cuts), len(x)], strict=True):
            parts.append(s.push(x[a:b]))
            s = entroseg.Segmenter.from_checkpoint(s.checkpoint())
        parts.append(s.finish())
        assert entroseg.Segments.join(parts) == one


def test_steps_are_cut_where_they_are() -> None:
    # A piecewise-constant signal: degree 0 cuts exactly at the level changes.
    rng = np.random.default_rng(1)
    levels = np.cumsum(rng.choice([-5.0, -3.0, 3.0, 5.0], size=20))
    x = np.repeat(levels, 100) + 0.1 * rng.standard_normal(2000)
    seg = entroseg.segment(x, degree=0, threshold=1.0)
    assert seg.starts.tolist() == list(range(0, 2000, 100))
    # A line follows ramps: a piecewise-linear signal is cut at its kinks only.
    slopes = np.tile([0.5, -0.5], 10)
    y = np.cumsum(np.repeat(slopes, 100)) + 0.01 * rng.standard_normal(2000)
    seg = entroseg.segment(y, threshold=0.5)
    assert seg.starts.tolist() == list(range(0, 2000, 100))


def line_error(x: np.ndarray, seg: entroseg.Segments) -> float:
    """What a straight line per segment fails to reconstruct (residual sum of squares)."""
    return sum(
        ref.fit_rss(np.arange(n), x[a : a + n], 1)
        for a, n in zip(seg.starts.tolist(), seg.lengths.tolist(), strict=True)
    )


def test_segments_follow_what_a_line_can_represent() -> None:
    # Flat noise, then a chirp whose frequency rises: segments shorten as it speeds up,
    # and a line per segment reconstructs far more than fixed patches of the same count.
    rng = np.random.default_rng(2)
    t = np.arange(4000)
    x = np.concatenate([0.3 * rng.standard_normal(4000), 3 * np.sin(t**2 / 4e4)])
    seg = entroseg.segment(x, target_len=32)
    fixed = entroseg.Segments(np.arange(0, 8000, 32), np.full(250, 32))
    assert line_error(x, seg) < 0.25 * line_error(x, fixed)
    chirp = seg.lengths[seg.starts >= 4000]
    assert np.mean(chirp[: len(chirp) // 4]) > 3 * np.mean(chirp[-len(chirp) // 4 :])


@pytest.mark.parametrize("target", [8.0, 16.0, 32.0, 64.0])
@pytest.mark.parametrize("kind", ["walk", "sine", "regimes"])
def test_batch_calibration_meets_the_target(kind: str, target: float) -> None:
    rng = np.random.default_rng(int(target))
    n = 6000
    t = np.arange(n)
    x = {
        "walk": np.cumsum(rng.standard_normal(n)),
        "sine": np.sin(t / 15.0) + 0.05 * rng.standard_normal(n),
        "regimes": np.concatenate(
            [np.zeros(2000), np.sin(t[:2000] / 5.0), rng.standard_normal(2000)]
        )
        + 0.01 * rng.standard_normal(n),
    }[kind]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a missed target would warn
        seg = entroseg.segment(x, target_len=target)
    assert abs(n / len(seg) / target - 1.0) <= 0.05


def test_online_calibration_approaches_the_target_on_a_long_stream() -> None:
    x = np.cumsum(np.random.default_rng(3).standard_normal(100_000))
    s = entroseg.Segmenter(target_len=32)
    seg = entroseg.Segments.join([s.push(x), s.finish()])
    assert abs(len(x) / len(seg) / 32 - 1.0) <= 0.05


def test_errors_name_the_problem() -> None:
    x = np.arange(10.0)
    with pytest.raises(entroseg.InvalidParameterError, match="degree must be 0"):
        entroseg.segment(x, degree=2, threshold=1.0)
    with pytest.raises(entroseg.InvalidParameterError, match="degree is the polynomial"):
        entroseg.segment(x, method="permutation", window=4, degree=1, threshold=1.0)
    with pytest.raises(entroseg.InvalidParameterError, match="relative and combine"):
        entroseg.segment(x, relative=0.5)
    with pytest.raises(entroseg.InvalidParameterError, match="presets do not apply"):
        entroseg.segment(x, method="line", preset="blt")
    with pytest.raises(entroseg.InvalidParameterError, match="no profile apart from its cuts"):
        entroseg.profile(x)
    with pytest.raises(entroseg.NonFiniteError):
        entroseg.segment(np.array([1.0, np.nan, 2.0]), threshold=1.0)
    assert entroseg.SegmentSpec(threshold=1.0).method == "line"
    assert entroseg.SegmentSpec(window=8, threshold=1.0).method == "permutation"


def test_symbol_input_keeps_a_symbol_method() -> None:
    # With nothing but target_len, floats get method "line" and unsigned-integer symbol
    # arrays (bytes, DNA codes, quantized series) the next-symbol model.
    x = np.cumsum(np.random.default_rng(4).standard_normal(3000))
    sym = entroseg.quantize(x, method="quantile", bins=8)
    assert sym.dtype == np.uint8
    got = entroseg.segment(sym, target_len=16)
    assert got == entroseg.segment(sym, method="next_symbol", target_len=16)
    assert entroseg.segment_parallel(sym, chunks=3, target_len=16) == got
    batch = entroseg.segment_batch(np.concatenate([sym, sym]), [0, 3000, 6000], target_len=16)
    assert batch.series(1) == got
    assert entroseg.segment(x, target_len=16) == entroseg.segment(x, method="line", target_len=16)
    # Signed integers are values, not symbols.
    counts = np.round(x).astype(np.int64)
    assert entroseg.segment(counts, threshold=1.0) == entroseg.segment(
        counts.astype(float), threshold=1.0
    )


# ---- (n, c): one fit per channel ------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 120),
    c=st.integers(2, 4),
    threshold=st.floats(0.05, 20.0),
    degree=st.sampled_from([0, 1]),
    channels=st.sampled_from(["sum", "max"]),
    min_len=st.integers(1, 5),
    extra=st.one_of(st.none(), st.integers(0, 30)),
    holes=st.lists(st.tuples(st.integers(0, 119), st.integers(0, 3)), max_size=3),
)
def test_multichannel_fits_are_the_reference(
    seed: int,
    n: int,
    c: int,
    threshold: float,
    degree: int,
    channels: str,
    min_len: int,
    extra: int | None,
    holes: list[tuple[int, int]],
) -> None:
    rng = np.random.default_rng(seed)
    x = np.cumsum(rng.standard_normal((n, c)) * rng.uniform(0.2, 3.0, c), axis=0)
    for t, k in holes:
        if t < n and k < c:
            x[t, k] = np.nan
    max_len = None if extra is None else min_len + extra
    opts = dict(threshold=threshold, degree=degree, min_len=min_len, max_len=max_len)
    got = entroseg.segment(x, nan_policy="propagate", channels=channels, **opts)  # type: ignore[arg-type]
    want = ref.line_starts(x, channels=channels, **opts)  # type: ignore[arg-type]
    assert starts_reasons(got) == want
    # F-ordered input is the same series.
    again = entroseg.segment(
        np.asfortranarray(x),
        nan_policy="propagate",
        channels=channels,
        **opts,  # type: ignore[arg-type]
    )
    assert again == got


def test_multichannel_fits_stream_calibrate_and_batch() -> None:
    rng = np.random.default_rng(5)
    x = np.cumsum(rng.standard_normal((6000, 3)), axis=0)
    x[3000:3500, 2] += 10 * rng.standard_normal(500)  # a burst in channel 2 only
    one = entroseg.segment(x, threshold=4.0, max_len=128)
    # Streamed in uneven chunks, through a checkpoint: the same segments.
    s = entroseg.Segmenter(threshold=4.0, max_len=128)
    parts = []
    for a, b in [(0, 1), (1, 700), (700, 3001), (3001, 6000)]:
        parts.append(s.push(x[a:b]))
        s = pickle.loads(pickle.dumps(s))
    parts.append(s.finish())
    assert entroseg.Segments.join(parts) == one
    # The burst is cut finer than the calm stretches around it.
    mean_len = np.diff(one.starts)
    inside = mean_len[(one.starts[:-1] >= 3000) & (one.starts[:-1] < 3500)].mean()
    outside = mean_len[one.starts[:-1] < 2500].mean()
    assert inside < outside / 2, (inside, outside)
    # target_len in batch is met like in 1-D.
    seg = entroseg.segment(x, target_len=32)
    assert abs(len(x) / len(seg) / 32 - 1) < 0.01
    # A batch: each series as if alone; a budget spreads one total over the batch.
    offsets = [0, 2000, 6000]
    batch = entroseg.segment_batch(x, offsets, threshold=4.0, max_len=128)
    for b in range(2):
        alone = entroseg.segment(x[offsets[b] : offsets[b + 1]], threshold=4.0, max_len=128)
        assert batch.series(b) == alone
    for by in ("information", "error"):
        shared = entroseg.segment_batch(x, offsets, budget=150, budget_by=by)  # type: ignore[arg-type]
        assert abs(len(shared) - 150) <= 3, (by, len(shared))


def test_one_channel_is_the_1d_rule_and_max_differs_from_sum() -> None:
    rng = np.random.default_rng(6)
    x = np.cumsum(rng.standard_normal(3000))
    assert entroseg.segment(x[:, None], threshold=2.0) == entroseg.segment(x, threshold=2.0)
    two = np.stack([x, np.cumsum(rng.standard_normal(3000))], axis=1)
    total = entroseg.segment(two, threshold=2.0)
    largest = entroseg.segment(two, threshold=2.0, channels="max")
    # The largest increase is at most the sum: never more cuts under "max".
    assert len(largest) < len(total)
