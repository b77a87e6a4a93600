"""ADaM: ADSL one row per subject, ADTTE's times equal the cohort analysis's (censoring included) and point to
their SDTM records, XPT v5 with SAS dates, and the `export adam` command on the sample project."""

from __future__ import annotations

import datetime as dt
import math
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyreadstat
import pytest

from immunoreset.analysis.adam import ADAM_VARIABLES, RESPONSE_PARAMETERS, SAS_EPOCH, adam_datasets, write_adam
from immunoreset.analysis.cohort import analyse_cohort, relapse_times
from immunoreset.analysis.survival import reconstitution_times
from immunoreset.errors import InvalidInput
from immunoreset.registry import redcap
from immunoreset.registry.outcomes import compute_outcomes
from immunoreset.registry.records import (
    InfusionRecord,
    ObservationRecord,
    PatientRecord,
    SiteRecord,
    StudyRecord,
    VisitRecord,
)
from immunoreset.registry.sdtm import sdtm_domains

INFUSION = dt.date(2024, 5, 6)


def _b_cells(code: str, counts: dict[int, str], **extra: object) -> PatientRecord:
    visits = [
        VisitRecord(
            label=f"day {day}",
            study_day=day,
            observations=[ObservationRecord(code="cd19_b_cells", value=Decimal(value), unit="/uL")],
        )
        for day, value in counts.items()
    ]
    return PatientRecord.model_validate(
        {
            "code": code,
            "site": "1",
            "disease": "SLE",
            "sex": "F",
            "age_years": 30,
            "infusion": InfusionRecord(product="CD19 CAR-T", dose_cells_per_kg=Decimal(1000000), date=INFUSION),
            "visits": visits,
            **extra,
        }
    )


@pytest.fixture(scope="module")
def study() -> StudyRecord:
    """Three patients: reconstituted between days 90 and 120, still aplastic at day 180 (censored), and one
    never aplastic (not in ADTTE)."""
    return StudyRecord(
        code="ADAM",
        sites=[SiteRecord(code="1", country="FRA")],
        patients=[
            _b_cells(
                "R1", {-3: "150", 7: "0", 28: "1", 90: "2", 120: "60"}, disposition="COMPLETED", disposition_day=180
            ),
            _b_cells(
                "C1",
                {-3: "90", 14: "0", 90: "0", 180: "3"},
                disposition="WITHDRAWAL BY SUBJECT",
                disposition_day=200,
                disposition_reason="moved",
            ),
            _b_cells("N1", {-3: "200", 14: "40", 90: "180"}),
        ],
    )


@pytest.fixture(scope="module")
def datasets(study: StudyRecord) -> dict[str, pd.DataFrame]:
    return adam_datasets(study)


def test_adsl_one_row_per_subject_with_status_and_dates(datasets: dict[str, pd.DataFrame]) -> None:
    adsl = datasets["ADSL"].set_index("SUBJID")
    assert list(datasets["ADSL"].columns) == [v.name for v in ADAM_VARIABLES["ADSL"]]
    assert sorted(adsl.index) == ["C1", "N1", "R1"] and datasets["ADSL"]["USUBJID"].is_unique
    assert adsl.loc["R1", "EOSSTT"] == "COMPLETED" and adsl.loc["R1", "DCSREAS"] == ""
    assert (adsl.loc["C1", "EOSSTT"], adsl.loc["C1", "DCSREAS"]) == ("DISCONTINUED", "WITHDRAWAL BY SUBJECT")
    assert adsl.loc["N1", "EOSSTT"] == "ONGOING" and math.isnan(adsl.loc["N1", "EOSDT"])
    assert adsl.loc["R1", "TRTEDT"] == (INFUSION - SAS_EPOCH).days and adsl.loc["R1", "EOSDY"] == 181.0
    assert (adsl.loc["R1", "COUNTRY"], adsl.loc["R1", "DOSEKG"], adsl.loc["R1", "SAFFL"]) == ("FRA", 1.0, "Y")
    assert adsl.loc["R1", "DISEASE"] == "Systemic lupus erythematosus"


def test_adtte_equals_the_cohort_analysis_with_censoring(study: StudyRecord, datasets: dict[str, pd.DataFrame]) -> None:
    analysis = analyse_cohort(study, compute_outcomes(study))
    expected = reconstitution_times(analysis.bcells)
    got = datasets["ADTTE"].set_index("USUBJID")
    got = got[got["PARAMCD"] == "BCELLREC"]
    assert len(got) == len(expected) == 2  # N1 never reached aplasia
    for r in expected.to_dict(orient="records"):
        row = got.loc[f"ADAM-1-{r['patient']}"]
        assert row["AVAL"] == pytest.approx(r["time"]) and row["CNSR"] == (0.0 if r["event"] else 1.0)
    r1, c1 = got.loc["ADAM-1-R1"], got.loc["ADAM-1-C1"]
    # R1: aplastic on day 90, reconstituted on day 120 -> event at the midpoint, day 105 (date imputed)
    assert (r1["AVAL"], r1["CNSR"], r1["ADY"], r1["ADTF"], r1["EVNTDESC"]) == (
        105.0, 0.0, 106.0, "D", "B-CELL RECONSTITUTION"
    )  # fmt: skip
    # C1: still below 5/uL on day 180 -> censored there
    assert (c1["AVAL"], c1["CNSR"], c1["ADY"], c1["ADTF"]) == (180.0, 1.0, 181.0, "")
    assert c1["CNSDTDSC"].startswith("LAST B-CELL COUNT")
    for row in (r1, c1):
        assert row["ADT"] - row["STARTDT"] == math.floor(row["AVAL"])  # AVAL = ADT - STARTDT (whole days)


def test_every_adtte_row_points_to_the_count_that_proves_it(
    study: StudyRecord, datasets: dict[str, pd.DataFrame]
) -> None:
    lb = sdtm_domains(study)["LB"].set_index(["USUBJID", "LBSEQ"])
    proof = {}
    adtte = datasets["ADTTE"]
    for r in adtte[adtte["PARAMCD"] == "BCELLREC"].to_dict(orient="records"):
        assert (r["SRCDOM"], r["SRCVAR"]) == ("LB", "LBSTRESN")
        source = lb.loc[(r["USUBJID"], r["SRCSEQ"])]
        assert source["LBTESTCD"] == "CD19"
        proof[r["USUBJID"]] = (source["LBDY"], source["LBSTRESN"])
    assert proof == {"ADAM-1-R1": (121.0, 60.0), "ADAM-1-C1": (181.0, 3.0)}


def test_adtte_follows_the_b_cell_definition_of_the_report(tmp_path: Path, study: StudyRecord) -> None:
    """With a stricter reconstitution threshold (>= 100 cells/uL) R1 is censored at its last count below it,
    as the report with the same option says."""
    from immunoreset.kinetics.bcells import BCellOptions

    options = BCellOptions(reconstitution_at_least=Decimal(100))
    write_adam(study, tmp_path, b_cells=options)
    adtte = pd.read_csv(tmp_path / "adtte.csv")
    adtte = adtte[adtte["PARAMCD"] == "BCELLREC"].set_index("USUBJID")
    expected = reconstitution_times(analyse_cohort(study, compute_outcomes(study), b_cells=options).bcells)
    assert adtte.loc["ADAM-1-R1", "CNSR"] == 1.0 and not expected.set_index("patient").loc["R1", "event"]
    assert adtte.loc["ADAM-1-R1", "AVAL"] == expected.set_index("patient").loc["R1", "time"] == 120.0


def test_an_empty_study_is_a_one_line_error() -> None:
    with pytest.raises(InvalidInput, match="a study with patients"):
        adam_datasets(StudyRecord(code="E", sites=[SiteRecord(code="1", country="DEU")]))


def test_a_long_reason_is_cut_on_bytes_not_characters() -> None:
    from immunoreset.analysis.adam import _utf8_prefix

    text = "—" * 100  # 300 bytes
    cut = _utf8_prefix(text, 200)
    assert len(cut.encode("utf-8")) <= 200 and cut.endswith("...") and _utf8_prefix("short", 200) == "short"


def test_xpt_with_sas_dates_reads_back(tmp_path: Path, study: StudyRecord, datasets: dict[str, pd.DataFrame]) -> None:
    paths = write_adam(study, tmp_path, xpt=True)
    assert {p.name for p in paths} == {
        "adsl.csv",
        "adsl.xpt",
        "adrs.csv",
        "adrs.xpt",
        "adtte.csv",
        "adtte.xpt",
        "define.xml",
    }
    for name, frame in datasets.items():
        back, meta = pyreadstat.read_xport(str(tmp_path / f"{name.lower()}.xpt"))
        assert meta.table_name == name and meta.column_labels == [v.label for v in ADAM_VARIABLES[name]]
        assert meta.original_variable_types.get("TRTEDT" if name == "ADSL" else "ADT", "").startswith("DATE")
        for column in frame.columns:
            if frame[column].dtype == object:
                assert back[column].tolist() == frame[column].tolist(), (name, column)
    adsl, _ = pyreadstat.read_xport(str(tmp_path / "adsl.xpt"))
    assert set(adsl["TRTEDT"].dropna()) == {INFUSION}  # DATE9. values come back as calendar dates


def test_sample_project_adam_from_the_command_line(tmp_path: Path) -> None:
    folder = redcap.sample_project_path()
    db = f"sqlite:///{tmp_path / 'r.db'}"
    cli = [sys.executable, "-m", "immunoreset"]
    subprocess.run([*cli, "db", "init", "--db", db], check=True, capture_output=True)
    subprocess.run(
        [*cli, "import", "redcap", str(folder / "export.csv"), "--dictionary", str(folder / "data_dictionary.csv"),
         "--mapping", str(folder / "mapping.yaml"), "--events", str(folder / "events.csv"), "--db", db],
        check=True, capture_output=True,
    )  # fmt: skip
    done = subprocess.run([*cli, "export", "adam", "--db", db, "--out", str(tmp_path / "adam"), "--xpt"],
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    adsl = pd.read_csv(tmp_path / "adam" / "adsl.csv", dtype=str, keep_default_na=False)
    assert len(adsl) == 15 and adsl["USUBJID"].is_unique and (adsl["SAFFL"] == "Y").all()
    adtte = pd.read_csv(tmp_path / "adam" / "adtte.csv")
    assert set(adtte["PARAMCD"]) == {"BCELLREC", "TTDORIS", "TTTISMAJ", "TTEUSTAR", "TTDFRESP", "TTRELAPS"}
    assert adtte.loc[adtte["PARAMCD"] == "BCELLREC", "SRCSEQ"].notna().all()
    adrs = pd.read_csv(tmp_path / "adam" / "adrs.csv", dtype=str, keep_default_na=False)
    assert {"DORIS", "LLDAS", "SRI4", "TISLEVEL", "CRISS", "EUSTARAI", "DFDORIS6"} <= set(adrs["PARAMCD"])
    assert not adrs.duplicated(["USUBJID", "PARAMCD", "AVISIT"]).any()
    # the published pattern survives the export: every SLE patient in DORIS remission at month 6
    month6 = adrs[(adrs["PARAMCD"] == "DORIS") & (adrs["AVISIT"] == "day 180")]
    assert len(month6) == 8 and (month6["AVALC"] == "Y").all()
    missing = subprocess.run([*cli, "export", "adam", "--db", str(tmp_path / "none.db"), "--out", str(tmp_path)],
                             capture_output=True, text=True)  # fmt: skip
    assert missing.returncode != 0 and "Traceback" not in missing.stderr and len(missing.stderr.splitlines()) == 1


def test_adrs_is_the_outcome_table_per_visit(tmp_path: Path) -> None:
    """Each ADRS row is the instrument's own result at that visit (no derivation of its own), with the visit
    number SV gives the visit and the analysis flag on evaluable rows only."""
    folder = redcap.sample_project_path()
    study = redcap.read_redcap_export(
        folder / "export.csv", folder / "data_dictionary.csv", redcap.sample_mapping_path()
    )
    outcomes = compute_outcomes(study)
    sdtm = sdtm_domains(study)
    adrs = adam_datasets(study, sdtm=sdtm, outcomes=outcomes)["ADRS"]
    wanted = outcomes[[k in RESPONSE_PARAMETERS for k in zip(outcomes["instrument"], outcomes["result"], strict=True)]]
    assert len(adrs) == len(wanted)
    code_of = {v: k for k, v in zip(sdtm["DM"]["USUBJID"], sdtm["DM"]["SUBJID"], strict=True)}
    got = adrs.set_index(["USUBJID", "PARAMCD", "AVISIT"])
    for r in wanted.to_dict(orient="records"):
        row = got.loc[(code_of[r["patient"]], RESPONSE_PARAMETERS[(r["instrument"], r["result"])][0], r["visit"])]
        assert row["ANL01FL"] == ("Y" if r["evaluable"] else "")
        if r["evaluable"] and r["value"] in ("true", "false"):
            assert row["AVALC"] == ("Y" if r["value"] == "true" else "N") and row["AVAL"] == r["value_num"]
        assert row["ADY"] == (r["study_day"] + 1 if r["study_day"] >= 0 else r["study_day"])
    sv = sdtm["SV"].set_index(["USUBJID", "VISIT"])["VISITNUM"]
    for r in adrs.head(200).to_dict(orient="records"):
        assert r["AVISITN"] == sv.loc[(r["USUBJID"], r["AVISIT"])]


def test_response_times_equal_the_cohort_analysis() -> None:
    """TTDORIS/TTTISMAJ/TTEUSTAR and TTDFRESP on the sample: the cohort analysis's first-response and
    sustained drug-free response tables, event or censoring, row for row."""
    folder = redcap.sample_project_path()
    study = redcap.read_redcap_export(
        folder / "export.csv", folder / "data_dictionary.csv", redcap.sample_mapping_path()
    )
    outcomes = compute_outcomes(study)
    analysis = analyse_cohort(study, outcomes)
    adtte = adam_datasets(study, outcomes=outcomes, analysis=analysis)["ADTTE"]
    codes = {"SLE": "TTDORIS", "IIM": "TTTISMAJ", "SSc": "TTEUSTAR"}
    for table, fixed in ((analysis.first_response, None), (analysis.sustained, "TTDFRESP")):
        for r in table.to_dict(orient="records"):
            paramcd = fixed or codes[r["disease"]]
            row = adtte[(adtte["PARAMCD"] == paramcd) & adtte["USUBJID"].str.endswith("-" + r["patient"])]
            assert len(row) == 1, (paramcd, r["patient"])
            assert row["AVAL"].iloc[0] == r["time"] and row["CNSR"].iloc[0] == (0.0 if r["event"] else 1.0)
            assert row["ADY"].iloc[0] == r["time"] + 1
    relapses = relapse_times(analysis.visits)
    relapse_rows = adtte[adtte["PARAMCD"] == "TTRELAPS"]
    assert len(relapse_rows) == len(relapses) == int(analysis.response_course["responders"].sum())
    assert int((relapse_rows["CNSR"] == 0).sum()) == int(analysis.response_course["relapsed"].sum())
    # the published pattern: every SLE patient reached DORIS remission (by month 6 in this sample)
    doris = adtte[adtte["PARAMCD"] == "TTDORIS"]
    assert len(doris) == 8 and (doris["CNSR"] == 0).all() and (doris["AVAL"] <= 180).all()


def test_relapse_times_follow_the_confirmation_rule() -> None:
    """Responders only; a single visit out of response is not a relapse (confirm=2), two in a row are, and a
    loss lasting to the last visit counts; without relapse the time is the last evaluable visit."""
    rows = []
    for patient, flags in {"A": [False, True, False, True, True], "B": [True, False, False, True],
                           "C": [True, True, False], "D": [False, False]}.items():  # fmt: skip
        rows += [{"patient": patient, "disease": "SLE", "study_day": 30 * (k + 1), "response": f}
                 for k, f in enumerate(flags)]  # fmt: skip
    table = relapse_times(pd.DataFrame(rows)).set_index("patient")
    assert list(table.index) == ["A", "B", "C"]  # D never responded
    assert (table.loc["A", "event"], table.loc["A", "time"]) == (False, 150)
    assert (table.loc["B", "event"], table.loc["B", "time"]) == (True, 60)
    assert (table.loc["C", "event"], table.loc["C", "time"]) == (True, 90)
    with pytest.raises(InvalidInput, match="confirm"):
        relapse_times(pd.DataFrame(rows), confirm=0)
