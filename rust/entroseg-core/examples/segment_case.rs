//! One case of `segment_throughput`, repeated, for a profiler:
//! `perf record cargo run --release -p entroseg-core --example segment_case [n] [case] [runs]`
//! with case 0 the profile alone (PE d = 4, W = 64), 1 threshold 0.97 with min 4 / max 64,
//! 2 target_len 16 (batch), 3 the same with min 4 / max 64, 4 online with min 4 / max 64;
//! cases 5-8 are cases 1-4 as rules alone, on the profile computed once beforehand.
//! Prints the best run's samples/s and the segments per start reason
//! (`ENTROSEG_CPU_TIME=1`: the thread's CPU time instead of wall time).

use entroseg_core::estimate::permutation::{rolling, PermutationOptions};
use entroseg_core::segment::batch::segment;
use entroseg_core::segment::rules::{reason, segment_scores, Calibration, Rules};
use entroseg_core::segment::spec::{Method, SegmentSpec};
use entroseg_core::Samples;

mod common;

fn main() {
    let n = common::samples_arg();
    let arg = |i: usize, default: usize| {
        std::env::args()
            .nth(i)
            .and_then(|s| s.parse().ok())
            .unwrap_or(default)
    };
    let (case, runs) = (arg(2, 3), arg(3, 10));
    let mut rng = common::XorShift::new();
    let x = common::random_walk(&mut rng, n);
    let po = PermutationOptions {
        order: 4,
        window: Some(64),
        ..Default::default()
    };
    let hard = Rules {
        min_len: 4,
        max_len: Some(64),
        ..Rules::default()
    };
    let rules_only = case > 4;
    let case = if rules_only { case - 4 } else { case };
    let rules = match case {
        1 => Rules {
            threshold: Some(0.97),
            ..hard
        },
        2 => Rules {
            target_len: Some(16.0),
            ..Rules::default()
        },
        3 => Rules {
            target_len: Some(16.0),
            ..hard
        },
        _ => Rules {
            target_len: Some(16.0),
            calibration: Calibration::Online,
            ..hard
        },
    };
    let spec = SegmentSpec::new(Method::Permutation(po), rules).unwrap();
    let profile = if rules_only {
        rolling(&x, po).unwrap()
    } else {
        Vec::new()
    };
    let (t, reasons) = common::best_of(runs, || {
        let mut reasons = [0usize; reason::NAMES.len()];
        if case == 0 {
            reasons[0] = rolling(&x, po).unwrap().len();
        } else {
            let segments = if rules_only {
                segment_scores(&profile, &rules).unwrap()
            } else {
                segment(Samples::Values(&x), &spec).unwrap()
            };
            for g in segments {
                reasons[g.reason as usize] += 1;
            }
        }
        reasons
    });
    let what = if rules_only { " (rules only)" } else { "" };
    println!(
        "case {case}{what}: {:.1} M samples/s, {:?} {:?}",
        n as f64 / t / 1e6,
        reason::NAMES,
        reasons
    );
}
