//! Pooled (multivariate) permutation entropy of several channels: the ordinal patterns of
//! every channel in a window go into one histogram, whose entropy is the score. Unlike a
//! sum or maximum of per-channel entropies, it sees what the channels share: c channels
//! that all rise and fall with the same patterns pool into the few patterns each one has
//! alone, while channels with different patterns pool into a richer histogram.
//!
//! The window `[t-W+1, t]` holds `W - (d-1)tau` pattern times per channel, `c` times as
//! many patterns in all. Counts are exact integers and the entropy comes from the same
//! fixed-point sum of `c ln c` as every windowed estimator, so a stream is bit-identical
//! for any chunking and after a checkpoint; one channel gives permutation entropy. A
//! window holding an invalid pattern (a non-finite sample in its span, see
//! [`OrdinalEncoder`]) or not yet complete gives NaN.

use crate::error::{Error, Result};
use crate::estimate::ordinal::{factorial, OrdinalEncoder, NO_PATTERN};
use crate::estimate::permutation::PermutationOptions;
use crate::estimate::Finish;
use crate::util::accumulate::{EntropyOfSum, XLogXTable};
use crate::util::checkpoint::{Reader, Writer};

/// The streaming pooled permutation entropy of `channels` channels.
#[derive(Debug, Clone)]
pub struct PooledPermutation {
    options: PermutationOptions,
    window: usize,
    /// Pattern times per window, `W - (d-1)tau` (at least 1).
    times: usize,
    encoders: Vec<OrdinalEncoder>,
    /// The codes of the last `times` pattern times, all channels: slot `t % times`
    /// holds time `t`'s codes, `channels` of them.
    ring: Vec<u32>,
    counts: Vec<u32>,
    /// Invalid codes (`NO_PATTERN`) in the ring.
    invalid: u64,
    sum: i64,
    table: XLogXTable,
    entropy: EntropyOfSum,
    finish: Finish,
    seen: u64,
    codes: Vec<u32>,
}

impl PooledPermutation {
    /// A fresh estimator of `channels` channels (at least 1) under permutation options
    /// (`window` required; not `weighted`).
    pub fn new(options: PermutationOptions, channels: usize) -> Result<Self> {
        options.validate()?;
        if options.weighted {
            return Err(Error::parameter(
                "channels='pooled' pools ordinal pattern counts; weighted=True has no pooled \
                 form: use weighted=False",
            ));
        }
        let window = options.window.ok_or_else(|| {
            Error::parameter("channels='pooled' profiles a rolling window; give window")
        })?;
        let channels = channels.max(1);
        let encoders = (0..channels)
            .map(|_| OrdinalEncoder::new(options.order, options.delay))
            .collect::<Result<Vec<_>>>()?;
        let span = encoders[0].span();
        let times = window - span;
        let items = (times as u64).saturating_mul(channels as u64);
        if items > u32::MAX as u64 {
            return Err(Error::parameter(format!(
                "channels='pooled' with {channels} channels and window {window} counts {items} \
                 patterns per window, more than {}",
                u32::MAX
            )));
        }
        let mut ring = Vec::new();
        crate::estimate::reserve_ring(&mut ring, times * channels, window)?;
        ring.resize(times * channels, NO_PATTERN);
        let table = XLogXTable::new(items);
        let entropy = EntropyOfSum::new(items, table.scale_bits());
        let n_patterns = factorial(options.order);
        Ok(Self {
            options,
            window,
            times,
            encoders,
            ring,
            counts: vec![0; n_patterns],
            invalid: items,
            sum: 0,
            table,
            entropy,
            finish: Finish::new(n_patterns, options.normalize),
            seen: 0,
            codes: Vec::new(),
        })
    }

    /// The channel count.
    pub fn channels(&self) -> usize {
        self.encoders.len()
    }

    /// The options.
    pub fn options(&self) -> &PermutationOptions {
        &self.options
    }

    /// Samples consumed per channel.
    pub fn samples_seen(&self) -> u64 {
        self.seen
    }

    fn add(&mut self, code: u32) {
        if code == NO_PATTERN {
            self.invalid += 1;
        } else {
            let c = &mut self.counts[code as usize];
            self.sum += self.table.up(*c);
            *c += 1;
        }
    }

    fn remove(&mut self, code: u32) {
        if code == NO_PATTERN {
            self.invalid -= 1;
        } else {
            let c = &mut self.counts[code as usize];
            *c -= 1;
            self.sum -= self.table.up(*c);
        }
    }

    /// Scores of the next chunk: `chunk(k)` is channel `k`'s samples (all of length
    /// `out.len()`). Non-finite samples give NaN for the windows holding them (the caller
    /// checks `nan_policy="raise"` first).
    pub fn update<'a>(&mut self, chunk: impl Fn(usize) -> &'a [f64], out: &mut [f64]) {
        let (n, c) = (out.len(), self.channels());
        self.codes.clear();
        self.codes.resize(n * c, NO_PATTERN);
        for (k, enc) in self.encoders.iter_mut().enumerate() {
            enc.encode(chunk(k), &mut self.codes[k * n..(k + 1) * n]);
        }
        let codes = std::mem::take(&mut self.codes);
        for (i, o) in out.iter_mut().enumerate() {
            let t = self.seen + i as u64;
            let slot = (t % self.times as u64) as usize * c;
            for k in 0..c {
                let old = self.ring[slot + k];
                self.remove(old);
                let new = codes[k * n + i];
                self.ring[slot + k] = new;
                self.add(new);
            }
            *o = if t + 1 < self.window as u64 || self.invalid > 0 {
                f64::NAN
            } else {
                self.finish.apply(self.entropy.entropy(self.sum))
            };
        }
        self.codes = codes;
        self.seen += n as u64;
    }

    pub(crate) fn write_state(&self, w: &mut Writer) {
        let o = &self.options;
        w.u64(o.order as u64);
        w.u64(o.delay as u64);
        w.u64(self.window as u64);
        w.bool(o.normalize);
        w.bool(o.nan_policy == crate::estimate::NanPolicy::Propagate);
        w.u64(self.channels() as u64);
        w.u64(self.seen);
        for e in &self.encoders {
            e.write_state(w);
        }
        w.u32s(&self.ring);
    }

    pub(crate) fn read_state(r: &mut Reader) -> Result<Self> {
        let bad = |e: Error| Error::checkpoint(e.message().to_string());
        let options = PermutationOptions {
            order: r.usize()?,
            delay: r.usize()?,
            window: Some(r.usize()?),
            normalize: r.bool()?,
            nan_policy: if r.bool()? {
                crate::estimate::NanPolicy::Propagate
            } else {
                crate::estimate::NanPolicy::Raise
            },
            ..Default::default()
        };
        let channels = r.usize()?;
        // Each channel's encoder state takes at least 40 bytes.
        r.expect_items(channels, 40)?;
        let mut p = Self::new(options, channels).map_err(bad)?;
        p.seen = r.u64()?;
        for k in 0..p.channels() {
            let e = OrdinalEncoder::read_state(r)?;
            if e.seen() != p.seen || e.order() != options.order || e.delay() != options.delay {
                return Err(Error::checkpoint("inconsistent pooled encoder state"));
            }
            p.encoders[k] = e;
        }
        let ring = r.u32s()?;
        if ring.len() != p.ring.len() {
            return Err(Error::checkpoint(
                "inconsistent pooled window in checkpoint",
            ));
        }
        // Rebuild the counts from the ring (every slot starts as an invalid code).
        for (slot, &code) in ring.iter().enumerate() {
            if code != NO_PATTERN && code as usize >= p.counts.len() {
                return Err(Error::checkpoint("invalid pattern code in checkpoint"));
            }
            p.remove(NO_PATTERN);
            p.ring[slot] = code;
            p.add(code);
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain reference: every pattern of every channel in the window, from scratch.
    fn reference(x: &[Vec<f64>], d: usize, tau: usize, w: usize) -> Vec<f64> {
        let n = x[0].len();
        let span = (d - 1) * tau;
        (0..n)
            .map(|t| {
                if t + 1 < w {
                    return f64::NAN;
                }
                let mut counts = vec![0u64; factorial(d)];
                for ch in x {
                    for end in t + 1 - w + span..=t {
                        let v: Vec<f64> = (0..d).map(|j| ch[end - span + j * tau]).collect();
                        counts[crate::estimate::ordinal::pattern_code(&v) as usize] += 1;
                    }
                }
                let total: u64 = counts.iter().sum();
                let h: f64 = counts
                    .iter()
                    .filter(|&&c| c > 0)
                    .map(|&c| {
                        let p = c as f64 / total as f64;
                        -p * p.ln()
                    })
                    .sum();
                h / (factorial(d) as f64).ln()
            })
            .collect()
    }

    fn walk(seed: u64, n: usize) -> Vec<f64> {
        let mut s = seed | 1;
        let mut v = 0.0;
        (0..n)
            .map(|_| {
                s = crate::util::testing::lcg_step(s);
                v += ((s >> 11) % 7) as f64 - 3.0;
                v
            })
            .collect()
    }

    #[test]
    fn equals_the_reference_and_streams_exactly() {
        for (c, d, tau, w) in [(1, 3, 1, 20), (3, 3, 1, 24), (2, 4, 2, 30), (4, 2, 1, 5)] {
            let x: Vec<Vec<f64>> = (0..c).map(|k| walk(k as u64 * 31 + 7, 400)).collect();
            let o = PermutationOptions {
                order: d,
                delay: tau,
                window: Some(w),
                ..Default::default()
            };
            let mut whole = vec![0.0; 400];
            PooledPermutation::new(o, c)
                .unwrap()
                .update(|k| &x[k], &mut whole);
            let want = reference(&x, d, tau, w);
            for (a, b) in whole.iter().zip(&want) {
                assert!(a.is_nan() && b.is_nan() || (a - b).abs() < 1e-12, "{a} {b}");
            }
            for step in [1, 7, 64, 399] {
                let mut p = PooledPermutation::new(o, c).unwrap();
                let mut got = vec![0.0; 400];
                let mut at = 0;
                while at < 400 {
                    let end = (at + step).min(400);
                    if at >= 200 && at < 200 + step {
                        let mut wr = Writer::new("t");
                        p.write_state(&mut wr);
                        let bytes = wr.finish();
                        let mut rd = Reader::open(&bytes, "t").unwrap();
                        p = PooledPermutation::read_state(&mut rd).unwrap();
                        rd.finish().unwrap();
                    }
                    p.update(|k| &x[k][at..end], &mut got[at..end]);
                    at = end;
                }
                let same = whole
                    .iter()
                    .zip(&got)
                    .all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "c={c} step={step}");
            }
        }
    }

    #[test]
    fn one_channel_is_permutation_entropy_and_nan_windows_recover() {
        let mut x = walk(3, 300);
        x[150] = f64::NAN;
        let o = PermutationOptions {
            order: 3,
            window: Some(16),
            nan_policy: crate::estimate::NanPolicy::Propagate,
            ..Default::default()
        };
        let pe = crate::estimate::permutation::rolling(&x, o).unwrap();
        let mut got = vec![0.0; 300];
        PooledPermutation::new(o, 1)
            .unwrap()
            .update(|_| &x, &mut got);
        for (t, (a, b)) in got.iter().zip(&pe).enumerate() {
            assert!(
                a.is_nan() == b.is_nan() && (a.is_nan() || (a - b).abs() < 1e-12),
                "{t}"
            );
        }
        assert!(got[150 + 16].is_finite() && got[150].is_nan());
    }
}
