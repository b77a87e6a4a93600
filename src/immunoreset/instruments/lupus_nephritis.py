"""Lupus nephritis renal response and the drug-free DORIS remission endpoint of CD19 CAR-T trials.

Instruments (registry names in brackets):

* Lupus nephritis renal response [``ln_renal_response``] — complete, partial or no renal response at one
  assessment, by one of two named definitions (option ``definition``):

  - ``kdigo_2024`` (default) — Kidney Disease: Improving Global Outcomes (KDIGO) Lupus Nephritis Work
    Group (Rovin BH, Ayoub IM, Chan TM, et al.). *KDIGO 2024 Clinical Practice Guideline for the
    Management of Lupus Nephritis.* Kidney Int 2024;105(1S):S1-S69. doi:10.1016/j.kint.2023.09.002.
    Complete response: proteinuria ``< 0.5`` g/g (50 mg/mmol), measured as the protein/creatinine
    ratio (PCR) of a 24-h urine collection, **and** stabilisation or improvement of kidney function
    (``±10-15 %`` of baseline), within 6-12 months of starting therapy (it may take longer than 12
    months). Partial response: proteinuria reduced by ``>= 50 %`` **and** to ``< 3`` g/g (300 mg/mmol),
    **and** kidney function as above, within 6-12 months. No kidney response: neither, within 6-12
    months. (Definitions as restated from the guideline's response table by two independent
    secondary transcriptions; the guideline PDF itself was not opened.)
  - ``eular_era_edta_2019`` — Fanouriakis A, Kostopoulou M, Cheema K, et al. *2019 Update of the Joint
    European League Against Rheumatism and European Renal Association-European Dialysis and
    Transplant Association (EULAR/ERA-EDTA) recommendations for the management of lupus nephritis.*
    Ann Rheum Dis 2020;79(6):713-723. doi:10.1136/annrheumdis-2020-216924. Complete response:
    proteinuria ``< 0.5-0.7`` g/24 h with (near-)normal GFR, by 12 months, later in patients with
    nephrotic-range proteinuria at baseline (abstract). Partial response: ``>= 50 %`` reduction of
    proteinuria to sub-nephrotic levels with (near-)normal GFR, by 6 months (the systematic review
    behind the update, Kostopoulou M et al. RMD Open 2020;6:e001263, gives the targets ``>= 25 %``
    reduction at 3 months, ``>= 50 %`` at 6 months, ``< 0.5-0.7`` g/day at 12 months). "Near-normal" is
    "within 10 % of normal GFR if previously abnormal" (wording of the 2012 recommendations, Bertsias
    GK et al. Ann Rheum Dis 2012;71:1771-82, kept in 2019 — not confirmed against the 2019 full text).

* Drug-free DORIS remission at month 6 [``drug_free_doris_month6``] — the primary endpoint of the
  Breakfree-SLE phase 2 trial of CD19 NEX-T CAR T cells (ClinicalTrials.gov NCT07015983: "proportion of
  patients achieving drug-free DORIS remission at Month 6"). Composed of :func:`doris_remission`
  (van Vollenhoven RF et al. Lupus Sci Med 2021;8:e000538, doi:10.1136/lupus-2021-000538) and
  :func:`drug_free` (medication history) at a visit in the month-6 window. The protocol's operational
  definition is not public: antimalarials are allowed by default, as in "remission off therapy" of the
  DORIS framework (van Vollenhoven R et al. Ann Rheum Dis 2017;76:554-61), and any systemic
  glucocorticoid dose counts (options ``antimalarials`` and ``drug_free.glucocorticoid_max_mg_per_day``).

Thresholds (all compared exactly in decimal arithmetic):

* ``< 0.5`` g/g complete-response limit (so 0.49 passes and 0.50 fails); EULAR option ``0.7``.
* ``>= 50 %`` reduction: current ``<= 0.5 x`` baseline (exactly half passes).
* KDIGO partial limit ``< 3`` g/g; EULAR sub-nephrotic ``< 3.5`` g (nephrotic range ``>= 3.5`` g/24 h;
  option ``3``).
* Kidney function, KDIGO: eGFR ``>= baseline x (1 - tolerance)``, tolerance 10 % (option, 10-15 %),
  inclusive (a fall of exactly 10 % passes). EULAR: eGFR ``>=`` the normal GFR (90 mL/min/1.73 m²,
  KDIGO 2012 CKD category G1), or ``>= 90 %`` of it when the baseline eGFR was below normal.
* Months since the start of therapy: a response is on time when months ``<=`` its target.
* Month 6 = study day ``infusion_day + 183`` (6 x 30.4375 days, rounded), window ``± 14`` days inclusive
  (assumed: the trial's visit window is not public).

Urine protein/creatinine ratios are accepted in g/g, mg/g, mg/mg (converted exactly through
:mod:`immunoreset.units`) and mg/mmol. The guidelines print each limit in both units with a rounded
equivalence (0.5 g/g = 50 mg/mmol); by default a value in mg/mmol is compared with the guideline's own
mg/mmol figure (option ``mg_per_mmol='convert'`` converts with the molar mass of creatinine,
113.12 g/mol: 1 g/g = 113.12 mg/mmol, so 0.5 g/g = 56.56 mg/mmol).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, localcontext
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

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
from immunoreset.instruments.medications import (
    CategoryStatus,
    DrugFreeOptions,
    DrugFreeResult,
    MedicationEntry,
    drug_free,
    prednisolone_equivalent_on_day,
)
from immunoreset.instruments.sle import DORISInput, DORISOptions, DORISResult, doris_remission
from immunoreset.units import canonical_unit, convert, same_dimension

__all__ = [
    "CREATININE_MOLAR_MASS_G_PER_MOL",
    "DrugFreeDORISInput",
    "DrugFreeDORISOptions",
    "DrugFreeDORISResult",
    "LNRenalResponseInput",
    "LNRenalResponseOptions",
    "LNRenalResponseResult",
    "ProteinCreatinineRatio",
    "Proteinuria24h",
    "drug_free_doris_month6",
    "ln_renal_response",
    "upcr_g_per_g",
]

KDIGO_2024_SOURCE = (
    "KDIGO Lupus Nephritis Work Group (Rovin BH et al.). KDIGO 2024 Clinical Practice Guideline for the "
    "Management of Lupus Nephritis. Kidney Int 2024;105(1S):S1-S69. doi:10.1016/j.kint.2023.09.002"
)
EULAR_2019_SOURCE = (
    "Fanouriakis A et al. 2019 update of the EULAR/ERA-EDTA recommendations for the management of lupus "
    "nephritis. Ann Rheum Dis 2020;79(6):713-723. doi:10.1136/annrheumdis-2020-216924"
)
LN_SOURCE = f"{KDIGO_2024_SOURCE}; {EULAR_2019_SOURCE}"
DRUG_FREE_DORIS_SOURCE = (
    "Breakfree-SLE primary endpoint, ClinicalTrials.gov NCT07015983 (2025); DORIS: van Vollenhoven RF et al. "
    "Lupus Sci Med 2021;8:e000538. doi:10.1136/lupus-2021-000538; remission off therapy: van Vollenhoven R et "
    "al. Ann Rheum Dis 2017;76:554-61"
)

CREATININE_MOLAR_MASS_G_PER_MOL = Decimal("113.12")
"""Molar mass of creatinine (C4H7N3O), 113.12 g/mol (PubChem CID 588): 1 mmol creatinine = 113.12 mg, so a
protein/creatinine ratio of 1 g/g (= 1 mg/mg) is 113.12 mg/mmol."""

MG_PER_MMOL = "mg/mmol"
UPCR_MAX_G_PER_G = Decimal(25)
"""Largest plausible protein/creatinine ratio (as immunoreset.instruments.sle; an assumption)."""
PROTEINURIA_MAX_G_PER_24H = Decimal(50)
"""Largest plausible 24-h urine protein (an assumption: beyond nephrotic extremes; catches mg given as g)."""
_RATIO_UNITS = ("g/g", "mg/g", "mg/mg")

# ---------------------------------------------------------------------------------------------
# Laboratory quantities
# ---------------------------------------------------------------------------------------------


def _is_mg_per_mmol(unit: str) -> bool:
    return unit.strip().lower().replace(" ", "") == MG_PER_MMOL


class ProteinCreatinineRatio(Quantity):
    """Urine protein/creatinine ratio with its unit: g/g, mg/g, mg/mg or mg/mmol."""

    value: Exact = Field(ge=0, le=100000, description="The measured ratio.")
    unit: str = Field(description="g/g, mg/g, mg/mg or mg/mmol (1 g/g = 1 mg/mg = 1000 mg/g = 113.12 mg/mmol).")

    @model_validator(mode="after")
    def _unit(self) -> ProteinCreatinineRatio:
        if not _is_mg_per_mmol(self.unit) and canonical_unit_or_none(self.unit) not in _RATIO_UNITS:
            raise InvalidInput("unit", self.unit, "a protein/creatinine ratio unit: g/g, mg/g, mg/mg or mg/mmol")
        if upcr_g_per_g(self.value, self.unit) > UPCR_MAX_G_PER_G:
            raise InvalidInput(
                "value",
                self.value,
                f"at most {UPCR_MAX_G_PER_G} g/g = {UPCR_MAX_G_PER_G * CREATININE_MOLAR_MASS_G_PER_MOL} mg/mmol (a "
                "larger value suggests a unit mistake, e.g. mg/mmol or mg/g given as g/g)",
            )
        return self


class Proteinuria24h(Quantity):
    """Urine protein excreted in 24 hours with its unit: g/24h, mg/24h (also g/d, mg/day)."""

    value: Exact = Field(ge=0, le=100000, description="The measured amount per 24 hours.")
    unit: str = Field(description="g/24h or mg/24h (aliases g/d, g/day, mg/day).")

    @model_validator(mode="after")
    def _unit(self) -> Proteinuria24h:
        if canonical_unit_or_none(self.unit) is None or not same_dimension(self.unit, "g/(24.h)"):
            raise InvalidInput("unit", self.unit, "an amount per 24 hours: g/24h or mg/24h")
        if convert(self.value, self.unit, "g/(24.h)") > PROTEINURIA_MAX_G_PER_24H:
            raise InvalidInput(
                "value",
                self.value,
                f"at most {PROTEINURIA_MAX_G_PER_24H} g/24 h (a larger value suggests a unit mistake: mg given as g)",
            )
        return self


def canonical_unit_or_none(unit: str) -> str | None:
    """The UCUM code of ``unit``, or None when immunoreset.units does not know it."""
    try:
        return canonical_unit(unit)
    except InvalidInput:
        return None


def upcr_g_per_g(value: Decimal | int | str, unit: str) -> Decimal:
    """A protein/creatinine ratio in g/g; mg/mmol is divided by 113.12 (creatinine 113.12 g/mol).

    >>> upcr_g_per_g("56.56", "mg/mmol")
    Decimal('0.5')
    >>> upcr_g_per_g(500, "mg/g")
    Decimal('0.5')
    """
    number = value if isinstance(value, Decimal) else Decimal(value)
    if _is_mg_per_mmol(unit):
        with localcontext() as ctx:
            ctx.prec = 34
            return (number / CREATININE_MOLAR_MASS_G_PER_MOL).normalize()
    return convert(number, unit, "g/g")


class _Level:
    """One proteinuria value in the unit family it is compared in: 'g' (g/g or g/24 h) or 'mg/mmol'."""

    def __init__(self, value: Decimal, family: Literal["g", "mg/mmol"], label: str) -> None:
        self.value = value
        self.family = family
        self.label = label

    def in_mg_per_mmol(self) -> Decimal:
        return self.value if self.family == "mg/mmol" else self.value * CREATININE_MOLAR_MASS_G_PER_MOL


def _ratio_level(q: ProteinCreatinineRatio, field: str) -> _Level:
    if _is_mg_per_mmol(q.unit):
        return _Level(q.value, "mg/mmol", f"{q.value} mg/mmol")
    g = convert(q.value, q.unit, "g/g", field=field)
    return _Level(g, "g", f"{g} g/g")


def _daily_level(q: Proteinuria24h, field: str) -> _Level:
    g = convert(q.value, q.unit, "g/(24.h)", field=field)
    return _Level(g, "g", f"{g} g/24 h")


# ---------------------------------------------------------------------------------------------
# Lupus nephritis renal response
# ---------------------------------------------------------------------------------------------

Definition = Literal["kdigo_2024", "eular_era_edta_2019"]
Measure = Literal["upcr", "proteinuria_24h"]

KDIGO_COMPLETE = (Decimal("0.5"), Decimal(50))  # < 0.5 g/g (50 mg/mmol)
KDIGO_PARTIAL = (Decimal(3), Decimal(300))  # < 3 g/g (300 mg/mmol)
EULAR_COMPLETE = {"0.5": (Decimal("0.5"), Decimal(50)), "0.7": (Decimal("0.7"), Decimal(70))}
EULAR_NEPHROTIC = {"3.5": (Decimal("3.5"), Decimal(350)), "3": (Decimal(3), Decimal(300))}
REDUCTION_FRACTION = Decimal("0.5")  # >= 50 % reduction: current <= 0.5 x baseline
EULAR_NEAR_NORMAL_FRACTION = Decimal("0.9")  # within 10 % of normal GFR
EULAR_PARTIAL_MONTHS = 6
EULAR_PARTIAL_MONTHS_NEPHROTIC = 12
EULAR_COMPLETE_MONTHS = 12


class LNRenalResponseInput(InstrumentInput):
    """One assessment against the start of therapy (baseline): proteinuria, eGFR and time.

    Give proteinuria as the urine protein/creatinine ratio (``upcr``, ``upcr_baseline``) and/or the 24-h
    urine protein (``proteinuria_24h``, ``proteinuria_24h_baseline``); baseline and current must use the
    same measure for the reduction. KDIGO 2024 prefers the ratio, EULAR 2019 the 24-h amount; the other
    measure is used when the preferred one is not recorded at both times.
    """

    upcr_baseline: ProteinCreatinineRatio | None = Field(
        default=None,
        description='Urine protein/creatinine ratio at the start of therapy, e.g. {"value": 3.2, "unit": "g/g"}.',
    )
    upcr: ProteinCreatinineRatio | None = Field(
        default=None, description="Urine protein/creatinine ratio now; complete response needs < 0.5 g/g (50 mg/mmol)."
    )
    upcr_24h_collection: bool | None = Field(
        default=None,
        description="The current ratio was measured on a 24-h urine collection (the KDIGO 2024 measure); false = "
        "spot urine. Reported only; it does not change the decision.",
    )
    proteinuria_24h_baseline: Proteinuria24h | None = Field(
        default=None, description='24-h urine protein at the start of therapy, e.g. {"value": 2.5, "unit": "g/24h"}.'
    )
    proteinuria_24h: Proteinuria24h | None = Field(
        default=None, description="24-h urine protein now (EULAR 2019 complete response: < 0.5 g/24 h)."
    )
    egfr_baseline: Exact | None = Field(
        default=None, ge=0, le=250, description="eGFR at the start of therapy, mL/min/1.73 m²."
    )
    egfr: Exact | None = Field(
        default=None,
        ge=0,
        le=250,
        description="eGFR now, mL/min/1.73 m². KDIGO: >= baseline x 0.90 (tolerance option); EULAR: >= 90 (normal), "
        "or >= 81 when the baseline was below 90.",
    )
    months_since_start: Exact | None = Field(
        default=None, ge=0, le=600, description="Months from the start of therapy (e.g. CAR-T infusion) to now."
    )
    nephrotic_baseline: bool | None = Field(
        default=None,
        description="Nephrotic-range proteinuria at baseline (>= 3.5 g/24 h); extends the EULAR time targets. "
        "Derived from the baseline proteinuria when not given.",
    )


class LNRenalResponseOptions(InstrumentOptions):
    """Options of :func:`ln_renal_response`."""

    definition: Definition = Field(
        default="kdigo_2024",
        description="kdigo_2024 (default; KDIGO 2024 guideline) or eular_era_edta_2019 (EULAR/ERA-EDTA 2019 "
        "recommendations).",
    )
    kdigo_egfr_tolerance_percent: Exact = Field(
        default=Decimal(10),
        ge=10,
        le=15,
        description="KDIGO 'stabilisation (±10-15 % of baseline)': largest eGFR fall still counted as stable, "
        "10-15 % (default 10, the stricter end; a fall of exactly this much passes).",
    )
    kdigo_target_months: int = Field(
        default=12,
        ge=6,
        le=12,
        description="KDIGO time target within its '6-12 months of starting therapy' (default 12, the upper end).",
    )
    eular_complete_limit: Literal["0.5", "0.7"] = Field(
        default="0.5",
        description="EULAR complete response: proteinuria < 0.5 (default; 2012: UPCR < 50 mg/mmol) or < 0.7 g/24 h "
        "(the two ends of '< 0.5-0.7 g/24 h').",
    )
    eular_nephrotic_limit: Literal["3.5", "3"] = Field(
        default="3.5",
        description="EULAR nephrotic range from (g/24 h or g/g): 3.5 (default; sub-nephrotic = < 3.5) or 3.",
    )
    eular_gfr_reference: Literal["normal", "baseline"] = Field(
        default="normal",
        description="EULAR (near-)normal GFR: 'normal' (default) = eGFR >= normal_egfr, or >= 90 % of it when the "
        "baseline was below normal; 'baseline' = eGFR >= normal_egfr or >= 90 % of the baseline eGFR.",
    )
    normal_egfr: Exact = Field(
        default=Decimal(90),
        ge=60,
        le=120,
        description="Normal GFR, mL/min/1.73 m² (default 90: KDIGO 2012 CKD category G1 'normal or high').",
    )
    mg_per_mmol: Literal["guideline_figures", "convert"] = Field(
        default="guideline_figures",
        description="A ratio in mg/mmol is compared with the guideline's own mg/mmol figure (default: 50, 70, 300, "
        "350) or, with 'convert', with the g/g limit x 113.12 (0.5 g/g = 56.56 mg/mmol).",
    )


class LNRenalResponseResult(InstrumentResult):
    """Renal response category, each criterion, and the time check."""

    TABLE_FIELDS: ClassVar[tuple[str, ...]] = ("criteria", "reduction_percent", "on_time")

    response: Literal["complete", "partial", "none"] | None = Field(
        description="complete, partial or none (neither) at this assessment; None when not decidable."
    )
    complete: bool | None = Field(description="Complete-response criteria all met.")
    partial: bool | None = Field(description="Partial-response criteria all met.")
    criteria: dict[str, bool | None]
    proteinuria_measure: Measure | None = Field(
        description="The measure compared (upcr: protein/creatinine ratio; proteinuria_24h: g/24 h)."
    )
    proteinuria: str | None = Field(description="Current proteinuria as compared, with unit.")
    proteinuria_baseline: str | None = Field(description="Baseline proteinuria as compared, with unit.")
    reduction_percent: Exact | None = Field(description="Proteinuria reduction from baseline, % (2 decimals shown).")
    egfr_change_percent: Exact | None = Field(description="eGFR change from baseline, % (2 decimals shown).")
    upcr_24h_collection: bool | None
    nephrotic_baseline: bool | None
    months_since_start: Exact | None
    partial_target_months: int | None = Field(description="Time target for partial response, months.")
    complete_target_months: int | None = Field(
        description="Time target for complete response, months (None: extended, no fixed limit)."
    )
    on_time: bool | None = Field(
        description="The response found was reached within its time target (None for no response)."
    )
    no_response_by_target: bool | None = Field(
        description="No response at or after the partial-response time target (no kidney response)."
    )
    thresholds: dict[str, str] = Field(description="The limits applied, in words.")

    def headline(self) -> str:
        if self.response is None:
            if self.complete is False and self.partial is None:
                return "not complete (partial undecided)"
            return "not evaluable"
        text = {"complete": "complete response", "partial": "partial response", "none": "no response"}[self.response]
        if self.on_time is False:
            text += " (after target time)"
        if self.no_response_by_target:
            text += " (no response by target time)"
        return text


def _percent(part: Decimal, whole: Decimal) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 34
        return (part / whole * 100).quantize(Decimal("0.01"))


def _below(level: _Level, limits: tuple[Decimal, Decimal], mode: str) -> bool:
    """level < limit; limits = (g/g or g/24 h figure, guideline mg/mmol figure)."""
    g_limit, mmol_limit = limits
    if level.family == "g":
        return level.value < g_limit
    if mode == "guideline_figures":
        return level.value < mmol_limit
    return level.value < g_limit * CREATININE_MOLAR_MASS_G_PER_MOL


def _limit_text(limits: tuple[Decimal, Decimal], mode: str, per: str) -> str:
    g_limit, mmol_limit = limits
    mmol = mmol_limit if mode == "guideline_figures" else g_limit * CREATININE_MOLAR_MASS_G_PER_MOL
    return f"< {g_limit} {per} (< {mmol} mg/mmol)"


def _choose(
    inputs: LNRenalResponseInput, definition: str
) -> tuple[Measure | None, _Level | None, _Level | None, list[str]]:
    """The measure compared, its current and baseline levels, and the fields missing for it."""
    measures: dict[Measure, tuple[Any, Any]] = {
        "upcr": (inputs.upcr, inputs.upcr_baseline),
        "proteinuria_24h": (inputs.proteinuria_24h, inputs.proteinuria_24h_baseline),
    }
    order: list[Measure] = ["upcr", "proteinuria_24h"] if definition == "kdigo_2024" else ["proteinuria_24h", "upcr"]
    chosen = next((m for m in order if all(v is not None for v in measures[m])), None)
    if chosen is None:
        chosen = next((m for m in order if measures[m][0] is not None), None)
    if chosen is None:
        chosen = next((m for m in order if measures[m][1] is not None), None)
    if chosen is None:
        return None, None, None, ["upcr or proteinuria_24h", "upcr_baseline or proteinuria_24h_baseline"]
    current_q, baseline_q = measures[chosen]

    def level(q: Any, field: str) -> _Level | None:
        if q is None:
            return None
        return _ratio_level(q, field) if chosen == "upcr" else _daily_level(q, field)

    current = level(current_q, chosen)
    baseline = level(baseline_q, f"{chosen}_baseline")
    missing = [name for name, q in ((chosen, current_q), (f"{chosen}_baseline", baseline_q)) if q is None]
    return chosen, current, baseline, missing


def _kidney_function(
    egfr: Decimal | None, baseline: Decimal | None, options: LNRenalResponseOptions
) -> tuple[bool | None, str]:
    if options.definition == "kdigo_2024":
        fraction = 1 - options.kdigo_egfr_tolerance_percent / 100
        rule = f"eGFR >= {fraction} x baseline (fall of at most {options.kdigo_egfr_tolerance_percent} %)"
        if egfr is None or baseline is None:
            return None, rule
        return egfr >= baseline * fraction, rule
    normal = options.normal_egfr
    near = normal * EULAR_NEAR_NORMAL_FRACTION
    if options.eular_gfr_reference == "normal":
        rule = f"eGFR >= {normal} (normal), or >= {near} (within 10 % of normal) when baseline eGFR < {normal}"
        if egfr is None:
            return None, rule
        if egfr >= normal:
            return True, rule
        if egfr < near:
            return False, rule
        return (None if baseline is None else baseline < normal), rule
    rule = f"eGFR >= {normal} (normal) or >= 0.9 x baseline (within 10 % of baseline)"
    if egfr is None:
        return None, rule
    if egfr >= normal:
        return True, rule
    if baseline is None:
        return None, rule
    return egfr >= baseline * EULAR_NEAR_NORMAL_FRACTION, rule


def ln_renal_response(
    inputs: LNRenalResponseInput | Mapping[str, Any],
    *,
    options: LNRenalResponseOptions | Mapping[str, Any] | None = None,
) -> LNRenalResponseResult:
    """Lupus nephritis complete / partial / no renal response at one assessment.

    ``kdigo_2024`` (default; Kidney Int 2024;105(1S):S1-S69):

    * complete: proteinuria ``< 0.5`` g/g (50 mg/mmol) **and** eGFR ``>= baseline x 0.90`` (stable or
      improved, ±10 %; option ``kdigo_egfr_tolerance_percent`` up to 15);
    * partial: proteinuria reduced ``>= 50 %`` **and** ``< 3`` g/g (300 mg/mmol) **and** kidney function
      as above;
    * time target: within 12 months of starting therapy (option ``kdigo_target_months``, 6-12);
      complete response may take longer (reported as not on time).

    ``eular_era_edta_2019`` (Ann Rheum Dis 2020;79:713-723):

    * complete: proteinuria ``< 0.5`` g/24 h (option 0.7; ratio ``< 0.5`` g/g or 50 mg/mmol) **and**
      (near-)normal GFR: eGFR ``>= 90``, or ``>= 81`` (within 10 % of normal) when the baseline eGFR was
      below 90 (option ``eular_gfr_reference='baseline'``: ``>= 0.9 x`` baseline);
    * partial: ``>= 50 %`` reduction **and** sub-nephrotic (``< 3.5`` g; option 3) **and** (near-)normal GFR;
    * time targets: partial by 6 months (12 with nephrotic-range baseline proteinuria), complete by
      12 months (extended, no fixed limit, with nephrotic-range baseline proteinuria).

    Complete takes precedence over partial. A failed criterion decides even when others are missing.
    """
    inputs = parse(LNRenalResponseInput, inputs)
    options = parse(LNRenalResponseOptions, options)
    kdigo = options.definition == "kdigo_2024"
    measure, current, baseline, missing_proteinuria = _choose(inputs, options.definition)
    if baseline is not None and baseline.value == 0:
        raise InvalidInput(
            f"{measure}_baseline.value", 0, "a baseline proteinuria above 0 (the reduction is relative to baseline)"
        )
    per = "g/g" if measure != "proteinuria_24h" else "g/24 h"
    mode = options.mg_per_mmol
    if kdigo:
        complete_limits, partial_limits = KDIGO_COMPLETE, KDIGO_PARTIAL
        partial_name = "proteinuria_below_3"
    else:
        complete_limits = EULAR_COMPLETE[options.eular_complete_limit]
        partial_limits = EULAR_NEPHROTIC[options.eular_nephrotic_limit]
        partial_name = "proteinuria_subnephrotic"

    below_complete = None if current is None else _below(current, complete_limits, mode)
    below_partial = None if current is None else _below(current, partial_limits, mode)
    reduced: bool | None = None
    reduction: Decimal | None = None
    if current is not None and baseline is not None:
        if current.family == baseline.family:
            now, before = current.value, baseline.value
        else:  # one in g/g, the other in mg/mmol: compare in mg/mmol (exact multiplication)
            now, before = current.in_mg_per_mmol(), baseline.in_mg_per_mmol()
        reduced = now <= before * REDUCTION_FRACTION
        reduction = _percent(before - now, before)
    kidney, kidney_rule = _kidney_function(inputs.egfr, inputs.egfr_baseline, options)

    criteria: dict[str, bool | None] = {
        "proteinuria_below_complete_limit": below_complete,
        "proteinuria_reduced_50_percent": reduced,
        partial_name: below_partial,
        "kidney_function": kidney,
    }
    complete = all_of([below_complete, kidney])
    partial = all_of([reduced, below_partial, kidney])
    response: Literal["complete", "partial", "none"] | None
    if complete is True:
        response = "complete"
    elif complete is False and partial is True:
        response = "partial"
    elif complete is False and partial is False:
        response = "none"
    else:
        response = None

    # nephrotic-range proteinuria at baseline (EULAR time targets)
    nephrotic = inputs.nephrotic_baseline
    if nephrotic is None and baseline is not None:
        nephrotic = not _below(baseline, EULAR_NEPHROTIC[options.eular_nephrotic_limit], mode)

    partial_target: int | None
    complete_target: int | None
    if kdigo:
        partial_target = complete_target = options.kdigo_target_months
    elif nephrotic is None:
        partial_target = complete_target = None
    elif nephrotic:
        partial_target, complete_target = EULAR_PARTIAL_MONTHS_NEPHROTIC, None
    else:
        partial_target, complete_target = EULAR_PARTIAL_MONTHS, EULAR_COMPLETE_MONTHS
    months = inputs.months_since_start
    timing_known = kdigo or nephrotic is not None
    on_time: bool | None = None
    no_response: bool | None = None
    if months is not None and timing_known:
        if response == "complete":
            on_time = True if complete_target is None else months <= complete_target
        elif response == "partial":
            on_time = partial_target is not None and months <= partial_target
        if response in ("complete", "partial"):
            no_response = False
        elif response == "none":
            no_response = partial_target is not None and months >= partial_target

    egfr_change = None
    if inputs.egfr is not None and inputs.egfr_baseline is not None and inputs.egfr_baseline > 0:
        egfr_change = _percent(inputs.egfr - inputs.egfr_baseline, inputs.egfr_baseline)

    reason = None
    if response is None:
        missing = list(missing_proteinuria)
        if kidney is None:
            missing += [n for n in ("egfr", "egfr_baseline") if getattr(inputs, n) is None]
        reason = f"not recorded: {', '.join(missing)}" if missing else "criteria undecided"
        if complete is False:
            reason += " (complete response excluded)"
    thresholds = {
        "complete": _limit_text(complete_limits, mode, per),
        "partial": f">= 50 % reduction and {_limit_text(partial_limits, mode, per)}",
        "kidney_function": kidney_rule,
    }
    if kdigo:
        variant = (
            f"KDIGO 2024 (eGFR fall <= {options.kdigo_egfr_tolerance_percent} %, target {options.kdigo_target_months} "
            "months)"
        )
    else:
        variant = (
            f"EULAR/ERA-EDTA 2019 (complete < {options.eular_complete_limit} g, nephrotic >= "
            f"{options.eular_nephrotic_limit} g, GFR vs {options.eular_gfr_reference})"
        )
    if mode == "convert":
        variant += "; mg/mmol converted at 113.12"
    return LNRenalResponseResult(
        instrument="ln_renal_response",
        variant=variant,
        source=KDIGO_2024_SOURCE if kdigo else EULAR_2019_SOURCE,
        evaluable=response is not None,
        reason=reason,
        response=response,
        complete=complete,
        partial=partial,
        criteria=criteria,
        proteinuria_measure=measure,
        proteinuria=None if current is None else current.label,
        proteinuria_baseline=None if baseline is None else baseline.label,
        reduction_percent=reduction,
        egfr_change_percent=egfr_change,
        upcr_24h_collection=inputs.upcr_24h_collection,
        nephrotic_baseline=nephrotic,
        months_since_start=months,
        partial_target_months=partial_target,
        complete_target_months=complete_target,
        on_time=on_time,
        no_response_by_target=no_response,
        thresholds=thresholds,
    )


# ---------------------------------------------------------------------------------------------
# Drug-free DORIS remission at month 6
# ---------------------------------------------------------------------------------------------

MONTH6_DAYS = 183  # 6 x 365.25 / 12 = 182.625 days, rounded
MONTH6_WINDOW_DAYS = 14  # assumption: the trial's visit window is not public
STUDY_DAY_MIN, STUDY_DAY_MAX = -36500, 36500


class DrugFreeDORISInput(DORISInput):
    """The month-6 visit: the DORIS items (as for ``doris``) and the medication history (as for ``drug_free``).

    The DORIS drug fields (``prednisolone_mg_per_day``, ``antimalarial``, ``immunosuppressant``,
    ``biologic``) may be left out: they are then taken from the history where it decides them.
    """

    medications: list[MedicationEntry] | None = Field(
        default=None,
        description="Medication history up to the visit (as for drug_free; [] = no drugs; none = not recorded).",
    )
    visit_day: int | None = Field(
        default=None, ge=STUDY_DAY_MIN, le=STUDY_DAY_MAX, description="Study day of the month-6 visit."
    )
    free_from_day: int | None = Field(
        default=None,
        ge=STUDY_DAY_MIN,
        le=STUDY_DAY_MAX,
        description="First study day of the period that must be drug-free up to the visit (none: the visit day only).",
    )
    history_start_day: int | None = Field(
        default=None, ge=STUDY_DAY_MIN, le=STUDY_DAY_MAX, description="First study day the medication history covers."
    )

    @model_validator(mode="after")
    def _days(self) -> DrugFreeDORISInput:
        if self.free_from_day is not None and self.visit_day is not None and self.free_from_day > self.visit_day:
            raise InvalidInput("free_from_day", self.free_from_day, f"a day on or before visit_day {self.visit_day}")
        return self


class DrugFreeDORISOptions(InstrumentOptions):
    """Options of :func:`drug_free_doris_month6`."""

    antimalarials: Literal["allowed", "not_allowed"] = Field(
        default="allowed",
        description="Antimalarials (hydroxychloroquine): 'allowed' (default; DORIS 2017 remission off therapy allows "
        "maintenance antimalarials) or 'not_allowed' (free of every disease-directed drug).",
    )
    infusion_day: int = Field(
        default=0,
        ge=-36500,
        le=36500,
        description="Study day of the CAR-T infusion (0 when days count from the infusion; 1 for CDISC day 1).",
    )
    month6_day: int = Field(
        default=MONTH6_DAYS, ge=150, le=220, description="Days from infusion to month 6 (default 183 = 6 x 30.4375)."
    )
    window_days: int = Field(
        default=MONTH6_WINDOW_DAYS,
        ge=0,
        le=60,
        description="Visit window, ± days around month 6, inclusive (default 14: an assumption; protocols differ).",
    )
    doris: DORISOptions = Field(default_factory=DORISOptions, description="Options of the DORIS 2021 remission.")
    drug_free: DrugFreeOptions = Field(
        default_factory=DrugFreeOptions,
        description="Options of drug_free; glucocorticoid_max_mg_per_day 0 (default) = any systemic glucocorticoid "
        "breaks drug-free status.",
    )


class DrugFreeDORISResult(InstrumentResult):
    """Drug-free DORIS remission at month 6 with the DORIS and drug-free sub-results."""

    TABLE_FIELDS: ClassVar[tuple[str, ...]] = ("criteria", "visit_day")

    met: bool | None = Field(description="DORIS remission and drug-free at a visit in the month-6 window.")
    criteria: dict[str, bool | None]
    visit_day: int | None
    window: tuple[int, int] = Field(description="First and last study day of the month-6 window.")
    in_window: bool | None
    doris: DORISResult
    drug_free: DrugFreeResult | None
    derived_from_history: list[str] = Field(description="DORIS drug fields taken from the medication history.")
    visit_record_drugs: list[str] = Field(description="Drugs the DORIS visit record shows (they break drug-free).")

    def headline(self) -> str:
        if self.met is None:
            return "not evaluable"
        return "drug-free DORIS remission" if self.met else "no drug-free DORIS remission"


def _free(status: CategoryStatus | None, windowed: bool) -> bool | None:
    if status is None:
        return None
    return status.free_throughout_window if windowed else status.free


def drug_free_doris_month6(
    inputs: DrugFreeDORISInput | Mapping[str, Any],
    *,
    options: DrugFreeDORISOptions | Mapping[str, Any] | None = None,
) -> DrugFreeDORISResult:
    """Drug-free DORIS remission at month 6 (Breakfree-SLE primary endpoint, NCT07015983).

    Met when all hold:

    1. the visit is in the month-6 window: ``|visit_day - (infusion_day + 183)| <= 14`` days;
    2. DORIS 2021 remission (:func:`doris_remission`: clinical SLEDAI = 0, PGA ``< 0.5``,
       prednisolone ``<= 5`` mg/day, stable immunosuppressants/biologics);
    3. glucocorticoid-free and immunosuppressant-free (conventional, biologic, targeted synthetic) on the
       visit day — or throughout ``[free_from_day, visit_day]`` — by :func:`drug_free` on the history
       (drugs given for CAR-T toxicity, lymphodepletion, replacement or prophylaxis do not count);
    4. with ``antimalarials='not_allowed'``: free of every disease-directed drug (antimalarials included).

    A drug shown by the DORIS visit record (prednisolone above the glucocorticoid limit, an
    immunosuppressant or biologic, an antimalarial when not allowed) also breaks drug-free status.
    A visit outside the window is not evaluable (it is not the month-6 assessment).
    """
    inputs = parse(DrugFreeDORISInput, inputs)
    options = parse(DrugFreeDORISOptions, options)
    df_options = options.drug_free
    target = options.infusion_day + options.month6_day
    window = (target - options.window_days, target + options.window_days)
    in_window = None if inputs.visit_day is None else window[0] <= inputs.visit_day <= window[1]

    history: DrugFreeResult | None = None
    if inputs.medications is not None and inputs.visit_day is not None:
        history = drug_free(
            {
                "medications": inputs.medications,
                "as_of_day": inputs.visit_day,
                "window_start_day": inputs.free_from_day,
                "history_start_day": inputs.history_start_day,
            },
            options=df_options,
        )

    doris_data = inputs.model_dump(include=set(DORISInput.model_fields), exclude_none=True)
    derived: list[str] = []
    if history is not None and inputs.medications is not None and inputs.visit_day is not None:
        if inputs.prednisolone_mg_per_day is None:
            try:
                dose = prednisolone_equivalent_on_day(
                    inputs.medications,
                    inputs.visit_day,
                    table=df_options.equivalence_table,
                    count_all_purposes=df_options.count_all_purposes,
                )
            except InvalidInput:  # e.g. an intramuscular depot: no equivalent dose; DORIS's dose stays unknown
                dose = None
            if dose is not None:
                doris_data["prednisolone_mg_per_day"] = dose
                derived.append("prednisolone_mg_per_day")
        is_status = history.immunosuppressant_free
        if is_status is not None and is_status.free:
            for name in ("immunosuppressant", "biologic"):
                if getattr(inputs, name) is None:
                    doris_data[name] = False
                    derived.append(name)
        all_status = history.drug_free
        if all_status is not None and all_status.free and inputs.antimalarial is None:
            doris_data["antimalarial"] = False
            derived.append("antimalarial")
    doris = doris_remission(parse(DORISInput, doris_data), options=options.doris)

    record: list[str] = []
    dose = inputs.prednisolone_mg_per_day
    if dose is not None and dose > df_options.glucocorticoid_max_mg_per_day:
        record.append(f"glucocorticoid {dose} mg/day")
    record += [name for name in ("immunosuppressant", "biologic") if getattr(inputs, name) is True]
    not_allowed = options.antimalarials == "not_allowed"
    if not_allowed and inputs.antimalarial is True:
        record.append("antimalarial")

    windowed = inputs.free_from_day is not None
    gc = _free(history.glucocorticoid_free, windowed) if history else None
    is_free = _free(history.immunosuppressant_free, windowed) if history else None
    if any(r.startswith("glucocorticoid") for r in record):
        gc = False
    if inputs.immunosuppressant is True or inputs.biologic is True:
        is_free = False
    criteria: dict[str, bool | None] = {
        "in_month6_window": in_window,
        "doris_remission": doris.remission,
        "glucocorticoid_free": gc,
        "immunosuppressant_free": is_free,
    }
    if not_allowed:
        everything = _free(history.drug_free, windowed) if history else None
        criteria["free_of_all_disease_drugs"] = False if inputs.antimalarial is True else everything

    reason: str | None = None
    if in_window is False:
        met: bool | None = None
        reason = f"visit day {inputs.visit_day} is outside the month-6 window {window[0]}-{window[1]}"
    else:
        met = all_of(criteria.values())
        if met is None:
            missing = [name for name, value in criteria.items() if value is None]
            details = []
            if inputs.visit_day is None:
                details.append("visit_day")
            if inputs.medications is None:
                details.append("medications")
            if history is not None and not history.evaluable and history.reason:
                details.append(history.reason)
            if doris.remission is None and doris.reason:
                details.append(f"DORIS {doris.reason}")
            reason = f"undecided: {', '.join(missing)}" + (f" ({'; '.join(details)})" if details else "")
    return DrugFreeDORISResult(
        instrument="drug_free_doris_month6",
        variant=f"month 6 = day {target} ± {options.window_days}; antimalarials "
        f"{options.antimalarials.replace('_', ' ')}; glucocorticoid > "
        f"{df_options.glucocorticoid_max_mg_per_day} mg/day breaks drug-free",
        source=DRUG_FREE_DORIS_SOURCE,
        evaluable=met is not None,
        reason=reason,
        met=met,
        criteria=criteria,
        visit_day=inputs.visit_day,
        window=window,
        in_window=in_window,
        doris=doris,
        drug_free=history,
        derived_from_history=derived,
        visit_record_drugs=record,
    )


# ---------------------------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------------------------

INSTRUMENTS: tuple[Instrument[Any, Any, Any], ...] = (
    Instrument(
        name="ln_renal_response",
        title="Lupus nephritis renal response (KDIGO 2024 / EULAR 2019)",
        description="Complete, partial or no renal response from proteinuria, eGFR and time since therapy start.",
        source=LN_SOURCE,
        function=ln_renal_response,
        input_model=LNRenalResponseInput,
        options_model=LNRenalResponseOptions,
        result_model=LNRenalResponseResult,
    ),
    Instrument(
        name="drug_free_doris_month6",
        title="Drug-free DORIS remission at month 6",
        description="DORIS 2021 remission off glucocorticoids and immunosuppressants at the month-6 visit.",
        source=DRUG_FREE_DORIS_SOURCE,
        function=drug_free_doris_month6,
        input_model=DrugFreeDORISInput,
        options_model=DrugFreeDORISOptions,
        result_model=DrugFreeDORISResult,
    ),
)
