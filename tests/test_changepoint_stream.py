"""ChangePointDetector: the windowed definition against a slow reference built on
change_points, chunking and checkpoint invariance, the short-stream default, bounded
memory, typed errors."""

from __future__ import annotations

import itertools
import pickle

import entroseg
import numpy as np
import pytest
from entroseg.changepoints import SHORT_SERIES, default_penalty
from entroseg.metrics import covering
from hypothesis import given, settings
from hypothesis import strategies as st


def regimes(seed: int, n_per: int = 1500, k: int = 6) -> tuple[np.ndarray, list[int]]:
    """Alternating white noise, noisy oscillations and AR(1) stretches."""
    rng = np.random.default_rng(seed)
    parts = []
    for r in range(k):
        kind = r % 3
        if kind == 0:
            parts.append(rng.standard_normal(n_per))
        elif kind == 1:
            period = rng.integers(8, 30)
            t = np.arange(n_per)
            parts.append(np.sin(2 * np.pi * t / period) + 0.3 * rng.standard_normal(n_per))
        else:
            e = rng.standard_normal(n_per)
            c = np.zeros(n_per)
            for i in range(1, n_per):
                c[i] = 0.9 * c[i - 1] + e[i]
            parts.append(c / c.std())
    return np.concatenate(parts), [n_per * i for i in range(1, k)]


def reference(
    x: np.ndarray, window: int, lag: int, step: int, pen: float | None = None
) -> list[tuple[int, int]]:
    """The documented definition, spelled out with the offline search (order 4, the
    default for streams of at least SHORT_SERIES samples)."""

    def search(a: int, t: int) -> list[int]:
        if t - a < 40:
            return []
        p = default_penalty(t, order=4) if pen is None else pen
        return [a + int(e) for e in entroseg.change_points(x[a:t], order=4, pen=p)[:-1]]

    found: list[tuple[int, int]] = []
    open_at = 0
    for t in range(step, len(x) + 1, step):
        if t < SHORT_SERIES:
            continue
        for b in search(max(open_at, t - window), t):
            if t - b >= lag:
                found.append((b, t))
                open_at = b
    n = len(x)
    found += [(b, n) for b in search(max(open_at, n - window), n)]
    return found


def pairs(found: entroseg.Detections) -> list[tuple[int, int]]:
    """(start, position that confirmed it) of each detection."""
    return [(int(s), int(s + d)) for s, d in zip(found.start, found.delay, strict=True)]


def push_all(
    det: entroseg.ChangePointDetector, x: np.ndarray, cuts: list[int], end: int
) -> list[tuple[int, int]]:
    """Pushes ``x[:end]`` cut at ``cuts``."""
    bounds = [0, *sorted(c for c in cuts if 0 < c < end), end]
    return [p for a, b in itertools.pairwise(bounds) for p in pairs(det.push(x[a:b]))]


def run(det: entroseg.ChangePointDetector, x: np.ndarray, cuts: list[int]) -> list[tuple[int, int]]:
    return push_all(det, x, cuts, len(x)) + pairs(det.finish())


@pytest.mark.parametrize(("window", "lag", "step"), [(4096, 2048, 512), (1500, 300, 100)])
def test_detections_follow_the_documented_definition(window: int, lag: int, step: int) -> None:
    x, _ = regimes(0, n_per=1300)
    det = entroseg.ChangePointDetector(window=window, lag=lag, step=step)
    assert run(det, x, []) == reference(x, window, lag, step)
    det = entroseg.ChangePointDetector(window=window, lag=lag, step=step, pen=30.0)
    assert run(det, x, [777]) == reference(x, window, lag, step, pen=30.0)


def test_regimes_are_found_close_to_the_offline_search() -> None:
    streamed, offline = [], []
    for seed in range(4):
        x, truth = regimes(seed)
        found = run(entroseg.ChangePointDetector(), x, [])
        starts = [s for s, _ in found]
        assert starts == sorted(set(starts))
        # Confirmed during the stream: at least `lag` samples late; at finish: at the end.
        assert all(t - s >= 2048 or t == len(x) for s, t in found)
        streamed.append(covering(truth, starts, len(x)))
        offline.append(covering(truth, entroseg.change_points(x)[:-1], len(x)))
    assert np.mean(streamed) >= 0.85
    assert np.mean(streamed) >= np.mean(offline) - 0.05


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n_per=st.integers(100, 900),
    cuts=st.lists(st.integers(0, 6000), max_size=6),
    resume=st.integers(0, 6000),
)
def test_any_chunking_and_checkpoint_give_the_same_detections(
    seed: int, n_per: int, cuts: list[int], resume: int
) -> None:
    x, _ = regimes(seed, n_per=n_per)
    opts = dict(window=1024, lag=256, step=64)
    whole = run(entroseg.ChangePointDetector(**opts), x, [])
    det = entroseg.ChangePointDetector(**opts)
    resume = min(resume, len(x))
    head = push_all(det, x, cuts, resume)
    det = pickle.loads(pickle.dumps(det))
    rest = [c - resume for c in cuts if c > resume]
    # Positions count from the start of the stream, across the resume.
    assert head + run(det, x[resume:], rest) == whole


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(45, SHORT_SERIES - 1),
    shift=st.floats(0.0, 5.0),
)
def test_a_short_stream_equals_the_offline_default(seed: int, n: int, shift: float) -> None:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    x[n // 2 :] += shift
    x[n // 3 :] += 0.01 * shift * np.arange(n - n // 3)
    found = run(entroseg.ChangePointDetector(), x, [n // 4])
    assert [s for s, _ in found] == entroseg.change_points(x)[:-1].tolist()
    assert all(t == n for _, t in found)


def test_memory_is_bounded_by_the_window() -> None:
    det = entroseg.ChangePointDetector(window=2048)
    x, _ = regimes(1, n_per=5000, k=12)
    peak = 0
    for chunk in np.array_split(x, 97):
        det.push(chunk)
        peak = max(peak, det.retained)
    assert det.samples_seen == len(x)
    assert peak <= 2 * 2048 + 2048 // 8
    assert "samples_seen=60000" in repr(det)


def test_reset_starts_a_new_stream() -> None:
    x, _ = regimes(2, n_per=1200)
    det = entroseg.ChangePointDetector()
    first = run(det, x, [])
    with pytest.raises(entroseg.StreamClosedError):
        det.push(x[:10])
    det.reset()
    assert det.samples_seen == 0 and not det.is_finished
    assert run(det, x, [5000]) == first
    assert det.reported == len(first)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"window": 30}, entroseg.InvalidParameterError, "window must be >= 2 \\* min_size = 40"),
        ({"window": 100, "lag": 100}, entroseg.InvalidParameterError, "lag must be < window"),
        ({"step": 0}, entroseg.InvalidParameterError, "step"),
        ({"step": 5000}, entroseg.InvalidParameterError, "step must be in 1..=window"),
        ({"lag": -1}, entroseg.InvalidParameterError, "lag"),
        ({"pen": -1.0}, entroseg.InvalidParameterError, "pen must be finite"),
        ({"pen": float("nan")}, entroseg.InvalidParameterError, "pen must be finite"),
        ({"order": 9}, entroseg.InvalidParameterError, "order must be in 2..=7"),
        ({"order": "fast"}, ValueError, "'auto'"),
        ({"order": None}, entroseg.InvalidParameterError, "the cost is empty"),
        ({"min_size": 0}, entroseg.InvalidParameterError, "min_size"),
        ({"windw": 100}, TypeError, "unexpected option\\(s\\) 'windw'; the cost options are"),
    ],
)
def test_bad_options_raise_typed_errors(kwargs: dict[str, object], exc: type, match: str) -> None:
    with pytest.raises(exc, match=match):
        entroseg.ChangePointDetector(**kwargs)  # type: ignore[arg-type]


def test_bad_samples_and_checkpoints_raise_typed_errors() -> None:
    det = entroseg.ChangePointDetector()
    det.push(np.ones(5))
    with pytest.raises(entroseg.NonFiniteError, match="sample 7 = NaN is not finite"):
        det.push(np.array([1.0, 2.0, np.nan]))
    assert det.samples_seen == 5  # the failed chunk left no trace
    with pytest.raises(ValueError, match="1-D"):
        det.push(np.ones((3, 2)))
    state = det.checkpoint()
    with pytest.raises(entroseg.CheckpointError):
        entroseg.ChangePointDetector.from_checkpoint(state[:-3])
    with pytest.raises(entroseg.CheckpointError, match="Segmenter"):
        entroseg.ChangePointDetector.from_checkpoint(
            entroseg.Segmenter(order=3, window=16, max_len=8).checkpoint()
        )
