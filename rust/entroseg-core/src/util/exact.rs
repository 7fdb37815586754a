//! Exact sums of non-negative `f64` values, for drift-free *weighted* estimators.
//!
//! Weighted permutation entropy sums float weights (variances) per pattern over a
//! sliding window. A float running sum that adds the entering weight and subtracts the
//! leaving one drifts: after a burst of large weights leaves the window, the residue of
//! its rounding errors can dwarf the small weights that remain. [`ExactSum`] instead
//! keeps the sum *exactly*, as a fixed-point integer on the grid `2^-1074` (the smallest
//! subnormal) split into 32-bit digits held in `i64` limbs, so additions and removals
//! commute and cancel exactly. [`ExactSum::value`] maps the exact sum to an `f64` by a
//! deterministic function of the exact value, so a window's weighted entropy is the same
//! bits whatever history led to that window.
//!
//! Limbs have 31 bits of headroom: up to 2^30 updates between normalisations are safe,
//! and normalisation is triggered well before that.

const LIMBS: usize = 68;
const DIGIT: i64 = 1 << 32;
const MASK: i64 = DIGIT - 1;
const RENORMALIZE_AFTER: u32 = 1 << 28;

/// Exact sum of non-negative finite floats; removal of an added value is exact.
#[derive(Clone)]
pub struct ExactSum {
    limbs: Box<[i64; LIMBS]>,
    /// Lowest limb written since the last normalisation.
    dirty_lo: usize,
    /// Upper bound (inclusive) of limbs that may be non-zero.
    hi: usize,
    pending: u32,
}

impl std::fmt::Debug for ExactSum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExactSum")
            .field("value", &self.clone().value())
            .finish()
    }
}

impl Default for ExactSum {
    fn default() -> Self {
        Self::new()
    }
}

#[inline(always)]
fn split(v: f64) -> (usize, [i64; 3]) {
    let bits = v.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as usize;
    let mut mant = bits & ((1u64 << 52) - 1);
    let offset = if exp == 0 {
        0
    } else {
        mant |= 1u64 << 52;
        exp - 1
    };
    let wide = (mant as u128) << (offset % 32);
    (
        offset / 32,
        [
            (wide as i64) & MASK,
            ((wide >> 32) as i64) & MASK,
            (wide >> 64) as i64,
        ],
    )
}

/// `x * 2^e` for a wide range of `e`, in steps that stay within the normal range.
fn scale_by_power_of_two(mut x: f64, mut e: i64) -> f64 {
    let pow = |k: i64| f64::from_bits(((k + 1023) as u64) << 52);
    while e > 1000 {
        x *= pow(1000);
        e -= 1000;
    }
    while e < -1000 {
        x *= pow(-1000);
        e += 1000;
    }
    x * pow(e)
}

impl ExactSum {
    /// Zero.
    pub fn new() -> Self {
        Self {
            limbs: Box::new([0; LIMBS]),
            dirty_lo: LIMBS,
            hi: 0,
            pending: 0,
        }
    }

    #[inline]
    fn apply(&mut self, v: f64, sign: i64) {
        debug_assert!(v.is_finite() && v >= 0.0);
        let (idx, digits) = split(v);
        self.limbs[idx] += sign * digits[0];
        self.limbs[idx + 1] += sign * digits[1];
        self.limbs[idx + 2] += sign * digits[2];
        self.dirty_lo = self.dirty_lo.min(idx);
        self.hi = self.hi.max(idx + 2);
        self.pending += 1;
        if self.pending >= RENORMALIZE_AFTER {
            self.normalize();
        }
    }

    /// Adds a non-negative finite value.
    #[inline]
    pub fn add(&mut self, v: f64) {
        self.apply(v, 1);
    }

    /// Removes a value previously added (the total must stay non-negative).
    #[inline]
    pub fn sub(&mut self, v: f64) {
        self.apply(v, -1);
    }

    /// Carries so that every limb holds one 32-bit digit: a canonical form.
    fn normalize(&mut self) {
        if self.dirty_lo >= LIMBS {
            return;
        }
        let mut carry = 0i64;
        let mut i = self.dirty_lo;
        while i < LIMBS {
            let v = self.limbs[i] + carry;
            self.limbs[i] = v & MASK;
            carry = v >> 32;
            if carry == 0 && i >= self.hi {
                break;
            }
            i += 1;
        }
        debug_assert!(carry == 0, "ExactSum went negative");
        self.hi = self.hi.max(i.min(LIMBS - 1));
        while self.hi > 0 && self.limbs[self.hi] == 0 {
            self.hi -= 1;
        }
        self.dirty_lo = LIMBS;
        self.pending = 0;
    }

    /// True when the exact sum is zero.
    pub fn is_zero(&mut self) -> bool {
        self.normalize();
        self.hi == 0 && self.limbs[0] == 0
    }

    /// The sum as an `f64`: a deterministic function of the exact value (the top 96
    /// significant bits, rounded to nearest), so equal sums give equal bits.
    pub fn value(&mut self) -> f64 {
        self.normalize();
        let top = self.hi;
        let low = top.saturating_sub(2);
        let mut m: u128 = 0;
        for j in (low..=top).rev() {
            m = (m << 32) | self.limbs[j] as u128;
        }
        scale_by_power_of_two(m as f64, 32 * low as i64 - 1074)
    }
}

impl ExactSum {
    /// Serialises the limbs (canonical form).
    pub(crate) fn write(&self, w: &mut crate::util::checkpoint::Writer) {
        let mut c = self.clone();
        c.normalize();
        let digits: Vec<u32> = c.limbs.iter().map(|&l| l as u32).collect();
        w.u32s(&digits);
    }

    /// Reads limbs written by `write`.
    pub(crate) fn read(r: &mut crate::util::checkpoint::Reader) -> crate::Result<Self> {
        let digits = r.u32s()?;
        if digits.len() != LIMBS {
            return Err(crate::Error::checkpoint(
                "inconsistent exact sum in checkpoint",
            ));
        }
        let mut s = Self::new();
        for (l, d) in s.limbs.iter_mut().zip(digits) {
            *l = d as i64;
        }
        s.hi = LIMBS - 1;
        s.dirty_lo = 0;
        s.normalize();
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_cancellation_where_floats_drift() {
        let mut exact = ExactSum::new();
        let mut float = 0.0f64;
        let big = [1e10, 3.3e9, 7.77e11];
        let small = [1e-3, 2.5e-4];
        for &b in &big {
            exact.add(b);
            float += b;
        }
        for &s in &small {
            exact.add(s);
            float += s;
        }
        for &b in &big {
            exact.sub(b);
            float -= b;
        }
        assert_eq!(exact.value(), 1e-3 + 2.5e-4);
        assert_ne!(
            float,
            1e-3 + 2.5e-4,
            "the float sum drifts (that is the point)"
        );
    }

    #[test]
    fn value_is_independent_of_history() {
        let values: Vec<f64> = (0..500)
            .map(|i| ((i * 7919) % 1000) as f64 * 1.37e-3 + 1e-300)
            .collect();
        let mut a = ExactSum::new();
        for v in &values {
            a.add(*v);
        }
        let mut b = ExactSum::new();
        for v in values.iter().rev() {
            b.add(*v);
            b.add(1e200);
            b.sub(1e200);
        }
        assert_eq!(a.value().to_bits(), b.value().to_bits());
        let float: f64 = values.iter().sum();
        assert!((a.value() - float).abs() <= float * 1e-13);
    }

    #[test]
    fn extremes() {
        let mut s = ExactSum::new();
        assert_eq!(s.value(), 0.0);
        assert!(s.is_zero());
        s.add(f64::MIN_POSITIVE / 4.0);
        assert_eq!(s.value(), f64::MIN_POSITIVE / 4.0);
        s.add(f64::MAX);
        assert_eq!(s.value(), f64::MAX);
        s.add(f64::MAX);
        assert!(s.value().is_infinite());
        s.sub(f64::MAX);
        s.sub(f64::MAX);
        assert_eq!(s.value(), f64::MIN_POSITIVE / 4.0);
    }
}
