//! Permutation entropy (Bandt-Pompe), weighted permutation entropy (Fadlallah et al.),
//! statistical complexity (Jensen-Shannon, Rosso et al.) and the missing-pattern count,
//! over a sliding window or the whole series.
//!
//! Alignment: the rolling value at index `t` describes the samples `[t-W+1, t]`, i.e. the
//! `N = W - (d-1)tau` patterns whose newest sample lies in that range. Indices with an
//! incomplete window are NaN. The whole-series value over `n` samples equals the rolling
//! value at the last index for `W = n`, bit for bit, because both use the same counts, the
//! same fixed-point scale (a function of `N`) and the same final expression.

use super::{
    check_whole_series_len, check_window, first_non_finite, non_finite_error, reserve_ring, Finish,
    NanPolicy,
};
use crate::error::{Error, Result};
use crate::estimate::ordinal::{factorial, OrdinalEncoder, NO_PATTERN};
use crate::util::accumulate::{fixed_xlogx, scale_bits_for, EntropyOfSum, XLogXTable};
use crate::util::checkpoint::{Reader, Writer};
use crate::util::exact::ExactSum;
use crate::util::hash::IntMap;

/// Which statistic an estimator reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Statistic {
    /// Permutation entropy (nats, or normalised by ln d!).
    #[default]
    Entropy,
    /// Jensen-Shannon statistical complexity C = H_norm * JS(P, U) / JS_max (in [0, 1]).
    Complexity,
    /// Number of the d! patterns that do not occur.
    MissingPatterns,
}

impl Statistic {
    /// Parses `"entropy"`, `"complexity"`, `"missing_patterns"`.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "entropy" => Ok(Self::Entropy),
            "complexity" => Ok(Self::Complexity),
            "missing_patterns" => Ok(Self::MissingPatterns),
            other => Err(Error::parameter(format!(
                "statistic must be 'entropy', 'complexity' or 'missing_patterns', got {other:?}"
            ))),
        }
    }
    fn code(self) -> u64 {
        self as u64
    }
    fn from_code(c: u64) -> Result<Self> {
        [Self::Entropy, Self::Complexity, Self::MissingPatterns]
            .get(c as usize)
            .copied()
            .ok_or_else(|| Error::checkpoint("unknown statistic in checkpoint"))
    }
}

/// Options of a permutation estimator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PermutationOptions {
    /// Order d (2..=10).
    pub order: usize,
    /// Delay tau (>= 1).
    pub delay: usize,
    /// Window in samples; `None` = the whole series.
    pub window: Option<usize>,
    /// Divide entropies by ln(d!) (ignored by complexity, which is always in [0, 1]).
    pub normalize: bool,
    /// Weight each pattern by the variance of its embedding vector.
    pub weighted: bool,
    /// The reported statistic.
    pub statistic: Statistic,
    /// Non-finite handling.
    pub nan_policy: NanPolicy,
}

impl Default for PermutationOptions {
    fn default() -> Self {
        Self {
            order: 3,
            delay: 1,
            window: None,
            normalize: true,
            weighted: false,
            statistic: Statistic::Entropy,
            nan_policy: NanPolicy::Raise,
        }
    }
}

impl PermutationOptions {
    /// Checks the options without building anything (no memory is reserved).
    pub fn validate(&self) -> Result<()> {
        let span = crate::estimate::ordinal::check_embedding(self.order, self.delay)?;
        if self.weighted && self.statistic == Statistic::Complexity {
            return Err(Error::parameter(
                "weighted=True is defined for entropy only, not for statistic='complexity'",
            ));
        }
        if let Some(w) = self.window {
            check_window(w, span, "ordinal pattern ((order-1)*delay + 1)")?;
        }
        Ok(())
    }
}

/// Jensen-Shannon complexity from the entropy `h` (nats) of P and the entropy
/// `h_mix` of (P + U)/2, for `n` possible patterns.
fn complexity(h: f64, h_mix: f64, n: usize) -> f64 {
    let nf = n as f64;
    let ln_n = nf.ln();
    let js = h_mix - 0.5 * h - 0.5 * ln_n;
    let js_max = -0.5 * (((nf + 1.0) / nf) * (nf + 1.0).ln() + ln_n - 2.0 * (2.0 * nf).ln());
    ((h / ln_n) * js / js_max).max(0.0)
}

/// Largest finite magnitude weighted estimators accept.
///
/// A weight is the variance of `d <= 10` samples, at most `(2|x|)^2`; with `|x| <= 1e100`
/// every weight, every `w ln w` term and every sum of up to 10^100 of them stays far
/// below `f64::MAX`. Beyond that a variance (or a window's total weight) could overflow to
/// infinity and turn the entropy into a silent 0 or NaN, so such input is rejected.
pub const MAX_WEIGHTED_MAGNITUDE: f64 = 1e100;

/// Largest weight samples within [`MAX_WEIGHTED_MAGNITUDE`] can produce, `(2 * 1e100)^2`
/// (checked when restoring a checkpoint).
const MAX_WEIGHT: f64 = 4e200;

/// Rejects finite samples beyond [`MAX_WEIGHTED_MAGNITUDE`] (non-finite ones are the
/// NaN policy's business).
fn check_weighted_magnitude(chunk: &[f64], stream_offset: u64) -> Result<()> {
    let too_large = |v: &f64| v.is_finite() && v.abs() > MAX_WEIGHTED_MAGNITUDE;
    if let Some(i) = chunk.iter().position(too_large) {
        let at = if stream_offset > 0 {
            format!(
                "index {i} of this chunk (sample {} of the stream)",
                stream_offset + i as u64
            )
        } else {
            format!("index {i}")
        };
        return Err(Error::parameter(format!(
            "weighted permutation entropy needs |x| <= {MAX_WEIGHTED_MAGNITUDE:e} so that the \
             embedding variances stay finite, got {:e} at {at}; the weighted entropy does not \
             change when x is multiplied by a constant, so rescale the series",
            chunk[i]
        )));
    }
    Ok(())
}

/// Population variance of the embedding vector ending at `xs[i]`.
#[inline]
fn embedding_variance(xs: &[f64], i: usize, order: usize, delay: usize) -> f64 {
    let first = i - (order - 1) * delay;
    let mut mean = 0.0;
    for j in 0..order {
        mean += xs[first + j * delay];
    }
    mean /= order as f64;
    let mut var = 0.0;
    for j in 0..order {
        let dv = xs[first + j * delay] - mean;
        var += dv * dv;
    }
    var / order as f64
}

/// Per-pattern exact weight, for weighted estimators.
#[derive(Debug, Clone, Default)]
struct PatternWeight {
    count: u32,
    sum: ExactSum,
    /// `w ln w` of the rounded sum currently included in the S accumulators.
    term: f64,
}

/// Exact `sum_pattern w ln w` split by sign, so both parts stay non-negative.
#[derive(Debug, Clone, Default)]
struct SignedExact {
    positive: ExactSum,
    negative: ExactSum,
}

impl SignedExact {
    fn add(&mut self, v: f64) {
        if v >= 0.0 {
            self.positive.add(v)
        } else {
            self.negative.add(-v)
        }
    }
    fn sub(&mut self, v: f64) {
        if v >= 0.0 {
            self.positive.sub(v)
        } else {
            self.negative.sub(-v)
        }
    }
    fn value(&mut self) -> f64 {
        self.positive.value() - self.negative.value()
    }
}

/// Scale of the `w ln w` terms of weighted estimators: `2^300`.
///
/// Weights of nearly constant or tiny-valued series are subnormal floats (variances below
/// 2.2e-308), and `w * ln w` rounded to the subnormal grid keeps only a few significant
/// bits: the entropy of two equal subnormal weights came out 1.5e-6 away from ln 2.
/// Multiplying `w` by a power of two is exact and lifts every weight into the normal
/// range, so each term keeps full precision; with `|x| <= 1e100` (weights <= 4e200, at
/// most 2^32 of them per pattern) the scaled terms and their sums stay finite.
const TERM_SCALE: f64 = 2.037_035_976_334_486e90; // 2^300, checked in the tests

/// `w ln w * TERM_SCALE` (0 for w = 0), a pure function of `w`.
#[inline]
fn xlnx(w: f64) -> f64 {
    if w > 0.0 {
        (w * TERM_SCALE) * w.ln()
    } else {
        0.0
    }
}

/// Weighted entropy `ln T - (sum w ln w) / T` from the scaled sum of terms.
#[inline]
fn weighted_entropy(total: f64, scaled_terms: f64) -> f64 {
    if total <= 0.0 {
        return 0.0;
    }
    (total.ln() - scaled_terms / (total * TERM_SCALE)).max(0.0)
}

/// Weighted counts (exact), shared by the rolling and whole-series paths.
#[derive(Debug, Clone, Default)]
struct WeightedCounts {
    patterns: IntMap<u32, PatternWeight>,
    total: ExactSum,
    terms: SignedExact,
}

impl WeightedCounts {
    fn add(&mut self, code: u32, w: f64, track_terms: bool) {
        let e = self.patterns.entry(code).or_default();
        e.count += 1;
        e.sum.add(w);
        self.total.add(w);
        if track_terms {
            let new_term = xlnx(e.sum.value());
            self.terms.sub(e.term);
            self.terms.add(new_term);
            e.term = new_term;
        }
    }
    fn remove(&mut self, code: u32, w: f64) {
        let Some(e) = self.patterns.get_mut(&code) else {
            debug_assert!(false, "removing a pattern that was never added");
            return;
        };
        e.count -= 1;
        e.sum.sub(w);
        self.total.sub(w);
        self.terms.sub(e.term);
        if e.count == 0 {
            self.patterns.remove(&code);
        } else {
            let new_term = xlnx(e.sum.value());
            self.terms.add(new_term);
            e.term = new_term;
        }
    }
    /// Weighted entropy in nats; 0 when every weight in the window is zero (a window
    /// of constant embeddings carries no information).
    fn entropy_tracked(&mut self) -> f64 {
        let total = self.total.value();
        weighted_entropy(total, self.terms.value())
    }
    /// Same value computed afresh from the per-pattern sums.
    fn entropy_fresh(&mut self) -> f64 {
        let mut terms = SignedExact::default();
        for e in self.patterns.values_mut() {
            terms.add(xlnx(e.sum.value()));
        }
        let total = self.total.value();
        weighted_entropy(total, terms.value())
    }
}

/// Entropy of the mixture (P + U)/2 for complexity, from the fixed-point sum of
/// `a ln a` over the *present* patterns (`a = n c + N`) and the number of absent ones.
///
/// Absent patterns all have `a = N`; their share `missing * N ln N` is added in floating
/// point as a function of the integer `missing`, instead of as `missing` rounded
/// fixed-point terms (with d! up to 3.6 million terms those roundings would add up to
/// ~1e-11). The value is still a pure function of the counts: drift-free.
#[derive(Debug, Clone)]
struct MixScale {
    bits: u32,
    entropy: EntropyOfSum,
    /// `N ln N / (2 n N)` = `ln N / (2n)`.
    absent_share: f64,
}

impl MixScale {
    fn new(n_items: u64, n_patterns: usize) -> Self {
        // Present patterns hold at most min(N, n) of the a-values: sum a <= n N + N min(N, n).
        let present_total = n_patterns as u64 * n_items + n_items * n_items.min(n_patterns as u64);
        let bits = scale_bits_for(present_total);
        let total = 2 * n_patterns as u64 * n_items;
        let nf = n_items.max(1) as f64;
        Self {
            bits,
            entropy: EntropyOfSum::new(total, bits),
            absent_share: nf.ln() / (2.0 * n_patterns as f64),
        }
    }

    #[inline(always)]
    fn entropy(&self, present_sum: i64, missing: usize) -> f64 {
        self.entropy.entropy(present_sum) - missing as f64 * self.absent_share
    }
}

/// `a ln a` term of a present pattern with count `c >= 1` (0 for an absent one).
#[inline(always)]
fn mix_term_fixed(c: u32, n_patterns: usize, n_items: u64, bits: u32) -> i64 {
    if c == 0 {
        0
    } else {
        fixed_xlogx(n_patterns as u64 * c as u64 + n_items, bits)
    }
}

/// Fixed-point tables of one window size (N patterns).
#[derive(Debug, Clone)]
struct Scales {
    xlogx: XLogXTable,
    entropy: EntropyOfSum,
    /// For complexity: table of `mix_term_fixed` and the mixture scale.
    mix: Option<(Vec<i64>, MixScale)>,
    n_items: u64,
}

impl Scales {
    fn new(n_items: u64, n_patterns: usize, complexity: bool) -> Self {
        let xlogx = XLogXTable::new(n_items);
        let entropy = EntropyOfSum::new(n_items, xlogx.scale_bits());
        let mix = complexity.then(|| {
            let scale = MixScale::new(n_items, n_patterns);
            let len = (n_items as usize + 2).min(1 << 20);
            let table = (0..len as u32)
                .map(|c| mix_term_fixed(c, n_patterns, n_items, scale.bits))
                .collect();
            (table, scale)
        });
        Self {
            xlogx,
            entropy,
            mix,
            n_items,
        }
    }

    #[inline(always)]
    fn mix_term(&self, c: u32, n_patterns: usize) -> i64 {
        let (table, scale) = self.mix.as_ref().expect("complexity tables");
        match table.get(c as usize) {
            Some(&v) => v,
            None => mix_term_fixed(c, n_patterns, self.n_items, scale.bits),
        }
    }
}

/// Streaming permutation estimator over a sliding window or the whole stream.
///
/// `update` takes the next chunk and (rolling mode) writes one value per sample. The
/// window state is the last `N` pattern codes (and weights), a count per pattern and
/// exact running sums; restoring a checkpoint rebuilds counts and sums from the codes,
/// which gives the very same integers, so a resumed stream continues bit-identically.
#[derive(Debug, Clone)]
pub struct PermutationEstimator {
    options: PermutationOptions,
    n_patterns: usize,
    encoder: OrdinalEncoder,
    codes: Vec<u32>,
    history: Vec<f64>,
    // Rolling state.
    ring: Vec<u32>,
    ring_weights: Vec<f64>,
    ring_pos: usize,
    invalid_in_ring: usize,
    scales: Option<Scales>,
    // Counts (unweighted) and fixed-point sums.
    counts: Vec<u32>,
    /// Whole-series counting in four sub-histograms: the offset from one to the next
    /// (`n_patterns`, or its next power of two where the stream counter indexes them).
    /// Zero when the counts are one histogram.
    lane_stride: usize,
    present: usize,
    /// Set by the fast loop, which does not maintain `present`.
    present_stale: bool,
    sum_xlogx: i64,
    sum_mix: i64,
    // Weighted counts.
    weighted: WeightedCounts,
    // Whole-series mode: number of valid patterns and whether a non-finite sample was seen.
    total_patterns: u64,
    saw_invalid: bool,
}

const TAG: &str = "PermutationEstimator";

/// Largest number of patterns (orders 2 and 3) counted by comparison instead of by
/// indexed increments.
const MAX_COMPARE_COUNT_PATTERNS: usize = 6;

/// Adds to `counts[v]` the number of codes equal to `v`, for `counts.len() <= 6`: one
/// vectorised compare-and-add pass over the (L1-resident) codes per pattern instead of one
/// load-add-store per code, which for the six patterns of order 3 (long runs of equal
/// codes in a trending series) also avoids store-to-load waits. Exact integer counts,
/// like the indexed path.
#[inline(always)]
fn count_by_comparison_generic(codes: &[u32], counts: &mut [u32]) {
    for (v, count) in counts.iter_mut().enumerate() {
        let v = v as u32;
        *count += codes.iter().map(|&c| (c == v) as u32).sum::<u32>();
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn count_by_comparison_avx2(codes: &[u32], counts: &mut [u32]) {
    count_by_comparison_generic(codes, counts)
}

fn count_by_comparison(codes: &[u32], counts: &mut [u32]) {
    debug_assert!(counts.len() <= MAX_COMPARE_COUNT_PATTERNS);
    #[cfg(target_arch = "x86_64")]
    {
        static AVX2: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        if *AVX2.get_or_init(|| std::arch::is_x86_feature_detected!("avx2")) {
            // SAFETY: the CPU supports AVX2 (checked at run time just above).
            unsafe { count_by_comparison_avx2(codes, counts) };
            return;
        }
    }
    count_by_comparison_generic(codes, counts)
}

/// Where `NanPolicy::Raise` scans for non-finite samples (see `update_with`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NanCheck {
    UpFront,
    PerBlock,
    /// The caller has already scanned the whole chunk (a segmenter checks each block
    /// before it profiles it): no second scan.
    Done,
}

impl PermutationEstimator {
    /// Validates options and builds a fresh estimator.
    pub fn new(options: PermutationOptions) -> Result<Self> {
        options.validate()?;
        let encoder = OrdinalEncoder::new(options.order, options.delay)?;
        let span = encoder.span();
        let n_patterns = factorial(options.order);
        let lane_stride = match (options.weighted, options.window) {
            (false, None) if options.order <= 8 => {
                encoder.stream_count_stride().unwrap_or(n_patterns)
            }
            _ => 0,
        };
        let mut scales = None;
        if let Some(w) = options.window {
            let n = (w - span) as u64;
            scales = Some(Scales::new(
                n,
                n_patterns,
                options.statistic == Statistic::Complexity,
            ));
        }
        let mut est = Self {
            options,
            n_patterns,
            encoder,
            codes: Vec::new(),
            history: Vec::new(),
            ring: Vec::new(),
            ring_weights: Vec::new(),
            ring_pos: 0,
            invalid_in_ring: 0,
            scales,
            counts: vec![
                0;
                match (options.weighted, lane_stride) {
                    (true, _) => 0,
                    (false, 0) => n_patterns,
                    (false, stride) => 4 * stride,
                }
            ],
            lane_stride,
            present: 0,
            present_stale: false,
            sum_xlogx: 0,
            sum_mix: 0,
            weighted: WeightedCounts::default(),
            total_patterns: 0,
            saw_invalid: false,
        };
        if let Some(w) = options.window {
            reserve_ring(&mut est.ring, w - span, w)?;
            if options.weighted {
                reserve_ring(&mut est.ring_weights, w - span, w)?;
            }
        }
        est.reset();
        Ok(est)
    }

    /// The options.
    pub fn options(&self) -> &PermutationOptions {
        &self.options
    }

    /// Samples seen so far.
    pub fn samples_seen(&self) -> u64 {
        self.encoder.seen()
    }

    /// Back to a fresh state (same options).
    pub fn reset(&mut self) {
        self.encoder.reset();
        let n = self.options.window.map_or(0, |w| w - self.encoder.span());
        // In place: the memory was reserved (fallibly) by `new`.
        self.ring.clear();
        self.ring.resize(n, NO_PATTERN);
        self.ring_weights.clear();
        if self.options.weighted {
            self.ring_weights.resize(n, 0.0);
        }
        self.ring_pos = 0;
        self.invalid_in_ring = n;
        self.counts.iter_mut().for_each(|c| *c = 0);
        self.present = 0;
        self.present_stale = false;
        self.sum_xlogx = 0;
        self.sum_mix = 0;
        self.weighted = WeightedCounts::default();
        self.total_patterns = 0;
        self.saw_invalid = false;
    }

    /// Feeds the next chunk. In rolling mode `out` must have the chunk's length and
    /// receives one value per sample (NaN while the window is incomplete or holds a
    /// non-finite sample); in whole-series mode pass an empty `out` and read `value()`.
    ///
    /// Under `NanPolicy::Raise` a non-finite sample fails the call before any state
    /// changes, so the caller may fix the data and continue.
    pub fn update(&mut self, chunk: &[f64], out: &mut [f64]) -> Result<()> {
        self.update_with(chunk, out, NanCheck::UpFront)
    }

    /// [`update`](Self::update) of a chunk in which the caller has already found no
    /// non-finite sample under `NanPolicy::Raise` (as `segment::profile::check_input`
    /// does): the same values, without scanning the chunk a second time.
    pub(crate) fn update_checked(&mut self, chunk: &[f64], out: &mut [f64]) -> Result<()> {
        self.update_with(chunk, out, NanCheck::Done)
    }

    /// [`update`](Self::update) with a choice of where `NanPolicy::Raise` looks for
    /// non-finite samples. `UpFront` scans the whole chunk before any state changes (what
    /// `update` promises); `PerBlock` scans each cache-sized block just before encoding
    /// it, so a long chunk is read from memory once instead of twice, but an error leaves
    /// the estimator part-way through the chunk: only for callers that discard it on
    /// error (the one-shot [`whole_series`] and [`rolling_into`]).
    fn update_with(&mut self, chunk: &[f64], out: &mut [f64], nan_check: NanCheck) -> Result<()> {
        let rolling = self.options.window.is_some();
        let expected = if rolling { chunk.len() } else { 0 };
        if out.len() != expected {
            return Err(Error::parameter(format!(
                "output buffer has length {}, expected {expected}",
                out.len()
            )));
        }
        let raise = self.options.nan_policy == NanPolicy::Raise;
        // The non-finite error must win over the other data errors below, as in `update`:
        // the weighted magnitude check reads the whole chunk anyway, and an over-long
        // whole-series input is rare enough to pay the scan.
        let over_long =
            !rolling && check_whole_series_len(self.encoder.seen(), chunk.len()).is_err();
        let nan_check = if self.options.weighted || over_long {
            NanCheck::UpFront
        } else {
            nan_check
        };
        if raise && nan_check == NanCheck::UpFront {
            if let Some(i) = first_non_finite(chunk) {
                return Err(non_finite_error(i, chunk[i], self.encoder.seen()));
            }
        }
        if self.options.weighted {
            check_weighted_magnitude(chunk, self.encoder.seen())?;
        }
        if !rolling {
            check_whole_series_len(self.encoder.seen(), chunk.len())?;
        }
        // Work in blocks so the code buffer stays in L1.
        const BLOCK: usize = 4096;
        let chunk_offset = self.encoder.seen();
        let mut codes = std::mem::take(&mut self.codes);
        codes.resize(BLOCK.min(chunk.len()), 0);
        let order3_counts = !rolling && !self.options.weighted && self.options.order == 3;
        let stream_counts =
            !rolling && !self.options.weighted && self.encoder.stream_count_stride().is_some();
        let span = self.encoder.span();
        let mut start = 0;
        while start < chunk.len() {
            let end = (start + BLOCK).min(chunk.len());
            let block = &chunk[start..end];
            let block_codes = &mut codes[..block.len()];
            if self.options.weighted {
                // The samples just before the block, for the weights of its first patterns.
                self.history.clear();
                self.history.extend_from_slice(self.encoder.tail());
            }
            if order3_counts {
                // Whole-series order 3: counted straight from comparison bit words (the
                // codes are never written), when the block is finite.
                if raise && nan_check == NanCheck::PerBlock {
                    if let Some(i) = first_non_finite(block) {
                        self.codes = codes;
                        return Err(non_finite_error(start + i, block[i], chunk_offset));
                    }
                }
                if raise || first_non_finite(block).is_none() {
                    self.total_patterns +=
                        self.encoder
                            .count_order3_finite(block, &mut self.counts[..6], block_codes);
                    start = end;
                    continue;
                }
            }
            if stream_counts && block.len() > span && (raise || first_non_finite(block).is_none()) {
                // Whole-series orders 4..=8: counted from the stream encoder's codes, the
                // block checked for non-finite samples on the way (under `Raise` with the
                // per-block check this is that check; the counts of a block that fails it
                // are meaningless, but the estimator is dropped with the error).
                let (counted, finite) =
                    self.encoder
                        .count_streams_finite(block, &mut self.counts, block_codes);
                if !finite {
                    if let Some(i) = first_non_finite(block) {
                        self.codes = codes;
                        return Err(non_finite_error(start + i, block[i], chunk_offset));
                    }
                }
                self.total_patterns += counted;
                start = end;
                continue;
            }
            if raise {
                if nan_check == NanCheck::PerBlock {
                    if let Some(i) = first_non_finite(block) {
                        self.codes = codes;
                        return Err(non_finite_error(start + i, block[i], chunk_offset));
                    }
                }
                // Checked, up front or just above.
                self.encoder.encode_finite(block, block_codes);
            } else {
                self.encoder.encode(block, block_codes);
            }
            if self.options.weighted {
                let out_block = if rolling {
                    Some(&mut out[start..end])
                } else {
                    None
                };
                self.weighted_block(block, block_codes, out_block);
            } else if rolling {
                self.rolling_block(block_codes, &mut out[start..end]);
            } else {
                self.cumulative_block(block_codes);
            }
            start = end;
        }
        self.codes = codes;
        if !rolling {
            // Every sample past the warm-up yields a pattern unless a non-finite sample
            // broke it, so a shortfall means the series held NaN or infinity.
            let expected = self
                .encoder
                .seen()
                .saturating_sub(self.encoder.span() as u64);
            self.saw_invalid |= self.total_patterns < expected;
        }
        Ok(())
    }

    /// Whole-series counting. For orders up to 8 the counts are kept in four interleaved
    /// sub-histograms (sample k goes to lane k mod 4): a run of equal patterns then
    /// updates four different counters in turn instead of waiting on its own stores.
    fn cumulative_block(&mut self, codes: &[u32]) {
        let np = self.n_patterns;
        let stride = self.lane_stride;
        // Blocks past the warm-up of a clean series hold no invalid pattern: count them
        // without the per-code test (the scan is one vectorised pass over an L1 buffer).
        let all_valid = !codes.contains(&NO_PATTERN);
        let mut valid = 0u64;
        if all_valid && np <= MAX_COMPARE_COUNT_PATTERNS {
            count_by_comparison(codes, &mut self.counts[..np]);
            valid = codes.len() as u64;
        } else if stride > 0 {
            let (c0, rest) = self.counts.split_at_mut(stride);
            let (c1, rest) = rest.split_at_mut(stride);
            let (c2, c3) = rest.split_at_mut(stride);
            let mut quads = codes.chunks_exact(4);
            if all_valid {
                for q in quads.by_ref() {
                    c0[q[0] as usize] += 1;
                    c1[q[1] as usize] += 1;
                    c2[q[2] as usize] += 1;
                    c3[q[3] as usize] += 1;
                }
                valid = (codes.len() - quads.remainder().len()) as u64;
            } else {
                for q in quads.by_ref() {
                    for (lane, &c) in [&mut *c0, &mut *c1, &mut *c2, &mut *c3].into_iter().zip(q) {
                        if c != NO_PATTERN {
                            lane[c as usize] += 1;
                            valid += 1;
                        }
                    }
                }
            }
            for &c in quads.remainder() {
                if c != NO_PATTERN {
                    c0[c as usize] += 1;
                    valid += 1;
                }
            }
        } else if all_valid {
            for &c in codes {
                self.counts[c as usize] += 1;
            }
            valid = codes.len() as u64;
        } else {
            for &c in codes.iter().filter(|&&c| c != NO_PATTERN) {
                self.counts[c as usize] += 1;
                valid += 1;
            }
        }
        self.total_patterns += valid;
    }

    /// Whole-series counts per pattern (the sub-histograms summed).
    fn merged_counts(&self) -> Vec<u32> {
        let np = self.n_patterns;
        let mut merged = self.counts[..np].to_vec();
        for lane in self.counts.chunks_exact(self.lane_stride.max(np)).skip(1) {
            for (m, &c) in merged.iter_mut().zip(lane) {
                *m += c;
            }
        }
        merged
    }

    fn rolling_block(&mut self, codes: &[u32], out: &mut [f64]) {
        let all_valid = self.invalid_in_ring == 0 && !codes.contains(&NO_PATTERN);
        if all_valid && self.options.statistic == Statistic::Entropy {
            self.rolling_entropy_fast(codes, out);
        } else {
            self.rolling_block_general(codes, out);
        }
    }

    /// The hot loop: a full window, no invalid pattern in it or in the block, entropy only.
    /// Same arithmetic as the general loop; a single-pattern window is detected by its sum
    /// (`S == F(N)` only when one pattern holds all N counts, since any split lowers the
    /// sum by at least `ln N` in fixed point) instead of by tracking the distinct count.
    fn rolling_entropy_fast(&mut self, codes: &[u32], out: &mut [f64]) {
        let scales = self.scales.as_ref().expect("rolling scales");
        let finish = Finish::new(self.n_patterns, self.options.normalize);
        let single = scales.xlogx.single_item_sum(scales.n_items);
        let n = self.ring.len();
        let counts = &mut self.counts[..];
        let ring = &mut self.ring[..];
        let mut pos = self.ring_pos;
        let mut s = self.sum_xlogx;
        for (&new, slot) in codes.iter().zip(out.iter_mut()) {
            let old = ring[pos];
            ring[pos] = new;
            pos += 1;
            if pos == n {
                pos = 0;
            }
            let c = counts[new as usize];
            counts[new as usize] = c + 1;
            s += scales.xlogx.up(c);
            let c = counts[old as usize] - 1;
            counts[old as usize] = c;
            s -= scales.xlogx.up(c);
            let h = finish.apply(scales.entropy.entropy(s));
            *slot = if s == single { 0.0 } else { h };
        }
        self.ring_pos = pos;
        self.sum_xlogx = s;
        // `present` is only maintained by the general loop; recount it lazily there.
        self.present_stale = true;
    }

    fn rolling_block_general(&mut self, codes: &[u32], out: &mut [f64]) {
        if self.present_stale {
            self.present = self.counts.iter().filter(|&&c| c > 0).count();
            self.present_stale = false;
        }
        let scales = self.scales.as_ref().expect("rolling scales");
        let stat = self.options.statistic;
        let with_mix = stat == Statistic::Complexity;
        let finish = Finish::new(self.n_patterns, self.options.normalize);
        let n = self.ring.len();
        let np = self.n_patterns;
        let counts = &mut self.counts[..];
        let ring = &mut self.ring[..];
        let mut pos = self.ring_pos;
        let mut invalid = self.invalid_in_ring;
        let mut present = self.present;
        let mut s = self.sum_xlogx;
        let mut s_mix = self.sum_mix;
        for (&new, slot) in codes.iter().zip(out.iter_mut()) {
            let old = ring[pos];
            ring[pos] = new;
            pos += 1;
            if pos == n {
                pos = 0;
            }
            if new != NO_PATTERN {
                let c = counts[new as usize];
                s += scales.xlogx.up(c);
                if with_mix {
                    s_mix += scales.mix_term(c + 1, np) - scales.mix_term(c, np);
                }
                present += (c == 0) as usize;
                counts[new as usize] = c + 1;
            } else {
                invalid += 1;
            }
            if old != NO_PATTERN {
                let c = counts[old as usize] - 1;
                counts[old as usize] = c;
                s -= scales.xlogx.up(c);
                if with_mix {
                    s_mix -= scales.mix_term(c + 1, np) - scales.mix_term(c, np);
                }
                present -= (c == 0) as usize;
            } else {
                invalid -= 1;
            }
            *slot = if invalid != 0 {
                f64::NAN
            } else {
                match stat {
                    Statistic::Entropy => {
                        if present == 1 {
                            0.0
                        } else {
                            finish.apply(scales.entropy.entropy(s))
                        }
                    }
                    Statistic::Complexity => {
                        let h = if present == 1 {
                            0.0
                        } else {
                            scales.entropy.entropy(s)
                        };
                        let mix = scales
                            .mix
                            .as_ref()
                            .expect("mix")
                            .1
                            .entropy(s_mix, np - present);
                        complexity(h, mix, np)
                    }
                    Statistic::MissingPatterns => (np - present) as f64,
                }
            };
        }
        self.ring_pos = pos;
        self.invalid_in_ring = invalid;
        self.present = present;
        self.sum_xlogx = s;
        self.sum_mix = s_mix;
    }

    fn weighted_block(&mut self, block: &[f64], codes: &[u32], out: Option<&mut [f64]>) {
        let span = self.encoder.span();
        let (d, tau) = (self.options.order, self.options.delay);
        let finish = Finish::new(self.n_patterns, self.options.normalize);
        // Patterns ending at block[k] with k < span reach back into the samples before
        // the block: read those from history ++ block[..span].
        let hist_len = self.history.len();
        self.history
            .extend_from_slice(&block[..block.len().min(span)]);
        let junction = std::mem::take(&mut self.history);
        let weight_at = |k: usize| -> f64 {
            if k < span {
                embedding_variance(&junction, hist_len + k, d, tau)
            } else {
                embedding_variance(block, k, d, tau)
            }
        };
        match out {
            None => {
                for (k, &c) in codes.iter().enumerate() {
                    if c != NO_PATTERN {
                        self.weighted.add(c, weight_at(k), false);
                        self.total_patterns += 1;
                    }
                }
            }
            Some(out) => {
                let n = self.ring.len();
                for (k, (&new, slot)) in codes.iter().zip(out.iter_mut()).enumerate() {
                    let pos = self.ring_pos;
                    let (old, old_w) = (self.ring[pos], self.ring_weights[pos]);
                    let w = if new != NO_PATTERN { weight_at(k) } else { 0.0 };
                    self.ring[pos] = new;
                    self.ring_weights[pos] = w;
                    self.ring_pos = if pos + 1 == n { 0 } else { pos + 1 };
                    if new != NO_PATTERN {
                        self.weighted.add(new, w, true);
                    } else {
                        self.invalid_in_ring += 1;
                    }
                    if old != NO_PATTERN {
                        self.weighted.remove(old, old_w);
                    } else {
                        self.invalid_in_ring -= 1;
                    }
                    *slot = if self.invalid_in_ring != 0 {
                        f64::NAN
                    } else {
                        finish.apply(self.weighted.entropy_tracked())
                    };
                }
            }
        }
        self.history = junction;
    }

    /// Whole-series mode: the statistic over every sample fed so far. NaN if a non-finite
    /// sample was fed under `NanPolicy::Propagate`.
    pub fn value(&mut self) -> Result<f64> {
        if self.options.window.is_some() {
            return Err(Error::parameter(
                "value() is for whole-series estimators (window=None)",
            ));
        }
        let span = self.encoder.span();
        if self.encoder.seen() <= span as u64 {
            return Err(Error::new(
                crate::ErrorKind::EmptyInput,
                format!(
                    "need at least one ordinal pattern: at least (order-1)*delay + 1 = {} samples, got {}",
                    span + 1,
                    self.encoder.seen()
                ),
            ));
        }
        if self.saw_invalid {
            return Ok(f64::NAN);
        }
        let np = self.n_patterns;
        let finish = Finish::new(np, self.options.normalize);
        if self.options.weighted {
            return Ok(finish.apply(self.weighted.entropy_fresh()));
        }
        let n_items = self.total_patterns;
        let counts = self.merged_counts();
        let present = counts.iter().filter(|&&c| c > 0).count();
        let bits = scale_bits_for(n_items);
        let sum: i64 = counts.iter().map(|&c| fixed_xlogx(c as u64, bits)).sum();
        let h = if present == 1 {
            0.0
        } else {
            EntropyOfSum::new(n_items, bits).entropy(sum)
        };
        Ok(match self.options.statistic {
            Statistic::Entropy => finish.apply(h),
            Statistic::MissingPatterns => (np - present) as f64,
            Statistic::Complexity => {
                let scale = MixScale::new(n_items, np);
                let mix_sum: i64 = counts
                    .iter()
                    .map(|&c| mix_term_fixed(c, np, n_items, scale.bits))
                    .sum();
                complexity(h, scale.entropy(mix_sum, np - present), np)
            }
        })
    }

    /// Serialises the state. Rolling checkpoints hold the options, the encoder tail and
    /// the window's codes (and weights): O(window) bytes.
    pub fn checkpoint(&self) -> Vec<u8> {
        let mut w = Writer::new(TAG);
        let o = &self.options;
        w.u64(o.order as u64);
        w.u64(o.delay as u64);
        w.u64(o.window.map_or(0, |v| v as u64 + 1));
        w.bool(o.normalize);
        w.bool(o.weighted);
        w.u64(o.statistic.code());
        w.bool(o.nan_policy == NanPolicy::Propagate);
        self.encoder.write_state(&mut w);
        if o.window.is_some() {
            w.u32s(&self.ring);
            w.f64s(&self.ring_weights);
            w.u64(self.ring_pos as u64);
        } else {
            w.u64(self.total_patterns);
            w.bool(self.saw_invalid);
            if o.weighted {
                let mut entries: Vec<_> = self.weighted.patterns.iter().collect();
                entries.sort_by_key(|(k, _)| **k);
                w.u64(entries.len() as u64);
                for (code, e) in entries {
                    w.u64(*code as u64);
                    w.u64(e.count as u64);
                    e.sum.write(&mut w);
                }
                self.weighted.total.write(&mut w);
            } else {
                w.u32s(&self.merged_counts());
            }
        }
        w.finish()
    }

    /// Rebuilds an estimator from `checkpoint()` bytes.
    pub fn restore(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::open(bytes, TAG)?;
        let order = r.usize()?;
        let delay = r.usize()?;
        let window = match r.u64()? {
            0 => None,
            v => {
                Some(usize::try_from(v - 1).map_err(|_| Error::checkpoint("window out of range"))?)
            }
        };
        let options = PermutationOptions {
            order,
            delay,
            window,
            normalize: r.bool()?,
            weighted: r.bool()?,
            statistic: Statistic::from_code(r.u64()?)?,
            nan_policy: if r.bool()? {
                NanPolicy::Propagate
            } else {
                NanPolicy::Raise
            },
        };
        if let Some(w) = window {
            // The window's codes (4 bytes each) follow: check before allocating the ring.
            let span = crate::estimate::ordinal::check_embedding(order, delay)
                .map_err(|e| Error::checkpoint(e.message().to_string()))?;
            r.expect_items(w.saturating_sub(span), 4)?;
        }
        let mut est = Self::new(options).map_err(|e| Error::checkpoint(e.message().to_string()))?;
        est.encoder = OrdinalEncoder::read_state(&mut r)?;
        if est.encoder.order() != order || est.encoder.delay() != delay {
            return Err(Error::checkpoint("inconsistent ordinal encoder state"));
        }
        let np = est.n_patterns as u32;
        if window.is_some() {
            let ring = r.u32s()?;
            let weights = r.f64s()?;
            let pos = r.usize()?;
            if ring.len() != est.ring.len()
                || pos >= ring.len()
                || (options.weighted && weights.len() != ring.len())
                || (!options.weighted && !weights.is_empty())
                || ring.iter().any(|&c| c != NO_PATTERN && c >= np)
                || weights.iter().any(|w| !(0.0..=MAX_WEIGHT).contains(w))
            {
                return Err(Error::checkpoint("inconsistent window state"));
            }
            est.ring_pos = pos;
            est.invalid_in_ring = 0;
            for (k, &c) in ring.iter().enumerate() {
                if c == NO_PATTERN {
                    est.invalid_in_ring += 1;
                } else if options.weighted {
                    est.weighted.add(c, weights[k], true);
                } else {
                    let scales = est.scales.as_ref().expect("scales");
                    let n = est.counts[c as usize];
                    est.sum_xlogx += scales.xlogx.up(n);
                    if scales.mix.is_some() {
                        est.sum_mix += scales.mix_term(n + 1, est.n_patterns)
                            - scales.mix_term(n, est.n_patterns);
                    }
                    est.present += (n == 0) as usize;
                    est.counts[c as usize] = n + 1;
                }
            }
            est.ring = ring;
            if options.weighted {
                est.ring_weights = weights;
            }
        } else {
            est.total_patterns = r.u64()?;
            est.saw_invalid = r.bool()?;
            if options.weighted {
                let n = r.usize()?;
                if n > est.n_patterns {
                    return Err(Error::checkpoint("too many patterns in checkpoint"));
                }
                for _ in 0..n {
                    let code = r.u64()?;
                    let count = r.u64()?;
                    let sum = ExactSum::read(&mut r)?;
                    if code >= np as u64 || count == 0 || count > u32::MAX as u64 {
                        return Err(Error::checkpoint(
                            "inconsistent pattern weight in checkpoint",
                        ));
                    }
                    est.weighted.patterns.insert(
                        code as u32,
                        PatternWeight {
                            count: count as u32,
                            sum,
                            term: 0.0,
                        },
                    );
                }
                est.weighted.total = ExactSum::read(&mut r)?;
            } else {
                let counts = r.u32s()?;
                if counts.len() != est.n_patterns
                    || counts.iter().map(|&c| c as u64).sum::<u64>() != est.total_patterns
                {
                    return Err(Error::checkpoint(
                        "inconsistent pattern counts in checkpoint",
                    ));
                }
                est.counts[..counts.len()].copy_from_slice(&counts);
            }
        }
        r.finish()?;
        Ok(est)
    }
}

/// Rolling statistic over `x` (one value per sample, NaN where the window is incomplete).
pub fn rolling(x: &[f64], options: PermutationOptions) -> Result<Vec<f64>> {
    let mut out = crate::util::buffer::zeroed_f64(x.len());
    rolling_into(x, options, &mut out)?;
    Ok(out)
}

/// [`rolling`] into a caller's buffer of `x.len()` values.
///
/// A window longer than the whole input leaves every value NaN; it runs with the shortest
/// such window (`len + 1` samples), which gives the same output and the same errors
/// without reserving the memory of the requested window (4e9 samples would be 16 GiB).
pub fn rolling_into(x: &[f64], options: PermutationOptions, out: &mut [f64]) -> Result<()> {
    let Some(window) = options.window else {
        return Err(Error::parameter("rolling() needs a window"));
    };
    options.validate()?;
    let span = (options.order - 1) * options.delay;
    let run = PermutationOptions {
        window: Some(window.min(x.len().max(span) + 1)),
        ..options
    };
    // A fresh estimator that is dropped on error: the per-block scan is safe here.
    PermutationEstimator::new(run)?.update_with(x, out, NanCheck::PerBlock)
}

/// Whole-series statistic over `x`.
pub fn whole_series(x: &[f64], options: PermutationOptions) -> Result<f64> {
    let mut est = PermutationEstimator::new(PermutationOptions {
        window: None,
        ..options
    })?;
    // A fresh estimator that is dropped on error: the per-block scan is safe here, and
    // saves reading all of `x` from memory a second time.
    est.update_with(x, &mut [], NanCheck::PerBlock)?;
    est.value()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estimate::ordinal::pattern_code_at;

    fn walk(seed: u64, n: usize, levels: u64) -> Vec<f64> {
        let mut s = seed;
        let mut v = 0.0;
        (0..n)
            .map(|_| {
                s = crate::util::testing::lcg_step(s);
                v += ((s >> 33) % levels) as f64 - (levels / 2) as f64;
                v
            })
            .collect()
    }

    /// Direct float computation from the window's patterns: the obviously-correct path.
    fn reference(x: &[f64], o: PermutationOptions) -> f64 {
        let span = (o.order - 1) * o.delay;
        let np = factorial(o.order);
        let mut w = vec![0.0f64; np];
        for t in span..x.len() {
            let c = pattern_code_at(x, t, o.order, o.delay) as usize;
            w[c] += if o.weighted {
                embedding_variance(x, t, o.order, o.delay)
            } else {
                1.0
            };
        }
        let total: f64 = w.iter().sum();
        if total == 0.0 {
            return 0.0;
        }
        let h: f64 = -w
            .iter()
            .filter(|&&v| v > 0.0)
            .map(|&v| (v / total) * (v / total).ln())
            .sum::<f64>();
        let norm = if o.normalize { (np as f64).ln() } else { 1.0 };
        match o.statistic {
            Statistic::Entropy => h / norm,
            Statistic::MissingPatterns => w.iter().filter(|&&v| v == 0.0).count() as f64,
            Statistic::Complexity => {
                let u = 1.0 / np as f64;
                // Absent patterns as count * term (as ordpy does): summing d! equal float
                // terms one by one would make the reference itself the inaccurate side.
                let missing = w.iter().filter(|&&v| v == 0.0).count() as f64;
                let present: f64 = w
                    .iter()
                    .filter(|&&v| v > 0.0)
                    .map(|&v| (v / total + u) / 2.0)
                    .map(|m| m * m.ln())
                    .sum();
                let hm = -present - missing * (u / 2.0) * (u / 2.0).ln();
                complexity(h, hm, np)
            }
        }
    }

    fn all_options() -> Vec<PermutationOptions> {
        let mut v = Vec::new();
        for order in [2, 3, 4, 6, 9] {
            for delay in [1, 3] {
                for (weighted, statistic) in [
                    (false, Statistic::Entropy),
                    (true, Statistic::Entropy),
                    (false, Statistic::Complexity),
                    (false, Statistic::MissingPatterns),
                ] {
                    for normalize in [true, false] {
                        v.push(PermutationOptions {
                            order,
                            delay,
                            window: None,
                            normalize,
                            weighted,
                            statistic,
                            nan_policy: NanPolicy::Raise,
                        });
                    }
                }
            }
        }
        v
    }

    #[test]
    fn whole_series_matches_reference() {
        for o in all_options() {
            for levels in [3u64, 50] {
                let x = walk(o.order as u64 + levels, 700, levels);
                let got = whole_series(&x, o).unwrap();
                let want = reference(&x, o);
                assert!(
                    (got - want).abs() < 1e-12,
                    "{o:?} levels={levels}: {got} vs {want}"
                );
            }
        }
    }

    #[test]
    fn rolling_equals_whole_series_of_each_window_bit_for_bit() {
        for o in all_options().into_iter().filter(|o| o.order <= 6) {
            let x = walk(7 + o.order as u64, 300, 4);
            let window = (o.order - 1) * o.delay + 40;
            let ro = PermutationOptions {
                window: Some(window),
                ..o
            };
            let got = rolling(&x, ro).unwrap();
            for t in 0..x.len() {
                if t + 1 < window {
                    assert!(got[t].is_nan());
                    continue;
                }
                let want = whole_series(&x[t + 1 - window..=t], o).unwrap();
                assert_eq!(
                    got[t].to_bits(),
                    want.to_bits(),
                    "{o:?} t={t}: {} vs {want}",
                    got[t]
                );
            }
        }
    }

    #[test]
    fn chunking_and_checkpoints_are_invisible() {
        for o in all_options().into_iter().filter(|o| o.order <= 5) {
            let x = walk(99, 500, 5);
            let ro = PermutationOptions {
                window: Some(60),
                ..o
            };
            let one_pass = rolling(&x, ro).unwrap();
            for chunk in [1usize, 3, 17, 128] {
                let mut est = PermutationEstimator::new(ro).unwrap();
                let mut got = Vec::new();
                for (i, part) in x.chunks(chunk).enumerate() {
                    if i % 3 == 2 {
                        est = PermutationEstimator::restore(&est.checkpoint()).unwrap();
                    }
                    let mut out = vec![0.0; part.len()];
                    est.update(part, &mut out).unwrap();
                    got.extend(out);
                }
                let same = got
                    .iter()
                    .zip(&one_pass)
                    .all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "{o:?} chunk={chunk}");
            }
            // Whole-series mode too.
            let mut est = PermutationEstimator::new(o).unwrap();
            for part in x.chunks(37) {
                est.update(part, &mut []).unwrap();
                est = PermutationEstimator::restore(&est.checkpoint()).unwrap();
            }
            assert_eq!(
                est.value().unwrap().to_bits(),
                whole_series(&x, o).unwrap().to_bits()
            );
        }
    }

    #[test]
    fn nan_propagates_then_recovers() {
        let mut x = walk(3, 200, 7);
        x[100] = f64::NAN;
        let o = PermutationOptions {
            window: Some(20),
            nan_policy: NanPolicy::Propagate,
            ..Default::default()
        };
        let got = rolling(&x, o).unwrap();
        for (t, v) in got.iter().enumerate() {
            let has_nan = (100..120).contains(&t);
            assert_eq!(v.is_nan(), t < 19 || has_nan, "t={t}");
        }
        let mut clean = x.clone();
        clean[100] = 0.0;
        let reference = rolling(
            &clean,
            PermutationOptions {
                nan_policy: NanPolicy::Raise,
                ..o
            },
        )
        .unwrap();
        assert_eq!(got[150].to_bits(), reference[150].to_bits());
        let err = rolling(
            &x,
            PermutationOptions {
                nan_policy: NanPolicy::Raise,
                ..o
            },
        )
        .unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::NonFinite { index: 100 });
        assert!(whole_series(&x, PermutationOptions { window: None, ..o })
            .unwrap()
            .is_nan());
    }

    /// The one-shot functions scan for non-finite samples block by block (one pass over
    /// the input instead of two); the error must be the one the up-front scan of `update`
    /// gives: the first bad index of the whole input, in any block, and before any other
    /// data error.
    #[test]
    fn one_shot_functions_report_the_first_non_finite_sample_of_the_input() {
        for bad in [0usize, 1, 4095, 4096, 10_000, 12_287] {
            let mut x = walk(5, 12_288, 9);
            x[bad] = f64::NEG_INFINITY;
            x[12_000.max(bad + 1).min(12_287)] = f64::NAN;
            for order in [3usize, 7] {
                let expected = PermutationEstimator::new(PermutationOptions {
                    order,
                    ..Default::default()
                })
                .unwrap()
                .update(&x, &mut [])
                .unwrap_err();
                assert_eq!(expected.kind(), crate::ErrorKind::NonFinite { index: bad });
                for window in [None, Some(64)] {
                    let o = PermutationOptions {
                        order,
                        window,
                        ..Default::default()
                    };
                    let err = match window {
                        None => whole_series(&x, o).unwrap_err(),
                        Some(_) => rolling(&x, o).unwrap_err(),
                    };
                    assert_eq!(err.kind(), expected.kind(), "bad={bad} window={window:?}");
                    assert_eq!(err.message(), expected.message());
                }
            }
        }
        // Weighted: a non-finite sample wins over a too-large one that comes before it.
        let mut x = walk(6, 9000, 9);
        x[10] = 1e200;
        x[8000] = f64::NAN;
        let o = PermutationOptions {
            weighted: true,
            ..Default::default()
        };
        let err = whole_series(&x, o).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::NonFinite { index: 8000 });
    }

    /// The whole-series value does not depend on how the series is chunked, and the
    /// one-shot function agrees with the streaming estimator, across block edges.
    #[test]
    fn whole_series_is_chunk_invariant_across_blocks() {
        let x = walk(8, 20_000, 5);
        for order in [2usize, 3, 4, 7, 10] {
            for delay in [1usize, 3] {
                let o = PermutationOptions {
                    order,
                    delay,
                    ..Default::default()
                };
                let one = whole_series(&x, o).unwrap();
                for chunk in [1000usize, 4096, 4097, 20_000] {
                    let mut est = PermutationEstimator::new(o).unwrap();
                    for c in x.chunks(chunk) {
                        est.update(c, &mut []).unwrap();
                    }
                    let got = est.value().unwrap();
                    assert_eq!(
                        got.to_bits(),
                        one.to_bits(),
                        "d={order} tau={delay} chunk={chunk}"
                    );
                }
                let reference = reference(&x, o);
                assert!(
                    (one - reference).abs() < 1e-12,
                    "d={order}: {one} vs {reference}"
                );
            }
        }
    }

    #[test]
    fn normalized_values_never_exceed_one() {
        // An exactly uniform window evaluates ln N - S/N with rounded terms and could land
        // an ulp above ln(d!); the result is clamped to the mathematical range.
        let uniform_weighted = [0.0, 3.0, 0.0];
        let alternating: Vec<f64> = (0..41).map(|i| (i % 2) as f64).collect();
        for (x, weighted) in [(&uniform_weighted[..], true), (&alternating[..], false)] {
            for normalize in [true, false] {
                let o = PermutationOptions {
                    order: 2,
                    weighted,
                    normalize,
                    ..Default::default()
                };
                let max = if normalize { 1.0 } else { 2f64.ln() };
                let whole = whole_series(x, o).unwrap();
                assert!(whole <= max, "{whole} > {max}");
                let roll = rolling(
                    x,
                    PermutationOptions {
                        window: Some(x.len()),
                        ..o
                    },
                )
                .unwrap();
                assert_eq!(roll[x.len() - 1].to_bits(), whole.to_bits());
            }
        }
        // Many small uniform-ish windows of every order: never above the maximum.
        for order in 2..=5 {
            for levels in [2u64, 3, 50] {
                let x = walk(order as u64 * levels, 3000, levels);
                for weighted in [false, true] {
                    let o = PermutationOptions {
                        order,
                        window: Some(order + 5),
                        weighted,
                        ..Default::default()
                    };
                    let v = rolling(&x, o).unwrap();
                    assert!(v.iter().all(|h| h.is_nan() || (0.0..=1.0).contains(h)));
                }
            }
        }
    }

    #[test]
    fn weighted_entropy_keeps_precision_for_subnormal_weights() {
        assert_eq!(TERM_SCALE, 2f64.powi(300));
        // Two patterns (codes 1 and 3) with equal variances of 4.7e-319, a subnormal: the
        // entropy is ln 2 by hand. Unscaled w ln w terms gave 0.3868513 instead of
        // ln 2 / ln 6 = 0.3868528.
        let x = [0.0, 1.457256017387996e-159, 0.0, 0.0];
        let o = PermutationOptions {
            weighted: true,
            ..Default::default()
        };
        let h = whole_series(&x, o).unwrap();
        // ln T - S/T cancels two numbers near ln(4.7e-319) = -733: a few ulps of 733.
        assert!((h - 2f64.ln() / 6f64.ln()).abs() < 1e-13, "{h}");
        // The largest accepted weights keep finite sums too.
        let big: Vec<f64> = walk(3, 2000, 50)
            .iter()
            .map(|v| v * 1e98 / 2000.0)
            .collect();
        let h_big = whole_series(&big, o).unwrap();
        let h_small = whole_series(&big.iter().map(|v| v * 1e-98).collect::<Vec<_>>(), o).unwrap();
        assert!(
            h_big.is_finite() && (h_big - h_small).abs() < 1e-12,
            "{h_big} {h_small}"
        );
    }

    #[test]
    fn weighted_rejects_magnitudes_whose_variance_would_overflow() {
        // |x| ~ 1e200: the variances overflow to infinity; this used to give a silent 0.
        let x = [1e200, -1e200, 3e200, 0.5e200, 2e200, -1e200, 7e200];
        let o = PermutationOptions {
            weighted: true,
            ..Default::default()
        };
        let e = whole_series(&x, o).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::InvalidParameter);
        assert!(
            e.message().contains("1e100") && e.message().contains("1e200 at index 0"),
            "{}",
            e.message()
        );
        // Near the limit the value is the one of the rescaled series (scale invariance).
        let scaled: Vec<f64> = x.iter().map(|v| v * 1e-101).collect();
        let small: Vec<f64> = x.iter().map(|v| v * 1e-200).collect();
        let a = whole_series(&scaled, o).unwrap();
        let b = whole_series(&small, o).unwrap();
        assert!((a - b).abs() < 1e-12 && a > 0.1, "{a} vs {b}");
        // The error leaves the state untouched and names the stream position.
        let mut est = PermutationEstimator::new(PermutationOptions {
            window: Some(4),
            ..o
        })
        .unwrap();
        let mut out = [0.0; 3];
        est.update(&small[..3], &mut out).unwrap();
        let mut out = [0.0; 2];
        let e = est.update(&[1.0, -2e150], &mut out).unwrap_err();
        assert!(
            e.message().contains("sample 4 of the stream"),
            "{}",
            e.message()
        );
        assert_eq!(est.samples_seen(), 3);
        // Non-finite samples stay the NaN policy's business.
        let nan_ok = PermutationOptions {
            nan_policy: NanPolicy::Propagate,
            ..o
        };
        assert!(whole_series(&[1.0, f64::INFINITY, 2.0, 0.0], nan_ok)
            .unwrap()
            .is_nan());
    }

    #[test]
    fn huge_windows_and_delays_reserve_no_memory_up_front() {
        // These used to reserve (delay) or fill (window) tens of GiB, or abort the process.
        let x = walk(5, 100, 7);
        let o = PermutationOptions {
            window: Some(u32::MAX as usize),
            ..Default::default()
        };
        assert!(rolling(&x, o).unwrap().iter().all(|v| v.is_nan()));
        let e = whole_series(
            &x,
            PermutationOptions {
                delay: 1 << 38,
                ..Default::default()
            },
        )
        .unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::EmptyInput);
        // A checkpoint that claims a window it does not hold fails before allocating it.
        let est = PermutationEstimator::new(PermutationOptions {
            window: Some(10),
            ..Default::default()
        })
        .unwrap();
        let mut bytes = est.checkpoint();
        let at = 4 + 4 + 8 + TAG.len() + 16; // magic, version, tag, order, delay
        bytes[at..at + 8].copy_from_slice(&(u32::MAX as u64 + 1).to_le_bytes());
        // Re-seal the checksum so the bytes pass it and reach the size check.
        let body = bytes.len() - 8;
        let sum = crate::util::checkpoint::fnv1a(&bytes[..body]);
        bytes[body..].copy_from_slice(&sum.to_le_bytes());
        let e = PermutationEstimator::restore(&bytes).unwrap_err();
        assert!(e.message().contains("truncated"), "{}", e.message());
    }

    #[test]
    fn constant_series_has_zero_entropy_and_maximal_missing() {
        let x = vec![1.0; 50];
        for weighted in [false, true] {
            let o = PermutationOptions {
                weighted,
                ..Default::default()
            };
            assert_eq!(whole_series(&x, o).unwrap(), 0.0);
        }
        let o = PermutationOptions {
            statistic: Statistic::MissingPatterns,
            ..Default::default()
        };
        assert_eq!(whole_series(&x, o).unwrap(), 5.0);
    }

    #[test]
    fn no_drift_after_many_updates() {
        // Long stream through a small window; the final value equals a fresh computation.
        let x = walk(11, 2_000_000, 9);
        let o = PermutationOptions {
            window: Some(256),
            order: 5,
            ..Default::default()
        };
        let got = rolling(&x, o).unwrap();
        let fresh = whole_series(&x[x.len() - 256..], o).unwrap();
        assert_eq!(got[x.len() - 1].to_bits(), fresh.to_bits());
    }

    #[test]
    fn bad_options_are_rejected_with_limits() {
        let e = PermutationEstimator::new(PermutationOptions {
            window: Some(2),
            ..Default::default()
        })
        .unwrap_err();
        assert!(e.message().contains("window >= 3"), "{}", e.message());
        let e = whole_series(&[1.0, 2.0], PermutationOptions::default()).unwrap_err();
        assert!(e.message().contains("got 2"));
        let bytes = PermutationEstimator::new(PermutationOptions::default())
            .unwrap()
            .checkpoint();
        assert!(PermutationEstimator::restore(&bytes[..bytes.len() - 1]).is_err());
        let mut corrupted = bytes.clone();
        let n = corrupted.len();
        corrupted[n - 9] ^= 0xff;
        let _ = PermutationEstimator::restore(&corrupted); // error or valid, never a panic
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<PermutationEstimator>();
    }

    /// Whole-series order 3 counts from comparison bit words (any delay, ties, NaN or
    /// infinity under `propagate`, any chunking): the same pattern counts as the encoder
    /// writing one code per sample and counting them, hence the same value bit for bit.
    #[test]
    fn order_three_bit_counts_equal_the_encoded_counts() {
        use proptest::prelude::*;
        let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(300));
        let strategy = (
            any::<u64>(),
            1usize..12_000,
            1u64..40,
            prop::sample::select(vec![1usize, 2, 3, 31, 32, 33, 64, 2500]),
            prop::collection::vec(0usize..12_000, 0..4),
            prop::collection::vec(1usize..9000, 1..4),
        );
        runner
            .run(&strategy, |(seed, n, levels, delay, bad, cuts)| {
                prop_assume!(n > 2 * delay);
                let mut x = walk(seed, n, levels);
                for (k, &b) in bad.iter().enumerate() {
                    if b < n {
                        x[b] = [f64::NAN, f64::INFINITY][k % 2];
                    }
                }
                let o = PermutationOptions {
                    order: 3,
                    delay,
                    nan_policy: NanPolicy::Propagate,
                    statistic: Statistic::MissingPatterns,
                    ..Default::default()
                };
                // The reference: codes from the encoder, counted one by one.
                let mut enc = OrdinalEncoder::new(3, delay).unwrap();
                let mut codes = vec![0u32; n];
                enc.encode(&x, &mut codes);
                let mut want = [0u32; 6];
                for &c in codes.iter().filter(|&&c| c != NO_PATTERN) {
                    want[c as usize] += 1;
                }
                let mut est = PermutationEstimator::new(o).unwrap();
                let mut at = 0;
                for &c in cuts.iter().chain(std::iter::once(&n)) {
                    let end = (at + c).min(n);
                    est.update(&x[at..end], &mut []).unwrap();
                    at = end;
                }
                est.update(&x[at..], &mut []).unwrap();
                let got = est.merged_counts();
                prop_assert_eq!(&got[..], &want[..]);
                for (stat, norm) in [(Statistic::Entropy, true), (Statistic::Complexity, false)] {
                    let o = PermutationOptions {
                        statistic: stat,
                        normalize: norm,
                        ..o
                    };
                    let mut est = PermutationEstimator::new(o).unwrap();
                    for part in x.chunks(cuts[0]) {
                        est.update(part, &mut []).unwrap();
                    }
                    let v = est.value().unwrap();
                    prop_assert_eq!(v.to_bits(), whole_series(&x, o).unwrap().to_bits());
                }
                Ok(())
            })
            .unwrap();
    }

    /// Whole-series counts for every order 2..=10 against the plain reference (each
    /// pattern argsorted on its own), relabelled to lexicographic codes: random walks with
    /// many levels, tie-heavy ones with two to four levels, monotone and constant series,
    /// delays up to past the stream encoder's span limit, lengths across the 512-sample
    /// sub-blocks and 4096-sample blocks, fed in one call and in arbitrary chunks, with and
    /// without non-finite samples (`propagate`; under `raise` the first one is reported).
    #[test]
    fn whole_series_counts_equal_the_reference_for_every_order() {
        use crate::estimate::ordinal::to_lexicographic;
        use proptest::prelude::*;
        let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(256));
        let strategy = (
            2usize..=10,
            any::<u64>(),
            1usize..10_000,
            prop::sample::select(vec![2u64, 3, 4, 1000, 1 << 30]),
            prop::sample::select(vec![0u8, 0, 0, 0, 1, 2, 3]),
            prop::sample::select(vec![1usize, 1, 1, 2, 3, 7, 56, 57, 64, 256, 257]),
            prop::collection::vec(0usize..10_000, 0..3),
            prop::collection::vec(1usize..9000, 1..4),
        );
        runner
            .run(
                &strategy,
                |(order, seed, n, levels, shape, delay, bad, cuts)| {
                    let span = (order - 1) * delay;
                    prop_assume!(n > span);
                    let mut x = match shape {
                        0 => walk(seed, n, levels),
                        1 => (0..n).map(|i| i as f64).collect(),
                        2 => (0..n).map(|i| -(i as f64)).collect(),
                        _ => vec![1.5; n],
                    };
                    let mut first_bad = None;
                    for (k, &b) in bad.iter().enumerate() {
                        if b < n {
                            x[b] = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY][k % 3];
                            first_bad = Some(first_bad.map_or(b, |f: usize| f.min(b)));
                        }
                    }
                    let np = factorial(order);
                    let mut want = vec![0u32; np];
                    for t in span..n {
                        if x[t - span..=t].iter().all(|v| v.is_finite()) {
                            want[pattern_code_at(&x, t, order, delay) as usize] += 1;
                        }
                    }
                    let lexicographic = |counts: &[u32]| {
                        let mut lex = vec![0u32; np];
                        for (code, &c) in counts.iter().enumerate().filter(|(_, &c)| c > 0) {
                            let mut l = [code as u32];
                            to_lexicographic(&mut l, order);
                            lex[l[0] as usize] += c;
                        }
                        lex
                    };
                    let o = PermutationOptions {
                        order,
                        delay,
                        nan_policy: NanPolicy::Propagate,
                        ..Default::default()
                    };
                    // One call through the per-block path, then chunked streaming updates.
                    let mut one = PermutationEstimator::new(o).unwrap();
                    one.update_with(&x, &mut [], NanCheck::PerBlock).unwrap();
                    prop_assert_eq!(lexicographic(&one.merged_counts()), want.clone());
                    let mut est = PermutationEstimator::new(o).unwrap();
                    let mut at = 0;
                    for &c in cuts.iter() {
                        let end = (at + c).min(n);
                        est.update(&x[at..end], &mut []).unwrap();
                        at = end;
                    }
                    est.update(&x[at..], &mut []).unwrap();
                    prop_assert_eq!(lexicographic(&est.merged_counts()), want);
                    let raise = PermutationOptions {
                        nan_policy: NanPolicy::Raise,
                        ..o
                    };
                    match (first_bad, whole_series(&x, raise)) {
                        (Some(i), Err(e)) => {
                            prop_assert_eq!(e.kind(), crate::ErrorKind::NonFinite { index: i })
                        }
                        (None, Ok(v)) => {
                            prop_assert_eq!(v.to_bits(), est.value().unwrap().to_bits())
                        }
                        (b, r) => prop_assert!(false, "first bad {:?}, got {:?}", b, r),
                    }
                    Ok(())
                },
            )
            .unwrap();
    }
}
