//! Many short records at once: a batch of FASTA/FASTQ records in flat buffers, and the
//! per-record operations (SDUST masks, per-base profiles, tokens) over a whole batch.
//!
//! Millions of 150-base reads cost per record, not per base, when each crosses into
//! Python alone: an object per read, a call per read, tables set up per read. A
//! [`RecordBatch`] holds thousands of records as one buffer of concatenated sequences
//! with offsets (Arrow's layout for variable-length values), so a binding hands it over
//! as a few arrays, and the batch functions here reuse one masker or profiler per thread
//! across the records they process.
//!
//! Every batch function treats each record alone (a fresh masker, a fresh next-base
//! model, a threshold calibrated on that record's scores), so a record's result does not
//! depend on which batch it came in, on the batch size, or on the number of threads.

use crate::error::{Error, Result};
use crate::genomic::dna::{DnaProfiler, ProfileKind, ProfileOptions};
use crate::genomic::dust::{DustOptions, Sdust};
use crate::genomic::fasta::Format;
use crate::genomic::read_model::{ReadSurprisal, MAX_READ_LEN};
use crate::segment::rules::short::{segment_short, ShortScratch};
use crate::segment::rules::{Rules, Segment};
use crate::util::pool::run_parallel;

/// Records in flat buffers: record `i`'s sequence is
/// `sequences[sequence_offsets[i]..sequence_offsets[i + 1]]`, its name and description
/// likewise; the quality of a FASTQ record shares its sequence's offsets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordBatch {
    /// Concatenated sequence letters, as in the file (line breaks removed).
    pub sequences: Vec<u8>,
    /// `len() + 1` offsets into `sequences`, starting at 0.
    pub sequence_offsets: Vec<i64>,
    /// Concatenated FASTQ qualities (empty for FASTA), offsets as `sequence_offsets`.
    pub qualities: Vec<u8>,
    /// Concatenated names (the header up to the first whitespace; bytes as in the file).
    pub names: Vec<u8>,
    /// `len() + 1` offsets into `names`.
    pub name_offsets: Vec<i64>,
    /// Concatenated descriptions (the rest of the header, trimmed).
    pub descriptions: Vec<u8>,
    /// `len() + 1` offsets into `descriptions`.
    pub description_offsets: Vec<i64>,
    /// 1-based line of each record's header.
    pub lines: Vec<u64>,
    /// 0-based number (in its input) of each record.
    pub indices: Vec<u64>,
    /// The format of the input (`None` while the batch is empty).
    pub format: Option<Format>,
    /// True when the reader found every sequence of the batch to be upper-case A, C, G
    /// and T only (no ambiguous or soft-masked base), so that a binding can skip looking
    /// for them; false when it did not check (a hint: false promises nothing).
    pub plain: bool,
}

impl Default for RecordBatch {
    fn default() -> Self {
        Self {
            sequences: Vec::new(),
            sequence_offsets: vec![0],
            qualities: Vec::new(),
            names: Vec::new(),
            name_offsets: vec![0],
            descriptions: Vec::new(),
            description_offsets: vec![0],
            lines: Vec::new(),
            indices: Vec::new(),
            format: None,
            plain: true,
        }
    }
}

impl RecordBatch {
    /// An empty batch with room for as many records, bases and names as `other` holds:
    /// a reader that hands its batches away starts the next one at the right size
    /// instead of growing it (and copying it) from nothing.
    pub fn with_capacity_of(other: &RecordBatch) -> Self {
        let records = other.len() + 1;
        let mut b = Self::default();
        b.sequences.reserve(other.sequences.len());
        b.sequence_offsets.reserve(records);
        b.qualities.reserve(other.qualities.len());
        b.names.reserve(other.names.len());
        b.name_offsets.reserve(records);
        b.descriptions.reserve(other.descriptions.len());
        b.description_offsets.reserve(records);
        b.lines.reserve(records);
        b.indices.reserve(records);
        b
    }

    /// Records in the batch.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// True when the batch holds no record.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Bases in the batch.
    pub fn bases(&self) -> usize {
        self.sequences.len()
    }

    /// Empties the batch, keeping its buffers' capacity.
    pub fn clear(&mut self) {
        self.sequences.clear();
        self.sequence_offsets.truncate(1);
        self.qualities.clear();
        self.names.clear();
        self.name_offsets.truncate(1);
        self.descriptions.clear();
        self.description_offsets.truncate(1);
        self.lines.clear();
        self.indices.clear();
        self.format = None;
        self.plain = true;
    }

    /// The sequence of record `i`.
    pub fn sequence(&self, i: usize) -> &[u8] {
        span(&self.sequences, &self.sequence_offsets, i)
    }

    /// The name of record `i`.
    pub fn name(&self, i: usize) -> &[u8] {
        span(&self.names, &self.name_offsets, i)
    }

    /// Appends one record. `header` is the whole header line (name, then description
    /// after the first whitespace); `plain` says the sequence is known to be upper-case
    /// A, C, G and T only.
    pub(crate) fn push(
        &mut self,
        header: &[u8],
        sequence: &[u8],
        quality: Option<&[u8]>,
        index: u64,
        line: u64,
        plain: bool,
    ) {
        self.plain &= plain;
        let split = header
            .iter()
            .position(|b| b.is_ascii_whitespace())
            .unwrap_or(header.len());
        self.names.extend_from_slice(&header[..split]);
        self.name_offsets.push(self.names.len() as i64);
        self.descriptions
            .extend_from_slice(header[split..].trim_ascii());
        self.description_offsets
            .push(self.descriptions.len() as i64);
        self.sequences.extend_from_slice(sequence);
        self.sequence_offsets.push(self.sequences.len() as i64);
        if let Some(q) = quality {
            self.qualities.extend_from_slice(q);
        }
        self.lines.push(line);
        self.indices.push(index);
    }

    /// Removes the last record (the reader drops an empty record it was told to skip).
    pub(crate) fn pop(&mut self) {
        if self.is_empty() {
            return;
        }
        self.lines.pop();
        self.indices.pop();
        self.sequence_offsets.pop();
        self.name_offsets.pop();
        self.description_offsets.pop();
        let end = |o: &[i64]| *o.last().unwrap_or(&0) as usize;
        let seq_end = end(&self.sequence_offsets);
        self.sequences.truncate(seq_end);
        if !self.qualities.is_empty() {
            self.qualities.truncate(seq_end);
        }
        self.names.truncate(end(&self.name_offsets));
        self.descriptions.truncate(end(&self.description_offsets));
    }
}

fn span<'a>(data: &'a [u8], offsets: &[i64], i: usize) -> &'a [u8] {
    &data[offsets[i] as usize..offsets[i + 1] as usize]
}

/// How many records a reader puts into one batch: it stops after the record that
/// reaches `bases` bases, or at `records` records, whichever comes first (a batch holds
/// at least one record, however long).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    /// Bases per batch (the batch ends with the record that reaches it).
    pub bases: usize,
    /// Records per batch at most.
    pub records: usize,
}

/// Default bases per batch: 1 Mi bases, about 7,000 reads of 150 bases. Large enough
/// that the per-batch cost (a call, a few arrays) is noise, small enough that a batch
/// and its results stay in a few MB: every batch's buffers are new memory (they move
/// into numpy arrays), and at 4 Mi bases the first touches of the batches in flight
/// (about 14,000 page faults) cost a fifth of reading 200,000 gzipped reads.
pub const DEFAULT_BATCH_BASES: usize = 1 << 20;

/// Default records per batch at most.
pub const DEFAULT_BATCH_RECORDS: usize = 1 << 16;

impl Default for BatchLimits {
    fn default() -> Self {
        Self {
            bases: DEFAULT_BATCH_BASES,
            records: DEFAULT_BATCH_RECORDS,
        }
    }
}

impl BatchLimits {
    /// Checks both limits are at least 1.
    pub fn new(bases: usize, records: usize) -> Result<Self> {
        if bases < 1 {
            return Err(Error::parameter(format!(
                "batch_bases must be >= 1, got {bases}"
            )));
        }
        if records < 1 {
            return Err(Error::parameter(format!(
                "batch_records must be >= 1, got {records}"
            )));
        }
        Ok(Self { bases, records })
    }
}

/// Checks ragged offsets over `len` items: at least one entry, starting at 0, not
/// decreasing, ending at `len`.
fn check_offsets(offsets: &[i64], len: usize) -> Result<usize> {
    crate::segment::segments::check_offsets(offsets, len)?;
    Ok(offsets.len() - 1)
}

/// Splits records `0..n` into contiguous jobs of about `JOB_BASES` bases, so that
/// threads get work in pieces large enough to amortise the hand-over and small enough
/// to balance.
fn jobs(offsets: &[i64]) -> Vec<(usize, usize)> {
    const JOB_BASES: i64 = 1 << 16;
    let n = offsets.len() - 1;
    let mut out = Vec::new();
    let mut from = 0;
    while from < n {
        let mut to = from + 1;
        while to < n && offsets[to] - offsets[from] < JOB_BASES {
            to += 1;
        }
        out.push((from, to));
        from = to;
    }
    out
}

/// Results of a batch function: `values[value_offsets[i]..value_offsets[i + 1]]` belong
/// to record `i`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Ragged<T> {
    /// Every record's values, concatenated.
    pub values: Vec<T>,
    /// `records + 1` offsets into `values`, starting at 0.
    pub value_offsets: Vec<i64>,
}

/// Runs `per_record` over every record on `threads` threads, each job with its own
/// state from `make`, and joins the results in record order. The first error (by
/// record) wins and names its record.
pub(crate) fn per_record<S, T: Send>(
    sequences: &[u8],
    offsets: &[i64],
    threads: usize,
    make: impl Fn() -> Result<S> + Sync,
    per_record: impl Fn(&mut S, &[u8], &mut Vec<T>) -> Result<()> + Sync,
) -> Result<Ragged<T>> {
    check_offsets(offsets, sequences.len())?;
    let jobs = jobs(offsets);
    let done = run_parallel(jobs.len(), threads, |j| -> Result<Ragged<T>> {
        let (from, to) = jobs[j];
        let mut state = make()?;
        let mut out = Ragged {
            values: Vec::new(),
            value_offsets: Vec::with_capacity(to - from),
        };
        for i in from..to {
            let seq = span(sequences, offsets, i);
            per_record(&mut state, seq, &mut out.values)
                .map_err(|e| e.with_context(format!("record {} of the batch", i + 1)))?;
            out.value_offsets.push(out.values.len() as i64);
        }
        Ok(out)
    });
    let mut all = Ragged {
        values: Vec::new(),
        value_offsets: Vec::with_capacity(offsets.len()),
    };
    all.value_offsets.push(0);
    for part in done {
        let part = part?;
        let base = all.values.len() as i64;
        all.values.extend(part.values);
        all.value_offsets
            .extend(part.value_offsets.iter().map(|o| o + base));
    }
    Ok(all)
}

/// SDUST intervals of every record of a batch (letters, validated), each record masked
/// alone as [`crate::genomic::dust::sdust`] masks it; intervals are `[start, end)`
/// within their record.
pub fn sdust_batch(
    sequences: &[u8],
    offsets: &[i64],
    options: DustOptions,
    threads: usize,
) -> Result<Ragged<(u64, u64)>> {
    Sdust::new(options)?;
    per_record(
        sequences,
        offsets,
        threads,
        || Sdust::new(options),
        |masker, seq, out| {
            // A masker is fresh after `finish_into` (and an error ends the batch).
            masker.push_letters(seq)?;
            masker.finish_into(out);
            Ok(())
        },
    )
}

/// The per-base profile of every record of a batch (letters, validated), each record
/// from a fresh profiler, concatenated: one value per base, laid out like the sequences.
/// The options must give a per-base profile (a window, or a next-base method).
pub fn profile_batch(
    sequences: &[u8],
    offsets: &[i64],
    options: ProfileOptions,
    threads: usize,
) -> Result<Vec<f64>> {
    DnaProfiler::new(options)?;
    if !options.per_base() {
        return Err(Error::parameter(
            "a batch profile needs a per-base profile: give a window (or use a next-base \
             method)",
        ));
    }
    check_offsets(offsets, sequences.len())?;
    // One value per base, written in place: each job fills the slice of its records (no
    // per-job buffers to grow and join, which cost page faults and copies per batch).
    let mut values = crate::util::buffer::zeroed_f64(sequences.len());
    let jobs = jobs(offsets);
    let mut slices = Vec::with_capacity(jobs.len());
    let mut rest = &mut values[..];
    for &(from, to) in &jobs {
        let (head, tail) = rest.split_at_mut((offsets[to] - offsets[from]) as usize);
        slices.push(std::sync::Mutex::new(head));
        rest = tail;
    }
    let done = run_parallel(jobs.len(), threads, |j| -> Result<()> {
        let (from, to) = jobs[j];
        let mut guard = slices[j].lock().unwrap_or_else(|p| p.into_inner());
        let out: &mut [f64] = &mut guard;
        let base = offsets[from];
        let mut profiler = DnaProfiler::new(options)?;
        for i in from..to {
            let (a, b) = (
                (offsets[i] - base) as usize,
                (offsets[i + 1] - base) as usize,
            );
            profiler.reset();
            profiler
                .update_letters(span(sequences, offsets, i), &mut out[a..b])
                .map_err(|e| e.with_context(format!("record {} of the batch", i + 1)))?;
        }
        Ok(())
    });
    for part in done {
        part?;
    }
    Ok(values)
}

/// Tokens of every record of a batch: the record's per-base profile (a fresh profiler:
/// a next-base model learns from that record only) cut by `rules`; a `target_len`
/// calibrates the threshold on that record's scores alone. An empty record has no token.
pub fn tokens_batch(
    sequences: &[u8],
    offsets: &[i64],
    options: ProfileOptions,
    rules: &Rules,
    threads: usize,
) -> Result<Ragged<Segment>> {
    DnaProfiler::new(options)?;
    rules.validate()?;
    if !options.per_base() {
        return Err(Error::parameter(
            "tokens need a per-base profile: give a window (or use a next-base method)",
        ));
    }
    // Next-base surprisal of a short record takes the packed model (the same values),
    // any other profile the general profiler; the cut reuses its buffers across records.
    let fast = options.kind == ProfileKind::NextSurprisal;
    per_record(
        sequences,
        offsets,
        threads,
        || {
            Ok(TokenState {
                profiler: None,
                read_model: if fast {
                    ReadSurprisal::new(options.k, options.normalize)
                } else {
                    None
                },
                scores: Vec::new(),
                scratch: ShortScratch::default(),
            })
        },
        |state, seq, out| {
            if seq.is_empty() {
                return Ok(());
            }
            let scores = &mut state.scores;
            scores.clear();
            scores.resize(seq.len(), f64::NAN);
            match &mut state.read_model {
                Some(model) if seq.len() < MAX_READ_LEN => model.record(seq, scores)?,
                _ => {
                    // Made on first use: its tables cost more than a short record.
                    let profiler = match &mut state.profiler {
                        Some(p) => p,
                        None => state.profiler.insert(DnaProfiler::new(options)?),
                    };
                    profiler.reset();
                    profiler.update_letters(seq, scores)?;
                }
            }
            segment_short(scores, rules, &mut state.scratch, out)
        },
    )
}

/// What a thread of [`tokens_batch`] keeps from record to record.
struct TokenState {
    profiler: Option<DnaProfiler>,
    read_model: Option<ReadSurprisal>,
    scores: Vec<f64>,
    scratch: ShortScratch,
}

/// BED3 text (`name<TAB>start<TAB>end` lines) of ragged intervals: record `i`, named
/// `names[name_offsets[i]..name_offsets[i + 1]]`, owns rows `offsets[i]..offsets[i + 1]`
/// of `starts` / `ends`.
pub fn bed_lines(
    names: &[u8],
    name_offsets: &[i64],
    starts: &[i64],
    ends: &[i64],
    offsets: &[i64],
) -> Result<Vec<u8>> {
    let records = check_offsets(name_offsets, names.len())?;
    if starts.len() != ends.len() {
        return Err(Error::parameter(format!(
            "starts and ends must have the same length, got {} and {}",
            starts.len(),
            ends.len()
        )));
    }
    if check_offsets(offsets, starts.len())? != records {
        return Err(Error::parameter(format!(
            "offsets must have one entry per record plus one ({}), got {}",
            records + 1,
            offsets.len()
        )));
    }
    let mut out = Vec::with_capacity(starts.len() * 24);
    let mut digits = [0u8; 20];
    let mut number = |out: &mut Vec<u8>, v: i64| {
        // Decimal digits written backwards: BED coordinates are never negative here, but
        // a negative value is written with its sign rather than misprinted.
        if v < 0 {
            out.push(b'-');
        }
        let mut u = v.unsigned_abs();
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (u % 10) as u8;
            u /= 10;
            if u == 0 {
                break;
            }
        }
        out.extend_from_slice(&digits[i..]);
    };
    for r in 0..records {
        let name = span(names, name_offsets, r);
        for j in offsets[r] as usize..offsets[r + 1] as usize {
            out.extend_from_slice(name);
            out.push(b'\t');
            number(&mut out, starts[j]);
            out.push(b'\t');
            number(&mut out, ends[j]);
            out.push(b'\n');
        }
    }
    Ok(out)
}

/// One summary line per record of a batch profile (as `entroseg dna profile` prints
/// them): the name padded to 20 characters, the record's bases, then the mean, minimum
/// and maximum of its finite values and their number, or a note when it has none.
/// Record `i` is named `names[name_offsets[i]..name_offsets[i + 1]]` (invalid UTF-8
/// replaced) and owns `values[offsets[i]..offsets[i + 1]]`. Formatting a line per read
/// in Python cost more than the profile itself.
pub fn profile_summary_lines(
    names: &[u8],
    name_offsets: &[i64],
    values: &[f64],
    offsets: &[i64],
) -> Result<Vec<u8>> {
    use std::io::Write;
    let records = check_offsets(name_offsets, names.len())?;
    if check_offsets(offsets, values.len())? != records {
        return Err(Error::parameter(format!(
            "offsets must have one entry per record plus one ({}), got {}",
            records + 1,
            offsets.len()
        )));
    }
    let mut out = Vec::with_capacity(records * 96);
    for r in 0..records {
        let name = String::from_utf8_lossy(span(names, name_offsets, r));
        let v = span_f64(values, offsets, r);
        let (count, sum, lo, hi) = finite_stats(v);
        // Writing into a Vec cannot fail.
        let _ = write!(out, "{name:<20} ");
        let mut digits = [0u8; 32];
        let n = grouped(v.len() as u64, &mut digits);
        out.extend(std::iter::repeat_n(b' ', 12usize.saturating_sub(n.len())));
        out.extend_from_slice(n);
        out.extend_from_slice(b" bases  ");
        if count > 0 {
            out.extend_from_slice(b"mean ");
            fixed3(&mut out, sum / count as f64);
            out.extend_from_slice(b"  min ");
            fixed3(&mut out, lo);
            out.extend_from_slice(b"  max ");
            fixed3(&mut out, hi);
            out.extend_from_slice(b"  (");
            out.extend_from_slice(grouped(count, &mut digits));
            out.extend_from_slice(b" values)\n");
        } else {
            out.extend_from_slice(b"no complete window without ambiguous bases\n");
        }
    }
    Ok(out)
}

/// Number, sum, minimum and maximum of the finite values: four independent lanes,
/// branch-free, so the loop runs at memory speed (the sum's order is fixed: a record's
/// mean does not depend on its batch).
fn finite_stats(v: &[f64]) -> (u64, f64, f64, f64) {
    const L: usize = 4;
    let (mut count, mut sum) = ([0u64; L], [0.0f64; L]);
    let (mut lo, mut hi) = ([f64::INFINITY; L], [f64::NEG_INFINITY; L]);
    let mut lane = |l: usize, x: f64| {
        let finite = x.is_finite();
        count[l] += finite as u64;
        sum[l] += if finite { x } else { 0.0 };
        let low = if finite { x } else { f64::INFINITY };
        let high = if finite { x } else { f64::NEG_INFINITY };
        lo[l] = if low < lo[l] { low } else { lo[l] };
        hi[l] = if high > hi[l] { high } else { hi[l] };
    };
    let chunks = v.chunks_exact(L);
    let tail = chunks.remainder();
    for c in chunks {
        for (l, &x) in c.iter().enumerate() {
            lane(l, x);
        }
    }
    for (l, &x) in tail.iter().enumerate() {
        lane(l, x);
    }
    let fold = |a: [f64; L], f: fn(f64, f64) -> f64| a.into_iter().reduce(f).unwrap_or(0.0);
    (
        count.iter().sum(),
        (sum[0] + sum[1]) + (sum[2] + sum[3]),
        fold(lo, f64::min),
        fold(hi, f64::max),
    )
}

fn span_f64<'a>(data: &'a [f64], offsets: &[i64], i: usize) -> &'a [f64] {
    &data[offsets[i] as usize..offsets[i + 1] as usize]
}

/// `n` with commas between groups of three digits (Python's `f"{n:,}"`), written at the
/// end of `buf`.
fn grouped(mut n: u64, buf: &mut [u8; 32]) -> &[u8] {
    let mut i = buf.len();
    let mut k = 0;
    loop {
        if k > 0 && k % 3 == 0 {
            i -= 1;
            buf[i] = b',';
        }
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        k += 1;
        if n == 0 {
            return &buf[i..];
        }
    }
}

/// Appends `v` with three decimals, as `format!("{v:.3}")` (and Python's `f"{v:.3f}"`)
/// write it: the exact binary value rounded half to even. The common case (a finite
/// value below 2^22 whose thousandfold is not within a hair of a rounding tie) is done
/// in integers; anything else goes through the formatter.
fn fixed3(out: &mut Vec<u8>, v: f64) {
    use std::io::Write;
    let m = v.abs() * 1000.0;
    let frac = m - m.floor();
    // Below 2^32 the product is within 2^-21 (half an ulp) of the exact thousandfold,
    // so unless it lies within 1e-6 of a tie both round to the same integer.
    if v.is_finite() && m < (1u64 << 32) as f64 && (frac - 0.5).abs() > 1e-6 {
        let r = m.round() as u64;
        if v.is_sign_negative() {
            out.push(b'-');
        }
        let mut digits = [0u8; 32];
        let whole = r / 1000;
        let mut i = digits.len();
        let mut w = whole;
        loop {
            i -= 1;
            digits[i] = b'0' + (w % 10) as u8;
            w /= 10;
            if w == 0 {
                break;
            }
        }
        out.extend_from_slice(&digits[i..]);
        let f = r % 1000;
        out.extend_from_slice(&[
            b'.',
            b'0' + (f / 100) as u8,
            b'0' + (f / 10 % 10) as u8,
            b'0' + (f % 10) as u8,
        ]);
        return;
    }
    let _ = write!(out, "{v:.3}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::genomic::dna::ProfileKind;
    use crate::genomic::dust::sdust;
    use crate::segment::rules::segment_scores;
    use proptest::prelude::*;

    fn batch_of(seqs: &[Vec<u8>]) -> (Vec<u8>, Vec<i64>) {
        let mut data = Vec::new();
        let mut offsets = vec![0];
        for s in seqs {
            data.extend_from_slice(s);
            offsets.push(data.len() as i64);
        }
        (data, offsets)
    }

    #[test]
    fn batch_push_pop_and_limits() {
        let mut b = RecordBatch::default();
        b.push(b"r1  some text ", b"ACGT", Some(b"IIII"), 0, 1, true);
        b.push(b"r2", b"", Some(b""), 1, 5, true);
        assert!(b.plain);
        assert_eq!((b.len(), b.bases()), (2, 4));
        assert_eq!(b.name(0), b"r1");
        assert_eq!(&b.descriptions, b"some text");
        b.pop();
        assert_eq!(b.len(), 1);
        assert_eq!(b.sequence(0), b"ACGT");
        b.push(b"r3", b"ACgT", Some(b"IIII"), 2, 9, false);
        assert!(!b.plain);
        b.clear();
        assert!(b.is_empty() && b.sequence_offsets == [0] && b.plain);
        let e = BatchLimits::new(0, 5).unwrap_err();
        assert!(
            e.message().contains("batch_bases must be >= 1, got 0"),
            "{e}"
        );
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<RecordBatch>();
        assert_send_sync::<Ragged<Segment>>();
    }

    #[test]
    fn bed_lines_are_bed3() {
        let text = bed_lines(
            b"r1r22",
            &[0, 2, 2, 5],
            &[0, 10, 7],
            &[5, 123, 8],
            &[0, 2, 2, 3],
        )
        .unwrap();
        assert_eq!(text, b"r1\t0\t5\nr1\t10\t123\nr22\t7\t8\n");
        let e = bed_lines(b"r1", &[0, 2], &[0], &[5], &[0, 1, 1]).unwrap_err();
        assert!(
            e.message()
                .contains("one entry per record plus one (2), got 3"),
            "{e}"
        );
    }

    #[test]
    fn profile_summaries_read_like_the_python_lines() {
        let nan = f64::NAN;
        let values = [0.5, 0.25, nan, 1.0, nan, nan];
        let text =
            profile_summary_lines(b"r1r\xff", &[0, 2, 4, 4], &values, &[0, 4, 6, 6]).unwrap();
        let text = String::from_utf8(text).unwrap();
        let want = [
            format!(
                "{:<20} {:>12} bases  mean 0.583  min 0.250  max 1.000  (3 values)",
                "r1", 4
            ),
            format!(
                "{:<20} {:>12} bases  no complete window without ambiguous bases",
                "r\u{fffd}", 2
            ),
            format!(
                "{:<20} {:>12} bases  no complete window without ambiguous bases",
                "", 0
            ),
        ];
        assert_eq!(text, want.map(|l| l + "\n").concat());
        let mut buf = [0u8; 32];
        assert_eq!(grouped(1234567, &mut buf), b"1,234,567");
        assert_eq!(grouped(999, &mut buf), b"999");
        assert_eq!(grouped(0, &mut buf), b"0");
        assert_eq!(grouped(1000, &mut buf), b"1,000");
        let e = profile_summary_lines(b"r", &[0, 1], &values, &[0, 6, 6]).unwrap_err();
        assert!(
            e.message()
                .contains("one entry per record plus one (2), got 3"),
            "{e}"
        );
    }

    #[test]
    fn errors_name_the_record() {
        let (data, offsets) = batch_of(&[b"ACGT".to_vec(), b"AC-T".to_vec()]);
        let e = sdust_batch(&data, &offsets, DustOptions::default(), 1).unwrap_err();
        assert!(e.message().contains("record 2 of the batch"), "{e}");
        let e = sdust_batch(&data, &[0, 9], DustOptions::default(), 1).unwrap_err();
        assert!(e.message().contains("offsets"), "{e}");
        let opts = ProfileOptions {
            kind: ProfileKind::Kmer,
            k: 3,
            window: None,
            normalize: true,
        };
        let e = profile_batch(b"ACGT", &[0, 4], opts, 1).unwrap_err();
        assert!(e.message().contains("per-base"), "{e}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Three decimals as the formatter writes them, ties and signs included.
        #[test]
        fn fixed3_equals_the_formatter(
            v in prop_oneof![
                -2.0f64..2.0,
                (0u64..4_000_000).prop_map(|k| k as f64 / 2000.0),
                (0u64..4_000_000).prop_map(|k| k as f64 / 2000.0 + 1e-13),
                any::<f64>(),
                Just(-0.0), Just(f64::NAN), Just(f64::INFINITY), Just(-0.0004),
            ],
            n in any::<u64>(),
        ) {
            let mut out = Vec::new();
            fixed3(&mut out, v);
            prop_assert_eq!(String::from_utf8(out).unwrap(), format!("{v:.3}"));
            let mut buf = [0u8; 32];
            let plain = n.to_string();
            let grouped_text = String::from_utf8(grouped(n, &mut buf).to_vec()).unwrap();
            prop_assert_eq!(grouped_text.replace(',', ""), plain);
            prop_assert!(grouped_text.split(',').skip(1).all(|g| g.len() == 3));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Batch results equal record-by-record results, on any number of threads.
        #[test]
        fn batch_equals_one_record_at_a_time(
            seqs in proptest::collection::vec(
                proptest::collection::vec(prop::sample::select(b"ACGTACGTAAAAN".to_vec()), 0..300),
                0..40),
            threads in 1usize..4,
        ) {
            let (data, offsets) = batch_of(&seqs);
            let o = DustOptions::default();
            let masks = sdust_batch(&data, &offsets, o, threads).unwrap();
            let opts = ProfileOptions { kind: ProfileKind::NextSurprisal, k: 4, window: None, normalize: true };
            let profiles = profile_batch(&data, &offsets, opts, threads).unwrap();
            let rules = Rules { target_len: Some(8.0), max_len: Some(32), ..Rules::default() };
            let tokens = tokens_batch(&data, &offsets, opts, &rules, threads).unwrap();
            for (i, s) in seqs.iter().enumerate() {
                let m = &masks.values[masks.value_offsets[i] as usize..masks.value_offsets[i + 1] as usize];
                prop_assert_eq!(m, &sdust(s, o).unwrap()[..]);
                let mut p = DnaProfiler::new(opts).unwrap();
                let mut want = vec![0.0; s.len()];
                p.update_letters(s, &mut want).unwrap();
                let got = &profiles[offsets[i] as usize..offsets[i + 1] as usize];
                prop_assert_eq!(got.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                                want.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
                let t = &tokens.values[tokens.value_offsets[i] as usize..tokens.value_offsets[i + 1] as usize];
                let want_t = if s.is_empty() { Vec::new() } else { segment_scores(&want, &rules).unwrap() };
                prop_assert_eq!(t, &want_t[..]);
            }
        }
    }
}
