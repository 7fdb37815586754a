//! A batch budget spent where it most reduces reconstruction error
//! (`budget_by="error"`).
//!
//! One shared threshold (`budget_by="information"`, [`crate::segment::rules::calibrate_budget`])
//! gives the tokens to the series with the most scores above it: the informative ones
//! in the score's sense. For entropy-type scores and for the line rule's price that is
//! the noisiest series, whose reconstruction gains little from more segments, while a
//! smooth series starved of segments loses a lot (benches/README.md, "One token budget
//! for a batch"). This module allocates the budget by the marginal gain instead:
//!
//! 1. Each series is segmented by its own calibrated rules (the spec's method and hard
//!    lengths, `target_len` calibrated in batch) at a geometric grid of segment counts
//!    between the fewest its `max_len` allows and the most its `min_len` allows, and
//!    each result's reconstruction error is measured: the summed squared residual of a
//!    least-squares polynomial of degree `degree` (1, a line, unless method "line" was
//!    given degree 0) fitted to every segment of the series' values.
//! 2. The lower convex hull of each series' (count, error) points is its error curve;
//!    the budget goes to the steepest hull edges of all series first (equal marginal
//!    gains: a Lagrangian allocation of the summed error), so that a token is spent
//!    where it removes the most squared error.
//! 3. Each series is segmented once more at its count (or keeps the probe that made
//!    it).
//!
//! Where inside a series the cuts go is still the method's choice; only how many each
//! series gets follows the error. The error is in the units of the values: z-score the
//! series first to weigh them alike. A multichannel series' error is the sum of its
//! channels' errors.

use crate::error::{Error, Result};
use crate::estimate::samples::{Channels, Samples};
use crate::segment::fit::row_width;
use crate::segment::profile::rule_input_of;
use crate::segment::rules::{segment_scores_calibrated, Calibration, Segment};
use crate::segment::segments::Segments;
use crate::segment::spec::SegmentSpec;
use crate::segment::stream::channel_rules;
use crate::util::pool::run_series;

/// How `budget` is spread over the series of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BudgetBy {
    /// One threshold shared by every series: tokens follow the score.
    #[default]
    Information,
    /// Counts per series by equal marginal reduction of the squared reconstruction
    /// error (this module).
    Error,
}

/// Points of the count grid probed per series (fewer when the range is narrow).
const GRID: usize = 16;

/// Further calibrations of a series whose count missed its allocation.
const CORRECTIONS: usize = 3;

/// Re-allocations at most: after each, the series that missed keep their counts and
/// the budget left is spread over the others again.
const ROUNDS: usize = 4;

/// One probe of a series: the segments at one calibrated count, and their error.
struct Probe {
    segments: Vec<Segment>,
    error: f64,
}

/// The summed squared residual of a least-squares polynomial of degree 0 or 1 fitted
/// to each segment of `x` (segment starts are relative to `x`).
pub fn fit_error(x: &[f64], segments: &[Segment], degree: u8) -> f64 {
    segments
        .iter()
        .map(|s| {
            let a = s.start as usize;
            let y = &x[a..a + s.len as usize];
            let n = y.len() as f64;
            let mean = y.iter().sum::<f64>() / n;
            let ss: f64 = y.iter().map(|v| (v - mean) * (v - mean)).sum();
            if degree == 0 || y.len() < 3 {
                // Two points lie on a line.
                return if degree == 0 { ss } else { 0.0 };
            }
            let tm = (n - 1.0) / 2.0;
            let stt = n * (n * n - 1.0) / 12.0;
            let stx: f64 = y
                .iter()
                .enumerate()
                .map(|(t, v)| (t as f64 - tm) * (v - mean))
                .sum();
            (ss - stx * stx / stt).max(0.0)
        })
        .sum()
}

/// The counts of the probe grid: geometric from `lo` to `hi`, both included, distinct.
fn grid(lo: u64, hi: u64) -> Vec<u64> {
    if hi <= lo {
        return vec![lo];
    }
    let ratio = (hi as f64 / lo as f64).powf(1.0 / (GRID - 1) as f64);
    let mut out: Vec<u64> = (0..GRID)
        .map(|i| ((lo as f64) * ratio.powi(i as i32)).round() as u64)
        .map(|k| k.clamp(lo, hi))
        .collect();
    out.push(hi);
    out.sort_unstable();
    out.dedup();
    out
}

/// The vertices of the lower convex hull of `points` (count, error), by count: the
/// error curve with non-increasing marginal gains. Points of equal count keep the
/// lowest error. The hull runs to the largest count: edges past the lowest error have
/// gains <= 0 and are bought last, only when the budget asks for that many segments.
pub fn lower_hull(points: &[(u64, f64)]) -> Vec<(u64, f64)> {
    let mut p: Vec<(u64, f64)> = points.to_vec();
    p.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
    p.dedup_by_key(|q| q.0);
    let mut hull: Vec<(u64, f64)> = Vec::with_capacity(p.len());
    for q in p {
        while hull.len() >= 2 {
            let (a, b) = (hull[hull.len() - 2], hull[hull.len() - 1]);
            // b is not below the chord a-q: drop it.
            let cross = (b.0 - a.0) as f64 * (q.1 - a.1) - (q.0 - a.0) as f64 * (b.1 - a.1);
            if cross <= 0.0 {
                hull.pop();
            } else {
                break;
            }
        }
        hull.push(q);
    }
    hull
}

/// Counts per series summing to `budget` (as near as the curves allow): every series
/// starts at its curve's first vertex and the budget buys the steepest hull edges of
/// all series first, the last one in part. `curves` are lower hulls ([`lower_hull`]).
pub fn allocate(curves: &[Vec<(u64, f64)>], budget: u64) -> Vec<u64> {
    let mut counts: Vec<u64> = curves
        .iter()
        .map(|c| c.first().map_or(0, |v| v.0))
        .collect();
    let mut total: u64 = counts.iter().sum();
    // (gain per segment, series, edge): edges of one series come in order (convex).
    let mut edges: Vec<(f64, usize, usize)> = curves
        .iter()
        .enumerate()
        .flat_map(|(s, c)| {
            c.windows(2).enumerate().map(move |(j, w)| {
                let gain = (w[0].1 - w[1].1) / (w[1].0 - w[0].0) as f64;
                (gain, s, j)
            })
        })
        .collect();
    edges.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    for (_, s, j) in edges {
        if total >= budget {
            break;
        }
        let (from, to) = (curves[s][j].0, curves[s][j + 1].0);
        let step = (to - from).min(budget - total);
        counts[s] = from + step;
        total += step;
    }
    counts
}

/// [`crate::segment::batch::segment_batch`] under `budget` with
/// [`BudgetBy::Error`]: see the module documentation.
pub(crate) fn segment_batch_by_error(
    values: &Channels,
    offsets: &[i64],
    spec: &SegmentSpec,
    threads: usize,
    budget: u64,
) -> Result<Segments> {
    if spec.takes_symbols() || values.is_symbols() {
        return Err(Error::parameter(
            "budget_by='error' measures the squared error of a fit to real values; symbol \
             input has none: use budget_by='information'",
        ));
    }
    let rules = channel_rules(spec.rules(), values.count(), spec.method().channels())?;
    let degree = rules.fit.map_or(1, |f| f.degree);
    let n = offsets.len() - 1;
    // Per series: its profile, and its probes at the grid of counts.
    let series = run_series(n, threads, |b| {
        let x = values.slice(offsets[b] as usize..offsets[b + 1] as usize);
        let v = real_channels(&x);
        let len = x.len() as u64;
        if len == 0 {
            return Ok(Series::default());
        }
        for (k, c) in v.iter().enumerate() {
            if let Some(i) = c.iter().position(|s| !s.is_finite()) {
                let at = if v.len() > 1 {
                    format!("channel {k}, sample {i}")
                } else {
                    format!("sample {i}")
                };
                return Err(Error::parameter(format!(
                    "budget_by='error' needs finite values; {at} is {}",
                    c[i]
                )));
            }
        }
        let scores = series_profile(&x, spec, &rules)?;
        let lo = rules.max_len.map_or(1, |m| len.div_ceil(m as u64)).max(1);
        let hi = (len / rules.min_len as u64).max(lo);
        let probes = grid(lo, hi)
            .into_iter()
            .map(|k| probe_at(&v, &scores, &rules, k as f64, degree))
            .collect::<Result<Vec<Probe>>>()?;
        Ok(Series { scores, probes })
    })?;
    let mut curves: Vec<Vec<(u64, f64)>> = series
        .iter()
        .map(|s| {
            let points: Vec<(u64, f64)> = s
                .probes
                .iter()
                .map(|q| (q.segments.len() as u64, q.error))
                .collect();
            lower_hull(&points)
        })
        .collect();
    // A series whose rules cannot make its allocated count (the count jumps over it as
    // the threshold moves, e.g. over long runs of tied scores) keeps the count it got,
    // and the rest of the budget is spread again over the other series; the last round
    // keeps what it cut.
    let mut fixed: Vec<Option<Vec<Segment>>> = vec![None; n];
    for round in 0..=ROUNDS {
        let counts = allocate(&curves, budget);
        let mut cut = run_series(n, threads, |b| match &fixed[b] {
            Some(_) => Ok(Vec::new()),
            None => {
                let x = values.slice(offsets[b] as usize..offsets[b + 1] as usize);
                series_at(&real_channels(&x), &series[b], &rules, counts[b], degree)
            }
        })?;
        let missed: Vec<usize> = (0..n)
            .filter(|&b| fixed[b].is_none() && cut[b].len() as u64 != counts[b])
            .collect();
        if missed.is_empty() || round == ROUNDS {
            let mut out = Segments::new();
            for (b, segments) in cut.iter().enumerate() {
                out.push_series(fixed[b].as_deref().unwrap_or(segments));
            }
            return Ok(out);
        }
        for b in missed {
            curves[b] = vec![(cut[b].len() as u64, 0.0)];
            fixed[b] = Some(std::mem::take(&mut cut[b]));
        }
    }
    unreachable!("the last round returns")
}

/// One series of the batch: its score profile and its probes.
#[derive(Default)]
struct Series {
    scores: Vec<f64>,
    probes: Vec<Probe>,
}

/// One series cut to `want` segments: the probe that made that count, else a
/// calibration to it, asked again with the request scaled by the miss (a secant step
/// on the count; a calibration meets its mean length within its tolerance, not to the
/// segment), keeping the closest result.
fn series_at(
    v: &[&[f64]],
    series: &Series,
    rules: &crate::segment::rules::Rules,
    want: u64,
    degree: u8,
) -> Result<Vec<Segment>> {
    if let Some(p) = series
        .probes
        .iter()
        .find(|p| p.segments.len() as u64 == want)
    {
        return Ok(p.segments.clone());
    }
    if series.scores.is_empty() {
        return Ok(Vec::new());
    }
    let scores = &series.scores;
    let mut ask = want as f64;
    let mut best = probe_at(v, scores, rules, ask, degree)?.segments;
    for _ in 0..CORRECTIONS {
        let got = best.len() as f64;
        if got == want as f64 || got == 0.0 {
            break;
        }
        ask *= want as f64 / got;
        let again = probe_at(v, scores, rules, ask, degree)?;
        if again.segments.len().abs_diff(want as usize) < best.len().abs_diff(want as usize) {
            best = again.segments;
        } else {
            break;
        }
    }
    Ok(best)
}

/// The channels of a real-valued series, as slices.
fn real_channels<'a>(x: &Channels<'a>) -> Vec<&'a [f64]> {
    x.iter()
        .map(|c| match c {
            Samples::Values(v) => v,
            _ => unreachable!("symbol input is refused before"),
        })
        .collect()
}

/// The series' score profile: its channels' profiles combined as the spec says.
fn series_profile(
    x: &Channels,
    spec: &SegmentSpec,
    rules: &crate::segment::rules::Rules,
) -> Result<Vec<f64>> {
    let method = spec.method().method_for(&x.widest())?;
    rule_input_of(x, &method, spec.method().channels(), rules)
}

/// The series' segments with `target_len` calibrated (in batch) to `count` segments
/// (the mean length `len / count`), and their error.
fn probe_at(
    v: &[&[f64]],
    scores: &[f64],
    rules: &crate::segment::rules::Rules,
    count: f64,
    degree: u8,
) -> Result<Probe> {
    let mut r = *rules;
    r.budget = None;
    r.threshold = None;
    r.calibration = Calibration::Batch;
    let target = (scores.len() / row_width(rules)) as f64 / count.max(1.0);
    // Rounding must not leave [min_len, max_len].
    let hi = r.max_len.map_or(f64::INFINITY, |m| m as f64);
    r.target_len = Some(target.clamp(r.min_len as f64, hi));
    let (segments, _) = segment_scores_calibrated(scores, &r)?;
    let error = v.iter().map(|c| fit_error(c, &segments, degree)).sum();
    Ok(Probe { segments, error })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The best split of `budget` by brute force over every assignment of hull
    /// vertices (exact when the budget lands on vertices).
    fn brute(curves: &[Vec<(u64, f64)>], budget: u64) -> Option<f64> {
        fn rec(curves: &[Vec<(u64, f64)>], left: i64) -> Option<f64> {
            match curves.split_first() {
                None => (left == 0).then_some(0.0),
                Some((c, rest)) => c
                    .iter()
                    .filter_map(|&(k, e)| rec(rest, left - k as i64).map(|r| r + e))
                    .min_by(f64::total_cmp),
            }
        }
        rec(curves, budget as i64)
    }

    fn error_of(curve: &[(u64, f64)], k: u64) -> f64 {
        curve
            .windows(2)
            .find(|w| w[0].0 <= k && k <= w[1].0)
            .map(|w| {
                let f = (k - w[0].0) as f64 / (w[1].0 - w[0].0) as f64;
                w[0].1 + f * (w[1].1 - w[0].1)
            })
            .unwrap_or(curve[0].1)
    }

    proptest! {
        #[test]
        fn allocation_is_optimal_on_vertex_budgets(
            raw in prop::collection::vec(
                prop::collection::vec((1u64..40, 0.0f64..100.0), 1..6), 1..4),
            pick in prop::collection::vec(0usize..6, 4),
        ) {
            let curves: Vec<Vec<(u64, f64)>> = raw.iter().map(|p| lower_hull(p)).collect();
            // A budget that sums one vertex per series: the hull allocation's error must
            // equal the best vertex assignment's.
            let budget: u64 = curves.iter().zip(&pick).map(|(c, &i)| c[i % c.len()].0).sum();
            let counts = allocate(&curves, budget);
            let total: u64 = counts.iter().sum();
            let min_total: u64 = curves.iter().map(|c| c[0].0).sum();
            let max_total: u64 = curves.iter().map(|c| c[c.len() - 1].0).sum();
            prop_assert_eq!(total, budget.clamp(min_total, max_total));
            let got: f64 = curves.iter().zip(&counts).map(|(c, &k)| error_of(c, k)).sum();
            let best = brute(&curves, budget).unwrap();
            prop_assert!(got <= best + 1e-9 * (1.0 + best.abs()), "{got} > {best}");
        }

        #[test]
        fn hull_is_convex_and_below_every_point(
            points in prop::collection::vec((1u64..60, 0.0f64..100.0), 1..20),
        ) {
            let hull = lower_hull(&points);
            prop_assert!(!hull.is_empty());
            for w in hull.windows(3) {
                let g1 = (w[0].1 - w[1].1) / (w[1].0 - w[0].0) as f64;
                let g2 = (w[1].1 - w[2].1) / (w[2].0 - w[1].0) as f64;
                prop_assert!(g1 >= g2 - 1e-9);
            }
            let first = hull[0].0;
            let last = hull[hull.len() - 1].0;
            for &(k, e) in &points {
                if k >= first && k <= last {
                    prop_assert!(error_of(&hull, k) <= e + 1e-9);
                }
            }
        }
    }

    #[test]
    fn fit_error_matches_least_squares() {
        // A line is fitted exactly; a parabola leaves the known residual.
        let x: Vec<f64> = (0..10).map(|t| 3.0 * t as f64 - 1.0).collect();
        let one = [Segment {
            start: 0,
            len: 10,
            reason: 0,
        }];
        assert!(fit_error(&x, &one, 1) < 1e-18);
        assert!((fit_error(&x, &one, 0) - 9.0 * 82.5).abs() < 1e-9);
        // y = t^2, t = 0..4: mean 6, sum of squares 174, slope 4 over sum_tt 10: 174 - 160.
        let y: Vec<f64> = (0..5).map(|t| (t as f64).powi(2)).collect();
        let five = [Segment {
            start: 0,
            len: 5,
            reason: 0,
        }];
        assert!((fit_error(&y, &five, 1) - 14.0).abs() < 1e-12);
    }

    #[test]
    fn grid_spans_the_range() {
        assert_eq!(grid(5, 5), vec![5]);
        let g = grid(3, 1000);
        assert_eq!((g[0], g[g.len() - 1]), (3, 1000));
        assert!(g.windows(2).all(|w| w[0] < w[1]));
    }
}
