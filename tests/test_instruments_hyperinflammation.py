"""HScore (Fardet L et al. Arthritis Rheumatol 2014;66:2613-20, Table 3) and IEC-HS (Hines MR et al. Transplant
Cell Ther 2023;29:438.e1-16) with hand-derived vectors. The points and thresholds are restated here independently
of the code: immunosuppression 18; temperature <38.4 0 / 38.4-39.4 33 / >39.4 49 °C; organomegaly 0/23/38;
cytopenic lineages (Hb <=9.2 g/dL, WBC <=5.0 x10^9/L, platelets <=110 x10^9/L) 0-1: 0, 2: 24, 3: 34; ferritin <2000 0 /
2000-6000 35 / >6000 50 ng/mL; triglycerides <1.5 0 / 1.5-4 44 / >4 64 mmol/L; fibrinogen <=2.5 g/L 30; AST >=30
U/L 19; marrow haemophagocytosis 35. No worked example is printed in the paper."""

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
from immunoreset.instruments.hyperinflammation import hscore, iec_hs


def q(value: Any, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit}


def quiet() -> dict[str, Any]:
    """Every HScore item recorded and scoring 0."""
    return {
        "known_immunosuppression": False,
        "temperature": q("37.0", "Cel"),
        "hepatomegaly": False,
        "splenomegaly": False,
        "hemoglobin": q("13", "g/dL"),
        "leukocytes": q("7", "10*9/L"),
        "platelets": q("250", "10*9/L"),
        "ferritin": q("300", "ng/mL"),
        "triglycerides": q("1.0", "mmol/L"),
        "fibrinogen": q("3.5", "g/L"),
        "ast": q("20", "U/L"),
        "marrow_haemophagocytosis": False,
    }


def full() -> dict[str, Any]:
    """Every item at its maximum: 18+49+38+34+50+64+30+19+35 = 337."""
    return {
        "known_immunosuppression": True,
        "temperature": q("40.0", "Cel"),
        "hepatomegaly": True,
        "splenomegaly": True,
        "hemoglobin": q("8.0", "g/dL"),
        "leukocytes": q("1.0", "10*9/L"),
        "platelets": q("40", "10*9/L"),
        "ferritin": q("12000", "ng/mL"),
        "triglycerides": q("5.0", "mmol/L"),
        "fibrinogen": q("1.0", "g/L"),
        "ast": q("300", "U/L"),
        "marrow_haemophagocytosis": True,
    }


def total(**changes: Any) -> int:
    result = hscore({**quiet(), **changes})
    assert result.evaluable and result.total is not None
    return result.total


# --------------------------------------------------------------------------- HScore: vectors


def test_extremes() -> None:
    assert total() == 0
    assert hscore(full()).total == 337 and hscore(full()).hlh_likely is True


def test_hand_vector_h1() -> None:
    # immunosuppressed (18), 39.0 °C (33), splenomegaly only (23), Hb 8.5 + platelets 60 (2 lineages, 24),
    # ferritin 4500 (35), TG 2.2 mmol/L (44), fibrinogen 2.0 (30), AST 45 (19), no marrow aspirate finding (0)
    case = {
        **quiet(),
        "known_immunosuppression": True,
        "temperature": q("39.0", "Cel"),
        "splenomegaly": True,
        "hemoglobin": q("8.5", "g/dL"),
        "platelets": q("60", "10*9/L"),
        "ferritin": q("4500", "ug/L"),
        "triglycerides": q("2.2", "mmol/L"),
        "fibrinogen": q("2.0", "g/L"),
        "ast": q("45", "U/L"),
    }
    result = hscore(case)
    assert result.total == 18 + 33 + 23 + 24 + 35 + 44 + 30 + 19 == 226
    assert result.hlh_likely is True and result.cytopenic_lineages == 2


@pytest.mark.parametrize(
    ("celsius", "points"),
    [("38.39", 0), ("38.4", 33), ("38.41", 33), ("39.39", 33), ("39.4", 33), ("39.41", 49)],
)
def test_temperature_edges(celsius: str, points: int) -> None:
    assert total(temperature=q(celsius, "Cel")) == points


@pytest.mark.parametrize(("fahrenheit", "points"), [("101.1", 0), ("101.12", 33), ("102.92", 33), ("102.93", 49)])
def test_temperature_in_fahrenheit(fahrenheit: str, points: int) -> None:
    # 38.4 °C = 101.12 °F; 39.4 °C = 102.92 °F
    assert total(temperature=q(fahrenheit, "[degF]")) == points


@pytest.mark.parametrize(
    ("hepato", "spleno", "points"), [(False, False, 0), (True, False, 23), (False, True, 23), (True, True, 38)]
)
def test_organomegaly(hepato: bool, spleno: bool, points: int) -> None:
    assert total(hepatomegaly=hepato, splenomegaly=spleno) == points


@pytest.mark.parametrize(
    ("hb", "wbc", "plt", "points"),
    [
        ("9.3", "5.1", "111", 0),
        ("9.2", "5.1", "111", 0),  # one lineage scores 0
        ("9.2", "5.0", "111", 24),
        ("9.2", "5.0", "110", 34),
        ("9.21", "5.01", "110.1", 0),
        ("13", "5.0", "110", 24),
    ],
)
def test_cytopenia_edges_inclusive(hb: str, wbc: str, plt: str, points: int) -> None:
    assert total(hemoglobin=q(hb, "g/dL"), leukocytes=q(wbc, "10*9/L"), platelets=q(plt, "10*9/L")) == points


def test_cytopenia_units() -> None:
    # 92 g/L = 9.2 g/dL; 5000/uL = 5.0 x10^9/L; 110000/uL = 110 x10^9/L
    assert total(hemoglobin=q("92", "g/L"), leukocytes=q("5000", "/uL"), platelets=q("110000", "/uL")) == 34
    assert total(hemoglobin=q("93", "g/L"), leukocytes=q("5001", "/uL"), platelets=q("110001", "/uL")) == 0


def test_cytopenic_lineages_given_directly() -> None:
    base = {k: v for k, v in quiet().items() if k not in ("hemoglobin", "leukocytes", "platelets")}
    assert [hscore({**base, "cytopenic_lineages": n}).total for n in (0, 1, 2, 3)] == [0, 0, 24, 34]


@pytest.mark.parametrize(("ferritin", "points"), [("1999.9", 0), ("2000", 35), ("6000", 35), ("6000.1", 50)])
def test_ferritin_edges(ferritin: str, points: int) -> None:
    assert total(ferritin=q(ferritin, "ng/mL")) == points


@pytest.mark.parametrize(
    ("value", "unit", "points"),
    [
        ("1.49", "mmol/L", 0),
        ("1.5", "mmol/L", 44),
        ("4", "mmol/L", 44),
        ("4.01", "mmol/L", 64),
        ("132.8", "mg/dL", 0),  # 132.8 / 88.57 = 1.4994 mmol/L
        ("132.855", "mg/dL", 44),  # exactly 1.5 mmol/L
        ("354.28", "mg/dL", 44),  # exactly 4 mmol/L
        ("354.29", "mg/dL", 64),
        ("3.5428", "g/L", 44),
    ],
)
def test_triglyceride_edges_and_conversion(value: str, unit: str, points: int) -> None:
    assert total(triglycerides=q(value, unit)) == points


@pytest.mark.parametrize(
    ("value", "unit", "points"),
    [("2.51", "g/L", 0), ("2.5", "g/L", 30), ("250", "mg/dL", 30), ("251", "mg/dL", 0)],
)
def test_fibrinogen_edge(value: str, unit: str, points: int) -> None:
    assert total(fibrinogen=q(value, unit)) == points


@pytest.mark.parametrize(("ast", "unit", "points"), [("29.9", "U/L", 0), ("30", "U/L", 19), ("30", "IU/L", 19)])
def test_ast_edge(ast: str, unit: str, points: int) -> None:
    assert total(ast=q(ast, unit)) == points


def test_immunosuppression_and_marrow() -> None:
    assert total(known_immunosuppression=True) == 18
    assert total(marrow_haemophagocytosis=True) == 35


# --------------------------------------------------------------------------- HScore: cut-off


def case_with_total(target: int) -> dict[str, Any]:
    """Totals 168/169/170 from real items: 169 = 33+38+34+64; 168 = 49+34+50+35; 170 = 18+49+38+30+35."""
    vectors = {
        169: {"temperature": q("39", "Cel"), "hepatomegaly": True, "splenomegaly": True, "cytopenic_lineages": 3},
        168: {"temperature": q("40", "Cel"), "cytopenic_lineages": 3, "ferritin": q("7000", "ng/mL")},
        170: {
            "known_immunosuppression": True,
            "temperature": q("40", "Cel"),
            "hepatomegaly": True,
            "splenomegaly": True,
            "fibrinogen": q("2.0", "g/L"),
        },
    }
    base = {k: v for k, v in quiet().items() if k not in ("hemoglobin", "leukocytes", "platelets")}
    base["cytopenic_lineages"] = 0
    case = {**base, **vectors[target]}
    if target == 169:
        case["triglycerides"] = q("5", "mmol/L")
    if target == 168:
        case["marrow_haemophagocytosis"] = True
    if target == 170:
        case["marrow_haemophagocytosis"] = True
    return case


@pytest.mark.parametrize(
    ("target", "likely_ge", "likely_gt"), [(168, False, False), (169, True, False), (170, True, True)]
)
def test_cutoff_169_both_operators(target: int, likely_ge: bool, likely_gt: bool) -> None:
    case = case_with_total(target)
    default = hscore(case)
    assert default.total == target
    assert default.hlh_likely is likely_ge
    assert hscore(case, options={"cutoff_operator": "gt"}).hlh_likely is likely_gt


# --------------------------------------------------------------------------- HScore: missing data


def test_missing_items_not_evaluable_but_decided_when_certain() -> None:
    high = full()
    del high["marrow_haemophagocytosis"], high["ast"]
    result = hscore(high)
    assert not result.evaluable and result.total is None
    assert result.hlh_likely is True and result.known_points == 337 - 35 - 19
    assert "marrow_haemophagocytosis" in (result.reason or "") and "ast" in (result.reason or "")

    low = quiet()
    del low["marrow_haemophagocytosis"], low["ferritin"]
    result = hscore(low)
    assert result.total is None and result.hlh_likely is False and result.max_possible == 85  # 35 + 50

    undecided = quiet()
    del undecided["triglycerides"], undecided["ferritin"], undecided["marrow_haemophagocytosis"]
    undecided["temperature"] = q("40", "Cel")
    result = hscore(undecided)
    assert result.hlh_likely is None and result.max_possible == 49 + 64 + 50 + 35


def test_partial_organomegaly_and_cytopenia_bounds() -> None:
    case = quiet()
    del case["splenomegaly"], case["platelets"]
    case["hepatomegaly"] = True
    case["hemoglobin"] = q("8", "g/dL")
    result = hscore(case)
    assert result.total is None
    assert result.known_points == 0  # organomegaly and cytopenias both undecided
    assert result.max_possible == 38 + 24  # hepatomegaly + possible spleen; one known + one possible lineage


def test_marrow_not_done_option_scores_zero() -> None:
    case = quiet()
    del case["marrow_haemophagocytosis"]
    assert hscore(case).total is None
    result = hscore(case, options={"marrow_not_done": "zero"})
    assert result.total == 0 and "no bone-marrow" in result.variant


@given(
    st.booleans(),
    st.decimals("35", "42", places=2),
    st.booleans(),
    st.booleans(),
    st.integers(0, 3),
    st.decimals("0", "20000", places=1),
    st.decimals("0", "10", places=2),
    st.decimals("0", "8", places=2),
    st.decimals("0", "500", places=0),
    st.booleans(),
)
@settings(max_examples=150, deadline=None)
def test_total_is_the_sum_of_independent_points(
    immuno: bool,
    temp: Decimal,
    hep: bool,
    spl: bool,
    lineages: int,
    ferritin: Decimal,
    tg: Decimal,
    fib: Decimal,
    ast: Decimal,
    marrow: bool,
) -> None:
    expected = (18 if immuno else 0) + (0 if temp < Decimal("38.4") else 33 if temp <= Decimal("39.4") else 49)
    expected += {0: 0, 1: 23, 2: 38}[hep + spl] + {0: 0, 1: 0, 2: 24, 3: 34}[lineages]
    expected += 0 if ferritin < 2000 else 35 if ferritin <= 6000 else 50
    expected += 0 if tg < Decimal("1.5") else 44 if tg <= 4 else 64
    expected += (30 if fib <= Decimal("2.5") else 0) + (19 if ast >= 30 else 0) + (35 if marrow else 0)
    result = hscore(
        {
            "known_immunosuppression": immuno,
            "temperature": q(str(temp), "Cel"),
            "hepatomegaly": hep,
            "splenomegaly": spl,
            "cytopenic_lineages": lineages,
            "ferritin": q(str(ferritin), "ng/mL"),
            "triglycerides": q(str(tg), "mmol/L"),
            "fibrinogen": q(str(fib), "g/L"),
            "ast": q(str(ast), "U/L"),
            "marrow_haemophagocytosis": marrow,
        }
    )
    assert result.total == expected
    assert 0 <= expected <= 337
    assert result.hlh_likely is (expected >= 169)


# --------------------------------------------------------------------------- HScore: invalid input


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"ferritin": q("500", "10*9/L")}, "ferritin"),
        ({"ferritin": q("-1", "ng/mL")}, "ferritin"),
        ({"temperature": q("38", "mg/dL")}, "temperature"),
        ({"temperature": q("50", "Cel")}, "temperature"),
        ({"triglycerides": q("2", "10*9/L")}, "triglycerides"),
        ({"ast": q("40", "mg/dL")}, "ast"),
        ({"platelets": q("100", "g/L")}, "platelets"),
        ({"cytopenic_lineages": 4}, "cytopenic_lineages"),
        ({"cytopenic_lineages": 1}, "cytopenic_lineages"),  # counts give 0 lineages
        ({"fever": True}, "fever"),
        ({"hepatomegaly": "maybe"}, "hepatomegaly"),
    ],
)
def test_hscore_invalid_input(change: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        hscore({**quiet(), **change})
    assert err.value.field.startswith(field)


def test_hscore_bad_option() -> None:
    with pytest.raises(InvalidInput) as err:
        hscore(quiet(), options={"cutoff_operator": ">="})
    assert err.value.field == "cutoff_operator"


# --------------------------------------------------------------------------- IEC-HS


def iec(**changes: Any) -> dict[str, Any]:
    """Criteria met through the measurement path, grade 2."""
    data: dict[str, Any] = {
        "onset_after_crs_improvement": True,
        "ferritin": q("1500", "ng/mL"),
        "ferritin_uln": q("300", "ng/mL"),
        "ferritin_at_infusion": q("800", "ng/mL"),
        "ferritin_rapidly_rising": False,
        "haemophagocytosis": False,
        "cytopenias": True,
        "fibrinogen": q("200", "mg/dL"),
        "fibrinogen_lln": q("180", "mg/dL"),
        "transaminase_elevation": False,
        "other_cause_excluded": True,
        "died_of_iec_hs": False,
        "life_threatening": False,
        "severe": False,
        "treatment_required": True,
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_iec_hs_met_grade_2() -> None:
    result = iec_hs(iec())
    assert result.iec_hs is True and result.grade == 2 and result.evaluable
    assert result.criteria["hyperferritinaemia"] is True  # 1500/300 = 5 > 2
    assert "ferritin_over_2x" in result.derived_from_measurements


@pytest.mark.parametrize(
    ("ferritin", "uln", "baseline", "met"),
    [
        ("600", "300", "800", False),  # exactly 2 x ULN is not > 2 x; 0.75 x baseline
        ("601", "300", "800", True),
        ("1600", "1000", "800", False),  # exactly 2 x baseline
        ("1601", "1000", "800", True),
    ],
)
def test_ferritin_multiple_is_strict(ferritin: str, uln: str, baseline: str, met: bool) -> None:
    result = iec_hs(
        iec(ferritin=q(ferritin, "ng/mL"), ferritin_uln=q(uln, "ng/mL"), ferritin_at_infusion=q(baseline, "ng/mL"))
    )
    assert result.criteria["hyperferritinaemia"] is met
    assert result.iec_hs is met


def test_rapidly_rising_ferritin_suffices() -> None:
    result = iec_hs(iec(ferritin=q("500", "ng/mL"), ferritin_rapidly_rising=True))
    assert result.iec_hs is True


@pytest.mark.parametrize(
    ("value", "unit", "low"), [("149.9", "mg/dL", True), ("150", "mg/dL", False), ("1.49", "g/L", True)]
)
def test_fibrinogen_below_150(value: str, unit: str, low: bool) -> None:
    # fixed limit only: < 150 mg/dL (1.5 g/L)
    result = iec_hs(iec(fibrinogen=q(value, unit), cytopenias=False), options={"fibrinogen_rule": "below_150"})
    assert result.features["hypofibrinogenaemia"] is low
    assert result.iec_hs is low


@pytest.mark.parametrize(
    ("value", "lln", "low"),
    [
        ("149.9", None, True),  # < 150 decides without the LLN
        ("150", None, None),  # >= 150: only the LLN can tell
        ("179.9", "180", True),  # < LLN
        ("180", "180", False),  # at the LLN: not below it
        ("1.79", "1.8", True),  # g/L
    ],
)
def test_fibrinogen_below_150_or_below_the_lln(value: str, lln: str | None, low: bool | None) -> None:
    unit = "g/L" if "." in value and Decimal(value) < 10 else "mg/dL"
    result = iec_hs(
        iec(fibrinogen=q(value, unit), fibrinogen_lln=None if lln is None else q(lln, unit), cytopenias=False)
    )
    assert result.features["hypofibrinogenaemia"] is low
    assert result.iec_hs is low


def test_no_feature_means_not_met() -> None:
    assert iec_hs(iec(cytopenias=False)).iec_hs is False


@pytest.mark.parametrize("failed", ["onset_after_crs_improvement", "other_cause_excluded"])
def test_required_criteria(failed: str) -> None:
    result = iec_hs(iec(**{failed: False}))
    assert result.iec_hs is False and result.grade is None and result.evaluable


@pytest.mark.parametrize(
    ("severity", "grade"),
    [
        ({"treatment_required": False}, 1),
        ({}, 2),
        ({"severe": True}, 3),
        ({"severe": True, "life_threatening": True}, 4),
        ({"severe": True, "life_threatening": True, "died_of_iec_hs": True}, 5),
    ],
)
def test_grades(severity: dict[str, Any], grade: int) -> None:
    assert iec_hs(iec(**severity)).grade == grade


def test_grade_minimum_when_higher_items_unknown() -> None:
    data = iec(severe=True)
    del data["life_threatening"], data["died_of_iec_hs"]
    result = iec_hs(data)
    assert result.iec_hs is True and result.grade is None and result.minimum_grade == 3
    assert not result.evaluable and "life_threatening" in (result.reason or "")


def test_missing_criteria_not_evaluable_but_not_met_when_certain() -> None:
    data = iec()
    del data["onset_after_crs_improvement"]
    result = iec_hs(data)
    assert result.iec_hs is None and not result.evaluable and "onset_after_crs_improvement" in (result.reason or "")
    data["other_cause_excluded"] = False
    assert iec_hs(data).iec_hs is False


def test_ferritin_undecided_without_infusion_value() -> None:
    data = iec(ferritin=q("500", "ng/mL"))
    del data["ferritin_at_infusion"]
    result = iec_hs(data)  # 500/300 <= 2 x ULN, baseline unknown, not rising
    assert result.criteria["hyperferritinaemia"] is None and result.iec_hs is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"ferritin_over_2x": False}, "ferritin_over_2x"),  # measurements give true
        ({"hypofibrinogenaemia": True}, "hypofibrinogenaemia"),  # fibrinogen 200 mg/dL
        ({"severe": True, "treatment_required": False}, "treatment_required"),
        ({"ferritin_uln": q("0", "ng/mL")}, "ferritin_uln"),
        ({"fibrinogen": q("200", "U/L")}, "fibrinogen"),
        ({"ferritin_over_2x": "maybe"}, "ferritin_over_2x"),
    ],
)
def test_iec_hs_invalid_input(change: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        iec_hs(iec(**change))
    assert err.value.field.startswith(field)


def test_reference_without_ferritin_is_an_error() -> None:
    data = iec()
    del data["ferritin"]
    with pytest.raises(InvalidInput) as err:
        iec_hs(data)
    assert err.value.field == "ferritin"


# --------------------------------------------------------------------------- registry and CLI


def test_registered() -> None:
    names = {i.name for i in instruments.all_instruments()}
    assert {"hscore", "iec_hs"} <= names
    assert "2014" in instruments.get("hscore").source and "2023" in instruments.get("iec_hs").source


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


def test_cli_hscore() -> None:
    (result,) = run_cli("hscore", full())
    assert result["total"] == 337 and result["hlh_likely"] is True
    (result,) = run_cli("hscore", case_with_total(169), "--option", "cutoff_operator=gt")
    assert result["total"] == 169 and result["hlh_likely"] is False


def test_cli_iec_hs() -> None:
    (result,) = run_cli("iec_hs", iec(severe=True))
    assert result["iec_hs"] is True and result["grade"] == 3
    assert result["ferritin_ratio_to_uln"] == 5 and result["fibrinogen_mg_dl"] == 200
