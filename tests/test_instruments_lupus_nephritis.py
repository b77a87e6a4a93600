"""Lupus nephritis renal response (KDIGO 2024: Kidney Int 2024;105(1S):S1-S69; EULAR/ERA-EDTA 2019: Ann Rheum
Dis 2020;79:713-23) and drug-free DORIS remission at month 6 (Breakfree-SLE, NCT07015983).

The guidelines publish no worked examples, so every vector is hand-derived. The rules are restated here
independently of the code:

* KDIGO complete: proteinuria < 0.5 g/g (50 mg/mmol) and eGFR >= 0.90 x baseline (tolerance 10 %, option 15 %);
  partial: current <= 0.5 x baseline (>= 50 % reduction) and < 3 g/g (300 mg/mmol) and the same eGFR rule;
  time target 12 months (option 6-12).
* EULAR complete: < 0.5 g/24 h (option 0.7) and eGFR >= 90, or >= 81 when the baseline eGFR was < 90;
  partial: >= 50 % reduction and < 3.5 g (option 3) and the same GFR rule; partial by 6 months (12 when the
  baseline was nephrotic, >= 3.5), complete by 12 months (no limit when nephrotic).
* 1 g/g = 113.12 mg/mmol (creatinine 113.12 g/mol).
* Month 6 = study day 183 after the infusion (day 0), window ± 14 days inclusive: days 169-197.
"""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from immunoreset import instruments
from immunoreset.errors import InvalidInput
from immunoreset.instruments.lupus_nephritis import (
    CREATININE_MOLAR_MASS_G_PER_MOL,
    drug_free_doris_month6,
    ln_renal_response,
    upcr_g_per_g,
)

EULAR = {"definition": "eular_era_edta_2019"}


def ratio(value: Any, unit: str = "g/g") -> dict[str, Any]:
    return {"value": value, "unit": unit}


def daily(value: Any, unit: str = "g/24h") -> dict[str, Any]:
    return {"value": value, "unit": unit}


def visit(current: Any, baseline: Any = "4", *, unit: str = "g/g", **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "upcr": ratio(current, unit),
        "upcr_baseline": ratio(baseline, unit),
        "egfr_baseline": 100,
        "egfr": 100,
        "months_since_start": 6,
    }
    data.update(extra)
    return data


def day_visit(current: Any, baseline: Any = "4", **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "proteinuria_24h": daily(current),
        "proteinuria_24h_baseline": daily(baseline),
        "egfr_baseline": 100,
        "egfr": 100,
        "months_since_start": 6,
    }
    data.update(extra)
    return data


# ------------------------------------------------------------------------------------------ units


def test_creatinine_molar_mass_and_conversion() -> None:
    assert Decimal("113.12") == CREATININE_MOLAR_MASS_G_PER_MOL
    assert upcr_g_per_g("56.56", "mg/mmol") == Decimal("0.5")
    assert upcr_g_per_g("113.12", "mg/mmol") == Decimal(1)
    assert upcr_g_per_g(500, "mg/g") == Decimal("0.5")
    assert upcr_g_per_g("0.5", "mg/mg") == Decimal("0.5")


# ------------------------------------------------------------------------------------------ KDIGO 2024


@pytest.mark.parametrize(
    ("current", "unit", "complete"),
    [
        ("0.49", "g/g", True),
        ("0.5", "g/g", False),
        ("0.51", "g/g", False),
        ("499", "mg/g", True),
        ("500", "mg/g", False),
        ("0.499", "mg/mg", True),
        ("49", "mg/mmol", True),  # guideline's own figure: < 50 mg/mmol
        ("50", "mg/mmol", False),
        ("51", "mg/mmol", False),
    ],
)
def test_kdigo_complete_limit_both_sides(current: str, unit: str, complete: bool) -> None:
    baseline = "400" if unit == "mg/mmol" else ("4000" if unit == "mg/g" else "4")
    result = ln_renal_response(visit(current, baseline, unit=unit))
    assert result.criteria["proteinuria_below_complete_limit"] is complete
    # every current value here is <= 1/8 of baseline and < 3 g/g: partial when not complete
    assert result.response == ("complete" if complete else "partial")


@pytest.mark.parametrize(("current", "complete"), [("56.55", True), ("56.56", False), ("56.57", False)])
def test_kdigo_mg_per_mmol_converted_at_113_12(current: str, complete: bool) -> None:
    # 0.5 g/g x 113.12 = 56.56 mg/mmol
    result = ln_renal_response(visit(current, "400", unit="mg/mmol"), options={"mg_per_mmol": "convert"})
    assert result.criteria["proteinuria_below_complete_limit"] is complete


@pytest.mark.parametrize(
    ("current", "reduced", "response"),
    [
        ("0.99", True, "partial"),
        ("1.0", True, "partial"),  # exactly 50 % of 2.0
        ("1.01", False, "none"),
    ],
)
def test_kdigo_50_percent_reduction_edge(current: str, reduced: bool, response: str) -> None:
    result = ln_renal_response(visit(current, "2.0"))
    assert result.criteria["proteinuria_reduced_50_percent"] is reduced
    assert result.response == response


def test_reduction_percent_is_reported() -> None:
    assert ln_renal_response(visit("1.0", "2.0")).reduction_percent == Decimal(50)
    assert ln_renal_response(visit("0.3", "4")).reduction_percent == Decimal("92.5")


@pytest.mark.parametrize(
    ("current", "below_3", "response"),
    [("2.99", True, "partial"), ("3.0", False, "none"), ("3.01", False, "none")],
)
def test_kdigo_partial_limit_3_g_per_g(current: str, below_3: bool, response: str) -> None:
    # baseline 6.02: 3.01 is still <= half, so only the < 3 g/g rule decides
    result = ln_renal_response(visit(current, "6.02"))
    assert result.criteria["proteinuria_reduced_50_percent"] is True
    assert result.criteria["proteinuria_below_3"] is below_3
    assert result.response == response


@pytest.mark.parametrize(("current", "below"), [("299", True), ("300", False)])
def test_kdigo_partial_limit_in_mg_per_mmol(current: str, below: bool) -> None:
    result = ln_renal_response(visit(current, "700", unit="mg/mmol"))
    assert result.criteria["proteinuria_below_3"] is below


def test_mixed_units_reduction_uses_113_12() -> None:
    # baseline 113.12 mg/mmol = 1 g/g; current 0.5 g/g is exactly half -> reduced; 0.5 is not < 0.5 -> partial
    data = visit("0.5", "1") | {"upcr_baseline": ratio("113.12", "mg/mmol")}
    result = ln_renal_response(data)
    assert result.criteria["proteinuria_reduced_50_percent"] is True
    assert result.response == "partial"
    assert result.reduction_percent == Decimal(50)


@pytest.mark.parametrize(
    ("egfr", "tolerance", "ok"),
    [
        ("90", None, True),  # exactly 10 % below 100
        ("89.99", None, False),
        ("150", None, True),  # improvement
        ("85", "15", True),
        ("84.99", "15", False),
        ("88", "12", True),
        ("87.99", "12", False),
    ],
)
def test_kdigo_egfr_tolerance_edges(egfr: str, tolerance: str | None, ok: bool) -> None:
    options = {} if tolerance is None else {"kdigo_egfr_tolerance_percent": tolerance}
    result = ln_renal_response(visit("0.3", egfr=egfr), options=options)
    assert result.criteria["kidney_function"] is ok
    assert result.response == ("complete" if ok else "none")


@pytest.mark.parametrize("tolerance", ["9.99", "15.01", "20"])
def test_kdigo_tolerance_outside_10_to_15_is_refused(tolerance: str) -> None:
    with pytest.raises(InvalidInput) as err:
        ln_renal_response(visit("0.3"), options={"kdigo_egfr_tolerance_percent": tolerance})
    assert err.value.field == "kdigo_egfr_tolerance_percent"


def test_complete_takes_precedence_without_50_percent_reduction() -> None:
    result = ln_renal_response(visit("0.45", "0.6"))  # 25 % reduction only
    assert result.criteria["proteinuria_reduced_50_percent"] is False
    assert result.complete is True and result.partial is False
    assert result.response == "complete"


@pytest.mark.parametrize(
    ("months", "on_time"),
    [("6", True), ("12", True), ("12.01", False), ("18", False)],
)
def test_kdigo_time_target_12_months(months: str, on_time: bool) -> None:
    result = ln_renal_response(visit("0.3", months_since_start=months))
    assert result.response == "complete" and result.on_time is on_time
    assert result.complete_target_months == 12 == result.partial_target_months
    assert result.headline() == "complete response" + ("" if on_time else " (after target time)")


@pytest.mark.parametrize(("months", "established"), [("11.99", False), ("12", True), ("24", True)])
def test_kdigo_no_response_by_target(months: str, established: bool) -> None:
    result = ln_renal_response(visit("3.5", months_since_start=months))
    assert result.response == "none"
    assert result.on_time is None
    assert result.no_response_by_target is established


def test_kdigo_target_months_option() -> None:
    result = ln_renal_response(visit("1.0", "4", months_since_start="6.5"), options={"kdigo_target_months": 6})
    assert result.response == "partial" and result.on_time is False
    none = ln_renal_response(visit("3.5", months_since_start=6), options={"kdigo_target_months": 6})
    assert none.no_response_by_target is True


def test_kdigo_prefers_the_ratio_and_falls_back_to_24h() -> None:
    both = visit("0.3") | {"proteinuria_24h": daily("0.8"), "proteinuria_24h_baseline": daily("4")}
    result = ln_renal_response(both)
    assert result.proteinuria_measure == "upcr" and result.response == "complete"
    only_daily = day_visit("0.49")
    fallback = ln_renal_response(only_daily)
    assert fallback.proteinuria_measure == "proteinuria_24h" and fallback.response == "complete"
    assert (
        ln_renal_response(
            day_visit("500", "4000")
            | {"proteinuria_24h": daily("500", "mg/24h"), "proteinuria_24h_baseline": daily("4000", "mg/24h")}
        ).response
        == "partial"
    )  # 0.5 g/24 h is not < 0.5


def test_upcr_24h_collection_is_reported_only() -> None:
    spot = ln_renal_response(visit("0.3", upcr_24h_collection=False))
    timed = ln_renal_response(visit("0.3", upcr_24h_collection=True))
    assert spot.response == timed.response == "complete"
    assert spot.upcr_24h_collection is False and timed.upcr_24h_collection is True


# ------------------------------------------------------------------------------------------ EULAR 2019


@pytest.mark.parametrize(("current", "complete"), [("0.49", True), ("0.5", False), ("0.51", False)])
def test_eular_complete_limit_0_5_g_per_24h(current: str, complete: bool) -> None:
    result = ln_renal_response(day_visit(current), options=EULAR)
    assert result.proteinuria_measure == "proteinuria_24h"
    assert result.criteria["proteinuria_below_complete_limit"] is complete


@pytest.mark.parametrize(("current", "complete"), [("0.69", True), ("0.7", False)])
def test_eular_complete_limit_option_0_7(current: str, complete: bool) -> None:
    result = ln_renal_response(day_visit(current), options=EULAR | {"eular_complete_limit": "0.7"})
    assert result.criteria["proteinuria_below_complete_limit"] is complete
    mmol = ln_renal_response(
        visit("69" if complete else "70", "400", unit="mg/mmol"), options=EULAR | {"eular_complete_limit": "0.7"}
    )
    assert mmol.criteria["proteinuria_below_complete_limit"] is complete


def test_eular_prefers_24h_over_the_ratio() -> None:
    data = visit("0.3") | {"proteinuria_24h": daily("0.6"), "proteinuria_24h_baseline": daily("4")}
    assert ln_renal_response(data).response == "complete"  # KDIGO reads the ratio
    eular = ln_renal_response(data, options=EULAR)
    assert eular.proteinuria_measure == "proteinuria_24h" and eular.response == "partial"


@pytest.mark.parametrize(
    ("current", "limit", "subnephrotic"),
    [("3.49", "3.5", True), ("3.5", "3.5", False), ("2.99", "3", True), ("3.0", "3", False)],
)
def test_eular_subnephrotic_edges(current: str, limit: str, subnephrotic: bool) -> None:
    result = ln_renal_response(day_visit(current, "8"), options=EULAR | {"eular_nephrotic_limit": limit})
    assert result.criteria["proteinuria_reduced_50_percent"] is True
    assert result.criteria["proteinuria_subnephrotic"] is subnephrotic
    assert result.response == ("partial" if subnephrotic else "none")


@pytest.mark.parametrize(
    ("egfr", "baseline", "ok"),
    [
        ("90", "95", True),  # normal
        ("89.99", "95", False),  # previously normal: must be normal
        ("81", "70", True),  # previously abnormal: within 10 % of 90
        ("80.99", "70", False),
        ("120", "40", True),
    ],
)
def test_eular_near_normal_gfr(egfr: str, baseline: str, ok: bool) -> None:
    result = ln_renal_response(day_visit("0.3", egfr=egfr, egfr_baseline=baseline), options=EULAR)
    assert result.criteria["kidney_function"] is ok
    assert result.response == ("complete" if ok else "none")


def test_eular_near_normal_needs_baseline_only_between_81_and_90() -> None:
    undecided = ln_renal_response(day_visit("0.3", egfr="85", egfr_baseline=None), options=EULAR)
    assert undecided.criteria["kidney_function"] is None and undecided.response is None
    assert "egfr_baseline" in (undecided.reason or "")
    assert ln_renal_response(day_visit("0.3", egfr="90", egfr_baseline=None), options=EULAR).response == "complete"
    assert ln_renal_response(day_visit("0.3", egfr="80", egfr_baseline=None), options=EULAR).response == "none"


@pytest.mark.parametrize(
    ("egfr", "baseline", "ok"),
    [("54", "60", True), ("53.99", "60", False), ("90", "120", True), ("89.99", "120", False)],
)
def test_eular_gfr_against_baseline_option(egfr: str, baseline: str, ok: bool) -> None:
    options = EULAR | {"eular_gfr_reference": "baseline"}
    result = ln_renal_response(day_visit("0.3", egfr=egfr, egfr_baseline=baseline), options=options)
    assert result.criteria["kidney_function"] is ok


def test_eular_normal_gfr_option() -> None:
    options = EULAR | {"normal_egfr": 60}
    assert ln_renal_response(day_visit("0.3", egfr="60", egfr_baseline="95"), options=options).response == "complete"
    assert ln_renal_response(day_visit("0.3", egfr="54", egfr_baseline="50"), options=options).response == "complete"


@pytest.mark.parametrize(("baseline", "nephrotic"), [("3.49", False), ("3.5", True), ("8", True)])
def test_eular_nephrotic_baseline_derived(baseline: str, nephrotic: bool) -> None:
    result = ln_renal_response(day_visit("0.3", baseline), options=EULAR)
    assert result.nephrotic_baseline is nephrotic
    assert result.partial_target_months == (12 if nephrotic else 6)
    assert result.complete_target_months == (None if nephrotic else 12)


@pytest.mark.parametrize(
    ("current", "months", "nephrotic", "response", "on_time"),
    [
        ("1.5", "6", False, "partial", True),
        ("1.5", "6.01", False, "partial", False),
        ("1.5", "12", True, "partial", True),
        ("1.5", "12.5", True, "partial", False),
        ("0.3", "12", False, "complete", True),
        ("0.3", "12.01", False, "complete", False),
        ("0.3", "30", True, "complete", True),  # extended, no fixed limit
    ],
)
def test_eular_time_targets(current: str, months: str, nephrotic: bool, response: str, on_time: bool) -> None:
    data = day_visit(current, "4", months_since_start=months, nephrotic_baseline=nephrotic)
    result = ln_renal_response(data, options=EULAR)
    assert result.response == response and result.on_time is on_time


def test_eular_no_response_at_6_months_unless_nephrotic() -> None:
    plain = ln_renal_response(day_visit("3", "4", nephrotic_baseline=False), options=EULAR)
    assert plain.response == "none" and plain.no_response_by_target is True
    nephrotic = ln_renal_response(day_visit("3", "4", nephrotic_baseline=True), options=EULAR)
    assert nephrotic.no_response_by_target is False


def test_eular_timing_unknown_without_baseline_proteinuria_or_flag() -> None:
    result = ln_renal_response(
        {"proteinuria_24h": daily("0.3"), "egfr": 95, "egfr_baseline": 95, "months_since_start": 5}, options=EULAR
    )
    assert result.response == "complete"
    assert result.nephrotic_baseline is None and result.on_time is None


# ------------------------------------------------------------------------------------------ missing / invalid


def test_missing_egfr_still_decides_no_response_from_proteinuria() -> None:
    result = ln_renal_response({"upcr": ratio("3.2"), "upcr_baseline": ratio("4")})
    assert result.response == "none" and result.evaluable
    assert result.criteria["kidney_function"] is None


def test_missing_egfr_leaves_low_proteinuria_undecided() -> None:
    result = ln_renal_response({"upcr": ratio("0.3"), "upcr_baseline": ratio("4")})
    assert result.response is None and not result.evaluable
    assert "egfr" in (result.reason or "") and "egfr_baseline" in (result.reason or "")


def test_missing_baseline_proteinuria_decides_complete_only() -> None:
    complete = ln_renal_response({"upcr": ratio("0.3"), "egfr": 100, "egfr_baseline": 100})
    assert complete.response == "complete" and complete.criteria["proteinuria_reduced_50_percent"] is None
    undecided = ln_renal_response({"upcr": ratio("1.0"), "egfr": 100, "egfr_baseline": 100})
    assert undecided.response is None and undecided.complete is False and undecided.partial is None
    assert "upcr_baseline" in (undecided.reason or "")
    assert undecided.headline() == "not complete (partial undecided)"


def test_nothing_recorded_is_not_evaluable() -> None:
    result = ln_renal_response({})
    assert not result.evaluable and result.headline() == "not evaluable"
    assert "upcr or proteinuria_24h" in (result.reason or "")


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"upcr": {"value": 0.3, "unit": "mg/dL"}}, "upcr.unit"),
        ({"upcr": {"value": 0.3, "unit": "furlongs"}}, "upcr.unit"),
        ({"upcr": {"value": -0.1, "unit": "g/g"}}, "upcr.value"),
        ({"proteinuria_24h": {"value": 0.3, "unit": "g/g"}}, "proteinuria_24h.unit"),
        ({"egfr": -1}, "egfr"),
        ({"egfr": 251}, "egfr"),
        ({"months_since_start": -1}, "months_since_start"),
        ({"nephrotic_baseline": "maybe"}, "nephrotic_baseline"),
        ({"upcr_basline": {"value": 1, "unit": "g/g"}}, "upcr_basline"),
    ],
)
def test_invalid_inputs_name_the_field(data: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        ln_renal_response(data)
    assert err.value.field == field


@pytest.mark.parametrize(
    ("data", "field", "ok"),
    [
        ({"upcr": ratio("25")}, "upcr.value", True),  # 25 g/g is the largest plausible ratio
        ({"upcr": ratio("25.01")}, "upcr.value", False),
        ({"upcr": ratio("2828", "mg/mmol")}, "upcr.value", True),  # 25 x 113.12 = 2828
        ({"upcr": ratio("2828.01", "mg/mmol")}, "upcr.value", False),
        ({"upcr_baseline": ratio("25000", "mg/g")}, "upcr_baseline.value", True),
        ({"upcr_baseline": ratio("25001", "mg/g")}, "upcr_baseline.value", False),
        ({"proteinuria_24h": daily("50")}, "proteinuria_24h.value", True),
        ({"proteinuria_24h": daily("500")}, "proteinuria_24h.value", False),  # mg given as g
    ],
)
def test_implausible_proteinuria_is_a_unit_mistake(data: dict[str, Any], field: str, ok: bool) -> None:
    if ok:
        assert ln_renal_response(data).criteria["proteinuria_below_complete_limit"] in (False, None)
        return
    with pytest.raises(InvalidInput) as err:
        ln_renal_response(data)
    assert err.value.field == field and "unit mistake" in err.value.expected


def test_zero_baseline_proteinuria_is_refused() -> None:
    with pytest.raises(InvalidInput) as err:
        ln_renal_response(visit("0.3", "0"))
    assert err.value.field == "upcr_baseline.value"


def test_unknown_definition_is_refused() -> None:
    with pytest.raises(InvalidInput) as err:
        ln_renal_response(visit("0.3"), options={"definition": "acr_2024"})
    assert err.value.field == "definition"


RANK = {"none": 0, "partial": 1, "complete": 2}


@settings(max_examples=200, deadline=None)
@given(
    baseline=st.decimals(min_value="0.1", max_value="15", places=2),
    high=st.decimals(min_value="0", max_value="15", places=2),
    low=st.decimals(min_value="0", max_value="15", places=2),
    egfr=st.decimals(min_value="0", max_value="150", places=1),
    definition=st.sampled_from(["kdigo_2024", "eular_era_edta_2019"]),
)
def test_lower_proteinuria_never_worsens_the_response(
    baseline: Decimal, high: Decimal, low: Decimal, egfr: Decimal, definition: str
) -> None:
    low, high = min(low, high), max(low, high)
    options = {"definition": definition}
    worse = ln_renal_response(visit(str(high), str(baseline), egfr=str(egfr), egfr_baseline=95), options=options)
    better = ln_renal_response(visit(str(low), str(baseline), egfr=str(egfr), egfr_baseline=95), options=options)
    assert worse.response is not None and better.response is not None
    assert RANK[better.response] >= RANK[worse.response]
    # restated rules
    assert better.criteria["proteinuria_below_complete_limit"] is (low < Decimal("0.5"))
    assert better.criteria["proteinuria_reduced_50_percent"] is (low * 2 <= baseline)
    assert (better.response == "complete") is (low < Decimal("0.5") and bool(better.criteria["kidney_function"]))


# ------------------------------------------------------------------------------------------ drug-free DORIS

HCQ = {"drug": "hydroxychloroquine", "start_day": -700}
MMF_STOPPED = {"drug": "mycophenolate mofetil", "start_day": -700, "stop_day": -7}


def prednisolone(start: int, stop: int | None, mg: str = "5") -> dict[str, Any]:
    return {
        "drug": "prednisolone",
        "start_day": start,
        "stop_day": stop,
        "dose": {"value": mg, "unit": "mg"},
        "route": "oral",
        "frequency": "once_daily",
    }


def month6(*meds: dict[str, Any], **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "clinical_sledai": 0,
        "pga": "0.2",
        "medications": list(meds),
        "visit_day": 183,
    }
    data.update(extra)
    return data


def test_met_when_remission_and_off_glucocorticoids_and_immunosuppressants() -> None:
    result = drug_free_doris_month6(month6(MMF_STOPPED, prednisolone(-700, 60), HCQ))
    assert result.met is True and result.evaluable
    assert result.criteria == {
        "in_month6_window": True,
        "doris_remission": True,
        "glucocorticoid_free": True,
        "immunosuppressant_free": True,
    }
    assert result.window == (169, 197)
    assert result.doris.remission is True and result.drug_free is not None
    assert result.doris.criteria["prednisolone_at_most_5"] is True
    assert set(result.derived_from_history) == {"prednisolone_mg_per_day", "immunosuppressant", "biologic"}
    assert result.headline() == "drug-free DORIS remission"


def test_hydroxychloroquine_allowed_by_default_not_with_option() -> None:
    data = month6(MMF_STOPPED, HCQ)
    assert drug_free_doris_month6(data).met is True
    strict = drug_free_doris_month6(data, options={"antimalarials": "not_allowed"})
    assert strict.met is False and strict.criteria["free_of_all_disease_drugs"] is False
    stopped = month6(MMF_STOPPED, {"drug": "hydroxychloroquine", "start_day": -700, "stop_day": 100})
    assert drug_free_doris_month6(stopped, options={"antimalarials": "not_allowed"}).met is True


@pytest.mark.parametrize(("stop", "met"), [(183, False), (182, True)])
def test_glucocorticoid_on_the_visit_day_breaks_it(stop: int, met: bool) -> None:
    result = drug_free_doris_month6(month6(prednisolone(-700, stop, "2.5")))
    assert result.met is met
    assert result.criteria["glucocorticoid_free"] is met
    # DORIS itself is met either way: 2.5 mg/day <= 5
    assert result.doris.remission is True


def test_low_dose_glucocorticoid_allowed_by_drug_free_option() -> None:
    data = month6(prednisolone(-700, None, "2.5"))
    assert drug_free_doris_month6(data).met is False
    options = {"drug_free": {"glucocorticoid_max_mg_per_day": 5}}
    assert drug_free_doris_month6(data, options=options).met is True
    high = month6(prednisolone(-700, None, "5.5"))
    assert drug_free_doris_month6(high, options=options).met is False  # 5.5 > 5: neither free nor DORIS


@pytest.mark.parametrize(("stop", "met"), [(120, False), (99, True)])
def test_free_from_day_requires_the_whole_period(stop: int, met: bool) -> None:
    result = drug_free_doris_month6(month6(prednisolone(-700, stop), free_from_day=100))
    assert result.met is met


@pytest.mark.parametrize(("day", "in_window"), [(168, False), (169, True), (183, True), (197, True), (198, False)])
def test_month6_window_edges(day: int, in_window: bool) -> None:
    result = drug_free_doris_month6(month6(MMF_STOPPED, visit_day=day))
    assert result.in_window is in_window
    assert result.met is (True if in_window else None)
    if not in_window:
        assert not result.evaluable and "outside the month-6 window" in (result.reason or "")


def test_window_options_shift_and_narrow_it() -> None:
    cdisc = drug_free_doris_month6(month6(visit_day=198), options={"infusion_day": 1})
    assert cdisc.window == (170, 198) and cdisc.met is True
    narrow = drug_free_doris_month6(month6(visit_day=191), options={"window_days": 7})
    assert narrow.window == (176, 190) and narrow.met is None


def test_doris_failure_decides_not_met() -> None:
    assert drug_free_doris_month6(month6(pga="0.5")).met is False  # PGA must be < 0.5
    assert drug_free_doris_month6(month6(clinical_sledai=2)).met is False
    # decided even without a medication history
    assert drug_free_doris_month6(month6(pga="0.5", medications=None)).met is False


def test_car_t_toxicity_drugs_do_not_count() -> None:
    crs = [
        {"drug": "tocilizumab", "start_day": 3, "stop_day": 3, "purpose": "car_t_toxicity"},
        {
            "drug": "dexamethasone",
            "start_day": 4,
            "stop_day": 6,
            "dose": {"value": 10, "unit": "mg"},
            "route": "iv",
            "frequency": "q6h",
            "purpose": "car_t_toxicity",
        },
        {"drug": "fludarabine", "start_day": -5, "stop_day": -3, "purpose": "lymphodepletion"},
    ]
    result = drug_free_doris_month6(month6(*crs, free_from_day=1))
    assert result.met is True


def test_visit_record_showing_a_drug_breaks_drug_free() -> None:
    gc = drug_free_doris_month6(month6(prednisolone_mg_per_day="2.5"))
    assert gc.met is False and gc.criteria["glucocorticoid_free"] is False
    assert gc.visit_record_drugs == ["glucocorticoid 2.5 mg/day"]
    immuno = drug_free_doris_month6(month6(immunosuppressant=True, stable_doses=True))
    assert immuno.met is False and immuno.criteria["immunosuppressant_free"] is False
    hcq = drug_free_doris_month6(month6(antimalarial=True), options={"antimalarials": "not_allowed"})
    assert hcq.met is False and hcq.visit_record_drugs == ["antimalarial"]


def test_ongoing_immunosuppressant_in_history() -> None:
    result = drug_free_doris_month6(month6({"drug": "mycophenolate mofetil", "start_day": -700}))
    assert result.met is False and result.criteria["immunosuppressant_free"] is False


def test_missing_history_or_day_is_not_evaluable() -> None:
    no_history = drug_free_doris_month6(month6(medications=None))
    assert no_history.met is None and "medications" in (no_history.reason or "")
    no_day = drug_free_doris_month6(month6(visit_day=None))
    assert no_day.met is None and "visit_day" in (no_day.reason or "")
    no_pga = drug_free_doris_month6(month6(pga=None))
    assert no_pga.met is None and "pga" in (no_pga.reason or "")


def test_glucocorticoid_without_dose_leaves_doris_dose_unknown_but_decides_not_free() -> None:
    result = drug_free_doris_month6(month6({"drug": "prednisolone", "start_day": -700}))
    assert result.doris.criteria["prednisolone_at_most_5"] is None
    assert result.met is False


def test_intramuscular_glucocorticoid_is_not_drug_free_and_not_an_error() -> None:
    depot = {
        "drug": "triamcinolone",
        "start_day": 150,
        "stop_day": 183,
        "dose": {"value": 40, "unit": "mg"},
        "route": "im",
        "frequency": "once",
    }
    result = drug_free_doris_month6(month6(depot))
    assert result.met is False and result.criteria["glucocorticoid_free"] is False
    assert "prednisolone_mg_per_day" not in result.derived_from_history


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (month6(free_from_day=200), "free_from_day"),
        (month6({"drug": "unobtainium"}), "medications.0.drug"),
        (month6(pga=4), "pga"),
        (month6(sledai2k={"rash": False}), "clinical_sledai"),
        (month6(visit_dai=183), "visit_dai"),
    ],
)
def test_drug_free_doris_invalid_inputs(data: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        drug_free_doris_month6(data)
    assert err.value.field == field


@settings(max_examples=150, deadline=None)
@given(
    day=st.integers(min_value=100, max_value=260),
    stop=st.one_of(st.none(), st.integers(min_value=0, max_value=260)),
    pga=st.sampled_from(["0", "0.4", "0.5", "1"]),
)
def test_met_is_window_and_all_criteria(day: int, stop: int | None, pga: str) -> None:
    meds = [] if stop is None else [prednisolone(0, stop, "2")]
    result = drug_free_doris_month6(month6(*meds, visit_day=day, pga=pga))
    assert result.in_window is (abs(day - 183) <= 14)
    if not result.in_window:
        assert result.met is None
    else:
        expected = Decimal(pga) < Decimal("0.5") and (stop is None or stop < day)
        assert result.met is expected


# ------------------------------------------------------------------------------------------ registry and CLI


def test_registered() -> None:
    names = {i.name for i in instruments.all_instruments()}
    assert {"ln_renal_response", "drug_free_doris_month6"} <= names
    schema = instruments.get("ln_renal_response").input_schema()
    assert schema["additionalProperties"] is False and "upcr" in schema["properties"]


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "immunoreset", *args], input=stdin, capture_output=True, text=True, timeout=120
    )


def test_cli_ln_renal_response() -> None:
    rows = [
        visit("0.49", "3.2", egfr=72, egfr_baseline=80, months_since_start=6),
        visit("1.6", "320", egfr="71.9", egfr_baseline=80) | {"upcr_baseline": ratio("320", "mg/mmol")},
    ]
    out = run("score", "ln_renal_response", "-", stdin=json.dumps(rows))
    assert out.returncode == 0, out.stderr
    first, second = json.loads(out.stdout)
    assert first["response"] == "complete" and first["criteria"]["kidney_function"] is True
    assert first["reduction_percent"] == pytest.approx(84.69)  # (3.2 - 0.49) / 3.2 = 84.6875 %
    # 1.6 g/g = 180.992 mg/mmol; (320 - 180.992) / 320 = 43.44 %; eGFR 71.9 < 72 = 0.9 x 80
    assert second["response"] == "none" and second["reduction_percent"] == pytest.approx(43.44)
    eular = run(
        "score",
        "ln_renal_response",
        "-",
        "--option",
        "definition=eular_era_edta_2019",
        stdin=json.dumps(day_visit("0.6", "4")),
    )
    assert eular.returncode == 0, eular.stderr
    (result,) = json.loads(eular.stdout)
    assert result["response"] == "partial" and result["partial_target_months"] == 12


def test_cli_drug_free_doris_month6() -> None:
    data = month6(MMF_STOPPED, HCQ)
    out = run("score", "drug_free_doris_month6", "-", stdin=json.dumps(data))
    assert out.returncode == 0, out.stderr
    (result,) = json.loads(out.stdout)
    assert result["met"] is True and result["window"] == [169, 197]
    strict = run(
        "score", "drug_free_doris_month6", "-", "--option", "antimalarials=not_allowed", stdin=json.dumps(data)
    )
    (strict_result,) = json.loads(strict.stdout)
    assert strict_result["met"] is False
    bad = run("score", "drug_free_doris_month6", "-", stdin=json.dumps(month6(free_from_day=300)))
    assert bad.returncode == 2 and "free_from_day" in bad.stderr
