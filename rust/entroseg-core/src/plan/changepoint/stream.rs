//! Streaming change points: the offline search of [`change_points`] run on a sliding
//! window at fixed stream positions, each change point confirmed once.
//!
//! # Definition
//!
//! Every `step` samples (at stream positions `t = step, 2 step, ...`) the detector
//! searches the window `[a, t)`, where `a` is the later of the last confirmed change
//! point and `t - window`, with the offline search and the default penalty of a series
//! of `t` samples (the stream so far: a long stream tests many more places for a
//! change, so its penalty grows like the offline one with the series' length). Every change point it finds at least `lag` samples behind `t` is
//! confirmed and reported with the position `t` that confirmed it; the next window
//! starts at the last one confirmed. [`finish`](ChangePointDetector::finish) searches
//! the last window with no lag. Each change point is reported once, in order, with a
//! delay of `lag` to `lag + step` samples (more when it only becomes clear later).
//!
//! The windows, their contents and their positions depend on the stream alone, never on
//! how it was chunked, so detections are identical for any chunking and across a
//! checkpoint. Memory is `O(window)` samples whatever the stream length.
//!
//! # Short streams
//!
//! With a `short` rule (`short_below` samples and the options for them), nothing is
//! confirmed before `short_below` samples have arrived, and a stream that finishes
//! shorter is searched whole with the short options: what the offline default does for a
//! series of that length.

use super::{change_points, default_penalty, ChangePointOptions, Stop};
use crate::error::{Error, ErrorKind, Result};
use crate::util::checkpoint::{Reader, Writer};

/// A confirmed change point: a new regime starts at `index`; the detector knew it once
/// the stream had reached `confirmed_at` samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Detection {
    /// First sample of the new regime.
    pub index: u64,
    /// Samples seen when it was confirmed (`confirmed_at - index` is the delay).
    pub confirmed_at: u64,
}

/// How the detector windows the stream.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamWindow {
    /// Samples each search sees at most (>= 2 * min_size).
    pub window: usize,
    /// Look-ahead a change point needs before it is confirmed (< window).
    pub lag: usize,
    /// Samples between searches (1..=window).
    pub step: usize,
}

/// The streaming change-point detector.
#[derive(Debug, Clone)]
pub struct ChangePointDetector {
    options: ChangePointOptions,
    /// `None`: the default penalty of the stream so far.
    pen: Option<f64>,
    geometry: StreamWindow,
    /// Streams shorter than this are searched whole, at `finish`, with these options.
    short: Option<(usize, ChangePointOptions)>,
    /// Retained samples `buf[i]` = sample `base + i`.
    buf: Vec<f64>,
    base: u64,
    seen: u64,
    /// Start of the open regime (last confirmed change point, or 0).
    open: u64,
    reported: u64,
    finished: bool,
}

const TAG: &str = "ChangePointDetector";

impl ChangePointDetector {
    /// A detector searching with `options` (its `stop` is ignored: `pen`, or the default
    /// penalty of the stream so far, decides).
    pub fn new(
        options: ChangePointOptions,
        pen: Option<f64>,
        geometry: StreamWindow,
        short: Option<(usize, ChangePointOptions)>,
    ) -> Result<Self> {
        let check = |o: &ChangePointOptions| {
            ChangePointOptions {
                stop: Stop::Penalty(pen.unwrap_or(0.0)),
                ..o.clone()
            }
            .check()
        };
        check(&options)?;
        if let Some((_, short_options)) = &short {
            check(short_options)?;
        }
        let StreamWindow { window, lag, step } = geometry;
        if window < 2 * options.min_size {
            return Err(Error::parameter(format!(
                "window must be >= 2 * min_size = {}, got {window}",
                2 * options.min_size
            )));
        }
        if lag >= window {
            return Err(Error::parameter(format!(
                "lag must be < window = {window}, got {lag}"
            )));
        }
        if step == 0 || step > window {
            return Err(Error::parameter(format!(
                "step must be in 1..=window = {window}, got {step}"
            )));
        }
        Ok(Self {
            options,
            pen,
            geometry,
            short,
            buf: Vec::new(),
            base: 0,
            seen: 0,
            open: 0,
            reported: 0,
            finished: false,
        })
    }

    /// Samples consumed.
    pub fn samples_seen(&self) -> u64 {
        self.seen
    }

    /// Change points reported so far.
    pub fn reported(&self) -> u64 {
        self.reported
    }

    /// True after `finish`.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// The window geometry.
    pub fn geometry(&self) -> &StreamWindow {
        &self.geometry
    }

    /// Samples retained now (bounded by about twice the window).
    pub fn retained(&self) -> usize {
        self.buf.len()
    }

    fn short_below(&self) -> u64 {
        self.short.as_ref().map_or(0, |(n, _)| *n as u64)
    }

    /// Samples that must stay retained: the window behind the head, and the whole
    /// stream while it may still turn out short.
    fn keep(&self) -> u64 {
        (self.geometry.window as u64).max(self.short_below())
    }

    /// Feeds samples; returns the change points confirmed. On error (a non-finite
    /// sample, a closed stream) the state is unchanged.
    pub fn push(&mut self, chunk: &[f64]) -> Result<Vec<Detection>> {
        self.check_open()?;
        if let Some(i) = chunk.iter().position(|v| !v.is_finite()) {
            let index = self.seen + i as u64;
            return Err(Error::new(
                ErrorKind::NonFinite {
                    index: index as usize,
                },
                format!("sample {index} = {} is not finite", chunk[i]),
            ));
        }
        let mut out = Vec::new();
        let step = self.geometry.step as u64;
        let mut rest = chunk;
        while !rest.is_empty() {
            let to_step = (step - self.seen % step) as usize;
            let take = to_step.min(rest.len());
            self.buf.extend_from_slice(&rest[..take]);
            self.seen += take as u64;
            rest = &rest[take..];
            if self.seen % step == 0 && self.seen >= self.short_below() {
                self.search(self.geometry.lag as u64, &mut out)?;
            }
            self.compact();
        }
        self.reported += out.len() as u64;
        Ok(out)
    }

    /// Closes the stream; returns the change points the last window holds.
    pub fn finish(&mut self) -> Result<Vec<Detection>> {
        self.check_open()?;
        let mut out = Vec::new();
        if self.seen < self.short_below() {
            let (_, options) = self
                .short
                .as_ref()
                .expect("short_below > 0 only with short");
            let x = &self.buf[(self.open - self.base) as usize..];
            for b in self.run(x, options)? {
                out.push(Detection {
                    index: self.open + b as u64,
                    confirmed_at: self.seen,
                });
            }
        } else {
            self.search(0, &mut out)?;
        }
        self.finished = true;
        self.reported += out.len() as u64;
        Ok(out)
    }

    /// Back to a fresh stream with the same options.
    pub fn reset(&mut self) {
        self.buf.clear();
        self.base = 0;
        self.seen = 0;
        self.open = 0;
        self.reported = 0;
        self.finished = false;
    }

    fn check_open(&self) -> Result<()> {
        Error::check_open(self.finished)
    }

    /// Change points (offsets into `x`, excluding its end) under `options`.
    fn run(&self, x: &[f64], options: &ChangePointOptions) -> Result<Vec<usize>> {
        if x.len() < 2 * options.min_size {
            return Ok(Vec::new());
        }
        // The offline default for the stream so far: a long stream tests many more
        // places for a change, so its penalty grows like the offline one with `n`.
        let pen = self
            .pen
            .unwrap_or_else(|| default_penalty(self.seen as usize, options));
        let options = ChangePointOptions {
            stop: Stop::Penalty(pen),
            ..options.clone()
        };
        let mut ends = change_points(x, None, &options)?;
        ends.pop();
        Ok(ends)
    }

    /// Searches the window ending at the head; confirms what lies `lag` behind it.
    fn search(&mut self, lag: u64, out: &mut Vec<Detection>) -> Result<()> {
        let t = self.seen;
        let a = self.open.max(t.saturating_sub(self.geometry.window as u64));
        let x = &self.buf[(a - self.base) as usize..(t - self.base) as usize];
        for b in self.run(x, &self.options)? {
            let index = a + b as u64;
            if t - index >= lag {
                out.push(Detection {
                    index,
                    confirmed_at: t,
                });
                self.open = index;
            }
        }
        Ok(())
    }

    /// Drops samples no later window can see, once they are as many as the kept ones.
    fn compact(&mut self) {
        let needed = self.open.max(self.seen.saturating_sub(self.keep()));
        let drop = (needed - self.base) as usize;
        if drop > 0 && drop >= self.buf.len() / 2 {
            self.buf.drain(..drop);
            self.base = needed;
        }
    }

    /// Serialises the state (options and the samples a later window can see).
    pub fn checkpoint(&self) -> Vec<u8> {
        let mut w = Writer::new(TAG);
        write_options(&mut w, &self.options);
        match self.pen {
            Some(p) => {
                w.bool(true);
                w.f64(p);
            }
            None => w.bool(false),
        }
        w.u64(self.geometry.window as u64);
        w.u64(self.geometry.lag as u64);
        w.u64(self.geometry.step as u64);
        match &self.short {
            Some((n, o)) => {
                w.bool(true);
                w.u64(*n as u64);
                write_options(&mut w, o);
            }
            None => w.bool(false),
        }
        let needed = self.open.max(self.seen.saturating_sub(self.keep()));
        w.u64(needed);
        w.f64s(&self.buf[(needed - self.base) as usize..]);
        w.u64(self.seen);
        w.u64(self.open);
        w.u64(self.reported);
        w.bool(self.finished);
        w.finish()
    }

    /// Rebuilds a detector from `checkpoint()` bytes; it resumes with identical output.
    pub fn restore(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::open(bytes, TAG)?;
        let options = read_options(&mut r)?;
        let pen = if r.bool()? { Some(r.f64()?) } else { None };
        let geometry = StreamWindow {
            window: r.usize()?,
            lag: r.usize()?,
            step: r.usize()?,
        };
        let short = if r.bool()? {
            let n = r.usize()?;
            Some((n, read_options(&mut r)?))
        } else {
            None
        };
        let base = r.u64()?;
        let buf = r.f64s()?;
        let (seen, open, reported, finished) = (r.u64()?, r.u64()?, r.u64()?, r.bool()?);
        r.finish()?;
        let mut d = Self::new(options, pen, geometry, short)
            .map_err(|e| Error::checkpoint(format!("invalid detector options: {e}")))?;
        let consistent = base.checked_add(buf.len() as u64) == Some(seen)
            && open <= seen
            && base == open.max(seen.saturating_sub(d.keep()))
            && reported <= seen
            && buf.iter().all(|v| v.is_finite());
        if !consistent {
            return Err(Error::checkpoint(
                "inconsistent change-point detector state",
            ));
        }
        d.buf = buf;
        d.base = base;
        d.seen = seen;
        d.open = open;
        d.reported = reported;
        d.finished = finished;
        Ok(d)
    }
}

fn write_options(w: &mut Writer, o: &ChangePointOptions) {
    w.u64(o.order.map_or(0, |d| d as u64));
    w.u64(o.delays.len() as u64);
    for &d in &o.delays {
        w.u64(d as u64);
    }
    for flag in [o.symmetric, o.mean, o.variance, o.trend, o.refine_variance] {
        w.bool(flag);
    }
    w.u64(o.min_size as u64);
    w.u64(o.block as u64);
    w.u64(o.radius as u64);
}

fn read_options(r: &mut Reader<'_>) -> Result<ChangePointOptions> {
    let order = match r.usize()? {
        0 => None,
        d => Some(d),
    };
    let n = r.usize()?;
    r.expect_items(n, 8)?;
    let delays = (0..n).map(|_| r.usize()).collect::<Result<Vec<_>>>()?;
    let (symmetric, mean, variance, trend, refine_variance) =
        (r.bool()?, r.bool()?, r.bool()?, r.bool()?, r.bool()?);
    Ok(ChangePointOptions {
        order,
        delays,
        symmetric,
        mean,
        variance,
        trend,
        min_size: r.usize()?,
        block: r.usize()?,
        radius: r.usize()?,
        refine_variance,
        stop: Stop::Penalty(0.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn options() -> ChangePointOptions {
        ChangePointOptions {
            order: Some(4),
            delays: vec![1, 2, 4, 8],
            symmetric: true,
            mean: false,
            variance: false,
            trend: false,
            min_size: 20,
            block: 20,
            radius: 40,
            refine_variance: true,
            stop: Stop::Penalty(0.0),
        }
    }

    fn short() -> Option<(usize, ChangePointOptions)> {
        Some((
            1000,
            ChangePointOptions {
                order: None,
                trend: true,
                ..options()
            },
        ))
    }

    fn geometry() -> StreamWindow {
        StreamWindow {
            window: 1024,
            lag: 512,
            step: 64,
        }
    }

    /// Regimes of different dynamics: white noise, a noisy sine, a random walk.
    fn regimes(n_per: usize, seed: u64) -> Vec<f64> {
        let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        let mut rand = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 11) as f64) / ((1u64 << 53) as f64) - 0.5
        };
        let mut x = Vec::new();
        let mut walk = 0.0;
        for r in 0..6 {
            for i in 0..n_per {
                let v = match r % 3 {
                    0 => rand(),
                    1 => (i as f64 * 0.4).sin() + 0.1 * rand(),
                    _ => {
                        walk += rand();
                        walk
                    }
                };
                x.push(v);
            }
        }
        x
    }

    fn run_chunked(d: &mut ChangePointDetector, x: &[f64], cuts: &[usize]) -> Vec<Detection> {
        let mut out = Vec::new();
        let mut at = 0;
        for &c in cuts.iter().chain([&x.len()]) {
            let c = c.clamp(at, x.len());
            out.extend(d.push(&x[at..c]).unwrap());
            at = c;
        }
        out.extend(d.finish().unwrap());
        out
    }

    #[test]
    fn finds_regime_changes_with_a_bounded_delay() {
        let x = regimes(700, 1);
        let mut d = ChangePointDetector::new(options(), None, geometry(), short()).unwrap();
        let found = run_chunked(&mut d, &x, &[]);
        let truth = [700u64, 1400, 2100, 2800, 3500];
        for t in truth {
            assert!(
                found.iter().any(|f| f.index.abs_diff(t) <= 40),
                "{t} not found in {found:?}"
            );
        }
        assert!(found.len() <= truth.len() + 1, "{found:?}");
        for f in &found[..found.len() - 1] {
            let delay = f.confirmed_at - f.index;
            assert!(delay >= 512, "{f:?}");
        }
        assert!(d.retained() <= 2 * 1024 + 64);
    }

    #[test]
    fn a_short_stream_equals_the_offline_short_default() {
        let x = regimes(120, 2);
        let (_, so) = short().unwrap();
        let mut d = ChangePointDetector::new(options(), None, geometry(), short()).unwrap();
        let streamed: Vec<u64> = run_chunked(&mut d, &x, &[100, 333])
            .iter()
            .map(|f| f.index)
            .collect();
        let pen = default_penalty(x.len(), &so);
        let mut ends = change_points(
            &x,
            None,
            &ChangePointOptions {
                stop: Stop::Penalty(pen),
                ..so
            },
        )
        .unwrap();
        ends.pop();
        assert_eq!(streamed, ends.iter().map(|&e| e as u64).collect::<Vec<_>>());
    }

    #[test]
    fn bad_geometry_and_non_finite_samples_are_refused() {
        let g = |window, lag, step| StreamWindow { window, lag, step };
        for bad in [
            g(30, 10, 5),
            g(1024, 1024, 64),
            g(1024, 10, 0),
            g(1024, 10, 2000),
        ] {
            assert!(ChangePointDetector::new(options(), None, bad, None).is_err());
        }
        let mut d = ChangePointDetector::new(options(), None, geometry(), None).unwrap();
        d.push(&[1.0, 2.0]).unwrap();
        let err = d.push(&[3.0, f64::NAN]).unwrap_err();
        assert!(err.to_string().contains("sample 3"), "{err}");
        assert_eq!(d.samples_seen(), 2);
        d.finish().unwrap();
        assert!(d.push(&[1.0]).is_err());
    }

    #[test]
    fn corrupt_checkpoints_are_refused() {
        let mut d = ChangePointDetector::new(options(), None, geometry(), short()).unwrap();
        d.push(&regimes(300, 3)).unwrap();
        let bytes = d.checkpoint();
        for cut in [0, 10, bytes.len() - 1] {
            assert!(ChangePointDetector::restore(&bytes[..cut]).is_err());
        }
        let mut flipped = bytes.clone();
        flipped[40] ^= 1;
        assert!(ChangePointDetector::restore(&flipped).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        #[test]
        fn detections_do_not_depend_on_chunking_or_checkpoints(
            seed in 0u64..1000,
            n_per in 150usize..500,
            mut cuts in proptest::collection::vec(0usize..3000, 0..6),
            resume_at in 0usize..3000,
            with_pen in any::<bool>(),
        ) {
            let x = regimes(n_per, seed);
            let pen = with_pen.then_some(40.0);
            let mut whole = ChangePointDetector::new(options(), pen, geometry(), short()).unwrap();
            let expected = run_chunked(&mut whole, &x, &[]);
            cuts.sort_unstable();
            let mut d = ChangePointDetector::new(options(), pen, geometry(), short()).unwrap();
            let resume_at = resume_at.min(x.len());
            let mut got = Vec::new();
            let mut at = 0;
            for &c in cuts.iter().filter(|&&c| c < resume_at).chain([&resume_at]) {
                got.extend(d.push(&x[at..c]).unwrap());
                at = c;
            }
            let mut d = ChangePointDetector::restore(&d.checkpoint()).unwrap();
            let rest: Vec<usize> = cuts.iter().copied().filter(|&c| c > at).collect();
            let mut tail = Vec::new();
            let mut pos = at;
            for &c in rest.iter().chain([&x.len()]) {
                tail.extend(d.push(&x[pos..c.min(x.len())]).unwrap());
                pos = c.min(x.len());
            }
            tail.extend(d.finish().unwrap());
            got.extend(tail);
            prop_assert_eq!(got, expected);
        }
    }
}
