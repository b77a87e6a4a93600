"""CDISC SDTM export of a :class:`~immunoreset.registry.records.StudyRecord` (SDTMIG v3.4).

:func:`sdtm_domains` turns one study into SDTM datasets (pandas DataFrames, one per domain);
:func:`write_sdtm` writes them as ``<domain>.csv`` and, optionally, as SAS XPORT version 5 files
(``<domain>.xpt``, via pyreadstat). The mapping decisions (which observation goes to which domain,
how reference ranges, coded answers, lymphodepletion, ASTCT grading and cellular kinetics are
represented) are documented in ``docs/registry_sdtm.md``; the variables and their SDTMIG labels are
:data:`DOMAIN_VARIABLES`.

Conventions applied here (and nowhere else):

* ``USUBJID`` = ``STUDYID-SITEID-SUBJID``; ``RFSTDTC`` = the CAR-T infusion date.
* ``--DY`` follows SDTM (no day 0): the registry's study day ``d`` (infusion = day 0) becomes
  ``d + 1`` when ``d >= 0`` and stays ``d`` before the infusion. Records without calendar dates
  (virtual patients) get ``--DY`` from the study day and a blank ``--DTC``.
* ``--DTC`` is the record's date; when only a study day is stored and the infusion date is known, the
  date is the infusion date plus the study day (exact, not imputed).
* ``--SEQ`` numbers each subject's records 1..n ordered by study day, then test code (or term).
* Results stay exact until the last step: ``--ORRES`` is the reported number as text, ``--STRESC`` /
  ``--STRESN`` are the value converted exactly (:func:`immunoreset.units.convert`) to the
  vocabulary's canonical UCUM unit.
* The SAS XPORT v5 limits are checked for every dataset before anything is written (names and
  dataset names <= 8 characters, labels <= 40, character values <= 200 bytes); a violation raises
  :class:`~immunoreset.errors.InvalidInput` naming domain, variable and row. Nothing is truncated.
* Output is deterministic: the same study gives byte-identical CSV and XPT files (the XPT header
  timestamps are set to a fixed value, :data:`XPT_TIMESTAMP` unless ``created`` is given).
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd

from immunoreset.errors import InvalidInput, Problem
from immunoreset.registry.records import PatientRecord, StudyRecord, VisitRecord
from immunoreset.registry.vocabulary import (
    ASSESSMENTS,
    CLASSIFICATION_CRITERIA,
    ObservationCode,
    all_codes,
    assessment,
    code,
)
from immunoreset.units import convert

__all__ = [
    "COURSE_VISIT",
    "DOMAIN_LABELS",
    "DOMAIN_ORDER",
    "DOMAIN_VARIABLES",
    "SDTMIG_VERSION",
    "XPT_TIMESTAMP",
    "Variable",
    "check_xpt_limits",
    "sdtm_domains",
    "sdtm_test_name",
    "study_day_to_dy",
    "write_sdtm",
]

SDTMIG_VERSION = "3.4"
"""The SDTM Implementation Guide version followed."""

XPT_TIMESTAMP = dt.datetime(1960, 1, 1)
"""Creation/modification time written into XPT headers (the SAS epoch), so that files are reproducible."""

MAX_NAME = 8
MAX_LABEL = 40
MAX_VALUE_BYTES = 200


@dataclass(frozen=True)
class Variable:
    """One SDTM variable: name, SDTMIG label and type (character or numeric)."""

    name: str
    label: str
    numeric: bool = False


def _c(name: str, label: str) -> Variable:
    return Variable(name, label)


def _n(name: str, label: str) -> Variable:
    return Variable(name, label, numeric=True)


_ID = (
    _c("STUDYID", "Study Identifier"),
    _c("DOMAIN", "Domain Abbreviation"),
    _c("USUBJID", "Unique Subject Identifier"),
)
_VISIT = (_n("VISITNUM", "Visit Number"), _c("VISIT", "Visit Name"))


def _results(prefix: str, *, units: bool = True) -> tuple[Variable, ...]:
    out = [_c(f"{prefix}ORRES", "Result or Finding in Original Units")]
    if units:
        out.append(_c(f"{prefix}ORRESU", "Original Units"))
    out += [
        _c(f"{prefix}STRESC", "Character Result/Finding in Std Format"),
        _n(f"{prefix}STRESN", "Numeric Result/Finding in Standard Units"),
    ]
    if units:
        out.append(_c(f"{prefix}STRESU", "Standard Units"))
    return tuple(out)


DOMAIN_VARIABLES: dict[str, tuple[Variable, ...]] = {
    "DM": (
        *_ID,
        _c("SUBJID", "Subject Identifier for the Study"),
        _c("RFSTDTC", "Subject Reference Start Date/Time"),
        _c("RFENDTC", "Subject Reference End Date/Time"),
        _c("RFXSTDTC", "Date/Time of First Study Treatment"),
        _c("RFXENDTC", "Date/Time of Last Study Treatment"),
        _c("DTHDTC", "Date/Time of Death"),
        _c("DTHFL", "Subject Death Flag"),
        _c("SITEID", "Study Site Identifier"),
        _c("BRTHDTC", "Date/Time of Birth"),
        _n("AGE", "Age"),
        _c("AGEU", "Age Units"),
        _c("SEX", "Sex"),
        _c("RACE", "Race"),
        _c("ARMCD", "Planned Arm Code"),
        _c("ARM", "Description of Planned Arm"),
        _c("ACTARMCD", "Actual Arm Code"),
        _c("ACTARM", "Description of Actual Arm"),
        _c("ARMNRS", "Reason Arm and/or Actual Arm is Null"),
        _c("COUNTRY", "Country"),
    ),
    "EX": (
        *_ID,
        _n("EXSEQ", "Sequence Number"),
        _c("EXTRT", "Name of Treatment"),
        _c("EXCAT", "Category of Treatment"),
        _n("EXDOSE", "Dose"),
        _c("EXDOSU", "Dose Units"),
        _c("EXDOSFRM", "Dose Form"),
        _c("EXDOSFRQ", "Dosing Frequency per Interval"),
        _c("EXROUTE", "Route of Administration"),
        *_VISIT,
        _c("EXSTDTC", "Start Date/Time of Treatment"),
        _c("EXENDTC", "End Date/Time of Treatment"),
        _n("EXSTDY", "Study Day of Start of Treatment"),
        _n("EXENDY", "Study Day of End of Treatment"),
    ),
    "AE": (
        *_ID,
        _n("AESEQ", "Sequence Number"),
        _c("AESPID", "Sponsor-Defined Identifier"),
        _c("AETERM", "Reported Term for the Adverse Event"),
        _c("AEDECOD", "Dictionary-Derived Term"),
        _c("AESER", "Serious Event"),
        _c("AETOXGR", "Standard Toxicity Grade"),
        *_VISIT,
        _c("AESTDTC", "Start Date/Time of Adverse Event"),
        _c("AEENDTC", "End Date/Time of Adverse Event"),
        _n("AESTDY", "Study Day of Start of Adverse Event"),
        _n("AEENDY", "Study Day of End of Adverse Event"),
        _c("AEENRTPT", "End Relative to Reference Time Point"),
        _c("AEENTPT", "End Reference Time Point"),
    ),
    "CM": (
        *_ID,
        _n("CMSEQ", "Sequence Number"),
        _c("CMSPID", "Sponsor-Defined Identifier"),
        _c("CMTRT", "Reported Name of Drug, Med, or Therapy"),
        _c("CMINDC", "Indication"),
        _n("CMDOSE", "Dose per Administration"),
        _c("CMDOSU", "Dose Units"),
        _c("CMDOSFRQ", "Dosing Frequency per Interval"),
        _c("CMROUTE", "Route of Administration"),
        *_VISIT,
        _c("CMSTDTC", "Start Date/Time of Medication"),
        _c("CMENDTC", "End Date/Time of Medication"),
        _n("CMSTDY", "Study Day of Start of Medication"),
        _n("CMENDY", "Study Day of End of Medication"),
        _c("CMENRTPT", "End Relative to Reference Time Point"),
        _c("CMENTPT", "End Reference Time Point"),
    ),
    "LB": (
        *_ID,
        _n("LBSEQ", "Sequence Number"),
        _c("LBTESTCD", "Lab Test or Examination Short Name"),
        _c("LBTEST", "Lab Test or Examination Name"),
        _c("LBCAT", "Category for Lab Test"),
        *_results("LB"),
        _c("LBORNRLO", "Reference Range Lower Limit in Orig Unit"),
        _c("LBORNRHI", "Reference Range Upper Limit in Orig Unit"),
        _n("LBSTNRLO", "Reference Range Lower Limit-Std Units"),
        _n("LBSTNRHI", "Reference Range Upper Limit-Std Units"),
        _c("LBNRIND", "Reference Range Indicator"),
        _c("LBSPEC", "Specimen Type"),
        _c("LBMETHOD", "Method of Test or Examination"),
        _c("LBLOINC", "LOINC Code"),
        *_VISIT,
        _c("LBDTC", "Date/Time of Specimen Collection"),
        _n("LBDY", "Study Day of Specimen Collection"),
    ),
    "VS": (
        *_ID,
        _n("VSSEQ", "Sequence Number"),
        _c("VSTESTCD", "Vital Signs Test Short Name"),
        _c("VSTEST", "Vital Signs Test Name"),
        *_results("VS"),
        _c("VSLOINC", "LOINC Code"),
        *_VISIT,
        _c("VSDTC", "Date/Time of Measurements"),
        _n("VSDY", "Study Day of Vital Signs"),
    ),
    "RE": (
        *_ID,
        _n("RESEQ", "Sequence Number"),
        _c("RETESTCD", "Short Name of Respiratory Test"),
        _c("RETEST", "Name of Respiratory Test"),
        *_results("RE"),
        _c("RELOINC", "LOINC Code"),
        *_VISIT,
        _c("REDTC", "Date/Time of Collection"),
        _n("REDY", "Study Day of Collection"),
    ),
    "QS": (
        *_ID,
        _n("QSSEQ", "Sequence Number"),
        _c("QSTESTCD", "Question Short Name"),
        _c("QSTEST", "Question Name"),
        _c("QSCAT", "Category of Question"),
        *_results("QS"),
        _c("QSSTAT", "Completion Status"),
        _c("QSREASND", "Reason Not Performed"),
        _c("QSDRVFL", "Derived Flag"),
        *_VISIT,
        _c("QSDTC", "Date/Time of Finding"),
        _n("QSDY", "Study Day of Finding"),
    ),
    "PC": (
        *_ID,
        _n("PCSEQ", "Sequence Number"),
        _c("PCTESTCD", "Pharmacokinetic Test Short Name"),
        _c("PCTEST", "Pharmacokinetic Test Name"),
        _c("PCCAT", "Test Category"),
        *_results("PC"),
        _c("PCSPEC", "Specimen Material Type"),
        _c("PCMETHOD", "Method of Test or Examination"),
        *_VISIT,
        _c("PCDTC", "Date/Time of Specimen Collection"),
        _n("PCDY", "Actual Study Day of Specimen Collection"),
    ),
    "SUPPDM": (
        _c("STUDYID", "Study Identifier"),
        _c("RDOMAIN", "Related Domain Abbreviation"),
        _c("USUBJID", "Unique Subject Identifier"),
        _c("IDVAR", "Identifying Variable"),
        _c("IDVARVAL", "Identifying Variable Value"),
        _c("QNAM", "Qualifier Variable Name"),
        _c("QLABEL", "Qualifier Variable Label"),
        _c("QVAL", "Data Value"),
        _c("QORIG", "Origin"),
        _c("QEVAL", "Evaluator"),
    ),
}
DOMAIN_VARIABLES["SUPPAE"] = DOMAIN_VARIABLES["SUPPDM"]

DOMAIN_ORDER: tuple[str, ...] = ("DM", "SUPPDM", "EX", "AE", "SUPPAE", "CM", "LB", "VS", "RE", "QS", "PC")
"""Domains in the order they are built and written."""

DOMAIN_LABELS: dict[str, str] = {
    "DM": "Demographics",
    "SUPPDM": "Supplemental Qualifiers for DM",
    "EX": "Exposure",
    "AE": "Adverse Events",
    "SUPPAE": "Supplemental Qualifiers for AE",
    "CM": "Concomitant/Prior Medications",
    "LB": "Laboratory Test Results",
    "VS": "Vital Signs",
    "RE": "Respiratory System Findings",
    "QS": "Questionnaires",
    "PC": "Pharmacokinetics Concentrations",
}

_DISEASE_NAMES = {
    "SLE": "Systemic lupus erythematosus",
    "SSc": "Systemic sclerosis",
    "IIM": "Idiopathic inflammatory myopathy",
    "other": "Other autoimmune disease",
}

_FREQUENCIES = {
    "once": "ONCE",
    "once_daily": "QD",
    "twice_daily": "BID",
    "three_times_daily": "TID",
    "four_times_daily": "QID",
    "every_other_day": "QOD",
    "twice_weekly": "2 TIMES PER WEEK",
    "three_times_weekly": "3 TIMES PER WEEK",
    "once_weekly": "QW",
    "every_2_weeks": "Q2W",
    "every_4_weeks": "Q4W",
    "once_monthly": "QM",
    "as_needed": "PRN",
}

_LB_CATEGORIES = {
    **dict.fromkeys(("wbc", "anc", "lymphocytes", "platelets", "hemoglobin"), "HEMATOLOGY"),
    **dict.fromkeys(("crp", "ferritin", "ck", "aldolase", "alt", "ast", "ldh"), "CHEMISTRY"),
    **dict.fromkeys(("c3", "c4", "anti_dsdna", "anti_scl70", "igg"), "IMMUNOLOGY"),
    **dict.fromkeys(("proteinuria", "upcr", "urine_rbc", "urine_wbc", "urine_casts"), "URINALYSIS"),
    **dict.fromkeys(("cd19_b_cells", "naive_b_cell_pct"), "IMMUNOPHENOTYPING"),
}
_URINE = frozenset(("proteinuria", "upcr", "urine_rbc", "urine_wbc", "urine_casts"))

# --TEST is at most 40 characters (SDTMIG); these vocabulary labels are longer.
_TEST_NAMES = {
    "skin_worsening": "Patient-reported skin worsening, 1 month",
    "myo_physician_global": "Physician global activity (VAS 0-10)",
    "myo_patient_global": "Patient global activity (VAS 0-10)",
    "myo_extramuscular_global": "Extramuscular global activity (VAS 0-10)",
    "crs_treated": "Antipyretic/tocilizumab/steroid for CRS",
    "crs_grade_reported": "CRS grade reported by investigator",
    "icans_grade_reported": "ICANS grade reported by investigator",
    "icans_intracranial_pressure": "Raised ICP / cerebral oedema (ASTCT)",
    "ck_uln": "Creatine kinase ULN",
    "aldolase_uln": "Aldolase ULN",
    "ferritin_uln": "Ferritin ULN",
    "fibrinogen_lln": "Fibrinogen LLN",
}


_ASSESSMENT_PREFIXES = frozenset(a.prefix for a in ASSESSMENTS)


def sdtm_test_name(entry: ObservationCode) -> str:
    """The SDTM ``--TEST`` (<= 40 characters) of a vocabulary code."""
    if entry.code in _TEST_NAMES:
        name = _TEST_NAMES[entry.code]
    elif entry.code.startswith("sledai_"):
        # QSCAT carries the instrument; the item is the descriptor (present and attributed to SLE).
        name = entry.code.removeprefix("sledai_").replace("_", " ").replace("dna", "DNA").replace("cva", "CVA")
        name = name[0].upper() + name[1:]
    elif entry.code.startswith("mrss_"):
        name = "mRSS " + entry.code.removeprefix("mrss_").replace("_", " ")
    elif entry.code.startswith("mmt8_"):
        name = "MMT-8 " + entry.code.removeprefix("mmt8_").replace("_", " ")
    elif (prefix := entry.code.split("_", 1)[0]) in _ASSESSMENT_PREFIXES:
        # QSCAT carries the instrument; the item is its label when that fits, else its (shortened) field name
        name = entry.label.split(": ", 1)[-1]
        if len(name) > MAX_LABEL:
            name = entry.code.removeprefix(f"{prefix}_").replace("_", " ")
            name = name[0].upper() + name[1:]
    else:
        name = entry.label
    if len(name) > MAX_LABEL:
        raise InvalidInput(f"SDTM test name of {entry.code}", name, f"at most {MAX_LABEL} characters")
    return name


def _short_reason(reason: str, limit: int = 200) -> str:
    """A derived result's not-evaluable reason cut to ``limit`` UTF-8 bytes for QSREASND (ending in "...").

    The full reason stays in the outcome table; the 200-byte limit of SAS XPORT v5 character values is
    enforced as an error for recorded data, but a generated explanation is shortened, not refused.
    """
    if len(reason.encode("utf-8")) <= limit:
        return reason
    cut = reason.encode("utf-8")[: limit - 3].decode("utf-8", errors="ignore")
    return cut.rstrip() + "..."


def _qs_category(entry: ObservationCode) -> str:
    name = entry.code
    prefix = name.split("_", 1)[0]
    if prefix in CLASSIFICATION_CRITERIA:
        return CLASSIFICATION_CRITERIA[prefix][1]
    if prefix in _ASSESSMENT_PREFIXES:
        return assessment(prefix).title.upper()
    if name.startswith("sledai_"):
        return "SLEDAI-2K"
    if name == "sle_pga":
        return "SLE PGA"
    if name in ("sle_hemolytic_anemia", "sle_gi_activity"):
        return "LLDAS"
    if name.startswith("mrss_"):
        return "MRSS"
    if name.startswith("mmt8_"):
        return "MMT-8"
    if name.endswith("haq_di"):
        return "HAQ-DI"
    if name.startswith("myo_"):
        return "IMACS CORE SET"
    if entry.category == "crs":
        return "ASTCT CRS"
    if entry.category == "icans":
        return "ASTCT ICANS"
    if name in ("digital_ulcers", "tendon_friction_rubs", "skin_worsening") or name.startswith("ssc_"):
        return "SSC ASSESSMENT"
    return entry.category.upper()


@cache
def _limit_codes() -> dict[str, tuple[str, str]]:
    """Laboratory limit codes: ``{'c3_lln': ('c3', 'LO'), 'ck_uln': ('ck', 'HI'), ...}``."""
    names = {entry.code for entry in all_codes()}
    out: dict[str, tuple[str, str]] = {}
    for entry in all_codes():
        for suffix, side in (("_lln", "LO"), ("_uln", "HI")):
            parent = entry.code.removesuffix(suffix)
            if entry.category == "lab" and entry.code.endswith(suffix) and parent in names:
                out[entry.code] = (parent, side)
    return out


def study_day_to_dy(day: int | None) -> float:
    """SDTM ``--DY`` from a registry study day (infusion = day 0): no day 0 in SDTM.

    >>> study_day_to_dy(0), study_day_to_dy(-1), study_day_to_dy(27)
    (1.0, -1.0, 28.0)
    """
    if day is None:
        return math.nan
    return float(day + 1 if day >= 0 else day)


def _plain(number: Decimal) -> str:
    """A decimal as plain text without exponent, keeping its reported digits (``1.20`` stays ``1.20``)."""
    return format(number, "f")


def _standard(number: Decimal) -> str:
    """A decimal in standard format: no exponent, no trailing zeros (``12.0`` -> ``12``)."""
    text = format(number.normalize(), "f")
    return "0" if text in ("-0", "") else text


def _upper_words(text: str | None) -> str:
    return "" if not text else text.replace("_", " ").strip().upper()


# --------------------------------------------------------------------------------------------- subject


@dataclass
class _Subject:
    study: str
    usubjid: str
    patient: PatientRecord
    visitnums: Mapping[str, Decimal]

    @property
    def rfstdtc(self) -> dt.date | None:
        return self.patient.infusion.date if self.patient.infusion else None

    def dtc(self, date: dt.date | None, day: int | None) -> str:
        if date is not None:
            return date.isoformat()
        if day is not None and self.rfstdtc is not None:
            return (self.rfstdtc + dt.timedelta(days=day)).isoformat()
        return ""

    def visit_timing(self, visit: VisitRecord, prefix: str) -> dict[str, Any]:
        number = visit.visitnum if visit.visitnum is not None else self.visitnums[visit.label]
        return {
            "VISITNUM": float(number),
            "VISIT": visit.label,
            f"{prefix}DTC": self.dtc(visit.date, visit.study_day),
            f"{prefix}DY": study_day_to_dy(visit.study_day),
        }

    def visit_on_day(self, day: int | None) -> dict[str, Any]:
        """VISITNUM/VISIT of the patient's visit on ``day`` (scheduled first), blank when none."""
        candidates = [v for v in self.patient.visits if day is not None and v.study_day == day]
        if not candidates:
            return {"VISITNUM": math.nan, "VISIT": ""}
        kind_rank = {"scheduled": 0, "daily": 1, "unscheduled": 2}
        visit = min(candidates, key=lambda v: (kind_rank[v.kind], v.label))
        number = visit.visitnum if visit.visitnum is not None else self.visitnums[visit.label]
        return {"VISITNUM": float(number), "VISIT": visit.label}

    def ids(self, domain: str) -> dict[str, Any]:
        return {"STUDYID": self.study, "DOMAIN": domain, "USUBJID": self.usubjid}


def _visit_numbers(study: StudyRecord) -> dict[str, Decimal]:
    """VISITNUM for visit labels without one: a study-wide number per label, after every given number.

    A label given one VISITNUM anywhere in the study keeps it for visits that lack it; the remaining
    labels are numbered in the order of their earliest study day (then label), starting at the next
    whole number above the largest given VISITNUM, so numbers never collide and are the same for every
    subject.
    """
    given: dict[str, set[Decimal]] = {}
    first_day: dict[str, int] = {}
    for patient in study.patients:
        for visit in patient.visits:
            if visit.visitnum is not None:
                given.setdefault(visit.label, set()).add(visit.visitnum)
            day = visit.study_day if visit.study_day is not None else 0
            first_day[visit.label] = min(first_day.get(visit.label, day), day)
    numbers = {label: next(iter(values)) for label, values in given.items() if len(values) == 1}
    top = max((v for values in given.values() for v in values), default=Decimal(0))
    start = math.floor(top) + 1
    missing = sorted((label for label in first_day if label not in numbers), key=lambda s: (first_day[s], s))
    for offset, label in enumerate(missing):
        numbers[label] = Decimal(start + offset)
    return numbers


# --------------------------------------------------------------------------------------------- domains


def _dm(subject: _Subject, source: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    p = subject.patient
    infusion = p.infusion
    rfst = subject.rfstdtc.isoformat() if subject.rfstdtc else ""
    dates = [subject.dtc(v.date, v.study_day) for v in p.visits]
    last = max((d for d in [rfst, *dates] if d), default="")
    if infusion is not None:
        antigen = infusion.target_antigen or "CD19"
        arm = f"{antigen} CAR-T"
        armcd = re.sub(r"[^A-Z0-9]", "", f"{antigen}CART".upper())[:20]
        armnrs = ""
    else:
        arm = armcd = ""
        armnrs = "NOT ASSIGNED"
    died = any(ae.grade == 5 for ae in p.adverse_events)
    row = {
        **subject.ids("DM"),
        "SUBJID": p.code,
        "RFSTDTC": rfst,
        "RFENDTC": last,
        "RFXSTDTC": rfst,
        "RFXENDTC": rfst,
        "DTHDTC": "",
        "DTHFL": "Y" if died else "",
        "SITEID": p.site,
        "BRTHDTC": str(p.birth_year) if p.birth_year is not None else "",
        "AGE": math.nan,
        "AGEU": "",
        "SEX": p.sex or "U",
        "RACE": "",
        "ARMCD": armcd,
        "ARM": arm,
        "ACTARMCD": armcd,
        "ACTARM": arm,
        "ARMNRS": armnrs,
        "COUNTRY": "",
    }
    supp = [
        {
            "STUDYID": subject.study,
            "RDOMAIN": "DM",
            "USUBJID": subject.usubjid,
            "IDVAR": "",
            "IDVARVAL": "",
            "QNAM": "PRIMDIAG",
            "QLABEL": "Primary Autoimmune Disease",
            "QVAL": _DISEASE_NAMES[p.disease],
            "QORIG": source,
            "QEVAL": "",
        }
    ]
    return row, supp


def _ex(subject: _Subject) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    p = subject.patient
    rows: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    if p.infusion is not None:
        dose, total = p.infusion.dose_cells_per_kg, p.infusion.dose_cells_total
        if dose is not None:
            exdose, exdosu = float(dose / Decimal(10) ** 6), "10^6 cells/kg"
        elif total is not None:  # flat dose
            exdose, exdosu = float(total / Decimal(10) ** 6), "10^6 cells"
        else:
            exdose, exdosu = math.nan, ""
        rows.append(
            (
                (0, p.infusion.product),
                {
                    **subject.ids("EX"),
                    "EXTRT": p.infusion.product,
                    "EXCAT": "CAR-T CELL THERAPY",
                    "EXDOSE": exdose,
                    "EXDOSU": exdosu,
                    "EXDOSFRM": "SUSPENSION",
                    "EXDOSFRQ": "ONCE",
                    "EXROUTE": "INTRAVENOUS",
                    **subject.visit_on_day(0),
                    "EXSTDTC": subject.dtc(p.infusion.date, 0),
                    "EXENDTC": subject.dtc(p.infusion.date, 0),
                    "EXSTDY": study_day_to_dy(0),
                    "EXENDY": study_day_to_dy(0),
                },
            )
        )
    for ld in p.lymphodepletion:
        rows.append(
            (
                (ld.first_day, ld.agent),
                {
                    **subject.ids("EX"),
                    "EXTRT": ld.agent,
                    "EXCAT": "LYMPHODEPLETION",
                    "EXDOSE": float(ld.dose_mg_per_m2) if ld.dose_mg_per_m2 is not None else math.nan,
                    "EXDOSU": "mg/m2" if ld.dose_mg_per_m2 is not None else "",
                    "EXDOSFRM": "",
                    "EXDOSFRQ": "QD",
                    "EXROUTE": "",
                    **subject.visit_on_day(ld.first_day),
                    "EXSTDTC": subject.dtc(None, ld.first_day),
                    "EXENDTC": subject.dtc(None, ld.last_day),
                    "EXSTDY": study_day_to_dy(ld.first_day),
                    "EXENDY": study_day_to_dy(ld.last_day),
                },
            )
        )
    return rows


def _ae(subject: _Subject) -> list[tuple[tuple[Any, ...], dict[str, Any], dict[str, Any]]]:
    rows = []
    for ae in subject.patient.adverse_events:
        ongoing = ae.resolution_day is None and ae.resolution_date is None
        row = {
            **subject.ids("AE"),
            "AESPID": ae.key,
            "AETERM": ae.term,
            "AEDECOD": ae.term,
            "AESER": "" if ae.serious is None else ("Y" if ae.serious else "N"),
            "AETOXGR": str(ae.grade) if ae.grade is not None else "",
            "VISITNUM": math.nan,
            "VISIT": "",
            "AESTDTC": subject.dtc(ae.onset_date, ae.onset_day),
            "AEENDTC": subject.dtc(ae.resolution_date, ae.resolution_day),
            "AESTDY": study_day_to_dy(ae.onset_day),
            "AEENDY": study_day_to_dy(ae.resolution_day),
            "AEENRTPT": "ONGOING" if ongoing else "",
            "AEENTPT": "END OF FOLLOW-UP" if ongoing else "",
        }
        supp = {"QNAM": "AETOXSCL", "QLABEL": "Toxicity Grading Scale", "QVAL": ae.grading}
        key = (_day_key(ae.onset_day), ae.term, ae.key)
        rows.append((key, row, supp))
    return rows


def _cm(subject: _Subject) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    rows = []
    for med in subject.patient.medications:
        ongoing = med.stop_day is None and med.stop_date is None
        frequency = _FREQUENCIES.get(med.frequency or "", _upper_words(med.frequency))
        row = {
            **subject.ids("CM"),
            "CMSPID": med.key,
            "CMTRT": med.drug,
            "CMINDC": med.indication or "",
            "CMDOSE": float(med.dose) if med.dose is not None else math.nan,
            "CMDOSU": med.unit or "",
            "CMDOSFRQ": frequency,
            "CMROUTE": _upper_words(med.route),
            "VISITNUM": math.nan,
            "VISIT": "",
            "CMSTDTC": subject.dtc(med.start_date, med.start_day),
            "CMENDTC": subject.dtc(med.stop_date, med.stop_day),
            "CMSTDY": study_day_to_dy(med.start_day),
            "CMENDY": study_day_to_dy(med.stop_day),
            "CMENRTPT": "ONGOING" if ongoing else "",
            "CMENTPT": "END OF FOLLOW-UP" if ongoing else "",
        }
        rows.append(((_day_key(med.start_day), med.drug, med.key), row))
    return rows


def _day_key(day: int | None) -> tuple[int, int]:
    return (0, 0) if day is None else (1, day)


def _result(
    prefix: str, obs_value: Decimal | None, obs_unit: str, text: str | None, entry: ObservationCode
) -> dict[str, Any]:
    """--ORRES/--ORRESU/--STRESC/--STRESN/--STRESU of one observation."""
    if entry.choices:
        return {
            f"{prefix}ORRES": text or "",
            f"{prefix}ORRESU": "",
            f"{prefix}STRESC": text or "",
            f"{prefix}STRESN": math.nan,
            f"{prefix}STRESU": "",
        }
    assert obs_value is not None  # the vocabulary refuses a numeric observation without a value
    if entry.boolean:
        yes = "Y" if obs_value == 1 else "N"
        return {
            f"{prefix}ORRES": yes,
            f"{prefix}ORRESU": "",
            f"{prefix}STRESC": yes,
            f"{prefix}STRESN": math.nan,
            f"{prefix}STRESU": "",
        }
    standard = convert(obs_value, obs_unit, entry.unit, field=entry.code)
    unitless = entry.unit == "1" and obs_unit == "1"
    return {
        f"{prefix}ORRES": _plain(obs_value),
        f"{prefix}ORRESU": "" if unitless else obs_unit,
        f"{prefix}STRESC": _standard(standard),
        f"{prefix}STRESN": float(standard),
        f"{prefix}STRESU": "" if unitless else entry.unit,
    }


def _findings(subject: _Subject) -> dict[str, list[tuple[tuple[Any, ...], dict[str, Any]]]]:
    out: dict[str, list[tuple[tuple[Any, ...], dict[str, Any]]]] = {d: [] for d in ("LB", "VS", "RE", "QS", "PC")}
    limits = _limit_codes()
    p = subject.patient
    for name, testcd, label, value, unit in (
        ("weight", "WEIGHT", "Weight", p.weight_kg, "kg"),
        ("height", "HEIGHT", "Height", p.height_cm, "cm"),
    ):
        if value is None:
            continue
        vs_row = {
            **subject.ids("VS"),
            "VSTESTCD": testcd,
            "VSTEST": label,
            "VSORRES": _plain(value),
            "VSORRESU": unit,
            "VSSTRESC": _standard(value),
            "VSSTRESN": float(value),
            "VSSTRESU": unit,
            "VSLOINC": {"weight": "29463-7", "height": "8302-2"}[name],
            "VISITNUM": math.nan,
            "VISIT": "",
            "VSDTC": "",
            "VSDY": math.nan,
        }
        out["VS"].append(((_day_key(None), testcd, math.inf, ""), vs_row))
    for visit in p.visits:
        by_code = {obs.code: obs for obs in visit.observations}
        for obs in visit.observations:
            if obs.code in limits:
                continue  # a laboratory limit: reported as the reference range of its test, below
            entry = code(obs.code)
            domain = entry.sdtm_domain
            prefix = domain
            row: dict[str, Any] = {
                **subject.ids(domain),
                f"{prefix}TESTCD": entry.sdtm_testcd,
                f"{prefix}TEST": sdtm_test_name(entry),
                **_result(prefix, obs.value, obs.unit, obs.value_text, entry),
                **subject.visit_timing(visit, prefix),
            }
            method = _upper_words(obs.method or entry.method)
            if domain == "LB":
                row["LBCAT"] = _LB_CATEGORIES.get(entry.code, entry.category.upper())
                row.update(_reference_range(obs.value, obs.unit, entry, by_code))
                row["LBSPEC"] = "URINE" if entry.code in _URINE else ""
                row["LBMETHOD"] = method
                row["LBLOINC"] = entry.loinc or ""
            elif domain in ("VS", "RE"):
                row[f"{prefix}LOINC"] = entry.loinc or ""
            elif domain == "QS":
                row.update({"QSCAT": _qs_category(entry), "QSSTAT": "", "QSREASND": "", "QSDRVFL": ""})
            elif domain == "PC":
                row.update({"PCCAT": "CAR-T CELLULAR KINETICS", "PCSPEC": "BLOOD", "PCMETHOD": method})
            else:  # pragma: no cover - the vocabulary only names the domains above
                raise InvalidInput(f"SDTM domain of {entry.code}", domain, "LB, VS, RE, QS or PC")
            visitnum = row["VISITNUM"]
            out[domain].append(((_day_key(visit.study_day), entry.sdtm_testcd, visitnum, visit.label), row))
    return out


def _reference_range(
    value: Decimal | None, unit: str, entry: ObservationCode, by_code: Mapping[str, Any]
) -> dict[str, Any]:
    """LBORNRLO/HI (in the result's reported unit), LBSTNRLO/HI (canonical) and LBNRIND from limit codes."""
    out: dict[str, Any] = {"LBORNRLO": "", "LBORNRHI": "", "LBSTNRLO": math.nan, "LBSTNRHI": math.nan, "LBNRIND": ""}
    if value is None or entry.choices:
        return out
    below = above = False
    known = False
    for limit_code, (parent, side) in _limit_codes().items():
        limit = by_code.get(limit_code)
        if parent != entry.code or limit is None or limit.value is None:
            continue
        known = True
        in_reported = convert(limit.value, limit.unit, unit, field=limit_code)
        in_standard = convert(limit.value, limit.unit, entry.unit, field=limit_code)
        out[f"LBORNR{side}"] = _standard(in_reported)
        out[f"LBSTNR{side}"] = float(in_standard)
        if side == "LO" and value < in_reported:
            below = True
        if side == "HI" and value > in_reported:
            above = True
    if known:
        out["LBNRIND"] = "LOW" if below else "HIGH" if above else "NORMAL"
    return out


# --------------------------------------------------------------------------------------------- scores


_SCORE_COLUMNS = ("patient", "visit", "instrument", "result", "value")
COURSE_VISIT = "(course)"
"""Visit of patient-level results in a scores table (as :data:`immunoreset.registry.outcomes.COURSE_VISIT`)."""


def _abbreviation(instrument: str, result: str) -> str:
    """QSTESTCD base of a total: up to 4 characters of the instrument, then the result (one word: its first
    4 letters; several words: their initials), e.g. ``sledai2k total`` -> ``SLEDTOTA``,
    ``drug_free glucocorticoid_free_since`` -> ``DRUGGFS``."""
    head = re.sub(r"[^A-Z0-9]", "", instrument.upper())[:4]
    words = [w for w in re.split(r"[^A-Za-z0-9]+", result.upper()) if w]
    tail = (words[0][:4] if len(words) == 1 else "".join(w[0] for w in words)[:4]) if words else ""
    base = head + tail or "SCORE"
    return base if base[0].isalpha() else "S" + base[: MAX_NAME - 1]


def _score_testcds(pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
    reserved = {e.sdtm_testcd for e in all_codes() if e.sdtm_domain == "QS"}
    testcds: dict[tuple[str, str], str] = {}
    for instrument, result in sorted(set(pairs)):
        base = _abbreviation(instrument, result)
        candidate, n = base[:MAX_NAME], 1
        while candidate in reserved:
            suffix = str(n)
            candidate, n = base[: MAX_NAME - len(suffix)] + suffix, n + 1
        reserved.add(candidate)
        testcds[(instrument, result)] = candidate
    return testcds


def _score_rows(
    scores: pd.DataFrame, subjects: Mapping[str, _Subject]
) -> dict[str, list[tuple[tuple[Any, ...], dict[str, Any]]]]:
    """QS rows (QSDRVFL = Y) for instrument totals: a tidy table [patient, visit, instrument, result, value].

    Optional columns: ``value_num`` (the numeric value, preferred for QSSTRESN) and ``reason`` (QSREASND
    of a missing value) -- the table of :func:`immunoreset.registry.outcomes.compute_outcomes` fits as
    it is. A ``visit`` of ``(course)`` or blank is a patient-level result (no visit, date or day).
    """
    missing = [c for c in _SCORE_COLUMNS if c not in scores.columns]
    if missing:
        raise InvalidInput("scores columns", list(scores.columns), "columns " + ", ".join(_SCORE_COLUMNS))
    records = scores.to_dict(orient="records")
    testcds = _score_testcds((str(r["instrument"]), str(r["result"])) for r in records)
    out: dict[str, list[tuple[tuple[Any, ...], dict[str, Any]]]] = {}
    problems: list[Problem] = []
    for index, fields in enumerate(records):
        where = f"scores row {index + 1}"
        patient = str(fields["patient"])
        label = str(fields["visit"]) if _present(fields["visit"]) else ""
        instrument, result = str(fields["instrument"]), str(fields["result"])
        subject = subjects.get(patient)
        if subject is None:
            problems.append(Problem("patient", patient, "a patient of the study", where))
            continue
        timing: dict[str, Any] = {"VISITNUM": math.nan, "VISIT": "", "QSDTC": "", "QSDY": math.nan}
        day: int | None = None
        if label not in ("", COURSE_VISIT):
            try:
                visit = subject.patient.visit(label)
            except KeyError:
                problems.append(Problem("visit", label, f"a visit of patient {patient} or {COURSE_VISIT!r}", where))
                continue
            timing, day = subject.visit_timing(visit, "QS"), visit.study_day
        name = f"{instrument} {result}"
        if len(name) > MAX_LABEL:
            problems.append(Problem("instrument/result", name, f"at most {MAX_LABEL} characters (QSTEST)", where))
            continue
        value = fields["value"]
        row = {
            **subject.ids("QS"),
            "QSTESTCD": testcds[(instrument, result)],
            "QSTEST": name,
            "QSCAT": instrument,
            **_score_value(value, fields.get("value_num")),
            "QSDRVFL": "Y",
            **timing,
        }
        if not _present(value):
            row["QSSTAT"] = "NOT DONE"
            row["QSREASND"] = _short_reason(str(fields["reason"])) if _present(fields.get("reason")) else ""
        key = (_day_key(day), row["QSTESTCD"], row["VISITNUM"], label)
        out.setdefault(subject.usubjid, []).append((key, row))
    if problems:
        raise InvalidInput(problems=problems)
    return out


def _present(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return False
    if isinstance(value, float) and math.isnan(value):
        return False
    return not (isinstance(value, str) and value.strip() == "")


def _score_value(value: Any, number: Any = None) -> dict[str, Any]:
    """QSORRES/QSSTRESC/QSSTRESN of a total: booleans (and "true"/"false") as Y/N, numbers exact."""
    out: dict[str, Any] = {
        "QSORRES": "",
        "QSORRESU": "",
        "QSSTRESC": "",
        "QSSTRESN": math.nan,
        "QSSTRESU": "",
        "QSSTAT": "",
        "QSREASND": "",
    }
    if not _present(value):
        return out
    if isinstance(value, bool) or type(value).__name__ == "bool_" or str(value).lower() in ("true", "false"):
        text = "Y" if str(value).lower() == "true" else "N"
        return {**out, "QSORRES": text, "QSSTRESC": text}
    if isinstance(value, str):
        out.update(QSORRES=value, QSSTRESC=value)
        if _present(number):
            standard = Decimal(str(number))
            out.update(QSSTRESC=_standard(standard), QSSTRESN=float(standard))
        return out
    standard = value if isinstance(value, Decimal) else Decimal(str(value))
    return {**out, "QSORRES": _standard(standard), "QSSTRESC": _standard(standard), "QSSTRESN": float(standard)}


# --------------------------------------------------------------------------------------------- assembly


def _frame(domain: str, rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    variables = DOMAIN_VARIABLES[domain]
    records = list(rows)
    data: dict[str, Any] = {}
    for var in variables:
        column = [row.get(var.name) for row in records]
        if var.numeric:
            data[var.name] = pd.Series(
                [math.nan if v is None else float(v) for v in column], dtype="float64", name=var.name
            )
        else:
            data[var.name] = pd.Series(["" if v is None else str(v) for v in column], dtype=object, name=var.name)
    return pd.DataFrame(data, columns=[v.name for v in variables])


def _sequence(
    domain: str, by_subject: Mapping[str, list[tuple[tuple[Any, ...], dict[str, Any]]]]
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for usubjid in sorted(by_subject):
        entries = sorted(by_subject[usubjid], key=lambda item: _sort_key(item[0]))
        for seq, (_, row) in enumerate(entries, start=1):
            rows.append({**row, f"{domain}SEQ": float(seq)})
    return rows


def _sort_key(key: tuple[Any, ...]) -> tuple[Any, ...]:
    # NaN visit numbers sort last, deterministically.
    return tuple((1, 0.0) if isinstance(k, float) and math.isnan(k) else (0, k) for k in key)


def sdtm_domains(study: StudyRecord, *, scores: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """The SDTM datasets of ``study``: ``{"DM": ..., "EX": ..., ...}`` in :data:`DOMAIN_ORDER`.

    DM is always present; other domains only when they have rows. ``scores`` optionally adds
    instrument totals to QS: a tidy table with columns ``patient, visit, instrument, result, value``
    (value numeric or text; an optional ``reason`` column fills QSREASND when the value is missing).
    Every dataset satisfies the SAS XPORT v5 limits (:func:`check_xpt_limits`).
    """
    visitnums = _visit_numbers(study)
    source = "Collected" if study.source == "trial" else "Derived"
    subjects: dict[str, _Subject] = {}
    for patient in study.patients:
        usubjid = f"{study.code}-{patient.site}-{patient.code}"
        subjects[patient.code] = _Subject(study.code, usubjid, patient, visitnums)
    ordered = sorted(subjects.values(), key=lambda s: s.usubjid)

    dm_rows: list[dict[str, Any]] = []
    supp_dm: list[dict[str, Any]] = []
    events: dict[str, dict[str, list[tuple[tuple[Any, ...], dict[str, Any]]]]] = {
        d: {} for d in ("EX", "AE", "CM", "LB", "VS", "RE", "QS", "PC")
    }
    ae_supp: dict[tuple[str, str], dict[str, Any]] = {}
    for subject in ordered:
        row, supp = _dm(subject, source)
        dm_rows.append(row)
        supp_dm.extend(supp)
        events["EX"][subject.usubjid] = _ex(subject)
        ae_rows = _ae(subject)
        events["AE"][subject.usubjid] = [(key, row) for key, row, _ in ae_rows]
        for _, row, supp_row in ae_rows:
            ae_supp[(subject.usubjid, row["AESPID"])] = supp_row
        events["CM"][subject.usubjid] = _cm(subject)
        for domain, found in _findings(subject).items():
            events[domain][subject.usubjid] = found
    if scores is not None and len(scores):
        for usubjid, totals in _score_rows(scores, subjects).items():
            events["QS"].setdefault(usubjid, []).extend(totals)

    frames: dict[str, pd.DataFrame] = {"DM": _frame("DM", dm_rows)}
    frames["SUPPDM"] = _frame("SUPPDM", supp_dm)
    for domain in ("EX", "AE", "CM", "LB", "VS", "RE", "QS", "PC"):
        rows = _sequence(domain, events[domain])
        frames[domain] = _frame(domain, rows)
        if domain == "AE":
            supp_ae = [
                {
                    "STUDYID": row["STUDYID"],
                    "RDOMAIN": "AE",
                    "USUBJID": row["USUBJID"],
                    "IDVAR": "AESEQ",
                    "IDVARVAL": str(int(row["AESEQ"])),
                    **ae_supp[(row["USUBJID"], row["AESPID"])],
                    "QORIG": source,
                    "QEVAL": "INVESTIGATOR",
                }
                for row in rows
            ]
            frames["SUPPAE"] = _frame("SUPPAE", supp_ae)
    result = {d: frames[d] for d in DOMAIN_ORDER if d == "DM" or len(frames[d])}
    for domain, frame in result.items():
        check_xpt_limits(domain, frame)
    return result


# --------------------------------------------------------------------------------------------- XPT


_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,7}$")


def check_xpt_limits(domain: str, frame: pd.DataFrame) -> None:
    """Refuse a dataset that SAS XPORT v5 (or SDTM) cannot hold; every problem is listed.

    Dataset and variable names: <= 8 characters, upper case, starting with a letter; variable labels
    <= 40 characters; ``--TESTCD``/``QNAM`` values <= 8 characters and ``--TEST``/``QLABEL`` <= 40
    (SDTMIG); character values <= 200 bytes (UTF-8); numeric columns float64. Nothing is truncated.
    """
    problems: list[Problem] = []
    if not _NAME.match(domain):
        problems.append(Problem("dataset name", domain, "at most 8 characters, upper case, starting with a letter"))
    labels = {v.name: v for v in DOMAIN_VARIABLES.get(domain, ())}
    for name in frame.columns:
        where = f"domain {domain}"
        if not _NAME.match(str(name)):
            problems.append(Problem("variable name", name, "at most 8 characters, upper case", where))
        var = labels.get(str(name))
        if var is None:
            problems.append(Problem(f"{domain}.{name}", name, "a variable with an SDTMIG label", where))
            continue
        if len(var.label) > MAX_LABEL:
            problems.append(Problem(f"{domain}.{name} label", var.label, f"at most {MAX_LABEL} characters", where))
        column = frame[name]
        if var.numeric:
            if column.dtype != "float64":
                problems.append(Problem(f"{domain}.{name}", str(column.dtype), "a float64 column", where))
            continue
        limit = MAX_VALUE_BYTES
        if name.endswith("TESTCD") or name == "QNAM":
            limit = MAX_NAME
        elif name.endswith("TEST") or name == "QLABEL":
            limit = MAX_LABEL
        for row, value in enumerate(column, start=1):
            if not isinstance(value, str):
                problems.append(Problem(f"{domain}.{name}", value, "text ('' when missing)", f"{where}, row {row}"))
            elif len(value.encode("utf-8")) > limit:
                usubjid = frame["USUBJID"].iloc[row - 1] if "USUBJID" in frame.columns else ""
                problems.append(
                    Problem(
                        f"{domain}.{name}",
                        value,
                        f"at most {limit} bytes (got {len(value.encode('utf-8'))}; SAS XPORT v5 / SDTMIG limit)",
                        f"{where}, row {row}" + (f" (USUBJID {usubjid})" if usubjid else ""),
                    )
                )
    if problems:
        raise InvalidInput(problems=problems)


_STAMP = re.compile(rb"\d{2}[A-Z]{3}\d{2}:\d{2}:\d{2}:\d{2}")


def _sas_datetime(moment: dt.datetime) -> bytes:
    return moment.strftime("%d%b%y:%H:%M:%S").upper().encode("ascii")


def _fix_timestamps(data: bytes, moment: dt.datetime) -> bytes:
    """Set the created/modified times of the XPT library and member headers to ``moment``."""
    stamp = _sas_datetime(moment)
    end = data.find(b"HEADER RECORD*******OBS     HEADER RECORD")
    if end < 0:
        raise ValueError("not a SAS XPORT v5 file: no OBS header record")
    head = bytearray(data[:end])
    for start in range(0, len(head), 80):
        record = bytes(head[start : start + 80])
        if record.startswith(b"SAS     ") and _STAMP.fullmatch(record[64:80]):
            head[start + 64 : start + 80] = stamp
            following = bytes(head[start + 80 : start + 96])
            if _STAMP.fullmatch(following):
                head[start + 80 : start + 96] = stamp
    return bytes(head) + data[end:]


def _write_xpt(domain: str, frame: pd.DataFrame, path: Path, created: dt.datetime) -> None:
    import pyreadstat

    labels = {v.name: v.label for v in DOMAIN_VARIABLES[domain]}
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        scratch = Path(tmp) / path.name
        pyreadstat.write_xport(
            frame,
            str(scratch),
            file_label=DOMAIN_LABELS[domain],
            column_labels=[labels[str(c)] for c in frame.columns],
            table_name=domain,
            file_format_version=5,
        )
        data = _fix_timestamps(scratch.read_bytes(), created)
    path.write_bytes(data)


def write_sdtm(
    study: StudyRecord,
    out_dir: str | os.PathLike[str],
    *,
    xpt: bool = False,
    scores: pd.DataFrame | None = None,
    created: dt.datetime | None = None,
) -> list[Path]:
    """Write the SDTM datasets of ``study`` into ``out_dir`` (created if needed); returns the files.

        One ``<domain>.csv`` per domain (lower-case name, UTF-8, ``\\n`` line ends, blank for missing) and,
        with ``xpt=True``, one SAS XPORT v5 ``<domain>.xpt`` with SDTMIG variable labels. All datasets
        are built and checked before the first file is written; files of domains an earlier export wrote into the
    same folder and this one does not are removed. ``created`` is the timestamp written into
        the XPT headers (default :data:`XPT_TIMESTAMP`, so that identical data give identical files).
    """
    frames = sdtm_domains(study, scores=scores)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    moment = created or XPT_TIMESTAMP
    # A dataset of an earlier export that this study no longer has (e.g. no AE rows now) would be read as
    # current: remove the files of every SDTM domain this module writes before writing the new set.
    for domain in DOMAIN_VARIABLES:
        for suffix in (".csv", ".xpt"):
            stale = out / f"{domain.lower()}{suffix}"
            if stale.exists() and (domain not in frames or (suffix == ".xpt" and not xpt)):
                stale.unlink()
    written: list[Path] = []
    for domain, frame in frames.items():
        csv_path = out / f"{domain.lower()}.csv"
        csv_path.write_text(frame.to_csv(index=False, lineterminator="\n"), encoding="utf-8")
        written.append(csv_path)
        if xpt:
            xpt_path = out / f"{domain.lower()}.xpt"
            _write_xpt(domain, frame, xpt_path, moment)
            written.append(xpt_path)
    return written
