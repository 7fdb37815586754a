use super::*;
use crate::plan::merge::MergeLevel;
use proptest::prelude::*;

/// The parts of a stream joined into the plan of one series (stream-wide ids).
fn join(parts: &[StreamPlan], levels: usize) -> MergePlan {
    let mut out: Vec<MergeLevel> = (0..levels)
        .map(|_| MergeLevel {
            cu_seqlens: vec![0],
            series_offsets: vec![0, 0],
            block_offsets: vec![0, 0],
            ..MergeLevel::default()
        })
        .collect();
    for part in parts {
        assert_eq!(part.plan.levels.len(), levels);
        for (l, (o, p)) in out.iter_mut().zip(&part.plan.levels).enumerate() {
            let g0 = part.first_groups[l] as i32;
            // group_ids at level l index the previous level's groups: ids here are of
            // this level, so both shift by this level's first group.
            o.group_ids.extend(p.group_ids.iter().map(|&g| g + g0));
            o.source.extend(p.source.iter().map(|&g| g + g0));
            o.sizes.extend_from_slice(&p.sizes);
            o.log_sizes.extend_from_slice(&p.log_sizes);
            let u0 = part.first_unit as i32;
            o.cu_seqlens
                .extend(p.cu_seqlens[1..].iter().map(|&c| c + u0));
            o.series_offsets[1] += *p.series_offsets.last().unwrap();
            o.block_offsets[1] += *p.block_offsets.last().unwrap();
            o.requested.extend_from_slice(&p.requested);
            o.achieved.extend_from_slice(&p.achieved);
            o.capacity.extend_from_slice(&p.capacity);
            o.thresholds.extend_from_slice(&p.thresholds);
        }
    }
    MergePlan { levels: out }
}

/// Plans compared with NaN thresholds equal to each other.
fn same(a: &MergePlan, b: &MergePlan) -> bool {
    a.levels.len() == b.levels.len()
        && a.levels.iter().zip(&b.levels).all(|(x, y)| {
            let t = |l: &MergeLevel| l.thresholds.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            MergeLevel {
                thresholds: vec![],
                ..x.clone()
            } == MergeLevel {
                thresholds: vec![],
                ..y.clone()
            } && t(x) == t(y)
        })
}

fn schedules() -> impl Strategy<Value = Schedule> {
    prop_oneof![
        (-0.6f64..0.2, 1usize..4)
            .prop_map(|(threshold, levels)| Schedule::Threshold { threshold, levels }),
        (prop::option::of(-0.5f64..0.0), 0.0f64..0.95, 1usize..4).prop_map(
            |(initial, momentum, levels)| Schedule::Ema {
                initial,
                momentum,
                levels
            }
        ),
        prop::collection::vec(0usize..6, 1..4).prop_map(Schedule::Counts),
        (0.05f64..1.0, 1usize..4).prop_map(|(ratio, levels)| Schedule::Ratio { ratio, levels }),
    ]
}

/// Cuts `n` into chunks at the given fractions.
fn cuts(n: usize, fractions: &[f64]) -> Vec<usize> {
    let mut c: Vec<usize> = fractions.iter().map(|f| (f * n as f64) as usize).collect();
    c.push(0);
    c.push(n);
    c.sort_unstable();
    c
}

/// Streams `vectors` (dim columns) in the given chunks, checkpointing and restoring at
/// `resume_at` (a chunk index), and joins the parts.
fn stream_cosine(
    options: &MergeOptions,
    vectors: &[f32],
    dim: usize,
    weights: &[i64],
    chunks: &[usize],
    resume_at: usize,
) -> MergePlan {
    let mut planner = MergePlanner::new(options.clone(), Similarity::Cosine).unwrap();
    let mut parts = Vec::new();
    for (i, w) in chunks.windows(2).enumerate() {
        if i == resume_at {
            planner = MergePlanner::restore(&planner.checkpoint()).unwrap();
        }
        let f = Features::Cosine {
            vectors: &vectors[w[0] * dim..w[1] * dim],
            dim,
        };
        parts.push(planner.push(f, Some(&weights[w[0]..w[1]])).unwrap());
        assert!(planner.pending() < options.block.unwrap());
    }
    parts.push(planner.finish().unwrap());
    join(&parts, options.schedule.levels())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Streamed = one-shot with the same block, for any chunking and a checkpoint /
    /// restore anywhere, for every schedule.
    #[test]
    fn streamed_cosine_equals_one_shot(
        n in 0usize..90,
        dim in 1usize..10,
        seed in prop::collection::vec(-3i8..4, 360),
        weights in prop::collection::vec(1i64..4, 90),
        block in 2usize..20,
        window in 2usize..9,
        max_size in prop::option::of(2i64..12),
        schedule in schedules(),
        fractions in prop::collection::vec(0.0f64..1.0, 0..6),
        resume in 0usize..8,
    ) {
        let vectors: Vec<f32> = (0..n * dim).map(|i| seed[i % seed.len()] as f32 + (i % 7) as f32 * 0.1).collect();
        let weights = &weights[..n];
        let options = MergeOptions { window, max_size, schedule, strict: false, block: Some(block) };
        let whole = merge_plan(&[0, n as i64], Some(weights), Features::Cosine { vectors: &vectors, dim }, &options).unwrap();
        let chunks = cuts(n, &fractions);
        let streamed = stream_cosine(&options, &vectors, dim, weights, &chunks, resume);
        prop_assert!(same(&whole, &streamed), "streamed {:?}\nwhole {:?}", streamed, whole);
    }

    /// Profile units covering several samples each, streamed in whole units (every
    /// other plan handed back with `recycle`).
    #[test]
    fn streamed_profile_equals_one_shot(
        lengths in prop::collection::vec(1i64..4, 0..60),
        columns in 1usize..10,
        block in 2usize..16,
        window in 2usize..9,
        schedule in schedules(),
        fractions in prop::collection::vec(0.0f64..1.0, 0..6),
        resume in 0usize..8,
    ) {
        let n = lengths.len();
        let samples: i64 = lengths.iter().sum();
        let values: Vec<f64> = (0..samples as usize * columns).map(|i| ((i * 37 % 11) as f64 * 0.1).sin()).collect();
        let options = MergeOptions { window, max_size: None, schedule, strict: false, block: Some(block) };
        let whole = merge_plan(&[0, n as i64], None, Features::Profile { values: &values, columns, unit_lengths: &lengths }, &options).unwrap();
        let chunks = cuts(n, &fractions);
        let mut planner = MergePlanner::new(options.clone(), Similarity::Profile).unwrap();
        let mut parts = Vec::new();
        let row = |u: usize| lengths[..u].iter().sum::<i64>() as usize * columns;
        for (i, w) in chunks.windows(2).enumerate() {
            if i == resume {
                planner = MergePlanner::restore(&planner.checkpoint()).unwrap();
            }
            let f = Features::Profile { values: &values[row(w[0])..row(w[1])], columns, unit_lengths: &lengths[w[0]..w[1]] };
            let part = planner.push(f, None).unwrap();
            // Arrays handed back change where the next plans are written, nothing else.
            if i % 2 == 1 {
                planner.recycle(part.plan.clone());
            }
            parts.push(part);
        }
        parts.push(planner.finish().unwrap());
        let streamed = join(&parts, options.schedule.levels());
        prop_assert!(same(&whole, &streamed), "streamed {:?}\nwhole {:?}", streamed, whole);
    }

    /// A blocked plan is each block planned alone, one after the other.
    #[test]
    fn blocked_plan_is_each_block_alone(
        n in 0usize..70,
        block in 2usize..20,
        window in 2usize..9,
        schedule in schedules(),
    ) {
        let values: Vec<f64> = (0..n).map(|i| ((i * 13 % 17) as f64 * 0.3).cos()).collect();
        let ones = vec![1i64; n];
        let options = MergeOptions { window, max_size: None, schedule, strict: false, block: Some(block) };
        let whole = merge_plan(&[0, n as i64], None, Features::Profile { values: &values, columns: 1, unit_lengths: &ones }, &options).unwrap();
        let alone = MergeOptions { block: None, ..options.clone() };
        let mut parts = Vec::new();
        let mut first_groups = vec![0u64; options.schedule.levels()];
        for a in (0..n).step_by(block) {
            let b = (a + block).min(n);
            let plan = merge_plan(&[0, (b - a) as i64], None, Features::Profile { values: &values[a..b], columns: 1, unit_lengths: &ones[a..b] }, &alone).unwrap();
            let next: Vec<u64> = first_groups.iter().zip(&plan.levels).map(|(g, l)| g + l.sizes.len() as u64).collect();
            parts.push(StreamPlan { first_unit: a as u64, first_groups: std::mem::replace(&mut first_groups, next), plan });
        }
        prop_assert!(same(&whole, &join(&parts, options.schedule.levels())));
    }

    /// The ratio schedule's guarantee: a block whose window allows every merge keeps
    /// exactly ceil(ratio * n) groups, and never fewer.
    #[test]
    fn ratio_per_block(
        n in 1usize..200,
        block in 2usize..40,
        ratio in 0.05f64..1.0,
        levels in 1usize..4,
        window in 2usize..40,
    ) {
        let values: Vec<f64> = (0..n).map(|i| ((i * 7 % 23) as f64 * 0.21).sin()).collect();
        let ones = vec![1i64; n];
        let options = MergeOptions { window, max_size: None, schedule: Schedule::Ratio { ratio, levels }, strict: false, block: Some(block) };
        let plan = merge_plan(&[0, n as i64], None, Features::Profile { values: &values, columns: 1, unit_lengths: &ones }, &options).unwrap();
        let last = plan.levels.last().unwrap();
        let (offsets, _) = crate::plan::merge::split_blocks(&[0, n as i64], block);
        prop_assert_eq!(last.block_offsets.clone(), vec![0, offsets.len() as i64 - 1]);
        // Groups per block at the last level, from the groups' first units.
        let starts = &last.cu_seqlens[..last.cu_seqlens.len() - 1];
        for (k, w) in offsets.windows(2).enumerate() {
            let groups = starts.iter().filter(|&&s| (s as i64) >= w[0] && (s as i64) < w[1]).count() as i64;
            let units = w[1] - w[0];
            let target = ((units as f64 * ratio - 1e-9).ceil() as i64).clamp(1, units);
            let feasible = plan.levels.iter().all(|l| l.achieved[k] >= l.requested[k]);
            prop_assert!(groups >= target);
            if feasible {
                prop_assert_eq!(groups, target, "block {} of {} units", k, units);
            }
            if window >= block && levels == 1 && ratio >= 0.5 {
                // One level can halve a block whose window spans it.
                prop_assert!(feasible, "a window spanning the block allows every merge");
            }
        }
    }
}

#[test]
fn groups_are_final_after_their_block() {
    let options = MergeOptions {
        window: 4,
        max_size: None,
        schedule: Schedule::Threshold {
            threshold: -0.5,
            levels: 2,
        },
        strict: false,
        block: Some(4),
    };
    let mut p = MergePlanner::new(options, Similarity::Profile).unwrap();
    let values = [0.0, 0.0, 1.0, 1.0, 0.0, 0.0];
    let push = |p: &mut MergePlanner, v: &[f64]| {
        p.push(
            Features::Profile {
                values: v,
                columns: 1,
                unit_lengths: &vec![1; v.len()],
            },
            None,
        )
        .unwrap()
    };
    assert_eq!(push(&mut p, &values[..3]).num_units(), 0);
    let out = push(&mut p, &values[3..]);
    assert_eq!((out.first_unit, out.num_units()), (0, 4));
    assert_eq!(out.plan.levels[0].source, [0, 0, 1, 1]);
    assert_eq!(p.pending(), 2);
    assert_eq!(p.groups_emitted(), [2, 2]);
    let last = p.finish().unwrap();
    assert_eq!(
        (last.first_unit, last.first_groups.clone()),
        (4, vec![2, 2])
    );
    assert_eq!(last.plan.levels[0].source, [0, 0]);
    let e = p.push(
        Features::Profile {
            values: &[],
            columns: 1,
            unit_lengths: &[],
        },
        None,
    );
    assert!(e.unwrap_err().message().contains("after finish"));
    p.reset();
    assert_eq!(p.units_seen(), 0);
}

#[test]
fn bad_input_is_refused_and_changes_nothing() {
    let options = MergeOptions {
        window: 4,
        max_size: None,
        schedule: Schedule::Counts(vec![1]),
        strict: false,
        block: None,
    };
    let e = MergePlanner::new(options.clone(), Similarity::Cosine).unwrap_err();
    assert!(e.message().contains("needs block"), "{}", e.message());
    let e = MergePlanner::new(
        MergeOptions {
            block: Some(1),
            ..options.clone()
        },
        Similarity::Cosine,
    )
    .unwrap_err();
    assert!(
        e.message().contains("block must be >= 2"),
        "{}",
        e.message()
    );
    let mut p = MergePlanner::new(
        MergeOptions {
            block: Some(8),
            ..options
        },
        Similarity::Cosine,
    )
    .unwrap();
    p.push(
        Features::Cosine {
            vectors: &[1.0, 2.0],
            dim: 2,
        },
        None,
    )
    .unwrap();
    let before = p.checkpoint();
    let cases: Vec<(Features, Option<&[i64]>, &str)> = vec![
        (
            Features::Cosine {
                vectors: &[1.0, 2.0, 3.0],
                dim: 3,
            },
            None,
            "2 columns",
        ),
        (
            Features::Cosine {
                vectors: &[1.0, f32::NAN],
                dim: 2,
            },
            None,
            "not finite",
        ),
        (
            Features::Cosine {
                vectors: &[1.0, 2.0],
                dim: 2,
            },
            Some(&[0][..]),
            "weights must be >= 1",
        ),
        (
            Features::Cosine {
                vectors: &[1.0, 2.0],
                dim: 2,
            },
            Some(&[1, 1][..]),
            "one entry per unit",
        ),
        (
            Features::Profile {
                values: &[1.0],
                columns: 1,
                unit_lengths: &[1],
            },
            None,
            "vectors (cosine)",
        ),
    ];
    for (f, w, msg) in cases {
        let e = p.push(f, w).unwrap_err();
        assert!(e.message().contains(msg), "{} lacks {msg}", e.message());
        assert_eq!(p.checkpoint(), before);
    }
    // Every truncation and every corrupted byte of a checkpoint is refused cleanly.
    for cut in 0..before.len() {
        assert!(MergePlanner::restore(&before[..cut]).is_err());
    }
}

/// Regression (found by the checkpoint fuzz target): an empty chunk of another width
/// made its width the stream's, so the next chunk of that width joined rows of the old
/// width in one block (a slice panic, or a state that would not restore).
#[test]
fn an_empty_chunk_keeps_the_streams_columns() {
    let options = MergeOptions {
        window: 4,
        max_size: None,
        schedule: Schedule::Threshold {
            threshold: -1.0,
            levels: 1,
        },
        strict: false,
        block: Some(4),
    };
    let mut p = MergePlanner::new(options.clone(), Similarity::Cosine).unwrap();
    let first = Features::Cosine {
        vectors: &[1.0, 2.0],
        dim: 2,
    };
    p.push(first, None).unwrap();
    let empty = Features::Cosine {
        vectors: &[],
        dim: 3,
    };
    assert_eq!(p.push(empty, None).unwrap().num_units(), 0);
    let before = p.checkpoint();
    let wide = Features::Cosine {
        vectors: &[1.0; 9],
        dim: 3,
    };
    let e = p.push(wide, None).unwrap_err();
    assert!(e.message().contains("2 columns"), "{}", e.message());
    assert_eq!(p.checkpoint(), before);
    let narrow = Features::Cosine {
        vectors: &[1.0; 6],
        dim: 2,
    };
    assert_eq!(p.push(narrow, None).unwrap().num_units(), 4);

    let mut p = MergePlanner::new(options, Similarity::Profile).unwrap();
    let rows = |values, columns, unit_lengths| Features::Profile {
        values,
        columns,
        unit_lengths,
    };
    p.push(rows(&[1.0, 2.0, 3.0, 4.0], 2, &[2]), None).unwrap();
    p.push(rows(&[], 3, &[]), None).unwrap();
    let e = p.push(rows(&[0.5; 9], 3, &[1, 1, 1]), None).unwrap_err();
    assert!(e.message().contains("2 columns"), "{}", e.message());
    let part = p.push(rows(&[0.5; 6], 2, &[1, 1, 1]), None).unwrap();
    assert_eq!(part.num_units(), 4);
    assert_eq!(
        MergePlanner::restore(&p.checkpoint()).unwrap().checkpoint(),
        p.checkpoint()
    );
}

/// A checkpoint whose pending units have no column count is refused: any width
/// would join them.
#[test]
fn pending_units_without_columns_are_refused() {
    let options = MergeOptions {
        window: 4,
        max_size: None,
        schedule: Schedule::Counts(vec![1]),
        strict: false,
        block: Some(4),
    };
    let mut p = MergePlanner::new(options, Similarity::Cosine).unwrap();
    let one = Features::Cosine {
        vectors: &[1.0],
        dim: 1,
    };
    p.push(one, None).unwrap();
    p.dim = 0;
    let e = MergePlanner::restore(&p.checkpoint()).unwrap_err();
    assert!(e.message().contains("inconsistent"), "{}", e.message());
}

/// Regression (found by the checkpoint fuzz target): a restored planner with a huge
/// column count and no pending units aborted on an empty push or `finish` (room
/// reserved for one group of that many columns).
#[test]
fn a_huge_column_count_allocates_nothing() {
    let options = MergeOptions {
        window: 4,
        max_size: None,
        schedule: Schedule::Counts(vec![1, 1]),
        strict: false,
        block: Some(4),
    };
    let mut p = MergePlanner::new(options, Similarity::Cosine).unwrap();
    p.dim = 1 << 40;
    let mut p = MergePlanner::restore(&p.checkpoint()).unwrap();
    let empty = Features::Cosine {
        vectors: &[],
        dim: 1 << 40,
    };
    assert_eq!(p.push(empty, None).unwrap().num_units(), 0);
    let narrow = Features::Cosine {
        vectors: &[1.0, 2.0],
        dim: 2,
    };
    assert!(p.push(narrow, None).is_err());
    assert_eq!(p.finish().unwrap().num_units(), 0);
}

/// Regression (found by the checkpoint fuzz target): a checkpoint could claim more
/// groups emitted than units planned (up to 2^63), and the next groups wrapped the
/// counter past its stored form, so the planner's own checkpoint no longer restored.
/// Counters a stream cannot reach are refused.
#[test]
fn unreachable_counters_are_refused() {
    let options = MergeOptions {
        window: 4,
        max_size: None,
        schedule: Schedule::Counts(vec![1]),
        strict: false,
        block: Some(2),
    };
    let mut p = MergePlanner::new(options, Similarity::Cosine).unwrap();
    let two = Features::Cosine {
        vectors: &[1.0, 2.0, 3.0],
        dim: 1,
    };
    p.push(two, None).unwrap();
    assert_eq!(
        (p.units_seen(), p.pending(), p.groups_emitted()),
        (3, 1, &[1][..])
    );
    MergePlanner::restore(&p.checkpoint()).unwrap();
    for (units, groups) in [(3, 3), (3, i64::MAX as u64), (i32::MAX as u64, 1)] {
        let mut q = p.clone();
        q.units_seen = units;
        q.groups_emitted = vec![groups];
        let e = MergePlanner::restore(&q.checkpoint()).unwrap_err();
        assert!(e.message().contains("inconsistent"), "{}", e.message());
    }
}

/// Regression (found by the checkpoint fuzz target): when planning a completed block
/// failed (a strict schedule asking more merges than a block allows), the chunk stayed
/// in the open block, which then held a whole block or more: a state whose checkpoint
/// did not restore. The chunk is taken back, as for every other refused chunk.
#[test]
fn a_failed_plan_leaves_the_state() {
    let options = MergeOptions {
        window: 4,
        max_size: None,
        schedule: Schedule::Counts(vec![5]),
        strict: true,
        block: Some(4),
    };
    let mut p = MergePlanner::new(options, Similarity::Cosine).unwrap();
    let three = Features::Cosine {
        vectors: &[1.0, 2.0, 3.0],
        dim: 1,
    };
    p.push(three, None).unwrap();
    let before = p.checkpoint();
    let four = Features::Cosine {
        vectors: &[1.0, 2.0, 3.0, 4.0],
        dim: 1,
    };
    let e = p.push(four, None).unwrap_err();
    assert!(e.message().contains("strict"), "{}", e.message());
    let e = p.push(three, Some(&[1, 2, 3])).unwrap_err();
    assert!(e.message().contains("strict"), "{}", e.message());
    assert_eq!(p.checkpoint(), before);
    assert_eq!((p.units_seen(), p.pending()), (3, 3));
    MergePlanner::restore(&p.checkpoint()).unwrap();
}

#[test]
fn planner_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<MergePlanner>();
    check::<StreamPlan>();
}
