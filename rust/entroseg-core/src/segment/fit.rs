//! The fit rule (method `"line"`): segments that a fixed-capacity patch can represent.
//!
//! Each open segment is coded by the least-squares polynomial of degree `d` (0: its
//! mean, 1: a straight line) through its samples. A sample `x[t]` joining the segment
//! that starts at `a` raises the segment's residual sum of squares by
//!
//! ```text
//! delta[t] = RSS(a..=t) - RSS(a..t) = e^2 / (1 + h)
//! ```
//!
//! where `e` is the error of the segment's current fit extrapolated to `t` and `h` the
//! leverage of position `t` (the recursive residual of least squares; `delta = 0` while
//! the segment holds at most `d + 1` samples). Under a Gaussian residual, `delta` is
//! what the new sample costs to code given the segment's model: the information the
//! segment's token would fail to carry. The rule starts a new segment at `t` when that
//! price exceeds the price of a new token, `delta[t] > threshold` (and the segment
//! holds at least `min_len` samples), or when the segment holds `max_len` samples. The
//! segment's fit then restarts at `t`.
//!
//! So segments are short where the signal bends or jumps (a line cannot follow it) and
//! long where it is smooth, flat or predictable, and noise gets long segments (its
//! residual grows by about its variance per sample, far below a threshold set by the
//! structure). On the reconstruction benchmark (benches/README.md) this is the rule that
//! beats fixed patches.
//!
//! Every decision is made when its sample arrives (decision delay 0), the state is the
//! open segment's running moments (O(1)), and the same arithmetic runs whatever the
//! chunking, so streams, checkpoints and one-shot calls agree bit for bit. The moments
//! are Welford updates relative to the segment start (numerically stable: no sums of
//! squares that cancel).
//!
//! `target_len` calibrates the threshold: in batch by a search over its logarithm that
//! runs the rule itself at each probe (the closest mean length found; the segment count
//! falls as the threshold rises, but not strictly: a cut that moves changes every fit
//! after it), online by a multiplicative controller (see [`Level`]).

use crate::error::{Error, Result};
use crate::segment::rules::{reason, Calibration, Rules, Segment};
use crate::util::checkpoint::{Reader, Writer};

/// The fit rule's model: the degree of the polynomial fitted to each segment, and the
/// channels it reads.
///
/// A multichannel input (`channels > 1`) is read as rows of `channels` values (the
/// values of one sample, interleaved); each channel has its own fit over the open
/// segment, and the row's price is the sum of the channels' residual increases (the
/// squared errors add: a patch codes every channel) or, with `max`, the largest (a cut
/// wherever any one channel bends). One channel is the 1-D rule bit for bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fit {
    /// 0 (the segment mean) or 1 (a least-squares line).
    pub degree: u8,
    /// Values per sample (one per channel); at least 1.
    pub channels: u32,
    /// Combine the channels' prices by their maximum instead of their sum.
    pub max: bool,
}

/// Highest supported degree.
pub const MAX_DEGREE: u8 = 1;

/// Most channels a fit reads (a bound on what a checkpoint may ask for).
pub const MAX_CHANNELS: u32 = 1 << 16;

impl Fit {
    /// A one-channel fit of `degree`.
    pub fn of_degree(degree: u8) -> Self {
        Self {
            degree,
            channels: 1,
            max: false,
        }
    }

    /// Checks the degree and the channel count.
    pub fn validate(&self) -> Result<()> {
        if self.degree > MAX_DEGREE {
            return Err(Error::parameter(format!(
                "degree must be 0 (the segment mean) or 1 (a line), got {}",
                self.degree
            )));
        }
        if !(1..=MAX_CHANNELS).contains(&self.channels) {
            return Err(Error::parameter(format!(
                "method='line' fits 1..={MAX_CHANNELS} channels, got {}",
                self.channels
            )));
        }
        Ok(())
    }

    /// The checkpoint code of the fit: `1 + degree` for one channel summed (the layout
    /// of checkpoints written before multichannel fits), the channel count and the
    /// combination above it.
    pub(crate) fn code(&self) -> u64 {
        let extra = (u64::from(self.channels) - 1) * 2 + u64::from(self.max);
        1 + u64::from(self.degree) + (u64::from(MAX_DEGREE) + 1) * extra
    }

    /// The fit of a [`code`](Self::code) (`None` when it names none).
    pub(crate) fn from_code(code: u64) -> Option<Self> {
        let c = code.checked_sub(1)?;
        let per = u64::from(MAX_DEGREE) + 1;
        let extra = c / per;
        let channels = u32::try_from(extra / 2 + 1).ok()?;
        let fit = Self {
            degree: (c % per) as u8,
            channels,
            max: extra % 2 == 1,
        };
        fit.validate().ok().map(|_| fit)
    }
}

/// Values per sample of the price rules' input: a fit's channel count, else 1.
#[inline]
pub(crate) fn row_width(rules: &Rules) -> usize {
    rules.fit.map_or(1, |f| f.channels as usize)
}

/// Running least-squares moments of the open segment (positions count from its start).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Moments {
    /// Finite samples in the fit.
    n: f64,
    /// Position of the next sample, relative to the segment start.
    next: f64,
    mean_t: f64,
    mean_x: f64,
    /// Sum of squared position deviations.
    ctt: f64,
    /// Sum of position-value co-deviations.
    ctx: f64,
}

impl Moments {
    /// The residual increase `delta` if `v` joins at the next position.
    #[inline(always)]
    fn delta(&self, degree: u8, v: f64) -> f64 {
        if degree == 0 {
            if self.n < 1.0 {
                return 0.0;
            }
            let e = v - self.mean_x;
            return e * e * self.n / (self.n + 1.0);
        }
        if self.n < 2.0 {
            return 0.0;
        }
        let dt = self.next - self.mean_t;
        let e = v - (self.mean_x + self.ctx / self.ctt * dt);
        e * e / (1.0 + 1.0 / self.n + dt * dt / self.ctt)
    }

    /// Adds a finite sample at the next position.
    #[inline(always)]
    fn add(&mut self, v: f64) {
        self.n += 1.0;
        let inv = 1.0 / self.n;
        let dx = v - self.mean_x;
        self.mean_x += dx * inv;
        let dt = self.next - self.mean_t;
        self.mean_t += dt * inv;
        self.ctt += dt * (self.next - self.mean_t);
        self.ctx += dt * (v - self.mean_x);
        self.next += 1.0;
    }

    fn write(&self, w: &mut Writer) {
        for v in [
            self.n,
            self.next,
            self.mean_t,
            self.mean_x,
            self.ctt,
            self.ctx,
        ] {
            w.f64(v);
        }
    }

    fn read(r: &mut Reader) -> Result<Self> {
        Ok(Self {
            n: r.f64()?,
            next: r.f64()?,
            mean_t: r.f64()?,
            mean_x: r.f64()?,
            ctt: r.f64()?,
            ctx: r.f64()?,
        })
    }
}

/// What the price is compared with at each sample: the fit rule's residual increase, or
/// the accumulate rule's information so far.
#[derive(Debug, Clone, PartialEq)]
enum Model {
    /// Method "line": the open segment's least-squares fit.
    Line(LineCost),
    /// Method "line" over several channels: one fit per channel.
    Lines(LinesCost),
    /// `accumulate=True`: the sum of the open segment's finite scores (negative ones
    /// count as 0).
    Sum(SumCost),
}

impl Model {
    fn fresh(rules: &Rules) -> Self {
        match rules.fit {
            Some(fit) if fit.channels > 1 => Model::Lines(LinesCost {
                degree: fit.degree,
                max: fit.max,
                moments: vec![Moments::default(); fit.channels as usize],
            }),
            Some(fit) => Model::Line(LineCost {
                degree: fit.degree,
                moments: Moments::default(),
            }),
            None => Model::Sum(SumCost { acc: 0.0 }),
        }
    }

    fn write(&self, w: &mut Writer) {
        match self {
            Model::Line(m) => m.moments.write(w),
            Model::Lines(m) => m.moments.iter().for_each(|c| c.write(w)),
            Model::Sum(m) => w.f64(m.acc),
        }
    }

    fn read(&mut self, r: &mut Reader) -> Result<()> {
        match self {
            Model::Line(m) => m.moments = Moments::read(r)?,
            Model::Lines(m) => {
                for c in &mut m.moments {
                    *c = Moments::read(r)?;
                }
            }
            Model::Sum(m) => m.acc = r.f64()?,
        }
        Ok(())
    }
}

/// The per-sample operations of a model, for the loop specialised per model. `R` is
/// what one sample is: a value, or a row of channel values.
trait Cost<R: Copy> {
    /// The price of the sample joining the open segment; NaN when it has a non-finite
    /// value (it joins without starting a segment).
    fn cost(&self, v: R) -> f64;
    fn add(&mut self, v: R);
    fn clear(&mut self);
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct LineCost {
    degree: u8,
    moments: Moments,
}

impl Cost<f64> for LineCost {
    #[inline(always)]
    fn cost(&self, v: f64) -> f64 {
        if v.is_finite() {
            self.moments.delta(self.degree, v)
        } else {
            f64::NAN
        }
    }
    #[inline(always)]
    fn add(&mut self, v: f64) {
        if v.is_finite() {
            self.moments.add(v)
        } else {
            self.moments.next += 1.0
        }
    }
    #[inline(always)]
    fn clear(&mut self) {
        self.moments = Moments::default();
    }
}

/// One least-squares fit per channel; a row's price combines the channels' residual
/// increases (sum, or max). A row with a non-finite value in any channel never starts
/// a segment (its price is NaN); its finite values still enter their channels' fits.
#[derive(Debug, Clone, PartialEq)]
struct LinesCost {
    degree: u8,
    max: bool,
    moments: Vec<Moments>,
}

impl<'a> Cost<&'a [f64]> for LinesCost {
    #[inline(always)]
    fn cost(&self, row: &'a [f64]) -> f64 {
        let mut total = 0.0f64;
        let mut finite = true;
        for (m, &v) in self.moments.iter().zip(row) {
            finite &= v.is_finite();
            let d = m.delta(self.degree, v);
            total = if self.max { total.max(d) } else { total + d };
        }
        if finite {
            total
        } else {
            f64::NAN
        }
    }
    #[inline(always)]
    fn add(&mut self, row: &'a [f64]) {
        for (m, &v) in self.moments.iter_mut().zip(row) {
            if v.is_finite() {
                m.add(v)
            } else {
                m.next += 1.0
            }
        }
    }
    #[inline(always)]
    fn clear(&mut self) {
        self.moments.fill(Moments::default());
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct SumCost {
    acc: f64,
}

impl Cost<f64> for SumCost {
    /// Negative scores count as 0: information is not negative (a differential
    /// surprisal of a well-predicted value can be).
    #[inline(always)]
    fn cost(&self, v: f64) -> f64 {
        if v.is_finite() {
            self.acc + v.max(0.0)
        } else {
            f64::NAN
        }
    }
    #[inline(always)]
    fn add(&mut self, v: f64) {
        if v.is_finite() {
            self.acc += v.max(0.0)
        }
    }
    #[inline(always)]
    fn clear(&mut self) {
        self.acc = 0.0;
    }
}

/// Floor of the online controller's gain (per segment, on the log threshold).
pub const LEVEL_GAIN: f64 = 0.3;
/// Scale of its warm-up gain `LEVEL_WARMUP_GAIN / sqrt(samples / target_len)`.
pub const LEVEL_WARMUP_GAIN: f64 = 1.0;

/// The threshold in force: fixed (given or calibrated in batch) or online.
///
/// The online controller starts from the first positive `delta` and, after every
/// sample, multiplies the threshold by `exp(g * (started - 1 / target_len))`: up when a
/// segment started there, down otherwise, so the log threshold drifts until segments
/// start at rate `1 / target_len` (a Robbins-Monro search on the log scale, which fits
/// a price that spans orders of magnitude between series). The gain `g` is
/// `max(LEVEL_GAIN, LEVEL_WARMUP_GAIN / sqrt(k / target_len))` after `k` samples: large
/// while the scale is unknown, then a constant floor that tracks slow changes. After
/// the warm-up the two factors are constants (one multiplication per sample).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Level {
    Fixed(f64),
    Online {
        /// NaN until the first positive cost.
        lambda: f64,
        /// The first positive cost times this is the first threshold (1 for a fit's
        /// residual increase, the target length for accumulated information).
        scale: f64,
        rate: f64,
        /// Samples observed since the threshold was set (counted through the warm-up).
        k: u64,
        warmup: u64,
        up: f64,
        down: f64,
    },
}

impl Level {
    fn online(target_len: f64, scale: f64) -> Self {
        let rate = 1.0 / target_len;
        let ratio = LEVEL_WARMUP_GAIN / LEVEL_GAIN;
        Level::Online {
            lambda: f64::NAN,
            scale,
            rate,
            k: 0,
            warmup: (ratio * ratio * target_len).ceil() as u64,
            up: (LEVEL_GAIN * (1.0 - rate)).exp(),
            down: (-LEVEL_GAIN * rate).exp(),
        }
    }

    /// The threshold for a sample whose delta is `d` (the online one starts at the first
    /// positive delta, which therefore does not fire).
    #[inline(always)]
    fn current(&mut self, d: f64) -> f64 {
        match self {
            Level::Fixed(l) => *l,
            Level::Online { lambda, scale, .. } => {
                if lambda.is_nan() && d > 0.0 {
                    *lambda = d * *scale;
                }
                *lambda
            }
        }
    }

    #[inline(always)]
    fn observe(&mut self, started: bool) {
        if let Level::Online {
            lambda,
            scale: _,
            rate,
            k,
            warmup,
            up,
            down,
        } = self
        {
            if lambda.is_nan() {
                return;
            }
            if *k < *warmup {
                *k += 1;
                let g = (LEVEL_WARMUP_GAIN / (*k as f64 * *rate).sqrt()).max(LEVEL_GAIN);
                let s = started as u8 as f64;
                *lambda *= (g * (s - *rate)).exp();
            } else {
                *lambda *= if started { *up } else { *down };
            }
        }
    }
}

/// The streaming engine of the price rules: the fit rule (method "line", which reads the
/// series itself) and the accumulate rule (which reads a profile's scores).
#[derive(Debug, Clone)]
pub struct PriceEngine {
    rules: Rules,
    level: Level,
    min_len: u64,
    max_len: u64,
    pos: u64,
    start: u64,
    reason: u8,
    model: Model,
}

impl PriceEngine {
    /// An engine for `rules` (with `fit` set, or `accumulate`); with batch calibration of
    /// `target_len`, `calibrated` is the threshold [`calibrate_level`] found.
    pub fn new(rules: Rules, calibrated: Option<f64>) -> Result<Self> {
        if rules.fit.is_none() && !rules.accumulate {
            return Err(Error::parameter(
                "the price engine runs the fit or the accumulate rule",
            ));
        }
        let level = match (rules.target_len, rules.calibration) {
            (Some(t), Calibration::Online) => {
                Level::online(t, if rules.fit.is_some() { 1.0 } else { t })
            }
            _ if rules.budget.is_some() => Level::Fixed(calibrated.ok_or_else(|| {
                Error::parameter(
                    "budget is calibrated over the whole batch: pass the calibrated level",
                )
            })?),
            (Some(_), Calibration::Batch) => Level::Fixed(calibrated.ok_or_else(|| {
                Error::parameter(
                    "batch calibration needs the whole series; use calibration='online' \
                     when streaming",
                )
            })?),
            (None, _) => Level::Fixed(rules.threshold.unwrap_or(f64::INFINITY)),
        };
        Ok(Self {
            rules,
            level,
            min_len: rules.min_len as u64,
            max_len: rules.max_len.map_or(u64::MAX, |m| m as u64),
            pos: 0,
            start: 0,
            reason: reason::START,
            model: Model::fresh(&rules),
        })
    }

    /// The rules.
    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// The threshold in force (the controller's latest value online; NaN before it has
    /// seen a positive cost).
    pub fn threshold(&self) -> f64 {
        match self.level {
            Level::Fixed(l) => l,
            Level::Online { lambda, .. } => lambda,
        }
    }

    /// True with the online controller.
    pub fn is_online(&self) -> bool {
        matches!(self.level, Level::Online { .. })
    }

    /// Samples consumed.
    pub fn samples_seen(&self) -> u64 {
        self.pos
    }

    /// The start and reason of the open segment.
    pub fn open_start(&self) -> (u64, u8) {
        (self.start, self.reason)
    }

    /// Forgets the stream (the rules and a fixed threshold stay).
    pub fn reset(&mut self) {
        *self = Self {
            level: match self.level {
                Level::Fixed(l) => Level::Fixed(l),
                Level::Online { rate, scale, .. } => Level::online(1.0 / rate, scale),
            },
            pos: 0,
            start: 0,
            reason: reason::START,
            model: Model::fresh(&self.rules),
            ..self.clone()
        };
    }

    /// A copy (fixed threshold) restarted at `pos` as if a segment started there: the
    /// state depends only on the open segment, so runs started anywhere agree after
    /// their first shared start (the chunk-parallel pass stitches them there).
    pub(crate) fn restarted_at(&self, pos: u64) -> Self {
        Self {
            pos,
            start: pos,
            reason: reason::START,
            model: Model::fresh(&self.rules),
            ..self.clone()
        }
    }

    /// Consumes samples (non-finite ones join their segment without entering its cost,
    /// and never start one), calling `emit` for every segment that closes. The loop is
    /// specialised per model, so the open segment's state stays in registers. A
    /// multichannel fit reads `values` as rows of [`row_width`] values (a partial last
    /// row is a caller's error, ignored).
    #[inline]
    fn run(&mut self, values: &[f64], emit: impl FnMut(Segment)) {
        // The model is taken out for the loop, so the loop can borrow the engine too; the
        // one-value models as plain copies in locals, so their state stays in registers.
        match &mut self.model {
            Model::Line(m) => {
                let mut local = *m;
                self.run_with(&mut local, values.iter().copied(), emit);
                self.model = Model::Line(local);
            }
            Model::Sum(m) => {
                let mut local = *m;
                self.run_with(&mut local, values.iter().copied(), emit);
                self.model = Model::Sum(local);
            }
            Model::Lines(m) => {
                let mut lines = LinesCost {
                    degree: m.degree,
                    max: m.max,
                    moments: std::mem::take(&mut m.moments),
                };
                let width = lines.moments.len();
                debug_assert_eq!(values.len() % width, 0);
                self.run_lines(&mut lines, values, width, emit);
                self.model = Model::Lines(lines);
            }
        }
    }

    /// The multichannel loop, apart so that the one-value loops stay small.
    #[inline(never)]
    fn run_lines(
        &mut self,
        lines: &mut LinesCost,
        values: &[f64],
        width: usize,
        emit: impl FnMut(Segment),
    ) {
        self.run_with(lines, values.chunks_exact(width), emit)
    }

    #[inline(always)]
    fn run_with<R: Copy, M: Cost<R>>(
        &mut self,
        m: &mut M,
        values: impl Iterator<Item = R>,
        mut emit: impl FnMut(Segment),
    ) {
        // The loop state in locals (written back at the end) so it stays in registers.
        let (mut level, mut pos, mut start, mut why) =
            (self.level, self.pos, self.start, self.reason);
        let (min_len, max_len) = (self.min_len, self.max_len);
        for v in values {
            let len = pos - start;
            let d = m.cost(v);
            let lambda = level.current(d);
            let fires = d > lambda && len >= min_len;
            let started = pos > 0 && (fires || len >= max_len);
            if started {
                emit(Segment {
                    start,
                    len,
                    reason: why,
                });
                start = pos;
                why = if fires {
                    reason::THRESHOLD
                } else {
                    reason::MAX_LEN
                };
                m.clear();
            }
            m.add(v);
            level.observe(started);
            pos += 1;
        }
        (self.level, self.pos, self.start, self.reason) = (level, pos, start, why);
    }

    /// Consumes samples, appending every segment that closes to `out`.
    pub fn push(&mut self, values: &[f64], out: &mut Vec<Segment>) {
        self.run(values, |s| out.push(s));
    }

    /// Closes the open segment (if any sample was seen).
    pub fn finish(&mut self, out: &mut Vec<Segment>) {
        if self.pos > self.start {
            out.push(Segment {
                start: self.start,
                len: self.pos - self.start,
                reason: self.reason,
            });
            self.start = self.pos;
        }
    }

    pub(crate) fn write_state(&self, w: &mut Writer) {
        crate::segment::rules::write_rules(w, &self.rules);
        match self.level {
            Level::Fixed(l) => {
                w.bool(false);
                w.f64(l);
            }
            Level::Online { lambda, k, .. } => {
                w.bool(true);
                w.f64(lambda);
                w.u64(k);
            }
        }
        w.u64(self.pos);
        w.u64(self.start);
        w.u64(self.reason as u64);
        self.model.write(w);
    }

    pub(crate) fn read_state(r: &mut Reader) -> Result<Self> {
        let rules = crate::segment::rules::read_rules(r)?;
        let online = r.bool()?;
        let lambda = r.f64()?;
        let calibrated = (!online && rules.target_len.is_some()).then_some(lambda);
        let mut e = Self::new(rules, calibrated).map_err(|e| Error::checkpoint(e.message()))?;
        match (&mut e.level, online) {
            (Level::Fixed(l), false) if l.to_bits() == lambda.to_bits() => {}
            (Level::Online { lambda: l, k, .. }, true) => {
                *l = lambda;
                *k = r.u64()?;
            }
            _ => return Err(Error::checkpoint("inconsistent price engine threshold")),
        }
        e.pos = r.u64()?;
        e.start = r.u64()?;
        let code = r.u64()?;
        e.model.read(r)?;
        if e.start > e.pos || code as usize >= reason::NAMES.len() {
            return Err(Error::checkpoint("inconsistent price engine state"));
        }
        e.reason = code as u8;
        Ok(e)
    }
}

/// The segments the price rule makes over `values` with threshold `lambda`.
fn segments_at(values: &[f64], rules: &Rules, lambda: f64) -> Vec<Segment> {
    let mut e = PriceEngine::new(fixed_price(rules, lambda), None).expect("validated rules");
    let rows = values.len() / row_width(rules);
    let mut out = Vec::with_capacity(rows / rules.target_len.unwrap_or(1.0) as usize + 1);
    e.push(values, &mut out);
    e.finish(&mut out);
    out
}

/// `rules` with the fixed threshold `lambda` instead of a target.
fn fixed_price(rules: &Rules, lambda: f64) -> Rules {
    Rules {
        target_len: None,
        budget: None,
        threshold: Some(lambda),
        calibration: Calibration::Batch,
        ..*rules
    }
}

/// Segments the price rule makes over `values` with threshold `lambda`.
fn count_at(values: &[f64], rules: &Rules, lambda: f64) -> u64 {
    let mut e = PriceEngine::new(fixed_price(rules, lambda), None).expect("validated rules");
    let mut count = 0u64;
    e.run(values, |_| count += 1);
    count + u64::from(e.pos > e.start)
}

/// Probes of the batch calibration, at most.
const MAX_PROBES: usize = 48;

/// Series longer than this are first calibrated on [`SAMPLE_PIECES`] pieces of
/// [`SAMPLE_PIECE`] samples spread over them, then refined on the whole series.
const SAMPLED_ABOVE: usize = 1 << 21;
const SAMPLE_PIECES: usize = 8;
const SAMPLE_PIECE: usize = 1 << 16;

/// The threshold whose segment count brings the mean length `n / count` closest to
/// `rules.target_len` (ties: the higher threshold) among the probes of a search over
/// `ln(threshold)`.
///
/// The first probe is the online controller's final price (one streaming pass, usually
/// within a few tens of percent of the answer); on a series longer than 2 Mi samples it
/// is instead the price found the same way on 8 pieces of 64 Ki samples spread over the
/// series (a few cheap passes that usually land within a few percent). The search then
/// steps along the line `ln(count) = a - ln(threshold)` (counts fall about in proportion
/// to the price), overshooting by a quarter, until the target is bracketed, and closes the
/// bracket by Illinois steps on `ln(count)` against `ln(threshold)` with a bisection
/// fallback. It stops at a mean length within 0.5% of the target (1% on a sampled
/// series), a bracket narrower than a relative 1e-12, or after 48 probes; each probe
/// runs the rule itself over the whole series, so the result is exact in what it
/// reports.
pub fn calibrate_level(values: &[f64], rules: &Rules) -> Result<f64> {
    calibrate_with(values, rules, |l| count_at(values, rules, l))
}

/// Batch calibration and segmentation in one: the segments of the best probe are kept,
/// so the whole series is not cut once more after the search.
pub(crate) fn segment_calibrated(values: &[f64], rules: &Rules) -> Result<(Vec<Segment>, f64)> {
    let target = rules
        .target_len
        .ok_or_else(|| Error::parameter("calibration needs target_len"))?;
    let n = (values.len() / row_width(rules)) as f64;
    let objective = |count: usize| (n / count.max(1) as f64 - target).abs();
    let mut best: Option<(f64, Vec<Segment>)> = None;
    let lambda = calibrate_with(values, rules, |l| {
        let segments = segments_at(values, rules, l);
        let count = segments.len() as u64;
        let better = match &best {
            None => true,
            Some((bl, bs)) => {
                let (o, ob) = (objective(segments.len()), objective(bs.len()));
                o < ob || (o == ob && l > *bl)
            }
        };
        if better {
            best = Some((l, segments));
        }
        count
    })?;
    match best {
        Some((l, segments)) if l.to_bits() == lambda.to_bits() => Ok((segments, lambda)),
        _ => Ok((segments_at(values, rules, lambda), lambda)),
    }
}

/// The one price shared by the series of a ragged batch (`values[offsets[b]..offsets[b +
/// 1]]` is series `b`; offsets count values, so rows times [`row_width`]) whose
/// segments, counted series by series (the rule restarts at every series), come closest
/// to `rules.budget` in all: [`calibrate_level`]'s search over the summed counts, aiming
/// at the mean length `n / budget` of the batch.
pub(crate) fn calibrate_budget_level(
    values: &[f64],
    offsets: &[usize],
    rules: &Rules,
) -> Result<f64> {
    let budget = rules
        .budget
        .ok_or_else(|| Error::parameter("budget calibration needs budget"))?;
    let series: Vec<&[f64]> = offsets
        .windows(2)
        .map(|w| &values[w[0]..w[1]])
        .filter(|s| !s.is_empty())
        .collect();
    let n = values.len() / row_width(rules);
    if n < 2 {
        return Ok(f64::INFINITY);
    }
    let target = n as f64 / budget as f64;
    let online = Rules {
        target_len: Some(target),
        budget: None,
        calibration: Calibration::Online,
        ..*rules
    };
    let Some(guess) = first_guess(&series, &online) else {
        return Ok(f64::INFINITY);
    };
    let count = |l: f64| series.iter().map(|s| count_at(s, rules, l)).sum();
    Ok(search(count, n, target, guess, 2e-3))
}

fn calibrate_with(values: &[f64], rules: &Rules, whole: impl FnMut(f64) -> u64) -> Result<f64> {
    let target = rules
        .target_len
        .ok_or_else(|| Error::parameter("calibration needs target_len"))?;
    let width = row_width(rules);
    let n = values.len() / width;
    if n < 2 {
        return Ok(f64::INFINITY);
    }
    if n > SAMPLED_ABOVE {
        let step = n / SAMPLE_PIECES;
        let pieces: Vec<&[f64]> = (0..SAMPLE_PIECES)
            .map(|k| &values[k * step * width..(k * step + SAMPLE_PIECE) * width])
            .collect();
        let Some(guess) = first_guess(&pieces, rules) else {
            return Ok(f64::INFINITY);
        };
        let count = |l: f64| pieces.iter().map(|p| count_at(p, rules, l)).sum();
        let sampled = search(count, SAMPLE_PIECES * SAMPLE_PIECE, target, guess, 1e-2);
        return Ok(search(whole, n, target, sampled, 1e-2));
    }
    let Some(guess) = first_guess(&[values], rules) else {
        // No sample ever raised a fit's residual: no price cuts anything.
        return Ok(f64::INFINITY);
    };
    Ok(search(whole, n, target, guess, 5e-3))
}

/// The price search of [`calibrate_level`] over a count function of `n` samples, from
/// `guess`, stopping within `tolerance` (relative) of the target mean length.
fn search(
    mut count: impl FnMut(f64) -> u64,
    n: usize,
    target: f64,
    guess: f64,
    tolerance: f64,
) -> f64 {
    let objective = |count: u64| (n as f64 / count.max(1) as f64 - target).abs();
    let wanted = n as f64 / target;
    let done = |c: u64| objective(c) <= tolerance * target;
    let mut best = (f64::NAN, 0u64);
    let consider = |lambda: f64, c: u64, best: &mut (f64, u64)| {
        let better = best.0.is_nan() || {
            let (o, ob) = (objective(c), objective(best.1));
            o < ob || (o == ob && lambda > best.0)
        };
        if better {
            *best = (lambda, c);
        }
    };
    let f_of = |c: u64| (c.max(1) as f64).ln() - wanted.ln();
    let mut x = guess.ln();
    let mut probes = 0;
    let mut lo: Option<(f64, f64)> = None; // count above the target
    let mut hi: Option<(f64, f64)> = None; // count below
    while probes < MAX_PROBES {
        let lambda = x.exp();
        let c = count(lambda);
        probes += 1;
        consider(lambda, c, &mut best);
        if done(c) {
            return best.0;
        }
        let f = f_of(c);
        if f > 0.0 {
            lo = Some((x, f));
        } else {
            hi = Some((x, f));
        }
        if lo.is_some() && hi.is_some() {
            break;
        }
        // Out of reach: every possible start already fires, or none does.
        if (f > 0.0 && lambda >= f64::MAX) || (f < 0.0 && lambda <= f64::MIN_POSITIVE) {
            return best.0;
        }
        // ln(count) falls about one for one with ln(price): step there and a quarter on.
        let step = (1.25 * f).clamp(-8.0, 8.0);
        x = if step.abs() < 1e-3 {
            x + 1e-3 * f.signum()
        } else {
            x + step
        };
        x = x.clamp(f64::MIN_POSITIVE.ln(), f64::MAX.ln());
    }
    let (Some((mut xl, mut fl)), Some((mut xh, mut fh))) = (lo, hi) else {
        return best.0;
    };
    let mut side = 0i8;
    while probes < MAX_PROBES && xh - xl > 1e-12 * xl.abs().max(1.0) {
        let mut x = xl + (xh - xl) * fl / (fl - fh);
        if !(x > xl && x < xh) {
            x = 0.5 * (xl + xh);
        }
        let c = count(x.exp());
        probes += 1;
        consider(x.exp(), c, &mut best);
        if done(c) {
            break;
        }
        let f = f_of(c);
        if f > 0.0 {
            (xl, fl) = (x, f);
            if side == 1 {
                fh /= 2.0;
            }
            side = 1;
        } else {
            (xh, fh) = (x, f);
            if side == -1 {
                fl /= 2.0;
            }
            side = -1;
        }
    }
    best.0
}

/// The online controller's final price over `pieces` (run through as one stream): a
/// first guess of the fixed price that meets the target (`None` when no sample raised a
/// cost).
fn first_guess(pieces: &[&[f64]], rules: &Rules) -> Option<f64> {
    let online = Rules {
        calibration: Calibration::Online,
        ..*rules
    };
    let mut e = PriceEngine::new(online, None).expect("validated rules");
    for piece in pieces {
        e.run(piece, |_| {});
    }
    let guess = e.threshold();
    (guess > 0.0 && guess.is_finite()).then_some(guess)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(threshold: Option<f64>, target: Option<f64>, online: bool) -> Rules {
        Rules {
            threshold,
            target_len: target,
            calibration: if online {
                Calibration::Online
            } else {
                Calibration::Batch
            },
            fit: Some(Fit::of_degree(1)),
            ..Rules::default()
        }
    }

    /// Residual sum of squares of the least-squares line through `x` (by the normal
    /// equations on centred positions): the slow, obvious reference.
    fn rss(x: &[f64], degree: u8) -> f64 {
        let n = x.len() as f64;
        if x.len() <= degree as usize + 1 {
            return 0.0;
        }
        let mx = x.iter().sum::<f64>() / n;
        if degree == 0 {
            return x.iter().map(|v| (v - mx) * (v - mx)).sum();
        }
        let mt = (n - 1.0) / 2.0;
        let stt: f64 = (0..x.len()).map(|i| (i as f64 - mt).powi(2)).sum();
        let stx: f64 = x
            .iter()
            .enumerate()
            .map(|(i, v)| (i as f64 - mt) * (v - mx))
            .sum();
        let b = stx / stt;
        x.iter()
            .enumerate()
            .map(|(i, v)| (v - mx - b * (i as f64 - mt)).powi(2))
            .sum()
    }

    /// Segment starts of the price rule written out: a segment starts at `t` when the
    /// price of sample `t` joining the segment that starts at `a`, `price(a, t)`,
    /// exceeds `threshold` and the segment holds `min_len`, or when it holds `max_len`.
    fn reference_starts(
        n: usize,
        threshold: f64,
        min_len: usize,
        max_len: Option<usize>,
        price: impl Fn(usize, usize) -> f64,
    ) -> Vec<usize> {
        let mut want = Vec::new();
        let mut start = 0usize;
        for t in 1..n {
            let len = t - start;
            if (price(start, t) > threshold && len >= min_len) || Some(len) == max_len {
                want.push(start);
                start = t;
            }
        }
        want.push(start);
        want
    }

    fn series(n: usize, seed: u64) -> Vec<f64> {
        let mut s = seed;
        let mut level = 0.0;
        (0..n)
            .map(|i| {
                s = crate::util::testing::lcg_step(s);
                if i % 97 == 0 {
                    level += ((s >> 40) % 7) as f64 - 3.0;
                }
                level + 0.05 * i as f64 % 3.0 + ((s >> 11) as f64 / (1u64 << 53) as f64)
            })
            .collect()
    }

    #[test]
    fn delta_is_the_increase_of_the_residual() {
        let x = series(200, 3);
        for degree in [0u8, 1] {
            let mut m = Moments::default();
            for t in 0..x.len() {
                let d = m.delta(degree, x[t]);
                let want = rss(&x[..=t], degree) - rss(&x[..t], degree);
                assert!(
                    (d - want).abs() <= 1e-9 * (1.0 + want.abs()),
                    "t={t} degree={degree}: {d} vs {want}"
                );
                m.add(x[t]);
            }
        }
    }

    #[test]
    fn the_rule_cuts_where_the_reference_does() {
        let x = series(3000, 7);
        for threshold in [0.5, 2.0, 8.0] {
            for (min_len, max_len) in [(1, None), (3, Some(40))] {
                let r = Rules {
                    min_len,
                    max_len,
                    ..rules(Some(threshold), None, false)
                };
                let mut e = PriceEngine::new(r, None).unwrap();
                let mut got = Vec::new();
                e.push(&x, &mut got);
                e.finish(&mut got);
                // Reference: refit from scratch at every sample.
                let want = reference_starts(x.len(), threshold, min_len, max_len, |a, t| {
                    rss(&x[a..=t], 1) - rss(&x[a..t], 1)
                });
                let starts: Vec<usize> = got.iter().map(|s| s.start as usize).collect();
                assert_eq!(starts, want, "threshold={threshold}");
                let total: u64 = got.iter().map(|s| s.len).sum();
                assert_eq!(total, x.len() as u64);
            }
        }
    }

    /// Rows of `c` channels (interleaved) with level shifts at different places per
    /// channel, and one channel's values scaled.
    fn rows(n: usize, c: usize) -> (Vec<Vec<f64>>, Vec<f64>) {
        let chans: Vec<Vec<f64>> = (0..c)
            .map(|k| {
                series(n, 7 + 13 * k as u64)
                    .into_iter()
                    .map(|v| v * (1.0 + k as f64))
                    .collect()
            })
            .collect();
        let mut flat = Vec::with_capacity(n * c);
        for t in 0..n {
            flat.extend(chans.iter().map(|ch| ch[t]));
        }
        (chans, flat)
    }

    fn multi(r: Rules, c: usize, max: bool) -> Rules {
        Rules {
            fit: Some(Fit {
                channels: c as u32,
                max,
                ..r.fit.unwrap()
            }),
            ..r
        }
    }

    #[test]
    fn a_multichannel_fit_cuts_where_the_reference_does() {
        let n = 1500;
        for c in [2usize, 3] {
            let (chans, flat) = rows(n, c);
            for max in [false, true] {
                for degree in [0u8, 1] {
                    for threshold in [1.0, 6.0] {
                        let (min_len, max_len) = (2usize, Some(50usize));
                        let base = Rules {
                            min_len,
                            max_len,
                            fit: Some(Fit::of_degree(degree)),
                            ..rules(Some(threshold), None, false)
                        };
                        let r = multi(base, c, max);
                        let mut e = PriceEngine::new(r, None).unwrap();
                        let mut got = Vec::new();
                        e.push(&flat, &mut got);
                        e.finish(&mut got);
                        // Reference: every channel refitted from scratch at every row.
                        let want = reference_starts(n, threshold, min_len, max_len, |a, t| {
                            let ds = chans
                                .iter()
                                .map(|ch| rss(&ch[a..=t], degree) - rss(&ch[a..t], degree));
                            if max {
                                ds.fold(0.0f64, f64::max)
                            } else {
                                ds.sum::<f64>()
                            }
                        });
                        let starts: Vec<usize> = got.iter().map(|s| s.start as usize).collect();
                        assert_eq!(starts, want, "c={c} max={max} degree={degree} {threshold}");
                        assert_eq!(got.iter().map(|s| s.len).sum::<u64>(), n as u64);
                    }
                }
            }
        }
    }

    #[test]
    fn one_channel_of_a_multichannel_fit_is_the_1d_rule() {
        let x = series(3000, 9);
        let r = rules(Some(2.0), None, false);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let mut e = PriceEngine::new(r, None).unwrap();
        e.push(&x, &mut a);
        e.finish(&mut a);
        // Two channels, the second constant: its fit never costs anything.
        let flat: Vec<f64> = x.iter().flat_map(|&v| [v, 5.0]).collect();
        let mut e = PriceEngine::new(multi(r, 2, false), None).unwrap();
        e.push(&flat, &mut b);
        e.finish(&mut b);
        assert_eq!(a, b);
        // The checkpoint code of one summed channel is the 1-D code.
        assert_eq!(Fit::of_degree(1).code(), 2);
        for fit in [
            Fit::of_degree(0),
            Fit {
                channels: 7,
                max: true,
                degree: 1,
            },
            Fit {
                channels: MAX_CHANNELS,
                max: false,
                degree: 0,
            },
        ] {
            assert_eq!(Fit::from_code(fit.code()), Some(fit));
        }
        assert_eq!(Fit::from_code(0), None);
        assert_eq!(
            Fit::from_code(
                Fit {
                    channels: MAX_CHANNELS,
                    max: true,
                    degree: 1
                }
                .code()
                    + 2
            ),
            None
        );
    }

    #[test]
    fn a_row_with_a_non_finite_value_joins_without_starting() {
        let (_, mut flat) = rows(400, 2);
        // A huge jump in channel 0 with channel 1 missing at the same row: no cut there.
        flat[2 * 200] = 1e6;
        flat[2 * 200 + 1] = f64::NAN;
        let r = multi(rules(Some(1.0), None, false), 2, false);
        let mut e = PriceEngine::new(r, None).unwrap();
        let mut got = Vec::new();
        e.push(&flat, &mut got);
        e.finish(&mut got);
        assert!(got.iter().all(|s| s.start != 200), "{got:?}");
    }

    #[test]
    fn multichannel_fits_calibrate_and_stream_like_one_series() {
        let (_, flat) = rows(20_000, 3);
        let n = flat.len() / 3;
        for max in [false, true] {
            for target in [12.0, 40.0] {
                let r = multi(rules(None, Some(target), false), 3, max);
                let (segments, lambda) = segment_calibrated(&flat, &r).unwrap();
                let mean = n as f64 / segments.len() as f64;
                assert!((mean / target - 1.0).abs() < 0.01, "{target}: {mean}");
                assert_eq!(count_at(&flat, &r, lambda), segments.len() as u64);
            }
            // Online, in chunks of whole rows with a checkpoint after each.
            let r = multi(rules(None, Some(24.0), true), 3, max);
            let mut whole = PriceEngine::new(r, None).unwrap();
            let mut want = Vec::new();
            whole.push(&flat, &mut want);
            whole.finish(&mut want);
            let mut e = PriceEngine::new(r, None).unwrap();
            let mut got = Vec::new();
            let (mut at, mut step) = (0, 1);
            while at < n {
                let end = (at + step).min(n);
                e.push(&flat[at * 3..end * 3], &mut got);
                let mut w = Writer::new("t");
                e.write_state(&mut w);
                let bytes = w.finish();
                e = PriceEngine::read_state(&mut Reader::open(&bytes, "t").unwrap()).unwrap();
                (at, step) = (end, step * 5 % 311 + 1);
            }
            e.finish(&mut got);
            assert_eq!(got, want);
            let mean = n as f64 / got.len() as f64;
            assert!((mean / 24.0 - 1.0).abs() < 0.2, "online: {mean}");
        }
    }

    #[test]
    fn any_chunking_and_checkpoint_give_the_same_segments() {
        let x = series(5000, 11);
        for r in [rules(Some(1.0), None, false), rules(None, Some(24.0), true)] {
            let mut whole = PriceEngine::new(r, None).unwrap();
            let mut want = Vec::new();
            whole.push(&x, &mut want);
            whole.finish(&mut want);
            let mut e = PriceEngine::new(r, None).unwrap();
            let mut got = Vec::new();
            let mut at = 0;
            let mut step = 1;
            while at < x.len() {
                let end = (at + step).min(x.len());
                e.push(&x[at..end], &mut got);
                let mut w = Writer::new("t");
                e.write_state(&mut w);
                let bytes = w.finish();
                let mut rd = Reader::open(&bytes, "t").unwrap();
                e = PriceEngine::read_state(&mut rd).unwrap();
                at = end;
                step = step * 3 % 257 + 1;
            }
            e.finish(&mut got);
            assert_eq!(got, want);
        }
    }

    #[test]
    fn batch_calibration_meets_the_target() {
        let x = series(20_000, 5);
        for target in [8.0, 16.0, 32.0, 64.0] {
            let r = rules(None, Some(target), false);
            let lambda = calibrate_level(&x, &r).unwrap();
            let c = count_at(&x, &r, lambda);
            let mean = x.len() as f64 / c as f64;
            assert!((mean / target - 1.0).abs() < 0.01, "{target}: {mean}");
        }
    }

    #[test]
    fn long_series_are_sampled_then_refined_to_the_target() {
        // 3 Mi samples in regimes of very different scale: the sampled first guess is
        // refined on the whole series.
        let x: Vec<f64> = series(3 << 20, 21)
            .iter()
            .enumerate()
            .map(|(i, v)| v * if (i >> 18) % 3 == 0 { 10.0 } else { 1.0 })
            .collect();
        for target in [16.0, 48.0] {
            let r = rules(None, Some(target), false);
            let lambda = calibrate_level(&x, &r).unwrap();
            let mean = x.len() as f64 / count_at(&x, &r, lambda) as f64;
            assert!((mean / target - 1.0).abs() <= 0.01, "{target}: {mean}");
        }
    }

    #[test]
    fn online_controller_approaches_the_target() {
        let x = series(50_000, 9);
        for target in [16.0, 32.0] {
            let mut e = PriceEngine::new(rules(None, Some(target), true), None).unwrap();
            let mut out = Vec::new();
            e.push(&x, &mut out);
            e.finish(&mut out);
            let mean = x.len() as f64 / out.len() as f64;
            assert!((mean / target - 1.0).abs() < 0.05, "{target}: {mean}");
        }
    }

    #[test]
    fn non_finite_samples_join_without_starting() {
        let mut x = series(300, 2);
        x[50] = f64::NAN;
        x[51] = f64::INFINITY;
        let mut e = PriceEngine::new(rules(Some(0.0), None, false), None).unwrap();
        let mut out = Vec::new();
        e.push(&x, &mut out);
        e.finish(&mut out);
        assert!(out.iter().all(|s| s.start != 50 && s.start != 51));
        assert_eq!(out.iter().map(|s| s.len).sum::<u64>(), 300);
    }

    fn sums(threshold: Option<f64>, target: Option<f64>, online: bool) -> Rules {
        Rules {
            fit: None,
            accumulate: true,
            ..rules(threshold, target, online)
        }
    }

    fn scores(n: usize, seed: u64) -> Vec<f64> {
        let mut s = seed;
        (0..n)
            .map(|i| {
                s = crate::util::testing::lcg_step(s);
                let u = (s >> 11) as f64 / (1u64 << 53) as f64;
                // Quiet and busy stretches, and a NaN now and then.
                if i % 211 == 17 {
                    f64::NAN
                } else if (i / 300) % 2 == 0 {
                    0.2 * u
                } else {
                    3.0 * u
                }
            })
            .collect()
    }

    #[test]
    fn accumulate_cuts_where_the_reference_does() {
        let x = scores(4000, 13);
        for threshold in [0.5, 3.0, 20.0] {
            for (min_len, max_len) in [(1, None), (4, Some(30))] {
                let r = Rules {
                    min_len,
                    max_len,
                    ..sums(Some(threshold), None, false)
                };
                let mut e = PriceEngine::new(r, None).unwrap();
                let mut got = Vec::new();
                e.push(&x, &mut got);
                e.finish(&mut got);
                let mut want = vec![0usize];
                let (mut start, mut acc) = (0usize, 0.0);
                for (t, &v) in x.iter().enumerate() {
                    let len = t - start;
                    let fires = v.is_finite() && acc + v.max(0.0) > threshold && len >= min_len;
                    if t > 0 && (fires || Some(len) == max_len) {
                        want.push(t);
                        start = t;
                        acc = 0.0;
                    }
                    if v.is_finite() {
                        acc += v.max(0.0);
                    }
                }
                let starts: Vec<usize> = got.iter().map(|s| s.start as usize).collect();
                assert_eq!(starts, want, "threshold={threshold}");
            }
        }
    }

    #[test]
    fn accumulate_calibration_meets_the_target_in_batch_and_online() {
        let x = scores(60_000, 17);
        for target in [8.0, 32.0] {
            let r = sums(None, Some(target), false);
            let lambda = calibrate_level(&x, &r).unwrap();
            let mean = x.len() as f64 / count_at(&x, &r, lambda) as f64;
            assert!((mean / target - 1.0).abs() < 0.01, "{target}: {mean}");
            let mut e = PriceEngine::new(sums(None, Some(target), true), None).unwrap();
            let mut out = Vec::new();
            e.push(&x, &mut out);
            e.finish(&mut out);
            let mean = x.len() as f64 / out.len() as f64;
            assert!(
                (mean / target - 1.0).abs() < 0.05,
                "online {target}: {mean}"
            );
        }
    }
}
