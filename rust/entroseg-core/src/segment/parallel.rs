//! Exact chunk-parallel segmentation of one long stream.
//!
//! **Profiles are local.** A rolling value at `t` is a pure function of the `W` samples
//! `[t-W+1, t]` (fixed-point sums, exact weights), so a chunk that starts with `W - 1`
//! samples of warm-up taken from its predecessor computes exactly the one-pass values
//! of its own positions. Chunks of the profile run on all threads.
//!
//! **Boundaries are not local**, but they forget quickly. With a fixed threshold (given,
//! or calibrated once over the whole profile) the rule engine's state is the start of
//! the open segment and the score before the current one; everything else is read from
//! the scores. So each chunk `[a, b)` is segmented *as if* a segment started at `a`,
//! and keeps going for an `overlap` past `b`. Stitching walks the chunks in order: the
//! first start position that the true run (the run stitched so far) and the chunk's
//! run share, both final, is where the two runs have the same state, and from there on
//! they produce the same starts; the chunk's artificial starts before it are dropped.
//! When the overlap holds no shared start, the true run is continued sequentially over
//! the chunk until one appears (or the chunk ends) and the report counts it.
//!
//! What cannot be split exactly runs sequentially, and the report says so: the online
//! `target_len` controller (its threshold depends on the whole history) and the
//! next-symbol profile (the context model counts everything seen). Batch calibration
//! of `target_len` is computed once over the whole profile (sequentially); on a long
//! profile that search cuts it too, in about one pass (see `rules::sampled`), and its
//! segments are the answer, else the rules run in parallel with the threshold found.

use crate::error::{Error, Result};
use crate::estimate::samples::Samples;
use crate::estimate::{conditional, permutation};
use crate::segment::profile::{check_input, profile_of};
use crate::segment::rules::{sampled_calibration, Engine, Rules, Segment};
use crate::segment::spec::{Method, SegmentSpec};
use crate::util::pool::run_parallel;

/// How a chunk-parallel run went.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StitchReport {
    /// Chunks the stream was cut into (1 when the run was sequential).
    pub chunks: usize,
    /// Chunk joins made at a start shared with the true run inside the overlap.
    pub stitched: usize,
    /// Chunk joins that needed the true run continued sequentially past the overlap.
    pub fallbacks: usize,
    /// Samples of rules re-run sequentially by those fallbacks.
    pub sequential_samples: u64,
    /// Why the whole run (or its profile) was sequential, when it was.
    pub sequential_reason: Option<&'static str>,
}

/// Fills `out` with the scores of positions `from .. from + out.len()`.
type Fill<'a> = dyn Fn(u64, &mut [f64]) -> Result<()> + Sync + 'a;

/// Scores are produced and consumed in blocks of this many samples.
const BLOCK: usize = 1 << 15;

/// A run of the rules over positions `[first, end)`: its final starts (the open
/// segment's included) and its engine, ready to continue.
#[derive(Debug, Clone)]
struct SpanRun {
    end: u64,
    starts: Vec<(u64, u8)>,
    engine: Engine,
}

impl SpanRun {
    fn new(engine: Engine, fill: &Fill, first: u64, end: u64) -> Result<Self> {
        let mut run = Self {
            end: first,
            starts: vec![engine.open_start()],
            engine,
        };
        run.extend(fill, end)?;
        Ok(run)
    }

    /// Continues the run up to `end`, computing its scores block by block.
    fn extend(&mut self, fill: &Fill, end: u64) -> Result<()> {
        let mut buf = Vec::new();
        let mut out = Vec::new();
        while self.end < end {
            let len = ((end - self.end) as usize).min(BLOCK);
            buf.clear();
            buf.resize(len, 0.0);
            fill(self.end, &mut buf)?;
            out.clear();
            self.engine.push(&buf, &mut out);
            // The old open start comes back as the first closed segment. Its reason stays
            // the recorded one: after a stitch the engine is the chunk's, whose reason for
            // that start may be its artificial "start" while the true run's is a rule.
            if !out.is_empty() {
                let (at, code) = self.starts.pop().expect("the open start is recorded");
                debug_assert_eq!(out[0].start, at);
                self.starts.push((at, code));
                self.starts
                    .extend(out[1..].iter().map(|s| (s.start, s.reason)));
                self.starts.push(self.engine.open_start());
            }
            self.end += len as u64;
        }
        Ok(())
    }
}

/// First position `>= from` where both sorted start lists have a start.
fn first_shared(a: &[(u64, u8)], b: &[(u64, u8)], from: u64) -> Option<u64> {
    let mut i = a.partition_point(|s| s.0 < from);
    let mut j = b.partition_point(|s| s.0 < from);
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => return Some(a[i].0),
        }
    }
    None
}

/// Splits `0..n` into `chunks` near-equal ranges.
fn chunk_bounds(n: usize, chunks: usize) -> Vec<usize> {
    (0..=chunks).map(|k| k * n / chunks).collect()
}

/// More chunks than this gain nothing and cost memory (a run and its engine each):
/// at most one chunk per 16 samples, and at most 65,536.
fn max_chunks(n: usize) -> usize {
    (n / 16).clamp(1, 1 << 16)
}

/// The default overlap: long enough for the runs to meet at a rule start in practice.
fn default_overlap(rules: &Rules) -> usize {
    let span = rules.max_len.unwrap_or(0).max(rules.min_len);
    (8 * span).max(256)
}

/// The rules over `n` positions whose scores `fill` produces, chunk-parallel, stitched.
fn rules_parallel(
    n: usize,
    rules: &Rules,
    base: Engine,
    fill: &Fill,
    chunks: usize,
    threads: usize,
    overlap: Option<usize>,
) -> Result<(Vec<Segment>, StitchReport)> {
    let mut report = StitchReport {
        chunks: 1,
        ..StitchReport::default()
    };
    let online = base.is_online();
    let chunks = chunks.min(max_chunks(n));
    if online || chunks == 1 {
        if online {
            report.sequential_reason =
                Some("the online target_len controller depends on the whole history");
        }
        let run = SpanRun::new(base, fill, 0, n as u64)?;
        return Ok((starts_to_segments(&run.starts, n as u64), report));
    }
    report.chunks = chunks;
    let overlap = overlap.unwrap_or_else(|| default_overlap(rules)) as u64;
    let bounds = chunk_bounds(n, chunks);
    let runs = run_parallel(chunks, threads, |k| -> Result<SpanRun> {
        let (a, b) = (bounds[k] as u64, bounds[k + 1] as u64);
        let engine = if k == 0 {
            base.clone()
        } else {
            let mut prev = [f64::NAN; 2];
            let back = (a as usize).min(2);
            fill(a - back as u64, &mut prev[2 - back..])?;
            base.restarted_at(a, prev[1], prev[0])
        };
        SpanRun::new(engine, fill, a, (b + overlap).min(n as u64))
    });
    let mut runs = runs.into_iter();
    let mut truth = runs.next().expect("chunk 0 ran")?;
    let step = overlap.max(BLOCK as u64 / 8);
    for (k, right) in runs.enumerate() {
        let right = right?;
        let a = bounds[k + 1] as u64;
        let mut fell_back = false;
        loop {
            if let Some(p) = first_shared(&truth.starts, &right.starts, a) {
                let keep = truth.starts.partition_point(|s| s.0 <= p);
                truth.starts.truncate(keep);
                let from = right.starts.partition_point(|s| s.0 <= p);
                truth.starts.extend_from_slice(&right.starts[from..]);
                truth.engine = right.engine;
                truth.end = right.end;
                if !fell_back {
                    report.stitched += 1;
                }
                break;
            }
            if truth.end >= right.end {
                break;
            }
            // No shared start yet: continue the true run sequentially.
            fell_back = true;
            let to = (truth.end + step).min(right.end);
            report.sequential_samples += to - truth.end;
            truth.extend(fill, to)?;
        }
        if fell_back {
            report.fallbacks += 1;
        }
    }
    truth.extend(fill, n as u64)?;
    Ok((starts_to_segments(&truth.starts, n as u64), report))
}

/// The rules over a whole score array, chunk-parallel; equal to
/// [`crate::segment::rules::segment_scores`] segment for segment.
pub fn segment_scores_parallel(
    scores: &[f64],
    rules: &Rules,
    chunks: usize,
    threads: usize,
    overlap: Option<usize>,
) -> Result<(Vec<Segment>, StitchReport)> {
    rules.validate()?;
    check_chunks(chunks)?;
    // A batch calibration that cut the whole array as it searched (one pass, see
    // `rules::sampled`) leaves nothing for the chunks to do.
    if let Some((segs, _)) = sampled_calibration(scores, rules) {
        let report = StitchReport {
            chunks: 1,
            sequential_reason: Some("the batch calibration cut the whole profile in its own pass"),
            ..StitchReport::default()
        };
        return Ok((segs, report));
    }
    let base = Engine::new(*rules, scores)?;
    let fill = |from: u64, out: &mut [f64]| -> Result<()> {
        let from = from as usize;
        out.copy_from_slice(&scores[from..from + out.len()]);
        Ok(())
    };
    rules_parallel(scores.len(), rules, base, &fill, chunks, threads, overlap)
}

fn check_chunks(chunks: usize) -> Result<()> {
    if chunks < 1 {
        return Err(Error::parameter(format!(
            "chunks must be >= 1, got {chunks}"
        )));
    }
    Ok(())
}

fn starts_to_segments(starts: &[(u64, u8)], n: u64) -> Vec<Segment> {
    if n == 0 {
        return Vec::new();
    }
    starts
        .iter()
        .enumerate()
        .map(|(i, &(start, code))| Segment {
            start,
            len: starts.get(i + 1).map_or(n, |s| s.0) - start,
            reason: code,
        })
        .collect()
}

/// The whole rolling profile, chunk-parallel, written in place.
fn parallel_profile(n: usize, chunks: usize, threads: usize, fill: &Fill) -> Result<Vec<f64>> {
    let mut out = crate::util::buffer::zeroed_f64(n);
    let chunks = chunks.clamp(1, max_chunks(n));
    let bounds = chunk_bounds(n, chunks);
    let mut pieces: Vec<(u64, &mut [f64])> = Vec::with_capacity(chunks);
    let mut rest = out.as_mut_slice();
    for k in 0..chunks {
        let (piece, tail) = rest.split_at_mut(bounds[k + 1] - bounds[k]);
        pieces.push((bounds[k] as u64, piece));
        rest = tail;
    }
    // Each job fills its own piece; the pieces are disjoint, so the locks never wait.
    let slots: Vec<std::sync::Mutex<(u64, &mut [f64])>> =
        pieces.into_iter().map(std::sync::Mutex::new).collect();
    let filled = run_parallel(chunks, threads, |k| -> Result<()> {
        let mut slot = slots[k].lock().unwrap_or_else(|p| p.into_inner());
        let (from, ref mut piece) = *slot;
        for (j, block) in piece.chunks_mut(BLOCK).enumerate() {
            fill(from + (j * BLOCK) as u64, block)?;
        }
        Ok(())
    });
    // The first error by position, as a sequential pass would raise it.
    filled.into_iter().collect::<Result<Vec<()>>>()?;
    drop(slots);
    Ok(out)
}

/// Rules over a profile that `fill` computes: in place and fused when the rules can
/// start anywhere, over the whole profile first when they need it.
fn segment_profile(
    n: usize,
    rules: &Rules,
    fill: &Fill,
    chunks: usize,
    threads: usize,
    overlap: Option<usize>,
) -> Result<(Vec<Segment>, StitchReport)> {
    if rules.needs_whole_scores() {
        let scores = parallel_profile(n, chunks, threads, fill)?;
        return segment_scores_parallel(&scores, rules, chunks, threads, overlap);
    }
    let base = Engine::new(*rules, &[])?;
    rules_parallel(n, rules, base, fill, chunks, threads, overlap)
}

/// Chunk-parallel segmentation of one input; equal to
/// [`crate::segment::batch::segment`] segment for segment. The next-symbol profile is
/// computed in one sequential pass (the report says so); the rules still run in
/// parallel.
pub fn segment_parallel(
    x: Samples,
    spec: &SegmentSpec,
    chunks: usize,
    threads: usize,
    overlap: Option<usize>,
) -> Result<(Vec<Segment>, StitchReport)> {
    check_chunks(chunks)?;
    let method = spec.method().method_for(&x)?;
    let rules = spec.rules();
    // Bad input is refused before any thread starts (indices from the start of x).
    check_input(&method, &x, 0)?;
    match (method, x) {
        (Method::Permutation(o), Samples::Values(v)) => {
            let window = o.window.expect("a segmentation spec has a window");
            // A chunk's scores: its window - 1 samples of warm-up, then its own.
            let fill = |from: u64, out: &mut [f64]| -> Result<()> {
                let from = from as usize;
                let lo = from.saturating_sub(window - 1);
                let mut est = permutation::PermutationEstimator::new(o)?;
                est.update(&v[lo..from], &mut vec![0.0; from - lo])?;
                est.update(&v[from..from + out.len()], out)
            };
            segment_profile(v.len(), rules, &fill, chunks, threads, overlap)
        }
        (Method::Scores(_), Samples::Values(v)) => {
            segment_scores_parallel(v, rules, chunks, threads, overlap)
        }
        (Method::Conditional(o), symbols) => {
            let window = o.window.expect("a segmentation spec has a window");
            crate::for_symbols!(symbols, s => {
                let fill = |from: u64, out: &mut [f64]| -> Result<()> {
                    let from = from as usize;
                    let lo = from.saturating_sub(window - 1);
                    let mut est = conditional::ConditionalEstimator::new(o)?;
                    est.update(&s[lo..from], &mut vec![0.0; from - lo])?;
                    est.update(&s[from..from + out.len()], out)
                };
                segment_profile(s.len(), rules, &fill, chunks, threads, overlap)
            }, _v => unreachable!("check_input matched the input to the method"))
        }
        (Method::NextSymbol(..) | Method::NextValue(..), _) => {
            let scores = profile_of(x, &method)?;
            let (segs, mut report) =
                segment_scores_parallel(&scores, rules, chunks, threads, overlap)?;
            report.sequential_reason =
                Some("the next-symbol and next-value models learn from the whole history: computed sequentially");
            Ok((segs, report))
        }
        _ => unreachable!("check_input matched the input to the method"),
    }
}

#[cfg(test)]
mod tests;
