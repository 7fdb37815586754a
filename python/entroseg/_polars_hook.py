"""Registers the ``pl.Expr.entroseg`` namespace without importing Polars at
``import entroseg``.

Polars takes a large share of a second to import, so ``import entroseg`` must not pay for
it (numpy-only users may not even have it). :func:`install` registers the namespace at
once when Polars is already imported, and otherwise puts a finder on ``sys.meta_path``
that wraps Polars' loader: right after Polars has finished executing (``import polars``,
``from polars import col``, ``import polars.selectors``...), :mod:`entroseg.polars` is
imported, which registers the namespace. The finder then goes inert (it stays on
``sys.meta_path``: removing an entry could make another thread's import, iterating over
that list, skip a finder). Nothing here can break Polars' own import: a failure to
register becomes a :class:`RuntimeWarning`.
"""

from __future__ import annotations

import sys
import threading
import warnings
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any

#: Oldest Polars whose plugin interface matches the compiled plugin (the plugin ABI
#: check covers only a major version; older Polars would misbehave at run time).
MIN_POLARS = (1, 30)

#: Marks our finder on ``sys.meta_path`` (an attribute, not the class, so that a
#: reloaded copy of this module still recognises an earlier finder): True while it waits
#: for Polars, False once it has fired.
_MARK = "_entroseg_polars_hook"


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.split(".")[:2]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def register(*, stacklevel: int = 2) -> bool:
    """Import :mod:`entroseg.polars` if Polars imports; True when registered.

    ``stacklevel`` is that of the version warning, counted from the caller of this
    function (2: the caller's caller)."""
    try:
        import polars
    except ImportError:
        return False
    if _version_tuple(polars.__version__) < MIN_POLARS:
        warnings.warn(
            f"entroseg's Polars expressions need polars>={'.'.join(map(str, MIN_POLARS))}, "
            f"found {polars.__version__}: pl.Expr.entroseg is not registered",
            RuntimeWarning,
            stacklevel=stacklevel + 1,
        )
        return False
    import entroseg.polars  # noqa: F401  (registers the namespace)

    return True


def _after_polars_import(module: ModuleType) -> None:
    """Called once Polars has finished executing; never raises (Polars' import must
    succeed whatever happens here)."""
    if sys.modules.get("polars") is not module:
        return  # executed outside an import (a probe): wait for the real import
    _disarm()
    try:
        # Frames up to the user's import: here, the loader wrapper (importlib's own
        # frames are not counted by warnings).
        register(stacklevel=3)
    except Exception as exc:
        warnings.warn(
            f"entroseg could not register pl.Expr.entroseg: {type(exc).__name__}: {exc}",
            RuntimeWarning,
            stacklevel=3,
        )


class _ChainedLoader:
    """Polars' own loader, plus a call to :func:`_after_polars_import` once the module
    has executed. The module's ``__loader__`` and ``__spec__.loader`` are set back to
    Polars' loader before it runs, so Polars never sees this wrapper."""

    def __init__(self, loader: Any) -> None:
        self.loader = loader

    def __getattr__(self, name: str) -> Any:
        # Everything else (get_resource_reader, is_package, ...) is the real loader's.
        if name == "loader":  # not set yet (copy, pickle): no endless recursion
            raise AttributeError(name)
        return getattr(self.loader, name)

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        create = getattr(self.loader, "create_module", None)
        return None if create is None else create(spec)

    def _restore(self, module: ModuleType) -> None:
        if getattr(module, "__loader__", None) is self:
            try:
                module.__loader__ = self.loader
            except AttributeError:  # pragma: no cover - a read-only module attribute
                pass
        spec = getattr(module, "__spec__", None)
        if spec is not None and getattr(spec, "loader", None) is self:
            spec.loader = self.loader

    def exec_module(self, module: ModuleType) -> None:
        self._restore(module)
        self.loader.exec_module(module)
        _after_polars_import(module)


class _PolarsFinder:
    """A ``sys.meta_path`` finder that answers only for the top-level ``polars``: it
    asks the finders after it for the real spec and wraps that spec's loader."""

    def __init__(self) -> None:
        self._entroseg_polars_hook = True
        # Another finder doing what this one does would ask this one back: answer None
        # to a nested call from the same thread instead of recursing without end.
        self._busy = threading.local()

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None = None,
        target: ModuleType | None = None,
    ) -> ModuleSpec | None:
        if fullname != "polars" or getattr(self._busy, "active", False):
            return None
        self._busy.active = True
        try:
            return self._wrapped_spec(fullname, path, target)
        finally:
            self._busy.active = False

    def _wrapped_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None
    ) -> ModuleSpec | None:
        for finder in list(sys.meta_path):
            if hasattr(finder, _MARK):
                continue
            find = getattr(finder, "find_spec", None)
            if find is None:
                continue
            spec: ModuleSpec | None = find(fullname, path, target)
            if spec is None:
                continue
            if spec.loader is None or not hasattr(spec.loader, "exec_module"):
                return None  # a namespace package or a legacy loader: leave it alone
            spec.loader = _ChainedLoader(spec.loader)  # type: ignore[assignment]
            return spec
        return None

    def invalidate_caches(self) -> None:
        pass


def _ours() -> list[Any]:
    return [f for f in sys.meta_path if hasattr(f, _MARK)]


def _disarm() -> None:
    for finder in _ours():
        setattr(finder, _MARK, False)


def installed() -> bool:
    """True while the finder waits for Polars to be imported."""
    return any(getattr(f, _MARK, False) for f in sys.meta_path)


def install() -> None:
    """Register ``pl.Expr.entroseg`` now if Polars is imported, else when it is.

    Idempotent; called by ``import entroseg``. Never imports Polars itself."""
    polars = sys.modules.get("polars")
    if polars is not None:
        spec = getattr(polars, "__spec__", None)
        if not getattr(spec, "_initializing", False):
            # The warning points at the ``import entroseg`` line (install, entroseg's
            # __init__, then the importer).
            register(stacklevel=3)
            return
        # Polars is still executing (entroseg imported from inside Polars' import):
        # its loader is not ours, so nothing would fire. Registering now would see a
        # half-built Polars; leave it to an explicit ``import entroseg.polars``.
        return
    if "polars" in sys.modules:
        return  # sys.modules["polars"] = None: Polars is blocked on purpose
    ours = _ours()
    if ours:
        setattr(ours[0], _MARK, True)  # re-armed (Polars was dropped from sys.modules)
    else:
        sys.meta_path.insert(0, _PolarsFinder())
