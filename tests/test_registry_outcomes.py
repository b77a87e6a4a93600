"""Derived outcomes from a StudyRecord: hand-checked values, not-evaluable reasons, units, determinism."""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from immunoreset.errors import InvalidInput
from immunoreset.registry.outcomes import COLUMNS, COURSE_VISIT, OutcomeOptions, compute_outcomes, write_outcomes
from immunoreset.registry.records import (
    MedicationRecord,
    ObservationRecord,
    PatientRecord,
    SiteRecord,
    StudyRecord,
    VisitRecord,
)
from immunoreset.registry.vocabulary import MMT8_GROUPS, MRSS_AREAS, SLEDAI_DESCRIPTORS

# ----------------------------------------------------------------------------------------------- builders


def obs(code: str, value: Any = None, unit: str = "1", text: str | None = None) -> ObservationRecord:
    return ObservationRecord(
        code=code, value=None if value is None else Decimal(str(value)), unit=unit, value_text=text
    )


def visit(label: str, day: int, observations: list[ObservationRecord], kind: str = "scheduled") -> VisitRecord:
    return VisitRecord(label=label, study_day=day, kind=kind, observations=observations)  # type: ignore[arg-type]


def sledai(present: set[str], pga: str | None) -> list[ObservationRecord]:
    out = [obs(f"sledai_{d}", 1 if d in present else 0) for d in SLEDAI_DESCRIPTORS]
    if pga is not None:
        out.append(obs("sle_pga", pga))
    return out


def med(key: str, drug: str, dose: str | None, start: int | None, stop: int | None, **kw: Any) -> MedicationRecord:
    defaults = {"unit": "mg", "route": "oral", "frequency": "once_daily", "indication": "autoimmune disease"}
    defaults.update(kw)
    return MedicationRecord(
        key=key, drug=drug, dose=None if dose is None else Decimal(dose), start_day=start, stop_day=stop, **defaults
    )


def patient(code: str, disease: str, visits: list[VisitRecord], meds: list[MedicationRecord] | None = None) -> Any:
    return PatientRecord(code=code, site="1", disease=disease, visits=visits, medications=meds or [])  # type: ignore[arg-type]


def study(*patients: PatientRecord) -> StudyRecord:
    return StudyRecord(code="TEST", sites=[SiteRecord(code="1")], patients=list(patients))


def value(df: pd.DataFrame, patient_: str, visit_: str, instrument: str, result: str) -> pd.Series:
    rows = df[(df.patient == patient_) & (df.visit == visit_) & (df.instrument == instrument) & (df.result == result)]
    assert len(rows) == 1, (patient_, visit_, instrument, result, len(rows))
    return rows.iloc[0]


BASELINE_SLE = {"arthritis", "proteinuria", "rash", "low_complement", "increased_dna_binding"}  # 4+4+2+2+2 = 14


def sle_patient(code: str, *, prednisolone: str | None, pga6: str | None = "0.3") -> PatientRecord:
    visits = [
        visit("baseline", -6, sledai(BASELINE_SLE, "2.0")),
        visit("day_7", 7, [obs("platelets", 80, "10*9/L"), obs("wbc", "2.1", "10*9/L")]),
        visit("month_6", 180, sledai({"low_complement"}, pga6)),
    ]
    meds = [
        med("m1", "prednisolone", "20", -60, 0),
        med("m2", "mycophenolate mofetil", "1000", -400, -2, frequency="bid"),
    ]
    if prednisolone is not None:
        meds.append(med("m3", "prednisolone", prednisolone, 1, None))
    return patient(code, "SLE", visits, meds)


@pytest.fixture(scope="module")
def sle_table() -> pd.DataFrame:
    return compute_outcomes(
        study(
            sle_patient("S1", prednisolone=None),
            sle_patient("S2", prednisolone="7.5"),
            sle_patient("S3", prednisolone=None, pga6=None),
        )
    )


# ----------------------------------------------------------------------------------------------- SLE


def test_table_columns_and_types(sle_table: pd.DataFrame) -> None:
    assert tuple(sle_table.columns) == COLUMNS
    assert str(sle_table["study_day"].dtype) == "Int64"
    assert sle_table["evaluable"].dtype == bool
    assert (sle_table.loc[~sle_table.evaluable, "reason"].str.len() > 0).all()
    assert sle_table.loc[sle_table.evaluable, "value"].notna().all()


def test_sledai_hand_checked(sle_table: pd.DataFrame) -> None:
    assert value(sle_table, "S1", "baseline", "sledai2k", "total").value == "14"
    assert value(sle_table, "S1", "baseline", "sledai2k", "clinical_sledai").value == "10"
    assert value(sle_table, "S1", "baseline", "sledai2k", "activity_category").value == "high"
    assert value(sle_table, "S1", "month_6", "sledai2k", "total").value == "2"
    assert value(sle_table, "S1", "month_6", "sledai2k", "clinical_sledai").value == "0"
    row = value(sle_table, "S1", "month_6", "sledai2k", "total")
    assert row.study_day == 180 and row.value_num == 2.0 and row.site == "1" and row.disease == "SLE"


def test_raw_labs_without_descriptors_are_not_turned_into_a_sledai(sle_table: pd.DataFrame) -> None:
    row = value(sle_table, "S1", "day_7", "sledai2k", "total")
    assert not row.evaluable and "descriptors not recorded" in row.reason
    assert value(sle_table, "S1", "day_7", "ctcae", "white_blood_cell_decreased").value == "2"  # 2100/uL
    assert not ((sle_table.visit == "day_7") & (sle_table.instrument == "doris")).any()


def test_doris_remission_off_prednisolone(sle_table: pd.DataFrame) -> None:
    assert value(sle_table, "S1", "month_6", "prednisolone_equivalent", "mg_per_day").value == "0"
    assert value(sle_table, "S1", "month_6", "doris", "remission").value == "true"
    assert value(sle_table, "S1", "month_6", "doris", "remission_off_therapy").value == "true"
    baseline = value(sle_table, "S1", "baseline", "doris", "remission")
    assert baseline.value == "false"
    failed = value(sle_table, "S1", "baseline", "doris", "criteria_failed").value
    assert failed == "clinical_sledai_zero, pga_below_0_5, prednisolone_at_most_5"


def test_doris_fails_on_prednisolone_7_5_and_says_why(sle_table: pd.DataFrame) -> None:
    assert value(sle_table, "S2", "month_6", "prednisolone_equivalent", "mg_per_day").value == "7.5"
    assert value(sle_table, "S2", "month_6", "doris", "remission").value == "false"
    assert value(sle_table, "S2", "month_6", "doris", "criteria_failed").value == "prednisolone_at_most_5"


def test_missing_pga_makes_doris_not_evaluable_naming_sle_pga(sle_table: pd.DataFrame) -> None:
    row = value(sle_table, "S3", "month_6", "doris", "remission")
    assert not row.evaluable and row.value is None and pd.isna(row.value_num)
    assert "sle_pga" in row.reason


def test_lldas_needs_items_the_registry_does_not_record(sle_table: pd.DataFrame) -> None:
    row = value(sle_table, "S1", "month_6", "lldas", "lldas")
    assert not row.evaluable and "hemolytic_anemia" in row.reason and "gastrointestinal_activity" in row.reason
    # baseline fails criterion 1 (SLEDAI 14 > 4): decided although items are missing
    assert value(sle_table, "S1", "baseline", "lldas", "lldas").value == "false"


def test_lldas_with_non_sledai_items_assumed_absent() -> None:
    options = OutcomeOptions(lldas_non_sledai_items="assume_absent")
    table = compute_outcomes(
        study(sle_patient("S1", prednisolone=None), sle_patient("S2", prednisolone="7.5")), options=options
    )
    row = value(table, "S1", "month_6", "lldas", "lldas")
    assert row.value == "true" and "assumed absent" in row.source
    assert value(table, "S2", "month_6", "lldas", "lldas").value == "true"  # 7.5 mg is within LLDAS
    # first assessment has no previous SLEDAI: no new-activity judgement, but other criteria fail anyway
    failed = value(table, "S1", "baseline", "lldas", "criteria_failed").value
    assert failed == "sledai2k_at_most_4_no_major_organ, pga_at_most_1, prednisolone_at_most_7_5"


@pytest.mark.parametrize(("hemolysis", "expected"), [(0, "true"), (1, "false")])
def test_lldas_reads_recorded_haemolysis_and_gi_items(hemolysis: int, expected: str) -> None:
    sle = sle_patient("S1", prednisolone=None)
    sle.visit("month_6").observations += [obs("sle_hemolytic_anemia", hemolysis), obs("sle_gi_activity", 0)]
    row = value(compute_outcomes(study(sle)), "S1", "month_6", "lldas", "lldas")
    assert row.evaluable and row.value == expected
    assert "assumed absent" not in row.source


def test_sri4_against_baseline(sle_table: pd.DataFrame) -> None:
    row = value(sle_table, "S1", "month_6", "sri4", "responder")
    # SLEDAI 14 -> 2 and PGA 2.0 -> 0.3, but BILAG is not a registry code: not evaluable, named
    assert not row.evaluable and "BILAG" in row.reason
    assert "baseline visit baseline" in row.source


def test_doris_on_an_antimalarial_alone_needs_no_stable_rule() -> None:
    """DORIS 2021 allows antimalarials; stable doses are asked of immunosuppressives incl. biologics (review #17.7)."""
    p = sle_patient("S4", prednisolone=None)
    p.medications.append(med("m4", "Plaquenil", "200", -365, None, frequency="bid"))
    table = compute_outcomes(study(p))
    assert value(table, "S4", "month_6", "doris", "remission").value == "true"
    assert value(table, "S4", "month_6", "doris", "remission_off_therapy").value == "true"
    assert value(table, "S4", "month_6", "drug_free", "drug_free").value == "false"
    p.medications.append(med("m5", "mycophenolate mofetil", "1000", -365, None, frequency="bid"))
    with_is = compute_outcomes(study(p))
    row = value(with_is, "S4", "month_6", "doris", "remission")
    assert not row.evaluable and "mycophenolate" in row.reason and "stable_dose_days" in row.reason
    assert "hydroxychloroquine" not in row.reason
    stable = compute_outcomes(study(p), options={"stable_dose_days": 90})
    assert value(stable, "S4", "month_6", "doris", "remission").value == "true"


# ----------------------------------------------------------------------------------------------- SSc


def ssc_visits(crp: str, unit: str, crp_followup: str) -> list[VisitRecord]:
    grades = dict.fromkeys(MRSS_AREAS, 1) | {"face": 2, "anterior_chest": 2, "abdomen": 2}  # 14 paired + 6 = 20
    areas = [obs(f"mrss_{a}", g) for a, g in grades.items()]
    common = [obs("digital_ulcers", 0), obs("tendon_friction_rubs", 0), obs("dlco_pct", 65, "%")]
    return [
        visit("baseline", -6, [*areas, obs("skin_worsening", 1), *common, obs("crp", crp, unit)]),
        visit("month_3", 90, [*areas, obs("skin_worsening", 0), *common, obs("crp", crp_followup, unit)]),
    ]


def test_eustar_ai_identical_for_crp_in_mg_per_dl_and_mg_per_l() -> None:
    table = compute_outcomes(
        study(
            patient("L", "SSc", ssc_visits("15", "mg/L", "10")),
            patient("D", "SSc", ssc_visits("1.5", "mg/dL", "1.0")),
        )
    )
    eustar = table[table.instrument == "eustar_ai"]
    by_patient = {
        p: frame[["visit", "result", "value"]].reset_index(drop=True) for p, frame in eustar.groupby("patient")
    }
    pd.testing.assert_frame_equal(by_patient["L"], by_patient["D"])
    # mRSS 20 > 18 (1.5) + skin worsening (1.5) + CRP 15 mg/L > 10 (2.25) + DLCO 65 < 70 (1.0) = 6.25
    assert value(table, "L", "baseline", "mrss", "total").value == "20"
    assert value(table, "L", "baseline", "eustar_ai", "total").value == "6.25"
    assert value(table, "L", "baseline", "eustar_ai", "active").value == "true"
    # CRP exactly 10 mg/L = 1 mg/dL is not > 1 mg/dL: 1.5 + 1.0
    assert value(table, "D", "month_3", "eustar_ai", "total").value == "2.5"


def test_criss_step1_not_recorded_is_said() -> None:
    visits = ssc_visits("15", "mg/L", "10")
    visits[1].observations = [o for o in visits[1].observations if not o.code.startswith("mrss_")]
    visits[1].observations += [obs(f"mrss_{a}", 0) for a in MRSS_AREAS]  # mRSS 20 -> 0
    for v, fvc, pt, md, haq in ((visits[0], 80, 6, 6, "1.5"), (visits[1], 82, 3, 3, "1.0")):
        v.observations += [
            obs("fvc_pct", fvc, "%"),
            obs("ssc_patient_global", pt),
            obs("ssc_physician_global", md),
            obs("ssc_haq_di", haq),
        ]
    table = compute_outcomes(study(patient("C", "SSc", visits)))
    improved = value(table, "C", "month_3", "criss", "improved")
    assert not improved.evaluable and "step-1 organ events" in improved.reason
    assert value(table, "C", "month_3", "criss", "step2_probability").evaluable
    assumed = compute_outcomes(study(patient("C", "SSc", visits)), options={"criss_step1_events": "assume_absent"})
    assert value(assumed, "C", "month_3", "criss", "improved").value == "true"


# ----------------------------------------------------------------------------------------------- IIM


def iim_visit(label: str, day: int, haq: str, mmt_each: int = 7, ck: int = 2000) -> VisitRecord:
    return visit(
        label,
        day,
        [
            *[obs(f"mmt8_{g}", mmt_each) for g in MMT8_GROUPS],
            obs("myo_physician_global", 6),
            obs("myo_patient_global", 6),
            obs("myo_extramuscular_global", 4),
            obs("myo_haq_di", haq),
            obs("ck", ck, "U/L"),
            obs("ck_uln", 200, "U/L"),
        ],
    )


def test_tis_haq_band_edge_is_exact() -> None:
    p = patient(
        "M",
        "IIM",
        [
            iim_visit("screening", -21, "1.6"),
            iim_visit("baseline", -6, "1.5"),
            iim_visit("month_3", 90, "1.35"),  # 0.15 / 3 = exactly 5 %: 0 points
            iim_visit("month_6", 180, "1.34"),  # 5.33 %: 5 points
        ],
    )
    table = compute_outcomes(study(p))
    assert value(table, "M", "baseline", "mmt8", "total").value == "56"
    assert value(table, "M", "month_3", "myositis_tis", "points_haq").value == "0"
    assert value(table, "M", "month_3", "myositis_tis", "total").value == "0"
    assert value(table, "M", "month_3", "myositis_tis", "level").value == "none"
    assert value(table, "M", "month_6", "myositis_tis", "points_haq").value == "5"
    assert value(table, "M", "month_6", "myositis_tis", "total").value == "5"
    assert value(table, "M", "month_6", "myositis_tis", "enzyme_used").value == "ck"
    assert "baseline visit baseline" in value(table, "M", "month_6", "myositis_tis", "total").source
    assert value(table, "M", "month_6", "imacs_doi", "improved").value == "false"
    assert not ((table.visit == "baseline") & (table.instrument == "myositis_tis")).any()


def test_tis_missing_measure_names_the_code() -> None:
    follow = iim_visit("month_3", 90, "1.0")
    follow.observations = [o for o in follow.observations if o.code != "myo_patient_global"]
    table = compute_outcomes(study(patient("M", "IIM", [iim_visit("baseline", -6, "1.5"), follow])))
    row = value(table, "M", "month_3", "myositis_tis", "total")
    assert not row.evaluable and "myo_patient_global" in row.reason


# ----------------------------------------------------------------------------------------------- safety


def daily(day: int, temp: str, hypo: str, oxygen: str, reported: int, treated: int | None = None) -> VisitRecord:
    unit = "[degF]" if Decimal(temp) > 50 else "Cel"
    items = [
        obs("crs_temperature", temp, unit),
        obs("crs_hypotension", text=hypo),
        obs("crs_oxygen", text=oxygen),
        obs("crs_grade_reported", reported),
        obs("ice_score", 10),
        obs("icans_consciousness", text="alert"),
        obs("icans_seizure", text="none"),
        obs("icans_motor", text="none"),
        obs("icans_intracranial_pressure", text="none"),
        obs("icans_grade_reported", 0),
    ]
    if treated is not None:
        items.append(obs("crs_treated", treated))
    return visit(f"d{day}", day, items, kind="daily")


def crs_patient(code: str, reported_day3: int) -> PatientRecord:
    return patient(
        code,
        "other",
        [
            daily(0, "37.0", "none", "none", 0, 0),
            daily(1, "100.9", "none", "none", 1, 0),  # 38.28 °C in °F
            daily(2, "38.9", "fluids_only", "none", 2, 1),
            daily(3, "38.2", "none", "low_flow_nasal_cannula", reported_day3),
            daily(4, "37.0", "none", "none", 0),
            daily(5, "36.8", "none", "none", 0),
        ],
    )


def test_crs_course_maximum_onset_and_reported_agreement() -> None:
    table = compute_outcomes(study(crs_patient("A", 2), crs_patient("B", 3)))
    assert value(table, "A", COURSE_VISIT, "crs", "max_grade").value == "2"
    assert value(table, "A", COURSE_VISIT, "crs", "max_grade_day").value == "2"
    assert value(table, "A", COURSE_VISIT, "crs", "onset_day").value == "1"
    assert value(table, "A", COURSE_VISIT, "crs", "duration_days").value == "3"
    assert value(table, "A", COURSE_VISIT, "crs", "reported_grade_agrees").value == "true"
    assert value(table, "B", COURSE_VISIT, "crs", "reported_max_grade").value == "3"
    assert value(table, "B", COURSE_VISIT, "crs", "reported_grade_agrees").value == "false"
    assert (
        value(table, "B", COURSE_VISIT, "crs", "reported_grade_disagreements").value == "day 3: computed 2, reported 3"
    )
    assert value(table, "A", COURSE_VISIT, "icans", "max_grade").value == "0"
    assert pd.isna(value(table, "A", COURSE_VISIT, "crs", "max_grade").study_day)


def test_crs_missing_parameter_names_the_code() -> None:
    p = crs_patient("A", 2)
    p.visits[2].observations = [o for o in p.visits[2].observations if o.code != "crs_hypotension"]
    row = value(compute_outcomes(study(p)), "A", COURSE_VISIT, "crs", "max_grade")
    assert not row.evaluable and "day 2" in row.reason and "crs_hypotension" in row.reason


def test_icaht_and_ctcae_from_counts() -> None:
    visits = [visit(f"d{d}", d, [obs("anc", "0.3", "10*9/L")]) for d in range(0, 4)]
    visits += [visit(f"d{d}", d, [obs("anc", 2000, "/uL")]) for d in range(4, 31)]
    visits += [visit("m3", 90, [obs("anc", 1800, "/uL"), obs("hemoglobin", 75, "g/L")])]
    visits += [visit("m6", 180, [obs("anc", 1900, "/uL")])]
    table = compute_outcomes(study(patient("N", "other", visits)))
    assert value(table, "N", COURSE_VISIT, "icaht", "early_grade").value == "1"  # 4 days <= 500
    assert value(table, "N", COURSE_VISIT, "icaht", "late_grade").value == "0"
    assert value(table, "N", "d0", "ctcae", "neutrophil_count_decreased").value == "4"
    assert value(table, "N", "m3", "ctcae", "anemia").value == "3"  # 7.5 g/dL < 8.0
    ungraded = value(table, "N", "m3", "ctcae", "neutrophil_count_decreased")
    assert not ungraded.evaluable and "lower limit of normal" in ungraded.reason


# ----------------------------------------------------------------------------------------------- medications


def test_prednisolone_equivalent_and_drug_free() -> None:
    meds = [
        med("1", "methylprednisolone", "8", -30, 40),
        med("2", "mycophenolate mofetil", "1000", -400, -1, frequency="bid"),
        med("3", "hydroxychloroquine", "200", -400, None),
        med("4", "tocilizumab", "8", 2, 2, unit="mg/kg", route="intravenous", frequency="once", indication="CRS"),
        med("5", "cotrimoxazole", "960", 0, None, frequency="three times weekly", indication="prophylaxis"),
    ]
    visits = [visit("baseline", -6, []), visit("day_28", 28, []), visit("month_3", 90, [])]
    table = compute_outcomes(study(patient("P", "other", visits, meds)))
    assert value(table, "P", "day_28", "prednisolone_equivalent", "mg_per_day").value == "10"
    assert value(table, "P", "month_3", "prednisolone_equivalent", "mg_per_day").value == "0"
    assert value(table, "P", "baseline", "drug_free", "immunosuppressant_free").value == "false"
    assert value(table, "P", "day_28", "drug_free", "immunosuppressant_free").value == "true"
    assert value(table, "P", "day_28", "drug_free", "immunosuppressant_free_since").value == "0"
    assert value(table, "P", "day_28", "drug_free", "glucocorticoid_free").value == "false"
    assert value(table, "P", "month_3", "drug_free", "glucocorticoid_free_since").value == "41"
    assert value(table, "P", "month_3", "drug_free", "drug_free").value == "false"  # hydroxychloroquine
    assert not ((table.visit == "day_28") & (table.result == "glucocorticoid_free_since")).any()


def test_unknown_drug_or_dose_is_not_evaluable_with_the_record() -> None:
    meds = [
        med("1", "prednisolone", "1", -10, None, unit="mg/kg"),
        med("2", "unobtainium", "5", 10, None),
    ]
    visits = [visit("baseline", -6, []), visit("month_1", 30, [])]
    table = compute_outcomes(study(patient("Q", "other", visits, meds)))
    row = value(table, "Q", "baseline", "prednisolone_equivalent", "mg_per_day")
    assert not row.evaluable and "prednisolone (1)" in row.reason and "mg/kg" in row.reason
    assert value(table, "Q", "baseline", "drug_free", "immunosuppressant_free").value == "true"
    row = value(table, "Q", "month_1", "drug_free", "drug_free")
    assert not row.evaluable and "unobtainium (2)" in row.reason


# ----------------------------------------------------------------------------------------------- API


def test_determinism_and_order_independence(sle_table: pd.DataFrame) -> None:
    patients = [
        sle_patient("S1", prednisolone=None),
        sle_patient("S2", prednisolone="7.5"),
        sle_patient("S3", prednisolone=None, pga6=None),
    ]
    shuffled = [p.model_copy(deep=True) for p in patients]
    rng = random.Random(1)
    rng.shuffle(shuffled)
    for p in shuffled:
        rng.shuffle(p.visits)
        rng.shuffle(p.medications)
    again = compute_outcomes(study(*shuffled))
    pd.testing.assert_frame_equal(sle_table, again)


def test_instrument_selection_and_progress() -> None:
    calls: list[tuple[int, int]] = []
    table = compute_outcomes(
        study(sle_patient("S1", prednisolone=None), sle_patient("S2", prednisolone=None)),
        options={"instruments": ["doris"]},
        progress=lambda done, total: calls.append((done, total)),
    )
    assert set(table.instrument) == {"doris"}
    assert calls == [(1, 2), (2, 2)]
    with pytest.raises(InvalidInput, match="instruments"):
        compute_outcomes(study(), options={"instruments": ["sledai"]})


def test_write_outcomes_csv_and_parquet(tmp_path: Path, sle_table: pd.DataFrame) -> None:
    csv = write_outcomes(sle_table, tmp_path / "o.csv")
    back = pd.read_csv(csv, dtype={"value": str, "patient": str, "site": str})
    assert len(back) == len(sle_table) and list(back.columns) == list(COLUMNS)
    parquet = write_outcomes(sle_table, tmp_path / "o.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(parquet), sle_table)
    with pytest.raises(InvalidInput, match=r"\.csv or \.parquet"):
        write_outcomes(sle_table, tmp_path / "o.xlsx")


DESCRIPTOR_SETS = st.sets(st.sampled_from(SLEDAI_DESCRIPTORS), max_size=4)


@st.composite
def random_patient(draw: st.DrawFn, code: str) -> PatientRecord:
    disease = draw(st.sampled_from(["SLE", "SSc", "IIM", "other"]))
    days = draw(st.lists(st.integers(-30, 400), min_size=1, max_size=5, unique=True))
    visits = []
    for i, day in enumerate(days):
        items: list[ObservationRecord] = []
        if draw(st.booleans()):
            items += sledai(draw(DESCRIPTOR_SETS), draw(st.sampled_from([None, "0.2", "1.5"])))
        if draw(st.booleans()):
            items.append(obs("anc", draw(st.integers(0, 5000)), "/uL"))
        if draw(st.booleans()):
            items += [obs(f"mmt8_{g}", draw(st.integers(0, 10))) for g in MMT8_GROUPS]
            items.append(obs("myo_haq_di", draw(st.sampled_from(["0", "1.5", "3"]))))
        if draw(st.booleans()):
            items += [obs(f"mrss_{a}", draw(st.integers(0, 3))) for a in MRSS_AREAS]
        kind = draw(st.sampled_from(["scheduled", "unscheduled", "daily"]))
        visits.append(visit(f"v{i}", day, items, kind=kind))
    meds = [med("g", "prednisolone", draw(st.sampled_from(["2.5", "5", "10"])), draw(st.integers(-50, 50)), None)]
    return patient(code, disease, visits, meds)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(0, 99), min_size=1, max_size=3, unique=True).flatmap(
    lambda ids: st.tuples(*(random_patient(f"P{i}") for i in ids))
))  # fmt: skip
def test_rows_are_unique_per_patient_visit_instrument_result(patients: tuple[PatientRecord, ...]) -> None:
    table = compute_outcomes(study(*patients))
    keys = table[["patient", "visit", "instrument", "result"]]
    assert not keys.duplicated().any()
    assert (table.evaluable == table.value.notna()).all()


# ----------------------------------------------------------------------------------------------- sample


@pytest.fixture(scope="module")
def sample_table() -> pd.DataFrame:
    from immunoreset.registry import redcap

    folder = redcap.sample_project_path()
    record = redcap.read_redcap_export(
        folder / "export.csv", folder / "data_dictionary.csv", redcap.sample_mapping_path()
    )
    return compute_outcomes(record)


def test_sample_project_sle_activity_is_scored_at_every_assessment(sample_table: pd.DataFrame) -> None:
    sle = sample_table[(sample_table.disease == "SLE") & (sample_table.instrument == "sledai2k")]
    totals = sle[sle.result == "total"]
    assert totals.patient.nunique() == 8
    assessed = totals[(totals.study_day < 0) | (totals.study_day >= 14)]  # the virtual trial's assessment visits
    assert assessed.evaluable.all()
    baseline = assessed[assessed.visit == "day -7"]
    assert len(baseline) == 8 and (baseline.value_num >= 4).all()  # refractory, active SLE at inclusion


def test_sample_project_tis_at_every_follow_up(sample_table: pd.DataFrame) -> None:
    iim = sample_table[sample_table.disease == "IIM"]
    follow_ups = iim[(iim.instrument == "mmt8") & (iim.study_day > 0) & iim.evaluable][["patient", "visit"]]
    tis = iim[(iim.instrument == "myositis_tis") & (iim.result == "total")]
    assert len(follow_ups) > 0
    merged = follow_ups.merge(tis, on=["patient", "visit"], how="left")
    assert merged.evaluable.fillna(False).all(), merged[~merged.evaluable.fillna(False)]


def test_sample_project_crs_and_icans_maxima_equal_the_recorded_adverse_events(sample_table: pd.DataFrame) -> None:
    """The ASTCT grades computed from the daily assessments equal the grades of the CRS/ICANS adverse events
    recorded in the same export (0 where none is recorded)."""
    import csv

    from immunoreset.registry import redcap

    rows = list(csv.DictReader((redcap.sample_project_path() / "export.csv").open(encoding="utf-8")))
    for instrument, term in (("crs", "Cytokine release syndrome"), ("icans", "Immune effector cell")):
        recorded: dict[str, int] = {}
        for r in rows:
            if r["redcap_repeat_instrument"] == "adverse_events" and r["ae_term"].startswith(term):
                recorded[r["record_id"]] = max(recorded.get(r["record_id"], 0), int(r["ae_grade"]))
        table = sample_table[(sample_table.instrument == instrument) & (sample_table.result == "max_grade")]
        computed = dict(zip(table.patient, table.value.astype(int), strict=True))
        assert len(computed) == 15
        assert computed == {p: recorded.get(p, 0) for p in computed}
        if instrument == "crs":
            assert any(v > 0 for v in computed.values())  # CRS is common after CD19 CAR-T


# ----------------------------------------------------------------------------------------------- classification


@pytest.mark.parametrize(
    ("titre", "classified"),
    [(80, "true"), (40, "false")],  # 2019 EULAR/ACR entry criterion: ANA >= 1:80 on HEp-2 (Aringer 2019)
)
def test_sle_classification_from_screening_items_at_the_entry_boundary(titre: int, classified: str) -> None:
    items = [obs("sle2019_ana_titre", titre), obs("sle2019_acute_pericarditis", 1), obs("sle2019_anti_dsdna", 1)]
    table = compute_outcomes(study(patient("P", "SLE", [visit("screening", -28, items)])))
    assert value(table, "P", "screening", "sle_classification_2019", "classified").value == classified
    assert value(table, "P", "screening", "sle_classification_2019", "total_points").value == "12"  # 6 + 6


def test_ssc_and_iim_classification_from_screening_items() -> None:
    skin = [obs("ssc2013_skin_thickening_proximal_to_mcp", 1)]
    exclusions = [
        obs("ssc2013_skin_thickening_sparing_fingers", 0),
        obs("ssc2013_better_explained_by_other_disorder", 0),
    ]
    ssc = patient("S", "SSc", [visit("screening", -28, skin + exclusions), visit("later", 30, skin)])
    present = {"anti_jo1", "proximal_upper_limb_weakness", "proximal_lower_limb_weakness"}
    absent = {"neck_flexors_weaker_than_extensors", "legs_proximal_weaker_than_distal", "heliotrope_rash",
              "gottron_papules", "gottron_sign", "dysphagia_or_oesophageal_dysmotility", "raised_muscle_enzymes",
              "muscle_biopsy", "better_explanation"}  # fmt: skip
    iim_items = [obs("iim2017_age_at_onset", 45)]
    iim_items += [obs(f"iim2017_{n}", 1) for n in sorted(present)] + [obs(f"iim2017_{n}", 0) for n in sorted(absent)]
    iim = patient("M", "IIM", [visit("screening", -28, iim_items)])
    table = compute_outcomes(study(ssc, iim))
    assert value(table, "S", "screening", "ssc_classification_2013", "classified").value == "true"  # sufficient: 9
    assert value(table, "S", "screening", "ssc_classification_2013", "total_points").value == "9"
    undecided = value(table, "S", "later", "ssc_classification_2013", "classified")  # exclusions not recorded
    assert not undecided.evaluable and "skin_thickening_sparing_fingers" in undecided.reason
    probability = value(table, "M", "screening", "iim_classification_2017", "probability")
    assert probability.evaluable and 0 < probability.value_num < 1
    assert not (table.instrument == "sle_classification_2019").any()  # no SLE items recorded: no row
