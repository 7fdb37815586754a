"""Input and output of the command line: series and tables in, Parquet and text out.

Kept apart from :mod:`entroseg.cli` (which holds one function per subcommand) so that
the readers are shared by every subcommand. Every failure is a :class:`CliError` with a
one-line message naming the file and what is wrong.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt


class CliError(Exception):
    """A user-facing error: printed as one line, exit code 2."""


#: Suffixes of the table formats read through pyarrow.
TABLE_SUFFIXES = (".parquet", ".pq", ".arrow", ".feather", ".ipc", ".arrows")


def suffix_of(path: str) -> str:
    return Path(path).suffix.lower() if path != "-" else ""


def require_pyarrow(why: str) -> Any:
    try:
        import pyarrow
    except ImportError:
        raise CliError(f"{why} needs pyarrow: pip install 'entroseg[arrow]'") from None
    return pyarrow


def check_readable(path: str) -> None:
    if path != "-" and not Path(path).is_file():
        raise CliError(f"cannot read {path!r}: no such file")


def read_series(path: str, column: str | None) -> npt.NDArray[np.float64]:
    """A 1-D series from .npy, Parquet / Arrow IPC (``column`` or the first numeric
    column), .csv/.tsv (likewise) or plain text (one number per line; ``-`` is stdin)."""
    return read_named_series(path, column)[0]


def read_named_series(path: str, column: str | None) -> tuple[npt.NDArray[np.float64], str]:
    """:func:`read_series` and the name of the column read ("value" for files without
    column names)."""
    import numpy as np

    check_readable(path)
    suffix = suffix_of(path)
    try:
        if suffix == ".npy":
            values = np.load(path, allow_pickle=False)
            if values.ndim != 1:
                raise CliError(f"{path!r} holds an array of shape {values.shape}; expected 1-D")
            if values.dtype.kind not in "fiu":
                raise CliError(f"{path!r} holds {values.dtype} values; expected numbers")
            return np.asarray(values, dtype=np.float64), "value"
        if suffix in TABLE_SUFFIXES:
            return _read_table_column(path, column)
        if suffix in (".csv", ".tsv"):
            return _read_csv(path, column, "\t" if suffix == ".tsv" else ",")
        text = sys.stdin.read() if path == "-" else Path(path).read_text()
        return np.array([float(v) for v in text.split()], dtype=np.float64), "value"
    except CliError:
        raise
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read {path!r}: {_one_line(exc)}") from None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _read_csv(path: str, column: str | None, delimiter: str) -> tuple[npt.NDArray[np.float64], str]:
    import numpy as np

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
        return np.array([float(r[idx]) if r[idx] != "" else np.nan for r in rows]), header[idx]
    except (IndexError, ValueError) as exc:
        raise CliError(f"column {header[idx]!r} of {path!r} is not numeric: {exc}") from None


def pick_column(schema: Any, column: str | None, path: str) -> str:
    """``column`` if the table has it, else the first numeric column."""
    pa = require_pyarrow(f"reading {path!r}")
    if column is not None:
        if schema.get_field_index(column) < 0:
            raise CliError(
                f"column {column!r} not in {path!r} (columns: {', '.join(schema.names)})"
            )
        return column
    for field in schema:
        if pa.types.is_integer(field.type) or pa.types.is_floating(field.type):
            return str(field.name)
    raise CliError(f"{path!r} has no numeric column; name one with --column")


def _read_table_column(path: str, column: str | None) -> tuple[npt.NDArray[np.float64], str]:
    import numpy as np

    from entroseg.arrow import open_stream

    pa = require_pyarrow(f"reading {path!r}")
    reader = open_stream(path)
    name = pick_column(reader.schema, column, path)
    parts = []
    for batch in reader:
        col = batch.column(name)
        if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
            raise CliError(f"column {name!r} of {path!r} is not numeric ({col.type})")
        parts.append(col.cast(pa.float64()).fill_null(np.nan).to_numpy(zero_copy_only=False))
    return (np.concatenate(parts) if parts else np.zeros(0)), name


def open_table(path: str, batch_size: int | None = None) -> tuple[Any, int | None]:
    """A lazy record-batch reader over a Parquet / Arrow IPC / CSV file and its row count
    when the file says it (Parquet metadata); ``batch_size``: rows per Parquet batch."""
    if batch_size is not None and batch_size < 1:
        raise CliError(f"--batch-size must be >= 1 rows, got {batch_size}")
    from entroseg.arrow import open_stream

    check_readable(path)
    if path == "-":
        raise CliError("--key reads a table file (Parquet, Arrow IPC or CSV), not stdin")
    require_pyarrow(f"reading {path!r} by --key")
    total = None
    try:
        if suffix_of(path) in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            total = int(pq.ParquetFile(path).metadata.num_rows)
        return open_stream(path, batch_size=batch_size), total
    except (OSError, ValueError) as exc:
        raise CliError(_one_line(exc)) from None


def counted(reader: Any, on_rows: Any) -> Any:
    """The same stream, calling ``on_rows(n)`` after each batch is read (progress)."""
    pa = require_pyarrow("streaming")

    def batches() -> Iterator[Any]:
        for batch in reader:
            yield batch
            on_rows(batch.num_rows)

    return pa.RecordBatchReader.from_batches(reader.schema, batches())


def write_parquet(path: str, table: Any) -> None:
    require_pyarrow(f"writing {path!r}")
    import pyarrow.parquet as pq

    try:
        pq.write_table(table, path)
    except OSError as exc:
        raise CliError(f"cannot write {path!r}: {_one_line(exc)}") from None


def chunks(x: npt.NDArray[Any], size: int) -> Iterator[npt.NDArray[Any]]:
    for lo in range(0, len(x), size):
        yield x[lo : lo + size]
