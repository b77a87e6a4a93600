"""Tidy CSV format: round trip, hand-written files, and every problem reported with file, row and column."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from immunoreset.errors import InvalidInput
from immunoreset.registry import redcap as rc
from immunoreset.registry.records import ObservationRecord, PatientRecord, SiteRecord, StudyRecord, VisitRecord
from immunoreset.registry.tidy_csv import COLUMNS, read_tidy_csv, write_tidy_csv

SAMPLE = rc.sample_project_path()


def _files(tmp_path: Path, **tables: str) -> Path:
    base = {
        "study": "study,name\nDEMO,Demo study\n",
        "sites": "site,name\nERL,Erlangen\n",
        "patients": (
            "patient,site,disease,sex,birth_year,weight_kg,height_cm,product,dose_cells_per_kg,infusion_date\n"
            "P1,ERL,SLE,F,1990,60,165,MB-CART19.1,1000000,2024-01-10\n"
        ),
    }
    base.update(tables)
    for name, text in base.items():
        (tmp_path / f"{name}.csv").write_text(text, encoding="utf-8")
    return tmp_path


OBS_HEADER = "patient,visit,kind,visitnum,study_day,date,code,value,unit,method\n"


def test_hand_written_study(tmp_path: Path) -> None:
    obs = OBS_HEADER + (
        "P1,baseline,scheduled,1,-7,2024-01-03,crp,12.5,mg/L,\n"
        "P1,baseline,scheduled,1,-7,2024-01-03,c3,0.61,g/L,\n"
        "P1,baseline,scheduled,1,-7,2024-01-03,sledai_arthritis,1,,\n"
        "P1,month_3,,2,,2024-04-09,crp,0.3,mg/dL,\n"
        "P1,daily_d2,daily,,2,,crs_oxygen,low_flow_nasal_cannula,,\n"
        "P1,daily_d2,daily,,2,,car_t_cells,58,cells/µL,flow cytometry\n"
        "P1,month_6,scheduled,3,180,,,,,\n"
    )
    ld = "patient,agent,dose_mg_per_m2,first_day,last_day\nP1,fludarabine,25,-5,-3\nP1,cyclophosphamide,1000,-3,\n"
    meds = "patient,key,drug,dose,unit,route,frequency,start_date,stop_date,indication\n"
    meds += "P1,m1,prednisolone,5,mg,oral,once_daily,2023-01-01,2024-01-08,autoimmune disease\n"
    aes = "patient,key,term,grade,grading,onset_day,resolution_day,serious\nP1,a1,CRS,1,ASTCT,1,3,no\n"
    study = read_tidy_csv(_files(tmp_path, observations=obs, lymphodepletion=ld, medications=meds, adverse_events=aes))
    p = study.patient("P1")
    assert p.infusion is not None and p.infusion.date == dt.date(2024, 1, 10)
    assert [v.label for v in p.visits] == ["baseline", "month_3", "daily_d2", "month_6"]
    m3 = p.visit("month_3")
    assert m3.study_day == 90 and m3.kind == "scheduled"
    assert m3.observations[0].unit == "mg/dL" and m3.observations[0].value == Decimal("0.3")
    d2 = {o.code: o for o in p.visit("daily_d2").observations}
    assert d2["crs_oxygen"].value_text == "low_flow_nasal_cannula" and d2["car_t_cells"].unit == "/uL"
    assert p.visit("month_6").observations == []
    assert p.lymphodepletion[1].last_day == -3
    assert p.medications[0].stop_day == -2 and p.adverse_events[0].serious is False


def test_every_problem_with_file_row_and_column(tmp_path: Path) -> None:
    obs = OBS_HEADER + (
        "P1,screening,scheduled,0,-20,2024-01-03,crp,12.5,mg/L,\n"  # row 2: day -20 contradicts the date (-7)
        "P1,baseline,scheduled,1,-7,2024-01-03,crp,12.5,mg/L,\n"  # row 3: fine
        "P1,baseline,scheduled,1,-7,2024-01-03,hemoglobin,45,g/dL,\n"  # row 4: out of range
        "P1,baseline,scheduled,1,-7,2024-01-03,crp,13,mg/L,\n"  # row 5: crp twice at the visit
        "P1,baseline,scheduled,2,-7,2024-01-03,c3,1,g/L,\n"  # row 6: visit number differs from row 3
        "P1,month_3,scheduled,2,90,,c3,0.9,,\n"  # row 7: no unit
        "P2,month_3,scheduled,2,90,,c3,0.9,g/L,\n"  # row 8: unknown patient
        "P1,month_3,scheduled,2,90,,ck,1.2.3,U/L,\n"  # row 9: not a number
        "P1,month_3,scheduled,2,90,,crs_oxygen,ventilator,,\n"  # row 10: not a choice
        "P1,month_3,scheduled,2,90,,albumin,40,g/L,\n"  # row 11: unknown code
        "P1,month_6,scheduled,3,180,2024-02-30,,,,\n"  # row 12: impossible date
        "P1,month_9,scheduled,4,270,,crp,5,mmHg,\n"  # row 13: unknown unit
    )
    meds = "patient,key,drug,start_date,stop_date\nP1,m1,prednisolone,2024-01-05,2024-01-01\n"
    with pytest.raises(InvalidInput) as info:
        read_tidy_csv(_files(tmp_path, observations=obs, medications=meds))
    found = {p.location for p in info.value.problems}
    assert found == {
        "observations.csv row 2, column study_day",
        "observations.csv row 4, column value",
        "observations.csv row 5, column code",
        "observations.csv row 6, column visitnum",
        "observations.csv row 7, column unit",
        "observations.csv row 8, column patient",
        "observations.csv row 9, column value",
        "observations.csv row 10, column value",
        "observations.csv row 11, column code",
        "observations.csv row 12, column date",
        "observations.csv row 13, column unit",
        "medications.csv row 2, column stop_date",
    }


def test_medications_and_events_end_after_they_start_and_keys_are_unique(tmp_path: Path) -> None:
    meds = "patient,key,drug,start_day,stop_day\n"
    meds += "P1,m1,prednisolone,-30,-10\nP1,m1,hydroxychloroquine,-30,-10\nP1,m2,methotrexate,-10,-30\n"
    aes = "patient,key,term,grade,grading,onset_day,resolution_day,onset_date,resolution_date\n"
    aes += "P1,a1,CRS,1,ASTCT,3,1,,\nP1,a2,Fever,1,CTCAE v5.0,,,2024-01-20,2024-01-12\nP1,a3,Fever,1,CTCAE v5.0,5,6,,\n"
    aes += "P1,a3,Rash,1,CTCAE v5.0,7,8,,\n"
    with pytest.raises(InvalidInput) as info:
        read_tidy_csv(_files(tmp_path, medications=meds, adverse_events=aes))
    found = {(p.location, p.expected) for p in info.value.problems}
    assert found == {
        ("medications.csv row 3, column key", "each key once per patient"),
        ("medications.csv row 4, column stop_day", "on or after the start"),
        ("adverse_events.csv row 2, column resolution_day", "on or after the onset"),
        ("adverse_events.csv row 3, column resolution_date", "on or after the onset"),
        ("adverse_events.csv row 5, column key", "each key once per patient"),
    }


def test_header_and_file_problems(tmp_path: Path) -> None:
    _files(tmp_path, observations="patient,visit,colour\n")
    (tmp_path / "notes.csv").write_text("x\n", encoding="utf-8")
    with pytest.raises(InvalidInput) as info:
        read_tidy_csv(tmp_path)
    found = {(p.field, p.location) for p in info.value.problems}
    assert ("colour", "observations.csv row 1, column colour") in found
    assert any(f == "file" and "notes.csv" in (loc or "") for f, loc in found)
    with pytest.raises(InvalidInput) as info:
        read_tidy_csv([tmp_path / "patients.csv"])
    assert {p.value for p in info.value.problems} == {"study.csv", "sites.csv"}


def test_prefixed_files_of_one_kind_are_read_together(tmp_path: Path) -> None:
    _files(tmp_path)
    (tmp_path / "a_observations.csv").write_text(OBS_HEADER + "P1,baseline,,1,-7,,crp,1,mg/L,\n", encoding="utf-8")
    (tmp_path / "b_observations.csv").write_text(OBS_HEADER + "P1,baseline,,1,-7,,c3,1,g/L,\n", encoding="utf-8")
    study = read_tidy_csv(sorted(tmp_path.glob("*.csv")))
    assert [o.code for o in study.patient("P1").visit("baseline").observations] == ["crp", "c3"]


def test_sample_round_trip(tmp_path: Path) -> None:
    study = rc.read_redcap_export(SAMPLE / "export.csv", SAMPLE / "data_dictionary.csv", rc.sample_mapping_path())
    written = write_tidy_csv(study, tmp_path)
    assert [p.name for p in written] == [f"{k}.csv" for k in COLUMNS]
    assert read_tidy_csv(tmp_path) == study


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    crp=st.decimals(min_value=0, max_value=100, places=2, allow_nan=False, allow_infinity=False),
    unit=st.sampled_from(["mg/L", "mg/dL"]),
    day=st.integers(-30, 800),
)
def test_random_values_round_trip(tmp_path: Path, crp: Decimal, unit: str, day: int) -> None:
    study = StudyRecord(
        code="RT",
        sites=[SiteRecord(code="S")],
        patients=[
            PatientRecord(
                code="P",
                site="S",
                disease="SSc",
                visits=[
                    VisitRecord(
                        label="v", study_day=day, observations=[ObservationRecord(code="crp", value=crp, unit=unit)]
                    )
                ],
            )
        ],
    )
    write_tidy_csv(study, tmp_path)
    assert read_tidy_csv(tmp_path) == study
