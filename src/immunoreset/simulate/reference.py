"""Reference solver: SciPy implicit integrators (Radau/BDF/LSODA) with switches located as events.

Between events every switch flag is held constant, so the right-hand side is smooth on each segment.
Each switch's event function ``lhs - rhs`` is watched in the direction that would flip the current flag;
SciPy locates the crossing by root-finding on the dense output, the integration stops there, the flag
flips and integration restarts from the located state. The discontinuity is therefore never stepped over
(no dependence on step-size luck), and the switch time is reported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from scipy.integrate import solve_ivp

from immunoreset.errors import ImmunoresetError, InvalidInput
from immunoreset.simulate.compile import CompiledModel, switch_flags

__all__ = ["SolveFailure", "SwitchEvent", "Trajectory", "solve_reference"]

FloatArray = NDArray[np.float64]
Method = Literal["Radau", "BDF", "LSODA"]


class SolveFailure(ImmunoresetError):
    """The integrator did not reach the end of the horizon."""


@dataclass(frozen=True)
class SwitchEvent:
    time: float
    switch: str
    on: bool


@dataclass
class Trajectory:
    """States (n_states x n_times) and switch flags on the requested grid, plus the located switch events."""

    t: FloatArray
    y: FloatArray
    flags: FloatArray
    events: list[SwitchEvent] = field(default_factory=list)
    n_rhs: int = 0


def _event(model: CompiledModel, p: FloatArray, u: FloatArray, i: int, direction: float) -> Callable[..., float]:
    def g(t: float, y: FloatArray) -> float:
        return float(model.switch_g(t, y, p, u)[i])

    g.terminal = True  # type: ignore[attr-defined]
    g.direction = direction  # type: ignore[attr-defined]
    return g


def solve_reference(
    model: CompiledModel,
    p: FloatArray,
    u: FloatArray,
    t_eval: FloatArray,
    *,
    method: Method = "Radau",
    rtol: float = 1e-10,
    atol: float | FloatArray = 1e-12,
    rhs: Callable[..., Any] | None = None,
    jac: Callable[..., Any] | None = None,
    max_events: int = 1000,
) -> Trajectory:
    """Integrate one patient from ``t_eval[0]`` to ``t_eval[-1]``; states reported at ``t_eval``.

    ``rhs``/``jac`` optionally replace the NumPy right-hand side and SciPy's numerical Jacobian (same
    signature ``(t, y, p, u, sw)``), e.g. the Numba versions of :mod:`immunoreset.simulate.numba_engine`.
    """
    t_eval = np.asarray(t_eval, dtype=float)
    if t_eval.ndim != 1 or t_eval.size < 2 or np.any(np.diff(t_eval) <= 0):
        raise InvalidInput("times", t_eval.tolist()[:5], "at least two strictly increasing times")
    f = rhs or model.rhs
    y = np.asarray(model.init(p, u), dtype=float)
    flags = switch_flags(model, model.switch_g(t_eval[0], y, p, u))
    ops = model.switch_ops()
    names = [s.name for s in model.spec.switches]
    t0, t_end = float(t_eval[0]), float(t_eval[-1])
    ys = np.empty((y.size, t_eval.size))
    fl = np.empty((len(ops), t_eval.size))
    filled = 0
    events: list[SwitchEvent] = []
    n_rhs = 0
    while True:
        evs = []
        for i, op in enumerate(ops):
            on_sign = -1.0 if op == "<" else 1.0
            evs.append(_event(model, p, u, i, -on_sign if flags[i] else on_sign))
        seg_flags = flags.copy()
        mask = (t_eval >= t0) & (np.arange(t_eval.size) >= filled)
        if not mask.any():
            break  # no output time left after the last event
        with np.errstate(over="ignore", under="ignore"):
            sol = solve_ivp(
                lambda t, yy, fl=seg_flags: f(t, yy, p, u, fl),
                (t0, t_end),
                y,
                jac=None if jac is None else (lambda t, yy, fl=seg_flags, j=jac: j(t, yy, p, u, fl)),
                method=method,
                t_eval=t_eval[mask],
                events=evs or None,
                rtol=rtol,
                atol=atol,
            )
        n_rhs += int(sol.nfev)
        if sol.status == -1:
            raise SolveFailure(f"{method} failed after t={t0}: {sol.message}")
        k = int(np.asarray(sol.t).size)
        if k:
            ys[:, filled : filled + k] = np.asarray(sol.y)
        fl[:, filled : filled + k] = seg_flags[:, None]
        filled += k
        if sol.status == 0:
            break
        # terminal event: find which switch fired first
        t_hit = min(float(te[0]) for te in sol.t_events if te.size)
        for i, te in enumerate(sol.t_events):
            if te.size and float(te[0]) == t_hit:
                y = np.asarray(sol.y_events[i][0], dtype=float)
                flags[i] = 0.0 if flags[i] else 1.0
                events.append(SwitchEvent(time=t_hit, switch=names[i], on=bool(flags[i])))
        t0 = t_hit
        if len(events) > max_events:
            raise SolveFailure(f"more than {max_events} switch events (chattering?)")
        if t0 >= t_end:
            break
    if filled != t_eval.size:
        raise SolveFailure(f"filled {filled} of {t_eval.size} output times")
    return Trajectory(t=t_eval, y=ys, flags=fl, events=events, n_rhs=n_rhs)
