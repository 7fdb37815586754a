"""numpy masked arrays: masked samples are missing values (NaN under ``nan_policy``) on
every float surface; inputs that cannot be missing (symbols, bases, offsets, vectors)
refuse a masked entry with a TypeError that says how to convert, and read an array with
nothing masked as its data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import entroseg
import numpy as np
import pytest


def _masked(n: int = 300, at: tuple[int, ...] = (37, 120)) -> tuple[np.ma.MaskedArray, np.ndarray]:
    """A masked series whose masked samples hold a huge value, and the same series with
    NaN there (what the mask means)."""
    x = np.random.default_rng(0).standard_normal(n).cumsum()
    data = x.copy()
    data[list(at)] = 1e9  # never to be read as data
    m = np.ma.masked_array(data, mask=np.isin(np.arange(n), at))
    nan = x.copy()
    nan[list(at)] = np.nan
    return m, nan


FLOAT_SURFACES: list[tuple[str, Callable[[Any], Any]]] = [
    ("permutation_entropy", lambda x: entroseg.permutation_entropy(
        x, order=3, window=20, nan_policy="propagate")),
    ("statistical_complexity", lambda x: entroseg.statistical_complexity(
        x, order=3, window=20, nan_policy="propagate")),
    ("profile", lambda x: entroseg.profile(x, order=3, window=20, nan_policy="propagate")),
    ("segment", lambda x: entroseg.segment(
        x, order=3, window=20, threshold=0.8, max_len=50, nan_policy="propagate").starts),
    ("Segmenter", lambda x: entroseg.Segmenter(
        order=3, window=20, threshold=0.8, max_len=50, nan_policy="propagate").push(x).starts),
    ("RollingPermutationEntropy", lambda x: entroseg.RollingPermutationEntropy(
        order=3, window=20, nan_policy="propagate").push(x)),
    ("Profiler", lambda x: entroseg.Profiler(
        order=3, window=20, nan_policy="propagate").push(x)),
]  # fmt: skip


@pytest.mark.parametrize(("name", "call"), FLOAT_SURFACES, ids=[n for n, _ in FLOAT_SURFACES])
def test_masked_samples_are_missing_values(name: str, call: Callable[[Any], Any]) -> None:
    m, nan = _masked()
    got, want = np.asarray(call(m)), np.asarray(call(nan))
    assert np.array_equal(got, want, equal_nan=True)
    # And nothing of the hidden value leaks: the unmasked data gives something else.
    assert not np.array_equal(np.asarray(call(m.data)), want, equal_nan=True)


def test_masked_samples_raise_under_the_default_nan_policy() -> None:
    m, _ = _masked()
    with pytest.raises(entroseg.NonFiniteError, match="index 37"):
        entroseg.permutation_entropy(m, order=3, window=20)
    with pytest.raises(entroseg.NonFiniteError, match="37"):
        entroseg.change_points(m)
    with pytest.raises(entroseg.NonFiniteError, match="sample 37"):
        entroseg.ChangePointDetector().push(m)


def test_a_mask_with_nothing_masked_reads_as_the_data() -> None:
    x = np.random.default_rng(1).standard_normal(400).cumsum()
    m = np.ma.masked_array(x, mask=False)
    assert np.array_equal(entroseg.change_points(m), entroseg.change_points(x))
    s = np.ma.masked_array(np.arange(200) % 5)
    assert np.array_equal(
        entroseg.conditional_entropy(s, window=20, alphabet_size=5),
        entroseg.conditional_entropy(s.data, window=20, alphabet_size=5),
        equal_nan=True,
    )


CANNOT_BE_MISSING: list[tuple[str, Callable[[], Any], str]] = [
    ("symbols", lambda: entroseg.conditional_entropy(
        np.ma.masked_array(np.arange(30) % 3, mask=np.arange(30) == 4), window=5),
     "symbols is a masked array with 1 masked value\\(s\\) \\(the first at index 4\\)"),
    ("next_symbol", lambda: entroseg.next_symbol_entropy(
        np.ma.masked_array(np.arange(30) % 3, mask=np.arange(30) >= 28)),
     "2 masked value\\(s\\) \\(the first at index 28\\)"),
    ("bases", lambda: entroseg.dust_mask(
        np.ma.masked_array(np.zeros(100, np.uint8), mask=np.arange(100) == 9)),
     "sequence is a masked array .* pass sequence.filled\\(value\\) or sequence.compressed\\(\\)"),
    ("offsets", lambda: entroseg.segment_batch(
        np.ones(20), np.ma.masked_array([0, 10, 20], mask=[0, 1, 0]), order=3, window=5,
        threshold=0.5),
     "offsets is a masked array"),
    ("vectors", lambda: entroseg.merge_plan(
        vectors=np.ma.masked_array(np.ones((3, 2)), mask=[[0, 0], [1, 0], [0, 0]]),
        ratio=0.5, levels=1),
     "vectors is a masked array"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "call", "match"), CANNOT_BE_MISSING, ids=[c[0] for c in CANNOT_BE_MISSING]
)
def test_inputs_that_cannot_be_missing_refuse_masked_entries(
    name: str, call: Callable[[], Any], match: str
) -> None:
    with pytest.raises(TypeError, match=match):
        call()


def test_merge_helpers_read_masks() -> None:
    seg = entroseg.Segments(starts=[0, 2], lengths=[2, 3])
    profile = np.ma.masked_array([9e9, 1.0, 2.0, 9e9, 4.0], mask=[1, 0, 0, 1, 0])
    # Masked samples are missing, as NaN is: left out of the mean.
    assert entroseg.segment_means(seg, profile).tolist() == [1.0, 3.0]
    plan = entroseg.merge_plan(profile=np.arange(8.0), window=4, r=[2], levels=1)
    rows = np.ma.masked_array(np.ones((8, 2)), mask=False)
    assert np.array_equal(plan.pool(rows), plan.pool(rows.data))
    rows[3, 1] = np.ma.masked
    with pytest.raises(TypeError, match="x is a masked array with 1 masked value"):
        plan.pool(rows)
    with pytest.raises(TypeError, match="weights is a masked array"):
        plan.pool(np.ones((8, 2)), weights=np.ma.masked_array(np.ones(8), mask=np.arange(8) == 0))
    groups = np.ma.masked_array(np.ones(plan[-1].num_groups), mask=False)
    groups[0] = np.ma.masked
    with pytest.raises(TypeError, match="y is a masked array"):
        plan.unmerge(groups)
