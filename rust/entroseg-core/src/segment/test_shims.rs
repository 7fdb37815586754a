//! Test-only adapters: the segmentation tests state their cases as a method, rules and a
//! typed slice; these turn them into a validated spec and [`Samples`].

use crate::error::Result;
use crate::estimate::samples::Samples;
use crate::segment::parallel::StitchReport;
use crate::segment::rules::{Rules, Segment};
use crate::segment::segments::Segments;
use crate::segment::spec::{Method, SegmentSpec};
use crate::segment::stream::Segmenter;

pub(crate) fn spec(method: &Method, rules: &Rules) -> Result<SegmentSpec> {
    SegmentSpec::new(*method, *rules)
}

pub(crate) fn segmenter(method: Method, rules: Rules) -> Result<Segmenter> {
    Segmenter::new(&spec(&method, &rules)?)
}

pub(crate) fn segment_values(x: &[f64], method: &Method, rules: &Rules) -> Result<Vec<Segment>> {
    crate::segment::batch::segment(Samples::Values(x), &spec(method, rules)?)
}

pub(crate) fn segment_symbols<'a, T>(
    x: &'a [T],
    method: &Method,
    rules: &Rules,
) -> Result<Vec<Segment>>
where
    Samples<'a>: From<&'a [T]>,
{
    crate::segment::batch::segment(Samples::from(x), &spec(method, rules)?)
}

pub(crate) fn segment_batch_values(
    values: &[f64],
    offsets: &[i64],
    method: &Method,
    rules: &Rules,
    threads: usize,
) -> Result<Segments> {
    crate::segment::batch::segment_batch(
        Samples::Values(values),
        offsets,
        &spec(method, rules)?,
        threads,
    )
}

pub(crate) fn segment_values_parallel(
    x: &[f64],
    method: &Method,
    rules: &Rules,
    chunks: usize,
    threads: usize,
    overlap: Option<usize>,
) -> Result<(Vec<Segment>, StitchReport)> {
    let spec = spec(method, rules)?;
    crate::segment::parallel::segment_parallel(Samples::Values(x), &spec, chunks, threads, overlap)
}

pub(crate) fn segment_symbols_parallel<'a, T>(
    x: &'a [T],
    method: &Method,
    rules: &Rules,
    chunks: usize,
    threads: usize,
    overlap: Option<usize>,
) -> Result<(Vec<Segment>, StitchReport)>
where
    Samples<'a>: From<&'a [T]>,
{
    let spec = spec(method, rules)?;
    crate::segment::parallel::segment_parallel(Samples::from(x), &spec, chunks, threads, overlap)
}

/// The typed pushes of the tests.
pub(crate) trait PushTyped {
    fn push_values(&mut self, x: &[f64]) -> Result<Vec<Segment>>;
    fn push_symbols<'a, T>(&mut self, x: &'a [T]) -> Result<Vec<Segment>>
    where
        Samples<'a>: From<&'a [T]>;
}

impl PushTyped for Segmenter {
    fn push_values(&mut self, x: &[f64]) -> Result<Vec<Segment>> {
        self.push(Samples::Values(x))
    }
    fn push_symbols<'a, T>(&mut self, x: &'a [T]) -> Result<Vec<Segment>>
    where
        Samples<'a>: From<&'a [T]>,
    {
        self.push(Samples::from(x))
    }
}
