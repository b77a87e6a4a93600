"""Declarative model specs: a mechanistic model is data.

A :class:`ModelSpec` lists states, parameters (value, unit, description, source, estimated or fixed,
log-normal inter-individual variability), inputs (covariates such as body weight, doses, product
composition, individual baselines), ordered derived quantities, switches (threshold conditions the
solver locates as events), the right-hand side of every state, and reported outputs. All equations are
strings in the small expression language of :mod:`immunoreset.models.expr`.

The numerical engines, the SBML exporter, population sampling and the documentation tables all read
the spec; nothing else knows a model's equations. Adding a model means writing a new spec.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from immunoreset.errors import InvalidInput
from immunoreset.models import expr

__all__ = [
    "DerivedSpec",
    "InputSpec",
    "ModelSpec",
    "OutputSpec",
    "ParameterSpec",
    "StateSpec",
    "SwitchSpec",
]

_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StateSpec(_Frozen):
    """One ODE state: ``d name/dt = rhs``, starting at ``initial`` (an expression of parameters/inputs)."""

    name: str = Field(pattern=_NAME)
    unit: str = Field(description="unit of the state (free text or UCUM)")
    description: str
    initial: str = Field(description="initial value: expression in parameters, inputs and static derived quantities")
    rhs: str = Field(description="right-hand side d(state)/dt per model time unit")


def checked_number(
    field: str,
    value: object,
    unit: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    positive: str | None = None,
) -> float:
    """``value`` as a finite float within [minimum, maximum] (and > 0 when ``positive`` is not None; its
    text says why), else :class:`InvalidInput` naming ``field`` and the expected range in ``unit``."""
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidInput(field, value, f"a number in {unit}") from None
    if not math.isfinite(v):
        raise InvalidInput(field, value, f"a finite number in {unit}")
    if positive is not None and v <= 0:
        raise InvalidInput(field, value, f"a number > 0 ({unit}{'; ' + positive if positive else ''})")
    if minimum is not None and v < minimum:
        raise InvalidInput(field, value, f"a number >= {minimum:g} ({unit})")
    if maximum is not None and v > maximum:
        raise InvalidInput(field, value, f"a number <= {maximum:g} ({unit})")
    return v


class _Bounded(_Frozen):
    """A named number with a unit and an optional range; :meth:`checked` validates a value for it."""

    name: str
    unit: str
    minimum: float | None = None
    maximum: float | None = None

    def _positive(self) -> str | None:
        """None, or why the value must be > 0 ('' = no reason given)."""
        return None

    def checked(self, value: object, *, field: str | None = None) -> float:
        """``value`` as a float if it is allowed here, else :class:`InvalidInput` naming ``field`` (default:
        the name). A parameter with IIV must stay > 0 (log-normal); an input obeys its own range."""
        return checked_number(
            field or self.name,
            value,
            self.unit,
            minimum=self.minimum,
            maximum=self.maximum,
            positive=self._positive(),
        )


class ParameterSpec(_Bounded):
    """A model parameter with its provenance and inter-individual variability."""

    name: str = Field(pattern=_NAME)
    value: float = Field(description="typical (population) value")
    unit: str
    description: str
    source: str = Field(description="where the value comes from (publication, table, reference number)")
    status: Literal["estimated", "fixed"] = "fixed"
    omega: float | None = Field(
        default=None,
        ge=0,
        description="SD of eta on the log scale for log-normal IIV (P_i = P * exp(eta_i)); None = no IIV",
    )
    omega_fixed: bool = Field(default=False, description="True if omega was fixed rather than estimated")
    minimum: float | None = Field(default=None, description="smallest allowed value (inclusive)")
    maximum: float | None = Field(default=None, description="largest allowed value (inclusive)")

    def _positive(self) -> str | None:
        return "the parameter has log-normal IIV" if self.omega else None


class InputSpec(_Bounded):
    """A per-patient or per-scenario input: covariate, dose, product composition, individual baseline."""

    name: str = Field(pattern=_NAME)
    kind: Literal["covariate", "dose", "product", "baseline"]
    value: float = Field(description="default (reference) value")
    unit: str
    description: str
    source: str
    minimum: float | None = Field(default=None, description="smallest allowed value (inclusive)")
    maximum: float | None = Field(default=None, description="largest allowed value (inclusive)")
    strictly_positive: bool = Field(default=False, description="value must be > 0")

    def _positive(self) -> str | None:
        return "" if self.strictly_positive else None


class DerivedSpec(_Frozen):
    """A named intermediate quantity, evaluated in list order (may read states, parameters, inputs, switches,
    and earlier derived quantities)."""

    name: str = Field(pattern=_NAME)
    expression: str
    unit: str = ""
    description: str = ""


class SwitchSpec(_Frozen):
    """A threshold switch: flag ``name`` is 1 while ``lhs <op> rhs`` holds, else 0. Not latched.

    The solver integrates with the flag held constant and locates every crossing of ``lhs - rhs = 0`` as
    an event, then restarts with the flag flipped (no step-size luck at the discontinuity).
    """

    name: str = Field(pattern=_NAME)
    lhs: str
    op: Literal["<", ">"]
    rhs: str
    description: str
    source: str


class OutputSpec(_Frozen):
    """A reported quantity (expression of states, parameters, inputs and derived quantities)."""

    name: str = Field(pattern=_NAME)
    expression: str
    unit: str
    description: str


class ModelSpec(_Frozen):
    """A complete mechanistic model."""

    name: str = Field(pattern=_NAME)
    title: str
    citation: str
    time_unit: str = "d"
    notes: list[str] = Field(default_factory=list)
    states: list[StateSpec]
    parameters: list[ParameterSpec]
    inputs: list[InputSpec] = Field(default_factory=list)
    derived: list[DerivedSpec] = Field(default_factory=list)
    switches: list[SwitchSpec] = Field(default_factory=list)
    outputs: list[OutputSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check_names(self) -> ModelSpec:
        seen: set[str] = set()
        for group in (self.states, self.parameters, self.inputs, self.switches, self.derived):
            for item in group:
                if item.name in seen or item.name in expr.FUNCTIONS or item.name == "t":
                    raise InvalidInput("name", item.name, "a unique name (not t or a function name)")
                seen.add(item.name)
        base = {s.name for s in self.states} | {p.name for p in self.parameters} | {i.name for i in self.inputs}
        base |= {s.name for s in self.switches} | {"t"}
        known = set(base)
        for d in self.derived:
            _require(expr.names(d.expression), known, f"derived {d.name}")
            known.add(d.name)
        for s in self.states:
            _require(expr.names(s.rhs), known, f"rhs of {s.name}")
        static = self.static_names()
        for s in self.states:
            _require(expr.names(s.initial), static, f"initial value of {s.name}")
        for sw in self.switches:
            _require(
                expr.names(sw.lhs) | expr.names(sw.rhs), known - {x.name for x in self.switches}, f"switch {sw.name}"
            )
        for o in self.outputs:
            if o.name in seen:
                raise InvalidInput("output", o.name, "an output name distinct from states/parameters")
            _require(expr.names(o.expression), known, f"output {o.name}")
        return self

    # --- lookup helpers ---
    @property
    def state_names(self) -> list[str]:
        return [s.name for s in self.states]

    @property
    def parameter_names(self) -> list[str]:
        return [p.name for p in self.parameters]

    @property
    def input_names(self) -> list[str]:
        return [i.name for i in self.inputs]

    @property
    def output_names(self) -> list[str]:
        return [o.name for o in self.outputs]

    def parameter(self, name: str) -> ParameterSpec:
        for p in self.parameters:
            if p.name == name:
                return p
        raise InvalidInput("parameter", name, f"one of {self.parameter_names}")

    def input(self, name: str) -> InputSpec:
        for i in self.inputs:
            if i.name == name:
                return i
        raise InvalidInput("input", name, f"one of {self.input_names}")

    def static_names(self) -> set[str]:
        """Names whose value does not depend on states, time or switches (parameters, inputs, and derived
        quantities built only from those)."""
        static = {p.name for p in self.parameters} | {i.name for i in self.inputs}
        for d in self.derived:
            if expr.names(d.expression) <= static:
                static.add(d.name)
        return static

    def iiv_parameters(self) -> list[ParameterSpec]:
        return [p for p in self.parameters if p.omega is not None and p.omega > 0]


def _require(used: set[str], known: set[str], where: str) -> None:
    missing = sorted(used - known)
    if missing:
        raise InvalidInput(where, missing, "names defined earlier in the spec")
