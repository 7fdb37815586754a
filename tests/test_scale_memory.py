"""Larger-than-memory: a Parquet dataset profiled under a memory cap the in-memory path
does not fit in, with the same result.

Each run is a child process with ``RLIMIT_DATA`` (the kernel's limit on a process's
heap and private anonymous mappings, where polars, pyarrow and numpy put their data).
The in-memory path (read everything, ``.over(key)``, write) is shown to fail under the
cap; two streaming paths succeed under it and give identical columns:

- the Polars plugin, with ``scan_parquet(...).filter(key range)...collect(engine=
  "streaming")`` pass after pass (predicate pushdown reads only the row groups of the
  keys of a pass, so memory follows one pass, not the file);
- the Arrow stream step, reading the file batch by batch with a streaming estimator per
  key (memory follows one batch and the keys' windows).
"""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pl = pytest.importorskip("polars")
pq = pytest.importorskip("pyarrow.parquet")

CAP_MB = 520
KEYS, PER_KEY = 160, 62_500  # 10^7 rows, clustered by key (as a time-partitioned log is)

CHILD = r"""
import sys
import numpy as np, polars as pl, pyarrow.parquet as pq
import entroseg
from entroseg.arrow import profile_stream

mode, src, dst = sys.argv[1:4]
expr = pl.col("value").entroseg.permutation_entropy(order=3, window=64).over("key")
if mode == "memory":
    pl.read_parquet(src).with_columns(pe=expr).write_parquet(dst)
elif mode == "polars-passes":
    keys = pl.scan_parquet(src).select(pl.col("key").unique().sort()).collect()["key"]
    keys = keys.to_list()
    writer = None
    for i in range(0, len(keys), 10):
        part = (
            pl.scan_parquet(src)
            .filter(pl.col("key").is_in(keys[i : i + 10]))
            .with_columns(pe=expr)
            .collect(engine="streaming")
            .to_arrow()
        )
        writer = writer or pq.ParquetWriter(dst, part.schema)
        writer.write_table(part)
    writer.close()
elif mode == "arrow-stream":
    reader = profile_stream(
        src, value_column="value", key_column="key", profile_column="pe", order=3, window=64
    )
    with pq.ParquetWriter(dst, reader.schema) as writer:
        for batch in reader:
            writer.write_batch(batch)
print("ok")
"""


def _limit(cap_mb: int) -> None:
    cap = cap_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_DATA, (cap, cap))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run(mode: str, src: Path, dst: Path, cap_mb: int | None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(src), str(dst)],
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=None if cap_mb is None else (lambda: _limit(cap_mb)),
    )


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("scale") / "readings.parquet"
    rng = np.random.default_rng(0)
    pl.DataFrame(
        {
            "key": np.repeat(np.arange(KEYS, dtype=np.int32), PER_KEY),
            "value": np.cumsum(rng.standard_normal(KEYS * PER_KEY)),
        }
    ).write_parquet(path, row_group_size=PER_KEY // 2)
    return path


def test_streaming_paths_fit_a_cap_the_in_memory_path_does_not(dataset: Path) -> None:
    out = dataset.parent
    reference = run("memory", dataset, out / "memory.parquet", cap_mb=None)
    assert reference.returncode == 0, reference.stderr[-2000:]
    capped = run("memory", dataset, out / "memory-capped.parquet", cap_mb=CAP_MB)
    assert capped.returncode != 0, "the in-memory path fits the cap: the test proves nothing"
    want = pq.read_table(out / "memory.parquet").column("pe").to_numpy(zero_copy_only=False)
    for mode in ("polars-passes", "arrow-stream"):
        done = run(mode, dataset, out / f"{mode}.parquet", cap_mb=CAP_MB)
        assert done.returncode == 0, f"{mode}: {done.stderr[-2000:]}"
        got = pq.read_table(out / f"{mode}.parquet").column("pe").to_numpy(zero_copy_only=False)
        assert np.array_equal(got, want, equal_nan=True), mode
