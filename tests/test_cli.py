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
