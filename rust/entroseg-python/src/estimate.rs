//! The numpy surface: one-shot functions. Each converts its arguments, releases the GIL
//! around the core call (`py.detach`), and converts the result; no computation here.

use crate::convert::{
    count_option, fill_output_or, float_array, nan_policy, order_option, out_needs_window,
    require_non_empty, symbol_array,
};
use crate::error::{core, InvalidParameterError};
use entroseg_core::estimate::conditional::{
    self, ConditionalOptions, ConditionalPermutationOptions,
};
use entroseg_core::estimate::context_model::{self, NextSymbolOptions};
use entroseg_core::estimate::ordinal::{to_lexicographic, OrdinalEncoder, NO_PATTERN};
use entroseg_core::estimate::permutation::{self, PermutationOptions, Statistic};
use entroseg_core::estimate::quantize::Quantizer;
use entroseg_core::estimate::{first_non_finite, NanPolicy};
use entroseg_core::for_symbols;
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
        order: order_option(order)?,
        delay: count_option(delay, "delay", 1)?,
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
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    // Validate options before touching the data so option errors win over data errors.
    core(o.validate())?;
    out_needs_window(out, o.window)?;
    let arr = float_array(x, "x")?;
    let ro = arr.readonly();
    let xs = ro.as_slice()?;
    require_non_empty(xs.len(), "x")?;
    if o.window.is_some() {
        let out = fill_output_or(py, xs.len(), out, |out| {
            permutation::rolling_into(xs, o, out)
        })?;
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

/// Permutation entropy (Bandt-Pompe) of a series, rolling or whole-series.
///
/// The GIL is released while computing.
///
/// Parameters
/// ----------
/// x : array_like
///     1-D real series (any float or integer dtype; float64 C-contiguous input is not
///     copied).
/// order : int, default 3
///     Embedding dimension d, 2 <= d <= 10 (``MAX_ORDER``).
/// delay : int, default 1
///     Embedding delay tau >= 1.
/// window : int or None, default None
///     Rolling window in samples (at least ``(order-1)*delay + 1``); None computes one
///     value for the whole series.
/// normalize : bool, default True
///     Divide by ln(order!) so values lie in [0, 1]; False gives nats.
/// weighted : bool, default False
///     Weight each pattern by the variance of its embedding vector (weighted permutation
///     entropy, Fadlallah et al. 2013). A window whose weights are all zero gives 0.
/// nan_policy : {"raise", "propagate"}, default "raise"
///     "raise" rejects NaN/inf naming the first bad index; "propagate" gives NaN for
///     every window containing one.
/// out : numpy.ndarray, optional
///     With ``window``: a writeable, C-contiguous float64 array of ``len(x)`` to write
///     the values into (and return), instead of a fresh array. Reusing one buffer over
///     many calls saves the first-touch page faults of a new output (a sizeable part of
///     a call on long series). It may not share memory with ``x``; after an error its
///     contents are unspecified.
///
/// Returns
/// -------
/// float or numpy.ndarray
///     A float when ``window`` is None; otherwise a float64 array of ``len(x)`` (``out``
///     when given) whose value at t covers ``x[t-window+1 : t+1]`` (NaN for
///     t < window-1).
///
/// Examples
/// --------
/// >>> import numpy as np, entroseg
/// >>> entroseg.permutation_entropy(np.arange(10.0))
/// 0.0
/// >>> x = np.array([4.0, 7, 9, 10, 6, 11, 3])
/// >>> round(entroseg.permutation_entropy(x, order=3, normalize=False), 4)
/// 1.0549
/// >>> entroseg.permutation_entropy(x, order=2, window=3)
/// array([nan, nan,  0.,  0.,  1.,  1.,  1.])
/// >>> buf = np.empty(len(x))
/// >>> entroseg.permutation_entropy(x, order=2, window=3, out=buf) is buf
/// True
#[pyfunction]
#[pyo3(signature = (x, /, *, order=3, delay=1, window=None, normalize=true, weighted=false, nan_policy="raise", out=None))]
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
    out: Option<&Bound<'py, PyAny>>,
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
    run_permutation(py, x, o, out)
}

/// Jensen-Shannon statistical complexity (Rosso et al. 2007) of the ordinal patterns.
///
/// ``C = H_norm * JS(P, U) / JS_max`` where P is the pattern distribution and U the
/// uniform one; with ``permutation_entropy`` it places a series on the
/// complexity-entropy plane. Same options, alignment and ``out=`` as
/// ``permutation_entropy``. The GIL is released while computing.
///
/// Returns
/// -------
/// float or numpy.ndarray
///     Values in [0, 1]; an array of ``len(x)`` when ``window`` is given.
///
/// Examples
/// --------
/// >>> import numpy as np, entroseg
/// >>> x = np.array([4.0, 7, 9, 10, 6, 11, 3])
/// >>> round(entroseg.statistical_complexity(x, order=3), 4)
/// 0.29
#[pyfunction]
#[pyo3(signature = (x, /, *, order=3, delay=1, window=None, nan_policy="raise", out=None))]
pub fn statistical_complexity<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    order: i64,
    delay: i64,
    window: Option<i64>,
    nan_policy: &str,
    out: Option<&Bound<'py, PyAny>>,
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
    run_permutation(py, x, o, out)
}

/// Number of the order! ordinal patterns that do not occur ("forbidden patterns").
///
/// Same options, alignment and ``out=`` as ``permutation_entropy``. The GIL is released.
///
/// Returns
/// -------
/// int or numpy.ndarray
///     An int for the whole series; a float64 array (NaN for incomplete windows) when
///     ``window`` is given.
///
/// Examples
/// --------
/// >>> import numpy as np, entroseg
/// >>> entroseg.missing_patterns(np.arange(10.0), order=3)
/// 5
#[pyfunction]
#[pyo3(signature = (x, /, *, order=3, delay=1, window=None, nan_policy="raise", out=None))]
pub fn missing_patterns<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    order: i64,
    delay: i64,
    window: Option<i64>,
    nan_policy: &str,
    out: Option<&Bound<'py, PyAny>>,
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
    run_permutation(py, x, o, out)
}

/// Ordinal pattern code of the embedding ending at each sample.
///
/// The code of ``v = x[t-(order-1)*delay : t+1 : delay]`` is the lexicographic rank of
/// ``numpy.argsort(v, kind="stable")`` among ``itertools.permutations(range(order))``:
/// 0 is an increasing run, ``order! - 1`` a decreasing one; ties rank the earlier sample
/// lower. The GIL is released.
///
/// Returns
/// -------
/// numpy.ndarray of int32
///     ``len(x)`` codes; -1 for the first ``(order-1)*delay`` samples and, under
///     ``nan_policy="propagate"``, for every pattern whose span
///     ``x[t-(order-1)*delay : t+1]`` holds a NaN or infinity.
///
/// Examples
/// --------
/// >>> import numpy as np, entroseg
/// >>> entroseg.ordinal_patterns(np.array([1.0, 2, 3, 2, 1, 1]), order=3)
/// array([-1, -1,  0,  1,  5,  3], dtype=int32)
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
        order_option(order)?,
        count_option(delay, "delay", 1)?,
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

/// Conditional (block) entropy H(X_t | previous ``context`` symbols) of a symbol stream.
///
/// The plug-in estimate from the (context+1)-grams inside the window:
/// ``H = -sum_(u,a) c(u,a)/N * ln(c(u,a)/c(u))`` with N the number of those grams and
/// ``c(u) = sum_a c(u,a)``. ``context=0`` gives the Shannon entropy of the symbols.
/// The GIL is released; uint8 C-contiguous input is not copied.
///
/// Parameters
/// ----------
/// symbols : array_like of int
///     Symbols in ``0..alphabet_size`` (any integer dtype).
/// context : int, default 1
///     Number of previous symbols conditioned on (the gram of context+1 symbols must
///     pack into 64 bits: up to 31 for DNA, 7 for bytes).
/// window : int or None, default None
///     Rolling window in symbols (at least ``context + 1``); None for the whole series.
/// alphabet_size : int or None, default None
///     Number of symbols (1..256); None uses ``max(symbols) + 1``.
/// normalize : bool, default True
///     Divide by ln(alphabet_size) (values in [0, 1]).
/// out : numpy.ndarray, optional
///     With ``window``: a float64 array of ``len(symbols)`` to write the values into
///     (and return), as ``out=`` of ``permutation_entropy``.
///
/// Returns
/// -------
/// float or numpy.ndarray
///     A float for the whole series; an array of ``len(symbols)`` (NaN for incomplete
///     windows) when ``window`` is given.
///
/// Examples
/// --------
/// >>> import numpy as np, entroseg
/// >>> s = np.array([0, 1, 0, 1, 0, 1, 0, 1], dtype=np.uint8)
/// >>> round(entroseg.conditional_entropy(s, context=0), 12)  # one bit of Shannon entropy
/// 1.0
/// >>> entroseg.conditional_entropy(s, context=1)  # fully predictable from the last symbol
/// 0.0
#[pyfunction]
#[pyo3(signature = (symbols, /, *, context=1, window=None, alphabet_size=None, normalize=true, out=None))]
pub fn conditional_entropy<'py>(
    py: Python<'py>,
    symbols: &Bound<'py, PyAny>,
    context: i64,
    window: Option<i64>,
    alphabet_size: Option<i64>,
    normalize: bool,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let context = count_option(context, "context", 0)?;
    let window = window_option(window)?;
    out_needs_window(out, window)?;
    if let Some(a) = alphabet_size {
        // Validate options before touching the data.
        let a = count_option(a, "alphabet_size", 1)?;
        core(
            ConditionalOptions {
                context,
                alphabet_size: a,
                window,
                normalize,
                lag: 1,
            }
            .validate(),
        )?;
    }
    let view = symbol_array(symbols, "symbols")?.view();
    let x = view.samples()?;
    require_non_empty(x.len(), "symbols")?;
    let alphabet_size = match alphabet_size {
        Some(a) => count_option(a, "alphabet_size", 1)?,
        None => core(x.inferred_alphabet(conditional::MAX_ALPHABET))?,
    };
    let o = ConditionalOptions {
        context,
        alphabet_size,
        window,
        normalize,
        lag: 1,
    };
    if o.window.is_some() {
        let out = fill_output_or(
            py,
            x.len(),
            out,
            |out| for_symbols!(x, s => conditional::rolling_into(s, o, out), _v => unreachable!()),
        )?;
        Ok(out.into_any())
    } else {
        let v = core(py.detach(
            || for_symbols!(x, s => conditional::whole_series(s, o), _v => unreachable!()),
        ))?;
        Ok(PyFloat::new(py, v).into_any())
    }
}

/// Conditional permutation entropy H(pattern_t | patterns t-delay, ..., t-context*delay).
///
/// Ordinal patterns (as in ``ordinal_patterns``) are the symbols; the window counts
/// samples and holds the grams whose samples all lie inside it, so it must be at least
/// ``(order-1+context)*delay + 1``. ``normalize`` divides by ln(order!). With
/// ``window``, ``out=`` takes a float64 array to write the values into, as for
/// ``permutation_entropy``. The GIL is released.
///
/// Examples
/// --------
/// >>> import numpy as np, entroseg
/// >>> x = np.sin(np.arange(200) / 5.0)
/// >>> entroseg.conditional_permutation_entropy(x, order=3) < entroseg.permutation_entropy(x, order=3)
/// True
#[pyfunction]
#[pyo3(signature = (x, /, *, order=3, delay=1, context=1, window=None, normalize=true, nan_policy="raise", out=None))]
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
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let o = ConditionalPermutationOptions {
        order: order_option(order)?,
        delay: count_option(delay, "delay", 1)?,
        context: count_option(context, "context", 0)?,
        window: window_option(window)?,
        normalize,
        nan_policy: crate::convert::nan_policy(nan_policy)?,
    };
    core(o.validate())?;
    out_needs_window(out, o.window)?;
    let arr = float_array(x, "x")?;
    let ro = arr.readonly();
    let xs = ro.as_slice()?;
    require_non_empty(xs.len(), "x")?;
    if o.window.is_some() {
        let out = fill_output_or(py, xs.len(), out, |out| {
            conditional::rolling_permutation_into(xs, o, out)
        })?;
        Ok(out.into_any())
    } else {
        let v = core(py.detach(|| conditional::whole_series_permutation(xs, o)))?;
        Ok(PyFloat::new(py, v).into_any())
    }
}

/// Map a real series to symbols ``0..bins`` (uint8) for the symbol-stream estimators.
///
/// Parameters
/// ----------
/// x : array_like
///     1-D real series (finite values).
/// method : {"uniform", "mean_scale", "quantile"}, default "uniform"
///     "uniform": equal-width bins over ``[low, high]`` (a missing end is taken from the
///     range of ``sample``); values outside go to the end bins. "mean_scale": divide by
///     the mean absolute value of ``sample`` (Chronos / EntroPE style), then equal-width
///     bins over ``[-limit, limit]``. "quantile": edges at the ``i/bins`` quantiles of
///     ``sample``, exactly as ``numpy.quantile`` computes them (default linear method);
///     a value's symbol is the number of edges <= it.
/// bins : int, default 16
///     Number of symbols, 1..256.
/// low, high : float, optional
///     Range of the uniform bins.
/// limit : float, default 5.0
///     Half-range of the mean-scaled bins.
/// sample : array_like, optional
///     Data the parameters are fit on (default: ``x``). Fit once and pass the same
///     sample (or low/high) for every chunk of a stream, so chunks quantize alike.
///
/// Examples
/// --------
/// >>> import numpy as np, entroseg
/// >>> entroseg.quantize(np.array([0.0, 0.5, 1.0, 1.5, 2.0]), bins=4, low=0.0, high=2.0)
/// array([0, 1, 2, 3, 3], dtype=uint8)
/// >>> entroseg.quantize(np.arange(8.0), method="quantile", bins=4)
/// array([0, 0, 1, 1, 2, 2, 3, 3], dtype=uint8)
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
    if bins < 1 || bins > entroseg_core::estimate::quantize::MAX_BINS as i64 {
        return Err(InvalidParameterError::new_err(format!(
            "bins must be in 1..={}, got {bins}",
            entroseg_core::estimate::quantize::MAX_BINS
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
        // The input first: when no sample is given it is also what the bins are fit on,
        // and the error should name it as the input.
        entroseg_core::estimate::quantize::check_finite(xs, "input")?;
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

/// Options of the context model from keyword arguments (`alphabet_size` resolved).
pub(crate) fn next_symbol_options(
    context: (&str, i64),
    alphabet_size: usize,
    alpha: f64,
    min_count: i64,
    reset_symbol: Option<i64>,
    normalize: bool,
) -> PyResult<NextSymbolOptions> {
    core(NextSymbolOptions::from_values(
        context,
        alphabet_size,
        alpha,
        min_count,
        reset_symbol,
        normalize,
    ))
}

/// The next-symbol model's context length: `context`, or its deprecated old name
/// `order` (kept for one release, with a `DeprecationWarning`), with the name the caller
/// used (errors name it).
pub(crate) fn context_length(
    py: Python<'_>,
    context: Option<i64>,
    order: Option<i64>,
    surface: &str,
) -> PyResult<(&'static str, i64)> {
    use entroseg_core::segment::spec::DEFAULT_NEXT_SYMBOL_CONTEXT;
    match (context, order) {
        (Some(_), Some(_)) => Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "{surface}: give the context length once, as context (order is its old name)"
        ))),
        (None, Some(o)) => {
            crate::estimate_stream::warn_deprecated(
                py,
                &format!(
                    "{surface}(order=...) is deprecated: the context length is context= \
                     (order is the ordinal embedding dimension of the permutation methods)"
                ),
            )?;
            Ok(("order", o))
        }
        (c, None) => Ok(("context", c.unwrap_or(DEFAULT_NEXT_SYMBOL_CONTEXT as i64))),
    }
}

/// Model-free next-symbol entropy and surprisal of a symbol stream.
///
/// An online context model predicts each symbol from the ones before it, before seeing
/// it: counts of the symbols that followed each context of up to ``context`` symbols, an
/// additive estimator ``P(a) = (c(a) + alpha) / (N + alphabet_size * alpha)``
/// (``alpha = 0.5`` is Krichevsky-Trofimov), and back-off to the longest context seen at
/// least ``min_count`` times. ``entropy[t]`` is the entropy of the prediction for
/// ``symbols[t]``, ``surprisal[t] = -ln P(symbols[t])``; the model then counts the
/// symbol. No training, deterministic, O(context) per symbol; the streaming class
/// ``NextSymbolEntropy`` gives the same values for any chunking. The GIL is released.
///
/// Parameters
/// ----------
/// symbols : array_like of int
///     Symbols in ``0..alphabet_size``.
/// context : int, default 3
///     Longest context length (0 = symbol frequencies only); at most 7 for bytes, 31
///     for DNA. ``order=`` is its deprecated old name (one release).
/// alphabet_size : int or None, default None
///     Number of symbols (1..256); None uses ``max(symbols) + 1``.
/// alpha : float, default 0.5
///     Pseudo-count added to every symbol of a context (> 0). 0.5 (Krichevsky-Trofimov)
///     suits small alphabets such as DNA; with 256 symbols it adds 128 pseudo-counts per
///     context, so a small value (e.g. 0.01) lets contexts become confident sooner.
/// min_count : int, default 1
///     A context predicts once it has been seen this many times.
/// reset_symbol : int or None, default None
///     After this symbol the context is emptied (e.g. ``ord("\n")`` for text, as BLT
///     resets at newlines).
/// normalize : bool, default True
///     Divide both outputs by ln(alphabet_size): entropy in [0, 1]; surprisal >= 0 (it
///     exceeds 1 for symbols less likely than uniform).
///
/// Returns
/// -------
/// (numpy.ndarray, numpy.ndarray)
///     ``entropy`` and ``surprisal``, float64, one value per symbol.
///
/// Examples
/// --------
/// >>> import numpy as np, entroseg
/// >>> s = np.tile(np.array([0, 1], dtype=np.uint8), 50)  # 0 1 0 1 ...
/// >>> h, q = entroseg.next_symbol_entropy(s, context=1, alphabet_size=2)
/// >>> float(h[0])  # nothing seen yet: uniform, one bit (normalized to 1)
/// 1.0
/// >>> bool(h[-1] < 0.1 and q[-1] < 0.02)  # the alternation has been learnt
/// True
#[pyfunction]
#[pyo3(signature = (symbols, /, *, context=None, alphabet_size=None, alpha=0.5, min_count=1, reset_symbol=None, normalize=true, order=None))]
#[allow(clippy::too_many_arguments)]
pub fn next_symbol_entropy<'py>(
    py: Python<'py>,
    symbols: &Bound<'py, PyAny>,
    context: Option<i64>,
    alphabet_size: Option<i64>,
    alpha: f64,
    min_count: i64,
    reset_symbol: Option<i64>,
    normalize: bool,
    order: Option<i64>,
) -> PyResult<crate::convert::ArrayPair<'py>> {
    let context = context_length(py, context, order, "next_symbol_entropy")?;
    if let Some(a) = alphabet_size {
        next_symbol_options(
            context,
            count_option(a, "alphabet_size", 1)?,
            alpha,
            min_count,
            reset_symbol,
            normalize,
        )?;
    }
    let view = symbol_array(symbols, "symbols")?.view();
    let x = view.samples()?;
    require_non_empty(x.len(), "symbols")?;
    let alphabet_size = match alphabet_size {
        Some(a) => count_option(a, "alphabet_size", 1)?,
        None => core(x.inferred_alphabet(context_model::MAX_ALPHABET))?,
    };
    let o = next_symbol_options(
        context,
        alphabet_size,
        alpha,
        min_count,
        reset_symbol,
        normalize,
    )?;
    let mut model = core(context_model::ContextModel::new(o))?;
    let (entropy, surprisal) = crate::estimate_stream::entropy_and_surprisal(py, x, &mut model)?;
    Ok((entropy, surprisal))
}
