//! The score signal a segmentation cuts: one profile per score method, computed the
//! same way by every surface (plots, the Arrow profile step, the CLI and the tests call
//! [`profile`] or [`Profiler`], never an estimator of their own choosing).
//!
//! [`Profiler`] is the streaming form (the score source of the streaming
//! [`Segmenter`](crate::segment::stream::Segmenter)); [`profile`] is the one-shot form
//! over a whole input. Both give bit-identical scores for any chunking.

use crate::error::{Error, Result};
use crate::estimate::conditional::ConditionalEstimator;
use crate::estimate::context_model::ContextModel;
use crate::estimate::next_value::NextValueModel;
use crate::estimate::permutation::PermutationEstimator;
use crate::estimate::pooled::PooledPermutation;
use crate::estimate::samples::{Channels, Samples};
use crate::estimate::{check_symbols, first_non_finite, non_finite_error_at, NanPolicy};
use crate::segment::spec::{ChannelMode, Method, MethodSpec, NextScore};
use crate::util::checkpoint::{Reader, Writer};

#[derive(Debug, Clone)]
enum Source {
    Permutation(Box<PermutationEstimator>),
    Conditional(Box<ConditionalEstimator>),
    NextSymbol(Box<ContextModel>, NextScore),
    NextValue(Box<NextValueModel>, NextScore),
    Scores(NanPolicy),
}

/// The streaming score source of a method: feed chunks, get one score per sample.
#[derive(Debug, Clone)]
pub struct Profiler {
    method: Method,
    source: Source,
    seen: u64,
    /// The context model's second output (the score not asked for).
    spare: Vec<f64>,
}

const TAG: &str = "Profiler";

impl Profiler {
    /// A fresh source for `method` (a stream needs its alphabet: see
    /// [`MethodSpec::check_streamable`]).
    pub fn new(method: &MethodSpec) -> Result<Self> {
        method.check_streamable()?;
        Self::of_method(*method.method())
    }

    pub(crate) fn of_method(method: Method) -> Result<Self> {
        let source = match method {
            Method::Permutation(o) => Source::Permutation(Box::new(PermutationEstimator::new(o)?)),
            Method::Conditional(o) => Source::Conditional(Box::new(ConditionalEstimator::new(o)?)),
            Method::NextSymbol(o, which) => {
                Source::NextSymbol(Box::new(ContextModel::new(o)?), which)
            }
            Method::NextValue(o, which) => {
                Source::NextValue(Box::new(NextValueModel::new(o)?), which)
            }
            Method::Scores(p) => Source::Scores(p),
        };
        Ok(Self {
            method,
            source,
            seen: 0,
            spare: Vec::new(),
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

    /// Checks a whole chunk before any state changes: see [`check_input`].
    pub fn check(&self, chunk: &Samples) -> Result<()> {
        check_input(&self.method, chunk, self.seen)
    }

    /// Scores of a chunk already [`check`](Self::check)ed, into `out` (its length).
    pub(crate) fn fill_checked(&mut self, chunk: Samples, out: &mut [f64]) -> Result<()> {
        debug_assert_eq!(chunk.len(), out.len());
        match (&mut self.source, chunk) {
            // `check` scanned the chunk for non-finite samples already.
            (Source::Permutation(e), Samples::Values(x)) => e.update_checked(x, out)?,
            (Source::Scores(_), Samples::Values(x)) => out.copy_from_slice(x),
            (Source::NextValue(m, which), Samples::Values(x)) => {
                self.spare.clear();
                self.spare.resize(out.len(), 0.0);
                if which.is_surprisal() {
                    m.update(x, &mut self.spare, out)?
                } else {
                    m.update(x, out, &mut self.spare)?
                }
            }
            (Source::Conditional(e), symbols) => {
                crate::for_symbols!(symbols, s => e.update(s, out)?, _v => unreachable!())
            }
            (Source::NextSymbol(m, which), symbols) => {
                self.spare.clear();
                self.spare.resize(out.len(), 0.0);
                let spare = &mut self.spare;
                crate::for_symbols!(symbols, s => match which {
                    NextScore::Entropy => m.update(s, out, spare)?,
                    NextScore::Surprisal => m.update(s, spare, out)?,
                    NextScore::BlendedEntropy => m.update_blended(s, out, spare)?,
                    NextScore::BlendedSurprisal => m.update_blended(s, spare, out)?,
                }, _v => unreachable!())
            }
            _ => unreachable!("check_input matched the input to the method"),
        }
        self.seen += chunk.len() as u64;
        Ok(())
    }

    /// Scores of the next chunk, into `out` (the chunk's length). On error the state is
    /// unchanged.
    pub fn fill(&mut self, chunk: Samples, out: &mut [f64]) -> Result<()> {
        if out.len() != chunk.len() {
            return Err(Error::parameter(format!(
                "the output must hold one score per sample: {} samples, {} slots",
                chunk.len(),
                out.len()
            )));
        }
        self.check(&chunk)?;
        self.fill_checked(chunk, out)
    }

    /// Scores of the next chunk. On error the state is unchanged.
    pub fn push(&mut self, chunk: Samples) -> Result<Vec<f64>> {
        let mut out = vec![0.0; chunk.len()];
        self.fill(chunk, &mut out)?;
        Ok(out)
    }

    /// Back to a fresh stream with the same method.
    pub fn reset(&mut self) {
        *self = Self::of_method(self.method).expect("the method was validated");
    }

    pub(crate) fn write_state(&self, w: &mut Writer) {
        w.u64(self.seen);
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
                w.u64(NextScore::ALL.iter().position(|w| w == which).unwrap_or(0) as u64);
                w.bytes(&m.checkpoint());
            }
            Source::Scores(p) => {
                w.u64(3);
                w.bool(*p == NanPolicy::Propagate);
            }
            Source::NextValue(m, which) => {
                w.u64(4);
                w.bool(which.is_surprisal());
                w.bytes(&m.checkpoint());
            }
        }
    }

    pub(crate) fn read_state(r: &mut Reader) -> Result<Self> {
        let seen = r.u64()?;
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
                let which = *usize::try_from(r.u64()?)
                    .ok()
                    .and_then(|i| NextScore::ALL.get(i))
                    .ok_or_else(|| Error::checkpoint("invalid next-symbol statistic"))?;
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
            4 => {
                let which = if r.bool()? {
                    NextScore::Surprisal
                } else {
                    NextScore::Entropy
                };
                let m = NextValueModel::restore(r.bytes()?)?;
                let method = Method::NextValue(*m.options(), which);
                (Source::NextValue(Box::new(m), which), method)
            }
            _ => return Err(Error::checkpoint("unknown score source in checkpoint")),
        };
        Ok(Self {
            method,
            source,
            seen,
            spare: Vec::new(),
        })
    }

    /// The state as bytes; [`Profiler::restore`] resumes bit-identically.
    pub fn checkpoint(&self) -> Vec<u8> {
        crate::util::checkpoint::save(TAG, |w| self.write_state(w))
    }

    /// Rebuilds a profiler from [`Profiler::checkpoint`] bytes.
    pub fn restore(bytes: &[u8]) -> Result<Self> {
        crate::util::checkpoint::load(bytes, TAG, Self::read_state)
    }
}

/// The streaming score source of a multichannel input: one [`Profiler`] per channel
/// (each with the same method, so O(1) work per sample per channel), their scores
/// combined position by position by the [`ChannelMode`] into one score per sample. A
/// 1-D input is one channel, and then this is exactly its [`Profiler`]. The channel
/// count is fixed by the stream's first samples; later chunks must have as many.
#[derive(Debug, Clone)]
pub struct ChannelProfiler {
    /// One profiler per channel; at least one. Under `ChannelMode::Pooled` only the
    /// first, unfed, for its method.
    each: Vec<Profiler>,
    mode: ChannelMode,
    spare: Vec<f64>,
    /// The pooled estimator of every channel (`ChannelMode::Pooled` only).
    pooled: Option<Box<PooledPermutation>>,
}

impl ChannelProfiler {
    /// A fresh source for `method` (its channel mode included).
    pub fn new(method: &MethodSpec) -> Result<Self> {
        method.check_streamable()?;
        Self::of_method(*method.method(), method.channels())
    }

    pub(crate) fn of_method(method: Method, mode: ChannelMode) -> Result<Self> {
        Ok(Self {
            each: vec![Profiler::of_method(method)?],
            mode,
            spare: Vec::new(),
            pooled: pooled_for(&method, mode, 1)?,
        })
    }

    /// The method (every channel's).
    pub fn method(&self) -> &Method {
        self.each[0].method()
    }

    /// How the channels combine.
    pub fn mode(&self) -> ChannelMode {
        self.mode
    }

    /// The stream's channel count (1 until a multichannel chunk arrives).
    pub fn channels(&self) -> usize {
        match &self.pooled {
            Some(p) => p.channels(),
            None => self.each.len(),
        }
    }

    /// Samples consumed (per channel).
    pub fn samples_seen(&self) -> u64 {
        match &self.pooled {
            Some(p) => p.samples_seen(),
            None => self.each[0].samples_seen(),
        }
    }

    /// Checks a whole chunk before any state changes: the channel count (fixed once the
    /// stream has samples), then every channel as [`check_input`] checks a 1-D chunk.
    pub fn check(&self, chunk: &Channels) -> Result<()> {
        let (have, got) = (self.channels(), chunk.count());
        if have != got && self.samples_seen() > 0 {
            return Err(Error::parameter(format!(
                "this stream has {have} channel(s), fixed by its first samples; the chunk \
                 has {got}: every chunk of a stream needs the same channel count"
            )));
        }
        check_channels(self.method(), chunk, self.samples_seen())
    }

    /// Takes the chunk's channel count while the stream has no sample yet.
    fn adopt(&mut self, count: usize) -> Result<()> {
        if count == self.channels() || self.samples_seen() > 0 {
            return Ok(());
        }
        self.pooled = pooled_for(self.method(), self.mode, count)?;
        let each = if self.pooled.is_some() { 1 } else { count };
        let fresh = self.each[0].clone();
        self.each.resize(each, fresh);
        Ok(())
    }

    /// Combined scores of a chunk already [`check`](Self::check)ed, into `out`.
    pub(crate) fn fill_checked(&mut self, chunk: &Channels, out: &mut [f64]) -> Result<()> {
        self.adopt(chunk.count())?;
        if let Some(p) = &mut self.pooled {
            p.update(|k| chunk.channel(k).values(), out);
            return Ok(());
        }
        self.each[0].fill_checked(chunk.channel(0), out)?;
        for k in 1..self.each.len() {
            self.spare.clear();
            self.spare.resize(out.len(), 0.0);
            self.each[k].fill_checked(chunk.channel(k), &mut self.spare)?;
            self.mode.combine(out, &self.spare);
        }
        Ok(())
    }

    /// Each channel's scores of a chunk already [`check`](Self::check)ed, kept apart:
    /// `out` holds one row of `chunk.count()` scores per sample (interleaved), what a
    /// multichannel fit (method "line") reads. Not under `ChannelMode::Pooled` (which
    /// has no per-channel scores).
    pub(crate) fn fill_rows_checked(&mut self, chunk: &Channels, out: &mut [f64]) -> Result<()> {
        let count = chunk.count();
        if self.pooled.is_some() || out.len() != chunk.len() * count {
            return Err(Error::parameter(
                "per-channel scores need one row of every channel's score per sample",
            ));
        }
        self.adopt(count)?;
        let mut spare = std::mem::take(&mut self.spare);
        for k in 0..count {
            spare.clear();
            spare.resize(chunk.len(), 0.0);
            if let Err(e) = self.each[k].fill_checked(chunk.channel(k), &mut spare) {
                self.spare = spare;
                return Err(e);
            }
            for (row, &v) in out.chunks_exact_mut(count).zip(&spare) {
                row[k] = v;
            }
        }
        self.spare = spare;
        Ok(())
    }

    /// Combined scores of the next chunk, into `out` (the chunk's length). On error the
    /// state is unchanged.
    pub fn fill(&mut self, chunk: &Channels, out: &mut [f64]) -> Result<()> {
        if out.len() != chunk.len() {
            return Err(Error::parameter(format!(
                "the output must hold one score per sample: {} samples, {} slots",
                chunk.len(),
                out.len()
            )));
        }
        self.check(chunk)?;
        self.fill_checked(chunk, out)
    }

    /// The state as bytes; [`ChannelProfiler::restore`] resumes bit-identically. The
    /// first channel is written as a 1-D [`Profiler`] writes itself, so a 1-D profiler's
    /// checkpoint restores here as one channel.
    pub fn checkpoint(&self) -> Vec<u8> {
        crate::util::checkpoint::save(TAG, |w| {
            self.write_head(w);
            self.write_tail(w);
        })
    }

    /// Rebuilds a source from [`checkpoint`](Self::checkpoint) bytes (or a 1-D
    /// [`Profiler::checkpoint`]).
    pub fn restore(bytes: &[u8]) -> Result<Self> {
        crate::util::checkpoint::load(bytes, TAG, |r| {
            let mut p = Self::read_head(r)?;
            if r.remaining() > 0 {
                p.read_tail(r)?;
            }
            Ok(p)
        })
    }

    /// Back to a fresh stream with the same method and mode (one channel until the next
    /// samples say how many).
    pub fn reset(&mut self) {
        self.each.truncate(1);
        self.each[0].reset();
        // One channel is the method's own profile, in every mode.
        self.pooled = None;
    }

    /// Writes the first channel's state (the layout of a 1-D stream's profiler).
    pub(crate) fn write_head(&self, w: &mut Writer) {
        self.each[0].write_state(w);
    }

    /// Writes the channel mode and the other channels' states.
    pub(crate) fn write_tail(&self, w: &mut Writer) {
        w.u64(match self.mode {
            ChannelMode::Sum => 0,
            ChannelMode::Max => 1,
            ChannelMode::Pooled => 2,
        });
        w.bool(self.pooled.is_some());
        if let Some(p) = &self.pooled {
            p.write_state(w);
            return;
        }
        w.u64(self.each.len() as u64 - 1);
        for p in &self.each[1..] {
            p.write_state(w);
        }
    }

    /// Reads what [`write_head`](Self::write_head) wrote: a one-channel source.
    pub(crate) fn read_head(r: &mut Reader) -> Result<Self> {
        Ok(Self {
            each: vec![Profiler::read_state(r)?],
            mode: ChannelMode::Sum,
            spare: Vec::new(),
            pooled: None,
        })
    }

    /// Reads what [`write_tail`](Self::write_tail) wrote, checking that every channel
    /// runs the same method and has seen as many samples.
    pub(crate) fn read_tail(&mut self, r: &mut Reader) -> Result<()> {
        self.mode = match r.u64()? {
            0 => ChannelMode::Sum,
            1 => ChannelMode::Max,
            2 => ChannelMode::Pooled,
            _ => return Err(Error::checkpoint("invalid channel mode in checkpoint")),
        };
        if r.bool()? {
            let p = PooledPermutation::read_state(r)?;
            match self.method() {
                Method::Permutation(o)
                    if self.each[0].samples_seen() == 0
                        && (o.order, o.delay, o.window, o.normalize, o.weighted)
                            == (
                                p.options().order,
                                p.options().delay,
                                p.options().window,
                                p.options().normalize,
                                false,
                            ) => {}
                _ => return Err(Error::checkpoint("inconsistent pooled state in checkpoint")),
            }
            self.pooled = Some(Box::new(p));
            return Ok(());
        }
        let more = r.usize()?;
        // Each channel's state takes at least a few bytes: refuse absurd counts first.
        r.expect_items(more, 16)?;
        for _ in 0..more {
            let p = Profiler::read_state(r)?;
            if p.method() != self.method() || p.samples_seen() != self.samples_seen() {
                return Err(Error::checkpoint(
                    "inconsistent channel states in checkpoint",
                ));
            }
            self.each.push(p);
        }
        Ok(())
    }
}

/// The pooled estimator of `count` channels under `ChannelMode::Pooled` (else none; and
/// none for one channel, whose pooled patterns are its own: the method's profile, so one
/// channel gives exactly what every 1-D surface gives).
fn pooled_for(
    method: &Method,
    mode: ChannelMode,
    count: usize,
) -> Result<Option<Box<PooledPermutation>>> {
    match (mode, method) {
        (ChannelMode::Pooled, Method::Permutation(o)) if count > 1 => {
            Ok(Some(Box::new(PooledPermutation::new(*o, count)?)))
        }
        (ChannelMode::Pooled, m) if !matches!(m, Method::Permutation(_)) => {
            Err(Error::parameter(format!(
                "channels='pooled' pools the ordinal patterns of method='permutation', not of \
             method={:?}",
                m.name()
            )))
        }
        _ => Ok(None),
    }
}

/// Checks every channel of an input for `method` (see [`check_input`]). A non-finite
/// value under `nan_policy="raise"` is reported at its earliest position (the lowest
/// channel on a tie), so a stream and a one-shot call name the same sample; with more
/// than one channel the message names the channel.
pub fn check_channels(method: &Method, x: &Channels, offset: u64) -> Result<()> {
    if x.count() == 1 {
        return check_input(method, &x.channel(0), offset);
    }
    let named = |k: usize, e: Error| e.with_context(format!("channel {k}"));
    let raise = match method {
        Method::Permutation(o) => o.nan_policy == NanPolicy::Raise,
        Method::NextValue(o, _) => o.nan_policy == NanPolicy::Raise,
        Method::Scores(p) => *p == NanPolicy::Raise,
        _ => false,
    };
    if raise && !x.is_symbols() {
        let first = x
            .iter()
            .enumerate()
            .filter_map(|(k, c)| match c {
                Samples::Values(v) => first_non_finite(v).map(|i| (i, k, v[i])),
                _ => None,
            })
            .min_by_key(|&(i, k, _)| (i, k));
        if let Some((i, k, v)) = first {
            return Err(named(k, non_finite_error_at(i, v, offset)));
        }
    }
    for (k, c) in x.iter().enumerate() {
        check_input(method, &c, offset).map_err(|e| named(k, e))?;
    }
    Ok(())
}

/// The whole combined profile of a multichannel input (each channel profiled alone,
/// then combined by `method`'s channel mode, in channel order). One channel gives
/// exactly [`profile`] of it.
pub fn profile_channels(x: &Channels, method: &MethodSpec) -> Result<Vec<f64>> {
    let resolved = method.method_for(&x.widest())?;
    profile_channels_of(x, &resolved, method.channels())
}

/// [`profile_channels`] under an already resolved method.
pub(crate) fn profile_channels_of(
    x: &Channels,
    method: &Method,
    mode: ChannelMode,
) -> Result<Vec<f64>> {
    if let Some(mut p) = pooled_for(method, mode, x.count())? {
        check_channels(method, x, 0)?;
        let mut out = vec![0.0; x.len()];
        p.update(|k| x.channel(k).values(), &mut out);
        return Ok(out);
    }
    if x.count() == 1 {
        return profile_of(x.channel(0), method);
    }
    check_channels(method, x, 0)?;
    let mut out = profile_of(x.channel(0), method)?;
    for c in x.iter().skip(1) {
        mode.combine(&mut out, &profile_of(c, method)?);
    }
    Ok(out)
}

/// What the rules read of `x`: its channels' profile combined by `mode`, or, when the
/// rules fit several channels (method "line" over a multichannel input, see
/// [`crate::segment::fit::Fit`]), every channel's scores kept apart, one row per sample.
pub(crate) fn rule_input_of(
    x: &Channels,
    method: &Method,
    mode: ChannelMode,
    rules: &crate::segment::rules::Rules,
) -> Result<Vec<f64>> {
    if crate::segment::fit::row_width(rules) == 1 {
        return profile_channels_of(x, method, mode);
    }
    check_channels(method, x, 0)?;
    let mut p = ChannelProfiler::of_method(*method, ChannelMode::Sum)?;
    let mut out = vec![0.0; x.len() * x.count()];
    p.fill_rows_checked(x, &mut out)?;
    Ok(out)
}

/// Checks an input for `method` before any state changes: its kind, non-finite values
/// under `nan_policy="raise"`, symbols outside the alphabet. Indices in the error count
/// from `offset` (the samples a stream saw before this chunk).
pub fn check_input(method: &Method, x: &Samples, offset: u64) -> Result<()> {
    method.check_input(x)?;
    let policy = match method {
        Method::Permutation(o) => o.nan_policy,
        Method::NextValue(o, _) => o.nan_policy,
        Method::Scores(p) => *p,
        _ => NanPolicy::Propagate,
    };
    match *x {
        Samples::Values(v) if policy == NanPolicy::Raise => match first_non_finite(v) {
            Some(i) => Err(non_finite_error_at(i, v[i], offset)),
            None => Ok(()),
        },
        Samples::Values(_) => Ok(()),
        symbols => {
            let alphabet = match method {
                Method::Conditional(o) => o.alphabet_size,
                Method::NextSymbol(o, _) => o.alphabet_size,
                _ => unreachable!("Method::check_input: symbol methods only"),
            };
            crate::for_symbols!(symbols, s => check_symbols(s, alphabet), _v => Ok(()))
        }
    }
}

/// The whole profile of `x` under `method` (the scores a one-shot segmentation cuts).
/// Errors index from the start of `x`.
pub fn profile(x: Samples, method: &MethodSpec) -> Result<Vec<f64>> {
    profile_of(x, &method.method_for(&x)?)
}

/// The whole profile under an already resolved method.
pub(crate) fn profile_of(x: Samples, method: &Method) -> Result<Vec<f64>> {
    match (*method, x) {
        (Method::Permutation(o), Samples::Values(v)) => crate::estimate::permutation::rolling(v, o),
        (Method::NextValue(o, which), Samples::Values(v)) => {
            let (h, q) = crate::estimate::next_value::next_value_surprisal(v, o)?;
            Ok(if which.is_surprisal() { q } else { h })
        }
        (Method::Scores(p), Samples::Values(v)) => {
            if p == NanPolicy::Raise {
                if let Some(i) = first_non_finite(v) {
                    return Err(non_finite_error_at(i, v[i], 0));
                }
            }
            Ok(v.to_vec())
        }
        (Method::Conditional(o), symbols) => crate::for_symbols!(
            symbols,
            s => crate::estimate::conditional::rolling(s, o),
            _v => Err(Error::parameter("this method takes integer symbols, not float values"))
        ),
        (Method::NextSymbol(o, which), symbols) => {
            let (h, q) = crate::for_symbols!(
                symbols,
                s => if which.is_blended() {
                    crate::estimate::context_model::next_symbol_entropy_blended(s, o)?
                } else {
                    crate::estimate::context_model::next_symbol_entropy(s, o)?
                },
                _v => return Err(Error::parameter(
                    "this method takes integer symbols, not float values"
                ))
            );
            Ok(if which.is_surprisal() { q } else { h })
        }
        (_, _) => Err(Error::parameter(
            "this method takes float values, not integer symbols",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::spec::{OptionValue, SpecOptions};

    fn method(pairs: &[(&str, OptionValue)]) -> MethodSpec {
        let mut o = SpecOptions::default();
        for (k, v) in pairs {
            o.set(k, v.clone()).unwrap();
        }
        o.build_method().unwrap()
    }

    #[test]
    fn streamed_profile_equals_one_shot_for_any_chunking() {
        let x: Vec<f64> = (0..500).map(|i| ((i * 7919) % 97) as f64).collect();
        let syms: Vec<u8> = x.iter().map(|v| (*v as u8) % 5).collect();
        let specs = [
            (
                method(&[
                    ("window", OptionValue::Int(20)),
                    ("order", OptionValue::Int(4)),
                ]),
                Samples::Values(&x),
            ),
            (
                method(&[
                    ("method", OptionValue::Str("conditional".into())),
                    ("window", OptionValue::Int(30)),
                    ("alphabet_size", OptionValue::Int(5)),
                ]),
                Samples::U8(&syms),
            ),
            (
                method(&[
                    ("method", OptionValue::Str("next_symbol".into())),
                    ("alphabet_size", OptionValue::Int(5)),
                    ("statistic", OptionValue::Str("surprisal".into())),
                ]),
                Samples::U8(&syms),
            ),
            (
                method(&[
                    ("method", OptionValue::Str("next_value".into())),
                    ("context", OptionValue::Int(3)),
                    ("window", OptionValue::Int(40)),
                    ("statistic", OptionValue::Str("surprisal".into())),
                ]),
                Samples::Values(&x),
            ),
        ];
        for (spec, input) in specs {
            let whole = profile(input, &spec).unwrap();
            for step in [1, 7, 64, 499] {
                let mut p = Profiler::new(&spec).unwrap();
                let mut got = Vec::new();
                let mut at = 0;
                while at < input.len() {
                    let end = (at + step).min(input.len());
                    if at == 250 {
                        p = Profiler::restore(&p.checkpoint()).unwrap();
                    }
                    got.extend(p.push(input.slice(at..end)).unwrap());
                    at = end;
                }
                let same = whole
                    .iter()
                    .zip(&got)
                    .all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same && whole.len() == got.len(), "step {step}");
            }
        }
    }

    /// Every profiler writes every slot of the buffer it fills (the segmenter reuses its
    /// score buffer without zeroing it between blocks): the same scores, bit for bit,
    /// into a zeroed buffer and into one poisoned with a value no estimator gives, for
    /// every method and statistic, one and two channels under every channel mode, with
    /// NaN and infinities in the input where the NaN policy lets them through, in chunks
    /// shorter and longer than the windows' warm-up.
    #[test]
    fn fill_checked_writes_every_slot() {
        use OptionValue::{Bool, Int, Str};
        let mut x: Vec<f64> = (0..700).map(|i| ((i * 7919) % 97) as f64).collect();
        let clean = x.clone();
        x[100] = f64::NAN;
        x[333] = f64::INFINITY;
        let syms: Vec<u8> = clean.iter().map(|v| (*v as u8) % 5).collect();
        let method = |pairs: &[(&str, OptionValue)]| {
            let mut o = SpecOptions::default();
            for (k, v) in pairs {
                o.set(k, v.clone()).unwrap();
            }
            o.build_method()
                .unwrap_or_else(|e| panic!("{pairs:?}: {}", e.message()))
        };
        let pe = |extra: &[(&str, OptionValue)]| {
            let mut o = vec![("window", Int(20)), ("order", Int(4))];
            o.extend(extra.iter().cloned());
            method(&o)
        };
        let propagate = ("nan_policy", Str("propagate".into()));
        let mut specs = vec![
            (pe(&[]), Samples::Values(&clean)),
            (pe(std::slice::from_ref(&propagate)), Samples::Values(&x)),
            (pe(&[("weighted", Bool(true))]), Samples::Values(&clean)),
            (
                method(&[("method", Str("scores".into())), propagate.clone()]),
                Samples::Values(&x),
            ),
            (
                method(&[
                    ("method", Str("conditional".into())),
                    ("window", Int(30)),
                    ("alphabet_size", Int(5)),
                ]),
                Samples::U8(&syms),
            ),
            (
                method(&[
                    ("method", Str("conditional".into())),
                    ("window", Int(3)),
                    ("alphabet_size", Int(5)),
                ]),
                Samples::U8(&syms),
            ),
        ];
        for statistic in ["entropy", "surprisal"] {
            for blend in [false, true] {
                specs.push((
                    method(&[
                        ("method", Str("next_symbol".into())),
                        ("alphabet_size", Int(5)),
                        ("statistic", Str(statistic.into())),
                        ("blend", Bool(blend)),
                    ]),
                    Samples::U8(&syms),
                ));
            }
            for input in [&clean, &x] {
                specs.push((
                    method(&[
                        ("method", Str("next_value".into())),
                        ("context", Int(3)),
                        ("window", Int(40)),
                        ("statistic", Str(statistic.into())),
                        propagate.clone(),
                    ]),
                    Samples::Values(input),
                ));
            }
        }
        let poison = f64::from_bits(0x7ff4_dead_beef_0001);
        for (spec, input) in &specs {
            for mode in [ChannelMode::Sum, ChannelMode::Max, ChannelMode::Pooled] {
                for count in [1, 2] {
                    let Ok(mut zeroed) = ChannelProfiler::of_method(*spec.method(), mode) else {
                        continue;
                    };
                    let chunk = |r: std::ops::Range<usize>| {
                        if count == 1 {
                            Channels::one(input.slice(r))
                        } else {
                            Channels::new(vec![input.slice(r.clone()), input.slice(r)]).unwrap()
                        }
                    };
                    if zeroed.check(&chunk(0..1)).is_err() || zeroed.adopt(count).is_err() {
                        continue;
                    }
                    let mut poisoned = zeroed.clone();
                    let mut at = 0;
                    for step in [1, 7, 300, 5, 1000].into_iter().cycle() {
                        if at >= input.len() {
                            break;
                        }
                        let end = (at + step).min(input.len());
                        let block = chunk(at..end);
                        zeroed.check(&block).unwrap();
                        let mut a = vec![0.0; end - at];
                        let mut b = vec![poison; end - at];
                        zeroed.fill_checked(&block, &mut a).unwrap();
                        poisoned.fill_checked(&block, &mut b).unwrap();
                        let bits = |v: &[f64]| v.iter().map(|s| s.to_bits()).collect::<Vec<_>>();
                        assert_eq!(bits(&a), bits(&b), "{spec:?} {mode:?} {count} at {at}");
                        at = end;
                    }
                }
            }
        }
    }

    #[test]
    fn a_bad_chunk_leaves_the_state_unchanged() {
        let spec = method(&[("window", OptionValue::Int(8))]);
        let mut p = Profiler::new(&spec).unwrap();
        p.push(Samples::Values(&[1.0, 2.0, 3.0])).unwrap();
        let before = p.checkpoint();
        let e = p.push(Samples::Values(&[1.0, f64::NAN])).unwrap_err();
        assert!(
            e.message().contains("sample 4 of the stream"),
            "{}",
            e.message()
        );
        assert_eq!(p.checkpoint(), before);
        assert!(p.push(Samples::U8(&[1])).is_err());
    }
}
