//! The tantan surface: the tandem-repeat masker's intervals and posteriors of one
//! sequence or of many (in parallel), and over a batch of FASTA/FASTQ records. Each
//! function converts its arguments, releases the GIL around the core call and converts
//! the result.

use crate::convert::threads_option;
use crate::error::{core, InvalidParameterError};
use crate::genomic::{intervals_array, with_sequence, Sequence};
use entroseg_core::genomic::tantan::{self, Tantan, TantanOptions, MAX_PERIOD_LIMIT};
use numpy::{PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};

/// The options, checked (the core names the value and the limit of each).
#[allow(clippy::too_many_arguments)]
fn options(
    protein: bool,
    repeat_start: f64,
    repeat_end: f64,
    decay: f64,
    max_period: Option<i64>,
    gap_open: i64,
    gap_extend: Option<i64>,
    threshold: f64,
) -> PyResult<TantanOptions> {
    let max_period = match max_period {
        None => None,
        Some(m) => Some(
            usize::try_from(m)
                .ok()
                .filter(|&m| m <= MAX_PERIOD_LIMIT)
                .ok_or_else(|| {
                    InvalidParameterError::new_err(format!(
                        "max_period must be in 1..={MAX_PERIOD_LIMIT}, got {m}"
                    ))
                })?,
        ),
    };
    let cost = |v: i64, name: &str| {
        u32::try_from(v).map_err(|_| {
            InvalidParameterError::new_err(format!("{name} must be in 0..={}, got {v}", u32::MAX))
        })
    };
    let options = TantanOptions {
        protein,
        repeat_start,
        repeat_end,
        decay,
        max_period,
        gap_open: cost(gap_open, "gap_open")?,
        gap_extend: gap_extend.map(|g| cost(g, "gap_extend")).transpose()?,
        threshold,
    };
    core(options.validate())?;
    Ok(options)
}

/// One sequence's letters or codes, owned or borrowed, ready to leave the GIL.
enum Input<'a> {
    Letters(&'a [u8]),
    Codes(&'a [u8]),
}

/// tantan: the tandem-repeat masker of Frith (2011), identical to pydustmasker's
/// ``TantanMasker``.
///
/// A hidden Markov model with a background state and one repeat state per period
/// ``1..=max_period`` gives each letter the posterior probability of lying in a tandem
/// repeat; letters whose probability is at least ``threshold`` are masked. Intervals
/// are identical to pydustmasker 3.3's ``TantanMasker(...).intervals`` (its posteriors
/// bit for bit on the same CPU: the last bit of a sum depends on the CPU's vector width,
/// which both pick the same way). The GIL is released while masking.
///
/// A letter's posterior depends on the whole sequence (ambiguous letters score as
/// mismatches; they do not cut it), so one sequence runs on one thread; a list of
/// sequences is masked in parallel.
///
/// Parameters
/// ----------
/// sequence : bytes, str, numpy.ndarray or list of them
///     DNA letters (A, C, G, T in either case; the other IUPAC codes are ambiguous and
///     score as mismatches), or uint8 codes ``0..=4`` (4 ambiguous). With
///     ``protein=True``: any ASCII letters (the 20 amino acids, others ambiguous) or
///     codes ``0..=20``. A list (or tuple) of sequences gives a list of results.
/// protein : bool, default False
///     Score with BLOSUM62 instead of DNA's match +1 / mismatch -1.
/// repeat_start : float, default 0.005
///     Probability of a repeat starting at a letter, in [0, 1).
/// repeat_end : float, default 0.05
///     Probability of a repeat ending at a letter, in [0, 1].
/// decay : float, default 0.9
///     Decay of the repeat-start probability from one period to the next, in (0, 1].
/// max_period : int or None, default None
///     Longest repeat unit, in 1..=2147483647; None is 100 for DNA and 50 for protein.
/// gap_open : int, default 0
///     Cost of opening a gap inside a repeat (with ``gap_extend``).
/// gap_extend : int or None, default None
///     Cost of each letter of a gap (at least 1); None disables gaps.
/// threshold : float, default 0.5
///     Posterior probability at or above which a letter is masked, in [0, 1]
///     (pydustmasker's ``score_threshold``).
/// threads : int or None, default None
///     Threads over the sequences of a list (None: every core; same result).
///
/// Returns
/// -------
/// numpy.ndarray or list of numpy.ndarray
///     int64 array of shape (n, 2): 0-based, half-open ``[start, end)`` intervals in
///     increasing order (BED coordinates); a list of them for a list of sequences.
///
/// Raises
/// ------
/// InvalidParameterError
///     An option out of range (the message names the value and the limit), or gaps
///     so cheap that ``repeat_end + 2 * first_gap_probability > 1``.
/// InvalidSequenceError
///     A character is not a nucleotide letter (DNA) or not ASCII (protein).
/// SymbolOutOfRangeError
///     A code above 4 (DNA) or 20 (protein).
///
/// Examples
/// --------
/// >>> import entroseg
/// >>> seq = "GATTACAGGCTTACCGATGC" + "ACG" * 10 + "TTGACGGATCCAGTAGCTTAC"
/// >>> entroseg.tantan_mask(seq).tolist()
/// [[23, 50]]
/// >>> [m.tolist() for m in entroseg.tantan_mask(["ACGT" * 8, "GATTACA"])]
/// [[[4, 32]], []]
#[pyfunction]
#[pyo3(signature = (sequence, /, *, protein=false, repeat_start=0.005, repeat_end=0.05, decay=0.9, max_period=None, gap_open=0, gap_extend=None, threshold=0.5, threads=None))]
#[allow(clippy::too_many_arguments)]
pub fn tantan_mask<'py>(
    py: Python<'py>,
    sequence: &Bound<'py, PyAny>,
    protein: bool,
    repeat_start: f64,
    repeat_end: f64,
    decay: f64,
    max_period: Option<i64>,
    gap_open: i64,
    gap_extend: Option<i64>,
    threshold: f64,
    threads: Option<i64>,
) -> PyResult<Bound<'py, PyAny>> {
    let options = options(
        protein,
        repeat_start,
        repeat_end,
        decay,
        max_period,
        gap_open,
        gap_extend,
        threshold,
    )?;
    let threads = threads_option(threads)?;
    let model = core(Tantan::new(options))?;
    if sequence.is_instance_of::<PyList>() || sequence.is_instance_of::<PyTuple>() {
        let items: Vec<Sequence<'py>> = sequence
            .try_iter()?
            .map(|item| Sequence::extract(&item?))
            .collect::<PyResult<_>>()?;
        let owned: Vec<Option<Vec<u8>>> = items
            .iter()
            .map(|s| match s {
                Sequence::CodesArray(a) => a.readonly().as_slice().map(|c| Some(c.to_vec())),
                _ => Ok(None),
            })
            .collect::<Result<_, _>>()?;
        let inputs: Vec<Input<'_>> = items
            .iter()
            .zip(&owned)
            .map(|(s, o)| -> PyResult<Input<'_>> {
                Ok(match (s, o) {
                    (_, Some(codes)) => Input::Codes(codes),
                    (Sequence::Bytes(b), _) => Input::Letters(b.as_bytes()),
                    (Sequence::Str(s), _) => Input::Letters(s.to_str()?.as_bytes()),
                    (Sequence::Owned(v), _) => Input::Letters(v.as_slice()),
                    (Sequence::Codes(v), _) => Input::Codes(v.as_slice()),
                    (Sequence::CodesArray(_), None) => unreachable!("arrays were copied"),
                })
            })
            .collect::<PyResult<_>>()?;
        let results = py.detach(|| {
            entroseg_core::util::pool::run_parallel(inputs.len(), threads, |i| {
                match inputs[i] {
                    Input::Letters(s) => model.mask(s),
                    Input::Codes(c) => model.mask_codes(c),
                }
                .map_err(|e| e.with_context(format!("sequence {i}")))
            })
        });
        let arrays: Vec<Bound<'py, PyArray2<i64>>> = results
            .into_iter()
            .map(|r| intervals_array(py, &core(r)?))
            .collect::<PyResult<_>>()?;
        return Ok(PyList::new(py, arrays)?.into_any());
    }
    let seq = Sequence::extract(sequence)?;
    let intervals = with_sequence(py, &seq, |s| model.mask(s), |c| model.mask_codes(c))?;
    Ok(intervals_array(py, &core(intervals)?)?.into_any())
}

/// The posterior repeat probability of every letter, as tantan computes it
/// (pydustmasker's ``TantanMasker(...).probabilities``, bit for bit on the same CPU).
///
/// ``tantan_mask`` masks the letters whose probability is at least its ``threshold``.
/// Options as :func:`tantan_mask` (without ``threshold``). The GIL is released.
///
/// Returns
/// -------
/// numpy.ndarray
///     float32, one probability per letter.
///
/// Examples
/// --------
/// >>> import entroseg
/// >>> p = entroseg.tantan_probabilities("GATTACA" + "CAG" * 8)
/// >>> p.dtype.name, len(p), bool(p[:4].max() < 0.5), bool(p[-10:].min() > 0.5)
/// ('float32', 31, True, True)
#[pyfunction]
#[pyo3(signature = (sequence, /, *, protein=false, repeat_start=0.005, repeat_end=0.05, decay=0.9, max_period=None, gap_open=0, gap_extend=None))]
#[allow(clippy::too_many_arguments)]
pub fn tantan_probabilities<'py>(
    py: Python<'py>,
    sequence: &Bound<'py, PyAny>,
    protein: bool,
    repeat_start: f64,
    repeat_end: f64,
    decay: f64,
    max_period: Option<i64>,
    gap_open: i64,
    gap_extend: Option<i64>,
) -> PyResult<Bound<'py, PyArray1<f32>>> {
    let options = options(
        protein,
        repeat_start,
        repeat_end,
        decay,
        max_period,
        gap_open,
        gap_extend,
        0.5,
    )?;
    let model = core(Tantan::new(options))?;
    let seq = Sequence::extract(sequence)?;
    let probs = with_sequence(
        py,
        &seq,
        |s| model.probabilities(s),
        |c| model.probabilities_codes(c),
    )?;
    Ok(PyArray1::from_vec(py, core(probs)?))
}

/// tantan intervals of every record of a batch: `(intervals, offsets)`, where
/// `intervals[offsets[i]:offsets[i + 1]]` are record `i`'s int64 ``[start, end)``
/// intervals within the record, each record masked alone as ``tantan_mask`` masks it.
/// Records are spread over `threads` threads (None: every core); the result does not
/// depend on the thread count. The GIL is released.
#[pyfunction]
#[pyo3(signature = (sequences, offsets, /, *, protein=false, repeat_start=0.005, repeat_end=0.05, decay=0.9, max_period=None, gap_open=0, gap_extend=None, threshold=0.5, threads=None))]
#[allow(clippy::too_many_arguments)]
pub fn _tantan_mask_batch<'py>(
    py: Python<'py>,
    sequences: PyReadonlyArray1<'py, u8>,
    offsets: PyReadonlyArray1<'py, i64>,
    protein: bool,
    repeat_start: f64,
    repeat_end: f64,
    decay: f64,
    max_period: Option<i64>,
    gap_open: i64,
    gap_extend: Option<i64>,
    threshold: f64,
    threads: Option<i64>,
) -> PyResult<crate::reads::RaggedIntervals<'py>> {
    let options = options(
        protein,
        repeat_start,
        repeat_end,
        decay,
        max_period,
        gap_open,
        gap_extend,
        threshold,
    )?;
    let threads = threads_option(threads)?;
    let (seq, off) = (sequences.as_slice()?, offsets.as_slice()?);
    let ragged = core(py.detach(|| tantan::tantan_batch(seq, off, options, threads)))?;
    Ok((
        intervals_array(py, &ragged.values)?,
        PyArray1::from_vec(py, ragged.value_offsets),
    ))
}
