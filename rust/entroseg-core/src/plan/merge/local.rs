//! The exchange algorithm without a sort or a heap: takes made where they are local
//! maxima, in linear time, with the same result as the global order.
//!
//! # The exchange algorithm, as the plan defines it
//!
//! Nodes form a chain (at first one per pair, in pair order). A node is *takeable* when
//! its value is finite (a count target) or finite and `> 0` (a threshold target, values
//! already less the threshold). Nodes are totally ordered by *rank*: larger
//! [`sortable`] key first, then the leftmost node (the node keeps the index of the pair
//! it started from, and the chain keeps index order). The reference repeatedly *takes*
//! the highest-ranked takeable node `i` with neighbours `l`, `r`: it flips the pairs of
//! `i`'s interval, then replaces `l, i, r` by one node at `i`'s index, worth
//! `fl(fl(v_l + v_r) - v_i)` (`-inf` when a neighbour is missing), covering the three
//! intervals. A count target keeps the first `r` takes, a threshold target stops at the
//! first node `<= 0`. ([`super::PairSelector`] is that reference with a sorted array
//! and a heap; the tests hold a one-heap form.)
//!
//! # The local form
//!
//! Call a takeable node *ready* when it outranks every takeable node within two places
//! of it in the chain (nodes that are not takeable do not count). This module takes
//! ready nodes in any order until none is left, and checks at each take the **guard**:
//! when the new node is takeable, it ranks below both nodes it absorbed
//! (`key(new) <= key(l)`: the new node has the larger index, so it ranks below `l` on
//! an equal key; and `key(new) < key(r)`). In exact arithmetic the guard always holds
//! (`l + r - i <= min(l, r)` as `l, r <= i`, with equality with `r` only when `v_l = v_i`,
//! and then `l` outranks `i`, which is not ready); in floating point a rounding may
//! break it, and then the caller falls back to the reference (nothing is decided here).
//! NaN or `+inf` values also fall back.
//!
//! **Claim.** If a complete local run from a chain `S` passes the guard at every take,
//! then the reference's complete run from `S` (taking until no takeable node is left)
//! makes the same takes: the same nodes with the same neighbours, values and intervals,
//! in decreasing rank. Hence its first `r` takes are the `r` highest-ranked takes of the
//! local run, and its takes above 0 are the local run's takes of a threshold target
//! (whose takeable nodes are exactly those above 0).
//!
//! **Proof,** by induction on the chain's length. Let `t` be the highest-ranked
//! takeable node of `S` (the reference's first take). `t` is ready in `S` and stays
//! ready until the local run takes it: nothing within two places of `t` outranks it,
//! a node within one place of `t` changes only by a take within two places (which
//! would need a node there outranking `t`, or `t` itself), and a take at distance
//! three or more replaces nodes within two places of `t` by one node that ranks below
//! each node it absorbed (the guard), so below `t`. The local run ends with no ready
//! node, so it takes `t`, with the same neighbours and intervals as in `S`, so the same
//! new value. Every take `x` it made before `t` was ready, hence at distance three or
//! more from `t` (`t` outranks it): `x` and `t` touch disjoint nodes (`x`'s neighbours
//! are at distance two or more from `t`, `t`'s within one), so taking `t` first and
//! then those takes gives the same values, intervals and final chain; and each such
//! `x` is still ready after `t` is taken first (`t`'s new node ranks below every node it
//! absorbed, so it cannot outrank `x` where those stood, and the nodes it brings
//! nearer were already within `x`'s reach or ranked below the absorbed ones). So the
//! local run is `t` followed by a complete local run from `S·t` passing the guard, and
//! by induction that run makes the reference's takes from `S·t`; the reference from `S`
//! is `t` followed by the reference from `S·t`. The reference's takes come in
//! decreasing rank: each new node ranks below the node taken (below `l`, which ranks
//! below `i`; or not takeable), and the others were already below it. ∎
//!
//! A count target keeps the `r` highest-ranked takes (distinct: a node index taken
//! twice ranks lower the second time), found by selection, not sorting; every take is
//! kept on a threshold target. The chosen pairs are the parity of the kept takes'
//! intervals, as in the reference.
//!
//! # A floor for counts
//!
//! A count `r` keeps only the `r` highest-ranked takes, yet a complete run takes about
//! half the nodes. With a *floor* `F` (a key), the run first counts as takeable only
//! the nodes whose key is above `F`. Those form a top segment of the rank order, and
//! the claim holds for any such takeability (the proof only uses that a takeable node
//! outranks every node that is not), so this run makes exactly the reference's takes
//! above `F`. When there are at least `r` of them, they hold the reference's first
//! `r`. Otherwise the run goes on with the floor removed, from the chain it left:
//! every take it made was ready under `F`, so it was ready without the floor too (the
//! nodes that become takeable rank below `F`, below it), and the two parts together
//! are one local run over every takeable node, which the claim covers. The guard is
//! checked on every new node that is takeable without the floor, so no take escapes it.
//! The floor only changes the work: the planner passes the key of the take ranked a
//! little past the count in the previous block's same level.
//!
//! The run: a cursor walks the chain left to right, keeping every node left of it not
//! ready; it passes a node that is not ready and takes one that is. A take changes the
//! two-place neighbourhood of only the new node and the two nodes on each side of it,
//! so the cursor steps back to the leftmost of those. Each take removes at least one
//! node and steps back at most two, so the run makes at most `m` takes and `O(m)`
//! steps; it ends at the chain's end with no ready node.

use super::{sortable, Target};

/// Index of the sentinel node (before the first and after the last): never takeable.
#[inline]
fn sentinel(m: usize) -> u32 {
    m as u32
}

/// One take: the node's rank key and index, and the interval of pairs it flips.
#[derive(Clone, Copy)]
struct Take {
    key: u64,
    node: u32,
    lo: u32,
    hi: u32,
}

impl Take {
    /// The rank as one integer: larger key, then the leftmost node, is larger.
    #[inline]
    fn rank(&self) -> u128 {
        (u128::from(self.key) << 32) | u128::from(u32::MAX - self.node)
    }
}

/// Reusable buffers of the local exchange algorithm.
#[derive(Default)]
pub(super) struct LocalSelector {
    /// Rank key of each node ([`sortable`] of its value), 0 when not takeable (every
    /// takeable key is at least 1); one more entry for the sentinel.
    key: Vec<u64>,
    value: Vec<f64>,
    prev: Vec<u32>,
    next: Vec<u32>,
    lo: Vec<u32>,
    hi: Vec<u32>,
    takes: Vec<Take>,
    ranks: Vec<u128>,
    toggle: Vec<u8>,
}

impl LocalSelector {
    /// The reference's selection (see the module documentation), or `None` when a value
    /// is NaN or `+inf` or a rounding breaks the guard: then the caller runs the
    /// reference. `chosen` holds one `false` per value; returns the pairs chosen.
    ///
    /// `floor` speeds a count up (it never changes the result): the run first takes
    /// only nodes whose key is above it, and only when those are fewer than the count
    /// does it go on over every takeable node (see "A floor for counts" in the module
    /// documentation). It is updated to a key that would have left a little more than
    /// the count's takes above it, for the next chain of the same kind.
    pub(super) fn select(
        &mut self,
        values: &[f64],
        target: Target,
        chosen: &mut [bool],
        floor: &mut u64,
    ) -> Option<usize> {
        let m = values.len();
        debug_assert!(m < u32::MAX as usize);
        let positive = matches!(target, Target::Positive);
        let takeable = |v: f64| {
            if positive {
                v > 0.0 && v < f64::INFINITY
            } else {
                v.is_finite()
            }
        };
        let s = sentinel(m);
        // NaN and `+inf` decline; then every value is takeable exactly when it is
        // finite (a count) or `> 0` and finite (a threshold): one loop per target, no
        // branch per value.
        if values.iter().any(|&v| v.is_nan() || v == f64::INFINITY) {
            return None;
        }
        self.key.clear();
        self.key.resize(m, 0);
        let lowest = if positive { 0.0 } else { f64::NEG_INFINITY };
        for (k, &v) in self.key.iter_mut().zip(values) {
            *k = if v > lowest { sortable(v) } else { 0 };
        }
        self.key.push(0);
        self.value.clear();
        self.value.extend_from_slice(values);
        self.value.push(f64::NEG_INFINITY);
        self.prev.clear();
        self.prev
            .extend((0..=m as u32).map(|i| if i == 0 || i == s { s } else { i - 1 }));
        self.next.clear();
        self.next.extend((1..=m as u32 + 1).map(|i| i.min(s)));
        self.lo.clear();
        self.lo.extend(0..m as u32);
        self.hi.clear();
        self.hi.extend(0..m as u32);
        self.takes.clear();
        // A cursor walks the chain: every node left of it is not ready. A node that is
        // not ready is passed; after a take, the cursor steps back to the leftmost node
        // whose two-place neighbourhood changed (two places left of the new node).
        let mut cursor = if m == 0 { s } else { 0 };
        // The first node of the chain, where a run over a lower floor starts again.
        let mut head = cursor;
        let mut above = match target {
            Target::Count(_) => *floor,
            Target::Positive => 0,
        };
        loop {
            if cursor == s {
                match target {
                    Target::Count(r) if above > 0 && self.takes.len() < r => {
                        // Too few takes above the floor: on over every takeable node.
                        above = 0;
                        cursor = head;
                        continue;
                    }
                    _ => break,
                }
            }
            let i = cursor as usize;
            if !self.is_ready(i, above) {
                cursor = self.next[i];
                continue;
            }
            let (l, r) = (self.prev[i] as usize, self.next[i] as usize);
            self.takes.push(Take {
                key: self.key[i],
                node: i as u32,
                lo: self.lo[i],
                hi: self.hi[i],
            });
            let (vl, vr) = (self.value[l], self.value[r]);
            let regret = if l as u32 != s && r as u32 != s {
                vl + vr - self.value[i]
            } else {
                f64::NEG_INFINITY
            };
            if l as u32 != s {
                self.lo[i] = self.lo[l];
                let pl = self.prev[l];
                self.prev[i] = pl;
                if pl != s {
                    self.next[pl as usize] = i as u32;
                }
            }
            if r as u32 != s {
                self.hi[i] = self.hi[r];
                let nr = self.next[r];
                self.next[i] = nr;
                if nr != s {
                    self.prev[nr as usize] = i as u32;
                }
            }
            self.value[i] = regret;
            self.key[i] = if takeable(regret) {
                let k = sortable(regret);
                // The guard (both neighbours exist: the regret is finite).
                if !(k <= sortable(vl) && k < sortable(vr)) {
                    return None;
                }
                k
            } else {
                0
            };
            // Back to the leftmost node whose two-place neighbourhood changed.
            let p1 = self.prev[i];
            cursor = if p1 == s {
                head = i as u32;
                i as u32
            } else {
                let p2 = self.prev[p1 as usize];
                if p2 == s {
                    p1
                } else {
                    p2
                }
            };
        }
        // The takes the reference keeps: all of a threshold's; of a count `r`, those
        // ranked at least as high as the `r`-th (ranks are distinct: found by a
        // selection on packed ranks, not a sort).
        self.toggle.clear();
        self.toggle.resize(m + 1, 0);
        let keep = match target {
            Target::Positive => self.takes.len(),
            Target::Count(r) => r.min(self.takes.len()),
        };
        // The ranks ranked highest: every take's, or after the floor's selection below
        // only the `past` best (which hold the `keep` best, `keep < past`).
        let mut top = self.takes.len();
        self.ranks.clear();
        if let Target::Count(_) = target {
            // The next floor: the key of the take ranked a little past the count, or
            // none when the run had barely enough (or too few) takes.
            let past = keep + keep / 8 + 2;
            if past < self.takes.len() {
                self.ranks.extend(self.takes.iter().map(Take::rank));
                let (_, nth, _) = self.ranks.select_nth_unstable_by(past, |a, b| b.cmp(a));
                *floor = (*nth >> 32) as u64;
                top = past;
            } else if above == 0 {
                *floor = 0;
            }
        }
        let bar = if keep < self.takes.len() && keep > 0 {
            if self.ranks.is_empty() {
                self.ranks.extend(self.takes.iter().map(Take::rank));
            }
            let (_, nth, _) = self.ranks[..top].select_nth_unstable_by(keep - 1, |a, b| b.cmp(a));
            *nth
        } else if keep == 0 {
            u128::MAX
        } else {
            0
        };
        for t in &self.takes {
            if t.rank() >= bar {
                self.toggle[t.lo as usize] ^= 1;
                self.toggle[t.hi as usize + 1] ^= 1;
            }
        }
        let mut state = 0u8;
        let mut count = 0;
        for (c, t) in chosen.iter_mut().zip(&self.toggle) {
            state ^= t;
            *c = state == 1;
            count += state as usize;
        }
        debug_assert_eq!(count, keep);
        Some(count)
    }

    /// Takeable with a key above `above` (0: any takeable node), and outranks every
    /// takeable node within two places (a left node must
    /// have a smaller key, a right node may tie; the sentinel's key is 0).
    #[inline]
    fn is_ready(&self, i: usize, above: u64) -> bool {
        let k = self.key[i];
        if k <= above {
            return false;
        }
        let p1 = self.prev[i] as usize;
        let n1 = self.next[i] as usize;
        // Evaluated without short cuts: one branch on the outcome.
        (k > self.key[p1])
            & (k >= self.key[n1])
            & (k > self.key[self.prev[p1] as usize])
            & (k >= self.key[self.next[n1] as usize])
    }
}
