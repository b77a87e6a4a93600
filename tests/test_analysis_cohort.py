"""Cohort analysis: endpoint derivation from the outcome table, and the whole analysis on the sample project."""

from __future__ import annotations

from typing import Any

import pandas as pd

from immunoreset.analysis.cohort import analyse_cohort, visit_table
from immunoreset.registry import redcap as rc
from immunoreset.registry.outcomes import compute_outcomes

SAMPLE = rc.sample_project_path()


def outcome_rows(rows: list[tuple[str, str, str, int, str, str, str | None]]) -> pd.DataFrame:
    """(patient, disease, visit, day, instrument, result, value or None = not evaluable) → outcome table."""
    return pd.DataFrame(
        [
            {
                "study": "S",
                "site": "1",
                "patient": p,
                "disease": d,
                "visit": v,
                "study_day": day,
                "instrument": i,
                "result": r,
                "value": value,
                "evaluable": value is not None,
                "reason": None if value else "missing",
            }
            for p, d, v, day, i, r, value in rows
        ]
    )


def test_eustar_response_is_a_fall_below_the_baseline_index() -> None:
    table = outcome_rows(
        [
            ("S1", "SSc", "baseline", -6, "eustar_ai", "total", "3.5"),
            ("S1", "SSc", "month_3", 90, "eustar_ai", "total", "3.5"),  # equal: not below
            ("S1", "SSc", "month_6", 180, "eustar_ai", "total", "2.25"),
            ("S1", "SSc", "month_9", 270, "eustar_ai", "total", None),  # not evaluable stays unknown
            ("S1", "SSc", "month_6", 180, "drug_free", "drug_free", "true"),
            ("S1", "SSc", "month_3", 90, "drug_free", "drug_free", "false"),
        ]
    )
    visits = visit_table(table).set_index("visit")
    assert visits.loc["baseline", "response"] is None  # baseline is never a response
    assert visits.loc["month_3", "eustar_ai_below_baseline"] is False
    assert visits.loc["month_6", "eustar_ai_below_baseline"] is True
    assert visits.loc["month_9", "eustar_ai_below_baseline"] is None
    assert visits.loc["month_6", "drug_free_response"] is True
    assert visits.loc["month_3", "drug_free_response"] is False


def test_sle_response_is_doris_and_iim_response_is_a_major_tis() -> None:
    table = outcome_rows(
        [
            ("L1", "SLE", "month_3", 90, "doris", "remission", "false"),
            ("L1", "SLE", "month_6", 180, "doris", "remission", "true"),
            ("M1", "IIM", "month_3", 90, "myositis_tis", "level", "moderate"),
            ("M1", "IIM", "month_6", 180, "myositis_tis", "level", "major"),
        ]
    )
    visits = visit_table(table).set_index(["patient", "visit"])
    assert visits.loc[("L1", "month_3"), "response"] is False
    assert visits.loc[("L1", "month_6"), "response"] is True
    assert visits.loc[("M1", "month_3"), "response"] is False
    assert visits.loc[("M1", "month_3"), "tis_moderate_or_better"] is True
    assert visits.loc[("M1", "month_6"), "response"] is True


def test_patients_sort_in_natural_order() -> None:
    table = outcome_rows([(p, "SLE", "month_3", 90, "doris", "remission", "true") for p in ("10", "2", "1")])
    assert list(visit_table(table)["patient"]) == ["1", "2", "10"]


def test_the_sample_project_analysis_equals_the_analysis_of_its_source(sample_truth: Any) -> None:
    """The imported sample gives the analysis of the virtual study it was made from, table by table, and
    that study shows the published pattern (Müller F et al., N Engl J Med 2024;390:687-700)."""
    study = rc.read_redcap_export(SAMPLE / "export.csv", SAMPLE / "data_dictionary.csv", rc.sample_mapping_path())
    analysis = analyse_cohort(study, compute_outcomes(study))
    truth = sample_truth[0]
    expected = analyse_cohort(truth, compute_outcomes(truth))
    for name, table in expected.tables().items():
        got = analysis.tables()[name]
        if name == "patients":  # the virtual study's nominal calendar is the one the REDCap export carries
            assert got["infusion_date"].notna().all()
        pd.testing.assert_frame_equal(got.reset_index(drop=True), table.reset_index(drop=True), check_dtype=False)
    assert len(analysis.patients) == 15
    assert analysis.discontinuation["drug_free_at_last_visit"].all()
    flow = analysis.nca[analysis.nca["analyte"] == "cart_flow"]
    assert flow["tmax"].astype(float).between(7, 14).all()  # CAR-T peak in the second week
    assert analysis.bcells["aplasia_reached"].all()
    # the published pattern: every SLE patient in DORIS remission at month 6, no CRS above grade 2
    rates = analysis.rates
    doris = rates[(rates["endpoint"] == "DORIS 2021 remission") & (rates["visit"] == "day 180")]
    assert list(zip(doris["disease"], doris["responders"], doris["evaluable"], strict=True)) == [("SLE", 8, 8)]
    summary = analysis.safety_summary.set_index("measure")
    assert summary.loc["CRS (ASTCT)", "grade ≥3"] == 0 and summary.loc["ICANS (ASTCT)", "grade ≥3"] == 0
    assert (analysis.bcells["naive_fraction_at_reconstitution"].dropna() >= 0.9).all()
