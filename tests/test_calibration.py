"""target_len is honoured: batch calibration breaks tied scores by a documented,
deterministic rule, and the result says how the target was met."""

from __future__ import annotations

import pickle
import warnings

import entroseg
import entroseg.arrow
import numpy as np
import pyarrow as pa
import pytest


def tie_heavy_symbols() -> np.ndarray:
    # The field-notes case: 16 quantile symbols of a 960-sample walk, next-symbol
    # entropy with a context of 2: a context seen once gives the same entropy at more
    # than fifty positions.
    x = np.cumsum(np.random.default_rng(5).standard_normal(960))
    return entroseg.quantize(x, method="quantile", bins=16)


@pytest.mark.parametrize("target", [8.0, 12.0, 16.0, 24.0, 32.0, 48.0, 64.0])
def test_tie_heavy_scores_meet_every_target(target: float) -> None:
    sym = tie_heavy_symbols()
    opts = dict(method="next_symbol", context=2, alphabet_size=16, target_len=target)
    scores = entroseg.profile(sym, **opts)
    _, counts = np.unique(scores, return_counts=True)
    assert counts.max() > 50  # the ties are there
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a missed target would warn
        seg = entroseg.segment(sym, **opts)
    cal = seg.calibration
    assert cal is not None and cal.met and cal.calibration == "batch"
    assert abs(len(sym) / len(seg) - target) <= 0.05 * target
    assert cal.achieved == len(sym) / len(seg)
    # The same cut from the scores, on every one-shot surface.
    assert entroseg.boundaries(scores, nan_policy="propagate", target_len=target) == seg
    batch = entroseg.segment_batch(np.concatenate([sym, sym]), [0, 960, 1920], **opts)
    assert batch.series(0) == seg and batch.series(1) == seg
    assert entroseg.segment_parallel(sym, chunks=3, **opts) == seg


def test_ties_are_broken_only_when_needed_and_a_threshold_reproduces_the_cut() -> None:
    x = np.cumsum(np.random.default_rng(0).standard_normal(5000))
    for opts in (dict(target_len=32.0), dict(degree=0, target_len=20.0, max_len=90)):
        seg = entroseg.segment(x, **opts)
        cal = seg.calibration
        assert cal is not None and cal.tie_cut == 0 and cal.met
        # Continuous prices: the threshold alone gives the same segments, in a stream too.
        fixed = {k: v for k, v in opts.items() if k != "target_len"}
        assert entroseg.segment(x, threshold=cal.threshold, **fixed) == seg
        s = entroseg.Segmenter(threshold=cal.threshold, **fixed)
        assert entroseg.Segments.join([s.push(x), s.finish()]) == seg
    # A windowed permutation entropy takes few distinct values: ties decide the target.
    seg = entroseg.segment(x, window=64, target_len=20.0)
    assert seg.calibration is not None and seg.calibration.tie_cut > 0 and seg.calibration.met


def test_calibration_is_reported_online_and_absent_without_a_target() -> None:
    x = np.cumsum(np.random.default_rng(1).standard_normal(20_000))
    seg = entroseg.segment(x, target_len=32, calibration="online")
    cal = seg.calibration
    assert cal is not None and cal.calibration == "online" and cal.tie_cut == 0
    s = entroseg.Segmenter(target_len=32)
    streamed = entroseg.Segments.join([s.push(x), s.finish()])
    assert streamed == seg
    assert s._inner.threshold == (cal.threshold, 0)
    assert entroseg.segment(x, threshold=5.0).calibration is None
    assert entroseg.Segments.join([seg]).calibration is None


def test_a_target_the_scores_cannot_meet_is_reported() -> None:
    # Ten samples make 2 segments (mean 5) or 3 (mean 3.33): 4 is out of reach.
    with pytest.warns(UserWarning, match="target_len=4 missed"):
        seg = entroseg.boundaries(np.arange(10.0), target_len=4)
    assert seg.calibration is not None and not seg.calibration.met


def test_a_stream_that_misses_its_target_says_so_at_finish() -> None:
    # A flat stream: no residual ever grows, one segment of 600 samples for a target of 8.
    flat = np.ones(600)
    s = entroseg.Segmenter(target_len=8)
    s.push(flat[:250])
    s = pickle.loads(pickle.dumps(s))  # the count survives a checkpoint
    s.push(flat[250:])
    with pytest.warns(UserWarning, match=r"target_len=8 missed: .*\(1 segments over 600"):
        s.finish()
    # A long stream meets it: no warning.
    x = np.cumsum(np.random.default_rng(2).standard_normal(50_000))
    s = entroseg.Segmenter(target_len=32)
    s.push(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s.finish()
    # The Arrow step warns once for the keys that missed.
    table = pa.table({"k": [0] * 600 + [1] * 50_000, "x": np.concatenate([flat, x])})
    with pytest.warns(UserWarning, match="target_len=32 missed in 1 of 2 series"):
        entroseg.arrow.segment_stream(
            table, value_column="x", key_column="k", target_len=32
        ).read_all()


def test_blending_context_lengths_leaves_the_cold_tied_regime() -> None:
    # The same short, large-alphabet stream: backing off, more than fifty positions share
    # the entropy of a context seen once; blending every context length (Witten-Bell)
    # makes that value depend on what the shorter contexts predict.
    sym = tie_heavy_symbols()
    opts = dict(method="next_symbol", context=2, alphabet_size=16)
    backed_off = entroseg.profile(sym, **opts)
    blended = entroseg.profile(sym, blend=True, **opts)
    _, tied = np.unique(backed_off, return_counts=True)
    _, tied_blend = np.unique(blended, return_counts=True)
    assert tied_blend.max() < tied.max() / 4
    assert len(np.unique(blended)) > 2 * len(np.unique(backed_off))
    assert np.all((blended >= 0) & (blended <= 1))
    # A stream and a checkpoint give the same values.
    p = entroseg.Profiler(blend=True, **opts)
    head = p.push(sym[:333])
    p = pickle.loads(pickle.dumps(p))
    assert np.array_equal(np.concatenate([head, p.push(sym[333:])]), blended)
    with pytest.raises(entroseg.InvalidParameterError, match="blend mixes the context"):
        entroseg.SegmentSpec(window=8, blend=True, threshold=1.0)
