"""Batches of short reads: ``iter_fastx_batches`` and the per-batch masks, profiles and
tokens, against the record-at-a-time paths (the slow, obviously-correct references) and
pydustmasker; batch and thread invariance; typed errors."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import entroseg
import numpy as np
import pydustmasker
import pytest
from entroseg import EmptyInputError, FastxFormatError, InvalidParameterError, InvalidSequenceError
from entroseg.cli import main
from entroseg.genomic import (
    FastxRecord,
    dna_tokens,
    iter_fastx_batches,
    iter_records,
    mask_fastx,
    open_fastx,
    profile_fastx,
    read_fastx,
    tokenize_fastx,
)
from hypothesis import example, given, settings
from hypothesis import strategies as st


def make_reads(n: int, seed: int = 5, length: int = 150) -> bytes:
    """FASTQ reads of a generated genome with repeats (so some reads are masked), some
    with N runs and soft-masked stretches, lengths varying."""
    rng = np.random.default_rng(seed)
    genome = bytearray(np.frombuffer(b"ACGT", np.uint8)[rng.integers(0, 4, 20_000)].tobytes())
    for at in rng.integers(0, 19_000, 12).tolist():
        motif = [b"CA", b"T", b"GATA", b"AAC"][at % 4]
        genome[at : at + 90] = (motif * 90)[:90]
    out = []
    for i in range(n):
        size = int(rng.integers(1, length + 1)) if i % 7 == 0 else length
        at = int(rng.integers(0, len(genome) - size))
        seq = bytearray(genome[at : at + size])
        if i % 11 == 0 and size > 20:
            seq[5:9] = b"NNNN"
        if i % 13 == 0 and size > 40:
            seq[20:40] = seq[20:40].lower()
        qual = bytes(rng.integers(33, 74, size).astype(np.uint8))
        out.append(b"@read%d some text\n%s\n+\n%s\n" % (i, bytes(seq), qual))
    return b"".join(out)


READS = make_reads(300)


def one_at_a_time(data: bytes) -> list[FastxRecord]:
    """The record-at-a-time reader (the native ``__next__`` path)."""
    return list(iter_records(open_fastx(io.BytesIO(data), codes=True)))


def assert_same_records(got: list[FastxRecord], want: list[FastxRecord]) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert (g.name, g.description, g.sequence, g.quality, g.index, g.line) == (
            w.name, w.description, w.sequence, w.quality, w.index, w.line,
        )  # fmt: skip
        assert np.array_equal(g.ambiguous, w.ambiguous)
        assert np.array_equal(g.soft_masked, w.soft_masked)
        assert g.codes is not None and w.codes is not None
        assert np.array_equal(g.codes, w.codes)


@settings(max_examples=30, deadline=None)
@given(batch_bases=st.integers(1, 5000), batch_records=st.integers(1, 400))
@example(batch_bases=1, batch_records=1)
@example(batch_bases=10**9, batch_records=10**6)
def test_batches_hold_exactly_the_records(batch_bases: int, batch_records: int) -> None:
    batches = list(
        iter_fastx_batches(io.BytesIO(READS), batch_bases=batch_bases, batch_records=batch_records)
    )
    assert all(1 <= len(b) <= batch_records for b in batches)
    assert all(b.bases - b.lengths[-1] < batch_bases for b in batches)
    got = [r for b in batches for r in b.records(codes=True)]
    assert_same_records(got, one_at_a_time(READS))


def test_read_fastx_is_built_on_batches_and_gives_the_same_records() -> None:
    assert_same_records(list(read_fastx(io.BytesIO(READS), codes=True)), one_at_a_time(READS))
    fasta = b">a desc\nACGTNN\nacgt\n>b\nRYAC\n"
    assert_same_records(list(read_fastx(io.BytesIO(fasta), codes=True)), one_at_a_time(fasta))


def test_batch_buffers_and_accessors() -> None:
    batch = next(iter_fastx_batches(io.BytesIO(READS), batch_records=10))
    assert len(batch) == 10 and batch.sequence_offsets[0] == 0
    assert batch.sequence_offsets[-1] == batch.bases == len(batch.sequences)
    assert batch.qualities is not None and len(batch.qualities) == batch.bases
    assert batch.names()[:2] == ["read0", "read1"]
    assert batch.descriptions()[0] == "some text"
    assert batch.indices.tolist() == list(range(10))
    assert batch.lines.tolist() == list(range(1, 41, 4))
    fasta = next(iter_fastx_batches(io.BytesIO(b">x\nACGT\n")))
    assert fasta.qualities is None


def split(values: np.ndarray, offsets: np.ndarray) -> list[np.ndarray]:
    return [values[a:b] for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist(), strict=True)]


def test_masks_equal_dust_mask_per_read_and_pydustmasker() -> None:
    records = one_at_a_time(READS)
    masked = 0
    for batch in iter_fastx_batches(io.BytesIO(READS), batch_bases=4000):
        iv, off = batch.dust_mask()
        for rec, got in zip(batch.records(), split(iv, off), strict=True):
            assert rec.sequence is not None
            assert np.array_equal(got, entroseg.dust_mask(rec.sequence))
            masked += len(got)
    assert masked > 10  # the repeats were found
    for rec, (name, got) in zip(records, mask_fastx(io.BytesIO(READS), threads=1), strict=True):
        assert rec.sequence is not None and name == rec.name
        if len(rec.sequence) >= 4 and not rec.ambiguous.size:
            # pydustmasker rejects sequences under 4 bases and reads N as a base.
            peer = pydustmasker.DustMasker(rec.sequence.decode().upper()).intervals
            assert got.tolist() == [list(p) for p in peer]


@pytest.mark.parametrize(
    "options",
    [
        {"method": "next_surprisal", "context": 4},
        {"method": "next_entropy", "context": 2},
        {"method": "kmer", "k": 3, "window": 20},
        {"method": "conditional", "context": 2, "window": 30},
    ],
)
def test_profiles_equal_dna_profile_per_read(options: dict[str, object]) -> None:
    records = one_at_a_time(READS)
    got = list(profile_fastx(io.BytesIO(READS), **options))  # type: ignore[arg-type]
    assert [n for n, _ in got] == [r.name for r in records]
    for rec, (_, p) in zip(records, got, strict=True):
        want = entroseg.dna_profile(rec.sequence, **options)  # type: ignore[arg-type]
        assert np.array_equal(p, want, equal_nan=True)


@settings(max_examples=15, deadline=None)
@given(
    batch_bases=st.integers(1, 3000),
    threads=st.integers(1, 3),
    target=st.sampled_from([4.0, 8.0, 12.5]),
)
@example(batch_bases=1, threads=1, target=8.0)
def test_tokens_are_batch_and_thread_invariant(
    batch_bases: int, threads: int, target: float
) -> None:
    parts = [
        b.tokens(target_len=target, max_len=32, threads=threads)
        for b in iter_fastx_batches(io.BytesIO(READS), batch_bases=batch_bases)
    ]
    got = entroseg.Segments.concat(parts)
    one = next(iter_fastx_batches(io.BytesIO(READS), batch_bases=10**9)).tokens(
        target_len=target, max_len=32, threads=1
    )
    assert np.array_equal(got.starts, one.starts)
    assert np.array_equal(got.lengths, one.lengths)
    assert np.array_equal(got.reasons, one.reasons)
    assert np.array_equal(got.series_offsets, one.series_offsets)


@pytest.mark.filterwarnings("ignore:target_len=.* missed")  # short reads, said per read
@pytest.mark.parametrize(
    "options",
    [
        {"target_len": 8.0, "max_len": 32},
        {"target_len": 5.0, "min_len": 2, "max_len": 12, "context": 3},
        {"threshold": 0.9, "max_len": 16},
        {"method": "kmer", "k": 2, "window": 10, "target_len": 6.0},
    ],
)
def test_tokens_equal_dna_tokens_per_read(options: dict[str, object]) -> None:
    """The batch path (Rust rules on each read) equals the per-read Python path."""
    names, tokens = tokenize_fastx(io.BytesIO(READS), **options)  # type: ignore[arg-type]
    records = one_at_a_time(READS)
    assert names == [r.name for r in records]
    offsets = tokens.series_offsets
    for i, rec in enumerate(records):
        want = dna_tokens(rec.sequence, **options)  # type: ignore[arg-type, arg-type]
        a, b = offsets[i], offsets[i + 1]
        assert np.array_equal(tokens.starts[a:b], want.starts), rec.name
        assert np.array_equal(tokens.lengths[a:b], want.lengths), rec.name
        assert np.array_equal(tokens.reasons[a:b], want.reasons), rec.name


def test_concatenated_gzip_members_are_one_stream(tmp_path: Path) -> None:
    """bgzip / BGZF files and ``cat a.gz b.gz`` hold several gzip members."""
    half = READS.index(b"@read150 ")
    path = tmp_path / "two.fq.gz"
    path.write_bytes(gzip.compress(READS[:half]) + gzip.compress(READS[half:]))
    got = [r for b in iter_fastx_batches(path, batch_bases=5000) for r in b.records(codes=True)]
    assert_same_records(got, one_at_a_time(READS))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch_bases": 0}, "batch_bases must be >= 1, got 0"),
        ({"batch_records": -3}, "batch_records must be >= 1, got -3"),
    ],
)
def test_bad_batch_sizes_are_parameter_errors(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(InvalidParameterError, match=message):
        iter_fastx_batches(io.BytesIO(READS), **kwargs)
    reader = open_fastx(io.BytesIO(READS))
    with pytest.raises(InvalidParameterError, match=message):
        reader.read_batch(**kwargs)


def test_bad_input_gives_the_good_records_then_a_typed_error() -> None:
    truncated = READS[: READS.index(b"@read5 ") + 20]
    batches = iter_fastx_batches(io.BytesIO(truncated))
    first = next(batches)
    assert first.names() == [f"read{i}" for i in range(5)]
    with pytest.raises(FastxFormatError, match=r"record 6.*'read4'"):
        next(batches)
    bad = b"@a\nACGT\n+\nIIII\n@b\nAC-T\n+\nIIII\n"
    with pytest.raises(InvalidSequenceError, match=r"record 'b' \(record 2, line 5\)"):
        list(read_fastx(io.BytesIO(bad)))
    with pytest.raises(EmptyInputError, match="has no bases"):
        list(iter_fastx_batches(io.BytesIO(b"@a\n\n+\n\n")))
    kept = next(iter_fastx_batches(io.BytesIO(b"@a\n\n+\n\n@b\nAC\n+\nII\n"), empty="keep"))
    assert kept.lengths.tolist() == [0, 2]
    assert kept.dust_mask()[1].tolist() == [0, 0, 0]
    assert kept.tokens().series_offsets.tolist() == [0, 0, 1]


def test_batch_functions_reject_bad_options_and_buffers() -> None:
    batch = next(iter_fastx_batches(io.BytesIO(READS)))
    with pytest.raises(InvalidParameterError, match=r"window must be in 4\.\.=65536 bases, got 2"):
        batch.dust_mask(window=2)
    with pytest.raises(InvalidParameterError, match="threads must be >= 1, got 0"):
        batch.dust_mask(threads=0)
    with pytest.raises(InvalidParameterError, match="per-base"):
        batch.profile(method="kmer", k=3)
    with pytest.raises(InvalidParameterError, match="max_len must be >= 1, got 0"):
        batch.tokens(max_len=0)
    with pytest.raises(ValueError, match="offsets"):
        entroseg._entroseg._dust_mask_batch(batch.sequences, np.array([0, 10**9]))
    with pytest.raises(InvalidSequenceError, match="record 1 of the batch"):
        entroseg._entroseg._dust_mask_batch(np.frombuffer(b"AC-T", np.uint8), np.array([0, 4]))


def test_cli_tokens_and_profile_stream_batches_equal_the_library(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    path = tmp_path / "reads.fq.gz"
    path.write_bytes(gzip.compress(READS))
    assert main(["dna", "tokens", str(path), "--quiet"]) == 0
    lines = capsys.readouterr().out.splitlines()
    names, tokens = tokenize_fastx(path)
    record = np.repeat(np.arange(len(names)), np.diff(tokens.series_offsets))
    want = [
        f"{names[r]}\t{s}\t{s + n}"
        for r, s, n in zip(
            record.tolist(), tokens.starts.tolist(), tokens.lengths.tolist(), strict=True
        )
    ]
    assert lines == want
    out = tmp_path / "tokens.parquet"
    assert main(["dna", "tokens", str(path), "-o", str(out)]) == 0
    rows = pq.read_table(out).to_pylist()
    assert [f"{r['chrom']}\t{r['start']}\t{r['end']}" for r in rows] == want
    capsys.readouterr()
    out = tmp_path / "profile.parquet"
    args = ["dna", "profile", str(path), "--method", "kmer", "-k", "3", "--window", "20"]
    assert main([*args, "-o", str(out)]) == 0
    summary = capsys.readouterr().out.splitlines()
    assert summary[0].startswith("read0") and len(summary) == 301
    table = pq.read_table(out)
    profiles = list(profile_fastx(path, method="kmer", k=3, window=20))
    assert np.array_equal(
        table.column("value").to_numpy(), np.concatenate([p for _, p in profiles]), equal_nan=True
    )
    assert table.column("position").to_pylist()[:3] == [0, 1, 2]
