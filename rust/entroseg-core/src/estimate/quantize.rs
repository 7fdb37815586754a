//! Quantizers: map real samples to symbols `0..bins` (bins <= 256) for the symbol-stream
//! estimators.
//!
//! Each quantizer is a pure per-sample function once its parameters are fixed, so it is
//! streaming-safe: fit the parameters once (`low`/`high`, a scale, quantile edges from a
//! sample) and apply them to every chunk.
//!
//! - [`Quantizer::uniform`]: `bins` equal-width bins over `[low, high]`; values outside
//!   go to the first / last bin.
//! - [`Quantizer::mean_scale`]: divide by a scale (by default the mean absolute value of
//!   the fitting data, as Chronos and EntroPE do), then `bins` equal-width bins over
//!   `[-limit, limit]`.
//! - [`Quantizer::quantile_fit`]: `bins - 1` interior edges at the `i / bins` quantiles of
//!   a sample, bit for bit what `numpy.quantile` gives with its default linear method; a
//!   value's symbol is the number of edges `<=` it.

use crate::error::{Error, ErrorKind, Result};
use crate::estimate::first_non_finite;

/// Largest number of bins (symbols are `u8`).
pub const MAX_BINS: usize = 256;

fn check_bins(bins: usize) -> Result<()> {
    if !(1..=MAX_BINS).contains(&bins) {
        return Err(Error::parameter(format!(
            "bins must be in 1..={MAX_BINS}, got {bins}"
        )));
    }
    Ok(())
}

/// Fails with `ErrorKind::NonFinite` naming `what` and the first NaN or infinity.
pub fn check_finite(x: &[f64], what: &str) -> Result<()> {
    if let Some(i) = first_non_finite(x) {
        return Err(Error::new(
            ErrorKind::NonFinite { index: i },
            format!(
                "{what} contains {} at index {i}; quantizers need finite values",
                x[i]
            ),
        ));
    }
    Ok(())
}

/// The `q`-quantile of sorted, non-empty `s` exactly as `numpy.quantile(s, q)` computes
/// it with its default `method="linear"` (numpy >= 1.22), operation for operation: the
/// virtual index `(n-1) * q`, its floor and fraction `t`, and numpy's two-sided lerp
/// (`a + (b-a) t` below `t = 0.5`, `b - (b-a)(1-t)` from there). Any other rounding
/// order moves some edges by an ulp, and a value lying exactly on an edge (common with
/// integer-valued data) would then get a different symbol than numpy's edges give it.
fn numpy_linear_quantile(s: &[f64], q: f64) -> f64 {
    let n = s.len();
    let virtual_index = (n - 1) as f64 * q;
    if virtual_index >= (n - 1) as f64 {
        return s[n - 1];
    }
    let below = virtual_index.floor();
    let (a, b) = (s[below as usize], s[below as usize + 1]);
    let t = virtual_index - below;
    let diff = b - a;
    if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    }
}

/// A fitted quantizer.
#[derive(Debug, Clone, PartialEq)]
pub enum Quantizer {
    /// Equal-width bins over `[low, high]`.
    Uniform {
        /// Lower edge.
        low: f64,
        /// Upper edge.
        high: f64,
        /// Number of bins.
        bins: usize,
    },
    /// Quantile edges (sorted, `bins - 1` of them).
    Edges {
        /// Interior edges.
        edges: Vec<f64>,
    },
}

impl Quantizer {
    /// Equal-width bins over `[low, high]`.
    pub fn uniform(low: f64, high: f64, bins: usize) -> Result<Self> {
        check_bins(bins)?;
        if !(low.is_finite() && high.is_finite()) || high <= low {
            return Err(Error::parameter(format!(
                "uniform bins need finite low < high, got low={low}, high={high}"
            )));
        }
        // The bin width must be a normal float: a range that overflows (high - low = inf)
        // would put every value in bin 0, one that underflows would make the bin scale
        // infinite and every symbol undefined.
        let scale = bins as f64 / (high - low);
        if !(high - low).is_finite() || !scale.is_finite() {
            return Err(Error::parameter(format!(
                "uniform bins need high - low to be a finite float with a finite bins / (high - low), \
                 got low={low:e}, high={high:e} for {bins} bins"
            )));
        }
        Ok(Self::Uniform { low, high, bins })
    }

    /// Equal-width bins over the range of `x` (`[min, max]`).
    pub fn uniform_fit(x: &[f64], bins: usize) -> Result<Self> {
        Self::uniform_fit_partial(x, bins, None, None)
    }

    /// Equal-width bins over `[low, high]` where a missing end is taken from the range
    /// of `x`.
    pub fn uniform_fit_partial(
        x: &[f64],
        bins: usize,
        low: Option<f64>,
        high: Option<f64>,
    ) -> Result<Self> {
        check_bins(bins)?;
        if let (Some(l), Some(h)) = (low, high) {
            return Self::uniform(l, h, bins);
        }
        if x.is_empty() {
            return Err(Error::new(
                ErrorKind::EmptyInput,
                "cannot fit bins on an empty sample",
            ));
        }
        check_finite(x, "the sample")?;
        let (lo, hi) = x
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        // A constant sample gets a unit-width range centred on it.
        let (lo, hi) = if hi > lo {
            (lo, hi)
        } else {
            (lo - 0.5, lo + 0.5)
        };
        Self::uniform(low.unwrap_or(lo), high.unwrap_or(hi), bins)
    }

    /// Scaled uniform bins: `x / scale` over `[-limit, limit]`.
    pub fn mean_scale(scale: f64, limit: f64, bins: usize) -> Result<Self> {
        if !(scale.is_finite() && scale > 0.0) {
            return Err(Error::parameter(format!(
                "scale must be finite and > 0, got {scale}"
            )));
        }
        if !(limit.is_finite() && limit > 0.0) {
            return Err(Error::parameter(format!(
                "limit must be finite and > 0, got {limit}"
            )));
        }
        Self::uniform(-limit * scale, limit * scale, bins)
    }

    /// The mean-scale quantizer whose scale is the mean absolute value of `x` (1 if all
    /// values are zero).
    pub fn mean_scale_fit(x: &[f64], limit: f64, bins: usize) -> Result<Self> {
        if x.is_empty() {
            return Err(Error::new(
                ErrorKind::EmptyInput,
                "cannot fit a scale on an empty sample",
            ));
        }
        check_finite(x, "the sample")?;
        let scale = x.iter().map(|v| v.abs()).sum::<f64>() / x.len() as f64;
        Self::mean_scale(if scale > 0.0 { scale } else { 1.0 }, limit, bins)
    }

    /// Quantile edges fit on `sample`.
    pub fn quantile_fit(sample: &[f64], bins: usize) -> Result<Self> {
        check_bins(bins)?;
        if sample.is_empty() {
            return Err(Error::new(
                ErrorKind::EmptyInput,
                "cannot fit quantile edges on an empty sample",
            ));
        }
        check_finite(sample, "the sample")?;
        let mut s = sample.to_vec();
        s.sort_by(f64::total_cmp);
        let edges = (1..bins)
            .map(|i| numpy_linear_quantile(&s, i as f64 / bins as f64))
            .collect();
        Ok(Self::Edges { edges })
    }

    /// Explicit sorted edges.
    pub fn from_edges(edges: Vec<f64>) -> Result<Self> {
        check_bins(edges.len() + 1)?;
        check_finite(&edges, "edges")?;
        if edges.windows(2).any(|w| w[1] < w[0]) {
            return Err(Error::parameter(
                "edges must be sorted in non-decreasing order",
            ));
        }
        Ok(Self::Edges { edges })
    }

    /// Number of symbols this quantizer emits.
    pub fn bins(&self) -> usize {
        match self {
            Self::Uniform { bins, .. } => *bins,
            Self::Edges { edges } => edges.len() + 1,
        }
    }

    /// Maps `x` to symbols. Non-finite values are an error (symbols have no NaN).
    pub fn apply(&self, x: &[f64], out: &mut [u8]) -> Result<()> {
        if out.len() != x.len() {
            return Err(Error::parameter(format!(
                "output has length {}, expected {}",
                out.len(),
                x.len()
            )));
        }
        check_finite(x, "input")?;
        match self {
            Self::Uniform { low, high, bins } => {
                let scale = *bins as f64 / (high - low);
                let top = (*bins - 1) as f64;
                for (o, &v) in out.iter_mut().zip(x) {
                    *o = ((v - low) * scale).floor().clamp(0.0, top) as u8;
                }
            }
            Self::Edges { edges } => {
                for (o, &v) in out.iter_mut().zip(x) {
                    *o = edges.partition_point(|&e| e <= v) as u8;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_bins_and_clamping() {
        let q = Quantizer::uniform(0.0, 4.0, 4).unwrap();
        let mut out = [0u8; 6];
        q.apply(&[-1.0, 0.0, 0.99, 1.0, 3.99, 10.0], &mut out)
            .unwrap();
        assert_eq!(out, [0, 0, 0, 1, 3, 3]);
    }

    #[test]
    fn quantile_edges_split_evenly() {
        let x: Vec<f64> = (0..100).map(|v| v as f64).collect();
        let q = Quantizer::quantile_fit(&x, 4).unwrap();
        let mut out = vec![0u8; 100];
        q.apply(&x, &mut out).unwrap();
        for s in 0..4u8 {
            assert_eq!(out.iter().filter(|&&v| v == s).count(), 25);
        }
    }

    #[test]
    fn quantile_edges_are_numpys_bit_for_bit() {
        // numpy.quantile([0,0,1,1,1,1,1], 13/65) is 0.20000000000000018; the former formula
        // ((n-1) * i / bins, one-sided lerp) gave 0.19999999999999996, so the value 0.2
        // got symbol 13 instead of numpy's 12.
        let s = [0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0];
        let q = Quantizer::quantile_fit(&s, 65).unwrap();
        let Quantizer::Edges { edges } = &q else {
            panic!("quantile edges")
        };
        assert_eq!(edges[12], 0.20000000000000018);
        let mut out = [0u8];
        q.apply(&[0.2], &mut out).unwrap();
        assert_eq!(out, [12]);
        // numpy 2.4: np.quantile(np.arange(10.0), np.arange(1, 10) / 10).tolist()
        let x: Vec<f64> = (0..10).map(|v| v as f64).collect();
        let Quantizer::Edges { edges } = Quantizer::quantile_fit(&x, 10).unwrap() else {
            panic!("quantile edges")
        };
        let numpy = [
            0.9,
            1.8,
            2.6999999999999997,
            3.6,
            4.5,
            5.3999999999999995,
            6.3,
            7.2,
            8.1,
        ];
        assert_eq!(edges, numpy);
    }

    #[test]
    fn mean_scale_is_scale_invariant() {
        let x: Vec<f64> = (0..50).map(|v| (v as f64 * 0.37).sin()).collect();
        let y: Vec<f64> = x.iter().map(|v| v * 1000.0).collect();
        let (mut a, mut b) = (vec![0u8; 50], vec![0u8; 50]);
        Quantizer::mean_scale_fit(&x, 4.0, 16)
            .unwrap()
            .apply(&x, &mut a)
            .unwrap();
        Quantizer::mean_scale_fit(&y, 4.0, 16)
            .unwrap()
            .apply(&y, &mut b)
            .unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn errors() {
        assert!(Quantizer::uniform(0.0, 1.0, 0)
            .unwrap_err()
            .message()
            .contains("1..=256, got 0"));
        assert!(Quantizer::uniform(1.0, 1.0, 4).is_err());
        // Ranges whose width overflows or whose bin scale overflows (formerly every symbol
        // silently 0).
        let e = Quantizer::uniform(-1e308, 1e308, 4).unwrap_err();
        assert!(e.message().contains("low=-1e308"), "{}", e.message());
        assert!(Quantizer::uniform(1e-308, 3e-308, 200).is_err());
        assert!(Quantizer::mean_scale(1e307, 100.0, 4).is_err());
        assert!(Quantizer::quantile_fit(&[], 4).is_err());
        let e = Quantizer::uniform(0.0, 1.0, 2)
            .unwrap()
            .apply(&[0.0, f64::NAN], &mut [0, 0])
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NonFinite { index: 1 });
    }
}
