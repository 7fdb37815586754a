"""Polars expressions: ``pl.col(x).entroseg.<function>(...)``.

The ``entroseg`` namespace is registered on ``pl.Expr`` (Polars >= 1.30) as soon as
both Polars and :mod:`entroseg` are imported, in either order. Every expression but
``boundary_probs`` is a compiled plugin that runs the same core path as the numpy
function of the same name, with the same keyword options and defaults, on Polars'
threads without the GIL; ``boundary_probs`` hands each group to the numpy function
(its calibration is Python over the native profile and cuts).

Each expression sees a whole series: the column, or one group under ``.over(key)`` and
``group_by(key).agg(...)``, so every group starts from a fresh state, exactly as if the
numpy function were called on that group alone. They work in lazy queries and with
``collect(engine="streaming")`` (Polars runs a whole-series expression on the complete
column or group).

Missing values
    In float inputs a null counts as NaN, so ``nan_policy`` decides: ``"raise"`` (the
    default) fails naming the row; ``"propagate"`` gives no value for the windows that
    hold it. Symbol inputs (``conditional_entropy``, ``next_symbol_entropy``) cannot hold
    nulls. ``quantize`` keeps a null as null. In outputs, **null stands where the numpy
    function gives NaN** (incomplete windows, windows holding a NaN), as Polars' own
    rolling functions do.
Whole-series statistics
    ``window=None`` gives one value per group (a scalar aggregation); a group too short
    to hold one pattern gives null where the numpy function raises.
Errors
    Bad options raise the numpy surface's typed exceptions (``InvalidParameterError``
    ...) when the expression is built. Problems in the data surface when the query runs,
    as ``polars.exceptions.ComputeError`` carrying entroseg's message.

Examples
--------
>>> import numpy as np, polars as pl, entroseg
>>> df = pl.DataFrame({"device": ["a"] * 6 + ["b"] * 4,
...                    "x": [4.0, 7, 9, 10, 6, 11, 1, 3, 2, 5]})
>>> out = df.with_columns(pe=pl.col("x").entroseg.permutation_entropy(order=2, window=3)
...                                    .over("device"))
>>> out["pe"].to_list()
[None, None, 0.0, 0.0, 1.0, 1.0, None, None, 1.0, 1.0]
>>> entroseg.permutation_entropy(np.array([4.0, 7, 9, 10, 6, 11]), order=2, window=3)
array([nan, nan,  0.,  0.,  1.,  1.])
"""

from __future__ import annotations

import numbers
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import polars as pl
from polars.plugins import register_plugin_function

from entroseg import _entroseg
from entroseg._entroseg import SegmentSpec
from entroseg._options import _CONTEXT_WHY, SegmentOptions, build_spec, renamed
from entroseg.changepoints import CostOptions, _cost_options

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from entroseg.merge import ScheduleOptions

__all__ = ["EntrosegExpr"]

# The exact file: given a directory, Polars would load the first shared library it finds.
_PLUGIN = Path(_entroseg.__file__)

_NanPolicy = Literal["raise", "propagate"]


def _plain(value: Any) -> Any:
    """numpy scalars as Python numbers: Polars pickles kwargs for the Rust side, which
    reads plain ints, floats, strings, bools and None."""
    if isinstance(value, bool | str) or value is None:
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    return value


def _plugin(
    expr: pl.Expr, function: str, kwargs: dict[str, Any], *, returns_scalar: bool = False
) -> pl.Expr:
    kwargs = {k: _plain(v) for k, v in kwargs.items()}
    # Validate now, with the numpy surface's typed exceptions, rather than at collect().
    _entroseg._check_expr_kwargs(function, pickle.dumps(kwargs, protocol=5))
    return register_plugin_function(
        plugin_path=_PLUGIN,
        function_name=function,
        args=expr,
        kwargs=kwargs,
        # Stateful along the series: Polars must hand over whole columns or groups.
        is_elementwise=False,
        returns_scalar=returns_scalar,
    )


@pl.api.register_expr_namespace("entroseg")
class EntrosegExpr:
    """The ``entroseg`` namespace of ``pl.Expr`` (see :mod:`entroseg.polars`)."""

    def __init__(self, expr: pl.Expr) -> None:
        self._expr = expr

    def permutation_entropy(
        self,
        *,
        order: int = 3,
        delay: int = 1,
        window: int | None = None,
        normalize: bool = True,
        weighted: bool = False,
        nan_policy: _NanPolicy = "raise",
    ) -> pl.Expr:
        """Permutation entropy, as :func:`entroseg.permutation_entropy`.

        Rolling (Float64, one value per row, null for incomplete windows) when
        ``window`` is given; one value per group otherwise.

        Examples
        --------
        >>> import polars as pl, entroseg
        >>> s = pl.Series("x", [4.0, 7, 9, 10, 6, 11, 3])
        >>> round(s.to_frame().select(pl.col("x").entroseg.permutation_entropy(
        ...     normalize=False)).item(), 4)
        1.0549
        """
        return _plugin(
            self._expr,
            "permutation_entropy",
            dict(
                order=order,
                delay=delay,
                window=window,
                normalize=normalize,
                weighted=weighted,
                nan_policy=nan_policy,
            ),
            returns_scalar=window is None,
        )

    def statistical_complexity(
        self,
        *,
        order: int = 3,
        delay: int = 1,
        window: int | None = None,
        nan_policy: _NanPolicy = "raise",
    ) -> pl.Expr:
        """Jensen-Shannon statistical complexity, as :func:`entroseg.statistical_complexity`.

        Examples
        --------
        >>> import polars as pl, entroseg
        >>> df = pl.DataFrame({"x": [4.0, 7, 9, 10, 6, 11, 3]})
        >>> round(df.select(pl.col("x").entroseg.statistical_complexity()).item(), 4)
        0.29
        """
        return _plugin(
            self._expr,
            "statistical_complexity",
            dict(order=order, delay=delay, window=window, nan_policy=nan_policy),
            returns_scalar=window is None,
        )

    def conditional_entropy(
        self,
        *,
        context: int = 1,
        window: int | None = None,
        alphabet_size: int | None = None,
        normalize: bool = True,
    ) -> pl.Expr:
        """Conditional entropy of integer symbols, as :func:`entroseg.conditional_entropy`.

        ``alphabet_size=None`` takes ``max + 1`` of each group, as the numpy function
        does per call; give it to make groups comparable.

        Examples
        --------
        >>> import polars as pl, entroseg
        >>> df = pl.DataFrame({"s": [0, 1, 0, 1, 0, 1, 0, 1]})
        >>> df.select(pl.col("s").entroseg.conditional_entropy(context=1)).item()
        0.0
        """
        return _plugin(
            self._expr,
            "conditional_entropy",
            dict(context=context, window=window, alphabet_size=alphabet_size, normalize=normalize),
            returns_scalar=window is None,
        )

    def next_symbol_entropy(
        self,
        *,
        context: int | None = None,
        alphabet_size: int | None = None,
        alpha: float = 0.5,
        min_count: int = 1,
        reset_symbol: int | None = None,
        normalize: bool = True,
        statistic: Literal["entropy", "surprisal"] = "entropy",
        order: int | None = None,
        score: Literal["entropy", "surprisal"] | None = None,
    ) -> pl.Expr:
        """Next-symbol entropy (or, with ``statistic="surprisal"``, the surprisal) of integer
        symbols, as the two outputs of :func:`entroseg.next_symbol_entropy` (``context``
        default 3; ``order=`` is its deprecated old name, as ``score=`` is of
        ``statistic=``).

        Examples
        --------
        >>> import polars as pl, entroseg
        >>> df = pl.DataFrame({"s": [0, 1] * 50})
        >>> h = df.select(pl.col("s").entroseg.next_symbol_entropy(context=1, alphabet_size=2))
        >>> h.item(0, 0), h.item(-1, 0) < 0.1
        (1.0, True)
        """
        return _plugin(
            self._expr,
            "next_symbol_entropy",
            dict(
                context=_context_length(context, order),
                alphabet_size=alphabet_size,
                alpha=alpha,
                min_count=min_count,
                reset_symbol=reset_symbol,
                normalize=normalize,
                statistic=_statistic(statistic, score),
            ),
        )

    def quantize(
        self,
        *,
        method: Literal["uniform", "mean_scale", "quantile"] = "uniform",
        bins: int = 16,
        low: float | None = None,
        high: float | None = None,
        limit: float = 5.0,
    ) -> pl.Expr:
        """Symbols ``0..bins`` (UInt8), as :func:`entroseg.quantize` fit on each group.

        Give ``low`` and ``high`` (``method="uniform"``) so that every group uses the
        same bins. Nulls stay null and are left out of the fit.

        Examples
        --------
        >>> import polars as pl, entroseg
        >>> df = pl.DataFrame({"x": [0.0, 0.5, None, 1.5, 2.0]})
        >>> df.select(pl.col("x").entroseg.quantize(bins=4, low=0.0, high=2.0))["x"].to_list()
        [0, 1, None, 3, 3]
        """
        return _plugin(
            self._expr,
            "quantize",
            dict(method=method, bins=bins, low=low, high=high, limit=limit),
        )

    def segment_id(
        self,
        *columns: pl.Expr | str,
        spec: SegmentSpec | None = None,
        **options: Unpack[SegmentOptions],
    ) -> pl.Expr:
        """Index of each row's segment within its group (UInt32, from 0), with the
        options of :func:`entroseg.segment`.

        Equal to ``segment(group).patch_ids(local=True)``. Further columns
        (``*columns``, expressions or names) make each group a multichannel series:
        one boundary set for all of them, as :func:`entroseg.segment` of the
        ``(n, c)`` array (``channels="sum"`` or ``"max"`` combines their profiles).

        Examples
        --------
        >>> import polars as pl, entroseg
        >>> df = pl.DataFrame({"e": [0.9, 0.1, 0.7, 0.2, 0.8, 0.6, 0.3]})
        >>> df.select(pl.col("e").entroseg.segment_id(method="scores", threshold=0.5,
        ...                                            min_len=2))["e"].to_list()
        [0, 0, 1, 1, 2, 2, 2]
        """
        return _segment_plugin(self._expr, "segment_id", options, spec, columns)

    def is_boundary(
        self,
        *columns: pl.Expr | str,
        spec: SegmentSpec | None = None,
        **options: Unpack[SegmentOptions],
    ) -> pl.Expr:
        """True on the first row of each segment (the first row of a group included),
        with the options of :func:`entroseg.segment`. Further columns (``*columns``)
        make each group a multichannel series, as in :meth:`segment_id`.

        Examples
        --------
        >>> import polars as pl, entroseg
        >>> df = pl.DataFrame({"e": [0.9, 0.1, 0.7, 0.2, 0.8, 0.6, 0.3]})
        >>> df.select(pl.col("e").entroseg.is_boundary(method="scores", threshold=0.5,
        ...                                             min_len=2))["e"].arg_true().to_list()
        [0, 2, 4]
        """
        return _segment_plugin(self._expr, "is_boundary", options, spec, columns)

    def boundary_probs(
        self,
        *,
        temperature: float | None = None,
        ratio: float | None = None,
        spec: SegmentSpec | None = None,
        **options: Unpack[SegmentOptions],
    ) -> pl.Expr:
        """Boundary probabilities (Float64), as :func:`entroseg.boundary_probs` of each
        group (``.over(key)``: each group calibrated on its own): above 0.5 exactly on
        the rows where :meth:`is_boundary` is True. Null where the numpy function gives
        NaN (a profile's warm-up), and nulls in the input count as NaN.

        Not a compiled plugin: the expression hands each group to the numpy function
        (one implementation), so it holds the GIL while it runs. Bad options raise when
        the expression is built.

        Examples
        --------
        >>> import polars as pl, entroseg
        >>> df = pl.DataFrame({"k": [0] * 4 + [1] * 3,
        ...                    "e": [0.9, 0.1, 0.7, 0.2, 0.8, 0.6, 0.3]})
        >>> p = df.select(pl.col("e").entroseg.boundary_probs(
        ...     method="scores", threshold=0.5, temperature=0.1).over("k"))["e"]
        >>> (p > 0.5).arg_true().to_list()
        [0, 2, 4, 5]
        """
        from entroseg.soft import boundary_probs, check_soft_options

        check_soft_options(temperature, ratio)
        if spec is None:
            # Validates now; the numpy function rebuilds it per group, where the data's
            # dtype picks the default method (symbols or floats), as numpy does.
            build_spec(options, streaming=False)
        opts: dict[str, Any] = dict(options)

        def probs(series: pl.Series) -> pl.Series:
            values = series.to_numpy()
            out = boundary_probs(values, temperature=temperature, ratio=ratio, spec=spec, **opts)
            return pl.Series(series.name, out, dtype=pl.Float64).fill_nan(None)

        return self._expr.map_batches(probs, return_dtype=pl.Float64)

    def regime_id(
        self,
        *,
        n_bkps: int | None = None,
        pen: float | None = None,
        **cost: Unpack[CostOptions],
    ) -> pl.Expr:
        """Index of each row's regime within its group (UInt32, from 0): the offline
        :func:`entroseg.change_points` of the group, with its options and defaults (a
        group is a whole series; :class:`entroseg.ChangePointDetector` and
        :func:`entroseg.arrow.change_point_stream` are the streaming forms). Nulls,
        NaN and infinities fail naming the row.

        Examples
        --------
        >>> import numpy as np, polars as pl, entroseg
        >>> rng = np.random.default_rng(0)
        >>> x = np.concatenate([rng.normal(0, 1, 300), rng.normal(4, 1, 200)])
        >>> df = pl.DataFrame({"id": ["a"] * 500 + ["b"] * 500, "x": np.tile(x, 2)})
        >>> out = df.select(pl.col("x").entroseg.regime_id().over("id"))["x"]
        >>> ids = out.to_numpy()
        >>> (ids[:500] == ids[500:]).all(), np.flatnonzero(np.diff(ids[:500])).tolist()
        (np.True_, [299])
        >>> entroseg.change_points(x).tolist()
        [300, 500]
        """
        pen = None if pen is None else float(pen)
        options = {**_cost_options(cost), "n_bkps": n_bkps, "pen": pen}
        return _plugin(self._expr, "regime_id", options)

    def merge_group(
        self,
        *,
        level: int = -1,
        block: int | None = None,
        **schedule: Unpack[ScheduleOptions],
    ) -> pl.Expr:
        """Each row's group at ``level`` of the merge plan of its group's rows
        (UInt32, from 0; ``.over(key)`` per series): each row is a unit, described by its
        value (profile similarity), with the options of :func:`entroseg.merge_plan`
        (``block`` as there: the plan :class:`entroseg.MergePlanner` streams). Equal to
        ``merge_plan(profile=rows, ...)[level].source``. Nulls and NaN raise.

        Examples
        --------
        >>> import polars as pl, entroseg
        >>> df = pl.DataFrame({"h": [0.1, 0.1, 0.5, 0.5, 0.9, 0.9, 0.9, 0.2]})
        >>> df.select(pl.col("h").entroseg.merge_group(r=[3, 1], window=4))["h"].to_list()
        [0, 0, 1, 1, 2, 2, 2, 3]
        """
        from entroseg.merge import _plan_options

        # Every field the plugin reads, the schedule's own on top.
        kwargs: dict[str, Any] = {
            "level": level, "block": block, "r": None, "inflect": 0.0, "counts": None,
            "ratio": None, "threshold": None, **_plan_options(schedule),
        }  # fmt: skip
        return _plugin(self._expr, "merge_group", kwargs)


def _statistic(statistic: str, score: str | None) -> str:
    """``statistic``, or its deprecated old name ``score``."""
    opts: dict[str, Any] = {"score": score, "statistic": statistic if score is None else None}
    renamed(opts, "score", "statistic", 4, choices=("entropy", "surprisal"))
    return str(opts["statistic"])


def _context_length(context: int | None, order: int | None) -> int:
    """The next-symbol context length: ``context`` (default 3), or its deprecated old
    name ``order``."""
    opts: dict[str, Any] = {"order": order, "context": context}
    renamed(opts, "order", "context", 4, why=_CONTEXT_WHY)
    return 3 if opts["context"] is None else int(opts["context"])


def _segment_plugin(
    expr: pl.Expr,
    function: str,
    options: Mapping[str, Any],
    spec: SegmentSpec | None,
    columns: tuple[pl.Expr | str, ...] = (),
) -> pl.Expr:
    """A segmentation expression: the spec is built (and checked, with the numpy
    surface's typed exceptions) here; the plugin receives the options that differ from
    the defaults and parses them with the same core table."""
    built = build_spec(options, streaming=False, spec=spec, stacklevel=4)
    return register_plugin_function(
        plugin_path=_PLUGIN,
        function_name=function,
        args=[expr, *(pl.col(c) if isinstance(c, str) else c for c in columns)],
        kwargs=built.given,
        is_elementwise=False,
    )
