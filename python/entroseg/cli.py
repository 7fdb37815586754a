"""The ``entroseg`` command line.

``entroseg profile [INPUT]`` computes a rolling entropy profile of a series and prints a
short summary; with no INPUT it runs on the bundled sample (a generated series with four
known regimes, see :mod:`entroseg.sample`). Later releases add subcommands.

Exit codes: 0 on success, 2 on bad arguments or unreadable input (one line on stderr,
no traceback).
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

import entroseg
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


if __name__ == "__main__":
    sys.exit(main())
