"""The ``entroseg`` command line."""

import subprocess
import sys
from pathlib import Path

import entroseg
import numpy as np
import pytest
from _helpers import regime_means
from entroseg.cli import main


def test_profile_on_bundled_sample_reports_regimes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profile"]) == 0
    out = capsys.readouterr().out
    means = regime_means(out)
    assert set(means) == {"white_noise", "sine", "random_walk", "logistic_map"}
    # Known ordering of the generated regimes: noise is the most complex, the sine least.
    assert means["white_noise"] > means["random_walk"] > means["logistic_map"] > means["sine"]


def test_profile_of_a_file_matches_the_library(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    x = np.random.default_rng(3).standard_normal(3000)
    np.save(tmp_path / "x.npy", x)
    out_file = tmp_path / "profile.npy"
    assert main(["profile", str(tmp_path / "x.npy"), "--window", "100", "-o", str(out_file)]) == 0
    got = np.load(out_file)
    want = entroseg.permutation_entropy(x, order=4, window=100)
    assert np.array_equal(got, want, equal_nan=True)
    assert "samples    3,000" in capsys.readouterr().out


def test_profile_reads_csv_columns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "data.csv"
    path.write_text("time,value\n" + "".join(f"{i},{np.sin(i / 3.0)}\n" for i in range(500)))
    assert main(["profile", str(path), "--column", "value", "--window", "50", "--order", "3"]) == 0
    assert "samples    500" in capsys.readouterr().out
    assert main(["profile", str(path), "--column", "nope"]) == 2
    assert "column 'nope' not in" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["profile", "/no/such/file.npy"], "no such file"),
        (["profile", "--order", "1"], "order must be in 2..=10, got 1"),
        (["profile", "--window", "2"], "window >= 4"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_help_and_bad_arguments_through_the_installed_command() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "entroseg", "profile", "--help"], capture_output=True, text=True
    )
    assert run.returncode == 0 and "--window" in run.stdout
    run = subprocess.run(
        [sys.executable, "-m", "entroseg", "profile", "--order", "x"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 2 and "Traceback" not in run.stderr


def test_several_columns_are_the_channels_of_one_series(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    rng = np.random.default_rng(8)
    x = np.cumsum(rng.standard_normal((2400, 3)), axis=0)
    key = np.repeat(["p", "q"], 1200)
    csv_path = tmp_path / "sensors.csv"
    csv_path.write_text("a,b,c\n" + "".join(f"{r[0]!r},{r[1]!r},{r[2]!r}\n" for r in x.tolist()))
    out = tmp_path / "seg.parquet"
    args = ["segment", str(csv_path), "--column", "a,c", "--threshold", "3", "-q", "-o", str(out)]
    assert main(args) == 0
    got = pq.read_table(out)
    want = entroseg.segment(x[:, [0, 2]], threshold=3.0)
    np.testing.assert_array_equal(got["start"].to_numpy(), want.starts)
    # max of the channels' prices: a different boundary set.
    assert main([*args, "--channels", "max"]) == 0
    want_max = entroseg.segment(x[:, [0, 2]], threshold=3.0, channels="max")
    np.testing.assert_array_equal(pq.read_table(out)["start"].to_numpy(), want_max.starts)
    # Keyed: one multichannel series per key, as each key's rows alone.
    table_path = tmp_path / "sensors.parquet"
    pq.write_table(pa.table({"k": key, "a": x[:, 0], "b": x[:, 1], "c": x[:, 2]}), table_path)
    keyed = ["segment", str(table_path), "--key", "k", "--column", "a,b,c", "--threshold", "3"]
    assert main([*keyed, "-q", "-o", str(out)]) == 0
    got = pq.read_table(out)
    for k in ("p", "q"):
        rows = got.filter(pa.compute.equal(got["k"], k))
        alone = entroseg.segment(x[key == k], threshold=3.0)
        np.testing.assert_array_equal(rows["start"].to_numpy(), alone.starts)
    # The profile of several channels, written beside them.
    prof = tmp_path / "prof.parquet"
    popts = ["--window", "32", "--order", "3", "--channels", "pooled"]
    assert main(["profile", str(table_path), "--column", "b,c", *popts, "-q", "-o", str(prof)]) == 0
    written = pq.read_table(prof)
    assert written.column_names == ["b", "c", "profile"]
    want_profile = entroseg.profile(x[:, 1:], window=32, order=3, channels="pooled")
    np.testing.assert_array_equal(written["profile"].to_numpy(zero_copy_only=False), want_profile)
    capsys.readouterr()
    # Misuse: one line each, exit 2.
    for bad, message in [
        (["segment", str(csv_path), "--column", "a,,c"], "names an empty column"),
        (["segment", "--column", "a,b"], "several --column channels need an input table"),
        (["segment", str(csv_path), "--column", "a,zz"], "column 'zz' not in"),
        (["segment", str(csv_path), "--column", "a,b", "--merge-ratio", "0.5"], "one float series"),
        (["plot", str(csv_path), "--column", "a,b"], "plot draws one series"),
    ]:
        assert main(bad) == 2, bad
        err = capsys.readouterr().err
        assert message in err, (bad, err)
        assert len(err.strip().splitlines()) == 1
