//! Model-free next-value code length of a real-valued stream: the continuous counterpart
//! of next-symbol entropy, with no training.
//!
//! For every position `t` the model predicts `x[t]` from the values before it, *before*
//! seeing `x[t]`, with a mixture of linear predictors of orders `k = 1..=context`: each
//! is an exponentially weighted least-squares fit of `x[t]` on `[1, x[t-1], ..., x[t-k]]`
//! (forgetting factor `beta = 1 - 1/memory`, so the fit follows about the last `memory`
//! samples) with a Gaussian residual whose variance is the exponentially weighted mean of
//! its squared prediction errors. The orders are mixed by their recent code lengths
//! (Bayesian mixture weights `w_k ~ exp(-sum_s beta^(t-s) L_k(s))`, the same forgetting),
//! so the order that predicts best lately dominates. It reports
//! - the surprisal `-log2 p(x[t])` of the value that came under the mixture density, in
//!   bits (a differential code length: negative where the stream is predictable to better
//!   than a unit of its scale, large where it jumps), and
//! - the entropy of the prediction, `0.5 log2(2 pi e v)` with `v` the mixture's variance
//!   (the Gaussian entropy of that variance, an upper bound of the mixture's): how
//!   uncertain the model is about the next value before seeing it.
//!
//! The first `context` values give NaN (no full regressor yet). The normal equations are
//! solved at every sample by a Cholesky factorisation with a ridge of `1e-9` of their
//! mean diagonal, so constant stretches stay solvable. The state is the weighted sums,
//! the variances, the log-weights and the last `context` values: O(context^2), and a pure
//! function of the values seen, so any chunking and any checkpoint/restore point give
//! bit-identical output. Forgetting makes rounding errors decay geometrically instead of
//! accumulating: there is no drift over long streams.

use crate::error::{Error, Result};
use crate::estimate::NanPolicy;
use crate::util::checkpoint::{Reader, Writer};

/// Largest context (predictor order).
pub const MAX_CONTEXT: usize = 8;
/// Default predictor order.
pub const DEFAULT_CONTEXT: usize = 2;
/// Default memory in samples.
pub const DEFAULT_MEMORY: usize = 256;

const DIM: usize = MAX_CONTEXT + 1;
/// Absolute floor of a predictive variance (a stream that has been exactly constant has
/// no scale: a jump after it gets a very large, finite surprisal).
const VAR_FLOOR: f64 = 1e-200;
const LN2: f64 = std::f64::consts::LN_2;

/// Options of the next-value model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NextValueOptions {
    /// Highest predictor order mixed (orders `1..=context`).
    pub context: usize,
    /// Effective memory in samples (forgetting factor `1 - 1/memory`).
    pub memory: usize,
    /// Non-finite input: raise, or output NaN and restart the regressor after it.
    pub nan_policy: NanPolicy,
}

impl Default for NextValueOptions {
    fn default() -> Self {
        Self {
            context: DEFAULT_CONTEXT,
            memory: DEFAULT_MEMORY,
            nan_policy: NanPolicy::Raise,
        }
    }
}

impl NextValueOptions {
    /// Checks the options.
    pub fn validate(&self) -> Result<()> {
        if !(1..=MAX_CONTEXT).contains(&self.context) {
            return Err(Error::parameter(format!(
                "context (the predictor order) must be in 1..={MAX_CONTEXT}, got {}",
                self.context
            )));
        }
        let least = 2 * (self.context + 1);
        if self.memory < least {
            return Err(Error::parameter(format!(
                "window (the predictor's memory) must be >= 2 * (context + 1) = {least}, got {}",
                self.memory
            )));
        }
        Ok(())
    }
}

/// Streaming next-value surprisal and entropy.
#[derive(Debug, Clone)]
pub struct NextValueModel {
    options: NextValueOptions,
    beta: f64,
    /// Weighted sums of `phi phi^T` (upper triangle used) and of `phi x`.
    gram: [[f64; DIM]; DIM],
    cross: [f64; DIM],
    /// Per order `k` (index `k - 1`): residual variance (NaN before its first error)
    /// and log mixture weight (nats).
    var: [f64; MAX_CONTEXT],
    log_weight: [f64; MAX_CONTEXT],
    /// The last `context` values, newest first.
    history: [f64; MAX_CONTEXT],
    /// Values in `history` since the start or the last non-finite value.
    available: usize,
    /// Weighted mean of `x^2`, for the variance floor.
    power: f64,
    seen: u64,
}

const TAG: &str = "NextValueModel";

impl NextValueModel {
    /// Validates the options and builds an empty model.
    pub fn new(options: NextValueOptions) -> Result<Self> {
        options.validate()?;
        Ok(Self {
            options,
            beta: 1.0 - 1.0 / options.memory as f64,
            gram: [[0.0; DIM]; DIM],
            cross: [0.0; DIM],
            var: [f64::NAN; MAX_CONTEXT],
            log_weight: [0.0; MAX_CONTEXT],
            history: [0.0; MAX_CONTEXT],
            available: 0,
            power: 0.0,
            seen: 0,
        })
    }

    /// The options.
    pub fn options(&self) -> &NextValueOptions {
        &self.options
    }

    /// Values seen so far.
    pub fn samples_seen(&self) -> u64 {
        self.seen
    }

    /// Back to an empty model.
    pub fn reset(&mut self) {
        *self = Self::new(self.options).expect("validated options");
    }

    /// Feeds values, writing the entropy and the surprisal (bits) of each, before it is
    /// learnt, into `entropy` and `surprisal` (the length of `values`). Under
    /// `nan_policy="raise"` a non-finite value fails the call before any state changes.
    pub fn update(
        &mut self,
        values: &[f64],
        entropy: &mut [f64],
        surprisal: &mut [f64],
    ) -> Result<()> {
        crate::estimate::context_model::check_outputs(values.len(), entropy, surprisal)?;
        if self.options.nan_policy == NanPolicy::Raise {
            if let Some(i) = crate::estimate::first_non_finite(values) {
                return Err(crate::estimate::non_finite_error_at(
                    i, values[i], self.seen,
                ));
            }
        }
        for ((&x, h), q) in values.iter().zip(entropy).zip(surprisal) {
            let (eh, sq) = self.step(x);
            *h = eh;
            *q = sq;
        }
        Ok(())
    }

    fn step(&mut self, x: f64) -> (f64, f64) {
        self.seen += 1;
        if !x.is_finite() {
            // A gap: no prediction, and the regressor restarts after it.
            self.available = 0;
            return (f64::NAN, f64::NAN);
        }
        let kmax = self.options.context;
        let out = if self.available >= kmax {
            self.predict_and_learn(x)
        } else {
            (f64::NAN, f64::NAN)
        };
        self.power = self.beta * self.power + (1.0 - self.beta) * x * x;
        self.history.copy_within(0..MAX_CONTEXT - 1, 1);
        self.history[0] = x;
        self.available = (self.available + 1).min(kmax);
        out
    }

    #[allow(clippy::needless_range_loop)] // per-order arrays indexed together
    fn predict_and_learn(&mut self, x: f64) -> (f64, f64) {
        let kmax = self.options.context;
        let dim = kmax + 1;
        let mut phi = [0.0; DIM];
        phi[0] = 1.0;
        phi[1..dim].copy_from_slice(&self.history[..kmax]);
        let floor = 1e-24 * self.power + VAR_FLOOR;
        // Each order's prediction from the current sums.
        let mut mean = [0.0; MAX_CONTEXT];
        let mut var = [0.0; MAX_CONTEXT];
        let ridge = {
            let trace: f64 = (0..dim).map(|i| self.gram[i][i]).sum();
            1e-9 * trace / dim as f64 + f64::MIN_POSITIVE
        };
        for k in 1..=kmax {
            let w = solve(&self.gram, &self.cross, k + 1, ridge);
            mean[k - 1] = (0..=k).map(|i| w[i] * phi[i]).sum();
            let v = self.var[k - 1];
            // Before its first error, an order assumes the stream's own power.
            var[k - 1] = if v.is_nan() { self.power } else { v }.max(floor);
        }
        // The mixture: log p(x) = logsumexp_k(log w_k + log N(x; mean_k, var_k)).
        let max_lw = self.log_weight[..kmax]
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        let mut total = 0.0;
        let mut weights = [0.0; MAX_CONTEXT];
        for k in 0..kmax {
            weights[k] = (self.log_weight[k] - max_lw).exp();
            total += weights[k];
        }
        let mut log_density = [0.0; MAX_CONTEXT];
        let mut best = f64::NEG_INFINITY;
        for k in 0..kmax {
            let e = x - mean[k];
            log_density[k] =
                -0.5 * (2.0 * std::f64::consts::PI * var[k]).ln() - e * e / (2.0 * var[k]);
            best = best.max(log_density[k] + (weights[k] / total).ln());
        }
        let mut sum = 0.0;
        let (mut mix_mean, mut mix_second) = (0.0, 0.0);
        for k in 0..kmax {
            let w = weights[k] / total;
            sum += (w.ln() + log_density[k] - best).exp();
            mix_mean += w * mean[k];
            mix_second += w * (var[k] + mean[k] * mean[k]);
        }
        let surprisal = if best == f64::NEG_INFINITY {
            f64::INFINITY // beyond every component's range: an infinite code length
        } else {
            -(best + sum.ln()) / LN2
        };
        let mix_var = (mix_second - mix_mean * mix_mean).max(floor);
        let entropy = 0.5 * (2.0 * std::f64::consts::PI * std::f64::consts::E * mix_var).ln() / LN2;
        // Learn: weights by code length, variances, then the sums.
        let b = self.beta;
        for k in 0..kmax {
            self.log_weight[k] = b * self.log_weight[k] + log_density[k];
            let e = x - mean[k];
            self.var[k] = if self.var[k].is_nan() {
                e * e
            } else {
                b * self.var[k] + (1.0 - b) * e * e
            };
        }
        let top = self.log_weight[..kmax]
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        self.log_weight[..kmax].iter_mut().for_each(|l| *l -= top);
        for i in 0..dim {
            for j in i..dim {
                self.gram[i][j] = b * self.gram[i][j] + phi[i] * phi[j];
            }
            self.cross[i] = b * self.cross[i] + phi[i] * x;
        }
        (entropy, surprisal)
    }

    /// Serialises the state.
    pub fn checkpoint(&self) -> Vec<u8> {
        let mut w = Writer::new(TAG);
        w.u64(self.options.context as u64);
        w.u64(self.options.memory as u64);
        w.bool(self.options.nan_policy == NanPolicy::Propagate);
        let flat: Vec<f64> = self.gram.iter().flatten().copied().collect();
        w.f64s(&flat);
        w.f64s(&self.cross);
        w.f64s(&self.var);
        w.f64s(&self.log_weight);
        w.f64s(&self.history);
        w.u64(self.available as u64);
        w.f64(self.power);
        w.u64(self.seen);
        w.finish()
    }

    /// Rebuilds a model from [`checkpoint`](Self::checkpoint) bytes.
    pub fn restore(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::open(bytes, TAG)?;
        let options = NextValueOptions {
            context: r.usize()?,
            memory: r.usize()?,
            nan_policy: if r.bool()? {
                NanPolicy::Propagate
            } else {
                NanPolicy::Raise
            },
        };
        let mut m = Self::new(options).map_err(|e| Error::checkpoint(e.message()))?;
        let bad = || Error::checkpoint("inconsistent next-value model state");
        let flat = r.f64s()?;
        if flat.len() != DIM * DIM {
            return Err(bad());
        }
        for (i, row) in m.gram.iter_mut().enumerate() {
            row.copy_from_slice(&flat[i * DIM..(i + 1) * DIM]);
        }
        let mut fill = |dst: &mut [f64]| -> Result<()> {
            let v = r.f64s()?;
            if v.len() != dst.len() {
                return Err(bad());
            }
            dst.copy_from_slice(&v);
            Ok(())
        };
        fill(&mut m.cross)?;
        fill(&mut m.var)?;
        fill(&mut m.log_weight)?;
        fill(&mut m.history)?;
        m.available = r.usize()?;
        m.power = r.f64()?;
        m.seen = r.u64()?;
        r.finish()?;
        if m.available > options.context {
            return Err(bad());
        }
        Ok(m)
    }
}

/// Solves `(G + ridge I) w = c` for the leading `n x n` block (`G` symmetric, its upper
/// triangle stored) by a Cholesky factorisation.
#[allow(clippy::needless_range_loop)] // the factorisation reads clearest with indices
fn solve(g: &[[f64; DIM]; DIM], c: &[f64; DIM], n: usize, ridge: f64) -> [f64; DIM] {
    let mut l = [[0.0; DIM]; DIM];
    for i in 0..n {
        for j in 0..=i {
            let mut s = g[j][i] + if i == j { ridge } else { 0.0 };
            for k in 0..j {
                s -= l[i][k] * l[j][k];
            }
            if i == j {
                l[i][i] = s.max(ridge).sqrt();
            } else {
                l[i][j] = s / l[j][j];
            }
        }
    }
    let mut y = [0.0; DIM];
    for i in 0..n {
        let mut s = c[i];
        for k in 0..i {
            s -= l[i][k] * y[k];
        }
        y[i] = s / l[i][i];
    }
    let mut w = [0.0; DIM];
    for i in (0..n).rev() {
        let mut s = y[i];
        for k in i + 1..n {
            s -= l[k][i] * w[k];
        }
        w[i] = s / l[i][i];
    }
    w
}

/// Entropy and surprisal (bits) of every value of `values`.
pub fn next_value_surprisal(
    values: &[f64],
    options: NextValueOptions,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let mut model = NextValueModel::new(options)?;
    let mut h = crate::util::buffer::zeroed_f64(values.len());
    let mut q = crate::util::buffer::zeroed_f64(values.len());
    model.update(values, &mut h, &mut q)?;
    Ok((h, q))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(n: usize) -> Vec<f64> {
        let mut s = 3u64;
        let (mut a, mut b) = (0.0, 0.0);
        (0..n)
            .map(|i| {
                s = crate::util::testing::lcg_step(s);
                let u = (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
                // An AR(2) oscillator, then a jump in level and noise.
                let x = if i < n / 2 {
                    1.6 * a - 0.8 * b + 0.1 * u
                } else {
                    5.0 + u
                };
                b = a;
                a = x;
                x
            })
            .collect()
    }

    #[test]
    fn any_chunking_and_checkpoint_give_the_same_bits() {
        let x = series(3000);
        let o = NextValueOptions {
            context: 3,
            memory: 64,
            ..NextValueOptions::default()
        };
        let (h, q) = next_value_surprisal(&x, o).unwrap();
        let mut m = NextValueModel::new(o).unwrap();
        let (mut hh, mut qq) = (vec![0.0; x.len()], vec![0.0; x.len()]);
        let mut at = 0;
        let mut step = 1;
        while at < x.len() {
            let end = (at + step).min(x.len());
            m.update(&x[at..end], &mut hh[at..end], &mut qq[at..end])
                .unwrap();
            m = NextValueModel::restore(&m.checkpoint()).unwrap();
            at = end;
            step = step * 5 % 97 + 1;
        }
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&hh), bits(&h));
        assert_eq!(bits(&qq), bits(&q));
    }

    #[test]
    fn the_predictable_part_costs_less_than_the_noise() {
        let x = series(4000);
        let (_, q) = next_value_surprisal(&x, NextValueOptions::default()).unwrap();
        assert!(q[..2].iter().all(|v| v.is_nan()));
        let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len() as f64;
        // The oscillator's innovations are 10x smaller than the noise after the jump.
        assert!(mean(&q[500..2000]) + 2.5 < mean(&q[2500..4000]));
        // The jump itself is the most surprising value.
        let peak = (2..4000).max_by(|&a, &b| q[a].total_cmp(&q[b])).unwrap();
        assert_eq!(peak, 2000);
    }

    #[test]
    fn constant_streams_stay_finite_and_gaps_restart_the_regressor() {
        let o = NextValueOptions {
            nan_policy: NanPolicy::Propagate,
            ..NextValueOptions::default()
        };
        let mut x = vec![3.0; 500];
        x[200] = f64::NAN;
        let (h, q) = next_value_surprisal(&x, o).unwrap();
        assert!(q[200..203].iter().all(|v| v.is_nan()));
        assert!(q[203..].iter().chain(&h[203..]).all(|v| v.is_finite()));
        let e = next_value_surprisal(&x, NextValueOptions::default()).unwrap_err();
        assert!(e.message().contains("200"), "{}", e.message());
        let bad = NextValueOptions {
            context: 9,
            ..NextValueOptions::default()
        };
        assert!(bad.validate().is_err());
    }
}
