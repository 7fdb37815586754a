"""Soft boundaries: per-position boundary probabilities, and the ratio statistics a
training loop needs to learn a chunker with them.

Learned chunkers (H-Net's dynamic chunking and its relatives) train a boundary
probability per position against a target compression ratio. :func:`boundary_probs`
gives model-free probabilities in that form, to use as a prior or a teacher: they agree
exactly with the hard cuts of :func:`entroseg.segment` at 0.5, and their sum can be
calibrated to a target number of segments. :func:`ratio_statistics` and
:func:`ratio_loss` are H-Net's ratio statistics F and G and its ratio loss, in numpy.

The construction
    The score the rules cut (:func:`entroseg.profile` for the same options) gives a
    margin ``m[t]`` against the threshold the rules cut with (``threshold``, or
    ``seg.calibration.threshold`` when ``target_len`` / ``budget`` calibrated it; the
    score increase against ``relative``; their minimum under ``combine="and"``, their
    maximum under ``"or"``; the presets' shifted entropies against their thresholds).
    The confidence is ``c[t] = max(sigmoid((|m[t]| + eps) / temperature), 0.5 +
    MIN_MARGIN)``, in ``(0.5, 1]``, with ``eps`` half the smallest positive ``|m|``;
    ``p[t] = c[t]`` where :func:`entroseg.segment` starts a segment, ``1 - c[t]``
    elsewhere. So ``p > 0.5`` exactly at the hard starts, whatever decided them (the
    score, a ``min_len`` suppression, a ``max_len`` split, a tie broken by ``tie_cut``,
    the first sample): the score says how sure, the rules say which side. ``eps`` keeps
    a score exactly at the threshold off 0.5 (and lets it grow sure as the temperature
    falls); the floor ``MIN_MARGIN`` keeps a large temperature from rounding a
    confidence to 0.5. With no rule on the score at all (only ``max_len``), every
    decision is certain: ``p`` is 1 at the starts and 0 elsewhere.
Calibration of the sum
    With ``target_len`` (the sum should be ``n / target_len``), ``budget`` (the sum
    should be ``budget``) or ``ratio`` (the sum should be ``ratio * n``) and no
    ``temperature``, the temperature is found by bisection on ``log(temperature)``
    inside a bracket where the sum crosses the target (the largest such temperature:
    the softest probabilities that meet it). The sum is continuous in the temperature:
    about the number of hard starts K as it goes to 0, about ``n / 2`` as it grows.
    When the target is below that (more hard starts than the target, e.g. ``max_len``
    below ``target_len``, or tied scores that left the hard calibration above it), the
    other positions are held at the sharpest temperature and the starts alone are
    softened by the same search, which reaches down to about ``K / 2``. When no
    temperature brings the sum within :data:`SUM_TOLERANCE` (2%) of the target, the
    closest is used and a ``UserWarning`` gives the sum and the target. Without a target
    the default temperature is the median of ``|m|`` (a position at the median margin
    gets confidence about ``sigmoid(1)``, 0.73).
Missing scores
    Where the score is NaN (a profile's warm-up, or a window holding a NaN under
    ``nan_policy="propagate"``; ``"raise"`` raises as :func:`entroseg.segment` does), no
    probability is made up: ``p`` is 1.0 where the rules started a segment anyway (the
    first sample, a ``max_len`` split: certain by rule) and NaN elsewhere. Sums and the
    calibration then run over the finite entries (``np.nansum``).
Methods
    Every method with a per-position score: ``"permutation"``, ``"conditional"``,
    ``"next_symbol"``, ``"next_value"``, ``"scores"`` and the presets. Method ``"line"``
    (whose score restarts with every segment) and ``accumulate=True`` (whose decision
    depends on the open segment's sum) have none, and raise
    :class:`~entroseg.InvalidParameterError` naming the supported methods.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import numpy.typing as npt

from entroseg._entroseg import BLT_DEFAULT_THRESHOLD, InvalidParameterError, SegmentSpec, _segment
from entroseg._options import SegmentOptions, build_spec
from entroseg.segments import Segments, _calibrated, checked_target, profile

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "MIN_MARGIN",
    "SUM_TOLERANCE",
    "RatioStatistics",
    "boundary_probs",
    "ratio_loss",
    "ratio_statistics",
]

_F64 = npt.NDArray[np.float64]

#: The least distance of a probability from 0.5: a score exactly at the threshold still
#: lands on the side the rules put it (large enough to survive a cast to float32).
MIN_MARGIN = 1e-6

#: How far (relative) a calibrated sum may be from its target before a UserWarning.
SUM_TOLERANCE = 0.02


#: The methods with a per-position score.
SUPPORTED_METHODS = ("permutation", "conditional", "next_symbol", "next_value", "scores")


def _check_positive(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    v = float(value)
    if not np.isfinite(v) or v <= 0:
        raise InvalidParameterError(f"{name} must be a finite number > 0, got {value!r}")
    return v


def check_soft_options(
    temperature: float | None, ratio: float | None
) -> tuple[float | None, float | None]:
    """``temperature`` and ``ratio`` as floats, after the checks every surface makes:
    each finite and > 0, ``ratio`` at most 1, not both."""
    if temperature is not None:
        temperature = _check_positive("temperature", temperature)
        if ratio is not None:
            raise InvalidParameterError(
                f"give temperature={temperature!r} or ratio={ratio!r}, not both: the "
                "ratio is met by calibrating the temperature"
            )
    if ratio is not None:
        ratio = _check_positive("ratio", ratio)
        if ratio > 1:
            raise InvalidParameterError(f"ratio must be in (0, 1], got {ratio!r}")
    return temperature, ratio


def _shifted(e: _F64) -> _F64:
    """``e`` rounded to float32 (as BLT and EntroPE do) and moved one position right:
    the entropy at ``t`` decides a start at ``t + 1``."""
    out = np.full(len(e), np.nan)
    out[1:] = e[:-1].astype(np.float32).astype(np.float64)
    return out


def _increase(s: _F64) -> _F64:
    out = np.full(len(s), np.nan)
    out[1:] = s[1:] - s[:-1]
    return out


def _torch_quantile(v: _F64, q: float) -> float:
    """torch.quantile's linear interpolation over the finite values (NaN when none)."""
    finite = v[np.isfinite(v)]
    return float(np.quantile(finite, q)) if len(finite) else float("nan")


def _margins(scores: _F64, spec: SegmentSpec, seg: Segments) -> _F64:
    """The signed distance of each position's score from firing its rule (positive: the
    score alone would start a segment)."""
    o: dict[str, Any] = dict(spec.options)
    preset, mode = o["preset"], o["mode"] or "global"
    level: _F64 | None = None
    rise: _F64 | None = None
    if preset == "blt":
        s = _shifted(scores)
        threshold = BLT_DEFAULT_THRESHOLD if o["threshold"] is None else float(o["threshold"])
        level = None if mode == "monotonic" else s - threshold
        rise = None if mode == "global" else _increase(s) - float(o["relative"] or 0.0)
        combine = "and"
    elif preset == "entrope":
        s = _shifted(scores)
        if mode == "global":
            level = s - _torch_quantile(s, float(o["quantile"]))
        else:
            rise = _increase(s)
            rise = rise - _torch_quantile(rise, float(o["quantile"]))
        combine = "and"
    else:
        threshold = o["threshold"]
        if seg.calibration is not None and seg.calibration.threshold is not None:
            threshold = seg.calibration.threshold
        if threshold is not None:
            level = scores - float(threshold)
        if o["relative"] is not None:
            rise = _increase(scores) - float(o["relative"])
        combine = o["combine"]
    if level is not None and rise is not None:
        both = np.fmin(level, rise) if combine == "and" else np.fmax(level, rise)
        return np.asarray(both, dtype=np.float64)
    if level is not None:
        return level
    if rise is not None:
        return rise
    # No rule fires by score (only min_len/max_len cut): every score is far from a start.
    return np.full(len(scores), -np.inf)


def _strict(abs_margin: _F64) -> _F64:
    """``|m|`` plus half the smallest positive margin: a score exactly at the threshold
    (a tie, cut by ``tie_cut``) is the least sure position, yet grows sure as the
    temperature falls, like every other (profiles with few distinct values tie often)."""
    positive = abs_margin[np.isfinite(abs_margin) & (abs_margin > 0)]
    return abs_margin + (0.5 * float(positive.min()) if len(positive) else 1.0)


def _starts_mask(seg: Segments, n: int) -> npt.NDArray[np.bool_]:
    mask = np.zeros(n, dtype=bool)
    mask[seg.starts] = True
    return mask


def _confidence(abs_margin: _F64, temperature: float) -> _F64:
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        conf = 1.0 / (1.0 + np.exp(-abs_margin / temperature))
    # NaN stays NaN: np.maximum propagates it.
    return np.asarray(np.maximum(conf, 0.5 + MIN_MARGIN), dtype=np.float64)


def _probs(
    abs_margin: _F64, is_start: npt.NDArray[np.bool_], at_starts: float, elsewhere: float
) -> _F64:
    """``c`` at the hard starts (temperature ``at_starts``), ``1 - c`` elsewhere
    (temperature ``elsewhere``)."""
    p = np.where(
        is_start, _confidence(abs_margin, at_starts), 1.0 - _confidence(abs_margin, elsewhere)
    )
    # A start the rules made where the score is missing is certain by rule.
    p[is_start & np.isnan(abs_margin)] = 1.0
    return np.asarray(p, dtype=np.float64)


def _search(sum_at: Callable[[float], float], grid: _F64, target: float) -> tuple[float, float]:
    """The largest temperature of ``grid``'s range whose sum meets ``target`` (the
    softest probabilities that do), by bisection on ``log(temperature)`` inside the
    last bracket of the scan where the sum crosses the target; the scan's closest point
    when none does. Returns the temperature and its sum."""
    sums = np.array([sum_at(float(t)) for t in grid])
    diff = sums - target
    crossing = np.flatnonzero(np.sign(diff[:-1]) * np.sign(diff[1:]) <= 0)
    if not len(crossing):
        best = int(np.argmin(np.abs(diff)))
        return float(grid[best]), float(sums[best])
    i = int(crossing[-1])
    lo, hi = float(np.log(grid[i])), float(np.log(grid[i + 1]))
    low_side_below = diff[i] < 0
    got = float(sums[i])
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        got = sum_at(float(np.exp(mid)))
        if got == target:
            return float(np.exp(mid)), got
        if (got < target) == low_side_below:
            lo = mid
        else:
            hi = mid
    return float(np.exp(lo)), sum_at(float(np.exp(lo)))


def _calibrate(
    abs_margin: _F64, is_start: npt.NDArray[np.bool_], target: float, stacklevel: int
) -> tuple[float, float]:
    """The temperatures (at the starts, elsewhere) whose probabilities sum (over finite
    entries) to ``target``; see the module's "Calibration of the sum"."""
    finite = abs_margin[np.isfinite(abs_margin)]
    scale = float(np.median(finite)) if len(finite) else 1.0
    grid = scale * np.logspace(-8, 8, 65)

    def one_temperature(t: float) -> float:
        return float(np.nansum(_probs(abs_margin, is_start, t, t)))

    temperature, got = _search(one_temperature, grid, target)
    pair = (temperature, temperature)
    if got > target * (1 + SUM_TOLERANCE):
        # More hard starts than the target: soften the starts alone.
        sharpest = float(grid[0])

        def starts_only(t: float) -> float:
            return float(np.nansum(_probs(abs_margin, is_start, t, sharpest)))

        softer, got_softer = _search(starts_only, grid, target)
        if abs(got_softer - target) < abs(got - target):
            pair, got = (softer, sharpest), got_softer
    if abs(got - target) > SUM_TOLERANCE * target:
        warnings.warn(
            f"boundary probabilities sum to {got:.2f} at best, target {target:.2f}, more "
            f"than {SUM_TOLERANCE:.0%} off: {int(is_start.sum())} hard starts among "
            f"{int(np.isfinite(abs_margin).sum())} scored positions (each start carries "
            "more than 0.5, each other position less than 0.5)",
            UserWarning,
            stacklevel=stacklevel + 1,
        )
    return pair


def boundary_probs(
    x: npt.ArrayLike,
    *,
    temperature: float | None = None,
    ratio: float | None = None,
    spec: SegmentSpec | None = None,
    **options: Unpack[SegmentOptions],
) -> _F64:
    """Per-position boundary probabilities in [0, 1] whose hard decision is
    :func:`entroseg.segment`'s: ``p > 0.5`` exactly where a segment starts.

    See :mod:`entroseg.soft` for the construction (a sigmoid of the score's margin from
    the rules' threshold, on the side the rules chose) and how the sum is calibrated.

    Parameters
    ----------
    x : array_like
        The series, as for :func:`entroseg.segment`.
    temperature : float, optional
        The sigmoid's temperature, in score units (> 0). Default: calibrated so the
        probabilities sum to the target (``ratio``, ``budget`` or ``target_len``), or
        the median absolute margin when there is none.
    ratio : float, optional
        The fraction of positions that should be boundaries, in (0, 1]: the
        probabilities are calibrated to sum to ``ratio * len(x)`` (default, with
        ``target_len``: ``1 / target_len``; with ``budget``: ``budget / len(x)``).
    spec : SegmentSpec, optional
        A spec built once, instead of the options.
    **options
        The options of :func:`entroseg.segment`, with their meanings and defaults.

    Returns
    -------
    numpy.ndarray
        float64, one per sample; NaN where the score is NaN and no segment starts.

    Raises
    ------
    InvalidParameterError
        A bad ``temperature`` or ``ratio`` (naming it), ``temperature`` with ``ratio``,
        or a method without a per-position score (``"line"``, ``accumulate=True``).

    Examples
    --------
    >>> import numpy as np, entroseg
    >>> x, _ = entroseg.sample_series(1000)
    >>> opts = dict(order=4, window=64, target_len=32, min_len=4, max_len=128)
    >>> p = entroseg.boundary_probs(x, **opts)
    >>> seg = entroseg.segment(x, **opts)
    >>> np.array_equal(np.flatnonzero(p > 0.5), seg.starts)
    True
    >>> bool(abs(np.nansum(p) / (len(x) / 32) - 1) < 0.02)
    True
    """
    temperature, ratio = check_soft_options(temperature, ratio)
    built = build_spec(options, streaming=False, spec=spec, data=x)
    if built.method not in SUPPORTED_METHODS or built.options["accumulate"]:
        what = "accumulate=True" if built.options["accumulate"] else f"method={built.method!r}"
        raise InvalidParameterError(
            f"boundary_probs needs a per-position score; {what} has none: use one of "
            f"{', '.join(repr(m) for m in SUPPORTED_METHODS)} (accumulate=False)"
        )
    # segment()'s own steps, so that a missed target_len warns at the caller's line.
    seg = checked_target(_calibrated(_segment(x, built), built), built)
    scores = np.asarray(profile(x, **_profile_options(built)), dtype=np.float64)
    n = len(scores)
    abs_margin = _strict(np.abs(_margins(scores, built, seg)))
    is_start = _starts_mask(seg, n)
    if temperature is None:
        target = _target_sum(built, ratio, n)
        if target is None:
            finite = abs_margin[np.isfinite(abs_margin)]
            temperature = float(np.median(finite)) if len(finite) else 1.0
        else:
            return _probs(abs_margin, is_start, *_calibrate(abs_margin, is_start, target, 2))
    return _probs(abs_margin, is_start, temperature, temperature)


def _profile_options(spec: SegmentSpec) -> dict[str, Any]:
    """The spec's options as keywords for :func:`entroseg.profile` (which ignores the
    rule options)."""
    return {k: v for k, v in spec.options.items() if v is not None}


def _target_sum(spec: SegmentSpec, ratio: float | None, n: int) -> float | None:
    if ratio is not None:
        return ratio * n
    budget = spec.options["budget"]
    if isinstance(budget, int):
        return float(budget)
    target_len = spec.options["target_len"]
    if isinstance(target_len, float):
        return n / target_len
    return None


class RatioStatistics(NamedTuple):
    """H-Net's ratio statistics of boundary probabilities.

    ``selected`` (F) is the fraction of positions selected as boundaries (``p > 0.5``,
    or the hard mask given); ``mean_prob`` (G) is the mean probability.
    """

    selected: float
    mean_prob: float


def ratio_statistics(
    probs: npt.ArrayLike, *, selected: npt.ArrayLike | None = None
) -> RatioStatistics:
    """F (fraction of positions selected) and G (mean probability) over all entries of
    ``probs`` (any shape: a batch is pooled, as H-Net does). ``selected`` is the hard
    boundary mask; default ``probs > 0.5``. NaN entries raise: mask them out first.

    Examples
    --------
    >>> import entroseg
    >>> entroseg.ratio_statistics([0.75, 0.25, 0.25, 0.25])
    RatioStatistics(selected=0.25, mean_prob=0.375)
    """
    p = np.asarray(probs, dtype=np.float64)
    if p.size == 0:
        raise InvalidParameterError("ratio statistics need at least one probability, got 0")
    if not np.all(np.isfinite(p)):
        bad = int(np.flatnonzero(~np.isfinite(p.ravel()))[0])
        raise InvalidParameterError(f"probabilities must be finite, got {p.ravel()[bad]} at {bad}")
    if p.min() < 0 or p.max() > 1:
        raise InvalidParameterError(
            f"probabilities must be in [0, 1], got range [{p.min():g}, {p.max():g}]"
        )
    hard = p > 0.5 if selected is None else np.asarray(selected, dtype=bool)
    if hard.shape != p.shape:
        raise InvalidParameterError(
            f"selected must have the shape of probs {p.shape}, got {hard.shape}"
        )
    return RatioStatistics(float(hard.mean()), float(p.mean()))


def ratio_loss(
    probs: npt.ArrayLike, target: float, *, selected: npt.ArrayLike | None = None
) -> float:
    """H-Net's ratio loss ``N/(N-1) * ((N-1)*F*G + (1-F)*(1-G))`` for target compression
    ``N = target`` (> 1: one boundary every N positions), with F and G from
    :func:`ratio_statistics`.

    On the diagonal F = G it is ``N/(N-1) * ((N-1)*F**2 + (1-F)**2)``, smallest (1.0)
    at ``F = G = 1/N``. In training, F is a constant (it is not differentiable) and the
    gradient flows through G, which pushes G towards ``1/N`` when F is there; this numpy
    form gives the value (for logging, or as the reference of a framework version).

    Examples
    --------
    A batch of two series, probabilities from the model-free boundaries, mean-pooled
    into patches with ``Segments.patch_ids``:

    >>> import numpy as np, entroseg
    >>> rng = np.random.default_rng(0)
    >>> xs = [np.cumsum(rng.standard_normal(n)) for n in (3000, 2000)]
    >>> opts = dict(order=3, window=32, target_len=16, min_len=2)
    >>> probs = np.concatenate([entroseg.boundary_probs(x, **opts) for x in xs])
    >>> seg = entroseg.segment_batch(np.concatenate(xs), [0, 3000, 5000], **opts)
    >>> warm = ~np.isnan(probs)  # the profile's warm-up has no probability
    >>> loss = entroseg.ratio_loss(probs[warm], 16)
    >>> bool(0.99 < loss < 1.02)
    True
    >>> features = rng.standard_normal((5000, 8))  # one feature vector per position
    >>> ids = seg.patch_ids()
    >>> pooled = np.zeros((len(seg), 8))
    >>> np.add.at(pooled, ids, features)
    >>> pooled /= seg.lengths[:, None]
    >>> pooled.shape == (len(seg), 8), np.allclose(pooled[0], features[:seg.lengths[0]].mean(0))
    (True, True)
    """
    n = float(target)
    if not np.isfinite(n) or n <= 1:
        raise InvalidParameterError(
            f"target (the compression ratio N) must be a finite number > 1, got {target!r}"
        )
    f, g = ratio_statistics(probs, selected=selected)
    return n / (n - 1.0) * ((n - 1.0) * f * g + (1.0 - f) * (1.0 - g))
