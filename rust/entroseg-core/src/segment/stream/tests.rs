//! Pipeline tests: streaming equals one-shot for any chunking and checkpoint point,
//! batches equal series alone, and misuse gives typed errors.

use super::*;
use crate::error::ErrorKind;
use crate::estimate::conditional::ConditionalOptions;
use crate::estimate::context_model::NextSymbolOptions;
use crate::estimate::permutation::PermutationOptions;
use crate::segment::rules::{reason, BltMode, EntropeMode};
use crate::segment::rules::{segment_scores, Calibration, Preset, Rules};
use crate::segment::spec::NextScore;
use crate::segment::test_shims::{
    segment_batch_values, segment_symbols, segment_values, segmenter, PushTyped,
};
use proptest::prelude::*;

fn walk(seed: u64, n: usize) -> Vec<f64> {
    let mut s = seed;
    let mut v = 0.0;
    (0..n)
        .map(|i| {
            s = crate::util::testing::lcg_step(s);
            let u = (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            // Alternate calm and busy stretches so the profile moves.
            v += if (i / 700) % 2 == 0 {
                u
            } else {
                5.0 * u.signum()
            };
            v
        })
        .collect()
}

fn symbols(seed: u64, n: usize, a: u64) -> Vec<u8> {
    let mut s = seed;
    (0..n)
        .map(|i| {
            s = crate::util::testing::lcg_step(s);
            if (i / 500) % 2 == 0 {
                ((s >> 33) % a) as u8
            } else {
                (i % a as usize) as u8
            }
        })
        .collect()
}

fn pe_method(window: usize) -> Method {
    Method::Permutation(PermutationOptions {
        order: 4,
        window: Some(window),
        ..Default::default()
    })
}

fn streamed_values(method: Method, rules: Rules, x: &[f64], cuts: &[usize]) -> Vec<Segment> {
    let mut seg = segmenter(method, rules).unwrap();
    let mut out = Vec::new();
    let mut start = 0;
    for (i, &c) in cuts.iter().enumerate() {
        let c = c.clamp(start, x.len());
        out.extend(seg.push_values(&x[start..c]).unwrap());
        start = c;
        if i % 2 == 0 {
            seg = Segmenter::restore(&seg.checkpoint()).unwrap();
        }
    }
    out.extend(seg.push_values(&x[start..]).unwrap());
    out.extend(seg.finish().unwrap());
    out
}

fn streamed_symbols(method: Method, rules: Rules, x: &[u8], cuts: &[usize]) -> Vec<Segment> {
    let mut seg = segmenter(method, rules).unwrap();
    let mut out = Vec::new();
    let mut start = 0;
    for (i, &c) in cuts.iter().enumerate() {
        let c = c.clamp(start, x.len());
        out.extend(seg.push_symbols(&x[start..c]).unwrap());
        start = c;
        if i % 2 == 1 {
            seg = Segmenter::restore(&seg.checkpoint()).unwrap();
        }
    }
    out.extend(seg.push_symbols(&x[start..]).unwrap());
    out.extend(seg.finish().unwrap());
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn permutation_pipeline_is_chunk_and_checkpoint_invariant(
        seed in 0u64..1000,
        n in 0usize..6000,
        cuts in prop::collection::vec(0usize..6000, 0..5),
        min_len in 1usize..5,
        extra in prop::option::of(0usize..40),
        online in any::<bool>(),
    ) {
        let mut cuts = cuts;
        cuts.sort_unstable();
        let x = walk(seed, n);
        let rules = if online {
            Rules { target_len: Some(min_len as f64 + 4.0), calibration: Calibration::Online,
                    min_len, max_len: extra.map(|e| min_len + 4 + e), ..Rules::default() }
        } else {
            Rules { threshold: Some(0.8), min_len, max_len: extra.map(|e| min_len + e),
                    ..Rules::default() }
        };
        let method = pe_method(32);
        let one = segment_values(&x, &method, &rules).unwrap();
        let streamed = streamed_values(method, rules, &x, &cuts);
        prop_assert_eq!(&one, &streamed);
        prop_assert_eq!(one.iter().map(|g| g.len).sum::<u64>(), n as u64);
        // Warm-up positions (t < window - 1) never start a segment by rule.
        for g in &one {
            if g.reason == reason::THRESHOLD {
                prop_assert!(g.start >= 31);
            }
        }
    }

    #[test]
    fn symbol_pipelines_are_chunk_and_checkpoint_invariant(
        seed in 0u64..1000,
        n in 0usize..3000,
        cuts in prop::collection::vec(0usize..3000, 0..5),
        next in any::<bool>(),
        min_len in 1usize..4,
    ) {
        let mut cuts = cuts;
        cuts.sort_unstable();
        let x = symbols(seed, n, 4);
        let method = if next {
            Method::NextSymbol(NextSymbolOptions { order: 2, alphabet_size: 4, ..Default::default() },
                               NextScore::Surprisal)
        } else {
            Method::Conditional(ConditionalOptions { context: 2, alphabet_size: 4,
                                                     window: Some(40), ..Default::default() })
        };
        let rules = Rules { threshold: Some(0.7), min_len, max_len: Some(50), ..Rules::default() };
        let one = segment_symbols(&x, &method, &rules).unwrap();
        prop_assert_eq!(&one, &streamed_symbols(method, rules, &x, &cuts));
    }
}

#[test]
fn one_shot_equals_rules_over_the_profile() {
    let x = walk(5, 20_000);
    let method = pe_method(64);
    let Method::Permutation(o) = method else {
        unreachable!()
    };
    let profile = crate::estimate::permutation::rolling(&x, o).unwrap();
    for rules in [
        Rules {
            threshold: Some(0.9),
            min_len: 4,
            max_len: Some(64),
            ..Rules::default()
        },
        Rules {
            target_len: Some(16.0),
            min_len: 4,
            max_len: Some(64),
            ..Rules::default()
        },
        Rules {
            preset: Some(Preset::Entrope {
                mode: EntropeMode::Global,
                quantile: 0.9,
            }),
            ..Rules::default()
        },
        Rules {
            preset: Some(Preset::Blt {
                mode: BltMode::Global,
                threshold: 0.9,
                relative: 0.0,
            }),
            max_len: Some(40),
            ..Rules::default()
        },
    ] {
        let a = segment_values(&x, &method, &rules).unwrap();
        let b = segment_scores(&profile, &rules).unwrap();
        assert_eq!(a, b, "{rules:?}");
    }
    let rules = Rules {
        target_len: Some(16.0),
        min_len: 4,
        max_len: Some(64),
        ..Rules::default()
    };
    let segs = segment_values(&x, &method, &rules).unwrap();
    let mean = x.len() as f64 / segs.len() as f64;
    assert!((mean - 16.0).abs() < 0.05, "mean {mean}");
}

#[test]
fn batches_equal_series_alone_on_any_thread_count() {
    let lens = [0usize, 1, 3000, 17, 5000, 64, 0, 2500];
    let mut values = Vec::new();
    let mut offsets = vec![0i64];
    for (i, &l) in lens.iter().enumerate() {
        values.extend(walk(i as u64, l));
        offsets.push(values.len() as i64);
    }
    let method = pe_method(32);
    let rules = Rules {
        target_len: Some(10.0),
        min_len: 2,
        max_len: Some(40),
        ..Rules::default()
    };
    let one = segment_batch_values(&values, &offsets, &method, &rules, 1).unwrap();
    let four = segment_batch_values(&values, &offsets, &method, &rules, 4).unwrap();
    assert_eq!(one, four);
    assert_eq!(one.num_series(), lens.len());
    for b in 0..lens.len() {
        let x = &values[offsets[b] as usize..offsets[b + 1] as usize];
        let alone = segment_values(x, &method, &rules).unwrap();
        let (lo, hi) = (
            one.series_offsets[b] as usize,
            one.series_offsets[b + 1] as usize,
        );
        assert_eq!(hi - lo, alone.len());
        for (k, g) in alone.iter().enumerate() {
            assert_eq!(one.starts[lo + k], g.start as i64);
            assert_eq!(one.lengths[lo + k], g.len as i64);
        }
    }
    // Errors name their series.
    let mut bad = values.clone();
    let at = offsets[4] as usize + 10;
    bad[at] = f64::NAN;
    let e = segment_batch_values(&bad, &offsets, &method, &rules, 2).unwrap_err();
    assert!(e.message().starts_with("series 4: "), "{}", e.message());
    let e = segment_batch_values(&values, &[0, 5], &method, &rules, 2).unwrap_err();
    assert!(e.message().contains("offsets must end"));
}

#[test]
fn misuse_is_a_typed_error() {
    let method = pe_method(16);
    let rules = Rules {
        threshold: Some(0.5),
        ..Rules::default()
    };
    let mut s = segmenter(method, rules).unwrap();
    s.push_values(&walk(1, 100)).unwrap();
    s.finish().unwrap();
    let e = s.push_values(&[1.0]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidState);
    s.reset();
    assert!(s.push_values(&[1.0]).is_ok());
    // A NaN under nan_policy=raise leaves the state untouched.
    let mut s = segmenter(method, rules).unwrap();
    s.push_values(&walk(1, 50)).unwrap();
    let before = s.checkpoint();
    let e = s.push_values(&[1.0, f64::NAN]).unwrap_err();
    assert!(
        e.message().contains("sample 51 of the stream"),
        "{}",
        e.message()
    );
    assert_eq!(s.checkpoint(), before);
    // Wrong input kind.
    assert!(s.push_symbols(&[1u8]).is_err());
    // Streaming cannot do batch calibration nor EntroPE.
    let batch = Rules {
        target_len: Some(8.0),
        ..Rules::default()
    };
    assert!(segmenter(method, batch).is_err());
    let entrope = Rules {
        preset: Some(Preset::Entrope {
            mode: EntropeMode::Global,
            quantile: 0.5,
        }),
        ..Rules::default()
    };
    assert!(segmenter(method, entrope).is_err());
    // No rolling window.
    let whole = Method::Permutation(PermutationOptions::default());
    assert!(segmenter(whole, rules).is_err());
    // Checkpoint of another kind.
    assert!(Segmenter::restore(b"ESEG").is_err());
}

#[test]
fn send_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Segmenter>();
}
