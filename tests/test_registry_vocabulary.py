"""The observation vocabulary: units converted exactly, unknown or incompatible units and ranges refused."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from immunoreset.errors import InvalidInput
from immunoreset.registry.records import ObservationRecord
from immunoreset.registry.vocabulary import all_codes, code, normalise_value
from immunoreset.units import convert


def test_values_are_stored_as_reported_and_checked_in_the_canonical_unit() -> None:
    assert normalise_value("crp", "1.2", "mg/dL") == (Decimal("1.2"), "mg/dL", None)
    assert convert(Decimal("1.2"), "mg/dL", code("crp").unit) == Decimal("12")
    assert normalise_value("anc", "1.5", "/nL")[1] == "/nL"
    assert convert(Decimal("1.5"), "/nL", "/uL") == Decimal("1500")
    assert normalise_value("temperature", "100.4", "°F") == (Decimal("100.4"), "[degF]", None)
    assert convert(Decimal("100.4"), "[degF]", "Cel") == Decimal("38")
    assert normalise_value("c3", "90", "mg/dL")[0] == Decimal("90")  # 0.9 g/L


@pytest.mark.parametrize(
    ("name", "value", "unit", "message"),
    [
        ("crp", "1.2", "furlongs", "known UCUM unit"),
        ("crp", "1.2", "/uL", "convertible to mg/L"),
        ("hemoglobin", "45", "g/dL", "[0, 30] g/dL"),
        ("hemoglobin", "450", "g/L", "[0, 30] g/dL"),  # 45 g/dL after conversion
        ("mrss_face", "2.5", "1", "whole number"),
        ("temperature", "120", "[degF]", "[25, 45] Cel"),  # 48.9 °C
        ("no_such_code", "1", "1", "registry observation code"),
        ("crp", "NaN", "mg/L", "finite number"),
    ],
)
def test_bad_observations_name_the_code_value_and_expectation(name: str, value: str, unit: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message.replace("[", r"\[").replace("]", r"\]")):
        normalise_value(name, value, unit)


def test_coded_answers_must_be_one_of_the_instrument_choices() -> None:
    assert normalise_value("crs_hypotension", None, None, "one_vasopressor") == (None, "1", "one_vasopressor")
    with pytest.raises(InvalidInput, match="one of none, fluids_only"):
        normalise_value("crs_hypotension", None, None, "some")
    with pytest.raises(ValidationError):
        ObservationRecord(code="icans_consciousness", value_text="sleepy")


def test_every_code_has_a_known_unit_and_a_unique_sdtm_test_code() -> None:
    codes = all_codes()
    assert len({(c.sdtm_domain, c.sdtm_testcd) for c in codes}) == len(codes)
    for entry in codes:
        assert len(entry.sdtm_testcd) <= 8
        assert convert(1, entry.unit, entry.unit) == 1  # a UCUM unit the units module knows


@given(st.decimals(min_value=0, max_value=30, places=2))
def test_haemoglobin_range_is_inclusive_and_unit_independent(g_per_dl: Decimal) -> None:
    as_g_per_l = g_per_dl * 10
    assert normalise_value("hemoglobin", g_per_dl, "g/dL")[0] == g_per_dl
    assert normalise_value("hemoglobin", as_g_per_l, "g/L")[0] == as_g_per_l
