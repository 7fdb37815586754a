"""Slow, obviously-correct references for merge planning and rates (tests only).

Everything here is plain Python over small inputs: brute force over every set of
disjoint pairs, group statistics recomputed from the raw samples or vectors.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence


def tome_schedule(r: int, inflect: float, levels: int) -> list[int]:
    """ToMe's published linear schedule (``parse_r``), one level included."""
    lo = int(r * (1.0 - inflect))
    hi = 2 * r - lo
    if levels == 1:
        return [lo]
    step = (hi - lo) / (levels - 1)
    return [int(lo + step * i) for i in range(levels)]


def groups_from_source(source: Sequence[int]) -> list[list[int]]:
    """Units of each group, from a unit -> group map."""
    groups: list[list[int]] = []
    for unit, g in enumerate(source):
        if g == len(groups):
            groups.append([])
        groups[g].append(unit)
    return groups


def profile_similarity(a: list[list[float]], b: list[list[float]]) -> float:
    """Minus the RMS difference of the column means of two groups' sample rows."""
    cols = len(a[0])
    ma = [sum(row[c] for row in a) / len(a) for c in range(cols)]
    mb = [sum(row[c] for row in b) / len(b) for c in range(cols)]
    return -math.sqrt(sum((x - y) ** 2 for x, y in zip(ma, mb, strict=True)) / cols)


def cosine_similarity(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(y * y for y in b))
    if na == 0.0 or nb == 0.0:
        return 0.0
    return max(-1.0, min(1.0, dot / (na * nb)))


def best_pair_sets(values: Sequence[float]) -> dict[int, float]:
    """Best total of ``values`` over sets of disjoint pairs (no two adjacent indices),
    by number of pairs; ``-inf`` values are ineligible."""
    best: dict[int, float] = {0: 0.0}
    m = len(values)
    for k in range(1, m // 2 + 2):
        for combo in itertools.combinations(range(m), k):
            if any(b - a < 2 for a, b in itertools.pairwise(combo)):
                continue
            if any(values[j] == -math.inf for j in combo):
                continue
            total = sum(values[j] for j in combo)
            if total > best.get(k, -math.inf):
                best[k] = total
    return best


def kept_with_threshold(
    scores: Sequence[float], lengths: Sequence[int], factors: Sequence[int], theta: float
) -> tuple[list[int], int]:
    """Factors and kept tokens of one series under threshold ``theta``."""
    chosen = []
    for s in scores:
        ok = [f for f in factors if f * s <= theta]
        chosen.append(max(ok) if ok else min(factors))
    kept = sum(-(-n // f) for n, f in zip(lengths, chosen, strict=True))
    return chosen, kept
