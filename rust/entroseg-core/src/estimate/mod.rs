//! Entropy estimators. Each has a streaming type (state kept across `update` calls,
//! checkpointable) and one-shot functions built on it, so there is one code path.

pub mod conditional;
pub mod context_model;
pub mod next_value;
pub mod ordinal;
pub mod permutation;
pub mod pooled;
pub mod quantize;
pub mod samples;

/// What to do with NaN and infinite samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NanPolicy {
    /// Reject the chunk with `ErrorKind::NonFinite` naming the first bad index; the
    /// estimator's state is left as it was before the call.
    #[default]
    Raise,
    /// Every window containing a non-finite sample yields NaN; once the window is clean
    /// again the values are exact again.
    Propagate,
}

impl NanPolicy {
    /// Parses `"raise"` / `"propagate"`.
    pub fn parse(s: &str) -> crate::Result<Self> {
        match s {
            "raise" => Ok(Self::Raise),
            "propagate" => Ok(Self::Propagate),
            other => Err(crate::Error::parameter(format!(
                "nan_policy must be 'raise' or 'propagate', got {other:?}"
            ))),
        }
    }
}

/// Final scaling of an entropy in nats: divide by the maximum `ln(n)` when normalising,
/// and clamp to the mathematical range.
///
/// An entropy over `n` possible outcomes lies in `[0, ln n]`. The computed value can land
/// an ulp outside it (an exactly uniform window evaluates `ln N - S / N` with rounded
/// terms), so normalised values are clamped to `[0, 1]` and values in nats to
/// `[0, ln n]`: the clamp only ever moves a value towards the true one. Every path
/// (rolling, whole series, streaming) finishes through this one function, which keeps
/// them bit-identical.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Finish {
    factor: f64,
    max: f64,
}

impl Finish {
    /// For entropies over `n_outcomes` outcomes (at least 1).
    pub(crate) fn new(n_outcomes: usize, normalize: bool) -> Self {
        let ln_n = (n_outcomes.max(1) as f64).ln();
        if normalize && n_outcomes > 1 {
            Self {
                factor: 1.0 / ln_n,
                max: 1.0,
            }
        } else {
            Self {
                factor: 1.0,
                max: ln_n,
            }
        }
    }

    /// The reported value of an entropy `h` in nats.
    #[inline(always)]
    pub(crate) fn apply(self, h: f64) -> f64 {
        (h * self.factor).clamp(0.0, self.max)
    }
}

/// Reserves room for a window's ring of `n` items, failing with an error instead of
/// aborting the process when the memory cannot be had (a window of 4e9 samples asks for
/// tens of GiB; Rust's default reaction to a failed allocation is to abort).
pub(crate) fn reserve_ring<T>(ring: &mut Vec<T>, n: usize, window: usize) -> crate::Result<()> {
    ring.try_reserve_exact(n.saturating_sub(ring.len()))
        .map_err(|_| {
            crate::Error::parameter(format!(
                "window of {window} samples needs {} MiB of state, which cannot be allocated",
                (n as u128 * std::mem::size_of::<T>() as u128) >> 20
            ))
        })
}

/// Most samples a whole-series estimator may see: its counts are 32-bit, and a series
/// never holds more patterns (or grams) than samples.
pub const MAX_WHOLE_SERIES_SAMPLES: u64 = u32::MAX as u64;

/// Fails when `seen + more` samples would exceed [`MAX_WHOLE_SERIES_SAMPLES`] (a count
/// could then wrap around silently).
pub(crate) fn check_whole_series_len(seen: u64, more: usize) -> crate::Result<()> {
    let total = seen.saturating_add(more as u64);
    if total > MAX_WHOLE_SERIES_SAMPLES {
        return Err(crate::Error::parameter(format!(
            "a whole series may hold at most {MAX_WHOLE_SERIES_SAMPLES} samples (its counts \
             are 32-bit), got {total}; use a window, or split the series"
        )));
    }
    Ok(())
}

/// `value` as a count of at least `min`, or an error naming the option: how options that
/// count (windows, orders, lengths) arrive from callers that hold signed integers.
pub fn count(value: i64, name: &str, min: i64) -> crate::Result<usize> {
    if value < min {
        return Err(crate::Error::parameter(format!(
            "{name} must be >= {min}, got {value}"
        )));
    }
    usize::try_from(value)
        .map_err(|_| crate::Error::parameter(format!("{name} is too large: {value}")))
}

/// Checks that every symbol is `< alphabet_size`; the error names the first one that is
/// not, its index and the alphabet.
pub fn check_symbols<T: Copy + Into<u64>>(
    symbols: &[T],
    alphabet_size: usize,
) -> crate::Result<()> {
    let a = alphabet_size as u64;
    match symbols.iter().position(|&s| s.into() >= a) {
        None => Ok(()),
        Some(i) => Err(crate::Error::new(
            crate::ErrorKind::SymbolOutOfRange { index: i },
            format!(
                "symbol {} at index {i} is outside the alphabet 0..{a} (alphabet_size={a})",
                symbols[i].into()
            ),
        )),
    }
}

/// Index of the first non-finite value, if any.
pub fn first_non_finite(x: &[f64]) -> Option<usize> {
    // Cheap branch-free scan first (vectorised), position search only on failure.
    if all_finite(x) {
        None
    } else {
        x.iter().position(|v| !v.is_finite())
    }
}

/// Whether every value of `x` is finite. `v * 0.0` is a zero for a finite `v` and NaN
/// for an infinity or a NaN, and a sum of zeros is a zero (never rounded, never
/// overflowing), so the sum of the products is zero exactly when every value is
/// finite: one multiply and one add per value in sixteen independent lanes, which the
/// compiler vectorises (with AVX2 when the CPU has it), instead of a per-value
/// classification folded into a boolean.
fn all_finite(x: &[f64]) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked at run time just above).
            return unsafe { all_finite_avx2(x) };
        }
    }
    all_finite_lanes(x)
}

#[inline(always)]
fn all_finite_lanes(x: &[f64]) -> bool {
    const LANES: usize = 16;
    let mut acc = [0.0f64; LANES];
    let chunks = x.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for k in 0..LANES {
            acc[k] += c[k] * 0.0;
        }
    }
    acc.iter().all(|&a| a == 0.0) && rest.iter().all(|v| v.is_finite())
}

/// [`all_finite_lanes`] compiled for AVX2.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn all_finite_avx2(x: &[f64]) -> bool {
    all_finite_lanes(x)
}

pub(crate) fn non_finite_error(index: usize, value: f64, stream_offset: u64) -> crate::Error {
    let at = if stream_offset > 0 {
        format!(
            "index {index} of this chunk (sample {} of the stream)",
            stream_offset + index as u64
        )
    } else {
        format!("index {index}")
    };
    crate::Error::new(
        crate::ErrorKind::NonFinite { index },
        format!("input contains {value} at {at}; pass nan_policy='propagate' to get NaN for the windows that contain it"),
    )
}

pub(crate) fn check_window(window: usize, span: usize, what: &str) -> crate::Result<()> {
    if window < span + 1 {
        return Err(crate::Error::parameter(format!(
            "window must hold at least one {what}: window >= {} samples, got {window}",
            span + 1
        )));
    }
    if window > u32::MAX as usize {
        return Err(crate::Error::parameter(format!(
            "window must be at most {} samples, got {window}",
            u32::MAX
        )));
    }
    Ok(())
}

/// The error for a non-finite `value` at `index` of a chunk that starts at sample
/// `stream_offset` of its stream.
pub fn non_finite_error_at(index: usize, value: f64, stream_offset: u64) -> crate::Error {
    non_finite_error(index, value, stream_offset)
}

/// The error raised for a non-finite sample at `index` (for adapters that scan input
/// themselves before calling a core function).
pub fn non_finite_error_public(index: usize, value: f64) -> crate::Error {
    non_finite_error(index, value, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_series_length_limit() {
        assert!(check_whole_series_len(0, 1 << 20).is_ok());
        assert!(check_whole_series_len(MAX_WHOLE_SERIES_SAMPLES - 5, 5).is_ok());
        let e = check_whole_series_len(MAX_WHOLE_SERIES_SAMPLES - 5, 6).unwrap_err();
        assert!(
            e.message().contains("at most 4294967295 samples"),
            "{}",
            e.message()
        );
        assert!(e.message().contains("got 4294967296"), "{}", e.message());
    }

    /// The product-sum scan finds the first non-finite value as a plain per-value test
    /// does: every special value (both infinities, NaN with any payload and sign, the
    /// largest and smallest finite magnitudes, subnormals, both zeros) at every position
    /// of slices around the lane width, in the lanes and in the remainder, alone and
    /// after another; and both the AVX2 and the portable kernels say so.
    #[test]
    fn first_non_finite_equals_a_plain_scan() {
        let specials = [
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            -f64::NAN,
            f64::from_bits(0x7ff0_0000_0000_0001),
            f64::from_bits(0xfff8_dead_beef_0001),
        ];
        let finite = [
            f64::MAX,
            f64::MIN,
            f64::MIN_POSITIVE,
            5e-324,
            -5e-324,
            0.0,
            -0.0,
            1.5,
        ];
        let plain = |x: &[f64]| x.iter().position(|v| !v.is_finite());
        for len in [0usize, 1, 7, 15, 16, 17, 31, 32, 33, 64, 100] {
            let base: Vec<f64> = (0..len).map(|i| finite[i % finite.len()]).collect();
            assert_eq!(first_non_finite(&base), None, "len {len}");
            assert!(all_finite_lanes(&base), "len {len}");
            for at in 0..len {
                for &v in &specials {
                    let mut x = base.clone();
                    x[at] = v;
                    assert_eq!(first_non_finite(&x), Some(at), "len {len} at {at} {v}");
                    assert!(!all_finite_lanes(&x), "len {len} at {at} {v}");
                    if at + 3 < len {
                        x[at + 3] = f64::INFINITY;
                        assert_eq!(first_non_finite(&x), plain(&x), "len {len} at {at}");
                    }
                }
            }
        }
    }
}
