//! Batch calibration of long score arrays in about one pass over the scores.
//!
//! The general search ([`super::calibrate_threshold`]) runs the rules over the whole
//! array at every probe, then once more to cut: with hard lengths that is ten or more
//! passes. Here the threshold is first *estimated* on a sample (spread chunks holding
//! 1/32 of the scores), which gives a bracket `[lo, hi]` of score values that holds the
//! exact answer unless the series is far from homogeneous. One pass over the whole array
//! then scans the rules at `lo` (a [`Reference`]) and collects the positions whose score
//! lies in the bracket, the only positions whose firing any threshold in the bracket can
//! change. Every probe of the exact search, the tie breaking and the final cut are then
//! the reference *moved* to another threshold: a re-scan around the positions that fire
//! differently, never the whole array again, and each probe moves from the previous one,
//! so the moves shrink as the search closes in.
//!
//! The answer is the one the general search gives wherever the count of segments is
//! monotone in the threshold (always without `max_len`): the sample only places the
//! bracket, and a bracket that does not hold the target count (checked exactly) sends
//! the call back to the general search.

use std::cell::RefCell;

use super::{
    keep_closer, range_bits, reason, scan_fixed, search_ties, secant_search, tagged, tie_rank,
    Open, Reference, Rules, Scan, Segment, Threshold, Window, FORCED,
};

/// Arrays shorter than this take the general search (a few passes over a short array
/// cost less than sampling).
pub(super) const MIN_SAMPLED: usize = 1 << 15;

/// How the sample is drawn: `chunks` equal chunks spread evenly over the array, holding
/// `1 / fraction` of it together.
#[derive(Debug, Clone, Copy)]
pub(super) struct Sampling {
    pub chunks: usize,
    pub fraction: usize,
}

impl Sampling {
    pub(super) const DEFAULT: Self = Self {
        chunks: 64,
        fraction: 32,
    };
}

/// Buckets of the sample histogram that steers the estimate.
const EDGES: usize = 1024;

/// Calibrated segments of `scores` (with `rules.target_len`, batch calibration, native
/// rules) and the threshold that made them, or `None` when the sample cannot place a
/// bracket around the target (the caller then runs the general search).
pub(super) fn calibrated_segments(
    scores: &[f64],
    rules: &Rules,
    sampling: Sampling,
) -> Option<(Vec<Segment>, Threshold)> {
    let target = rules.target_len?;
    let n = scores.len();
    // Chunks of at least 128 scores (fewer chunks on shorter arrays).
    let chunk_count = (n / (sampling.fraction * 128)).clamp(1, sampling.chunks.max(1));
    let len = n / (chunk_count * sampling.fraction);
    if chunk_count < 8 || len < 128 {
        return None;
    }
    let wanted = n as f64 / target;
    let objective = |count: u64| (n as f64 / count.max(1) as f64 - target).abs();

    // The sample: chunk k starts at k n / chunks.
    let chunks: Vec<&[f64]> = (0..chunk_count)
        .map(|k| {
            let s = k * n / chunk_count;
            &scores[s..s + len]
        })
        .collect();
    let (mut lo_s, mut hi_s) = (f64::INFINITY, f64::NEG_INFINITY);
    for c in &chunks {
        let (l, h) = super::finite_range(c);
        lo_s = lo_s.min(l);
        hi_s = hi_s.max(h);
    }
    if lo_s >= hi_s || lo_s.is_nan() || hi_s.is_nan() {
        return None;
    }
    let width = (hi_s - lo_s) / EDGES as f64;
    if !(width.is_finite() && width > 0.0) {
        // A range too wide for f64 buckets (or too narrow to split): the general search.
        return None;
    }
    let edge = |k: usize| {
        if k >= EDGES {
            hi_s
        } else {
            lo_s + width * k as f64
        }
    };
    let mut above = vec![0u64; EDGES + 1];
    for c in &chunks {
        for &s in c.iter().filter(|s| s.is_finite()) {
            above[(((s - lo_s) / width) as usize).min(EDGES - 1)] += 1;
        }
    }
    for k in (0..EDGES).rev() {
        above[k] += above[k + 1];
    }
    let scale = n as f64 / (chunk_count * len) as f64;
    // Estimated segments at edge k: each chunk counted from a fresh start (the rules
    // restarted there), scaled to the whole array; with the per-chunk counts.
    let memo: RefCell<Vec<(usize, u64, Vec<u64>)>> = RefCell::new(Vec::new());
    let mut estimate = |k: usize| -> u64 {
        if let Some(e) = memo.borrow().iter().find(|e| e.0 == k) {
            return e.1;
        }
        let th = Threshold::above(edge(k));
        let per: Vec<u64> = chunks
            .iter()
            .map(|c| super::count_segments(c, rules, th))
            .collect();
        let total = (per.iter().sum::<u64>() as f64 * scale).round() as u64;
        memo.borrow_mut().push((k, total, per));
        total
    };
    let x_of = |k: usize| above[k] as f64 * scale;
    let mut seen = Vec::new();
    let (a, b) = secant_search(EDGES + 1, wanted, &mut estimate, x_of, &mut seen);
    let memo = memo.into_inner();
    let probe = |k: usize| memo.iter().find(|e| e.0 == k);
    let (pa, pb) = (probe(a)?, probe(b)?);
    // The margin: four standard errors of the estimate, from the spread of the per-chunk
    // counts at the bracket's lower end (at least 0.5%, at most 25%).
    let per = &pa.2;
    let mean = per.iter().sum::<u64>() as f64 / per.len() as f64;
    let var = per.iter().map(|&c| (c as f64 - mean).powi(2)).sum::<f64>() / per.len() as f64;
    let rel_se = var.sqrt() / mean.max(1.0) / (per.len() as f64).sqrt();
    let margin = (4.0 * rel_se).clamp(0.005, 0.25);
    // Segments per firing position near the target (the local slope of the estimate in
    // x, the positions above the threshold): the bracket's ends are where the estimate,
    // extended along it, is off the target by the margin.
    let (xa, xb) = (x_of(a), x_of(b));
    let slope = if a != b && xa != xb {
        ((pa.1 as f64 - pb.1 as f64) / (xa - xb)).max(1e-3)
    } else {
        (pa.1 as f64 / xa.max(1.0)).max(1e-3)
    };
    let x_centre = xa - (pa.1 as f64 - wanted) / slope;
    let x_span = margin * wanted / slope;
    // The first edge whose x is at or below `x` (x falls as the edge rises).
    let edge_at = |x: f64| -> usize {
        let (mut l, mut r) = (0usize, EDGES);
        while l < r {
            let m = l + (r - l) / 2;
            if x_of(m) > x {
                l = m + 1;
            } else {
                r = m;
            }
        }
        l
    };
    let lo_k = edge_at(x_centre + x_span).saturating_sub(1);
    let hi_k = edge_at(x_centre - x_span).min(EDGES);
    let centre_k = edge_at(x_centre).clamp(lo_k, hi_k);
    if lo_k >= hi_k {
        return None;
    }
    let (lo, hi) = (edge(lo_k), edge(hi_k));

    // The one pass: the reference at the estimate, and the positions in the bracket.
    let reference =
        Reference::scan_collect(scores, rules, Threshold::above(edge(centre_k)), lo, hi);
    let c_centre = reference.segments();
    // Thresholds: `lo`, then every distinct score in (lo, hi]; counts do not increase
    // along the list. x: the count predicted from the reference's exact count along the
    // sample's slope, in the bracket positions that fire.
    // The scores at the bracket positions (read with them in the pass), as distinct
    // values ascending with their counts.
    let runs = value_runs(&reference.near, lo);
    let total: usize = runs.iter().map(|r| r.1).sum();
    let centre = edge(centre_k);
    // (No run holds NaN, so `>` is "not at or below".)
    let fired_at_centre: usize = runs.iter().filter(|r| r.0 > centre).map(|r| r.1).sum();
    let mut thresholds = vec![lo];
    let mut fired_above = vec![total];
    let mut through = 0usize;
    for (i, &(v, c)) in runs.iter().enumerate() {
        through += c;
        // Values equal as f64 (the two zeros) make one threshold, the later one.
        if runs.get(i + 1).map(|r| r.0) != Some(v) {
            thresholds.push(v);
            fired_above.push(total - through);
        }
    }
    let x_at =
        |i: usize| c_centre as f64 + slope * (fired_above[i] as f64 - fired_at_centre as f64);
    let current = RefCell::new(Some(reference));
    let move_to = |th: Threshold| -> u64 {
        let mut slot = current.borrow_mut();
        let r = slot.take().expect("a reference").moved_to(th);
        let c = r.segments();
        *slot = Some(r);
        c
    };
    let mut probes = Vec::new();
    let (a, b) = secant_search(
        thresholds.len(),
        wanted,
        |i| move_to(Threshold::above(thresholds[i])),
        x_at,
        &mut probes,
    );
    let count_of = |i: usize| probes.iter().find(|p| p.0 == i).map(|p| p.1);
    // The target must lie inside the bracket, exactly (the counts at the search's final
    // bracket enclose it): else the general search.
    let (ca, cb) = (count_of(a)?, count_of(b)?);
    if (ca as f64) < wanted || (cb as f64) > wanted {
        return None;
    }
    let mut best: Option<(usize, u64)> = None;
    for &(i, c) in &probes {
        keep_closer(&mut best, i, c, objective);
    }
    let (best_i, found) = best?;
    let value = thresholds[best_i];
    let mut chosen = (Threshold::above(value), found);

    // Ties: the positions holding the value that decides (as in the general search),
    // fired in the order of their tie rank; all of them lie in the bracket.
    if (found as f64 - wanted).abs() >= 1.0 {
        // The value whose ties decide lies in the bracket unless the best threshold is
        // one of its ends; then the general search.
        let tied = if (found as f64) < wanted {
            (best_i > 0).then_some(value)?
        } else {
            thresholds.get(best_i + 1).copied()?
        };
        {
            let mut ranks: Vec<u64> = {
                let slot = current.borrow();
                let r = slot.as_ref().expect("a reference");
                r.cand
                    .iter()
                    .zip(&r.near)
                    .filter(|&(_, &[v, _])| v == tied)
                    .map(|(&t, _)| tie_rank(t))
                    .collect()
            };
            if ranks.len() >= 2 {
                ranks.sort_unstable();
                search_ties(&ranks, tied, found, wanted, move_to, objective, &mut chosen);
            }
        }
    }
    let reference = moved_if_needed(current.into_inner().expect("a reference"), chosen.0);
    Some((reference.segments_out(), chosen.0))
}

/// `reference` moved to `th`, unless it is the scan at `th` already.
fn moved_if_needed(reference: Reference<'_>, th: Threshold) -> Reference<'_> {
    if reference.scan.theta.to_bits() != th.value.to_bits() || reference.scan.tie_cut != th.tie_cut
    {
        reference.moved_to(th)
    } else {
        reference
    }
}

impl<'a> Reference<'a> {
    /// The reference scan at `at`, with the bracket `[lo, hi]` collected in the same pass
    /// (block by block, while each block of scores is in cache).
    pub(super) fn scan_collect(
        scores: &'a [f64],
        rules: &'a Rules,
        at: Threshold,
        lo: f64,
        hi: f64,
    ) -> Self {
        let scan = Scan::new(rules, Some(at));
        let mut starts = Vec::with_capacity(scores.len() / 8 + 1);
        let mut cand = Vec::new();
        let mut near = Vec::new();
        let mut open = Open::first();
        let mut prev = f64::NAN;
        let window = Window::whole(scores);
        const BLOCK: usize = 4096;
        for (j, block) in scores.chunks(BLOCK).enumerate() {
            let base = (j * BLOCK) as u64;
            scan_fixed(
                &mut open,
                &mut prev,
                block,
                base,
                &scan,
                &window,
                &mut |g| starts.push(tagged(g.start, g.reason)),
            );
            for (k, quad) in block.chunks(64).enumerate() {
                let mut bits = range_bits(quad, lo, hi);
                while bits != 0 {
                    let i = bits.trailing_zeros() as u64;
                    bits &= bits - 1;
                    let t = base + (k * 64) as u64 + i;
                    if t > 0 {
                        cand.push(t);
                        near.push([scores[t as usize], scores[t as usize - 1]]);
                    }
                }
            }
        }
        starts.push(tagged(open.cur, open.reason));
        Self {
            scores,
            rules,
            scan,
            starts,
            cand,
            near,
            lo,
            hi,
        }
    }

    /// The reference scan at `th` (whose value must lie in the bracket), made from this
    /// one by re-scanning only around the bracket positions that fire differently; the
    /// bracket stays.
    pub(super) fn moved_to(self, th: Threshold) -> Self {
        debug_assert!(self.covers(th.value));
        let mut starts = Vec::with_capacity(self.starts.len() + 64);
        self.rescan(th, Some(&mut starts));
        Self {
            scan: Scan::new(self.rules, Some(th)),
            starts,
            ..self
        }
    }

    /// The segments of this scan, each with the reason it started: the first starts the
    /// series, a forced start is `max_len`, any other fired (the reason is the rule's at
    /// this scan's threshold).
    pub(super) fn segments_out(&self) -> Vec<Segment> {
        let n = self.scores.len() as u64;
        let scores = self.scores;
        let mut out = Vec::with_capacity(self.starts.len());
        for (i, &tag) in self.starts.iter().enumerate() {
            let p = tag & !FORCED;
            let end = self.starts.get(i + 1).map_or(n, |&q| q & !FORCED);
            let why = if p == 0 {
                reason::START
            } else if tag & FORCED != 0 {
                reason::MAX_LEN
            } else if !self.scan.has_relative {
                // The threshold rule alone: every fired start is the threshold's.
                reason::THRESHOLD
            } else {
                let (s, before) = (scores[p as usize], scores[p as usize - 1]);
                self.scan
                    .fires(s, before, self.scan.theta, p)
                    .unwrap_or(reason::THRESHOLD)
            };
            if end > p {
                out.push(Segment {
                    start: p,
                    len: end - p,
                    reason: why,
                });
            }
        }
        out
    }
}

/// Sorts `values` in `f64::total_cmp` order, as integer keys (the same order: for a
/// negative number every bit but the sign flips, which makes the keys' signed order the
/// total order; the flip undoes itself). Equal keys are equal bit patterns, so an
/// unstable sort gives the same slice as a stable one; comparing integers is cheaper
/// than calling `total_cmp` at every comparison.
pub(super) fn sort_total(values: &mut [f64]) {
    let key = |b: i64| b ^ (((b >> 63) as u64) >> 1) as i64;
    let mut keys: Vec<i64> = values.iter().map(|v| key(v.to_bits() as i64)).collect();
    keys.sort_unstable();
    for (v, k) in values.iter_mut().zip(keys) {
        *v = f64::from_bits(key(k) as u64);
    }
}

/// The distinct bit patterns of the scores above `lo` among the bracket's scores
/// (`near[i][0]`), in [`sort_total`] order, each with how many scores hold it: the
/// bracket's sorted values run-length encoded. On these profiles a few hundred values
/// hold hundreds of thousands of bracket positions, so they are counted in a small hash
/// table (open addressing, keyed by the bits) and only the distinct values sorted; when
/// the values turn out mostly distinct (more than an eighth of them, past 4096) the
/// table is abandoned for a plain sort.
pub(super) fn value_runs(near: &[[f64; 2]], lo: f64) -> Vec<(f64, usize)> {
    // An empty slot: a NaN pattern no value above `lo` has (NaN is never above it).
    const EMPTY: u64 = u64::MAX;
    let limit = (near.len() / 8).max(4096);
    let mut bits = 10u32;
    // Keys and counts in two plain arrays (slot `i` of both).
    let mut keys: Vec<u64> = vec![EMPTY; 1 << bits];
    let mut counts: Vec<u64> = vec![0; 1 << bits];
    let mut distinct = 0usize;
    let slot_of =
        |key: u64, bits: u32| (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - bits)) as usize;
    let find = |keys: &[u64], key: u64, bits: u32| -> usize {
        let mask = (1usize << bits) - 1;
        let mut i = slot_of(key, bits);
        while keys[i] != key && keys[i] != EMPTY {
            i = (i + 1) & mask;
        }
        i
    };
    let mut hashed = true;
    for &[v, _] in near {
        if v <= lo || v.is_nan() {
            continue;
        }
        let key = v.to_bits();
        let i = find(&keys, key, bits);
        if keys[i] == EMPTY {
            keys[i] = key;
            distinct += 1;
        }
        counts[i] += 1;
        if distinct * 2 > keys.len() {
            if distinct > limit {
                hashed = false;
                break;
            }
            // Grow: re-insert every entry into tables twice the size.
            bits += 1;
            let mut grown_keys: Vec<u64> = vec![EMPTY; 1 << bits];
            let mut grown_counts: Vec<u64> = vec![0; 1 << bits];
            for (&k, &c) in keys.iter().zip(&counts).filter(|e| *e.0 != EMPTY) {
                let i = find(&grown_keys, k, bits);
                grown_keys[i] = k;
                grown_counts[i] = c;
            }
            keys = grown_keys;
            counts = grown_counts;
        }
    }
    let mut runs: Vec<(f64, usize)> = Vec::new();
    if hashed {
        let mut values: Vec<f64> = keys
            .iter()
            .filter(|&&k| k != EMPTY)
            .map(|&k| f64::from_bits(k))
            .collect();
        sort_total(&mut values);
        for v in values {
            let i = find(&keys, v.to_bits(), bits);
            runs.push((v, counts[i] as usize));
        }
    } else {
        let mut values: Vec<f64> = near.iter().map(|p| p[0]).filter(|&v| v > lo).collect();
        sort_total(&mut values);
        for v in values {
            match runs.last_mut() {
                Some(last) if last.0.to_bits() == v.to_bits() => last.1 += 1,
                _ => runs.push((v, 1)),
            }
        }
    }
    runs
}
