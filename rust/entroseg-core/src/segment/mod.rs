//! Segmentation: what a segmentation is ([`spec`]), the score signal it cuts
//! ([`profile`]), the rule engine ([`rules`]), the `Segments` value ([`segments`]), and
//! the ways to run it: streaming ([`stream`]), one-shot and ragged batches ([`batch`]),
//! and chunk-parallel over one long series ([`parallel`]).

pub mod allocate;
pub mod batch;
#[cfg(test)]
mod channels_tests;
pub mod fit;
pub mod parallel;
pub mod profile;
pub mod rules;
pub mod segments;
pub mod spec;
pub mod stream;
#[cfg(test)]
mod test_shims;
