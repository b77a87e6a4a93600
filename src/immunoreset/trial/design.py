"""Trial designs as files: cohorts, product and dose, lymphodepletion, concomitant drugs, visits, endpoints.

A design is a YAML (or TOML) file validated by :class:`TrialDesign`. The built-in ``erlangen2024`` design
mirrors the published Erlangen case series; copy it (``immunoreset trial show erlangen2024 --yaml``) and
edit it to design another trial.
"""

from __future__ import annotations

import datetime as dt
import math
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from immunoreset import instruments
from immunoreset.errors import InvalidInput
from immunoreset.inputs import NUMBER_BOUNDS, check_numbers_in, read_text_file
from immunoreset.instruments.base import parse
from immunoreset.kinetics.bcells import BCellOptions

__all__ = [
    "BackgroundDrug",
    "Cohort",
    "CovariateDistribution",
    "Infusion",
    "LymphodepletionAgent",
    "Product",
    "ProphylaxisDrug",
    "TrialDesign",
    "builtin_designs",
    "design_reference",
    "load_design",
    "lymphodepletion_intensity",
    "lymphodepletion_kpd_amount",
    "model_for",
    "parse_vary",
    "with_values",
]

Disease = Literal["SLE", "SSc", "IIM"]

#: The disease model (model spec name) each cohort is simulated with (a CD19 product; see :func:`model_for`).
DISEASE_MODELS: dict[str, str] = {"SLE": "sle_cart", "IIM": "iim_cart", "SSc": "ssc_cart"}


def model_for(disease: str, target: str, infusions: int = 1) -> str:
    """The model spec a cohort of ``disease`` is simulated with for a product directed at ``target`` given in
    ``infusions`` infusions.

    CD19 products use the disease model; products that also target BCMA use its ``_bcma`` variant (plasma
    cells are killed too; :func:`immunoreset.models.regimen.with_bcma`); more than one infusion adds the
    ``_redose`` variant (re-infusions and anti-CAR immunity; :func:`immunoreset.models.regimen.with_redosing`).
    A product directed at BCMA alone is not modelled: CAR-T expansion in the models is driven by binding CD19.
    """
    if target == "BCMA":
        raise InvalidInput(
            "product.target",
            target,
            "CD19 or CD19/BCMA for a virtual trial (expansion of a BCMA-only CAR on plasma cells is not modelled)",
        )
    from immunoreset.models.regimen import BCMA_SUFFIX, REDOSE_SUFFIX

    return (
        DISEASE_MODELS[disease] + (BCMA_SUFFIX if "BCMA" in target else "") + (REDOSE_SUFFIX if infusions > 1 else "")
    )


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CovariateDistribution(_Strict):
    """How one covariate is drawn for each virtual patient (truncated to ``[low, high]`` when given)."""

    kind: Literal["fixed", "normal", "lognormal", "uniform", "bernoulli"] = Field(
        description="Distribution: fixed (value), normal (mean, sd), lognormal (median, cv), uniform (low, high), "
        "bernoulli (p)."
    )
    value: float | None = Field(default=None, description="The value of a fixed covariate.")
    mean: float | None = Field(default=None, description="Mean of a normal distribution.")
    sd: float | None = Field(default=None, ge=0, description="Standard deviation of a normal distribution.")
    median: float | None = Field(default=None, gt=0, description="Median of a log-normal distribution.")
    cv: float | None = Field(default=None, ge=0, description="Coefficient of variation of a log-normal.")
    low: float | None = Field(default=None, description="Lower bound (normal/lognormal: truncation; uniform: low).")
    high: float | None = Field(default=None, description="Upper bound (normal/lognormal: truncation; uniform: high).")
    p: float | None = Field(default=None, ge=0, le=1, description="Probability of 1 for a Bernoulli covariate.")

    @model_validator(mode="after")
    def _complete(self) -> CovariateDistribution:
        needed = {
            "fixed": ("value",),
            "normal": ("mean", "sd"),
            "lognormal": ("median", "cv"),
            "uniform": ("low", "high"),
            "bernoulli": ("p",),
        }[self.kind]
        missing = [n for n in needed if getattr(self, n) is None]
        if missing:
            raise InvalidInput(missing[0], InvalidInput.MISSING, f"a value for a {self.kind} distribution")
        if self.low is not None and self.high is not None and self.low >= self.high:
            raise InvalidInput("high", self.high, f"greater than low ({self.low})")
        return self

    def _number(self, name: str) -> float:
        value = getattr(self, name)
        assert value is not None  # guaranteed by _complete
        return float(value)

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Draw ``size`` values (rejection-sampled into ``[low, high]``)."""
        out = np.empty(0)
        for _ in range(1000):
            if self.kind == "fixed":
                draw = np.full(size, self._number("value"))
            elif self.kind == "normal":
                draw = rng.normal(self._number("mean"), self._number("sd"), size)
            elif self.kind == "lognormal":
                sigma = math.sqrt(math.log1p(self._number("cv") ** 2))
                draw = self._number("median") * np.exp(rng.normal(0.0, sigma, size))
            elif self.kind == "uniform":
                draw = rng.uniform(self._number("low"), self._number("high"), size)
            else:
                draw = (rng.uniform(0.0, 1.0, size) < self._number("p")).astype(float)
            if self.kind in ("normal", "lognormal"):
                keep = np.ones(draw.size, dtype=bool)
                if self.low is not None:
                    keep &= draw >= self.low
                if self.high is not None:
                    keep &= draw <= self.high
                draw = draw[keep]
            out = np.concatenate([out, draw])
            if out.size >= size:
                return out[:size]
        raise InvalidInput("covariates", self.model_dump(), "bounds that a draw can meet")


class BackgroundDrug(_Strict):
    """A disease-modifying drug a patient may take before the trial (stopped per the concomitant protocol)."""

    drug: str = Field(min_length=1, description="Generic name from the drug-class table.")
    kind: Literal["immunosuppressant", "antimalarial"] = Field(
        default="immunosuppressant", description="Which stop day of the concomitant protocol applies."
    )
    dose: float = Field(gt=0, description="Dose per administration.")
    unit: str = Field(min_length=1, description="Dose unit, e.g. mg, g, g/kg.")
    route: str = Field(default="oral", description="Route: oral, intravenous, subcutaneous, ...")
    frequency: str = Field(default="once_daily", description="once_daily, twice_daily, once_weekly, every_4_weeks, ...")
    p: float = Field(ge=0, le=1, description="Probability that a patient of the cohort takes it.")


class Cohort(_Strict):
    """One disease cohort of the trial."""

    disease: Disease = Field(description="SLE, SSc or IIM (one cohort per disease; sets the disease model).")
    size: int = Field(ge=1, le=1_000_000, description="Number of virtual patients.")
    covariates: dict[str, CovariateDistribution] = Field(
        default_factory=dict,
        description="Per-patient draws: weight_kg (required), height_cm, age_years, female, and the disease "
        "model's baseline inputs (immunoreset model show MODEL).",
    )
    background_therapy: list[BackgroundDrug] = Field(
        default_factory=list,
        description="Drugs taken before the trial; a patient drawing none takes the first immunosuppressant.",
    )
    model_parameters: dict[str, float] = Field(
        default_factory=dict,
        description="Typical values that replace the disease model's own (e.g. a model option that is off in "
        "the published model); the model's IIV applies around them. Names: immunoreset model show MODEL.",
    )

    @field_validator("covariates")
    @classmethod
    def _weight_given(cls, value: dict[str, CovariateDistribution]) -> dict[str, CovariateDistribution]:
        if "weight_kg" not in value:
            raise ValueError("a weight_kg distribution (the dose is per kg)")
        return value


Target = Literal["CD19", "BCMA", "CD19/BCMA"]
_TARGET_ALIASES = {"CD19+BCMA": "CD19/BCMA", "BCMA/CD19": "CD19/BCMA", "BCMA+CD19": "CD19/BCMA"}


class Product(_Strict):
    """The CAR-T product: target, costimulatory domain, origin, dose and composition.

    Doses count CAR⁺ viable cells (the release specification of the product), either per kg of body weight
    (``dose_car_cells_per_kg``) or as a flat dose per patient (``dose_car_cells``); give exactly one.
    """

    name: str = Field(min_length=1, description="Product name as it appears in the registry.")
    target: Target = Field(
        default="CD19",
        description="Antigen(s): CD19, BCMA, or CD19/BCMA (a compound or co-infused product; also CD19+BCMA).",
    )
    costimulatory_domain: Literal["4-1BB", "CD28"] = Field(
        default="4-1BB", description="Costimulatory domain of the CAR construct."
    )
    origin: Literal["autologous", "allogeneic"] = Field(
        default="autologous", description="Patient's own cells, or donor cells (rejected by the host)."
    )
    hla_edited: bool = Field(
        default=False,
        description="Allogeneic cells edited to escape host-versus-graft rejection (e.g. HLA class I/II knockout).",
    )
    anti_car_immunity: bool = Field(
        default=True,
        description="The CAR's binder can prime anti-CAR immunity (a murine scFv such as FMC63); false for a "
        "fully human binder.",
    )
    dose_car_cells_per_kg: float | None = Field(
        default=None, gt=0, le=1e9, description="CAR⁺ viable cells per kg body weight (per infusion)."
    )
    dose_car_cells: float | None = Field(
        default=None, gt=0, le=1e11, description="Flat dose: CAR⁺ viable cells per patient (per infusion)."
    )
    cd4_fraction: float = Field(ge=0, le=1, description="CD4⁺ share of the CAR⁺ cells.")
    cd8_fraction: float = Field(ge=0, le=1, description="CD8⁺ share of the CAR⁺ cells.")
    phenotype: dict[Literal["naive", "central_memory", "effector_memory", "effector"], float] = Field(
        description="Shares of naive, central-memory, effector-memory and effector cells (sum 1)."
    )

    @model_validator(mode="before")
    @classmethod
    def _target_alias(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("target"), str):
            target = data["target"].strip()
            data = {**data, "target": _TARGET_ALIASES.get(target.upper(), target)}
        return data

    @model_validator(mode="after")
    def _fractions(self) -> Product:
        if (self.dose_car_cells_per_kg is None) == (self.dose_car_cells is None):
            raise InvalidInput(
                "dose_car_cells_per_kg",
                self.dose_car_cells_per_kg,
                "exactly one of dose_car_cells_per_kg (per kg) and dose_car_cells (flat)",
            )
        if self.hla_edited and self.origin != "allogeneic":
            raise InvalidInput("hla_edited", True, "true only for an allogeneic product")
        if self.cd4_fraction + self.cd8_fraction > 1 + 1e-9:
            raise InvalidInput("cd8_fraction", self.cd8_fraction, f"at most {1 - self.cd4_fraction:g} (CD4 + CD8 <= 1)")
        total = sum(self.phenotype.values())
        if abs(total - 1) > 0.01 or set(self.phenotype) != {"naive", "central_memory", "effector_memory", "effector"}:
            raise InvalidInput("phenotype", self.phenotype, "fractions of all four phenotypes summing to 1 (±0.01)")
        return self

    def dose_per_kg(self, weight_kg: float) -> float:
        """CAR⁺ cells per kg for a patient of ``weight_kg`` (a flat dose divided by the weight)."""
        if self.dose_car_cells_per_kg is not None:
            return self.dose_car_cells_per_kg
        assert self.dose_car_cells is not None  # guaranteed by _fractions
        return self.dose_car_cells / weight_kg


class Infusion(_Strict):
    """One infusion of the product: its study day and the share of the product dose given."""

    day: int = Field(ge=0, le=3650, description="Study day (the first infusion defines day 0).")
    dose_fraction: float = Field(
        default=1.0,
        gt=0,
        le=10,
        description="Multiple of the product dose given (e.g. 0.1/0.3/0.6 for a split dose; 1 for a re-infusion).",
    )


class LymphodepletionAgent(_Strict):
    """One lymphodepleting agent: dose per m² (body-surface area, Mosteller) on each listed study day."""

    agent: Literal["fludarabine", "cyclophosphamide", "bendamustine"] = Field(description="Lymphodepleting drug.")
    dose_mg_per_m2: float = Field(gt=0, le=5000, description="Dose per day given, mg/m².")
    days: list[int] = Field(min_length=1, description="Study days given (before the infusion they prepare).")
    before_infusion: int = Field(
        default=1,
        ge=1,
        le=3,
        description="Which infusion (1 = the first, at day 0) this course prepares; days on or after day 0 "
        "need a later infusion here (re-dosing with its own lymphodepletion).",
    )

    @field_validator("days")
    @classmethod
    def _distinct(cls, value: list[int]) -> list[int]:
        if len(set(value)) != len(value):
            raise ValueError("distinct study days")
        return value


#: Reference regimen of the lymphodepletion intensity (= 1): the Erlangen fludarabine 25 mg/m² on days -5 to
#: -3 and cyclophosphamide 1000 mg/m² on day -3 (Müller 2024). Each agent's weight and reference total dose
#: (mg/m²); bendamustine 90 mg/m² on 2 days as the alternative to fludarabine/cyclophosphamide (Ghilardi G
#: et al. Ann Oncol 2022;33(9):916-28, doi:10.1016/j.annonc.2022.05.521; similar CAR-T outcomes).
LD_REFERENCE: dict[str, tuple[float, float]] = {
    "fludarabine": (0.5, 75.0),
    "cyclophosphamide": (0.5, 1000.0),
    "bendamustine": (1.0, 180.0),
}
LD_REFERENCE_GAP_DAYS = 3
"""Days from the last lymphodepletion dose to the infusion in the reference regimen (day -3 to day 0)."""
LD_RECOVERY_PER_DAY = math.log(2) / 7
"""Loss of the lymphodepletion benefit per day that the rest period exceeds the reference (half in 7 days).
Assumption: host lymphocytes recover and homeostatic cytokines (IL-15, IL-7) fall back within one to two
weeks after fludarabine/cyclophosphamide (Kochenderfer JN et al. J Clin Oncol 2017;35(16):1803-13,
doi:10.1200/JCO.2016.71.3024; no published rate)."""


LD_KPD_REFERENCE_MG_PER_M2 = 1075.0
"""Park 2025's lymphodepletion K-PD amount per m² for the Erlangen regimen (fludarabine 3 × 25 + cyclophosphamide
1000 mg/m²; Park reconstructed 1935 mg at 1.8 m²). Other regimens enter as their drug-weighted share of it."""


def lymphodepletion_kpd_amount(agents: list[LymphodepletionAgent], bsa_m2: float) -> float:
    """Park's K-PD amount (mg) for a lymphodepletion course, **by drug**: the reference amount times the course's
    drug-weighted dose relative to the reference regimen (:data:`LD_REFERENCE`, no timing factor: Park doses
    the K-PD compartment at the infusion). The Erlangen regimen gives Park's ``1075 mg/m² × BSA`` exactly;
    bendamustine 2 × 90 mg/m² gives the same; cyclophosphamide 1000 mg/m² alone half of it."""
    weighted = 0.0
    for agent in agents:
        weight, reference = LD_REFERENCE[agent.agent]
        weighted += weight * (agent.dose_mg_per_m2 * len(agent.days) / reference)
    return LD_KPD_REFERENCE_MG_PER_M2 * weighted * bsa_m2


def lymphodepletion_intensity(agents: list[LymphodepletionAgent], infusion_day: int = 0) -> float:
    """Intensity of a lymphodepletion course relative to the reference regimen (:data:`LD_REFERENCE`, = 1).

    ``Σ_agent weight × (Σ doses, mg/m²) / reference total × exp(-LD_RECOVERY_PER_DAY × max(0, gap - 3))``
    where ``gap`` is the number of days from the agent's last dose to ``infusion_day``. 0 without
    lymphodepletion. A rest shorter than the reference's 3 days counts as 3 (the toxicity of drug still
    present at infusion to the CAR-T cells is not modelled). Assumption: the weights and the saturation of the
    expansion benefit (model parameter ``L50_ld``) have no published calibration; docs/trial.md.
    """
    total = 0.0
    for agent in agents:
        weight, reference = LD_REFERENCE[agent.agent]
        gap = infusion_day - max(agent.days)
        decay = math.exp(-LD_RECOVERY_PER_DAY * (gap - LD_REFERENCE_GAP_DAYS)) if gap > LD_REFERENCE_GAP_DAYS else 1.0
        total += weight * (agent.dose_mg_per_m2 * len(agent.days) / reference) * decay
    return total


class TaperStep(_Strict):
    """Glucocorticoid dose (prednisolone-equivalent mg/day) from ``day`` on."""

    day: int = Field(description="Study day from which the dose applies.")
    mg_per_day: float = Field(ge=0, le=2000, description="Prednisolone-equivalent dose, mg/day.")


class ProphylaxisDrug(_Strict):
    """An anti-infective prophylaxis given to every patient (e.g. aciclovir, co-trimoxazole)."""

    drug: str = Field(min_length=1, description="Generic name.")
    dose: float = Field(gt=0, description="Dose per administration.")
    unit: str = Field(default="mg", description="Dose unit.")
    route: str = Field(default="oral", description="Route of administration.")
    frequency: str = Field(default="once_daily", description="once_daily, twice_daily, ...")
    start_day: int = Field(description="First study day taken.")
    stop_day: int = Field(description="Last study day taken.")

    @model_validator(mode="after")
    def _days(self) -> ProphylaxisDrug:
        if self.stop_day < self.start_day:
            raise InvalidInput("stop_day", self.stop_day, f"on or after start_day ({self.start_day})")
        return self


class Concomitant(_Strict):
    """Concomitant-drug protocol: withdrawal of immunosuppressants, a glucocorticoid taper, prophylaxis."""

    immunosuppressants_stop_day: int = Field(description="Study day on which immunosuppressants and biologics stop.")
    antimalarials_stop_day: int | None = Field(
        default=None, description="Study day on which antimalarials stop (empty: they continue)."
    )
    glucocorticoid_taper: list[TaperStep] = Field(
        default_factory=list, description="Glucocorticoid dose steps (prednisolone-equivalent)."
    )
    prophylaxis: list[ProphylaxisDrug] = Field(default_factory=list, description="Anti-infective prophylaxis.")

    @field_validator("glucocorticoid_taper")
    @classmethod
    def _ordered(cls, value: list[TaperStep]) -> list[TaperStep]:
        days = [s.day for s in value]
        if days != sorted(days) or len(set(days)) != len(days):
            raise ValueError("taper steps in increasing study-day order, one per day")
        return value

    def glucocorticoid_on(self, day: int) -> float:
        """Prednisolone-equivalent dose (mg/day) on ``day`` under the taper (0 before the first step)."""
        dose = 0.0
        for step in self.glucocorticoid_taper:
            if step.day <= day:
                dose = step.mg_per_day
        return dose


class TrialDesign(_Strict):
    """A virtual trial."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$", description="Design name (letters, digits, _ . -).")
    description: str = Field(description="What the design is, in a sentence or two.")
    source: str = Field(default="", description="Publications the design follows (a template need not replicate one).")
    seed: int = Field(ge=0, description="Random seed: the same seed gives the same patients and records.")
    follow_up_days: int = Field(ge=1, le=3650, description="Days of follow-up after the first infusion.")
    first_infusion_date: dt.date | None = Field(
        default=None,
        description="Nominal calendar: the first virtual patient is infused on this date and each next one "
        "11 days later (the REDCap sample's enrolment pace); without it the records carry study days only "
        "and an SDTM export has no dates.",
    )
    country: str | None = Field(
        default=None,
        description="ISO 3166-1 alpha-3 code of the country the virtual site stands for (SDTM DM.COUNTRY), "
        "e.g. DEU; an SDTM export of the trial needs it.",
    )
    visits: list[int] = Field(min_length=1, description="Visit study days (day 0 = infusion).")
    product: Product = Field(description="The CAR-T product.")
    infusions: list[Infusion] = Field(
        default_factory=lambda: [Infusion(day=0)],
        min_length=1,
        max_length=3,
        description="Infusions of the product (the first on day 0; up to 3: split doses or re-dosing). "
        "Default: one infusion on day 0 with dose_fraction 1.",
    )
    lymphodepletion: list[LymphodepletionAgent] = Field(
        description="Lymphodepletion courses by agent; required: write [] for a design without lymphodepletion."
    )
    concomitant: Concomitant = Field(description="Concomitant-drug protocol.")
    cohorts: list[Cohort] = Field(min_length=1, description="Disease cohorts.")
    endpoints: list[str] = Field(min_length=1, description="Instruments scored (immunoreset score --list).")
    b_cell_definition: BCellOptions = Field(
        default_factory=BCellOptions,
        description="B-cell aplasia/reconstitution thresholds of the analysis (default < 5 and ≥ 5 CD19+ "
        "cells/µL, Looney et al., Arthritis Rheum 2004; docs/kinetics.md).",
    )

    @model_validator(mode="after")
    def _consistent(self) -> TrialDesign:
        if self.visits != sorted(set(self.visits)):
            raise InvalidInput("visits", self.visits, "distinct study days in increasing order")
        if self.visits[-1] > self.follow_up_days:
            raise InvalidInput("visits", self.visits[-1], f"a day within follow_up_days ({self.follow_up_days})")
        known = {i.name for i in instruments.all_instruments()}
        unknown = [e for e in self.endpoints if e not in known]
        if unknown:
            raise InvalidInput("endpoints", unknown[0], "registered instrument names (immunoreset score --list)")
        diseases = [c.disease for c in self.cohorts]
        if len(set(diseases)) != len(diseases):
            raise InvalidInput("cohorts", diseases, "one cohort per disease")
        days = [i.day for i in self.infusions]
        if days[0] != 0:
            raise InvalidInput("infusions.0.day", days[0], "0 (the first infusion defines study day 0)")
        if days != sorted(set(days)):
            raise InvalidInput("infusions", days, "distinct study days in increasing order")
        if days[-1] > self.follow_up_days:
            raise InvalidInput("infusions", days[-1], f"a day within follow_up_days ({self.follow_up_days})")
        for k, agent in enumerate(self.lymphodepletion):
            field = f"lymphodepletion.{k}"
            if agent.before_infusion > len(days):
                raise InvalidInput(
                    f"{field}.before_infusion", agent.before_infusion, f"an infusion of the design (1-{len(days)})"
                )
            prepared = days[agent.before_infusion - 1]
            if max(agent.days) >= prepared:
                why = (
                    "days before the infusion (negative); lymphodepletion after it needs before_infusion naming "
                    "a later infusion"
                    if agent.before_infusion == 1
                    else f"days before infusion {agent.before_infusion} (day {prepared})"
                )
                raise InvalidInput(f"{field}.days", max(agent.days), why)
            if agent.before_infusion > 1 and min(agent.days) <= days[agent.before_infusion - 2]:
                raise InvalidInput(f"{field}.days", min(agent.days), f"days after infusion {agent.before_infusion - 1}")
        from immunoreset.models import get_model

        for i, cohort in enumerate(self.cohorts):
            if self.lymphodepletion and "height_cm" not in cohort.covariates:
                raise InvalidInput(
                    f"cohorts.{i}.covariates",
                    sorted(cohort.covariates),
                    "a height_cm distribution (lymphodepletion doses are per m² of body-surface area)",
                )
            model = model_for(cohort.disease, self.product.target, len(self.infusions))
            spec = get_model(model)
            for name, value in cohort.model_parameters.items():
                if name not in spec.parameter_names:
                    raise InvalidInput(
                        f"cohorts.{i}.model_parameters",
                        name,
                        f"a parameter of the {cohort.disease} model {model} (immunoreset model show {model})",
                    )
                spec.parameter(name).checked(value, field=f"cohorts.{i}.model_parameters.{name}")
        return self

    def lymphodepletion_for(self, infusion: int) -> list[LymphodepletionAgent]:
        """The lymphodepletion agents given before infusion number ``infusion`` (1-based)."""
        return [a for a in self.lymphodepletion if a.before_infusion == infusion]

    @property
    def patients(self) -> int:
        """Total number of virtual patients."""
        return sum(c.size for c in self.cohorts)

    def resized(self, patients: int) -> TrialDesign:
        """The same design with ``patients`` in total, split across cohorts in proportion (each >= 1)."""
        if patients < len(self.cohorts):
            raise InvalidInput("patients", patients, f"at least {len(self.cohorts)} (one per cohort)")
        weights = [c.size / self.patients for c in self.cohorts]
        sizes = [max(1, math.floor(w * patients)) for w in weights]
        order = sorted(range(len(sizes)), key=lambda i: -(weights[i] * patients - sizes[i]))
        for i in order[: patients - sum(sizes)]:
            sizes[i] += 1
        cohorts = [c.model_copy(update={"size": s}) for c, s in zip(self.cohorts, sizes, strict=True)]
        return self.model_copy(update={"cohorts": cohorts})


def _type_name(annotation: Any) -> str:
    text = repr(annotation) if not isinstance(annotation, type) else annotation.__name__
    for prefix in ("typing.", "immunoreset.trial.design.", "immunoreset.kinetics.bcells."):
        text = text.replace(prefix, "")
    return text


def _nested_models(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in getattr(annotation, "__args__", ()):
        found += _nested_models(arg)
    return found


def design_reference(model: type[BaseModel] | None = None, prefix: str = "") -> list[tuple[str, str, str, str]]:
    """Every field of the design format as ``(path, type, default, description)`` rows, nested fields with
    dotted paths (``product.dose_car_cells_per_kg``; ``[]`` marks a list item, ``{}`` a mapping value)."""
    from pydantic_core import PydanticUndefined

    rows: list[tuple[str, str, str, str]] = []
    for name, info in (model or TrialDesign).model_fields.items():
        path = f"{prefix}{name}"
        if info.default is not PydanticUndefined:
            default = "" if info.default is None else repr(info.default)
        elif info.default_factory is not None:
            default = "(see description)"
        else:
            default = "required"
        rows.append((path, _type_name(info.annotation), default, info.description or ""))
        origin = getattr(info.annotation, "__origin__", None)
        marker = "[]." if origin is list else "{}." if origin is dict else "."
        for nested in _nested_models(info.annotation):
            rows += design_reference(nested, f"{path}{marker}")
    return rows


def _scalar(text: str) -> Any:
    """A --vary value: int, float (``1e5`` too), true/false, or text."""
    token = text.strip()
    for kind in (int, float):
        try:
            return kind(token)
        except ValueError:
            pass
    if token.lower() in ("true", "false"):
        return token.lower() == "true"
    return token


def _structured(text: str, spec: str) -> Any:
    """A --vary level in YAML flow style (``[]``, ``[{day: 0}, {day: 180}]``); plain scalars as :func:`_scalar`."""
    token = text.strip()
    if not token.startswith(("[", "{")):
        return _scalar(token)
    try:
        return yaml.safe_load(token)
    except yaml.YAMLError:
        raise InvalidInput(
            "--vary", spec, "levels in YAML flow style separated by ';' (e.g. lymphodepletion=[];[...])"
        ) from None


def parse_vary(specs: list[str]) -> dict[str, list[Any]]:
    """``["product.dose=1e5,1e6"]`` → ``{"product.dose": [100000.0, 1000000.0]}``; levels that are lists or
    mappings are separated by ``;`` in YAML flow style (``["lymphodepletion=[];[{agent: fludarabine, ...}]"]``,
    ``["infusions=[{day: 0}];[{day: 0}, {day: 180}]"]``). Clear errors otherwise."""
    grid: dict[str, list[Any]] = {}
    for spec in specs:
        path, sep, values = spec.partition("=")
        path = path.strip()
        if ";" in values:  # levels that are lists or mappings, in YAML flow style: lymphodepletion=[];[{...}]
            levels = [_structured(v, spec) for v in values.split(";") if v.strip()]
        else:
            levels = [_scalar(v) for v in values.split(",") if v.strip()]
        if not sep or not path or not levels:
            raise InvalidInput("--vary", spec, "FIELD=VALUE,VALUE,... (e.g. product.dose=1e5,1e6,1e7)")
        if path in grid:
            raise InvalidInput("--vary", path, "each field varied once")
        if len({repr(v) for v in levels}) != len(levels):
            raise InvalidInput("--vary", spec, "distinct values (each level once)")
        if path in ("name", "seed") or (path.startswith("cohorts.") and path.endswith(".size")):
            raise InvalidInput(
                "--vary", path, "a field other than name, seed and cohort sizes (use --seed and --patients)"
            )
        grid[path] = levels
    doses = {"product.dose", "product.dose_car_cells_per_kg", "product.dose_car_cells"} & set(grid)
    if len(doses) > 1:
        raise InvalidInput("--vary", sorted(doses), "one way of varying the dose (product.dose sets either)")
    return grid


def with_values(design: TrialDesign, values: dict[str, Any]) -> TrialDesign:
    """The design with fields set by dotted path (``product.dose_car_cells_per_kg``, ``infusions.1.day``,
    ``lymphodepletion.0.dose_mg_per_m2``), validated like a design file. ``product.dose`` sets whichever
    dose the product states (per kg or flat)."""
    data: Any = design.model_dump(mode="json")
    for path, value in values.items():
        if path == "product.dose":
            path = (
                "product.dose_car_cells"
                if design.product.dose_car_cells is not None
                else "product.dose_car_cells_per_kg"
            )
        keys = path.split(".")
        node = data
        for i, key in enumerate(keys):
            last = i == len(keys) - 1
            if isinstance(node, list) and key.isdigit() and int(key) < len(node):
                index: Any = int(key)
            elif isinstance(node, dict) and key in node:
                index = key
            else:
                raise InvalidInput("--vary", path, "a field of the design (immunoreset trial show --fields)")
            if last:
                node[index] = value
            else:
                node = node[index]
    data["name"] = design.name
    updated: TrialDesign = parse(TrialDesign, data)
    return updated


def builtin_designs() -> list[str]:
    """Names of the designs shipped with immunoreset."""
    folder = resources.files("immunoreset").joinpath("data/designs")
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_design(name_or_path: str | Path) -> TrialDesign:
    """Load a built-in design by name (``erlangen2024``) or a YAML/TOML design file by path."""
    text: str
    where = str(name_or_path)
    if where in builtin_designs():
        text = resources.files("immunoreset").joinpath(f"data/designs/{where}.yaml").read_text(encoding="utf-8")
        suffix = ".yaml"
    else:
        path = Path(name_or_path)
        if not path.is_file():
            raise InvalidInput("DESIGN", where, f"a design file or one of: {', '.join(builtin_designs())}")
        text, suffix = read_text_file(path, "DESIGN"), path.suffix.lower()
    try:
        data: Any = tomllib.loads(text) if suffix == ".toml" else yaml.safe_load(text)
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as err:
        raise InvalidInput("DESIGN", where, f"valid YAML or TOML ({err})") from None
    except (ValueError, RecursionError):  # e.g. an integer of thousands of digits, or nesting without end
        raise InvalidInput(
            "DESIGN", where, f"YAML or TOML with numbers and nesting within bounds ({NUMBER_BOUNDS})"
        ) from None
    check_numbers_in(data)
    if not isinstance(data, dict):
        raise InvalidInput("DESIGN", where, "a mapping of design fields")
    try:
        return parse(TrialDesign, data)
    except ValidationError as err:  # pragma: no cover - parse converts validation errors
        raise InvalidInput("DESIGN", where, str(err)) from None
