"""longdust: interval for interval against pydustmasker's LongdustMasker (the peer),
on generated sequences that reach every branch, on random mixtures (hypothesis) and on
the E. coli genome when it is cached; threads, the batch and FASTA paths, and errors."""

from __future__ import annotations

import gzip
import io
import os
import random
from pathlib import Path
from typing import Any

import entroseg
import numpy as np
import pytest
from entroseg.genomic import mask_fastx, mask_fastx_arrow
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

try:
    import pydustmasker

    HAVE_PEER = hasattr(pydustmasker, "LongdustMasker")
except ImportError:  # pragma: no cover - the peer is in the test extra
    HAVE_PEER = False

needs_peer = pytest.mark.skipif(not HAVE_PEER, reason="pydustmasker >= 3.3 not installed")

# Our option names -> the peer's.
PEER_NAMES = {
    "window": "window_size",
    "threshold": "score_threshold",
    "kmer": "kmer",
    "gc": "gc",
    "xdrop": "xdrop",
    "min_start_count": "min_start_cnt",
    "approx": "approx",
    "forward_only": "forward_only",
}


def peer(seq: str, **options: Any) -> list[list[int]]:
    """The peer's intervals; a sequence shorter than kmer + 1 (which the peer rejects)
    has none."""
    kmer = options.get("kmer", 7)
    if len(seq) < kmer + 1:
        return []
    m = pydustmasker.LongdustMasker(seq, **{PEER_NAMES[k]: v for k, v in options.items()})
    return [list(iv) for iv in m.intervals]


def ours(seq: str, **options: Any) -> list[list[int]]:
    got = entroseg.longdust_mask(seq, threads=1, **options)
    assert got.dtype == np.int64 and got.ndim == 2 and got.shape[1] == 2
    return got.tolist()


def rand(rng: random.Random, n: int, alphabet: str = "ACGT") -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def tandem(rng: random.Random, unit: int, copies: int, mutate: float = 0.0) -> str:
    motif = rand(rng, unit)
    out = list(motif * copies)
    for i in range(len(out)):
        if rng.random() < mutate:
            out[i] = rng.choice("ACGT")
    return "".join(out)


def generated() -> list[tuple[str, str]]:
    """(name, sequence) pairs covering the branches: tandem repeats of unit 1..60 exact
    and mutated, low-complexity stretches longer than the window, AT-rich runs, N runs
    (inside and between repeats, longer than the window), lower case, IUPAC codes and
    other ASCII letters, and sequences near kmer + 1 bases."""
    rng = random.Random(20251203)
    cases: list[tuple[str, str]] = []
    for unit in [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 15, 20, 24, 31, 40, 60]:
        for copies, mutate in [(6, 0.0), (30, 0.0), (25, 0.1), (60, 0.2)]:
            seq = rand(rng, 150) + tandem(rng, unit, copies, mutate) + rand(rng, 150)
            cases.append((f"tandem{unit}x{copies}m{mutate}", seq))
    cases.append(("at_rich", "".join(rng.choice("AAATTTCG") for _ in range(6000))))
    cases.append(("long_repeat", rand(rng, 300) + tandem(rng, 11, 800, 0.05) + rand(rng, 300)))
    cases.append(("two_repeats", tandem(rng, 3, 200, 0.05) + rand(rng, 400) + tandem(rng, 9, 80)))
    cases.append(("n_inside", rand(rng, 100) + "CA" * 60 + "N" * 7 + "CA" * 60 + rand(rng, 100)))
    cases.append(("n_long", "TG" * 300 + "N" * 6000 + "TG" * 300))
    cases.append(("n_edges", "NNNN" + "A" * 80 + rand(rng, 50) + "GAA" * 40 + "NNNNNN"))
    cases.append(("lower", rand(rng, 100).lower() + "ctctct" * 30 + rand(rng, 100)))
    cases.append(
        ("mixed_case", "".join(c.lower() if rng.random() < 0.5 else c for c in "AGG" * 90))
    )
    cases.append(("iupac", rand(rng, 80) + "ACRYSWKMBDHVUNX-." * 3 + "AT" * 50 + rand(rng, 80)))
    cases.append(
        ("iupac_in_repeat", "".join("R" if rng.random() < 0.05 else c for c in "GGA" * 200))
    )
    cases.append(("u_run", rand(rng, 100) + "AU" * 100 + rand(rng, 100)))
    cases.append(("all_n", "N" * 300))
    for n in [8, 9, 10, 12, 20]:
        cases.append((f"short{n}", "A" * n))
        cases.append((f"short_rand{n}", rand(rng, n)))
    cases.append(("random", rand(rng, 3000)))
    return cases


CASES = generated()
OPTION_SETS: list[dict[str, Any]] = [
    {},
    {"forward_only": True},
    {"approx": True},
    {"gc": "auto"},
    {"gc": 0.3},
    {"gc": 0.5},
    {"gc": 0.0},
    {"gc": 1.0},
    {"window": 100},
    {"window": 30, "kmer": 4},
    {"window": 9, "kmer": 8},
    {"kmer": 3, "threshold": 0.4},
    {"kmer": 1, "window": 50},
    {"kmer": 12, "window": 200},
    {"xdrop": None},
    {"xdrop": 1},
    {"xdrop": 5, "approx": True},
    {"min_start_count": 2},
    {"min_start_count": 10},
    {"threshold": 1.5},
    {"threshold": 0.05, "window": 300},
]


@needs_peer
@pytest.mark.parametrize(
    "options", OPTION_SETS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "defaults"
)
def test_generated_sequences_match_the_peer(options: dict[str, Any]) -> None:
    for name, seq in CASES:
        assert ours(seq, **options) == peer(seq, **options), name


@needs_peer
def test_generated_cases_reach_masking() -> None:
    # The cases are not all trivially empty: most repeats are masked, random is not.
    masked = [name for name, seq in CASES if ours(seq)]
    assert len(masked) > len(CASES) // 2
    assert "random" not in masked


pieces = st.one_of(
    st.text(alphabet="ACGT", min_size=1, max_size=200),
    st.builds(
        lambda unit, copies: unit * copies,
        st.text(alphabet="ACGTacgt", min_size=1, max_size=12),
        st.integers(1, 80),
    ),
    st.text(alphabet="NRYacgtn", min_size=1, max_size=20),
)


@needs_peer
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    parts=st.lists(pieces, min_size=1, max_size=12),
    kmer=st.sampled_from([2, 3, 5, 7]),
    window=st.integers(10, 400),
    approx=st.booleans(),
    forward_only=st.booleans(),
    gc=st.sampled_from([None, "auto", 0.35]),
)
def test_random_mixtures_match_the_peer(
    parts: list[str], kmer: int, window: int, approx: bool, forward_only: bool, gc: Any
) -> None:
    seq = "".join(parts)
    options = {
        "kmer": kmer,
        "window": max(window, kmer + 1),
        "approx": approx,
        "forward_only": forward_only,
        "gc": gc,
    }
    assert ours(seq, **options) == peer(seq, **options)


def _ecoli() -> Path | None:
    cache = Path(os.environ.get("ENTROSEG_DNA_CACHE", Path.home() / ".cache" / "entroseg" / "dna"))
    path = cache / "x/usr/share/doc/ragout/examples/E.Coli/references/MG1655-K12.fasta.gz"
    return path if path.exists() else None


@needs_peer
@pytest.mark.skipif(_ecoli() is None, reason="E. coli genome not cached (run benches/bench_dna.py)")
def test_ecoli_matches_the_peer() -> None:
    path = _ecoli()
    assert path is not None
    with gzip.open(path, "rt") as fh:
        seq = "".join(line.strip() for line in fh if not line.startswith(">"))
    want = peer(seq)
    assert len(want) > 5
    assert ours(seq) == want
    assert entroseg.longdust_mask(seq, threads=2).tolist() == want


def test_threads_give_the_one_thread_result() -> None:
    rng = random.Random(7)
    seq = "".join(
        rand(rng, 2000) + tandem(rng, rng.randint(1, 30), rng.randint(10, 80), 0.05)
        for _ in range(40)
    )
    assert len(seq) >= 1 << 16  # the two strands run at once
    one = entroseg.longdust_mask(seq, threads=1)
    for threads in [2, 3, None]:
        np.testing.assert_array_equal(entroseg.longdust_mask(seq, threads=threads), one)
    assert len(one) > 10


def test_inputs_bytes_str_and_codes_agree() -> None:
    rng = random.Random(3)
    seq = rand(rng, 300) + "CAG" * 50 + "NN" + "ca" * 40 + rand(rng, 200)
    want = entroseg.longdust_mask(seq)
    np.testing.assert_array_equal(entroseg.longdust_mask(seq.encode()), want)
    np.testing.assert_array_equal(entroseg.longdust_mask(bytearray(seq.encode())), want)
    codes = entroseg.encode_dna(seq)
    np.testing.assert_array_equal(entroseg.longdust_mask(codes), want)
    assert entroseg.longdust_mask("").shape == (0, 2)
    assert entroseg.longdust_mask("ACG").shape == (0, 2)  # shorter than kmer + 1


def test_every_ascii_letter_is_ambiguous() -> None:
    # The peer treats any ASCII byte other than A/C/G/T (either case) as ambiguous:
    # U and X and '-' behave exactly as N.
    base = "CA" * 30 + "@" * 5 + "CA" * 30
    want = entroseg.longdust_mask(base.replace("@", "N")).tolist()
    assert want
    for c in "UX-.*RYnu":
        assert entroseg.longdust_mask(base.replace("@", c)).tolist() == want, c


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"kmer": 0}, "kmer must be in 1..=12, got 0"),
        ({"kmer": 13}, "kmer must be in 1..=12, got 13"),
        ({"window": 7}, "window must be in 8..=65535 (at least kmer + 1), got 7"),
        ({"window": 65536}, "window must be in 8..=65535 (at least kmer + 1), got 65536"),
        ({"window": -1}, "got -1"),
        ({"window": 4, "kmer": 4}, "window must be in 5..=65535"),
        ({"threshold": 0.0}, "threshold must be finite and greater than 0, got 0"),
        ({"threshold": -1.0}, "got -1"),
        ({"threshold": float("nan")}, "got NaN"),
        ({"threshold": float("inf")}, "got inf"),
        ({"min_start_count": 1}, "min_start_count must be in 2..=65535, got 1"),
        ({"min_start_count": 65536}, "got 65536"),
        ({"xdrop": 0}, "xdrop must be in 1..="),
        ({"xdrop": -5}, "got -5"),
        ({"gc": 1.5}, "gc must be in [0, 1], 'auto' or None, got 1.5"),
        ({"gc": -0.1}, "got -0.1"),
        ({"gc": float("nan")}, "got NaN"),
        ({"gc": "high"}, "gc must be None, 'auto' or a float in [0, 1], got 'high'"),
        ({"threads": 0}, "threads"),
    ],
)
def test_bad_options_raise_typed_errors(options: dict[str, Any], message: str) -> None:
    with pytest.raises(entroseg.InvalidParameterError) as info:
        entroseg.longdust_mask("ACGT" * 10, **options)
    assert isinstance(info.value, ValueError)
    assert message in str(info.value)


def test_bad_types_and_bytes() -> None:
    with pytest.raises(TypeError, match="gc must be"):
        entroseg.longdust_mask("ACGT" * 10, gc=[0.5])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="gc must be"):
        entroseg.longdust_mask("ACGT" * 10, gc=True)
    with pytest.raises(entroseg.InvalidSequenceError, match="position 4 is not an ASCII"):
        entroseg.longdust_mask(b"ACGT\xc3\xa9ACGT")
    with pytest.raises(entroseg.SymbolOutOfRangeError, match="base code 9 at index 1"):
        entroseg.longdust_mask(np.array([0, 9, 1], dtype=np.uint8))


FASTA = b"".join(
    b">r%d desc\n%s\n" % (i, s.encode())
    for i, s in enumerate(
        [
            "GATTACA" * 3 + "AATCG" * 60 + "GGATCC",
            "A" * 10 + "NNN" + "A" * 30,
            "ACGT",
            "TTAGGG" * 200 + "ACGTTGCAAC" * 3 + "ca" * 100,
        ]
    )
)


def test_mask_fastx_longdust_equals_per_record() -> None:
    got = list(mask_fastx(io.BytesIO(FASTA), method="longdust", kmer=5, threads=2))
    seqs = [line for line in FASTA.split(b"\n") if line and not line.startswith(b">")]
    assert [name for name, _ in got] == ["r0", "r1", "r2", "r3"]
    for (_, iv), seq in zip(got, seqs, strict=True):
        np.testing.assert_array_equal(iv, entroseg.longdust_mask(seq, kmer=5))
    windowed = dict(mask_fastx(io.BytesIO(FASTA), method="longdust", window=50))
    np.testing.assert_array_equal(windowed["r3"], entroseg.longdust_mask(seqs[3], window=50))
    # SDUST stays the default.
    sdust = dict(mask_fastx(io.BytesIO(FASTA)))
    np.testing.assert_array_equal(sdust["r1"], entroseg.dust_mask(seqs[1]))


def test_mask_fastx_checks_the_method_and_its_options_first() -> None:
    with pytest.raises(
        entroseg.InvalidParameterError, match="method must be one of 'sdust', 'longdust'"
    ):
        next(mask_fastx(io.BytesIO(FASTA), method="bogus"))  # type: ignore[arg-type]
    with pytest.raises(entroseg.InvalidParameterError, match=r"kmer must be in 1\.\.=12, got 40"):
        next(mask_fastx(io.BytesIO(b"not fasta"), method="longdust", kmer=40))
    with pytest.raises(TypeError):
        next(mask_fastx(io.BytesIO(FASTA), method="longdust", level=20))


def test_mask_fastx_arrow_longdust() -> None:
    pytest.importorskip("pyarrow")
    table = mask_fastx_arrow(io.BytesIO(FASTA), method="longdust")
    want = [
        (name, s, e)
        for name, iv in mask_fastx(io.BytesIO(FASTA), method="longdust")
        for s, e in iv.tolist()
    ]
    assert [(r["chrom"], r["start"], r["end"]) for r in table.to_pylist()] == want


def test_cli_mask_longdust(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from entroseg.cli import main

    fa = tmp_path / "in.fa"
    fa.write_bytes(FASTA)
    assert main(["dna", "mask", str(fa), "--method", "longdust", "-q"]) == 0
    lines = capsys.readouterr().out.splitlines()
    want = [
        f"{name}\t{s}\t{e}"
        for name, iv in mask_fastx(io.BytesIO(FASTA), method="longdust")
        for s, e in iv.tolist()
    ]
    assert lines == want
    assert (
        main(
            [
                "dna",
                "mask",
                str(fa),
                "--method",
                "longdust",
                "--kmer",
                "5",
                "--window",
                "60",
                "--gc",
                "auto",
                "--xdrop",
                "none",
                "--forward-only",
                "-q",
            ]
        )
        == 0
    )
    lines = capsys.readouterr().out.splitlines()
    want = [
        f"{name}\t{s}\t{e}"
        for name, iv in mask_fastx(
            io.BytesIO(FASTA),
            method="longdust",
            kmer=5,
            window=60,
            gc="auto",
            xdrop=None,
            forward_only=True,
        )
        for s, e in iv.tolist()
    ]
    assert lines == want


def test_cli_mask_longdust_bad_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from entroseg.cli import main

    fa = tmp_path / "in.fa"
    fa.write_bytes(FASTA)
    assert main(["dna", "mask", str(fa), "--method", "longdust", "--kmer", "13", "-q"]) != 0
    assert "kmer must be in 1..=12, got 13" in capsys.readouterr().err
    assert main(["dna", "mask", str(fa), "--method", "longdust", "--level", "20", "-q"]) != 0
    assert "--level is an SDUST option" in capsys.readouterr().err
    assert main(["dna", "mask", str(fa), "--method", "longdust", "--gc", "x", "-q"]) != 0
    assert "--gc must be" in capsys.readouterr().err
