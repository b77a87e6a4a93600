"""SDTM export of a StudyRecord: domains, --SEQ/--DY rules, units, XPT v5 round trip, limits, determinism."""

from __future__ import annotations

import datetime as dt
import math
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pyreadstat
import pytest

from immunoreset.errors import InvalidInput
from immunoreset.registry.records import (
    AdverseEventRecord,
    EligibilityCriterionRecord,
    InfusionRecord,
    LymphodepletionRecord,
    MedicationRecord,
    ObservationRecord,
    PatientRecord,
    PlannedVisitRecord,
    SiteRecord,
    StudyDesignRecord,
    StudyRecord,
    VisitRecord,
)
from immunoreset.registry.sdtm import (
    DOMAIN_VARIABLES,
    SDTMIG_VERSION,
    check_xpt_limits,
    sdtm_domains,
    sdtm_test_name,
    study_day_to_dy,
    write_sdtm,
)
from immunoreset.registry.vocabulary import all_codes
from immunoreset.registry.vocabulary import code as vocabulary_code

ROOT = Path(__file__).resolve().parents[1]


def obs(
    code: str, value: str | None = None, unit: str | None = None, text: str | None = None, **kw: Any
) -> ObservationRecord:
    """One observation; the unit defaults to the vocabulary's canonical unit."""
    number = Decimal(value) if value is not None else None
    return ObservationRecord(code=code, value=number, unit=unit or vocabulary_code(code).unit, value_text=text, **kw)


def fludarabine_cyclophosphamide() -> list[LymphodepletionRecord]:
    return [
        LymphodepletionRecord(agent="fludarabine", dose_mg_per_m2=Decimal(25), first_day=-5, last_day=-3),
        LymphodepletionRecord(agent="cyclophosphamide", dose_mg_per_m2=Decimal(1000), first_day=-3, last_day=-3),
    ]


def make_study() -> StudyRecord:
    infusion = dt.date(2023, 3, 1)

    def on(day: int) -> dt.date:
        return infusion + dt.timedelta(days=day)

    sle = PatientRecord(
        code="P01",
        site="1",
        disease="SLE",
        sex="F",
        birth_year=1985,
        age_years=37,
        race="WHITE",
        ethnicity="NOT HISPANIC OR LATINO",
        consent_date=on(-14),
        disposition="WITHDRAWAL BY SUBJECT",
        disposition_date=on(200),
        disposition_reason="moved abroad",
        weight_kg=Decimal("62.5"),
        height_cm=Decimal(168),
        infusion=InfusionRecord(product="MB-CART19.1", dose_cells_per_kg=Decimal(1000000), date=infusion),
        lymphodepletion=fludarabine_cyclophosphamide(),
        visits=[
            VisitRecord(
                label="baseline",
                date=on(-7),
                visitnum=Decimal(1),
                observations=[
                    obs("crp", "1.2", "mg/dL"),
                    obs("c3", "0.62", "g/L"),
                    obs("c3_lln", "90", "mg/dL"),
                    obs("c4", "0.05", "g/L"),
                    obs("anti_dsdna", "150", "[IU]/mL"),
                    obs("anti_dsdna_uln", "100", "[IU]/mL"),
                    obs("wbc", "3.5", "/nL"),
                    obs("urine_casts", text="none"),
                    obs("sledai_arthritis", "1"),
                    obs("sledai_rash", "0"),
                    obs("sle_pga", "1.5"),
                    obs("temperature", "98.6", "[degF]"),
                    obs("cd19_b_cells", "120", "/uL", method="flow cytometry"),
                ],
            ),
            VisitRecord(
                label="day_minus_1",
                date=on(-1),
                visitnum=Decimal(2),
                observations=[obs("crp", "3", "mg/L")],
            ),
            VisitRecord(
                label="infusion",
                date=on(0),
                visitnum=Decimal(3),
                observations=[obs("car_t_cells", "0", "/uL"), obs("crp", "4.0", "mg/L")],
            ),
            VisitRecord(
                label="crs_day_1",
                date=on(1),
                kind="daily",
                observations=[
                    obs("crs_temperature", "38.6", "Cel"),
                    obs("crs_hypotension", text="none"),
                    obs("crs_oxygen", text="none"),
                    obs("crs_treated", "1"),
                    obs("crs_grade_reported", "1"),
                    obs("ice_score", "10"),
                    obs("icans_grade_reported", "0"),
                ],
            ),
            VisitRecord(
                label="crs_day_2",
                date=on(2),
                kind="daily",
                observations=[obs("crs_temperature", "37.4", "Cel"), obs("crs_hypotension", text="none")],
            ),
            VisitRecord(
                label="day_7",
                date=on(7),
                visitnum=Decimal(4),
                observations=[
                    obs("car_t_cells", "45.5", "/uL"),
                    obs("transgene_copies", "12000", "copies/ug"),
                    obs("cd19_b_cells", "0", "/uL"),
                ],
            ),
        ],
        medications=[
            MedicationRecord(
                key="medications:1",
                drug="prednisolone",
                dose=Decimal(5),
                unit="mg",
                route="oral",
                frequency="once_daily",
                start_date=on(-200),
                stop_date=on(30),
                indication="SLE",
            ),
            MedicationRecord(
                key="medications:2",
                drug="aciclovir",
                dose=Decimal(400),
                unit="mg",
                route="oral",
                frequency="twice_daily",
                start_day=0,
                indication="prophylaxis",
            ),
        ],
        adverse_events=[
            AdverseEventRecord(
                key="adverse_events:1",
                term="CRS",
                grade=1,
                grading="ASTCT",
                onset_day=1,
                resolution_day=2,
                serious=False,
            ),
            AdverseEventRecord(
                key="adverse_events:2",
                term="Neutropenia",
                grade=3,
                onset_day=5,
                serious=True,
                serious_criteria=["hospitalisation"],
                relationship="related",
                action_taken="not applicable",
            ),
        ],
    )
    ssc = PatientRecord(
        code="P02",
        site="2",
        disease="SSc",
        sex="M",
        birth_year=1970,
        infusion=InfusionRecord(product="MB-CART19.1", dose_cells_per_kg=Decimal(1000000), date=dt.date(2023, 5, 9)),
        lymphodepletion=fludarabine_cyclophosphamide(),
        visits=[
            VisitRecord(
                label="baseline",
                date=dt.date(2023, 5, 2),
                visitnum=Decimal(1),
                observations=[
                    obs("mrss_face", "2"),
                    obs("mrss_fingers_right", "3"),
                    obs("digital_ulcers", "0"),
                    obs("fvc_pct", "78"),
                    obs("dlco_pct", "55"),
                    obs("anti_scl70", "240", "U/mL"),
                    obs("anti_scl70_uln", "25", "U/mL"),
                ],
            ),
            VisitRecord(label="month_3", date=dt.date(2023, 8, 7), observations=[obs("mrss_face", "1")]),
        ],
    )
    iim = PatientRecord(
        code="P03",
        site="1",
        disease="IIM",
        sex="F",
        birth_year=1990,
        infusion=InfusionRecord(product="MB-CART19.1", dose_cells_per_kg=Decimal(1000000), date=dt.date(2022, 8, 9)),
        visits=[
            VisitRecord(
                label="baseline",
                date=dt.date(2022, 8, 2),
                visitnum=Decimal(1),
                observations=[
                    obs("ck", "1500", "U/L"),
                    obs("ck_uln", "170", "U/L"),
                    obs("aldolase", "5.0", "U/L"),
                    obs("aldolase_uln", "7.6", "U/L"),
                    obs("mmt8_deltoid", "7"),
                    obs("mmt8_neck_flexors", "8"),
                    obs("myo_physician_global", "6.5"),
                    obs("myo_haq_di", "1.25"),
                ],
            )
        ],
        adverse_events=[AdverseEventRecord(key="ae:1", term="ICANS", grade=1, grading="ASTCT", onset_day=4)],
    )
    virtual = PatientRecord(
        code="V001",
        site="1",
        disease="SLE",
        sex="F",
        infusion=InfusionRecord(product="virtual CD19 CAR-T", dose_cells_per_kg=Decimal(1000000)),
        lymphodepletion=fludarabine_cyclophosphamide(),
        visits=[
            VisitRecord(label="day_minus_1", study_day=-1, observations=[obs("crp", "5", "mg/L")]),
            VisitRecord(label="infusion", study_day=0, observations=[obs("car_t_cells", "0", "/uL")]),
            VisitRecord(label="day_14", study_day=14, observations=[obs("car_t_cells", "12.25", "/uL")]),
        ],
        medications=[MedicationRecord(key="m1", drug="prednisolone", dose=Decimal(10), unit="mg", start_day=-30)],
    )
    return StudyRecord(
        code="ERL-CART",
        design=StudyDesignRecord(
            title="CD19 CAR T cells in refractory autoimmune disease",
            phase="PHASE I/II TRIAL",
            sponsor="University Hospital Erlangen",
            indication="Systemic lupus erythematosus; systemic sclerosis; idiopathic inflammatory myopathy",
            planned_subjects=4,
            start_date=dt.date(2022, 7, 1),
            age_min_years=18,
            age_max_years=60,
            sexes="BOTH",
            visits=[
                PlannedVisitRecord(label="baseline", day=-7, visitnum=Decimal(1)),
                PlannedVisitRecord(label="day_minus_1", day=-1, visitnum=Decimal(2)),
                PlannedVisitRecord(label="infusion", day=0, visitnum=Decimal(3)),
                PlannedVisitRecord(label="day_7", day=7, visitnum=Decimal(4), window_before=1, window_after=1),
            ],
            criteria=[
                EligibilityCriterionRecord(code="INCL01", text="Refractory autoimmune disease", category="inclusion"),
                EligibilityCriterionRecord(code="EXCL01", text="Active infection", category="exclusion"),
            ],
        ),
        sites=[
            SiteRecord(code="1", name="Erlangen", country="DEU"),
            SiteRecord(code="2", name="Hamburg", country="DEU"),
        ],
        patients=[virtual, iim, ssc, sle],
    )


@pytest.fixture(scope="module")
def domains() -> dict[str, pd.DataFrame]:
    return sdtm_domains(make_study())


def row(frame: pd.DataFrame, **where: Any) -> pd.Series:
    mask = pd.Series(True, index=frame.index)
    for name, value in where.items():
        mask &= frame[name] == value
    found = frame[mask]
    assert len(found) == 1, f"{len(found)} rows match {where}"
    return found.iloc[0]


REQUIRED = {
    "DM": ["STUDYID", "DOMAIN", "USUBJID", "SUBJID", "RFSTDTC", "SITEID", "BRTHDTC", "SEX", "ARMCD", "ARM"],
    "EX": ["EXSEQ", "EXTRT", "EXDOSE", "EXDOSU", "EXSTDTC", "EXSTDY", "EXENDY"],
    "AE": ["AESEQ", "AETERM", "AEDECOD", "AETOXGR", "AESER", "AESTDTC", "AESTDY", "AEENRTPT"],
    "CM": ["CMSEQ", "CMTRT", "CMDOSE", "CMDOSU", "CMROUTE", "CMDOSFRQ", "CMSTDTC", "CMSTDY", "CMINDC"],
    "LB": ["LBSEQ", "LBTESTCD", "LBTEST", "LBORRES", "LBORRESU", "LBSTRESN", "LBSTRESC", "LBSTRESU", "LBDTC", "LBDY"],
    "VS": ["VSSEQ", "VSTESTCD", "VSORRES", "VSSTRESN"],
    "RE": ["RESEQ", "RETESTCD", "REORRES", "RESTRESN"],
    "QS": ["QSSEQ", "QSTESTCD", "QSTEST", "QSCAT", "QSORRES", "QSSTRESC", "QSSTRESN", "QSDTC", "QSDY"],
    "PC": ["PCSEQ", "PCTESTCD", "PCSPEC", "PCORRES", "PCORRESU", "PCSTRESN", "PCSTRESU", "PCDTC", "PCDY"],
}


def test_domains_and_required_variables(domains: dict[str, pd.DataFrame]) -> None:
    assert SDTMIG_VERSION == "3.4"
    assert list(domains) == [
        *("TS", "TE", "TA", "TV", "TI", "DM", "SUPPDM", "SE", "SV", "DS"),
        *("EX", "AE", "SUPPAE", "CM", "LB", "VS", "RE", "QS", "PC"),
    ]
    for domain, frame in domains.items():
        assert list(frame.columns) == [v.name for v in DOMAIN_VARIABLES[domain]]
        assert len(frame) > 0
        if not domain.startswith("SUPP"):
            assert set(frame["DOMAIN"]) == {domain}
        assert set(frame["STUDYID"]) == {"ERL-CART"}
        if domain in ("EX", "AE", "CM", "LB", "VS", "RE", "QS", "PC", "DS", "SV"):
            assert "EPOCH" in frame.columns
        if domain in ("EX", "AE", "CM", "LB", "VS", "RE", "QS", "PC"):
            assert {"VISITNUM", "VISIT", f"{domain}SEQ"} <= set(frame.columns)
            assert any(c.endswith("DTC") for c in frame.columns) and any(c.endswith("DY") for c in frame.columns)
    for domain, names in REQUIRED.items():
        missing = [n for n in names if n not in domains[domain].columns]
        assert missing == [], domain


def test_seq_unique_and_usubjid_consistent(domains: dict[str, pd.DataFrame]) -> None:
    dm = domains["DM"]
    assert list(dm["USUBJID"]) == ["ERL-CART-1-P01", "ERL-CART-1-P03", "ERL-CART-1-V001", "ERL-CART-2-P02"]
    assert dm["USUBJID"].is_unique
    subjects = set(dm["USUBJID"])
    for domain, frame in domains.items():
        if domain in ("TS", "TE", "TA", "TV", "TI"):
            continue
        assert set(frame["USUBJID"]) <= subjects, domain
        seq = f"{domain}SEQ"
        if seq in frame.columns:
            for _, group in frame.groupby("USUBJID"):
                assert sorted(group[seq]) == list(map(float, range(1, len(group) + 1))), domain
            assert not frame.duplicated(["USUBJID", seq]).any()
    # SUPPAE points at existing AE records
    ae, supp = domains["AE"], domains["SUPPAE"]
    keys = {(u, str(int(s))) for u, s in zip(ae["USUBJID"], ae["AESEQ"], strict=True)}
    assert set(zip(supp["USUBJID"], supp["IDVARVAL"], strict=True)) == keys


def test_seq_ordered_by_study_day_then_test_code(domains: dict[str, pd.DataFrame]) -> None:
    lb = domains["LB"]
    p01 = lb[lb["USUBJID"] == "ERL-CART-1-P01"].sort_values("LBSEQ")
    keys = list(zip(p01["LBDY"], p01["LBTESTCD"], strict=True))
    assert keys == sorted(keys)
    assert keys[:3] == [(-7.0, "C3"), (-7.0, "C4"), (-7.0, "CD19")]


def test_dy_rule_at_the_boundary(domains: dict[str, pd.DataFrame]) -> None:
    assert [study_day_to_dy(d) for d in (-7, -1, 0, 1, 27)] == [-7.0, -1.0, 1.0, 2.0, 28.0]
    assert math.isnan(study_day_to_dy(None))
    lb = domains["LB"]
    crp = lb[(lb["USUBJID"] == "ERL-CART-1-P01") & (lb["LBTESTCD"] == "CRP")].sort_values("LBSEQ")
    assert list(crp["LBDTC"]) == ["2023-02-22", "2023-02-28", "2023-03-01"]
    assert list(crp["LBDY"]) == [-7.0, -1.0, 1.0]
    dm = row(domains["DM"], USUBJID="ERL-CART-1-P01")
    # RFSTDTC is the infusion; RFXSTDTC the first study treatment: fludarabine on day -5 (the first EXSTDTC)
    assert (dm["RFSTDTC"], dm["RFXSTDTC"], dm["RFXENDTC"]) == ("2023-03-01", "2023-02-24", "2023-03-01")
    # --DY agrees with the SDTM formula on dates
    for domain in ("LB", "QS", "PC", "VS", "RE"):
        frame = domains[domain].merge(domains["DM"][["USUBJID", "RFSTDTC"]], on="USUBJID")
        dated = frame[(frame[f"{domain}DTC"] != "") & (frame["RFSTDTC"] != "")]
        assert len(dated) > 0
        for dtc, ref, dy in zip(dated[f"{domain}DTC"], dated["RFSTDTC"], dated[f"{domain}DY"], strict=True):
            delta = (dt.date.fromisoformat(dtc) - dt.date.fromisoformat(ref)).days
            assert dy == (delta + 1 if delta >= 0 else delta)


def test_virtual_patient_without_dates(domains: dict[str, pd.DataFrame]) -> None:
    dm = row(domains["DM"], USUBJID="ERL-CART-1-V001")
    assert dm["RFSTDTC"] == "" and dm["BRTHDTC"] == "" and dm["ARM"] == "CD19 CAR-T"
    lb = row(domains["LB"], USUBJID="ERL-CART-1-V001")
    assert (lb["LBDTC"], lb["LBDY"], lb["VISIT"]) == ("", -1.0, "day_minus_1")
    pc = domains["PC"][domains["PC"]["USUBJID"] == "ERL-CART-1-V001"]
    assert list(pc["PCDY"]) == [1.0, 15.0] and set(pc["PCDTC"]) == {""}
    ex = domains["EX"][domains["EX"]["USUBJID"] == "ERL-CART-1-V001"]
    assert list(ex["EXTRT"]) == ["fludarabine", "cyclophosphamide", "virtual CD19 CAR-T"]
    assert list(ex["EXSTDY"]) == [-5.0, -3.0, 1.0] and set(ex["EXSTDTC"]) == {""}
    cm = row(domains["CM"], USUBJID="ERL-CART-1-V001")
    assert (cm["CMSTDY"], cm["CMSTDTC"], cm["CMENRTPT"]) == (-30.0, "", "ONGOING")


def test_units_standardised_exactly(domains: dict[str, pd.DataFrame]) -> None:
    lb = domains["LB"]
    crp = row(lb, USUBJID="ERL-CART-1-P01", LBTESTCD="CRP", VISIT="baseline")
    assert (crp["LBORRES"], crp["LBORRESU"]) == ("1.2", "mg/dL")
    assert (crp["LBSTRESN"], crp["LBSTRESC"], crp["LBSTRESU"]) == (12.0, "12", "mg/L")
    assert crp["LBLOINC"] == "1988-5" and crp["LBCAT"] == "CHEMISTRY"
    wbc = row(lb, USUBJID="ERL-CART-1-P01", LBTESTCD="WBC")
    # units leave in CDISC terminology (UCUM stays the registry's internal unit): 10*9/L -> 10^9/L, Cel -> C
    assert (wbc["LBORRESU"], wbc["LBSTRESN"], wbc["LBSTRESU"]) == ("/nL", 3.5, "10^9/L")
    vs = row(domains["VS"], VSTESTCD="TEMP")
    assert (vs["VSORRES"], vs["VSORRESU"], vs["VSSTRESC"], vs["VSSTRESU"]) == ("98.6", "F", "37", "C")
    casts = row(lb, LBTESTCD="UCASTS")
    assert (casts["LBORRES"], casts["LBSTRESC"], casts["LBSPEC"]) == ("none", "none", "URINE")
    assert math.isnan(casts["LBSTRESN"])


def test_reference_ranges_from_lab_limits(domains: dict[str, pd.DataFrame]) -> None:
    lb = domains["LB"]
    assert not {"C3LLN", "DSDNAULN", "CKULN", "ALDOULN", "SCL70ULN"} & set(lb["LBTESTCD"])
    c3 = row(lb, USUBJID="ERL-CART-1-P01", LBTESTCD="C3")
    # the limit was reported in mg/dL: LBORNRLO in the result's unit (g/L), LBSTNRLO canonical
    assert (c3["LBORNRLO"], c3["LBORNRHI"], c3["LBSTNRLO"], c3["LBNRIND"]) == ("0.9", "", 0.9, "LOW")
    assert math.isnan(c3["LBSTNRHI"])
    dsdna = row(lb, LBTESTCD="DSDNA")
    assert (dsdna["LBORNRHI"], dsdna["LBSTNRHI"], dsdna["LBNRIND"]) == ("100", 100.0, "HIGH")
    ck = row(lb, LBTESTCD="CK")
    assert (ck["LBORNRHI"], ck["LBNRIND"]) == ("170", "HIGH")
    aldolase = row(lb, LBTESTCD="ALDOLASE")
    assert (aldolase["LBORRES"], aldolase["LBORNRHI"], aldolase["LBNRIND"]) == ("5.0", "7.6", "NORMAL")
    c4 = row(lb, LBTESTCD="C4")
    assert (c4["LBORNRLO"], c4["LBNRIND"]) == ("", "")
    bcells = lb[lb["LBTESTCD"] == "CD19"]
    assert list(bcells["LBSTRESN"]) == [120.0, 0.0] and set(bcells["LBMETHOD"]) == {"FLOW CYTOMETRY"}
    assert set(bcells["LBCAT"]) == {"IMMUNOPHENOTYPING"}


def test_dm_ex_ae_cm(domains: dict[str, pd.DataFrame]) -> None:
    dm = row(domains["DM"], SUBJID="P01")
    assert (dm["SITEID"], dm["BRTHDTC"], dm["SEX"], dm["ARMCD"], dm["ACTARM"]) == (
        "1",
        "1985",
        "F",
        "CD19CART",
        "CD19 CAR-T",
    )
    assert dm["RFENDTC"] == "2023-03-08" and dm["DTHFL"] == ""
    assert (dm["AGE"], dm["AGEU"], dm["RACE"], dm["ETHNIC"], dm["COUNTRY"]) == (
        37.0,
        "YEARS",
        "WHITE",
        "NOT HISPANIC OR LATINO",
        "DEU",
    )
    assert (dm["RFICDTC"], dm["RFPENDTC"]) == ("2023-02-15", "2023-09-17")
    supp = row(domains["SUPPDM"], USUBJID="ERL-CART-2-P02")
    assert (supp["QNAM"], supp["QVAL"], supp["QORIG"]) == ("PRIMDIAG", "Systemic sclerosis", "Collected")
    ex = domains["EX"][domains["EX"]["USUBJID"] == "ERL-CART-1-P01"]
    assert list(ex["EXTRT"]) == ["fludarabine", "cyclophosphamide", "MB-CART19.1"]
    cart = row(ex, EXCAT="CAR-T CELL THERAPY")
    assert (cart["EXDOSE"], cart["EXDOSU"], cart["EXSTDTC"], cart["EXSTDY"], cart["VISIT"]) == (
        1.0,
        "10^6 cells/kg",
        "2023-03-01",
        1.0,
        "infusion",
    )
    flu = row(ex, EXTRT="fludarabine")
    assert (flu["EXDOSE"], flu["EXDOSU"], flu["EXSTDTC"], flu["EXENDTC"], flu["EXSTDY"], flu["EXENDY"]) == (
        25.0,
        "mg/m2",
        "2023-02-24",
        "2023-02-26",
        -5.0,
        -3.0,
    )
    ae = domains["AE"]
    crs = row(ae, USUBJID="ERL-CART-1-P01", AETERM="CRS")
    assert (crs["AETOXGR"], crs["AESER"], crs["AESTDTC"], crs["AEENDTC"], crs["AESTDY"], crs["AEENDY"]) == (
        "1",
        "N",
        "2023-03-02",
        "2023-03-03",
        2.0,
        3.0,
    )
    neutropenia = row(ae, AETERM="Neutropenia")
    assert (neutropenia["AESER"], neutropenia["AEENDTC"], neutropenia["AEENRTPT"]) == ("Y", "", "ONGOING")
    scales = dict(
        zip(domains["SUPPAE"]["USUBJID"] + ":" + domains["SUPPAE"]["IDVARVAL"], domains["SUPPAE"]["QVAL"], strict=True)
    )
    assert scales[f"ERL-CART-1-P01:{int(crs['AESEQ'])}"] == "ASTCT"
    assert scales[f"ERL-CART-1-P01:{int(neutropenia['AESEQ'])}"] == "CTCAE v5.0"
    cm = row(domains["CM"], USUBJID="ERL-CART-1-P01", CMTRT="prednisolone")
    assert (cm["CMDOSE"], cm["CMDOSU"], cm["CMROUTE"], cm["CMDOSFRQ"], cm["CMINDC"]) == (5.0, "mg", "ORAL", "QD", "SLE")
    assert (cm["CMSTDY"], cm["CMENDY"], cm["CMENDTC"], cm["CMENRTPT"]) == (-200.0, 31.0, "2023-03-31", "")
    aciclovir = row(domains["CM"], CMTRT="aciclovir")
    assert (aciclovir["CMSTDTC"], aciclovir["CMDOSFRQ"], aciclovir["CMENRTPT"]) == ("2023-03-01", "BID", "ONGOING")


def test_qs_holds_collected_items_only(domains: dict[str, pd.DataFrame]) -> None:
    qs = domains["QS"]
    assert "QSDRVFL" not in qs.columns and "QSSTAT" not in qs.columns  # derived results live in ADaM
    arthritis = row(qs, QSTESTCD="SLEARTHR")
    assert (arthritis["QSCAT"], arthritis["QSTEST"], arthritis["QSORRES"], arthritis["QSSTRESC"]) == (
        "SLEDAI-2K",
        "Arthritis",
        "Y",
        "Y",
    )
    hypotension = qs[qs["QSTESTCD"] == "CRSHYPO"]
    assert list(hypotension["QSDY"]) == [2.0, 3.0] and set(hypotension["QSORRES"]) == {"none"}
    assert set(hypotension["QSCAT"]) == {"ASTCT CRS"}
    fever = row(qs, QSTESTCD="CRSTEMP", QSDY=2.0)
    assert (fever["QSORRES"], fever["QSORRESU"], fever["QSSTRESN"]) == ("38.6", "C", 38.6)  # CDISC unit, not UCUM
    # daily visits without VISITNUM get study-wide numbers after the largest planned one (4)
    assert set(hypotension["VISITNUM"]) == {5.0, 6.0}
    mrss = qs[qs["QSCAT"] == "MRSS"]
    assert set(mrss["QSTESTCD"]) == {"MRSSFACE", "MRSSFNGR"}
    # one category per instrument, one test name per test code
    assert qs.groupby("QSTESTCD")["QSCAT"].nunique().max() == 1
    assert qs.drop_duplicates(["QSTESTCD"]).groupby("QSTESTCD")["QSTEST"].nunique().max() == 1


def test_pc_and_re(domains: dict[str, pd.DataFrame]) -> None:
    pc = domains["PC"]
    qpcr = row(pc, PCTESTCD="CARTQPCR")
    assert (qpcr["PCORRES"], qpcr["PCORRESU"], qpcr["PCSTRESN"], qpcr["PCSTRESU"]) == (
        "12000",
        "copies/ug",
        12000.0,
        "copies/ug",
    )
    assert (qpcr["PCSPEC"], qpcr["PCMETHOD"], qpcr["PCDTC"], qpcr["PCDY"]) == ("BLOOD", "QPCR", "2023-03-08", 8.0)
    assert set(domains["RE"]["RETESTCD"]) == {"FVCPP", "DLCOPP"}


def test_every_vocabulary_code_has_a_valid_test_name() -> None:
    for entry in all_codes():
        name = sdtm_test_name(entry)
        assert 0 < len(name) <= 40, entry.code
        assert len(entry.sdtm_testcd) <= 8


def test_xpt_round_trip_and_limits(tmp_path: Path, domains: dict[str, pd.DataFrame]) -> None:
    paths = write_sdtm(make_study(), tmp_path, xpt=True)
    assert sorted(p.name for p in paths if p.suffix == ".xpt") == sorted(f"{d.lower()}.xpt" for d in domains)
    for domain, frame in domains.items():
        back, meta = pyreadstat.read_xport(str(tmp_path / f"{domain.lower()}.xpt"))
        assert meta.table_name == domain
        assert list(back.columns) == list(frame.columns)
        assert all(len(c) <= 8 and c == c.upper() for c in back.columns)
        labels = [v.label for v in DOMAIN_VARIABLES[domain]]
        assert meta.column_labels == labels and all(len(label) <= 40 for label in labels)
        pd.testing.assert_frame_equal(back, frame, check_dtype=False)
        from_csv = pd.read_csv(tmp_path / f"{domain.lower()}.csv", dtype=str, keep_default_na=False)
        for var in DOMAIN_VARIABLES[domain]:
            if var.numeric:
                as_numbers = pd.to_numeric(from_csv[var.name].mask(from_csv[var.name] == ""))
                pd.testing.assert_series_equal(as_numbers, frame[var.name], check_names=False)
            else:
                assert list(from_csv[var.name]) == list(frame[var.name]), (domain, var.name)
        header = (tmp_path / f"{domain.lower()}.xpt").read_bytes()[:800]
        assert b"01JAN60:00:00:00" in header


def test_value_longer_than_200_bytes_is_refused(tmp_path: Path) -> None:
    study = make_study()
    study.patient("P01").adverse_events.append(AdverseEventRecord(key="long", term="é" * 101, onset_day=3))
    with pytest.raises(InvalidInput) as caught:
        write_sdtm(study, tmp_path, xpt=True)
    message = str(caught.value)
    assert "AE.AETERM" in message and "row" in message and "200" in message and "ERL-CART-1-P01" in message
    assert list(tmp_path.iterdir()) == []  # nothing written
    ok = pd.DataFrame({"USUBJID": ["A"], "AETERM": ["x" * 200]})
    frame = sdtm_domains(make_study())["AE"].head(1).copy()
    frame["AETERM"] = "é" * 101  # 202 bytes in UTF-8
    with pytest.raises(InvalidInput, match=r"domain AE, row 1 .*field 'AE\.AETERM'.*at most 200 bytes \(got 202"):
        check_xpt_limits("AE", frame)
    with pytest.raises(InvalidInput, match="dataset name"):
        check_xpt_limits("TOOLONGNAME", ok.iloc[:0, :0])
    bad = frame.rename(columns={"AETERM": "AETERMLONG"})
    with pytest.raises(InvalidInput, match="variable name"):
        check_xpt_limits("AE", bad)


def test_deterministic_bytes(tmp_path: Path) -> None:
    first = write_sdtm(make_study(), tmp_path / "a", xpt=True)
    second = write_sdtm(make_study(), tmp_path / "b", xpt=True)
    assert [p.name for p in first] == [p.name for p in second]
    for a, b in zip(first, second, strict=True):
        if a.name == "define.xml":  # identical but for the time it was written (CreationDateTime, default now)
            stamp = re.compile(rb'CreationDateTime="[^"]+"')
            assert stamp.sub(b"", a.read_bytes()) == stamp.sub(b"", b.read_bytes())
            continue
        assert a.read_bytes() == b.read_bytes(), a.name
    stamped = write_sdtm(make_study(), tmp_path / "c", xpt=True, created=dt.datetime(2024, 6, 30, 12, 0, 0))
    assert b"30JUN24:12:00:00" in (tmp_path / "c" / "dm.xpt").read_bytes()[:400]
    assert {p.name for p in stamped} >= {"dm.csv", "dm.xpt"}


def test_docs_list_every_variable() -> None:
    text = (ROOT / "docs" / "registry_sdtm.md").read_text(encoding="utf-8")
    assert "SDTMIG v3.4" in text or "SDTMIG 3.4" in text
    missing = [
        f"{d}.{v.name}" for d, variables in DOMAIN_VARIABLES.items() for v in variables if f"`{v.name}`" not in text
    ]
    assert missing == []


def test_redcap_sample_project_exports_and_reads_back(tmp_path: Path) -> None:
    from immunoreset.registry import redcap

    folder = redcap.sample_project_path()
    study = redcap.read_redcap_export(
        folder / "export.csv",
        folder / "data_dictionary.csv",
        redcap.sample_mapping_path(),
        events_csv=folder / "events.csv",
    )
    paths = write_sdtm(study, tmp_path, xpt=True)
    frames = sdtm_domains(study)
    assert len(frames["DM"]) == len(study.patients) == 15
    for domain, frame in frames.items():
        back, meta = pyreadstat.read_xport(str(tmp_path / f"{domain.lower()}.xpt"))
        assert meta.table_name == domain
        pd.testing.assert_frame_equal(back, frame, check_dtype=False)
    assert {"dm.xpt", "ex.xpt", "ae.xpt", "lb.xpt", "cm.xpt", "qs.xpt", "pc.xpt"} <= {p.name for p in paths}


def test_a_flat_dose_is_exported_in_cells(tmp_path: Path) -> None:
    from immunoreset.registry.records import InfusionRecord, PatientRecord, SiteRecord, StudyRecord

    flat = InfusionRecord(product="flat-dose CD19 CAR-T", dose_cells_total=Decimal("1e8"))
    study = StudyRecord(
        code="S", sites=[SiteRecord(code="1", country="DEU")],
        patients=[PatientRecord(code="1", site="1", disease="SLE", infusion=flat)],
    )  # fmt: skip
    ex = sdtm_domains(study)["EX"]
    row = ex[ex["EXCAT"] == "CAR-T CELL THERAPY"].iloc[0]
    assert (row["EXDOSE"], row["EXDOSU"]) == (100.0, "10^6 cells")


def test_a_second_export_removes_datasets_the_study_no_longer_has(tmp_path: Path) -> None:
    from immunoreset.registry.records import PatientRecord, SiteRecord, StudyRecord

    only = StudyRecord(
        code="S",
        sites=[SiteRecord(code="1", country="DEU")],
        patients=[PatientRecord(code="1", site="1", disease="SLE")],
    )
    (tmp_path / "ae.csv").write_text("old\n")
    (tmp_path / "ae.xpt").write_bytes(b"old")
    (tmp_path / "notes.txt").write_text("kept\n")
    written = write_sdtm(only, tmp_path, xpt=True)
    assert {p.name for p in written} >= {"dm.csv", "dm.xpt"}
    assert not (tmp_path / "ae.csv").exists() and not (tmp_path / "ae.xpt").exists()
    assert (tmp_path / "notes.txt").exists()
