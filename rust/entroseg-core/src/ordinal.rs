//! Ordinal (Bandt-Pompe) patterns of order `d` and delay `tau`, encoded incrementally.
//!
//! The pattern at time `t` is the order of the embedding vector
//! `v = (x[t-(d-1)tau], ..., x[t-tau], x[t])`: the permutation `p` that sorts it stably
//! (`v[p[0]] <= v[p[1]] <= ...`, equal values keep their time order, exactly
//! `numpy.argsort(kind="stable")`). Its code is the lexicographic rank of `p` among all
//! `d!` permutations of `0..d` (the order of `itertools.permutations(range(d))`), so
//! code 0 is an increasing run and code `d! - 1` a decreasing one.
//!
//! Consecutive patterns along one delay lane overlap in `d - 1` samples, so the next
//! code is a function of the previous code and of the rank `k` of the new sample among
//! the `d - 1` kept ones: `next = SUCCESSOR[code * d + k]`. Counting `k` takes `d - 1`
//! independent comparisons (no dependency chain) and the table lookup is the only serial
//! step, which is what makes the rolling estimators O(1) per sample. The table has
//! `d! * d` entries: 645 KiB at `d = 8`, so it is built for `d <= 8` only; orders 9 and
//! 10 compute each code directly in O(d^2), slower but identical.

use crate::error::{Error, Result};
use std::sync::{Arc, OnceLock};

/// Smallest supported order.
pub const MIN_ORDER: usize = 2;
/// Largest supported order (10! = 3,628,800 patterns; count tables stay below 15 MiB).
pub const MAX_ORDER: usize = 10;
/// Largest order that uses the successor table (the fast path).
pub const MAX_TABLE_ORDER: usize = 8;

/// `n!` for small `n`.
pub const fn factorial(n: usize) -> usize {
    let mut f = 1;
    let mut i = 2;
    while i <= n {
        f *= i;
        i += 1;
    }
    f
}

/// Validates an (order, delay) pair and returns the span `(d-1)*tau` (samples before the
/// newest one that a pattern uses).
pub fn check_embedding(order: usize, delay: usize) -> Result<usize> {
    if !(MIN_ORDER..=MAX_ORDER).contains(&order) {
        return Err(Error::parameter(format!(
            "order must be in {MIN_ORDER}..={MAX_ORDER}, got {order}"
        )));
    }
    if delay < 1 {
        return Err(Error::parameter(format!("delay must be >= 1, got {delay}")));
    }
    (order - 1)
        .checked_mul(delay)
        .filter(|span| *span < (1usize << 40))
        .ok_or_else(|| Error::parameter(format!("delay {delay} is too large for order {order}")))
}

/// Stable argsort of a short vector (insertion sort; `d <= 10`).
fn stable_argsort(v: &[f64], perm: &mut [u8]) {
    for (i, p) in perm.iter_mut().enumerate().take(v.len()) {
        *p = i as u8;
    }
    for i in 1..v.len() {
        let key = perm[i];
        let mut j = i;
        // Strictly greater moves right: equal values keep their time order.
        while j > 0 && v[perm[j - 1] as usize] > v[key as usize] {
            perm[j] = perm[j - 1];
            j -= 1;
        }
        perm[j] = key;
    }
}

/// Lexicographic rank of a permutation of `0..perm.len()`.
pub fn permutation_rank(perm: &[u8]) -> u32 {
    let d = perm.len();
    let mut rank = 0usize;
    for i in 0..d {
        let smaller_after = perm[i + 1..].iter().filter(|&&q| q < perm[i]).count();
        rank += smaller_after * factorial(d - 1 - i);
    }
    rank as u32
}

/// The permutation of `0..order` with lexicographic rank `code`.
pub fn permutation_of_rank(code: u32, order: usize) -> Vec<u8> {
    let mut pool: Vec<u8> = (0..order as u8).collect();
    let mut rest = code as usize;
    let mut out = Vec::with_capacity(order);
    for i in (0..order).rev() {
        let f = factorial(i);
        let idx = rest / f;
        rest %= f;
        out.push(pool.remove(idx));
    }
    out
}

/// Code of the pattern of `v` (length = order), computed from scratch.
pub fn pattern_code(v: &[f64]) -> u32 {
    let mut perm = [0u8; MAX_ORDER];
    stable_argsort(v, &mut perm[..v.len()]);
    permutation_rank(&perm[..v.len()])
}

/// Code of the pattern whose newest sample is `x[end]`, computed from scratch.
#[inline]
pub fn pattern_code_at(x: &[f64], end: usize, order: usize, delay: usize) -> u32 {
    let mut v = [0f64; MAX_ORDER];
    let first = end - (order - 1) * delay;
    for (j, slot) in v.iter_mut().enumerate().take(order) {
        *slot = x[first + j * delay];
    }
    pattern_code(&v[..order])
}

fn build_successor_table(order: usize) -> Vec<u16> {
    let d = order;
    let n = factorial(d);
    let mut table = vec![0u16; n * d];
    let mut ranks = [0u8; MAX_ORDER];
    let mut new_ranks = [0u8; MAX_ORDER];
    let mut perm = [0u8; MAX_ORDER];
    for code in 0..n {
        let p = permutation_of_rank(code as u32, d);
        // ranks[pos] = rank of the sample at window position pos.
        for (r, &pos) in p.iter().enumerate() {
            ranks[pos as usize] = r as u8;
        }
        for k in 0..d {
            // Drop position 0, compress the ranks of positions 1..d to 0..d-1, then make
            // room for the new sample at rank k (k kept samples rank below it).
            for pos in 1..d {
                let mut r = ranks[pos];
                if r > ranks[0] {
                    r -= 1;
                }
                if r as usize >= k {
                    r += 1;
                }
                new_ranks[pos - 1] = r;
            }
            new_ranks[d - 1] = k as u8;
            for pos in 0..d {
                perm[new_ranks[pos] as usize] = pos as u8;
            }
            table[code * d + k] = permutation_rank(&perm[..d]) as u16;
        }
    }
    table
}

/// The successor table of `order` (built once per process, shared).
pub fn successor_table(order: usize) -> Option<Arc<[u16]>> {
    static TABLES: [OnceLock<Arc<[u16]>>; MAX_TABLE_ORDER + 1] = [const { OnceLock::new() }; MAX_TABLE_ORDER + 1];
    if !(MIN_ORDER..=MAX_TABLE_ORDER).contains(&order) {
        return None;
    }
    Some(TABLES[order].get_or_init(|| build_successor_table(order).into()).clone())
}

/// Marker for "no valid pattern" (incomplete embedding or a non-finite sample in it).
pub const NO_PATTERN: u32 = u32::MAX;

/// Streaming ordinal encoder: feed samples one chunk at a time, get one code per sample
/// (`NO_PATTERN` while the embedding is incomplete or its span holds a non-finite sample).
///
/// A pattern is invalid when any sample in its *span* `[t-(d-1)tau, t]` is non-finite,
/// not only its `d` embedded samples. With `tau > 1` this is stricter than necessary for
/// the pattern itself, but it is what guarantees that every window containing a
/// non-finite sample also contains an invalid pattern (the invalid patterns then form
/// one contiguous run of `(d-1)tau + 1` codes), which the window estimators rely on to
/// report NaN for exactly those windows.
///
/// State across chunks: the last `(d-1)*tau` samples and the last `tau` codes (one per
/// delay lane). The first samples of a chunk are encoded from a small junction buffer
/// holding that tail plus the chunk's head; the rest straight from the chunk, so a chunk
/// is never copied.
#[derive(Debug, Clone)]
pub struct OrdinalEncoder {
    order: usize,
    delay: usize,
    span: usize,
    table: Option<Arc<[u16]>>,
    /// The last `span` samples seen (oldest first), fewer at the start of a stream.
    tail: Vec<f64>,
    /// Last code of each delay lane, indexed by absolute position mod delay.
    lanes: Vec<u32>,
    /// Number of samples seen so far.
    seen: u64,
    /// Absolute index + 1 of the last non-finite sample (0 = none yet).
    last_bad: u64,
    scratch: Vec<f64>,
}

impl OrdinalEncoder {
    /// A fresh encoder.
    pub fn new(order: usize, delay: usize) -> Result<Self> {
        let span = check_embedding(order, delay)?;
        Ok(Self {
            order,
            delay,
            span,
            table: successor_table(order),
            tail: Vec::with_capacity(span),
            lanes: vec![NO_PATTERN; delay],
            seen: 0,
            last_bad: 0,
            scratch: Vec::new(),
        })
    }

    /// Order `d`.
    pub fn order(&self) -> usize {
        self.order
    }
    /// Delay `tau`.
    pub fn delay(&self) -> usize {
        self.delay
    }
    /// `(d-1)*tau`.
    pub fn span(&self) -> usize {
        self.span
    }
    /// The last `(d-1)*tau` samples (fewer at the start of a stream), oldest first.
    pub fn tail(&self) -> &[f64] {
        &self.tail
    }
    /// Samples seen.
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// Back to the state of a fresh encoder.
    pub fn reset(&mut self) {
        self.tail.clear();
        self.lanes.iter_mut().for_each(|c| *c = NO_PATTERN);
        self.seen = 0;
        self.last_bad = 0;
    }

    /// Encodes `chunk`, writing one code per sample into `codes` (same length).
    pub fn encode(&mut self, chunk: &[f64], codes: &mut [u32]) {
        debug_assert_eq!(chunk.len(), codes.len());
        let span = self.span;
        let head = chunk.len().min(span);
        // Junction: tail ++ chunk[..head]; positions tail.len().. are the chunk's head.
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        buf.extend_from_slice(&self.tail);
        buf.extend_from_slice(&chunk[..head]);
        let start = self.tail.len();
        self.encode_range(&buf, start, &mut codes[..head], self.seen);
        if chunk.len() > head {
            let base = self.seen + head as u64;
            self.encode_range(chunk, span, &mut codes[head..], base);
        }
        self.seen += chunk.len() as u64;
        // Keep the last `span` samples (from the junction buffer when the chunk is short).
        if chunk.len() >= span {
            self.tail.clear();
            self.tail.extend_from_slice(&chunk[chunk.len() - span..]);
        } else {
            let drop = buf.len().saturating_sub(span);
            self.tail.clear();
            self.tail.extend_from_slice(&buf[drop..]);
        }
        self.scratch = buf;
    }

    /// Encodes `xs[start..]` where `xs[i]` is the sample at absolute index
    /// `base + (i - start)` and `xs[..start]` are the samples just before it.
    #[inline]
    fn encode_range(&mut self, xs: &[f64], start: usize, out: &mut [u32], base: u64) {
        let d = self.order;
        let tau = self.delay;
        let span = self.span;
        let mut lane = (base % tau as u64) as usize;
        let mut last_bad = self.last_bad;
        match (self.table.clone(), d) {
            // Monomorphised kernels for the common orders keep the comparisons unrolled.
            (Some(t), 3) => self.kernel::<3>(xs, start, out, base, &t, &mut lane, &mut last_bad),
            (Some(t), 4) => self.kernel::<4>(xs, start, out, base, &t, &mut lane, &mut last_bad),
            (Some(t), 5) => self.kernel::<5>(xs, start, out, base, &t, &mut lane, &mut last_bad),
            (Some(t), 6) => self.kernel::<6>(xs, start, out, base, &t, &mut lane, &mut last_bad),
            (Some(t), 7) => self.kernel::<7>(xs, start, out, base, &t, &mut lane, &mut last_bad),
            (Some(t), 2) => self.kernel::<2>(xs, start, out, base, &t, &mut lane, &mut last_bad),
            (Some(t), 8) => self.kernel::<8>(xs, start, out, base, &t, &mut lane, &mut last_bad),
            _ => {
                for (i, slot) in (start..xs.len()).zip(out.iter_mut()) {
                    let abs = base + (i - start) as u64;
                    if !xs[i].is_finite() {
                        last_bad = abs + 1;
                    }
                    // Valid when no non-finite sample lies in [abs - span, abs].
                    let code = if abs >= span as u64 && last_bad <= abs - span as u64 {
                        pattern_code_at(xs, i, d, tau)
                    } else {
                        NO_PATTERN
                    };
                    *slot = code;
                    self.lanes[lane] = code;
                    lane += 1;
                    if lane == tau {
                        lane = 0;
                    }
                }
            }
        }
        self.last_bad = last_bad;
        let _ = span;
    }

    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn kernel<const D: usize>(
        &mut self,
        xs: &[f64],
        start: usize,
        out: &mut [u32],
        base: u64,
        table: &[u16],
        lane: &mut usize,
        last_bad: &mut u64,
    ) {
        let tau = self.delay;
        let span = self.span as u64;
        let lanes = &mut self.lanes[..];
        for (i, slot) in (start..xs.len()).zip(out.iter_mut()) {
            let abs = base + (i - start) as u64;
            let newest = xs[i];
            if !newest.is_finite() {
                *last_bad = abs + 1;
            }
            let code = if abs >= span && *last_bad <= abs - span {
                let prev = lanes[*lane];
                if prev != NO_PATTERN {
                    // k = number of kept samples that rank below the new one (<=: an
                    // earlier equal sample ranks lower).
                    let first = i - (D - 1) * tau;
                    let mut k = 0usize;
                    for j in 0..D - 1 {
                        k += (xs[first + j * tau] <= newest) as usize;
                    }
                    // SAFETY-free: prev < D! and k < D, so the index is in bounds; the
                    // bounds check stays (it is cheap and predictable).
                    table[prev as usize * D + k] as u32
                } else {
                    pattern_code_at(xs, i, D, tau)
                }
            } else {
                NO_PATTERN
            };
            *slot = code;
            lanes[*lane] = code;
            *lane += 1;
            if *lane == tau {
                *lane = 0;
            }
        }
    }

    /// Serialises the state (see `checkpoint` module for the framing).
    pub(crate) fn write_state(&self, w: &mut crate::checkpoint::Writer) {
        w.u64(self.order as u64);
        w.u64(self.delay as u64);
        w.u64(self.seen);
        w.u64(self.last_bad);
        w.f64s(&self.tail);
        w.u32s(&self.lanes);
    }

    pub(crate) fn read_state(r: &mut crate::checkpoint::Reader) -> Result<Self> {
        let order = r.usize()?;
        let delay = r.usize()?;
        let mut enc = Self::new(order, delay).map_err(|e| Error::checkpoint(e.message().to_string()))?;
        enc.seen = r.u64()?;
        enc.last_bad = r.u64()?;
        enc.tail = r.f64s()?;
        enc.lanes = r.u32s()?;
        let n_patterns = factorial(order) as u32;
        if enc.tail.len() > enc.span
            || (enc.seen >= enc.span as u64 && enc.tail.len() != enc.span)
            || enc.lanes.len() != delay
            || enc.lanes.iter().any(|&c| c != NO_PATTERN && c >= n_patterns)
            || enc.last_bad > enc.seen
        {
            return Err(Error::checkpoint("inconsistent ordinal encoder state"));
        }
        Ok(enc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference_codes(x: &[f64], d: usize, tau: usize) -> Vec<u32> {
        let span = (d - 1) * tau;
        (0..x.len())
            .map(|t| {
                if t < span {
                    return NO_PATTERN;
                }
                let v: Vec<f64> = (0..d).map(|j| x[t - span + j * tau]).collect();
                // A non-finite sample anywhere in the span invalidates the pattern.
                if x[t - span..=t].iter().any(|a| !a.is_finite()) {
                    return NO_PATTERN;
                }
                let mut idx: Vec<usize> = (0..d).collect();
                idx.sort_by(|&a, &b| v[a].partial_cmp(&v[b]).unwrap()); // stable
                let perm: Vec<u8> = idx.iter().map(|&i| i as u8).collect();
                permutation_rank(&perm)
            })
            .collect()
    }

    fn lcg(seed: u64, n: usize, levels: u64) -> Vec<f64> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((s >> 33) % levels) as f64
            })
            .collect()
    }

    #[test]
    fn rank_and_unrank_are_inverse() {
        for d in 2..=6 {
            for code in 0..factorial(d) as u32 {
                assert_eq!(permutation_rank(&permutation_of_rank(code, d)), code);
            }
        }
        assert_eq!(permutation_of_rank(0, 3), vec![0, 1, 2]);
        assert_eq!(permutation_of_rank(5, 3), vec![2, 1, 0]);
    }

    #[test]
    fn ties_follow_stable_argsort() {
        // Equal values: the earlier one ranks lower, so (1, 1, 1) is increasing.
        assert_eq!(pattern_code(&[1.0, 1.0, 1.0]), 0);
        // (2, 1, 1): argsort stable = [1, 2, 0] -> rank 3.
        assert_eq!(pattern_code(&[2.0, 1.0, 1.0]), permutation_rank(&[1, 2, 0]));
    }

    #[test]
    fn incremental_codes_match_direct_codes_for_every_order_and_chunking() {
        for d in MIN_ORDER..=MAX_ORDER {
            for tau in [1usize, 2, 3] {
                for levels in [3u64, 1000] {
                    let mut x = lcg(d as u64 * 31 + tau as u64, 400, levels);
                    x[150] = f64::NAN;
                    x[151] = f64::INFINITY;
                    let expected = reference_codes(&x, d, tau);
                    for chunk in [1usize, 2, 5, 64, 400] {
                        let mut enc = OrdinalEncoder::new(d, tau).unwrap();
                        let mut got = vec![0u32; x.len()];
                        for (xs, out) in x.chunks(chunk).zip(got.chunks_mut(chunk)) {
                            enc.encode(xs, out);
                        }
                        assert_eq!(got, expected, "d={d} tau={tau} levels={levels} chunk={chunk}");
                    }
                }
            }
        }
    }

    #[test]
    fn rejects_bad_embeddings() {
        assert!(check_embedding(1, 1).unwrap_err().message().contains("got 1"));
        assert!(check_embedding(11, 1).unwrap_err().message().contains("2..=10"));
        assert!(check_embedding(3, 0).unwrap_err().message().contains("delay"));
        assert!(check_embedding(3, usize::MAX).is_err());
    }
}
