//! Ordinal (Bandt-Pompe) patterns of order `d` and delay `tau`, encoded without a
//! serial dependency.
//!
//! The pattern at time `t` is the order of the embedding vector
//! `v = (x[t-(d-1)tau], ..., x[t-tau], x[t])`: the permutation `p` that sorts it stably
//! (`v[p[0]] <= v[p[1]] <= ...`, equal values keep their time order, exactly
//! `numpy.argsort(kind="stable")`). Its *public* code is the lexicographic rank of `p`
//! among all `d!` permutations of `0..d` (the order of `itertools.permutations(range(d))`),
//! so code 0 is an increasing run and code `d! - 1` a decreasing one.
//!
//! Internally the estimators count a different but equivalent code, the *inversion code*
//! `sum_{i=1}^{d-1} i! * r_i` with `r_i = #{p < i : v_p <= v_i}` (how many earlier samples
//! of the embedding rank below sample `i`; `<=` makes the earlier of two equal samples rank
//! lower). The digits `r_i in 0..=i` form a factorial-base number, a bijection onto
//! `0..d!`. Its point: the code is a sum of `d(d-1)/2` independent comparisons, each of
//! which is a branch-free streaming loop over the block (`code[t] += i! * (x[t-a] <=
//! x[t-b])`) that the compiler vectorises, with no dependency from one sample to the next.
//! A successor-table encoder (`next = T[code][rank]`) is latency-bound by its load chain;
//! this one is throughput-bound. Entropies do not depend on the labelling;
//! [`to_lexicographic`] translates for users who want the documented code.

use crate::error::{Error, Result};
use std::sync::{Arc, OnceLock};

/// Smallest supported order.
pub const MIN_ORDER: usize = 2;
/// Largest supported order (10! = 3,628,800 patterns; count tables stay below 15 MiB).
pub const MAX_ORDER: usize = 10;

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

/// Lexicographic code of the pattern of `v` (length = order), computed from scratch.
pub fn pattern_code(v: &[f64]) -> u32 {
    let mut perm = [0u8; MAX_ORDER];
    stable_argsort(v, &mut perm[..v.len()]);
    permutation_rank(&perm[..v.len()])
}

/// Lexicographic code of the pattern whose newest sample is `x[end]`.
pub fn pattern_code_at(x: &[f64], end: usize, order: usize, delay: usize) -> u32 {
    let mut v = [0f64; MAX_ORDER];
    let first = end - (order - 1) * delay;
    for (j, slot) in v.iter_mut().enumerate().take(order) {
        *slot = x[first + j * delay];
    }
    pattern_code(&v[..order])
}

/// Lexicographic code of the pattern with inversion code `code`.
fn inversion_to_lexicographic_direct(code: u32, order: usize) -> u32 {
    // Rebuild the argsort permutation by inserting positions in time order: position i
    // has r_i earlier positions ranking below it, so it goes to index r_i of the list of
    // positions 0..=i sorted by rank.
    let mut sorted: Vec<u8> = Vec::with_capacity(order);
    sorted.push(0);
    let mut rest = code as usize;
    let mut digits = [0usize; MAX_ORDER];
    for (i, digit) in digits.iter_mut().enumerate().take(order).skip(1) {
        *digit = rest % (i + 1);
        rest /= i + 1;
    }
    for (i, &r) in digits.iter().enumerate().take(order).skip(1) {
        sorted.insert(r, i as u8);
    }
    permutation_rank(&sorted)
}

/// Orders with a cached translation table (8! entries of u32 = 160 KiB at most).
const MAX_TABLE_ORDER: usize = 8;

fn translation_table(order: usize) -> Arc<[u32]> {
    static TABLES: [OnceLock<Arc<[u32]>>; MAX_TABLE_ORDER + 1] =
        [const { OnceLock::new() }; MAX_TABLE_ORDER + 1];
    TABLES[order]
        .get_or_init(|| {
            (0..factorial(order) as u32)
                .map(|c| inversion_to_lexicographic_direct(c, order))
                .collect()
        })
        .clone()
}

/// Translates internal (inversion) codes to lexicographic codes in place; `NO_PATTERN`
/// stays.
pub fn to_lexicographic(codes: &mut [u32], order: usize) {
    if order <= MAX_TABLE_ORDER {
        let table = translation_table(order);
        for c in codes.iter_mut().filter(|c| **c != NO_PATTERN) {
            *c = table[*c as usize];
        }
    } else {
        for c in codes.iter_mut().filter(|c| **c != NO_PATTERN) {
            *c = inversion_to_lexicographic_direct(*c, order);
        }
    }
}

/// Marker for "no valid pattern" (incomplete embedding or a non-finite sample in its span).
pub const NO_PATTERN: u32 = u32::MAX;

/// `code[k] += weight * (a[k] <= b[k])` over a block: the whole encoder is a sum of these.
#[inline(always)]
fn add_comparison(a: &[f64], b: &[f64], codes: &mut [u32], weight: u32) {
    for ((c, &u), &v) in codes.iter_mut().zip(a).zip(b) {
        *c += weight & ((u <= v) as u32).wrapping_neg();
    }
}

/// Inversion codes of the patterns ending at `xs[start..start+n]` into `codes`, one
/// floating-point comparison per pair of embedding positions and pattern: `d(d-1)/2`
/// comparisons per sample. Used where the comparison streams of
/// [`encode_block_streams`] would not fit its stack buffers (very long delays), and by
/// the tests as the reference the faster path must match.
#[inline(always)]
fn encode_block_pairwise(xs: &[f64], start: usize, codes: &mut [u32], order: usize, delay: usize) {
    let n = codes.len();
    codes.fill(0);
    let span = (order - 1) * delay;
    for i in 1..order {
        let weight = factorial(i) as u32;
        // Sample at embedding position j of the pattern ending at t is x[t - span + j*delay].
        let bi = start - span + i * delay;
        for p in 0..i {
            let ai = start - span + p * delay;
            add_comparison(&xs[ai..ai + n], &xs[bi..bi + n], codes, weight);
        }
    }
}

/// Smallest order for which the stream encoder pays: order 2 is a single comparison per
/// sample either way. (Measured: d = 3 about 4% faster with streams, d = 4 about 20%.)
const MIN_STREAM_ORDER: usize = 3;
/// Patterns per sub-block of the stream encoder: its byte buffers stay in L1.
const STREAM_BLOCK: usize = 512;
/// Longest span `(d-1)*tau` the stream encoder handles; longer ones use the pairwise one.
const MAX_STREAM_SPAN: usize = 512;
/// How far ahead (in samples) the AVX2 stream builder prefetches its input.
#[cfg(target_arch = "x86_64")]
const PREFETCH_AHEAD: usize = STREAM_BLOCK;
/// Length of one comparison stream: a sub-block's patterns and the span before them.
const STREAM_LEN: usize = STREAM_BLOCK + MAX_STREAM_SPAN;

/// The comparison streams of one sub-block: `streams[k - 1][u] = 0xFF` where
/// `x[base + u] <= x[base + u + k*tau]`, else 0 (a byte mask: the packed comparison
/// result needs no masking).
type Streams = [[u8; STREAM_LEN]; MAX_ORDER - 1];

/// Working memory of the stream encoder (about 10 KiB), kept by its owner so that each
/// block does not zero it on the stack again.
#[derive(Clone)]
pub(crate) struct StreamScratch {
    streams: Streams,
    /// The codes of a sub-block up to order 8 (`8! - 1 = 40319` fits a u16).
    mid: [u16; STREAM_BLOCK],
}

impl StreamScratch {
    pub(crate) fn new() -> Box<Self> {
        Box::new(Self {
            streams: [[0; STREAM_LEN]; MAX_ORDER - 1],
            mid: [0; STREAM_BLOCK],
        })
    }
}

impl std::fmt::Debug for StreamScratch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamScratch").finish_non_exhaustive()
    }
}

/// Whether the AVX2 (and FMA) kernels can run on this CPU (checked once).
#[cfg(target_arch = "x86_64")]
fn have_avx2_fma() -> bool {
    static AVX2_FMA: OnceLock<bool> = OnceLock::new();
    *AVX2_FMA.get_or_init(|| {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    })
}

/// Fills the comparison streams of the sub-block whose first pattern's oldest sample is
/// `xs[base]` and that holds `m` patterns: stream `k` (lag `k*tau`) at the positions
/// `u < m + span - k*tau`, the ones the code assembly reads. With `check_finite`, returns
/// whether `xs[base..base + m]` holds only finite samples (else `true`).
///
/// Needs `base + m + span <= xs.len()`, `m <= STREAM_BLOCK`, `span <= MAX_STREAM_SPAN`.
/// The portable builder of [`build_streams_avx2`]: both write the same bytes.
#[inline(always)]
fn build_streams_generic(
    xs: &[f64],
    base: usize,
    m: usize,
    order: usize,
    delay: usize,
    streams: &mut Streams,
    check_finite: bool,
) -> bool {
    let span = (order - 1) * delay;
    for k in 1..order {
        // Positions u with u + k*tau <= (m - 1) + span, the newest sample of the block.
        let len = m + span - k * delay;
        let lo = &xs[base..base + len];
        let hi = &xs[base + k * delay..base + k * delay + len];
        for ((b, &a), &c) in streams[k - 1][..len].iter_mut().zip(lo).zip(hi) {
            *b = ((a <= c) as u8).wrapping_neg();
        }
    }
    !check_finite || crate::estimate::first_non_finite(&xs[base..base + m]).is_none()
}

/// Eight consecutive `f64` vectors (32 samples) from `p`.
///
/// # Safety
/// AVX must be enabled and `p..p + 32` readable.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn load32(p: *const f64) -> [std::arch::x86_64::__m256d; 8] {
    use std::arch::x86_64::_mm256_loadu_pd;
    // SAFETY: the caller guarantees p..p + 32 readable.
    unsafe { std::array::from_fn(|i| _mm256_loadu_pd(p.add(4 * i))) }
}

/// The byte masks `a[i] <= b[i]` (`0xFF` / 0, NaN false) of 32 samples, in sample order.
///
/// # Safety
/// AVX2 must be enabled and `b..b + 32` readable.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn le_bytes32(
    a: &[std::arch::x86_64::__m256d; 8],
    b: *const f64,
) -> std::arch::x86_64::__m256i {
    use std::arch::x86_64::*;
    // SAFETY: the caller guarantees b..b + 32 readable.
    let c: [__m256i; 8] = unsafe {
        std::array::from_fn(|i| {
            _mm256_castpd_si256(_mm256_cmp_pd::<_CMP_LE_OQ>(
                a[i],
                _mm256_loadu_pd(b.add(4 * i)),
            ))
        })
    };
    // Each 64-bit mask is two equal 32-bit halves, so signed saturating packs narrow it
    // exactly: two dword->word packs leave one word per sample, a word->byte pack one
    // byte. The packs work within 128-bit lanes, which leaves the low lane holding sample
    // pairs 0, 2, 4, ..., 14 and the high lane pairs 1, 3, ..., 15 (pair j = samples 2j,
    // 2j+1); a qword permute and a byte shuffle put them back in order.
    let w0 = _mm256_packs_epi32(
        _mm256_packs_epi32(c[0], c[1]),
        _mm256_packs_epi32(c[2], c[3]),
    );
    let w1 = _mm256_packs_epi32(
        _mm256_packs_epi32(c[4], c[5]),
        _mm256_packs_epi32(c[6], c[7]),
    );
    let b = _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_packs_epi16(w0, w1));
    let order = _mm256_setr_epi8(
        0, 1, 8, 9, 2, 3, 10, 11, 4, 5, 12, 13, 6, 7, 14, 15, //
        0, 1, 8, 9, 2, 3, 10, 11, 4, 5, 12, 13, 6, 7, 14, 15,
    );
    _mm256_shuffle_epi8(b, order)
}

/// [`build_streams_generic`] with AVX2: each group of 32 samples is loaded once and
/// compared with its partners at every lag, the comparison masks packed to bytes in
/// registers; the finiteness check rides along (`acc += x * 0` stays zero unless some
/// `x` is infinite or NaN), so the block needs no separate scan.
///
/// # Safety
/// AVX2 and FMA must be enabled (the function checks its index bounds itself).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn build_streams_avx2(
    xs: &[f64],
    base: usize,
    m: usize,
    order: usize,
    delay: usize,
    streams: &mut Streams,
    check_finite: bool,
) -> bool {
    use std::arch::x86_64::*;
    let span = (order - 1) * delay;
    assert!(
        (MIN_ORDER..=MAX_ORDER).contains(&order)
            && m <= STREAM_BLOCK
            && span <= MAX_STREAM_SPAN
            && base + m + span <= xs.len(),
        "stream sub-block out of range"
    );
    let x = &xs[base..base + m + span];
    let m_all = m & !31;
    let zero = _mm256_setzero_pd();
    let mut acc = [zero; 4];
    let mut u = 0;
    while u < m_all {
        // Ask for the samples one sub-block ahead (the next sub-block's, or the next
        // block's for the last one) while this one is worked on: without it the first
        // loads of each sub-block waited on memory for about a third of this function's
        // time at 10^7 samples. A prefetch is only a hint: it reads nothing in the
        // program's sense and does not fault, so the address may lie past the input
        // (hence `wrapping_add`, which makes no claim about it).
        for line in 0..4 {
            let ahead = x.as_ptr().wrapping_add(u + PREFETCH_AHEAD + 8 * line);
            _mm_prefetch::<_MM_HINT_T0>(ahead.cast());
        }
        // SAFETY: u + 32 <= m <= x.len().
        let a = unsafe { load32(x.as_ptr().add(u)) };
        for (i, &v) in a.iter().enumerate() {
            acc[i & 3] = _mm256_fmadd_pd(v, zero, acc[i & 3]);
        }
        for k in 1..order {
            // SAFETY: u + k*tau + 32 <= m + span = x.len(); u + 32 <= m <= the stream's
            // length (STREAM_LEN).
            unsafe {
                let bytes = le_bytes32(&a, x.as_ptr().add(u + k * delay));
                _mm256_storeu_si256(streams[k - 1].as_mut_ptr().add(u).cast(), bytes);
            }
        }
        u += 32;
    }
    // The positions past m_all that each lag still needs: 32 at a time, then one by one.
    for k in 1..order {
        let len = m + span - k * delay;
        let stream = &mut streams[k - 1];
        let mut u = m_all;
        while u + 32 <= len {
            // SAFETY: u + k*tau + 32 <= len + k*tau = x.len(); u + 32 <= len <= STREAM_LEN.
            unsafe {
                let a = load32(x.as_ptr().add(u));
                let bytes = le_bytes32(&a, x.as_ptr().add(u + k * delay));
                _mm256_storeu_si256(stream.as_mut_ptr().add(u).cast(), bytes);
            }
            u += 32;
        }
        for (b, (&lo, &hi)) in stream[u..len]
            .iter_mut()
            .zip(x[u..len].iter().zip(&x[u + k * delay..len + k * delay]))
        {
            *b = ((lo <= hi) as u8).wrapping_neg();
        }
    }
    if !check_finite {
        return true;
    }
    let acc = _mm256_add_pd(_mm256_add_pd(acc[0], acc[1]), _mm256_add_pd(acc[2], acc[3]));
    let ordered = _mm256_movemask_pd(_mm256_cmp_pd::<_CMP_ORD_Q>(acc, acc)) == 0b1111;
    ordered && x[m_all..m].iter().all(|v| v.is_finite())
}

/// Lanes of the code assembly: one AVX2 register of bytes.
const LANES: usize = 32;

/// The inversion codes of a sub-block of `m` patterns from its comparison streams: into
/// `scratch.mid[..m]` for orders up to 8, into `wide[..m]` beyond (`wide` is unused, and
/// may be empty, up to order 8).
///
/// The comparison of positions `p < i` of pattern `j` is `streams[i - p - 1][j + p*tau]`;
/// the digit `r_i` is the sum of those over `p < i`, and the code `sum_i i! * r_i` is
/// summed in the narrowest lanes that hold it (bytes for the first four digits, u16 up to
/// order 8, u32 beyond), so it is the very same integer as the pairwise encoder's,
/// comparison for comparison.
///
/// Works on 32 patterns at a time in local arrays (registers): every stream is read once
/// per group and the partial sums never go back to memory between digits. The local
/// copies also tell the compiler that the loads cannot alias the stores, which it could
/// not prove for slices of the scratch buffers (it fell back to byte-by-byte loops for
/// orders 8 and up). The last group may run past `m` into stale stream bytes (still 0 or
/// 0xFF masks, so no sum overflows): those codes land past `m` and are never read.
#[inline(always)]
fn assemble_codes(
    scratch: &mut StreamScratch,
    m: usize,
    order: usize,
    delay: usize,
    wide: &mut [u32],
) {
    let streams = &scratch.streams;
    let mid = &mut scratch.mid;
    debug_assert!(m <= STREAM_BLOCK && (order - 1) * delay <= MAX_STREAM_SPAN);
    for j in (0..m).step_by(LANES) {
        // Comparison of positions p < i for the 32 patterns from j. In range: j + 32 <=
        // STREAM_BLOCK and p*tau < span <= MAX_STREAM_SPAN.
        let lag = |i: usize, p: usize| -> [u8; LANES] {
            let at = j + p * delay;
            streams[i - p - 1][at..at + LANES]
                .try_into()
                .expect("32 stream bytes")
        };
        // Digits 1..=4 weigh at most 1 + 2*2 + 6*3 + 24*4 = 119 in all: bytes.
        let mut low = [0u8; LANES];
        for i in 1..order.min(5) {
            let weight = factorial(i) as u8;
            for p in 0..i {
                let b = lag(i, p);
                for (acc, &b) in low.iter_mut().zip(&b) {
                    *acc += b & weight;
                }
            }
        }
        // r_i = #{p < i : x_p <= x_i}: subtracting a 0xFF mask adds one.
        let digit = |i: usize| -> [u8; LANES] {
            let mut r = [0u8; LANES];
            for p in 0..i {
                let b = lag(i, p);
                for (acc, &b) in r.iter_mut().zip(&b) {
                    *acc = acc.wrapping_sub(b);
                }
            }
            r
        };
        // Digits 5..=7 bring the code to at most 8! - 1 = 40319: u16.
        // (Widened by hand: `array::map` was left as an out-of-line call.)
        let mut code = [0u16; LANES];
        for (c, &l) in code.iter_mut().zip(&low) {
            *c = l as u16;
        }
        for i in 5..order.min(8) {
            let weight = factorial(i) as u16;
            for (acc, &r) in code.iter_mut().zip(&digit(i)) {
                *acc += weight * r as u16;
            }
        }
        if order <= 8 {
            mid[j..j + LANES].copy_from_slice(&code);
        } else {
            let mut wide_code = [0u32; LANES];
            for (w, &c) in wide_code.iter_mut().zip(&code) {
                *w = c as u32;
            }
            let mut code = wide_code;
            for i in 8..order {
                let weight = factorial(i) as u32;
                for (acc, &r) in code.iter_mut().zip(&digit(i)) {
                    *acc += weight * r as u32;
                }
            }
            let n = LANES.min(m - j);
            wide[j..j + n].copy_from_slice(&code[..n]);
        }
    }
}

/// Inversion codes of the patterns ending at `xs[start..start+n]` into `codes`, from
/// `d - 1` comparison streams instead of `d(d-1)/2` comparisons per sample.
///
/// The comparison of embedding positions `p < i` of the pattern ending at `t` is
/// `x[t-span+p*tau] <= x[t-span+i*tau]`, which depends only on the lag `k = i - p` and on
/// the sample `s = t-span+p*tau`: it is `B_k[s] = (x[s] <= x[s + k*tau])`. So each
/// sample takes part in `d - 1` comparisons (one per lag), computed once into byte
/// streams, and every digit `r_i = sum_{p<i} B_{i-p}[t-span+p*tau]` is a sum of shifted
/// byte streams (32 lanes per AVX2 add; `r_i <= 9` fits a byte); see [`assemble_codes`].
/// NaN compares false here as in the pairwise encoder.
///
/// Needs `(d-1)*tau <= MAX_STREAM_SPAN`.
#[inline(always)]
fn encode_block_streams_with(
    xs: &[f64],
    start: usize,
    codes: &mut [u32],
    order: usize,
    delay: usize,
    scratch: &mut StreamScratch,
    build: impl Fn(&[f64], usize, usize, usize, usize, &mut Streams, bool) -> bool,
) {
    let span = (order - 1) * delay;
    debug_assert!(span <= MAX_STREAM_SPAN);
    let mut done = 0;
    while done < codes.len() {
        let m = (codes.len() - done).min(STREAM_BLOCK);
        let base = start + done - span;
        build(xs, base, m, order, delay, &mut scratch.streams, false);
        let out = &mut codes[done..done + m];
        assemble_codes(scratch, m, order, delay, out);
        if order <= 8 {
            for (c, &v) in out.iter_mut().zip(scratch.mid.iter()) {
                *c = v as u32;
            }
        }
        done += m;
    }
}

/// [`encode_block_streams_with`] with the portable stream builder.
#[cfg(test)]
fn encode_block_streams(
    xs: &[f64],
    start: usize,
    codes: &mut [u32],
    order: usize,
    delay: usize,
    scratch: &mut StreamScratch,
) {
    encode_block_streams_with(
        xs,
        start,
        codes,
        order,
        delay,
        scratch,
        build_streams_generic,
    )
}

#[inline(always)]
fn encode_block_generic(
    xs: &[f64],
    start: usize,
    codes: &mut [u32],
    order: usize,
    delay: usize,
    scratch: &mut StreamScratch,
) {
    if order >= MIN_STREAM_ORDER && (order - 1) * delay <= MAX_STREAM_SPAN {
        encode_block_streams_with(
            xs,
            start,
            codes,
            order,
            delay,
            scratch,
            build_streams_generic,
        )
    } else {
        encode_block_pairwise(xs, start, codes, order, delay)
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn encode_block_avx2(
    xs: &[f64],
    start: usize,
    codes: &mut [u32],
    order: usize,
    delay: usize,
    scratch: &mut StreamScratch,
) {
    if order >= MIN_STREAM_ORDER && (order - 1) * delay <= MAX_STREAM_SPAN {
        encode_block_streams_with(
            xs,
            start,
            codes,
            order,
            delay,
            scratch,
            |x, b, m, o, t, s, c| {
                // SAFETY: this closure runs inside a function with AVX2 and FMA enabled.
                unsafe { build_streams_avx2(x, b, m, o, t, s, c) }
            },
        )
    } else {
        encode_block_pairwise(xs, start, codes, order, delay)
    }
}

fn encode_block(
    xs: &[f64],
    start: usize,
    codes: &mut [u32],
    order: usize,
    delay: usize,
    scratch: &mut StreamScratch,
) {
    #[cfg(target_arch = "x86_64")]
    {
        if have_avx2_fma() {
            // SAFETY: the CPU supports AVX2 and FMA (checked at run time just above).
            unsafe { encode_block_avx2(xs, start, codes, order, delay, scratch) };
            return;
        }
    }
    encode_block_generic(xs, start, codes, order, delay, scratch)
}

/// Orders counted by [`count_streams`] (their codes fit the u16 `mid` lanes), with the
/// lane stride of their four sub-histograms: `d!` rounded up to a power of two, so that
/// a code indexes its lane through a mask, without a bounds check.
pub(crate) const fn stream_count_stride(order: usize) -> Option<usize> {
    match order {
        4..=8 => Some(factorial(order).next_power_of_two()),
        _ => None,
    }
}

/// Counts the patterns ending at `x[span..]` (all their samples inside `x`) into four
/// sub-histograms `counts[lane * N..][..N]` (pattern `j` of a sub-block goes to lane
/// `j mod 4`, so a run of equal codes does not wait on its own stores), from the codes
/// of [`assemble_codes`] in u16 lanes: the codes are never widened or stored. Returns
/// whether `x` holds only finite samples; the counts are those of the encoder when it does
/// (NaN compares false in both), meaningless when not.
#[inline(always)]
fn count_streams_with<const N: usize>(
    x: &[f64],
    order: usize,
    delay: usize,
    scratch: &mut StreamScratch,
    counts: &mut [u32],
    build: impl Fn(&[f64], usize, usize, usize, usize, &mut Streams, bool) -> bool,
) -> bool {
    let span = (order - 1) * delay;
    let n = x.len() - span;
    let (l0, rest) = counts.split_at_mut(N);
    let (l1, rest) = rest.split_at_mut(N);
    let (l2, rest) = rest.split_at_mut(N);
    let l3 = &mut rest[..N];
    fn as_lane<const N: usize>(l: &mut [u32]) -> &mut [u32; N] {
        l.try_into().expect("a lane of N counts")
    }
    let (l0, l1, l2, l3) = (
        as_lane::<N>(l0),
        as_lane::<N>(l1),
        as_lane::<N>(l2),
        as_lane::<N>(l3),
    );
    let mut finite = true;
    let mut done = 0;
    while done < n {
        let m = (n - done).min(STREAM_BLOCK);
        // Sub-block: the patterns ending at x[span + done..][..m]; the builder checks
        // x[done..done + m], so all sub-blocks together check x[..n].
        finite &= build(x, done, m, order, delay, &mut scratch.streams, true);
        assemble_codes(scratch, m, order, delay, &mut []);
        let mut quads = scratch.mid[..m].chunks_exact(4);
        for q in quads.by_ref() {
            l0[q[0] as usize & (N - 1)] += 1;
            l1[q[1] as usize & (N - 1)] += 1;
            l2[q[2] as usize & (N - 1)] += 1;
            l3[q[3] as usize & (N - 1)] += 1;
        }
        for &c in quads.remainder() {
            l0[c as usize & (N - 1)] += 1;
        }
        done += m;
    }
    finite && crate::estimate::first_non_finite(&x[n..]).is_none()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn count_streams_avx2<const N: usize>(
    x: &[f64],
    order: usize,
    delay: usize,
    scratch: &mut StreamScratch,
    counts: &mut [u32],
) -> bool {
    count_streams_with::<N>(x, order, delay, scratch, counts, |x, b, m, o, t, s, c| {
        // SAFETY: this closure runs inside a function with AVX2 and FMA enabled.
        unsafe { build_streams_avx2(x, b, m, o, t, s, c) }
    })
}

fn count_streams_n<const N: usize>(
    x: &[f64],
    order: usize,
    delay: usize,
    scratch: &mut StreamScratch,
    counts: &mut [u32],
) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        if have_avx2_fma() {
            // SAFETY: the CPU supports AVX2 and FMA (checked at run time just above).
            return unsafe { count_streams_avx2::<N>(x, order, delay, scratch, counts) };
        }
    }
    count_streams_with::<N>(x, order, delay, scratch, counts, build_streams_generic)
}

/// [`count_streams_with`] for an order that [`stream_count_stride`] accepts, with
/// `x.len() > span`, `span <= MAX_STREAM_SPAN` and `counts.len() >= 4 * stride`.
fn count_streams(
    x: &[f64],
    order: usize,
    delay: usize,
    scratch: &mut StreamScratch,
    counts: &mut [u32],
) -> bool {
    match order {
        4 => count_streams_n::<32>(x, order, delay, scratch, counts),
        5 => count_streams_n::<128>(x, order, delay, scratch, counts),
        6 => count_streams_n::<1024>(x, order, delay, scratch, counts),
        7 => count_streams_n::<8192>(x, order, delay, scratch, counts),
        _ => count_streams_n::<65536>(x, order, delay, scratch, counts),
    }
}

/// How far ahead (in samples) the AVX2 order-3 counter prefetches: one block of the
/// estimator (`BLOCK` in `permutation.rs`).
#[cfg(target_arch = "x86_64")]
const ORDER3_PREFETCH_AHEAD: usize = 4096;

/// Counts of the order-3 inversion codes of the patterns ending at `x[2 tau..]` (all
/// their samples inside `x`, none non-finite): see
/// [`OrdinalEncoder::count_order3_finite`].
fn count_order3_words(x: &[f64], delay: usize) -> [u32; 6] {
    #[cfg(target_arch = "x86_64")]
    {
        static AVX2: OnceLock<bool> = OnceLock::new();
        if *AVX2.get_or_init(|| std::arch::is_x86_feature_detected!("avx2")) {
            // SAFETY: the CPU supports AVX2 (checked at run time just above).
            return unsafe { count_order3_avx2(x, delay) };
        }
    }
    count_order3_generic(x, delay)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn count_order3_avx2(x: &[f64], delay: usize) -> [u32; 6] {
    // SAFETY: this function runs with AVX2 enabled, which `le_bits64_avx` needs.
    count_order3_with(
        x,
        delay,
        |a, b| unsafe { le_bits64_avx(a, b) },
        |newest| {
            // The block after this one: its 4096 samples (512 lines) are asked for while
            // this one's 64 words are counted, so the caller's finiteness scan of the next
            // block finds them in cache instead of waiting on memory. A prefetch is only a
            // hint (reads nothing in the program's sense, never faults): the address may
            // lie past the input, hence `wrapping_add`.
            for line in 0..8 {
                let ahead = newest
                    .as_ptr()
                    .wrapping_add(ORDER3_PREFETCH_AHEAD + 8 * line);
                // SAFETY: SSE is enabled (AVX2 implies it); a prefetch dereferences nothing.
                // (Safe to call on newer compilers, an `unsafe fn` on the crate's 1.86.)
                #[allow(unused_unsafe)]
                unsafe {
                    std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                        ahead.cast(),
                    )
                };
            }
        },
    )
}

/// [`le_bits64`] with AVX compares: four pairs per instruction, their sign masks
/// straight into the word.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn le_bits64_avx(a: &[f64; 64], b: &[f64; 64]) -> u64 {
    use std::arch::x86_64::{_mm256_cmp_pd, _mm256_loadu_pd, _mm256_movemask_pd, _CMP_LE_OQ};
    let mut w = 0u64;
    for k in 0..16 {
        // SAFETY: 4k + 3 < 64, inside both arrays; AVX is enabled on this function.
        let m = {
            let u = _mm256_loadu_pd(a.as_ptr().add(4 * k));
            let v = _mm256_loadu_pd(b.as_ptr().add(4 * k));
            _mm256_movemask_pd(_mm256_cmp_pd::<_CMP_LE_OQ>(u, v))
        };
        w |= (m as u64) << (4 * k);
    }
    w
}

/// Bit `i` set where `a[i] <= b[i]` (NaN never), for up to 64 pairs.
#[inline(always)]
fn le_bits(a: &[f64], b: &[f64]) -> u64 {
    let mut w = 0u64;
    for (i, (&u, &v)) in a.iter().zip(b).enumerate() {
        w |= ((u <= v) as u64) << i;
    }
    w
}

/// `le_bits` over exactly 64 pairs, four at a time into the word.
#[inline(always)]
fn le_bits64(a: &[f64; 64], b: &[f64; 64]) -> u64 {
    let mut w = 0u64;
    for k in 0..16 {
        let mut nib = 0u64;
        for j in 0..4 {
            nib |= ((a[4 * k + j] <= b[4 * k + j]) as u64) << j;
        }
        w |= nib << (4 * k);
    }
    w
}

#[inline(always)]
fn count_order3_generic(x: &[f64], delay: usize) -> [u32; 6] {
    count_order3_with(x, delay, le_bits64, |_| {})
}

#[inline(always)]
fn count_order3_with(
    x: &[f64],
    delay: usize,
    word: impl Fn(&[f64; 64], &[f64; 64]) -> u64,
    ahead: impl Fn(&[f64; 64]),
) -> [u32; 6] {
    let n = x.len() - 2 * delay; // patterns
    let (x0, x1, x2) = (&x[..n], &x[delay..delay + n], &x[2 * delay..2 * delay + n]);
    let mut counts = [0u32; 6];
    let mut add = |a: u64, b: u64, e: u64, valid: u64| {
        let both = e & b;
        let one = e ^ b;
        let none = !(e | b) & valid;
        let (a, na) = (a & valid, !a & valid);
        counts[0] += (na & none).count_ones();
        counts[1] += (a & none).count_ones();
        counts[2] += (na & one).count_ones();
        counts[3] += (a & one).count_ones();
        counts[4] += (na & both).count_ones();
        counts[5] += (a & both).count_ones();
    };
    let words = n / 64;
    for k in 0..words {
        let r = 64 * k..64 * k + 64;
        let (p0, p1, p2): (&[f64; 64], &[f64; 64], &[f64; 64]) = (
            x0[r.clone()].try_into().expect("64"),
            x1[r.clone()].try_into().expect("64"),
            x2[r].try_into().expect("64"),
        );
        ahead(p2);
        add(word(p0, p1), word(p1, p2), word(p0, p2), !0);
    }
    let r = 64 * words..n;
    if !r.is_empty() {
        let len = r.len();
        let (p0, p1, p2) = (&x0[r.clone()], &x1[r.clone()], &x2[r]);
        add(
            le_bits(p0, p1),
            le_bits(p1, p2),
            le_bits(p0, p2),
            (1u64 << len) - 1,
        );
    }
    counts
}

/// Streaming ordinal encoder: feed samples one chunk at a time, get one inversion code
/// per sample (`NO_PATTERN` while the embedding is incomplete or its span holds a
/// non-finite sample).
///
/// A pattern is invalid when any sample in its *span* `[t-(d-1)tau, t]` is non-finite,
/// not only its `d` embedded samples. With `tau > 1` this is stricter than necessary for
/// the pattern itself, but it is what guarantees that every window containing a
/// non-finite sample also contains an invalid pattern (the invalid patterns then form
/// one contiguous run of `(d-1)tau + 1` codes), which the window estimators rely on to
/// report NaN for exactly those windows.
///
/// State across chunks: the last `(d-1)*tau` samples and the position of the last
/// non-finite sample. The first samples of a chunk are encoded from a small junction
/// buffer holding that tail plus the chunk's head; the rest straight from the chunk, so
/// a chunk is never copied.
#[derive(Debug, Clone)]
pub struct OrdinalEncoder {
    order: usize,
    delay: usize,
    span: usize,
    /// The last `span` samples seen (oldest first), fewer at the start of a stream.
    tail: Vec<f64>,
    /// Number of samples seen so far.
    seen: u64,
    /// Absolute index + 1 of the last non-finite sample (0 = none yet).
    last_bad: u64,
    scratch: Vec<f64>,
    /// The stream encoder's buffers, allocated on first use.
    streams: Option<Box<StreamScratch>>,
}

impl OrdinalEncoder {
    /// A fresh encoder.
    pub fn new(order: usize, delay: usize) -> Result<Self> {
        let span = check_embedding(order, delay)?;
        Ok(Self {
            order,
            delay,
            span,
            // Grows with the stream: a huge delay must not reserve memory up front.
            tail: Vec::new(),
            seen: 0,
            last_bad: 0,
            scratch: Vec::new(),
            streams: None,
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
        self.seen = 0;
        self.last_bad = 0;
    }

    /// Encodes `chunk`, writing one inversion code per sample into `codes` (same length).
    pub fn encode(&mut self, chunk: &[f64], codes: &mut [u32]) {
        self.encode_checked(chunk, codes, false)
    }

    /// [`encode`](Self::encode) for a chunk the caller has just found free of non-finite
    /// samples: skips the encoder's own scan of it (one pass over the chunk).
    pub(crate) fn encode_finite(&mut self, chunk: &[f64], codes: &mut [u32]) {
        debug_assert!(crate::estimate::first_non_finite(chunk).is_none());
        self.encode_checked(chunk, codes, true)
    }

    /// Whole-series counting at order 3 for a chunk holding no non-finite sample: adds the
    /// number of patterns of each inversion code to `counts[code]` (six counters) and
    /// returns how many patterns it counted, leaving the encoder as
    /// [`encode`](Self::encode) would. `codes` is scratch of at least `span` entries.
    ///
    /// The first `span` patterns (which reach into the previous chunk) go through the
    /// encoder; the others are counted from three comparison bit streams, 64 patterns per
    /// word: with `a = x0 <= x1`, `b = x1 <= x2`, `e = x0 <= x2` the inversion code is
    /// `a + 2 (e + b)`, so each code's count is the population count of one combination
    /// of the three words. The counts are the encoder's, comparison for comparison.
    pub(crate) fn count_order3_finite(
        &mut self,
        chunk: &[f64],
        counts: &mut [u32],
        codes: &mut [u32],
    ) -> u64 {
        debug_assert_eq!(self.order, 3);
        debug_assert!(crate::estimate::first_non_finite(chunk).is_none());
        let head = chunk.len().min(self.span);
        let head_codes = &mut codes[..head];
        self.encode_checked(&chunk[..head], head_codes, true);
        let mut valid = 0u64;
        for &c in head_codes.iter().filter(|&&c| c != NO_PATTERN) {
            counts[c as usize] += 1;
            valid += 1;
        }
        if chunk.len() > head {
            let found = count_order3_words(chunk, self.delay);
            for (c, f) in counts.iter_mut().zip(found) {
                *c += f;
            }
            valid += (chunk.len() - head) as u64;
            self.seen += (chunk.len() - head) as u64;
            self.tail.clear();
            self.tail
                .extend_from_slice(&chunk[chunk.len() - self.span..]);
        }
        valid
    }

    /// Whole-series counting at orders 4..=8 ([`stream_count_stride`]) for a chunk of more
    /// than `span` samples whose span fits the stream encoder: adds each pattern's count
    /// to four sub-histograms `counts[lane * stride..][..stride]` and returns how many
    /// patterns it counted and whether the chunk held only finite samples, leaving the
    /// encoder as [`encode`](Self::encode) would. `codes` is scratch of at least `span`
    /// entries.
    ///
    /// The first `span` patterns (which reach into the previous chunk) go through the
    /// encoder and into lane 0 (skipping invalid ones, as the encoder marks them after
    /// earlier non-finite samples); the others are counted straight from the stream
    /// encoder's u16 codes ([`count_streams`]), which also checks the chunk for
    /// non-finite samples on the way. Those counts are meaningless when it finds one:
    /// the caller either checked the chunk before (`finite` is then true) or discards
    /// the estimator on the error it raises.
    pub(crate) fn count_streams_finite(
        &mut self,
        chunk: &[f64],
        counts: &mut [u32],
        codes: &mut [u32],
    ) -> (u64, bool) {
        debug_assert!(stream_count_stride(self.order).is_some());
        debug_assert!(chunk.len() > self.span && self.span <= MAX_STREAM_SPAN);
        let scratch = self.streams.get_or_insert_with(StreamScratch::new);
        let finite = count_streams(chunk, self.order, self.delay, scratch, counts);
        let head = self.span;
        let head_codes = &mut codes[..head];
        self.encode_checked(&chunk[..head], head_codes, finite);
        let mut valid = 0u64;
        for &c in head_codes.iter().filter(|&&c| c != NO_PATTERN) {
            counts[c as usize] += 1;
            valid += 1;
        }
        valid += (chunk.len() - head) as u64;
        self.seen += (chunk.len() - head) as u64;
        self.tail.clear();
        self.tail
            .extend_from_slice(&chunk[chunk.len() - self.span..]);
        (valid, finite)
    }

    /// Whether whole-series counting of this encoder's order and delay can use
    /// [`count_streams_finite`](Self::count_streams_finite); its lane stride if so.
    pub(crate) fn stream_count_stride(&self) -> Option<usize> {
        stream_count_stride(self.order).filter(|_| self.span <= MAX_STREAM_SPAN)
    }

    fn encode_checked(&mut self, chunk: &[f64], codes: &mut [u32], known_finite: bool) {
        debug_assert_eq!(chunk.len(), codes.len());
        let span = self.span;
        let head = chunk.len().min(span);
        // Junction: tail ++ chunk[..head]; positions tail.len().. are the chunk's head.
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        buf.extend_from_slice(&self.tail);
        buf.extend_from_slice(&chunk[..head]);
        let start = self.tail.len();
        self.encode_range(&buf, start, &mut codes[..head], self.seen, known_finite);
        if chunk.len() > head {
            let base = self.seen + head as u64;
            self.encode_range(chunk, span, &mut codes[head..], base, known_finite);
        }
        self.seen += chunk.len() as u64;
        // Keep the last `span` samples (from the junction buffer when the chunk is short).
        self.tail.clear();
        if chunk.len() >= span {
            self.tail.extend_from_slice(&chunk[chunk.len() - span..]);
        } else {
            let drop = buf.len().saturating_sub(span);
            self.tail.extend_from_slice(&buf[drop..]);
        }
        self.scratch = buf;
    }

    /// Encodes `xs[start..]` where `xs[start + k]` is the sample at absolute index
    /// `base + k` and `xs[..start]` are the samples just before it. `known_finite`: the
    /// caller has checked that `xs[start..]` holds no non-finite sample.
    fn encode_range(
        &mut self,
        xs: &[f64],
        start: usize,
        out: &mut [u32],
        base: u64,
        known_finite: bool,
    ) {
        let span = self.span as u64;
        let n = out.len();
        // Warm-up: no pattern before `span` samples of history exist.
        let warm = (span.saturating_sub(base) as usize).min(n);
        out[..warm].fill(NO_PATTERN);
        if warm == n {
            self.note_bad(&xs[start..start + n], base);
            return;
        }
        let scratch = self.streams.get_or_insert_with(StreamScratch::new);
        encode_block(
            xs,
            start + warm,
            &mut out[warm..],
            self.order,
            self.delay,
            scratch,
        );
        let new = &xs[start..start + n];
        let first_abs = base + warm as u64;
        let block_clean = known_finite || crate::estimate::first_non_finite(new).is_none();
        if block_clean && self.last_bad <= first_abs - span {
            return;
        }
        // Slow path: mark the patterns whose span holds a non-finite sample.
        for (k, &v) in new.iter().enumerate() {
            let abs = base + k as u64;
            if !v.is_finite() {
                self.last_bad = abs + 1;
            }
            if k >= warm && self.last_bad > abs - span {
                out[k] = NO_PATTERN;
            }
        }
    }

    fn note_bad(&mut self, new: &[f64], base: u64) {
        if let Some(k) = new.iter().rposition(|v| !v.is_finite()) {
            self.last_bad = base + k as u64 + 1;
        }
    }

    /// Serialises the state (see `checkpoint` module for the framing).
    pub(crate) fn write_state(&self, w: &mut crate::util::checkpoint::Writer) {
        w.u64(self.order as u64);
        w.u64(self.delay as u64);
        w.u64(self.seen);
        w.u64(self.last_bad);
        w.f64s(&self.tail);
    }

    pub(crate) fn read_state(r: &mut crate::util::checkpoint::Reader) -> Result<Self> {
        let order = r.usize()?;
        let delay = r.usize()?;
        let mut enc =
            Self::new(order, delay).map_err(|e| Error::checkpoint(e.message().to_string()))?;
        enc.seen = r.u64()?;
        enc.last_bad = r.u64()?;
        enc.tail = r.f64s()?;
        if enc.tail.len() as u64 != enc.seen.min(enc.span as u64) || enc.last_bad > enc.seen {
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
                s = crate::util::testing::lcg_step(s);
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
                        to_lexicographic(&mut got, d);
                        assert_eq!(
                            got, expected,
                            "d={d} tau={tau} levels={levels} chunk={chunk}"
                        );
                    }
                }
            }
        }
    }

    /// The stream encoder against the pairwise one, block by block, for every order, short
    /// and long delays (up to the stream encoder's span limit and past it), ties, and
    /// non-finite samples (NaN compares false in both; the encoder masks those patterns
    /// afterwards, but the raw codes must agree too). Block lengths cross the sub-block
    /// size.
    #[test]
    fn stream_encoder_matches_pairwise_encoder() {
        let mut scratch = StreamScratch::new();
        for d in MIN_ORDER..=MAX_ORDER {
            let mut delays = vec![1usize, 2, 3, 7, MAX_STREAM_SPAN / (d - 1)];
            delays.push(MAX_STREAM_SPAN / (d - 1) + 1);
            for tau in delays {
                let span = (d - 1) * tau;
                for levels in [2u64, 5, 1 << 20] {
                    let n = 1100;
                    let mut x = lcg(d as u64 * 131 + tau as u64 + levels, span + n, levels);
                    x[span + 3] = f64::NAN;
                    x[span + 600] = f64::INFINITY;
                    x[span + 601] = f64::NEG_INFINITY;
                    for len in [1usize, 31, STREAM_BLOCK, STREAM_BLOCK + 1, n] {
                        let mut pairwise = vec![0u32; len];
                        encode_block_pairwise(&x, span, &mut pairwise, d, tau);
                        let mut fast = vec![7u32; len];
                        encode_block(&x, span, &mut fast, d, tau, &mut scratch);
                        assert_eq!(fast, pairwise, "d={d} tau={tau} levels={levels} len={len}");
                        if span <= MAX_STREAM_SPAN {
                            let mut streams = vec![7u32; len];
                            encode_block_streams(&x, span, &mut streams, d, tau, &mut scratch);
                            assert_eq!(streams, pairwise, "d={d} tau={tau} len={len}");
                        }
                    }
                }
            }
        }
    }

    /// Long delays (past the stream encoder's span limit) through the streaming encoder,
    /// against the from-scratch reference.
    #[test]
    fn long_delays_match_direct_codes() {
        for (d, tau) in [(4usize, MAX_STREAM_SPAN / 3 + 1), (10, 60)] {
            let mut x = lcg(d as u64, 3000, 4);
            x[2000] = f64::NAN;
            let expected = reference_codes(&x, d, tau);
            for chunk in [999usize, 3000] {
                let mut enc = OrdinalEncoder::new(d, tau).unwrap();
                let mut got = vec![0u32; x.len()];
                for (xs, out) in x.chunks(chunk).zip(got.chunks_mut(chunk)) {
                    enc.encode(xs, out);
                }
                to_lexicographic(&mut got, d);
                assert_eq!(got, expected, "d={d} tau={tau} chunk={chunk}");
            }
        }
    }

    #[test]
    fn rejects_bad_embeddings() {
        assert!(check_embedding(1, 1)
            .unwrap_err()
            .message()
            .contains("got 1"));
        assert!(check_embedding(11, 1)
            .unwrap_err()
            .message()
            .contains("2..=10"));
        assert!(check_embedding(3, 0)
            .unwrap_err()
            .message()
            .contains("delay"));
        assert!(check_embedding(3, usize::MAX).is_err());
    }

    /// Counts of the pairwise encoder's codes for the patterns ending at `x[span..]`.
    fn pairwise_counts(x: &[f64], d: usize, tau: usize) -> Vec<u32> {
        let span = (d - 1) * tau;
        let mut codes = vec![0u32; x.len() - span];
        encode_block_pairwise(x, span, &mut codes, d, tau);
        let mut counts = vec![0u32; factorial(d)];
        for c in codes {
            counts[c as usize] += 1;
        }
        counts
    }

    /// The four sub-histograms of `count_streams` summed (lane stride `stride`).
    fn merged(lanes: &[u32], stride: usize, d: usize) -> Vec<u32> {
        let mut m = vec![0u32; factorial(d)];
        for lane in lanes.chunks_exact(stride) {
            for (a, &b) in m.iter_mut().zip(lane) {
                *a += b;
            }
        }
        m
    }

    /// Both stream builders (portable, and AVX2 where the CPU has it) through the counting
    /// kernel, against the pairwise encoder's counts and its own finiteness check: a
    /// single non-finite sample anywhere in the chunk (first, last, on a sub-block edge)
    /// must clear the flag, a finite chunk must keep it.
    fn check_count_streams(x: &[f64], d: usize, tau: usize) {
        let stride = stream_count_stride(d).expect("orders 4..=8");
        let expected = pairwise_counts(x, d, tau);
        let finite = x.iter().all(|v| v.is_finite());
        let mut scratch = StreamScratch::new();
        let mut lanes = vec![0u32; 4 * stride];
        let got = count_streams_with::<65536>(
            x,
            d,
            tau,
            &mut scratch,
            &mut vec![0; 4 * 65536],
            build_streams_generic,
        );
        assert_eq!(
            got,
            finite,
            "portable finiteness d={d} tau={tau} n={}",
            x.len()
        );
        let ok = count_streams(x, d, tau, &mut scratch, &mut lanes);
        assert_eq!(ok, finite, "finiteness d={d} tau={tau} n={}", x.len());
        if finite {
            assert_eq!(
                merged(&lanes, stride, d),
                expected,
                "d={d} tau={tau} n={}",
                x.len()
            );
            let mut portable = vec![0u32; 4 * stride];
            let mut stride_n = |v: &mut Vec<u32>| match d {
                4 => count_streams_with::<32>(x, d, tau, &mut scratch, v, build_streams_generic),
                5 => count_streams_with::<128>(x, d, tau, &mut scratch, v, build_streams_generic),
                6 => count_streams_with::<1024>(x, d, tau, &mut scratch, v, build_streams_generic),
                7 => count_streams_with::<8192>(x, d, tau, &mut scratch, v, build_streams_generic),
                _ => count_streams_with::<65536>(x, d, tau, &mut scratch, v, build_streams_generic),
            };
            assert!(stride_n(&mut portable));
            assert_eq!(
                merged(&portable, stride, d),
                expected,
                "portable d={d} tau={tau}"
            );
        }
    }

    #[test]
    fn stream_counts_match_pairwise_counts() {
        for d in 4..=8 {
            for tau in [1usize, 2, 5, MAX_STREAM_SPAN / (d - 1)] {
                let span = (d - 1) * tau;
                for levels in [2u64, 3, 1 << 30] {
                    for n in [
                        1usize,
                        7,
                        31,
                        32,
                        33,
                        STREAM_BLOCK - 1,
                        STREAM_BLOCK,
                        STREAM_BLOCK + 1,
                        1500,
                        4096,
                    ] {
                        let x = lcg(d as u64 * 7 + tau as u64 + levels, span + n, levels);
                        check_count_streams(&x, d, tau);
                    }
                }
                // Monotone runs: all patterns one code.
                let up: Vec<f64> = (0..span + 1000).map(|i| i as f64).collect();
                check_count_streams(&up, d, tau);
                let down: Vec<f64> = up.iter().map(|v| -v).collect();
                check_count_streams(&down, d, tau);
            }
        }
    }

    #[test]
    fn stream_counts_find_every_non_finite_sample() {
        for d in [4usize, 8] {
            for tau in [1usize, 3] {
                let span = (d - 1) * tau;
                let n = span + 2 * STREAM_BLOCK + 40;
                let clean = lcg(d as u64 + tau as u64, n, 1000);
                let mut positions: Vec<usize> = (0..40).collect();
                positions.extend(n - 40..n);
                for edge in [STREAM_BLOCK, 2 * STREAM_BLOCK] {
                    positions.extend(edge - 3..edge + span + 3);
                }
                for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
                    for &k in &positions {
                        let mut x = clean.clone();
                        x[k] = bad;
                        check_count_streams(&x, d, tau);
                    }
                }
            }
        }
    }

    /// The AVX2 stream builder writes the same bytes as the portable one, for every order
    /// and sub-block length (the 32-sample groups, the per-lag tails, NaN and ties).
    #[test]
    fn stream_builders_agree() {
        #[cfg(target_arch = "x86_64")]
        if have_avx2_fma() {
            for d in 3..=MAX_ORDER {
                for tau in [1usize, 4, MAX_STREAM_SPAN / (d - 1)] {
                    let span = (d - 1) * tau;
                    for m in [1usize, 31, 32, 33, 100, STREAM_BLOCK] {
                        let mut x = lcg(d as u64 * 5 + m as u64, span + m + 3, 4);
                        x[m / 2] = f64::NAN;
                        let mut a = StreamScratch::new();
                        let mut b = StreamScratch::new();
                        for base in [0usize, 3] {
                            let fa =
                                build_streams_generic(&x, base, m, d, tau, &mut a.streams, true);
                            // SAFETY: the CPU has AVX2 and FMA (checked above).
                            let fb = unsafe {
                                build_streams_avx2(&x, base, m, d, tau, &mut b.streams, true)
                            };
                            assert_eq!(fa, fb, "finite d={d} tau={tau} m={m} base={base}");
                            for k in 1..d {
                                let len = m + span - k * tau;
                                assert_eq!(
                                    a.streams[k - 1][..len],
                                    b.streams[k - 1][..len],
                                    "d={d} tau={tau} m={m} k={k}"
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}
