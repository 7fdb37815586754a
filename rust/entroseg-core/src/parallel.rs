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
//! of `target_len` is computed once over the whole profile, then the rules run in
//! parallel with that threshold.

use crate::boundary::{calibrate_threshold, Calibration, PresetEngine, RuleEngine, Rules, Segment};
use crate::error::{Error, Result};
use crate::estimate::conditional;
use crate::estimate::permutation;
use crate::segmenter::Method;

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

#[derive(Debug, Clone)]
enum Engine {
    Native(RuleEngine),
    Preset(PresetEngine),
}

impl Engine {
    fn push(&mut self, scores: &[f64], out: &mut Vec<Segment>) {
        match self {
            Engine::Native(e) => e.push(scores, out),
            Engine::Preset(e) => e.push(scores, out),
        }
    }
    fn open_start(&self) -> (u64, u8) {
        match self {
            Engine::Native(e) => e.open_start(),
            Engine::Preset(e) => e.open_start(),
        }
    }
    fn restarted_at(&self, scores: &[f64], pos: u64) -> Self {
        let at = |back: u64| {
            pos.checked_sub(back)
                .map_or(f64::NAN, |i| scores[i as usize])
        };
        match self {
            Engine::Native(e) => Engine::Native(e.restarted_at(pos, at(1))),
            Engine::Preset(e) => Engine::Preset(e.restarted_at(pos, at(1), at(2))),
        }
    }
}

/// A run of the rules over positions `[first, end)`: its final starts (the open
/// segment's included) and its engine, ready to continue.
#[derive(Debug, Clone)]
struct SpanRun {
    end: u64,
    starts: Vec<(u64, u8)>,
    engine: Engine,
}

impl SpanRun {
    fn new(engine: Engine, scores: &[f64], first: u64, end: u64) -> Self {
        let mut run = Self {
            end: first,
            starts: vec![engine.open_start()],
            engine,
        };
        run.extend(scores, end);
        run
    }

    /// Continues the run up to `end`.
    fn extend(&mut self, scores: &[f64], end: u64) {
        if end <= self.end {
            return;
        }
        let mut out = Vec::new();
        self.engine
            .push(&scores[self.end as usize..end as usize], &mut out);
        // The old open start comes back as the first closed segment.
        self.starts.pop();
        self.starts.extend(out.iter().map(|s| (s.start, s.reason)));
        self.starts.push(self.engine.open_start());
        self.end = end;
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

/// Runs `job` on each index in `0..jobs` over `threads` threads, results in order.
fn run_parallel<R: Send>(jobs: usize, threads: usize, job: impl Fn(usize) -> R + Sync) -> Vec<R> {
    let threads = threads.clamp(1, jobs.max(1));
    if threads == 1 {
        return (0..jobs).map(job).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let slots: Vec<std::sync::Mutex<Option<R>>> =
        (0..jobs).map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= jobs {
                    break;
                }
                let r = job(i);
                *slots[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
            });
        }
    });
    slots
        .into_iter()
        .map(|m| {
            m.into_inner()
                .unwrap_or_else(|p| p.into_inner())
                .expect("every job ran")
        })
        .collect()
}

/// The default overlap: long enough for the runs to meet at a rule start in practice.
fn default_overlap(rules: &Rules) -> usize {
    let span = rules.max_len.unwrap_or(0).max(rules.min_len);
    (8 * span).max(256)
}

/// The rules over a whole score array, chunk-parallel; equal to
/// [`crate::boundary::segment_scores`] segment for segment.
pub fn segment_scores_parallel(
    scores: &[f64],
    rules: &Rules,
    chunks: usize,
    threads: usize,
    overlap: Option<usize>,
) -> Result<(Vec<Segment>, StitchReport)> {
    rules.validate()?;
    if chunks < 1 {
        return Err(Error::parameter(format!(
            "chunks must be >= 1, got {chunks}"
        )));
    }
    let n = scores.len();
    let mut report = StitchReport {
        chunks: 1,
        ..StitchReport::default()
    };
    let base = match rules.preset {
        Some(preset) => Engine::Preset(PresetEngine::new(*rules, preset, scores)?),
        None => {
            let calibrated = match (rules.target_len, rules.calibration) {
                (Some(_), Calibration::Batch) => Some(calibrate_threshold(scores, rules)?),
                _ => None,
            };
            Engine::Native(RuleEngine::new(*rules, calibrated)?)
        }
    };
    let online = matches!(&base, Engine::Native(e) if e.is_online());
    let chunks = chunks.min(n.max(1));
    if online || chunks == 1 {
        if online {
            report.sequential_reason =
                Some("the online target_len controller depends on the whole history");
        }
        let run = SpanRun::new(base, scores, 0, n as u64);
        return Ok((starts_to_segments(&run.starts, n as u64), report));
    }
    report.chunks = chunks;
    let overlap = overlap.unwrap_or_else(|| default_overlap(rules)) as u64;
    let bounds = chunk_bounds(n, chunks);
    let mut runs: Vec<Option<SpanRun>> = run_parallel(chunks, threads, |k| {
        let (a, b) = (bounds[k] as u64, bounds[k + 1] as u64);
        let engine = if k == 0 {
            base.clone()
        } else {
            base.restarted_at(scores, a)
        };
        Some(SpanRun::new(engine, scores, a, (b + overlap).min(n as u64)))
    });
    let mut truth = runs[0].take().expect("chunk 0 ran");
    let step = overlap.max(4096);
    for (k, slot) in runs.iter_mut().enumerate().skip(1) {
        let right = slot.take().expect("every chunk ran");
        let a = bounds[k] as u64;
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
            truth.extend(scores, to);
        }
        if fell_back {
            report.fallbacks += 1;
        }
    }
    truth.extend(scores, n as u64);
    Ok((starts_to_segments(&truth.starts, n as u64), report))
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

/// The rolling profile of `x`, chunk-parallel: chunk `[a, b)` is computed from
/// `x[a - (window - 1) .. b)` and keeps its own positions.
fn parallel_profile<T: Copy + Sync>(
    x: &[T],
    window: usize,
    chunks: usize,
    threads: usize,
    rolling: impl Fn(&[T]) -> Result<Vec<f64>> + Sync,
) -> Result<Vec<f64>> {
    let n = x.len();
    let chunks = chunks.clamp(1, n.max(1));
    let bounds = chunk_bounds(n, chunks);
    let parts = run_parallel(chunks, threads, |k| {
        let (a, b) = (bounds[k], bounds[k + 1]);
        let lo = a.saturating_sub(window - 1);
        rolling(&x[lo..b]).map(|v| v[a - lo..].to_vec())
    });
    let mut out = Vec::with_capacity(n);
    for p in parts {
        out.extend(p?);
    }
    Ok(out)
}

/// Chunk-parallel segmentation of a float series; equal to
/// [`crate::segmenter::segment_values`].
pub fn segment_values_parallel(
    x: &[f64],
    method: &Method,
    rules: &Rules,
    chunks: usize,
    threads: usize,
    overlap: Option<usize>,
) -> Result<(Vec<Segment>, StitchReport)> {
    rules.validate()?;
    let scores = match method {
        Method::Permutation(o) => {
            let window = o.window.ok_or_else(|| {
                Error::parameter("segmenting needs a rolling profile: give window (in samples)")
            })?;
            // Validate once (and produce the right error) before splitting.
            permutation::PermutationEstimator::new(*o)?;
            parallel_profile(x, window, chunks, threads, |part| {
                permutation::rolling(part, *o)
            })
            .map_err(|e| reindex(e, x))?
        }
        Method::Scores(policy) => {
            if *policy == crate::NanPolicy::Raise {
                if let Some(i) = crate::estimate::first_non_finite(x) {
                    return Err(crate::estimate::non_finite_error_at(i, x[i], 0));
                }
            }
            return segment_scores_parallel(x, rules, chunks, threads, overlap);
        }
        _ => {
            return Err(Error::parameter(
                "this method takes integer symbols, not float values",
            ))
        }
    };
    segment_scores_parallel(&scores, rules, chunks, threads, overlap)
}

/// An error from a chunk names a position in the chunk; recompute it on the whole
/// input so the message matches the one-shot call.
fn reindex(e: Error, x: &[f64]) -> Error {
    if let crate::ErrorKind::NonFinite { .. } = e.kind() {
        if let Some(i) = crate::estimate::first_non_finite(x) {
            return crate::estimate::non_finite_error_at(i, x[i], 0);
        }
    }
    e
}

/// Chunk-parallel segmentation of a symbol stream; equal to
/// [`crate::segmenter::segment_symbols`]. The next-symbol profile is computed in one
/// sequential pass (the report says so); the rules still run in parallel.
pub fn segment_symbols_parallel<T: Copy + Into<u64> + Sync>(
    x: &[T],
    method: &Method,
    rules: &Rules,
    chunks: usize,
    threads: usize,
    overlap: Option<usize>,
) -> Result<(Vec<Segment>, StitchReport)> {
    rules.validate()?;
    match method {
        Method::Conditional(o) => {
            let window = o.window.ok_or_else(|| {
                Error::parameter("segmenting needs a rolling profile: give window (in symbols)")
            })?;
            conditional::ConditionalEstimator::new(*o)?;
            let a = o.alphabet_size as u64;
            if let Some(i) = x.iter().position(|&s| s.into() >= a) {
                return Err(Error::new(
                    crate::ErrorKind::SymbolOutOfRange { index: i },
                    format!(
                        "symbol {} at index {i} is outside the alphabet 0..{a} \
                         (alphabet_size={a})",
                        x[i].into()
                    ),
                ));
            }
            let scores = parallel_profile(x, window, chunks, threads, |part| {
                conditional::rolling(part, *o)
            })?;
            segment_scores_parallel(&scores, rules, chunks, threads, overlap)
        }
        Method::NextSymbol(..) => {
            // The profile is one sequential pass; compute it through the one-shot path's
            // validation, then run the rules in parallel.
            let (h, q) = match method {
                Method::NextSymbol(o, _) => {
                    crate::estimate::context_model::next_symbol_entropy(x, *o)?
                }
                _ => unreachable!(),
            };
            let scores = match method {
                Method::NextSymbol(_, crate::segmenter::NextScore::Surprisal) => q,
                _ => h,
            };
            let (segs, mut report) =
                segment_scores_parallel(&scores, rules, chunks, threads, overlap)?;
            report.sequential_reason =
                Some("the next-symbol profile counts the whole history: computed sequentially");
            Ok((segs, report))
        }
        _ => Err(Error::parameter(
            "this method takes float values, not integer symbols",
        )),
    }
}

#[cfg(test)]
mod tests;
