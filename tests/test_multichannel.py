"""Multichannel input (n, c): one boundary set for all channels on every segmentation
surface, equal to the rules run on the documented combination of the per-channel
profiles (each computed alone; the rule engine takes that combined score as a user
score), streaming bit-identically, c=1 equal to 1-D, typed errors for bad shapes."""

from __future__ import annotations

import math
import pickle
from typing import Any

import entroseg
import numpy as np
import pytest
from entroseg import InvalidParameterError, Segments
from hypothesis import given, settings
from hypothesis import strategies as st

METHODS: list[dict[str, Any]] = [
    dict(method="permutation", order=3, window=24),
    dict(method="next_value", window=64, statistic="surprisal"),
]


def walks(seed: int, n: int, c: int) -> np.ndarray:
    """Random walks whose calm and busy stretches differ per channel."""
    rng = np.random.default_rng(seed)
    steps = rng.standard_normal((n, c))
    for k in range(c):
        calm = (np.arange(n) // (40 + 30 * k)) % 2 == 0
        steps[calm, k] *= 0.05
    return np.cumsum(steps, axis=0)


def combined(x: np.ndarray, mode: str, **method: Any) -> np.ndarray:
    """The reference: each channel's 1-D profile, combined left to right."""
    acc = entroseg.profile(np.ascontiguousarray(x[:, 0]), **method)
    for k in range(1, x.shape[1]):
        p = entroseg.profile(np.ascontiguousarray(x[:, k]), **method)
        acc = acc + p if mode == "sum" else np.maximum(acc, p)
    return acc


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(0, 1200),
    c=st.integers(1, 4),
    which=st.integers(0, 1),
    mode=st.sampled_from(["sum", "max"]),
    level=st.floats(0.2, 1.5),
    max_len=st.one_of(st.none(), st.integers(8, 80)),
    fortran=st.booleans(),
)
def test_equals_the_rules_on_the_combined_per_channel_profiles(
    seed: int, n: int, c: int, which: int, mode: str, level: float, max_len: int | None,
    fortran: bool,
) -> None:  # fmt: skip
    x = walks(seed, n, c)
    if fortran:
        x = np.asfortranarray(x)
    method = METHODS[which]
    threshold = level * c if mode == "sum" else level
    rules = dict(threshold=threshold, min_len=3, max_len=max_len)
    got = entroseg.segment(x, channels=mode, **method, **rules)
    scores = combined(x, mode, **method)
    want = entroseg.boundaries(scores, nan_policy="propagate", **rules)
    assert got == want
    # The combined profile is what profile() of the (n, c) array gives.
    np.testing.assert_array_equal(entroseg.profile(x, channels=mode, **method), scores)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(0, 2500),
    c=st.integers(1, 3),
    which=st.integers(0, 1),
    mode=st.sampled_from(["sum", "max"]),
    cuts=st.lists(st.integers(0, 2500), max_size=6),
    resume=st.integers(0, 7),
)
def test_streams_bit_identically_for_any_chunking_and_pickle(
    seed: int, n: int, c: int, which: int, mode: str, cuts: list[int], resume: int
) -> None:
    x = walks(seed, n, c)
    opts = dict(METHODS[which], channels=mode, threshold=0.7 * c, min_len=2, max_len=60)
    whole = entroseg.segment(x, **opts)
    s = entroseg.Segmenter(**opts)
    parts = []
    bounds = [*sorted(min(b, n) for b in cuts), n]
    at = 0
    for i, end in enumerate(bounds):
        parts.append(s.push(x[at:end]))
        if i == resume:
            s = pickle.loads(pickle.dumps(s))
        at = end
    parts.append(s.finish())
    assert Segments.join(parts) == whole
    if n:
        assert s.channels == c


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(0, 1500), which=st.integers(0, 1))
def test_one_channel_equals_one_dimension(seed: int, n: int, which: int) -> None:
    x = walks(seed, n, 1)
    opts = dict(METHODS[which], threshold=0.6, max_len=50)
    assert entroseg.segment(x, **opts) == entroseg.segment(x[:, 0], **opts)
    # A 1-D stream takes (n, 1) chunks too: it is the same stream.
    s = entroseg.Segmenter(**opts)
    parts = [s.push(x[: n // 2, 0]), s.push(x[n // 2 :]), s.finish()]
    assert Segments.join(parts) == entroseg.segment(x[:, 0], **opts)


def test_segment_batch_equals_each_series_alone_and_shares_a_budget() -> None:
    x = walks(3, 3000, 3)
    offsets = [0, 1000, 1000, 3000]
    opts = dict(METHODS[0], threshold=1.8, max_len=64)
    seg = entroseg.segment_batch(x, offsets, threads=2, **opts)
    for b in range(3):
        assert seg.series(b) == entroseg.segment(x[offsets[b] : offsets[b + 1]], **opts)
    shared = entroseg.segment_batch(x, offsets, budget=61, **METHODS[0])
    assert int(shared.series_counts.sum()) == 61
    t = shared.calibration.threshold
    if shared.calibration.tie_cut:  # a tie cut splits equal scores: no plain threshold
        return
    for b in (0, 2):
        alone = entroseg.segment(x[offsets[b] : offsets[b + 1]], threshold=t, **METHODS[0])
        assert shared.series(b) == alone


def test_symbols_per_channel_with_the_alphabet_of_all_channels() -> None:
    rng = np.random.default_rng(5)
    x = rng.integers(0, 4, size=(2000, 2)).astype(np.uint8)
    x[1000:, 1] = np.arange(1000) % 3
    opts = dict(method="next_symbol", statistic="surprisal", threshold=2.5, max_len=40)
    got = entroseg.segment(x, **opts)
    alphabet = int(x.max()) + 1
    scores = combined(x, "sum", method="next_symbol", statistic="surprisal",
                      alphabet_size=alphabet)  # fmt: skip
    assert got == entroseg.boundaries(scores, threshold=2.5, max_len=40)


def test_nan_rules_per_channel() -> None:
    x = walks(1, 400, 2)
    x[300, 0] = np.nan
    x[120, 1] = np.inf
    opts = dict(METHODS[0], threshold=1.0)
    with pytest.raises(entroseg.NonFiniteError, match=r"channel 1: .*index 120"):
        entroseg.segment(x, **opts)
    s = entroseg.Segmenter(**opts)
    s.push(x[:100])
    with pytest.raises(entroseg.NonFiniteError, match=r"channel 1: .*sample 120 of the stream"):
        s.push(x[100:])
    # propagate: the windows holding a NaN in any channel give NaN, never a start.
    prop = dict(opts, nan_policy="propagate")
    scores = combined(x, "sum", **METHODS[0], nan_policy="propagate")
    assert entroseg.segment(x, **prop) == entroseg.boundaries(
        scores, threshold=1.0, nan_policy="propagate"
    )


@pytest.mark.parametrize(
    ("x", "pattern"),
    [
        (np.zeros((5, 0)), r"x has 0 channels \(shape \(5, 0\)\).*c >= 1"),
        (np.zeros((2, 3, 4)), r"1-D array \(n,\) or a 2-D array \(n, c\).*shape \(2, 3, 4\)"),
        ([[1.0, 2.0], [3.0]], r"ragged"),
    ],
)
def test_bad_shapes_are_typed_errors(x: Any, pattern: str) -> None:
    with pytest.raises(InvalidParameterError, match=pattern):
        entroseg.segment(x, window=3, threshold=1.0)


def test_bad_channel_options_and_counts() -> None:
    x = walks(2, 200, 3)
    with pytest.raises(
        InvalidParameterError,
        match=r"segment_parallel cuts one channel; x has shape \(200, 3\)",
    ):
        entroseg.segment_parallel(x, threshold=1.0)
    with pytest.raises(
        InvalidParameterError, match=r"channels must be 'sum', 'max' or 'pooled', got \"mean\""
    ):
        entroseg.segment(x, window=16, threshold=1.0, channels="mean")  # type: ignore[typeddict-item]
    with pytest.raises(
        InvalidParameterError,
        match="channels='pooled' pools the ordinal patterns of method='permutation'; "
        "method='line' fits each channel: use channels='sum' or 'max'",
    ):
        entroseg.segment(x, threshold=1.0, channels="pooled")
    s = entroseg.Segmenter(window=16, threshold=1.0)
    s.push(x[:50])
    state = s.checkpoint()
    with pytest.raises(InvalidParameterError, match=r"has 3 channel\(s\).*the chunk\s+has 2"):
        s.push(x[50:, :2])
    assert s.checkpoint() == state
    with pytest.raises(
        InvalidParameterError, match=r"values must be a 1-D array \(n,\) or a 2-D array"
    ):
        entroseg.segment_batch(np.zeros((4, 2, 2)), [0, 4], window=3, threshold=1.0)


# ---- Polars and Arrow: the same path, equal to the numpy result ----------------------


@pytest.mark.parametrize("mode", ["sum", "max"])
def test_polars_columns_per_group_equal_numpy(mode: str) -> None:
    pl = pytest.importorskip("polars")
    x = walks(4, 1800, 3)
    key = np.repeat(["a", "b", "c"], [500, 900, 400])
    df = pl.DataFrame({"k": key, "x0": x[:, 0], "x1": x[:, 1], "x2": x[:, 2]})
    opts = dict(METHODS[0], channels=mode, threshold=1.2 if mode == "max" else 2.0, max_len=64)
    out = (
        df.lazy()
        .select(
            pl.col("x0").entroseg.segment_id("x1", pl.col("x2"), **opts).over("k").alias("id"),
            pl.col("x0").entroseg.is_boundary("x1", "x2", **opts).over("k").alias("start"),
        )
        .collect()
    )
    at = 0
    for n in (500, 900, 400):
        seg = entroseg.segment(x[at : at + n], **opts)
        np.testing.assert_array_equal(out["id"][at : at + n].to_numpy(), seg.patch_ids(local=True))
        np.testing.assert_array_equal(
            np.flatnonzero(out["start"][at : at + n].to_numpy()), seg.starts
        )
        at += n


def test_polars_channel_errors() -> None:
    pl = pytest.importorskip("polars")
    x = walks(9, 500, 2)
    df = pl.DataFrame({"a": x[:, 0], "b": x[:, 1]})
    # Method "line" fits each column: the ids are numpy's segments of the (n, 2) array.
    ids = df.select(pl.col("a").entroseg.segment_id("b", threshold=1.0)).to_series()
    seg = entroseg.segment(x, threshold=1.0)
    np.testing.assert_array_equal(ids.to_numpy(), seg.patch_ids())
    with pytest.raises(InvalidParameterError, match="method='line' fits each channel"):
        pl.col("a").entroseg.segment_id("b", threshold=1.0, channels="pooled")
    with pytest.raises(InvalidParameterError, match="channels must be 'sum', 'max' or 'pooled'"):
        pl.col("a").entroseg.segment_id("b", window=8, threshold=1.0, channels="min")  # type: ignore[typeddict-item]


def test_arrow_columns_and_fixed_size_list_per_key_equal_numpy() -> None:
    pa = pytest.importorskip("pyarrow")
    from entroseg.arrow import segment_stream

    x = walks(6, 3000, 2)
    key = np.tile(["a", "b", "c"], 1000)
    opts = dict(METHODS[1], threshold=1.5, max_len=80, channels="max")
    columns = pa.table({"k": key, "x0": x[:, 0], "x1": x[:, 1]})
    lists = pa.table({"k": key, "v": pa.FixedSizeListArray.from_arrays(pa.array(x.ravel()), 2)})
    structs = pa.table({"k": key, "s": pa.StructArray.from_arrays(
        [pa.array(x[:, 0]), pa.array(x[:, 1])], names=["a", "b"])})  # fmt: skip
    for table, value_column in ((columns, ["x0", "x1"]), (lists, "v"), (structs, "s")):
        out = segment_stream(
            table.to_reader(max_chunksize=333), value_column=value_column, key_column="k", **opts
        ).read_all()
        for k in ("a", "b", "c"):
            rows = out.filter(pa.compute.equal(out["k"], k))
            seg = entroseg.segment(x[key == k], **opts)
            np.testing.assert_array_equal(rows["start"].to_numpy(), seg.starts)
            np.testing.assert_array_equal(rows["length"].to_numpy(), seg.lengths)


def test_arrow_fixed_size_list_null_rows_read_as_nan() -> None:
    pa = pytest.importorskip("pyarrow")
    from entroseg.arrow import segment_stream

    x = walks(7, 600, 3)
    mask = np.zeros(600, dtype=bool)
    mask[[100, 101, 450]] = True
    v = pa.FixedSizeListArray.from_arrays(pa.array(x.ravel()), 3, mask=pa.array(mask))
    opts = dict(METHODS[0], threshold=1.5, nan_policy="propagate")
    out = segment_stream(pa.table({"v": v}).to_reader(max_chunksize=128), value_column="v", **opts)
    y = x.copy()
    y[mask] = np.nan
    np.testing.assert_array_equal(
        out.read_all()["start"].to_numpy(), entroseg.segment(y, **opts).starts
    )
    with pytest.raises(InvalidParameterError, match="value_column names no column"):
        segment_stream(pa.table({"v": v}), value_column=[], **opts)
    with pytest.raises(ValueError, match="multichannel series no single one"):
        segment_stream(pa.table({"v": v}), value_column="v", merge={"block": 8}, **opts)


def test_boundary_probs_of_channels_threshold_to_the_hard_segments() -> None:
    x = walks(8, 3000, 3)
    opts = dict(method="next_value", statistic="surprisal", target_len=16, min_len=2)
    p = entroseg.boundary_probs(x, **opts)
    assert p.shape == (3000,)
    np.testing.assert_array_equal(np.flatnonzero(p > 0.5), entroseg.segment(x, **opts).starts)
    assert abs(np.nansum(p) / (3000 / 16) - 1) <= 0.02


def test_bad_symbols_are_named_by_row_and_channel() -> None:
    from entroseg import SymbolOutOfRangeError

    x = np.zeros((10, 3), dtype=np.int64)
    x[7, 2] = -4
    with pytest.raises(SymbolOutOfRangeError, match="symbol -4 at row 7 of channel 2 of x"):
        entroseg.segment(x, method="conditional", window=4, threshold=0.5)


def pooled_reference(x: np.ndarray, order: int, window: int) -> np.ndarray:
    """Pooled permutation entropy from scratch: every channel's patterns in the window
    in one histogram (stable argsort ranks), normalized by ln(order!)."""
    n, c = x.shape
    out = np.full(n, np.nan)
    for t in range(window - 1, n):
        counts: dict[tuple[int, ...], int] = {}
        for k in range(c):
            for end in range(t - window + order, t + 1):
                key = tuple(np.argsort(x[end - order + 1 : end + 1, k], kind="stable"))
                counts[key] = counts.get(key, 0) + 1
        p = np.array(list(counts.values()), dtype=float)
        p /= p.sum()
        out[t] = -(p * np.log(p)).sum() / np.log(math.factorial(order))
    return out


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(0, 300),
    c=st.integers(1, 3),
    order=st.integers(2, 4),
    window=st.integers(6, 40),
    cuts=st.lists(st.integers(0, 300), max_size=4),
)
def test_pooled_patterns_equal_the_reference_and_stream(
    seed: int, n: int, c: int, order: int, window: int, cuts: list[int]
) -> None:
    x = np.round(walks(seed, n, c), 1)  # ties included
    opts = dict(order=order, window=window, channels="pooled")
    prof = entroseg.profile(x, **opts)  # type: ignore[arg-type]
    np.testing.assert_allclose(prof, pooled_reference(x, order, window), rtol=0, atol=1e-12)
    rules = dict(threshold=0.8, min_len=2, max_len=30)
    whole = entroseg.segment(x, **opts, **rules)  # type: ignore[arg-type]
    assert whole == entroseg.boundaries(prof, nan_policy="propagate", **rules)
    s = entroseg.Segmenter(**opts, **rules)  # type: ignore[arg-type]
    parts, at = [], 0
    for end in [*sorted(min(b, n) for b in cuts), n]:
        parts.append(s.push(x[at:end]))
        s = pickle.loads(pickle.dumps(s))
        at = end
    parts.append(s.finish())
    assert Segments.join(parts) == whole


def test_pooled_sees_what_channels_share() -> None:
    # Two channels with the same patterns pool to the entropy of one; different
    # patterns pool to more.
    x = walks(9, 600, 1)[:, 0]
    same = np.column_stack([x, 2 * x + 1])
    other = np.column_stack([x, x[::-1]])
    opts = dict(order=3, window=64, channels="pooled")
    one = entroseg.profile(x, order=3, window=64)
    np.testing.assert_allclose(entroseg.profile(same, **opts), one, atol=1e-12)  # type: ignore[arg-type]
    assert np.nanmean(entroseg.profile(other, **opts)) > np.nanmean(one)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="has none"):
        entroseg.segment(same, method="next_value", channels="pooled", threshold=1.0)


@pytest.mark.parametrize("channels", ["sum", "max", "pooled"])
def test_profiler_streams_the_combined_profile(channels: str) -> None:
    x = walks(12, 2500, 3)
    opts: dict[str, Any] = dict(method="permutation", order=3, window=32, channels=channels)
    whole = entroseg.profile(x, **opts)
    p = entroseg.Profiler(**opts)
    parts = []
    for a, b in [(0, 1), (1, 40), (40, 1300), (1300, 2500)]:
        parts.append(p.push(x[a:b]))
        p = pickle.loads(pickle.dumps(p))
    assert p.channels == 3
    np.testing.assert_array_equal(np.concatenate(parts), whole)
    with pytest.raises(InvalidParameterError, match=r"has 3 channel\(s\)"):
        p.push(x[:5, :2])
    p.reset()
    assert p.channels == 1
    np.testing.assert_array_equal(p.push(x[:, 0]), entroseg.profile(x[:, 0], **opts))


def test_profile_stream_takes_channels_per_key() -> None:
    pa = pytest.importorskip("pyarrow")
    from entroseg.arrow import profile_stream

    x = walks(13, 3000, 2)
    key = np.tile(["a", "b", "c"], 1000)
    opts = dict(method="permutation", order=3, window=24, channels="max")
    table = pa.table({"k": key, "x0": x[:, 0], "x1": x[:, 1]})
    fixed = pa.table({"k": key, "xy": pa.FixedSizeListArray.from_arrays(pa.array(x.ravel()), 2)})
    for source, column in ((table, ["x0", "x1"]), (fixed, "xy")):
        out = profile_stream(
            source.to_reader(max_chunksize=700),
            value_column=column,
            key_column="k",
            **opts,  # type: ignore[arg-type]
        ).read_all()
        got = out["profile"].to_numpy(zero_copy_only=False)
        for k in "abc":
            rows = key == k
            want = entroseg.profile(x[rows], **opts)  # type: ignore[arg-type]
            np.testing.assert_array_equal(got[rows], want)
