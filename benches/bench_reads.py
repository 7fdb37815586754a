"""Reads: reading, SDUST masks, tokens and profiles of 150-base (or long) reads, against
dnaio and needletail (reading), a Python loop over pydustmasker (masks) and
``gzip -dc`` (the I/O floor), with peak resident memory, at two input sizes.

    python benches/bench_reads.py                 # 200k and 2M reads, Markdown tables
    python benches/bench_reads.py --reads 200000  # one size
    python benches/bench_reads.py --repeat 5      # best of 5 rounds (default 3)
    python benches/bench_reads.py --length 10000 --reads 20000 200000   # long reads

Reads are sampled (seeded) from E. coli K-12 MG1655 (fetched from Debian's
``ragout-examples`` as in bench_dna.py) and written once as a gzipped FASTQ under
``~/.cache/entroseg/reads``. Every row runs in its own subprocess pinned to one core
(``taskset -c 0``; entroseg's pool then uses one thread), so its wall time and its
peak RSS (``ru_maxrss``) are its own. The rows of a table run interleaved, in rounds
(every row once per round), and each row reports its best time over the rounds, so that
a burst of load from other work on the machine hits all rows alike; the load average is
printed with each table. Library rows time the work after their imports (the snippet's
leading ``import`` lines run before the clock starts); CLI rows time the whole process.
The
peers (dnaio, needletail, pydustmasker) are imported from the running interpreter;
a missing one is reported and skipped.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from bench_dna import CACHE, genome

READS_CACHE = CACHE.parent / "reads"
LENGTH = 150

# Each snippet runs in a fresh interpreter with PATH (the FASTQ) bound; it may set
# `bases` (for the rate) and `check` (printed for cross-checks).
READERS = {
    "gzip -dc > /dev/null (I/O floor)": "!gzip -dc {path} > /dev/null",
    "entroseg iter_fastx_batches": """
import entroseg.genomic as g
bases = sum(b.bases for b in g.iter_fastx_batches(PATH))""",
    "entroseg read_fastx (a record object per read)": """
import entroseg.genomic as g
bases = sum(len(r.sequence) for r in g.read_fastx(PATH))""",
    "dnaio": """
import dnaio
with dnaio.open(PATH) as f:
    bases = sum(len(r.sequence) for r in f)""",
    "needletail (Python)": """
import needletail
bases = sum(len(r.seq) for r in needletail.parse_fastx_file(PATH))""",
    "Python gzip + line split": """
import gzip
with gzip.open(PATH, "rb") as f:
    bases = sum(len(line) - 1 for i, line in enumerate(f) if i % 4 == 1)""",
}

MASKERS = {
    "entroseg dna mask (CLI, BED to /dev/null)": (
        "!{python} -m entroseg dna mask {path} -q > /dev/null"
    ),
    "entroseg batches + FastxBatch.dust_mask": """
import entroseg.genomic as g
bases = check = 0
for b in g.iter_fastx_batches(PATH):
    iv, off = b.dust_mask()
    bases += b.bases; check += len(iv)""",
    "entroseg mask_fastx (per-record API)": """
import entroseg.genomic as g
check = sum(len(iv) for _, iv in g.mask_fastx(PATH))""",
    "gzip lines + pydustmasker per read": """
import gzip, pydustmasker
check = 0
with gzip.open(PATH, "rt") as f:
    for i, line in enumerate(f):
        if i % 4 == 1:
            check += len(pydustmasker.DustMasker(line.rstrip()).intervals)""",
    # The same loop as a script, timed as a whole process like the CLI rows (the
    # interpreter's start-up and the imports included), and that start-up alone.
    "gzip lines + pydustmasker per read (whole process)": (
        "!{python} -c \"import gzip, sys, pydustmasker; f = gzip.open(sys.argv[1], 'rt'); "
        "print(sum(len(pydustmasker.DustMasker(l.rstrip()).intervals) "
        'for i, l in enumerate(f) if i % 4 == 1))" {path} > /dev/null'
    ),
    "Python start-up alone (python -c pass, whole process)": "!{python} -c pass",
}

OTHERS = {
    "entroseg dna tokens (CLI, BED to /dev/null)": (
        "!{python} -m entroseg dna tokens {path} -q > /dev/null"
    ),
    "entroseg dna tokens -o tokens.parquet (CLI)": (
        "!{python} -m entroseg dna tokens {path} -q -o {tmp}/tokens.parquet > /dev/null"
    ),
    "entroseg batches + FastxBatch.tokens (k=4, target_len=8)": """
import entroseg.genomic as g
bases = check = 0
for b in g.iter_fastx_batches(PATH):
    t = b.tokens(context=4, target_len=8, max_len=32)
    bases += b.bases; check += len(t)""",
    "entroseg dna profile --method kmer -k 4 --window 50 (CLI)": (
        "!{python} -m entroseg dna profile {path} --method kmer -k 4 --window 50 -q > /dev/null"
    ),
    "entroseg dna profile ... -o profile.parquet (CLI)": (
        "!{python} -m entroseg dna profile {path} --method kmer -k 4 --window 50 -q "
        "-o {tmp}/profile.parquet > /dev/null"
    ),
    "entroseg batches + FastxBatch.profile (kmer k=4, window 50)": """
import entroseg.genomic as g
bases = 0
for b in g.iter_fastx_batches(PATH):
    p = b.profile(method="kmer", k=4, window=50)
    bases += b.bases""",
}

RUNNER = """
import resource, sys, time, json
PATH = sys.argv[1]
bases = check = None
_lines = sys.argv[2].strip().splitlines()
_imports = 0
while _imports < len(_lines) and _lines[_imports].startswith(("import ", "from ")):
    _imports += 1
exec("\\n".join(_lines[:_imports]))
_started = time.perf_counter()
exec("\\n".join(_lines[_imports:]))
elapsed = time.perf_counter() - _started
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": elapsed, "rss_mb": rss, "bases": bases, "check": check}))
"""

SHELL = """
import resource, subprocess, sys, time, json
t = time.perf_counter()
subprocess.run(sys.argv[1], shell=True, check=True)
elapsed = time.perf_counter() - t
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps({"seconds": elapsed, "rss_mb": rss, "bases": None, "check": None}))
"""


def reads_file(n: int, length: int = LENGTH) -> Path:
    """``n`` reads of ``length`` bases sampled (seed 19) from E. coli, gzipped FASTQ,
    cached."""
    path = READS_CACHE / f"ecoli_{n}x{length}.fq.gz"
    if path.exists():
        return path
    READS_CACHE.mkdir(parents=True, exist_ok=True)
    with gzip.open(genome(), "rb") as f:
        seq = b"".join(line.strip() for line in f if not line.startswith(b">")).upper()
    rng = np.random.default_rng(19)
    qual = b"I" * length
    step = max(1, min(50_000, 10_000_000 // length))  # bases joined at a time
    tmp = path.with_suffix(".tmp")
    with gzip.open(tmp, "wb", compresslevel=6) as out:
        for block in range(0, n, step):
            starts = rng.integers(0, len(seq) - length, min(step, n - block)).tolist()
            out.write(
                b"".join(
                    b"@read%d\n%s\n+\n%s\n" % (block + i, seq[s : s + length], qual)
                    for i, s in enumerate(starts)
                )
            )
    tmp.rename(path)
    return path


def run(snippet: str, path: Path, tmp: Path) -> dict[str, float | None]:
    pin = ["taskset", "-c", "0"]
    if snippet.startswith("!"):
        command = snippet[1:].format(path=path, tmp=tmp, python=sys.executable)
        argv = [*pin, sys.executable, "-c", SHELL, command]
    else:
        argv = [*pin, sys.executable, "-c", RUNNER, str(path), snippet]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    # An installed package has its bytecode (pip compiles it at install); with
    # PYTHONDONTWRITEBYTECODE set, every CLI process would compile the CLI's modules
    # again (about 60 ms of a 0.2 s run), which no user pays.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    done = subprocess.run(argv, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr else "failed"}  # type: ignore[dict-item]
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def table(
    title: str, rows: dict[str, str], path: Path, n: int, length: int, tmp: Path, repeat: int
) -> None:
    mbp = n * length / 1e6
    load = " / ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"\n### {title}: {n:,} reads of {length:,} bases ({mbp:,.0f} Mbp, "
          f"{path.stat().st_size / 1e6:,.0f} MB gzipped), one core, best of {repeat}; "
          f"load average at start {load}\n")  # fmt: skip
    best: dict[str, dict[str, float | None]] = {}
    errors: dict[str, str] = {}
    for _ in range(repeat):
        for name, snippet in rows.items():
            if name in errors:
                continue
            r = run(snippet, path, tmp)
            if "error" in r:
                errors[name] = str(r["error"])
                continue
            old = best.get(name)
            if old is None or float(r["seconds"] or 0) < float(old["seconds"] or 0):
                rss = max(float(r["rss_mb"] or 0), float(old["rss_mb"] or 0) if old else 0.0)
                best[name] = {**r, "rss_mb": rss}
            elif old is not None:
                old["rss_mb"] = max(float(old["rss_mb"] or 0), float(r["rss_mb"] or 0))
    print("| task | time | Mbp/s | peak RSS | check |")
    print("|---|---:|---:|---:|---:|")
    for name in rows:
        if name in errors:
            print(f"| {name} | skipped: {errors[name]} | | | |")
            continue
        r = best[name]
        seconds = float(r["seconds"] or 0)
        check = "" if r["check"] is None else f"{r['check']:,}"
        rss = float(r["rss_mb"] or 0)
        print(
            f"| {name} | {seconds:.2f} s | {mbp / seconds:,.1f} | {rss:,.0f} MB | {check} |",
            flush=True,
        )
    load = " / ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"\nload average at end {load}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, nargs="*", default=[200_000, 2_000_000])
    parser.add_argument("--only", choices=["read", "mask", "other"], nargs="*")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; each row's best time")
    parser.add_argument(
        "--length", type=int, default=LENGTH, help="bases per read (long reads: 10000)"
    )
    args = parser.parse_args()
    tmp = READS_CACHE / "out"
    tmp.mkdir(parents=True, exist_ok=True)
    groups = {"read": ("Reading", READERS), "mask": ("SDUST masks", MASKERS),
              "other": ("Tokens and profiles", OTHERS)}  # fmt: skip
    for n in args.reads:
        path = reads_file(n, args.length)
        for key in args.only or groups:
            title, rows = groups[key]
            table(title, rows, path, n, args.length, tmp, args.repeat)


if __name__ == "__main__":
    main()
