//! The segmentation surface: a validated spec (score method + rules), one-shot and
//! ragged-batch segmentation, and the streaming segmenter. Each returns plain arrays;
//! `python/entroseg/segments.py` wraps them in the public `Segments` value and gives
//! the public functions their documented signatures.

use crate::convert::{count_option, float_array, symbol_array, try_count, OptionError, Symbols};
use crate::error::{core, InvalidParameterError};
use entroseg_core::estimate::conditional::{self, ConditionalOptions};
use entroseg_core::estimate::context_model::{self, NextSymbolOptions};
use entroseg_core::estimate::permutation::{PermutationOptions, Statistic};
use entroseg_core::estimate::NanPolicy;
use entroseg_core::segment::rules::{
    BltMode, Calibration, Combine, EntropeMode, Preset, Rules, Segment,
};
use entroseg_core::segment::stream::{
    default_threads, segment_batch_symbols, segment_batch_values, segment_symbols, segment_values,
    Method, NextScore, Segmenter,
};
use numpy::{PyArray1, PyArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};

/// BLT's default entropy threshold (its `PatcherArgs.threshold`).
const BLT_DEFAULT_THRESHOLD: f64 = 1.335442066192627;

/// The score method, with the alphabet still open when the caller left it to the data.
#[derive(Debug, Clone, Copy)]
pub(crate) enum MethodSpec {
    Permutation(PermutationOptions),
    Conditional {
        options: ConditionalOptions,
        infer_alphabet: bool,
    },
    NextSymbol {
        options: NextSymbolOptions,
        score: NextScore,
        infer_alphabet: bool,
    },
    Scores(Method),
}

impl MethodSpec {
    fn name(&self) -> &'static str {
        match self {
            MethodSpec::Permutation(_) => "permutation",
            MethodSpec::Conditional { .. } => "conditional",
            MethodSpec::NextSymbol { .. } => "next_symbol",
            MethodSpec::Scores(_) => "scores",
        }
    }

    pub(crate) fn takes_symbols(&self) -> bool {
        matches!(
            self,
            MethodSpec::Conditional { .. } | MethodSpec::NextSymbol { .. }
        )
    }

    /// The core method for data whose largest symbol is `max_symbol`.
    pub(crate) fn resolve(&self, max_symbol: Option<u64>) -> Result<Method, OptionError> {
        let alphabet = |infer: bool, given: usize, limit: usize| -> Result<usize, OptionError> {
            if !infer {
                return Ok(given);
            }
            let max = max_symbol.unwrap_or(0);
            if max >= limit as u64 {
                return Err(OptionError::parameter(format!(
                    "symbols go up to {max}, beyond the largest alphabet ({limit} symbols)"
                )));
            }
            Ok(max as usize + 1)
        };
        Ok(match *self {
            MethodSpec::Permutation(o) => Method::Permutation(o),
            MethodSpec::Conditional {
                options,
                infer_alphabet,
            } => Method::Conditional(ConditionalOptions {
                alphabet_size: alphabet(
                    infer_alphabet,
                    options.alphabet_size,
                    conditional::MAX_ALPHABET,
                )?,
                ..options
            }),
            MethodSpec::NextSymbol {
                options,
                score,
                infer_alphabet,
            } => Method::NextSymbol(
                NextSymbolOptions {
                    alphabet_size: alphabet(
                        infer_alphabet,
                        options.alphabet_size,
                        context_model::MAX_ALPHABET,
                    )?,
                    ..options
                },
                score,
            ),
            MethodSpec::Scores(m) => m,
        })
    }
}

/// A validated segmentation spec: how scores are computed and the rules applied to
/// them. Built by the public functions from their keyword arguments.
#[pyclass(module = "entroseg._entroseg", name = "_SegmentSpec", frozen)]
pub struct PySegmentSpec {
    pub(crate) method: MethodSpec,
    pub(crate) rules: Rules,
}

/// The keyword arguments of a segmentation as plain values, with the defaults of
/// `entroseg.segment`. The numpy surface fills it from Python arguments; the Polars
/// plugin deserialises it from an expression's kwargs. Both validate it with
/// [`SpecOptions::build`], so every surface accepts and rejects the same options.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "polars", derive(serde::Deserialize))]
pub(crate) struct SpecOptions {
    pub method: String,
    pub order: Option<i64>,
    pub delay: i64,
    pub window: Option<i64>,
    pub weighted: bool,
    pub normalize: bool,
    pub context: i64,
    pub alphabet_size: Option<i64>,
    pub alpha: f64,
    pub min_count: i64,
    pub reset_symbol: Option<i64>,
    pub score: String,
    pub nan_policy: String,
    pub threshold: Option<f64>,
    pub relative: Option<f64>,
    pub combine: Option<String>,
    pub min_len: i64,
    pub max_len: Option<i64>,
    pub target_len: Option<f64>,
    pub calibration: String,
    pub preset: Option<String>,
    pub mode: Option<String>,
    pub quantile: Option<f64>,
}

fn parse_rules(o: &SpecOptions) -> Result<Rules, OptionError> {
    let (threshold, relative, target_len, quantile) =
        (o.threshold, o.relative, o.target_len, o.quantile);
    let mode = o.mode.as_deref();
    let min_len = try_count(o.min_len, "min_len", 1)?;
    let max_len = o.max_len.map(|m| try_count(m, "max_len", 1)).transpose()?;
    let combine = match o.combine.as_deref() {
        None => None,
        Some("and") => Some(Combine::And),
        Some("or") => Some(Combine::Or),
        Some(other) => {
            return Err(OptionError::parameter(format!(
                "combine must be 'and' or 'or', got {other:?}"
            )))
        }
    };
    let calibration = match o.calibration.as_str() {
        "batch" => Calibration::Batch,
        "online" => Calibration::Online,
        other => {
            return Err(OptionError::parameter(format!(
                "calibration must be 'batch' or 'online', got {other:?}"
            )))
        }
    };
    let preset = match o.preset.as_deref() {
        None => {
            if mode.is_some() || quantile.is_some() {
                return Err(OptionError::parameter(
                    "mode and quantile apply only with preset='blt' or preset='entrope'",
                ));
            }
            None
        }
        Some("blt") => {
            if quantile.is_some() {
                return Err(OptionError::parameter(
                    "quantile applies to preset='entrope', not 'blt'",
                ));
            }
            let mode = match mode.unwrap_or("global") {
                "global" => BltMode::Global,
                "monotonic" => BltMode::Monotonic,
                "combined" => BltMode::Combined,
                other => {
                    return Err(OptionError::parameter(format!(
                        "mode for preset='blt' must be 'global', 'monotonic' or 'combined', \
                         got {other:?}"
                    )))
                }
            };
            let needs_relative = mode != BltMode::Global;
            if needs_relative != relative.is_some() {
                return Err(OptionError::parameter(match mode {
                    BltMode::Global => {
                        "preset='blt' with mode='global' takes threshold, not relative".to_string()
                    }
                    _ => format!(
                        "preset='blt' with mode={:?} needs relative (BLT's {})",
                        mode_name(mode),
                        if mode == BltMode::Monotonic {
                            "monotonic threshold"
                        } else {
                            "threshold_add"
                        }
                    ),
                }));
            }
            if mode == BltMode::Monotonic && threshold.is_some() {
                return Err(OptionError::parameter(
                    "preset='blt' with mode='monotonic' compares entropy increases with \
                     relative; threshold does not apply",
                ));
            }
            Some(Preset::Blt {
                mode,
                threshold: threshold.unwrap_or(BLT_DEFAULT_THRESHOLD),
                relative: relative.unwrap_or(0.0),
            })
        }
        Some("entrope") => {
            let mode = match mode.unwrap_or("global") {
                "global" => EntropeMode::Global,
                "monotonic" => EntropeMode::Monotonic,
                other => {
                    return Err(OptionError::parameter(format!(
                        "mode for preset='entrope' must be 'global' or 'monotonic', got {other:?}"
                    )))
                }
            };
            let quantile = quantile.ok_or_else(|| {
                OptionError::parameter(
                    "preset='entrope' needs quantile (its quantile_threshold, in [0, 1])",
                )
            })?;
            if threshold.is_some() || relative.is_some() {
                return Err(OptionError::parameter(
                    "preset='entrope' computes its threshold from quantile; threshold and \
                     relative do not apply",
                ));
            }
            Some(Preset::Entrope { mode, quantile })
        }
        Some(other) => {
            return Err(OptionError::parameter(format!(
                "preset must be None, 'blt' or 'entrope', got {other:?}"
            )))
        }
    };
    let rules = if preset.is_some() {
        Rules {
            min_len,
            max_len,
            target_len,
            combine,
            preset,
            calibration,
            ..Rules::default()
        }
    } else {
        Rules {
            threshold,
            relative,
            combine,
            min_len,
            max_len,
            target_len,
            calibration,
            preset: None,
        }
    };
    rules.validate()?;
    Ok(rules)
}

impl SpecOptions {
    /// Validates the options: the score method and the rules.
    pub(crate) fn build(&self) -> Result<PySegmentSpec, OptionError> {
        let rules = parse_rules(self)?;
        let window = self.window.map(|w| try_count(w, "window", 1)).transpose()?;
        let need_window = |what: &str| -> Result<usize, OptionError> {
            window.ok_or_else(|| {
                OptionError::parameter(format!(
                    "method={what:?} segments a rolling profile: give window (in samples)"
                ))
            })
        };
        let given_alphabet = self
            .alphabet_size
            .map(|a| try_count(a, "alphabet_size", 1))
            .transpose()?;
        let method = match self.method.as_str() {
            "permutation" => {
                let o = PermutationOptions {
                    order: try_count(self.order.unwrap_or(3), "order", 0)?,
                    delay: try_count(self.delay, "delay", 0)?,
                    window: Some(need_window(&self.method)?),
                    normalize: self.normalize,
                    weighted: self.weighted,
                    statistic: Statistic::Entropy,
                    nan_policy: NanPolicy::parse(&self.nan_policy)?,
                };
                entroseg_core::estimate::permutation::PermutationEstimator::new(o)?;
                MethodSpec::Permutation(o)
            }
            "conditional" => {
                let options = ConditionalOptions {
                    context: try_count(self.context, "context", 0)?,
                    alphabet_size: given_alphabet.unwrap_or(conditional::MAX_ALPHABET),
                    window: Some(need_window(&self.method)?),
                    normalize: self.normalize,
                    lag: 1,
                };
                conditional::ConditionalEstimator::new(options)?;
                MethodSpec::Conditional {
                    options,
                    infer_alphabet: given_alphabet.is_none(),
                }
            }
            "next_symbol" => {
                let score = match self.score.as_str() {
                    "entropy" => NextScore::Entropy,
                    "surprisal" => NextScore::Surprisal,
                    other => {
                        return Err(OptionError::parameter(format!(
                            "score must be 'entropy' or 'surprisal', got {other:?}"
                        )))
                    }
                };
                let reset_symbol = self
                    .reset_symbol
                    .map(|r| try_count(r, "reset_symbol", 0).map(|r| r as u32))
                    .transpose()?;
                let options = NextSymbolOptions {
                    order: try_count(self.order.unwrap_or(3), "order", 0)?,
                    alphabet_size: given_alphabet.unwrap_or(context_model::MAX_ALPHABET),
                    alpha: self.alpha,
                    min_count: u32::try_from(try_count(self.min_count, "min_count", 1)?)
                        .unwrap_or(u32::MAX),
                    reset_symbol,
                    normalize: self.normalize,
                };
                options.validate()?;
                MethodSpec::NextSymbol {
                    options,
                    score,
                    infer_alphabet: given_alphabet.is_none(),
                }
            }
            "scores" => MethodSpec::Scores(Method::Scores(NanPolicy::parse(&self.nan_policy)?)),
            other => {
                return Err(OptionError::parameter(format!(
                    "method must be 'permutation', 'conditional', 'next_symbol' or 'scores', \
                     got {other:?}"
                )))
            }
        };
        Ok(PySegmentSpec { method, rules })
    }
}

fn mode_name(mode: BltMode) -> &'static str {
    match mode {
        BltMode::Global => "global",
        BltMode::Monotonic => "monotonic",
        BltMode::Combined => "combined",
    }
}

#[pymethods]
impl PySegmentSpec {
    #[new]
    #[pyo3(signature = (
        *, method="permutation", order=None, delay=1, window=None, weighted=false,
        normalize=true, context=2, alphabet_size=None, alpha=0.5, min_count=1,
        reset_symbol=None, score="entropy", nan_policy="raise", threshold=None,
        relative=None, combine=None, min_len=1, max_len=None, target_len=None,
        calibration="batch", preset=None, mode=None, quantile=None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        method: &str,
        order: Option<i64>,
        delay: i64,
        window: Option<i64>,
        weighted: bool,
        normalize: bool,
        context: i64,
        alphabet_size: Option<i64>,
        alpha: f64,
        min_count: i64,
        reset_symbol: Option<i64>,
        score: &str,
        nan_policy: &str,
        threshold: Option<f64>,
        relative: Option<f64>,
        combine: Option<&str>,
        min_len: i64,
        max_len: Option<i64>,
        target_len: Option<f64>,
        calibration: &str,
        preset: Option<&str>,
        mode: Option<&str>,
        quantile: Option<f64>,
    ) -> PyResult<Self> {
        let options = SpecOptions {
            method: method.to_string(),
            order,
            delay,
            window,
            weighted,
            normalize,
            context,
            alphabet_size,
            alpha,
            min_count,
            reset_symbol,
            score: score.to_string(),
            nan_policy: nan_policy.to_string(),
            threshold,
            relative,
            combine: combine.map(str::to_string),
            min_len,
            max_len,
            target_len,
            calibration: calibration.to_string(),
            preset: preset.map(str::to_string),
            mode: mode.map(str::to_string),
            quantile,
        };
        Ok(options.build()?)
    }

    /// The score method's name.
    #[getter]
    fn method(&self) -> &'static str {
        self.method.name()
    }

    /// True when the method takes integer symbols.
    #[getter]
    pub(crate) fn takes_symbols(&self) -> bool {
        self.method.takes_symbols()
    }
}

type SegmentArrays<'py> = (
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<u8>>,
);

type BatchArrays<'py> = (
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<u8>>,
    Bound<'py, PyArray1<i64>>,
);

fn to_arrays<'py>(py: Python<'py>, segments: &[Segment]) -> SegmentArrays<'py> {
    let starts: Vec<i64> = segments.iter().map(|s| s.start as i64).collect();
    let lengths: Vec<i64> = segments.iter().map(|s| s.len as i64).collect();
    let reasons: Vec<u8> = segments.iter().map(|s| s.reason).collect();
    (
        PyArray1::from_vec(py, starts),
        PyArray1::from_vec(py, lengths),
        PyArray1::from_vec(py, reasons),
    )
}

/// Segments one series: `(starts, lengths, reasons)`. Releases the GIL.
#[pyfunction]
pub fn _segment<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    spec: &PySegmentSpec,
) -> PyResult<SegmentArrays<'py>> {
    let rules = spec.rules;
    let segments = if spec.method.takes_symbols() {
        let syms = symbol_array(x, "x")?;
        let method = spec.method.resolve(syms.max()?)?;
        macro_rules! run {
            ($a:expr) => {{
                let ro = $a.readonly();
                let s = ro.as_slice()?;
                core(py.detach(|| segment_symbols(s, &method, &rules)))?
            }};
        }
        match syms {
            Symbols::U8(a) => run!(a),
            Symbols::U16(a) => run!(a),
            Symbols::U32(a) => run!(a),
        }
    } else {
        let method = spec.method.resolve(None)?;
        let arr = float_array(x, "x")?;
        let ro = arr.readonly();
        let s = ro.as_slice()?;
        core(py.detach(|| segment_values(s, &method, &rules)))?
    };
    Ok(to_arrays(py, &segments))
}

fn offsets_array<'py>(offsets: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyArray1<i64>>> {
    let np = offsets.py().import("numpy")?;
    let arr = np.call_method1("asarray", (offsets,))?;
    let kind: String = arr.getattr("dtype")?.getattr("kind")?.extract()?;
    let ndim: usize = arr.getattr("ndim")?.extract()?;
    if ndim != 1 || !matches!(kind.as_str(), "i" | "u") {
        return Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "offsets must be a 1-D integer array, got dtype {} with {ndim} dimension(s)",
            arr.getattr("dtype")?.str()?
        )));
    }
    Ok(np
        .call_method1("ascontiguousarray", (arr, "int64"))?
        .cast_into()?)
}

/// Segments every series of a ragged batch on `threads` threads:
/// `(starts, lengths, reasons, series_offsets)`. Releases the GIL.
#[pyfunction]
#[pyo3(signature = (values, offsets, spec, threads=None))]
pub fn _segment_batch<'py>(
    py: Python<'py>,
    values: &Bound<'py, PyAny>,
    offsets: &Bound<'py, PyAny>,
    spec: &PySegmentSpec,
    threads: Option<i64>,
) -> PyResult<BatchArrays<'py>> {
    let threads = match threads {
        None => default_threads(),
        Some(t) => count_option(t, "threads", 1)?,
    };
    let offsets = offsets_array(offsets)?;
    let off_ro = offsets.readonly();
    let off = off_ro.as_slice()?;
    let rules = spec.rules;
    let segments = if spec.method.takes_symbols() {
        let syms = symbol_array(values, "values")?;
        let method = spec.method.resolve(syms.max()?)?;
        macro_rules! run {
            ($a:expr) => {{
                let ro = $a.readonly();
                let s = ro.as_slice()?;
                core(py.detach(|| segment_batch_symbols(s, off, &method, &rules, threads)))?
            }};
        }
        match syms {
            Symbols::U8(a) => run!(a),
            Symbols::U16(a) => run!(a),
            Symbols::U32(a) => run!(a),
        }
    } else {
        let method = spec.method.resolve(None)?;
        let arr = float_array(values, "values")?;
        let ro = arr.readonly();
        let s = ro.as_slice()?;
        core(py.detach(|| segment_batch_values(s, off, &method, &rules, threads)))?
    };
    Ok((
        PyArray1::from_vec(py, segments.starts),
        PyArray1::from_vec(py, segments.lengths),
        PyArray1::from_vec(py, segments.reasons),
        PyArray1::from_vec(py, segments.series_offsets),
    ))
}

/// The streaming pipeline behind `entroseg.Segmenter`.
#[pyclass(module = "entroseg._entroseg", name = "_Segmenter")]
pub struct PySegmenter {
    inner: Segmenter,
}

#[pymethods]
impl PySegmenter {
    #[new]
    fn new(spec: &PySegmentSpec) -> PyResult<Self> {
        let method = match spec.method {
            MethodSpec::Conditional {
                infer_alphabet: true,
                ..
            }
            | MethodSpec::NextSymbol {
                infer_alphabet: true,
                ..
            } => {
                return Err(InvalidParameterError::new_err(format!(
                    "a streaming Segmenter cannot infer the alphabet from data it has not \
                     seen: give alphabet_size for method={:?}",
                    spec.method.name()
                )))
            }
            m => m.resolve(None)?,
        };
        Ok(Self {
            inner: core(Segmenter::new(method, spec.rules))?,
        })
    }

    /// Feeds a chunk; returns the segments that closed. Releases the GIL.
    fn push<'py>(
        &mut self,
        py: Python<'py>,
        chunk: &Bound<'py, PyAny>,
    ) -> PyResult<SegmentArrays<'py>> {
        let inner = &mut self.inner;
        let segments = if inner.method().takes_symbols() {
            let syms = symbol_array(chunk, "chunk")?;
            macro_rules! run {
                ($a:expr) => {{
                    let ro = $a.readonly();
                    let s = ro.as_slice()?;
                    core(py.detach(|| inner.push_symbols(s)))?
                }};
            }
            match syms {
                Symbols::U8(a) => run!(a),
                Symbols::U16(a) => run!(a),
                Symbols::U32(a) => run!(a),
            }
        } else {
            let arr = float_array(chunk, "chunk")?;
            let ro = arr.readonly();
            let s = ro.as_slice()?;
            core(py.detach(|| inner.push_values(s)))?
        };
        Ok(to_arrays(py, &segments))
    }

    /// Closes the stream; returns the last segment(s).
    fn finish<'py>(&mut self, py: Python<'py>) -> PyResult<SegmentArrays<'py>> {
        let segments = core(self.inner.finish())?;
        Ok(to_arrays(py, &segments))
    }

    /// Back to a fresh stream with the same spec.
    fn reset(&mut self) {
        self.inner.reset();
    }

    /// The state as bytes.
    fn checkpoint<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.checkpoint())
    }

    /// Rebuilds a segmenter from `checkpoint()` bytes.
    #[classmethod]
    fn from_checkpoint(_cls: &Bound<'_, pyo3::types::PyType>, state: &[u8]) -> PyResult<Self> {
        Ok(Self {
            inner: core(Segmenter::restore(state))?,
        })
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        let py = slf.py();
        let state = slf.borrow().inner.checkpoint();
        let restore = slf.get_type().getattr("from_checkpoint")?;
        PyTuple::new(
            py,
            [
                restore,
                PyTuple::new(py, [PyBytes::new(py, &state)])?.into_any(),
            ],
        )
    }

    /// Samples consumed so far.
    #[getter]
    fn samples_seen(&self) -> u64 {
        self.inner.samples_seen()
    }

    /// True after `finish()`.
    #[getter]
    fn is_finished(&self) -> bool {
        self.inner.is_finished()
    }
}

type ParallelArrays<'py> = (
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<u8>>,
    Bound<'py, pyo3::types::PyDict>,
);

/// Chunk-parallel segmentation of one long series:
/// `(starts, lengths, reasons, report)`, `report` a dict. Releases the GIL.
#[pyfunction]
#[pyo3(signature = (x, spec, chunks=None, threads=None, overlap=None))]
pub fn _segment_parallel<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    spec: &PySegmentSpec,
    chunks: Option<i64>,
    threads: Option<i64>,
    overlap: Option<i64>,
) -> PyResult<ParallelArrays<'py>> {
    use entroseg_core::segment::parallel::{segment_symbols_parallel, segment_values_parallel};
    let threads = match threads {
        None => default_threads(),
        Some(t) => count_option(t, "threads", 1)?,
    };
    let chunks = match chunks {
        None => 4 * threads,
        Some(c) => count_option(c, "chunks", 1)?,
    };
    let overlap = overlap.map(|o| count_option(o, "overlap", 1)).transpose()?;
    let rules = spec.rules;
    let (segments, report) = if spec.method.takes_symbols() {
        let syms = symbol_array(x, "x")?;
        let method = spec.method.resolve(syms.max()?)?;
        macro_rules! run {
            ($a:expr) => {{
                let ro = $a.readonly();
                let s = ro.as_slice()?;
                core(py.detach(|| {
                    segment_symbols_parallel(s, &method, &rules, chunks, threads, overlap)
                }))?
            }};
        }
        match syms {
            Symbols::U8(a) => run!(a),
            Symbols::U16(a) => run!(a),
            Symbols::U32(a) => run!(a),
        }
    } else {
        let method = spec.method.resolve(None)?;
        let arr = float_array(x, "x")?;
        let ro = arr.readonly();
        let s = ro.as_slice()?;
        core(py.detach(|| segment_values_parallel(s, &method, &rules, chunks, threads, overlap)))?
    };
    let (starts, lengths, reasons) = to_arrays(py, &segments);
    let d = pyo3::types::PyDict::new(py);
    d.set_item("chunks", report.chunks)?;
    d.set_item("stitched", report.stitched)?;
    d.set_item("fallbacks", report.fallbacks)?;
    d.set_item("sequential_samples", report.sequential_samples)?;
    d.set_item("sequential_reason", report.sequential_reason)?;
    Ok((starts, lengths, reasons, d))
}
