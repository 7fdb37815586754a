"""Compressed FASTA/FASTQ input: every compression reads whole, and a truncated or
corrupted stream raises, never yields garbled or missing records silently."""

from __future__ import annotations

import bz2
import gzip
import lzma
from pathlib import Path

import entroseg
import numpy as np
import pytest
from entroseg.genomic import read_fastx


def _zstd(data: bytes) -> bytes:
    zstandard = pytest.importorskip("zstandard")
    return bytes(zstandard.ZstdCompressor(write_checksum=True).compress(data))


COMPRESSORS = {
    "gzip": gzip.compress,
    "bzip2": bz2.compress,
    "xz": lzma.compress,
    "zstd": _zstd,
}


@pytest.mark.parametrize("kind", list(COMPRESSORS))
def test_truncated_or_corrupt_compressed_input_raises_for_every_compression(
    kind: str, tmp_path: Path
) -> None:
    rng = np.random.default_rng(3)
    body = b"".join(
        b">r%d\n" % i + rng.choice(list(b"ACGT"), 2000).astype(np.uint8).tobytes() + b"\n"
        for i in range(200)
    )
    packed = COMPRESSORS[kind](body)
    whole = tmp_path / f"whole.{kind}"
    whole.write_bytes(packed)
    assert [r.name for r in read_fastx(whole)] == [f"r{i}" for i in range(200)]
    cut = tmp_path / f"cut.{kind}"
    cut.write_bytes(packed[: len(packed) * 2 // 3])
    with pytest.raises(
        entroseg.FastxFormatError, match=rf"the {kind} stream is truncated or corrupt"
    ):
        list(read_fastx(cut))
    # A flipped byte in the middle: the decoder's checks (or the checksum at the end)
    # refuse it; never records of garbled bases.
    flipped = bytearray(packed)
    flipped[len(flipped) // 2] ^= 0x5A
    bad = tmp_path / f"bad.{kind}"
    bad.write_bytes(bytes(flipped))
    with pytest.raises((entroseg.FastxFormatError, entroseg.InvalidSequenceError)):
        list(read_fastx(bad))


@pytest.mark.parametrize("kind", list(COMPRESSORS))
def test_an_empty_stream_is_empty_and_a_cut_one_truncated(kind: str, tmp_path: Path) -> None:
    empty = tmp_path / f"empty.{kind}"
    empty.write_bytes(COMPRESSORS[kind](b""))
    with pytest.raises(entroseg.EmptyInputError, match="is empty"):
        list(read_fastx(empty))
    # Cut before anything decodes (inside bzip2's first block, or right after a header).
    packed = COMPRESSORS[kind](b">a\n" + b"ACGT" * 5000 + b"\n")
    cut = tmp_path / f"cut.{kind}"
    cut.write_bytes(packed[: max(len(packed) // 3, 12)])
    with pytest.raises(entroseg.FastxFormatError, match=rf"the {kind} stream is truncated"):
        list(read_fastx(cut))
