"""Merge plans and per-segment rates, against slow references and invariants."""

from __future__ import annotations

import itertools
import math

import entroseg
import numpy as np
import pytest
from entroseg import _reference_merge as ref
from hypothesis import example, given
from hypothesis import strategies as st

# -- helpers ------------------------------------------------------------------------


def check_invariants(plan: entroseg.MergePlan, offsets: list[int], window: int, n: int) -> None:
    """Order, contiguity, window, sizes, series separation, per-level bookkeeping."""
    prev = n
    for level in plan:
        g = level.num_groups
        assert len(level.group_ids) == prev
        prev = g
        assert level.source.dtype == np.int32 and level.group_ids.dtype == np.int32
        assert level.cu_seqlens.dtype == np.int32
        assert len(level.source) == n
        # Order preserved and groups contiguous: the map never decreases, steps by <= 1.
        assert np.all(np.diff(level.source) >= 0) and np.all(np.diff(level.source) <= 1)
        assert np.all(np.diff(level.group_ids) >= 0) and np.all(np.diff(level.group_ids) <= 1)
        spans = np.diff(level.cu_seqlens)
        assert np.all(spans >= 1) and np.all(spans <= window)
        assert np.array_equal(np.repeat(np.arange(g), spans), level.source)
        assert np.allclose(level.log_sizes, np.log(level.sizes))
        assert level.series_offsets[-1] == g
        for b in range(len(offsets) - 1):
            lo, hi = offsets[b], offsets[b + 1]
            glo, ghi = level.series_offsets[b], level.series_offsets[b + 1]
            if hi > lo:
                assert level.source[lo] == glo and level.source[hi - 1] == ghi - 1
            else:
                assert glo == ghi


def level_pair_values(
    groups: list[list[int]], offsets: list[int], profile: np.ndarray, window: int
) -> list[list[float]]:
    """Per series, the similarity of each adjacent pair of groups (profile mode, one
    sample per unit), -inf when the merged group would exceed the window."""
    out: list[list[float]] = []
    for b in range(len(offsets) - 1):
        mine = [gr for gr in groups if offsets[b] <= gr[0] < offsets[b + 1]]
        vals = []
        for a, c in itertools.pairwise(mine):
            if len(a) + len(c) > window:
                vals.append(-math.inf)
            else:
                rows_a = [list(np.atleast_1d(profile[u])) for u in a]
                rows_c = [list(np.atleast_1d(profile[u])) for u in c]
                vals.append(ref.profile_similarity(rows_a, rows_c))
        out.append(vals)
    return out


series_st = st.lists(st.integers(0, 14), min_size=1, max_size=3)


@st.composite
def profile_case(draw: st.DrawFn) -> tuple[list[int], np.ndarray]:
    lens = draw(series_st)
    offsets = [0, *np.cumsum(lens).tolist()]
    n = offsets[-1]
    values = draw(st.lists(st.integers(0, 6), min_size=n, max_size=n))
    return offsets, np.array(values, dtype=np.float64) / 2.0


# -- the per-level choice is optimal and exact ----------------------------------------


@given(profile_case(), st.lists(st.integers(0, 6), min_size=1, max_size=3), st.integers(2, 7))
@example(([0, 5], np.array([0.0, 0.0, 5.0, 5.0, 9.0])), [2, 1], 4)
@example(([0, 3], np.array([4.0, 5.0, 4.0])), [1], 2)
def test_each_level_takes_the_best_disjoint_pairs(
    case: tuple[list[int], np.ndarray], counts: list[int], window: int
) -> None:
    offsets, profile = case
    n = offsets[-1]
    plan = entroseg.merge_plan(profile=profile, series_offsets=offsets, r=counts, window=window)
    check_invariants(plan, offsets, window, n)
    groups = [[u] for u in range(n)]
    for level, r in zip(plan, counts, strict=True):
        values = level_pair_values(groups, offsets, profile, window)
        new_groups = ref.groups_from_source(level.source.tolist())
        for b, vals in enumerate(values):
            best = ref.best_pair_sets(vals)
            capacity = max(best)
            assert level.capacity[b] == capacity
            assert level.requested[b] == r
            assert level.achieved[b] == min(r, capacity)
            # The chosen pairs' total similarity is the best possible for that count.
            mine = [gr for gr in groups if offsets[b] <= gr[0] < offsets[b + 1]]
            total = 0.0
            for j, (a, c) in enumerate(itertools.pairwise(mine)):
                if level.source[a[0]] == level.source[c[0]]:
                    total += vals[j]
            assert total == pytest.approx(best[int(level.achieved[b])], abs=1e-9)
        groups = new_groups


@given(profile_case(), st.integers(-6, 1), st.integers(2, 6))
def test_threshold_levels_maximise_the_excess(
    case: tuple[list[int], np.ndarray], t: int, window: int
) -> None:
    offsets, profile = case
    threshold = t / 4.0
    plan = entroseg.merge_plan(
        profile=profile, series_offsets=offsets, threshold=threshold, levels=2, window=window
    )
    check_invariants(plan, offsets, window, offsets[-1])
    groups = [[u] for u in range(offsets[-1])]
    for level in plan:
        values = level_pair_values(groups, offsets, profile, window)
        for b, vals in enumerate(values):
            excess = [v - threshold for v in vals]
            best = max(ref.best_pair_sets(excess).values())
            mine = [gr for gr in groups if offsets[b] <= gr[0] < offsets[b + 1]]
            total = 0.0
            for j, (a, c) in enumerate(itertools.pairwise(mine)):
                if level.source[a[0]] == level.source[c[0]]:
                    assert vals[j] > threshold
                    total += excess[j]
            assert total == pytest.approx(best, abs=1e-9)
            assert level.thresholds[b] == threshold and level.requested[b] == -1
        groups = ref.groups_from_source(level.source.tolist())


# -- batches, schedules ---------------------------------------------------------------


@given(profile_case(), st.lists(st.integers(0, 5), min_size=1, max_size=3), st.integers(2, 6))
def test_series_in_a_batch_are_planned_alone(
    case: tuple[list[int], np.ndarray], counts: list[int], window: int
) -> None:
    offsets, profile = case
    plan = entroseg.merge_plan(profile=profile, series_offsets=offsets, r=counts, window=window)
    for b in range(len(offsets) - 1):
        lo, hi = offsets[b], offsets[b + 1]
        alone = entroseg.merge_plan(profile=profile[lo:hi], r=counts, window=window)
        for level, single in zip(plan, alone, strict=True):
            first = level.series_offsets[b]
            assert np.array_equal(level.source[lo:hi] - first, single.source)
            glo, ghi = level.series_offsets[b], level.series_offsets[b + 1]
            assert np.array_equal(level.sizes[glo:ghi], single.sizes)
            assert level.achieved[b] == single.achieved[0]


@pytest.mark.parametrize(
    ("r", "levels"),
    [(8, 4), ((8, -1.0), 5), ((8, 1.0), 3), ((5, -0.5), 4), ((3, 0.25), 6), ((7, -1.0), 1)],
)
def test_tome_forms_follow_the_published_schedule(r: int | tuple[int, float], levels: int) -> None:
    rng = np.random.default_rng(1)
    profile = rng.standard_normal(400)
    plan = entroseg.merge_plan(profile=profile, r=r, levels=levels, window=1 << 20)
    rr, inflect = (r, 0.0) if isinstance(r, int) else r
    expected = ref.tome_schedule(rr, inflect, levels)
    assert [int(lv.requested[0]) for lv in plan] == expected
    assert [int(lv.achieved[0]) for lv in plan] == expected  # 400 units: always feasible


def test_list_schedule_pads_with_zeros_like_tome() -> None:
    plan = entroseg.merge_plan(profile=np.arange(10.0), r=[2, 1], levels=4)
    assert [int(lv.requested[0]) for lv in plan] == [2, 1, 0, 0]
    assert plan[3].num_groups == 7


@given(
    st.integers(1, 300), st.sampled_from([0.05, 0.2, 0.25, 0.3, 0.5, 0.77, 1.0]), st.integers(1, 4)
)
def test_ratio_reaches_its_target_when_feasible(n: int, ratio: float, levels: int) -> None:
    profile = np.sin(np.arange(n) / 3.0)
    plan = entroseg.merge_plan(profile=profile, ratio=ratio, levels=levels, window=1 << 20)
    target = math.ceil(ratio * n - 1e-9)
    assert plan[-1].num_groups >= target
    # Each level can at most halve: reachable iff ceil(n * ratio) >= n / 2^levels.
    if ratio >= 0.5**levels:
        assert plan[-1].num_groups == target
        assert plan.feasible
    for lv in plan:
        assert lv.num_groups == lv.series_offsets[-1]


def test_ema_threshold_follows_its_rule() -> None:
    rng = np.random.default_rng(3)
    profile = np.repeat(rng.uniform(0, 1, 30), rng.integers(1, 5, 30))
    momentum, initial, window = 0.7, -0.05, 6
    plan = entroseg.merge_plan(
        profile=profile, schedule="ema", threshold=initial, momentum=momentum, levels=3,
        window=window,
    )  # fmt: skip
    groups = [[u] for u in range(len(profile))]
    tau = initial
    for level in plan:
        (vals,) = level_pair_values(groups, [0, len(profile)], profile, window)
        best = []
        for g in range(len(groups)):
            around = [vals[j] for j in (g - 1, g) if 0 <= j < len(vals)]
            around = [v for v in around if v > -math.inf]
            if around:
                best.append(max(around))
        tau = momentum * tau + (1 - momentum) * (sum(best) / len(best))
        assert level.thresholds[0] == pytest.approx(tau, abs=1e-12)
        groups = ref.groups_from_source(level.source.tolist())


# -- similarity sources -----------------------------------------------------------------


def test_segments_with_a_profile_use_every_sample() -> None:
    # Two series; the profile is per sample, groups are described by all their samples.
    seg = entroseg.Segments(
        starts=[0, 2, 5, 0, 3], lengths=[2, 3, 1, 3, 2], series_offsets=[0, 3, 5]
    )
    h = np.array([0.0, 0.2, 0.1, 0.1, 0.1, 0.9, 0.5, 0.5, 0.5, 0.4, 0.6])
    plan = entroseg.merge_plan(seg, profile=h, r=1, levels=1, weights=seg.lengths)
    # Series 0: segment means 0.1, 0.1, 0.9 -> the first pair merges.
    assert plan[0].source.tolist() == [0, 0, 1, 2, 2]
    assert plan[0].sizes.tolist() == [5, 1, 5]
    assert plan.num_units == 5 and plan.num_series == 2
    assert np.allclose(plan.pool(entroseg.segment_means(seg, h), weights=seg.lengths)[0], 0.1)


@given(st.integers(2, 12), st.integers(1, 4), st.integers(0, 2**31))
def test_cosine_levels_are_optimal(n: int, dim: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    vectors = rng.integers(-2, 3, size=(n, dim)).astype(np.float32)
    weights = rng.integers(1, 4, size=n)
    plan = entroseg.merge_plan(vectors=vectors, weights=weights, r=[2, 1], window=4)
    check_invariants(plan, [0, n], 4, n)
    groups = [[u] for u in range(n)]
    for level in plan:
        sums = [sum(weights[u] * vectors[u].astype(np.float64) for u in gr) for gr in groups]
        vals = [
            -math.inf
            if len(a) + len(c) > 4
            else ref.cosine_similarity(list(sums[i]), list(sums[i + 1]))
            for i, (a, c) in enumerate(itertools.pairwise(groups))
        ]
        best = ref.best_pair_sets(vals)
        total = sum(v for j, v in enumerate(vals) if level.group_ids[j] == level.group_ids[j + 1])
        assert total == pytest.approx(best[int(level.achieved[0])], abs=1e-6)
        assert level.sizes.sum() == weights.sum()
        groups = ref.groups_from_source(level.source.tolist())


def test_max_size_limits_group_weight() -> None:
    weights = np.array([3, 1, 1, 3, 1, 1])
    plan = entroseg.merge_plan(
        profile=np.zeros(6), weights=weights, max_size=4, r=[3, 3], window=16
    )
    for level in plan:
        assert level.sizes.max() <= 4
    assert plan[0].sizes.tolist() == [4, 4, 2]


def test_pool_and_unmerge_round_trip() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, 3))
    plan = entroseg.merge_plan(vectors=x, ratio=0.25, levels=2, window=8)
    pooled = plan.pool(x)
    assert pooled.shape == (plan[-1].num_groups, 3)
    back = plan.unmerge(pooled)
    assert back.shape == x.shape
    for g in range(plan[-1].num_groups):
        members = plan[-1].source == g
        assert np.allclose(back[members], x[members].mean(axis=0))
    with pytest.raises(ValueError, match="50 rows"):
        plan.pool(x[:3])
    with pytest.raises(ValueError, match="one per group"):
        plan.unmerge(x)


# -- rates ---------------------------------------------------------------------------


@given(
    st.lists(st.tuples(st.integers(1, 15), st.integers(0, 5)), min_size=1, max_size=8),
    st.integers(5, 100),
    st.sampled_from([(1, 2, 4), (1, 3), (2, 4, 8), (1,)]),
)
def test_rates_keep_the_most_within_budget(
    segs: list[tuple[int, int]], pct: int, factors: tuple[int, ...]
) -> None:
    lengths = [s[0] for s in segs]
    scores = [s[1] / 2.0 for s in segs]
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    seg = entroseg.Segments(starts, lengths)
    rates = entroseg.assign_rates(seg, scores, keep_ratio=pct / 100, factors=factors)
    n = sum(lengths)
    budget = max(1, math.floor(pct / 100 * n))
    assert rates.budgets.tolist() == [budget]
    # The reference picks the smallest candidate threshold within budget.
    candidates = sorted({f * s for s in scores for f in factors[1:]} | {-math.inf})
    fits = [
        t for t in candidates if ref.kept_with_threshold(scores, lengths, factors, t)[1] <= budget
    ]
    theta = fits[0] if fits else candidates[-1]
    want, kept = ref.kept_with_threshold(scores, lengths, factors, theta)
    assert rates.factors.tolist() == want
    assert rates.kept.tolist() == [kept]
    assert bool(rates.feasible[0]) == (kept <= budget)
    expected_idx = [a + j * f for a, ln, f in zip(starts, lengths, want, strict=True)
                    for j in range(-(-ln // f))]  # fmt: skip
    assert rates.kept_indices.tolist() == expected_idx


def test_rates_per_series_and_strict() -> None:
    # Series 0 (lengths 3, 3) cannot fit 3 tokens with factors (1, 2): at best 2 + 2.
    seg = entroseg.Segments([0, 3, 0], [3, 3, 6], series_offsets=[0, 2, 3])
    rates = entroseg.assign_rates(seg, [0.0, 2.0, 1.0], keep_ratio=0.5, factors=(1, 2))
    assert rates.factors.tolist() == [2, 2, 2]
    assert rates.kept.tolist() == [4, 3]
    assert rates.budgets.tolist() == [3, 3]
    assert rates.thresholds.tolist() == [4.0, 2.0]
    assert rates.feasible.tolist() == [False, True]
    assert rates.kept_indices.tolist() == [0, 2, 3, 5, 6, 8, 10]
    with pytest.raises(entroseg.InvalidParameterError, match="series 0 keeps 4 of 6 tokens"):
        entroseg.assign_rates(seg, [0.0, 2.0, 1.0], keep_ratio=0.5, factors=(1, 2), strict=True)


def test_segment_means_match_a_loop() -> None:
    seg = entroseg.segment(
        entroseg.sample_series(500)[0], order=3, window=32, target_len=20, calibration="batch"
    )
    h = entroseg.permutation_entropy(entroseg.sample_series(500)[0], order=3, window=32)
    means = entroseg.segment_means(seg, h)
    for i, (a, ln) in enumerate(zip(seg.starts, seg.lengths, strict=True)):
        part = h[a : a + ln]
        part = part[~np.isnan(part)]
        assert (np.isnan(means[i]) and len(part) == 0) or means[i] == pytest.approx(part.mean())


# -- bad input ------------------------------------------------------------------------


IPE = entroseg.InvalidParameterError


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"window": 1, "r": 1, "levels": 1}, IPE, "window must be >= 2, got 1"),
        ({"ratio": 0.0, "levels": 1}, IPE, r"ratio must be in \(0, 1\], got 0"),
        ({"ratio": 1.5, "levels": 2}, IPE, "got 1.5"),
        ({"r": -1, "levels": 2}, IPE, "r must be >= 0, got -1"),
        ({"r": [2, -1]}, IPE, r"r\[1\] must be >= 0, got -1"),
        ({"r": []}, IPE, "empty list"),
        ({"r": 2, "levels": 0}, IPE, "levels must be >= 1, got 0"),
        ({"r": 2}, IPE, "needs levels"),
        ({"r": [1, 1, 1], "levels": 2}, IPE, "r lists 3 levels"),
        ({"r": (2, 1.5), "levels": 3}, IPE, r"inflect must be in \[-1, 1\], got 1.5"),
        ({"schedule": "cosine", "levels": 2}, IPE, "schedule must be .*got 'cosine'"),
        ({"r": 1, "ratio": 0.5, "levels": 2}, ValueError, "exactly one schedule"),
        ({}, ValueError, "exactly one schedule"),
        ({"schedule": "ema", "momentum": 1.0, "levels": 2}, IPE, r"momentum must be in \[0, 1\)"),
        ({"r": 9, "levels": 1, "strict": True}, IPE, "asks series 0 for 9 merges"),
        ({"r": True, "levels": 1}, TypeError, "r must be an int"),
        ({"threshold": math.nan, "levels": 1}, IPE, "threshold must be finite"),
        ({"r": 1, "levels": 1, "windw": 4}, TypeError,
         "unexpected option\\(s\\) 'windw'; the merge options are window"),
    ],
)  # fmt: skip
def test_bad_options_raise_typed_errors(kwargs: dict[str, object], exc: type, match: str) -> None:
    with pytest.raises(exc, match=match):
        entroseg.merge_plan(profile=np.arange(8.0), **kwargs)  # type: ignore[arg-type]


def test_bad_inputs_raise_typed_errors() -> None:
    seg = entroseg.Segments([0, 2], [2, 2])
    with pytest.raises(
        entroseg.InvalidParameterError, match="3 rows but the series offsets cover 2"
    ):
        entroseg.merge_plan(seg, vectors=np.ones((3, 4)), r=1, levels=1)
    with pytest.raises(
        entroseg.InvalidParameterError, match="profile has 3 rows but the units cover 4"
    ):
        entroseg.merge_plan(seg, profile=np.ones(3), r=1, levels=1)
    bad = np.ones((4, 2), dtype=np.float32)
    bad[2, 1] = np.inf
    with pytest.raises(entroseg.NonFiniteError, match=r"vectors\[2, 1\] = inf"):
        entroseg.merge_plan(vectors=bad, r=1, levels=1)
    with pytest.raises(entroseg.NonFiniteError, match=r"profile\[1\] = NaN"):
        entroseg.merge_plan(profile=[0.0, np.nan, 1.0], r=1, levels=1)
    with pytest.raises(ValueError, match="2-D"):
        entroseg.merge_plan(vectors=np.ones(4), r=1, levels=1)
    with pytest.raises(TypeError, match="real numeric dtype"):
        entroseg.merge_plan(vectors=np.array([["a"]]), r=1, levels=1)
    with pytest.raises(entroseg.InvalidParameterError, match="exactly one similarity source"):
        entroseg.merge_plan(vectors=np.ones((2, 2)), profile=np.ones(2), r=1, levels=1)
    with pytest.raises(
        entroseg.InvalidParameterError, match=r"weights must be >= 1, got weights\[1\] = 0"
    ):
        entroseg.merge_plan(profile=np.ones(3), weights=[1, 0, 1], r=1, levels=1)
    with pytest.raises(
        entroseg.InvalidParameterError, match="3 units but the series offsets cover 2"
    ):
        entroseg.merge_plan(profile=np.ones(3), series_offsets=[0, 2], r=1, levels=1)
    with pytest.raises(TypeError, match="Segments"):
        entroseg.merge_plan([1, 2], profile=np.ones(2), r=1, levels=1)  # type: ignore[arg-type]
    with pytest.raises(entroseg.NonFiniteError, match="scores"):
        entroseg.assign_rates(seg, [1.0, np.nan], keep_ratio=0.5)
    with pytest.raises(entroseg.InvalidParameterError, match="one entry per segment"):
        entroseg.assign_rates(seg, [1.0], keep_ratio=0.5)


@given(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), max_size=12))
def test_no_input_panics(values: list[float]) -> None:
    # Finite vectors always plan; a NaN or infinity anywhere is always refused, by the
    # typed error (nothing else escapes: no panic, no other exception).
    x = np.array(values, dtype=np.float32).reshape(-1, 1)
    if np.all(np.isfinite(x)):
        entroseg.merge_plan(vectors=x, r=1, levels=2, window=2)
    else:
        with pytest.raises(entroseg.NonFiniteError):
            entroseg.merge_plan(vectors=x, r=1, levels=2, window=2)


def test_no_units_of_many_columns_allocate_nothing() -> None:
    """Regression: vectors of shape [0, 2^40] (no bytes) made the planner reserve room
    for one group of 2^40 columns, an allocation that aborted the process."""
    plan = entroseg.merge_plan(vectors=np.empty((0, 1 << 40), np.float32), window=4, levels=2,
                               threshold=0.0)  # fmt: skip
    assert plan.num_units == 0 and all(lv.num_groups == 0 for lv in plan)


def test_profiles_longer_than_the_kept_unit_buffer_plan_as_segments_of_one() -> None:
    # Units of one sample take their lengths from a per-thread buffer that keeps at most
    # 2^20 entries: a longer profile (its own buffer) and a short one after it (the kept
    # buffer) plan exactly as the same units given as segments of length 1.
    rng = np.random.default_rng(4)
    for n in [(1 << 20) + 3, 1_000]:
        h = np.cumsum(rng.standard_normal(n))
        ones = entroseg.Segments(starts=np.arange(n), lengths=np.ones(n, dtype=np.int64))
        got = entroseg.merge_plan(profile=h, ratio=0.5, levels=2, window=16)
        want = entroseg.merge_plan(ones, profile=h, ratio=0.5, levels=2, window=16)
        assert len(got) == len(want) == 2
        for a, b in zip(got, want, strict=True):
            assert np.array_equal(a.source, b.source)
            assert np.array_equal(a.sizes, b.sizes)
