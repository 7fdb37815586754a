"""The ``entroseg`` command line.

``entroseg profile [INPUT]`` computes a rolling entropy profile of a series and prints a
short summary; with no INPUT it runs on the bundled sample (a generated series with four
known regimes, see :mod:`entroseg.sample`).

``entroseg dna mask [FILE]`` writes the SDUST low-complexity intervals of every record of
a FASTA/FASTQ file (plain or compressed; ``-`` reads stdin) as BED, and ``entroseg dna
profile [FILE]`` computes DNA entropy profiles; with no FILE both run on a generated
sample FASTA (see :func:`entroseg.genomic.sample_fasta`).

Exit codes: 0 on success, 2 on bad arguments or unreadable input (one line on stderr,
no traceback).
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO, TextIO

import numpy as np
import numpy.typing as npt

import entroseg
from entroseg import genomic
from entroseg.sample import REGIMES, sample_series

_SPARK = " ▁▂▃▄▅▆▇█"


class CliError(Exception):
    """A user-facing error: printed as one line, exit code 2."""


def _read_series(path: str, column: str | None) -> npt.NDArray[np.float64]:
    """Read a 1-D series from .npy, .csv/.tsv (a named or the first numeric column) or
    plain text (one number per line); ``-`` reads text from stdin."""
    if path != "-" and not Path(path).is_file():
        raise CliError(f"cannot read {path!r}: no such file")
    suffix = Path(path).suffix.lower() if path != "-" else ""
    try:
        if suffix == ".npy":
            values = np.load(path, allow_pickle=False)
            if values.ndim != 1:
                raise CliError(f"{path!r} holds an array of shape {values.shape}; expected 1-D")
            return np.asarray(values, dtype=np.float64)
        if suffix in (".csv", ".tsv"):
            return _read_csv(path, column, "\t" if suffix == ".tsv" else ",")
        text = sys.stdin.read() if path == "-" else Path(path).read_text()
        return np.array([float(v) for v in text.split()], dtype=np.float64)
    except CliError:
        raise
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read {path!r}: {exc}") from None


def _read_csv(path: str, column: str | None, delimiter: str) -> npt.NDArray[np.float64]:
    with open(path, newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        header = next(reader, None)
        if header is None:
            raise CliError(f"{path!r} is empty")
        rows = list(reader)
    if column is None:
        # The first column whose first data cell parses as a number.
        for idx, _ in enumerate(header):
            try:
                float(rows[0][idx])
            except (IndexError, ValueError):
                continue
            break
        else:
            raise CliError(f"{path!r} has no numeric column; name one with --column")
    elif column in header:
        idx = header.index(column)
    else:
        raise CliError(f"column {column!r} not in {path!r} (columns: {', '.join(header)})")
    try:
        return np.array([float(r[idx]) if r[idx] != "" else np.nan for r in rows])
    except (IndexError, ValueError) as exc:
        raise CliError(f"column {header[idx]!r} of {path!r} is not numeric: {exc}") from None


def _sparkline(values: npt.NDArray[np.float64], width: int, lo: float, hi: float) -> str:
    """One character per bucket: the bucket's mean on a 9-level scale over [lo, hi]."""
    finite = np.where(np.isfinite(values), values, np.nan)
    span = hi - lo if hi > lo else 1.0
    buckets = np.array_split(finite, min(width, len(finite)))
    chars = []
    for b in buckets:
        if np.all(np.isnan(b)):
            chars.append(" ")
            continue
        level = (float(np.nanmean(b)) - lo) / span
        chars.append(_SPARK[round(min(max(level, 0.0), 1.0) * (len(_SPARK) - 1))])
    return "".join(chars)


def _profile(args: argparse.Namespace) -> int:
    if args.input is None:
        x, starts = sample_series()
        source = f"bundled sample ({len(REGIMES)} generated regimes: {', '.join(REGIMES)})"
    else:
        x, starts = _read_series(args.input, args.column), None
        source = args.input
    if len(x) == 0:
        raise CliError(f"{source!r} holds no values")
    try:
        profile = entroseg.permutation_entropy(
            x,
            order=args.order,
            delay=args.delay,
            window=args.window,
            weighted=args.weighted,
            nan_policy=args.nan_policy,
        )
    except ValueError as exc:  # entroseg's errors are ValueErrors naming value and limit
        raise CliError(str(exc)) from None
    valid = profile[np.isfinite(profile)]
    print(f"input      {source}")
    print(f"samples    {len(x):,}")
    print(
        f"profile    {'weighted ' if args.weighted else ''}permutation entropy, "
        f"order={args.order}, "
        f"delay={args.delay}, window={args.window} (normalized to [0, 1])"
    )
    if len(valid) == 0:
        print("values     none: every window is incomplete or holds NaN")
    else:
        q = np.quantile(valid, [0.0, 0.25, 0.5, 0.75, 1.0])
        print(
            f"values     min {q[0]:.3f}  q25 {q[1]:.3f}  median {q[2]:.3f}  "
            f"q75 {q[3]:.3f}  max {q[4]:.3f}  ({len(valid):,} complete windows)"
        )
        spark = _sparkline(profile, args.width, float(q[0]), float(q[4]))
        print(f"shape      |{spark}|  (min to max)")
    if starts is not None:
        bounds = [*starts.tolist(), len(x)]
        for name, lo, hi in zip(REGIMES, bounds[:-1], bounds[1:], strict=True):
            seg = profile[lo:hi]
            seg = seg[np.isfinite(seg)]
            mean = f"{seg.mean():.3f}" if len(seg) else "n/a"
            print(f"regime     {name:<14} samples {lo:>6}-{hi - 1:<6} mean entropy {mean}")
    if args.output:
        out = Path(args.output)
        try:
            if out.suffix.lower() == ".npy":
                np.save(out, profile)
            else:
                np.savetxt(out, profile, fmt="%.17g")
        except OSError as exc:
            raise CliError(f"cannot write {str(out)!r}: {exc}") from None
        print(f"written    {out}")
    return 0


class _Progress:
    """A one-line progress report on stderr, refreshed by a background thread (so it
    moves while a long record is read with the GIL released). Off unless stderr is a
    terminal."""

    def __init__(self, label: str, done: Callable[[], int], total: int | None, *, on: bool):
        self.label, self.done, self.total = label, done, total
        self.records = 0
        self.on = on and sys.stderr.isatty()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> _Progress:
        if self.on:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            sys.stderr.write("\r\x1b[2K")
            sys.stderr.flush()

    def _run(self) -> None:
        start = time.monotonic()
        while not self._stop.wait(0.2):
            done = self.done()
            mb = done / 1e6
            rate = mb / max(time.monotonic() - start, 1e-9)
            if self.total:
                frac = min(done / self.total, 1.0)
                bar = "#" * int(frac * 30)
                text = f"{self.label} [{bar:<30}] {frac:4.0%} {mb:,.1f}/{self.total / 1e6:,.1f} MB"
            else:
                text = f"{self.label} {mb:,.1f} MB"
            sys.stderr.write(f"\r\x1b[2K{text}, {self.records:,} records, {rate:,.1f} MB/s")
            sys.stderr.flush()


def _dna_source(path: str | None) -> tuple[str | BinaryIO, int | None]:
    """The input (a path, stdin or the generated sample) and its size when known."""
    if path is None:
        return io.BytesIO(genomic.sample_fasta()), None
    if path == "-":
        return sys.stdin.buffer, None
    size = os.path.getsize(path) if os.path.isfile(path) else None
    return path, size


def _dna_records(args: argparse.Namespace) -> tuple[Iterator[genomic.FastxRecord], _Progress]:
    source, size = _dna_source(args.input)
    try:
        reader = genomic.open_fastx(source, empty=args.empty)
    except (ValueError, OSError) as exc:
        raise CliError(str(exc)) from None
    progress = _Progress(
        f"entroseg dna {args.dna_command}", lambda: reader.bytes_read, size, on=not args.quiet
    )

    def records() -> Iterator[genomic.FastxRecord]:
        it = genomic.iter_records(reader)
        while True:
            try:
                rec = next(it)
            except StopIteration:
                return
            except (ValueError, OSError) as exc:
                raise CliError(str(exc)) from None
            progress.records += 1
            yield rec

    return records(), progress


def _write_intervals(out: Path, rows: list[tuple[str, npt.NDArray[np.int64]]]) -> int:
    if out.suffix.lower() == ".parquet":
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise CliError(
                f"writing {str(out)!r} needs pyarrow (pip install pyarrow); or name a .bed file"
            ) from None
        chrom = [name for name, iv in rows for _ in range(len(iv))]
        empty = np.zeros((0, 2), dtype=np.int64)
        ivs = np.concatenate([iv for _, iv in rows]) if rows else empty
        table = pa.table(
            {"chrom": pa.array(chrom, pa.string()), "start": ivs[:, 0], "end": ivs[:, 1]}
        )
        pq.write_table(table, out)
        return len(chrom)
    with open(out, "w") as fh:
        return genomic.write_bed(rows, fh)


def _dna_mask(args: argparse.Namespace) -> int:
    try:
        entroseg.dust_mask(b"", window=args.window, level=args.level)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    records, progress = _dna_records(args)
    rows: list[tuple[str, npt.NDArray[np.int64]]] = []
    n_records = bases = masked = 0
    stream: TextIO | None = sys.stdout if args.output is None else None
    with progress:
        for rec in records:
            assert rec.sequence is not None
            iv = entroseg.dust_mask(rec.sequence, window=args.window, level=args.level)
            n_records += 1
            bases += len(rec.sequence)
            masked += int((iv[:, 1] - iv[:, 0]).sum())
            if stream is not None:
                genomic.write_bed([(rec.name, iv)], stream)
            else:
                rows.append((rec.name, iv))
    if args.output is not None:
        out = Path(args.output)
        try:
            lines = _write_intervals(out, rows)
        except OSError as exc:
            raise CliError(f"cannot write {str(out)!r}: {exc}") from None
        share = masked / bases if bases else 0.0
        print(f"records    {n_records:,}")
        print(f"bases      {bases:,}")
        print(f"masked     {masked:,} bases ({share:.2%}) in {lines:,} intervals")
        print(f"written    {out}")
    return 0


def _dna_profile(args: argparse.Namespace) -> int:
    if args.kind in ("next_entropy", "next_surprisal"):
        args.window = None  # a per-base model: no window
    try:
        entroseg.dna_profile(b"", kind=args.kind, k=args.k, window=args.window)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    records, progress = _dna_records(args)
    profiles: list[tuple[str, npt.NDArray[np.float64]]] = []
    with progress:
        for rec in records:
            assert rec.sequence is not None
            p = np.asarray(
                entroseg.dna_profile(rec.sequence, kind=args.kind, k=args.k, window=args.window)
            )
            valid = p[np.isfinite(p)]
            if len(valid):
                stats = (
                    f"mean {valid.mean():.3f}  min {valid.min():.3f}  max {valid.max():.3f}  "
                    f"({len(valid):,} values)"
                )
            else:
                stats = "no complete window without ambiguous bases"
            print(f"{rec.name:<20} {len(p):>12,} bases  {stats}")
            if args.output is not None:
                profiles.append((rec.name, p))
    if args.output is not None:
        out = Path(args.output)
        try:
            _write_profiles(out, profiles)
        except OSError as exc:
            raise CliError(f"cannot write {str(out)!r}: {exc}") from None
        print(f"written    {out}")
    return 0


def _dna_tokens(args: argparse.Namespace) -> int:
    options = {
        "kind": args.kind,
        "k": args.k,
        "target_len": None if args.threshold is not None else args.target_len,
        "threshold": args.threshold,
        "min_len": args.min_len,
        "max_len": args.max_len,
    }
    try:
        genomic.dna_tokens(b"ACGT", **options)  # validate the options first
    except ValueError as exc:
        raise CliError(str(exc)) from None
    records, progress = _dna_records(args)
    rows: list[tuple[str, npt.NDArray[np.int64]]] = []
    n_tokens = bases = 0
    stream: TextIO | None = sys.stdout if args.output is None else None
    with progress:
        for rec in records:
            assert rec.sequence is not None
            if len(rec.sequence) == 0:
                continue
            tokens = genomic.dna_tokens(rec.sequence, **options)
            iv = np.stack([tokens.starts, tokens.starts + tokens.lengths], axis=1)
            n_tokens += len(tokens)
            bases += len(rec.sequence)
            if stream is not None:
                genomic.write_bed([(rec.name, iv)], stream)
            else:
                rows.append((rec.name, iv))
    if args.output is not None:
        out = Path(args.output)
        try:
            _write_intervals(out, rows)
        except OSError as exc:
            raise CliError(f"cannot write {str(out)!r}: {exc}") from None
        mean = bases / n_tokens if n_tokens else 0.0
        print(f"bases      {bases:,}")
        print(f"tokens     {n_tokens:,} (mean length {mean:.2f})")
        print(f"written    {out}")
    return 0


def _write_profiles(out: Path, profiles: list[tuple[str, npt.NDArray[np.float64]]]) -> None:
    suffix = out.suffix.lower()
    if suffix == ".npz":
        arrays: dict[str, Any] = dict(profiles)
        np.savez(out, **arrays)
    elif suffix == ".parquet":
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise CliError(
                f"writing {str(out)!r} needs pyarrow (pip install pyarrow); or name a .npz file"
            ) from None
        table = pa.table(
            {
                "chrom": pa.array([n for n, p in profiles for _ in range(len(p))], pa.string()),
                "position": np.concatenate([np.arange(len(p)) for _, p in profiles])
                if profiles
                else np.zeros(0, dtype=np.int64),
                "value": np.concatenate([p for _, p in profiles]) if profiles else np.zeros(0),
            }
        )
        pq.write_table(table, out)
    elif suffix in (".tsv", ".txt"):
        with open(out, "w") as fh:
            for name, p in profiles:
                fh.write("".join(f"{name}\t{i}\t{v!r}\n" for i, v in enumerate(p.tolist())))
    else:
        raise CliError(f"unsupported output {str(out)!r}: name a .npz, .parquet or .tsv file")


def _add_dna(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dna = sub.add_parser(
        "dna",
        help="genomic data: SDUST masks, entropy profiles and tokens of FASTA/FASTQ",
        description=(
            "Genomic data. FILE is FASTA or FASTQ, plain or compressed (gzip, bzip2, xz, "
            "zstd; detected from the content); '-' reads stdin; without FILE a generated "
            "sample FASTA is used."
        ),
    )
    dsub = dna.add_subparsers(dest="dna_command", metavar="COMMAND")
    dsub.required = True

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("input", nargs="?", metavar="FILE", help="FASTA/FASTQ ('-' for stdin)")
        p.add_argument(
            "--empty",
            choices=["raise", "skip", "keep"],
            default="raise",
            help="records without bases: error (default), skip or keep",
        )
        p.add_argument("-q", "--quiet", action="store_true", help="no progress bar on stderr")

    m = dsub.add_parser(
        "mask",
        help="SDUST low-complexity intervals as BED (dustmasker-compatible)",
        description=(
            "Low-complexity intervals of every record by SDUST (the symmetric DUST of NCBI "
            "dustmasker; identical to pydustmasker). Writes BED lines 'name<TAB>start<TAB>"
            "end' (0-based, half-open) to stdout, or to -o FILE: BED, or Parquet (columns "
            "chrom, start, end) for a .parquet name."
        ),
    )
    common(m)
    m.add_argument("--window", type=int, default=64, help="DUST window (default 64)")
    m.add_argument("--level", type=int, default=20, help="DUST level (default 20)")
    m.add_argument("-o", "--output", help="write BED (or .parquet) here instead of stdout")
    m.set_defaults(func=_dna_mask)

    p = dsub.add_parser(
        "profile",
        help="rolling DNA entropy profile of every record, with a summary",
        description=(
            "Rolling k-mer or conditional entropy of every record (normalized to [0, 1]); "
            "prints one summary line per record. -o writes the profiles: .npz (one array "
            "per record), .parquet (chrom, position, value) or .tsv."
        ),
    )
    common(p)
    p.add_argument(
        "--kind",
        choices=["conditional", "kmer", "next_entropy", "next_surprisal"],
        default="conditional",
        help="conditional entropy of a base given k previous ones (default), k-mer entropy, "
        "or an online next-base model's entropy / surprisal per base (no window)",
    )
    p.add_argument(
        "-k", type=int, default=3, help="context bases, k-mer length or model order (default 3)"
    )
    p.add_argument("--window", type=int, default=1000, help="window in bases (default 1000)")
    p.add_argument("-o", "--output", help="write the profiles (.npz, .parquet or .tsv)")
    p.set_defaults(func=_dna_profile)

    t = dsub.add_parser(
        "tokens",
        help="model-free DNA tokens (variable-length words) of every record, as BED",
        description=(
            "Cut every record into variable-length tokens where an online next-base model "
            "is surprised (or by another profile, --kind), with the threshold calibrated to "
            "a mean token length (--target-len) and hard --min-len / --max-len. Writes "
            "'name<TAB>start<TAB>end' lines (0-based, half-open) to stdout, or to -o FILE: "
            "BED, or Parquet (chrom, start, end) for a .parquet name."
        ),
    )
    common(t)
    t.add_argument(
        "--kind",
        choices=["next_surprisal", "next_entropy", "conditional", "kmer"],
        default="next_surprisal",
        help="the per-base score (default next_surprisal)",
    )
    t.add_argument("-k", type=int, default=4, help="model order / context bases (default 4)")
    t.add_argument("--target-len", type=float, default=8.0, help="mean token length (default 8)")
    t.add_argument("--threshold", type=float, help="a fixed threshold instead of --target-len")
    t.add_argument("--min-len", type=int, default=1, help="shortest token (default 1)")
    t.add_argument("--max-len", type=int, default=32, help="longest token (default 32)")
    t.add_argument("-o", "--output", help="write BED (or .parquet) here instead of stdout")
    t.set_defaults(func=_dna_tokens)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(
        prog="entroseg",
        description="Streaming entropy profiles and segmentation.",
    )
    parser.add_argument("--version", action="version", version=f"entroseg {entroseg.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    p = sub.add_parser(
        "profile",
        help="rolling permutation entropy profile of a series, with a summary",
        description=(
            "Compute a rolling permutation-entropy profile and print a summary. INPUT is a "
            ".npy file, a .csv/.tsv file (see --column) or text with one number per line "
            "('-' reads stdin). Without INPUT, runs on the bundled sample series."
        ),
    )
    p.add_argument(
        "input", nargs="?", metavar="INPUT", help="series to profile (default: bundled sample)"
    )
    p.add_argument("--column", help="CSV column to read (default: first numeric column)")
    p.add_argument("--order", type=int, default=4, help="ordinal pattern order (default 4)")
    p.add_argument("--delay", type=int, default=1, help="embedding delay (default 1)")
    p.add_argument("--window", type=int, default=256, help="window in samples (default 256)")
    p.add_argument("--weighted", action="store_true", help="weighted permutation entropy")
    p.add_argument(
        "--nan-policy",
        choices=["raise", "propagate"],
        default="propagate",
        help="NaN handling (default propagate: windows with NaN give NaN)",
    )
    p.add_argument("--width", type=int, default=64, help="width of the text plot (default 64)")
    p.add_argument("-o", "--output", help="write the profile (.npy, or text otherwise)")
    p.set_defaults(func=_profile)
    _add_dna(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``entroseg`` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result: int = args.func(args)
        return result
    except CliError as exc:
        print(f"entroseg: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader of our stdout went away (e.g. `| head`): stop quietly, as Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
