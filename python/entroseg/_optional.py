"""Optional dependencies: import one, or say how to install it."""

from __future__ import annotations

import importlib
from typing import Any


def require(module: str, hint: str) -> Any:
    """The module ``module``; without it, an ImportError whose message is ``hint``."""
    try:
        return importlib.import_module(module)
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError(hint) from None
