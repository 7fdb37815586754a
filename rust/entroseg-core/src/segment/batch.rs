//! One-shot segmentation of a whole input, and of a ragged batch of series on several
//! threads (each series segmented exactly as it would be alone).
//!
//! The one-shot pass is the streaming pipeline fed the whole input (fused: scores are
//! computed block by block and consumed at once), except when the rules need the whole
//! score array first (batch calibration of `target_len`, the EntroPE preset): then the
//! whole profile is computed and cut.

use crate::error::Result;
use crate::estimate::samples::Samples;
use crate::segment::profile::profile_of;
use crate::segment::rules::{segment_scores_calibrated, Segment, Threshold};
use crate::segment::segments::{check_offsets, Segments};
use crate::segment::spec::{MethodSpec, SegmentSpec};
use crate::segment::stream::Segmenter;
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
    let method = spec.method().method_for(&x)?;
    if spec.rules().needs_whole_scores() {
        let scores = profile_of(x, &method)?;
        return segment_scores_calibrated(&scores, spec.rules());
    }
    // The alphabet is resolved for this input and the spec validated the rules.
    let mut seg = Segmenter::resolved(method, *spec.rules())?;
    let mut out = seg.push_once(x)?;
    out.extend(seg.finish()?);
    Ok((out, seg.threshold()))
}

/// Segments every series of a ragged batch (`values[offsets[b]..offsets[b+1]]` is
/// series `b`) on `threads` threads; identical to segmenting each series alone. An
/// error names its series.
pub fn segment_batch(
    values: Samples,
    offsets: &[i64],
    spec: &SegmentSpec,
    threads: usize,
) -> Result<Segments> {
    check_offsets(offsets, values.len())?;
    let n = offsets.len() - 1;
    let per = run_series(n, threads, |b| {
        segment(
            values.slice(offsets[b] as usize..offsets[b + 1] as usize),
            spec,
        )
    })?;
    let mut out = Segments::new();
    per.iter().for_each(|s| out.push_series(s));
    Ok(out)
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
