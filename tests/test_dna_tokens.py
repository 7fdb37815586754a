"""Next-base DNA profiles and model-free DNA tokens (profile -> rule engine)."""

from __future__ import annotations

import io
from pathlib import Path

import entroseg
import numpy as np
import pytest
from entroseg import genomic
from entroseg.cli import main
from hypothesis import example, given
from hypothesis import strategies as st

#: These tests check other things on short series; the target-miss warning itself is
#: tested in test_calibration.py and test_surfaces_agree.py.
pytestmark = pytest.mark.filterwarnings("ignore:target_len=.* missed:UserWarning")


@st.composite
def dna_st(draw: st.DrawFn) -> str:
    """Up to 400 plain bases (either case) with at most three ambiguous ones (N, n, R, Y)
    at random positions: the prefix before the first ambiguous base (the part compared
    with the context model) is then long enough to exercise every context order, and most
    sequences still carry an ambiguous base for the NaN check. Length and letters come
    from a seeded generator: hypothesis's own draws made a one-letter string
    in about a quarter of the examples (the explicit examples below cover those)."""
    n_ambiguous = draw(st.sampled_from([0, 1, 1, 2, 3]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n = int(rng.integers(1, 401))
    seq = rng.choice(list("ACGTacgt"), n)
    at = rng.choice(n, min(n_ambiguous, n), replace=False)
    seq[at] = rng.choice(list("NnRY"), len(at))
    return "".join(seq)


@given(dna_st(), st.integers(0, 6), st.sampled_from(["next_entropy", "next_surprisal"]))
@example("A", 0, "next_entropy")
@example("N", 2, "next_surprisal")
@example("acGTNacgtR", 2, "next_entropy")
@example("ACGTACGTACGTACGTAC", 6, "next_surprisal")
def test_next_base_profile_is_the_context_model(seq: str, k: int, kind: str) -> None:
    got = np.asarray(entroseg.dna_profile(seq, method=kind, context=k))
    codes = entroseg.encode_dna(seq)
    ambiguous = codes == 4
    # NaN exactly at ambiguous bases.
    assert np.array_equal(np.isnan(got), ambiguous)
    # Up to the first ambiguous base, exactly the context model over the base codes (the
    # Rust tests cover the context break at ambiguous bases).
    first = int(np.argmax(ambiguous)) if ambiguous.any() else len(codes)
    if first:
        h, q = entroseg.next_symbol_entropy(codes[:first], context=k, alphabet_size=4)
        np.testing.assert_array_equal(got[:first], h if kind == "next_entropy" else q)


def test_dna_tokens_calibrate_and_respect_limits() -> None:
    rng = np.random.default_rng(0)
    seq = "".join(rng.choice(list("ACGT"), 20_000)) + "ACGTTG" * 500 + "N" * 30
    seq += "".join(rng.choice(list("ACGT"), 5000))
    tokens = entroseg.dna_tokens(seq, target_len=8, min_len=2, max_len=24)
    assert tokens.lengths.sum() == len(seq)
    assert tokens.lengths[:-1].min() >= 2 and tokens.lengths.max() <= 24
    assert np.mean(tokens.lengths) == pytest.approx(8, rel=0.15)
    # In the period-6 repeat, once learnt, the tokens follow the period: the most
    # surprising base recurs at the same phase, so every token is a whole number of units.
    in_repeat = (tokens.starts > 20_500) & (tokens.starts < 22_800)
    assert set(tokens.lengths[in_repeat].tolist()) <= {6, 12, 18, 24}
    # A fixed threshold instead of calibration; ambiguous bases never start a token by rule.
    fixed = entroseg.dna_tokens(seq, threshold=1.2, target_len=None, max_len=32)
    rule_starts = fixed.starts[fixed.reasons != 0]
    assert not np.isin(rule_starts, np.arange(23_000, 23_030)).any()
    assert fixed.lengths.sum() == len(seq)


def test_tokenize_fastx_batches_records_without_crossing() -> None:
    names, tokens = genomic.tokenize_fastx(io.BytesIO(genomic.sample_fasta()), target_len=10)
    assert names == ["sample1", "sample2", "sample3"]
    assert tokens.num_series == 3
    assert tokens.series_lengths.tolist() == [2000, 2000, 2000]
    assert tokens.cu_seqlens[-1] == 6000
    record = next(genomic.read_fastx(io.BytesIO(genomic.sample_fasta())))
    assert record.sequence is not None
    first = genomic.dna_tokens(record.sequence, target_len=10)
    assert tokens.series(0) == first


def test_cli_dna_tokens(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dna", "tokens", "--target-len", "12", "--max-len", "40"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [line.split("\t") for line in lines]
    by_record: dict[str, int] = {}
    for name, start, end in rows:
        assert 0 < int(end) - int(start) <= 40
        by_record[name] = max(by_record.get(name, 0), int(end))
    assert by_record == {"sample1": 2000, "sample2": 2000, "sample3": 2000}
    out = tmp_path / "tokens.parquet"
    assert main(["dna", "tokens", "-o", str(out), "-q"]) == 0
    import pyarrow.parquet as pq

    table = pq.read_table(out)
    assert table.column_names == ["chrom", "start", "end"]
    assert main(["dna", "tokens", "--max-len", "0"]) == 2
    assert "max_len must be >= 1" in capsys.readouterr().err


def test_next_base_kinds_take_no_window() -> None:
    with pytest.raises(entroseg.InvalidParameterError, match="window does not apply"):
        entroseg.dna_profile("ACGT", method="next_entropy", window=4)  # type: ignore[call-overload]
    assert entroseg.dna_profile("ACGTN", method="next_surprisal", context=2).shape == (5,)
