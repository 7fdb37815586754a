//! Merge planning: order-preserving, hierarchical merges of adjacent units (tokens or
//! segments) inside a local window, planned ahead of the model from the data.
//!
//! # The plan
//!
//! Units are numbered `0..N` over a batch of series (series `b` owns units
//! `series_offsets[b]..series_offsets[b+1]`). Each *level* merges groups of the previous
//! level (level 0 starts from the units themselves). A level only ever merges
//! **disjoint adjacent pairs** of the previous level's groups, never across series, so
//! a level at most halves a series (as ToMe's bipartite matching at most halves a
//! sequence per layer). A pair is *eligible* when the merged group spans at most
//! `window` original units and, with `max_size`, weighs at most `max_size` (weights
//! default to 1 per unit; with segments as units, pass their lengths to count samples).
//!
//! # Which pairs
//!
//! Each eligible pair has a similarity (higher = more alike). For a level asked to make
//! `r` merges in a series, the planner picks the `r` disjoint eligible pairs of
//! **maximum total similarity** (exactly `r` whenever the series has `r` disjoint
//! eligible pairs; the largest possible number otherwise, and the plan records both).
//! A threshold level picks the disjoint eligible pairs maximising the total of
//! `similarity - threshold`, so every chosen pair is above the threshold.
//!
//! Both are solved exactly by the classic "pick k non-adjacent items" exchange
//! algorithm on the chain of pairs: take the best pair, then replace it and its two
//! neighbours by one node worth `left + right - taken` (taking that node later means
//! giving the middle pair up for both neighbours). The marginal gains it yields are
//! non-increasing, every prefix is optimal for its size, and it runs in
//! `O(m log m)` for `m` pairs. The chosen set is read back from interval toggles: each
//! taken node flips the chosen/not-chosen state of every pair in its interval.
//! Ties are broken towards the leftmost pair, so the plan is deterministic.
//!
//! # Similarity
//!
//! - [`Features::Cosine`]: cosine similarity of the groups' size-weighted sums of the
//!   caller's vectors (the size-weighted average of ToMe; cosine ignores the scale). A
//!   zero vector has similarity 0 to everything.
//! - [`Features::Profile`]: the mean of a profile (e.g. an entropy profile, one or more
//!   columns) over all samples a group covers; similarity is minus the root mean square
//!   difference of two groups' means (0 = identical, more negative = less alike).
//!
//! # Schedules
//!
//! [`Schedule::Counts`] (merges per level and series: constant, ToMe's linear
//! `(r, inflect)` via [`tome_schedule`], or an explicit list), [`Schedule::Ratio`] (keep
//! `ceil(ratio * n)` units per series after `levels` levels: level `l` asks for
//! `ceil(remaining / levels_left)` merges, so a level that falls short is made up later
//! when possible), [`Schedule::Threshold`] (a fixed similarity threshold at every level)
//! and [`Schedule::Ema`] (a D2O-style adaptive threshold, see there).
//!
//! # Blocks
//!
//! With [`MergeOptions::block`], each series is planned as consecutive blocks of that
//! many units, each exactly as a series alone (schedules and statistics per block):
//! the plan a stream can make, which [`MergePlanner`] makes chunk by chunk (see
//! [`stream`] for why the plan of a whole series cannot be streamed).

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::error::{Error, ErrorKind, Result};
use crate::segment::segments::check_offsets;

mod local;
mod sparse;
pub mod stream;
pub use stream::{MergePlanner, Similarity, StreamPlan};

/// Where unit similarity comes from.
#[derive(Debug, Clone, Copy)]
pub enum Features<'a> {
    /// Caller vectors, row-major `[n_units, dim]`; cosine of size-weighted group sums.
    Cosine {
        /// `n_units * dim` values.
        vectors: &'a [f32],
        /// Columns per row (>= 1).
        dim: usize,
    },
    /// A profile over the samples the units cover, row-major `[n_samples, columns]`;
    /// unit `i` covers `unit_lengths[i]` consecutive samples, in unit order.
    Profile {
        /// `n_samples * columns` values.
        values: &'a [f64],
        /// Columns per sample (>= 1).
        columns: usize,
        /// Samples per unit (>= 1 each), summing to `n_samples`.
        unit_lengths: &'a [i64],
    },
}

/// How many merges each level makes, or how it decides.
#[derive(Debug, Clone, PartialEq)]
pub enum Schedule {
    /// Merges per series at each level (one entry per level).
    Counts(Vec<usize>),
    /// Keep `ceil(ratio * n)` units of a series of `n` after `levels` levels; level `l`
    /// aims at `ceil(n * ratio^((l+1)/levels))` groups (the same fraction per level).
    Ratio {
        /// Fraction of units kept, in (0, 1].
        ratio: f64,
        /// Number of levels (>= 1).
        levels: usize,
    },
    /// Merge disjoint eligible pairs maximising the total of `similarity - threshold`.
    Threshold {
        /// The similarity threshold.
        threshold: f64,
        /// Number of levels (>= 1).
        levels: usize,
    },
    /// D2O-style adaptive threshold, per series: at level `l`, `m_l` is the mean over
    /// groups (that have an eligible neighbour) of their best eligible neighbour
    /// similarity, and `tau_l = momentum * tau_{l-1} + (1 - momentum) * m_l`, starting
    /// from `tau_{-1} = initial` (or `m_0` when `initial` is `None`); level `l` then
    /// merges as [`Schedule::Threshold`] with `tau_l`. A level with no eligible pair
    /// keeps `tau` and merges nothing.
    Ema {
        /// `tau_{-1}`; `None` starts from the first level's mean best similarity.
        initial: Option<f64>,
        /// EMA momentum in [0, 1).
        momentum: f64,
        /// Number of levels (>= 1).
        levels: usize,
    },
}

impl Schedule {
    /// Number of levels.
    pub fn levels(&self) -> usize {
        match self {
            Schedule::Counts(c) => c.len(),
            Schedule::Ratio { levels, .. }
            | Schedule::Threshold { levels, .. }
            | Schedule::Ema { levels, .. } => *levels,
        }
    }

    fn validate(&self) -> Result<()> {
        let levels = self.levels();
        if levels == 0 {
            return Err(Error::parameter(
                "a merge plan needs at least one level, got 0 levels (an empty schedule)",
            ));
        }
        if levels > MAX_LEVELS {
            return Err(Error::parameter(format!(
                "a merge plan has at most {MAX_LEVELS} levels, got {levels}"
            )));
        }
        match *self {
            Schedule::Ratio { ratio, .. } if !(ratio > 0.0 && ratio <= 1.0) => Err(
                Error::parameter(format!("ratio must be in (0, 1], got {ratio}")),
            ),
            Schedule::Threshold { threshold, .. } if !threshold.is_finite() => Err(
                Error::parameter(format!("threshold must be finite, got {threshold}")),
            ),
            Schedule::Ema {
                initial, momentum, ..
            } => {
                if !(0.0..1.0).contains(&momentum) {
                    return Err(Error::parameter(format!(
                        "momentum must be in [0, 1), got {momentum}"
                    )));
                }
                match initial {
                    Some(t) if !t.is_finite() => Err(Error::parameter(format!(
                        "the initial threshold must be finite, got {t}"
                    ))),
                    _ => Ok(()),
                }
            }
            _ => Ok(()),
        }
    }

    fn uses_threshold(&self) -> bool {
        matches!(self, Schedule::Threshold { .. } | Schedule::Ema { .. })
    }
}

/// Most levels a plan may have (each level at most halves a series, so 64 levels
/// reduce any series to one group).
pub const MAX_LEVELS: usize = 64;

/// ToMe's schedule from a per-level `r` and an inflection in [-1, 1]: with
/// `lo = trunc(r * (1 - inflect))`, `hi = 2r - lo`, level `i` of `L` merges
/// `trunc(lo + (hi - lo) * i / (L - 1))` (a line through the mean `r`: `inflect = 0` is
/// constant, `-1` decreasing from `2r` to 0, `+1` increasing). One level gives `lo`.
pub fn tome_schedule(r: usize, inflect: f64, levels: usize) -> Result<Vec<usize>> {
    if !(-1.0..=1.0).contains(&inflect) {
        return Err(Error::parameter(format!(
            "inflect must be in [-1, 1], got {inflect}"
        )));
    }
    if levels == 0 {
        return Err(Error::parameter(
            "a merge plan needs at least one level, got 0 levels (an empty schedule)",
        ));
    }
    let lo = (r as f64 * (1.0 - inflect)).trunc();
    let hi = 2.0 * r as f64 - lo;
    if levels == 1 {
        return Ok(vec![lo as usize]);
    }
    let step = (hi - lo) / (levels - 1) as f64;
    // Both ends are >= 0 for inflect in [-1, 1], so truncation is a floor.
    Ok((0..levels)
        .map(|i| (lo + step * i as f64).trunc().max(0.0) as usize)
        .collect())
}

/// Options of a plan.
#[derive(Debug, Clone, PartialEq)]
pub struct MergeOptions {
    /// No group spans more than `window` original units (>= 2).
    pub window: usize,
    /// No group weighs more than this (sum of unit weights), when given (>= 1).
    pub max_size: Option<i64>,
    /// How many merges each level makes.
    pub schedule: Schedule,
    /// Fail (instead of recording it) when a count schedule asks a level for more merges
    /// than a series allows.
    pub strict: bool,
    /// Plan each series as consecutive independent blocks of `block` units (the last
    /// one shorter), each exactly as if it were a series alone (>= 2); `None`: one
    /// block per series. This is what a stream can plan: see [`stream`].
    pub block: Option<usize>,
}

/// One level of a plan. Group ids count over the whole batch, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MergeLevel {
    /// For each group of the previous level (the units, at level 0): its group here.
    pub group_ids: Vec<i32>,
    /// For each original unit: its group here (the unmerge gather index).
    pub source: Vec<i32>,
    /// Weight of each group (sum of its unit weights).
    pub sizes: Vec<i64>,
    /// `ln(size)` of each group, for proportional attention.
    pub log_sizes: Vec<f32>,
    /// Original units per group, cumulative with a leading 0 (`n_groups + 1` entries).
    pub cu_seqlens: Vec<i32>,
    /// Groups per series, cumulative with a leading 0 (`n_series + 1` entries).
    pub series_offsets: Vec<i64>,
    /// Merges asked of each series (-1 for threshold schedules).
    pub requested: Vec<i64>,
    /// Merges made in each series.
    pub achieved: Vec<i64>,
    /// Most disjoint eligible pairs each series had at this level.
    pub capacity: Vec<i64>,
    /// Threshold used in each series (NaN for count schedules).
    pub thresholds: Vec<f64>,
    /// Blocks per series, cumulative with a leading 0 (`n_series + 1` entries): the
    /// per-series statistics above (`requested`, `achieved`, `capacity`, `thresholds`)
    /// hold one entry per *block*; without [`MergeOptions::block`] a block is a series.
    pub block_offsets: Vec<i64>,
}

/// A merge plan: one [`MergeLevel`] per level.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MergePlan {
    /// The levels, first to last.
    pub levels: Vec<MergeLevel>,
}

/// The units' features, validated: where each block's level-0 groups (one per unit) take
/// their feature sums from.
#[derive(Clone, Copy)]
enum UnitFeatures<'a> {
    /// Caller vectors, `dim` per unit; a group's sum weighs each unit by its weight.
    Cosine(&'a [f32]),
    /// One profile row per unit: the row is the unit's sum, and a group's sample count
    /// is its span.
    Rows(&'a [f64]),
    /// Profile rows, `unit_lengths[u]` of them per unit, summed per unit; sample counts
    /// are kept per group.
    Samples(&'a [f64], &'a [i64]),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Cosine,
    Profile,
}

/// Validates the inputs; returns where the units' features come from, the kind of
/// similarity, the columns per unit and the number of units.
///
/// With `scanned` the caller has already checked every value (the streaming planner
/// checks each chunk as it arrives, and a restored checkpoint as it is read): the
/// passes over the weights, unit lengths and values are skipped, the shapes are still
/// checked.
fn check_inputs<'a>(
    series_offsets: &[i64],
    weights: Option<&[i64]>,
    features: &Features<'a>,
    scanned: bool,
) -> Result<(UnitFeatures<'a>, Kind, usize, usize)> {
    let n = match features {
        Features::Cosine { vectors, dim } => {
            if *dim == 0 {
                return Err(Error::parameter(
                    "vectors must have at least one column, got 0",
                ));
            }
            if vectors.len() % dim != 0 {
                return Err(Error::parameter(format!(
                    "vectors hold {} values, not a whole number of rows of {dim}",
                    vectors.len()
                )));
            }
            vectors.len() / dim
        }
        Features::Profile { unit_lengths, .. } => unit_lengths.len(),
    };
    let expected = *series_offsets.last().unwrap_or(&0);
    if series_offsets.is_empty() || expected != n as i64 {
        let what = match features {
            Features::Cosine { .. } => format!("vectors have {n} rows"),
            Features::Profile { .. } => format!("there are {n} units"),
        };
        return Err(Error::parameter(format!(
            "{what} but the series offsets cover {expected} units"
        )));
    }
    check_offsets(series_offsets, n)?;
    if n >= i32::MAX as usize {
        return Err(Error::parameter(format!(
            "at most {} units fit int32 group ids and cu_seqlens, got {n}",
            i32::MAX - 1
        )));
    }
    if let Some(w) = weights {
        if w.len() != n {
            return Err(Error::parameter(format!(
                "weights must have one entry per unit ({n}), got {}",
                w.len()
            )));
        }
        if let Some(i) = (!scanned).then(|| w.iter().position(|&v| v < 1)).flatten() {
            return Err(Error::parameter(format!(
                "weights must be >= 1, got weights[{i}] = {}",
                w[i]
            )));
        }
    }
    match *features {
        Features::Cosine { vectors, dim } => {
            if let Some(i) = (!scanned)
                .then(|| vectors.iter().position(|v| !v.is_finite()))
                .flatten()
            {
                return Err(Error::new(
                    ErrorKind::NonFinite { index: i / dim },
                    format!(
                        "vectors[{}, {}] = {} is not finite; similarities need finite vectors",
                        i / dim,
                        i % dim,
                        vectors[i]
                    ),
                ));
            }
            Ok((UnitFeatures::Cosine(vectors), Kind::Cosine, dim, n))
        }
        Features::Profile {
            values,
            columns,
            unit_lengths,
        } => {
            if columns == 0 {
                return Err(Error::parameter(
                    "the profile must have at least one column, got 0",
                ));
            }
            if let Some(i) = (!scanned)
                .then(|| unit_lengths.iter().position(|&l| l < 1))
                .flatten()
            {
                return Err(Error::parameter(format!(
                    "unit lengths must be >= 1, got length {} at unit {i}",
                    unit_lengths[i]
                )));
            }
            // Checked: lengths or a column count near the integer limit must not wrap
            // around to a match. (Scanned values: the caller matched them.)
            let samples = if scanned {
                Some(values.len() / columns)
            } else {
                unit_lengths
                    .iter()
                    .try_fold(0usize, |a, &l| a.checked_add(l as usize))
            };
            if samples.and_then(|s| s.checked_mul(columns)) != Some(values.len()) {
                let samples = samples.map_or("more than 2^64".to_string(), |s| s.to_string());
                return Err(Error::parameter(format!(
                    "the profile has {} rows but the units cover {samples} samples",
                    values.len() / columns
                )));
            }
            let samples = values.len() / columns;
            if let Some(i) = (!scanned)
                .then(|| values.iter().position(|v| !v.is_finite()))
                .flatten()
            {
                return Err(Error::new(
                    ErrorKind::NonFinite { index: i / columns },
                    format!(
                        "profile[{}] = {} is not finite; similarities need a finite profile",
                        i / columns,
                        values[i]
                    ),
                ));
            }
            // Every unit covers at least one sample, so as many samples as units means
            // one each.
            let units = if samples == n {
                UnitFeatures::Rows(values)
            } else {
                UnitFeatures::Samples(values, unit_lengths)
            };
            Ok((units, Kind::Profile, columns, n))
        }
    }
}

/// The groups of one block at the current level: where each starts (unit index over
/// the whole batch, one more entry for the end), its weight, its `dim` feature sums
/// (cosine: weighted vector sums; profile: sample sums) and, for profile units of
/// several samples, its sample count.
#[derive(Default)]
struct BlockGroups {
    starts: Vec<i32>,
    sizes: Vec<i64>,
    sums: Vec<f64>,
    counts: Vec<f64>,
    /// For each group of the level before, its index here (set by
    /// [`BlockGroups::merge_into`]).
    member_of: Vec<u32>,
}

impl BlockGroups {
    fn clear(&mut self) {
        self.starts.clear();
        self.sizes.clear();
        self.sums.clear();
        self.counts.clear();
    }

    /// The level-0 groups of the units `u0..u1`, one per unit. `sample_at` is the first
    /// profile row of unit `u0` (several samples per unit), advanced past `u1`.
    fn load_units(
        &mut self,
        (u0, u1): (usize, usize),
        weights: Option<&[i64]>,
        features: UnitFeatures<'_>,
        dim: usize,
        sample_at: &mut usize,
    ) {
        self.clear();
        self.starts.extend(u0 as i32..=u1 as i32);
        match weights {
            Some(w) => self.sizes.extend_from_slice(&w[u0..u1]),
            None => self.sizes.resize(u1 - u0, 1),
        }
        match features {
            UnitFeatures::Cosine(vectors) => {
                // Size-weighted sums: a unit of weight w counts w times in its group's
                // mean. Written in place (one `extend` per row cost a capacity check
                // and a loop set-up per unit).
                let rows = &vectors[u0 * dim..u1 * dim];
                self.sums.resize(rows.len(), 0.0);
                for ((dst, row), &w) in self
                    .sums
                    .chunks_exact_mut(dim)
                    .zip(rows.chunks_exact(dim))
                    .zip(&self.sizes)
                {
                    for (d, &v) in dst.iter_mut().zip(row) {
                        *d = v as f64 * w as f64;
                    }
                }
            }
            UnitFeatures::Rows(values) => {
                self.sums.extend_from_slice(&values[u0 * dim..u1 * dim]);
            }
            UnitFeatures::Samples(values, unit_lengths) => {
                let mut rows = values[*sample_at * dim..].chunks_exact(dim);
                for &len in &unit_lengths[u0..u1] {
                    let base = self.sums.len();
                    self.sums.resize(base + dim, 0.0);
                    let acc = &mut self.sums[base..];
                    for row in rows.by_ref().take(len as usize) {
                        for (a, &v) in acc.iter_mut().zip(row) {
                            *a += v;
                        }
                    }
                    self.counts.push(len as f64);
                    *sample_at += len as usize;
                }
            }
        }
    }

    /// Per group, once: its norm (cosine) or its column means (profile), which each of
    /// its two pairs would otherwise recompute (the same operations, so the same bits).
    fn describe(&self, kind: Kind, dim: usize, has_counts: bool, pre: &mut Vec<f64>) {
        pre.clear();
        match kind {
            Kind::Cosine => match dim {
                1 => self.norms::<1>(dim, pre),
                2 => self.norms::<2>(dim, pre),
                3 => self.norms::<3>(dim, pre),
                4 => self.norms::<4>(dim, pre),
                8 => self.norms::<8>(dim, pre),
                _ => self.norms::<0>(dim, pre),
            },
            Kind::Profile if dim == 1 && !has_counts => pre.extend(
                self.sums
                    .iter()
                    .zip(self.starts.windows(2))
                    .map(|(&x, s)| x / (s[1] - s[0]) as f64),
            ),
            Kind::Profile => {
                for (g, row) in self.sums.chunks_exact(dim).enumerate() {
                    let c = if has_counts {
                        self.counts[g]
                    } else {
                        (self.starts[g + 1] - self.starts[g]) as f64
                    };
                    pre.extend(row.iter().map(|&x| x / c));
                }
            }
        }
    }

    /// The norm of each group's vector sum (`sqrt` of the sum of squares in column
    /// order) into `pre`; `D` is `dim` known to the compiler (0: not known), which
    /// unrolls the columns without changing an operation or its order.
    fn norms<const D: usize>(&self, dim: usize, pre: &mut Vec<f64>) {
        let dim = if D == 0 { dim } else { D };
        pre.resize(self.sizes.len(), 0.0);
        for (p, a) in pre.iter_mut().zip(self.sums.chunks_exact(dim)) {
            let mut na = 0.0;
            for &x in a {
                na += x * x;
            }
            *p = na.sqrt();
        }
    }

    /// The similarity of each pair of adjacent groups, `-inf` where the merged group
    /// would span more than `window` units or weigh more than `max_size`. `pre` from
    /// [`BlockGroups::describe`].
    fn similarities(
        &self,
        kind: Kind,
        dim: usize,
        pre: &[f64],
        window: i32,
        max_size: i64,
        sims: &mut Vec<f64>,
    ) {
        sims.clear();
        let k = self.sizes.len();
        if k < 2 {
            return;
        }
        sims.resize(k - 1, 0.0);
        // Without `max_size` every pair passes the weight test (a saturating sum is at
        // most `i64::MAX`): those plans skip it.
        type PairSims = fn(&BlockGroups, Kind, usize, &[f64], i32, i64, &mut [f64]);
        let run: PairSims = match (dim, max_size < i64::MAX) {
            (1, false) => Self::pair_sims::<1, false>,
            (2, false) => Self::pair_sims::<2, false>,
            (3, false) => Self::pair_sims::<3, false>,
            (4, false) => Self::pair_sims::<4, false>,
            (8, false) => Self::pair_sims::<8, false>,
            (_, false) => Self::pair_sims::<0, false>,
            (1, true) => Self::pair_sims::<1, true>,
            (4, true) => Self::pair_sims::<4, true>,
            (_, true) => Self::pair_sims::<0, true>,
        };
        run(self, kind, dim, pre, window, max_size, sims);
    }

    /// [`BlockGroups::similarities`] into `sims` (one entry per pair), with `D` the
    /// column count known to the compiler (0: `dim`) and `SIZED` whether the weight
    /// test can fail: the same operations in the same order either way.
    fn pair_sims<const D: usize, const SIZED: bool>(
        &self,
        kind: Kind,
        dim: usize,
        pre: &[f64],
        window: i32,
        max_size: i64,
        sims: &mut [f64],
    ) {
        let dim = if D == 0 { dim } else { D };
        // One loop per kind, each over slices of exactly the pairs: no dispatch or
        // bounds check per pair.
        let eligible = self
            .starts
            .windows(3)
            .zip(self.sizes.windows(2))
            .map(|(s, w)| {
                (s[2] - s[0] <= window) & (!SIZED || w[0].saturating_add(w[1]) <= max_size)
            });
        let keep = |ok: bool, v: f64| if ok { v } else { f64::NEG_INFINITY };
        match kind {
            Kind::Profile if dim == 1 => {
                for ((s, ok), p) in sims.iter_mut().zip(eligible).zip(pre.windows(2)) {
                    *s = keep(ok, -(p[0] - p[1]).abs());
                }
            }
            Kind::Profile => {
                let rows = pre.chunks_exact(dim);
                for ((s, ok), (a, b)) in sims
                    .iter_mut()
                    .zip(eligible)
                    .zip(rows.clone().zip(rows.skip(1)))
                {
                    *s = keep(ok, profile_distance(a, b));
                }
            }
            Kind::Cosine => {
                let rows = self.sums.chunks_exact(dim);
                for (((s, ok), (a, b)), n) in sims
                    .iter_mut()
                    .zip(eligible)
                    .zip(rows.clone().zip(rows.skip(1)))
                    .zip(pre.windows(2))
                {
                    *s = keep(ok, cosine(a, b, n[0], n[1]));
                }
            }
        }
    }

    /// The next level's groups into `next`: each chosen pair (`chosen[g]` joins groups
    /// `g` and `g + 1`; `made` of them) becomes one group, the others stay. Also fills
    /// `next.member_of`: for each group here, the index of its group there.
    ///
    /// Branch-free over the groups: group `g` is the second member of a pair exactly
    /// when `chosen[g - 1]`, and then it joins the group its left neighbour started;
    /// sums and sizes are added left + right, as a pair's merge adds them.
    fn merge_into(
        &self,
        next: &mut BlockGroups,
        chosen: &[bool],
        made: usize,
        dim: usize,
        has_counts: bool,
    ) {
        match dim {
            1 => self.merge_into_n::<1>(next, chosen, made, dim, has_counts),
            2 => self.merge_into_n::<2>(next, chosen, made, dim, has_counts),
            3 => self.merge_into_n::<3>(next, chosen, made, dim, has_counts),
            4 => self.merge_into_n::<4>(next, chosen, made, dim, has_counts),
            8 => self.merge_into_n::<8>(next, chosen, made, dim, has_counts),
            _ => self.merge_into_n::<0>(next, chosen, made, dim, has_counts),
        }
    }

    /// [`BlockGroups::merge_into`] with `D` the column count known to the compiler (0:
    /// `dim`): the same additions, with the columns unrolled.
    fn merge_into_n<const D: usize>(
        &self,
        next: &mut BlockGroups,
        chosen: &[bool],
        made: usize,
        dim: usize,
        has_counts: bool,
    ) {
        let dim = if D == 0 { dim } else { D };
        let k = self.sizes.len();
        let new = k - made;
        next.clear();
        next.member_of.clear();
        next.member_of.resize(k, 0);
        next.starts.resize(new + 1, 0);
        next.sizes.resize(new, 0);
        next.sums.resize(new * dim, 0.0);
        if has_counts {
            next.counts.resize(new, 0.0);
        }
        let mut started = 0usize;
        let mut second = false;
        for g in 0..k {
            let j = started - usize::from(second);
            started += usize::from(!second);
            next.member_of[g] = j as u32;
            next.starts[j] = self.starts[g - usize::from(second)];
            let size = self.sizes[g];
            let joined = next.sizes[j].saturating_add(size);
            next.sizes[j] = if second { joined } else { size };
            if dim == 1 {
                let v = self.sums[g];
                let joined = next.sums[j] + v;
                next.sums[j] = if second { joined } else { v };
            } else {
                let (dst, src) = (
                    &mut next.sums[j * dim..(j + 1) * dim],
                    &self.sums[g * dim..(g + 1) * dim],
                );
                for (a, &v) in dst.iter_mut().zip(src) {
                    let joined = *a + v;
                    *a = if second { joined } else { v };
                }
            }
            if has_counts {
                let c = self.counts[g];
                let joined = next.counts[j] + c;
                next.counts[j] = if second { joined } else { c };
            }
            second = !second && chosen.get(g).copied().unwrap_or(false);
        }
        debug_assert_eq!(started, new);
        next.starts[new] = self.starts[k];
    }
}

/// Reusable buffers of a plan: the current and next groups of a block, its pairs'
/// similarities and the selection's state. A [`MergePlanner`] keeps one across pushes,
/// so a push allocates nothing but its output arrays, and those only when no plan was
/// handed back ([`MergePlanner::recycle`]).
#[derive(Default)]
pub(crate) struct Workspace {
    /// The large arrays of plans handed back, for the next plan's levels.
    pub(crate) spare: SpareArrays,
    cur: BlockGroups,
    next: BlockGroups,
    /// Per group: its norm (cosine) or its column means (profile).
    pre: Vec<f64>,
    sims: Vec<f64>,
    values: Vec<f64>,
    chosen: Vec<bool>,
    selector: PairSelector,
    /// Per level, the local form's floor for counts (speed only: see
    /// [`PairSelector::select_with_floor`]).
    floors: Vec<u64>,
}

/// Output arrays of earlier plans, emptied, kept for the next plan: fresh arrays of a
/// few hundred KiB cost page faults each time (the allocator hands such freed memory
/// back to the system), reused ones do not.
#[derive(Default)]
pub(crate) struct SpareArrays {
    group_ids: Vec<Vec<i32>>,
    source: Vec<Vec<i32>>,
    sizes: Vec<Vec<i64>>,
    log_sizes: Vec<Vec<f32>>,
    cu_seqlens: Vec<Vec<i32>>,
}

impl SpareArrays {
    /// Keeps the large arrays of `plan` (at most [`MAX_LEVELS`] of each kind).
    pub(crate) fn keep(&mut self, plan: MergePlan) {
        fn put<T>(spare: &mut Vec<Vec<T>>, mut v: Vec<T>) {
            if spare.len() < MAX_LEVELS && v.capacity() > 0 {
                v.clear();
                spare.push(v);
            }
        }
        for level in plan.levels {
            put(&mut self.group_ids, level.group_ids);
            put(&mut self.source, level.source);
            put(&mut self.sizes, level.sizes);
            put(&mut self.log_sizes, level.log_sizes);
            put(&mut self.cu_seqlens, level.cu_seqlens);
        }
    }
}

/// An empty array with room for `capacity`, a spare one when there is one.
fn spare_or_new<T>(spare: &mut Vec<Vec<T>>, capacity: usize) -> Vec<T> {
    let mut v = spare.pop().unwrap_or_default();
    v.reserve(capacity);
    v
}

impl Clone for Workspace {
    /// Scratch space holds nothing between plans: a clone starts empty.
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl std::fmt::Debug for Workspace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Workspace")
    }
}

/// Cosine similarity of two groups' vector sums, given their norms (`sqrt` of the sum
/// of squares, accumulated in column order): 0 when either is the zero vector.
#[inline]
fn cosine(a: &[f64], b: &[f64], norm_a: f64, norm_b: f64) -> f64 {
    let mut dot = 0.0;
    for (&x, &y) in a.iter().zip(b) {
        dot += x * y;
    }
    if norm_a == 0.0 || norm_b == 0.0 {
        0.0
    } else {
        (dot / (norm_a * norm_b)).clamp(-1.0, 1.0)
    }
}

/// Profile similarity of two groups from their column means: minus the root mean
/// square difference.
#[inline]
fn profile_distance(a: &[f64], b: &[f64]) -> f64 {
    let mut ss = 0.0;
    for (&x, &y) in a.iter().zip(b) {
        let d = x - y;
        ss += d * d;
    }
    -(ss / a.len() as f64).sqrt()
}

/// Heap entry of the exchange algorithm: larger value first, then the leftmost node.
///
/// The value is stored as order-preserving bits (`sortable`), so comparing entries is
/// two integer comparisons. A live node has at most one entry in the heap (its value
/// only changes when its own entry is popped), so an entry is stale exactly when its
/// node has been absorbed by a neighbour.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Entry {
    key: u64,
    node: u32,
}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        self.key
            .cmp(&other.key)
            .then_with(|| other.node.cmp(&self.node))
    }
}

/// Bits of a non-NaN float whose unsigned order is the float order.
#[inline]
fn sortable(v: f64) -> u64 {
    let bits = v.to_bits();
    // Negative: every bit flipped; otherwise the sign bit set (it is clear). One xor
    // with a mask from the sign, no branch.
    bits ^ (((bits as i64 >> 63) as u64) | (1 << 63))
}

const NONE: u32 = u32::MAX;

/// What a selection aims for.
#[derive(Debug, Clone, Copy)]
enum Target {
    /// Exactly this many pairs (or as many as possible).
    Count(usize),
    /// Every exchange step with a positive gain (values already have the threshold
    /// subtracted).
    Positive,
}

/// Reusable buffers of the exchange algorithm ("pick k non-adjacent items of maximum
/// sum" on a chain, items = adjacent pairs; `-inf` marks an ineligible pair).
#[derive(Default)]
struct PairSelector {
    value: Vec<f64>,
    prev: Vec<u32>,
    next: Vec<u32>,
    lo: Vec<u32>,
    hi: Vec<u32>,
    alive: Vec<bool>,
    /// True until a node is taken: its original value is still its value.
    fresh: Vec<bool>,
    toggle: Vec<u8>,
    /// Original pairs, best first.
    sorted: Vec<Entry>,
    scratch: Vec<Entry>,
    /// Exchange nodes created while selecting.
    heap: Vec<Entry>,
    /// The same selection in linear time, tried first.
    local: local::LocalSelector,
    /// The sorted form for small counts, with state only where takes wrote it.
    sparse: sparse::SparseSelector,
}

impl PairSelector {
    /// Chooses disjoint pairs among `values` (pair `j` joins groups `j` and `j + 1`);
    /// writes `chosen[j]` and returns how many were chosen.
    ///
    /// The local form ([`local`]) makes the exchange algorithm's takes where they are
    /// local maxima, without sorting; it proves its result equal to the sorted form's
    /// or declines (a rounding that could reorder takes, NaN), and then the sorted form
    /// below decides.
    fn select(&mut self, values: &[f64], target: Target, chosen: &mut Vec<bool>) -> usize {
        self.select_with_floor(values, target, chosen, &mut 0)
    }

    /// [`PairSelector::select`], with a floor that speeds up the local form's counts
    /// (see [`local::LocalSelector::select`]; any floor gives the same pairs), kept by
    /// the caller for the next chain of the same kind (the same level of the next
    /// block).
    fn select_with_floor(
        &mut self,
        values: &[f64],
        target: Target,
        chosen: &mut Vec<bool>,
        floor: &mut u64,
    ) -> usize {
        let m = values.len();
        chosen.clear();
        chosen.resize(m, false);
        if m == 0 || matches!(target, Target::Count(0)) {
            return 0;
        }
        match target {
            Target::Positive => self.select_positive(values, chosen),
            // A count of at least an eighth of the pairs: the local form (a linear pass
            // over every pair). A smaller count: the sorted form, which only sorts the
            // `3r` best pairs (measured on blocks of 1024: the local form is the faster
            // from about `r = m / 8` on).
            Target::Count(r) if r.saturating_mul(8) >= m => {
                self.select_local(values, target, chosen, floor)
            }
            Target::Count(r) => match self.sparse.select(values, r, chosen) {
                Some(count) => count,
                None => {
                    chosen.fill(false);
                    self.select_chain(values, target, chosen)
                }
            },
        }
    }

    /// The local form, or the sorted form where it declines; `chosen` all false.
    fn select_local(
        &mut self,
        values: &[f64],
        target: Target,
        chosen: &mut [bool],
        floor: &mut u64,
    ) -> usize {
        if let Some(count) = self.local.select(values, target, chosen, floor) {
            return count;
        }
        chosen.fill(false);
        self.select_chain(values, target, chosen)
    }

    /// [`PairSelector::select`] by the sorted form alone (candidates sorted once,
    /// exchange nodes in a heap): the reference the local form must equal.
    #[cfg(test)]
    fn select_sorted(&mut self, values: &[f64], target: Target, chosen: &mut Vec<bool>) -> usize {
        let m = values.len();
        chosen.clear();
        chosen.resize(m, false);
        if m == 0 || matches!(target, Target::Count(0)) {
            return 0;
        }
        match target {
            Target::Positive => self.select_positive_with(values, chosen, false),
            Target::Count(_) => self.select_chain(values, target, chosen),
        }
    }

    /// A threshold selection, one run of positive values at a time: the same pairs as
    /// the exchange algorithm on the whole chain.
    ///
    /// Why the runs are independent: a node is only taken while its value is positive
    /// and the largest alive, so when node `i` is taken next to a neighbour of value
    /// `<= 0` (or `-inf`, or NaN), its regret `left + right - value[i]` is at most
    /// `other neighbour - value[i] <= 0` (or not finite): it is never taken again, just
    /// as at the end of a chain (regret `-inf`); and a node that absorbed such a
    /// neighbour keeps a value `<= 0`, so no taken interval ever reaches past a run's
    /// edge. Within a run the order of takes (larger value, then leftmost) is the whole
    /// chain's order restricted to it. Runs of one to three pairs are decided directly
    /// (the exchange steps written out); longer runs run the exchange algorithm alone,
    /// which sorts `k` values instead of the whole chain's.
    fn select_positive(&mut self, values: &[f64], chosen: &mut [bool]) -> usize {
        self.select_positive_with(values, chosen, true)
    }

    /// [`PairSelector::select_positive`]; long runs by the local form when `local`,
    /// else by the sorted form.
    fn select_positive_with(&mut self, values: &[f64], chosen: &mut [bool], local: bool) -> usize {
        let m = values.len();
        let mut count = 0;
        let mut a = 0;
        while a < m {
            if !is_positive(values[a]) {
                a += 1;
                continue;
            }
            let mut b = a + 1;
            while b < m && is_positive(values[b]) {
                b += 1;
            }
            let out = &mut chosen[a..b];
            count += match values[a..b] {
                [_] => {
                    out[0] = true;
                    1
                }
                // The larger; the left one on a tie.
                [x, y] => {
                    out[usize::from(y > x)] = true;
                    1
                }
                // The middle one when it is the largest (strictly than the left) and
                // giving it up for both ends gains nothing; otherwise both ends.
                [x, y, z] => {
                    if y > x && y >= z && !is_positive(x + z - y) {
                        out[1] = true;
                        1
                    } else {
                        out[0] = true;
                        out[2] = true;
                        2
                    }
                }
                _ if local => self.select_local(&values[a..b], Target::Positive, out, &mut 0),
                _ => self.select_chain(&values[a..b], Target::Positive, out),
            };
            a = b;
        }
        count
    }

    /// The exchange algorithm on one chain; `chosen` has one entry per value (all
    /// false).
    fn select_chain(&mut self, values: &[f64], target: Target, chosen: &mut [bool]) -> usize {
        let m = values.len();
        self.value.clear();
        self.value.extend_from_slice(values);
        self.prev.clear();
        self.prev
            .extend((0..m as u32).map(|i| if i == 0 { NONE } else { i - 1 }));
        self.next.clear();
        self.next
            .extend((1..=m as u32).map(|i| if i as usize == m { NONE } else { i }));
        self.lo.clear();
        self.lo.extend(0..m as u32);
        self.hi.clear();
        self.hi.extend(0..m as u32);
        self.alive.clear();
        self.alive.resize(m, true);
        self.toggle.clear();
        self.toggle.resize(m + 1, 0);
        self.fresh.clear();
        self.fresh.resize(m, true);
        self.order_candidates(values, target);
        // The exchange algorithm takes values in non-increasing order, and most of them
        // are original pairs: those come from one sorted array, and only the exchange
        // nodes created on the way go through a heap.
        let sorted = std::mem::take(&mut self.sorted);
        let mut heap = BinaryHeap::from(std::mem::take(&mut self.heap));
        let mut cursor = 0;
        let mut taken = 0usize;
        loop {
            while let Some(e) = sorted.get(cursor) {
                let i = e.node as usize;
                if self.alive[i] && self.fresh[i] {
                    break;
                }
                cursor += 1; // absorbed, or already taken (its value changed)
            }
            while let Some(top) = heap.peek() {
                if self.alive[top.node as usize] {
                    break;
                }
                heap.pop(); // stale: the node was absorbed by a neighbour
            }
            let from_sorted = match (sorted.get(cursor), heap.peek()) {
                (Some(a), Some(b)) => a > b,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            let i = if from_sorted {
                sorted[cursor].node as usize
            } else {
                heap.peek().map_or(0, |e| e.node as usize)
            };
            match target {
                Target::Count(r) if taken >= r => break,
                Target::Positive if self.value[i] <= 0.0 => break,
                _ => {}
            }
            if from_sorted {
                cursor += 1;
            } else {
                heap.pop();
            }
            self.fresh[i] = false;
            taken += 1;
            // Taking node i flips every pair in its interval.
            self.toggle[self.lo[i] as usize] ^= 1;
            self.toggle[self.hi[i] as usize + 1] ^= 1;
            let (l, r) = (self.prev[i], self.next[i]);
            let regret = if l != NONE && r != NONE {
                self.value[l as usize] + self.value[r as usize] - self.value[i]
            } else {
                f64::NEG_INFINITY
            };
            // Absorb both neighbours (a missing side leaves the node unrecoverable: its
            // regret is -inf, and the neighbour it absorbed can never be taken alone).
            if l != NONE {
                let l = l as usize;
                self.alive[l] = false;
                self.lo[i] = self.lo[l];
                self.prev[i] = self.prev[l];
                if self.prev[i] != NONE {
                    self.next[self.prev[i] as usize] = i as u32;
                }
            }
            if r != NONE {
                let r = r as usize;
                self.alive[r] = false;
                self.hi[i] = self.hi[r];
                self.next[i] = self.next[r];
                if self.next[i] != NONE {
                    self.prev[self.next[i] as usize] = i as u32;
                }
            }
            self.value[i] = regret;
            if regret.is_finite() {
                heap.push(Entry {
                    key: sortable(regret),
                    node: i as u32,
                });
            }
        }
        self.heap = heap.into_vec();
        self.heap.clear();
        self.sorted = sorted;
        let mut state = 0u8;
        let mut count = 0;
        for (c, t) in chosen.iter_mut().zip(&self.toggle) {
            state ^= t;
            *c = state == 1;
            count += state as usize;
        }
        debug_assert_eq!(count, taken);
        count
    }

    /// Fills `self.sorted` with the original pairs that may be taken, best first (larger
    /// value, then the leftmost pair).
    ///
    /// A threshold selection never takes a pair at or below 0. A selection of `r` pairs
    /// only takes pairs among the `3r` best: when a pair is taken, every better original
    /// pair has been taken (at most `r - 1`) or absorbed by a taken neighbour (at most
    /// two per take), since values are taken in non-increasing order.
    fn order_candidates(&mut self, values: &[f64], target: Target) {
        let sorted = &mut self.sorted;
        sorted.clear();
        let floor = match target {
            Target::Positive => 0.0,
            Target::Count(_) => f64::NEG_INFINITY,
        };
        sorted.extend(
            values
                .iter()
                .enumerate()
                .filter(|(_, &v)| v > floor)
                .map(|(i, &value)| Entry {
                    key: sortable(value),
                    node: i as u32,
                }),
        );
        if let Target::Count(r) = target {
            let keep = r.saturating_mul(3);
            if keep < sorted.len() {
                // The keep-th best entry; the entries at least as good, in node order.
                let (_, nth, _) = sorted.select_nth_unstable_by(keep - 1, |a, b| b.cmp(a));
                let bar = *nth;
                sorted.clear();
                sorted.extend(
                    values
                        .iter()
                        .enumerate()
                        .map(|(i, &value)| Entry {
                            key: sortable(value),
                            node: i as u32,
                        })
                        .filter(|e| value_is_finite(e) && *e >= bar),
                );
            }
        }
        if sorted.len() < RADIX_MIN {
            sorted.sort_unstable_by(|a, b| b.cmp(a));
        } else {
            radix_sort_descending(sorted, &mut self.scratch);
        }
    }
}

/// `v > 0`: false for NaN (a sum that overflowed), which a threshold never takes.
#[inline]
fn is_positive(v: f64) -> bool {
    v > 0.0
}

/// True when an entry's key encodes a finite value (`-inf` marks ineligible pairs).
#[inline]
fn value_is_finite(e: &Entry) -> bool {
    e.key > sortable(f64::NEG_INFINITY)
}

/// From this many candidates on, [`radix_sort_descending`] sorts them (measured on
/// blocks of 1024 units: about a sixth less selection time than the comparison sort,
/// which stays faster on short runs).
const RADIX_MIN: usize = 256;

/// Stable LSD radix sort by key, largest first; entries in node order stay in node
/// order among equal keys, which is the heap's tie-break. Byte positions where every
/// key agrees are skipped.
fn radix_sort_descending(entries: &mut Vec<Entry>, scratch: &mut Vec<Entry>) {
    let n = entries.len();
    scratch.clear();
    scratch.resize(n, Entry { key: 0, node: 0 });
    for byte in 0..8 {
        let shift = byte * 8;
        let digit = |e: &Entry| ((!e.key >> shift) & 0xff) as usize;
        let mut counts = [0usize; 256];
        for e in entries.iter() {
            counts[digit(e)] += 1;
        }
        if counts.contains(&n) {
            continue;
        }
        let mut offsets = [0usize; 256];
        let mut total = 0;
        for (o, c) in offsets.iter_mut().zip(&counts) {
            *o = total;
            total += c;
        }
        for e in entries.iter() {
            let d = digit(e);
            scratch[offsets[d]] = *e;
            offsets[d] += 1;
        }
        std::mem::swap(entries, scratch);
    }
}

/// Largest number of disjoint eligible pairs: each run of `k` consecutive eligible pairs
/// holds `ceil(k / 2)`.
fn capacity(values: &[f64]) -> usize {
    let mut total = 0;
    let mut run = 0usize;
    for v in values {
        if *v > f64::NEG_INFINITY {
            run += 1;
        } else {
            total += run.div_ceil(2);
            run = 0;
        }
    }
    total + run.div_ceil(2)
}

/// Plans merges of the units of a batch of series.
///
/// `series_offsets` gives units per series (leading 0, ending at the number of units);
/// `weights` the weight of each unit (default 1). See the module documentation.
pub fn merge_plan(
    series_offsets: &[i64],
    weights: Option<&[i64]>,
    features: Features<'_>,
    options: &MergeOptions,
) -> Result<MergePlan> {
    plan_with(
        series_offsets,
        weights,
        features,
        options,
        &mut Workspace::default(),
        false,
    )
}

/// [`merge_plan`] with the caller's scratch buffers; `scanned` as in [`check_inputs`]
/// (only for inputs whose every value was already checked).
///
/// The plan runs block by block (a series is one block without
/// [`MergeOptions::block`]), every level of a block before the next block: blocks are
/// independent, so each level's arrays come out in the same order as level by level,
/// while a block's groups stay in cache from one level to the next. Only the output
/// arrays are allocated.
pub(crate) fn plan_with(
    series_offsets: &[i64],
    weights: Option<&[i64]>,
    features: Features<'_>,
    options: &MergeOptions,
    ws: &mut Workspace,
    scanned: bool,
) -> Result<MergePlan> {
    if options.window < 2 {
        return Err(Error::parameter(format!(
            "window must be >= 2 (a group of two units), got {}",
            options.window
        )));
    }
    if let Some(m) = options.max_size {
        if m < 1 {
            return Err(Error::parameter(format!("max_size must be >= 1, got {m}")));
        }
    }
    if let Some(b) = options.block {
        if b < 2 {
            return Err(Error::parameter(format!(
                "block must be >= 2 units (room for one merge), got {b}"
            )));
        }
    }
    options.schedule.validate()?;
    let (unit_features, kind, dim, n) = check_inputs(series_offsets, weights, &features, scanned)?;
    // The planning runs over blocks; without `block` each series is one block. Every
    // statement below about a "series" is about a block.
    let (block_offsets, series_blocks) = match options.block {
        None => (
            Cow::Borrowed(series_offsets),
            (0..series_offsets.len() as i64).collect::<Vec<i64>>(),
        ),
        Some(b) => {
            let (offsets, per_series) = split_blocks(series_offsets, b);
            (Cow::Owned(offsets), per_series)
        }
    };
    let series_offsets: &[i64] = &block_offsets;
    let what = if options.block.is_some() {
        "block"
    } else {
        "series"
    };
    let n_series = series_offsets.len() - 1;
    let levels = options.schedule.levels();
    let window = options.window.min(i32::MAX as usize) as i32;
    let max_size = options.max_size.unwrap_or(i64::MAX);
    let has_counts = matches!(unit_features, UnitFeatures::Samples(..));
    let initial_tau = match options.schedule {
        Schedule::Ema { initial, .. } => initial.unwrap_or(f64::NAN),
        _ => f64::NAN,
    };

    // Every level has at most one group per unit: with that capacity no array is
    // reallocated (and copied) while it grows; pages never written are never touched.
    let spare = &mut ws.spare;
    let mut out_levels: Vec<MergeLevel> = (0..levels)
        .map(|_| MergeLevel {
            group_ids: spare_or_new(&mut spare.group_ids, n),
            source: spare_or_new(&mut spare.source, n),
            sizes: spare_or_new(&mut spare.sizes, n),
            log_sizes: spare_or_new(&mut spare.log_sizes, n),
            cu_seqlens: spare_or_new(&mut spare.cu_seqlens, n + 1),
            series_offsets: {
                let mut o = Vec::with_capacity(n_series + 1);
                o.push(0);
                o
            },
            requested: Vec::with_capacity(n_series),
            achieved: Vec::with_capacity(n_series),
            capacity: Vec::with_capacity(n_series),
            thresholds: Vec::with_capacity(n_series),
            ..MergeLevel::default()
        })
        .collect();
    let table = log_size_table();
    // A strict schedule's first failure in level order (then block order), as a plan
    // made level by level would report it.
    let mut failure: Option<(usize, usize, Error)> = None;
    let mut sample_at = 0;

    for b in 0..n_series {
        let (u0, u1) = (series_offsets[b] as usize, series_offsets[b + 1] as usize);
        let Workspace {
            spare: _,
            cur,
            next,
            pre,
            sims,
            values,
            chosen,
            selector,
            floors,
        } = &mut *ws;
        floors.resize(levels, 0);
        cur.load_units((u0, u1), weights, unit_features, dim, &mut sample_at);
        let mut tau = initial_tau;
        for level in 0..levels {
            if failure.as_ref().is_some_and(|f| f.0 <= level) {
                break; // the plan fails at or before this level anyway
            }
            let k = cur.sizes.len();
            cur.describe(kind, dim, has_counts, pre);
            cur.similarities(kind, dim, pre, window, max_size, sims);
            let cap = capacity(sims);
            let (target, requested, threshold) = match &options.schedule {
                Schedule::Counts(c) => (Target::Count(c[level]), c[level] as i64, f64::NAN),
                Schedule::Ratio { ratio, .. } => {
                    let target = ratio_target((u1 - u0) as i64, *ratio, level, levels);
                    let r = (k as i64 - target).max(0);
                    (Target::Count(r as usize), r, f64::NAN)
                }
                Schedule::Threshold { threshold, .. } => (Target::Positive, -1, *threshold),
                Schedule::Ema { momentum, .. } => {
                    if let Some(mean_best) = mean_best_similarity(sims) {
                        tau = if tau.is_nan() {
                            mean_best
                        } else {
                            momentum * tau + (1.0 - momentum) * mean_best
                        };
                    }
                    (Target::Positive, -1, tau)
                }
            };
            let made = if options.schedule.uses_threshold() {
                if threshold.is_nan() {
                    // EMA without an initial value and no eligible pair yet: no merge.
                    chosen.clear();
                    chosen.resize(sims.len(), false);
                    0
                } else {
                    values.clear();
                    values.extend(sims.iter().map(|s| s - threshold));
                    selector.select(values, target, chosen)
                }
            } else {
                selector.select_with_floor(sims, target, chosen, &mut floors[level])
            };
            if options.strict && requested > made as i64 {
                failure = Some((
                    level,
                    b,
                    Error::parameter(format!(
                        "level {level} asks {what} {b} for {requested} merges but it allows \
                         at most {cap} (window {}, {k} groups); pass strict=False to record \
                         it instead",
                        options.window
                    )),
                ));
                break;
            }
            // This block's groups at the new level.
            let (done, rest) = out_levels.split_at_mut(level);
            let MergeLevel {
                group_ids,
                source,
                sizes: out_sizes,
                log_sizes,
                cu_seqlens,
                series_offsets: out_offsets,
                requested: out_requested,
                achieved,
                capacity: out_capacity,
                thresholds,
                ..
            } = &mut rest[0];
            let ids_from = group_ids.len();
            let first_id = out_sizes.len() as i32;
            cur.merge_into(next, chosen, made, dim, has_counts);
            group_ids.extend(next.member_of.iter().map(|&j| first_id + j as i32));
            let new = next.sizes.len();
            cu_seqlens.extend_from_slice(&next.starts[..new]);
            out_sizes.extend_from_slice(&next.sizes);
            log_sizes.extend(next.sizes.iter().map(|&s| match table.get(s as usize) {
                Some(&l) => l,
                None => log_size(s),
            }));
            out_offsets.push(out_sizes.len() as i64);
            out_requested.push(requested);
            achieved.push(made as i64);
            out_capacity.push(cap as i64);
            thresholds.push(threshold);
            // The unmerge map of the block's units.
            match done.last() {
                None => source.extend_from_slice(&group_ids[ids_from..]),
                Some(prev) => {
                    source.extend(prev.source[u0..u1].iter().map(|&s| group_ids[s as usize]))
                }
            }
            std::mem::swap(cur, next);
        }
    }
    if let Some((_, _, error)) = failure {
        return Err(error);
    }
    for out in &mut out_levels {
        out.cu_seqlens.push(n as i32);
        if options.block.is_some() {
            // Groups per block -> groups per series.
            out.series_offsets = series_blocks
                .iter()
                .map(|&b| out.series_offsets[b as usize])
                .collect();
        }
        out.block_offsets = series_blocks.clone();
    }
    Ok(MergePlan { levels: out_levels })
}

/// `ln(size)` of a group as the plan stores it.
#[inline]
fn log_size(size: i64) -> f32 {
    (size as f64).ln() as f32
}

/// [`log_size`] of the sizes below 256, computed once: most groups are small, and one
/// table lookup replaces a logarithm per group and level (the same values, bit for bit).
fn log_size_table() -> &'static [f32; 256] {
    static TABLE: std::sync::OnceLock<[f32; 256]> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| std::array::from_fn(|s| log_size(s as i64)))
}

/// Splits each series into blocks of `block` units (the last shorter; an empty series
/// has none): the block offsets over the units, and blocks per series (cumulative,
/// leading 0).
pub(crate) fn split_blocks(series_offsets: &[i64], block: usize) -> (Vec<i64>, Vec<i64>) {
    // A block past i64 (only reachable from Rust) is as good as one block per series.
    let block = i64::try_from(block).unwrap_or(i64::MAX);
    let mut offsets = vec![0];
    let mut per_series = vec![0];
    for w in series_offsets.windows(2) {
        let mut at = w[0];
        while at < w[1] {
            at = at.saturating_add(block).min(w[1]);
            offsets.push(at);
        }
        per_series.push(offsets.len() as i64 - 1);
    }
    (offsets, per_series)
}

/// Groups a series of `n` units should have after `level` (0-based) of `levels` under a
/// ratio schedule: `ceil(n * ratio^((level + 1) / levels))`, so every level keeps the
/// same fraction; the last level's target is exactly `ceil(n * ratio)`.
fn ratio_target(n: i64, ratio: f64, level: usize, levels: usize) -> i64 {
    let fraction = if level + 1 == levels {
        ratio
    } else {
        ratio.powf((level + 1) as f64 / levels as f64)
    };
    // The small slack keeps exact products (16 * 0.5) from rounding up through powf.
    let target = (n as f64 * fraction - 1e-9).ceil() as i64;
    target.clamp(n.min(1), n)
}

/// Mean over groups with an eligible neighbour of their best eligible neighbour
/// similarity (`None` when no pair is eligible).
fn mean_best_similarity(sims: &[f64]) -> Option<f64> {
    let k = sims.len() + 1;
    let mut total = 0.0;
    let mut count = 0usize;
    for g in 0..k {
        let left = if g > 0 {
            sims[g - 1]
        } else {
            f64::NEG_INFINITY
        };
        let right = if g < sims.len() {
            sims[g]
        } else {
            f64::NEG_INFINITY
        };
        let best = left.max(right);
        if best > f64::NEG_INFINITY {
            total += best;
            count += 1;
        }
    }
    (count > 0).then(|| total / count as f64)
}

/// Per-segment keep factors matched to a token budget (VGDFR-style dynamic rates).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rates {
    /// Keep factor of each segment (keep one token in `factor`).
    pub factors: Vec<i64>,
    /// Tokens kept in each segment: `ceil(length / factor)`.
    pub kept_counts: Vec<i64>,
    /// Kept tokens as flat sample indices (the first of every `factor` tokens of each
    /// segment), over all series concatenated.
    pub kept_indices: Vec<i64>,
    /// Per series: the threshold found (`-inf` when every segment keeps the smallest
    /// factor).
    pub thresholds: Vec<f64>,
    /// Per series: the token budget, `floor(keep_ratio * n)` (at least 1 when `n > 0`).
    pub budgets: Vec<i64>,
    /// Per series: tokens kept.
    pub kept: Vec<i64>,
}

/// Assigns each segment a keep factor from `factors` so that each series keeps at most
/// `keep_ratio` of its tokens, keeping as many as the budget allows.
///
/// `scores` are information densities (>= 0, e.g. a segment's mean entropy): a
/// segment's kept rate should be proportional to its score. For a threshold `theta`,
/// segment `i` gets the largest factor `f` with `f * score_i <= theta` (so it keeps at
/// least `score_i / theta` of its tokens), or the smallest factor when none qualifies.
/// Kept tokens never increase with `theta`; per series, the smallest `theta` (among
/// the values `f * score_i` where an assignment changes) whose kept count fits the
/// budget is chosen, exactly. When even the largest factors everywhere exceed the
/// budget, every segment gets the largest factor and the series is over budget
/// (`kept > budget`); `strict` turns that into an error.
#[allow(clippy::too_many_arguments)]
pub fn assign_rates(
    scores: &[f64],
    lengths: &[i64],
    series_offsets: &[i64],
    factors: &[i64],
    keep_ratio: f64,
    strict: bool,
) -> Result<Rates> {
    if factors.is_empty() {
        return Err(Error::parameter(
            "factors must hold at least one factor, got none",
        ));
    }
    if let Some(&f) = factors.iter().find(|&&f| f < 1) {
        return Err(Error::parameter(format!("factors must be >= 1, got {f}")));
    }
    if factors.windows(2).any(|w| w[1] <= w[0]) {
        return Err(Error::parameter(format!(
            "factors must be strictly increasing, got {factors:?}"
        )));
    }
    if !(keep_ratio > 0.0 && keep_ratio <= 1.0) {
        return Err(Error::parameter(format!(
            "keep_ratio must be in (0, 1], got {keep_ratio}"
        )));
    }
    if scores.len() != lengths.len() {
        return Err(Error::parameter(format!(
            "scores must have one entry per segment ({}), got {}",
            lengths.len(),
            scores.len()
        )));
    }
    check_offsets(series_offsets, lengths.len())?;
    if let Some(i) = scores.iter().position(|s| !s.is_finite()) {
        return Err(Error::new(
            ErrorKind::NonFinite { index: i },
            format!("scores[{i}] = {} is not finite", scores[i]),
        ));
    }
    if let Some(i) = scores.iter().position(|&s| s < 0.0) {
        return Err(Error::parameter(format!(
            "scores are information densities and must be >= 0, got scores[{i}] = {}",
            scores[i]
        )));
    }
    if let Some(i) = lengths.iter().position(|&l| l < 1) {
        return Err(Error::parameter(format!(
            "segment lengths must be >= 1, got lengths[{i}] = {}",
            lengths[i]
        )));
    }
    let smallest = factors[0];
    let kept_of = |len: i64, f: i64| (len + f - 1) / f;
    let mut out = Rates {
        factors: vec![smallest; lengths.len()],
        ..Rates::default()
    };
    let mut events: Vec<(f64, u32, u32)> = Vec::new();
    let mut sample_base = 0i64;
    for b in 0..series_offsets.len() - 1 {
        let (lo, hi) = (series_offsets[b] as usize, series_offsets[b + 1] as usize);
        let n: i64 = lengths[lo..hi].iter().sum();
        let budget = ((keep_ratio * n as f64).floor() as i64).max(n.min(1));
        let mut kept: i64 = lengths[lo..hi].iter().map(|&l| kept_of(l, smallest)).sum();
        let mut threshold = f64::NEG_INFINITY;
        if kept > budget {
            // Sweep the thresholds at which some segment's factor rises, in order.
            events.clear();
            for (i, &score) in scores.iter().enumerate().take(hi).skip(lo) {
                for (j, &f) in factors.iter().enumerate().skip(1) {
                    events.push((f as f64 * score, i as u32, j as u32));
                }
            }
            events.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let mut e = 0;
            while e < events.len() && kept > budget {
                let theta = events[e].0;
                while e < events.len() && events[e].0 == theta {
                    let (_, i, j) = events[e];
                    let (i, f) = (i as usize, factors[j as usize]);
                    if f > out.factors[i] {
                        kept += kept_of(lengths[i], f) - kept_of(lengths[i], out.factors[i]);
                        out.factors[i] = f;
                    }
                    e += 1;
                }
                threshold = theta;
            }
            if kept > budget && strict {
                return Err(Error::parameter(format!(
                    "series {b} keeps {kept} of {n} tokens even with factor {} everywhere, over \
                     its budget of {budget} (keep_ratio {keep_ratio}); pass strict=False to \
                     record it instead",
                    factors[factors.len() - 1]
                )));
            }
        }
        out.thresholds.push(threshold);
        out.budgets.push(budget);
        out.kept.push(kept);
        let mut start = sample_base;
        for (&len, &f) in lengths[lo..hi].iter().zip(&out.factors[lo..hi]) {
            let k = kept_of(len, f);
            out.kept_counts.push(k);
            out.kept_indices.extend((0..k).map(|j| start + j * f));
            start += len;
        }
        sample_base = start;
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
