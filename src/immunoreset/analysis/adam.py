"""CDISC ADaM datasets of a study (ADaMIG 1.3): ADSL, ADRS and ADTTE, traceable to the SDTM package.

:func:`adam_datasets` derives the analysis datasets from the same records every other analysis reads, and
from the SDTM datasets of :func:`immunoreset.registry.sdtm.sdtm_domains`, so every ADaM row can point to
the SDTM record it came from. :func:`write_adam` writes them as CSV and, optionally, SAS XPORT v5. The
derivations are the cohort analysis's own functions -- the time to B-cell reconstitution in ADTTE is
:func:`immunoreset.analysis.survival.reconstitution_times` of the cohort analysis's B-cell table -- so the
export and the report cannot disagree. Decisions are in ``docs/adam.md``.

* **ADSL** -- one row per subject: demographics and the arm from DM, the primary disease (SUPPDM PRIMDIAG),
  treatment dates (``TRTSDT`` the first study treatment = RFXSTDTC, ``TRTEDT`` the infusion), informed
  consent, end-of-study status from DS, baseline weight and height, the CAR-T dose, and the population flags
  ``ENRLFL`` (every subject recorded) and ``SAFFL`` (CAR-T infused).
* **ADRS** -- one row per subject, response parameter (:data:`RESPONSE_PARAMETERS`: DORIS, LLDAS, SRI-4, TIS,
  CRISS, EUSTAR-AI, drug-free DORIS at month 6 ...) and visit, from the outcome table: ``AVALC`` Y/N (or the
  level), ``AVAL`` the number, ``AVISIT``/``AVISITN`` the visit as in SV, ``ANL01FL = Y`` when evaluable.
* **ADTTE** -- ``BCELLREC``, the time from the infusion (``STARTDT``) to B-cell reconstitution, for every
  infused subject who reached aplasia. An observed return is an event (``CNSR = 0``) at the middle of the
  sampling interval that brackets it (the last aplastic and the first reconstituted sample: interval-censored
  data, midpoint imputation as in the cohort analysis); ``ADT`` = ``STARTDT`` + the whole days of ``AVAL``
  (``ADTF = D`` when that date is imputed). A subject still aplastic at the last count below the
  reconstitution threshold is censored there (``CNSR = 1``). ``SRCDOM``/``SRCVAR``/``SRCSEQ`` name the LB
  record (CD19 count) that proves the event (the first count at or above the threshold) or the censoring.
  ``TTDORIS``/``TTTISMAJ``/``TTEUSTAR`` (time to the first response by the disease's endpoint) and
  ``TTDFRESP`` (time to the onset of the drug-free response that lasted to the last follow-up) are the cohort
  analysis's ``first_response`` and ``sustained`` tables, and ``TTRELAPS`` (responders' time to relapse) is
  :func:`~immunoreset.analysis.cohort.relapse_times`: events on visit days, censored at the last visit.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import pandas as pd

from immunoreset.analysis.cohort import CohortAnalysis, analyse_cohort, relapse_times
from immunoreset.analysis.survival import reconstitution_times
from immunoreset.kinetics.bcells import BCellOptions
from immunoreset.registry.define_xml import (
    CodeListSpec,
    DatasetMetadata,
    DefinePackage,
    Origin,
    define_xml,
    sdtm_codelists,
    unique_keys,
)
from immunoreset.registry.records import StudyRecord
from immunoreset.registry.sdtm import (
    Variable,
    check_dataset_limits,
    dataset_frame,
    sdtm_domains,
    study_day_to_dy,
    write_xpt_dataset,
)

__all__ = [
    "ADAMIG_VERSION",
    "ADAM_LABELS",
    "ADAM_VARIABLES",
    "RESPONSE_PARAMETERS",
    "SAS_EPOCH",
    "adam_datasets",
    "adam_define_package",
    "write_adam",
]

ADAMIG_VERSION = "1.3"
SAS_EPOCH = dt.date(1960, 1, 1)
"""Numeric ADaM dates (``*DT``) are SAS dates: days since 1960-01-01, written with the DATE9. format."""


def _c(name: str, label: str, core: str = "Perm") -> Variable:
    return Variable(name, label, core=core)


def _n(name: str, label: str, core: str = "Perm") -> Variable:
    return Variable(name, label, numeric=True, core=core)


_SUBJECT = (
    _c("STUDYID", "Study Identifier", "Req"),
    _c("USUBJID", "Unique Subject Identifier", "Req"),
    _c("SITEID", "Study Site Identifier"),
    _c("DISEASE", "Primary Autoimmune Disease"),
    _c("TRTP", "Planned Treatment", "Cond"),
    _c("TRTA", "Actual Treatment", "Cond"),
)
"""The subject variables every BDS dataset copies from ADSL (:func:`_subject_values`)."""

ADAM_VARIABLES: dict[str, tuple[Variable, ...]] = {
    "ADSL": (
        _c("STUDYID", "Study Identifier", "Req"),
        _c("USUBJID", "Unique Subject Identifier", "Req"),
        _c("SUBJID", "Subject Identifier for the Study", "Req"),
        _c("SITEID", "Study Site Identifier", "Req"),
        _c("COUNTRY", "Country"),
        _n("AGE", "Age", "Req"),
        _c("AGEU", "Age Units", "Req"),
        _c("SEX", "Sex", "Req"),
        _c("RACE", "Race", "Req"),
        _c("ETHNIC", "Ethnicity"),
        _c("DISEASE", "Primary Autoimmune Disease"),
        _c("ARM", "Description of Planned Arm", "Req"),
        _c("ARMCD", "Planned Arm Code"),
        _c("ACTARM", "Description of Actual Arm", "Req"),
        _c("ACTARMCD", "Actual Arm Code"),
        _c("TRT01P", "Planned Treatment for Period 01", "Req"),
        _c("TRT01A", "Actual Treatment for Period 01", "Req"),
        _n("DOSEKG", "CAR+ Cells per kg (10^6)"),
        _n("DOSETOT", "CAR+ Cells Total, Flat Dose (10^6)"),
        _n("RFICDT", "Date of Informed Consent"),
        _n("TRTSDT", "Date of First Exposure to Treatment", "Cond"),
        _n("TRTEDT", "Date of Last Exposure to Treatment", "Cond"),
        _n("INFSDY", "Study Day of CAR-T Infusion"),
        _c("EOSSTT", "End of Study Status"),
        _n("EOSDT", "End of Study Date"),
        _n("EOSDY", "End of Study Relative Day"),
        _c("DCSREAS", "Reason for Discontinuation from Study"),
        _c("DTHFL", "Subject Death Flag"),
        _n("WEIGHTBL", "Weight (kg) at Baseline"),
        _n("HEIGHTBL", "Height (cm) at Baseline"),
        _c("ENRLFL", "Enrolled Population Flag"),
        _c("SAFFL", "Safety Population Flag", "Cond"),
    ),
    "ADRS": (
        *_SUBJECT,
        _c("PARAMCD", "Parameter Code", "Req"),
        _c("PARAM", "Parameter", "Req"),
        _c("PARCAT1", "Parameter Category 1 (Instrument)"),
        _n("AVAL", "Analysis Value", "Cond"),
        _c("AVALC", "Analysis Value (C)", "Cond"),
        _n("ADT", "Analysis Date"),
        _n("ADY", "Analysis Relative Day"),
        _c("AVISIT", "Analysis Visit"),
        _n("AVISITN", "Analysis Visit (N)"),
        _c("ANL01FL", "Analysis Flag 01: Evaluable"),
        _c("REASND", "Reason Not Evaluable"),
        _c("SAFFL", "Safety Population Flag"),
    ),
    "ADTTE": (
        *_SUBJECT,
        _c("PARAMCD", "Parameter Code", "Req"),
        _c("PARAM", "Parameter", "Req"),
        _n("AVAL", "Analysis Value", "Cond"),
        _n("STARTDT", "Time-to-Event Origin Date for Subject", "Cond"),
        _n("ADT", "Analysis Date", "Cond"),
        _n("ADY", "Analysis Relative Day"),
        _n("CNSR", "Censor", "Cond"),
        _c("EVNTDESC", "Event or Censoring Description"),
        _c("CNSDTDSC", "Censor Date Description"),
        _c("ADTF", "Analysis Date Imputation Flag"),
        _c("SRCDOM", "Source Data"),
        _c("SRCVAR", "Source Variable"),
        _n("SRCSEQ", "Source Sequence Number"),
        _c("SAFFL", "Safety Population Flag"),
    ),
}
"""Every variable of every ADaM dataset, in order, with its label, type and core (ADaMIG 1.3)."""

ADAM_LABELS = {
    "ADSL": "Subject-Level Analysis Dataset",
    "ADRS": "Response Analysis Dataset",
    "ADTTE": "Time-to-Event Analysis Dataset",
}

RESPONSE_PARAMETERS: dict[tuple[str, str], tuple[str, str]] = {
    ("doris", "remission"): ("DORIS", "DORIS 2021 Remission"),
    ("doris", "remission_off_therapy"): ("DORISOFF", "DORIS 2021 Remission off Therapy"),
    ("drug_free_doris_month6", "met"): ("DFDORIS6", "Drug-free DORIS Remission at Month 6"),
    ("lldas", "lldas"): ("LLDAS", "Lupus Low Disease Activity State"),
    ("sri4", "responder"): ("SRI4", "SLE Responder Index-4 Response"),
    ("myositis_tis", "level"): ("TISLEVEL", "Myositis Total Improvement Score Level"),
    ("myositis_tis", "total"): ("TIS", "Myositis Total Improvement Score"),
    ("criss", "improved"): ("CRISS", "Revised CRISS Improvement"),
    ("criss25", "improved"): ("CRISS25", "CRISS-25 Improvement"),
    ("eustar_ai", "total"): ("EUSTARAI", "EUSTAR Activity Index"),
    ("eustar_ai", "active"): ("EUSTARAC", "EUSTAR-AI Active Disease"),
}
"""(instrument, result) of the outcome table -> (PARAMCD, PARAM) of ADRS: the responses and activity states
the trials report per visit. Each value is the instrument's own result (docs/instruments.md); ADRS adds no
derivation of its own."""

_PARAMETERS = {
    "BCELLREC": "Time to B-cell Reconstitution (days)",
    "TTDORIS": "Time to First DORIS 2021 Remission (days)",
    "TTTISMAJ": "Time to First Major Clinical Response, TIS>=60 (days)",
    "TTEUSTAR": "Time to First EUSTAR-AI Below Baseline (days)",
    "TTDFRESP": "Time to Sustained Drug-free Response (days)",
    "TTRELAPS": "Time to Relapse after Response (days)",
}
_FIRST_RESPONSE = {"SLE": "TTDORIS", "IIM": "TTTISMAJ", "SSc": "TTEUSTAR"}
"""The disease's response endpoint (the cohort analysis's ``RESPONSE_LABEL``) as an ADTTE parameter."""


def _sas_date(text: str) -> float:
    """An ISO 8601 date (``--DTC``) as a SAS date; missing when blank or partial."""
    if len(text) < 10:
        return math.nan
    return float((dt.date.fromisoformat(text[:10]) - SAS_EPOCH).days)


def _adsl(study: StudyRecord, sdtm: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    dm = sdtm["DM"].set_index("USUBJID", drop=False)
    supp = sdtm.get("SUPPDM")
    disease = {} if supp is None else dict(zip(supp["USUBJID"], supp["QVAL"], strict=True))
    ds = sdtm.get("DS")
    ends: dict[str, dict[str, Any]] = {}
    if ds is not None:
        for event in ds[ds["DSCAT"] == "DISPOSITION EVENT"].to_dict(orient="records"):
            ends[str(event["USUBJID"])] = {str(k): v for k, v in event.items()}
    by_code = {p.code: p for p in study.patients}
    rows = []
    for usubjid, r in dm.iterrows():
        patient = by_code[r["SUBJID"]]
        infusion = patient.infusion
        end = ends.get(str(usubjid))
        status = "ONGOING" if end is None else "COMPLETED" if end["DSDECOD"] == "COMPLETED" else "DISCONTINUED"
        rows.append(
            {
                "STUDYID": r["STUDYID"],
                "USUBJID": usubjid,
                "SUBJID": r["SUBJID"],
                "SITEID": r["SITEID"],
                "COUNTRY": r["COUNTRY"],
                "AGE": r["AGE"],
                "AGEU": r["AGEU"],
                "SEX": r["SEX"],
                "RACE": r["RACE"],
                "ETHNIC": r["ETHNIC"],
                "DISEASE": disease.get(str(usubjid), ""),
                "ARM": r["ARM"],
                "ARMCD": r["ARMCD"],
                "ACTARM": r["ACTARM"],
                "ACTARMCD": r["ACTARMCD"],
                "TRT01P": r["ARM"],
                "TRT01A": r["ACTARM"],
                "DOSEKG": float(infusion.dose_cells_per_kg) / 1e6
                if infusion and infusion.dose_cells_per_kg is not None
                else math.nan,
                "DOSETOT": float(infusion.dose_cells_total) / 1e6
                if infusion and infusion.dose_cells_total is not None
                else math.nan,
                "RFICDT": _sas_date(r["RFICDTC"]),
                "TRTSDT": _sas_date(r["RFXSTDTC"]),
                "TRTEDT": _sas_date(r["RFXENDTC"]),
                "INFSDY": 1.0 if infusion is not None else math.nan,
                "EOSSTT": status,
                "EOSDT": _sas_date(end["DSSTDTC"]) if end else math.nan,
                "EOSDY": float(end["DSSTDY"]) if end else math.nan,
                "DCSREAS": end["DSDECOD"] if end and status == "DISCONTINUED" else "",
                "DTHFL": r["DTHFL"],
                "WEIGHTBL": float(patient.weight_kg) if patient.weight_kg is not None else math.nan,
                "HEIGHTBL": float(patient.height_cm) if patient.height_cm is not None else math.nan,
                "ENRLFL": "Y",
                "SAFFL": "Y" if infusion is not None else "N",
            }
        )
    return _frame("ADSL", rows)


def _subject_values(subject: Any) -> dict[str, Any]:
    """The :data:`_SUBJECT` variables of one ADSL row (the treatment as planned and as given)."""
    return {
        "STUDYID": subject["STUDYID"],
        "USUBJID": subject["USUBJID"],
        "SITEID": subject["SITEID"],
        "DISEASE": subject["DISEASE"],
        "TRTP": subject["TRT01P"],
        "TRTA": subject["TRT01A"],
    }


def _utf8_prefix(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes (XPT v5 character values), ending in "..." when cut; the
    full reason stays in the outcome table."""
    if len(text.encode("utf-8")) <= limit:
        return text
    return text.encode("utf-8")[: limit - 3].decode("utf-8", errors="ignore").rstrip() + "..."


def _adrs(outcomes: pd.DataFrame, sdtm: Mapping[str, pd.DataFrame], adsl: pd.DataFrame) -> pd.DataFrame:
    """One row per subject, response parameter and visit, from the outcome table (the instruments applied to
    the stored records). ``ANL01FL = Y`` on evaluable rows; a row that could not be scored keeps the reason."""
    subjects = adsl.set_index("SUBJID")
    sv = sdtm.get("SV")
    visitnum = (
        {} if sv is None else {(u, v): n for u, v, n in zip(sv["USUBJID"], sv["VISIT"], sv["VISITNUM"], strict=True)}
    )
    wanted = outcomes[[k in RESPONSE_PARAMETERS for k in zip(outcomes["instrument"], outcomes["result"], strict=True)]]
    rows = []
    for r in wanted.to_dict(orient="records"):
        if str(r["patient"]) not in subjects.index:
            continue
        subject = subjects.loc[str(r["patient"])]
        paramcd, param = RESPONSE_PARAMETERS[(str(r["instrument"]), str(r["result"]))]
        day = r["study_day"]
        known_day = day is not None and not (isinstance(day, float) and math.isnan(day))
        evaluable = bool(r["evaluable"])
        value, number = r["value"], r["value_num"]
        text = "" if not evaluable or value is None else {"true": "Y", "false": "N"}.get(str(value), str(value))
        start = float(cast(float, subject["TRTEDT"]))
        rows.append(
            {
                **_subject_values(subject),
                "PARAMCD": paramcd,
                "PARAM": param,
                "PARCAT1": str(r["instrument"]).upper(),
                "AVAL": float(number) if evaluable and number is not None else math.nan,
                "AVALC": text,
                "ADT": start + float(day) if known_day and not math.isnan(start) else math.nan,
                "ADY": study_day_to_dy(float(day)) if known_day else math.nan,
                "AVISIT": str(r["visit"]),
                "AVISITN": visitnum.get((subject["USUBJID"], str(r["visit"])), math.nan),
                "ANL01FL": "Y" if evaluable else "",
                "REASND": "" if evaluable or r["reason"] is None else _utf8_prefix(str(r["reason"]), 200),
                "SAFFL": subject["SAFFL"],
            }
        )
    rows.sort(key=lambda row: (row["USUBJID"], row["PARAMCD"], row["ADY"] if not math.isnan(row["ADY"]) else -1e9))
    return _frame("ADRS", rows)


def _adtte(analysis: CohortAnalysis, sdtm: Mapping[str, pd.DataFrame], adsl: pd.DataFrame) -> pd.DataFrame:
    bcells = analysis.bcells
    if bcells.empty:
        return _frame("ADTTE", [])
    subjects = adsl.set_index("SUBJID")
    lb = sdtm.get("LB")
    cd19 = lb[lb["LBTESTCD"] == "CD19"] if lb is not None else pd.DataFrame(columns=["USUBJID", "LBDY", "LBSEQ"])
    samples: dict[tuple[str, float], list[tuple[float, float]]] = {}
    for u, d, v, q in zip(cd19["USUBJID"], cd19["LBDY"], cd19["LBSTRESN"], cd19["LBSEQ"], strict=True):
        samples.setdefault((str(u), float(d)), []).append((float(v), float(q)))
    intervals = bcells.set_index("patient")
    rows = []
    for r in reconstitution_times(bcells).to_dict(orient="records"):
        subject = subjects.loc[r["patient"]]
        if subject["SAFFL"] != "Y":
            continue  # no infusion: no time origin
        usubjid = str(subject["USUBJID"])
        found = intervals.loc[r["patient"]]
        time = float(r["time"])
        # the sample that proves it: the first count at or above the threshold (an event) or the last count
        # still below it (censoring, the time itself)
        proof_day = float(found["reconstitution_upper"]) if r["event"] else time
        proof_sdtm_day = study_day_to_dy(proof_day)
        candidates = samples.get((usubjid, proof_sdtm_day), [])
        proof = (max if r["event"] else min)(candidates, default=(math.nan, math.nan))
        # ADT = STARTDT + AVAL: an event's date is imputed at the interval's midpoint (whole days, ADTF = D)
        whole = float(math.floor(time))
        start = float(cast(float, subject["TRTEDT"]))
        rows.append(
            {
                **_subject_values(subject),
                "PARAMCD": "BCELLREC",
                "PARAM": _PARAMETERS["BCELLREC"],
                "AVAL": time,
                "STARTDT": start,
                "ADT": start + whole if not math.isnan(start) else math.nan,
                "ADY": study_day_to_dy(whole),
                "CNSR": 0.0 if r["event"] else 1.0,
                "EVNTDESC": "B-CELL RECONSTITUTION" if r["event"] else "STILL IN B-CELL APLASIA AT THE LAST COUNT",
                "CNSDTDSC": "" if r["event"] else "LAST B-CELL COUNT BELOW THE RECONSTITUTION THRESHOLD",
                "ADTF": "D" if r["event"] and whole != proof_day else "",
                "SRCDOM": "LB",
                "SRCVAR": "LBSTRESN",
                "SRCSEQ": proof[1],
                "SAFFL": subject["SAFFL"],
            }
        )
    rows += _response_times(analysis, subjects)
    return _frame("ADTTE", sorted(rows, key=lambda row: (str(row["USUBJID"]), str(row["PARAMCD"]))))


def _response_times(analysis: CohortAnalysis, subjects: pd.DataFrame) -> list[dict[str, Any]]:
    """Time to the first response by the disease's endpoint and time to the onset of the drug-free response
    that lasted to the last follow-up: the cohort analysis's ``first_response`` and ``sustained`` tables, an
    event on the study day of the visit, censored at the last follow-up (visit days: no imputation)."""
    rows: list[dict[str, Any]] = []
    relapses = relapse_times(analysis.visits) if not analysis.visits.empty else pd.DataFrame()
    tables = [(analysis.first_response, None), (analysis.sustained, "TTDFRESP"), (relapses, "TTRELAPS")]
    for table, fixed in tables:
        for r in table.to_dict(orient="records") if not table.empty else []:
            paramcd = fixed or _FIRST_RESPONSE.get(str(r["disease"]))
            if paramcd is None or str(r["patient"]) not in subjects.index:
                continue
            subject = subjects.loc[str(r["patient"])]
            if subject["SAFFL"] != "Y":
                continue
            time = float(r["time"])
            start = float(cast(float, subject["TRTEDT"]))
            event = bool(r["event"])
            what = {"TTDFRESP": "DRUG-FREE RESPONSE", "TTRELAPS": "RELAPSE"}.get(paramcd, "RESPONSE")
            rows.append(
                {
                    **_subject_values(subject),
                    "PARAMCD": paramcd,
                    "PARAM": _PARAMETERS[paramcd],
                    "AVAL": time,
                    "STARTDT": start,
                    "ADT": start + time if not math.isnan(start) else math.nan,
                    "ADY": study_day_to_dy(time),
                    "CNSR": 0.0 if event else 1.0,
                    "EVNTDESC": f"{what} AT A VISIT" if event else f"NO {what} BY THE LAST FOLLOW-UP",
                    "CNSDTDSC": "" if event else "LAST FOLLOW-UP VISIT",
                    "ADTF": "",
                    # derived across visits (and, for EUSTAR-AI, against baseline): no single source record
                    "SRCDOM": "",
                    "SRCVAR": "",
                    "SRCSEQ": math.nan,
                    "SAFFL": subject["SAFFL"],
                }
            )
    return rows


# ------------------------------------------------------------------------------------------ define.xml

ADAM_TERMINOLOGY_VERSION = "2024-09-27"
"""The CDISC ADaM Controlled Terminology package named in define.xml (the values used -- NY, DATE9. dates,
CNSR 0/1 -- are unchanged across the packages of 2023-2025)."""

_ADAM_CLASSES: dict[str, tuple[str, str | None, str, tuple[str, ...]]] = {
    "ADSL": ("SUBJECT LEVEL ANALYSIS DATASET", None, "One record per subject", ("STUDYID", "USUBJID")),
    "ADRS": (
        "BASIC DATA STRUCTURE",
        None,
        "One record per subject per parameter per analysis visit",
        ("STUDYID", "USUBJID", "PARAMCD", "AVISITN", "AVISIT"),
    ),
    "ADTTE": (
        "BASIC DATA STRUCTURE",
        "TIME-TO-EVENT",
        "One record per subject per parameter",
        ("STUDYID", "USUBJID", "PARAMCD"),
    ),
}

_FROM_DM = {
    "STUDYID",
    "USUBJID",
    "SUBJID",
    "SITEID",
    "COUNTRY",
    "AGE",
    "AGEU",
    "SEX",
    "RACE",
    "ETHNIC",
    "ARM",
    "ARMCD",
    "ACTARM",
    "ACTARMCD",
    "DTHFL",
}
_FROM_ADSL = {"SITEID", "DISEASE", "SAFFL"}

_ADAM_METHODS: dict[str, str] = {
    "DISEASE": "SUPPDM.QVAL where QNAM = PRIMDIAG: the primary autoimmune disease.",
    "TRT01P": "DM.ARM.",
    "TRT01A": "DM.ACTARM.",
    "TRTP": "ADSL.TRT01P.",
    "TRTA": "ADSL.TRT01A.",
    "DOSEKG": "The CAR-T dose in CAR+ viable cells per kg body weight (registry infusion record), divided by 10^6.",
    "DOSETOT": "The flat CAR-T dose in CAR+ viable cells (registry infusion record), divided by 10^6.",
    "RFICDT": "DM.RFICDTC as a SAS date.",
    "TRTSDT": "DM.RFXSTDTC (first study treatment: lymphodepletion or the infusion) as a SAS date.",
    "TRTEDT": "DM.RFXENDTC (last study treatment: the CAR-T infusion) as a SAS date.",
    "INFSDY": "1: the study day of the CAR-T infusion, the reference day of every ADaM study day.",
    "EOSSTT": "COMPLETED when DS.DSDECOD = COMPLETED, DISCONTINUED for any other disposition event, ONGOING "
    "without one.",
    "EOSDT": "DS.DSSTDTC of the disposition event as a SAS date.",
    "EOSDY": "DS.DSSTDY of the disposition event.",
    "DCSREAS": "DS.DSDECOD of a disposition event other than COMPLETED.",
    "WEIGHTBL": "The patient record's baseline weight (kg).",
    "HEIGHTBL": "The patient record's baseline height (cm).",
    "ENRLFL": "Y for every subject in DM.",
    "SAFFL": "Y when the subject received the CAR-T infusion, otherwise N.",
    "PARAMCD": "The parameter's short name (the codelist of PARAMCD).",
    "PARAM": "The parameter's description, one per PARAMCD.",
    "PARCAT1": "The instrument that gives the result, upper case.",
    "AVAL": "ADRS: the instrument's numeric result at the visit (docs/instruments.md); ADTTE: days from STARTDT "
    "to the event or censoring (B-cell reconstitution: the midpoint of the interval between the last aplastic "
    "and the first reconstituted CD19 count; responses and relapse: the study day of the visit).",
    "AVALC": "The instrument's result at the visit: Y/N for a response or state, the level otherwise.",
    "ADT": "TRTEDT + the study day of the result (ADRS) or + the whole days of AVAL (ADTTE).",
    "ADY": "The study day of ADT relative to the infusion (day 1), no day 0.",
    "AVISIT": "The visit as in SV.VISIT.",
    "AVISITN": "SV.VISITNUM of the visit.",
    "ANL01FL": "Y when the instrument could be scored at the visit (all required items present).",
    "REASND": "Why the instrument could not be scored (the outcome table's reason, cut to 200 bytes).",
    "STARTDT": "TRTEDT: the date of the CAR-T infusion.",
    "CNSR": "0 for an event, 1 when censored at the last count or visit.",
    "EVNTDESC": "What ended the time: the event or the censoring.",
    "CNSDTDSC": "The censoring date's source.",
    "ADTF": "D when the day of ADT is imputed (the midpoint of an interval), blank otherwise.",
    "SRCDOM": "The SDTM domain of the record that proves the event or censoring.",
    "SRCVAR": "The variable of that record.",
    "SRCSEQ": "The --SEQ of that record.",
}


def _adam_origin(dataset: str, name: str) -> Origin:
    if dataset == "ADSL" and name in _FROM_DM:
        return Origin("Predecessor", description=f"DM.{name}")
    if dataset == "ADSL" and name in ("TRT01P", "TRT01A"):
        return Origin("Predecessor", description="DM.ARM" if name == "TRT01P" else "DM.ACTARM")
    if dataset != "ADSL" and name in {"STUDYID", "USUBJID", *_FROM_ADSL}:
        return Origin("Predecessor", description=f"ADSL.{name}")
    if dataset != "ADSL" and name in ("TRTP", "TRTA"):
        return Origin("Predecessor", description="ADSL.TRT01P" if name == "TRTP" else "ADSL.TRT01A")
    return Origin("Derived", method=_ADAM_METHODS.get(name, f"Derived for {dataset}; see docs/adam.md."))


def adam_define_package(study: StudyRecord, datasets: Mapping[str, pd.DataFrame]) -> DefinePackage:
    """The define.xml metadata of the ADaM datasets ``datasets`` (:func:`adam_datasets`) of ``study``: classes
    and structures by ADaMIG 1.3, keys, origins (predecessors in DM/ADSL, derivation methods), codelists and
    the value-level metadata of AVAL/AVALC per PARAMCD."""
    codelists = {
        k: v for k, v in sdtm_codelists().items() if k in ("SEX", "RACE", "ETHNIC", "AGEU", "COUNTRY", "DTHFL")
    }
    yes_no = codelists["DTHFL"]
    for flag in ("ENRLFL", "SAFFL", "ANL01FL"):
        codelists[flag] = yes_no
    codelists["ADTF"] = CodeListSpec("DATEFL", "Date Imputation Flag", ("D", "M", "Y"), cdisc=True)
    codelists["EOSSTT"] = CodeListSpec("EOSSTT", "End of Study Status", ("COMPLETED", "DISCONTINUED", "ONGOING"))
    metadata = []
    value_labels: dict[tuple[str, str], str] = {}
    for name, frame in datasets.items():
        class_name, subclass, structure, keys = _ADAM_CLASSES[name]
        parameter: tuple[str, ...] = ()
        if "PARAMCD" in frame.columns:
            parameter = ("PARAMCD",)
            for code, label in zip(frame["PARAMCD"], frame["PARAM"], strict=True):
                value_labels[(name, str(code))] = str(label)
            codelists["PARAMCD"] = CodeListSpec(
                "PARAMCD",
                "Parameter Code",
                (),
                {
                    **dict(codelists["PARAMCD"].decodes if "PARAMCD" in codelists else {}),
                    **dict(zip(frame["PARAMCD"], frame["PARAM"], strict=True)),
                },
            )
        metadata.append(
            DatasetMetadata(
                name=name,
                label=ADAM_LABELS[name],
                frame=frame,
                variables=ADAM_VARIABLES[name],
                class_name=class_name,
                subclass=subclass,
                structure=structure,
                keys=unique_keys(frame, keys, None),
                repeating=name != "ADSL",
                parameter=parameter,
                results=tuple(r for r in ("AVAL", "AVALC") if r in frame.columns) if parameter else (),
                formats={v.name: "DATE9." for v in ADAM_VARIABLES[name] if v.numeric and v.name.endswith("DT")},
            )
        )
    if "PARAMCD" in codelists:
        spec = codelists["PARAMCD"]
        codelists["PARAMCD"] = CodeListSpec(spec.code, spec.name, tuple(sorted(spec.decodes)), spec.decodes)
    return DefinePackage(
        study_code=study.code,
        study_name=study.name or study.code,
        description=(study.design.title if study.design is not None and study.design.title else "")
        or study.name
        or study.code,
        standard="ADaMIG",
        standard_version=ADAMIG_VERSION,
        terminology_version=ADAM_TERMINOLOGY_VERSION,
        datasets=metadata,
        origin=_adam_origin,
        codelists=codelists,
        value_labels=value_labels,
    )


def _frame(dataset: str, rows: list[dict[str, Any]]) -> pd.DataFrame:
    return dataset_frame(ADAM_VARIABLES[dataset], rows)


def adam_datasets(
    study: StudyRecord,
    *,
    sdtm: Mapping[str, pd.DataFrame] | None = None,
    outcomes: pd.DataFrame | None = None,
    analysis: CohortAnalysis | None = None,
) -> dict[str, pd.DataFrame]:
    """ADSL, ADRS and ADTTE of ``study``. ``sdtm`` (default: :func:`sdtm_domains`), ``outcomes`` (default:
    :func:`~immunoreset.registry.outcomes.compute_outcomes`) and ``analysis`` (default: :func:`analyse_cohort`)
    are computed when not given."""
    from immunoreset.errors import InvalidInput
    from immunoreset.registry.outcomes import compute_outcomes

    if not study.patients:
        raise InvalidInput("study", study.code, "a study with patients (ADaM analyses subjects)")
    if sdtm is None:
        sdtm = sdtm_domains(study)
    if outcomes is None:
        outcomes = compute_outcomes(study)
    if analysis is None:
        analysis = analyse_cohort(study, outcomes)
    adsl = _adsl(study, sdtm)
    datasets = {"ADSL": adsl, "ADRS": _adrs(outcomes, sdtm, adsl), "ADTTE": _adtte(analysis, sdtm, adsl)}
    for name, frame in datasets.items():
        check_dataset_limits(name, frame, ADAM_VARIABLES[name])
    return datasets


def write_adam(
    study: StudyRecord,
    out_dir: str | os.PathLike[str],
    *,
    xpt: bool = False,
    b_cells: BCellOptions | None = None,
    created: dt.datetime | None = None,
) -> list[Path]:
    """Write ADSL, ADRS and ADTTE into ``out_dir`` as ``<name>.csv`` and, with ``xpt=True``, SAS XPORT v5 files
    (numeric dates with the DATE9. format), and their ``define.xml`` (Define-XML 2.1, validated against the
    schema; ``created`` is its CreationDateTime, default now). ``b_cells`` sets the aplasia/reconstitution
    definition, as for the report (so the two agree). All datasets and the define.xml are built and checked
    before anything is written."""
    from immunoreset.registry.outcomes import compute_outcomes

    outcomes = compute_outcomes(study)
    analysis = analyse_cohort(study, outcomes, b_cells=b_cells) if study.patients else None
    datasets = adam_datasets(study, outcomes=outcomes, analysis=analysis)
    package = adam_define_package(study, datasets)
    define = define_xml(replace(package, file_suffix=".xpt" if xpt else ".csv"), created=created)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, frame in datasets.items():
        csv_path = out / f"{name.lower()}.csv"
        csv_path.write_text(frame.to_csv(index=False, lineterminator="\n"), encoding="utf-8")
        written.append(csv_path)
        if xpt:
            dates = {v.name: "DATE9." for v in ADAM_VARIABLES[name] if v.numeric and v.name.endswith("DT")}
            path = out / f"{name.lower()}.xpt"
            write_xpt_dataset(
                frame, path, name=name, label=ADAM_LABELS[name], variables=ADAM_VARIABLES[name], formats=dates
            )
            written.append(path)
    define_path = out / "define.xml"
    define_path.write_text(define, encoding="utf-8")
    written.append(define_path)
    return written
