"""Genomic data: FASTA/FASTQ records, DNA entropy profiles and SDUST low-complexity masks.

Records stream from plain or compressed files (gzip, bzip2, xz, zstd: detected from the
content), from ``-`` (standard input) or from any binary file object, one at a time, with
memory bounded by the longest record. Each record is checked as it is read (nucleotide
letters only, FASTQ qualities as long as their sequences) and comes with the intervals
of its ambiguous bases (N and the other IUPAC codes) and of its soft-masked (lowercase)
bases. Intervals everywhere are 0-based and half-open, ``[start, end)``, as in BED.

- :func:`read_fastx` yields :class:`FastxRecord` objects; :func:`read_fastx_arrow`
  gives the same as Arrow record batches (needs ``pyarrow``).
- :func:`iter_fastx_batches` yields :class:`FastxBatch` objects: thousands of records
  at once in flat buffers (concatenated sequences with offsets), with SDUST masks,
  profiles and tokens of every record computed per batch in Rust on all cores. This is
  the fast path for millions of short reads: no Python object per read, and memory
  bounded by the batch size. The per-record functions are built on it.
- :func:`entroseg.dna_profile` computes k-mer or conditional entropy profiles of one
  sequence; :func:`profile_fastx` does it record by record.
- :func:`entroseg.dust_mask` finds low-complexity intervals with SDUST (identical to
  pydustmasker and, on sequences without ambiguous bases, to NCBI ``dustmasker``);
  :func:`mask_fastx` does it record by record and :func:`write_bed` writes BED.
  :func:`entroseg.longdust_mask` finds long low-complexity regions and long tandem
  repeats with longdust (identical to pydustmasker's ``LongdustMasker``);
  ``mask_fastx(..., method="longdust")`` does it record by record.
- :func:`entroseg.tantan_mask` finds tandem repeats with tantan (identical to
  pydustmasker's ``TantanMasker``); :func:`tantan_mask_fastx` (or
  ``mask_fastx(..., method="tantan")``) does it record by record, in parallel.
- :func:`sample_fasta` generates a small FASTA with known features for demos and tests.
"""

from __future__ import annotations

import io
import itertools
import os
import sys
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, Literal, NamedTuple, TextIO

import numpy as np
import numpy.typing as npt

from entroseg._entroseg import (
    FastxReader,
    InvalidParameterError,
    _dna_profile,
    _dna_profile_batch,
    _dna_tokens_batch,
    _dust_mask_batch,
    _longdust_mask_batch,
    _tantan_mask_batch,
    dust_mask,
    longdust_mask,
    tantan_mask,
)
from entroseg._optional import require
from entroseg._options import renamed
from entroseg.segments import Segments, boundaries

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "DEFAULT_BATCH_BASES",
    "DEFAULT_BATCH_RECORDS",
    "FastxBatch",
    "FastxRecord",
    "dna_tokens",
    "iter_batches",
    "iter_fastx_batches",
    "iter_records",
    "mask_fastx",
    "mask_fastx_arrow",
    "open_fastx",
    "profile_fastx",
    "read_fastx",
    "read_fastx_arrow",
    "sample_fasta",
    "tantan_mask_fastx",
    "tokenize_fastx",
    "write_bed",
]

#: A FASTA/FASTQ source: a path, ``"-"`` for standard input, or a binary file object.
Source = str | os.PathLike[str] | BinaryIO
EmptyPolicy = Literal["raise", "skip", "keep"]
ProfileMethod = Literal["conditional", "kmer", "next_entropy", "next_surprisal"]
#: Bases per batch of tantan's masks (records of a batch run in parallel).
TANTAN_BATCH_BASES = 1 << 26
#: A low-complexity masker of :func:`mask_fastx` (see :data:`MASK_METHODS`).
MaskMethod = Literal["sdust", "longdust", "tantan"]
#: Old name of :data:`ProfileMethod`.
ProfileKind = ProfileMethod


class _Profile(NamedTuple):
    """A DNA profile's method and length, with the names the caller used (for errors)."""

    method: str
    method_name: str
    length: int
    length_name: str


def _profile_choice(
    method: str | None,
    kind: str | None,
    context: int | None,
    k: int | None,
    *,
    default_method: str,
    default_length: int,
    stacklevel: int,
) -> _Profile:
    """Resolves the profile options: ``method`` (old name ``kind``), and the length:
    ``k``, the k-mer length of ``method="kmer"``, or ``context``, the context length of
    the other methods (``k`` is its old name there). Old names warn (one release)."""
    opts: dict[str, Any] = {"method": method, "kind": kind, "context": context, "k": k}
    renamed(opts, "kind", "method", stacklevel + 1, why=" (which profile)")
    method = default_method if opts["method"] is None else opts["method"]
    method_name = "kind" if kind is not None else "method"
    if method == "kmer":
        if context is not None:
            raise InvalidParameterError(
                f"method='kmer' takes k (the k-mer length), not context (got context={context})"
            )
        return _Profile(method, method_name, default_length if k is None else k, "k")
    renamed(opts, "k", "context", stacklevel + 1, why=" (k is the k-mer length of 'kmer')")
    length_name = "k" if k is not None else "context"
    context = opts["context"]
    return _Profile(
        method, method_name, default_length if context is None else context, length_name
    )


def dna_profile(
    sequence: bytes | str | npt.NDArray[np.integer],
    /,
    *,
    method: ProfileMethod | None = None,
    context: int | None = None,
    k: int | None = None,
    window: int | None = None,
    normalize: bool = True,
    kind: ProfileMethod | None = None,
) -> float | npt.NDArray[np.float64]:
    """Entropy profile of a DNA sequence: k-mer Shannon entropy or the conditional
    entropy of a base given the ``context`` previous ones, rolling or for the whole
    sequence; or the per-base entropy / surprisal of an online next-base model.

    ``method="kmer"``: the Shannon entropy of the ``k``-mers inside the window
    (``window - k + 1`` of them), divided by ``ln(4**k)`` when normalized.
    ``method="conditional"``: the plug-in ``H(X_t | X_{t-c..t-1})`` (``c = context``)
    from the (c+1)-grams inside the window, divided by ``ln 4`` when normalized.
    ``method="next_entropy"`` / ``"next_surprisal"``: per base, the entropy of an online
    context model's prediction of that base from the ``context`` before it
    (Krichevsky-Trofimov with back-off, see :func:`entroseg.next_symbol_entropy`), or the
    surprisal of the base that came; an ambiguous base is NaN and empties the context; no
    window (the model learns from everything before); the whole-sequence value is the
    mean over unambiguous bases (for surprisal: the model's cross-entropy rate). The
    value at ``t`` of a windowed method covers the bases ``[t-window+1, t]``; incomplete
    windows are NaN, and so is every window holding an ambiguous base (N or another IUPAC
    code): those break k-mer contexts. Values are exact (fixed-point sums): a rolling
    value equals the whole-sequence value of the same window bit for bit. The GIL is
    released.

    Parameters
    ----------
    sequence : bytes, str or numpy.ndarray
        Nucleotide letters (either case), or base codes 0..=4 as ``encode_dna`` gives.
    method : {"conditional", "kmer", "next_entropy", "next_surprisal"}, default "conditional"
        Which profile (``kind=`` is its deprecated old name).
    context : int, default 3
        Context bases of ``"conditional"`` (0..=31; 0 is the base composition entropy) and
        the next-base methods (0..=31).
    k : int, default 3
        The k-mer length of ``"kmer"`` (1..=15). (With the other methods ``k=`` is the
        deprecated old name of ``context``.)
    window : int or None, default None
        Rolling window in bases; None for one value over the whole sequence.
    normalize : bool, default True
        Divide by the maximum, giving values in [0, 1].

    Returns
    -------
    float or numpy.ndarray
        A float for the whole sequence (NaN if it holds an ambiguous base); a float64 array
        of ``len(sequence)`` when ``window`` is given, and always for the next-base methods.

    Raises
    ------
    InvalidParameterError
        ``context``, ``k`` or ``window`` out of range (the message names the limits).
    InvalidSequenceError
        A character is not a nucleotide letter.
    EmptyInputError
        A whole-sequence value of a sequence shorter than one k-mer / context.

    Examples
    --------
    >>> import entroseg
    >>> entroseg.dna_profile("ACGTACGTACGTACGT", method="conditional", context=1)  # periodic
    0.0
    >>> round(entroseg.dna_profile("ACGTACGTACGTACGT", method="kmer", k=1), 6)
    1.0
    >>> p = entroseg.dna_profile("AAAAAAAACGTACGTTGCA", method="kmer", k=2, window=8)
    >>> p.shape, bool(p[6] != p[6]), float(p[7])  # NaN until the window is full
    ((19,), True, 0.0)
    """
    c = _profile_choice(
        method, kind, context, k, default_method="conditional", default_length=3, stacklevel=3
    )
    value: float | npt.NDArray[np.float64] = _dna_profile(
        sequence, c.method, c.length, window, normalize, c.method_name, c.length_name
    )
    return value


Intervals = npt.NDArray[np.int64]


@dataclass(frozen=True)
class FastxRecord:
    """One FASTA/FASTQ record.

    Attributes
    ----------
    name : str
        The identifier (the header up to the first whitespace).
    description : str
        The rest of the header line ("" if none).
    sequence : bytes or None
        The letters as in the file, line breaks removed (None if not requested).
    codes : numpy.ndarray or None
        uint8 base codes (A, C, G, T = 0..3, ambiguous = 4) if requested.
    ambiguous : numpy.ndarray
        int64 (n, 2) ``[start, end)`` runs of N and other IUPAC ambiguity codes.
    soft_masked : numpy.ndarray
        int64 (n, 2) ``[start, end)`` runs of lowercase (soft-masked) letters.
    quality : bytes or None
        FASTQ quality letters; None for FASTA.
    index : int
        0-based number of the record in its input.
    line : int
        1-based line of the record's header.
    """

    name: str
    description: str
    sequence: bytes | None
    codes: npt.NDArray[np.uint8] | None
    ambiguous: Intervals
    soft_masked: Intervals
    quality: bytes | None
    index: int
    line: int

    def __len__(self) -> int:
        if self.sequence is not None:
            return len(self.sequence)
        if self.codes is not None:
            return len(self.codes)
        raise TypeError("record read with sequence=False and codes=False has no length")


class _BinaryOf:
    """Reads the binary buffer under a text stream, keeping the text stream alive (a text
    wrapper closes its buffer when it is collected)."""

    def __init__(self, text: io.TextIOBase, buffer: BinaryIO):
        self.text, self.buffer = text, buffer
        self.name = getattr(text, "name", "the input stream")

    def read(self, size: int = -1) -> bytes:
        return self.buffer.read(size)


def _open(source: Source) -> str | os.PathLike[str] | BinaryIO | _BinaryOf:
    """``-`` is standard input (binary); text file objects are read through their
    binary buffer."""
    if isinstance(source, str) and source == "-":
        source = sys.stdin  # type: ignore[assignment]
    if isinstance(source, io.TextIOBase):
        buffer = getattr(source, "buffer", None)
        if buffer is None:
            raise TypeError("source is a text stream without a binary buffer; open it with 'rb'")
        return _BinaryOf(source, buffer)
    return source


def open_fastx(
    source: Source, *, codes: bool = False, sequence: bool = True, empty: EmptyPolicy = "raise"
) -> FastxReader:
    """The native reader behind :func:`read_fastx`: iterate it with :func:`iter_records`;
    its ``bytes_read`` (input bytes consumed, compressed ones for compressed input) and
    ``records_read`` properties serve progress reports.

    Examples
    --------
    >>> import io
    >>> from entroseg.genomic import iter_records, open_fastx
    >>> reader = open_fastx(io.BytesIO(b">a\\nACGT\\n"))
    >>> [r.name for r in iter_records(reader)], reader.records_read, reader.format
    (['a'], 1, 'fasta')
    """
    return FastxReader(_open(source), codes=codes, sequence=sequence, empty=empty)


def iter_records(reader: FastxReader) -> Iterator[FastxRecord]:
    """Wraps the raw tuples of a native reader into :class:`FastxRecord` objects.

    Examples
    --------
    >>> import io, entroseg
    >>> from entroseg.genomic import iter_records
    >>> next(iter_records(entroseg.FastxReader(io.BytesIO(b"@r\\nAC\\n+\\nII\\n")))).quality
    b'II'
    """
    for raw in reader:
        yield FastxRecord(*raw)


#: Bases per batch by default: 1 Mi bases (about 7,000 reads of 150 bases).
DEFAULT_BATCH_BASES = 1_048_576
#: Records per batch at most, by default.
DEFAULT_BATCH_RECORDS = 65_536

# Base codes of the letters (validated by the reader: every byte is a nucleotide letter).
_CODES = np.full(256, 4, dtype=np.uint8)
for _i, _b in enumerate(b"ACGT"):
    _CODES[_b] = _CODES[_b + 32] = _i


def _split(buffer: npt.NDArray[np.uint8], offsets: npt.NDArray[np.int64]) -> list[str]:
    """The strings of a flat buffer with offsets (invalid UTF-8 replaced, as the record
    reader does)."""
    data = buffer.tobytes()
    bounds = offsets.tolist()
    if data.isascii():
        text = data.decode("ascii")
        return [text[a:b] for a, b in itertools.pairwise(bounds)]
    return [data[a:b].decode("utf-8", "replace") for a, b in itertools.pairwise(bounds)]


@dataclass(frozen=True)
class FastxBatch:
    """Records of a FASTA/FASTQ input in flat buffers, as :func:`iter_fastx_batches`
    yields them.

    Record ``i``'s sequence is ``sequences[sequence_offsets[i]:sequence_offsets[i + 1]]``
    (uint8 letters as in the file), its name and description likewise; intervals of
    ambiguous and soft-masked bases are ``[start, end)`` within their record, record
    ``i`` owning rows ``ambiguous_offsets[i]:ambiguous_offsets[i + 1]``. Offsets are int64
    with ``len(batch) + 1`` entries starting at 0, the layout of Arrow's variable-length
    arrays (``pyarrow.LargeBinaryArray.from_buffers`` takes them as they are).

    The methods :meth:`dust_mask`, :meth:`profile` and :meth:`tokens` process every
    record of the batch in Rust with the GIL released, spread over ``threads`` threads
    (None: every core); each record is processed alone, so results do not depend on the
    batch size or the thread count.

    Attributes
    ----------
    sequences, sequence_offsets : numpy.ndarray
        uint8 letters and int64 offsets.
    qualities : numpy.ndarray or None
        uint8 FASTQ qualities (offsets as the sequences); None for FASTA.
    names_buffer, name_offsets, descriptions_buffer, description_offsets : numpy.ndarray
        Header names and descriptions (UTF-8 bytes) with offsets; :meth:`names` decodes.
    indices, lines : numpy.ndarray
        int64 0-based number of each record in its input, and 1-based header line.
    ambiguous, ambiguous_offsets, soft_masked, soft_masked_offsets : numpy.ndarray
        int64 ``(m, 2)`` intervals and their per-record offsets.

    Examples
    --------
    >>> import io
    >>> from entroseg.genomic import iter_fastx_batches
    >>> fq = b"@r1\\nACGT" + b"A" * 24 + b"\\n+\\n" + b"I" * 28 + b"\\n@r2\\nGGC\\n+\\nIII\\n"
    >>> data = io.BytesIO(fq)
    >>> batch = next(iter_fastx_batches(data))
    >>> len(batch), batch.bases, batch.names(), batch.sequence(1)
    (2, 31, ['r1', 'r2'], b'GGC')
    >>> intervals, offsets = batch.dust_mask()
    >>> intervals.tolist(), offsets.tolist()
    ([[4, 28]], [0, 1, 1])
    """

    sequences: npt.NDArray[np.uint8]
    sequence_offsets: npt.NDArray[np.int64]
    qualities: npt.NDArray[np.uint8] | None
    names_buffer: npt.NDArray[np.uint8]
    name_offsets: npt.NDArray[np.int64]
    descriptions_buffer: npt.NDArray[np.uint8]
    description_offsets: npt.NDArray[np.int64]
    indices: npt.NDArray[np.int64]
    lines: npt.NDArray[np.int64]
    ambiguous: Intervals
    ambiguous_offsets: npt.NDArray[np.int64]
    soft_masked: Intervals
    soft_masked_offsets: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.sequence_offsets) - 1

    @property
    def bases(self) -> int:
        """Bases in the batch."""
        return len(self.sequences)

    @property
    def lengths(self) -> npt.NDArray[np.int64]:
        """The length of every record."""
        return np.diff(self.sequence_offsets)

    def names(self) -> list[str]:
        """The record names, decoded."""
        return _split(self.names_buffer, self.name_offsets)

    def descriptions(self) -> list[str]:
        """The record descriptions, decoded."""
        return _split(self.descriptions_buffer, self.description_offsets)

    def sequence(self, i: int) -> bytes:
        """The letters of record ``i``."""
        o = self.sequence_offsets
        return self.sequences[o[i] : o[i + 1]].tobytes()

    def records(self, *, codes: bool = False, sequence: bool = True) -> Iterator[FastxRecord]:
        """The records one at a time, as :func:`read_fastx` yields them."""
        names, descriptions = self.names(), self.descriptions()
        seq = self.sequences.tobytes()
        qual = None if self.qualities is None else self.qualities.tobytes()
        all_codes = _CODES[self.sequences] if codes else None
        so = self.sequence_offsets.tolist()
        ao, mo = self.ambiguous_offsets.tolist(), self.soft_masked_offsets.tolist()
        amb, soft = self.ambiguous, self.soft_masked
        for i, (index, line) in enumerate(
            zip(self.indices.tolist(), self.lines.tolist(), strict=True)
        ):
            a, b = so[i], so[i + 1]
            yield FastxRecord(
                names[i],
                descriptions[i],
                seq[a:b] if sequence else None,
                None if all_codes is None else all_codes[a:b],
                amb[ao[i] : ao[i + 1]],
                soft[mo[i] : mo[i + 1]],
                None if qual is None else qual[a:b],
                index,
                line,
            )

    def dust_mask(
        self, *, window: int = 64, level: int = 20, threads: int | None = None
    ) -> tuple[Intervals, npt.NDArray[np.int64]]:
        """SDUST intervals of every record (see :func:`entroseg.dust_mask`):
        ``(intervals, offsets)``, record ``i`` owning ``intervals[offsets[i]:offsets[i +
        1]]`` (int64 ``[start, end)`` within the record)."""
        return _dust_mask_batch(
            self.sequences, self.sequence_offsets, window=window, level=level, threads=threads
        )

    def longdust_mask(
        self, *, threads: int | None = None, **options: Any
    ) -> tuple[Intervals, npt.NDArray[np.int64]]:
        """longdust intervals of every record (options and defaults as
        :func:`entroseg.longdust_mask`): ``(intervals, offsets)`` as :meth:`dust_mask`."""
        return _longdust_mask_batch(
            self.sequences, self.sequence_offsets, threads=threads, **options
        )

    def tantan_mask(
        self,
        *,
        protein: bool = False,
        repeat_start: float = 0.005,
        repeat_end: float = 0.05,
        decay: float = 0.9,
        max_period: int | None = None,
        gap_open: int = 0,
        gap_extend: int | None = None,
        threshold: float = 0.5,
        threads: int | None = None,
    ) -> tuple[Intervals, npt.NDArray[np.int64]]:
        """tantan intervals of every record (see :func:`entroseg.tantan_mask`), laid
        out as :meth:`dust_mask`'s; records run in parallel on ``threads`` threads."""
        return _tantan_mask_batch(
            self.sequences,
            self.sequence_offsets,
            protein=protein,
            repeat_start=repeat_start,
            repeat_end=repeat_end,
            decay=decay,
            max_period=max_period,
            gap_open=gap_open,
            gap_extend=gap_extend,
            threshold=threshold,
            threads=threads,
        )

    def profile(
        self,
        *,
        method: ProfileMethod = "conditional",
        context: int | None = None,
        k: int | None = None,
        window: int | None = None,
        normalize: bool = True,
        threads: int | None = None,
    ) -> npt.NDArray[np.float64]:
        """Per-base profile of every record (see :func:`entroseg.dna_profile`), each from
        a fresh profiler, concatenated: float64 values laid out like :attr:`sequences`
        (record ``i``'s are ``values[sequence_offsets[i]:sequence_offsets[i + 1]]``). The
        windowed methods need a ``window``."""
        c = _profile_choice(
            method, None, context, k, default_method="conditional", default_length=3,
            stacklevel=3,
        )  # fmt: skip
        return _dna_profile_batch(
            self.sequences, self.sequence_offsets, c.method, c.length, window, normalize,
            c.method_name, c.length_name, threads,
        )  # fmt: skip

    def tokens(
        self,
        *,
        method: ProfileMethod = "next_surprisal", context: int | None = None,
        k: int | None = None, window: int | None = None, target_len: float | None = 8.0,
        threshold: float | None = None, min_len: int = 1, max_len: int | None = 32,
        threads: int | None = None,
    ) -> Segments:  # fmt: skip
        """Tokens of every record, as :func:`dna_tokens` cuts each record alone: a
        ``Segments`` value with one series per record (token starts within the record).

        What the model sees: every record gets a fresh next-base model (it learns from
        that read only), and ``target_len`` calibrates the threshold on that record's
        scores alone. A record's tokens therefore do not depend on the other records, the
        batch size or the thread count, and equal ``dna_tokens(record)``."""
        c = _profile_choice(
            method, None, context, k, default_method="next_surprisal", default_length=4,
            stacklevel=3,
        )  # fmt: skip
        starts, lengths, reasons, offsets = _dna_tokens_batch(
            self.sequences, self.sequence_offsets, c.method, c.length, window,
            target_len=None if threshold is not None else target_len, threshold=threshold,
            min_len=min_len, max_len=max_len, method_name=c.method_name,
            length_name=c.length_name, threads=threads,
        )  # fmt: skip
        return Segments(starts, lengths, reasons, offsets)


def iter_batches(
    reader: FastxReader,
    *,
    batch_bases: int = DEFAULT_BATCH_BASES,
    batch_records: int = DEFAULT_BATCH_RECORDS,
) -> Iterator[FastxBatch]:
    """The batches of a native reader (see :func:`open_fastx`), as :class:`FastxBatch`.

    Examples
    --------
    >>> import io
    >>> from entroseg.genomic import iter_batches, open_fastx
    >>> reader = open_fastx(io.BytesIO(b">a\\nAC\\n>b\\nGT\\n>c\\nTT\\n"))
    >>> [len(b) for b in iter_batches(reader, batch_records=2)], reader.records_read
    ([2, 1], 3)
    """
    while True:
        raw = reader.read_batch(batch_bases=batch_bases, batch_records=batch_records)
        if raw is None:
            return
        yield FastxBatch(*raw)


def iter_fastx_batches(
    source: Source,
    *,
    batch_bases: int = DEFAULT_BATCH_BASES,
    batch_records: int = DEFAULT_BATCH_RECORDS,
    empty: EmptyPolicy = "raise",
) -> Iterator[FastxBatch]:
    """Stream the records of a FASTA or FASTQ input (plain or compressed) in batches.

    A batch ends with the record that brings it to ``batch_bases`` bases, or at
    ``batch_records`` records, so memory is bounded by the batch size (plus the longest
    record) whatever the input's size. Records are read and checked as by
    :func:`read_fastx`, in Rust with the GIL released, and cross into Python as a few
    numpy arrays per batch instead of objects per record.

    Parameters
    ----------
    source : str, os.PathLike or binary file object
        As in :func:`read_fastx`.
    batch_bases : int, default 1_048_576
        Bases per batch (>= 1).
    batch_records : int, default 65_536
        Records per batch at most (>= 1).
    empty : {"raise", "skip", "keep"}, default "raise"
        What to do with a record without bases.

    Yields
    ------
    FastxBatch

    Raises
    ------
    InvalidParameterError
        ``batch_bases`` or ``batch_records`` below 1.
    FastxFormatError, InvalidSequenceError, EmptyInputError
        As :func:`read_fastx`; the records before a bad one come first, in a batch.

    Examples
    --------
    >>> import io
    >>> from entroseg.genomic import iter_fastx_batches
    >>> fq = b"".join(b"@r%d\\nACGTTGCA\\n+\\nIIIIIIII\\n" % i for i in range(5))
    >>> [(len(b), b.bases) for b in iter_fastx_batches(io.BytesIO(fq), batch_bases=20)]
    [(3, 24), (2, 16)]
    """
    # Check the limits before opening anything, so a bad option is the error reported.
    for name, value in (("batch_bases", batch_bases), ("batch_records", batch_records)):
        if value < 1:
            raise InvalidParameterError(f"{name} must be >= 1, got {value}")
    reader = open_fastx(source, empty=empty)
    return iter_batches(reader, batch_bases=batch_bases, batch_records=batch_records)


def read_fastx(
    source: Source,
    *,
    codes: bool = False,
    sequence: bool = True,
    empty: EmptyPolicy = "raise",
) -> Iterator[FastxRecord]:
    """Stream the records of a FASTA or FASTQ input, plain or compressed.

    Parameters
    ----------
    source : str, os.PathLike or binary file object
        A path (gzip, bzip2, xz and zstd are detected from the content), ``"-"`` for
        standard input, or an object with ``read`` returning bytes.
    codes : bool, default False
        Also give the base codes (uint8: A, C, G, T = 0..3, ambiguous = 4).
    sequence : bool, default True
        Give the letters as bytes.
    empty : {"raise", "skip", "keep"}, default "raise"
        What to do with a record without bases.

    Yields
    ------
    FastxRecord
        One per record, in file order.

    Raises
    ------
    FileNotFoundError
        The path does not exist.
    FastxFormatError
        Malformed input (bad header, FASTQ quality length differing from the sequence,
        truncated record) or a truncated / corrupt compressed stream.
    InvalidSequenceError
        A sequence character is not a nucleotide letter (the message names the record
        and the position).
    EmptyInputError
        An empty input, or an empty record under ``empty="raise"``.

    Examples
    --------
    >>> import io
    >>> from entroseg.genomic import read_fastx
    >>> data = io.BytesIO(b">chr1 demo\\nACGTNNNN\\nacgtACGT\\n>chr2\\nGGGG\\n")
    >>> for rec in read_fastx(data, codes=True):
    ...     print(rec.name, len(rec), rec.ambiguous.tolist(), rec.soft_masked.tolist())
    chr1 16 [[4, 8]] [[8, 12]]
    chr2 4 [] []
    """
    reader = open_fastx(source, empty=empty)

    def records() -> Iterator[FastxRecord]:
        # Built on batches: one crossing of the boundary per thousands of records.
        for batch in iter_batches(reader):
            yield from batch.records(codes=codes, sequence=sequence)

    return records()


def _pyarrow() -> Any:
    hint = "Arrow output needs pyarrow: pip install pyarrow (or entroseg[arrow])"
    return require("pyarrow", hint)


def _interval_list(intervals: Intervals) -> list[dict[str, int]]:
    return [{"start": int(s), "end": int(e)} for s, e in intervals]


def read_fastx_arrow(
    source: Source, *, batch_size: int = 1024, empty: EmptyPolicy = "raise"
) -> pa.RecordBatchReader:
    """Stream the records of a FASTA/FASTQ input as Arrow record batches.

    Columns: ``name`` (string), ``description`` (string), ``length`` (int64),
    ``sequence`` (large_string), ``quality`` (large_string, null for FASTA),
    ``ambiguous`` and ``soft_masked`` (list of struct ``{start, end}``). The reader is
    lazy: records are read as batches are consumed. Needs ``pyarrow``.

    Parameters
    ----------
    source : str, os.PathLike or binary file object
        As in :func:`read_fastx`.
    batch_size : int, default 1024
        Records per batch.
    empty : {"raise", "skip", "keep"}, default "raise"
        What to do with a record without bases.

    Returns
    -------
    pyarrow.RecordBatchReader

    Examples
    --------
    >>> import io
    >>> from entroseg.genomic import read_fastx_arrow
    >>> table = read_fastx_arrow(io.BytesIO(b">a\\nACGTnn\\n>b\\nGG\\n")).read_all()
    >>> table.column("name").to_pylist(), table.column("length").to_pylist()
    (['a', 'b'], [6, 2])
    >>> table.column("soft_masked").to_pylist()[0]
    [{'start': 4, 'end': 6}]
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    pa = _pyarrow()
    interval = pa.struct([("start", pa.int64()), ("end", pa.int64())])
    schema = pa.schema(
        [
            ("name", pa.string()),
            ("description", pa.string()),
            ("length", pa.int64()),
            ("sequence", pa.large_string()),
            ("quality", pa.large_string()),
            ("ambiguous", pa.list_(interval)),
            ("soft_masked", pa.list_(interval)),
        ]
    )
    reader = open_fastx(source, empty=empty)

    def batches() -> Iterator[Any]:
        chunk: list[FastxRecord] = []
        for rec in iter_records(reader):
            chunk.append(rec)
            if len(chunk) == batch_size:
                yield _batch(chunk)
                chunk = []
        if chunk:
            yield _batch(chunk)

    def _batch(chunk: list[FastxRecord]) -> Any:
        return pa.record_batch(
            [
                [r.name for r in chunk],
                [r.description for r in chunk],
                [len(r) for r in chunk],
                # Sequences were validated as ASCII letters, so decoding cannot fail.
                [r.sequence.decode("ascii") if r.sequence is not None else None for r in chunk],
                [r.quality.decode("latin-1") if r.quality is not None else None for r in chunk],
                [_interval_list(r.ambiguous) for r in chunk],
                [_interval_list(r.soft_masked) for r in chunk],
            ],
            schema=schema,
        )

    return pa.RecordBatchReader.from_batches(schema, batches())


def profile_fastx(
    source: Source,
    *,
    method: ProfileMethod | None = None,
    context: int | None = None,
    k: int | None = None,
    window: int | None = None,
    normalize: bool = True,
    empty: EmptyPolicy = "raise",
    kind: ProfileMethod | None = None,
    threads: int | None = None,
) -> Iterator[tuple[str, npt.NDArray[np.float64]]]:
    """Per-base DNA entropy profile of every record (see :func:`entroseg.dna_profile`).

    Parameters
    ----------
    source : str, os.PathLike or binary file object
        As in :func:`read_fastx`.
    method, context, k, window, normalize
        As in :func:`entroseg.dna_profile`. ``window`` defaults to 1000 bases for the
        windowed methods; the next-base methods take none.
    empty : {"raise", "skip", "keep"}, default "raise"
        What to do with a record without bases.

    Yields
    ------
    (str, numpy.ndarray)
        The record name and its float64 profile (one value per base, NaN for incomplete
        windows and windows holding an ambiguous base).

    Examples
    --------
    >>> import io
    >>> from entroseg.genomic import profile_fastx
    >>> data = io.BytesIO(b">r\\n" + b"ACGT" * 8 + b"\\n")
    >>> [(name, float(p[-1])) for name, p in profile_fastx(data, method="conditional", context=1,
    ...                                                         window=8)]
    [('r', 0.0)]
    """
    c = _profile_choice(
        method, kind, context, k, default_method="conditional", default_length=3, stacklevel=3
    )
    if window is None and c.method not in ("next_entropy", "next_surprisal"):
        window = 1000
    # Options are checked before the input is read (a bad option is the error reported).
    _dna_profile(b"", c.method, c.length, window, normalize, c.method_name, c.length_name)
    for batch in iter_fastx_batches(source, empty=empty):
        values = _dna_profile_batch(
            batch.sequences, batch.sequence_offsets, c.method, c.length, window, normalize,
            c.method_name, c.length_name, threads,
        )  # fmt: skip
        bounds = batch.sequence_offsets.tolist()
        for i, name in enumerate(batch.names()):
            yield name, values[bounds[i] : bounds[i + 1]]


def dna_tokens(
    sequence: bytes | str | npt.NDArray[np.integer],
    *,
    method: ProfileMethod | None = None, context: int | None = None, k: int | None = None,
    window: int | None = None, target_len: float | None = 8.0,
    threshold: float | None = None, min_len: int = 1, max_len: int | None = 32,
    kind: ProfileMethod | None = None,
) -> Segments:  # fmt: skip
    """Model-free tokenization of a DNA sequence into variable-length words.

    A per-base profile (default: the surprisal of an online next-base model with
    ``context`` bases, default 4,
    so a word starts where the next base is hard to predict) goes through the rule
    engine: a token starts where the score exceeds the threshold, calibrated by default
    so the mean token length is ``target_len``, with hard ``min_len`` / ``max_len``.
    Ambiguous bases (N, IUPAC) have no score and never start a token by rule. This is the
    segmentation MergeDNA learns inside its model, computed ahead of it.

    Parameters
    ----------
    sequence : bytes, str or numpy.ndarray
        Nucleotide letters or base codes, as :func:`entroseg.dna_profile` takes.
    method, context, k, window
        The profile, as :func:`entroseg.dna_profile` (default ``"next_surprisal"`` with
        ``context=4``; ``k=4`` for ``"kmer"``; ``window`` for windowed methods).
    target_len : float or None, default 8.0
        Mean token length to calibrate to; give ``threshold`` instead for a fixed rule.
    threshold : float, optional
        A fixed threshold on the (normalized) score.
    min_len, max_len
        Hard limits on every token but the last (the last obeys ``max_len``).

    Returns
    -------
    Segments
        One series: token starts, lengths (``cu_seqlens``, ``patch_ids`` ready for a
        model), and why each token started.

    Examples
    --------
    >>> from entroseg.genomic import dna_tokens
    >>> tokens = dna_tokens("ACGTTGCA" * 50 + "AAAAAAAAAA" + "GATTACA" * 40, target_len=6)
    >>> int(tokens.lengths.sum()), tokens.max_seqlen <= 32
    (690, True)
    """
    c = _profile_choice(
        method, kind, context, k, default_method="next_surprisal", default_length=4,
        stacklevel=3,
    )  # fmt: skip
    profile = np.asarray(
        _dna_profile(sequence, c.method, c.length, window, True, c.method_name, c.length_name),
        dtype=np.float64,
    )
    if threshold is not None:
        target_len = None
    return boundaries(
        profile,
        threshold=threshold,
        target_len=target_len,
        calibration=None if target_len is None else "batch",
        min_len=min_len,
        max_len=max_len,
        nan_policy="propagate",
    )


def _check_token_options(
    c: _Profile,
    window: int | None,
    target_len: float | None,
    threshold: float | None,
    min_len: int,
    max_len: int | None,
) -> None:
    """Raises the error :func:`dna_tokens` would raise for these options."""
    kmer = c.method == "kmer"
    dna_tokens(
        b"ACGT", method=c.method, k=c.length if kmer else None,  # type: ignore[arg-type]
        context=None if kmer else c.length, window=window, target_len=target_len,
        threshold=threshold, min_len=min_len, max_len=max_len,
    )  # fmt: skip


def tokenize_fastx(
    source: Source,
    *,
    method: ProfileMethod | None = None, context: int | None = None, k: int | None = None,
    window: int | None = None, target_len: float | None = 8.0,
    threshold: float | None = None, min_len: int = 1, max_len: int | None = 32,
    empty: EmptyPolicy = "raise", kind: ProfileMethod | None = None,
    threads: int | None = None,
) -> tuple[list[str], Segments]:  # fmt: skip
    """:func:`dna_tokens` of every record: the record names and one ``Segments`` value
    with a series per record (``cu_seqlens`` over the whole batch, no token crosses a
    record).

    Each record is tokenized alone, exactly as :func:`dna_tokens` would: a fresh
    next-base model per record (it learns from that read only, so a read's tokens do not
    depend on the reads before it) and ``target_len`` calibrated on that record's scores.
    The records are processed in batches (:meth:`FastxBatch.tokens`) on ``threads``
    threads (None: every core); the result does not depend on either. For inputs too
    large to hold, iterate :func:`iter_fastx_batches` and call :meth:`FastxBatch.tokens`
    per batch (the CLI's ``entroseg dna tokens`` does).

    Examples
    --------
    >>> import io
    >>> from entroseg.genomic import sample_fasta, tokenize_fastx
    >>> names, tokens = tokenize_fastx(io.BytesIO(sample_fasta()), target_len=10)
    >>> len(names) == tokens.num_series, tokens.series_lengths.tolist()
    (True, [2000, 2000, 2000])
    """
    c = _profile_choice(
        method, kind, context, k, default_method="next_surprisal", default_length=4,
        stacklevel=3,
    )  # fmt: skip
    # Options are checked before the input is read (a bad option is the error reported);
    # a four-base probe cannot meet target_len, which is no news to the caller.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        _check_token_options(c, window, target_len, threshold, min_len, max_len)
    names: list[str] = []
    parts: list[Segments] = []
    for batch in iter_fastx_batches(source, empty=empty):
        names.extend(batch.names())
        parts.append(
            batch.tokens(
                method=c.method,  # type: ignore[arg-type]
                k=c.length if c.method == "kmer" else None,
                context=None if c.method == "kmer" else c.length,
                window=window,
                target_len=target_len,
                threshold=threshold,
                min_len=min_len,
                max_len=max_len,
                threads=threads,
            )
        )
    return names, Segments.concat(parts)


def _sdust_batch(
    batch: FastxBatch, window: int | None, options: dict[str, Any], threads: int | None
) -> tuple[Intervals, npt.NDArray[np.int64]]:
    return batch.dust_mask(window=64 if window is None else window, threads=threads, **options)


def _longdust_batch(
    batch: FastxBatch, window: int | None, options: dict[str, Any], threads: int | None
) -> tuple[Intervals, npt.NDArray[np.int64]]:
    if window is not None:
        options = {**options, "window": window}
    return batch.longdust_mask(threads=threads, **options)


def _check_sdust(window: int | None, options: dict[str, Any]) -> None:
    dust_mask(b"", window=64 if window is None else window, **options)


def _check_longdust(window: int | None, options: dict[str, Any]) -> None:
    if window is not None:
        options = {**options, "window": window}
    longdust_mask(b"", **options)


def _tantan_batch(
    batch: FastxBatch, window: int | None, options: dict[str, Any], threads: int | None
) -> tuple[Intervals, npt.NDArray[np.int64]]:
    return batch.tantan_mask(threads=threads, **options)


def _check_tantan(window: int | None, options: dict[str, Any]) -> None:
    if window is not None:
        raise InvalidParameterError(
            f"tantan has no window (it models repeats of every period up to max_period); "
            f"got window={window}"
        )
    tantan_mask(b"", **options)


#: The maskers of :func:`mask_fastx`: name -> (option check, batch masker). Each takes
#: ``window`` (None: the masker's default) and its own keyword options.
MASK_METHODS: dict[str, tuple[Any, Any]] = {
    "sdust": (_check_sdust, _sdust_batch),
    "longdust": (_check_longdust, _longdust_batch),
    "tantan": (_check_tantan, _tantan_batch),
}


def mask_fastx(
    source: Source,
    *,
    method: MaskMethod = "sdust",
    window: int | None = None,
    empty: EmptyPolicy = "raise",
    threads: int | None = None,
    **options: Any,
) -> Iterator[tuple[str, Intervals]]:
    """Low-complexity intervals of every record, by SDUST (see :func:`entroseg.dust_mask`)
    or longdust (see :func:`entroseg.longdust_mask`).

    Parameters
    ----------
    source : str, os.PathLike or binary file object
        As in :func:`read_fastx`.
    method : {"sdust", "longdust"}, default "sdust"
        The masker.
    window : int or None, default None
        The masker's window (None: its default, 64 for SDUST, 5000 for longdust).
    empty : {"raise", "skip", "keep"}, default "raise"
        What to do with a record without bases.
    threads : int or None, default None
        Threads over the records of a batch (None: every core; same result).
    **options
        The masker's other options: ``level`` for SDUST (dustmasker ``-level``,
        default 20); ``threshold``, ``kmer``, ``gc``, ``xdrop``, ``min_start_count``,
        ``approx`` and ``forward_only`` for longdust; ``protein``, ``repeat_start``,
        ``repeat_end``, ``decay``, ``max_period``, ``gap_open``, ``gap_extend`` and
        ``threshold`` for tantan (which takes no ``window``; its batches are large, so
        the chromosomes of a genome run in parallel).

    Yields
    ------
    (str, numpy.ndarray)
        The record name and its int64 (n, 2) ``[start, end)`` intervals.

    Examples
    --------
    >>> import io
    >>> from entroseg.genomic import mask_fastx
    >>> data = io.BytesIO(b">r\\nGATTACAGGCTTACCGATGCA" + b"CA" * 20 + b"TTGACGGATCCAG\\n")
    >>> [(name, iv.tolist()) for name, iv in mask_fastx(data)]
    [('r', [[19, 61]])]
    >>> data = io.BytesIO(b">r\\n" + b"A" * 10 + b"NNN" + b"A" * 30 + b"\\n")
    >>> [(name, iv.tolist()) for name, iv in mask_fastx(data, method="longdust")]
    [('r', [[0, 43]])]
    >>> data = io.BytesIO(b">r\\nGATTACAGGCTTACCGATGCA" + b"CA" * 20 + b"TTGACGGATCCAG\\n")
    >>> [(name, iv.tolist()) for name, iv in mask_fastx(data, method="tantan")]
    [('r', [[21, 61]])]
    """
    if method not in MASK_METHODS:
        raise InvalidParameterError(
            f"method must be one of {', '.join(repr(m) for m in MASK_METHODS)}, got {method!r}"
        )
    check, masker = MASK_METHODS[method]
    check(window, options)  # options first
    # tantan: batches of many bases, so that the records of a genome (a few long
    # chromosomes) land in one batch and run in parallel (about a microsecond per base,
    # against which holding 64 MiB of letters costs nothing).
    sizes = {"batch_bases": TANTAN_BATCH_BASES} if method == "tantan" else {}
    for batch in iter_fastx_batches(source, empty=empty, **sizes):
        intervals, offsets = masker(batch, window, options, threads)
        bounds = offsets.tolist()
        for i, name in enumerate(batch.names()):
            yield name, intervals[bounds[i] : bounds[i + 1]]


def tantan_mask_fastx(
    source: Source,
    *,
    protein: bool = False,
    repeat_start: float = 0.005,
    repeat_end: float = 0.05,
    decay: float = 0.9,
    max_period: int | None = None,
    gap_open: int = 0,
    gap_extend: int | None = None,
    threshold: float = 0.5,
    empty: EmptyPolicy = "raise",
    threads: int | None = None,
) -> Iterator[tuple[str, Intervals]]:
    """tantan tandem-repeat intervals of every record (see :func:`entroseg.tantan_mask`,
    which documents the options; pydustmasker's ``TantanMasker`` names them alike,
    ``threshold`` being its ``score_threshold``).

    Records are read in batches and masked in parallel over ``threads`` threads (None:
    every core; the result does not depend on it). One record's posteriors depend on
    all of it, so a record is never split: a genome of a few long chromosomes uses at
    most one thread per chromosome.

    Yields
    ------
    (str, numpy.ndarray)
        The record name and its int64 (n, 2) ``[start, end)`` intervals.

    Examples
    --------
    >>> import io
    >>> from entroseg.genomic import tantan_mask_fastx
    >>> data = io.BytesIO(b">a\\nGATTACA\\n>b\\nTTG" + b"ACG" * 10 + b"GATTC\\n")
    >>> [(name, iv.tolist()) for name, iv in tantan_mask_fastx(data)]
    [('a', []), ('b', [[5, 33]])]
    """
    yield from mask_fastx(
        source,
        method="tantan",
        empty=empty,
        threads=threads,
        protein=protein,
        repeat_start=repeat_start,
        repeat_end=repeat_end,
        decay=decay,
        max_period=max_period,
        gap_open=gap_open,
        gap_extend=gap_extend,
        threshold=threshold,
    )


def mask_fastx_arrow(
    source: Source,
    *,
    window: int | None = None,
    empty: EmptyPolicy = "raise",
    method: MaskMethod = "sdust",
    **options: Any,
) -> pa.Table:
    """Low-complexity intervals of every record (options as :func:`mask_fastx`) as an
    Arrow table with BED columns ``chrom`` (string), ``start`` and ``end`` (int64). Needs
    ``pyarrow``.

    Examples
    --------
    >>> import io
    >>> from entroseg.genomic import mask_fastx_arrow
    >>> t = mask_fastx_arrow(io.BytesIO(b">r\\n" + b"A" * 30 + b"\\n"))
    >>> t.to_pylist()
    [{'chrom': 'r', 'start': 0, 'end': 30}]
    """
    pa = _pyarrow()
    chrom: list[str] = []
    starts: list[npt.NDArray[np.int64]] = []
    ends: list[npt.NDArray[np.int64]] = []
    for name, iv in mask_fastx(source, method=method, window=window, empty=empty, **options):
        chrom.extend([name] * len(iv))
        starts.append(iv[:, 0])
        ends.append(iv[:, 1])
    empty_ints = np.zeros(0, dtype=np.int64)
    return pa.table(
        {
            "chrom": pa.array(chrom, type=pa.string()),
            "start": np.concatenate(starts) if starts else empty_ints,
            "end": np.concatenate(ends) if ends else empty_ints,
        }
    )


def write_bed(masks: Iterable[tuple[str, Intervals]], out: TextIO) -> int:
    """Write ``name<TAB>start<TAB>end`` lines (BED3, 0-based half-open) for each interval.

    Returns the number of lines written.

    Examples
    --------
    >>> import io, numpy as np
    >>> from entroseg.genomic import write_bed
    >>> buf = io.StringIO()
    >>> write_bed([("chr1", np.array([[3, 9], [20, 31]]))], buf)
    2
    >>> print(buf.getvalue(), end="")
    chr1	3	9
    chr1	20	31
    """
    lines = 0
    for name, intervals in masks:
        if len(intervals):
            out.write("".join(f"{name}\t{s}\t{e}\n" for s, e in intervals.tolist()))
            lines += len(intervals)
    return lines


def sample_fasta(*, seed: int = 11, records: int = 3, length: int = 2000) -> bytes:
    """A small generated FASTA with known features, for demos and tests.

    Each record is random sequence interleaved with a microsatellite (``CA`` repeats), a
    homopolymer run, a run of ``N`` and a soft-masked (lowercase) stretch, at places
    that differ per record. Generated, not downloaded, so it works offline.

    Examples
    --------
    >>> from entroseg.genomic import sample_fasta
    >>> fa = sample_fasta(records=2, length=300)
    >>> fa.count(b">"), fa.startswith(b">sample1 ")
    (2, True)
    """
    rng = np.random.default_rng(seed)
    out = []
    for i in range(records):
        letters = np.frombuffer(b"ACGT", dtype=np.uint8)
        seq = bytearray(letters[rng.integers(0, 4, length)].tobytes())
        for motif, count in ((b"CA", 20), (b"T", 30), (b"N", 25), (b"GATA", 6)):
            piece = motif * count
            at = int(rng.integers(0, max(1, length - len(piece))))
            seq[at : at + len(piece)] = piece
        soft = int(rng.integers(0, max(1, length - 80)))
        seq[soft : soft + 80] = seq[soft : soft + 80].lower()
        header = f">sample{i + 1} generated record {i + 1} of {records}\n".encode()
        body = b"\n".join(bytes(seq[j : j + 60]) for j in range(0, len(seq), 60))
        out.append(header + body + b"\n")
    return b"".join(out)
