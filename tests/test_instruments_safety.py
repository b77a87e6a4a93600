"""Safety instruments: ASTCT CRS/ICE/ICANS, EHA/EBMT ICAHT, CAR-HEMATOTOX, CTCAE v5.0.

Worked examples are hand-computed from the published tables (ASTCT: Lee DW et al., Biol Blood Marrow
Transplant 2019;25:625-38; ICAHT: Rejeski K et al., Blood 2023;142:865-77; CAR-HEMATOTOX: Rejeski K et al.,
Blood 2021;138:2499-513; CTCAE v5.0, NCI 2017); boundaries are tested on both sides; properties with
hypothesis; CLI end to end.
"""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from immunoreset import instruments
from immunoreset.errors import InvalidInput
from immunoreset.instruments.safety import (
    car_hematotox,
    crs,
    ctcae,
    icaht,
    icans,
    ice,
)

# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def temp(c: float | str) -> dict[str, Any]:
    return {"value": c, "unit": "Cel"}


def flow(lpm: float | str) -> dict[str, Any]:
    return {"value": lpm, "unit": "L/min"}


def crs_one(**fields: Any) -> Any:
    data: dict[str, Any] = {"hypotension": "none", "oxygen": "none"}
    data.update(fields)
    return crs(data)


ALERT = {"consciousness": "alert", "seizure": "none", "motor": "none", "intracranial_pressure": "none"}


def icans_one(**fields: Any) -> Any:
    data = dict(ALERT)
    data.update(fields)
    return icans(data)


def anc_series(values: dict[int, float | int], unit: str = "/uL", **extra: Any) -> dict[str, Any]:
    return {"unit": unit, "anc": [{"day": d, "value": v} for d, v in sorted(values.items())], **extra}


def daily(neutropenic: range | list[int], profound: range | list[int] = (), n: int = 31) -> dict[int, int]:
    """A complete day 0..n-1 series: 300/µL on neutropenic days, 50/µL on profound days, else 2000."""
    out = {}
    for d in range(n):
        out[d] = 50 if d in profound else 300 if d in neutropenic else 2000
    return out


# ---------------------------------------------------------------------------------------------
# CRS
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "grade"),
    [
        ({"temperature": temp(38.9)}, 1),  # C1 fever only
        (
            {
                "temperature": temp(39.5),
                "hypotension": "one_vasopressor",
                "oxygen": "nasal_cannula",
                "oxygen_flow": flow(2),
            },
            3,
        ),  # C2: ASTCT's own example
        ({"temperature": temp(38.4), "hypotension": "fluids_only"}, 2),  # C3
        ({"temperature": temp(38.2), "oxygen": "nasal_cannula", "oxygen_flow": flow(6)}, 2),  # C4 exactly 6
        ({"temperature": temp(38.2), "oxygen": "nasal_cannula", "oxygen_flow": flow(7)}, 3),  # C5
        ({"temperature": temp(37.2), "treated_for_crs": True, "hypotension": "one_vasopressor"}, 3),  # C6
        ({"temperature": temp(37.0), "treated_for_crs": True, "hypotension": "multiple_vasopressors"}, 4),  # C7
        ({"temperature": temp(37.9), "treated_for_crs": False, "hypotension": "fluids_only"}, 0),  # C8
        ({"temperature": temp(38.0), "oxygen": "positive_pressure"}, 4),  # C9 exactly 38.0
        ({"temperature": temp(38.6), "oxygen": "facemask"}, 3),  # C10
    ],
)
def test_crs_worked_examples(fields: dict[str, Any], grade: int) -> None:
    result = crs_one(**fields)
    assert result.evaluable and result.grade == grade


def test_crs_nasal_cannula_flow_boundary_both_sides() -> None:
    at = crs_one(temperature=temp(38.5), oxygen="nasal_cannula", oxygen_flow=flow("6.0"))
    above = crs_one(temperature=temp(38.5), oxygen="nasal_cannula", oxygen_flow=flow("6.01"))
    assert (at.grade, above.grade) == (2, 3)
    assert at.determined_by == ["hypoxia"]


def test_crs_fever_boundary_both_sides_and_fahrenheit() -> None:
    assert crs_one(temperature=temp("38.0")).grade == 1
    assert crs_one(temperature=temp("37.99")).grade == 0  # afebrile, no hypotension/hypoxia
    # afebrile with hypotension: CRS only if already treated for CRS -> must be stated
    assert crs_one(temperature=temp("37.99"), hypotension="fluids_only").grade is None
    assert crs_one(temperature=temp("37.99"), hypotension="fluids_only", treated_for_crs=False).grade == 0
    assert crs_one(temperature={"value": "100.4", "unit": "[degF]"}).grade == 1  # exactly 38.0 °C
    assert crs_one(temperature={"value": "100.3", "unit": "[degF]"}, treated_for_crs=False).grade == 0


def test_crs_fever_masked_by_tocilizumab() -> None:
    masked = crs_one(temperature=temp("36.8"), treated_for_crs=True, oxygen="nasal_cannula", oxygen_flow=flow(3))
    unmasked = crs_one(temperature=temp("36.8"), treated_for_crs=False, oxygen="nasal_cannula", oxygen_flow=flow(3))
    assert (masked.grade, unmasked.grade) == (2, 0)
    resolved = crs_one(temperature=temp("36.8"), treated_for_crs=True)
    assert resolved.grade == 0


def test_crs_vasopressin_does_not_count_as_second_pressor() -> None:
    # norepinephrine + vasopressin is "one vasopressor with or without vasopressin"
    assert crs_one(temperature=temp(39), hypotension="one_vasopressor").grade == 3
    assert crs_one(temperature=temp(39), hypotension="multiple_vasopressors").grade == 4


def test_crs_most_severe_event_decides() -> None:
    result = crs_one(temperature=temp(39), hypotension="fluids_only", oxygen="positive_pressure")
    assert result.grade == 4 and result.determined_by == ["hypoxia"]
    both = crs_one(temperature=temp(39), hypotension="one_vasopressor", oxygen="venturi_mask")
    assert both.grade == 3 and both.determined_by == ["hypotension", "hypoxia"]


def test_crs_missing_data_not_evaluable_unless_decided() -> None:
    result = crs({"temperature": temp(39), "hypotension": "none"})
    assert not result.evaluable and result.grade is None and "oxygen" in (result.reason or "")
    nc = crs({"temperature": temp(39), "hypotension": "none", "oxygen": "nasal_cannula"})
    assert not nc.evaluable and "oxygen_flow" in (nc.reason or "")
    # positive pressure already decides grade 4 whatever hypotension is
    assert crs({"temperature": temp(39), "oxygen": "positive_pressure"}).grade == 4
    assert crs({"hypotension": "none", "oxygen": "none"}).grade is None  # temperature missing


def test_crs_grade_5_and_contradictions() -> None:
    assert crs({"death_due_to_crs": True}).grade == 5
    with pytest.raises(InvalidInput) as err:
        crs_one(temperature=temp(39), oxygen="none", oxygen_flow=flow(2))
    assert err.value.field == "oxygen_flow"
    with pytest.raises(InvalidInput) as err:
        crs_one(temperature={"value": 39, "unit": "K"})
    assert err.value.field == "temperature.unit"
    with pytest.raises(InvalidInput) as err:
        crs({"temperatur": temp(39)})
    assert "did you mean 'temperature'" in str(err.value)


def test_crs_course_summary() -> None:
    course = [
        {"day": 0, "temperature": temp(37.0), "hypotension": "none", "oxygen": "none", "treated_for_crs": False},
        {"day": 1, "temperature": temp(38.5), "hypotension": "none", "oxygen": "none"},
        {"day": 2, "temperature": temp(39.1), "hypotension": "fluids_only", "oxygen": "none"},
        {"day": 2, "temperature": temp(39.4), "hypotension": "one_vasopressor", "oxygen": "none"},
        # tocilizumab given on day 2 evening; afebrile afterwards but still hypoxic on day 3
        {
            "day": 3,
            "temperature": temp(37.1),
            "treated_for_crs": True,
            "hypotension": "none",
            "oxygen": "blow_by",
        },
        # "treated" carries forward: fever not required
        {"day": 4, "temperature": temp(36.9), "hypotension": "none", "oxygen": "nasal_cannula", "oxygen_flow": flow(1)},
        {"day": 5, "temperature": temp(36.8), "hypotension": "none", "oxygen": "none"},
        {"day": 6, "temperature": temp(36.7), "hypotension": "none", "oxygen": "none"},
    ]
    result = crs({"assessments": course})
    assert result.evaluable
    assert [c.grade for c in result.course or []] == [0, 1, 3, 2, 2, 0, 0]
    assert (result.onset_day, result.max_grade, result.max_grade_day) == (1, 3, 2)
    assert (result.last_day_with_event, result.duration_days, result.resolution_day, result.resolved) == (
        4,
        4,
        5,
        True,
    )


def test_crs_course_unresolved_and_unevaluable_day() -> None:
    ongoing = crs({"assessments": [{"day": 1, "temperature": temp(39), "hypotension": "none", "oxygen": "none"}]})
    assert ongoing.resolved is False and ongoing.duration_days == 1
    gap = crs({"assessments": [{"day": 1, "temperature": temp(39)}, {"day": 2, "temperature": temp(37)}]})
    assert not gap.evaluable and gap.max_grade is None and "1" in (gap.reason or "")
    with pytest.raises(InvalidInput) as err:
        crs({"assessments": [{"temperature": temp(39), "hypotension": "none", "oxygen": "none"}]})
    assert err.value.field == "assessments.0.day"
    with pytest.raises(InvalidInput):
        crs({"assessments": [], "temperature": temp(39)})


# ---------------------------------------------------------------------------------------------
# ICE and ICANS
# ---------------------------------------------------------------------------------------------

FULL_ICE = {"orientation": 4, "naming": 3, "following_commands": 1, "writing": 1, "attention": 1}


def test_ice_score_and_row_grades() -> None:
    assert ice(FULL_ICE).score == 10 and ice(FULL_ICE).icans_grade_by_ice == 0
    nine = ice({**FULL_ICE, "orientation": 3})
    assert (nine.score, nine.icans_grade_by_ice) == (9, 1)  # I1
    unarousable = ice({"unarousable": True})
    assert (unarousable.score, unarousable.icans_grade_by_ice) == (0, 4)
    aphasic = ice({"orientation": 0, "naming": 0, "following_commands": 0, "writing": 0, "attention": 0})
    assert (aphasic.score, aphasic.icans_grade_by_ice) == (0, 3)
    assert not ice({"orientation": 4}).evaluable
    with pytest.raises(InvalidInput) as err:
        ice({**FULL_ICE, "naming": 4})
    assert err.value.field == "naming"
    with pytest.raises(InvalidInput):
        ice({"unarousable": True, "orientation": 2})


@pytest.mark.parametrize(("score", "grade"), [(10, 0), (9, 1), (7, 1), (6, 2), (3, 2), (2, 3), (0, 3)])
def test_icans_ice_row_boundaries(score: int, grade: int) -> None:
    assert icans_one(ice_score=score).grade == grade


@pytest.mark.parametrize(
    ("fields", "grade"),
    [
        ({"ice": {**FULL_ICE, "orientation": 3}}, 1),  # I1
        ({"ice_score": 3, "seizure": "rapidly_resolving"}, 3),  # I2 (ASTCT example)
        ({"ice_score": 0, "global_aphasia": True}, 3),  # I3 awake, aphasic
        ({"ice_score": 0, "consciousness": "unarousable"}, 4),  # I4 unarousable
        ({"ice_score": 7, "consciousness": "awakens_to_voice"}, 2),  # I5
        ({"ice_score": 10}, 0),  # I6 tremor/myoclonus only: not ICANS
        ({"ice_score": 8, "seizure": "prolonged_or_repetitive"}, 4),  # I7
        ({"ice_score": 6, "intracranial_pressure": "focal_edema"}, 3),  # I8
        ({"ice_score": 2}, 3),  # I9
        ({"ice_score": 9, "motor": "deep_focal_weakness"}, 4),  # I10
        ({"ice_score": 8}, 1),  # I11 intracranial haemorrhage is excluded: graded by ICE only
        ({"ice_score": 10, "consciousness": "awakens_spontaneously"}, 1),  # not the same as 'alert'
        ({"ice_score": 10, "consciousness": "awakens_to_tactile_stimulus"}, 3),
        ({"ice_score": 10, "intracranial_pressure": "papilledema"}, 4),
    ],
)
def test_icans_worked_examples(fields: dict[str, Any], grade: int) -> None:
    result = icans_one(**fields)
    assert result.evaluable and result.grade == grade


def test_icans_ice_zero_unarousable_vs_aphasic() -> None:
    aphasic = icans_one(ice={"orientation": 0, "naming": 0, "following_commands": 0, "writing": 0, "attention": 0})
    unarousable = icans({"ice": {"unarousable": True}})  # other domains unknown, but grade 4 decided
    assert (aphasic.grade, unarousable.grade) == (3, 4)
    assert unarousable.evaluable and unarousable.ice_score == 0
    with pytest.raises(InvalidInput) as err:
        icans_one(ice_score=3, consciousness="unarousable")
    assert err.value.field == "ice_score"
    with pytest.raises(InvalidInput):
        icans_one(ice_score=0, consciousness="unarousable", global_aphasia=True)


def test_icans_missing_domain_and_paediatric() -> None:
    result = icans({"ice_score": 9})
    assert not result.evaluable and "consciousness" in (result.reason or "")
    child = icans_one(ice_score=10, age_years=8)
    assert not child.evaluable and "CAPD" in (child.reason or "")
    assert icans_one(ice_score=10, age_years=12).grade == 0
    assert not icans_one(ice_score=10, age_years=30, baseline_developmental_delay=True).evaluable
    assert icans({"death_due_to_icans": True}).grade == 5


def test_icans_course() -> None:
    course = [
        {"day": 4, "ice_score": 10, **ALERT},
        {"day": 5, "ice_score": 8, **ALERT},
        {"day": 6, "ice_score": 5, **ALERT},
        {"day": 7, "ice_score": 9, **ALERT},
        {"day": 8, "ice_score": 10, **ALERT},
    ]
    result = icans({"assessments": course})
    assert (result.onset_day, result.max_grade, result.max_grade_day, result.duration_days) == (5, 2, 6, 3)
    assert result.resolution_day == 8 and result.resolved


# ---------------------------------------------------------------------------------------------
# ICAHT
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("neutropenic", "profound", "grade"),
    [
        (range(5, 11), [], 1),  # H1: 6 days
        (range(5, 12), [], 2),  # H2: 7 days
        (range(5, 18), range(5, 11), 2),  # H3: 13 / 6
        (range(5, 19), [], 3),  # H4: 14
        (range(5, 15), range(5, 12), 3),  # H5: 10 / 7 (<= 100 for >= 7 days)
        (range(5, 25), range(5, 19), 4),  # H6: 20 / 14
        (range(2, 31), [], 4),  # H7: never recovers from day 2
        ([], [], 0),
    ],
)
def test_icaht_early_worked_examples(neutropenic: range, profound: range, grade: int) -> None:
    result = icaht(anc_series(daily(neutropenic, profound)))
    assert result.early_grade == grade


def test_icaht_anc_exactly_500_and_100_count() -> None:
    # H8: ANC exactly 500 on days 5-11 (7 days) -> grade 2 (<= 500), although CTCAE calls 500 grade 3
    at500 = {d: (500 if 5 <= d <= 11 else 2000) for d in range(31)}
    above500 = {d: (501 if 5 <= d <= 11 else 2000) for d in range(31)}
    assert icaht(anc_series(at500)).early_grade == 2
    assert icaht(anc_series(above500)).early_grade == 0
    assert ctcae({"neutrophils": {"value": 500, "unit": "/uL"}}).neutrophil_count_decreased == 3
    # ANC exactly 100 for 7 days counts as profound
    at100 = {d: (100 if 5 <= d <= 11 else 2000) for d in range(31)}
    above100 = {d: (101 if 5 <= d <= 11 else 2000) for d in range(31)}
    assert icaht(anc_series(at100)).early_grade == 3
    assert icaht(anc_series(above100)).early_grade == 2


def test_icaht_non_stable_recovery_is_counted() -> None:
    # H9: <= 500 days 3-8, 600 on days 9-10 (non-stable), <= 500 days 11-14 -> 12 days
    values = {d: (300 if 3 <= d <= 8 or 11 <= d <= 14 else 600 if d in (9, 10) else 2000) for d in range(31)}
    for counting in ("cumulative", "longest_episode"):
        result = icaht(anc_series(values), options={"counting": counting})
        assert (result.early_grade, result.counted_days_le_500, result.days_anc_le_500) == (2, 12, 10)


def test_icaht_counting_rule_option_after_stable_recovery() -> None:
    # H10: <= 500 days 1-8, stable recovery days 9-12, <= 500 days 13-20
    values = {d: (300 if 1 <= d <= 8 or 13 <= d <= 20 else 2000) for d in range(31)}
    cumulative = icaht(anc_series(values))
    longest = icaht(anc_series(values), options={"counting": "longest_episode"})
    assert (cumulative.counted_days_le_500, cumulative.early_grade) == (16, 3)
    assert (longest.counted_days_le_500, longest.early_grade) == (8, 2)
    assert cumulative.days_anc_le_500 == longest.days_anc_le_500 == 16  # measured days do not depend on counting
    assert "cumulative" in cumulative.variant and "longest" in longest.variant


def test_icaht_three_day_recovery_is_stable_two_is_not() -> None:
    two = {d: (300 if 1 <= d <= 6 or 9 <= d <= 12 else 2000) for d in range(31)}  # 2-day gap
    three = {d: (300 if 1 <= d <= 6 or 10 <= d <= 13 else 2000) for d in range(31)}  # 3-day gap
    assert icaht(anc_series(two), options={"counting": "longest_episode"}).counted_days_le_500 == 12
    assert icaht(anc_series(three), options={"counting": "longest_episode"}).counted_days_le_500 == 6


def test_icaht_missing_days_are_not_assumed_normal() -> None:
    weekly = {d: 2000 for d in range(0, 31, 7)}
    result = icaht(anc_series(weekly))
    assert result.early_grade is None and result.early_grade_range == (0, 4)
    assert "no count on days 1-6" in (result.early_reason or "")
    # linear interpolation (Liang) fills gaps <= 7 days between counts; days 29-30 stay unknown
    linear = icaht(anc_series(weekly), options={"gap_handling": "linear"})
    assert linear.early_grade_range == (0, 1) and linear.missing_early_days == [29, 30]
    # a gap that cannot change the grade does not block it
    sure = daily(range(2, 31), profound=range(2, 20))
    del sure[25], sure[26]
    assert icaht(anc_series(sure)).early_grade == 4
    # ... but a gap that could be a recovery does: never above 500 (4) or 29 days (3)?
    open_question = daily(range(2, 31))
    del open_question[15]
    assert icaht(anc_series(open_question)).early_grade_range == (3, 4)


def test_icaht_linear_interpolation_is_exact() -> None:
    # 2000 on day 0 and 0 on day 4 -> days 1..3 are 1500, 1000, 500 exactly: day 3 counts (<= 500)
    values = {0: 2000, 4: 0, **{d: 2000 for d in range(5, 31)}}
    result = icaht(anc_series(values), options={"gap_handling": "linear"})
    assert result.days_anc_le_500 == 2 and result.early_grade == 1


def test_icaht_censoring_and_death() -> None:
    dead = anc_series({d: 200 for d in range(0, 13)}, censor_day=12, censor_reason="death")
    assert icaht(dead).early_grade == 4 and icaht(dead).never_recovered
    progressed = anc_series({d: 200 for d in range(0, 13)}, censor_day=12, censor_reason="progression")
    assert icaht(progressed).early_grade == 2  # 13 days, no grade-4 'never recovered' claim


def test_icaht_units_and_same_day_minimum() -> None:
    giga = anc_series({d: Decimal("0.3") if 5 <= d <= 11 else Decimal(2) for d in range(31)}, unit="10*9/L")
    assert icaht(giga).early_grade == 2
    data = anc_series(daily([]))
    data["anc"].append({"day": 5, "value": 400})  # a second, lower count on day 5
    assert icaht(data).days_anc_le_500 == 1
    with pytest.raises(InvalidInput) as err:
        icaht({"anc": [{"day": 1, "value": 300}]})
    assert err.value.field == "anc.0.unit"
    with pytest.raises(InvalidInput):
        icaht(anc_series({1: 300}, unit="mg/dL"))


@pytest.mark.parametrize(
    ("nadir", "grade"), [(1501, 0), (1500, 1), (1001, 1), (1000, 2), (501, 2), (500, 3), (101, 3), (100, 4)]
)
def test_icaht_late_boundaries(nadir: int, grade: int) -> None:
    values = {**daily([]), 45: nadir, 60: nadir, 90: 3000}
    assert icaht(anc_series(values)).late_grade == grade


def test_icaht_late_needs_two_measurements() -> None:
    one_low = {**daily([]), 45: 400, 60: 3000}
    assert icaht(anc_series(one_low)).late_grade == 0
    assert icaht(anc_series(one_low), options={"late_min_measurements": 1}).late_grade == 3
    only_one = icaht(anc_series({**daily([]), 45: 400}))
    assert only_one.late_grade is None and not only_one.evaluable and "late" in (only_one.reason or "")
    mixed = {**daily([]), 45: 80, 60: 900, 90: 3000}
    assert icaht(anc_series(mixed)).late_grade == 2  # two counts <= 1000, only one <= 100
    assert icaht(anc_series(mixed), options={"late_rule": "nadir"}).late_grade == 4
    assert icaht(anc_series(one_low), options={"late_rule": "nadir"}).late_grade == 0  # one count <= 1500
    windowed = icaht(anc_series({**daily([]), 45: 3000, 60: 3000, 200: 50, 210: 50}), options={"late_end_day": 100})
    assert windowed.late_grade == 0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=3000), min_size=31, max_size=31))
def test_icaht_properties(values: list[int]) -> None:
    series = anc_series(dict(enumerate(values)))
    cumulative = icaht(series)
    longest = icaht(series, options={"counting": "longest_episode"})
    assert cumulative.early_grade is not None and longest.early_grade is not None
    # cumulative counting never counts fewer days than the longest episode
    assert (cumulative.counted_days_le_500 or 0) >= (longest.counted_days_le_500 or 0)
    # counted days are the measured days plus bridged non-stable recoveries, never fewer
    assert (cumulative.counted_days_le_500 or 0) >= (cumulative.days_anc_le_500 or 0)
    assert cumulative.early_grade < 4 or cumulative.never_recovered or (cumulative.counted_days_le_100 or 0) >= 14
    assert cumulative.early_grade >= longest.early_grade
    # lowering every count can only worsen the grade
    lower = icaht(anc_series({d: v // 2 for d, v in enumerate(values)}))
    assert lower.early_grade is not None and lower.early_grade >= cumulative.early_grade
    # no neutropenic day -> grade 0; any -> at least 1
    assert (cumulative.early_grade == 0) == all(v > 500 for v in values)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=3000), min_size=31, max_size=31),
    st.sets(st.integers(min_value=0, max_value=30), max_size=10),
)
def test_icaht_bounds_contain_every_completion(values: list[int], holes: set[int]) -> None:
    full = icaht(anc_series(dict(enumerate(values))))
    partial = icaht(anc_series({d: v for d, v in enumerate(values) if d not in holes}))
    low, high = partial.early_grade_range or (None, None)
    assert low is not None and high is not None and full.early_grade is not None
    assert low <= full.early_grade <= high
    if partial.early_grade is not None:
        assert partial.early_grade == full.early_grade


# ---------------------------------------------------------------------------------------------
# CAR-HEMATOTOX
# ---------------------------------------------------------------------------------------------


def hematotox(plt: Any, anc: Any, hb: Any, crp: Any, ferritin: Any, crp_unit: str = "mg/dL") -> Any:
    return car_hematotox(
        {
            "platelets": {"value": plt, "unit": "/uL"},
            "anc": {"value": anc, "unit": "/uL"},
            "hemoglobin": {"value": hb, "unit": "g/dL"},
            "crp": {"value": crp, "unit": crp_unit},
            "ferritin": {"value": ferritin, "unit": "ng/mL"},
        }
    )


@pytest.mark.parametrize(
    ("values", "score", "risk"),
    [
        ((200_000, 3000, 12, "0.5", 300), 0, "low"),  # T1
        ((150_000, 1000, 10, "1.0", 400), 2, "high"),  # T2
        ((60_000, 3000, 12, "0.5", 300), 2, "high"),  # T3 platelets alone
        ((200_000, 3000, 12, "0.5", 2500), 2, "high"),  # T4 ferritin alone
        ((180_000, 1500, "9.5", "4.0", 700), 2, "high"),  # T5
        ((50_000, 800, "8.0", "5.0", 3000), 7, "high"),  # T6 maximum
        ((180_000, 1500, "9.5", "0.5", 700), 1, "low"),
    ],
)
def test_car_hematotox_worked_examples(values: tuple[Any, ...], score: int, risk: str) -> None:
    result = hematotox(*values)
    assert (result.score, result.risk) == (score, risk)


def test_car_hematotox_cutoffs_both_sides() -> None:
    base = (200_000, 3000, 12, "0.5", 300)

    def points(item: str, value: Any) -> int | None:
        args = dict(zip(("plt", "anc", "hb", "crp", "ferritin"), base, strict=True))
        args[item] = value
        result = hematotox(**args)
        key = {"plt": "platelets", "hb": "hemoglobin"}.get(item, item)
        return result.points[key]

    assert [points("plt", v) for v in (175_001, 175_000, 75_000, 74_999)] == [0, 1, 1, 2]
    assert [points("anc", v) for v in (1200, 1199)] == [0, 1]
    assert [points("hb", v) for v in ("9.0", "8.9")] == [0, 1]
    assert [points("crp", v) for v in ("2.9", "3.0")] == [0, 1]
    assert [points("ferritin", v) for v in (649, 650, 2000, 2001)] == [0, 1, 1, 2]
    assert hematotox(75_000, 1200, "9.0", "3.0", 650).at_cutoff == ["platelets", "anc", "hemoglobin", "crp", "ferritin"]


def test_car_hematotox_crp_unit_conversion() -> None:
    # T7: 30 mg/L is 3.0 mg/dL -> 1 point (not 30 mg/dL)
    assert hematotox(200_000, 3000, 12, 30, 300, crp_unit="mg/L").points["crp"] == 1
    assert hematotox(200_000, 3000, 12, 29, 300, crp_unit="mg/L").points["crp"] == 0
    giga = car_hematotox(
        {
            "platelets": {"value": 74, "unit": "10*9/L"},
            "anc": {"value": "1.2", "unit": "10*9/L"},
            "hemoglobin": {"value": 89, "unit": "g/L"},
            "crp": {"value": 5, "unit": "mg/L"},
            "ferritin": {"value": 700, "unit": "ug/L"},
        }
    )
    assert giga.points == {"platelets": 2, "anc": 0, "hemoglobin": 1, "crp": 0, "ferritin": 1}
    with pytest.raises(InvalidInput) as err:
        car_hematotox({"crp": {"value": 5, "unit": "mmol/L"}})
    assert err.value.field == "crp unit"


def test_car_hematotox_missing_items() -> None:
    partial = car_hematotox({"platelets": {"value": 50, "unit": "10*9/L"}})
    assert partial.evaluable and partial.risk == "high" and partial.score is None
    unknown = car_hematotox({"platelets": {"value": 250, "unit": "10*9/L"}})
    assert not unknown.evaluable and unknown.risk is None and "anc" in (unknown.reason or "")
    assert "not validated in autoimmune" in unknown.note


# ---------------------------------------------------------------------------------------------
# CTCAE v5.0
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "term", "value", "grade"),
    [
        ("neutrophils", "neutrophil_count_decreased", 1500, 1),
        ("neutrophils", "neutrophil_count_decreased", 1499, 2),
        ("neutrophils", "neutrophil_count_decreased", 1000, 2),
        ("neutrophils", "neutrophil_count_decreased", 999, 3),
        ("neutrophils", "neutrophil_count_decreased", 500, 3),
        ("neutrophils", "neutrophil_count_decreased", 499, 4),
        ("platelets", "platelet_count_decreased", 75_000, 1),
        ("platelets", "platelet_count_decreased", 74_999, 2),
        ("platelets", "platelet_count_decreased", 50_000, 2),
        ("platelets", "platelet_count_decreased", 49_999, 3),
        ("platelets", "platelet_count_decreased", 25_000, 3),
        ("platelets", "platelet_count_decreased", 24_999, 4),
        ("lymphocytes", "lymphocyte_count_decreased", 800, 1),
        ("lymphocytes", "lymphocyte_count_decreased", 799, 2),
        ("lymphocytes", "lymphocyte_count_decreased", 500, 2),
        ("lymphocytes", "lymphocyte_count_decreased", 200, 3),
        ("lymphocytes", "lymphocyte_count_decreased", 199, 4),
        ("wbc", "white_blood_cell_decreased", 3000, 1),
        ("wbc", "white_blood_cell_decreased", 2999, 2),
        ("wbc", "white_blood_cell_decreased", 2000, 2),
        ("wbc", "white_blood_cell_decreased", 1000, 3),
        ("wbc", "white_blood_cell_decreased", 999, 4),
    ],
)
def test_ctcae_count_boundaries(item: str, term: str, value: int, grade: int) -> None:
    result = ctcae({item: {"value": value, "unit": "/uL", "lln": 200_000}})
    assert getattr(result, term) == grade


def test_ctcae_lln_and_units() -> None:
    assert ctcae({"neutrophils": {"value": 1800, "unit": "/uL", "lln": 1800}}).neutrophil_count_decreased == 0
    assert ctcae({"neutrophils": {"value": "1.79", "unit": "10*9/L", "lln": "1.8"}}).neutrophil_count_decreased == 1
    no_lln = ctcae({"neutrophils": {"value": 1600, "unit": "/uL"}})
    assert no_lln.neutrophil_count_decreased is None and not no_lln.evaluable
    assert ctcae({"neutrophils": {"value": "0.499", "unit": "10*9/L"}}).neutrophil_count_decreased == 4
    with pytest.raises(InvalidInput) as err:
        ctcae({"platelets": {"value": 100, "unit": "cells/banana"}})
    assert err.value.field == "platelets.value unit"


def test_ctcae_anaemia() -> None:
    def grade(**hb: Any) -> int | None:
        return ctcae({"hemoglobin": hb}).anemia

    assert grade(value="8.0", unit="g/dL") == 2
    assert grade(value="7.9", unit="g/dL") == 3
    assert grade(value="10.0", unit="g/dL", lln="12.0") == 1
    assert grade(value="9.99", unit="g/dL") == 2
    assert grade(value=80, unit="g/L") == 2 and grade(value=79, unit="g/L") == 3
    assert grade(value="4.9", unit="mmol/L") == 2 and grade(value="4.8", unit="mmol/L") == 3
    assert grade(value="9.0", unit="g/dL", transfusion_indicated=True) == 3
    assert grade(value="7.0", unit="g/dL", life_threatening=True) == 4
    assert grade(value="13", unit="g/dL", lln=12) == 0


def test_hypogammaglobulinaemia_flag() -> None:
    assert ctcae({"igg": {"value": "3.99", "unit": "g/L"}}).hypogammaglobulinemia is True
    assert ctcae({"igg": {"value": 400, "unit": "mg/dL"}}).hypogammaglobulinemia is False
    custom = ctcae({"igg": {"value": 550, "unit": "mg/dL"}}, options={"igg_threshold_mg_per_dL": 600})
    assert custom.hypogammaglobulinemia is True and custom.igg_mg_per_dL == Decimal(550)
    assert not ctcae({}).evaluable


@settings(max_examples=80, deadline=None)
@given(st.decimals(min_value=0, max_value=5000, places=1), st.decimals(min_value=0, max_value=5000, places=1))
def test_ctcae_monotone(a: Decimal, b: Decimal) -> None:
    lo, hi = min(a, b), max(a, b)
    g_lo = ctcae({"neutrophils": {"value": lo, "unit": "/uL", "lln": 1800}}).neutrophil_count_decreased
    g_hi = ctcae({"neutrophils": {"value": hi, "unit": "/uL", "lln": 1800}}).neutrophil_count_decreased
    assert g_lo is not None and g_hi is not None and g_lo >= g_hi


# ---------------------------------------------------------------------------------------------
# Registry and CLI
# ---------------------------------------------------------------------------------------------


def test_registered() -> None:
    for name in ("crs", "ice", "icans", "icaht", "car_hematotox", "ctcae"):
        item = instruments.get(name)
        assert item.source and item.input_schema()["additionalProperties"] is False


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "immunoreset", *args], input=stdin, capture_output=True, text=True, timeout=120
    )


def test_cli_crs_csv_rows(tmp_path: Path) -> None:
    path = tmp_path / "crs.csv"
    path.write_text(
        "temperature.value,temperature.unit,hypotension,oxygen,oxygen_flow.value,oxygen_flow.unit,treated_for_crs\n"
        "38.2,Cel,none,nasal_cannula,6,L/min,\n"
        "38.2,Cel,none,nasal_cannula,7,L/min,\n"
        "37.1,Cel,one_vasopressor,none,,,true\n"
    )
    out = run("score", "crs", str(path))
    assert out.returncode == 0, out.stderr
    assert [r["grade"] for r in json.loads(out.stdout)] == [2, 3, 3]


def test_cli_icaht_series_and_option() -> None:
    values = {d: (300 if 1 <= d <= 8 or 13 <= d <= 20 else 2000) for d in range(31)}
    stdin = json.dumps(anc_series(values))
    default = run("score", "icaht", "-", stdin=stdin)
    longest = run("score", "icaht", "-", "--option", "counting=longest_episode", stdin=stdin)
    assert default.returncode == 0 and longest.returncode == 0, default.stderr + longest.stderr
    assert json.loads(default.stdout)[0]["early_grade"] == 3
    assert json.loads(longest.stdout)[0]["early_grade"] == 2
    table = run("score", "icaht", "-", "--format", "table", stdin=stdin)
    assert table.returncode == 0 and "ICAHT" in table.stdout


def test_cli_bad_input_exit_2_names_field() -> None:
    bad_unit = run("score", "car_hematotox", "-", stdin=json.dumps({"crp": {"value": 3, "unit": "furlong"}}))
    assert bad_unit.returncode == 2 and "crp.unit" in bad_unit.stderr
    bad_enum = run("score", "crs", "-", stdin=json.dumps({"temperature": temp(39), "hypotension": "lots"}))
    assert bad_enum.returncode == 2 and "hypotension" in bad_enum.stderr
    bad_option = run("score", "icaht", "-", "--option", "counting=median", stdin=json.dumps(anc_series({0: 1})))
    assert bad_option.returncode == 2 and "counting" in bad_option.stderr
    assert len(bad_option.stderr.strip().splitlines()) == 1


def test_cli_schema_ctcae() -> None:
    out = run("score", "ctcae", "--schema")
    assert out.returncode == 0
    assert "neutrophils" in json.loads(out.stdout)["properties"]


# ---------------------------------------------------------------------------------------------
# CRS and ICANS properties
# ---------------------------------------------------------------------------------------------

HYPOTENSION = ["none", "fluids_only", "not_requiring_vasopressors", "one_vasopressor", "multiple_vasopressors"]
OXYGEN = ["none", "blow_by", "high_flow_nasal_cannula", "facemask", "non_rebreather_mask", "venturi_mask"]


@settings(max_examples=150, deadline=None)
@given(
    st.decimals(min_value=35, max_value=42, places=2),
    st.sampled_from(HYPOTENSION),
    st.sampled_from([*OXYGEN, "positive_pressure", "nasal_cannula"]),
    st.decimals(min_value=0, max_value=15, places=1),
    st.booleans(),
)
def test_crs_properties(t: Decimal, hypo: str, oxygen: str, lpm: Decimal, treated: bool) -> None:
    fields: dict[str, Any] = {"temperature": temp(str(t)), "hypotension": hypo, "oxygen": oxygen}
    fields["treated_for_crs"] = treated
    if oxygen == "nasal_cannula":
        fields["oxygen_flow"] = flow(str(lpm))
    result = crs(fields)
    assert result.evaluable and result.grade is not None
    fever = t >= Decimal(38)
    if not fever and not treated:
        assert result.grade == 0
    else:
        # never below the grade of any single feature, and never above the worst one
        assert result.grade >= (1 if fever else 0)
        worse_hypotension = crs({**fields, "hypotension": "multiple_vasopressors"})
        assert worse_hypotension.grade == 4
    # more oxygen flow never lowers the grade
    if oxygen == "nasal_cannula":
        more = crs({**fields, "oxygen_flow": flow(str(lpm + 1))})
        assert (more.grade or 0) >= result.grade


@settings(max_examples=150, deadline=None)
@given(
    st.integers(min_value=0, max_value=10),
    st.sampled_from(["alert", "awakens_spontaneously", "awakens_to_voice", "awakens_to_tactile_stimulus"]),
    st.sampled_from(
        ["none", "rapidly_resolving", "nonconvulsive_resolving_with_intervention", "prolonged_or_repetitive"]
    ),
    st.sampled_from(["none", "deep_focal_weakness"]),
    st.sampled_from(["none", "focal_edema", "diffuse_edema", "papilledema"]),
)
def test_icans_grade_is_worst_domain(score: int, consciousness: str, seizure: str, motor: str, icp: str) -> None:
    result = icans(
        {
            "ice_score": score,
            "consciousness": consciousness,
            "seizure": seizure,
            "motor": motor,
            "intracranial_pressure": icp,
        }
    )
    ice_row = 0 if score == 10 else 1 if score >= 7 else 2 if score >= 3 else 3
    conscious_row = ["alert", "awakens_spontaneously", "awakens_to_voice", "awakens_to_tactile_stimulus"].index(
        consciousness
    )
    seizure_row = {"none": 0, "prolonged_or_repetitive": 4}.get(seizure, 3)
    motor_row = 4 if motor != "none" else 0
    icp_row = {"none": 0, "focal_edema": 3}.get(icp, 4)
    assert result.grade == max(ice_row, conscious_row, seizure_row, motor_row, icp_row)
    assert bool(result.determined_by) == (result.grade != 0)


# --- review #17.4: the table headline shows the result of course and multi-part instruments


def test_headlines_of_courses_and_multi_part_results() -> None:
    course = [
        {"day": 1, "temperature": temp(38.5), "hypotension": "none", "oxygen": "none"},
        {"day": 2, "temperature": temp(39.4), "hypotension": "not_requiring_vasopressors", "oxygen": "none"},
        {"day": 3, "temperature": temp(36.8), "hypotension": "none", "oxygen": "none"},
    ]
    assert crs({"assessments": course}).headline() == "max grade 2 (day 2; onset day 1, 2 d)"  # ASTCT grade 2
    assert crs({"temperature": temp(39), "hypotension": "none", "oxygen": "none"}).headline() == "grade 1"
    early = icaht(anc_series(daily(range(3, 10))))  # 7 neutropenic days, no late counts
    assert early.late_grade is None and early.headline() == f"early grade {early.early_grade}; late: not evaluable"
    partial = car_hematotox({"platelets": {"value": 50, "unit": "10*9/L"}})
    assert partial.headline().startswith("high risk")
    counts = ctcae({"neutrophils": {"value": 400, "unit": "/uL"}, "platelets": {"value": 40_000, "unit": "/uL"}})
    assert counts.headline() == "neutrophils grade 4, platelets grade 3"


def test_score_table_shows_the_course_maximum(tmp_path: Path) -> None:
    course = [{"day": 1, "temperature": {"value": 39.2, "unit": "Cel"}, "hypotension": "none", "oxygen": "none"}]
    path = tmp_path / "crs.json"
    path.write_text(json.dumps({"assessments": course}), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "immunoreset", "score", "crs", str(path), "--format", "table"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "max grade 1" in done.stdout and "grade: None" not in done.stdout


@pytest.mark.parametrize(
    ("device", "lpm", "grade"),
    [
        ("high_flow_nasal_cannula", "6", 2),  # review #17.5: ASTCT low flow is <= 6 L/min whatever the device
        ("high_flow_nasal_cannula", "4", 2),
        ("high_flow_nasal_cannula", "6.1", 3),
        ("high_flow_nasal_cannula", None, 3),  # no flow given: the device says high flow
        ("low_flow_nasal_cannula", "8", 3),  # more than 6 L/min is high flow
        ("low_flow_nasal_cannula", "6", 2),
        ("low_flow_nasal_cannula", None, 2),
    ],
)
def test_crs_flow_decides_low_or_high_flow_for_any_nasal_device(device: str, lpm: str | None, grade: int) -> None:
    extra = {"oxygen_flow": flow(lpm)} if lpm is not None else {}
    assert crs_one(temperature=temp(39), hypotension="none", oxygen=device, **extra).grade == grade


def test_icaht_grade_4_needs_no_recovery_above_500() -> None:
    """Review #17.6: ANC 300 on days 0-30 except 600 on days 10-11 -- a short recovery above 500 is counted
    (cumulative: 31 days) but the ANC was above 500, so grade 4 ("never above 500") does not apply: grade 3."""
    values = {d: (600 if d in (10, 11) else 300) for d in range(31)}
    result = icaht(anc_series(values))
    assert (result.early_grade, result.never_recovered) == (3, False)
    assert (result.days_anc_le_500, result.counted_days_le_500) == (29, 31)
    never = icaht(anc_series(dict.fromkeys(range(31), 300)))
    assert (never.early_grade, never.never_recovered, never.days_anc_le_500) == (4, True, 31)


@pytest.mark.parametrize(
    ("gap_days", "counted_100", "grade"),
    [(2, 14, 4), (3, 12, 3)],  # <= 100 on days 1-6 and after the gap: a 2-day recovery is non-stable, 3 is stable
)
def test_icaht_short_recovery_at_the_100_threshold(gap_days: int, counted_100: int, grade: int) -> None:
    second = range(7 + gap_days, 7 + gap_days + 6)
    values = {d: (50 if 1 <= d <= 6 or d in second else 2000) for d in range(31)}
    result = icaht(anc_series(values))
    assert result.days_anc_le_100 == 12
    assert result.counted_days_le_100 == counted_100
    assert result.early_grade == grade
