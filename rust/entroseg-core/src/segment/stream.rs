//! The streaming segmentation pipeline: a [`Profiler`] (the score source) feeding the
//! rule [`Engine`].
//!
//! `push` a chunk, get the segments that closed; `finish` closes the last one. The
//! state is the estimator's (O(window), or the context model's tables) plus the rule
//! engine's (O(max_len)), constant in the stream length, and a checkpoint restores it
//! bit for bit. Segments close with a delay of at most `max_len` samples (a forced split
//! is decided when the segment reaches `max_len`; a rule start as soon as its sample
//! arrives). Scores are computed block by block and consumed while in cache.

use crate::error::{Error, Result};
use crate::estimate::samples::{Channels, Samples};
use crate::segment::fit::{row_width, Fit};
use crate::segment::profile::{check_input, ChannelProfiler};
use crate::segment::rules::{Engine, Rules, Segment, Threshold};
use crate::segment::spec::{ChannelMode, Method, SegmentSpec};
use crate::util::checkpoint::{Reader, Writer};

/// Block size of the fused pass: scores of a block are computed, then consumed while
/// they are still in cache.
const BLOCK: usize = 4096;

/// The streaming segmentation pipeline.
#[derive(Debug, Clone)]
pub struct Segmenter {
    profiler: ChannelProfiler,
    engine: Engine,
    scores: Vec<f64>,
    finished: bool,
    /// Segments closed so far (returned by `push` and `finish`).
    closed: u64,
}

const TAG: &str = "Segmenter";

impl Segmenter {
    /// Builds the pipeline. A stream cannot calibrate `target_len` in batch, run the
    /// EntroPE preset (both need the whole sequence) nor infer an alphabet:
    /// [`SegmentSpec::check_streamable`] says why.
    pub fn new(spec: &SegmentSpec) -> Result<Self> {
        spec.check_streamable()?;
        Ok(Self {
            profiler: ChannelProfiler::new(spec.method())?,
            engine: Engine::new(*spec.rules(), &[])?,
            scores: Vec::new(),
            finished: false,
            closed: 0,
        })
    }

    /// A pipeline for a method already resolved for its input, under rules a spec has
    /// validated (the one-shot passes: nothing is parsed or validated again).
    pub(crate) fn resolved(method: Method, mode: ChannelMode, rules: Rules) -> Result<Self> {
        Ok(Self {
            profiler: ChannelProfiler::of_method(method, mode)?,
            engine: Engine::new(rules, &[])?,
            scores: Vec::new(),
            finished: false,
            closed: 0,
        })
    }

    /// The method.
    pub fn method(&self) -> &Method {
        self.profiler.method()
    }

    /// Samples consumed.
    pub fn samples_seen(&self) -> u64 {
        self.profiler.samples_seen()
    }

    /// The threshold in force now: the given one, or the online controller's latest
    /// value (`None` for presets and rules without a threshold).
    pub fn threshold(&self) -> Option<Threshold> {
        self.engine.threshold_in_force()
    }

    /// The rules (their `target_len` says what the stream was asked for).
    pub fn rules(&self) -> &Rules {
        self.engine.rules()
    }

    /// Segments closed so far (returned by `push` and `finish`): with
    /// [`samples_seen`](Self::samples_seen), the achieved mean length.
    pub fn segments_closed(&self) -> u64 {
        self.closed
    }

    /// True after `finish`.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    fn check_open(&self) -> Result<()> {
        Error::check_open(self.finished)
    }

    /// The stream's channel count (1 until a multichannel chunk arrives).
    pub fn channels(&self) -> usize {
        self.profiler.channels()
    }

    /// Feeds a chunk (floats or symbols, as the method reads); returns the segments
    /// that closed. On error the state is unchanged.
    pub fn push(&mut self, chunk: Samples) -> Result<Vec<Segment>> {
        self.push_channels(&Channels::one(chunk))
    }

    /// Feeds a multichannel chunk (every channel the same number of samples; as many
    /// channels as the stream's first samples had); returns the segments that closed.
    /// The channels' profiles combine by the spec's channel mode into one score per
    /// sample. On error the state is unchanged.
    pub fn push_channels(&mut self, chunk: &Channels) -> Result<Vec<Segment>> {
        self.check_open()?;
        // Checked for the whole chunk first, so an error leaves no partial state.
        self.profiler.check(chunk)?;
        let rules = channel_rules(self.engine.rules(), chunk.count(), self.profiler.mode())?;
        if rules != *self.engine.rules() && self.profiler.samples_seen() == 0 {
            // The first samples fix the channel count, and with it what a fit reads.
            self.engine = Engine::new(rules, &[])?;
        }
        let width = row_width(self.engine.rules());
        let mut out = Vec::new();
        let mut scores = std::mem::take(&mut self.scores);
        let mut at = 0;
        while at < chunk.len() {
            let end = (at + BLOCK).min(chunk.len());
            // Not zeroed: every profiler writes every slot it is given (tested), so
            // the previous block's scores are overwritten (a block's worth of stores
            // saved; `resize` only adds or drops slots at the end).
            scores.resize((end - at) * width, 0.0);
            let block = if chunk.count() == 1 {
                Channels::one(chunk.channel(0).slice(at..end))
            } else {
                chunk.slice(at..end)
            };
            let filled = if width > 1 {
                self.profiler.fill_rows_checked(&block, &mut scores)
            } else {
                self.profiler.fill_checked(&block, &mut scores)
            };
            if let Err(e) = filled {
                self.scores = scores;
                return Err(e);
            }
            self.engine.push(&scores, &mut out);
            at = end;
        }
        self.scores = scores;
        self.closed += out.len() as u64;
        Ok(out)
    }

    /// [`push`](Self::push) for a one-shot call that drops this segmenter on error: each
    /// block is checked just before it is scored, so the input is read from memory once
    /// instead of twice (a whole-chunk check first, then the blocks). Errors are those
    /// `push` reports (the first bad sample by position, indexed from the chunk's start).
    pub(crate) fn push_once(&mut self, chunk: Samples) -> Result<Vec<Segment>> {
        self.check_open()?;
        // Room for the segments a target length expects (an eighth more), so that a long
        // run does not grow the list by copying it again and again.
        let expected = self.engine.rules().target_len.map_or(0, |t| {
            ((chunk.len() as f64 / t.max(1.0)) * 1.125) as usize + 16
        });
        let mut out = Vec::with_capacity(expected.min(chunk.len() + 1));
        let mut scores = std::mem::take(&mut self.scores);
        let offset = self.profiler.samples_seen();
        let method = *self.profiler.method();
        let mut at = 0;
        while at < chunk.len() {
            let end = (at + BLOCK).min(chunk.len());
            let block = chunk.slice(at..end);
            if check_input(&method, &block, 0).is_err() {
                // The error as the whole-chunk check words it (it stops at this block).
                self.scores = scores;
                check_input(&method, &chunk.slice(0..end), offset)?;
                return Err(Error::parameter("the input failed its check by block only"));
            }
            // Not zeroed, as in `push_channels`.
            scores.resize(end - at, 0.0);
            self.profiler
                .fill_checked(&Channels::one(block), &mut scores)?;
            self.engine.push(&scores, &mut out);
            at = end;
        }
        self.scores = scores;
        self.closed += out.len() as u64;
        Ok(out)
    }

    /// Closes the stream and returns the last segment(s).
    pub fn finish(&mut self) -> Result<Vec<Segment>> {
        self.check_open()?;
        let mut out = Vec::new();
        self.engine.finish(&mut out);
        self.finished = true;
        self.closed += out.len() as u64;
        Ok(out)
    }

    /// Back to a fresh stream with the same method and rules.
    pub fn reset(&mut self) {
        self.profiler.reset();
        self.engine.reset();
        self.finished = false;
        self.closed = 0;
    }

    /// Serialises the state (estimator and rule engine).
    pub fn checkpoint(&self) -> Vec<u8> {
        let mut w = Writer::new(TAG);
        w.bool(self.finished);
        w.u64(self.closed);
        self.profiler.write_head(&mut w);
        self.engine.write_state(&mut w);
        // After the 1-D layout, so checkpoints written before multichannel input
        // existed (which end here) restore as one-channel streams.
        self.profiler.write_tail(&mut w);
        w.finish()
    }

    /// Rebuilds a segmenter from `checkpoint()` bytes.
    pub fn restore(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::open(bytes, TAG)?;
        let finished = r.bool()?;
        let closed = r.u64()?;
        let mut profiler = ChannelProfiler::read_head(&mut r)?;
        let engine = Engine::read_state(&mut r)?;
        if r.remaining() > 0 {
            profiler.read_tail(&mut r)?;
        }
        r.finish()?;
        let width = row_width(engine.rules());
        if engine.samples_seen() != profiler.samples_seen()
            || closed > profiler.samples_seen()
            || (width > 1 && width != profiler.channels())
        {
            return Err(Error::checkpoint("inconsistent segmenter state"));
        }
        Ok(Self {
            profiler,
            engine,
            scores: Vec::new(),
            finished,
            closed,
        })
    }
}

/// The rules for an input of `count` channels under `mode`: the rules themselves,
/// except that method "line" fits every channel (its price reads rows of `count` values
/// and combines the channels' residual increases by their sum, or with
/// `channels="max"` their maximum; see [`crate::segment::fit::Fit`]).
pub(crate) fn channel_rules(rules: &Rules, count: usize, mode: ChannelMode) -> Result<Rules> {
    let Some(fit) = rules.fit else {
        return Ok(*rules);
    };
    if count > 1 && mode == ChannelMode::Pooled {
        return Err(Error::parameter(
            "channels='pooled' pools the ordinal patterns of method='permutation'; \
             method='line' fits each channel: use channels='sum' or 'max'",
        ));
    }
    let max = crate::segment::fit::MAX_CHANNELS;
    let channels = u32::try_from(count)
        .ok()
        .filter(|c| (1..=max).contains(c))
        .ok_or_else(|| {
            Error::parameter(format!(
                "method='line' fits 1..={max} channels, got {count}"
            ))
        })?;
    Ok(Rules {
        fit: Some(Fit {
            channels,
            max: count > 1 && mode == ChannelMode::Max,
            ..fit
        }),
        ..*rules
    })
}

#[cfg(test)]
mod tests;
