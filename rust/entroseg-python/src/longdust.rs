//! The longdust masker: `longdust_mask` on one sequence and `_longdust_mask_batch` on a
//! batch of records. Thin adapters over `entroseg_core::genomic::longdust`; the GIL is
//! released around the core call.

use crate::convert::threads_option;
use crate::error::{core, InvalidParameterError};
use crate::genomic::{intervals_array, with_sequence, Sequence};
use entroseg_core::genomic::longdust::{self, GcContent, LongdustOptions, MAX_KMER, MAX_WINDOW};
use numpy::{PyArray1, PyArray2, PyReadonlyArray1};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyString};

/// An integer option in `lo..=hi`, else the error naming the value and the range.
fn ranged(value: i64, name: &str, lo: i64, hi: i64, extra: &str) -> PyResult<i64> {
    if value < lo || value > hi {
        return Err(InvalidParameterError::new_err(format!(
            "{name} must be in {lo}..={hi}{extra}, got {value}"
        )));
    }
    Ok(value)
}

/// The `gc` argument: None (uniform), "auto" or a float in [0, 1].
fn gc_option(gc: Option<&Bound<'_, PyAny>>) -> PyResult<GcContent> {
    let Some(gc) = gc else {
        return Ok(GcContent::Uniform);
    };
    if gc.is_none() {
        return Ok(GcContent::Uniform);
    }
    if let Ok(s) = gc.cast::<PyString>() {
        let s = s.to_str()?;
        if s == "auto" {
            return Ok(GcContent::Auto);
        }
        return Err(InvalidParameterError::new_err(format!(
            "gc must be None, 'auto' or a float in [0, 1], got '{s}'"
        )));
    }
    if gc.is_instance_of::<PyBool>() {
        return Err(PyTypeError::new_err(
            "gc must be None, 'auto' or a float in [0, 1], got a bool",
        ));
    }
    match gc.extract::<f64>() {
        Ok(v) => Ok(GcContent::Fraction(v)),
        Err(_) => Err(PyTypeError::new_err(format!(
            "gc must be None, 'auto' or a float in [0, 1], got {}",
            gc.get_type().name()?
        ))),
    }
}

/// The options of `longdust_mask`, checked (the core's checks and messages).
#[allow(clippy::too_many_arguments)]
pub(crate) fn longdust_options(
    window: i64,
    threshold: f64,
    kmer: i64,
    gc: Option<&Bound<'_, PyAny>>,
    xdrop: Option<i64>,
    min_start_count: i64,
    approx: bool,
    forward_only: bool,
) -> PyResult<LongdustOptions> {
    let kmer = ranged(kmer, "kmer", 1, MAX_KMER as i64, "")?;
    let window = ranged(
        window,
        "window",
        kmer + 1,
        MAX_WINDOW as i64,
        " (at least kmer + 1)",
    )?;
    let min_start_count = ranged(min_start_count, "min_start_count", 2, MAX_WINDOW as i64, "")?;
    let xdrop = match xdrop {
        None => None,
        Some(x) => Some(ranged(x, "xdrop", 1, i64::MAX, " (or None to disable it)")? as u64),
    };
    let options = LongdustOptions {
        window: window as usize,
        threshold,
        kmer: kmer as usize,
        gc: gc_option(gc)?,
        xdrop,
        min_start_count: min_start_count as u32,
        approx,
        forward_only,
    };
    core(options.validate())?;
    Ok(options)
}

/// Low-complexity intervals of a DNA sequence by longdust (Li & Li 2025), identical to
/// pydustmasker's ``LongdustMasker``.
///
/// longdust scores an interval by how far its k-mer counts are from those of random
/// sequence (``sum ln(n!)`` against its expectation) and finds long low-complexity
/// regions and long tandem repeats, up to ``window`` bases, that SDUST's 64-base window
/// misses. Both strands are scanned and their intervals united (touching ones merged).
/// A, C, G and T in either case are bases (soft-masked bases are masked too); every other
/// ASCII letter (N, IUPAC codes, U ...) is ambiguous: it breaks k-mers and lowers the
/// score but, unlike in :func:`dust_mask`, does not split the sequence, so a short N run
/// inside a repeat can be masked with it. The GIL is released.
///
/// Parameters
/// ----------
/// sequence : bytes, str or numpy.ndarray
///     Nucleotide letters (ASCII), or base codes 0..=4 (4 ambiguous).
/// window : int, default 5000
///     Largest window in bases (pydustmasker ``window_size``), kmer + 1..=65535.
/// threshold : float, default 0.6
///     Score threshold per base (pydustmasker ``score_threshold``), finite and > 0;
///     higher masks less.
/// kmer : int, default 7
///     k-mer length (pydustmasker ``kmer``), 1..=12.
/// gc : None, "auto" or float, default None
///     GC-content correction (pydustmasker ``gc``): None assumes a uniform composition,
///     "auto" uses the GC share of the sequence's A/C/G/T, a float in [0, 1] is used as
///     given.
/// xdrop : int or None, default 50
///     X-drop length (pydustmasker ``xdrop``): a backward scan stops once the score falls
///     ``threshold * xdrop`` below its best; at least 1; None disables it.
/// min_start_count : int, default 3
///     Smallest window count of the newest k-mer that starts a backward scan
///     (pydustmasker ``min_start_cnt``), 2..=65535.
/// approx : bool, default False
///     Check only the first candidate start of each scan: O(length * window) time
///     (pydustmasker ``approx``).
/// forward_only : bool, default False
///     Scan the forward strand only (pydustmasker ``forward_only``).
/// threads : int or None, default None
///     Threads (None: every core). longdust scans one strand on one thread (its result
///     depends on the whole history of the scan, so a strand cannot be cut into pieces
///     with a provably identical result); with two or more threads the two strands of a
///     sequence of at least 64 Ki bases run at once. The result never depends on it.
///
/// Returns
/// -------
/// numpy.ndarray
///     int64 array of shape (n, 2): 0-based, half-open ``[start, end)`` intervals in
///     increasing order (BED coordinates).
///
/// Raises
/// ------
/// InvalidParameterError
///     An option out of range; the message names the value and the limit.
/// InvalidSequenceError
///     A byte is not ASCII.
///
/// Notes
/// -----
/// pydustmasker raises ValueError for a sequence shorter than ``kmer + 1``; such a
/// sequence holds at most one k-mer and cannot be low-complexity, so here it gives no
/// intervals (a FASTA record that short is not an error).
///
/// Examples
/// --------
/// >>> import entroseg
/// >>> seq = "GATTACAGGCTTACCGATGCATTGACG" + "AATCG" * 60 + "GGATCCAGTAGCTTACTGCATGCA"
/// >>> entroseg.longdust_mask(seq).tolist()
/// [[25, 327]]
/// >>> entroseg.longdust_mask("A" * 10 + "NNN" + "A" * 30).tolist()  # N does not split
/// [[0, 43]]
#[pyfunction]
#[pyo3(
    signature = (sequence, /, *, window=5000, threshold=0.6, kmer=7, gc=None, xdrop=Some(50), min_start_count=3, approx=false, forward_only=false, threads=None),
    text_signature = "(sequence, /, *, window=5000, threshold=0.6, kmer=7, gc=None, xdrop=50, min_start_count=3, approx=False, forward_only=False, threads=None)"
)]
#[allow(clippy::too_many_arguments)]
pub fn longdust_mask<'py>(
    py: Python<'py>,
    sequence: &Bound<'py, PyAny>,
    window: i64,
    threshold: f64,
    kmer: i64,
    gc: Option<&Bound<'py, PyAny>>,
    xdrop: Option<i64>,
    min_start_count: i64,
    approx: bool,
    forward_only: bool,
    threads: Option<i64>,
) -> PyResult<Bound<'py, PyArray2<i64>>> {
    let options = longdust_options(
        window,
        threshold,
        kmer,
        gc,
        xdrop,
        min_start_count,
        approx,
        forward_only,
    )?;
    let threads = threads_option(threads)?;
    let seq = Sequence::extract(sequence)?;
    let intervals = with_sequence(
        py,
        &seq,
        |s| longdust::longdust_parallel(s, &options, threads),
        |s| longdust::longdust_codes_parallel(s, &options, threads),
    )?;
    intervals_array(py, &core(intervals)?)
}

/// longdust intervals of every record of a batch: ``(intervals, offsets)``, record ``i``
/// owning ``intervals[offsets[i]:offsets[i + 1]]`` (int64 ``[start, end)`` within the
/// record), each record masked alone as ``longdust_mask`` masks it. Records are spread
/// over ``threads`` threads (None: every core); the result does not depend on it. The
/// GIL is released.
#[pyfunction]
#[pyo3(
    signature = (sequences, offsets, /, *, window=5000, threshold=0.6, kmer=7, gc=None, xdrop=Some(50), min_start_count=3, approx=false, forward_only=false, threads=None),
    text_signature = "(sequences, offsets, /, *, window=5000, threshold=0.6, kmer=7, gc=None, xdrop=50, min_start_count=3, approx=False, forward_only=False, threads=None)"
)]
#[allow(clippy::too_many_arguments)]
pub fn _longdust_mask_batch<'py>(
    py: Python<'py>,
    sequences: PyReadonlyArray1<'py, u8>,
    offsets: PyReadonlyArray1<'py, i64>,
    window: i64,
    threshold: f64,
    kmer: i64,
    gc: Option<&Bound<'py, PyAny>>,
    xdrop: Option<i64>,
    min_start_count: i64,
    approx: bool,
    forward_only: bool,
    threads: Option<i64>,
) -> PyResult<crate::reads::RaggedIntervals<'py>> {
    let options = longdust_options(
        window,
        threshold,
        kmer,
        gc,
        xdrop,
        min_start_count,
        approx,
        forward_only,
    )?;
    let threads = threads_option(threads)?;
    let (seq, off) = (sequences.as_slice()?, offsets.as_slice()?);
    let ragged = core(py.detach(|| longdust::longdust_batch(seq, off, &options, threads)))?;
    Ok((
        intervals_array(py, &ragged.values)?,
        PyArray1::from_vec(py, ragged.value_offsets),
    ))
}
