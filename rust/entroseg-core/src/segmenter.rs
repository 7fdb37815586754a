//! The segmentation pipeline: a score source (an estimator, or scores given by the
//! caller) feeding the rule engine.
//!
//! [`Segmenter`] is the streaming form: `push` a chunk, get the segments that closed;
//! `finish` closes the last one. Its state is the estimator's (O(window), or the
//! context model's tables) plus the rule engine's (O(max_len)), constant in the stream
//! length, and a checkpoint restores it bit for bit. Segments close with a delay of at
//! most `max_len` samples (a forced split is decided when the segment reaches
//! `max_len`; a rule start as soon as its sample arrives).
//!
//! [`segment_values`] / [`segment_symbols`] are the one-shot forms: the same pipeline fed
//! the whole input in one pass (fused: scores are computed block by block and consumed
//! at once), except when the rules need the whole score array first (batch
//! calibration of `target_len`, the EntroPE preset). [`segment_batch_values`] /
//! [`segment_batch_symbols`] run many series of a ragged batch on several threads; each
//! series is segmented exactly as it would be alone.

use crate::boundary::{
    segment_scores, Calibration, Preset, PresetEngine, RuleEngine, Rules, Segment,
};
use crate::checkpoint::{Reader, Writer};
use crate::error::{Error, ErrorKind, Result};
use crate::estimate::conditional::{ConditionalEstimator, ConditionalOptions};
use crate::estimate::context_model::{ContextModel, NextSymbolOptions};
use crate::estimate::permutation::{PermutationEstimator, PermutationOptions};
use crate::estimate::{first_non_finite, NanPolicy};
use crate::segments::{check_offsets, Segments};

/// Which score from the context model drives the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NextScore {
    /// Entropy of the predictive distribution.
    #[default]
    Entropy,
    /// Surprisal of the observed symbol.
    Surprisal,
}

/// Where the scores come from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Method {
    /// Rolling permutation entropy (or complexity ...) of a float series.
    Permutation(PermutationOptions),
    /// Rolling conditional entropy of a symbol stream.
    Conditional(ConditionalOptions),
    /// Next-symbol entropy or surprisal of a symbol stream.
    NextSymbol(NextSymbolOptions, NextScore),
    /// The input is the score signal itself.
    Scores(NanPolicy),
}

impl Method {
    /// True when the method consumes symbols (integers) rather than floats.
    pub fn takes_symbols(&self) -> bool {
        matches!(self, Method::Conditional(_) | Method::NextSymbol(..))
    }

    fn validate(&self) -> Result<()> {
        match self {
            Method::Permutation(o) if o.window.is_none() => Err(Error::parameter(
                "segmenting needs a rolling profile: give window (in samples)",
            )),
            Method::Conditional(o) if o.window.is_none() => Err(Error::parameter(
                "segmenting needs a rolling profile: give window (in symbols)",
            )),
            _ => Ok(()),
        }
    }
}

#[derive(Debug, Clone)]
enum Source {
    Permutation(Box<PermutationEstimator>),
    Conditional(Box<ConditionalEstimator>),
    NextSymbol(Box<ContextModel>, NextScore),
    Scores(NanPolicy),
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
    fn finish(&mut self, out: &mut Vec<Segment>) {
        match self {
            Engine::Native(e) => e.finish(out),
            Engine::Preset(e) => e.finish(out),
        }
    }
}

/// Block size of the fused pass: scores of a block are computed, then consumed while
/// they are still in cache.
const BLOCK: usize = 4096;

/// The streaming segmentation pipeline.
#[derive(Debug, Clone)]
pub struct Segmenter {
    method: Method,
    source: Source,
    engine: Engine,
    scores: Vec<f64>,
    spare: Vec<f64>,
    seen: u64,
    finished: bool,
}

const TAG: &str = "Segmenter";

impl Segmenter {
    /// Builds the pipeline. Streaming cannot calibrate `target_len` in batch (use
    /// `Calibration::Online`) nor run the EntroPE preset (it needs the whole sequence).
    pub fn new(method: Method, rules: Rules) -> Result<Self> {
        method.validate()?;
        rules.validate()?;
        if rules.target_len.is_some() && rules.calibration == Calibration::Batch {
            return Err(Error::parameter(
                "a streaming Segmenter cannot see the whole series to calibrate target_len: \
                 use calibration='online'",
            ));
        }
        let engine = match rules.preset {
            Some(Preset::Entrope { .. }) => {
                return Err(Error::parameter(
                    "preset 'entrope' needs the whole sequence (a per-sequence quantile) and \
                     cannot stream; use segment() or boundaries()",
                ))
            }
            Some(p) => Engine::Preset(PresetEngine::new(rules, p, &[])?),
            None => Engine::Native(RuleEngine::new(rules, None)?),
        };
        Ok(Self {
            method,
            source: build_source(&method)?,
            engine,
            scores: Vec::new(),
            spare: Vec::new(),
            seen: 0,
            finished: false,
        })
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// Samples consumed.
    pub fn samples_seen(&self) -> u64 {
        self.seen
    }

    /// True after `finish`.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    fn check_open(&self) -> Result<()> {
        if self.finished {
            return Err(Error::new(
                ErrorKind::InvalidState,
                "push() after finish(): the stream is closed; call reset() to start a new one",
            ));
        }
        Ok(())
    }

    /// Feeds float samples (permutation and scores methods); returns the segments that
    /// closed. On error the state is unchanged.
    pub fn push_values(&mut self, chunk: &[f64]) -> Result<Vec<Segment>> {
        self.check_open()?;
        let mut out = Vec::new();
        let mut scores = std::mem::take(&mut self.scores);
        let result = (|| {
            match &mut self.source {
                Source::Permutation(est) => {
                    // Check the whole chunk first, so an error leaves no partial state.
                    if est.options().nan_policy == NanPolicy::Raise {
                        if let Some(i) = first_non_finite(chunk) {
                            return Err(crate::estimate::non_finite_error_at(
                                i, chunk[i], self.seen,
                            ));
                        }
                    }
                    for block in chunk.chunks(BLOCK) {
                        scores.clear();
                        scores.resize(block.len(), 0.0);
                        est.update(block, &mut scores)?;
                        self.engine.push(&scores, &mut out);
                    }
                    Ok(())
                }
                Source::Scores(policy) => {
                    if *policy == NanPolicy::Raise {
                        if let Some(i) = first_non_finite(chunk) {
                            return Err(crate::estimate::non_finite_error_at(
                                i, chunk[i], self.seen,
                            ));
                        }
                    }
                    self.engine.push(chunk, &mut out);
                    Ok(())
                }
                _ => Err(Error::parameter(
                    "this method takes integer symbols, not float values",
                )),
            }
        })();
        self.scores = scores;
        result?;
        self.seen += chunk.len() as u64;
        Ok(out)
    }

    /// Feeds symbols (conditional and next-symbol methods); returns the segments that
    /// closed. On error the state is unchanged.
    pub fn push_symbols<T: Copy + Into<u64>>(&mut self, chunk: &[T]) -> Result<Vec<Segment>> {
        self.check_open()?;
        let alphabet = match &self.source {
            Source::Conditional(e) => e.options().alphabet_size,
            Source::NextSymbol(m, _) => m.options().alphabet_size,
            _ => {
                return Err(Error::parameter(
                    "this method takes float values, not integer symbols",
                ))
            }
        };
        // Checked for the whole chunk first, so an error leaves no partial state.
        crate::estimate::check_symbols(chunk, alphabet)?;
        let mut out = Vec::new();
        let mut scores = std::mem::take(&mut self.scores);
        let mut spare = std::mem::take(&mut self.spare);
        for block in chunk.chunks(BLOCK) {
            scores.clear();
            scores.resize(block.len(), 0.0);
            match &mut self.source {
                Source::Conditional(e) => e.update(block, &mut scores)?,
                Source::NextSymbol(m, which) => {
                    spare.clear();
                    spare.resize(block.len(), 0.0);
                    match which {
                        NextScore::Entropy => m.update(block, &mut scores, &mut spare)?,
                        NextScore::Surprisal => m.update(block, &mut spare, &mut scores)?,
                    }
                }
                _ => unreachable!("checked above"),
            }
            self.engine.push(&scores, &mut out);
        }
        self.scores = scores;
        self.spare = spare;
        self.seen += chunk.len() as u64;
        Ok(out)
    }

    /// Closes the stream and returns the last segment(s).
    pub fn finish(&mut self) -> Result<Vec<Segment>> {
        self.check_open()?;
        let mut out = Vec::new();
        self.engine.finish(&mut out);
        self.finished = true;
        Ok(out)
    }

    /// Back to a fresh stream with the same method and rules.
    pub fn reset(&mut self) {
        self.source = build_source(&self.method).expect("options were validated");
        match &mut self.engine {
            Engine::Native(e) => e.reset(),
            Engine::Preset(e) => e.reset(),
        }
        self.seen = 0;
        self.finished = false;
    }

    /// Serialises the state (estimator and rule engine).
    pub fn checkpoint(&self) -> Vec<u8> {
        let mut w = Writer::new(TAG);
        w.u64(self.seen);
        w.bool(self.finished);
        match &self.source {
            Source::Permutation(e) => {
                w.u64(0);
                w.bytes(&e.checkpoint());
            }
            Source::Conditional(e) => {
                w.u64(1);
                w.bytes(&e.checkpoint());
            }
            Source::NextSymbol(m, which) => {
                w.u64(2);
                w.bool(*which == NextScore::Surprisal);
                w.bytes(&m.checkpoint());
            }
            Source::Scores(p) => {
                w.u64(3);
                w.bool(*p == NanPolicy::Propagate);
            }
        }
        match &self.engine {
            Engine::Native(e) => {
                w.u64(0);
                e.write_state(&mut w);
            }
            Engine::Preset(e) => {
                w.u64(1);
                e.write_state(&mut w);
            }
        }
        w.finish()
    }

    /// Rebuilds a segmenter from `checkpoint()` bytes.
    pub fn restore(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::open(bytes, TAG)?;
        let seen = r.u64()?;
        let finished = r.bool()?;
        let (source, method) = match r.u64()? {
            0 => {
                let e = PermutationEstimator::restore(r.bytes()?)?;
                let m = Method::Permutation(*e.options());
                (Source::Permutation(Box::new(e)), m)
            }
            1 => {
                let e = ConditionalEstimator::restore(r.bytes()?)?;
                let m = Method::Conditional(*e.options());
                (Source::Conditional(Box::new(e)), m)
            }
            2 => {
                let which = if r.bool()? {
                    NextScore::Surprisal
                } else {
                    NextScore::Entropy
                };
                let m = ContextModel::restore(r.bytes()?)?;
                let method = Method::NextSymbol(*m.options(), which);
                (Source::NextSymbol(Box::new(m), which), method)
            }
            3 => {
                let p = if r.bool()? {
                    NanPolicy::Propagate
                } else {
                    NanPolicy::Raise
                };
                (Source::Scores(p), Method::Scores(p))
            }
            _ => return Err(Error::checkpoint("unknown score source in checkpoint")),
        };
        let engine = match r.u64()? {
            0 => Engine::Native(RuleEngine::read_state(&mut r)?),
            1 => Engine::Preset(PresetEngine::read_state(&mut r)?),
            _ => return Err(Error::checkpoint("unknown rule engine in checkpoint")),
        };
        r.finish()?;
        let engine_seen = match &engine {
            Engine::Native(e) => e.samples_seen(),
            Engine::Preset(e) => e.samples_seen(),
        };
        if engine_seen != seen {
            return Err(Error::checkpoint("inconsistent segmenter state"));
        }
        Ok(Self {
            method,
            source,
            engine,
            scores: Vec::new(),
            spare: Vec::new(),
            seen,
            finished,
        })
    }
}

fn build_source(method: &Method) -> Result<Source> {
    Ok(match *method {
        Method::Permutation(o) => Source::Permutation(Box::new(PermutationEstimator::new(o)?)),
        Method::Conditional(o) => Source::Conditional(Box::new(ConditionalEstimator::new(o)?)),
        Method::NextSymbol(o, which) => Source::NextSymbol(Box::new(ContextModel::new(o)?), which),
        Method::Scores(p) => Source::Scores(p),
    })
}

/// True when the rules need the whole score array before deciding anything.
pub(crate) fn needs_whole_scores(rules: &Rules) -> bool {
    matches!(rules.preset, Some(Preset::Entrope { .. }))
        || (rules.target_len.is_some() && rules.calibration == Calibration::Batch)
}

/// Streaming-capable version of the rules (the whole-array cases are handled apart).
fn run_streaming(
    method: Method,
    rules: Rules,
    feed: impl FnOnce(&mut Segmenter) -> Result<Vec<Segment>>,
) -> Result<Vec<Segment>> {
    let mut seg = Segmenter::new(method, rules)?;
    let mut out = feed(&mut seg)?;
    out.extend(seg.finish()?);
    Ok(out)
}

/// The score profile of a whole input (for rules that need it).
fn scores_of_values(x: &[f64], method: &Method) -> Result<Vec<f64>> {
    match method {
        Method::Permutation(o) => crate::estimate::permutation::rolling(x, *o),
        Method::Scores(p) => {
            if *p == NanPolicy::Raise {
                if let Some(i) = first_non_finite(x) {
                    return Err(crate::estimate::non_finite_error_at(i, x[i], 0));
                }
            }
            Ok(x.to_vec())
        }
        _ => Err(Error::parameter(
            "this method takes integer symbols, not float values",
        )),
    }
}

fn scores_of_symbols<T: Copy + Into<u64>>(x: &[T], method: &Method) -> Result<Vec<f64>> {
    match method {
        Method::Conditional(o) => crate::estimate::conditional::rolling(x, *o),
        Method::NextSymbol(o, which) => {
            let (h, q) = crate::estimate::context_model::next_symbol_entropy(x, *o)?;
            Ok(match which {
                NextScore::Entropy => h,
                NextScore::Surprisal => q,
            })
        }
        _ => Err(Error::parameter(
            "this method takes float values, not integer symbols",
        )),
    }
}

/// Segments a float series in one pass.
pub fn segment_values(x: &[f64], method: &Method, rules: &Rules) -> Result<Vec<Segment>> {
    method.validate()?;
    rules.validate()?;
    if needs_whole_scores(rules) {
        let scores = scores_of_values(x, method)?;
        return segment_scores(&scores, rules);
    }
    run_streaming(*method, *rules, |s| s.push_values(x))
}

/// Segments a symbol stream in one pass.
pub fn segment_symbols<T: Copy + Into<u64>>(
    x: &[T],
    method: &Method,
    rules: &Rules,
) -> Result<Vec<Segment>> {
    method.validate()?;
    rules.validate()?;
    if needs_whole_scores(rules) {
        let scores = scores_of_symbols(x, method)?;
        return segment_scores(&scores, rules);
    }
    run_streaming(*method, *rules, |s| s.push_symbols(x))
}

/// Runs `job` over series `0..n` on `threads` threads, in series order; the first error
/// (by series index) wins and names its series.
fn parallel_series<R: Send>(
    n: usize,
    threads: usize,
    job: impl Fn(usize) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    crate::parallel::run_parallel(n, threads, job)
        .into_iter()
        .enumerate()
        .map(|(i, r)| r.map_err(|e| e.in_series(i)))
        .collect()
}

/// The number of threads to use by default: the machine's available parallelism.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Segments every series of a ragged batch of floats (`values[offsets[b]..offsets[b+1]]`
/// is series `b`), on `threads` threads; identical to segmenting each series alone.
pub fn segment_batch_values(
    values: &[f64],
    offsets: &[i64],
    method: &Method,
    rules: &Rules,
    threads: usize,
) -> Result<Segments> {
    check_offsets(offsets, values.len())?;
    method.validate()?;
    rules.validate()?;
    let n = offsets.len() - 1;
    let per = parallel_series(n, threads, |b| {
        let x = &values[offsets[b] as usize..offsets[b + 1] as usize];
        segment_values(x, method, rules)
    })?;
    let mut out = Segments::new();
    per.iter().for_each(|s| out.push_series(s));
    Ok(out)
}

/// Segments every series of a ragged batch of symbols; see [`segment_batch_values`].
pub fn segment_batch_symbols<T: Copy + Into<u64> + Sync>(
    values: &[T],
    offsets: &[i64],
    method: &Method,
    rules: &Rules,
    threads: usize,
) -> Result<Segments> {
    check_offsets(offsets, values.len())?;
    method.validate()?;
    rules.validate()?;
    let n = offsets.len() - 1;
    let per = parallel_series(n, threads, |b| {
        let x = &values[offsets[b] as usize..offsets[b + 1] as usize];
        segment_symbols(x, method, rules)
    })?;
    let mut out = Segments::new();
    per.iter().for_each(|s| out.push_series(s));
    Ok(out)
}

#[cfg(test)]
mod tests;
