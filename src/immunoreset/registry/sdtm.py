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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd

from immunoreset.errors import InvalidInput, Problem
from immunoreset.registry.records import AdverseEventRecord, PatientRecord, StudyRecord, VisitRecord
from immunoreset.registry.vocabulary import (
    ASSESSMENTS,
    CLASSIFICATION_CRITERIA,
    ObservationCode,
    all_codes,
    assessment,
    cdisc_unit,
    code,
)
from immunoreset.units import convert

__all__ = [
    "DOMAIN_LABELS",
    "DOMAIN_ORDER",
    "DOMAIN_VARIABLES",
    "SDTMIG_VERSION",
    "XPT_TIMESTAMP",
    "Variable",
    "check_dataset_limits",
    "check_xpt_limits",
    "dataset_frame",
    "sdtm_domains",
    "sdtm_test_name",
    "study_day_to_dy",
    "write_sdtm",
    "write_xpt_dataset",
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
    """One SDTM variable: name, SDTMIG label, type (character or numeric) and core (Req, Exp or Perm)."""

    name: str
    label: str
    numeric: bool = False
    core: str = "Perm"


def _c(name: str, label: str, core: str = "Perm") -> Variable:
    return Variable(name, label, core=core)


def _n(name: str, label: str, core: str = "Perm") -> Variable:
    return Variable(name, label, numeric=True, core=core)


_ID = (
    _c("STUDYID", "Study Identifier", "Req"),
    _c("DOMAIN", "Domain Abbreviation", "Req"),
    _c("USUBJID", "Unique Subject Identifier", "Req"),
)
_VISIT = (_n("VISITNUM", "Visit Number", "Exp"), _c("VISIT", "Visit Name"))
_EPOCH = _c("EPOCH", "Epoch")
_TRIAL_ID = (_c("STUDYID", "Study Identifier", "Req"), _c("DOMAIN", "Domain Abbreviation", "Req"))


def _results(prefix: str, *, units: bool = True) -> tuple[Variable, ...]:
    out = [_c(f"{prefix}ORRES", "Result or Finding in Original Units", "Exp")]
    if units:
        out.append(_c(f"{prefix}ORRESU", "Original Units", "Exp"))
    out += [
        _c(f"{prefix}STRESC", "Character Result/Finding in Std Format", "Exp"),
        _n(f"{prefix}STRESN", "Numeric Result/Finding in Standard Units", "Exp"),
    ]
    if units:
        out.append(_c(f"{prefix}STRESU", "Standard Units", "Exp"))
    return tuple(out)


_SUPP = (
    _c("STUDYID", "Study Identifier", "Req"),
    _c("RDOMAIN", "Related Domain Abbreviation", "Req"),
    _c("USUBJID", "Unique Subject Identifier", "Req"),
    _c("IDVAR", "Identifying Variable", "Exp"),
    _c("IDVARVAL", "Identifying Variable Value", "Exp"),
    _c("QNAM", "Qualifier Variable Name", "Req"),
    _c("QLABEL", "Qualifier Variable Label", "Req"),
    _c("QVAL", "Data Value", "Req"),
    _c("QORIG", "Origin", "Req"),
    _c("QEVAL", "Evaluator", "Exp"),
)

DOMAIN_VARIABLES: dict[str, tuple[Variable, ...]] = {
    "TS": (
        *_TRIAL_ID,
        _n("TSSEQ", "Sequence Number", "Req"),
        _c("TSGRPID", "Group ID"),
        _c("TSPARMCD", "Trial Summary Parameter Short Name", "Req"),
        _c("TSPARM", "Trial Summary Parameter", "Req"),
        _c("TSVAL", "Parameter Value", "Exp"),
        _c("TSVALNF", "Parameter Null Flavor"),
        _c("TSVALCD", "Parameter Value Code", "Exp"),
        _c("TSVCDREF", "Name of the Reference Terminology", "Exp"),
        _c("TSVCDVER", "Version of the Reference Terminology", "Exp"),
    ),
    "TE": (
        *_TRIAL_ID,
        _c("ETCD", "Element Code", "Req"),
        _c("ELEMENT", "Description of Element", "Req"),
        _c("TESTRL", "Rule for Start of Element", "Req"),
        _c("TEENRL", "Rule for End of Element"),
        _c("TEDUR", "Planned Duration of Element"),
    ),
    "TA": (
        *_TRIAL_ID,
        _c("ARMCD", "Planned Arm Code", "Req"),
        _c("ARM", "Description of Planned Arm", "Req"),
        _n("TAETORD", "Planned Order of Element within Arm", "Req"),
        _c("ETCD", "Element Code", "Req"),
        _c("ELEMENT", "Description of Element"),
        _c("TABRANCH", "Branch", "Exp"),
        _c("TATRANS", "Transition Rule", "Exp"),
        _c("EPOCH", "Epoch", "Req"),
    ),
    "TV": (
        *_TRIAL_ID,
        _n("VISITNUM", "Visit Number", "Req"),
        _c("VISIT", "Visit Name"),
        _n("VISITDY", "Planned Study Day of Visit"),
        _c("ARMCD", "Planned Arm Code", "Exp"),
        _c("TVSTRL", "Visit Start Rule", "Req"),
        _c("TVENRL", "Visit End Rule"),
    ),
    "TI": (
        *_TRIAL_ID,
        _c("IETESTCD", "Incl/Excl Criterion Short Name", "Req"),
        _c("IETEST", "Inclusion/Exclusion Criterion", "Req"),
        _c("IECAT", "Inclusion/Exclusion Category", "Req"),
        _c("TIVERS", "Protocol Criteria Versions"),
    ),
    "DM": (
        *_ID,
        _c("SUBJID", "Subject Identifier for the Study", "Req"),
        _c("RFSTDTC", "Subject Reference Start Date/Time", "Exp"),
        _c("RFENDTC", "Subject Reference End Date/Time", "Exp"),
        _c("RFXSTDTC", "Date/Time of First Study Treatment", "Exp"),
        _c("RFXENDTC", "Date/Time of Last Study Treatment", "Exp"),
        _c("RFICDTC", "Date/Time of Informed Consent", "Exp"),
        _c("RFPENDTC", "Date/Time of End of Participation", "Exp"),
        _c("DTHDTC", "Date/Time of Death", "Exp"),
        _c("DTHFL", "Subject Death Flag", "Exp"),
        _c("SITEID", "Study Site Identifier", "Req"),
        _c("BRTHDTC", "Date/Time of Birth"),
        _n("AGE", "Age", "Exp"),
        _c("AGEU", "Age Units", "Exp"),
        _c("SEX", "Sex", "Req"),
        _c("RACE", "Race", "Exp"),
        _c("ETHNIC", "Ethnicity"),
        _c("ARMCD", "Planned Arm Code", "Exp"),
        _c("ARM", "Description of Planned Arm", "Exp"),
        _c("ACTARMCD", "Actual Arm Code", "Exp"),
        _c("ACTARM", "Description of Actual Arm", "Exp"),
        _c("ARMNRS", "Reason Arm and/or Actual Arm is Null", "Exp"),
        _c("ACTARMUD", "Description of Unplanned Actual Arm", "Exp"),
        _c("COUNTRY", "Country", "Req"),
    ),
    "SE": (
        *_ID,
        _n("SESEQ", "Sequence Number", "Req"),
        _c("ETCD", "Element Code", "Req"),
        _c("ELEMENT", "Description of Element"),
        _n("TAETORD", "Planned Order of Element within Arm", "Exp"),
        _c("EPOCH", "Epoch", "Exp"),
        _c("SESTDTC", "Start Date/Time of Element", "Req"),
        _c("SEENDTC", "End Date/Time of Element", "Exp"),
        _n("SESTDY", "Study Day of Start of Element"),
        _n("SEENDY", "Study Day of End of Element"),
    ),
    "SV": (
        *_ID,
        _n("VISITNUM", "Visit Number", "Req"),
        _c("VISIT", "Visit Name"),
        _n("VISITDY", "Planned Study Day of Visit"),
        _EPOCH,
        _c("SVSTDTC", "Start Date/Time of Observation", "Exp"),
        _c("SVENDTC", "End Date/Time of Observation"),
        _n("SVSTDY", "Study Day of Start of Observation"),
        _n("SVENDY", "Study Day of End of Observation"),
        _c("SVUPDES", "Description of Unplanned Visit"),
    ),
    "DS": (
        *_ID,
        _n("DSSEQ", "Sequence Number", "Req"),
        _c("DSTERM", "Reported Term for the Disposition Event", "Req"),
        _c("DSDECOD", "Standardized Disposition Term", "Req"),
        _c("DSCAT", "Category for Disposition Event", "Exp"),
        _EPOCH,
        _c("DSSTDTC", "Start Date/Time of Disposition Event", "Exp"),
        _n("DSSTDY", "Study Day of Start of Disposition Event"),
    ),
    "EX": (
        *_ID,
        _n("EXSEQ", "Sequence Number", "Req"),
        _c("EXTRT", "Name of Treatment", "Req"),
        _c("EXCAT", "Category of Treatment"),
        _n("EXDOSE", "Dose", "Exp"),
        _c("EXDOSU", "Dose Units", "Exp"),
        _c("EXDOSFRM", "Dose Form", "Exp"),
        _c("EXDOSFRQ", "Dosing Frequency per Interval"),
        _c("EXROUTE", "Route of Administration"),
        *_VISIT,
        _EPOCH,
        _c("EXSTDTC", "Start Date/Time of Treatment", "Exp"),
        _c("EXENDTC", "End Date/Time of Treatment", "Exp"),
        _n("EXSTDY", "Study Day of Start of Treatment"),
        _n("EXENDY", "Study Day of End of Treatment"),
    ),
    "AE": (
        *_ID,
        _n("AESEQ", "Sequence Number", "Req"),
        _c("AESPID", "Sponsor-Defined Identifier"),
        _c("AETERM", "Reported Term for the Adverse Event", "Req"),
        _c("AEDECOD", "Dictionary-Derived Term", "Req"),
        _c("AESER", "Serious Event", "Exp"),
        _c("AEACN", "Action Taken with Study Treatment", "Exp"),
        _c("AEREL", "Causality", "Exp"),
        _c("AESCONG", "Congenital Anomaly or Birth Defect"),
        _c("AESDISAB", "Persist or Signif Disability/Incapacity"),
        _c("AESDTH", "Results in Death"),
        _c("AESHOSP", "Requires or Prolongs Hospitalization"),
        _c("AESLIFE", "Is Life Threatening"),
        _c("AESMIE", "Other Medically Important Serious Event"),
        _c("AETOXGR", "Standard Toxicity Grade"),
        *_VISIT,
        _EPOCH,
        _c("AESTDTC", "Start Date/Time of Adverse Event", "Exp"),
        _c("AEENDTC", "End Date/Time of Adverse Event", "Exp"),
        _n("AESTDY", "Study Day of Start of Adverse Event"),
        _n("AEENDY", "Study Day of End of Adverse Event"),
        _c("AEENRTPT", "End Relative to Reference Time Point"),
        _c("AEENTPT", "End Reference Time Point"),
    ),
    "CM": (
        *_ID,
        _n("CMSEQ", "Sequence Number", "Req"),
        _c("CMSPID", "Sponsor-Defined Identifier"),
        _c("CMTRT", "Reported Name of Drug, Med, or Therapy", "Req"),
        _c("CMINDC", "Indication"),
        _n("CMDOSE", "Dose per Administration"),
        _c("CMDOSU", "Dose Units"),
        _c("CMDOSFRQ", "Dosing Frequency per Interval"),
        _c("CMROUTE", "Route of Administration"),
        *_VISIT,
        _EPOCH,
        _c("CMSTDTC", "Start Date/Time of Medication"),
        _c("CMENDTC", "End Date/Time of Medication"),
        _n("CMSTDY", "Study Day of Start of Medication"),
        _n("CMENDY", "Study Day of End of Medication"),
        _c("CMENRTPT", "End Relative to Reference Time Point"),
        _c("CMENTPT", "End Reference Time Point"),
    ),
    "LB": (
        *_ID,
        _n("LBSEQ", "Sequence Number", "Req"),
        _c("LBTESTCD", "Lab Test or Examination Short Name", "Req"),
        _c("LBTEST", "Lab Test or Examination Name", "Req"),
        _c("LBCAT", "Category for Lab Test", "Exp"),
        *_results("LB"),
        _c("LBORNRLO", "Reference Range Lower Limit in Orig Unit", "Exp"),
        _c("LBORNRHI", "Reference Range Upper Limit in Orig Unit", "Exp"),
        _n("LBSTNRLO", "Reference Range Lower Limit-Std Units", "Exp"),
        _n("LBSTNRHI", "Reference Range Upper Limit-Std Units", "Exp"),
        _c("LBNRIND", "Reference Range Indicator", "Exp"),
        _c("LBSPEC", "Specimen Type"),
        _c("LBMETHOD", "Method of Test or Examination"),
        _c("LBLOBXFL", "Last Observation Before Exposure Flag", "Exp"),
        _c("LBLOINC", "LOINC Code"),
        *_VISIT,
        _EPOCH,
        _c("LBDTC", "Date/Time of Specimen Collection", "Exp"),
        _n("LBDY", "Study Day of Specimen Collection"),
    ),
    "VS": (
        *_ID,
        _n("VSSEQ", "Sequence Number", "Req"),
        _c("VSTESTCD", "Vital Signs Test Short Name", "Req"),
        _c("VSTEST", "Vital Signs Test Name", "Req"),
        *_results("VS"),
        _c("VSLOBXFL", "Last Observation Before Exposure Flag", "Exp"),
        _c("VSLOINC", "LOINC Code"),
        *_VISIT,
        _EPOCH,
        _c("VSDTC", "Date/Time of Measurements", "Exp"),
        _n("VSDY", "Study Day of Vital Signs"),
    ),
    "RE": (
        *_ID,
        _n("RESEQ", "Sequence Number", "Req"),
        _c("RETESTCD", "Short Name of Respiratory Test", "Req"),
        _c("RETEST", "Name of Respiratory Test", "Req"),
        *_results("RE"),
        _c("RELOBXFL", "Last Observation Before Exposure Flag", "Exp"),
        _c("RELOINC", "LOINC Code"),
        *_VISIT,
        _EPOCH,
        _c("REDTC", "Date/Time of Collection", "Exp"),
        _n("REDY", "Study Day of Collection"),
    ),
    "QS": (
        *_ID,
        _n("QSSEQ", "Sequence Number", "Req"),
        _c("QSTESTCD", "Question Short Name", "Req"),
        _c("QSTEST", "Question Name", "Req"),
        _c("QSCAT", "Category of Question", "Req"),
        *_results("QS"),
        _c("QSLOBXFL", "Last Observation Before Exposure Flag", "Exp"),
        *_VISIT,
        _EPOCH,
        _c("QSDTC", "Date/Time of Finding", "Exp"),
        _n("QSDY", "Study Day of Finding"),
    ),
    "PC": (
        *_ID,
        _n("PCSEQ", "Sequence Number", "Req"),
        _c("PCTESTCD", "Pharmacokinetic Test Short Name", "Req"),
        _c("PCTEST", "Pharmacokinetic Test Name", "Req"),
        _c("PCCAT", "Test Category"),
        *_results("PC"),
        _c("PCSPEC", "Specimen Material Type", "Exp"),
        _c("PCMETHOD", "Method of Test or Examination"),
        _c("PCLOBXFL", "Last Observation Before Exposure Flag"),
        *_VISIT,
        _EPOCH,
        _c("PCDTC", "Date/Time of Specimen Collection", "Exp"),
        _n("PCDY", "Actual Study Day of Specimen Collection"),
    ),
    "SUPPDM": _SUPP,
    "SUPPAE": _SUPP,
}
"""Every variable of every dataset, in SDTMIG order, with its label, type and core (Req/Exp/Perm)."""

TRIAL_DESIGN_DOMAINS: tuple[str, ...] = ("TS", "TE", "TA", "TV", "TI")
"""The trial-design datasets: one set per study, written even when empty of subjects."""

DOMAIN_ORDER: tuple[str, ...] = (
    *TRIAL_DESIGN_DOMAINS,
    "DM",
    "SUPPDM",
    "SE",
    "SV",
    "DS",
    "EX",
    "AE",
    "SUPPAE",
    "CM",
    "LB",
    "VS",
    "RE",
    "QS",
    "PC",
)
"""Domains in the order they are built and written."""

DOMAIN_LABELS: dict[str, str] = {
    "TS": "Trial Summary",
    "TE": "Trial Elements",
    "TA": "Trial Arms",
    "TV": "Trial Visits",
    "TI": "Trial Inclusion/Exclusion Criteria",
    "DM": "Demographics",
    "SUPPDM": "Supplemental Qualifiers for DM",
    "SE": "Subject Elements",
    "SV": "Subject Visits",
    "DS": "Disposition",
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


def study_day_to_dy(day: float | None) -> float:
    """SDTM ``--DY`` from a registry study day (infusion = day 0): no day 0 in SDTM. A missing day (None or
    NaN) gives NaN.

    >>> study_day_to_dy(0), study_day_to_dy(-1), study_day_to_dy(27)
    (1.0, -1.0, 28.0)
    """
    if day is None or math.isnan(day):
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

    @property
    def treatment_start(self) -> int | None:
        """Study day of the first study treatment: lymphodepletion's first day, else the infusion (day 0)."""
        p = self.patient
        if p.infusion is None and not p.lymphodepletion:
            return None
        return min([ld.first_day for ld in p.lymphodepletion] + ([0] if p.infusion is not None else []))

    @property
    def treatment_end(self) -> int | None:
        """Study day of the last study treatment (the infusion, day 0; else the last lymphodepletion day)."""
        p = self.patient
        if p.infusion is not None:
            return 0
        return max((ld.last_day for ld in p.lymphodepletion), default=None)

    def epoch(self, day: int | None) -> str:
        """EPOCH of a study day: SCREENING before the first study treatment (from consent), TREATMENT from
        lymphodepletion to the infusion day, FOLLOW-UP after it; blank without a day, and before consent when
        consent came first (a registry may consent a patient after the infusion: then the epochs stand)."""
        p = self.patient
        start = self.treatment_start
        consent_first = p.consent_day is not None and (start is None or p.consent_day <= start)
        if day is None or (consent_first and p.consent_day is not None and day < p.consent_day):
            return ""
        if start is None or day < start:
            return "SCREENING"
        return "TREATMENT" if day <= 0 else "FOLLOW-UP"

    @property
    def last_day(self) -> int | None:
        """The subject's last study day on record: disposition, else the latest visit, event or medication."""
        p = self.patient
        if p.disposition_day is not None:
            return p.disposition_day
        days = [v.study_day for v in p.visits if v.study_day is not None]
        days += [d for ae in p.adverse_events for d in (ae.onset_day, ae.resolution_day) if d is not None]
        days += [d for m in p.medications for d in (m.start_day, m.stop_day) if d is not None]
        days += [ld.last_day for ld in p.lymphodepletion] + ([0] if p.infusion is not None else [])
        return max(days, default=None)


def _visit_numbers(study: StudyRecord) -> dict[str, Decimal]:
    """VISITNUM for visit labels without one: a study-wide number per label, after every given number.

    The design's planned visits count as visits of the study (so TV and SV number a label alike). A label
    given one VISITNUM anywhere in the study keeps it for visits that lack it; the remaining
    labels are numbered in the order of their earliest study day (then label), starting at the next
    whole number above the largest given VISITNUM, so numbers never collide and are the same for every
    subject.
    """
    given: dict[str, set[Decimal]] = {}
    first_day: dict[str, int] = {}
    for planned in study.design.visits if study.design is not None else ():
        if planned.visitnum is not None:
            given.setdefault(planned.label, set()).add(planned.visitnum)
        first_day[planned.label] = min(first_day.get(planned.label, planned.day), planned.day)
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


def _dm(subject: _Subject, source: str, country: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    p = subject.patient
    infusion = p.infusion
    rfst = subject.rfstdtc.isoformat() if subject.rfstdtc else ""
    dates = [subject.dtc(v.date, v.study_day) for v in p.visits]
    last = max((d for d in [rfst, *dates] if d), default="")
    start, end = subject.treatment_start, subject.treatment_end
    armcd, arm = _arm(p)
    armnrs = "" if infusion is not None else "NOT ASSIGNED"
    died = p.disposition == "DEATH" or any(ae.grade == 5 for ae in p.adverse_events)
    death_day = p.disposition_day if p.disposition == "DEATH" else None
    row = {
        **subject.ids("DM"),
        "SUBJID": p.code,
        "RFSTDTC": rfst,
        "RFENDTC": last,
        "RFXSTDTC": subject.dtc(None, start) if start is not None else "",
        "RFXENDTC": subject.dtc(None, end) if end is not None else "",
        "RFICDTC": subject.dtc(p.consent_date, p.consent_day),
        "RFPENDTC": subject.dtc(p.disposition_date, subject.last_day),
        "DTHDTC": subject.dtc(p.disposition_date, death_day) if death_day is not None else "",
        "DTHFL": "Y" if died else "",
        "SITEID": p.site,
        "BRTHDTC": str(p.birth_year) if p.birth_year is not None else "",
        "AGE": float(p.age_years) if p.age_years is not None else math.nan,
        "AGEU": "YEARS" if p.age_years is not None else "",
        "SEX": p.sex or "U",
        "RACE": p.race or "",
        "ETHNIC": p.ethnicity or "",
        "ARMCD": armcd,
        "ARM": arm,
        "ACTARMCD": armcd,
        "ACTARM": arm,
        "ARMNRS": armnrs,
        "ACTARMUD": "",
        "COUNTRY": country,
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


_LYMPHODEPLETION_ADMINISTRATION: dict[str, tuple[str, str]] = {
    "fludarabine": ("INTRAVENOUS", "INJECTION"),
    "cyclophosphamide": ("INTRAVENOUS", "INJECTION"),
    "bendamustine": ("INTRAVENOUS", "INJECTION"),
}
"""EXROUTE and EXDOSFRM (CDISC ROUTE and FRM terms) of the lymphodepleting agents the registry knows: all three
are given as intravenous infusions in CAR-T protocols (Müller 2024, fludarabine 25 mg/m² and cyclophosphamide
1000 mg/m² i.v.). Another agent is exported with both blank and reported by :func:`sdtm_conformance`."""


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
                    "EPOCH": subject.epoch(0),
                    "EXSTDTC": subject.dtc(p.infusion.date, 0),
                    "EXENDTC": subject.dtc(p.infusion.date, 0),
                    "EXSTDY": study_day_to_dy(0),
                    "EXENDY": study_day_to_dy(0),
                },
            )
        )
    for ld in p.lymphodepletion:
        route, form = _LYMPHODEPLETION_ADMINISTRATION.get(ld.agent.strip().lower(), ("", ""))
        rows.append(
            (
                (ld.first_day, ld.agent),
                {
                    **subject.ids("EX"),
                    "EXTRT": ld.agent,
                    "EXCAT": "LYMPHODEPLETION",
                    "EXDOSE": float(ld.dose_mg_per_m2) if ld.dose_mg_per_m2 is not None else math.nan,
                    "EXDOSU": "mg/m2" if ld.dose_mg_per_m2 is not None else "",
                    "EXDOSFRM": form,
                    "EXDOSFRQ": "QD",
                    "EXROUTE": route,
                    **subject.visit_on_day(ld.first_day),
                    "EPOCH": subject.epoch(ld.first_day),
                    "EXSTDTC": subject.dtc(None, ld.first_day),
                    "EXENDTC": subject.dtc(None, ld.last_day),
                    "EXSTDY": study_day_to_dy(ld.first_day),
                    "EXENDY": study_day_to_dy(ld.last_day),
                },
            )
        )
    return rows


_SERIOUSNESS_VARIABLES = {
    "AESCONG": "congenital anomaly",
    "AESDISAB": "disability",
    "AESDTH": "death",
    "AESHOSP": "hospitalisation",
    "AESLIFE": "life-threatening",
    "AESMIE": "medically important",
}
"""The SDTM seriousness flags (Y/N on serious events, blank otherwise) and the registry's criteria."""


def _seriousness_flags(ae: AdverseEventRecord) -> dict[str, str]:
    """Y/N per criterion on a serious event whose criteria were recorded; blank otherwise (no criterion is
    invented). A grade 5 event is a death by the definition of the grade: AESDTH = Y."""
    criteria = set(ae.serious_criteria) | ({"death"} if ae.grade == 5 else set())
    if not ae.serious or not criteria:
        return dict.fromkeys(_SERIOUSNESS_VARIABLES, "")
    return {variable: "Y" if criterion in criteria else "N" for variable, criterion in _SERIOUSNESS_VARIABLES.items()}


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
            "AEACN": ae.action_taken or "",
            "AEREL": ae.relationship or "",
            **_seriousness_flags(ae),
            "AETOXGR": str(ae.grade) if ae.grade is not None else "",
            "VISITNUM": math.nan,
            "VISIT": "",
            "EPOCH": subject.epoch(ae.onset_day),
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
            "CMDOSU": cdisc_unit(med.unit) if med.unit else "",
            "CMDOSFRQ": frequency,
            "CMROUTE": _upper_words(med.route),
            "VISITNUM": math.nan,
            "VISIT": "",
            "EPOCH": subject.epoch(med.start_day),
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
        f"{prefix}ORRESU": "" if unitless else cdisc_unit(obs_unit),
        f"{prefix}STRESC": _standard(standard),
        f"{prefix}STRESN": float(standard),
        f"{prefix}STRESU": "" if unitless else cdisc_unit(entry.unit),
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
                "EPOCH": subject.epoch(visit.study_day),
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
                row["QSCAT"] = _qs_category(entry)
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


# --------------------------------------------------------------------------------------------- trial design

SDTM_VERSION = "2.0"
"""The SDTM model version that SDTMIG 3.4 implements (TS SDTMVER)."""

_ELEMENTS: dict[str, tuple[str, str, str, str]] = {
    # ETCD: (ELEMENT, TESTRL, TEENRL, TEDUR)
    "SCRN": ("Screening", "Informed consent", "First dose of lymphodepletion, or the CAR-T infusion without it", ""),
    "LD": ("Lymphodepletion", "First dose of lymphodepleting chemotherapy", "Start of the CAR-T infusion", ""),
    "CART": ("CAR-T cell infusion", "Start of the CAR-T infusion", "End of the infusion day", "P1D"),
    "FU": ("Follow-up", "Day after the CAR-T infusion", "End of participation", ""),
}
_ELEMENT_EPOCH = {"SCRN": "SCREENING", "LD": "TREATMENT", "CART": "TREATMENT", "FU": "FOLLOW-UP"}


def _arm(patient: PatientRecord) -> tuple[str, str]:
    """(ARMCD, ARM) of a treated patient: the product's target antigen; ("", "") when not treated."""
    if patient.infusion is None:
        return "", ""
    antigen = patient.infusion.target_antigen or "CD19"
    return re.sub(r"[^A-Z0-9]", "", f"{antigen}CART".upper())[:20], f"{antigen} CAR-T"


def _arm_elements(study: StudyRecord, armcd: str) -> list[str]:
    """The elements of an arm in order: lymphodepletion only when a patient of the arm had it."""
    with_ld = any(_arm(p)[0] == armcd and p.lymphodepletion for p in study.patients)
    return ["SCRN", *(["LD"] if with_ld else []), "CART", "FU"]


def _ts_rows(study: StudyRecord, countries: Sequence[str], arms: Mapping[str, str]) -> list[dict[str, Any]]:
    """TS: one row per parameter value; a parameter the study does not record gets TSVALNF "NI"."""
    design = study.design
    products = sorted({p.infusion.product for p in study.patients if p.infusion is not None})

    def get(attr: str) -> Any:
        return getattr(design, attr) if design is not None else None

    def years(value: int | None) -> str | None:
        return None if value is None else f"P{value}Y"

    def date(value: dt.date | None) -> str | None:
        return None if value is None else value.isoformat()

    parameters: list[tuple[str, str, list[str | None], str]] = [
        # (TSPARMCD, TSPARM, values, TSVCDREF)
        ("TITLE", "Trial Title", [get("title")], ""),
        ("TPHASE", "Trial Phase Classification", [get("phase")], "CDISC CT"),
        ("SPONSOR", "Clinical Study Sponsor", [get("sponsor")], ""),
        ("INDIC", "Trial Disease/Condition Indication", [get("indication")], ""),
        ("REGID", "Registry Identifier", [get("registration_id")], ""),
        ("STYPE", "Study Type", ["INTERVENTIONAL"], "CDISC CT"),
        ("INTTYPE", "Intervention Type", ["BIOLOGIC"], "CDISC CT"),
        ("TRT", "Investigational Therapy or Treatment", list(products) or [None], ""),
        ("NARMS", "Planned Number of Arms", [str(len(arms))], ""),
        ("INTMODEL", "Intervention Model", ["SINGLE GROUP" if len(arms) <= 1 else "PARALLEL"], "CDISC CT"),
        ("RANDOM", "Trial is Randomized", ["N"], "CDISC CT"),
        ("TBLIND", "Trial Blinding Schema", ["OPEN LABEL"], "CDISC CT"),
        ("TCNTRL", "Control Type", ["NONE"], "CDISC CT"),
        ("HLTSUBJI", "Healthy Subject Indicator", ["N"], "CDISC CT"),
        (
            "PLANSUB",
            "Planned Number of Subjects",
            [str(get("planned_subjects")) if get("planned_subjects") else None],
            "",
        ),
        ("ACTSUB", "Actual Number of Subjects", [str(sum(p.infusion is not None for p in study.patients))], ""),
        ("AGEMIN", "Planned Minimum Age of Subjects", [years(get("age_min_years"))], "ISO 8601"),
        ("AGEMAX", "Planned Maximum Age of Subjects", [years(get("age_max_years"))], "ISO 8601"),
        ("SEXPOP", "Sex of Participants", [get("sexes")], "CDISC CT"),
        ("SSTDTC", "Study Start Date", [date(get("start_date"))], "ISO 8601"),
        ("SENDTC", "Study End Date", [date(get("end_date"))], "ISO 8601"),
        ("OBJPRIM", "Trial Primary Objective", [get("primary_objective")], ""),
        ("OUTMSPRI", "Primary Outcome Measure", [get("primary_outcome")], ""),
        ("FCNTRY", "Planned Country of Investigational Sites", list(countries) or [None], "ISO 3166-1 Alpha-3"),
        ("SDTMVER", "SDTM Version", [SDTM_VERSION], ""),
        ("SDTIGVER", "SDTM IG Version", [SDTMIG_VERSION], ""),
    ]
    rows = []
    for parmcd, parm, values, reference in parameters:
        for group, value in enumerate(values, start=1):
            rows.append(
                {
                    "STUDYID": study.code,
                    "DOMAIN": "TS",
                    "TSSEQ": float(group),
                    "TSGRPID": "",
                    "TSPARMCD": parmcd,
                    "TSPARM": parm,
                    "TSVAL": value or "",
                    "TSVALNF": "" if value else "NI",
                    "TSVALCD": "",
                    "TSVCDREF": reference if value else "",
                    "TSVCDVER": "",
                }
            )
    return rows


def _te_rows(study: StudyRecord, used: set[str]) -> list[dict[str, Any]]:
    return [
        {
            "STUDYID": study.code,
            "DOMAIN": "TE",
            "ETCD": etcd,
            "ELEMENT": e,
            "TESTRL": start,
            "TEENRL": end,
            "TEDUR": dur,
        }
        for etcd, (e, start, end, dur) in _ELEMENTS.items()
        if etcd in used
    ]


def _ta_rows(study: StudyRecord, arms: Mapping[str, str]) -> list[dict[str, Any]]:
    rows = []
    for armcd, arm in sorted(arms.items()):
        for order, etcd in enumerate(_arm_elements(study, armcd), start=1):
            rows.append(
                {
                    "STUDYID": study.code,
                    "DOMAIN": "TA",
                    "ARMCD": armcd,
                    "ARM": arm,
                    "TAETORD": float(order),
                    "ETCD": etcd,
                    "ELEMENT": _ELEMENTS[etcd][0],
                    "TABRANCH": "",
                    "TATRANS": "",
                    "EPOCH": _ELEMENT_EPOCH[etcd],
                }
            )
    return rows


def _tv_rows(study: StudyRecord, visitnums: Mapping[str, Decimal]) -> list[dict[str, Any]]:
    """TV from the design's planned visits (their VISITNUM, else the study-wide number of the label)."""
    if study.design is None:
        return []
    rows = []
    for visit in study.design.visits:
        number = visit.visitnum if visit.visitnum is not None else visitnums[visit.label]
        window = (
            f", window -{visit.window_before}/+{visit.window_after} days"
            if visit.window_before or visit.window_after
            else ""
        )
        rows.append(
            {
                "STUDYID": study.code,
                "DOMAIN": "TV",
                "VISITNUM": float(number),
                "VISIT": visit.label,
                "VISITDY": study_day_to_dy(visit.day),
                "ARMCD": "",
                "TVSTRL": f"Study day {visit.day} after the CAR-T infusion (day 0){window}",
                "TVENRL": "",
            }
        )
    return rows


def _ti_rows(study: StudyRecord) -> list[dict[str, Any]]:
    if study.design is None:
        return []
    return [
        {
            "STUDYID": study.code,
            "DOMAIN": "TI",
            "IETESTCD": c.code,
            "IETEST": c.text,
            "IECAT": c.category,
            "TIVERS": "1",
        }
        for c in study.design.criteria
    ]


def _se(subject: _Subject, arm_elements: Mapping[str, list[str]]) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    """The subject's elements: screening from consent (or the first record), lymphodepletion, the infusion
    day and follow-up to the end of participation; an element ends where the next starts (SDTMIG)."""
    p = subject.patient
    if p.infusion is None:
        return []
    ld_start = min((ld.first_day for ld in p.lymphodepletion), default=None)
    first_record = min([v.study_day for v in p.visits if v.study_day is not None] + [ld_start or 0])
    screening = p.consent_day if p.consent_day is not None else first_record
    end = subject.last_day if subject.last_day is not None else 0
    spans: list[tuple[str, int, int]] = []
    if ld_start is not None:
        spans += [("SCRN", screening, ld_start), ("LD", ld_start, 0)]
    else:
        spans.append(("SCRN", screening, 0))
    spans += [("CART", 0, 1), ("FU", 1, max(end, 1))]
    planned = arm_elements[_arm(p)[0]]  # TAETORD as in TA: the arm's order, not the patient's
    rows = []
    for etcd, start, stop in spans:
        if stop < start:
            continue
        order = planned.index(etcd) + 1 if etcd in planned else len(planned) + 1
        rows.append(
            (
                (start, order),
                {
                    **subject.ids("SE"),
                    "ETCD": etcd,
                    "ELEMENT": _ELEMENTS[etcd][0],
                    "TAETORD": float(order),
                    "EPOCH": _ELEMENT_EPOCH[etcd],
                    "SESTDTC": subject.dtc(p.consent_date if etcd == "SCRN" else None, start),
                    "SEENDTC": subject.dtc(p.disposition_date if etcd == "FU" else None, stop),
                    "SESTDY": study_day_to_dy(start),
                    "SEENDY": study_day_to_dy(stop),
                },
            )
        )
    return rows


def _sv(subject: _Subject, planned: Mapping[str, int]) -> list[dict[str, Any]]:
    rows = []
    for visit in subject.patient.visits:
        timing = subject.visit_timing(visit, "SV")
        rows.append(
            {
                **subject.ids("SV"),
                "VISITNUM": timing["VISITNUM"],
                "VISIT": visit.label,
                "VISITDY": study_day_to_dy(planned[visit.label]) if visit.label in planned else math.nan,
                "EPOCH": subject.epoch(visit.study_day),
                "SVSTDTC": timing["SVDTC"],
                "SVENDTC": timing["SVDTC"],
                "SVSTDY": timing["SVDY"],
                "SVENDY": timing["SVDY"],
                "SVUPDES": "Unscheduled visit" if visit.kind == "unscheduled" else "",
            }
        )
    return sorted(rows, key=lambda r: (r["VISITNUM"], r["SVSTDY"] if not math.isnan(r["SVSTDY"]) else 0.0))


def _ds(subject: _Subject) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    p = subject.patient
    rows = []
    if p.consent_day is not None or p.consent_date is not None:
        rows.append(
            (
                (_day_key(p.consent_day), 0),
                {
                    **subject.ids("DS"),
                    "DSTERM": "INFORMED CONSENT OBTAINED",
                    "DSDECOD": "INFORMED CONSENT OBTAINED",
                    "DSCAT": "PROTOCOL MILESTONE",
                    "EPOCH": subject.epoch(p.consent_day),
                    "DSSTDTC": subject.dtc(p.consent_date, p.consent_day),
                    "DSSTDY": study_day_to_dy(p.consent_day),
                },
            )
        )
    if p.disposition is not None:
        rows.append(
            (
                (_day_key(p.disposition_day), 1),
                {
                    **subject.ids("DS"),
                    "DSTERM": (p.disposition_reason or p.disposition).upper(),
                    "DSDECOD": p.disposition,
                    "DSCAT": "DISPOSITION EVENT",
                    "EPOCH": subject.epoch(p.disposition_day),
                    "DSSTDTC": subject.dtc(p.disposition_date, p.disposition_day),
                    "DSSTDY": study_day_to_dy(p.disposition_day),
                },
            )
        )
    return rows


def _flag_last_before_exposure(domain: str, rows: list[dict[str, Any]], starts: Mapping[str, float]) -> None:
    """--LOBXFL = "Y" on each subject's last non-missing result per test on or before the first study
    treatment's day (RFXSTDTC; dates only, so a same-day sample counts as before treatment, as collected
    pre-dose)."""
    best: dict[tuple[str, str], int] = {}
    for index, row in enumerate(rows):
        start = starts.get(row["USUBJID"], math.nan)
        day = row[f"{domain}DY"]
        if math.isnan(start) or math.isnan(day) or day > start or not row[f"{domain}ORRES"]:
            continue
        key = (row["USUBJID"], row[f"{domain}TESTCD"])
        if key not in best or day >= rows[best[key]][f"{domain}DY"]:
            best[key] = index
    for row in rows:
        row[f"{domain}LOBXFL"] = ""
    for index in best.values():
        rows[index][f"{domain}LOBXFL"] = "Y"


# --------------------------------------------------------------------------------------------- assembly


def _frame(domain: str, rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    return dataset_frame(DOMAIN_VARIABLES[domain], rows)


def dataset_frame(variables: Sequence[Variable], rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """A dataset with exactly ``variables`` as columns, in order: numeric ones float64 (missing: NaN), character
    ones text (missing: ``""``), as SAS XPORT holds them."""
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


def sdtm_domains(study: StudyRecord) -> dict[str, pd.DataFrame]:
    """The SDTM datasets of ``study``: ``{"TS": ..., "DM": ..., ...}`` in :data:`DOMAIN_ORDER`.

    The trial-design datasets (TS, TE, TA, TV, TI) and DM are always present; other domains only when they
    have rows. QS holds collected items only: derived results (scores, remission, grades) belong to ADaM.
    Every site of a patient needs a country (DM.COUNTRY is required). Every dataset satisfies the SAS
    XPORT v5 limits (:func:`check_xpt_limits`).
    """
    visitnums = _visit_numbers(study)
    source = "Collected" if study.source == "trial" else "Derived"
    country_of = {site.code: site.country for site in study.sites}
    without = sorted({p.site for p in study.patients if not country_of.get(p.site)})
    if without:
        raise InvalidInput(
            "site country",
            ", ".join(without),
            "an ISO 3166-1 alpha-3 country for every site with patients (SDTM DM.COUNTRY is required): "
            "set `country` of the site in the REDCap mapping, sites.csv or the trial design",
        )
    subjects: dict[str, _Subject] = {}
    for patient in study.patients:
        usubjid = f"{study.code}-{patient.site}-{patient.code}"
        subjects[patient.code] = _Subject(study.code, usubjid, patient, visitnums)
    ordered = sorted(subjects.values(), key=lambda s: s.usubjid)
    arms = dict(_arm(p) for p in study.patients if p.infusion is not None)
    arm_elements = {armcd: _arm_elements(study, armcd) for armcd in arms}
    planned = {v.label: v.day for v in study.design.visits} if study.design is not None else {}

    dm_rows: list[dict[str, Any]] = []
    supp_dm: list[dict[str, Any]] = []
    sv_rows: list[dict[str, Any]] = []
    events: dict[str, dict[str, list[tuple[tuple[Any, ...], dict[str, Any]]]]] = {
        d: {} for d in ("SE", "DS", "EX", "AE", "CM", "LB", "VS", "RE", "QS", "PC")
    }
    ae_supp: dict[tuple[str, str], dict[str, Any]] = {}
    for subject in ordered:
        row, supp = _dm(subject, source, country_of[subject.patient.site] or "")
        dm_rows.append(row)
        supp_dm.extend(supp)
        sv_rows.extend(_sv(subject, planned))
        events["SE"][subject.usubjid] = _se(subject, arm_elements)
        events["DS"][subject.usubjid] = _ds(subject)
        events["EX"][subject.usubjid] = _ex(subject)
        ae_rows = _ae(subject)
        events["AE"][subject.usubjid] = [(key, row) for key, row, _ in ae_rows]
        for _, row, supp_row in ae_rows:
            ae_supp[(subject.usubjid, row["AESPID"])] = supp_row
        events["CM"][subject.usubjid] = _cm(subject)
        for domain, found in _findings(subject).items():
            events[domain][subject.usubjid] = found

    used_elements = {etcd for elements in arm_elements.values() for etcd in elements}
    countries = sorted({c for c in country_of.values() if c})
    frames: dict[str, pd.DataFrame] = {
        "TS": _frame("TS", _ts_rows(study, countries, arms)),
        "TE": _frame("TE", _te_rows(study, used_elements)),
        "TA": _frame("TA", _ta_rows(study, arms)),
        "TV": _frame("TV", _tv_rows(study, visitnums)),
        "TI": _frame("TI", _ti_rows(study)),
        "DM": _frame("DM", dm_rows),
        "SUPPDM": _frame("SUPPDM", supp_dm),
        "SV": _frame("SV", sv_rows),
    }
    exposure_start = {s.usubjid: study_day_to_dy(s.treatment_start) for s in ordered}
    for domain in ("SE", "DS", "EX", "AE", "CM", "LB", "VS", "RE", "QS", "PC"):
        rows = _sequence(domain, events[domain])
        if domain in ("LB", "VS", "RE", "QS", "PC"):
            _flag_last_before_exposure(domain, rows, exposure_start)
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
    always = {*TRIAL_DESIGN_DOMAINS, "DM"}
    result = {d: frames[d] for d in DOMAIN_ORDER if d in always or len(frames[d])}
    for domain, frame in result.items():
        check_xpt_limits(domain, frame)
    return result


# --------------------------------------------------------------------------------------------- XPT


_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,7}$")


def check_xpt_limits(domain: str, frame: pd.DataFrame) -> None:
    """:func:`check_dataset_limits` of an SDTM dataset (its variables from :data:`DOMAIN_VARIABLES`)."""
    check_dataset_limits(domain, frame, DOMAIN_VARIABLES.get(domain, ()))


def check_dataset_limits(domain: str, frame: pd.DataFrame, variables: Iterable[Variable]) -> None:
    """Refuse a dataset that SAS XPORT v5 (or SDTM/ADaM) cannot hold; every problem is listed.

    Dataset and variable names: <= 8 characters, upper case, starting with a letter; variable labels
    <= 40 characters; ``--TESTCD``/``QNAM`` values <= 8 characters and ``--TEST``/``QLABEL`` <= 40
    (SDTMIG); character values <= 200 bytes (UTF-8); numeric columns float64. Nothing is truncated.
    """
    problems: list[Problem] = []
    if not _NAME.match(domain):
        problems.append(Problem("dataset name", domain, "at most 8 characters, upper case, starting with a letter"))
    labels = {v.name: v for v in variables}
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
        elif (name.endswith("TEST") and name != "IETEST") or name == "QLABEL":
            limit = MAX_LABEL  # IETEST holds the criterion's text (up to 200 characters, SDTMIG TI)
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


def write_xpt_dataset(
    frame: pd.DataFrame,
    path: Path,
    *,
    name: str,
    label: str,
    variables: Iterable[Variable],
    formats: Mapping[str, str] | None = None,
    created: dt.datetime = XPT_TIMESTAMP,
) -> None:
    """One dataset as a SAS XPORT v5 file: variable labels, SAS formats (e.g. ``DATE9.``) and a fixed header
    timestamp (``created``), so identical data give identical bytes."""
    import pyreadstat

    labels = {v.name: v.label for v in variables}
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        scratch = Path(tmp) / path.name
        pyreadstat.write_xport(
            frame,
            str(scratch),
            file_label=label,
            column_labels=[labels[str(c)] for c in frame.columns],
            table_name=name,
            file_format_version=5,
            variable_format=dict(formats) if formats else None,
        )
        data = _fix_timestamps(scratch.read_bytes(), created)
    path.write_bytes(data)


def write_sdtm(
    study: StudyRecord,
    out_dir: str | os.PathLike[str],
    *,
    xpt: bool = False,
    created: dt.datetime | None = None,
) -> list[Path]:
    """Write the SDTM datasets of ``study`` into ``out_dir`` (created if needed); returns the files.

        One ``<domain>.csv`` per domain (lower-case name, UTF-8, ``\\n`` line ends, blank for missing) and,
        with ``xpt=True``, one SAS XPORT v5 ``<domain>.xpt`` with SDTMIG variable labels. All datasets
        are built and checked before the first file is written; files of domains an earlier export wrote into the
    same folder and this one does not are removed. ``created`` is the timestamp written into
        the XPT headers (default :data:`XPT_TIMESTAMP`, so that identical data give identical files) and the
        define.xml's CreationDateTime (default now). ``define.xml`` (Define-XML 2.1, validated against the
        schema; :mod:`immunoreset.registry.define_xml`) describes every dataset and variable written.
    """
    from immunoreset.registry.define_xml import define_xml, sdtm_define_package

    frames = sdtm_domains(study)
    package = replace(sdtm_define_package(study, frames), file_suffix=".xpt" if xpt else ".csv")
    define = define_xml(package, created=created)
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
    from immunoreset.registry.sdtm_conformance import write_conformance

    written: list[Path] = []
    for domain, frame in frames.items():
        csv_path = out / f"{domain.lower()}.csv"
        csv_path.write_text(frame.to_csv(index=False, lineterminator="\n"), encoding="utf-8")
        written.append(csv_path)
        if xpt:
            xpt_path = out / f"{domain.lower()}.xpt"
            write_xpt_dataset(
                frame,
                xpt_path,
                name=domain,
                label=DOMAIN_LABELS[domain],
                variables=DOMAIN_VARIABLES[domain],
                created=moment,
            )
            written.append(xpt_path)
    written.append(write_conformance(frames, out / "conformance.csv"))
    define_path = out / "define.xml"
    define_path.write_text(define, encoding="utf-8")
    written.append(define_path)
    return written
