//! Chunk-parallel segmentation equals the one-pass result for any chunk count.

use super::*;
use crate::estimate::context_model::NextSymbolOptions;
use crate::estimate::permutation::PermutationOptions;
use crate::segment::rules::{segment_scores, BltMode, Calibration, EntropeMode, Preset};
use crate::segment::spec::NextScore;
use crate::segment::test_shims::{
    segment_symbols, segment_symbols_parallel, segment_values, segment_values_parallel,
};
use proptest::prelude::*;

fn walk(seed: u64, n: usize) -> Vec<f64> {
    let mut s = seed.wrapping_mul(2654435761).wrapping_add(1);
    let mut v = 0.0;
    (0..n)
        .map(|i| {
            s = crate::util::testing::lcg_step(s);
            let u = (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            v += if (i / 300) % 3 == 0 { 0.01 * u } else { u };
            v
        })
        .collect()
}

fn rules_strategy() -> impl Strategy<Value = Rules> {
    (0u8..8, 1usize..6, prop::option::of(0usize..60), 0u8..10).prop_map(
        |(kind, min_len, extra, level)| {
            let max_len = extra.map(|e| min_len + 4 + e);
            let th = 0.80 + level as f64 * 0.02;
            match kind {
                0 | 1 => Rules {
                    threshold: Some(th),
                    min_len,
                    max_len,
                    ..Rules::default()
                },
                2 => Rules {
                    relative: Some(0.01 * level as f64),
                    min_len,
                    max_len: max_len.or(Some(50)),
                    ..Rules::default()
                },
                3 => Rules {
                    threshold: Some(th),
                    relative: Some(0.0),
                    combine: Some(crate::segment::rules::Combine::Or),
                    min_len,
                    max_len,
                    ..Rules::default()
                },
                4 => Rules {
                    target_len: Some(min_len as f64 + 6.0),
                    min_len,
                    max_len: max_len.map(|m| m + 6),
                    ..Rules::default()
                },
                5 => Rules {
                    preset: Some(Preset::Blt {
                        mode: BltMode::Combined,
                        threshold: th,
                        relative: 0.0,
                    }),
                    max_len,
                    ..Rules::default()
                },
                6 => Rules {
                    preset: Some(Preset::Entrope {
                        mode: EntropeMode::Monotonic,
                        quantile: 0.8,
                    }),
                    max_len,
                    ..Rules::default()
                },
                _ => Rules {
                    target_len: Some(8.0),
                    calibration: Calibration::Online,
                    max_len: Some(40),
                    ..Rules::default()
                },
            }
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn parallel_equals_one_pass(
        seed in 0u64..10_000,
        n in 0usize..5000,
        chunks in 1usize..12,
        overlap in prop::option::of(1usize..200),
        rules in rules_strategy(),
    ) {
        let x = walk(seed, n);
        let method = Method::Permutation(PermutationOptions {
            order: 3,
            window: Some(24),
            ..Default::default()
        });
        let one = segment_values(&x, &method, &rules).unwrap();
        let (par, report) = segment_values_parallel(&x, &method, &rules, chunks, 3, overlap).unwrap();
        prop_assert_eq!(&par, &one);
        if rules.calibration == Calibration::Online && rules.target_len.is_some() {
            prop_assert!(report.sequential_reason.is_some());
        }
    }
}

/// PE d = 4, W = 64 over a 200,000-sample walk, in 16 chunks on 2 threads, against the
/// one-pass run.
fn parallel_pe_run(rules: &Rules) -> StitchReport {
    let x = walk(1, 200_000);
    let method = Method::Permutation(PermutationOptions {
        order: 4,
        window: Some(64),
        ..Default::default()
    });
    let (par, report) = segment_values_parallel(&x, &method, rules, 16, 2, None).unwrap();
    assert_eq!(par, segment_values(&x, &method, rules).unwrap());
    report
}

#[test]
fn stitching_usually_needs_no_fallback() {
    // A fixed threshold (a calibrated one on a profile this long is cut by the
    // calibration itself, see below).
    let report = parallel_pe_run(&Rules {
        threshold: Some(0.9),
        min_len: 4,
        max_len: Some(64),
        ..Rules::default()
    });
    assert_eq!(report.chunks, 16);
    assert_eq!(report.stitched + report.fallbacks, 15);
    assert!(report.fallbacks <= 1, "{report:?}");
}

#[test]
fn a_long_calibrated_profile_is_cut_by_its_calibration() {
    let report = parallel_pe_run(&Rules {
        target_len: Some(16.0),
        min_len: 4,
        max_len: Some(64),
        ..Rules::default()
    });
    assert_eq!(report.chunks, 1);
    assert!(report.sequential_reason.is_some());
}

#[test]
fn symbols_and_scores_paths() {
    let x = walk(2, 6000);
    let symbols: Vec<u8> = x
        .windows(2)
        .map(|w| (w[1] > w[0]) as u8 * 2 + (w[1].abs() > 1.0) as u8)
        .collect();
    let rules = Rules {
        threshold: Some(0.7),
        min_len: 2,
        max_len: Some(30),
        ..Rules::default()
    };
    for method in [
        Method::Conditional(conditional::ConditionalOptions {
            context: 2,
            alphabet_size: 4,
            window: Some(40),
            ..Default::default()
        }),
        Method::NextSymbol(
            NextSymbolOptions {
                order: 2,
                alphabet_size: 4,
                ..Default::default()
            },
            NextScore::Entropy,
        ),
    ] {
        let (par, _) = segment_symbols_parallel(&symbols, &method, &rules, 7, 2, None).unwrap();
        assert_eq!(par, segment_symbols(&symbols, &method, &rules).unwrap());
    }
    let (par, _) = segment_scores_parallel(&x, &rules, 5, 2, Some(10)).unwrap();
    assert_eq!(par, segment_scores(&x, &rules).unwrap());
    // Errors name positions in the whole input.
    let mut bad = symbols.clone();
    bad[4321] = 9;
    let method = Method::Conditional(conditional::ConditionalOptions {
        context: 1,
        alphabet_size: 4,
        window: Some(40),
        ..Default::default()
    });
    let e = segment_symbols_parallel(&bad, &method, &rules, 4, 2, None).unwrap_err();
    assert!(
        e.message().contains("symbol 9 at index 4321"),
        "{}",
        e.message()
    );
    let mut bad = x.clone();
    bad[3333] = f64::NAN;
    let pe = Method::Permutation(PermutationOptions {
        window: Some(20),
        ..Default::default()
    });
    let e = segment_values_parallel(&bad, &pe, &rules, 4, 2, None).unwrap_err();
    assert!(e.message().contains("index 3333"), "{}", e.message());
    assert!(segment_scores_parallel(&x, &rules, 0, 2, None).is_err());
}
