//! Drift-free running sums of `c * ln(c)`.
//!
//! Plug-in entropies of a window are functions of `S = sum_i c_i ln c_i` over the counts
//! `c_i` in the window. Updating `S` in floating point as counts go up and down
//! accumulates rounding error without bound over a long stream, and the result would
//! depend on the path the counts took. Instead every term is a *fixed-point integer*
//! `F(c) = round(c ln c * 2^s)` and `S` is an exact `i64` sum of such terms. Because `F`
//! is a pure function of `c`, `S` after any history equals `S` computed afresh from the
//! same counts, bit for bit: rolling values never drift and do not depend on how the
//! stream was chunked.
//!
//! The scale `s` depends only on the largest count the sum can see (the number of items
//! in a full window), chosen so that `sum F <= N ln N * 2^s` stays below `2^62`. A
//! whole-series computation over `N` items therefore uses exactly the scale of a rolling
//! window holding `N` items, which is what makes "rolling value == whole-series value of
//! that window" an exact identity. With that scale the rounding error of the sum is at
//! most `K / 2^(s+1)` for `K` distinct items; since `2^s > 2^60 / (2 N ln N + 2)`, that is
//! below about `K ln N / 2^60` nats once divided by `N 2^s`.

/// Largest table we precompute (entries); beyond it `F(c)` is evaluated on the fly,
/// which is slower but gives identical values.
const MAX_TABLE_LEN: usize = 1 << 20;

/// Fixed-point scale (fraction bits) for sums whose terms' counts total at most `max_total`.
pub fn scale_bits_for(max_total: u64) -> u32 {
    let n = max_total.max(2) as f64;
    // Upper bound of sum c ln c when the counts sum to n, with a safety factor 2.
    let bound = 2.0 * n * n.ln() + 2.0;
    let used = bound.log2().ceil() as i64;
    (61 - used).clamp(0, 52) as u32
}

/// `round(c ln c * 2^scale_bits)`, the fixed-point term of one count.
#[inline]
pub fn fixed_xlogx(c: u64, scale_bits: u32) -> i64 {
    if c < 2 {
        return 0;
    }
    let v = c as f64;
    (v * v.ln() * (1u64 << scale_bits) as f64).round() as i64
}

/// `F(c)` for counts up to a known maximum, tabulated when the table is small.
#[derive(Debug, Clone)]
pub struct XLogXTable {
    scale_bits: u32,
    table: Vec<i64>,
    /// `F(c + 1) - F(c)`: one load per count change on the hot path.
    deltas: Vec<i64>,
}

impl XLogXTable {
    /// Table for counts whose total is at most `max_total`.
    pub fn new(max_total: u64) -> Self {
        let scale_bits = scale_bits_for(max_total);
        let len = (max_total as usize).saturating_add(2).min(MAX_TABLE_LEN);
        let table: Vec<i64> = (0..len as u64)
            .map(|c| fixed_xlogx(c, scale_bits))
            .collect();
        let deltas = table.windows(2).map(|w| w[1] - w[0]).collect();
        Self {
            scale_bits,
            table,
            deltas,
        }
    }

    /// Fraction bits of the fixed-point values.
    pub fn scale_bits(&self) -> u32 {
        self.scale_bits
    }

    /// `F(c)`.
    #[inline(always)]
    pub fn get(&self, c: u32) -> i64 {
        match self.table.get(c as usize) {
            Some(&v) => v,
            None => fixed_xlogx(c as u64, self.scale_bits),
        }
    }

    /// Change of `F` when a count goes from `c` to `c + 1`.
    #[inline(always)]
    pub fn up(&self, c: u32) -> i64 {
        match self.deltas.get(c as usize) {
            Some(&d) => d,
            None => self.get(c + 1) - self.get(c),
        }
    }

    /// `F(max_total)`: the sum when one item holds every count (entropy exactly 0).
    pub fn single_item_sum(&self, total: u64) -> i64 {
        fixed_xlogx(total, self.scale_bits)
    }
}

/// Turns a fixed-point `S = sum F(c_i)` over `N` items into the plug-in entropy
/// `ln N - S / (N 2^s)` (nats). Built once per `N` so that every caller (rolling,
/// whole-series, streaming, one-shot) evaluates the very same float expression.
#[derive(Debug, Clone, Copy)]
pub struct EntropyOfSum {
    ln_n: f64,
    factor: f64,
}

impl EntropyOfSum {
    /// For `n_items` items and a sum in `scale_bits` fraction bits.
    pub fn new(n_items: u64, scale_bits: u32) -> Self {
        let n = n_items.max(1) as f64;
        Self {
            ln_n: n.ln(),
            factor: 1.0 / (n * (1u64 << scale_bits) as f64),
        }
    }

    /// Entropy in nats of counts whose fixed-point `sum F(c_i)` is `sum`.
    #[inline(always)]
    pub fn entropy(&self, sum: i64) -> f64 {
        // Clamp the rounding residue of a single-item distribution to exactly zero.
        (self.ln_n - sum as f64 * self.factor).max(0.0)
    }

    /// `sum / (N 2^s)`: the mean of `c ln c` terms, used by conditional entropies.
    #[inline(always)]
    pub fn scaled(&self, sum: i64) -> f64 {
        sum as f64 * self.factor
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_terms_track_float_values() {
        for &n in &[10u64, 1_000, 1 << 20, 1 << 32] {
            let s = scale_bits_for(n);
            for c in [2u64, 3, 17, n / 2, n] {
                let exact = c as f64 * (c as f64).ln();
                let fixed = fixed_xlogx(c, s) as f64 / (1u64 << s) as f64;
                assert!((exact - fixed).abs() <= exact * 1e-15 + 1.0 / (1u64 << s) as f64);
            }
            // The largest possible sum fits in an i64 with room to spare.
            let worst = fixed_xlogx(n, s);
            assert!(worst < i64::MAX / 2, "n={n} s={s}");
        }
    }

    #[test]
    fn table_equals_on_the_fly_values() {
        let t = XLogXTable::new(5_000_000);
        for c in [0u32, 1, 2, 1000, (1 << 20) - 1, 1 << 20, 4_000_000] {
            assert_eq!(t.get(c), fixed_xlogx(c as u64, t.scale_bits()));
        }
    }

    #[test]
    fn entropy_of_uniform_counts() {
        // Four items with counts 1: H = ln 4.
        let t = XLogXTable::new(4);
        let e = EntropyOfSum::new(4, t.scale_bits());
        assert!((e.entropy(0) - 4f64.ln()).abs() < 1e-15);
        // One item with count 4: H = 0.
        assert_eq!(e.entropy(t.get(4)), 0.0);
    }
}
