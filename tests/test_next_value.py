"""method="next_value": next-value entropy and surprisal of a float stream under a
mixture of online linear predictors. Checked against a plain numpy restatement of the
model, for any chunking, and for what it measures."""

from __future__ import annotations

import pickle

import entroseg
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st


def reference(x: np.ndarray, context: int, memory: int) -> tuple[np.ndarray, np.ndarray]:
    """The model in numpy: weighted least squares of x[t] on [1, x[t-1..t-k]] for
    k = 1..context (forgetting 1 - 1/memory, ridge 1e-9 of the mean diagonal), Gaussian
    residuals with weighted variances, mixed by weights of forgotten code lengths."""
    beta = 1.0 - 1.0 / memory
    dim = context + 1
    gram = np.zeros((dim, dim))
    cross = np.zeros(dim)
    var = np.full(context, np.nan)
    logw = np.zeros(context)
    power = 0.0
    hist: list[float] = []
    h_out = np.full(len(x), np.nan)
    q_out = np.full(len(x), np.nan)
    tiny = np.finfo(float).tiny
    var_floor = 1e-200
    for t, v in enumerate(x):
        if len(hist) >= context:
            phi = np.r_[1.0, hist[:context]]
            floor = 1e-24 * power + var_floor
            ridge = 1e-9 * np.trace(gram) / dim + tiny
            means, vs = [], []
            for k in range(1, context + 1):
                g = gram[: k + 1, : k + 1] + ridge * np.eye(k + 1)
                w = np.linalg.solve(g, cross[: k + 1])
                means.append(float(w @ phi[: k + 1]))
                vk = var[k - 1]
                vs.append(max(power if np.isnan(vk) else vk, floor))
            means_a, vs_a = np.array(means), np.array(vs)
            wts = np.exp(logw - logw.max())
            wts /= wts.sum()
            logd = -0.5 * np.log(2 * np.pi * vs_a) - (v - means_a) ** 2 / (2 * vs_a)
            terms = np.log(wts) + logd
            top = terms.max()
            q_out[t] = -(top + np.log(np.sum(np.exp(terms - top)))) / np.log(2)
            mix_mean = np.sum(wts * means_a)
            mix_var = max(np.sum(wts * (vs_a + means_a**2)) - mix_mean**2, floor)
            h_out[t] = 0.5 * np.log2(2 * np.pi * np.e * mix_var)
            logw = beta * logw + logd
            logw -= logw.max()
            e2 = (v - means_a) ** 2
            var = np.where(np.isnan(var), e2, beta * var + (1 - beta) * e2)
            gram = beta * gram + np.outer(phi, phi)
            cross = beta * cross + phi * v
        power = beta * power + (1 - beta) * v * v
        hist.insert(0, float(v))
    return h_out, q_out


@settings(max_examples=25, deadline=None)
@given(
    steps=st.lists(st.floats(-2, 2), min_size=10, max_size=300),
    context=st.integers(1, 4),
    memory=st.integers(10, 200),
)
def test_the_model_is_the_reference(steps: list[float], context: int, memory: int) -> None:
    x = np.cumsum(steps)
    memory = max(memory, 2 * (context + 1))
    opts = dict(method="next_value", context=context, window=memory)
    h = entroseg.profile(x, **opts)
    q = entroseg.profile(x, statistic="surprisal", **opts)
    wh, wq = reference(x, context, memory)
    assert np.allclose(h, wh, rtol=1e-6, atol=1e-6, equal_nan=True)
    assert np.allclose(q, wq, rtol=1e-6, atol=1e-6, equal_nan=True)


def test_streams_and_checkpoints_give_the_same_bits() -> None:
    x = np.cumsum(np.random.default_rng(0).standard_normal(5000))
    opts = dict(method="next_value", context=3, statistic="surprisal")
    whole = entroseg.profile(x, **opts)
    p = entroseg.Profiler(**opts)
    parts = [p.push(x[:1234])]
    p = pickle.loads(pickle.dumps(p))
    parts.append(p.push(x[1234:]))
    assert np.array_equal(np.concatenate(parts), whole, equal_nan=True)
    seg = entroseg.segment(x, target_len=32, **opts)
    assert entroseg.segment_parallel(x, chunks=4, target_len=32, **opts) == seg


def test_surprise_is_where_the_stream_stops_being_predictable() -> None:
    rng = np.random.default_rng(1)
    t = np.arange(3000)
    x = np.concatenate([np.sin(t / 20.0), np.sin(t / 20.0) + rng.standard_normal(3000)])
    q = entroseg.profile(x, method="next_value", statistic="surprisal")
    h = entroseg.profile(x, method="next_value")
    assert np.nanmean(q[500:3000]) + 5 < np.nanmean(q[3500:])  # bits
    assert np.nanmean(h[500:3000]) + 5 < np.nanmean(h[3500:])
    # BLT-style patches: a new one where the surprisal is high, calibrated to a mean.
    seg = entroseg.segment(x, method="next_value", statistic="surprisal", target_len=50)
    assert np.sum(seg.starts >= 3000) > 2 * np.sum(seg.starts < 3000)


def test_bad_options_are_refused() -> None:
    x = np.arange(100.0)
    with pytest.raises(entroseg.InvalidParameterError, match=r"context .* must be in 1..=8"):
        entroseg.profile(x, method="next_value", context=9)
    with pytest.raises(entroseg.InvalidParameterError, match=r"window .* must be >= 2"):
        entroseg.profile(x, method="next_value", context=2, window=5)
    with pytest.raises(entroseg.NonFiniteError):
        entroseg.profile(np.array([1.0, np.nan, 2.0]), method="next_value")
