"""Boundaries, Segments, segment / segment_batch and the streaming Segmenter."""

from __future__ import annotations

import pickle

import entroseg
import numpy as np
import pytest
from entroseg import _reference_segments as ref
from hypothesis import assume, example, given
from hypothesis import strategies as st

#: These tests check other things on short series; the target-miss warning itself is
#: tested in test_calibration.py and test_surfaces_agree.py.
pytestmark = pytest.mark.filterwarnings("ignore:target_len=.* missed:UserWarning")

IPE = entroseg.InvalidParameterError

# -- strategies ---------------------------------------------------------------------

scores_st = st.lists(
    st.one_of(
        st.integers(0, 11).map(lambda v: v / 4.0),
        st.just(float("nan")),
    ),
    max_size=300,
)


@st.composite
def native_rules_st(draw: st.DrawFn) -> dict[str, object]:
    threshold = draw(st.none() | st.integers(0, 11).map(lambda v: v / 4.0))
    relative = draw(st.none() | st.integers(0, 8).map(lambda v: v / 4.0 - 0.5))
    min_len = draw(st.integers(1, 5))
    max_extra = draw(st.none() | st.integers(0, 20))
    rules: dict[str, object] = {"threshold": threshold, "relative": relative, "min_len": min_len}
    if threshold is not None and relative is not None:
        rules["combine"] = draw(st.sampled_from(["and", "or"]))
    if max_extra is not None:
        rules["max_len"] = min_len + max_extra
    assume(threshold is not None or relative is not None or max_extra is not None)
    return rules


def starts_reasons(seg: entroseg.Segments) -> list[tuple[int, int]]:
    return list(zip(seg.starts.tolist(), seg.reasons.tolist(), strict=True))


# -- the rule engine against the reference ----------------------------------------


@given(scores_st, native_rules_st())
@example([], {"threshold": 0.5})
@example([1.0], {"threshold": 0.5, "max_len": 1})
@example([float("nan")] * 40, {"threshold": 0.5, "min_len": 3, "max_len": 7})
def test_boundaries_equal_the_reference(scores: list[float], rules: dict[str, object]) -> None:
    seg = entroseg.boundaries(scores, nan_policy="propagate", **rules)  # type: ignore[arg-type]
    assert starts_reasons(seg) == ref.native_rules(scores, **rules)  # type: ignore[arg-type]
    # Invariants: lengths sum to n; all but the last within [min_len, max_len].
    n = len(scores)
    assert seg.lengths.sum() == n
    if n:
        assert seg.lengths.min() >= 1
        assert np.all(seg.lengths[:-1] >= rules.get("min_len", 1))
        if "max_len" in rules:
            assert seg.lengths.max() <= rules["max_len"]


@given(
    st.lists(st.floats(0, 3, allow_nan=False), min_size=2, max_size=400),
    st.integers(1, 4),
    st.floats(1.0, 20.0),
)
def test_target_len_calibration_is_the_best_threshold(
    scores: list[float], min_len: int, target: float
) -> None:
    target = max(target, float(min_len))
    seg = entroseg.boundaries(scores, target_len=target, calibration="batch", min_len=min_len)
    n = len(scores)

    def objective(threshold: float) -> float:
        k = len(ref.native_rules(scores, threshold=threshold, min_len=min_len))
        return abs(n / k - target)

    candidates = [*scores, float("inf"), float("-inf")]
    best = min(objective(t) for t in candidates)
    # At least as close as the best plain threshold; breaking ties can only come closer.
    assert abs(n / len(seg) - target) <= best + 1e-12
    cal = seg.calibration
    assert cal is not None
    if cal.tie_cut == 0:
        assert starts_reasons(seg) == ref.native_rules(scores, threshold=cal.threshold,
                                                       min_len=min_len)  # fmt: skip


def test_target_len_meets_the_target_on_real_profiles() -> None:
    x, _ = entroseg.sample_series(25_000)
    for kwargs in (
        {"target_len": 16, "calibration": "batch"},
        {"target_len": 16, "calibration": "batch", "min_len": 4, "max_len": 64},
        {"target_len": 40, "calibration": "batch", "min_len": 10, "max_len": 100},
    ):
        seg = entroseg.segment(x, order=4, window=64, **kwargs)  # type: ignore[arg-type]
        # Permutation entropy takes few distinct values (ties move many positions across
        # the threshold at once), so the best achievable mean is near, not at, the target.
        assert np.mean(seg.lengths) == pytest.approx(kwargs["target_len"], rel=0.03)


def test_warm_up_never_starts_a_segment_by_rule() -> None:
    x = np.random.default_rng(1).standard_normal(3000)
    seg = entroseg.segment(x, order=3, window=100, threshold=0.0, min_len=1)
    rule_starts = seg.starts[seg.reasons != 0]
    assert rule_starts.min() >= 99
    # Every position after the warm-up fires (threshold 0): one segment each.
    assert len(seg) == 1 + (3000 - 99)


# -- presets ------------------------------------------------------------------------

entropies_st = st.lists(
    st.one_of(st.floats(0, 4, allow_nan=False, width=32), st.just(1.3354420661926271)),
    max_size=120,
)


@given(
    entropies_st,
    st.sampled_from(["global", "monotonic", "combined"]),
    st.none() | st.integers(1, 9),
)
def test_blt_preset_equals_the_published_formulation(
    e: list[float], mode: str, max_len: int | None
) -> None:
    kwargs: dict[str, object] = {"threshold": 1.335442066192627}
    if mode == "monotonic":
        kwargs = {"relative": 0.3}
        want = ref.blt_starts(e, threshold=0.3, monotonicity=True)
    elif mode == "combined":
        kwargs["relative"] = 0.2
        want = ref.blt_starts(e, threshold=1.335442066192627, threshold_add=0.2)
    else:
        want = ref.blt_starts(e, threshold=1.335442066192627)
    seg = entroseg.boundaries(e, preset="blt", mode=mode, max_len=max_len, **kwargs)  # type: ignore[arg-type]
    lengths = ref.lengths_of(want, len(e))
    if max_len is not None:
        lengths = ref.split_from_left(lengths, max_len)
    assert seg.lengths.tolist() == lengths


@given(entropies_st, st.booleans(), st.floats(0, 1), st.none() | st.integers(1, 9))
def test_entrope_preset_equals_the_published_formulation(
    e: list[float], monotonic: bool, q: float, max_len: int | None
) -> None:
    want = ref.entrope_starts(e, quantile=q, monotonic=monotonic)
    seg = entroseg.boundaries(
        e, preset="entrope", mode="monotonic" if monotonic else "global", quantile=q,
        max_len=max_len,
    )  # fmt: skip
    lengths = ref.lengths_of(want, len(e))
    if max_len is not None:
        lengths = ref.split_from_left(lengths, max_len)
    assert seg.lengths.tolist() == lengths


def test_presets_hand_checked() -> None:
    e = [0.9, 0.1, 0.7, 0.2, 0.8, 0.6, 0.3]
    assert entroseg.boundaries(e, preset="blt", threshold=0.5).starts.tolist() == [0, 1, 3, 5, 6]
    e = [0.5, 0.1, 0.9, 0.2, 0.9, 0.95, 0.1, 0.7, 0.6]
    seg = entroseg.boundaries(e, preset="blt", mode="combined", threshold=0.5, relative=0.3)
    assert seg.starts.tolist() == [0, 1, 2, 5, 8]  # never at 3, although its rule holds
    assert seg.reason_names == ["start", "start", "start", "both", "both"]
    e = [0.1, 0.4, 0.3, 0.9, 0.2]
    assert entroseg.boundaries(e, preset="entrope", quantile=0.5).starts.tolist() == [0, 2, 4]
    # BLT's default threshold applies when none is given.
    assert entroseg.boundaries([0, 2.0, 0, 0], preset="blt").starts.tolist() == [0, 1, 2]


# -- Segments -------------------------------------------------------------------------


def test_segments_forms_for_gpu_models() -> None:
    seg = entroseg.Segments(
        starts=[0, 2, 5, 0, 0, 4], lengths=[2, 3, 1, 0 + 1, 4, 2], series_offsets=[0, 3, 3, 4, 6]
    )
    assert seg.num_series == 4
    assert seg.series_lengths.tolist() == [6, 0, 1, 6]
    assert seg.cu_seqlens.dtype == np.int32
    assert seg.cu_seqlens.tolist() == [0, 2, 5, 6, 7, 11, 13]
    assert seg.max_seqlen == 4
    ids = seg.patch_ids()
    assert ids.tolist() == [0, 0, 1, 1, 1, 2, 3, 4, 4, 4, 4, 5, 5]
    assert seg.patch_ids(local=True).tolist() == [0, 0, 1, 1, 1, 2, 0, 0, 0, 0, 0, 1, 1]
    padded = seg.to_padded()
    assert padded.lengths.tolist() == [[2, 3, 1], [0, 0, 0], [1, 0, 0], [4, 2, 0]]
    assert padded.mask.sum() == len(seg)
    assert np.array_equal(padded.lengths.sum(axis=1), seg.series_lengths)
    # cu_seqlens and patch ids agree: token j belongs to patch ids[j].
    cu = seg.cu_seqlens
    for j, p in enumerate(ids):
        assert cu[p] <= j < cu[p + 1]
    # DLPack: numpy consumers share the memory.
    assert np.shares_memory(np.from_dlpack(seg.lengths), seg.lengths)
    # Arrays are read-only: the invariants cannot be broken in place.
    with pytest.raises(ValueError, match="read-only"):
        seg.lengths[0] = 7


def test_segments_protocols() -> None:
    a = entroseg.segment(np.sin(np.arange(500) / 7.0), window=32, threshold=0.5, max_len=40)
    b = pickle.loads(pickle.dumps(a))
    assert a == b and a is not b
    assert a != entroseg.Segments([0], [500])
    assert len(a) == len(a.starts)
    assert repr(a).startswith(f"Segments({len(a)} segments in 1 series, 500 samples")
    both = entroseg.Segments.concat([a, b])
    assert both.num_series == 2 and both.series(1) == b and both.series(-2) == a
    with pytest.raises(IndexError):
        both.series(2)
    table = a.to_arrow()
    assert table.column_names == ["series", "start", "length", "reason"]
    assert table.num_rows == len(a)
    assert table.column("reason").to_pylist() == a.reason_names


def test_segments_reject_inconsistent_arrays() -> None:
    with pytest.raises(ValueError, match="equal length"):
        entroseg.Segments([0, 1], [1])
    with pytest.raises(ValueError, match="contiguous"):
        entroseg.Segments([0, 5], [2, 2])
    with pytest.raises(ValueError, match="series_offsets"):
        entroseg.Segments([0], [2], series_offsets=[0, 2])
    with pytest.raises(ValueError, match="lengths must be >= 1"):
        entroseg.Segments([0], [0])


# -- segment, batch and streaming agree ------------------------------------------------


def walk(seed: int, n: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    steps = rng.standard_normal(n)
    steps[(np.arange(n) // 500) % 2 == 1] *= 0.01  # calm stretches
    return np.cumsum(steps)


def test_segment_equals_boundaries_of_the_profile() -> None:
    x = walk(0, 8000)
    profile = entroseg.permutation_entropy(x, order=4, window=64)
    for rules in (
        {"threshold": 0.9, "min_len": 3, "max_len": 50},
        {"target_len": 20, "calibration": "batch", "max_len": 80},
        {"preset": "entrope", "quantile": 0.9},
    ):
        a = entroseg.segment(x, order=4, window=64, **rules)  # type: ignore[arg-type]
        b = entroseg.boundaries(profile, nan_policy="propagate", **rules)  # type: ignore[arg-type]
        assert a == b
    symbols = entroseg.quantize(x, method="quantile", bins=4)
    h = entroseg.conditional_entropy(symbols, context=2, window=50, alphabet_size=4)
    assert entroseg.segment(
        symbols, method="conditional", context=2, window=50, threshold=0.8, max_len=60
    ) == entroseg.boundaries(h, nan_policy="propagate", threshold=0.8, max_len=60)
    h, q = entroseg.next_symbol_entropy(symbols, context=2, alphabet_size=4)
    assert entroseg.segment(
        symbols, method="next_symbol", context=2, score="surprisal", threshold=1.0, min_len=2
    ) == entroseg.boundaries(q, threshold=1.0, min_len=2)


@given(
    seed=st.integers(0, 10_000),
    n=st.integers(0, 4000),
    cuts=st.lists(st.integers(0, 4000), max_size=5),
    online=st.booleans(),
    min_len=st.integers(1, 5),
    max_extra=st.none() | st.integers(0, 40),
)
def test_segmenter_any_chunking_and_checkpoint_equals_one_shot(
    seed: int, n: int, cuts: list[int], online: bool, min_len: int, max_extra: int | None
) -> None:
    x = walk(seed, n)
    max_len = None if max_extra is None else min_len + 5 + max_extra
    opts: dict[str, object] = {"order": 3, "window": 40, "min_len": min_len, "max_len": max_len}
    if online:
        opts |= {"target_len": min_len + 5.0, "calibration": "online"}
    else:
        opts |= {"threshold": 0.85}
    one = entroseg.segment(x, **opts)  # type: ignore[arg-type]
    s = entroseg.Segmenter(**opts)  # type: ignore[arg-type]
    parts = []
    start = 0
    for i, c in enumerate(sorted(cuts)):
        c = min(max(c, start), n)
        parts.append(s.push(x[start:c]))
        start = c
        if i % 2 == 0:
            s = pickle.loads(pickle.dumps(s))
        else:
            s = entroseg.Segmenter.from_checkpoint(s.checkpoint())
    parts += [s.push(x[start:]), s.finish()]
    assert entroseg.Segments.join(parts) == one
    assert s.samples_seen == n


def test_segmenter_commits_within_max_len() -> None:
    x = walk(3, 5000)
    s = entroseg.Segmenter(order=3, window=40, threshold=0.99, min_len=4, max_len=50)
    pushed = 0
    for chunk in np.array_split(x, 100):
        closed = s.push(chunk)
        pushed += len(chunk)
        end = int(closed.starts[-1] + closed.lengths[-1]) if len(closed) else None
        if end is not None:
            # Everything up to `pushed - max_len` is committed.
            assert end >= pushed - 50 - 1
    assert s.finish().lengths.sum() > 0


def test_segment_batch_equals_series_alone_whatever_the_thread_count() -> None:
    # Results only: one thread and two give the same segments (no timing is measured here).
    lengths = [0, 1, 700, 64, 3000, 17, 0, 1200]
    xs = [walk(i, n) for i, n in enumerate(lengths)]
    values = np.concatenate(xs)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    opts = {
        "order": 3,
        "window": 32,
        "target_len": 12,
        "calibration": "batch",
        "min_len": 2,
        "max_len": 40,
    }
    one = entroseg.segment_batch(values, offsets, threads=1, **opts)  # type: ignore[arg-type]
    two = entroseg.segment_batch(values, offsets, threads=2, **opts)  # type: ignore[arg-type]
    assert one == two
    assert one.num_series == len(lengths)
    for b, x in enumerate(xs):
        assert one.series(b) == entroseg.segment(x, **opts)  # type: ignore[arg-type]
    # Symbols too, with the alphabet inferred from the whole batch.
    sym = (values > np.median(values)).astype(np.uint8) if len(values) else values
    seg = entroseg.segment_batch(
        sym, offsets, method="next_symbol", context=2, threshold=0.9, max_len=30
    )
    assert seg.series_lengths.tolist() == lengths


# -- next-symbol entropy -------------------------------------------------------------------


def next_symbol_reference(
    s: list[int], order: int, a: int, alpha: float, min_count: int, reset: int | None
) -> tuple[list[float], list[float]]:
    hs, qs = [], []
    resets_before = []
    last = 0
    for i, v in enumerate(s):
        resets_before.append(last)
        if reset is not None and v == reset:
            last = i + 1
    for t in range(len(s)):
        usable = min(t - resets_before[t], order)
        for j in range(usable, -1, -1):
            ctx = s[t - j : t]
            counts = np.zeros(a)
            for i in range(j, t):
                if i - resets_before[i] >= j and s[i - j : i] == ctx:
                    counts[s[i]] += 1
            if counts.sum() >= min_count or j == 0:
                break
        p = (counts + alpha) / (counts.sum() + a * alpha)
        hs.append(float(-(p * np.log(p)).sum() / np.log(a)))
        qs.append(float(-np.log(p[s[t]]) / np.log(a)))
    return hs, qs


@given(
    st.lists(st.integers(0, 3), max_size=120),
    st.integers(0, 4),
    st.sampled_from([0.5, 1.0, 0.05]),
    st.integers(1, 3),
    st.none() | st.integers(0, 3),
)
def test_next_symbol_entropy_equals_the_recounting_reference(
    s: list[int], order: int, alpha: float, min_count: int, reset: int | None
) -> None:
    assume(len(s) > 0)
    h, q = entroseg.next_symbol_entropy(
        np.array(s, dtype=np.uint8), context=order, alphabet_size=4, alpha=alpha,
        min_count=min_count, reset_symbol=reset,
    )  # fmt: skip
    rh, rq = next_symbol_reference(s, order, 4, alpha, min_count, reset)
    np.testing.assert_allclose(h, rh, rtol=0, atol=1e-12)
    np.testing.assert_allclose(q, rq, rtol=0, atol=1e-12)
    assert np.all((h >= 0) & (h <= 1))


@given(st.lists(st.integers(0, 255), max_size=600), st.lists(st.integers(0, 600), max_size=4))
def test_next_symbol_stream_any_chunking_and_pickle(s: list[int], cuts: list[int]) -> None:
    x = np.array(s, dtype=np.uint8)
    model = entroseg.NextSymbolEntropy(context=2, alphabet_size=256, reset_symbol=10)
    hs, qs, start = [], [], 0
    for c in sorted(cuts):
        c = min(max(c, start), len(x))
        h, q = model.push(x[start:c])
        hs.append(h)
        qs.append(q)
        start = c
        model = pickle.loads(pickle.dumps(model))
    h, q = model.push(x[start:])
    if len(x):
        wh, wq = entroseg.next_symbol_entropy(x, context=2, alphabet_size=256, reset_symbol=10)
        assert np.array_equal(np.concatenate([*hs, h]), wh)
        assert np.array_equal(np.concatenate([*qs, q]), wq)


# -- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: entroseg.boundaries([0.0, np.nan], threshold=0.5),
            entroseg.NonFiniteError,
            "index 1",
        ),
        (
            lambda: entroseg.boundaries([1.0], threshold=0.5, min_len=5, max_len=3),
            IPE,
            "min_len=5 > max_len=3",
        ),
        (lambda: entroseg.boundaries([1.0], max_len=0), IPE, "max_len must be >= 1, got 0"),
        (
            lambda: entroseg.boundaries([1.0], target_len=100, calibration="batch", max_len=10),
            IPE,
            "target_len must lie in [min_len, max_len] = [1, 10], got 100",
        ),
        (
            lambda: entroseg.boundaries([1.0], target_len=5, calibration="batch", threshold=0.1),
            IPE,
            "either threshold or target_len",
        ),
        (
            lambda: entroseg.boundaries([1.0], threshold=0.1, relative=0.2),
            IPE,
            "combine='and' or combine='or'",
        ),
        (lambda: entroseg.boundaries([1.0]), IPE, "no rule given"),
        (lambda: entroseg.boundaries([1.0], preset="bpe"), IPE, "preset must be"),  # type: ignore[arg-type]
        (lambda: entroseg.boundaries([1.0], preset="entrope"), IPE, "needs quantile"),
        (lambda: entroseg.boundaries([1.0], preset="blt", mode="monotonic"), IPE, "needs relative"),
        (lambda: entroseg.segment([1.0], method="magic", threshold=1), IPE, "method must be"),  # type: ignore[arg-type]
        (
            lambda: entroseg.segment([1.0, 2.0], method="permutation", threshold=1),
            IPE,
            "give window",
        ),
        (lambda: entroseg.segment(np.ones((2, 2, 2)), window=4, threshold=1), ValueError, "1-D"),
        (lambda: entroseg.segment(["a"], window=4, threshold=1), TypeError, "dtype"),
        (
            lambda: entroseg.segment_batch([1.0, 2.0], [1, 2], window=4, threshold=1),
            IPE,
            "offsets must start at 0, got offsets[0] = 1",
        ),
        (
            lambda: entroseg.segment_batch([1.0, 2.0, 3.0], [0, 2, 1, 3], window=4, threshold=1),
            IPE,
            "offsets[1] = 2 > offsets[2] = 1",
        ),
        (
            lambda: entroseg.segment_batch([1.0, 2.0], [0, 1], window=4, threshold=1),
            IPE,
            "end at len(values) = 2, got offsets[-1] = 1",
        ),
        (
            lambda: entroseg.segment_batch(
                [1.0, np.inf, 3.0], [0, 1, 3], method="scores", threshold=1
            ),
            entroseg.NonFiniteError,
            "series 1: ",
        ),
        (
            lambda: entroseg.Segmenter(window=8, target_len=4, calibration="batch"),
            IPE,
            "calibration='online'",
        ),
        (
            lambda: entroseg.Segmenter(method="next_symbol", threshold=1.0),
            IPE,
            "give alphabet_size",
        ),
        (
            lambda: entroseg.next_symbol_entropy([1, 5], alphabet_size=4),
            entroseg.SymbolOutOfRangeError,
            "symbol 5 at index 1",
        ),
        (lambda: entroseg.next_symbol_entropy([1], alpha=0.0), IPE, "alpha"),
        (
            lambda: entroseg.next_symbol_entropy([1], order=8, alphabet_size=256),
            IPE,
            "order must be <= 7",
        ),
        (
            lambda: entroseg.NextSymbolEntropy.from_checkpoint(b"junk"),
            entroseg.CheckpointError,
            "not an entroseg checkpoint (bad magic bytes)",
        ),
    ],
)
def test_bad_input_is_a_typed_error(call, error, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error) as info:
        call()
    assert message in str(info.value)


def test_push_after_finish_and_wrong_checkpoint() -> None:
    s = entroseg.Segmenter(window=8, threshold=0.5)
    s.push(np.arange(20.0))
    s.finish()
    with pytest.raises(entroseg.StreamClosedError, match="after finish"):
        s.push([1.0])
    s.reset()
    assert len(s.push(np.arange(5.0))) == 0
    rolling = entroseg.RollingPermutationEntropy(window=10)
    with pytest.raises(entroseg.CheckpointError, match="written by"):
        entroseg.Segmenter.from_checkpoint(rolling.checkpoint())


def test_huge_limits_cost_only_what_the_data_needs() -> None:
    # max_len far beyond the data: the split search keeps only the open segment's scores.
    x = np.cumsum(np.random.default_rng(4).standard_normal(5000))
    seg = entroseg.segment(x, window=32, threshold=2.0, max_len=2**50)
    assert len(seg) == 1 and seg.lengths[0] == 5000
    s = entroseg.Segmenter(window=32, threshold=2.0, max_len=2**60)
    s.push(x)
    assert entroseg.Segmenter.from_checkpoint(s.checkpoint()).samples_seen == 5000
    # Absurd chunk counts are capped, not allocated.
    par = entroseg.segment_parallel(x, window=32, threshold=0.9, chunks=10**9)
    assert par == entroseg.segment(x, window=32, threshold=0.9)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: entroseg.boundaries([1.0], threshold=1, relative=0, combine="xor"),
            entroseg.InvalidParameterError,
            "combine must be 'and' or 'or', got \"xor\"",
        ),
        (
            lambda: entroseg.boundaries([1.0], target_len=2, calibration="magic"),
            entroseg.InvalidParameterError,
            "calibration must be 'batch' or 'online'",
        ),
        (
            lambda: entroseg.boundaries([1.0], threshold=1, mode="global"),
            entroseg.InvalidParameterError,
            "mode and quantile apply only with preset",
        ),
        (
            lambda: entroseg.boundaries([1.0], preset="blt", quantile=0.5),
            entroseg.InvalidParameterError,
            "quantile applies to preset='entrope', not 'blt'",
        ),
        (
            lambda: entroseg.boundaries([1.0], preset="blt", mode="up"),
            entroseg.InvalidParameterError,
            "must be 'global', 'monotonic' or 'combined', got \"up\"",
        ),
        (
            lambda: entroseg.boundaries([1.0], preset="blt", relative=0.1),
            entroseg.InvalidParameterError,
            "mode='global' takes threshold, not relative",
        ),
        (
            lambda: entroseg.boundaries(
                [1.0], preset="blt", mode="monotonic", relative=0.1, threshold=1
            ),
            entroseg.InvalidParameterError,
            "threshold does not apply",
        ),
        (
            lambda: entroseg.boundaries([1.0], preset="entrope", quantile=0.5, threshold=1),
            entroseg.InvalidParameterError,
            "computes its threshold from quantile",
        ),
        (
            lambda: entroseg.boundaries([1.0], preset="entrope", quantile=0.5, mode="combined"),
            entroseg.InvalidParameterError,
            "must be 'global' or 'monotonic', got \"combined\"",
        ),
        (
            lambda: entroseg.segment([1], method="next_symbol", score="bits", threshold=1),
            entroseg.InvalidParameterError,
            "score must be 'entropy' or 'surprisal', got \"bits\"",
        ),
        (
            lambda: entroseg.next_symbol_entropy([1], min_count=0),
            entroseg.InvalidParameterError,
            "min_count must be >= 1, got 0",
        ),
        (
            lambda: entroseg.next_symbol_entropy([1], alphabet_size=4, reset_symbol=9),
            entroseg.InvalidParameterError,
            "reset_symbol must be in 0..4 (alphabet_size=4), got 9",
        ),
        (
            lambda: entroseg.segment_batch([1.0], [0, 1], method="scores", threshold=1, threads=0),
            entroseg.InvalidParameterError,
            "threads must be >= 1, got 0",
        ),
        (
            lambda: entroseg.segment_parallel([1.0, 2.0], method="scores", threshold=1, chunks=0),
            entroseg.InvalidParameterError,
            "chunks must be >= 1, got 0",
        ),
        (
            lambda: entroseg.segment_batch([1.0], [0.0, 1.0], method="scores", threshold=1),
            TypeError,
            "offsets must be a 1-D integer array, got dtype float64",
        ),
        (
            lambda: entroseg.Segments.join(
                [entroseg.Segments([0, 0], [1, 1], series_offsets=[0, 1, 2])]
            ),
            ValueError,
            "join() takes one-series values",
        ),
        (
            lambda: entroseg.Segments([0], [2**31]).cu_seqlens,
            OverflowError,
            "2147483648 samples do not fit int32 cu_seqlens; use offsets()",
        ),
        (
            lambda: entroseg.Segments([0], [1], reasons=[9]),
            ValueError,
            "reason codes must be < 5, got 9",
        ),
    ],
)
def test_option_errors_name_the_value(call, error, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error) as info:
        call()
    assert message in str(info.value)
