"""FASTA/FASTQ reading, DNA encoding and DNA entropy profiles, against slow references."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import math
import re
from collections import Counter
from pathlib import Path

import entroseg
import numpy as np
import pytest
from entroseg.genomic import (
    mask_fastx,
    mask_fastx_arrow,
    profile_fastx,
    read_fastx,
    read_fastx_arrow,
    sample_fasta,
)
from hypothesis import given, settings
from hypothesis import strategies as st

#: These tests check other things on short series; the target-miss warning itself is
#: tested in test_calibration.py and test_surfaces_agree.py.
pytestmark = pytest.mark.filterwarnings("ignore:target_len=.* missed:UserWarning")

# --- slow, obviously-correct references -------------------------------------------------

CODE = {**{b: i for i, b in enumerate("ACGT")}, **{b.lower(): i for i, b in enumerate("ACGT")}}


def ref_codes(seq: str) -> list[int]:
    return [CODE.get(c, 4) for c in seq]


def ref_runs(seq: str, pattern: str) -> list[list[int]]:
    return [[m.start(), m.end()] for m in re.finditer(pattern, seq)]


def ref_parse_fasta(text: str) -> list[tuple[str, str, str]]:
    """(name, description, sequence) per record of a FASTA text."""
    out = []
    for block in text.split(">")[1:]:
        header, _, body = block.partition("\n")
        name, _, desc = header.strip().partition(" ")
        out.append((name, desc.strip(), "".join(body.split())))
    return out


def ref_kmer_entropy(seq: str, k: int) -> float:
    """Normalized Shannon entropy of the k-mers of an ACGT-only string."""
    counts = Counter(seq[i : i + k] for i in range(len(seq) - k + 1))
    n = sum(counts.values())
    h = -sum(c / n * math.log(c / n) for c in counts.values())
    return h / (k * math.log(4))


def ref_conditional(seq: str, k: int) -> float:
    """Normalized plug-in H(X | k previous bases) of an ACGT-only string."""
    joint = Counter(seq[i : i + k + 1] for i in range(len(seq) - k))
    ctx = Counter(g[:k] for g in joint.elements())
    n = sum(joint.values())
    return -sum(c / n * math.log(c / ctx[g[:k]]) for g, c in joint.items()) / math.log(4)


def write_fasta(records: list[tuple[str, str, str]], width: int) -> bytes:
    out = []
    for name, desc, seq in records:
        out.append(f">{name}{' ' + desc if desc else ''}\n")
        out.extend(seq[i : i + width] + "\n" for i in range(0, len(seq), width))
    return "".join(out).encode()


# --- reader -----------------------------------------------------------------------------

record_st = st.tuples(
    st.from_regex(r"[A-Za-z0-9_.|]{1,12}", fullmatch=True),
    st.from_regex(r"([a-z0-9=]{1,6}( [a-z0-9=]{1,6}){0,3})?", fullmatch=True),
    st.text(alphabet="ACGTNacgtnRYKMSWBDHV", min_size=1, max_size=300),
)


@settings(max_examples=80, deadline=None)
@given(
    recs=st.lists(record_st, min_size=1, max_size=8),
    width=st.integers(1, 100),
    compression=st.sampled_from(["none", "gzip", "bzip2", "xz"]),
)
def test_records_match_a_reference_parser(
    recs: list[tuple[str, str, str]], width: int, compression: str
) -> None:
    data = write_fasta(recs, width)
    packed = {
        "none": lambda b: b,
        "gzip": gzip.compress,
        "bzip2": bz2.compress,
        "xz": lambda b: lzma.compress(b, format=lzma.FORMAT_XZ),
    }[compression](data)
    reader = entroseg.FastxReader(io.BytesIO(packed), codes=True)
    got = [entroseg.FastxRecord(*raw) for raw in reader]
    assert reader.compression == compression and reader.format == "fasta"
    assert reader.bytes_read == len(packed)
    want = ref_parse_fasta(data.decode())
    assert [(r.name, r.description, r.sequence) for r in got] == [
        (n, d, s.encode()) for n, d, s in want
    ]
    for r, (_, _, seq) in zip(got, want, strict=True):
        assert r.codes is not None and r.codes.tolist() == ref_codes(seq)
        assert r.ambiguous.tolist() == ref_runs(seq, "[^ACGTacgt]+")
        assert r.soft_masked.tolist() == ref_runs(seq, "[a-z]+")
        assert r.quality is None


def test_fastq_records_and_qualities(tmp_path: Path) -> None:
    path = tmp_path / "reads.fq.gz"
    path.write_bytes(gzip.compress(b"@r1 lane=1\nACGTN\n+\nIIII#\n@r2\nGG\n+r2\n!!\n"))
    recs = list(read_fastx(path))
    assert [(r.name, r.description, r.sequence, r.quality, r.line) for r in recs] == [
        ("r1", "lane=1", b"ACGTN", b"IIII#", 1),
        ("r2", "", b"GG", b"!!", 5),
    ]
    assert [len(r) for r in read_fastx(str(path), sequence=False, codes=True)] == [5, 2]


def test_stdin_and_text_streams(monkeypatch: pytest.MonkeyPatch) -> None:
    data = b">a\nACGT\n>b\nGGNN\n"
    fake_stdin = io.TextIOWrapper(io.BytesIO(data))
    monkeypatch.setattr("sys.stdin", fake_stdin)
    assert [r.name for r in read_fastx("-")] == ["a", "b"]
    # A text stream with a binary buffer is read through it.
    assert [r.sequence for r in read_fastx(io.TextIOWrapper(io.BytesIO(data)))] == [
        b"ACGT",
        b"GGNN",
    ]
    with pytest.raises(TypeError, match="without a binary buffer"):
        read_fastx(io.StringIO(">a\nACGT\n"))
    with pytest.raises(TypeError, match="path or a binary file object"):
        entroseg.FastxReader(42)  # type: ignore[arg-type]


def _error(data: bytes, **kwargs: str) -> pytest.ExceptionInfo[BaseException]:
    with pytest.raises(Exception) as info:
        list(read_fastx(io.BytesIO(data), **kwargs))  # type: ignore[arg-type]
    return info


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        (
            b">a\nACGT\n>chr2 x\nACGTACGT\nAC*T\n",
            entroseg.InvalidSequenceError,
            r"record 'chr2' \(record 2, line 3\): '\*' \(0x2A\) at position 10",
        ),
        (
            b"@r1\nACGT\n+\nIII\n",
            entroseg.FastxFormatError,
            r"record 1 'r1' at line 1: Sequence length is 4 but quality length is 3",
        ),
        (
            b">a\nACGT\n>b\n",
            entroseg.FastxFormatError,
            r"ends in the middle of record 2 at line 3 \(after record 1, 'a'\)",
        ),
        (
            b">a\n\n>b\nACGT\n",
            entroseg.EmptyInputError,
            r"record 'a' \(record 1, line 1\) has no bases; pass empty='skip'",
        ),
        (b"", entroseg.EmptyInputError, "is empty: no FASTA or FASTQ record"),
        (b"name,value\n1,2\n", entroseg.FastxFormatError, "is not FASTA or FASTQ"),
        (
            gzip.compress(
                b">r\n"
                + np.random.default_rng(1).choice(list(b"ACGT"), 9000).astype(np.uint8).tobytes()
                + b"\n"
            )[:1000],
            entroseg.FastxFormatError,
            r"the gzip stream is truncated or corrupt .* while reading record 1",
        ),
        (
            b">a\nACGT\n>b\nAC\xc3\xa9T\n",
            entroseg.InvalidSequenceError,
            r"record 'b'.*byte 0xC3 at position 2",
        ),
    ],
)
def test_bad_input_raises_typed_errors_naming_record_and_position(
    data: bytes, error: type[Exception], message: str
) -> None:
    info = _error(data)
    assert info.type is error
    assert re.search(message, str(info.value)), str(info.value)
    assert issubclass(error, ValueError)


def test_empty_record_policies_and_missing_file(tmp_path: Path) -> None:
    data = b">a\n\n>b\nACGT\n>c\n\n>d\nA\n"
    assert [r.name for r in read_fastx(io.BytesIO(data), empty="skip")] == ["b", "d"]
    assert [len(r) for r in read_fastx(io.BytesIO(data), empty="keep")] == [0, 4, 0, 1]
    with pytest.raises(entroseg.InvalidParameterError, match="'raise', 'skip' or 'keep'"):
        read_fastx(io.BytesIO(data), empty="drop")  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError, match=r"nope\.fa"):
        read_fastx(tmp_path / "nope.fa")


def test_truncated_gzip_file_after_some_records(tmp_path: Path) -> None:
    body = b"".join(b">r%d\n" % i + b"ACGTTGCAAG" * 200 + b"\n" for i in range(300))
    packed = gzip.compress(body)
    path = tmp_path / "cut.fa.gz"
    path.write_bytes(packed[: len(packed) * 2 // 3])
    seen = []
    with pytest.raises(entroseg.FastxFormatError, match=r"truncated or corrupt.*after record"):
        for rec in read_fastx(path):
            seen.append(rec.name)
    assert 0 < len(seen) < 300
    assert seen == [f"r{i}" for i in range(len(seen))]


def test_arrow_batches() -> None:
    pytest.importorskip("pyarrow")
    data = b">a one\nACGTnn\n>b\nGGRY\n>c\nT\n"
    reader = read_fastx_arrow(io.BytesIO(data), batch_size=2)
    batches = list(reader)
    assert [b.num_rows for b in batches] == [2, 1]
    table = read_fastx_arrow(io.BytesIO(data)).read_all()
    assert table.column("name").to_pylist() == ["a", "b", "c"]
    assert table.column("description").to_pylist() == ["one", "", ""]
    assert table.column("sequence").to_pylist() == ["ACGTnn", "GGRY", "T"]
    assert table.column("length").to_pylist() == [6, 4, 1]
    assert table.column("ambiguous").to_pylist()[1] == [{"start": 2, "end": 4}]
    assert table.column("soft_masked").to_pylist()[0] == [{"start": 4, "end": 6}]
    assert table.column("quality").to_pylist() == [None, None, None]
    masks = mask_fastx_arrow(io.BytesIO(sample_fasta()))
    want = [(n, s, e) for n, iv in mask_fastx(io.BytesIO(sample_fasta())) for s, e in iv.tolist()]
    columns = (masks.column(c).to_pylist() for c in ("chrom", "start", "end"))
    assert list(zip(*columns, strict=True)) == want


# --- encoding and profiles ---------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(seq=st.text(alphabet="ACGTNacgtnRYKMSWBDHVU", max_size=200))
def test_encoding_matches_reference(seq: str) -> None:
    assert entroseg.encode_dna(seq).tolist() == ref_codes(seq)


def _length(method: str, n: int) -> dict[str, int]:
    """The length option of a DNA profile method: the k-mer length or the context."""
    return {"k": n} if method == "kmer" else {"context": n}


dna = st.text(alphabet="AACGTTacgN", min_size=0, max_size=160)


@settings(max_examples=60, deadline=None)
@given(
    seq=dna,
    kind=st.sampled_from(["kmer", "conditional"]),
    k=st.integers(0, 4),
    window=st.integers(1, 40),
)
def test_rolling_profiles_match_the_reference_window_by_window(
    seq: str, kind: str, k: int, window: int
) -> None:
    if kind == "kmer":
        k = max(k, 1)
    window = max(window, k + 1)
    got = entroseg.dna_profile(seq, method=kind, **_length(kind, k), window=window)  # type: ignore[call-overload]
    assert got.shape == (len(seq),) and got.dtype == np.float64
    upper = seq.upper()
    for t in range(len(seq)):
        win = upper[t - window + 1 : t + 1] if t + 1 >= window else None
        if win is None or "N" in win:
            assert math.isnan(got[t]), (t, win)
        else:
            want = ref_kmer_entropy(win, k) if kind == "kmer" else ref_conditional(win, k)
            assert got[t] == pytest.approx(want, abs=1e-12), (t, win)


@settings(max_examples=60, deadline=None)
@given(seq=st.text(alphabet="ACGTacgt", min_size=8, max_size=300), k=st.integers(1, 5))
def test_whole_sequence_value_equals_rolling_value_of_a_covering_window(seq: str, k: int) -> None:
    for kind in ("kmer", "conditional"):
        whole = entroseg.dna_profile(seq, method=kind, **_length(kind, k))  # type: ignore[call-overload]
        rolling = entroseg.dna_profile(seq, method=kind, **_length(kind, k), window=len(seq))  # type: ignore[call-overload]
        assert whole == rolling[-1]  # bit for bit
        codes = entroseg.encode_dna(seq)
        assert entroseg.dna_profile(codes, method=kind, **_length(kind, k)) == whole  # type: ignore[call-overload]
        assert entroseg.dna_profile(seq.encode(), method=kind, **_length(kind, k)) == whole  # type: ignore[call-overload]


def test_profile_units_and_nan_conventions() -> None:
    # A periodic sequence is fully predictable from the previous base; k=0 gives the base
    # composition entropy: ln 4 nats, 1 normalized.
    assert entroseg.dna_profile("ACGT" * 50, method="conditional", context=1) == 0.0
    assert entroseg.dna_profile("ACGT" * 50, method="conditional", context=0) == pytest.approx(1.0)
    nats = entroseg.dna_profile("ACGT" * 50, method="conditional", context=0, normalize=False)
    assert nats == pytest.approx(math.log(4))
    assert math.isnan(entroseg.dna_profile("ACGTNACGT", method="kmer", k=2))
    p = entroseg.dna_profile("ACGTACGTNACGTACGT", method="kmer", k=2, window=4)
    assert np.isnan(p[:3]).all() and np.isnan(p[8:12]).all() and np.isfinite(p[12:]).all()


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"kind": "kmer", "k": 0}, entroseg.InvalidParameterError, r"must be in 1\.\.=15.*got 0"),
        ({"kind": "kmer", "k": 16}, entroseg.InvalidParameterError, "got 16"),
        ({"kind": "conditional", "k": 32}, entroseg.InvalidParameterError, r"0\.\.=31.*got 32"),
        ({"k": -1}, entroseg.InvalidParameterError, "k must be >= 0, got -1"),
        ({"k": 3, "window": 3}, entroseg.InvalidParameterError, r"window must be in 4\.\.="),
        (
            {"kind": "entropy"},
            entroseg.InvalidParameterError,
            "kind must be 'kmer', 'conditional', 'next_entropy' or 'next_surprisal', "
            'got "entropy"',
        ),
    ],
)
def test_profile_option_errors(kwargs: dict[str, object], error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        entroseg.dna_profile("ACGTACGT", **kwargs)  # type: ignore[call-overload]


def test_profile_data_errors() -> None:
    with pytest.raises(entroseg.InvalidSequenceError, match="'X' \\(0x58\\) at position 2"):
        entroseg.dna_profile("ACXT", context=1, window=2)
    with pytest.raises(entroseg.EmptyInputError, match="needs at least 4 bases, got 2"):
        entroseg.dna_profile("AC", context=3)
    with pytest.raises(entroseg.SymbolOutOfRangeError, match="code 9 at index 1"):
        entroseg.dna_profile(np.array([0, 9], dtype=np.uint8), context=0, window=1)
    with pytest.raises(TypeError, match="letters"):
        entroseg.encode_dna(np.array([0, 1], dtype=np.uint8))  # type: ignore[arg-type]


def test_profile_and_mask_per_record() -> None:
    fa = sample_fasta(records=3, length=1500)
    recs = list(read_fastx(io.BytesIO(fa)))
    profiles = list(profile_fastx(io.BytesIO(fa), method="kmer", k=2, window=100))
    assert [n for n, _ in profiles] == [r.name for r in recs]
    for (_, p), r in zip(profiles, recs, strict=True):
        assert r.sequence is not None
        want = entroseg.dna_profile(r.sequence, method="kmer", k=2, window=100)
        assert np.array_equal(p, want, equal_nan=True)
    masks = dict(mask_fastx(io.BytesIO(fa)))
    for r in recs:
        assert r.sequence is not None
        # The sample's CA microsatellite and homopolymer are masked, its N run is not.
        iv = masks[r.name]
        masked = np.zeros(len(r), dtype=bool)
        for s, e in iv:
            masked[s:e] = True
        seq = r.sequence.decode()
        ca = seq.find("CA" * 20)
        assert ca >= 0 and masked[ca : ca + 40].all()
        for s, e in r.ambiguous:
            assert not masked[s:e].any()
