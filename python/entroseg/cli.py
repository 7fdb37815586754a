"""The ``entroseg`` command line.

``entroseg demo`` segments the bundled sample (a generated series with four known
regimes, see :mod:`entroseg.sample`) and shows how segment lengths follow its
information. ``entroseg profile [INPUT]`` computes a rolling entropy profile and
``entroseg segment [INPUT]`` cuts a series into segments, printing a summary or writing
Parquet; ``entroseg plot [INPUT]`` draws signal, profile and segments into a PNG. With no
INPUT they run on the bundled sample. INPUT is a Parquet or Arrow IPC file, a CSV/TSV
file (``--column``), a ``.npy`` array or text with one number per line (``-`` is
stdin); ``--key`` treats each value of a column as its own series. Long inputs show a
progress bar on stderr when it is a terminal (``--quiet`` turns it off).

``entroseg dna mask [FILE]`` writes the SDUST low-complexity intervals of every record of
a FASTA/FASTQ file (plain or compressed; ``-`` reads stdin) as BED, and ``entroseg dna
profile [FILE]`` computes DNA entropy profiles; with no FILE both run on a generated
sample FASTA (see :func:`entroseg.genomic.sample_fasta`).

Exit codes: 0 on success, 2 on bad arguments or unreadable input (one line on stderr,
no traceback).
"""

from __future__ import annotations

import argparse
import importlib
import io
import os
import shutil
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, NoReturn, TextIO

import entroseg
from entroseg._cli_io import CliError
from entroseg._entroseg import FastxReader, _bed_lines, _profile_summary_lines
from entroseg._progress import Progress


class _OnFirstUse:
    """A module imported on first attribute access: each command imports numpy and the
    package's submodules only when it uses them, so that `entroseg dna mask` on a small
    file does not spend most of its time importing them."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(importlib.import_module(self._name), attr)


if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from entroseg import _cli_io as cli_io
    from entroseg import genomic, plot, sample
else:
    np = _OnFirstUse("numpy")
    npt = _OnFirstUse("numpy.typing")
    cli_io = _OnFirstUse("entroseg._cli_io")
    genomic = _OnFirstUse("entroseg.genomic")
    plot = _OnFirstUse("entroseg.plot")
    sample = _OnFirstUse("entroseg.sample")

_SPARK = " ▁▂▃▄▅▆▇█"

#: Samples per streaming step of a single series (progress granularity; any size gives
#: the same result, the estimators being chunk-invariant).
_CHUNK = 1 << 20
#: Series listed in a summary of keyed input.
_MAX_LISTED = 10


def _read_series(path: str, column: str | None) -> npt.NDArray[np.float64]:
    """Read one series (see :func:`entroseg._cli_io.read_series`)."""
    return cli_io.read_series(path, column)


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


class _Input:
    """What a subcommand reads: one series in memory, or a keyed table read lazily."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.key: str | None = getattr(args, "key", None)
        self.truth: npt.NDArray[np.int64] | None = None
        self.x: npt.NDArray[np.float64] | None = None
        self.reader: Any = None
        self.total: int | None = None
        self.column: str | list[str] = args.column or "value"
        # Several comma-separated columns: the channels of one multichannel series.
        names = args.column.split(",") if args.column and "," in args.column else None
        if names is not None and not all(names):
            raise CliError(f"--column {args.column!r} names an empty column")
        if args.input is None:
            if self.key is not None:
                raise CliError("--key needs an input table; the bundled sample is one series")
            if names is not None:
                raise CliError("several --column channels need an input table")
            self.x, self.truth = sample.sample_series()
            regimes = sample.REGIMES
            self.source = f"bundled sample ({len(regimes)} generated regimes: {', '.join(regimes)})"
        elif self.key is None and names is not None:
            if cli_io.suffix_of(args.input) not in (*cli_io.TABLE_SUFFIXES, ".csv", ".tsv"):
                raise CliError(
                    f"several --column channels are read from a table (Parquet, Arrow IPC, "
                    f"CSV/TSV), not {args.input!r}"
                )
            self.x = np.column_stack([cli_io.read_named_series(args.input, n)[0] for n in names])
            self.column = names
            self.source = args.input
        elif self.key is None:
            self.x, self.column = cli_io.read_named_series(args.input, args.column)
            self.source = args.input
        else:
            self.reader, self.total = cli_io.open_table(
                args.input, getattr(args, "batch_size", None)
            )
            if self.reader.schema.get_field_index(self.key) < 0:
                raise CliError(
                    f"key column {self.key!r} not in {args.input!r} "
                    f"(columns: {', '.join(self.reader.schema.names)})"
                )
            self.column = (
                [cli_io.pick_column(self.reader.schema, n, args.input) for n in names]
                if names is not None
                else cli_io.pick_column(self.reader.schema, args.column, args.input)
            )
            self.source = args.input
        if self.x is not None and len(self.x) == 0:
            raise CliError(f"{self.source!r} holds no values")


def _as_symbols(x: npt.NDArray[np.float64], method: str) -> npt.NDArray[Any]:
    """Integer symbols for the symbol methods (the readers give floats)."""
    if method not in ("conditional", "next_symbol"):
        return x
    ok = np.isfinite(x) & (x >= 0) & (x == np.floor(x))
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        raise CliError(
            f"method={method!r} reads integer symbols >= 0; value {x[i]} at index {i} is not one"
        )
    return x.astype(np.int64)


#: Option flags of the profile and of the rules: each is the library option of the same
#: name (``--alphabet-size`` is ``alphabet_size``), unset unless given on the command line.
PROFILE_FLAGS = ("method", "order", "delay", "window", "weighted", "context", "alphabet_size",
                 "degree", "nan_policy", "channels")  # fmt: skip
RULE_FLAGS = ("threshold", "relative", "combine", "min_len", "max_len", "target_len")

#: Where the CLI's defaults differ from the library's, and why: the library asks for a
#: window and a rule, and raises on NaN; a command run on a raw file needs a working
#: choice for each (a 256-sample window of order-4 patterns, a target mean length of 64
#: calibrated online as the file streams, and no value for windows holding NaN).
CLI_DEFAULTS: dict[str, Any] = {
    "order": 4, "window": 256, "nan_policy": "propagate", "target_len": 64.0,
    "calibration": "online",
}  # fmt: skip


def _profile_options(args: argparse.Namespace, default: str = "permutation") -> dict[str, Any]:
    """The profile options of the flags; ``default`` is the method when none is given
    (``segment`` cuts with "line" unless a permutation flag, --order or --window, is
    given; the profile and plot commands show a profile, so "permutation")."""
    opts = {k: getattr(args, k) for k in PROFILE_FLAGS if getattr(args, k) not in (None, False)}
    if default == "line":
        default = entroseg.SegmentSpec.method_of(**opts)
    method = opts.setdefault("method", default)
    if method == "permutation":
        opts.setdefault("order", CLI_DEFAULTS["order"])
    if method in ("permutation", "conditional"):
        opts.setdefault("window", CLI_DEFAULTS["window"])
    opts.setdefault("nan_policy", CLI_DEFAULTS["nan_policy"])
    return opts


def _rule_options(args: argparse.Namespace) -> dict[str, Any]:
    rules = {k: getattr(args, k) for k in RULE_FLAGS if getattr(args, k) is not None}
    if not rules.keys() & {"threshold", "relative", "target_len", "max_len"}:
        rules["target_len"] = CLI_DEFAULTS["target_len"]
    # A stream cannot see the data it has not read: the threshold is calibrated online.
    return {**rules, "calibration": CLI_DEFAULTS["calibration"]}


def _describe_profile(opts: dict[str, Any]) -> str:
    o = {**entroseg.SegmentSpec.defaults(), **opts}
    context = "default" if o["context"] is None else o["context"]
    method = o["method"]
    if method == "permutation":
        kind = f"{'weighted ' if o['weighted'] else ''}permutation entropy"
        return f"{kind}, order={o['order']}, delay={o['delay']}, window={o['window']}"
    if method == "conditional":
        return f"conditional entropy, context={context}, window={o['window']}"
    if method == "next_symbol":
        return f"next-symbol entropy, context={context}"
    if method == "line":
        fit = "its mean" if o["degree"] == 0 else "a least-squares line"
        return f"none: method line cuts where {fit} per segment stops coding the next sample"
    return "the input values as scores"


def _summary_of_values(profile: npt.NDArray[np.float64], width: int) -> None:
    valid = profile[np.isfinite(profile)]
    if len(valid) == 0:
        print("values     none: every window is incomplete or holds NaN")
        return
    q = np.quantile(valid, [0.0, 0.25, 0.5, 0.75, 1.0])
    print(
        f"values     min {q[0]:.3f}  q25 {q[1]:.3f}  median {q[2]:.3f}  "
        f"q75 {q[3]:.3f}  max {q[4]:.3f}  ({len(valid):,} complete windows)"
    )
    spark = _sparkline(profile, width, float(q[0]), float(q[4]))
    print(f"shape      |{spark}|  (min to max)")


def _guard(call: Any, *a: Any, **kw: Any) -> Any:
    """Runs a library call, turning its errors (ValueError / TypeError subclasses that
    name the value and the limit) into one-line CLI errors."""
    try:
        return call(*a, **kw)
    except (ValueError, TypeError, KeyError) as exc:
        raise CliError(" ".join(str(exc).strip("'\"").split())) from None


def _profile(args: argparse.Namespace) -> int:
    opts = _profile_options(args)
    if opts["method"] == "scores":
        raise CliError(
            "method must be 'permutation', 'conditional' or 'next_symbol' to profile "
            "(with 'scores' the profile is the input itself)"
        )
    profiler = _guard(entroseg.Profiler, **opts)  # bad options fail before any reading
    _check_checkpoint_flags(args)
    inp = _Input(args)
    print(f"input      {inp.source}")
    if inp.reader is not None:
        return _profile_keyed(args, inp, opts)
    assert inp.x is not None
    x = _as_symbols(inp.x, args.method)
    parts = []
    with Progress("profile", total=len(x), enabled=Progress.wanted(args.quiet)) as progress:
        for chunk in cli_io.chunks(x, _CHUNK):
            parts.append(_guard(profiler.push, chunk))
            progress.advance(len(chunk))
    profile = np.concatenate(parts)
    print(f"samples    {len(x):,}")
    print(f"profile    {_describe_profile(opts)} (normalized to [0, 1])")
    _summary_of_values(profile, args.width)
    if inp.truth is not None:
        bounds = [*inp.truth.tolist(), len(x)]
        for name, lo, hi in zip(sample.REGIMES, bounds[:-1], bounds[1:], strict=True):
            seg = profile[lo:hi]
            seg = seg[np.isfinite(seg)]
            mean = f"{seg.mean():.3f}" if len(seg) else "n/a"
            print(f"regime     {name:<14} samples {lo:>6}-{hi - 1:<6} mean entropy {mean}")
    if args.output:
        out = Path(args.output)
        suffix = out.suffix.lower()
        if suffix in (".parquet", ".pq"):
            pa = cli_io.require_pyarrow(f"writing {args.output!r}")
            names = inp.column if isinstance(inp.column, list) else [inp.column]
            columns = dict(zip(names, np.asarray(inp.x).reshape(len(profile), -1).T, strict=True))
            cli_io.write_parquet(args.output, pa.table({**columns, "profile": profile}))
        else:
            try:
                if suffix == ".npy":
                    np.save(out, profile)
                else:
                    np.savetxt(out, profile, fmt="%.17g")
            except OSError as exc:
                raise CliError(f"cannot write {str(out)!r}: {exc}") from None
        print(f"written    {out}")
    return 0


def _check_checkpoint_flags(args: argparse.Namespace) -> None:
    if args.checkpoint is None and args.checkpoint_every is not None:
        raise CliError(
            "--checkpoint-every sets how often --checkpoint is written: give --checkpoint"
        )
    if args.checkpoint is not None and args.key is None:
        raise CliError(
            "--checkpoint resumes the keyed streaming step: give --key with a table input "
            "(Parquet, Arrow IPC or CSV)"
        )


def _resume_options(args: argparse.Namespace) -> tuple[_CommittedParts | None, dict[str, Any]]:
    """The part files and the step's checkpoint options of ``--checkpoint`` (none
    without it)."""
    if args.checkpoint is None:
        return None, {}
    parts = _guard(_CommittedParts, Path(args.checkpoint))
    if parts.position is not None:
        print(
            f"resumed    from {args.checkpoint} (checkpoint {parts.position.checkpoints}: "
            f"{parts.position.input_rows:,} input rows consumed, "
            f"{parts.position.output_rows:,} rows written)"
        )
    resume: dict[str, Any] = {"checkpoint": args.checkpoint, "on_checkpoint": parts.commit}
    if args.checkpoint_every is not None:
        resume["checkpoint_every"] = args.checkpoint_every
    return parts, resume


def _profile_keyed(args: argparse.Namespace, inp: _Input, opts: dict[str, Any]) -> int:
    from entroseg.arrow import profile_stream

    pa = cli_io.require_pyarrow("--key")
    if args.output and Path(args.output).suffix.lower() not in (".parquet", ".pq"):
        raise CliError(f"with --key the profile is written as Parquet; got {args.output!r}")
    assert inp.key is not None
    key = inp.key
    sums: dict[Any, list[float]] = {}
    writer = None
    parts, resume = _resume_options(args)
    # With --checkpoint the output is written from the committed parts once the input
    # ends, into a file beside it that is then renamed over it.
    target = args.output
    if parts is not None and args.output:
        target = str(Path(args.output).with_name(f".{Path(args.output).stem}.partial.parquet"))

    def consume(batch: Any) -> None:
        nonlocal writer
        if target and writer is None:
            import pyarrow.parquet as pq

            writer = pq.ParquetWriter(target, batch.schema)
        if writer is not None:
            writer.write_batch(batch)
        keys = batch.column(key).to_pylist()
        prof = batch.column("profile").to_numpy(zero_copy_only=False)
        for k, v in zip(keys, prof, strict=True):
            acc = sums.setdefault(k, [0, 0.0, 0])
            acc[0] += 1
            if np.isfinite(v):
                acc[1] += v
                acc[2] += 1

    with Progress(
        "profile", total=inp.total, unit="rows", enabled=Progress.wanted(args.quiet)
    ) as progress:
        stream = _guard(
            profile_stream, cli_io.counted(inp.reader, progress.advance), value_column=inp.column,
            key_column=inp.key, **opts, **resume,
        )  # fmt: skip
        try:
            if parts is None:
                for batch in _guard(iter, stream):
                    consume(batch)
            else:
                parts.schema = stream.schema
                for batch in _guard(iter, stream):
                    parts.add(batch)
                for batch in parts.batches():
                    consume(batch)
        except (pa.ArrowInvalid, ValueError, TypeError, OSError) as exc:
            raise CliError(" ".join(str(exc).split())) from None
        finally:
            if writer is not None:
                writer.close()
    if parts is not None:
        if args.output:
            from entroseg._resume import commit_file

            try:
                commit_file(Path(target), Path(args.output))
            except OSError as exc:
                raise CliError(f"cannot write {args.output!r}: {exc}") from None
        parts.remove()
    rows = sum(a[0] for a in sums.values())
    print(f"rows       {rows:,} in {len(sums):,} series (key {inp.key!r})")
    print(f"profile    {_describe_profile(opts)} of {inp.column!r} (normalized to [0, 1])")
    for k, (n, total, count) in list(sums.items())[:_MAX_LISTED]:
        mean = f"{total / count:.3f}" if count else "n/a"
        print(f"series     {k!s:<14} rows {n:>9,}  mean entropy {mean}")
    if len(sums) > _MAX_LISTED:
        print(f"           ... and {len(sums) - _MAX_LISTED:,} more")
    if args.output:
        print(f"written    {args.output}")
    return 0


def _segment_series(x: npt.NDArray[Any], opts: dict[str, Any], quiet: bool) -> entroseg.Segments:
    """Segments of one series through the streaming segmenter (progress per chunk)."""
    seg = _guard(entroseg.Segmenter, **opts)
    parts = []
    with Progress("segment", total=len(x), enabled=Progress.wanted(quiet)) as progress:
        for chunk in cli_io.chunks(x, _CHUNK):
            parts.append(_guard(seg.push, chunk))
            progress.advance(len(chunk))
    parts.append(seg.finish())
    return entroseg.Segments.join(parts)


def _print_segments(seg: entroseg.Segments, n: int) -> None:
    lengths = seg.lengths
    q = np.quantile(lengths, [0.0, 0.5, 1.0])
    print(
        f"segments   {len(seg):,}, mean length {n / len(seg):.1f}, "
        f"min {int(q[0])}, median {q[1]:g}, max {int(q[2])}"
    )
    names, counts = np.unique(seg.reason_names, return_counts=True)
    print("reasons    " + ", ".join(f"{a} {int(b):,}" for a, b in zip(names, counts, strict=True)))


def _print_regimes(seg: entroseg.Segments, truth: npt.NDArray[np.int64], n: int) -> None:
    bounds = [*truth.tolist(), n]
    for name, lo, hi in zip(sample.REGIMES, bounds[:-1], bounds[1:], strict=True):
        inside = (seg.starts >= lo) & (seg.starts < hi)
        count = int(inside.sum())
        mean = f"{seg.lengths[inside].mean():7.1f}" if count else "    n/a"
        print(f"regime     {name:<14} samples {lo:>6}-{hi - 1:<6} segments {count:>5}  "
              f"mean length {mean}")  # fmt: skip


def _rule_text(opts: dict[str, Any]) -> str:
    opts = {**entroseg.SegmentSpec.defaults(), **opts}
    parts = [f"{k}={opts[k]:g}" for k in ("threshold", "relative") if opts[k] is not None]
    if opts["target_len"] is not None:
        parts.append(f"target_len={opts['target_len']:g} (online calibration)")
    if opts["combine"]:
        parts.append(f"combine={opts['combine']}")
    parts.append(f"min_len={opts['min_len']}")
    if opts["max_len"] is not None:
        parts.append(f"max_len={opts['max_len']}")
    return ", ".join(parts)


def _segment(args: argparse.Namespace) -> int:
    popts = _profile_options(args, default="line")
    opts = {**popts, **_rule_options(args)}
    _guard(entroseg.Segmenter, **opts)  # bad options fail before any reading
    merge = _merge_options(args)
    _check_checkpoint_flags(args)
    inp = _Input(args)
    print(f"input      {inp.source}")
    if inp.reader is not None:
        return _segment_keyed(args, inp, opts, merge)
    assert inp.x is not None
    x = _as_symbols(inp.x, args.method)
    if merge is not None and (x.dtype.kind != "f" or x.ndim != 1):
        raise CliError(
            "--merge-* plans over the mean value of each segment: one float series, not "
            "symbols nor several channels"
        )
    seg = _segment_series(x, opts, args.quiet)
    print(f"samples    {len(x):,}")
    print(f"profile    {_describe_profile(popts)}")
    print(f"rule       {_rule_text(opts)}")
    _print_segments(seg, len(x))
    if inp.truth is not None:
        _print_regimes(seg, inp.truth, len(x))
    table = seg.to_arrow().drop_columns(["series"])
    if merge is not None:
        # The plan segment_stream(..., merge=...) makes, on the whole series at once.
        plan = _guard(entroseg.merge_plan, seg, profile=x, weights=seg.lengths, **merge)
        for level, lv in enumerate(plan):
            table = table.append_column(f"group_{level}", cli_io.require_pyarrow("merge")
                                        .array(lv.source.astype(np.int64)))  # fmt: skip
        _print_merge(table, merge, None)
    if args.output:
        _write_segments(args.output, table)
    return 0


def _write_segments(path: str, table: Any, *, atomically: bool = False) -> None:
    """Writes the segments as Parquet or CSV; ``atomically``: into a file beside
    ``path``, then renamed over it (a kill leaves the old file or the new one)."""
    suffix = Path(path).suffix.lower()
    final = path
    if atomically:
        # The same suffix, so that the writer is chosen by the name as for ``path``.
        path = str(Path(path).with_name(f".{Path(path).stem}.partial{Path(path).suffix}"))
    if suffix in (".parquet", ".pq"):
        cli_io.write_parquet(path, table)
    elif suffix == ".csv":
        import pyarrow.csv as pcsv

        try:
            pcsv.write_csv(table.cast(table.schema.set(
                table.schema.get_field_index("reason"),
                table.schema.field("reason").with_type(cli_io.require_pyarrow("csv").string()),
            )), path)  # fmt: skip
        except OSError as exc:
            raise CliError(f"cannot write {path!r}: {exc}") from None
    else:
        raise CliError(f"segments are written as .parquet or .csv, got {path!r}")
    if atomically:
        from entroseg._resume import commit_file

        try:
            commit_file(Path(path), Path(final))
        except OSError as exc:
            raise CliError(f"cannot write {final!r}: {exc}") from None
    print(f"written    {final}")


def _segment_keyed(
    args: argparse.Namespace, inp: _Input, opts: dict[str, Any], merge: dict[str, Any] | None
) -> int:
    from entroseg.arrow import segment_stream

    pa = cli_io.require_pyarrow("--key")
    if args.output and Path(args.output).suffix.lower() not in (".parquet", ".pq", ".csv"):
        raise CliError(f"segments are written as .parquet or .csv, got {args.output!r}")
    parts, resume = _resume_options(args)
    with Progress(
        "segment", total=inp.total, unit="rows", enabled=Progress.wanted(args.quiet)
    ) as progress:
        stream = _guard(
            segment_stream, cli_io.counted(inp.reader, progress.advance), value_column=inp.column,
            key_column=inp.key, merge=merge, **opts, **resume,
        )  # fmt: skip
        try:
            if parts is None:
                table = stream.read_all()
            else:
                parts.schema = stream.schema
                for batch in stream:
                    parts.add(batch)
                table = parts.table()
        except (pa.ArrowInvalid, ValueError, TypeError, OSError) as exc:
            raise CliError(" ".join(str(exc).split())) from None
    assert inp.key is not None
    keys = table.column(inp.key).to_pylist()
    lengths = table.column("length").to_numpy()
    per_key: dict[Any, list[int]] = {}
    for k, n in zip(keys, lengths.tolist(), strict=True):
        acc = per_key.setdefault(k, [0, 0])
        acc[0] += 1
        acc[1] += n
    rows = int(lengths.sum())
    print(f"rows       {rows:,} in {len(per_key):,} series (key {inp.key!r})")
    print(f"profile    {_describe_profile(opts)} of {inp.column!r}")
    print(f"rule       {_rule_text(opts)}")
    if len(table):
        print(f"segments   {len(table):,}, mean length {rows / len(table):.1f}, "
              f"max {int(lengths.max())}")  # fmt: skip
    for k, (count, n) in list(per_key.items())[:_MAX_LISTED]:
        print(f"series     {k!s:<14} rows {n:>9,}  segments {count:>7,}  "
              f"mean length {n / count:.1f}")  # fmt: skip
    if len(per_key) > _MAX_LISTED:
        print(f"           ... and {len(per_key) - _MAX_LISTED:,} more")
    if merge is not None:
        _print_merge(table, merge, inp.key)
    if args.output:
        _write_segments(args.output, table, atomically=parts is not None)
    if parts is not None:
        parts.remove()
    return 0


class _CommittedParts:
    """The output of a checkpointed ``segment --key`` run, committed at checkpoints.

    Parquet and CSV files cannot be committed row by row (a Parquet file is unreadable
    until its footer is written), so the rows emitted between two checkpoints go into a
    part file, ``CHECKPOINT.parts/part-NNNNNNNN.arrow`` (Arrow IPC, numbered by the
    checkpoint that commits it, written atomically), just before that checkpoint is
    written. On resume the parts of later checkpoints (written before a kill that came
    before their checkpoint) are deleted: what remains is exactly the output the
    checkpoint counts, and the resumed step emits the rest. The output file is written
    from the parts once the stream ends, as an uninterrupted run writes it (into a file
    beside it, renamed over it: a kill leaves the old output or the new); then the
    checkpoint and the parts are removed (a kill in between leaves a finished checkpoint,
    and a rerun writes the output again from the parts).
    """

    def __init__(self, checkpoint: Path) -> None:
        from entroseg.arrow import resume_position

        self.checkpoint = checkpoint
        self.directory = Path(f"{checkpoint}.parts")
        position = resume_position(checkpoint)
        self.position = position
        self.committed = 0 if position is None else position.checkpoints
        try:
            if position is None and self.directory.exists():
                shutil.rmtree(self.directory)  # a run that never reached its first checkpoint
            self.directory.mkdir(parents=True, exist_ok=True)
            for f in self.directory.iterdir():
                if not f.name.startswith("part-") or self._index(f) >= self.committed:
                    f.unlink()
        except OSError as exc:
            raise CliError(f"cannot prepare {str(self.directory)!r}: {exc}") from None
        missing = [i for i in range(self.committed) if not self._part(i).is_file()]
        if missing:
            raise CliError(
                f"checkpoint {str(checkpoint)!r} counts {self.committed} committed part files "
                f"but {str(self._part(missing[0]))!r} is missing; delete the checkpoint to "
                "start again from the first row"
            )
        self.pending: list[Any] = []
        self.schema: Any = None  # the stream's, set before it is read

    def _part(self, index: int) -> Path:
        return self.directory / f"part-{index:08d}.arrow"

    @staticmethod
    def _index(path: Path) -> int:
        stem = path.name.removeprefix("part-").removesuffix(".arrow")
        return int(stem) if stem.isdigit() and path.suffix == ".arrow" else -1

    def add(self, batch: Any) -> None:
        self.pending.append(batch)

    def commit(self, position: Any) -> None:
        """``on_checkpoint``: the rows since the last checkpoint become a part file."""
        import pyarrow as pa

        from entroseg._resume import write_atomically

        sink = pa.BufferOutputStream()
        with pa.ipc.new_file(sink, self.schema) as writer:
            for batch in self.pending:
                writer.write_batch(batch)
        write_atomically(self._part(position.checkpoints - 1), sink.getvalue().to_pybytes())
        self.committed = position.checkpoints
        self.pending = []

    def batches(self) -> Iterator[Any]:
        """Every batch of the finished stream, in order, one part in memory at a time;
        the rows are checked against the count of the final checkpoint."""
        import pyarrow as pa

        from entroseg.arrow import resume_position

        position = resume_position(self.checkpoint)
        rows = 0
        for i in range(self.committed):
            reader = pa.ipc.open_file(self._part(i))
            for b in range(reader.num_record_batches):
                batch = reader.get_batch(b)
                rows += batch.num_rows
                yield batch
        if (
            self.pending
            or position is None
            or not position.finished
            or (position.output_rows != rows)
        ):
            raise CliError(
                f"the part files of {str(self.checkpoint)!r} hold {rows:,} rows, its final "
                f"checkpoint counts {position and position.output_rows}: delete the "
                "checkpoint to start again from the first row"
            )

    def table(self) -> Any:
        """Every row of the finished stream, in order (see :meth:`batches`)."""
        import pyarrow as pa

        return pa.Table.from_batches(list(self.batches()), self.schema)

    def remove(self) -> None:
        """The run is complete and its output written: the checkpoint goes first (a
        kill after that leaves parts that the next run clears), then the parts."""
        try:
            self.checkpoint.unlink(missing_ok=True)
            shutil.rmtree(self.directory, ignore_errors=True)
        except OSError as exc:
            raise CliError(f"cannot remove {str(self.checkpoint)!r}: {exc}") from None


def _load_one_series(args: argparse.Namespace) -> tuple[npt.NDArray[Any], Any, str]:
    """The series to plot: the input, or with --key the rows of one key (--series)."""
    if args.key is None:
        inp = _Input(args)
        assert inp.x is not None
        if inp.x.ndim != 1:
            raise CliError("plot draws one series: give one --column")
        return inp.x, inp.truth, inp.source
    reader, _ = cli_io.open_table(args.input)
    if reader.schema.get_field_index(args.key) < 0:
        raise CliError(f"key column {args.key!r} not in {args.input!r}")
    column = cli_io.pick_column(reader.schema, args.column, args.input)
    pa = cli_io.require_pyarrow("--key")
    wanted = args.series
    parts = []
    for batch in reader:
        keys = batch.column(args.key)
        if wanted is None and len(keys):
            wanted = keys[0].as_py()
        import pyarrow.compute as pc

        mask = pc.equal(keys.cast(pa.string()), pa.scalar(str(wanted)))
        picked = batch.filter(mask).column(column)
        parts.append(picked.cast(pa.float64()).fill_null(np.nan).to_numpy(zero_copy_only=False))
    x = np.concatenate(parts) if parts else np.zeros(0)
    if len(x) == 0:
        raise CliError(f"no rows with {args.key} = {wanted!r} in {args.input!r}")
    return x, None, f"{args.input} ({args.key} = {wanted})"


def _plot(args: argparse.Namespace) -> int:
    popts = _profile_options(args)
    opts = {**popts, **_rule_options(args)}
    _guard(entroseg.Segmenter, **opts)
    if args.series is not None and args.key is None:
        raise CliError("--series picks a series of --key; give --key too")
    x, truth, source = _load_one_series(args)
    x = _as_symbols(x, args.method)
    seg = _segment_series(x, opts, args.quiet)
    profile = _guard(plot.score_profile, x, **popts)
    try:
        plot.plot_segments(x, seg, profile=profile, truth=truth, path=args.output,
                               title=f"{source}: {len(seg):,} segments")  # fmt: skip
    except ImportError as exc:
        raise CliError(str(exc)) from None
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot write {args.output!r}: {' '.join(str(exc).split())}") from None
    print(f"input      {source}")
    print(f"samples    {len(x):,}")
    _print_segments(seg, len(x))
    print(f"written    {args.output}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from entroseg.metrics import reconstruction_error

    x, truth = sample.sample_series()
    opts: dict[str, Any] = dict(target_len=32.0, max_len=128)
    print(f"input      bundled sample: {len(x):,} samples in {len(sample.REGIMES)} generated "
          f"regimes ({', '.join(sample.REGIMES)})")  # fmt: skip
    print("task       cut it into patches a model can represent: a segment closes where a")
    print("           least-squares line through it stops coding the next sample (method")
    print("           'line', the default), one price calibrated to a mean length of 32,")
    print("           no segment longer than 128")
    seg = entroseg.segment(x, **opts)
    _print_segments(seg, len(x))
    _print_regimes(seg, truth, len(x))
    count = len(seg)
    fixed = np.linspace(0, len(x), count, endpoint=False).astype(np.int64)
    for basis, name in (("line", "a line"), ("dct", "4 DCT coefficients")):
        ratio = reconstruction_error(x, seg.starts, basis=basis) / reconstruction_error(
            x, fixed, basis=basis
        )
        print(f"error      {name} per segment leaves {ratio:.0%} of the error of {count} "
              "fixed patches")  # fmt: skip
    cu = seg.cu_seqlens
    print(f"cu_seqlens {cu[:6].tolist()} ... {cu[-1]} (int32, for varlen attention)")
    print("           tokens go where a line per patch errs: the random walk's turns and")
    print("           the loud white noise (whose variance squared error counts; no patch")
    print("           can code it); the sine and the logistic map, small or smooth, get few")
    if args.plot:
        try:
            plot.plot_segments(x, seg, truth=truth, path=args.plot,
                               title="entroseg demo: bundled sample")  # fmt: skip
        except ImportError as exc:
            raise CliError(str(exc)) from None
        except (OSError, ValueError) as exc:
            raise CliError(f"cannot write {args.plot!r}: {' '.join(str(exc).split())}") from None
        print(f"written    {args.plot}")
    print("next       entroseg segment data.parquet --column x --key device -o segments.parquet")
    return 0


class _Parser(argparse.ArgumentParser):
    """Bad arguments: one line on stderr and exit code 2 (argparse prints the usage
    first; the usage is one ``--help`` away)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _add_input_args(p: argparse.ArgumentParser, *, key: bool = True) -> None:
    p.add_argument(
        "input",
        nargs="?",
        metavar="INPUT",
        help="Parquet, Arrow IPC, CSV/TSV, .npy or text file; '-' is stdin "
        "(default: the bundled sample)",
    )
    p.add_argument(
        "--column",
        help="column holding the series (default: the first numeric column); segment and "
        "profile take several, comma-separated, as the channels of one series",
    )
    if key:
        p.add_argument("--key", help="column naming the series: one series per value")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def _add_profile_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("entropy profile")
    g.add_argument(
        "--method",
        choices=["line", "permutation", "conditional", "next_symbol", "scores"],
        help="segment: line (default; short segments where a line per segment cannot "
        "follow the series) or a profile to cut: permutation entropy of a real series "
        "(the default of profile and plot, and of segment with --order or --window), "
        "conditional or next-symbol entropy of integer symbols, or the values as scores",
    )
    g.add_argument(
        "--degree", type=int, help="method line: 0 fits each segment's mean, 1 a line (default)"
    )
    g.add_argument(
        "--order", type=int, help=f"ordinal pattern order (default {CLI_DEFAULTS['order']})"
    )
    g.add_argument("--delay", type=int, help="embedding delay (default 1)")
    g.add_argument(
        "--window", type=int, help=f"window in samples (default {CLI_DEFAULTS['window']})"
    )
    g.add_argument("--weighted", action="store_true", help="weighted permutation entropy")
    g.add_argument(
        "--context",
        type=int,
        help="context length of the symbol methods (default: conditional 2, next_symbol 3)",
    )
    g.add_argument("--alphabet-size", type=int, help="symbols of the symbol methods")
    g.add_argument(
        "--nan-policy",
        choices=["raise", "propagate"],
        help="NaN handling (default propagate: windows with NaN give no value)",
    )
    g.add_argument(
        "--channels",
        choices=["sum", "max", "pooled"],
        help="several --column channels: sum (default) or max of the channels' profiles "
        "(method line: of their fits' residual increases), or pooled ordinal patterns "
        "(permutation only)",
    )


def _add_rule_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group(
        "segment rules", f"default without a rule: --target-len {CLI_DEFAULTS['target_len']:g}"
    )
    g.add_argument("--threshold", type=float, help="a segment starts where entropy > this")
    g.add_argument("--relative", type=float, help="... or where it rises by more than this")
    g.add_argument("--combine", choices=["and", "or"], help="with both --threshold and --relative")
    g.add_argument("--target-len", type=float, help="calibrate the threshold to this mean length")
    g.add_argument("--min-len", type=int, help="shortest segment (default 1)")
    g.add_argument("--max-len", type=int, help="longest segment")


def _add_merge_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group(
        "merge plan",
        "with --merge-ratio or --merge-threshold, also plan merges of each series' segments "
        "(each a unit weighted by its length, described by its mean value) in blocks of "
        "--merge-block segments, streaming; the output gains group_0 ... group_{levels-1}",
    )
    g.add_argument("--merge-ratio", type=float, help="keep this share of segments per block")
    g.add_argument(
        "--merge-threshold", type=float, help="merge pairs whose similarity is above this"
    )
    g.add_argument("--merge-levels", type=int, default=2, help="merge levels (default 2)")
    g.add_argument(
        "--merge-window", type=int, default=16, help="most segments in one group (default 16)"
    )
    g.add_argument(
        "--merge-block", type=int, default=256, help="segments planned together (default 256)"
    )


def _add_checkpoint_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group(
        "exactly-once resume (with --key)",
        "with --checkpoint PATH, every key's state and the input position are written "
        "atomically to PATH every --checkpoint-every input batches, and the rows emitted "
        "before it are committed to part files in PATH.parts/. Killed at any moment and "
        "run again with the same arguments, the command skips the input already consumed "
        "and drops the rows emitted after the last checkpoint (they are emitted again): "
        "the output equals an uninterrupted run's, byte for byte. The output file is "
        "written once the input ends, beside its name and renamed into place; then PATH "
        "and PATH.parts/ are removed. A torn or corrupt PATH, or one written with other "
        "arguments or for other input, is an error naming it.",
    )
    g.add_argument("--checkpoint", metavar="PATH", help="checkpoint file (resumed when present)")
    g.add_argument(
        "--checkpoint-every",
        type=int,
        metavar="N",
        help="input batches between checkpoints (default 64)",
    )
    g.add_argument(
        "--batch-size",
        type=int,
        metavar="ROWS",
        help="rows per input batch read from a Parquet file (default 65536): with "
        "--checkpoint-every, how much input a checkpoint covers",
    )


def _merge_options(args: argparse.Namespace) -> dict[str, Any] | None:
    """The merge= options of ``segment_stream`` from the flags (None without a merge)."""
    ratio = getattr(args, "merge_ratio", None)
    threshold = getattr(args, "merge_threshold", None)
    if ratio is None and threshold is None:
        return None
    if ratio is not None and threshold is not None:
        raise CliError("give one of --merge-ratio and --merge-threshold, not both")
    opts: dict[str, Any] = {"block": args.merge_block, "window": args.merge_window,
                            "levels": args.merge_levels}  # fmt: skip
    opts["ratio" if ratio is not None else "threshold"] = ratio if ratio is not None else threshold
    planner_options = {k: v for k, v in opts.items() if k != "block"}
    _guard(entroseg.MergePlanner, block=opts["block"], similarity="profile", **planner_options)
    return opts


def _print_merge(table: Any, merge: dict[str, Any], key: str | None) -> None:
    levels = [n for n in table.column_names if n.startswith("group_")]
    rule = "ratio" if "ratio" in merge else "threshold"
    print(f"merge      {rule}={merge[rule]:g}, {len(levels)} levels, window {merge['window']}, "
          f"blocks of {merge['block']} segments")  # fmt: skip
    counts = []
    for name in levels:
        groups = table.column(name).to_numpy()
        if key is None:
            counts.append(int(groups.max()) + 1 if len(groups) else 0)
        else:
            keys = table.column(key).to_pylist()
            top: dict[Any, int] = {}
            for k, g in zip(keys, groups.tolist(), strict=True):
                top[k] = max(top.get(k, -1), g)
            counts.append(sum(v + 1 for v in top.values()))
    print(f"groups     {len(table):,} segments -> " + " -> ".join(f"{c:,}" for c in counts))


def _dna_source(path: str | None) -> tuple[str | BinaryIO, int | None]:
    """The input (a path, stdin or the generated sample) and its size when known."""
    if path is None:
        return io.BytesIO(genomic.sample_fasta()), None
    if path == "-":
        return sys.stdin.buffer, None
    size = os.path.getsize(path) if os.path.isfile(path) else None
    return path, size


def _dna_batches(
    args: argparse.Namespace, batch_bases: int | None = None
) -> tuple[Iterator[genomic.FastxBatch], Progress]:
    """The input's records in batches (memory bounded by the batch size), and a progress
    bar over the input's bytes that also counts bases and records."""
    reader, progress = _dna_reader(args)

    def batches() -> Iterator[genomic.FastxBatch]:
        it = genomic.iter_batches(
            reader,
            batch_bases=genomic.DEFAULT_BATCH_BASES if batch_bases is None else batch_bases,
        )
        while True:
            try:
                batch = next(it)
            except StopIteration:
                return
            except (ValueError, OSError) as exc:
                raise CliError(str(exc)) from None
            progress.advance(0, count=len(batch), bases=batch.bases)
            yield batch

    return batches(), progress


def _dna_reader(args: argparse.Namespace) -> tuple[FastxReader, Progress]:
    """The native reader of the input and a progress bar over the input's bytes that
    also counts bases and records (the caller advances it per batch)."""
    source, size = _dna_source(args.input)
    try:
        reader = FastxReader(source, empty=args.empty)
    except (ValueError, OSError) as exc:
        raise CliError(str(exc)) from None
    # Polled: the bar moves while a batch is read with the GIL released.
    progress = Progress(
        f"entroseg dna {args.dna_command}",
        total=size,
        unit="MB",
        scale=1e6,
        counted="records",
        bases=True,
        poll=lambda: reader.bytes_read,
        enabled=Progress.wanted(args.quiet),
    )
    return reader, progress


class _IntervalSink:
    """Writes per-record intervals batch by batch: BED lines to stdout or a file, or
    Parquet row groups (columns chrom, start, end), so nothing accumulates."""

    def __init__(self, output: str | None) -> None:
        self.path = None if output is None else Path(output)
        self.lines = 0
        self._text: TextIO | None = None
        self._parquet: Any = None
        self._pa: Any = None
        if self.path is None:
            self._text = sys.stdout
        elif self.path.suffix.lower() == ".parquet":
            try:
                import pyarrow as pa
                import pyarrow.parquet as pq
            except ImportError:
                raise CliError(
                    f"writing {str(self.path)!r} needs pyarrow (pip install pyarrow); or name a "
                    ".bed file"
                ) from None
            self._pa = pa
            schema = pa.schema([("chrom", pa.string()), ("start", pa.int64()), ("end", pa.int64())])
            self._parquet = self._open(lambda p: pq.ParquetWriter(p, schema))
        else:
            self._text = self._open(lambda p: open(p, "w"))

    def _open(self, how: Callable[[Path], Any]) -> Any:
        assert self.path is not None
        try:
            return how(self.path)
        except OSError as exc:
            raise CliError(f"cannot write {str(self.path)!r}: {exc}") from None

    def write(
        self,
        batch: genomic.FastxBatch,
        starts: npt.NDArray[np.int64],
        ends: npt.NDArray[np.int64],
        offsets: npt.NDArray[np.int64],
    ) -> None:
        if len(starts) == 0:
            return
        self.lines += len(starts)
        try:
            if self._parquet is not None:
                pa = self._pa
                record = np.repeat(np.arange(len(batch)), np.diff(offsets))
                chrom = pa.array(batch.names(), pa.string()).take(record)
                self._parquet.write_table(pa.table({"chrom": chrom, "start": starts, "end": ends}))
            else:
                assert self._text is not None
                text = _bed_lines(batch.names_buffer, batch.name_offsets, starts, ends, offsets)
                self._text.write(text.decode("utf-8", "replace"))
        except OSError as exc:
            raise CliError(f"cannot write {str(self.path or 'stdout')!r}: {exc}") from None

    @property
    def text(self) -> bool:
        """Whether the output is BED text (else Parquet)."""
        return self._text is not None

    def write_bed(self, text: bytes, lines: int) -> None:
        """Writes BED lines formatted in Rust (a text sink only)."""
        if not lines:
            return
        self.lines += lines
        assert self._text is not None
        try:
            self._text.write(text.decode("utf-8", "replace"))
        except OSError as exc:
            raise CliError(f"cannot write {str(self.path or 'stdout')!r}: {exc}") from None

    def close(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
        elif self.path is not None and self._text is not None:
            self._text.close()


def _intervals_by_batch(
    args: argparse.Namespace,
    intervals_of: Callable[
        [genomic.FastxBatch],
        tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]],
    ],
    batch_bases: int | None = None,
) -> tuple[int, int, int, int, Path | None]:
    """Runs `intervals_of` (starts, ends and per-record offsets) on every batch and writes
    the intervals as they come: BED lines to stdout, or to ``-o`` (BED or Parquet).
    Returns the records, bases, bases covered, intervals written and the output path
    (None for stdout)."""
    batches, progress = _dna_batches(args, batch_bases)
    sink = _IntervalSink(args.output)
    n_records = bases = covered = 0
    try:
        with progress:
            for batch in batches:
                starts, ends, offsets = intervals_of(batch)
                n_records += len(batch)
                bases += batch.bases
                covered += int((ends - starts).sum())
                sink.write(batch, starts, ends, offsets)
    finally:
        sink.close()
    return n_records, bases, covered, sink.lines, sink.path


def _dna_mask_bed(args: argparse.Namespace) -> tuple[int, int, int, int, Path | None]:
    """``entroseg dna mask`` to BED text: each batch is read, masked and formatted in
    Rust (no numpy; numpy's import alone is a large share of masking 100,000 reads).
    Returns what :func:`_intervals_by_batch` returns."""
    reader, progress = _dna_reader(args)
    sink = _IntervalSink(args.output)
    n_records = bases = masked = 0
    try:
        with progress:
            while True:
                try:
                    got = reader._dust_bed_batch(window=args.window, level=args.level)
                except (ValueError, OSError) as exc:
                    raise CliError(str(exc)) from None
                if got is None:
                    break
                text, records, batch_bases, batch_masked, lines = got
                progress.advance(0, count=records, bases=batch_bases)
                n_records += records
                bases += batch_bases
                masked += batch_masked
                sink.write_bed(text, lines)
    finally:
        sink.close()
    return n_records, bases, masked, sink.lines, sink.path


#: The flags of one masker only (argparse name -> flag), refused with the others.
TANTAN_FLAGS = {"repeat_start": "--repeat-start", "repeat_end": "--repeat-end",
                "decay": "--decay", "max_period": "--max-period", "gap_open": "--gap-open",
                "gap_extend": "--gap-extend"}  # fmt: skip
LONGDUST_FLAGS = {"kmer": "--kmer", "gc": "--gc", "xdrop": "--xdrop",
                  "min_start_count": "--min-start-count", "approx": "--approx",
                  "forward_only": "--forward-only"}  # fmt: skip


def _refuse(args: argparse.Namespace, method: str, flags: dict[str, str]) -> None:
    """A one-line error when a flag of another masker was given to ``method``."""
    for name, flag in flags.items():
        if getattr(args, name) not in (None, False):
            raise CliError(f"{flag} is not an option of --method {method}")


def _sdust_options(args: argparse.Namespace) -> dict[str, Any]:
    if args.threshold is not None:
        raise CliError("--threshold is not an option of --method sdust (its score is --level)")
    _refuse(args, "sdust", {**TANTAN_FLAGS, **LONGDUST_FLAGS})
    return {
        "window": 64 if args.window is None else args.window,
        "level": 20 if args.level is None else args.level,
    }


def _longdust_options(args: argparse.Namespace) -> dict[str, Any]:
    if args.level is not None:
        raise CliError("--level is an SDUST option; longdust takes --threshold")
    _refuse(args, "longdust", TANTAN_FLAGS)
    gc: float | str | None = args.gc
    if gc is not None and gc != "auto":
        try:
            gc = float(gc)
        except ValueError:
            raise CliError(f"--gc must be 'auto' or a number in [0, 1], got {gc!r}") from None
    given = "50" if args.xdrop is None else args.xdrop
    xdrop: int | None = None if given.lower() == "none" else _int_arg(given, "--xdrop")
    return {
        "window": 5000 if args.window is None else args.window,
        "threshold": 0.6 if args.threshold is None else args.threshold,
        "kmer": 7 if args.kmer is None else args.kmer,
        "gc": gc,
        "xdrop": xdrop,
        "min_start_count": 3 if args.min_start_count is None else args.min_start_count,
        "approx": args.approx,
        "forward_only": args.forward_only,
    }


def _int_arg(value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise CliError(f"{name} must be an integer or 'none', got {value!r}") from None


def _tantan_options(args: argparse.Namespace) -> dict[str, Any]:
    """The tantan options of ``entroseg dna mask --method tantan``."""
    if args.window is not None or args.level is not None:
        raise CliError("--window and --level are SDUST's; tantan takes --max-period")
    _refuse(args, "tantan", LONGDUST_FLAGS)
    return dict(
        window=None,
        repeat_start=0.005 if args.repeat_start is None else args.repeat_start,
        repeat_end=0.05 if args.repeat_end is None else args.repeat_end,
        decay=0.9 if args.decay is None else args.decay,
        max_period=args.max_period,
        gap_open=0 if args.gap_open is None else args.gap_open,
        gap_extend=args.gap_extend,
        threshold=0.5 if args.threshold is None else args.threshold,
    )


#: ``entroseg dna mask --method``: name -> its options from the command line. Every
#: masker but SDUST writes through the batch API (numpy); SDUST has a Rust BED path.
MASK_METHODS: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
    "sdust": _sdust_options,
    "longdust": _longdust_options,
    "tantan": _tantan_options,
}


def _dna_mask(args: argparse.Namespace) -> int:
    if args.method != "sdust":
        return _dna_mask_method(args)
    options = _sdust_options(args)
    args.window, args.level = options["window"], options["level"]
    # The options are checked before the input is opened (a bad option is the error
    # reported), by masking a one-base record: dust_mask would return a numpy array.
    try:
        FastxReader(io.BytesIO(b">check\nA\n"))._dust_bed_batch(
            window=args.window, level=args.level
        )
    except ValueError as exc:
        raise CliError(str(exc)) from None
    if args.output is None or Path(args.output).suffix.lower() != ".parquet":
        n_records, bases, masked, lines, out = _dna_mask_bed(args)
        if out is not None:
            _print_mask_summary(n_records, bases, masked, lines, out)
        return 0

    def masks(
        batch: genomic.FastxBatch,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        iv, offsets = batch.dust_mask(window=args.window, level=args.level)
        return np.ascontiguousarray(iv[:, 0]), np.ascontiguousarray(iv[:, 1]), offsets

    n_records, bases, masked, lines, out = _intervals_by_batch(args, masks)
    if out is not None:
        _print_mask_summary(n_records, bases, masked, lines, out)
    return 0


def _dna_mask_method(args: argparse.Namespace) -> int:
    """``entroseg dna mask --method M`` for the maskers other than SDUST: each batch is
    masked on every core (the records in parallel), written as BED or Parquet."""
    options = MASK_METHODS[args.method](args)
    window = options.pop("window")
    check, masker = genomic.MASK_METHODS[args.method]
    try:
        check(window, options)
    except (ValueError, TypeError) as exc:
        raise CliError(str(exc)) from None

    def masks(
        batch: genomic.FastxBatch,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        iv, offsets = masker(batch, window, options, None)
        return np.ascontiguousarray(iv[:, 0]), np.ascontiguousarray(iv[:, 1]), offsets

    # tantan's batches are large, so that a genome's chromosomes run in parallel.
    batch_bases = genomic.TANTAN_BATCH_BASES if args.method == "tantan" else None
    n_records, bases, masked, lines, out = _intervals_by_batch(args, masks, batch_bases)
    if out is not None:
        _print_mask_summary(n_records, bases, masked, lines, out)
    return 0


def _print_mask_summary(n_records: int, bases: int, masked: int, lines: int, out: Path) -> None:
    share = masked / bases if bases else 0.0
    print(f"records    {n_records:,}")
    print(f"bases      {bases:,}")
    print(f"masked     {masked:,} bases ({share:.2%}) in {lines:,} intervals")
    print(f"written    {out}")


def _dna_lengths(args: argparse.Namespace, default: int) -> dict[str, int]:
    """``k`` (the k-mer length of --method kmer) or ``context`` (the other methods; -k is
    its old spelling there)."""
    if args.method == "kmer":
        if args.context is not None:
            raise CliError("--method kmer takes -k (the k-mer length), not --context")
        return {"k": default if args.k is None else args.k}
    context = args.k if args.context is None else args.context
    return {"context": default if context is None else context}


def _dna_profile(args: argparse.Namespace) -> int:
    if args.method in ("next_entropy", "next_surprisal"):
        args.window = None  # a per-base model: no window
    profile_args = dict(method=args.method, window=args.window, **_dna_lengths(args, 3))
    try:
        entroseg.dna_profile(b"", **profile_args)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    # A profile is a float per base, and Parquet output about 30 bytes per base in
    # Arrow: batches of 1 Mi bases keep that to tens of MB.
    batches, progress = _dna_batches(args, batch_bases=1 << 20)
    sink = None if args.output is None else _ProfileSink(Path(args.output))
    try:
        with progress:
            for batch in batches:
                values = batch.profile(**profile_args)
                sys.stdout.write(_profile_summaries(batch, values))
                if sink is not None:
                    sink.write(batch, values)
    finally:
        if sink is not None:
            sink.close()
    if sink is not None:
        print(f"written    {sink.path}")
    return 0


def _profile_summaries(batch: genomic.FastxBatch, values: npt.NDArray[np.float64]) -> str:
    """One summary line per record (mean, min and max of its finite values), formatted in
    Rust for the whole batch (a Python line per read cost more than the profile)."""
    text = _profile_summary_lines(
        batch.names_buffer, batch.name_offsets, values, batch.sequence_offsets
    )
    return text.decode("utf-8")


class _ProfileSink:
    """Writes profiles batch by batch: ``.npz`` (one array per record, streamed into the
    zip), ``.parquet`` (a row group per batch: chrom, position, value) or ``.tsv``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        suffix = path.suffix.lower()
        self._zip: Any = None
        self._parquet: Any = None
        self._text: TextIO | None = None
        self._pa: Any = None
        try:
            if suffix == ".npz":
                import zipfile

                self._zip = zipfile.ZipFile(path, "w", allowZip64=True)
            elif suffix == ".parquet":
                try:
                    import pyarrow as pa
                    import pyarrow.parquet as pq
                except ImportError:
                    raise CliError(
                        f"writing {str(path)!r} needs pyarrow (pip install pyarrow); or name a "
                        ".npz file"
                    ) from None
                self._pa = pa
                schema = pa.schema(
                    [("chrom", pa.string()), ("position", pa.int64()), ("value", pa.float64())]
                )
                self._parquet = pq.ParquetWriter(path, schema)
            elif suffix in (".tsv", ".txt"):
                self._text = open(path, "w")
            else:
                raise CliError(
                    f"unsupported output {str(path)!r}: name a .npz, .parquet or .tsv file"
                )
        except OSError as exc:
            raise CliError(f"cannot write {str(path)!r}: {exc}") from None

    def write(self, batch: genomic.FastxBatch, values: npt.NDArray[np.float64]) -> None:
        offsets = batch.sequence_offsets
        try:
            if self._zip is not None:
                bounds = offsets.tolist()
                for i, name in enumerate(batch.names()):
                    # As numpy.savez writes each array: an .npy member of the zip.
                    with self._zip.open(f"{name}.npy", "w", force_zip64=True) as member:
                        np.lib.format.write_array(member, values[bounds[i] : bounds[i + 1]])
            elif self._parquet is not None:
                pa = self._pa
                lengths = np.diff(offsets)
                record = np.repeat(np.arange(len(batch)), lengths)
                position = np.arange(len(values)) - np.repeat(offsets[:-1], lengths)
                chrom = pa.array(batch.names(), pa.string()).take(record)
                self._parquet.write_table(
                    pa.table({"chrom": chrom, "position": position, "value": values})
                )
            else:
                assert self._text is not None
                bounds = offsets.tolist()
                for i, name in enumerate(batch.names()):
                    p = values[bounds[i] : bounds[i + 1]].tolist()
                    self._text.write("".join(f"{name}\t{j}\t{v!r}\n" for j, v in enumerate(p)))
        except OSError as exc:
            raise CliError(f"cannot write {str(self.path)!r}: {exc}") from None

    def close(self) -> None:
        for handle in (self._zip, self._parquet, self._text):
            if handle is not None:
                handle.close()


def _dna_tokens(args: argparse.Namespace) -> int:
    options = {
        "method": args.method,
        **_dna_lengths(args, 4),
        "target_len": None if args.threshold is not None else args.target_len,
        "threshold": args.threshold,
        "min_len": args.min_len,
        "max_len": args.max_len,
    }
    try:
        with warnings.catch_warnings():  # a 4-base probe cannot meet target_len
            warnings.simplefilter("ignore", UserWarning)
            genomic.dna_tokens(b"ACGT", **options)  # validate the options first
    except ValueError as exc:
        raise CliError(str(exc)) from None

    def tokens_of(
        batch: genomic.FastxBatch,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        # Each record alone: a fresh next-base model and target_len calibrated on its
        # own scores (see FastxBatch.tokens), so the output is batch-invariant.
        tokens = batch.tokens(**options)
        return tokens.starts, tokens.starts + tokens.lengths, tokens.series_offsets

    _, bases, _, n_tokens, out = _intervals_by_batch(args, tokens_of)
    if out is not None:
        mean = bases / n_tokens if n_tokens else 0.0
        print(f"bases      {bases:,}")
        print(f"tokens     {n_tokens:,} (mean length {mean:.2f})")
        print(f"written    {out}")
    return 0


def _add_dna(sub: argparse._SubParsersAction[Any]) -> None:
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
        help="low-complexity intervals (SDUST, longdust or tantan) as BED",
        description=(
            "Low-complexity intervals of every record by SDUST (--method sdust, the default: "
            "the symmetric DUST of NCBI dustmasker; identical to pydustmasker), longdust "
            "(--method longdust: long low-complexity regions and tandem repeats; identical "
            "to pydustmasker's LongdustMasker) or tantan (--method tantan: tandem repeats; "
            "identical to pydustmasker's TantanMasker). Writes BED lines 'name<TAB>start<TAB>"
            "end' (0-based, half-open) to stdout, or to -o FILE: BED, or Parquet (columns "
            "chrom, start, end) for a .parquet name."
        ),
    )
    common(m)
    m.add_argument(
        "--method",
        choices=list(MASK_METHODS),
        default="sdust",
        help="the masker (default sdust)",
    )
    m.add_argument(
        "--window", type=int, default=None, help="window (default 64 for sdust, 5000 for longdust)"
    )
    m.add_argument("--level", type=int, default=None, help="sdust: DUST level (default 20)")
    m.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="longdust: score threshold (default 0.6); tantan: posterior to mask at (default 0.5)",
    )
    m.add_argument("--kmer", type=int, default=None, help="longdust: k-mer length (default 7)")
    m.add_argument(
        "--gc",
        default=None,
        help="longdust: GC content, a number in [0, 1] or 'auto' (default: uniform)",
    )
    m.add_argument("--xdrop", default=None, help="longdust: X-drop length, or 'none' (default 50)")
    m.add_argument(
        "--min-start-count",
        type=int,
        default=None,
        help="longdust: smallest k-mer count that starts a backward scan (default 3)",
    )
    m.add_argument(
        "--approx", action="store_true", help="longdust: check only the first candidate start"
    )
    m.add_argument(
        "--forward-only", action="store_true", help="longdust: scan the forward strand only"
    )
    t = m.add_argument_group("tantan (--method tantan)")
    t.add_argument("--repeat-start", type=float, default=None, help="default 0.005")
    t.add_argument("--repeat-end", type=float, default=None, help="default 0.05")
    t.add_argument("--decay", type=float, default=None, help="default 0.9")
    t.add_argument("--max-period", type=int, default=None, help="longest unit (default 100)")
    t.add_argument("--gap-open", type=int, default=None, help="default 0")
    t.add_argument("--gap-extend", type=int, default=None, help="default: no gaps")
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
        "--method",
        "--kind",
        dest="method",
        choices=["conditional", "kmer", "next_entropy", "next_surprisal"],
        default="conditional",
        help="conditional entropy of a base given --context previous ones (default), k-mer "
        "entropy, or an online next-base model's entropy / surprisal per base (no window); "
        "--kind is the old name",
    )
    p.add_argument("--context", type=int, help="context bases (default 3)")
    p.add_argument("-k", type=int, help="k-mer length of --method kmer (default 3)")
    p.add_argument("--window", type=int, default=1000, help="window in bases (default 1000)")
    p.add_argument("-o", "--output", help="write the profiles (.npz, .parquet or .tsv)")
    p.set_defaults(func=_dna_profile)

    t = dsub.add_parser(
        "tokens",
        help="model-free DNA tokens (variable-length words) of every record, as BED",
        description=(
            "Cut every record into variable-length tokens where an online next-base model "
            "is surprised (or by another profile, --method), with the threshold calibrated to "
            "a mean token length (--target-len) and hard --min-len / --max-len. Writes "
            "'name<TAB>start<TAB>end' lines (0-based, half-open) to stdout, or to -o FILE: "
            "BED, or Parquet (chrom, start, end) for a .parquet name."
        ),
    )
    common(t)
    t.add_argument(
        "--method",
        "--kind",
        dest="method",
        choices=["next_surprisal", "next_entropy", "conditional", "kmer"],
        default="next_surprisal",
        help="the per-base score (default next_surprisal; --kind is the old name)",
    )
    t.add_argument("--context", type=int, help="context bases (default 4)")
    t.add_argument("-k", type=int, help="k-mer length of --method kmer (default 4)")
    t.add_argument("--target-len", type=float, default=8.0, help="mean token length (default 8)")
    t.add_argument("--threshold", type=float, help="a fixed threshold instead of --target-len")
    t.add_argument("--min-len", type=int, default=1, help="shortest token (default 1)")
    t.add_argument("--max-len", type=int, default=32, help="longest token (default 32)")
    t.add_argument("-o", "--output", help="write BED (or .parquet) here instead of stdout")
    t.set_defaults(func=_dna_tokens)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    parser = _Parser(
        prog="entroseg",
        description="Streaming entropy profiles and segmentation.",
    )
    parser.add_argument("--version", action="version", version=f"entroseg {entroseg.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser(
        "demo",
        help="segment the bundled sample and show how segments follow its information",
        description="Segment the bundled sample (four generated regimes) and print what the "
        "segments look like per regime. Runs offline.",
    )
    p.add_argument("--plot", metavar="PNG", help="also draw signal, entropy and segments")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_demo)

    p = sub.add_parser(
        "profile",
        help="rolling entropy profile of a series, with a summary",
        description="Compute a rolling entropy profile and print a summary. Without INPUT, "
        "runs on the bundled sample series.",
    )
    _add_input_args(p)
    _add_profile_args(p)
    p.add_argument("--width", type=int, default=64, help="width of the text plot (default 64)")
    p.add_argument(
        "-o", "--output", help="write the profile: .parquet (input column + profile), .npy or text"
    )
    _add_checkpoint_args(p)
    p.set_defaults(func=_profile)

    p = sub.add_parser(
        "segment",
        help="cut a series (or each series of a table) into segments",
        description="Cut a series into segments where its entropy profile says the "
        "information changes, streaming (constant memory); print a summary and optionally "
        "write the segments (key, start, length, reason) to Parquet or CSV.",
    )
    _add_input_args(p)
    _add_profile_args(p)
    _add_rule_args(p)
    _add_merge_args(p)
    p.add_argument("-o", "--output", help="write the segments (.parquet or .csv)")
    _add_checkpoint_args(p)
    p.set_defaults(func=_segment)

    p = sub.add_parser(
        "plot",
        help="draw signal, entropy profile and segments into a PNG",
        description="Segment one series and draw it: signal, entropy profile and segment "
        "lengths in one figure (needs matplotlib: pip install 'entroseg[plot]').",
    )
    _add_input_args(p)
    p.add_argument("--series", help="with --key: the key value to draw (default: the first)")
    _add_profile_args(p)
    _add_rule_args(p)
    p.add_argument(
        "-o", "--output", default="segments.png", help="image file (default segments.png)"
    )
    p.set_defaults(func=_plot)
    _add_dna(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``entroseg`` command."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already printed
        return exc.code if isinstance(exc.code, int) else 2
    try:
        result: int = args.func(args)
        return result
    except CliError as exc:
        print(f"entroseg: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("entroseg: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of our stdout went away (e.g. `| head`): stop quietly, as Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
