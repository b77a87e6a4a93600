"""SDTM: trial design (TS, TE, TA, TV, TI), SE/SV/DS, EPOCH, --LOBXFL, CDISC units, DM completeness, AE
causality and seriousness, the conformance checks, the new registry fields through store and CLI."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyreadstat
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from immunoreset.errors import InvalidInput
from immunoreset.registry import redcap
from immunoreset.registry.records import (
    AdverseEventRecord,
    InfusionRecord,
    LymphodepletionRecord,
    MedicationRecord,
    ObservationRecord,
    PatientRecord,
    SiteRecord,
    StudyDesignRecord,
    StudyRecord,
    VisitRecord,
)
from immunoreset.registry.sdtm import DOMAIN_VARIABLES, sdtm_domains
from immunoreset.registry.sdtm_conformance import REQUIRED_TS_PARAMETERS, sdtm_conformance
from immunoreset.registry.store import Registry, initialise
from immunoreset.registry.vocabulary import CDISC_UNITS, cdisc_unit

INFUSION = dt.date(2024, 3, 4)


def _patient(code: str = "P1", **changes: object) -> PatientRecord:
    """One infused patient: consent day -10, fludarabine days -5..-3, visits on days -7, -5, 0, 1 and 28."""

    def lab(code_: str, value: str, unit: str) -> ObservationRecord:
        return ObservationRecord(code=code_, value=Decimal(value), unit=unit)

    values: dict[str, object] = {
        "code": code,
        "site": "1",
        "disease": "SLE",
        "sex": "F",
        "age_years": 34,
        "race": "asian",
        "ethnicity": "NOT HISPANIC OR LATINO",
        "consent_day": -10,
        "disposition": "COMPLETED",
        "disposition_day": 365,
        "infusion": InfusionRecord(product="CD19 CAR-T", dose_cells_per_kg=Decimal(1000000), date=INFUSION),
        "lymphodepletion": [
            LymphodepletionRecord(agent="fludarabine", dose_mg_per_m2=Decimal(25), first_day=-5, last_day=-3)
        ],
        "visits": [
            VisitRecord(label="screening", study_day=-7, observations=[lab("crp", "4", "mg/L")]),
            VisitRecord(label="ld", study_day=-5, observations=[lab("crp", "6", "mg/L"), lab("c3", "0.5", "g/L")]),
            VisitRecord(label="infusion", study_day=0, observations=[lab("crp", "7", "mg/L")]),
            VisitRecord(label="day 1", study_day=1, observations=[lab("crp", "30", "mg/L")]),
            VisitRecord(label="day 28", study_day=28, observations=[lab("wbc", "3.1", "10*9/L")]),
        ],
        "medications": [
            MedicationRecord(key="m1", drug="hydroxychloroquine", start_day=-900),
            MedicationRecord(key="m2", drug="aciclovir", start_day=-4),
        ],
        "adverse_events": [
            AdverseEventRecord(
                key="ae1",
                term="Cytokine release syndrome",
                grade=3,
                grading="ASTCT",
                onset_day=1,
                resolution_day=4,
                serious_criteria=["hospitalisation", "life-threatening"],
                relationship="RELATED",
                action_taken="NOT APPLICABLE",
            ),
            AdverseEventRecord(key="ae2", term="Neutropenia", grade=2, onset_day=9, serious=False),
        ],
    }
    values.update(changes)
    return PatientRecord.model_validate(values)


def _study(*patients: PatientRecord, country: str | None = "DEU", design: bool = True) -> StudyRecord:
    return StudyRecord(
        code="S1",
        design=StudyDesignRecord(
            title="CD19 CAR-T in refractory SLE",
            phase="phase i/ii trial",
            sponsor="Test sponsor",
            indication="Systemic lupus erythematosus",
            planned_subjects=12,
            start_date=dt.date(2024, 2, 1),
            visits=[{"label": "screening", "day": -7}, {"label": "day 28", "day": 28, "window_before": 2}],
            criteria=[{"code": "INCL01", "text": "SLE by the 2019 EULAR/ACR criteria", "category": "inclusion"}],
        )
        if design
        else None,
        sites=[SiteRecord(code="1", name="Erlangen", country=country)],
        patients=list(patients) or [_patient()],
    )


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    return sdtm_domains(_study())


def _one(frame: pd.DataFrame, **where: object) -> pd.Series:
    mask = pd.Series(True, index=frame.index)
    for name, value in where.items():
        mask &= frame[name] == value
    assert mask.sum() == 1, where
    return frame[mask].iloc[0]


# ------------------------------------------------------------------------------------------ records


def test_new_record_fields_refuse_bad_values_with_their_name() -> None:
    with pytest.raises(ValueError, match="country"):
        SiteRecord(code="1", country="GER")
    assert SiteRecord(code="1", country="deu").country == "DEU"
    with pytest.raises(ValueError, match="race"):
        _patient(race="caucasian")
    with pytest.raises(ValueError, match="a disposition when its day, date or reason is given"):
        _patient(disposition=None, disposition_day=30)
    undated = _patient(disposition="LOST TO FOLLOW-UP", disposition_day=None)  # SDTM DSSTDTC may be blank
    ds = sdtm_domains(_study(undated))["DS"]
    event = ds[ds["DSCAT"] == "DISPOSITION EVENT"].iloc[0]
    assert event[["DSDECOD", "DSSTDTC", "EPOCH"]].tolist() == ["LOST TO FOLLOW-UP", "", ""]
    with pytest.raises(ValueError, match="serious is false but seriousness criteria"):
        AdverseEventRecord(key="a", term="x", serious=False, serious_criteria=["death"])
    assert AdverseEventRecord(key="a", term="x", serious_criteria=["death"]).serious is True
    with pytest.raises(ValueError, match="age_max_years 17 is below"):
        StudyDesignRecord(
            title="t", phase="NOT APPLICABLE", sponsor="s", indication="i", age_min_years=18, age_max_years=17
        )


def test_consent_and_disposition_days_follow_their_dates() -> None:
    p = _patient(consent_day=None, consent_date=INFUSION - dt.timedelta(days=12), disposition_day=None,
                 disposition_date=INFUSION + dt.timedelta(days=100))  # fmt: skip
    assert (p.consent_day, p.disposition_day) == (-12, 100)
    with pytest.raises(ValueError, match="consent_day"):
        _patient(consent_day=-3, consent_date=INFUSION - dt.timedelta(days=12))


# ------------------------------------------------------------------------------------------ DM, EX, AE


def test_dm_is_complete(frames: dict[str, pd.DataFrame]) -> None:
    dm = frames["DM"].iloc[0]
    assert (dm["COUNTRY"], dm["AGE"], dm["AGEU"], dm["RACE"], dm["ETHNIC"]) == (
        "DEU", 34.0, "YEARS", "ASIAN", "NOT HISPANIC OR LATINO"
    )  # fmt: skip
    assert (dm["RFSTDTC"], dm["RFXSTDTC"], dm["RFXENDTC"]) == ("2024-03-04", "2024-02-28", "2024-03-04")
    assert (dm["RFICDTC"], dm["RFPENDTC"], dm["ACTARMUD"]) == ("2024-02-23", "2025-03-04", "")


def test_a_site_without_country_is_refused_in_one_line() -> None:
    with pytest.raises(InvalidInput) as caught:
        sdtm_domains(_study(country=None))
    text = str(caught.value)
    assert "\n" not in text and "site country" in text and "REDCap mapping" in text


def test_lymphodepletion_route_and_form(frames: dict[str, pd.DataFrame]) -> None:
    flu = _one(frames["EX"], EXTRT="fludarabine")
    assert (flu["EXROUTE"], flu["EXDOSFRM"], flu["EPOCH"], flu["EXSTDY"]) == (
        "INTRAVENOUS",
        "INJECTION",
        "TREATMENT",
        -5,
    )


def test_ae_causality_action_and_seriousness_flags(frames: dict[str, pd.DataFrame]) -> None:
    crs = _one(frames["AE"], AESPID="ae1")
    assert (crs["AESER"], crs["AEREL"], crs["AEACN"], crs["EPOCH"]) == ("Y", "RELATED", "NOT APPLICABLE", "FOLLOW-UP")
    flags = {v: crs[v] for v in ("AESCONG", "AESDISAB", "AESDTH", "AESHOSP", "AESLIFE", "AESMIE")}
    assert flags == {"AESCONG": "N", "AESDISAB": "N", "AESDTH": "N", "AESHOSP": "Y", "AESLIFE": "Y", "AESMIE": "N"}
    neutropenia = _one(frames["AE"], AESPID="ae2")
    assert neutropenia["AESER"] == "N" and neutropenia["AESHOSP"] == "" and neutropenia["AEREL"] == ""


# ------------------------------------------------------------------------------------------ timing


@pytest.mark.parametrize(
    ("day", "epoch"),
    [(-11, ""), (-10, "SCREENING"), (-6, "SCREENING"), (-5, "TREATMENT"), (0, "TREATMENT"), (1, "FOLLOW-UP")],
)
def test_epoch_boundaries(day: int, epoch: str) -> None:
    """Consent day -10, first lymphodepletion day -5, infusion day 0: each edge on both sides."""
    p = _patient(medications=[MedicationRecord(key="m", drug="prednisolone", start_day=day)])
    cm = sdtm_domains(_study(p))["CM"]
    assert list(cm["EPOCH"]) == [epoch]


def test_every_observation_record_has_an_epoch_of_ta(frames: dict[str, pd.DataFrame]) -> None:
    epochs = set(frames["TA"]["EPOCH"])
    assert epochs == {"SCREENING", "TREATMENT", "FOLLOW-UP"}
    for domain in ("EX", "AE", "LB", "SV", "DS"):
        assert set(frames[domain]["EPOCH"]) <= epochs, domain
    assert list(frames["LB"].sort_values("LBDY")["EPOCH"])[:2] == ["SCREENING", "TREATMENT"]


def test_last_observation_before_exposure(frames: dict[str, pd.DataFrame]) -> None:
    """Exposure starts on day -5 (fludarabine): the day -5 CRP is the last before it, the day 0 one is not."""
    lb = frames["LB"]
    flagged = lb[lb["LBLOBXFL"] == "Y"]
    assert sorted(zip(flagged["LBTESTCD"], flagged["LBDY"], strict=True)) == [("C3", -5.0), ("CRP", -5.0)]
    assert set(lb["LBLOBXFL"]) == {"Y", ""}


def test_units_leave_in_cdisc_terminology(frames: dict[str, pd.DataFrame]) -> None:
    wbc = _one(frames["LB"], LBTESTCD="WBC")
    assert (wbc["LBORRESU"], wbc["LBSTRESU"]) == ("10^9/L", "10^9/L")
    assert cdisc_unit("Cel") == "C" and cdisc_unit("g/(24.h)") == "g/day" and cdisc_unit("1") == ""
    assert cdisc_unit("10*3/mm3") == "10^3/mm3"  # outside the table: same rules, flagged by the conformance check
    assert all("*" not in v and "{" not in v and "[" not in v for v in CDISC_UNITS.values())


# ------------------------------------------------------------------------------------------ trial design


def test_trial_design_datasets(frames: dict[str, pd.DataFrame]) -> None:
    ts = frames["TS"].set_index("TSPARMCD")
    assert ts.loc["TPHASE", "TSVAL"] == "PHASE I/II TRIAL" and ts.loc["SSTDTC", "TSVAL"] == "2024-02-01"
    assert ts.loc["FCNTRY", "TSVAL"] == "DEU" and ts.loc["FCNTRY", "TSVCDREF"] == "ISO 3166-1 Alpha-3"
    assert (ts.loc["AGEMIN", "TSVAL"], ts.loc["AGEMIN", "TSVALNF"]) == ("", "NI")  # not recorded: a null flavour
    assert set(REQUIRED_TS_PARAMETERS) <= set(ts.index)
    assert list(frames["TA"]["ETCD"]) == ["SCRN", "LD", "CART", "FU"]
    assert list(frames["TE"]["ETCD"]) == ["SCRN", "LD", "CART", "FU"]
    tv = frames["TV"]
    assert list(tv["VISITDY"]) == [-7.0, 29.0] and "window -2/+0 days" in tv["TVSTRL"].iloc[1]
    assert frames["TI"].iloc[0][["IETESTCD", "IECAT"]].tolist() == ["INCL01", "INCLUSION"]


def test_subject_elements_visits_and_disposition(frames: dict[str, pd.DataFrame]) -> None:
    se = frames["SE"]
    assert list(se["ETCD"]) == ["SCRN", "LD", "CART", "FU"]
    assert list(se["SESTDY"]) == [-10.0, -5.0, 1.0, 2.0] and list(se["SEENDY"]) == [-5.0, 1.0, 2.0, 366.0]
    assert list(se["SESTDTC"])[1:] == list(se["SEENDTC"])[:-1]  # an element ends where the next starts
    assert len(frames["SV"]) == 5 and _one(frames["SV"], VISIT="day 28")["VISITDY"] == 29.0
    ds = frames["DS"]
    assert list(ds["DSDECOD"]) == ["INFORMED CONSENT OBTAINED", "COMPLETED"]
    assert list(ds["DSCAT"]) == ["PROTOCOL MILESTONE", "DISPOSITION EVENT"]
    assert list(ds["EPOCH"]) == ["SCREENING", "FOLLOW-UP"]


def test_without_a_design_ts_says_no_information_and_the_check_reports_it() -> None:
    frames = sdtm_domains(_study(design=False))
    assert len(frames["TV"]) == 0 and len(frames["TI"]) == 0
    ts = frames["TS"].set_index("TSPARMCD")
    assert ts.loc["TITLE", "TSVALNF"] == "NI" and ts.loc["STYPE", "TSVAL"] == "INTERVENTIONAL"
    warnings = [f for f in sdtm_conformance(frames) if f.severity == "warning" and f.domain == "TS"]
    assert {"TITLE", "SSTDTC"} <= {f.message.split()[0] for f in warnings}


# ------------------------------------------------------------------------------------------ conformance


def test_a_clean_package_has_no_errors(frames: dict[str, pd.DataFrame]) -> None:
    findings = sdtm_conformance(frames)
    assert [f for f in findings if f.severity == "error"] == []
    assert [str(f) for f in findings] == [
        "warning: AE.AEREL row 2: expected variable not collected",
        "warning: AE.AEACN row 2: expected variable not collected",
    ]


@pytest.mark.parametrize(
    ("domain", "variable", "value", "expected"),
    [
        ("DM", "COUNTRY", "", "DM.COUNTRY row 1: required variable is null"),
        ("DM", "COUNTRY", "GER", "not an ISO 3166-1 alpha-3 code"),
        ("DM", "RACE", "CAUCASIAN", "DM.RACE row 1: 'CAUCASIAN' is not a term of its codelist"),
        ("LB", "LBDTC", "2024-3-4", "is not an ISO 8601 date"),
        ("LB", "LBDTC", "2024-02-30", "'2024-02-30' is not an ISO 8601 date"),
        ("LB", "EPOCH", "RUN-IN", "LB.EPOCH row 1: RUN-IN is not an epoch of TA"),
        ("AE", "AESHOSP", "YES", "AE.AESHOSP row 1: 'YES': expected N or Y"),
        ("DM", "RFXSTDTC", "2024-03-04", "the first EXSTDTC is 2024-02-28"),
        ("LB", "LBSEQ", 2.0, "LB.USUBJID/LBSEQ row 2: key repeated"),
        ("LB", "LBDY", 5.0, "LB.LBDY row 1: 5, but 2024-02-26 vs RFSTDTC 2024-03-04 is day -7"),
    ],
)
def test_each_defect_is_found(
    frames: dict[str, pd.DataFrame], domain: str, variable: str, value: object, expected: str
) -> None:
    broken = {name: frame.copy() for name, frame in frames.items()}
    target = broken[domain]
    if domain == "LB":
        target.sort_values("LBSEQ", inplace=True, ignore_index=True)
    target.loc[0, variable] = value
    messages = [str(f) for f in sdtm_conformance(broken) if f.severity == "error"]
    assert any(expected in m for m in messages), messages


def test_missing_dataset_and_ts_parameter_are_errors(frames: dict[str, pd.DataFrame]) -> None:
    broken = {name: frame for name, frame in frames.items() if name != "TI"}
    broken["TS"] = frames["TS"][frames["TS"]["TSPARMCD"] != "SSTDTC"]
    messages = [str(f) for f in sdtm_conformance(broken) if f.severity == "error"]
    assert "error: TI.: dataset missing (SDTMIG: every study has trial-design datasets and DM)" in messages
    assert "error: TS.TSPARMCD: parameter SSTDTC missing" in messages


@settings(max_examples=25, deadline=None)
@given(infusion=st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2060, 1, 1)),
       days=st.lists(st.integers(-400, 4000), min_size=1, max_size=6, unique=True))  # fmt: skip
def test_study_days_agree_with_dates_for_any_calendar(infusion: dt.date, days: list[int]) -> None:
    """--DY from the registry's study day equals --DY computed from --DTC and RFSTDTC (no day 0), for any
    infusion date and any visit days, so the conformance check finds nothing to say about timing."""
    p = _patient(
        consent_day=min([*days, -10]),
        disposition_day=max([*days, 365]),
        infusion=InfusionRecord(product="CD19 CAR-T", dose_cells_per_kg=Decimal(1000000), date=infusion),
        visits=[VisitRecord(label=f"v{d}", study_day=d, observations=[]) for d in days],
        adverse_events=[],
    )
    findings = sdtm_conformance(sdtm_domains(_study(p)))
    assert [f for f in findings if f.severity == "error"] == []


# ------------------------------------------------------------------------------------------ end to end


def test_sample_project_package_from_the_command_line(tmp_path: Path) -> None:
    """The shipped REDCap sample, imported and exported by the CLI: every trial-design and subject dataset,
    COUNTRY never null, no derived rows in QS, no conformance error, XPT read back identically by two
    independent readers: pyreadstat (ReadStat, C) and pandas' own SAS XPORT reader. (The `xport` package
    pins pandas < 1.4 and cannot be installed beside pandas 2.)"""
    folder = redcap.sample_project_path()
    db = f"sqlite:///{tmp_path / 'r.db'}"
    cli = [sys.executable, "-m", "immunoreset"]
    for args in (
        ["db", "init", "--db", db],
        ["import", "redcap", str(folder / "export.csv"), "--dictionary", str(folder / "data_dictionary.csv"),
         "--mapping", str(folder / "mapping.yaml"), "--events", str(folder / "events.csv"), "--db", db],
    ):  # fmt: skip
        subprocess.run([*cli, *args], check=True, capture_output=True, text=True)
    out = tmp_path / "sdtm"
    done = subprocess.run(
        [*cli, "export", "sdtm", "--db", db, "--out", str(out), "--xpt"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "conformance: 0 error(s)" in done.stdout
    names = {p.stem for p in out.glob("*.xpt")}
    assert {"ts", "te", "ta", "tv", "ti", "dm", "se", "sv", "ds", "ex", "ae", "lb", "qs", "pc"} <= names
    dm = pd.read_csv(out / "dm.csv", dtype=str, keep_default_na=False)
    assert len(dm) == 15 and (dm["COUNTRY"] == "DEU").all() and (dm["AGEU"] == "YEARS").all()
    qs = pd.read_csv(out / "qs.csv", dtype=str, keep_default_na=False)
    assert "QSDRVFL" not in qs.columns and qs["QSCAT"].str.upper().eq(qs["QSCAT"]).all()
    for stem in sorted(names):
        back, _meta = pyreadstat.read_xport(str(out / f"{stem}.xpt"))
        other = pd.read_sas(out / f"{stem}.xpt", format="xport", encoding="utf-8")
        # pandas decodes the IBM zero (eight zero bytes) as 16**-65 = 5.4e-79; pyreadstat and SAS read 0
        numeric = other.select_dtypes("number").columns
        other[numeric] = other[numeric].mask(other[numeric].abs() < 1e-75, 0.0)
        assert list(back.columns) == [v.name for v in DOMAIN_VARIABLES[stem.upper()]]
        assert len(other) == len(back) and list(other.columns) == list(back.columns), stem
        for column in back.columns:
            left, right = back[column].tolist(), other[column].tolist()
            if back[column].dtype == object:
                assert [str(x).rstrip() for x in left] == [str(x).rstrip() for x in right], (stem, column)
            else:
                assert pd.Series(left).equals(pd.Series(right, dtype="float64")), (stem, column)


def test_new_fields_round_trip_through_the_store(registry_url: str) -> None:
    study = _study(_patient(disposition_reason="moved abroad"), _patient("P2", disposition=None, disposition_day=None))
    initialise(registry_url)
    registry = Registry.open(registry_url)
    registry.load(study)
    back = registry.read_study("S1")
    assert back.design == study.design
    assert back.sites[0].country == "DEU"
    assert back.patient("P1") == study.patient("P1") and back.patient("P2") == study.patient("P2")
    assert registry.verify_audit().ok


# ------------------------------------------------------------------------------------------ review findings


def test_se_uses_the_arms_element_order_for_a_patient_without_lymphodepletion() -> None:
    frames = sdtm_domains(_study(_patient("P1"), _patient("P2", lymphodepletion=[])))
    ta = dict(zip(frames["TA"]["ETCD"], frames["TA"]["TAETORD"], strict=True))
    se = frames["SE"]
    p2 = se[se["USUBJID"] == "S1-1-P2"]
    assert list(p2["ETCD"]) == ["SCRN", "CART", "FU"]
    assert list(p2["TAETORD"]) == [ta["SCRN"], ta["CART"], ta["FU"]] == [1.0, 3.0, 4.0]


def test_consent_after_the_infusion_keeps_the_epochs() -> None:
    """A registry may consent a patient after the infusion: the treatment records keep their epochs."""
    frames = sdtm_domains(_study(_patient(consent_day=30)))
    assert set(frames["EX"]["EPOCH"]) == {"TREATMENT"}
    assert "" not in set(frames["LB"]["EPOCH"])
    consent = frames["DS"].iloc[0]
    assert (consent["DSDECOD"], consent["EPOCH"]) == ("INFORMED CONSENT OBTAINED", "FOLLOW-UP")


def test_seriousness_flags_are_never_invented() -> None:
    events = [
        AdverseEventRecord(key="a", term="Sepsis", grade=5, onset_day=20, serious=True),
        AdverseEventRecord(key="b", term="Pneumonia", grade=3, onset_day=40, serious=True),
    ]
    ae = sdtm_domains(_study(_patient(adverse_events=events)))["AE"].set_index("AESPID")
    assert (ae.loc["a", "AESDTH"], ae.loc["a", "AESHOSP"]) == ("Y", "N")  # grade 5 is a death by definition
    assert ae.loc["b", ["AESDTH", "AESHOSP", "AESMIE"]].tolist() == ["", "", ""]  # no criterion recorded


def test_medication_units_leave_in_cdisc_terminology() -> None:
    meds = [MedicationRecord(key="i", drug="immunoglobulin", dose=Decimal(30), unit="g", start_day=60),
            MedicationRecord(key="v", drug="vitamin D", dose=Decimal(20000), unit="[IU]", start_day=-30)]  # fmt: skip
    cm = sdtm_domains(_study(_patient(medications=meds)))["CM"].set_index("CMSPID")
    assert (cm.loc["i", "CMDOSU"], cm.loc["v", "CMDOSU"]) == ("g", "IU")


def test_a_load_without_a_design_keeps_the_stored_one(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    initialise(url)
    registry = Registry.open(url)
    registry.load(_study())
    registry.load(_study().model_copy(update={"design": None, "name": "renamed"}))
    back = registry.read_study("S1")
    assert back.name == "renamed" and back.design == _study().design


def test_revision_0004_upgrades_a_0003_registry_on_both_engines(registry_url: str) -> None:
    """A registry created at revision 0003 (before these fields) upgrades to the head, after which the new
    fields are stored and the audit trail verifies."""
    from sqlalchemy import inspect

    from immunoreset.registry.engine import current_revision, head_revision, init_db, make_engine

    engine = make_engine(registry_url, create=True)
    assert init_db(engine, revision="0003") == "0003"
    assert "country" not in {c["name"] for c in inspect(engine).get_columns("site")}
    initialise(registry_url)
    assert current_revision(engine) == head_revision() == "0004"
    columns = {c["name"] for c in inspect(engine).get_columns("patient")}
    assert {"race", "ethnicity", "age_years", "consent_day", "disposition", "disposition_reason"} <= columns
    registry = Registry.open(registry_url)
    registry.load(_study())
    assert registry.read_study("S1") == _study() and registry.verify_audit().ok
