"""Systemic sclerosis: skin score, disease activity, response and classification.

Instruments (registry names in brackets):

* Modified Rodnan skin score [``mrss``] — Clements P, Lachenbruch P, Siebold J, et al. *Inter and
  intraobserver variability of total skin thickness score (modified Rodnan TSS) in systemic
  sclerosis.* J Rheumatol 1995;22(7):1281–5 (no DOI; PMID 7562759); standardised in Khanna D, Furst DE,
  Clements PJ, et al. J Scleroderma Relat Disord 2017;2(1):11–18, doi:10.5301/jsrd.5000231.
* Revised EUSTAR activity index [``eustar_ai``] — Valentini G, Iudici M, Walker UA, et al. *The
  European Scleroderma Trials and Research group (EUSTAR) task force for the development of revised
  activity criteria for systemic sclerosis.* Ann Rheum Dis 2017;76(1):270–6,
  doi:10.1136/annrheumdis-2016-209768.
* ACR provisional CRISS [``criss``] — Khanna D, Berrocal VJ, Giannini EH, et al. *The American
  College of Rheumatology provisional composite response index for clinical trials in early diffuse
  cutaneous systemic sclerosis.* Arthritis Rheumatol 2016;68(2):299–311, doi:10.1002/art.39501 (and
  Arthritis Care Res 2016;68(2):167–78, doi:10.1002/acr.22804).
* Revised CRISS (CRISS-25) [``criss25``] — Khanna D, Huang S, Lin CJF, Spino C. *New composite endpoint
  in early diffuse cutaneous systemic sclerosis: revisiting the provisional American College of
  Rheumatology Composite Response Index in Systemic Sclerosis.* Ann Rheum Dis 2021;80(5):641–50,
  doi:10.1136/annrheumdis-2020-219100. Definition partly unconfirmed against the full text (see
  :func:`criss25`).
* 2013 ACR/EULAR classification [``ssc_classification_2013``] — van den Hoogen F, Khanna D, Fransen J,
  et al. Ann Rheum Dis 2013;72(11):1747–55, doi:10.1136/annrheumdis-2013-204424; Arthritis Rheum
  2013;65(11):2737–47, doi:10.1002/art.38098.

Every threshold is compared in exact decimal arithmetic. Decisions taken where the sources disagree
or could not be confirmed are listed in ``docs/instruments-ssc-iim.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, localcontext
from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import BeforeValidator, Field, model_validator

from immunoreset.errors import InvalidInput, Problem
from immunoreset.instruments.base import (
    Exact,
    Instrument,
    InstrumentInput,
    InstrumentOptions,
    InstrumentResult,
    MassConcentration,
    all_of,
    missing_reason,
    parse,
    reject_bool,
)
from immunoreset.units import convert

__all__ = [
    "MRSS_AREAS",
    "CRISS25Input",
    "CRISS25Options",
    "CRISS25Result",
    "CRISSInput",
    "CRISSMeasures",
    "CRISSOptions",
    "CRISSResult",
    "EUSTARAIInput",
    "EUSTARAIOptions",
    "EUSTARAIResult",
    "MRSSInput",
    "MRSSOptions",
    "MRSSResult",
    "MassConcentration",
    "SScClassificationInput",
    "SScClassificationOptions",
    "SScClassificationResult",
    "criss",
    "criss25",
    "eustar_ai",
    "mrss",
    "ssc_classification_2013",
]

MRSS_SOURCE = (
    "Clements P et al. J Rheumatol 1995;22(7):1281-5; Khanna D et al. J Scleroderma Relat Disord 2017;2(1):11-18, "
    "doi:10.5301/jsrd.5000231"
)
EUSTAR_SOURCE = (
    "Valentini G et al. Ann Rheum Dis 2017;76(1):270-6, doi:10.1136/annrheumdis-2016-209768 "
    "(revised EUSTAR activity index)"
)
EUSTAR_CONTINUOUS_SKIN_SOURCE = (
    "bindevevssykdommer.no, 'Disease activity (EUSTAR index, 2017) by systemic sclerosis' (secondary; "
    "unconfirmed against the full text of Valentini 2017)"
)
CRISS_SOURCE = "Khanna D et al. Arthritis Rheumatol 2016;68(2):299-311, doi:10.1002/art.39501 (ACR provisional CRISS)"
CRISS25_SOURCE = (
    "Khanna D, Huang S, Lin CJF, Spino C. Ann Rheum Dis 2021;80(5):641-50, doi:10.1136/annrheumdis-2020-219100 "
    "(revised CRISS)"
)
SSC_CLASSIFICATION_SOURCE = (
    "van den Hoogen F et al. Ann Rheum Dis 2013;72(11):1747-55, doi:10.1136/annrheumdis-2013-204424; "
    "Arthritis Rheum 2013;65(11):2737-47, doi:10.1002/art.38098"
)


# ---------------------------------------------------------------------------------------------
# mRSS
# ---------------------------------------------------------------------------------------------

SkinGrade = Annotated[
    int,
    Field(ge=0, le=3, description="0 normal, 1 mild, 2 moderate, 3 severe thickening (cannot pinch)."),
    BeforeValidator(reject_bool),  # after Field: JSON Schema shows minimum/maximum
]

MRSS_AREAS: tuple[str, ...] = (
    "face",
    "anterior_chest",
    "abdomen",
    "fingers_right",
    "fingers_left",
    "dorsum_hand_right",
    "dorsum_hand_left",
    "forearm_right",
    "forearm_left",
    "upper_arm_right",
    "upper_arm_left",
    "thigh_right",
    "thigh_left",
    "lower_leg_right",
    "lower_leg_left",
    "dorsum_foot_right",
    "dorsum_foot_left",
)
"""The 17 mRSS areas: 3 single (face, anterior chest, abdomen) and 7 paired (right, left)."""
MRSS_MAX = 3 * len(MRSS_AREAS)  # 51


class MRSSInput(InstrumentInput):
    """Skin thickness by palpation at the 17 mRSS areas, each an integer grade 0-3."""

    face: SkinGrade | None = None
    anterior_chest: SkinGrade | None = None
    abdomen: SkinGrade | None = None
    fingers_right: SkinGrade | None = None
    fingers_left: SkinGrade | None = None
    dorsum_hand_right: SkinGrade | None = None
    dorsum_hand_left: SkinGrade | None = None
    forearm_right: SkinGrade | None = None
    forearm_left: SkinGrade | None = None
    upper_arm_right: SkinGrade | None = None
    upper_arm_left: SkinGrade | None = None
    thigh_right: SkinGrade | None = None
    thigh_left: SkinGrade | None = None
    lower_leg_right: SkinGrade | None = None
    lower_leg_left: SkinGrade | None = None
    dorsum_foot_right: SkinGrade | None = None
    dorsum_foot_left: SkinGrade | None = None


assert tuple(MRSSInput.model_fields) == MRSS_AREAS


class MRSSOptions(InstrumentOptions):
    """Options of :func:`mrss`."""

    missing_areas: Literal["reject", "not_evaluable", "partial_sum"] = Field(
        default="reject",
        description="An area not recorded: 'reject' (default; an input error naming the areas), "
        "'not_evaluable' (result without a total), or 'partial_sum' (total of the recorded areas, "
        "flagged partial; not comparable with a full 0-51 score).",
    )


class MRSSResult(InstrumentResult):
    """mRSS total and the grade of each area."""

    TABLE_FIELDS: ClassVar[tuple[str, ...]] = ("areas_recorded", "partial")

    total: int | None = Field(description="Sum of the 17 area grades, 0-51 (partial sum if 'partial').")
    partial: bool = Field(description="True when the total omits unrecorded areas (option partial_sum).")
    areas_recorded: int
    missing_areas: list[str]
    areas: dict[str, int | None]

    def headline(self) -> str:
        if self.total is None:
            return "not evaluable"
        return f"{self.total}" + (f" (partial, {self.areas_recorded}/17 areas)" if self.partial else "")


def mrss(
    inputs: MRSSInput | Mapping[str, Any], *, options: MRSSOptions | Mapping[str, Any] | None = None
) -> MRSSResult:
    """Modified Rodnan skin score (mRSS).

    Source: Clements P et al. J Rheumatol 1995;22(7):1281–5; Khanna D et al. J Scleroderma Relat
    Disord 2017;2(1):11–18. Skin thickness is graded 0 (normal), 1 (mild), 2 (moderate) or 3 (severe)
    at 17 areas — face, anterior chest, abdomen, and right and left fingers, dorsum of hands, forearms,
    upper arms, thighs, lower legs and dorsum of feet. The total is the sum, 0–51.

    A missing area is an input error by default (option ``missing_areas``).
    """
    inputs = parse(MRSSInput, inputs)
    options = parse(MRSSOptions, options)
    grades: dict[str, int | None] = {area: getattr(inputs, area) for area in MRSS_AREAS}
    missing = [area for area, grade in grades.items() if grade is None]
    recorded = sum(grade for grade in grades.values() if grade is not None)
    if missing and options.missing_areas == "reject":
        raise InvalidInput(
            problems=[
                Problem(area, InvalidInput.MISSING, "a grade 0-3 (all 17 mRSS areas are needed)") for area in missing
            ]
        )
    total: int | None = recorded
    reason = None
    partial = False
    if missing:
        reason = missing_reason(missing)
        if options.missing_areas == "not_evaluable":
            total = None
        else:
            partial = True
            reason = f"partial sum of {len(MRSS_AREAS) - len(missing)} areas; " + reason
    return MRSSResult(
        instrument="mrss",
        variant="mRSS, 17 areas" + (" (partial sum)" if partial else ""),
        source=MRSS_SOURCE,
        evaluable=total is not None,
        reason=reason,
        total=total,
        partial=partial,
        areas_recorded=len(MRSS_AREAS) - len(missing),
        missing_areas=missing,
        areas=grades,
    )


# ---------------------------------------------------------------------------------------------
# Revised EUSTAR activity index (Valentini 2017)
# ---------------------------------------------------------------------------------------------

EUSTAR_WEIGHTS: dict[str, Decimal] = {
    "delta_skin": Decimal("1.5"),
    "mrss_over_18": Decimal("1.5"),
    "digital_ulcers": Decimal("1.5"),
    "tendon_friction_rubs": Decimal("2.25"),
    "crp_over_1_mg_dl": Decimal("2.25"),
    "dlco_under_70": Decimal("1.0"),
}
assert sum(EUSTAR_WEIGHTS.values()) == Decimal(10)
EUSTAR_MRSS = 18  # mRSS > 18
EUSTAR_CRP_MG_DL = Decimal(1)  # CRP > 1 mg/dL
EUSTAR_DLCO_PERCENT = Decimal(70)  # DLCO < 70 % predicted
EUSTAR_ACTIVE = Decimal("2.5")  # active disease: index >= 2.5
EUSTAR_SKIN_PER_POINT = Decimal("0.084")  # option skin_item="continuous": 0.084 x mRSS while mRSS <= 18
EUSTAR_SKIN_CONTINUOUS_MAX = EUSTAR_SKIN_PER_POINT * EUSTAR_MRSS  # 1.512, at mRSS 18


class EUSTARAIInput(InstrumentInput):
    """One assessment for the revised EUSTAR activity index.

    Give each item as ``true``/``false``, or the measurement it is decided from (mRSS or its 17 areas,
    CRP as ``{"value": ..., "unit": ...}``, DLCO % predicted). An item given both ways must agree.
    """

    delta_skin: bool | None = Field(
        default=None, description="Patient-reported worsening of the skin during the previous month (1.5)."
    )
    digital_ulcers: bool | None = Field(default=None, description="Digital ulcers present (1.5).")
    tendon_friction_rubs: bool | None = Field(default=None, description="Tendon friction rubs present (2.25).")
    mrss_over_18: bool | None = Field(default=None, description="Modified Rodnan skin score > 18 (1.5).")
    crp_over_1_mg_dl: bool | None = Field(
        default=None, description="C-reactive protein > 1 mg/dL, i.e. > 10 mg/L (2.25)."
    )
    dlco_under_70: bool | None = Field(default=None, description="DLCO < 70% of predicted (1.0).")
    mrss: int | None = Field(default=None, ge=0, le=MRSS_MAX, description="Modified Rodnan skin score, 0-51.")
    mrss_areas: MRSSInput | None = Field(default=None, description="The 17 mRSS area grades (all 17 required).")
    crp: MassConcentration | None = Field(
        default=None, description='C-reactive protein with its unit, e.g. {"value": 12, "unit": "mg/L"}.'
    )
    dlco_percent_predicted: Exact | None = Field(
        default=None, ge=0, le=300, description="Diffusing capacity for CO, % of predicted."
    )


class EUSTARAIOptions(InstrumentOptions):
    """Options of :func:`eustar_ai`."""

    skin_item: Literal["mrss_over_18", "continuous"] = Field(
        default="mrss_over_18",
        description="Scoring of the mRSS item: 'mrss_over_18' (default; Valentini 2017 abstract: 1.5 when "
        "mRSS > 18, else 0) or 'continuous' (secondary source, unconfirmed in the paper: 1.5 when mRSS > 18, "
        "0.084 x mRSS when mRSS <= 18, so 1.512 at mRSS 18; needs the mRSS value).",
    )


class EUSTARAIResult(InstrumentResult):
    """Revised EUSTAR activity index: items, points and total."""

    TABLE_FIELDS: ClassVar[tuple[str, ...]] = ("items",)

    total: Exact | None = Field(description="Index 0-10 (sum of the weights of items present).")
    active: bool | None = Field(description="Active disease: index >= 2.5.")
    items: dict[str, bool | None]
    points: dict[str, Exact] = Field(
        description="Points of each item scoring above 0 (with skin_item='continuous' the mRSS item, "
        "key mrss_over_18, scores 0.084 x mRSS up to mRSS 18)."
    )
    skin_item_points: Exact | None = Field(
        default=None, description="Points of the mRSS item (None when they cannot be known)."
    )
    known_points: Exact = Field(description="Points of the items known present (the total when all are known).")
    mrss: int | None
    crp_mg_dl: Exact | None = Field(description="CRP converted to mg/dL.")
    derived_from_measurements: list[str]

    def headline(self) -> str:
        if self.total is None:
            if self.active is None:
                return "not evaluable"
            return f"active (>= {self.known_points} known)" if self.active else "not active"
        return f"{self.total} ({'active' if self.active else 'not active'})"


def eustar_ai(
    inputs: EUSTARAIInput | Mapping[str, Any], *, options: EUSTARAIOptions | Mapping[str, Any] | None = None
) -> EUSTARAIResult:
    """Revised EUSTAR activity index for systemic sclerosis.

    Source: Valentini G, Iudici M, Walker UA, et al. Ann Rheum Dis 2017;76(1):270–6,
    doi:10.1136/annrheumdis-2016-209768 (the abstract states the weights). Weighted items: Δ-skin
    (patient-reported worsening in the previous month) 1.5; mRSS ``> 18`` 1.5; digital ulcers 1.5; tendon
    friction rubs 2.25; CRP ``> 1`` mg/dL 2.25; DLCO ``< 70`` % predicted 1.0. Total 0–10; active disease
    when the index is ``>= 2.5``.

    Option ``skin_item='continuous'`` scores the mRSS item as ``0.084 × mRSS`` when mRSS ``<= 18`` and 1.5
    when mRSS ``> 18`` (so 1.512 at 18, 1.5 at 19; total up to 10.012), as restated by a secondary source
    (bindevevssykdommer.no, "Modified Rodnan skin-score more than 18 (at 18 or less; score x 0,084) 1,5");
    unconfirmed against the full text of the paper. The other weights are unchanged.

    When an item is not recorded the total is unknown, but activity is still decided when the known
    points already reach 2.5 (active) or cannot reach it (not active).
    """
    inputs = parse(EUSTARAIInput, inputs)
    options = parse(EUSTARAIOptions, options)
    continuous = options.skin_item == "continuous"
    problems: list[Problem] = []
    measured: dict[str, tuple[bool, str]] = {}

    score = inputs.mrss
    if inputs.mrss_areas is not None:
        try:
            from_areas = mrss(inputs.mrss_areas).total
        except InvalidInput as err:
            raise InvalidInput(
                problems=[Problem(f"mrss_areas.{p.field}", p.value, p.expected) for p in err.problems]
            ) from None
        assert from_areas is not None
        if score is not None and score != from_areas:
            problems.append(Problem("mrss", score, f"agreement with mrss_areas (their sum is {from_areas})"))
        score = from_areas
    if score is not None:
        measured["mrss_over_18"] = (score > EUSTAR_MRSS, f"mRSS {score} (item when > 18)")
    crp_mg_dl: Decimal | None = None
    if inputs.crp is not None:
        crp_mg_dl = convert(inputs.crp.value, inputs.crp.unit, "mg/dL", field="crp.value")
        measured["crp_over_1_mg_dl"] = (crp_mg_dl > EUSTAR_CRP_MG_DL, f"CRP {crp_mg_dl} mg/dL (item when > 1 mg/dL)")
    if inputs.dlco_percent_predicted is not None:
        dlco = inputs.dlco_percent_predicted
        measured["dlco_under_70"] = (dlco < EUSTAR_DLCO_PERCENT, f"DLCO {dlco}% predicted (item when < 70%)")

    items: dict[str, bool | None] = {}
    derived: list[str] = []
    for name in EUSTAR_WEIGHTS:
        given: bool | None = getattr(inputs, name)
        if name in measured:
            value, account = measured[name]
            if given is not None and given != value:
                problems.append(Problem(name, given, f"agreement with the measurement: {account} gives {value}"))
                continue
            if given is None:
                derived.append(name)
            items[name] = value
        else:
            items[name] = given
    if problems:
        raise InvalidInput(problems=problems)

    # Each item's points as (lowest, highest) possible: equal when the item is known.
    bounds: dict[str, tuple[Decimal, Decimal]] = {}
    for name, present in items.items():
        weight = EUSTAR_WEIGHTS[name]
        bounds[name] = (weight, weight) if present else (Decimal(0), Decimal(0) if present is False else weight)
    if continuous:
        skin = items["mrss_over_18"]
        if score is not None and score <= EUSTAR_MRSS:
            bounds["mrss_over_18"] = (EUSTAR_SKIN_PER_POINT * score,) * 2
        elif skin is not True:  # mRSS <= 18 or unknown, without its value: 0 up to 0.084 x 18 = 1.512
            bounds["mrss_over_18"] = (Decimal(0), EUSTAR_SKIN_CONTINUOUS_MAX)
    points = {name: low for name, (low, high) in bounds.items() if low == high and low > 0}
    known = sum((low for low, _ in bounds.values()), Decimal(0))
    possible = sum((high for _, high in bounds.values()), Decimal(0))
    unknown = [name for name, (low, high) in bounds.items() if low != high]
    skin_low, skin_high = bounds["mrss_over_18"]
    total = known if not unknown else None
    active: bool | None
    if known >= EUSTAR_ACTIVE:
        active = True
    elif possible < EUSTAR_ACTIVE:
        active = False
    else:
        active = None
    reason = None
    if unknown:
        needs_value = "mrss (skin_item='continuous' needs the value when mRSS <= 18)"
        reason = missing_reason([needs_value if continuous and n == "mrss_over_18" else n for n in unknown])
        if active is not None:
            reason += f" (activity decided: {known} points known, at most {possible} possible)"
    variant = "revised EUSTAR activity index 2017 (skin item: " + (
        "0.084 x mRSS up to 18, 1.5 above; secondary source)" if continuous else "mRSS > 18)"
    )
    return EUSTARAIResult(
        instrument="eustar_ai",
        variant=variant,
        source=EUSTAR_SOURCE + ("; skin item: " + EUSTAR_CONTINUOUS_SKIN_SOURCE if continuous else ""),
        evaluable=total is not None,
        reason=reason,
        total=total,
        active=active,
        items=items,
        points=points,
        skin_item_points=skin_low if skin_low == skin_high else None,
        known_points=known,
        mrss=score,
        crp_mg_dl=crp_mg_dl,
        derived_from_measurements=derived,
    )


# ---------------------------------------------------------------------------------------------
# ACR provisional CRISS (Khanna 2016)
# ---------------------------------------------------------------------------------------------

CRISS_INTERCEPT = Decimal("-5.54")
CRISS_COEFFICIENTS: dict[str, Decimal] = {
    "mrss": Decimal("-0.81"),
    "fvc_percent_predicted": Decimal("0.21"),
    "patient_global": Decimal("-0.40"),
    "physician_global": Decimal("-0.44"),
    "haq_di": Decimal("-3.41"),
}
CRISS_IMPROVED = Decimal("0.60")  # improved when the predicted probability is >= 0.60
CRISS_FVC_RELATIVE_DECLINE = Decimal(15)  # step 1: FVC % predicted falls by >= 15% (relative) ...
CRISS_FVC_FLOOR = Decimal(80)  # ... to below 80% predicted

STEP1_EVENTS: tuple[str, ...] = ("new_renal_crisis", "ild_progression", "new_lv_failure", "new_pah")


class CRISSMeasures(InstrumentInput):
    """The five CRISS core set measures at one visit."""

    mrss: int | None = Field(default=None, ge=0, le=MRSS_MAX, description="Modified Rodnan skin score, 0-51.")
    fvc_percent_predicted: Exact | None = Field(default=None, ge=0, le=300, description="FVC, % of predicted.")
    patient_global: Exact | None = Field(
        default=None, ge=0, le=100, description="Patient global assessment (0-10 unless option global_scale='0-100')."
    )
    physician_global: Exact | None = Field(
        default=None, ge=0, le=100, description="Physician global assessment (0-10 unless option global_scale='0-100')."
    )
    haq_di: Exact | None = Field(default=None, ge=0, le=3, description="HAQ Disability Index, 0-3.")


class CRISSInput(InstrumentInput):
    """Baseline and follow-up core set measures, and the step-1 organ events between them.

    Step-1 events are clinician judgements attributed to SSc: ``new_renal_crisis``; ``ild_progression``
    (FVC % predicted fallen by >= 15% relative, confirmed by a second FVC within a month, HRCT
    confirming ILD if not shown before, and FVC < 80% predicted); ``new_lv_failure`` (LVEF <= 45%
    requiring treatment); ``new_pah`` (right-heart catheter: mean PAP >= 25 mmHg, PAWP <= 15 mmHg,
    PVR > 3 Wood units, requiring treatment).
    """

    baseline: CRISSMeasures = Field(description="Core set measures at baseline.")
    follow_up: CRISSMeasures = Field(description="Core set measures at follow-up.")
    new_renal_crisis: bool | None = Field(default=None, description="New scleroderma renal crisis.")
    ild_progression: bool | None = Field(
        default=None,
        description="Confirmed decline in FVC % predicted >= 15% (relative) to < 80% predicted, due to SSc ILD.",
    )
    new_lv_failure: bool | None = Field(
        default=None, description="New left ventricular failure (LVEF <= 45%) requiring treatment, due to SSc."
    )
    new_pah: bool | None = Field(
        default=None,
        description="New pulmonary arterial hypertension on right-heart catheterisation requiring treatment.",
    )


class CRISSOptions(InstrumentOptions):
    """Options of :func:`criss`."""

    global_scale: Literal["0-10", "0-100"] = Field(
        default="0-10",
        description="Scale of the patient and physician global assessments: '0-10' (default; the CRISS "
        "coefficients are per point on 0-10) or '0-100' (divided by 10 before scoring).",
    )


class CRISSResult(InstrumentResult):
    """CRISS: step 1 (organ events) and step 2 (predicted probability of improvement)."""

    TABLE_FIELDS: ClassVar[tuple[str, ...]] = ("probability", "step1_events")

    improved: bool | None = Field(description="Improved: no step-1 event and probability >= 0.60.")
    probability: Exact | None = Field(description="Predicted probability of improvement (0 if a step-1 event), 6 dp.")
    step2_probability: Exact | None = Field(description="Step-2 probability before any step-1 override, 6 dp.")
    linear_predictor: Exact | None
    step1_events: dict[str, bool | None]
    changes: dict[str, Exact | None] = Field(
        description="Follow-up minus baseline, per core set measure (0-10 globals)."
    )
    fvc_relative_decline_percent: Exact | None = Field(description="Relative fall in FVC % predicted, %, 2 dp.")

    def headline(self) -> str:
        if self.improved is None:
            return "not evaluable"
        events = [name for name, value in self.step1_events.items() if value]
        if events:
            return f"not improved (step 1: {', '.join(events)})"
        if self.probability is None:
            return f"not improved (step 2 P = {self.step2_probability})"
        return f"{'improved' if self.improved else 'not improved'} (P = {self.probability})"


def _criss_probability(linear: Decimal) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 50
        odds = linear.exp()
        return odds / (1 + odds)


def _check_global_scale(inputs: CRISSInput, global_scale: str) -> Decimal:
    """The divisor bringing the globals to 0-10; a global above its scale is an error naming the field."""
    scale = Decimal(10) if global_scale == "0-100" else Decimal(1)
    problems: list[Problem] = []
    for visit in ("baseline", "follow_up"):
        measures: CRISSMeasures = getattr(inputs, visit)
        for name in ("patient_global", "physician_global"):
            value = getattr(measures, name)
            if value is not None and value > 10 * scale:
                expected = "0-10" if scale == 1 else "0-100"
                hint = " (or set option global_scale=0-100)" if scale == 1 else ""
                problems.append(Problem(f"{visit}.{name}", value, f"a value on the {expected} scale{hint}"))
    if problems:
        raise InvalidInput(problems=problems)
    return scale


def _step1(inputs: CRISSInput) -> tuple[dict[str, bool | None], Decimal | None, list[str]]:
    """CRISS step 1 (shared by ``criss`` and ``criss25``): the recorded organ events, the relative fall in
    FVC % predicted, and a prompt when the FVC fall meets the numeric part of the ILD event but the event
    itself (a clinician's confirmed judgement) is not recorded."""
    fvc_before, fvc_after = inputs.baseline.fvc_percent_predicted, inputs.follow_up.fvc_percent_predicted
    relative_decline: Decimal | None = None
    numeric_ild = None
    if fvc_before is not None and fvc_after is not None and fvc_before > 0:
        relative_decline = (fvc_before - fvc_after) / fvc_before * 100
        numeric_ild = relative_decline >= CRISS_FVC_RELATIVE_DECLINE and fvc_after < CRISS_FVC_FLOOR
    events: dict[str, bool | None] = {name: getattr(inputs, name) for name in STEP1_EVENTS}
    reasons: list[str] = []
    if events["ild_progression"] is None and numeric_ild:
        reasons.append(
            "FVC % predicted fell >= 15% (relative) to < 80%: confirm ILD progression (repeat FVC within a month, "
            "HRCT, attributable to SSc) and set ild_progression"
        )
    return events, relative_decline, reasons


def criss(
    inputs: CRISSInput | Mapping[str, Any], *, options: CRISSOptions | Mapping[str, Any] | None = None
) -> CRISSResult:
    """ACR provisional Composite Response Index in diffuse cutaneous SSc (CRISS).

    Source: Khanna D, Berrocal VJ, Giannini EH, et al. Arthritis Rheumatol 2016;68(2):299–311
    (Table 4, "Application of CRISS in a clinical trial").

    * Step 1: a new scleroderma renal crisis, a confirmed decline in FVC % predicted ``>= 15%``
      (relative) with FVC ``< 80%`` predicted, new left ventricular failure (LVEF ``<= 45%``) or new
      PAH requiring treatment makes the patient not improved, probability 0.0.
    * Step 2: ``lin = -5.54 - 0.81·ΔmRSS + 0.21·ΔFVC% - 0.40·ΔPtGlobal - 0.44·ΔMDGlobal - 3.41·ΔHAQ-DI``
      with Δ = follow-up − baseline (globals on 0–10, FVC in percentage points);
      ``P = exp(lin) / (1 + exp(lin))``. Improved when ``P >= 0.60``.

    The minus signs were checked as described in ``docs/instruments-ssc-iim.md`` (the PMC rendering of
    Table 4 drops them). A step-1 event decides "not improved" even when other data are missing; a
    step-2 probability below 0.60 decides it even when step-1 events are not recorded.
    """
    inputs = parse(CRISSInput, inputs)
    options = parse(CRISSOptions, options)
    scale = _check_global_scale(inputs, options.global_scale)

    changes: dict[str, Decimal | None] = {}
    for name in CRISS_COEFFICIENTS:
        before, after = getattr(inputs.baseline, name), getattr(inputs.follow_up, name)
        if before is None or after is None:
            changes[name] = None
            continue
        delta = Decimal(after) - Decimal(before)
        if name in ("patient_global", "physician_global"):
            delta = delta / scale
        changes[name] = delta

    events, relative_decline, reasons = _step1(inputs)

    missing = [name for name, delta in changes.items() if delta is None]
    linear: Decimal | None = None
    p2: Decimal | None = None
    step2_ok: bool | None = None
    if not missing:
        linear = CRISS_INTERCEPT + sum(
            (CRISS_COEFFICIENTS[name] * delta for name, delta in changes.items() if delta is not None), Decimal(0)
        )
        p2 = _criss_probability(linear)
        step2_ok = p2 >= CRISS_IMPROVED
    else:
        reasons.append(missing_reason([f"{name} (baseline and follow-up)" for name in missing]))
    unknown_events = [name for name, value in events.items() if value is None]
    if unknown_events:
        reasons.append(missing_reason(unknown_events))

    any_event = any(value is True for value in events.values())
    improved = all_of([*(None if v is None else not v for v in events.values()), step2_ok])
    probability: Decimal | None
    if any_event:
        probability = Decimal(0)
    elif p2 is not None and not unknown_events:
        probability = p2
    else:
        probability = None
    six = Decimal("0.000001")
    return CRISSResult(
        instrument="criss",
        variant=f"ACR provisional CRISS 2016 (globals {options.global_scale})",
        source=CRISS_SOURCE,
        evaluable=probability is not None,
        reason="; ".join(reasons) if (probability is None or improved is None) and reasons else None,
        improved=improved,
        probability=probability.quantize(six) if probability is not None else None,
        step2_probability=p2.quantize(six) if p2 is not None else None,
        linear_predictor=linear,
        step1_events=events,
        changes=changes,
        fvc_relative_decline_percent=relative_decline.quantize(Decimal("0.01"))
        if relative_decline is not None
        else None,
    )


# ---------------------------------------------------------------------------------------------
# Revised CRISS (CRISS-25; Khanna 2021)
# ---------------------------------------------------------------------------------------------

CRISS25_ITEMS: tuple[str, ...] = ("mrss", "fvc_percent_predicted", "haq_di", "patient_global", "physician_global")
"""The five core set measures; lower is better for all but FVC % predicted."""
CRISS25_MIN_IMPROVED = 3  # responder: >= 3 of the 5 core set measures improved


class CRISS25Input(CRISSInput):
    """Baseline and follow-up core set measures and the step-1 organ events, exactly as for ``criss``
    (the same fields, so one record scores both).

    Step-1 events are clinician judgements attributed to SSc: ``new_renal_crisis``; ``ild_progression``
    (FVC % predicted fallen by >= 15% relative, confirmed by a second FVC within a month, HRCT confirming
    ILD if not shown before, and FVC < 80% predicted); ``new_lv_failure`` (LVEF <= 45% requiring
    treatment); ``new_pah`` (right-heart catheter: mean PAP >= 25 mmHg, PAWP <= 15 mmHg, PVR > 3 Wood
    units, requiring treatment).
    """


class CRISS25Options(InstrumentOptions):
    """Options of :func:`criss25`; the defaults give the revised CRISS-25."""

    threshold_percent: Literal[20, 25, 30, 40, 50, 60] = Field(
        default=25,
        description="Relative improvement from baseline, %, that counts an item as improved (mRSS, HAQ-DI, "
        "patient and physician global): 25 (default, CRISS-25); 20-60 were studied by Khanna 2021.",
    )
    fvc_threshold_percent: Literal[5, 10] = Field(
        default=5,
        description="Improvement of FVC % predicted that counts as improved: 5 (default) or 10 (%).",
    )
    fvc_change: Literal["relative", "absolute"] = Field(
        default="relative",
        description="FVC improvement as 'relative' change from baseline, % (default) or 'absolute' change in "
        "percentage points of predicted.",
    )
    worsening_limit: Literal["none", "at_most_one"] = Field(
        default="none",
        description="'none' (default; the published abstract's definition: >= 3 of 5 improved) or "
        "'at_most_one': additionally not more than 1 item worsened by the same threshold (unconfirmed clause).",
    )
    global_scale: Literal["0-10", "0-100"] = Field(
        default="0-10",
        description="Scale of the patient and physician global assessments, checked against the values: "
        "'0-10' (default) or '0-100' (relative changes do not depend on the scale).",
    )


class CRISS25Result(InstrumentResult):
    """Revised CRISS: step 1 (organ events) and step 2 (>= 3 of 5 core set measures improved)."""

    TABLE_FIELDS: ClassVar[tuple[str, ...]] = ("items_improved", "items_worsened", "step1_events")

    improved: bool | None = Field(description="Responder: no step-1 event and >= 3 of 5 core set measures improved.")
    items_improved: int = Field(description="Core set measures known to be improved by the threshold (0-5).")
    items_worsened: int = Field(description="Core set measures known to be worsened by the threshold (0-5).")
    item_improved: dict[str, bool | None]
    item_worsened: dict[str, bool | None]
    percent_improvement: dict[str, Exact | None] = Field(
        description="Relative improvement from baseline per measure, % (positive = better; FVC: rise), 2 dp; "
        "None when missing or the baseline is 0."
    )
    changes: dict[str, Exact | None] = Field(description="Follow-up minus baseline, per core set measure.")
    step1_events: dict[str, bool | None]
    fvc_relative_decline_percent: Exact | None = Field(description="Relative fall in FVC % predicted, %, 2 dp.")

    def headline(self) -> str:
        if self.improved is None:
            return "not evaluable"
        events = [name for name, value in self.step1_events.items() if value]
        if events:
            return f"not improved (step 1: {', '.join(events)})"
        return f"{'improved' if self.improved else 'not improved'} ({self.items_improved}/5 items improved)"


def _criss25_item(
    name: str, before: Decimal, after: Decimal, options: CRISS25Options
) -> tuple[bool, bool, Decimal | None]:
    """(improved, worsened, relative improvement %) of one core set measure, decided exactly."""
    better = after - before if name == "fvc_percent_predicted" else before - after
    percent = (better * 100 / before).quantize(Decimal("0.01")) if before > 0 else None
    if name == "fvc_percent_predicted":
        threshold = Decimal(options.fvc_threshold_percent)
        if options.fvc_change == "absolute":
            return better >= threshold, -better >= threshold, percent
    else:
        threshold = Decimal(options.threshold_percent)
    if before == 0:  # no relative change from 0: cannot improve; any rise is a worsening
        return False, better < 0, None
    # better / before * 100 >= threshold, without division
    return better * 100 >= threshold * before, -better * 100 >= threshold * before, percent


def criss25(
    inputs: CRISS25Input | Mapping[str, Any], *, options: CRISS25Options | Mapping[str, Any] | None = None
) -> CRISS25Result:
    """Revised ACR Composite Response Index in Systemic Sclerosis (revised CRISS, CRISS-25).

    Source: Khanna D, Huang S, Lin CJF, Spino C. Ann Rheum Dis 2021;80(5):641–50,
    doi:10.1136/annrheumdis-2020-219100. Confirmed from the abstract: the revised CRISS is "the proportion
    of participants who improved by a certain percentage in >= 3 of 5 core set measures" (mRSS, FVC %
    predicted, HAQ-DI, patient and clinician global assessments; e.g. "improved by >= 20%"). The full
    text was not available; the details below are from secondary sources and are options:

    * Step 1 — as in the provisional CRISS (Khanna 2016): a new scleroderma renal crisis, a confirmed decline
      in FVC % predicted ``>= 15%`` (relative) with FVC ``< 80%`` predicted, new left ventricular failure
      (LVEF ``<= 45%``) or new PAH requiring treatment makes the patient a non-responder (the revised CRISS
      keeps step 1: ACR Convergence 2023 abstract 1515).
    * Step 2 — responder when ``>= 3`` of the 5 measures improved. Improvement is the relative change from
      baseline, ``(baseline − follow-up) / baseline × 100 >= 25`` for mRSS, HAQ-DI and the two globals
      (option ``threshold_percent``), and ``(follow-up − baseline) / baseline × 100 >= 5`` for FVC %
      predicted ("except 5% for FVC", option ``fvc_threshold_percent``; ``fvc_change='absolute'`` uses
      ``follow-up − baseline >= 5`` percentage points instead). A measure at 0 at baseline cannot improve.
    * Option ``worsening_limit='at_most_one'`` additionally fails a patient with ``> 1`` measure worsened
      by the same thresholds (``>= 25%`` relative; FVC ``>= 5%``); whether the published index has this
      clause is unconfirmed, so it is off by default.

    Every threshold is inclusive (``>=``) and compared without division. A step-1 event decides "not
    improved" even when measures are missing; otherwise the result is decided only when the known
    measures already settle it.
    """
    inputs = parse(CRISS25Input, inputs)
    options = parse(CRISS25Options, options)
    _check_global_scale(inputs, options.global_scale)
    events, relative_decline, reasons = _step1(inputs)

    improved_items: dict[str, bool | None] = {}
    worsened_items: dict[str, bool | None] = {}
    percent: dict[str, Decimal | None] = {}
    changes: dict[str, Decimal | None] = {}
    notes: list[str] = []
    for name in CRISS25_ITEMS:
        before, after = getattr(inputs.baseline, name), getattr(inputs.follow_up, name)
        if before is None or after is None:
            improved_items[name] = worsened_items[name] = percent[name] = changes[name] = None
            continue
        before, after = Decimal(before), Decimal(after)
        changes[name] = after - before
        improved_items[name], worsened_items[name], percent[name] = _criss25_item(name, before, after, options)
        if before == 0 and not (name == "fvc_percent_predicted" and options.fvc_change == "absolute"):
            notes.append(f"{name} is 0 at baseline: no relative improvement possible")

    n_improved = sum(1 for v in improved_items.values() if v is True)
    n_worsened = sum(1 for v in worsened_items.values() if v is True)
    open_items = [name for name, v in improved_items.items() if v is None]
    step2: bool | None
    too_few = n_improved + len(open_items) < CRISS25_MIN_IMPROVED
    if too_few or (options.worsening_limit == "at_most_one" and n_worsened > 1):
        step2 = False
    elif n_improved >= CRISS25_MIN_IMPROVED and (
        options.worsening_limit == "none" or n_worsened + len(open_items) <= 1
    ):
        step2 = True
    else:
        step2 = None
    improved = all_of([*(None if v is None else not v for v in events.values()), step2])

    if open_items:
        reasons.append(missing_reason([f"{name} (baseline and follow-up)" for name in open_items]))
    unknown_events = [name for name, value in events.items() if value is None]
    if unknown_events:
        reasons.append(missing_reason(unknown_events))
    any_event = any(value is True for value in events.values())
    evaluable = any_event or (not open_items and not unknown_events)
    reason_parts = (reasons if not evaluable or improved is None else []) + notes
    fvc = f"FVC >= {options.fvc_threshold_percent}{'%' if options.fvc_change == 'relative' else ' points'}"
    worsening = "; at most 1 item worsened" if options.worsening_limit == "at_most_one" else ""
    return CRISS25Result(
        instrument="criss25",
        variant=f"revised CRISS-{options.threshold_percent} (>= 3 of 5 improved >= {options.threshold_percent}%, "
        f"{fvc} {options.fvc_change}{worsening})",
        source=CRISS25_SOURCE,
        evaluable=evaluable,
        reason="; ".join(reason_parts) or None,
        improved=improved,
        items_improved=n_improved,
        items_worsened=n_worsened,
        item_improved=improved_items,
        item_worsened=worsened_items,
        percent_improvement=percent,
        changes=changes,
        step1_events=events,
        fvc_relative_decline_percent=relative_decline.quantize(Decimal("0.01"))
        if relative_decline is not None
        else None,
    )


# ---------------------------------------------------------------------------------------------
# 2013 ACR/EULAR classification criteria
# ---------------------------------------------------------------------------------------------

SScItem = Literal[
    "skin_thickening_proximal_to_mcp",
    "puffy_fingers",
    "sclerodactyly",
    "digital_tip_ulcers",
    "fingertip_pitting_scars",
    "telangiectasia",
    "abnormal_nailfold_capillaries",
    "pulmonary_arterial_hypertension",
    "interstitial_lung_disease",
    "raynaud_phenomenon",
    "anticentromere",
    "anti_topoisomerase_i",
    "anti_rna_polymerase_iii",
]

# domain -> ((item, weight), ...); within a domain only the highest weight counts.
SSC_DOMAINS: dict[str, tuple[tuple[str, int], ...]] = {
    "skin_thickening_proximal_to_mcp": (("skin_thickening_proximal_to_mcp", 9),),
    "skin_thickening_of_fingers": (("puffy_fingers", 2), ("sclerodactyly", 4)),
    "fingertip_lesions": (("digital_tip_ulcers", 2), ("fingertip_pitting_scars", 3)),
    "telangiectasia": (("telangiectasia", 2),),
    "abnormal_nailfold_capillaries": (("abnormal_nailfold_capillaries", 2),),
    "pah_and_or_ild": (("pulmonary_arterial_hypertension", 2), ("interstitial_lung_disease", 2)),
    "raynaud_phenomenon": (("raynaud_phenomenon", 3),),
    "ssc_related_autoantibodies": (("anticentromere", 3), ("anti_topoisomerase_i", 3), ("anti_rna_polymerase_iii", 3)),
}
assert sorted(i for items in SSC_DOMAINS.values() for i, _ in items) == sorted(get_args(SScItem))
SSC_CLASSIFIED_POINTS = 9  # definite SSc: total >= 9


def _item(description: str) -> Any:
    return Field(default=None, description=description)


class SScClassificationInput(InstrumentInput):
    """Items of the 2013 ACR/EULAR criteria (ever present), and the two exclusions.

    An item not recorded is unknown: the result is decided only when the known points already reach 9
    or could not reach 9 whatever the unknown items are.
    """

    skin_thickening_proximal_to_mcp: bool | None = _item(
        "Skin thickening of the fingers of both hands extending proximal to the MCP joints (sufficient, 9)."
    )
    puffy_fingers: bool | None = _item("Puffy fingers (2).")
    sclerodactyly: bool | None = _item("Sclerodactyly of the fingers, distal to MCP but proximal to PIP (4).")
    digital_tip_ulcers: bool | None = _item("Digital tip ulcers (2).")
    fingertip_pitting_scars: bool | None = _item("Fingertip pitting scars (3).")
    telangiectasia: bool | None = _item("Telangiectasia (2).")
    abnormal_nailfold_capillaries: bool | None = _item("Abnormal nailfold capillaries (2).")
    pulmonary_arterial_hypertension: bool | None = _item("Pulmonary arterial hypertension (2; PAH/ILD maximum 2).")
    interstitial_lung_disease: bool | None = _item("Interstitial lung disease (2; PAH/ILD maximum 2).")
    raynaud_phenomenon: bool | None = _item("Raynaud's phenomenon (3).")
    anticentromere: bool | None = _item("Anticentromere antibodies (3; autoantibodies maximum 3).")
    anti_topoisomerase_i: bool | None = _item("Anti-topoisomerase I (anti-Scl-70) antibodies (3).")
    anti_rna_polymerase_iii: bool | None = _item("Anti-RNA polymerase III antibodies (3).")
    skin_thickening_sparing_fingers: bool | None = _item(
        "Exclusion: skin thickening sparing the fingers (the criteria do not apply)."
    )
    better_explained_by_other_disorder: bool | None = _item(
        "Exclusion: a scleroderma-like disorder better explains the manifestations (e.g. nephrogenic sclerosing "
        "fibrosis, scleredema diabeticorum, eosinophilic fasciitis)."
    )

    @model_validator(mode="after")
    def _consistent(self) -> SScClassificationInput:
        if self.skin_thickening_sparing_fingers is True:
            for name in ("skin_thickening_proximal_to_mcp", "puffy_fingers", "sclerodactyly"):
                if getattr(self, name) is True:
                    raise InvalidInput(
                        "skin_thickening_sparing_fingers",
                        True,
                        f"not true while {name} is true (the fingers are involved)",
                    )
        return self


class SScClassificationOptions(InstrumentOptions):
    """The 2013 criteria have no variants; options exist for interface uniformity."""


class SScClassificationResult(InstrumentResult):
    """2013 ACR/EULAR SSc classification with the points of each domain."""

    TABLE_FIELDS: ClassVar[tuple[str, ...]] = ("points_by_domain",)

    classified: bool | None = Field(description="Definite SSc: total >= 9 and no exclusion applies.")
    total_points: int = Field(description="Points of the items known present (0-28).")
    max_possible_points: int = Field(description="Points if every unrecorded item were present.")
    points_by_domain: dict[str, int]
    items_counted: dict[str, str] = Field(description="Domain -> the highest-weighted item counted.")
    excluded_by: list[str]

    def headline(self) -> str:
        if self.classified is None:
            return "not evaluable"
        return f"{'SSc' if self.classified else 'not classified'} ({self.total_points} points)"


def ssc_classification_2013(
    inputs: SScClassificationInput | Mapping[str, Any],
    *,
    options: SScClassificationOptions | Mapping[str, Any] | None = None,
) -> SScClassificationResult:
    """2013 ACR/EULAR classification criteria for systemic sclerosis.

    Source: van den Hoogen F, Khanna D, Fransen J, et al. Ann Rheum Dis 2013;72(11):1747–55 (Table 1);
    Arthritis Rheum 2013;65(11):2737–47. Skin thickening of the fingers of both hands extending
    proximal to the MCP joints is sufficient (9). Otherwise the highest weight in each domain is
    summed: skin thickening of the fingers (puffy fingers 2, sclerodactyly 4), fingertip lesions
    (digital tip ulcers 2, pitting scars 3), telangiectasia 2, abnormal nailfold capillaries 2,
    PAH and/or ILD 2, Raynaud's phenomenon 3, SSc-related autoantibodies 3 (maximum 19 without,
    28 with the sufficient item). Definite SSc
    when the total is ``>= 9``. Not applicable to patients with skin thickening sparing the fingers or
    with a scleroderma-like disorder that better explains the manifestations.
    """
    inputs = parse(SScClassificationInput, inputs)
    parse(SScClassificationOptions, options)
    points: dict[str, int] = {}
    counted: dict[str, str] = {}
    possible = 0
    unknown: list[str] = []
    for domain, items in SSC_DOMAINS.items():
        present = [(weight, item) for item, weight in items if getattr(inputs, item) is True]
        best = max(present, default=None)
        points[domain] = best[0] if best else 0
        if best:
            counted[domain] = best[1]
        open_items = [(weight, item) for item, weight in items if getattr(inputs, item) is None]
        unknown.extend(item for _, item in open_items)
        possible += max(points[domain], max((w for w, _ in open_items), default=0))
    total = sum(points.values())
    excluded = [
        name
        for name in ("skin_thickening_sparing_fingers", "better_explained_by_other_disorder")
        if getattr(inputs, name) is True
    ]
    unknown_exclusions = [
        name
        for name in ("skin_thickening_sparing_fingers", "better_explained_by_other_disorder")
        if getattr(inputs, name) is None
    ]
    classified: bool | None
    reason: str | None = None
    if excluded:
        classified = False
        reason = f"criteria not applicable: {', '.join(excluded)}"
    elif possible < SSC_CLASSIFIED_POINTS:
        classified = False
        reason = f"{total} points (< 9)" + (f"; at most {possible} possible" if unknown else "")
    elif total >= SSC_CLASSIFIED_POINTS and not unknown_exclusions:
        classified = True
    else:
        classified = None
        parts = []
        if total < SSC_CLASSIFIED_POINTS:
            parts.append(f"{total} points known, up to {possible} possible; " + missing_reason(unknown))
        if unknown_exclusions:
            parts.append("exclusions not recorded: " + ", ".join(unknown_exclusions))
        reason = "; ".join(parts)
    return SScClassificationResult(
        instrument="ssc_classification_2013",
        variant="2013 ACR/EULAR",
        source=SSC_CLASSIFICATION_SOURCE,
        evaluable=classified is not None,
        reason=reason,
        classified=classified,
        total_points=total,
        max_possible_points=possible,
        points_by_domain=points,
        items_counted=counted,
        excluded_by=excluded,
    )


# ---------------------------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------------------------

INSTRUMENTS: tuple[Instrument[Any, Any, Any], ...] = (
    Instrument(
        name="mrss",
        title="Modified Rodnan skin score",
        description="Skin thickness at 17 areas graded 0-3, total 0-51.",
        source=MRSS_SOURCE,
        function=mrss,
        input_model=MRSSInput,
        options_model=MRSSOptions,
        result_model=MRSSResult,
    ),
    Instrument(
        name="eustar_ai",
        title="Revised EUSTAR activity index",
        description="SSc activity 0-10 from six weighted items (mRSS > 18, CRP > 1 mg/dL, ...); active >= 2.5.",
        source=EUSTAR_SOURCE,
        function=eustar_ai,
        input_model=EUSTARAIInput,
        options_model=EUSTARAIOptions,
        result_model=EUSTARAIResult,
    ),
    Instrument(
        name="criss",
        title="ACR provisional CRISS",
        description="dcSSc response: organ events force non-improvement, else logistic probability >= 0.60.",
        source=CRISS_SOURCE,
        function=criss,
        input_model=CRISSInput,
        options_model=CRISSOptions,
        result_model=CRISSResult,
    ),
    Instrument(
        name="criss25",
        title="Revised CRISS (CRISS-25)",
        description="dcSSc response: organ events force non-response, else >= 3 of 5 core measures improved >= 25%.",
        source=CRISS25_SOURCE,
        function=criss25,
        input_model=CRISS25Input,
        options_model=CRISS25Options,
        result_model=CRISS25Result,
    ),
    Instrument(
        name="ssc_classification_2013",
        title="2013 ACR/EULAR SSc classification",
        description="Classification of SSc: weighted items (max per domain), definite SSc at >= 9 points.",
        source=SSC_CLASSIFICATION_SOURCE,
        function=ssc_classification_2013,
        input_model=SScClassificationInput,
        options_model=SScClassificationOptions,
        result_model=SScClassificationResult,
    ),
)
