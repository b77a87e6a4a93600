"""Derived outcomes: every applicable instrument for each patient and visit, from stored raw data.

:func:`compute_outcomes` reads one :class:`~immunoreset.registry.records.StudyRecord` (no database) and
scores it with the registered instruments of :mod:`immunoreset.instruments`; nothing is scored here by
hand. The result is a tidy table, one row per ``(patient, visit, instrument, result)``::

    study site patient disease visit study_day instrument result value value_num evaluable reason source

* ``value`` is the exact text of the result (``"12"``, ``"0.5"``, ``"true"``, ``"moderate"``);
  ``value_num`` the same as a float (booleans 1/0; NaN for text or when not evaluable).
* ``evaluable`` is false when the value is unknown; ``reason`` then names the missing observation codes
  (or medication records) — a missing input is never guessed.
* Patient-level results (CRS and ICANS courses, ICAHT) have ``visit = "(course)"`` and no study day.
* Rows are ordered by patient code (natural order: ``2`` before ``10``), visit (study day, label), then a
  fixed instrument and result order, so the same data always give the same table.

Observation values are read in the unit each instrument declares through
:func:`immunoreset.units.convert`. Which instruments apply, baseline rules and not-evaluable rules are in
``docs/registry_outcomes.md``; every choice the sources leave open is an :class:`OutcomeOptions` field
whose default is the published definition.
"""

from __future__ import annotations

import math
import re
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from immunoreset.errors import InvalidInput
from immunoreset.instruments import get as get_instrument
from immunoreset.instruments.base import InstrumentResult, Quantity, parse
from immunoreset.instruments.bilag import bicla, bilag2004
from immunoreset.instruments.infections import (
    HypogammaglobulinaemiaOptions,
    hypogammaglobulinaemia,
)
from immunoreset.instruments.lupus_nephritis import (
    DRUG_FREE_DORIS_SOURCE,
    DrugFreeDORISOptions,
    LNRenalResponseOptions,
    drug_free_doris_month6,
    ln_renal_response,
)
from immunoreset.instruments.medications import (
    BNF_SOURCE,
    MEIKLE_TYLER_SOURCE,
    DrugFreeOptions,
    EquivalenceTable,
    MedicationEntry,
    default_drug_table,
    drug_free,
    prednisolone_equivalent_on_day,
)
from immunoreset.instruments.myositis import (
    IMACSDOIOptions,
    MMT8Options,
    TISOptions,
    iim_classification_2017,
    imacs_doi,
    mmt8,
    myositis_tis,
)
from immunoreset.instruments.safety import (
    T_ICAHT_SOURCE,
    CRSAssessment,
    CTCAEOptions,
    ICAHTOptions,
    ICANSAssessment,
    TICAHTOptions,
    crs,
    crs_grade,
    ctcae,
    icaht,
    icans,
    icans_grade,
    t_icaht,
)
from immunoreset.instruments.sle import (
    DESCRIPTORS,
    SLEDAI2K_SOURCE,
    DORISOptions,
    LLDASOptions,
    SLEDAI2KOptions,
    SLEDAI2KResult,
    SRI4Options,
    doris_remission,
    lldas,
    sle_classification_2019,
    sledai2k,
    sri4,
)
from immunoreset.instruments.ssc import (
    CRISS25Options,
    CRISSOptions,
    MRSSOptions,
    criss,
    criss25,
    eustar_ai,
    mrss,
    ssc_classification_2013,
)
from immunoreset.registry.records import MedicationRecord, PatientRecord, StudyRecord, VisitRecord, natural_key
from immunoreset.registry.vocabulary import (
    ASSESSMENTS,
    CLASSIFICATION_CRITERIA,
    MMT8_GROUPS,
    MRSS_AREAS,
    SLEDAI_DESCRIPTORS,
    ObservationCode,
    ScoredAssessment,
    assessment,
    assessment_items,
)
from immunoreset.registry.vocabulary import code as vocabulary_code
from immunoreset.units import canonical_unit, convert

__all__ = [
    "COLUMNS",
    "COURSE_VISIT",
    "OUTCOME_INSTRUMENTS",
    "OutcomeOptions",
    "compute_outcomes",
    "write_outcomes",
]

COLUMNS: tuple[str, ...] = (
    "study",
    "site",
    "patient",
    "disease",
    "visit",
    "study_day",
    "instrument",
    "result",
    "value",
    "value_num",
    "evaluable",
    "reason",
    "source",
)
COURSE_VISIT = "(course)"
"""The ``visit`` of patient-level results (CRS/ICANS courses, ICAHT)."""

OUTCOME_INSTRUMENTS: tuple[str, ...] = (
    "sledai2k",
    "doris",
    "lldas",
    "sri4",
    "mrss",
    "eustar_ai",
    "criss",
    "mmt8",
    "myositis_tis",
    "imacs_doi",
    "ctcae",
    "prednisolone_equivalent",
    "drug_free",
    "crs",
    "icans",
    "icaht",
    "sle_classification_2019",
    "ssc_classification_2013",
    "iim_classification_2017",
    "drug_free_doris_month6",
    "ln_renal_response",
    "bicla",
    "criss25",
    "hypogammaglobulinaemia",
    "t_icaht",
    *(a.instrument for a in ASSESSMENTS),
)
"""Instruments computed by :func:`compute_outcomes`, in output order within a visit."""

CLASSIFICATION: dict[str, tuple[str, Callable[..., Any], dict[str, str]]] = {
    "sle2019": ("sle_classification_2019", sle_classification_2019, {"sle2019_ana_titre": "ana_titre"}),
    "ssc2013": ("ssc_classification_2013", ssc_classification_2013, {}),
    "iim2017": ("iim_classification_2017", iim_classification_2017, {"iim2017_age_at_onset": "age_at_onset_years"}),
}
"""Classification criteria recorded as items (vocabulary prefix -> instrument, function, numeric items)."""

SLEDAI_CODES = tuple(f"sledai_{d}" for d in SLEDAI_DESCRIPTORS)
SLE_ASSESSMENT_CODES = (*SLEDAI_CODES, "sle_pga")
SLEDAI_LAB_CODES = (
    "c3",
    "c4",
    "anti_dsdna",
    "urine_rbc",
    "urine_wbc",
    "urine_casts",
    "proteinuria",
    "upcr",
    "temperature",
    "platelets",
    "wbc",
)
"""Raw measurements behind SLEDAI-2K descriptors: present without descriptors -> 'not recorded' row."""
MRSS_CODES = tuple(f"mrss_{a}" for a in MRSS_AREAS)
SSC_ASSESSMENT_CODES = (
    *MRSS_CODES,
    "skin_worsening",
    "digital_ulcers",
    "tendon_friction_rubs",
    "ssc_patient_global",
    "ssc_physician_global",
    "ssc_haq_di",
)
MMT8_CODES = tuple(f"mmt8_{g}" for g in MMT8_GROUPS)
IIM_ASSESSMENT_CODES = (
    *MMT8_CODES,
    "myo_physician_global",
    "myo_patient_global",
    "myo_extramuscular_global",
    "myo_haq_di",
)
ENZYME_CODES = ("ck", "aldolase", "ldh", "alt", "ast")
CBC_CODES = {
    "anc": ("neutrophils", "neutrophil_count_decreased", "/uL"),
    "platelets": ("platelets", "platelet_count_decreased", "/uL"),
    "hemoglobin": ("hemoglobin", "anemia", "g/dL"),
    "lymphocytes": ("lymphocytes", "lymphocyte_count_decreased", "/uL"),
    "wbc": ("wbc", "white_blood_cell_decreased", "/uL"),
}
CRS_CODES = ("crs_temperature", "crs_hypotension", "crs_oxygen", "crs_treated", "crs_grade_reported")
ICANS_CODES = (
    "ice_score",
    "icans_consciousness",
    "icans_seizure",
    "icans_motor",
    "icans_intracranial_pressure",
    "icans_grade_reported",
)

_IS_CLASSES = frozenset({"conventional_immunosuppressant", "targeted_synthetic"})
_DORIS_CLASSES = frozenset({"antimalarial", "conventional_immunosuppressant", "targeted_synthetic", "biologic"})
_MASS_UNITS = ("mg", "g", "ug")


# ---------------------------------------------------------------------------------------------
# Options
# ---------------------------------------------------------------------------------------------


class OutcomeOptions(BaseModel):
    """Options of :func:`compute_outcomes`; every default is the published definition (or "not evaluable"
    where the registry does not record what a definition needs)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    instruments: tuple[str, ...] | None = Field(
        default=None, description="Instruments to compute (names of OUTCOME_INSTRUMENTS); none = every applicable one."
    )
    sledai: SLEDAI2KOptions = Field(default_factory=SLEDAI2KOptions, description="SLEDAI-2K options.")
    doris: DORISOptions = Field(
        default_factory=DORISOptions,
        description="DORIS 2021 options (glucocorticoid_operator le = <= 5 mg/day, pga_operator lt = < 0.5).",
    )
    stable_dose_days: int | None = Field(
        default=None,
        ge=1,
        description="DORIS 'stable doses': none (default) = a clinician judgement the registry does not record, "
        "so DORIS is not evaluable while an antimalarial, immunosuppressant or biologic is taken; N = such a "
        "drug counts as stable when its records cover the N days up to the visit without a gap at one dose, "
        "unit and frequency (an operational rule of this toolkit, not part of DORIS).",
    )
    lldas_non_sledai_items: Literal["not_recorded", "assume_absent"] = Field(
        default="not_recorded",
        description="LLDAS needs haemolytic anaemia and gastrointestinal activity (codes sle_hemolytic_anemia, "
        "sle_gi_activity). When a visit does not record them: 'not_recorded' (default; LLDAS is not evaluable "
        "unless another criterion fails) or 'assume_absent'.",
    )
    lldas: LLDASOptions = Field(default_factory=LLDASOptions, description="LLDAS options.")
    sri: SRI4Options = Field(default_factory=SRI4Options, description="SRI options (reduction 4 = SRI-4).")
    mrss_missing_areas: Literal["not_evaluable", "partial_sum"] = Field(
        default="not_evaluable",
        description="An mRSS area not recorded: 'not_evaluable' (default) or 'partial_sum' (flagged partial).",
    )
    criss: CRISSOptions = Field(default_factory=CRISSOptions, description="CRISS options.")
    criss_step1_events: Literal["not_recorded", "assume_absent"] = Field(
        default="not_recorded",
        description="CRISS step 1 events (codes ssc_new_renal_crisis, ssc_ild_progression, ssc_new_lv_failure, "
        "ssc_new_pah at the follow-up visit). When a visit does not record them: 'not_recorded' (default; "
        "'improved' is decided only when step 2 already fails) or 'assume_absent' (stated in the row's source).",
    )
    tis: TISOptions = Field(default_factory=TISOptions, description="2016 ACR/EULAR TIS options (adult).")
    imacs_doi: IMACSDOIOptions = Field(default_factory=IMACSDOIOptions, description="IMACS DOI options.")
    icaht: ICAHTOptions = Field(default_factory=ICAHTOptions, description="ICAHT options.")
    ctcae: CTCAEOptions = Field(default_factory=CTCAEOptions, description="CTCAE options.")
    equivalence_table: EquivalenceTable = Field(
        default="bnf", description="Glucocorticoid equivalence table for prednisolone-equivalent doses."
    )
    count_all_purposes: bool = Field(
        default=False,
        description="Count drugs given for another purpose than the disease (CAR-T toxicity, prophylaxis, ...) in "
        "prednisolone-equivalent doses and the DORIS/LLDAS drug criteria (default: disease-directed only).",
    )
    drug_free: DrugFreeOptions = Field(default_factory=DrugFreeOptions, description="Drug-free status options.")
    drug_free_doris_month6: DrugFreeDORISOptions = Field(
        default_factory=DrugFreeDORISOptions,
        description="Drug-free DORIS remission at month 6 (window, antimalarials); its DORIS and drug-free options "
        "are those of this table (doris, drug_free).",
    )
    ln_renal_response: LNRenalResponseOptions = Field(
        default_factory=LNRenalResponseOptions, description="Lupus nephritis renal response (definition: KDIGO 2024)."
    )
    criss25: CRISS25Options = Field(default_factory=CRISS25Options, description="Revised CRISS (CRISS-25) options.")
    hypogammaglobulinaemia: HypogammaglobulinaemiaOptions = Field(
        default_factory=HypogammaglobulinaemiaOptions, description="Hypogammaglobulinaemia thresholds (guideline)."
    )
    t_icaht: TICAHTOptions = Field(default_factory=TICAHTOptions, description="T-ICAHT options.")
    bicla_treatment_failure: Literal["not_recorded", "assume_absent"] = Field(
        default="not_recorded",
        description="BICLA's treatment failure (prohibited medication, withdrawal) is not a registry item: "
        "'not_recorded' (default; a BICLA response is then not evaluable, a non-response is decided) or "
        "'assume_absent' (stated in the row's source).",
    )
    igg_replacement_days: int = Field(
        default=90,
        ge=0,
        le=365,
        description="IgG measured within this many days after an immunoglobulin (IVIG/SCIG) record is taken as "
        "including infused IgG (about 3-4 IgG half-lives; an operational rule of this toolkit).",
    )

    @field_validator("instruments")
    @classmethod
    def _known(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is not None:
            unknown = [name for name in value if name not in OUTCOME_INSTRUMENTS]
            if unknown:
                raise ValueError(f"instruments among {', '.join(OUTCOME_INSTRUMENTS)} (unknown: {', '.join(unknown)})")
        return value


# ---------------------------------------------------------------------------------------------
# Rows
# ---------------------------------------------------------------------------------------------


def _text(value: Any) -> tuple[str | None, float]:
    if value is None:
        return None, math.nan
    if isinstance(value, bool):
        return ("true" if value else "false"), 1.0 if value else 0.0
    if isinstance(value, int):
        return str(value), float(value)
    if isinstance(value, Decimal):
        if value == value.to_integral_value():
            return str(int(value)), float(value)
        return format(value.normalize(), "f"), float(value)
    return str(value), math.nan


@dataclass
class _Emitter:
    study: str
    patient: PatientRecord
    wanted: frozenset[str]
    rows: list[dict[str, Any]] = field(default_factory=list)

    def want(self, instrument: str) -> bool:
        return instrument in self.wanted

    def row(
        self,
        visit: str,
        day: int | None,
        instrument: str,
        result: str,
        value: Any,
        reason: str | None,
        source: str,
    ) -> None:
        text, number = _text(value)
        self.rows.append(
            {
                "study": self.study,
                "site": self.patient.site,
                "patient": self.patient.code,
                "disease": self.patient.disease,
                "visit": visit,
                "study_day": day,
                "instrument": instrument,
                "result": result,
                "value": text,
                "value_num": number,
                "evaluable": text is not None,
                "reason": None if text is not None else (reason or "not evaluable"),
                "source": source,
            }
        )

    def results(
        self,
        visit: _Visit | None,
        instrument: str,
        values: Sequence[tuple[str, Any]],
        reason: str | None,
        source: str,
    ) -> None:
        label, day = (COURSE_VISIT, None) if visit is None else (visit.label, visit.day)
        for result, value in values:
            self.row(label, day, instrument, result, value, reason, source)


def _source(result: InstrumentResult, note: str = "") -> str:
    return f"{result.variant}{note} | {result.source}"


# ---------------------------------------------------------------------------------------------
# Reading observations
# ---------------------------------------------------------------------------------------------


class _Visit:
    """One visit's observations, read in the unit an instrument asks for."""

    def __init__(self, record: VisitRecord) -> None:
        self.record = record
        self.label = record.label
        assert record.study_day is not None  # PatientRecord.check_days guarantees it
        self.day: int = record.study_day
        self.kind = record.kind
        self.obs = {o.code: o for o in record.observations}

    def has(self, code: str) -> bool:
        return code in self.obs

    def has_any(self, codes: Iterable[str]) -> bool:
        return not self.obs.keys().isdisjoint(codes)

    def num(self, code: str, unit: str | None = None) -> Decimal | None:
        """The value of ``code`` in ``unit`` (default: the vocabulary's canonical unit), exactly."""
        obs = self.obs.get(code)
        if obs is None or obs.value is None:
            return None
        target = unit or vocabulary_code(code).unit
        return convert(obs.value, obs.unit, target, field=f"visit {self.label} {code}")

    def flag(self, code: str) -> bool | None:
        obs = self.obs.get(code)
        if obs is None or obs.value is None:
            return None
        return bool(obs.value == 1)

    def text(self, code: str) -> str | None:
        obs = self.obs.get(code)
        return None if obs is None else obs.value_text

    def missing(self, codes: Iterable[str]) -> list[str]:
        return [c for c in codes if c not in self.obs]


def _not_recorded(codes: Sequence[str], where: str = "") -> str:
    return f"not recorded{where}: {', '.join(codes)}"


# ---------------------------------------------------------------------------------------------
# Medications
# ---------------------------------------------------------------------------------------------


@dataclass
class _Med:
    record: MedicationRecord
    drug_class: str | None
    canonical: str
    purpose: str
    entry: MedicationEntry | None
    notes: list[str]

    @property
    def label(self) -> str:
        return f"{self.record.drug} ({self.record.key})"

    def active(self, day: int) -> bool:
        start, stop = self.record.start_day, self.record.stop_day
        return (start is None or start <= day) and (stop is None or day <= stop)

    def started_by(self, day: int) -> bool:
        return self.record.start_day is None or self.record.start_day <= day


_PURPOSE_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("disease", ("autoimmun", "disease", "lupus", "sle", "myositis", "scleros", "ssc", "iim", "underlying")),
    ("lymphodepletion", ("lymphodepl", "conditioning")),
    ("other", ("car-t cell therapy", "car-t infusion", "re-infusion")),
    ("car_t_toxicity", ("car-t", "car t", "cart", "crs", "icans", "cytokine", "toxicity", "neurotox")),
    ("replacement", ("replacement", "hypogamma", "substitution")),
    ("prophylaxis", ("prophyla", "supportive", "prevention")),
)


def _purpose(indication: str | None) -> str:
    """MedicationRecord.indication (free text) -> the drug_free ``purpose``.

    Empty or unrecognised text counts as ``disease`` (it then counts towards glucocorticoid doses and
    drug-free status: the conservative reading). A text naming the disease wins over any other purpose
    (e.g. IVIG ticked both 'autoimmune disease' and 'prophylaxis')."""
    if not indication or not indication.strip():
        return "disease"
    text = indication.lower()
    for purpose, words in _PURPOSE_WORDS:
        if any(re.search(rf"(?<![a-z]){re.escape(w)}", text) for w in words):
            return purpose
    return "disease"


def _medication(record: MedicationRecord) -> _Med:
    found = default_drug_table().lookup(record.drug)
    purpose = _purpose(record.indication)
    notes: list[str] = []
    if found is None:
        return _Med(record, None, record.drug, purpose, None, [f"{record.drug} is not in the drug-class table"])
    data: dict[str, Any] = {
        "drug": found.name,
        "drug_class": found.drug_class,
        "start_day": record.start_day,
        "stop_day": record.stop_day,
        "purpose": purpose,
    }
    if record.dose is not None:
        unit = None
        try:
            unit = canonical_unit(record.unit or "", field="unit")
        except InvalidInput:
            unit = None
        if unit in _MASS_UNITS and record.dose > 0:
            data["dose"] = {"value": record.dose, "unit": unit}
        else:
            notes.append(f"dose {record.dose} {record.unit or '(no unit)'} is not a mass per administration")
    for name in ("route", "frequency"):
        raw = getattr(record, name)
        if raw is None:
            continue
        try:
            parse(MedicationEntry, {"drug": found.name, name: raw})
        except InvalidInput:
            notes.append(f"{name} {raw!r} not recognised")
            continue
        data[name] = raw
    return _Med(record, found.drug_class, found.name, purpose, parse(MedicationEntry, data), notes)


@dataclass
class _Medications:
    meds: list[_Med]
    options: OutcomeOptions
    history_start: int | None

    def counted(self, m: _Med) -> bool:
        return m.purpose == "disease" or self.options.count_all_purposes

    def unknown_active(self, day: int) -> list[str]:
        return [m.label for m in self.meds if m.drug_class is None and m.active(day) and self.counted(m)]

    def prednisolone(self, day: int) -> tuple[Decimal | None, str | None]:
        unknown = self.unknown_active(day)
        if unknown:
            return None, f"drug class unknown for {', '.join(unknown)} (not in the drug-class table)"
        entries = [m.entry for m in self.meds if m.entry is not None]
        try:
            dose = prednisolone_equivalent_on_day(
                entries, day, table=self.options.equivalence_table, count_all_purposes=self.options.count_all_purposes
            )
        except InvalidInput as err:
            return None, f"glucocorticoid record not convertible: {err}"
        if dose is not None:
            return dose, None
        gaps = [
            f"{m.label}: " + ("; ".join(m.notes) or "dose, route or frequency not recorded")
            for m in self.meds
            if m.drug_class == "glucocorticoid" and m.active(day) and self.counted(m)
        ]
        return None, "glucocorticoid dose unknown: " + " | ".join(gaps)

    def doris_drugs(self, day: int) -> tuple[dict[str, bool | None], list[str]]:
        """DORIS drug flags on ``day`` and the drugs whose doses must be stable (immunosuppressants, biologics)."""
        active = [m for m in self.meds if m.active(day) and self.counted(m) and m.drug_class in _DORIS_CLASSES]
        flags: dict[str, bool | None] = {
            "antimalarial": any(m.drug_class == "antimalarial" for m in active),
            "immunosuppressant": any(m.drug_class in _IS_CLASSES for m in active),
            "biologic": any(m.drug_class == "biologic" for m in active),
        }
        if self.unknown_active(day):
            flags = {k: (True if v else None) for k, v in flags.items()}
        # DORIS 2021 asks stable doses of immunosuppressives including biologics, not of antimalarials
        return flags, sorted({m.canonical for m in active if m.drug_class != "antimalarial"})

    def stable(self, day: int, drugs: list[str]) -> bool | None:
        days = self.options.stable_dose_days
        if days is None:
            return None
        window = (day - days, day)
        for name in drugs:
            spans = sorted(
                (
                    m
                    for m in self.meds
                    if m.canonical == name
                    and self.counted(m)
                    and (m.record.start_day is None or m.record.start_day <= window[1])
                    and (m.record.stop_day is None or m.record.stop_day >= window[0])
                ),
                key=lambda m: -(10**9) if m.record.start_day is None else m.record.start_day,
            )
            regimens = {(m.record.dose, m.record.unit, m.record.frequency) for m in spans}
            if len(regimens) != 1:
                return False
            covered = window[0] - 1
            for m in spans:
                start = -(10**9) if m.record.start_day is None else m.record.start_day
                if start > covered + 1:
                    return False
                covered = max(covered, window[1] if m.record.stop_day is None else m.record.stop_day)
            if covered < window[1]:
                return False
        return True


# ---------------------------------------------------------------------------------------------
# SLE
# ---------------------------------------------------------------------------------------------


def _sledai_input(v: _Visit) -> dict[str, Any]:
    return {d: v.flag(f"sledai_{d}") for d in SLEDAI_DESCRIPTORS if v.has(f"sledai_{d}")}


def _drug_free_doris_month6(e: _Emitter, assessed: list[_Visit], meds: _Medications, o: OutcomeOptions) -> None:
    """Drug-free DORIS remission at month 6 at the assessed visit nearest the target day within the window
    (ties: the earlier visit); no such visit gives one not-evaluable row for the course."""
    name = "drug_free_doris_month6"
    options = o.drug_free_doris_month6.model_copy(update={"doris": o.doris, "drug_free": o.drug_free})
    target = options.infusion_day + options.month6_day
    in_window = [v for v in assessed if abs(v.day - target) <= options.window_days]
    if not in_window:
        reason = f"no SLE assessment between day {target - options.window_days} and {target + options.window_days}"
        e.results(
            None, name, [("met", None)], reason, f"drug-free DORIS remission at month 6 | {DRUG_FREE_DORIS_SOURCE}"
        )
        return
    v = min(in_window, key=lambda x: (abs(x.day - target), x.day))
    unknown = [m.label for m in meds.meds if m.drug_class is None and m.started_by(v.day) and meds.counted(m)]
    flags, drugs = meds.doris_drugs(v.day)
    dose, _dose_reason = meds.prednisolone(v.day)  # the dose the doris row uses (same table and purposes)
    inputs: dict[str, Any] = {
        "sledai2k": _sledai_input(v) if v.has_any(SLEDAI_CODES) else None,
        "pga": v.num("sle_pga"),
        "prednisolone_mg_per_day": dose,
        **flags,
        "stable_doses": meds.stable(v.day, drugs) if drugs else None,
        "medications": [m.entry for m in meds.meds if m.entry is not None],
        "visit_day": v.day,
        "history_start_day": meds.history_start,
    }
    try:
        result = drug_free_doris_month6({k: x for k, x in inputs.items() if x is not None}, options=options)
    except InvalidInput as err:
        e.results(v, name, [("met", None)], f"inconsistent inputs: {err}", DRUG_FREE_DORIS_SOURCE)
        return
    reasons = [result.reason] if result.reason else []
    if unknown:
        reasons.append(f"drug class unknown for {', '.join(unknown)} (not in the drug-class table)")
    met = None if (unknown and result.met) else result.met
    e.results(v, name, [("met", met)], "; ".join(reasons), _source(result))


def _ln_renal_response(e: _Emitter, visits: list[_Visit], o: OutcomeOptions) -> None:
    """Renal response at each visit after day 0 against the last scheduled visit on or before day 0 that
    records UPCR or 24-h proteinuria; only for patients whose baseline proteinuria is in the nephritis range
    (UPCR or 24-h protein >= 0.5), so that a patient without renal involvement is not called a responder."""
    name = "ln_renal_response"
    renal = [v for v in visits if v.kind == "scheduled" and v.has_any(("upcr", "proteinuria"))]
    baseline = next((v for v in reversed(renal) if v.day <= 0), None)
    if baseline is None:
        return
    before_upcr, before_24h = baseline.num("upcr", "g/g"), baseline.num("proteinuria", "g/(24.h)")
    if not any(x is not None and x >= Decimal("0.5") for x in (before_upcr, before_24h)):
        return
    for v in renal:
        if v.day <= 0:
            continue
        inputs: dict[str, Any] = {
            "egfr_baseline": baseline.num("egfr"),
            "egfr": v.num("egfr"),
            "months_since_start": (Decimal(v.day) / Decimal("30.4375")).quantize(Decimal("0.01")),
        }
        for field_, value in (("upcr_baseline", before_upcr), ("upcr", v.num("upcr", "g/g"))):
            if value is not None:
                inputs[field_] = {"value": value, "unit": "g/g"}
        for field_, value in (
            ("proteinuria_24h_baseline", before_24h),
            ("proteinuria_24h", v.num("proteinuria", "g/(24.h)")),
        ):
            if value is not None:
                inputs[field_] = {"value": value, "unit": "g/(24.h)"}
        try:
            result = ln_renal_response(inputs, options=o.ln_renal_response)
        except InvalidInput as err:  # e.g. a ratio beyond the instrument's unit-mistake guard
            e.results(v, name, [("response", None)], f"not scored: {err}", "lupus nephritis renal response")
            continue
        note = f"; baseline visit {baseline.label}; months = study day / 30.4375"
        e.results(v, name, [("response", result.response)], result.reason, _source(result, note))


def _sle(e: _Emitter, visits: list[_Visit], meds: _Medications, o: OutcomeOptions) -> None:
    visits = [v for v in visits if v.kind != "daily"]
    assessed = [v for v in visits if v.has_any(SLE_ASSESSMENT_CODES)]
    scores: dict[str, SLEDAI2KResult] = {}
    for v in visits:
        if not v.has_any(SLEDAI_CODES):
            if e.want("sledai2k") and (v in assessed or v.has_any(SLEDAI_LAB_CODES)):
                reason = (
                    "SLEDAI-2K descriptors not recorded (sledai_* codes); laboratory values are not turned into "
                    "descriptors because attribution to SLE is the investigator's"
                )
                rows = [("total", None), ("clinical_sledai", None), ("activity_category", None)]
                e.results(v, "sledai2k", rows, reason, f"SLEDAI-2K | {SLEDAI2K_SOURCE}")
            continue
        score = sledai2k(_sledai_input(v), options=o.sledai)
        scores[v.label] = score
        if e.want("sledai2k"):
            missing = [f"sledai_{n}" for n in score.not_recorded]
            serological = {"sledai_low_complement", "sledai_increased_dna_binding"}
            reason = _not_recorded(missing)
            clinical_reason = _not_recorded([m for m in missing if m not in serological])
            e.results(v, "sledai2k", [("total", score.total)], reason, _source(score))
            e.results(v, "sledai2k", [("clinical_sledai", score.clinical_sledai)], clinical_reason, _source(score))
            e.results(v, "sledai2k", [("activity_category", score.activity_category)], reason, _source(score))

    if e.want("drug_free_doris_month6"):
        _drug_free_doris_month6(e, assessed, meds, o)
    if e.want("ln_renal_response"):
        _ln_renal_response(e, visits, o)
    baseline = next((v for v in reversed(assessed) if v.kind == "scheduled" and v.day <= 0), None)
    previous: _Visit | None = None
    for v in assessed:
        dose, dose_reason = meds.prednisolone(v.day)
        flags, drugs = meds.doris_drugs(v.day)
        pga = v.num("sle_pga")
        descriptors = _sledai_input(v) if v.has_any(SLEDAI_CODES) else None
        missing_clinical = [
            f"sledai_{d.name}" for d in DESCRIPTORS if not d.serological and not v.has(f"sledai_{d.name}")
        ]
        if e.want("doris"):
            stable = meds.stable(v.day, drugs) if drugs else None
            result = doris_remission(
                {
                    "sledai2k": descriptors,
                    "pga": pga,
                    "prednisolone_mg_per_day": dose,
                    **flags,
                    "stable_doses": stable,
                },
                options=o.doris,
            )
            reasons: list[str] = []
            criteria = result.criteria
            if criteria["clinical_sledai_zero"] is None:
                reasons.append(_not_recorded(missing_clinical))
            if pga is None:
                reasons.append(_not_recorded(["sle_pga"]))
            if dose is None:
                reasons.append(f"prednisolone-equivalent: {dose_reason}")
            if criteria["other_drugs_stable"] is None:
                unknown = meds.unknown_active(v.day)
                if unknown:
                    reasons.append(f"drug class unknown for {', '.join(unknown)} (not in the drug-class table)")
                else:
                    reasons.append(
                        f"stable doses of {', '.join(drugs)}: a clinician judgement the registry does not record "
                        "(option stable_dose_days)"
                    )
            e.results(
                v,
                "doris",
                [("remission", result.remission), ("remission_off_therapy", result.remission_off_therapy)],
                "; ".join(reasons),
                _source(result),
            )
            if result.remission is False:
                failed = ", ".join(k for k, x in result.criteria.items() if x is False)
                e.results(v, "doris", [("criteria_failed", failed)], None, _source(result))
        if e.want("lldas"):
            on_is = bool(flags["immunosuppressant"] or flags["biologic"])
            unknown_drug = flags["immunosuppressant"] is None or flags["biologic"] is None
            maintenance = None if (on_is or unknown_drug) else True
            assume = o.lldas_non_sledai_items == "assume_absent"
            result_l = lldas(
                {
                    "sledai2k": descriptors,
                    "previous_sledai2k": _sledai_input(previous) if previous is not None else None,
                    "pga": pga,
                    "prednisolone_mg_per_day": dose,
                    "hemolytic_anemia": _lldas_item(v, "sle_hemolytic_anemia", assume),
                    "gastrointestinal_activity": _lldas_item(v, "sle_gi_activity", assume),
                    "maintenance_therapy_acceptable": maintenance,
                },
                options=o.lldas,
            )
            reason = (result_l.reason or "").replace("pga not recorded", "sle_pga not recorded")
            reason = reason.replace("sledai2k not recorded", "SLEDAI-2K descriptors not recorded (sledai_* codes)")
            reason = reason.replace(
                "prednisolone_mg_per_day not recorded", f"prednisolone-equivalent unknown ({dose_reason})"
            )
            for item in ("hemolytic_anemia", "gastrointestinal_activity"):
                reason = reason.replace(
                    f"{item} not recorded",
                    f"{item} not recorded (codes sle_hemolytic_anemia, sle_gi_activity; option lldas_non_sledai_items)",
                )
            if maintenance is None:
                taken = [d for d in drugs if d] or ["a drug of unknown class"]
                reason = reason.replace(
                    "maintenance_therapy_acceptable not recorded",
                    f"maintenance_therapy_acceptable not recorded (clinician judgement; taken: {', '.join(taken)})",
                )
            if previous is None:
                reason = reason.replace("no previous assessment", "no previous SLEDAI-2K assessment")
            note = "; haemolytic anaemia and GI activity assumed absent" if assume else ""
            e.results(v, "lldas", [("lldas", result_l.lldas)], reason, _source(result_l, note))
            if result_l.lldas is False:
                failed = ", ".join(k for k, x in result_l.criteria.items() if x is False)
                e.results(v, "lldas", [("criteria_failed", failed)], None, _source(result_l, note))
        if e.want("sri4") and v.day > 0:
            _sri(e, v, baseline, scores, o)
        if e.want("bicla") and v.day > 0:
            _bicla(e, v, baseline, scores, o)
        previous = v if v.has_any(SLEDAI_CODES) else previous


def _lldas_item(v: _Visit, code: str, assume_absent: bool) -> bool | None:
    """A recorded LLDAS yes/no item; when not recorded: absent under 'assume_absent', else unknown."""
    value = v.flag(code)
    if value is not None:
        return value
    return False if assume_absent else None


def _sri(
    e: _Emitter, v: _Visit, baseline: _Visit | None, scores: Mapping[str, SLEDAI2KResult], o: OutcomeOptions
) -> None:
    now = scores.get(v.label)
    before = scores.get(baseline.label) if baseline is not None else None
    bilag_problem = ""
    try:
        new_a, new_b = _new_bilag(_bilag_grades(baseline), _bilag_grades(v))
    except _InconsistentBILAG as err:
        new_a = new_b = None
        bilag_problem = str(err)
    result = sri4(
        {
            "baseline_sledai": before.total if before else None,
            "sledai": now.total if now else None,
            "baseline_pga": baseline.num("sle_pga") if baseline else None,
            "pga": v.num("sle_pga"),
            "new_bilag_a": new_a,
            "new_bilag_b": new_b,
        },
        options=o.sri,
    )
    reasons: list[str] = []
    if baseline is None:
        reasons.append("no baseline: no scheduled SLE assessment on or before day 0")
    else:
        if before is None or before.total is None:
            reasons.append(f"SLEDAI-2K not evaluable at baseline visit {baseline.label}")
        if not baseline.has("sle_pga"):
            reasons.append(_not_recorded(["sle_pga"], f" at baseline visit {baseline.label}"))
    if now is None or now.total is None:
        reasons.append("SLEDAI-2K not evaluable at this visit")
    if not v.has("sle_pga"):
        reasons.append(_not_recorded(["sle_pga"]))
    if bilag_problem:
        reasons.append(bilag_problem)
    elif new_a is None or new_b is None:
        reasons.append(
            "new BILAG-2004 A/B systems: BILAG-2004 grades not known at this visit and at baseline (bilag_*)"
        )
    base = f"; baseline visit {baseline.label}" if baseline else ""
    e.results(v, "sri4", [("responder", result.responder)], "; ".join(reasons), _source(result, base))


def _bicla(
    e: _Emitter, v: _Visit, baseline: _Visit | None, scores: Mapping[str, SLEDAI2KResult], o: OutcomeOptions
) -> None:
    """BICLA at a follow-up visit that records BILAG-2004, against the baseline SLE assessment. Treatment
    failure is not an item of the registry: it stays unknown, so only a non-response can be decided."""
    try:
        now_grades = _bilag_grades(v)
        if now_grades is None:
            return
        before_grades = _bilag_grades(baseline)
    except _InconsistentBILAG as err:
        e.results(v, "bicla", [("responder", None)], str(err), "BICLA")
        return
    now, before = scores.get(v.label), (scores.get(baseline.label) if baseline is not None else None)
    inputs: dict[str, Any] = {
        "baseline_sledai2k": before.total if before else None,
        "followup_sledai2k": now.total if now else None,
        "baseline_pga": baseline.num("sle_pga") if baseline is not None else None,
        "followup_pga": v.num("sle_pga"),
    }
    assume = o.bicla_treatment_failure == "assume_absent"
    if assume:
        inputs["treatment_failure"] = False
    # "DE" (D or E: no current activity) is passed as D: BICLA treats D and E alike except that E follows
    # only E, which "DE" at both visits cannot contradict
    for system, grade in now_grades.items():
        if grade is not None:
            inputs[f"followup_{system}"] = "D" if grade == "DE" else grade
        old = (before_grades or {}).get(system)
        if old is not None:
            inputs[f"baseline_{system}"] = "D" if old == "DE" else old
    reasons = (
        []
        if before_grades is not None
        else [f"BILAG-2004 not recorded at the baseline visit ({baseline.label if baseline else 'none'})"]
    )
    try:
        result = bicla(inputs)
    except InvalidInput as err:
        e.results(v, "bicla", [("responder", None)], f"inconsistent inputs: {err}", "BICLA")
        return
    if result.reason:
        reasons.append(result.reason)
    base = f"; baseline visit {baseline.label}" if baseline else ""
    if assume:
        base += "; treatment failure not recorded, assumed absent"
    else:
        reasons.append("treatment failure is not recorded by the registry (option bicla_treatment_failure)")
    e.results(v, "bicla", [("responder", result.responder)], "; ".join(reasons), _source(result, base))


# ---------------------------------------------------------------------------------------------
# SSc
# ---------------------------------------------------------------------------------------------


def _mrss_total(v: _Visit, o: OutcomeOptions) -> tuple[int | None, str, str]:
    areas = {a: int(g) for a in MRSS_AREAS if (g := v.num(f"mrss_{a}")) is not None}
    result = mrss(areas, options=MRSSOptions(missing_areas=o.mrss_missing_areas))
    missing = [f"mrss_{a}" for a in result.missing_areas]
    return result.total, _not_recorded(missing) if missing else "", _source(result)


def _ssc(e: _Emitter, visits: list[_Visit], o: OutcomeOptions) -> None:
    assessed = [v for v in visits if v.kind != "daily" and v.has_any(SSC_ASSESSMENT_CODES)]
    for v in assessed:
        total, reason, source = _mrss_total(v, o)
        if e.want("mrss") and v.has_any(MRSS_CODES):
            e.results(v, "mrss", [("total", total)], reason, source)
        if e.want("eustar_ai"):
            crp = v.num("crp", "mg/dL")
            inputs: dict[str, Any] = {
                "delta_skin": v.flag("skin_worsening"),
                "digital_ulcers": v.flag("digital_ulcers"),
                "tendon_friction_rubs": v.flag("tendon_friction_rubs"),
                "mrss": total if total is not None and o.mrss_missing_areas == "not_evaluable" else None,
                "crp": None if crp is None else {"value": crp, "unit": "mg/dL"},
                "dlco_percent_predicted": v.num("dlco_pct", "%"),
            }
            result = eustar_ai(inputs)
            codes = {
                "delta_skin": "skin_worsening",
                "digital_ulcers": "digital_ulcers",
                "tendon_friction_rubs": "tendon_friction_rubs",
                "mrss_over_18": "mrss_* (all 17 areas)",
                "crp_over_1_mg_dl": "crp",
                "dlco_under_70": "dlco_pct",
            }
            missing = [codes[name] for name, value in result.items.items() if value is None]
            e.results(
                v,
                "eustar_ai",
                [("total", result.total), ("active", result.active)],
                _not_recorded(missing),
                _source(result),
            )
    baseline = next((v for v in reversed(assessed) if v.kind == "scheduled" and v.day <= 0), None)
    for v in assessed:
        if v.day <= 0:
            continue
        if e.want("criss"):
            _criss(e, v, baseline, o)
        if e.want("criss25"):
            _criss25(e, v, baseline, o)


def _criss_measures(v: _Visit, o: OutcomeOptions) -> dict[str, Any]:
    total, _, _ = _mrss_total(v, o)
    return {
        "mrss": total if o.mrss_missing_areas == "not_evaluable" else None,
        "fvc_percent_predicted": v.num("fvc_pct", "%"),
        "patient_global": v.num("ssc_patient_global"),
        "physician_global": v.num("ssc_physician_global"),
        "haq_di": v.num("ssc_haq_di"),
    }


_CRISS_CODES = {
    "mrss": "mrss_* (all 17 areas)",
    "fvc_percent_predicted": "fvc_pct",
    "patient_global": "ssc_patient_global",
    "physician_global": "ssc_physician_global",
    "haq_di": "ssc_haq_di",
}


@dataclass
class _CRISSData:
    """What the provisional and the revised CRISS read at a follow-up visit and its baseline."""

    before: dict[str, Any]
    after: dict[str, Any]
    events: dict[str, bool | None]
    missing: list[str]
    unrecorded: list[str]
    assume: bool


def _criss_data(v: _Visit, baseline: _Visit, o: OutcomeOptions) -> _CRISSData:
    before, after = _criss_measures(baseline, o), _criss_measures(v, o)
    assume = o.criss_step1_events == "assume_absent"
    step1 = ("new_renal_crisis", "ild_progression", "new_lv_failure", "new_pah")
    recorded = {n: v.flag(f"ssc_{n}") for n in step1}  # yes/no at the follow-up visit: since baseline
    events = {n: (x if x is not None else (False if assume else None)) for n, x in recorded.items()}
    missing = [f"{_CRISS_CODES[k]} at baseline {baseline.label}" for k, x in before.items() if x is None]
    missing += [_CRISS_CODES[k] for k, x in after.items() if x is None]
    unrecorded = [f"ssc_{n}" for n, x in recorded.items() if x is None]
    return _CRISSData(before, after, events, missing, unrecorded, assume)


def _criss_reasons(d: _CRISSData) -> list[str]:
    reasons = [_not_recorded(d.missing)] if d.missing else []
    if d.unrecorded and not d.assume:
        reasons.append(f"step-1 organ events not recorded: {', '.join(d.unrecorded)} (option criss_step1_events)")
    return reasons


def _criss(e: _Emitter, v: _Visit, baseline: _Visit | None, o: OutcomeOptions) -> None:
    names = ("improved", "probability", "step2_probability")
    if baseline is None:
        reason = "no baseline: no scheduled SSc assessment on or before day 0"
        e.results(v, "criss", [(n, None) for n in names], reason, "ACR provisional CRISS 2016")
        return
    d = _criss_data(v, baseline, o)
    result = criss({"baseline": d.before, "follow_up": d.after, **d.events}, options=o.criss)
    reasons = _criss_reasons(d)
    if result.fvc_relative_decline_percent is not None and result.reason and "ILD" in result.reason:
        reasons.append("FVC fell >= 15% (relative) to < 80% predicted")
    note = f"; baseline visit {baseline.label}" + (
        "; unrecorded step-1 events assumed absent" if d.assume and d.unrecorded else ""
    )
    source = _source(result, note)
    e.results(
        v, "criss", [("improved", result.improved), ("probability", result.probability)], "; ".join(reasons), source
    )
    step2 = [r for r in reasons if r.startswith("not recorded")]
    e.results(v, "criss", [("step2_probability", result.step2_probability)], "; ".join(step2), source)


def _criss25(e: _Emitter, v: _Visit, baseline: _Visit | None, o: OutcomeOptions) -> None:
    """Revised CRISS (CRISS-25) from the same measures and step-1 events as the provisional CRISS."""
    names = ("improved", "items_improved")
    if baseline is None:
        reason = "no baseline: no scheduled SSc assessment on or before day 0"
        e.results(v, "criss25", [(n, None) for n in names], reason, "revised CRISS (CRISS-25)")
        return
    d = _criss_data(v, baseline, o)
    try:
        result = criss25({"baseline": d.before, "follow_up": d.after, **d.events}, options=o.criss25)
    except InvalidInput as err:
        e.results(v, "criss25", [(n, None) for n in names], f"not scored: {err}", "revised CRISS (CRISS-25)")
        return
    reasons = _criss_reasons(d)
    if result.reason and not reasons:
        reasons.append(result.reason)
    source = _source(result, f"; baseline visit {baseline.label}")
    e.results(v, "criss25", [("improved", result.improved)], "; ".join(reasons), source)
    # the count is a lower bound while a measure is missing: reported only when all five are known
    count = result.items_improved if not d.missing else None
    e.results(v, "criss25", [("items_improved", count)], _not_recorded(d.missing) if d.missing else "", source)


# ---------------------------------------------------------------------------------------------
# IIM
# ---------------------------------------------------------------------------------------------


def _mmt8_total(v: _Visit) -> tuple[int | None, str, str]:
    grades = {g: int(x) for g in MMT8_GROUPS if (x := v.num(f"mmt8_{g}")) is not None}
    result = mmt8(grades, options=MMT8Options())
    missing = [f"mmt8_{g}" for g, x in result.grades.items() if x is None]
    return result.total, _not_recorded(missing) if missing else "", _source(result)


def _core_set(v: _Visit, enzymes: Iterable[str]) -> dict[str, Any]:
    total, _, _ = _mmt8_total(v)
    out: dict[str, Any] = {
        "physician_global": v.num("myo_physician_global"),
        "patient_global": v.num("myo_patient_global"),
        "extramuscular": v.num("myo_extramuscular_global"),
        "mmt": total,
        "haq": v.num("myo_haq_di"),
    }
    for enzyme in enzymes:
        value = v.num(enzyme, "U/L")
        out[enzyme] = value if value is None or value > 0 else None
    return out


_CORE_CODES = {
    "physician_global": "myo_physician_global",
    "patient_global": "myo_patient_global",
    "extramuscular": "myo_extramuscular_global",
    "mmt": "mmt8_* (all 8 groups)",
    "haq": "myo_haq_di",
}
TIS_MEASURES = ("physician_global", "patient_global", "mmt", "haq", "enzyme", "extramuscular")


def _iim_reason(reason: str | None, baseline: _Visit) -> str:
    if not reason:
        return ""
    text = reason
    for name, code_ in _CORE_CODES.items():
        text = re.sub(rf"\b(baseline|follow_up)\.{name}\b", rf"\1.{code_}", text)
    text = text.replace("baseline.", f"baseline {baseline.label}: ").replace("follow_up.", "this visit: ")
    return text.replace(
        "baseline muscle enzyme (ck, aldolase, ldh, alt or ast)",
        f"baseline {baseline.label}: a muscle enzyme with its laboratory ULN (ck/ck_uln, aldolase/aldolase_uln, "
        "ldh/ldh_uln, alt/alt_uln or ast/ast_uln)",
    )


def _iim(e: _Emitter, visits: list[_Visit], o: OutcomeOptions) -> None:
    assessed = [v for v in visits if v.kind != "daily" and v.has_any(IIM_ASSESSMENT_CODES)]
    if e.want("mmt8"):
        for v in assessed:
            if v.has_any(MMT8_CODES):
                total, reason, source = _mmt8_total(v)
                e.results(v, "mmt8", [("total", total)], reason, source)
    if not (e.want("myositis_tis") or e.want("imacs_doi")):
        return
    baseline = next((v for v in reversed(assessed) if v.kind == "scheduled" and v.day <= 0), None)
    tis_rows = ["total", "level", *(f"points_{m}" for m in TIS_MEASURES), "enzyme_used"]
    for v in assessed:
        if v.day <= 0:
            continue
        if baseline is None:
            reason = "no baseline: no scheduled myositis assessment on or before day 0"
            if e.want("myositis_tis"):
                e.results(v, "myositis_tis", [(r, None) for r in tis_rows], reason, "2016 ACR/EULAR TIS")
            if e.want("imacs_doi"):
                e.results(v, "imacs_doi", [("improved", None)], reason, "IMACS DOI 2004")
            continue
        ulns = {f"{z}_uln": baseline.num(f"{z}_uln", "U/L") for z in ENZYME_CODES}
        enzymes = [z for z in ENZYME_CODES if ulns[f"{z}_uln"] is not None]
        inputs = {
            "baseline": _core_set(baseline, enzymes),
            "follow_up": _core_set(v, enzymes),
            "mmt_max": 80,
            **{k: x for k, x in ulns.items() if x is not None},
        }
        note = f"; baseline visit {baseline.label}"
        if e.want("myositis_tis"):
            tis = myositis_tis(inputs, options=o.tis)
            reason = _iim_reason(tis.reason, baseline)
            values: list[tuple[str, Any]] = [("total", tis.total_improvement_score), ("level", tis.improvement)]
            values += [(f"points_{m}", tis.points.get(m)) for m in TIS_MEASURES]
            values.append(("enzyme_used", tis.enzyme_used))
            e.results(v, "myositis_tis", values, reason, _source(tis, note))
        if e.want("imacs_doi"):
            doi = imacs_doi(inputs, options=o.imacs_doi)
            e.results(
                v, "imacs_doi", [("improved", doi.improved)], _iim_reason(doi.reason, baseline), _source(doi, note)
            )


# ---------------------------------------------------------------------------------------------
# Safety and medications (every patient)
# ---------------------------------------------------------------------------------------------


def _ctcae(e: _Emitter, v: _Visit, o: OutcomeOptions) -> None:
    inputs: dict[str, Any] = {}
    for code_, (name, _, unit) in CBC_CODES.items():
        value = v.num(code_, unit)
        if value is not None:
            inputs[name] = {"value": value, "unit": unit}
    if not inputs:
        return
    result = ctcae(inputs, options=o.ctcae)
    v6 = result.version == "6.0"
    for code_, (name, term, _) in CBC_CODES.items():
        if name not in inputs:
            continue
        if v6 and term == "platelet_count_decreased":  # renamed in CTCAE v6.0
            term = "thrombocytopenia"
        grade = getattr(result, term)
        reason = None
        if grade is None and v6 and term == "lymphocyte_count_decreased":
            reason = "CTCAE v6.0 has no laboratory term 'Lymphocyte count decreased' (option ctcae.version 5.0)"
        elif grade is None:
            reason = (
                f"{code_} at or above the grade-2 limit: grade 0 or 1 depends on the laboratory's lower limit of "
                "normal, which the registry does not record"
            )
        e.results(v, "ctcae", [(term, grade)], reason, _source(result))


def _medication_rows(e: _Emitter, v: _Visit, meds: _Medications, o: OutcomeOptions) -> None:
    if e.want("prednisolone_equivalent"):
        dose, reason = meds.prednisolone(v.day)
        table = "BNF" if o.equivalence_table == "bnf" else "Meikle & Tyler 1977"
        purpose = "all purposes" if o.count_all_purposes else "disease-directed"
        source = BNF_SOURCE if o.equivalence_table == "bnf" else MEIKLE_TYLER_SOURCE
        e.results(
            v,
            "prednisolone_equivalent",
            [("mg_per_day", dose)],
            reason,
            f"{table} equivalence, systemic, {purpose} | {source}",
        )
    if e.want("drug_free"):
        names = ("glucocorticoid_free", "immunosuppressant_free", "drug_free")
        results = [*names, *(f"{n}_since" for n in names)]
        unknown = [m.label for m in meds.meds if m.drug_class is None and m.started_by(v.day) and meds.counted(m)]
        if unknown:
            reason = f"drug class unknown for {', '.join(unknown)} (not in the drug-class table)"
            e.results(v, "drug_free", [(r, None) for r in results], reason, "drug-free status")
            return
        result = drug_free(
            {
                "medications": [m.entry for m in meds.meds if m.entry is not None],
                "as_of_day": v.day,
                "history_start_day": meds.history_start if meds.history_start is not None else None,
            },
            options=o.drug_free,
        )
        values: list[tuple[str, Any]] = []
        for n in names:
            status = getattr(result, n)
            values.append((n, None if status is None else status.free))
        for n in names:
            status = getattr(result, n)
            if status is None or status.free:
                values.append((f"{n}_since", None if status is None else status.free_since_day))
        e.results(v, "drug_free", values, result.reason, _source(result))


_CRS_NAMES = {
    "temperature": "crs_temperature",
    "hypotension": "crs_hypotension",
    "oxygen": "crs_oxygen",
    "treated_for_crs": "crs_treated",
}
_ICANS_NAMES = {
    "ice": "ice_score",
    "consciousness": "icans_consciousness",
    "seizure": "icans_seizure",
    "motor": "icans_motor",
    "intracranial_pressure": "icans_intracranial_pressure",
}


def _codes(reason: str, names: Mapping[str, str]) -> str:
    """An instrument's 'missing: a, b' reason in registry observation codes."""
    for name, code_ in names.items():
        reason = re.sub(rf"\b{name}\b", code_, reason)
    return reason.replace("missing: ", "not recorded: ")


def _course_days(visits: list[_Visit], codes: Sequence[str]) -> list[_Visit]:
    return [v for v in visits if v.has_any(codes)]


def _reported_agreement(
    course: Sequence[tuple[int, int | None]], reported: Mapping[int, int]
) -> tuple[int | None, bool | None, str]:
    reported_max = max(reported.values()) if reported else None
    pairs = [(d, g, reported[d]) for d, g in course if g is not None and d in reported]
    if not pairs:
        return reported_max, None, "no day with both a computed and a reported grade"
    wrong = [f"day {d}: computed {g}, reported {r}" for d, g, r in pairs if g != r]
    return reported_max, not wrong, "; ".join(wrong)


def _crs(e: _Emitter, visits: list[_Visit]) -> None:
    days = _course_days(visits, CRS_CODES)
    rows = ("max_grade", "max_grade_day", "onset_day", "duration_days", "reported_max_grade", "reported_grade_agrees")
    if not days:
        reason = "no daily CRS assessment recorded (crs_* codes)"
        e.results(None, "crs", [(r, None) for r in rows], reason, "ASTCT 2019")
        return
    assessments: list[dict[str, Any]] = []
    reasons: list[tuple[int, str]] = []
    for v in days:
        temperature = v.num("crs_temperature", "Cel")
        a = {
            "day": v.day,
            "temperature": None if temperature is None else {"value": temperature, "unit": "Cel"},
            "treated_for_crs": v.flag("crs_treated"),
            "hypotension": v.text("crs_hypotension"),
            "oxygen": v.text("crs_oxygen"),
        }
        assessments.append(a)
        grade, _, _, why = crs_grade(CRSAssessment.model_validate(a))
        if grade is None and why:
            reasons.append((v.day, f"day {v.day} ({v.label}): " + _codes(why, _CRS_NAMES)))
    result = crs({"assessments": assessments})
    _emit_course(e, "crs", result, days, reasons)


def _emit_course(e: _Emitter, name: str, result: Any, days: list[_Visit], reasons: list[tuple[int, str]]) -> None:
    """The CRS or ICANS course rows: maximum grade, its day, onset, duration, and the reported-grade check."""
    course = [(d.day, d.grade) for d in result.course or []]
    reported = _max_by_day((v.day, v.num(f"{name}_grade_reported")) for v in days)
    reported_max, agrees, detail = _reported_agreement(course, reported)
    ungraded = {d for d, g in course if g is None}
    course_reason = "; ".join(r for d, r in reasons if d in ungraded) or result.reason
    onset: list[tuple[str, Any]] = [("duration_days", result.duration_days)]
    if result.max_grade != 0:
        onset = [("max_grade_day", result.max_grade_day), ("onset_day", result.onset_day), *onset]
    source = _source(result)
    e.results(None, name, [("max_grade", result.max_grade), *onset], course_reason, source)
    e.results(None, name, [("reported_max_grade", reported_max)], f"{name}_grade_reported not recorded", source)
    e.results(None, name, [("reported_grade_agrees", agrees)], detail, source)
    if agrees is False:
        e.results(None, name, [("reported_grade_disagreements", detail)], None, source)


def _max_by_day(values: Iterable[tuple[int, Decimal | None]]) -> dict[int, int]:
    out: dict[int, int] = {}
    for day, value in values:
        if value is not None:
            out[day] = max(out.get(day, 0), int(value))
    return out


def _icans(e: _Emitter, visits: list[_Visit]) -> None:
    days = _course_days(visits, ICANS_CODES)
    rows = ("max_grade", "max_grade_day", "onset_day", "duration_days", "reported_max_grade", "reported_grade_agrees")
    if not days:
        reason = "no daily ICANS assessment recorded (ice_score, icans_* codes)"
        e.results(None, "icans", [(r, None) for r in rows], reason, "ASTCT 2019")
        return
    assessments: list[dict[str, Any]] = []
    reasons: list[tuple[int, str]] = []
    for v in days:
        score = v.num("ice_score")
        a = {
            "day": v.day,
            "ice_score": None if score is None else int(score),
            "consciousness": v.text("icans_consciousness"),
            "seizure": v.text("icans_seizure"),
            "motor": v.text("icans_motor"),
            "intracranial_pressure": v.text("icans_intracranial_pressure"),
        }
        assessments.append(a)
        try:
            grade, _, _, why = icans_grade(ICANSAssessment.model_validate(a))
        except InvalidInput as err:
            grade, why = None, f"inconsistent: {err}"
        if grade is None and why:
            reasons.append((v.day, f"day {v.day} ({v.label}): " + _codes(why, _ICANS_NAMES)))
    try:
        result = icans({"assessments": assessments})
    except InvalidInput as err:
        e.results(None, "icans", [(r, None) for r in rows], f"inconsistent ICANS assessment: {err}", "ASTCT 2019")
        return
    _emit_course(e, "icans", result, days, reasons)


def _icaht(e: _Emitter, visits: list[_Visit], o: OutcomeOptions) -> None:
    series = [{"day": v.day, "value": x} for v in visits if (x := v.num("anc", "/uL")) is not None]
    if not series:
        e.results(None, "icaht", [("early_grade", None), ("late_grade", None)], _not_recorded(["anc"]), "EHA/EBMT 2023")
        return
    result = icaht({"anc": series, "unit": "/uL"}, options=o.icaht)
    e.results(None, "icaht", [("early_grade", result.early_grade)], f"anc: {result.early_reason}", _source(result))
    e.results(None, "icaht", [("late_grade", result.late_grade)], f"anc: {result.late_reason}", _source(result))


def _t_icaht(e: _Emitter, visits: list[_Visit], o: OutcomeOptions) -> None:
    series = [{"day": v.day, "value": x} for v in visits if (x := v.num("platelets", "10*9/L")) is not None]
    names = ("early_grade", "late_grade")
    if not series:
        e.results(None, "t_icaht", [(n, None) for n in names], _not_recorded(["platelets"]), T_ICAHT_SOURCE)
        return
    try:
        result = t_icaht({"platelets": series, "unit": "10*9/L"}, options=o.t_icaht)
    except InvalidInput as err:
        e.results(None, "t_icaht", [(n, None) for n in names], f"not scored: {err}", T_ICAHT_SOURCE)
        return
    e.results(
        None, "t_icaht", [("early_grade", result.early_grade)], f"platelets: {result.early_reason}", _source(result)
    )
    e.results(None, "t_icaht", [("late_grade", result.late_grade)], f"platelets: {result.late_reason}", _source(result))


def _hypogammaglobulinaemia(e: _Emitter, v: _Visit, meds: _Medications, o: OutcomeOptions) -> None:
    """IgG at a visit that measures it. Immunoglobulin replacement is read from the medication records (the
    list is taken as complete, as for drug-free status): a record active within ``igg_replacement_days``
    before the sample means the level includes infused IgG."""
    if not v.has("igg"):
        return
    window = o.igg_replacement_days

    def recent(m: _Med) -> bool:  # taken on a day in [sample - window, sample]
        return m.started_by(v.day) and (m.record.stop_day is None or m.record.stop_day >= v.day - window)

    replaced: bool | None = any(m.canonical == "immunoglobulin" and recent(m) for m in meds.meds)
    unknown = [m.label for m in meds.meds if m.drug_class is None and recent(m)]
    if unknown and not replaced:  # a drug not in the class table could be an immunoglobulin under another name
        replaced = None
    inputs: dict[str, Any] = {
        "igg": {"value": v.num("igg", "g/L"), "unit": "g/L"},
        # the instrument takes days -365..; an earlier sample is before the infusion either way
        "days_since_infusion": max(v.day, -365),
        "receiving_igg_replacement": replaced,
    }
    try:
        result = hypogammaglobulinaemia(inputs, options=o.hypogammaglobulinaemia)
    except InvalidInput as err:
        none = [("category", None), ("replacement", None)]
        e.results(v, "hypogammaglobulinaemia", none, f"not scored: {err}", "IgG status")
        return
    note = "; immunoglobulin replacement from the medication records" + (
        f" (on replacement within {window} days)" if replaced else ""
    )
    reason = result.reason
    if replaced is None:
        found = f"drug class unknown for {', '.join(unknown)} (could be an immunoglobulin)"
        reason = f"{reason}; {found}" if reason else found
    values = [("category", result.category), ("replacement", result.replacement_indicated)]
    e.results(v, "hypogammaglobulinaemia", values, reason, _source(result, note))


# ---------------------------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------------------------


def _classification(e: _Emitter, v: _Visit) -> None:
    """Classification criteria at a visit that records any of their items (usually screening). Items not
    recorded are passed as unknown: each instrument decides only what the recorded items decide."""
    for prefix, (instrument, classify, numeric) in CLASSIFICATION.items():
        if not e.want(instrument):
            continue
        model = CLASSIFICATION_CRITERIA[prefix][0]
        items = [n for n, f in model.model_fields.items() if f.annotation == (bool | None)]
        if not v.has_any([*(f"{prefix}_{n}" for n in items), *numeric]):
            continue
        inputs: dict[str, Any] = {n: v.flag(f"{prefix}_{n}") for n in items if v.has(f"{prefix}_{n}")}
        for code_, name in numeric.items():
            value = v.num(code_)
            if value is not None:
                inputs[name] = int(value) if name == "ana_titre" else value
        result = classify(inputs)
        values = [("classified", result.classified), ("total_points", result.total_points)]
        if prefix == "iim2017":
            values.append(("probability", result.probability))
        e.results(v, instrument, values, result.reason, _source(result))


def _observed(v: _Visit, entry: ObservationCode) -> Any:
    """The value of a recorded observation as an instrument input: coded text, yes/no, or an exact number
    in the vocabulary's unit (whole numbers as int)."""
    if entry.choices:
        return v.text(entry.code)
    if entry.boolean:
        return v.flag(entry.code)
    number = v.num(entry.code)
    return int(number) if entry.integer and number is not None else number


def _choice_values(annotation: Any) -> dict[str, Any]:
    """The allowed values of a coded input field by their stored text (``{"3": 3}`` for ``Literal[0, 3]``)."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    literal = next((a for a in [annotation, *args] if typing.get_origin(a) is typing.Literal), None)
    return {str(c): c for c in typing.get_args(literal)} if literal is not None else {}


def _is_quantity(annotation: Any) -> bool:
    candidates = [annotation, *typing.get_args(annotation)]
    return any(isinstance(c, type) and issubclass(c, Quantity) for c in candidates)


def _assessment_inputs(v: _Visit, a: ScoredAssessment) -> dict[str, Any]:
    """The inputs of assessment ``a`` recorded at visit ``v`` (its items, and what it reads from other codes)."""
    fields = get_instrument(a.instrument).input_model.model_fields
    items = assessment_items(a.prefix)
    inputs: dict[str, Any] = {}
    for item, entry in items:
        if not v.has(entry.code):
            continue
        value = _observed(v, entry)
        if entry.choices and value is not None:  # stored as text: back to the instrument's own value (e.g. 3)
            value = _choice_values(fields[item].annotation).get(value, value)
        inputs[item] = value
    for item, read in a.reads:
        if not v.has(read):
            continue
        entry = vocabulary_code(read)
        if _is_quantity(fields[item].annotation):
            inputs[item] = {"value": v.num(read, entry.unit), "unit": entry.unit}
        else:
            inputs[item] = _observed(v, entry)
    return inputs


_BILAG = "bilag"


class _InconsistentBILAG(Exception):
    """BILAG-2004 items of a visit contradict each other (the message says how)."""


def _bilag_grades(v: _Visit | None) -> dict[str, str | None] | None:
    """BILAG-2004 system grades at a visit that records BILAG items: A/B/C, "DE" for a system known to be D or
    E (both mean no current activity), None for an unknown grade; None when BILAG is not recorded. Items that
    contradict each other raise :class:`_InconsistentBILAG`."""
    if v is None or not v.has_any(_assessment_codes(_BILAG)):
        return None
    try:
        result = bilag2004(_assessment_inputs(v, assessment(_BILAG)))
    except InvalidInput as err:
        raise _InconsistentBILAG(f"BILAG-2004 items inconsistent at visit {v.label}: {err}") from None
    grades: dict[str, str | None] = {}
    for system, grade in result.grades.items():
        if grade is None and result.grade_basis.get(system, "").startswith("all items not present"):
            grades[system] = "DE"
        else:
            grades[system] = None if grade is None else ("DE" if grade in ("D", "E") else grade)
    return grades


def _new_bilag(
    before: dict[str, str | None] | None, now: dict[str, str | None] | None
) -> tuple[int | None, int | None]:
    """New BILAG-2004 A and B systems between two visits (SRI: A now and not A before; B now and C, D or E
    before); None when a grade the count depends on is unknown."""
    if before is None or now is None:
        return None, None
    new_a = new_b = 0
    unknown_a = unknown_b = False
    for system, grade in now.items():
        old = before.get(system)
        if grade is None:
            unknown_a = unknown_b = True
            continue
        if grade == "A":
            if old is None:
                unknown_a = True
            elif old != "A":
                new_a += 1
        if grade == "B":
            if old is None:
                unknown_b = True
            elif old not in ("A", "B"):
                new_b += 1
    return (None if unknown_a else new_a), (None if unknown_b else new_b)


@cache
def _assessment_codes(prefix: str) -> frozenset[str]:
    return frozenset(entry.code for _item, entry in assessment_items(prefix))


def _assessments(e: _Emitter, v: _Visit, disease: str) -> None:
    """Instruments recorded item by item (:data:`~immunoreset.registry.vocabulary.ASSESSMENTS`) at a visit
    that records any of their items. Items not recorded are passed as unknown, so the instrument itself
    decides what is still evaluable; laboratory inputs are read from the same visit."""
    for a in ASSESSMENTS:
        if disease not in a.diseases or not e.want(a.instrument):
            continue
        if not v.has_any(_assessment_codes(a.prefix)):
            continue
        instrument = get_instrument(a.instrument)
        inputs = _assessment_inputs(v, a)
        try:
            result = instrument.score(inputs)
        except InvalidInput as err:  # items that contradict each other: a row saying so, not a lost visit
            reason = f"inconsistent items: {err}"
            e.results(v, a.instrument, [(name, None) for name in a.results], reason, instrument.source)
            continue
        values = [(name, getattr(result, name)) for name in a.results]
        e.results(v, a.instrument, values, result.reason, _source(result))


def _patient(e: _Emitter, patient: PatientRecord, o: OutcomeOptions) -> None:
    visits = sorted((_Visit(v) for v in patient.visits), key=lambda v: (v.day, natural_key(v.label)))
    starts = [m.start_day for m in patient.medications if m.start_day is not None]
    history = min([*(v.day for v in visits), *starts], default=None)
    meds = _Medications([_medication(m) for m in patient.medications], o, history)
    if patient.disease == "SLE":
        _sle(e, visits, meds, o)
    elif patient.disease == "SSc":
        _ssc(e, visits, o)
    elif patient.disease == "IIM":
        _iim(e, visits, o)
    for v in visits:
        if e.want("ctcae"):
            _ctcae(e, v, o)
        if v.kind != "daily":
            _medication_rows(e, v, meds, o)
            _classification(e, v)
        _assessments(e, v, patient.disease)  # HScore, IEC-HS and LICATS are often assessed on daily visits
        if e.want("hypogammaglobulinaemia"):
            _hypogammaglobulinaemia(e, v, meds, o)
    if e.want("crs"):
        _crs(e, visits)
    if e.want("icans"):
        _icans(e, visits)
    if e.want("icaht"):
        _icaht(e, visits, o)
    if e.want("t_icaht"):
        _t_icaht(e, visits, o)


_ORDER = {name: i for i, name in enumerate(OUTCOME_INSTRUMENTS)}


def compute_outcomes(
    study: StudyRecord,
    *,
    options: OutcomeOptions | Mapping[str, Any] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Every applicable instrument for each patient and visit of ``study``, as a tidy table.

    One row per ``(patient, visit, instrument, result)`` with the columns of :data:`COLUMNS`; see the
    module docstring and ``docs/registry_outcomes.md``. ``progress(done, total)`` is called after each
    patient (the registry's progress convention).
    Inconsistent stored data (e.g. a contradiction an instrument refuses) raise
    :class:`~immunoreset.errors.InvalidInput` naming the patient.
    """
    opts = parse(OutcomeOptions, options)
    wanted = frozenset(opts.instruments if opts.instruments is not None else OUTCOME_INSTRUMENTS)
    rows: list[dict[str, Any]] = []
    patients = sorted(study.patients, key=lambda p: natural_key(p.code))
    for done, patient in enumerate(patients, start=1):
        emitter = _Emitter(study.code, patient, wanted)
        try:
            _patient(emitter, patient, opts)
        except InvalidInput as err:
            raise err.with_location(f"patient {patient.code}") from None
        visit_rank = {
            v.label: i
            for i, v in enumerate(sorted(patient.visits, key=lambda v: (v.study_day or 0, natural_key(v.label))))
        }
        emitter.rows.sort(
            key=lambda r: (
                visit_rank.get(r["visit"], len(visit_rank)) if r["visit"] != COURSE_VISIT else len(visit_rank),
                _ORDER[r["instrument"]],
            )
        )
        rows.extend(emitter.rows)
        if progress is not None:
            progress(done, len(patients))
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    frame["study_day"] = frame["study_day"].astype("Int64")
    frame["value_num"] = frame["value_num"].astype(float)
    frame["evaluable"] = frame["evaluable"].astype(bool)
    return frame


def write_outcomes(df: pd.DataFrame, path: str | Path) -> Path:
    """Write an outcome table to ``path``: ``.csv`` (UTF-8, no index) or ``.parquet`` (by suffix)."""
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix == ".csv":
        df.to_csv(target, index=False, lineterminator="\n")
    elif suffix == ".parquet":
        df.to_parquet(target, index=False)
    else:
        raise InvalidInput("path", str(path), "a file name ending in .csv or .parquet")
    return target
