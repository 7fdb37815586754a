//! The change-point surface: one function that converts its arguments, releases the GIL
//! around the core search and returns the ruptures-style segment ends.

use crate::convert::{count_option, float_array, require_non_empty};
use crate::error::{core, InvalidParameterError};
use entroseg_core::plan::changepoint::{change_points, ChangePointOptions, Stop};
use numpy::{PyArray1, PyArrayMethods};
use pyo3::prelude::*;

/// Regime change points of `x` (sorted segment ends, the last being `len(x)`), by
/// bottom-up merging of fine segments under an entropy cost. Releases the GIL.
#[pyfunction]
#[pyo3(signature = (
    x, *, fine=None, order=Some(4), delays=vec![1, 2, 4, 8], symmetric=true, mean=false,
    variance=false, trend=false, min_size=20,
    block=None, radius=None, refine_variance=true, n_bkps=None, pen=None
))]
#[allow(clippy::too_many_arguments)]
pub fn _change_points<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    fine: Option<Vec<i64>>,
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
    n_bkps: Option<i64>,
    pen: Option<f64>,
) -> PyResult<Bound<'py, PyArray1<i64>>> {
    let min_size = count_option(min_size, "min_size", 1)?;
    let block = match block {
        Some(b) => count_option(b, "block", 1)?,
        None => min_size,
    };
    let stop = match (n_bkps, pen) {
        (Some(k), None) => Stop::Count(count_option(k, "n_bkps", 0)?),
        (None, Some(p)) => Stop::Penalty(p),
        _ => {
            return Err(InvalidParameterError::new_err(
                "give exactly one of n_bkps (a number of change points) and pen (a penalty)",
            ))
        }
    };
    let options = ChangePointOptions {
        order: order.map(|o| count_option(o, "order", 2)).transpose()?,
        delays: delays
            .iter()
            .map(|&d| count_option(d, "delay", 1))
            .collect::<PyResult<_>>()?,
        symmetric,
        mean,
        variance,
        trend,
        min_size,
        block,
        radius: match radius {
            Some(r) => count_option(r, "radius", 0)?,
            None => 2 * block,
        },
        refine_variance,
        stop,
    };
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
