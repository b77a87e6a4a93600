"""Cohort analysis: endpoint derivation from the outcome table, and the whole analysis on the sample project."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from immunoreset.analysis.cohort import analyse_cohort, visit_table
from immunoreset.registry import redcap as rc
from immunoreset.registry.outcomes import compute_outcomes

SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "redcap"


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


@pytest.mark.skipif(not (SAMPLE / "export.csv").exists(), reason=f"sample REDCap project not found at {SAMPLE}")
def test_the_sample_project_analysis_matches_its_readme() -> None:
    study = rc.read_redcap_export(
        SAMPLE / "export.csv", SAMPLE / "data_dictionary.csv", rc.load_mapping(rc.sample_mapping_path())
    )
    analysis = analyse_cohort(study, compute_outcomes(study))
    assert len(analysis.patients) == 15
    # every patient responds and is drug-free at the last visit (README "clinical course")
    assert analysis.first_response["event"].all()
    assert analysis.discontinuation["drug_free_at_last_visit"].all()
    # CAR-T peak at the day-7 or day-14 visit, "29 to 298 cells/uL" (rounded in the README)
    flow = analysis.nca[analysis.nca["analyte"] == "cart_flow"]
    assert flow["tmax"].astype(float).between(5, 17).all()
    assert flow["cmax"].astype(float).between(28.5, 298.5).all()
    # B cells: aplasia in everyone; reconstituted by month 6 with >= 96% naive cells
    assert analysis.bcells["aplasia_reached"].all()
    assert (analysis.bcells["reconstitution_upper"].astype(float) <= 183).all()
    assert (analysis.bcells["naive_fraction_at_reconstitution"].astype(float) >= 0.955).all()
    # safety: CRS grade 2 in one patient, ICANS grade 1 in one (README table)
    summary = analysis.safety_summary.set_index("measure")
    assert summary.loc["CRS (ASTCT)", "grade 2"] == 1 and summary.loc["CRS (ASTCT)", "grade 0"] == 4
    assert summary.loc["ICANS (ASTCT)", "grade 1"] == 1
    # Kaplan-Meier of sustained drug-free response: everyone has the event
    assert analysis.sustained_km is not None
    assert analysis.sustained_km.table["survival"].iloc[-1] == 0.0
