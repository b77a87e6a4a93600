"""Units: the one place where units are named, recognised and converted.

Units are identified by their UCUM code (https://ucum.org), e.g. ``mg/dL``, ``g/L``, ``10*9/L``,
``/uL``, ``Cel``, ``[degF]``, ``%``. Common spellings (``x10^9/L``, ``G/L``, ``cells/µL``, ``°C``,
``mg/dl``) are accepted as aliases and normalised to the UCUM code. Conversions use the
:mod:`pint` library in exact decimal arithmetic, so ``1.2 mg/dL`` is exactly ``0.012 g/L``.

Every other module receives values already in the unit it declares and calls :func:`convert`
at the boundary; no score converts units by itself. An unknown unit, or a conversion between
incompatible units (mass concentration to a cell count), raises
:class:`~immunoreset.errors.InvalidInput`.
"""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from typing import Any

import pint

from immunoreset.errors import InvalidInput

__all__ = ["UCUM", "canonical_unit", "convert", "same_dimension"]

# UCUM code -> (pint expression, scale factor applied to the pint unit, description)
UCUM: dict[str, tuple[str, Decimal, str]] = {
    # mass concentration
    "g/L": ("g/L", Decimal(1), "gram per litre"),
    "mg/L": ("mg/L", Decimal(1), "milligram per litre"),
    "mg/dL": ("mg/dL", Decimal(1), "milligram per decilitre"),
    "g/dL": ("g/dL", Decimal(1), "gram per decilitre"),
    "ug/mL": ("ug/mL", Decimal(1), "microgram per millilitre"),
    "ng/mL": ("ng/mL", Decimal(1), "nanogram per millilitre"),
    "ug/L": ("ug/L", Decimal(1), "microgram per litre (e.g. ferritin)"),
    "pg/mL": ("pg/mL", Decimal(1), "picogram per millilitre"),
    # amount per time (urine protein)
    "g/(24.h)": ("g/day", Decimal(1), "gram per 24 hours"),
    "mg/(24.h)": ("mg/day", Decimal(1), "milligram per 24 hours"),
    # ratios
    "g/g": ("dimensionless", Decimal(1), "gram per gram (e.g. urine protein/creatinine)"),
    "mg/g": ("dimensionless", Decimal("0.001"), "milligram per gram"),
    "mg/mg": ("dimensionless", Decimal(1), "milligram per milligram"),
    "mg/mmol": ("mg/mmol", Decimal(1), "milligram per millimole (urine protein or albumin/creatinine)"),
    "%": ("percent", Decimal(1), "percent"),
    "1": ("dimensionless", Decimal(1), "unitless"),
    # cell counts (number concentration)
    "10*9/L": ("1/L", Decimal(10) ** 9, "10^9 cells per litre"),
    "10*6/L": ("1/L", Decimal(10) ** 6, "10^6 cells per litre"),
    "10*12/L": ("1/L", Decimal(10) ** 12, "10^12 cells per litre"),
    "/uL": ("1/uL", Decimal(1), "cells per microlitre"),
    "/nL": ("1/nL", Decimal(1), "cells per nanolitre"),
    "/L": ("1/L", Decimal(1), "cells per litre"),
    "/[HPF]": ("1/hpf", Decimal(1), "cells per high-power field"),
    "{copies}/ug": ("1/ug", Decimal(1), "transgene copies per microgram genomic DNA (qPCR)"),
    # enzyme activity
    "U/L": ("EU/L", Decimal(1), "units (enzyme activity) per litre"),
    "U/mL": ("EU/mL", Decimal(1), "units per millilitre (e.g. antibody ELISA units)"),
    "[IU]/mL": ("IU/mL", Decimal(1), "international units per millilitre"),
    "[IU]/L": ("IU/L", Decimal(1), "international units per litre"),
    # temperature
    "Cel": ("degC", Decimal(1), "degree Celsius"),
    "[degF]": ("degF", Decimal(1), "degree Fahrenheit"),
    # flows, masses, time
    "L/min": ("L/min", Decimal(1), "litre per minute"),
    "mg": ("mg", Decimal(1), "milligram"),
    "g": ("g", Decimal(1), "gram"),
    "ug": ("ug", Decimal(1), "microgram"),
    "kg": ("kg", Decimal(1), "kilogram"),
    "mg/d": ("mg/day", Decimal(1), "milligram per day"),
    "mg/m2": ("mg/m**2", Decimal(1), "milligram per square metre"),
    "mmol/L": ("mmol/L", Decimal(1), "millimole per litre"),
    "umol/L": ("umol/L", Decimal(1), "micromole per litre"),
    # eGFR: the only unit of its kind here (a flow per body surface area), so it converts to nothing else;
    # in particular not to L/min (oxygen flow) as a plain flow would.
    "mL/min/{1.73_m2}": ("mL/min/m**2", Decimal(1), "millilitre per minute per 1.73 m² body surface area (eGFR)"),
    "d": ("day", Decimal(1), "day"),
    "h": ("hour", Decimal(1), "hour"),
    "cm": ("cm", Decimal(1), "centimetre"),
    "m2": ("m**2", Decimal(1), "square metre"),
}

_ALIASES: dict[str, str] = {
    "g/l": "g/L",
    "mg/l": "mg/L",
    "mg/dl": "mg/dL",
    "g/dl": "g/dL",
    "µg/ml": "ug/mL",
    "ug/ml": "ug/mL",
    "ng/ml": "ng/mL",
    "µg/l": "ug/L",
    "ug/l": "ug/L",
    "pg/ml": "pg/mL",
    "g/24h": "g/(24.h)",
    "g/24 h": "g/(24.h)",
    "g/d": "g/(24.h)",
    "g/day": "g/(24.h)",
    "mg/24h": "mg/(24.h)",
    "mg/24 h": "mg/(24.h)",
    "mg/day": "mg/d",
    "mg/mmol": "mg/mmol",
    "x10^9/l": "10*9/L",
    "x10e9/l": "10*9/L",
    "10^9/l": "10*9/L",
    "10e9/l": "10*9/L",
    "g/l (cells)": "10*9/L",
    "giga/l": "10*9/L",
    "x10^6/l": "10*6/L",
    "10^6/l": "10*6/L",
    "x10^12/l": "10*12/L",
    "10^12/l": "10*12/L",
    "/µl": "/uL",
    "cells/µl": "/uL",
    "cells/ul": "/uL",
    "1/ul": "/uL",
    "/mm3": "/uL",
    "cells/mm3": "/uL",
    "/nl": "/nL",
    "cells/nl": "/nL",
    "/hpf": "/[HPF]",
    "copies/ug": "{copies}/ug",
    "copies/µg": "{copies}/ug",
    "copies/ug dna": "{copies}/ug",
    "copies/µg dna": "{copies}/ug",
    "copies/ug gdna": "{copies}/ug",
    "copies/µg gdna": "{copies}/ug",
    "cells/hpf": "/[HPF]",
    "°c": "Cel",
    "degc": "Cel",
    "c": "Cel",
    "°f": "[degF]",
    "degf": "[degF]",
    "f": "[degF]",
    "iu/ml": "[IU]/mL",
    "iu/l": "[IU]/L",
    "u/l": "U/L",
    "u/ml": "U/mL",
    "percent": "%",
    "l/min": "L/min",
    "ml/min/1.73m2": "mL/min/{1.73_m2}",
    "ml/min/1.73 m2": "mL/min/{1.73_m2}",
    "ml/min/1.73m²": "mL/min/{1.73_m2}",
    "ml/min/1.73 m²": "mL/min/{1.73_m2}",
}


@cache
def _registry() -> Any:
    ureg: Any = pint.UnitRegistry(non_int_type=Decimal, autoconvert_offset_to_baseunit=True)
    ureg.define("high_power_field = [hpf] = hpf")
    ureg.define("international_unit = [iu] = IU")
    ureg.define("enzyme_unit = [enzyme_activity] = EU")
    return ureg


def canonical_unit(unit: str, *, field: str = "unit") -> str:
    """The UCUM code for ``unit`` (a UCUM code or a common alias); unknown units raise InvalidInput."""
    text = unit.strip()
    if text in UCUM:
        return text
    alias = _ALIASES.get(text.lower().replace("μ", "µ"))
    if alias is not None and alias in UCUM:
        return alias
    raise InvalidInput(field, unit, "a known UCUM unit, one of: " + ", ".join(UCUM))


def same_dimension(a: str, b: str) -> bool:
    """Whether two units can be converted into each other."""
    ureg = _registry()
    ua, ub = UCUM[canonical_unit(a)][0], UCUM[canonical_unit(b)][0]
    return bool(ureg.Quantity(1, ua).dimensionality == ureg.Quantity(1, ub).dimensionality)


def convert(value: Decimal | int | float | str, from_unit: str, to_unit: str, *, field: str = "value") -> Decimal:
    """Convert ``value`` from ``from_unit`` to ``to_unit`` exactly (decimal arithmetic).

    >>> convert("1.2", "mg/dL", "g/L")
    Decimal('0.012')
    >>> convert(3.5, "/nL", "10*9/L")
    Decimal('3.5')
    """
    src, dst = canonical_unit(from_unit, field=f"{field} unit"), canonical_unit(to_unit, field="target unit")
    try:
        # str() of a Python or NumPy float is its shortest round-trip text: 0.1 -> Decimal("0.1").
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except ArithmeticError:
        raise InvalidInput(field, value, "a number") from None
    if not number.is_finite():
        raise InvalidInput(field, value, "a finite number")
    if src == dst:
        return number
    expr_src, scale_src, _ = UCUM[src]
    expr_dst, scale_dst, _ = UCUM[dst]
    ureg = _registry()
    quantity = ureg.Quantity(number * scale_src, expr_src)
    try:
        converted = quantity.to(expr_dst).magnitude
    except pint.DimensionalityError:
        raise InvalidInput(f"{field} unit", from_unit, f"a unit convertible to {to_unit} ({UCUM[dst][2]})") from None
    result = Decimal(converted) / scale_dst
    # Remove representation noise from exact decimal scaling (e.g. 3.5E+3 -> 3500).
    normalised = result.normalize()
    exponent = normalised.as_tuple().exponent
    return normalised if isinstance(exponent, int) and exponent <= 0 else normalised.quantize(Decimal(1))
