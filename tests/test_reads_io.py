"""gzip input inflated by ISA-L (the ``isal`` package) gives the records the zlib-rs
reader gives, on single-member, multi-member (``cat a.gz b.gz``), BGZF, padded,
truncated and corrupt files; ``entroseg dna mask`` writes the same BED through its
Rust path as the batch API does; the command line starts without numpy."""

from __future__ import annotations

import gzip
import io
import itertools
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import entroseg
import numpy as np
import pytest
from entroseg import FastxFormatError, FastxReader
from entroseg.cli import main
from entroseg.genomic import iter_batches, iter_fastx_batches
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

isal = pytest.importorskip("isal")


def fastq(reads: list[tuple[bytes, bytes]]) -> bytes:
    return b"".join(
        b"@r%d %s\n%s\n+\n%s\n" % (i, name, seq, b"I" * len(seq))
        for i, (name, seq) in enumerate(reads)
    )


def bgzf(data: bytes, block: int = 4096) -> bytes:
    """BGZF (bgzip's format): members of at most 64 KiB, each with the 'BC' extra field
    giving its size, then the empty end-of-file member."""
    out = []
    for at in [*range(0, len(data), block), len(data)]:
        chunk = data[at : at + block]
        if at == len(data) and out:
            chunk = b""
        c = zlib.compressobj(6, zlib.DEFLATED, -15)
        body = c.compress(chunk) + c.flush()
        extra = b"BC" + struct.pack("<HH", 2, len(body) + 25)
        header = b"\x1f\x8b\x08\x04" + b"\0\0\0\0" + b"\0\xff" + struct.pack("<H", len(extra))
        trailer = struct.pack("<II", zlib.crc32(chunk), len(chunk))
        out.append(header + extra + body + trailer)
        if at == len(data):
            break
    return b"".join(out)


def read_all(source: Any, inflate: str) -> tuple[str, list[Any]]:
    """Every batch of a reader (small batches), or the error class and the batches
    before it."""
    got: list[Any] = []
    try:
        reader = FastxReader(source, inflate=inflate)
        for batch in iter_batches(reader, batch_bases=700):
            got.append(
                [np.asarray(a).tolist() if a is not None else None for a in vars(batch).values()]
            )
    except Exception as exc:  # the class is what both readers must agree on
        return type(exc).__name__, got
    return "ok", got


dna = st.binary(min_size=0, max_size=200).map(
    lambda b: bytes(b"ACGTacgtN"[x % 9] for x in b) or b"A"
)
reads = st.lists(st.tuples(st.sampled_from([b"", b"x", b"desc text"]), dna), max_size=60)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    reads=reads,
    layout=st.sampled_from(["one", "members", "bgzf", "padded", "garbage", "empty member"]),
    cuts=st.lists(st.integers(0, 10_000), max_size=3),
    level=st.integers(0, 9),
    damage=st.sampled_from([None, "truncate", "flip"]),
    where=st.floats(0, 1),
)
@example(reads=[(b"", b"ACGT")], layout="one", cuts=[], level=6, damage="truncate", where=0.5)
@example(reads=[(b"", b"ACGT")], layout="padded", cuts=[], level=6, damage=None, where=0)
def test_isal_reads_what_zlib_rs_reads(
    tmp_path_factory: pytest.TempPathFactory,
    reads: list[tuple[bytes, bytes]],
    layout: str,
    cuts: list[int],
    level: int,
    damage: str | None,
    where: float,
) -> None:
    data = fastq(reads)
    if layout == "bgzf":
        gz = bgzf(data, block=1 + level * 300)
    elif layout in ("members", "empty member"):
        points = sorted({min(c, len(data)) for c in cuts} | {0, len(data)})
        gz = b"".join(
            gzip.compress(data[a:b], compresslevel=level) for a, b in itertools.pairwise(points)
        )
        if layout == "empty member":
            gz = gzip.compress(b"") + gz + gzip.compress(b"")
    else:
        gz = gzip.compress(data, compresslevel=level)
        if layout == "padded":
            gz += b"\0" * (1 + len(cuts) * 500)
        elif layout == "garbage":
            gz += b"xyz"
    if damage == "truncate" and len(gz) > 1:
        gz = gz[: 1 + int(where * (len(gz) - 2))]
    elif damage == "flip" and len(gz) > 11:
        at = 10 + int(where * (len(gz) - 11))
        gz = gz[:at] + bytes([gz[at] ^ 0x21]) + gz[at + 1 :]
    path = tmp_path_factory.mktemp("gz") / "reads.fq.gz"
    path.write_bytes(gz)
    want = read_all(path, "zlib-rs")
    assert read_all(path, "isal") == want
    # A binary file object (stdin, an open file) goes through the same decoder.
    assert read_all(io.BytesIO(gz), "isal") == want
    if damage is None and layout != "garbage" and data:
        assert want[0] == "ok"
        assert b"".join(bytes(b[0]) for b in want[1]) == b"".join(s for _, s in reads)
    if layout == "garbage" and damage is None:
        assert want[0] == "FastxFormatError"


def test_truncated_file_is_a_format_error_naming_the_stream(tmp_path: Path) -> None:
    data = fastq([(b"", b"ACGT" * 40)] * 3000)
    path = tmp_path / "cut.fq.gz"
    path.write_bytes(gzip.compress(data)[:-5000])
    for inflate in ("isal", "zlib-rs"):
        reader = FastxReader(path, inflate=inflate)
        with pytest.raises(FastxFormatError, match="gzip stream is truncated or corrupt"):
            list(iter_batches(reader))


def test_auto_uses_isal_and_the_choice_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "r.fq.gz"
    path.write_bytes(gzip.compress(fastq([(b"", b"ACGT")])))
    assert FastxReader(path).compression == "gzip"
    with pytest.raises(ValueError, match="inflate must be 'auto', 'isal' or 'zlib-rs'"):
        FastxReader(path, inflate="zlib")
    # Plain input never asks for a decoder.
    assert next(FastxReader(io.BytesIO(b">a\nAC\n"), inflate="isal"))[0] == "a"


def test_without_isal_auto_falls_back_and_isal_is_an_import_error(tmp_path: Path) -> None:
    """Where the isal package is missing (CPUs it has no wheel for), "auto" reads with
    zlib-rs and gives the same records; asking for "isal" names the package."""
    reads = [(b"r%d" % i, b"ACGTTGCA" * (5 + i % 7)) for i in range(500)]
    path = tmp_path / "r.fq.gz"
    path.write_bytes(gzip.compress(fastq(reads)))
    code = """
import sys
sys.modules["isal"] = None  # import isal and isal.isal_zlib now raise ImportError
sys.modules["isal.isal_zlib"] = None
from entroseg.genomic import FastxReader
seqs = [r[2] for r in FastxReader(sys.argv[1])]
print(len(seqs), sum(map(len, seqs)))
try:
    FastxReader(sys.argv[1], inflate="isal")
except ImportError as e:
    print("ImportError", e)
"""
    run = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    counts, error = run.stdout.splitlines()
    assert counts == f"{len(reads)} {sum(len(s) for _, s in reads)}"
    assert error.startswith("ImportError inflate='isal' needs the isal package (pip install isal)")


def test_memory_is_bounded_by_the_batch(tmp_path: Path) -> None:
    """The ISA-L path streams: 60 MB of reads are read with a few MB resident more
    than a small file needs."""
    if not Path("/proc/self/status").exists():
        pytest.skip("reads the peak RSS from /proc")
    # VmHWM, not ru_maxrss: a child's ru_maxrss starts from its parent's (this test
    # process), VmHWM from its own memory.
    code = """
import sys
from entroseg.genomic import iter_fastx_batches
n = sum(b.bases for b in iter_fastx_batches(sys.argv[1]))
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
print(n, hwm)
"""
    rows = []
    for n in (2_000, 200_000):
        path = tmp_path / f"{n}.fq.gz"
        with gzip.open(path, "wb", compresslevel=1) as f:
            f.write(fastq([(b"", b"ACGTTGCA" * 19)] * n))
        run = subprocess.run(
            [sys.executable, "-c", code, str(path)], capture_output=True, text=True
        )
        assert run.returncode == 0, run.stderr
        bases, rss_kb = map(int, run.stdout.split())
        assert bases == n * 152
        rows.append(rss_kb)
    assert rows[1] < rows[0] + 60_000, rows


def _batch_bed(path: Path) -> str:
    """BED lines of the batch API (the reference for the command line)."""
    lines = []
    for batch in iter_fastx_batches(path):
        intervals, offsets = batch.dust_mask()
        names = batch.names()
        for i, name in enumerate(names):
            for start, end in intervals[offsets[i] : offsets[i + 1]].tolist():
                lines.append(f"{name}\t{start}\t{end}\n")
    return "".join(lines)


@pytest.mark.parametrize("n", [1, 3_000, 40_000])
def test_cli_mask_writes_the_batch_api_bed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], n: int
) -> None:
    rng = np.random.default_rng(n)
    seqs = [
        (b"CA" * 40 + bytes(rng.choice(list(b"ACGT"), 70).tolist()))
        if i % 3 == 0
        else bytes(rng.choice(list(b"ACGTN"), 150).tolist())
        for i in range(n)
    ]
    path = tmp_path / "r.fq.gz"
    path.write_bytes(gzip.compress(fastq([(b"", s) for s in seqs])))
    want = _batch_bed(path)
    assert main(["dna", "mask", str(path), "-q"]) == 0
    out = capsys.readouterr().out
    assert out == want
    assert len(want.splitlines()) >= n // 3
    bed = tmp_path / "out.bed"
    assert main(["dna", "mask", str(path), "-q", "-o", str(bed)]) == 0
    assert bed.read_text() == want
    summary = capsys.readouterr().out
    assert f"records    {n:,}" in summary and f"in {len(want.splitlines()):,} intervals" in summary


def test_cli_mask_starts_without_numpy(tmp_path: Path) -> None:
    path = tmp_path / "r.fq.gz"
    path.write_bytes(gzip.compress(fastq([(b"", b"CA" * 60)] * 10)))
    code = f"""
import sys
from entroseg.cli import main
assert main(["dna", "mask", {str(path)!r}, "-q"]) == 0
print(sorted(m for m in sys.modules if m.split(".")[0] in ("numpy", "polars", "pyarrow")))
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    *bed, loaded = run.stdout.splitlines()
    assert loaded == "[]"
    assert bed == [f"r{i}\t0\t120" for i in range(10)]


def test_lazy_package_names_resolve() -> None:
    for name in entroseg.__all__:
        assert getattr(entroseg, name) is not None, name
    assert "segment" in dir(entroseg)
    with pytest.raises(AttributeError):
        entroseg.no_such_name  # noqa: B018
