//! Tests of the rule engine: a plain reference that re-scans (the rules as written in
//! the module docs), invariants, chunking and checkpoints, calibration against brute
//! force, and hand-checked preset cases.

use super::*;
use proptest::prelude::*;

/// The native rules, written as plainly as possible: forced splits re-scan their range.
#[allow(clippy::needless_range_loop)] // index loops mirror the rules as written
fn reference(s: &[f64], rules: &Rules, theta: Option<f64>) -> Vec<(u64, u8)> {
    reference_ties(s, rules, theta.map(Threshold::above))
}

/// The reference with a tie-broken threshold: equal scores fire where `tie_rank(t)` is
/// below the cut.
#[allow(clippy::needless_range_loop)] // positions are the point of the reference
fn reference_ties(s: &[f64], rules: &Rules, threshold: Option<Threshold>) -> Vec<(u64, u8)> {
    let theta = threshold.map(|t| t.value);
    let fires_tie =
        |t: usize| threshold.is_some_and(|th| s[t] == th.value && tie_rank(t as u64) < th.tie_cut);
    let n = s.len();
    if n == 0 {
        return vec![];
    }
    let mut starts = vec![(0u64, reason::START)];
    let mut cur = 0usize;
    for t in 1..n {
        let above = theta.is_some_and(|th| s[t] > th) || fires_tie(t);
        let rises = rules.relative.is_some_and(|r| s[t] - s[t - 1] > r);
        let fired = if theta.is_some() && rules.relative.is_some() {
            match rules.combine.unwrap() {
                Combine::And => above && rises,
                Combine::Or => above || rises,
            }
        } else {
            above || rises
        };
        if fired && t - cur >= rules.min_len {
            let code = match (above, rises) {
                (true, true) => reason::BOTH,
                (true, false) => reason::THRESHOLD,
                _ => reason::RELATIVE,
            };
            starts.push((t as u64, code));
            cur = t;
            continue;
        }
        if rules.max_len.is_some_and(|m| t - cur == m) {
            let mut best = t;
            let mut best_key = f64::NEG_INFINITY;
            for p in cur + rules.min_len..=t {
                let key = if s[p].is_nan() {
                    f64::NEG_INFINITY
                } else {
                    s[p]
                };
                if key >= best_key {
                    best_key = key;
                    best = p;
                }
            }
            starts.push((best as u64, reason::MAX_LEN));
            cur = best;
        }
    }
    starts
}

fn to_segments(starts: &[(u64, u8)], n: u64) -> Vec<Segment> {
    starts
        .iter()
        .enumerate()
        .map(|(i, &(st, r))| Segment {
            start: st,
            len: starts.get(i + 1).map_or(n, |x| x.0) - st,
            reason: r,
        })
        .collect()
}

fn run_chunked(s: &[f64], rules: &Rules, theta: Option<f64>, cuts: &[usize]) -> Vec<Segment> {
    let mut engine = RuleEngine::new(*rules, theta.map(Threshold::above)).unwrap();
    let mut out = Vec::new();
    let mut start = 0;
    for (i, &c) in cuts.iter().enumerate() {
        let c = c.clamp(start, s.len());
        engine.push(&s[start..c], &mut out);
        start = c;
        if i % 2 == 1 {
            let mut w = Writer::new("t");
            engine.write_state(&mut w);
            let bytes = w.finish();
            let mut r = Reader::open(&bytes, "t").unwrap();
            engine = RuleEngine::read_state(&mut r).unwrap();
            r.finish().unwrap();
        }
    }
    engine.push(&s[start..], &mut out);
    engine.finish(&mut out);
    out
}

fn scores_strategy() -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(
        prop_oneof![
            8 => (0u8..12).prop_map(|v| v as f64 / 4.0),
            1 => Just(f64::NAN),
        ],
        0..300,
    )
}

fn rules_strategy() -> impl Strategy<Value = Rules> {
    (
        prop::option::of(0u8..12),
        prop::option::of(0u8..8),
        any::<bool>(),
        1usize..6,
        prop::option::of(0usize..20),
    )
        .prop_map(|(th, rel, and, min_len, extra)| Rules {
            threshold: th.map(|v| v as f64 / 4.0),
            relative: rel.map(|v| v as f64 / 4.0 - 0.5),
            combine: (th.is_some() && rel.is_some()).then_some(if and {
                Combine::And
            } else {
                Combine::Or
            }),
            min_len,
            max_len: extra.map(|e| min_len + e),
            ..Rules::default()
        })
        .prop_filter("a rule", |r| r.validate().is_ok())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn engine_equals_reference_for_any_chunking(
        s in scores_strategy(),
        rules in rules_strategy(),
        cuts in prop::collection::vec(0usize..300, 0..6),
    ) {
        let mut cuts = cuts;
        cuts.sort_unstable();
        let want = to_segments(&reference(&s, &rules, rules.threshold), s.len() as u64);
        let got = run_chunked(&s, &rules, rules.threshold, &cuts);
        prop_assert_eq!(&got, &want);
        // Invariants.
        prop_assert_eq!(got.iter().map(|g| g.len).sum::<u64>(), s.len() as u64);
        for (i, g) in got.iter().enumerate() {
            prop_assert!(g.len >= 1);
            if let Some(m) = rules.max_len {
                prop_assert!(g.len <= m as u64);
            }
            if i + 1 < got.len() {
                prop_assert!(g.len >= rules.min_len as u64);
            }
        }
    }

    #[test]
    fn batch_calibration_finds_the_best_threshold(
        s in scores_strategy(),
        min_len in 1usize..4,
        target in 1.0f64..12.0,
        max_extra in prop::option::of(0usize..10),
    ) {
        let max_len = max_extra.map(|e| (target.ceil() as usize).max(min_len) + e);
        let rules = Rules {
            target_len: Some(target.max(min_len as f64)),
            min_len,
            max_len,
            ..Rules::default()
        };
        prop_assume!(rules.validate().is_ok());
        let theta = calibrate_threshold(&s, &rules).unwrap();
        let n = s.len() as f64;
        let count = |th: f64| reference(&s, &rules, Some(th)).len() as f64;
        let objective = |c: f64| if c == 0.0 { 0.0 } else { (n / c - rules.target_len.unwrap()).abs() };
        let got_count = reference_ties(&s, &rules, Some(theta)).len() as f64;
        let got = objective(got_count);
        // Brute force over every distinct threshold.
        let mut thresholds: Vec<f64> = s.iter().copied().filter(|v| v.is_finite()).collect();
        thresholds.push(f64::INFINITY);
        thresholds.push(f64::NEG_INFINITY);
        let best = thresholds.iter().map(|&t| objective(count(t))).fold(f64::INFINITY, f64::min);
        if max_len.is_none() {
            // Never worse than the best distinct threshold (ties can only help).
            prop_assert!(got <= best + 1e-12, "got {} best {}", got, best);
        } else {
            // Not monotone in general: at least as good as both ends of the search.
            prop_assert!(got <= objective(count(f64::INFINITY)) + 1e-12);
        }
        // The segments produced with target_len are those of the reported threshold.
        let segs = segment_scores(&s, &rules).unwrap();
        let want = reference_ties(&s, &rules, Some(theta));
        let got_starts: Vec<(u64, u8)> = segs.iter().map(|g| (g.start, g.reason)).collect();
        prop_assert_eq!(got_starts, want);
    }
}

#[test]
fn ties_are_broken_so_the_target_is_met() {
    // Three distinct values over 20,000 positions: no plain threshold comes near most
    // targets; breaking ties by position meets every one within one segment.
    let mut x = 0x9E37_79B9u64;
    let s: Vec<f64> = (0..20_000)
        .map(|_| {
            x = crate::util::testing::lcg_step(x);
            [0.25, 0.5, 0.75][((x >> 33) % 3) as usize]
        })
        .collect();
    for (min_len, target) in [(1, 8.0), (1, 37.5), (3, 6.0), (2, 100.0)] {
        let rules = Rules {
            target_len: Some(target),
            min_len,
            ..Rules::default()
        };
        let theta = calibrate_threshold(&s, &rules).unwrap();
        assert!(theta.tie_cut > 0, "{target}: {theta:?}");
        let segs = segment_scores(&s, &rules).unwrap();
        let wanted = s.len() as f64 / target;
        assert!(
            (segs.len() as f64 - wanted).abs() <= 1.0,
            "{target}: {}",
            segs.len()
        );
        let want = reference_ties(&s, &rules, Some(theta));
        let got: Vec<(u64, u8)> = segs.iter().map(|g| (g.start, g.reason)).collect();
        assert_eq!(got, want);
        // Streaming in chunks with the same threshold gives the same segments.
        let mut e = RuleEngine::new(rules, Some(theta)).unwrap();
        let mut out = Vec::new();
        for chunk in s.chunks(777) {
            e.push(chunk, &mut out);
        }
        e.finish(&mut out);
        assert_eq!(out, segs);
    }
}

#[test]
fn calibration_meets_the_target_on_a_long_signal() {
    let mut x = 0x2545F4914F6CDD1Du64;
    let s: Vec<f64> = (0..200_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 11) as f64 / (1u64 << 53) as f64
        })
        .collect();
    for (min_len, max_len, target) in [(1, None, 16.0), (4, Some(64), 16.0), (2, Some(20), 8.0)] {
        let rules = Rules {
            target_len: Some(target),
            min_len,
            max_len,
            ..Rules::default()
        };
        let segs = segment_scores(&s, &rules).unwrap();
        let mean = s.len() as f64 / segs.len() as f64;
        assert!(
            (mean - target).abs() < 0.01,
            "{min_len} {max_len:?}: mean {mean}"
        );
    }
}

#[test]
fn online_controller_converges_and_is_chunk_invariant() {
    let mut x = 88172645463325252u64;
    let s: Vec<f64> = (0..100_000)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let u = (x >> 11) as f64 / (1u64 << 53) as f64;
            // A level shift halfway: the controller must follow it.
            u + if i > 50_000 { 3.0 } else { 0.0 }
        })
        .collect();
    let rules = Rules {
        target_len: Some(12.0),
        calibration: Calibration::Online,
        min_len: 2,
        max_len: Some(48),
        ..Rules::default()
    };
    let one = run_chunked(&s, &rules, None, &[]);
    let many = run_chunked(&s, &rules, None, &[1, 2, 777, 5000, 5001, 60_000]);
    assert_eq!(one, many);
    let tail: Vec<&Segment> = one.iter().filter(|g| g.start > 60_000).collect();
    let mean = tail.iter().map(|g| g.len).sum::<u64>() as f64 / tail.len() as f64;
    assert!((mean - 12.0).abs() < 1.0, "mean {mean}");
}

fn preset_starts(e: &[f64], preset: Preset, max_len: Option<usize>) -> Vec<u64> {
    let rules = Rules {
        preset: Some(preset),
        max_len,
        ..Rules::default()
    };
    let segs = segment_scores(e, &rules).unwrap();
    assert_eq!(segs.iter().map(|g| g.len).sum::<u64>(), e.len() as u64);
    segs.iter().map(|g| g.start).collect()
}

fn blt(mode: BltMode, threshold: f64, relative: f64) -> Preset {
    Preset::Blt {
        mode,
        threshold,
        relative,
    }
}

#[test]
fn blt_preset_hand_checked_cases() {
    // Global: starts at 0, 1 and at p where e[p-1] > 0.5 (p <= n-1).
    let e = [0.9, 0.1, 0.7, 0.2, 0.8, 0.6, 0.3];
    assert_eq!(
        preset_starts(&e, blt(BltMode::Global, 0.5, 0.0), None),
        [0, 1, 3, 5, 6]
    );
    // Max length splits from the left: a patch of 7 with max 3 -> 3, 3, 1.
    let e = [0.9, 0.9, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1];
    assert_eq!(
        preset_starts(&e, blt(BltMode::Global, 0.5, 0.0), Some(3)),
        [0, 1, 2, 5, 8]
    );
    // Monotonic: always 2; then e[p-1] - e[p-2] > 0.3.
    let e = [0.5, 0.1, 0.2, 0.9, 0.95, 0.3, 0.8];
    assert_eq!(
        preset_starts(&e, blt(BltMode::Monotonic, 0.0, 0.3), None),
        [0, 1, 2, 4]
    );
    // Combined: always 2, never 3 (although its rule holds), then both conditions.
    let e = [0.5, 0.1, 0.9, 0.2, 0.9, 0.95, 0.1, 0.7, 0.6];
    assert_eq!(
        preset_starts(&e, blt(BltMode::Combined, 0.5, 0.3), None),
        [0, 1, 2, 5, 8]
    );
    // Short sequences.
    assert_eq!(
        preset_starts(&[2.0], blt(BltMode::Global, 0.5, 0.0), None),
        [0]
    );
    assert_eq!(
        preset_starts(&[2.0, 2.0], blt(BltMode::Monotonic, 0.5, 0.0), None),
        [0, 1]
    );
    assert_eq!(
        preset_starts(&[], blt(BltMode::Global, 0.5, 0.0), None),
        Vec::<u64>::new()
    );
    // Float32 comparison: the next double above BLT's default threshold rounds to the
    // same float32, so it does not exceed it.
    let th = 1.335442066192627f64;
    let e = [0.0, th.next_up(), 2.0 * th, 0.0];
    assert_eq!(
        preset_starts(&e, blt(BltMode::Global, th, 0.0), None),
        [0, 1, 3]
    );
    // NaN never fires.
    let e = [0.0, f64::NAN, 9.0, 0.0];
    assert_eq!(
        preset_starts(&e, blt(BltMode::Global, 0.5, 0.0), None),
        [0, 1, 3]
    );
}

#[test]
fn entrope_preset_hand_checked_cases() {
    let g = |q| Preset::Entrope {
        mode: EntropeMode::Global,
        quantile: q,
    };
    // Median 0.3: starts at p where e[p-1] > 0.3.
    let e = [0.1, 0.4, 0.3, 0.9, 0.2];
    assert_eq!(preset_starts(&e, g(0.5), None), [0, 2, 4]);
    // q = 0.3 interpolates between 0.2 and 0.3 (about 0.22).
    assert_eq!(preset_starts(&e, g(0.3), None), [0, 2, 3, 4]);
    assert_eq!(preset_starts(&e, g(0.3), Some(1)), [0, 1, 2, 3, 4]);
    // Monotonic: always 1; quantile of the increases [0.5,-0.25,0.75,-0.875,0.5] is 0.5.
    let m = Preset::Entrope {
        mode: EntropeMode::Monotonic,
        quantile: 0.5,
    };
    let e = [0.0, 0.5, 0.25, 1.0, 0.125, 0.625];
    assert_eq!(preset_starts(&e, m, None), [0, 1, 4]);
    assert_eq!(preset_starts(&[1.0], m, None), [0]);
    // NaN makes the quantile NaN: only forced starts remain.
    let e = [0.0, 0.5, f64::NAN, 1.0];
    assert_eq!(preset_starts(&e, m, None), [0, 1]);
    assert_eq!(preset_starts(&e, g(0.5), None), [0]);
}

#[test]
fn torch_quantile_matches_linear_interpolation() {
    let x = [3.0f32, 1.0, 2.0, 10.0];
    assert_eq!(torch_quantile_f32(&x, 0.0), Some(1.0));
    assert_eq!(torch_quantile_f32(&x, 1.0), Some(10.0));
    assert_eq!(torch_quantile_f32(&x, 0.5), Some(2.5));
    assert_eq!(torch_quantile_f32(&[], 0.5), None);
}

#[test]
fn bad_rules_are_typed_errors_naming_the_value() {
    let base = Rules {
        threshold: Some(1.0),
        ..Rules::default()
    };
    let cases: Vec<(Rules, &str)> = vec![
        (Rules { min_len: 0, ..base }, "min_len must be >= 1, got 0"),
        (
            Rules {
                max_len: Some(0),
                ..base
            },
            "max_len must be >= 1, got 0",
        ),
        (
            Rules {
                min_len: 5,
                max_len: Some(3),
                ..base
            },
            "min_len=5 > max_len=3",
        ),
        (
            Rules {
                threshold: Some(f64::NAN),
                ..base
            },
            "threshold must be a finite number",
        ),
        (
            Rules {
                target_len: Some(4.0),
                ..base
            },
            "either threshold or target_len",
        ),
        (
            Rules {
                threshold: None,
                target_len: Some(100.0),
                max_len: Some(10),
                ..base
            },
            "[1, 10], got 100",
        ),
        (
            Rules {
                relative: Some(0.1),
                ..base
            },
            "combine='and' or combine='or'",
        ),
        (
            Rules {
                combine: Some(Combine::And),
                ..base
            },
            "combine applies only",
        ),
        (
            Rules {
                threshold: None,
                ..base
            },
            "no rule given",
        ),
        (
            Rules {
                threshold: None,
                preset: Some(Preset::Entrope {
                    mode: EntropeMode::Global,
                    quantile: 1.5,
                }),
                ..base
            },
            "quantile must be in [0, 1], got 1.5",
        ),
        (
            Rules {
                threshold: None,
                min_len: 2,
                preset: Some(blt(BltMode::Global, 1.0, 0.0)),
                ..base
            },
            "min_len must be 1",
        ),
    ];
    for (rules, message) in cases {
        let e = rules.validate().unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::InvalidParameter);
        assert!(
            e.message().contains(message),
            "{} !~ {message}",
            e.message()
        );
    }
}

#[test]
fn send_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<RuleEngine>();
    assert_send_sync::<Rules>();
}

/// Scores for the relative-count tests: tie-heavy (a few levels) or continuous, some NaN.
fn long_scores_strategy() -> impl Strategy<Value = Vec<f64>> {
    (any::<u64>(), 200usize..4000, 2u32..40, any::<bool>()).prop_map(|(seed, n, levels, nan)| {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                let u = crate::util::testing::lcg_uniform(&mut x);
                if nan && u < 0.01 {
                    f64::NAN
                } else if levels < 30 {
                    (u * levels as f64).floor() / levels as f64
                } else {
                    u
                }
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// The count relative to a reference scan equals a full scan at every threshold in
    /// the bracket, ties broken at any cut, with and without hard lengths and the
    /// relative rule (combined by `Or` and by `And`); a moved reference is the scan at
    /// its threshold.
    #[test]
    fn counts_relative_to_a_reference_scan_are_exact(
        s in long_scores_strategy(),
        min_len in 1usize..6,
        max_extra in prop::option::of(0usize..40),
        relative in prop::option::of(0u8..4),
        at in 0.0f64..1.0,
        width in 0.0f64..0.5,
        probes in prop::collection::vec((0.0f64..1.0, any::<u64>()), 1..12),
        moves in prop::collection::vec((0.0f64..1.0, any::<u64>()), 1..6),
        and in any::<bool>(),
    ) {
        let rules = Rules {
            target_len: Some(8.0),
            min_len,
            max_len: max_extra.map(|e| min_len + 1 + e),
            relative: relative.map(|r| r as f64 / 8.0),
            combine: relative.map(|_| if and { Combine::And } else { Combine::Or }),
            ..Rules::default()
        };
        prop_assume!(rules.validate().is_ok());
        let (lo, hi) = ((at - width).max(0.0), (at + width).min(1.0));
        let reference = Reference::scan(&s, &rules, Threshold::above(at)).bracket(lo, hi);
        for (u, cut) in probes {
            let th = Threshold { value: lo + u * (hi - lo), tie_cut: cut >> 1 };
            prop_assert_eq!(reference.count(th), Some(count_segments(&s, &rules, th)));
            // A score value itself, the case ties and thresholds meet.
            let v = s[(cut % s.len() as u64) as usize];
            if v >= lo && v <= hi {
                let th = Threshold { value: v, tie_cut: cut };
                prop_assert_eq!(reference.count(th), Some(count_segments(&s, &rules, th)));
            }
        }
        prop_assert_eq!(reference.count(Threshold::above(hi + 0.1)), None);
        // The same bracket collected in one pass with the scan; moved from threshold to
        // threshold it is the scan at each, start for start (forced splits marked), and
        // its segments are the engine's, reasons included.
        let mut moving = Reference::scan_collect(&s, &rules, Threshold::above(at), lo, hi);
        prop_assert_eq!(&moving.starts, &reference.starts);
        prop_assert_eq!(&moving.cand, &reference.cand);
        for (u, cut) in moves {
            let v = s[(cut % s.len() as u64) as usize];
            let value = if v >= lo && v <= hi { v } else { lo + u * (hi - lo) };
            let th = Threshold { value, tie_cut: cut >> 1 };
            moving = moving.moved_to(th);
            prop_assert_eq!(&moving.starts, &Reference::scan(&s, &rules, th).starts);
            prop_assert_eq!(moving.segments_out(), engine_segments(&s, &rules, th));
            // A move between tie cuts of one value (the range of scores that can fire
            // differently is that single value).
            let th = Threshold { value, tie_cut: cut.rotate_left(17) };
            moving = moving.moved_to(th);
            prop_assert_eq!(&moving.starts, &Reference::scan(&s, &rules, th).starts);
        }
    }
}

/// The segments a fixed threshold gives, from the streaming engine (the path every
/// other pass is tested against).
fn engine_segments(s: &[f64], rules: &Rules, th: Threshold) -> Vec<Segment> {
    let mut e = RuleEngine::new(*rules, Some(th)).unwrap();
    let mut out = Vec::new();
    e.push(s, &mut out);
    e.finish(&mut out);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// The sampled calibration, whenever it answers, cuts exactly where the engine does
    /// at the threshold it reports, and (without max_len, where counts are monotone)
    /// meets the target as well as the general search.
    #[test]
    fn sampled_calibration_equals_the_general_search(
        s in long_scores_strategy(),
        min_len in 1usize..5,
        target in 2.0f64..24.0,
        max_extra in prop::option::of(0usize..30),
        relative in prop::option::of(0u8..4),
    ) {
        let rules = Rules {
            target_len: Some(target.max(min_len as f64)),
            min_len,
            max_len: max_extra.map(|e| (target.ceil() as usize).max(min_len) + 1 + e),
            relative: relative.map(|r| r as f64 / 8.0),
            combine: relative.map(|_| Combine::Or),
            ..Rules::default()
        };
        prop_assume!(rules.validate().is_ok());
        let sampling = sampled::Sampling { chunks: 8, fraction: 1 };
        if let Some((segs, th)) = sampled::calibrated_segments(&s, &rules, sampling) {
            prop_assert_eq!(&segs, &engine_segments(&s, &rules, th));
            let n = s.len() as f64;
            let objective = |c: usize| (n / c.max(1) as f64 - rules.target_len.unwrap()).abs();
            let general = break_ties(
                &s,
                &rules,
                best_distinct_threshold(&s, &rules).unwrap().0,
                rules.target_len.unwrap(),
                None,
            );
            let general_count = engine_segments(&s, &rules, general).len();
            if rules.max_len.is_none() {
                prop_assert!(
                    objective(segs.len()) <= objective(general_count) + 1e-9,
                    "sampled {} general {}", segs.len(), general_count
                );
            }
        }
    }
}

#[test]
fn long_series_take_the_sampled_calibration_and_meet_the_target() {
    // A slowly drifting, tie-heavy score (rounded to 1/64) over 300,000 positions.
    let mut x = 0x5EED_u64;
    let mut level = 0.5f64;
    let s: Vec<f64> = (0..300_000)
        .map(|_| {
            let u = crate::util::testing::lcg_uniform(&mut x);
            level = (level + 0.01 * (u - 0.5)).clamp(0.2, 0.8);
            ((level + 0.2 * u) * 64.0).round() / 64.0
        })
        .collect();
    for (min_len, max_len, target) in [(1, None, 16.0), (4, Some(64), 16.0), (2, Some(20), 8.0)] {
        let rules = Rules {
            target_len: Some(target),
            min_len,
            max_len,
            ..Rules::default()
        };
        let (segs, th) = sampled::calibrated_segments(&s, &rules, sampled::Sampling::DEFAULT)
            .expect("a homogeneous series is bracketed by its sample");
        assert_eq!(segs, engine_segments(&s, &rules, th));
        let mean = s.len() as f64 / segs.len() as f64;
        assert!(
            (mean - target).abs() < 0.01,
            "{min_len} {max_len:?}: mean {mean}"
        );
        // The public path takes it.
        assert_eq!(segment_scores(&s, &rules).unwrap(), segs);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// The online controller, through its warm-up and its block mode, gives the same
    /// segments for any chunking, with checkpoints taken anywhere (mid-block included).
    #[test]
    fn online_block_mode_is_chunk_and_checkpoint_invariant(
        s in long_scores_strategy(),
        target in 2.0f64..10.0,
        min_len in 1usize..4,
        max_extra in prop::option::of(0usize..30),
        cuts in prop::collection::vec(0usize..4000, 0..8),
    ) {
        let rules = Rules {
            target_len: Some(target.max(min_len as f64)),
            calibration: Calibration::Online,
            min_len,
            max_len: max_extra.map(|e| (target.ceil() as usize).max(min_len) + 1 + e),
            ..Rules::default()
        };
        prop_assume!(rules.validate().is_ok());
        let mut cuts = cuts;
        cuts.sort_unstable();
        let one = run_chunked(&s, &rules, None, &[]);
        prop_assert_eq!(run_chunked(&s, &rules, None, &cuts), one.clone());
        prop_assert_eq!(one.iter().map(|g| g.len).sum::<u64>(), s.len() as u64);
    }
}

#[test]
fn online_controller_meets_the_target_in_the_long_run() {
    // A stationary score with slow swings (an AR(1) process): the block controller's
    // integral keeps the long-run start rate at 1 / target_len.
    let mut x = 0x0DDB_1A5E_5BAD_5EEDu64;
    let mut v = 0.0f64;
    let s: Vec<f64> = (0..400_000)
        .map(|_| {
            let u = crate::util::testing::lcg_uniform(&mut x);
            v = 0.99 * v + (u - 0.5);
            v
        })
        .collect();
    for (target, min_len, max_len) in [(16.0, 4, Some(64)), (8.0, 1, None), (40.0, 2, Some(200))] {
        let rules = Rules {
            target_len: Some(target),
            calibration: Calibration::Online,
            min_len,
            max_len,
            ..Rules::default()
        };
        let segs = run_chunked(&s, &rules, None, &[]);
        let mean = s.len() as f64 / segs.len() as f64;
        assert!(
            (mean / target - 1.0).abs() < 0.01,
            "target {target}: mean {mean}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// The sorted bucket numbers of short series give the cumulative histogram's counts
    /// at every edge (NaN and infinite scores left out by both).
    #[test]
    fn above_edges_sorted_equals_cumulative(
        scores in proptest::collection::vec(
            prop_oneof![8 => -5.0f64..5.0, 1 => Just(f64::NAN), 1 => Just(f64::INFINITY), 1 => Just(0.25)],
            0..300),
        buckets in 1usize..600,
    ) {
        let (lo, hi) = finite_range(&scores);
        let width = if hi > lo { (hi - lo) / buckets as f64 } else { 0.0 };
        let lo = if lo.is_finite() { lo } else { 0.0 };
        let cumulative = AboveEdges::new(&scores, lo, width, buckets, false);
        let sorted = AboveEdges::new(&scores, lo, width, buckets, true);
        for k in 0..=buckets {
            prop_assert_eq!(cumulative.at(k), sorted.at(k), "k = {}", k);
        }
    }
}

#[test]
fn extreme_score_ranges_fall_back_to_the_general_search() {
    // Scores spanning most of f64 (their range overflows): the sampled path declines and
    // the general search answers, without a panic.
    let mut x = 0xC0FFEEu64;
    let s: Vec<f64> = (0..40_000)
        .map(|i| {
            let u = crate::util::testing::lcg_uniform(&mut x);
            if i % 1000 == 0 {
                [f64::MAX, -f64::MAX][(i / 1000) % 2]
            } else {
                u
            }
        })
        .collect();
    let rules = Rules {
        target_len: Some(8.0),
        min_len: 2,
        max_len: Some(40),
        ..Rules::default()
    };
    assert!(sampled::calibrated_segments(&s, &rules, sampled::Sampling::DEFAULT).is_none());
    let th = calibrate_threshold(&s, &rules).unwrap();
    assert_eq!(
        segment_scores(&s, &rules).unwrap(),
        engine_segments(&s, &rules, th)
    );
}

#[test]
fn an_inconsistent_online_controller_in_a_checkpoint_is_refused() {
    let rules = Rules {
        target_len: Some(4.0),
        calibration: Calibration::Online,
        ..Rules::default()
    };
    let s: Vec<f64> = (0..1000).map(|i| ((i * 37) % 101) as f64 / 101.0).collect();
    let mut engine = RuleEngine::new(rules, None).unwrap();
    let mut out = Vec::new();
    engine.push(&s[..999], &mut out); // past the warm-up, mid-block
    assert!(engine.controller.unwrap().block);
    engine.controller.as_mut().unwrap().block_starts = 1000; // more starts than positions
    let mut w = Writer::new("t");
    engine.write_state(&mut w);
    let bytes = w.finish();
    let mut r = Reader::open(&bytes, "t").unwrap();
    let err = RuleEngine::read_state(&mut r).unwrap_err();
    assert!(
        err.message().contains("inconsistent online controller"),
        "{err:?}"
    );
}

/// Series of a ragged batch: `offsets` from the lengths.
fn batch_offsets(lens: &[usize]) -> Vec<usize> {
    std::iter::once(0)
        .chain(lens.iter().scan(0, |acc, &l| {
            *acc += l;
            Some(*acc)
        }))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// The shared threshold is the best one for the budget: never worse than any distinct
    /// threshold (brute force with the reference, series by series; ties can only help)
    /// when counts are monotone (no max_len); every hard limit holds per series; the
    /// batch's segments are each series cut alone with that threshold.
    #[test]
    fn budget_calibration_finds_the_best_shared_threshold(
        parts in prop::collection::vec(scores_strategy(), 1..5),
        min_len in 1usize..4,
        max_extra in prop::option::of(0usize..10),
        budget in 1u64..120,
    ) {
        let rules = Rules {
            budget: Some(budget),
            min_len,
            max_len: max_extra.map(|e| min_len + e),
            ..Rules::default()
        };
        let lens: Vec<usize> = parts.iter().map(Vec::len).collect();
        let offsets = batch_offsets(&lens);
        let scores = parts.concat();
        let th = calibrate_budget(&scores, &offsets, &rules).unwrap();
        let total = |th: Threshold| -> f64 {
            parts.iter().map(|p| reference_ties(p, &rules, Some(th)).len()).sum::<usize>() as f64
        };
        let objective = |c: f64| (c - budget as f64).abs();
        let got = objective(total(th));
        let mut thresholds: Vec<f64> = scores.iter().copied().filter(|v| v.is_finite()).collect();
        thresholds.push(f64::INFINITY);
        thresholds.push(f64::NEG_INFINITY);
        let best = thresholds
            .iter()
            .map(|&t| objective(total(Threshold::above(t))))
            .fold(f64::INFINITY, f64::min);
        if rules.max_len.is_none() {
            prop_assert!(got <= best, "got {} best {}", got, best);
        } else {
            prop_assert!(got <= objective(total(Threshold::above(f64::INFINITY))));
        }
        for p in &parts {
            let segs = engine_segments(p, &rules, th);
            let want = to_segments(&reference_ties(p, &rules, Some(th)), p.len() as u64);
            prop_assert_eq!(&segs, &want);
            for (i, g) in segs.iter().enumerate() {
                if let Some(m) = rules.max_len {
                    prop_assert!(g.len <= m as u64);
                }
                if i + 1 < segs.len() {
                    prop_assert!(g.len >= rules.min_len as u64);
                }
            }
        }
        // One series is a batch of one: segment_scores calibrates the budget over it.
        let alone = segment_scores(&parts[0], &rules).unwrap();
        let th0 = calibrate_budget(&parts[0], &[0, parts[0].len()], &rules).unwrap();
        prop_assert_eq!(alone, engine_segments(&parts[0], &rules, th0));
    }
}

#[test]
fn a_shared_budget_is_met_on_mixed_series_and_goes_where_the_information_is() {
    // A batch of mixed series: noise-like scores spread over [0, 1], a flat series with
    // rare bursts, one with heavy ties (a few distinct values), and a short one.
    let mut state = 7u64;
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let rich: Vec<f64> = (0..4000).map(|_| next()).collect();
    let flat: Vec<f64> = (0..3000)
        .map(|t| if t % 97 == 0 { 0.9 } else { 0.05 * next() })
        .collect();
    let tied: Vec<f64> = (0..2500).map(|_| (next() * 4.0).floor() / 4.0).collect();
    let short: Vec<f64> = (0..40).map(|_| next()).collect();
    let parts = [rich, flat, tied, short];
    let lens: Vec<usize> = parts.iter().map(Vec::len).collect();
    let offsets = batch_offsets(&lens);
    let scores = parts.concat();
    for (min_len, max_len) in [(1, None), (2, Some(64)), (4, Some(200))] {
        for budget in [300u64, 800, 1500] {
            let rules = Rules {
                budget: Some(budget),
                min_len,
                max_len,
                ..Rules::default()
            };
            let th = calibrate_budget(&scores, &offsets, &rules).unwrap();
            let counts: Vec<usize> = parts
                .iter()
                .map(|p| engine_segments(p, &rules, th).len())
                .collect();
            let total: usize = counts.iter().sum();
            let off = (total as f64 / budget as f64 - 1.0).abs();
            assert!(off <= 0.02, "{min_len} {max_len:?} {budget}: {counts:?}");
            // The rich series gets more segments per sample than the flat one.
            assert!(
                counts[0] as f64 / 4000.0 > counts[1] as f64 / 3000.0,
                "{counts:?}"
            );
        }
    }
}

#[test]
fn budget_excludes_the_other_threshold_settings() {
    let base = Rules {
        budget: Some(10),
        ..Rules::default()
    };
    let cases = [
        (
            Rules {
                target_len: Some(8.0),
                ..base
            },
            "give either budget (the total number of segments of the batch, got 10) or \
             target_len (a mean length per series, got 8), not both",
        ),
        (
            Rules {
                threshold: Some(0.5),
                ..base
            },
            "give either threshold (got 0.5) or budget (got 10)",
        ),
        (
            Rules {
                calibration: Calibration::Online,
                ..base
            },
            "calibration='online' does not apply",
        ),
        (
            Rules {
                budget: Some(0),
                ..base
            },
            "budget must be >= 1, got 0",
        ),
    ];
    for (rules, want) in cases {
        let e = rules.validate().unwrap_err();
        assert!(e.message().contains(want), "{:?}", e.message());
    }
}

/// Scores for the forced-split search: a few levels (ties), both zeros, both infinities
/// and NaN.
fn split_scores_strategy() -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(
        prop_oneof![
            6 => (0u8..6).prop_map(|v| v as f64 / 4.0),
            1 => Just(0.0),
            1 => Just(-0.0),
            1 => Just(f64::NEG_INFINITY),
            1 => Just(f64::INFINITY),
            2 => Just(f64::NAN),
        ],
        1..400,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// The online controller's block statistics: both kernels give the same bits (so a
    /// stream is cut the same on every CPU), and they are the sum, the absolute
    /// deviation and the count of the finite scores.
    #[test]
    fn block_moments_kernels_agree_and_sum_the_finite_scores(
        v in prop::collection::vec(
            prop_oneof![
                8 => -1e6f64..1e6,
                1 => Just(f64::NAN),
                1 => Just(f64::INFINITY),
                1 => Just(f64::NEG_INFINITY),
                1 => Just(0.0f64),
                1 => Just(-0.0f64),
            ],
            CONTROL_BLOCK,
        ),
        mean in -1e3f64..1e3,
    ) {
        let (sum, dev, finite) = block_moments_portable(&v, mean);
        let ok: Vec<f64> = v.iter().copied().filter(|s| s.is_finite()).collect();
        prop_assert_eq!(finite as usize, ok.len());
        let want_sum: f64 = ok.iter().sum();
        let want_dev: f64 = ok.iter().map(|s| (s - mean).abs()).sum();
        let scale = ok.iter().map(|s| s.abs() + mean.abs()).sum::<f64>().max(1.0);
        prop_assert!((sum - want_sum).abs() <= 1e-12 * scale, "{} vs {}", sum, want_sum);
        prop_assert!((dev - want_dev).abs() <= 1e-12 * scale, "{} vs {}", dev, want_dev);
        prop_assert_eq!(block_moments(&v, mean).0.to_bits(), sum.to_bits());
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: AVX2 is there (checked just above).
            let (s2, d2, f2) = unsafe { block_moments_avx2(&v, mean) };
            prop_assert_eq!((s2.to_bits(), d2.to_bits(), f2), (sum.to_bits(), dev.to_bits(), finite));
        }
    }

    /// The fused scan-and-statistics kernel of a whole control block: its firing bits
    /// are the plain `> theta` comparisons (NaN never fires, nothing fires under a NaN
    /// threshold) and its statistics are `block_moments`' bit for bit, on every path.
    #[test]
    fn block_bits_moments_is_the_scan_and_the_moments(
        v in prop::collection::vec(
            prop_oneof![
                6 => (0u8..6).prop_map(|v| v as f64 / 4.0),
                4 => -1e6f64..1e6,
                1 => Just(f64::NAN),
                1 => Just(f64::INFINITY),
                1 => Just(f64::NEG_INFINITY),
                1 => Just(0.0f64),
                1 => Just(-0.0f64),
            ],
            CONTROL_BLOCK,
        ),
        theta in prop_oneof![
            4 => (0u8..6).prop_map(|v| v as f64 / 4.0),
            1 => Just(f64::NAN),
            1 => Just(f64::INFINITY),
            1 => Just(f64::NEG_INFINITY),
            1 => Just(-0.0f64),
        ],
        mean in -1e3f64..1e3,
    ) {
        let want = fused_want(&v, theta, mean);
        let want_bits = want.0;
        let bits_of = fused_bits;
        prop_assert_eq!(bits_of(block_bits_moments(&v, theta, mean)), want);
        prop_assert_eq!(above_bits(&v, theta), want_bits);
        prop_assert_eq!(above_bits_sse2(&v, theta), want_bits);
        // A short last block takes the SSE2 path.
        let short = &v[..CONTROL_BLOCK - 3];
        prop_assert_eq!(above_bits(short, theta), want_bits & (u64::MAX >> 3));
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: AVX2 is there (checked just above).
            prop_assert_eq!(bits_of(unsafe { block_bits_moments_avx2(&v, theta, mean) }), want);
        }
    }

    /// The fused kernel's pass for a block of finite scores (the common case, with no
    /// finiteness masks) against the masked portable sums, bit for bit; at most one
    /// non-finite score (at any place) sends it to the masked pass.
    #[test]
    fn block_bits_moments_of_finite_blocks(
        v in prop::collection::vec(
            prop_oneof![
                6 => (0u8..6).prop_map(|v| v as f64 / 4.0),
                4 => -1e6f64..1e6,
                1 => Just(0.0f64),
                1 => Just(-0.0f64),
                1 => Just(f64::MAX),
                1 => Just(-f64::MAX),
            ],
            CONTROL_BLOCK,
        ),
        theta in (0u8..6).prop_map(|v| v as f64 / 4.0),
        mean in -1e3f64..1e3,
        hole in prop::option::of((0usize..CONTROL_BLOCK, prop_oneof![
            Just(f64::NAN), Just(f64::INFINITY), Just(f64::NEG_INFINITY)
        ])),
    ) {
        let mut v = v;
        if let Some((i, x)) = hole {
            v[i] = x;
        }
        let want = fused_want(&v, theta, mean);
        let bits_of = fused_bits;
        prop_assert_eq!(bits_of(block_bits_moments(&v, theta, mean)), want);
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: AVX2 is there (checked just above).
            prop_assert_eq!(bits_of(unsafe { block_bits_moments_avx2(&v, theta, mean) }), want);
        }
    }

    /// The bracket and tie masks: `range_bits` is the plain closed-range filter (NaN
    /// never in it) on whole and short blocks, and `tie_bits` marks exactly the scores
    /// equal to the threshold that fire by their tie rank.
    #[test]
    fn range_and_tie_bits_are_plain_filters(
        v in prop::collection::vec(
            prop_oneof![
                6 => (0u8..6).prop_map(|v| v as f64 / 4.0),
                1 => Just(f64::NAN),
                1 => Just(f64::INFINITY),
                1 => Just(f64::NEG_INFINITY),
                1 => Just(-0.0f64),
            ],
            CONTROL_BLOCK,
        ),
        lo in 0u8..6,
        width in 0u8..3,
        cut in any::<u64>(),
        base in any::<u32>(),
        short in 0usize..64,
    ) {
        let (lo, hi) = (lo as f64 / 4.0, (lo + width) as f64 / 4.0);
        for block in [&v[..], &v[..short]] {
            let want = (0..block.len())
                .filter(|&i| block[i] >= lo && block[i] <= hi)
                .fold(0u64, |b, i| b | 1 << i);
            prop_assert_eq!(range_bits(block, lo, hi), want);
            let rules = Rules { min_len: 1, ..Rules::default() };
            let scan = Scan::new(&rules, Some(Threshold { value: lo, tie_cut: cut }));
            let base = base as u64;
            let ties = (0..block.len())
                .filter(|&i| block[i] == lo && tie_rank(base + i as u64) < cut)
                .fold(0u64, |b, i| b | 1 << i);
            prop_assert_eq!(tie_bits(block, f64::NAN, &scan, base), ties);
        }
    }

    /// The bracket's values sorted as integer keys: the `total_cmp` order, bit for bit.
    #[test]
    fn sort_total_is_the_total_order(
        v in prop::collection::vec(
            prop_oneof![
                4 => -1e3f64..1e3,
                4 => (0u8..6).prop_map(|v| v as f64 / 4.0),
                1 => Just(0.0f64),
                1 => Just(-0.0f64),
                1 => Just(f64::INFINITY),
                1 => Just(f64::NEG_INFINITY),
                1 => Just(f64::NAN),
                1 => Just(-f64::NAN),
            ],
            0..300,
        ),
    ) {
        let mut want = v.clone();
        want.sort_by(f64::total_cmp);
        let mut got = v;
        sampled::sort_total(&mut got);
        let bits = |x: &[f64]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        prop_assert_eq!(bits(&got), bits(&want));
    }

    /// The bracket's values above `lo` as runs of equal bits: the plain sort in
    /// `total_cmp` order, run-length encoded, whether the hash table holds them (few
    /// distinct values, growing from 1024 slots), or gives up for the sort (mostly
    /// distinct, past 4096); signed zeros, infinities and NaN included.
    #[test]
    fn value_runs_are_the_sorted_values_run_length_encoded(
        levels in prop_oneof![1u32..50, 1000u32..5000, Just(1u32 << 30)],
        n in prop_oneof![0usize..300, 300usize..40_000],
        specials in prop::collection::vec(
            prop_oneof![
                Just(0.0f64),
                Just(-0.0f64),
                Just(f64::INFINITY),
                Just(f64::NEG_INFINITY),
                Just(f64::NAN),
                Just(-f64::NAN),
            ],
            0..20,
        ),
        seed in any::<u64>(),
        lo in prop_oneof![Just(f64::NEG_INFINITY), -0.5f64..0.5],
    ) {
        let mut x = seed | 1;
        let mut near: Vec<[f64; 2]> = (0..n)
            .map(|_| {
                let u = crate::util::testing::lcg_uniform(&mut x);
                [(u * levels as f64).floor() / levels as f64 - 0.25, 0.0]
            })
            .collect();
        for (k, &v) in specials.iter().enumerate() {
            let at = (k * 7919) % (near.len() + 1);
            near.insert(at, [v, 1.0]);
        }
        let mut values: Vec<f64> = near.iter().map(|p| p[0]).filter(|&v| v > lo).collect();
        values.sort_by(f64::total_cmp);
        let mut want: Vec<(u64, usize)> = Vec::new();
        for v in values {
            match want.last_mut() {
                Some(last) if last.0 == v.to_bits() => last.1 += 1,
                _ => want.push((v.to_bits(), 1)),
            }
        }
        let got: Vec<(u64, usize)> = sampled::value_runs(&near, lo)
            .into_iter()
            .map(|(v, c)| (v.to_bits(), c))
            .collect();
        prop_assert_eq!(got, want);
    }

    /// The forced-split kernels on short slices (the one-word mask path of at most 64
    /// scores, and just past it): the latest highest score, NaN lowest, `None` when
    /// every score is NaN or `-inf`.
    #[test]
    fn latest_max_of_short_windows(
        s in prop::collection::vec(
            prop_oneof![
                6 => (0u8..6).prop_map(|v| v as f64 / 4.0),
                1 => Just(0.0),
                1 => Just(-0.0),
                1 => Just(f64::NEG_INFINITY),
                1 => Just(f64::INFINITY),
                2 => Just(f64::NAN),
            ],
            1..72,
        ),
    ) {
        let key = |v: f64| if v.is_nan() { f64::NEG_INFINITY } else { v };
        let best = s.iter().copied().map(key).fold(f64::NEG_INFINITY, f64::max);
        let want = if best == f64::NEG_INFINITY {
            None
        } else {
            s.iter().rposition(|&v| key(v) == best)
        };
        prop_assert_eq!(latest_max_portable(&s), want);
        prop_assert_eq!(latest_max(&s), want);
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: AVX2 is there (checked just above).
            prop_assert_eq!(unsafe { latest_max_avx2(&s) }, want);
        }
    }

    /// The vectorised forced-split search is the rule as written: the highest score in
    /// `from..=to`, NaN lowest, the latest on ties (the two zeros are equal), `to` when
    /// every score there is NaN or `-inf`; the same when the window starts in the
    /// history ring of a streaming engine.
    #[test]
    fn best_split_is_the_latest_highest_score(
        s in split_scores_strategy(),
        a in any::<u64>(),
        b in any::<u64>(),
        base in any::<u64>(),
    ) {
        let n = s.len() as u64;
        let (from, to) = {
            let (x, y) = (a % n, b % n);
            (x.min(y), x.max(y))
        };
        let key = |v: f64| if v.is_nan() { f64::NEG_INFINITY } else { v };
        let mut want = to;
        let mut best = f64::NEG_INFINITY;
        for p in from..=to {
            if key(s[p as usize]) > best || (key(s[p as usize]) == best && best > f64::NEG_INFINITY) {
                best = key(s[p as usize]);
                want = p;
            }
        }
        prop_assert_eq!(Window::whole(&s).best_split(from, to), want);
        // Both kernels, whichever the CPU takes.
        let piece = &s[from as usize..=to as usize];
        let kernel = |i: Option<usize>| i.map_or(to, |i| from + i as u64);
        prop_assert_eq!(kernel(latest_max_portable(piece)), want);
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: AVX2 is there (checked just above).
            prop_assert_eq!(kernel(unsafe { latest_max_avx2(piece) }), want);
        }
        // The scores before `split` held in a ring (power-of-two capacity, positions
        // modulo it), the rest as the current block.
        let split = from + base % (to - from + 1);
        let cap = (split as usize).next_power_of_two().max(1);
        let mut ring = vec![f64::NAN; cap];
        for p in 0..split {
            ring[(p % cap as u64) as usize] = s[p as usize];
        }
        let window = Window { ring: &ring, block: &s[split as usize..], base: split };
        prop_assert_eq!(window.best_split(from, to), want);
    }

    /// The bracket filter of a move yields exactly the indices whose score lies in the
    /// closed range, in order.
    #[test]
    fn in_value_range_is_a_filter(
        s in split_scores_strategy(),
        lo in 0u8..6,
        width in 0u8..3,
    ) {
        let near: Vec<[f64; 2]> = s.iter().map(|&v| [v, 0.0]).collect();
        let (lo, hi) = (lo as f64 / 4.0, (lo + width) as f64 / 4.0);
        let want: Vec<usize> = (0..s.len()).filter(|&i| s[i] >= lo && s[i] <= hi).collect();
        prop_assert_eq!(in_value_range(&near, lo, hi).collect::<Vec<_>>(), want);
    }
}

/// What the fused block kernel must give for `v`: the firing bits of the threshold rule
/// as written and the portable block sums, as bits ([`fused_bits`]).
fn fused_want(v: &[f64], theta: f64, mean: f64) -> (u64, (u64, u64, u32)) {
    let bits = (0..CONTROL_BLOCK)
        .filter(|&i| v[i] > theta)
        .fold(0u64, |b, i| b | 1 << i);
    fused_bits((bits, block_moments_portable(v, mean)))
}

/// A fused kernel's result with its sums as bit patterns (compared bit for bit).
fn fused_bits((b, (s, d, f)): (u64, (f64, f64, u32))) -> (u64, (u64, u64, u32)) {
    (b, (s.to_bits(), d.to_bits(), f))
}
