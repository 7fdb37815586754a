//! What a segmentation is: a score method with its estimator options, the rules that cut
//! the score signal, and how `target_len` is calibrated. One definition for every
//! surface.
//!
//! [`SpecOptions`] is the option list, written once (the `spec_options!` table below):
//! names, types and defaults as plain values, the way callers spell them (strings for
//! modes, integers for counts). Every surface fills it: the Python bindings name by
//! name through [`SpecOptions::set`], the Polars plugin by deserialising its kwargs
//! (feature `serde`), Rust callers with struct syntax. [`SpecOptions::build`] is the one
//! parser and validator; it gives a [`SegmentSpec`], which the passes
//! ([`crate::segment::stream`], [`crate::segment::batch`], [`crate::segment::parallel`],
//! [`crate::segment::profile`]) take without validating again.
//!
//! To add a score method: add its variant to [`Method`] (and its parsing in
//! [`SpecOptions::build`], its options in the table if it has new ones), and its
//! estimator to [`crate::segment::profile`]'s score source. Nothing else lists methods.

use crate::error::{Error, ErrorKind, Result};
use crate::estimate::conditional::{self, ConditionalOptions};
use crate::estimate::context_model::{self, NextSymbolOptions};
use crate::estimate::next_value::{self, NextValueOptions};
use crate::estimate::ordinal::{MAX_ORDER, MIN_ORDER};
use crate::estimate::permutation::{PermutationOptions, Statistic};
use crate::estimate::samples::Samples;
use crate::estimate::NanPolicy;
use crate::segment::fit::Fit;
use crate::segment::rules::{BltMode, Calibration, Combine, EntropeMode, Preset, Rules};
use std::fmt;

/// BLT's default entropy threshold (its `PatcherArgs.threshold`), used by
/// `preset="blt"` when no threshold is given.
pub const BLT_DEFAULT_THRESHOLD: f64 = 1.335442066192627;

/// Default ordinal embedding dimension of the permutation method.
pub const DEFAULT_ORDER: usize = 3;
/// Default context length of the conditional-entropy method.
pub const DEFAULT_CONDITIONAL_CONTEXT: usize = 2;
/// Default context length of the next-symbol method.
pub const DEFAULT_NEXT_SYMBOL_CONTEXT: usize = 3;

/// Which score from the context model drives the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NextScore {
    /// Entropy of the predictive distribution.
    #[default]
    Entropy,
    /// Surprisal of the observed symbol.
    Surprisal,
    /// Entropy of the blend of every context length (`blend=True`).
    BlendedEntropy,
    /// Surprisal under the blend of every context length (`blend=True`).
    BlendedSurprisal,
}

impl NextScore {
    /// All variants, in the order of their checkpoint codes.
    pub const ALL: [NextScore; 4] = [
        NextScore::Entropy,
        NextScore::Surprisal,
        NextScore::BlendedEntropy,
        NextScore::BlendedSurprisal,
    ];

    /// True for the blended predictor.
    pub fn is_blended(self) -> bool {
        matches!(
            self,
            NextScore::BlendedEntropy | NextScore::BlendedSurprisal
        )
    }

    /// True for a surprisal.
    pub fn is_surprisal(self) -> bool {
        matches!(self, NextScore::Surprisal | NextScore::BlendedSurprisal)
    }
}

/// How the per-channel profiles of a multichannel input become the one score signal the
/// rules cut, position by position (channel order, left to right).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChannelMode {
    /// The sum of the channels' scores: code lengths of independent channels add, so a
    /// position's information is the sum (the default).
    #[default]
    Sum,
    /// The largest channel score: a burst in any one channel cuts, however calm the
    /// others.
    Max,
    /// Not a combination: the ordinal patterns of every channel in a window pooled into
    /// one histogram (multivariate permutation entropy; method "permutation" only).
    Pooled,
}

impl ChannelMode {
    /// The mode's name, as callers spell it.
    pub fn name(self) -> &'static str {
        match self {
            ChannelMode::Sum => "sum",
            ChannelMode::Max => "max",
            ChannelMode::Pooled => "pooled",
        }
    }

    /// Combines `other` (the next channel's scores) into `acc`, position by position. A
    /// NaN in either gives NaN (warm-up or a propagated NaN in any channel). `Pooled`
    /// combines no profiles (its estimator reads every channel) and leaves `acc`.
    pub fn combine(self, acc: &mut [f64], other: &[f64]) {
        debug_assert_eq!(acc.len(), other.len());
        match self {
            ChannelMode::Pooled => {}
            ChannelMode::Sum => acc.iter_mut().zip(other).for_each(|(a, b)| *a += *b),
            ChannelMode::Max => acc.iter_mut().zip(other).for_each(|(a, &b)| {
                *a = if a.is_nan() || b.is_nan() {
                    f64::NAN
                } else {
                    a.max(b)
                }
            }),
        }
    }
}

/// Where the scores come from: the score method with its estimator's options.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Method {
    /// Rolling permutation entropy of a float series.
    Permutation(PermutationOptions),
    /// Rolling conditional entropy of a symbol stream.
    Conditional(ConditionalOptions),
    /// Next-symbol entropy or surprisal of a symbol stream (online context model).
    NextSymbol(NextSymbolOptions, NextScore),
    /// Next-value entropy or surprisal of a float stream (online linear predictors).
    NextValue(NextValueOptions, NextScore),
    /// The input is the score signal itself.
    Scores(NanPolicy),
}

impl Method {
    /// True when the method consumes symbols (integers) rather than floats.
    pub fn takes_symbols(&self) -> bool {
        matches!(self, Method::Conditional(_) | Method::NextSymbol(..))
    }

    /// The method's name, as callers spell it.
    pub fn name(&self) -> &'static str {
        match self {
            Method::Permutation(_) => "permutation",
            Method::Conditional(_) => "conditional",
            Method::NextSymbol(..) => "next_symbol",
            Method::NextValue(..) => "next_value",
            Method::Scores(_) => "scores",
        }
    }

    /// Checks the estimator's options (without building it) and that the profile is
    /// rolling where the method has a window.
    pub fn validate(&self) -> Result<()> {
        match self {
            Method::Permutation(o) => {
                if o.window.is_none() {
                    return Err(need_window("permutation"));
                }
                o.validate()
            }
            Method::Conditional(o) => {
                if o.window.is_none() {
                    return Err(need_window("conditional"));
                }
                o.validate()
            }
            Method::NextSymbol(o, _) => o.validate().map(|_| ()),
            Method::NextValue(o, _) => o.validate(),
            Method::Scores(_) => Ok(()),
        }
    }

    /// An error unless `x` is the kind of input the method reads.
    pub fn check_input(&self, x: &Samples) -> Result<()> {
        match (self.takes_symbols(), x.is_symbols()) {
            (true, false) => Err(Error::parameter(
                "this method takes integer symbols, not float values",
            )),
            (false, true) => Err(Error::parameter(
                "this method takes float values, not integer symbols",
            )),
            _ => Ok(()),
        }
    }
}

fn need_window(method: &str) -> Error {
    Error::parameter(format!(
        "method='{method}' needs window: it profiles a rolling window; give window (in \
         samples)"
    ))
}

/// A validated score method: the profile a segmentation cuts. The alphabet of a symbol
/// method may be left to the data (one-shot calls only).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MethodSpec {
    method: Method,
    /// The alphabet was not given: it is `max(symbol) + 1` of the data.
    infer_alphabet: bool,
    /// How the channels of a multichannel input combine.
    channels: ChannelMode,
}

impl MethodSpec {
    /// A spec of a core method, validated (its alphabet is the given one).
    pub fn new(method: Method) -> Result<Self> {
        method.validate()?;
        Ok(Self {
            method,
            infer_alphabet: false,
            channels: ChannelMode::Sum,
        })
    }

    /// This spec with the channels of a multichannel input combined by `mode`.
    pub fn with_channels(self, mode: ChannelMode) -> Self {
        Self {
            channels: mode,
            ..self
        }
    }

    /// How the channels of a multichannel input combine.
    pub fn channels(&self) -> ChannelMode {
        self.channels
    }

    /// The method (with the alphabet still the maximum when it is inferred).
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// True when the method takes integer symbols.
    pub fn takes_symbols(&self) -> bool {
        self.method.takes_symbols()
    }

    /// True when the alphabet is left to the data (`alphabet_size` not given).
    pub fn infers_alphabet(&self) -> bool {
        self.infer_alphabet
    }

    /// An error when a stream cannot compute this profile (an alphabet to infer from
    /// data not seen yet).
    pub fn check_streamable(&self) -> Result<()> {
        if self.infer_alphabet {
            return Err(Error::parameter(format!(
                "a stream cannot infer the alphabet from data it has not seen: give \
                 alphabet_size for method={:?}",
                self.method.name()
            )));
        }
        Ok(())
    }

    /// The method for the input `x`: checks the input kind and, when the alphabet is
    /// inferred, sets it to the largest symbol of `x` plus one.
    pub fn method_for(&self, x: &Samples) -> Result<Method> {
        self.method.check_input(x)?;
        if !self.infer_alphabet {
            return Ok(self.method);
        }
        let inferred = |limit: usize| x.inferred_alphabet(limit);
        Ok(match self.method {
            Method::Conditional(o) => Method::Conditional(ConditionalOptions {
                alphabet_size: inferred(conditional::MAX_ALPHABET)?,
                ..o
            }),
            Method::NextSymbol(o, which) => Method::NextSymbol(
                NextSymbolOptions {
                    alphabet_size: inferred(context_model::MAX_ALPHABET)?,
                    ..o
                },
                which,
            ),
            m => m,
        })
    }
}

/// A validated segmentation: the score method and the rules. Built by
/// [`SpecOptions::build`] (or [`SegmentSpec::new`]); the passes trust it.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentSpec {
    method: MethodSpec,
    rules: Rules,
    budget_by: BudgetBy,
    options: SpecOptions,
}

impl SegmentSpec {
    /// A spec from a core method and rules, validated.
    pub fn new(method: Method, rules: Rules) -> Result<Self> {
        let method = MethodSpec::new(method)?;
        rules.validate()?;
        Ok(Self {
            method,
            rules,
            budget_by: BudgetBy::Information,
            options: SpecOptions::default(),
        })
    }

    /// This spec with its budget spread by `by` (see [`BudgetBy`]); an error without
    /// a budget.
    pub fn with_budget_by(mut self, by: BudgetBy) -> Result<Self> {
        check_budget_by(by, &self.rules)?;
        self.budget_by = by;
        Ok(self)
    }

    /// How the budget is spread over a batch's series.
    pub fn budget_by(&self) -> BudgetBy {
        self.budget_by
    }

    /// The score method.
    pub fn method(&self) -> &MethodSpec {
        &self.method
    }

    /// The rules.
    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// The options this spec was built from (defaults where none was given; for a spec
    /// made by [`SegmentSpec::new`], the defaults).
    pub fn options(&self) -> &SpecOptions {
        &self.options
    }

    /// True when the method takes integer symbols.
    pub fn takes_symbols(&self) -> bool {
        self.method.takes_symbols()
    }

    /// An error unless a stream can run this spec: no rule needs the whole score array
    /// and the alphabet is known before the data.
    pub fn check_streamable(&self) -> Result<()> {
        self.method.check_streamable()?;
        if matches!(self.rules.preset, Some(Preset::Entrope { .. })) {
            return Err(Error::parameter(
                "preset 'entrope' needs the whole sequence (a per-sequence quantile) and \
                 cannot stream; use segment() or boundaries()",
            ));
        }
        if let Some(budget) = self.rules.budget {
            return Err(Error::parameter(format!(
                "budget={budget} is met by one calibration over the whole batch, which a \
                 stream never sees: use segment_batch(), or stream with the threshold it \
                 found (segments.calibration.threshold)"
            )));
        }
        if self.rules.target_len.is_some() && self.rules.calibration == Calibration::Batch {
            return Err(Error::parameter(
                "a stream cannot see the whole series to calibrate target_len: use \
                 calibration='online'",
            ));
        }
        Ok(())
    }
}

/// One option value as a caller gives it.
#[derive(Debug, Clone, PartialEq)]
pub enum OptionValue {
    /// No value (`None`).
    None,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A real number.
    Float(f64),
    /// A string (a mode or a name).
    Str(String),
}

impl fmt::Display for OptionValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OptionValue::None => write!(f, "None"),
            OptionValue::Bool(b) => write!(f, "{}", if *b { "True" } else { "False" }),
            OptionValue::Int(v) => write!(f, "{v}"),
            OptionValue::Float(v) => write!(f, "{v:?}"),
            OptionValue::Str(s) => write!(f, "'{s}'"),
        }
    }
}

fn type_error(name: &str, wanted: &str, got: &OptionValue) -> Error {
    Error::new(
        ErrorKind::InvalidType,
        format!("bad options: {name} must be {wanted}, got {got}"),
    )
}

/// Conversion of an [`OptionValue`] into an option's type, with an error naming the
/// option.
pub trait FromOptionValue: Sized {
    /// The value as this type.
    fn from_option_value(name: &str, value: OptionValue) -> Result<Self>;
    /// The value back as an [`OptionValue`].
    fn to_option_value(&self) -> OptionValue;
}

impl FromOptionValue for i64 {
    fn from_option_value(name: &str, value: OptionValue) -> Result<Self> {
        match value {
            OptionValue::Int(v) => Ok(v),
            other => Err(type_error(name, "an integer", &other)),
        }
    }
    fn to_option_value(&self) -> OptionValue {
        OptionValue::Int(*self)
    }
}

impl FromOptionValue for f64 {
    fn from_option_value(name: &str, value: OptionValue) -> Result<Self> {
        match value {
            OptionValue::Float(v) => Ok(v),
            OptionValue::Int(v) => Ok(v as f64),
            other => Err(type_error(name, "a number", &other)),
        }
    }
    fn to_option_value(&self) -> OptionValue {
        OptionValue::Float(*self)
    }
}

impl FromOptionValue for bool {
    fn from_option_value(name: &str, value: OptionValue) -> Result<Self> {
        match value {
            OptionValue::Bool(v) => Ok(v),
            other => Err(type_error(name, "True or False", &other)),
        }
    }
    fn to_option_value(&self) -> OptionValue {
        OptionValue::Bool(*self)
    }
}

impl FromOptionValue for String {
    fn from_option_value(name: &str, value: OptionValue) -> Result<Self> {
        match value {
            OptionValue::Str(v) => Ok(v),
            other => Err(type_error(name, "a string", &other)),
        }
    }
    fn to_option_value(&self) -> OptionValue {
        OptionValue::Str(self.clone())
    }
}

impl<T: FromOptionValue> FromOptionValue for Option<T> {
    fn from_option_value(name: &str, value: OptionValue) -> Result<Self> {
        match value {
            OptionValue::None => Ok(None),
            v => T::from_option_value(name, v).map(Some),
        }
    }
    fn to_option_value(&self) -> OptionValue {
        self.as_ref()
            .map_or(OptionValue::None, FromOptionValue::to_option_value)
    }
}

/// Declares [`SpecOptions`]: the one table of segmentation options.
macro_rules! spec_options {
    ($( $(#[doc = $doc:literal])* $name:ident : $ty:ty = $default:expr, )*) => {
        /// The options of a segmentation as plain values, with their defaults. Parse and
        /// validate with [`SpecOptions::build`].
        #[derive(Debug, Clone, PartialEq)]
        #[cfg_attr(
            feature = "serde",
            derive(serde::Deserialize),
            serde(default, deny_unknown_fields)
        )]
        pub struct SpecOptions {
            $( $(#[doc = $doc])* pub $name: $ty, )*
        }

        impl Default for SpecOptions {
            fn default() -> Self {
                Self { $( $name: $default, )* }
            }
        }

        impl SpecOptions {
            /// The option names, in declaration order.
            pub const NAMES: &'static [&'static str] = &[$( stringify!($name) ),*];

            /// Sets one option by name. An unknown name or a value of the wrong type is
            /// an [`ErrorKind::InvalidType`] error naming it.
            pub fn set(&mut self, name: &str, value: OptionValue) -> Result<()> {
                match name {
                    $( stringify!($name) => {
                        self.$name = FromOptionValue::from_option_value(name, value)?;
                    } )*
                    other => {
                        return Err(Error::new(
                            ErrorKind::InvalidType,
                            format!(
                                "unknown segmentation option '{other}'; the options are {}",
                                Self::NAMES.join(", ")
                            ),
                        ))
                    }
                }
                Ok(())
            }

            /// Every option with its value, in declaration order.
            pub fn items(&self) -> Vec<(&'static str, OptionValue)> {
                vec![$( (stringify!($name), self.$name.to_option_value()), )*]
            }
        }
    };
}

spec_options! {
    /// Score method: "line", "permutation", "conditional", "next_symbol", "next_value" or
    /// "scores".
    /// Default: "permutation" when window or order is given (its options), else "line".
    method: Option<String> = None,
    /// Degree of the polynomial "line" fits to each segment: 0 (its mean) or 1 (a line,
    /// the default).
    degree: Option<i64> = None,
    /// Ordinal embedding dimension of "permutation" (default 3).
    order: Option<i64> = None,
    /// Embedding delay of "permutation".
    delay: i64 = 1,
    /// Rolling window in samples ("permutation", "conditional"; required there); the
    /// predictor's memory of "next_value" (default 256).
    window: Option<i64> = None,
    /// Variance-weighted permutation entropy.
    weighted: bool = false,
    /// Divide by the maximum entropy (values in [0, 1]).
    normalize: bool = true,
    /// Context length in symbols: "conditional" (default 2), "next_symbol" (default 3);
    /// the highest predictor order of "next_value" (default 2).
    context: Option<i64> = None,
    /// Symbols are 0..alphabet_size; default: the largest symbol of the data plus one.
    alphabet_size: Option<i64> = None,
    /// Pseudo-count of the next-symbol context model (0.5 = Krichevsky-Trofimov).
    alpha: f64 = 0.5,
    /// Visits before a context predicts (next-symbol model).
    min_count: i64 = 1,
    /// Symbol that empties the next-symbol context.
    reset_symbol: Option<i64> = None,
    /// Which statistic of the next-symbol model: "entropy" or "surprisal".
    statistic: String = "entropy".to_string(),
    /// Next-symbol model: blend every context length (Witten-Bell) instead of backing
    /// off to the longest one seen `min_count` times.
    blend: bool = false,
    /// Non-finite input: "raise" or "propagate".
    nan_policy: String = "raise".to_string(),
    /// Multichannel input (n, c): how the channels' profiles combine, position by
    /// position, into the one score the rules cut: "sum" (code lengths of independent
    /// channels add), "max" (a burst in any channel cuts), or "pooled" (method
    /// "permutation": the patterns of all channels in one histogram per window).
    channels: String = "sum".to_string(),
    /// A segment starts at t when score[t] > threshold.
    threshold: Option<f64> = None,
    /// A segment starts at t when score[t] - score[t-1] > relative.
    relative: Option<f64> = None,
    /// "and" or "or": how threshold and relative combine when both are given.
    combine: Option<String> = None,
    /// Hard minimum length of every segment but the last.
    min_len: i64 = 1,
    /// Hard maximum length of every segment.
    max_len: Option<i64> = None,
    /// The threshold applies to the sum of the open segment's scores (negative ones
    /// count as 0): a segment closes before the sample that would bring its information
    /// above threshold (equal-information segments).
    accumulate: bool = false,
    /// Calibrate the threshold so the mean segment length is this.
    target_len: Option<f64> = None,
    /// Calibrate one threshold for a whole batch so that it has this many segments in
    /// all (a one-shot call's series is a batch of one). Excludes target_len.
    budget: Option<i64> = None,
    /// How budget is spread over a batch's series: "information" (one shared threshold:
    /// tokens follow the score) or "error" (counts per series by equal marginal
    /// reduction of the squared error of a per-segment fit to the values).
    budget_by: String = "information".to_string(),
    /// How target_len is met: "batch" (exact, needs the whole series) or "online" (a
    /// streaming controller). No default: required with target_len.
    calibration: Option<String> = None,
    /// A published patcher: "blt" or "entrope".
    preset: Option<String> = None,
    /// Preset mode: "global", "monotonic" or "combined" (BLT only).
    mode: Option<String> = None,
    /// EntroPE's quantile in [0, 1].
    quantile: Option<f64> = None,
}

pub use crate::estimate::count;
pub use crate::segment::allocate::BudgetBy;

/// `budget_by` other than the default needs a budget to spread.
fn check_budget_by(by: BudgetBy, rules: &Rules) -> Result<()> {
    if by != BudgetBy::Information && rules.budget.is_none() {
        return Err(Error::parameter(
            "budget_by='error' says how a budget is spread over a batch's series: give budget too",
        ));
    }
    Ok(())
}

/// `order` as an ordinal embedding dimension: negative values get the same message
/// (with the supported range) as out-of-range positive ones.
pub fn order(value: i64) -> Result<usize> {
    usize::try_from(value)
        .ok()
        .filter(|o| (MIN_ORDER..=MAX_ORDER).contains(o))
        .ok_or_else(|| {
            Error::parameter(format!(
                "order must be in {MIN_ORDER}..={MAX_ORDER}, got {value}"
            ))
        })
}

fn choice<T: Copy>(name: &str, value: &str, choices: &[(&str, T)]) -> Result<T> {
    choices
        .iter()
        .find(|(k, _)| *k == value)
        .map(|&(_, v)| v)
        .ok_or_else(|| {
            let names: Vec<String> = choices.iter().map(|(k, _)| format!("'{k}'")).collect();
            let list = match names.len() {
                1 => names[0].clone(),
                n => format!("{} or {}", names[..n - 1].join(", "), names[n - 1]),
            };
            Error::parameter(format!("{name} must be {list}, got {value:?}"))
        })
}

impl SpecOptions {
    /// Parses and validates the options: the one place a segmentation is checked.
    pub fn build(&self) -> Result<SegmentSpec> {
        let rules = self.rules()?;
        let method = self.build_method()?;
        rules.validate()?;
        let budget_by = choice(
            "budget_by",
            &self.budget_by,
            &[
                ("information", BudgetBy::Information),
                ("error", BudgetBy::Error),
            ],
        )?;
        check_budget_by(budget_by, &rules)?;
        Ok(SegmentSpec {
            method,
            rules,
            budget_by,
            options: self.clone(),
        })
    }

    /// The score method of a profile (the profile surfaces): [`build_method`], except
    /// that method "line" has no profile apart from its cuts and is refused.
    ///
    /// [`build_method`]: SpecOptions::build_method
    pub fn build_profile(&self) -> Result<MethodSpec> {
        if self.method_name() == "line" {
            return Err(Error::parameter(
                "method='line' has no profile apart from its cuts (its score, the residual \
                 increase of the open segment's fit, restarts with every segment): use \
                 segment(), or give method='permutation' (with window) for an entropy profile",
            ));
        }
        self.build_method()
    }

    /// Parses and validates the score method only: the profile, without rules.
    pub fn build_method(&self) -> Result<MethodSpec> {
        let window = self.window.map(|w| count(w, "window", 1)).transpose()?;
        let given_alphabet = self
            .alphabet_size
            .map(|a| count(a, "alphabet_size", 1))
            .transpose()?;
        let method = self.method_name();
        if self.blend && method != "next_symbol" {
            return Err(Error::parameter(format!(
                "blend mixes the context lengths of method='next_symbol', not of \
                 method={method:?}"
            )));
        }
        if self.degree.is_some() && method != "line" {
            return Err(Error::parameter(format!(
                "degree is the polynomial degree of method='line', not of method={method:?}"
            )));
        }
        if self.order.is_some() && method == "next_symbol" {
            return Err(Error::parameter(
                "order is the ordinal embedding dimension of method='permutation'; the \
                 context length of method='next_symbol' is context",
            ));
        }
        let context = |default: usize| -> Result<usize> {
            self.context.map_or(Ok(default), |c| count(c, "context", 0))
        };
        let method = match method {
            "permutation" => Method::Permutation(PermutationOptions {
                order: self.order.map_or(Ok(DEFAULT_ORDER), order)?,
                delay: count(self.delay, "delay", 1)?,
                window: Some(window.ok_or_else(|| need_window("permutation"))?),
                normalize: self.normalize,
                weighted: self.weighted,
                statistic: Statistic::Entropy,
                nan_policy: NanPolicy::parse(&self.nan_policy)?,
            }),
            "conditional" => Method::Conditional(ConditionalOptions {
                context: context(DEFAULT_CONDITIONAL_CONTEXT)?,
                alphabet_size: given_alphabet.unwrap_or(conditional::MAX_ALPHABET),
                window: Some(window.ok_or_else(|| need_window("conditional"))?),
                normalize: self.normalize,
                lag: 1,
            }),
            "next_symbol" => {
                let score = match (self.next_score()?, self.blend) {
                    (NextScore::Entropy, true) => NextScore::BlendedEntropy,
                    (NextScore::Surprisal, true) => NextScore::BlendedSurprisal,
                    (s, _) => s,
                };
                Method::NextSymbol(
                    NextSymbolOptions::from_values(
                        (
                            "context",
                            self.context.unwrap_or(DEFAULT_NEXT_SYMBOL_CONTEXT as i64),
                        ),
                        given_alphabet.unwrap_or(context_model::MAX_ALPHABET),
                        self.alpha,
                        self.min_count,
                        self.reset_symbol,
                        self.normalize,
                    )?,
                    score,
                )
            }
            "next_value" => {
                let score = self.next_score()?;
                Method::NextValue(
                    NextValueOptions {
                        context: self
                            .context
                            .map_or(Ok(next_value::DEFAULT_CONTEXT), |c| count(c, "context", 1))?,
                        memory: window.unwrap_or(next_value::DEFAULT_MEMORY),
                        nan_policy: NanPolicy::parse(&self.nan_policy)?,
                    },
                    score,
                )
            }
            // The fit rule reads the series itself (see `rules`).
            "scores" | "line" => Method::Scores(NanPolicy::parse(&self.nan_policy)?),
            other => {
                return Err(Error::parameter(format!(
                    "method must be 'line', 'permutation', 'conditional', 'next_symbol', \
                     'next_value' or 'scores', got {other:?}"
                )))
            }
        };
        method.validate()?;
        Ok(MethodSpec {
            method,
            infer_alphabet: given_alphabet.is_none() && method.takes_symbols(),
            channels: self.channel_mode(&method)?,
        })
    }

    /// The channel mode, checked against the method ("pooled" pools ordinal patterns).
    fn channel_mode(&self, method: &Method) -> Result<ChannelMode> {
        let mode = choice(
            "channels",
            &self.channels,
            &[
                ("sum", ChannelMode::Sum),
                ("max", ChannelMode::Max),
                ("pooled", ChannelMode::Pooled),
            ],
        )?;
        match method {
            _ if mode != ChannelMode::Pooled => {}
            Method::Permutation(o) if !o.weighted => {}
            Method::Permutation(_) => {
                return Err(Error::parameter(
                    "channels='pooled' pools ordinal pattern counts; weighted=True has no \
                     pooled form: use weighted=False, or channels='sum' or 'max'",
                ))
            }
            _ if self.method_name() == "line" => {
                return Err(Error::parameter(
                    "channels='pooled' pools the ordinal patterns of method='permutation'; \
                     method='line' fits each channel: use channels='sum' or 'max'",
                ))
            }
            other => {
                return Err(Error::parameter(format!(
                    "channels='pooled' pools the ordinal patterns of method='permutation'; \
                     method={:?} has none: use channels='sum' or 'max'",
                    other.name()
                )))
            }
        }
        Ok(mode)
    }

    /// The statistic of the next-symbol and next-value models.
    fn next_score(&self) -> Result<NextScore> {
        choice(
            "statistic",
            &self.statistic,
            &[
                ("entropy", NextScore::Entropy),
                ("surprisal", NextScore::Surprisal),
            ],
        )
    }

    /// The score method's name: the one given, else "permutation" when one of its
    /// options (window, order) is given, else "line".
    pub fn method_name(&self) -> &str {
        match self.method.as_deref() {
            Some(m) => m,
            None if self.window.is_some() || self.order.is_some() => "permutation",
            None => "line",
        }
    }

    fn fit(&self) -> Result<Option<Fit>> {
        if self.method_name() != "line" {
            return Ok(None);
        }
        let degree = self.degree.unwrap_or(1);
        let fit = Fit::of_degree(u8::try_from(degree).unwrap_or(u8::MAX));
        if !(0..=crate::segment::fit::MAX_DEGREE as i64).contains(&degree) {
            return Err(Error::parameter(format!(
                "degree must be 0 (the segment mean) or 1 (a line), got {degree}"
            )));
        }
        Ok(Some(fit))
    }

    fn rules(&self) -> Result<Rules> {
        let (threshold, relative, quantile) = (self.threshold, self.relative, self.quantile);
        let mode = self.mode.as_deref();
        let min_len = count(self.min_len, "min_len", 1)?;
        let max_len = self.max_len.map(|m| count(m, "max_len", 1)).transpose()?;
        let combine = self
            .combine
            .as_deref()
            .map(|c| choice("combine", c, &[("and", Combine::And), ("or", Combine::Or)]))
            .transpose()?;
        let calibration = match (self.calibration.as_deref(), self.target_len) {
            (Some(c), _) => choice(
                "calibration",
                c,
                &[
                    ("batch", Calibration::Batch),
                    ("online", Calibration::Online),
                ],
            )?,
            (None, Some(_)) => {
                return Err(Error::parameter(
                    "target_len needs calibration: 'batch' (exact, over the whole series) or \
                     'online' (the streaming controller, what a stream gives)",
                ))
            }
            (None, None) => Calibration::Batch,
        };
        let preset = match self.preset.as_deref() {
            None => {
                if mode.is_some() || quantile.is_some() {
                    return Err(Error::parameter(
                        "mode and quantile apply only with preset='blt' or preset='entrope'",
                    ));
                }
                None
            }
            Some("blt") => Some(self.blt_preset()?),
            Some("entrope") => {
                let mode = choice(
                    "mode for preset='entrope'",
                    mode.unwrap_or("global"),
                    &[
                        ("global", EntropeMode::Global),
                        ("monotonic", EntropeMode::Monotonic),
                    ],
                )?;
                let quantile = quantile.ok_or_else(|| {
                    Error::parameter(
                        "preset='entrope' needs quantile (its quantile_threshold, in [0, 1])",
                    )
                })?;
                if threshold.is_some() || relative.is_some() {
                    return Err(Error::parameter(
                        "preset='entrope' computes its threshold from quantile; threshold and \
                         relative do not apply",
                    ));
                }
                Some(Preset::Entrope { mode, quantile })
            }
            Some(other) => {
                return Err(Error::parameter(format!(
                    "preset must be None, 'blt' or 'entrope', got {other:?}"
                )))
            }
        };
        let native = preset.is_none();
        let fit = self.fit()?;
        if fit.is_some() && preset.is_some() {
            return Err(Error::parameter(
                "method='line' has its own rule: presets do not apply",
            ));
        }
        Ok(Rules {
            threshold: threshold.filter(|_| native),
            relative: relative.filter(|_| native),
            combine,
            min_len,
            max_len,
            target_len: self.target_len,
            budget: self
                .budget
                .map(|b| count(b, "budget", 1))
                .transpose()?
                .map(|b| b as u64),
            calibration,
            preset,
            fit,
            accumulate: self.accumulate,
        })
    }

    fn blt_preset(&self) -> Result<Preset> {
        let (threshold, relative) = (self.threshold, self.relative);
        if self.quantile.is_some() {
            return Err(Error::parameter(
                "quantile applies to preset='entrope', not 'blt'",
            ));
        }
        let mode = choice(
            "mode for preset='blt'",
            self.mode.as_deref().unwrap_or("global"),
            &[
                ("global", BltMode::Global),
                ("monotonic", BltMode::Monotonic),
                ("combined", BltMode::Combined),
            ],
        )?;
        match mode {
            BltMode::Global if relative.is_some() => {
                return Err(Error::parameter(
                    "preset='blt' with mode='global' takes threshold, not relative",
                ))
            }
            BltMode::Monotonic | BltMode::Combined if relative.is_none() => {
                let (name, blt) = if mode == BltMode::Monotonic {
                    ("monotonic", "monotonic threshold")
                } else {
                    ("combined", "threshold_add")
                };
                return Err(Error::parameter(format!(
                    "preset='blt' with mode={name:?} needs relative (BLT's {blt})"
                )));
            }
            BltMode::Monotonic if threshold.is_some() => {
                return Err(Error::parameter(
                    "preset='blt' with mode='monotonic' compares entropy increases with \
                     relative; threshold does not apply",
                ))
            }
            _ => {}
        }
        Ok(Preset::Blt {
            mode,
            threshold: threshold.unwrap_or(BLT_DEFAULT_THRESHOLD),
            relative: relative.unwrap_or(0.0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, OptionValue)]) -> Result<SegmentSpec> {
        let mut o = SpecOptions::default();
        for (k, v) in pairs {
            o.set(k, v.clone())?;
        }
        o.build()
    }

    #[test]
    fn every_name_round_trips_through_set_and_items() {
        let defaults = SpecOptions::default();
        let items = defaults.items();
        assert_eq!(items.len(), SpecOptions::NAMES.len());
        let mut again = SpecOptions::default();
        for (name, value) in items {
            again.set(name, value).unwrap();
        }
        assert_eq!(again, defaults);
    }

    #[test]
    fn unknown_names_and_wrong_types_are_type_errors() {
        let mut o = SpecOptions::default();
        let e = o.set("windw", OptionValue::Int(3)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidType);
        assert!(e.message().contains("'windw'"), "{}", e.message());
        let e = o.set("window", OptionValue::Float(2.5)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidType);
        assert!(
            e.message().ends_with("window must be an integer, got 2.5"),
            "{}",
            e.message()
        );
        // Integers are accepted where a real number is expected.
        o.set("threshold", OptionValue::Int(2)).unwrap();
        assert_eq!(o.threshold, Some(2.0));
    }

    #[test]
    fn table_of_rejections() {
        use OptionValue::{Float, Int, Str};
        let w = ("window", Int(16));
        let cases: Vec<(Vec<(&str, OptionValue)>, &str)> = vec![
            (
                vec![("order", Int(-1)), w.clone(), ("threshold", Float(0.5))],
                "order must be in 2..=10, got -1",
            ),
            (
                vec![("order", Int(11)), w.clone(), ("threshold", Float(0.5))],
                "order must be in 2..=10, got 11",
            ),
            (
                vec![
                    ("method", Str("permutation".into())),
                    ("threshold", Float(0.5)),
                ],
                "give window",
            ),
            (
                vec![("degree", Int(2)), ("threshold", Float(0.5))],
                "degree must be 0 (the segment mean) or 1 (a line), got 2",
            ),
            (
                vec![w.clone(), ("degree", Int(1)), ("threshold", Float(0.5))],
                "degree is the polynomial degree of method='line'",
            ),
            (
                vec![("relative", Float(0.5))],
                "relative and combine do not apply",
            ),
            (
                vec![
                    ("accumulate", OptionValue::Bool(true)),
                    ("threshold", Float(0.5)),
                ],
                "accumulate does not apply",
            ),
            (
                vec![
                    ("method", Str("scores".into())),
                    ("accumulate", OptionValue::Bool(true)),
                    ("relative", Float(0.5)),
                ],
                "relative and combine do not apply",
            ),
            (
                vec![
                    ("method", Str("scores".into())),
                    ("accumulate", OptionValue::Bool(true)),
                    ("preset", Str("blt".into())),
                ],
                "accumulate applies to the native threshold",
            ),
            (
                vec![w.clone(), ("target_len", Float(8.0))],
                "target_len needs calibration",
            ),
            (
                vec![
                    w.clone(),
                    ("threshold", Float(0.5)),
                    ("calibration", Str("later".into())),
                ],
                "calibration must be 'batch' or 'online', got \"later\"",
            ),
            (
                vec![
                    ("method", Str("next_symbol".into())),
                    ("order", Int(2)),
                    ("threshold", Float(0.5)),
                ],
                "next_symbol' is context",
            ),
            (
                vec![
                    ("method", Str("scores".into())),
                    ("preset", Str("blt".into())),
                    ("relative", Float(0.1)),
                ],
                "takes threshold, not relative",
            ),
            (
                vec![
                    ("method", Str("scores".into())),
                    ("preset", Str("entrope".into())),
                ],
                "needs quantile",
            ),
            (
                vec![
                    ("method", Str("scores".into())),
                    ("mode", Str("global".into())),
                    ("threshold", Float(1.0)),
                ],
                "apply only with preset",
            ),
            (vec![("method", Str("bogus".into()))], "method must be"),
        ];
        for (pairs, want) in cases {
            let e = opts(&pairs).unwrap_err();
            assert!(
                e.message().contains(want),
                "{pairs:?}: {:?} lacks {want:?}",
                e.message()
            );
        }
    }

    #[test]
    fn blt_preset_defaults_to_blts_threshold() {
        let spec = opts(&[
            ("method", OptionValue::Str("scores".into())),
            ("preset", OptionValue::Str("blt".into())),
        ])
        .unwrap();
        assert_eq!(
            spec.rules().preset,
            Some(Preset::Blt {
                mode: BltMode::Global,
                threshold: BLT_DEFAULT_THRESHOLD,
                relative: 0.0
            })
        );
    }

    #[test]
    fn method_defaults_and_alphabet_inference() {
        let spec = opts(&[
            ("method", OptionValue::Str("conditional".into())),
            ("window", OptionValue::Int(32)),
            ("threshold", OptionValue::Float(0.5)),
        ])
        .unwrap();
        assert!(spec.method().infers_alphabet());
        assert!(spec.check_streamable().is_err());
        let m = spec.method().method_for(&Samples::U8(&[0, 5, 2])).unwrap();
        match m {
            Method::Conditional(o) => {
                assert_eq!(
                    (o.context, o.alphabet_size),
                    (DEFAULT_CONDITIONAL_CONTEXT, 6)
                )
            }
            other => panic!("{other:?}"),
        }
        assert!(spec.method().method_for(&Samples::Values(&[0.0])).is_err());
        let spec = opts(&[
            ("method", OptionValue::Str("next_symbol".into())),
            ("alphabet_size", OptionValue::Int(4)),
            ("threshold", OptionValue::Float(0.5)),
        ])
        .unwrap();
        match spec.method().method() {
            Method::NextSymbol(o, NextScore::Entropy) => {
                assert_eq!((o.order, o.alphabet_size), (DEFAULT_NEXT_SYMBOL_CONTEXT, 4))
            }
            other => panic!("{other:?}"),
        }
        spec.check_streamable().unwrap();
    }
}
