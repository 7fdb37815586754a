use super::*;
use crate::estimate::ordinal::pattern_code_at;
use proptest::prelude::*;

fn options(stop: Stop) -> ChangePointOptions {
    ChangePointOptions {
        order: Some(3),
        delays: vec![1],
        symmetric: false,
        mean: false,
        variance: false,
        trend: false,
        min_size: 10,
        block: 10,
        radius: 10,
        refine_variance: false,
        stop,
    }
}

/// A deterministic pseudo-random sequence (xorshift), in [0, 1).
fn noise(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 53) as f64
        })
        .collect()
}

/// White noise, then a noisy oscillation (period 16), then white noise again: the
/// middle regime has the same range but different ordinal dynamics.
fn regimes() -> (Vec<f64>, Vec<usize>) {
    let mut x = noise(400, 7);
    let jitter = noise(300, 9);
    x.extend((0..300).map(|t| (t as f64 * std::f64::consts::TAU / 16.0).sin() + 0.3 * jitter[t]));
    x.extend(noise(300, 11).iter().map(|v| 2.0 * v - 1.0));
    (x, vec![400, 700, 1000])
}

#[test]
fn finds_ordinal_regimes_exactly() {
    let (x, truth) = regimes();
    let mut opts = options(Stop::Count(2));
    opts.refine_variance = true;
    let found = change_points(&x, None, &opts).unwrap();
    for (f, t) in found.iter().zip(&truth) {
        assert!(f.abs_diff(*t) <= 3, "found {found:?}, truth {truth:?}");
    }
    assert_eq!(*found.last().unwrap(), x.len());
    // A penalty between the noise-level gains and the regime gains finds the same.
    opts.stop = Stop::Penalty(60.0);
    let found_pen = change_points(&x, None, &opts).unwrap();
    assert_eq!(found_pen, found);
}

#[test]
fn the_cost_is_n_times_the_segment_permutation_entropy() {
    let x = noise(200, 3);
    let opts = options(Stop::Count(0));
    let signal = Signal::new(&x, &opts).unwrap();
    let (a, b) = (37, 160);
    // Independent count: the pattern ending at t, attributed to t - 1 (span 2, middle).
    let mut counts = [0f64; 6];
    for t in 2..x.len() {
        if (a..b).contains(&(t - 1)) {
            counts[pattern_code_at(&x, t, 3, 1) as usize] += 1.0;
        }
    }
    let total: f64 = counts.iter().sum();
    let entropy: f64 = -counts
        .iter()
        .filter(|&&c| c > 0.0)
        .map(|&c| c / total * (c / total).ln())
        .sum::<f64>();
    let cost = signal.cost(&signal.stats(a, b));
    assert!(
        (cost - total * entropy).abs() < 1e-9,
        "{cost} vs {}",
        total * entropy
    );
}

#[test]
fn mean_and_variance_costs() {
    // A level shift and a variance change, found by the Gaussian parts alone.
    let mut x: Vec<f64> = noise(300, 5).iter().map(|v| v - 0.5).collect();
    x.extend(noise(300, 6).iter().map(|v| v + 4.5));
    x.extend(noise(300, 8).iter().map(|v| 4.0 + 10.0 * (v - 0.5)));
    let mut opts = options(Stop::Count(2));
    opts.order = None;
    opts.variance = true;
    let found = change_points(&x, None, &opts).unwrap();
    assert!(
        found[0].abs_diff(300) <= 2 && found[1].abs_diff(600) <= 2,
        "{found:?}"
    );
    opts.variance = false;
    opts.mean = true;
    opts.stop = Stop::Count(1);
    let found = change_points(&x[..600], None, &opts).unwrap();
    assert_eq!(found, [300, 600]);
}

#[test]
fn min_size_and_fine_segments() {
    let (x, _) = regimes();
    let mut opts = options(Stop::Count(50));
    opts.min_size = 120;
    opts.block = 7;
    let found = change_points(&x, None, &opts).unwrap();
    let mut prev = 0;
    for &f in &found {
        assert!(f - prev >= 120, "{found:?}");
        prev = f;
    }
    let fine: Vec<usize> = (0..x.len()).step_by(25).collect();
    let found = change_points(&x, Some(&fine), &options(Stop::Count(2))).unwrap();
    assert!(
        found[0].abs_diff(400) <= 3 && found[1].abs_diff(700) <= 3,
        "{found:?}"
    );
}

#[test]
fn bad_input_is_a_typed_error() {
    let x = noise(50, 1);
    let check = |o: ChangePointOptions, msg: &str| {
        let e = change_points(&x, None, &o).unwrap_err();
        assert!(e.message().contains(msg), "{}", e.message());
    };
    let mut o = options(Stop::Count(1));
    o.min_size = 0;
    check(o, "min_size must be >= 1, got 0");
    let mut o = options(Stop::Count(1));
    o.order = Some(9);
    check(o, "order must be in 2..=7");
    let mut o = options(Stop::Count(1));
    o.order = None;
    check(o, "the cost is empty");
    check(
        options(Stop::Penalty(-1.0)),
        "pen must be finite and >= 0, got -1",
    );
    let e = change_points(&[], None, &options(Stop::Count(1))).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::EmptyInput);
    let e = change_points(&[1.0, f64::NAN], None, &options(Stop::Count(1))).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NonFinite { index: 1 });
    let e = change_points(&x, Some(&[0, 5, 5]), &options(Stop::Count(1))).unwrap_err();
    assert!(e.message().contains("must increase"));
    let e = change_points(&x, Some(&[1, 5]), &options(Stop::Count(1))).unwrap_err();
    assert!(e.message().contains("must start at 0"));
}

proptest! {
    #[test]
    fn results_are_well_formed_and_refining_never_costs_more(
        n in 1usize..300,
        seed in any::<u64>(),
        k in 0usize..6,
        min_size in 1usize..30,
        block in 1usize..40,
    ) {
        let x = noise(n, seed);
        let mut opts = options(Stop::Count(k));
        opts.min_size = min_size;
        opts.block = block;
        let found = change_points(&x, None, &opts).unwrap();
        prop_assert_eq!(*found.last().unwrap(), n);
        prop_assert!(found.len() <= k + 1);
        prop_assert!(found.windows(2).all(|w| w[1] > w[0]));
        if n >= min_size {
            let mut prev = 0;
            for &f in &found {
                prop_assert!(f - prev >= min_size);
                prev = f;
            }
        }
        // Refinement only moves a boundary where the two segments cost less.
        let signal = Signal::new(&x, &opts).unwrap();
        let total = |bounds: &[usize]| -> f64 {
            let mut a = 0;
            bounds.iter().map(|&b| { let c = signal.cost(&signal.inside_stats(a, b)); a = b; c }).sum()
        };
        let mut unrefined = opts.clone();
        unrefined.radius = 0;
        let coarse = change_points(&x, None, &unrefined).unwrap();
        prop_assert!(total(&found) <= total(&coarse) + 1e-6);
    }
}

#[test]
fn mirror_patterns() {
    // Order 3, lexicographic argsort codes: 012 <-> 210, 021 <-> 120, 102 <-> 201 fold
    // into three classes.
    assert_eq!(pattern_classes(3, true), (vec![0, 1, 2, 1, 2, 0], 3));
    assert_eq!(pattern_classes(3, false), (vec![0, 1, 2, 3, 4, 5], 6));
    let (classes, n) = pattern_classes(5, true);
    assert_eq!(n, 60);
    for c in 0..n as u16 {
        assert_eq!(classes.iter().filter(|&&k| k == c).count(), 2);
    }
    let x: Vec<f64> = (0..400).map(|t| (t as f64 / 30.0).sin()).collect();
    let mut opts = options(Stop::Count(0));
    let plain = Signal::new(&x, &opts).unwrap();
    opts.symmetric = true;
    let folded = Signal::new(&x, &opts).unwrap();
    // A slow sine: rising and falling halves differ plainly, and are alike folded.
    let gain = |s: &Signal| {
        let (a, b) = (s.stats(50, 140), s.stats(143, 233));
        s.merged_cost(&a, &b) - s.cost(&a) - s.cost(&b)
    };
    assert!(gain(&plain) > 30.0, "{}", gain(&plain));
    assert!(gain(&folded) < 1.0, "{}", gain(&folded));
}

#[test]
fn options_are_send_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<ChangePointOptions>();
}

/// The own-line cost from its definition: least squares over the segment's samples, the
/// residual variance floored at `floor`.
fn line_cost(v: &[f64], floor: f64) -> f64 {
    let n = v.len() as f64;
    let tm = (n - 1.0) / 2.0;
    let vm = v.iter().sum::<f64>() / n;
    let stt: f64 = (0..v.len()).map(|t| (t as f64 - tm).powi(2)).sum();
    let stx: f64 = v
        .iter()
        .enumerate()
        .map(|(t, x)| (t as f64 - tm) * (x - vm))
        .sum();
    let slope = if stt > 0.0 { stx / stt } else { 0.0 };
    let rss: f64 = v
        .iter()
        .enumerate()
        .map(|(t, x)| (x - vm - slope * (t as f64 - tm)).powi(2))
        .sum();
    0.5 * n * (rss / n).max(floor).ln()
}

proptest! {
    /// The trend cost from additive sums equals the least-squares fit, for a segment,
    /// for two merged segments, and after a boundary moves (samples leave the right
    /// side's front and join the left side's end).
    #[test]
    fn trend_cost_is_the_least_squares_line(
        seed in any::<u64>(),
        n in 8usize..200,
        cut in 0.1f64..0.9,
        moves in 0usize..6,
        slope in -2.0f64..2.0,
    ) {
        let x: Vec<f64> = noise(n, seed)
            .iter()
            .enumerate()
            .map(|(t, v)| v + slope * t as f64 / n as f64 + if t > n / 2 { 3.0 } else { 0.0 })
            .collect();
        let mut opts = options(Stop::Count(0));
        opts.order = None;
        opts.trend = true;
        let signal = Signal::new(&x, &opts).unwrap();
        let values = &signal.values;
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-7 * (1.0 + b.abs());
        let b = ((n as f64 * cut) as usize).clamp(3, n - 3);
        let left = signal.stats(0, b);
        let right = signal.stats(b, n);
        prop_assert!(close(signal.cost(&left), line_cost(&values[..b], signal.var_floor)));
        prop_assert!(close(signal.cost(&right), line_cost(&values[b..], signal.var_floor)));
        let whole = line_cost(values, signal.var_floor);
        prop_assert!(close(signal.merged_cost(&left, &right), whole));
        let mut merged = left.clone();
        Signal::merge_into(&mut merged, &right);
        prop_assert!(close(signal.cost(&merged), whole));
        // Slide the boundary right by `moves` samples.
        let (mut l, mut r) = (signal.inside_stats(0, b), signal.inside_stats(b, n));
        let moves = moves.min(n - 2 - b);
        for p in b..b + moves {
            signal.shift_boundary(&mut l, &mut r, 0, p, n);
        }
        let nb = b + moves;
        prop_assert!(close(signal.cost(&l), line_cost(&values[..nb], signal.var_floor)));
        prop_assert!(close(signal.cost(&r), line_cost(&values[nb..], signal.var_floor)));
    }
}

#[test]
fn trend_changes_are_found_where_level_costs_miss_them() {
    // A continuous piecewise-linear series (slope changes, no jump) plus noise: the trend
    // cost puts the change points on the kinks.
    let e = noise(900, 5);
    let truth = [300usize, 600, 900];
    let slopes = [0.02, -0.03, 0.01];
    let mut level = 0.0;
    let mut x = Vec::new();
    for (k, &end) in truth.iter().enumerate() {
        let start = if k == 0 { 0 } else { truth[k - 1] };
        for &noise in &e[start..end] {
            level += slopes[k];
            x.push(level + 0.3 * (noise - 0.5));
        }
    }
    let mut opts = options(Stop::Count(2));
    opts.order = None;
    opts.trend = true;
    opts.min_size = 20;
    opts.block = 20;
    opts.radius = 40;
    let found = change_points(&x, None, &opts).unwrap();
    for (f, t) in found.iter().zip(&truth) {
        assert!(f.abs_diff(*t) <= 15, "found {found:?}, truth {truth:?}");
    }
}
