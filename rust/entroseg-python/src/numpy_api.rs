//! The numpy surface: one-shot functions. Each converts its arguments, releases the GIL
//! around the core call (`py.detach`), and converts the result; no computation here.

use crate::convert::{
    count_option, fill_output, float_array, nan_policy, require_non_empty, symbol_array, Symbols,
};
use crate::error::{core, InvalidParameterError};
use entroseg_core::estimate::conditional::{
    self, ConditionalOptions, ConditionalPermutationOptions,
};
use entroseg_core::estimate::permutation::{self, PermutationOptions, Statistic};
use entroseg_core::estimate::{first_non_finite, NanPolicy};
use entroseg_core::ordinal::{to_lexicographic, OrdinalEncoder, NO_PATTERN};
use entroseg_core::symbols::Quantizer;
use numpy::{PyArray1, PyArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{PyFloat, PyInt};

pub(crate) fn window_option(window: Option<i64>) -> PyResult<Option<usize>> {
    window.map(|w| count_option(w, "window", 1)).transpose()
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn permutation_options(
    order: i64,
    delay: i64,
    window: Option<i64>,
    normalize: bool,
    weighted: bool,
    statistic: Statistic,
    nan_policy_name: &str,
) -> PyResult<PermutationOptions> {
    Ok(PermutationOptions {
        order: count_option(order, "order", 0)?,
        delay: count_option(delay, "delay", 0)?,
        window: window_option(window)?,
        normalize,
        weighted,
        statistic,
        nan_policy: nan_policy(nan_policy_name)?,
    })
}

fn run_permutation<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    o: PermutationOptions,
) -> PyResult<Bound<'py, PyAny>> {
    // Validate options before touching the data so option errors win over data errors.
    core(permutation::PermutationEstimator::new(o))?;
    let arr = float_array(x, "x")?;
    let ro = arr.readonly();
    let xs = ro.as_slice()?;
    require_non_empty(xs.len(), "x")?;
    if o.window.is_some() {
        let mut est = core(permutation::PermutationEstimator::new(o))?;
        let out = core(fill_output(py, xs.len(), |out| est.update(xs, out)))?;
        Ok(out.into_any())
    } else {
        let v = core(py.detach(|| permutation::whole_series(xs, o)))?;
        if o.statistic == Statistic::MissingPatterns && v.is_finite() {
            Ok(PyInt::new(py, v as i64).into_any())
        } else {
            Ok(PyFloat::new(py, v).into_any())
        }
    }
}

/// Permutation entropy (see the stub file for the full docstring).
#[pyfunction]
#[pyo3(signature = (x, /, *, order=3, delay=1, window=None, normalize=true, weighted=false, nan_policy="raise"))]
#[allow(clippy::too_many_arguments)]
pub fn permutation_entropy<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    order: i64,
    delay: i64,
    window: Option<i64>,
    normalize: bool,
    weighted: bool,
    nan_policy: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let o = permutation_options(
        order,
        delay,
        window,
        normalize,
        weighted,
        Statistic::Entropy,
        nan_policy,
    )?;
    run_permutation(py, x, o)
}

/// Jensen-Shannon statistical complexity.
#[pyfunction]
#[pyo3(signature = (x, /, *, order=3, delay=1, window=None, nan_policy="raise"))]
pub fn statistical_complexity<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    order: i64,
    delay: i64,
    window: Option<i64>,
    nan_policy: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let o = permutation_options(
        order,
        delay,
        window,
        true,
        false,
        Statistic::Complexity,
        nan_policy,
    )?;
    run_permutation(py, x, o)
}

/// Number of ordinal patterns that do not occur.
#[pyfunction]
#[pyo3(signature = (x, /, *, order=3, delay=1, window=None, nan_policy="raise"))]
pub fn missing_patterns<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    order: i64,
    delay: i64,
    window: Option<i64>,
    nan_policy: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let o = permutation_options(
        order,
        delay,
        window,
        false,
        false,
        Statistic::MissingPatterns,
        nan_policy,
    )?;
    run_permutation(py, x, o)
}

/// Ordinal pattern code per sample (-1 where there is none).
#[pyfunction]
#[pyo3(signature = (x, /, *, order=3, delay=1, nan_policy="raise"))]
pub fn ordinal_patterns<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    order: i64,
    delay: i64,
    nan_policy: &str,
) -> PyResult<Bound<'py, PyArray1<i32>>> {
    let policy = crate::convert::nan_policy(nan_policy)?;
    let mut enc = core(OrdinalEncoder::new(
        count_option(order, "order", 0)?,
        count_option(delay, "delay", 0)?,
    ))?;
    let arr = float_array(x, "x")?;
    let ro = arr.readonly();
    let xs = ro.as_slice()?;
    require_non_empty(xs.len(), "x")?;
    let codes = py.detach(|| -> entroseg_core::Result<Vec<i32>> {
        if policy == NanPolicy::Raise {
            if let Some(i) = first_non_finite(xs) {
                return Err(entroseg_core::estimate::non_finite_error_public(i, xs[i]));
            }
        }
        let mut codes = vec![0u32; xs.len()];
        enc.encode(xs, &mut codes);
        to_lexicographic(&mut codes, enc.order());
        Ok(codes
            .into_iter()
            .map(|c| if c == NO_PATTERN { -1 } else { c as i32 })
            .collect())
    });
    Ok(PyArray1::from_vec(py, core(codes)?))
}

/// Conditional (block) entropy of a symbol stream.
#[pyfunction]
#[pyo3(signature = (symbols, /, *, context=1, window=None, alphabet_size=None, normalize=true))]
pub fn conditional_entropy<'py>(
    py: Python<'py>,
    symbols: &Bound<'py, PyAny>,
    context: i64,
    window: Option<i64>,
    alphabet_size: Option<i64>,
    normalize: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let context = count_option(context, "context", 0)?;
    let window = window_option(window)?;
    if let Some(a) = alphabet_size {
        // Validate options before touching the data.
        let a = count_option(a, "alphabet_size", 1)?;
        core(conditional::ConditionalEstimator::new(ConditionalOptions {
            context,
            alphabet_size: a,
            window,
            normalize,
            lag: 1,
        }))?;
    }
    let syms = symbol_array(symbols, "symbols")?;
    require_non_empty(syms.len(), "symbols")?;
    let alphabet_size = match alphabet_size {
        Some(a) => count_option(a, "alphabet_size", 1)?,
        None => {
            let max = syms.max()?.unwrap_or(0);
            if max >= conditional::MAX_ALPHABET as u64 {
                return Err(InvalidParameterError::new_err(format!(
                    "symbols go up to {max}, beyond the largest alphabet ({} symbols)",
                    conditional::MAX_ALPHABET
                )));
            }
            max as usize + 1
        }
    };
    let o = ConditionalOptions {
        context,
        alphabet_size,
        window,
        normalize,
        lag: 1,
    };
    macro_rules! run {
        ($arr:expr) => {{
            let ro = $arr.readonly();
            let s = ro.as_slice()?;
            if o.window.is_some() {
                let mut est = core(conditional::ConditionalEstimator::new(o))?;
                let out = core(fill_output(py, s.len(), |out| est.update(s, out)))?;
                Ok(out.into_any())
            } else {
                let v = core(py.detach(|| conditional::whole_series(s, o)))?;
                Ok(PyFloat::new(py, v).into_any())
            }
        }};
    }
    match syms {
        Symbols::U8(a) => run!(a),
        Symbols::U16(a) => run!(a),
        Symbols::U32(a) => run!(a),
    }
}

/// Conditional permutation entropy.
#[pyfunction]
#[pyo3(signature = (x, /, *, order=3, delay=1, context=1, window=None, normalize=true, nan_policy="raise"))]
#[allow(clippy::too_many_arguments)]
pub fn conditional_permutation_entropy<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    order: i64,
    delay: i64,
    context: i64,
    window: Option<i64>,
    normalize: bool,
    nan_policy: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let o = ConditionalPermutationOptions {
        order: count_option(order, "order", 0)?,
        delay: count_option(delay, "delay", 0)?,
        context: count_option(context, "context", 0)?,
        window: window_option(window)?,
        normalize,
        nan_policy: crate::convert::nan_policy(nan_policy)?,
    };
    core(conditional::ConditionalPermutationEstimator::new(o))?;
    let arr = float_array(x, "x")?;
    let ro = arr.readonly();
    let xs = ro.as_slice()?;
    require_non_empty(xs.len(), "x")?;
    if o.window.is_some() {
        let mut est = core(conditional::ConditionalPermutationEstimator::new(o))?;
        let out = core(fill_output(py, xs.len(), |out| est.update(xs, out)))?;
        Ok(out.into_any())
    } else {
        let v = core(py.detach(|| conditional::whole_series_permutation(xs, o)))?;
        Ok(PyFloat::new(py, v).into_any())
    }
}

/// Quantize floats to symbols 0..bins.
#[pyfunction]
#[pyo3(signature = (x, /, *, method="uniform", bins=16, low=None, high=None, limit=5.0, sample=None))]
#[allow(clippy::too_many_arguments)]
pub fn quantize<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    method: &str,
    bins: i64,
    low: Option<f64>,
    high: Option<f64>,
    limit: f64,
    sample: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyArray1<u8>>> {
    if bins < 1 || bins > entroseg_core::symbols::MAX_BINS as i64 {
        return Err(InvalidParameterError::new_err(format!(
            "bins must be in 1..={}, got {bins}",
            entroseg_core::symbols::MAX_BINS
        )));
    }
    let bins = bins as usize;
    if !matches!(method, "uniform" | "mean_scale" | "quantile") {
        return Err(InvalidParameterError::new_err(format!(
            "method must be 'uniform', 'mean_scale' or 'quantile', got {method:?}"
        )));
    }
    if method != "uniform" && (low.is_some() || high.is_some()) {
        return Err(InvalidParameterError::new_err(format!(
            "low/high apply to method='uniform' only, not {method:?}"
        )));
    }
    let arr = float_array(x, "x")?;
    let ro = arr.readonly();
    let xs = ro.as_slice()?;
    require_non_empty(xs.len(), "x")?;
    let sample_arr = sample.map(|s| float_array(s, "sample")).transpose()?;
    let sample_ro = sample_arr.as_ref().map(|a| a.readonly());
    let fit: &[f64] = match &sample_ro {
        Some(r) => r.as_slice()?,
        None => xs,
    };
    let result = py.detach(|| -> entroseg_core::Result<Vec<u8>> {
        let q = match method {
            "uniform" => Quantizer::uniform_fit_partial(fit, bins, low, high)?,
            "mean_scale" => Quantizer::mean_scale_fit(fit, limit, bins)?,
            _ => Quantizer::quantile_fit(fit, bins)?,
        };
        let mut out = vec![0u8; xs.len()];
        q.apply(xs, &mut out)?;
        Ok(out)
    });
    Ok(PyArray1::from_vec(py, core(result)?))
}
