"""Type stubs of the native module ``entroseg._entroseg`` (full docstrings at runtime)."""

import os
from typing import Any, Literal, Protocol, TypedDict, final, overload

import numpy as np
import numpy.typing as npt
from typing_extensions import Self

__all__ = [
    "BLT_DEFAULT_THRESHOLD",
    "MAX_ALPHABET",
    "MAX_ORDER",
    "REASONS",
    "SHORT_SERIES",
    "CheckpointError",
    "EmptyInputError",
    "EntrosegError",
    "FastxFormatError",
    "FastxReader",
    "InvalidParameterError",
    "InvalidSequenceError",
    "NextSymbolEntropy",
    "NonFiniteError",
    "RollingConditionalEntropy",
    "RollingConditionalPermutationEntropy",
    "RollingPermutationEntropy",
    "SegmentSpec",
    "StreamClosedError",
    "SymbolOutOfRangeError",
    "_ChangePointDetector",
    "_MergePlanner",
    "_Profiler",
    "_Segmenter",
    "__version__",
    "_assign_rates",
    "_bed_lines",
    "_change_points",
    "_check_expr_kwargs",
    "_default_penalty",
    "_dna_profile",
    "_dna_profile_batch",
    "_dna_tokens_batch",
    "_dust_mask_batch",
    "_longdust_mask_batch",
    "_merge_plan",
    "_merge_stream_finish",
    "_merge_stream_push",
    "_profile",
    "_profile_summary_lines",
    "_segment",
    "_segment_batch",
    "_segment_parallel",
    "_spec_from_options",
    "_tantan_mask_batch",
    "conditional_entropy",
    "conditional_permutation_entropy",
    "dust_mask",
    "encode_dna",
    "longdust_mask",
    "missing_patterns",
    "next_symbol_entropy",
    "ordinal_patterns",
    "permutation_entropy",
    "quantize",
    "statistical_complexity",
    "tantan_mask",
    "tantan_probabilities",
]

__version__: str
MAX_ORDER: int
BLT_DEFAULT_THRESHOLD: float
MAX_ALPHABET: int
REASONS: tuple[str, ...]

_Real = npt.ArrayLike
_NanPolicy = Literal["raise", "propagate"]
_F64 = npt.NDArray[np.float64]

class EntrosegError(ValueError):
    """Base class of entroseg's errors (a ValueError)."""

class InvalidParameterError(EntrosegError):
    """An option, or the input's shape or range, is outside what is supported."""

class EmptyInputError(EntrosegError):
    """The input is too short for the requested statistic."""

class NonFiniteError(EntrosegError):
    """NaN or infinity in the input under nan_policy='raise'."""

class SymbolOutOfRangeError(EntrosegError):
    """A symbol is outside 0..alphabet_size."""

class CheckpointError(EntrosegError):
    """A checkpoint cannot be restored by this class."""

class InvalidSequenceError(EntrosegError):
    """A DNA sequence holds a character that is not a nucleotide letter."""

class FastxFormatError(EntrosegError):
    """A FASTA/FASTQ input is malformed, truncated or its compression is corrupt."""

class StreamClosedError(EntrosegError):
    """An operation on a finished stream (push after finish)."""

@overload
def permutation_entropy(
    x: _Real,
    /,
    *,
    order: int = 3,
    delay: int = 1,
    window: None = None,
    normalize: bool = True,
    weighted: bool = False,
    nan_policy: _NanPolicy = "raise",
    out: None = None,
) -> float: ...
@overload
def permutation_entropy(
    x: _Real,
    /,
    *,
    order: int = 3,
    delay: int = 1,
    window: int,
    normalize: bool = True,
    weighted: bool = False,
    nan_policy: _NanPolicy = "raise",
    out: _F64 | None = None,
) -> _F64:
    """Permutation entropy (Bandt-Pompe), rolling (``window``) or whole-series."""

@overload
def statistical_complexity(
    x: _Real,
    /,
    *,
    order: int = 3,
    delay: int = 1,
    window: None = None,
    nan_policy: _NanPolicy = "raise",
    out: None = None,
) -> float: ...
@overload
def statistical_complexity(
    x: _Real,
    /,
    *,
    order: int = 3,
    delay: int = 1,
    window: int,
    nan_policy: _NanPolicy = "raise",
    out: _F64 | None = None,
) -> _F64:
    """Jensen-Shannon statistical complexity of the ordinal patterns."""

@overload
def missing_patterns(
    x: _Real,
    /,
    *,
    order: int = 3,
    delay: int = 1,
    window: None = None,
    nan_policy: _NanPolicy = "raise",
    out: None = None,
) -> int: ...
@overload
def missing_patterns(
    x: _Real,
    /,
    *,
    order: int = 3,
    delay: int = 1,
    window: int,
    nan_policy: _NanPolicy = "raise",
    out: _F64 | None = None,
) -> _F64:
    """Number of the order! ordinal patterns that do not occur."""

def ordinal_patterns(
    x: _Real, /, *, order: int = 3, delay: int = 1, nan_policy: _NanPolicy = "raise"
) -> npt.NDArray[np.int32]:
    """Lexicographic ordinal pattern code per sample (-1 where there is none)."""

@overload
def conditional_entropy(
    symbols: npt.ArrayLike,
    /,
    *,
    context: int = 1,
    window: None = None,
    alphabet_size: int | None = None,
    normalize: bool = True,
    out: None = None,
) -> float: ...
@overload
def conditional_entropy(
    symbols: npt.ArrayLike,
    /,
    *,
    context: int = 1,
    window: int,
    alphabet_size: int | None = None,
    normalize: bool = True,
    out: _F64 | None = None,
) -> _F64:
    """Conditional (block) entropy H(X_t | previous ``context`` symbols)."""

@overload
def conditional_permutation_entropy(
    x: _Real,
    /,
    *,
    order: int = 3,
    delay: int = 1,
    context: int = 1,
    window: None = None,
    normalize: bool = True,
    nan_policy: _NanPolicy = "raise",
    out: None = None,
) -> float: ...
@overload
def conditional_permutation_entropy(
    x: _Real,
    /,
    *,
    order: int = 3,
    delay: int = 1,
    context: int = 1,
    window: int,
    normalize: bool = True,
    nan_policy: _NanPolicy = "raise",
    out: _F64 | None = None,
) -> _F64:
    """Conditional permutation entropy of the ordinal-pattern stream."""

def quantize(
    x: _Real,
    /,
    *,
    method: Literal["uniform", "mean_scale", "quantile"] = "uniform",
    bins: int = 16,
    low: float | None = None,
    high: float | None = None,
    limit: float = 5.0,
    sample: _Real | None = None,
) -> npt.NDArray[np.uint8]:
    """Map a real series to symbols ``0..bins`` (uint8)."""

@final
class RollingPermutationEntropy:
    """Rolling permutation entropy (or complexity, missing patterns) over a chunked stream."""

    def __new__(
        cls,
        *,
        window: int,
        order: int = 3,
        delay: int = 1,
        normalize: bool = True,
        weighted: bool = False,
        statistic: Literal["entropy", "complexity", "missing_patterns"] = "entropy",
        nan_policy: _NanPolicy = "raise",
    ) -> Self: ...
    def push(self, chunk: _Real) -> _F64:
        """Feed the next chunk; one value per sample of the chunk."""
    def update(self, chunk: _Real) -> _F64:
        """Deprecated alias of :meth:`push` (one release)."""
    def reset(self) -> None:
        """Forget everything seen; keep the options."""
    def checkpoint(self) -> bytes:
        """The state as bytes (O(window)); restore with ``from_checkpoint``."""
    @classmethod
    def from_checkpoint(cls, state: bytes) -> RollingPermutationEntropy:
        """Rebuild an estimator from ``checkpoint()`` bytes."""
    def __reduce__(self) -> tuple[object, tuple[bytes]]: ...
    @property
    def samples_seen(self) -> int: ...
    @property
    def window(self) -> int: ...
    @property
    def order(self) -> int: ...
    @property
    def delay(self) -> int: ...

@final
class RollingConditionalEntropy:
    """Rolling conditional entropy of a chunked symbol stream."""

    def __new__(
        cls, *, window: int, alphabet_size: int, context: int = 1, normalize: bool = True
    ) -> Self: ...
    def push(self, chunk: npt.ArrayLike) -> _F64:
        """Feed the next symbols; one value per symbol."""
    def update(self, chunk: npt.ArrayLike) -> _F64:
        """Deprecated alias of :meth:`push` (one release)."""
    def reset(self) -> None:
        """Forget everything seen; keep the options."""
    def checkpoint(self) -> bytes:
        """The state as bytes; restore with ``from_checkpoint``."""
    @classmethod
    def from_checkpoint(cls, state: bytes) -> RollingConditionalEntropy:
        """Rebuild an estimator from ``checkpoint()`` bytes."""
    def __reduce__(self) -> tuple[object, tuple[bytes]]: ...
    @property
    def samples_seen(self) -> int: ...
    @property
    def window(self) -> int: ...

@final
class RollingConditionalPermutationEntropy:
    """Rolling conditional permutation entropy over a chunked stream."""

    def __new__(
        cls,
        *,
        window: int,
        order: int = 3,
        delay: int = 1,
        context: int = 1,
        normalize: bool = True,
        nan_policy: _NanPolicy = "raise",
    ) -> Self: ...
    def push(self, chunk: _Real) -> _F64:
        """Feed the next chunk; one value per sample."""
    def update(self, chunk: _Real) -> _F64:
        """Deprecated alias of :meth:`push` (one release)."""
    def reset(self) -> None:
        """Forget everything seen; keep the options."""
    def checkpoint(self) -> bytes:
        """The state as bytes; restore with ``from_checkpoint``."""
    @classmethod
    def from_checkpoint(cls, state: bytes) -> RollingConditionalPermutationEntropy:
        """Rebuild an estimator from ``checkpoint()`` bytes."""
    def __reduce__(self) -> tuple[object, tuple[bytes]]: ...
    @property
    def samples_seen(self) -> int: ...

def next_symbol_entropy(
    symbols: npt.ArrayLike,
    /,
    *,
    context: int | None = None,
    alphabet_size: int | None = None,
    alpha: float = 0.5,
    min_count: int = 1,
    reset_symbol: int | None = None,
    normalize: bool = True,
    order: int | None = None,
) -> tuple[_F64, _F64]:
    """Model-free next-symbol entropy and surprisal of a symbol stream."""

@final
class NextSymbolEntropy:
    """Next-symbol entropy and surprisal over a chunked symbol stream."""

    def __new__(
        cls,
        *,
        alphabet_size: int,
        context: int | None = None,
        alpha: float = 0.5,
        min_count: int = 1,
        reset_symbol: int | None = None,
        normalize: bool = True,
        order: int | None = None,
    ) -> Self: ...
    def push(self, chunk: npt.ArrayLike) -> tuple[_F64, _F64]:
        """Feed the next symbols; ``(entropy, surprisal)`` per symbol."""
    def update(self, chunk: npt.ArrayLike) -> tuple[_F64, _F64]:
        """Deprecated alias of :meth:`push` (one release)."""
    def reset(self) -> None:
        """Forget everything seen; keep the options."""
    def checkpoint(self) -> bytes:
        """The state as bytes; restore with ``from_checkpoint``."""
    @classmethod
    def from_checkpoint(cls, state: bytes) -> NextSymbolEntropy:
        """Rebuild a model from ``checkpoint()`` bytes."""
    def __reduce__(self) -> tuple[object, tuple[bytes]]: ...
    @property
    def samples_seen(self) -> int: ...
    @property
    def context(self) -> int:
        """The context length."""
    @property
    def order(self) -> int:
        """Deprecated old name of ``context``."""
    @property
    def alphabet_size(self) -> int: ...

_I64 = npt.NDArray[np.int64]
_U8 = npt.NDArray[np.uint8]

@final
class SegmentSpec:
    """A validated segmentation: the score method and the rules, built from the
    options of :func:`entroseg.segment` (see :mod:`entroseg._options`). Build it once
    and pass it as ``spec=`` to any segmentation surface. Picklable; equal specs
    compare equal.

    Examples
    --------
    >>> import entroseg
    >>> spec = entroseg.SegmentSpec(window=64, target_len=32, calibration="batch")
    >>> spec
    SegmentSpec(window=64, target_len=32.0, calibration='batch')
    >>> spec.method, spec.options["order"]
    ('permutation', None)
    """

    def __new__(cls, **options: object) -> Self: ...
    @property
    def options(self) -> dict[str, object]:
        """Every option with its value (defaults where none was given)."""
    @property
    def given(self) -> dict[str, object]:
        """The options that differ from the defaults."""
    @staticmethod
    def method_of(**options: object) -> str:
        """The score method the options select ("line" unless a method, window or order
        is given), without validating anything else."""
    @staticmethod
    def option_names() -> list[str]:
        """Every option name, in the core's table order."""
    @staticmethod
    def defaults() -> dict[str, object]:
        """The default of every option."""
    @property
    def method(self) -> str:
        """The score method's name."""
    @property
    def takes_symbols(self) -> bool:
        """True when the method reads integer symbols."""
    def check_streamable(self) -> bool:
        """True when a stream can run this spec; otherwise raises, saying why."""
    def __eq__(self, value: object, /) -> bool: ...
    def __reduce__(self) -> tuple[object, tuple[dict[str, object]]]: ...

def _spec_from_options(options: dict[str, object]) -> SegmentSpec:
    """``SegmentSpec(**options)`` (for pickle)."""

def _profile(x: npt.ArrayLike, **options: object) -> npt.NDArray[np.float64]:
    """The score signal ``_segment`` cuts, for the options of a spec."""

@final
class _Profiler:
    """The streaming score source behind ``entroseg.Profiler``."""

    def __new__(cls, **options: object) -> Self: ...
    def push(self, chunk: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Scores of the next chunk."""
    def reset(self) -> None:
        """Back to a fresh stream."""
    def checkpoint(self) -> bytes:
        """The state as bytes."""
    @classmethod
    def from_checkpoint(cls, state: bytes) -> _Profiler:
        """Rebuild a profiler from ``checkpoint()`` bytes."""
    def __reduce__(self) -> tuple[object, tuple[bytes]]: ...
    @property
    def samples_seen(self) -> int: ...
    @property
    def takes_symbols(self) -> bool: ...
    @property
    def channels(self) -> int: ...

def _segment(
    x: npt.ArrayLike, spec: SegmentSpec
) -> tuple[tuple[_I64, _I64, _U8], tuple[float, int] | None]:
    """Segment one series (1-D, or (n, c): one boundary set for c channels):
    ``((starts, lengths, reasons), threshold)``, the threshold in force at the end as
    ``(value, tie_cut)`` or None."""

def _segment_batch(
    values: npt.ArrayLike, offsets: npt.ArrayLike, spec: SegmentSpec, threads: int | None = None
) -> tuple[_I64, _I64, _U8, _I64, tuple[float, int] | None]:
    """Segment a ragged batch: ``(starts, lengths, reasons, series_offsets, threshold)``,
    ``threshold`` the ``(value, tie_cut)`` the series share under ``budget``, else None."""

def _segment_parallel(
    x: npt.ArrayLike,
    spec: SegmentSpec,
    chunks: int | None = None,
    threads: int | None = None,
    overlap: int | None = None,
) -> tuple[_I64, _I64, _U8, dict[str, int | str | None]]:
    """Chunk-parallel segmentation: ``(starts, lengths, reasons, report)``."""

@final
class _Segmenter:
    """The streaming pipeline behind ``entroseg.Segmenter``."""

    def __new__(cls, spec: SegmentSpec) -> Self: ...
    def push(self, chunk: npt.ArrayLike) -> tuple[_I64, _I64, _U8]:
        """Feed a chunk; the segments that closed."""
    def finish(self) -> tuple[_I64, _I64, _U8]:
        """Close the stream; the last segment(s)."""
    def reset(self) -> None:
        """Back to a fresh stream."""
    def checkpoint(self) -> bytes:
        """The state as bytes."""
    @classmethod
    def from_checkpoint(cls, state: bytes) -> _Segmenter:
        """Rebuild a segmenter from ``checkpoint()`` bytes."""
    def __reduce__(self) -> tuple[object, tuple[bytes]]: ...
    @property
    def samples_seen(self) -> int: ...
    @property
    def is_finished(self) -> bool: ...
    @property
    def channels(self) -> int: ...
    @property
    def threshold(self) -> tuple[float, int] | None: ...
    @property
    def segments_closed(self) -> int: ...
    @property
    def target_len(self) -> float | None: ...

_I32 = npt.NDArray[np.int32]
_LevelArrays = tuple[
    _I32, _I32, _I64, npt.NDArray[np.float32], _I32, _I64, _I64, _I64, _I64, _F64, _I64
]

def _merge_plan(
    series_offsets: npt.ArrayLike,
    *,
    vectors: npt.ArrayLike | None = None,
    profile: npt.ArrayLike | None = None,
    unit_lengths: npt.ArrayLike | None = None,
    weights: npt.ArrayLike | None = None,
    window: int = 16,
    max_size: int | None = None,
    schedule: str = "r",
    r: int | None = None,
    inflect: float = 0.0,
    counts: list[int] | None = None,
    ratio: float | None = None,
    threshold: float | None = None,
    momentum: float = 0.9,
    levels: int | None = None,
    strict: bool = False,
    block: int | None = None,
) -> list[_LevelArrays]:
    """Plan merges; one tuple of arrays per level (see ``entroseg.merge_plan``)."""

@final
class _MergePlanner:
    """The streaming merge planner behind ``entroseg.MergePlanner``."""

    def __new__(
        cls,
        *,
        block: int,
        similarity: str = "cosine",
        window: int = 16,
        max_size: int | None = None,
        schedule: str = "r",
        r: int | None = None,
        inflect: float = 0.0,
        counts: list[int] | None = None,
        ratio: float | None = None,
        threshold: float | None = None,
        momentum: float = 0.9,
        levels: int | None = None,
        strict: bool = False,
    ) -> Self: ...
    def push(
        self,
        values: npt.ArrayLike,
        *,
        unit_lengths: npt.ArrayLike | None = None,
        weights: npt.ArrayLike | None = None,
    ) -> tuple[int, list[int], list[_LevelArrays]]:
        """Feed units; ``(first_unit, first_groups, levels)`` of the completed blocks."""
    def finish(self) -> tuple[int, list[int], list[_LevelArrays]]:
        """Close the stream; the last block's groups."""
    def reset(self) -> None:
        """Back to a fresh stream."""
    def checkpoint(self) -> bytes:
        """The state as bytes."""
    @classmethod
    def from_checkpoint(cls, state: bytes) -> _MergePlanner:
        """Rebuild a planner from ``checkpoint()`` bytes."""
    def __reduce__(self) -> tuple[object, tuple[bytes]]: ...
    @property
    def units_seen(self) -> int: ...
    @property
    def pending(self) -> int: ...
    @property
    def block(self) -> int: ...
    @property
    def num_levels(self) -> int: ...
    @property
    def is_finished(self) -> bool: ...

def _merge_stream_push(
    planners: list[_MergePlanner],
    values: npt.ArrayLike,
    bounds: list[int] | None = None,
    *,
    codes: npt.ArrayLike | None = None,
    order: npt.ArrayLike | None = None,
    weights: npt.ArrayLike | None = None,
    units: bool = False,
) -> tuple[list[int], tuple[npt.NDArray[Any], ...]]:
    """One batch of ``arrow.merge_stream``: each planner's rows pushed (rows
    ``order[bounds[i]:bounds[i+1]]`` to planner ``i``, or row ``r`` to planner
    ``codes[r]``); ``(rows per planner, columns)``."""

def _merge_stream_finish(
    planners: list[_MergePlanner], *, units: bool = False
) -> tuple[list[int], tuple[npt.NDArray[Any], ...]]:
    """``finish()`` of every planner, as ``_merge_stream_push`` returns rows."""

def _assign_rates(
    scores: npt.ArrayLike,
    lengths: npt.ArrayLike,
    series_offsets: npt.ArrayLike,
    factors: list[int],
    keep_ratio: float,
    strict: bool = False,
) -> tuple[_I64, _I64, _I64, _F64, _I64, _I64]:
    """Keep factors matched to a budget (see ``entroseg.assign_rates``)."""

SHORT_SERIES: int

class _CostOptions(TypedDict):
    auto: bool
    order: int | None
    delays: list[int]
    symmetric: bool
    mean: bool
    variance: bool
    trend: bool
    min_size: int
    block: int | None
    radius: int | None
    refine_variance: bool

def _change_points(
    x: _Real,
    cost: _CostOptions | dict[str, Any],
    *,
    fine: list[int] | None = None,
    n_bkps: int | None = None,
    pen: float | None = None,
) -> _I64:
    """Regime change points (see ``entroseg.change_points``)."""

def _default_penalty(n_samples: int, cost: _CostOptions | dict[str, Any]) -> float:
    """The default penalty of a series of ``n_samples`` samples."""

@final
class _ChangePointDetector:
    """The streaming detector behind ``entroseg.ChangePointDetector``."""

    def __new__(
        cls,
        cost: _CostOptions | dict[str, Any],
        *,
        window: int,
        lag: int,
        step: int,
        pen: float | None = None,
    ) -> Self: ...
    def push(self, chunk: npt.ArrayLike) -> tuple[_I64, _I64]:
        """Feed a chunk; the change points confirmed, as (index, delay)."""
    def finish(self) -> tuple[_I64, _I64]:
        """Close the stream; the change points of the last window."""
    def reset(self) -> None:
        """Back to a fresh stream."""
    def checkpoint(self) -> bytes:
        """The state as bytes."""
    @classmethod
    def from_checkpoint(cls, state: bytes) -> _ChangePointDetector:
        """Rebuild a detector from ``checkpoint()`` bytes."""
    def __reduce__(self) -> tuple[object, tuple[bytes]]: ...
    @property
    def samples_seen(self) -> int: ...
    @property
    def is_finished(self) -> bool: ...
    @property
    def reported(self) -> int: ...
    @property
    def retained(self) -> int: ...
    @property
    def geometry(self) -> tuple[int, int, int]: ...

_Sequence = bytes | str | npt.NDArray[np.integer]

def encode_dna(sequence: bytes | str, /) -> npt.NDArray[np.uint8]:
    """Base codes of DNA letters: A, C, G, T to 0..3, other IUPAC codes to 4."""

def _dna_profile(
    sequence: _Sequence,
    /,
    method: str,
    length: int,
    window: int | None = None,
    normalize: bool = True,
    method_name: str = "method",
    length_name: str = "context",
) -> float | _F64:
    """The DNA profile behind ``entroseg.dna_profile`` (options resolved)."""

def dust_mask(
    sequence: _Sequence, /, *, window: int = 64, level: int = 20, threads: int | None = None
) -> npt.NDArray[np.int64]:
    """SDUST low-complexity intervals, shape (n, 2), 0-based half-open."""

def longdust_mask(
    sequence: _Sequence,
    /,
    *,
    window: int = 5000,
    threshold: float = 0.6,
    kmer: int = 7,
    gc: float | Literal["auto"] | None = None,
    xdrop: int | None = 50,
    min_start_count: int = 3,
    approx: bool = False,
    forward_only: bool = False,
    threads: int | None = None,
) -> npt.NDArray[np.int64]:
    """longdust low-complexity intervals (identical to pydustmasker's LongdustMasker),
    shape (n, 2), 0-based half-open."""

def _longdust_mask_batch(
    sequences: _U8,
    offsets: _I64,
    /,
    *,
    window: int = 5000,
    threshold: float = 0.6,
    kmer: int = 7,
    gc: float | Literal["auto"] | None = None,
    xdrop: int | None = 50,
    min_start_count: int = 3,
    approx: bool = False,
    forward_only: bool = False,
    threads: int | None = None,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """longdust intervals of every record of a batch and per-record offsets."""

@overload
def tantan_mask(
    sequence: _Sequence,
    /,
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
) -> npt.NDArray[np.int64]:
    """tantan tandem-repeat intervals, shape (n, 2), 0-based half-open."""

@overload
def tantan_mask(
    sequence: list[_Sequence] | tuple[_Sequence, ...],
    /,
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
) -> list[npt.NDArray[np.int64]]: ...
def tantan_probabilities(
    sequence: _Sequence,
    /,
    *,
    protein: bool = False,
    repeat_start: float = 0.005,
    repeat_end: float = 0.05,
    decay: float = 0.9,
    max_period: int | None = None,
    gap_open: int = 0,
    gap_extend: int | None = None,
) -> npt.NDArray[np.float32]:
    """tantan's posterior repeat probability of every letter (float32)."""

class _Readable(Protocol):
    def read(self, size: int, /) -> bytes: ...

_RawRecord = tuple[
    str,
    str,
    bytes | None,
    npt.NDArray[np.uint8] | None,
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
    bytes | None,
    int,
    int,
]

_RawBatch = tuple[
    _U8,
    _I64,
    _U8 | None,
    _U8,
    _I64,
    _U8,
    _I64,
    _I64,
    _I64,
    _I64,
    _I64,
    _I64,
    _I64,
]

def _dust_mask_batch(
    sequences: _U8,
    offsets: _I64,
    /,
    *,
    window: int = 64,
    level: int = 20,
    threads: int | None = None,
) -> tuple[_I64, _I64]:
    """SDUST intervals of every record of a batch, with per-record offsets."""

def _tantan_mask_batch(
    sequences: _U8,
    offsets: _I64,
    /,
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
) -> tuple[_I64, _I64]:
    """tantan intervals of every record of a batch, with per-record offsets."""

def _dna_profile_batch(
    sequences: _U8,
    offsets: _I64,
    /,
    method: str,
    length: int,
    window: int | None = None,
    normalize: bool = True,
    method_name: str = "method",
    length_name: str = "context",
    threads: int | None = None,
) -> _F64:
    """Per-base DNA profile of every record of a batch, concatenated."""

def _dna_tokens_batch(
    sequences: _U8,
    offsets: _I64,
    /,
    method: str,
    length: int,
    window: int | None = None,
    *,
    target_len: float | None = None,
    threshold: float | None = None,
    min_len: int = 1,
    max_len: int | None = None,
    method_name: str = "method",
    length_name: str = "context",
    threads: int | None = None,
) -> tuple[_I64, _I64, _U8, _I64]:
    """Tokens of every record of a batch: starts, lengths, reasons, per-record offsets."""

def _bed_lines(names: _U8, name_offsets: _I64, starts: _I64, ends: _I64, offsets: _I64, /) -> bytes:
    """BED3 lines of ragged per-record intervals."""

def _profile_summary_lines(names: _U8, name_offsets: _I64, values: _F64, offsets: _I64, /) -> bytes:
    """Summary lines (name, bases, mean / min / max of the finite values) of a batch profile."""

@final
class FastxReader:
    """Streaming FASTA/FASTQ reader yielding raw record tuples (see ``read_fastx``)."""

    def __new__(
        cls,
        source: str | os.PathLike[str] | _Readable,
        /,
        *,
        empty: Literal["raise", "skip", "keep"] = "raise",
        sequence: bool = True,
        codes: bool = False,
        inflate: Literal["auto", "isal", "zlib-rs"] = "auto",
    ) -> Self: ...
    def __iter__(self) -> Self: ...
    def __next__(self) -> _RawRecord: ...
    def read_batch(
        self, *, batch_bases: int = 1_048_576, batch_records: int = 65_536
    ) -> _RawBatch | None:
        """The next batch of records in flat buffers (see ``iter_fastx_batches``)."""
    def _dust_bed_batch(
        self,
        *,
        window: int = 64,
        level: int = 20,
        batch_bases: int = 1_048_576,
        batch_records: int = 65_536,
        threads: int | None = None,
    ) -> tuple[bytes, int, int, int, int] | None:
        """SDUST intervals of the next batch as BED3 text: (text, records, bases, masked,
        intervals)."""
    @property
    def bytes_read(self) -> int:
        """Bytes of the input consumed so far (compressed bytes for compressed input)."""
    @property
    def records_read(self) -> int:
        """Records read so far."""
    @property
    def source(self) -> str:
        """The input's name as used in messages."""
    @property
    def compression(self) -> Literal["none", "gzip", "bzip2", "xz", "zstd"]:
        """The detected compression."""
    @property
    def format(self) -> Literal["fasta", "fastq"] | None:
        """The record format, once a record has been read."""

def _check_expr_kwargs(function: str, kwargs: bytes) -> None:
    """Validate a Polars expression's pickled options (raises the typed errors)."""
