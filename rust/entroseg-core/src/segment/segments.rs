//! The `Segments` value: segments of many series at once, flat and varlen.
//!
//! Segment `i` covers samples `starts[i] .. starts[i] + lengths[i]` of its series;
//! series `b` owns segments `series_offsets[b] .. series_offsets[b + 1]`. Positions are
//! counted within each series, so nothing leaks from one series into another; the
//! global token offsets GPU kernels want (`cu_seqlens`) are the running sum of
//! `lengths`.

use crate::error::{Error, Result};
use crate::segment::rules::Segment;

/// Segments of a batch of series.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Segments {
    /// First sample of each segment, within its series.
    pub starts: Vec<i64>,
    /// Length of each segment.
    pub lengths: Vec<i64>,
    /// Why each segment started (a [`crate::segment::rules::reason`] code).
    pub reasons: Vec<u8>,
    /// Segments per series as offsets: `series_offsets[0] = 0`, one entry per series more.
    pub series_offsets: Vec<i64>,
}

impl Segments {
    /// No series yet.
    pub fn new() -> Self {
        Self {
            series_offsets: vec![0],
            ..Self::default()
        }
    }

    /// Appends one series' segments.
    pub fn push_series(&mut self, segments: &[Segment]) {
        if self.series_offsets.is_empty() {
            self.series_offsets.push(0);
        }
        for s in segments {
            self.starts.push(s.start as i64);
            self.lengths.push(s.len as i64);
            self.reasons.push(s.reason);
        }
        self.series_offsets.push(self.starts.len() as i64);
    }

    /// Number of segments over all series.
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    /// True when there is no segment.
    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    /// Number of series.
    pub fn num_series(&self) -> usize {
        self.series_offsets.len().saturating_sub(1)
    }
}

/// Checks ragged-batch offsets against the flat values' length: they must start at 0,
/// never decrease and end at `len`.
pub fn check_offsets(offsets: &[i64], len: usize) -> Result<()> {
    if offsets.is_empty() {
        return Err(Error::parameter(
            "offsets must hold at least one entry (0), got an empty array",
        ));
    }
    if offsets[0] != 0 {
        return Err(Error::parameter(format!(
            "offsets must start at 0, got offsets[0] = {}",
            offsets[0]
        )));
    }
    if let Some(i) = offsets.windows(2).position(|w| w[1] < w[0]) {
        return Err(Error::parameter(format!(
            "offsets must not decrease, got offsets[{}] = {} > offsets[{}] = {}",
            i,
            offsets[i],
            i + 1,
            offsets[i + 1]
        )));
    }
    let last = *offsets.last().expect("non-empty");
    if last != len as i64 {
        return Err(Error::parameter(format!(
            "offsets must end at len(values) = {len}, got offsets[-1] = {last}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_checked() {
        assert!(check_offsets(&[0, 2, 2, 5], 5).is_ok());
        assert!(check_offsets(&[0], 0).is_ok());
        for (o, msg) in [
            (&[][..], "empty"),
            (&[1, 5][..], "start at 0, got offsets[0] = 1"),
            (&[0, 3, 2, 5][..], "offsets[1] = 3 > offsets[2] = 2"),
            (&[0, 4][..], "end at len(values) = 5, got offsets[-1] = 4"),
        ] {
            let e = check_offsets(o, 5).unwrap_err();
            assert!(e.message().contains(msg), "{}", e.message());
        }
    }

    #[test]
    fn push_series_builds_offsets() {
        let mut s = Segments::new();
        s.push_series(&[
            Segment {
                start: 0,
                len: 2,
                reason: 0,
            },
            Segment {
                start: 2,
                len: 1,
                reason: 1,
            },
        ]);
        s.push_series(&[]);
        assert_eq!(s.series_offsets, [0, 2, 2]);
        assert_eq!(s.num_series(), 2);
        assert_eq!(s.lengths, [2, 1]);
    }
}
