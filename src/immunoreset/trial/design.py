"""Trial designs as files: cohorts, product and dose, lymphodepletion, concomitant drugs, visits, endpoints.

A design is a YAML (or TOML) file validated by :class:`TrialDesign`. The built-in ``erlangen2024`` design
mirrors the published Erlangen case series; copy it (``immunoreset trial show erlangen2024 --yaml``) and
edit it to design another trial.
"""

from __future__ import annotations

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
    "LymphodepletionAgent",
    "Product",
    "ProphylaxisDrug",
    "TrialDesign",
    "builtin_designs",
    "load_design",
]

Disease = Literal["SLE", "SSc", "IIM"]

#: The disease model (model spec name) each cohort is simulated with.
DISEASE_MODELS: dict[str, str] = {"SLE": "sle_cart", "IIM": "iim_cart", "SSc": "ssc_cart"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CovariateDistribution(_Strict):
    """How one covariate is drawn for each virtual patient (truncated to ``[low, high]`` when given)."""

    kind: Literal["fixed", "normal", "lognormal", "uniform", "bernoulli"]
    value: float | None = None
    mean: float | None = None
    sd: float | None = Field(default=None, ge=0)
    median: float | None = Field(default=None, gt=0)
    cv: float | None = Field(default=None, ge=0, description="Coefficient of variation of a log-normal.")
    low: float | None = None
    high: float | None = None
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
    dose: float = Field(gt=0)
    unit: str = Field(min_length=1, description="Dose unit, e.g. mg, g, g/kg.")
    route: str = "oral"
    frequency: str = "once_daily"
    p: float = Field(ge=0, le=1, description="Probability that a patient of the cohort takes it.")


class Cohort(_Strict):
    """One disease cohort of the trial."""

    disease: Disease
    size: int = Field(ge=1, le=1_000_000)
    covariates: dict[str, CovariateDistribution] = Field(default_factory=dict)
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

    @model_validator(mode="after")
    def _known_model_parameters(self) -> Cohort:
        from immunoreset.models import get_model

        model = DISEASE_MODELS[self.disease]
        spec = get_model(model)
        for name, value in self.model_parameters.items():
            if name not in spec.parameter_names:
                raise InvalidInput(
                    "model_parameters",
                    name,
                    f"a parameter of the {self.disease} model {model} (immunoreset model show {model})",
                )
            spec.parameter(name).checked(value, field=f"model_parameters.{name}")
        return self


class Product(_Strict):
    """The CAR-T product: target, dose and composition."""

    name: str
    target: Literal["CD19", "BCMA", "CD19/BCMA"] = "CD19"
    dose_car_cells_per_kg: float = Field(gt=0, le=1e9, description="CAR+ cells per kg body weight.")
    cd4_fraction: float = Field(ge=0, le=1)
    cd8_fraction: float = Field(ge=0, le=1)
    phenotype: dict[Literal["naive", "central_memory", "effector_memory", "effector"], float]

    @model_validator(mode="after")
    def _fractions(self) -> Product:
        if self.cd4_fraction + self.cd8_fraction > 1 + 1e-9:
            raise InvalidInput("cd8_fraction", self.cd8_fraction, f"at most {1 - self.cd4_fraction:g} (CD4 + CD8 <= 1)")
        total = sum(self.phenotype.values())
        if abs(total - 1) > 0.01 or set(self.phenotype) != {"naive", "central_memory", "effector_memory", "effector"}:
            raise InvalidInput("phenotype", self.phenotype, "fractions of all four phenotypes summing to 1 (±0.01)")
        return self


class LymphodepletionAgent(_Strict):
    """One lymphodepleting agent: dose per m² on each listed study day."""

    agent: Literal["fludarabine", "cyclophosphamide", "bendamustine"]
    dose_mg_per_m2: float = Field(gt=0, le=5000)
    days: list[int] = Field(min_length=1)

    @field_validator("days")
    @classmethod
    def _before_infusion(cls, value: list[int]) -> list[int]:
        if any(d >= 0 for d in value):
            raise ValueError("study days before the infusion (negative)")
        return value


class TaperStep(_Strict):
    """Glucocorticoid dose (prednisolone-equivalent mg/day) from ``day`` on."""

    day: int
    mg_per_day: float = Field(ge=0, le=2000)


class ProphylaxisDrug(_Strict):
    """An anti-infective prophylaxis given to every patient (e.g. aciclovir, co-trimoxazole)."""

    drug: str = Field(min_length=1)
    dose: float = Field(gt=0)
    unit: str = "mg"
    route: str = "oral"
    frequency: str = "once_daily"
    start_day: int
    stop_day: int

    @model_validator(mode="after")
    def _days(self) -> ProphylaxisDrug:
        if self.stop_day < self.start_day:
            raise InvalidInput("stop_day", self.stop_day, f"on or after start_day ({self.start_day})")
        return self


class Concomitant(_Strict):
    """Concomitant-drug protocol: withdrawal of immunosuppressants, a glucocorticoid taper, prophylaxis."""

    immunosuppressants_stop_day: int
    antimalarials_stop_day: int | None = None
    glucocorticoid_taper: list[TaperStep] = Field(default_factory=list)
    prophylaxis: list[ProphylaxisDrug] = Field(default_factory=list)

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

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str
    source: str = ""
    seed: int = Field(ge=0)
    follow_up_days: int = Field(ge=1, le=3650)
    visits: list[int] = Field(min_length=1, description="Visit study days (day 0 = infusion).")
    product: Product
    lymphodepletion: list[LymphodepletionAgent] = Field(min_length=1)
    concomitant: Concomitant
    cohorts: list[Cohort] = Field(min_length=1)
    endpoints: list[str] = Field(min_length=1)
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
        return self

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
