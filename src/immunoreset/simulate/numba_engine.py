"""Numba compilation of a spec's generated right-hand side (falls back to NumPy without Numba)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from immunoreset.simulate.compile import CompiledModel

__all__ = ["numba_rhs"]

_CACHE: dict[int, Callable[..., Any]] = {}


def numba_rhs(model: CompiledModel) -> Callable[..., Any]:
    """``rhs(t, y, p, u, sw)`` compiled with ``numba.njit`` (1-D arrays); NumPy version if Numba is absent."""
    key = id(model)
    if key in _CACHE:
        return _CACHE[key]
    try:
        import numba
    except ImportError:  # pragma: no cover - numba is a dependency
        return model.rhs
    ns: dict[str, Any] = {}
    exec(compile(model.source, f"<model {model.spec.name}>", "exec"), ns)
    fn = numba.njit(cache=False, fastmath=False)(ns["rhs"])
    _CACHE[key] = fn
    return fn
