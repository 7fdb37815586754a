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
//! values that runs the engine itself at each probe), or online in streaming mode (a
//! deterministic controller, see [`Calibration::Online`]).
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

use std::collections::VecDeque;

use crate::checkpoint::{Reader, Writer};
use crate::error::{Error, Result};

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
    /// A deterministic controller that adjusts the threshold after every sample:
    /// `theta += GAIN * spread * (started - 1/target_len)`, where `started` is 1 when a
    /// segment started at that sample (any reason) and `spread` is an exponential moving
    /// average of `|s - mean|` (rate `1/(8 target_len)`). Starting from the first finite
    /// score, it drives the start rate to `1/target_len`, so the mean length converges to
    /// the target on stationary signals and tracks slow changes. Streaming-safe and
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
    /// How `target_len` is met.
    pub calibration: Calibration,
    /// A published patcher instead of the native rules.
    pub preset: Option<Preset>,
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
            calibration: Calibration::Batch,
            preset: None,
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
            return self.validate_preset(p);
        }
        finite_option("threshold", self.threshold)?;
        finite_option("relative", self.relative)?;
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
        let uses_threshold = self.threshold.is_some() || self.target_len.is_some();
        let both = uses_threshold && self.relative.is_some();
        match (both, self.combine) {
            (true, None) => {
                return Err(Error::parameter(
                    "both a threshold (or target_len) and relative are given: say how they \
                     combine with combine='and' or combine='or'",
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
                "no rule given: pass threshold, relative, target_len, max_len or a preset",
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
        if self.target_len.is_some() || self.combine.is_some() {
            return Err(Error::parameter(
                "presets take their own rules: target_len and combine do not apply",
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
}

impl Controller {
    fn new(target_len: f64) -> Self {
        Self {
            rate: 1.0 / target_len,
            beta: 1.0 / (8.0 * target_len),
            theta: f64::NAN,
            mean: 0.0,
            spread: 0.0,
            initialised: false,
        }
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
            self.spread += self.beta * ((s - self.mean).abs() - self.spread);
            self.mean += self.beta * (s - self.mean);
        }
        self.theta += ONLINE_GAIN * self.spread * (started as u8 as f64 - self.rate);
    }
}

/// The streaming native rule engine.
#[derive(Debug, Clone)]
pub struct RuleEngine {
    rules: Rules,
    /// Fixed threshold in force (given, or calibrated in batch).
    theta: Option<f64>,
    controller: Option<Controller>,
    /// Index of the next sample.
    pos: u64,
    /// Start of the open segment, and its reason.
    cur: u64,
    cur_reason: u8,
    /// Previous score (NaN when none).
    prev: f64,
    /// Split candidates `(index, score with NaN as -inf)`, scores strictly decreasing.
    deque: VecDeque<(u64, f64)>,
}

impl RuleEngine {
    /// An engine for native rules. With `target_len` and batch calibration, pass the
    /// calibrated threshold as `calibrated` (see [`calibrate_threshold`]).
    pub fn new(rules: Rules, calibrated: Option<f64>) -> Result<Self> {
        rules.validate()?;
        if rules.preset.is_some() {
            return Err(Error::parameter(
                "RuleEngine runs native rules, not presets",
            ));
        }
        let (theta, controller) = match (rules.target_len, rules.calibration) {
            (Some(t), Calibration::Online) => (None, Some(Controller::new(t))),
            (Some(_), Calibration::Batch) => (
                Some(calibrated.ok_or_else(|| {
                    Error::parameter(
                        "batch calibration needs the whole score array; use \
                         calibration='online' when streaming",
                    )
                })?),
                None,
            ),
            (None, _) => (rules.threshold, None),
        };
        Ok(Self {
            rules,
            theta,
            controller,
            pos: 0,
            cur: 0,
            cur_reason: reason::START,
            prev: f64::NAN,
            deque: VecDeque::new(),
        })
    }

    /// The rules.
    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// The threshold currently in force (the controller's latest value online).
    pub fn threshold(&self) -> Option<f64> {
        self.controller.map(|c| c.theta).or(self.theta)
    }

    /// Samples consumed.
    pub fn samples_seen(&self) -> u64 {
        self.pos
    }

    /// Forgets the stream (rules and calibration stay; the online controller restarts).
    pub fn reset(&mut self) {
        self.pos = 0;
        self.cur = 0;
        self.cur_reason = reason::START;
        self.prev = f64::NAN;
        self.deque.clear();
        if let Some(t) = self.rules.target_len {
            if self.controller.is_some() {
                self.controller = Some(Controller::new(t));
            }
        }
    }

    /// Consumes scores, appending every segment that closes to `out`.
    pub fn push(&mut self, scores: &[f64], out: &mut Vec<Segment>) {
        let min_len = self.rules.min_len as u64;
        let max_len = self.rules.max_len.map_or(u64::MAX, |m| m as u64);
        let relative = self.rules.relative;
        let combine = self.rules.combine.unwrap_or(Combine::Or);
        let has_threshold = self.theta.is_some() || self.controller.is_some();
        for &s in scores {
            let t = self.pos;
            self.pos += 1;
            let theta = match &mut self.controller {
                Some(c) => c.theta_for(s),
                None => self.theta.unwrap_or(f64::NAN),
            };
            if t == 0 {
                self.prev = s;
                if let Some(c) = &mut self.controller {
                    c.observe(s, true);
                }
                continue;
            }
            let above = has_threshold && s > theta;
            let rises = relative.is_some_and(|r| s - self.prev > r);
            let fired = match (has_threshold, relative.is_some(), combine) {
                (true, true, Combine::And) => above && rises,
                _ => above || rises,
            };
            let len = t - self.cur;
            let mut started = false;
            if fired && len >= min_len {
                out.push(Segment {
                    start: self.cur,
                    len,
                    reason: self.cur_reason,
                });
                self.cur = t;
                self.cur_reason = match (above, rises) {
                    (true, true) => reason::BOTH,
                    (true, false) => reason::THRESHOLD,
                    _ => reason::RELATIVE,
                };
                self.deque.clear();
                started = true;
            } else if len >= min_len && max_len != u64::MAX {
                // `t` is an admissible split point of the open segment.
                let key = if s.is_nan() { f64::NEG_INFINITY } else { s };
                while self.deque.back().is_some_and(|&(_, b)| b <= key) {
                    self.deque.pop_back();
                }
                self.deque.push_back((t, key));
                if len == max_len {
                    let (p, _) = self.deque.pop_front().expect("t was just pushed");
                    out.push(Segment {
                        start: self.cur,
                        len: p - self.cur,
                        reason: self.cur_reason,
                    });
                    self.cur = p;
                    self.cur_reason = reason::MAX_LEN;
                    while self.deque.front().is_some_and(|&(i, _)| i < p + min_len) {
                        self.deque.pop_front();
                    }
                    started = true;
                }
            }
            if let Some(c) = &mut self.controller {
                c.observe(s, started);
            }
            self.prev = s;
        }
    }

    /// Closes the open segment (if any sample was seen).
    pub fn finish(&mut self, out: &mut Vec<Segment>) {
        if self.pos > self.cur {
            out.push(Segment {
                start: self.cur,
                len: self.pos - self.cur,
                reason: self.cur_reason,
            });
            self.cur = self.pos;
        }
    }

    pub(crate) fn write_state(&self, w: &mut Writer) {
        write_rules(w, &self.rules);
        w.f64(self.theta.unwrap_or(f64::NAN));
        w.bool(self.theta.is_some());
        match &self.controller {
            Some(c) => {
                w.bool(true);
                w.f64(c.theta);
                w.f64(c.mean);
                w.f64(c.spread);
                w.bool(c.initialised);
            }
            None => w.bool(false),
        }
        w.u64(self.pos);
        w.u64(self.cur);
        w.u64(self.cur_reason as u64);
        w.f64(self.prev);
        w.u64(self.deque.len() as u64);
        for &(i, s) in &self.deque {
            w.u64(i);
            w.f64(s);
        }
    }

    pub(crate) fn read_state(r: &mut Reader) -> Result<Self> {
        let rules = read_rules(r)?;
        let theta = r.f64()?;
        let has_theta = r.bool()?;
        let mut engine = Self::new(rules, has_theta.then_some(theta))
            .map_err(|e| Error::checkpoint(e.message()))?;
        engine.theta = has_theta.then_some(theta);
        if r.bool()? {
            let target = rules
                .target_len
                .ok_or_else(|| Error::checkpoint("controller without target_len"))?;
            let mut c = Controller::new(target);
            c.theta = r.f64()?;
            c.mean = r.f64()?;
            c.spread = r.f64()?;
            c.initialised = r.bool()?;
            engine.controller = Some(c);
        } else {
            engine.controller = None;
        }
        engine.pos = r.u64()?;
        engine.cur = r.u64()?;
        let code = r.u64()?;
        engine.prev = r.f64()?;
        let n = r.usize()?;
        let max_len = rules.max_len.unwrap_or(0) as u64;
        if code as usize >= reason::NAMES.len() || engine.cur > engine.pos || n as u64 > max_len {
            return Err(Error::checkpoint("inconsistent rule engine state"));
        }
        engine.cur_reason = code as u8;
        for _ in 0..n {
            let i = r.u64()?;
            let s = r.f64()?;
            if i < engine.cur || i >= engine.pos || s.is_nan() {
                return Err(Error::checkpoint("inconsistent rule engine state"));
            }
            engine.deque.push_back((i, s));
        }
        Ok(engine)
    }
}

/// Native rules over a whole score array (with batch calibration when asked).
pub fn segment_scores(scores: &[f64], rules: &Rules) -> Result<Vec<Segment>> {
    rules.validate()?;
    let mut out = Vec::new();
    if let Some(preset) = rules.preset {
        let mut engine = PresetEngine::new(*rules, preset, scores)?;
        engine.push(scores, &mut out);
        engine.finish(&mut out);
        return Ok(out);
    }
    let calibrated = match (rules.target_len, rules.calibration) {
        (Some(_), Calibration::Batch) => Some(calibrate_threshold(scores, rules)?),
        _ => None,
    };
    let mut engine = RuleEngine::new(*rules, calibrated)?;
    engine.push(scores, &mut out);
    engine.finish(&mut out);
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Batch calibration
// ---------------------------------------------------------------------------------------

/// A position that can fire for some threshold at or above the search floor.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    index: u64,
    score: f64,
    rises: bool,
}

/// Number of segments the native engine produces with threshold `theta`, evaluated
/// over the candidate positions only (positions outside `candidates` never fire at
/// thresholds at or above the floor the list was built for). Forced splits inside long
/// gaps scan the scores of the gap; the result equals a full engine run.
fn count_segments(scores: &[f64], candidates: &[Candidate], theta: f64, rules: &Rules) -> u64 {
    let n = scores.len() as u64;
    if n == 0 {
        return 0;
    }
    let min_len = rules.min_len as u64;
    let max_len = rules.max_len.map(|m| m as u64);
    let has_relative = rules.relative.is_some();
    let and = rules.combine == Some(Combine::And);
    let mut cur = 0u64;
    let mut count = 1u64;
    let forced = |cur: u64| -> u64 {
        // Highest score in [cur + min_len, cur + max_len], latest on ties, NaN lowest.
        let m = max_len.expect("forced split needs max_len");
        let mut best = cur + m;
        let mut best_key = f64::NEG_INFINITY;
        for p in cur + min_len..=cur + m {
            let s = scores[p as usize];
            let key = if s.is_nan() { f64::NEG_INFINITY } else { s };
            if key >= best_key {
                best_key = key;
                best = p;
            }
        }
        best
    };
    for c in candidates {
        let above = c.score > theta;
        let fired = if has_relative && and {
            above && c.rises
        } else {
            above || c.rises
        };
        if !fired || c.index == 0 {
            continue;
        }
        if let Some(m) = max_len {
            while c.index - cur > m {
                cur = forced(cur);
                count += 1;
            }
        }
        if c.index - cur >= min_len {
            cur = c.index;
            count += 1;
        }
    }
    if let Some(m) = max_len {
        while cur + m < n {
            cur = forced(cur);
            count += 1;
        }
    }
    count
}

/// Order statistics of a value array by repeated partial selection: each query
/// partitions only the stretch between the nearest ranks already fixed, so a search that
/// zooms in costs O(n) in all rather than O(n) per query.
struct RankSelector {
    values: Vec<f64>,
    /// Sorted indices whose rank is fixed (partitioned around).
    pivots: Vec<usize>,
}

impl RankSelector {
    fn new(values: Vec<f64>) -> Self {
        Self {
            values,
            pivots: Vec::new(),
        }
    }
    fn len(&self) -> usize {
        self.values.len()
    }
    /// The value of rank `r` in descending order (0 = the largest).
    fn value(&mut self, r: usize) -> f64 {
        let at = self.pivots.partition_point(|&p| p < r);
        if self.pivots.get(at) == Some(&r) {
            return self.values[r];
        }
        let lo = if at == 0 { 0 } else { self.pivots[at - 1] + 1 };
        let hi = self.pivots.get(at).copied().unwrap_or(self.values.len());
        self.values[lo..hi].select_nth_unstable_by(r - lo, |a, b| b.total_cmp(a));
        self.pivots.insert(at, r);
        self.values[r]
    }
}

/// The threshold that brings the mean segment length `n / count` closest to
/// `rules.target_len` (ties: the higher threshold, i.e. fewer segments).
///
/// The candidate thresholds are the distinct finite scores (a threshold equal to a
/// score value `v` lets exactly the scores above `v` fire), plus `-inf`. The segment
/// count is non-increasing in the threshold when `max_len` is not set (greedy start
/// selection under `min_len` is optimal, so more firing positions never give fewer
/// segments); the search brackets the target count by rank with an Illinois-style
/// secant step and ends on adjacent ranks, keeping the best threshold it evaluated.
/// Each probe counts segments exactly (same rules, same splits), over the positions that
/// can fire at the search floor, so a probe costs O(candidates) rather than O(n).
/// `max_len` splits can make the count non-monotone in rare cases; the result is then
/// the best threshold met along the search, still exact in what it reports.
pub fn calibrate_threshold(scores: &[f64], rules: &Rules) -> Result<f64> {
    let target = rules
        .target_len
        .ok_or_else(|| Error::parameter("calibration needs target_len"))?;
    let n = scores.len();
    let relative = rules.relative;
    let rises_at =
        |t: usize| -> bool { t > 0 && relative.is_some_and(|r| scores[t] - scores[t - 1] > r) };
    let finite: Vec<f64> = scores.iter().copied().filter(|s| s.is_finite()).collect();
    if finite.is_empty() || n < 2 {
        return Ok(f64::INFINITY);
    }
    let wanted = n as f64 / target;
    let objective = |count: u64| ((n as f64 / count as f64) - target).abs();

    // Build the candidate list for a floor rank: all positions whose score is at least
    // the floor value, or that rise (they may fire under `or`).
    let build = |floor: f64| -> Vec<Candidate> {
        (1..n)
            .filter_map(|t| {
                let s = scores[t];
                let rises = rises_at(t);
                let may_fire = if rules.combine == Some(Combine::And) {
                    rises && s >= floor
                } else {
                    rises || s >= floor
                };
                may_fire.then_some(Candidate {
                    index: t as u64,
                    score: s,
                    rises,
                })
            })
            .collect()
    };

    // The finite scores, partially ordered as the search narrows (descending: rank r is
    // the (r+1)-th largest value).
    let mut ranks = RankSelector::new(finite);
    let total = ranks.len();
    // Floor: enough firing positions to reach the target even with min_len suppression.
    let mut floor_rank =
        ((wanted.ceil() as usize).saturating_mul(4 * rules.min_len.max(1))).clamp(1, total);
    let mut candidates;
    loop {
        let floor = ranks.value(floor_rank - 1);
        candidates = build(floor);
        let lowest = floor.next_down();
        if floor_rank == total
            || count_segments(scores, &candidates, lowest, rules) as f64 >= wanted
        {
            break;
        }
        floor_rank = (floor_rank * 4).min(total);
    }
    // Threshold for rank r: r = 0 -> +inf (nothing fires); 0 < r < total -> the value of
    // rank r (so the scores strictly above it fire: at most r of them, fewer on ties);
    // r = total -> -inf (every finite score fires).
    let mut cache: Vec<(usize, f64, u64)> = Vec::new();
    let mut probe = |r: usize, ranks: &mut RankSelector| -> (f64, u64) {
        if let Some(&(_, th, c)) = cache.iter().find(|e| e.0 == r) {
            return (th, c);
        }
        let theta = if r == 0 {
            f64::INFINITY
        } else if r >= total {
            f64::NEG_INFINITY
        } else {
            ranks.value(r)
        };
        let count = count_segments(scores, &candidates, theta, rules);
        cache.push((r, theta, count));
        (theta, count)
    };
    let (mut lo_r, mut hi_r) = (0usize, floor_rank.min(total));
    let (th_lo, mut c_lo) = probe(lo_r, &mut ranks);
    let (th_hi, mut c_hi) = probe(hi_r, &mut ranks);
    let mut best = if objective(c_lo) <= objective(c_hi) {
        (th_lo, c_lo)
    } else {
        (th_hi, c_hi)
    };
    let consider = |th: f64, c: u64, best: &mut (f64, u64)| {
        let (o, ob) = (objective(c), objective(best.1));
        if o < ob || (o == ob && th > best.0) {
            *best = (th, c);
        }
    };
    // Illinois-style secant over ranks, falling back to bisection.
    let (mut f_lo, mut f_hi) = (c_lo as f64 - wanted, c_hi as f64 - wanted);
    let mut side = 0i8;
    for _ in 0..128 {
        if hi_r - lo_r <= 1 || f_lo >= 0.0 || f_hi <= 0.0 {
            break;
        }
        let span = (hi_r - lo_r) as f64;
        let secant = lo_r as f64 + span * (-f_lo) / (f_hi - f_lo);
        let mut mid = secant.round() as usize;
        if !(lo_r < mid && mid < hi_r) {
            mid = lo_r + (hi_r - lo_r) / 2;
        }
        let (th, c) = probe(mid, &mut ranks);
        consider(th, c, &mut best);
        let f = c as f64 - wanted;
        if f < 0.0 {
            lo_r = mid;
            c_lo = c;
            f_lo = f;
            if side == -1 {
                f_hi /= 2.0;
            }
            side = -1;
        } else if f > 0.0 {
            hi_r = mid;
            c_hi = c;
            f_hi = f;
            if side == 1 {
                f_lo /= 2.0;
            }
            side = 1;
        } else {
            break;
        }
    }
    let _ = (c_lo, c_hi);
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
            let mode = match r.u64()? {
                0 => BltMode::Global,
                1 => BltMode::Monotonic,
                2 => BltMode::Combined,
                _ => return Err(Error::checkpoint("invalid preset mode in checkpoint")),
            };
            Some(Preset::Blt {
                mode,
                threshold: r.f64()?,
                relative: r.f64()?,
            })
        }
        2 => {
            let mode = match r.u64()? {
                0 => EntropeMode::Global,
                1 => EntropeMode::Monotonic,
                _ => return Err(Error::checkpoint("invalid preset mode in checkpoint")),
            };
            Some(Preset::Entrope {
                mode,
                quantile: r.f64()?,
            })
        }
        _ => return Err(Error::checkpoint("invalid preset in checkpoint")),
    };
    Ok(Rules {
        threshold,
        relative,
        combine,
        min_len,
        max_len,
        target_len,
        calibration,
        preset,
    })
}

#[cfg(test)]
mod tests;
