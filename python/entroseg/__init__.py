"""entroseg: streaming entropy segmentation.

Drift-free, chunk-invariant rolling entropy profiles computed in Rust, O(1) work per
sample: permutation entropy (plain, weighted, statistical complexity, missing patterns),
conditional block entropy of symbol streams, conditional permutation entropy, and
quantizers from floats to symbols. Genomic data (FASTA/FASTQ records, DNA entropy
profiles, SDUST low-complexity masks) lives in :mod:`entroseg.genomic`.

Conventions (every function obeys them):

- Rolling outputs have the input's length; the value at ``t`` describes the window
  ``x[t-window+1 : t+1]`` (``window`` counts samples). Incomplete windows are NaN.
- ``window=None`` gives one value for the whole input, equal to the rolling value of a
  window covering the whole input.
- Ties in ordinal patterns: the earlier sample ranks lower, exactly
  ``numpy.argsort(kind="stable")``.
- Entropies are in nats; ``normalize=True`` (the default) divides by the maximum
  (``ln(order!)`` or ``ln(alphabet_size)``), giving values in [0, 1].
- ``nan_policy="raise"`` rejects NaN/inf naming the first bad index;
  ``"propagate"`` gives NaN for every window that contains one.
- Streaming classes give bit-identical results whatever the chunking, and after any
  checkpoint/restore.

With Polars installed, ``import entroseg`` also registers the ``pl.Expr.entroseg``
expression namespace (:mod:`entroseg.polars`); :mod:`entroseg.arrow` streams Arrow
record batches.
"""

from entroseg import _polars_hook
from entroseg._entroseg import (
    MAX_ALPHABET,
    MAX_ORDER,
    REASONS,
    CheckpointError,
    EmptyInputError,
    EntrosegError,
    FastxFormatError,
    FastxReader,
    InvalidParameterError,
    InvalidSequenceError,
    NextSymbolEntropy,
    NonFiniteError,
    RollingConditionalEntropy,
    RollingConditionalPermutationEntropy,
    RollingPermutationEntropy,
    StreamClosedError,
    SymbolOutOfRangeError,
    __version__,
    conditional_entropy,
    conditional_permutation_entropy,
    dna_profile,
    dust_mask,
    encode_dna,
    missing_patterns,
    next_symbol_entropy,
    ordinal_patterns,
    permutation_entropy,
    quantize,
    statistical_complexity,
)
from entroseg.changepoints import change_points
from entroseg.genomic import FastxRecord, dna_tokens, read_fastx
from entroseg.merge import (
    MergeLevel,
    MergePlan,
    Rates,
    assign_rates,
    merge_plan,
    segment_means,
)
from entroseg.parallel import StitchReport, segment_parallel
from entroseg.sample import sample_series
from entroseg.segments import (
    PaddedSegments,
    Profiler,
    Segmenter,
    Segments,
    SegmentSpec,
    boundaries,
    profile,
    segment,
    segment_batch,
)

_polars_hook.register()

__all__ = [
    "MAX_ALPHABET",
    "MAX_ORDER",
    "REASONS",
    "CheckpointError",
    "EmptyInputError",
    "EntrosegError",
    "FastxFormatError",
    "FastxReader",
    "FastxRecord",
    "InvalidParameterError",
    "InvalidSequenceError",
    "MergeLevel",
    "MergePlan",
    "NextSymbolEntropy",
    "NonFiniteError",
    "PaddedSegments",
    "Profiler",
    "Rates",
    "RollingConditionalEntropy",
    "RollingConditionalPermutationEntropy",
    "RollingPermutationEntropy",
    "SegmentSpec",
    "Segmenter",
    "Segments",
    "StitchReport",
    "StreamClosedError",
    "SymbolOutOfRangeError",
    "__version__",
    "assign_rates",
    "boundaries",
    "change_points",
    "conditional_entropy",
    "conditional_permutation_entropy",
    "dna_profile",
    "dna_tokens",
    "dust_mask",
    "encode_dna",
    "merge_plan",
    "missing_patterns",
    "next_symbol_entropy",
    "ordinal_patterns",
    "permutation_entropy",
    "profile",
    "quantize",
    "read_fastx",
    "sample_series",
    "segment",
    "segment_batch",
    "segment_means",
    "segment_parallel",
    "statistical_complexity",
]
