"""Hyperinflammation after immune effector cell therapy: HScore and IEC-HS.

Instruments (registry names in brackets):

* HScore for reactive haemophagocytic syndrome [``hscore``] — Fardet L, Galicier L, Lambotte O, et al.
  *Development and validation of the HScore, a score for the diagnosis of reactive hemophagocytic
  syndrome.* Arthritis Rheumatol 2014;66(9):2613-2620, doi:10.1002/art.38690.
* Immune effector cell-associated HLH-like syndrome [``iec_hs``] — Hines MR, Knight TE, McNerney KO,
  et al. *Immune effector cell-associated hemophagocytic lymphohistiocytosis-like syndrome.*
  Transplant Cell Ther 2023;29(7):438.e1-438.e16, doi:10.1016/j.jtct.2023.03.006.

Every threshold is compared in exact decimal arithmetic after unit conversion through
:mod:`immunoreset.units`. Decisions taken where a definition could not be confirmed against the
full text are named options (published default) and listed in ``docs/instruments.md``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from immunoreset.errors import InvalidInput, Problem
from immunoreset.instruments.base import (
    CellCount,
    Exact,
    Instrument,
    InstrumentInput,
    InstrumentOptions,
    InstrumentResult,
    MassConcentration,
    Quantity,
    all_of,
    missing_reason,
    parse,
)
from immunoreset.units import canonical_unit, convert, same_dimension

__all__ = [
    "HSCORE_CUTOFF",
    "HSCORE_SOURCE",
    "IEC_HS_SOURCE",
    "TRIGLYCERIDE_MG_DL_PER_MMOL_L",
    "CellCount",
    "EnzymeActivity",
    "HScoreInput",
    "HScoreOptions",
    "HScoreResult",
    "IECHSInput",
    "IECHSOptions",
    "IECHSResult",
    "MassConcentration",
    "Temperature",
    "Triglycerides",
    "hscore",
    "iec_hs",
]

HSCORE_SOURCE = "Fardet L et al. Arthritis Rheumatol 2014;66(9):2613-2620, doi:10.1002/art.38690 (HScore)"
IEC_HS_SOURCE = (
    "Hines MR et al. Transplant Cell Ther 2023;29(7):438.e1-438.e16, doi:10.1016/j.jtct.2023.03.006 (ASTCT IEC-HS)"
)


# ---------------------------------------------------------------------------------------------
# Quantities with a checked dimension
# ---------------------------------------------------------------------------------------------


def _check_unit(unit: str, reference: str, expected: str) -> None:
    canonical_unit(unit, field="unit")
    if not same_dimension(unit, reference):
        raise InvalidInput("unit", unit, expected)


class Temperature(Quantity):
    """A body temperature in degrees Celsius (``Cel``) or Fahrenheit (``[degF]``)."""

    @model_validator(mode="after")
    def _unit(self) -> Temperature:
        _check_unit(self.unit, "Cel", "a temperature unit: 'Cel' (°C) or '[degF]' (°F)")
        celsius = convert(self.value, self.unit, "Cel")
        if not Decimal(25) <= celsius <= Decimal(45):
            raise InvalidInput("value", self.value, "a body temperature between 25 and 45 °C (77-113 °F)")
        return self


class EnzymeActivity(Quantity):
    """An enzyme activity in U/L or IU/L (the same unit for aminotransferases)."""

    value: Exact = Field(ge=0, description="The measured activity (>= 0).")

    @model_validator(mode="after")
    def _unit(self) -> EnzymeActivity:
        code = canonical_unit(self.unit, field="unit")
        if code not in ("U/L", "[IU]/L"):
            raise InvalidInput("unit", self.unit, "an enzyme activity unit: 'U/L' or 'IU/L'")
        return self


TRIGLYCERIDE_MG_DL_PER_MMOL_L = Decimal("88.57")
"""Triglyceride mg/dL per mmol/L: molar mass of triolein, 885.7 g/mol (the conventional clinical factor)."""


class Triglycerides(Quantity):
    """Fasting triglycerides in mmol/L, or in a mass concentration (mg/dL, g/L) converted with 885.7 g/mol."""

    value: Exact = Field(ge=0, description="The measured value (>= 0).")

    @model_validator(mode="after")
    def _unit(self) -> Triglycerides:
        code = canonical_unit(self.unit, field="unit")
        if code != "mmol/L" and not same_dimension(code, "mg/dL"):
            raise InvalidInput("unit", self.unit, "'mmol/L' or a mass concentration unit such as 'mg/dL' or 'g/L'")
        return self

    def mmol_per_l(self) -> Decimal:
        """The value in mmol/L (mass units divided by 88.57 mg/dL per mmol/L)."""
        code = canonical_unit(self.unit)
        if code == "mmol/L":
            return self.value
        return convert(self.value, code, "mg/dL") / TRIGLYCERIDE_MG_DL_PER_MMOL_L


def _any_of(criteria: Iterable[bool | None]) -> bool | None:
    """Three-valued OR: True if any is True, None if any is unknown, else False."""
    values = list(criteria)
    if any(v is True for v in values):
        return True
    if any(v is None for v in values):
        return None
    return False


# ---------------------------------------------------------------------------------------------
# HScore (Fardet 2014)
# ---------------------------------------------------------------------------------------------

HSCORE_CUTOFF = 169
"""Best cut-off of the derivation study (sensitivity 93%, specificity 86%)."""

IMMUNOSUPPRESSION_POINTS = 18
TEMPERATURE_LOW = Decimal("38.4")  # °C: < 38.4 = 0; 38.4-39.4 = 33; > 39.4 = 49
TEMPERATURE_HIGH = Decimal("39.4")
ORGANOMEGALY_POINTS = {0: 0, 1: 23, 2: 38}  # none / hepatomegaly or splenomegaly / both
CYTOPENIA_POINTS = {0: 0, 1: 0, 2: 24, 3: 34}  # number of lineages (0 or 1 lineage score 0)
HB_G_DL = Decimal("9.2")  # haemoglobin <= 9.2 g/dL
WBC_10E9_L = Decimal("5.0")  # leucocytes <= 5.0 x 10^9/L
PLATELETS_10E9_L = Decimal(110)  # platelets <= 110 x 10^9/L
FERRITIN_LOW = Decimal(2000)  # ng/mL: < 2000 = 0; 2000-6000 = 35; > 6000 = 50
FERRITIN_HIGH = Decimal(6000)
TRIGLYCERIDES_LOW = Decimal("1.5")  # mmol/L: < 1.5 = 0; 1.5-4 = 44; > 4 = 64
TRIGLYCERIDES_HIGH = Decimal(4)
FIBRINOGEN_G_L = Decimal("2.5")  # g/L: > 2.5 = 0; <= 2.5 = 30
AST_U_L = Decimal(30)  # U/L: >= 30 = 19
MARROW_POINTS = 35

HSCORE_ITEMS: tuple[str, ...] = (
    "immunosuppression",
    "temperature",
    "organomegaly",
    "cytopenias",
    "ferritin",
    "triglycerides",
    "fibrinogen",
    "ast",
    "marrow_haemophagocytosis",
)
HSCORE_MAX = 18 + 49 + 38 + 34 + 50 + 64 + 30 + 19 + 35  # 337


class HScoreInput(InstrumentInput):
    """One assessment for the HScore. Laboratory values carry their unit.

    Cytopenias may be given as the three counts (haemoglobin, leucocytes, platelets) or as the number of
    cytopenic lineages; given both ways they must agree.
    """

    known_immunosuppression: bool | None = Field(
        default=None,
        description="Known underlying immunosuppression: HIV positive or long-term immunosuppressive therapy "
        "(glucocorticoids, ciclosporin, azathioprine, ...) (18).",
    )
    temperature: Temperature | None = Field(
        default=None,
        description="Highest body temperature (unit Cel or [degF]): < 38.4 °C 0; 38.4-39.4 °C 33; > 39.4 °C 49.",
    )
    hepatomegaly: bool | None = Field(default=None, description="Hepatomegaly (one organ 23, with splenomegaly 38).")
    splenomegaly: bool | None = Field(default=None, description="Splenomegaly (one organ 23, with hepatomegaly 38).")
    hemoglobin: MassConcentration | None = Field(
        default=None, description="Haemoglobin (g/dL or g/L); cytopenic lineage when <= 9.2 g/dL."
    )
    leukocytes: CellCount | None = Field(
        default=None, description="White blood cell count (10*9/L or /uL); cytopenic lineage when <= 5.0 x 10^9/L."
    )
    platelets: CellCount | None = Field(
        default=None, description="Platelet count (10*9/L or /uL); cytopenic lineage when <= 110 x 10^9/L."
    )
    cytopenic_lineages: int | None = Field(
        default=None,
        ge=0,
        le=3,
        description="Number of cytopenic lineages, 0-3, if the counts are not given (0-1 lineage 0; 2 24; 3 34).",
    )
    ferritin: MassConcentration | None = Field(
        default=None, description="Ferritin (ng/mL = ug/L): < 2000 0; 2000-6000 35; > 6000 50."
    )
    triglycerides: Triglycerides | None = Field(
        default=None,
        description="Fasting triglycerides (mmol/L, or mg/dL converted at 88.57 mg/dL per mmol/L): "
        "< 1.5 mmol/L 0; 1.5-4 mmol/L 44; > 4 mmol/L 64.",
    )
    fibrinogen: MassConcentration | None = Field(
        default=None, description="Fibrinogen (g/L or mg/dL): > 2.5 g/L 0; <= 2.5 g/L 30."
    )
    ast: EnzymeActivity | None = Field(
        default=None, description="Aspartate aminotransferase (U/L = IU/L): >= 30 U/L 19."
    )
    marrow_haemophagocytosis: bool | None = Field(
        default=None, description="Haemophagocytosis features on bone-marrow aspirate (35); null if not done."
    )


class HScoreOptions(InstrumentOptions):
    """Options of :func:`hscore`."""

    cutoff_operator: Literal["ge", "gt"] = Field(
        default="ge",
        description="HLH likely when the HScore is 'ge' (>= 169, default) or 'gt' (> 169). The paper names 169 "
        "as the best cut-off without an operator; >= 169 is the common reading.",
    )
    marrow_not_done: Literal["unknown", "zero"] = Field(
        default="unknown",
        description="Bone-marrow haemophagocytosis not recorded: 'unknown' (default; the total is not evaluable "
        "unless the decision is already certain) or 'zero' (the item scores 0: the published score "
        "without an aspirate, flagged in 'variant').",
    )


class HScoreResult(InstrumentResult):
    """HScore total, points of each item and the cut-off decision."""

    TABLE_FIELDS: ClassVar[tuple[str, ...]] = ("hlh_likely", "points")

    total: int | None = Field(description="HScore 0-337 (sum of the item points).")
    hlh_likely: bool | None = Field(description="HScore at or above the cut-off 169 (option cutoff_operator).")
    points: dict[str, int | None] = Field(description="Points of each item (null when not recorded).")
    known_points: int = Field(description="Points of the recorded items.")
    max_possible: int = Field(description="Total if every unrecorded item scored its maximum.")
    cytopenic_lineages: int | None
    temperature_celsius: Exact | None
    ferritin_ng_ml: Exact | None
    triglycerides_mmol_l: Exact | None
    fibrinogen_g_l: Exact | None

    def headline(self) -> str:
        if self.total is None:
            if self.hlh_likely is None:
                return "not evaluable"
            if self.hlh_likely:
                return f"HLH likely (>= {self.known_points} known)"
            return f"HLH unlikely (at most {self.max_possible})"
        return f"{self.total} ({'HLH likely' if self.hlh_likely else 'below cut-off'})"


def _band(value: Decimal, low: Decimal, high: Decimal, points: tuple[int, int, int]) -> int:
    """Three bands: < low, low..high (both inclusive), > high."""
    if value < low:
        return points[0]
    if value <= high:
        return points[1]
    return points[2]


def hscore(
    inputs: HScoreInput | Mapping[str, Any], *, options: HScoreOptions | Mapping[str, Any] | None = None
) -> HScoreResult:
    """HScore for reactive haemophagocytic syndrome.

    Source: Fardet L, Galicier L, Lambotte O, et al. Arthritis Rheumatol 2014;66(9):2613-2620 (Table 3).
    Points: known underlying immunosuppression 18; temperature ``< 38.4`` °C 0, ``38.4-39.4`` 33,
    ``> 39.4`` 49; organomegaly none 0, hepatomegaly or splenomegaly 23, both 38; cytopenias (Hb
    ``<= 9.2`` g/dL, leucocytes ``<= 5.0`` ×10⁹/L, platelets ``<= 110`` ×10⁹/L) one lineage 0, two 24,
    three 34; ferritin ``< 2000`` ng/mL 0, ``2000-6000`` 35, ``> 6000`` 50; triglycerides ``< 1.5``
    mmol/L 0, ``1.5-4`` 44, ``> 4`` 64; fibrinogen ``> 2.5`` g/L 0, ``<= 2.5`` 30; AST ``>= 30`` U/L 19;
    haemophagocytosis on bone-marrow aspirate 35. Total 0-337. The middle bands include both edges.
    Best cut-off 169 (sensitivity 93%, specificity 86%); HLH likely when ``>= 169`` (option
    ``cutoff_operator``). The paper's probability curve is not reproduced (no formula was confirmed).

    Triglycerides in mass units are converted with 88.57 mg/dL per mmol/L (triolein, 885.7 g/mol), so
    1.5 mmol/L = 132.855 mg/dL and 4 mmol/L = 354.28 mg/dL. With items missing the total is unknown,
    but the decision is given when the known points reach the cut-off or the maximum possible cannot.
    """
    inputs = parse(HScoreInput, inputs)
    options = parse(HScoreOptions, options)
    problems: list[Problem] = []
    points: dict[str, int | None] = dict.fromkeys(HSCORE_ITEMS)
    maxima = {
        "immunosuppression": 18,
        "temperature": 49,
        "organomegaly": 38,
        "cytopenias": 34,
        "ferritin": 50,
        "triglycerides": 64,
        "fibrinogen": 30,
        "ast": 19,
        "marrow_haemophagocytosis": 35,
    }

    if inputs.known_immunosuppression is not None:
        points["immunosuppression"] = IMMUNOSUPPRESSION_POINTS if inputs.known_immunosuppression else 0

    celsius: Decimal | None = None
    if inputs.temperature is not None:
        celsius = inputs.temperature.to("Cel", field="temperature")
        points["temperature"] = _band(celsius, TEMPERATURE_LOW, TEMPERATURE_HIGH, (0, 33, 49))

    organs = (inputs.hepatomegaly, inputs.splenomegaly)
    if None not in organs:
        points["organomegaly"] = ORGANOMEGALY_POINTS[sum(1 for o in organs if o)]
    elif any(o is True for o in organs):
        maxima["organomegaly"] = 38  # one known, the other unknown: 23 or 38
    else:
        maxima["organomegaly"] = 23 if any(o is False for o in organs) else 38

    lineage_flags: list[bool | None] = []
    for name, q, unit, limit in (
        ("hemoglobin", inputs.hemoglobin, "g/dL", HB_G_DL),
        ("leukocytes", inputs.leukocytes, "10*9/L", WBC_10E9_L),
        ("platelets", inputs.platelets, "10*9/L", PLATELETS_10E9_L),
    ):
        lineage_flags.append(None if q is None else q.to(unit, field=name) <= limit)
    lineages: int | None = None
    if None not in lineage_flags:
        lineages = sum(1 for f in lineage_flags if f)
        if inputs.cytopenic_lineages is not None and inputs.cytopenic_lineages != lineages:
            problems.append(
                Problem(
                    "cytopenic_lineages",
                    inputs.cytopenic_lineages,
                    f"agreement with the counts (they give {lineages} cytopenic lineages)",
                )
            )
    elif inputs.cytopenic_lineages is not None:
        known_low = sum(1 for f in lineage_flags if f is True)
        possible = known_low + sum(1 for f in lineage_flags if f is None)
        if not known_low <= inputs.cytopenic_lineages <= possible:
            problems.append(
                Problem(
                    "cytopenic_lineages",
                    inputs.cytopenic_lineages,
                    f"agreement with the counts given ({known_low}-{possible} cytopenic lineages possible)",
                )
            )
        lineages = inputs.cytopenic_lineages
    else:
        known_low = sum(1 for f in lineage_flags if f is True)
        possible = known_low + sum(1 for f in lineage_flags if f is None)
        maxima["cytopenias"] = CYTOPENIA_POINTS[possible]
    if problems:
        raise InvalidInput(problems=problems)
    if lineages is not None:
        points["cytopenias"] = CYTOPENIA_POINTS[lineages]

    ferritin: Decimal | None = None
    if inputs.ferritin is not None:
        ferritin = inputs.ferritin.to("ng/mL", field="ferritin")
        points["ferritin"] = _band(ferritin, FERRITIN_LOW, FERRITIN_HIGH, (0, 35, 50))

    tg: Decimal | None = None
    if inputs.triglycerides is not None:
        tg = inputs.triglycerides.mmol_per_l()
        points["triglycerides"] = _band(tg, TRIGLYCERIDES_LOW, TRIGLYCERIDES_HIGH, (0, 44, 64))

    fibrinogen: Decimal | None = None
    if inputs.fibrinogen is not None:
        fibrinogen = inputs.fibrinogen.to("g/L", field="fibrinogen")
        points["fibrinogen"] = 30 if fibrinogen <= FIBRINOGEN_G_L else 0

    if inputs.ast is not None:
        points["ast"] = 19 if inputs.ast.value >= AST_U_L else 0

    variant = "HScore (Fardet 2014)"
    if inputs.marrow_haemophagocytosis is not None:
        points["marrow_haemophagocytosis"] = MARROW_POINTS if inputs.marrow_haemophagocytosis else 0
    elif options.marrow_not_done == "zero":
        points["marrow_haemophagocytosis"] = 0
        variant += ", no bone-marrow aspirate (item scored 0)"

    known = sum(p for p in points.values() if p is not None)
    unknown = [name for name, p in points.items() if p is None]
    possible_total = known + sum(maxima[name] for name in unknown)
    total = known if not unknown else None

    def meets(value: int) -> bool:
        return value >= HSCORE_CUTOFF if options.cutoff_operator == "ge" else value > HSCORE_CUTOFF

    hlh_likely: bool | None
    if meets(known):
        hlh_likely = True
    elif not meets(possible_total):
        hlh_likely = False
    else:
        hlh_likely = None
    reason = None
    if unknown:
        reason = missing_reason(unknown)
        if hlh_likely is not None:
            reason += f" (decided: {known} points known, at most {possible_total} possible)"
    return HScoreResult(
        instrument="hscore",
        variant=variant + (" cut-off >= 169" if options.cutoff_operator == "ge" else " cut-off > 169"),
        source=HSCORE_SOURCE,
        evaluable=total is not None,
        reason=reason,
        total=total,
        hlh_likely=hlh_likely,
        points=points,
        known_points=known,
        max_possible=possible_total,
        cytopenic_lineages=lineages,
        temperature_celsius=celsius,
        ferritin_ng_ml=ferritin,
        triglycerides_mmol_l=tg,
        fibrinogen_g_l=fibrinogen,
    )


# ---------------------------------------------------------------------------------------------
# IEC-HS (Hines 2023)
# ---------------------------------------------------------------------------------------------

IEC_HS_FERRITIN_MULTIPLE = Decimal(2)  # ferritin > 2 x ULN, or > 2 x the value at infusion
IEC_HS_FIBRINOGEN_MG_DL = Decimal(150)  # hypofibrinogenaemia: fibrinogen < 150 mg/dL

IEC_HS_FEATURES: tuple[str, ...] = (
    "haemophagocytosis",
    "cytopenias",
    "hypofibrinogenaemia",
    "transaminase_elevation",
)


class IECHSInput(InstrumentInput):
    """One assessment for IEC-HS after CAR T-cell (immune effector cell) therapy.

    Hyperferritinaemia may be given as ``ferritin_over_2x`` or decided from ``ferritin`` with its upper
    limit of normal and/or the value at infusion; hypofibrinogenaemia likewise from ``fibrinogen``.
    """

    onset_after_crs_improvement: bool | None = Field(
        default=None,
        description="Onset with resolving CRS, or worsening inflammation after initial improvement with "
        "CRS-directed therapy (required).",
    )
    ferritin_over_2x: bool | None = Field(
        default=None, description="Ferritin > 2 x ULN or > 2 x the value at infusion (required: this or rising)."
    )
    ferritin: MassConcentration | None = Field(default=None, description="Ferritin now (ng/mL = ug/L).")
    ferritin_uln: MassConcentration | None = Field(
        default=None, description="Upper limit of normal of the ferritin assay (same kind of unit)."
    )
    ferritin_at_infusion: MassConcentration | None = Field(
        default=None, description="Ferritin at the time of infusion (baseline)."
    )
    ferritin_rapidly_rising: bool | None = Field(
        default=None, description="Ferritin rapidly rising, per clinical judgement (alternative to > 2 x)."
    )
    haemophagocytosis: bool | None = Field(
        default=None, description="Haemophagocytosis in bone marrow or other tissue (feature)."
    )
    cytopenias: bool | None = Field(
        default=None, description="New-onset, worsening or refractory cytopenias (feature)."
    )
    hypofibrinogenaemia: bool | None = Field(
        default=None,
        description="Hypofibrinogenaemia: fibrinogen < 150 mg/dL (1.5 g/L) or below the laboratory's lower limit "
        "of normal (option fibrinogen_rule) (feature).",
    )
    fibrinogen: MassConcentration | None = Field(
        default=None, description="Fibrinogen (mg/dL or g/L); hypofibrinogenaemia when < 150 mg/dL or < LLN."
    )
    fibrinogen_lln: MassConcentration | None = Field(
        default=None, description="Lower limit of normal of the fibrinogen assay (same kind of unit)."
    )
    transaminase_elevation: bool | None = Field(
        default=None,
        description="Hepatic transaminase elevation (feature): > 5 x ULN when the baseline was normal, or > 5 x "
        "the baseline when it was abnormal (the multiple as restated; unconfirmed against the paper, see docs).",
    )
    other_cause_excluded: bool | None = Field(
        default=None,
        description="Findings attributable to the IEC therapy, not better explained by infection, disease "
        "progression or another cause (required).",
    )
    died_of_iec_hs: bool | None = Field(default=None, description="Grade 5: death due to IEC-HS.")
    life_threatening: bool | None = Field(
        default=None,
        description="Grade 4: life-threatening, urgent intervention (vasopressors, positive-pressure "
        "ventilation, dialysis, life-threatening bleeding).",
    )
    severe: bool | None = Field(
        default=None,
        description="Grade 3: severe or medically significant, hospitalisation or its prolongation "
        "(e.g. coagulopathy with bleeding needing transfusion).",
    )
    treatment_required: bool | None = Field(
        default=None,
        description="Grade 2: intervention required (IEC-HS-directed immunosuppression, or transfusion for "
        "asymptomatic hypofibrinogenaemia).",
    )

    @model_validator(mode="after")
    def _consistent(self) -> IECHSInput:
        order = ("died_of_iec_hs", "life_threatening", "severe", "treatment_required")
        for i, higher in enumerate(order):
            if getattr(self, higher) is True:
                for lower in order[i + 1 :]:
                    if getattr(self, lower) is False:
                        raise InvalidInput(lower, False, f"true or unrecorded when {higher} is true")
        return self


class IECHSOptions(InstrumentOptions):
    """Options of :func:`iec_hs`."""

    fibrinogen_rule: Literal["below_150_or_lln", "below_150"] = Field(
        default="below_150_or_lln",
        description="Hypofibrinogenaemia: 'below_150_or_lln' (default; fibrinogen < 150 mg/dL or below the "
        "laboratory's lower limit of normal, as restated from Hines 2023 by two independent readings) or "
        "'below_150' (the fixed limit only). With the default, a value >= 150 mg/dL without its LLN is unknown.",
    )


class IECHSResult(InstrumentResult):
    """IEC-HS criteria met or not, and the severity grade."""

    TABLE_FIELDS: ClassVar[tuple[str, ...]] = ("grade", "criteria")

    iec_hs: bool | None = Field(description="IEC-HS criteria met.")
    grade: int | None = Field(description="Severity grade 1-5 (null when criteria not met or grade unknown).")
    minimum_grade: int | None = Field(description="Lowest grade compatible with the recorded severity items.")
    criteria: dict[str, bool | None] = Field(description="Required criteria and the any-of feature group.")
    features: dict[str, bool | None] = Field(description="The four supporting features.")
    derived_from_measurements: list[str]
    ferritin_ratio_to_uln: Exact | None = Field(description="Ferritin / ULN (rounded to 0.001; compared exactly).")
    ferritin_ratio_to_infusion: Exact | None
    fibrinogen_mg_dl: Exact | None

    def headline(self) -> str:
        if self.iec_hs is None:
            return "not evaluable"
        if not self.iec_hs:
            return "no IEC-HS"
        if self.grade is None:
            return f"IEC-HS, grade >= {self.minimum_grade}" if self.minimum_grade else "IEC-HS, grade unknown"
        return f"IEC-HS grade {self.grade}"


def iec_hs(
    inputs: IECHSInput | Mapping[str, Any], *, options: IECHSOptions | Mapping[str, Any] | None = None
) -> IECHSResult:
    """Immune effector cell-associated HLH-like syndrome (ASTCT, Hines 2023): criteria and grade.

    Source: Hines MR, Knight TE, McNerney KO, et al. Transplant Cell Ther 2023;29(7):438.e1-438.e16.
    The primary tables could not be read in full; the rule below is the framework as restated for this
    toolkit and is **unconfirmed against the full text** (see ``docs/instruments.md``):

    IEC-HS when all of (1) onset with resolving CRS or worsening inflammation after initial improvement,
    (2) hyperferritinaemia: ferritin ``> 2 ×`` ULN or ``> 2 ×`` the value at infusion, or rapidly
    rising, (3) findings attributable to the IEC therapy, and (4) at least one of haemophagocytosis,
    new/worsening cytopenias, hypofibrinogenaemia (fibrinogen ``< 150`` mg/dL, or below the laboratory's
    lower limit of normal: option ``fibrinogen_rule``) or transaminase elevation (``> 5 ×`` ULN, or
    ``> 5 ×`` an abnormal baseline; entered as yes/no).

    Grade (CTCAE-style): 1 asymptomatic or mild, no IEC-HS-directed treatment; 2 intervention required
    (immunosuppression, or transfusion for asymptomatic hypofibrinogenaemia); 3 severe, hospitalisation
    or its prolongation; 4 life-threatening, urgent intervention; 5 death. The most severe item decides.
    """
    inputs = parse(IECHSInput, inputs)
    options = parse(IECHSOptions, options)
    problems: list[Problem] = []
    derived: list[str] = []

    ratio_uln: Decimal | None = None
    ratio_infusion: Decimal | None = None
    measured_ferritin: bool | None = None
    if inputs.ferritin is not None:
        now = inputs.ferritin.to("ng/mL", field="ferritin")
        flags: list[bool | None] = []
        for name, ref in (("ferritin_uln", inputs.ferritin_uln), ("ferritin_at_infusion", inputs.ferritin_at_infusion)):
            if ref is None:
                flags.append(None)
                continue
            base = ref.to("ng/mL", field=name)
            if base == 0:
                problems.append(Problem(f"{name}.value", ref.value, "a value above 0"))
                continue
            ratio = now / base
            if name == "ferritin_uln":
                ratio_uln = ratio
            else:
                ratio_infusion = ratio
            flags.append(ratio > IEC_HS_FERRITIN_MULTIPLE)
        # > 2 x ULN or > 2 x the value at infusion: False only when both references are known and not exceeded
        measured_ferritin = _any_of(flags)
    elif inputs.ferritin_uln is not None or inputs.ferritin_at_infusion is not None:
        problems.append(Problem("ferritin", InvalidInput.MISSING, "the ferritin value its reference is given for"))

    over_2x = inputs.ferritin_over_2x
    if measured_ferritin is not None:
        if over_2x is not None and over_2x != measured_ferritin:
            problems.append(
                Problem(
                    "ferritin_over_2x",
                    over_2x,
                    f"agreement with the ferritin values (they give {str(measured_ferritin).lower()})",
                )
            )
        if over_2x is None:
            derived.append("ferritin_over_2x")
        over_2x = measured_ferritin

    fib_mg_dl: Decimal | None = None
    hypofib = inputs.hypofibrinogenaemia
    if inputs.fibrinogen is not None:
        fib_mg_dl = inputs.fibrinogen.to("mg/dL", field="fibrinogen")
        low: bool | None = fib_mg_dl < IEC_HS_FIBRINOGEN_MG_DL
        rule = "< 150"
        if not low and options.fibrinogen_rule == "below_150_or_lln":
            rule = "< 150 or < LLN"
            lln = None if inputs.fibrinogen_lln is None else inputs.fibrinogen_lln.to("mg/dL", field="fibrinogen_lln")
            low = None if lln is None else fib_mg_dl < lln
        if hypofib is not None and low is not None and hypofib != low:
            problems.append(
                Problem(
                    "hypofibrinogenaemia", hypofib, f"agreement with fibrinogen {fib_mg_dl} mg/dL ({rule} gives {low})"
                )
            )
        if low is not None:
            if hypofib is None:
                derived.append("hypofibrinogenaemia")
            hypofib = low
    elif inputs.fibrinogen_lln is not None:
        problems.append(Problem("fibrinogen", InvalidInput.MISSING, "the fibrinogen value its LLN is given for"))
    if problems:
        raise InvalidInput(problems=problems)

    features: dict[str, bool | None] = {
        "haemophagocytosis": inputs.haemophagocytosis,
        "cytopenias": inputs.cytopenias,
        "hypofibrinogenaemia": hypofib,
        "transaminase_elevation": inputs.transaminase_elevation,
    }
    hyperferritinaemia = _any_of([over_2x, inputs.ferritin_rapidly_rising])
    criteria: dict[str, bool | None] = {
        "onset_after_crs_improvement": inputs.onset_after_crs_improvement,
        "hyperferritinaemia": hyperferritinaemia,
        "other_cause_excluded": inputs.other_cause_excluded,
        "at_least_one_feature": _any_of(features.values()),
    }
    met = all_of(criteria.values())

    severity: list[tuple[int, str, bool | None]] = [
        (5, "died_of_iec_hs", inputs.died_of_iec_hs),
        (4, "life_threatening", inputs.life_threatening),
        (3, "severe", inputs.severe),
        (2, "treatment_required", inputs.treatment_required),
    ]
    minimum = 1
    grade: int | None = 1
    open_levels: list[str] = []
    for level, name, present in severity:
        if present is True:
            minimum = level
            grade = None if open_levels else level
            break
        if present is None:
            open_levels.append(name)
    else:
        grade = None if open_levels else 1

    reasons: list[str] = []
    unknown = [name for name, value in criteria.items() if value is None]
    if unknown:
        parts = []
        for name in unknown:
            if name == "hyperferritinaemia":
                parts.append("hyperferritinaemia (ferritin_over_2x or ferritin with ULN/infusion value, or rising)")
            elif name == "at_least_one_feature":
                parts.append("features (" + ", ".join(k for k, v in features.items() if v is None) + ")")
            else:
                parts.append(name)
        reasons.append(missing_reason(parts))
    if met and grade is None:
        reasons.append(f"grade not decided (at least {minimum}): " + missing_reason(open_levels))
    if met is not True:
        grade_out: int | None = None
        minimum_out: int | None = None
    else:
        grade_out = grade
        minimum_out = minimum
    return IECHSResult(
        instrument="iec_hs",
        variant="ASTCT IEC-HS 2023 (framework unconfirmed against the full text)",
        source=IEC_HS_SOURCE,
        evaluable=met is not None and (met is False or grade is not None),
        reason="; ".join(reasons) or None,
        iec_hs=met,
        grade=grade_out,
        minimum_grade=minimum_out,
        criteria=criteria,
        features=features,
        derived_from_measurements=derived,
        ferritin_ratio_to_uln=ratio_uln.quantize(Decimal("0.001")) if ratio_uln is not None else None,
        ferritin_ratio_to_infusion=ratio_infusion.quantize(Decimal("0.001")) if ratio_infusion is not None else None,
        fibrinogen_mg_dl=fib_mg_dl,
    )


# ---------------------------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------------------------

INSTRUMENTS: tuple[Instrument[Any, Any, Any], ...] = (
    Instrument(
        name="hscore",
        title="HScore (reactive haemophagocytic syndrome)",
        description="Nine weighted items (0-337); HLH likely at >= 169.",
        source=HSCORE_SOURCE,
        function=hscore,
        input_model=HScoreInput,
        options_model=HScoreOptions,
        result_model=HScoreResult,
    ),
    Instrument(
        name="iec_hs",
        title="IEC-HS (immune effector cell-associated HLH-like syndrome)",
        description="ASTCT IEC-HS criteria after CAR T cells (hyperferritinaemia + feature) and grade 1-5.",
        source=IEC_HS_SOURCE,
        function=iec_hs,
        input_model=IECHSInput,
        options_model=IECHSOptions,
        result_model=IECHSResult,
    ),
)
