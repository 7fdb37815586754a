"""accumulate=True: equal-information segments. A segment closes before the sample that
would bring the sum of its scores above the threshold; checked against a plain loop, on
every surface, and for what it is for (each segment carries about the same information)."""

from __future__ import annotations

import warnings

import entroseg
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st


def reference(
    s: np.ndarray, threshold: float, min_len: int, max_len: int | None
) -> list[tuple[int, int]]:
    starts = [(0, 0)]
    cur, acc = 0, 0.0
    for t, v in enumerate(s):
        fires = bool(np.isfinite(v)) and acc + max(v, 0.0) > threshold and t - cur >= min_len
        if t > 0 and (fires or (max_len is not None and t - cur >= max_len)):
            starts.append((t, 1 if fires else 4))
            cur, acc = t, 0.0
        if np.isfinite(v):
            acc += max(v, 0.0)  # information is not negative
    return starts


@settings(max_examples=80, deadline=None)
@given(
    scores=st.lists(st.one_of(st.floats(0, 5), st.just(float("nan"))), min_size=1, max_size=200),
    threshold=st.floats(0.1, 30.0),
    min_len=st.integers(1, 5),
    extra=st.one_of(st.none(), st.integers(0, 30)),
)
def test_the_rule_is_the_reference(
    scores: list[float], threshold: float, min_len: int, extra: int | None
) -> None:
    s = np.asarray(scores)
    max_len = None if extra is None else min_len + extra
    seg = entroseg.boundaries(
        s, accumulate=True, threshold=threshold, min_len=min_len, max_len=max_len,
        nan_policy="propagate",
    )  # fmt: skip
    got = list(zip(seg.starts.tolist(), seg.reasons.tolist(), strict=True))
    assert got == reference(s, threshold, min_len, max_len)


def test_segments_carry_equal_information() -> None:
    # Next-symbol surprisal of a stream whose predictability changes: with accumulate,
    # every closed segment carries about the threshold's worth of bits, so segments are
    # long where the stream is predictable and short where it is not.
    rng = np.random.default_rng(4)
    predictable = np.tile(np.array([0, 1, 2, 3], dtype=np.uint8), 2000)
    random = rng.integers(0, 4, 8000).astype(np.uint8)
    x = np.concatenate([predictable, random])
    opts = dict(method="next_symbol", context=2, alphabet_size=4, statistic="surprisal")
    bits = entroseg.profile(x, **opts)
    seg = entroseg.segment(x, accumulate=True, target_len=32, **opts)
    assert seg.calibration is not None and seg.calibration.met
    info = np.add.reduceat(np.nan_to_num(bits), seg.starts)[:-1]
    assert info.max() <= seg.calibration.threshold + 1e-9
    # The repeating pattern is learnt within a few periods: a handful of segments for
    # 8,000 symbols, against one per ~16 random symbols afterwards.
    assert np.sum(seg.starts < 8000) <= 4
    assert np.mean(seg.lengths[seg.starts >= 8000]) < 20


def test_online_and_stream_agree() -> None:
    x = np.abs(np.random.default_rng(5).standard_normal(20_000))
    opts = dict(method="scores", accumulate=True, target_len=24.0, max_len=100)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        one = entroseg.segment(x, calibration="online", **opts)
    s = entroseg.Segmenter(**opts)
    parts = [s.push(c) for c in np.array_split(x, 7)] + [s.finish()]
    assert entroseg.Segments.join(parts) == one
    assert abs(len(x) / len(one) / 24.0 - 1) < 0.05
