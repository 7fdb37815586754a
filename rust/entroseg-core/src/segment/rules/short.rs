//! Batch calibration and cut of one short series (a read's profile, a few hundred
//! scores), for callers that segment many of them one after another.
//!
//! The answer is [`super::calibrate_threshold`]'s, bit for bit: the same search (bucket
//! edges, then the distinct scores of one bucket, then the tie cut), the same probes in
//! the same order, each with its exact segment count. Only the counting differs. On a
//! short series a probe of the general search re-runs the rules over the series (and on
//! hard lengths, every `max_len` split re-searches its window for the highest score), or
//! builds a [`super::Reference`] with its own buffers; here a probe is the firing
//! positions as a bit set (the scan's own 64-wide comparisons) and a walk over its set
//! bits in which a `max_len` split is a look-up: the split from an open segment's start
//! depends on the scores alone, not on the threshold, so it is searched once per series
//! and start, whatever the number of probes. Buffers live in a [`ShortScratch`] reused
//! from series to series.
//!
//! Used where [`super::segment_scores`] would run the general search on a whole short
//! series (native rules, `target_len` with batch calibration, no budget, fewer than
//! [`super::sampled::MIN_SAMPLED`] scores); anything else goes to
//! [`super::segment_scores`].

#[cfg(test)]
use super::scan_fixed;
use super::{
    calibrate_by_rank, finite_range, fire_bits, keep_closer, reason, sampled::MIN_SAMPLED,
    search_ties, secant_search, tie_rank, BucketEdges, Calibration, Open, Rules, Scan, Segment,
    Threshold, Window, CALIBRATION_BUCKETS,
};
use crate::error::Result;

/// Buffers of [`segment_short`], kept between series.
#[derive(Debug, Default, Clone)]
pub struct ShortScratch {
    /// Firing positions of the probe being counted, 64 per word.
    bits: Vec<u64>,
    /// `max_len` split from each open-segment start (`u32::MAX`: not searched yet).
    split: Vec<u32>,
    /// Positions holding the value whose ties decide, with their [`tie_rank`]s.
    tied: Vec<(u64, u64)>,
    ranks: Vec<u64>,
    /// Bucket numbers of the finite scores, sorted (the edge search's estimates).
    buckets: Vec<u16>,
    /// The scores inside the bracketing bucket, sorted, and the candidate thresholds
    /// there with the number of scores above each.
    inside: Vec<f64>,
    thresholds: Vec<f64>,
    above: Vec<f64>,
    seen: Vec<(usize, u64)>,
    /// Counts already made for this series: (threshold value's bits, tie cut, count).
    memo: Vec<(u64, u64, u64)>,
}

/// Whether [`segment_short`] runs its own calibration for `rules` on `n` scores (else it
/// hands the series to [`super::segment_scores`]).
fn applies(rules: &Rules, n: usize) -> bool {
    rules.preset.is_none()
        && rules.fit.is_none()
        && !rules.accumulate
        && rules.budget.is_none()
        && rules.target_len.is_some()
        && rules.calibration == Calibration::Batch
        && n < MIN_SAMPLED
        && n < u32::MAX as usize
}

/// The segments of `scores` under `rules` (validated by the caller), appended to `out`:
/// what [`super::segment_scores`] returns, computed with `scratch`'s buffers.
pub fn segment_short(
    scores: &[f64],
    rules: &Rules,
    scratch: &mut ShortScratch,
    out: &mut Vec<Segment>,
) -> Result<()> {
    if !applies(rules, scores.len()) {
        out.extend(super::segment_scores(scores, rules)?);
        return Ok(());
    }
    let target = rules.target_len.expect("applies() checked target_len");
    let mut counter = Counter::new(scores, rules, scratch);
    let value = best_distinct_threshold(scores, rules, target, &mut counter);
    let threshold = break_ties(scores, rules, value, target, &mut counter);
    counter.walk(threshold, Some(out));
    Ok(())
}

/// The threshold [`super::calibrate_threshold`] finds for a short series (see
/// [`applies`]).
#[cfg(test)]
fn calibrate_short(scores: &[f64], rules: &Rules, scratch: &mut ShortScratch) -> Threshold {
    let target = rules.target_len.expect("applies() checked target_len");
    let mut counter = Counter::new(scores, rules, scratch);
    let value = best_distinct_threshold(scores, rules, target, &mut counter);
    break_ties(scores, rules, value, target, &mut counter)
}

/// The fixed-threshold cut, as a [`super::RuleEngine`] fed the whole series makes it
/// (the reference of [`Counter::walk`]'s segments).
#[cfg(test)]
fn cut(scores: &[f64], rules: &Rules, threshold: Threshold, out: &mut Vec<Segment>) {
    if scores.is_empty() {
        return;
    }
    let scan = Scan::new(rules, Some(threshold));
    let mut open = Open::first();
    let mut prev = f64::NAN;
    let window = Window::whole(scores);
    scan_fixed(&mut open, &mut prev, scores, 0, &scan, &window, &mut |g| {
        out.push(g)
    });
    out.push(Segment {
        start: open.cur,
        len: scores.len() as u64 - open.cur,
        reason: open.reason,
    });
}

/// Exact segment counts of one short series at any threshold (see the module).
struct Counter<'a> {
    scores: &'a [f64],
    rules: &'a Rules,
    window: Window<'a>,
    min_len: u64,
    max_len: u64,
    /// The value whose tied positions are `scratch.tied` (NaN: none yet).
    tied_value: f64,
    scratch: &'a mut ShortScratch,
}

impl<'a> Counter<'a> {
    fn new(scores: &'a [f64], rules: &'a Rules, scratch: &'a mut ShortScratch) -> Self {
        let n = scores.len();
        scratch.bits.clear();
        scratch.bits.resize(n.div_ceil(64), 0);
        scratch.split.clear();
        scratch.memo.clear();
        if rules.max_len.is_some() {
            scratch.split.resize(n, u32::MAX);
        }
        Self {
            scores,
            rules,
            window: Window::whole(scores),
            min_len: rules.min_len as u64,
            max_len: rules.max_len.map_or(u64::MAX, |m| m as u64),
            tied_value: f64::NAN,
            scratch,
        }
    }

    /// The segment count at `th` (the same threshold is counted once per series: the
    /// searches' stages meet at their brackets' ends).
    fn count(&mut self, th: Threshold) -> u64 {
        let key = (th.value.to_bits(), th.tie_cut);
        if let Some(&(_, _, c)) = self.scratch.memo.iter().find(|m| (m.0, m.1) == key) {
            return c;
        }
        let c = self.count_fresh(th);
        self.scratch.memo.push((key.0, key.1, c));
        c
    }

    fn count_fresh(&mut self, th: Threshold) -> u64 {
        self.walk(th, None)
    }

    /// The segment count at `th`: the scan's decisions, replayed over its firing bits;
    /// with `out`, the segments too (the scan's, reasons included).
    fn walk(&mut self, th: Threshold, mut out: Option<&mut Vec<Segment>>) -> u64 {
        let n = self.scores.len() as u64;
        if n == 0 {
            return 0;
        }
        let scan = Scan::new(self.rules, Some(th));
        // A tie cut at the value whose tied positions are listed: those positions are
        // checked from the list rather than by comparing every score with the value.
        let listed = th.tie_cut > 0 && th.value == self.tied_value;
        let untied = Scan::new(self.rules, Some(Threshold::above(th.value)));
        let blocks = if listed { &untied } else { &scan };
        let mut prev = f64::NAN;
        for (j, block) in self.scores.chunks(64).enumerate() {
            self.scratch.bits[j] = fire_bits(block, prev, blocks, (j * 64) as u64);
            prev = block[block.len() - 1];
        }
        if listed {
            for &(t, rank) in &self.scratch.tied {
                let i = t as usize;
                if rank < th.tie_cut
                    && scan
                        .fires(self.scores[i], self.scores[i - 1], scan.theta, t)
                        .is_some()
                {
                    self.scratch.bits[i / 64] |= 1 << (i % 64);
                }
            }
        }
        // The first sample always starts the first segment.
        self.scratch.bits[0] &= !1;
        let (min_len, max_len) = (self.min_len, self.max_len);
        let mut open = Open::first();
        let mut count = 1u64;
        loop {
            // Firings before cur + min_len are suppressed.
            let fire = self.next_bit(open.cur + min_len);
            let limit = fire.unwrap_or(n);
            // Forced splits due before the firing (or the end).
            while max_len != u64::MAX && open.cur + max_len < limit {
                let p = self.split_from(open.cur);
                if let Some(out) = out.as_deref_mut() {
                    out.push(Segment {
                        start: open.cur,
                        len: p - open.cur,
                        reason: open.reason,
                    });
                }
                open = Open {
                    cur: p,
                    reason: reason::MAX_LEN,
                };
                count += 1;
            }
            match fire {
                None => break,
                Some(t) if t - open.cur >= min_len => {
                    if let Some(out) = out.as_deref_mut() {
                        out.push(Segment {
                            start: open.cur,
                            len: t - open.cur,
                            reason: open.reason,
                        });
                        let i = t as usize;
                        let code = scan
                            .fires(self.scores[i], self.scores[i - 1], scan.theta, t)
                            .unwrap_or(reason::THRESHOLD);
                        open = Open {
                            cur: t,
                            reason: code,
                        };
                    } else {
                        open.cur = t;
                    }
                    count += 1;
                }
                // Pushed out of reach by a split: the walk goes on from the split.
                Some(_) => {}
            }
        }
        if let Some(out) = out {
            out.push(Segment {
                start: open.cur,
                len: n - open.cur,
                reason: open.reason,
            });
        }
        count
    }

    /// The first firing position at or after `p`.
    #[inline]
    fn next_bit(&self, p: u64) -> Option<u64> {
        let bits = &self.scratch.bits;
        let mut w = (p / 64) as usize;
        if w >= bits.len() {
            return None;
        }
        let mut word = bits[w] & (!0u64 << (p % 64));
        loop {
            if word != 0 {
                return Some(w as u64 * 64 + word.trailing_zeros() as u64);
            }
            w += 1;
            if w >= bits.len() {
                return None;
            }
            word = bits[w];
        }
    }

    /// Where the scan splits a segment open at `cur` that reaches `max_len` (searched
    /// once per start).
    #[inline]
    fn split_from(&mut self, cur: u64) -> u64 {
        let known = self.scratch.split[cur as usize];
        if known != u32::MAX {
            return known as u64;
        }
        let p = self
            .window
            .best_split(cur + self.min_len, cur + self.max_len);
        self.scratch.split[cur as usize] = p as u32;
        p
    }
}

/// [`super::best_distinct_threshold`] with the counter's counts.
fn best_distinct_threshold(
    scores: &[f64],
    rules: &Rules,
    target: f64,
    counter: &mut Counter,
) -> f64 {
    let n = scores.len();
    let (lo_v, hi_v) = finite_range(scores);
    if n < 2 || lo_v > hi_v {
        return f64::INFINITY;
    }
    let wanted = n as f64 / target;
    let objective = |count: u64| (n as f64 / count.max(1) as f64 - target).abs();
    let simple = rules.relative.is_none() && rules.min_len == 1 && rules.max_len.is_none();
    if simple && hi_v > lo_v {
        return calibrate_by_rank(scores, lo_v, hi_v, wanted, objective);
    }
    let mut best: Option<(f64, u64)> = None;
    let Some((lo_edge, hi_edge)) =
        search_edges(scores, (lo_v, hi_v), wanted, counter, &objective, &mut best)
    else {
        return best.map_or(f64::INFINITY, |b| b.0);
    };
    search_inside(
        scores, lo_edge, hi_edge, wanted, counter, &objective, &mut best,
    );
    best.map_or(f64::INFINITY, |b| b.0)
}

/// [`super::search_edges`] (stage 1) with the counter's counts and the scratch's
/// buffers: the same edges, estimates and probes.
fn search_edges(
    scores: &[f64],
    (lo_v, hi_v): (f64, f64),
    wanted: f64,
    counter: &mut Counter,
    objective: &impl Fn(u64) -> f64,
    best: &mut Option<(f64, u64)>,
) -> Option<(f64, f64)> {
    let edges = BucketEdges::new(lo_v, hi_v);
    let (width, buckets) = (edges.width, edges.buckets);
    let edge = |k: usize| edges.edge(k);
    // The finite scores' bucket numbers, sorted: the number of scores in buckets `k..`
    // is a search (the general search's sparse form, the same numbers).
    let mut sorted = std::mem::take(&mut counter.scratch.buckets);
    sorted.clear();
    // Non-finite scores get the spare number CALIBRATION_BUCKETS (sorted last, then
    // dropped): a loop without a branch per score.
    sorted.extend(scores.iter().map(|&s| {
        let b = if width > 0.0 {
            (((s - lo_v) / width) as usize).min(buckets - 1) as u16
        } else {
            0
        };
        if s.is_finite() {
            b
        } else {
            CALIBRATION_BUCKETS as u16
        }
    }));
    sorted.sort_unstable();
    let finite = sorted.partition_point(|&b| (b as usize) < CALIBRATION_BUCKETS);
    sorted.truncate(finite);
    let above = |k: usize| (sorted.len() - sorted.partition_point(|&b| (b as usize) < k)) as f64;
    let mut seen = std::mem::take(&mut counter.scratch.seen);
    seen.clear();
    let (lo, hi) = secant_search(
        buckets + 1,
        wanted,
        |k| counter.count(Threshold::above(edge(k))),
        above,
        &mut seen,
    );
    for &(k, c) in &seen {
        keep_closer(best, edge(k), c, objective);
    }
    counter.scratch.buckets = sorted;
    counter.scratch.seen = seen;
    (hi > lo).then(|| (edge(lo), edge(hi)))
}

/// [`super::Candidates`] (stage 2: the bucket's lower edge, then each distinct score in
/// it, with the number of scores above each) and their search, in the scratch's buffers.
fn search_inside(
    scores: &[f64],
    lo_edge: f64,
    hi_edge: f64,
    wanted: f64,
    counter: &mut Counter,
    objective: &impl Fn(u64) -> f64,
    best: &mut Option<(f64, u64)>,
) {
    let ShortScratch {
        inside,
        thresholds,
        above,
        seen,
        ..
    } = &mut *counter.scratch;
    let (mut inside, mut thresholds, mut above, mut seen) = (
        std::mem::take(inside),
        std::mem::take(thresholds),
        std::mem::take(above),
        std::mem::take(seen),
    );
    compact(scores, &mut inside, |s| s > lo_edge && s <= hi_edge);
    inside.sort_unstable_by(f64::total_cmp);
    let above_hi = scores.iter().filter(|&&s| s > hi_edge).count() as f64;
    thresholds.clear();
    above.clear();
    thresholds.push(lo_edge);
    above.push(above_hi + inside.len() as f64);
    for (i, &v) in inside.iter().enumerate() {
        if inside.get(i + 1) != Some(&v) {
            thresholds.push(v);
            above.push(above_hi + (inside.len() - i - 1) as f64);
        }
    }
    seen.clear();
    secant_search(
        thresholds.len(),
        wanted,
        |i| counter.count(Threshold::above(thresholds[i])),
        |i| above[i],
        &mut seen,
    );
    for &(i, c) in &seen {
        keep_closer(best, thresholds[i], c, objective);
    }
    let scratch = &mut *counter.scratch;
    (
        scratch.inside,
        scratch.thresholds,
        scratch.above,
        scratch.seen,
    ) = (inside, thresholds, above, seen);
}

/// [`super::break_ties`] with the counter's counts.
fn break_ties(
    scores: &[f64],
    rules: &Rules,
    value: f64,
    target: f64,
    counter: &mut Counter,
) -> Threshold {
    let n = scores.len();
    let wanted = n as f64 / target;
    let objective = |count: u64| (n as f64 / count.max(1) as f64 - target).abs();
    let simple = rules.relative.is_none() && rules.min_len == 1 && rules.max_len.is_none();
    let found = counter.count(Threshold::above(value));
    if (found as f64 - wanted).abs() < 1.0 || n < 2 {
        return Threshold::above(value);
    }
    let Some(tied) = tied_value(&scores[1..], value, (found as f64) < wanted) else {
        return Threshold::above(value);
    };
    let mut tied_at = std::mem::take(&mut counter.scratch.tied);
    let mut ranks = std::mem::take(&mut counter.scratch.ranks);
    // The tied positions (from 1), written without a branch per score, then ranked.
    tied_at.clear();
    tied_at.resize(n, (0, 0));
    let mut m = 0;
    for (t, &s) in scores.iter().enumerate().skip(1) {
        tied_at[m].0 = t as u64;
        m += (s == tied) as usize;
    }
    tied_at.truncate(m);
    for p in tied_at.iter_mut() {
        p.1 = tie_rank(p.0);
    }
    ranks.clear();
    ranks.extend(tied_at.iter().map(|&(_, r)| r));
    counter.scratch.tied = tied_at;
    counter.tied_value = tied;
    if ranks.len() < 2 {
        // One tied position: both its cases are distinct thresholds, already searched.
        counter.scratch.ranks = ranks;
        return Threshold::above(value);
    }
    ranks.sort_unstable();
    let mut best = (Threshold::above(value), found);
    if simple {
        simple_ties(&ranks, tied, found, wanted, &objective, &mut best);
    } else {
        search_ties(
            &ranks,
            tied,
            found,
            wanted,
            |th| counter.count(th),
            objective,
            &mut best,
        );
    }
    counter.scratch.ranks = ranks;
    best.0
}

/// [`super::tied_value`], without a branch per score: the same folds (`f64::max` /
/// `f64::min` over the same values in the same order).
fn tied_value(scores: &[f64], value: f64, fewer: bool) -> Option<f64> {
    let v = if fewer {
        scores.iter().fold(f64::NEG_INFINITY, |m, &v| {
            if v.is_finite() && v <= value {
                m.max(v)
            } else {
                m
            }
        })
    } else {
        scores.iter().fold(f64::INFINITY, |m, &v| {
            if v.is_finite() && v > value {
                m.min(v)
            } else {
                m
            }
        })
    };
    v.is_finite().then_some(v)
}

/// The scores for which `keep` holds, in order, into `out` (written without a branch
/// per score).
fn compact(scores: &[f64], out: &mut Vec<f64>, keep: impl Fn(f64) -> bool) {
    out.clear();
    out.resize(scores.len(), 0.0);
    let mut m = 0;
    for &s in scores {
        out[m] = s;
        m += keep(s) as usize;
    }
    out.truncate(m);
}

/// The tie cut of a threshold rule alone (min_len 1, no max_len, no relative rule),
/// where every firing tied position adds one segment: as in [`super::break_ties`].
fn simple_ties(
    ranks: &[u64],
    tied: f64,
    found: u64,
    wanted: f64,
    objective: &impl Fn(u64) -> f64,
    best: &mut (Threshold, u64),
) {
    let at = |j: usize| Threshold {
        value: tied,
        tie_cut: if j == 0 {
            0
        } else {
            ranks[j - 1].saturating_add(1)
        },
    };
    let base = if (found as f64) < wanted {
        found
    } else {
        found - ranks.len() as u64
    };
    let j = ((wanted - base as f64).round().max(0.0) as usize).min(ranks.len());
    for k in [j.saturating_sub(1), j, (j + 1).min(ranks.len())] {
        let c = base + k as u64;
        if objective(c) < objective(best.1) {
            *best = (at(k), c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{calibrate_threshold, segment_scores, Combine};
    use super::*;
    use proptest::prelude::*;

    /// Scores with many ties (a few levels), NaN and infinities now and then.
    fn scores_strategy() -> impl Strategy<Value = Vec<f64>> {
        let level = prop_oneof![
            20 => (0u8..6).prop_map(|l| l as f64 * 0.25),
            10 => -3.0f64..3.0,
            1 => Just(f64::NAN),
            1 => Just(f64::INFINITY),
            1 => Just(f64::NEG_INFINITY),
            1 => Just(-0.0),
            1 => Just(0.0),
        ];
        proptest::collection::vec(level, 0..400)
    }

    fn rules_strategy() -> impl Strategy<Value = Rules> {
        (
            1usize..6,
            prop::option::of(1usize..48),
            1.0f64..12.0,
            prop::option::of((-1.0f64..1.0, any::<bool>())),
        )
            .prop_map(|(min_len, max_len, target, relative)| {
                let max_len = max_len.map(|m| m.max(min_len));
                let hi = max_len.map_or(f64::INFINITY, |m| m as f64);
                Rules {
                    min_len,
                    max_len,
                    target_len: Some(target.max(min_len as f64).min(hi)),
                    relative: relative.map(|r| r.0),
                    combine: relative.map(|r| if r.1 { Combine::And } else { Combine::Or }),
                    ..Rules::default()
                }
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// The same threshold as the general search, and the same segments as
        /// `segment_scores`, reusing one scratch across series.
        #[test]
        fn matches_the_general_search(
            series in proptest::collection::vec(scores_strategy(), 1..4),
            rules in rules_strategy(),
        ) {
            prop_assume!(rules.validate().is_ok());
            let mut scratch = ShortScratch::default();
            for s in &series {
                if s.len() >= 2 {
                    let want = calibrate_threshold(s, &rules).unwrap();
                    let got = calibrate_short(s, &rules, &mut scratch);
                    prop_assert_eq!(got.value.to_bits(), want.value.to_bits());
                    prop_assert_eq!(got.tie_cut, want.tie_cut);
                }
                let mut got = Vec::new();
                segment_short(s, &rules, &mut scratch, &mut got).unwrap();
                prop_assert_eq!(got, segment_scores(s, &rules).unwrap());
            }
        }
    }

    #[test]
    fn every_count_is_the_scans_count() {
        // The counter against the scan itself, at every distinct score and tie cut.
        let mut seed = 7u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            seed >> 33
        };
        for case in 0..300 {
            let n = 1 + (next() % 300) as usize;
            let s: Vec<f64> = (0..n)
                .map(|_| match next() % 20 {
                    0 => f64::NAN,
                    _ => (next() % 7) as f64,
                })
                .collect();
            let rules = Rules {
                min_len: 1 + case % 4,
                max_len: (case % 3 != 0).then_some(4 + case % 29),
                relative: (case % 5 == 0).then_some(0.5),
                combine: (case % 5 == 0).then_some(Combine::Or),
                target_len: Some(4.0),
                ..Rules::default()
            };
            let mut scratch = ShortScratch::default();
            let mut counter = Counter::new(&s, &rules, &mut scratch);
            for v in [-1.0, 0.0, 1.0, 2.5, 3.0, 6.0, f64::NEG_INFINITY] {
                for tie_cut in [0, 1, u64::MAX / 3, u64::MAX / 2, u64::MAX] {
                    let th = Threshold { value: v, tie_cut };
                    assert_eq!(
                        counter.count(th),
                        super::super::count_segments(&s, &rules, th),
                        "case {case} at {th:?}"
                    );
                    let (mut got, mut want) = (Vec::new(), Vec::new());
                    counter.walk(th, Some(&mut got));
                    cut(&s, &rules, th, &mut want);
                    assert_eq!(got, want, "case {case} at {th:?}");
                }
            }
        }
    }

    #[test]
    fn other_rules_take_the_general_path() {
        let s: Vec<f64> = (0..100).map(|i| ((i * 37) % 11) as f64).collect();
        let mut scratch = ShortScratch::default();
        for rules in [
            Rules {
                threshold: Some(5.0),
                ..Rules::default()
            },
            Rules {
                budget: Some(9),
                ..Rules::default()
            },
            Rules {
                target_len: Some(6.0),
                calibration: Calibration::Online,
                ..Rules::default()
            },
        ] {
            let mut got = Vec::new();
            segment_short(&s, &rules, &mut scratch, &mut got).unwrap();
            assert_eq!(got, segment_scores(&s, &rules).unwrap());
        }
    }
}
