"""Infections and humoral immunity after CD19 CAR T-cell therapy.

Instruments (registry names in brackets):

* Infection density by time window [``infection_density``] — Hill JA, Li D, Hay KA, et al.
  *Infectious complications of CD19-targeted chimeric antigen receptor-modified T-cell
  immunotherapy.* Blood 2018;131(1):121-130, doi:10.1182/blood-2017-07-793760 (infections per 100
  days at risk, days 0-28 and 29-90 after infusion).
* IgG status and IgG-replacement indication [``hypogammaglobulinaemia``] — Hill JA, Giralt S,
  Torgerson TR, Lazarus HM. *CAR-T — and a side order of IgG, to go? Immunoglobulin replacement in
  patients receiving CAR-T cell therapy.* Blood Rev 2019;38:100596, doi:10.1016/j.blre.2019.100596
  (default); variant: Otani IM, Lehman HK, Jongco AM, et al. *Practical guidance for the diagnosis and
  management of secondary hypogammaglobulinemia: a Work Group Report of the AAAAI Primary
  Immunodeficiency and Altered Immune Response Committees.* J Allergy Clin Immunol
  2022;149(5):1525-1560, doi:10.1016/j.jaci.2022.01.025.

The clock is the study day (day 0 = CAR T-cell infusion). Thresholds are compared in exact decimal
arithmetic; decisions where sources disagree or were unconfirmed are listed in ``docs/instruments.md``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from immunoreset.errors import InvalidInput
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
)

__all__ = [
    "HILL_2018_SOURCE",
    "IGG_SOURCE",
    "HypogammaglobulinaemiaInput",
    "HypogammaglobulinaemiaOptions",
    "HypogammaglobulinaemiaResult",
    "IgG",
    "InfectionDensityInput",
    "InfectionDensityOptions",
    "InfectionDensityResult",
    "InfectionEvent",
    "PatientFollowUp",
    "WindowDensity",
    "hypogammaglobulinaemia",
    "infection_density",
]

HILL_2018_SOURCE = (
    "Hill JA et al. Blood 2018;131(1):121-130, doi:10.1182/blood-2017-07-793760 (infection density per 100 days)"
)
IGG_SOURCE = (
    "Hill JA et al. Blood Rev 2019;38:100596, doi:10.1016/j.blre.2019.100596; "
    "variant Otani IM et al. J Allergy Clin Immunol 2022;149(5):1525-1560 (AAAAI)"
)

MAX_DAY = 36500  # 100 years of follow-up: a larger study day is a data error


def _any_of(criteria: Iterable[bool | None]) -> bool | None:
    values = list(criteria)
    if any(v is True for v in values):
        return True
    if any(v is None for v in values):
        return None
    return False


# ---------------------------------------------------------------------------------------------
# Infection density (Hill 2018)
# ---------------------------------------------------------------------------------------------

InfectionType = Literal["bacterial", "viral", "fungal", "other"]
GRADES = (1, 2, 3, 4, 5)
DENSITY_QUANTUM = Decimal("0.01")  # densities are rounded half-up to 2 decimals


class InfectionEvent(InstrumentInput):
    """One infection: its study day, severity grade and type."""

    day: int = Field(ge=0, le=MAX_DAY, description="Study day of onset (day 0 = infusion).")
    grade: int | None = Field(
        default=None, ge=1, le=5, description="Severity: 1 mild, 2 moderate, 3 severe, 4 life-threatening, 5 fatal."
    )
    type: InfectionType | None = Field(default=None, description="Pathogen class: bacterial, viral, fungal, other.")

    @field_validator("day", "grade", mode="before")
    @classmethod
    def _not_bool(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("a whole number, not true/false")
        return value


class PatientFollowUp(InstrumentInput):
    """One patient: the last study day of follow-up and the infections observed up to it."""

    patient: str | None = Field(default=None, max_length=100, description="Patient identifier (optional).")
    follow_up_days: int = Field(
        ge=0, le=MAX_DAY, description="Last study day observed (death, loss to follow-up or data cut-off)."
    )
    infections: list[InfectionEvent] = Field(default_factory=list, description="Infections (one per episode).")

    @field_validator("follow_up_days", mode="before")
    @classmethod
    def _not_bool(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("a whole number, not true/false")
        return value

    @model_validator(mode="after")
    def _within_follow_up(self) -> PatientFollowUp:
        for i, event in enumerate(self.infections):
            if event.day > self.follow_up_days:
                raise InvalidInput(
                    f"infections.{i}.day",
                    event.day,
                    f"a day within follow-up (<= follow_up_days {self.follow_up_days})",
                )
        return self


class InfectionDensityInput(InstrumentInput):
    """A cohort (or one patient): each patient's follow-up and infections.

    The input is inherently a series (events over time), so it is a list, not flat fields.
    """

    patients: list[PatientFollowUp] = Field(
        min_length=1, description="Every patient followed, with or without infections."
    )


class InfectionDensityOptions(InstrumentOptions):
    """Options of :func:`infection_density`."""

    window_ends: tuple[int, ...] = Field(
        default=(28, 90),
        min_length=1,
        description="Last study day of each window, increasing; default (28, 90) = days 0-28 and 29-90 "
        "(Hill 2018). E.g. (28, 90, 365) adds days 91-365.",
    )

    @field_validator("window_ends", mode="before")
    @classmethod
    def _no_bools(cls, value: Any) -> Any:
        if isinstance(value, list | tuple) and any(isinstance(v, bool) for v in value):
            raise ValueError("whole numbers of days, not true/false")
        return value

    @field_validator("window_ends")
    @classmethod
    def _increasing(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if value[0] < 1 or any(b <= a for a, b in pairwise(value)) or value[-1] > MAX_DAY:
            raise ValueError(f"strictly increasing study days from 1 to {MAX_DAY}")
        return value


class WindowDensity(BaseModel):
    """Infections and days at risk in one window."""

    model_config = ConfigDict(frozen=True)

    window: str = Field(description="Study days of onset counted, e.g. '0-28'.")
    first_day: int
    last_day: int
    infections: int
    patients_with_infection: int
    patients_at_risk: int = Field(description="Patients with any follow-up time in the window.")
    patient_days: int = Field(description="Days at risk: elapsed follow-up inside the window, summed over patients.")
    density_per_100_patient_days: Exact | None = Field(
        description="100 x infections / patient_days, rounded half-up to 0.01 (null when no days at risk)."
    )
    by_grade: dict[str, int] = Field(description="Infections by grade 1-5 ('not_recorded' when missing).")
    by_type: dict[str, int] = Field(description="Infections by type ('not_recorded' when missing).")


class InfectionDensityResult(InstrumentResult):
    """Infection density in each window after infusion."""

    TABLE_FIELDS: ClassVar[tuple[str, ...]] = ("windows",)

    windows: list[WindowDensity]
    patients: int
    infections_total: int
    infections_after_last_window: int = Field(description="Infections with onset after the last window (not counted).")

    def headline(self) -> str:
        parts = [
            f"{w.window}: {w.density_per_100_patient_days if w.density_per_100_patient_days is not None else 'n/a'}"
            for w in self.windows
        ]
        return "per 100 patient-days " + "; ".join(parts)


def infection_density(
    inputs: InfectionDensityInput | Mapping[str, Any],
    *,
    options: InfectionDensityOptions | Mapping[str, Any] | None = None,
) -> InfectionDensityResult:
    """Infections per 100 patient-days at risk, by time window after infusion.

    Source: Hill JA, Li D, Hay KA, et al. Blood 2018;131(1):121-130 (days 0-28: 1.19, days 29-90: 0.67
    infections per 100 days at risk in 133 patients). Windows are given by their last study day
    (default 28 and 90): an infection with onset on day ``d`` belongs to the window
    ``previous_end < d <= end`` (day 0 belongs to the first). Days at risk of a patient in a window are the
    elapsed days of follow-up inside it: ``max(0, min(follow_up_days, end) - previous_end)``, so complete
    follow-up gives 28 days for 0-28 and 62 days for 29-90. Density = ``100 × infections / patient-days``,
    exact, then rounded half-up to 0.01. The day-counting convention is this toolkit's (the paper's exact
    convention was not confirmed); every infection episode counts, including repeat infections.
    """
    inputs = parse(InfectionDensityInput, inputs)
    options = parse(InfectionDensityOptions, options)
    ends = options.window_ends
    starts = (0, *ends[:-1])
    windows: list[WindowDensity] = []
    for index, (start, end) in enumerate(zip(starts, ends, strict=True)):
        first_day = 0 if index == 0 else start + 1
        count = 0
        with_infection = 0
        at_risk = 0
        days = 0
        grades: Counter[str] = Counter()
        types: Counter[str] = Counter()
        for patient in inputs.patients:
            exposure = max(0, min(patient.follow_up_days, end) - start)
            days += exposure
            in_window = [e for e in patient.infections if first_day <= e.day <= end]
            if exposure > 0 or in_window:
                at_risk += 1
            if in_window:
                with_infection += 1
            count += len(in_window)
            for e in in_window:
                grades[str(e.grade) if e.grade is not None else "not_recorded"] += 1
                types[e.type if e.type is not None else "not_recorded"] += 1
        density = None
        if days > 0:
            density = (Decimal(100) * count / Decimal(days)).quantize(DENSITY_QUANTUM, rounding=ROUND_HALF_UP)
        by_grade = {str(g): grades.get(str(g), 0) for g in GRADES}
        if grades.get("not_recorded"):
            by_grade["not_recorded"] = grades["not_recorded"]
        by_type = {t: types.get(t, 0) for t in ("bacterial", "viral", "fungal", "other")}
        if types.get("not_recorded"):
            by_type["not_recorded"] = types["not_recorded"]
        windows.append(
            WindowDensity(
                window=f"{first_day}-{end}",
                first_day=first_day,
                last_day=end,
                infections=count,
                patients_with_infection=with_infection,
                patients_at_risk=at_risk,
                patient_days=days,
                density_per_100_patient_days=density,
                by_grade=by_grade,
                by_type=by_type,
            )
        )
    total = sum(len(p.infections) for p in inputs.patients)
    after = sum(1 for p in inputs.patients for e in p.infections if e.day > ends[-1])
    empty = [w.window for w in windows if w.density_per_100_patient_days is None]
    return InfectionDensityResult(
        instrument="infection_density",
        variant="windows " + ", ".join(w.window for w in windows) + " (days at risk = elapsed follow-up days)",
        source=HILL_2018_SOURCE,
        evaluable=not empty,
        reason=f"no follow-up time in window {', '.join(empty)}" if empty else None,
        windows=windows,
        patients=len(inputs.patients),
        infections_total=total,
        infections_after_last_window=after,
    )


# ---------------------------------------------------------------------------------------------
# Hypogammaglobulinaemia and IgG replacement
# ---------------------------------------------------------------------------------------------

HILL_SEVERE_MG_DL = Decimal(400)  # severe: IgG <= 400 mg/dL
HILL_MODERATE_MG_DL = Decimal(600)  # moderate: 400 < IgG <= 600 mg/dL
HILL_EARLY_DAYS = 90  # "for 3 months after infusion", read as study days 0-90
AAAAI_PROFOUND_MG_DL = Decimal(150)  # IgG < 150 mg/dL
AAAAI_LOW_MG_DL = Decimal(400)  # IgG < 400 mg/dL
AAAAI_BORDERLINE_MG_DL = Decimal(700)  # IgG < 700 mg/dL

IgGCategory = Literal["severe", "moderate", "lt_150", "lt_400", "lt_700", "not_low"]


class IgG(MassConcentration):
    """Serum IgG with its unit (g/L or mg/dL; 1 g/L = 100 mg/dL)."""


class HypogammaglobulinaemiaInput(InstrumentInput):
    """One IgG assessment with the clinical context the replacement guidance needs."""

    igg: IgG | None = Field(default=None, description='Serum IgG, e.g. {"value": 3.8, "unit": "g/L"}.')
    igg_lln: IgG | None = Field(default=None, description="Lower limit of normal of the laboratory (optional).")
    days_since_infusion: int | None = Field(
        default=None, ge=-365, le=MAX_DAY, description="Study day of the sample (day 0 = infusion; negative before)."
    )
    receiving_igg_replacement: bool | None = Field(
        default=None,
        description="IVIG or SCIG given recently enough that the measured IgG includes infused IgG (e.g. within "
        "about 3 months, ~4 IgG half-lives); the level is then not an endogenous value.",
    )
    serious_or_recurrent_infections: bool | None = Field(
        default=None, description="Serious, persistent or recurrent (bacterial) infections."
    )
    impaired_vaccine_response: bool | None = Field(
        default=None, description="Impaired specific antibody response to vaccines (Hill IgG > 600; AAAAI IgG < 700)."
    )
    low_iga_or_igm: bool | None = Field(default=None, description="IgA or IgM below normal (AAAAI IgG < 700 rule).")

    @field_validator("days_since_infusion", mode="before")
    @classmethod
    def _not_bool(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("a whole number, not true/false")
        return value


class HypogammaglobulinaemiaOptions(InstrumentOptions):
    """Options of :func:`hypogammaglobulinaemia`."""

    guideline: Literal["hill_2019", "aaaai_2022"] = Field(
        default="hill_2019",
        description="'hill_2019' (default; CAR-T specific): severe IgG <= 400, moderate 401-600 mg/dL; or "
        "'aaaai_2022' (secondary hypogammaglobulinaemia): IgG < 150, < 400, < 700 mg/dL.",
    )


class HypogammaglobulinaemiaResult(InstrumentResult):
    """IgG category and whether IgG replacement is indicated by the chosen guideline."""

    TABLE_FIELDS: ClassVar[tuple[str, ...]] = ("category", "igg_mg_dl", "replacement_indicated")

    category: IgGCategory | None = Field(description="IgG band of the guideline (null when not interpretable).")
    low_igg: bool | None = Field(
        description="Hypogammaglobulinaemia by the guideline: IgG <= 600 mg/dL (Hill) or < 700 mg/dL (AAAAI)."
    )
    igg_mg_dl: Exact | None = Field(description="IgG in mg/dL.")
    below_lln: bool | None = Field(description="IgG below the laboratory's lower limit of normal (if given).")
    interpretable: bool | None = Field(description="False when the level includes infused IgG (replacement).")
    replacement_indicated: bool | None = Field(
        description="IgG replacement indicated ('consider') by the guideline's rules; null when not decidable."
    )
    rule: str | None = Field(description="The guideline rule that indicates replacement, if any.")

    def headline(self) -> str:
        if self.interpretable is False:
            return "on IgG replacement (level not interpretable)"
        if self.category is None:
            return "low IgG (band uncertain)" if self.low_igg else "not evaluable"
        tail = {True: "replacement indicated", False: "no replacement indication", None: "indication undecided"}
        return f"{self.category.replace('_', ' ')}, {tail[self.replacement_indicated]}"


def _hill_category(igg: Decimal) -> IgGCategory:
    if igg <= HILL_SEVERE_MG_DL:
        return "severe"
    if igg <= HILL_MODERATE_MG_DL:
        return "moderate"
    return "not_low"


def _aaaai_category(igg: Decimal) -> IgGCategory:
    if igg < AAAAI_PROFOUND_MG_DL:
        return "lt_150"
    if igg < AAAAI_LOW_MG_DL:
        return "lt_400"
    if igg < AAAAI_BORDERLINE_MG_DL:
        return "lt_700"
    return "not_low"


def hypogammaglobulinaemia(
    inputs: HypogammaglobulinaemiaInput | Mapping[str, Any],
    *,
    options: HypogammaglobulinaemiaOptions | Mapping[str, Any] | None = None,
) -> HypogammaglobulinaemiaResult:
    """IgG status at one assessment and the IgG-replacement indication of the chosen guideline.

    Default, Hill JA, Giralt S, Torgerson TR, Lazarus HM. Blood Rev 2019;38:100596 (CAR-T, adults):
    severe hypogammaglobulinaemia IgG ``<= 400`` mg/dL, moderate ``400 < IgG <= 600``. Replacement is
    indicated ("consider") when IgG ``<= 400`` within 3 months of infusion (study day ``<= 90``) or with
    serious/recurrent infections after that; IgG ``400-600`` with serious/recurrent infections; IgG
    ``> 600`` with serious/recurrent infections **and** an impaired vaccine response.
    (As restated by secondary sources, Table 1 of PMC11272770 and a Hematology Advisor summary; the
    primary text was not read in full.)

    Variant ``aaaai_2022``, Otani IM et al. J Allergy Clin Immunol 2022;149:1525-60: replacement when
    IgG ``< 150`` mg/dL; or ``< 400`` with recurrent infections; or ``< 700`` with recurrent infections,
    low IgA or IgM **and** impaired vaccine responses (as restated by PMC11272770 Table 1).

    A level measured while receiving IVIG/SCIG includes infused IgG: it is reported as not interpretable
    and no indication is derived from it (continuing replacement is a clinical decision). When replacement
    is not recorded, a low level still counts (infused IgG can only raise it) but a normal one does not.
    """
    inputs = parse(HypogammaglobulinaemiaInput, inputs)
    options = parse(HypogammaglobulinaemiaOptions, options)
    hill = options.guideline == "hill_2019"
    variant = "Hill 2019 (CAR-T)" if hill else "AAAAI 2022 (secondary hypogammaglobulinaemia)"
    source = IGG_SOURCE

    igg = inputs.igg.to("mg/dL", field="igg") if inputs.igg is not None else None
    below_lln = None
    if igg is not None and inputs.igg_lln is not None:
        below_lln = igg < inputs.igg_lln.to("mg/dL", field="igg_lln")

    def result(**fields: Any) -> HypogammaglobulinaemiaResult:
        return HypogammaglobulinaemiaResult(
            instrument="hypogammaglobulinaemia",
            variant=variant,
            source=source,
            igg_mg_dl=igg,
            below_lln=below_lln,
            **fields,
        )

    if igg is None:
        return result(
            evaluable=False,
            reason=missing_reason(["igg"]),
            category=None,
            low_igg=None,
            interpretable=None,
            replacement_indicated=None,
            rule=None,
        )
    if inputs.receiving_igg_replacement is True:
        return result(
            evaluable=False,
            reason="IgG measured on IVIG/SCIG replacement: not an endogenous level (continuing is a clinical decision)",
            category=None,
            low_igg=None,
            interpretable=False,
            replacement_indicated=None,
            rule=None,
        )

    category = _hill_category(igg) if hill else _aaaai_category(igg)
    infections = inputs.serious_or_recurrent_infections
    vaccine = inputs.impaired_vaccine_response
    rules: list[tuple[str, bool | None, list[str]]] = []
    if hill:
        early: bool | None = None
        if inputs.days_since_infusion is not None:
            early = 0 <= inputs.days_since_infusion <= HILL_EARLY_DAYS  # after the infusion, not before it
        rules = [
            (
                "IgG <= 400 mg/dL within 3 months of infusion",
                all_of([category == "severe", early]),
                ["days_since_infusion"],
            ),
            (
                "IgG <= 400 mg/dL with serious or recurrent infections",
                all_of([category == "severe", infections]),
                ["serious_or_recurrent_infections"],
            ),
            (
                "IgG 400-600 mg/dL with serious or recurrent infections",
                all_of([category == "moderate", infections]),
                ["serious_or_recurrent_infections"],
            ),
            (
                "IgG > 600 mg/dL with serious or recurrent infections and impaired vaccine response",
                all_of([category == "not_low", infections, vaccine]),
                ["serious_or_recurrent_infections", "impaired_vaccine_response"],
            ),
        ]
    else:
        rules = [
            ("IgG < 150 mg/dL", category == "lt_150", []),
            (
                "IgG < 400 mg/dL with recurrent infections",
                all_of([category in ("lt_150", "lt_400"), infections]),
                ["serious_or_recurrent_infections"],
            ),
            (
                "IgG < 700 mg/dL with recurrent infections, low IgA or IgM and impaired vaccine responses",
                all_of([category != "not_low", infections, inputs.low_iga_or_igm, vaccine]),
                ["serious_or_recurrent_infections", "low_iga_or_igm", "impaired_vaccine_response"],
            ),
        ]
    indicated = _any_of(value for _, value, _ in rules)
    rule = next((name for name, value, _ in rules if value is True), None)
    missing = sorted(
        {field for _, value, fields in rules if value is None for field in fields if getattr(inputs, field) is None}
    )
    reasons: list[str] = []
    category_out: IgGCategory | None = category
    interpretable: bool | None = True
    low: bool | None = category != "not_low"
    if inputs.receiving_igg_replacement is None:
        # Infused IgG can only raise the level: a low level is low, but the endogenous band may be lower still.
        interpretable = None
        if category not in ("severe", "lt_150"):
            category_out = None
            reasons.append(
                missing_reason(["receiving_igg_replacement"]) + " (the level may include infused IgG; band uncertain)"
            )
        if category == "not_low":
            low = None
        if indicated is False and category not in ("severe", "lt_150"):
            indicated = None
    if indicated is None and missing:
        reasons.append(missing_reason(missing))
    return result(
        evaluable=category_out is not None and indicated is not None,
        reason="; ".join(reasons) or None,
        category=category_out,
        low_igg=low,
        interpretable=interpretable,
        replacement_indicated=indicated,
        rule=rule,
    )


# ---------------------------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------------------------

INSTRUMENTS: tuple[Instrument[Any, Any, Any], ...] = (
    Instrument(
        name="infection_density",
        title="Infection density after CAR T cells",
        description="Infections per 100 patient-days at risk by window after infusion (default days 0-28, 29-90).",
        source=HILL_2018_SOURCE,
        function=infection_density,
        input_model=InfectionDensityInput,
        options_model=InfectionDensityOptions,
        result_model=InfectionDensityResult,
    ),
    Instrument(
        name="hypogammaglobulinaemia",
        title="Hypogammaglobulinaemia and IgG replacement",
        description="IgG band (severe <= 400, moderate <= 600 mg/dL) and IgG-replacement indication (Hill 2019).",
        source=IGG_SOURCE,
        function=hypogammaglobulinaemia,
        input_model=HypogammaglobulinaemiaInput,
        options_model=HypogammaglobulinaemiaOptions,
        result_model=HypogammaglobulinaemiaResult,
    ),
)
