//! The rule engine: from a score signal `s[t]` to segment boundaries.
//!
//! # Native rules
//!
//! A segment *starts* at `t` when the rule fires at `t`; the first segment starts at 0.
//! - `threshold`: fires when `s[t] > theta`;
//! - `relative`: fires when `s[t] - s[t-1] > theta_r` (`t >= 1`);
//! - with both, `combine` must say `And` or `Or` (there is no hidden precedence).
//!
//! A NaN score never fires (estimator warm-up, or windows holding a NaN), and neither
//! does a relative rule whose previous score is NaN.
//!
//! Hard lengths, applied while scanning left to right:
//! - `min_len`: a firing at `t` is ignored while the current segment is shorter than
//!   `min_len` (`t - start < min_len`);
//! - `max_len`: when the current segment reaches `max_len` samples and the rule does not
//!   fire at `start + max_len`, the segment is split at the admissible position with the
//!   highest score: the split point `p` ranges over `[start + min_len, start + max_len]`
//!   (both resulting lengths stay legal), NaN scores count as lowest, and ties go to
//!   the latest position (the longest segment). This is a running maximum over a
//!   monotone deque, O(1) amortised per sample, and it commits the split with a delay
//!   of at most `max_len - min_len` samples.
//!
//! Hence every segment but the last has `min_len <= len <= max_len`, and the last has
//! `len <= max_len`; lengths sum to the number of samples.
//!
//! `target_len` calibrates `theta` so that the mean segment length comes closest to the
//! target: exactly in batch mode ([`calibrate_threshold`]: a search over the score
//! values that counts segments by running the rules themselves at each probe; on long
//! arrays a sample places a bracket and one pass over the scores serves every probe and
//! the final cut, see `sampled`), or online in streaming mode (a deterministic
//! controller, see [`Calibration::Online`]).
//!
//! Every segment carries the reason it started: [`reason`].
//!
//! # Presets
//!
//! [`Preset::Blt`] and [`Preset::Entrope`] reproduce the patchers published with the
//! Byte Latent Transformer and with EntroPE on the same entropy arrays, including their
//! `+1` alignment (a high entropy at `t` starts a patch at `t + 1`), their forced first
//! patches, their float32 arithmetic, and their maximum-length split from the left. The
//! rules are spelled out on each variant.

use crate::error::{Error, Result};
use crate::segment::fit::{calibrate_level, Fit, PriceEngine};
use crate::util::checkpoint::{Reader, Writer};

/// Why a segment started (one byte per segment).
pub mod reason {
    /// The first segment of a series (and the forced first patches of the presets).
    pub const START: u8 = 0;
    /// The threshold rule fired.
    pub const THRESHOLD: u8 = 1;
    /// The relative rule fired.
    pub const RELATIVE: u8 = 2;
    /// Both rules fired (combine = and, or both true under or).
    pub const BOTH: u8 = 3;
    /// A split forced by `max_len`.
    pub const MAX_LEN: u8 = 4;
    /// Names, indexed by code.
    pub const NAMES: [&str; 5] = ["start", "threshold", "relative", "both", "max_len"];
}

/// How two rules combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Combine {
    /// Both must fire.
    And,
    /// Either fires.
    Or,
}

/// How `target_len` calibrates the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Calibration {
    /// Search the threshold over the whole score array (one-shot calls only).
    #[default]
    Batch,
    /// A deterministic controller that adjusts the threshold as the stream goes:
    /// `theta += GAIN * spread * (started - 1/target_len)` per sample, where `started` is
    /// 1 when a segment started at that sample (any reason) and `spread` is an
    /// exponential moving average of `|s - mean|` (rate `1/(8 target_len)`; over the first
    /// `8 target_len` finite scores a plain running average, so the spread is known from
    /// the start instead of growing from 0). Starting from the first finite score, it
    /// drives the start rate to `1/target_len`, so the mean length converges to the
    /// target on stationary signals and tracks slow changes.
    ///
    /// After that warm-up it acts once per block of 64 positions (aligned to multiples
    /// of 64 from the start of the stream): the threshold holds within a block (so the
    /// block is scanned 64 scores at a time, like a fixed threshold). The threshold is
    /// then kept as `mean + spread * z`: at the block's end `z += GAIN * (starts -
    /// 64/target_len)` and the mean and spread take the block's finite scores at once
    /// (weight `1 - (1 - rate)^f` for `f` finite scores). `z` integrates the start error,
    /// so on a stationary stream the long-run mean length is the target itself, and a
    /// change of level or spread moves the threshold with it. Streaming-safe and
    /// chunk-invariant.
    Online,
}

/// Gain of the online controller (in units of the score spread per segment).
pub const ONLINE_GAIN: f64 = 0.1;

/// Modes of the BLT preset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BltMode {
    /// `entropies > threshold`.
    Global,
    /// `monotonicity=True`: entropy increase over the previous token `> threshold`.
    Monotonic,
    /// `threshold_add` given: increase `> threshold_add` and entropy `> threshold`.
    Combined,
}

/// Modes of the EntroPE preset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntropeMode {
    /// Entropy above its per-sequence quantile.
    Global,
    /// Entropy increase above the per-sequence quantile of the increases.
    Monotonic,
}

/// A published patcher, reproduced exactly.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Preset {
    /// BLT's `find_entropy_patch_start_ids(..., include_next_token=False)` followed by
    /// `split_large_numbers` (bytelatent/data/patcher.py). Entropies and thresholds are
    /// rounded to float32 first, as BLT does. With `e` the entropies and `n` their count,
    /// patches start at 0 and at 1; for `2 <= p <= n - 1`:
    /// - `Global`: at `p` when `e[p-1] > threshold`;
    /// - `Monotonic`: always at 2; at `p >= 3` when `e[p-1] - e[p-2] > relative`
    ///   (BLT's `threshold` in that mode);
    /// - `Combined`: always at 2, never at 3; at `p >= 4` when
    ///   `e[p-1] - e[p-2] > relative` (BLT's `threshold_add`) and `e[p-1] > threshold`.
    ///
    /// With `max_len`, each patch longer than `max_len` is cut from the left into
    /// `max_len`-sized pieces and a remainder. `min_len` must be 1.
    Blt {
        /// Which of BLT's rules.
        mode: BltMode,
        /// BLT's `threshold` (unused by `Monotonic`).
        threshold: f64,
        /// BLT's monotonic threshold / `threshold_add` (unused by `Global`).
        relative: f64,
    },
    /// EntroPE's `find_entropy_patch_start_ids(..., include_next_token=False)` in its
    /// quantile mode (layers/Patcher.py), with its `max_patch_length` split. Entropies are
    /// rounded to float32; the threshold is `torch.quantile(x, q)` (linear interpolation,
    /// float32 arithmetic) of the whole sequence. Patches start at 0; for
    /// `1 <= p <= n - 1`:
    /// - `Global`: at `p` when `e[p-1] > quantile(e, q)`;
    /// - `Monotonic`: always at 1; at `p >= 2` when `e[p-1] - e[p-2] > quantile(d, q)`
    ///   with `d` the `n - 1` increases `e[i+1] - e[i]`.
    ///
    /// A NaN anywhere makes the quantile NaN, so only forced starts remain (torch does
    /// the same). A sequence of one value is one patch (torch's quantile rejects the
    /// empty increases of the monotonic mode; we return the single patch). Needs the
    /// whole sequence, so it is not available to the streaming `Segmenter`.
    Entrope {
        /// Which of EntroPE's rules.
        mode: EntropeMode,
        /// The quantile `q` in [0, 1].
        quantile: f64,
    },
}

/// The rules of a segmentation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rules {
    /// `s[t] > threshold` fires.
    pub threshold: Option<f64>,
    /// `s[t] - s[t-1] > relative` fires.
    pub relative: Option<f64>,
    /// How `threshold` and `relative` combine; required when both are in use.
    pub combine: Option<Combine>,
    /// Shortest segment (all but the last).
    pub min_len: usize,
    /// Longest segment.
    pub max_len: Option<usize>,
    /// Calibrate the threshold to this mean length.
    pub target_len: Option<f64>,
    /// Calibrate one threshold so that a whole batch of series has this many segments
    /// in all (see [`calibrate_budget`]); one series is a batch of one.
    pub budget: Option<u64>,
    /// How `target_len` is met.
    pub calibration: Calibration,
    /// A published patcher instead of the native rules.
    pub preset: Option<Preset>,
    /// The fit rule (method "line"): the threshold prices the residual increase of the
    /// open segment's least-squares fit instead of a score (see [`crate::segment::fit`]).
    pub fit: Option<Fit>,
    /// The accumulate rule: the threshold applies to the sum of the open segment's
    /// scores (equal-information segments; see [`crate::segment::fit`]).
    pub accumulate: bool,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            threshold: None,
            relative: None,
            combine: None,
            min_len: 1,
            max_len: None,
            target_len: None,
            budget: None,
            calibration: Calibration::Batch,
            preset: None,
            fit: None,
            accumulate: false,
        }
    }
}

fn finite_option(name: &str, v: Option<f64>) -> Result<()> {
    match v {
        Some(x) if !x.is_finite() => Err(Error::parameter(format!(
            "{name} must be a finite number, got {x}"
        ))),
        _ => Ok(()),
    }
}

impl Rules {
    /// True when the rules need the whole score array before deciding anything (batch
    /// calibration of `target_len`, the EntroPE preset's per-sequence quantile), so they
    /// cannot stream.
    pub fn needs_whole_scores(&self) -> bool {
        matches!(self.preset, Some(Preset::Entrope { .. }))
            || (self.target_len.is_some() && self.calibration == Calibration::Batch)
            || self.budget.is_some()
    }

    /// Checks the options and their combinations.
    pub fn validate(&self) -> Result<()> {
        if self.min_len < 1 {
            return Err(Error::parameter(format!(
                "min_len must be >= 1, got {}",
                self.min_len
            )));
        }
        if let Some(m) = self.max_len {
            if m < 1 {
                return Err(Error::parameter(format!("max_len must be >= 1, got {m}")));
            }
            if self.min_len > m {
                return Err(Error::parameter(format!(
                    "min_len must be <= max_len, got min_len={} > max_len={m}",
                    self.min_len
                )));
            }
        }
        if let Some(p) = self.preset {
            if self.fit.is_some() {
                return Err(Error::parameter(
                    "method='line' has its own rule: presets do not apply",
                ));
            }
            if self.accumulate {
                return Err(Error::parameter(
                    "accumulate applies to the native threshold, not to presets",
                ));
            }
            return self.validate_preset(p);
        }
        if self.accumulate {
            if self.fit.is_some() {
                return Err(Error::parameter(
                    "method='line' has its own rule: accumulate does not apply",
                ));
            }
            if self.relative.is_some() || self.combine.is_some() {
                return Err(Error::parameter(
                    "accumulate compares the open segment's summed scores with threshold: \
                     relative and combine do not apply",
                ));
            }
        }
        if let Some(fit) = self.fit {
            fit.validate()?;
            if self.relative.is_some() || self.combine.is_some() {
                return Err(Error::parameter(
                    "method='line' cuts on its fit's residual: relative and combine do not \
                     apply (give threshold or target_len)",
                ));
            }
        }
        finite_option("threshold", self.threshold)?;
        finite_option("relative", self.relative)?;
        self.validate_budget()?;
        if let Some(target) = self.target_len {
            if self.threshold.is_some() {
                return Err(Error::parameter(
                    "target_len calibrates the threshold: give either threshold or target_len, \
                     not both",
                ));
            }
            let hi = self.max_len.map_or(f64::INFINITY, |m| m as f64);
            if !(target.is_finite() && target >= self.min_len as f64 && target <= hi) {
                return Err(Error::parameter(format!(
                    "target_len must lie in [min_len, max_len] = [{}, {}], got {target}",
                    self.min_len,
                    self.max_len.map_or("inf".to_string(), |m| m.to_string())
                )));
            }
        }
        let uses_threshold =
            self.threshold.is_some() || self.target_len.is_some() || self.budget.is_some();
        let both = uses_threshold && self.relative.is_some();
        match (both, self.combine) {
            (true, None) => {
                return Err(Error::parameter(
                    "both a threshold (or target_len or budget) and relative are given: say how \
                     they combine with combine='and' or combine='or'",
                ))
            }
            (false, Some(_)) => {
                return Err(Error::parameter(
                    "combine applies only when both a threshold (or target_len) and relative \
                     are given",
                ))
            }
            _ => {}
        }
        if !uses_threshold && self.relative.is_none() && self.max_len.is_none() {
            return Err(Error::parameter(
                "no rule given: pass threshold, relative, target_len, budget, max_len or a \
                 preset",
            ));
        }
        Ok(())
    }

    /// `budget` is a count of segments met by one batch calibration: it excludes the
    /// other ways of setting the threshold.
    fn validate_budget(&self) -> Result<()> {
        let Some(budget) = self.budget else {
            return Ok(());
        };
        if budget < 1 {
            return Err(Error::parameter(format!(
                "budget must be >= 1, got {budget}"
            )));
        }
        if let Some(target) = self.target_len {
            return Err(Error::parameter(format!(
                "give either budget (the total number of segments of the batch, got \
                 {budget}) or target_len (a mean length per series, got {target}), not both"
            )));
        }
        if let Some(threshold) = self.threshold {
            return Err(Error::parameter(format!(
                "budget calibrates the threshold: give either threshold (got {threshold}) \
                 or budget (got {budget}), not both"
            )));
        }
        if self.calibration == Calibration::Online {
            return Err(Error::parameter(
                "budget is met by one calibration over the whole batch: \
                 calibration='online' does not apply (leave calibration unset)",
            ));
        }
        Ok(())
    }

    fn validate_preset(&self, preset: Preset) -> Result<()> {
        if self.min_len != 1 {
            return Err(Error::parameter(format!(
                "presets have no minimum length: min_len must be 1, got {}",
                self.min_len
            )));
        }
        if self.target_len.is_some() || self.budget.is_some() || self.combine.is_some() {
            return Err(Error::parameter(
                "presets take their own rules: target_len, budget and combine do not apply",
            ));
        }
        match preset {
            Preset::Blt {
                threshold,
                relative,
                ..
            } => {
                finite_option("threshold", Some(threshold))?;
                finite_option("relative", Some(relative))?;
            }
            Preset::Entrope { quantile, .. } => {
                if !(0.0..=1.0).contains(&quantile) {
                    return Err(Error::parameter(format!(
                        "quantile must be in [0, 1], got {quantile}"
                    )));
                }
            }
        }
        Ok(())
    }
}

/// A fixed threshold: a score above `value` fires; a score equal to it fires at the
/// positions `t` with `tie_rank(t) < tie_cut` (never when `tie_cut` is 0, the threshold
/// a caller gives). Batch calibration sets `tie_cut` to break ties deterministically.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Threshold {
    /// The score threshold.
    pub value: f64,
    /// Tied scores fire where the position's [`tie_rank`] is below this.
    pub tie_cut: u64,
}

impl Threshold {
    /// Scores strictly above `value` fire (no ties).
    pub fn above(value: f64) -> Self {
        Self { value, tie_cut: 0 }
    }
}

/// The rank by which tied scores fire: a fixed bijective mix of the absolute position
/// (the SplitMix64 finaliser), so ties are broken the same way by every pass and chunking.
#[inline]
pub fn tie_rank(t: u64) -> u64 {
    let mut z = t.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// One closed segment: its first index, its length and why it started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// Index of the first sample (counted from the start of the stream or series).
    pub start: u64,
    /// Number of samples (>= 1).
    pub len: u64,
    /// A [`reason`] code.
    pub reason: u8,
}

/// The online threshold controller.
#[derive(Debug, Clone, Copy)]
struct Controller {
    rate: f64,
    beta: f64,
    theta: f64,
    mean: f64,
    spread: f64,
    initialised: bool,
    /// Finite scores observed, counted up to `warmup` (`1 / beta`): until then the mean
    /// and the spread are plain running averages (weight `1 / observed`), so the spread
    /// is known from the first samples instead of growing from 0 at rate `beta`.
    observed: u64,
    warmup: u64,
    /// Block mode (after the warm-up): the threshold moves once per 64 positions.
    block: bool,
    /// In block mode, the threshold's distance from the mean in spreads.
    z: f64,
    /// Starts made in the current block (its scores are kept by the engine).
    block_starts: u32,
    /// `1 - (1 - beta)^64`: the weight of a block of finite scores (derived from `beta`,
    /// computed once instead of a `powi` call per block).
    full_block_weight: f64,
}

/// Positions per step of the online controller after its warm-up.
const CONTROL_BLOCK: usize = 64;

impl Controller {
    fn new(target_len: f64) -> Self {
        let beta = 1.0 / (8.0 * target_len);
        Self {
            rate: 1.0 / target_len,
            beta,
            theta: f64::NAN,
            mean: 0.0,
            spread: 0.0,
            initialised: false,
            observed: 0,
            warmup: (8.0 * target_len).ceil() as u64,
            block: false,
            z: 0.0,
            block_starts: 0,
            full_block_weight: 1.0 - (1.0 - beta).powi(CONTROL_BLOCK as i32),
        }
    }

    /// The block step. The threshold is kept as `mean + spread * z`, and `z` integrates
    /// the block's start error: `z += GAIN * (starts - 64/target_len)`. While `z` stays
    /// bounded (a stationary stream), the starts' long-run rate is exactly
    /// `1/target_len`; a change of level or spread moves the threshold with it at once.
    fn observe_block(&mut self, block_scores: &[f64]) {
        self.observe_moments(block_moments(block_scores, self.mean));
    }

    /// [`observe_block`](Self::observe_block) from the block's [`block_moments`] about
    /// the current mean (computed by the caller, fused with the block's scan).
    #[inline]
    fn observe_moments(&mut self, (sum, dev, finite): (f64, f64, u32)) {
        let expected = self.rate * CONTROL_BLOCK as f64;
        self.z += ONLINE_GAIN * (self.block_starts as f64 - expected);
        self.block_starts = 0;
        if finite as usize == CONTROL_BLOCK {
            // A whole block of finite scores: `x / 64` as `x * (1 / 64)`, the same
            // correctly rounded value (a power of two) without a division's latency on
            // the chain from one block's threshold to the next.
            const INV: f64 = 1.0 / CONTROL_BLOCK as f64;
            let w = self.full_block_weight;
            self.spread += w * (dev * INV - self.spread);
            self.mean += w * (sum * INV - self.mean);
        } else if finite > 0 {
            let w = 1.0 - (1.0 - self.beta).powi(finite as i32);
            let f = finite as f64;
            self.spread += w * (dev / f - self.spread);
            self.mean += w * (sum / f - self.mean);
        }
        self.theta = self.mean + self.spread * self.z;
    }

    /// Enters block mode: the threshold in force, in units of the spread from the mean.
    fn enter_block_mode(&mut self) {
        self.block = true;
        self.z = if self.spread > 0.0 {
            (self.theta - self.mean) / self.spread
        } else {
            0.0
        };
    }

    /// Threshold in force for a sample with score `s` (initialises on the first finite).
    #[inline]
    fn theta_for(&mut self, s: f64) -> f64 {
        if !self.initialised && s.is_finite() {
            self.initialised = true;
            self.theta = s;
            self.mean = s;
        }
        self.theta
    }

    #[inline]
    fn observe(&mut self, s: f64, started: bool) {
        if !self.initialised {
            return;
        }
        if s.is_finite() {
            // During the warm-up (the first 1 / beta finite scores) a running average;
            // afterwards the count stops and the hot path is one integer comparison.
            let weight = if self.observed < self.warmup {
                self.observed += 1;
                (1.0 / self.observed as f64).max(self.beta)
            } else {
                self.beta
            };
            self.spread += weight * ((s - self.mean).abs() - self.spread);
            self.mean += weight * (s - self.mean);
        }
        self.theta += ONLINE_GAIN * self.spread * (started as u8 as f64 - self.rate);
    }
}

/// Lanes of [`block_moments`]: independent sums, so that a block's statistics are not
/// two serial chains of 64 dependent additions (with a branch per score).
const MOMENT_LANES: usize = 8;

/// The sum of the finite scores of a control block, the sum of their absolute
/// deviations from `mean`, and their count. Score `i` adds to lane `i % 8` (a non-finite
/// score adds zero), then the lanes combine pairwise in a fixed order, so the result
/// depends on the block's scores alone (not on the chunking, nor on the CPU: the AVX2
/// path adds in the same order as the portable one).
#[inline]
fn block_moments(block: &[f64], mean: f64) -> (f64, f64, u32) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::sync::OnceLock;
        static AVX2: OnceLock<bool> = OnceLock::new();
        if block.len() == CONTROL_BLOCK
            && *AVX2.get_or_init(|| std::arch::is_x86_feature_detected!("avx2"))
        {
            // SAFETY: the CPU supports AVX2 (checked at run time just above).
            return unsafe { block_moments_avx2(block, mean) };
        }
    }
    block_moments_portable(block, mean)
}

/// [`block_moments`] in eight scalar lanes.
fn block_moments_portable(block: &[f64], mean: f64) -> (f64, f64, u32) {
    let mut sum = [0.0f64; MOMENT_LANES];
    let mut dev = [0.0f64; MOMENT_LANES];
    let mut finite = 0u32;
    for (i, &s) in block.iter().enumerate() {
        if s.is_finite() {
            sum[i % MOMENT_LANES] += s;
            dev[i % MOMENT_LANES] += (s - mean).abs();
            finite += 1;
        } else {
            // Zero, as the AVX2 path adds for a masked lane (a no-op on a finite sum).
            sum[i % MOMENT_LANES] += 0.0;
            dev[i % MOMENT_LANES] += 0.0;
        }
    }
    (combine_lanes(sum), combine_lanes(dev), finite)
}

/// The lanes' total, pairwise in a fixed order.
#[inline(always)]
fn combine_lanes(v: [f64; MOMENT_LANES]) -> f64 {
    ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]))
}

/// The eight moment lanes held in two AVX2 registers, as an array (lanes 0-3 from `a`,
/// 4-7 from `b`), for [`combine_lanes`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn lanes_of(a: std::arch::x86_64::__m256d, b: std::arch::x86_64::__m256d) -> [f64; MOMENT_LANES] {
    use std::arch::x86_64::_mm256_storeu_pd;
    let mut v = [0.0f64; MOMENT_LANES];
    // SAFETY: each store writes four f64 into `v[0..4]` / `v[4..8]`.
    unsafe {
        _mm256_storeu_pd(v.as_mut_ptr(), a);
        _mm256_storeu_pd(v.as_mut_ptr().add(4), b);
    }
    v
}

/// [`block_moments`] of a whole control block with AVX2 (see [`block_bits_moments_avx2`];
/// a NaN threshold sets no bit).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn block_moments_avx2(block: &[f64], mean: f64) -> (f64, f64, u32) {
    block_bits_moments_avx2(block, f64::NAN, mean).1
}

/// A whole control block's [`above_bits`] for `theta` and its [`block_moments`] about
/// `mean`, in one pass over its scores: the online scan reads each block once.
#[inline]
fn block_bits_moments(block: &[f64], theta: f64, mean: f64) -> (u64, (f64, f64, u32)) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::sync::OnceLock;
        static AVX2: OnceLock<bool> = OnceLock::new();
        if block.len() == CONTROL_BLOCK
            && *AVX2.get_or_init(|| std::arch::is_x86_feature_detected!("avx2"))
        {
            // SAFETY: the CPU supports AVX2 (checked at run time just above).
            return unsafe { block_bits_moments_avx2(block, theta, mean) };
        }
    }
    (
        above_bits(block, theta),
        block_moments_portable(block, mean),
    )
}

/// [`block_bits_moments`] with AVX2: lanes 0-3 and 4-7 of the sums are two accumulators
/// of four (scores `8k..8k + 4` add to the first, `8k + 4..8k + 8` to the second), the
/// finite mask an `|s| < inf` comparison, the firing bits a `> theta` comparison per
/// load. Eight steps of eight scores, the accumulators in registers.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn block_bits_moments_avx2(block: &[f64], theta: f64, mean: f64) -> (u64, (f64, f64, u32)) {
    use std::arch::x86_64::{
        __m256d, _mm256_add_pd, _mm256_andnot_pd, _mm256_cmp_pd, _mm256_loadu_pd,
        _mm256_movemask_pd, _mm256_set1_pd, _mm256_setzero_pd, _mm256_sub_pd, _CMP_EQ_OQ,
        _CMP_GT_OQ,
    };
    assert_eq!(block.len(), CONTROL_BLOCK);
    // The common case, a block of finite scores: the same sums in the same lanes and
    // order as the masked pass (which adds each finite score itself), without the
    // finiteness masks. `v - v` is `+0` for a finite score and NaN for NaN or an
    // infinity, so the block is finite when the sum of those is zero; else the masked
    // pass redoes it.
    let sign = _mm256_set1_pd(-0.0);
    let m = _mm256_set1_pd(mean);
    let th = _mm256_set1_pd(theta);
    let (mut sum0, mut sum1) = (_mm256_setzero_pd(), _mm256_setzero_pd());
    let (mut dev0, mut dev1) = (_mm256_setzero_pd(), _mm256_setzero_pd());
    let (mut nan0, mut nan1) = (_mm256_setzero_pd(), _mm256_setzero_pd());
    let mut above = 0u64;
    let d = |v: __m256d| _mm256_andnot_pd(sign, _mm256_sub_pd(v, m));
    let gt = |v: __m256d| _mm256_movemask_pd(_mm256_cmp_pd::<_CMP_GT_OQ>(v, th)) as u64;
    macro_rules! step {
        ($k:literal) => {{
            let c = &block[8 * $k..8 * $k + 8];
            // SAFETY: `c` holds eight f64: two loads of four.
            let (v0, v1) = unsafe {
                (
                    _mm256_loadu_pd(c.as_ptr()),
                    _mm256_loadu_pd(c.as_ptr().add(4)),
                )
            };
            above |= (gt(v0) | gt(v1) << 4) << (8 * $k);
            nan0 = _mm256_add_pd(nan0, _mm256_sub_pd(v0, v0));
            nan1 = _mm256_add_pd(nan1, _mm256_sub_pd(v1, v1));
            sum0 = _mm256_add_pd(sum0, v0);
            sum1 = _mm256_add_pd(sum1, v1);
            dev0 = _mm256_add_pd(dev0, d(v0));
            dev1 = _mm256_add_pd(dev1, d(v1));
        }};
    }
    step!(0);
    step!(1);
    step!(2);
    step!(3);
    step!(4);
    step!(5);
    step!(6);
    step!(7);
    let zero = _mm256_cmp_pd::<_CMP_EQ_OQ>(_mm256_add_pd(nan0, nan1), _mm256_setzero_pd());
    if _mm256_movemask_pd(zero) != 0b1111 {
        return block_bits_moments_masked_avx2(block, theta, mean);
    }
    (
        above,
        (
            combine_lanes(lanes_of(sum0, sum1)),
            combine_lanes(lanes_of(dev0, dev1)),
            CONTROL_BLOCK as u32,
        ),
    )
}

/// [`block_bits_moments_avx2`] of a block that holds a non-finite score: each score
/// masked by its finiteness before it is added.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline(never)]
fn block_bits_moments_masked_avx2(block: &[f64], theta: f64, mean: f64) -> (u64, (f64, f64, u32)) {
    use std::arch::x86_64::{
        __m256d, _mm256_add_pd, _mm256_and_pd, _mm256_andnot_pd, _mm256_cmp_pd, _mm256_loadu_pd,
        _mm256_movemask_pd, _mm256_set1_pd, _mm256_setzero_pd, _mm256_sub_pd, _CMP_GT_OQ,
        _CMP_LT_OQ,
    };
    assert_eq!(block.len(), CONTROL_BLOCK);
    let sign = _mm256_set1_pd(-0.0);
    let inf = _mm256_set1_pd(f64::INFINITY);
    let m = _mm256_set1_pd(mean);
    let th = _mm256_set1_pd(theta);
    let (mut sum0, mut sum1) = (_mm256_setzero_pd(), _mm256_setzero_pd());
    let (mut dev0, mut dev1) = (_mm256_setzero_pd(), _mm256_setzero_pd());
    let (mut above, mut finite) = (0u64, 0u64);
    let d = |v: __m256d| _mm256_andnot_pd(sign, _mm256_sub_pd(v, m));
    // `>`: false for NaN (and for every score when theta is NaN); `|v| < inf`: false
    // for NaN and both infinities.
    let gt = |v: __m256d| _mm256_movemask_pd(_mm256_cmp_pd::<_CMP_GT_OQ>(v, th)) as u64;
    let ok = |v: __m256d| _mm256_cmp_pd::<_CMP_LT_OQ>(_mm256_andnot_pd(sign, v), inf);
    // Step `k` (a constant: every shift below is one) reads scores `8k..8k + 8`.
    macro_rules! step {
        ($k:literal) => {{
            let c = &block[8 * $k..8 * $k + 8];
            // SAFETY: `c` holds eight f64: two loads of four.
            let (v0, v1) = unsafe {
                (
                    _mm256_loadu_pd(c.as_ptr()),
                    _mm256_loadu_pd(c.as_ptr().add(4)),
                )
            };
            above |= (gt(v0) | gt(v1) << 4) << (8 * $k);
            let (ok0, ok1) = (ok(v0), ok(v1));
            finite |= (_mm256_movemask_pd(ok0) as u64 | (_mm256_movemask_pd(ok1) as u64) << 4)
                << (8 * $k);
            sum0 = _mm256_add_pd(sum0, _mm256_and_pd(ok0, v0));
            sum1 = _mm256_add_pd(sum1, _mm256_and_pd(ok1, v1));
            dev0 = _mm256_add_pd(dev0, _mm256_and_pd(ok0, d(v0)));
            dev1 = _mm256_add_pd(dev1, _mm256_and_pd(ok1, d(v1)));
        }};
    }
    step!(0);
    step!(1);
    step!(2);
    step!(3);
    step!(4);
    step!(5);
    step!(6);
    step!(7);
    (
        above,
        (
            combine_lanes(lanes_of(sum0, sum1)),
            combine_lanes(lanes_of(dev0, dev1)),
            finite.count_ones(),
        ),
    )
}

/// The per-sample limits and rules of the fixed-threshold scan, in the forms the hot
/// loop wants (NaN thresholds never fire, `u64::MAX` is "no maximum").
#[derive(Debug, Clone, Copy)]
struct Scan {
    theta: f64,
    /// Scores equal to `theta` fire where [`tie_rank`] of the position is below this (0:
    /// never; only a batch calibration sets it).
    tie_cut: u64,
    relative: f64,
    has_threshold: bool,
    has_relative: bool,
    and: bool,
    min_len: u64,
    max_len: u64,
}

impl Scan {
    fn new(rules: &Rules, threshold: Option<Threshold>) -> Self {
        let theta = threshold.map(|t| t.value);
        Self {
            theta: theta.unwrap_or(f64::NAN),
            tie_cut: threshold.map_or(0, |t| t.tie_cut),
            relative: rules.relative.unwrap_or(f64::NAN),
            has_threshold: theta.is_some(),
            has_relative: rules.relative.is_some(),
            and: rules.combine == Some(Combine::And),
            min_len: rules.min_len as u64,
            max_len: rules.max_len.map_or(u64::MAX, |m| m as u64),
        }
    }

    /// Whether (and why) the rule fires for score `s` after score `prev` at position `t`.
    #[inline(always)]
    fn fires(&self, s: f64, prev: f64, theta: f64, t: u64) -> Option<u8> {
        let above = self.has_threshold
            && (s > theta || (self.tie_cut > 0 && s == theta && tie_rank(t) < self.tie_cut));
        let rises = self.has_relative && s - prev > self.relative;
        let fired = if self.and {
            above && rises
        } else {
            above || rises
        };
        fired.then_some(match (above, rises) {
            (true, true) => reason::BOTH,
            (true, false) => reason::THRESHOLD,
            _ => reason::RELATIVE,
        })
    }
}

/// The scores the engine may still need for a forced split (positions from
/// `cur + min_len` on), in a power-of-two ring indexed by absolute position. The ring
/// grows only as long as the open segment does, up to `max_len + 1` entries, so a huge
/// `max_len` costs memory only if segments actually get that long.
#[derive(Debug, Clone, Default)]
struct History {
    ring: Vec<f64>,
    mask: u64,
    max_cap: usize,
}

impl History {
    fn new(max_len: Option<usize>) -> Self {
        Self {
            ring: Vec::new(),
            mask: 0,
            max_cap: max_len.map_or(0, |m| {
                (m as u64)
                    .saturating_add(1)
                    .checked_next_power_of_two()
                    .map_or(usize::MAX, |c| usize::try_from(c).unwrap_or(usize::MAX))
            }),
        }
    }
    #[inline]
    fn get(&self, p: u64) -> f64 {
        self.ring[(p & self.mask) as usize]
    }
    /// Records `scores`, the samples at `base ..`, keeping every position from
    /// `keep_from` on (growing the ring when the open segment outgrew it).
    fn record(&mut self, scores: &[f64], base: u64, keep_from: u64) {
        if self.max_cap == 0 {
            return;
        }
        let end = base + scores.len() as u64;
        let needed = end.saturating_sub(keep_from) as usize;
        if needed > self.ring.len() {
            let cap = needed
                .next_power_of_two()
                .max(64)
                .min(self.max_cap.max(needed.next_power_of_two()));
            let mut ring = vec![f64::NAN; cap];
            let mask = cap as u64 - 1;
            let old_cap = self.ring.len() as u64;
            for p in keep_from.max(base.saturating_sub(old_cap))..base {
                ring[(p & mask) as usize] = self.get(p);
            }
            self.ring = ring;
            self.mask = mask;
        }
        let cap = self.ring.len();
        if cap == 0 {
            return;
        }
        let skip = scores.len().saturating_sub(cap);
        for (k, &s) in scores.iter().enumerate().skip(skip) {
            self.ring[((base + k as u64) & self.mask) as usize] = s;
        }
    }
}

/// The open segment of a scan.
#[derive(Debug, Clone, Copy)]
struct Open {
    cur: u64,
    reason: u8,
}

impl Open {
    /// The first segment of a series, open at position 0.
    fn first() -> Self {
        Open {
            cur: 0,
            reason: reason::START,
        }
    }
}

/// The scores a scan can read: the current block (positions `base ..`) and, before it,
/// the history ring of a streaming engine.
#[derive(Clone, Copy)]
struct Window<'a> {
    ring: &'a [f64],
    block: &'a [f64],
    base: u64,
}

impl<'a> Window<'a> {
    /// A whole series held in memory (no streaming history before it).
    fn whole(scores: &'a [f64]) -> Self {
        Window {
            ring: &[],
            block: scores,
            base: 0,
        }
    }

    /// The scores of positions `from..=to` as up to three contiguous pieces, in order,
    /// each with the position of its first element.
    fn pieces(&self, from: u64, to: u64) -> [(u64, &'a [f64]); 3] {
        let mut out: [(u64, &'a [f64]); 3] = [(0, &[]); 3];
        let mut k = 0;
        if from < self.base {
            // History: ring positions from..=min(to, base-1), wrapping at most once.
            let end = to.min(self.base - 1);
            let cap = self.ring.len() as u64;
            let mut p = from;
            while p <= end {
                let i = (p % cap) as usize;
                let n = ((cap - p % cap).min(end - p + 1)) as usize;
                out[k] = (p, &self.ring[i..i + n]);
                k += 1;
                p += n as u64;
            }
        }
        if to >= self.base {
            let lo = (from.max(self.base) - self.base) as usize;
            let hi = (to - self.base) as usize;
            out[k] = (self.base + lo as u64, &self.block[lo..=hi]);
        }
        out
    }

    /// Highest score in `from..=to`, the latest position on ties, NaN lowest: a
    /// vectorised maximum, then a backward search for it. Inlined into the scan: the
    /// common case (the whole window in the current block) is one slice and one call,
    /// without the stack frame of the rarer window that starts in the history ring.
    #[inline(always)]
    fn best_split(&self, from: u64, to: u64) -> u64 {
        if from >= self.base {
            // The whole window in the current block (the common case): one slice.
            let lo = (from - self.base) as usize;
            let piece = &self.block[lo..=(to - self.base) as usize];
            return latest_max(piece).map_or(to, |i| from + i as u64);
        }
        self.best_split_in_pieces(from, to)
    }

    /// [`best_split`](Self::best_split) of a window that starts before the current
    /// block (in the history ring).
    #[cold]
    #[inline(never)]
    fn best_split_in_pieces(&self, from: u64, to: u64) -> u64 {
        let pieces = self.pieces(from, to);
        let mut m = f64::NEG_INFINITY;
        for (_, piece) in &pieces {
            m = m.max(max_ignoring_nan(piece));
        }
        if m == f64::NEG_INFINITY {
            return to;
        }
        for (start, piece) in pieces.iter().rev() {
            if let Some(i) = last_equal(piece, m) {
                return start + i as u64;
            }
        }
        to
    }
}

/// Index of the highest score of `x`, the latest on ties, NaN lowest; `None` when the
/// highest is `-inf` or every score is NaN (the forced split then goes to the window's
/// end). With AVX2 (checked once at run time) four scores per instruction and no scalar
/// tail; else [`max_ignoring_nan`] and [`last_equal`].
#[inline]
fn latest_max(x: &[f64]) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    {
        use std::sync::OnceLock;
        static AVX2: OnceLock<bool> = OnceLock::new();
        if *AVX2.get_or_init(|| std::arch::is_x86_feature_detected!("avx2")) {
            // SAFETY: the CPU supports AVX2 (checked at run time just above).
            return unsafe { latest_max_avx2(x) };
        }
    }
    latest_max_portable(x)
}

/// [`latest_max`] without AVX2.
#[inline]
fn latest_max_portable(x: &[f64]) -> Option<usize> {
    let m = max_ignoring_nan(x);
    if m == f64::NEG_INFINITY {
        return None;
    }
    last_equal(x, m)
}

/// [`latest_max`] with AVX2: at most 64 scores by [`latest_max_fours`]; longer slices by
/// the maximum in four 4-lane chains (an overlapping last load instead of a scalar tail;
/// `max(v, acc)` keeps `acc` when `v` is NaN), then equality masks from the end, sixteen
/// scores per step.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn latest_max_avx2(x: &[f64]) -> Option<usize> {
    use std::arch::x86_64::{
        _mm256_castpd256_pd128, _mm256_cmp_pd, _mm256_loadu_pd, _mm256_max_pd, _mm256_movemask_pd,
        _mm256_permute2f128_pd, _mm256_permute_pd, _mm256_set1_pd, _mm_cvtsd_f64, _CMP_EQ_OQ,
    };
    let n = x.len();
    if n < 4 {
        return latest_max_portable(x);
    }
    if n <= 64 {
        // A forced split's window (`max_len - min_len + 1` scores, usually at most 64):
        // straight-line code for its number of fours (the same at every split of a
        // stream, so this dispatch predicts), every load but the last at a constant
        // offset and every mask at a constant shift.
        return match n.div_ceil(4) {
            1 => latest_max_fours::<1>(x),
            2 => latest_max_fours::<2>(x),
            3 => latest_max_fours::<3>(x),
            4 => latest_max_fours::<4>(x),
            5 => latest_max_fours::<5>(x),
            6 => latest_max_fours::<6>(x),
            7 => latest_max_fours::<7>(x),
            8 => latest_max_fours::<8>(x),
            9 => latest_max_fours::<9>(x),
            10 => latest_max_fours::<10>(x),
            11 => latest_max_fours::<11>(x),
            12 => latest_max_fours::<12>(x),
            13 => latest_max_fours::<13>(x),
            14 => latest_max_fours::<14>(x),
            15 => latest_max_fours::<15>(x),
            _ => latest_max_fours::<16>(x),
        };
    }
    // The four scores `x[i..i + 4]`.
    macro_rules! load {
        ($i:expr) => {{
            let i: usize = $i;
            assert!(i + 4 <= n);
            // SAFETY: reads the four f64 of `x[i..i + 4]`, in bounds (asserted).
            unsafe { _mm256_loadu_pd(x.as_ptr().add(i)) }
        }};
    }
    // The four scores at the start of `c` (at least four long).
    let first4 = |c: &[f64]| {
        assert!(c.len() >= 4);
        // SAFETY: reads `c[0..4]`, in bounds (asserted; the callers' chunks are exact).
        unsafe { _mm256_loadu_pd(c.as_ptr()) }
    };
    let neg = _mm256_set1_pd(f64::NEG_INFINITY);
    let mut acc = [neg; 4];
    let mut sixteens = x.chunks_exact(16);
    for c in &mut sixteens {
        acc[0] = _mm256_max_pd(first4(c), acc[0]);
        acc[1] = _mm256_max_pd(first4(&c[4..]), acc[1]);
        acc[2] = _mm256_max_pd(first4(&c[8..]), acc[2]);
        acc[3] = _mm256_max_pd(first4(&c[12..]), acc[3]);
    }
    // Fewer than 16 left: up to three whole fours, one per chain, and an overlapping
    // last four (straight-line code: a loop here compiles to an unrolled one with a
    // prologue, for at most three trips).
    let rest = sixteens.remainder();
    if rest.len() >= 4 {
        acc[0] = _mm256_max_pd(first4(rest), acc[0]);
    }
    if rest.len() >= 8 {
        acc[1] = _mm256_max_pd(first4(&rest[4..]), acc[1]);
    }
    if rest.len() >= 12 {
        acc[2] = _mm256_max_pd(first4(&rest[8..]), acc[2]);
    }
    if rest.len() % 4 != 0 {
        acc[3] = _mm256_max_pd(first4(&x[n - 4..]), acc[3]);
    }
    let v = _mm256_max_pd(_mm256_max_pd(acc[0], acc[1]), _mm256_max_pd(acc[2], acc[3]));
    // The maximum in every lane, without a round trip through a scalar register: swap
    // the halves, then the pairs (no lane is NaN, so the order of `max` is free).
    let v = _mm256_max_pd(v, _mm256_permute2f128_pd::<1>(v, v));
    let t = _mm256_max_pd(v, _mm256_permute_pd::<0b0101>(v));
    let m = _mm_cvtsd_f64(_mm256_castpd256_pd128(t));
    if m == f64::NEG_INFINITY {
        return None;
    }
    macro_rules! eq {
        ($i:expr) => {
            _mm256_movemask_pd(_mm256_cmp_pd::<_CMP_EQ_OQ>(load!($i), t)) as u32
        };
    }
    let mut end = n;
    while end >= 16 {
        let b = end - 16;
        let bits = eq!(b) | eq!(b + 4) << 4 | eq!(b + 8) << 8 | eq!(b + 12) << 12;
        if bits != 0 {
            return Some(b + 31 - bits.leading_zeros() as usize);
        }
        end = b;
    }
    while end >= 4 {
        let bits = eq!(end - 4);
        if bits != 0 {
            return Some(end - 4 + 31 - bits.leading_zeros() as usize);
        }
        end -= 4;
    }
    x[..end].iter().rposition(|&v| v == m)
}

/// [`latest_max_avx2`] of a slice of `4 * Q - 3 ..= 4 * Q` scores (`Q` in `1..=16`):
/// `Q` loads of four, at offsets `0, 4, .., 4 * (Q - 2)` and the last at `n - 4`
/// (overlapping the one before it when `n` is not a multiple of four; `max` is
/// idempotent and the overlap sets its equality bits twice). The maximum in four chains
/// (`max(v, acc)` keeps `acc` when `v` is NaN), reduced inside the vector, then one
/// equality word and its highest bit: no loop, no exit to mispredict.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn latest_max_fours<const Q: usize>(x: &[f64]) -> Option<usize> {
    use std::arch::x86_64::{
        __m256d, _mm256_castpd256_pd128, _mm256_cmp_pd, _mm256_loadu_pd, _mm256_max_pd,
        _mm256_movemask_pd, _mm256_permute2f128_pd, _mm256_permute_pd, _mm256_set1_pd,
        _mm_cvtsd_f64, _CMP_EQ_OQ,
    };
    let n = x.len();
    assert!(Q >= 1 && n >= 4 && n <= 4 * Q && n + 3 >= 4 * Q);
    let last = n - 4;
    // The four scores from offset `i` (`4 * k` for `k < Q - 1`, or `last`).
    let load = |i: usize| -> __m256d {
        assert!(i + 4 <= n);
        // SAFETY: reads `x[i..i + 4]`, in bounds (asserted).
        unsafe { _mm256_loadu_pd(x.as_ptr().add(i)) }
    };
    let neg = _mm256_set1_pd(f64::NEG_INFINITY);
    let (mut a0, mut a1, mut a2, mut a3) = (neg, neg, neg, neg);
    for k in 0..Q - 1 {
        let v = load(4 * k);
        match k % 4 {
            0 => a0 = _mm256_max_pd(v, a0),
            1 => a1 = _mm256_max_pd(v, a1),
            2 => a2 = _mm256_max_pd(v, a2),
            _ => a3 = _mm256_max_pd(v, a3),
        }
    }
    a3 = _mm256_max_pd(load(last), a3);
    let v = _mm256_max_pd(_mm256_max_pd(a0, a1), _mm256_max_pd(a2, a3));
    // The maximum in every lane (no lane is NaN, so the order of `max` is free).
    let v = _mm256_max_pd(v, _mm256_permute2f128_pd::<1>(v, v));
    let t = _mm256_max_pd(v, _mm256_permute_pd::<0b0101>(v));
    let m = _mm_cvtsd_f64(_mm256_castpd256_pd128(t));
    if m == f64::NEG_INFINITY {
        return None;
    }
    // The equality pass reads the scores again through an opaque copy of the slice, so
    // the compiler does not keep the first pass's loads alive across the reduction (it
    // did: sixteen vectors, three of them spilled); each comparison takes its operand
    // from memory (L1).
    let y = std::hint::black_box(x);
    assert_eq!(y.len(), n);
    let eq = |i: usize| {
        assert!(i + 4 <= n);
        // SAFETY: reads `y[i..i + 4]`, in bounds (asserted; `y` has `n` scores).
        let v = unsafe { _mm256_loadu_pd(y.as_ptr().add(i)) };
        _mm256_movemask_pd(_mm256_cmp_pd::<_CMP_EQ_OQ>(v, t)) as u64
    };
    let mut bits = eq(last) << last;
    for k in 0..Q - 1 {
        bits |= eq(4 * k) << (4 * k);
    }
    // `m` is one of the scores, so some bit is set.
    (bits != 0).then(|| 63 - bits.leading_zeros() as usize)
}

/// Index of the last element of `x` equal to `m` (a number, not NaN): eight
/// comparisons at a time from the end, their sign masks into one byte (SSE2, part of
/// every x86-64), instead of a scalar backward search whose exit mispredicts.
#[inline]
fn last_equal(x: &[f64], m: f64) -> Option<usize> {
    let mut end = x.len();
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_cmpeq_pd, _mm_loadu_pd, _mm_movemask_pd, _mm_set1_pd};
        // SAFETY: SSE2 is part of the x86-64 baseline; each load reads two f64 of
        // `x[end - 8..end]`, in bounds since `end >= 8`.
        unsafe {
            let t = _mm_set1_pd(m);
            while end >= 8 {
                let p = x.as_ptr().add(end - 8);
                let eq = |k: usize| _mm_movemask_pd(_mm_cmpeq_pd(_mm_loadu_pd(p.add(k)), t));
                let bits = eq(0) | eq(2) << 2 | eq(4) << 4 | eq(6) << 6;
                if bits != 0 {
                    return Some(end - 8 + 31 - (bits as u32).leading_zeros() as usize);
                }
                end -= 8;
            }
        }
    }
    x[..end].iter().rposition(|&v| v == m)
}

/// Maximum of the non-NaN values (`-inf` when none), in eight independent lanes so the
/// compiler vectorises it into four dependency chains (a forced split's window is
/// short: the chains' latency, not their throughput, bounds it).
#[inline]
fn max_ignoring_nan(x: &[f64]) -> f64 {
    let mut lanes = [f64::NEG_INFINITY; 8];
    let chunks = x.chunks_exact(8);
    let rest = chunks.remainder();
    // `if v > l { v } else { l }` keeps `l` when `v` is NaN: one maxpd per lane.
    for c in chunks {
        for (l, &v) in lanes.iter_mut().zip(c) {
            *l = if v > *l { v } else { *l };
        }
    }
    let half = |a: f64, b: f64| if b > a { b } else { a };
    let mut m = half(
        half(half(lanes[0], lanes[4]), half(lanes[1], lanes[5])),
        half(half(lanes[2], lanes[6]), half(lanes[3], lanes[7])),
    );
    for &v in rest {
        m = if v > m { v } else { m };
    }
    m
}

/// Forced splits due before position `t` (exclusive): every time the open segment
/// reached `max_len` samples at some `cur + max_len < t` without a rule start there.
/// The split goes to the highest score in `[cur + min_len, cur + max_len]`, latest on
/// ties, NaN lowest. Each costs a vectorised pass over at most `max_len - min_len + 1`
/// scores, and only segments that reach `max_len` pay it.
#[inline(always)]
fn split_until(
    open: &mut Open,
    t: u64,
    scan: &Scan,
    window: &Window,
    emit: &mut impl FnMut(Segment),
) -> u32 {
    // The test inline (most calls split nothing), the splits out of line.
    if scan.max_len != u64::MAX && open.cur + scan.max_len < t {
        return split_due(open, t, scan, window, emit);
    }
    0
}

/// The splits of [`split_until`] when at least one is due.
#[inline(never)]
fn split_due(
    open: &mut Open,
    t: u64,
    scan: &Scan,
    window: &Window,
    emit: &mut impl FnMut(Segment),
) -> u32 {
    let mut splits = 0;
    while scan.max_len != u64::MAX && open.cur + scan.max_len < t {
        let p = window.best_split(open.cur + scan.min_len, open.cur + scan.max_len);
        emit(Segment {
            start: open.cur,
            len: p - open.cur,
            reason: open.reason,
        });
        *open = Open {
            cur: p,
            reason: reason::MAX_LEN,
        };
        splits += 1;
    }
    splits
}

/// Packs 8 flags (bytes 0 or 1) into the low 8 bits, flag `i` into bit `i`.
#[inline(always)]
fn pack8(flags: &[u8]) -> u64 {
    let word = u64::from_le_bytes(flags.try_into().expect("8 flags"));
    (word.wrapping_mul(0x0102_0408_1020_4080) >> 56) & 0xff
}

/// Bits of the positions of `block` (64 at most) where a fixed-threshold rule fires.
/// The comparisons go to a byte array first (a loop the compiler vectorises), then
/// eight at a time into the mask.
#[inline(always)]
fn fire_bits(block: &[f64], prev: f64, scan: &Scan, block_base: u64) -> u64 {
    let mut flags = [0u8; 64];
    if scan.has_relative {
        let mut last = prev;
        for (f, &s) in flags.iter_mut().zip(block) {
            let above = s > scan.theta;
            let rises = s - last > scan.relative;
            *f = if scan.and {
                above & rises
            } else {
                above | rises
            } as u8;
            last = s;
        }
    } else {
        let mut bits = above_bits(block, scan.theta);
        if scan.tie_cut > 0 {
            bits |= tie_bits(block, prev, scan, block_base);
        }
        return bits;
    }
    let mut bits = flags
        .chunks_exact(8)
        .enumerate()
        .fold(0u64, |bits, (k, c)| bits | (pack8(c) << (8 * k)));
    if scan.tie_cut > 0 {
        bits |= tie_bits(block, prev, scan, block_base);
    }
    bits
}

/// Bits of the positions of `block` (64 at most) whose score equals the threshold and
/// fires by its tie rank (tie-heavy scores with a batch-calibrated tie cut only).
#[inline(never)]
fn tie_bits(block: &[f64], prev: f64, scan: &Scan, block_base: u64) -> u64 {
    let mut bits = 0u64;
    // The scores equal to the threshold, found 64 at a time first: ties are rare.
    let mut equal = range_bits(block, scan.theta, scan.theta);
    while equal != 0 {
        let i = equal.trailing_zeros() as usize;
        equal &= equal - 1;
        let last = if i == 0 { prev } else { block[i - 1] };
        let t = block_base + i as u64;
        if scan.fires(block[i], last, scan.theta, t).is_some() {
            bits |= 1 << i;
        }
    }
    bits
}

/// Bits of the positions of `block` (64 at most) whose score is above `theta` (NaN
/// never is): two comparisons per instruction and their sign masks straight into the
/// word (SSE2, part of every x86-64), instead of a byte per flag packed afterwards.
#[inline(always)]
fn above_bits(block: &[f64], theta: f64) -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        use std::sync::OnceLock;
        static AVX2: OnceLock<bool> = OnceLock::new();
        if block.len() == 64 && *AVX2.get_or_init(|| std::arch::is_x86_feature_detected!("avx2")) {
            // SAFETY: the CPU supports AVX2 (checked at run time just above).
            return unsafe { above_bits_avx2(block, theta) };
        }
    }
    above_bits_sse2(block, theta)
}

/// [`above_bits`] of a whole block of 64 with AVX2: four comparisons per instruction,
/// every mask at a constant shift.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn above_bits_avx2(block: &[f64], theta: f64) -> u64 {
    cmp_bits_avx2::<{ std::arch::x86_64::_CMP_GT_OQ }>(block, theta)
}

/// Bits of the 64 scores of `block` whose comparison `OP` (an ordered predicate of
/// `_mm256_cmp_pd`: false whenever a NaN is involved) with `value` holds.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn cmp_bits_avx2<const OP: i32>(block: &[f64], value: f64) -> u64 {
    use std::arch::x86_64::{_mm256_cmp_pd, _mm256_loadu_pd, _mm256_movemask_pd, _mm256_set1_pd};
    assert_eq!(block.len(), 64);
    let th = _mm256_set1_pd(value);
    let mut bits = 0u64;
    macro_rules! step {
        ($k:literal) => {{
            let c = &block[16 * $k..16 * $k + 16];
            let holds = |i: usize| {
                assert!(i + 4 <= c.len());
                // SAFETY: reads `c[i..i + 4]`, in bounds (asserted; a constant index).
                let v = unsafe { _mm256_loadu_pd(c.as_ptr().add(i)) };
                _mm256_movemask_pd(_mm256_cmp_pd::<OP>(v, th)) as u64
            };
            bits |= (holds(0) | holds(4) << 4 | holds(8) << 8 | holds(12) << 12) << (16 * $k);
        }};
    }
    step!(0);
    step!(1);
    step!(2);
    step!(3);
    bits
}

/// [`range_bits`] of a whole block of 64 with AVX2: both comparisons per load, in one
/// call.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn range_bits_avx2(block: &[f64], lo: f64, hi: f64) -> u64 {
    use std::arch::x86_64::{
        _mm256_and_pd, _mm256_cmp_pd, _mm256_loadu_pd, _mm256_movemask_pd, _mm256_set1_pd,
        _CMP_GE_OQ, _CMP_LE_OQ,
    };
    assert_eq!(block.len(), 64);
    let (l, h) = (_mm256_set1_pd(lo), _mm256_set1_pd(hi));
    let mut bits = 0u64;
    macro_rules! step {
        ($k:literal) => {{
            let c = &block[16 * $k..16 * $k + 16];
            let inside = |i: usize| {
                assert!(i + 4 <= c.len());
                // SAFETY: reads `c[i..i + 4]`, in bounds (asserted; a constant index).
                let v = unsafe { _mm256_loadu_pd(c.as_ptr().add(i)) };
                let both = _mm256_and_pd(
                    _mm256_cmp_pd::<_CMP_GE_OQ>(v, l),
                    _mm256_cmp_pd::<_CMP_LE_OQ>(v, h),
                );
                _mm256_movemask_pd(both) as u64
            };
            bits |= (inside(0) | inside(4) << 4 | inside(8) << 8 | inside(12) << 12) << (16 * $k);
        }};
    }
    step!(0);
    step!(1);
    step!(2);
    step!(3);
    bits
}

/// Bits of the positions of `block` (64 at most) whose score lies in `[lo, hi]` (NaN
/// never does): the bracket a batch calibration collects.
#[inline]
pub(super) fn range_bits(block: &[f64], lo: f64, hi: f64) -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        use std::sync::OnceLock;
        static AVX2: OnceLock<bool> = OnceLock::new();
        if block.len() == 64 && *AVX2.get_or_init(|| std::arch::is_x86_feature_detected!("avx2")) {
            // SAFETY: the CPU supports AVX2 (checked at run time just above).
            return unsafe { range_bits_avx2(block, lo, hi) };
        }
    }
    let mut flags = [0u8; 64];
    for (f, &s) in flags.iter_mut().zip(block) {
        *f = (s >= lo && s <= hi) as u8;
    }
    flags
        .chunks_exact(8)
        .enumerate()
        .fold(0u64, |bits, (i, c)| bits | (pack8(c) << (8 * i)))
}

/// [`above_bits`] with SSE2 (any block of at most 64 scores), or portable off x86-64.
#[inline(always)]
fn above_bits_sse2(block: &[f64], theta: f64) -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_cmpgt_pd, _mm_loadu_pd, _mm_movemask_pd, _mm_set1_pd};
        let pairs = block.chunks_exact(2);
        let odd = pairs.remainder().first().copied();
        let mut bits = 0u64;
        // SAFETY: SSE2 is part of the x86-64 baseline; each load reads the two f64 of
        // one `chunks_exact(2)` item.
        unsafe {
            let t = _mm_set1_pd(theta);
            for (i, pair) in pairs.enumerate() {
                let above = _mm_cmpgt_pd(_mm_loadu_pd(pair.as_ptr()), t);
                bits |= (_mm_movemask_pd(above) as u64) << (2 * i);
            }
        }
        if odd.is_some_and(|s| s > theta) {
            bits |= 1 << (block.len() - 1);
        }
        bits
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let mut flags = [0u8; 64];
        for (f, &s) in flags.iter_mut().zip(block) {
            *f = (s > theta) as u8;
        }
        flags
            .chunks_exact(8)
            .enumerate()
            .fold(0u64, |bits, (k, c)| bits | (pack8(c) << (8 * k)))
    }
}

/// The fixed-threshold scan over `scores` (the samples at `base ..`): fire positions are
/// found 64 at a time as bit masks, so only firing positions and forced splits cost
/// more than a comparison. `score_at` reads any position the scan may still need.
fn scan_fixed(
    open: &mut Open,
    prev: &mut f64,
    scores: &[f64],
    base: u64,
    scan: &Scan,
    window: &Window,
    emit: &mut impl FnMut(Segment),
) {
    for (j, block) in scores.chunks(64).enumerate() {
        let block_base = base + (j * 64) as u64;
        let bits = fire_bits(block, *prev, scan, block_base);
        scan_block(open, prev, block, block_base, bits, scan, window, emit);
    }
}

/// One block of [`scan_fixed`] (64 scores at most, the first at `block_base`) whose
/// firing positions are the bits of `bits`: emits the segments that close in it.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn scan_block(
    open: &mut Open,
    prev: &mut f64,
    block: &[f64],
    block_base: u64,
    mut bits: u64,
    scan: &Scan,
    window: &Window,
    emit: &mut impl FnMut(Segment),
) {
    if block_base == 0 {
        bits &= !1; // the first sample always starts the first segment
    }
    while bits != 0 {
        let i = bits.trailing_zeros() as usize;
        bits &= bits - 1;
        let t = block_base + i as u64;
        split_until(open, t, scan, window, emit);
        if t - open.cur >= scan.min_len {
            // Without the relative rule only the threshold fires (what `fires` would
            // say, without re-evaluating it per start).
            let code = if scan.has_relative {
                let before = if i == 0 { *prev } else { block[i - 1] };
                scan.fires(block[i], before, scan.theta, t)
                    .unwrap_or(reason::THRESHOLD)
            } else {
                reason::THRESHOLD
            };
            emit(Segment {
                start: open.cur,
                len: t - open.cur,
                reason: open.reason,
            });
            *open = Open {
                cur: t,
                reason: code,
            };
        }
        // Firings before cur + min_len are suppressed: drop them in one step.
        let skip = (open.cur + scan.min_len).saturating_sub(block_base);
        bits &= if skip >= 64 { 0 } else { !0u64 << skip };
    }
    let last = block_base + block.len() as u64 - 1;
    split_until(open, last + 1, scan, window, emit);
    *prev = block[block.len() - 1];
}

/// The streaming native rule engine.
///
/// With a fixed threshold (given, or calibrated in batch) it scans 64 scores at a time;
/// with the online controller the threshold moves every sample, so it steps sample by
/// sample. Both apply the same rules (tested against a plain reference).
#[derive(Debug, Clone)]
pub struct RuleEngine {
    rules: Rules,
    scan: Scan,
    controller: Option<Controller>,
    /// Index of the next sample.
    pos: u64,
    open: Open,
    /// Previous score (NaN when none).
    prev: f64,
    history: History,
    /// The online controller's current block of scores (position `p` at `p % 64`;
    /// empty without the controller).
    control: Vec<f64>,
}

impl RuleEngine {
    /// An engine for native rules. With `target_len` and batch calibration, pass the
    /// calibrated threshold as `calibrated` (see [`calibrate_threshold`]).
    pub fn new(rules: Rules, calibrated: Option<Threshold>) -> Result<Self> {
        rules.validate()?;
        if rules.preset.is_some() || rules.fit.is_some() || rules.accumulate {
            return Err(Error::parameter(
                "RuleEngine runs native rules, not presets or the price rules",
            ));
        }
        let (theta, controller) = match (rules.target_len, rules.calibration) {
            (Some(t), Calibration::Online) => (None, Some(Controller::new(t))),
            _ if rules.budget.is_some() => (
                Some(calibrated.ok_or_else(|| {
                    Error::parameter(
                        "budget is calibrated over the whole batch: pass the calibrated \
                         threshold",
                    )
                })?),
                None,
            ),
            (Some(_), Calibration::Batch) => (
                Some(calibrated.ok_or_else(|| {
                    Error::parameter(
                        "batch calibration needs the whole score array; use \
                         calibration='online' when streaming",
                    )
                })?),
                None,
            ),
            (None, _) => (rules.threshold.map(Threshold::above), None),
        };
        let mut scan = Scan::new(&rules, theta);
        if controller.is_some() {
            scan.has_threshold = true;
        }
        Ok(Self {
            rules,
            scan,
            controller,
            pos: 0,
            open: Open::first(),
            prev: f64::NAN,
            history: History::new(rules.max_len),
            control: if controller.is_some() {
                vec![f64::NAN; CONTROL_BLOCK]
            } else {
                Vec::new()
            },
        })
    }

    /// The rules.
    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// The start and reason of the open segment (final: starts never move once made).
    pub fn open_start(&self) -> (u64, u8) {
        (self.open.cur, self.open.reason)
    }

    /// True when the threshold moves with the stream (online calibration): such an
    /// engine cannot be restarted mid-stream without its whole history.
    pub fn is_online(&self) -> bool {
        self.controller.is_some()
    }

    /// A copy of this (fixed-threshold) engine restarted at position `pos` of the
    /// stream, as if a segment started there; `prev` is the score at `pos - 1`.
    /// Chunk-parallel segmentation runs chunks from such states and stitches them.
    pub(crate) fn restarted_at(&self, pos: u64, prev: f64) -> Self {
        Self {
            pos,
            open: Open {
                cur: pos,
                reason: reason::START,
            },
            prev,
            history: History::new(self.rules.max_len),
            ..self.clone()
        }
    }

    /// The tie cut of a batch-calibrated threshold (0 when ties never fire).
    pub fn tie_cut(&self) -> u64 {
        self.scan.tie_cut
    }

    /// The threshold currently in force (the controller's latest value online).
    pub fn threshold(&self) -> Option<f64> {
        match &self.controller {
            Some(c) => Some(c.theta),
            None => self.scan.has_threshold.then_some(self.scan.theta),
        }
    }

    /// Samples consumed.
    pub fn samples_seen(&self) -> u64 {
        self.pos
    }

    /// Forgets the stream (rules and calibration stay; the online controller restarts).
    pub fn reset(&mut self) {
        self.pos = 0;
        self.open = Open::first();
        self.prev = f64::NAN;
        self.history = History::new(self.rules.max_len);
        if let (Some(t), Some(_)) = (self.rules.target_len, self.controller) {
            self.controller = Some(Controller::new(t));
        }
    }

    /// Consumes scores, appending every segment that closes to `out`.
    pub fn push(&mut self, scores: &[f64], out: &mut Vec<Segment>) {
        if scores.is_empty() {
            return;
        }
        let base = self.pos;
        let window = Window {
            ring: &self.history.ring,
            block: scores,
            base,
        };
        let mut emit = |s: Segment| out.push(s);
        match &mut self.controller {
            None => scan_fixed(
                &mut self.open,
                &mut self.prev,
                scores,
                base,
                &self.scan,
                &window,
                &mut emit,
            ),
            Some(c) => {
                let mut k = 0;
                while k < scores.len() {
                    let t = base + k as u64;
                    if c.block {
                        // Up to the end of this control block, at its fixed threshold.
                        let at = (t % CONTROL_BLOCK as u64) as usize;
                        let m = (CONTROL_BLOCK - at).min(scores.len() - k);
                        let piece = &scores[k..k + m];
                        self.scan.theta = c.theta;
                        let mut started = 0u32;
                        let mut count = |g| {
                            started += 1;
                            emit(g)
                        };
                        if m == CONTROL_BLOCK && !self.scan.has_relative {
                            // A whole block, threshold only (the online scan has no tie
                            // cut): its firing bits and its statistics in one pass. The
                            // mean is the one `observe_block` would read: the scan
                            // below does not move it.
                            let (bits, moments) = block_bits_moments(piece, c.theta, c.mean);
                            scan_block(
                                &mut self.open,
                                &mut self.prev,
                                piece,
                                t,
                                bits,
                                &self.scan,
                                &window,
                                &mut count,
                            );
                            c.block_starts += started;
                            c.observe_moments(moments);
                            k += m;
                            continue;
                        }
                        scan_fixed(
                            &mut self.open,
                            &mut self.prev,
                            piece,
                            t,
                            &self.scan,
                            &window,
                            &mut count,
                        );
                        c.block_starts += started;
                        if m == CONTROL_BLOCK {
                            // A whole block in this chunk: read in place (the partial
                            // block a checkpoint keeps is only ever `control[..at]`).
                            c.observe_block(piece);
                        } else {
                            self.control[at..at + m].copy_from_slice(piece);
                            if at + m == CONTROL_BLOCK {
                                c.observe_block(&self.control);
                            }
                        }
                        k += m;
                        continue;
                    }
                    let s = scores[k];
                    let theta = c.theta_for(s);
                    let mut started = t == 0;
                    if t > 0 {
                        if let Some(code) = self.scan.fires(s, self.prev, theta, t) {
                            if t - self.open.cur >= self.scan.min_len {
                                emit(Segment {
                                    start: self.open.cur,
                                    len: t - self.open.cur,
                                    reason: self.open.reason,
                                });
                                self.open = Open {
                                    cur: t,
                                    reason: code,
                                };
                                started = true;
                            }
                        }
                        if !started {
                            started =
                                split_until(&mut self.open, t + 1, &self.scan, &window, &mut emit)
                                    > 0;
                        }
                    }
                    c.observe(s, started);
                    self.prev = s;
                    // Block mode from the first block boundary after the warm-up.
                    if c.observed >= c.warmup && (t + 1) % CONTROL_BLOCK as u64 == 0 {
                        c.enter_block_mode();
                    }
                    k += 1;
                }
            }
        }
        self.history
            .record(scores, base, self.open.cur + self.scan.min_len);
        self.pos += scores.len() as u64;
    }

    /// Closes the open segment (if any sample was seen).
    pub fn finish(&mut self, out: &mut Vec<Segment>) {
        if self.pos > self.open.cur {
            out.push(Segment {
                start: self.open.cur,
                len: self.pos - self.open.cur,
                reason: self.open.reason,
            });
            self.open.cur = self.pos;
        }
    }

    pub(crate) fn write_state(&self, w: &mut Writer) {
        write_rules(w, &self.rules);
        w.bool(self.scan.has_threshold && self.controller.is_none());
        w.f64(self.scan.theta);
        w.u64(self.scan.tie_cut);
        match &self.controller {
            Some(c) => {
                w.bool(true);
                w.f64(c.theta);
                w.f64(c.mean);
                w.f64(c.spread);
                w.bool(c.initialised);
                w.u64(c.observed);
                w.bool(c.block);
                w.f64(c.z);
                w.u64(c.block_starts as u64);
                // The current block's scores so far.
                let at = (self.pos % CONTROL_BLOCK as u64) as usize;
                w.f64s(if c.block { &self.control[..at] } else { &[] });
            }
            None => w.bool(false),
        }
        w.u64(self.pos);
        w.u64(self.open.cur);
        w.u64(self.open.reason as u64);
        w.f64(self.prev);
        // The scores a future forced split may read: positions >= cur + min_len.
        let from = (self.open.cur + self.scan.min_len).min(self.pos);
        let kept: Vec<f64> = if self.history.max_cap == 0 {
            Vec::new()
        } else {
            (from..self.pos).map(|p| self.history.get(p)).collect()
        };
        w.f64s(&kept);
    }

    pub(crate) fn read_state(r: &mut Reader) -> Result<Self> {
        let rules = read_rules(r)?;
        let has_theta = r.bool()?;
        let theta = r.f64()?;
        let tie_cut = r.u64()?;
        let calibrated = (has_theta && rules.target_len.is_some()).then_some(Threshold {
            value: theta,
            tie_cut,
        });
        let mut engine =
            Self::new(rules, calibrated).map_err(|e| Error::checkpoint(e.message()))?;
        if has_theta != (rules.threshold.is_some() || calibrated.is_some())
            || (has_theta && theta.to_bits() != engine.scan.theta.to_bits())
            || tie_cut != engine.scan.tie_cut
        {
            return Err(Error::checkpoint("inconsistent rule engine threshold"));
        }
        let mut partial_len = 0usize;
        if r.bool()? {
            let (target, Some(_)) = (
                rules
                    .target_len
                    .ok_or_else(|| Error::checkpoint("controller without target_len"))?,
                engine.controller,
            ) else {
                return Err(Error::checkpoint("controller in a fixed-threshold engine"));
            };
            let mut c = Controller::new(target);
            c.theta = r.f64()?;
            c.mean = r.f64()?;
            c.spread = r.f64()?;
            c.initialised = r.bool()?;
            c.observed = r.u64()?;
            c.block = r.bool()?;
            c.z = r.f64()?;
            c.block_starts = u32::try_from(r.u64()?)
                .ok()
                .filter(|&n| n as usize <= CONTROL_BLOCK)
                .ok_or_else(|| Error::checkpoint("inconsistent online controller"))?;
            let partial = r.f64s()?;
            if partial.len() >= CONTROL_BLOCK || (!c.block && !partial.is_empty()) {
                return Err(Error::checkpoint("inconsistent online controller"));
            }
            engine.control[..partial.len()].copy_from_slice(&partial);
            partial_len = partial.len();
            engine.controller = Some(c);
        } else if engine.controller.is_some() {
            return Err(Error::checkpoint("online engine without its controller"));
        }
        engine.pos = r.u64()?;
        if engine
            .controller
            .is_some_and(|c| c.block && partial_len as u64 != engine.pos % CONTROL_BLOCK as u64)
        {
            return Err(Error::checkpoint("inconsistent online controller"));
        }
        let cur = r.u64()?;
        let code = r.u64()?;
        engine.prev = r.f64()?;
        let kept = r.f64s()?;
        if cur > engine.pos || code as usize >= reason::NAMES.len() {
            return Err(Error::checkpoint("inconsistent rule engine state"));
        }
        engine.open = Open {
            cur,
            reason: code as u8,
        };
        let from = (engine.open.cur + engine.scan.min_len).min(engine.pos);
        let ok_len = if engine.history.max_cap == 0 {
            kept.is_empty()
        } else {
            kept.len() as u64 == engine.pos - from && kept.len() <= engine.history.max_cap
        };
        if !ok_len {
            return Err(Error::checkpoint("inconsistent rule engine state"));
        }
        engine.history.record(&kept, from, from);
        Ok(engine)
    }
}

/// Native rules (or a preset) over a whole score array, with batch calibration when
/// the rules ask for it.
pub fn segment_scores(scores: &[f64], rules: &Rules) -> Result<Vec<Segment>> {
    Ok(segment_scores_calibrated(scores, rules)?.0)
}

/// [`segment_scores`], with the threshold in force at the end (see
/// [`Engine::threshold_in_force`]).
pub(crate) fn segment_scores_calibrated(
    scores: &[f64],
    rules: &Rules,
) -> Result<(Vec<Segment>, Option<Threshold>)> {
    rules.validate()?;
    let price = rules.fit.is_some() || rules.accumulate;
    if price && rules.target_len.is_some() && rules.calibration == Calibration::Batch {
        // The search keeps the segments of its best probe: no extra pass.
        let (out, lambda) = crate::segment::fit::segment_calibrated(scores, rules)?;
        return Ok((out, Some(Threshold::above(lambda))));
    }
    if let Some(sampled) = sampled_calibration(scores, rules) {
        return Ok((sampled.0, Some(sampled.1)));
    }
    let mut out = Vec::new();
    let mut engine = Engine::new(*rules, scores)?;
    engine.push(scores, &mut out);
    engine.finish(&mut out);
    Ok((out, engine.threshold_in_force()))
}

/// The rule engine of a spec: the native rules or a preset. Every pass (streaming,
/// one-shot, chunk-parallel) drives this one type.
#[derive(Debug, Clone)]
pub(crate) enum Engine {
    Native(RuleEngine),
    Preset(PresetEngine),
    Price(PriceEngine),
}

impl Engine {
    /// The engine for `rules`, its threshold calibrated over `whole` when the rules ask
    /// for batch calibration; `whole` is read only then and for the EntroPE preset (a
    /// streaming caller passes `&[]`, which [`Rules::needs_whole_scores`] rules out).
    pub(crate) fn new(rules: Rules, whole: &[f64]) -> Result<Self> {
        if rules.budget.is_some() {
            // One series is a batch of one.
            let threshold = calibrate_budget(whole, &[0, whole.len()], &rules)?;
            return Self::with_threshold(rules, threshold);
        }
        if rules.fit.is_some() || rules.accumulate {
            let calibrated = match (rules.target_len, rules.calibration) {
                (Some(_), Calibration::Batch) => Some(calibrate_level(whole, &rules)?),
                _ => None,
            };
            return Ok(Engine::Price(PriceEngine::new(rules, calibrated)?));
        }
        Ok(match rules.preset {
            Some(preset) => Engine::Preset(PresetEngine::new(rules, preset, whole)?),
            None => {
                let calibrated = match (rules.target_len, rules.calibration) {
                    (Some(_), Calibration::Batch) => Some(calibrate_threshold(whole, &rules)?),
                    _ => None,
                };
                Engine::Native(RuleEngine::new(rules, calibrated)?)
            }
        })
    }

    /// The engine for `rules` with a batch calibration's threshold: the one shared by
    /// every series of a batch under `budget` (see [`calibrate_budget`]).
    pub(crate) fn with_threshold(rules: Rules, threshold: Threshold) -> Result<Self> {
        if rules.fit.is_some() || rules.accumulate {
            return Ok(Engine::Price(PriceEngine::new(
                rules,
                Some(threshold.value),
            )?));
        }
        Ok(Engine::Native(RuleEngine::new(rules, Some(threshold))?))
    }

    pub(crate) fn push(&mut self, scores: &[f64], out: &mut Vec<Segment>) {
        match self {
            Engine::Native(e) => e.push(scores, out),
            Engine::Preset(e) => e.push(scores, out),
            Engine::Price(e) => e.push(scores, out),
        }
    }

    pub(crate) fn finish(&mut self, out: &mut Vec<Segment>) {
        match self {
            Engine::Native(e) => e.finish(out),
            Engine::Preset(e) => e.finish(out),
            Engine::Price(e) => e.finish(out),
        }
    }

    pub(crate) fn reset(&mut self) {
        match self {
            Engine::Native(e) => e.reset(),
            Engine::Preset(e) => e.reset(),
            Engine::Price(e) => e.reset(),
        }
    }

    pub(crate) fn samples_seen(&self) -> u64 {
        match self {
            Engine::Native(e) => e.samples_seen(),
            Engine::Preset(e) => e.samples_seen(),
            Engine::Price(e) => e.samples_seen(),
        }
    }

    pub(crate) fn open_start(&self) -> (u64, u8) {
        match self {
            Engine::Native(e) => e.open_start(),
            Engine::Preset(e) => e.open_start(),
            Engine::Price(e) => e.open_start(),
        }
    }

    /// The threshold in force: the given or batch-calibrated one (with its tie cut),
    /// the online controller's latest value, the fit rule's price; `None` for presets
    /// and rules without a threshold.
    pub(crate) fn threshold_in_force(&self) -> Option<Threshold> {
        match self {
            Engine::Native(e) => match e.controller {
                Some(c) => Some(Threshold::above(c.theta)),
                None => e.scan.has_threshold.then_some(Threshold {
                    value: e.scan.theta,
                    tie_cut: e.scan.tie_cut,
                }),
            },
            Engine::Price(e) => Some(Threshold::above(e.threshold())),
            Engine::Preset(_) => None,
        }
    }

    /// The rules the engine runs.
    pub(crate) fn rules(&self) -> &Rules {
        match self {
            Engine::Native(e) => e.rules(),
            Engine::Preset(e) => &e.rules,
            Engine::Price(e) => e.rules(),
        }
    }

    /// True when the threshold follows the online controller (history-dependent).
    pub(crate) fn is_online(&self) -> bool {
        match self {
            Engine::Native(e) => e.is_online(),
            Engine::Price(e) => e.is_online(),
            Engine::Preset(_) => false,
        }
    }

    /// A copy restarted at `pos`; `prev1`, `prev2` are the scores at `pos - 1`, `pos - 2`.
    pub(crate) fn restarted_at(&self, pos: u64, prev1: f64, prev2: f64) -> Self {
        match self {
            Engine::Native(e) => Engine::Native(e.restarted_at(pos, prev1)),
            Engine::Preset(e) => Engine::Preset(e.restarted_at(pos, prev1, prev2)),
            Engine::Price(e) => Engine::Price(e.restarted_at(pos)),
        }
    }

    pub(crate) fn write_state(&self, w: &mut Writer) {
        match self {
            Engine::Native(e) => {
                w.u64(0);
                e.write_state(w);
            }
            Engine::Preset(e) => {
                w.u64(1);
                e.write_state(w);
            }
            Engine::Price(e) => {
                w.u64(2);
                e.write_state(w);
            }
        }
    }

    pub(crate) fn read_state(r: &mut Reader) -> Result<Self> {
        Ok(match r.u64()? {
            0 => Engine::Native(RuleEngine::read_state(r)?),
            1 => Engine::Preset(PresetEngine::read_state(r)?),
            2 => Engine::Price(PriceEngine::read_state(r)?),
            _ => return Err(Error::checkpoint("unknown rule engine in checkpoint")),
        })
    }
}

// ---------------------------------------------------------------------------------------
// Batch calibration
// ---------------------------------------------------------------------------------------

/// Number of segments the native rules produce over `scores` with threshold `theta`:
/// the fixed-threshold scan, counting instead of emitting.
fn count_segments(scores: &[f64], rules: &Rules, threshold: Threshold) -> u64 {
    if scores.is_empty() {
        return 0;
    }
    let scan = Scan::new(rules, Some(threshold));
    let mut open = Open::first();
    let mut prev = f64::NAN;
    let mut count = 1u64;
    let window = Window::whole(scores);
    scan_fixed(&mut open, &mut prev, scores, 0, &scan, &window, &mut |_| {
        count += 1
    });
    count
}

/// Marks a reference start made by a `max_len` split (decided lazily, when the scan
/// passes `cur + max_len`, so not a state both scans are known to share).
const FORCED: u64 = 1 << 63;

/// One greedy scan at a reference threshold, kept so that the segment count at any
/// nearby threshold follows from re-scanning only around the positions whose firing
/// differs: two scans that start a segment at the same position agree from there until
/// the next such position.
///
/// Exact for every threshold whose value lies in `[lo, hi]` (the positions whose score
/// lies there are the only ones whose firing two such thresholds can disagree on).
struct Reference<'a> {
    scores: &'a [f64],
    rules: &'a Rules,
    scan: Scan,
    /// Segment starts, ascending, position 0 first; [`FORCED`] marks `max_len` splits.
    starts: Vec<u64>,
    /// The positions `t >= 1` with `lo <= scores[t] <= hi`, ascending.
    cand: Vec<u64>,
    /// The scores at each `cand` position and just before it, in the same order: the
    /// probes read them in one sequential sweep instead of all over `scores`.
    near: Vec<[f64; 2]>,
    lo: f64,
    hi: f64,
}

impl<'a> Reference<'a> {
    /// The reference scan alone (an empty bracket: no threshold is covered yet).
    fn scan(scores: &'a [f64], rules: &'a Rules, at: Threshold) -> Self {
        let scan = Scan::new(rules, Some(at));
        let tag = |p: u64, why: u8| {
            if why == reason::MAX_LEN {
                p | FORCED
            } else {
                p
            }
        };
        let mut starts = Vec::with_capacity(scores.len() / 8 + 1);
        let mut open = Open::first();
        let mut prev = f64::NAN;
        let window = Window::whole(scores);
        scan_fixed(&mut open, &mut prev, scores, 0, &scan, &window, &mut |g| {
            starts.push(tag(g.start, g.reason))
        });
        starts.push(tag(open.cur, open.reason));
        Self {
            scores,
            rules,
            scan,
            starts,
            cand: Vec::new(),
            near: Vec::new(),
            lo: f64::NAN,
            hi: f64::NAN,
        }
    }

    /// Covers the thresholds whose value lies in `[lo, hi]` (which must hold the
    /// reference's own value).
    fn bracket(self, lo: f64, hi: f64) -> Self {
        let scores = self.scores;
        let cand = (1..scores.len())
            .filter(|&t| scores[t] >= lo && scores[t] <= hi)
            .map(|t| t as u64)
            .collect();
        self.bracket_with(lo, hi, cand)
    }

    /// [`bracket`](Self::bracket) with the positions already known: `cand` must hold
    /// (ascending) every position `t >= 1` whose firing two thresholds in `[lo, hi]` can
    /// disagree on.
    fn bracket_with(mut self, lo: f64, hi: f64, cand: Vec<u64>) -> Self {
        let scores = self.scores;
        self.near = cand
            .iter()
            .map(|&t| [scores[t as usize], scores[t as usize - 1]])
            .collect();
        self.cand = cand;
        (self.lo, self.hi) = (lo, hi);
        self
    }

    /// Whether thresholds of value `v` are counted relative to this scan.
    fn covers(&self, v: f64) -> bool {
        v >= self.lo && v <= self.hi
    }

    /// The number of segments at the reference threshold.
    fn segments(&self) -> u64 {
        self.starts.len() as u64
    }

    /// The exact segment count at `th`, or `None` when its value is outside `[lo, hi]`.
    fn count(&self, th: Threshold) -> Option<u64> {
        self.covers(th.value).then(|| self.rescan(th, None))
    }

    /// The segment count at `th` (whose value must lie in the bracket), re-scanning only
    /// around the bracket positions that fire differently; with `out`, also the starts
    /// of the scan at `th` (tagged as [`Reference::starts`]), this scan's starts kept
    /// wherever the two agree.
    fn rescan(&self, th: Threshold, mut out: Option<&mut Vec<u64>>) -> u64 {
        let b = Scan::new(self.rules, Some(th));
        let n = self.scores.len() as u64;
        let window = Window::whole(self.scores);
        let mut count = self.starts.len() as i64;
        // Reference starts before a position, found from the last answer (the queries
        // move forward through the list): a binary search over the whole list would miss
        // the cache at every step.
        let mut finger = 0usize;
        let mut starts_before = |p: u64| -> usize {
            finger = seek(&self.starts, finger, p);
            finger
        };
        let mut copied = 0usize;
        // The state both scans share after the last re-scan: the open segment's start
        // and the next position.
        let (mut sync_cur, mut sync_next) = (0u64, 1u64);
        // Only a score between the two thresholds' values (both ends included, for
        // ties) can fire differently under them, whatever the relative rule says: the
        // bracket positions are filtered 64 at a time by that range first, so a move
        // between close thresholds reads each bracket score once, branch-free.
        let (v_lo, v_hi) = if self.scan.theta <= b.theta {
            (self.scan.theta, b.theta)
        } else {
            (b.theta, self.scan.theta)
        };
        for i in in_value_range(&self.near, v_lo, v_hi) {
            let (d, [s, before]) = (self.cand[i], self.near[i]);
            if d < sync_next {
                continue;
            }
            let fa = self.scan.fires(s, before, self.scan.theta, d).is_some();
            let fb = b.fires(s, before, b.theta, d).is_some();
            if fa == fb {
                continue;
            }
            // Re-scan from the reference's last start before d that was decided before
            // d (a state both scans share: every earlier decision was made before d),
            // or from the last synchronisation if that is later. A rule start is
            // decided where it lies; a `max_len` split of the segment from `c` when the
            // scan passed `c + max_len` without a firing in `[c + min_len, c + max_len]`
            // (the split point is then a function of the scores alone), so it is shared
            // when `c + max_len < d`: no position before d fires differently. (With
            // `Combine::And`, from the last rule start, as before.)
            let mut j = starts_before(d);
            while self.starts[j - 1] & FORCED != 0
                && (self.scan.and
                    || (self.starts[j - 2] & !FORCED).saturating_add(self.scan.max_len) >= d)
            {
                j -= 1;
            }
            let r = self.starts[j - 1] & !FORCED;
            let (cur, from) = if r + 1 >= sync_next {
                (r, r + 1)
            } else {
                (sync_cur, sync_next)
            };
            let kept = starts_before(from);
            if let Some(out) = out.as_deref_mut() {
                out.extend_from_slice(&self.starts[copied..kept]);
            }
            let mut open = Open {
                cur,
                reason: reason::THRESHOLD,
            };
            let mut prev = self.scores[from as usize - 1];
            let mut q = from;
            // Every segment this scan closes makes one new start, at or after `from`.
            let mut b_starts = 0i64;
            while q < n {
                let end = (q + 64).min(n);
                scan_fixed(
                    &mut open,
                    &mut prev,
                    &self.scores[q as usize..end as usize],
                    q,
                    &b,
                    &window,
                    &mut |g| {
                        b_starts += 1;
                        // Every start after `cur` is new to `out` (which holds the starts
                        // up to `cur`), including a `max_len` split decided here whose
                        // position lies before `from`: when the re-scan goes on from the
                        // last synchronisation, the open segment's split can fall between
                        // `cur` and `from` (a firing of the reference at `d` kept it from
                        // splitting there; under `Combine::And` the window's maximum need
                        // not fire).
                        if let (Some(out), true) = (out.as_deref_mut(), g.start > cur) {
                            out.push(tagged(g.start, g.reason));
                        }
                    },
                );
                q = end;
                if q <= d {
                    continue;
                }
                // In step again when this scan's open segment is a reference start and
                // the reference starts nothing else before q.
                let m = starts_before(open.cur + 1);
                if m > 0
                    && self.starts[m - 1] & !FORCED == open.cur
                    && self.starts.get(m).is_none_or(|&p| p & !FORCED >= q)
                {
                    break;
                }
            }
            if let (Some(out), true) = (out.as_deref_mut(), open.cur > cur) {
                out.push(tagged(open.cur, open.reason));
            }
            copied = starts_before(q);
            count += b_starts - (copied - kept) as i64;
            sync_cur = open.cur;
            sync_next = q;
        }
        if let Some(out) = out {
            out.extend_from_slice(&self.starts[copied..]);
        }
        count as u64
    }
}

/// Indices `i`, ascending, of the pairs whose first score lies in `[lo, hi]` (NaN never
/// does): compared 64 at a time into a bit mask, then read off bit by bit.
fn in_value_range(near: &[[f64; 2]], lo: f64, hi: f64) -> impl Iterator<Item = usize> + '_ {
    near.chunks(64).enumerate().flat_map(move |(k, chunk)| {
        let mut flags = [0u8; 64];
        for (f, &[s, _]) in flags.iter_mut().zip(chunk) {
            *f = (s >= lo && s <= hi) as u8;
        }
        let mut bits = flags
            .chunks_exact(8)
            .enumerate()
            .fold(0u64, |bits, (j, c)| bits | (pack8(c) << (8 * j)));
        std::iter::from_fn(move || {
            (bits != 0).then(|| {
                let i = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                k * 64 + i
            })
        })
    })
}

/// A start as [`Reference`] keeps it: its position, [`FORCED`] for a `max_len` split.
#[inline]
fn tagged(p: u64, why: u8) -> u64 {
    if why == reason::MAX_LEN {
        p | FORCED
    } else {
        p
    }
}

/// The number of `starts` (tagged positions, ascending) before position `p`, searched
/// outward from `from` (a previous answer): galloping, then a binary search in the last
/// step, so a query near the previous one costs a few comparisons.
fn seek(starts: &[u64], from: usize, p: u64) -> usize {
    let at = |i: usize| starts[i] & !FORCED;
    let n = starts.len();
    let from = from.min(n);
    if from < n && at(from) < p {
        // Forward: the answer is in (from, n].
        let mut step = 1;
        let mut lo = from + 1;
        while lo < n && at(lo) < p {
            let next = lo + step;
            if next >= n || at(next) >= p {
                let hi = next.min(n);
                return lo + 1 + starts[lo + 1..hi].partition_point(|&s| s & !FORCED < p);
            }
            lo = next;
            step *= 2;
        }
        lo
    } else {
        // Backward: the answer is in [0, from].
        let mut step = 1;
        let mut hi = from;
        while hi > 0 && at(hi - 1) >= p {
            let next = hi.saturating_sub(step);
            if next == 0 || at(next - 1) < p {
                return next + starts[next..hi - 1].partition_point(|&s| s & !FORCED < p);
            }
            hi = next;
            step *= 2;
        }
        hi
    }
}

/// Searches an ordered list of thresholds (ascending, so segment counts do not
/// increase along it) for the one whose count comes closest to `wanted`, with exact
/// counts at every probe. Steps are Illinois-style secant steps on `x_of(i)`, an estimate
/// of how many positions fire at threshold `i` (non-increasing in `i`): the segment
/// count is close to linear in it, so a few probes bracket the target; a step that
/// lands outside the bracket falls back to bisection. Returns the bracketing indices
/// `(lo, hi)` and records every probe in `seen`.
fn secant_search(
    len: usize,
    wanted: f64,
    mut count_at: impl FnMut(usize) -> u64,
    x_of: impl Fn(usize) -> f64,
    seen: &mut Vec<(usize, u64)>,
) -> (usize, usize) {
    let mut probe = |i: usize, seen: &mut Vec<(usize, u64)>| {
        if let Some(&(_, c)) = seen.iter().find(|e| e.0 == i) {
            return c;
        }
        let c = count_at(i);
        seen.push((i, c));
        c
    };
    // Bracket the target starting from the index whose estimate x matches it, stepping
    // by the ratio of wanted to found (counts are roughly proportional to x); the ends
    // of the list (often the costliest probes) are probed only if the steps reach them.
    // The first index in `[a, b]` whose x is at or below `x_target` (x decreases with
    // the index), by bisection.
    let index_in = |mut a: usize, mut b: usize, x_target: f64| -> usize {
        while a < b {
            let m = a + (b - a) / 2;
            if x_of(m) > x_target {
                a = m + 1;
            } else {
                b = m;
            }
        }
        a
    };
    let index_at = |x_target: f64| index_in(0, len - 1, x_target);
    let mut i = index_at(wanted);
    let mut lo: Option<(usize, f64)> = None;
    let mut hi: Option<(usize, f64)> = None;
    let mut last: Option<(f64, f64)> = None; // (x, count) of the previous probe
    for _ in 0..64 {
        let c = probe(i, seen) as f64;
        let f = c - wanted;
        if f == 0.0 {
            return (i, i);
        }
        if f > 0.0 {
            lo = Some((i, f));
        } else {
            hi = Some((i, f));
        }
        if lo.is_some() && hi.is_some() {
            break;
        }
        if (f > 0.0 && i == len - 1) || (f < 0.0 && i == 0) {
            return (i, i);
        }
        // Predict the x that meets the target: through the last two probes when there
        // are two, else by proportion; overshoot by a quarter so the next probe tends to
        // land across the target and close the bracket.
        let x = x_of(i);
        let predicted = match last {
            Some((x0, c0)) if c0 != c && x0 != x => x + (wanted - c) * (x - x0) / (c - c0),
            _ => x * wanted / c.max(1.0),
        };
        let aim = x + 1.25 * (predicted - x);
        last = Some((x, c));
        let step = index_at(aim);
        i = if f > 0.0 {
            step.max(i + 1).min(len - 1)
        } else {
            step.min(i - 1)
        };
    }
    let (Some((mut lo, mut f_lo)), Some((mut hi, mut f_hi))) = (lo, hi) else {
        // Not bracketed within the step budget: fall back to the ends.
        return (0, len - 1);
    };
    let mut side = 0i8;
    while hi - lo > 1 {
        // Where x should be for the count to meet the target, then the index there.
        let (x_lo, x_hi) = (x_of(lo), x_of(hi));
        let x_target = x_lo + (x_hi - x_lo) * (f_lo / (f_lo - f_hi));
        let mut mid = index_in(lo + 1, hi - 1, x_target);
        if side != 0 && (mid <= lo || mid >= hi) {
            mid = lo + (hi - lo) / 2;
        }
        let f = probe(mid, seen) as f64 - wanted;
        if f > 0.0 {
            lo = mid;
            f_lo = f;
            if side == 1 {
                f_hi /= 2.0;
            }
            side = 1;
        } else if f < 0.0 {
            hi = mid;
            f_hi = f;
            if side == -1 {
                f_lo /= 2.0;
            }
            side = -1;
        } else {
            return (mid, mid);
        }
    }
    (lo, hi)
}

/// The smallest and largest finite scores (`(inf, -inf)` when there is none), in four
/// lanes the compiler vectorises; non-finite scores become NaN, which the comparisons
/// skip.
fn finite_range(scores: &[f64]) -> (f64, f64) {
    let mut lo = [f64::INFINITY; 4];
    let mut hi = [f64::NEG_INFINITY; 4];
    let chunks = scores.chunks_exact(4);
    let rest = chunks.remainder();
    for c in chunks {
        for k in 0..4 {
            let v = if c[k].is_finite() { c[k] } else { f64::NAN };
            lo[k] = if v < lo[k] { v } else { lo[k] };
            hi[k] = if v > hi[k] { v } else { hi[k] };
        }
    }
    let (mut l, mut h) = (
        lo[0].min(lo[1]).min(lo[2].min(lo[3])),
        hi[0].max(hi[1]).max(hi[2].max(hi[3])),
    );
    for &v in rest.iter().filter(|v| v.is_finite()) {
        l = l.min(v);
        h = h.max(v);
    }
    (l, h)
}

/// Buckets of the rank-based calibration.
const RANK_BUCKETS: usize = 1 << 14;

/// Calibration when the segment count is simply `1 + #{t >= 1 : s[t] > theta}` (a
/// threshold rule alone, `min_len = 1`, no `max_len`): an exact rank selection with no
/// engine probes. One pass builds a histogram over a monotone bucket function of the
/// score (so every score in a higher bucket is at least every score in a lower one),
/// which locates the bucket where the count crosses the target; a second pass collects
/// that bucket and the nearest non-empty bucket below, whose sorted values give the exact
/// count of every candidate threshold there.
fn calibrate_by_rank(
    scores: &[f64],
    lo: f64,
    hi: f64,
    wanted: f64,
    objective: impl Fn(u64) -> f64,
) -> f64 {
    let buckets = RANK_BUCKETS;
    let scale = buckets as f64 / (hi - lo);
    // Bucket ids are computed 64 at a time (a loop the compiler vectorises); a
    // non-finite score gets the spare id `buckets`, +inf counted apart.
    let ids_of = |block: &[f64], ids: &mut [u16; 64]| {
        for (id, &s) in ids.iter_mut().zip(block) {
            let finite = s.is_finite();
            let v = if finite { s } else { lo };
            let scaled = ((v - lo) * scale).clamp(0.0, (buckets - 1) as f64);
            // SAFETY: `scaled` is finite (v is) and clamped to [0, buckets - 1], inside
            // i32's range, so the unchecked conversion is exact truncation.
            let b = unsafe { scaled.to_int_unchecked::<i32>() } as u16;
            *id = if finite { b } else { buckets as u16 };
        }
    };
    let mut hist = vec![0u64; 1 << 16];
    let mut ids = [0u16; 64];
    for block in scores[1..].chunks(64) {
        ids_of(block, &mut ids);
        for &id in &ids[..block.len()] {
            hist[id as usize] += 1;
        }
    }
    let infinite = scores[1..].iter().filter(|&&s| s == f64::INFINITY).count() as u64;
    hist.truncate(buckets + 1);
    hist[buckets] = 0;
    // above[b] = finite scores in buckets >= b.
    let mut above = hist.clone();
    for b in (0..buckets).rev() {
        above[b] += above[b + 1];
    }
    let count = |fires: u64| 1 + infinite + fires;
    if wanted >= count(above[0]) as f64 {
        return f64::NEG_INFINITY;
    }
    if wanted <= count(0) as f64 {
        return f64::INFINITY;
    }
    // The bucket where the count crosses the target: count(above[b+1]) <= wanted <= count(above[b]).
    let target_bucket = (0..buckets)
        .rev()
        .find(|&b| count(above[b]) as f64 >= wanted)
        .expect("count(above[0]) > wanted");
    let below = (0..target_bucket).rev().find(|&b| hist[b] > 0);
    let mut inside = Vec::with_capacity(hist[target_bucket] as usize);
    let mut lower_max = f64::NEG_INFINITY;
    let (want, lower) = (target_bucket as u16, below.map_or(u16::MAX, |b| b as u16));
    for block in scores[1..].chunks(64) {
        ids_of(block, &mut ids);
        for (&id, &s) in ids[..block.len()].iter().zip(block) {
            if id == want {
                inside.push(s);
            } else if id == lower && s > lower_max {
                lower_max = s;
            }
        }
    }
    inside.sort_unstable_by(f64::total_cmp);
    // Candidates: the largest score below the bucket (all of the bucket fires; -inf when
    // there is none), then each distinct score of the bucket.
    let mut best = (lower_max, count(above[target_bucket]));
    let mut consider = |theta: f64, c: u64| {
        let (o, ob) = (objective(c), objective(best.1));
        if o < ob || (o == ob && theta > best.0) {
            best = (theta, c);
        }
    };
    for (i, &v) in inside.iter().enumerate() {
        if inside.get(i + 1) != Some(&v) {
            consider(
                v,
                count(above[target_bucket + 1] + (inside.len() - i - 1) as u64),
            );
        }
    }
    best.0
}

/// Buckets of the first stage of the calibration search.
const CALIBRATION_BUCKETS: usize = 4096;

/// The threshold that brings the mean segment length `n / count` closest to
/// `rules.target_len` (ties: the higher threshold, i.e. fewer segments).
///
/// Only the set of firing positions matters, and it changes only at score values, so
/// the candidates are `-inf` (every finite score fires), each distinct finite score `v`
/// (the scores above `v` fire) and the largest score (nothing fires by threshold).
/// Without `max_len` the segment count does not increase with the threshold (greedy
/// start selection under `min_len` is optimal, so more firing positions never give fewer
/// segments), and the search is exact: a secant search over 4096 equal-width buckets of
/// the score range brackets the target between two bucket edges, then a second one runs
/// over the distinct scores inside that bucket. Every probe counts segments exactly, by
/// running the rules themselves (a 64-wide bit-mask scan, about a comparison per sample).
/// `max_len` splits can make the count non-monotone in rare cases; the result is then
/// the best threshold met along the search, still exact in what it reports.
///
/// Tied scores are then broken by position: when the count that meets the target lies
/// between the counts of two adjacent distinct thresholds, the positions whose score
/// equals the higher one fire in the order of their [`tie_rank`] (a fixed mix of the
/// absolute position), as many as bring the count closest to the target (see
/// [`Threshold`]). So a tie-heavy profile (a context seen once gives the same entropy
/// at hundreds of positions) still meets the target, deterministically.
pub fn calibrate_threshold(scores: &[f64], rules: &Rules) -> Result<Threshold> {
    if let Some((_, threshold)) = sampled_calibration(scores, rules) {
        return Ok(threshold);
    }
    let (value, reference) = best_distinct_threshold(scores, rules)?;
    let Some(target) = rules.target_len else {
        return Ok(Threshold::above(value));
    };
    Ok(break_ties(scores, rules, value, target, reference))
}

/// The calibration of a long array in about one pass ([`sampled`]), for native rules
/// with batch calibration whose count is not a plain rank (hard lengths or the relative
/// rule); `None` when it does not apply or its bracket misses the target.
pub(crate) fn sampled_calibration(
    scores: &[f64],
    rules: &Rules,
) -> Option<(Vec<Segment>, Threshold)> {
    let native = rules.preset.is_none() && rules.fit.is_none() && !rules.accumulate;
    if !native
        || rules.target_len.is_none()
        || rules.calibration != Calibration::Batch
        || scores.len() < sampled::MIN_SAMPLED
        || rules.validate().is_err()
    {
        return None;
    }
    sampled::calibrated_segments(scores, rules, sampled::Sampling::DEFAULT)
}

/// The tie-broken threshold around `value` (the best distinct threshold); `prior` is
/// the distinct search's reference scan, when it has one.
fn break_ties<'a>(
    scores: &'a [f64],
    rules: &'a Rules,
    value: f64,
    target: f64,
    prior: Option<Reference<'a>>,
) -> Threshold {
    let n = scores.len();
    let wanted = n as f64 / target;
    let objective = |count: u64| (n as f64 / count.max(1) as f64 - target).abs();
    let simple = rules.relative.is_none() && rules.min_len == 1 && rules.max_len.is_none();
    // The count at `value`, from the prior reference or one scan at `value` (then the
    // reference the tie probes count against).
    let (reference, found) =
        match prior.and_then(|r| r.count(Threshold::above(value)).map(|c| (r, c))) {
            Some(known) => known,
            None => {
                let r = Reference::scan(scores, rules, Threshold::above(value));
                let c = r.segments();
                (r, c)
            }
        };
    if (found as f64 - wanted).abs() < 1.0 || n < 2 {
        return Threshold::above(value);
    }
    // The value whose ties decide: `value` itself when too few segments start (its ties
    // would add some), else the next distinct score above it (all of whose ties fire).
    let Some(tied) = tied_value(&scores[1..], value, (found as f64) < wanted) else {
        return Threshold::above(value);
    };
    let tied_at: Vec<u64> = (1..n as u64)
        .filter(|&t| scores[t as usize] == tied)
        .collect();
    let mut ranks: Vec<u64> = tied_at.iter().map(|&t| tie_rank(t)).collect();
    if ranks.len() < 2 {
        // One tied position: both its cases are distinct thresholds, already searched.
        return Threshold::above(value);
    }
    ranks.sort_unstable();
    // The first j ranks fire: j = 0 is `tied` without ties, j = len the next lower value.
    let at = |j: usize| Threshold {
        value: tied,
        tie_cut: if j == 0 {
            0
        } else {
            ranks[j - 1].saturating_add(1)
        },
    };
    let mut best = (Threshold::above(value), found);
    // A threshold rule alone (min_len 1, no max_len, no relative rule): every tied
    // position that fires adds exactly one segment, so the count is known without a pass.
    if simple {
        let base = if (found as f64) < wanted {
            found
        } else {
            found - ranks.len() as u64
        };
        let j = ((wanted - base as f64).round().max(0.0) as usize).min(ranks.len());
        for k in [j.saturating_sub(1), j, (j + 1).min(ranks.len())] {
            let c = base + k as u64;
            if objective(c) < objective(best.1) {
                best = (at(k), c);
            }
        }
        return best.0;
    }
    // Only the tied positions fire differently from `value`'s scan (no score lies
    // strictly between `value` and `tied`), so each probe re-scans around those of them
    // that change, relative to one reference scan.
    let (lo, hi) = (value.min(tied), value.max(tied));
    let reference = if reference.covers(value) && reference.covers(tied) {
        reference
    } else if reference.lo.is_nan() {
        // A fresh scan at `value`, bracketed now.
        reference.bracket_with(lo, hi, tied_at)
    } else {
        // The prior bracket misses `tied`: one scan at `value`.
        Reference::scan(scores, rules, Threshold::above(value)).bracket_with(lo, hi, tied_at)
    };
    let count = |th: Threshold| {
        reference
            .count(th)
            .unwrap_or_else(|| count_segments(scores, rules, th))
    };
    search_ties(&ranks, tied, found, wanted, count, objective, &mut best);
    best.0
}

/// The value whose ties decide around the best distinct threshold `value`: when too few
/// segments start (`fewer`), `value` itself, or rather the highest score at or below it
/// (`value` may be a bucket edge rather than a score; no score lies between the two, so
/// both fire the same positions), whose ties would add some; else the next distinct
/// score above it, all of whose ties fire. `None` when there is no such score.
fn tied_value(scores: &[f64], value: f64, fewer: bool) -> Option<f64> {
    let finite = scores.iter().copied().filter(|v| v.is_finite());
    let v = if fewer {
        finite
            .filter(|&v| v <= value)
            .fold(f64::NEG_INFINITY, f64::max)
    } else {
        finite.filter(|&v| v > value).fold(f64::INFINITY, f64::min)
    };
    v.is_finite().then_some(v)
}

/// The tie cut at `tied` (the value whose ties decide; `ranks`, sorted, are the
/// [`tie_rank`]s of its positions) that brings the count closest to `wanted`, into
/// `best` when better; `found` is the count when none of those ties fire (below the
/// target) or all of them do (above it).
///
/// The count does not decrease as more tied positions fire (without max_len; with it,
/// the best probe is kept) and grows about linearly in their number (the ranks are
/// spread over the series), so a secant search brackets the target in a few probes; x
/// estimates the count with index i (`len - i` ties firing) from the known end, taking
/// half of the firing ties to start a segment.
fn search_ties(
    ranks: &[u64],
    tied: f64,
    found: u64,
    wanted: f64,
    mut count: impl FnMut(Threshold) -> u64,
    objective: impl Fn(u64) -> f64,
    best: &mut (Threshold, u64),
) {
    let at = |j: usize| Threshold {
        value: tied,
        tie_cut: if j == 0 {
            0
        } else {
            ranks[j - 1].saturating_add(1)
        },
    };
    let len = ranks.len();
    let x_of = |i: usize| {
        if (found as f64) < wanted {
            found as f64 + 0.5 * (len - i) as f64
        } else {
            found as f64 - 0.5 * i as f64
        }
    };
    let mut seen = Vec::new();
    secant_search(len + 1, wanted, |i| count(at(len - i)), x_of, &mut seen);
    for (i, c) in seen {
        if objective(c) < objective(best.1) {
            *best = (at(len - i), c);
        }
    }
}

/// How many finite scores fall in the calibration buckets `k..` (roughly: lie above
/// edge `k`), for the secant search's estimates. A cumulative histogram, or, for a series
/// much shorter than the buckets (a short read), the sorted bucket numbers, searched: the
/// same counts without filling and summing thousands of empty buckets per series.
enum AboveEdges {
    Cumulative(Vec<u64>),
    Sorted(Vec<u32>),
}

impl AboveEdges {
    fn new(scores: &[f64], lo: f64, width: f64, buckets: usize, sparse: bool) -> Self {
        let bucket_of = |s: f64| {
            if width > 0.0 {
                (((s - lo) / width) as usize).min(buckets - 1)
            } else {
                0
            }
        };
        let finite = scores.iter().copied().filter(|s| s.is_finite());
        if sparse {
            let mut sorted: Vec<u32> = finite.map(|s| bucket_of(s) as u32).collect();
            sorted.sort_unstable();
            return Self::Sorted(sorted);
        }
        let mut above = vec![0u64; buckets + 1];
        for s in finite {
            above[bucket_of(s)] += 1;
        }
        for k in (0..buckets).rev() {
            above[k] += above[k + 1];
        }
        Self::Cumulative(above)
    }

    /// Scores in buckets `k..` (`k <= buckets`).
    fn at(&self, k: usize) -> u64 {
        match self {
            Self::Cumulative(above) => above[k],
            Self::Sorted(sorted) => {
                (sorted.len() - sorted.partition_point(|&b| (b as usize) < k)) as u64
            }
        }
    }
}

/// Keeps in `best` the (threshold, count) whose count is closer to the target by
/// `objective`; on a tie, the higher threshold (fewer segments).
fn keep_closer<K: PartialOrd>(
    best: &mut Option<(K, u64)>,
    key: K,
    count: u64,
    objective: impl Fn(u64) -> f64,
) {
    let better = match best {
        None => true,
        Some((bk, bc)) => {
            let (o, ob) = (objective(count), objective(*bc));
            o < ob || (o == ob && key > *bk)
        }
    };
    if better {
        *best = Some((key, count));
    }
}

/// The best threshold among the distinct score values (no tie breaking).
fn best_distinct_threshold<'a>(
    scores: &'a [f64],
    rules: &'a Rules,
) -> Result<(f64, Option<Reference<'a>>)> {
    let target = rules
        .target_len
        .ok_or_else(|| Error::parameter("calibration needs target_len"))?;
    let n = scores.len();
    let (lo_v, hi_v) = finite_range(scores);
    if n < 2 || lo_v > hi_v {
        return Ok((f64::INFINITY, None));
    }
    let wanted = n as f64 / target;
    let objective = |count: u64| (n as f64 / count.max(1) as f64 - target).abs();
    let simple = rules.relative.is_none() && rules.min_len == 1 && rules.max_len.is_none();
    if simple && hi_v > lo_v {
        return Ok((
            calibrate_by_rank(scores, lo_v, hi_v, wanted, objective),
            None,
        ));
    }
    let mut best: Option<(f64, u64)> = None;
    let full = |th: Threshold| count_segments(scores, rules, th);
    let Some((lo_edge, hi_edge)) =
        search_edges(scores, (lo_v, hi_v), wanted, full, &objective, &mut best)
    else {
        return Ok((best.map_or(f64::INFINITY, |b| b.0), None));
    };
    let candidates = Candidates::inside(scores, lo_edge, hi_edge);
    // Probes inside one bucket fire differently only at its few positions: count them
    // relative to one scan at the bucket's lower edge (a full scan per probe when the
    // bucket holds too many positions to gain).
    let reference = (lo_edge.is_finite() && candidates.inside <= n / 16).then(|| {
        Reference::scan(scores, rules, Threshold::above(lo_edge)).bracket(lo_edge, hi_edge)
    });
    let count = |th: Threshold| {
        reference
            .as_ref()
            .and_then(|r| r.count(th))
            .unwrap_or_else(|| count_segments(scores, rules, th))
    };
    candidates.search(wanted, count, &objective, &mut best);
    Ok((best.map_or(f64::INFINITY, |b| b.0), reference))
}

/// The bucket edges of stage 1: -inf, then `lo + (hi - lo) k / B` for k = 1..B, the
/// last one the largest score (one bucket when all finite scores are equal).
#[derive(Debug, Clone, Copy)]
pub(crate) struct BucketEdges {
    pub(crate) lo: f64,
    pub(crate) hi: f64,
    pub(crate) width: f64,
    pub(crate) buckets: usize,
}

impl BucketEdges {
    pub(crate) fn new(lo: f64, hi: f64) -> Self {
        let width = (hi - lo) / CALIBRATION_BUCKETS as f64;
        let buckets = if width > 0.0 { CALIBRATION_BUCKETS } else { 1 };
        Self {
            lo,
            hi,
            width,
            buckets,
        }
    }

    /// Edge `k` (0 is -inf).
    pub(crate) fn edge(&self, k: usize) -> f64 {
        match k {
            0 => f64::NEG_INFINITY,
            k if k >= self.buckets => self.hi,
            k => self.lo + self.width * k as f64,
        }
    }
}

/// Stage 1 of the distinct-threshold search: bucket edges -inf, lo + (hi - lo) k / B for
/// k = 1..B (the last is the largest score), with a histogram of the scores over the
/// same buckets to steer the probes; `count` gives the exact segment count at a
/// threshold. Every probe goes into `best`; the edges that bracket the target, when they
/// differ.
fn search_edges(
    scores: &[f64],
    (lo_v, hi_v): (f64, f64),
    wanted: f64,
    mut count: impl FnMut(Threshold) -> u64,
    objective: &impl Fn(u64) -> f64,
    best: &mut Option<(f64, u64)>,
) -> Option<(f64, f64)> {
    let edges = BucketEdges::new(lo_v, hi_v);
    let (width, buckets) = (edges.width, edges.buckets);
    let edge = |k: usize| edges.edge(k);
    let above = AboveEdges::new(scores, lo_v, width, buckets, scores.len() < buckets / 8);
    let mut seen = Vec::new();
    let (lo, hi) = secant_search(
        buckets + 1,
        wanted,
        |k| count(Threshold::above(edge(k))),
        |k| above.at(k) as f64,
        &mut seen,
    );
    for &(k, c) in &seen {
        keep_closer(best, edge(k), c, objective);
    }
    (hi > lo).then(|| (edge(lo), edge(hi)))
}

/// Stage 2 of the distinct-threshold search: the thresholds inside one bucket
/// `(lo_edge, hi_edge]` (its lower edge, then each distinct score in it), with the
/// number of scores above each to steer the probes.
struct Candidates {
    thresholds: Vec<f64>,
    above: Vec<f64>,
    /// Scores inside the bucket.
    inside: usize,
}

impl Candidates {
    fn inside(scores: &[f64], lo_edge: f64, hi_edge: f64) -> Self {
        let mut inside: Vec<f64> = scores
            .iter()
            .copied()
            .filter(|&s| s > lo_edge && s <= hi_edge)
            .collect();
        inside.sort_unstable_by(f64::total_cmp);
        let above_hi = scores.iter().filter(|&&s| s > hi_edge).count() as f64;
        let mut thresholds = vec![lo_edge];
        let mut above = vec![above_hi + inside.len() as f64];
        for (i, &v) in inside.iter().enumerate() {
            if inside.get(i + 1) != Some(&v) {
                thresholds.push(v);
                above.push(above_hi + (inside.len() - i - 1) as f64);
            }
        }
        Self {
            thresholds,
            above,
            inside: inside.len(),
        }
    }

    /// The secant search over the candidates; every probe goes into `best`.
    fn search(
        &self,
        wanted: f64,
        mut count: impl FnMut(Threshold) -> u64,
        objective: &impl Fn(u64) -> f64,
        best: &mut Option<(f64, u64)>,
    ) {
        let mut seen = Vec::new();
        secant_search(
            self.thresholds.len(),
            wanted,
            |i| count(Threshold::above(self.thresholds[i])),
            |i| self.above[i],
            &mut seen,
        );
        for &(i, c) in &seen {
            keep_closer(best, self.thresholds[i], c, objective);
        }
    }
}

/// Steps down the distinct scores in [`calibrate_budget`], at most.
const MAX_TIE_STEPS: usize = 64;

/// The one threshold shared by the series of a ragged batch (`scores[offsets[b]..
/// offsets[b + 1]]` is series `b`'s score signal) that brings the batch's total segment
/// count closest to `rules.budget` (ties: the higher threshold): informative series (more
/// scores above it) get more segments than flat ones, instead of each series being
/// calibrated to the same mean length as `target_len` does.
///
/// The search is [`calibrate_threshold`]'s, run over the concatenated scores (their
/// distinct values are the candidates, the histogram of all of them steers the probes),
/// except that each probe counts segments series by series: the rules, `min_len` and
/// `max_len` included, restart at every series boundary, exactly as each series is
/// then cut. Tied scores at the decisive value are broken by [`tie_rank`] of the
/// position within its series, as many as bring the total closest to the budget. For
/// the price rules (method "line", `accumulate`), the price search of
/// [`calibrate_level`] over the summed counts.
///
/// The total cannot go below one segment per non-empty series (nor below what
/// `max_len` forces), nor above what `min_len` allows: the result is then the nearest
/// total the rules can make.
pub fn calibrate_budget(scores: &[f64], offsets: &[usize], rules: &Rules) -> Result<Threshold> {
    let budget = rules
        .budget
        .ok_or_else(|| Error::parameter("budget calibration needs budget"))?;
    if rules.fit.is_some() || rules.accumulate {
        return crate::segment::fit::calibrate_budget_level(scores, offsets, rules)
            .map(Threshold::above);
    }
    let series: Vec<&[f64]> = offsets
        .windows(2)
        .map(|w| &scores[w[0]..w[1]])
        .filter(|s| !s.is_empty())
        .collect();
    let count =
        |th: Threshold| -> u64 { series.iter().map(|s| count_segments(s, rules, th)).sum() };
    let (lo_v, hi_v) = finite_range(scores);
    if lo_v > hi_v {
        return Ok(Threshold::above(f64::INFINITY));
    }
    let wanted = budget as f64;
    let objective = |c: u64| (c as f64 - wanted).abs();
    let mut best: Option<(f64, u64)> = None;
    if let Some((lo_edge, hi_edge)) =
        search_edges(scores, (lo_v, hi_v), wanted, count, &objective, &mut best)
    {
        Candidates::inside(scores, lo_edge, hi_edge).search(wanted, count, &objective, &mut best);
    }
    let Some((mut value, mut found)) = best else {
        return Ok(Threshold::above(f64::INFINITY));
    };
    if (found as f64 - wanted).abs() < 1.0 {
        return Ok(Threshold::above(value));
    }
    // Too few segments: the ties that decide are those of the lowest distinct threshold
    // that still gives too few (the objective prefers the highest of equal counts, which
    // may sit above a value many positions share, e.g. a score a short context gives
    // everywhere). Step down the distinct scores while the total stays at or below the
    // budget (a bounded number of steps: the search has bracketed the target).
    for _ in 0..MAX_TIE_STEPS {
        if (found as f64) >= wanted {
            break;
        }
        let Some(lower) =
            tied_value(scores, value, true).and_then(|v| tied_value(scores, v.next_down(), true))
        else {
            break;
        };
        let c = count(Threshold::above(lower));
        if c as f64 > wanted {
            break;
        }
        (value, found) = (lower, c);
    }
    let Some(tied) = tied_value(scores, value, (found as f64) < wanted) else {
        return Ok(Threshold::above(value));
    };
    // The tied positions of every series, ranked by their position within the series
    // (the rank each series' own scan breaks ties by).
    let mut ranks: Vec<u64> = series
        .iter()
        .flat_map(|s| {
            (1..s.len() as u64)
                .filter(|&t| s[t as usize] == tied)
                .map(tie_rank)
        })
        .collect();
    if ranks.len() < 2 {
        return Ok(Threshold::above(value));
    }
    ranks.sort_unstable();
    let mut best = (Threshold::above(value), found);
    search_ties(&ranks, tied, found, wanted, count, objective, &mut best);
    Ok(best.0)
}

// ---------------------------------------------------------------------------------------
// Presets
// ---------------------------------------------------------------------------------------

/// `torch.quantile(x, q)` for a 1-D float32 tensor: linear interpolation on the sorted
/// values, in float32 arithmetic (rank = q * (n - 1), weight = rank - floor(rank),
/// `lerp` as ATen writes it). NaN anywhere gives NaN. `None` for an empty input.
pub fn torch_quantile_f32(x: &[f32], q: f64) -> Option<f32> {
    if x.is_empty() {
        return None;
    }
    if x.iter().any(|v| v.is_nan()) {
        return Some(f32::NAN);
    }
    let mut sorted = x.to_vec();
    sorted.sort_unstable_by(|a, b| a.total_cmp(b));
    let q = q as f32;
    let rank = q * (sorted.len() - 1) as f32;
    let below = rank.floor();
    let weight = rank - below;
    let lo = sorted[below as usize];
    let hi = sorted[(rank.ceil() as usize).min(sorted.len() - 1)];
    let diff = hi - lo;
    Some(if weight.abs() < 0.5 {
        lo + weight * diff
    } else {
        hi - diff * (1.0 - weight)
    })
}

/// How a preset fires at `p` from `e[p-1]` (and `e[p-2]`), in float32.
#[derive(Debug, Clone, Copy, PartialEq)]
enum PresetRule {
    Above(f32),
    Rises(f32),
    RisesAndAbove { rise: f32, above: f32 },
}

/// The streaming preset engine.
#[derive(Debug, Clone)]
pub(crate) struct PresetEngine {
    rules: Rules,
    rule: PresetRule,
    /// Starts at `p < forced_until` are forced (START), except `never`.
    forced_until: u64,
    never: Option<u64>,
    /// First `p` where the rule is evaluated.
    first_rule: u64,
    fire_reason: u8,
    pos: u64,
    cur: u64,
    cur_reason: u8,
    prev1: f32,
    prev2: f32,
}

impl PresetEngine {
    /// For EntroPE the whole sequence is needed to compute the quantile threshold.
    pub(crate) fn new(rules: Rules, preset: Preset, whole: &[f64]) -> Result<Self> {
        let (rule, forced_until, never, first_rule, fire_reason) = match preset {
            Preset::Blt {
                mode,
                threshold,
                relative,
            } => {
                let (t, r) = (threshold as f32, relative as f32);
                match mode {
                    BltMode::Global => (PresetRule::Above(t), 2, None, 2, reason::THRESHOLD),
                    BltMode::Monotonic => (PresetRule::Rises(r), 3, None, 3, reason::RELATIVE),
                    BltMode::Combined => (
                        PresetRule::RisesAndAbove { rise: r, above: t },
                        3,
                        Some(3),
                        4,
                        reason::BOTH,
                    ),
                }
            }
            Preset::Entrope { mode, quantile } => {
                let e: Vec<f32> = whole.iter().map(|&v| v as f32).collect();
                match mode {
                    EntropeMode::Global => {
                        let thr = torch_quantile_f32(&e, quantile).unwrap_or(f32::NAN);
                        (PresetRule::Above(thr), 1, None, 1, reason::THRESHOLD)
                    }
                    EntropeMode::Monotonic => {
                        let d: Vec<f32> = e.windows(2).map(|w| w[1] - w[0]).collect();
                        let thr = torch_quantile_f32(&d, quantile).unwrap_or(f32::NAN);
                        (PresetRule::Rises(thr), 2, None, 2, reason::RELATIVE)
                    }
                }
            }
        };
        Ok(Self {
            rules,
            rule,
            forced_until,
            never,
            first_rule,
            fire_reason,
            pos: 0,
            cur: 0,
            cur_reason: reason::START,
            prev1: f32::NAN,
            prev2: f32::NAN,
        })
    }

    pub(crate) fn push(&mut self, scores: &[f64], out: &mut Vec<Segment>) {
        let max_len = self.rules.max_len.map_or(u64::MAX, |m| m as u64);
        for &s in scores {
            let p = self.pos;
            self.pos += 1;
            let start = if p == 0 {
                None
            } else if p < self.forced_until && self.never != Some(p) {
                Some(reason::START)
            } else if p >= self.first_rule && self.never != Some(p) && self.fires() {
                Some(self.fire_reason)
            } else if p - self.cur == max_len {
                Some(reason::MAX_LEN)
            } else {
                None
            };
            if let Some(code) = start {
                if p > 0 {
                    out.push(Segment {
                        start: self.cur,
                        len: p - self.cur,
                        reason: self.cur_reason,
                    });
                }
                self.cur = p;
                self.cur_reason = code;
            }
            self.prev2 = self.prev1;
            self.prev1 = s as f32;
        }
    }

    /// Whether the rule fires at the current position from the two previous entropies.
    #[inline]
    fn fires(&self) -> bool {
        match self.rule {
            PresetRule::Above(t) => self.prev1 > t,
            PresetRule::Rises(r) => self.prev1 - self.prev2 > r,
            PresetRule::RisesAndAbove { rise, above } => {
                self.prev1 - self.prev2 > rise && self.prev1 > above
            }
        }
    }

    pub(crate) fn finish(&mut self, out: &mut Vec<Segment>) {
        if self.pos > self.cur {
            out.push(Segment {
                start: self.cur,
                len: self.pos - self.cur,
                reason: self.cur_reason,
            });
            self.cur = self.pos;
        }
    }

    pub(crate) fn samples_seen(&self) -> u64 {
        self.pos
    }

    /// The start and reason of the open segment.
    pub(crate) fn open_start(&self) -> (u64, u8) {
        (self.cur, self.cur_reason)
    }

    /// A copy restarted at `pos` as if a patch started there; `prev1`, `prev2` are the
    /// entropies at `pos - 1` and `pos - 2` (NaN when absent).
    pub(crate) fn restarted_at(&self, pos: u64, prev1: f64, prev2: f64) -> Self {
        Self {
            pos,
            cur: pos,
            cur_reason: reason::START,
            prev1: prev1 as f32,
            prev2: prev2 as f32,
            ..self.clone()
        }
    }

    pub(crate) fn reset(&mut self) {
        self.pos = 0;
        self.cur = 0;
        self.cur_reason = reason::START;
        self.prev1 = f32::NAN;
        self.prev2 = f32::NAN;
    }

    pub(crate) fn write_state(&self, w: &mut Writer) {
        write_rules(w, &self.rules);
        w.u64(self.pos);
        w.u64(self.cur);
        w.u64(self.cur_reason as u64);
        w.f64(self.prev1 as f64);
        w.f64(self.prev2 as f64);
    }

    pub(crate) fn read_state(r: &mut Reader) -> Result<Self> {
        let rules = read_rules(r)?;
        rules
            .validate()
            .map_err(|e| Error::checkpoint(e.message()))?;
        let preset = rules
            .preset
            .ok_or_else(|| Error::checkpoint("preset engine without a preset"))?;
        if matches!(preset, Preset::Entrope { .. }) {
            return Err(Error::checkpoint("the EntroPE preset cannot stream"));
        }
        let mut e = Self::new(rules, preset, &[])?;
        e.pos = r.u64()?;
        e.cur = r.u64()?;
        let code = r.u64()?;
        e.prev1 = r.f64()? as f32;
        e.prev2 = r.f64()? as f32;
        if code as usize >= reason::NAMES.len() || e.cur > e.pos {
            return Err(Error::checkpoint("inconsistent preset engine state"));
        }
        e.cur_reason = code as u8;
        Ok(e)
    }
}

// ---------------------------------------------------------------------------------------
// Checkpoint helpers
// ---------------------------------------------------------------------------------------

fn write_opt_f64(w: &mut Writer, v: Option<f64>) {
    w.bool(v.is_some());
    w.f64(v.unwrap_or(0.0));
}

fn read_opt_f64(r: &mut Reader) -> Result<Option<f64>> {
    let some = r.bool()?;
    let v = r.f64()?;
    Ok(some.then_some(v))
}

pub(crate) fn write_rules(w: &mut Writer, rules: &Rules) {
    write_opt_f64(w, rules.threshold);
    write_opt_f64(w, rules.relative);
    w.u64(match rules.combine {
        None => 0,
        Some(Combine::And) => 1,
        Some(Combine::Or) => 2,
    });
    w.u64(rules.min_len as u64);
    w.u64(rules.max_len.map_or(0, |m| m as u64));
    write_opt_f64(w, rules.target_len);
    w.bool(rules.calibration == Calibration::Online);
    match rules.preset {
        None => w.u64(0),
        Some(Preset::Blt {
            mode,
            threshold,
            relative,
        }) => {
            w.u64(1);
            w.u64(mode as u64);
            w.f64(threshold);
            w.f64(relative);
        }
        Some(Preset::Entrope { mode, quantile }) => {
            w.u64(2);
            w.u64(mode as u64);
            w.f64(quantile);
        }
    }
    w.u64(rules.fit.map_or(0, |f| f.code()));
    w.bool(rules.accumulate);
}

/// A preset mode written as its index in `modes` (the enum's declaration order).
fn read_mode<T: Copy>(r: &mut Reader, modes: &[T]) -> Result<T> {
    let code = r.u64()?;
    usize::try_from(code)
        .ok()
        .and_then(|i| modes.get(i).copied())
        .ok_or_else(|| Error::checkpoint("invalid preset mode in checkpoint"))
}

pub(crate) fn read_rules(r: &mut Reader) -> Result<Rules> {
    let threshold = read_opt_f64(r)?;
    let relative = read_opt_f64(r)?;
    let combine = match r.u64()? {
        0 => None,
        1 => Some(Combine::And),
        2 => Some(Combine::Or),
        _ => return Err(Error::checkpoint("invalid combine in checkpoint")),
    };
    let min_len = r.usize()?;
    let max_len = match r.usize()? {
        0 => None,
        m => Some(m),
    };
    let target_len = read_opt_f64(r)?;
    let calibration = if r.bool()? {
        Calibration::Online
    } else {
        Calibration::Batch
    };
    let preset = match r.u64()? {
        0 => None,
        1 => {
            let mode = read_mode(r, &[BltMode::Global, BltMode::Monotonic, BltMode::Combined])?;
            Some(Preset::Blt {
                mode,
                threshold: r.f64()?,
                relative: r.f64()?,
            })
        }
        2 => {
            let mode = read_mode(r, &[EntropeMode::Global, EntropeMode::Monotonic])?;
            Some(Preset::Entrope {
                mode,
                quantile: r.f64()?,
            })
        }
        _ => return Err(Error::checkpoint("invalid preset in checkpoint")),
    };
    let fit = match r.u64()? {
        0 => None,
        d => Some(Fit::from_code(d).ok_or_else(|| Error::checkpoint("invalid fit in checkpoint"))?),
    };
    Ok(Rules {
        threshold,
        relative,
        combine,
        min_len,
        max_len,
        target_len,
        // A budget is met over a whole batch, which no stream sees
        // (`SegmentSpec::check_streamable` refuses it): checkpoints never carry one.
        budget: None,
        calibration,
        preset,
        fit,
        accumulate: r.bool()?,
    })
}

mod sampled;
pub mod short;
#[cfg(test)]
mod tests;
