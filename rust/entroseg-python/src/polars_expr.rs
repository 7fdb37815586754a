//! The Polars surface: compiled expression plugins behind `pl.Expr.entroseg`
//! (registered in `python/entroseg/polars.py`).
//!
//! Polars calls each function with one whole series: the column, or one group under
//! `.over(key)` / `group_by().agg(...)`, so every group starts from a fresh estimator
//! (the Python side registers them with `is_elementwise=False`, which keeps Polars from
//! splitting a group into pieces). Each function converts the series, runs the same core
//! path as the numpy function, and converts back; there is no computation here.
//!
//! Missing values: in float inputs a null counts as NaN, so `nan_policy` decides
//! (`"raise"` names the row, `"propagate"` gives no value for the windows holding it);
//! symbol inputs cannot be missing. In outputs, null stands where the numpy function
//! gives NaN (incomplete windows, windows holding a NaN), as Polars' own rolling
//! functions do, so `drop_nulls`, `fill_null` and aggregations behave as Polars users
//! expect. Plugins run on Polars' threads without the GIL: errors are Polars errors
//! carrying the core's message; `_check_expr_kwargs` validates the options with typed
//! Python exceptions when the expression is built.

use std::borrow::Cow;

use crate::changepoint::{stop_rule, CostArgs};
use crate::convert::{try_count, OptionError};
use entroseg_core::estimate::conditional::{self, ConditionalEstimator, ConditionalOptions};
use entroseg_core::estimate::context_model::{self, ContextModel, NextSymbolOptions};
use entroseg_core::estimate::permutation::{self, PermutationOptions, Statistic};
use entroseg_core::estimate::quantize::{Quantizer, MAX_BINS};
use entroseg_core::estimate::NanPolicy;
use entroseg_core::plan::changepoint::{change_points, ChangePointOptions, Stop, SHORT_SERIES};
use entroseg_core::plan::merge::{merge_plan, Features, MergeOptions};
use entroseg_core::segment::batch::segment_channels;
use entroseg_core::segment::rules::Segment;
use entroseg_core::segment::spec::SpecOptions;
use entroseg_core::ErrorKind;
use entroseg_core::{Channels, Samples};
use polars::prelude::*;
use pyo3::prelude::*;
use pyo3_polars::derive::polars_expr;
use pyo3_polars::export::polars_arrow::bitmap::Bitmap;
use serde::Deserialize;

// ---- errors -----------------------------------------------------------------------

fn compute_error(function: &str, message: &str) -> PolarsError {
    PolarsError::ComputeError(format!("entroseg.{function}: {message}").into())
}

/// Converts option and core errors into Polars errors that name the expression.
trait OrPolars<T> {
    fn or_polars(self, function: &str) -> PolarsResult<T>;
}

impl<T> OrPolars<T> for Result<T, OptionError> {
    fn or_polars(self, function: &str) -> PolarsResult<T> {
        self.map_err(|e| compute_error(function, e.message()))
    }
}

impl<T> OrPolars<T> for entroseg_core::Result<T> {
    fn or_polars(self, function: &str) -> PolarsResult<T> {
        self.map_err(|e| compute_error(function, e.message()))
    }
}

// ---- intake -------------------------------------------------------------------------

/// The series as float64 samples: borrowed when it already is one null-free float64
/// chunk, otherwise converted once (integers widen exactly up to 2^53; nulls become NaN
/// after the `nan_policy="raise"` check has named the first one).
fn float_values<'a>(
    s: &'a Series,
    function: &str,
    policy: NanPolicy,
) -> PolarsResult<Cow<'a, [f64]>> {
    if !s.dtype().is_primitive_numeric() {
        return Err(compute_error(
            function,
            &format!(
                "values{} must be numeric (float or integer), got {}",
                column_label(s),
                s.dtype()
            ),
        ));
    }
    if s.null_count() > 0 && policy == NanPolicy::Raise {
        let row = first_null(s);
        return Err(compute_error(
            function,
            &format!(
                "null at row {row} of the group{}; a null counts as NaN: pass \
                 nan_policy='propagate' to get no value for the windows that hold it, or \
                 fill or drop the nulls first",
                column_label(s)
            ),
        ));
    }
    if let Ok(ca) = s.f64() {
        if ca.null_count() == 0 && ca.chunks().len() == 1 {
            return Ok(Cow::Borrowed(ca.cont_slice()?));
        }
    }
    let cast = s.cast(&DataType::Float64)?;
    Ok(Cow::Owned(
        cast.f64()?.iter().map(|v| v.unwrap_or(f64::NAN)).collect(),
    ))
}

/// ` (column "x")`, or nothing: in a group Polars may pass the values unnamed.
fn column_label(s: &Series) -> String {
    match s.name().as_str() {
        "" => String::new(),
        name => format!(" (column {name:?})"),
    }
}

/// Row of the first null (the caller knows there is one).
fn first_null(s: &Series) -> usize {
    let nulls = s.is_null();
    let row = nulls.iter().position(|v| v == Some(true)).unwrap_or(0);
    row
}

/// Symbols of a symbol stream, in the narrowest width the core takes.
enum Symbols<'a> {
    U8(Cow<'a, [u8]>),
    U16(Cow<'a, [u16]>),
    U32(Vec<u32>),
}

impl Symbols<'_> {
    /// The core's view of the symbols.
    fn samples(&self) -> Samples<'_> {
        match self {
            Symbols::U8(s) => Samples::U8(s),
            Symbols::U16(s) => Samples::U16(s),
            Symbols::U32(s) => Samples::U32(s),
        }
    }
}

/// Borrows a single null-free chunk, or copies the values out.
fn unsigned_values<'a, T>(ca: &'a ChunkedArray<T>) -> PolarsResult<Cow<'a, [T::Native]>>
where
    T: PolarsNumericType,
{
    if ca.chunks().len() == 1 {
        Ok(Cow::Borrowed(ca.cont_slice()?))
    } else {
        Ok(Cow::Owned(ca.into_no_null_iter().collect()))
    }
}

/// The series as symbols `0..alphabet_size`: any integer dtype without nulls or
/// negative values (uint8 and uint16 columns are read in place).
fn symbol_values<'a>(s: &'a Series, function: &str) -> PolarsResult<Symbols<'a>> {
    let name = column_label(s);
    if !s.dtype().is_integer() {
        return Err(compute_error(
            function,
            &format!(
                "values{name} must be integer symbols 0..alphabet_size, got {} (quantize \
                 a real series first, e.g. with .entroseg.quantize())",
                s.dtype()
            ),
        ));
    }
    if s.null_count() > 0 {
        let row = first_null(s);
        return Err(compute_error(
            function,
            &format!(
                "null at row {row} of the group{name}; symbols cannot be missing: fill or \
                 drop the nulls first"
            ),
        ));
    }
    match s.dtype() {
        DataType::UInt8 => return Ok(Symbols::U8(unsigned_values(s.u8()?)?)),
        DataType::UInt16 => return Ok(Symbols::U16(unsigned_values(s.u16()?)?)),
        _ => {}
    }
    // Other widths: check the range once while narrowing to u32.
    let wide = s.cast(&DataType::Int64)?;
    let mut out = Vec::with_capacity(s.len());
    for (row, v) in wide.i64()?.into_no_null_iter().enumerate() {
        match u32::try_from(v) {
            Ok(v) => out.push(v),
            Err(_) => {
                return Err(compute_error(
                    function,
                    &format!(
                        "symbol {v} at row {row} of the group{name} is outside \
                         0..alphabet_size"
                    ),
                ))
            }
        }
    }
    Ok(Symbols::U32(out))
}

// ---- outputs ------------------------------------------------------------------------

/// A float64 column with null where the core wrote NaN.
fn float_output(name: PlSmallStr, values: Vec<f64>) -> Series {
    if values.iter().any(|v| v.is_nan()) {
        let validity: Bitmap = values.iter().map(|v| !v.is_nan()).collect();
        Float64Chunked::from_vec_validity(name, values, Some(validity)).into_series()
    } else {
        Float64Chunked::from_vec(name, values).into_series()
    }
}

/// One float (or null) for the group.
fn scalar_output(name: PlSmallStr, value: Option<f64>) -> Series {
    let value = value.filter(|v| !v.is_nan());
    Float64Chunked::from_iter_options(name, std::iter::once(value)).into_series()
}

/// A whole-series statistic: null for a group too short to hold one pattern (the numpy
/// function raises EmptyInputError for such an input; in a table, one short group
/// should not fail the whole query).
fn whole_series_output(
    name: PlSmallStr,
    function: &str,
    value: entroseg_core::Result<f64>,
) -> PolarsResult<Series> {
    match value {
        Ok(v) => Ok(scalar_output(name, Some(v))),
        Err(e) if e.kind() == ErrorKind::EmptyInput => Ok(scalar_output(name, None)),
        Err(e) => Err(compute_error(function, e.message())),
    }
}

// ---- permutation entropy and complexity -------------------------------------------

#[derive(Deserialize)]
struct PermutationEntropyKwargs {
    order: i64,
    delay: i64,
    window: Option<i64>,
    normalize: bool,
    weighted: bool,
    nan_policy: String,
}

impl PermutationEntropyKwargs {
    fn options(&self, statistic: Statistic) -> Result<PermutationOptions, OptionError> {
        let o = PermutationOptions {
            order: entroseg_core::segment::spec::order(self.order)?,
            delay: try_count(self.delay, "delay", 1)?,
            window: self.window.map(|w| try_count(w, "window", 1)).transpose()?,
            normalize: self.normalize,
            weighted: self.weighted,
            statistic,
            nan_policy: NanPolicy::parse(&self.nan_policy)?,
        };
        permutation::PermutationEstimator::new(o)?;
        Ok(o)
    }
}

#[derive(Deserialize)]
struct StatisticalComplexityKwargs {
    order: i64,
    delay: i64,
    window: Option<i64>,
    nan_policy: String,
}

impl StatisticalComplexityKwargs {
    fn options(&self) -> Result<PermutationOptions, OptionError> {
        PermutationEntropyKwargs {
            order: self.order,
            delay: self.delay,
            window: self.window,
            normalize: true,
            weighted: false,
            nan_policy: self.nan_policy.clone(),
        }
        .options(Statistic::Complexity)
    }
}

fn run_permutation(s: &Series, function: &str, o: PermutationOptions) -> PolarsResult<Series> {
    let xs = float_values(s, function, o.nan_policy)?;
    let name = s.name().clone();
    if o.window.is_some() {
        let mut out = vec![0.0; xs.len()];
        let mut est = permutation::PermutationEstimator::new(o).or_polars(function)?;
        est.update(&xs, &mut out).or_polars(function)?;
        Ok(float_output(name, out))
    } else {
        whole_series_output(name, function, permutation::whole_series(&xs, o))
    }
}

#[polars_expr(output_type=Float64)]
fn permutation_entropy(
    inputs: &[Series],
    kwargs: PermutationEntropyKwargs,
) -> PolarsResult<Series> {
    const NAME: &str = "permutation_entropy";
    let o = kwargs.options(Statistic::Entropy).or_polars(NAME)?;
    run_permutation(&inputs[0], NAME, o)
}

#[polars_expr(output_type=Float64)]
fn statistical_complexity(
    inputs: &[Series],
    kwargs: StatisticalComplexityKwargs,
) -> PolarsResult<Series> {
    const NAME: &str = "statistical_complexity";
    let o = kwargs.options().or_polars(NAME)?;
    run_permutation(&inputs[0], NAME, o)
}

// ---- symbol streams -----------------------------------------------------------------

/// The alphabet: given, or `max + 1` of this group as the numpy functions infer it.
fn alphabet(given: Option<i64>, symbols: &Symbols<'_>, limit: usize) -> Result<usize, OptionError> {
    match given {
        Some(a) => try_count(a, "alphabet_size", 1),
        None => Ok(symbols.samples().inferred_alphabet(limit)?),
    }
}

#[derive(Deserialize)]
struct ConditionalEntropyKwargs {
    context: i64,
    window: Option<i64>,
    alphabet_size: Option<i64>,
    normalize: bool,
}

impl ConditionalEntropyKwargs {
    fn options(&self, alphabet_size: usize) -> Result<ConditionalOptions, OptionError> {
        let o = ConditionalOptions {
            context: try_count(self.context, "context", 0)?,
            alphabet_size,
            window: self.window.map(|w| try_count(w, "window", 1)).transpose()?,
            normalize: self.normalize,
            lag: 1,
        };
        ConditionalEstimator::new(o)?;
        Ok(o)
    }

    fn check(&self) -> Result<(), OptionError> {
        let a = match self.alphabet_size {
            Some(a) => try_count(a, "alphabet_size", 1)?,
            None => conditional::MAX_ALPHABET,
        };
        self.options(a).map(|_| ())
    }
}

#[polars_expr(output_type=Float64)]
fn conditional_entropy(
    inputs: &[Series],
    kwargs: ConditionalEntropyKwargs,
) -> PolarsResult<Series> {
    const NAME: &str = "conditional_entropy";
    let s = &inputs[0];
    let syms = symbol_values(s, NAME)?;
    let a = alphabet(kwargs.alphabet_size, &syms, conditional::MAX_ALPHABET).or_polars(NAME)?;
    let o = kwargs.options(a).or_polars(NAME)?;
    let name = s.name().clone();
    macro_rules! run {
        ($x:expr) => {{
            let x = &$x[..];
            if o.window.is_some() {
                let mut out = vec![0.0; x.len()];
                let mut est = ConditionalEstimator::new(o).or_polars(NAME)?;
                est.update(x, &mut out).or_polars(NAME)?;
                Ok(float_output(name, out))
            } else {
                whole_series_output(name, NAME, conditional::whole_series(x, o))
            }
        }};
    }
    match syms {
        Symbols::U8(x) => run!(x),
        Symbols::U16(x) => run!(x),
        Symbols::U32(x) => run!(x),
    }
}

#[derive(Deserialize)]
struct NextSymbolEntropyKwargs {
    context: i64,
    alphabet_size: Option<i64>,
    alpha: f64,
    min_count: i64,
    reset_symbol: Option<i64>,
    normalize: bool,
    statistic: String,
}

impl NextSymbolEntropyKwargs {
    /// The options, and whether the surprisal (not the entropy) is wanted.
    fn options(&self, alphabet_size: usize) -> Result<(NextSymbolOptions, bool), OptionError> {
        let surprisal = match self.statistic.as_str() {
            "entropy" => false,
            "surprisal" => true,
            other => {
                return Err(OptionError::parameter(format!(
                    "statistic must be 'entropy' or 'surprisal', got {other:?}"
                )))
            }
        };
        let o = NextSymbolOptions::from_values(
            ("context", self.context),
            alphabet_size,
            self.alpha,
            self.min_count,
            self.reset_symbol,
            self.normalize,
        )?;
        Ok((o, surprisal))
    }

    fn check(&self) -> Result<(), OptionError> {
        let a = match self.alphabet_size {
            Some(a) => try_count(a, "alphabet_size", 1)?,
            None => context_model::MAX_ALPHABET,
        };
        self.options(a).map(|_| ())
    }
}

#[polars_expr(output_type=Float64)]
fn next_symbol_entropy(inputs: &[Series], kwargs: NextSymbolEntropyKwargs) -> PolarsResult<Series> {
    const NAME: &str = "next_symbol_entropy";
    let s = &inputs[0];
    let syms = symbol_values(s, NAME)?;
    let a = alphabet(kwargs.alphabet_size, &syms, context_model::MAX_ALPHABET).or_polars(NAME)?;
    let (o, want_surprisal) = kwargs.options(a).or_polars(NAME)?;
    let mut model = ContextModel::new(o).or_polars(NAME)?;
    let n = s.len();
    let (mut entropy, mut surprisal) = (vec![0.0; n], vec![0.0; n]);
    match &syms {
        Symbols::U8(x) => model.update(&x[..], &mut entropy, &mut surprisal),
        Symbols::U16(x) => model.update(&x[..], &mut entropy, &mut surprisal),
        Symbols::U32(x) => model.update(&x[..], &mut entropy, &mut surprisal),
    }
    .or_polars(NAME)?;
    let out = if want_surprisal { surprisal } else { entropy };
    Ok(float_output(s.name().clone(), out))
}

// ---- segmentation -------------------------------------------------------------------

/// The group's segments, by the same one-shot path as `entroseg.segment`: one input is
/// a 1-D series, several are the channels of one multichannel series (one boundary set
/// for all, as `entroseg.segment` of the (n, c) array).
fn segments_of(
    inputs: &[Series],
    function: &str,
    kwargs: &SpecOptions,
) -> PolarsResult<Vec<Segment>> {
    let spec = kwargs.build().or_polars(function)?;
    let s = &inputs[0];
    if let Some(other) = inputs.iter().find(|c| c.len() != s.len()) {
        return Err(compute_error(
            function,
            &format!(
                "every channel needs the same number of rows: {}{} has {}, {}{} has {}",
                "the first",
                column_label(s),
                s.len(),
                "another",
                column_label(other),
                other.len()
            ),
        ));
    }
    if s.is_empty() {
        return Ok(Vec::new());
    }
    if spec.takes_symbols() {
        let syms = inputs
            .iter()
            .map(|c| symbol_values(c, function))
            .collect::<PolarsResult<Vec<_>>>()?;
        let channels = Channels::new(syms.iter().map(Symbols::samples).collect());
        segment_channels(&channels.or_polars(function)?, &spec).or_polars(function)
    } else {
        let policy = NanPolicy::parse(&kwargs.nan_policy).or_polars(function)?;
        let xs = inputs
            .iter()
            .map(|c| float_values(c, function, policy))
            .collect::<PolarsResult<Vec<_>>>()?;
        let channels = Channels::new(xs.iter().map(|x| Samples::Values(x)).collect());
        segment_channels(&channels.or_polars(function)?, &spec).or_polars(function)
    }
}

#[polars_expr(output_type=UInt32)]
fn segment_id(inputs: &[Series], kwargs: SpecOptions) -> PolarsResult<Series> {
    const NAME: &str = "segment_id";
    let s = &inputs[0];
    let segments = segments_of(inputs, NAME, &kwargs)?;
    if segments.len() > u32::MAX as usize {
        return Err(compute_error(
            NAME,
            &format!("{} segments do not fit uint32 ids", segments.len()),
        ));
    }
    let mut ids = Vec::with_capacity(s.len());
    for (i, seg) in segments.iter().enumerate() {
        ids.extend(std::iter::repeat_n(i as u32, seg.len as usize));
    }
    Ok(UInt32Chunked::from_vec(s.name().clone(), ids).into_series())
}

#[polars_expr(output_type=Boolean)]
fn is_boundary(inputs: &[Series], kwargs: SpecOptions) -> PolarsResult<Series> {
    const NAME: &str = "is_boundary";
    let s = &inputs[0];
    let segments = segments_of(inputs, NAME, &kwargs)?;
    let mut starts = vec![false; s.len()];
    for seg in &segments {
        starts[seg.start as usize] = true;
    }
    Ok(BooleanChunked::from_slice(s.name().clone(), &starts).into_series())
}

// ---- change points ------------------------------------------------------------------

#[derive(Deserialize)]
struct RegimeIdKwargs {
    #[serde(flatten)]
    cost: CostArgs,
    n_bkps: Option<i64>,
    pen: Option<f64>,
}

impl RegimeIdKwargs {
    /// The options of `entroseg.change_points` for a group of `n` rows.
    fn options(&self, n: usize) -> Result<ChangePointOptions, OptionError> {
        let mut options = self.cost.options(n, Stop::Count(0))?;
        options.stop = stop_rule(self.n_bkps, self.pen, n, &options)?;
        options.check()?;
        Ok(options)
    }
}

/// Index of each row's regime within its group, by `entroseg.change_points` of the
/// group (the offline search: a group is a whole series).
#[polars_expr(output_type=UInt32)]
fn regime_id(inputs: &[Series], kwargs: RegimeIdKwargs) -> PolarsResult<Series> {
    const NAME: &str = "regime_id";
    let s = &inputs[0];
    // Nulls become NaN, which the search refuses naming the row.
    let xs = float_values(s, NAME, NanPolicy::Propagate)?;
    let options = kwargs.options(xs.len()).or_polars(NAME)?;
    let mut ids = Vec::with_capacity(xs.len());
    if !xs.is_empty() {
        let mut start = 0;
        for (i, end) in change_points(&xs, None, &options)
            .or_polars(NAME)?
            .into_iter()
            .enumerate()
        {
            ids.extend(std::iter::repeat_n(i as u32, end - start));
            start = end;
        }
    }
    Ok(UInt32Chunked::from_vec(s.name().clone(), ids).into_series())
}

// ---- merge groups --------------------------------------------------------------------

#[derive(Deserialize)]
struct MergeGroupKwargs {
    level: i64,
    block: Option<i64>,
    window: i64,
    max_size: Option<i64>,
    schedule: String,
    r: Option<i64>,
    inflect: f64,
    counts: Option<Vec<i64>>,
    ratio: Option<f64>,
    threshold: Option<f64>,
    momentum: f64,
    levels: Option<i64>,
}

impl MergeGroupKwargs {
    /// The plan's options and the level to report (negative counts from the last).
    fn options(&self) -> Result<(MergeOptions, usize), OptionError> {
        let schedule = crate::merge::parse_schedule(
            &self.schedule,
            self.r,
            self.inflect,
            self.counts.clone(),
            self.ratio,
            self.threshold,
            self.momentum,
            self.levels,
        )?;
        let n = schedule.levels() as i64;
        let level = if self.level < 0 {
            n + self.level
        } else {
            self.level
        };
        if !(0..n).contains(&level) {
            return Err(OptionError::parameter(format!(
                "level must be in -{n}..{n} for a plan of {n} levels, got {}",
                self.level
            )));
        }
        let options = MergeOptions {
            window: try_count(self.window, "window", 2)?,
            max_size: self.max_size,
            schedule,
            strict: false,
            block: self.block.map(|b| try_count(b, "block", 2)).transpose()?,
        };
        Ok((options, level as usize))
    }
}

/// Each row's group at one level of the merge plan of its group's rows (one unit per
/// row, profile similarity over the values), as `entroseg.merge_plan(profile=rows)`.
#[polars_expr(output_type=UInt32)]
fn merge_group(inputs: &[Series], kwargs: MergeGroupKwargs) -> PolarsResult<Series> {
    const NAME: &str = "merge_group";
    let s = &inputs[0];
    let (options, level) = kwargs.options().or_polars(NAME)?;
    let xs = float_values(s, NAME, NanPolicy::Raise)?;
    let ones = vec![1i64; xs.len()];
    let features = Features::Profile {
        values: &xs,
        columns: 1,
        unit_lengths: &ones,
    };
    let plan = merge_plan(&[0, xs.len() as i64], None, features, &options).or_polars(NAME)?;
    let ids: Vec<u32> = plan.levels[level]
        .source
        .iter()
        .map(|&g| g as u32)
        .collect();
    Ok(UInt32Chunked::from_vec(s.name().clone(), ids).into_series())
}

// ---- quantize -----------------------------------------------------------------------

#[derive(Deserialize)]
struct QuantizeKwargs {
    method: String,
    bins: i64,
    low: Option<f64>,
    high: Option<f64>,
    limit: f64,
}

impl QuantizeKwargs {
    fn check(&self) -> Result<usize, OptionError> {
        if self.bins < 1 || self.bins > MAX_BINS as i64 {
            return Err(OptionError::parameter(format!(
                "bins must be in 1..={MAX_BINS}, got {}",
                self.bins
            )));
        }
        match self.method.as_str() {
            "uniform" => {}
            "mean_scale" | "quantile" => {
                if self.low.is_some() || self.high.is_some() {
                    return Err(OptionError::parameter(format!(
                        "low/high apply to method='uniform' only, not {:?}",
                        self.method
                    )));
                }
            }
            other => {
                return Err(OptionError::parameter(format!(
                    "method must be 'uniform', 'mean_scale' or 'quantile', got {other:?}"
                )))
            }
        }
        Ok(self.bins as usize)
    }
}

#[polars_expr(output_type=UInt8)]
fn quantize(inputs: &[Series], kwargs: QuantizeKwargs) -> PolarsResult<Series> {
    const NAME: &str = "quantize";
    let s = &inputs[0];
    let bins = kwargs.check().or_polars(NAME)?;
    let name = s.name().clone();
    if s.is_empty() {
        return Ok(UInt8Chunked::from_vec(name, Vec::new()).into_series());
    }
    // A null has no symbol: it stays null, and the fit (range, scale, quantiles) uses the
    // values that are present, as numpy's function fits on the values it is given.
    let validity: Option<Bitmap> = (s.null_count() > 0).then(|| {
        let present = s.is_not_null();
        present.iter().map(|v| v == Some(true)).collect()
    });
    let xs = float_values(s, NAME, NanPolicy::Propagate)?;
    let present: Cow<'_, [f64]> = match &validity {
        None => Cow::Borrowed(&xs[..]),
        Some(mask) => Cow::Owned(
            xs.iter()
                .zip(mask.iter())
                .filter_map(|(&v, ok)| ok.then_some(v))
                .collect(),
        ),
    };
    let q = match kwargs.method.as_str() {
        "uniform" => Quantizer::uniform_fit_partial(&present, bins, kwargs.low, kwargs.high),
        "mean_scale" => Quantizer::mean_scale_fit(&present, kwargs.limit, bins),
        _ => Quantizer::quantile_fit(&present, bins),
    }
    .or_polars(NAME)?;
    let mut symbols = vec![0u8; present.len()];
    q.apply(&present, &mut symbols).or_polars(NAME)?;
    let out = match validity {
        None => UInt8Chunked::from_vec(name, symbols),
        Some(mask) => {
            // Spread the symbols back over the rows that had a value.
            let mut it = symbols.into_iter();
            let full: Vec<u8> = mask
                .iter()
                .map(|ok| if ok { it.next().unwrap_or(0) } else { 0 })
                .collect();
            UInt8Chunked::from_vec_validity(name, full, Some(mask))
        }
    };
    Ok(out.into_series())
}

// ---- option check at expression build time ----------------------------------------

/// Checks an expression's options (its kwargs, pickled as Polars pickles them) when the
/// expression is built: the same parsing and validation as the plugin, raising the
/// typed exceptions of the numpy surface instead of a Polars error at collect time.
#[pyfunction]
pub fn _check_expr_kwargs(function: &str, kwargs: &[u8]) -> PyResult<()> {
    fn parse<'a, T: Deserialize<'a>>(kwargs: &'a [u8]) -> PyResult<T> {
        pyo3_polars::derive::_parse_kwargs(kwargs)
            .map_err(|e| pyo3::exceptions::PyTypeError::new_err(format!("bad options: {e}")))
    }
    match function {
        "permutation_entropy" => {
            parse::<PermutationEntropyKwargs>(kwargs)?.options(Statistic::Entropy)?;
        }
        "statistical_complexity" => {
            parse::<StatisticalComplexityKwargs>(kwargs)?.options()?;
        }
        "conditional_entropy" => parse::<ConditionalEntropyKwargs>(kwargs)?.check()?,
        "next_symbol_entropy" => parse::<NextSymbolEntropyKwargs>(kwargs)?.check()?,
        "quantize" => {
            parse::<QuantizeKwargs>(kwargs)?.check()?;
        }
        "regime_id" => {
            let k = parse::<RegimeIdKwargs>(kwargs)?;
            // Both costs `auto` can pick.
            k.options(SHORT_SERIES)?;
            k.options(0)?;
        }
        "merge_group" => {
            parse::<MergeGroupKwargs>(kwargs)?.options()?;
        }
        other => {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "no expression named {other:?}"
            )))
        }
    }
    Ok(())
}
