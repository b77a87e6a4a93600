"""Building blocks shared by every instrument: typed inputs and results, exact decimals,
three-valued criteria, and the :class:`Instrument` record that the registry holds.

Conventions (see ``docs/instruments.md``):

* An instrument is a pure function ``f(inputs, *, options=None) -> result``. ``inputs`` and
  ``options`` may be the typed pydantic models or plain mappings (validated on entry).
* Inputs forbid unknown fields, so a misspelt item is an error, never silently ignored.
* Numbers that meet a threshold are :class:`~decimal.Decimal`; JSON/CSV numbers are converted
  through their decimal text, so ``0.49`` is exactly 0.49 and ``1.2 - 0.9`` is exactly ``0.3``.
* Missing data make a result *not evaluable* (``evaluable=False`` with a ``reason``); wrong data
  raise :class:`~immunoreset.errors.InvalidInput`.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, ValidationError, model_validator

from immunoreset.errors import InvalidInput, Problem
from immunoreset.inputs import check_numbers_in
from immunoreset.units import canonical_unit, convert, same_dimension

__all__ = [
    "CellCount",
    "Exact",
    "Instrument",
    "InstrumentInput",
    "InstrumentOptions",
    "InstrumentResult",
    "MassConcentration",
    "Quantity",
    "all_of",
    "exact",
    "missing_reason",
    "parse",
    "reject_bool",
]


def _decimal_json(value: Decimal) -> int | float:
    """Decimals are written to JSON as plain numbers (integers stay integers)."""
    if value == value.to_integral_value():
        return int(value)
    return float(value)


Exact = Annotated[Decimal, PlainSerializer(_decimal_json, return_type=float, when_used="json")]
"""A decimal number compared exactly at thresholds, written to JSON as a number."""


def exact(value: Decimal | int | float | str) -> Decimal:
    """Convert a number to :class:`Decimal` through its shortest text, so ``exact(0.3) == Decimal("0.3")``."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(value)


class InstrumentInput(BaseModel):
    """Base of every instrument's input model: unknown fields are rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Quantity(InstrumentInput):
    """A measured value with its unit (a UCUM code or a common alias, e.g. ``Cel``, ``/uL``, ``mg/dL``).

    Written ``{"value": 3.5, "unit": "mg/dL"}``; :meth:`to` converts it exactly through
    :mod:`immunoreset.units`, so an unknown or incompatible unit is an error naming the field.
    """

    value: Exact = Field(description="The measured value.")
    unit: str = Field(description="UCUM unit code or common alias of the value; unknown units are errors.")

    def to(self, unit: str, *, field: str = "value") -> Decimal:
        """The value in ``unit`` (exact decimal conversion)."""
        canonical_unit(self.unit, field=f"{field}.unit")
        return convert(self.value, self.unit, unit, field=field)


class MassConcentration(Quantity):
    """A non-negative laboratory value in a mass-concentration unit (e.g. ``g/L``, ``mg/dL``, ``ng/mL``)."""

    value: Exact = Field(ge=0, description="The measured value (>= 0).")

    @model_validator(mode="after")
    def _unit(self) -> MassConcentration:
        canonical_unit(self.unit, field="unit")
        if not same_dimension(self.unit, "mg/dL"):
            raise InvalidInput("unit", self.unit, "a mass concentration unit such as 'g/L', 'mg/dL' or 'ng/mL'")
        return self


class CellCount(Quantity):
    """A non-negative blood cell count in a number-concentration unit (e.g. ``10*9/L``, ``/uL``)."""

    value: Exact = Field(ge=0, description="The measured count (>= 0).")

    @model_validator(mode="after")
    def _unit(self) -> CellCount:
        canonical_unit(self.unit, field="unit")
        if not same_dimension(self.unit, "10*9/L"):
            raise InvalidInput("unit", self.unit, "a cell count unit such as '10*9/L', '/uL' or '/nL'")
        return self


class InstrumentOptions(BaseModel):
    """Base of every instrument's options; each option has its published default."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class InstrumentResult(BaseModel):
    """Fields every instrument result carries."""

    model_config = ConfigDict(frozen=True)

    instrument: str
    variant: str
    source: str
    evaluable: bool
    reason: str | None = None

    TABLE_FIELDS: ClassVar[tuple[str, ...]] = ()
    """Result fields shown as columns by ``immunoreset score --format table``."""

    def headline(self) -> str:
        """A few words for tables: the main finding, or why there is none."""
        if not self.evaluable:
            return "not evaluable"
        for name in type(self).model_fields:
            if name not in InstrumentResult.model_fields:
                value = getattr(self, name)
                if isinstance(value, bool):
                    return f"{name.replace('_', ' ')}: {'yes' if value else 'no'}"
                return f"{name.replace('_', ' ')}: {value}"
        return "evaluable"


M = TypeVar("M", bound=BaseModel)


def _problems_from(err: ValidationError, model: type[BaseModel]) -> list[Problem]:
    problems: list[Problem] = []
    for e in err.errors():
        field = ".".join(str(p) for p in e["loc"]) or model.__name__
        kind = e["type"]
        raised = (e.get("ctx") or {}).get("error")
        if isinstance(raised, InvalidInput):  # raised by a model validator: keep its own fields
            prefix = ".".join(str(p) for p in e["loc"])
            for inner in raised.problems:
                name = f"{prefix}.{inner.field}" if prefix else inner.field
                problems.append(Problem(name, inner.value, inner.expected, inner.location))
            continue
        if kind == "missing":
            problems.append(Problem(field, InvalidInput.MISSING, "a value (this field is required)"))
            continue
        if kind == "extra_forbidden":
            name = str(e["loc"][-1]) if e["loc"] else field
            known = _known_fields(model, e["loc"][:-1])
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            problems.append(Problem(field, e.get("input"), f"no such field{hint}"))
            continue
        message = str(e["msg"])
        for prefix in ("Input should be ", "Value error, ", "Assertion failed, "):
            if message.startswith(prefix):
                message = message[len(prefix) :]
        problems.append(Problem(field, e.get("input"), message))
    return problems


def _known_fields(model: type[BaseModel], path: tuple[Any, ...]) -> list[str]:
    current: Any = model
    for part in path:
        fields = getattr(current, "model_fields", None)
        if not fields or part not in fields:
            return []
        annotation = fields[part].annotation
        candidates = [annotation, *getattr(annotation, "__args__", ())]
        current = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
        if current is None:
            return []
    return list(getattr(current, "model_fields", {}))


def parse(model: type[M], data: M | Mapping[str, Any] | None) -> M:
    """Validate ``data`` into ``model``; a plain mapping is validated, a model instance passes through.

    Pydantic's validation errors become one :class:`InvalidInput` listing every problem.
    """
    if isinstance(data, model):
        return data
    if data is None:
        data = {}
    if isinstance(data, BaseModel):
        data = data.model_dump()
    if not isinstance(data, Mapping):
        raise InvalidInput(model.__name__, data, "a JSON object (mapping of field names to values)")
    check_numbers_in(data)  # before pydantic converts anything: 1E999999999 to an int would never finish
    try:
        return model.model_validate(dict(data))
    except ValidationError as err:
        raise InvalidInput(problems=_problems_from(err, model)) from None


def reject_bool(value: Any) -> Any:
    """A ``BeforeValidator`` for whole-number items: ``true``/``false`` is refused, not read as 1/0."""
    if isinstance(value, bool):
        raise ValueError("a whole number, not true/false")
    return value


def missing_reason(names: Iterable[str]) -> str:
    """The not-evaluable reason naming the fields that were not recorded."""
    return f"not recorded: {', '.join(names)}"


def all_of(criteria: Iterable[bool | None]) -> bool | None:
    """Three-valued AND: ``False`` if any criterion fails, ``None`` if any is unknown, else ``True``.

    A definition with one failed criterion is decided (not met) even when other data are missing.
    """
    values = list(criteria)
    if any(v is False for v in values):
        return False
    if any(v is None for v in values):
        return None
    return True


InputT = TypeVar("InputT", bound=InstrumentInput)
OptionsT = TypeVar("OptionsT", bound=InstrumentOptions)
ResultT = TypeVar("ResultT", bound=InstrumentResult)


@dataclass(frozen=True)
class Instrument(Generic[InputT, OptionsT, ResultT]):
    """One entry of the instrument registry: what every front end (CLI, registry, web, docs) reads."""

    name: str
    title: str
    description: str
    source: str
    function: Callable[..., ResultT]
    input_model: type[InputT]
    options_model: type[OptionsT]
    result_model: type[ResultT]

    def score(self, inputs: InputT | Mapping[str, Any], options: OptionsT | Mapping[str, Any] | None = None) -> ResultT:
        """Score one assessment, validating ``inputs`` and ``options``."""
        return self.function(inputs, options=options)

    def input_schema(self) -> dict[str, Any]:
        """JSON Schema of the input model."""
        return self.input_model.model_json_schema()
