"""The ``entroseg`` subcommands segment, profile (tables, keys, Parquet), plot and demo:
outputs equal the library on the same data; errors are one line with exit code 2."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import entroseg
import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest
from _helpers import regime_means
from entroseg import _progress
from entroseg.cli import main
from entroseg.sample import REGIMES

#: These tests check other things on short series; the target-miss warning itself is
#: tested in test_calibration.py and test_surfaces_agree.py.
pytestmark = pytest.mark.filterwarnings("ignore:target_len=.* missed:UserWarning")

SEG_ARGS = ["--order", "3", "--window", "32", "--target-len", "20", "--min-len", "2",
            "--max-len", "80"]  # fmt: skip
SEG_OPTS = dict(order=3, window=32, target_len=20.0, min_len=2, max_len=80,
                calibration="online", nan_policy="propagate")  # fmt: skip


def _keyed_table(n: int = 6000, keys: int = 4, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table(
        {
            "device": pa.array([f"d{k}" for k in rng.integers(0, keys, n)]),
            "t": np.arange(n),
            "x": rng.standard_normal(n).cumsum(),
        }
    )


def _one_line_error(capsys: pytest.CaptureFixture[str], message: str) -> None:
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert message in err, err
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err


def test_demo_shows_segments_a_line_can_represent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    png = tmp_path / "demo.png"
    assert main(["demo", "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    means = regime_means(out)
    assert set(means) == set(REGIMES)
    # A line per patch follows the smooth sine and the small logistic map cheaply: long
    # segments there; the random walk's turns and the loud noise get the short ones.
    assert max(means["white_noise"], means["random_walk"]) < 0.25 * min(
        means["sine"], means["logistic_map"]
    )
    # Batch calibration stops within 0.5% of the target.
    found = re.search(r"segments +\d+, mean length ([\d.]+)", out)
    assert found is not None and abs(float(found.group(1)) / 32.0 - 1.0) <= 0.005
    # And the patches carry more of the series than fixed ones of the same count.
    ratios = [float(m) for m in re.findall(r"leaves (\d+)% of the error", out)]
    assert len(ratios) == 2 and max(ratios) < 80
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_segment_of_a_series_equals_the_library(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    x = np.random.default_rng(1).standard_normal(5000).cumsum()
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "seg.parquet"
    assert main(["segment", str(tmp_path / "x.npy"), *SEG_ARGS, "-o", str(out)]) == 0
    table = pq.read_table(out)
    want = entroseg.segment(x, **SEG_OPTS)
    assert table.column_names == ["start", "length", "reason"]
    assert table["start"].to_numpy().tolist() == want.starts.tolist()
    assert table["length"].to_numpy().tolist() == want.lengths.tolist()
    assert table["reason"].to_pylist() == want.reason_names
    printed = capsys.readouterr().out
    assert f"segments   {len(want):,}" in printed
    assert "samples    5,000" in printed


def test_installed_console_script_segments_like_the_library(tmp_path: Path) -> None:
    # The `entroseg` script that installing the package puts on PATH (the other CLI tests
    # call main() or `python -m entroseg`), run against this checkout's package.
    script = shutil.which("entroseg")
    if script is None:
        pytest.skip("no `entroseg` console script on PATH (the package is not installed)")
    x = np.random.default_rng(4).standard_normal(1500).cumsum()
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "seg.csv"
    package_root = str(Path(entroseg.__file__).resolve().parents[1])
    paths = [package_root, *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    run = subprocess.run(
        [script, "segment", str(tmp_path / "x.npy"), *SEG_ARGS, "-o", str(out)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert run.returncode == 0, run.stderr
    want = entroseg.segment(x, **SEG_OPTS)
    got = pcsv.read_csv(out)
    assert got.column_names == ["start", "length", "reason"]
    assert got["start"].to_numpy().tolist() == want.starts.tolist()
    assert got["length"].to_numpy().tolist() == want.lengths.tolist()
    assert got["reason"].to_pylist() == want.reason_names
    assert f"segments   {len(want):,}" in run.stdout
    assert "samples    1,500" in run.stdout


@pytest.mark.parametrize("fmt", ["parquet", "arrow", "csv"])
def test_segment_by_key_equals_the_library_per_key(
    fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = _keyed_table()
    path = tmp_path / f"data.{fmt}"
    if fmt == "parquet":
        pq.write_table(table, path, row_group_size=1000)
    elif fmt == "arrow":
        with pa.ipc.new_file(path, table.schema) as w:
            w.write_table(table, max_chunksize=700)
    else:
        pcsv.write_csv(table, path)
    out = tmp_path / "seg.parquet"
    args = ["segment", str(path), "--column", "x", "--key", "device", *SEG_ARGS, "-o", str(out)]
    assert main(args) == 0
    got = pq.read_table(out)
    assert got.column_names == ["device", "start", "length", "reason"]
    keys = np.array(table["device"].to_pylist())
    x = table["x"].to_numpy()
    for k in np.unique(keys):
        want = entroseg.segment(x[keys == k], **SEG_OPTS)
        mine = got.filter(pa.compute.equal(got["device"], k))
        assert mine["start"].to_numpy().tolist() == want.starts.tolist()
    printed = capsys.readouterr().out
    assert "rows       6,000 in 4 series (key 'device')" in printed


def test_segment_writes_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "seg.csv"
    assert main(["segment", *SEG_ARGS, "-o", str(out)]) == 0
    x, _ = entroseg.sample_series()
    want = entroseg.segment(x, **SEG_OPTS)
    got = pcsv.read_csv(out)
    assert got["length"].to_numpy().tolist() == want.lengths.tolist()
    assert got["reason"].to_pylist() == want.reason_names


def test_profile_by_key_writes_the_input_columns_and_the_profile(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = _keyed_table(3000, keys=3, seed=2)
    path = tmp_path / "data.parquet"
    pq.write_table(table, path)
    out = tmp_path / "profile.parquet"
    args = ["profile", str(path), "--key", "device", "--column", "x", "--order", "3",
            "--window", "50", "-o", str(out)]  # fmt: skip
    assert main(args) == 0
    got = pq.read_table(out)
    assert got.column_names == ["device", "t", "x", "profile"]
    assert got.select(["device", "t", "x"]).equals(table)
    keys = np.array(table["device"].to_pylist())
    for k in np.unique(keys):
        rows = keys == k
        want = entroseg.permutation_entropy(table["x"].to_numpy()[rows], order=3, window=50)
        mine = got["profile"].to_numpy(zero_copy_only=False)[rows]
        assert np.array_equal(mine, want, equal_nan=True)
    assert "3 series (key 'device')" in capsys.readouterr().out


def test_profile_of_a_parquet_column_written_as_parquet(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    x = np.sin(np.arange(4000) / 9.0) + np.random.default_rng(3).standard_normal(4000) * 0.05
    pq.write_table(pa.table({"name": ["a"] * 4000, "x": x}), tmp_path / "in.parquet")
    out = tmp_path / "out.parquet"
    assert main(["profile", str(tmp_path / "in.parquet"), "--window", "64", "-o", str(out)]) == 0
    got = pq.read_table(out)
    want = entroseg.permutation_entropy(x, order=4, window=64, nan_policy="propagate")
    assert np.array_equal(got["profile"].to_numpy(), want, equal_nan=True)
    assert np.array_equal(got["x"].to_numpy(), x)


def test_plot_renders_a_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import matplotlib.image

    out = tmp_path / "plot.png"
    assert main(["plot", *SEG_ARGS, "-o", str(out)]) == 0
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    image = matplotlib.image.imread(out)
    assert image.shape[:2] == (700, 1200)
    assert f"written    {out}" in capsys.readouterr().out


def test_plot_one_series_of_a_keyed_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "data.parquet"
    pq.write_table(_keyed_table(4000, keys=2), path)
    out = tmp_path / "d1.png"
    args = ["plot", str(path), "--key", "device", "--series", "d1", "--column", "x",
            *SEG_ARGS, "-o", str(out)]  # fmt: skip
    assert main(args) == 0
    assert out.stat().st_size > 10_000
    assert "(device = d1)" in capsys.readouterr().out


def test_no_progress_bar_when_stderr_is_not_a_terminal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["segment", *SEG_ARGS]) == 0
    assert capsys.readouterr().err == ""


def test_progress_bar_draws_and_erases(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_progress, "DELAY", 0.0)
    monkeypatch.setattr(_progress, "INTERVAL", 0.0)
    stream = io.StringIO()
    with _progress.Progress("segment", total=200, enabled=True, stream=stream) as p:
        p.advance(50)
        p.advance(50)
    text = stream.getvalue()
    assert "segment [" in text and "100/200 samples" in text and " 50%" in text
    assert text.endswith("\r\x1b[2K")  # erased before the summary
    stream = io.StringIO()
    with _progress.Progress("segment", enabled=False, stream=stream) as p:
        p.advance(10)
    assert stream.getvalue() == "" and p.done == 10


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["segment", "/no/such/file.parquet"], "no such file"),
        (["segment", "--order", "1", "--window", "8"], "order must be in 2..=10, got 1"),
        (["segment", "--threshold", "x"], "argument --threshold: invalid float value"),
        (["segment", "--min-len", "10", "--max-len", "5"], "min_len must be <= max_len"),
        (["segment", "--key", "device"], "--key needs an input table"),
        (["segment", "--method", "conditional", "--window", "8", "--threshold", "0.5"],
         "alphabet_size"),
        (["demo", "--bogus"], "unrecognized arguments: --bogus"),
        (["plot", "--series", "a"], "--series picks a series of --key"),
        (["segment", "-o", "out.txt"], "segments are written as .parquet or .csv"),
        (["profile", "--method", "scores"], "method must be"),
    ],
)  # fmt: skip
def test_bad_arguments_exit_2_with_one_line(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    _one_line_error(capsys, message)


def test_unreadable_files_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"this is not parquet")
    assert main(["segment", str(bad)]) == 2
    _one_line_error(capsys, "bad.parquet")
    path = tmp_path / "data.parquet"
    pq.write_table(_keyed_table(100), path)
    assert main(["segment", str(path), "--key", "nope"]) == 2
    _one_line_error(capsys, "key column 'nope' not in")
    assert main(["segment", str(path), "--column", "device", "--key", "t"]) == 2
    _one_line_error(capsys, "must be numeric")
    assert main(["plot", *SEG_ARGS, "-o", str(tmp_path / "no" / "dir" / "x.png")]) == 2
    _one_line_error(capsys, "cannot write")


@pytest.mark.parametrize("command", ["demo", "profile", "segment", "plot"])
def test_help_on_every_subcommand(command: str) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "entroseg", command, "--help"], capture_output=True, text=True
    )
    assert run.returncode == 0
    assert f"usage: entroseg {command}" in run.stdout


def test_bad_arguments_through_the_installed_command_are_one_line() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "entroseg", "segment", "--window", "x"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [
        "entroseg segment: error: argument --window: invalid int value: 'x' (see --help)"
    ]


def test_segment_plans_merges_per_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    table = _keyed_table(4000, keys=3, seed=5)
    path = tmp_path / "data.parquet"
    pq.write_table(table, path, row_group_size=900)
    out = tmp_path / "seg.parquet"
    merge_args = ["--merge-ratio", "0.5", "--merge-levels", "2", "--merge-block", "16"]
    args = ["segment", str(path), "--column", "x", "--key", "device", *SEG_ARGS, *merge_args,
            "-o", str(out)]  # fmt: skip
    assert main(args) == 0
    got = pq.read_table(out)
    assert got.column_names == ["device", "start", "length", "reason", "group_0", "group_1"]
    keys = np.array(table["device"].to_pylist())
    x = table["x"].to_numpy()
    for k in np.unique(keys):
        seg = entroseg.segment(x[keys == k], **SEG_OPTS)
        plan = entroseg.merge_plan(seg, profile=x[keys == k], weights=seg.lengths, block=16,
                                   window=16, levels=2, ratio=0.5)  # fmt: skip
        mine = got.filter(pa.compute.equal(got["device"], k))
        assert mine["group_1"].to_numpy().tolist() == plan[1].source.tolist()
    assert "merge      ratio=0.5, 2 levels" in capsys.readouterr().out


def test_segment_plans_merges_of_one_series(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "seg.parquet"
    args = ["segment", *SEG_ARGS, "--merge-threshold", "-0.1", "-o", str(out)]
    assert main(args) == 0
    x, _ = entroseg.sample_series()
    seg = entroseg.segment(x, **SEG_OPTS)
    plan = entroseg.merge_plan(seg, profile=x, weights=seg.lengths, block=256, window=16,
                               levels=2, threshold=-0.1)  # fmt: skip
    got = pq.read_table(out)
    assert got["group_0"].to_numpy().tolist() == plan[0].source.tolist()
    printed = capsys.readouterr().out
    assert f"groups     {len(seg):,} segments -> {plan[0].num_groups:,}" in printed
    assert main(["segment", "--merge-ratio", "0.5", "--merge-threshold", "0.1"]) == 2
    assert "not both" in capsys.readouterr().err
    assert main(["segment", "--merge-ratio", "1.5"]) == 2
    assert "ratio must be in (0, 1], got 1.5" in capsys.readouterr().err
