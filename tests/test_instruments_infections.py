"""Infection density (Hill JA et al. Blood 2018;131:121-30: infections per 100 days at risk, days 0-28 and 29-90) and
IgG status / replacement indication (Hill JA et al. Blood Rev 2019;38:100596; AAAAI: Otani IM et al. J Allergy Clin
Immunol 2022;149:1525-60), hand-derived. Restated rules: Hill — severe IgG <= 400 mg/dL, moderate 400 < IgG <= 600;
replace if <= 400 within 3 months (day <= 90) or with serious/recurrent infections, 400-600 with serious/recurrent
infections, > 600 with infections and impaired vaccine response. AAAAI — < 150; < 400 with recurrent infections;
< 700 with recurrent infections, low IgA/IgM and impaired vaccine responses."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from immunoreset import instruments
from immunoreset.errors import InvalidInput
from immunoreset.instruments.infections import hypogammaglobulinaemia, infection_density


def event(day: int, grade: int | None = 2, kind: str | None = "bacterial") -> dict[str, Any]:
    data: dict[str, Any] = {"day": day}
    if grade is not None:
        data["grade"] = grade
    if kind is not None:
        data["type"] = kind
    return data


# --------------------------------------------------------------------------- infection density


def test_hill_2018_published_densities_are_reproduced_in_scale() -> None:
    # Hill 2018 abstract: 43 infections, 1.19 per 100 days at risk in days 0-28 -> about 3613 days at risk.
    patients = [{"follow_up_days": 90} for _ in range(129)] + [{"follow_up_days": 1} for _ in range(1)]
    patients[0]["infections"] = [event(d % 29) for d in range(43)]
    result = infection_density({"patients": patients})
    first = result.windows[0]
    assert first.patient_days == 129 * 28 + 1 == 3613
    assert first.infections == 43
    assert first.density_per_100_patient_days == Decimal("1.19")  # 4300/3613 = 1.1901...


def test_window_membership_and_days_at_risk() -> None:
    data = {
        "patients": [
            {
                "follow_up_days": 120,
                "infections": [
                    event(0),
                    event(28, 3, "viral"),
                    event(29, 4, "fungal"),
                    event(90, 5, "other"),
                    event(91),
                ],
            },
            {"follow_up_days": 28},  # contributes 28 days to 0-28, none to 29-90
            {"follow_up_days": 40, "infections": [event(35, None, None)]},  # 28 + 12 days
        ]
    }
    result = infection_density(data)
    early, late = result.windows
    assert (early.window, late.window) == ("0-28", "29-90")
    assert early.infections == 2 and early.patient_days == 28 * 3 and early.patients_at_risk == 3
    assert late.infections == 3 and late.patient_days == 62 + 0 + 12 and late.patients_at_risk == 2
    assert late.patients_with_infection == 2
    assert early.by_grade == {"1": 0, "2": 1, "3": 1, "4": 0, "5": 0}
    assert early.by_type == {"bacterial": 1, "viral": 1, "fungal": 0, "other": 0}
    assert late.by_grade == {"1": 0, "2": 0, "3": 0, "4": 1, "5": 1, "not_recorded": 1}
    assert late.by_type["not_recorded"] == 1 and late.by_type["fungal"] == 1
    # 100 * 2 / 84 = 2.38095... -> 2.38 ; 100 * 3 / 74 = 4.05405... -> 4.05
    assert early.density_per_100_patient_days == Decimal("2.38")
    assert late.density_per_100_patient_days == Decimal("4.05")
    assert result.infections_total == 6 and result.infections_after_last_window == 1


def test_rounding_is_half_up_to_two_decimals() -> None:
    # 1 infection in 800 days = 0.125 -> 0.13 (half-up); 1 in 1600 = 0.0625 -> 0.06
    one = {"patients": [{"follow_up_days": 28, "infections": [event(3)]}] + [{"follow_up_days": 28}] * 27}
    result = infection_density(one, options={"window_ends": [28]})
    assert result.windows[0].patient_days == 784
    assert result.windows[0].density_per_100_patient_days == (Decimal(100) / 784).quantize(Decimal("0.01"))
    eight_hundred = {"patients": [{"follow_up_days": 800, "infections": [event(5)]}]}
    assert infection_density(eight_hundred, options={"window_ends": [800]}).windows[0].density_per_100_patient_days == (
        Decimal("0.13")
    )


def test_custom_windows_and_late_window() -> None:
    data = {"patients": [{"follow_up_days": 400, "infections": [event(100), event(365), event(366)]}]}
    result = infection_density(data, options={"window_ends": [28, 90, 365]})
    assert [w.window for w in result.windows] == ["0-28", "29-90", "91-365"]
    assert [w.patient_days for w in result.windows] == [28, 62, 275]
    assert result.windows[2].infections == 2 and result.infections_after_last_window == 1


def test_window_with_no_follow_up_is_not_evaluable() -> None:
    result = infection_density({"patients": [{"follow_up_days": 20}]})
    assert not result.evaluable and "29-90" in (result.reason or "")
    assert result.windows[0].density_per_100_patient_days == 0
    assert result.windows[1].density_per_100_patient_days is None


@given(
    st.lists(
        st.tuples(st.integers(0, 200), st.lists(st.integers(0, 200), max_size=5)),
        min_size=1,
        max_size=12,
    )
)
@settings(max_examples=100, deadline=None)
def test_counts_and_days_add_up(cohort: list[tuple[int, list[int]]]) -> None:
    patients = [{"follow_up_days": fu, "infections": [event(d) for d in days if d <= fu]} for fu, days in cohort]
    result = infection_density({"patients": patients}, options={"window_ends": [28, 90, 200]})
    counted = sum(w.infections for w in result.windows) + result.infections_after_last_window
    assert counted == result.infections_total == sum(len(p["infections"]) for p in patients)
    assert sum(w.patient_days for w in result.windows) == sum(min(p["follow_up_days"], 200) for p in patients)
    for w in result.windows:
        if w.patient_days:
            exact = Decimal(100 * w.infections) / Decimal(w.patient_days)
            assert w.density_per_100_patient_days == exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        assert sum(w.by_grade.values()) == sum(w.by_type.values()) == w.infections


@pytest.mark.parametrize(
    ("data", "options", "field"),
    [
        ({"patients": []}, None, "patients"),
        ({"patients": [{"follow_up_days": 10, "infections": [event(11)]}]}, None, "patients.0.infections.0.day"),
        ({"patients": [{"follow_up_days": 10, "infections": [event(-1)]}]}, None, "patients.0.infections.0.day"),
        ({"patients": [{"follow_up_days": 10, "infections": [event(5, 6)]}]}, None, "patients.0.infections.0.grade"),
        (
            {"patients": [{"follow_up_days": 10, "infections": [event(5, 2, "prion")]}]},
            None,
            "patients.0.infections.0.type",
        ),
        ({"patients": [{"follow_up_days": True}]}, None, "patients.0.follow_up_days"),
        ({"patients": [{"follow_up_days": 10}]}, {"window_ends": [90, 28]}, "window_ends"),
        ({"patients": [{"follow_up_days": 10}]}, {"window_ends": [0]}, "window_ends"),
        ({"patients": [{"followup": 10}]}, None, "patients.0"),
    ],
)
def test_infection_density_invalid(data: dict[str, Any], options: dict[str, Any] | None, field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        infection_density(data, options=options)
    assert err.value.field.startswith(field)


# --------------------------------------------------------------------------- hypogammaglobulinaemia


def igg(value: str, unit: str = "mg/dL", **context: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "igg": {"value": value, "unit": unit},
        "days_since_infusion": 180,
        "receiving_igg_replacement": False,
        "serious_or_recurrent_infections": False,
        "impaired_vaccine_response": False,
        "low_iga_or_igm": False,
    }
    data.update(context)
    return {k: v for k, v in data.items() if v is not None}


@pytest.mark.parametrize(
    ("value", "unit", "category"),
    [
        ("400", "mg/dL", "severe"),
        ("4.0", "g/L", "severe"),
        ("400.1", "mg/dL", "moderate"),
        ("600", "mg/dL", "moderate"),
        ("6.01", "g/L", "not_low"),
    ],
)
def test_hill_bands(value: str, unit: str, category: str) -> None:
    result = hypogammaglobulinaemia(igg(value, unit))
    assert result.category == category and result.evaluable
    assert result.low_igg is (category != "not_low")


@pytest.mark.parametrize(
    ("value", "context", "indicated"),
    [
        ("400", {"days_since_infusion": 90}, True),  # severe within 3 months
        ("400", {"days_since_infusion": 91}, False),  # severe, later, no infections
        ("400", {"days_since_infusion": -10}, False),  # before infusion: not "within 3 months after infusion"
        ("400", {"days_since_infusion": 0}, True),  # the day of infusion opens the window
        ("400", {"serious_or_recurrent_infections": True}, True),
        ("401", {"days_since_infusion": 30}, False),  # moderate early without infections
        ("401", {"serious_or_recurrent_infections": True}, True),
        ("600", {"serious_or_recurrent_infections": True}, True),
        ("601", {"serious_or_recurrent_infections": True}, False),
        ("601", {"serious_or_recurrent_infections": True, "impaired_vaccine_response": True}, True),
        ("900", {"impaired_vaccine_response": True}, False),
    ],
)
def test_hill_replacement_rules(value: str, context: dict[str, Any], indicated: bool) -> None:
    result = hypogammaglobulinaemia(igg(value, **context))
    assert result.replacement_indicated is indicated
    assert (result.rule is not None) is indicated


@pytest.mark.parametrize(
    ("value", "context", "category", "indicated"),
    [
        ("149", {}, "lt_150", True),
        ("150", {}, "lt_400", False),
        ("150", {"serious_or_recurrent_infections": True}, "lt_400", True),
        ("399", {"serious_or_recurrent_infections": True}, "lt_400", True),
        ("400", {"serious_or_recurrent_infections": True}, "lt_700", False),  # AAAAI is strict: 400 is not < 400
        (
            "699",
            {"serious_or_recurrent_infections": True, "low_iga_or_igm": True, "impaired_vaccine_response": True},
            "lt_700",
            True,
        ),
        (
            "700",
            {"serious_or_recurrent_infections": True, "low_iga_or_igm": True, "impaired_vaccine_response": True},
            "not_low",
            False,
        ),
    ],
)
def test_aaaai_variant(value: str, context: dict[str, Any], category: str, indicated: bool) -> None:
    result = hypogammaglobulinaemia(igg(value, **context), options={"guideline": "aaaai_2022"})
    assert result.category == category and result.replacement_indicated is indicated


def test_level_on_replacement_is_not_interpreted() -> None:
    result = hypogammaglobulinaemia(igg("300", receiving_igg_replacement=True))
    assert result.interpretable is False and result.category is None and result.replacement_indicated is None
    assert not result.evaluable and "replacement" in (result.reason or "")
    assert result.igg_mg_dl == 300


def test_replacement_unknown() -> None:
    severe = hypogammaglobulinaemia(igg("350", days_since_infusion=30, receiving_igg_replacement=None))
    assert severe.category == "severe" and severe.replacement_indicated is True and severe.evaluable
    moderate = hypogammaglobulinaemia(igg("500", days_since_infusion=30, receiving_igg_replacement=None))
    assert moderate.category is None and moderate.low_igg is True and moderate.replacement_indicated is None
    normal = hypogammaglobulinaemia(igg("900", receiving_igg_replacement=None))
    assert normal.low_igg is None and not normal.evaluable and "receiving_igg_replacement" in (normal.reason or "")


def test_missing_context_is_decided_when_certain() -> None:
    result = hypogammaglobulinaemia(igg("350", days_since_infusion=None, serious_or_recurrent_infections=True))
    assert result.replacement_indicated is True
    result = hypogammaglobulinaemia(igg("350", days_since_infusion=None))
    assert result.replacement_indicated is None and "days_since_infusion" in (result.reason or "")
    result = hypogammaglobulinaemia(igg("800", serious_or_recurrent_infections=False, impaired_vaccine_response=None))
    assert result.replacement_indicated is False  # rule needs both; infections known absent
    missing = hypogammaglobulinaemia({})
    assert not missing.evaluable and missing.reason == "not recorded: igg"


def test_below_lln() -> None:
    assert hypogammaglobulinaemia(igg("6.9", "g/L", igg_lln={"value": 7, "unit": "g/L"})).below_lln is True
    assert hypogammaglobulinaemia(igg("700", igg_lln={"value": 7, "unit": "g/L"})).below_lln is False


@given(st.decimals("0", "3000", places=1))
@settings(max_examples=200, deadline=None)
def test_hill_monotone_in_igg(value: Decimal) -> None:
    higher = value + Decimal("0.1")
    order = {"severe": 0, "moderate": 1, "not_low": 2}
    a = hypogammaglobulinaemia(igg(str(value))).category
    b = hypogammaglobulinaemia(igg(str(higher))).category
    assert a is not None and b is not None and order[a] <= order[b]
    assert (a == "severe") is (value <= 400)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"igg": {"value": 5, "unit": "10*9/L"}}, "igg"),
        ({"igg": {"value": -1, "unit": "g/L"}}, "igg"),
        ({"igg": 500}, "igg"),
        ({"days_since_infusion": True}, "days_since_infusion"),
        ({"ivig": True}, "ivig"),
    ],
)
def test_hypogammaglobulinaemia_invalid(change: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        hypogammaglobulinaemia({**igg("500"), **change})
    assert err.value.field.startswith(field)


# --------------------------------------------------------------------------- registry and CLI


def test_registered() -> None:
    names = {i.name for i in instruments.all_instruments()}
    assert {"infection_density", "hypogammaglobulinaemia"} <= names


def run_cli(name: str, data: Any, *options: str) -> Any:
    out = subprocess.run(
        [sys.executable, "-m", "immunoreset", "score", name, "-", *options],
        input=json.dumps(data),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_cli_infection_density() -> None:
    data = {
        "patients": [{"follow_up_days": 90, "infections": [event(3), event(50, 3, "viral")]}, {"follow_up_days": 90}]
    }
    (result,) = run_cli("infection_density", data)
    early, late = result["windows"]
    assert early["patient_days"] == 56 and early["density_per_100_patient_days"] == 1.79  # 100/56 = 1.7857
    assert late["patient_days"] == 124 and late["density_per_100_patient_days"] == 0.81  # 100/124 = 0.8065


def test_cli_hypogammaglobulinaemia() -> None:
    (result,) = run_cli("hypogammaglobulinaemia", igg("3.5", "g/L", days_since_infusion=30))
    assert result["category"] == "severe" and result["igg_mg_dl"] == 350 and result["replacement_indicated"] is True
    (result,) = run_cli("hypogammaglobulinaemia", igg("3.5", "g/L"), "--option", "guideline=aaaai_2022")
    assert result["category"] == "lt_400" and result["replacement_indicated"] is False
