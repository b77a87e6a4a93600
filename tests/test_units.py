"""Units: UCUM codes, aliases, exact conversion, and clear errors."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from immunoreset.errors import InvalidInput
from immunoreset.units import canonical_unit, convert, same_dimension


@pytest.mark.parametrize(
    ("value", "src", "dst", "expected"),
    [
        ("1.2", "mg/dL", "g/L", "0.012"),
        ("0.5", "g/L", "mg/dL", "50"),
        ("3.5", "/nL", "/uL", "3500"),
        ("3.5", "/nL", "10*9/L", "3.5"),
        (3500, "/uL", "10*9/L", "3.5"),
        (212, "[degF]", "Cel", "100"),
        ("98.6", "[degF]", "Cel", "37"),
        ("10", "mg/L", "mg/dL", "1"),
        (0.1, "g/L", "mg/dL", "10"),
    ],
)
def test_exact_conversions(value: object, src: str, dst: str, expected: str) -> None:
    assert convert(value, src, dst) == Decimal(expected)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("alias", "code"), [("x10^9/L", "10*9/L"), ("mg/dl", "mg/dL"), ("°C", "Cel"), ("cells/µL", "/uL")]
)
def test_aliases_normalise_to_ucum(alias: str, code: str) -> None:
    assert canonical_unit(alias) == code


def test_numpy_floats_convert_through_their_text() -> None:
    assert convert(np.float64(1.5), "10*9/L", "/uL") == Decimal(1500)


@pytest.mark.parametrize(
    ("value", "src", "dst", "field"),
    [
        (1, "furlong", "/uL", "value unit"),
        (1, "mg/dL", "/uL", "value unit"),
        (float("nan"), "/uL", "/uL", "value"),
        ("abc", "/uL", "/uL", "value"),
    ],
)
def test_errors_name_the_field(value: object, src: str, dst: str, field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        convert(value, src, dst)  # type: ignore[arg-type]
    assert err.value.field == field


@given(st.decimals(min_value=0, max_value=10**6, places=3))
def test_round_trip_is_exact(value: Decimal) -> None:
    assert convert(convert(value, "mg/dL", "g/L"), "g/L", "mg/dL") == value
    assert same_dimension("mg/dL", "g/L") and not same_dimension("mg/dL", "/uL")


def test_mg_per_mmol_and_egfr_are_units_of_their_own() -> None:
    # mg/mmol (urine protein or albumin per creatinine) needs creatinine's molar mass to become g/g: refused
    assert canonical_unit("mg/mmol") == "mg/mmol"
    with pytest.raises(InvalidInput, match="convertible to g/g"):
        convert("50", "mg/mmol", "g/g")
    # eGFR per 1.73 m² is not a plain flow: an oxygen flow in L/min never becomes an eGFR
    assert convert("62.5", "ml/min/1.73m2", "mL/min/{1.73_m2}") == Decimal("62.5")
    with pytest.raises(InvalidInput, match="eGFR"):
        convert("1", "L/min", "mL/min/{1.73_m2}")
