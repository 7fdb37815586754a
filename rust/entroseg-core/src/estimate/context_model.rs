//! Model-free next-symbol entropy and surprisal: an online context model.
//!
//! For every position `t` of a symbol stream the model predicts `x[t]` from the symbols
//! before it, *before* seeing `x[t]`, and reports
//! - the entropy of that predictive distribution (how uncertain the model is about the
//!   next symbol: what BLT and EntroPE obtain from a trained small transformer), and
//! - the surprisal `-ln P(x[t])` of the symbol that actually came.
//!
//! The predictor keeps, for every context length `j = 0..=order`, counts `c(u, a)` of
//! symbol `a` following context `u` (the last `j` symbols). To predict, it *backs off*:
//! it uses the longest context `u` (at most `order` symbols, and never reaching back past
//! a reset) whose total count `N(u)` is at least `min_count`, falling back to the empty
//! context. Within that context the estimate is additive (Lidstone; `alpha = 1/2` is the
//! Krichevsky-Trofimov estimator):
//!
//! `P(a) = (c(u, a) + alpha) / (N(u) + A alpha)`.
//!
//! Its entropy needs no pass over the alphabet: with `M = N + A alpha`,
//! `H = ln M - (S + (A - D) alpha ln alpha) / M` where `D` counts the symbols seen after
//! `u` and `S = sum over them of (c + alpha) ln(c + alpha)`. `S` is kept per context as an
//! exact fixed-point integer (a pure function of the counts, like the window sums in
//! [`crate::util::accumulate`]), so each prediction costs `O(order)` table look-ups, the state
//! is a function of the counts alone, and checkpoints store only counts.
//!
//! After the prediction at `t`, the counts of all `order + 1` contexts of `x[t]` are
//! incremented (a context that reached `u32::MAX` observations stops counting; its
//! estimate has long converged). With `reset_symbol = r`, the context is emptied after
//! every `r`, so predictions never look back across it (BLT resets at newlines).
//!
//! The output is a pure function of the symbol sequence: any chunking, and any
//! checkpoint/restore point, gives bit-identical values. Memory grows with the number of
//! distinct contexts seen (at most `A^order` per order), not with the stream length.

use crate::error::{Error, Result};
use crate::util::checkpoint::{Reader, Writer};
use crate::util::hash::IntMap;

/// Largest alphabet of the context model.
pub const MAX_ALPHABET: usize = 256;
/// Largest context length.
pub const MAX_ORDER: usize = 31;
/// Fraction bits of the fixed-point `(c + alpha) ln(c + alpha)` terms.
const SCALE_BITS: u32 = 40;
/// Alphabets up to this size sum their terms at prediction time (see `direct`).
const DIRECT_ALPHABET: usize = 16;
/// Precomputed fixed-point terms for counts below this.
const TERM_TABLE_LEN: usize = 4096;
/// Precomputed logarithms `ln(N + A alpha)` and `ln(c + alpha)` for counts below this
/// (the counts of short records, and of the long contexts of any stream).
const LN_TABLE_LEN: usize = 1024;
/// Orders whose context tables are dense arrays while `bits * order` stays this small.
const DENSE_CONTEXT_BITS: u32 = 16;
/// Joint (context, symbol) counts are dense while `bits * (order + 1)` stays this small.
const DENSE_JOINT_BITS: u32 = 20;

/// Options of the context model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NextSymbolOptions {
    /// Longest context length used for prediction (0 = order-0 frequencies); `context` in
    /// every Python surface.
    pub order: usize,
    /// Symbols are `0..alphabet_size`.
    pub alphabet_size: usize,
    /// Additive pseudo-count per symbol (`0.5` = Krichevsky-Trofimov).
    pub alpha: f64,
    /// A context predicts only once it has been seen this many times; shorter contexts
    /// are used until then.
    pub min_count: u32,
    /// The context is emptied after each occurrence of this symbol.
    pub reset_symbol: Option<u32>,
    /// Divide entropy and surprisal by ln(alphabet_size).
    pub normalize: bool,
}

impl Default for NextSymbolOptions {
    fn default() -> Self {
        Self {
            order: 3,
            alphabet_size: 256,
            alpha: 0.5,
            min_count: 1,
            reset_symbol: None,
            normalize: true,
        }
    }
}

fn bits_for(alphabet: usize) -> u32 {
    (usize::BITS - (alphabet.max(2) - 1).leading_zeros()).max(1)
}

impl NextSymbolOptions {
    /// The options from caller-given numbers, checked. `context` is the context length
    /// with the name the caller gave it (for the error message).
    pub fn from_values(
        context: (&str, i64),
        alphabet_size: usize,
        alpha: f64,
        min_count: i64,
        reset_symbol: Option<i64>,
        normalize: bool,
    ) -> Result<Self> {
        let o = Self {
            order: crate::estimate::count(context.1, context.0, 0)?,
            alphabet_size,
            alpha,
            min_count: u32::try_from(crate::estimate::count(min_count, "min_count", 1)?)
                .unwrap_or(u32::MAX),
            reset_symbol: reset_symbol
                .map(|r| {
                    crate::estimate::count(r, "reset_symbol", 0)
                        .map(|r| r.min(u32::MAX as usize) as u32)
                })
                .transpose()?,
            normalize,
        };
        o.check(context.0)?;
        Ok(o)
    }

    /// Checks every option; returns the bits per packed symbol.
    pub fn validate(&self) -> Result<u32> {
        self.check("context")
    }

    /// [`validate`](Self::validate), naming the context length `context_name` in errors
    /// (the name the caller used).
    fn check(&self, context_name: &str) -> Result<u32> {
        let a = self.alphabet_size;
        if !(1..=MAX_ALPHABET).contains(&a) {
            return Err(Error::parameter(format!(
                "alphabet_size must be in 1..={MAX_ALPHABET}, got {a}"
            )));
        }
        let bits = bits_for(a);
        let max_order = (64 / bits as usize - 1).min(MAX_ORDER);
        if self.order > max_order {
            return Err(Error::parameter(format!(
                "{context_name} must be <= {max_order} for alphabet_size {a} (a context plus \
                 the next symbol must pack into 64 bits), got {}",
                self.order
            )));
        }
        if !(self.alpha.is_finite() && self.alpha > 0.0 && self.alpha <= 1e6) {
            return Err(Error::parameter(format!(
                "alpha must be a finite pseudo-count in (0, 1e6], got {}",
                self.alpha
            )));
        }
        if self.min_count < 1 {
            return Err(Error::parameter(format!(
                "min_count must be >= 1, got {}",
                self.min_count
            )));
        }
        if let Some(r) = self.reset_symbol {
            if r as usize >= a {
                return Err(Error::parameter(format!(
                    "reset_symbol must be in 0..{a} (alphabet_size={a}), got {r}"
                )));
            }
        }
        Ok(bits)
    }
}

/// Per-context totals: `N(u)`, `D(u)` and the fixed-point `S(u)`.
#[derive(Debug, Clone, Copy, Default)]
struct ContextStats {
    total: u32,
    distinct: u32,
    sum: i128,
}

#[derive(Debug, Clone)]
enum Table<T> {
    Dense(Vec<T>),
    Hashed(IntMap<u64, T>),
}

impl<T: Copy + Default> Table<T> {
    fn new(key_bits: u32, dense_limit: u32) -> Self {
        if key_bits <= dense_limit {
            Table::Dense(vec![T::default(); 1usize << key_bits])
        } else {
            Table::Hashed(IntMap::default())
        }
    }
    #[inline(always)]
    fn get(&self, key: u64) -> T {
        match self {
            Table::Dense(v) => v[key as usize],
            Table::Hashed(m) => Self::hashed_get(m, key),
        }
    }
    /// The dense case inline in the hot loops, the hashed one out of line.
    #[inline(always)]
    fn get_mut(&mut self, key: u64) -> &mut T {
        match self {
            Table::Dense(v) => &mut v[key as usize],
            Table::Hashed(m) => Self::hashed_get_mut(m, key),
        }
    }
    #[inline(never)]
    fn hashed_get(m: &IntMap<u64, T>, key: u64) -> T {
        m.get(&key).copied().unwrap_or_default()
    }
    #[inline(never)]
    fn hashed_get_mut(m: &mut IntMap<u64, T>, key: u64) -> &mut T {
        m.entry(key).or_default()
    }
    fn clear(&mut self) {
        match self {
            Table::Dense(v) => v.iter_mut().for_each(|x| *x = T::default()),
            Table::Hashed(m) => m.clear(),
        }
    }
}

/// An error unless both output buffers hold `n` values.
pub(crate) fn check_outputs(n: usize, entropy: &[f64], surprisal: &[f64]) -> Result<()> {
    if entropy.len() != n || surprisal.len() != n {
        return Err(Error::parameter(format!(
            "output buffers have lengths {} and {}, expected {n}",
            entropy.len(),
            surprisal.len(),
        )));
    }
    Ok(())
}

/// Streaming next-symbol entropy and surprisal.
#[derive(Debug, Clone)]
pub struct ContextModel {
    options: NextSymbolOptions,
    bits: u32,
    /// Per order j: context statistics keyed by the packed last j symbols.
    contexts: Vec<Table<ContextStats>>,
    /// Per order j: counts keyed by (context << bits) | symbol.
    joint: Vec<Table<u32>>,
    /// The last `order` symbols, newest in the lowest bits.
    history: u64,
    /// Symbols available as context (since the start or the last reset), capped at order.
    available: usize,
    seen: u64,
    terms: Vec<i128>,
    /// The first `LN_TABLE_LEN` terms as `i64` (they fit: below 2^56), for the sums of
    /// small alphabets: the same integers, summed without 128-bit arithmetic.
    terms64: Vec<i64>,
    /// `ln(N + A alpha)` for totals `N` below `LN_TABLE_LEN`, evaluated exactly as
    /// `step` would.
    ln_total: Vec<f64>,
    /// `ln(c + alpha)` for counts `c` below `LN_TABLE_LEN`.
    ln_count: Vec<f64>,
    /// Small alphabet: entropies are summed from the chosen context's counts at each
    /// prediction, and the per-context running sums are not kept.
    direct: bool,
    /// `ln(M)` is evaluated fresh; these are constants of the options.
    a_alpha: f64,
    zero_term: f64,
    /// Scale of the surprisal (1 / ln a when normalising).
    norm: f64,
    /// The entropy's scale and clamp: a predictive distribution over `a` symbols has an
    /// entropy in `[0, ln a]`, which the rounded evaluation can leave by an ulp.
    finish: crate::estimate::Finish,
}

const TAG: &str = "ContextModel";

impl ContextModel {
    /// Validates the options and builds an empty model.
    pub fn new(options: NextSymbolOptions) -> Result<Self> {
        let bits = options.validate()?;
        let contexts = (0..=options.order)
            .map(|j| Table::new(bits * j as u32, DENSE_CONTEXT_BITS))
            .collect();
        let joint = (0..=options.order)
            .map(|j| Table::new(bits * (j as u32 + 1), DENSE_JOINT_BITS))
            .collect();
        let alpha = options.alpha;
        let terms: Vec<i128> = (0..TERM_TABLE_LEN as u64)
            .map(|c| fixed_term(c, alpha))
            .collect();
        let a = options.alphabet_size as f64;
        let a_alpha = a * alpha;
        let terms64 = terms[..LN_TABLE_LEN]
            .iter()
            .map(|&t| i64::try_from(t).unwrap_or(i64::MAX))
            .collect();
        let ln_total = (0..LN_TABLE_LEN)
            .map(|n| (n as u32 as f64 + a_alpha).ln())
            .collect();
        let ln_count = (0..LN_TABLE_LEN)
            .map(|c| (c as u32 as f64 + alpha).ln())
            .collect();
        Ok(Self {
            options,
            bits,
            contexts,
            joint,
            history: 0,
            available: 0,
            seen: 0,
            terms,
            terms64,
            ln_total,
            ln_count,
            direct: options.alphabet_size <= DIRECT_ALPHABET,
            a_alpha,
            zero_term: alpha * alpha.ln(),
            norm: if options.normalize && options.alphabet_size > 1 {
                1.0 / a.ln()
            } else {
                1.0
            },
            finish: crate::estimate::Finish::new(options.alphabet_size, options.normalize),
        })
    }

    /// The options.
    pub fn options(&self) -> &NextSymbolOptions {
        &self.options
    }

    /// Symbols seen so far.
    pub fn samples_seen(&self) -> u64 {
        self.seen
    }

    /// Back to an empty model.
    pub fn reset(&mut self) {
        self.contexts.iter_mut().for_each(Table::clear);
        self.joint.iter_mut().for_each(Table::clear);
        self.history = 0;
        self.available = 0;
        self.seen = 0;
    }

    #[inline]
    fn term(&self, c: u32) -> i128 {
        match self.terms.get(c as usize) {
            Some(&t) => t,
            None => fixed_term(c as u64, self.options.alpha),
        }
    }

    #[inline]
    fn context_key(&self, j: usize) -> u64 {
        if j == 0 {
            0
        } else {
            self.history & (u64::MAX >> (64 - self.bits * j as u32))
        }
    }

    /// Feeds symbols, writing the entropy and the surprisal of each (before it is
    /// counted) into `entropy` and `surprisal` (same length as `symbols`). A symbol out
    /// of range fails the call before any state changes.
    pub fn update<T: Copy + Into<u64>>(
        &mut self,
        symbols: &[T],
        entropy: &mut [f64],
        surprisal: &mut [f64],
    ) -> Result<()> {
        super::check_symbols(symbols, self.options.alphabet_size)?;
        check_outputs(symbols.len(), entropy, surprisal)?;
        for ((&s, h), q) in symbols.iter().zip(entropy).zip(surprisal) {
            let (eh, sq) = self.step::<true, true>(s.into() as u32);
            *h = eh;
            *q = sq;
        }
        Ok(())
    }

    /// [`update`](Self::update) writing the entropy only (the same values).
    pub fn update_entropy<T: Copy + Into<u64>>(
        &mut self,
        symbols: &[T],
        entropy: &mut [f64],
    ) -> Result<()> {
        super::check_symbols(symbols, self.options.alphabet_size)?;
        check_outputs(symbols.len(), entropy, entropy)?;
        for (&s, h) in symbols.iter().zip(entropy) {
            *h = self.step::<true, false>(s.into() as u32).0;
        }
        Ok(())
    }

    /// [`update`](Self::update) writing the surprisal only (the same values, without the
    /// cost of the entropy).
    pub fn update_surprisal<T: Copy + Into<u64>>(
        &mut self,
        symbols: &[T],
        surprisal: &mut [f64],
    ) -> Result<()> {
        super::check_symbols(symbols, self.options.alphabet_size)?;
        check_outputs(symbols.len(), surprisal, surprisal)?;
        for (&s, q) in symbols.iter().zip(surprisal) {
            *q = self.step::<false, true>(s.into() as u32).1;
        }
        Ok(())
    }

    /// Empties the context without counting anything: the next prediction uses no
    /// previous symbol (for a gap in the stream, e.g. an ambiguous base in DNA).
    pub fn break_context(&mut self) {
        self.available = 0;
    }

    /// Predicts, reports and counts one symbol: the entropy when `H` (else 0) and the
    /// surprisal when `Q` (else 0).
    #[inline]
    fn step<const H: bool, const Q: bool>(&mut self, symbol: u32) -> (f64, f64) {
        let bits = self.bits;
        let order = self.options.order;
        let usable = self.available.min(order);
        // Back-off: the longest usable context seen at least min_count times.
        let mut chosen = 0;
        let mut stats = self.contexts[0].get(0);
        for j in (1..=usable).rev() {
            let s = self.contexts[j].get(self.context_key(j));
            if s.total >= self.options.min_count {
                chosen = j;
                stats = s;
                break;
            }
        }
        let key = self.context_key(chosen);
        let m = stats.total as f64 + self.a_alpha;
        // Tabulated for small totals: the same evaluation, done once.
        let ln_m = match self.ln_total.get(stats.total as usize) {
            Some(&v) => v,
            None => m.ln(),
        };
        let mut h = 0.0;
        if H {
            let absent = (self.options.alphabet_size as u32 - stats.distinct) as f64;
            let fixed = if self.direct {
                // Small alphabets: sum the terms of the chosen context's counts now (the
                // same exact integer the running sum would hold) instead of keeping
                // running sums, whose updates would cost logarithms for the large counts
                // of short contexts. Small counts sum in 64 bits (the same integer).
                let base = key << bits;
                let table = &self.joint[chosen];
                let mut small = 0i64;
                let mut large = 0i128;
                for a in 0..self.options.alphabet_size as u64 {
                    let c = table.get(base | a);
                    if c == 0 {
                        continue;
                    }
                    match self.terms64.get(c as usize) {
                        Some(&t) => small += t,
                        None => large += self.term(c),
                    }
                }
                if large == 0 {
                    small as f64
                } else {
                    (large + small as i128) as f64
                }
            } else {
                stats.sum as f64
            };
            let sum = fixed / (1u64 << SCALE_BITS) as f64 + absent * self.zero_term;
            h = (ln_m - sum / m).max(0.0);
        }
        let mut q = 0.0;
        if Q {
            let count = self.joint[chosen].get((key << bits) | symbol as u64);
            let ln_c = match self.ln_count.get(count as usize) {
                Some(&v) => v,
                None => (count as f64 + self.options.alpha).ln(),
            };
            q = (ln_m - ln_c).max(0.0);
        }

        self.count(symbol, usable);
        (self.finish.apply(h), q * self.norm)
    }

    /// Counts `symbol` after the current context, in every context of length
    /// `0..=usable`, and moves the context on.
    #[inline]
    fn count(&mut self, symbol: u32, usable: usize) {
        let bits = self.bits;
        let order = self.options.order;
        // Count the symbol in every context of length 0..=usable.
        for j in 0..=usable {
            let key = self.context_key(j);
            // Looked up once each (a context about to be counted in is created anyway).
            let st = self.contexts[j].get_mut(key);
            if st.total == u32::MAX {
                continue;
            }
            let c = self.joint[j].get_mut((key << bits) | symbol as u64);
            let before = *c;
            *c = before + 1;
            st.total += 1;
            st.distinct += (before == 0) as u32;
            if !self.direct {
                let term = |c: u32| match self.terms.get(c as usize) {
                    Some(&t) => t,
                    None => fixed_term(c as u64, self.options.alpha),
                };
                st.sum += term(before + 1) - if before == 0 { 0 } else { term(before) };
            }
        }
        self.seen += 1;
        if order > 0 {
            self.history = (self.history << bits) | symbol as u64;
            self.available = (self.available + 1).min(order);
        }
        if self.options.reset_symbol == Some(symbol) {
            self.available = 0;
        }
    }

    /// Feeds symbols like [`update`](Self::update), but predicts with the blend of every
    /// usable context length (see [`step_blended`](Self::step_blended)).
    pub fn update_blended<T: Copy + Into<u64>>(
        &mut self,
        symbols: &[T],
        entropy: &mut [f64],
        surprisal: &mut [f64],
    ) -> Result<()> {
        super::check_symbols(symbols, self.options.alphabet_size)?;
        check_outputs(symbols.len(), entropy, surprisal)?;
        let mut p = vec![0.0; self.options.alphabet_size];
        for ((&s, h), q) in symbols.iter().zip(entropy).zip(surprisal) {
            let (eh, sq) = self.step_blended(s.into() as u32, &mut p);
            *h = eh;
            *q = sq;
        }
        Ok(())
    }

    /// Predicts with a blend of every usable context length, reports and counts one
    /// symbol. Witten-Bell interpolation, from the empty context up:
    ///
    /// `P_0(a) = (c_0(a) + alpha) / (N_0 + A alpha)`,
    /// `P_j(a) = (c_j(u, a) + D_j(u) P_{j-1}(a)) / (N_j(u) + D_j(u))` for a context `u`
    /// of length `j` seen before (`P_j = P_{j-1}` otherwise),
    ///
    /// where `D_j(u)` counts the distinct symbols seen after `u`: a context seen once
    /// gives half its weight to what the shorter contexts predict, so predictions are not
    /// the same number wherever a context is new. `min_count` does not apply. The
    /// entropy sums over the alphabet (O(alphabet * context) per symbol); the surprisal
    /// alone would need O(context).
    #[inline]
    fn step_blended(&mut self, symbol: u32, p: &mut [f64]) -> (f64, f64) {
        let bits = self.bits;
        let usable = self.available.min(self.options.order);
        let alpha = self.options.alpha;
        let root = self.contexts[0].get(0);
        let m0 = root.total as f64 + self.a_alpha;
        for (a, pa) in p.iter_mut().enumerate() {
            *pa = (self.joint[0].get(a as u64) as f64 + alpha) / m0;
        }
        for j in 1..=usable {
            let key = self.context_key(j);
            let st = self.contexts[j].get(key);
            if st.total == 0 {
                continue;
            }
            let (n, d) = (st.total as f64, st.distinct as f64);
            let base = key << bits;
            for (a, pa) in p.iter_mut().enumerate() {
                let c = self.joint[j].get(base | a as u64) as f64;
                *pa = (c + d * *pa) / (n + d);
            }
        }
        let h: f64 = p
            .iter()
            .filter(|&&v| v > 0.0)
            .map(|&v| -v * v.ln())
            .sum::<f64>()
            .max(0.0);
        let q = (-p[symbol as usize].ln()).max(0.0);
        self.count(symbol, usable);
        (self.finish.apply(h), q * self.norm)
    }

    /// Serialises the state (options, history and the order-`j` joint counts).
    pub fn checkpoint(&self) -> Vec<u8> {
        let mut w = Writer::new(TAG);
        let o = &self.options;
        w.u64(o.order as u64);
        w.u64(o.alphabet_size as u64);
        w.f64(o.alpha);
        w.u64(o.min_count as u64);
        w.u64(o.reset_symbol.map_or(u64::MAX, |r| r as u64));
        w.bool(o.normalize);
        w.u64(self.history);
        w.u64(self.available as u64);
        w.u64(self.seen);
        for table in &self.joint {
            let mut entries: Vec<(u64, u32)> = match table {
                Table::Dense(v) => v
                    .iter()
                    .enumerate()
                    .filter(|(_, &c)| c > 0)
                    .map(|(k, &c)| (k as u64, c))
                    .collect(),
                Table::Hashed(m) => m.iter().map(|(&k, &c)| (k, c)).collect(),
            };
            // Sorted, so equal states give equal bytes.
            entries.sort_unstable();
            w.u64(entries.len() as u64);
            for (k, c) in entries {
                w.u64(k);
                w.u64(c as u64);
            }
        }
        w.finish()
    }

    /// Rebuilds a model from `checkpoint()` bytes; context totals are recomputed from the
    /// joint counts and checked against them.
    pub fn restore(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::open(bytes, TAG)?;
        let order = r.usize()?;
        let alphabet_size = r.usize()?;
        let alpha = r.f64()?;
        let min_count = u32::try_from(r.u64()?)
            .map_err(|_| Error::checkpoint("min_count out of range in checkpoint"))?;
        let reset = r.u64()?;
        let reset_symbol = if reset == u64::MAX {
            None
        } else {
            Some(
                u32::try_from(reset)
                    .map_err(|_| Error::checkpoint("reset_symbol out of range in checkpoint"))?,
            )
        };
        let normalize = r.bool()?;
        let options = NextSymbolOptions {
            order,
            alphabet_size,
            alpha,
            min_count,
            reset_symbol,
            normalize,
        };
        let mut model = Self::new(options).map_err(|e| Error::checkpoint(e.message()))?;
        model.history = r.u64()?;
        model.available = r.usize()?;
        model.seen = r.u64()?;
        if model.available > order {
            return Err(Error::checkpoint(
                "inconsistent context length in checkpoint",
            ));
        }
        let bits = model.bits;
        for j in 0..=order {
            let n = r.usize()?;
            let key_bits = bits * (j as u32 + 1);
            let mut previous = None;
            for _ in 0..n {
                let key = r.u64()?;
                let c = r.u64()?;
                let in_range = key_bits >= 64 || key < (1u64 << key_bits);
                let symbol = key & ((1u64 << bits) - 1);
                if !in_range
                    || symbol >= alphabet_size as u64
                    || c == 0
                    || c > u32::MAX as u64
                    || previous.is_some_and(|p| p >= key)
                {
                    return Err(Error::checkpoint(
                        "inconsistent symbol counts in checkpoint",
                    ));
                }
                previous = Some(key);
                let ctx = key >> bits;
                let stats = model.contexts[j].get(ctx);
                let total = stats.total as u64 + c;
                if total > u32::MAX as u64 {
                    return Err(Error::checkpoint(
                        "inconsistent symbol counts in checkpoint",
                    ));
                }
                *model.joint[j].get_mut(key) = c as u32;
                let term = if model.direct {
                    0
                } else {
                    model.term(c as u32)
                };
                let st = model.contexts[j].get_mut(ctx);
                st.total = total as u32;
                st.distinct += 1;
                st.sum += term;
            }
        }
        r.finish()?;
        Ok(model)
    }
}

/// `round((c + alpha) ln(c + alpha) * 2^SCALE_BITS)`: the fixed-point term of a count.
fn fixed_term(c: u64, alpha: f64) -> i128 {
    let v = c as f64 + alpha;
    (v * v.ln() * (1u64 << SCALE_BITS) as f64).round() as i128
}

/// Next-symbol entropy and surprisal of every symbol of `symbols` (one pass of a fresh
/// model).
pub fn next_symbol_entropy<T: Copy + Into<u64>>(
    symbols: &[T],
    options: NextSymbolOptions,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let mut model = ContextModel::new(options)?;
    let mut h = crate::util::buffer::zeroed_f64(symbols.len());
    let mut q = crate::util::buffer::zeroed_f64(symbols.len());
    model.update(symbols, &mut h, &mut q)?;
    Ok((h, q))
}

/// [`next_symbol_entropy`] with the blended predictor ([`ContextModel::update_blended`]).
pub fn next_symbol_entropy_blended<T: Copy + Into<u64>>(
    symbols: &[T],
    options: NextSymbolOptions,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let mut model = ContextModel::new(options)?;
    let mut h = crate::util::buffer::zeroed_f64(symbols.len());
    let mut q = crate::util::buffer::zeroed_f64(symbols.len());
    model.update_blended(symbols, &mut h, &mut q)?;
    Ok((h, q))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    /// Counts of each symbol after context `symbols[t - j..t]`, before `t`, never
    /// reaching back past a reset (recounted from scratch).
    fn counts_after(symbols: &[u32], o: &NextSymbolOptions, t: usize, j: usize) -> Vec<f64> {
        let mut counts = vec![0f64; o.alphabet_size];
        let ctx = &symbols[t - j..t];
        let mut resets_before = vec![0usize; t + 1];
        let mut lr = 0;
        for i in 0..t {
            resets_before[i] = lr;
            if o.reset_symbol == Some(symbols[i]) {
                lr = i + 1;
            }
        }
        for i in j..t {
            if i - resets_before[i] >= j && &symbols[i - j..i] == ctx {
                counts[symbols[i] as usize] += 1.0;
            }
        }
        counts
    }

    /// The blended predictor, recounted from scratch at every position.
    fn reference_blended(symbols: &[u32], o: NextSymbolOptions) -> (Vec<f64>, Vec<f64>) {
        let a = o.alphabet_size;
        let norm = if o.normalize && a > 1 {
            (a as f64).ln()
        } else {
            1.0
        };
        let (mut hs, mut qs) = (Vec::new(), Vec::new());
        let mut last_reset = 0usize;
        for t in 0..symbols.len() {
            let usable = (t - last_reset).min(o.order);
            let c0 = counts_after(symbols, &o, t, 0);
            let n0: f64 = c0.iter().sum();
            let mut p: Vec<f64> = c0
                .iter()
                .map(|c| (c + o.alpha) / (n0 + a as f64 * o.alpha))
                .collect();
            for j in 1..=usable {
                let c = counts_after(symbols, &o, t, j);
                let n: f64 = c.iter().sum();
                if n == 0.0 {
                    continue;
                }
                let d = c.iter().filter(|&&v| v > 0.0).count() as f64;
                p = p
                    .iter()
                    .zip(&c)
                    .map(|(pa, ca)| (ca + d * pa) / (n + d))
                    .collect();
            }
            let h: f64 = -p
                .iter()
                .filter(|&&v| v > 0.0)
                .map(|v| v * v.ln())
                .sum::<f64>();
            hs.push(h / norm);
            qs.push(-p[symbols[t] as usize].ln() / norm);
            if o.reset_symbol == Some(symbols[t]) {
                last_reset = t + 1;
            }
        }
        (hs, qs)
    }

    #[test]
    fn blended_matches_the_recounting_reference_for_any_chunking() {
        for (order, a, reset) in [(0, 3, None), (2, 4, None), (3, 5, Some(1)), (1, 256, None)] {
            let o = NextSymbolOptions {
                order,
                alphabet_size: a,
                reset_symbol: reset,
                ..NextSymbolOptions::default()
            };
            let x = lcg(7 + order as u64, 400, a as u32);
            let (wh, wq) = reference_blended(&x, o);
            let (h, q) = next_symbol_entropy_blended(&x, o).unwrap();
            assert_close(&h, &wh, "blended h");
            assert_close(&q, &wq, "blended q");
            // Any chunking gives the same bits.
            let mut m = ContextModel::new(o).unwrap();
            let (mut hh, mut qq) = (vec![0.0; x.len()], vec![0.0; x.len()]);
            let mut at = 0;
            for step in [1usize, 7, 64, 1000] {
                let end = (at + step).min(x.len());
                m.update_blended(&x[at..end], &mut hh[at..end], &mut qq[at..end])
                    .unwrap();
                m = ContextModel::restore(&m.checkpoint()).unwrap();
                at = end;
            }
            assert_eq!(
                hh.iter().map(|v| v.to_bits()).collect::<Vec<_>>()[..at],
                h.iter().map(|v| v.to_bits()).collect::<Vec<_>>()[..at]
            );
        }
    }

    /// Obviously-correct reference: recount everything from scratch at every position.
    fn reference(symbols: &[u32], o: NextSymbolOptions) -> (Vec<f64>, Vec<f64>) {
        let a = o.alphabet_size;
        let mut hs = Vec::new();
        let mut qs = Vec::new();
        let mut last_reset = 0usize; // index of the first symbol after the last reset
        for t in 0..symbols.len() {
            let usable = (t - last_reset).min(o.order);
            let mut chosen: Option<Vec<f64>> = None;
            for j in (0..=usable).rev() {
                let counts = counts_after(symbols, &o, t, j);
                let total = counts.iter().sum::<f64>() as u32;
                if total >= o.min_count || j == 0 {
                    chosen = Some(counts);
                    break;
                }
            }
            let counts = chosen.unwrap();
            let m: f64 = counts.iter().sum::<f64>() + a as f64 * o.alpha;
            let p: Vec<f64> = counts.iter().map(|c| (c + o.alpha) / m).collect();
            let h: f64 = -p.iter().map(|p| p * p.ln()).sum::<f64>();
            let q = -p[symbols[t] as usize].ln();
            let norm = if o.normalize && a > 1 {
                (a as f64).ln()
            } else {
                1.0
            };
            hs.push(h / norm);
            qs.push(q / norm);
            if o.reset_symbol == Some(symbols[t]) {
                last_reset = t + 1;
            }
        }
        (hs, qs)
    }

    /// Position by position within 1e-9, naming the first position that is not.
    fn assert_close(got: &[f64], want: &[f64], what: &str) {
        assert_eq!(got.len(), want.len(), "{what}: lengths");
        for (t, (g, w)) in got.iter().zip(want).enumerate() {
            assert!((g - w).abs() < 1e-9, "{what} t={t}: {g} vs {w}");
        }
    }

    fn lcg(seed: u64, n: usize, a: u32) -> Vec<u32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = crate::util::testing::lcg_step(s);
                // Skewed: small symbols more frequent, so contexts repeat.
                let r = (s >> 33) as u32 % (a * a);
                (r as f64).sqrt() as u32 % a
            })
            .collect()
    }

    #[test]
    fn entropy_only_and_surprisal_only_equal_both() {
        // Long enough for counts past the logarithm and term tables; dense and hashed
        // tables; small (direct) and large alphabets.
        for (a, order) in [(4usize, 4usize), (4, 11), (16, 2), (256, 1), (2, 6)] {
            let x = lcg(7 + a as u64, 20_000, a as u32);
            let o = NextSymbolOptions {
                order,
                alphabet_size: a,
                ..Default::default()
            };
            let (h, q) = next_symbol_entropy(&x, o).unwrap();
            let mut m = ContextModel::new(o).unwrap();
            let mut only = vec![0.0; x.len()];
            m.update_entropy(&x, &mut only).unwrap();
            let bits = |v: &[f64]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&only), bits(&h), "entropy a={a} order={order}");
            m.reset();
            m.update_surprisal(&x, &mut only).unwrap();
            assert_eq!(bits(&only), bits(&q), "surprisal a={a} order={order}");
        }
    }

    #[test]
    fn matches_the_recounting_reference() {
        let cases = [
            (4usize, 0usize, 0.5, 1u32, None),
            (4, 2, 0.5, 1, None),
            (4, 3, 0.5, 2, Some(0u32)),
            (5, 1, 1.0, 1, Some(4)),
            (16, 2, 0.05, 3, None),
            (256, 2, 0.5, 1, Some(10)),
            (1, 2, 0.5, 1, None),
        ];
        for (a, order, alpha, min_count, reset) in cases {
            let o = NextSymbolOptions {
                order,
                alphabet_size: a,
                alpha,
                min_count,
                reset_symbol: reset,
                normalize: a % 2 == 0,
            };
            let x = lcg(a as u64 + order as u64, 300, a as u32);
            let (h, q) = next_symbol_entropy(&x, o).unwrap();
            let (rh, rq) = reference(&x, o);
            assert_close(&h, &rh, &format!("{o:?} h"));
            assert_close(&q, &rq, &format!("{o:?} q"));
        }
    }

    #[test]
    fn chunking_and_checkpoints_are_invisible() {
        let o = NextSymbolOptions {
            order: 3,
            alphabet_size: 4,
            reset_symbol: Some(3),
            ..Default::default()
        };
        let x = lcg(7, 2000, 4);
        let (h, q) = next_symbol_entropy(&x, o).unwrap();
        let mut model = ContextModel::new(o).unwrap();
        let (mut hh, mut qq) = (Vec::new(), Vec::new());
        let mut start = 0;
        for (i, len) in [0usize, 1, 5, 333, 1, 700, 960].iter().enumerate() {
            let chunk = &x[start..start + len];
            let mut a = vec![0.0; chunk.len()];
            let mut b = vec![0.0; chunk.len()];
            model.update(chunk, &mut a, &mut b).unwrap();
            hh.extend(a);
            qq.extend(b);
            start += len;
            if i % 2 == 1 {
                model = ContextModel::restore(&model.checkpoint()).unwrap();
            }
        }
        assert_eq!(start, x.len());
        assert!(h.iter().zip(&hh).all(|(a, b)| a.to_bits() == b.to_bits()));
        assert!(q.iter().zip(&qq).all(|(a, b)| a.to_bits() == b.to_bits()));
    }

    #[test]
    fn hashed_tables_agree_with_dense_ones() {
        // Order 12 over DNA uses hashed context tables; compare with the reference.
        let o = NextSymbolOptions {
            order: 12,
            alphabet_size: 4,
            ..Default::default()
        };
        let x = lcg(3, 400, 4);
        let (h, _) = next_symbol_entropy(&x, o).unwrap();
        let (rh, _) = reference(&x, o);
        assert!(h.iter().zip(&rh).all(|(a, b)| (a - b).abs() < 1e-9));
    }

    #[test]
    fn bad_options_and_symbols_are_typed_errors() {
        let bad = [
            NextSymbolOptions {
                alphabet_size: 0,
                ..Default::default()
            },
            NextSymbolOptions {
                alphabet_size: 257,
                ..Default::default()
            },
            NextSymbolOptions {
                order: 9,
                ..Default::default()
            },
            NextSymbolOptions {
                alpha: 0.0,
                ..Default::default()
            },
            NextSymbolOptions {
                alpha: f64::NAN,
                ..Default::default()
            },
            NextSymbolOptions {
                min_count: 0,
                ..Default::default()
            },
            NextSymbolOptions {
                reset_symbol: Some(256),
                ..Default::default()
            },
        ];
        for o in bad {
            let e = ContextModel::new(o).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidParameter, "{o:?}");
        }
        let mut m = ContextModel::new(NextSymbolOptions {
            alphabet_size: 4,
            ..Default::default()
        })
        .unwrap();
        let e = m
            .update(&[1u8, 4], &mut [0.0; 2], &mut [0.0; 2])
            .unwrap_err();
        assert!(e.message().contains("symbol 4 at index 1"));
        assert_eq!(m.samples_seen(), 0);
        assert!(ContextModel::restore(b"garbage").is_err());
        let bytes = m.checkpoint();
        for cut in 0..bytes.len() {
            assert!(ContextModel::restore(&bytes[..cut]).is_err());
        }
    }

    #[test]
    fn send_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<ContextModel>();
    }

    #[test]
    fn normalised_entropy_never_exceeds_one() {
        // A uniform order-0 prediction over 4 symbols evaluates ln(M) - S/M with rounded
        // terms: without the clamp it came out at 1.0000000000000162 here.
        let s: [u8; 17] = [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 0];
        for normalize in [true, false] {
            let o = NextSymbolOptions {
                order: 0,
                alphabet_size: 4,
                alpha: 1.0,
                normalize,
                ..Default::default()
            };
            let (h, _) = next_symbol_entropy(&s, o).unwrap();
            let max = if normalize { 1.0 } else { 4f64.ln() };
            assert!(h.iter().all(|&v| (0.0..=max).contains(&v)), "{h:?}");
            assert_eq!(h[16], max, "uniform after four of each: the maximum");
        }
    }
}
