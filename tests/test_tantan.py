"""tantan masks against pydustmasker's TantanMasker (and Debian's ``tantan`` binary where
installed), interval for interval, and posteriors bit for bit."""

from __future__ import annotations

import gzip
import io
import os
import shutil
import subprocess
from pathlib import Path

import entroseg
import numpy as np
import pytest
from entroseg.cli import main
from entroseg.genomic import mask_fastx, tantan_mask_fastx
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

pydustmasker = pytest.importorskip("pydustmasker")
if not hasattr(pydustmasker, "TantanMasker"):
    pytest.skip("pydustmasker has no TantanMasker (needs 3.x)", allow_module_level=True)

# Pieces that exercise every path: random sequence, tandem repeats of units of 1 to 12
# letters (and longer ones below), homopolymers, runs of N and other IUPAC codes, and
# soft-masked (lowercase) stretches.
_unit = st.text(alphabet="ACGT", min_size=1, max_size=12)
_piece = st.one_of(
    st.text(alphabet="ACGT", min_size=1, max_size=80),
    st.builds(lambda u, n: (u * 80)[:n], _unit, st.integers(2, 160)),
    st.builds(lambda b, n: b * n, st.sampled_from("ACGT"), st.integers(3, 60)),
    st.builds(lambda b, n: b * n, st.sampled_from("NnRYKMSWBDHVU"), st.integers(1, 30)),
    st.text(alphabet="acgt", min_size=1, max_size=40),
    st.builds(lambda u, n: (u * 40)[:n].lower(), _unit, st.integers(4, 80)),
)
sequences = st.lists(_piece, min_size=0, max_size=20).map("".join)

PEER_NAMES = {"threshold": "score_threshold"}


def peer(seq: str, **options: object) -> list[list[int]]:
    """pydustmasker's intervals (it rejects an empty sequence, which has none)."""
    if not seq:
        return []
    kwargs = {PEER_NAMES.get(k, k): v for k, v in options.items()}
    return [list(iv) for iv in pydustmasker.TantanMasker(seq, **kwargs).intervals]


def peer_probabilities(seq: str, **options: object) -> np.ndarray:
    kwargs = {PEER_NAMES.get(k, k): v for k, v in options.items()}
    probs = pydustmasker.TantanMasker(seq, **kwargs).probabilities
    return np.array(probs, dtype=np.float32)


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool((a.view(np.uint32) == b.view(np.uint32)).all())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seq=sequences)
@example(seq="")
@example(seq="A")
@example(seq="N")
@example(seq="AC")
@example(seq="NNNNNNNNNNNNNNNNNNNN")
@example(seq="A" * 300)
@example(seq="CA" * 100 + "N" * 50 + "CA" * 100)
@example(seq="acacacacacacACACACACACAC" * 5)
@example(seq="ACGTRYKMSWBDHVU" * 10)
def test_default_options_match_pydustmasker(seq: str) -> None:
    got = entroseg.tantan_mask(seq)
    assert got.dtype == np.int64 and got.ndim == 2 and got.shape[1] == 2
    assert got.tolist() == peer(seq)
    if seq:
        assert same_bits(entroseg.tantan_probabilities(seq), peer_probabilities(seq))


@pytest.mark.parametrize(
    "unit_length", [*range(1, 21), 25, 33, 47, 50, 64, 77, 99, 100, 101, 120, 150, 200]
)
def test_tandem_repeats_of_every_unit_length(unit_length: int) -> None:
    # Units up to max_period (100) and beyond it (whose copies tantan no longer sees
    # as a repeat of that period), between random flanks.
    rng = np.random.default_rng(unit_length)
    letters = np.array(list("ACGT"))
    unit = "".join(rng.choice(letters, unit_length))
    flank = lambda n: "".join(rng.choice(letters, n))  # noqa: E731
    copies = max(2, 600 // unit_length)
    # A diverged copy: one substitution every ~20 letters.
    noisy = list(unit * copies)
    for i in range(0, len(noisy), 20):
        noisy[i] = rng.choice(letters)
    seq = flank(300) + unit * copies + flank(200) + "".join(noisy) + flank(100)
    assert entroseg.tantan_mask(seq).tolist() == peer(seq)
    assert same_bits(entroseg.tantan_probabilities(seq), peer_probabilities(seq))


_options = st.fixed_dictionaries(
    {
        "repeat_start": st.sampled_from([0.0, 0.001, 0.005, 0.02, 0.2, 0.99]),
        "repeat_end": st.sampled_from([0.0, 0.01, 0.05, 0.3, 1.0]),
        "decay": st.sampled_from([0.1, 0.5, 0.9, 0.99, 1.0]),
        "max_period": st.sampled_from([None, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 100, 250]),
        "threshold": st.sampled_from([0.0, 0.1, 0.5, 0.9, 1.0]),
    }
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seq=sequences, options=_options)
def test_any_options_match_pydustmasker(seq: str, options: dict[str, object]) -> None:
    assert entroseg.tantan_mask(seq, **options).tolist() == peer(seq, **options)


_gaps = st.sampled_from([(0, 5), (3, 2), (7, 7), (1, 1), (10, 3)])


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seq=sequences,
    gaps=_gaps,
    max_period=st.sampled_from([None, 2, 5, 16, 40]),
    repeat_end=st.sampled_from([0.01, 0.05, 0.2]),
)
def test_gapped_model_matches_pydustmasker(
    seq: str, gaps: tuple[int, int], max_period: int | None, repeat_end: float
) -> None:
    options = dict(
        gap_open=gaps[0], gap_extend=gaps[1], max_period=max_period, repeat_end=repeat_end
    )
    try:
        want = peer(seq, **options)
    except ValueError:  # gaps too cheap for this repeat_end: both refuse
        with pytest.raises(entroseg.InvalidParameterError, match="first_gap_probability"):
            entroseg.tantan_mask(seq, **options)  # type: ignore[arg-type]
        return
    assert entroseg.tantan_mask(seq, **options).tolist() == want  # type: ignore[arg-type]
    if seq:
        got = entroseg.tantan_probabilities(seq, **options)  # type: ignore[arg-type]
        assert same_bits(got, peer_probabilities(seq, **options))


_protein_unit = st.text(alphabet="ACDEFGHIKLMNPQRSTVWY", min_size=1, max_size=8)
proteins = st.lists(
    st.one_of(
        st.text(alphabet="ACDEFGHIKLMNPQRSTVWYXBZ*", min_size=1, max_size=60),
        st.builds(lambda u, n: (u * 40)[:n], _protein_unit, st.integers(2, 120)),
        st.text(alphabet="acdefghiklmnpqrstvwy", min_size=1, max_size=30),
    ),
    max_size=12,
).map("".join)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seq=proteins)
@example(seq="MKV" * 30)
def test_protein_matches_pydustmasker(seq: str) -> None:
    assert entroseg.tantan_mask(seq, protein=True).tolist() == peer(seq, protein=True)
    if seq:
        got = entroseg.tantan_probabilities(seq, protein=True)
        assert same_bits(got, peer_probabilities(seq, protein=True))


def test_codes_give_the_letters_result() -> None:
    seq = "GATTACA" + "ACGTT" * 12 + "NNNN" + "CA" * 30 + "TTGAC"
    codes = entroseg.encode_dna(seq)
    assert entroseg.tantan_mask(codes).tolist() == entroseg.tantan_mask(seq).tolist()
    assert entroseg.tantan_mask(seq.encode()).tolist() == peer(seq)
    assert entroseg.tantan_mask(bytearray(seq.encode())).tolist() == peer(seq)


def test_a_list_on_threads_equals_one_thread_and_each_alone() -> None:
    rng = np.random.default_rng(7)
    seqs = [
        "".join(rng.choice(list("ACGT"), 200)) + "AGC" * (5 + i) + "N" * i + "TTAGG" * 9
        for i in range(12)
    ]
    many = entroseg.tantan_mask(seqs, threads=4)
    one = entroseg.tantan_mask(seqs, threads=1)
    assert [m.tolist() for m in many] == [m.tolist() for m in one]
    assert [m.tolist() for m in many] == [peer(s) for s in seqs]
    assert [m.tolist() for m in entroseg.tantan_mask(tuple(seqs[:2]))] == [
        peer(s) for s in seqs[:2]
    ]
    assert entroseg.tantan_mask([]) == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"repeat_start": 1.0}, r"repeat_start must be in \[0, 1\), got 1"),
        ({"repeat_start": float("nan")}, r"repeat_start must be in \[0, 1\), got NaN"),
        ({"repeat_end": -0.1}, r"repeat_end must be in \[0, 1\], got -0.1"),
        ({"decay": 0.0}, r"decay must be a normal number in \(0, 1\], got 0"),
        ({"decay": 1.5}, r"decay must be a normal number in \(0, 1\], got 1.5"),
        ({"threshold": 2.0}, r"threshold must be in \[0, 1\], got 2"),
        ({"max_period": 0}, r"max_period must be in 1..=2147483647, got 0"),
        ({"max_period": -5}, r"max_period must be in 1..=2147483647, got -5"),
        ({"max_period": 2**31}, r"max_period must be in 1..=2147483647, got 2147483648"),
        ({"gap_open": -1, "gap_extend": 2}, r"gap_open must be in 0..=4294967295, got -1"),
        ({"gap_extend": 0}, r"gap_extend must be at least 1"),
        ({"gap_extend": 1}, r"repeat_end \+ 2 \* first_gap_probability must be at most 1"),
        ({"threads": 0}, r"threads"),
    ],
)
def test_bad_options_are_typed_errors(options: dict[str, object], message: str) -> None:
    with pytest.raises(entroseg.InvalidParameterError, match=message):
        entroseg.tantan_mask("ACGT", **options)  # type: ignore[arg-type]
    assert issubclass(entroseg.InvalidParameterError, ValueError)


def test_bad_letters_and_codes_are_typed_errors() -> None:
    with pytest.raises(entroseg.InvalidSequenceError, match=r"'X' \(0x58\) at position 4"):
        entroseg.tantan_mask("ACGTX")
    with pytest.raises(entroseg.InvalidSequenceError, match="sequence 1: "):
        entroseg.tantan_mask(["ACGT", "AC-GT"])
    with pytest.raises(entroseg.SymbolOutOfRangeError, match="code 5 at index 2"):
        entroseg.tantan_mask(np.array([0, 1, 5], dtype=np.uint8))
    with pytest.raises(entroseg.InvalidSequenceError, match="not an ASCII protein letter"):
        entroseg.tantan_mask("MKVé", protein=True)
    with pytest.raises(TypeError):
        entroseg.tantan_mask(3.5)  # type: ignore[call-overload]


@pytest.mark.parametrize("max_period", [300, 10**5, 10**6])
def test_max_period_beyond_the_sequence(max_period: int) -> None:
    # Periods longer than the sequence never emit: only as many states as letters are
    # kept, with the same result as the peer's full table.
    seq = "ACGGT" * 50 + "GATTACA" + "TTAGGC" * 20
    assert entroseg.tantan_mask(seq, max_period=max_period).tolist() == peer(
        seq, max_period=max_period
    )
    got = entroseg.tantan_probabilities(seq, max_period=max_period)
    assert same_bits(got, peer_probabilities(seq, max_period=max_period))


def test_largest_max_period_runs_in_memory_for_the_sequence() -> None:
    got = entroseg.tantan_mask("ACGGT" * 50, max_period=2**31 - 1)
    assert got.shape[1] == 2


def _fasta(records: list[tuple[str, str]]) -> bytes:
    return b"".join(f">{n}\n{s}\n".encode() for n, s in records)


def _records(seed: int) -> list[tuple[str, str]]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(6):
        body = "".join(rng.choice(list("ACGT"), 300 + 50 * i))
        out.append((f"r{i}", body + "TGA" * (4 + i) + "nnnn" + "ACGTTT" * 5 + body[:80]))
    return out


def test_mask_fastx_methods_match_the_peer_per_record() -> None:
    records = _records(11)
    want = [(n, peer(s)) for n, s in records]
    got = [(n, iv.tolist()) for n, iv in tantan_mask_fastx(io.BytesIO(_fasta(records)))]
    assert got == want
    via_method = mask_fastx(io.BytesIO(_fasta(records)), method="tantan", threads=1)
    assert [(n, iv.tolist()) for n, iv in via_method] == want
    opts = dict(max_period=7, threshold=0.2, decay=0.5)
    got = [(n, iv.tolist()) for n, iv in tantan_mask_fastx(io.BytesIO(_fasta(records)), **opts)]
    assert got == [(n, peer(s, **opts)) for n, s in records]
    # mask_fastx passes tantan's options through.
    via_options = mask_fastx(io.BytesIO(_fasta(records)), method="tantan", **opts)
    assert [(n, iv.tolist()) for n, iv in via_options] == [(n, peer(s, **opts)) for n, s in records]
    with pytest.raises(entroseg.InvalidParameterError, match="method must be one of"):
        list(mask_fastx(io.BytesIO(_fasta(records)), method="mdust"))  # type: ignore[arg-type]
    with pytest.raises(entroseg.InvalidParameterError, match=r"tantan has no window.*window=10"):
        list(mask_fastx(io.BytesIO(_fasta(records)), method="tantan", window=10))
    with pytest.raises(entroseg.InvalidParameterError, match="decay"):
        list(tantan_mask_fastx(io.BytesIO(_fasta(records)), decay=3.0))


def test_cli_writes_the_peer_intervals_as_bed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = _records(5)
    path = tmp_path / "in.fa"
    path.write_bytes(_fasta(records))
    assert main(["dna", "mask", "--method", "tantan", "-q", str(path)]) == 0
    want = "".join(f"{n}\t{a}\t{b}\n" for n, s in records for a, b in peer(s))
    assert capsys.readouterr().out == want
    args = ["--max-period", "12", "--threshold", "0.3", "--repeat-end", "0.1"]
    assert main(["dna", "mask", "--method", "tantan", "-q", *args, str(path)]) == 0
    opts = dict(max_period=12, threshold=0.3, repeat_end=0.1)
    want = "".join(f"{n}\t{a}\t{b}\n" for n, s in records for a, b in peer(s, **opts))
    assert capsys.readouterr().out == want
    assert main(["dna", "mask", "--method", "tantan", "--decay", "0", str(path)]) == 2
    assert "decay must be a normal number" in capsys.readouterr().err


def _cached_genome() -> Path | None:
    cache = Path(os.environ.get("ENTROSEG_DNA_CACHE", Path.home() / ".cache" / "entroseg" / "dna"))
    path = cache / "x/usr/share/doc/ragout/examples/E.Coli/references/MG1655-K12.fasta.gz"
    return path if path.exists() else None


def test_ecoli_genome_matches_pydustmasker() -> None:
    path = _cached_genome()
    if path is None:
        pytest.skip("E. coli genome not cached (python benches/bench_dna.py fetches it)")
    with gzip.open(path, "rt") as f:
        seq = "".join(line.strip() for line in f if not line.startswith(">"))
    got = entroseg.tantan_mask(seq)
    masker = pydustmasker.TantanMasker(seq)
    assert got.tolist() == [list(iv) for iv in masker.intervals]
    assert same_bits(entroseg.tantan_probabilities(seq), np.array(masker.probabilities, np.float32))


def _binary_bed(tmp_path: Path, records: list[tuple[str, str]], *flags: str) -> str:
    path = tmp_path / "binary.fa"
    path.write_bytes(_fasta(records))
    tantan = shutil.which("tantan")
    assert tantan is not None
    out = subprocess.run(
        [tantan, "-f3", *flags, str(path)], check=True, capture_output=True, text=True
    ).stdout
    return "".join("\t".join(line.split("\t")[:3]) + "\n" for line in out.splitlines())


@pytest.mark.skipif(shutil.which("tantan") is None, reason="Debian's tantan is not installed")
def test_debian_tantan_binary_gives_the_same_intervals(tmp_path: Path) -> None:
    # Upper- and lower-case ACGT, tandem repeats of many periods: identical BED.
    records = [
        *_records(3),
        ("micro", "GATTACA" + "CAG" * 30 + "TTGACCA" + "ACGTTGCA" * 12 + "GGATCC"),
        ("homopolymer", "ACGTGCA" + "A" * 80 + "TGCATGCAGT"),
        ("lower", ("GATTACA" + "cagcagcagcagcagcagcag" + "TTGAC") * 3),
    ]
    want = "".join(f"{n}\t{a}\t{b}\n" for n, s in records for a, b in entroseg.tantan_mask(s))
    assert _binary_bed(tmp_path, records) == want
    # Non-default options map onto the binary's flags.
    opts = dict(max_period=9, threshold=0.3, decay=0.8, repeat_start=0.01, repeat_end=0.1)
    flags = ["-w", "9", "-s", "0.3", "-d", "0.8", "-r", "0.01", "-e", "0.1"]
    want = "".join(
        f"{n}\t{a}\t{b}\n" for n, s in records for a, b in entroseg.tantan_mask(s, **opts)
    )
    assert _binary_bed(tmp_path, records, *flags) == want


@pytest.mark.skipif(shutil.which("tantan") is None, reason="Debian's tantan is not installed")
def test_debian_tantan_binary_at_ambiguous_letters(tmp_path: Path) -> None:
    # N runs and the IUPAC codes score as mismatches in both. The one difference: the
    # binary reads U (RNA's uracil) as a nucleotide that matches itself, so a run of U is
    # a homopolymer to it; pydustmasker, and so entroseg, read U as an ambiguous letter
    # (as every IUPAC code), which matches nothing.
    rng = np.random.default_rng(1)
    flank = lambda n: "".join(rng.choice(list("ACGT"), n))  # noqa: E731
    records = [
        (f"iupac{c}", flank(60) + "TGC" * 9 + c * 12 + "TGC" * 7 + flank(40) + c * 25 + flank(30))
        for c in "NnRYKMSWBDHV"
    ]
    want = "".join(f"{n}\t{a}\t{b}\n" for n, s in records for a, b in entroseg.tantan_mask(s))
    assert _binary_bed(tmp_path, records) == want
    uracil = flank(50) + "U" * 20 + flank(50)
    lines = _binary_bed(tmp_path, [("u", uracil)]).splitlines()
    binary = [(int(a), int(b)) for _, a, b in (line.split("\t") for line in lines)]
    assert any(a <= 55 and b >= 65 for a, b in binary)
    ours = entroseg.tantan_mask(uracil)
    assert ours.tolist() == peer(uracil)
    assert not any(a <= 55 and b >= 65 for a, b in ours.tolist())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--method", "tantan", "--kmer", "5"], "--kmer is not an option of --method tantan"),
        (["--method", "tantan", "--window", "64"], "--window and --level are SDUST's"),
        (
            ["--method", "longdust", "--decay", "0.5"],
            "--decay is not an option of --method longdust",
        ),
        (["--threshold", "0.5"], "--threshold is not an option of --method sdust"),
        (["--max-period", "3"], "--max-period is not an option of --method sdust"),
    ],
)
def test_cli_refuses_another_maskers_flags(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    path = tmp_path / "in.fa"
    path.write_bytes(_fasta(_records(2)))
    assert main(["dna", "mask", "-q", *args, str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1
