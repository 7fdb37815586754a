//! The change-point surfaces: the offline search (converts its arguments, releases the
//! GIL, returns the ruptures-style segment ends), the default penalty, and the streaming
//! detector. The cost options arrive as one dict, resolved once in Python
//! (`entroseg.changepoints._cost_options`).

use crate::convert::{count_option, float_array, require_non_empty};
use crate::error::{core, InvalidParameterError};
use crate::estimate_stream::streaming_class;
use entroseg_core::plan::changepoint::{
    change_points, default_penalty, ChangePointDetector, ChangePointOptions, Detection, Stop,
    StreamWindow,
};
use numpy::{PyArray1, PyArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

/// The cost options as Python passes them (a dict with exactly these keys).
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
pub struct CostArgs {
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
    /// The core options (typed errors for out-of-range counts), stopping at `stop`.
    fn options(&self, stop: Stop) -> PyResult<ChangePointOptions> {
        let min_size = count_option(self.min_size, "min_size", 1)?;
        let block = match self.block {
            Some(b) => count_option(b, "block", 1)?,
            None => min_size,
        };
        Ok(ChangePointOptions {
            order: self
                .order
                .map(|o| count_option(o, "order", 2))
                .transpose()?,
            delays: self
                .delays
                .iter()
                .map(|&d| count_option(d, "delay", 1))
                .collect::<PyResult<_>>()?,
            symmetric: self.symmetric,
            mean: self.mean,
            variance: self.variance,
            trend: self.trend,
            min_size,
            block,
            radius: match self.radius {
                Some(r) => count_option(r, "radius", 0)?,
                None => 2 * block,
            },
            refine_variance: self.refine_variance,
            stop,
        })
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
    let stop = match (n_bkps, pen) {
        (Some(k), None) => Stop::Count(count_option(k, "n_bkps", 0)?),
        (None, Some(p)) => Stop::Penalty(p),
        _ => {
            return Err(InvalidParameterError::new_err(
                "give exactly one of n_bkps (a number of change points) and pen (a penalty)",
            ))
        }
    };
    let options = cost.options(stop)?;
    let fine = fine
        .map(|f| {
            f.iter()
                .map(|&s| count_option(s, "fine segment start", 0))
                .collect::<PyResult<Vec<usize>>>()
        })
        .transpose()?;
    let arr = float_array(x, "x")?;
    let ro = arr.readonly();
    let xs = ro.as_slice()?;
    require_non_empty(xs.len(), "x")?;
    let ends = core(py.detach(|| change_points(xs, fine.as_deref(), &options)))?;
    Ok(PyArray1::from_vec(
        py,
        ends.into_iter().map(|e| e as i64).collect(),
    ))
}

/// The default penalty (nats per change point) of a series of `n_samples` samples.
#[pyfunction]
pub fn _default_penalty(n_samples: i64, cost: CostArgs) -> PyResult<f64> {
    let n = count_option(n_samples, "n_samples", 0)?;
    Ok(default_penalty(n, &cost.options(Stop::Count(0))?))
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
        #[pyo3(signature = (cost, *, window, lag, step, pen=None, short=None))]
        fn new(
            cost: CostArgs,
            window: i64,
            lag: i64,
            step: i64,
            pen: Option<f64>,
            short: Option<(i64, CostArgs)>,
        ) -> PyResult<Self> {
            let stop = Stop::Penalty(0.0);
            let short = short
                .map(|(n, c)| Ok::<_, PyErr>((count_option(n, "short_below", 0)?, c.options(stop)?)))
                .transpose()?;
            let geometry = StreamWindow {
                window: count_option(window, "window", 1)?,
                lag: count_option(lag, "lag", 0)?,
                step: count_option(step, "step", 1)?,
            };
            Ok(Self {
                inner: core(ChangePointDetector::new(cost.options(stop)?, pen, geometry, short))?,
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
