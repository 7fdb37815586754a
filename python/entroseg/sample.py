"""The bundled sample: a generated series with known regimes.

Generated, not downloaded, so the demo runs offline and the ground truth is exact. Four
regimes of 5,000 samples each, chosen so that permutation entropy tells them apart:

====  ===============  ===============================================
idx   regime           what permutation entropy sees
====  ===============  ===============================================
0     white noise      all patterns equally likely: entropy near 1
1     sine (+ faint    mostly monotone runs: low entropy
      noise)
2     random walk      increments are noise, levels persist: high
3     logistic map     chaotic but deterministic: forbidden patterns
====  ===============  ===============================================
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

#: Regime names in order.
REGIMES: tuple[str, ...] = ("white_noise", "sine", "random_walk", "logistic_map")


def sample_series(
    length_per_regime: int = 5000, *, seed: int = 7
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """Return the sample series and the start index of each regime.

    Parameters
    ----------
    length_per_regime
        Samples per regime (four regimes).
    seed
        Seed of the random generator; the same seed gives the same series.

    Returns
    -------
    x : numpy.ndarray of float64
        The series, ``4 * length_per_regime`` samples.
    starts : numpy.ndarray of int64
        Index where each regime starts (``[0, L, 2L, 3L]``).

    Examples
    --------
    >>> x, starts = sample_series(100)
    >>> x.shape, starts.tolist()
    ((400,), [0, 100, 200, 300])
    """
    if length_per_regime < 1:
        raise ValueError(f"length_per_regime must be >= 1, got {length_per_regime}")
    n = length_per_regime
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    noise = rng.standard_normal(n)
    sine = np.sin(2 * np.pi * t / 200.0) + 0.002 * rng.standard_normal(n)
    walk = np.cumsum(rng.standard_normal(n))
    logistic = np.empty(n)
    v = 0.4
    for i in range(n):
        v = 4.0 * v * (1.0 - v)
        logistic[i] = v
    x = np.concatenate([noise, sine, walk, logistic]).astype(np.float64)
    return x, np.arange(4, dtype=np.int64) * n
