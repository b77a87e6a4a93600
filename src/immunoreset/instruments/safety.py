"""Safety grading after CD19 CAR T-cell therapy: CRS, ICE/CAPD/ICANS, ICAHT, T-ICAHT, CAR-HEMATOTOX, CTCAE
and LICATS.

Instruments (registry names in brackets):

* ASTCT CRS grade [``crs``] — Lee DW, Santomasso BD, Locke FL, et al. *ASTCT consensus grading for
  cytokine release syndrome and neurologic toxicity associated with immune effector cells.*
  Biol Blood Marrow Transplant 2019;25(4):625-638. One assessment, or a course of assessments.
* ICE score [``ice``] and ASTCT ICANS grade [``icans``] — same paper (Lee 2019); for children < 12 years
  (or with developmental delay) the encephalopathy domain is the Cornell Assessment of Pediatric
  Delirium [``capd``] — Traube C, Silver G, Kearney J, et al. *Cornell Assessment of Pediatric Delirium:
  a valid, rapid, observational tool for screening delirium in the PICU.* Crit Care Med
  2014;42(3):656-663, doi:10.1097/CCM.0b013e3182a66b76.
* ICAHT [``icaht``] — Rejeski K, Subklewe M, Aljurf M, et al. *Immune effector cell-associated
  hematotoxicity: EHA/EBMT consensus grading and best practice recommendations.*
  Blood 2023;142(10):865-877.
* T-ICAHT [``t_icaht``] — Rejeski K, Sanz J, Fei T, et al. (Shouval R). *T-ICAHT: grading and prognostic
  impact of thrombocytopenia after CAR T-cell therapy.* Blood 2025, doi:10.1182/blood.2025028833
  (volume and pages not confirmed).
* CAR-HEMATOTOX [``car_hematotox``] — Rejeski K, Perez A, Sesques P, et al. *CAR-HEMATOTOX: a model
  for CAR T-cell-related hematologic toxicity in relapsed/refractory large B-cell lymphoma.*
  Blood 2021;138(24):2499-2513.
* CTCAE haematological grades [``ctcae``] — National Cancer Institute. *Common Terminology Criteria for
  Adverse Events (CTCAE) v5.0*, 27 Nov 2017 (default), or *CTCAE v6.0*, 2025 (option ``version``);
  plus a hypogammaglobulinaemia flag (not a CTCAE term) with a configurable IgG threshold.
* LICATS [``licats``] — Hagen M, Müller F, Wirsching A, et al. (Schett G). *Local immune effector
  cell-associated toxicity syndrome in CAR T-cell treated patients with autoimmune disease: an
  observational study.* Lancet Rheumatol 2025;7(6):e424-e433, doi:10.1016/S2665-9913(25)00091-8.

The clock of every series is the **study day** (day 0 = CAR T-cell infusion). Values with units are
converted with :func:`immunoreset.units.convert` and compared exactly (Decimal/Fraction). Decisions
taken where sources disagree or could not be confirmed are named options with the published default;
they are listed in ``docs/instruments.md``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from immunoreset.errors import InvalidInput
from immunoreset.instruments.base import (
    Exact,
    Instrument,
    InstrumentInput,
    InstrumentOptions,
    InstrumentResult,
    Quantity,
    all_of,
    parse,
)
from immunoreset.units import canonical_unit, convert

__all__ = [
    "ANCObservation",
    "CAPDItems",
    "CAPDOptions",
    "CAPDResult",
    "CARHematotoxInput",
    "CARHematotoxOptions",
    "CARHematotoxResult",
    "CRSAssessment",
    "CRSInput",
    "CRSOptions",
    "CRSResult",
    "CTCAEInput",
    "CTCAEOptions",
    "CTCAEResult",
    "DayGrade",
    "ICAHTInput",
    "ICAHTOptions",
    "ICAHTResult",
    "ICANSAssessment",
    "ICANSInput",
    "ICANSOptions",
    "ICANSResult",
    "ICEInput",
    "ICEOptions",
    "ICEResult",
    "LICATSInput",
    "LICATSOptions",
    "LICATSResult",
    "LabValue",
    "PlateletObservation",
    "PlateletValue",
    "Quantity",
    "TICAHTInput",
    "TICAHTOptions",
    "TICAHTResult",
    "capd",
    "car_hematotox",
    "crs",
    "crs_grade",
    "ctcae",
    "icaht",
    "icans",
    "icans_grade",
    "ice",
    "licats",
    "t_icaht",
]

CRS_SOURCE = "Lee DW et al. Biol Blood Marrow Transplant 2019;25(4):625-638 (ASTCT consensus)"
ICANS_SOURCE = CRS_SOURCE
CAPD_SOURCE = "Traube C et al. Crit Care Med 2014;42(3):656-663, doi:10.1097/CCM.0b013e3182a66b76"
ICAHT_SOURCE = "Rejeski K et al. Blood 2023;142(10):865-877 (EHA/EBMT consensus)"
HEMATOTOX_SOURCE = "Rejeski K et al. Blood 2021;138(24):2499-2513"
LICATS_SOURCE = (
    "Hagen M, Müller F, Wirsching A, et al. (Schett G). Local immune effector cell-associated toxicity syndrome in "
    "CAR T-cell treated patients with autoimmune disease: an observational study. Lancet Rheumatol "
    "2025;7(6):e424-e433, doi:10.1016/S2665-9913(25)00091-8"
)
T_ICAHT_SOURCE = (
    "Rejeski K, Sanz J, Fei T, et al. (Shouval R). T-ICAHT: grading and prognostic impact of thrombocytopenia "
    "after CAR T-cell therapy. Blood 2025, doi:10.1182/blood.2025028833"
)
CTCAE_SOURCE = "NCI Common Terminology Criteria for Adverse Events (CTCAE) v5.0, 27 Nov 2017"
CTCAE6_SOURCE = "NCI Common Terminology Criteria for Adverse Events (CTCAE) v6.0, 2025 (MedDRA 28.0; errata Jan 2026)"


# ---------------------------------------------------------------------------------------------
# Shared input pieces
# ---------------------------------------------------------------------------------------------


def _in(q: Quantity, unit: str, field: str) -> Decimal:
    return q.to(unit, field=field)


class DayGrade(BaseModel):
    """The grade of one study day of a course (``None`` when that day was not evaluable)."""

    model_config = ConfigDict(frozen=True)

    day: int
    grade: int | None


class _CourseSummary(BaseModel):
    onset_day: int | None
    max_grade: int | None
    max_grade_day: int | None
    last_day_with_event: int | None
    duration_days: int | None
    resolution_day: int | None
    resolved: bool | None


def _summarise_course(by_day: list[tuple[int, int | None]]) -> tuple[_CourseSummary, str | None]:
    """Onset, maximum, duration and resolution of a graded daily course.

    * onset day = first day with grade >= 1;
    * duration = days from onset to the last day with grade >= 1, both inclusive;
    * resolution day = first assessed day with grade 0 after the last day with grade >= 1
      (``resolved=False`` when no such day was assessed).
    """
    missing = [d for d, g in by_day if g is None]
    if missing:
        empty = _CourseSummary(
            onset_day=None,
            max_grade=None,
            max_grade_day=None,
            last_day_with_event=None,
            duration_days=None,
            resolution_day=None,
            resolved=None,
        )
        return empty, "not evaluable on study day(s) " + ", ".join(str(d) for d in missing)
    event_days = [d for d, g in by_day if g is not None and g >= 1]
    if not event_days:
        return (
            _CourseSummary(
                onset_day=None,
                max_grade=0,
                max_grade_day=None,
                last_day_with_event=None,
                duration_days=0,
                resolution_day=None,
                resolved=None,
            ),
            None,
        )
    onset, last = event_days[0], event_days[-1]
    max_grade = max(g for _, g in by_day if g is not None)
    max_day = next(d for d, g in by_day if g == max_grade)
    resolution = next((d for d, g in by_day if d > last and g == 0), None)
    return (
        _CourseSummary(
            onset_day=onset,
            max_grade=max_grade,
            max_grade_day=max_day,
            last_day_with_event=last,
            duration_days=last - onset + 1,
            resolution_day=resolution,
            resolved=resolution is not None,
        ),
        None,
    )


def _daily_max(graded: Iterable[tuple[int, int | None]]) -> list[tuple[int, int | None]]:
    """One grade per study day: the worst assessment of the day (unknown if any is unknown and
    the known ones do not already reach the maximum grade)."""
    days: dict[int, list[int | None]] = {}
    for day, grade in graded:
        days.setdefault(day, []).append(grade)
    out: list[tuple[int, int | None]] = []
    for day in sorted(days):
        grades = days[day]
        known = [g for g in grades if g is not None]
        if len(known) == len(grades) or (known and max(known) >= 4):
            out.append((day, max(known)))
        else:
            out.append((day, None))
    return out


# ---------------------------------------------------------------------------------------------
# CRS (ASTCT 2019)
# ---------------------------------------------------------------------------------------------

FEVER_CELSIUS = Decimal("38.0")  # fever: temperature >= 38.0 °C (ASTCT)
LOW_FLOW_MAX_L_PER_MIN = Decimal(6)  # low-flow nasal cannula: <= 6 L/min; high-flow: > 6 L/min

Hypotension = Literal[
    "none",
    "fluids_only",
    "not_requiring_vasopressors",
    "one_vasopressor",
    "multiple_vasopressors",
]
OxygenSupport = Literal[
    "none",
    "nasal_cannula",
    "low_flow_nasal_cannula",
    "blow_by",
    "high_flow_nasal_cannula",
    "facemask",
    "non_rebreather_mask",
    "venturi_mask",
    "positive_pressure",
]

_HYPOTENSION_GRADE: dict[str, int] = {
    "none": 0,
    "fluids_only": 2,
    "not_requiring_vasopressors": 2,
    "one_vasopressor": 3,
    "multiple_vasopressors": 4,
}
_OXYGEN_GRADE: dict[str, int] = {
    "none": 0,
    "low_flow_nasal_cannula": 2,
    "blow_by": 2,
    "high_flow_nasal_cannula": 3,
    "facemask": 3,
    "non_rebreather_mask": 3,
    "venturi_mask": 3,
    "positive_pressure": 4,
}


class CRSAssessment(InstrumentInput):
    """One CRS assessment. Hypotension and hypoxia are recorded only when attributable to CRS
    (ASTCT: "not attributable to any other cause"); organ toxicities do not influence the grade."""

    day: int | None = Field(default=None, description="Study day of the assessment (day 0 = CAR-T infusion).")
    temperature: Quantity | None = Field(
        default=None, description="Highest body temperature (unit Cel or [degF]); fever is >= 38.0 °C."
    )
    treated_for_crs: bool | None = Field(
        default=None,
        description="Antipyretic or anticytokine therapy (e.g. tocilizumab, corticosteroids) was given for "
        "already-diagnosed CRS; then fever is no longer required to grade subsequent CRS (ASTCT).",
    )
    hypotension: Hypotension | None = Field(
        default=None,
        description="none; fluids_only / not_requiring_vasopressors (grade 2); one_vasopressor, with or "
        "without vasopressin (grade 3); multiple_vasopressors, excluding vasopressin (grade 4).",
    )
    oxygen: OxygenSupport | None = Field(
        default=None,
        description="Oxygen needed for CRS-attributable hypoxia. nasal_cannula needs oxygen_flow: <= 6 L/min "
        "is low flow (grade 2), > 6 L/min high flow (grade 3); for low_flow_ or high_flow_nasal_cannula a given "
        "oxygen_flow decides the same way (ASTCT defines them by L/min). blow_by = grade 2; facemask, "
        "non_rebreather_mask, venturi_mask = grade 3; positive_pressure (CPAP, BiPAP, ventilation) = grade 4.",
    )
    oxygen_flow: Quantity | None = Field(default=None, description="Nasal-cannula oxygen flow (unit L/min).")
    death_due_to_crs: bool | None = Field(
        default=None, description="Death due to CRS in which another cause is not the principal factor (grade 5)."
    )


class CRSInput(CRSAssessment):
    """One CRS assessment (the fields below), or a course: ``assessments`` = list of assessments,
    each with its study ``day``. Give one or the other, not both."""

    assessments: list[CRSAssessment] | None = Field(
        default=None, description="A course of assessments, each with its study day."
    )

    @model_validator(mode="after")
    def _one_or_course(self) -> CRSInput:
        if self.assessments is not None:
            mixed = [n for n in CRSAssessment.model_fields if getattr(self, n) is not None]
            if mixed:
                raise ValueError(
                    f"either one assessment or 'assessments' (a course), not both (also got {', '.join(mixed)})"
                )
        return self


class CRSOptions(InstrumentOptions):
    """No options: ASTCT leaves no open choice for the adult CRS grade."""


def _course_headline(result: CRSResult | ICANSResult) -> str | None:
    """A CRS/ICANS headline: a course's maximum, when and how long; else one assessment's grade."""
    if result.max_grade is not None:
        text = f"max grade {result.max_grade}"
        if result.max_grade:
            text += f" (day {result.max_grade_day}; onset day {result.onset_day}, {result.duration_days} d)"
        return text + ("" if result.evaluable else "; course incomplete")
    return None if result.grade is None else f"grade {result.grade}"


class CRSResult(InstrumentResult):
    grade: int | None = Field(description="ASTCT CRS grade 0-5 of one assessment (0 = no CRS).")
    determined_by: list[str] = Field(
        default_factory=list, description="Features that set the grade (the most severe event)."
    )
    fever: bool | None = None
    day: int | None = None
    course: list[DayGrade] | None = Field(default=None, description="Course: worst grade of each study day.")
    onset_day: int | None = None
    max_grade: int | None = None
    max_grade_day: int | None = None
    last_day_with_event: int | None = None
    duration_days: int | None = Field(default=None, description="Onset to last day with CRS, both inclusive.")

    def headline(self) -> str:
        return _course_headline(self) or super().headline()

    resolution_day: int | None = Field(
        default=None, description="First assessed day with grade 0 after the last day with CRS."
    )
    resolved: bool | None = None


def _oxygen_category(a: CRSAssessment, field: str) -> str | None:
    device = a.oxygen
    flow = None if a.oxygen_flow is None else _in(a.oxygen_flow, "L/min", f"{field}oxygen_flow")
    if flow is not None and flow < 0:
        raise InvalidInput(f"{field}oxygen_flow", a.oxygen_flow.value if a.oxygen_flow else None, "a flow >= 0")
    if device in ("nasal_cannula", "low_flow_nasal_cannula", "high_flow_nasal_cannula"):
        # ASTCT defines low and high flow by the flow itself (<= 6 / > 6 L/min), whatever the device is called:
        # a high-flow system run at 5 L/min is low-flow oxygen (grade 2), a "low-flow" cannula at 8 L/min high
        if flow is None:
            return None if device == "nasal_cannula" else device
        return "low_flow_nasal_cannula" if flow <= LOW_FLOW_MAX_L_PER_MIN else "high_flow_nasal_cannula"
    if device == "none" and flow is not None and flow > 0:
        raise InvalidInput(f"{field}oxygen_flow", str(flow), "no flow when oxygen is 'none'")
    return device


def crs_grade(
    assessment: CRSAssessment | Mapping[str, Any], *, field: str = ""
) -> tuple[int | None, list[str], bool | None, str | None]:
    """ASTCT CRS grade of one assessment: ``(grade, determined_by, fever, reason_if_not_evaluable)``.

    Lee DW et al., Biol Blood Marrow Transplant 2019 (ASTCT consensus):

    * fever = temperature **>= 38.0 °C**; without fever there is no CRS (grade 0) unless the patient
      already received antipyretic or anticytokine therapy for CRS, after which fever is not required
      and the grade is driven by hypotension and/or hypoxia;
    * hypotension: not requiring vasopressors = 2; one vasopressor with or without vasopressin = 3;
      multiple vasopressors (excluding vasopressin) = 4;
    * hypoxia: low-flow nasal cannula (**<= 6 L/min**) or blow-by = 2; high-flow nasal cannula
      (**> 6 L/min**), facemask, non-rebreather or Venturi mask = 3; positive pressure = 4;
    * grade 1 = fever alone; otherwise the grade is set by the more severe of hypotension and hypoxia;
    * grade 5 = death due to CRS.
    """
    a = parse(CRSAssessment, assessment)
    if a.death_due_to_crs:
        return 5, ["death_due_to_crs"], None, None
    fever: bool | None = None
    if a.temperature is not None:
        fever = _in(a.temperature, "Cel", f"{field}temperature") >= FEVER_CELSIUS
    oxygen = _oxygen_category(a, field)
    hypo_grade = None if a.hypotension is None else _HYPOTENSION_GRADE[a.hypotension]
    oxy_grade = None if oxygen is None else _OXYGEN_GRADE[oxygen]
    missing_organ = [n for n, g in (("hypotension", hypo_grade), ("oxygen", oxy_grade)) if g is None]
    if a.oxygen == "nasal_cannula" and a.oxygen_flow is None:
        missing_organ[missing_organ.index("oxygen")] = "oxygen_flow (nasal cannula)"
    known = [g for g in (hypo_grade, oxy_grade) if g is not None]
    organ: int | None = max(known) if known and (not missing_organ or max(known) >= 4) else None

    if fever is False and a.treated_for_crs is False:
        return 0, [], False, None  # no fever and never treated for CRS: not CRS
    if not (fever or a.treated_for_crs):
        # Fever requirement undecided: temperature missing, or afebrile with treatment unknown.
        if fever is False and organ == 0:
            return 0, [], False, None
        if fever is False:
            return None, [], False, "afebrile: say whether therapy was given for CRS (treated_for_crs)"
        return None, [], None, "missing: " + ", ".join(["temperature", *missing_organ])
    # Fever present, or no longer required after antipyretic/anticytokine therapy for CRS.
    if organ is None:
        return None, [], fever, "missing: " + ", ".join(missing_organ)
    if organ >= 2:
        drivers = [n for n, g in (("hypotension", hypo_grade), ("hypoxia", oxy_grade)) if g == organ]
        return organ, drivers, fever, None
    if fever is None:
        return None, [], None, "missing: temperature (grade 0 or 1)"
    return (1, ["fever"], True, None) if fever else (0, [], False, None)


def crs(inputs: CRSInput | Mapping[str, Any], *, options: CRSOptions | Mapping[str, Any] | None = None) -> CRSResult:
    """ASTCT CRS grade of one assessment, or the course of a patient's assessments.

    One assessment: see :func:`crs_grade` (Lee DW et al., Biol Blood Marrow Transplant 2019).

    A course (``assessments``): each assessment is graded; "treated for CRS" carries forward to
    later assessments (ASTCT: after antipyretic/anticytokine therapy fever is no longer required to
    grade *subsequent* CRS). Each study day takes its worst assessment. Summary: onset day (first
    day with grade >= 1), maximum grade and its first day, duration (onset to last day with CRS,
    inclusive) and resolution day (first assessed grade-0 day after the last day with CRS). Any day
    that cannot be graded makes the course not evaluable (the summary would be a guess).
    """
    inputs = parse(CRSInput, inputs)
    options = parse(CRSOptions, options)
    base = {"instrument": "crs", "variant": "ASTCT 2019 (adult and paediatric CRS)", "source": CRS_SOURCE}
    if inputs.assessments is None:
        grade, drivers, fever, reason = crs_grade(
            CRSAssessment.model_validate(inputs.model_dump(exclude={"assessments"}))
        )
        return CRSResult(
            **base,
            evaluable=grade is not None,
            reason=reason,
            grade=grade,
            determined_by=drivers,
            fever=fever,
            day=inputs.day,
        )
    if not inputs.assessments:
        raise InvalidInput("assessments", [], "at least one assessment")
    course = inputs.assessments
    graded: list[tuple[int, int | None]] = []
    treated = False
    for i in sorted(range(len(course)), key=lambda i: _day_of(course, i, "assessments")):
        a = course[i]
        if a.treated_for_crs:
            treated = True
        if treated and not a.treated_for_crs:
            a = a.model_copy(update={"treated_for_crs": True})
        grade, _, _, _ = crs_grade(a, field=f"assessments.{i}.")
        graded.append((_day_of(course, i, "assessments"), grade))
    by_day = _daily_max(graded)
    summary, reason = _summarise_course(by_day)
    return CRSResult(
        **base,
        evaluable=reason is None,
        reason=reason,
        grade=None,
        course=[DayGrade(day=d, grade=g) for d, g in by_day],
        **summary.model_dump(),
    )


def _day_of(items: Sequence[Any], i: int, name: str) -> int:
    day = items[i].day
    if day is None:
        raise InvalidInput(f"{name}.{i}.day", InvalidInput.MISSING, "the study day of each assessment of a course")
    return int(day)


# ---------------------------------------------------------------------------------------------
# ICE score and ICANS (ASTCT 2019, adult: ICE for patients aged >= 12 years)
# ---------------------------------------------------------------------------------------------


class ICEInput(InstrumentInput):
    """The 10-point Immune effector Cell-associated Encephalopathy (ICE) score items."""

    orientation: int | None = Field(
        default=None, ge=0, le=4, description="Orientation to year, month, city, hospital: 1 point each (0-4)."
    )
    naming: int | None = Field(
        default=None, ge=0, le=3, description="Names 3 objects (e.g. clock, pen, button): 1 point each (0-3)."
    )
    following_commands: int | None = Field(
        default=None, ge=0, le=1, description="Follows simple commands, e.g. 'show me 2 fingers' (0-1)."
    )
    writing: int | None = Field(default=None, ge=0, le=1, description="Writes a standard sentence (0-1).")
    attention: int | None = Field(default=None, ge=0, le=1, description="Counts backwards from 100 by 10 (0-1).")
    unarousable: bool | None = Field(
        default=None,
        description="Patient unarousable and unable to perform ICE: ICE = 0 (ICANS grade 4 by the ICE row).",
    )


class ICEOptions(InstrumentOptions):
    """No options."""


class ICEResult(InstrumentResult):
    score: int | None = Field(description="ICE score 0-10 (10 = no impairment).")
    icans_grade_by_ice: int | None = Field(
        description="ICANS grade implied by the ICE row alone: 10 -> 0, 7-9 -> 1, 3-6 -> 2, 0-2 -> 3, "
        "0 because unarousable -> 4."
    )
    unarousable: bool | None = None


_ICE_ITEMS = ("orientation", "naming", "following_commands", "writing", "attention")


def _ice_row_grade(score: int, unarousable: bool) -> int:
    """ICANS grade from the ICE row (ASTCT): 10 = 0; 7-9 = 1; 3-6 = 2; 0-2 = 3; 0 unarousable = 4."""
    if unarousable:
        return 4
    if score >= 10:
        return 0
    if score >= 7:
        return 1
    if score >= 3:
        return 2
    return 3


def ice(inputs: ICEInput | Mapping[str, Any], *, options: ICEOptions | Mapping[str, Any] | None = None) -> ICEResult:
    """ICE score (0-10) of the ASTCT consensus (Lee DW et al., Biol Blood Marrow Transplant 2019).

    Orientation (year, month, city, hospital) 4 points; naming 3 objects 3 points; following simple
    commands 1; writing a standard sentence 1; counting backwards from 100 by 10 1. An unarousable
    patient who cannot perform ICE scores 0 (ICANS grade 4); a patient awake but unable to answer
    (e.g. global aphasia) scores 0 from the items (ICANS grade 3 by the ICE row).
    """
    inputs = parse(ICEInput, inputs)
    options = parse(ICEOptions, options)
    base = {"instrument": "ice", "variant": "ASTCT 2019 ICE (10 points)", "source": ICANS_SOURCE}
    if inputs.unarousable:
        scored = [n for n in _ICE_ITEMS if getattr(inputs, n) not in (None, 0)]
        if scored:
            raise InvalidInput(scored[0], getattr(inputs, scored[0]), "0 or nothing for an unarousable patient")
        return ICEResult(**base, evaluable=True, score=0, icans_grade_by_ice=4, unarousable=True)
    missing = [n for n in _ICE_ITEMS if getattr(inputs, n) is None]
    if missing:
        return ICEResult(
            **base,
            evaluable=False,
            reason="missing: " + ", ".join(missing),
            score=None,
            icans_grade_by_ice=None,
            unarousable=inputs.unarousable,
        )
    score = sum(int(getattr(inputs, n)) for n in _ICE_ITEMS)
    return ICEResult(
        **base,
        evaluable=True,
        score=score,
        icans_grade_by_ice=_ice_row_grade(score, False),
        unarousable=inputs.unarousable,
    )


Consciousness = Literal[
    "alert", "awakens_spontaneously", "awakens_to_voice", "awakens_to_tactile_stimulus", "unarousable"
]
Seizure = Literal["none", "rapidly_resolving", "nonconvulsive_resolving_with_intervention", "prolonged_or_repetitive"]
Motor = Literal["none", "deep_focal_weakness"]
IntracranialPressure = Literal[
    "none",
    "focal_edema",
    "diffuse_edema",
    "decerebrate_or_decorticate_posturing",
    "cranial_nerve_vi_palsy",
    "papilledema",
    "cushings_triad",
]
_CONSCIOUSNESS_GRADE = {
    "alert": 0,
    "awakens_spontaneously": 1,
    "awakens_to_voice": 2,
    "awakens_to_tactile_stimulus": 3,
    "unarousable": 4,
}
_SEIZURE_GRADE = {
    "none": 0,
    "rapidly_resolving": 3,
    "nonconvulsive_resolving_with_intervention": 3,
    "prolonged_or_repetitive": 4,
}
_MOTOR_GRADE = {"none": 0, "deep_focal_weakness": 4}
_ICP_GRADE = {
    "none": 0,
    "focal_edema": 3,
    "diffuse_edema": 4,
    "decerebrate_or_decorticate_posturing": 4,
    "cranial_nerve_vi_palsy": 4,
    "papilledema": 4,
    "cushings_triad": 4,
}
PAEDIATRIC_AGE_YEARS = Decimal(12)  # ICE is for patients aged >= 12 years; CAPD below (ASTCT)
CAPD_DELIRIUM = 9  # CAPD total >= 9: delirium (Traube 2014); ICANS grade 3 by the CAPD row (ASTCT)

_CAPD_ITEMS: tuple[tuple[str, str], ...] = (
    ("capd_eye_contact", "1. Does the child make eye contact with the caregiver?"),
    ("capd_purposeful_actions", "2. Are the child's actions purposeful?"),
    ("capd_aware_of_surroundings", "3. Is the child aware of his/her surroundings?"),
    ("capd_communicates_needs", "4. Does the child communicate needs and wants?"),
    ("capd_restless", "5. Is the child restless?"),
    ("capd_inconsolable", "6. Is the child inconsolable?"),
    ("capd_underactive", "7. Is the child underactive - very little movement while awake?"),
    ("capd_slow_to_respond", "8. Does it take the child a long time to respond to interactions?"),
)
_CAPD_REVERSED = 4  # items 1-4 are scored never 4 ... always 0; items 5-8 never 0 ... always 4


def _capd_field(i: int) -> Any:
    question = _CAPD_ITEMS[i][1]
    if i < _CAPD_REVERSED:
        scoring = "never 4, rarely 3, sometimes 2, often 1, always 0"
    else:
        scoring = "never 0, rarely 1, sometimes 2, often 3, always 4"
    return Field(default=None, ge=0, le=4, description=f"CAPD item {question} Points: {scoring}.")


class CAPDItems(InstrumentInput):
    """The 8 items of the Cornell Assessment of Pediatric Delirium (Traube C et al., Crit Care Med 2014),
    each 0-4 points as scored on the CAPD form (higher = more delirious); total 0-32."""

    capd_eye_contact: int | None = _capd_field(0)
    capd_purposeful_actions: int | None = _capd_field(1)
    capd_aware_of_surroundings: int | None = _capd_field(2)
    capd_communicates_needs: int | None = _capd_field(3)
    capd_restless: int | None = _capd_field(4)
    capd_inconsolable: int | None = _capd_field(5)
    capd_underactive: int | None = _capd_field(6)
    capd_slow_to_respond: int | None = _capd_field(7)


def _capd_total(items: CAPDItems | ICANSAssessment) -> tuple[int, list[str]]:
    """(sum of the known item points, names of the missing items)."""
    known = [int(getattr(items, n)) for n, _ in _CAPD_ITEMS if getattr(items, n) is not None]
    missing = [n for n, _ in _CAPD_ITEMS if getattr(items, n) is None]
    return sum(known), missing


def _capd_row_grade(score: int, unable: bool) -> int:
    """ICANS grade from the CAPD row (ASTCT, age < 12 y): 0 = 0; 1-8 = 1 (the row lists 1-8 under grades
    1 and 2: grade 2 needs 'awakens to voice'); >= 9 = 3; unable to perform the CAPD = 4."""
    if unable:
        return 4
    if score >= CAPD_DELIRIUM:
        return 3
    return 1 if score >= 1 else 0


class CAPDOptions(InstrumentOptions):
    """No options."""


class CAPDResult(InstrumentResult):
    score: int | None = Field(description="CAPD total 0-32 (higher = more delirious).")
    delirium: bool | None = Field(description="Positive screen: total >= 9 (Traube 2014).")
    icans_grade_by_capd: int | None = Field(
        description="ICANS grade implied by the CAPD row alone (ASTCT, age < 12 y): 0 -> 0, 1-8 -> 1, >= 9 -> 3."
    )
    missing_items: list[str] = Field(default_factory=list)

    def headline(self) -> str:
        if self.score is not None:
            return f"CAPD {self.score}" + (" (delirium)" if self.delirium else "")
        if self.delirium:
            return "delirium (items missing: the known items already reach 9)"
        return super().headline()


def capd(
    inputs: CAPDItems | Mapping[str, Any], *, options: CAPDOptions | Mapping[str, Any] | None = None
) -> CAPDResult:
    """Cornell Assessment of Pediatric Delirium (Traube C et al., Crit Care Med 2014;42(3):656-663).

    Eight observed items, each 0-4 points: items 1-4 (eye contact, purposeful actions, awareness of
    surroundings, communicating needs) never = 4 ... always = 0; items 5-8 (restless, inconsolable,
    underactive, slow to respond) never = 0 ... always = 4. Total 0-32; **>= 9** = delirium. The ASTCT
    ICANS grading (Lee 2019) uses the total for children < 12 years: 1-8 = grade 1 row, >= 9 = grade 3.
    With items missing the screen is positive once the known items reach 9; otherwise not evaluable.
    """
    inputs = parse(CAPDItems, inputs)
    options = parse(CAPDOptions, options)
    base = {"instrument": "capd", "variant": "CAPD (8 items, 0-32; delirium >= 9)", "source": CAPD_SOURCE}
    known, missing = _capd_total(inputs)
    if missing:
        positive = known >= CAPD_DELIRIUM
        return CAPDResult(
            **base,
            evaluable=positive,
            reason=("missing: " if not positive else "total incomplete (missing: ")
            + ", ".join(missing)
            + ("" if not positive else f"), but the known items reach {known}: delirium"),
            score=None,
            delirium=True if positive else None,
            icans_grade_by_capd=3 if positive else None,
            missing_items=missing,
        )
    return CAPDResult(
        **base,
        evaluable=True,
        score=known,
        delirium=known >= CAPD_DELIRIUM,
        icans_grade_by_capd=_capd_row_grade(known, False),
    )


class ICANSAssessment(InstrumentInput):
    """One ICANS assessment (ASTCT). Record only findings not attributable to another cause (e.g. no
    sedating medication). Tremor, myoclonus and intracranial haemorrhage are graded with CTCAE and do
    not influence ICANS. The encephalopathy domain is the ICE score from 12 years of age, and the CAPD
    (the 8 capd_* items, or capd_score) below 12 years or with baseline developmental delay."""

    day: int | None = Field(default=None, description="Study day of the assessment (day 0 = CAR-T infusion).")
    age_years: Exact | None = Field(
        default=None,
        ge=0,
        description="Age in years: the ICE score applies from 12 years (>= 12), the CAPD below 12 (ASTCT). "
        "Without an age, a given ICE score is used (adult grading).",
    )
    baseline_developmental_delay: bool | None = Field(
        default=None,
        description="Baseline developmental delay: ASTCT grades the encephalopathy domain with the CAPD at any age.",
    )
    ice_score: int | None = Field(default=None, ge=0, le=10, description="ICE score 0-10 (or give 'ice' items).")
    ice: ICEInput | None = Field(default=None, description="ICE items, instead of ice_score.")
    capd_score: int | None = Field(
        default=None,
        ge=0,
        le=32,
        description="CAPD total 0-32 (or give the 8 capd_* items): 0 = no ICANS by this row, 1-8 = grade 1, "
        ">= 9 = grade 3.",
    )
    capd_unable: bool | None = Field(
        default=None, description="Unable to perform the CAPD (ICANS grade 4 by the CAPD row)."
    )
    capd_eye_contact: int | None = _capd_field(0)
    capd_purposeful_actions: int | None = _capd_field(1)
    capd_aware_of_surroundings: int | None = _capd_field(2)
    capd_communicates_needs: int | None = _capd_field(3)
    capd_restless: int | None = _capd_field(4)
    capd_inconsolable: int | None = _capd_field(5)
    capd_underactive: int | None = _capd_field(6)
    capd_slow_to_respond: int | None = _capd_field(7)
    consciousness: Consciousness | None = Field(
        default=None,
        description="alert (not depressed, 0); awakens_spontaneously (1); awakens_to_voice (2); "
        "awakens_to_tactile_stimulus (3); unarousable or needs vigorous/repetitive stimuli, stupor, coma (4).",
    )
    seizure: Seizure | None = Field(
        default=None,
        description="none; rapidly_resolving clinical seizure or nonconvulsive seizure on EEG resolving with "
        "intervention (3); prolonged (> 5 min) or repetitive without return to baseline (4).",
    )
    motor: Motor | None = Field(
        default=None, description="none; deep_focal_weakness such as hemiparesis or paraparesis (4)."
    )
    intracranial_pressure: IntracranialPressure | None = Field(
        default=None,
        description="none; focal_edema on neuroimaging (3); diffuse_edema, posturing, cranial nerve VI palsy, "
        "papilledema or Cushing's triad (4).",
    )
    global_aphasia: bool | None = Field(
        default=None, description="Awake with global aphasia (explains an ICE of 0 in an awake patient)."
    )
    death_due_to_icans: bool | None = Field(default=None, description="Death due to ICANS (grade 5).")

    @model_validator(mode="after")
    def _one_ice(self) -> ICANSAssessment:
        if self.ice_score is not None and self.ice is not None:
            raise ValueError("give either ice_score or ice items, not both")
        items = [n for n, _ in _CAPD_ITEMS if getattr(self, n) is not None]
        if self.capd_score is not None and items:
            raise ValueError("give either capd_score or the capd_* items, not both")
        if self.capd_unable and (items or self.capd_score is not None):
            raise ValueError("no CAPD score or items when the CAPD could not be performed (capd_unable)")
        return self

    def capd_given(self) -> bool:
        """Any CAPD information (items, total or 'unable') was recorded."""
        items = any(getattr(self, n) is not None for n, _ in _CAPD_ITEMS)
        return items or self.capd_unable is not None or self.capd_score is not None

    def ice_given(self) -> bool:
        """An ICE score or ICE items were recorded."""
        return self.ice_score is not None or self.ice is not None


class ICANSInput(ICANSAssessment):
    """One ICANS assessment (the fields below), or a course: ``assessments`` with study days."""

    assessments: list[ICANSAssessment] | None = Field(default=None, description="A course of assessments.")

    @model_validator(mode="after")
    def _one_or_course(self) -> ICANSInput:
        if self.assessments is not None:
            mixed = [n for n in ICANSAssessment.model_fields if getattr(self, n) is not None]
            if mixed:
                raise ValueError(
                    f"either one assessment or 'assessments' (a course), not both (also got {', '.join(mixed)})"
                )
        return self


class ICANSOptions(InstrumentOptions):
    """No options."""


class ICANSResult(InstrumentResult):
    grade: int | None = Field(description="ASTCT ICANS grade 0-5 of one assessment.")
    determined_by: list[str] = Field(default_factory=list)
    ice_score: int | None = None
    capd_score: int | None = Field(default=None, description="CAPD total 0-32 (patients graded with the CAPD).")
    encephalopathy_tool: Literal["ice", "capd"] | None = Field(
        default=None, description="ICE (age >= 12 y) or CAPD (age < 12 y or developmental delay)."
    )
    day: int | None = None
    course: list[DayGrade] | None = None
    onset_day: int | None = None
    max_grade: int | None = None
    max_grade_day: int | None = None
    last_day_with_event: int | None = None
    duration_days: int | None = None
    resolution_day: int | None = None
    resolved: bool | None = None

    def headline(self) -> str:
        return _course_headline(self) or super().headline()


def _encephalopathy_tool(a: ICANSAssessment, field: str) -> tuple[Literal["ice", "capd"] | None, str | None]:
    """Which encephalopathy domain applies (ASTCT): ICE from 12 years, CAPD below 12 years or with baseline
    developmental delay. ``(tool, reason_if_undecided)``; contradictory data raise :class:`InvalidInput`."""
    child = a.age_years is not None and a.age_years < PAEDIATRIC_AGE_YEARS
    if child or a.baseline_developmental_delay:
        why = "age < 12 years" if child else "baseline developmental delay"
        if a.ice_given() and a.capd_given():
            raise InvalidInput(f"{field}ice_score", a.ice_score, f"no ICE score for a patient graded with CAPD ({why})")
        if a.ice_given():
            return None, f"{why}: ASTCT grades ICANS with the CAPD, not the ICE score; give the capd_* items"
        return "capd", None
    if a.capd_given():
        if a.ice_given():
            raise InvalidInput(
                f"{field}capd_score", a.capd_score, "either ICE (age >= 12) or CAPD (age < 12), not both"
            )
        if a.age_years is None:
            return None, "missing: age_years (the CAPD applies below 12 years or with developmental delay)"
        raise InvalidInput(
            f"{field}age_years",
            str(a.age_years),
            "an age < 12 years or baseline_developmental_delay=true for CAPD grading (ASTCT: ICE from 12 years)",
        )
    return "ice", None


def _icans_domains(
    assessment: ICANSAssessment | Mapping[str, Any], field: str
) -> tuple[int | None, list[str], int | None, int | None, str | None, str | None]:
    """``(grade, determined_by, ice_score, capd_score, tool, reason_if_not_evaluable)``; see :func:`icans_grade`."""
    a = parse(ICANSAssessment, assessment)
    if a.death_due_to_icans:
        return 5, ["death_due_to_icans"], None, None, None, None
    tool, why = _encephalopathy_tool(a, field)
    if tool is None:
        return None, [], None, None, None, why
    unarousable = a.consciousness == "unarousable"
    score = a.ice_score
    capd: int | None = None
    encephalopathy: int | None
    if tool == "ice":
        if a.ice is not None:
            ice_result = ice(a.ice)
            score = ice_result.score
            if a.ice.unarousable:
                unarousable = True
                if a.consciousness not in (None, "unarousable"):
                    raise InvalidInput(
                        f"{field}consciousness", a.consciousness, "'unarousable' when ICE is unarousable"
                    )
        if unarousable and score not in (None, 0):
            raise InvalidInput(f"{field}ice_score", score, "0 (or nothing) for an unarousable patient")
        encephalopathy = (4 if unarousable else None) if score is None else _ice_row_grade(score, unarousable)
    else:
        capd_missing: list[str] = []
        if a.capd_score is not None:
            capd = a.capd_score
        elif any(getattr(a, n) is not None for n, _ in _CAPD_ITEMS):
            known, capd_missing = _capd_total(a)
            capd = None if capd_missing else known
        if a.capd_unable:
            encephalopathy = 4
        elif capd is not None:
            encephalopathy = _capd_row_grade(capd, False)
        elif capd_missing and _capd_total(a)[0] >= CAPD_DELIRIUM:
            encephalopathy = 3  # the known items already reach 9: CAPD row grade 3 whatever the rest
        elif unarousable:
            encephalopathy = 4  # an unarousable child cannot perform the CAPD
        else:
            encephalopathy = None
    if a.global_aphasia and unarousable:
        raise InvalidInput(f"{field}global_aphasia", True, "false: an unarousable patient is not 'awake with aphasia'")
    domains: dict[str, int | None] = {
        tool: encephalopathy,
        "consciousness": None if a.consciousness is None else _CONSCIOUSNESS_GRADE[a.consciousness],
        "seizure": None if a.seizure is None else _SEIZURE_GRADE[a.seizure],
        "motor": None if a.motor is None else _MOTOR_GRADE[a.motor],
        "intracranial_pressure": None if a.intracranial_pressure is None else _ICP_GRADE[a.intracranial_pressure],
    }
    known_domains = {k: v for k, v in domains.items() if v is not None}
    top = max(known_domains.values()) if known_domains else None
    missing = [k for k, v in domains.items() if v is None]
    if tool == "capd" and "capd" in missing:
        _, items_missing = _capd_total(a)
        if a.capd_score is None and len(items_missing) < len(_CAPD_ITEMS):
            missing[missing.index("capd")] = "capd (" + ", ".join(items_missing) + ")"
    ice_out = (0 if unarousable else score) if tool == "ice" else None
    if missing and not (top is not None and top >= 4):
        return None, [], ice_out if tool == "ice" else None, capd, tool, "missing: " + ", ".join(missing)
    grade = top if top is not None else 0
    drivers = [k for k, v in known_domains.items() if v == grade and grade > 0]
    return grade, drivers, ice_out, capd, tool, None


def icans_grade(
    assessment: ICANSAssessment | Mapping[str, Any], *, field: str = ""
) -> tuple[int | None, list[str], int | None, str | None]:
    """ASTCT ICANS grade: ``(grade, determined_by, ice_score, reason_if_not_evaluable)``.

    Lee DW et al., Biol Blood Marrow Transplant 2019. The grade is the most severe of five domains:

    * encephalopathy, from 12 years of age (>= 12) the ICE score (7-9 = 1; 3-6 = 2; 0-2 = 3; 0 because
      unarousable = 4); below 12 years (< 12) or with baseline developmental delay the CAPD total
      (Traube 2014; 1-8 = 1, the table lists 1-8 under grades 1 and 2; **>= 9** = 3; unable to perform
      the CAPD = 4; 0 = no ICANS by this row);
    * depressed level of consciousness (awakens spontaneously = 1; to voice = 2; only to tactile
      stimulus = 3; unarousable = 4);
    * seizure (rapidly resolving = 3; prolonged > 5 min or repetitive = 4); motor findings (deep focal
      weakness = 4); raised ICP / cerebral oedema (focal oedema = 3; diffuse oedema, posturing, CN VI
      palsy, papilloedema or Cushing's triad = 4).

    ICE 0 in an awake patient with global aphasia is grade 3; ICE 0 in an unarousable patient is grade 4.
    Every domain must be recorded unless a recorded domain already sets grade 4; CAPD items already
    summing to >= 9 set the CAPD row to 3 even with items missing.
    """
    grade, drivers, ice_score, _, _, reason = _icans_domains(assessment, field)
    return grade, drivers, ice_score, reason


def icans(
    inputs: ICANSInput | Mapping[str, Any], *, options: ICANSOptions | Mapping[str, Any] | None = None
) -> ICANSResult:
    """ASTCT ICANS grade of one assessment (see :func:`icans_grade`; ICE from 12 years, CAPD below 12
    years or with developmental delay), or the course of a patient's assessments with onset day,
    maximum grade, duration and resolution day (as for CRS).

    Lee DW et al., Biol Blood Marrow Transplant 2019; CAPD: Traube C et al., Crit Care Med 2014.
    """
    inputs = parse(ICANSInput, inputs)
    options = parse(ICANSOptions, options)
    base = {
        "instrument": "icans",
        "variant": "ASTCT 2019 ICANS (ICE from 12 y; CAPD below 12 y or with developmental delay)",
        "source": ICANS_SOURCE,
    }
    if inputs.assessments is None:
        one = ICANSAssessment.model_validate(inputs.model_dump(exclude={"assessments"}, exclude_none=True))
        grade, drivers, score, capd, tool, reason = _icans_domains(one, "")
        return ICANSResult(
            **base,
            evaluable=grade is not None,
            reason=reason,
            grade=grade,
            determined_by=drivers,
            ice_score=score,
            capd_score=capd,
            encephalopathy_tool=tool,
            day=inputs.day,
        )
    if not inputs.assessments:
        raise InvalidInput("assessments", [], "at least one assessment")
    graded = [
        (_day_of(inputs.assessments, i, "assessments"), icans_grade(a, field=f"assessments.{i}.")[0])
        for i, a in enumerate(inputs.assessments)
    ]
    by_day = _daily_max(graded)
    summary, reason = _summarise_course(by_day)
    return ICANSResult(
        **base,
        evaluable=reason is None,
        reason=reason,
        grade=None,
        course=[DayGrade(day=d, grade=g) for d, g in by_day],
        **summary.model_dump(),
    )


# ---------------------------------------------------------------------------------------------
# ICAHT (EHA/EBMT 2023)
# ---------------------------------------------------------------------------------------------

ICAHT_SEVERE = Decimal(500)  # early ICAHT: days with ANC <= 500/µL
ICAHT_PROFOUND = Decimal(100)  # early ICAHT: days with ANC <= 100/µL
LATE_ICAHT_THRESHOLDS: tuple[tuple[int, Decimal], ...] = (
    (4, Decimal(100)),  # late ICAHT grade 4: ANC <= 100/µL
    (3, Decimal(500)),  # grade 3: ANC <= 500/µL
    (2, Decimal(1000)),  # grade 2: ANC <= 1000/µL
    (1, Decimal(1500)),  # grade 1: ANC <= 1500/µL
)
EARLY_WINDOW_END_DAY = 30  # early ICAHT: day 0 to day +30; late ICAHT: after day +30


class ANCObservation(InstrumentInput):
    """One absolute neutrophil count on a study day."""

    day: int = Field(description="Study day (day 0 = CAR-T infusion).")
    value: Exact = Field(ge=0, description="Absolute neutrophil count.")
    unit: str | None = Field(default=None, description="Unit of this value, if not the series 'unit'.")


class ICAHTInput(InstrumentInput):
    """An absolute neutrophil count series relative to CAR-T infusion."""

    anc: list[ANCObservation] = Field(description="ANC observations (several on one day: the lowest counts).")
    unit: str | None = Field(
        default=None, description="Unit of the ANC values (e.g. /uL, 10*9/L, /nL), unless each value has its own."
    )
    censor_day: int | None = Field(
        default=None,
        description="Study day after which counts no longer count (death, progression/relapse, subsequent "
        "therapy); observations after it are ignored.",
    )
    censor_reason: Literal["death", "progression", "subsequent_therapy", "last_follow_up"] | None = Field(
        default=None, description="Why follow-up was censored."
    )


class ICAHTOptions(InstrumentOptions):
    counting: Literal["cumulative", "longest_episode"] = Field(
        default="cumulative",
        description="How neutropenic days in day 0-30 are counted: 'cumulative' (all days below the threshold "
        "plus days of non-stable recovery, as the consensus authors' T-ICAHT paper describes for N-ICAHT) "
        "or 'longest_episode' (the longest episode, joining episodes separated by non-stable recovery; "
        "Liang's open-source implementation).",
    )
    stable_recovery_days: int = Field(
        default=3,
        ge=1,
        description="Consecutive days above the threshold that make a recovery stable (CIBMTR engraftment: 3).",
    )
    gap_handling: Literal["bounds", "linear"] = Field(
        default="bounds",
        description="Days without a count: 'bounds' grades with missing days as neutropenic and as not, and is "
        "evaluable only if both agree; 'linear' first interpolates linearly between counts up to "
        "max_interpolation_gap_days apart (Liang) and bounds what remains.",
    )
    max_interpolation_gap_days: int = Field(
        default=7, ge=1, description="Longest run of missing days filled by linear interpolation."
    )
    never_recovered_onset_by_day: int = Field(
        default=3,
        ge=0,
        le=30,
        description="Grade 4 'ANC never above 500': neutropenia beginning by this day that never recovers "
        "through day 30 (or censoring).",
    )
    late_min_measurements: int = Field(
        default=2, ge=1, description="Late ICAHT needs this many counts at or below the grade's threshold."
    )
    late_rule: Literal["each_grade", "nadir"] = Field(
        default="each_grade",
        description="'each_grade': the highest grade whose threshold late_min_measurements counts meet "
        "(non-transient at every grade); 'nadir': the grade of the lowest count, provided "
        "late_min_measurements counts are <= 1500/µL (Liang's implementation; may over-grade).",
    )
    late_end_day: int | None = Field(
        default=None, ge=31, description="Last study day counted for late ICAHT (none = all follow-up)."
    )


class ICAHTResult(InstrumentResult):
    early_grade: int | None = Field(description="Early ICAHT grade 0-4 (day 0 to +30).")
    early_grade_range: tuple[int, int] | None = Field(
        default=None, description="Lowest and highest early grade compatible with the missing days."
    )
    days_anc_le_500: int | None = Field(description="Days of the early window with ANC <= 500/µL (as measured).")
    days_anc_le_100: int | None = Field(description="Days of the early window with ANC <= 100/µL (as measured).")
    counted_days_le_500: int | None = Field(
        default=None,
        description="Days counted for the grade at <= 500/µL by the counting option: with cumulative counting the "
        "measured days plus days of non-stable recovery; with longest_episode the longest joined episode.",
    )
    counted_days_le_100: int | None = Field(default=None, description="The same at <= 100/µL.")
    never_recovered: bool | None = None
    early_window: tuple[int, int] | None = None
    missing_early_days: list[int] = Field(default_factory=list)
    late_grade: int | None = Field(description="Late ICAHT grade 0-4 (after day +30).")
    late_nadir_per_uL: Exact | None = None
    late_measurements: int = 0
    late_reason: str | None = None
    early_reason: str | None = None

    def headline(self) -> str:
        parts = [
            f"{phase} grade {grade}" if grade is not None else f"{phase}: not evaluable"
            for phase, grade in (("early", self.early_grade), ("late", self.late_grade))
        ]
        return "; ".join(parts) if (self.early_grade, self.late_grade) != (None, None) else super().headline()


def _runs(flags: Sequence[bool]) -> list[tuple[int, int, bool]]:
    """Runs of equal flags: (start index, length, flag)."""
    runs: list[tuple[int, int, bool]] = []
    for i, f in enumerate(flags):
        if runs and runs[-1][2] == f:
            s, n, _ = runs[-1]
            runs[-1] = (s, n + 1, f)
        else:
            runs.append((i, 1, f))
    return runs


def _neutropenic_days(below: Sequence[bool], counting: str, stable: int) -> int:
    """Days below a threshold, counting days of non-stable recovery between neutropenic days.

    A recovery (run of days above the threshold) shorter than ``stable`` days and bounded by
    neutropenic days on both sides is non-stable: its days count as neutropenic (cumulative) or join
    the two episodes (longest episode). A recovery at the end of the window is not counted.
    """
    runs = _runs(below)
    merged: list[tuple[int, int, bool]] = []
    for k, (s, n, f) in enumerate(runs):
        bridged = not f and 0 < k < len(runs) - 1 and n < stable
        merged.append((s, n, True if bridged else f))
    if counting == "cumulative":
        return sum(n for _, n, f in merged if f)
    longest = 0
    for _, n, f in _runs_of(merged):
        if f:
            longest = max(longest, n)
    return longest


def _runs_of(runs: list[tuple[int, int, bool]]) -> list[tuple[int, int, bool]]:
    out: list[tuple[int, int, bool]] = []
    for s, n, f in runs:
        if out and out[-1][2] == f:
            os_, on, _ = out[-1]
            out[-1] = (os_, on + n, f)
        else:
            out.append((s, n, f))
    return out


def _early_grade(n500: int, n100: int, never_recovered: bool) -> int:
    """Early ICAHT (EHA/EBMT 2023): ANC <= 500/µL for 1-6 days = 1, 7-13 = 2, >= 14 = 3, never above
    500/µL = 4; ANC <= 100/µL for >= 7 days = 3, >= 14 days = 4."""
    grade = 0
    if n500 >= 1:
        grade = 1
    if n500 >= 7:
        grade = 2
    if n500 >= 14:
        grade = 3
    if n100 >= 7:
        grade = max(grade, 3)
    if n100 >= 14 or never_recovered:  # grade 4 at <= 500/µL: "> 30 days", i.e. never above 500 in the window
        grade = 4
    return grade


def _grade_daily(
    values: Sequence[Fraction | None], missing_as_neutropenic: bool, opts: ICAHTOptions, censored_by_death: bool
) -> tuple[int, int, int, bool, int, int]:
    """(grade, counted days <= 500, counted days <= 100, never recovered, measured days <= 500, <= 100)."""
    fill_500 = missing_as_neutropenic
    below500 = [fill_500 if v is None else v <= ICAHT_SEVERE for v in values]
    below100 = [fill_500 if v is None else v <= ICAHT_PROFOUND for v in values]
    n500 = _neutropenic_days(below500, opts.counting, opts.stable_recovery_days)
    n100 = _neutropenic_days(below100, opts.counting, opts.stable_recovery_days)
    never = False
    onset = next((i for i, b in enumerate(below500) if b), None)
    if onset is not None and onset <= opts.never_recovered_onset_by_day and all(below500[onset:]):
        # Window must reach day 30, or follow-up ended by death with no recovery.
        never = len(values) == EARLY_WINDOW_END_DAY + 1 or censored_by_death
    return _early_grade(n500, n100, never), n500, n100, never, sum(below500), sum(below100)


def _lowest_by_day(
    observations: Sequence[ANCObservation | PlateletObservation],
    series_unit: str | None,
    censor_day: int | None,
    field: str,
    needs: str,
) -> dict[int, Decimal]:
    """The lowest count of each study day in /µL, ignoring counts after ``censor_day`` (ICAHT and T-ICAHT).
    A count without its own unit takes the series unit; neither is an error naming the count."""
    by_day: dict[int, Decimal] = {}
    for i, obs in enumerate(observations):
        unit = obs.unit or series_unit
        if unit is None:
            raise InvalidInput(f"{field}.{i}.unit", InvalidInput.MISSING, f"{needs} (or the series 'unit')")
        value = convert(obs.value, unit, "/uL", field=f"{field}.{i}.value")
        if censor_day is not None and obs.day > censor_day:
            continue
        by_day[obs.day] = min(value, by_day.get(obs.day, value))
    return by_day


def icaht(
    inputs: ICAHTInput | Mapping[str, Any], *, options: ICAHTOptions | Mapping[str, Any] | None = None
) -> ICAHTResult:
    """Early and late neutrophil ICAHT (Rejeski K et al., EHA/EBMT consensus, Blood 2023).

    Early ICAHT (day 0 to +30), by depth and duration of neutropenia:

    * ANC **<= 500/µL** for 1-6 days = grade 1; 7-13 days = grade 2; **>= 14** days = grade 3;
      ANC never above 500/µL = grade 4;
    * ANC **<= 100/µL** for **>= 7** days = grade 3 (at least); **>= 14** days = grade 4.

    Days are counted per the ``counting`` option (default cumulative, non-stable recoveries of
    < ``stable_recovery_days`` days counted). "Never above 500" is operationalised as neutropenia
    starting by day ``never_recovered_onset_by_day`` (default 3) without any count above 500 up to
    day +30, or up to death. The window ends at day 30 or at ``censor_day`` if earlier.

    Late ICAHT (after day +30): ANC **<= 1500** = 1, **<= 1000** = 2, **<= 500** = 3, **<= 100** = 4/µL,
    measured at >= 2 time points: by default each grade needs ``late_min_measurements`` (2) counts at
    or below its threshold (``late_rule='nadir'``: the nadir's grade once 2 counts are <= 1500).

    Missing days are never assumed normal: with ``gap_handling='bounds'`` the early grade is computed
    with every missing day neutropenic (ANC <= 100) and with none neutropenic; it is evaluable only
    when the two agree (``early_grade_range`` shows both).
    """
    inputs = parse(ICAHTInput, inputs)
    options = parse(ICAHTOptions, options)
    variant = (
        f"EHA/EBMT 2023 N-ICAHT ({options.counting.replace('_', ' ')} counting, "
        f"stable recovery {options.stable_recovery_days} d, gaps: {options.gap_handling})"
    )
    base = {"instrument": "icaht", "variant": variant, "source": ICAHT_SOURCE}
    by_day = _lowest_by_day(inputs.anc, inputs.unit, inputs.censor_day, "anc", "a unit for the ANC")

    # ---- early ICAHT
    end = EARLY_WINDOW_END_DAY if inputs.censor_day is None else min(EARLY_WINDOW_END_DAY, inputs.censor_day)
    early: dict[str, Any]
    if end < 0:
        early = {
            "early_grade": None,
            "days_anc_le_500": None,
            "days_anc_le_100": None,
            "early_reason": "follow-up censored before day 0",
        }
    else:
        days = list(range(0, end + 1))
        values: list[Fraction | None] = [None if d not in by_day else Fraction(by_day[d]) for d in days]
        if options.gap_handling == "linear":
            values = _interpolate(values, days, by_day, options.max_interpolation_gap_days)
        missing = [d for d, v in zip(days, values, strict=True) if v is None]
        death = inputs.censor_reason == "death" and inputs.censor_day is not None and inputs.censor_day <= 30
        lo = _grade_daily(values, False, options, death)
        hi = _grade_daily(values, True, options, death)
        early = {"early_window": (0, end), "missing_early_days": missing, "early_grade_range": (lo[0], hi[0])}
        if lo[0] == hi[0]:
            early.update(
                early_grade=lo[0],
                counted_days_le_500=lo[1] if lo[1] == hi[1] else None,
                counted_days_le_100=lo[2] if lo[2] == hi[2] else None,
                days_anc_le_500=lo[4] if lo[4] == hi[4] else None,
                days_anc_le_100=lo[5] if lo[5] == hi[5] else None,
                never_recovered=lo[3] if lo[3] == hi[3] else None,
                early_reason=None,
            )
        else:
            early.update(
                early_grade=None,
                days_anc_le_500=None,
                days_anc_le_100=None,
                early_reason=f"no count on {_ranges(missing)}: early grade between {lo[0]} and {hi[0]}",
            )

    # ---- late ICAHT
    last = options.late_end_day
    late_values = [v for d, v in sorted(by_day.items()) if d > EARLY_WINDOW_END_DAY and (last is None or d <= last)]
    late_grade: int | None
    late_reason: str | None = None
    if len(late_values) < options.late_min_measurements:
        late_grade = None
        late_reason = f"{len(late_values)} count(s) after day +30; late ICAHT needs {options.late_min_measurements}"
    else:
        late_grade = 0
        needed = options.late_min_measurements
        nadir = min(late_values)
        for grade, threshold in LATE_ICAHT_THRESHOLDS:
            if options.late_rule == "nadir":
                neutropenic = sum(1 for v in late_values if v <= LATE_ICAHT_THRESHOLDS[-1][1])
                if nadir <= threshold and neutropenic >= needed:
                    late_grade = grade
                    break
            elif sum(1 for v in late_values if v <= threshold) >= needed:
                late_grade = grade
                break
    early_reason = early.get("early_reason")
    reasons = [r for r in (early_reason and f"early: {early_reason}", late_reason and f"late: {late_reason}") if r]
    return ICAHTResult(
        **base,
        evaluable=early.get("early_grade") is not None and late_grade is not None,
        reason="; ".join(reasons) or None,
        late_grade=late_grade,
        late_nadir_per_uL=min(late_values) if late_values else None,
        late_measurements=len(late_values),
        late_reason=late_reason,
        **early,
    )


def _interpolate(
    values: list[Fraction | None], days: list[int], by_day: Mapping[int, Decimal], max_gap: int
) -> list[Fraction | None]:
    """Fill runs of at most ``max_gap`` missing days lying between two counts, linearly (exact)."""
    known = sorted(by_day)
    out = list(values)
    for i, d in enumerate(days):
        if out[i] is not None:
            continue
        before = max((k for k in known if k < d), default=None)
        after = min((k for k in known if k > d), default=None)
        if before is None or after is None or after - before - 1 > max_gap:
            continue
        a, b = Fraction(by_day[before]), Fraction(by_day[after])
        out[i] = a + (b - a) * Fraction(d - before, after - before)
    return out


def _ranges(days: Sequence[int]) -> str:
    if not days:
        return "no day"
    parts: list[str] = []
    start = prev = days[0]
    for d in [*days[1:], None]:
        if d is not None and d == prev + 1:
            prev = d
            continue
        parts.append(f"day {start}" if start == prev else f"days {start}-{prev}")
        if d is not None:
            start = prev = d
    return ", ".join(parts)


# ---------------------------------------------------------------------------------------------
# T-ICAHT (Rejeski, Shouval et al., Blood 2025)
# ---------------------------------------------------------------------------------------------

T_ICAHT_G1_G2 = Decimal(50_000)  # early T-ICAHT: days with PLT < 50 x 10^9/L (strictly below)
T_ICAHT_G3_G4 = Decimal(20_000)  # early and late T-ICAHT: days with PLT < 20 x 10^9/L (strictly below)
T_ICAHT_LATE_G1 = Decimal(100_000)  # late T-ICAHT grade 1: PLT < 100 x 10^9/L
T_ICAHT_LONG_DAYS = 14  # grade 4: PLT < 20 x 10^9/L for >= 14 days (1-13 days = grade 3)
T_ICAHT_G2_DAYS = 7  # early grade 2: PLT < 50 x 10^9/L for >= 7 days (1-6 days = grade 1)


class PlateletObservation(InstrumentInput):
    """One platelet count on a study day."""

    day: int = Field(description="Study day (day 0 = CAR-T infusion).")
    value: Exact = Field(ge=0, description="Platelet count.")
    unit: str | None = Field(default=None, description="Unit of this value, if not the series 'unit'.")


class TICAHTInput(InstrumentInput):
    """A platelet count series relative to CAR-T infusion (a series, like the ANC series of ICAHT)."""

    platelets: list[PlateletObservation] = Field(description="Platelet counts (several on one day: the lowest counts).")
    unit: str | None = Field(
        default=None, description="Unit of the counts (e.g. 10*9/L, /nL, /uL), unless each value has its own."
    )
    censor_day: int | None = Field(
        default=None,
        description="Study day after which counts no longer count (disease progression, subsequent line of "
        "therapy, death); observations after it are ignored.",
    )
    censor_reason: Literal["death", "progression", "subsequent_therapy", "last_follow_up"] | None = Field(
        default=None, description="Why follow-up was censored."
    )


class TICAHTOptions(InstrumentOptions):
    stable_recovery_days: int = Field(
        default=3,
        ge=1,
        description="A recovery above a threshold shorter than this many consecutive days, between thrombocytopenic "
        "days, is non-stable and its days are counted (T-ICAHT: non-stable recovery < 3 days).",
    )
    gap_handling: Literal["bounds", "linear"] = Field(
        default="bounds",
        description="Days without a count: 'bounds' grades with missing days as < 20 x 10^9/L and as normal and is "
        "evaluable only if both agree; 'linear' first interpolates linearly between counts up to "
        "max_interpolation_gap_days apart and bounds what remains.",
    )
    max_interpolation_gap_days: int = Field(
        default=7, ge=1, description="Longest run of missing days filled by linear interpolation."
    )
    late_end_day: int = Field(
        default=100,
        ge=31,
        description="Last study day of late T-ICAHT (the publication: day +100; later follow-up 'may be appropriate').",
    )
    late_min_measurements: int = Field(
        default=2,
        ge=1,
        description="Late T-ICAHT needs this many counts below the grade's threshold ('two or more laboratory tests').",
    )


class TICAHTResult(InstrumentResult):
    early_grade: int | None = Field(description="Early T-ICAHT grade 0-4 (day 0 to +30).")
    early_grade_range: tuple[int, int] | None = Field(
        default=None, description="Lowest and highest early grade compatible with the days without a count."
    )
    days_plt_lt_50: int | None = Field(default=None, description="Early-window days with PLT < 50 x 10^9/L (measured).")
    days_plt_lt_20: int | None = Field(default=None, description="Early-window days with PLT < 20 x 10^9/L (measured).")
    counted_days_lt_50: int | None = Field(
        default=None, description="Cumulative days < 50 x 10^9/L counted for the grade (with non-stable recovery)."
    )
    counted_days_lt_20: int | None = Field(default=None, description="The same below 20 x 10^9/L.")
    early_window: tuple[int, int] | None = None
    missing_early_days: list[int] = Field(default_factory=list)
    early_reason: str | None = None
    late_grade: int | None = Field(description="Late T-ICAHT grade 0-4 (day +31 to late_end_day).")
    late_grade_range: tuple[int, int] | None = None
    late_measurements: int = 0
    late_counts_lt_100: int = 0
    late_counts_lt_50: int = 0
    late_counts_lt_20: int = 0
    late_counted_days_lt_20: tuple[int, int] | None = Field(
        default=None, description="Lowest and highest cumulative days < 20 x 10^9/L in the late window."
    )
    late_nadir_per_uL: Exact | None = None
    late_reason: str | None = None

    def headline(self) -> str:
        parts = [
            f"{phase} grade {grade}" if grade is not None else f"{phase}: not evaluable"
            for phase, grade in (("early", self.early_grade), ("late", self.late_grade))
        ]
        return "; ".join(parts) if (self.early_grade, self.late_grade) != (None, None) else super().headline()


def _t_early_grade(n50: int, n20: int) -> int:
    """Early T-ICAHT: PLT < 50 for 1-6 days = 1, >= 7 days = 2; PLT < 20 for 1-13 days = 3, >= 14 days = 4."""
    grade = 0
    if n50 >= 1:
        grade = 1
    if n50 >= T_ICAHT_G2_DAYS:
        grade = 2
    if n20 >= 1:
        grade = 3
    if n20 >= T_ICAHT_LONG_DAYS:
        grade = 4
    return grade


def _t_counted(values: Sequence[Fraction | None], fill_low: bool, threshold: Decimal, stable: int) -> tuple[int, int]:
    """(counted days below ``threshold`` with non-stable recovery, measured days below it); missing days are
    below the threshold when ``fill_low``."""
    below = [fill_low if v is None else v < threshold for v in values]
    measured = sum(1 for v in values if v is not None and v < threshold)
    return _neutropenic_days(below, "cumulative", stable), measured


def t_icaht(
    inputs: TICAHTInput | Mapping[str, Any], *, options: TICAHTOptions | Mapping[str, Any] | None = None
) -> TICAHTResult:
    """Early and late thrombocytopenia ICAHT (T-ICAHT; Rejeski K, Sanz J, Fei T, ... Shouval R, Blood 2025).

    Early T-ICAHT (day 0 to +30), by cumulative days below a threshold (days of non-stable recovery,
    < ``stable_recovery_days`` = 3 days between thrombocytopenic days, are counted; censoring at
    progression, subsequent therapy or death via ``censor_day``):

    * PLT **< 50** x 10^9/L for 1-6 days = grade 1; **>= 7** days = grade 2;
    * PLT **< 20** x 10^9/L for 1-13 days = grade 3; **>= 14** days = grade 4.

    Late T-ICAHT (day +31 to +100, ``late_end_day``), with two or more laboratory tests below the
    threshold (``late_min_measurements``):

    * PLT **< 100** x 10^9/L = grade 1; PLT **< 50** = grade 2 (column position inferred from the table;
      see docs); PLT **< 20** for 1-13 days = grade 3, **>= 14** days = grade 4 (cumulative days, counted
      as in the early window).

    Missing days are never assumed normal: with ``gap_handling='bounds'`` each grade is computed with
    the missing days as thrombocytopenic (< 20) and as normal; it is evaluable when the two agree. The
    counts are graded as measured: the paper defines platelet *recovery* as 3 consecutive days >= 20 x
    10^9/L without transfusion for 7 days, but its grading table is by counts, so transfusion-supported
    counts are not excluded (record transfusions separately).
    """
    inputs = parse(TICAHTInput, inputs)
    options = parse(TICAHTOptions, options)
    base = {
        "instrument": "t_icaht",
        "variant": f"T-ICAHT 2025 (cumulative days, stable recovery {options.stable_recovery_days} d, "
        f"gaps: {options.gap_handling}, late to day {options.late_end_day})",
        "source": T_ICAHT_SOURCE,
    }
    by_day = _lowest_by_day(inputs.platelets, inputs.unit, inputs.censor_day, "platelets", "a unit for the count")
    stable = options.stable_recovery_days
    last_day = options.late_end_day if inputs.censor_day is None else min(options.late_end_day, inputs.censor_day)
    all_days = list(range(0, max(last_day, 0) + 1))
    series: list[Fraction | None] = [None if d not in by_day else Fraction(by_day[d]) for d in all_days]
    if options.gap_handling == "linear" and all_days:
        series = _interpolate(series, all_days, by_day, options.max_interpolation_gap_days)

    # ---- early T-ICAHT
    end = min(EARLY_WINDOW_END_DAY, last_day)
    early: dict[str, Any]
    if end < 0:
        early = {"early_grade": None, "early_reason": "follow-up censored before day 0"}
    else:
        values = series[: end + 1]
        missing = [d for d, v in zip(all_days, values, strict=False) if v is None]
        lo50, m50 = _t_counted(values, False, T_ICAHT_G1_G2, stable)
        hi50, _ = _t_counted(values, True, T_ICAHT_G1_G2, stable)
        lo20, m20 = _t_counted(values, False, T_ICAHT_G3_G4, stable)
        hi20, _ = _t_counted(values, True, T_ICAHT_G3_G4, stable)
        lo, hi = _t_early_grade(lo50, lo20), _t_early_grade(hi50, hi20)
        early = {"early_window": (0, end), "missing_early_days": missing, "early_grade_range": (lo, hi)}
        if lo == hi:
            early.update(
                early_grade=lo,
                counted_days_lt_50=lo50 if lo50 == hi50 else None,
                counted_days_lt_20=lo20 if lo20 == hi20 else None,
                days_plt_lt_50=m50,
                days_plt_lt_20=m20,
            )
        else:
            early.update(
                early_grade=None,
                early_reason=f"no count on {_ranges(missing)}: early grade between {lo} and {hi}",
            )

    # ---- late T-ICAHT
    late_values = [v for d, v in sorted(by_day.items()) if EARLY_WINDOW_END_DAY < d <= last_day]
    late: dict[str, Any] = {
        "late_measurements": len(late_values),
        "late_nadir_per_uL": min(late_values) if late_values else None,
        "late_counts_lt_100": sum(1 for v in late_values if v < T_ICAHT_LATE_G1),
        "late_counts_lt_50": sum(1 for v in late_values if v < T_ICAHT_G1_G2),
        "late_counts_lt_20": sum(1 for v in late_values if v < T_ICAHT_G3_G4),
    }
    needed = options.late_min_measurements
    if len(late_values) < needed:
        late.update(
            late_grade=None,
            late_reason=f"{len(late_values)} count(s) after day +30; late T-ICAHT needs {needed}",
        )
    else:
        grade = 0
        for g, key in ((1, "late_counts_lt_100"), (2, "late_counts_lt_50"), (3, "late_counts_lt_20")):
            if late[key] >= needed:
                grade = g
        if grade < 3:
            late.update(late_grade=grade, late_grade_range=(grade, grade))
        else:
            window = series[EARLY_WINDOW_END_DAY + 1 : last_day + 1]
            lo_days, _ = _t_counted(window, False, T_ICAHT_G3_G4, stable)
            hi_days, _ = _t_counted(window, True, T_ICAHT_G3_G4, stable)
            lo_g = 4 if lo_days >= T_ICAHT_LONG_DAYS else 3
            hi_g = 4 if hi_days >= T_ICAHT_LONG_DAYS else 3
            late.update(late_grade_range=(lo_g, hi_g), late_counted_days_lt_20=(lo_days, hi_days))
            if lo_g == hi_g:
                late.update(late_grade=lo_g)
            else:
                late_missing = [
                    d for d, v in zip(range(EARLY_WINDOW_END_DAY + 1, last_day + 1), window, strict=False) if v is None
                ]
                late.update(
                    late_grade=None,
                    late_reason=f"PLT < 20 x 10^9/L for {lo_days} to {hi_days} days: no count on "
                    f"{_ranges(late_missing)} (grade 3 or 4)",
                )
    reasons = [
        r
        for r in (
            early.get("early_reason") and f"early: {early['early_reason']}",
            late.get("late_reason") and f"late: {late['late_reason']}",
        )
        if r
    ]
    return TICAHTResult(
        **base,
        evaluable=early.get("early_grade") is not None and late.get("late_grade") is not None,
        reason="; ".join(reasons) or None,
        **early,
        **late,
    )


# ---------------------------------------------------------------------------------------------
# CAR-HEMATOTOX (Rejeski 2021)
# ---------------------------------------------------------------------------------------------

HT_PLATELETS_HIGH = Decimal(175_000)  # /µL: > 175,000 = 0 points; 75,000-175,000 = 1
HT_PLATELETS_LOW = Decimal(75_000)  # /µL: < 75,000 = 2 points
HT_ANC = Decimal(1200)  # /µL: < 1200 = 1 point
HT_HEMOGLOBIN = Decimal("9.0")  # g/dL: < 9.0 = 1 point
HT_CRP = Decimal("3.0")  # mg/dL: >= 3.0 = 1 point (< 3.0 = 0)
HT_FERRITIN_LOW = Decimal(650)  # ng/mL: 650-2000 = 1 point
HT_FERRITIN_HIGH = Decimal(2000)  # ng/mL: > 2000 = 2 points
HT_HIGH_RISK = 2  # score >= 2 = high risk; 0-1 = low risk


class CARHematotoxInput(InstrumentInput):
    """Baseline values measured before lymphodepleting chemotherapy (e.g. day -5)."""

    platelets: Quantity | None = Field(default=None, description="Platelet count (e.g. 10*9/L or /uL).")
    anc: Quantity | None = Field(default=None, description="Absolute neutrophil count (e.g. /uL or 10*9/L).")
    hemoglobin: Quantity | None = Field(default=None, description="Haemoglobin (g/dL or g/L).")
    crp: Quantity | None = Field(default=None, description="C-reactive protein (mg/dL or mg/L; 3.0 mg/dL = 30 mg/L).")
    ferritin: Quantity | None = Field(default=None, description="Ferritin (ng/mL = ug/L).")


class CARHematotoxOptions(InstrumentOptions):
    """No options."""


class CARHematotoxResult(InstrumentResult):
    score: int | None = Field(description="CAR-HEMATOTOX score 0-7.")
    risk: Literal["low", "high"] | None = Field(description="low (0-1) or high (>= 2).")
    points: dict[str, int | None] = Field(default_factory=dict)
    at_cutoff: list[str] = Field(
        default_factory=list,
        description="Items exactly at a cut-off whose side the publication's notation leaves open.",
    )
    note: str = (
        "Validated in large B-cell lymphoma (axi-cel, tisa-cel); not validated in autoimmune disease "
        "(EBMT 2024, Greco R et al. EClinicalMedicine 2024;69:102476)."
    )

    def headline(self) -> str:
        if self.risk is not None and self.score is None:
            return f"{self.risk} risk (score not complete: the known points already decide)"
        if self.score is not None:
            return f"score {self.score}: {self.risk} risk"
        return super().headline()


def car_hematotox(
    inputs: CARHematotoxInput | Mapping[str, Any],
    *,
    options: CARHematotoxOptions | Mapping[str, Any] | None = None,
) -> CARHematotoxResult:
    """CAR-HEMATOTOX score (Rejeski K et al., Blood 2021;138(24):2499-2513), before lymphodepletion.

    * platelets: > 175,000/µL = 0; 75,000-175,000/µL (inclusive) = 1; **< 75,000**/µL = 2;
    * ANC: **< 1200**/µL = 1 (>= 1200 = 0);
    * haemoglobin: **< 9.0** g/dL = 1 (>= 9.0 = 0);
    * CRP: **>= 3.0** mg/dL = 1 (< 3.0 = 0);
    * ferritin: < 650 ng/mL = 0; 650-2000 ng/mL (inclusive) = 1; **> 2000** ng/mL = 2.

    Score 0-7; **0-1 = low**, **>= 2 = high** risk. The publication writes the binary items as
    ">"/"<" pairs; exact cut-off values are assigned as above (see docs) and flagged in
    ``at_cutoff``. With items missing, the risk is still reported when the available items already
    reach 2 points.
    """
    inputs = parse(CARHematotoxInput, inputs)
    options = parse(CARHematotoxOptions, options)
    base = {"instrument": "car_hematotox", "variant": "Rejeski 2021 (0-7, high >= 2)", "source": HEMATOTOX_SOURCE}
    points: dict[str, int | None] = {}
    cut: list[str] = []
    if inputs.platelets is not None:
        plt = _in(inputs.platelets, "/uL", "platelets")
        points["platelets"] = 2 if plt < HT_PLATELETS_LOW else 1 if plt <= HT_PLATELETS_HIGH else 0
        if plt in (HT_PLATELETS_LOW, HT_PLATELETS_HIGH):
            cut.append("platelets")
    if inputs.anc is not None:
        anc = _in(inputs.anc, "/uL", "anc")
        points["anc"] = 1 if anc < HT_ANC else 0
        if anc == HT_ANC:
            cut.append("anc")
    if inputs.hemoglobin is not None:
        hb = _in(inputs.hemoglobin, "g/dL", "hemoglobin")
        points["hemoglobin"] = 1 if hb < HT_HEMOGLOBIN else 0
        if hb == HT_HEMOGLOBIN:
            cut.append("hemoglobin")
    if inputs.crp is not None:
        crp_value = _in(inputs.crp, "mg/dL", "crp")
        points["crp"] = 1 if crp_value >= HT_CRP else 0
        if crp_value == HT_CRP:
            cut.append("crp")
    if inputs.ferritin is not None:
        fer = _in(inputs.ferritin, "ng/mL", "ferritin")
        points["ferritin"] = 2 if fer > HT_FERRITIN_HIGH else 1 if fer >= HT_FERRITIN_LOW else 0
        if fer in (HT_FERRITIN_LOW, HT_FERRITIN_HIGH):
            cut.append("ferritin")
    items = ("platelets", "anc", "hemoglobin", "crp", "ferritin")
    missing = [i for i in items if i not in points]
    for item in missing:
        points[item] = None
    known = sum(p for p in points.values() if p is not None)
    if not missing:
        return CARHematotoxResult(
            **base,
            evaluable=True,
            score=known,
            risk="high" if known >= HT_HIGH_RISK else "low",
            points=points,
            at_cutoff=cut,
        )
    if known >= HT_HIGH_RISK:
        return CARHematotoxResult(
            **base,
            evaluable=True,
            reason=f"score incomplete (missing {', '.join(missing)}), but the available items reach {known}: high risk",
            score=None,
            risk="high",
            points=points,
            at_cutoff=cut,
        )
    return CARHematotoxResult(
        **base,
        evaluable=False,
        reason="missing: " + ", ".join(missing),
        score=None,
        risk=None,
        points=points,
        at_cutoff=cut,
    )


# ---------------------------------------------------------------------------------------------
# CTCAE v5.0 haematological terms and a hypogammaglobulinaemia flag
# ---------------------------------------------------------------------------------------------


class LabValue(InstrumentInput):
    """A laboratory value with its unit and, for CTCAE grade 1, the local lower limit of normal."""

    value: Exact = Field(ge=0, description="The measured value.")
    unit: str = Field(description="UCUM unit code or common alias.")
    lln: Exact | None = Field(default=None, ge=0, description="Local lower limit of normal, in the same unit.")


class PlateletValue(LabValue):
    transfusion_indicated: bool | None = Field(
        default=None, description="Platelet transfusion indicated (CTCAE v6.0 Thrombocytopenia grade >= 3; not v5.0)."
    )
    life_threatening: bool | None = Field(
        default=None,
        description="Life-threatening consequences; urgent intervention indicated (CTCAE v6.0 Thrombocytopenia "
        "grade 4; not v5.0).",
    )


class HemoglobinValue(LabValue):
    transfusion_indicated: bool | None = Field(default=None, description="Transfusion indicated (grade >= 3).")
    life_threatening: bool | None = Field(
        default=None, description="Life-threatening consequences; urgent intervention indicated (grade 4)."
    )


class CTCAEInput(InstrumentInput):
    """Blood counts to grade with CTCAE v5.0 (or v6.0, option ``version``); give any subset."""

    neutrophils: LabValue | None = Field(default=None, description="Neutrophil count (e.g. /uL, 10*9/L).")
    platelets: PlateletValue | None = Field(default=None, description="Platelet count.")
    hemoglobin: HemoglobinValue | None = Field(default=None, description="Haemoglobin (g/dL, g/L or mmol/L).")
    lymphocytes: LabValue | None = Field(default=None, description="Lymphocyte count.")
    wbc: LabValue | None = Field(default=None, description="White blood cell count.")
    igg: Quantity | None = Field(
        default=None, description="Serum IgG (g/L or mg/dL), for the hypogammaglobulinaemia flag."
    )


class CTCAEOptions(InstrumentOptions):
    version: Literal["5.0", "6.0"] = Field(
        default="5.0",
        description="CTCAE version: '5.0' (27 Nov 2017; default, the version of ongoing trials and of earlier "
        "data) or '6.0' (2025): neutrophil count decreased without LLN (< 1500 = 1, < 1000 = 2, < 500 = 3, "
        "< 100/mm3 = 4); 'Platelet count decreased' replaced by 'Thrombocytopenia' (< 10,000/mm3 or "
        "life-threatening = 4; < 50,000 or transfusion indicated = 3); no lymphocyte count decreased term.",
    )
    igg_threshold_mg_per_dL: Exact = Field(
        default=Decimal(400),
        gt=0,
        description="Hypogammaglobulinaemia when IgG < this (mg/dL). 400 mg/dL (4 g/L): IgG-replacement "
        "threshold of Hill JA et al. and the AAAAI work group for secondary hypogammaglobulinaemia.",
    )

    @field_validator("version", mode="before")
    @classmethod
    def _version_number(cls, value: Any) -> Any:
        """A version written as a number (``--option version=6.0`` arrives as 6.0) means the same version."""
        if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
            number = Decimal(str(value))
            if number in (5, 6):
                return f"{int(number)}.0"
        return value


class CTCAEResult(InstrumentResult):
    version: Literal["5.0", "6.0"] = "5.0"
    neutrophil_count_decreased: int | None = None
    platelet_count_decreased: int | None = Field(default=None, description="CTCAE v5.0 term (v6.0: thrombocytopenia).")
    thrombocytopenia: int | None = Field(
        default=None, description="CTCAE v6.0 term replacing platelet count decreased."
    )
    anemia: int | None = None
    lymphocyte_count_decreased: int | None = None
    white_blood_cell_decreased: int | None = None
    hypogammaglobulinemia: bool | None = Field(
        default=None, description="IgG below the configured threshold (not a CTCAE v5.0 term)."
    )
    igg_mg_per_dL: Exact | None = None
    notes: dict[str, str] = Field(default_factory=dict)

    def headline(self) -> str:
        graded = [
            (label, getattr(self, term))
            for term, label in (
                ("neutrophil_count_decreased", "neutrophils"),
                ("platelet_count_decreased", "platelets"),
                ("thrombocytopenia", "platelets"),
                ("anemia", "anaemia"),
                ("lymphocyte_count_decreased", "lymphocytes"),
                ("white_blood_cell_decreased", "white cells"),
            )
            if getattr(self, term) is not None
        ]
        text = ", ".join(f"{label} grade {grade}" for label, grade in graded)
        if self.hypogammaglobulinemia is not None:
            text += (", " if text else "") + f"hypogammaglobulinaemia: {'yes' if self.hypogammaglobulinemia else 'no'}"
        return text or super().headline()


# (grade, value strictly below which the grade applies), per /uL (= /mm3); a table ending with grade 2
# needs the local LLN for grade 1 vs 0; a table ending with grade 1 grades 0 at or above its limit.
_COUNT_GRADES: dict[str, tuple[tuple[int, Decimal], ...]] = {
    "neutrophils": ((4, Decimal(500)), (3, Decimal(1000)), (2, Decimal(1500))),
    "platelets": ((4, Decimal(25_000)), (3, Decimal(50_000)), (2, Decimal(75_000))),
    "lymphocytes": ((4, Decimal(200)), (3, Decimal(500)), (2, Decimal(800))),
    "wbc": ((4, Decimal(1000)), (3, Decimal(2000)), (2, Decimal(3000))),
}
_COUNT_GRADES_V6: dict[str, tuple[tuple[int, Decimal], ...]] = {
    # v6.0 Neutrophil count decreased: <1500-1000 = 1; <1000-500 = 2; <500-100 = 3; <100/mm3 = 4 (no LLN)
    "neutrophils": ((4, Decimal(100)), (3, Decimal(500)), (2, Decimal(1000)), (1, Decimal(1500))),
    # v6.0 Thrombocytopenia: <LLN-75,000 = 1; <75,000-50,000 = 2; <50,000-10,000 = 3; <10,000/mm3 = 4
    "platelets": ((4, Decimal(10_000)), (3, Decimal(50_000)), (2, Decimal(75_000))),
    "wbc": ((4, Decimal(1000)), (3, Decimal(2000)), (2, Decimal(3000))),  # unchanged from v5.0
}
_HB_G_DL = ((3, Decimal("8.0")), (2, Decimal("10.0")))  # anaemia: < 8.0 g/dL = 3; < 10.0 = 2
_HB_MMOL_L = ((3, Decimal("4.9")), (2, Decimal("6.2")))  # CTCAE's own mmol/L column


def _ctcae_grade(
    value: Decimal, lln: Decimal | None, grades: tuple[tuple[int, Decimal], ...]
) -> tuple[int | None, str | None]:
    for grade, limit in grades:
        if value < limit:
            return grade, None
    if grades[-1][0] == 1:
        return 0, None  # grade 1 has a fixed upper limit (CTCAE v6.0 neutrophils): no LLN needed
    if lln is None:
        return None, "value is at or above the grade-2 limit: the lower limit of normal (lln) decides grade 0 or 1"
    return (1, None) if value < lln else (0, None)


def _platelet_clinical_grade(lab: PlateletValue, v6: bool, grade: int | None) -> int | None:
    """CTCAE v6.0 Thrombocytopenia: transfusion indicated = at least 3; life-threatening = 4."""
    if not v6:
        return grade
    if lab.life_threatening:
        return 4
    if lab.transfusion_indicated and (grade is None or grade < 3):
        return 3
    return grade


def _platelet_clinical(lab: PlateletValue, v6: bool, grade: int | None, note: str | None) -> str | None:
    """The note of a platelet grade: clinical criteria that v5.0 does not use, or that v6.0 decides."""
    if not v6:
        if lab.transfusion_indicated is None and lab.life_threatening is None:
            return note
        unused = (
            "transfusion_indicated / life_threatening are not criteria of CTCAE v5.0 Platelet count decreased "
            "(count only) and were not used"
        )
        return unused if note is None else f"{note}; {unused}"
    if lab.life_threatening or lab.transfusion_indicated:
        return None
    if grade == 3 and lab.life_threatening is None:
        return "grade 4 also by life-threatening consequences (clinical); not recorded"
    return note


def ctcae(
    inputs: CTCAEInput | Mapping[str, Any], *, options: CTCAEOptions | Mapping[str, Any] | None = None
) -> CTCAEResult:
    """CTCAE grades of laboratory-defined haematological adverse events: v5.0 (NCI, 2017; default) or
    v6.0 (NCI, 2025; option ``version``).

    CTCAE v5.0:

    * Neutrophil count decreased: < LLN-1500 = 1; **< 1500**-1000 = 2; **< 1000**-500 = 3; **< 500**/mm³ = 4.
    * Platelet count decreased: < LLN-75,000 = 1; **< 75,000**-50,000 = 2; **< 50,000**-25,000 = 3;
      **< 25,000**/mm³ = 4.
    * Anaemia: Hb < LLN-10.0 g/dL = 1; **< 10.0**-8.0 = 2; **< 8.0** g/dL or transfusion indicated = 3;
      life-threatening consequences, urgent intervention indicated = 4 (mmol/L values use CTCAE's
      own mmol/L column, 6.2 and 4.9).
    * Lymphocyte count decreased: < LLN-800 = 1; **< 800**-500 = 2; **< 500**-200 = 3; **< 200**/mm³ = 4.
    * White blood cell decreased: < LLN-3000 = 1; **< 3000**-2000 = 2; **< 2000**-1000 = 3; **< 1000**/mm³ = 4.

    CTCAE v6.0 (changes; anaemia and white blood cell decreased unchanged):

    * Neutrophil count decreased: **< 1500**-1000 = 1; **< 1000**-500 = 2; **< 500**-100 = 3; **< 100**/mm³
      = 4 (no LLN: 1500 and above is grade 0).
    * Thrombocytopenia (replaces Platelet count decreased): < LLN-75,000 = 1; **< 75,000**-50,000 = 2;
      **< 50,000**-10,000/mm³ or transfusion indicated = 3; **< 10,000**/mm³ or life-threatening
      consequences, urgent intervention indicated = 4.
    * Lymphocyte count decreased: no v6.0 term (not graded).

    A value at or above the grade-2 limit needs the local LLN for grade 0 vs 1. The
    hypogammaglobulinaemia flag (IgG **<** ``igg_threshold_mg_per_dL``, default 400 mg/dL) is not a
    CTCAE term. Note CTCAE v5.0 grade 4 neutropenia is ANC **< 500**, whereas ICAHT counts ANC **<= 500**.
    """
    inputs = parse(CTCAEInput, inputs)
    options = parse(CTCAEOptions, options)
    v6 = options.version == "6.0"
    base = {
        "instrument": "ctcae",
        "variant": f"CTCAE v{options.version}",
        "source": CTCAE6_SOURCE if v6 else CTCAE_SOURCE,
        "version": options.version,
    }
    grades: dict[str, int | None] = {}
    notes: dict[str, str] = {}
    names = {
        "neutrophils": "neutrophil_count_decreased",
        "platelets": "thrombocytopenia" if v6 else "platelet_count_decreased",
        "lymphocytes": "lymphocyte_count_decreased",
        "wbc": "white_blood_cell_decreased",
    }
    tables = _COUNT_GRADES_V6 if v6 else _COUNT_GRADES
    for item, term in names.items():
        lab: LabValue | None = getattr(inputs, item)
        if lab is None:
            continue
        value = convert(lab.value, lab.unit, "/uL", field=f"{item}.value")
        lln = None if lab.lln is None else convert(lab.lln, lab.unit, "/uL", field=f"{item}.lln")
        if item not in tables:
            grades[term] = None
            notes[term] = "CTCAE v6.0 has no 'Lymphocyte count decreased' term; grade with version 5.0"
            continue
        grade, note = _ctcae_grade(value, lln, tables[item])
        if isinstance(lab, PlateletValue):
            grade, note = _platelet_clinical_grade(lab, v6, grade), _platelet_clinical(lab, v6, grade, note)
        grades[term] = grade
        if note:
            notes[term] = note
    if inputs.hemoglobin is not None:
        hb = inputs.hemoglobin
        if canonical_unit(hb.unit, field="hemoglobin.unit") == "mmol/L":
            value, lln, table = hb.value, hb.lln, _HB_MMOL_L
        else:
            value = convert(hb.value, hb.unit, "g/dL", field="hemoglobin.value")
            lln = None if hb.lln is None else convert(hb.lln, hb.unit, "g/dL", field="hemoglobin.lln")
            table = _HB_G_DL
        grade, note = _ctcae_grade(value, lln, table)
        if hb.transfusion_indicated and (grade is None or grade < 3):
            grade, note = 3, None
        if hb.life_threatening:
            grade, note = 4, None
        elif grade == 3 and hb.life_threatening is None:
            notes["anemia"] = "grade 4 (life-threatening consequences) is clinical; not recorded"
        grades["anemia"] = grade
        if note:
            notes["anemia"] = note
    hypo: bool | None = None
    igg_mg_dl: Decimal | None = None
    if inputs.igg is not None:
        igg_mg_dl = convert(inputs.igg.value, inputs.igg.unit, "mg/dL", field="igg.value")
        hypo = igg_mg_dl < options.igg_threshold_mg_per_dL
    requested = len(grades) + (inputs.igg is not None)
    if requested == 0:
        return CTCAEResult(**base, evaluable=False, reason="no laboratory value given")
    ungraded = [t for t, g in grades.items() if g is None]
    return CTCAEResult(
        **base,
        evaluable=not ungraded,
        reason=("not graded: " + ", ".join(f"{t} ({notes[t]})" for t in ungraded)) if ungraded else None,
        hypogammaglobulinemia=hypo,
        igg_mg_per_dL=igg_mg_dl,
        notes=notes,
        **grades,
    )


# ---------------------------------------------------------------------------------------------
# LICATS (Hagen, Müller, ... Schett; Lancet Rheumatol 2025)
# ---------------------------------------------------------------------------------------------

LICATS_EARLY_MAX_DAYS = 14  # onset up to 2 weeks after infusion: early

LicatsOrgan = Literal[
    "kidney", "skin_mucosa", "joints_entheses", "heart", "lung", "muscle", "gastrointestinal", "other"
]


class LICATSInput(InstrumentInput):
    """One local reaction after CD19 CAR T-cell therapy in autoimmune disease (one event; a patient may
    have several)."""

    organ: LicatsOrgan | None = Field(
        default=None,
        description="Organ of the reaction: kidney (e.g. creatinine >= 50% above baseline, raised UPCR), "
        "skin_mucosa (inflammatory rash, mucosal lesions), joints_entheses (arthritis, enthesitis, persistent "
        "arthralgia or enthesial pain), heart (raised troponin I), lung (dyspnoea not explained by pneumonia or "
        "pulmonary embolism), muscle, gastrointestinal (diarrhoea, abdominal pain), other.",
    )
    onset_day: int | None = Field(default=None, ge=0, description="Study day of onset (day 0 = CAR-T infusion).")
    new_or_worsening: bool | None = Field(
        default=None, description="New-onset or worsening organ-specific change after CAR-T infusion."
    )
    organ_previously_affected: bool | None = Field(
        default=None, description="The organ was affected by the autoimmune disease before CAR-T therapy."
    )
    other_cause_excluded: bool | None = Field(
        default=None,
        description="Not explained by another cause (e.g. infection, drug reaction, CRS, unrelated disease).",
    )
    glucocorticoids: bool | None = Field(
        default=None,
        description="Glucocorticoids given for the reaction because symptoms lasted > 1 week or because of relevant "
        "inner-organ involvement (grade 2).",
    )
    hospitalisation: bool | None = Field(
        default=None, description="Prolonged or new hospitalisation because of the reaction (grade 3)."
    )
    intensive_care: bool | None = Field(
        default=None, description="Intensive-care treatment for the reaction (grade 4)."
    )


class LICATSOptions(InstrumentOptions):
    one_month_days: int = Field(
        default=30,
        ge=28,
        le=31,
        description="Days counted as '1 month' for the onset class (early <= 14 days; intermediate up to 1 month; "
        "late beyond 1 month).",
    )


class LICATSResult(InstrumentResult):
    licats: bool | None = Field(description="The reaction meets the LICATS definition.")
    grade: int | None = Field(
        description="LICATS grade 1-4 (1 spontaneous resolution; 2 glucocorticoids; 3 hospitalisation; 4 intensive "
        "care); 0 = not LICATS."
    )
    onset: Literal["early", "intermediate", "late"] | None = Field(
        default=None, description="early (<= 14 days), intermediate (to 1 month), late (beyond 1 month)."
    )
    organ: str | None = None
    onset_day: int | None = None

    def headline(self) -> str:
        if self.licats is False:
            return "not LICATS"
        if self.grade is not None:
            where = f" ({self.organ.replace('_', ' ')})" if self.organ else ""
            return f"LICATS grade {self.grade}{where}"
        return super().headline()


def licats(
    inputs: LICATSInput | Mapping[str, Any], *, options: LICATSOptions | Mapping[str, Any] | None = None
) -> LICATSResult:
    """Local immune effector cell-associated toxicity syndrome (Hagen M, Müller F, ... Schett G, Lancet
    Rheumatol 2025;7(6):e424-e433).

    LICATS = a new-onset or worsening organ-specific change after CD19 CAR T-cell infusion, in an organ
    affected by the autoimmune disease before CAR-T therapy, not explained by another cause. Severity:

    * grade 1: spontaneous resolution (none of the below);
    * grade 2: glucocorticoid treatment because symptoms last **> 1 week** or relevant inner-organ involvement;
    * grade 3: prolonged or new hospitalisation;
    * grade 4: intensive-care treatment.

    Onset: early up to 2 weeks (**<= 14** days), intermediate up to 1 month (``one_month_days``, default
    30), late beyond. The grade is the highest level of care; a level left unknown above a recorded one
    makes the grade not evaluable.
    """
    inputs = parse(LICATSInput, inputs)
    options = parse(LICATSOptions, options)
    base = {"instrument": "licats", "variant": "Hagen 2025 (grades 1-4)", "source": LICATS_SOURCE}
    onset: Literal["early", "intermediate", "late"] | None = None
    if inputs.onset_day is not None:
        if inputs.onset_day <= LICATS_EARLY_MAX_DAYS:
            onset = "early"
        elif inputs.onset_day <= options.one_month_days:
            onset = "intermediate"
        else:
            onset = "late"
    common = {"onset": onset, "organ": inputs.organ, "onset_day": inputs.onset_day}
    criteria = {
        "new_or_worsening": inputs.new_or_worsening,
        "organ_previously_affected": inputs.organ_previously_affected,
        "other_cause_excluded": inputs.other_cause_excluded,
    }
    met = all_of(criteria.values())
    if met is False:
        failed = [k for k, v in criteria.items() if v is False]
        return LICATSResult(
            **base, evaluable=True, reason="not met: " + ", ".join(failed), licats=False, grade=0, **common
        )
    if met is None:
        missing = [k for k, v in criteria.items() if v is None]
        return LICATSResult(
            **base, evaluable=False, reason="missing: " + ", ".join(missing), licats=None, grade=None, **common
        )
    levels = ((4, "intensive_care"), (3, "hospitalisation"), (2, "glucocorticoids"))
    unknown: list[str] = []
    for grade, name in levels:
        value = getattr(inputs, name)
        if value:
            if unknown:
                break
            return LICATSResult(**base, evaluable=True, licats=True, grade=grade, **common)
        if value is None:
            unknown.append(name)
    if unknown:
        return LICATSResult(
            **base, evaluable=False, reason="missing: " + ", ".join(unknown), licats=True, grade=None, **common
        )
    return LICATSResult(**base, evaluable=True, licats=True, grade=1, **common)


# ---------------------------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------------------------

INSTRUMENTS: tuple[Instrument[Any, Any, Any], ...] = (
    Instrument(
        name="crs",
        title="ASTCT CRS grade",
        description="Cytokine release syndrome grade 0-5 (fever, hypotension, hypoxia); or a course summary.",
        source=CRS_SOURCE,
        function=crs,
        input_model=CRSInput,
        options_model=CRSOptions,
        result_model=CRSResult,
    ),
    Instrument(
        name="ice",
        title="ICE score",
        description="Immune effector cell-associated encephalopathy score (0-10).",
        source=ICANS_SOURCE,
        function=ice,
        input_model=ICEInput,
        options_model=ICEOptions,
        result_model=ICEResult,
    ),
    Instrument(
        name="capd",
        title="CAPD (Cornell Assessment of Pediatric Delirium)",
        description="Paediatric delirium screen 0-32 (>= 9 delirium); ICANS encephalopathy row below 12 years.",
        source=CAPD_SOURCE,
        function=capd,
        input_model=CAPDItems,
        options_model=CAPDOptions,
        result_model=CAPDResult,
    ),
    Instrument(
        name="icans",
        title="ASTCT ICANS grade",
        description="Neurotoxicity grade 0-5 from ICE (>= 12 y) or CAPD (< 12 y), consciousness, seizure, motor, "
        "ICP; or a course summary.",
        source=ICANS_SOURCE,
        function=icans,
        input_model=ICANSInput,
        options_model=ICANSOptions,
        result_model=ICANSResult,
    ),
    Instrument(
        name="icaht",
        title="ICAHT (EHA/EBMT)",
        description="Early (day 0-30) and late (after day 30) haematotoxicity grades from an ANC series.",
        source=ICAHT_SOURCE,
        function=icaht,
        input_model=ICAHTInput,
        options_model=ICAHTOptions,
        result_model=ICAHTResult,
    ),
    Instrument(
        name="t_icaht",
        title="T-ICAHT (thrombocytopenia)",
        description="Early (day 0-30) and late (day 31-100) thrombocytopenia grades from a platelet series.",
        source=T_ICAHT_SOURCE,
        function=t_icaht,
        input_model=TICAHTInput,
        options_model=TICAHTOptions,
        result_model=TICAHTResult,
    ),
    Instrument(
        name="car_hematotox",
        title="CAR-HEMATOTOX",
        description="Pre-lymphodepletion haematotoxicity risk (0-7; high >= 2) from 5 baseline labs.",
        source=HEMATOTOX_SOURCE,
        function=car_hematotox,
        input_model=CARHematotoxInput,
        options_model=CARHematotoxOptions,
        result_model=CARHematotoxResult,
    ),
    Instrument(
        name="ctcae",
        title="CTCAE cytopenias (v5.0; v6.0 option)",
        description="CTCAE v5.0 (or v6.0) grades for neutrophils, platelets, anaemia, lymphocytes, WBC; IgG flag.",
        source=CTCAE_SOURCE,
        function=ctcae,
        input_model=CTCAEInput,
        options_model=CTCAEOptions,
        result_model=CTCAEResult,
    ),
    Instrument(
        name="licats",
        title="LICATS grade",
        description="Local organ reaction after CAR-T in autoimmune disease: LICATS yes/no and grade 1-4.",
        source=LICATS_SOURCE,
        function=licats,
        input_model=LICATSInput,
        options_model=LICATSOptions,
        result_model=LICATSResult,
    ),
)
