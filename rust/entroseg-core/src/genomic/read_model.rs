//! The next-base surprisal of one short record, as a fresh
//! [`ContextModel`](crate::estimate::context_model::ContextModel) gives it (order `k`,
//! alphabet 4, `alpha = 1/2`, `min_count = 1`, a context emptied at every ambiguous
//! base: the model of [`DnaProfiler`](crate::genomic::dna::DnaProfiler)'s
//! `next_surprisal`), in the few operations a base needs.
//!
//! The general model keeps, per context of every length, a record of totals, distinct
//! symbols and a 128-bit running sum, and a separate table of joint counts; the tables
//! are cleared for each record. Here a context's four counts are 16-bit lanes of one
//! `u64`: its total is their sum (one multiplication), "seen at least once" (the back-off
//! test with `min_count = 1`) is a non-zero word, and counting a base is one addition.
//! The surprisal is the same evaluation, `(ln(N + 2) - ln(c + 1/2)).max(0) * norm`, with
//! the logarithms tabulated exactly as the general model tabulates them, so the values
//! are bit-identical (tested against it). Records of 65,536 bases or more (a lane could
//! overflow) and contexts longer than [`MAX_READ_ORDER`] take the general model.

use crate::error::Result;
use crate::genomic::dna::{first_invalid, invalid_base_error, AMBIGUOUS, LETTER_CLASS};
use std::sync::OnceLock;

/// Longest context the packed tables serve (`(4^(k+1) - 1) / 3` words: 87,381 at 8).
pub const MAX_READ_ORDER: usize = 8;
/// Longest record the 16-bit lanes can count.
pub const MAX_READ_LEN: usize = u16::MAX as usize;
/// Tabulated logarithms (counts of a short record stay far below).
const LN_LEN: usize = 1024;
/// Tables up to this many words are cleared whole; larger ones word by word.
const CLEAR_WHOLE: usize = 1024;

/// `ln(n + 2)` and `ln(c + 1/2)` for counts below [`LN_LEN`], evaluated as the general
/// model evaluates them (`n as u32 as f64 + a * alpha`, then `ln`).
fn ln_tables() -> &'static ([f64; LN_LEN], [f64; LN_LEN]) {
    static TABLES: OnceLock<([f64; LN_LEN], [f64; LN_LEN])> = OnceLock::new();
    TABLES.get_or_init(|| {
        let mut total = [0.0; LN_LEN];
        let mut count = [0.0; LN_LEN];
        for n in 0..LN_LEN {
            total[n] = (n as u32 as f64 + A_ALPHA).ln();
            count[n] = (n as u32 as f64 + ALPHA).ln();
        }
        (total, count)
    })
}

const ALPHA: f64 = 0.5;
const A_ALPHA: f64 = 4.0 * ALPHA;

/// A fresh next-base model per record, surprisal only (see the module).
#[derive(Debug, Clone)]
pub struct ReadSurprisal {
    order: usize,
    norm: f64,
    /// Four 16-bit counts per context; order `j`'s contexts from `offset[j]`.
    counts: Vec<u64>,
    offset: [usize; MAX_READ_ORDER + 1],
    /// Words made non-zero by the current record (large tables only).
    touched: Vec<u32>,
    ln_total: &'static [f64; LN_LEN],
    ln_count: &'static [f64; LN_LEN],
}

impl ReadSurprisal {
    /// The model of order `order` (at most [`MAX_READ_ORDER`]); `normalize` scales by
    /// `1 / ln 4`. `None` for a longer context.
    pub fn new(order: usize, normalize: bool) -> Option<Self> {
        if order > MAX_READ_ORDER {
            return None;
        }
        let mut offset = [0usize; MAX_READ_ORDER + 1];
        let mut words = 0;
        for (j, o) in offset.iter_mut().enumerate().take(order + 1) {
            *o = words;
            words += 1 << (2 * j);
        }
        let (ln_total, ln_count) = ln_tables();
        Some(Self {
            order,
            norm: if normalize { 1.0 / 4f64.ln() } else { 1.0 },
            counts: vec![0; words],
            offset,
            touched: Vec::new(),
            ln_total,
            ln_count,
        })
    }

    /// Writes the surprisal of every base of `letters` (a fresh model: nothing carries
    /// over from an earlier record) into `out`, NaN at ambiguous bases. A byte that is
    /// not a nucleotide letter fails the call (its position counted from the record's
    /// first base). `letters` must be shorter than [`MAX_READ_LEN`] and `out` as long.
    pub fn record(&mut self, letters: &[u8], out: &mut [f64]) -> Result<()> {
        debug_assert!(letters.len() < MAX_READ_LEN && out.len() == letters.len());
        if let Some(i) = first_invalid(letters) {
            return Err(invalid_base_error(letters[i], i as u64));
        }
        match self.order {
            0 => self.run::<0>(letters, out),
            1 => self.run::<1>(letters, out),
            2 => self.run::<2>(letters, out),
            3 => self.run::<3>(letters, out),
            4 => self.run::<4>(letters, out),
            5 => self.run::<5>(letters, out),
            6 => self.run::<6>(letters, out),
            7 => self.run::<7>(letters, out),
            _ => self.run::<8>(letters, out),
        }
        Ok(())
    }

    /// [`record`](Self::record) at order `K` (validated letters): the loops over the
    /// context lengths unrolled, lengths beyond the usable context masked rather than
    /// branched on.
    fn run<const K: usize>(&mut self, letters: &[u8], out: &mut [f64]) {
        let whole = self.counts.len() <= CLEAR_WHOLE;
        let counts = &mut self.counts[..];
        let offset = self.offset;
        let (ln_total, ln_count, norm) = (self.ln_total, self.ln_count, self.norm);
        let mut history = 0u64;
        let mut available = 0usize;
        for (&b, q) in letters.iter().zip(out.iter_mut()) {
            let x = LETTER_CLASS[b as usize];
            if x >= AMBIGUOUS {
                *q = f64::NAN;
                available = 0;
                continue;
            }
            // Every context's word (independent loads), then the back-off: the longest
            // usable context seen at least once (min_count = 1), else the empty one.
            let mut at = [0usize; MAX_READ_ORDER + 1];
            let mut seen = 1u32;
            for j in 1..=K {
                at[j] = offset[j] + (history & ((1u64 << (2 * j)) - 1)) as usize;
                seen |= ((counts[at[j]] != 0 && j <= available) as u32) << j;
            }
            let word = counts[at[(31 - seen.leading_zeros()) as usize]];
            let total = (word.wrapping_mul(0x0001_0001_0001_0001) >> 48) as usize;
            let count = ((word >> (16 * x)) & 0xffff) as usize;
            let ln_m = match ln_total.get(total) {
                Some(&v) => v,
                None => (total as f64 + A_ALPHA).ln(),
            };
            let ln_c = match ln_count.get(count) {
                Some(&v) => v,
                None => (count as f64 + ALPHA).ln(),
            };
            *q = (ln_m - ln_c).max(0.0) * norm;
            // Counted in every usable context (0 added beyond it).
            let one = 1u64 << (16 * x);
            for (j, &a) in at.iter().enumerate().take(K + 1) {
                let usable = j <= available;
                if !whole && usable && counts[a] == 0 {
                    self.touched.push(a as u32);
                }
                counts[a] += one * usable as u64;
            }
            if K > 0 {
                history = (history << 2) | x as u64;
                available = (available + 1).min(K);
            }
        }
        if whole {
            counts.fill(0);
        } else {
            for &at in &self.touched {
                counts[at as usize] = 0;
            }
            self.touched.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::genomic::dna::{DnaProfiler, ProfileKind, ProfileOptions};
    use proptest::prelude::*;

    fn reference(letters: &[u8], k: usize, normalize: bool) -> Result<Vec<f64>> {
        let mut p = DnaProfiler::new(ProfileOptions {
            kind: ProfileKind::NextSurprisal,
            k,
            window: None,
            normalize,
        })?;
        let mut out = vec![0.0; letters.len()];
        p.update_letters(letters, &mut out)?;
        Ok(out)
    }

    fn same_bits(a: &[f64], b: &[f64]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]
        /// Bit-identical to the general model's profile, record after record with the
        /// same model (its reset is complete), ambiguous bases and every order included.
        #[test]
        fn matches_the_general_model(
            records in proptest::collection::vec(
                proptest::collection::vec(
                    prop_oneof![8 => prop::sample::select(b"ACGTacgt".to_vec()),
                                1 => prop::sample::select(b"NRYn".to_vec())],
                    0..400),
                1..5),
            k in 0usize..=MAX_READ_ORDER,
            normalize in any::<bool>(),
        ) {
            let mut model = ReadSurprisal::new(k, normalize).unwrap();
            for r in &records {
                let mut got = vec![0.0; r.len()];
                model.record(r, &mut got).unwrap();
                let want = reference(r, k, normalize).unwrap();
                prop_assert!(same_bits(&got, &want), "k {} record {:?}", k, r);
            }
        }
    }

    #[test]
    fn long_records_use_the_untabulated_logarithms_identically() {
        // Counts past the tables (a 3,000-base record of one repeated base).
        let r: Vec<u8> = (0..3000)
            .map(|i| if i % 7 == 0 { b'C' } else { b'A' })
            .collect();
        for k in [0, 1, 4] {
            let mut model = ReadSurprisal::new(k, true).unwrap();
            let mut got = vec![0.0; r.len()];
            model.record(&r, &mut got).unwrap();
            assert!(same_bits(&got, &reference(&r, k, true).unwrap()));
        }
    }

    #[test]
    fn invalid_letters_fail_with_their_position() {
        let mut model = ReadSurprisal::new(4, true).unwrap();
        let mut out = vec![0.0; 6];
        let got = model.record(b"ACGX-A", &mut out).unwrap_err();
        let want = reference(b"ACGX-A", 4, true).unwrap_err();
        assert_eq!(got.to_string(), want.to_string());
        assert!(ReadSurprisal::new(MAX_READ_ORDER + 1, true).is_none());
        // The failed call left the model fresh.
        let mut out = vec![0.0; 4];
        model.record(b"ACGT", &mut out).unwrap();
        assert!(same_bits(&out, &reference(b"ACGT", 4, true).unwrap()));
    }
}
