//! The change-point surfaces: the offline search (converts its arguments, releases the
//! GIL, returns the ruptures-style segment ends), the default penalty, and the streaming
//! detector. The cost options arrive as one dict (`entroseg.changepoints._cost_options`);
//! `auto` is resolved by the core's one rule for the series' length.

use crate::convert::{float_array, require_non_empty, try_count, OptionError};
use crate::error::core;
use crate::estimate_stream::streaming_class;
use entroseg_core::plan::changepoint::{
    change_points, default_penalty, ChangePointDetector, ChangePointOptions, Detection, Stop,
    StreamWindow, SHORT_SERIES,
};
use numpy::{PyArray1, PyArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

/// The cost options as Python passes them (a dict with exactly these keys; the Polars
/// plugin reads the same fields from its kwargs).
#[derive(FromPyObject)]
#[cfg_attr(feature = "polars", derive(serde::Deserialize))]
#[pyo3(from_item_all)]
pub struct CostArgs {
    /// `order="auto"`: `order` is chosen from the series' length.
    auto: bool,
    order: Option<i64>,
    delays: Vec<i64>,
    symmetric: bool,
    mean: bool,
    variance: bool,
    trend: bool,
    min_size: i64,
    block: Option<i64>,
    radius: Option<i64>,
    refine_variance: bool,
}

impl CostArgs {
    /// The core options for a series of `n` samples (typed errors for out-of-range
    /// counts), stopping at `stop`.
    pub fn options(&self, n: usize, stop: Stop) -> Result<ChangePointOptions, OptionError> {
        let min_size = try_count(self.min_size, "min_size", 1)?;
        let block = match self.block {
            Some(b) => try_count(b, "block", 1)?,
            None => min_size,
        };
        let options = ChangePointOptions {
            order: self.order.map(|o| try_count(o, "order", 2)).transpose()?,
            delays: self
                .delays
                .iter()
                .map(|&d| try_count(d, "delay", 1))
                .collect::<Result<_, _>>()?,
            symmetric: self.symmetric,
            mean: self.mean,
            variance: self.variance,
            trend: self.trend,
            min_size,
            block,
            radius: match self.radius {
                Some(r) => try_count(r, "radius", 0)?,
                None => 2 * block,
            },
            refine_variance: self.refine_variance,
            stop,
        };
        Ok(if self.auto { options.auto(n) } else { options })
    }
}

/// When the offline search stops: exactly one of a count and a penalty, else the
/// default penalty of `n` samples under `options`.
pub fn stop_rule(
    n_bkps: Option<i64>,
    pen: Option<f64>,
    n: usize,
    options: &ChangePointOptions,
) -> Result<Stop, OptionError> {
    match (n_bkps, pen) {
        (Some(k), None) => Ok(Stop::Count(try_count(k, "n_bkps", 0)?)),
        (None, Some(p)) => Ok(Stop::Penalty(p)),
        (None, None) => Ok(Stop::Penalty(default_penalty(n, options))),
        _ => Err(OptionError::parameter(
            "give at most one of n_bkps (a number of change points) and pen (a penalty)",
        )),
    }
}

/// Regime change points of `x` (sorted segment ends, the last being `len(x)`), by
/// bottom-up merging of fine segments under an entropy cost. Releases the GIL.
#[pyfunction]
#[pyo3(signature = (x, cost, *, fine=None, n_bkps=None, pen=None))]
pub fn _change_points<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    cost: CostArgs,
    fine: Option<Vec<i64>>,
    n_bkps: Option<i64>,
    pen: Option<f64>,
) -> PyResult<Bound<'py, PyArray1<i64>>> {
    let arr = float_array(x, "x")?;
    let ro = arr.readonly();
    let xs = ro.as_slice()?;
    let n = xs.len();
    let mut options = cost.options(n, Stop::Count(0))?;
    options.stop = stop_rule(n_bkps, pen, n, &options)?;
    let fine = fine
        .map(|f| {
            f.iter()
                .map(|&s| try_count(s, "fine segment start", 0))
                .collect::<Result<Vec<usize>, _>>()
        })
        .transpose()?;
    require_non_empty(n, "x")?;
    let ends = core(py.detach(|| change_points(xs, fine.as_deref(), &options)))?;
    Ok(PyArray1::from_vec(
        py,
        ends.into_iter().map(|e| e as i64).collect(),
    ))
}

/// The default penalty (nats per change point) of a series of `n_samples` samples.
#[pyfunction]
pub fn _default_penalty(n_samples: i64, cost: CostArgs) -> PyResult<f64> {
    let n = try_count(n_samples, "n_samples", 0)?;
    Ok(default_penalty(n, &cost.options(n, Stop::Count(0))?))
}

/// Detections as `(index, delay)` arrays.
type DetectionArrays<'py> = (Bound<'py, PyArray1<i64>>, Bound<'py, PyArray1<i64>>);

fn to_arrays<'py>(py: Python<'py>, found: &[Detection]) -> DetectionArrays<'py> {
    (
        PyArray1::from_vec(py, found.iter().map(|d| d.index as i64).collect()),
        PyArray1::from_vec(
            py,
            found
                .iter()
                .map(|d| (d.confirmed_at - d.index) as i64)
                .collect(),
        ),
    )
}

/// The streaming detector behind `entroseg.ChangePointDetector`.
#[pyclass(module = "entroseg._entroseg", name = "_ChangePointDetector")]
pub struct PyChangePointDetector {
    inner: ChangePointDetector,
}

streaming_class!(
    PyChangePointDetector,
    restore = |state| {
        Ok(Self {
            inner: core(ChangePointDetector::restore(state))?,
        })
    },
    {
        #[new]
        #[pyo3(signature = (cost, *, window, lag, step, pen=None))]
        fn new(
            cost: CostArgs,
            window: i64,
            lag: i64,
            step: i64,
            pen: Option<f64>,
        ) -> PyResult<Self> {
            let stop = Stop::Penalty(0.0);
            // `auto`: the long-series cost, and the short one for streams that end
            // before SHORT_SERIES samples.
            let short = if cost.auto {
                Some((SHORT_SERIES, cost.options(0, stop)?))
            } else {
                None
            };
            let geometry = StreamWindow {
                window: try_count(window, "window", 1)?,
                lag: try_count(lag, "lag", 0)?,
                step: try_count(step, "step", 1)?,
            };
            let options = cost.options(SHORT_SERIES, stop)?;
            Ok(Self {
                inner: core(ChangePointDetector::new(options, pen, geometry, short))?,
            })
        }

        /// Feeds a chunk; returns the change points confirmed. Releases the GIL.
        fn push<'py>(
            &mut self,
            py: Python<'py>,
            chunk: &Bound<'py, PyAny>,
        ) -> PyResult<DetectionArrays<'py>> {
            let arr = float_array(chunk, "chunk")?;
            let ro = arr.readonly();
            let xs = ro.as_slice()?;
            let inner = &mut self.inner;
            let found = core(py.detach(|| inner.push(xs)))?;
            Ok(to_arrays(py, &found))
        }

        /// Closes the stream; returns the change points of the last window.
        fn finish<'py>(&mut self, py: Python<'py>) -> PyResult<DetectionArrays<'py>> {
            let inner = &mut self.inner;
            let found = core(py.detach(|| inner.finish()))?;
            Ok(to_arrays(py, &found))
        }

        /// True after `finish()`.
        #[getter]
        fn is_finished(&self) -> bool {
            self.inner.is_finished()
        }

        /// Change points reported so far.
        #[getter]
        fn reported(&self) -> u64 {
            self.inner.reported()
        }

        /// Samples held now (bounded by about twice the window).
        #[getter]
        fn retained(&self) -> usize {
            self.inner.retained()
        }

        /// `(window, lag, step)`.
        #[getter]
        fn geometry(&self) -> (usize, usize, usize) {
            let g = self.inner.geometry();
            (g.window, g.lag, g.step)
        }
    }
);
