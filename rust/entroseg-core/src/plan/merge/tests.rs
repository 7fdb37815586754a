use super::*;
use proptest::prelude::*;

/// Brute force over every set of disjoint pairs: the best total for each number of
/// pairs (None when that many cannot be chosen).
fn best_by_count(values: &[f64]) -> Vec<Option<f64>> {
    let m = values.len();
    let mut best: Vec<Option<f64>> = vec![None; m / 2 + 2];
    for mask in 0u32..(1 << m) {
        if mask & (mask >> 1) != 0 {
            continue; // two adjacent pairs share a group
        }
        let picked: Vec<usize> = (0..m).filter(|&j| mask >> j & 1 == 1).collect();
        if picked.iter().any(|&j| values[j] == f64::NEG_INFINITY) {
            continue;
        }
        let total: f64 = picked.iter().map(|&j| values[j]).sum();
        let slot = &mut best[picked.len()];
        if slot.is_none_or(|b| total > b) {
            *slot = Some(total);
        }
    }
    best
}

fn values_strategy() -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(
        prop_oneof![
            8 => (-6i32..10).prop_map(|v| v as f64),
            1 => Just(f64::NEG_INFINITY),
        ],
        0..14,
    )
}

fn chosen_total(values: &[f64], chosen: &[bool]) -> f64 {
    values
        .iter()
        .zip(chosen)
        .filter(|(_, &c)| c)
        .map(|(v, _)| v)
        .sum()
}

fn assert_disjoint_and_eligible(values: &[f64], chosen: &[bool]) {
    for j in 0..chosen.len() {
        if chosen[j] {
            assert!(values[j] > f64::NEG_INFINITY, "ineligible pair {j} chosen");
            assert!(j == 0 || !chosen[j - 1], "pairs {} and {j} overlap", j - 1);
        }
    }
}

proptest! {
    #[test]
    fn count_selection_is_optimal_and_exact(values in values_strategy(), r in 0usize..9) {
        let best = best_by_count(&values);
        let cap = capacity(&values);
        prop_assert_eq!(cap, best.iter().rposition(|b| b.is_some()).unwrap_or(0));
        let mut sel = PairSelector::default();
        let mut chosen = Vec::new();
        let made = sel.select(&values, Target::Count(r), &mut chosen);
        prop_assert_eq!(made, r.min(cap));
        prop_assert_eq!(chosen.iter().filter(|&&c| c).count(), made);
        assert_disjoint_and_eligible(&values, &chosen);
        // Integer-valued similarities: sums are exact, so optimality is checked exactly.
        prop_assert_eq!(Some(chosen_total(&values, &chosen)), best[made]);
    }

    #[test]
    fn threshold_selection_maximises_the_excess(values in values_strategy(), t in -3i32..6) {
        let shifted: Vec<f64> = values.iter().map(|v| v - t as f64).collect();
        let best = best_by_count(&shifted)
            .into_iter()
            .flatten()
            .fold(0.0f64, f64::max);
        let mut sel = PairSelector::default();
        let mut chosen = Vec::new();
        sel.select(&shifted, Target::Positive, &mut chosen);
        assert_disjoint_and_eligible(&shifted, &chosen);
        prop_assert_eq!(chosen_total(&shifted, &chosen), best);
        for (v, c) in shifted.iter().zip(&chosen) {
            prop_assert!(!c || *v > 0.0, "a chosen pair is not above the threshold");
        }
    }
}

#[test]
fn exchange_beats_plain_greedy() {
    // Greedy would take the middle pair (5) and block both others (4 + 4 = 8).
    let values = [4.0, 5.0, 4.0];
    let mut sel = PairSelector::default();
    let mut chosen = Vec::new();
    assert_eq!(sel.select(&values, Target::Count(1), &mut chosen), 1);
    assert_eq!(chosen, [false, true, false]);
    assert_eq!(sel.select(&values, Target::Count(2), &mut chosen), 2);
    assert_eq!(chosen, [true, false, true]);
    // Ties go to the leftmost pair.
    assert_eq!(
        sel.select(&[1.0, 1.0, 1.0, 1.0], Target::Count(1), &mut chosen),
        1
    );
    assert_eq!(chosen, [true, false, false, false]);
}

#[test]
fn tome_schedule_matches_the_published_formula() {
    // Hand-computed from lo = trunc(r(1 - inflect)), hi = 2r - lo, a line over levels.
    assert_eq!(tome_schedule(8, 0.0, 4).unwrap(), [8, 8, 8, 8]);
    assert_eq!(tome_schedule(8, -1.0, 5).unwrap(), [16, 12, 8, 4, 0]);
    assert_eq!(tome_schedule(8, 1.0, 3).unwrap(), [0, 8, 16]);
    // r = 5, inflect = -0.5: lo = trunc(7.5) = 7, hi = 3, step = -4/3.
    assert_eq!(tome_schedule(5, -0.5, 4).unwrap(), [7, 5, 4, 3]);
    assert_eq!(tome_schedule(3, -1.0, 1).unwrap(), [6]);
    assert!(tome_schedule(3, 1.5, 4)
        .unwrap_err()
        .message()
        .contains("inflect must be in [-1, 1], got 1.5"));
    assert!(tome_schedule(3, 0.0, 0).is_err());
}

fn profile_plan(profile: &[f64], offsets: &[i64], options: &MergeOptions) -> Result<MergePlan> {
    let lengths = vec![1i64; profile.len()];
    merge_plan(
        offsets,
        None,
        Features::Profile {
            values: profile,
            columns: 1,
            unit_lengths: &lengths,
        },
        options,
    )
}

fn counts(levels: &[usize], window: usize) -> MergeOptions {
    MergeOptions {
        window,
        max_size: None,
        schedule: Schedule::Counts(levels.to_vec()),
        strict: false,
        block: None,
    }
}

#[test]
fn two_levels_by_hand() {
    // Profile 0 0 5 5 9: the closest pairs are (0,1) and (2,3); then (01)+(23) differ by
    // 5 and (23)+(4) by 4, so level 1 merges (23) with (4) under window 4.
    let plan = profile_plan(&[0.0, 0.0, 5.0, 5.0, 9.0], &[0, 5], &counts(&[2, 1], 4)).unwrap();
    let l0 = &plan.levels[0];
    assert_eq!(l0.group_ids, [0, 0, 1, 1, 2]);
    assert_eq!(l0.sizes, [2, 2, 1]);
    assert_eq!(l0.cu_seqlens, [0, 2, 4, 5]);
    assert_eq!((l0.requested[0], l0.achieved[0], l0.capacity[0]), (2, 2, 2));
    let l1 = &plan.levels[1];
    assert_eq!(l1.group_ids, [0, 1, 1]);
    assert_eq!(l1.source, [0, 0, 1, 1, 1]);
    assert_eq!(l1.sizes, [2, 3]);
    assert_eq!(l1.cu_seqlens, [0, 2, 5]);
    assert_eq!(l1.log_sizes, [2f32.ln(), 3f32.ln()]);
    // Window 3 still allows (23)+(4) (3 units) and forbids (01)+(23) (4 units).
    let plan = profile_plan(&[0.0, 0.0, 5.0, 5.0, 9.0], &[0, 5], &counts(&[2, 1], 3)).unwrap();
    assert_eq!(plan.levels[1].source, [0, 0, 1, 1, 1]);
    let plan = profile_plan(&[0.0, 0.0, 5.0, 5.0, 9.0], &[0, 5], &counts(&[2, 2], 2)).unwrap();
    let l1 = &plan.levels[1];
    assert_eq!((l1.requested[0], l1.achieved[0], l1.capacity[0]), (2, 0, 0));
}

#[test]
fn cosine_and_weights() {
    // Rows 0,1 point the same way; rows 2,3 the other way; weights enter the group sums.
    let v: [f32; 8] = [1.0, 0.0, 2.0, 0.1, 0.0, 1.0, 0.1, 3.0];
    let plan_with = |opts: &MergeOptions| {
        let features = Features::Cosine {
            vectors: &v,
            dim: 2,
        };
        merge_plan(&[0, 4], Some(&[1, 3, 2, 1]), features, opts).unwrap()
    };
    let plan = plan_with(&counts(&[2], 16));
    assert_eq!(plan.levels[0].group_ids, [0, 0, 1, 1]);
    assert_eq!(plan.levels[0].sizes, [4, 3]);
    // max_size 3 forbids the first pair (1 + 3 = 4).
    let mut opts = counts(&[1], 16);
    opts.max_size = Some(3);
    let plan = plan_with(&opts);
    assert_eq!(plan.levels[0].group_ids, [0, 1, 2, 2]);
}

#[test]
fn ratio_threshold_and_ema() {
    let profile: Vec<f64> = (0..16).map(|i| (i / 4) as f64).collect();
    let opts = MergeOptions {
        window: 16,
        max_size: None,
        schedule: Schedule::Ratio {
            ratio: 0.25,
            levels: 2,
        },
        strict: false,
        block: None,
    };
    let plan = profile_plan(&profile, &[0, 16], &opts).unwrap();
    // 16 -> 16 * 0.25^(1/2) = 8 groups -> 16 * 0.25 = 4 groups: the 4 plateaus.
    assert_eq!(plan.levels[0].requested, [8]);
    assert_eq!(plan.levels[1].requested, [4]);
    assert_eq!(plan.levels[1].sizes.len(), 4);
    assert_eq!(plan.levels[1].cu_seqlens, [0, 4, 8, 12, 16]);
    let opts = MergeOptions {
        schedule: Schedule::Threshold {
            threshold: -0.5,
            levels: 3,
        },
        ..opts
    };
    let plan = profile_plan(&profile, &[0, 16], &opts).unwrap();
    assert_eq!(plan.levels[2].cu_seqlens, [0, 4, 8, 12, 16]);
    assert!(plan.levels[2].thresholds[0] == -0.5);
    let opts = MergeOptions {
        schedule: Schedule::Ema {
            initial: Some(-0.5),
            momentum: 0.5,
            levels: 2,
        },
        ..opts
    };
    let plan = profile_plan(&profile, &[0, 16], &opts).unwrap();
    // Level 0: best similarities are 0 for every unit -> m_0 = 0, tau_0 = -0.25.
    assert_eq!(plan.levels[0].thresholds, [-0.25]);
    assert_eq!(plan.levels[0].achieved, [8]);
}

#[test]
fn bad_input_is_a_typed_error() {
    let p = [0.0, 1.0, 2.0];
    let e = |o: &MergeOptions| profile_plan(&p, &[0, 3], o).unwrap_err();
    assert!(e(&counts(&[1], 1))
        .message()
        .contains("window must be >= 2"));
    assert!(e(&counts(&[], 4)).message().contains("at least one level"));
    let ratio = |ratio| MergeOptions {
        schedule: Schedule::Ratio { ratio, levels: 1 },
        ..counts(&[1], 4)
    };
    assert!(e(&ratio(0.0))
        .message()
        .contains("ratio must be in (0, 1], got 0"));
    assert!(e(&ratio(1.5)).message().contains("got 1.5"));
    let mut strict = counts(&[5], 4);
    strict.strict = true;
    let msg = e(&strict).message().to_string();
    assert!(
        msg.contains("asks series 0 for 5 merges") && msg.contains("at most 1"),
        "{msg}"
    );
    let err = profile_plan(&[0.0, f64::NAN], &[0, 2], &counts(&[1], 4)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NonFinite { index: 1 });
    let err = profile_plan(&p, &[0, 2], &counts(&[1], 4)).unwrap_err();
    assert!(err
        .message()
        .contains("3 units but the series offsets cover 2"));
    let v = [1.0f32, 2.0, 3.0];
    let err = merge_plan(
        &[0, 1],
        None,
        Features::Cosine {
            vectors: &v,
            dim: 2,
        },
        &counts(&[1], 4),
    )
    .unwrap_err();
    assert!(err.message().contains("not a whole number of rows of 2"));
}

fn check_plan(plan: &MergePlan, offsets: &[i64], window: i64, requested: &[usize]) {
    let n = *offsets.last().unwrap() as usize;
    let mut prev_groups = n;
    for (l, level) in plan.levels.iter().enumerate() {
        assert_eq!(level.group_ids.len(), prev_groups);
        let g = level.sizes.len();
        prev_groups = g;
        assert_eq!(level.sizes.iter().sum::<i64>(), n as i64);
        assert_eq!(level.cu_seqlens.len(), g + 1);
        assert_eq!(level.cu_seqlens[g] as usize, n);
        for w in level.cu_seqlens.windows(2) {
            assert!(w[1] > w[0] && (w[1] - w[0]) as i64 <= window, "window");
        }
        // Order preserved, contiguous: ids never decrease and step by at most 1.
        for w in level.source.windows(2) {
            assert!(w[1] == w[0] || w[1] == w[0] + 1);
        }
        for w in level.group_ids.windows(2) {
            assert!(w[1] == w[0] || w[1] == w[0] + 1);
        }
        // The source map agrees with cu_seqlens, and no group crosses a series.
        for (u, &s) in level.source.iter().enumerate() {
            let s = s as usize;
            assert!(level.cu_seqlens[s] as usize <= u && u < level.cu_seqlens[s + 1] as usize);
        }
        for b in 0..offsets.len() - 1 {
            let (lo, hi) = (level.series_offsets[b], level.series_offsets[b + 1]);
            if offsets[b] < offsets[b + 1] {
                assert_eq!(level.source[offsets[b] as usize] as i64, lo);
                assert_eq!(level.source[offsets[b + 1] as usize - 1] as i64, hi - 1);
            } else {
                assert_eq!(lo, hi);
            }
            let r = requested[l] as i64;
            assert_eq!(level.achieved[b], r.min(level.capacity[b]));
        }
    }
}

proptest! {
    #[test]
    fn plans_keep_their_invariants_and_series_are_independent(
        lens in prop::collection::vec(0usize..40, 1..5),
        seed in any::<u64>(),
        window in 2usize..9,
        requested in prop::collection::vec(0usize..12, 1..4),
    ) {
        let mut offsets = vec![0i64];
        for l in &lens {
            offsets.push(offsets.last().unwrap() + *l as i64);
        }
        let n = *offsets.last().unwrap() as usize;
        let mut state = seed | 1;
        let profile: Vec<f64> = (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state % 7) as f64
            })
            .collect();
        let opts = counts(&requested, window);
        let plan = profile_plan(&profile, &offsets, &opts).unwrap();
        check_plan(&plan, &offsets, window as i64, &requested);
        // Each series planned alone gives the same groups (shifted).
        for b in 0..lens.len() {
            let (lo, hi) = (offsets[b] as usize, offsets[b + 1] as usize);
            let alone = profile_plan(&profile[lo..hi], &[0, (hi - lo) as i64], &opts).unwrap();
            for (level, single) in plan.levels.iter().zip(&alone.levels) {
                let first = level.series_offsets[b] as i32;
                let shifted: Vec<i32> = level.source[lo..hi].iter().map(|s| s - first).collect();
                prop_assert_eq!(&shifted, &single.source);
                prop_assert_eq!(level.achieved[b], single.achieved[0]);
            }
        }
    }
}

#[test]
fn public_types_are_send_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<MergePlan>();
    assert_send_sync::<MergeOptions>();
    assert_send_sync::<Features<'static>>();
}

#[test]
fn rates_by_hand() {
    // Three segments of 8 tokens, scores 1, 0.5, 0: budget floor(0.5 * 24) = 12.
    // theta = 0 raises segment 2 to factor 4 (kept 8 + 8 + 2 = 18); theta = 1 raises
    // segment 1 to 2 (8 + 4 + 2 = 14); theta = 2 raises segment 0 to 2 and segment 1 to 4
    // (4 + 2 + 2 = 8 <= 12).
    let r = assign_rates(
        &[1.0, 0.5, 0.0],
        &[8, 8, 8],
        &[0, 3],
        &[1, 2, 4],
        0.5,
        false,
    )
    .unwrap();
    assert_eq!(r.factors, [2, 4, 4]);
    assert_eq!(r.thresholds, [2.0]);
    assert_eq!((r.budgets[0], r.kept[0]), (12, 8));
    assert_eq!(r.kept_counts, [4, 2, 2]);
    assert_eq!(r.kept_indices, [0, 2, 4, 6, 8, 12, 16, 20]);
    // keep_ratio 1: nothing to do.
    let r = assign_rates(&[1.0, 0.5], &[3, 5], &[0, 2], &[1, 2], 1.0, false).unwrap();
    assert_eq!(r.factors, [1, 1]);
    assert_eq!(r.thresholds, [f64::NEG_INFINITY]);
    // Over budget even at the largest factor: recorded, or an error when strict.
    let r = assign_rates(&[1.0], &[4], &[0, 1], &[1, 2], 0.1, false).unwrap();
    assert_eq!((r.factors[0], r.kept[0], r.budgets[0]), (2, 2, 1));
    let e = assign_rates(&[1.0], &[4], &[0, 1], &[1, 2], 0.1, true).unwrap_err();
    assert!(
        e.message().contains("keeps 2 of 4 tokens"),
        "{}",
        e.message()
    );
    for (f, k, msg) in [
        (&[][..], 0.5, "at least one factor"),
        (&[2, 1][..], 0.5, "strictly increasing"),
        (&[0, 1][..], 0.5, "factors must be >= 1, got 0"),
        (&[1, 2][..], 0.0, "keep_ratio must be in (0, 1], got 0"),
    ] {
        let e = assign_rates(&[1.0], &[4], &[0, 1], f, k, false).unwrap_err();
        assert!(e.message().contains(msg), "{}", e.message());
    }
    let e = assign_rates(&[-1.0], &[4], &[0, 1], &[1, 2], 0.5, false).unwrap_err();
    assert!(e.message().contains("must be >= 0, got scores[0] = -1"));
}

proptest! {
    #[test]
    fn rates_keep_the_most_tokens_within_budget(
        segs in prop::collection::vec((1i64..20, 0u32..6), 1..12),
        ratio_pct in 5u32..=100,
    ) {
        let lengths: Vec<i64> = segs.iter().map(|s| s.0).collect();
        let scores: Vec<f64> = segs.iter().map(|s| s.1 as f64 / 2.0).collect();
        let factors = [1i64, 2, 4];
        let ratio = ratio_pct as f64 / 100.0;
        let r = assign_rates(&scores, &lengths, &[0, lengths.len() as i64], &factors, ratio, false)
            .unwrap();
        let kept_at = |theta: f64| -> i64 {
            lengths.iter().zip(&scores).map(|(&l, &s)| {
                let f = factors.iter().rev().find(|&&f| f as f64 * s <= theta).copied()
                    .unwrap_or(1);
                (l + f - 1) / f
            }).sum()
        };
        let budget = r.budgets[0];
        prop_assert_eq!(r.kept[0], r.kept_counts.iter().sum::<i64>());
        prop_assert_eq!(r.kept_indices.len() as i64, r.kept[0]);
        prop_assert_eq!(kept_at(r.thresholds[0]), r.kept[0]);
        // Every candidate threshold below the chosen one is over budget.
        let mut candidates: Vec<f64> = scores.iter()
            .flat_map(|&s| factors.iter().map(move |&f| f as f64 * s)).collect();
        candidates.push(f64::NEG_INFINITY);
        for c in candidates {
            if c < r.thresholds[0] {
                prop_assert!(kept_at(c) > budget);
            }
        }
        if r.kept[0] > budget {
            prop_assert!(r.factors.iter().all(|&f| f == 4));
        }
    }
}

/// The exchange algorithm with every original pair in one heap: the plain form the
/// sorted-array selection must reproduce exactly (same pairs, same ties).
fn select_with_one_heap(values: &[f64], target: Target) -> Vec<bool> {
    let m = values.len();
    let mut value = values.to_vec();
    let mut prev: Vec<u32> = (0..m as u32).map(|i| i.wrapping_sub(1)).collect();
    let mut next: Vec<u32> = (1..=m as u32)
        .map(|i| if i as usize == m { NONE } else { i })
        .collect();
    if m > 0 {
        prev[0] = NONE;
    }
    let (mut lo, mut hi): (Vec<u32>, Vec<u32>) = ((0..m as u32).collect(), (0..m as u32).collect());
    let mut alive = vec![true; m];
    let mut toggle = vec![0u8; m + 1];
    let mut heap: BinaryHeap<Entry> = values
        .iter()
        .enumerate()
        .filter(|(_, v)| v.is_finite())
        .map(|(i, &v)| Entry {
            key: sortable(v),
            node: i as u32,
        })
        .collect();
    let mut taken = 0;
    while let Some(top) = heap.pop() {
        let i = top.node as usize;
        if !alive[i] {
            continue;
        }
        match target {
            Target::Count(r) if taken >= r => break,
            Target::Positive if value[i] <= 0.0 => break,
            _ => {}
        }
        taken += 1;
        toggle[lo[i] as usize] ^= 1;
        toggle[hi[i] as usize + 1] ^= 1;
        let (l, r) = (prev[i], next[i]);
        let regret = if l != NONE && r != NONE {
            value[l as usize] + value[r as usize] - value[i]
        } else {
            f64::NEG_INFINITY
        };
        if l != NONE {
            alive[l as usize] = false;
            lo[i] = lo[l as usize];
            prev[i] = prev[l as usize];
            if prev[i] != NONE {
                next[prev[i] as usize] = i as u32;
            }
        }
        if r != NONE {
            alive[r as usize] = false;
            hi[i] = hi[r as usize];
            next[i] = next[r as usize];
            if next[i] != NONE {
                prev[next[i] as usize] = i as u32;
            }
        }
        value[i] = regret;
        if regret.is_finite() {
            heap.push(Entry {
                key: sortable(regret),
                node: i as u32,
            });
        }
    }
    let mut state = 0;
    toggle[..m]
        .iter()
        .map(|t| {
            state ^= t;
            state == 1
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]
    #[test]
    fn sorted_selection_equals_the_one_heap_form(
        m in 0usize..12_000,
        levels in 1u32..40,
        ineligible in 0u32..10,
        seed in any::<u64>(),
        count in prop_oneof![Just(None), (0usize..5000).prop_map(Some)],
        threshold in -3i32..3,
    ) {
        // Few distinct values: many ties, so the tie-break is exercised as well.
        let mut state = seed | 1;
        let values: Vec<f64> = (0..m)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                if (state % 100) < ineligible as u64 {
                    f64::NEG_INFINITY
                } else {
                    ((state >> 8) % levels as u64) as f64 / 4.0 - threshold as f64
                }
            })
            .collect();
        let target = count.map_or(Target::Positive, Target::Count);
        let mut sel = PairSelector::default();
        let mut chosen = Vec::new();
        sel.select(&values, target, &mut chosen);
        prop_assert_eq!(chosen, select_with_one_heap(&values, target));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    /// The threshold selection, run by run with the short runs decided directly, picks
    /// the pairs of the exchange algorithm on the whole chain: short chains of few
    /// distinct values (ties), zeros, negatives, `-inf` (ineligible) and NaN (a sum
    /// that overflowed) between the runs.
    #[test]
    fn positive_runs_select_like_the_whole_chain(
        codes in prop::collection::vec(0u8..12, 0..40),
    ) {
        let values: Vec<f64> = codes
            .iter()
            .map(|&c| match c {
                0 => f64::NEG_INFINITY,
                1 => f64::NAN,
                2 => 0.0,
                3 => -0.5,
                c => f64::from(c - 3) / 4.0,
            })
            .collect();
        let mut sel = PairSelector::default();
        let mut chosen = Vec::new();
        let count = sel.select(&values, Target::Positive, &mut chosen);
        let expected = select_with_one_heap(&values, Target::Positive);
        prop_assert_eq!(count, expected.iter().filter(|&&c| c).count());
        prop_assert_eq!(chosen, expected);
    }
}

#[test]
fn radix_sort_orders_like_the_comparator() {
    let mut state = 12345u64;
    let mut entries: Vec<Entry> = (0..50_000u32)
        .map(|i| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let v = ((state % 2001) as f64 - 1000.0) / 7.0;
            Entry {
                key: sortable(if state % 97 == 0 { -0.0 } else { v }),
                node: i,
            }
        })
        .collect();
    let mut expected = entries.clone();
    expected.sort_by(|a, b| b.cmp(a));
    radix_sort_descending(&mut entries, &mut Vec::new());
    assert!(entries == expected);
}

/// Regression (found by the checkpoint fuzz target through a restored planner): a plan
/// of no units with a huge column count reserved room for one group of that many
/// columns, an allocation that aborts the process (numpy makes `[0, 2^40]` arrays).
#[test]
fn no_units_of_many_columns_allocate_nothing() {
    let options = MergeOptions {
        window: 4,
        max_size: None,
        schedule: Schedule::Threshold {
            threshold: 0.0,
            levels: 2,
        },
        strict: false,
        block: None,
    };
    let features = Features::Cosine {
        vectors: &[],
        dim: 1 << 40,
    };
    let plan = merge_plan(&[0, 0], None, features, &options).unwrap();
    assert!(plan.levels.iter().all(|l| l.sizes.is_empty()));
    let profile = Features::Profile {
        values: &[],
        columns: 1 << 40,
        unit_lengths: &[],
    };
    let plan = merge_plan(&[0, 0], None, profile, &options).unwrap();
    assert!(plan.levels.iter().all(|l| l.sizes.is_empty()));
}

/// Unit lengths or a column count whose product wraps around the integer range must
/// not pass for a profile of no rows.
#[test]
fn wrapping_profile_sizes_are_refused() {
    let options = MergeOptions {
        window: 4,
        max_size: None,
        schedule: Schedule::Counts(vec![1]),
        strict: false,
        block: None,
    };
    for (columns, lengths) in [
        (1usize << 62, vec![2i64, 2]),
        (1, vec![i64::MAX, i64::MAX, 2]),
    ] {
        let profile = Features::Profile {
            values: &[],
            columns,
            unit_lengths: &lengths,
        };
        let e = merge_plan(&[0, lengths.len() as i64], None, profile, &options).unwrap_err();
        assert!(e.message().contains("samples"), "{}", e.message());
    }
}

/// Values with many ties: `levels` distinct quarters (exact sums, so the local form's
/// guard never needs to decline), some `-inf` (ineligible), from a seed.
fn tied_values(m: usize, levels: u32, ineligible: u32, seed: u64, shift: i32) -> Vec<f64> {
    let mut state = seed | 1;
    (0..m)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            if (state % 100) < ineligible as u64 {
                f64::NEG_INFINITY
            } else {
                ((state >> 8) % levels as u64) as f64 / 4.0 - shift as f64
            }
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    /// The local form (run on every count, not only those `select` gives it) makes the
    /// one-heap reference's selection, ties included; on quarters it never declines.
    #[test]
    fn local_selection_equals_the_one_heap_form(
        m in 0usize..3000,
        levels in 1u32..12,
        ineligible in 0u32..10,
        seed in any::<u64>(),
        count in prop_oneof![Just(None), (0usize..1600).prop_map(Some)],
        shift in -3i32..3,
    ) {
        let values = tied_values(m, levels, ineligible, seed, shift);
        let target = count.map_or(Target::Positive, Target::Count);
        let mut local = local::LocalSelector::default();
        let mut chosen = vec![false; m];
        let made = local.select(&values, target, &mut chosen, &mut 0);
        let expected = select_with_one_heap(&values, target);
        prop_assert_eq!(made, Some(expected.iter().filter(|&&c| c).count()));
        prop_assert_eq!(&chosen, &expected);
        // And `select` (local or sorted, by the count) agrees with the sorted form.
        let mut sel = PairSelector::default();
        let mut via_select = Vec::new();
        let mut via_sorted = Vec::new();
        let a = sel.select(&values, target, &mut via_select);
        let b = sel.select_sorted(&values, target, &mut via_sorted);
        prop_assert_eq!(a, b);
        prop_assert_eq!(via_select, via_sorted);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    /// Short chains of few distinct values, every count: local = one-heap reference.
    #[test]
    fn local_selection_on_short_tied_chains(
        codes in prop::collection::vec(0u8..7, 0..24),
        count in prop_oneof![Just(None), (0usize..14).prop_map(Some)],
    ) {
        let values: Vec<f64> = codes
            .iter()
            .map(|&c| if c == 0 { f64::NEG_INFINITY } else { f64::from(c) - 3.0 })
            .collect();
        let target = count.map_or(Target::Positive, Target::Count);
        let mut local = local::LocalSelector::default();
        let mut chosen = vec![false; values.len()];
        let made = local.select(&values, target, &mut chosen, &mut 0);
        let expected = select_with_one_heap(&values, target);
        prop_assert_eq!(made, Some(expected.iter().filter(|&&c| c).count()));
        prop_assert_eq!(chosen, expected);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]
    /// Arbitrary floats (sums round): where the local form answers it is the one-heap
    /// reference's answer, and `select` always equals the sorted form (main's), NaN,
    /// zeros of both signs and near-ties included.
    #[test]
    fn select_equals_the_sorted_form_on_rounding_values(
        raw in prop::collection::vec(
            prop_oneof![
                6 => -1.0f64..1.0,
                2 => (0u8..5).prop_map(|k| [0.1, 0.3, 0.2, -0.0, 0.0][k as usize]),
                1 => Just(f64::NEG_INFINITY),
                1 => Just(f64::NAN),
            ],
            0..200,
        ),
        count in prop_oneof![Just(None), (0usize..120).prop_map(Some)],
    ) {
        let target = count.map_or(Target::Positive, Target::Count);
        let mut sel = PairSelector::default();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let made = sel.select(&raw, target, &mut a);
        prop_assert_eq!(made, sel.select_sorted(&raw, target, &mut b));
        prop_assert_eq!(&a, &b);
        if raw.iter().all(|v| !v.is_nan()) {
            let mut local = local::LocalSelector::default();
            let mut chosen = vec![false; raw.len()];
            if local.select(&raw, target, &mut chosen, &mut 0).is_some() {
                prop_assert_eq!(chosen, select_with_one_heap(&raw, target));
            }
        }
    }
}

#[test]
fn local_form_declines_where_a_rounding_could_reorder_takes() {
    // Taking 0.3 (the left of the tie) leaves 0.1 + 0.3 - 0.3 = 0.10000000000000003,
    // above the 0.1 it absorbed: the order argument needs it below, so the local form
    // declines and the sorted form decides.
    let values = [0.1, 0.3, 0.3];
    let mut local = local::LocalSelector::default();
    let mut chosen = vec![false; 3];
    assert_eq!(
        local.select(&values, Target::Count(2), &mut chosen, &mut 0),
        None
    );
    let mut sel = PairSelector::default();
    let mut out = Vec::new();
    assert_eq!(sel.select(&values, Target::Count(2), &mut out), 2);
    assert_eq!(out, select_with_one_heap(&values, Target::Count(2)));
    assert_eq!(out, [true, false, true]);
    // NaN (an overflowed sum) also goes to the sorted form.
    assert_eq!(
        local.select(&[1.0, f64::NAN, 2.0], Target::Count(1), &mut chosen, &mut 0),
        None
    );
}

#[test]
fn local_form_is_not_plain_greedy() {
    // Greedy by descending similarity takes 5 and stops; the exchange algorithm (and
    // so the local form) gives it up for 4 + 4 at two merges, and takes both ends
    // above a threshold of 0 as 4 + 4 - 5 > 0.
    let mut local = local::LocalSelector::default();
    let mut chosen = vec![false; 3];
    assert_eq!(
        local.select(&[4.0, 5.0, 4.0], Target::Count(1), &mut chosen, &mut 0),
        Some(1)
    );
    assert_eq!(chosen, [false, true, false]);
    let mut chosen = vec![false; 3];
    assert_eq!(
        local.select(&[4.0, 5.0, 4.0], Target::Count(2), &mut chosen, &mut 0),
        Some(2)
    );
    assert_eq!(chosen, [true, false, true]);
    let mut chosen = vec![false; 3];
    assert_eq!(
        local.select(&[4.0, 5.0, 4.0], Target::Positive, &mut chosen, &mut 0),
        Some(2)
    );
    assert_eq!(chosen, [true, false, true]);
}

/// The plan written out level by level over the whole batch, every array grown by
/// pushes, similarities computed pair by pair from the groups' sums, the selection by
/// the sorted form: the definition [`merge_plan`] (block by block, each level of a block
/// in turn, branch-free group building) must reproduce bit for bit, errors included.
fn reference_plan(
    series_offsets: &[i64],
    weights: Option<&[i64]>,
    features: Features<'_>,
    options: &MergeOptions,
) -> std::result::Result<MergePlan, String> {
    let n = *series_offsets.last().unwrap() as usize;
    let mut sizes: Vec<i64> = weights.map_or(vec![1; n], |w| w.to_vec());
    let mut starts: Vec<i32> = (0..=n as i32).collect();
    let (cosine, dim, mut sums, mut counts) = match features {
        Features::Cosine { vectors, dim } => {
            let mut sums = Vec::new();
            for (row, &w) in vectors.chunks_exact(dim).zip(&sizes) {
                sums.extend(row.iter().map(|&v| v as f64 * w as f64));
            }
            (true, dim, sums, None)
        }
        Features::Profile {
            values,
            columns,
            unit_lengths,
        } => {
            if values.len() == n * columns {
                (false, columns, values.to_vec(), None)
            } else {
                let mut sums = vec![0.0; n * columns];
                let mut rows = values.chunks_exact(columns);
                for (u, &len) in unit_lengths.iter().enumerate() {
                    for row in rows.by_ref().take(len as usize) {
                        for (a, &v) in sums[u * columns..(u + 1) * columns].iter_mut().zip(row) {
                            *a += v;
                        }
                    }
                }
                let counts: Vec<f64> = unit_lengths.iter().map(|&l| l as f64).collect();
                (false, columns, sums, Some(counts))
            }
        }
    };
    let (blocks, series_blocks) = match options.block {
        Some(b) => split_blocks(series_offsets, b),
        None => (
            series_offsets.to_vec(),
            (0..series_offsets.len() as i64).collect(),
        ),
    };
    let levels = options.schedule.levels();
    let mut taus = vec![
        match options.schedule {
            Schedule::Ema { initial, .. } => initial.unwrap_or(f64::NAN),
            _ => f64::NAN,
        };
        blocks.len() - 1
    ];
    let mut group_offsets = blocks.clone();
    let mut selector = PairSelector::default();
    let mut out_levels: Vec<MergeLevel> = Vec::new();
    for level in 0..levels {
        let mut out = MergeLevel {
            series_offsets: vec![0],
            ..MergeLevel::default()
        };
        let (mut next_starts, mut next_sizes, mut next_sums) = (Vec::new(), Vec::new(), Vec::new());
        let mut next_counts: Vec<f64> = Vec::new();
        let feature = |g: usize| sums[g * dim..(g + 1) * dim].to_vec();
        let mean = |g: usize| -> Vec<f64> {
            let c = match &counts {
                Some(c) => c[g],
                None => (starts[g + 1] - starts[g]) as f64,
            };
            feature(g).iter().map(|x| x / c).collect()
        };
        let norm = |g: usize| feature(g).iter().fold(0.0, |a, x| a + x * x).sqrt();
        for b in 0..blocks.len() - 1 {
            let (g0, g1) = (group_offsets[b] as usize, group_offsets[b + 1] as usize);
            let k = g1 - g0;
            let mut sims = Vec::new();
            for g in g0..g1.saturating_sub(1) {
                let span = (starts[g + 2] - starts[g]) as usize;
                let weight = sizes[g].saturating_add(sizes[g + 1]);
                sims.push(
                    if span > options.window || weight > options.max_size.unwrap_or(i64::MAX) {
                        f64::NEG_INFINITY
                    } else if cosine {
                        cosine_similarity(&feature(g), &feature(g + 1), norm(g), norm(g + 1))
                    } else if dim == 1 {
                        -(mean(g)[0] - mean(g + 1)[0]).abs()
                    } else {
                        profile_distance(&mean(g), &mean(g + 1))
                    },
                );
            }
            let cap = capacity(&sims);
            let (target, requested, threshold) = match &options.schedule {
                Schedule::Counts(c) => (Target::Count(c[level]), c[level] as i64, f64::NAN),
                Schedule::Ratio { ratio, .. } => {
                    let units = blocks[b + 1] - blocks[b];
                    let r = (k as i64 - ratio_target(units, *ratio, level, levels)).max(0);
                    (Target::Count(r as usize), r, f64::NAN)
                }
                Schedule::Threshold { threshold, .. } => (Target::Positive, -1, *threshold),
                Schedule::Ema { momentum, .. } => {
                    if let Some(m) = mean_best_similarity(&sims) {
                        taus[b] = if taus[b].is_nan() {
                            m
                        } else {
                            momentum * taus[b] + (1.0 - momentum) * m
                        };
                    }
                    (Target::Positive, -1, taus[b])
                }
            };
            let mut chosen = vec![false; sims.len()];
            let made = if options.schedule.uses_threshold() && threshold.is_nan() {
                0
            } else if options.schedule.uses_threshold() {
                let values: Vec<f64> = sims.iter().map(|s| s - threshold).collect();
                selector.select_sorted(&values, target, &mut chosen)
            } else {
                selector.select_sorted(&sims, target, &mut chosen)
            };
            if options.strict && requested > made as i64 {
                return Err(format!("level {level} block {b}"));
            }
            let mut g = g0;
            while g < g1 {
                let id = next_sizes.len() as i32;
                next_starts.push(starts[g]);
                let mut s = feature(g);
                let mut size = sizes[g];
                let mut count = counts.as_ref().map(|c| c[g]);
                out.group_ids.push(id);
                if g + 1 < g1 && chosen[g - g0] {
                    out.group_ids.push(id);
                    for (a, v) in s.iter_mut().zip(feature(g + 1)) {
                        *a += v;
                    }
                    size = size.saturating_add(sizes[g + 1]);
                    count = count.map(|c| c + counts.as_ref().unwrap()[g + 1]);
                    g += 1;
                }
                g += 1;
                next_sums.extend(s);
                next_sizes.push(size);
                next_counts.extend(count);
            }
            out.series_offsets.push(next_sizes.len() as i64);
            out.requested.push(requested);
            out.achieved.push(made as i64);
            out.capacity.push(cap as i64);
            out.thresholds.push(threshold);
        }
        next_starts.push(n as i32);
        out.source = match out_levels.last() {
            Some(prev) => prev
                .source
                .iter()
                .map(|&s| out.group_ids[s as usize])
                .collect(),
            None => out.group_ids.clone(),
        };
        out.sizes = next_sizes.clone();
        out.log_sizes = next_sizes.iter().map(|&s| (s as f64).ln() as f32).collect();
        out.cu_seqlens = next_starts.clone();
        group_offsets = out.series_offsets.clone();
        out.series_offsets = series_blocks
            .iter()
            .map(|&b| group_offsets[b as usize])
            .collect();
        out.block_offsets = series_blocks.clone();
        out_levels.push(out);
        (starts, sizes, sums) = (next_starts, next_sizes, next_sums);
        if counts.is_some() {
            counts = Some(next_counts);
        }
    }
    Ok(MergePlan { levels: out_levels })
}

/// [`cosine`], spelled out for the reference.
fn cosine_similarity(a: &[f64], b: &[f64], na: f64, nb: f64) -> f64 {
    let dot = a.iter().zip(b).fold(0.0, |acc, (x, y)| acc + x * y);
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        (dot / (na * nb)).clamp(-1.0, 1.0)
    }
}

/// Plans compared array by array, floats by their bits (thresholds hold NaN).
fn same_bits(a: &MergePlan, b: &MergePlan) -> bool {
    a.levels.len() == b.levels.len()
        && a.levels.iter().zip(&b.levels).all(|(x, y)| {
            x.group_ids == y.group_ids
                && x.source == y.source
                && x.sizes == y.sizes
                && x.log_sizes
                    .iter()
                    .map(|v| v.to_bits())
                    .eq(y.log_sizes.iter().map(|v| v.to_bits()))
                && x.cu_seqlens == y.cu_seqlens
                && x.series_offsets == y.series_offsets
                && x.requested == y.requested
                && x.achieved == y.achieved
                && x.capacity == y.capacity
                && x.thresholds
                    .iter()
                    .map(|v| v.to_bits())
                    .eq(y.thresholds.iter().map(|v| v.to_bits()))
                && x.block_offsets == y.block_offsets
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]
    /// `merge_plan` equals the level-by-level reference for every schedule, profiles of
    /// one or more columns with one or several samples per unit, weights with a size
    /// limit, cosine vectors, blocks or whole series; values drawn from a few quarters,
    /// so similarities tie often; a strict count fails at the same level and block.
    #[test]
    fn plan_equals_the_level_by_level_reference(
        lens in prop::collection::vec(0usize..300, 1..4),
        seed in any::<u64>(),
        kind in 0usize..4,
        // 1-4 and 8 run the planner's code for a column count known to the compiler,
        // the others its general code.
        columns in 1usize..10,
        window in 2usize..12,
        max_size in prop_oneof![Just(None), (2i64..12).prop_map(Some)],
        block in prop_oneof![Just(None), (2usize..90).prop_map(Some)],
        schedule in prop_oneof![
            (-3i32..2).prop_map(|t| Schedule::Threshold { threshold: t as f64 / 4.0, levels: 3 }),
            (prop_oneof![Just(None), (-4i32..1).prop_map(|t| Some(t as f64 / 4.0))], 0u32..10)
                .prop_map(|(initial, m)| Schedule::Ema { initial, momentum: m as f64 / 10.0, levels: 3 }),
            prop::collection::vec(0usize..40, 1..5).prop_map(Schedule::Counts),
            (1u32..20).prop_map(|r| Schedule::Ratio { ratio: r as f64 / 20.0, levels: 3 }),
        ],
        strict in any::<bool>(),
    ) {
        let mut offsets = vec![0i64];
        for l in &lens {
            offsets.push(offsets.last().unwrap() + *l as i64);
        }
        let n = *offsets.last().unwrap() as usize;
        let mut state = seed | 1;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let quarter = |s: u64| ((s >> 8) % 6) as f64 / 4.0;
        let unit_lengths: Vec<i64> = (0..n)
            .map(|_| if kind == 2 { 1 + (next() % 3) as i64 } else { 1 })
            .collect();
        let samples = unit_lengths.iter().sum::<i64>() as usize;
        let profile: Vec<f64> = (0..samples * columns).map(|_| quarter(next())).collect();
        let vectors: Vec<f32> = (0..n * columns).map(|_| quarter(next()) as f32 - 0.5).collect();
        let weights: Vec<i64> = (0..n).map(|_| 1 + (next() % 4) as i64).collect();
        let features = if kind == 3 {
            Features::Cosine { vectors: &vectors, dim: columns }
        } else {
            Features::Profile { values: &profile, columns, unit_lengths: &unit_lengths }
        };
        let w = (kind == 1 || kind == 3).then_some(&weights[..]);
        let options = MergeOptions { window, max_size, schedule, strict, block };
        let fast = merge_plan(&offsets, w, features, &options);
        match reference_plan(&offsets, w, features, &options) {
            Ok(expected) => prop_assert!(same_bits(&fast.unwrap(), &expected)),
            Err(at) => {
                let message = fast.unwrap_err().message().to_string();
                let (level, block) = at.split_once(" block ").unwrap();
                let what = if options.block.is_some() { "block" } else { "series" };
                prop_assert!(
                    message.starts_with(&format!("{level} asks {what} {block} ")),
                    "{} vs {}", message, at
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    /// The sparse sorted form for counts equals the sorted form (and the one-heap
    /// reference), ties included, with one selector reused across chains of different
    /// lengths (its stamped state must not leak from one selection to the next) and on
    /// counts whose first candidate list runs short.
    #[test]
    fn sparse_count_selection_equals_the_sorted_form(
        chains in prop::collection::vec(
            (0usize..2500, 1u32..12, 0u32..30, any::<u64>(), 0usize..700, -3i32..3),
            1..6,
        ),
    ) {
        let mut sparse = sparse::SparseSelector::default();
        let mut sorted = PairSelector::default();
        for (m, levels, ineligible, seed, r, shift) in chains {
            let values = tied_values(m, levels, ineligible, seed, shift);
            let mut chosen = vec![false; m];
            let made = sparse.select(&values, r, &mut chosen);
            let mut expected = Vec::new();
            let want = sorted.select_sorted(&values, Target::Count(r), &mut expected);
            prop_assert_eq!(made, Some(want));
            prop_assert_eq!(&chosen, &expected);
            prop_assert_eq!(&chosen, &select_with_one_heap(&values, Target::Count(r)));
        }
    }
}

#[test]
fn sparse_count_selection_declines_on_nan_and_infinity() {
    let mut sparse = sparse::SparseSelector::default();
    for odd in [f64::NAN, f64::INFINITY] {
        let values = [0.5, odd, 0.25, 0.75];
        let mut chosen = [false; 4];
        assert_eq!(sparse.select(&values, 1, &mut chosen), None);
    }
    // And `select` then answers as the sorted form does.
    let values = [0.5, f64::NAN, 0.25, 0.75, 0.1, 0.3, 0.2, 0.9, 0.4];
    let mut sel = PairSelector::default();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    assert_eq!(
        sel.select(&values, Target::Count(1), &mut a),
        sel.select_sorted(&values, Target::Count(1), &mut b)
    );
    assert_eq!(a, b);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]
    /// Any floor gives the local form's count the one-heap reference's selection: a
    /// floor above the count's last take (too few takes above it, so the run goes on
    /// over every node), below it, at a tied key, or past every key; and the floor it
    /// leaves for the next chain works there as well.
    #[test]
    fn local_count_selection_is_the_same_for_any_floor(
        m in 0usize..1500,
        levels in 1u32..12,
        ineligible in 0u32..10,
        seed in any::<u64>(),
        r in 0usize..800,
        shift in -3i32..3,
        floor_from in prop_oneof![
            Just(None),
            (0usize..1500).prop_map(Some),
        ],
        lift in 0u64..3,
    ) {
        let values = tied_values(m, levels, ineligible, seed, shift);
        let expected = select_with_one_heap(&values, Target::Count(r));
        let made_expected = expected.iter().filter(|&&c| c).count();
        let mut floor = match floor_from {
            Some(j) if m > 0 => {
                let v = values[j % m];
                if v > f64::NEG_INFINITY { sortable(v).saturating_add(lift) - 1 } else { lift }
            }
            _ => u64::MAX - lift,
        };
        let mut local = local::LocalSelector::default();
        for _ in 0..2 {
            let mut chosen = vec![false; m];
            let made = local.select(&values, Target::Count(r), &mut chosen, &mut floor);
            prop_assert_eq!(made, Some(made_expected));
            prop_assert_eq!(&chosen, &expected);
        }
    }
}

proptest! {
    /// `sortable` (one xor with a mask from the sign) orders like the floats, and is
    /// the branchy form it replaced: negative values all bits flipped, others the sign
    /// bit set.
    #[test]
    fn sortable_keys_order_like_the_floats(
        a in any::<f64>().prop_filter("not NaN", |v| !v.is_nan()),
        b in prop_oneof![
            any::<f64>().prop_filter("not NaN", |v| !v.is_nan()),
            Just(0.0),
            Just(-0.0),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
        ],
    ) {
        let branchy = |v: f64| {
            let bits = v.to_bits();
            if bits >> 63 == 1 { !bits } else { bits | (1 << 63) }
        };
        prop_assert_eq!(sortable(a), branchy(a));
        prop_assert_eq!(sortable(b), branchy(b));
        // -0.0 sorts just below +0.0 (distinct bits), every other pair as the floats.
        if a != b {
            prop_assert_eq!(sortable(a) < sortable(b), a < b);
        }
        prop_assert_eq!(sortable(a) == sortable(b), a.to_bits() == b.to_bits());
    }
}
