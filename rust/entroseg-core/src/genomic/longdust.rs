//! The longdust low-complexity masker (Li & Li 2025), interval for interval identical to
//! pydustmasker 3.3's `LongdustMasker` (itself a port of Li's longdust 1.4).
//!
//! # What it finds
//!
//! For an interval of `l` k-mer positions with k-mer counts `n_x`, the score is
//! `sum_x ln(n_x!) - l * threshold - f(l)`, where `f(l)` is the expected `sum_x ln(n_x!)`
//! of `l` random k-mers (a Poisson expectation over the `4^k` k-mers, optionally
//! corrected for GC content). A position `e` ends a low-complexity region (LCR) when,
//! inside the window of the last `window` positions, a backward scan from `e` finds a
//! start `a` whose score is a running maximum (with an X-drop cut-off), and a forward
//! scan from `a` confirms that no earlier end scores higher than `e`. Inside a long LCR
//! that already covers the whole window, a position is appended in O(1) when it raises
//! the score ("extension"). LCRs that overlap are merged; the reverse complement is
//! scanned the same way and the two strands' intervals are united (touching ones merged).
//!
//! # Why the results are bit-for-bit the peer's
//!
//! Every decision compares floating-point sums, so the sums are formed with the same
//! operations in the same order as the reference: the same running window sum of
//! `ln(n!)` (it drifts, and the drift is part of the result), the same `f` table
//! (series, Stirling tail, GC classes) and the same per-step additions in the backward
//! and forward scans. What differs is only how the counts those sums read are obtained.
//!
//! # The hot path
//!
//! The backward scan from `e` needs, at each earlier position `p`, the count of `p`'s
//! k-mer in `[p, e]` and in `[window start, p]`. Instead of a scratch table that is
//! cleared and incremented on every scan (a memory-carried dependency on repeats, and a
//! `4^k` clear per scan), each position stores its k-mer's global occurrence rank `r`
//! and each k-mer keeps its total count `g` and the count `before` the window: the two
//! counts are then `g - r + 1` and `r - before`, read-only look-ups. Ambiguous
//! positions use a sentinel k-mer whose look-ups give count 0. The forward scans, whose
//! scores do not depend on the newest position, are cached by start and extended
//! (see [`ForwardRun`]): on a repeat-rich genome most forward passes repeat an earlier
//! one from the same start. The counts of the current LCR move to a new one by the
//! difference of the two ranges (see [`Scanner::adopt_lcr`]), not by a clear and a copy
//! of the whole LCR. The scan loops make no calls on their common path, so that their
//! loop-carried sums stay in registers.
//!
//! # Threads
//!
//! Ambiguous bases are not hard breaks for longdust (they stay in the window and lower
//! the score) and the window sum carries rounding from the whole history, so a sequence
//! cannot be cut into independent pieces with a provably identical result. The two
//! strands are independent, so [`longdust_parallel`] runs them on two threads; many
//! records run in parallel in the batch functions of the bindings.

use crate::error::{Error, ErrorKind, Result};
#[cfg(test)]
use std::sync::atomic::{AtomicUsize, Ordering};

/// How often each way of taking on a new LCR's counts ran (tests check that the
/// generated sequences reach all three): copied after an empty or disjoint range,
/// copied after an inexact table, updated in place.
#[cfg(test)]
static ADOPT_PATHS: [AtomicUsize; 3] = [const { AtomicUsize::new(0) }; 3];

/// How often the certified scan decided each way (tests check that all are reached):
/// no start, the LCR ends here, the first forward pass stopped early (partial exact
/// scan), not decided (whole exact scan).
/// Test builds: a factor on the certified scan's error bound (a larger bound leaves
/// more decisions to the exact scan, never changes a result).
#[cfg(test)]
static EPS_BOOST: AtomicUsize = AtomicUsize::new(1);

/// How often a block was taken from its summary: below the maximum, a new maximum.
#[cfg(test)]
static BLOCK_PATHS: [AtomicUsize; 2] = [const { AtomicUsize::new(0) }; 2];

#[cfg(test)]
static QUICK_PATHS: [AtomicUsize; 4] = [const { AtomicUsize::new(0) }; 4];

/// Largest k-mer length (as the peer; `4^12` k-mers of 16-bit counts).
pub const MAX_KMER: usize = 12;
/// Largest window (counts are 16-bit, as in the peer).
pub const MAX_WINDOW: usize = 65535;

/// GC-content correction of the expected score `f(l)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum GcContent {
    /// Uniform base composition (the default).
    Uniform,
    /// GC content of the unambiguous bases of each sequence (0 when it has none).
    Auto,
    /// A given GC fraction in `[0, 1]`.
    Fraction(f64),
}

/// Options of [`longdust`], with the peer's defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LongdustOptions {
    /// Largest window in bases (peer: `window_size`), `kmer + 1..=65535`.
    pub window: usize,
    /// Score threshold per base (peer: `score_threshold`), finite and > 0.
    pub threshold: f64,
    /// k-mer length, `1..=12`.
    pub kmer: usize,
    /// GC correction (peer: `gc`).
    pub gc: GcContent,
    /// X-drop length (the scan stops once the score falls `threshold * xdrop` below its
    /// maximum); `None` disables it (the window bounds the scan). At least 1.
    pub xdrop: Option<u64>,
    /// Smallest count, in the window, of the newest k-mer that starts a backward scan
    /// (peer: `min_start_cnt`), `2..=65535`.
    pub min_start_count: u32,
    /// Examine only the first candidate start of each backward scan (O(L w) time).
    pub approx: bool,
    /// Scan the forward strand only.
    pub forward_only: bool,
}

impl Default for LongdustOptions {
    fn default() -> Self {
        Self {
            window: 5000,
            threshold: 0.6,
            kmer: 7,
            gc: GcContent::Uniform,
            xdrop: Some(50),
            min_start_count: 3,
            approx: false,
            forward_only: false,
        }
    }
}

impl LongdustOptions {
    /// Checks every option against its limit; the message names the value and the limit.
    pub fn validate(&self) -> Result<()> {
        if !(1..=MAX_KMER).contains(&self.kmer) {
            return Err(Error::parameter(format!(
                "kmer must be in 1..={MAX_KMER}, got {}",
                self.kmer
            )));
        }
        if self.window < self.kmer + 1 || self.window > MAX_WINDOW {
            return Err(Error::parameter(format!(
                "window must be in kmer + 1..={MAX_WINDOW} (kmer + 1 = {}), got {}",
                self.kmer + 1,
                self.window
            )));
        }
        if !(self.threshold.is_finite() && self.threshold > 0.0) {
            return Err(Error::parameter(format!(
                "threshold must be finite and greater than 0, got {}",
                self.threshold
            )));
        }
        if let GcContent::Fraction(gc) = self.gc {
            if !(0.0..=1.0).contains(&gc) {
                return Err(Error::parameter(format!(
                    "gc must be in [0, 1], 'auto' or None, got {gc}"
                )));
            }
        }
        if self.xdrop == Some(0) {
            return Err(Error::parameter(
                "xdrop must be at least 1 (None disables it), got 0",
            ));
        }
        if !(2..=MAX_WINDOW as u32).contains(&self.min_start_count) {
            return Err(Error::parameter(format!(
                "min_start_count must be in 2..={MAX_WINDOW}, got {}",
                self.min_start_count
            )));
        }
        Ok(())
    }
}

/// Base code of each byte: A/C/G/T in either case to 0..=3, any other ASCII byte to 4
/// (ambiguous, as the peer treats it), non-ASCII bytes to 0xFF (rejected).
const fn letter_codes() -> [u8; 256] {
    let mut t = [0xFFu8; 256];
    let mut b = 0;
    while b < 128 {
        t[b] = 4;
        b += 1;
    }
    let bases = *b"ACGT";
    let mut i = 0;
    while i < 4 {
        t[bases[i] as usize] = i as u8;
        t[bases[i].to_ascii_lowercase() as usize] = i as u8;
        i += 1;
    }
    t
}

static LETTER_CODE: [u8; 256] = letter_codes();

/// Letters to codes 0..=4 (see [`LETTER_CODE`]); a non-ASCII byte is an error naming its
/// position.
fn encode_letters(letters: &[u8]) -> Result<Vec<u8>> {
    let codes: Vec<u8> = letters.iter().map(|&b| LETTER_CODE[b as usize]).collect();
    if let Some(i) = codes.iter().position(|&c| c == 0xFF) {
        return Err(Error::new(
            ErrorKind::InvalidSequence { position: i as u64 },
            format!(
                "{} at position {i} is not an ASCII character; longdust takes ASCII letters \
                 (A, C, G, T in either case; any other letter is ambiguous)",
                crate::genomic::dna::describe_byte(letters[i])
            ),
        ));
    }
    Ok(codes)
}

/// Checks base codes (0..=3 a base, 4 ambiguous).
fn check_codes(codes: &[u8]) -> Result<()> {
    if let Some(i) = codes.iter().position(|&c| c > 4) {
        return Err(Error::new(
            ErrorKind::SymbolOutOfRange { index: i },
            format!(
                "base code {} at index {i} is out of range; codes are 0..=3 (A, C, G, T) \
                 and 4 (ambiguous)",
                codes[i]
            ),
        ));
    }
    Ok(())
}

/// GC fraction of the unambiguous codes (0 when there are none), as the peer's 'auto'.
pub fn gc_fraction(codes: &[u8]) -> f64 {
    let mut counts = [0u64; 5];
    for &c in codes {
        counts[(c as usize).min(4)] += 1;
    }
    let acgt = counts[0] + counts[1] + counts[2] + counts[3];
    if acgt == 0 {
        0.0
    } else {
        (counts[1] + counts[2]) as f64 / acgt as f64
    }
}

/// `f(lambda)` for large `lambda` by Stirling's series (the reference's expression,
/// operation for operation).
fn f_large(lambda: f64) -> f64 {
    use std::f64::consts::{E, PI};
    let x = 0.5 * (2.0 * PI * E * lambda).ln()
        - 1.0 / 12.0 / lambda * (1.0 + 0.5 / lambda + 19.0 / 30.0 / lambda / lambda);
    x + lambda * (lambda.ln() - 1.0)
}

/// `E[ln(n!)]` for `n ~ Poisson(lambda)`, summed in the reference's order.
fn f_small(lambda: f64) -> f64 {
    const EPS: f64 = 1e-9;
    const MAX_N: u32 = 10000;
    if lambda == 0.0 {
        // Every term is 0 (the series would run to MAX_N adding zeros); GC 0 or 1 gives
        // k-mer classes that never occur.
        return 0.0;
    }
    let (mut x, mut sn, mut y) = (0.0f64, 0.0f64, lambda);
    for n in 2..=MAX_N {
        let nf = f64::from(n);
        sn += nf.ln();
        y *= lambda / nf;
        let z = y * sn;
        if z < x * EPS {
            break;
        }
        x += z;
    }
    x * (-lambda).exp()
}

/// The expected score table `f[0..=max_l]` over k-mer classes `(count, rate)`.
fn expected_scores(kmer: usize, max_l: usize, classes: &[(f64, f64)]) -> Vec<f64> {
    let n_kmer = (1u64 << (2 * kmer)) as f64;
    let mut f = vec![0.0f64; max_l + 1];
    for (l, fl) in f.iter_mut().enumerate().skip(1) {
        for &(count, rate) in classes {
            let lambda = l as f64 / n_kmer * rate;
            let fli = if lambda < 30.0 {
                f_small(lambda)
            } else {
                f_large(lambda)
            };
            *fl += fli * count;
        }
    }
    f
}

/// Binomial coefficient (k <= 12: exact in u64).
fn binomial(n: u64, k: u64) -> u64 {
    (0..k).fold(1u64, |acc, i| acc * (n - i) / (i + 1))
}

/// Tables that depend on the options and the GC content only.
#[derive(Debug, Clone)]
struct Tables {
    /// `f[l]`, `l` in `0..=window + 1`.
    f: Vec<f64>,
    /// `ln(n)` for `n` in `0..=window` (0 for n < 2).
    ln: Vec<f64>,
    /// `ln(n) - threshold` for `n` in `0..=window` (entries above the window repeat the
    /// last one), a scan step's addition, precomputed (the same double as the
    /// reference's `c[n] - thres`).
    /// The table has [`STEPS`] entries so that a count cast to `u16` indexes it without a
    /// bounds check or a clamp (counts never exceed the window, at most 65535).
    step: Box<[f64; STEPS]>,
    /// Steps of the cheap test before a backward scan.
    max_test: usize,
    /// The X-drop in score units.
    xdrop: f64,
    /// Fixed-point copies of `step` and `f` for the certified scan ([`Quick`]); `None`
    /// when the scores are too large for them (the exact scan then runs alone).
    quick: Option<Quick>,
}

impl Tables {
    /// Tables for a GC content (`None`: uniform composition).
    fn new(options: &LongdustOptions, gc: Option<f64>) -> Self {
        let ws = options.window;
        let k = options.kmer;
        let f = if let Some(gc) = gc {
            let n_class = (1u64 << k) as f64; // k-mers per GC count: C(k, i) 2^k
            let classes: Vec<(f64, f64)> = (0..=k)
                .map(|i| {
                    let rate = (gc / 0.5).powf(i as f64) * ((1.0 - gc) / 0.5).powf((k - i) as f64);
                    (binomial(k as u64, i as u64) as f64 * n_class, rate)
                })
                .collect();
            expected_scores(k, ws + 1, &classes)
        } else {
            expected_scores(k, ws + 1, &[((1u64 << (2 * k)) as f64, 1.0)])
        };
        let mut ln = vec![0.0f64; ws + 1];
        for (n, v) in ln.iter_mut().enumerate().skip(2) {
            *v = (n as f64).ln();
        }
        let thres = options.threshold;
        let step = steps(&ln, thres);
        // The smallest i with sum_{c<=i} (ln c - T) - f(i) > 0 bounds the cheap test.
        let mut i = 1usize;
        let mut s = 0.0f64;
        while i < ws {
            s += ln[i] - thres;
            if s - f[i] > 0.0 {
                break;
            }
            i += 1;
        }
        let max_test = (i as f64 * (i as f64).ln() / thres) as i32;
        let xdrop_len = match options.xdrop {
            Some(x) => x as f64,
            None => ws as f64,
        };
        let xdrop = thres * xdrop_len;
        let quick = Quick::new(&step, &f, ws, xdrop);
        Self {
            f,
            ln,
            step,
            max_test: max_test.max(0) as usize,
            xdrop,
            quick,
        }
    }
}

/// Fixed-point tables of the certified backward scan.
///
/// The exact backward scan replays floating-point sums from the newest position
/// backwards, and every decision it takes (the `sw` stop, the X-drop, the running
/// maximum, then the forward pass's `max + 1e-6` test) compares those doubles. The
/// certified scan forms the same sums from the same terms rounded to integers of
/// `1 / scale` (integer additions: exact and associative, one cycle of latency) and
/// knows how far each of its values can be from the exact scan's double: at most `eps`
/// (see [`Quick::new`]). A decision whose two sides are farther apart than that bound
/// is the exact scan's decision; any closer one sends the position to the exact scan.
#[derive(Debug, Clone)]
struct Quick {
    /// `step[n]` in units of `1 / scale`, rounded to nearest.
    step: Box<[i64; STEPS]>,
    /// `f[l]` likewise.
    f: Vec<i64>,
    /// Bound on |fixed-point value - exact scan's double| of any score or `sw` score
    /// of a scan, in units of `1 / scale` (rounded up, plus 2).
    eps: i64,
    /// The X-drop in units of `1 / scale`, less and plus `3 eps`: a fall in between is
    /// not decided.
    xdrop_lo: i64,
    xdrop_hi: i64,
    scale: f64,
    /// `eps` in score units.
    eps_real: f64,
    /// `gwin[j]`: the largest increment `f[j' + 1] - f[j']` (fixed point) for `j'` in
    /// `j..j + BLOCK - 1`, the steepest `f` over a block whose shortest length is `j`.
    gwin: Vec<i64>,
    /// Whether the fixed-point `f` is non-decreasing (block bounds assume it; without
    /// it every block is opened).
    f_rising: bool,
}

/// Shortest previous scan after which the certified scan runs (see
/// [`Scanner::last_scan`]).
const QUICK_MIN: usize = 4 * BLOCK;
/// Scans in a row shorter than [`QUICK_MIN`] after which the certified scan stops.
const QUICK_OFF: usize = 32;

/// Positions per block of the certified scan's summaries.
const BLOCK: usize = 32;

/// Summary of the scan's terms over one block of `BLOCK` positions `[a, a + BLOCK)`,
/// from the counts at the time it was computed (see [`Scanner::summarize`]); in
/// fixed-point units. With `S(p)` the sum of the suffix-count steps `d` over `[p, a +
/// BLOCK)` and `W(p)` that of the prefix-count steps:
#[derive(Debug, Clone, Copy, Default)]
struct Summary {
    /// Block id plus one (0: none or stale).
    tag: usize,
    /// `S(a)` and `W(a)`.
    d: i64,
    w: i64,
    /// `min S`, `min W`.
    s_min: i64,
    w_min: i64,
    /// `max S` and the smallest offset reaching it.
    s_max: i64,
    arg: usize,
    /// `min (max S - S(p))` over offsets before `arg` (`i64::MAX` if none).
    gap_before: i64,
    /// `min (max S - S(p)) / (p - arg)` over offsets after `arg` (infinite if none).
    slope_after: f64,
    /// Largest rise of `S` from an offset to an earlier one, `max_{p < p'} S(p') - S(p)`.
    fall: i64,
}

impl Quick {
    /// The tables, or `None` when the fixed-point sums could come near `2^62`.
    ///
    /// The error bound: a scan sums at most `n = window` terms of magnitude at most
    /// `m = max |step[c]|` (`c <= window`). The exact scan's running sum (recursive
    /// summation in double precision, unit roundoff `u = 2^-53`) is within
    /// `gamma_n n m <= 1.01 n^2 u m` of the real sum of its terms, and its score
    /// `s - f[l]` adds one rounding, at most `u (n m + max f)`. The fixed-point sum
    /// rounds each of at most `n + 1` values (the terms and `f[l]`) by at most
    /// `1 / (2 scale)` and adds nothing else. `eps` is twice the sum of these bounds.
    fn new(step: &[f64; STEPS], f: &[f64], window: usize, xdrop: f64) -> Option<Self> {
        const U: f64 = 1.0 / 9_007_199_254_740_992.0; // 2^-53
        let n = window as f64;
        let m = step[..=window].iter().fold(0.0f64, |a, &v| a.max(v.abs()));
        let fmax = f.iter().fold(0.0f64, |a, &v| a.max(v.abs()));
        let largest = n * m + fmax + xdrop + 1.0;
        if !largest.is_finite() || largest > (1u64 << 40) as f64 {
            return None;
        }
        // The largest power of two with `largest * scale <= 2^58`, at most 2^40.
        let mut scale = (1u64 << 40) as f64;
        while largest * scale > (1u64 << 58) as f64 {
            scale *= 0.5;
        }
        let err = 1.01 * n * n * U * m + 1.01 * U * (n * m + fmax) + (n + 1.0) * 0.5 / scale;
        #[cfg(test)]
        let err = err * EPS_BOOST.load(Ordering::Relaxed) as f64;
        let eps_real = 2.0 * err;
        let eps = (eps_real * scale).ceil() as i64 + 2;
        let fixed = |v: f64| (v * scale).round() as i64;
        let qstep: Vec<i64> = step.iter().map(|&v| fixed(v)).collect();
        let step: Box<[i64; STEPS]> = qstep.into_boxed_slice().try_into().ok()?;
        let xq = fixed(xdrop);
        let f: Vec<i64> = f.iter().map(|&v| fixed(v)).collect();
        let inc: Vec<i64> = f.windows(2).map(|p| p[1] - p[0]).collect();
        let f_rising = inc.iter().all(|&d| d >= 0);
        let gwin = (0..f.len())
            .map(|j| {
                inc[j.min(inc.len())..(j + BLOCK - 1).min(inc.len())]
                    .iter()
                    .copied()
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        Some(Self {
            step,
            f,
            eps,
            xdrop_lo: xq - 3 * eps,
            xdrop_hi: xq + 3 * eps,
            scale,
            eps_real: eps as f64 / scale,
            gwin,
            f_rising,
        })
    }
}

/// The certified scan's running state: fixed-point sums of the suffix- and
/// prefix-count steps, running maximum, largest score not the maximum's latest holder,
/// best start (queue index; `usize::MAX`: none).
#[derive(Debug, Clone, Copy)]
struct QState {
    s: i64,
    sw: i64,
    max: i64,
    second: i64,
    best: usize,
}

/// What a piece of the certified scan found: carry on, a stop (`sw` or X-drop), a
/// decision within the error bound, or (blocks) a summary that decides nothing.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Flow {
    Go,
    Stop,
    Unsure,
    Open,
}

/// What the certified backward scan decided.
#[derive(Debug, Clone, Copy, PartialEq)]
enum QuickScan {
    /// No start: the exact scan's running maximum never leaves 0 (its `best` stays
    /// unset), so no LCR ends here.
    NoStart,
    /// The exact scan's best start (queue index) and its maximum within `eps_real`.
    Best { best: usize, max: f64 },
    /// Some decision was within the error bound: run the exact scan.
    Unsure,
}

/// Entries of the step table: every `u16` count.
const STEPS: usize = 1 << 16;

/// `ln[n] - thres` for each `n` of `ln`, the last entry repeated up to [`STEPS`].
fn steps(ln: &[f64], thres: f64) -> Box<[f64; STEPS]> {
    let last = ln.last().map_or(0.0 - thres, |&c| c - thres);
    let mut step = vec![last; STEPS];
    for (s, &c) in step.iter_mut().zip(ln) {
        *s = c - thres;
    }
    // The length is STEPS by construction; the fallback is never taken.
    step.into_boxed_slice()
        .try_into()
        .unwrap_or_else(|_| Box::new([last; STEPS]))
}

/// Total and before-window occurrence counts of a k-mer (global ranks of its positions
/// turn them into suffix and prefix counts; see the module notes).
#[derive(Debug, Clone, Copy, Default)]
#[repr(C)]
struct KmerCounts {
    total: u32,
    before: u32,
}

impl KmerCounts {
    #[inline(always)]
    fn window(self) -> usize {
        self.total.wrapping_sub(self.before) as usize
    }
}

/// A queue slot: k-mer code (the sentinel for ambiguous positions) and its rank.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C)]
struct Slot {
    code: u32,
    rank: u32,
}

/// A candidate start of a backward scan: queue index and the score there.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    index: usize,
    max: f64,
}

/// A forward scan from one start, kept while the start is in the window.
///
/// The forward scan from a start `a` adds the same terms in the same order whatever the
/// newest position is, so its scores `F(a, p)` for `p = a, a + 1, ...` are the same
/// doubles every time it runs. Inside and just after a repeat the backward scans of
/// consecutive positions propose the same starts again and again; instead of rescanning
/// from `a`, a run keeps its counts, running sum, running maximum and argmax per
/// position, and only the positions added since are scanned. A query (stop score,
/// newest position) is then a binary search over the non-decreasing running maximum.
#[derive(Debug, Clone)]
struct ForwardRun {
    start: usize,
    /// Counts of the k-mers of `[start, start + len)`.
    table: Vec<u16>,
    sum: f64,
    /// Running maximum of the score (from 0, as the reference's `max_sf`) after each
    /// position, and the position where it was last reached (`usize::MAX`: none yet).
    prefix_max: Vec<f64>,
    argmax: Vec<usize>,
    last_used: u64,
}

impl ForwardRun {
    fn len(&self) -> usize {
        self.prefix_max.len()
    }
}

/// The scanner of one strand, reusable across sequences with the same options.
#[derive(Debug, Clone)]
struct Scanner {
    options: LongdustOptions,
    kmer: usize,
    /// Code of ambiguous positions: `4^k`.
    sentinel: u32,
    counts: Vec<KmerCounts>,
    /// k-mers whose `counts` were touched in this sequence (to clear them cheaply).
    touched: Vec<u32>,
    /// Forward scans by start position, kept across positions (see [`ForwardRun`]).
    runs: Vec<ForwardRun>,
    /// Smallest start among `runs` (`usize::MAX` when none): a run is retired when its
    /// start leaves the window.
    runs_min_start: usize,
    /// Largest number of cached runs (each holds a `4^k` table).
    runs_cap: usize,
    /// Use counter for least-recently-used eviction.
    clock: u64,
    /// The counts of the current LCR (the reference's `ld->ht` after a success).
    lcr: Vec<u16>,
    /// Positions whose k-mers may be non-zero in `lcr`.
    lcr_lo: usize,
    lcr_hi: usize,
    /// Whether `lcr` holds exactly the counts of `[max(lcr_lo, front), lcr_hi]` (see
    /// [`Scanner::adopt_lcr`]); false after an extension that moved the trimming point.
    lcr_exact: bool,
    /// Ring of `2 * cap` slots, each position written twice so that any window is one
    /// contiguous slice.
    ring: Vec<Slot>,
    cap: usize,
    /// Candidate starts of the current backward scan: a buffer of `window + 1` slots
    /// (at most one per scanned position plus the best start), written by index so
    /// that the scan loop makes no call (a call would spill its sums to memory).
    candidates: Vec<Candidate>,
    intervals: Vec<(i64, i64)>,
    /// Run the certified scan before the exact one (tests turn it off to compare).
    use_quick: bool,
    /// Previous occurrence of each position's k-mer (position + 1; 0: none), by ring
    /// slot, and each k-mer's last occurrence (position + 1): the copies of a k-mer in
    /// the window, newest first, for marking the blocks whose summaries it changes.
    prev: Vec<usize>,
    last: Vec<usize>,
    /// Block summaries of the certified scan, by block id modulo their number.
    blocks: Vec<Summary>,
    /// The first position and the window front not yet taken into the summaries'
    /// marks (valid while `synced`).
    sync_i: usize,
    sync_front: usize,
    synced: bool,
    /// Length of the last backward scan (steps; for an exact scan, the distance to
    /// its best start, 0 without one): the certified scan runs only after one of at
    /// least [`QUICK_MIN`] steps. Short scans (most of them on a genome poor in
    /// repeats) cost less exact than with the summaries' bookkeeping.
    last_scan: usize,
    /// Scans in a row shorter than [`QUICK_MIN`].
    short_scans: usize,
    /// Whether `prev` and `last` are kept (see [`Scanner::set_links`]).
    links: bool,
}

impl Scanner {
    fn new(options: &LongdustOptions) -> Self {
        let k = options.kmer;
        let n_kmer = 1usize << (2 * k);
        let cap = options.window.next_power_of_two();
        let mut counts = vec![KmerCounts::default(); n_kmer + 1];
        counts[n_kmer] = KmerCounts {
            total: u32::MAX,
            before: 0,
        };
        Self {
            options: *options,
            kmer: k,
            sentinel: n_kmer as u32,
            counts,
            touched: Vec::new(),
            runs: Vec::new(),
            runs_min_start: usize::MAX,
            // About 64 MiB of tables at most, at least 2 and at most 16 runs.
            runs_cap: ((64usize << 20) / (2 * n_kmer)).clamp(2, 16),
            clock: 0,
            lcr: vec![0; n_kmer],
            lcr_lo: 1,
            lcr_hi: 0,
            lcr_exact: true,
            ring: vec![Slot::default(); 2 * cap],
            cap,
            candidates: vec![Candidate { index: 0, max: 0.0 }; options.window + 2],
            intervals: Vec::new(),
            use_quick: true,
            prev: vec![0; cap],
            last: vec![0; n_kmer + 1],
            blocks: vec![Summary::default(); (cap / BLOCK).max(1)],
            sync_i: 0,
            sync_front: 0,
            synced: false,
            last_scan: 0,
            short_scans: 0,
            links: false,
        }
    }

    /// The window's slots, `[front, front + size)`, as one slice.
    #[inline(always)]
    fn window(&self, front: usize, size: usize) -> &[Slot] {
        let at = front & (self.cap - 1);
        &self.ring[at..at + size]
    }

    #[inline(always)]
    fn slot(&self, position: usize) -> Slot {
        self.ring[position & (self.cap - 1)]
    }

    /// Clears the LCR counts over the positions that may have touched them.
    fn clear_lcr(&mut self, front: usize) {
        let lo = self.lcr_lo.max(front);
        for p in lo..=self.lcr_hi {
            let code = self.slot(p).code;
            if code != self.sentinel {
                self.lcr[code as usize] = 0;
            }
        }
        self.lcr_lo = 1;
        self.lcr_hi = 0;
        self.lcr_exact = true;
    }

    /// Makes `lcr` the counts of `[start, i]`, the LCR just found (run `r` holds them).
    ///
    /// `lcr` is, while `lcr_exact`, the counts of `[lo, lcr_hi]` with
    /// `lo = max(lcr_lo, front)`: a success sets it to a run's counts, an extension
    /// appends the newest position (`lcr_hi` was `i - 1`), and while `last_q == 0` the
    /// window's front leaves it one position at a time (`lo` is then the front). Inside
    /// a long LCR consecutive successes share most of their range, so the new counts
    /// are the old ones minus `[lo, start)` plus `(lcr_hi, i]`: the same integers as a
    /// clear and a copy of the run's table, in time proportional to the change instead
    /// of the LCR's length. An extension made while `last_q > 0` resets `last_q` to 0
    /// with `lcr_lo` ahead of the front: the front's positions are then taken off
    /// counts they were never added to (floored at 0, as the reference does), the table
    /// is no longer a range's counts, and the next success clears and copies.
    fn adopt_lcr(&mut self, r: usize, front: usize, start: usize, i: usize) {
        let lo = self.lcr_lo.max(front);
        let hi = self.lcr_hi;
        debug_assert!(self.runs[r].start == start && self.runs[r].len() == i + 1 - start);
        if !(self.lcr_exact && lo <= hi && lo <= start && start <= hi + 1) {
            #[cfg(test)]
            ADOPT_PATHS[usize::from(!self.lcr_exact)].fetch_add(1, Ordering::Relaxed);
            self.copy_lcr(r, front, start, i);
            return;
        }
        #[cfg(test)]
        let old = (lo, hi);
        debug_assert!(hi < i);
        let mask = self.cap - 1;
        for p in lo..start {
            let code = self.ring[p & mask].code;
            if code != self.sentinel {
                self.lcr[code as usize] -= 1;
            }
        }
        for p in hi + 1..=i {
            let code = self.ring[p & mask].code;
            if code != self.sentinel {
                self.lcr[code as usize] += 1;
            }
        }
        self.lcr_lo = start;
        self.lcr_hi = i;
        #[cfg(test)]
        {
            // The run's table is the clear-and-copy result: every entry that either
            // range can have touched must equal it.
            ADOPT_PATHS[2].fetch_add(1, Ordering::Relaxed);
            let run = &self.runs[r];
            for p in (old.0..=old.1).chain(start..=i) {
                let code = self.ring[p & mask].code as usize;
                if code != self.sentinel as usize {
                    assert_eq!(self.lcr[code], run.table[code], "LCR counts at {p}");
                }
            }
        }
    }

    /// [`Scanner::adopt_lcr`] by clearing the old counts and copying run `r`'s.
    fn copy_lcr(&mut self, r: usize, front: usize, start: usize, i: usize) {
        self.clear_lcr(front);
        let mask = self.cap - 1;
        let run = &self.runs[r];
        for p in start..=i {
            let code = self.ring[p & mask].code;
            if code != self.sentinel {
                self.lcr[code as usize] = run.table[code as usize];
            }
        }
        self.lcr_lo = start;
        self.lcr_hi = i;
        self.lcr_exact = true;
    }

    /// LCR intervals of one strand of base codes (0..=3, 4 ambiguous).
    ///
    /// The per-position loop runs on local borrows of the tables (`self`'s fields would
    /// be reloaded on every position, the compiler not knowing that the stores into
    /// the tables leave them alone) and leaves it for the rare events that need the
    /// whole scanner: runs to retire, and a newest k-mer frequent enough for the
    /// extension or a backward scan. Those run between two entries of the loop; the
    /// sums, counts and tables are the same as with one loop.
    fn scan(&mut self, codes: &[u8], tables: &Tables) -> Vec<(i64, i64)> {
        let len = codes.len();
        let ws = self.options.window;
        let k = self.kmer;
        let mask = (1u32 << (2 * k)) - 1;
        let thres = self.options.threshold;
        let min_start = self.options.min_start_count as usize;
        let sentinel = self.sentinel;
        let cap = self.cap;
        let (mut x, mut run) = (0u32, 0usize);
        let (mut st, mut en, mut last_q) = (-1i64, -1i64, -1i64);
        let mut sum = 0.0f64; // sum of ln(n!) over the window's k-mers (it drifts as the reference's)
        let (mut front, mut size) = (0usize, 0usize);
        self.intervals.clear();
        self.synced = false;
        self.last_scan = 0;
        self.links = false;
        let mut i = 0usize;
        loop {
            // What stopped the loop over positions: the end, runs to retire at the front
            // (before position `i` changes anything), or position `i`, whose k-mer's
            // count in the window is at least `min_start`, to examine.
            enum Event {
                End,
                Retire,
                Examine,
            }
            let event;
            {
                let runs_min_start = self.runs_min_start;
                let counts = &mut self.counts[..];
                let lcr = &mut self.lcr[..];
                let touched = &mut self.touched;
                let (ring_lo, ring_hi) = self.ring.split_at_mut(cap);
                let prev = &mut self.prev[..];
                let last = &mut self.last[..];
                let links = self.links;
                let ln = &tables.ln[..];
                loop {
                    if i > len {
                        event = Event::End;
                        break;
                    }
                    if size >= ws && runs_min_start == front {
                        event = Event::Retire;
                        break;
                    }
                    let b = codes.get(i).copied().unwrap_or(4);
                    let ambiguous;
                    if b < 4 {
                        x = ((x << 2) | u32::from(b)) & mask;
                        run += 1;
                        ambiguous = run < k;
                    } else {
                        run = 0;
                        ambiguous = true;
                    }
                    if size >= ws {
                        let y = ring_lo[front & (cap - 1)].code;
                        if y != sentinel {
                            let c = &mut counts[y as usize];
                            sum -= ln[c.window()];
                            c.before = c.before.wrapping_add(1);
                        }
                        if last_q == 0 {
                            if y != sentinel && lcr[y as usize] > 0 {
                                lcr[y as usize] -= 1;
                            }
                        } else {
                            last_q -= 1;
                        }
                        front += 1;
                        size -= 1;
                    }
                    let (slot, in_window) = if ambiguous {
                        let slot = Slot {
                            code: sentinel,
                            rank: 0,
                        };
                        (slot, 0)
                    } else {
                        let c = &mut counts[x as usize];
                        let fresh = c.total == 0 && c.before == 0;
                        let rank = c.total.wrapping_add(1);
                        c.total = rank;
                        let in_window = rank.wrapping_sub(c.before) as usize;
                        if fresh {
                            touch(touched, x);
                        }
                        (Slot { code: x, rank }, in_window)
                    };
                    let at = i & (cap - 1);
                    ring_lo[at] = slot;
                    ring_hi[at] = slot;
                    if links {
                        prev[at] = if ambiguous {
                            0
                        } else {
                            std::mem::replace(&mut last[x as usize], i + 1)
                        };
                    }
                    size += 1;
                    if ambiguous {
                        i += 1;
                        continue;
                    }
                    sum += ln[in_window];
                    if in_window >= min_start {
                        event = Event::Examine;
                        break;
                    }
                    i += 1;
                }
            }
            match event {
                Event::End => break,
                Event::Retire => {
                    self.retire_runs(front);
                    continue;
                }
                Event::Examine => {}
            }
            let mut j: Option<usize> = None;
            let full = sum - tables.f[size] - size as f64 * thres;
            if i as i64 == en && (last_q == 0 || i as i64 - st >= size as i64) && full > 0.0 {
                j = self.extend(tables, x, size, i);
                if j.is_some() && last_q != 0 {
                    self.lcr_exact = false;
                }
            }
            if j.is_none() && self.worth_backward(tables, front, size) {
                j = self.backward(tables, front, size, i);
            }
            if let Some(j) = j {
                let st2 = i as i64 - (size - 1 - j) as i64 - (k as i64 - 1);
                if st2 < en {
                    if st < 0 || st2 < st {
                        st = st2;
                    }
                } else {
                    if st >= 0 {
                        save_interval(&mut self.intervals, st, en);
                    }
                    st = st2;
                }
                en = i as i64 + 1;
                last_q = j as i64;
            }
            i += 1;
        }
        if st >= 0 {
            save_interval(&mut self.intervals, st, en);
        }
        // Leave the tables clean for the next sequence.
        self.clear_lcr(front);
        self.clear_runs(front);
        for &t in &self.touched {
            self.counts[t as usize] = KmerCounts::default();
            self.last[t as usize] = 0;
        }
        self.touched.clear();
        self.synced = false;
        std::mem::take(&mut self.intervals)
    }

    /// Appends position `i` to an LCR that covers the window when that raises the score.
    #[inline]
    fn extend(&mut self, tables: &Tables, x: u32, size: usize, i: usize) -> Option<usize> {
        let l = size - 1;
        let n = self.lcr[x as usize] as usize + 1;
        let diff = tables.ln[n.min(self.options.window)] - (tables.f[l + 1] - tables.f[l]);
        if diff < self.options.threshold {
            return None;
        }
        self.lcr[x as usize] += 1;
        self.lcr_hi = i;
        Some(0)
    }

    /// The reference's cheap test: the newest `max_test` positions, scored with their
    /// window counts, never fall below zero.
    #[inline]
    fn worth_backward(&self, tables: &Tables, front: usize, size: usize) -> bool {
        let steps = tables.max_test.min(size);
        let window = self.window(front, size);
        let mut s = 0.0f64;
        for slot in window[size - steps..].iter().rev() {
            let n = if slot.code == self.sentinel {
                0
            } else {
                self.counts[slot.code as usize].window()
            };
            s += tables.step[n];
            if s < 0.0 {
                return false;
            }
        }
        true
    }

    /// Backward scan from the newest position, then forward confirmation of the
    /// candidate starts; the queue index of the LCR's start, if one ends here.
    ///
    /// The certified scan ([`Scanner::quick_scan`]) runs first. When it decides the
    /// best start (or that there is none), the exact scan is not run: the first forward
    /// pass, always from the best start with the scan's maximum, is run with the stop
    /// score's lowest and highest possible values, and its result stands when both
    /// agree. When that pass ends the LCR, that is all the exact code would have done;
    /// when it stops at `k`, only candidates at `k` or later are ever examined, and they
    /// and their maxima come from the first steps of the scan alone, so the exact scan
    /// runs over `[k - 1, e]` only (`[best, e]` if `k` is the best start). Anything
    /// not decided falls back to the whole exact scan.
    fn backward(&mut self, tables: &Tables, front: usize, size: usize, i: usize) -> Option<usize> {
        // On after a scan of at least QUICK_MIN steps, off after QUICK_OFF shorter ones
        // in a row (switching rebuilds the links).
        if self.last_scan >= QUICK_MIN {
            self.short_scans = 0;
        } else {
            self.short_scans += 1;
        }
        let on = if self.links {
            self.short_scans < QUICK_OFF
        } else {
            self.last_scan >= QUICK_MIN
        };
        let quick = tables.quick.as_ref().filter(|_| self.use_quick && on);
        if quick.is_some() != self.links {
            self.set_links(quick.is_some(), front, i);
        }
        if let Some(q) = quick {
            let outcome = self.quick_scan(q, front, size, i);
            #[cfg(test)]
            self.check_quick(tables, q, front, size, outcome);
            match outcome {
                QuickScan::NoStart => {
                    #[cfg(test)]
                    QUICK_PATHS[0].fetch_add(1, Ordering::Relaxed);
                    return None;
                }
                QuickScan::Best { best, max } => {
                    let lo = max + 1e-6 - 4.0 * q.eps_real;
                    let hi = max + 1e-6 + 4.0 * q.eps_real;
                    let (k_lo, _) = self.forward(tables, front, size, best, lo);
                    let (k, r) = self.forward(tables, front, size, best, hi);
                    if k == k_lo && k >= 0 {
                        if k == size as i64 - 1 {
                            #[cfg(test)]
                            QUICK_PATHS[1].fetch_add(1, Ordering::Relaxed);
                            self.adopt_lcr(r, front, front + best, i);
                            return Some(best);
                        }
                        #[cfg(test)]
                        QUICK_PATHS[2].fetch_add(1, Ordering::Relaxed);
                        if self.options.approx {
                            return None;
                        }
                        let k = k as usize;
                        let (_, _, n_cand, _) =
                            self.exact_scan(tables, front, size, (k.max(1) - 1).max(best));
                        return self.confirm(tables, front, size, i, n_cand, k as i64);
                    }
                }
                QuickScan::Unsure => {}
            }
            #[cfg(test)]
            QUICK_PATHS[3].fetch_add(1, Ordering::Relaxed);
        }
        let (best, max_sb, mut n_cand, stop) = self.exact_scan(tables, front, size, 0);
        self.last_scan = size - stop;
        let max_i = (best != usize::MAX).then_some(best);
        let max_i = max_i?;
        if n_cand == 0 || max_i < self.candidates[n_cand - 1].index {
            self.candidates[n_cand] = Candidate {
                index: max_i,
                max: max_sb,
            };
            n_cand += 1;
        }
        self.confirm(tables, front, size, i, n_cand, -1)
    }

    /// Forward passes from the first `n_cand` candidates, last first, skipping those
    /// before the farthest end a failed pass reached (`max_end`, -1 at first); the
    /// start of the LCR that ends here, if one does.
    fn confirm(
        &mut self,
        tables: &Tables,
        front: usize,
        size: usize,
        i: usize,
        n_cand: usize,
        mut max_end: i64,
    ) -> Option<usize> {
        for n in (0..n_cand).rev() {
            let cand = self.candidates[n];
            if (cand.index as i64) < max_end {
                continue;
            }
            let (k, r) = self.forward(tables, front, size, cand.index, cand.max + 1e-6);
            if k == size as i64 - 1 {
                // The run from this start holds the counts of [start, e]: they become
                // the LCR's counts (read by the extension, decremented as the window
                // moves on).
                self.adopt_lcr(r, front, front + cand.index, i);
                return Some(cand.index);
            }
            if self.options.approx {
                break;
            }
            max_end = max_end.max(k);
        }
        None
    }

    /// The certified backward scan (see [`Quick`]): the exact scan's loop on
    /// fixed-point sums, each decision taken only when the error bound decides it;
    /// whole blocks of positions are taken from their summaries when the summaries'
    /// bounds decide every step inside (see [`Scanner::block_step`]).
    fn quick_scan(&mut self, q: &Quick, front: usize, size: usize, i: usize) -> QuickScan {
        let blocks = q.f_rising && self.blocks.len() >= 4;
        if blocks {
            self.sync_blocks(front, i);
        }
        let mut st = QState {
            s: 0,
            sw: 0,
            max: i64::MIN / 4,
            second: i64::MIN / 4,
            best: usize::MAX,
        };
        let mut hi = size; // queue indices below `hi` remain
        while hi > 0 {
            let pos = front + hi - 1;
            let a_abs = pos - pos % BLOCK;
            let lo = a_abs.max(front) - front;
            // A whole block, not the newest position's.
            if blocks && a_abs >= front && pos + 1 < front + size && pos % BLOCK == BLOCK - 1 {
                match self.block_step(q, &mut st, front, size, a_abs) {
                    Flow::Go => {
                        hi = lo;
                        continue;
                    }
                    Flow::Stop => break,
                    Flow::Unsure => {
                        self.last_scan = size;
                        return QuickScan::Unsure;
                    }
                    Flow::Open => {}
                }
            }
            match self.elements(q, &mut st, front, size, lo, hi) {
                Flow::Go | Flow::Open => hi = lo,
                Flow::Stop => break,
                Flow::Unsure => {
                    self.last_scan = size;
                    return QuickScan::Unsure;
                }
            }
        }
        self.last_scan = size - hi;
        let eps = q.eps;
        if st.max < -eps {
            return QuickScan::NoStart;
        }
        if st.max < eps || st.second >= st.max - 2 * eps {
            return QuickScan::Unsure;
        }
        QuickScan::Best {
            best: st.best,
            max: st.max as f64 / q.scale,
        }
    }

    /// The certified scan's steps over queue indices `lo..hi`, newest first.
    #[inline(never)]
    fn elements(
        &self,
        q: &Quick,
        st: &mut QState,
        front: usize,
        size: usize,
        lo: usize,
        hi: usize,
    ) -> Flow {
        let at = front & (self.cap - 1);
        let window = &self.ring[at..at + size];
        let counts = &self.counts[..];
        let step: &[i64; STEPS] = &q.step;
        let f = &q.f[..=size];
        let eps = q.eps;
        let QState {
            mut s,
            mut sw,
            mut max,
            mut second,
            mut best,
        } = *st;
        let mut flow = Flow::Go;
        for idx in (lo..hi).rev() {
            let slot = window[idx];
            let c = counts[slot.code as usize];
            let suffix = c.total.wrapping_sub(slot.rank).wrapping_add(1);
            let prefix = slot.rank.wrapping_sub(c.before);
            s += step[usize::from(suffix as u16)];
            sw += step[usize::from(prefix as u16)];
            let fl = f[size - idx];
            let vw = sw - fl;
            if vw < eps {
                // The exact scan's `sw - fl < 0` stop, or not decided.
                flow = if vw < -eps { Flow::Stop } else { Flow::Unsure };
                break;
            }
            let v = s - fl;
            let fall = max - v;
            if fall > q.xdrop_lo {
                // The exact scan's X-drop needs a start (a score >= 0 so far) and the
                // fall above the X-drop.
                if max >= eps && fall > q.xdrop_hi {
                    flow = Flow::Stop;
                    break;
                }
                if max >= -eps {
                    flow = Flow::Unsure;
                    break;
                }
            }
            second = second.max(v.min(max));
            best = if v >= max { idx } else { best };
            max = max.max(v);
        }
        *st = QState {
            s,
            sw,
            max,
            second,
            best,
        };
        flow
    }

    /// One whole block `[a_abs, a_abs + BLOCK)` (inside the window, before the newest
    /// position) from its summary: `Go` when the bounds decide every step inside (no
    /// `sw` stop, no X-drop, and either no score within `2 eps` of the running maximum
    /// or one clear new maximum at a known offset), `Open` otherwise.
    ///
    /// With `s` the sum of the steps after the block, the score at queue index `p` of
    /// the block is `s + S(p) - f(size - p)`, `f` non-decreasing: it lies between
    /// `s + min S - f_hi` and `s + max S - f_lo` (`f_lo`, `f_hi`: `f` at the block's
    /// newest and oldest positions); scores before the maximum's offset are at least
    /// `gap_before` below it, scores after it at least `slope_after - gwin` per
    /// position; a fall within the block is at most `fall + f_hi - f_lo`.
    #[inline(never)]
    fn block_step(
        &mut self,
        q: &Quick,
        st: &mut QState,
        front: usize,
        size: usize,
        a_abs: usize,
    ) -> Flow {
        let sm = self.summary(q, a_abs);
        let eps = q.eps;
        let a = a_abs - front;
        let z = a + BLOCK - 1;
        let f_hi = q.f[size - a];
        let f_lo = q.f[size - z];
        if st.sw + sm.w_min - f_hi < eps {
            return Flow::Open;
        }
        let lb_min = st.s + sm.s_min - f_hi;
        let ub = st.s + sm.s_max - f_lo;
        #[cfg(test)]
        let skip = |n: usize| BLOCK_PATHS[n].fetch_add(1, Ordering::Relaxed);
        if ub < st.max - 2 * eps {
            if st.max >= -eps && st.max - lb_min >= q.xdrop_lo {
                return Flow::Open;
            }
            st.second = st.second.max(ub);
            st.s += sm.d;
            st.sw += sm.w;
            #[cfg(test)]
            skip(0);
            return Flow::Go;
        }
        let p = a + sm.arg;
        let top = st.s + sm.s_max - q.f[size - p];
        let steep = q.gwin[size - z] as f64;
        if sm.gap_before > 2 * eps
            && sm.slope_after - steep > (2 * eps + 1) as f64
            && top > st.max + 2 * eps
            && sm.fall + (f_hi - f_lo) < q.xdrop_lo
            && st.max - lb_min < q.xdrop_lo
        {
            st.second = st.second.max(st.max);
            st.max = top;
            st.best = p;
            st.s += sm.d;
            st.sw += sm.w;
            #[cfg(test)]
            skip(1);
            return Flow::Go;
        }
        Flow::Open
    }

    /// The summary of the block at `a_abs`, computed from the counts if stale.
    #[inline(never)]
    fn summary(&mut self, q: &Quick, a_abs: usize) -> Summary {
        let nb = self.blocks.len();
        let slot = (a_abs / BLOCK) % nb;
        let tag = a_abs / BLOCK + 1;
        if self.blocks[slot].tag == tag {
            return self.blocks[slot];
        }
        let mask = self.cap - 1;
        let step: &[i64; STEPS] = &q.step;
        let mut sums = [0i64; BLOCK];
        let (mut s, mut w) = (0i64, 0i64);
        let (mut s_min, mut w_min, mut s_max) = (i64::MAX, i64::MAX, i64::MIN);
        let mut arg = 0usize;
        let mut fall = 0i64;
        let mut top = i64::MIN; // largest S after the current offset
        for j in (0..BLOCK).rev() {
            let slot = self.ring[(a_abs + j) & mask];
            let c = self.counts[slot.code as usize];
            let suffix = c.total.wrapping_sub(slot.rank).wrapping_add(1);
            let prefix = slot.rank.wrapping_sub(c.before);
            s += step[usize::from(suffix as u16)];
            w += step[usize::from(prefix as u16)];
            sums[j] = s;
            if top != i64::MIN {
                fall = fall.max(top - s);
            }
            top = top.max(s);
            s_min = s_min.min(s);
            w_min = w_min.min(w);
            if s >= s_max {
                s_max = s;
                arg = j;
            }
        }
        let gap_before = sums[..arg]
            .iter()
            .map(|&v| s_max - v)
            .min()
            .unwrap_or(i64::MAX);
        let slope_after = sums[arg + 1..]
            .iter()
            .enumerate()
            .map(|(n, &v)| (s_max - v) as f64 / (n + 1) as f64)
            .fold(f64::INFINITY, f64::min);
        let sm = Summary {
            tag,
            d: s,
            w,
            s_min,
            w_min,
            s_max,
            arg,
            gap_before,
            slope_after,
            fall,
        };
        self.blocks[slot] = sm;
        sm
    }

    /// Starts or stops keeping the occurrence links (the per-position loop keeps them
    /// only while certified scans run). Started, they are rebuilt over the window
    /// `[front, i]` (every k-mer of the window first unlinked, so that no link from an
    /// earlier stretch survives); either way every summary is dropped.
    fn set_links(&mut self, on: bool, front: usize, i: usize) {
        self.links = on;
        self.synced = false;
        if !on {
            return;
        }
        let mask = self.cap - 1;
        for p in front..=i {
            let code = self.ring[p & mask].code;
            if code != self.sentinel {
                self.last[code as usize] = 0;
            }
        }
        for p in front..=i {
            let code = self.ring[p & mask].code;
            self.prev[p & mask] = if code == self.sentinel {
                0
            } else {
                std::mem::replace(&mut self.last[code as usize], p + 1)
            };
        }
    }

    /// Marks stale the summaries of every block whose terms changed since the last
    /// certified scan: a k-mer that entered the window (position `p` in
    /// `sync_i..=i`) changes the suffix counts of its earlier copies, one that left
    /// (`sync_front..front`) the prefix counts of its copies still in the window. After
    /// a long gap (or at a sequence's start) every summary is dropped.
    #[inline(never)]
    fn sync_blocks(&mut self, front: usize, i: usize) {
        let mask = self.cap - 1;
        let nb = self.blocks.len();
        let far = !self.synced || i + 1 - self.sync_i > 256 || i >= self.sync_front + self.cap;
        if far {
            for b in &mut self.blocks {
                b.tag = 0;
            }
        } else {
            let sentinel = self.sentinel;
            let blocks = &mut self.blocks;
            let mut mark = |p: usize| blocks[(p / BLOCK) % nb].tag = 0;
            // Links only go back (`c - 1 < p`), so the walks end.
            for p in self.sync_i..=i {
                mark(p);
                if p < front {
                    continue;
                }
                let (mut c, mut p) = (self.prev[p & mask], p);
                while c > front && c - 1 < p {
                    p = c - 1;
                    mark(p);
                    c = self.prev[p & mask];
                }
            }
            for p in self.sync_front..front {
                let code = self.ring[p & mask].code;
                if code == sentinel {
                    continue;
                }
                let (mut c, mut p) = (self.last[code as usize], i + 1);
                while c > front && c - 1 < p {
                    p = c - 1;
                    mark(p);
                    c = self.prev[p & mask];
                }
            }
        }
        self.sync_i = i + 1;
        self.sync_front = front;
        self.synced = true;
    }

    /// Test builds: a decided certified scan must agree with the exact one (the same
    /// best start, the maximum within the bound).
    #[cfg(test)]
    fn check_quick(
        &mut self,
        tables: &Tables,
        q: &Quick,
        front: usize,
        size: usize,
        outcome: QuickScan,
    ) {
        let (best, max_sb, _, _) = self.exact_scan(tables, front, size, 0);
        match outcome {
            QuickScan::NoStart => assert_eq!(best, usize::MAX, "certified: no start"),
            QuickScan::Best { best: b, max } => {
                assert_eq!(best, b, "certified best start");
                assert!(
                    (max - max_sb).abs() <= q.eps_real,
                    "{max} {max_sb} {}",
                    q.eps_real
                );
            }
            QuickScan::Unsure => {}
        }
    }

    /// The exact backward scan from the newest position down to queue index `last`
    /// (0: the whole window, unless a stop comes first): the best start (`usize::MAX`
    /// if none), the running maximum, and the number of candidates written to
    /// `self.candidates`. Never inlined: inside the per-position loop its scan loop is
    /// compiled with less registers (spills, a branch on the scores' order again), 10%
    /// more instructions.
    #[inline(never)]
    fn exact_scan(
        &mut self,
        tables: &Tables,
        front: usize,
        size: usize,
        last: usize,
    ) -> (usize, f64, usize, usize) {
        let ws = self.options.window;
        let (mut s, mut sw) = (0.0f64, 0.0f64);
        let (mut max_sb, mut last_sl) = (0.0f64, -1.0f64);
        let mut last_max = false;
        // Queue index of the best start so far (`usize::MAX`: none yet).
        let mut best = usize::MAX;
        let mut n_cand = 0usize;
        // Queue index of the step that stopped the scan (`last` if none did).
        let mut stop = last.min(size);
        let candidates = &mut self.candidates[..];
        let at = front & (self.cap - 1);
        let window = &self.ring[at..at + size];
        let counts = &self.counts[..];
        let step: &[f64; STEPS] = &tables.step;
        let f = &tables.f[..=size];
        let xdrop = tables.xdrop;
        for (l, idx) in (last.min(size)..size).rev().enumerate() {
            let fl = f[l + 1];
            let slot = window[idx];
            let c = counts[slot.code as usize];
            // Count of this k-mer in [p, e] and in [window start, p] (0 and 0 for the
            // ambiguous sentinel). Both are at most the window's count of the k-mer,
            // so at most `ws`.
            let suffix = c.total.wrapping_sub(slot.rank).wrapping_add(1);
            let prefix = slot.rank.wrapping_sub(c.before);
            debug_assert!(suffix as usize <= ws && prefix as usize <= ws);
            // Cast to `u16` (exact: both are at most `ws` <= 65535), so the reads
            // are in bounds of the 2^16-entry table without a check or a clamp (and
            // without `unsafe`).
            let (a, w) = (
                step[usize::from(suffix as u16)],
                step[usize::from(prefix as u16)],
            );
            s += a;
            let sl = s - fl;
            sw += w;
            if sw - fl < 0.0 {
                stop = idx;
                break; // the forward pass could not reach the newest position
            }
            // `last_max`: the previous step set the maximum (the reference's
            // `last_sl == max_sb`: a step that does not set it leaves it above `sl`).
            if sl < last_sl && last_sl > 0.0 && last_max {
                candidates[n_cand] = Candidate {
                    index: idx + 1,
                    max: max_sb,
                };
                n_cand += 1;
            }
            // (`max_sb - sl > xdrop > 0` implies `sl < max_sb`: no test of the order.)
            if best != usize::MAX && max_sb - sl > xdrop {
                stop = idx;
                break;
            }
            let ge = sl >= max_sb;
            // The reference's `if sl >= max_sb { max_sb = sl; best = idx }` without a
            // branch on the scores' order (it follows the repeat's period and
            // mispredicts): a conditional move for `best`, and for `max_sb` the form
            // `a > b ? a : b` (one `maxsd`, latency 1, equal values give `sl` as the
            // reference's `>=` does, signed zeros included).
            best = if ge { idx } else { best };
            max_sb = if max_sb > sl { max_sb } else { sl };
            last_max = ge;
            last_sl = sl;
        }
        (best, max_sb, n_cand, stop)
    }

    /// Forward scan from queue index `i0` to the newest position: the queue index of
    /// the best end (-1 if no score reaches 0), or of the first position whose score
    /// exceeds `stop` (the reference's `max_back + 1e-6`), as the reference's forward
    /// pass returns; computed
    /// from the cached run of this start, extended to the newest position as needed.
    /// Also returns the run's index in `runs`.
    fn forward(
        &mut self,
        tables: &Tables,
        front: usize,
        size: usize,
        i0: usize,
        stop: f64,
    ) -> (i64, usize) {
        let start = front + i0;
        let newest = front + size - 1;
        let r = self.run_for(start, front);
        self.clock += 1;
        let mask = self.cap - 1;
        let sentinel = self.sentinel;
        let thres = self.options.threshold;
        let (ring, runs) = (&self.ring, &mut self.runs);
        let run = &mut runs[r];
        run.last_used = self.clock;
        // Positions already scanned: the first whose score exceeds `stop`, if any.
        let done = run.len();
        let first = run.prefix_max.partition_point(|&m| m <= stop);
        if first < done {
            return ((start + first - front) as i64, r);
        }
        let step: &[f64; STEPS] = &tables.step;
        let f = &tables.f;
        let (mut s, mut max_sf) = (run.sum, run.prefix_max.last().copied().unwrap_or(0.0));
        let mut arg = run.argmax.last().copied().unwrap_or(usize::MAX);
        let mut result = None;
        for p in start + done..=newest {
            let code = ring[p & mask].code;
            if code == sentinel {
                s += 0.0 - thres;
            } else {
                let n = &mut run.table[code as usize];
                *n += 1;
                s += step[usize::from(*n)];
            }
            let sl = s - f[p - start + 1];
            if sl >= max_sf {
                max_sf = sl;
                arg = p;
            }
            run.prefix_max.push(max_sf);
            run.argmax.push(arg);
            if sl > stop {
                result = Some(p);
                break;
            }
        }
        run.sum = s;
        let k = match result {
            Some(p) => p,
            None if arg == usize::MAX => return (-1, r),
            None => arg,
        };
        ((k - front) as i64, r)
    }

    /// Index in `runs` of the run from `start` (a new, empty one if none: the least
    /// recently used run is evicted when the cache is full).
    fn run_for(&mut self, start: usize, front: usize) -> usize {
        if let Some(r) = self.runs.iter().position(|r| r.start == start) {
            return r;
        }
        let n_kmer = self.lcr.len();
        let r = if self.runs.len() < self.runs_cap {
            self.runs.push(ForwardRun {
                start,
                table: vec![0; n_kmer],
                sum: 0.0,
                prefix_max: Vec::new(),
                argmax: Vec::new(),
                last_used: 0,
            });
            self.runs.len() - 1
        } else {
            let r = (0..self.runs.len())
                .min_by_key(|&r| self.runs[r].last_used)
                .unwrap_or(0);
            self.clear_run(r, front);
            r
        };
        let run = &mut self.runs[r];
        run.start = start;
        run.sum = 0.0;
        run.prefix_max.clear();
        run.argmax.clear();
        self.runs_min_start = self
            .runs
            .iter()
            .map(|r| r.start)
            .min()
            .unwrap_or(usize::MAX);
        r
    }

    /// Zeroes run `r`'s counts (its positions are all in the window: a run is retired
    /// before its start leaves).
    fn clear_run(&mut self, r: usize, front: usize) {
        let run = &mut self.runs[r];
        debug_assert!(run.start >= front);
        for p in run.start..run.start + run.prefix_max.len() {
            let code = self.ring[p & (self.cap - 1)].code;
            if code != self.sentinel {
                run.table[code as usize] = 0;
            }
        }
        run.prefix_max.clear();
        run.argmax.clear();
    }

    /// Retires the runs that start at `position` (about to leave the window).
    #[cold]
    #[inline(never)]
    fn retire_runs(&mut self, position: usize) {
        while let Some(r) = self.runs.iter().position(|r| r.start == position) {
            self.clear_run(r, position);
            self.runs.swap_remove(r);
        }
        self.runs_min_start = self
            .runs
            .iter()
            .map(|r| r.start)
            .min()
            .unwrap_or(usize::MAX);
    }

    /// Zeroes every run (end of a sequence).
    fn clear_runs(&mut self, front: usize) {
        for r in 0..self.runs.len() {
            self.clear_run(r, front);
        }
        self.runs.clear();
        self.runs_min_start = usize::MAX;
    }
}

/// Notes a k-mer's first occurrence in a sequence (its counts are cleared at the end).
/// Out of line: a call in the per-position loop's common path would keep the window sum
/// in memory.
#[cold]
#[inline(never)]
fn touch(touched: &mut Vec<u32>, x: u32) {
    touched.push(x);
}

/// Adds `[st, en)` to intervals sorted by end, merging it with every saved interval it
/// overlaps (the reference's bookkeeping: an interval found later may start earlier).
fn save_interval(intervals: &mut Vec<(i64, i64)>, st: i64, en: i64) {
    let mut k = intervals.len();
    while k > 0 && st <= intervals[k - 1].1 {
        k -= 1;
    }
    if k < intervals.len() {
        let first = &mut intervals[k];
        first.0 = first.0.min(st);
        first.1 = first.1.max(en);
        intervals.truncate(k + 1);
    } else {
        intervals.push((st, en));
    }
}

/// Union of two sorted interval lists, touching intervals merged.
fn union(a: &[(i64, i64)], b: &[(i64, i64)]) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    let (mut st, mut en) = (0i64, 0i64);
    while i < a.len() || j < b.len() {
        let p = if j >= b.len() || (i < a.len() && a[i].0 < b[j].0) {
            i += 1;
            a[i - 1]
        } else {
            j += 1;
            b[j - 1]
        };
        if p.0 <= en {
            en = en.max(p.1);
        } else {
            if en > st {
                out.push((st.max(0) as u64, en as u64));
            }
            st = p.0;
            en = p.1;
        }
    }
    if en > st {
        out.push((st.max(0) as u64, en as u64));
    }
    out
}

/// A longdust masker with prepared tables, reusable across sequences (one per thread).
#[derive(Debug, Clone)]
pub struct Longdust {
    options: LongdustOptions,
    /// Tables for the fixed GC setting, or the last 'auto' GC value and its tables.
    tables: Option<(u64, Tables)>,
    forward: Scanner,
    reverse: Option<Scanner>,
}

impl Longdust {
    /// A masker for `options` (checked).
    pub fn new(options: LongdustOptions) -> Result<Self> {
        options.validate()?;
        Ok(Self {
            options,
            tables: None,
            forward: Scanner::new(&options),
            reverse: None,
        })
    }

    /// The options.
    pub fn options(&self) -> &LongdustOptions {
        &self.options
    }

    /// Makes `self.tables` fit the GC content of `codes`.
    fn prepare_tables(&mut self, codes: &[u8]) {
        // Any given GC content, 0 and 1 included, uses the per-class table (as the
        // peer; Li's C reference treats 0 and 1 as uniform).
        let gc = match self.options.gc {
            GcContent::Uniform => None,
            GcContent::Fraction(g) => Some(g),
            GcContent::Auto => Some(gc_fraction(codes)),
        };
        let key = gc.map_or(u64::MAX, f64::to_bits);
        if !matches!(&self.tables, Some((k, _)) if *k == key) {
            self.tables = Some((key, Tables::new(&self.options, gc)));
        }
    }

    /// Intervals of a sequence of letters (A/C/G/T either case; other ASCII ambiguous).
    pub fn mask_letters(&mut self, letters: &[u8]) -> Result<Vec<(u64, u64)>> {
        let codes = encode_letters(letters)?;
        Ok(self.mask_checked_codes(&codes, 1))
    }

    /// Intervals of a sequence of base codes (0..=3, 4 ambiguous).
    pub fn mask_codes(&mut self, codes: &[u8]) -> Result<Vec<(u64, u64)>> {
        check_codes(codes)?;
        Ok(self.mask_checked_codes(codes, 1))
    }

    fn mask_checked_codes(&mut self, codes: &[u8], threads: usize) -> Vec<(u64, u64)> {
        self.prepare_tables(codes);
        let Self {
            options,
            tables,
            forward,
            reverse,
        } = self;
        let Some((_, tables)) = tables.as_ref() else {
            return Vec::new();
        };
        let len = codes.len();
        if options.forward_only {
            let fwd = forward.scan(codes, tables);
            return union(&fwd, &[]);
        }
        // The reverse complement, written out once (a byte per base) so that both strands
        // run the same loop over a slice.
        let rc: Vec<u8> = codes
            .iter()
            .rev()
            .map(|&c| if c < 4 { 3 - c } else { 4 })
            .collect();
        let (fwd, rev) = if threads >= 2 && len >= PARALLEL_MIN_BASES {
            // A second scanner (its tables are 10 bytes per k-mer, 160 MiB at k = 12) only
            // when the strands run at once; one thread scans both with the same one.
            let reverse = reverse.get_or_insert_with(|| Scanner::new(options));
            std::thread::scope(|scope| {
                let handle = scope.spawn(|| reverse.scan(&rc, tables));
                let fwd = forward.scan(codes, tables);
                let rev = handle
                    .join()
                    .unwrap_or_else(|e| std::panic::resume_unwind(e));
                (fwd, rev)
            })
        } else {
            let fwd = forward.scan(codes, tables);
            (fwd, forward.scan(&rc, tables))
        };
        let len = len as i64;
        let rev: Vec<(i64, i64)> = rev.iter().rev().map(|&(s, e)| (len - e, len - s)).collect();
        union(&fwd, &rev)
    }
}

/// Smallest sequence worth a second thread for its reverse strand.
pub const PARALLEL_MIN_BASES: usize = 1 << 16;

/// longdust intervals of a sequence of letters: `[start, end)` in increasing order.
/// A/C/G/T in either case are bases; every other ASCII byte is ambiguous (it stays in
/// the window, scores nothing and breaks k-mers); a non-ASCII byte is an error.
pub fn longdust(letters: &[u8], options: &LongdustOptions) -> Result<Vec<(u64, u64)>> {
    Longdust::new(*options)?.mask_letters(letters)
}

/// [`longdust`] of base codes (0..=3 A, C, G, T; 4 ambiguous).
pub fn longdust_codes(codes: &[u8], options: &LongdustOptions) -> Result<Vec<(u64, u64)>> {
    Longdust::new(*options)?.mask_codes(codes)
}

/// [`longdust`] with the two strands on two threads when `threads >= 2` (identical
/// result: the strands are independent).
pub fn longdust_parallel(
    letters: &[u8],
    options: &LongdustOptions,
    threads: usize,
) -> Result<Vec<(u64, u64)>> {
    let mut masker = Longdust::new(*options)?;
    let codes = encode_letters(letters)?;
    Ok(masker.mask_checked_codes(&codes, threads))
}

/// [`longdust_codes`] with the two strands on two threads when `threads >= 2`.
pub fn longdust_codes_parallel(
    codes: &[u8],
    options: &LongdustOptions,
    threads: usize,
) -> Result<Vec<(u64, u64)>> {
    let mut masker = Longdust::new(*options)?;
    check_codes(codes)?;
    Ok(masker.mask_checked_codes(codes, threads))
}

/// longdust intervals of every record of a batch (letters; see
/// [`crate::genomic::reads::sdust_batch`] for the layout), each record masked alone as
/// [`longdust`] masks it, records spread over `threads` threads (same result for any
/// count).
pub fn longdust_batch(
    sequences: &[u8],
    offsets: &[i64],
    options: &LongdustOptions,
    threads: usize,
) -> Result<crate::genomic::reads::Ragged<(u64, u64)>> {
    options.validate()?;
    crate::genomic::reads::per_record(
        sequences,
        offsets,
        threads,
        || Longdust::new(*options),
        |masker, seq, out| {
            out.extend(masker.mask_letters(seq)?);
            Ok(())
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The reference algorithm written as plainly as possible (a queue of k-mers, count
    /// tables cleared and refilled for every backward and forward pass), to check the
    /// fast scanner's rank counts, ring and forward-run cache against.
    fn reference_strand(codes: &[u8], o: &LongdustOptions, t: &Tables) -> Vec<(i64, i64)> {
        use std::collections::VecDeque;
        let k = o.kmer;
        let n_kmer = 1usize << (2 * k);
        let mask = n_kmer as u32 - 1;
        let thres = o.threshold;
        let mut q: VecDeque<(u32, bool)> = VecDeque::new();
        let mut ht = vec![0u32; n_kmer];
        let mut lcr = vec![0u32; n_kmer];
        let mut out = Vec::new();
        let (mut x, mut run, mut st, mut en, mut last_q) = (0u32, 0usize, -1i64, -1i64, -1i64);
        let mut sum = 0.0f64;
        let forward = |q: &VecDeque<(u32, bool)>, i0: usize, max_back: f64, tab: &mut Vec<u32>| {
            tab.iter_mut().for_each(|c| *c = 0);
            let (mut s, mut max_sf, mut max_i) = (0.0f64, 0.0f64, -1i64);
            for (l, i) in (i0..q.len()).enumerate() {
                let (x, amb) = q[i];
                s += if amb {
                    0.0 - thres
                } else {
                    tab[x as usize] += 1;
                    t.ln[tab[x as usize] as usize] - thres
                };
                let sl = s - t.f[l + 1];
                if sl >= max_sf {
                    max_sf = sl;
                    max_i = i as i64;
                }
                if sl > max_back + 1e-6 {
                    break;
                }
            }
            max_i
        };
        for i in 0..=codes.len() {
            let b = if i < codes.len() { codes[i] } else { 4 };
            let amb = if b < 4 {
                x = ((x << 2) | u32::from(b)) & mask;
                run += 1;
                run < k
            } else {
                run = 0;
                true
            };
            if q.len() >= o.window {
                let (y, yamb) = q.pop_front().unwrap_or((0, true));
                if !yamb {
                    sum -= t.ln[ht[y as usize] as usize];
                    ht[y as usize] -= 1;
                }
                if last_q == 0 {
                    if !yamb && lcr[y as usize] > 0 {
                        lcr[y as usize] -= 1;
                    }
                } else {
                    last_q -= 1;
                }
            }
            q.push_back((x, amb));
            if amb {
                continue;
            }
            ht[x as usize] += 1;
            sum += t.ln[ht[x as usize] as usize];
            let size = q.len();
            let mut j = -1i64;
            if ht[x as usize] >= o.min_start_count {
                let full = sum - t.f[size] - size as f64 * thres;
                if i as i64 == en && (last_q == 0 || i as i64 - st >= size as i64) && full > 0.0 {
                    let diff = t.ln[lcr[x as usize] as usize + 1] - (t.f[size] - t.f[size - 1]);
                    if diff >= thres {
                        lcr[x as usize] += 1;
                        j = 0;
                    }
                }
                let worth = || {
                    let mut s = 0.0;
                    for (n, i) in (0..size).rev().enumerate() {
                        if n >= t.max_test {
                            break;
                        }
                        let (x, amb) = q[i];
                        s += if amb {
                            0.0
                        } else {
                            t.ln[ht[x as usize] as usize]
                        } - thres;
                        if s < 0.0 {
                            return false;
                        }
                    }
                    true
                };
                if j < 0 && worth() {
                    let mut bt = vec![0u32; n_kmer];
                    let (mut s, mut sw, mut max_sb, mut last_sl) = (0.0f64, 0.0f64, 0.0f64, -1.0);
                    let mut max_i = -1i64;
                    let mut cands: Vec<(usize, f64)> = Vec::new();
                    for (l, i) in (0..size).rev().enumerate() {
                        let (x, amb) = q[i];
                        let (a, w) = if amb {
                            (0.0, 0.0)
                        } else {
                            bt[x as usize] += 1;
                            let c = bt[x as usize] as usize;
                            (t.ln[c], t.ln[ht[x as usize] as usize + 1 - c])
                        };
                        s += a - thres;
                        let sl = s - t.f[l + 1];
                        sw += w - thres;
                        if sw - t.f[l + 1] < 0.0 {
                            break;
                        }
                        if sl < last_sl && last_sl > 0.0 && last_sl == max_sb {
                            cands.push((i + 1, max_sb));
                        }
                        if sl >= max_sb {
                            max_sb = sl;
                            max_i = i as i64;
                        } else if max_i >= 0 && max_sb - sl > t.xdrop {
                            break;
                        }
                        last_sl = sl;
                    }
                    if max_i >= 0 {
                        if cands.last().is_none_or(|c| (max_i as usize) < c.0) {
                            cands.push((max_i as usize, max_sb));
                        }
                        let mut max_end = -1i64;
                        for &(pos, max) in cands.iter().rev() {
                            if (pos as i64) < max_end {
                                continue;
                            }
                            let kk = forward(&q, pos, max, &mut lcr);
                            if kk == size as i64 - 1 {
                                j = pos as i64;
                                break;
                            }
                            if o.approx {
                                break;
                            }
                            max_end = max_end.max(kk);
                        }
                    }
                }
            }
            if j >= 0 {
                let st2 = i as i64 - (size as i64 - 1 - j) - (k as i64 - 1);
                if st2 < en {
                    if st < 0 || st2 < st {
                        st = st2;
                    }
                } else {
                    if st >= 0 {
                        save_interval(&mut out, st, en);
                    }
                    st = st2;
                }
                en = i as i64 + 1;
                last_q = j;
            }
        }
        if st >= 0 {
            save_interval(&mut out, st, en);
        }
        out
    }

    fn reference(codes: &[u8], o: &LongdustOptions) -> Vec<(u64, u64)> {
        let gc = match o.gc {
            GcContent::Uniform => None,
            GcContent::Fraction(g) => Some(g),
            GcContent::Auto => Some(gc_fraction(codes)),
        };
        let t = Tables::new(o, gc);
        let fwd = reference_strand(codes, o, &t);
        if o.forward_only {
            return union(&fwd, &[]);
        }
        let rc: Vec<u8> = codes
            .iter()
            .rev()
            .map(|&c| if c < 4 { 3 - c } else { 4 })
            .collect();
        let n = codes.len() as i64;
        let rev: Vec<(i64, i64)> = reference_strand(&rc, o, &t)
            .iter()
            .rev()
            .map(|&(s, e)| (n - e, n - s))
            .collect();
        union(&fwd, &rev)
    }

    fn letters(s: &str) -> Vec<u8> {
        s.bytes().collect()
    }

    #[test]
    fn public_types_are_send_and_sync() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<Longdust>();
        assert_send_sync::<LongdustOptions>();
    }

    #[test]
    fn known_intervals() {
        // Values from pydustmasker 3.3's LongdustMasker.
        let repeat = format!(
            "GATTACAGGCTTACCGATGCATTGACG{}GGATCCAGTAGCTTACTGCATGCA",
            "AATCG".repeat(60)
        );
        let cases: Vec<(String, Vec<(u64, u64)>)> = vec![
            (repeat, vec![(25, 327)]),
            (
                format!("{}NNN{}", "A".repeat(10), "A".repeat(30)),
                vec![(0, 43)],
            ),
            ("ACGTACGT".to_string(), vec![]),
            ("NNNNNNNNNNN".to_string(), vec![]),
            (String::new(), vec![]),
            ("ACG".to_string(), vec![]),
        ];
        let o = LongdustOptions::default();
        for (seq, want) in cases {
            assert_eq!(longdust(seq.as_bytes(), &o).unwrap(), want, "{seq}");
        }
    }

    #[test]
    fn options_are_checked_with_messages() {
        let d = LongdustOptions::default();
        let cases: Vec<(LongdustOptions, &str)> = vec![
            (
                LongdustOptions { kmer: 0, ..d },
                "kmer must be in 1..=12, got 0",
            ),
            (
                LongdustOptions { kmer: 13, ..d },
                "kmer must be in 1..=12, got 13",
            ),
            (LongdustOptions { window: 7, ..d }, "(kmer + 1 = 8), got 7"),
            (LongdustOptions { window: 65536, ..d }, "got 65536"),
            (
                LongdustOptions {
                    threshold: 0.0,
                    ..d
                },
                "greater than 0, got 0",
            ),
            (
                LongdustOptions {
                    threshold: f64::NAN,
                    ..d
                },
                "got NaN",
            ),
            (
                LongdustOptions {
                    gc: GcContent::Fraction(1.5),
                    ..d
                },
                "gc must be in [0, 1]",
            ),
            (
                LongdustOptions {
                    xdrop: Some(0),
                    ..d
                },
                "xdrop must be at least 1",
            ),
            (
                LongdustOptions {
                    min_start_count: 1,
                    ..d
                },
                "min_start_count must be in 2..=65535, got 1",
            ),
        ];
        for (o, message) in cases {
            let e = Longdust::new(o).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidParameter);
            assert!(e.message().contains(message), "{}", e.message());
        }
        assert!(Longdust::new(LongdustOptions { window: 65535, ..d }).is_ok());
        assert!(Longdust::new(LongdustOptions { xdrop: None, ..d }).is_ok());
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let o = LongdustOptions::default();
        let e = longdust(b"ACGT\xffACGT", &o).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidSequence { position: 4 });
        let e = longdust_codes(&[0, 1, 7], &o).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::SymbolOutOfRange { index: 2 });
        // Any other ASCII byte is ambiguous, as N.
        let a = longdust(
            &letters(&format!("{}X{}", "CA".repeat(40), "CA".repeat(40))),
            &o,
        );
        let b = longdust(
            &letters(&format!("{}N{}", "CA".repeat(40), "CA".repeat(40))),
            &o,
        );
        assert_eq!(a.unwrap(), b.unwrap());
    }

    /// Random sequences made of random stretches, tandem repeats and N runs.
    fn sequence() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            prop::collection::vec(0u8..4, 1..120),
            (prop::collection::vec(0u8..4, 1..9), 2usize..60).prop_map(|(u, n)| u.repeat(n)),
            (prop::collection::vec(0u8..2, 1..5), 5usize..40).prop_map(|(u, n)| u.repeat(n)),
            (1usize..12).prop_map(|n| vec![4u8; n]),
        ];
        prop::collection::vec(piece, 1..10).prop_map(|p| p.concat())
    }

    fn options() -> impl Strategy<Value = LongdustOptions> {
        (
            1usize..8,
            0usize..300,
            prop_oneof![Just(0.6), Just(0.3), Just(1.0)],
            prop_oneof![
                Just(GcContent::Uniform),
                Just(GcContent::Auto),
                Just(GcContent::Fraction(0.3))
            ],
            prop_oneof![Just(Some(50u64)), Just(Some(3)), Just(None)],
            2u32..5,
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(
                |(kmer, extra, threshold, gc, xdrop, min_start_count, approx, forward_only)| {
                    LongdustOptions {
                        window: kmer + 1 + extra,
                        threshold,
                        kmer,
                        gc,
                        xdrop,
                        min_start_count,
                        approx,
                        forward_only,
                    }
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn fast_scanner_equals_the_plain_reference(codes in sequence(), o in options()) {
            prop_assert_eq!(longdust_codes(&codes, &o).unwrap(), reference(&codes, &o));
        }

        #[test]
        fn reused_masker_and_threads_equal_a_fresh_one(
            a in sequence(), b in sequence(), o in options()
        ) {
            let mut masker = Longdust::new(o).unwrap();
            let first = masker.mask_codes(&a).unwrap();
            let second = masker.mask_codes(&b).unwrap();
            prop_assert_eq!(&first, &longdust_codes(&a, &o).unwrap());
            prop_assert_eq!(&second, &longdust_codes(&b, &o).unwrap());
            let both = [a.as_slice(), b.as_slice()].concat();
            let mut m2 = Longdust::new(o).unwrap();
            prop_assert_eq!(
                m2.mask_checked_codes(&both, 1),
                longdust_codes_parallel(&both, &o, 2).unwrap()
            );
        }
    }

    /// Letters with tandem repeats of unit lengths 1..=40 (some of them long, some
    /// mutated), random stretches, AT-rich stretches, N runs, IUPAC codes and lower case.
    fn repeat_rich_letters(seed: u64, len: usize) -> Vec<u8> {
        let mut state = seed;
        let mut next = move |n: u64| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) % n
        };
        let mut out = Vec::with_capacity(len + 4096);
        while out.len() < len {
            match next(6) {
                0 | 1 => {
                    let unit: Vec<u8> = (0..1 + next(40))
                        .map(|_| b"ACGT"[next(4) as usize])
                        .collect();
                    let most = if next(4) == 0 { 200 } else { 30 };
                    let copies = 2 + next(most) as usize;
                    for _ in 0..copies {
                        for &b in &unit {
                            // A few point mutations keep repeats from being perfect.
                            out.push(if next(50) == 0 {
                                b"ACGT"[next(4) as usize]
                            } else {
                                b
                            });
                        }
                    }
                }
                2 => out.extend((0..next(400)).map(|_| b"ACGT"[next(4) as usize])),
                3 => out.extend((0..next(600)).map(|_| b"AATTAATC"[next(8) as usize])),
                4 => out.extend(std::iter::repeat_n(b'N', 1 + next(30) as usize)),
                _ => out.extend((0..1 + next(5)).map(|_| b"RYKMSWBDHVN-"[next(12) as usize])),
            }
            if next(5) == 0 {
                let from = out.len().saturating_sub(next(300) as usize);
                out[from..].make_ascii_lowercase();
            }
        }
        out
    }

    #[test]
    fn lcr_counts_updated_in_place_equal_a_copy() {
        // The in-place update of the LCR's counts checks itself against the run's table
        // (the clear-and-copy result) in test builds; here sequences reach all its paths,
        // and the intervals equal the plain reference's.
        let d = LongdustOptions::default();
        let cases = [
            (
                LongdustOptions {
                    kmer: 3,
                    window: 60,
                    ..d
                },
                20_000,
            ),
            (
                LongdustOptions {
                    kmer: 4,
                    window: 300,
                    xdrop: None,
                    ..d
                },
                20_000,
            ),
            (
                LongdustOptions {
                    kmer: 5,
                    window: 1000,
                    min_start_count: 2,
                    ..d
                },
                30_000,
            ),
            (
                LongdustOptions {
                    kmer: 2,
                    window: 40,
                    threshold: 0.3,
                    ..d
                },
                20_000,
            ),
        ];
        for (seed, (o, len)) in cases.into_iter().enumerate() {
            let letters = repeat_rich_letters(seed as u64 + 1, len);
            let codes = encode_letters(&letters).unwrap();
            let got = longdust(&letters, &o).unwrap();
            assert!(!got.is_empty());
            assert_eq!(got, reference(&codes, &o), "{o:?}");
        }
        // Default options (k = 7, window 5000) on a longer sequence: the self-check only.
        let letters = repeat_rich_letters(99, 200_000);
        assert!(!longdust(&letters, &d).unwrap().is_empty());
        for (n, path) in ADOPT_PATHS.iter().enumerate() {
            assert!(path.load(Ordering::Relaxed) > 0, "path {n} never ran");
        }
    }

    /// The masker with the exact backward scan alone (no certified scan).
    fn exact_only(o: LongdustOptions) -> Longdust {
        let mut m = Longdust::new(o).unwrap();
        m.forward.use_quick = false;
        m
    }

    /// Repeat-rich letters for the certified scan: [`repeat_rich_letters`] (tandem
    /// repeats of units of 1 to 40 bases, mutated copies, AT-rich stretches, N runs,
    /// IUPAC codes, lower case), optionally followed by perfect copies of a short unit
    /// (many equal steps, the nearest thing to ties) and a homopolymer.
    fn certified_case() -> impl Strategy<Value = Vec<u8>> {
        (
            any::<u64>(),
            500usize..6000,
            prop::collection::vec(0u8..4, 1..6),
            0usize..300,
            0usize..200,
        )
            .prop_map(|(seed, len, unit, copies, homo)| {
                let mut out = repeat_rich_letters(seed, len);
                let unit: Vec<u8> = unit.iter().map(|&c| b"ACGT"[c as usize]).collect();
                out.extend(unit.repeat(copies));
                out.extend(std::iter::repeat_n(b'A', homo));
                out.extend(repeat_rich_letters(seed ^ 0x5555, len / 3));
                out
            })
    }

    fn certified_options() -> impl Strategy<Value = LongdustOptions> {
        (
            2usize..9,
            prop_oneof![65usize..400, 400usize..2500],
            prop_oneof![Just(0.6), Just(0.3), Just(1.0)],
            prop_oneof![Just(GcContent::Uniform), Just(GcContent::Auto)],
            prop_oneof![Just(Some(50u64)), Just(Some(3)), Just(Some(12)), Just(None)],
            2u32..5,
            prop::bool::weighted(0.2),
        )
            .prop_map(
                |(kmer, window, threshold, gc, xdrop, min_start_count, approx)| LongdustOptions {
                    window: window.max(kmer + 1),
                    threshold,
                    kmer,
                    gc,
                    xdrop,
                    min_start_count,
                    approx,
                    forward_only: false,
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// The certified scan (test builds also check each of its decisions against
        /// the exact scan) gives the exact scan's intervals.
        #[test]
        fn certified_scan_equals_the_exact_scan(letters in certified_case(), o in certified_options()) {
            let want = exact_only(o).mask_letters(&letters).unwrap();
            prop_assert_eq!(Longdust::new(o).unwrap().mask_letters(&letters).unwrap(), want);
        }
    }

    #[test]
    fn certified_scan_reaches_every_path() {
        // Default options and two smaller windows on repeat-rich letters: every outcome
        // of the certified scan and both kinds of skipped block occur, and the intervals
        // equal the exact scan's.
        let d = LongdustOptions::default();
        let cases = [
            (d, 120_000),
            (
                LongdustOptions {
                    kmer: 4,
                    window: 300,
                    ..d
                },
                40_000,
            ),
            (
                LongdustOptions {
                    kmer: 5,
                    window: 1000,
                    xdrop: Some(12),
                    ..d
                },
                40_000,
            ),
        ];
        for (seed, (o, len)) in cases.into_iter().enumerate() {
            let letters = repeat_rich_letters(seed as u64 + 7, len);
            let want = exact_only(o).mask_letters(&letters).unwrap();
            assert!(!want.is_empty());
            assert_eq!(
                Longdust::new(o).unwrap().mask_letters(&letters).unwrap(),
                want,
                "{o:?}"
            );
        }
        // Undecided scans need near-ties; a bound 2^30 times too wide makes them common
        // (and must still give the exact intervals).
        EPS_BOOST.store(1 << 30, Ordering::Relaxed);
        let letters = repeat_rich_letters(3, 60_000);
        let want = exact_only(d).mask_letters(&letters).unwrap();
        let got = Longdust::new(d).unwrap().mask_letters(&letters);
        EPS_BOOST.store(1, Ordering::Relaxed);
        assert_eq!(got.unwrap(), want);
        for (n, path) in QUICK_PATHS.iter().enumerate() {
            assert!(
                path.load(Ordering::Relaxed) > 0,
                "certified scan outcome {n} never ran"
            );
        }
        for (n, path) in BLOCK_PATHS.iter().enumerate() {
            assert!(path.load(Ordering::Relaxed) > 0, "block path {n} never ran");
        }
    }

    #[test]
    fn two_threads_equal_one_on_a_long_sequence() {
        // Long enough for the strands to run at once.
        let mut seq = Vec::new();
        let mut state = 12345u64;
        while seq.len() < PARALLEL_MIN_BASES + 1000 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let unit = 1 + (state >> 60) as usize;
            let motif: Vec<u8> = (0..unit)
                .map(|i| ((state >> (2 * i + 8)) & 3) as u8)
                .collect();
            seq.extend(motif.repeat(20));
            seq.extend((0..200).map(|i| ((state >> (i % 50)) & 3) as u8));
        }
        let o = LongdustOptions::default();
        let one = longdust_codes(&seq, &o).unwrap();
        assert!(!one.is_empty());
        assert_eq!(longdust_codes_parallel(&seq, &o, 2).unwrap(), one);
    }
}
