"""Compile a :class:`~immunoreset.models.spec.ModelSpec` into NumPy functions (and, optionally, Numba).

The generated functions index the state vector ``y`` and the parameter/input vectors ``p``/``u`` by
position, so the same source works for one patient (1-D arrays) and for a batch (2-D arrays whose last
axis is the patient). Switch flags ``sw`` are 0/1 floats held constant by the solver between events.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from immunoreset.models import expr
from immunoreset.models.spec import ModelSpec

__all__ = ["CompiledModel", "compile_model"]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class CompiledModel:
    """Generated NumPy callables for one spec.

    * ``rhs(t, y, p, u, sw) -> dy/dt``
    * ``init(p, u) -> y0``
    * ``switch_g(t, y, p, u) -> lhs - rhs`` for each switch (the event functions)
    * ``outputs(t, y, p, u, sw) -> outputs`` (rows in spec order)
    * ``source``: the generated Python source (for inspection and Numba compilation)
    """

    spec: ModelSpec
    rhs: Callable[..., Any]
    init: Callable[..., Any]
    switch_g: Callable[..., Any]
    outputs: Callable[..., Any]
    source: str

    @property
    def n_states(self) -> int:
        return len(self.spec.states)

    def switch_ops(self) -> list[str]:
        return [s.op for s in self.spec.switches]


def _header(spec: ModelSpec, with_states: bool, with_switches: bool, needed: set[str]) -> list[str]:
    lines: list[str] = []
    for i, p in enumerate(spec.parameters):
        if p.name in needed:
            lines.append(f"    {p.name} = p[{i}]")
    for i, inp in enumerate(spec.inputs):
        if inp.name in needed:
            lines.append(f"    {inp.name} = u[{i}]")
    if with_states:
        for i, s in enumerate(spec.states):
            if s.name in needed:
                lines.append(f"    {s.name} = y[{i}]")
    if with_switches:
        for i, sw in enumerate(spec.switches):
            if sw.name in needed:
                lines.append(f"    {sw.name} = sw[{i}]")
    return lines


def _derived_lines(spec: ModelSpec, needed: set[str], allowed: set[str] | None = None) -> list[str]:
    """Derived definitions required for ``needed`` (in spec order), transitively."""
    want = set(needed)
    for d in reversed(spec.derived):
        if d.name in want:
            want |= expr.names(d.expression)
    lines = []
    for d in spec.derived:
        if d.name in want and (allowed is None or d.name in allowed):
            lines.append(f"    {d.name} = {expr.to_python(d.expression)}")
    needed |= want
    return lines


def generate_source(spec: ModelSpec) -> str:
    """Python source of the four functions (rhs, init, switch_g, outputs)."""
    out: list[str] = ["import numpy as np", ""]
    n = len(spec.states)

    # rhs
    needed: set[str] = set()
    for s in spec.states:
        needed |= expr.names(s.rhs)
    body = _derived_lines(spec, needed)
    out.append("def rhs(t, y, p, u, sw):")
    out += _header(spec, True, True, needed)
    out += body
    out.append("    dy = np.empty_like(y)")
    for i, s in enumerate(spec.states):
        out.append(f"    dy[{i}] = {expr.to_python(s.rhs)}")
    out.append("    return dy")
    out.append("")

    # init
    needed = set()
    for s in spec.states:
        needed |= expr.names(s.initial)
    body = _derived_lines(spec, needed, spec.static_names())
    out.append("def init(p, u):")
    out += _header(spec, False, False, needed)
    out += body
    out.append(f"    y0 = np.empty(({n},) + np.shape(p[0]))")
    for i, s in enumerate(spec.states):
        out.append(f"    y0[{i}] = {expr.to_python(s.initial)}")
    out.append("    return y0")
    out.append("")

    # switches
    needed = set()
    for sw in spec.switches:
        needed |= expr.names(sw.lhs) | expr.names(sw.rhs)
    body = _derived_lines(spec, needed)
    out.append("def switch_g(t, y, p, u):")
    out += _header(spec, True, False, needed)
    out += body
    out.append(f"    g = np.empty(({len(spec.switches)},) + np.shape(y[0]))")
    for i, sw in enumerate(spec.switches):
        out.append(f"    g[{i}] = ({expr.to_python(sw.lhs)}) - ({expr.to_python(sw.rhs)})")
    out.append("    return g")
    out.append("")

    # outputs
    needed = set()
    for o in spec.outputs:
        needed |= expr.names(o.expression)
    body = _derived_lines(spec, needed)
    out.append("def outputs(t, y, p, u, sw):")
    out += _header(spec, True, True, needed)
    out += body
    out.append(f"    o = np.empty(({len(spec.outputs)},) + np.shape(y[0]))")
    for i, o in enumerate(spec.outputs):
        out.append(f"    o[{i}] = {expr.to_python(o.expression)}")
    out.append("    return o")
    return "\n".join(out) + "\n"


_CACHE: dict[tuple[str, int], CompiledModel] = {}


def compile_model(spec: ModelSpec) -> CompiledModel:
    """Generate and execute the NumPy source for ``spec`` (cached per spec object)."""
    key = (spec.name, id(spec))
    if key in _CACHE:
        return _CACHE[key]
    source = generate_source(spec)
    namespace: dict[str, Any] = {}
    exec(compile(source, f"<model {spec.name}>", "exec"), namespace)
    model = CompiledModel(
        spec=spec,
        rhs=namespace["rhs"],
        init=namespace["init"],
        switch_g=namespace["switch_g"],
        outputs=namespace["outputs"],
        source=source,
    )
    _CACHE[key] = model
    return model


def switch_flags(model: CompiledModel, g: FloatArray) -> FloatArray:
    """Flags (1.0/0.0) from event-function values with the spec's strict operators: ``<`` on when g < 0,
    ``>`` on when g > 0; equality is off for both."""
    ops = model.switch_ops()
    flags = np.empty_like(g)
    for i, op in enumerate(ops):
        flags[i] = (g[i] < 0) if op == "<" else (g[i] > 0)
    return flags
