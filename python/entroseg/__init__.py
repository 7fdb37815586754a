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

``import entroseg`` stays light: it loads the compiled extension and nothing else; the
Python submodules, and numpy with them, are imported on first use of a name that needs
them (so the command line starts without numpy where its command does not need it), and
Polars, pyarrow, matplotlib or Ray only by the submodules that use them.
The ``pl.Expr.entroseg`` expression namespace (:mod:`entroseg.polars`) is registered as
soon as Polars is imported, before or after entroseg. The submodules
:mod:`entroseg.arrow` (Arrow record batch streams), :mod:`entroseg.plot`,
:mod:`entroseg.metrics`, :mod:`entroseg.ray`, :mod:`entroseg.polars` and
:mod:`entroseg.cli` are attributes of the package, imported on first use.
"""

import importlib as _importlib
import types as _types
import typing as _typing

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
    dust_mask,
    encode_dna,
    longdust_mask,
    missing_patterns,
    next_symbol_entropy,
    ordinal_patterns,
    permutation_entropy,
    quantize,
    statistical_complexity,
    tantan_mask,
    tantan_probabilities,
)

if _typing.TYPE_CHECKING:
    from entroseg import arrow as arrow
    from entroseg import cli as cli
    from entroseg import metrics as metrics
    from entroseg import plot as plot
    from entroseg import polars as polars
    from entroseg import ray as ray
    from entroseg._resume import CheckpointMismatchError
    from entroseg.changepoints import ChangePointDetector, Detections, change_points
    from entroseg.genomic import FastxRecord, dna_profile, dna_tokens, read_fastx
    from entroseg.merge import (
        MergeLevel,
        MergePlan,
        MergePlanner,
        Rates,
        assign_rates,
        merge_plan,
        segment_means,
    )
    from entroseg.parallel import StitchReport, segment_parallel
    from entroseg.sample import sample_series
    from entroseg.segments import (
        Calibration,
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
    from entroseg.soft import RatioStatistics, boundary_probs, ratio_loss, ratio_statistics

#: Submodules imported on first attribute access (PEP 562). arrow, cli, metrics, plot,
#: polars and ray need, or may pull in, an optional heavy dependency; the others need
#: numpy, which takes longer to import than the command line takes to mask 100,000 reads.
_LAZY_SUBMODULES = (
    "arrow",
    "changepoints",
    "cli",
    "genomic",
    "merge",
    "metrics",
    "parallel",
    "plot",
    "polars",
    "ray",
    "sample",
    "segments",
    "soft",
)

#: The package's names that live in its Python submodules, imported (with numpy) on
#: first access; the compiled extension's names are imported above.
_LAZY_NAMES = {
    "Calibration": "segments",
    "ChangePointDetector": "changepoints",
    "CheckpointMismatchError": "_resume",
    "Detections": "changepoints",
    "FastxRecord": "genomic",
    "MergeLevel": "merge",
    "MergePlan": "merge",
    "MergePlanner": "merge",
    "PaddedSegments": "segments",
    "Profiler": "segments",
    "Rates": "merge",
    "RatioStatistics": "soft",
    "SegmentSpec": "segments",
    "Segmenter": "segments",
    "Segments": "segments",
    "StitchReport": "parallel",
    "assign_rates": "merge",
    "boundaries": "segments",
    "boundary_probs": "soft",
    "change_points": "changepoints",
    "dna_profile": "genomic",
    "dna_tokens": "genomic",
    "merge_plan": "merge",
    "profile": "segments",
    "ratio_loss": "soft",
    "ratio_statistics": "soft",
    "read_fastx": "genomic",
    "sample_series": "sample",
    "segment": "segments",
    "segment_batch": "segments",
    "segment_means": "merge",
    "segment_parallel": "parallel",
}


def _lazy_attribute(name: str) -> object:
    """A name of :data:`_LAZY_NAMES` (bound on the package once imported) or a lazy
    submodule."""
    module = _LAZY_NAMES.get(name)
    if module is None:
        return _lazy_submodule(name)
    value = getattr(_importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def _lazy_submodule(name: str) -> _types.ModuleType:
    """``entroseg.<name>`` for a lazy submodule (the import binds it on the package, so
    this runs once per submodule).

    A missing optional dependency (``entroseg.polars`` without Polars) is an
    AttributeError naming it, so that ``hasattr``, ``help(entroseg)`` and other walkers
    of ``dir()`` skip the submodule rather than fail."""
    if name not in _LAZY_SUBMODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        return _importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.partition(".")[0] == __name__:
            raise
        raise AttributeError(
            f"module {__name__!r} has no attribute {name!r}: entroseg.{name} needs "
            f"{exc.name.partition('.')[0]}, which is not installed ({exc})"
        ) from exc


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY_SUBMODULES, *_LAZY_NAMES})


# Hidden from type checkers, which see the typed imports above; a module __getattr__
# would make every misspelt attribute of entroseg type-check as a module.
if not _typing.TYPE_CHECKING:
    __getattr__ = _lazy_attribute

_polars_hook.install()

__all__ = [
    "MAX_ALPHABET",
    "MAX_ORDER",
    "REASONS",
    "Calibration",
    "ChangePointDetector",
    "CheckpointError",
    "CheckpointMismatchError",
    "Detections",
    "EmptyInputError",
    "EntrosegError",
    "FastxFormatError",
    "FastxReader",
    "FastxRecord",
    "InvalidParameterError",
    "InvalidSequenceError",
    "MergeLevel",
    "MergePlan",
    "MergePlanner",
    "NextSymbolEntropy",
    "NonFiniteError",
    "PaddedSegments",
    "Profiler",
    "Rates",
    "RatioStatistics",
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
    "boundary_probs",
    "change_points",
    "conditional_entropy",
    "conditional_permutation_entropy",
    "dna_profile",
    "dna_tokens",
    "dust_mask",
    "encode_dna",
    "longdust_mask",
    "merge_plan",
    "missing_patterns",
    "next_symbol_entropy",
    "ordinal_patterns",
    "permutation_entropy",
    "profile",
    "quantize",
    "ratio_loss",
    "ratio_statistics",
    "read_fastx",
    "sample_series",
    "segment",
    "segment_batch",
    "segment_means",
    "segment_parallel",
    "statistical_complexity",
    "tantan_mask",
    "tantan_probabilities",
]
