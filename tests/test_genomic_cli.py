"""``entroseg dna mask|profile``: BED/Parquet output, stdin, errors, progress bar."""

from __future__ import annotations

import gzip
import io
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import entroseg
import numpy as np
import pydustmasker
import pytest
from entroseg import _progress
from entroseg._progress import Progress
from entroseg.cli import main
from entroseg.genomic import read_fastx, sample_fasta


@pytest.fixture
def fasta(tmp_path: Path) -> Path:
    path = tmp_path / "sample.fa.gz"
    path.write_bytes(gzip.compress(sample_fasta(records=4, length=3000)))
    return path


def peer_bed(path: Path) -> list[str]:
    """BED lines from pydustmasker, the reference SDUST."""
    lines = []
    for rec in read_fastx(path):
        assert rec.sequence is not None
        for s, e in pydustmasker.DustMasker(rec.sequence.decode()).intervals:
            lines.append(f"{rec.name}\t{s}\t{e}")
    return lines


def test_mask_writes_bed_to_stdout_identical_to_pydustmasker(
    fasta: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["dna", "mask", str(fasta)]) == 0
    out = capsys.readouterr()
    assert out.out.splitlines() == peer_bed(fasta)
    assert out.err == ""  # no progress bar when stderr is not a terminal


def test_mask_to_bed_and_parquet_files(
    fasta: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bed = tmp_path / "mask.bed"
    assert main(["dna", "mask", str(fasta), "-o", str(bed), "--quiet"]) == 0
    assert bed.read_text().splitlines() == peer_bed(fasta)
    assert f"written    {bed}" in capsys.readouterr().out
    pq = pytest.importorskip("pyarrow.parquet")
    parquet = tmp_path / "mask.parquet"
    assert main(["dna", "mask", str(fasta), "-o", str(parquet)]) == 0
    table = pq.read_table(parquet)
    rows = zip(*(table.column(c).to_pylist() for c in ("chrom", "start", "end")), strict=True)
    assert [f"{c}\t{s}\t{e}" for c, s, e in rows] == peer_bed(fasta)


def test_parquet_without_pyarrow_is_a_clear_error(
    fasta: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    assert main(["dna", "mask", str(fasta), "-o", str(tmp_path / "m.parquet")]) == 2
    err = capsys.readouterr().err
    assert "needs pyarrow (pip install pyarrow)" in err and len(err.strip().splitlines()) == 1


def test_mask_reads_stdin(fasta: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(fasta.read_bytes())))
    assert main(["dna", "mask", "-", "--window", "64", "--level", "20"]) == 0
    assert capsys.readouterr().out.splitlines() == peer_bed(fasta)


def test_mask_and_profile_run_on_the_generated_sample(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dna", "mask"]) == 0
    assert capsys.readouterr().out.startswith("sample1\t")
    assert main(["dna", "profile"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out] == ["sample1", "sample2", "sample3"]


def test_profile_outputs_match_the_library(
    fasta: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    npz = tmp_path / "p.npz"
    args = ["dna", "profile", str(fasta), "--method", "kmer", "-k", "2", "--window", "200"]
    assert main([*args, "-o", str(npz)]) == 0
    saved = np.load(npz)
    recs = list(read_fastx(fasta))
    assert sorted(saved.files) == sorted(r.name for r in recs)
    for r in recs:
        assert r.sequence is not None
        want = entroseg.dna_profile(r.sequence, method="kmer", k=2, window=200)
        assert np.array_equal(saved[r.name], want, equal_nan=True)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("sample1") and "3,000 bases" in lines[0]
    tsv = tmp_path / "p.tsv"
    assert main([*args, "-o", str(tsv)]) == 0
    first = tsv.read_text().splitlines()[199].split("\t")
    assert first[0] == "sample1" and first[1] == "199"
    assert float(first[2]) == float(saved["sample1"][199])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["dna", "mask", "/no/such.fa"], "cannot open '/no/such.fa'"),
        (["dna", "mask", "--window", "2"], "window must be in 4..=65536 bases, got 2"),
        (
            ["dna", "profile", "--context", "40"],
            "must be in 0..=31 for method='conditional', got 40",
        ),
        (["dna", "profile", "--kind", "kmer", "-k", "0"], "must be in 1..=15"),
        (["dna", "profile", "--method", "kmer", "--context", "2"], "takes -k (the k-mer length)"),
        (["dna", "profile", "-o", "x.csv"], "unsupported output 'x.csv'"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    if "-o" in args:
        args = [*args[:-1], str(tmp_path / args[-1])]
        message = message.replace("'x.csv'", repr(str(tmp_path / "x.csv")))
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b">a\nACGT\n>b\nACXT\n", "record 'b' (record 2, line 3): 'X' (0x58) at position 2"),
        (b"@r\nACGT\n+\nII\n", "quality length is 2"),
        (b">a\n\n", "record 'a' (record 1, line 1) has no bases"),
        (
            gzip.compress(
                b">r\n"
                + np.random.default_rng(0).choice(list(b"ACGT"), 40000).astype(np.uint8).tobytes()
            )[:500],
            "the gzip stream is truncated or corrupt",
        ),
    ],
)
def test_bad_files_exit_2_with_one_line(
    data: bytes, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.fa"
    path.write_bytes(data)
    assert main(["dna", "mask", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("entroseg: error: ") and message in err
    assert len(err.strip().splitlines()) == 1


def test_installed_command_streams_stdin_and_stays_quiet_off_a_terminal(fasta: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "entroseg", "dna", "mask", "-"],
        input=fasta.read_bytes(),
        capture_output=True,
    )
    assert run.returncode == 0
    assert run.stdout.decode().splitlines() == peer_bed(fasta)
    assert run.stderr == b""


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _dna_progress(
    label: str, poll: Callable[[], int], total: int | None, *, quiet: bool
) -> Progress:
    """The bar the dna subcommands draw (as cli._dna_records makes it)."""
    return Progress(
        label, total=total, unit="MB", scale=1e6, counted="records", poll=poll,
        enabled=Progress.wanted(quiet),
    )  # fmt: skip


def test_progress_bar_on_a_terminal_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_progress, "DELAY", 0.0)
    term = _Terminal()
    monkeypatch.setattr("sys.stderr", term)
    done = iter(range(0, 10**9, 250_000))
    with _dna_progress("entroseg dna mask", lambda: next(done), 1_000_000, quiet=False) as p:
        p.advance(0, count=3)
        time.sleep(0.5)
    text = term.getvalue()
    assert "entroseg dna mask [" in text and "%" in text and "3 records" in text
    assert text.endswith("\r\x1b[2K")  # the line is cleared at the end
    quiet = _Terminal()
    monkeypatch.setattr("sys.stderr", quiet)
    with _dna_progress("x", lambda: 0, None, quiet=True):
        time.sleep(0.3)
    assert quiet.getvalue() == ""
