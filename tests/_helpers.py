"""Small helpers shared by the test files (tests/ is on the path, see pyproject.toml)."""

from __future__ import annotations


def regime_means(out: str) -> dict[str, float]:
    """The ``regime NAME ... MEAN`` lines of the CLI's ``profile`` / ``demo`` report."""
    means = {}
    for line in out.splitlines():
        if line.startswith("regime"):
            parts = line.split()
            means[parts[1]] = float(parts[-1])
    return means
