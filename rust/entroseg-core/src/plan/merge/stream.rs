//! The merge planner over a stream: units arrive chunk by chunk, final groups leave as
//! soon as they are final.
//!
//! # What a stream can plan, and why blocks
//!
//! The one-shot plan of a whole series is not local, even for a threshold: a level
//! takes the disjoint pairs of maximum total (similarity - threshold), and on a run of
//! pairs that are all above the threshold, which of two overlapping pairs wins can
//! depend on a similarity arbitrarily far to the right (the alternating chain
//! `1, 1+e, 1, 1+e, ..., X`: a large `X` at the end flips every choice before it). A
//! count (`r` per series) or a ratio of the whole series, and the EMA's per-level mean,
//! are global by definition. So no bounded look-ahead reproduces the plan of a whole
//! series, and a stream that promised it would have to hold the series.
//!
//! The streaming plan therefore makes window-local decisions its definition: each
//! series is cut into consecutive blocks of `block` units (counted from the series'
//! first unit; the last block may be shorter) and each block is planned exactly as a
//! series alone ([`MergeOptions::block`]). The one-shot [`merge_plan`] with the same
//! `block` is the reference: the streamed plan equals it, bit for bit, for any
//! chunking and across checkpoint/restore, for every schedule:
//!
//! - threshold: pairs above the threshold, maximum total, within each block;
//! - EMA (D2O-style): the threshold follows the EMA over the levels of each block;
//! - `r` per level (constant, ToMe's linear, a list): `r` merges per block and level,
//!   ToMe's per-level `r` within fixed windows;
//! - ratio: each block of `n` units keeps `ceil(ratio * n)` groups after the last level
//!   whenever its window allows it (`achieved == requested` at every level), so every
//!   full block keeps exactly `ceil(ratio * block)` and the whole stream at most
//!   `ratio * N + blocks` groups; the plan records per block what it achieved.
//!
//! Look-ahead: a unit's groups at every level are final once the last unit of its block
//! has arrived, that is at most `block - 1` units later; [`MergePlanner::finish`] plans
//! the last, shorter block. Memory: one block of units (their vectors or profile rows
//! and weights), constant in the stream length.

use crate::error::{Error, ErrorKind, Result};
use crate::plan::merge::{
    merge_plan, plan_with, Features, MergeOptions, MergePlan, Schedule, Workspace,
};
use crate::util::checkpoint::{Reader, Writer};

/// Which similarity the units of a stream carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Similarity {
    /// Caller vectors (float32 rows): [`Features::Cosine`].
    Cosine,
    /// Profile rows over the units' samples: [`Features::Profile`].
    Profile,
}

/// Groups that became final in one `push` or `finish`: a plan of one series over the
/// units `first_unit .. first_unit + n` (ids local to it), and where its groups start
/// in the whole stream's numbering.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StreamPlan {
    /// Stream index of the plan's first unit.
    pub first_unit: u64,
    /// Per level, the stream-wide id of the plan's first group.
    pub first_groups: Vec<u64>,
    /// The plan of these units (one series; whole blocks, except at `finish`).
    pub plan: MergePlan,
}

impl StreamPlan {
    /// Units the plan covers.
    pub fn num_units(&self) -> usize {
        self.plan.levels.first().map_or(0, |l| l.source.len())
    }
}

/// The streaming merge planner of one series. See the module documentation.
#[derive(Debug, Clone)]
pub struct MergePlanner {
    options: MergeOptions,
    block: usize,
    similarity: Similarity,
    /// Columns per unit (vectors) or per sample (profile); 0 until the first push.
    dim: usize,
    /// The open block: vectors (cosine) or sample rows (profile), samples per unit
    /// (profile), weights.
    vectors: Vec<f32>,
    rows: Vec<f64>,
    unit_lengths: Vec<i64>,
    weights: Vec<i64>,
    units_seen: u64,
    groups_emitted: Vec<u64>,
    finished: bool,
    /// The planner's scratch buffers, kept from push to push (not part of the state).
    workspace: Workspace,
}

const TAG: &str = "MergePlanner";

impl MergePlanner {
    /// A planner for `options`, which must give `block`.
    pub fn new(options: MergeOptions, similarity: Similarity) -> Result<Self> {
        let Some(block) = options.block else {
            return Err(Error::parameter(
                "a streaming merge plan needs block (units planned together); the plan of \
                 a whole series depends on all of it",
            ));
        };
        // Validates everything (window, block, schedule) on an empty series.
        let probe = match similarity {
            Similarity::Cosine => Features::Cosine {
                vectors: &[],
                dim: 1,
            },
            Similarity::Profile => Features::Profile {
                values: &[],
                columns: 1,
                unit_lengths: &[],
            },
        };
        merge_plan(&[0, 0], None, probe, &options)?;
        let levels = options.schedule.levels();
        Ok(Self {
            options,
            block,
            similarity,
            dim: 0,
            vectors: Vec::new(),
            rows: Vec::new(),
            unit_lengths: Vec::new(),
            weights: Vec::new(),
            units_seen: 0,
            groups_emitted: vec![0; levels],
            finished: false,
            workspace: Workspace::default(),
        })
    }

    /// The options.
    pub fn options(&self) -> &MergeOptions {
        &self.options
    }

    /// The similarity the units carry.
    pub fn similarity(&self) -> Similarity {
        self.similarity
    }

    /// Units pushed so far.
    pub fn units_seen(&self) -> u64 {
        self.units_seen
    }

    /// Units waiting for their block to complete.
    pub fn pending(&self) -> usize {
        self.weights.len()
    }

    /// Per level, groups emitted so far.
    pub fn groups_emitted(&self) -> &[u64] {
        &self.groups_emitted
    }

    /// True after `finish`.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Feeds the next units; returns the groups that became final (the blocks that
    /// completed). With [`Similarity::Cosine`] the features are `Features::Cosine`
    /// (one row per unit), with [`Similarity::Profile`] `Features::Profile` (the rows
    /// of each unit's samples, whole units). `weights` as in [`merge_plan`] (default 1
    /// each). On error the state is unchanged.
    pub fn push(&mut self, features: Features<'_>, weights: Option<&[i64]>) -> Result<StreamPlan> {
        Error::check_open(self.finished)?;
        let n = self.check(&features, weights)?;
        // Planning can still fail (a strict count schedule asking more than a block
        // allows): then the chunk is taken back.
        let kept = (
            self.dim,
            self.vectors.len(),
            self.rows.len(),
            self.unit_lengths.len(),
            self.weights.len(),
        );
        // The stream's column count comes from its first units: an empty chunk's (of
        // no rows) must not replace it, or the next chunk of that width would join
        // rows of another width.
        match features {
            Features::Cosine { vectors, dim } => {
                if n > 0 {
                    self.dim = dim;
                }
                self.vectors.extend_from_slice(vectors);
            }
            Features::Profile {
                values,
                columns,
                unit_lengths,
            } => {
                if n > 0 {
                    self.dim = columns;
                }
                self.rows.extend_from_slice(values);
                self.unit_lengths.extend_from_slice(unit_lengths);
            }
        }
        match weights {
            Some(w) => self.weights.extend_from_slice(w),
            None => self.weights.resize(self.weights.len() + n, 1),
        }
        self.units_seen += n as u64;
        let complete = self.weights.len() / self.block * self.block;
        let out = self.plan_head(complete);
        if out.is_err() {
            self.dim = kept.0;
            self.vectors.truncate(kept.1);
            self.rows.truncate(kept.2);
            self.unit_lengths.truncate(kept.3);
            self.weights.truncate(kept.4);
            self.units_seen -= n as u64;
        }
        out
    }

    /// Hands back a plan this planner (or another) returned, once its arrays are no
    /// longer needed: the next pushes write their levels into those arrays instead of
    /// fresh ones, which saves the page faults of new memory (a third of a push's time
    /// when every push allocates). Optional; the plans are the same either way.
    pub fn recycle(&mut self, plan: MergePlan) {
        self.workspace.spare.keep(plan);
    }

    /// Closes the stream: plans the last (shorter) block and returns its groups.
    pub fn finish(&mut self) -> Result<StreamPlan> {
        if self.finished {
            return Err(Error::new(
                ErrorKind::InvalidState,
                "finish() after finish(): the stream is closed; call reset() to start a new one",
            ));
        }
        let out = self.plan_head(self.weights.len())?;
        self.finished = true;
        Ok(out)
    }

    /// Back to a fresh stream with the same options.
    pub fn reset(&mut self) {
        self.dim = 0;
        self.vectors.clear();
        self.rows.clear();
        self.unit_lengths.clear();
        self.weights.clear();
        self.units_seen = 0;
        self.groups_emitted.iter_mut().for_each(|g| *g = 0);
        self.finished = false;
    }

    /// Checks a chunk as a whole before anything is kept; returns its units.
    fn check(&self, features: &Features<'_>, weights: Option<&[i64]>) -> Result<usize> {
        let at = self.units_seen;
        let (n, dim) = match (*features, self.similarity) {
            (Features::Cosine { vectors, dim }, Similarity::Cosine) => {
                if dim == 0 || vectors.len() % dim != 0 {
                    return Err(Error::parameter(format!(
                        "vectors must be rows of at least one column, got {} values in rows of \
                         {dim}",
                        vectors.len()
                    )));
                }
                if let Some(i) = vectors.iter().position(|v| !v.is_finite()) {
                    let unit = at + (i / dim) as u64;
                    return Err(Error::new(
                        ErrorKind::NonFinite {
                            index: unit as usize,
                        },
                        format!(
                            "vectors of unit {unit} (row {} of the chunk) hold {}, not finite; \
                             similarities need finite vectors",
                            i / dim,
                            vectors[i]
                        ),
                    ));
                }
                (vectors.len() / dim, dim)
            }
            (
                Features::Profile {
                    values,
                    columns,
                    unit_lengths,
                },
                Similarity::Profile,
            ) => {
                if columns == 0 {
                    return Err(Error::parameter(
                        "the profile must have at least one column, got 0",
                    ));
                }
                if let Some(i) = unit_lengths.iter().position(|&l| l < 1) {
                    return Err(Error::parameter(format!(
                        "unit lengths must be >= 1, got length {} at unit {}",
                        unit_lengths[i],
                        at + i as u64
                    )));
                }
                let samples = unit_lengths
                    .iter()
                    .try_fold(0i64, |a, &l| a.checked_add(l))
                    .unwrap_or(i64::MAX);
                if (values.len() / columns) as i64 != samples || values.len() % columns != 0 {
                    return Err(Error::parameter(format!(
                        "the chunk's profile has {} values ({} columns) but its units cover \
                         {samples} samples",
                        values.len(),
                        columns
                    )));
                }
                if let Some(i) = values.iter().position(|v| !v.is_finite()) {
                    return Err(Error::new(
                        ErrorKind::NonFinite { index: i / columns },
                        format!(
                            "profile row {} of the chunk holds {}, not finite; similarities \
                             need a finite profile",
                            i / columns,
                            values[i]
                        ),
                    ));
                }
                (unit_lengths.len(), columns)
            }
            (_, expected) => {
                return Err(Error::parameter(format!(
                    "this planner takes {} features, got the other kind",
                    match expected {
                        Similarity::Cosine => "vectors (cosine)",
                        Similarity::Profile => "profile",
                    }
                )))
            }
        };
        if n > 0 && self.dim != 0 && dim != self.dim {
            return Err(Error::parameter(format!(
                "the stream's units have {} columns, got a chunk of {dim}",
                self.dim
            )));
        }
        if let Some(w) = weights {
            if w.len() != n {
                return Err(Error::parameter(format!(
                    "weights must have one entry per unit of the chunk ({n}), got {}",
                    w.len()
                )));
            }
            if let Some(i) = w.iter().position(|&v| v < 1) {
                return Err(Error::parameter(format!(
                    "weights must be >= 1, got {} for unit {}",
                    w[i],
                    at + i as u64
                )));
            }
        }
        if at.saturating_add(n as u64) >= i32::MAX as u64 {
            return Err(Error::parameter(format!(
                "a stream holds at most {} units (int32 group ids), got {}",
                i32::MAX - 1,
                at.saturating_add(n as u64)
            )));
        }
        Ok(n)
    }

    /// Plans the first `units` pending units (whole blocks, or the rest at `finish`)
    /// and drops them from the buffer.
    fn plan_head(&mut self, units: usize) -> Result<StreamPlan> {
        let dim = self.dim.max(1);
        let samples: usize = self.unit_lengths[..units.min(self.unit_lengths.len())]
            .iter()
            .map(|&l| l as usize)
            .sum();
        let features = match self.similarity {
            Similarity::Cosine => Features::Cosine {
                vectors: &self.vectors[..units * dim],
                dim,
            },
            Similarity::Profile => Features::Profile {
                values: &self.rows[..samples * dim],
                columns: dim,
                unit_lengths: &self.unit_lengths[..units],
            },
        };
        let plan = plan_with(
            &[0, units as i64],
            Some(&self.weights[..units]),
            features,
            &self.options,
            &mut self.workspace,
            // Every buffered value was checked by `check` (or `restore`).
            true,
        )?;
        let first_unit = self.units_seen - self.weights.len() as u64;
        let first_groups = self.groups_emitted.clone();
        for (g, level) in self.groups_emitted.iter_mut().zip(&plan.levels) {
            *g += level.sizes.len() as u64;
        }
        match self.similarity {
            Similarity::Cosine => drop(self.vectors.drain(..units * dim)),
            Similarity::Profile => {
                self.rows.drain(..samples * dim);
                self.unit_lengths.drain(..units);
            }
        }
        self.weights.drain(..units);
        Ok(StreamPlan {
            first_unit,
            first_groups,
            plan,
        })
    }

    /// Serialises the state (options, the open block, counters).
    pub fn checkpoint(&self) -> Vec<u8> {
        let mut w = Writer::new(TAG);
        let o = &self.options;
        w.u64(o.window as u64);
        w.bool(o.max_size.is_some());
        w.u64(o.max_size.unwrap_or(0) as u64);
        w.bool(o.strict);
        w.u64(self.block as u64);
        match &o.schedule {
            Schedule::Counts(c) => {
                w.u64(0);
                w.u64(c.len() as u64);
                c.iter().for_each(|&v| w.u64(v as u64));
            }
            Schedule::Ratio { ratio, levels } => {
                w.u64(1);
                w.f64(*ratio);
                w.u64(*levels as u64);
            }
            Schedule::Threshold { threshold, levels } => {
                w.u64(2);
                w.f64(*threshold);
                w.u64(*levels as u64);
            }
            Schedule::Ema {
                initial,
                momentum,
                levels,
            } => {
                w.u64(3);
                w.bool(initial.is_some());
                w.f64(initial.unwrap_or(0.0));
                w.f64(*momentum);
                w.u64(*levels as u64);
            }
        }
        w.bool(self.similarity == Similarity::Profile);
        w.u64(self.dim as u64);
        w.u32s(
            &self
                .vectors
                .iter()
                .map(|v| v.to_bits())
                .collect::<Vec<u32>>(),
        );
        w.f64s(&self.rows);
        write_i64s(&mut w, &self.unit_lengths);
        write_i64s(&mut w, &self.weights);
        w.u64(self.units_seen);
        write_i64s(
            &mut w,
            &self
                .groups_emitted
                .iter()
                .map(|&g| g as i64)
                .collect::<Vec<_>>(),
        );
        w.bool(self.finished);
        w.finish()
    }

    /// Rebuilds a planner from `checkpoint()` bytes; it resumes bit-identically.
    pub fn restore(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::open(bytes, TAG)?;
        let window = r.usize()?;
        let has_max = r.bool()?;
        let max = r.u64()? as i64;
        let strict = r.bool()?;
        let block = r.usize()?;
        let schedule = match r.u64()? {
            0 => {
                let n = r.usize()?;
                r.expect_items(n, 8)?;
                Schedule::Counts((0..n).map(|_| r.usize()).collect::<Result<_>>()?)
            }
            1 => Schedule::Ratio {
                ratio: r.f64()?,
                levels: r.usize()?,
            },
            2 => Schedule::Threshold {
                threshold: r.f64()?,
                levels: r.usize()?,
            },
            3 => {
                let has = r.bool()?;
                let initial = r.f64()?;
                Schedule::Ema {
                    initial: has.then_some(initial),
                    momentum: r.f64()?,
                    levels: r.usize()?,
                }
            }
            k => return Err(Error::checkpoint(format!("unknown schedule kind {k}"))),
        };
        let options = MergeOptions {
            window,
            max_size: has_max.then_some(max),
            schedule,
            strict,
            block: Some(block),
        };
        let similarity = if r.bool()? {
            Similarity::Profile
        } else {
            Similarity::Cosine
        };
        let mut planner = Self::new(options, similarity)
            .map_err(|e| Error::checkpoint(format!("invalid options: {}", e.message())))?;
        planner.dim = r.usize()?;
        planner.vectors = r.u32s()?.into_iter().map(f32::from_bits).collect();
        planner.rows = r.f64s()?;
        planner.unit_lengths = read_i64s(&mut r)?;
        planner.weights = read_i64s(&mut r)?;
        planner.units_seen = r.u64()?;
        let groups = read_i64s(&mut r)?;
        planner.finished = r.bool()?;
        r.finish()?;
        let n = planner.weights.len();
        let dim = planner.dim.max(1);
        let consistent = groups.len() == planner.groups_emitted.len()
            && groups.iter().all(|&g| g >= 0)
            && n < block
            // Units kept fix the stream's columns (0: none seen yet).
            && (n == 0 || planner.dim >= 1)
            // What a stream can reach (`check` refuses more units), so that the
            // counters cannot outgrow their stored form: every group emitted covers at
            // least one planned unit.
            && planner.units_seen < i32::MAX as u64
            && groups.iter().all(|&g| g as u64 <= planner.units_seen - n as u64)
            && n as u64 <= planner.units_seen
            && planner.weights.iter().all(|&w| w >= 1)
            && match similarity {
                Similarity::Cosine => {
                    n.checked_mul(dim) == Some(planner.vectors.len())
                        && planner.rows.is_empty()
                        && planner.unit_lengths.is_empty()
                        && planner.vectors.iter().all(|v| v.is_finite())
                }
                Similarity::Profile => {
                    planner.vectors.is_empty()
                        && planner.unit_lengths.len() == n
                        && planner.unit_lengths.iter().all(|&l| l >= 1)
                        && planner
                            .unit_lengths
                            .iter()
                            .try_fold(0usize, |a, &l| a.checked_add(l as usize))
                            .and_then(|s| s.checked_mul(dim))
                            == Some(planner.rows.len())
                        && planner.rows.iter().all(|v| v.is_finite())
                }
            };
        if !consistent {
            return Err(Error::checkpoint("inconsistent merge planner state"));
        }
        planner.groups_emitted = groups.into_iter().map(|g| g as u64).collect();
        Ok(planner)
    }
}

fn write_i64s(w: &mut Writer, v: &[i64]) {
    w.u64(v.len() as u64);
    v.iter().for_each(|&x| w.u64(x as u64));
}

fn read_i64s(r: &mut Reader) -> Result<Vec<i64>> {
    let n = r.usize()?;
    r.expect_items(n, 8)?;
    (0..n).map(|_| Ok(r.u64()? as i64)).collect()
}

#[cfg(test)]
mod tests;
