"""Every segmentation surface takes the same options, with the same names and defaults,
and gives the same result for the same options.

The option list is written once (the core's table behind ``entroseg.SegmentSpec``, typed
by ``entroseg._options``); these tests fail when a surface declares an option of its
own, drops the shared ones, or computes something else for them.
"""

from __future__ import annotations

import inspect
import pickle
import typing
import warnings
from typing import Any

import entroseg
import entroseg.arrow
import entroseg.cli
import entroseg.parallel
import entroseg.plot
import entroseg.polars
import entroseg.ray
import numpy as np
import polars as pl
import pyarrow as pa
import pytest
from entroseg import _options

NAMES = set(entroseg.SegmentSpec.option_names())

#: (surface, the TypedDict its **options are typed with)
SURFACES = [
    (entroseg.segment, "SegmentOptions"),
    (entroseg.segment_batch, "SegmentOptions"),
    (entroseg.parallel.segment_parallel, "SegmentOptions"),
    (entroseg.profile, "SegmentOptions"),
    (entroseg.Segmenter.__init__, "SegmentOptions"),
    (entroseg.Profiler.__init__, "SegmentOptions"),
    (entroseg.boundaries, "RuleOptions"),
    (entroseg.polars.EntrosegExpr.segment_id, "SegmentOptions"),
    (entroseg.polars.EntrosegExpr.is_boundary, "SegmentOptions"),
    (entroseg.arrow.segment_stream, "SegmentOptions"),
    (entroseg.arrow.profile_stream, "SegmentOptions"),
    (entroseg.ray.segment_dataset, "SegmentOptions"),
    (entroseg.ray.training_batches, "SegmentOptions"),
    (entroseg.plot.score_profile, "SegmentOptions"),
    (entroseg.plot.plot_segments, "SegmentOptions"),
]


def test_the_typed_option_list_is_the_cores_table() -> None:
    typed = set(_options.ProfileOptions.__annotations__) | set(_options.RuleOptions.__annotations__)
    assert typed == NAMES
    assert set(typing.get_type_hints(_options.SegmentOptions)) == NAMES
    assert set(_options.OPTION_NAMES) == NAMES


def test_the_defaults_are_the_documented_ones() -> None:
    # The defaults stated in entroseg._options' docstring and the README conventions.
    assert entroseg.SegmentSpec.defaults() == {
        "method": None, "degree": None, "order": None, "delay": 1, "window": None,
        "weighted": False, "normalize": True, "context": None, "alphabet_size": None,
        "alpha": 0.5, "min_count": 1, "reset_symbol": None, "statistic": "entropy",
        "blend": False, "nan_policy": "raise", "channels": "sum", "threshold": None,
        "accumulate": False,
        "relative": None,
        "combine": None,
        "min_len": 1, "max_len": None, "target_len": None, "budget": None,
        "budget_by": "information", "calibration": None,
        "preset": None, "mode": None, "quantile": None,
    }  # fmt: skip


@pytest.mark.parametrize("surface, typed", SURFACES, ids=lambda s: getattr(s, "__qualname__", s))
def test_no_surface_declares_an_option_of_its_own(surface: object, typed: str) -> None:
    params = inspect.signature(surface).parameters  # type: ignore[arg-type]
    own = sorted(NAMES & set(params))
    assert not own, f"{surface} re-declares {own}: take them through **options"
    var_kw = [p for p in params.values() if p.kind is inspect.Parameter.VAR_KEYWORD]
    assert len(var_kw) == 1, f"{surface} takes no **options"
    assert str(var_kw[0].annotation) == f"Unpack[{typed}]"


def test_cli_flags_are_library_options() -> None:
    parser = entroseg.cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    cli_defaults = entroseg.cli.CLI_DEFAULTS
    library = entroseg.SegmentSpec.defaults()
    for command in ("profile", "segment", "plot"):
        actions = sub.choices[command]._actions  # type: ignore[attr-defined]
        flags = {a.dest: a for a in actions if a.dest in NAMES}
        assert set(entroseg.cli.PROFILE_FLAGS) <= set(flags)
        for name, action in flags.items():
            # Unset on the command line means the library default, or the CLI's own
            # documented default (CLI_DEFAULTS says where and why); a switch is off
            # where the library's option is off.
            assert action.default is None or action.default == library[name] is False, (
                command,
                name,
            )
    assert set(cli_defaults) <= NAMES


# ---- the same result on every surface ------------------------------------------------

rng = np.random.default_rng(7)
X = np.cumsum(rng.standard_normal(3000))
SYMBOLS = (np.abs(np.diff(X, prepend=0.0)) * 3).astype(np.int64).clip(0, 5)

CASES = [
    (X, dict(order=4, window=48, threshold=0.9, min_len=3, max_len=90)),
    (X, dict(order=3, delay=2, window=40, weighted=True, target_len=25.0,
             calibration="online", max_len=70)),
    (X, dict(window=32, relative=0.05, threshold=0.95, combine="or", min_len=2)),
    (SYMBOLS, dict(method="conditional", context=1, window=64, alphabet_size=6,
                   target_len=30.0, calibration="online", min_len=4)),
    (SYMBOLS, dict(method="next_symbol", context=2, alphabet_size=6, statistic="surprisal",
                   alpha=0.25, threshold=1.2, max_len=50)),
    (X, dict(method="scores", nan_policy="propagate", threshold=0.5, max_len=40)),
    (SYMBOLS, dict(method="next_symbol", context=2, alphabet_size=6, statistic="surprisal",
                   accumulate=True, target_len=20.0, calibration="online", max_len=60)),
    (X, dict(order=3, window=32, accumulate=True, threshold=9.0, min_len=2)),
    (SYMBOLS, dict(method="next_symbol", context=3, alphabet_size=6, blend=True,
                   target_len=15.0, calibration="online")),
]  # fmt: skip

#: Method "line" has no profile apart from its cuts: segmentation surfaces only.
LINE_CASES = [
    (X, dict(threshold=2.0, min_len=2, max_len=80)),
    (X, dict(method="line", degree=0, target_len=24.0, calibration="online", max_len=100)),
]  # fmt: skip


@pytest.mark.parametrize("x, opts", CASES + LINE_CASES)
def test_every_surface_cuts_the_same_segments(x: np.ndarray, opts: dict) -> None:
    one = entroseg.segment(x, **opts)
    spec = entroseg.SegmentSpec(**opts)
    assert entroseg.segment(x, spec=spec) == one
    assert pickle.loads(pickle.dumps(spec)) == spec
    # Streaming: any chunking.
    s = entroseg.Segmenter(**opts)
    parts = [s.push(x[:1234]), s.push(x[1234:]), s.finish()]
    assert entroseg.Segments.join(parts) == one
    # Batches and chunk-parallel.
    batch = entroseg.segment_batch(np.concatenate([x, x]), [0, len(x), 2 * len(x)], **opts)
    assert batch.series(0) == one and batch.series(1) == one
    assert entroseg.segment_parallel(x, chunks=5, **opts) == one
    # Polars.
    df = pl.DataFrame({"x": x})
    ids = df.select(pl.col("x").entroseg.segment_id(**opts))["x"].to_numpy()
    assert np.array_equal(ids, one.patch_ids(local=True))
    # Arrow, streamed in batches.
    table = pa.table({"x": x})
    out = entroseg.arrow.segment_stream(
        table.to_reader(max_chunksize=700), value_column="x", **opts
    ).read_all()
    assert out["start"].to_numpy().tolist() == one.starts.tolist()


@pytest.mark.parametrize("x, opts", CASES)
def test_every_surface_profiles_the_same_scores(x: np.ndarray, opts: dict) -> None:
    whole = entroseg.profile(x, **opts)
    assert len(whole) == len(x)
    p = entroseg.Profiler(**opts)
    streamed = np.concatenate([p.push(x[:999]), p.push(x[999:])])
    assert np.array_equal(streamed, whole, equal_nan=True)
    assert np.array_equal(entroseg.plot.score_profile(x, **opts), whole, equal_nan=True)
    out = entroseg.arrow.profile_stream(
        pa.table({"x": x}).to_reader(max_chunksize=500), value_column="x", **opts
    ).read_all()
    got = out["profile"].to_numpy(zero_copy_only=False).astype(np.float64)
    assert np.array_equal(got, whole, equal_nan=True)


def test_the_profile_is_what_the_rules_cut() -> None:
    opts = dict(order=4, window=48, threshold=0.9, min_len=3, max_len=90)
    scores = entroseg.profile(X, **opts)
    rules = {k: v for k, v in opts.items() if k not in ("order", "window")}
    cut = entroseg.boundaries(scores, nan_policy="propagate", **rules)
    assert cut == entroseg.segment(X, **opts)


# ---- the calibration rule and the deprecated spellings ---------------------------------


def test_target_len_calibrates_as_the_surface_can() -> None:
    # The core spec names no default; a one-shot surface calibrates in batch, a stream
    # online, without a warning.
    with pytest.raises(entroseg.InvalidParameterError, match="target_len needs calibration"):
        entroseg.SegmentSpec(window=32, target_len=20.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        one_shot = entroseg.segment(X, window=32, target_len=20.0)
        s = entroseg.Segmenter(window=32, target_len=20.0)
    assert one_shot == entroseg.segment(X, window=32, target_len=20.0, calibration="batch")
    stream = entroseg.Segments.join([s.push(X), s.finish()])
    assert stream == entroseg.segment(X, window=32, target_len=20.0, calibration="online")


def test_a_stream_refuses_batch_calibration() -> None:
    with pytest.raises(entroseg.InvalidParameterError, match="calibration='online'"):
        entroseg.Segmenter(window=32, target_len=20.0, calibration="batch")
    with pytest.raises(entroseg.InvalidParameterError, match="calibration='online'"):
        entroseg.arrow.segment_stream(
            pa.table({"x": X}), value_column="x", window=32, target_len=20.0, calibration="batch"
        )


def test_next_symbol_order_is_the_old_name_of_context() -> None:
    opts = dict(method="next_symbol", alphabet_size=6, threshold=1.0)
    with pytest.warns(DeprecationWarning, match="context="):
        old = entroseg.segment(SYMBOLS, order=2, **opts)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        new = entroseg.segment(SYMBOLS, context=2, **opts)
    assert old == new
    with pytest.raises(TypeError, match="once"):
        entroseg.segment(SYMBOLS, order=2, context=2, **opts)


def test_unknown_options_and_wrong_types_are_type_errors() -> None:
    with pytest.raises(TypeError, match="unknown segmentation option 'windw'"):
        entroseg.segment(X, windw=32, threshold=0.5)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"window must be an integer, got 2\.5"):
        entroseg.segment(X, window=2.5, threshold=0.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="windw"):
        pl.DataFrame({"x": X}).select(pl.col("x").entroseg.segment_id(windw=3))  # type: ignore[call-arg]


def test_order_errors_are_the_same_on_every_surface() -> None:
    msg = r"order must be in 2..=10, got -1"
    with pytest.raises(entroseg.InvalidParameterError, match=msg):
        entroseg.permutation_entropy(X, order=-1)
    with pytest.raises(entroseg.InvalidParameterError, match=msg):
        entroseg.segment(X, order=-1, window=32, threshold=0.5)
    with pytest.raises(entroseg.InvalidParameterError, match=msg):
        pl.DataFrame({"x": X}).select(pl.col("x").entroseg.permutation_entropy(order=-1))


def test_score_is_the_old_name_of_statistic() -> None:
    opts = dict(method="next_symbol", context=2, alphabet_size=6, threshold=1.0)
    with pytest.warns(DeprecationWarning, match="statistic="):
        old = entroseg.segment(SYMBOLS, score="surprisal", **opts)  # type: ignore[call-overload]
    assert old == entroseg.segment(SYMBOLS, statistic="surprisal", **opts)
    with pytest.warns(DeprecationWarning, match="statistic="):
        expr = pl.col("s").entroseg.next_symbol_entropy(alphabet_size=6, score="surprisal")
    got = pl.DataFrame({"s": SYMBOLS}).select(expr)["s"].to_numpy()
    assert np.array_equal(got, entroseg.next_symbol_entropy(SYMBOLS, alphabet_size=6)[1])
    with pytest.raises(TypeError, match="statistic= only"):
        entroseg.segment(SYMBOLS, score="entropy", statistic="entropy", **opts)  # type: ignore[call-overload]


def test_stream_verb_is_push_and_update_warns() -> None:
    x = X[:500]
    pe = entroseg.RollingPermutationEntropy(window=32, order=3)
    with pytest.warns(DeprecationWarning, match="push"):
        old = pe.update(x)
    pe.reset()
    assert np.array_equal(old, pe.push(x), equal_nan=True)
    model = entroseg.NextSymbolEntropy(alphabet_size=6, context=2)
    with pytest.warns(DeprecationWarning, match="context"):
        assert model.order == model.context == 2


def test_deprecation_warnings_point_at_the_callers_line() -> None:
    calls = [
        lambda: entroseg.segment(SYMBOLS, method="next_symbol", order=2, threshold=1.0),
        lambda: entroseg.profile(SYMBOLS, method="next_symbol", score="surprisal"),
        lambda: pl.col("x").entroseg.next_symbol_entropy(order=2),
        lambda: entroseg.next_symbol_entropy(SYMBOLS, order=2),
        lambda: entroseg.dna_profile("ACGT" * 10, kind="kmer", k=2),
        lambda: entroseg.dna_profile("ACGT" * 10, k=2),
        lambda: entroseg.genomic.dna_tokens("ACGTTG" * 30, kind="next_entropy"),
    ]
    for call in calls:
        with pytest.warns(DeprecationWarning) as record:
            call()
        deprecations = [w for w in record if issubclass(w.category, DeprecationWarning)]
        assert [w.filename for w in deprecations] == [__file__], [
            str(w.message) for w in deprecations
        ]


def test_dna_profiles_say_method_and_context() -> None:
    seq = "ACGTTGCAAAAAAAAGATTACA" * 20
    with pytest.warns(DeprecationWarning, match="method="):
        old = entroseg.dna_profile(seq, kind="kmer", k=2, window=16)
    assert np.array_equal(
        old, entroseg.dna_profile(seq, method="kmer", k=2, window=16), equal_nan=True
    )
    with pytest.warns(DeprecationWarning, match="context="):
        old = entroseg.dna_profile(seq, k=2, window=16)
    assert np.array_equal(old, entroseg.dna_profile(seq, context=2, window=16), equal_nan=True)
    with pytest.raises(entroseg.InvalidParameterError, match="takes k"):
        entroseg.dna_profile(seq, method="kmer", context=2)
    with pytest.raises(TypeError, match="method= only"):
        entroseg.dna_profile(seq, method="kmer", kind="kmer")
    # The tokenizer keeps its default (next-base surprisal, 4 context bases).
    default = entroseg.genomic.dna_tokens(seq)
    assert default == entroseg.genomic.dna_tokens(seq, method="next_surprisal", context=4)


def test_a_missed_target_len_is_never_silent() -> None:
    # Ten samples give 2 segments (mean 5) or 3 (3.33): no cut gives a mean of 4.
    short = np.arange(10.0)
    with pytest.warns(UserWarning, match=r"target_len=4 missed: mean segment length 3\.33"):
        seg = entroseg.boundaries(short, target_len=4.0, calibration="batch")
    assert len(seg) == 3
    with pytest.warns(UserWarning, match="target_len=4 missed in 2 of 2 series"):
        entroseg.segment_batch(
            np.concatenate([short, short]), [0, 10, 20], method="scores", target_len=4.0,
            calibration="batch",
        )  # fmt: skip
    # Two values only: ties broken by position meet the target.
    tied = np.random.default_rng(3).integers(0, 2, 4000).astype(np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        seg = entroseg.boundaries(tied, target_len=8.0, calibration="batch")
    assert len(seg) == 500
    # Scores that allow the target: no warning, within the tolerance.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        seg = entroseg.segment(X, window=32, target_len=20.0, calibration="batch")
        seg2 = entroseg.segment_parallel(X, window=32, target_len=20.0, calibration="batch")
    assert seg == seg2
    assert abs(len(X) / len(seg) / 20.0 - 1) <= entroseg.segments.TARGET_TOLERANCE


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: entroseg.next_symbol_entropy(SYMBOLS, context=2, order=2), TypeError, "once"),
        (lambda: entroseg.NextSymbolEntropy(alphabet_size=6, context=2, order=2), TypeError,
         "once"),
        (lambda: pl.col("s").entroseg.next_symbol_entropy(context=2, order=2), TypeError,
         "context= only"),
        (lambda: entroseg.dna_profile("ACGT" * 4, context=2, k=2), TypeError, "context= only"),
        (lambda: entroseg.SegmentSpec(window=object(), threshold=0.5), TypeError,
         "window got a value of type object"),
        (lambda: entroseg.SegmentSpec(window=2**70, threshold=0.5),
         entroseg.InvalidParameterError, "window is too large"),
        (lambda: entroseg.Segmenter(method="conditional", window=8, threshold=0.5),
         entroseg.InvalidParameterError, "cannot infer the alphabet"),
        (lambda: entroseg.Profiler(method="next_symbol"), entroseg.InvalidParameterError,
         "give alphabet_size"),
    ],
)  # fmt: skip
def test_option_errors_name_the_option(call: Any, error: type, message: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.raises(error, match=message):
            call()
