//! End-to-end segmentation throughput of the core (no Python):
//! `cargo run --release -p entroseg-core --example segment_throughput [n]`.
//! Permutation entropy d = 4, W = 64 feeding the rule engine, with a fixed threshold,
//! with target_len = 16 (batch calibration and online), and the ragged batch on all cores.

use entroseg_core::estimate::context_model::NextSymbolOptions;
use entroseg_core::estimate::permutation::PermutationOptions;
use entroseg_core::segment::batch::{segment, segment_batch};
use entroseg_core::segment::rules::{Calibration, Rules};
use entroseg_core::segment::spec::{Method, NextScore, SegmentSpec};
use entroseg_core::util::pool::default_threads;
use entroseg_core::Samples;

mod common;

fn main() {
    let n = common::samples_arg();
    let mut rng = common::XorShift::new();
    let x = common::random_walk(&mut rng, n);
    let method = Method::Permutation(PermutationOptions {
        order: 4,
        window: Some(64),
        ..Default::default()
    });
    let cases = [
        (
            "threshold 0.97, min 4, max 64",
            Rules {
                threshold: Some(0.97),
                min_len: 4,
                max_len: Some(64),
                ..Rules::default()
            },
        ),
        (
            "target_len 16 (batch)",
            Rules {
                target_len: Some(16.0),
                ..Rules::default()
            },
        ),
        (
            "target_len 16 (batch), min 4, max 64",
            Rules {
                target_len: Some(16.0),
                min_len: 4,
                max_len: Some(64),
                ..Rules::default()
            },
        ),
        (
            "target_len 16 (online), min 4, max 64",
            Rules {
                target_len: Some(16.0),
                min_len: 4,
                max_len: Some(64),
                calibration: Calibration::Online,
                ..Rules::default()
            },
        ),
    ];
    let Method::Permutation(po) = method else {
        unreachable!()
    };
    let (t, _) = common::best_of(3, || {
        entroseg_core::estimate::permutation::rolling(&x, po)
            .unwrap()
            .len()
    });
    println!(
        "profile only PE d=4 W=64 {:7.1} M samples/s",
        n as f64 / t / 1e6
    );
    let profile = entroseg_core::estimate::permutation::rolling(&x, po).unwrap();
    for (name, rules) in cases {
        let (t, _) = common::best_of(3, || {
            entroseg_core::segment::rules::segment_scores(&profile, &rules)
                .unwrap()
                .len()
        });
        println!(
            "rules only, {name:<40} {:7.1} M samples/s",
            n as f64 / t / 1e6
        );
    }
    for (name, rules) in cases {
        let spec = SegmentSpec::new(method, rules).unwrap();
        let (t, k) = common::best_of(3, || segment(Samples::Values(&x), &spec).unwrap().len());
        println!(
            "segment PE d=4 W=64, {name:<40} {:7.1} M samples/s  mean len {:.2}",
            n as f64 / t / 1e6,
            n as f64 / k as f64
        );
    }
    let series = 100;
    let offsets: Vec<i64> = (0..=series).map(|i| (i * (n / series)) as i64).collect();
    let xs = &x[..offsets[series] as usize];
    let spec = SegmentSpec::new(method, cases[2].1).unwrap();
    for threads in [1, default_threads()] {
        let (t, _) = common::best_of(3, || {
            segment_batch(Samples::Values(xs), &offsets, &spec, threads)
                .unwrap()
                .len()
        });
        println!(
            "segment_batch {series} series, {threads} thread(s)          {:7.1} M samples/s",
            xs.len() as f64 / t / 1e6
        );
    }
    let symbols: Vec<u8> = (0..n / 4).map(|_| (rng.next_u64() >> 62) as u8).collect();
    for order in [2usize, 8] {
        let m = Method::NextSymbol(
            NextSymbolOptions {
                order,
                alphabet_size: 4,
                ..Default::default()
            },
            NextScore::Entropy,
        );
        let rules = Rules {
            threshold: Some(0.99),
            min_len: 2,
            max_len: Some(32),
            ..Rules::default()
        };
        let spec = SegmentSpec::new(m, rules).unwrap();
        let (t, _) = common::best_of(3, || segment(Samples::U8(&symbols), &spec).unwrap().len());
        println!(
            "segment next-symbol DNA order {order}                   {:7.1} M symbols/s",
            symbols.len() as f64 / t / 1e6
        );
    }
}
