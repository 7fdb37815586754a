//! The segmentation surface: the spec (`entroseg.SegmentSpec`), the profile it cuts,
//! one-shot, ragged-batch and chunk-parallel segmentation, and the streaming segmenter
//! and profiler. Options arrive as keyword arguments and are converted into the core's
//! `SpecOptions` in one place ([`spec_options`]); the core parses and validates them.
//! Each function returns plain arrays; `python/entroseg/segments.py` wraps them in the
//! public `Segments` value.

use crate::convert::{channels_view, count_option, input_view, refuse_masked, threads_option};
use crate::error::core;
use crate::estimate_stream::streaming_class;
use entroseg_core::segment::batch;
use entroseg_core::segment::parallel::segment_parallel;
use entroseg_core::segment::profile::{profile_channels, ChannelProfiler};
use entroseg_core::segment::rules::{Segment, Threshold};
use entroseg_core::segment::spec::{OptionValue, SegmentSpec, SpecOptions};
use entroseg_core::segment::stream::Segmenter;
use numpy::{PyArray1, PyArrayMethods};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyString, PyTuple};

/// One Python value as an option value (numpy scalars included).
fn option_value(name: &str, v: &Bound<'_, PyAny>) -> PyResult<OptionValue> {
    if v.is_none() {
        return Ok(OptionValue::None);
    }
    let type_name = v.get_type().name()?.to_string();
    if v.is_instance_of::<PyBool>() || type_name == "bool" || type_name == "bool_" {
        return Ok(OptionValue::Bool(v.extract()?));
    }
    if v.is_instance_of::<PyString>() {
        return Ok(OptionValue::Str(v.extract()?));
    }
    if v.is_instance_of::<PyInt>() || (!v.is_instance_of::<PyFloat>() && v.hasattr("__index__")?) {
        return v.extract::<i64>().map(OptionValue::Int).map_err(|_| {
            crate::error::InvalidParameterError::new_err(format!(
                "{name} is too large: {}",
                v.str().map_or_else(|_| "?".to_string(), |s| s.to_string())
            ))
        });
    }
    if let Ok(f) = v.extract::<f64>() {
        return Ok(OptionValue::Float(f));
    }
    Err(PyTypeError::new_err(format!(
        "{name} got a value of type {}: options are None, booleans, numbers or strings",
        v.get_type().name()?
    )))
}

/// Keyword arguments as the core's options (unknown names and wrong types raise
/// `TypeError`, naming the option).
pub(crate) fn spec_options(kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<SpecOptions> {
    let mut options = SpecOptions::default();
    if let Some(kwargs) = kwargs {
        for (k, v) in kwargs.iter() {
            let name: String = k.extract()?;
            core(options.set(&name, option_value(&name, &v)?))?;
        }
    }
    Ok(options)
}

fn option_to_py<'py>(py: Python<'py>, v: &OptionValue) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        OptionValue::None => py.None().into_bound(py),
        OptionValue::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        OptionValue::Int(i) => i.into_pyobject(py)?.into_any(),
        OptionValue::Float(f) => f.into_pyobject(py)?.into_any(),
        OptionValue::Str(s) => PyString::new(py, s).into_any(),
    })
}

/// A validated segmentation spec: how scores are computed and the rules applied to
/// them. `SegmentSpec(**options)` takes the options of `entroseg.segment`.
#[pyclass(module = "entroseg._entroseg", name = "SegmentSpec", frozen, eq)]
#[derive(PartialEq)]
pub struct PySegmentSpec {
    pub(crate) inner: SegmentSpec,
}

#[pymethods]
impl PySegmentSpec {
    #[new]
    #[pyo3(signature = (**options))]
    fn new(options: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        Ok(Self {
            inner: core(spec_options(options)?.build())?,
        })
    }

    /// The options, every one with its value (defaults where none was given).
    #[getter]
    fn options<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (name, value) in self.inner.options().items() {
            d.set_item(name, option_to_py(py, &value)?)?;
        }
        Ok(d)
    }

    /// The options that differ from the defaults.
    #[getter]
    fn given<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        let defaults = SpecOptions::default().items();
        for ((name, value), (_, default)) in self.inner.options().items().iter().zip(&defaults) {
            if value != default {
                d.set_item(name, option_to_py(py, value)?)?;
            }
        }
        Ok(d)
    }

    /// The score method the options select (the method given, else "permutation" when
    /// window or order is given, else "line"), without validating anything else.
    #[staticmethod]
    #[pyo3(signature = (**options))]
    fn method_of(options: Option<&Bound<'_, PyDict>>) -> PyResult<String> {
        Ok(spec_options(options)?.method_name().to_string())
    }

    /// The names of every option, in the order of the table.
    #[staticmethod]
    fn option_names() -> Vec<&'static str> {
        SpecOptions::NAMES.to_vec()
    }

    /// The default of every option.
    #[staticmethod]
    fn defaults(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
        let d = PyDict::new(py);
        for (name, value) in SpecOptions::default().items() {
            d.set_item(name, option_to_py(py, &value)?)?;
        }
        Ok(d)
    }

    /// The score method's name.
    #[getter]
    fn method(&self) -> String {
        self.inner.options().method_name().to_string()
    }

    /// True when the method takes integer symbols.
    #[getter]
    fn takes_symbols(&self) -> bool {
        self.inner.takes_symbols()
    }

    /// True when a stream can run this spec; otherwise raises, saying why.
    fn check_streamable(&self) -> PyResult<bool> {
        core(self.inner.check_streamable())?;
        Ok(true)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let given = self.given(py)?;
        let parts: Vec<String> = given
            .iter()
            .map(|(k, v)| Ok(format!("{}={}", k.str()?, v.repr()?)))
            .collect::<PyResult<_>>()?;
        Ok(format!("SegmentSpec({})", parts.join(", ")))
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        let py = slf.py();
        let rebuild = py
            .import("entroseg._entroseg")?
            .getattr("_spec_from_options")?;
        let given = slf.borrow().given(py)?;
        PyTuple::new(py, [rebuild, PyTuple::new(py, [given])?.into_any()])
    }
}

/// `SegmentSpec(**options)` from a dict (for pickle).
#[pyfunction]
pub fn _spec_from_options(options: &Bound<'_, PyDict>) -> PyResult<PySegmentSpec> {
    PySegmentSpec::new(Some(options))
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
    ThresholdTuple,
);

fn to_arrays<'py>(py: Python<'py>, segments: &[Segment]) -> SegmentArrays<'py> {
    // One pass over the segments (a long run's list does not fit in cache; three
    // passes read it three times).
    let n = segments.len();
    let (mut starts, mut lengths, mut reasons) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for s in segments {
        starts.push(s.start as i64);
        lengths.push(s.len as i64);
        reasons.push(s.reason);
    }
    (
        PyArray1::from_vec(py, starts),
        PyArray1::from_vec(py, lengths),
        PyArray1::from_vec(py, reasons),
    )
}

/// The threshold in force as `(value, tie_cut)`, or `None`.
type ThresholdTuple = Option<(f64, u64)>;

fn threshold_tuple(t: Option<Threshold>) -> ThresholdTuple {
    t.map(|t| (t.value, t.tie_cut))
}

/// Segments one series: `((starts, lengths, reasons), threshold)` where `threshold` is
/// `(value, tie_cut)` of the threshold in force at the end, or `None`. Releases the GIL.
#[pyfunction]
pub fn _segment<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    spec: &PySegmentSpec,
) -> PyResult<(SegmentArrays<'py>, ThresholdTuple)> {
    let spec = &spec.inner;
    let view = channels_view(x, "x", spec.takes_symbols())?;
    let channels = view.channels()?;
    let (segments, threshold) =
        core(py.detach(|| batch::segment_channels_calibrated(&channels, spec)))?;
    Ok((to_arrays(py, &segments), threshold_tuple(threshold)))
}

/// The score signal that `_segment` cuts, for the options of a spec (rules are not
/// needed). Releases the GIL.
#[pyfunction]
#[pyo3(signature = (x, **options))]
pub fn _profile<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    options: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let method = core(spec_options(options)?.build_profile())?;
    let view = channels_view(x, "x", method.takes_symbols())?;
    let channels = view.channels()?;
    let scores = core(py.detach(|| profile_channels(&channels, &method)))?;
    Ok(PyArray1::from_vec(py, scores))
}

fn offsets_array<'py>(offsets: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyArray1<i64>>> {
    let np = offsets.py().import("numpy")?;
    let arr = np.call_method1("asarray", (refuse_masked(offsets, "offsets")?,))?;
    let kind: String = arr.getattr("dtype")?.getattr("kind")?.extract()?;
    let ndim: usize = arr.getattr("ndim")?.extract()?;
    if ndim != 1 || !matches!(kind.as_str(), "i" | "u") {
        return Err(PyTypeError::new_err(format!(
            "offsets must be a 1-D integer array, got dtype {} with {ndim} dimension(s)",
            arr.getattr("dtype")?.str()?
        )));
    }
    Ok(np
        .call_method1("ascontiguousarray", (arr, "int64"))?
        .cast_into()?)
}

/// Segments every series of a ragged batch on `threads` threads:
/// `(starts, lengths, reasons, series_offsets, threshold)`, `threshold` being the
/// `(value, tie_cut)` the series share under `budget` (else `None`). Releases the GIL.
#[pyfunction]
#[pyo3(signature = (values, offsets, spec, threads=None))]
pub fn _segment_batch<'py>(
    py: Python<'py>,
    values: &Bound<'py, PyAny>,
    offsets: &Bound<'py, PyAny>,
    spec: &PySegmentSpec,
    threads: Option<i64>,
) -> PyResult<BatchArrays<'py>> {
    let threads = threads_option(threads)?;
    let offsets = offsets_array(offsets)?;
    let off_ro = offsets.readonly();
    let off = off_ro.as_slice()?;
    let spec = &spec.inner;
    let view = channels_view(values, "values", spec.takes_symbols())?;
    let channels = view.channels()?;
    let (segments, threshold) = core(
        py.detach(|| batch::segment_batch_channels_calibrated(&channels, off, spec, threads)),
    )?;
    Ok((
        PyArray1::from_vec(py, segments.starts),
        PyArray1::from_vec(py, segments.lengths),
        PyArray1::from_vec(py, segments.reasons),
        PyArray1::from_vec(py, segments.series_offsets),
        threshold_tuple(threshold),
    ))
}

/// The streaming pipeline behind `entroseg.Segmenter`.
#[pyclass(module = "entroseg._entroseg", name = "_Segmenter")]
pub struct PySegmenter {
    inner: Segmenter,
}

streaming_class!(
    PySegmenter,
    restore = |state| {
        Ok(Self {
            inner: core(Segmenter::restore(state))?,
        })
    },
    {
        #[new]
        fn new(spec: &PySegmentSpec) -> PyResult<Self> {
            Ok(Self {
                inner: core(Segmenter::new(&spec.inner))?,
            })
        }

        /// Feeds a chunk; returns the segments that closed. Releases the GIL.
        fn push<'py>(
            &mut self,
            py: Python<'py>,
            chunk: &Bound<'py, PyAny>,
        ) -> PyResult<SegmentArrays<'py>> {
            let inner = &mut self.inner;
            let view = channels_view(chunk, "chunk", inner.method().takes_symbols())?;
            let channels = view.channels()?;
            let segments = core(py.detach(|| inner.push_channels(&channels)))?;
            Ok(to_arrays(py, &segments))
        }

        /// Closes the stream; returns the last segment(s).
        fn finish<'py>(&mut self, py: Python<'py>) -> PyResult<SegmentArrays<'py>> {
            let segments = core(self.inner.finish())?;
            Ok(to_arrays(py, &segments))
        }

        /// True after `finish()`.
        #[getter]
        fn is_finished(&self) -> bool {
            self.inner.is_finished()
        }

        /// The stream's channel count (1 until a multichannel chunk arrives).
        #[getter]
        fn channels(&self) -> usize {
            self.inner.channels()
        }

        /// The threshold in force now, `(value, tie_cut)`, or `None`.
        #[getter]
        fn threshold(&self) -> ThresholdTuple {
            threshold_tuple(self.inner.threshold())
        }

        /// Segments closed so far (returned by `push` and `finish`).
        #[getter]
        fn segments_closed(&self) -> u64 {
            self.inner.segments_closed()
        }

        /// The target mean length the stream calibrates to, or `None`.
        #[getter]
        fn target_len(&self) -> Option<f64> {
            self.inner.rules().target_len
        }
    }
);

/// The streaming score source behind `entroseg.Profiler`: the profile `segment` cuts,
/// chunk by chunk.
#[pyclass(module = "entroseg._entroseg", name = "_Profiler")]
pub struct PyProfiler {
    inner: ChannelProfiler,
}

streaming_class!(
    PyProfiler,
    restore = |state| {
        Ok(Self {
            inner: core(ChannelProfiler::restore(state))?,
        })
    },
    {
        #[new]
        #[pyo3(signature = (**options))]
        fn new(options: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
            let method = core(spec_options(options)?.build_profile())?;
            Ok(Self {
                inner: core(ChannelProfiler::new(&method))?,
            })
        }

        /// Scores of the next chunk (one per sample; an (n, c) chunk's channels
        /// combined by the `channels` option). Releases the GIL.
        fn push<'py>(
            &mut self,
            py: Python<'py>,
            chunk: &Bound<'py, PyAny>,
        ) -> PyResult<Bound<'py, PyArray1<f64>>> {
            let inner = &mut self.inner;
            let view = channels_view(chunk, "chunk", inner.method().takes_symbols())?;
            let channels = view.channels()?;
            let n = channels.len();
            crate::convert::fill_output(py, n, |out| core(inner.fill(&channels, out)))
        }

        /// The stream's channel count (1 until a multichannel chunk arrives).
        #[getter]
        fn channels(&self) -> usize {
            self.inner.channels()
        }

        /// True when the method takes integer symbols.
        #[getter]
        fn takes_symbols(&self) -> bool {
            self.inner.method().takes_symbols()
        }
    }
);

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
    let threads = threads_option(threads)?;
    let chunks = match chunks {
        None => 4 * threads,
        Some(c) => count_option(c, "chunks", 1)?,
    };
    let overlap = overlap.map(|o| count_option(o, "overlap", 1)).transpose()?;
    let spec = &spec.inner;
    let view = input_view(x, "x", spec.takes_symbols())?;
    let samples = view.samples()?;
    let (segments, report) =
        core(py.detach(|| segment_parallel(samples, spec, chunks, threads, overlap)))?;
    let (starts, lengths, reasons) = to_arrays(py, &segments);
    let d = pyo3::types::PyDict::new(py);
    d.set_item("chunks", report.chunks)?;
    d.set_item("stitched", report.stitched)?;
    d.set_item("fallbacks", report.fallbacks)?;
    d.set_item("sequential_samples", report.sequential_samples)?;
    d.set_item("sequential_reason", report.sequential_reason)?;
    Ok((starts, lengths, reasons, d))
}
