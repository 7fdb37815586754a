//! The sorted form of a count selection without touching every pair's state.
//!
//! A count `r` of a few percent of the pairs (ToMe's `r = block / 16`) takes `r` nodes
//! of a chain of `m`; the sorted form ([`super::PairSelector::select_chain`]) prepares
//! the whole chain for that (seven arrays of `m` entries), finds the `3r`-th best pair by
//! a selection over `m` entries and reads the chosen pairs back by a toggle array of
//! `m + 1` entries. This form makes the same takes, in the same order, with work that
//! grows with `r` past two linear passes over the values:
//!
//! - **Candidates by a sampled bar.** The takes only reach the `3r` best original
//!   pairs (see [`super::PairSelector::order_candidates`]): at the `j`-th take at most
//!   `3 (j - 1)` of them are gone. More generally, a candidate list that holds every
//!   pair ranked at least as high as its last one, best first, makes the same takes as
//!   long as the run never needs a pair past its end: the head of the list, once the
//!   absorbed and taken pairs are skipped, is then the best live original pair of the
//!   whole chain. So the first list is cut at a key from a small sorted sample of the
//!   values, a little below where the `1.5 r`-th key is expected (one branch-free
//!   pass), and a run that reaches the end of that list declines; the selection then
//!   starts again from every pair ranked at least as high as the exact `3r`-th, which
//!   always suffices. Chains shorter than `4 * SAMPLE` pairs start from the exact bar.
//! - **State only where a take wrote it.** Each node's state (value, neighbours,
//!   interval, alive, fresh) lives in an array whose entries count only when stamped
//!   with the current selection's epoch; an unstamped node is in its starting state
//!   (its own value, neighbours `i - 1` and `i + 1`, interval `[i, i]`), computed on
//!   read. Nothing is cleared between selections.
//! - **Chosen pairs from the takes' interval ends.** Each take flips the pairs of its
//!   interval `[lo, hi]`; the chosen pairs are those flipped an odd number of times,
//!   that is the ranges between the 1st and 2nd, 3rd and 4th, ... of the sorted ends
//!   `lo` and `hi + 1`.
//!
//! NaN and `+inf` values decline (the caller runs the sorted form, which has its own
//! rules for them).

use std::collections::BinaryHeap;

use super::{sortable, Entry, NONE};

/// One node of the exchange chain.
#[derive(Clone, Copy, Default)]
struct Node {
    value: f64,
    prev: u32,
    next: u32,
    lo: u32,
    hi: u32,
    alive: bool,
    fresh: bool,
}

/// Values sampled to place the candidates' bar.
const SAMPLE: usize = 64;

/// A pair's rank as one integer (larger key, then the leftmost pair, is larger): the
/// order of [`Entry`].
#[inline]
fn rank(key: u64, node: u32) -> u128 {
    (u128::from(key) << 32) | u128::from(u32::MAX - node)
}

/// The node of a rank.
#[inline]
fn node_of(rank: u128) -> u32 {
    u32::MAX - rank as u32
}

/// Reusable buffers of the sparse sorted form.
#[derive(Default)]
pub(super) struct SparseSelector {
    /// The candidates' ranks, complemented (ascending order is best first).
    ranks: Vec<u128>,
    /// The candidates' pairs while collecting (room for every pair).
    picked: Vec<u32>,
    sample: Vec<u64>,
    heap: Vec<Entry>,
    /// A node's entry in `nodes` holds its state when its stamp is `epoch`.
    stamp: Vec<u32>,
    nodes: Vec<Node>,
    epoch: u32,
    /// The takes' interval ends (`lo`, `hi + 1`).
    ends: Vec<u32>,
}

impl SparseSelector {
    /// The sorted form's selection of `r` pairs among `values` (`chosen` all false, one
    /// entry per value), or `None` when a value is NaN or `+inf`.
    pub(super) fn select(
        &mut self,
        values: &[f64],
        r: usize,
        chosen: &mut [bool],
    ) -> Option<usize> {
        let m = values.len();
        debug_assert!(m < u32::MAX as usize && chosen.len() == m);
        if m == 0 || r == 0 {
            return Some(0);
        }
        // First from a bar placed near the `1.5 r`-th key: enough for most runs, which
        // decline when they reach the end of an incomplete candidate list.
        // (Short chains go to the exact bar at once: a sample would place it no better
        // than every pair, which costs a longer sort than the selection saves.)
        if let Some(bar) = self.sampled_bar(values, r.saturating_mul(3) / 2) {
            if self.collect(values, bar) {
                return None;
            }
            // A bar at or below every finite key keeps every takeable pair.
            let complete = bar <= Self::lowest();
            if let Some(count) = self.run(values, r, chosen, complete) {
                return Some(count);
            }
        }
        // Then from every pair ranked at least as high as the `3r`-th.
        let need = r.saturating_mul(3);
        self.sample.clear();
        self.sample.extend(
            values
                .iter()
                .filter(|&&v| v > f64::NEG_INFINITY)
                .map(|&v| sortable(v)),
        );
        let bar = if need < self.sample.len() {
            let (_, nth, _) = self
                .sample
                .select_nth_unstable_by(need - 1, |a, b| b.cmp(a));
            *nth
        } else {
            Self::lowest()
        };
        if self.collect(values, bar) {
            return None;
        }
        self.run(values, r, chosen, true)
    }

    /// The lowest key of a finite value (`-inf` ranks below it).
    #[inline]
    fn lowest() -> u64 {
        sortable(f64::NEG_INFINITY) + 1
    }

    /// A key a little below the `want`-th largest key as a sample of the values places
    /// it; `None` for short chains.
    fn sampled_bar(&mut self, values: &[f64], want: usize) -> Option<u64> {
        let m = values.len();
        if m < 4 * SAMPLE || want >= m {
            return None;
        }
        self.sample.clear();
        self.sample.extend((0..SAMPLE).map(|j| {
            let v = values.get(j * m / SAMPLE + m / (2 * SAMPLE)).copied();
            v.map_or(0, sortable)
        }));
        self.sample.sort_unstable_by(|a, b| b.cmp(a));
        // Expected position of the `want`-th key in the sample, with a margin.
        let at = (want * SAMPLE * 9 / 8) / m + 2;
        Some(
            self.sample
                .get(at)
                .copied()
                .unwrap_or(0)
                .max(Self::lowest()),
        )
    }

    /// The ranks of the pairs whose key is at least `bar` (at least [`Self::lowest`]:
    /// finite values) into `ranks`; returns whether a value is NaN or `+inf`.
    fn collect(&mut self, values: &[f64], bar: u64) -> bool {
        let m = values.len();
        if self.picked.len() < m {
            self.picked.resize(m, 0);
        }
        let bar = bar.max(Self::lowest());
        let mut count = 0;
        let mut odd = false;
        for (i, &v) in values.iter().enumerate() {
            odd |= v.is_nan() | (v == f64::INFINITY);
            // Branch-free: every pair is written, only those kept are counted.
            if let Some(slot) = self.picked.get_mut(count) {
                *slot = i as u32;
            }
            count += usize::from(sortable(v) >= bar);
        }
        self.ranks.clear();
        self.ranks.extend(self.picked[..count].iter().map(|&i| {
            let key = values.get(i as usize).map_or(0, |&v| sortable(v));
            // Stored complemented: an ascending sort puts the best first.
            !rank(key, i)
        }));
        odd
    }

    /// The exchange algorithm from the candidates in `ranks` (best first after this
    /// sorts them), keeping `r` takes; writes `chosen`, returns the pairs chosen. On an
    /// incomplete list (`complete` false) declines when it would need a pair past the
    /// list's end.
    fn run(
        &mut self,
        values: &[f64],
        r: usize,
        chosen: &mut [bool],
        complete: bool,
    ) -> Option<usize> {
        let m = values.len();
        self.ranks.sort_unstable();
        if self.stamp.len() < m {
            self.stamp.resize(m, 0);
            self.nodes.resize(m, Node::default());
        }
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.stamp.fill(0);
            self.epoch = 1;
        }
        self.ends.clear();
        let sorted = std::mem::take(&mut self.ranks);
        let mut heap = BinaryHeap::from(std::mem::take(&mut self.heap));
        let mut cursor = 0;
        let mut taken = 0usize;
        let mut declined = false;
        while taken < r {
            while let Some(&e) = sorted.get(cursor) {
                let node = self.node(node_of(!e), values);
                if node.alive && node.fresh {
                    break;
                }
                cursor += 1; // absorbed, or already taken (its value changed)
            }
            while let Some(top) = heap.peek() {
                if self.node(top.node, values).alive {
                    break;
                }
                heap.pop(); // stale: the node was absorbed by a neighbour
            }
            if cursor == sorted.len() && !complete {
                // A pair below the bar may be next.
                declined = true;
                break;
            }
            let i = match (sorted.get(cursor), heap.peek()) {
                (Some(&a), Some(b)) if !a > rank(b.key, b.node) => {
                    cursor += 1;
                    node_of(!a)
                }
                (Some(&a), None) => {
                    cursor += 1;
                    node_of(!a)
                }
                (_, Some(b)) => {
                    let i = b.node;
                    heap.pop();
                    i
                }
                (None, None) => break,
            };
            taken += 1;
            let mut node = self.node(i, values);
            node.fresh = false;
            // Taking node i flips every pair in its interval.
            self.ends.push(node.lo);
            self.ends.push(node.hi + 1);
            let (l, r) = (node.prev, node.next);
            let regret = if l != NONE && r != NONE {
                self.node(l, values).value + self.node(r, values).value - node.value
            } else {
                f64::NEG_INFINITY
            };
            if l != NONE {
                let mut left = self.node(l, values);
                left.alive = false;
                node.lo = left.lo;
                node.prev = left.prev;
                self.set(l, left);
                if node.prev != NONE {
                    let mut p = self.node(node.prev, values);
                    p.next = i;
                    self.set(node.prev, p);
                }
            }
            if r != NONE {
                let mut right = self.node(r, values);
                right.alive = false;
                node.hi = right.hi;
                node.next = right.next;
                self.set(r, right);
                if node.next != NONE {
                    let mut n = self.node(node.next, values);
                    n.prev = i;
                    self.set(node.next, n);
                }
            }
            node.value = regret;
            self.set(i, node);
            if regret.is_finite() {
                heap.push(Entry {
                    key: sortable(regret),
                    node: i,
                });
            }
        }
        self.heap = heap.into_vec();
        self.heap.clear();
        self.ranks = sorted;
        if declined {
            return None;
        }
        // A pair is chosen when an odd number of taken intervals hold it.
        self.ends.sort_unstable();
        let mut count = 0;
        for pair in self.ends.chunks_exact(2) {
            let (a, b) = (pair[0] as usize, pair[1] as usize);
            if let Some(run) = chosen.get_mut(a..b) {
                run.fill(true);
                count += b - a;
            }
        }
        debug_assert_eq!(count, taken);
        Some(count)
    }

    /// Node `i`'s state: stamped, or its starting state.
    #[inline]
    fn node(&self, i: u32, values: &[f64]) -> Node {
        let at = i as usize;
        if self.stamp.get(at) == Some(&self.epoch) {
            self.nodes[at]
        } else {
            let last = values.len() as u32 - 1;
            Node {
                value: values.get(at).copied().unwrap_or(f64::NEG_INFINITY),
                prev: if i == 0 { NONE } else { i - 1 },
                next: if i == last { NONE } else { i + 1 },
                lo: i,
                hi: i,
                alive: true,
                fresh: true,
            }
        }
    }

    #[inline]
    fn set(&mut self, i: u32, node: Node) {
        let at = i as usize;
        if let (Some(s), Some(n)) = (self.stamp.get_mut(at), self.nodes.get_mut(at)) {
            *s = self.epoch;
            *n = node;
        }
    }
}
