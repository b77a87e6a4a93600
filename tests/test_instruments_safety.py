"""Safety instruments: ASTCT CRS/ICE/CAPD/ICANS, EHA/EBMT ICAHT, T-ICAHT, CAR-HEMATOTOX, CTCAE v5.0/v6.0, LICATS.

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
    capd,
    car_hematotox,
    crs,
    ctcae,
    icaht,
    icans,
    ice,
    licats,
    t_icaht,
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


# =============================================================================================
# Paediatric ICANS with the CAPD (ASTCT: Lee DW et al. 2019; CAPD: Traube C et al. Crit Care Med 2014)
# =============================================================================================

CAPD_NAMES = (
    "capd_eye_contact",
    "capd_purposeful_actions",
    "capd_aware_of_surroundings",
    "capd_communicates_needs",
    "capd_restless",
    "capd_inconsolable",
    "capd_underactive",
    "capd_slow_to_respond",
)


def capd_items(*points: int) -> dict[str, int]:
    return dict(zip(CAPD_NAMES, points, strict=True))


def test_capd_total_and_delirium_cut_off() -> None:
    # CHOP/Traube form: items 1-4 never = 4 ... always = 0, items 5-8 never = 0 ... always = 4; >= 9 delirium
    never_eye_contact_always_restless = capd_items(4, 0, 0, 0, 4, 0, 0, 0)  # 4 + 4 = 8
    result = capd(never_eye_contact_always_restless)
    assert (result.score, result.delirium, result.icans_grade_by_capd) == (8, False, 1)
    nine = capd(capd_items(4, 0, 0, 0, 4, 1, 0, 0))
    assert (nine.score, nine.delirium, nine.icans_grade_by_capd) == (9, True, 3)
    assert capd(capd_items(0, 0, 0, 0, 0, 0, 0, 0)).icans_grade_by_capd == 0
    assert capd(capd_items(0, 0, 0, 0, 0, 0, 0, 1)).icans_grade_by_capd == 1
    assert capd(capd_items(4, 4, 4, 4, 4, 4, 4, 4)).score == 32
    assert nine.headline() == "CAPD 9 (delirium)"


def test_capd_missing_items() -> None:
    partial = capd({"capd_eye_contact": 4, "capd_restless": 4})
    assert not partial.evaluable and partial.delirium is None and "capd_inconsolable" in (partial.reason or "")
    decided = capd({"capd_eye_contact": 4, "capd_restless": 4, "capd_underactive": 1})  # known 9: positive
    assert decided.evaluable and decided.delirium is True and decided.score is None
    with pytest.raises(InvalidInput):
        capd({"capd_restless": 5})
    with pytest.raises(InvalidInput):
        capd({"capd_restles": 1})


@given(st.lists(st.integers(0, 4), min_size=8, max_size=8))
def test_capd_total_is_the_sum_and_positive_from_9(points: list[int]) -> None:
    result = capd(capd_items(*points))
    assert result.score == sum(points) and 0 <= sum(points) <= 32
    assert result.delirium is (sum(points) >= 9)


def child(**fields: Any) -> Any:
    return icans_one(age_years=8, **fields)


@pytest.mark.parametrize(
    ("capd_score", "consciousness", "grade"),
    [
        (0, "alert", 0),  # no CAPD points, alert: no ICANS
        (1, "alert", 1),  # CAPD 1-8: grade 1
        (8, "alert", 1),
        (8, "awakens_spontaneously", 1),  # mdedge/ASTCT: grade 1 = CAPD < 9 and awakens spontaneously
        (8, "awakens_to_voice", 2),  # grade 2 = CAPD 1-8 and awakens to voice
        (9, "alert", 3),  # CAPD >= 9: grade 3
        (32, "alert", 3),
        (3, "awakens_to_tactile_stimulus", 3),
        (3, "unarousable", 4),
    ],
)
def test_paediatric_icans_capd_row(capd_score: int, consciousness: str, grade: int) -> None:
    result = child(capd_score=capd_score, consciousness=consciousness)
    assert result.grade == grade and result.encephalopathy_tool == "capd" and result.capd_score == capd_score


def test_paediatric_icans_items_other_domains_and_unable() -> None:
    items = capd_items(2, 1, 1, 2, 1, 0, 1, 1)  # 9
    result = child(**items)
    assert (result.grade, result.capd_score, result.determined_by) == (3, 9, ["capd"])
    assert child(capd_score=2, seizure="rapidly_resolving").grade == 3  # most severe event
    assert child(capd_score=2, motor="deep_focal_weakness").grade == 4
    assert child(capd_score=2, intracranial_pressure="focal_edema").grade == 3
    assert child(capd_unable=True).grade == 4  # unable to perform CAPD: grade 4
    assert icans({"age_years": 8, "death_due_to_icans": True}).grade == 5


def test_age_boundary_12_years_chooses_ice_or_capd() -> None:
    assert child(capd_score=5).grade == 1
    assert icans_one(age_years="11.99", capd_score=5).encephalopathy_tool == "capd"
    at_12 = icans_one(age_years=12, ice_score=8)
    assert (at_12.grade, at_12.encephalopathy_tool) == (1, "ice")
    with pytest.raises(InvalidInput) as err:  # CAPD from 12 years needs developmental delay
        icans_one(age_years=12, capd_score=5)
    assert "age_years" in str(err.value)
    delayed = icans_one(age_years=30, baseline_developmental_delay=True, capd_score=10)
    assert (delayed.grade, delayed.encephalopathy_tool) == (3, "capd")
    no_age = icans_one(capd_score=5)
    assert not no_age.evaluable and "age_years" in (no_age.reason or "")


def test_paediatric_icans_missing_and_invalid() -> None:
    partial = child(capd_eye_contact=1, capd_restless=1)
    assert not partial.evaluable and "capd_inconsolable" in (partial.reason or "")
    decided = child(capd_eye_contact=4, capd_restless=4, capd_inconsolable=1)  # known items reach 9
    assert decided.grade == 3
    assert child(capd_eye_contact=1, seizure="prolonged_or_repetitive").grade == 4  # grade 4 decided anyway
    missing_domain = icans({"age_years": 8, "capd_score": 3})
    assert not missing_domain.evaluable and "consciousness" in (missing_domain.reason or "")
    for bad in (
        {"capd_score": 3, "capd_restless": 1},
        {"capd_score": 3, "capd_unable": True},
        {"capd_score": 33},
        {"capd_score": 3, "ice_score": 9},
    ):
        with pytest.raises(InvalidInput):
            child(**bad)


def test_paediatric_icans_course_and_cli() -> None:
    course = [
        {"day": 3, "age_years": 6, "capd_score": 0, **ALERT},
        {"day": 4, "age_years": 6, "capd_score": 10, **ALERT},
        {"day": 5, "age_years": 6, "capd_score": 4, **ALERT},
        {"day": 6, "age_years": 6, "capd_score": 0, **ALERT},
    ]
    result = icans({"assessments": course})
    assert (result.max_grade, result.max_grade_day, result.onset_day, result.duration_days) == (3, 4, 4, 2)
    out = run("score", "icans", "-", stdin=json.dumps({"age_years": 6, "capd_score": 9, **ALERT}))
    assert out.returncode == 0, out.stderr
    row = json.loads(out.stdout)
    row = row[0] if isinstance(row, list) else row
    assert row["grade"] == 3 and row["capd_score"] == 9 and row["encephalopathy_tool"] == "capd"


def test_cli_capd() -> None:
    out = run("score", "capd", "-", stdin=json.dumps(capd_items(1, 1, 1, 1, 1, 1, 1, 1)))
    assert out.returncode == 0, out.stderr
    row = json.loads(out.stdout)
    row = row[0] if isinstance(row, list) else row
    assert row["score"] == 8 and row["delirium"] is False


# =============================================================================================
# T-ICAHT (Rejeski K et al., Blood 2025, Table 1): early PLT < 50 x 10^9/L 1-6 d = 1, >= 7 d = 2;
# PLT < 20 x 10^9/L 1-13 d = 3, >= 14 d = 4; late (day 31-100, >= 2 tests) < 100 = 1, < 50 = 2,
# < 20 for 1-13 d = 3, >= 14 d = 4. Weights restated here independently of the code.
# =============================================================================================


def plt_series(values: dict[int, float | int | str], unit: str = "10*9/L", **extra: Any) -> dict[str, Any]:
    return {"unit": unit, "platelets": [{"day": d, "value": v} for d, v in sorted(values.items())], **extra}


def plt_daily(
    low50: range | list[int] = (), low20: range | list[int] = (), n: int = 101, normal: int = 200
) -> dict[int, int | float]:
    """A complete day 0..n-1 series (x 10^9/L): 10 on low20 days, 30 on low50 days, else ``normal``."""
    return {d: (10 if d in low20 else 30 if d in low50 else normal) for d in range(n)}


@pytest.mark.parametrize(
    ("low50", "low20", "grade"),
    [
        (range(0), range(0), 0),
        (range(3, 9), range(0), 1),  # 6 days < 50: grade 1
        (range(3, 10), range(0), 2),  # 7 days < 50: grade 2
        (range(3, 25), range(0), 2),  # long but never < 20: grade 2
        (range(0), range(5, 6), 3),  # 1 day < 20: grade 3
        (range(0), range(5, 18), 3),  # 13 days < 20: grade 3
        (range(0), range(5, 19), 4),  # 14 days < 20: grade 4
    ],
)
def test_t_icaht_early_table(low50: range, low20: range, grade: int) -> None:
    result = t_icaht(plt_series(plt_daily(low50, low20)))
    assert result.early_grade == grade and result.late_grade == 0 and result.evaluable


def test_t_icaht_thresholds_are_strictly_below() -> None:
    at_50 = {**plt_daily(), **dict.fromkeys(range(3, 10), 50)}  # 50 is not < 50
    assert t_icaht(plt_series(at_50)).early_grade == 0
    below_50 = {**plt_daily(), **dict.fromkeys(range(3, 10), "49.9")}
    assert t_icaht(plt_series(below_50)).early_grade == 2
    at_20 = {**plt_daily(), 5: 20}
    assert t_icaht(plt_series(at_20)).early_grade == 1  # 20 is < 50 but not < 20
    below_20 = {**plt_daily(), 5: "19.99"}
    assert t_icaht(plt_series(below_20)).early_grade == 3
    per_ul = {d: v * 1000 for d, v in plt_daily(low20=[5]).items()}
    assert t_icaht(plt_series(per_ul, unit="/uL")).early_grade == 3


def test_t_icaht_non_stable_recovery_counts() -> None:
    # < 50 on days 1-4 and 7-8 with a 2-day recovery (days 5-6): cumulative 8 days -> grade 2
    two_day = plt_daily(low50=[1, 2, 3, 4, 7, 8])
    result = t_icaht(plt_series(two_day))
    assert (result.days_plt_lt_50, result.counted_days_lt_50, result.early_grade) == (6, 8, 2)
    # a 3-day recovery (days 5-7) is stable: 4 + 2 = 6 days -> grade 1
    three_day = plt_daily(low50=[1, 2, 3, 4, 8, 9])
    result = t_icaht(plt_series(three_day))
    assert (result.counted_days_lt_50, result.early_grade) == (6, 1)
    shorter = t_icaht(plt_series(three_day), options={"stable_recovery_days": 4})
    assert shorter.early_grade == 2


def test_t_icaht_missing_days_bounds_and_linear() -> None:
    sparse = {0: 150, 3: 40, 10: 40, 17: 150, 24: 150, 30: 150, 40: 150, 60: 150}
    result = t_icaht(plt_series(sparse))
    assert result.early_grade is None and result.early_grade_range == (1, 4) and not result.evaluable
    linear = t_icaht(plt_series(sparse), options={"gap_handling": "linear"})
    # 3..10 all 40 by interpolation (8 days < 50, none < 20); 0->3: 150, 113.3, 76.7 (not < 50);
    # 10->17: 40 + 110*k/7: day 11 = 55.7 (not < 50) -> 8 days < 50: grade 2
    assert linear.early_grade == 2 and linear.counted_days_lt_50 == 8
    assert linear.late_grade == 0


@pytest.mark.parametrize(
    ("late_counts", "grade"),
    [
        ({40: 120, 60: 150}, 0),
        ({40: 100, 60: 100}, 0),  # 100 is not < 100
        ({40: "99.9", 60: 90}, 1),
        ({40: 90, 60: 150}, 0),  # one test only: two or more laboratory tests needed
        ({40: 49, 60: 45}, 2),
        ({40: 50, 60: 45}, 1),  # 50 is not < 50: only one test < 50
    ],
)
def test_t_icaht_late_thresholds(late_counts: dict[int, Any], grade: int) -> None:
    values = {**plt_daily(n=31), **late_counts}
    result = t_icaht(plt_series(values))
    assert result.late_grade == grade and result.early_grade == 0


def test_t_icaht_late_duration_below_20() -> None:
    thirteen = t_icaht(plt_series(plt_daily(low20=range(40, 53))))
    assert (thirteen.late_grade, thirteen.late_counted_days_lt_20) == (3, (13, 13))
    fourteen = t_icaht(plt_series(plt_daily(low20=range(40, 54))))
    assert fourteen.late_grade == 4
    weekly = t_icaht(plt_series({**plt_daily(n=31), 40: 10, 47: 10, 54: 150, 61: 150}))
    assert weekly.late_grade is None and weekly.late_grade_range == (3, 4) and "grade 3 or 4" in (weekly.reason or "")
    too_few = t_icaht(plt_series(plt_daily(n=31)))
    assert too_few.late_grade is None and "late T-ICAHT needs 2" in (too_few.late_reason or "")
    assert t_icaht(plt_series(plt_daily(n=31) | {40: 150}), options={"late_min_measurements": 1}).late_grade == 0


def test_t_icaht_censoring_units_and_invalid() -> None:
    censored = t_icaht(plt_series(plt_daily(low20=range(15, 31)), censor_day=20, censor_reason="progression"))
    assert censored.early_window == (0, 20) and censored.early_grade == 3 and censored.counted_days_lt_20 == 6
    same_day = plt_series({**plt_daily(), 5: 150})
    same_day["platelets"].append({"day": 5, "value": 15})  # the lowest count of the day counts
    assert t_icaht(same_day).early_grade == 3
    mixed = {"platelets": [{"day": d, "value": 200, "unit": "/nL"} for d in range(101)]}
    assert t_icaht(mixed).early_grade == 0
    with pytest.raises(InvalidInput):
        t_icaht({"platelets": [{"day": 1, "value": 100}]})  # no unit
    with pytest.raises(InvalidInput):
        t_icaht(plt_series({1: -5}))
    with pytest.raises(InvalidInput):
        t_icaht(plt_series({1: 5}, unit="cells/banana"))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 200), min_size=31, max_size=31), st.integers(0, 30), st.integers(0, 200))
def test_t_icaht_early_grade_monotone(values: list[int], day: int, lower: int) -> None:
    """Lowering any count never lowers the early grade (cumulative counting is monotone)."""
    base = {d: v for d, v in enumerate(values)}
    worse = {**base, day: min(base[day], lower)}
    g1 = t_icaht(plt_series(base)).early_grade
    g2 = t_icaht(plt_series(worse)).early_grade
    assert g1 is not None and g2 is not None and g2 >= g1


def test_cli_t_icaht() -> None:
    stdin = json.dumps(plt_series(plt_daily(low50=range(3, 10))))
    out = run("score", "t_icaht", "-", stdin=stdin)
    assert out.returncode == 0, out.stderr
    row = json.loads(out.stdout)[0]
    assert row["early_grade"] == 2 and row["counted_days_lt_50"] == 7 and row["late_grade"] == 0
    table = run("score", "t_icaht", "-", "--format", "table", stdin=stdin)
    assert table.returncode == 0 and "early grade 2; late grade 0" in table.stdout


# =============================================================================================
# LICATS (Hagen M et al., Lancet Rheumatol 2025;7:e424-33, abstract): grade 1 spontaneous resolution;
# 2 glucocorticoids for symptoms > 1 week or relevant inner-organ involvement; 3 prolonged or new
# hospitalisation; 4 intensive care. Onset: early <= 2 weeks, intermediate to 1 month, late beyond.
# =============================================================================================

LICATS_MET = {"new_or_worsening": True, "organ_previously_affected": True, "other_cause_excluded": True}
NO_CARE = {"glucocorticoids": False, "hospitalisation": False, "intensive_care": False}


@pytest.mark.parametrize(
    ("care", "grade"),
    [
        ({}, 1),
        ({"glucocorticoids": True}, 2),
        ({"glucocorticoids": True, "hospitalisation": True}, 3),
        ({"hospitalisation": True}, 3),
        ({"hospitalisation": True, "intensive_care": True}, 4),
    ],
)
def test_licats_grades(care: dict[str, bool], grade: int) -> None:
    result = licats({**LICATS_MET, **NO_CARE, **care, "organ": "kidney", "onset_day": 10})
    assert (result.licats, result.grade, result.onset) == (True, grade, "early")
    assert result.headline() == f"LICATS grade {grade} (kidney)"


def test_licats_definition_and_missing() -> None:
    not_previous = licats({**LICATS_MET, "organ_previously_affected": False})
    assert (not_previous.licats, not_previous.grade, not_previous.evaluable) == (False, 0, True)
    assert not_previous.headline() == "not LICATS"
    explained = licats({**LICATS_MET, "other_cause_excluded": False, "new_or_worsening": None})
    assert explained.licats is False  # one failed criterion decides although another is unknown
    unknown = licats({"new_or_worsening": True, "organ_previously_affected": True})
    assert not unknown.evaluable and "other_cause_excluded" in (unknown.reason or "")
    icu = licats({**LICATS_MET, "intensive_care": True})
    assert icu.grade == 4  # the top level decides without the others
    open_top = licats({**LICATS_MET, "hospitalisation": True})
    assert open_top.grade is None and "intensive_care" in (open_top.reason or "")
    open_mid = licats({**LICATS_MET, "intensive_care": False, "glucocorticoids": True})
    assert open_mid.grade is None and "hospitalisation" in (open_mid.reason or "")
    with pytest.raises(InvalidInput):
        licats({**LICATS_MET, "organ": "brain"})
    with pytest.raises(InvalidInput):
        licats({**LICATS_MET, "onset_day": -1})


@pytest.mark.parametrize(
    ("day", "onset"), [(0, "early"), (14, "early"), (15, "intermediate"), (30, "intermediate"), (31, "late")]
)
def test_licats_onset_boundaries(day: int, onset: str) -> None:
    assert licats({**LICATS_MET, **NO_CARE, "onset_day": day}).onset == onset


def test_licats_month_option() -> None:
    assert licats({**LICATS_MET, **NO_CARE, "onset_day": 31}, options={"one_month_days": 31}).onset == "intermediate"


@given(st.booleans(), st.booleans(), st.booleans())
def test_licats_grade_is_the_highest_level_of_care(gc: bool, hosp: bool, icu: bool) -> None:
    care = {"glucocorticoids": gc, "hospitalisation": hosp, "intensive_care": icu}
    expected = 4 if icu else 3 if hosp else 2 if gc else 1
    assert licats({**LICATS_MET, **care}).grade == expected


def test_cli_licats() -> None:
    stdin = json.dumps({**LICATS_MET, **NO_CARE, "glucocorticoids": True, "organ": "skin_mucosa", "onset_day": 21})
    out = run("score", "licats", "-", stdin=stdin)
    assert out.returncode == 0, out.stderr
    row = json.loads(out.stdout)[0]
    assert (row["licats"], row["grade"], row["onset"]) == (True, 2, "intermediate")


# =============================================================================================
# CTCAE v6.0 beside v5.0 (v6.0: neutrophils < 1500 = 1, < 1000 = 2, < 500 = 3, < 100 = 4, no LLN;
# Thrombocytopenia < LLN = 1, < 75,000 = 2, < 50,000 = 3, < 10,000 = 4; anaemia, WBC unchanged)
# =============================================================================================

V6 = {"version": "6.0"}


@pytest.mark.parametrize(
    ("anc", "v5", "v6"),
    [
        (1800, 0, 0),
        (1500, 1, 0),  # v5: < LLN (1800); v6: grade 1 starts below 1500
        (1499, 2, 1),
        (1000, 2, 1),
        (999, 3, 2),
        (500, 3, 2),
        (499, 4, 3),
        (100, 4, 3),
        (99, 4, 4),
    ],
)
def test_ctcae_neutrophils_both_versions(anc: int, v5: int, v6: int) -> None:
    lab = {"neutrophils": {"value": anc, "unit": "/uL", "lln": 1800}}
    assert ctcae(lab).neutrophil_count_decreased == v5
    assert ctcae(lab, options=V6).neutrophil_count_decreased == v6
    no_lln = ctcae({"neutrophils": {"value": anc, "unit": "/uL"}}, options=V6)
    assert no_lln.neutrophil_count_decreased == v6 and no_lln.evaluable  # v6.0 never needs the LLN


@pytest.mark.parametrize(
    ("plt", "v5", "v6"),
    [
        (150_000, 0, 0),
        (75_000, 1, 1),
        (74_999, 2, 2),
        (50_000, 2, 2),
        (49_999, 3, 3),
        (25_000, 3, 3),
        (24_999, 4, 3),  # v5 grade 4 below 25,000; v6 only below 10,000
        (10_000, 4, 3),
        (9_999, 4, 4),
    ],
)
def test_ctcae_platelets_both_versions(plt: int, v5: int, v6: int) -> None:
    lab = {"platelets": {"value": plt, "unit": "/uL", "lln": 150_000}}
    old, new = ctcae(lab), ctcae(lab, options=V6)
    assert (old.platelet_count_decreased, old.thrombocytopenia) == (v5, None)
    assert (new.thrombocytopenia, new.platelet_count_decreased) == (v6, None)
    assert (
        ctcae({"platelets": {"value": str(plt / 1000), "unit": "10*9/L", "lln": 150}}, options=V6).thrombocytopenia
        == v6
    )


def test_ctcae_v6_thrombocytopenia_clinical_criteria() -> None:
    def grade(version: str, **extra: Any) -> Any:
        return ctcae({"platelets": {"value": 60_000, "unit": "/uL", **extra}}, options={"version": version})

    assert grade("6.0", transfusion_indicated=True).thrombocytopenia == 3
    assert grade("6.0", life_threatening=True).thrombocytopenia == 4
    assert grade("6.0").thrombocytopenia == 2
    v5 = grade("5.0", transfusion_indicated=True, life_threatening=True)
    assert v5.platelet_count_decreased == 2 and "not criteria of CTCAE v5.0" in v5.notes["platelet_count_decreased"]
    grade3 = ctcae({"platelets": {"value": 30_000, "unit": "/uL"}}, options=V6)
    assert grade3.thrombocytopenia == 3 and "life-threatening" in grade3.notes["thrombocytopenia"]


def test_ctcae_v6_unchanged_terms_and_lymphocytes() -> None:
    for version in ("5.0", "6.0"):
        opts = {"version": version}
        assert ctcae({"hemoglobin": {"value": "7.9", "unit": "g/dL"}}, options=opts).anemia == 3
        assert ctcae({"hemoglobin": {"value": "8.0", "unit": "g/dL"}}, options=opts).anemia == 2
        assert ctcae({"hemoglobin": {"value": "10.0", "unit": "g/dL", "lln": 12}}, options=opts).anemia == 1
        assert ctcae({"wbc": {"value": 999, "unit": "/uL"}}, options=opts).white_blood_cell_decreased == 4
        assert ctcae({"wbc": {"value": 1000, "unit": "/uL"}}, options=opts).white_blood_cell_decreased == 3
        assert ctcae({"wbc": {"value": 2999, "unit": "/uL"}}, options=opts).white_blood_cell_decreased == 2
    lymph = ctcae({"lymphocytes": {"value": 100, "unit": "/uL"}}, options=V6)
    assert lymph.lymphocyte_count_decreased is None and not lymph.evaluable
    assert "no 'Lymphocyte count decreased'" in (lymph.reason or "")
    assert ctcae({"lymphocytes": {"value": 100, "unit": "/uL"}}).lymphocyte_count_decreased == 4


def test_ctcae_version_default_variant_and_invalid() -> None:
    default = ctcae({"neutrophils": {"value": 400, "unit": "/uL"}})
    assert (default.version, default.variant) == ("5.0", "CTCAE v5.0") and "v5.0" in default.source
    new = ctcae({"neutrophils": {"value": 400, "unit": "/uL"}}, options=V6)
    assert (new.version, new.variant) == ("6.0", "CTCAE v6.0") and "v6.0" in new.source
    assert new.headline() == "neutrophils grade 3"
    with pytest.raises(InvalidInput):
        ctcae({}, options={"version": "4.03"})
    with pytest.raises(InvalidInput):
        ctcae({}, options={"version": 6.01})
    assert ctcae({"wbc": {"value": 500, "unit": "/uL"}}, options={"version": 6}).version == "6.0"


def test_cli_ctcae_version_option() -> None:
    stdin = json.dumps({"neutrophils": {"value": 450, "unit": "/uL"}, "platelets": {"value": 20_000, "unit": "/uL"}})
    v5 = run("score", "ctcae", "-", stdin=stdin)
    v6 = run("score", "ctcae", "-", "--option", "version=6.0", stdin=stdin)
    assert v5.returncode == 0 and v6.returncode == 0, v5.stderr + v6.stderr
    r5, r6 = json.loads(v5.stdout)[0], json.loads(v6.stdout)[0]
    assert (r5["neutrophil_count_decreased"], r5["platelet_count_decreased"]) == (4, 4)
    assert (r6["neutrophil_count_decreased"], r6["thrombocytopenia"]) == (3, 3)


def test_new_instruments_registered() -> None:
    for name in ("capd", "t_icaht", "licats"):
        assert instruments.get(name).name == name
