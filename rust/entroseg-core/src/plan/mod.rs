//! Planning over segments: order-preserving merge schedules and per-segment rates
//! ([`merge`]), and regime change points ([`changepoint`]).

pub mod changepoint;
pub mod merge;
