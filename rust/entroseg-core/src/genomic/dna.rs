//! DNA sequences: base classes, 2-bit encoding, intervals of ambiguous and soft-masked
//! bases, and per-record entropy profiles.
//!
//! Encoding is case-insensitive: `A C G T` (and `a c g t`) map to the codes `0 1 2 3`.
//! The other IUPAC nucleotide codes (`N R Y S W K M B D H V U`, either case) are
//! *ambiguous*: they get the code [`AMBIGUOUS`] (4), break every k-mer context that
//! would cross them, and are reported as intervals. Any other byte (a digit, `-`, `*`,
//! whitespace inside a sequence line, a non-ASCII byte ...) is not a nucleotide and is an
//! error naming its position. Lowercase letters mark soft-masked bases (the usual
//! convention of genome assemblies); their runs can be reported as intervals too.
//!
//! Intervals are 0-based and half-open, `[start, end)`, like BED.
//!
//! # Profiles
//!
//! [`DnaProfiler`] computes, over a sliding window of `W` bases (or the whole record):
//! - [`ProfileKind::Kmer`]: the Shannon entropy of the k-mers lying inside the window
//!   (`W - k + 1` of them), normalized by `ln(4^k)`;
//! - [`ProfileKind::Conditional`]: the conditional entropy `H(X_t | X_{t-k..t-1})` of a
//!   base given the `k` previous ones, from the `(k+1)`-grams inside the window,
//!   normalized by `ln 4`.
//!
//! Both run on the conditional-entropy estimator of [`crate::estimate::conditional`]
//! (a k-mer is a context-free symbol of an alphabet of `4^k`), so they inherit its exact
//! fixed-point sums: rolling values equal whole-record values of the same window bit for
//! bit, and any chunking of a record gives identical output. Ambiguous bases enter the
//! estimator as invalid symbols: a window containing one is NaN, and a whole-record value
//! of a record containing one is NaN (split the record at its ambiguous intervals to
//! profile the pieces).

use crate::error::{Error, ErrorKind, Result};
use crate::estimate::conditional::{ConditionalEstimator, ConditionalOptions, INVALID_SYMBOL};
use crate::estimate::context_model::{ContextModel, NextSymbolOptions};

/// Code of an ambiguous base (N or another IUPAC code).
pub const AMBIGUOUS: u8 = 4;
/// Class of a byte that is not a nucleotide letter.
pub const NOT_NUCLEOTIDE: u8 = 0xFF;

/// Largest k of a k-mer entropy profile (`4^k` k-mer codes stay below `INVALID_SYMBOL`).
pub const MAX_KMER: usize = 15;
/// Largest context of a conditional profile (a context of k bases plus the next one must
/// pack into 64 bits at 2 bits per base).
pub const MAX_CONTEXT: usize = 31;

const fn letter_classes() -> [u8; 256] {
    let mut t = [NOT_NUCLEOTIDE; 256];
    let bases = *b"ACGT";
    let mut i = 0;
    while i < 4 {
        t[bases[i] as usize] = i as u8;
        t[bases[i].to_ascii_lowercase() as usize] = i as u8;
        i += 1;
    }
    let ambiguous = *b"NRYSWKMBDHVU";
    let mut i = 0;
    while i < ambiguous.len() {
        t[ambiguous[i] as usize] = AMBIGUOUS;
        t[ambiguous[i].to_ascii_lowercase() as usize] = AMBIGUOUS;
        i += 1;
    }
    t
}

/// Class of each byte: `0..=3` for A/C/G/T (either case), [`AMBIGUOUS`] for the other
/// IUPAC codes, [`NOT_NUCLEOTIDE`] for anything else.
pub static LETTER_CLASS: [u8; 256] = letter_classes();

/// Describes a byte for an error message: the character when printable ASCII, its hex
/// value always.
pub fn describe_byte(b: u8) -> String {
    if b.is_ascii_graphic() {
        format!("'{}' (0x{b:02X})", b as char)
    } else {
        format!("byte 0x{b:02X}")
    }
}

/// The error for a byte that is not a nucleotide letter at `position` of a sequence.
pub fn invalid_base_error(byte: u8, position: u64) -> Error {
    Error::new(
        ErrorKind::InvalidSequence { position },
        format!(
            "{} at position {position} is not a nucleotide; expected A, C, G, T or an IUPAC \
             ambiguity code (N R Y S W K M B D H V U), in either case",
            describe_byte(byte)
        ),
    )
}

/// True for A, C, G or T in either case: `b | 0x20` folds only `A`/`a` onto `a` (and
/// so on), and the comparisons vectorize where a table look-up does not.
#[inline(always)]
fn is_acgt(b: u8) -> bool {
    let l = b | 0x20;
    (l == b'a') | (l == b'c') | (l == b'g') | (l == b't')
}

/// True when every byte is A, C, G or T (either case): the common case, checked a
/// vector at a time (several times faster than the class table).
pub fn all_acgt(seq: &[u8]) -> bool {
    seq.chunks(64)
        .all(|block| block.iter().fold(true, |ok, &b| ok & is_acgt(b)))
}

/// Index of the first byte that is not a nucleotide letter, if any.
pub fn first_invalid(seq: &[u8]) -> Option<usize> {
    // Branch-free checks per block first (the common, valid case), then locate.
    let valid = all_acgt(seq)
        || seq.chunks(64).all(|block| {
            block.iter().fold(true, |ok, &b| {
                ok & (LETTER_CLASS[b as usize] != NOT_NUCLEOTIDE)
            })
        });
    if valid {
        None
    } else {
        seq.iter()
            .position(|&b| LETTER_CLASS[b as usize] == NOT_NUCLEOTIDE)
    }
}

/// Checks that every byte is a nucleotide letter.
pub fn validate(seq: &[u8]) -> Result<()> {
    match first_invalid(seq) {
        Some(i) => Err(invalid_base_error(seq[i], i as u64)),
        None => Ok(()),
    }
}

/// Encodes letters into codes `0..=4` (appending to `codes`), validating every byte.
pub fn encode_into(seq: &[u8], codes: &mut Vec<u8>) -> Result<()> {
    validate(seq)?;
    codes.reserve(seq.len());
    codes.extend(seq.iter().map(|&b| LETTER_CLASS[b as usize]));
    Ok(())
}

/// Encodes letters into a new vector of codes `0..=4`.
pub fn encode(seq: &[u8]) -> Result<Vec<u8>> {
    let mut codes = Vec::new();
    encode_into(seq, &mut codes)?;
    Ok(codes)
}

/// Appends the maximal runs of positions where `pred` holds, as `[start, end)` pairs.
fn runs_into(seq: &[u8], pred: impl Fn(u8) -> bool, out: &mut Vec<(u64, u64)>) {
    let mut start: Option<usize> = None;
    for (i, &b) in seq.iter().enumerate() {
        match (pred(b), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push((s as u64, i as u64));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s as u64, seq.len() as u64));
    }
}

/// Runs of ambiguous letters (N and the other IUPAC codes), `[start, end)`.
pub fn ambiguous_intervals(seq: &[u8]) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    ambiguous_intervals_into(seq, &mut out);
    out
}

/// Like [`ambiguous_intervals`], appending to `out`.
pub fn ambiguous_intervals_into(seq: &[u8], out: &mut Vec<(u64, u64)>) {
    // Genomes are mostly A/C/G/T: skip the scan when no byte is ambiguous.
    if all_acgt(seq) {
        return;
    }
    let any = seq.chunks(64).any(|block| {
        block.iter().fold(false, |any, &b| {
            any | (LETTER_CLASS[b as usize] == AMBIGUOUS)
        })
    });
    if any {
        runs_into(seq, |b| LETTER_CLASS[b as usize] == AMBIGUOUS, out);
    }
}

/// Runs of lowercase (soft-masked) letters, `[start, end)`.
pub fn soft_masked_intervals(seq: &[u8]) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    soft_masked_intervals_into(seq, &mut out);
    out
}

/// Like [`soft_masked_intervals`], appending to `out`.
pub fn soft_masked_intervals_into(seq: &[u8], out: &mut Vec<(u64, u64)>) {
    let any = seq.chunks(64).any(|block| {
        block
            .iter()
            .fold(false, |any, &b| any | b.is_ascii_lowercase())
    });
    if any {
        runs_into(seq, |b| b.is_ascii_lowercase(), out);
    }
}

/// Which profile a [`DnaProfiler`] computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProfileKind {
    /// Shannon entropy of the k-mers inside the window.
    Kmer,
    /// Conditional entropy of a base given the `k` previous bases.
    Conditional,
    /// Entropy of the next-base prediction of an online context model of order `k`
    /// ([`crate::estimate::context_model`], Krichevsky-Trofimov with back-off), per base.
    NextEntropy,
    /// Surprisal `-ln P(base)` of each base under that prediction.
    NextSurprisal,
}

impl ProfileKind {
    /// Parses `"kmer"` / `"conditional"`.
    pub fn parse(s: &str) -> Result<Self> {
        Self::parse_named(s, "method")
    }

    /// [`parse`](Self::parse), naming the option `name` in the error (the spelling the
    /// caller used).
    pub fn parse_named(s: &str, name: &str) -> Result<Self> {
        match s {
            "kmer" => Ok(Self::Kmer),
            "conditional" => Ok(Self::Conditional),
            "next_entropy" => Ok(Self::NextEntropy),
            "next_surprisal" => Ok(Self::NextSurprisal),
            other => Err(Error::parameter(format!(
                "{name} must be 'kmer', 'conditional', 'next_entropy' or 'next_surprisal', \
                 got {other:?}"
            ))),
        }
    }

    /// The name [`ProfileKind::parse`] accepts.
    pub fn name(self) -> &'static str {
        match self {
            Self::Kmer => "kmer",
            Self::Conditional => "conditional",
            Self::NextEntropy => "next_entropy",
            Self::NextSurprisal => "next_surprisal",
        }
    }

    /// True for the per-base kinds of the online context model (no window).
    pub fn is_next_base(self) -> bool {
        matches!(self, Self::NextEntropy | Self::NextSurprisal)
    }
}

/// Options of a DNA profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProfileOptions {
    /// What to compute.
    pub kind: ProfileKind,
    /// k-mer length (`Kmer`, 1..=15) or number of context bases (`Conditional`, 0..=31).
    pub k: usize,
    /// Window in bases; `None` = whole record.
    pub window: Option<usize>,
    /// Divide by the maximum (`ln 4^k` for k-mers, `ln 4` for conditional entropy).
    pub normalize: bool,
}

impl Default for ProfileOptions {
    fn default() -> Self {
        Self {
            kind: ProfileKind::Conditional,
            k: 3,
            window: None,
            normalize: true,
        }
    }
}

impl ProfileOptions {
    /// Bases a window (or a whole record) needs for one value.
    pub fn min_bases(&self) -> usize {
        match self.kind {
            ProfileKind::Kmer => self.k,
            ProfileKind::Conditional => self.k + 1,
            ProfileKind::NextEntropy | ProfileKind::NextSurprisal => 1,
        }
    }

    /// True when the profiler writes one value per base (a window, or a next-base kind).
    pub fn per_base(&self) -> bool {
        self.window.is_some() || self.kind.is_next_base()
    }

    fn validate(&self) -> Result<()> {
        let (range, what) = match self.kind {
            ProfileKind::Kmer => (1..=MAX_KMER, "k (the k-mer length)"),
            ProfileKind::Conditional => (0..=MAX_CONTEXT, "context (the number of context bases)"),
            ProfileKind::NextEntropy | ProfileKind::NextSurprisal => {
                (0..=MAX_CONTEXT, "context (the context model's length)")
            }
        };
        if self.kind.is_next_base() && self.window.is_some() {
            return Err(Error::parameter(format!(
                "method='{}' is a per-base profile of an online model: window does not apply \
                 (got window={})",
                self.kind.name(),
                self.window.unwrap_or(0)
            )));
        }
        if !range.contains(&self.k) {
            return Err(Error::parameter(format!(
                "{what} must be in {}..={} for method='{}', got {}",
                range.start(),
                range.end(),
                self.kind.name(),
                self.k
            )));
        }
        if let Some(w) = self.window {
            let need = self.min_bases();
            if w < need || w > u32::MAX as usize {
                return Err(Error::parameter(format!(
                    "window must be in {need}..={} bases for method='{}' with {}={} (one {} \
                     needs {need} bases), got {w}",
                    u32::MAX,
                    self.kind.name(),
                    if self.kind == ProfileKind::Kmer {
                        "k"
                    } else {
                        "context"
                    },
                    self.k,
                    match self.kind {
                        ProfileKind::Kmer => "k-mer",
                        _ => "base with its k-base context",
                    }
                )));
            }
        }
        Ok(())
    }
}

/// Streaming DNA profile of one record: feed codes (or letters) in chunks of any size;
/// the output is identical whatever the chunking.
#[derive(Debug, Clone)]
pub struct DnaProfiler {
    options: ProfileOptions,
    inner: ConditionalEstimator,
    /// The context model of the next-base kinds, with the running sum and count of its
    /// outputs over unambiguous bases (the whole-record value is their mean).
    model: Option<(Box<ContextModel>, f64, u64)>,
    /// Rolling k-mer code and the number of valid bases ending here (`Kmer` only).
    kmer: u64,
    valid_run: usize,
    seen: u64,
    symbols: Vec<u32>,
    /// Base codes of a run, for the context model (reused between calls).
    codes: Vec<u8>,
}

impl DnaProfiler {
    /// Validates options and builds a fresh profiler.
    pub fn new(options: ProfileOptions) -> Result<Self> {
        options.validate()?;
        let model = if options.kind.is_next_base() {
            let m = ContextModel::new(NextSymbolOptions {
                order: options.k,
                alphabet_size: 4,
                alpha: 0.5,
                min_count: 1,
                reset_symbol: None,
                normalize: options.normalize,
            })?;
            Some((Box::new(m), 0.0, 0))
        } else {
            None
        };
        let inner_options = match options.kind {
            // A k-mer is one symbol of an alphabet of 4^k; the window of W bases holds
            // W - k + 1 k-mers.
            ProfileKind::Kmer => ConditionalOptions {
                context: 0,
                alphabet_size: 1 << (2 * options.k),
                window: options.window.map(|w| w - options.k + 1),
                normalize: options.normalize,
                lag: 1,
            },
            ProfileKind::Conditional => ConditionalOptions {
                context: options.k,
                alphabet_size: 4,
                window: options.window,
                normalize: options.normalize,
                lag: 1,
            },
            // Unused by the next-base kinds: a minimal estimator keeps the type simple.
            ProfileKind::NextEntropy | ProfileKind::NextSurprisal => ConditionalOptions {
                context: 0,
                alphabet_size: 4,
                window: None,
                normalize: options.normalize,
                lag: 1,
            },
        };
        let inner = ConditionalEstimator::with_limit(inner_options, 1 << (2 * MAX_KMER))?;
        Ok(Self {
            options,
            inner,
            model,
            kmer: 0,
            valid_run: 0,
            seen: 0,
            symbols: Vec::new(),
            codes: Vec::new(),
        })
    }

    /// The options.
    pub fn options(&self) -> &ProfileOptions {
        &self.options
    }

    /// Bases seen so far.
    pub fn bases_seen(&self) -> u64 {
        self.seen
    }

    /// Back to a fresh state (for the next record).
    pub fn reset(&mut self) {
        self.inner.reset();
        if let Some((m, sum, count)) = &mut self.model {
            m.reset();
            *sum = 0.0;
            *count = 0;
        }
        self.kmer = 0;
        self.valid_run = 0;
        self.seen = 0;
    }

    fn check_out(&self, n: usize, out: usize) -> Result<()> {
        let expected = if self.options.per_base() { n } else { 0 };
        if out != expected {
            return Err(Error::parameter(format!(
                "output buffer has length {out}, expected {expected}"
            )));
        }
        Ok(())
    }

    /// Feeds codes `0..=4` (as [`encode`] gives). Rolling mode writes one value per base
    /// into `out`; whole-record mode takes an empty `out`. A code above 4 fails the call
    /// before any state changes.
    pub fn update_codes(&mut self, codes: &[u8], out: &mut [f64]) -> Result<()> {
        self.check_out(codes.len(), out.len())?;
        if let Some(i) = codes.iter().position(|&c| c > AMBIGUOUS) {
            return Err(Error::new(
                ErrorKind::SymbolOutOfRange { index: i },
                format!(
                    "code {} at index {i} is not a base code: expected 0..=3 for A, C, G, T \
                     and 4 for an ambiguous base",
                    codes[i]
                ),
            ));
        }
        self.feed(codes, out, |c| c);
        Ok(())
    }

    /// Feeds letters (validated: a byte that is not a nucleotide letter fails the call,
    /// naming its position counted from the first base of the record).
    pub fn update_letters(&mut self, letters: &[u8], out: &mut [f64]) -> Result<()> {
        self.check_out(letters.len(), out.len())?;
        if let Some(i) = first_invalid(letters) {
            return Err(invalid_base_error(letters[i], self.seen + i as u64));
        }
        self.feed(letters, out, |b| LETTER_CLASS[b as usize]);
        Ok(())
    }

    /// Translates blocks of input into estimator symbols (`INVALID_SYMBOL` for ambiguous
    /// bases and incomplete k-mers) and pushes them.
    fn feed(&mut self, input: &[u8], out: &mut [f64], class: impl Fn(u8) -> u8) {
        const BLOCK: usize = 1 << 14;
        if let Some((model, sum, count)) = &mut self.model {
            // Runs of unambiguous bases go to the model in bulk; an ambiguous base gets
            // NaN and empties the context (it breaks k-mer contexts, as elsewhere).
            let surprisal = self.options.kind == ProfileKind::NextSurprisal;
            let mut codes = std::mem::take(&mut self.codes);
            let mut i = 0;
            while i < input.len() {
                let c = class(input[i]);
                if c >= AMBIGUOUS {
                    out[i] = f64::NAN;
                    model.break_context();
                    i += 1;
                    continue;
                }
                let run = input[i..]
                    .iter()
                    .take(BLOCK)
                    .take_while(|&&x| class(x) < AMBIGUOUS)
                    .count();
                codes.clear();
                codes.extend(input[i..i + run].iter().map(|&x| class(x)));
                let dst = &mut out[i..i + run];
                let result = if surprisal {
                    model.update_surprisal(&codes, dst)
                } else {
                    model.update_entropy(&codes, dst)
                };
                result.expect("codes are in 0..4 and buffers sized");
                *sum += dst.iter().sum::<f64>();
                *count += run as u64;
                i += run;
            }
            self.seen += input.len() as u64;
            self.codes = codes;
            return;
        }
        let rolling = self.options.window.is_some();
        let mut symbols = std::mem::take(&mut self.symbols);
        for (b, block) in input.chunks(BLOCK).enumerate() {
            symbols.clear();
            match self.options.kind {
                // The next-base kinds returned above; they read like Conditional here.
                ProfileKind::Conditional
                | ProfileKind::NextEntropy
                | ProfileKind::NextSurprisal => symbols.extend(block.iter().map(|&x| {
                    let c = class(x);
                    if c < AMBIGUOUS {
                        c as u32
                    } else {
                        INVALID_SYMBOL
                    }
                })),
                ProfileKind::Kmer => {
                    let k = self.options.k;
                    let mask = (1u64 << (2 * k)) - 1;
                    let (mut kmer, mut run) = (self.kmer, self.valid_run);
                    symbols.extend(block.iter().map(|&x| {
                        let c = class(x);
                        if c < AMBIGUOUS {
                            kmer = ((kmer << 2) | c as u64) & mask;
                            run = (run + 1).min(k);
                        } else {
                            run = 0;
                        }
                        if run == k {
                            kmer as u32
                        } else {
                            INVALID_SYMBOL
                        }
                    }));
                    self.kmer = kmer;
                    self.valid_run = run;
                }
            }
            let start = b * BLOCK;
            if rolling {
                self.inner
                    .push(&symbols, &mut out[start..start + block.len()]);
            } else {
                // Whole-record mode: the first k - 1 positions of a k-mer profile are the
                // k-mer warm-up, not ambiguous bases; they must not make the value NaN.
                let skip = match self.options.kind {
                    ProfileKind::Kmer => {
                        let warmup = (self.options.k - 1) as u64;
                        (warmup.saturating_sub(self.seen + start as u64) as usize)
                            .min(symbols.len())
                    }
                    _ => 0,
                };
                self.inner.push(&symbols[skip..], &mut []);
            }
        }
        self.seen += input.len() as u64;
        self.symbols = symbols;
    }

    /// Whole-record value of everything fed so far (NaN if an ambiguous base was seen).
    pub fn value(&self) -> Result<f64> {
        if let Some((_, sum, count)) = &self.model {
            // The model's mean entropy (or surprisal: its cross-entropy rate) per base.
            if *count == 0 {
                return Err(Error::new(
                    ErrorKind::EmptyInput,
                    format!(
                        "a whole-record {} value needs at least one unambiguous base",
                        self.options.kind.name()
                    ),
                ));
            }
            return Ok(sum / *count as f64);
        }
        if self.options.window.is_some() {
            return Err(Error::parameter(
                "value() is for whole-record profiles (window=None)",
            ));
        }
        let need = self.options.min_bases() as u64;
        if self.seen < need {
            return Err(Error::new(
                ErrorKind::EmptyInput,
                format!(
                    "a whole-record {} profile with k={} needs at least {need} bases, got {}",
                    self.options.kind.name(),
                    self.options.k,
                    self.seen
                ),
            ));
        }
        self.inner.value()
    }
}

/// Rolling profile of a record given as codes `0..=4`.
pub fn profile_codes(codes: &[u8], options: ProfileOptions) -> Result<Vec<f64>> {
    if options.window.is_none() {
        return Err(Error::parameter("a rolling profile needs a window"));
    }
    let mut p = DnaProfiler::new(options)?;
    let mut out = vec![0.0; codes.len()];
    p.update_codes(codes, &mut out)?;
    Ok(out)
}

/// Whole-record profile value of a record given as codes `0..=4`.
pub fn whole_record_codes(codes: &[u8], options: ProfileOptions) -> Result<f64> {
    let mut p = DnaProfiler::new(ProfileOptions {
        window: None,
        ..options
    })?;
    p.update_codes(codes, &mut [])?;
    p.value()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    fn pseudo_random_dna(seed: u64, n: usize, alphabet: &[u8]) -> Vec<u8> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                alphabet[(s % alphabet.len() as u64) as usize]
            })
            .collect()
    }

    /// Plug-in Shannon entropy of the k-mers of `seq` (letters, ACGT only), in nats.
    fn reference_kmer_entropy(seq: &[u8], k: usize) -> f64 {
        let mut counts: HashMap<&[u8], f64> = HashMap::new();
        for w in seq.windows(k) {
            *counts.entry(w).or_default() += 1.0;
        }
        let n: f64 = counts.values().sum();
        -counts.values().map(|c| c / n * (c / n).ln()).sum::<f64>()
    }

    /// Plug-in H(X | k previous) of `seq` (ACGT only), in nats.
    fn reference_conditional(seq: &[u8], k: usize) -> f64 {
        let mut joint: HashMap<&[u8], f64> = HashMap::new();
        let mut ctx: HashMap<&[u8], f64> = HashMap::new();
        for w in seq.windows(k + 1) {
            *joint.entry(w).or_default() += 1.0;
            *ctx.entry(&w[..k]).or_default() += 1.0;
        }
        let n: f64 = joint.values().sum();
        joint
            .iter()
            .map(|(g, c)| -(c / n) * (c / ctx[&g[..k]]).ln())
            .sum()
    }

    #[test]
    fn acgt_check_agrees_with_the_class_table() {
        for b in 0..=255u8 {
            assert_eq!(is_acgt(b), LETTER_CLASS[b as usize] < AMBIGUOUS, "byte {b}");
        }
        assert!(all_acgt(b"") && all_acgt(b"ACGTacgt") && !all_acgt(b"ACGN"));
    }

    #[test]
    fn classes_and_encoding() {
        assert_eq!(encode(b"ACGTacgt").unwrap(), [0, 1, 2, 3, 0, 1, 2, 3]);
        for b in b"NRYSWKMBDHVUnrysw".iter() {
            assert_eq!(LETTER_CLASS[*b as usize], AMBIGUOUS, "{}", *b as char);
        }
        for b in b"-.*0 EFIJLOPQXZ>\t".iter() {
            assert_eq!(LETTER_CLASS[*b as usize], NOT_NUCLEOTIDE, "{}", *b as char);
        }
        let e = encode(b"ACGTNNXA").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidSequence { position: 6 });
        assert!(e.message().contains("'X' (0x58) at position 6"), "{e}");
        let e = validate(&[b'A', 0xC3, 0xA9]).unwrap_err();
        assert!(e.message().contains("byte 0xC3 at position 1"), "{e}");
    }

    #[test]
    fn intervals_are_half_open_runs() {
        let seq = b"NNacgTNRyaAAn";
        assert_eq!(ambiguous_intervals(seq), [(0, 2), (6, 9), (12, 13)]);
        assert_eq!(soft_masked_intervals(seq), [(2, 5), (8, 10), (12, 13)]);
        assert!(ambiguous_intervals(b"ACGT").is_empty());
        assert!(soft_masked_intervals(b"").is_empty());
    }

    #[test]
    fn kmer_and_conditional_profiles_match_references() {
        let seq = pseudo_random_dna(7, 700, b"AACGTTTG");
        let codes = encode(&seq).unwrap();
        for k in [1usize, 2, 3, 6] {
            for normalize in [false, true] {
                let o = ProfileOptions {
                    kind: ProfileKind::Kmer,
                    k,
                    window: None,
                    normalize,
                };
                let got = whole_record_codes(&codes, o).unwrap();
                let mut want = reference_kmer_entropy(&seq, k);
                if normalize {
                    want /= (4f64).powi(k as i32).ln();
                }
                assert!((got - want).abs() < 1e-12, "kmer k={k}: {got} vs {want}");
            }
            let o = ProfileOptions {
                kind: ProfileKind::Conditional,
                k,
                window: None,
                normalize: false,
            };
            let got = whole_record_codes(&codes, o).unwrap();
            let want = reference_conditional(&seq, k);
            assert!((got - want).abs() < 1e-12, "cond k={k}: {got} vs {want}");
        }
    }

    #[test]
    fn rolling_alignment_nan_and_whole_window_identity() {
        let mut seq = pseudo_random_dna(3, 400, b"ACGT");
        seq[200] = b'N';
        let codes = encode(&seq).unwrap();
        for (kind, k, w) in [
            (ProfileKind::Kmer, 3usize, 40usize),
            (ProfileKind::Kmer, 12, 40),
            (ProfileKind::Conditional, 2, 30),
            (ProfileKind::Conditional, 0, 5),
        ] {
            let o = ProfileOptions {
                kind,
                k,
                window: Some(w),
                normalize: true,
            };
            let roll = profile_codes(&codes, o).unwrap();
            assert_eq!(roll.len(), codes.len());
            for t in 0..codes.len() {
                let covers_n = t >= 200 && t < 200 + w;
                if t + 1 < w || covers_n {
                    assert!(roll[t].is_nan(), "{kind:?} k={k} t={t}");
                } else {
                    let want = whole_record_codes(&codes[t + 1 - w..=t], o).unwrap();
                    assert_eq!(roll[t].to_bits(), want.to_bits(), "{kind:?} k={k} t={t}");
                }
            }
            assert!(whole_record_codes(&codes, o).unwrap().is_nan());
        }
    }

    #[test]
    fn next_base_profiles_follow_the_context_model_and_break_at_ambiguous_bases() {
        let seq = pseudo_random_dna(5, 3000, b"ACGTACGTAAAACCCG");
        let codes = encode(&seq).unwrap();
        for (kind, surprisal) in [
            (ProfileKind::NextEntropy, false),
            (ProfileKind::NextSurprisal, true),
        ] {
            let options = ProfileOptions {
                kind,
                k: 4,
                window: None,
                normalize: true,
            };
            let mut p = DnaProfiler::new(options).unwrap();
            let mut out = vec![0.0; seq.len()];
            p.update_letters(&seq, &mut out).unwrap();
            let (h, q) = crate::estimate::context_model::next_symbol_entropy(
                &codes,
                NextSymbolOptions {
                    order: 4,
                    alphabet_size: 4,
                    ..Default::default()
                },
            )
            .unwrap();
            assert_eq!(out, if surprisal { q.clone() } else { h.clone() });
            let mean = out.iter().sum::<f64>() / out.len() as f64;
            assert!((p.value().unwrap() - mean).abs() < 1e-12);
        }
        // An ambiguous base: NaN there, and the next base is predicted without context.
        let options = ProfileOptions {
            kind: ProfileKind::NextSurprisal,
            k: 3,
            window: None,
            normalize: false,
        };
        let seq = b"ACGTACGTACGTNACGTACGTNNACGT";
        let mut whole = vec![0.0; seq.len()];
        DnaProfiler::new(options)
            .unwrap()
            .update_letters(seq, &mut whole)
            .unwrap();
        assert!(whole[12].is_nan() && whole[21].is_nan() && whole[22].is_nan());
        assert!(whole.iter().filter(|v| v.is_nan()).count() == 3);
        let mut model = ContextModel::new(NextSymbolOptions {
            order: 3,
            alphabet_size: 4,
            normalize: false,
            ..Default::default()
        })
        .unwrap();
        let mut want = Vec::new();
        for &b in seq.iter() {
            if b == b'N' {
                model.break_context();
                want.push(f64::NAN);
            } else {
                let (mut h, mut q) = ([0.0], [0.0]);
                model
                    .update(&[LETTER_CLASS[b as usize]], &mut h, &mut q)
                    .unwrap();
                want.push(q[0]);
            }
        }
        assert!(whole
            .iter()
            .zip(&want)
            .all(|(a, b)| a.to_bits() == b.to_bits()));
        // Any chunking gives the same values.
        let mut p = DnaProfiler::new(options).unwrap();
        let mut chunked = vec![0.0; seq.len()];
        for (a, b) in [(0, 5), (5, 13), (13, 13), (13, 27)] {
            p.update_letters(&seq[a..b], &mut chunked[a..b]).unwrap();
        }
        assert!(whole
            .iter()
            .zip(&chunked)
            .all(|(a, b)| a.to_bits() == b.to_bits()));
        // A window does not apply.
        let e = DnaProfiler::new(ProfileOptions {
            window: Some(10),
            ..options
        })
        .unwrap_err();
        assert!(e.message().contains("window does not apply"));
    }

    #[test]
    fn errors_name_values_and_limits() {
        let o = |kind, k, window| ProfileOptions {
            kind,
            k,
            window,
            normalize: true,
        };
        let e = DnaProfiler::new(o(ProfileKind::Kmer, 0, None)).unwrap_err();
        assert!(e.message().contains("1..=15"), "{e}");
        let e = DnaProfiler::new(o(ProfileKind::Kmer, 16, None)).unwrap_err();
        assert!(e.message().contains("got 16"), "{e}");
        let e = DnaProfiler::new(o(ProfileKind::Conditional, 32, None)).unwrap_err();
        assert!(e.message().contains("0..=31"), "{e}");
        let e = DnaProfiler::new(o(ProfileKind::Conditional, 3, Some(3))).unwrap_err();
        assert!(e.message().contains("window must be in 4..="), "{e}");
        let e = whole_record_codes(&[0, 1], o(ProfileKind::Kmer, 3, None)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::EmptyInput);
        let e = profile_codes(&[0, 5], o(ProfileKind::Kmer, 1, Some(1))).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::SymbolOutOfRange { index: 1 });
        let mut p = DnaProfiler::new(o(ProfileKind::Kmer, 2, Some(4))).unwrap();
        let mut out = [0.0; 3];
        p.update_letters(b"ACG", &mut out).unwrap();
        let e = p.update_letters(b"A-C", &mut out).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidSequence { position: 4 });
        assert!(ProfileKind::parse("entropy").is_err());
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<DnaProfiler>();
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Any chunking of a record gives bit-identical output, letters or codes.
        #[test]
        fn chunking_is_invisible(
            seq in proptest::collection::vec(prop::sample::select(b"ACGTacgtNnRy".to_vec()), 0..300),
            cuts in proptest::collection::vec(0usize..300, 0..6),
            kmer in any::<bool>(),
            k in 0usize..5,
            w in 1usize..40,
        ) {
            let kind = if kmer { ProfileKind::Kmer } else { ProfileKind::Conditional };
            let k = if kmer { k + 1 } else { k };
            let w = w + k + 1;
            let o = ProfileOptions { kind, k, window: Some(w), normalize: true };
            let codes = encode(&seq).unwrap();
            let one = profile_codes(&codes, o).unwrap();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(seq.len())).collect();
            cuts.sort_unstable();
            let mut p = DnaProfiler::new(o).unwrap();
            let mut got = Vec::new();
            let mut prev = 0;
            for &c in cuts.iter().chain(std::iter::once(&seq.len())) {
                let mut out = vec![0.0; c - prev];
                p.update_letters(&seq[prev..c], &mut out).unwrap();
                got.extend(out);
                prev = c;
            }
            prop_assert!(got.iter().zip(&one).all(|(a, b)| a.to_bits() == b.to_bits()));
            let whole = ProfileOptions { window: None, ..o };
            let mut p = DnaProfiler::new(whole).unwrap();
            let mut prev = 0;
            for &c in cuts.iter().chain(std::iter::once(&seq.len())) {
                p.update_codes(&codes[prev..c], &mut []).unwrap();
                prev = c;
            }
            match (p.value(), whole_record_codes(&codes, whole)) {
                (Ok(a), Ok(b)) => prop_assert_eq!(a.to_bits(), b.to_bits()),
                (Err(a), Err(b)) => prop_assert_eq!(a, b),
                (a, b) => prop_assert!(false, "{:?} vs {:?}", a, b),
            }
        }

        /// Arbitrary bytes never panic: they are validated or rejected with a position.
        #[test]
        fn arbitrary_bytes_are_rejected_cleanly(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            match encode(&bytes) {
                Ok(codes) => prop_assert!(codes.iter().all(|&c| c <= AMBIGUOUS)),
                Err(e) => match e.kind() {
                    ErrorKind::InvalidSequence { position } => {
                        prop_assert_eq!(LETTER_CLASS[bytes[position as usize] as usize], NOT_NUCLEOTIDE);
                        prop_assert!(bytes[..position as usize].iter().all(|&b| LETTER_CLASS[b as usize] != NOT_NUCLEOTIDE));
                    }
                    other => prop_assert!(false, "unexpected kind {:?}", other),
                },
            }
            let amb = ambiguous_intervals(&bytes);
            let soft = soft_masked_intervals(&bytes);
            for &(s, e) in amb.iter().chain(&soft) {
                prop_assert!(s < e && e as usize <= bytes.len());
            }
        }
    }
}
