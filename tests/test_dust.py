"""SDUST masks against pydustmasker (the SDUST users trust), interval for interval."""

from __future__ import annotations

import itertools

import entroseg
import numpy as np
import pydustmasker
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

# Pieces that exercise every path of the masker: random sequence, microsatellites,
# homopolymers, runs of N and other IUPAC codes, soft-masked (lowercase) stretches.
_unit = st.text(alphabet="ACGT", min_size=1, max_size=6)
_piece = st.one_of(
    st.text(alphabet="ACGT", min_size=1, max_size=80),
    st.builds(lambda u, n: (u * 60)[:n], _unit, st.integers(4, 150)),
    st.builds(lambda b, n: b * n, st.sampled_from("ACGT"), st.integers(3, 60)),
    st.builds(lambda b, n: b * n, st.sampled_from("NnRYKMSWBDHVU"), st.integers(1, 8)),
    st.text(alphabet="acgt", min_size=1, max_size=40),
    st.builds(lambda u, n: (u * 40)[:n].lower(), _unit, st.integers(4, 80)),
)
sequences = st.lists(_piece, min_size=0, max_size=25).map("".join)


def peer(seq: str, window: int = 64, level: int = 20) -> list[list[int]]:
    """pydustmasker's intervals (it rejects sequences shorter than 4 bases, which have
    no triplet pair and so no interval)."""
    if len(seq) < 4:
        return []
    masker = pydustmasker.DustMasker(seq, window_size=window, score_threshold=level)
    return [list(iv) for iv in masker.intervals]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seq=sequences)
@example(seq="")
@example(seq="ACG")
@example(seq="NNNNNNNN")
@example(seq="A" * 200)
@example(seq="AAAAAAAAAAAANAAAAAAAAAAAA")
@example(seq="CA" * 100 + "N" + "CA" * 100)
@example(seq="acacacacacacACACACACACAC" * 5)
def test_default_options_match_pydustmasker(seq: str) -> None:
    got = entroseg.dust_mask(seq)
    assert got.dtype == np.int64 and got.ndim == 2 and got.shape[1] == 2
    assert got.tolist() == peer(seq)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seq=sequences, window=st.integers(4, 130), level=st.integers(0, 80))
def test_any_window_and_level_match_pydustmasker(seq: str, window: int, level: int) -> None:
    assert entroseg.dust_mask(seq, window=window, level=level).tolist() == peer(seq, window, level)


def test_a_large_generated_corpus_matches_pydustmasker() -> None:
    # Long sequences (several windows of state carried across repeats and N runs).
    rng = np.random.default_rng(2024)
    units = ["A", "CA", "GAT", "TTAGGG", "AC", "CCG", "GATA"]
    mismatches = 0
    for _ in range(60):
        parts = []
        for _ in range(60):
            r = rng.random()
            if r < 0.45:
                parts.append("".join(rng.choice(list("ACGT"), int(rng.integers(1, 200)))))
            elif r < 0.8:
                u = units[int(rng.integers(len(units)))]
                parts.append((u * 100)[: int(rng.integers(5, 150))])
            elif r < 0.9:
                parts.append("N" * int(rng.integers(1, 20)))
            else:
                parts.append("".join(rng.choice(list("acgt"), int(rng.integers(1, 100)))))
        seq = "".join(parts)
        mismatches += entroseg.dust_mask(seq).tolist() != peer(seq)
    assert mismatches == 0


@settings(max_examples=100, deadline=None)
@given(seq=sequences)
def test_letters_str_bytes_bytearray_and_codes_agree(seq: str) -> None:
    want = entroseg.dust_mask(seq).tolist()
    raw = seq.encode()
    assert entroseg.dust_mask(raw).tolist() == want
    assert entroseg.dust_mask(bytearray(raw)).tolist() == want
    assert entroseg.dust_mask(entroseg.encode_dna(raw)).tolist() == want
    assert entroseg.dust_mask(entroseg.encode_dna(raw).astype(np.int64)).tolist() == want


@settings(max_examples=100, deadline=None)
@given(seq=sequences)
def test_intervals_are_sorted_disjoint_and_free_of_ambiguous_bases(seq: str) -> None:
    iv = entroseg.dust_mask(seq)
    for (_, e0), (s1, _) in itertools.pairwise(iv):
        assert e0 < s1  # merged when they overlap or touch
    for s, e in iv:
        assert 0 <= s < e <= len(seq)
        assert all(c in "ACGTacgt" for c in seq[s:e])


@pytest.mark.parametrize(
    ("seq", "position"), [("ACGT-ACGT", 4), ("ACGT ACGT", 4), ("AC\nGT", 2), ("ACGTé", 4)]
)
def test_non_nucleotide_characters_raise_with_position(seq: str, position: int) -> None:
    with pytest.raises(entroseg.InvalidSequenceError, match=f"at position {position} "):
        entroseg.dust_mask(seq)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"window": 3}, "window must be in 4..=65536 bases, got 3"),
        ({"window": 70000}, "got 70000"),
        ({"window": -1}, "window must be >= 0, got -1"),
        ({"level": -1}, "level must be in 0..=4294967295, got -1"),
    ],
)
def test_bad_options_raise_invalid_parameter(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(entroseg.InvalidParameterError, match=message):
        entroseg.dust_mask("ACGT", **kwargs)


def test_bad_types_and_codes() -> None:
    with pytest.raises(TypeError, match="bytes, str or a uint8 array"):
        entroseg.dust_mask(12345)  # type: ignore[arg-type]
    with pytest.raises(entroseg.SymbolOutOfRangeError, match="code 7 at index 2"):
        entroseg.dust_mask(np.array([0, 1, 7], dtype=np.uint8))
    with pytest.raises(entroseg.SymbolOutOfRangeError, match="negative"):
        entroseg.dust_mask(np.array([0, -1]))


def test_threads_give_identical_intervals_on_a_long_sequence() -> None:
    # Long enough (over 1 Mi bases per thread) for the chunked parallel path to run.
    rng = np.random.default_rng(5)

    def bases(n: int) -> bytes:
        return np.frombuffer(b"ACGT", np.uint8)[rng.integers(0, 4, n)].tobytes()

    parts = []
    while sum(map(len, parts)) < 2_300_000:
        parts.append(bases(int(rng.integers(50, 3000))))
        unit = bases(int(rng.integers(1, 7)))
        parts.append((unit * 100)[: int(rng.integers(10, 100))])
        if rng.random() < 0.1:
            parts.append(b"N" * int(rng.integers(1, 50)))
    seq = b"".join(parts)
    one = entroseg.dust_mask(seq, threads=1)
    assert len(one) > 1000
    for threads in (2, 3, None):
        assert np.array_equal(entroseg.dust_mask(seq, threads=threads), one)
    assert one.tolist() == peer(seq.decode())
    with pytest.raises(entroseg.InvalidParameterError, match="threads must be >= 1, got 0"):
        entroseg.dust_mask(seq, threads=0)
