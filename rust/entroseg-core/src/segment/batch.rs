//! One-shot segmentation of a whole input, and of a ragged batch of series on several
//! threads (each series segmented exactly as it would be alone).
//!
//! The one-shot pass is the streaming pipeline fed the whole input (fused: scores are
//! computed block by block and consumed at once), except when the rules need the whole
//! score array first (batch calibration of `target_len`, the EntroPE preset): then the
//! whole profile is computed and cut.

use crate::error::Result;
use crate::estimate::samples::{Channels, Samples};
use crate::segment::allocate::{segment_batch_by_error, BudgetBy};
use crate::segment::fit::row_width;
use crate::segment::profile::rule_input_of;
use crate::segment::rules::{
    calibrate_budget, segment_scores_calibrated, Engine, Segment, Threshold,
};
use crate::segment::segments::{check_offsets, Segments};
use crate::segment::spec::{MethodSpec, SegmentSpec};
use crate::segment::stream::{channel_rules, Segmenter};
use crate::util::pool::run_series;

/// Segments one input in one pass.
pub fn segment(x: Samples, spec: &SegmentSpec) -> Result<Vec<Segment>> {
    Ok(segment_calibrated(x, spec)?.0)
}

/// [`segment`], with the threshold in force at the end: the given or batch-calibrated
/// one (with its tie cut), the online controller's final value, or the price of method
/// "line" (`None` for presets and rules without a threshold).
pub fn segment_calibrated(
    x: Samples,
    spec: &SegmentSpec,
) -> Result<(Vec<Segment>, Option<Threshold>)> {
    segment_channels_calibrated(&Channels::one(x), spec)
}

/// Segments a multichannel input in one pass: one boundary set for all channels, cut
/// from the channels' profiles combined by the spec's channel mode (each channel
/// profiled alone, as [`segment`] profiles a 1-D input). One channel is exactly
/// [`segment`] of it.
pub fn segment_channels(x: &Channels, spec: &SegmentSpec) -> Result<Vec<Segment>> {
    Ok(segment_channels_calibrated(x, spec)?.0)
}

/// [`segment_channels`], with the threshold in force at the end (see
/// [`segment_calibrated`]).
pub fn segment_channels_calibrated(
    x: &Channels,
    spec: &SegmentSpec,
) -> Result<(Vec<Segment>, Option<Threshold>)> {
    let mode = spec.method().channels();
    let rules = channel_rules(spec.rules(), x.count(), mode)?;
    let method = spec.method().method_for(&x.widest())?;
    if rules.needs_whole_scores() {
        let scores = rule_input_of(x, &method, mode, &rules)?;
        return segment_scores_calibrated(&scores, &rules);
    }
    // The alphabet is resolved for this input and the spec validated the rules.
    let mut seg = Segmenter::resolved(method, mode, rules)?;
    let mut out = if x.count() == 1 {
        seg.push_once(x.channel(0))?
    } else {
        seg.push_channels(x)?
    };
    out.extend(seg.finish()?);
    Ok((out, seg.threshold()))
}

/// Segments every series of a ragged batch (`values[offsets[b]..offsets[b+1]]` is
/// series `b`) on `threads` threads; identical to segmenting each series alone. An
/// error names its series.
///
/// With `budget`, the series share one threshold instead: see
/// [`segment_batch_calibrated`]; with `budget_by="error"` as well, each series gets the
/// count that most reduces the batch's reconstruction error
/// ([`crate::segment::allocate`]).
pub fn segment_batch(
    values: Samples,
    offsets: &[i64],
    spec: &SegmentSpec,
    threads: usize,
) -> Result<Segments> {
    Ok(segment_batch_calibrated(values, offsets, spec, threads)?.0)
}

/// [`segment_batch`], with the threshold the series share when the spec has a `budget`
/// (`None` otherwise: each series has its own).
///
/// With `budget`, every series is profiled (in parallel), one threshold is calibrated
/// over all the profiles so that the batch has `budget` segments in all
/// ([`calibrate_budget`]: counted series by series, hard lengths included), and each
/// series is cut with it, exactly as `segment` cuts it with that threshold. So the
/// budget goes where the information is: a series with more scores above the shared
/// threshold gets more segments.
pub fn segment_batch_calibrated(
    values: Samples,
    offsets: &[i64],
    spec: &SegmentSpec,
    threads: usize,
) -> Result<(Segments, Option<Threshold>)> {
    segment_batch_channels_calibrated(&Channels::one(values), offsets, spec, threads)
}

/// [`segment_batch_calibrated`] of a multichannel batch: series `b` is the rows
/// `offsets[b]..offsets[b+1]` of every channel, segmented as [`segment_channels`]
/// segments it alone (or, with `budget`, cut with the one threshold calibrated over
/// every series' combined profile).
pub fn segment_batch_channels_calibrated(
    values: &Channels,
    offsets: &[i64],
    spec: &SegmentSpec,
    threads: usize,
) -> Result<(Segments, Option<Threshold>)> {
    check_offsets(offsets, values.len())?;
    let mode = spec.method().channels();
    let rules = channel_rules(spec.rules(), values.count(), mode)?;
    let width = row_width(&rules);
    let n = offsets.len() - 1;
    let series = |b: usize| values.slice(offsets[b] as usize..offsets[b + 1] as usize);
    if let (Some(budget), BudgetBy::Error) = (spec.rules().budget, spec.budget_by()) {
        let out = segment_batch_by_error(values, offsets, spec, threads, budget)?;
        return Ok((out, None));
    }
    if spec.rules().budget.is_some() {
        let profiles = run_series(n, threads, |b| {
            let x = series(b);
            let method = spec.method().method_for(&x.widest())?;
            rule_input_of(&x, &method, mode, &rules)
        })?;
        // Offsets of the rules' input (rows of `width` values for a multichannel fit).
        let bounds: Vec<usize> = offsets
            .iter()
            .map(|&o| (o - offsets[0]) as usize * width)
            .collect();
        let scores = profiles.concat();
        drop(profiles);
        let threshold = calibrate_budget(&scores, &bounds, &rules)?;
        let per = run_series(n, threads, |b| {
            let mut engine = Engine::with_threshold(rules, threshold)?;
            let mut out = Vec::new();
            engine.push(&scores[bounds[b]..bounds[b + 1]], &mut out);
            engine.finish(&mut out);
            Ok(out)
        })?;
        let mut out = Segments::new();
        per.iter().for_each(|s| out.push_series(s));
        return Ok((out, Some(threshold)));
    }
    let per = run_series(n, threads, |b| segment_channels(&series(b), spec))?;
    let mut out = Segments::new();
    per.iter().for_each(|s| out.push_series(s));
    Ok((out, None))
}

/// The profiles of every series of a ragged batch, concatenated (one score per
/// sample), on `threads` threads.
pub fn profile_batch(
    values: Samples,
    offsets: &[i64],
    method: &MethodSpec,
    threads: usize,
) -> Result<Vec<f64>> {
    check_offsets(offsets, values.len())?;
    let n = offsets.len() - 1;
    let per = run_series(n, threads, |b| {
        let x = values.slice(offsets[b] as usize..offsets[b + 1] as usize);
        crate::segment::profile::profile(x, method)
    })?;
    Ok(per.concat())
}
