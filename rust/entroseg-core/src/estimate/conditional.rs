//! Conditional (block) entropy `H(X_t | X_{t-k*lag}, ..., X_{t-lag})` of a symbol stream,
//! over a sliding window or the whole series, and conditional permutation entropy.
//!
//! The plug-in estimate from the `(k+1)`-grams lying inside the window:
//! `H = -sum_{(u,a)} (c(u,a)/N) ln(c(u,a)/c(u))` where `N` is the number of those grams
//! and `c(u) = sum_a c(u,a)`. Rewritten as `(sum_u c(u) ln c(u) - sum_{u,a} c(u,a) ln
//! c(u,a)) / N`, both sums are kept as exact fixed-point integers (see `accumulate`), so
//! the difference is exact and rolling values never drift. `k = 0` gives the Shannon
//! entropy of the symbols.
//!
//! A gram is packed into a `u64` with `ceil(log2(alphabet))` bits per symbol, newest
//! symbol lowest, so the context is `gram >> bits`. Counts live in dense arrays while
//! `2^(bits*(k+1)) <= 2^22` and in hash maps beyond (at most `N` distinct grams).
//!
//! A symbol may be marked invalid (`INVALID_SYMBOL`: a broken ordinal pattern, later an
//! `N` base); grams containing one are not counted, and a window containing one is NaN.

use super::{
    check_whole_series_len, check_window, first_non_finite, non_finite_error, reserve_ring, Finish,
    NanPolicy,
};
use crate::error::{Error, ErrorKind, Result};
use crate::estimate::ordinal::{factorial, OrdinalEncoder, NO_PATTERN};
use crate::util::accumulate::{fixed_xlogx, scale_bits_for, EntropyOfSum, XLogXTable};
use crate::util::checkpoint::{Reader, Writer};
use crate::util::hash::IntMap;

/// Largest alphabet of a symbol stream.
pub const MAX_ALPHABET: usize = 256;
/// Marker of an invalid symbol in the internal code stream.
pub const INVALID_SYMBOL: u32 = u32::MAX;
const NO_GRAM: u64 = u64::MAX;
const DENSE_BITS: u32 = 22;

/// Options of a conditional entropy estimator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConditionalOptions {
    /// Context length k (number of previous symbols conditioned on).
    pub context: usize,
    /// Number of distinct symbols; symbols are `0..alphabet_size`.
    pub alphabet_size: usize,
    /// Window in symbols; `None` = whole series.
    pub window: Option<usize>,
    /// Divide by ln(alphabet_size).
    pub normalize: bool,
    /// Spacing of the context symbols (1 for plain streams; the delay for ordinal patterns).
    pub lag: usize,
}

impl Default for ConditionalOptions {
    fn default() -> Self {
        Self {
            context: 1,
            alphabet_size: 4,
            window: None,
            normalize: true,
            lag: 1,
        }
    }
}

impl ConditionalOptions {
    /// Checks the options without building anything (no memory is reserved).
    pub fn validate(&self) -> Result<()> {
        self.validate_with_limit(MAX_ALPHABET).map(|_| ())
    }

    /// Checks the options for alphabets up to `max_alphabet`; returns the gram span
    /// `context * lag`.
    fn validate_with_limit(&self, max_alphabet: usize) -> Result<usize> {
        let a = self.alphabet_size;
        if !(1..=max_alphabet).contains(&a) {
            return Err(Error::parameter(format!(
                "alphabet_size must be in 1..={max_alphabet}, got {a}"
            )));
        }
        if self.lag < 1 {
            return Err(Error::parameter(format!(
                "lag must be >= 1, got {}",
                self.lag
            )));
        }
        let bits = bits_for(a);
        let max_context = (64 / bits as usize) - 1;
        if self.context > max_context {
            return Err(Error::parameter(format!(
                "context must be <= {max_context} for alphabet_size {a} (a context of k symbols \
                 plus the next one must pack into 64 bits), got {}",
                self.context
            )));
        }
        let span = self
            .context
            .checked_mul(self.lag)
            .filter(|s| *s < (1 << 40))
            .ok_or_else(|| {
                Error::parameter(format!(
                    "context * lag must be below 2^40, got context={} and lag={}",
                    self.context, self.lag
                ))
            })?;
        if let Some(w) = self.window {
            check_window(w, span, "(context+1)-gram (context*lag + 1)")?;
        }
        Ok(span)
    }
}

#[derive(Debug, Clone)]
enum Counts {
    Dense {
        joint: Vec<u32>,
        ctx: Vec<u32>,
    },
    Hashed {
        joint: IntMap<u64, u32>,
        ctx: IntMap<u64, u32>,
    },
}

impl Counts {
    /// Increments the counts of `gram` and its context; returns their previous values.
    #[inline(always)]
    fn inc(&mut self, gram: u64, bits: u32) -> (u32, u32) {
        match self {
            Counts::Dense { joint, ctx } => {
                let j = &mut joint[gram as usize];
                let c = &mut ctx[(gram >> bits) as usize];
                let old = (*j, *c);
                *j += 1;
                *c += 1;
                old
            }
            Counts::Hashed { joint, ctx } => {
                let j = joint.entry(gram).or_insert(0);
                let oj = *j;
                *j += 1;
                let c = ctx.entry(gram >> bits).or_insert(0);
                let oc = *c;
                *c += 1;
                (oj, oc)
            }
        }
    }

    /// Decrements; returns the new values.
    #[inline(always)]
    fn dec(&mut self, gram: u64, bits: u32) -> (u32, u32) {
        match self {
            Counts::Dense { joint, ctx } => {
                let j = &mut joint[gram as usize];
                let c = &mut ctx[(gram >> bits) as usize];
                *j -= 1;
                *c -= 1;
                (*j, *c)
            }
            Counts::Hashed { joint, ctx } => {
                let dec = |m: &mut IntMap<u64, u32>, key: u64| -> u32 {
                    let v = m.get_mut(&key).map(|v| {
                        *v -= 1;
                        *v
                    });
                    match v {
                        Some(0) => {
                            m.remove(&key);
                            0
                        }
                        Some(v) => v,
                        None => 0,
                    }
                };
                (dec(joint, gram), dec(ctx, gram >> bits))
            }
        }
    }

    fn for_each_nonzero(&self, mut f: impl FnMut(bool, u64, u32)) {
        match self {
            Counts::Dense { joint, ctx } => {
                joint
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| **c > 0)
                    .for_each(|(k, &c)| f(true, k as u64, c));
                ctx.iter()
                    .enumerate()
                    .filter(|(_, c)| **c > 0)
                    .for_each(|(k, &c)| f(false, k as u64, c));
            }
            Counts::Hashed { joint, ctx } => {
                joint.iter().for_each(|(&k, &c)| f(true, k, c));
                ctx.iter().for_each(|(&k, &c)| f(false, k, c));
            }
        }
    }
}

/// Streaming conditional entropy of a symbol stream.
#[derive(Debug, Clone)]
pub struct ConditionalEstimator {
    options: ConditionalOptions,
    bits: u32,
    mask: u64,
    lanes: Vec<u64>,
    runs: Vec<u32>,
    seen: u64,
    ring: Vec<u64>,
    ring_pos: usize,
    invalid_in_ring: usize,
    counts: Counts,
    grams: Vec<u64>,
    table: Option<XLogXTable>,
    entropy: Option<EntropyOfSum>,
    sum_joint: i64,
    sum_ctx: i64,
    total_grams: u64,
    saw_invalid: bool,
}

const TAG: &str = "ConditionalEstimator";

fn bits_for(alphabet: usize) -> u32 {
    (usize::BITS - (alphabet.max(2) - 1).leading_zeros()).max(1)
}

impl ConditionalEstimator {
    /// Validates options and builds a fresh estimator. `alphabet_size` may exceed
    /// `MAX_ALPHABET` only through [`ConditionalPermutationEstimator`] (pattern codes).
    pub(crate) fn with_limit(options: ConditionalOptions, max_alphabet: usize) -> Result<Self> {
        let span = options.validate_with_limit(max_alphabet)?;
        let a = options.alphabet_size;
        let bits = bits_for(a);
        let gram_bits = bits * (options.context as u32 + 1);
        let counts = if gram_bits <= DENSE_BITS {
            Counts::Dense {
                joint: vec![0; 1 << gram_bits],
                ctx: vec![0; 1 << (gram_bits - bits)],
            }
        } else {
            Counts::Hashed {
                joint: IntMap::default(),
                ctx: IntMap::default(),
            }
        };
        let (mut table, mut entropy) = (None, None);
        if let Some(w) = options.window {
            let n = (w - span) as u64;
            let t = XLogXTable::new(n);
            entropy = Some(EntropyOfSum::new(n, t.scale_bits()));
            table = Some(t);
        }
        let mut est = Self {
            options,
            bits,
            mask: if gram_bits >= 64 {
                u64::MAX
            } else {
                (1u64 << gram_bits) - 1
            },
            // One lane per phase of the lag, created as the stream reaches it: a huge lag
            // must not reserve memory up front. Invariant: len == clamp(seen, 1, lag).
            lanes: vec![0],
            runs: vec![0],
            seen: 0,
            ring: Vec::new(),
            ring_pos: 0,
            invalid_in_ring: 0,
            counts,
            grams: Vec::new(),
            table,
            entropy,
            sum_joint: 0,
            sum_ctx: 0,
            total_grams: 0,
            saw_invalid: false,
        };
        if let Some(w) = options.window {
            reserve_ring(&mut est.ring, w - span, w)?;
        }
        est.reset();
        Ok(est)
    }

    /// Validates options and builds a fresh estimator (alphabet up to 256).
    pub fn new(options: ConditionalOptions) -> Result<Self> {
        Self::with_limit(options, MAX_ALPHABET)
    }

    /// The options.
    pub fn options(&self) -> &ConditionalOptions {
        &self.options
    }

    /// Symbols seen so far.
    pub fn samples_seen(&self) -> u64 {
        self.seen
    }

    /// Back to a fresh state.
    pub fn reset(&mut self) {
        let span = self.options.context * self.options.lag;
        let n = self.options.window.map_or(0, |w| w - span);
        self.lanes.truncate(1);
        self.lanes[0] = 0;
        self.runs.truncate(1);
        self.runs[0] = 0;
        self.seen = 0;
        // In place: the memory was reserved (fallibly) by `with_limit`.
        self.ring.clear();
        self.ring.resize(n, NO_GRAM);
        self.ring_pos = 0;
        self.invalid_in_ring = n;
        match &mut self.counts {
            Counts::Dense { joint, ctx } => {
                joint.iter_mut().for_each(|c| *c = 0);
                ctx.iter_mut().for_each(|c| *c = 0);
            }
            Counts::Hashed { joint, ctx } => {
                joint.clear();
                ctx.clear();
            }
        }
        self.sum_joint = 0;
        self.sum_ctx = 0;
        self.total_grams = 0;
        self.saw_invalid = false;
    }

    /// Feeds symbols (any unsigned integer type); all must be `< alphabet_size`.
    /// Rolling mode writes one value per symbol into `out`; whole-series mode takes an
    /// empty `out`. A symbol out of range fails the call before any state changes.
    pub fn update<T: Copy + Into<u64>>(&mut self, symbols: &[T], out: &mut [f64]) -> Result<()> {
        super::check_symbols(symbols, self.options.alphabet_size)?;
        self.check_out(symbols.len(), out.len())?;
        if self.options.window.is_none() {
            check_whole_series_len(self.seen, symbols.len())?;
        }
        self.push(symbols, out);
        Ok(())
    }

    fn check_out(&self, n: usize, out: usize) -> Result<()> {
        let expected = if self.options.window.is_some() { n } else { 0 };
        if out != expected {
            return Err(Error::parameter(format!(
                "output buffer has length {out}, expected {expected}"
            )));
        }
        Ok(())
    }

    /// Core loop over already validated codes (`INVALID_SYMBOL` allowed), in blocks:
    /// first the packed grams of the block (a cheap shift/or chain per delay lane), then
    /// the counting loop, specialised for the common case (dense counts, no invalid gram
    /// in the window or the block).
    pub(crate) fn push<T: Copy + Into<u64>>(&mut self, codes: &[T], out: &mut [f64]) {
        const BLOCK: usize = 2048;
        let mut grams = std::mem::take(&mut self.grams);
        for (b, block) in codes.chunks(BLOCK).enumerate() {
            grams.clear();
            grams.resize(block.len(), 0);
            self.pack_grams(block, &mut grams);
            if self.options.window.is_none() {
                self.count_whole(&grams);
                continue;
            }
            let out_block = &mut out[b * BLOCK..b * BLOCK + block.len()];
            let dense = matches!(self.counts, Counts::Dense { .. });
            if dense && self.invalid_in_ring == 0 && !grams.contains(&NO_GRAM) {
                self.rolling_dense_fast(&grams, out_block);
            } else {
                self.rolling_general(&grams, out_block);
            }
        }
        self.grams = grams;
    }

    /// Packs the gram ending at each symbol (`NO_GRAM` while its context is incomplete or
    /// holds an invalid symbol). State per delay lane: the packed gram and the length of
    /// the run of valid symbols; kept in locals for the loop.
    fn pack_grams<T: Copy + Into<u64>>(&mut self, codes: &[T], grams: &mut [u64]) {
        let bits = self.bits;
        let mask = self.mask;
        let lag = self.options.lag;
        let need = self.options.context as u32 + 1;
        let warmup = (need as u64 - 1) * lag as u64;
        let start_seen = self.seen;
        let invalid = INVALID_SYMBOL as u64;
        let mut saw_invalid = false;
        if lag == 1 {
            let (mut g, mut run) = (self.lanes[0], self.runs[0]);
            for (&s, out) in codes.iter().zip(grams.iter_mut()) {
                let s: u64 = s.into();
                if s == invalid {
                    run = 0;
                    saw_invalid = true;
                    *out = NO_GRAM;
                    continue;
                }
                g = ((g << bits) | s) & mask;
                run = (run + 1).min(need);
                *out = if run == need { g } else { NO_GRAM };
            }
            self.lanes[0] = g;
            self.runs[0] = run;
        } else {
            let mut lane = (start_seen % lag as u64) as usize;
            for (&s, out) in codes.iter().zip(grams.iter_mut()) {
                let s: u64 = s.into();
                if lane == self.lanes.len() {
                    // First visit of this phase (only while the stream is shorter than lag).
                    self.lanes.push(0);
                    self.runs.push(0);
                }
                if s == invalid {
                    self.runs[lane] = 0;
                    saw_invalid = true;
                    *out = NO_GRAM;
                } else {
                    let g = ((self.lanes[lane] << bits) | s) & mask;
                    self.lanes[lane] = g;
                    let r = (self.runs[lane] + 1).min(need);
                    self.runs[lane] = r;
                    *out = if r == need { g } else { NO_GRAM };
                }
                lane += 1;
                if lane == lag {
                    lane = 0;
                }
            }
        }
        self.seen += codes.len() as u64;
        // Past the warm-up, a missing gram means an invalid symbol came before it.
        if !saw_invalid && self.seen > warmup {
            let first_after_warmup = warmup.saturating_sub(start_seen) as usize;
            saw_invalid = grams.iter().skip(first_after_warmup).any(|&g| g == NO_GRAM);
        }
        self.saw_invalid |= saw_invalid;
    }

    fn count_whole(&mut self, grams: &[u64]) {
        let bits = self.bits;
        for &g in grams.iter().filter(|&&g| g != NO_GRAM) {
            self.counts.inc(g, bits);
            self.total_grams += 1;
        }
    }

    #[inline(always)]
    fn finish(&self) -> Finish {
        Finish::new(self.options.alphabet_size, self.options.normalize)
    }

    fn rolling_dense_fast(&mut self, grams: &[u64], out: &mut [f64]) {
        let Counts::Dense { joint, ctx } = &mut self.counts else {
            return self.rolling_general(grams, out);
        };
        let table = self.table.as_ref().expect("table");
        let entropy = self.entropy.as_ref().expect("entropy");
        let finish = Finish::new(self.options.alphabet_size, self.options.normalize);
        let bits = self.bits;
        let n = self.ring.len();
        let ring = &mut self.ring[..];
        let mut pos = self.ring_pos;
        // The difference S_ctx - S_joint is all the output needs: keep one sum.
        let mut diff = self.sum_ctx - self.sum_joint;
        for (&g, slot) in grams.iter().zip(out.iter_mut()) {
            let old = ring[pos];
            ring[pos] = g;
            pos += 1;
            if pos == n {
                pos = 0;
            }
            let (gi, ci) = (g as usize, (g >> bits) as usize);
            let j = joint[gi];
            joint[gi] = j + 1;
            let c = ctx[ci];
            ctx[ci] = c + 1;
            diff += table.up(c) - table.up(j);
            let (gi, ci) = (old as usize, (old >> bits) as usize);
            let j = joint[gi] - 1;
            joint[gi] = j;
            let c = ctx[ci] - 1;
            ctx[ci] = c;
            diff -= table.up(c) - table.up(j);
            *slot = finish.apply(entropy.scaled(diff));
        }
        self.ring_pos = pos;
        // Keep the pair consistent for the general loop: only the difference matters.
        self.sum_ctx = diff;
        self.sum_joint = 0;
    }

    fn rolling_general(&mut self, grams: &[u64], out: &mut [f64]) {
        let bits = self.bits;
        let finish = self.finish();
        let table = self.table.as_ref().expect("table");
        let entropy = self.entropy.as_ref().expect("entropy");
        let n = self.ring.len();
        for (&gram, slot) in grams.iter().zip(out.iter_mut()) {
            let old = self.ring[self.ring_pos];
            self.ring[self.ring_pos] = gram;
            self.ring_pos += 1;
            if self.ring_pos == n {
                self.ring_pos = 0;
            }
            if gram != NO_GRAM {
                let (j, c) = self.counts.inc(gram, bits);
                self.sum_joint += table.up(j);
                self.sum_ctx += table.up(c);
            } else {
                self.invalid_in_ring += 1;
            }
            if old != NO_GRAM {
                let (j, c) = self.counts.dec(old, bits);
                self.sum_joint -= table.up(j);
                self.sum_ctx -= table.up(c);
            } else {
                self.invalid_in_ring -= 1;
            }
            *slot = if self.invalid_in_ring != 0 {
                f64::NAN
            } else {
                finish.apply(entropy.scaled(self.sum_ctx - self.sum_joint))
            };
        }
    }

    /// Whole-series mode: the conditional entropy of every symbol fed so far.
    pub fn value(&self) -> Result<f64> {
        if self.options.window.is_some() {
            return Err(Error::parameter(
                "value() is for whole-series estimators (window=None)",
            ));
        }
        let span = (self.options.context * self.options.lag) as u64;
        if self.seen <= span {
            return Err(Error::new(
                ErrorKind::EmptyInput,
                format!(
                    "need at least one (context+1)-gram: at least context*lag + 1 = {} symbols, got {}",
                    span + 1,
                    self.seen
                ),
            ));
        }
        if self.saw_invalid {
            return Ok(f64::NAN);
        }
        let n = self.total_grams;
        let bits = scale_bits_for(n);
        let (mut sj, mut sc) = (0i64, 0i64);
        self.counts.for_each_nonzero(|joint, _, c| {
            let f = fixed_xlogx(c as u64, bits);
            if joint {
                sj += f
            } else {
                sc += f
            }
        });
        Ok(self
            .finish()
            .apply(EntropyOfSum::new(n, bits).scaled(sc - sj)))
    }

    fn write_state(&self, w: &mut Writer) {
        let o = &self.options;
        w.u64(o.context as u64);
        w.u64(o.alphabet_size as u64);
        w.u64(o.window.map_or(0, |v| v as u64 + 1));
        w.bool(o.normalize);
        w.u64(o.lag as u64);
        w.u64(self.seen);
        w.u64(self.lanes.len() as u64);
        for (&g, &r) in self.lanes.iter().zip(&self.runs) {
            w.u64(g);
            w.u64(r as u64);
        }
        if o.window.is_some() {
            w.u64(self.ring.len() as u64);
            for &g in &self.ring {
                w.u64(g);
            }
            w.u64(self.ring_pos as u64);
        } else {
            w.u64(self.total_grams);
            w.bool(self.saw_invalid);
            let mut joint = Vec::new();
            self.counts.for_each_nonzero(|is_joint, k, c| {
                if is_joint {
                    joint.push((k, c))
                }
            });
            joint.sort_unstable();
            w.u64(joint.len() as u64);
            for (k, c) in joint {
                w.u64(k);
                w.u64(c as u64);
            }
        }
    }

    fn read_state(r: &mut Reader, max_alphabet: usize) -> Result<Self> {
        let context = r.usize()?;
        let alphabet_size = r.usize()?;
        let window = match r.u64()? {
            0 => None,
            v => {
                Some(usize::try_from(v - 1).map_err(|_| Error::checkpoint("window out of range"))?)
            }
        };
        let normalize = r.bool()?;
        let lag = r.usize()?;
        let options = ConditionalOptions {
            context,
            alphabet_size,
            window,
            normalize,
            lag,
        };
        if let Some(w) = window {
            // The window's grams (8 bytes each) follow: check before allocating the ring.
            let span = context.saturating_mul(lag);
            r.expect_items(w.saturating_sub(span), 8)?;
        }
        let mut est = Self::with_limit(options, max_alphabet)
            .map_err(|e| Error::checkpoint(e.message().to_string()))?;
        est.seen = r.u64()?;
        let need = context as u64 + 1;
        let n_lanes = r.usize()?;
        if n_lanes as u64 != est.seen.clamp(1, lag as u64) {
            return Err(Error::checkpoint("inconsistent context state"));
        }
        est.lanes.clear();
        est.runs.clear();
        for _ in 0..n_lanes {
            let lane = r.u64()?;
            let run = r.u64()?;
            if run > need || lane & !est.mask != 0 {
                return Err(Error::checkpoint("inconsistent context state"));
            }
            est.lanes.push(lane);
            est.runs.push(run as u32);
        }
        let valid_gram = |g: u64, est: &Self| {
            g & !est.mask == 0
                && (0..=context).all(|j| {
                    ((g >> (j as u32 * est.bits)) & ((1 << est.bits) - 1)) < alphabet_size as u64
                })
        };
        if window.is_some() {
            let n = r.usize()?;
            if n != est.ring.len() {
                return Err(Error::checkpoint("inconsistent window length"));
            }
            let mut ring = Vec::with_capacity(n);
            for _ in 0..n {
                ring.push(r.u64()?);
            }
            let pos = r.usize()?;
            if pos >= n.max(1) || ring.iter().any(|&g| g != NO_GRAM && !valid_gram(g, &est)) {
                return Err(Error::checkpoint("inconsistent window state"));
            }
            est.invalid_in_ring = 0;
            let table = est.table.clone().expect("table");
            for &g in &ring {
                if g == NO_GRAM {
                    est.invalid_in_ring += 1;
                } else {
                    let (j, c) = est.counts.inc(g, est.bits);
                    est.sum_joint += table.up(j);
                    est.sum_ctx += table.up(c);
                }
            }
            est.ring = ring;
            est.ring_pos = pos;
        } else {
            est.total_grams = r.u64()?;
            est.saw_invalid = r.bool()?;
            let n = r.usize()?;
            let mut total = 0u64;
            for _ in 0..n {
                let g = r.u64()?;
                let c = r.u64()?;
                if !valid_gram(g, &est) || c == 0 || c > u32::MAX as u64 {
                    return Err(Error::checkpoint("inconsistent gram counts"));
                }
                total += c;
                match &mut est.counts {
                    Counts::Dense { joint, ctx } => {
                        joint[g as usize] += c as u32;
                        ctx[(g >> est.bits) as usize] += c as u32;
                    }
                    Counts::Hashed { joint, ctx } => {
                        *joint.entry(g).or_insert(0) += c as u32;
                        *ctx.entry(g >> est.bits).or_insert(0) += c as u32;
                    }
                }
            }
            if total != est.total_grams {
                return Err(Error::checkpoint("inconsistent gram counts"));
            }
        }
        Ok(est)
    }

    /// Serialises the state.
    pub fn checkpoint(&self) -> Vec<u8> {
        crate::util::checkpoint::save(TAG, |w| self.write_state(w))
    }

    /// Rebuilds an estimator from `checkpoint()` bytes.
    pub fn restore(bytes: &[u8]) -> Result<Self> {
        crate::util::checkpoint::load(bytes, TAG, |r| Self::read_state(r, MAX_ALPHABET))
    }
}

/// Rolling conditional entropy of a symbol stream.
pub fn rolling<T: Copy + Into<u64>>(
    symbols: &[T],
    options: ConditionalOptions,
) -> Result<Vec<f64>> {
    let mut out = crate::util::buffer::zeroed_f64(symbols.len());
    rolling_into(symbols, options, &mut out)?;
    Ok(out)
}

/// [`rolling`] into a caller's buffer of `symbols.len()` values. A window longer than the
/// input runs with the shortest such window (all values NaN either way), so a one-shot
/// call never reserves memory for a window it cannot fill.
pub fn rolling_into<T: Copy + Into<u64>>(
    symbols: &[T],
    options: ConditionalOptions,
    out: &mut [f64],
) -> Result<()> {
    let Some(window) = options.window else {
        return Err(Error::parameter("rolling() needs a window"));
    };
    options.validate()?;
    let span = options.context * options.lag;
    let run = ConditionalOptions {
        window: Some(window.min(symbols.len().max(span) + 1)),
        ..options
    };
    ConditionalEstimator::new(run)?.update(symbols, out)
}

/// Whole-series conditional entropy of a symbol stream.
pub fn whole_series<T: Copy + Into<u64>>(
    symbols: &[T],
    options: ConditionalOptions,
) -> Result<f64> {
    let mut est = ConditionalEstimator::new(ConditionalOptions {
        window: None,
        ..options
    })?;
    est.update(symbols, &mut [])?;
    est.value()
}

/// Options of conditional permutation entropy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConditionalPermutationOptions {
    /// Order d.
    pub order: usize,
    /// Delay tau (also the spacing of the context patterns).
    pub delay: usize,
    /// Number of previous patterns conditioned on.
    pub context: usize,
    /// Window in samples; `None` = whole series.
    pub window: Option<usize>,
    /// Divide by ln(d!).
    pub normalize: bool,
    /// Non-finite handling.
    pub nan_policy: NanPolicy,
}

impl Default for ConditionalPermutationOptions {
    fn default() -> Self {
        Self {
            order: 3,
            delay: 1,
            context: 1,
            window: None,
            normalize: true,
            nan_policy: NanPolicy::Raise,
        }
    }
}

/// Conditional permutation entropy: `H(pattern_t | pattern_{t-tau}, ..., pattern_{t-k tau})`.
///
/// The window counts samples: it holds the `(k+1)`-grams of patterns whose samples all
/// lie in `[t-W+1, t]`, i.e. `W - (d-1)tau - k tau` grams, so `W >= (d-1+k)tau + 1`.
#[derive(Debug, Clone)]
pub struct ConditionalPermutationEstimator {
    options: ConditionalPermutationOptions,
    encoder: OrdinalEncoder,
    inner: ConditionalEstimator,
    codes: Vec<u32>,
}

const CPE_TAG: &str = "ConditionalPermutationEstimator";

impl ConditionalPermutationOptions {
    /// Checks the options without building anything (no memory is reserved).
    pub fn validate(&self) -> Result<()> {
        self.inner_options().map(|_| ())
    }

    /// Options of the symbol-stream estimator that counts the pattern grams.
    fn inner_options(&self) -> Result<ConditionalOptions> {
        let span = crate::estimate::ordinal::check_embedding(self.order, self.delay)?;
        let window = match self.window {
            Some(w) => {
                let need = span
                    .saturating_add(self.context.saturating_mul(self.delay))
                    .saturating_add(1);
                if w < need {
                    return Err(Error::parameter(format!(
                        "window must hold at least one (context+1)-gram of patterns: \
                         window >= (order-1+context)*delay + 1 = {need} samples, got {w}"
                    )));
                }
                Some(w - span)
            }
            None => None,
        };
        let inner = ConditionalOptions {
            context: self.context,
            alphabet_size: factorial(self.order),
            window,
            normalize: self.normalize,
            lag: self.delay,
        };
        inner
            .validate_with_limit(factorial(crate::estimate::ordinal::MAX_ORDER))
            .map_err(|e| match self.context_limit() {
                Some(message) => Error::parameter(message),
                None => e,
            })?;
        Ok(inner)
    }

    /// The context error in terms of `order` (the user never named an alphabet size).
    fn context_limit(&self) -> Option<String> {
        let bits = bits_for(factorial(self.order)) as usize;
        let max_context = 64 / bits - 1;
        (self.context > max_context).then(|| {
            format!(
                "context must be <= {max_context} for order {} (a gram of context+1 pattern \
                 codes of {bits} bits each must pack into 64 bits), got {}",
                self.order, self.context
            )
        })
    }
}

impl ConditionalPermutationEstimator {
    /// Validates options and builds a fresh estimator.
    pub fn new(options: ConditionalPermutationOptions) -> Result<Self> {
        let inner_options = options.inner_options()?;
        let encoder = OrdinalEncoder::new(options.order, options.delay)?;
        let inner = ConditionalEstimator::with_limit(
            inner_options,
            factorial(crate::estimate::ordinal::MAX_ORDER),
        )?;
        Ok(Self {
            options,
            encoder,
            inner,
            codes: Vec::new(),
        })
    }

    /// The options.
    pub fn options(&self) -> &ConditionalPermutationOptions {
        &self.options
    }

    /// Back to a fresh state.
    pub fn reset(&mut self) {
        self.encoder.reset();
        self.inner.reset();
    }

    /// Feeds samples; see [`ConditionalEstimator::update`] for `out`.
    pub fn update(&mut self, chunk: &[f64], out: &mut [f64]) -> Result<()> {
        self.inner.check_out(chunk.len(), out.len())?;
        if self.options.window.is_none() {
            check_whole_series_len(self.encoder.seen(), chunk.len())?;
        }
        if self.options.nan_policy == NanPolicy::Raise {
            if let Some(i) = first_non_finite(chunk) {
                return Err(non_finite_error(i, chunk[i], self.encoder.seen()));
            }
        }
        let mut codes = std::mem::take(&mut self.codes);
        codes.resize(chunk.len(), 0);
        self.encoder.encode(chunk, &mut codes);
        // Warm-up codes (NO_PATTERN) are invalid symbols for the inner estimator; its
        // window is shortened by the pattern span so both count the same grams.
        let rolling = self.options.window.is_some();
        let span = self.encoder.span() as u64;
        let start_seen = self.encoder.seen() - chunk.len() as u64;
        // NO_PATTERN and INVALID_SYMBOL are the same value, so codes go in as they are.
        const _: () = assert!(NO_PATTERN == INVALID_SYMBOL);
        if rolling {
            self.inner.push(&codes[..], out);
        } else {
            // In whole-series mode only non-finite samples (not the warm-up) poison the
            // value: skip the warm-up codes, a multiple of the lag, so lanes stay aligned.
            let skip = (span.saturating_sub(start_seen) as usize).min(codes.len());
            self.inner.push(&codes[skip..], &mut []);
        }
        self.codes = codes;
        Ok(())
    }

    /// Samples seen so far.
    pub fn samples_seen(&self) -> u64 {
        self.encoder.seen()
    }

    /// Whole-series value.
    pub fn value(&self) -> Result<f64> {
        let need = self.encoder.span() + self.options.context * self.options.delay + 1;
        if self.encoder.seen() < need as u64 {
            return Err(Error::new(
                ErrorKind::EmptyInput,
                format!(
                    "need at least one (context+1)-gram of patterns: at least (order-1+context)*delay + 1 = {need} samples, got {}",
                    self.encoder.seen()
                ),
            ));
        }
        self.inner.value()
    }

    /// Serialises the state.
    pub fn checkpoint(&self) -> Vec<u8> {
        let mut w = Writer::new(CPE_TAG);
        w.bool(self.options.nan_policy == NanPolicy::Propagate);
        w.u64(self.options.window.map_or(0, |v| v as u64 + 1));
        self.encoder.write_state(&mut w);
        self.inner.write_state(&mut w);
        w.finish()
    }

    /// Rebuilds an estimator from `checkpoint()` bytes.
    pub fn restore(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::open(bytes, CPE_TAG)?;
        let propagate = r.bool()?;
        let window = match r.u64()? {
            0 => None,
            v => {
                Some(usize::try_from(v - 1).map_err(|_| Error::checkpoint("window out of range"))?)
            }
        };
        let encoder = OrdinalEncoder::read_state(&mut r)?;
        let inner = ConditionalEstimator::read_state(
            &mut r,
            factorial(crate::estimate::ordinal::MAX_ORDER),
        )?;
        r.finish()?;
        let options = ConditionalPermutationOptions {
            order: encoder.order(),
            delay: encoder.delay(),
            context: inner.options.context,
            window,
            normalize: inner.options.normalize,
            nan_policy: if propagate {
                NanPolicy::Propagate
            } else {
                NanPolicy::Raise
            },
        };
        let fresh = Self::new(options).map_err(|e| Error::checkpoint(e.message().to_string()))?;
        if fresh.inner.options != inner.options {
            return Err(Error::checkpoint(
                "inconsistent conditional permutation state",
            ));
        }
        Ok(Self {
            options,
            encoder,
            inner,
            codes: Vec::new(),
        })
    }
}

/// Rolling conditional permutation entropy.
pub fn rolling_permutation(x: &[f64], options: ConditionalPermutationOptions) -> Result<Vec<f64>> {
    let mut out = crate::util::buffer::zeroed_f64(x.len());
    rolling_permutation_into(x, options, &mut out)?;
    Ok(out)
}

/// [`rolling_permutation`] into a caller's buffer of `x.len()` values; a window longer
/// than the input runs with the shortest such window (all NaN either way).
pub fn rolling_permutation_into(
    x: &[f64],
    options: ConditionalPermutationOptions,
    out: &mut [f64],
) -> Result<()> {
    let Some(window) = options.window else {
        return Err(Error::parameter("rolling() needs a window"));
    };
    options.validate()?;
    let span = (options.order - 1 + options.context) * options.delay;
    let run = ConditionalPermutationOptions {
        window: Some(window.min(x.len().max(span) + 1)),
        ..options
    };
    ConditionalPermutationEstimator::new(run)?.update(x, out)
}

/// Whole-series conditional permutation entropy.
pub fn whole_series_permutation(x: &[f64], options: ConditionalPermutationOptions) -> Result<f64> {
    let mut est = ConditionalPermutationEstimator::new(ConditionalPermutationOptions {
        window: None,
        ..options
    })?;
    est.update(x, &mut [])?;
    est.value()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estimate::ordinal::pattern_code_at;
    use std::collections::HashMap;

    fn symbols(seed: u64, n: usize, a: u64) -> Vec<u8> {
        let mut s = seed;
        (0..n)
            .map(|i| {
                s = crate::util::testing::lcg_step(s);
                // Some structure: a periodic bias so conditional < marginal entropy.
                (((s >> 33) % a + (i as u64 % 3)) % a) as u8
            })
            .collect()
    }

    fn reference(sym: &[u64], k: usize, lag: usize, a: usize, normalize: bool) -> f64 {
        let mut joint: HashMap<Vec<u64>, f64> = HashMap::new();
        let mut ctx: HashMap<Vec<u64>, f64> = HashMap::new();
        let mut n = 0.0;
        for t in k * lag..sym.len() {
            let g: Vec<u64> = (0..=k).map(|j| sym[t - (k - j) * lag]).collect();
            *ctx.entry(g[..k].to_vec()).or_default() += 1.0;
            *joint.entry(g).or_default() += 1.0;
            n += 1.0;
        }
        let h: f64 = joint
            .iter()
            .map(|(g, &c)| -(c / n) * (c / ctx[&g[..k]]).ln())
            .sum();
        if normalize {
            h / (a as f64).ln()
        } else {
            h
        }
    }

    #[test]
    fn matches_reference_dense_and_hashed() {
        for (a, k) in [
            (4usize, 0usize),
            (4, 3),
            (4, 12),
            (256, 1),
            (256, 3),
            (5, 2),
        ] {
            let x = symbols(a as u64 + k as u64, 600, a as u64);
            let xs: Vec<u64> = x.iter().map(|&v| v as u64).collect();
            for normalize in [true, false] {
                let o = ConditionalOptions {
                    context: k,
                    alphabet_size: a,
                    window: None,
                    normalize,
                    lag: 1,
                };
                let got = whole_series(&x, o).unwrap();
                let want = reference(&xs, k, 1, a, normalize);
                assert!((got - want).abs() < 1e-12, "a={a} k={k}: {got} vs {want}");
            }
        }
    }

    #[test]
    fn rolling_equals_whole_series_of_each_window_and_chunking_is_invisible() {
        for (a, k, lag) in [(4usize, 2usize, 1usize), (256, 2, 1), (3, 1, 3)] {
            let x = symbols(5, 400, a as u64);
            let w = 50;
            let o = ConditionalOptions {
                context: k,
                alphabet_size: a,
                window: Some(w),
                normalize: true,
                lag,
            };
            let got = rolling(&x, o).unwrap();
            for t in 0..x.len() {
                if t + 1 < w {
                    assert!(got[t].is_nan());
                } else {
                    let want = whole_series(&x[t + 1 - w..=t], o).unwrap();
                    assert_eq!(got[t].to_bits(), want.to_bits(), "a={a} k={k} t={t}");
                }
            }
            for chunk in [1usize, 7, 64] {
                let mut est = ConditionalEstimator::new(o).unwrap();
                let mut out = Vec::new();
                for (i, part) in x.chunks(chunk).enumerate() {
                    if i % 2 == 1 {
                        est = ConditionalEstimator::restore(&est.checkpoint()).unwrap();
                    }
                    let mut buf = vec![0.0; part.len()];
                    est.update(part, &mut buf).unwrap();
                    out.extend(buf);
                }
                assert!(out
                    .iter()
                    .zip(&got)
                    .all(|(p, q)| p.to_bits() == q.to_bits()));
            }
            let wo = ConditionalOptions { window: None, ..o };
            let mut est = ConditionalEstimator::new(wo).unwrap();
            for part in x.chunks(33) {
                est.update(part, &mut []).unwrap();
                est = ConditionalEstimator::restore(&est.checkpoint()).unwrap();
            }
            assert_eq!(
                est.value().unwrap().to_bits(),
                whole_series(&x, wo).unwrap().to_bits()
            );
        }
    }

    #[test]
    fn conditional_permutation_matches_reference_and_chunking() {
        let mut s = 17u64;
        let x: Vec<f64> = (0..500)
            .map(|_| {
                s = crate::util::testing::lcg_step(s);
                ((s >> 33) % 6) as f64
            })
            .collect();
        for (d, tau, k) in [(3usize, 1usize, 1usize), (3, 2, 2), (4, 1, 0)] {
            let o = ConditionalPermutationOptions {
                order: d,
                delay: tau,
                context: k,
                ..Default::default()
            };
            let span = (d - 1) * tau;
            let codes: Vec<u64> = (span..x.len())
                .map(|t| pattern_code_at(&x, t, d, tau) as u64)
                .collect();
            let want = reference(&codes, k, tau, factorial(d), true);
            let got = whole_series_permutation(&x, o).unwrap();
            assert!((got - want).abs() < 1e-12, "{got} vs {want}");
            let w = span + k * tau + 30;
            let ro = ConditionalPermutationOptions {
                window: Some(w),
                ..o
            };
            let roll = rolling_permutation(&x, ro).unwrap();
            for t in (w - 1)..x.len() {
                let want = whole_series_permutation(&x[t + 1 - w..=t], o).unwrap();
                assert_eq!(roll[t].to_bits(), want.to_bits());
            }
            assert!(roll[w - 2].is_nan());
            let mut est = ConditionalPermutationEstimator::new(ro).unwrap();
            let mut out = Vec::new();
            for part in x.chunks(13) {
                let mut buf = vec![0.0; part.len()];
                est.update(part, &mut buf).unwrap();
                out.extend(buf);
                est = ConditionalPermutationEstimator::restore(&est.checkpoint()).unwrap();
            }
            assert!(out
                .iter()
                .zip(&roll)
                .all(|(p, q)| p.to_bits() == q.to_bits()));
        }
    }

    #[test]
    fn huge_lags_and_windows_reserve_no_memory_up_front() {
        // One context lane per phase of the delay used to be allocated up front (2^35
        // lanes: 256 GiB, an abort); lanes now appear as the stream reaches them.
        let x: Vec<f64> = (0..50).map(|v| ((v * 7) % 11) as f64).collect();
        let o = ConditionalPermutationOptions {
            delay: 1 << 35,
            ..Default::default()
        };
        let e = whole_series_permutation(&x, o).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::EmptyInput);
        let roll = rolling_permutation(
            &x,
            ConditionalPermutationOptions {
                window: Some(u32::MAX as usize),
                ..Default::default()
            },
        )
        .unwrap();
        assert!(roll.iter().all(|v| v.is_nan()));
        let s = symbols(3, 64, 4);
        let o = ConditionalOptions {
            window: Some(u32::MAX as usize),
            ..Default::default()
        };
        assert!(rolling(&s, o).unwrap().iter().all(|v| v.is_nan()));
        // Lag 5 over a stream shorter than the lag, checkpointed half-way: lanes grow and
        // restore consistently.
        let o = ConditionalOptions {
            lag: 5,
            context: 1,
            window: Some(9),
            ..Default::default()
        };
        let mut est = ConditionalEstimator::new(o).unwrap();
        let mut out = vec![0.0; 3];
        est.update(&s[..3], &mut out).unwrap();
        let mut est = ConditionalEstimator::restore(&est.checkpoint()).unwrap();
        let mut rest = vec![0.0; s.len() - 3];
        est.update(&s[3..], &mut rest).unwrap();
        out.extend(rest);
        let one_pass = rolling(&s, o).unwrap();
        assert!(out
            .iter()
            .zip(&one_pass)
            .all(|(a, b)| a.to_bits() == b.to_bits()));
    }

    #[test]
    fn whole_series_counts_cannot_wrap() {
        let mut est = ConditionalEstimator::new(ConditionalOptions::default()).unwrap();
        est.update(&[0u8, 1, 2], &mut []).unwrap();
        est.seen = crate::estimate::MAX_WHOLE_SERIES_SAMPLES - 1;
        let e = est.update(&[0u8, 1], &mut []).unwrap_err();
        assert!(
            e.message().contains("at most 4294967295"),
            "{}",
            e.message()
        );
        // The rolling mode has no such limit: its counts never exceed the window.
        let mut est = ConditionalEstimator::new(ConditionalOptions {
            window: Some(4),
            ..Default::default()
        })
        .unwrap();
        est.seen = u64::MAX / 2;
        let mut out = [0.0; 2];
        est.update(&[0u8, 1], &mut out).unwrap();
    }

    #[test]
    fn errors_name_values_and_limits() {
        let o = ConditionalOptions {
            alphabet_size: 4,
            ..Default::default()
        };
        let e = whole_series(&[0u8, 1, 9], o).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::SymbolOutOfRange { index: 2 });
        assert!(e.message().contains("symbol 9"), "{}", e.message());
        let e = ConditionalEstimator::new(ConditionalOptions {
            alphabet_size: 257,
            ..o
        })
        .unwrap_err();
        assert!(e.message().contains("1..=256"));
        let e = ConditionalEstimator::new(ConditionalOptions {
            alphabet_size: 256,
            context: 8,
            ..o
        })
        .unwrap_err();
        assert!(e.message().contains("<= 7"), "{}", e.message());
        let e = ConditionalEstimator::new(ConditionalOptions {
            window: Some(1),
            ..o
        })
        .unwrap_err();
        assert!(e.message().contains("window >= 2"), "{}", e.message());
        assert!(ConditionalEstimator::restore(b"ESEG").is_err());
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<ConditionalEstimator>();
        assert_send_sync::<ConditionalPermutationEstimator>();
    }
}
