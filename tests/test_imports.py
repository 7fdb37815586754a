"""``import entroseg`` stays light: no Polars, pyarrow, matplotlib or Ray until used; the
submodules are attributes loaded on first use; the Polars namespace is registered
whichever of Polars and entroseg is imported first."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import entroseg
import numpy as np
import pytest

HEAVY = ("polars", "pyarrow", "matplotlib", "ray")
LAZY = ("arrow", "cli", "metrics", "plot", "polars", "ray")


def _run(code: str, cwd: Path | None = None) -> str:
    """Run ``code`` in a fresh interpreter; its stdout (fails the test on an error)."""
    run = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=cwd,
    )
    assert run.returncode == 0, run.stderr
    return run.stdout


def _heavy_loaded() -> str:
    return f"sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})"


def test_import_entroseg_loads_no_heavy_dependency() -> None:
    out = _run(
        f"""
        import sys
        import entroseg
        print({_heavy_loaded()})
        print(sorted(m for m in sys.modules if m.startswith('entroseg.')))
        """
    )
    heavy, submodules = out.splitlines()
    assert heavy == "[]"
    loaded = {name.removeprefix("entroseg.") for name in eval(submodules)}
    assert not loaded & set(LAZY), loaded


def test_importtime_names_no_heavy_dependency() -> None:
    run = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import entroseg"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    modules = [line.rsplit("|", 1)[-1].strip() for line in run.stderr.splitlines()]
    assert "entroseg" in modules
    assert [m for m in modules if m.split(".")[0] in HEAVY] == []


@pytest.mark.parametrize("name", ["arrow", "plot", "ray", "metrics", "cli"])
def test_submodules_are_lazy_attributes(name: str) -> None:
    out = _run(
        f"""
        import sys, types
        import entroseg
        assert 'entroseg.{name}' not in sys.modules
        assert '{name}' in dir(entroseg)
        module = entroseg.{name}
        assert isinstance(module, types.ModuleType) and module.__name__ == 'entroseg.{name}'
        assert sys.modules['entroseg.{name}'] is module
        assert entroseg.{name} is module  # bound on the package: imported once
        print({_heavy_loaded()})
        """
    )
    # The optional dependencies are imported when a function needs them, not before.
    if name in ("arrow", "plot", "ray"):
        assert out.strip() == "[]"


def test_submodule_attributes_are_the_documented_functions() -> None:
    assert callable(entroseg.arrow.segment_stream)
    assert callable(entroseg.arrow.profile_stream)
    assert callable(entroseg.plot.plot_segments)
    assert callable(entroseg.ray.segment_dataset)
    assert callable(entroseg.cli.main)
    assert entroseg.metrics.covering is not None
    # The eager submodules stay what they were.
    assert entroseg.segments.Segments is entroseg.Segments
    assert entroseg.genomic.read_fastx is entroseg.read_fastx
    assert entroseg.merge.merge_plan is entroseg.merge_plan
    assert entroseg.changepoints.change_points is entroseg.change_points
    assert entroseg.parallel.segment_parallel is entroseg.segment_parallel
    assert entroseg.sample.sample_series is entroseg.sample_series


def test_dir_lists_the_lazy_submodules_and_unknown_names_fail() -> None:
    names = dir(entroseg)
    assert set(LAZY) <= set(names)
    assert set(entroseg.__all__) <= set(names)
    assert names == sorted(names)
    with pytest.raises(AttributeError, match="module 'entroseg' has no attribute 'nope'"):
        _ = entroseg.nope  # type: ignore[attr-defined]
    assert not hasattr(entroseg, "nope")
    assert getattr(entroseg, "nope", 7) == 7


def test_no_polars_needed() -> None:
    out = _run(
        """
        import pydoc, sys
        sys.modules['polars'] = None
        import entroseg
        from entroseg import _polars_hook
        print(_polars_hook.installed(), entroseg.permutation_entropy([1.0, 2.0, 3.0]))
        print(hasattr(entroseg, 'polars'), hasattr(entroseg, 'arrow'))
        try:
            entroseg.polars
        except AttributeError as exc:
            print(exc)
        assert 'segment_stream' in pydoc.render_doc(entroseg.arrow)
        assert 'permutation_entropy' in pydoc.render_doc(entroseg)
        """
    )
    lines = out.splitlines()
    assert lines[0].split() == ["False", "0.0"]
    assert lines[1].split() == ["False", "True"]
    assert lines[2].startswith(
        "module 'entroseg' has no attribute 'polars': entroseg.polars needs polars, "
        "which is not installed"
    )


# ---- the Polars namespace, real Polars ----

POLARS_CHECK = """
    df = pl.DataFrame({'x': [4.0, 7, 9, 10, 6, 11]})
    pe = df.select(pl.col('x').entroseg.permutation_entropy(order=2, window=3))['x'].to_list()
    assert pe == [None, None, 0.0, 0.0, 1.0, 1.0], pe
    from entroseg import _polars_hook
    assert not _polars_hook.installed()
    assert not any(getattr(f, '_entroseg_polars_hook', False) for f in sys.meta_path)
    # Polars keeps its own loader: the wrapper never shows.
    assert polars_module.__spec__.loader is polars_module.__loader__
    assert type(polars_module.__loader__).__name__ != '_ChainedLoader'
    print('ok')
"""


@pytest.mark.parametrize(
    "imports",
    [
        "import polars as pl",
        "from polars import DataFrame, col\nimport polars as pl",
        "import polars.selectors as cs\nimport polars as pl",
    ],
    ids=["import", "from-import", "submodule"],
)
def test_namespace_registered_when_polars_is_imported_after(imports: str) -> None:
    pytest.importorskip("polars")
    code = (
        "import sys\nimport entroseg\n"
        "assert 'polars' not in sys.modules and 'entroseg.polars' not in sys.modules\n"
        "from entroseg import _polars_hook\nassert _polars_hook.installed()\n"
        f"{imports}\n"
        "assert 'entroseg.polars' in sys.modules\n"
        "polars_module = sys.modules['polars']\n"
    )
    assert _run(code + textwrap.dedent(POLARS_CHECK)).strip() == "ok"


def test_namespace_registered_when_polars_is_imported_first() -> None:
    pytest.importorskip("polars")
    code = (
        "import sys\nimport polars as pl\n"
        "assert not hasattr(pl.col('x'), 'entroseg')\n"
        "import entroseg\n"
        "assert 'entroseg.polars' in sys.modules\n"
        "polars_module = pl\n"
    )
    assert _run(code + textwrap.dedent(POLARS_CHECK)).strip() == "ok"


def test_install_is_idempotent() -> None:
    pytest.importorskip("polars")
    out = _run(
        """
        import importlib, sys
        import entroseg
        from entroseg import _polars_hook
        _polars_hook.install(); _polars_hook.install()
        importlib.reload(_polars_hook); _polars_hook.install()
        importlib.reload(entroseg)
        print(sum(bool(getattr(f, '_entroseg_polars_hook', False)) for f in sys.meta_path))
        import polars as pl
        print(sum(bool(getattr(f, '_entroseg_polars_hook', False)) for f in sys.meta_path))
        print(type(pl.col('x').entroseg).__name__)
        _polars_hook.install()  # Polars imported now: registers at once, no finder
        print(sum(bool(getattr(f, '_entroseg_polars_hook', False)) for f in sys.meta_path))
        """
    )
    assert out.split() == ["1", "0", "EntrosegExpr", "0"]


def test_lazy_polars_attribute() -> None:
    pytest.importorskip("polars")
    out = _run(
        """
        import sys
        import entroseg
        print(entroseg.polars.EntrosegExpr.__name__, 'polars' in sys.modules)
        """
    )
    assert out.split() == ["EntrosegExpr", "True"]


# ---- the hook with a stand-in Polars: version warning, failures ----


def _fake_polars(root: Path, init: str) -> Path:
    (root / "polars").mkdir()
    (root / "polars" / "__init__.py").write_text(textwrap.dedent(init))
    return root


_RECORD = """
    import sys, warnings
    sys.path.insert(0, {root!r})
    warnings.simplefilter('always')
    {first}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        {second}
    for w in caught:
        print(w.category.__name__, w.filename, '|', w.message)
    import polars
    print('version', polars.__version__, 'entroseg.polars' in sys.modules)
"""


@pytest.mark.parametrize("polars_first", [False, True], ids=["after", "before"])
def test_old_polars_warns_and_is_not_registered(tmp_path: Path, polars_first: bool) -> None:
    root = _fake_polars(tmp_path, '__version__ = "1.20.0"\n')
    first, second = "import entroseg", "import polars"
    if polars_first:
        first, second = second, first
    out = _run(_RECORD.format(root=str(root), first=first, second=second))
    lines = out.splitlines()
    assert lines[-1] == "version 1.20.0 False"
    # One warning, pointing at the user's import line (not at entroseg's internals).
    assert lines[:-1] == [
        "RuntimeWarning <string> | entroseg's Polars expressions need polars>=1.30, "
        "found 1.20.0: pl.Expr.entroseg is not registered"
    ]


def test_failed_registration_never_breaks_the_polars_import(tmp_path: Path) -> None:
    # Recent enough, but no polars.plugins: entroseg.polars cannot import.
    root = _fake_polars(tmp_path, '__version__ = "1.31.0"\nvalue = 42\n')
    out = _run(
        _RECORD.format(root=str(root), first="import entroseg", second="from polars import value")
    )
    lines = out.splitlines()
    assert lines[-1] == "version 1.31.0 False"
    assert len(lines) == 2
    assert lines[0].startswith("RuntimeWarning <string> | entroseg could not register")
    assert "polars.plugins" in lines[0]


def test_error_in_polars_itself_propagates_and_the_hook_stays(tmp_path: Path) -> None:
    root = _fake_polars(tmp_path, "raise ZeroDivisionError('polars is broken')\n")
    out = _run(
        f"""
        import sys
        sys.path.insert(0, {str(root)!r})
        import entroseg
        from entroseg import _polars_hook
        try:
            import polars
        except ZeroDivisionError as exc:
            print('raised', exc)
        print(_polars_hook.installed(), 'polars' in sys.modules)
        """
    )
    assert out.splitlines() == ["raised polars is broken", "True False"]


# ---- plot.segments -> plot.plot_segments ----


def test_plot_segments_new_name_and_deprecated_alias() -> None:
    pytest.importorskip("matplotlib")
    from entroseg import plot

    x = np.sin(np.arange(200) / 5.0)
    e = np.abs(np.diff(x, prepend=0.0))
    seg = entroseg.boundaries(e, threshold=0.15, min_len=5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = plot.plot_segments(x, seg, profile=e)
    with pytest.warns(DeprecationWarning, match=r"plot\.segments is deprecated.*plot_segments"):
        old = plot.segments(x, seg, profile=e)
    assert [ax.get_ylabel() for ax in old.axes] == [ax.get_ylabel() for ax in fig.axes]
    assert old.get_suptitle() == fig.get_suptitle()
    assert plot.segments.__name__ == "segments"
    assert "plot_segments" in plot.__all__


def test_deprecation_warning_points_at_the_caller() -> None:
    pytest.importorskip("matplotlib")
    from entroseg import plot

    x = np.arange(50.0)
    with pytest.warns(DeprecationWarning) as record:
        plot.segments(x, entroseg.boundaries(x, max_len=10), profile=x)
    assert [Path(w.filename).name for w in record] == [Path(__file__).name]
