//! tantan: the tandem-repeat masker of Frith (2011), "A new repeat-masking method enables
//! specific detection of homologous sequences", Nucleic Acids Res. 39(4):e23, as
//! pydustmasker's `TantanMasker` (3.3) computes it, interval for interval.
//!
//! # The model
//!
//! A hidden Markov model reads the sequence left to right. Its *background* state emits a
//! letter from the background distribution; its *repeat* states `R_1..R_K` (one per
//! period, `K = max_period`) emit a letter that is scored against the letter `k` places
//! back: with score `s(x, y)` (DNA: +1 for a match, -1 otherwise; protein: BLOSUM62) and
//! the scale `lambda` that makes the scores log-odds ratios, `R_k` emits `x` with relative
//! likelihood `exp(lambda s(x, y))`. The background moves into `R_k` with probability
//! `repeat_start * w_k`, the weights `w_k` decaying geometrically by `decay` and summing
//! to one; a repeat state stays in itself with probability `1 - repeat_end` and returns
//! to the background with `repeat_end`. With gaps enabled (`gap_extend`), insertion
//! states between neighbouring periods let a repeat gain or lose letters.
//!
//! The forward and backward recursions give, for each position, the posterior
//! probability that a repeat state emitted it; a position is masked when that probability
//! (rounded to `f32`, as the peer stores it) is at least `threshold`. Intervals are the
//! maximal runs of masked positions, 0-based and half-open.
//!
//! # Identity with the peer
//!
//! The posteriors are sums of products of probabilities; their last bits depend on the
//! order of every addition, and a posterior a few ulps from the threshold decides a base.
//! So this file follows the peer's arithmetic step by step: the same `lambda` (bisection
//! down to adjacent doubles over the same linear solve), the same transition
//! probabilities and products, rescaling every 16 positions by the inverse of the
//! background probability, and the same summation order for the two sums of the ungapped
//! recursion. That last one is the subtle part: the peer sums the repeat states with the
//! CPU's native vector width `N` (lane `j` accumulates periods `j, j+N, ...`, the lanes
//! are then added in order, then the periods left over after the last full vector), with
//! `N` chosen at run time from the CPU's features (8 with Ice Lake-class AVX-512, 4 with
//! AVX2 and FMA, 2 on other x86-64 and on aarch64, 1 elsewhere). [`Tantan`] picks `N` the
//! same way, so both give bit-identical posteriors on the same machine; on two different
//! machines a posterior can differ in its last bit, as the peer's own results do.
//!
//! A posterior depends on the whole sequence (the backward pass starts at its end, and
//! ambiguous letters are scored as mismatches, not as breaks), so a sequence cannot be
//! cut into independent chunks; many sequences are masked in parallel instead
//! ([`tantan_records`]).
//!
//! # Speed
//!
//! Per position and pass the work is one multiply-add per period. The peer gathers the
//! `K` emission likelihoods one table look-up at a time; here the sequence is stored
//! reversed, so that the letters `1..=K` places back are contiguous, and for DNA the
//! likelihood is a compare-and-select between two constants (a match, or anything else).
//! Each sum is computed in the step that produces its terms (one step early), and two
//! positions share one pass over the states, so that the two sums' chains of additions
//! run side by side; a rescaling between the two is applied inside the pass (an extra
//! multiply per chunk: the forward scale is known from the first position's background
//! value, the backward one from the forward pass), so that, once aligned, every step is
//! in a pair. The arithmetic per lane is
//! unchanged, only how the operands are fetched and the order the CPU may run it in.
//! With 4 lanes (AVX2 CPUs without AVX-512) the DNA pair steps are written in AVX2
//! intrinsics (module `avx2`), so that each of the two sums keeps its own vector in one
//! pass, and read each position's ratios from per-key planes of ratios over a window of
//! the sequence instead of comparing letters; with 8 lanes the vectoriser's code is already
//! one instruction per operation. The backward pass computes the posteriors (a
//! division each) in blocks of 64 positions, off the recursion's loop.

use crate::error::{Error, ErrorKind, Result};
use crate::genomic::dna::{describe_byte, AMBIGUOUS};
use std::sync::OnceLock;

/// The peer's default probability of a repeat starting at a position.
pub const DEFAULT_REPEAT_START: f64 = 0.005;
/// The peer's default probability of a repeat ending at a position.
pub const DEFAULT_REPEAT_END: f64 = 0.05;
/// The peer's default decay of the repeat-start probability from one period to the next.
pub const DEFAULT_DECAY: f64 = 0.9;
/// Default largest period for DNA.
pub const DEFAULT_MAX_PERIOD_DNA: usize = 100;
/// Default largest period for protein.
pub const DEFAULT_MAX_PERIOD_PROTEIN: usize = 50;
/// Default posterior probability at or above which a position is masked.
pub const DEFAULT_THRESHOLD: f64 = 0.5;
/// Largest `max_period` (the peer's limit, `i32::MAX`: the decay is raised to it with an
/// `i32` power).
pub const MAX_PERIOD_LIMIT: usize = i32::MAX as usize;

/// Positions between two rescalings of the recursions (the peer's step).
const SCALE_STEP: usize = 16;
/// Positions whose posteriors the backward pass computes together (see
/// [`Run::posteriors`]).
const POSTERIOR_BLOCK: usize = 64;

/// tantan options (pydustmasker's `TantanMasker` names in brackets where they differ).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TantanOptions {
    /// Score the letters as protein (BLOSUM62) instead of DNA (match +1, mismatch -1).
    pub protein: bool,
    /// Probability of a repeat starting at a position, in `[0, 1)`.
    pub repeat_start: f64,
    /// Probability of a repeat ending at a position, in `[0, 1]`.
    pub repeat_end: f64,
    /// Decay of the repeat-start probability from one period to the next, in `(0, 1]`.
    pub decay: f64,
    /// Largest period; `None` is 100 for DNA and 50 for protein.
    pub max_period: Option<usize>,
    /// Cost of opening a gap inside a repeat (used only with `gap_extend`).
    pub gap_open: u32,
    /// Cost of each letter of a gap; `None` disables gaps.
    pub gap_extend: Option<u32>,
    /// Posterior probability at or above which a position is masked (`score_threshold`).
    pub threshold: f64,
}

impl Default for TantanOptions {
    fn default() -> Self {
        Self {
            protein: false,
            repeat_start: DEFAULT_REPEAT_START,
            repeat_end: DEFAULT_REPEAT_END,
            decay: DEFAULT_DECAY,
            max_period: None,
            gap_open: 0,
            gap_extend: None,
            threshold: DEFAULT_THRESHOLD,
        }
    }
}

impl TantanOptions {
    /// The largest period, with `None` resolved for the alphabet.
    pub fn resolved_max_period(&self) -> usize {
        self.max_period.unwrap_or(if self.protein {
            DEFAULT_MAX_PERIOD_PROTEIN
        } else {
            DEFAULT_MAX_PERIOD_DNA
        })
    }

    /// Checks every option against the peer's limits.
    pub fn validate(&self) -> Result<()> {
        let p = |m: String| Err(Error::parameter(m));
        if !(self.repeat_start >= 0.0 && self.repeat_start < 1.0) {
            return p(format!(
                "repeat_start must be in [0, 1), got {}",
                self.repeat_start
            ));
        }
        if !(self.repeat_end >= 0.0 && self.repeat_end <= 1.0) {
            return p(format!(
                "repeat_end must be in [0, 1], got {}",
                self.repeat_end
            ));
        }
        if !(self.decay.is_normal() && self.decay > 0.0 && self.decay <= 1.0) {
            return p(format!(
                "decay must be a normal number in (0, 1], got {}",
                self.decay
            ));
        }
        if !(self.threshold >= 0.0 && self.threshold <= 1.0) {
            return p(format!(
                "threshold must be in [0, 1], got {}",
                self.threshold
            ));
        }
        let max_period = self.resolved_max_period();
        if !(1..=MAX_PERIOD_LIMIT).contains(&max_period) {
            return p(format!(
                "max_period must be in 1..={MAX_PERIOD_LIMIT}, got {max_period}"
            ));
        }
        if self.gap_extend == Some(0) {
            return p("gap_extend must be at least 1 (or None to disable gaps), got 0".into());
        }
        let (first_gap, _) = self.gap_probabilities();
        if self.repeat_end + 2.0 * first_gap > 1.0 {
            return p(format!(
                "repeat_end + 2 * first_gap_probability must be at most 1, got {} + 2 * {} \
                 (from gap_open={} and gap_extend={}); raise gap_open or gap_extend, or \
                 lower repeat_end",
                self.repeat_end,
                first_gap,
                self.gap_open,
                self.gap_extend.unwrap_or(0)
            ));
        }
        Ok(())
    }

    /// Probabilities of a gap's first letter and of each further letter (zero without
    /// gaps). A gap of cost `c` has probability `exp(-lambda c)`; the first letter also
    /// carries the opening cost, and its probability is divided by `1 - extend` so that
    /// the gap lengths' geometric tail is included.
    fn gap_probabilities(&self) -> (f64, f64) {
        let Some(extend) = self.gap_extend else {
            return (0.0, 0.0);
        };
        let lambda = scoring(self.protein).lambda;
        let first_cost = (u64::from(self.gap_open) + u64::from(extend)) as f64;
        let other = (-lambda * f64::from(extend)).exp();
        let first = (-lambda * first_cost).exp() / (1.0 - other);
        (first, other)
    }
}

// ----------------------------------------------------------------------------------------
// Scoring: lambda and the likelihood ratios.
// ----------------------------------------------------------------------------------------

/// DNA letters: A C G T. Ambiguous letters get code 4.
const DNA_LETTERS: usize = 4;
/// Protein letters, in this order; anything else gets code 20.
const PROTEIN_ORDER: &[u8; 20] = b"ACDEFGHIKLMNPQRSTVWY";
const PROTEIN_LETTERS: usize = 20;
/// Code of an ambiguous protein letter.
pub const PROTEIN_AMBIGUOUS: u8 = 20;
/// Rows of the likelihood table: a power of two at or above 21, so that a code masked
/// with `ROW - 1` always lands inside a row.
const ROW: usize = 32;

/// BLOSUM62 in the order of [`PROTEIN_ORDER`] (Henikoff and Henikoff, 1992).
#[rustfmt::skip]
const BLOSUM62: [[i8; PROTEIN_LETTERS]; PROTEIN_LETTERS] = [
    //A   C   D   E   F   G   H   I   K   L   M   N   P   Q   R   S   T   V   W   Y
    [ 4,  0, -2, -1, -2,  0, -2, -1, -1, -1, -1, -2, -1, -1, -1,  1,  0,  0, -3, -2], // A
    [ 0,  9, -3, -4, -2, -3, -3, -1, -3, -1, -1, -3, -3, -3, -3, -1, -1, -1, -2, -2], // C
    [-2, -3,  6,  2, -3, -1, -1, -3, -1, -4, -3,  1, -1,  0, -2,  0, -1, -3, -4, -3], // D
    [-1, -4,  2,  5, -3, -2,  0, -3,  1, -3, -2,  0, -1,  2,  0,  0, -1, -2, -3, -2], // E
    [-2, -2, -3, -3,  6, -3, -1,  0, -3,  0,  0, -3, -4, -3, -3, -2, -2, -1,  1,  3], // F
    [ 0, -3, -1, -2, -3,  6, -2, -4, -2, -4, -3,  0, -2, -2, -2,  0, -2, -3, -2, -3], // G
    [-2, -3, -1,  0, -1, -2,  8, -3, -1, -3, -2,  1, -2,  0,  0, -1, -2, -3, -2,  2], // H
    [-1, -1, -3, -3,  0, -4, -3,  4, -3,  2,  1, -3, -3, -3, -3, -2, -1,  3, -3, -1], // I
    [-1, -3, -1,  1, -3, -2, -1, -3,  5, -2, -1,  0, -1,  1,  2,  0, -1, -2, -3, -2], // K
    [-1, -1, -4, -3,  0, -4, -3,  2, -2,  4,  2, -3, -3, -2, -2, -2, -1,  1, -2, -1], // L
    [-1, -1, -3, -2,  0, -3, -2,  1, -1,  2,  5, -2, -2,  0, -1, -1, -1,  1, -1, -1], // M
    [-2, -3,  1,  0, -3,  0,  1, -3,  0, -3, -2,  6, -2,  0,  0,  1,  0, -3, -4, -2], // N
    [-1, -3, -1, -1, -4, -2, -2, -3, -1, -3, -2, -2,  7, -1, -2, -1, -1, -2, -4, -3], // P
    [-1, -3,  0,  2, -3, -2,  0, -3,  1, -2,  0,  0, -1,  5,  1,  0, -1, -2, -2, -1], // Q
    [-1, -3, -2,  0, -3, -2,  0, -3,  2, -2, -1,  0, -2,  1,  5, -1, -1, -3, -3, -2], // R
    [ 1, -1,  0,  0, -2,  0, -1, -2,  0, -2, -1,  1, -1,  0, -1,  4,  1, -2, -3, -2], // S
    [ 0, -1, -1, -1, -2, -2, -2, -1, -1, -1, -1,  0, -1, -1, -1,  1,  5,  0, -2, -2], // T
    [ 0, -1, -3, -2, -1, -3, -3,  3, -2,  1,  1, -3, -2, -2, -3, -2,  0,  4, -3, -1], // V
    [-3, -2, -4, -3,  1, -2, -2, -3, -3, -2, -1, -4, -4, -2, -3, -3, -2, -3, 11,  2], // W
    [-2, -2, -3, -2,  3, -3,  2, -1, -2, -1, -1, -2, -3, -1, -2, -2, -2, -1,  2,  7], // Y
];

/// Code of each byte for protein: 0..20 for the 20 amino acids (either case), 20 for any
/// other byte.
static PROTEIN_CODE: [u8; 256] = {
    let mut t = [PROTEIN_AMBIGUOUS; 256];
    let mut i = 0;
    while i < PROTEIN_LETTERS {
        t[PROTEIN_ORDER[i] as usize] = i as u8;
        t[PROTEIN_ORDER[i].to_ascii_lowercase() as usize] = i as u8;
        i += 1;
    }
    t
};

/// The scale and the likelihood ratios of one alphabet.
struct Scoring {
    /// The `lambda` that makes `exp(lambda s)` likelihood ratios.
    lambda: f64,
    /// `exp(lambda s(x, y))` at `[x][y]`; the ambiguous code's row and column (and the
    /// padding up to [`ROW`]) hold the ratio of the lowest score of the matrix, so an
    /// ambiguous letter scores like the worst pairing.
    likelihood: Vec<[f64; ROW]>,
}

fn scoring(protein: bool) -> &'static Scoring {
    static DNA: OnceLock<Scoring> = OnceLock::new();
    static PROTEIN: OnceLock<Scoring> = OnceLock::new();
    let (cell, scores): (&OnceLock<Scoring>, Vec<Vec<f64>>) = if protein {
        (
            &PROTEIN,
            BLOSUM62
                .iter()
                .map(|r| r.iter().map(|&s| f64::from(s)).collect())
                .collect(),
        )
    } else {
        (
            &DNA,
            (0..DNA_LETTERS)
                .map(|i| {
                    (0..DNA_LETTERS)
                        .map(|j| if i == j { 1.0 } else { -1.0 })
                        .collect()
                })
                .collect(),
        )
    };
    cell.get_or_init(|| {
        let lambda = solve_lambda(&scores);
        let lowest = scores.iter().flatten().copied().fold(f64::MAX, f64::min);
        let worst = (lambda * lowest).exp();
        let mut likelihood: Vec<[f64; ROW]> = scores
            .iter()
            .map(|row| {
                let mut out = [worst; ROW];
                for (o, &s) in out.iter_mut().zip(row) {
                    *o = (lambda * s).exp();
                }
                out
            })
            .collect();
        likelihood.push([worst; ROW]);
        Scoring { lambda, likelihood }
    })
}

/// Sum of the solution `x` of `exp(tau S) x = 1`: the total background probability that
/// makes `tau` a valid scale. It falls through 1 at the `lambda` we want.
///
/// Gauss-Jordan elimination with partial pivoting (the pivot is the row with the largest
/// magnitude in the column, the last such row on a tie), as the peer solves it: its
/// rounding decides the last bits of `lambda`. `None` when the matrix is singular.
fn background_sum(scores: &[Vec<f64>], tau: f64) -> Option<f64> {
    let n = scores.len();
    let mut m: Vec<Vec<f64>> = scores
        .iter()
        .map(|row| row.iter().map(|&s| (tau * s).exp()).collect())
        .collect();
    let mut x = vec![1.0f64; n];
    for k in 0..n {
        let mut pivot = k;
        for r in k + 1..n {
            if m[r][k].abs() >= m[pivot][k].abs() {
                pivot = r;
            }
        }
        m.swap(k, pivot);
        x.swap(k, pivot);
        if m[k][k] == 0.0 {
            return None;
        }
        let pivot_row = m[k].clone();
        for i in 0..n {
            if i == k {
                continue;
            }
            let q = m[i][k] / pivot_row[k];
            for j in k..n {
                m[i][j] -= q * pivot_row[j];
            }
            x[i] -= q * x[k];
        }
    }
    for k in 0..n {
        x[k] /= m[k][k];
    }
    Some(x.iter().sum())
}

/// An upper bound for `lambda` from the rows' and columns' extreme scores (each row and
/// column must hold a positive and a negative score, which both built-in matrices do).
fn lambda_upper_bound(scores: &[Vec<f64>]) -> f64 {
    let n = scores.len();
    let smallest_max = |lines: &mut dyn Iterator<Item = Vec<f64>>| -> (f64, usize) {
        let (mut least, mut zero_lines) = (f64::MAX, 0usize);
        for line in lines {
            let hi = line.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let lo = line.iter().copied().fold(f64::INFINITY, f64::min);
            if hi == 0.0 && lo == 0.0 {
                zero_lines += 1;
            } else {
                least = least.min(hi);
            }
        }
        (least, zero_lines)
    };
    let (row_max, zero_rows) = smallest_max(&mut scores.iter().cloned());
    let (col_max, zero_cols) =
        smallest_max(&mut (0..n).map(|j| scores.iter().map(|r| r[j]).collect()));
    if row_max > col_max {
        1.1 * ((n - zero_rows) as f64).ln() / row_max
    } else {
        1.1 * ((n - zero_cols) as f64).ln() / col_max
    }
}

/// `lambda` by bisection until the bracket is two adjacent doubles (or a side hits 1
/// exactly), then the side whose background sum is closer to 1.
fn solve_lambda(scores: &[Vec<f64>]) -> f64 {
    // The built-in matrices are well conditioned on the whole bracket.
    let sum = |tau: f64| background_sum(scores, tau).unwrap_or(f64::NAN);
    let upper = lambda_upper_bound(scores);
    let (mut lo, mut hi) = (upper * 1e-6, upper);
    let (mut lo_sum, mut hi_sum) = (sum(lo), sum(hi));
    while lo_sum != 1.0 && hi_sum != 1.0 {
        let mid = f64::midpoint(lo, hi);
        if mid == lo || mid == hi {
            break;
        }
        let mid_sum = sum(mid);
        if mid_sum > 1.0 {
            (lo, lo_sum) = (mid, mid_sum);
        } else {
            (hi, hi_sum) = (mid, mid_sum);
        }
    }
    if (lo_sum - 1.0).abs() < (hi_sum - 1.0).abs() {
        lo
    } else {
        hi
    }
}

// ----------------------------------------------------------------------------------------
// The vector width the peer sums with.
// ----------------------------------------------------------------------------------------

/// The number of lanes the peer's reductions use on this CPU (see the module docs).
pub fn reduction_lanes() -> usize {
    static LANES: OnceLock<usize> = OnceLock::new();
    *LANES.get_or_init(detect_lanes)
}

#[cfg(target_arch = "x86_64")]
fn detect_lanes() -> usize {
    use std::arch::is_x86_feature_detected as has;
    // The Ice Lake AVX-512 feature set (8 doubles per vector).
    let avx512 = has!("adx")
        && has!("aes")
        && has!("avx512bitalg")
        && has!("avx512bw")
        && has!("avx512cd")
        && has!("avx512dq")
        && has!("avx512f")
        && has!("avx512ifma")
        && has!("avx512vbmi")
        && has!("avx512vbmi2")
        && has!("avx512vl")
        && has!("avx512vnni")
        && has!("avx512vpopcntdq")
        && has!("bmi1")
        && has!("bmi2")
        && has!("cmpxchg16b")
        && has!("fma")
        && has!("fxsr")
        && has!("gfni")
        && has!("lzcnt")
        && has!("movbe")
        && has!("pclmulqdq")
        && has!("popcnt")
        && has!("rdrand")
        && has!("rdseed")
        && has!("sha")
        && has!("vaes")
        && has!("vpclmulqdq")
        && has!("xsave")
        && has!("xsavec")
        && has!("xsaveopt")
        && has!("xsaves");
    // x86-64-v3 (4 doubles per vector).
    let avx2 = has!("avx2")
        && has!("bmi1")
        && has!("bmi2")
        && has!("cmpxchg16b")
        && has!("f16c")
        && has!("fma")
        && has!("fxsr")
        && has!("lzcnt")
        && has!("movbe")
        && has!("popcnt")
        && has!("xsave");
    if avx512 {
        8
    } else if avx2 {
        4
    } else {
        2
    }
}

#[cfg(target_arch = "aarch64")]
fn detect_lanes() -> usize {
    2
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn detect_lanes() -> usize {
    1
}

// ----------------------------------------------------------------------------------------
// The model.
// ----------------------------------------------------------------------------------------

/// A validated model, ready to mask any number of sequences (cheap to share across
/// threads).
#[derive(Debug, Clone)]
pub struct Tantan {
    options: TantanOptions,
    /// The resolved largest period.
    max_period: usize,
    gapped: bool,
    b2b: f64,
    f2b: f64,
    f2f0: f64,
    f2f1: f64,
    f2f2: f64,
    g2g: f64,
    one_gap: f64,
    end_gap: f64,
    /// Background-to-repeat probability of period `k + 1` at `[k]`, for every period the
    /// longest sequence seen so far can use (grown on demand, see [`Tantan::states`]).
    b2f: Vec<f64>,
    lanes: usize,
}

impl Tantan {
    /// Validates the options and prepares the model.
    pub fn new(options: TantanOptions) -> Result<Self> {
        options.validate()?;
        let max_period = options.resolved_max_period();
        let (first_gap, other_gap) = options.gap_probabilities();
        let repeat_end = options.repeat_end;
        // The weight of period 1; the weights decay geometrically and sum to one over
        // `max_period` periods.
        let weight = if options.decay != 1.0 {
            (1.0 - options.decay) / (1.0 - options.decay.powi(max_period as i32))
        } else {
            1.0 / max_period as f64
        };
        let b2f_first = options.repeat_start * weight;
        // Periods past the longest sequence never emit; the table grows with the input
        // (see `states`), here it starts at a size that covers the default.
        let mut b2f = Vec::with_capacity(max_period.min(1 << 12));
        let mut p = b2f_first;
        for _ in 0..max_period.min(1 << 12) {
            b2f.push(p);
            p *= options.decay;
        }
        Ok(Self {
            options,
            max_period,
            gapped: first_gap > 0.0 && max_period > 1,
            b2b: 1.0 - options.repeat_start,
            f2b: repeat_end,
            f2f0: 1.0 - repeat_end,
            f2f1: 1.0 - repeat_end - first_gap,
            f2f2: 1.0 - repeat_end - first_gap * 2.0,
            g2g: other_gap,
            one_gap: first_gap * (1.0 - other_gap),
            end_gap: first_gap,
            b2f,
            lanes: reduction_lanes(),
        })
    }

    /// The options this model was built with.
    pub fn options(&self) -> &TantanOptions {
        &self.options
    }

    /// The same model summing with `lanes` lanes instead of this CPU's (1, 2, 4 or 8),
    /// for tests that reproduce the peer's results of another CPU.
    pub fn with_lanes(mut self, lanes: usize) -> Result<Self> {
        if ![1, 2, 4, 8].contains(&lanes) {
            return Err(Error::parameter(format!(
                "lanes must be 1, 2, 4 or 8, got {lanes}"
            )));
        }
        self.lanes = lanes;
        Ok(self)
    }

    /// Repeat states a sequence of `n` letters needs: periods past `n` never emit, and
    /// every state from `n` on stays at zero where it is read (so cutting them off changes
    /// no bit), which keeps memory bounded when `max_period` is huge.
    fn states(&self, n: usize) -> usize {
        self.max_period.min(n.max(1) + 1)
    }

    /// The `b2f` table for `states` periods.
    fn b2f_for(&self, states: usize) -> std::borrow::Cow<'_, [f64]> {
        if states <= self.b2f.len() {
            return std::borrow::Cow::Borrowed(&self.b2f[..states]);
        }
        let mut b2f = self.b2f.clone();
        let mut p = *b2f.last().unwrap_or(&0.0) * self.options.decay;
        while b2f.len() < states {
            b2f.push(p);
            p *= self.options.decay;
        }
        std::borrow::Cow::Owned(b2f)
    }

    /// Encodes letters into this model's codes: DNA letters must be nucleotides (A, C,
    /// G, T or an IUPAC code, either case; the codes other than ACGT are ambiguous);
    /// protein letters may be any ASCII byte (other than the 20 amino acids: ambiguous).
    pub fn encode(&self, letters: &[u8]) -> Result<Vec<u8>> {
        if self.options.protein {
            if let Some(i) = letters.iter().position(|b| !b.is_ascii()) {
                return Err(Error::new(
                    ErrorKind::InvalidSequence { position: i as u64 },
                    format!(
                        "{} at position {i} is not an ASCII protein letter",
                        describe_byte(letters[i])
                    ),
                ));
            }
            Ok(letters.iter().map(|&b| PROTEIN_CODE[b as usize]).collect())
        } else {
            crate::genomic::dna::encode(letters)
        }
    }

    fn check_codes(&self, codes: &[u8]) -> Result<()> {
        let top = if self.options.protein {
            PROTEIN_AMBIGUOUS
        } else {
            AMBIGUOUS
        };
        if let Some(i) = codes.iter().position(|&c| c > top) {
            return Err(Error::new(
                ErrorKind::SymbolOutOfRange { index: i },
                format!(
                    "code {} at index {i} is out of range: codes must be in 0..={top}",
                    codes[i]
                ),
            ));
        }
        Ok(())
    }

    /// Posterior repeat probability of every letter (the peer's `probabilities`).
    pub fn probabilities(&self, letters: &[u8]) -> Result<Vec<f32>> {
        let codes = self.encode(letters)?;
        Ok(self.probabilities_unchecked(&codes))
    }

    /// [`Tantan::probabilities`] of codes (DNA 0..=4, protein 0..=20; the top code is
    /// ambiguous).
    pub fn probabilities_codes(&self, codes: &[u8]) -> Result<Vec<f32>> {
        self.check_codes(codes)?;
        Ok(self.probabilities_unchecked(codes))
    }

    /// Masked intervals of letters, `[start, end)` in increasing order.
    pub fn mask(&self, letters: &[u8]) -> Result<Vec<(u64, u64)>> {
        let probs = self.probabilities(letters)?;
        Ok(intervals_at(&probs, self.options.threshold))
    }

    /// Masked intervals of codes.
    pub fn mask_codes(&self, codes: &[u8]) -> Result<Vec<(u64, u64)>> {
        let probs = self.probabilities_codes(codes)?;
        Ok(intervals_at(&probs, self.options.threshold))
    }

    fn probabilities_unchecked(&self, codes: &[u8]) -> Vec<f32> {
        let n = codes.len();
        if n == 0 {
            return Vec::new();
        }
        let states = self.states(n);
        // Both padded by a chunk of zeros: the kernels run the periods after the last
        // full chunk as one more chunk (see `kernels`).
        let mut b2f = self.b2f_for(states).into_owned();
        b2f.resize(states + MAX_LANES, 0.0);
        // Reversed, so that the letters 1..=k places before position `pos` are the
        // contiguous `rev[n - pos..n - pos + k]`, in order of period.
        // No code equals the padding, which lets a kernel read whole vectors past the
        // first letter.
        let mut rev: Vec<u8> = Vec::with_capacity(n + 2 * MAX_LANES);
        rev.extend(codes.iter().rev());
        rev.extend([PAD; 2 * MAX_LANES]);
        let mut run = Run {
            model: self,
            b2f: &b2f,
            codes,
            rev: &rev,
            states,
            fg: vec![0.0; states + MAX_LANES],
            ins: vec![0.0; if self.gapped { states - 1 } else { 0 }],
            bg: 1.0,
            scales: vec![0.0; n / SCALE_STEP],
            probs: vec![0.0f32; n],
            avx2: false,
            planes: Vec::new(),
            planes_at: 0,
        };
        if self.gapped {
            run.gapped();
        } else if self.options.protein {
            let table = &scoring(true).likelihood;
            run.ungapped(&Table(table));
        } else {
            let ratios = &scoring(false).likelihood;
            run.ungapped(&MatchOrNot {
                matched: ratios[0][0],
                other: ratios[0][1],
            });
        }
        run.probs
    }
}

/// Maximal runs of probabilities at or above `threshold` (compared as `f64`, as the peer
/// does), `[start, end)`.
pub fn intervals_at(probs: &[f32], threshold: f64) -> Vec<(u64, u64)> {
    /// Positions tested together: a chunk wholly below the threshold outside a run, or
    /// wholly at or above it inside one, changes nothing (a branch-free count the
    /// compiler vectorises; most of a genome is such chunks).
    const CHUNK: usize = 16;
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut i = 0;
    while i < probs.len() {
        let end = (i + CHUNK).min(probs.len());
        let chunk = &probs[i..end];
        if chunk.len() == CHUNK {
            let above = chunk
                .iter()
                .fold(0usize, |a, &p| a + usize::from(f64::from(p) >= threshold));
            if above == if start.is_some() { CHUNK } else { 0 } {
                i = end;
                continue;
            }
        }
        for (j, &p) in chunk.iter().enumerate() {
            if f64::from(p) >= threshold {
                start.get_or_insert(i + j);
            } else if let Some(s) = start.take() {
                out.push((s as u64, (i + j) as u64));
            }
        }
        i = end;
    }
    if let Some(s) = start {
        out.push((s as u64, probs.len() as u64));
    }
    out
}

/// The widest lane count (see [`reduction_lanes`]).
const MAX_LANES: usize = 8;
/// A byte no code equals (codes are at most 20).
const PAD: u8 = 0xFE;

/// Likelihood ratio of a letter given the letter `k` places back, written so that a
/// chunk of lanes compiles to a vector compare-and-select (DNA) or a gather (protein).
trait Emission: Sync + Copy {
    /// What a code is compared with, for the current code.
    fn key(&self, current: u8) -> u8;
    /// The ratio of the letter whose key is `key` against `earlier`.
    fn ratio(&self, key: u8, earlier: u8) -> f64;
    /// The two ratios (a match, anything else) when a ratio is a byte compare (DNA).
    fn match_ratios(&self) -> Option<[f64; 2]> {
        None
    }
}

/// DNA: one ratio for a match of two unambiguous bases, one for anything else.
#[derive(Clone, Copy)]
struct MatchOrNot {
    matched: f64,
    other: f64,
}

impl Emission for MatchOrNot {
    #[inline(always)]
    fn key(&self, current: u8) -> u8 {
        // An ambiguous base matches nothing: its key is a byte no code equals.
        if current < AMBIGUOUS {
            current
        } else {
            0xFF
        }
    }

    #[inline(always)]
    fn ratio(&self, key: u8, earlier: u8) -> f64 {
        if earlier == key {
            self.matched
        } else {
            self.other
        }
    }

    fn match_ratios(&self) -> Option<[f64; 2]> {
        Some([self.matched, self.other])
    }
}

/// Protein: a table look-up.
#[derive(Clone, Copy)]
struct Table<'a>(&'a [[f64; ROW]]);

impl Emission for Table<'_> {
    #[inline(always)]
    fn key(&self, current: u8) -> u8 {
        current
    }

    #[inline(always)]
    fn ratio(&self, key: u8, earlier: u8) -> f64 {
        self.0[key as usize][(earlier as usize) & (ROW - 1)]
    }
}

/// The state of one forward-backward run over one sequence.
struct Run<'a> {
    model: &'a Tantan,
    b2f: &'a [f64],
    codes: &'a [u8],
    /// Repeat states: periods `1..=states`.
    states: usize,
    /// The codes reversed, then padded with [`PAD`].
    rev: &'a [u8],
    /// Repeat-state values, period `k + 1` at `[k]`, then [`MAX_LANES`] of padding.
    fg: Vec<f64>,
    /// Insertion-state values (gapped model only).
    ins: Vec<f64>,
    /// Background-state value.
    bg: f64,
    /// The forward pass's rescaling factors, one per [`SCALE_STEP`] positions.
    scales: Vec<f64>,
    /// Forward background values first, then the posteriors.
    probs: Vec<f32>,
    /// Set while [`Run::passes_avx2`] runs (the CPU has AVX2): the paired DNA steps
    /// take the [`avx2`] kernels.
    avx2: bool,
    /// For the [`avx2`] kernels: the likelihood ratios of a window of `rev`, from
    /// `planes_at` on, against each key: plane `c` (of `planes.len() / 5` values) holds
    /// the match ratio where `rev` holds DNA code `c` (0..4), else the mismatch ratio;
    /// plane 4 (the ambiguous key, which matches nothing) is all mismatches. A chunk's
    /// ratios are then one load (a memory operand of the multiply), with no compare
    /// or blend, and the window (about 2k letters) stays in the L1 and L2 caches.
    planes: Vec<f64>,
    /// The index in `rev` of the planes' first byte.
    planes_at: usize,
}

impl Run<'_> {
    fn rescale(&mut self, scale: f64) {
        self.bg *= scale;
        for x in &mut self.fg[..self.states] {
            *x *= scale;
        }
        for x in &mut self.ins {
            *x *= scale;
        }
    }

    #[inline(always)]
    fn rescale_forward(&mut self, pos: usize) {
        if pos % SCALE_STEP == SCALE_STEP - 1 {
            let scale = 1.0 / self.bg;
            self.scales[pos / SCALE_STEP] = scale;
            self.rescale(scale);
        }
    }

    #[inline(always)]
    fn rescale_backward(&mut self, pos: usize) {
        if pos % SCALE_STEP == SCALE_STEP - 1 {
            let scale = self.scales[pos / SCALE_STEP];
            self.rescale(scale);
        }
    }

    /// The forward total: every state's way into the end.
    fn total(&self) -> f64 {
        let from_repeats: f64 = self.fg[..self.states].iter().sum();
        self.bg * self.model.b2b + from_repeats * self.model.f2b
    }

    fn start_backward(&mut self) {
        self.bg = self.model.b2b;
        self.fg[..self.states].fill(self.model.f2b);
        self.ins.fill(0.0);
    }

    /// The posterior of position `pos` from its forward value (stored as `f32`) and its
    /// backward value. Rounding the ratio to `f32` before subtracting keeps a posterior
    /// of exactly zero at zero; the clamp keeps rounding from leaving `[0, 1]`.
    #[inline(always)]
    fn posterior(forward: f32, backward: f64, total: f64) -> f32 {
        (1.0 - (f64::from(forward) * backward / total) as f32).clamp(0.0, 1.0)
    }

    /// [`Run::posterior`] of the block of positions from `start` (a multiple of
    /// [`POSTERIOR_BLOCK`], up to the end of the sequence), whose backward values are
    /// `block`'s first ones: an independent loop the compiler turns into vector
    /// conversions and divisions (each lane rounds as the scalar code).
    #[inline(always)]
    fn posteriors(probs: &mut [f32], block: &[f64; POSTERIOR_BLOCK], start: usize, total: f64) {
        let end = (start + POSTERIOR_BLOCK).min(probs.len());
        for (p, &backward) in probs[start..end].iter_mut().zip(block) {
            *p = Self::posterior(*p, backward, total);
        }
    }

    /// The ungapped model with the peer's lane count, compiled for the CPU's vector
    /// instructions (the lane arithmetic is the same in every build).
    fn ungapped<E: Emission>(&mut self, emission: &E) {
        match self.model.lanes {
            8 => {
                #[cfg(target_arch = "x86_64")]
                if std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512bw")
                    && std::arch::is_x86_feature_detected!("avx512vl")
                    && std::arch::is_x86_feature_detected!("avx512dq")
                {
                    // SAFETY: the CPU has these features, checked just above.
                    return unsafe { self.passes_avx512::<E>(emission) };
                }
                self.passes::<8, E>(emission)
            }
            4 => {
                #[cfg(target_arch = "x86_64")]
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU has AVX2, checked just above.
                    return unsafe { self.passes_avx2::<E>(emission) };
                }
                self.passes::<4, E>(emission)
            }
            2 => self.passes::<2, E>(emission),
            _ => self.passes::<1, E>(emission),
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx2")]
    unsafe fn passes_avx512<E: Emission>(&mut self, emission: &E) {
        self.passes::<8, E>(emission);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn passes_avx2<E: Emission>(&mut self, emission: &E) {
        self.avx2 = true;
        self.planes = Vec::new();
        self.passes::<4, E>(emission);
        self.planes = Vec::new();
        self.avx2 = false;
    }

    /// Makes [`Run::planes`] (of the DNA `ratios`: a match, anything else) cover the
    /// letters the [`avx2`] kernels read for `back` (two
    /// tails of `rev`, over every period and a chunk), rebuilding the window around
    /// them when they leave it.
    #[inline(always)]
    fn cover_planes(&mut self, back: [&[u8]; 2], ratios: [f64; 2]) {
        let len = self.rev.len();
        let lo = len - back[0].len().max(back[1].len());
        let hi = (len - back[0].len().min(back[1].len()) + self.states + MAX_LANES).min(len);
        let stride = self.planes.len() / (AMBIGUOUS as usize + 1);
        if lo < self.planes_at || hi > self.planes_at + stride {
            self.build_planes(lo, hi, ratios);
        }
    }

    #[cold]
    #[inline(never)]
    fn build_planes(&mut self, lo: usize, hi: usize, ratios: [f64; 2]) {
        /// Letters of slack ahead of the window's motion: the window moves by one or two
        /// letters a step (down `rev` in the forward pass, up in the backward one) and is
        /// rebuilt every `SLACK` positions (in tests every few positions, so that the
        /// proptests' short sequences cross many rebuilds).
        const SLACK: usize = if cfg!(test) { 5 } else { 2048 };
        let planes = AMBIGUOUS as usize + 1;
        let stride = SLACK + self.states + 2 * MAX_LANES;
        if self.planes.len() != planes * stride {
            // Plane 4 (the ambiguous key) stays all mismatches.
            self.planes = vec![ratios[1]; planes * stride];
        }
        let from = if lo < self.planes_at {
            hi.saturating_sub(stride)
        } else {
            lo
        };
        let rev = &self.rev[from..(from + stride).min(self.rev.len())];
        for (c, plane) in self
            .planes
            .chunks_exact_mut(stride)
            .take(planes - 1)
            .enumerate()
        {
            let c = c as u8;
            for (m, &x) in plane.iter_mut().zip(rev) {
                *m = if x == c { ratios[0] } else { ratios[1] };
            }
        }
        self.planes_at = from;
    }

    /// The ratios of the letters `back` (tails of `rev` that [`Run::cover_planes`]
    /// covered) against `key`, from [`Run::planes`].
    #[inline(always)]
    fn ratio_rows<'p>(
        planes: &'p [f64],
        planes_at: usize,
        rev_len: usize,
        back: [&[u8]; 2],
        key: [u8; 2],
    ) -> [&'p [f64]; 2] {
        let stride = planes.len() / (AMBIGUOUS as usize + 1);
        let row = |b: &[u8], key: u8| {
            let plane = usize::from(key).min(AMBIGUOUS as usize);
            &planes[plane * stride + (rev_len - b.len() - planes_at)..(plane + 1) * stride]
        };
        [row(back[0], key[0]), row(back[1], key[1])]
    }

    /// The DNA ratios when the paired steps may take the [`avx2`] kernels: 4 lanes, the
    /// CPU has AVX2 (checked before [`Run::passes_avx2`] set the flag), DNA.
    #[inline(always)]
    fn avx2_dna<const N: usize, E: Emission>(&self, emission: &E) -> Option<[f64; 2]> {
        if cfg!(target_arch = "x86_64") && N == 4 && self.avx2 {
            emission.match_ratios()
        } else {
            None
        }
    }

    /// [`kernels::backward_fused`] through the [`avx2`] kernel when
    /// [`Run::avx2_dna`] allows it (`None` otherwise).
    #[inline(always)]
    fn backward_fused_avx2<const N: usize, E: Emission>(
        &mut self,
        back: [&[u8]; 2],
        key: [u8; 2],
        to_background: f64,
        emitted: bool,
        emission: &E,
    ) -> Option<(f64, f64)> {
        #[cfg(target_arch = "x86_64")]
        if let Some(ratios) = self.avx2_dna::<N, E>(emission) {
            let (k, f2f0) = (self.states, self.model.f2f0);
            self.cover_planes(back, ratios);
            let rows = Self::ratio_rows(&self.planes, self.planes_at, self.rev.len(), back, key);
            // SAFETY: `avx2_dna` is `Some` only while `passes_avx2` runs, which is
            // called only on a CPU with AVX2.
            return Some(unsafe {
                if emitted {
                    avx2::backward_fused::<true>(
                        &mut self.fg,
                        k,
                        self.b2f,
                        rows,
                        to_background,
                        f2f0,
                    )
                } else {
                    avx2::backward_fused::<false>(
                        &mut self.fg,
                        k,
                        self.b2f,
                        rows,
                        to_background,
                        f2f0,
                    )
                }
            });
        }
        let _ = (back, key, to_background, emitted, emission);
        None
    }

    /// [`kernels::forward_pair`] over every period (through the [`avx2`] kernel when
    /// [`Run::avx2_dna`] allows it), scaling the first position's values by `scale`
    /// when `rescale`.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn forward_pair<const N: usize, E: Emission>(
        &mut self,
        backs: [&[u8]; 2],
        keys: [u8; 2],
        b: [f64; 2],
        rescale: bool,
        scale: f64,
        emission: &E,
    ) -> (f64, f64) {
        let (k, f2f0) = (self.states, self.model.f2f0);
        #[cfg(target_arch = "x86_64")]
        if let Some(ratios) = self.avx2_dna::<N, E>(emission) {
            self.cover_planes(backs, ratios);
            let rows = Self::ratio_rows(&self.planes, self.planes_at, self.rev.len(), backs, keys);
            // SAFETY: `avx2_dna` is `Some` only while `passes_avx2` runs, which is
            // called only on a CPU with AVX2.
            return unsafe {
                if rescale {
                    avx2::forward_pair::<true>(&mut self.fg, k, self.b2f, rows, b, f2f0, scale)
                } else {
                    avx2::forward_pair::<false>(&mut self.fg, k, self.b2f, rows, b, f2f0, scale)
                }
            };
        }
        if rescale {
            kernels::forward_pair::<N, E, true>(
                &mut self.fg,
                k,
                self.b2f,
                backs,
                keys,
                b,
                f2f0,
                scale,
                emission,
            )
        } else {
            kernels::forward_pair::<N, E, false>(
                &mut self.fg,
                k,
                self.b2f,
                backs,
                keys,
                b,
                f2f0,
                scale,
                emission,
            )
        }
    }

    /// [`kernels::backward_pair`] over every period (through the [`avx2`] kernel when
    /// [`Run::avx2_dna`] allows it), scaling the values by `scale` before the first
    /// emission when `rescale`.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn backward_pair<const N: usize, E: Emission>(
        &mut self,
        backs: [&[u8]; 2],
        keys: [u8; 2],
        to_background: [f64; 2],
        rescale: bool,
        scale: f64,
        emission: &E,
    ) -> (f64, f64) {
        let (k, f2f0) = (self.states, self.model.f2f0);
        #[cfg(target_arch = "x86_64")]
        if let Some(ratios) = self.avx2_dna::<N, E>(emission) {
            self.cover_planes(backs, ratios);
            let rows = Self::ratio_rows(&self.planes, self.planes_at, self.rev.len(), backs, keys);
            // SAFETY: as in `forward_pair`.
            return unsafe {
                if rescale {
                    avx2::backward_pair::<true>(
                        &mut self.fg,
                        k,
                        self.b2f,
                        rows,
                        to_background,
                        f2f0,
                        scale,
                    )
                } else {
                    avx2::backward_pair::<false>(
                        &mut self.fg,
                        k,
                        self.b2f,
                        rows,
                        to_background,
                        f2f0,
                        scale,
                    )
                }
            };
        }
        if rescale {
            kernels::backward_pair::<N, E, true>(
                &mut self.fg,
                k,
                self.b2f,
                backs,
                keys,
                to_background,
                f2f0,
                scale,
                emission,
            )
        } else {
            kernels::backward_pair::<N, E, false>(
                &mut self.fg,
                k,
                self.b2f,
                backs,
                keys,
                to_background,
                f2f0,
                scale,
                emission,
            )
        }
    }

    /// Both passes of the ungapped model, summing with `N` lanes, software-pipelined.
    ///
    /// A step's sum over the repeat states (the forward pass's sum of the old values,
    /// the backward pass's sum of `b2f` times the emitted values) is what the next
    /// background value waits for. Computed in the step that produces those values
    /// (from the same values, in the same lane order), it is ready one step earlier, and
    /// two steps overlap on the CPU instead of running one after the other. The
    /// backward pass then keeps the repeat states already emitted for the next
    /// position. Both fall back to the plain step where the values change between the
    /// two steps: after a rescaling (the sum of scaled values is not the scaled sum), and
    /// near the start of the sequence, where the number of periods grows.
    #[inline(always)]
    fn passes<const N: usize, E: Emission>(&mut self, emission: &E) {
        let n = self.codes.len();
        let max_period = self.states;
        let (b2b, f2b, f2f0) = (self.model.b2b, self.model.f2b, self.model.f2f0);
        let ramp = max_period.min(n);
        for pos in 0..ramp {
            let key = emission.key(self.codes[pos]);
            let b = self.bg;
            let n = self.codes.len();
            let back = &self.rev[n - pos..];
            let from_repeats = kernels::forward_old::<N, E>(
                &mut self.fg[..pos],
                &self.b2f[..pos],
                back,
                key,
                b,
                f2f0,
                emission,
            );
            self.bg = b * b2b + from_repeats * f2b;
            self.rescale_forward(pos);
            self.probs[pos] = self.bg as f32;
        }
        // From here on every step has `max_period` periods.
        let mut next_sum: Option<f64> = None;
        let mut pos = ramp;
        while pos < n {
            let key = emission.key(self.codes[pos]);
            let sum = match next_sum {
                Some(s) => s,
                None => kernels::lane_sum::<N>(&self.fg[..max_period]),
            };
            let b = self.bg;
            let back = &self.rev[n - pos..];
            // Two positions in one pass over the states when no rescaling falls after
            // the second: the second's values need only the first's value of the same
            // period, so both sums (two independent chains of additions) run side by
            // side. A rescaling after the first is known before the pass (its scale is
            // the inverse of the first's background value, which needs only `sum`), so
            // the pass scales the first's values as it goes. Pairs therefore start at
            // odd positions (the rescalings fall on odd ones); one single step at an
            // even position two before a rescaling realigns them.
            if pos + 1 < n && (pos + 1) % SCALE_STEP != SCALE_STEP - 1 {
                let mut b_next = b * b2b + sum * f2b;
                let rescale = pos % SCALE_STEP == SCALE_STEP - 1;
                let mut scale = 1.0;
                if rescale {
                    // `rescale_forward`'s arithmetic.
                    scale = 1.0 / b_next;
                    self.scales[pos / SCALE_STEP] = scale;
                    b_next *= scale;
                }
                let backs = [back, &self.rev[n - pos - 1..]];
                let keys = [key, emission.key(self.codes[pos + 1])];
                let (sum_next, sum_after) =
                    self.forward_pair::<N, E>(backs, keys, [b, b_next], rescale, scale, emission);
                self.probs[pos] = b_next as f32;
                self.bg = b_next * b2b + sum_next * f2b;
                next_sum = Some(sum_after);
                self.probs[pos + 1] = self.bg as f32;
                pos += 2;
                continue;
            }
            next_sum = Some(kernels::forward_new::<N, E>(
                &mut self.fg,
                max_period,
                self.b2f,
                back,
                key,
                b,
                f2f0,
                emission,
            ));
            self.bg = b * b2b + sum * f2b;
            if pos % SCALE_STEP == SCALE_STEP - 1 {
                self.rescale_forward(pos);
                next_sum = None;
            }
            self.probs[pos] = self.bg as f32;
            pos += 1;
        }
        let total = self.total();
        self.start_backward();
        // `emitted`: the repeat states already hold this position's `f * ratio`, and
        // `this_sum` their weighted sum (both from the previous step).
        let mut emitted = false;
        let mut this_sum = 0.0;
        // The backward background values of a block of `POSTERIOR_BLOCK` positions
        // (position `pos` at `pos % POSTERIOR_BLOCK`); their posteriors are computed when
        // the block is complete, in one loop off the recursion's chain (vector divisions,
        // the same arithmetic per position).
        let mut block = [0.0f64; POSTERIOR_BLOCK];
        let mut end = n;
        while end > 0 {
            let pos = end - 1;
            // Two positions in one pass, from emitted states, when the two next ones
            // (`pos - 1`, `pos - 2`) have every period and no rescaling falls before
            // the second's emission. A rescaling at `pos - 1` (its scale is the forward
            // pass's) is applied in the pass, between this step's end and the next
            // one's emission; the rescalings fall on odd positions, so pairs from an
            // even `pos` always qualify, and one single step realigns them.
            let ok = |x: usize| x >= max_period && x % SCALE_STEP != SCALE_STEP - 1;
            if emitted && pos >= 2 && ok(pos - 2) {
                block[pos % POSTERIOR_BLOCK] = self.bg;
                if pos % POSTERIOR_BLOCK == 0 {
                    Self::posteriors(&mut self.probs, &block, pos, total);
                }
                let to_background = f2b * self.bg;
                let mut bg_here = b2b * self.bg + this_sum;
                block[(pos - 1) % POSTERIOR_BLOCK] = bg_here;
                if (pos - 1) % POSTERIOR_BLOCK == 0 {
                    Self::posteriors(&mut self.probs, &block, pos - 1, total);
                }
                let rescale = (pos - 1) % SCALE_STEP == SCALE_STEP - 1;
                let mut scale = 1.0;
                if rescale {
                    // `rescale_backward`'s arithmetic.
                    scale = self.scales[(pos - 1) / SCALE_STEP];
                    bg_here *= scale;
                }
                let backs = [&self.rev[n - (pos - 1)..], &self.rev[n - (pos - 2)..]];
                let keys = [
                    emission.key(self.codes[pos - 1]),
                    emission.key(self.codes[pos - 2]),
                ];
                let to_bg = [to_background, f2b * bg_here];
                let (sum_next, sum_after) =
                    self.backward_pair::<N, E>(backs, keys, to_bg, rescale, scale, emission);
                self.bg = b2b * bg_here + sum_next;
                this_sum = sum_after;
                end -= 2;
                continue;
            }
            end -= 1;
            block[pos % POSTERIOR_BLOCK] = self.bg;
            if pos % POSTERIOR_BLOCK == 0 {
                Self::posteriors(&mut self.probs, &block, pos, total);
            }
            self.rescale_backward(pos);
            let k = pos.min(max_period);
            let key = emission.key(self.codes[pos]);
            let to_background = f2b * self.bg;
            // The next step (position `pos - 1`) can be prepared here when it has every
            // period and no rescaling comes before its emission.
            let prepare = pos > max_period && (pos - 1) % SCALE_STEP != SCALE_STEP - 1;
            let back = &self.rev[n - pos..];
            let (sum, prepared) = if prepare {
                let next_back = &self.rev[n - (pos - 1)..];
                let next_key = emission.key(self.codes[pos - 1]);
                if let Some((now, prepared)) = self.backward_fused_avx2::<N, E>(
                    [back, next_back],
                    [key, next_key],
                    to_background,
                    emitted,
                    emission,
                ) {
                    (if emitted { this_sum } else { now }, prepared)
                } else if emitted {
                    let (_, prepared) = kernels::backward_fused::<N, E, true>(
                        &mut self.fg,
                        max_period,
                        self.b2f,
                        back,
                        key,
                        next_back,
                        next_key,
                        to_background,
                        f2f0,
                        emission,
                    );
                    (this_sum, prepared)
                } else {
                    kernels::backward_fused::<N, E, false>(
                        &mut self.fg,
                        max_period,
                        self.b2f,
                        back,
                        key,
                        next_back,
                        next_key,
                        to_background,
                        f2f0,
                        emission,
                    )
                }
            } else if emitted {
                kernels::finish_emitted(&mut self.fg[..max_period], to_background, f2f0);
                (this_sum, 0.0)
            } else {
                let sum = kernels::backward_plain::<N, E>(
                    &mut self.fg,
                    k,
                    self.b2f,
                    back,
                    key,
                    to_background,
                    f2f0,
                    emission,
                );
                (sum, 0.0)
            };
            self.bg = b2b * self.bg + sum;
            emitted = prepare;
            this_sum = prepared;
        }
    }

    /// Both passes of the gapped model (the peer runs it without vectors: sums in period
    /// order).
    fn gapped(&mut self) {
        let n = self.codes.len();
        let table = &scoring(self.model.options.protein).likelihood;
        for pos in 0..n {
            self.forward_gapped_transition();
            self.emit(pos, table);
            self.rescale_forward(pos);
            self.probs[pos] = self.bg as f32;
        }
        let total = self.total();
        self.start_backward();
        for pos in (0..n).rev() {
            self.probs[pos] = Self::posterior(self.probs[pos], self.bg, total);
            self.rescale_backward(pos);
            self.emit(pos, table);
            self.backward_gapped_transition();
        }
    }

    /// Multiplies each repeat state by its emission ratio at `pos`; states reaching back
    /// past the start emit nothing.
    fn emit(&mut self, pos: usize, table: &[[f64; ROW]]) {
        let k = pos.min(self.states);
        let row = &table[self.codes[pos] as usize];
        let n = self.codes.len();
        let back = &self.rev[n - pos..];
        for (f, &earlier) in self.fg[..k].iter_mut().zip(back) {
            *f *= row[(earlier as usize) & (ROW - 1)];
        }
        self.fg[k..self.states].fill(0.0);
    }

    fn forward_gapped_transition(&mut self) {
        let m = self.model;
        let top = self.states;
        let b = self.bg;
        let last = self.fg[top - 1];
        self.fg[top - 1] = b * self.b2f[top - 1] + last * m.f2f1 + self.ins[top - 2] * m.end_gap;
        let mut from_repeats = last;
        let mut deletion = last;
        for i in (1..top - 1).rev() {
            let f = self.fg[i];
            from_repeats += f;
            let lower_ins = self.ins[i - 1];
            self.fg[i] = b * self.b2f[i] + f * m.f2f2 + (lower_ins + deletion) * m.one_gap;
            self.ins[i] = f + lower_ins * m.g2g;
            deletion = f + deletion * m.g2g;
        }
        let f0 = self.fg[0];
        from_repeats += f0;
        self.fg[0] = b * self.b2f[0] + f0 * m.f2f1 + deletion * m.end_gap;
        self.ins[0] = f0;
        self.bg = b * m.b2b + from_repeats * m.f2b;
    }

    fn backward_gapped_transition(&mut self) {
        let m = self.model;
        let top = self.states;
        let to_background = m.f2b * self.bg;
        let f0 = self.fg[0];
        let mut to_repeats = self.b2f[0] * f0;
        let ins0 = self.ins[0];
        self.fg[0] = to_background + m.f2f1 * f0 + ins0;
        let mut deletion = m.end_gap * f0;
        for i in 1..top - 1 {
            let f = self.fg[i];
            to_repeats += self.b2f[i] * f;
            let ins = self.ins[i];
            self.fg[i] = to_background + m.f2f2 * f + (ins + deletion);
            let opened = m.one_gap * f;
            self.ins[i - 1] = opened + m.g2g * ins;
            deletion = opened + m.g2g * deletion;
        }
        let last = self.fg[top - 1];
        to_repeats += self.b2f[top - 1] * last;
        self.fg[top - 1] = to_background + m.f2f1 * last + deletion;
        self.ins[top - 2] = m.end_gap * last;
        self.bg = m.b2b * self.bg + to_repeats;
    }
}

/// The steps of the ungapped model over `N` lanes.
///
/// Each works on the `k = fg.len()` periods that reach inside the sequence. A sum runs
/// as the peer's: lane `j` of `N` accumulates periods `j, j + N, ...` of the full chunks,
/// the lanes are added in order, then the periods after the last full chunk one by one.
/// A chunk is a fixed-size array, so that the compiler turns it into one vector
/// operation per step of the formula (and the left-over periods into one more, on
/// padded copies); no operation is reordered or fused, so every lane rounds as the
/// peer's does.
mod kernels {
    use super::Emission;

    #[inline(always)]
    fn array<const N: usize>(slice: &[f64]) -> &[f64; N] {
        slice.try_into().expect("a chunk holds N values")
    }

    #[inline(always)]
    fn array_mut<const N: usize>(slice: &mut [f64]) -> &mut [f64; N] {
        slice.try_into().expect("a chunk holds N values")
    }

    #[inline(always)]
    fn bytes<const N: usize>(slice: &[u8]) -> &[u8; N] {
        slice.try_into().expect("a chunk holds N codes")
    }

    /// Lanes added in order.
    #[inline(always)]
    fn fold<const N: usize>(acc: &[f64; N]) -> f64 {
        let mut sum = acc[0];
        for &a in &acc[1..] {
            sum += a;
        }
        sum
    }

    /// The peer's sum of `values`.
    #[inline(always)]
    pub(super) fn lane_sum<const N: usize>(values: &[f64]) -> f64 {
        let bulk = values.len() - values.len() % N;
        let mut acc = [0.0f64; N];
        for f in values[..bulk].chunks_exact(N) {
            let f = array::<N>(f);
            for j in 0..N {
                acc[j] += f[j];
            }
        }
        let mut sum = fold(&acc);
        for &x in &values[bulk..] {
            sum += x;
        }
        sum
    }

    /// A forward step over exactly `fg` (no padding: the states past it are still to
    /// come into play): returns the sum of the old values and replaces each with
    /// `(b * b2f + f * f2f0) * ratio`. Used while the number of periods grows.
    #[inline(always)]
    pub(super) fn forward_old<const N: usize, E: Emission>(
        fg: &mut [f64],
        b2f: &[f64],
        back: &[u8],
        key: u8,
        b: f64,
        f2f0: f64,
        emission: &E,
    ) -> f64 {
        // A local copy keeps the ratios in registers (through the reference, the
        // compiler gathers them from memory in every chunk).
        let emission = *emission;
        let k = fg.len();
        let bulk = k - k % N;
        let mut acc = [0.0f64; N];
        for ((f, w), l) in fg[..bulk]
            .chunks_exact_mut(N)
            .zip(b2f[..bulk].chunks_exact(N))
            .zip(back[..bulk].chunks_exact(N))
        {
            let (f, w, l) = (array_mut::<N>(f), array::<N>(w), bytes::<N>(l));
            for j in 0..N {
                let old = f[j];
                acc[j] += old;
                f[j] = (b * w[j] + old * f2f0) * emission.ratio(key, l[j]);
            }
        }
        let mut sum = fold(&acc);
        for ((f, &w), &l) in fg[bulk..].iter_mut().zip(&b2f[bulk..k]).zip(&back[bulk..k]) {
            let old = *f;
            sum += old;
            *f = (b * w + old * f2f0) * emission.ratio(key, l);
        }
        sum
    }

    /// The chunk of `N` at `at`: values, weights, letters (and the next letters).
    #[inline(always)]
    fn chunk_at<'a, const N: usize>(
        fg: &'a mut [f64],
        b2f: &[f64],
        back: &[u8],
        at: usize,
    ) -> (&'a mut [f64; N], [f64; N], [u8; N]) {
        (
            array_mut::<N>(&mut fg[at..at + N]),
            *array::<N>(&b2f[at..at + N]),
            *bytes::<N>(&back[at..at + N]),
        )
    }

    /// One chunk of a forward step: the new values.
    #[inline(always)]
    fn forward_chunk<const N: usize, E: Emission>(
        f: &mut [f64; N],
        w: &[f64; N],
        l: &[u8; N],
        key: u8,
        b: f64,
        f2f0: f64,
        emission: E,
    ) -> [f64; N] {
        let mut out = [0.0f64; N];
        for j in 0..N {
            out[j] = (b * w[j] + f[j] * f2f0) * emission.ratio(key, l[j]);
        }
        *f = out;
        out
    }

    /// A forward step over the first `k` of `fg` (which has a chunk of padding after
    /// them, as do `b2f` and `back`), returning the sum of the *new* values: the sum the
    /// next step needs. The periods after the last full chunk run as one more chunk
    /// (vector arithmetic, no branch); its padding lanes compute values that nothing
    /// reads, and only its first lanes enter the sum, one by one.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub(super) fn forward_new<const N: usize, E: Emission>(
        fg: &mut [f64],
        k: usize,
        b2f: &[f64],
        back: &[u8],
        key: u8,
        b: f64,
        f2f0: f64,
        emission: &E,
    ) -> f64 {
        let emission = *emission;
        let bulk = k - k % N;
        let mut acc = [0.0f64; N];
        let mut at = 0;
        while at < bulk {
            let (f, w, l) = chunk_at::<N>(fg, b2f, back, at);
            let out = forward_chunk(f, &w, &l, key, b, f2f0, emission);
            for j in 0..N {
                acc[j] += out[j];
            }
            at += N;
        }
        let mut sum = fold(&acc);
        if bulk < k {
            let (f, w, l) = chunk_at::<N>(fg, b2f, back, bulk);
            let out = forward_chunk(f, &w, &l, key, b, f2f0, emission);
            for &x in &out[..k - bulk] {
                sum += x;
            }
        }
        sum
    }

    /// One chunk of a plain backward step: the weighted emitted values.
    #[inline(always)]
    fn backward_chunk<const N: usize, E: Emission>(
        f: &mut [f64; N],
        w: &[f64; N],
        l: &[u8; N],
        key: u8,
        to_background: f64,
        f2f0: f64,
        emission: E,
    ) -> [f64; N] {
        let mut term = [0.0f64; N];
        for j in 0..N {
            let e = f[j] * emission.ratio(key, l[j]);
            term[j] = w[j] * e;
            f[j] = to_background + f2f0 * e;
        }
        term
    }

    /// A backward step over the first `k` of `fg` (padded as in [`forward_new`]):
    /// emits each value (`e = f * ratio`), returns the sum of `b2f * e`, and replaces
    /// the value with `to_background + f2f0 * e`. Values past `k` are overwritten; the
    /// backward pass never reads them again (the periods only shrink from here).
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub(super) fn backward_plain<const N: usize, E: Emission>(
        fg: &mut [f64],
        k: usize,
        b2f: &[f64],
        back: &[u8],
        key: u8,
        to_background: f64,
        f2f0: f64,
        emission: &E,
    ) -> f64 {
        let emission = *emission;
        let bulk = k - k % N;
        let mut acc = [0.0f64; N];
        let mut at = 0;
        while at < bulk {
            let (f, w, l) = chunk_at::<N>(fg, b2f, back, at);
            let term = backward_chunk(f, &w, &l, key, to_background, f2f0, emission);
            for j in 0..N {
                acc[j] += term[j];
            }
            at += N;
        }
        let mut sum = fold(&acc);
        if bulk < k {
            let (f, w, l) = chunk_at::<N>(fg, b2f, back, bulk);
            let term = backward_chunk(f, &w, &l, key, to_background, f2f0, emission);
            for &x in &term[..k - bulk] {
                sum += x;
            }
        }
        sum
    }

    /// One chunk of a fused backward step: this position's and the next position's
    /// weighted emitted values.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn fused_chunk<const N: usize, E: Emission, const EMITTED: bool>(
        f: &mut [f64; N],
        w: &[f64; N],
        l: &[u8; N],
        ln: &[u8; N],
        key: u8,
        next_key: u8,
        to_background: f64,
        f2f0: f64,
        emission: E,
    ) -> ([f64; N], [f64; N]) {
        let (mut term, mut term_next) = ([0.0f64; N], [0.0f64; N]);
        for j in 0..N {
            let e = if EMITTED {
                f[j]
            } else {
                f[j] * emission.ratio(key, l[j])
            };
            term[j] = w[j] * e;
            let e_next = (to_background + f2f0 * e) * emission.ratio(next_key, ln[j]);
            term_next[j] = w[j] * e_next;
            f[j] = e_next;
        }
        (term, term_next)
    }

    /// A backward step over the first `k` of `fg` that also emits the new values for the
    /// next position (letters `next_back`, key `next_key`): `fg` ends holding
    /// `(to_background + f2f0 e) * ratio_next`. Returns this step's sum (unless
    /// `EMITTED`: `fg` already holds this position's emitted values, whose sum the
    /// previous step returned; then 0) and the next step's.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub(super) fn backward_fused<const N: usize, E: Emission, const EMITTED: bool>(
        fg: &mut [f64],
        k: usize,
        b2f: &[f64],
        back: &[u8],
        key: u8,
        next_back: &[u8],
        next_key: u8,
        to_background: f64,
        f2f0: f64,
        emission: &E,
    ) -> (f64, f64) {
        let emission = *emission;
        let bulk = k - k % N;
        let mut acc_now = [0.0f64; N];
        let mut acc_next = [0.0f64; N];
        let mut at = 0;
        while at < bulk {
            let (f, w, l) = chunk_at::<N>(fg, b2f, back, at);
            let ln = *bytes::<N>(&next_back[at..at + N]);
            let (term, term_next) = fused_chunk::<N, E, EMITTED>(
                f,
                &w,
                &l,
                &ln,
                key,
                next_key,
                to_background,
                f2f0,
                emission,
            );
            for j in 0..N {
                if !EMITTED {
                    acc_now[j] += term[j];
                }
                acc_next[j] += term_next[j];
            }
            at += N;
        }
        let (mut sum_now, mut sum_next) = (fold(&acc_now), fold(&acc_next));
        if bulk < k {
            let (f, w, l) = chunk_at::<N>(fg, b2f, back, bulk);
            let ln = *bytes::<N>(&next_back[bulk..bulk + N]);
            let (term, term_next) = fused_chunk::<N, E, EMITTED>(
                f,
                &w,
                &l,
                &ln,
                key,
                next_key,
                to_background,
                f2f0,
                emission,
            );
            for j in 0..k - bulk {
                if !EMITTED {
                    sum_now += term[j];
                }
                sum_next += term_next[j];
            }
        }
        (sum_now, sum_next)
    }

    /// Two forward steps in one pass: positions with letters `back[0]`, `back[1]`, keys
    /// `key[0]`, `key[1]` and previous background values `b[0]`, `b[1]`. `fg` ends
    /// holding the second position's values; returns the sums of the first's and of the
    /// second's new values (each in the peer's order). The pass keeps one accumulator
    /// (with two, the vectoriser packs lane `j` of both together into two-lane vectors);
    /// the second sum is a short pass over the stored values after it, whose chain of
    /// additions runs beside the first's.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub(super) fn forward_pair<const N: usize, E: Emission, const SCALED: bool>(
        fg: &mut [f64],
        k: usize,
        b2f: &[f64],
        back: [&[u8]; 2],
        key: [u8; 2],
        b: [f64; 2],
        f2f0: f64,
        scale: f64,
        emission: &E,
    ) -> (f64, f64) {
        let emission = *emission;
        let bulk = k - k % N;
        let mut acc = [0.0f64; N];
        let mut at = 0;
        while at < bulk {
            let (f, w, l1) = chunk_at::<N>(fg, b2f, back[0], at);
            let l2 = *bytes::<N>(&back[1][at..at + N]);
            let first =
                forward_pair_chunk::<N, E, SCALED>(f, &w, &l1, &l2, key, b, f2f0, scale, emission);
            for j in 0..N {
                acc[j] += first[j];
            }
            at += N;
        }
        let mut sum1 = fold(&acc);
        if bulk < k {
            let (f, w, l1) = chunk_at::<N>(fg, b2f, back[0], bulk);
            let l2 = *bytes::<N>(&back[1][bulk..bulk + N]);
            let first =
                forward_pair_chunk::<N, E, SCALED>(f, &w, &l1, &l2, key, b, f2f0, scale, emission);
            for &x in &first[..k - bulk] {
                sum1 += x;
            }
        }
        (sum1, lane_sum::<N>(&fg[..k]))
    }

    /// One chunk of [`forward_pair`]: stores the second position's values, returns the
    /// first's.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn forward_pair_chunk<const N: usize, E: Emission, const SCALED: bool>(
        f: &mut [f64; N],
        w: &[f64; N],
        l1: &[u8; N],
        l2: &[u8; N],
        key: [u8; 2],
        b: [f64; 2],
        f2f0: f64,
        scale: f64,
        emission: E,
    ) -> [f64; N] {
        let (mut first, mut second) = ([0.0f64; N], [0.0f64; N]);
        for j in 0..N {
            first[j] = (b[0] * w[j] + f[j] * f2f0) * emission.ratio(key[0], l1[j]);
            if SCALED {
                first[j] *= scale;
            }
        }
        for j in 0..N {
            second[j] = (b[1] * w[j] + first[j] * f2f0) * emission.ratio(key[1], l2[j]);
        }
        *f = second;
        first
    }

    /// The peer's sum of `b2f * values` over the first `k` periods.
    #[inline(always)]
    fn weighted_lane_sum<const N: usize>(values: &[f64], b2f: &[f64], k: usize) -> f64 {
        let bulk = k - k % N;
        let mut acc = [0.0f64; N];
        for (f, w) in values[..bulk]
            .chunks_exact(N)
            .zip(b2f[..bulk].chunks_exact(N))
        {
            let (f, w) = (array::<N>(f), array::<N>(w));
            for j in 0..N {
                acc[j] += w[j] * f[j];
            }
        }
        let mut sum = fold(&acc);
        for (&f, &w) in values[bulk..k].iter().zip(&b2f[bulk..k]) {
            sum += w * f;
        }
        sum
    }

    /// Two backward steps in one pass from emitted states (`fg` holds this position's
    /// `f * ratio`): with `to_background` of this position and of the next, each state
    /// becomes `to_background[0] + f2f0 e`, is emitted for the next position (letters
    /// `back[0]`, key `key[0]`), becomes `to_background[1] + f2f0 e'` and is emitted for
    /// the one after (`back[1]`, `key[1]`), which `fg` ends holding. Returns the sums of
    /// `b2f` times the two emitted values (each in the peer's order; one accumulator in
    /// the pass, as in [`forward_pair`]).
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub(super) fn backward_pair<const N: usize, E: Emission, const SCALED: bool>(
        fg: &mut [f64],
        k: usize,
        b2f: &[f64],
        back: [&[u8]; 2],
        key: [u8; 2],
        to_background: [f64; 2],
        f2f0: f64,
        scale: f64,
        emission: &E,
    ) -> (f64, f64) {
        let emission = *emission;
        let bulk = k - k % N;
        let mut acc = [0.0f64; N];
        let mut at = 0;
        while at < bulk {
            let (f, w, l1) = chunk_at::<N>(fg, b2f, back[0], at);
            let l2 = *bytes::<N>(&back[1][at..at + N]);
            let term = backward_pair_chunk::<N, E, SCALED>(
                f,
                &w,
                &l1,
                &l2,
                key,
                to_background,
                f2f0,
                scale,
                emission,
            );
            for j in 0..N {
                acc[j] += term[j];
            }
            at += N;
        }
        let mut sum1 = fold(&acc);
        if bulk < k {
            let (f, w, l1) = chunk_at::<N>(fg, b2f, back[0], bulk);
            let l2 = *bytes::<N>(&back[1][bulk..bulk + N]);
            let term = backward_pair_chunk::<N, E, SCALED>(
                f,
                &w,
                &l1,
                &l2,
                key,
                to_background,
                f2f0,
                scale,
                emission,
            );
            for &x in &term[..k - bulk] {
                sum1 += x;
            }
        }
        (sum1, weighted_lane_sum::<N>(fg, b2f, k))
    }

    /// One chunk of [`backward_pair`]: stores the twice-emitted values, returns `b2f`
    /// times the once-emitted ones.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn backward_pair_chunk<const N: usize, E: Emission, const SCALED: bool>(
        f: &mut [f64; N],
        w: &[f64; N],
        l1: &[u8; N],
        l2: &[u8; N],
        key: [u8; 2],
        to_background: [f64; 2],
        f2f0: f64,
        scale: f64,
        emission: E,
    ) -> [f64; N] {
        let (mut e1, mut term, mut e2) = ([0.0f64; N], [0.0f64; N], [0.0f64; N]);
        for j in 0..N {
            let mut finished = to_background[0] + f2f0 * f[j];
            if SCALED {
                finished *= scale;
            }
            e1[j] = finished * emission.ratio(key[0], l1[j]);
            term[j] = w[j] * e1[j];
        }
        for j in 0..N {
            e2[j] = (to_background[1] + f2f0 * e1[j]) * emission.ratio(key[1], l2[j]);
        }
        *f = e2;
        term
    }

    /// The end of a backward step whose states the previous step emitted:
    /// `f = to_background + f2f0 e`.
    #[inline(always)]
    pub(super) fn finish_emitted(fg: &mut [f64], to_background: f64, f2f0: f64) {
        for e in fg.iter_mut() {
            *e = to_background + f2f0 * *e;
        }
    }
}

/// The paired steps for DNA with 4 lanes (the peer's width on AVX2 CPUs), written with
/// AVX2 intrinsics: one pass over the states keeps both positions' accumulators in
/// registers. The generic kernels compute the second sum in a second pass over the
/// stored values (with both in one loop, the vectoriser packs lane `j` of the two sums
/// into one vector); here each sum has its own vector, so the pass is one load and one
/// store per chunk and the two chains of additions run side by side. A chunk's ratios
/// are loaded from the caller's planes of ratios, one plane per key over a window of the
/// sequence ([`Run::planes`]): no compare or blend per chunk and position. Every lane does the generic kernels' operations
/// in the same order (no fused multiply-add), so the values are the same bits.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    /// The ratios of the 4 periods from `rows` (a plane of [`super::Run::planes`]).
    ///
    /// # Safety
    /// The CPU must have AVX2, and 4 values must be readable at `rows`.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn ratios_at(rows: *const f64) -> __m256d {
        _mm256_loadu_pd(rows)
    }

    /// The 4 lanes of `v`, lane 0 first.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn lanes(v: __m256d) -> [f64; 4] {
        let mut out = [0.0f64; 4];
        _mm256_storeu_pd(out.as_mut_ptr(), v);
        out
    }

    /// Lanes added in order.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn fold(v: __m256d) -> f64 {
        let l = lanes(v);
        ((l[0] + l[1]) + l[2]) + l[3]
    }

    /// The chunk operands every kernel reads: the two positions' ratio rows and the
    /// state and weight arrays, checked long enough for a last, partial chunk.
    struct Chunks {
        fp: *mut f64,
        wp: *const f64,
        /// The two positions' ratios (unchecked reads: the bounds are checked once,
        /// in [`Chunks::new`]).
        mp: [*const f64; 2],
    }

    impl Chunks {
        #[target_feature(enable = "avx2")]
        #[inline]
        unsafe fn new(fg: &mut [f64], k: usize, b2f: &[f64], rows: [&[f64]; 2]) -> Self {
            let run = k.next_multiple_of(4);
            assert!(
                fg.len() >= run && b2f.len() >= run && rows[0].len() >= run && rows[1].len() >= run,
                "the state arrays and ratios are padded by a chunk"
            );
            Chunks {
                fp: fg.as_mut_ptr(),
                wp: b2f.as_ptr(),
                mp: [rows[0].as_ptr(), rows[1].as_ptr()],
            }
        }

        /// The states and weights of the chunk at `at` (`at + 4` at most `k` rounded
        /// up to a chunk, checked by [`Chunks::new`]).
        #[target_feature(enable = "avx2")]
        #[inline]
        unsafe fn load(&self, at: usize) -> (__m256d, __m256d) {
            (
                _mm256_loadu_pd(self.fp.add(at)),
                _mm256_loadu_pd(self.wp.add(at)),
            )
        }

        /// Stores the chunk's new states (bounds as for [`Chunks::load`]).
        #[target_feature(enable = "avx2")]
        #[inline]
        unsafe fn store(&self, at: usize, f: __m256d) {
            _mm256_storeu_pd(self.fp.add(at), f);
        }

        /// Position `i`'s ratios for the chunk at `at` (bounds as for
        /// [`Chunks::load`]).
        #[target_feature(enable = "avx2")]
        #[inline]
        unsafe fn ratios(&self, i: usize, at: usize) -> __m256d {
            ratios_at(self.mp[i].add(at))
        }
    }

    /// The two sums of the terms `step` returns for the chunks of the first `k`
    /// periods, each in the generic kernels' order: whole chunks into one vector per
    /// sum (two chains of additions side by side), the lanes added in order, then the
    /// periods after the last full chunk one by one (that chunk runs whole; its
    /// padding lanes are not added). Without `first` the first sum is 0 (a constant
    /// at every call, so the branch compiles away).
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn two_sums(
        k: usize,
        first: bool,
        mut step: impl FnMut(usize) -> (__m256d, __m256d),
    ) -> (f64, f64) {
        let bulk = k - k % 4;
        let (mut acc1, mut acc2) = (_mm256_setzero_pd(), _mm256_setzero_pd());
        let mut at = 0;
        while at < bulk {
            let (term1, term2) = step(at);
            if first {
                acc1 = _mm256_add_pd(acc1, term1);
            }
            acc2 = _mm256_add_pd(acc2, term2);
            at += 4;
        }
        let (mut sum1, mut sum2) = (fold(acc1), fold(acc2));
        if bulk < k {
            let (term1, term2) = step(bulk);
            let (term1, term2) = (lanes(term1), lanes(term2));
            for j in 0..k - bulk {
                if first {
                    sum1 += term1[j];
                }
                sum2 += term2[j];
            }
        }
        (sum1, sum2)
    }

    /// [`super::kernels::forward_pair`] for DNA with 4 lanes, the same bits.
    ///
    /// # Safety
    /// The CPU must have AVX2.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(super) unsafe fn forward_pair<const SCALED: bool>(
        fg: &mut [f64],
        k: usize,
        b2f: &[f64],
        rows: [&[f64]; 2],
        b: [f64; 2],
        f2f0: f64,
        scale: f64,
    ) -> (f64, f64) {
        let chunks = Chunks::new(fg, k, b2f, rows);
        let (b0, b1, c, s) = (
            _mm256_set1_pd(b[0]),
            _mm256_set1_pd(b[1]),
            _mm256_set1_pd(f2f0),
            _mm256_set1_pd(scale),
        );
        two_sums(k, true, |at| {
            let (f, w) = chunks.load(at);
            let mut first = _mm256_mul_pd(
                _mm256_add_pd(_mm256_mul_pd(b0, w), _mm256_mul_pd(f, c)),
                chunks.ratios(0, at),
            );
            if SCALED {
                first = _mm256_mul_pd(first, s);
            }
            let second = _mm256_mul_pd(
                _mm256_add_pd(_mm256_mul_pd(b1, w), _mm256_mul_pd(first, c)),
                chunks.ratios(1, at),
            );
            chunks.store(at, second);
            (first, second)
        })
    }

    /// [`super::kernels::backward_pair`] for DNA with 4 lanes, the same bits.
    ///
    /// # Safety
    /// The CPU must have AVX2.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(super) unsafe fn backward_pair<const SCALED: bool>(
        fg: &mut [f64],
        k: usize,
        b2f: &[f64],
        rows: [&[f64]; 2],
        to_background: [f64; 2],
        f2f0: f64,
        scale: f64,
    ) -> (f64, f64) {
        let chunks = Chunks::new(fg, k, b2f, rows);
        let (t0, t1) = (
            _mm256_set1_pd(to_background[0]),
            _mm256_set1_pd(to_background[1]),
        );
        let (c, s) = (_mm256_set1_pd(f2f0), _mm256_set1_pd(scale));
        two_sums(k, true, |at| {
            let (f, w) = chunks.load(at);
            let mut finished = _mm256_add_pd(t0, _mm256_mul_pd(c, f));
            if SCALED {
                finished = _mm256_mul_pd(finished, s);
            }
            let e1 = _mm256_mul_pd(finished, chunks.ratios(0, at));
            let e2 = _mm256_mul_pd(
                _mm256_add_pd(t1, _mm256_mul_pd(c, e1)),
                chunks.ratios(1, at),
            );
            chunks.store(at, e2);
            (_mm256_mul_pd(w, e1), _mm256_mul_pd(w, e2))
        })
    }

    /// [`super::kernels::backward_fused`] for DNA with 4 lanes, the same bits: the two
    /// sums in two vectors (the generic loop's two accumulators are packed into
    /// two-lane vectors by the vectoriser).
    ///
    /// # Safety
    /// The CPU must have AVX2.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(super) unsafe fn backward_fused<const EMITTED: bool>(
        fg: &mut [f64],
        k: usize,
        b2f: &[f64],
        rows: [&[f64]; 2],
        to_background: f64,
        f2f0: f64,
    ) -> (f64, f64) {
        let chunks = Chunks::new(fg, k, b2f, rows);
        let (t, c) = (_mm256_set1_pd(to_background), _mm256_set1_pd(f2f0));
        // Without `EMITTED` this step's sum is the first; with it, the previous step
        // returned it and `two_sums` skips it.
        two_sums(k, !EMITTED, |at| {
            let (f, w) = chunks.load(at);
            let e = if EMITTED {
                f
            } else {
                _mm256_mul_pd(f, chunks.ratios(0, at))
            };
            let e_next = _mm256_mul_pd(_mm256_add_pd(t, _mm256_mul_pd(c, e)), chunks.ratios(1, at));
            chunks.store(at, e_next);
            (_mm256_mul_pd(w, e), _mm256_mul_pd(w, e_next))
        })
    }
}

/// Masks one sequence of letters.
pub fn tantan(letters: &[u8], options: TantanOptions) -> Result<Vec<(u64, u64)>> {
    Tantan::new(options)?.mask(letters)
}

/// Masks many sequences on up to `threads` threads (one sequence per job, the longest
/// first so that the threads finish together); results in input order, identical to one
/// thread. The first failing record (by index) wins and names its index.
pub fn tantan_records(
    records: &[&[u8]],
    options: TantanOptions,
    threads: usize,
) -> Result<Vec<Vec<(u64, u64)>>> {
    let model = Tantan::new(options)?;
    let mut order: Vec<usize> = (0..records.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(records[i].len()));
    let mut results = crate::util::pool::run_parallel(records.len(), threads, |j| {
        let i = order[j];
        (i, model.mask(records[i]))
    });
    results.sort_by_key(|&(i, _)| i);
    results
        .into_iter()
        .map(|(i, r)| r.map_err(|e| e.with_context(format!("record {i}"))))
        .collect()
}

/// tantan intervals of every record of a batch (letters, validated; a buffer of
/// concatenated records with `records + 1` offsets, as the FASTA/FASTQ batch reader gives
/// them), each record masked alone as [`tantan`] masks it, over `threads` threads;
/// intervals are `[start, end)` within their record.
pub fn tantan_batch(
    sequences: &[u8],
    offsets: &[i64],
    options: TantanOptions,
    threads: usize,
) -> Result<crate::genomic::reads::Ragged<(u64, u64)>> {
    Tantan::new(options)?;
    crate::segment::segments::check_offsets(offsets, sequences.len())?;
    let records: Vec<&[u8]> = offsets
        .windows(2)
        .map(|w| &sequences[w[0] as usize..w[1] as usize])
        .collect();
    let masks = tantan_records(&records, options, threads)?;
    let mut values = Vec::with_capacity(masks.iter().map(Vec::len).sum());
    let mut value_offsets = Vec::with_capacity(masks.len() + 1);
    value_offsets.push(0i64);
    for m in masks {
        values.extend(m);
        value_offsets.push(values.len() as i64);
    }
    Ok(crate::genomic::reads::Ragged {
        values,
        value_offsets,
    })
}

#[cfg(test)]
#[allow(clippy::needless_range_loop)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn model(options: TantanOptions) -> Tantan {
        Tantan::new(options).expect("valid options")
    }

    /// A textbook forward-backward over the states background, R_1..R_K, normalised at
    /// every position: the posterior of the background is `alpha_B beta_B / sum alpha
    /// beta`. Independent of the peer's rescaling, sum order and total.
    fn textbook(codes: &[u8], options: TantanOptions) -> Vec<f64> {
        let m = model(options);
        let ratios = &scoring(options.protein).likelihood;
        let n = codes.len();
        let k = m.max_period;
        let b2f: Vec<f64> = m.b2f_for(k.min(n + 1)).into_owned();
        let k = b2f.len();
        let ratio = |t: usize, period: usize| -> f64 {
            if t >= period {
                ratios[codes[t] as usize][codes[t - period] as usize & (ROW - 1)]
            } else {
                0.0
            }
        };
        // alpha[t] = [B, R_1..R_K] after emitting position t.
        let mut alpha = vec![vec![0.0f64; k + 1]; n];
        let mut prev = vec![0.0f64; k + 1];
        prev[0] = 1.0;
        for t in 0..n {
            let mut cur = vec![0.0f64; k + 1];
            let from_repeats: f64 = prev[1..].iter().sum();
            cur[0] = prev[0] * m.b2b + from_repeats * m.f2b;
            for p in 1..=k {
                cur[p] = (prev[0] * b2f[p - 1] + prev[p] * m.f2f0) * ratio(t, p);
            }
            let c: f64 = cur.iter().sum();
            cur.iter_mut().for_each(|x| *x /= c);
            alpha[t] = cur.clone();
            prev = cur;
        }
        let mut beta = vec![vec![0.0f64; k + 1]; n];
        let mut next = vec![m.f2b; k + 1];
        next[0] = m.b2b;
        for t in (0..n).rev() {
            beta[t] = next.clone();
            let mut cur = vec![0.0f64; k + 1];
            let to_repeats: f64 = (1..=k).map(|p| b2f[p - 1] * next[p] * ratio(t, p)).sum();
            cur[0] = m.b2b * next[0] + to_repeats;
            for p in 1..=k {
                cur[p] = m.f2b * next[0] + m.f2f0 * next[p] * ratio(t, p);
            }
            let c: f64 = cur.iter().sum();
            cur.iter_mut().for_each(|x| *x /= c);
            next = cur;
        }
        (0..n)
            .map(|t| {
                let joint: f64 = (0..=k).map(|s| alpha[t][s] * beta[t][s]).sum();
                1.0 - alpha[t][0] * beta[t][0] / joint
            })
            .collect()
    }

    /// The peer's computation literally (no pipelining, sums with `lanes` lanes in a
    /// plain loop): the pipelined kernels must match it bit for bit.
    fn literal(codes: &[u8], options: TantanOptions, lanes: usize) -> Vec<f32> {
        let m = model(options);
        let ratios = &scoring(options.protein).likelihood;
        let n = codes.len();
        let states = m.states(n);
        let b2f = m.b2f_for(states).into_owned();
        let ratio = |t: usize, i: usize| ratios[codes[t] as usize][codes[t - 1 - i] as usize];
        let lane_sum = |terms: &[f64]| -> f64 {
            let bulk = terms.len() - terms.len() % lanes;
            let mut acc = vec![0.0f64; lanes];
            for (i, &x) in terms[..bulk].iter().enumerate() {
                acc[i % lanes] += x;
            }
            let mut sum: f64 = acc.iter().sum();
            for &x in &terms[bulk..] {
                sum += x;
            }
            sum
        };
        let mut fg = vec![0.0f64; states];
        let mut bg = 1.0f64;
        let mut scales = vec![0.0f64; n / SCALE_STEP];
        let mut probs = vec![0.0f32; n];
        for pos in 0..n {
            let k = pos.min(states);
            let s = lane_sum(&fg[..k]);
            for i in 0..k {
                fg[i] = (bg * b2f[i] + fg[i] * m.f2f0) * ratio(pos, i);
            }
            bg = bg * m.b2b + s * m.f2b;
            if pos % SCALE_STEP == SCALE_STEP - 1 {
                let scale = 1.0 / bg;
                scales[pos / SCALE_STEP] = scale;
                bg *= scale;
                fg.iter_mut().for_each(|x| *x *= scale);
            }
            probs[pos] = bg as f32;
        }
        let total = bg * m.b2b + fg.iter().sum::<f64>() * m.f2b;
        bg = m.b2b;
        fg.fill(m.f2b);
        for pos in (0..n).rev() {
            probs[pos] = Run::posterior(probs[pos], bg, total);
            if pos % SCALE_STEP == SCALE_STEP - 1 {
                let scale = scales[pos / SCALE_STEP];
                bg *= scale;
                fg.iter_mut().for_each(|x| *x *= scale);
            }
            let k = pos.min(states);
            let to_background = m.f2b * bg;
            let mut terms = vec![0.0f64; k];
            for i in 0..k {
                let e = fg[i] * ratio(pos, i);
                terms[i] = b2f[i] * e;
                fg[i] = to_background + m.f2f0 * e;
            }
            bg = m.b2b * bg + lane_sum(&terms);
        }
        probs
    }

    /// DNA codes with tandem repeats of random units, random stretches and N runs.
    fn dna_codes() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(
            prop_oneof![
                (prop::collection::vec(0u8..4, 1..12), 1usize..20).prop_map(|(unit, copies)| {
                    unit.iter()
                        .cycle()
                        .take(unit.len() * copies)
                        .copied()
                        .collect::<Vec<u8>>()
                }),
                prop::collection::vec(0u8..4, 0..60),
                (1usize..8).prop_map(|n| vec![AMBIGUOUS; n]),
            ],
            0..12,
        )
        .prop_map(|parts| parts.concat())
    }

    #[test]
    fn dna_lambda_is_ln_3() {
        // Match +1, mismatch -1 over four equiprobable letters: e^lambda = 3.
        assert!((scoring(false).lambda - 3f64.ln()).abs() < 1e-12);
        assert!(scoring(true).lambda > 0.3 && scoring(true).lambda < 0.35);
    }

    #[test]
    fn options_out_of_range_name_value_and_limit() {
        let base = TantanOptions::default();
        let cases: Vec<(TantanOptions, &str)> = vec![
            (
                TantanOptions {
                    repeat_start: 1.0,
                    ..base
                },
                "repeat_start must be in [0, 1), got 1",
            ),
            (
                TantanOptions {
                    repeat_start: f64::NAN,
                    ..base
                },
                "repeat_start must be in [0, 1), got NaN",
            ),
            (
                TantanOptions {
                    repeat_end: 1.5,
                    ..base
                },
                "repeat_end must be in [0, 1], got 1.5",
            ),
            (
                TantanOptions { decay: 0.0, ..base },
                "decay must be a normal number in (0, 1], got 0",
            ),
            (
                TantanOptions {
                    decay: 1e-320,
                    ..base
                },
                "decay must be a normal number in (0, 1]",
            ),
            (
                TantanOptions {
                    threshold: -0.5,
                    ..base
                },
                "threshold must be in [0, 1], got -0.5",
            ),
            (
                TantanOptions {
                    max_period: Some(0),
                    ..base
                },
                "max_period must be in 1..=2147483647, got 0",
            ),
            (
                TantanOptions {
                    max_period: Some(1 << 40),
                    ..base
                },
                "max_period must be in 1..=2147483647",
            ),
            (
                TantanOptions {
                    gap_extend: Some(0),
                    ..base
                },
                "gap_extend must be at least 1",
            ),
            (
                TantanOptions {
                    gap_extend: Some(1),
                    ..base
                },
                "repeat_end + 2 * first_gap_probability must be at most 1",
            ),
        ];
        for (options, message) in cases {
            let err = Tantan::new(options).expect_err(message);
            assert_eq!(err.kind(), ErrorKind::InvalidParameter);
            assert!(
                err.message().contains(message),
                "{} vs {message}",
                err.message()
            );
        }
        assert!(Tantan::new(TantanOptions {
            gap_open: 1,
            gap_extend: Some(1),
            ..base
        })
        .is_ok());
    }

    #[test]
    fn bad_letters_and_codes_are_typed_errors() {
        let m = model(TantanOptions::default());
        let err = m.mask(b"ACGTX").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidSequence { position: 4 });
        let err = m.mask_codes(&[0, 1, 5]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::SymbolOutOfRange { index: 2 });
        let protein = model(TantanOptions {
            protein: true,
            ..TantanOptions::default()
        });
        assert!(protein.mask(b"MKV*-XBZ").is_ok());
        let err = protein.mask("MKVé".as_bytes()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidSequence { position: 3 });
    }

    #[test]
    fn short_and_empty_sequences() {
        let m = model(TantanOptions::default());
        assert!(m.mask(b"").unwrap().is_empty());
        assert_eq!(m.probabilities(b"A").unwrap(), vec![0.0]);
        assert_eq!(m.probabilities(b"N").unwrap(), vec![0.0]);
        assert!(m.mask(b"AC").unwrap().is_empty());
    }

    #[test]
    fn tandem_repeat_is_masked_and_case_does_not_matter() {
        let m = model(TantanOptions::default());
        let upper = b"GATTACAGGCTTACCGATGCAACGTACGTACGTACGTACGTACGTACGTTTGACGGATCCAGTAGCTTAC";
        let lower = upper.to_ascii_lowercase();
        let got = m.mask(upper).unwrap();
        assert_eq!(got, m.mask(&lower).unwrap());
        assert_eq!(got.len(), 1);
        let (s, e) = got[0];
        assert!(s <= 25 && e >= 45, "{got:?}");
    }

    #[test]
    fn huge_max_period_uses_memory_for_the_sequence_only() {
        let options = TantanOptions {
            max_period: Some(MAX_PERIOD_LIMIT),
            ..TantanOptions::default()
        };
        let seq: Vec<u8> = b"ACGGT".repeat(40);
        let probs = model(options).probabilities(&seq).unwrap();
        assert_eq!(probs.len(), seq.len());
        let reference = textbook(&model(options).encode(&seq).unwrap(), options);
        for (a, b) in probs.iter().zip(&reference) {
            assert!((f64::from(*a) - b).abs() < 1e-5);
        }
    }

    #[test]
    fn model_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Tantan>();
    }

    #[test]
    fn records_on_threads_equal_one_thread() {
        let seqs: Vec<Vec<u8>> = (0..9)
            .map(|i| {
                let unit = &b"ACGTTGCA"[..1 + i % 7];
                let mut s = b"GATTACAGGCTTACCGAT".to_vec();
                s.extend(unit.iter().cycle().take(30 + 7 * i));
                s.extend(b"NNNACGGT");
                s
            })
            .collect();
        let refs: Vec<&[u8]> = seqs.iter().map(|s| s.as_slice()).collect();
        let one = tantan_records(&refs, TantanOptions::default(), 1).unwrap();
        let four = tantan_records(&refs, TantanOptions::default(), 4).unwrap();
        assert_eq!(one, four);
        for (s, got) in refs.iter().zip(&one) {
            assert_eq!(*got, tantan(s, TantanOptions::default()).unwrap());
        }
        let mut bad = refs.clone();
        bad[3] = b"ACGT!";
        let err = tantan_records(&bad, TantanOptions::default(), 2).unwrap_err();
        assert!(err.message().starts_with("record 3: "), "{}", err.message());
    }

    #[test]
    fn batch_equals_records_one_by_one() {
        let seqs: [&[u8]; 3] = [
            b"ACGACGACGACGACGACGACGTTAG",
            b"",
            b"TTTTTTTTTTTTTTTTTTTTTTTTTTTT",
        ];
        let mut buffer = Vec::new();
        let mut offsets = vec![0i64];
        for s in seqs {
            buffer.extend_from_slice(s);
            offsets.push(buffer.len() as i64);
        }
        let got = tantan_batch(&buffer, &offsets, TantanOptions::default(), 3).unwrap();
        let mut want = Vec::new();
        for s in seqs {
            want.extend(tantan(s, TantanOptions::default()).unwrap());
        }
        assert_eq!(got.values, want);
        assert_eq!(got.value_offsets.len(), 4);
        assert!(tantan_batch(&buffer, &[0, 99], TantanOptions::default(), 1).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn intervals_equal_the_plain_scan(
            // Runs of one value, so that whole chunks fall inside and outside runs.
            runs in prop::collection::vec(
                (prop::sample::select(vec![0.0f32, 0.25, 0.5, 0.75, 1.0, f32::NAN]), 1usize..40),
                0..20,
            ),
            threshold in prop::sample::select(vec![0.0, 0.5, 0.6, 1.0]),
        ) {
            let probs: Vec<f32> = runs.iter().flat_map(|&(p, k)| std::iter::repeat_n(p, k)).collect();
            let mut want = Vec::new();
            let mut start = None;
            for (i, &p) in probs.iter().enumerate() {
                if f64::from(p) >= threshold {
                    start.get_or_insert(i as u64);
                } else if let Some(s) = start.take() {
                    want.push((s, i as u64));
                }
            }
            if let Some(s) = start {
                want.push((s, probs.len() as u64));
            }
            prop_assert_eq!(intervals_at(&probs, threshold), want);
        }

        #[test]
        fn kernels_equal_the_literal_computation(
            codes in dna_codes(),
            // Short periods, and around the DNA default (100) with every tail length.
            max_period in prop_oneof![1usize..40, 97usize..104],
            lanes in prop::sample::select(vec![1usize, 2, 4, 8]),
            repeat_start in prop::sample::select(vec![0.005, 0.05, 0.0]),
            decay in prop::sample::select(vec![0.9, 1.0, 0.5]),
        ) {
            let options = TantanOptions {
                max_period: Some(max_period),
                repeat_start,
                decay,
                ..TantanOptions::default()
            };
            let got = model(options).with_lanes(lanes).unwrap().probabilities_codes(&codes).unwrap();
            let want = literal(&codes, options, lanes);
            prop_assert_eq!(
                got.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                want.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
            );
        }

        #[test]
        fn posteriors_match_the_textbook_model(
            codes in dna_codes(),
            max_period in 1usize..30,
        ) {
            let options = TantanOptions { max_period: Some(max_period), ..TantanOptions::default() };
            let got = model(options).probabilities_codes(&codes).unwrap();
            let want = textbook(&codes, options);
            for (i, (a, b)) in got.iter().zip(&want).enumerate() {
                prop_assert!((f64::from(*a) - b).abs() < 1e-5, "position {}: {} vs {}", i, a, b);
            }
        }

        #[test]
        fn gapped_posteriors_are_probabilities(codes in dna_codes(), max_period in 1usize..30) {
            let options = TantanOptions {
                max_period: Some(max_period),
                gap_open: 3,
                gap_extend: Some(2),
                ..TantanOptions::default()
            };
            let probs = model(options).probabilities_codes(&codes).unwrap();
            prop_assert_eq!(probs.len(), codes.len());
            prop_assert!(probs.iter().all(|p| (0.0..=1.0).contains(p)));
        }
    }
}
