"""The options of a segmentation, written once.

Every segmentation surface (:func:`entroseg.segment`, :class:`entroseg.Segmenter`,
:func:`entroseg.segment_batch`, :func:`entroseg.segment_parallel`,
:func:`entroseg.boundaries`, :func:`entroseg.profile`, the Polars ``segment_id`` /
``is_boundary`` expressions, the Arrow steps, Ray, the plots and the CLI) takes these
keyword options with these meanings and defaults. The names and types are the
TypedDicts below (for type checkers: ``**options: Unpack[SegmentOptions]``); the
defaults, parsing and validation live in the Rust core's one option table
(:class:`entroseg.SegmentSpec`, ``SegmentSpec.defaults()``), so no surface repeats them.

Score method (the profile that is cut)
    ``method``: ``"line"`` (the default for float series: a segment closes where a
    least-squares line through it would fail to code the next sample; see the README's
    "Choosing a method"; one-shot calls on arrays of unsigned integers, i.e. symbols,
    default to ``"next_symbol"``), ``"permutation"`` (rolling permutation entropy
    of floats; the default when ``window`` or ``order`` is given),
    ``"conditional"`` (rolling conditional entropy of integer symbols),
    ``"next_symbol"`` (entropy or surprisal of the online context model over symbols),
    ``"next_value"`` (its counterpart for floats: entropy or surprisal, in bits, of the
    next value under a mixture of online linear predictors of orders 1..``context``,
    default 2, with a memory of ``window`` samples, default 256),
    ``"scores"`` (the input is the score signal itself: your model's entropies).
    ``degree`` (line: 0 fits each segment's mean, 1 a line; default 1),
    ``order`` (permutation: ordinal embedding dimension, default 3), ``delay`` (1),
    ``window`` (permutation and conditional: rolling window in samples, required),
    ``weighted`` (False), ``normalize`` (True: values in [0, 1]), ``context`` (context
    length in symbols: conditional 2, next_symbol 3), ``alphabet_size`` (default: the
    largest symbol plus one; required by streams), ``alpha`` (0.5, the context model's
    pseudo-count), ``min_count`` (1), ``reset_symbol`` (None), ``statistic`` (next_symbol:
    ``"entropy"`` or ``"surprisal"``), ``blend`` (next_symbol: False backs off to the
    longest context seen ``min_count`` times; True blends every context length by
    Witten-Bell escapes, so short series and large alphabets are not stuck with the
    tied values of contexts seen once), ``nan_policy`` (``"raise"`` or ``"propagate"``),
    ``channels`` (multichannel input of shape ``(n, c)``: each channel is profiled alone
    with these options, and the profiles combine position by position, in channel
    order, into the one score the rules cut: ``"sum"``, the default, adds them, since
    code lengths of independent channels add; ``"max"`` takes the largest, so a burst in
    any one channel cuts; a NaN in any channel gives NaN; ``"pooled"``, method
    ``"permutation"`` only, not weighted: a genuinely multivariate score, the permutation
    entropy of the ordinal patterns of all channels in the window pooled into one
    histogram). Method ``"line"`` fits each channel on its own instead, and the price
    of a sample is the sum (``"sum"``) or the largest (``"max"``) of the channels'
    residual increases; give it channels on comparable scales).
Rules (where a segment starts)
    ``threshold`` (a segment starts at ``t`` when ``score[t] > threshold``),
    ``accumulate`` (False; True: when the open segment's summed scores with ``score[t]``
    would exceed ``threshold``, negative scores counting as 0: equal-information
    segments, e.g. of next-symbol surprisal or a model's entropies),
    ``relative`` (when ``score[t] - score[t-1] > relative``), ``combine`` (``"and"`` /
    ``"or"``, required when both are in use), ``min_len`` (1; hard minimum of every
    segment but the last), ``max_len`` (hard maximum; an over-long segment is split at
    its highest-score admissible position), ``target_len`` (calibrate the threshold to
    this mean length), ``budget`` (calibrate one threshold for a whole batch so that it
    has this many segments in all: :func:`entroseg.segment_batch` shares it across the
    series, so informative series get more segments; a one-shot call on one series is a
    batch of one; excludes ``target_len`` and ``threshold``, takes no ``calibration``,
    and streams refuse it), ``budget_by`` (how :func:`entroseg.segment_batch` spreads
    ``budget`` over the series: ``"information"``, the default, shares one threshold
    so tokens follow the score; ``"error"`` gives each series the count that most
    reduces the batch's summed squared error of a least-squares line (degree 0 with
    ``method="line", degree=0``) fitted to each segment's values, by equal marginal
    gains, and each series is then cut by its own calibrated rules: use it when the
    tokens must reconstruct the values, after z-scoring series that should weigh
    alike), ``calibration`` (required with ``target_len``: ``"batch"``
    searches the whole profile exactly, one-shot only; ``"online"`` is the streaming
    controller, so a stream and a one-shot call give the same segments), ``preset``
    (``"blt"`` / ``"entrope"``: the published patchers, exactly), ``mode`` and
    ``quantile`` (the presets' options).

The one rule for ``calibration``: when ``target_len`` is given without it, a one-shot
surface (``segment``, ``boundaries``, ``segment_batch``, ``segment_parallel``, the Polars
expressions, the plots) calibrates in ``"batch"`` (exact: it sees the whole series) and a
streaming surface (``Segmenter``, the Arrow stream step, Ray) uses ``"online"`` (it
cannot see the future). To make a stream reproduce a one-shot result exactly, pass the
threshold the one-shot call found (``segments.calibration.threshold``), or use
``calibration="online"`` on both. ``SegmentSpec`` itself names no default.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any, Literal, TypedDict

from entroseg._entroseg import InvalidParameterError, SegmentSpec

__all__ = ["ProfileOptions", "RuleOptions", "SegmentOptions", "build_spec", "profile_options"]

Method = Literal["line", "permutation", "conditional", "next_symbol", "next_value", "scores"]


class ProfileOptions(TypedDict, total=False):
    """The score method and its estimator's options (see :mod:`entroseg._options`)."""

    method: Method | None
    degree: int | None
    order: int | None
    delay: int
    window: int | None
    weighted: bool
    normalize: bool
    context: int | None
    alphabet_size: int | None
    alpha: float
    min_count: int
    reset_symbol: int | None
    statistic: Literal["entropy", "surprisal"]
    blend: bool
    nan_policy: Literal["raise", "propagate"]
    channels: Literal["sum", "max", "pooled"]


class RuleOptions(TypedDict, total=False):
    """The rules that cut a score signal (see :mod:`entroseg._options`)."""

    threshold: float | None
    accumulate: bool
    relative: float | None
    combine: Literal["and", "or"] | None
    min_len: int
    max_len: int | None
    target_len: float | None
    budget: int | None
    budget_by: Literal["information", "error"]
    calibration: Literal["batch", "online"] | None
    preset: Literal["blt", "entrope"] | None
    mode: Literal["global", "monotonic", "combined"] | None
    quantile: float | None
    nan_policy: Literal["raise", "propagate"]


class SegmentOptions(ProfileOptions, RuleOptions, total=False):
    """Every option of a segmentation: score method and rules."""


#: Every option name, in the core's table order.
OPTION_NAMES: tuple[str, ...] = tuple(SegmentSpec.option_names())


def renamed(
    options: dict[str, Any],
    old: str,
    new: str,
    stacklevel: int,
    *,
    choices: tuple[str, ...] | None = None,
    why: str = "",
) -> None:
    """The one handler of old option spellings (kept for one release): moves ``old`` to
    ``new`` in ``options`` with a DeprecationWarning at ``stacklevel`` (``why`` adds a
    reason); both given is a TypeError; a value outside ``choices`` is refused naming
    the spelling the caller used."""
    if options.get(old) is None:
        options.pop(old, None)
        return
    if options.get(new) is not None:
        raise TypeError(f"pass it once, as {new}= only ({old} is its old name)")
    value = options.pop(old)
    if choices is not None and value not in choices:
        listed = " or ".join(f"'{c}'" for c in choices)
        raise InvalidParameterError(f'{old} must be {listed}, got "{value}"')
    warnings.warn(
        f"{old}= is deprecated: the option is {new}={why}",
        DeprecationWarning,
        stacklevel=stacklevel,
    )
    options[new] = value


def _deprecated_spellings(options: dict[str, Any], stacklevel: int) -> None:
    """Old spellings kept for one release, each with a DeprecationWarning."""
    renamed(options, "score", "statistic", stacklevel + 1, choices=("entropy", "surprisal"),
            why=" (one name for which statistic)")  # fmt: skip
    if options.get("method") == "next_symbol":
        renamed(options, "order", "context", stacklevel + 1, why=_CONTEXT_WHY)


#: Why ``order`` is not the context length.
_CONTEXT_WHY = " (the context length; order is the ordinal embedding dimension)"


#: Input dtypes read as symbols when no method is given (bytes, DNA codes, quantized).
SYMBOL_DTYPES = ("uint8", "uint16", "uint32")


def build_spec(
    options: Mapping[str, Any],
    *,
    streaming: bool,
    spec: SegmentSpec | None = None,
    stacklevel: int = 3,
    data: object = None,
) -> SegmentSpec:
    """The native spec of a surface's keyword options (or the given ``spec``).

    ``streaming`` says whether the surface sees its series chunk by chunk: it then
    refuses what needs the whole series, and ``target_len`` without ``calibration``
    means ``"online"`` there (``"batch"`` elsewhere). ``data`` is the input of a one-shot
    call: with no method given, a numpy array of unsigned integers (``SYMBOL_DTYPES``)
    is a symbol stream and gets ``method="next_symbol"`` (floats get ``"line"``).
    """
    if spec is not None:
        if options:
            raise TypeError(
                f"give either spec= or options, not both (got options {sorted(options)})"
            )
    else:
        opts = dict(options)
        _deprecated_spellings(opts, stacklevel + 1)
        dtype = getattr(data, "dtype", None)
        if (
            opts.get("method") is None
            and dtype is not None
            and str(dtype) in SYMBOL_DTYPES
            and SegmentSpec.method_of(**opts) == "line"
        ):
            opts["method"] = "next_symbol"
        if opts.get("target_len") is not None and opts.get("calibration") is None:
            # The surface's nature decides: a one-shot call sees the whole series and
            # calibrates exactly; a stream cannot, and uses the online controller.
            opts["calibration"] = "online" if streaming else "batch"
        spec = SegmentSpec(**opts)
    if streaming:
        spec.check_streamable()
    return spec


def profile_options(options: Mapping[str, Any], *, stacklevel: int = 3) -> dict[str, Any]:
    """The options with deprecated spellings resolved (for the profile functions, which
    ignore rule options)."""
    opts = dict(options)
    _deprecated_spellings(opts, stacklevel + 1)
    return opts
