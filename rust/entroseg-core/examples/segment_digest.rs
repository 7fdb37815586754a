//! Digests of the segments of the `segment_case` rule sets and of variants (other
//! lengths, tie-heavy and NaN/inf-holed profiles, streaming in odd chunks, end to end),
//! so two builds can be compared bit for bit:
//! `cargo run --release -p entroseg-core --example segment_digest [n] [seeds]`.
//! Each line is `case: segments hash`; the last line digests every line.

use entroseg_core::estimate::permutation::{rolling, PermutationOptions};
use entroseg_core::segment::batch::segment;
use entroseg_core::segment::rules::{
    calibrate_threshold, segment_scores, Calibration, Combine, RuleEngine, Rules, Segment,
};
use entroseg_core::segment::spec::{Method, SegmentSpec};
use entroseg_core::Samples;

mod common;

/// FNV-1a over the segments' fields.
fn digest(segments: &[Segment]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for g in segments {
        for b in g
            .start
            .to_le_bytes()
            .into_iter()
            .chain(g.len.to_le_bytes())
            .chain([g.reason])
        {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// The rules through a streaming engine fed `chunk` scores at a time (the batch
/// threshold calibrated over the whole array first, as the one-shot path does).
fn streamed(scores: &[f64], rules: &Rules, chunk: usize) -> Vec<Segment> {
    let calibrated = (rules.target_len.is_some() && rules.calibration == Calibration::Batch)
        .then(|| calibrate_threshold(scores, rules).unwrap());
    let mut engine = RuleEngine::new(*rules, calibrated).unwrap();
    let mut out = Vec::new();
    for piece in scores.chunks(chunk) {
        engine.push(piece, &mut out);
    }
    engine.finish(&mut out);
    out
}

fn main() {
    let n = common::samples_arg();
    let seeds: usize = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let po = PermutationOptions {
        order: 4,
        window: Some(64),
        ..Default::default()
    };
    let hard = |min_len: usize, max_len: usize| Rules {
        min_len,
        max_len: Some(max_len),
        ..Rules::default()
    };
    let online = |min_len, max_len, target| Rules {
        target_len: Some(target),
        calibration: Calibration::Online,
        ..hard(min_len, max_len)
    };
    let sets: Vec<(&str, Rules)> = vec![
        (
            "threshold 0.97 min 4 max 64",
            Rules {
                threshold: Some(0.97),
                ..hard(4, 64)
            },
        ),
        (
            "target 16 batch",
            Rules {
                target_len: Some(16.0),
                ..Rules::default()
            },
        ),
        (
            "target 16 batch min 4 max 64",
            Rules {
                target_len: Some(16.0),
                ..hard(4, 64)
            },
        ),
        ("target 16 online min 4 max 64", online(4, 64, 16.0)),
        ("target 8 online min 1 max 16", online(1, 16, 8.0)),
        ("target 30 online min 3 max 37", online(3, 37, 30.0)),
        ("target 20 online min 1 max 130", online(1, 130, 20.0)),
        (
            "threshold 0.9 min 2 max 70",
            Rules {
                threshold: Some(0.9),
                ..hard(2, 70)
            },
        ),
        (
            "threshold 0.95 or relative 0.02 min 4 max 64",
            Rules {
                threshold: Some(0.95),
                relative: Some(0.02),
                combine: Some(Combine::Or),
                ..hard(4, 64)
            },
        ),
        (
            "target 12 batch min 5 max 33",
            Rules {
                target_len: Some(12.0),
                ..hard(5, 33)
            },
        ),
    ];
    let mut all = Vec::new();
    for seed in 0..seeds {
        let mut rng = common::XorShift::new();
        for _ in 0..seed * 1009 {
            rng.next_u64();
        }
        let x = common::random_walk(&mut rng, n);
        let profile = rolling(&x, po).unwrap();
        // Tie-heavy: scores rounded to 1/32. Holed: NaN, +inf and -inf sprinkled in.
        let ties: Vec<f64> = profile.iter().map(|s| (s * 32.0).round() / 32.0).collect();
        let holed: Vec<f64> = profile
            .iter()
            .enumerate()
            .map(|(i, &s)| match (i * 7919 + seed) % 997 {
                0 => f64::NAN,
                1 => f64::INFINITY,
                2 => f64::NEG_INFINITY,
                _ => s,
            })
            .collect();
        for (name, rules) in &sets {
            for (kind, scores) in [("plain", &profile), ("ties", &ties), ("holed", &holed)] {
                let whole = segment_scores(scores, rules).unwrap();
                let chunked = streamed(scores, rules, 1000 + 37 * seed);
                let line = format!(
                    "seed {seed} n {n} {kind:5} {name}: {} {:016x} streamed {:016x}",
                    whole.len(),
                    digest(&whole),
                    digest(&chunked)
                );
                println!("{line}");
                all.push(line);
            }
            let spec = SegmentSpec::new(Method::Permutation(po), *rules).unwrap();
            let end_to_end = segment(Samples::Values(&x), &spec).unwrap();
            let line = format!(
                "seed {seed} n {n} end-to-end {name}: {} {:016x}",
                end_to_end.len(),
                digest(&end_to_end)
            );
            println!("{line}");
            all.push(line);
        }
    }
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for b in all.join("\n").bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    println!("all: {h:016x}");
}
