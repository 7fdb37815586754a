//! Regime change points: bottom-up merging of fine segments under an entropy cost.
//!
//! # Cost
//!
//! A segment's cost is the negative log-likelihood (in nats) of its samples under the
//! segment's own fitted model, summed over independent parts:
//!
//! - for each delay `tau` (a *scale*), the ordinal patterns of order `d` inside the
//!   segment under their own categorical distribution: `N ln N - sum_k c_k ln c_k`,
//!   which is `N` times the segment's permutation entropy (nats) at that scale. A
//!   regime whose patterns (entropy, complexity, forbidden patterns) differ from its
//!   neighbour's costs more merged than apart. Each pattern is attributed to the middle
//!   sample of its span, so a boundary is not biased towards the later regime;
//! - optionally the values under a Gaussian: with `variance`, the segment's own mean
//!   and variance (`n/2 ln var`, ruptures' "normal" cost; the variance is floored at
//!   1e-6 of the series variance); with `mean` only, its own mean and the series' noise
//!   variance `sigma^2` (estimated from first differences: `SSE / (2 sigma^2)`); with
//!   `trend`, its own least-squares line and residual variance (`n/2 ln(RSS / n)`,
//!   floored like the normal cost), for regimes that differ in level, slope or scale.
//!
//! # Search
//!
//! The series is cut into fine segments (a regular grid of `block` samples, or the
//! caller's segments, e.g. from entropy-driven segmentation); adjacent segments merge
//! greedily, the pair whose merge raises the total cost least first (segments shorter
//! than `min_size` first of all), until `n_bkps + 1` segments remain or, with a
//! penalty, while the cheapest merge costs less than `pen` (a greedy minimisation of
//! `cost + pen * n_bkps`). Each remaining boundary is then moved, one sample at a time
//! within `radius` samples, to where the two segments it separates cost least, keeping
//! `min_size`; there a side counts only the patterns whose whole span lies inside it
//! (a pattern straddling the boundary belongs to neither regime), and with
//! `refine_variance` the Gaussian own-mean-and-variance part joins the cost. Merging is
//! `O(m log m)` for `m` fine segments; refinement `O(n_bkps * radius)`.
//!
//! # Result
//!
//! As ruptures: the sorted *ends* of the segments, the last being `n` (so a change
//! point `c` means a new regime starts at sample `c`).

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::error::{Error, ErrorKind, Result};
use crate::estimate::ordinal::{
    check_embedding, factorial, permutation_of_rank, permutation_rank, to_lexicographic,
    OrdinalEncoder, NO_PATTERN,
};

mod stream;
pub use stream::{ChangePointDetector, Detection, StreamWindow};

/// Largest order for change-point costs: counts per segment are kept for all `d!`
/// patterns, so orders stay small (7! = 5040 counts per scale and segment).
pub const MAX_CHANGE_POINT_ORDER: usize = 7;

/// When merging stops.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stop {
    /// Keep this many change points (fewer when `min_size` forbids).
    Count(usize),
    /// Merge while the cheapest merge costs less than this (nats).
    Penalty(f64),
}

/// Options of [`change_points`].
#[derive(Debug, Clone, PartialEq)]
pub struct ChangePointOptions {
    /// Ordinal pattern order `d` (2..=7); `None` leaves patterns out of the cost.
    pub order: Option<usize>,
    /// Delays `tau` (scales) of the ordinal patterns; one cost part each.
    pub delays: Vec<usize>,
    /// Count a pattern and its amplitude mirror (`x -> -x`: the rising and falling
    /// halves of an oscillation) as one, so an oscillation slower than the segments is
    /// not cut at every turn; trends in opposite directions then look alike.
    pub symmetric: bool,
    /// Gaussian cost with the segment's own mean and the series' noise variance.
    pub mean: bool,
    /// Gaussian cost with the segment's own mean and variance.
    pub variance: bool,
    /// Gaussian cost with the segment's own least-squares line and residual variance
    /// (takes precedence over `variance` and `mean`).
    pub trend: bool,
    /// Every segment has at least this many samples (>= 1).
    pub min_size: usize,
    /// Fine grid length (>= 1), when no fine segments are given.
    pub block: usize,
    /// How far (samples) a boundary may move when refined; 0 disables refinement.
    pub radius: usize,
    /// Refine with the Gaussian own-mean-and-variance part added to the cost (level and
    /// scale changes are sharp, so they place a boundary precisely even when the
    /// segments were found from ordinal patterns alone).
    pub refine_variance: bool,
    /// When merging stops.
    pub stop: Stop,
}

/// Below this many samples the automatic choice ([`ChangePointOptions::auto`]) uses the
/// own-line Gaussian cost instead of ordinal patterns: a 20-sample segment holds too few
/// patterns to estimate a dozen pattern probabilities per scale, while a line and a
/// variance are 3 parameters.
pub const SHORT_SERIES: usize = 1000;

impl ChangePointOptions {
    /// The cost `order="auto"` picks for a series of `n` samples: ordinal patterns of
    /// order 4 from [`SHORT_SERIES`] samples on (with the Gaussian parts asked for);
    /// below, no patterns and the own-line cost (`trend`), unless `mean` or `variance`
    /// was asked for. The one place this rule lives.
    pub fn auto(mut self, n: usize) -> Self {
        if n >= SHORT_SERIES {
            self.order = Some(4);
        } else {
            self.order = None;
            self.trend = self.trend || !(self.mean || self.variance);
        }
        self
    }

    /// Checks the options as [`change_points`] does (order, delays, sizes, penalty, a
    /// non-empty cost), without a series.
    pub fn check(&self) -> Result<()> {
        validate(1, None, self)
    }
}

/// For each lexicographic pattern code, the index of its class: the code itself, or with
/// `symmetric` the rank of the class {pattern, amplitude mirror} (the samples ordered by
/// value reversed, so the argsort permutation read backwards) among the `d!/2` classes
/// (the mirror of a pattern of order >= 2 is never itself). Returns the table and the
/// number of classes.
fn pattern_classes(order: usize, symmetric: bool) -> (Vec<u16>, usize) {
    let n = factorial(order);
    if !symmetric {
        return ((0..n as u16).collect(), n);
    }
    let mut class = vec![u16::MAX; n];
    let mut classes = 0u16;
    for code in 0..n {
        if class[code] == u16::MAX {
            let mut perm = permutation_of_rank(code as u32, order);
            perm.reverse();
            class[code] = classes;
            class[permutation_rank(&perm) as usize] = classes;
            classes += 1;
        }
    }
    (class, classes as usize)
}

/// Counts below this have `c ln c` tabulated (a window of the streaming detector never
/// holds more patterns per scale than samples, and the default window is 4,096).
const XLNX_TABLE: usize = 1 << 13;

fn xlnx_table() -> &'static [f64] {
    static TABLE: std::sync::OnceLock<Vec<f64>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| (0..XLNX_TABLE).map(|c| xlnx(c as f64)).collect())
}

/// `c ln c` of a count, from the table when it is small (the same value, bit for bit).
#[inline]
fn count_xlnx(table: &[f64], c: u32) -> f64 {
    match table.get(c as usize) {
        Some(&v) => v,
        None => xlnx(c as f64),
    }
}

/// Per-sample data the costs are built from.
struct Signal {
    /// Per scale, one pattern code per sample position (`u16::MAX` = none), each pattern
    /// at the middle of its span.
    codes: Vec<Vec<u16>>,
    /// Per scale, the pattern ending at each sample (`u16::MAX` = none), and its span.
    by_end: Vec<Vec<u16>>,
    spans: Vec<usize>,
    /// Pattern classes per scale (`d!`, or `d!/2` with `symmetric`).
    alphabet: usize,
    /// `c ln c` of small counts.
    xlnx: &'static [f64],
    /// Centred values (when a Gaussian part is on).
    values: Vec<f64>,
    /// `1 / (2 sigma^2)` for the mean-only cost.
    l2_scale: f64,
    /// Variance floor of the normal cost.
    var_floor: f64,
    mean: bool,
    variance: bool,
    trend: bool,
}

/// Additive statistics of one segment.
#[derive(Clone, Debug, Default)]
struct Stats {
    /// Scales x alphabet pattern counts.
    counts: Vec<u32>,
    /// Patterns per scale.
    totals: Vec<u32>,
    n: f64,
    s1: f64,
    s2: f64,
    /// `sum t x_t`, with `t` counted from the segment's first sample (0); the sums of
    /// `t` and `t^2` over `0..n` are known in closed form.
    st: f64,
}

/// Appends value `v` at the end of `s` (`sign = 1`: its time is `s.n`) or removes it
/// from the front (`-1`: the other samples' times drop by one).
#[inline]
fn push_value(s: &mut Stats, v: f64, sign: f64) {
    if sign > 0.0 {
        s.st += s.n * v;
        s.n += 1.0;
        s.s1 += v;
        s.s2 += v * v;
    } else {
        s.n -= 1.0;
        s.s1 -= v;
        s.s2 -= v * v;
        s.st -= s.s1;
    }
}

#[inline]
fn xlnx(c: f64) -> f64 {
    if c > 0.0 {
        c * c.ln()
    } else {
        0.0
    }
}

impl Signal {
    fn new(x: &[f64], options: &ChangePointOptions) -> Result<Self> {
        let mut codes = Vec::new();
        let mut by_end = Vec::new();
        let mut spans = Vec::new();
        let mut alphabet = 0;
        if let Some(order) = options.order {
            let classes = pattern_classes(order, options.symmetric);
            alphabet = classes.1;
            for &delay in &options.delays {
                let span = check_embedding(order, delay)?;
                let mut encoder = OrdinalEncoder::new(order, delay)?;
                let mut raw = vec![0u32; x.len()];
                encoder.encode(x, &mut raw);
                to_lexicographic(&mut raw, order);
                for c in raw.iter_mut().filter(|c| **c != NO_PATTERN) {
                    *c = classes.0[*c as usize] as u32;
                }
                let mut by_position = vec![u16::MAX; x.len()];
                // A pattern ending at t covers [t - span, t]; attribute it to the middle.
                let shift = span / 2;
                for (t, &c) in raw.iter().enumerate() {
                    if c != NO_PATTERN {
                        by_position[t - shift] = c as u16;
                    }
                }
                codes.push(by_position);
                by_end.push(raw.iter().map(|&c| c.min(u16::MAX as u32) as u16).collect());
                spans.push(span);
            }
        }
        let mut signal = Self {
            codes,
            by_end,
            spans,
            alphabet,
            xlnx: xlnx_table(),
            values: Vec::new(),
            l2_scale: 0.0,
            var_floor: 0.0,
            mean: options.mean,
            variance: options.variance,
            trend: options.trend,
        };
        if options.mean || options.variance || options.trend {
            signal.set_values(x);
        }
        Ok(signal)
    }

    /// Centres the values for the Gaussian parts and sets the variance floor and, for
    /// the mean-only cost, the noise scale.
    fn set_values(&mut self, x: &[f64]) {
        let n = x.len() as f64;
        let mu = x.iter().sum::<f64>() / n;
        self.values = x.iter().map(|v| v - mu).collect();
        let var = self.values.iter().map(|v| v * v).sum::<f64>() / n;
        self.var_floor = (var * 1e-6).max(f64::MIN_POSITIVE);
        if !self.mean {
            return;
        }
        // Noise scale from first differences (robust to level shifts; centred on their
        // median, so a trend does not inflate it): the median absolute deviation of a
        // Gaussian's differences is 0.6745 * sqrt(2) * sigma.
        let mut diffs: Vec<f64> = x.windows(2).map(|w| w[1] - w[0]).collect();
        if !diffs.is_empty() {
            let mid = diffs.len() / 2;
            let (_, centre, _) = diffs.select_nth_unstable_by(mid, f64::total_cmp);
            let centre = *centre;
            for d in &mut diffs {
                *d = (*d - centre).abs();
            }
        }
        let sigma = if diffs.is_empty() {
            0.0
        } else {
            let mid = diffs.len() / 2;
            let (_, median, _) = diffs.select_nth_unstable_by(mid, f64::total_cmp);
            *median / (0.6745 * std::f64::consts::SQRT_2)
        };
        let sigma2 = if sigma > 0.0 {
            sigma * sigma
        } else {
            var.max(1.0)
        };
        self.l2_scale = 1.0 / (2.0 * sigma2);
    }

    fn empty_stats(&self) -> Stats {
        Stats {
            counts: vec![0; self.codes.len() * self.alphabet],
            totals: vec![0; self.codes.len()],
            ..Stats::default()
        }
    }

    fn stats(&self, start: usize, end: usize) -> Stats {
        let mut s = self.empty_stats();
        for p in start..end {
            self.add(&mut s, p, 1.0);
        }
        s
    }

    /// Statistics of `[a, b)` counting only the patterns whose whole span lies inside
    /// (used to place a boundary: patterns straddling it belong to neither side).
    fn inside_stats(&self, a: usize, b: usize) -> Stats {
        let mut s = self.empty_stats();
        for (scale, ends) in self.by_end.iter().enumerate() {
            for &c in ends.get(a + self.spans[scale]..b).unwrap_or(&[]) {
                self.count(&mut s, scale, c, true);
            }
        }
        if !self.values.is_empty() {
            for p in a..b {
                self.add_value(&mut s, p, 1.0);
            }
        }
        s
    }

    /// Moves the boundary between `left = [a, p)` and `right = [p, c)` to `p + 1`, with
    /// inside-only pattern counts.
    fn shift_boundary(&self, left: &mut Stats, right: &mut Stats, a: usize, p: usize, c: usize) {
        for (scale, ends) in self.by_end.iter().enumerate() {
            let span = self.spans[scale];
            // The pattern ending at p now lies inside the left side.
            if p >= a + span {
                self.count(left, scale, ends[p], true);
            }
            // The pattern starting at p leaves the right side.
            if p + span < c {
                self.count(right, scale, ends[p + span], false);
            }
        }
        if !self.values.is_empty() {
            self.add_value(left, p, 1.0);
            self.add_value(right, p, -1.0);
        }
    }

    #[inline]
    fn count(&self, s: &mut Stats, scale: usize, code: u16, add: bool) {
        if code != u16::MAX {
            let k = scale * self.alphabet + code as usize;
            if add {
                s.counts[k] += 1;
                s.totals[scale] += 1;
            } else {
                s.counts[k] -= 1;
                s.totals[scale] -= 1;
            }
        }
    }

    /// Appends (`sign = 1`) sample `p` at the end of `s`, or removes (`-1`) it from the
    /// front (the only two moves the search makes).
    #[inline]
    fn add_value(&self, s: &mut Stats, p: usize, sign: f64) {
        push_value(s, self.values[p], sign);
    }

    /// Adds (`sign = 1`) or removes (`-1`) sample `p` from `s`.
    #[inline]
    fn add(&self, s: &mut Stats, p: usize, sign: f64) {
        for (scale, codes) in self.codes.iter().enumerate() {
            let c = codes[p];
            if c != u16::MAX {
                let k = scale * self.alphabet + c as usize;
                if sign > 0.0 {
                    s.counts[k] += 1;
                    s.totals[scale] += 1;
                } else {
                    s.counts[k] -= 1;
                    s.totals[scale] -= 1;
                }
            }
        }
        if !self.values.is_empty() {
            push_value(s, self.values[p], sign);
        }
    }

    fn cost(&self, s: &Stats) -> f64 {
        let mut total = 0.0;
        for (scale, &t) in s.totals.iter().enumerate() {
            let counts = &s.counts[scale * self.alphabet..(scale + 1) * self.alphabet];
            total += count_xlnx(self.xlnx, t)
                - counts
                    .iter()
                    .map(|&c| count_xlnx(self.xlnx, c))
                    .sum::<f64>();
        }
        total + self.gaussian(s.n, s.s1, s.s2, s.st)
    }

    /// The Gaussian part of the cost from a segment's value sums.
    fn gaussian(&self, n: f64, s1: f64, s2: f64, st: f64) -> f64 {
        if n <= 0.0 {
            return 0.0;
        }
        let sse = (s2 - s1 * s1 / n).max(0.0);
        if self.trend {
            // Least-squares line over t = 0..n: the residual is the centred sum of
            // squares less the part the slope explains, Stx^2 / Stt.
            let stt = n * (n * n - 1.0) / 12.0;
            let stx = st - 0.5 * (n - 1.0) * s1;
            let rss = if stt > 0.0 {
                (sse - stx * stx / stt).max(0.0)
            } else {
                sse
            };
            0.5 * n * (rss / n).max(self.var_floor).ln()
        } else if self.variance {
            0.5 * n * (sse / n).max(self.var_floor).ln()
        } else if self.mean {
            sse * self.l2_scale
        } else {
            0.0
        }
    }

    /// Cost of the union of two segments.
    fn merged_cost(&self, a: &Stats, b: &Stats) -> f64 {
        let mut total = 0.0;
        for scale in 0..a.totals.len() {
            let range = scale * self.alphabet..(scale + 1) * self.alphabet;
            let t = a.totals[scale] + b.totals[scale];
            let within: f64 = a.counts[range.clone()]
                .iter()
                .zip(&b.counts[range])
                .map(|(&x, &y)| count_xlnx(self.xlnx, x + y))
                .sum();
            total += count_xlnx(self.xlnx, t) - within;
        }
        // b follows a: its times shift by a's length.
        total
            + self.gaussian(
                a.n + b.n,
                a.s1 + b.s1,
                a.s2 + b.s2,
                a.st + b.st + a.n * b.s1,
            )
    }

    fn merge_into(a: &mut Stats, b: &Stats) {
        for (x, &y) in a.counts.iter_mut().zip(&b.counts) {
            *x += y;
        }
        for (x, &y) in a.totals.iter_mut().zip(&b.totals) {
            *x += y;
        }
        // b follows a: its times shift by a's length.
        a.st += b.st + a.n * b.s1;
        a.n += b.n;
        a.s1 += b.s1;
        a.s2 += b.s2;
    }
}

/// Candidate merge of node `left` with its right neighbour: cheapest first; a pair with
/// a segment below `min_size` before any other.
#[derive(Clone, Copy)]
struct Candidate {
    forced: bool,
    gain: f64,
    left: u32,
    version: u32,
}

impl PartialEq for Candidate {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Candidate {}
impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Candidate {
    // BinaryHeap is a max-heap: "greater" = popped first.
    fn cmp(&self, other: &Self) -> Ordering {
        self.forced
            .cmp(&other.forced)
            .then_with(|| other.gain.total_cmp(&self.gain))
            .then_with(|| other.left.cmp(&self.left))
            .then_with(|| self.version.cmp(&other.version))
    }
}

/// The penalty used when the caller gives neither a count nor a penalty: `q ln(n)` nats
/// per change point (twice BIC's `(q / 2) ln(n)`) for the `q` free parameters of one
/// scale's pattern distribution (`d! - 1`, or `d!/2 - 1` when `symmetric`) plus 3 with
/// `trend` (slope, intercept, variance), 2 with `variance` or 1 with `mean`. The scales
/// are counted once because they see the same samples.
pub fn default_penalty(n_samples: usize, options: &ChangePointOptions) -> f64 {
    let mut q = 0;
    if let Some(order) = options.order {
        q += factorial(order) / if options.symmetric { 2 } else { 1 } - 1;
    }
    q += if options.trend {
        3
    } else if options.variance {
        2
    } else if options.mean {
        1
    } else {
        0
    };
    q as f64 * (n_samples.max(2) as f64).ln()
}

fn validate(n: usize, fine: Option<&[usize]>, options: &ChangePointOptions) -> Result<()> {
    if n == 0 {
        return Err(Error::new(
            ErrorKind::EmptyInput,
            "x is empty; change points need at least one sample",
        ));
    }
    if options.min_size == 0 {
        return Err(Error::parameter("min_size must be >= 1, got 0"));
    }
    if options.block == 0 {
        return Err(Error::parameter("block must be >= 1, got 0"));
    }
    if let Some(order) = options.order {
        if !(2..=MAX_CHANGE_POINT_ORDER).contains(&order) {
            return Err(Error::parameter(format!(
                "order must be in 2..={MAX_CHANGE_POINT_ORDER} for change points, got {order}"
            )));
        }
        if options.delays.is_empty() {
            return Err(Error::parameter(
                "delays must hold at least one delay, got none",
            ));
        }
        for &d in &options.delays {
            check_embedding(order, d)?;
        }
    }
    if options.order.is_none() && !options.mean && !options.variance && !options.trend {
        return Err(Error::parameter(
            "the cost is empty: give an order (ordinal patterns), mean, variance or trend",
        ));
    }
    if let Stop::Penalty(p) = options.stop {
        if !(p >= 0.0 && p.is_finite()) {
            return Err(Error::parameter(format!(
                "pen must be finite and >= 0, got {p}"
            )));
        }
    }
    if let Some(starts) = fine {
        if starts.first() != Some(&0) {
            return Err(Error::parameter(format!(
                "fine segments must start at 0, got {:?}",
                starts.first()
            )));
        }
        if let Some(i) = starts.windows(2).position(|w| w[1] <= w[0]) {
            return Err(Error::parameter(format!(
                "fine segment starts must increase, got {} then {}",
                starts[i],
                starts[i + 1]
            )));
        }
        if let Some(&last) = starts.last() {
            if last >= n {
                return Err(Error::parameter(format!(
                    "fine segment starts must be < len(x) = {n}, got {last}"
                )));
            }
        }
    }
    Ok(())
}

/// Regime change points of `x`: sorted segment ends, the last being `len(x)`.
///
/// `fine` gives the starts of the fine segments to merge (first 0, increasing, all
/// below `len(x)`); without it a grid of `options.block` samples is used.
pub fn change_points(
    x: &[f64],
    fine: Option<&[usize]>,
    options: &ChangePointOptions,
) -> Result<Vec<usize>> {
    validate(x.len(), fine, options)?;
    if let Some(i) = x.iter().position(|v| !v.is_finite()) {
        return Err(Error::new(
            ErrorKind::NonFinite { index: i },
            format!("x[{i}] = {} is not finite", x[i]),
        ));
    }
    let n = x.len();
    let signal = Signal::new(x, options)?;
    let starts: Vec<usize> = match fine {
        Some(s) => s.to_vec(),
        None => (0..n).step_by(options.block).collect(),
    };
    let m = starts.len();
    let lo: Vec<usize> = starts.clone();
    let mut hi: Vec<usize> = starts[1..].iter().copied().chain([n]).collect();
    let mut stats: Vec<Stats> = (0..m).map(|i| signal.stats(lo[i], hi[i])).collect();
    let mut costs: Vec<f64> = stats.iter().map(|s| signal.cost(s)).collect();
    let mut prev: Vec<u32> = (0..m as u32).map(|i| i.wrapping_sub(1)).collect();
    let mut next: Vec<u32> = (1..=m as u32).collect();
    let mut alive = vec![true; m];
    let mut version = vec![0u32; m];
    let none = u32::MAX;
    prev[0] = none;
    next[m - 1] = none;
    let min_size = options.min_size;

    let candidate = |i: usize,
                     j: usize,
                     stats: &[Stats],
                     costs: &[f64],
                     lo: &[usize],
                     hi: &[usize],
                     version: &[u32]| Candidate {
        forced: hi[i] - lo[i] < min_size || hi[j] - lo[j] < min_size,
        gain: signal.merged_cost(&stats[i], &stats[j]) - costs[i] - costs[j],
        left: i as u32,
        version: version[i],
    };
    let mut heap: BinaryHeap<Candidate> = (0..m.saturating_sub(1))
        .map(|i| candidate(i, i + 1, &stats, &costs, &lo, &hi, &version))
        .collect();
    let mut segments = m;
    while let Some(c) = heap.pop() {
        let i = c.left as usize;
        if !alive[i] || version[i] != c.version || next[i] == none {
            continue;
        }
        let j = next[i] as usize;
        if !c.forced {
            let done = match options.stop {
                Stop::Count(k) => segments <= k + 1,
                Stop::Penalty(p) => c.gain >= p,
            };
            if done {
                break;
            }
        }
        // Merge j into i.
        let right = std::mem::take(&mut stats[j]);
        Signal::merge_into(&mut stats[i], &right);
        costs[i] += costs[j] + c.gain;
        hi[i] = hi[j];
        alive[j] = false;
        next[i] = next[j];
        if next[i] != none {
            prev[next[i] as usize] = i as u32;
        }
        version[i] = version[i].wrapping_add(1);
        segments -= 1;
        // The cost was accumulated; recompute it exactly to keep rounding from drifting.
        costs[i] = signal.cost(&stats[i]);
        if next[i] != none {
            let k = next[i] as usize;
            heap.push(candidate(i, k, &stats, &costs, &lo, &hi, &version));
        }
        if prev[i] != none {
            let h = prev[i] as usize;
            version[h] = version[h].wrapping_add(1);
            heap.push(candidate(h, i, &stats, &costs, &lo, &hi, &version));
        }
    }

    // The surviving segments, left to right.
    let mut order = Vec::with_capacity(segments);
    let mut i = 0u32;
    while i != none {
        order.push(i as usize);
        i = next[i as usize];
    }
    let mut bounds: Vec<usize> = order.iter().map(|&i| lo[i]).chain([n]).collect();
    let radius = options.radius;
    // Refinement adds the own-mean-and-variance part (the patterns are kept, not
    // encoded again).
    let mut signal = signal;
    if options.refine_variance && !options.variance && !options.trend {
        if signal.values.is_empty() {
            signal.set_values(x);
        }
        signal.variance = true;
    }
    if radius > 0 {
        for b in 1..bounds.len() - 1 {
            let (a, mid, c) = (bounds[b - 1], bounds[b], bounds[b + 1]);
            let start = mid.saturating_sub(radius).max(a + min_size);
            let end = (mid + radius).min(c.saturating_sub(min_size));
            if start > end || start > mid || end < mid {
                continue;
            }
            // Slide the boundary from `start` to `end`, one sample at a time.
            let mut left = signal.inside_stats(a, start);
            let mut right = signal.inside_stats(start, c);
            let mut best = (signal.cost(&left) + signal.cost(&right), start);
            for p in start..end {
                signal.shift_boundary(&mut left, &mut right, a, p, c);
                let total = signal.cost(&left) + signal.cost(&right);
                // Ties keep the position nearest the merged boundary.
                let better = total < best.0 - 1e-9
                    || (total <= best.0 + 1e-9 && (p + 1).abs_diff(mid) < best.1.abs_diff(mid));
                if better {
                    best = (total, p + 1);
                }
            }
            bounds[b] = best.1;
        }
    }
    Ok(bounds[1..].to_vec())
}

#[cfg(test)]
mod tests;
