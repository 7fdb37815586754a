//! Multichannel input: one boundary set for all channels equals the rules run on the
//! documented combination of the channels' profiles (each computed alone), streams
//! bit-identically for any chunking and checkpoint point, one channel equals 1-D, and
//! misuse gives typed errors naming the value and the limit.

use crate::error::ErrorKind;
use crate::estimate::samples::{Channels, Samples};
use crate::segment::batch::{segment, segment_batch, segment_channels};
use crate::segment::profile::profile;
use crate::segment::rules::Segment;
use crate::segment::spec::{OptionValue, SegmentSpec, SpecOptions};
use crate::segment::stream::Segmenter;
use proptest::prelude::*;

fn spec(pairs: &[(&str, OptionValue)]) -> SegmentSpec {
    let mut o = SpecOptions::default();
    for (k, v) in pairs {
        o.set(k, v.clone()).unwrap();
    }
    o.build().unwrap()
}

fn series(seed: u64, n: usize, calm: usize) -> Vec<f64> {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut v = 0.0;
    (0..n)
        .map(|i| {
            s = crate::util::testing::lcg_step(s);
            let u = (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            v += if (i / calm) % 2 == 0 { 0.05 * u } else { u };
            v
        })
        .collect()
}

/// The reference: each channel's profile alone, combined left to right.
fn reference(chans: &[Vec<f64>], method: &[(&str, OptionValue)], max: bool) -> Vec<f64> {
    let mut o = SpecOptions::default();
    for (k, v) in method {
        o.set(k, v.clone()).unwrap();
    }
    let m = o.build_method().unwrap();
    let mut acc = profile(Samples::Values(&chans[0]), &m).unwrap();
    for c in &chans[1..] {
        let p = profile(Samples::Values(c), &m).unwrap();
        for (a, b) in acc.iter_mut().zip(p) {
            *a = if !max {
                *a + b
            } else if a.is_nan() || b.is_nan() {
                f64::NAN
            } else {
                a.max(b)
            };
        }
    }
    acc
}

fn channels(chans: &[Vec<f64>]) -> Channels<'_> {
    Channels::new(chans.iter().map(|c| Samples::Values(c)).collect()).unwrap()
}

fn methods() -> Vec<Vec<(&'static str, OptionValue)>> {
    use OptionValue::{Int, Str};
    vec![
        vec![("window", Int(24)), ("order", Int(3))],
        vec![
            ("method", Str("next_value".into())),
            ("window", Int(64)),
            ("statistic", Str("surprisal".into())),
        ],
    ]
}

fn rules(threshold: f64, max_len: Option<i64>) -> Vec<(&'static str, OptionValue)> {
    let mut r = vec![
        ("threshold", OptionValue::Float(threshold)),
        ("min_len", OptionValue::Int(3)),
    ];
    if let Some(m) = max_len {
        r.push(("max_len", OptionValue::Int(m)));
    }
    r
}

fn streamed(spec: &SegmentSpec, x: &Channels, cuts: &[usize], resume_at: usize) -> Vec<Segment> {
    let mut seg = Segmenter::new(spec).unwrap();
    let mut out = Vec::new();
    let mut at = 0;
    for (i, &end) in cuts.iter().chain(std::iter::once(&x.len())).enumerate() {
        let end = end.clamp(at, x.len());
        out.extend(seg.push_channels(&x.slice(at..end)).unwrap());
        if i == resume_at {
            seg = Segmenter::restore(&seg.checkpoint()).unwrap();
        }
        at = end;
    }
    out.extend(seg.finish().unwrap());
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn equals_the_rules_on_the_combined_profiles(
        seed in 0u64..1000,
        n in 0usize..1500,
        c in 1usize..5,
        which in 0usize..2,
        max in any::<bool>(),
        level in 0.2f64..1.5,
        max_len in prop::option::of(8i64..80),
    ) {
        let chans: Vec<Vec<f64>> =
            (0..c).map(|k| series(seed + 7 * k as u64, n, 50 + 30 * k)).collect();
        let method = &methods()[which];
        let mode = OptionValue::Str(if max { "max" } else { "sum" }.into());
        let level = if max { level } else { level * c as f64 };
        let mut pairs = method.clone();
        pairs.extend(rules(level, max_len));
        pairs.push(("channels", mode));
        let got = segment_channels(&channels(&chans), &spec(&pairs)).unwrap();
        let combined = reference(&chans, method, max);
        let mut scores = rules(level, max_len);
        scores.push(("method", OptionValue::Str("scores".into())));
        scores.push(("nan_policy", OptionValue::Str("propagate".into())));
        let want = segment(Samples::Values(&combined), &spec(&scores)).unwrap();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn streams_bit_identically_for_any_chunking_and_checkpoint(
        seed in 0u64..1000,
        n in 0usize..3000,
        c in 1usize..4,
        which in 0usize..2,
        max in any::<bool>(),
        cuts in prop::collection::vec(0usize..3000, 0..6),
        resume_at in 0usize..7,
    ) {
        let chans: Vec<Vec<f64>> =
            (0..c).map(|k| series(seed ^ (k as u64 + 1), n, 40 + 25 * k)).collect();
        let mut cuts = cuts;
        cuts.sort_unstable();
        // `pooled` (permutation only) in place of `max` for the permutation method.
        let mode = match (max, which) {
            (false, _) => "sum",
            (true, 0) if seed % 2 == 0 => "pooled",
            (true, _) => "max",
        };
        let mut pairs = methods()[which].clone();
        pairs.extend(rules(if mode == "sum" { 0.7 * c as f64 } else { 0.7 }, Some(60)));
        pairs.push(("channels", OptionValue::Str(mode.into())));
        let spec = spec(&pairs);
        let x = channels(&chans);
        let whole = segment_channels(&x, &spec).unwrap();
        prop_assert_eq!(streamed(&spec, &x, &cuts, resume_at), whole);
    }

    #[test]
    fn one_channel_equals_one_dimension(seed in 0u64..1000, n in 0usize..1500) {
        let x = series(seed, n, 80);
        for method in methods() {
            let mut pairs = method.clone();
            pairs.extend(rules(0.6, Some(50)));
            let spec = spec(&pairs);
            let one = Channels::one(Samples::Values(&x));
            prop_assert_eq!(
                segment_channels(&one, &spec).unwrap(),
                segment(Samples::Values(&x), &spec).unwrap()
            );
        }
    }
}

#[test]
fn batch_series_equal_each_series_alone_and_budget_spans_channels() {
    let chans: Vec<Vec<f64>> = (0..3)
        .map(|k| series(k, 2000, 60 + 20 * k as usize))
        .collect();
    let x = channels(&chans);
    let offsets = [0i64, 700, 700, 2000];
    let mut pairs = methods()[0].clone();
    pairs.extend(rules(1.8, Some(64)));
    let spec = spec(&pairs);
    let got = crate::segment::batch::segment_batch_channels_calibrated(&x, &offsets, &spec, 2)
        .unwrap()
        .0;
    let mut want = crate::segment::segments::Segments::new();
    for b in 0..3 {
        let part = x.slice(offsets[b] as usize..offsets[b + 1] as usize);
        want.push_series(&segment_channels(&part, &spec).unwrap());
    }
    assert_eq!(got, want);
    // One channel: the 1-D batch.
    let one = crate::segment::batch::segment_batch_channels_calibrated(
        &Channels::one(Samples::Values(&chans[0])),
        &offsets,
        &spec,
        2,
    )
    .unwrap()
    .0;
    assert_eq!(
        one,
        segment_batch(Samples::Values(&chans[0]), &offsets, &spec, 2).unwrap()
    );
    // A budget calibrates one threshold over the combined profiles.
    let mut pairs = methods()[0].clone();
    pairs.push(("budget", OptionValue::Int(60)));
    let (seg, t) =
        crate::segment::batch::segment_batch_channels_calibrated(&x, &offsets, &spec_of(&pairs), 2)
            .unwrap();
    let total = seg.series_offsets.last().copied().unwrap_or(0);
    assert!((58..=62).contains(&total), "{total}");
    assert!(t.is_some());
}

fn spec_of(pairs: &[(&str, OptionValue)]) -> SegmentSpec {
    spec(pairs)
}

#[test]
fn misuse_gives_typed_errors_naming_value_and_limit() {
    let a = series(1, 300, 50);
    let b = series(2, 300, 50);
    let mut pairs = methods()[0].clone();
    pairs.extend(rules(1.0, None));
    let spec = spec(&pairs);
    // Channel count fixed by the first samples.
    let mut s = Segmenter::new(&spec).unwrap();
    s.push_channels(&channels(&[a.clone(), b.clone()])).unwrap();
    let before = s.checkpoint();
    let e = s.push(Samples::Values(&a)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidParameter);
    assert!(
        e.message().contains("has 2 channel(s)") && e.message().contains("has 1"),
        "{}",
        e.message()
    );
    assert_eq!(s.checkpoint(), before);
    // Until then, any count (an empty chunk fixes nothing).
    let mut s = Segmenter::new(&spec).unwrap();
    s.push(Samples::Values(&[])).unwrap();
    s.push_channels(&channels(&[a.clone(), b.clone(), a.clone()]))
        .unwrap();
    assert_eq!(s.channels(), 3);
    // Unequal channels, none at all.
    let e = Channels::new(vec![Samples::Values(&a), Samples::Values(&b[..10])]).unwrap_err();
    assert!(
        e.message()
            .contains("channel 1 has 10 samples, channel 0 has 300"),
        "{}",
        e.message()
    );
    let e = Channels::channel_major(Samples::Values(&a), 0).unwrap_err();
    assert!(
        e.message().contains("at least 1 channel, got 0"),
        "{}",
        e.message()
    );
    // Unknown mode.
    let mut o = SpecOptions::default();
    o.set("channels", OptionValue::Str("mean".into())).unwrap();
    let e = o.build().unwrap_err();
    assert!(
        e.message()
            .contains("channels must be 'sum', 'max' or 'pooled', got \"mean\""),
        "{}",
        e.message()
    );
    // Method "line" fits each channel; it has no ordinal patterns to pool.
    let mut o = SpecOptions::default();
    o.set("threshold", OptionValue::Float(1.0)).unwrap();
    o.set("channels", OptionValue::Str("pooled".into()))
        .unwrap();
    let e = o.build().map(|_| ()).unwrap_err();
    assert!(
        e.message().contains("method='line' fits each channel"),
        "{}",
        e.message()
    );
    // The earliest non-finite sample is named, with its channel, by stream and one-shot.
    let mut bad_a = a.clone();
    let mut bad_b = b.clone();
    bad_a[200] = f64::NAN;
    bad_b[120] = f64::INFINITY;
    let x = [bad_a, bad_b];
    let e = segment_channels(&channels(&x), &spec).unwrap_err();
    assert!(
        e.message().starts_with("channel 1: ") && e.message().contains("120"),
        "{}",
        e.message()
    );
    let mut s = Segmenter::new(&spec).unwrap();
    s.push_channels(&channels(&x).slice(0..100)).unwrap();
    let e2 = s.push_channels(&channels(&x).slice(100..300)).unwrap_err();
    assert!(
        e2.message().starts_with("channel 1: ")
            && e2.message().contains("sample 120 of the stream"),
        "{}",
        e2.message()
    );
}

#[test]
fn pooled_is_permutation_only_and_cuts_the_pooled_profile() {
    use OptionValue::{Bool, Int, Str};
    let x: Vec<Vec<f64>> = (0..3).map(|k| series(k + 11, 900, 45)).collect();
    let mut pairs = methods()[0].clone();
    pairs.extend(rules(0.8, Some(70)));
    pairs.push(("channels", Str("pooled".into())));
    let spec_p = spec(&pairs);
    let got = segment_channels(&channels(&x), &spec_p).unwrap();
    let scores = crate::segment::profile::profile_channels(&channels(&x), spec_p.method()).unwrap();
    let mut s = rules(0.8, Some(70));
    s.push(("method", Str("scores".into())));
    s.push(("nan_policy", Str("propagate".into())));
    assert_eq!(got, segment(Samples::Values(&scores), &spec(&s)).unwrap());
    for (extra, want) in [
        (
            vec![("method", Str("next_value".into()))],
            "method=\"next_value\" has none",
        ),
        (
            vec![("window", Int(24)), ("weighted", Bool(true))],
            "weighted=True has no",
        ),
    ] {
        let mut o = SpecOptions::default();
        o.set("channels", Str("pooled".into())).unwrap();
        o.set("threshold", OptionValue::Float(1.0)).unwrap();
        for (k, v) in extra {
            o.set(k, v).unwrap();
        }
        let e = o.build().unwrap_err();
        assert!(e.message().contains(want), "{}", e.message());
    }
}

#[test]
fn pooled_one_channel_is_the_permutation_profile_bit_for_bit() {
    let x = series(5, 800, 30);
    for order in [2i64, 3, 5] {
        let mut pairs = vec![
            ("window", OptionValue::Int(20)),
            ("order", OptionValue::Int(order)),
            ("threshold", OptionValue::Float(0.5)),
        ];
        let plain = spec(&pairs);
        pairs.push(("channels", OptionValue::Str("pooled".into())));
        let pooled = spec(&pairs);
        let one = Channels::one(Samples::Values(&x));
        let a = crate::segment::profile::profile_channels(&one, plain.method()).unwrap();
        let b = crate::segment::profile::profile_channels(&one, pooled.method()).unwrap();
        assert!(a.iter().zip(&b).all(|(p, q)| p.to_bits() == q.to_bits()));
    }
}

/// Method "line" over (n, c): the one-shot pass, the stream (any chunking, a checkpoint
/// after every chunk) and the batch all equal the fit engine run on the rows, and the
/// combination is the documented one (sum; max with channels="max").
#[test]
fn line_fits_every_channel() {
    use crate::segment::fit::Fit;
    use crate::segment::rules::{segment_scores, Rules};
    let a = series(31, 3000, 150);
    let b: Vec<f64> = series(32, 3000, 90).iter().map(|v| 3.0 * v).collect();
    let chans = [a.clone(), b.clone()];
    let flat: Vec<f64> = a.iter().zip(&b).flat_map(|(&x, &y)| [x, y]).collect();
    for (mode, max) in [("sum", false), ("max", true)] {
        for (th, target) in [(Some(2.0), None), (None, Some(20.0))] {
            let mut pairs = vec![("channels", OptionValue::Str(mode.into()))];
            if let Some(t) = th {
                pairs.push(("threshold", OptionValue::Float(t)));
            }
            if let Some(t) = target {
                pairs.push(("target_len", OptionValue::Float(t)));
                pairs.push(("calibration", OptionValue::Str("batch".into())));
            }
            pairs.push(("max_len", OptionValue::Int(64)));
            let sp = spec(&pairs);
            let got = segment_channels(&channels(&chans), &sp).unwrap();
            let rules = Rules {
                fit: Some(Fit {
                    channels: 2,
                    max,
                    ..sp.rules().fit.unwrap()
                }),
                ..*sp.rules()
            };
            assert_eq!(got, segment_scores(&flat, &rules).unwrap(), "{mode} {th:?}");
            if let Some(t) = target {
                let mean = 3000.0 / got.len() as f64;
                assert!((mean / t - 1.0).abs() < 0.02, "{mode}: mean {mean}");
            }
            // A batch of two series: each as alone.
            let offsets = [0i64, 1200, 3000];
            let mc = crate::segment::batch::segment_batch_channels_calibrated(
                &channels(&chans),
                &offsets,
                &sp,
                2,
            )
            .unwrap()
            .0;
            for (k, w) in offsets.windows(2).enumerate() {
                let part: Vec<Vec<f64>> = chans
                    .iter()
                    .map(|c| c[w[0] as usize..w[1] as usize].to_vec())
                    .collect();
                let alone = segment_channels(&channels(&part), &sp).unwrap();
                let (lo, hi) = (
                    mc.series_offsets[k] as usize,
                    mc.series_offsets[k + 1] as usize,
                );
                let starts: Vec<i64> = alone.iter().map(|s| s.start as i64).collect();
                assert_eq!(mc.starts[lo..hi], starts[..], "{mode} {th:?} series {k}");
            }
            if target.is_some() {
                continue;
            }
            // Streamed in uneven chunks with a checkpoint after each: the same cuts.
            let mut seg = Segmenter::new(&sp).unwrap();
            let mut streamed = Vec::new();
            let (mut at, mut step) = (0usize, 1usize);
            while at < 3000 {
                let end = (at + step).min(3000);
                let part: Vec<Vec<f64>> = chans.iter().map(|c| c[at..end].to_vec()).collect();
                streamed.extend(seg.push_channels(&channels(&part)).unwrap());
                seg = Segmenter::restore(&seg.checkpoint()).unwrap();
                (at, step) = (end, step * 7 % 401 + 1);
            }
            streamed.extend(seg.finish().unwrap());
            assert_eq!(streamed, got, "{mode} stream");
        }
    }
}

/// A 1-D profiler's checkpoint restores as a one-channel source, and a multichannel
/// source's checkpoint resumes bit for bit.
#[test]
fn channel_profiler_checkpoints() {
    use crate::segment::profile::{ChannelProfiler, Profiler};
    let a = series(41, 800, 60);
    let b = series(42, 800, 30);
    let sp = spec(&[
        ("window", OptionValue::Int(16)),
        ("order", OptionValue::Int(3)),
        ("threshold", OptionValue::Float(1.0)),
    ]);
    let mut one = Profiler::new(sp.method()).unwrap();
    let head = one.push(Samples::Values(&a[..300])).unwrap();
    let mut back = ChannelProfiler::restore(&one.checkpoint()).unwrap();
    let mut tail = vec![0.0; 500];
    back.fill(&channels(&[a[300..].to_vec()]), &mut tail)
        .unwrap();
    let whole = profile(Samples::Values(&a), sp.method()).unwrap();
    let got: Vec<f64> = head.into_iter().chain(tail).collect();
    assert_eq!(format!("{got:?}"), format!("{whole:?}"));
    let mut two = ChannelProfiler::new(sp.method()).unwrap();
    let mut first = vec![0.0; 300];
    two.fill(
        &channels(&[a[..300].to_vec(), b[..300].to_vec()]),
        &mut first,
    )
    .unwrap();
    let mut two = ChannelProfiler::restore(&two.checkpoint()).unwrap();
    assert_eq!(two.channels(), 2);
    let mut rest = vec![0.0; 500];
    two.fill(
        &channels(&[a[300..].to_vec(), b[300..].to_vec()]),
        &mut rest,
    )
    .unwrap();
    let want = reference(
        &[a, b],
        &[
            ("window", OptionValue::Int(16)),
            ("order", OptionValue::Int(3)),
        ],
        false,
    );
    let got: Vec<f64> = first.into_iter().chain(rest).collect();
    assert_eq!(format!("{got:?}"), format!("{want:?}"));
}
