//! Batches of reads: SDUST masks, per-base profiles and tokens over a whole batch of
//! records (a buffer of concatenated sequences with offsets, as `FastxReader.read_batch`
//! gives), each record processed alone, on the pool, with the GIL released. Thin
//! adapters over `entroseg_core::genomic::reads`.

use crate::convert::{count_option, threads_option};
use crate::error::{core, InvalidParameterError};
use crate::genomic::{intervals_array, profile_options};
use entroseg_core::genomic::reads;
use entroseg_core::segment::rules::Rules;
use numpy::{PyArray1, PyArray2, PyReadonlyArray1};
use pyo3::prelude::*;

/// Per-record intervals: int64 `(m, 2)` rows and `records + 1` offsets.
pub(crate) type RaggedIntervals<'py> = (Bound<'py, PyArray2<i64>>, Bound<'py, PyArray1<i64>>);

/// Tokens of a batch: starts, lengths, reasons and per-record offsets.
type RaggedTokens<'py> = (
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<u8>>,
    Bound<'py, PyArray1<i64>>,
);

/// SDUST intervals of every record of a batch: `(intervals, offsets)`, where
/// `intervals[offsets[i]:offsets[i + 1]]` are record `i`'s int64 ``[start, end)``
/// intervals within the record, each record masked alone as ``dust_mask`` masks it.
/// Records are spread over `threads` threads (None: every core); the result does not
/// depend on the thread count. The GIL is released.
#[pyfunction]
#[pyo3(signature = (sequences, offsets, /, *, window=64, level=20, threads=None))]
pub fn _dust_mask_batch<'py>(
    py: Python<'py>,
    sequences: PyReadonlyArray1<'py, u8>,
    offsets: PyReadonlyArray1<'py, i64>,
    window: i64,
    level: i64,
    threads: Option<i64>,
) -> PyResult<RaggedIntervals<'py>> {
    let options = crate::genomic::dust_options(window, level)?;
    let threads = threads_option(threads)?;
    let (seq, off) = (sequences.as_slice()?, offsets.as_slice()?);
    let ragged = core(py.detach(|| reads::sdust_batch(seq, off, options, threads)))?;
    Ok((
        intervals_array(py, &ragged.values)?,
        PyArray1::from_vec(py, ragged.value_offsets),
    ))
}

/// The per-base DNA profile of every record of a batch, concatenated (laid out like the
/// sequences), each record from a fresh profiler. Options as ``_dna_profile``; a
/// window is required for the windowed methods. The GIL is released.
#[pyfunction]
#[pyo3(signature = (sequences, offsets, /, method, length, window=None, normalize=true, method_name="method", length_name="context", threads=None))]
#[allow(clippy::too_many_arguments)]
pub fn _dna_profile_batch<'py>(
    py: Python<'py>,
    sequences: PyReadonlyArray1<'py, u8>,
    offsets: PyReadonlyArray1<'py, i64>,
    method: &str,
    length: i64,
    window: Option<i64>,
    normalize: bool,
    method_name: &str,
    length_name: &str,
    threads: Option<i64>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let options = profile_options(
        (method, method_name),
        (length, length_name),
        window,
        normalize,
    )?;
    let threads = threads_option(threads)?;
    let (seq, off) = (sequences.as_slice()?, offsets.as_slice()?);
    let values = core(py.detach(|| reads::profile_batch(seq, off, options, threads)))?;
    Ok(PyArray1::from_vec(py, values))
}

/// Tokens of every record of a batch: `(starts, lengths, reasons, offsets)` where record
/// `i` owns tokens `offsets[i]:offsets[i + 1]` (starts within the record). Each record's
/// normalized per-base profile comes from a fresh profiler (a next-base model learns
/// from that record only) and `target_len` calibrates the threshold on that record's
/// scores alone; `threshold` fixes it instead. The GIL is released.
#[pyfunction]
#[pyo3(signature = (sequences, offsets, /, method, length, window=None, *, target_len=None, threshold=None, min_len=1, max_len=None, method_name="method", length_name="context", threads=None))]
#[allow(clippy::too_many_arguments)]
pub fn _dna_tokens_batch<'py>(
    py: Python<'py>,
    sequences: PyReadonlyArray1<'py, u8>,
    offsets: PyReadonlyArray1<'py, i64>,
    method: &str,
    length: i64,
    window: Option<i64>,
    target_len: Option<f64>,
    threshold: Option<f64>,
    min_len: i64,
    max_len: Option<i64>,
    method_name: &str,
    length_name: &str,
    threads: Option<i64>,
) -> PyResult<RaggedTokens<'py>> {
    let options = profile_options((method, method_name), (length, length_name), window, true)?;
    if target_len.is_none() && threshold.is_none() {
        return Err(InvalidParameterError::new_err(
            "tokens need a rule: give target_len or threshold",
        ));
    }
    let rules = Rules {
        threshold,
        target_len: if threshold.is_some() {
            None
        } else {
            target_len
        },
        min_len: count_option(min_len, "min_len", 1)?,
        max_len: max_len.map(|m| count_option(m, "max_len", 1)).transpose()?,
        ..Rules::default()
    };
    let threads = threads_option(threads)?;
    let (seq, off) = (sequences.as_slice()?, offsets.as_slice()?);
    let ragged = core(py.detach(|| reads::tokens_batch(seq, off, options, &rules, threads)))?;
    let n = ragged.values.len();
    let (mut starts, mut lengths, mut why) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for s in &ragged.values {
        starts.push(s.start as i64);
        lengths.push(s.len as i64);
        why.push(s.reason);
    }
    Ok((
        PyArray1::from_vec(py, starts),
        PyArray1::from_vec(py, lengths),
        PyArray1::from_vec(py, why),
        PyArray1::from_vec(py, ragged.value_offsets),
    ))
}

/// BED3 lines ``name<TAB>start<TAB>end`` for the intervals of every record of a batch:
/// record ``i`` (named ``names[name_offsets[i]:name_offsets[i + 1]]``) owns the rows
/// ``starts[offsets[i]:offsets[i + 1]]`` / ``ends[...]``. Returns the text as bytes
/// (names as in the file). Formatting millions of token lines in Python costs more than
/// computing them; here it is a few ns a line. The GIL is released.
#[pyfunction]
#[pyo3(signature = (names, name_offsets, starts, ends, offsets, /))]
pub fn _bed_lines<'py>(
    py: Python<'py>,
    names: PyReadonlyArray1<'py, u8>,
    name_offsets: PyReadonlyArray1<'py, i64>,
    starts: PyReadonlyArray1<'py, i64>,
    ends: PyReadonlyArray1<'py, i64>,
    offsets: PyReadonlyArray1<'py, i64>,
) -> PyResult<Bound<'py, pyo3::types::PyBytes>> {
    let (names, name_offsets) = (names.as_slice()?, name_offsets.as_slice()?);
    let (starts, ends, offsets) = (starts.as_slice()?, ends.as_slice()?, offsets.as_slice()?);
    let text = core(py.detach(|| reads::bed_lines(names, name_offsets, starts, ends, offsets)))?;
    Ok(pyo3::types::PyBytes::new(py, &text))
}

/// The per-record summary lines of a batch profile, as ``entroseg dna profile`` prints
/// them (name, bases, mean / min / max of the finite values and their number): record
/// ``i`` (named ``names[name_offsets[i]:name_offsets[i + 1]]``) owns
/// ``values[offsets[i]:offsets[i + 1]]``. Returns UTF-8 text as bytes. The GIL is
/// released.
#[pyfunction]
#[pyo3(signature = (names, name_offsets, values, offsets, /))]
pub fn _profile_summary_lines<'py>(
    py: Python<'py>,
    names: PyReadonlyArray1<'py, u8>,
    name_offsets: PyReadonlyArray1<'py, i64>,
    values: PyReadonlyArray1<'py, f64>,
    offsets: PyReadonlyArray1<'py, i64>,
) -> PyResult<Bound<'py, pyo3::types::PyBytes>> {
    let (names, name_offsets) = (names.as_slice()?, name_offsets.as_slice()?);
    let (values, offsets) = (values.as_slice()?, offsets.as_slice()?);
    let text =
        core(py.detach(|| reads::profile_summary_lines(names, name_offsets, values, offsets)))?;
    Ok(pyo3::types::PyBytes::new(py, &text))
}
