//! SDUST: the symmetric DUST low-complexity masker of Morgulis et al. (2006), "A fast and
//! symmetric DUST implementation to mask low-complexity DNA sequences", J. Comput. Biol.
//! 13(5), the algorithm of NCBI's `dustmasker` and of minimap2's / pydustmasker's `sdust`.
//!
//! # The algorithm
//!
//! A stretch `x` of DNA is scored by how often its triplets (3-mers) repeat:
//! `score(x) = sum_t c_t (c_t - 1) / 2 / (l - 1)` over the `l` triplets of `x`, where
//! `c_t` counts triplet `t`. With the level `T` (default 20), `x` is *low-complexity* when
//! `10 * score(x) > T`, and *perfect* when moreover no part of it scores higher. The
//! masker slides a window of `W` bases (default 64) along the sequence and keeps the list
//! `P` of perfect intervals that lie inside the window, sorted by decreasing start. For
//! each new base it
//!
//! 1. reports the perfect intervals that start before the new window (merging a reported
//!    interval into the previous one when they overlap or touch: dustmasker's "linker 1");
//! 2. shifts the window by one triplet, maintaining the triplet counts of the window and
//!    of its longest suffix `v` in which no triplet occurs more than `2T/10` times (such
//!    a suffix cannot hold a new perfect interval, so only longer suffixes are scored),
//!    together with the running sums `r = sum c (c - 1) / 2` of both;
//! 3. when the window as a whole could hold a perfect interval (`10 r_window > T |v|`),
//!    scores the suffixes of the window longer than `v`, from short to long, and inserts
//!    each one whose score exceeds the threshold and is at least the best score among the
//!    perfect intervals it contains.
//!
//! Any base other than A/C/G/T (N, another IUPAC code) ends the current stretch: the
//! pending perfect intervals are reported and the window restarts empty after it, so no
//! triplet spans an ambiguous base (as in `sdust` and pydustmasker; see the repository's
//! benchmark notes for how NCBI `dustmasker` differs around N). Case is ignored, so
//! soft-masked (lowercase) bases are masked like any others.
//!
//! Results are 0-based, half-open `[start, end)` intervals in increasing order, merged
//! when they overlap or touch, exactly as dustmasker's `interval` output (which is
//! inclusive) plus one on the end.
//!
//! # Streaming
//!
//! [`Sdust`] is online: [`Sdust::push_letters`] takes a record in chunks of any size and
//! the intervals do not depend on the chunking (the state is the window, its counts and
//! the pending perfect intervals: O(W) memory). [`Sdust::take_settled`] hands over the
//! intervals that can no longer change, so very long records can be masked in constant
//! memory.

use crate::error::{Error, ErrorKind, Result};
use crate::genomic::dna::{invalid_base_error, AMBIGUOUS, LETTER_CLASS, NOT_NUCLEOTIDE};

/// dustmasker's default window (bases).
pub const DEFAULT_WINDOW: usize = 64;
/// dustmasker's default level (score threshold times 10).
pub const DEFAULT_LEVEL: u32 = 20;
/// Smallest window (pydustmasker's limit: a window must hold two triplets).
pub const MIN_WINDOW: usize = 4;
/// Largest window; keeps every count product well inside 64 bits.
pub const MAX_WINDOW: usize = 1 << 16;

/// SDUST options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DustOptions {
    /// Window in bases (dustmasker `-window`).
    pub window: usize,
    /// Score threshold times 10 (dustmasker `-level`).
    pub level: u32,
}

impl Default for DustOptions {
    fn default() -> Self {
        Self {
            window: DEFAULT_WINDOW,
            level: DEFAULT_LEVEL,
        }
    }
}

/// The perfect intervals waiting to be reported, summarised per start.
///
/// The algorithm keeps them in a list sorted by decreasing start (equal starts by
/// increasing end) and uses only three things from it: the last element (the smallest
/// start, with its largest end) when reporting; the best score among the intervals
/// starting at or after a given position when scoring a new candidate; and dropping the
/// intervals that start before the window. A slot per start holding its largest end and
/// its best score (as the ratio repeats/span) answers all three, and inserting costs O(1)
/// instead of shifting a long list (which made repeat-rich sequences slow: a homopolymer
/// adds dozens of perfect intervals per base).
///
/// Pending intervals start inside the current window, so at most `W` starts are live at
/// once and start `s` lives in slot `s & mask`, with `mask + 1` the power of two at or
/// above `W` (a mask instead of `s % W`: the scoring loop looks up one slot per start it
/// passes, and a 64-bit division there cost a third of the time on repeat-rich genomes).
/// A bit per slot says whether it is live, so that the scoring loop visits only the live
/// starts (about one in five on P. falciparum) instead of probing every start it passes.
#[derive(Debug, Clone)]
struct Pending {
    slots: Box<[Slot]>,
    /// `slots.len() - 1`, `slots.len()` a power of two and at least 64.
    mask: u64,
    /// Bit `i % 64` of word `i / 64` is set when slot `i` is live.
    live_bits: Box<[u64]>,
    /// No live start below this one.
    low: u64,
    live: usize,
    /// With 64 slots (windows up to 64 bases), bit `i` set when the live start in slot
    /// `i` is a *record*: its best score is at least that of every live start after it.
    /// Every other live start scores at most the nearest record after it, so the best
    /// score among the starts at or after `s` is the score of the first record at or
    /// after `s`: one bit search instead of visiting every live start (see
    /// [`Pending::best_from`]). An insertion, whose score is at least every score after
    /// its start, makes its start a record and unmarks the records just before it that
    /// score no higher (each record is unmarked at most once).
    records: u64,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    /// The start this slot holds, `EMPTY` if none.
    start: u64,
    /// Largest end among the intervals with this start.
    end: u64,
    /// Best score among them: `repeats / span` (`sum c (c - 1) / 2` over the interval's
    /// triplets, over its number of triplets minus one).
    repeats: u64,
    span: u64,
}

const EMPTY: u64 = u64::MAX;

impl Pending {
    fn new(window: usize) -> Self {
        let empty = Slot {
            start: EMPTY,
            end: 0,
            repeats: 0,
            span: 0,
        };
        let len = window.next_power_of_two().max(64);
        Self {
            slots: vec![empty; len].into_boxed_slice(),
            mask: len as u64 - 1,
            live_bits: vec![0; len / 64].into_boxed_slice(),
            low: 0,
            live: 0,
            records: 0,
        }
    }

    fn is_empty(&self) -> bool {
        self.live == 0
    }

    fn clear(&mut self) {
        // Reporting drops every interval it reports, slot and bit, so after the end of a
        // sequence nothing is live and there is nothing to clear (a masker reused for
        // many short reads would otherwise rewrite every slot twice per read).
        if self.live == 0 {
            return;
        }
        self.slots.iter_mut().for_each(|s| s.start = EMPTY);
        self.live_bits.iter_mut().for_each(|w| *w = 0);
        self.records = 0;
        self.live = 0;
    }

    #[inline(always)]
    fn slot(&self, start: u64) -> &Slot {
        &self.slots[(start & self.mask) as usize]
    }

    /// The smallest live start and its largest end.
    fn first(&mut self) -> Option<(u64, u64)> {
        if self.live == 0 {
            return None;
        }
        loop {
            let slot = *self.slot(self.low);
            if slot.start == self.low {
                return Some((slot.start, slot.end));
            }
            self.low += 1;
        }
    }

    /// Drops every interval that starts before `start`.
    fn drop_before(&mut self, start: u64) {
        while self.live > 0 && self.low < start {
            let index = (self.low & self.mask) as usize;
            let slot = &mut self.slots[index];
            if slot.start == self.low {
                slot.start = EMPTY;
                self.live_bits[index / 64] &= !(1 << (index % 64));
                self.records &= !(1 << (index % 64));
                self.live -= 1;
            }
            self.low += 1;
        }
    }

    /// Folds into `best` the best score of every live start in `low..high`, a range no
    /// longer than the slot count (within it, slot indices and starts correspond one to
    /// one), visiting the live bits word by word from the top.
    #[inline(always)]
    fn fold_best(&self, low: u64, high: u64, best: &mut Option<(u64, u64)>) {
        let mut high = high;
        while high > low {
            let index = ((high - 1) & self.mask) as usize;
            let bit = index % 64;
            // Bits 0..=bit of this word are starts high-1-bit ..= high-1; keep those at or
            // above `low`, as the top `below + 1` bits of `word`.
            let below = (high - 1 - low).min(bit as u64) as u32;
            let word_index = index / 64;
            let mut word = self.live_bits[word_index] >> (bit as u32 - below) << (63 - below);
            let base = index - bit;
            while word != 0 {
                let top = 63 - word.leading_zeros();
                word &= !(1u64 << top);
                // Bit `top` of `word` is bit `top + bit - 63` of the live word.
                let slot = &self.slots[base + (top as usize + bit - 63)];
                if slot.start != EMPTY && best.is_none_or(|(r, s)| slot.repeats * s > r * slot.span)
                {
                    *best = Some((slot.repeats, slot.span));
                }
            }
            high -= below as u64 + 1;
        }
    }

    /// The best score among the live starts at or after `window_start + i`, every live
    /// start lying in `window_start..window_start + 64`; 64 slots only.
    #[inline(always)]
    fn best_from(&self, window_start: u64, i: u32) -> Option<(u64, u64)> {
        let after = self.records.rotate_right((window_start & 63) as u32) >> i;
        if after == 0 {
            return None;
        }
        let slot = self.slot(window_start + (i + after.trailing_zeros()) as u64);
        Some((slot.repeats, slot.span))
    }

    /// Marks `start` (just inserted with a score at least that of every live start after
    /// it) a record and unmarks the records before it that score no higher.
    #[inline(always)]
    fn mark_record(&mut self, start: u64) {
        let index = (start & 63) as u32;
        let Slot { repeats, span, .. } = self.slots[index as usize];
        // Bit 63 - d of `before`: slot index - d (mod 64), d = 1..63.
        let mut before = self.records.rotate_left(63 - index) & !(1 << 63);
        while before != 0 {
            let bit = 63 - before.leading_zeros();
            before &= !(1 << bit);
            let other = (index + bit + 1) & 63;
            let slot = &self.slots[other as usize];
            // A start after this one seen around the ring, or a higher score: the
            // records further back score higher still.
            if slot.start > start || slot.repeats * span > repeats * slot.span {
                break;
            }
            self.records &= !(1 << other);
        }
        self.records |= 1 << index;
    }

    fn insert(&mut self, start: u64, end: u64, repeats: u64, span: u64) {
        self.insert_slot(start, end, repeats, span);
        if self.slots.len() == 64 {
            self.mark_record(start);
        }
    }

    #[inline(always)]
    fn insert_slot(&mut self, start: u64, end: u64, repeats: u64, span: u64) {
        let index = (start & self.mask) as usize;
        self.live_bits[index / 64] |= 1 << (index % 64);
        let slot = &mut self.slots[index];
        if slot.start == start {
            // Intervals are found in order of end: this one ends last.
            slot.end = slot.end.max(end);
            if repeats * slot.span > slot.repeats * span {
                (slot.repeats, slot.span) = (repeats, span);
            }
        } else {
            *slot = Slot {
                start,
                end,
                repeats,
                span,
            };
            self.low = if self.live == 0 {
                start
            } else {
                self.low.min(start)
            };
            self.live += 1;
        }
    }
}

/// How input bytes map to bases.
#[derive(Debug, Clone, Copy)]
enum Input {
    /// Letters: A/C/G/T (either case) are bases, IUPAC codes break, others are errors.
    Letters,
    /// Letters as dustmasker reads them: every byte but A/C/G/T breaks, nothing fails.
    LettersLenient,
    /// Codes 0..=3 are bases, 4 breaks, others are errors.
    Codes,
}

// Window and suffix counts of a triplet share one u64 (window count in the low half,
// suffix count in the high half), and so do the two running sums: a base entering both
// updates both with one add. Neither half can borrow from the other because each half's
// true value stays in 0..2^32 (at most (W-2)^2/2 < 2^31 for W <= 2^16).
const WINDOW_ONE: u64 = 1;
const SUFFIX_ONE: u64 = 1 << 32;
const BOTH_ONE: u64 = WINDOW_ONE | SUFFIX_ONE;
const LOW: u64 = 0xFFFF_FFFF;
const HIGH: u64 = !LOW;

/// The smallest packed count (suffix count in the high half) whose suffix count `c`
/// exceeds `2T/10`, i.e. `10 c > 2T`: `c > floor(2T/10)`, and the window count in the low
/// half is below 2^32. Comparing the packed count with it saves a shift and a multiply per
/// base.
fn shrink_at(level: u64) -> u64 {
    (2 * level / 10 + 1) << 32
}

/// Packed counts per triplet code (see [`WINDOW_ONE`]); only codes 0..64 occur, but 256
/// entries let a triplet byte index the table with no mask and no bounds check.
type Counts = [u64; 256];

/// The sliding window of triplets with the counts of the window and of its suffix `v`.
#[derive(Debug, Clone)]
struct Window {
    /// Triplets a full window holds (W - 2).
    capacity: usize,
    /// The triplets in order of position: the window (oldest first) is the plain slice
    /// `triplets[head..head + len]`, so the scans read it without wrapping around, and
    /// the triplets of the block being processed, encoded ahead, follow it. When a block
    /// no longer fits after the window, the window moves to the front (one copy of at most
    /// `capacity` bytes every `capacity + 3 BLOCK` bases or more). At least
    /// [`CARRY_WINDOW`] bytes can be read from `head`.
    triplets: Box<[u8]>,
    counts: Counts,
    cursor: Cursor,
}

/// Bases encoded to triplets at once (validated and encoded a vector at a time) before
/// the window loop counts them one by one.
const BLOCK: usize = 256;

/// Largest window whose suffix scores [`SuffixRepeats`] keeps (one bit per start in a
/// `u64`, and every repeat count, times 10, fits a `u16`).
const CARRY_WINDOW: usize = 64;
/// Largest level for which [`SuffixRepeats`] is used (`level * span` fits a `u64`).
const CARRY_LEVEL: u64 = 1 << 32;
/// Lane numbers 0..64.
const LANE: [u8; CARRY_WINDOW] = {
    let mut lane = [0u8; CARRY_WINDOW];
    let mut i = 0;
    while i < CARRY_WINDOW {
        lane[i] = i as u8;
        i += 1;
    }
    lane
};
/// A scan that starts without carried counts rebuilds them only when it would visit at
/// least this many suffixes; shorter scans (most of them on genomes with little
/// low-complexity sequence) walk the count table as before.
const REBUILD_MIN_SCAN: usize = 16;
/// Carried counts are dropped at a scan shorter than this (bringing them up to date
/// costs more than such a scan of the count table).
const KEEP_MIN_SCAN: usize = 6;

/// The repeat count `sum c (c - 1) / 2` of every suffix of the window, kept up to date
/// from one base to the next while consecutive bases are scanned, so that a scan reads
/// them instead of recounting the suffixes one triplet at a time.
///
/// When triplet `t` enters the window, the suffix starting at window triplet `i` gains
/// as many repeats as it already holds copies of `t`: the number of `t` at `i` or later,
/// a suffix sum over the window of "is `t`", computed for all starts at once in six
/// shifted adds over 64 lanes (the compiler vectorises them). When the oldest triplet
/// leaves, the suffixes starting after it are unchanged and the array shifts by one.
/// The suffixes whose score is above the threshold then come out of one comparison per
/// start as a bit mask, and only those are scored against the pending intervals, in the
/// same order (short to long) as the triplet-by-triplet scan, so every decision, and so
/// every interval, is the same.
#[derive(Debug, Clone)]
struct SuffixRepeats {
    /// Whether the window and level allow it.
    enabled: bool,
    /// `r[i]`: repeats of the suffix starting at window triplet `i` (0 = oldest); zero
    /// from the newest triplet on (one extra lane: the shifting update reads `r[i + 1]`).
    r: [u16; CARRY_WINDOW + 1],
    /// End (exclusive, in bases) of the window the counts belong to; `EMPTY` when stale.
    end: u64,
    /// Start of that window.
    window_start: u64,
    /// `level * span` of the suffix starting at each window triplet, for a window of
    /// `threshold_len` triplets, at most `i16::MAX` (`i16::MAX` past its end).
    thresholds: [i16; CARRY_WINDOW],
    threshold_len: usize,
}

impl SuffixRepeats {
    fn new(capacity: usize, level: u64) -> Self {
        Self {
            enabled: capacity + 2 <= CARRY_WINDOW && level <= CARRY_LEVEL,
            r: [0; CARRY_WINDOW + 1],
            end: EMPTY,
            window_start: 0,
            thresholds: [0; CARRY_WINDOW],
            threshold_len: 0,
        }
    }
}

/// The scalar state of a [`Window`], copied into locals for the hot loop so that the
/// compiler keeps it in registers.
#[derive(Debug, Clone, Copy, Default)]
struct Cursor {
    /// Ring slot of the oldest triplet.
    head: usize,
    /// Triplets in the window.
    len: usize,
    /// Length of the suffix `v` (in triplets).
    suffix: usize,
    /// Packed running sums `sum c (c - 1) / 2` of the window (low) and of `v` (high).
    sums: u64,
}

impl Window {
    fn new(capacity: usize) -> Self {
        Self {
            capacity,
            triplets: vec![0u8; 2 * capacity + 4 * BLOCK].into_boxed_slice(),
            counts: [0; 256],
            cursor: Cursor::default(),
        }
    }

    fn clear(&mut self) {
        self.counts[..64].fill(0);
        self.cursor = Cursor::default();
    }

    /// Makes room for a block after the window (moving the window to the front of the
    /// buffer when needed) and returns where the block's triplets go.
    #[inline(always)]
    fn block_start(&mut self) -> usize {
        let Cursor { head, len, .. } = self.cursor;
        // During the block the head moves by at most BLOCK, and the carried scan reads
        // CARRY_WINDOW bytes from it.
        if head + len + BLOCK + CARRY_WINDOW > self.triplets.len() {
            self.triplets.copy_within(head..head + len, 0);
            self.cursor.head = 0;
        }
        self.cursor.head + len
    }

    /// Counts the newest triplet in the window and in `v`, then keeps `v` the longest
    /// suffix in which no triplet occurs more than `2T/10` times. `shrink_at` is
    /// [`shrink_at`] of the level: the test reads the packed count as it is.
    #[inline(always)]
    fn enter(
        triplets: &[u8],
        counts: &mut Counts,
        cursor: &mut Cursor,
        triplet: usize,
        shrink_at: u64,
    ) {
        cursor.suffix += 1;
        cursor.sums += counts[triplet];
        counts[triplet] += BOTH_ONE;
        if counts[triplet] >= shrink_at {
            (cursor.suffix, cursor.sums) = Self::shrink_suffix(triplets, counts, *cursor, triplet);
        }
    }

    /// Too many copies of `triplet` in `v`: shortens it from the left until one copy has
    /// left; returns the new suffix length and sums. Takes the cursor by value and returns
    /// scalars so that the hot loop's state never has to live in memory.
    #[inline(never)]
    fn shrink_suffix(
        triplets: &[u8],
        counts: &mut Counts,
        cursor: Cursor,
        triplet: usize,
    ) -> (usize, u64) {
        let Cursor {
            head,
            len,
            mut suffix,
            mut sums,
        } = cursor;
        loop {
            let t = triplets[head + (len - suffix)] as usize;
            suffix -= 1;
            counts[t] -= SUFFIX_ONE;
            sums -= counts[t] & HIGH;
            if t == triplet {
                return (suffix, sums);
            }
        }
    }

    /// Whether some suffix longer than `v` may score above the threshold (a necessary
    /// condition: no suffix repeats more than the whole window, and none longer than `v`
    /// has fewer than `|v|` triplets to share the score).
    #[inline(always)]
    fn may_hold_perfect(sums: u64, suffix: usize, level: u64) -> bool {
        (sums & LOW) * 10 > level * suffix as u64
    }

    /// Scores the suffixes of the window longer than `v`, from short to long, and inserts
    /// into `perfect` each one that scores above the threshold and at least as high as
    /// every perfect interval it contains.
    /// The window's parts come separately (the cursor by value) so that the hot loop's
    /// state never has to leave registers.
    #[inline(never)]
    fn find_perfect(
        triplets: &[u8],
        counts: &Counts,
        carried: &mut SuffixRepeats,
        cursor: Cursor,
        window_start: u64,
        level: u64,
        perfect: &mut Pending,
    ) {
        if carried.enabled {
            let end = window_start + cursor.len as u64 + 2;
            let scan = Self::scan_len(cursor, level);
            // Keep the counts carried from the previous base, or rebuild them for a
            // scan long enough to pay for it.
            let keep = carried.end != EMPTY && carried.end + 1 == end && scan >= KEEP_MIN_SCAN;
            if keep || scan >= REBUILD_MIN_SCAN {
                return Self::find_perfect_carried(
                    triplets,
                    carried,
                    cursor,
                    window_start,
                    level,
                    perfect,
                    !keep,
                );
            }
            carried.end = EMPTY;
        }
        let Cursor {
            head,
            len,
            suffix,
            sums,
        } = cursor;
        // Suffix counts while scanning: the counts of `v` (the high halves of `counts`),
        // then of each longer suffix. Narrowing 64 counts costs about as much as zeroing a
        // table of additions, and saves a load and an add per scanned triplet.
        let mut suffix_counts = [0u32; 64];
        for (c, &both) in suffix_counts.iter_mut().zip(counts) {
            *c = (both >> 32) as u32;
        }
        let mut repeats = sums >> 32;
        // Best score (as a ratio repeats/span) among the perfect intervals inside the
        // suffix being scored; `None` until one is found.
        let mut best: Option<(u64, u64)> = None;
        // Starts at or after `folded` have been folded into `best`.
        let mut folded = window_start + len as u64;
        let end = window_start + len as u64 + 2;
        // Spans worth scoring: from |v| up to the window's, and only while even the whole
        // window's repeat count could beat the threshold (no suffix repeats more).
        let mut last_span = len - 1;
        if let Some(bound) = ((sums & LOW) * 10).saturating_sub(1).checked_div(level) {
            last_span = last_span.min(bound as usize);
        }
        if last_span < suffix {
            return;
        }
        // The triplets left of `v`, nearest first: the one entering the suffix of span
        // `suffix + k` is the k-th. Window triplet i (0 = oldest) is `triplets[head + i]`
        // and ends the suffix of span `len - 1 - i`.
        let scanned = &triplets[head + len - 1 - last_span..head + len - suffix];
        let mut threshold = level * suffix as u64;
        let window_repeats = sums & LOW;
        for (k, &t) in scanned.iter().rev().enumerate() {
            let t = t as usize & 63;
            repeats += suffix_counts[t] as u64;
            suffix_counts[t] += 1;
            let above = repeats * 10 > threshold;
            threshold += level;
            if !above {
                continue;
            }
            let span = (suffix + k) as u64;
            // The best score so far is a lower bound on the one this suffix must reach,
            // so a lower score is rejected before folding in more pending starts.
            if let Some((r, s)) = best {
                if repeats * s < r * span {
                    // No longer suffix repeats more than the whole window: once even that
                    // count cannot reach the best score over this span, no longer suffix
                    // can (the best only grows as the scan goes on).
                    if window_repeats * s < r * span {
                        break;
                    }
                    continue;
                }
            }
            let start = window_start + (len as u64 - 1 - span);
            perfect.fold_best(start, folded, &mut best);
            folded = start;
            if best.is_none_or(|(r, s)| repeats * s >= r * span) {
                best = Some((repeats, span));
                perfect.insert(start, end, repeats, span);
            }
        }
    }

    /// Longest span worth scoring (see [`Window::find_perfect`]): at most the
    /// window's, and only while the whole window's repeat count could beat the threshold.
    #[inline(always)]
    fn last_span(cursor: Cursor, level: u64) -> usize {
        let mut last_span = cursor.len - 1;
        if let Some(bound) = ((cursor.sums & LOW) * 10)
            .saturating_sub(1)
            .checked_div(level)
        {
            last_span = last_span.min(bound as usize);
        }
        last_span
    }

    /// How many suffixes a scan visits.
    #[inline(always)]
    fn scan_len(cursor: Cursor, level: u64) -> usize {
        (Self::last_span(cursor, level) + 1).saturating_sub(cursor.suffix)
    }

    /// [`Window::find_perfect`] on the carried suffix repeat counts: brings them up
    /// to date (from the previous base's, or from scratch when `rebuild`), then scores
    /// the suffixes above the threshold in the same order and with the same tests as the
    /// triplet-by-triplet scan.
    #[inline(never)]
    fn find_perfect_carried(
        triplets: &[u8],
        carried: &mut SuffixRepeats,
        cursor: Cursor,
        window_start: u64,
        level: u64,
        perfect: &mut Pending,
        rebuild: bool,
    ) {
        let Cursor {
            head, len, suffix, ..
        } = cursor;
        let end = window_start + len as u64 + 2;
        // The window's triplets, oldest first, and what follows them in the buffer.
        let window: &[u8; CARRY_WINDOW] = triplets[head..head + CARRY_WINDOW].try_into().unwrap();
        let r = &mut carried.r;
        if rebuild {
            *r = [0; CARRY_WINDOW + 1];
            let mut copies = [0u16; 64];
            for i in (0..len).rev() {
                let t = window[i] as usize & 63;
                r[i] = r[i + 1] + copies[t];
                copies[t] += 1;
            }
        } else {
            // Copies of the new triplet at or after each start, among the older triplets
            // (bytes: at most 63, and 16 lanes to a vector).
            let newest = window[len - 1] & 63;
            let older = (len - 1) as u8;
            let mut copies = [0u8; CARRY_WINDOW];
            for ((c, &t), &i) in copies.iter_mut().zip(window).zip(&LANE) {
                *c = ((t & 63 == newest) & (i < older)) as u8;
            }
            // Suffix sums as the total minus the copies before each lane: eight lanes to
            // a word, a word's prefix sums by one multiplication (no lane exceeds 63, so
            // no lane carries into the next).
            const ONES: u64 = 0x0101_0101_0101_0101;
            let mut before = [0u64; CARRY_WINDOW / 8];
            let mut total = 0u64;
            for (b, bytes) in before.iter_mut().zip(copies.chunks_exact(8)) {
                let x = u64::from_le_bytes(bytes.try_into().unwrap());
                let inclusive = x.wrapping_mul(ONES);
                *b = inclusive - x + total * ONES;
                total += inclusive >> 56;
            }
            for (b, bytes) in before.iter().zip(copies.chunks_exact_mut(8)) {
                bytes.copy_from_slice(&(total * ONES - b).to_le_bytes());
            }
            if window_start != carried.window_start {
                // The oldest triplet left: start i is the previous window's start i + 1.
                for i in 0..CARRY_WINDOW {
                    r[i] = r[i + 1] + copies[i] as u16;
                }
            } else {
                for i in 0..CARRY_WINDOW {
                    r[i] += copies[i] as u16;
                }
            }
            r[len - 1] = 0;
        }
        carried.end = end;
        carried.window_start = window_start;
        let last_span = Self::last_span(cursor, level);
        if last_span < suffix {
            return;
        }
        if carried.threshold_len != len {
            carried.threshold_len = len;
            for (i, t) in carried.thresholds.iter_mut().enumerate() {
                *t = if i < len {
                    (level * (len - 1 - i) as u64).min(i16::MAX as u64) as i16
                } else {
                    i16::MAX
                };
            }
        }
        // Bit i: the suffix starting at window triplet i scores above the threshold.
        // Ten times a repeat count is at most 10 * 62 * 61 / 2 < i16::MAX, so a
        // threshold clamped to i16::MAX rejects like the true one.
        let mut above = [0u8; CARRY_WINDOW];
        for ((a, &x), &t) in above.iter_mut().zip(r.iter()).zip(&carried.thresholds) {
            *a = ((x * 10) as i16 > t) as u8;
        }
        let mut mask = 0u64;
        for (k, bytes) in above.chunks_exact(8).enumerate() {
            let x = u64::from_le_bytes(bytes.try_into().unwrap());
            mask |= (x.wrapping_mul(0x0102_0408_1020_4080) >> 56) << (8 * k);
        }
        // Spans suffix..=last_span: starts len-1-last_span ..= len-1-suffix.
        let highest = len - 1 - suffix;
        let lowest = len - 1 - last_span;
        mask &= (u64::MAX >> (63 - highest)) & (u64::MAX << lowest);
        let window_repeats = cursor.sums & LOW;
        let start_of = |i: usize| window_start + i as u64;
        // A lower bound on the best score among the perfect intervals inside the suffix
        // being scored (that best score itself once a suffix passed the first test).
        let mut best: Option<(u64, u64)> = None;
        while mask != 0 {
            let i = 63 - mask.leading_zeros() as usize;
            mask &= !(1u64 << i);
            let span = (len - 1 - i) as u64;
            let repeats = r[i] as u64;
            if let Some((br, bs)) = best {
                if repeats * bs < br * span {
                    if window_repeats * bs < br * span {
                        break;
                    }
                    continue;
                }
            }
            best = perfect.best_from(window_start, i as u32);
            if best.is_none_or(|(br, bs)| repeats * bs >= br * span) {
                best = Some((repeats, span));
                perfect.insert(start_of(i), end, repeats, span);
            }
        }
    }
}

/// Reports the pending perfect interval with the smallest start (`perfect` is sorted by
/// decreasing start, so it is the last one) if it starts before `start`, merging it into
/// the previous interval when they overlap or touch, and drops every pending interval
/// that starts before `start`. Kept out of line: the hot loop stays small enough for its
/// state to fit in registers.
/// With `record` false the interval is dropped instead (the warm-up of a parallel
/// chunk, whose reports belong to the previous chunk).
#[inline(never)]
fn report_before(perfect: &mut Pending, intervals: &mut Vec<(u64, u64)>, start: u64, record: bool) {
    let Some((first_start, first_end)) = perfect.first() else {
        return;
    };
    if first_start >= start {
        return;
    }
    if record {
        match intervals.last_mut() {
            Some(last) if first_start <= last.1 => last.1 = last.1.max(first_end),
            _ => intervals.push((first_start, first_end)),
        }
    }
    perfect.drop_before(start);
}

/// The constants of the window loop while no perfect interval is pending (see
/// [`Quiet::slide`]).
struct Quiet {
    capacity: usize,
    shrink_at: u64,
    level: u64,
}

impl Quiet {
    fn new(capacity: usize, level: u64) -> Self {
        Self {
            capacity,
            shrink_at: shrink_at(level),
            level,
        }
    }

    /// Appends at most `n` triplets (those after the window) to a window that is not
    /// full, while no perfect interval is pending, until it is full or may hold a perfect
    /// interval; returns how many bases it appended and whether the last one's window
    /// may hold a perfect interval (the caller scores it).
    #[inline(never)]
    fn fill(
        &self,
        triplets: &[u8],
        n: usize,
        counts: &mut Counts,
        cursor: &mut Cursor,
    ) -> (usize, bool) {
        let Self {
            capacity,
            shrink_at,
            level,
            ..
        } = *self;
        let mut c = *cursor;
        let n = n.min(capacity - c.len);
        let news = &triplets[c.head + c.len..c.head + c.len + n];
        let mut hot = false;
        let mut done = 0;
        for &t in news {
            let t = t as usize;
            c.len += 1;
            c.suffix += 1;
            c.sums += counts[t];
            counts[t] += BOTH_ONE;
            if counts[t] >= shrink_at {
                (c.suffix, c.sums) = Window::shrink_suffix(triplets, counts, c, t);
            }
            done += 1;
            // With `v` spanning the window no suffix is longer than `v`: nothing to score.
            if c.suffix < c.len && Window::may_hold_perfect(c.sums, c.suffix, level) {
                hot = true;
                break;
            }
        }
        *cursor = c;
        (done, hot)
    }

    /// Slides a full window over at most `n` triplets, the oldest at `triplets[head]`,
    /// while no perfect interval is pending; returns how many bases slid before the
    /// first whose window may hold a perfect interval (that base has slid too, and the
    /// caller scores it), or `n`, with the new suffix length and sums. On its own so
    /// that the loop's state fits in registers.
    #[inline(never)]
    fn slide(
        &self,
        triplets: &[u8],
        head: usize,
        n: usize,
        counts: &mut Counts,
        mut suffix: usize,
        mut sums: u64,
    ) -> (usize, usize, u64) {
        let Self {
            capacity,
            shrink_at,
            level,
        } = *self;
        let olds = &triplets[head..head + n];
        let news = &triplets[head + capacity..head + capacity + n];
        let mut j = 0;
        while j < n {
            if suffix == capacity {
                // `v` spans the window: the oldest triplet leaves both. No suffix is
                // longer than `v`, so there is nothing to score (`find_perfect` would
                // return at once) until a count in `v` exceeds `2T/10`.
                let mut hit = None;
                for (&old, &t) in olds[j..].iter().zip(&news[j..]) {
                    let (old, t) = (old as usize, t as usize);
                    counts[old] -= BOTH_ONE;
                    sums -= counts[old];
                    sums += counts[t];
                    counts[t] += BOTH_ONE;
                    if counts[t] >= shrink_at {
                        hit = Some(t);
                        break;
                    }
                    j += 1;
                }
                let Some(t) = hit else {
                    return (n, suffix, sums);
                };
                let cursor = Cursor {
                    head: head + j + 1,
                    len: capacity,
                    suffix,
                    sums,
                };
                (suffix, sums) = Window::shrink_suffix(triplets, counts, cursor, t);
                if Window::may_hold_perfect(sums, suffix, level) {
                    return (j, suffix, sums);
                }
                j += 1;
            } else {
                // The oldest triplet leaves the window only.
                for (&old, &t) in olds[j..].iter().zip(&news[j..]) {
                    let (old, t) = (old as usize, t as usize);
                    counts[old] -= WINDOW_ONE;
                    sums -= counts[old] & LOW;
                    suffix += 1;
                    sums += counts[t];
                    counts[t] += BOTH_ONE;
                    if counts[t] >= shrink_at {
                        let cursor = Cursor {
                            head: head + j + 1,
                            len: capacity,
                            suffix,
                            sums,
                        };
                        (suffix, sums) = Window::shrink_suffix(triplets, counts, cursor, t);
                    }
                    if Window::may_hold_perfect(sums, suffix, level) {
                        return (j, suffix, sums);
                    }
                    j += 1;
                    if suffix == capacity {
                        break;
                    }
                }
            }
        }
        (n, suffix, sums)
    }
}

/// Encodes the leading bases of `input` (at most [`BLOCK`]) as triplets into `out`, the
/// first two completed by `last` (the run's previous triplet), and returns how many
/// bases it encoded: all of them, or those before the first byte that is not a base.
/// Validation and encoding go a vector at a time (no table look-up per base).
#[inline(always)]
fn encode_block(kind: Input, input: &[u8], last: usize, out: &mut [u8]) -> usize {
    let n = input.len().min(BLOCK);
    let mut codes = [0u8; BLOCK + 2];
    codes[0] = (last >> 2) as u8 & 3;
    codes[1] = last as u8 & 3;
    let mut bad = false;
    match kind {
        Input::Letters | Input::LettersLenient => {
            for (c, &x) in codes[2..2 + n].iter_mut().zip(&input[..n]) {
                // `x & 0xDF` folds only `a` onto `A` (and so on); bits 1-2 of A, C, G, T
                // are 0, 1, 3, 2.
                let u = x & 0xDF;
                bad |= !((u == b'A') | (u == b'C') | (u == b'G') | (u == b'T'));
                let k = (u >> 1) & 3;
                *c = k ^ (k >> 1);
            }
        }
        Input::Codes => {
            for (c, &x) in codes[2..2 + n].iter_mut().zip(&input[..n]) {
                bad |= x > 3;
                *c = x & 3;
            }
        }
    }
    let m = if bad {
        input[..n]
            .iter()
            .position(|&x| match kind {
                Input::Codes => x > 3,
                _ => LETTER_CLASS[x as usize] >= AMBIGUOUS,
            })
            .unwrap_or(n)
    } else {
        n
    };
    for (j, t) in out[..m].iter_mut().enumerate() {
        *t = codes[j] << 4 | codes[j + 1] << 2 | codes[j + 2];
    }
    m
}

/// The streaming SDUST masker of one sequence.
#[derive(Debug, Clone)]
pub struct Sdust {
    options: DustOptions,
    level: u64,
    /// Global position of the next base.
    position: u64,
    /// Length of the current run of A/C/G/T.
    run: u64,
    triplet: usize,
    window: Window,
    /// The repeat counts of every suffix of the window, carried from one scanned base to
    /// the next (stale after a reset: the positions start again).
    carried: SuffixRepeats,
    /// Perfect intervals not reported yet.
    perfect: Pending,
    intervals: Vec<(u64, u64)>,
    /// Reports made while processing a base before this position are dropped (see
    /// [`sdust_chunked`]).
    emit_from: u64,
    /// Whether the quiet loops ([`Quiet::fill`], [`Quiet::slide`]) run while nothing is
    /// pending; off, every base takes the general step (for tests).
    quiet_loops: bool,
}

impl Sdust {
    /// Validates options and builds a masker.
    pub fn new(options: DustOptions) -> Result<Self> {
        if !(MIN_WINDOW..=MAX_WINDOW).contains(&options.window) {
            return Err(Error::parameter(format!(
                "window must be in {MIN_WINDOW}..={MAX_WINDOW} bases, got {}",
                options.window
            )));
        }
        Ok(Self {
            options,
            level: options.level as u64,
            position: 0,
            run: 0,
            triplet: 0,
            window: Window::new(options.window - 2),
            carried: SuffixRepeats::new(options.window - 2, options.level as u64),
            perfect: Pending::new(options.window),
            intervals: Vec::new(),
            emit_from: 0,
            quiet_loops: true,
        })
    }

    /// The options.
    pub fn options(&self) -> &DustOptions {
        &self.options
    }

    /// Bases consumed so far.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Feeds letters. A/C/G/T in either case are bases, the other IUPAC codes break the
    /// sequence; any other byte fails with [`ErrorKind::InvalidSequence`] naming its
    /// position (counted from the first base fed). After an error the masker must be
    /// reset or dropped.
    pub fn push_letters(&mut self, letters: &[u8]) -> Result<()> {
        self.push(letters, Input::Letters)
    }

    /// Feeds letters the way dustmasker and pydustmasker read them: every byte other than
    /// A/C/G/T (either case) breaks the sequence. Never fails.
    pub fn push_letters_lenient(&mut self, letters: &[u8]) {
        // Lenient input has no failing byte.
        let _ = self.push(letters, Input::LettersLenient);
    }

    /// Feeds base codes (0..=3 for A, C, G, T; 4 for an ambiguous base). A larger code
    /// fails with [`ErrorKind::SymbolOutOfRange`]. After an error the masker must be
    /// reset or dropped.
    pub fn push_codes(&mut self, codes: &[u8]) -> Result<()> {
        self.push(codes, Input::Codes)
    }

    /// Ends the sequence: reports the pending perfect intervals and returns every interval
    /// not yet handed out by [`Sdust::take_settled`]. The masker is then fresh again.
    pub fn finish(&mut self) -> Vec<(u64, u64)> {
        self.end_run();
        let out = std::mem::take(&mut self.intervals);
        self.reset();
        out
    }

    /// [`Sdust::finish`] appending the intervals to `out` instead of returning a new
    /// vector: masking many short sequences with one masker allocates nothing per
    /// sequence.
    pub fn finish_into(&mut self, out: &mut Vec<(u64, u64)>) {
        self.end_run();
        out.append(&mut self.intervals);
        self.reset();
    }

    /// Hands out the intervals that later input can no longer change (all but the last
    /// one, which a later perfect interval may still extend).
    pub fn take_settled(&mut self) -> Vec<(u64, u64)> {
        let settled = self.intervals.len().saturating_sub(1);
        self.intervals.drain(..settled).collect()
    }

    /// The same masker with the carried suffix repeat counts turned off: every scan
    /// walks the count table (the path of windows above 64 bases), for tests.
    #[cfg(test)]
    fn without_carry(mut self) -> Self {
        self.carried.enabled = false;
        self
    }

    /// The same masker with the quiet loops turned off: every base takes the general
    /// step (report check, leave, enter, test), for tests.
    #[cfg(test)]
    fn without_quiet_loops(mut self) -> Self {
        self.quiet_loops = false;
        self
    }

    /// Back to a fresh masker.
    pub fn reset(&mut self) {
        self.emit_from = 0;
        self.position = 0;
        self.run = 0;
        self.triplet = 0;
        self.window.clear();
        self.carried.end = EMPTY;
        self.perfect.clear();
        self.intervals.clear();
    }

    fn push(&mut self, input: &[u8], kind: Input) -> Result<()> {
        match kind {
            Input::Letters => self.push_with(input, kind, |x| LETTER_CLASS[x as usize]),
            Input::LettersLenient => {
                self.push_with(input, kind, |x| LETTER_CLASS[x as usize].min(AMBIGUOUS))
            }
            Input::Codes => {
                self.push_with(
                    input,
                    kind,
                    |x| {
                        if x <= AMBIGUOUS {
                            x
                        } else {
                            NOT_NUCLEOTIDE
                        }
                    },
                )
            }
        }
    }

    /// Hands each run of bases to the window loop and each ambiguous base to `end_run`;
    /// `class` maps a byte to its code (0..=3 a base, 4 ambiguous, above: invalid).
    #[inline(always)]
    fn push_with(&mut self, input: &[u8], kind: Input, class: impl Fn(u8) -> u8) -> Result<()> {
        let mut i = 0;
        while i < input.len() {
            i += self.bases(&input[i..], kind, &class);
            let Some(&byte) = input.get(i) else {
                break;
            };
            if class(byte) == AMBIGUOUS {
                self.end_run();
                self.position += 1;
                i += 1;
            } else {
                return Err(match kind {
                    Input::Codes => Error::new(
                        ErrorKind::SymbolOutOfRange { index: i },
                        format!(
                            "code {byte} at index {i} is not a base code: expected 0..=3 for \
                             A, C, G, T and 4 for an ambiguous base"
                        ),
                    ),
                    _ => invalid_base_error(byte, self.position),
                });
            }
        }
        Ok(())
    }

    /// The window loop over the run of bases at the start of `input`; returns how many
    /// bytes it consumed (it stops before the first byte that is not a base).
    #[inline(always)]
    fn bases(&mut self, input: &[u8], kind: Input, class: impl Fn(u8) -> u8) -> usize {
        let mut skipped = 0;
        // The first two bases of a run make no triplet.
        while self.run < 2 {
            let Some(&x) = input.get(skipped) else {
                return skipped;
            };
            let c = class(x);
            if c >= AMBIGUOUS {
                return skipped;
            }
            self.run += 1;
            self.triplet = ((self.triplet << 2) | c as usize) & 63;
            self.position += 1;
            skipped += 1;
        }
        let codes = &input[skipped..];
        let mut done = 0;
        while done < codes.len() {
            let n = (codes.len() - done).min(BLOCK);
            let at = self.window.block_start();
            let block = &mut self.window.triplets[at..at + n];
            let m = encode_block(kind, &codes[done..done + n], self.triplet, block);
            if m > 0 {
                self.triplet = block[m - 1] as usize;
                self.count_triplets(m);
            }
            done += m;
            if m < n {
                break;
            }
        }
        skipped + done
    }

    /// The window loop over the `m` triplets encoded after the window (see
    /// [`Window::block_start`]): for each, reports the perfect intervals that start before
    /// the new window, slides the window and scores its suffixes when it may hold a
    /// perfect interval.
    #[inline(always)]
    fn count_triplets(&mut self, m: usize) {
        let window_len = self.options.window as u64;
        let level = self.level;
        let shrink_at = shrink_at(level);
        let emit_from = self.emit_from;
        let quiet_loops = self.quiet_loops;
        // Locals rather than fields, so that the hot state lives in registers.
        let first = self.position;
        let run_before = self.run;
        let perfect = &mut self.perfect;
        let carried = &mut self.carried;
        let intervals = &mut self.intervals;
        let Window {
            capacity,
            triplets,
            counts,
            cursor,
        } = &mut self.window;
        let capacity = *capacity;
        let triplets: &[u8] = triplets;
        let mut c = *cursor;
        // Whether perfect intervals are pending (changed only by the calls below).
        let mut pending = !perfect.is_empty();
        let quiet = Quiet::new(capacity, level);
        // While the window fills up it starts where the run starts.
        let mut k = 0;
        while k < m && c.len < capacity {
            let position = first + k as u64;
            let run = run_before + k as u64 + 1;
            let window_start = position + 1 - run.min(window_len);
            if !pending && quiet_loops {
                // Nothing to report: fill on until a window may hold a perfect interval.
                let (done, hot) = quiet.fill(triplets, m - k, counts, &mut c);
                k += done;
                if hot {
                    let position = first + (k - 1) as u64;
                    let window_start = position + 1 - (run_before + k as u64).min(window_len);
                    Window::find_perfect(
                        triplets,
                        counts,
                        carried,
                        c,
                        window_start,
                        level,
                        perfect,
                    );
                    pending = !perfect.is_empty();
                }
                continue;
            }
            let t = triplets[c.head + c.len] as usize;
            if pending {
                report_before(perfect, intervals, window_start, position >= emit_from);
                pending = !perfect.is_empty();
            }
            c.len += 1;
            Window::enter(triplets, counts, &mut c, t, shrink_at);
            if Window::may_hold_perfect(c.sums, c.suffix, level) {
                Window::find_perfect(triplets, counts, carried, c, window_start, level, perfect);
                pending = !perfect.is_empty();
            }
            k += 1;
        }
        // A full window holds the W bases ending at the current one: triplet `j` of
        // `olds` leaves as triplet `j` of `news` enters.
        if k < m {
            let head = c.head;
            let n = m - k;
            let olds = &triplets[head..head + n];
            let news = &triplets[head + capacity..head + capacity + n];
            let first = first + k as u64;
            let Cursor {
                mut suffix,
                mut sums,
                ..
            } = c;
            let mut j = 0;
            while j < n {
                if !pending && quiet_loops {
                    // Nothing to report: slide on until a window may hold a perfect
                    // interval.
                    let done;
                    (done, suffix, sums) =
                        quiet.slide(triplets, head + j, n - j, counts, suffix, sums);
                    j += done;
                    if j == n {
                        break;
                    }
                    // Base `j` has slid the window, and it may hold a perfect interval.
                    let cursor = Cursor {
                        head: head + j + 1,
                        len: capacity,
                        suffix,
                        sums,
                    };
                    let position = first + j as u64;
                    Window::find_perfect(
                        triplets,
                        counts,
                        carried,
                        cursor,
                        position + 1 - window_len,
                        level,
                        perfect,
                    );
                    pending = !perfect.is_empty();
                    j += 1;
                    continue;
                }
                let t = news[j] as usize;
                let position = first + j as u64;
                if pending {
                    report_before(
                        perfect,
                        intervals,
                        position + 1 - window_len,
                        position >= emit_from,
                    );
                    pending = !perfect.is_empty();
                }
                // The oldest triplet leaves the window, and `v` too when `v` spans it.
                let old = olds[j] as usize;
                if suffix == capacity {
                    counts[old] -= BOTH_ONE;
                    sums -= counts[old];
                    suffix -= 1;
                } else {
                    counts[old] -= WINDOW_ONE;
                    sums -= counts[old] & LOW;
                }
                let mut cursor = Cursor {
                    head: head + j + 1,
                    len: capacity,
                    suffix,
                    sums,
                };
                Window::enter(triplets, counts, &mut cursor, t, shrink_at);
                (suffix, sums) = (cursor.suffix, cursor.sums);
                if Window::may_hold_perfect(sums, suffix, level) {
                    Window::find_perfect(
                        triplets,
                        counts,
                        carried,
                        cursor,
                        position + 1 - window_len,
                        level,
                        perfect,
                    );
                    pending = !perfect.is_empty();
                }
                j += 1;
            }
            c = Cursor {
                head: head + n,
                len: capacity,
                suffix,
                sums,
            };
        }
        *cursor = c;
        self.position += m as u64;
        self.run += m as u64;
    }

    /// An ambiguous base or the end of the sequence: reports every pending interval and
    /// restarts the window.
    fn end_run(&mut self) {
        if !self.perfect.is_empty() {
            // Report as if the window kept sliding right one base at a time, starting from
            // the start pydustmasker uses at a break, so the grouping of pending intervals
            // (and thus the output) is the same.
            let run_start = self.position - self.run;
            let w = self.options.window as u64;
            let mut start = run_start + 1 + (self.run + 1).saturating_sub(w);
            let record = self.position >= self.emit_from;
            while let Some((first, _)) = self.perfect.first() {
                start = (start + 1).max(first + 1);
                report_before(&mut self.perfect, &mut self.intervals, start, record);
            }
        }
        if self.run >= 3 {
            self.window.clear();
        }
        self.run = 0;
        self.triplet = 0;
    }
}

/// Masks one sequence of letters (A/C/G/T in either case are bases, IUPAC codes break it,
/// any other byte is an error naming its position).
pub fn sdust(letters: &[u8], options: DustOptions) -> Result<Vec<(u64, u64)>> {
    let mut masker = Sdust::new(options)?;
    masker.push_letters(letters)?;
    Ok(masker.finish())
}

/// Masks one sequence of base codes (0..=3, 4 for ambiguous).
pub fn sdust_codes(codes: &[u8], options: DustOptions) -> Result<Vec<(u64, u64)>> {
    let mut masker = Sdust::new(options)?;
    masker.push_codes(codes)?;
    Ok(masker.finish())
}

/// Bases of look-back a chunk re-reads before its own start. The state at a position
/// (window counts, suffix `v`, pending perfect intervals and every decision that shaped
/// them) depends only on windows that start at most `3W` bases earlier: a pending interval
/// starts inside the current window, was found in a window that started at most `W`
/// earlier, and was compared only with intervals starting after its own start, found in
/// windows starting at most `W` before those. One more `W` is margin.
const LOOK_BACK_WINDOWS: usize = 4;

/// `[start, end)` intervals.
type Intervals = Vec<(u64, u64)>;

/// SDUST of a sequence of letters (strict, as [`sdust`]) cut into chunks of
/// `chunk_len` bases processed independently, then joined: identical to [`sdust`].
///
/// Each chunk starts [`LOOK_BACK_WINDOWS`] windows early with an empty masker and drops
/// the reports made before its own start (they belong to the previous chunk, which ends
/// without reporting its pending intervals: the next chunk, having rebuilt the same state,
/// reports them). Reported intervals come in increasing order of start, so joining the
/// chunks' lists with the same overlap-or-touch merge gives the sequential result.
pub fn sdust_chunked(
    letters: &[u8],
    options: DustOptions,
    chunk_len: usize,
    threads: usize,
) -> Result<Vec<(u64, u64)>> {
    chunked(letters, options, chunk_len, threads, Input::Letters)
}

fn chunked(
    letters: &[u8],
    options: DustOptions,
    chunk_len: usize,
    threads: usize,
    kind: Input,
) -> Result<Vec<(u64, u64)>> {
    Sdust::new(options)?;
    let n = letters.len();
    let chunk_len = chunk_len.max(1);
    let look_back = LOOK_BACK_WINDOWS * options.window;
    let bounds: Vec<usize> = (0..n.div_ceil(chunk_len)).map(|i| i * chunk_len).collect();
    let run_chunk = |i: usize| -> Result<Intervals> {
        let start = bounds[i];
        let end = (start + chunk_len).min(n);
        let from = start.saturating_sub(look_back);
        let mut masker = Sdust::new(options)?;
        masker.position = from as u64;
        masker.emit_from = start as u64;
        masker.push(&letters[from..end], kind)?;
        Ok(if end == n {
            masker.finish()
        } else {
            std::mem::take(&mut masker.intervals)
        })
    };
    let results = crate::util::pool::run_parallel(bounds.len(), threads, run_chunk);
    let mut out: Vec<(u64, u64)> = Vec::new();
    for r in results {
        for (s, e) in r? {
            match out.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => out.push((s, e)),
            }
        }
    }
    Ok(out)
}

/// SDUST of a sequence of letters on up to `threads` threads (identical to [`sdust`]).
/// Each thread gets at least [`PARALLEL_MIN_BASES`] bases, so short sequences run on one.
pub fn sdust_parallel(
    letters: &[u8],
    options: DustOptions,
    threads: usize,
) -> Result<Vec<(u64, u64)>> {
    parallel(letters, options, threads, Input::Letters)
}

/// [`sdust_codes`] on up to `threads` threads (identical result).
pub fn sdust_codes_parallel(
    codes: &[u8],
    options: DustOptions,
    threads: usize,
) -> Result<Vec<(u64, u64)>> {
    parallel(codes, options, threads, Input::Codes)
}

fn parallel(
    input: &[u8],
    options: DustOptions,
    threads: usize,
    kind: Input,
) -> Result<Vec<(u64, u64)>> {
    let threads = threads.clamp(1, (input.len() / PARALLEL_MIN_BASES).max(1));
    if threads == 1 {
        let mut masker = Sdust::new(options)?;
        masker.push(input, kind)?;
        return Ok(masker.finish());
    }
    chunked(input, options, input.len().div_ceil(threads), threads, kind)
}

/// Smallest share of a sequence worth a thread of its own.
pub const PARALLEL_MIN_BASES: usize = 1 << 20;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn score_times_10_exceeds(seq: &[u8], level: u64) -> bool {
        let mut counts = [0u64; 64];
        let codes: Vec<usize> = seq
            .iter()
            .map(|&b| LETTER_CLASS[b as usize] as usize)
            .collect();
        for w in codes.windows(3) {
            counts[w[0] << 4 | w[1] << 2 | w[2]] += 1;
        }
        let r: u64 = counts.iter().map(|c| c * c.saturating_sub(1) / 2).sum();
        let l = seq.len() as u64 - 2;
        r * 10 > level * (l - 1)
    }

    #[test]
    fn homopolymer_and_microsatellite_are_masked_random_is_not() {
        let o = DustOptions::default();
        // Random-looking sequence: nothing masked.
        let random = b"ACGTTGCAAGCTTAGCCATGGTACCGATCGTAGCTAGGCTTACGATCGGATCCTAGCATGCAT";
        assert!(sdust(random, o).unwrap().is_empty());
        // A homopolymer run in the middle is masked, and nothing outside it.
        let mut seq = random.to_vec();
        seq.extend(std::iter::repeat_n(b'A', 30));
        seq.extend_from_slice(random);
        let got = sdust(&seq, o).unwrap();
        assert_eq!(got.len(), 1, "{got:?}");
        let (s, e) = got[0];
        assert!(s <= 64 && e >= 94 && e - s < 40, "{got:?}");
        assert!(score_times_10_exceeds(&seq[s as usize..e as usize], 20));
        // Lowercase is the same sequence.
        assert_eq!(sdust(&seq.to_ascii_lowercase(), o).unwrap(), got);
    }

    #[test]
    fn ambiguous_bases_split_and_bad_bytes_fail() {
        let o = DustOptions::default();
        let a = [b'A'; 20];
        let mut seq = a.to_vec();
        seq.push(b'N');
        seq.extend_from_slice(&a);
        let got = sdust(&seq, o).unwrap();
        // Each side is masked on its own; the N itself is not.
        assert_eq!(got, [(0, 20), (21, 41)]);
        let e = sdust(b"ACGT ACGT", o).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidSequence { position: 4 });
        let e = sdust_codes(&[0, 1, 9], o).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::SymbolOutOfRange { index: 2 });
        let mut m = Sdust::new(o).unwrap();
        m.push_letters_lenient(b"AAAAAAAAAAAA ZZAAAAAAAAAAAA");
        assert_eq!(m.finish(), [(0, 12), (15, 27)]);
        for w in [0, 3, MAX_WINDOW + 1] {
            let e = Sdust::new(DustOptions {
                window: w,
                level: 20,
            })
            .unwrap_err();
            assert!(e.message().contains("4..=65536"), "{e}");
        }
        assert!(sdust(b"", o).unwrap().is_empty());
        assert!(sdust(b"AAA", o).unwrap().is_empty());
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Sdust>();
    }

    #[test]
    fn take_settled_hands_out_final_intervals_once() {
        let o = DustOptions::default();
        let unit = b"ACGTTGCAAGCTTAGCCATGGTACCGATCGTAGCTAGGCTTACGATCGGATCCTAGCATGCAT";
        let mut seq = Vec::new();
        for _ in 0..20 {
            seq.extend_from_slice(unit);
            seq.extend_from_slice(b"CACACACACACACACACACACACACA");
        }
        let want = sdust(&seq, o).unwrap();
        assert!(want.len() > 10);
        let mut m = Sdust::new(o).unwrap();
        let mut got = Vec::new();
        for chunk in seq.chunks(37) {
            m.push_letters(chunk).unwrap();
            got.extend(m.take_settled());
        }
        got.extend(m.finish());
        assert_eq!(got, want);
    }

    #[test]
    fn chunked_and_parallel_equal_sequential() {
        let mut state = 7u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut seq = Vec::new();
        let units: [&[u8]; 6] = [b"A", b"CA", b"GAT", b"TTAGGG", b"N", b"acgt"];
        while seq.len() < 12_000 {
            let r = next();
            if r % 3 == 0 {
                let u = units[(r >> 8) as usize % units.len()];
                let n = 5 + (r >> 20) as usize % 120;
                seq.extend(u.iter().cycle().take(n));
            } else {
                for _ in 0..1 + (r >> 20) as usize % 200 {
                    seq.push(b"ACGT"[(next() >> 40) as usize & 3]);
                }
            }
        }
        for (window, level) in [(64, 20), (20, 10), (32, 30)] {
            let o = DustOptions { window, level };
            let want = sdust(&seq, o).unwrap();
            assert!(want.len() > 20);
            for chunk in [37, 63, 64, 65, 200, 1000, 11_999] {
                assert_eq!(
                    sdust_chunked(&seq, o, chunk, 1).unwrap(),
                    want,
                    "chunk {chunk}"
                );
            }
            assert_eq!(sdust_chunked(&seq, o, 997, 3).unwrap(), want);
            let codes = crate::genomic::dna::encode(&seq).unwrap();
            assert_eq!(chunked(&codes, o, 500, 2, Input::Codes).unwrap(), want);
        }
        let mut bad = seq.clone();
        bad[9_000] = b'!';
        let e = sdust_chunked(&bad, DustOptions::default(), 1000, 2).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidSequence { position: 9_000 });
    }

    /// A slow, direct SDUST, written from the algorithm's description rather than from
    /// the fast path: for every base it rebuilds the window, finds the suffix `v` by
    /// counting, scores every longer suffix from scratch, and keeps the perfect intervals
    /// in a plain list searched in full. Quadratic in the window; for tests only.
    fn reference_sdust(seq: &[u8], window: usize, level: u64) -> Vec<(u64, u64)> {
        let codes: Vec<u8> = seq
            .iter()
            .map(|&b| LETTER_CLASS[b as usize].min(AMBIGUOUS))
            .collect();
        let mut out: Vec<(u64, u64)> = Vec::new();
        // (start, end, repeats, span) of the perfect intervals not reported yet.
        let mut pending: Vec<(u64, u64, u64, u64)> = Vec::new();
        fn report(pending: &mut Vec<(u64, u64, u64, u64)>, out: &mut Vec<(u64, u64)>, start: u64) {
            let Some(first) = pending.iter().map(|p| p.0).min() else {
                return;
            };
            if first >= start {
                return;
            }
            let end = pending
                .iter()
                .filter(|p| p.0 == first)
                .map(|p| p.1)
                .max()
                .unwrap();
            match out.last_mut() {
                Some(last) if first <= last.1 => last.1 = last.1.max(end),
                _ => out.push((first, end)),
            }
            pending.retain(|p| p.0 >= start);
        }
        let repeats = |triplets: &[usize]| -> u64 {
            let mut c = [0u64; 64];
            triplets.iter().for_each(|&t| c[t] += 1);
            c.iter().map(|&n| n * n.saturating_sub(1) / 2).sum()
        };
        let mut run_start = 0;
        for p in 0..=codes.len() {
            if p < codes.len() && codes[p] < AMBIGUOUS {
                if p >= run_start + 2 {
                    let window_start = (p + 1 - (p + 1 - run_start).min(window)) as u64;
                    report(&mut pending, &mut out, window_start);
                    // Triplets of the window, oldest first; triplet i starts at base
                    // window_start + i.
                    let triplets: Vec<usize> = (window_start as usize..=p - 2)
                        .map(|i| {
                            (codes[i] as usize) << 4
                                | (codes[i + 1] as usize) << 2
                                | codes[i + 2] as usize
                        })
                        .collect();
                    let n = triplets.len();
                    // v: the longest suffix in which no triplet occurs more than 2T/10 times.
                    let mut v = 0;
                    while v < n && {
                        let suffix = &triplets[n - v - 1..];
                        let c = suffix.iter().filter(|&&t| t == suffix[0]).count() as u64;
                        c * 10 <= 2 * level
                    } {
                        v += 1;
                    }
                    for l in v + 1..=n {
                        let span = l as u64 - 1;
                        let r = repeats(&triplets[n - l..]);
                        if r * 10 <= level * span {
                            continue;
                        }
                        let start = window_start + (n - l) as u64;
                        let best = pending
                            .iter()
                            .filter(|q| q.0 >= start)
                            .map(|q| (q.2, q.3))
                            .reduce(|a, b| if b.0 * a.1 > a.0 * b.1 { b } else { a });
                        if best.is_none_or(|(br, bs)| r * bs >= br * span) {
                            pending.push((start, p as u64 + 1, r, span));
                        }
                    }
                }
                continue;
            }
            // An ambiguous base or the end: report the rest as the window would while
            // sliding on, then start a new run after it.
            let run = (p - run_start) as u64;
            let mut start = run_start as u64 + 1 + (run + 1).saturating_sub(window as u64);
            while let Some(first) = pending.iter().map(|q| q.0).min() {
                start = (start + 1).max(first + 1);
                report(&mut pending, &mut out, start);
            }
            run_start = p + 1;
        }
        out
    }

    /// Sequences rich in what the fast paths special-case: long homopolymers,
    /// microsatellites of unit lengths 1 to 8, random stretches, runs of N and of the
    /// other IUPAC codes (either case), and lowercase.
    fn repeat_rich(pieces: &[(u8, u16, u64)]) -> Vec<u8> {
        let mut seq = Vec::new();
        for &(kind, len, seed) in pieces {
            let len = len as usize;
            let mut x = seed | 1;
            let mut next = move || {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x
            };
            match kind % 5 {
                0 => seq.extend(std::iter::repeat_n(b"ACGT"[(seed % 4) as usize], len)),
                1 | 2 => {
                    let unit: Vec<u8> = (0..1 + seed as usize % 8)
                        .map(|_| b"ACGT"[(next() >> 60) as usize & 3])
                        .collect();
                    seq.extend(unit.iter().cycle().take(len));
                }
                3 => seq.extend((0..len).map(|_| b"AATTACGT"[(next() >> 61) as usize])),
                _ => seq.extend(
                    (0..1 + len % 4).map(|i| b"NNRYKMSWBDHVnryu"[(seed as usize + i) % 16]),
                ),
            }
            if kind >= 200 {
                let from = seq.len().saturating_sub(len);
                seq[from..].make_ascii_lowercase();
            }
        }
        seq
    }

    #[test]
    fn matches_the_reference_on_long_repeats_and_large_windows() {
        // Long homopolymers and microsatellites under windows wider than 64 (several
        // live-bit words, more than 255 copies of a triplet in one scan).
        let mut seq = b"ACGTTGCAAGCTTAGCCATGGTACCG".to_vec();
        seq.extend(std::iter::repeat_n(b'A', 700));
        seq.extend(b"CAT".iter().cycle().take(500));
        seq.extend(b"GATTACA");
        seq.extend(b"TA".iter().cycle().take(300));
        seq.extend(b"NN");
        seq.extend(b"ACGTTAGGC".iter().cycle().take(400));
        for (window, level) in [(64, 20), (65, 20), (100, 20), (300, 20), (300, 35), (4, 20)] {
            assert_eq!(
                sdust(&seq, DustOptions { window, level }).unwrap(),
                reference_sdust(&seq, window, level as u64),
                "window {window} level {level}"
            );
        }
    }

    /// Masks `seq` pushed in chunks of `chunk` bytes with the quiet loops on or off.
    fn sdust_pushed(seq: &[u8], o: DustOptions, chunk: usize, quiet: bool) -> Vec<(u64, u64)> {
        let mut m = Sdust::new(o).unwrap();
        if !quiet {
            m = m.without_quiet_loops();
        }
        for piece in seq.chunks(chunk.max(1)) {
            m.push_letters(piece).unwrap();
        }
        m.finish()
    }

    /// The levels at which some stretch of `seq` (no ambiguous base, at most `window`
    /// bases, at least two triplets) scores exactly at the threshold: `10 r = T (l - 1)`
    /// for its `l` triplets and `r` repeats. Sequences masked at these levels exercise
    /// every "above the threshold" test at equality.
    fn exact_levels(seq: &[u8], window: usize) -> Vec<u32> {
        let codes: Vec<u8> = seq.iter().map(|&b| LETTER_CLASS[b as usize]).collect();
        let mut levels = Vec::new();
        for start in 0..codes.len() {
            let mut counts = [0u64; 64];
            let mut repeats = 0u64;
            for end in start + 3..=codes.len().min(start + window) {
                if codes[end - 3..end].iter().any(|&c| c >= AMBIGUOUS) {
                    break;
                }
                let t = (codes[end - 3] as usize) << 4
                    | (codes[end - 2] as usize) << 2
                    | codes[end - 1] as usize;
                repeats += counts[t];
                counts[t] += 1;
                let span = (end - start - 3) as u64;
                if span > 0 && (10 * repeats) % span == 0 {
                    levels.push((10 * repeats / span) as u32);
                }
            }
        }
        levels.sort_unstable();
        levels.dedup();
        levels
    }

    #[test]
    fn block_encoding_equals_the_letter_classes() {
        // Every byte value at several offsets of a block, after any previous triplet:
        // the encoder stops exactly before a byte that is not a base and otherwise
        // writes the triplets the class table gives.
        let bases: Vec<u8> = (0..BLOCK).map(|i| b"ACGTacgtTTGCA"[i * 7 % 13]).collect();
        for kind in [Input::Letters, Input::LettersLenient, Input::Codes] {
            for byte in 0..=255u8 {
                for at in [0, 1, 15, 16, 17, 100, BLOCK - 1] {
                    let mut input = bases.clone();
                    if matches!(kind, Input::Codes) {
                        input
                            .iter_mut()
                            .for_each(|b| *b = LETTER_CLASS[*b as usize]);
                    }
                    input[at] = byte;
                    let class = |x: u8| match kind {
                        Input::Codes => x,
                        _ => LETTER_CLASS[x as usize],
                    };
                    for last in [0usize, 27, 63] {
                        let mut out = vec![0xEEu8; BLOCK];
                        let m = encode_block(kind, &input, last, &mut out);
                        let valid = input.iter().position(|&x| class(x) > 3).unwrap_or(BLOCK);
                        assert_eq!(m, valid, "{kind:?} byte {byte} at {at}");
                        let mut t = last;
                        for (j, &x) in input[..m].iter().enumerate() {
                            t = (t << 2 | class(x) as usize) & 63;
                            assert_eq!(out[j] as usize, t, "{kind:?} byte {byte} at {at}");
                        }
                        assert!(out[m..].iter().all(|&b| b == 0xEE));
                    }
                }
            }
        }
    }

    #[test]
    fn long_sequences_cross_block_and_buffer_boundaries() {
        // Long enough for the triplet buffer to move the window to its front many times,
        // pushed in chunks around the block size, under windows 4..=100.
        let mut seq = Vec::new();
        let mut x = 99u64;
        while seq.len() < 6_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = 1 + (x >> 50) as usize % 90;
            match x % 6 {
                0 => seq.extend(std::iter::repeat_n(b"ACGT"[(x >> 8) as usize % 4], len)),
                1 => seq.extend(b"CA".iter().cycle().take(len)),
                2 => seq.extend(b"GATTA".iter().cycle().take(len)),
                3 => seq.push(b'N'),
                4 => seq.extend(b"acgtta".iter().cycle().take(len)),
                _ => seq.extend((0..len).map(|i| b"ACGT"[((x >> (i % 60)) & 3) as usize])),
            }
        }
        for window in [4, 5, 17, 33, 64, 65, 100] {
            let o = DustOptions { window, level: 20 };
            let want = reference_sdust(&seq, window, 20);
            for chunk in [1, 255, 256, 257, 1000, seq.len()] {
                assert_eq!(
                    sdust_pushed(&seq, o, chunk, true),
                    want,
                    "window {window} chunk {chunk}"
                );
            }
            assert_eq!(sdust_pushed(&seq, o, 300, false), want, "window {window}");
        }
    }

    /// Masks with the carried suffix repeat counts turned off (see `without_carry`).
    fn sdust_uncarried(seq: &[u8], o: DustOptions) -> Vec<(u64, u64)> {
        let mut m = Sdust::new(o).unwrap().without_carry();
        m.push_letters(seq).unwrap();
        m.finish()
    }

    #[test]
    fn carried_counts_equal_the_reference_on_long_runs() {
        // Long homopolymers, tandem repeats of unit lengths 1 to 9, a repeat that drifts
        // (one substitution per copy), N runs inside low-complexity runs, lowercase.
        let mut seq = b"ACGTTGCAAGCTTAGCCATGGTACCG".to_vec();
        for unit in [
            &b"A"[..],
            b"TA",
            b"CAT",
            b"GATA",
            b"TTAGG",
            b"AATTAC",
            b"ACGTTGC",
            b"AATTGGCC",
            b"AGATTACAT",
        ] {
            seq.extend(unit.iter().cycle().take(150 + 7 * unit.len()));
            seq.extend(b"GCTTAGCCATGGTACCGATCG");
        }
        for copy in 0..40 {
            let mut unit = *b"ATTAGAC";
            unit[copy % 7] = b"ACGT"[copy % 4];
            seq.extend(unit);
        }
        seq.extend(b"AT".iter().cycle().take(90));
        seq.extend(b"NNNNN");
        seq.extend(b"AT".iter().cycle().take(90));
        seq.push(b'R');
        seq.extend(b"tttttttttttttttttttttttttttttttttcacacacacacacacacacacacaca");
        seq.extend(b"TTTTTTTTTTTTTTTTTTTTTTTTTTTTT");
        for window in [4, 5, 9, 16, 31, 33, 63, 64] {
            for level in [0, 1, 5, 10, 19, 20, 21, 40, 64, 200, 1000] {
                let o = DustOptions { window, level };
                let want = reference_sdust(&seq, window, level as u64);
                assert_eq!(
                    sdust(&seq, o).unwrap(),
                    want,
                    "window {window} level {level}"
                );
                assert_eq!(
                    sdust_uncarried(&seq, o),
                    want,
                    "window {window} level {level}"
                );
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// Carrying the suffix repeat counts from base to base (windows up to 64) changes
        /// no interval: long low-complexity runs of several unit lengths, N runs and
        /// lowercase, any level, and one masker reused across records.
        #[test]
        fn carried_counts_equal_the_count_table_scan(
            records in proptest::collection::vec(
                proptest::collection::vec((any::<u8>(), 1u16..400, any::<u64>()), 0..16),
                1..4),
            window in 4usize..=64,
            level in prop::sample::select(vec![0u32, 1, 7, 10, 20, 30, 64, 100, 500]),
        ) {
            let o = DustOptions { window, level };
            let mut m = Sdust::new(o).unwrap();
            for pieces in &records {
                let seq = repeat_rich(pieces);
                let want = sdust_uncarried(&seq, o);
                m.push_letters(&seq).unwrap();
                prop_assert_eq!(&m.finish(), &want);
                prop_assert_eq!(&sdust_chunked(&seq, o, 1 + seq.len() / 3, 2).unwrap(), &want);
            }
        }

        /// The quiet loops (nothing pending: fill, slide with `v` spanning the window or
        /// not) equal the general per-base step and the reference, at levels where some
        /// stretch scores exactly at the threshold, under every window from 4 to 64 and
        /// some wider, for one sequence pushed in chunks around the block size.
        #[test]
        fn quiet_loops_equal_the_reference_at_exact_thresholds(
            pieces in proptest::collection::vec((any::<u8>(), 1u16..120, any::<u64>()), 1..12),
            window in prop::sample::select((4usize..=64).chain([65, 70, 100]).collect::<Vec<_>>()),
            pick in any::<prop::sample::Index>(),
            shift in 0u32..3,
            chunk in prop::sample::select(vec![1usize, 7, 255, 256, 257, 1000]),
        ) {
            let seq = repeat_rich(&pieces);
            let levels = exact_levels(&seq, window);
            // An exact level, or one just above it (the same stretch then just misses).
            let level = if levels.is_empty() { 20 } else { levels[pick.index(levels.len())] + shift.min(1) };
            let o = DustOptions { window, level };
            let want = reference_sdust(&seq, window, level as u64);
            prop_assert_eq!(&sdust_pushed(&seq, o, chunk, true), &want);
            prop_assert_eq!(&sdust_pushed(&seq, o, chunk, false), &want);
        }

        /// Short reads (0 to 200 bases, as in FASTQ batches) through one reused masker:
        /// each equals the reference, with the quiet loops on and off, under every window
        /// from 4 to 64 (most reads shorter than or about the window).
        #[test]
        fn short_reads_equal_the_reference(
            reads in proptest::collection::vec(
                proptest::collection::vec((any::<u8>(), 1u16..60, any::<u64>()), 0..5), 1..16),
            window in 4usize..=64,
            level in prop::sample::select(vec![0u32, 1, 10, 19, 20, 21, 30, 40]),
        ) {
            let o = DustOptions { window, level };
            let mut fast = Sdust::new(o).unwrap();
            let mut general = Sdust::new(o).unwrap().without_quiet_loops();
            let (mut a, mut b) = (Vec::new(), Vec::new());
            for pieces in &reads {
                let mut read = repeat_rich(pieces);
                read.truncate(200);
                let want = reference_sdust(&read, window, level as u64);
                a.clear();
                b.clear();
                fast.push_letters(&read).unwrap();
                fast.finish_into(&mut a);
                general.push_letters(&read).unwrap();
                general.finish_into(&mut b);
                prop_assert_eq!(&a, &want);
                prop_assert_eq!(&b, &want);
            }
        }

        /// Chunking and settling never change the intervals; intervals are sorted,
        /// disjoint, non-touching, inside the sequence and free of ambiguous bases.
        #[test]
        fn chunking_invariance_and_interval_invariants(
            pieces in proptest::collection::vec(
                (prop::sample::select(vec![&b"A"[..], b"CA", b"GAT", b"ACGT", b"N", b"acg", b"TTAGGG"]), 1usize..30),
                0..20),
            cuts in proptest::collection::vec(0usize..2000, 0..8),
            window in 4usize..80,
            level in 0u32..60,
            chunk in 1usize..400,
        ) {
            let seq: Vec<u8> = pieces.iter().flat_map(|(p, n)| p.iter().copied().cycle().take(p.len() * n)).collect();
            let o = DustOptions { window, level };
            let want = sdust(&seq, o).unwrap();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(seq.len())).collect();
            cuts.sort_unstable();
            let mut m = Sdust::new(o).unwrap();
            let mut got = Vec::new();
            let mut prev = 0;
            for &c in &cuts {
                m.push_letters(&seq[prev..c]).unwrap();
                got.extend(m.take_settled());
                prev = c;
            }
            m.push_letters(&seq[prev..]).unwrap();
            got.extend(m.finish());
            prop_assert_eq!(&got, &want);
            for w in want.windows(2) {
                prop_assert!(w[0].1 < w[1].0, "{:?}", w);
            }
            for &(s, e) in &want {
                prop_assert!(s < e && e as usize <= seq.len());
                prop_assert!(seq[s as usize..e as usize].iter().all(|&b| LETTER_CLASS[b as usize] < AMBIGUOUS));
            }
            let codes = crate::genomic::dna::encode(&seq).unwrap();
            prop_assert_eq!(sdust_codes(&codes, o).unwrap(), want.clone());
            prop_assert_eq!(sdust_chunked(&seq, o, chunk, 1).unwrap(), want);

        }

        /// The fast masker equals the slow reference on repeat-rich sequences, under
        /// windows below, at and above 64 bases, and at any chunking of a parallel run.
        #[test]
        fn equals_reference_on_repeat_rich_sequences(
            pieces in proptest::collection::vec((any::<u8>(), 1u16..160, any::<u64>()), 0..24),
            window in prop::sample::select(vec![4usize, 5, 9, 31, 63, 64, 65, 100, 129]),
            level in prop::sample::select(vec![0u32, 1, 10, 19, 20, 21, 40, 64]),
            chunk in 1usize..700,
        ) {
            let seq = repeat_rich(&pieces);
            let o = DustOptions { window, level };
            let want = reference_sdust(&seq, window, level as u64);
            prop_assert_eq!(&sdust(&seq, o).unwrap(), &want);
            prop_assert_eq!(&sdust_chunked(&seq, o, chunk, 2).unwrap(), &want);
        }

        /// One masker reused for many short records (as the read batches use it, with
        /// `finish_into` appending to one buffer) gives each record the reference's
        /// intervals, whatever the previous records left behind, also after a `reset`
        /// in the middle of a low-complexity run (pending intervals still live).
        #[test]
        fn reused_masker_equals_reference_per_record(
            records in proptest::collection::vec(
                proptest::collection::vec((any::<u8>(), 1u16..90, any::<u64>()), 0..5),
                1..12),
            window in prop::sample::select(vec![4usize, 9, 64, 65, 100]),
            level in prop::sample::select(vec![0u32, 10, 20, 33]),
        ) {
            let o = DustOptions { window, level };
            let mut m = Sdust::new(o).unwrap();
            let mut out = vec![(7, 7)];
            for (i, pieces) in records.iter().enumerate() {
                let seq = repeat_rich(pieces);
                if i % 2 == 1 {
                    m.push_letters(&b"CACACACACATTTTTTTTTTTTTTTTTTTTTTTTTTTTTT"[..10 + i % 30]).unwrap();
                    m.reset();
                }
                let from = out.len();
                m.push_letters(&seq).unwrap();
                m.finish_into(&mut out);
                prop_assert_eq!(&out[from..], &reference_sdust(&seq, window, level as u64)[..]);
            }
            prop_assert_eq!(out[0], (7, 7));
        }

        /// Arbitrary bytes: the lenient masker never panics and keeps the invariants; the
        /// strict one fails exactly at the first non-nucleotide byte.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600), level in 0u32..40) {
            let o = DustOptions { window: 64, level };
            let mut m = Sdust::new(o).unwrap();
            m.push_letters_lenient(&bytes);
            let got = m.finish();
            for &(s, e) in &got {
                prop_assert!(s < e && e as usize <= bytes.len());
            }
            match sdust(&bytes, o) {
                Ok(_) => prop_assert!(crate::genomic::dna::first_invalid(&bytes).is_none()),
                Err(e) => prop_assert_eq!(
                    e.kind(),
                    ErrorKind::InvalidSequence { position: crate::genomic::dna::first_invalid(&bytes).unwrap() as u64 }
                ),
            }
        }
    }
}
