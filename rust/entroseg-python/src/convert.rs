//! Array intake shared by every numpy-facing function.
//!
//! A C-contiguous, aligned, native-endian float64 1-D array is borrowed as is (no copy).
//! Any other real dtype (float16/32, signed or unsigned integers), non-contiguous views,
//! misaligned buffers and byte-swapped arrays go through
//! `numpy.require(x, float64, ["C", "A"])`: one copy, unavoidable for a dtype or layout
//! change. Complex, boolean, string and object arrays raise `TypeError`; anything not 1-D
//! raises `InvalidParameterError` (a `ValueError`) naming the shape.

use crate::error::InvalidParameterError;
use entroseg_core::Samples;
use numpy::{PyArray1, PyArrayMethods, PyReadonlyArray1, PyUntypedArrayMethods};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;

fn as_ndarray<'py>(obj: &Bound<'py, PyAny>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    let np = obj.py().import("numpy")?;
    let arr = np.call_method1("asarray", (obj,))?;
    let ndim: usize = arr.getattr("ndim")?.extract()?;
    if ndim != 1 {
        let shape = arr.getattr("shape")?.repr()?;
        return Err(InvalidParameterError::new_err(format!(
            "{name} must be a 1-D array, got an array of shape {shape}"
        )));
    }
    Ok(arr)
}

/// `numpy.require(arr, dtype, ["C", "A"])`: C-contiguous and aligned, copied only when
/// it is not already (`ascontiguousarray` alone keeps misaligned buffers).
fn contiguous<'py>(arr: Bound<'py, PyAny>, dtype: &str) -> PyResult<Bound<'py, PyAny>> {
    let np = arr.py().import("numpy")?;
    np.call_method1("require", (arr, dtype, ["C", "A"]))
}

fn dtype_kind(arr: &Bound<'_, PyAny>) -> PyResult<(String, String)> {
    let dtype = arr.getattr("dtype")?;
    Ok((dtype.getattr("kind")?.extract()?, dtype.str()?.to_string()))
}

/// True when `obj` is a numpy masked array (`numpy.ma.MaskedArray` or a subclass).
/// Masked arrays are ndarrays too, so without this check their mask would be ignored.
fn is_masked(obj: &Bound<'_, PyAny>) -> PyResult<bool> {
    // Plain ndarrays, lists, bytes ...: no lookup needed.
    let ty = obj.get_type();
    if ty.name()? == "ndarray" || !obj.hasattr("mask")? {
        return Ok(false);
    }
    let cls = obj.py().import("numpy.ma")?.getattr("MaskedArray")?;
    obj.is_instance(&cls)
}

/// For inputs that cannot be missing (symbols, sizes, offsets, vectors): a masked array
/// with masked entries is refused with how to convert it; one with none masked is read
/// as its data.
pub fn refuse_masked<'py>(obj: &Bound<'py, PyAny>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    if !is_masked(obj)? {
        return Ok(obj.clone());
    }
    let ma = obj.py().import("numpy.ma")?;
    let masked: usize = ma.call_method1("count_masked", (obj,))?.extract()?;
    if masked > 0 {
        let first: usize = obj
            .py()
            .import("numpy")?
            .call_method1("argmax", (ma.call_method1("getmaskarray", (obj,))?,))?
            .extract()?;
        return Err(PyTypeError::new_err(format!(
            "{name} is a masked array with {masked} masked value(s) (the first at index \
             {first}); {name} cannot be missing: pass {name}.filled(value) or \
             {name}.compressed()"
        )));
    }
    obj.getattr("data")
}

/// A 1-D float64 view of `obj` (borrowed when possible). A numpy masked array's masked
/// samples are missing values: they read as NaN, so `nan_policy` decides.
pub fn float_array<'py>(
    obj: &Bound<'py, PyAny>,
    name: &str,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    if is_masked(obj)? {
        let data = as_ndarray(&obj.getattr("data")?, name)?;
        let (kind, dtype) = dtype_kind(&data)?;
        if !matches!(kind.as_str(), "f" | "i" | "u") {
            return Err(PyTypeError::new_err(format!(
                "{name} must have a real numeric dtype (float or integer), got dtype {dtype}"
            )));
        }
        let filled = obj
            .call_method1("astype", ("float64",))?
            .call_method1("filled", (f64::NAN,))?;
        return Ok(contiguous(filled, "float64")?.cast_into::<PyArray1<f64>>()?);
    }
    if let Ok(a) = obj.cast::<PyArray1<f64>>() {
        if a.is_c_contiguous() && a.is_aligned() {
            return Ok(a.clone());
        }
    }
    let arr = as_ndarray(obj, name)?;
    let (kind, dtype) = dtype_kind(&arr)?;
    if !matches!(kind.as_str(), "f" | "i" | "u") {
        return Err(PyTypeError::new_err(format!(
            "{name} must have a real numeric dtype (float or integer), got dtype {dtype}"
        )));
    }
    Ok(contiguous(arr, "float64")?.cast_into::<PyArray1<f64>>()?)
}

/// Symbols as a 1-D uint8/uint16/uint32 array (borrowed when already unsigned and
/// contiguous). Signed integers are checked for negatives and converted.
pub enum Symbols<'py> {
    U8(Bound<'py, PyArray1<u8>>),
    U16(Bound<'py, PyArray1<u16>>),
    U32(Bound<'py, PyArray1<u32>>),
}

pub fn symbol_array<'py>(obj: &Bound<'py, PyAny>, name: &str) -> PyResult<Symbols<'py>> {
    let obj = &refuse_masked(obj, name)?;
    if let Ok(a) = obj.cast::<PyArray1<u8>>() {
        if a.is_c_contiguous() && a.is_aligned() {
            return Ok(Symbols::U8(a.clone()));
        }
    }
    let arr = as_ndarray(obj, name)?;
    let (kind, dtype) = dtype_kind(&arr)?;
    let size: usize = arr.getattr("size")?.extract()?;
    if kind == "f" && size == 0 {
        // `numpy.asarray([])` is float64: an empty list holds no symbols, not floats.
        return Ok(Symbols::U8(PyArray1::<u8>::zeros(obj.py(), 0, false)));
    }
    if !matches!(kind.as_str(), "i" | "u") {
        return Err(PyTypeError::new_err(format!(
            "{name} must be an integer array of symbols 0..alphabet_size, got dtype {dtype}"
        )));
    }
    let py = obj.py();
    let np = py.import("numpy")?;
    if kind == "i" && size > 0 {
        let min: i64 = arr.call_method0("min")?.extract()?;
        if min < 0 {
            let idx: usize = np.call_method1("argmin", (&arr,))?.extract()?;
            return Err(crate::error::SymbolOutOfRangeError::new_err(format!(
                "symbol {min} at index {idx} is negative; symbols must be in 0..alphabet_size"
            )));
        }
    }
    let itemsize: usize = arr.getattr("itemsize")?.extract()?;
    if size > 0 {
        let max: u64 = arr.call_method0("max")?.extract()?;
        if max > u32::MAX as u64 {
            let idx: usize = np.call_method1("argmax", (&arr,))?.extract()?;
            return Err(crate::error::SymbolOutOfRangeError::new_err(format!(
                "symbol {max} at index {idx} is larger than any supported alphabet"
            )));
        }
    }
    Ok(match (kind.as_str(), itemsize) {
        ("u", 1) | ("i", 1) => Symbols::U8(contiguous(arr, "uint8")?.cast_into()?),
        ("u", 2) | ("i", 2) => Symbols::U16(contiguous(arr, "uint16")?.cast_into()?),
        _ => Symbols::U32(contiguous(arr, "uint32")?.cast_into()?),
    })
}

/// Read-only borrows of an input array, alive while the core reads the [`Samples`].
pub enum SampleView<'py> {
    Values(PyReadonlyArray1<'py, f64>),
    U8(PyReadonlyArray1<'py, u8>),
    U16(PyReadonlyArray1<'py, u16>),
    U32(PyReadonlyArray1<'py, u32>),
}

impl SampleView<'_> {
    /// The core's view of the input (the intake made every array contiguous).
    pub fn samples(&self) -> PyResult<Samples<'_>> {
        Ok(match self {
            SampleView::Values(a) => Samples::Values(a.as_slice()?),
            SampleView::U8(a) => Samples::U8(a.as_slice()?),
            SampleView::U16(a) => Samples::U16(a.as_slice()?),
            SampleView::U32(a) => Samples::U32(a.as_slice()?),
        })
    }
}

/// The input of a score method: integer symbols when `symbols`, floats otherwise.
pub fn input_view<'py>(
    obj: &Bound<'py, PyAny>,
    name: &str,
    symbols: bool,
) -> PyResult<SampleView<'py>> {
    Ok(if symbols {
        symbol_array(obj, name)?.view()
    } else {
        SampleView::Values(float_array(obj, name)?.readonly())
    })
}

/// A 1-D input or the channels of an (n, c) input, borrowed for the core.
pub struct ChannelsView<'py> {
    /// The data, channel-major (channel `k` is `data[k * n..(k + 1) * n]`).
    data: SampleView<'py>,
    count: usize,
}

impl ChannelsView<'_> {
    /// The core's view: `count` channels of equal length.
    pub fn channels(&self) -> PyResult<entroseg_core::Channels<'_>> {
        crate::error::core(entroseg_core::Channels::channel_major(
            self.data.samples()?,
            self.count,
        ))
    }
}

/// The input of a segmentation surface that takes channels: a 1-D array (one channel)
/// or a 2-D array of shape (n, c) (c channels of n samples, C- or F-ordered; copied
/// once into channel-major order unless it already is, as a transposed C array or an
/// F-ordered one is). Ragged nested lists, 0 channels and other dimensions raise
/// `InvalidParameterError` naming the shape.
pub fn channels_view<'py>(
    obj: &Bound<'py, PyAny>,
    name: &str,
    symbols: bool,
) -> PyResult<ChannelsView<'py>> {
    let py = obj.py();
    let np = py.import("numpy")?;
    let ndim = match obj.cast::<numpy::PyUntypedArray>() {
        Ok(a) => a.ndim(),
        Err(_) => {
            let arr = np.call_method1("asarray", (obj,)).map_err(|e| {
                if e.is_instance_of::<pyo3::exceptions::PyValueError>(py) {
                    InvalidParameterError::new_err(format!(
                        "{name} must be a 1-D array (n,) or a 2-D array (n, c) of c channels \
                         of equal length; it is ragged ({e})"
                    ))
                } else {
                    e
                }
            })?;
            return channels_view(&arr, name, symbols);
        }
    };
    match ndim {
        1 => Ok(ChannelsView {
            data: input_view(obj, name, symbols)?,
            count: 1,
        }),
        2 => {
            let shape: (usize, usize) = obj.getattr("shape")?.extract()?;
            if shape.1 == 0 {
                return Err(InvalidParameterError::new_err(format!(
                    "{name} has 0 channels (shape ({}, 0)): a 2-D {name} of shape (n, c)                      needs c >= 1",
                    shape.0
                )));
            }
            let obj = if symbols {
                let obj = refuse_masked(obj, name)?;
                check_symbol_range_2d(&obj, name)?;
                obj
            } else if is_masked(obj)? {
                obj.call_method1("astype", ("float64",))?
                    .call_method1("filled", (f64::NAN,))?
            } else {
                obj.clone()
            };
            // (c, n), contiguous: one copy unless `obj` is F-ordered already.
            let t = np.call_method1("ascontiguousarray", (obj.getattr("T")?,))?;
            let flat = t.call_method1("reshape", (-1,))?;
            Ok(ChannelsView {
                data: input_view(&flat, name, symbols)?,
                count: shape.1,
            })
        }
        _ => {
            let shape = obj.getattr("shape")?.repr()?;
            Err(InvalidParameterError::new_err(format!(
                "{name} must be a 1-D array (n,) or a 2-D array (n, c) of c channels, got \
                 an array of shape {shape}"
            )))
        }
    }
}

/// Symbols of an (n, c) array outside what any alphabet takes, named by row and
/// channel (the 1-D intake would name a position in the channel-major copy).
fn check_symbol_range_2d(arr: &Bound<'_, PyAny>, name: &str) -> PyResult<()> {
    let size: usize = arr.getattr("size")?.extract()?;
    let (kind, _) = dtype_kind(arr)?;
    if size == 0 || !matches!(kind.as_str(), "i" | "u") {
        return Ok(());
    }
    let np = arr.py().import("numpy")?;
    let shape = arr.getattr("shape")?;
    let at = |f: &str| -> PyResult<(usize, usize)> {
        let flat = np.call_method1(f, (arr,))?;
        np.call_method1("unravel_index", (flat, &shape))?.extract()
    };
    let min: i64 = arr.call_method0("min")?.extract().unwrap_or(0);
    if min < 0 {
        let (row, channel) = at("argmin")?;
        return Err(crate::error::SymbolOutOfRangeError::new_err(format!(
            "symbol {min} at row {row} of channel {channel} of {name} is negative; symbols \
             must be in 0..alphabet_size"
        )));
    }
    let max: u64 = arr.call_method0("max")?.extract().unwrap_or(0);
    if max > u32::MAX as u64 {
        let (row, channel) = at("argmax")?;
        return Err(crate::error::SymbolOutOfRangeError::new_err(format!(
            "symbol {max} at row {row} of channel {channel} of {name} is larger than any \
             supported alphabet"
        )));
    }
    Ok(())
}

/// `threads=None` is every core; otherwise at least 1.
pub fn threads_option(threads: Option<i64>) -> PyResult<usize> {
    match threads {
        None => Ok(entroseg_core::util::pool::default_threads()),
        Some(t) => count_option(t, "threads", 1),
    }
}

impl<'py> Symbols<'py> {
    /// Read-only borrow for the core.
    pub fn view(&self) -> SampleView<'py> {
        match self {
            Symbols::U8(a) => SampleView::U8(a.readonly()),
            Symbols::U16(a) => SampleView::U16(a.readonly()),
            Symbols::U32(a) => SampleView::U32(a.readonly()),
        }
    }
}

/// A bad option found while parsing keyword arguments, without touching Python: the
/// Polars plugin parses the same options on Polars' threads, where no Python exception
/// can be built, so option parsing shared by both surfaces returns this and each surface
/// converts it (`InvalidParameterError` / the core error's type, or a Polars error).
#[derive(Debug)]
pub enum OptionError {
    /// Out of range: becomes `InvalidParameterError`.
    Parameter(String),
    /// Rejected by the core (its kind picks the exception).
    Core(entroseg_core::Error),
}

impl OptionError {
    pub fn parameter(message: impl Into<String>) -> Self {
        Self::Parameter(message.into())
    }

    /// The message, naming the value and the limit.
    #[cfg_attr(not(feature = "polars"), allow(dead_code))]
    pub fn message(&self) -> &str {
        match self {
            Self::Parameter(m) => m,
            Self::Core(e) => e.message(),
        }
    }
}

impl From<entroseg_core::Error> for OptionError {
    fn from(e: entroseg_core::Error) -> Self {
        Self::Core(e)
    }
}

impl From<OptionError> for PyErr {
    fn from(e: OptionError) -> Self {
        match e {
            OptionError::Parameter(m) => InvalidParameterError::new_err(m),
            OptionError::Core(e) => crate::error::CoreError(e).into(),
        }
    }
}

/// [`count_option`] without Python: the value as a count of at least `min`.
pub fn try_count(value: i64, name: &str, min: i64) -> Result<usize, OptionError> {
    if value < min {
        return Err(OptionError::parameter(format!(
            "{name} must be >= {min}, got {value}"
        )));
    }
    usize::try_from(value)
        .map_err(|_| OptionError::parameter(format!("{name} is too large: {value}")))
}

/// Options that count samples arrive as Python ints; reject negatives with a clear error
/// instead of pyo3's generic OverflowError.
pub fn count_option(value: i64, name: &str, min: i64) -> PyResult<usize> {
    Ok(try_count(value, name, min)?)
}

/// `order` as an ordinal embedding dimension (the core's one check and message).
pub fn order_option(order: i64) -> PyResult<usize> {
    crate::error::core(entroseg_core::segment::spec::order(order))
}

/// Nan policy from its string.
pub fn nan_policy(s: &str) -> PyResult<entroseg_core::NanPolicy> {
    crate::error::core(entroseg_core::NanPolicy::parse(s))
}

/// An empty one-shot input is an error (a streaming update may be empty).
pub fn require_non_empty(len: usize, name: &str) -> PyResult<()> {
    if len == 0 {
        return Err(crate::error::EmptyInputError::new_err(format!(
            "{name} is empty; at least one sample is required"
        )));
    }
    Ok(())
}

/// A fresh float64 output array of length `n`, allocated by numpy.
///
/// numpy's allocator asks the kernel for transparent huge pages on large arrays, so a
/// 10^7-sample output costs a few dozen page faults instead of ~20,000 (measured: about
/// 40% of a rolling-entropy call went to faults with a `Vec` handed to numpy).
pub fn new_output(py: Python<'_>, n: usize) -> Bound<'_, PyArray1<f64>> {
    // SAFETY: the array is uninitialised; every caller fills all `n` elements (the core
    // writes one value per input sample) before the array is returned to Python.
    unsafe { PyArray1::<f64>::new(py, n, false) }
}

/// Runs `f` on the output array's memory with the GIL released.
pub fn fill_output<'py, E: Send>(
    py: Python<'py>,
    n: usize,
    f: impl FnOnce(&mut [f64]) -> Result<(), E> + Send,
) -> Result<Bound<'py, PyArray1<f64>>, E> {
    let out = new_output(py, n);
    {
        // SAFETY: `out` was created above and is not shared with Python or any other
        // reference yet, so this is the only view of its memory.
        let slice = unsafe { out.as_slice_mut() }.expect("fresh arrays are contiguous");
        py.detach(|| f(slice))?;
    }
    Ok(out)
}

/// The caller's `out=` array for `n` float64 values, checked: a writeable, C-contiguous
/// 1-D float64 numpy array of length `n` (numpy's rules for a ufunc's `out`, without
/// casting). Anything else is a `TypeError` (not a float64 array) or an
/// `InvalidParameterError` (wrong length, strided) naming what was given; a read-only
/// array is refused when it is borrowed for writing ([`fill_output_or`]).
pub fn checked_out<'py>(out: &Bound<'py, PyAny>, n: usize) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let Ok(a) = out.cast::<PyArray1<f64>>() else {
        let dtype = out
            .getattr("dtype")
            .map(|d| d.to_string())
            .unwrap_or_else(|_| out.get_type().to_string());
        let ndim = out.getattr("ndim").ok().map(|d| d.to_string());
        return Err(PyTypeError::new_err(match ndim {
            Some(d) if d != "1" => {
                format!("out must be a 1-D float64 numpy array, got a {d}-D array of {dtype}")
            }
            _ => format!("out must be a 1-D float64 numpy array, got {dtype}"),
        }));
    };
    if a.len() != n {
        return Err(InvalidParameterError::new_err(format!(
            "out has {} elements; the result has {n} (one per sample of x)",
            a.len()
        )));
    }
    if !a.is_c_contiguous() {
        return Err(InvalidParameterError::new_err(
            "out must be C-contiguous (a strided view cannot be written in place)",
        ));
    }
    Ok(a.clone())
}

/// Refuses `out=` for a whole-series call (its value is one number).
pub fn out_needs_window(out: Option<&Bound<'_, PyAny>>, window: Option<usize>) -> PyResult<()> {
    if out.is_some() && window.is_none() {
        return Err(InvalidParameterError::new_err(
            "out= takes the rolling values (window=...); the whole-series value is one number",
        ));
    }
    Ok(())
}

/// Runs `f` with the GIL released on the memory of the caller's `out` array (checked by
/// [`checked_out`]) or, without one, of a fresh array (as [`fill_output`]); returns
/// that array. `out` may not share memory with an input the caller holds borrowed (the
/// borrow check refuses it with an `InvalidParameterError`): the estimators read their
/// input while they write. On error the contents of `out` are unspecified.
pub fn fill_output_or<'py>(
    py: Python<'py>,
    n: usize,
    out: Option<&Bound<'py, PyAny>>,
    f: impl FnOnce(&mut [f64]) -> entroseg_core::Result<()> + Send,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let Some(out) = out else {
        return crate::error::core(fill_output(py, n, f));
    };
    let array = checked_out(out, n)?;
    {
        let mut view = array.try_readwrite().map_err(|e| match e {
            numpy::BorrowError::NotWriteable => InvalidParameterError::new_err("out is read-only"),
            _ => InvalidParameterError::new_err(
                "out shares memory with the input x; pass a separate array",
            ),
        })?;
        let slice = view.as_slice_mut()?;
        crate::error::core(py.detach(|| f(slice)))?;
    }
    Ok(array)
}

/// Two float64 arrays (entropy and surprisal).
pub type ArrayPair<'py> = (Bound<'py, PyArray1<f64>>, Bound<'py, PyArray1<f64>>);
