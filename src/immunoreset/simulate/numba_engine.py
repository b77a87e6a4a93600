"""Numba compilation of a spec's generated right-hand side and a finite-difference Jacobian.

The Jacobian uses forward differences with the step ``h_j = sqrt(eps) * max(|y_j|, 1e-6)``, which stays
finite across the forty orders of magnitude of the Park state vector (SciPy's adaptive ``num_jac`` can grow
its step factor until ``y + h`` overflows when a column is flat, e.g. for eradicated B-cell pools).
Both fall back to NumPy when Numba is absent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from immunoreset.simulate.compile import CompiledModel

__all__ = ["numba_jac", "numba_rhs"]

_RHS: dict[int, Callable[..., Any]] = {}
_JAC: dict[int, Callable[..., Any]] = {}
_SQRT_EPS = float(np.sqrt(np.finfo(float).eps))


def numba_rhs(model: CompiledModel) -> Callable[..., Any]:
    """``rhs(t, y, p, u, sw)`` compiled with ``numba.njit`` (1-D arrays); NumPy version if Numba is absent."""
    key = id(model)
    if key in _RHS:
        return _RHS[key]
    try:
        import numba
    except ImportError:  # pragma: no cover - numba is a dependency
        return model.rhs
    ns: dict[str, Any] = {}
    exec(compile(model.source, f"<model {model.spec.name}>", "exec"), ns)
    fn: Callable[..., Any] = numba.njit(cache=False)(ns["rhs"])
    _RHS[key] = fn
    return fn


def _fd_jac(rhs: Callable[..., Any]) -> Callable[..., Any]:
    def jac(t: float, y: Any, p: Any, u: Any, sw: Any) -> Any:
        n = y.shape[0]
        f0 = rhs(t, y, p, u, sw)
        out = np.empty((n, n))
        yy = y.copy()
        for j in range(n):
            h = _SQRT_EPS * max(abs(y[j]), 1e-6)
            yy[j] = y[j] + h
            h = yy[j] - y[j]
            f1 = rhs(t, yy, p, u, sw)
            for i in range(n):
                out[i, j] = (f1[i] - f0[i]) / h
            yy[j] = y[j]
        return out

    return jac


def numba_jac(model: CompiledModel) -> Callable[..., Any]:
    """Forward-difference Jacobian ``jac(t, y, p, u, sw)`` (compiled with Numba when available)."""
    key = id(model)
    if key in _JAC:
        return _JAC[key]
    rhs = numba_rhs(model)
    try:
        import numba
    except ImportError:  # pragma: no cover
        return _fd_jac(rhs)
    fn: Callable[..., Any] = numba.njit(cache=False)(_fd_jac(rhs))
    _JAC[key] = fn
    return fn
