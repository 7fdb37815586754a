"""Registers the ``pl.Expr.entroseg`` namespace at ``import entroseg`` when Polars is
installed, so numpy-only users need no Polars and Polars users need no extra import."""

from __future__ import annotations

import warnings

#: Oldest Polars whose plugin interface matches the compiled plugin (the plugin ABI
#: check covers only a major version; older Polars would misbehave at run time).
MIN_POLARS = (1, 30)


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.split(".")[:2]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def register() -> bool:
    """Import :mod:`entroseg.polars` if Polars imports; True when registered."""
    try:
        import polars
    except ImportError:
        return False
    if _version_tuple(polars.__version__) < MIN_POLARS:
        warnings.warn(
            f"entroseg's Polars expressions need polars>={'.'.join(map(str, MIN_POLARS))}, "
            f"found {polars.__version__}: pl.Expr.entroseg is not registered",
            RuntimeWarning,
            stacklevel=3,
        )
        return False
    import entroseg.polars  # noqa: F401  (registers the namespace)

    return True
