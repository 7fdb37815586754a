//! The merge-planning surface: merge plans and per-segment rates. Each function converts
//! its arguments, releases the GIL around the core call and returns plain arrays;
//! `python/entroseg/merge.py` wraps them in the public `MergePlan` / `Rates` values.

use crate::convert::{count_option, refuse_masked, try_count, OptionError};
use crate::error::{core, InvalidParameterError};
use entroseg_core::plan::merge::{
    assign_rates, merge_plan, tome_schedule, Features, MergeLevel, MergeOptions, MergePlanner,
    Schedule, Similarity, StreamPlan,
};
use numpy::{PyArray1, PyArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

/// A C-contiguous array of `dtype` with 1 or 2 dimensions (borrowed when it already is
/// one); returns it with its number of columns (1 for a 1-D array).
fn real_matrix<'py>(
    obj: &Bound<'py, PyAny>,
    name: &str,
    dtype: &str,
    allow_1d: bool,
) -> PyResult<(Bound<'py, PyAny>, usize)> {
    let np = obj.py().import("numpy")?;
    let arr = np.call_method1("asarray", (refuse_masked(obj, name)?,))?;
    let kind: String = arr.getattr("dtype")?.getattr("kind")?.extract()?;
    if !matches!(kind.as_str(), "f" | "i" | "u") {
        return Err(PyTypeError::new_err(format!(
            "{name} must have a real numeric dtype, got dtype {}",
            arr.getattr("dtype")?.str()?
        )));
    }
    let shape: Vec<usize> = arr.getattr("shape")?.extract()?;
    let columns = match (shape.len(), allow_1d) {
        (2, _) => shape[1],
        (1, true) => 1,
        _ => {
            return Err(PyValueError::new_err(format!(
                "{name} must be a {} array, got shape {shape:?}",
                if allow_1d {
                    "1-D or 2-D"
                } else {
                    "2-D [units, dim]"
                }
            )))
        }
    };
    let out = np.call_method1("ascontiguousarray", (arr, dtype))?;
    Ok((out, columns))
}

/// The units of a numpy input as the planner reads them: rows of `values` as vectors
/// (`cosine`), or a per-sample profile with each unit's length (default 1 sample per
/// unit), converted once and borrowed while `run` plans.
fn with_features<'py, T>(
    values: &Bound<'py, PyAny>,
    unit_lengths: Option<&Bound<'py, PyAny>>,
    cosine: bool,
    run: impl FnOnce(Features<'_>) -> PyResult<T>,
) -> PyResult<T> {
    if cosine {
        let (arr, dim) = real_matrix(values, "vectors", "float32", false)?;
        let arr = arr.cast_into::<numpy::PyArray2<f32>>()?;
        let ro = arr.readonly();
        return run(Features::Cosine {
            vectors: ro.as_slice()?,
            dim,
        });
    }
    let (arr, columns) = real_matrix(values, "profile", "float64", true)?;
    let arr = arr
        .call_method1("reshape", (-1i64,))?
        .cast_into::<PyArray1<f64>>()?;
    let ro = arr.readonly();
    let values = ro.as_slice()?;
    let Some(lengths) = unit_lengths else {
        // One sample per unit: lengths of 1 from a buffer kept per thread, not an array
        // allocated (and its pages faulted in) at every push.
        let n = values.len() / columns.max(1);
        let ones = ones_buffer(n);
        let out = run(Features::Profile {
            values,
            columns,
            unit_lengths: &ones[..n],
        });
        keep_ones(ones);
        return out;
    };
    let lengths = int_array(lengths, "unit_lengths")?;
    let lengths_ro = lengths.readonly();
    run(Features::Profile {
        values,
        columns,
        unit_lengths: lengths_ro.as_slice()?,
    })
}

thread_local! {
    /// Unit lengths of 1 kept between calls on this thread (at most [`ONES_KEPT`]).
    static ONES: std::cell::RefCell<Vec<i64>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The most unit lengths of 1 a thread keeps between calls (8 MiB): a stream's batches
/// reuse them; a one-shot plan of a longer profile allocates its own, which is freed
/// with it rather than held for the thread's life.
const ONES_KEPT: usize = 1 << 20;

/// At least `n` unit lengths of 1: the thread's kept buffer (taken, so no borrow is held
/// while planning), grown if needed.
fn ones_buffer(n: usize) -> Vec<i64> {
    let mut ones = ONES.with_borrow_mut(std::mem::take);
    if ones.len() < n {
        ones.resize(n, 1);
    }
    ones
}

/// Gives a buffer of [`ones_buffer`] back to the thread, unless it outgrew [`ONES_KEPT`].
fn keep_ones(ones: Vec<i64>) {
    if ones.len() <= ONES_KEPT {
        ONES.with_borrow_mut(|kept| *kept = ones);
    }
}

fn int_array<'py>(obj: &Bound<'py, PyAny>, name: &str) -> PyResult<Bound<'py, PyArray1<i64>>> {
    let np = obj.py().import("numpy")?;
    let arr = np.call_method1("asarray", (refuse_masked(obj, name)?,))?;
    let kind: String = arr.getattr("dtype")?.getattr("kind")?.extract()?;
    let ndim: usize = arr.getattr("ndim")?.extract()?;
    if ndim != 1 || !matches!(kind.as_str(), "i" | "u") {
        return Err(PyTypeError::new_err(format!(
            "{name} must be a 1-D integer array, got dtype {} with {ndim} dimension(s)",
            arr.getattr("dtype")?.str()?
        )));
    }
    Ok(np
        .call_method1("ascontiguousarray", (arr, "int64"))?
        .cast_into()?)
}

fn float_vector<'py>(obj: &Bound<'py, PyAny>, name: &str) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let (arr, _) = real_matrix(obj, name, "float64", true)?;
    let ndim: usize = arr.getattr("ndim")?.extract()?;
    if ndim != 1 {
        return Err(PyValueError::new_err(format!("{name} must be 1-D")));
    }
    Ok(arr.cast_into()?)
}

/// The schedule from the public function's parsed arguments (shared with the Polars
/// expression, hence an `OptionError`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn parse_schedule(
    schedule: &str,
    r: Option<i64>,
    inflect: f64,
    counts: Option<Vec<i64>>,
    ratio: Option<f64>,
    threshold: Option<f64>,
    momentum: f64,
    levels: Option<i64>,
) -> Result<Schedule, OptionError> {
    let need_levels = |what: &str| -> Result<usize, OptionError> {
        let l = levels
            .ok_or_else(|| OptionError::parameter(format!("schedule {what:?} needs levels")))?;
        try_count(l, "levels", 1)
    };
    Ok(match schedule {
        "r" => {
            let r = try_count(
                r.ok_or_else(|| OptionError::parameter("schedule 'r' needs r"))?,
                "r",
                0,
            )?;
            Schedule::Counts(tome_schedule(r, inflect, need_levels("r")?)?)
        }
        "list" => {
            let counts = counts.ok_or_else(|| OptionError::parameter("schedule 'list' needs r"))?;
            if counts.is_empty() {
                return Err(OptionError::parameter(
                    "r as a list needs at least one level, got an empty list",
                ));
            }
            let mut c = counts
                .iter()
                .enumerate()
                .map(|(i, &v)| try_count(v, &format!("r[{i}]"), 0))
                .collect::<Result<Vec<usize>, OptionError>>()?;
            if let Some(l) = levels {
                let l = try_count(l, "levels", 1)?;
                if l < c.len() {
                    return Err(OptionError::parameter(format!(
                        "r lists {} levels but levels = {l}",
                        c.len()
                    )));
                }
                // As ToMe: a shorter list is padded with zeros.
                c.resize(l, 0);
            }
            Schedule::Counts(c)
        }
        "ratio" => Schedule::Ratio {
            ratio: ratio.ok_or_else(|| OptionError::parameter("schedule 'ratio' needs ratio"))?,
            levels: need_levels("ratio")?,
        },
        "threshold" => Schedule::Threshold {
            threshold: threshold
                .ok_or_else(|| OptionError::parameter("schedule 'threshold' needs threshold"))?,
            levels: need_levels("threshold")?,
        },
        "ema" => Schedule::Ema {
            initial: threshold,
            momentum,
            levels: need_levels("ema")?,
        },
        other => {
            return Err(OptionError::parameter(format!(
                "schedule must be 'r', 'ratio', 'threshold' or 'ema', got '{other}'"
            )))
        }
    })
}

type LevelArrays<'py> = Bound<'py, PyTuple>;

/// A tuple of numpy arrays made from the vectors, in order.
macro_rules! array_tuple {
    ($py:expr; $($v:expr),+ $(,)?) => {
        PyTuple::new($py, [$(PyArray1::from_vec($py, $v).into_any()),+])
    };
}

fn level_arrays<'py>(py: Python<'py>, level: MergeLevel) -> PyResult<LevelArrays<'py>> {
    #[rustfmt::skip]
    let arrays = array_tuple!(py; level.group_ids, level.source, level.sizes, level.log_sizes,
        level.cu_seqlens, level.series_offsets, level.requested, level.achieved, level.capacity,
        level.thresholds, level.block_offsets);
    arrays
}

/// Plans merges; one tuple of arrays per level:
/// `(group_ids, source, sizes, log_sizes, cu_seqlens, series_offsets, requested,
/// achieved, capacity, thresholds, block_offsets)`. Releases the GIL.
#[pyfunction]
#[pyo3(signature = (
    series_offsets, *, vectors=None, profile=None, unit_lengths=None, weights=None,
    window=16, max_size=None, schedule="r", r=None, inflect=0.0, counts=None, ratio=None,
    threshold=None, momentum=0.9, levels=None, strict=false, block=None
))]
#[allow(clippy::too_many_arguments)]
pub fn _merge_plan<'py>(
    py: Python<'py>,
    series_offsets: &Bound<'py, PyAny>,
    vectors: Option<&Bound<'py, PyAny>>,
    profile: Option<&Bound<'py, PyAny>>,
    unit_lengths: Option<&Bound<'py, PyAny>>,
    weights: Option<&Bound<'py, PyAny>>,
    window: i64,
    max_size: Option<i64>,
    schedule: &str,
    r: Option<i64>,
    inflect: f64,
    counts: Option<Vec<i64>>,
    ratio: Option<f64>,
    threshold: Option<f64>,
    momentum: f64,
    levels: Option<i64>,
    strict: bool,
    block: Option<i64>,
) -> PyResult<Vec<LevelArrays<'py>>> {
    let options = MergeOptions {
        window: count_option(window, "window", 2)?,
        max_size,
        schedule: parse_schedule(
            schedule, r, inflect, counts, ratio, threshold, momentum, levels,
        )?,
        strict,
        block: block.map(|b| count_option(b, "block", 2)).transpose()?,
    };
    let offsets = int_array(series_offsets, "series_offsets")?;
    let offsets_ro = offsets.readonly();
    let offsets = offsets_ro.as_slice()?;
    let weights = weights.map(|w| int_array(w, "weights")).transpose()?;
    let weights_ro = weights.as_ref().map(|w| w.readonly());
    let weights = weights_ro.as_ref().map(|w| w.as_slice()).transpose()?;
    let plan = match (vectors, profile) {
        (Some(v), None) => with_features(v, None, true, |features| {
            core(py.detach(|| merge_plan(offsets, weights, features, &options)))
        })?,
        (None, Some(p)) => with_features(p, unit_lengths, false, |features| {
            core(py.detach(|| merge_plan(offsets, weights, features, &options)))
        })?,
        _ => {
            return Err(InvalidParameterError::new_err(
                "give exactly one similarity source: vectors or profile",
            ))
        }
    };
    plan.levels
        .into_iter()
        .map(|l| level_arrays(py, l))
        .collect()
}

/// Assigns keep factors to segments to meet a token budget: `(factors, kept_counts,
/// kept_indices, thresholds, budgets, kept)`. Releases the GIL.
#[pyfunction]
#[pyo3(signature = (scores, lengths, series_offsets, factors, keep_ratio, strict=false))]
pub fn _assign_rates<'py>(
    py: Python<'py>,
    scores: &Bound<'py, PyAny>,
    lengths: &Bound<'py, PyAny>,
    series_offsets: &Bound<'py, PyAny>,
    factors: Vec<i64>,
    keep_ratio: f64,
    strict: bool,
) -> PyResult<Bound<'py, PyTuple>> {
    let scores = float_vector(scores, "scores")?;
    let scores_ro = scores.readonly();
    let scores = scores_ro.as_slice()?;
    let lengths = int_array(lengths, "lengths")?;
    let lengths_ro = lengths.readonly();
    let lengths = lengths_ro.as_slice()?;
    let offsets = int_array(series_offsets, "series_offsets")?;
    let offsets_ro = offsets.readonly();
    let offsets = offsets_ro.as_slice()?;
    let rates =
        core(py.detach(|| assign_rates(scores, lengths, offsets, &factors, keep_ratio, strict)))?;
    #[rustfmt::skip]
    let arrays = array_tuple!(py; rates.factors, rates.kept_counts, rates.kept_indices,
        rates.thresholds, rates.budgets, rates.kept);
    arrays
}

/// What a streaming push returns: `(first_unit, first_groups, levels)`, the levels as
/// `_merge_plan` gives them (ids local to the part).
type StreamArrays<'py> = (u64, Vec<u64>, Vec<LevelArrays<'py>>);

fn stream_arrays(py: Python<'_>, part: StreamPlan) -> PyResult<StreamArrays<'_>> {
    let levels = part
        .plan
        .levels
        .into_iter()
        .map(|l| level_arrays(py, l))
        .collect::<PyResult<_>>()?;
    Ok((part.first_unit, part.first_groups, levels))
}

/// The streaming merge planner behind `entroseg.MergePlanner`.
#[pyclass(module = "entroseg._entroseg", name = "_MergePlanner")]
pub struct PyMergePlanner {
    inner: MergePlanner,
}

#[pymethods]
impl PyMergePlanner {
    #[new]
    #[pyo3(signature = (
        *, block, similarity="cosine", window=16, max_size=None, schedule="r", r=None,
        inflect=0.0, counts=None, ratio=None, threshold=None, momentum=0.9, levels=None,
        strict=false
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        block: i64,
        similarity: &str,
        window: i64,
        max_size: Option<i64>,
        schedule: &str,
        r: Option<i64>,
        inflect: f64,
        counts: Option<Vec<i64>>,
        ratio: Option<f64>,
        threshold: Option<f64>,
        momentum: f64,
        levels: Option<i64>,
        strict: bool,
    ) -> PyResult<Self> {
        let similarity = match similarity {
            "cosine" => Similarity::Cosine,
            "profile" => Similarity::Profile,
            other => {
                return Err(InvalidParameterError::new_err(format!(
                    "similarity must be 'cosine' or 'profile', got '{other}'"
                )))
            }
        };
        let options = MergeOptions {
            window: count_option(window, "window", 2)?,
            max_size,
            schedule: parse_schedule(
                schedule, r, inflect, counts, ratio, threshold, momentum, levels,
            )?,
            strict,
            block: Some(count_option(block, "block", 2)?),
        };
        Ok(Self {
            inner: core(MergePlanner::new(options, similarity))?,
        })
    }

    /// Feeds the next units (vectors `[n, dim]`, or profile rows with `unit_lengths`);
    /// returns the groups of the blocks that completed. Releases the GIL.
    #[pyo3(signature = (values, *, unit_lengths=None, weights=None))]
    fn push<'py>(
        &mut self,
        py: Python<'py>,
        values: &Bound<'py, PyAny>,
        unit_lengths: Option<&Bound<'py, PyAny>>,
        weights: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<StreamArrays<'py>> {
        let weights = weights.map(|w| int_array(w, "weights")).transpose()?;
        let weights_ro = weights.as_ref().map(|w| w.readonly());
        let weights = weights_ro.as_ref().map(|w| w.as_slice()).transpose()?;
        let inner = &mut self.inner;
        let part = match inner.similarity() {
            Similarity::Cosine => {
                if unit_lengths.is_some() {
                    return Err(InvalidParameterError::new_err(
                        "unit_lengths go with profile units; vectors are one row per unit",
                    ));
                }
                with_features(values, None, true, |features| {
                    core(py.detach(|| inner.push(features, weights)))
                })?
            }
            Similarity::Profile => with_features(values, unit_lengths, false, |features| {
                core(py.detach(|| inner.push(features, weights)))
            })?,
        };
        stream_arrays(py, part)
    }

    /// Closes the stream; returns the groups of the last (shorter) block.
    fn finish<'py>(&mut self, py: Python<'py>) -> PyResult<StreamArrays<'py>> {
        let part = core(self.inner.finish())?;
        stream_arrays(py, part)
    }

    /// Forgets everything seen; keeps the options.
    fn reset(&mut self) {
        self.inner.reset();
    }

    /// The state as bytes; `from_checkpoint` and pickle resume it bit-identically.
    fn checkpoint<'py>(&self, py: Python<'py>) -> Bound<'py, pyo3::types::PyBytes> {
        pyo3::types::PyBytes::new(py, &self.inner.checkpoint())
    }

    /// Rebuilds the planner from `checkpoint()` bytes.
    #[classmethod]
    fn from_checkpoint(_cls: &Bound<'_, pyo3::types::PyType>, state: &[u8]) -> PyResult<Self> {
        Ok(Self {
            inner: core(MergePlanner::restore(state))?,
        })
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        let state = slf.borrow().inner.checkpoint();
        crate::estimate_stream::reduce(slf.as_any(), state)
    }

    /// Units pushed so far.
    #[getter]
    fn units_seen(&self) -> u64 {
        self.inner.units_seen()
    }

    /// Units waiting for their block to complete.
    #[getter]
    fn pending(&self) -> usize {
        self.inner.pending()
    }

    /// Units planned together.
    #[getter]
    fn block(&self) -> usize {
        self.inner.options().block.unwrap_or(0)
    }

    /// Number of levels.
    #[getter]
    fn num_levels(&self) -> usize {
        self.inner.options().schedule.levels()
    }

    /// True after `finish()`.
    #[getter]
    fn is_finished(&self) -> bool {
        self.inner.is_finished()
    }
}

/// The output columns of `entroseg.arrow.merge_stream` over many pushes, in push order
/// then level order: `"groups"` rows `(level, group, start, length, size)`, `"units"`
/// rows `(level, unit, group)` (the unmerge index), ids stream-wide per key.
#[derive(Default)]
struct StreamRows {
    units: bool,
    level: Vec<i32>,
    a: Vec<i64>,
    b: Vec<i64>,
    c: Vec<i64>,
    d: Vec<i64>,
}

impl StreamRows {
    /// The rows of `parts`, in order, and how many each part gave. The columns are
    /// allocated once at their final length: grown row by row they would be copied at
    /// every doubling (a tenth of the Arrow step's time with 16 keys).
    fn of_parts(units: bool, parts: &[StreamPlan]) -> (Vec<usize>, Self) {
        let rows: usize = parts
            .iter()
            .flat_map(|p| &p.plan.levels)
            .map(|l| if units { l.source.len() } else { l.sizes.len() })
            .sum();
        let wide = if units { 0 } else { rows };
        let mut out = StreamRows {
            units,
            level: Vec::with_capacity(rows),
            a: Vec::with_capacity(rows),
            b: Vec::with_capacity(rows),
            c: Vec::with_capacity(wide),
            d: Vec::with_capacity(wide),
        };
        let counts = parts.iter().map(|p| out.extend(p)).collect();
        (counts, out)
    }

    /// Appends the rows of one part; returns how many.
    fn extend(&mut self, part: &StreamPlan) -> usize {
        let before = self.level.len();
        let first_unit = part.first_unit as i64;
        for (l, (level, &g0)) in part.plan.levels.iter().zip(&part.first_groups).enumerate() {
            let g0 = g0 as i64;
            if self.units {
                let k = level.source.len();
                self.level.extend(std::iter::repeat_n(l as i32, k));
                self.a.extend((0..k as i64).map(|i| first_unit + i));
                self.b.extend(level.source.iter().map(|&s| g0 + s as i64));
            } else {
                let k = level.sizes.len();
                self.level.extend(std::iter::repeat_n(l as i32, k));
                self.a.extend((0..k as i64).map(|i| g0 + i));
                self.b
                    .extend(level.cu_seqlens[..k].iter().map(|&c| first_unit + c as i64));
                self.c
                    .extend(level.cu_seqlens.windows(2).map(|w| (w[1] - w[0]) as i64));
                self.d.extend_from_slice(&level.sizes);
            }
        }
        self.level.len() - before
    }

    fn into_arrays(self, py: Python<'_>) -> PyResult<Bound<'_, PyTuple>> {
        if self.units {
            array_tuple!(py; self.level, self.a, self.b)
        } else {
            array_tuple!(py; self.level, self.a, self.b, self.c, self.d)
        }
    }
}

/// One batch of `entroseg.arrow.merge_stream`: pushes the rows of each group to its
/// planner (`planners[i]` takes rows `order[bounds[i]:bounds[i+1]]`, or that slice of
/// the batch when `order` is None; a planner may appear more than once) and returns
/// `(rows per entry, *columns)` (see `StreamRows`). `values`: the batch's profile
/// values (1-D) or vectors (`[rows, dim]`), as the planners take them.
///
/// With `codes` (one per row, `0 <= code < len(planners)`, e.g. the indices of the
/// batch's dictionary-encoded keys) instead of `bounds` and `order`, row `r` goes to
/// `planners[codes[r]]`, each planner's rows in stream order: a counting sort here
/// replaces the sort, the counts and the index slices a caller would otherwise make.
#[pyfunction]
#[pyo3(signature = (planners, values, bounds=None, *, codes=None, order=None, weights=None, units=false))]
#[allow(clippy::too_many_arguments)]
pub fn _merge_stream_push<'py>(
    py: Python<'py>,
    planners: Vec<Bound<'py, PyMergePlanner>>,
    values: &Bound<'py, PyAny>,
    bounds: Option<Vec<usize>>,
    codes: Option<&Bound<'py, PyAny>>,
    order: Option<&Bound<'py, PyAny>>,
    weights: Option<&Bound<'py, PyAny>>,
    units: bool,
) -> PyResult<(Vec<usize>, Bound<'py, PyTuple>)> {
    let codes = codes.map(|c| int_array(c, "codes")).transpose()?;
    let codes_ro = codes.as_ref().map(|c| c.readonly());
    let codes = codes_ro.as_ref().map(|c| c.as_slice()).transpose()?;
    let (bounds, sorted) = match (bounds, codes, order) {
        (Some(b), None, _) => (b, None),
        (None, Some(c), None) => {
            let (b, o) = counting_sort(c, planners.len())?;
            (b, Some(o))
        }
        _ => {
            return Err(PyValueError::new_err(
                "give bounds (and optionally order) or codes, not both",
            ))
        }
    };
    if bounds.len() != planners.len() + 1 || bounds.windows(2).any(|w| w[1] < w[0]) {
        return Err(PyValueError::new_err(
            "bounds must be non-decreasing, one more than the planners",
        ));
    }
    let cosine = match planners.first() {
        Some(p) => p.borrow().inner.similarity() == Similarity::Cosine,
        None => {
            return Ok((
                Vec::new(),
                StreamRows {
                    units,
                    ..StreamRows::default()
                }
                .into_arrays(py)?,
            ))
        }
    };
    let (arr, dim) = if cosine {
        real_matrix(values, "vectors", "float32", false)?
    } else {
        real_matrix(values, "profile", "float64", true)?
    };
    let order = order.map(|o| int_array(o, "order")).transpose()?;
    let order_ro = order.as_ref().map(|o| o.readonly());
    let order = match &sorted {
        Some(s) => Some(&s[..]),
        None => order_ro.as_ref().map(|o| o.as_slice()).transpose()?,
    };
    let weights = weights.map(|w| int_array(w, "weights")).transpose()?;
    let weights_ro = weights.as_ref().map(|w| w.readonly());
    let weights = weights_ro.as_ref().map(|w| w.as_slice()).transpose()?;
    let (f32s, f64s);
    let (vectors, profile): (&[f32], &[f64]) = if cosine {
        let a = arr.cast_into::<numpy::PyArray2<f32>>()?;
        f32s = a.readonly();
        (f32s.as_slice()?, &[])
    } else {
        let a = arr
            .call_method1("reshape", (-1i64,))?
            .cast_into::<PyArray1<f64>>()?;
        f64s = a.readonly();
        (&[], f64s.as_slice()?)
    };
    let rows = if cosine {
        vectors.len() / dim.max(1)
    } else {
        profile.len() / dim.max(1)
    };
    let last = *bounds.last().unwrap_or(&0);
    let in_range = match order {
        Some(o) => {
            last <= o.len() && last <= rows && o[..last].iter().all(|&r| (r as u64) < rows as u64)
        }
        None => last <= rows,
    };
    if !in_range
        || weights.is_some_and(|w| w.len() != rows)
        || codes.is_some_and(|c| c.len() != rows)
    {
        return Err(PyValueError::new_err(
            "bounds, order, codes and weights must index the batch's rows",
        ));
    }
    let mut parts = Vec::with_capacity(planners.len());
    // Gathered rows of one group (interleaved keys); contiguous runs are borrowed.
    let (mut gv, mut gp, mut gw): (Vec<f32>, Vec<f64>, Vec<i64>) = Default::default();
    // Unit lengths of 1 (profile rows), from the thread's buffer.
    let ones = ones_buffer(rows);
    for (planner, w) in planners.iter().zip(bounds.windows(2)) {
        let (lo, hi) = (w[0], w[1]);
        let (vs, ps, ws): (&[f32], &[f64], Option<&[i64]>) = match order {
            None => (
                vectors.get(lo * dim..hi * dim).unwrap_or(&[]),
                profile.get(lo * dim..hi * dim).unwrap_or(&[]),
                weights.map(|w| &w[lo..hi]),
            ),
            Some(o) => {
                let idx = &o[lo..hi];
                gv.clear();
                gp.clear();
                if !cosine && dim == 1 {
                    // One value per row: a gather (a slice copy per row is a `memmove`
                    // call per row, a tenth of the Arrow step's time with 16 keys).
                    gp.extend(idx.iter().map(|&r| profile[r as usize]));
                } else {
                    for &r in idx {
                        let r = r as usize;
                        if cosine {
                            gv.extend_from_slice(&vectors[r * dim..(r + 1) * dim]);
                        } else {
                            gp.extend_from_slice(&profile[r * dim..(r + 1) * dim]);
                        }
                    }
                }
                let ws = match weights {
                    Some(w) => {
                        gw.clear();
                        gw.extend(idx.iter().map(|&r| w[r as usize]));
                        Some(&gw[..])
                    }
                    None => None,
                };
                (&gv[..], &gp[..], ws)
            }
        };
        let features = if cosine {
            Features::Cosine { vectors: vs, dim }
        } else {
            Features::Profile {
                values: ps,
                columns: dim,
                unit_lengths: &ones[..hi - lo],
            }
        };
        let mut p = planner.borrow_mut();
        let inner = &mut p.inner;
        parts.push(core(py.detach(|| inner.push(features, ws)))?);
    }
    keep_ones(ones);
    let (counts, out) = StreamRows::of_parts(units, &parts);
    recycle(&planners, parts);
    Ok((counts, out.into_arrays(py)?))
}

/// Rows grouped by code, each group in stream order: `(bounds, order)` with group `c`'s
/// rows at `order[bounds[c]..bounds[c + 1]]` (`groups` codes, each in `0..groups`).
fn counting_sort(codes: &[i64], groups: usize) -> PyResult<(Vec<usize>, Vec<i64>)> {
    let mut bounds = vec![0usize; groups + 1];
    for &c in codes {
        if c < 0 || c as u64 >= groups as u64 {
            return Err(PyValueError::new_err(format!(
                "codes must lie in [0, {groups}) (one planner per code), got {c}"
            )));
        }
        bounds[c as usize + 1] += 1;
    }
    for c in 0..groups {
        bounds[c + 1] += bounds[c];
    }
    let mut next = bounds[..groups].to_vec();
    let mut order = vec![0i64; codes.len()];
    for (r, &c) in codes.iter().enumerate() {
        let slot = &mut next[c as usize];
        order[*slot] = r as i64;
        *slot += 1;
    }
    Ok((bounds, order))
}

/// `finish()` of every planner, as `_merge_stream_push` returns rows.
#[pyfunction]
#[pyo3(signature = (planners, *, units=false))]
pub fn _merge_stream_finish<'py>(
    py: Python<'py>,
    planners: Vec<Bound<'py, PyMergePlanner>>,
    units: bool,
) -> PyResult<(Vec<usize>, Bound<'py, PyTuple>)> {
    let mut parts = Vec::with_capacity(planners.len());
    for planner in &planners {
        parts.push(core(planner.borrow_mut().inner.finish())?);
    }
    let (counts, out) = StreamRows::of_parts(units, &parts);
    recycle(&planners, parts);
    Ok((counts, out.into_arrays(py)?))
}

/// Hands each part's arrays back to the planner that made it (its rows are copied out):
/// the next batch's plans reuse them instead of faulting in fresh memory.
fn recycle(planners: &[Bound<'_, PyMergePlanner>], parts: Vec<StreamPlan>) {
    for (planner, part) in planners.iter().zip(parts) {
        planner.borrow_mut().inner.recycle(part.plan);
    }
}
