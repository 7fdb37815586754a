//! # entroseg-core
//!
//! Streaming, drift-free entropy estimators for segmentation. Pure Rust: no Python,
//! numpy, Polars or Arrow types; the bindings crate adapts these functions and types.
//!
//! Conventions every estimator obeys (see the repository's DESIGN notes):
//! - rolling outputs have the input's length; the value at `t` describes the window
//!   `[t-W+1, t]` (W in samples); incomplete windows are NaN;
//! - whole-series values equal the rolling value of a window covering the whole input;
//! - ties in ordinal patterns: the earlier sample ranks lower (stable argsort);
//! - entropies in nats; `normalize` divides by the maximum;
//! - running sums are exact integers, so results are bit-identical whatever the chunking
//!   and after any number of updates.

pub mod error;
pub mod estimate;
pub mod genomic;
pub mod plan;
pub mod segment;
pub mod util;

pub use error::{Error, ErrorKind, Result};
pub use estimate::samples::{Channels, Samples};
pub use estimate::NanPolicy;
pub use segment::spec::{SegmentSpec, SpecOptions};
