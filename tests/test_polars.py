"""The Polars expression plugin: per group, every expression equals the numpy function
on that group alone, in eager and lazy mode, under .over(), group_by().agg() and the
streaming engine; nulls, empty and single-row groups behave as documented."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import entroseg
import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

#: These tests check other things on short series; the target-miss warning itself is
#: tested in test_calibration.py and test_surfaces_agree.py.
pytestmark = pytest.mark.filterwarnings("ignore:target_len=.* missed:UserWarning")

# Expression name -> (options, numpy reference on one group, input kind).
FLOAT, SYMBOL = "float", "symbol"


def _ref_next(kind: str) -> Any:
    def ref(x: np.ndarray, **o: Any) -> np.ndarray:
        h, q = entroseg.next_symbol_entropy(x, **o)
        return h if kind == "entropy" else q

    return ref


def _ref_segment_id(x: np.ndarray, **o: Any) -> np.ndarray:
    return entroseg.segment(x, **o).patch_ids(local=True)


def _ref_is_boundary(x: np.ndarray, **o: Any) -> np.ndarray:
    out = np.zeros(len(x), dtype=bool)
    out[entroseg.segment(x, **o).starts] = True
    return out


def _ref_regime_id(x: np.ndarray, **o: Any) -> np.ndarray:
    ends = entroseg.change_points(x, **o)
    return np.repeat(np.arange(len(ends), dtype=np.uint32), np.diff([0, *ends]))


CASES: list[tuple[str, dict[str, Any], Any, str]] = [
    ("permutation_entropy", dict(order=3, window=12), entroseg.permutation_entropy, FLOAT),
    ("permutation_entropy", dict(order=4, delay=2, window=20, weighted=True, normalize=False),
     entroseg.permutation_entropy, FLOAT),
    ("statistical_complexity", dict(order=3, window=15), entroseg.statistical_complexity, FLOAT),
    ("conditional_entropy", dict(context=2, window=16, alphabet_size=5),
     entroseg.conditional_entropy, SYMBOL),
    ("next_symbol_entropy", dict(context=2, alphabet_size=5), _ref_next("entropy"), SYMBOL),
    ("quantize", dict(bins=6, low=-2.0, high=2.0), entroseg.quantize, FLOAT),
    ("quantize", dict(method="quantile", bins=4), entroseg.quantize, FLOAT),
    ("quantize", dict(method="mean_scale", bins=8, limit=3.0), entroseg.quantize, FLOAT),
    ("segment_id", dict(order=3, window=10, target_len=6.0, calibration="batch", min_len=2,
                        max_len=20), _ref_segment_id, FLOAT),
    ("segment_id", dict(method="next_symbol", context=2, alphabet_size=5, threshold=0.8,
                        max_len=16), _ref_segment_id, SYMBOL),
    ("is_boundary", dict(order=3, window=10, threshold=0.7, relative=0.1, combine="or"),
     _ref_is_boundary, FLOAT),
    ("is_boundary", dict(method="scores", preset="entrope", quantile=0.8), _ref_is_boundary,
     FLOAT),
]  # fmt: skip
# Next-symbol surprisal is the same plugin with statistic="surprisal".
SURPRISAL = ("next_symbol_entropy", dict(context=3, alphabet_size=5, statistic="surprisal"),
             _ref_next("surprisal"), SYMBOL)  # fmt: skip
CASES.append(SURPRISAL)
CASES += [
    ("regime_id", {}, _ref_regime_id, FLOAT),
    ("regime_id", dict(order=3, delays=(1, 2), pen=20, min_size=10), _ref_regime_id, FLOAT),
    ("regime_id", dict(order=None, variance=True, n_bkps=2, min_size=5), _ref_regime_id, FLOAT),
]
IDS = [f"{c[0]}-{i}" for i, c in enumerate(CASES)]


def _frame(sizes: list[int], seed: int, kind: str, interleave: bool = True) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    keys = np.concatenate([np.full(n, g) for g, n in enumerate(sizes)]).astype(np.int64)
    if interleave:
        keys = keys[rng.permutation(len(keys))]
    n = len(keys)
    if kind == FLOAT:
        values = pl.Series("x", rng.standard_normal(n).cumsum() * 0.3, pl.Float64)
    else:
        values = pl.Series("x", rng.integers(0, 5, n), pl.UInt8)
    return pl.DataFrame({"g": keys, "x": values})


def _call(name: str, opts: dict[str, Any]) -> pl.Expr:
    expr: pl.Expr = getattr(pl.col("x").entroseg, name)(**opts)
    return expr


def _strip(o: dict[str, Any], name: str) -> dict[str, Any]:
    """numpy options of a case (score selects the output of next_symbol_entropy)."""
    return {k: v for k, v in o.items() if not (name == "next_symbol_entropy" and k == "statistic")}


def _assert_matches(got: pl.Series, want: np.ndarray) -> None:
    if got.dtype == pl.Float64:
        # Null exactly where numpy gives NaN.
        assert got.is_null().to_list() == np.isnan(want).tolist()
        assert np.array_equal(got.to_numpy(), want, equal_nan=True)
    else:
        assert got.null_count() == 0
        assert got.to_list() == want.tolist()


def _check_per_group(out: pl.DataFrame, df: pl.DataFrame, name: str, o: dict[str, Any],
                     ref: Any) -> None:  # fmt: skip
    for (_g,), part in df.with_row_index("row").group_by("g"):
        x = part["x"].to_numpy()
        got = out["y"].gather(part["row"])
        _assert_matches(got, np.asarray(ref(x, **_strip(o, name))))


@pytest.mark.parametrize(("name", "opts", "ref", "kind"), CASES, ids=IDS)
def test_over_equals_numpy_per_group(name: str, opts: dict[str, Any], ref: Any, kind: str) -> None:
    df = _frame([200, 1, 57, 3, 120], seed=1, kind=kind)
    out = df.with_columns(y=_call(name, opts).over("g"))
    _check_per_group(out, df, name, opts, ref)


@pytest.mark.parametrize(("name", "opts", "ref", "kind"), CASES, ids=IDS)
def test_lazy_and_streaming_engine_equal_eager(
    name: str, opts: dict[str, Any], ref: Any, kind: str
) -> None:
    df = _frame([150, 90, 2], seed=2, kind=kind)
    eager = df.with_columns(y=_call(name, opts).over("g"))
    lazy = df.lazy().with_columns(y=_call(name, opts).over("g"))
    assert lazy.collect().equals(eager)
    assert lazy.collect(engine="streaming").equals(eager)


@pytest.mark.parametrize(("name", "opts", "ref", "kind"), CASES, ids=IDS)
def test_group_by_agg_gives_each_group_its_own_state(
    name: str, opts: dict[str, Any], ref: Any, kind: str
) -> None:
    df = _frame([80, 1, 33], seed=3, kind=kind, interleave=True)
    out = df.group_by("g", maintain_order=True).agg(y=_call(name, opts))
    for g, y in out.iter_rows():
        x = df.filter(pl.col("g") == g)["x"].to_numpy()
        want = np.asarray(ref(x, **_strip(opts, name)))
        _assert_matches(pl.Series(y, dtype=out["y"].dtype.inner), want)  # type: ignore[attr-defined]


def test_whole_series_statistics_are_one_value_per_group() -> None:
    df = _frame([300, 40, 2], seed=4, kind=FLOAT, interleave=False)
    out = df.group_by("g", maintain_order=True).agg(
        pe=pl.col("x").entroseg.permutation_entropy(order=3),
        c=pl.col("x").entroseg.statistical_complexity(order=3),
    )
    assert out.schema["pe"] == pl.Float64
    for g, pe, c in out.iter_rows():
        x = df.filter(pl.col("g") == g)["x"].to_numpy()
        if len(x) < 3:  # too short for one pattern: null (numpy raises)
            assert pe is None and c is None
            with pytest.raises(entroseg.EmptyInputError):
                entroseg.permutation_entropy(x, order=3)
        else:
            assert pe == entroseg.permutation_entropy(x, order=3)
            assert c == entroseg.statistical_complexity(x, order=3)
    sym = pl.DataFrame({"g": [0] * 50 + [1] * 50, "s": [0, 1] * 25 + [2, 0, 1, 1, 0] * 10})
    out = sym.group_by("g", maintain_order=True).agg(
        h=pl.col("s").entroseg.conditional_entropy(context=1)
    )
    for g, h in out.iter_rows():
        s = sym.filter(pl.col("g") == g)["s"].to_numpy()
        assert h == entroseg.conditional_entropy(s, context=1)
    # Broadcast back to every row under .over().
    over = df.with_columns(pe=pl.col("x").entroseg.permutation_entropy().over("g"))
    assert over.filter(pl.col("g") == 0)["pe"].n_unique() == 1


@settings(deadline=None, max_examples=40)
@given(
    sizes=st.lists(st.integers(1, 120), min_size=1, max_size=6),
    seed=st.integers(0, 2**32 - 1),
    target=st.floats(2.0, 12.0),
)
def test_segment_id_over_random_groups(sizes: list[int], seed: int, target: float) -> None:
    df = _frame(sizes, seed=seed, kind=FLOAT)
    opts = dict(order=3, window=8, target_len=target, calibration="batch", min_len=2, max_len=24)
    out = df.with_columns(
        y=pl.col("x").entroseg.segment_id(**opts).over("g"),
        b=pl.col("x").entroseg.is_boundary(**opts).over("g"),
    )
    _check_per_group(out, df, "segment_id", opts, _ref_segment_id)
    # is_boundary marks exactly the rows where the id changes within a group.
    for (_,), part in out.group_by("g"):
        ids = part["y"].to_numpy()
        starts = np.concatenate([[True], ids[1:] != ids[:-1]])
        assert part["b"].to_list() == starts.tolist()


def test_integer_inputs_and_names() -> None:
    x = np.random.default_rng(5).integers(-50, 50, 400)
    df = pl.DataFrame({"x": pl.Series(x, dtype=pl.Int16)})
    out = df.select(pl.col("x").entroseg.permutation_entropy(order=3, window=20))
    assert out.columns == ["x"]
    _assert_matches(out["x"], entroseg.permutation_entropy(x, order=3, window=20))
    wide = pl.DataFrame({"s": pl.Series([0, 3, 1, 2, 255] * 40, dtype=pl.Int64)})
    h = wide.select(pl.col("s").entroseg.conditional_entropy(context=1, window=10))["s"]
    _assert_matches(h, entroseg.conditional_entropy(wide["s"].to_numpy(), context=1, window=10))


def test_nulls_count_as_nan_under_nan_policy() -> None:
    x = np.random.default_rng(6).standard_normal(300)
    with_nulls = pl.Series("x", [None if i in (40, 41, 200) else v for i, v in enumerate(x)])
    df = pl.DataFrame({"g": [0] * 150 + [1] * 150, "x": with_nulls})
    with pytest.raises(pl.exceptions.ComputeError, match=r"null at row (40|50) of the group"):
        df.with_columns(y=pl.col("x").entroseg.permutation_entropy(window=10).over("g"))
    out = df.with_columns(
        y=pl.col("x").entroseg.permutation_entropy(window=10, nan_policy="propagate").over("g")
    )
    as_nan = with_nulls.fill_null(np.nan).to_numpy()
    for g in (0, 1):
        part = slice(150 * g, 150 * (g + 1))
        want = entroseg.permutation_entropy(as_nan[part], window=10, nan_policy="propagate")
        _assert_matches(out["y"][part], want)
    seg = df.with_columns(
        y=pl.col("x")
        .entroseg.segment_id(window=10, threshold=0.9, nan_policy="propagate")
        .over("g")
    )
    want = entroseg.segment(as_nan[150:], window=10, threshold=0.9, nan_policy="propagate")
    assert seg["y"][150:].to_list() == want.patch_ids(local=True).tolist()


def test_symbols_cannot_be_null_and_quantize_keeps_nulls() -> None:
    df = pl.DataFrame({"s": pl.Series([0, 1, None, 1], dtype=pl.UInt8)})
    with pytest.raises(pl.exceptions.ComputeError, match="symbols cannot be missing"):
        df.select(pl.col("s").entroseg.conditional_entropy(window=2))
    q = pl.DataFrame({"x": [0.0, None, 1.0, 3.0, None, 2.0]}).select(
        pl.col("x").entroseg.quantize(method="quantile", bins=2)
    )["x"]
    assert q.dtype == pl.UInt8
    want = entroseg.quantize(np.array([0.0, 1.0, 3.0, 2.0]), method="quantile", bins=2)
    assert q.to_list() == [want[0], None, want[1], want[2], None, want[3]]


def test_empty_and_single_row_inputs() -> None:
    empty = pl.DataFrame({"g": pl.Series([], dtype=pl.Int64), "x": pl.Series([], dtype=pl.Float64)})
    for name, opts, _, kind in CASES:
        if kind == SYMBOL:
            frame = empty.with_columns(pl.col("x").cast(pl.UInt8))
        else:
            frame = empty
        out = frame.with_columns(y=_call(name, opts).over("g"))
        assert out.height == 0
        out = frame.select(y=_call(name, opts))
        assert out.height == 0
    # An empty group inside group_by (a filter leaves a group without rows).
    df = pl.DataFrame({"g": [0, 0, 0, 1], "x": [1.0, 3.0, 2.0, 5.0]})
    out = df.group_by("g", maintain_order=True).agg(
        y=pl.col("x").filter(pl.col("x") < 4).entroseg.permutation_entropy(order=2, window=2),
        pe=pl.col("x").filter(pl.col("x") < 4).entroseg.permutation_entropy(order=2),
    )
    assert out["y"].to_list() == [[None, 0.0, 0.0], []]
    assert out["pe"].to_list() == [1.0, None]
    one = pl.DataFrame({"x": [1.5]}).select(
        pe=pl.col("x").entroseg.permutation_entropy(window=3),
        sid=pl.col("x").entroseg.segment_id(window=3, threshold=0.5),
        b=pl.col("x").entroseg.is_boundary(window=3, threshold=0.5),
        q=pl.col("x").entroseg.quantize(bins=4, low=0.0, high=2.0),
    )
    assert one.row(0) == (None, 0, True, 3)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: pl.col("x").entroseg.permutation_entropy(order=1),
         entroseg.InvalidParameterError, "order must be in 2..=10, got 1"),
        (lambda: pl.col("x").entroseg.permutation_entropy(order=3, window=2),
         entroseg.InvalidParameterError, "window >= 3"),
        (lambda: pl.col("x").entroseg.permutation_entropy(nan_policy="omit"),  # type: ignore[arg-type]
         entroseg.InvalidParameterError, "nan_policy"),
        (lambda: pl.col("x").entroseg.conditional_entropy(alphabet_size=0),
         entroseg.InvalidParameterError, "alphabet_size must be >= 1"),
        (lambda: pl.col("x").entroseg.next_symbol_entropy(score="both"),  # type: ignore[arg-type]
         entroseg.InvalidParameterError, "score must be"),
        (lambda: pl.col("x").entroseg.quantize(bins=300), entroseg.InvalidParameterError,
         "bins must be in 1..=256"),
        (lambda: pl.col("x").entroseg.segment_id(window=10), entroseg.InvalidParameterError,
         "no rule given"),
        (lambda: pl.col("x").entroseg.is_boundary(method="permutation", threshold=0.5),
         entroseg.InvalidParameterError, "give window"),
        (lambda: pl.col("x").entroseg.is_boundary(degree=3, threshold=0.5),
         entroseg.InvalidParameterError, "degree must be 0"),
        (lambda: pl.col("x").entroseg.segment_id(order="3", window=8, threshold=1.0),  # type: ignore[arg-type]
         TypeError, "bad options"),
        (lambda: pl.col("x").entroseg.regime_id(order=9), entroseg.InvalidParameterError,
         "order must be in 2..=7"),
        (lambda: pl.col("x").entroseg.regime_id(n_bkps=1, pen=2.0),
         entroseg.InvalidParameterError, "at most one"),
        (lambda: pl.col("x").entroseg.regime_id(pen=-1), entroseg.InvalidParameterError,
         "pen must be finite and >= 0"),
        (lambda: pl.col("x").entroseg.regime_id(order=None), entroseg.InvalidParameterError,
         "the cost is empty"),
        (lambda: pl.col("x").entroseg.regime_id(order="fast"), ValueError, "'auto'"),  # type: ignore[arg-type]
    ],
)  # fmt: skip
def test_bad_options_raise_typed_errors_when_the_expression_is_built(
    call: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        call()


def test_data_errors_surface_at_collect_with_the_core_message() -> None:
    df = pl.DataFrame({"x": ["a", "b"]})
    with pytest.raises(pl.exceptions.ComputeError, match="must be numeric"):
        df.select(pl.col("x").entroseg.permutation_entropy(window=2, order=2))
    df = pl.DataFrame({"s": [0, 7, 1]})
    with pytest.raises(pl.exceptions.ComputeError, match="alphabet"):
        df.select(pl.col("s").entroseg.conditional_entropy(alphabet_size=4, window=2))
    df = pl.DataFrame({"s": [0, -1, 1]})
    with pytest.raises(pl.exceptions.ComputeError, match="symbol -1 at row 1"):
        df.select(pl.col("s").entroseg.next_symbol_entropy())
    df = pl.DataFrame({"x": [1.0, np.inf, 2.0]})
    with pytest.raises(pl.exceptions.ComputeError, match="inf at index 1"):
        df.select(pl.col("x").entroseg.permutation_entropy(window=2, order=2))
    df = pl.DataFrame({"x": [1.0, None, 2.0]})
    with pytest.raises(pl.exceptions.ComputeError, match="x\\[1\\] = NaN is not finite"):
        df.select(pl.col("x").entroseg.regime_id())


def test_numpy_scalars_as_options() -> None:
    df = _frame([100], seed=7, kind=FLOAT)
    a = df.select(pl.col("x").entroseg.permutation_entropy(order=np.int64(3), window=np.int32(9)))
    b = df.select(pl.col("x").entroseg.permutation_entropy(order=3, window=9))
    assert a.equals(b)


def test_namespace_needs_a_recent_polars(monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    from entroseg import _polars_hook

    assert _polars_hook._version_tuple("1.30.0") == (1, 30)
    assert _polars_hook._version_tuple("2.1.0rc1") == (2, 1)
    monkeypatch.setitem(sys.modules, "polars", types.SimpleNamespace(__version__="1.20.0"))
    with pytest.warns(RuntimeWarning, match=r"need polars>=1.30, found 1.20.0"):
        assert _polars_hook.register() is False


def test_numpy_only_users_need_neither_polars_nor_pyarrow(tmp_path: Path) -> None:
    (tmp_path / "x.parquet").write_bytes(b"PAR1")
    code = (
        "import sys; sys.modules['polars'] = None; sys.modules['pyarrow'] = None\n"
        "import entroseg, numpy as np\n"
        "assert entroseg.permutation_entropy(np.arange(10.0)) == 0.0\n"
        "from entroseg.cli import main\n"
        "assert main(['demo']) == 0\n"
        "assert main(['segment', 'x.parquet']) == 2\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "white_noise" in run.stdout
    assert run.stderr.strip().splitlines() == [
        "entroseg: error: reading 'x.parquet' needs pyarrow: pip install 'entroseg[arrow]'"
    ]
