//! Streaming classes: state kept across `update(chunk)` calls, `reset()`, checkpoints as
//! bytes, and pickling through those checkpoints (resumes bit-identically).

use crate::convert::{
    count_option, fill_output, float_array, new_output, order_option, symbol_array, ArrayPair,
};
use crate::error::core;
use crate::estimate::{next_symbol_options, permutation_options};
use entroseg_core::estimate::conditional::{
    ConditionalEstimator, ConditionalOptions, ConditionalPermutationEstimator,
    ConditionalPermutationOptions,
};
use entroseg_core::estimate::context_model::ContextModel;
use entroseg_core::estimate::permutation::{PermutationEstimator, Statistic};
use entroseg_core::estimate::NanPolicy;
use entroseg_core::{for_symbols, Samples};
use numpy::{PyArray1, PyArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};

fn policy_name(p: NanPolicy) -> &'static str {
    match p {
        NanPolicy::Raise => "raise",
        NanPolicy::Propagate => "propagate",
    }
}

/// The core checkpoints whole-series estimators too; these classes are rolling only.
fn rolling_only(window: Option<usize>, class: &str) -> PyResult<()> {
    match window {
        Some(_) => Ok(()),
        None => Err(crate::error::CheckpointError::new_err(format!(
            "the checkpoint holds a whole-series estimator (no window); {class} restores \
             rolling ones only"
        ))),
    }
}

/// The context model's entropy and surprisal of `x`, into two fresh arrays.
pub(crate) fn entropy_and_surprisal<'py>(
    py: Python<'py>,
    x: Samples<'_>,
    model: &mut ContextModel,
) -> PyResult<ArrayPair<'py>> {
    let surprisal = new_output(py, x.len());
    // SAFETY: `surprisal` was created above and is not shared yet; `update` writes every
    // element (or fails, and the array is dropped).
    let q = unsafe { surprisal.as_slice_mut() }.expect("fresh arrays are contiguous");
    let entropy = core(fill_output(
        py,
        x.len(),
        |h| for_symbols!(x, s => model.update(s, h, q), _v => unreachable!()),
    ))?;
    Ok((entropy, surprisal))
}

/// A one-dimensional float64 result.
pub(crate) type F64Array<'py> = Bound<'py, PyArray1<f64>>;

/// A `DeprecationWarning` attributed to the Python caller.
pub(crate) fn warn_deprecated(py: Python<'_>, message: &str) -> PyResult<()> {
    PyErr::warn(
        py,
        &py.get_type::<pyo3::exceptions::PyDeprecationWarning>(),
        &std::ffi::CString::new(message).expect("no NUL in the message"),
        1,
    )
}

/// Warns that `old` is the deprecated name of `new` (kept for one release).
pub(crate) fn deprecated_alias(py: Python<'_>, class: &str, old: &str, new: &str) -> PyResult<()> {
    warn_deprecated(
        py,
        &format!("{class}.{old}() is deprecated: the one verb for feeding a stream is {new}()"),
    )
}

/// The `#[pymethods]` of a streaming class: its own methods (`$methods`, which include
/// `push`), then what every streaming class shares: `reset`, `checkpoint`,
/// `from_checkpoint` (through `$restore`, a `fn(&[u8]) -> PyResult<Self>`), pickling
/// through the checkpoint, and `samples_seen`; with `update = $out`, the deprecated
/// `update` alias of `push` returning `$out<'py>`.
macro_rules! streaming_class {
    ($class:ident, restore = $restore:expr $(, update = $out:ident)?, { $($methods:tt)* }) => {
        #[pymethods]
        impl $class {
            $($methods)*

            $(
            /// Deprecated alias of `push` (one release).
            fn update<'py>(
                &mut self,
                py: Python<'py>,
                chunk: &Bound<'py, PyAny>,
            ) -> PyResult<$out<'py>> {
                $crate::estimate_stream::deprecated_alias(py, stringify!($class), "update", "push")?;
                self.push(py, chunk)
            }
            )?

            /// Forgets everything seen; keeps the options.
            fn reset(&mut self) {
                self.inner.reset();
            }

            /// The state as bytes; `from_checkpoint` and pickle resume it bit-identically.
            fn checkpoint<'py>(&self, py: Python<'py>) -> Bound<'py, pyo3::types::PyBytes> {
                pyo3::types::PyBytes::new(py, &self.inner.checkpoint())
            }

            /// Rebuilds the object from `checkpoint()` bytes.
            #[classmethod]
            fn from_checkpoint(
                _cls: &Bound<'_, pyo3::types::PyType>,
                state: &[u8],
            ) -> PyResult<Self> {
                let restore: fn(&[u8]) -> PyResult<Self> = $restore;
                restore(state)
            }

            fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
                let state = slf.borrow().inner.checkpoint();
                $crate::estimate_stream::reduce(slf.as_any(), state)
            }

            /// Samples consumed so far.
            #[getter]
            fn samples_seen(&self) -> u64 {
                self.inner.samples_seen()
            }
        }
    };
}
pub(crate) use streaming_class;

pub(crate) fn reduce<'py>(
    obj: &Bound<'py, PyAny>,
    state: Vec<u8>,
) -> PyResult<Bound<'py, PyTuple>> {
    let py = obj.py();
    let restore = obj.get_type().getattr("from_checkpoint")?;
    PyTuple::new(
        py,
        [
            restore,
            PyTuple::new(py, [PyBytes::new(py, &state)])?.into_any(),
        ],
    )
}

/// Rolling permutation entropy over a stream fed in chunks.
///
/// ``push(chunk)`` returns one value per sample of the chunk, exactly the values the
/// one-shot ``permutation_entropy(x, window=...)`` gives for the concatenated stream,
/// bit for bit, whatever the chunking. The state is O(window): ``checkpoint()`` returns
/// it as bytes, ``from_checkpoint`` and pickle restore it and the stream continues
/// bit-identically. ``statistic`` selects "entropy", "complexity" (Jensen-Shannon
/// statistical complexity) or "missing_patterns". Other options as in
/// ``permutation_entropy``. ``push`` releases the GIL (``update`` is its deprecated old name).
///
/// Examples
/// --------
/// >>> import numpy as np, pickle, entroseg
/// >>> x = np.random.default_rng(0).standard_normal(1000)
/// >>> pe = entroseg.RollingPermutationEntropy(window=100, order=4)
/// >>> first = pe.push(x[:300])
/// >>> pe = pickle.loads(pickle.dumps(pe))  # checkpoint / resume
/// >>> rest = pe.push(x[300:])
/// >>> bool(np.array_equal(np.concatenate([first, rest]),
/// ...                     entroseg.permutation_entropy(x, order=4, window=100), equal_nan=True))
/// True
#[pyclass(module = "entroseg._entroseg", name = "RollingPermutationEntropy")]
pub struct PyRollingPermutationEntropy {
    inner: PermutationEstimator,
}

streaming_class!(
    PyRollingPermutationEntropy,
    restore = |state| {
        let inner = core(PermutationEstimator::restore(state))?;
        rolling_only(inner.options().window, "RollingPermutationEntropy")?;
        Ok(Self { inner })
    },
    update = F64Array,
    {
        #[new]
        #[pyo3(signature = (*, window, order=3, delay=1, normalize=true, weighted=false, statistic="entropy", nan_policy="raise"))]
        #[allow(clippy::too_many_arguments)]
        fn new(
            window: i64,
            order: i64,
            delay: i64,
            normalize: bool,
            weighted: bool,
            statistic: &str,
            nan_policy: &str,
        ) -> PyResult<Self> {
            let statistic = core(Statistic::parse(statistic))?;
            let o = permutation_options(
                order,
                delay,
                Some(window),
                normalize,
                weighted,
                statistic,
                nan_policy,
            )?;
            Ok(Self {
                inner: core(PermutationEstimator::new(o))?,
            })
        }

        /// Feeds the next chunk.
        fn push<'py>(
            &mut self,
            py: Python<'py>,
            chunk: &Bound<'py, PyAny>,
        ) -> PyResult<Bound<'py, PyArray1<f64>>> {
            let arr = float_array(chunk, "chunk")?;
            let ro = arr.readonly();
            let xs = ro.as_slice()?;
            let inner = &mut self.inner;
            core(fill_output(py, xs.len(), |out| inner.update(xs, out)))
        }

        #[getter]
        fn window(&self) -> usize {
            self.inner.options().window.unwrap_or(0)
        }
        #[getter]
        fn order(&self) -> usize {
            self.inner.options().order
        }
        #[getter]
        fn delay(&self) -> usize {
            self.inner.options().delay
        }

        fn __repr__(&self) -> String {
            let o = self.inner.options();
            let stat = match o.statistic {
                Statistic::Entropy => "entropy",
                Statistic::Complexity => "complexity",
                Statistic::MissingPatterns => "missing_patterns",
            };
            format!(
            "RollingPermutationEntropy(window={}, order={}, delay={}, normalize={}, weighted={}, statistic='{stat}', nan_policy='{}', samples_seen={})",
            o.window.unwrap_or(0),
            o.order,
            o.delay,
            if o.normalize { "True" } else { "False" },
            if o.weighted { "True" } else { "False" },
            policy_name(o.nan_policy),
            self.inner.samples_seen()
        )
        }
    }
);

/// Rolling conditional entropy of a symbol stream fed in chunks.
///
/// Same values as ``conditional_entropy(s, window=..., alphabet_size=...)`` on the
/// concatenated stream, bit for bit, whatever the chunking; checkpoint, pickle and reset
/// as ``RollingPermutationEntropy``. ``push`` releases the GIL (``update`` is its deprecated old name).
///
/// Examples
/// --------
/// >>> import numpy as np, entroseg
/// >>> ce = entroseg.RollingConditionalEntropy(window=4, alphabet_size=2, context=1)
/// >>> ce.push(np.array([0, 1, 0, 1, 1, 1], dtype=np.uint8))
/// array([       nan,        nan,        nan, 0.        , 0.66666667,
///        0.        ])
#[pyclass(module = "entroseg._entroseg", name = "RollingConditionalEntropy")]
pub struct PyRollingConditionalEntropy {
    inner: ConditionalEstimator,
}

streaming_class!(
    PyRollingConditionalEntropy,
    restore = |state| {
        let inner = core(ConditionalEstimator::restore(state))?;
        rolling_only(inner.options().window, "RollingConditionalEntropy")?;
        Ok(Self { inner })
    },
    update = F64Array,
    {
        #[new]
        #[pyo3(signature = (*, window, alphabet_size, context=1, normalize=true))]
        fn new(window: i64, alphabet_size: i64, context: i64, normalize: bool) -> PyResult<Self> {
            let o = ConditionalOptions {
                context: count_option(context, "context", 0)?,
                alphabet_size: count_option(alphabet_size, "alphabet_size", 1)?,
                window: Some(count_option(window, "window", 1)?),
                normalize,
                lag: 1,
            };
            Ok(Self {
                inner: core(ConditionalEstimator::new(o))?,
            })
        }

        /// Feeds the next chunk.
        fn push<'py>(
            &mut self,
            py: Python<'py>,
            chunk: &Bound<'py, PyAny>,
        ) -> PyResult<Bound<'py, PyArray1<f64>>> {
            let view = symbol_array(chunk, "chunk")?.view();
            let x = view.samples()?;
            let inner = &mut self.inner;
            core(fill_output(
                py,
                x.len(),
                |out| for_symbols!(x, s => inner.update(s, out), _v => unreachable!()),
            ))
        }

        #[getter]
        fn window(&self) -> usize {
            self.inner.options().window.unwrap_or(0)
        }

        fn __repr__(&self) -> String {
            let o = self.inner.options();
            format!(
            "RollingConditionalEntropy(window={}, alphabet_size={}, context={}, normalize={}, samples_seen={})",
            o.window.unwrap_or(0),
            o.alphabet_size,
            o.context,
            if o.normalize { "True" } else { "False" },
            self.inner.samples_seen()
        )
        }
    }
);

/// Rolling conditional permutation entropy over a stream fed in chunks.
///
/// Same values as ``conditional_permutation_entropy(x, window=...)`` on the
/// concatenated stream, bit for bit; checkpoint, pickle and reset as
/// ``RollingPermutationEntropy``. ``push`` releases the GIL (``update`` is its deprecated old name).
#[pyclass(
    module = "entroseg._entroseg",
    name = "RollingConditionalPermutationEntropy"
)]
pub struct PyRollingConditionalPermutationEntropy {
    inner: ConditionalPermutationEstimator,
}

streaming_class!(
    PyRollingConditionalPermutationEntropy,
    restore = |state| {
        let inner = core(ConditionalPermutationEstimator::restore(state))?;
        rolling_only(
            inner.options().window,
            "RollingConditionalPermutationEntropy",
        )?;
        Ok(Self { inner })
    },
    update = F64Array,
    {
        #[new]
        #[pyo3(signature = (*, window, order=3, delay=1, context=1, normalize=true, nan_policy="raise"))]
        fn new(
            window: i64,
            order: i64,
            delay: i64,
            context: i64,
            normalize: bool,
            nan_policy: &str,
        ) -> PyResult<Self> {
            let o = ConditionalPermutationOptions {
                order: order_option(order)?,
                delay: count_option(delay, "delay", 1)?,
                context: count_option(context, "context", 0)?,
                window: Some(count_option(window, "window", 1)?),
                normalize,
                nan_policy: crate::convert::nan_policy(nan_policy)?,
            };
            Ok(Self {
                inner: core(ConditionalPermutationEstimator::new(o))?,
            })
        }

        /// Feeds the next chunk.
        fn push<'py>(
            &mut self,
            py: Python<'py>,
            chunk: &Bound<'py, PyAny>,
        ) -> PyResult<Bound<'py, PyArray1<f64>>> {
            let arr = float_array(chunk, "chunk")?;
            let ro = arr.readonly();
            let xs = ro.as_slice()?;
            let inner = &mut self.inner;
            core(fill_output(py, xs.len(), |out| inner.update(xs, out)))
        }

        fn __repr__(&self) -> String {
            let o = self.inner.options();
            format!(
            "RollingConditionalPermutationEntropy(window={}, order={}, delay={}, context={}, normalize={}, nan_policy='{}', samples_seen={})",
            o.window.unwrap_or(0),
            o.order,
            o.delay,
            o.context,
            if o.normalize { "True" } else { "False" },
            policy_name(o.nan_policy),
            self.inner.samples_seen()
        )
        }
    }
);

/// Next-symbol entropy and surprisal over a stream fed in chunks.
///
/// ``push(chunk)`` returns ``(entropy, surprisal)`` for the symbols of the chunk,
/// exactly the values ``next_symbol_entropy`` gives for the concatenated stream, bit
/// for bit, whatever the chunking. The model keeps its counts (memory grows with the
/// number of distinct contexts, never with the stream length); ``checkpoint()``,
/// ``from_checkpoint`` and pickle resume it bit-identically. Options as in
/// ``next_symbol_entropy``; ``alphabet_size`` is required. ``push`` releases the GIL (``update`` is its deprecated old name).
///
/// Examples
/// --------
/// >>> import numpy as np, pickle, entroseg
/// >>> s = np.random.default_rng(0).integers(0, 4, 5000).astype(np.uint8)
/// >>> model = entroseg.NextSymbolEntropy(context=3, alphabet_size=4)
/// >>> h1, q1 = model.push(s[:1234])
/// >>> model = pickle.loads(pickle.dumps(model))
/// >>> h2, q2 = model.push(s[1234:])
/// >>> h, q = entroseg.next_symbol_entropy(s, context=3, alphabet_size=4)
/// >>> bool(np.array_equal(np.concatenate([h1, h2]), h))
/// True
#[pyclass(module = "entroseg._entroseg", name = "NextSymbolEntropy")]
pub struct PyNextSymbolEntropy {
    inner: ContextModel,
}

streaming_class!(
    PyNextSymbolEntropy,
    restore = |state| {
        Ok(Self {
            inner: core(ContextModel::restore(state))?,
        })
    },
    update = ArrayPair,
    {
        #[new]
        #[pyo3(signature = (*, alphabet_size, context=None, alpha=0.5, min_count=1, reset_symbol=None, normalize=true, order=None))]
        #[allow(clippy::too_many_arguments)]
        fn new(
            py: Python<'_>,
            alphabet_size: i64,
            context: Option<i64>,
            alpha: f64,
            min_count: i64,
            reset_symbol: Option<i64>,
            normalize: bool,
            order: Option<i64>,
        ) -> PyResult<Self> {
            let o = next_symbol_options(
                crate::estimate::context_length(py, context, order, "NextSymbolEntropy")?,
                count_option(alphabet_size, "alphabet_size", 1)?,
                alpha,
                min_count,
                reset_symbol,
                normalize,
            )?;
            Ok(Self {
                inner: core(ContextModel::new(o))?,
            })
        }

        /// Feeds the next chunk.
        fn push<'py>(
            &mut self,
            py: Python<'py>,
            chunk: &Bound<'py, PyAny>,
        ) -> PyResult<crate::convert::ArrayPair<'py>> {
            let view = symbol_array(chunk, "chunk")?.view();
            let x = view.samples()?;
            let (entropy, surprisal) = entropy_and_surprisal(py, x, &mut self.inner)?;
            Ok((entropy, surprisal))
        }

        /// The context length.
        #[getter]
        fn context(&self) -> usize {
            self.inner.options().order
        }
        /// Deprecated old name of `context`.
        #[getter]
        fn order(&self, py: Python<'_>) -> PyResult<usize> {
            warn_deprecated(py, "NextSymbolEntropy.order is deprecated: use .context")?;
            Ok(self.inner.options().order)
        }
        /// Number of symbols.
        #[getter]
        fn alphabet_size(&self) -> usize {
            self.inner.options().alphabet_size
        }

        fn __repr__(&self) -> String {
            let o = self.inner.options();
            format!(
            "NextSymbolEntropy(alphabet_size={}, context={}, alpha={}, min_count={}, reset_symbol={}, normalize={}, samples_seen={})",
            o.alphabet_size,
            o.order,
            o.alpha,
            o.min_count,
            o.reset_symbol.map_or("None".to_string(), |r| r.to_string()),
            if o.normalize { "True" } else { "False" },
            self.inner.samples_seen()
        )
        }
    }
);
