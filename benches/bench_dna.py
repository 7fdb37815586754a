"""Genomic benchmark: SDUST masks against pydustmasker and NCBI dustmasker (identical
intervals and time), longdust masks against pydustmasker's LongdustMasker, DNA entropy
profiles in Mbp/s, FASTA reader throughput in MB/s.

    python benches/bench_dna.py                   # prints a Markdown table
    python benches/bench_dna.py --only sdust      # the reader and SDUST rows alone
    python benches/bench_dna.py --only longdust   # the longdust rows alone
    python benches/bench_dna.py --only tantan     # the tantan rows alone

Data: E. coli K-12 MG1655 (4.6 Mbp), shipped by Debian's ``ragout-examples`` package,
and the AT-rich, repeat-rich P. falciparum 3D7 genome (14 chromosomes, 23.3 Mbp), shipped
as test data by Debian's ``smalt-examples`` package. The script fetches them with
``apt-get download`` into ``~/.cache/entroseg/dna`` (outside the repository; override
with ENTROSEG_DNA_CACHE) and unpacks them with ``dpkg -x``.
``dustmasker`` comes from Debian's ``ncbi-blast+``; when it is missing and the script
runs as root it installs it with ``apt-get install -y ncbi-blast+`` (otherwise the
dustmasker rows are skipped). pydustmasker comes from PyPI (the ``bench`` extra).
tantan rows compare with pydustmasker's ``TantanMasker`` and Debian's ``tantan`` binary
(installed the same way when missing; ``--only tantan`` runs only them). They time CPU
seconds, alternating the tools, best of several runs.

Every timing is the best of several runs, measured in the same process (dustmasker in a
subprocess: its time includes reading the FASTA and starting up, stated in the table).
"""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import entroseg
import numpy as np
from entroseg.genomic import read_fastx

CACHE = Path(os.environ.get("ENTROSEG_DNA_CACHE", Path.home() / ".cache" / "entroseg" / "dna"))
GENOME_IN_PACKAGE = "usr/share/doc/ragout/examples/E.Coli/references/MG1655-K12.fasta.gz"
PLASMODIUM_IN_PACKAGE = "usr/share/doc/smalt/test/data/genome_1.fa.gz"


def run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload, no-any-return]


def from_debian(package: str, path_in_package: str) -> Path:
    """A file of a Debian package, fetched into the cache on first use."""
    target = CACHE / "x" / path_in_package
    if target.exists():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    if not any(CACHE.glob(f"{package}_*.deb")):
        print(f"fetching Debian package {package} into {CACHE} ...", file=sys.stderr)
        run(["apt-get", "download", package], cwd=CACHE)
    deb = sorted(CACHE.glob(f"{package}_*.deb"))[-1]
    run(["dpkg", "-x", str(deb), str(CACHE / "x")])
    return target


def genome() -> Path:
    """The MG1655 FASTA (gzip), fetched from Debian on first use."""
    return from_debian("ragout-examples", GENOME_IN_PACKAGE)


def plasmodium() -> Path:
    """The P. falciparum 3D7 FASTA (gzip; chromosomes MAL1..MAL14), from Debian's smalt
    test data."""
    return from_debian("smalt-examples", PLASMODIUM_IN_PACKAGE)


def dustmasker() -> str | None:
    path = shutil.which("dustmasker")
    if path is None and hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        print("installing ncbi-blast+ (dustmasker) with apt-get ...", file=sys.stderr)
        try:
            run(["apt-get", "install", "-y", "-q", "ncbi-blast+"])
        except subprocess.CalledProcessError:
            run(["apt-get", "update", "-q"])
            run(["apt-get", "install", "-y", "-q", "ncbi-blast+"])
        path = shutil.which("dustmasker")
    return path


def best(f: Callable[[], object], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return min(times)


def turns_best(fs: dict[str, Callable[[], object]], rounds: int) -> dict[str, tuple[float, float]]:
    """Best wall time and best CPU time (this process and its children: a peer run as a
    subprocess counts) of each function, the functions taking turns round after round,
    so that a change in the machine's load hits them alike (the SDUST calls on E. coli
    take milliseconds: five runs of one tool followed by five of the other measured the
    load as much as the tools)."""
    wall = {name: float("inf") for name in fs}
    cpu = {name: float("inf") for name in fs}
    for _ in range(rounds):
        for name, f in fs.items():
            t, c, c0 = time.perf_counter(), time.process_time(), os.times()
            f()
            c1 = os.times()
            children = (c1.children_user - c0.children_user) + (
                c1.children_system - c0.children_system
            )
            wall[name] = min(wall[name], time.perf_counter() - t)
            cpu[name] = min(cpu[name], time.process_time() - c + children)
    return {name: (wall[name], cpu[name]) for name in fs}


def dustmasker_intervals(exe: str, fasta: Path) -> tuple[dict[str, list[tuple[int, int]]], float]:
    """dustmasker's intervals (converted to 0-based half-open) per record, and its time."""
    out: dict[str, list[tuple[int, int]]] = {}
    elapsed = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        text = run([exe, "-in", str(fasta), "-outfmt", "interval"]).stdout
        elapsed = min(elapsed, time.perf_counter() - t)
    name = ""
    for line in text.splitlines():
        if line.startswith(">"):
            name = line[1:].split()[0]
            out[name] = []
        elif line.strip():
            a, b = line.split(" - ")
            out[name].append((int(a), int(b) + 1))
    return out, elapsed


def far_from(positions: np.ndarray, interval: tuple[int, int], margin: int = 64) -> bool:
    """Whether no position (sorted) lies within `margin` bases of `interval`."""
    k = int(np.searchsorted(positions, interval[0] - margin))
    return k == len(positions) or int(positions[k]) >= interval[1] + margin


def tantan_binary() -> str | None:
    path = shutil.which("tantan")
    if path is None and hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        print("installing tantan with apt-get ...", file=sys.stderr)
        try:
            run(["apt-get", "install", "-y", "-q", "tantan"])
        except subprocess.CalledProcessError:
            return None
        path = shutil.which("tantan")
    return path


def tantan_binary_bed(exe: str, fasta: Path) -> dict[str, list[tuple[int, int]]]:
    out: dict[str, list[tuple[int, int]]] = {}
    for line in run([exe, "-f3", str(fasta)]).stdout.splitlines():
        name, a, b = line.split("\t")[:3]
        out.setdefault(name, []).append((int(a), int(b)))
    return out


def tantan_rows(genomes: list[tuple[str, Path]], threads: int) -> list[tuple[str, str, str]]:
    """tantan on each genome (record by record): entroseg on one thread and on all,
    pydustmasker's TantanMasker, Debian's tantan binary (subprocess: its CPU time
    includes start-up and FASTA parsing)."""
    import pydustmasker

    rows: list[tuple[str, str, str]] = []
    exe = tantan_binary()
    for label, fasta in genomes:
        recs = [(r.name, r.sequence or b"") for r in read_fastx(fasta)]
        texts = [s.decode() for _, s in recs]
        mbp = sum(len(s) for _, s in recs) / 1e6
        ours = [[tuple(iv) for iv in entroseg.tantan_mask(s).tolist()] for _, s in recs]
        peer = [[tuple(iv) for iv in pydustmasker.TantanMasker(t).intervals] for t in texts]
        bits = all(
            np.array_equal(
                entroseg.tantan_probabilities(s).view(np.uint32),
                np.array(pydustmasker.TantanMasker(t).probabilities, np.float32).view(np.uint32),
            )
            for (_, s), t in zip(recs, texts, strict=True)
        )
        tools: dict[str, Callable[[], object]] = {
            "ours": lambda recs=recs: [entroseg.tantan_mask(s) for _, s in recs],
            "peer": lambda texts=texts: [pydustmasker.TantanMasker(t).intervals for t in texts],
        }
        if exe is not None:
            tools["binary"] = lambda fasta=fasta: run([exe, "-f3", str(fasta)])
        cpu = {name: c for name, (_, c) in turns_best(tools, 5).items()}
        t_all = best(lambda recs=recs: entroseg.tantan_mask([s for _, s in recs]), 3)
        count = sum(len(r) for r in ours)
        rows.append(
            (
                f"tantan {label} ({mbp:.2f} Mbp, {len(recs)} records): entroseg, 1 thread",
                f"{cpu['ours']:.2f} s CPU ({mbp / cpu['ours']:,.1f} Mbp/s)",
                f"{count:,} intervals",
            )
        )
        rows.append(
            (
                f"... entroseg, list of records on {threads} threads",
                f"{t_all:.2f} s wall",
                "one thread per record at most",
            )
        )
        rows.append(
            (
                "... pydustmasker TantanMasker",
                f"{cpu['peer']:.2f} s CPU ({mbp / cpu['peer']:,.1f} Mbp/s)",
                f"intervals equal: {ours == peer}; posteriors bit-identical: {bits}",
            )
        )
        rows.append(
            ("... speed-up over pydustmasker, 1 thread", f"{cpu['peer'] / cpu['ours']:.2f}x", "")
        )
        if exe is not None:
            binary = tantan_binary_bed(exe, fasta)
            same = [binary.get(name, []) for name, _ in recs] == ours
            rows.append(
                (
                    "... Debian tantan -f3 (subprocess, incl. start-up and FASTA parsing)",
                    f"{cpu['binary']:.2f} s CPU ({cpu['binary'] / cpu['ours']:.2f}x ours)",
                    f"intervals equal: {same}",
                )
            )
        else:
            rows.append(("... Debian tantan", "not installed", "apt-get install tantan"))
    return rows


def tantan_only() -> int:

    tmp = Path(tempfile.mkdtemp(prefix="entroseg-bench-"))
    genomes = []
    for label, gz in [("MG1655", genome()), ("P. falciparum", plasmodium())]:
        path = tmp / f"{label.replace(' ', '_')}.fa"
        path.write_bytes(gzip.decompress(gz.read_bytes()))
        genomes.append((label, path))
    threads = os.cpu_count() or 1
    rows = tantan_rows(genomes, threads)
    print_rows(rows)
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


def n_rich_records(count: int = 400, seed: int = 3) -> list[str]:
    """Generated records full of microsatellites, homopolymers, N runs and soft-masking."""
    rng = np.random.default_rng(seed)
    records = []
    for _ in range(count):
        parts = []
        for _ in range(int(rng.integers(5, 30))):
            r = rng.random()
            if r < 0.35:
                parts.append("".join(rng.choice(list("ACGT"), int(rng.integers(1, 80)))))
            elif r < 0.65:
                unit = "".join(rng.choice(list("ACGT"), int(rng.integers(1, 7))))
                parts.append((unit * 100)[: int(rng.integers(5, 120))])
            elif r < 0.8:
                parts.append("N" * int(rng.integers(1, 6)))
            else:
                parts.append("".join(rng.choice(list("acgt"), int(rng.integers(1, 40)))))
        seq = "".join(parts)
        if len(seq) >= 4:
            records.append(seq)
    return records


def timed(f: Callable[[], Any]) -> tuple[Any, float, float]:
    """The result, wall and CPU seconds of one call (CPU time is the fairer figure on a
    shared machine; both tools run single-threaded here)."""
    t, c = time.perf_counter(), time.process_time()
    out = f()
    return out, time.perf_counter() - t, time.process_time() - c


def longdust_rows(rows: list[tuple[str, str, str]]) -> None:
    """longdust (default options) against pydustmasker's LongdustMasker, one thread, on
    E. coli (best of 3) and on P. falciparum record by record (one timed run each: the
    peer takes minutes there)."""
    import pydustmasker

    def ours_of(seqs: list[bytes], threads: int) -> list[list[tuple[int, int]]]:
        return [
            [(int(a), int(b)) for a, b in entroseg.longdust_mask(s, threads=threads).tolist()]
            for s in seqs
        ]

    def peer_of(texts: list[str]) -> list[list[tuple[int, int]]]:
        return [[tuple(iv) for iv in pydustmasker.LongdustMasker(t).intervals] for t in texts]  # type: ignore[misc]

    ecoli = [r.sequence or b"" for r in read_fastx(genome())]
    pf = [r.sequence or b"" for r in read_fastx(plasmodium())]
    threads = os.cpu_count() or 1
    for name, seqs, repeat in [("MG1655", ecoli, 3), ("P. falciparum", pf, 1)]:
        texts = [s.decode() for s in seqs]
        mbp = sum(len(s) for s in seqs) / 1e6
        ours = min(
            (timed(lambda seqs=seqs: ours_of(seqs, 1)) for _ in range(repeat)),  # type: ignore[misc]
            key=lambda t: t[2],
        )
        peer = min(
            (timed(lambda texts=texts: peer_of(texts)) for _ in range(repeat)),  # type: ignore[misc]
            key=lambda t: t[2],
        )
        par = timed(lambda seqs=seqs: ours_of(seqs, threads))  # type: ignore[misc]
        got = {"ours": ours[0], "peer": peer[0], "par": par[0]}
        ours_t, peer_t, par_t = ours[1:], peer[1:], par[1:]
        n = sum(len(r) for r in got["ours"])
        rows.append(
            (
                f"longdust {name} ({mbp:.2f} Mbp, {len(seqs)} records): entroseg, 1 thread",
                f"{ours_t[0]:.2f} s wall, {ours_t[1]:.2f} s CPU",
                f"{n:,} intervals",
            )
        )
        rows.append(
            (
                f"... entroseg, {threads} threads (the two strands at once)",
                f"{par_t[0]:.2f} s wall",
                f"identical: {got['par'] == got['ours']}",
            )
        )
        rows.append(
            (
                "... pydustmasker LongdustMasker",
                f"{peer_t[0]:.2f} s wall, {peer_t[1]:.2f} s CPU",
                f"lists equal: {got['ours'] == got['peer']}",
            )
        )
        rows.append(
            (
                "... speed-up over pydustmasker (1 thread, CPU time)",
                f"{peer_t[1] / ours_t[1]:.2f}x",
                f"wall: {peer_t[0] / ours_t[0]:.2f}x",
            )
        )


def print_rows(rows: list[tuple[str, str, str]], tool: str | None = None) -> None:
    """The run's header (versions, `tool` when given, load) and its rows as Markdown."""
    import pydustmasker

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"entroseg {entroseg.__version__}, pydustmasker {pydustmasker.__version__}")
    if tool is not None:
        print(tool)
    print(f"{os.cpu_count()} CPUs, load average {load:.2f} at the end of the run")
    print()
    print("| measurement | result | notes |")
    print("|---|---|---|")
    for name, result, note in rows:
        print(f"| {name} | {result} | {note} |")


def main(sdust_only: bool = False) -> int:
    """The whole run; with ``sdust_only``, the reader and SDUST rows alone."""
    import pydustmasker

    rows: list[tuple[str, str, str]] = []
    fasta_gz = genome()
    raw = gzip.decompress(fasta_gz.read_bytes())
    tmp = Path(tempfile.mkdtemp(prefix="entroseg-bench-"))
    fasta = tmp / "MG1655.fa"
    fasta.write_bytes(raw)
    recs = list(read_fastx(fasta))
    seq = b"".join(r.sequence or b"" for r in recs)
    text = seq.decode()
    mbp = len(seq) / 1e6
    threads = os.cpu_count() or 1

    # Reader throughput.
    t_plain = best(lambda: sum(len(r) for r in read_fastx(fasta)))
    t_gz = best(lambda: sum(len(r) for r in read_fastx(fasta_gz)))
    t_codes = best(lambda: sum(len(r) for r in read_fastx(fasta, codes=True, sequence=False)))
    rows.append(("read_fastx, plain FASTA", f"{len(raw) / 1e6 / t_plain:,.0f} MB/s", ""))
    rows.append(
        (
            "read_fastx, gzip FASTA",
            f"{fasta_gz.stat().st_size / 1e6 / t_gz:,.0f} MB/s compressed",
            f"{len(raw) / 1e6 / t_gz:,.0f} MB/s of FASTA",
        )
    )
    rows.append(("read_fastx(codes=True), plain", f"{len(raw) / 1e6 / t_codes:,.0f} MB/s", ""))

    # SDUST on the real genome.
    ours = entroseg.dust_mask(seq, threads=1)
    ours_list = [tuple(iv) for iv in ours.tolist()]
    peer = [tuple(iv) for iv in pydustmasker.DustMasker(text).intervals]
    timed = turns_best(
        {
            "ours1": lambda: entroseg.dust_mask(seq, threads=1),
            "ours": lambda: entroseg.dust_mask(seq, threads=threads),
            "peer": lambda: pydustmasker.DustMasker(text).intervals,
        },
        rounds=40,
    )
    (t_ours1, c_ours1), (t_ours, _), (t_peer, c_peer) = (
        timed["ours1"],
        timed["ours"],
        timed["peer"],
    )
    same_peer = len(set(ours_list) & set(peer))
    rows.append(
        (
            f"SDUST MG1655 ({mbp:.2f} Mbp): entroseg, 1 thread",
            f"{t_ours1 * 1e3:.1f} ms ({mbp / t_ours1:,.0f} Mbp/s); CPU {c_ours1 * 1e3:.1f} ms",
            f"{len(ours_list):,} intervals",
        )
    )
    rows.append(
        (
            f"... entroseg, {threads} threads",
            f"{t_ours * 1e3:.1f} ms",
            f"identical: {entroseg.dust_mask(seq, threads=threads).tolist() == ours.tolist()}",
        )
    )
    rows.append(
        (
            "... pydustmasker",
            f"{t_peer * 1e3:.1f} ms ({mbp / t_peer:,.0f} Mbp/s); CPU {c_peer * 1e3:.1f} ms",
            f"{same_peer:,}/{len(peer):,} intervals identical; lists equal: {ours_list == peer}",
        )
    )
    rows.append(
        (
            "... speed-up over pydustmasker",
            f"{t_peer / t_ours1:.2f}x (1 thread), {t_peer / t_ours:.2f}x ({threads} threads)",
            f"CPU time, 1 thread: {c_peer / c_ours1:.2f}x; best of 40 rounds, tools taking turns",
        )
    )
    exe = dustmasker()
    if exe is not None:
        dm, t_dm = dustmasker_intervals(exe, fasta)
        dm_list = [iv for r in recs for iv in dm.get(r.name, [])]
        same_dm = len(set(ours_list) & set(dm_list))
        rows.append(
            (
                "... NCBI dustmasker (subprocess, incl. start-up and FASTA parsing)",
                f"{t_dm * 1e3:.0f} ms",
                f"{same_dm:,}/{len(dm_list):,} intervals identical; lists equal: "
                f"{ours_list == dm_list}",
            )
        )
    else:
        rows.append(("... NCBI dustmasker", "not installed", "apt-get install ncbi-blast+"))

    # SDUST on the AT-rich, repeat-rich P. falciparum genome, record by record (each tool
    # masks each chromosome; the times are the sums over the 14 records).
    pf_gz = plasmodium()
    pf_fasta = tmp / "plasmodium.fa"
    pf_fasta.write_bytes(gzip.decompress(pf_gz.read_bytes()))
    pf_recs = [(r.name, r.sequence or b"") for r in read_fastx(pf_fasta)]
    pf_texts = [s.decode() for _, s in pf_recs]
    pf_mbp = sum(len(s) for _, s in pf_recs) / 1e6

    def pf_ours(threads: int) -> list[list[tuple[int, int]]]:
        return [
            [(int(a), int(b)) for a, b in entroseg.dust_mask(s, threads=threads).tolist()]
            for _, s in pf_recs
        ]

    def pf_mask_only(threads: int) -> None:
        for _, s in pf_recs:
            entroseg.dust_mask(s, threads=threads)

    def pf_peer_mask() -> list[list[tuple[int, int]]]:
        return [[tuple(iv) for iv in pydustmasker.DustMasker(t).intervals] for t in pf_texts]  # type: ignore[misc]

    pf_ours1 = pf_ours(1)
    pf_peer = pf_peer_mask()
    pf_count = sum(len(r) for r in pf_ours1)
    pf_same = sum(len(set(a) & set(b)) for a, b in zip(pf_ours1, pf_peer, strict=True))
    pf_peer_count = sum(len(r) for r in pf_peer)
    pf_timed = turns_best(
        {
            "ours1": lambda: pf_mask_only(1),
            "ours": lambda: pf_mask_only(threads),
            # The peer's own result (a list of tuples), as ours is our own (an array).
            "peer": lambda: [pydustmasker.DustMasker(t).intervals for t in pf_texts],
        },
        rounds=3,
    )
    (t_pf1, c_pf1), (t_pf, _), (t_pf_peer, c_pf_peer) = (
        pf_timed["ours1"],
        pf_timed["ours"],
        pf_timed["peer"],
    )
    rows.append(
        (
            f"SDUST P. falciparum ({pf_mbp:.2f} Mbp, {len(pf_recs)} records): entroseg, 1 thread",
            f"{t_pf1 * 1e3:.0f} ms ({pf_mbp / t_pf1:,.1f} Mbp/s); CPU {c_pf1 * 1e3:.0f} ms",
            f"{pf_count:,} intervals",
        )
    )
    rows.append(
        (
            f"... entroseg, {threads} threads",
            f"{t_pf * 1e3:.0f} ms",
            f"identical: {pf_ours(threads) == pf_ours1}",
        )
    )
    rows.append(
        (
            "... pydustmasker",
            f"{t_pf_peer * 1e3:.0f} ms ({pf_mbp / t_pf_peer:,.1f} Mbp/s); "
            f"CPU {c_pf_peer * 1e3:.0f} ms",
            f"{pf_same:,}/{pf_peer_count:,} intervals identical; lists equal: "
            f"{pf_ours1 == pf_peer}",
        )
    )
    rows.append(
        (
            "... speed-up over pydustmasker",
            f"{t_pf_peer / t_pf1:.2f}x (1 thread), {t_pf_peer / t_pf:.2f}x ({threads} threads)",
            f"CPU time, 1 thread: {c_pf_peer / c_pf1:.2f}x; best of 3 rounds, tools taking turns",
        )
    )
    if exe is not None:
        dm, t_dm = dustmasker_intervals(exe, pf_fasta)
        pf_dm = [dm.get(name, []) for name, _ in pf_recs]
        # dustmasker does not split at ambiguous bases (see below), so intervals within a
        # window of one are compared apart.
        ours_far, dm_far, near = set(), set(), 0
        for i, (_, s) in enumerate(pf_recs):
            ambiguous = np.flatnonzero(~np.isin(np.frombuffer(s, np.uint8), list(b"ACGTacgt")))
            ours_far |= {(i, *iv) for iv in pf_ours1[i] if far_from(ambiguous, iv)}
            dm_far |= {(i, *iv) for iv in pf_dm[i] if far_from(ambiguous, iv)}
            near += sum(not far_from(ambiguous, iv) for iv in pf_ours1[i])
        rows.append(
            (
                "... NCBI dustmasker (subprocess, incl. start-up and FASTA parsing)",
                f"{t_dm * 1e3:.0f} ms",
                f"intervals more than a window from an N: {len(ours_far & dm_far):,}/"
                f"{len(dm_far):,} identical, sets equal: {ours_far == dm_far} "
                f"({near} of ours lie near one)",
            )
        )

    # tantan on both genomes, against pydustmasker and Debian's binary.
    rows.extend(tantan_rows([("MG1655", fasta), ("P. falciparum", pf_fasta)], threads))

    # Generated N-rich records: where the implementations' treatment of N shows.
    records = n_rich_records()
    agree_peer = sum(
        entroseg.dust_mask(s).tolist() == [list(iv) for iv in pydustmasker.DustMasker(s).intervals]
        for s in records
    )
    rows.append(
        (
            f"SDUST, {len(records)} generated records (microsatellites, N runs, soft-masking)",
            "",
            f"records identical to pydustmasker: {agree_peer}/{len(records)}",
        )
    )
    if exe is not None:
        gen = tmp / "generated.fa"
        gen.write_text("".join(f">g{i}\n{s}\n" for i, s in enumerate(records)))
        dm, _ = dustmasker_intervals(exe, gen)
        agree_dm = sum(
            entroseg.dust_mask(s).tolist() == [list(iv) for iv in dm.get(f"g{i}", [])]
            for i, s in enumerate(records)
        )
        no_n = [i for i, s in enumerate(records) if "N" not in s]
        agree_dm_no_n = sum(
            entroseg.dust_mask(records[i]).tolist() == [list(iv) for iv in dm.get(f"g{i}", [])]
            for i in no_n
        )
        rows.append(
            (
                "... same records against NCBI dustmasker",
                "",
                f"identical: {agree_dm}/{len(records)} (records without N: "
                f"{agree_dm_no_n}/{len(no_n)})",
            )
        )

    # A repeat-rich worst case: long homopolymers and short-period repeats.
    rng = np.random.default_rng(9)
    units = [b"A", b"CA", b"GAT", b"TTAGGG"]
    worst = b"".join(
        units[int(rng.integers(4))] * int(rng.integers(20, 150))
        + np.frombuffer(b"ACGT", np.uint8)[rng.integers(0, 4, 200)].tobytes()
        for _ in range(2000)
    )
    worst_text = worst.decode()
    t_w_ours = best(lambda: entroseg.dust_mask(worst, threads=1), 3)
    t_w_peer = best(lambda: pydustmasker.DustMasker(worst_text).intervals, 3)
    equal = entroseg.dust_mask(worst).tolist() == [
        list(iv) for iv in pydustmasker.DustMasker(worst_text).intervals
    ]
    rows.append(
        (
            f"SDUST repeat-rich generated ({len(worst) / 1e6:.2f} Mbp): entroseg 1 thread",
            f"{t_w_ours * 1e3:.0f} ms",
            f"pydustmasker {t_w_peer * 1e3:.0f} ms ({t_w_peer / t_w_ours:.2f}x); equal: {equal}",
        )
    )

    if sdust_only:
        print_rows(rows)
        shutil.rmtree(tmp, ignore_errors=True)
        return 0
    longdust_rows(rows)

    # DNA entropy profiles (one thread each).
    for kind, k, window in [
        ("conditional", 3, 1000),
        ("conditional", 8, 1000),
        ("kmer", 3, 1000),
        ("kmer", 6, 1000),
    ]:
        t = best(
            lambda kind=kind, k=k, window=window: entroseg.dna_profile(
                seq, method=kind, **({"k": k} if kind == "kmer" else {"context": k}), window=window
            )
        )  # type: ignore[misc]
        rows.append((f"dna_profile kind={kind} k={k} window={window}", f"{mbp / t:,.0f} Mbp/s", ""))
    t = best(lambda: entroseg.dna_profile(seq, method="conditional", context=3))
    rows.append(("dna_profile conditional k=3, whole genome", f"{mbp / t:,.0f} Mbp/s", ""))
    # Next-base model (online, per base) and model-free tokens built on it.
    for k in (4, 12):
        t = best(lambda k=k: entroseg.dna_profile(seq, method="next_surprisal", context=k))  # type: ignore[misc]
        rows.append((f"dna_profile kind=next_surprisal k={k}", f"{mbp / t:,.1f} Mbp/s", ""))
    t = best(lambda: entroseg.dna_tokens(seq, context=4, target_len=8, max_len=32))
    tokens = entroseg.dna_tokens(seq, context=4, target_len=8, max_len=32)
    rows.append(
        (
            "dna_tokens k=4 target_len=8 max_len=32",
            f"{mbp / t:,.1f} Mbp/s",
            f"{len(tokens):,} tokens, mean length {np.mean(tokens.lengths):.2f}",
        )
    )

    tool = None
    if exe is not None:
        tool = f"{run([exe, '-version']).stdout.splitlines()[0].strip()} ({exe})"
    print_rows(rows, tool)
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


def cli() -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only",
        choices=["sdust", "longdust", "tantan"],
        help="run one masker's rows alone (the full run takes minutes: longdust's peer "
        "spends a few on P. falciparum)",
    )
    args = parser.parse_args()
    if args.only == "sdust":
        return main(sdust_only=True)
    if args.only == "tantan":
        return tantan_only()
    if args.only == "longdust":
        rows: list[tuple[str, str, str]] = []
        longdust_rows(rows)
        print_rows(rows)
        return 0
    return main()


if __name__ == "__main__":
    sys.exit(cli())
