"""IMACS myositis disease-activity tools: the MYOACT visual analogue scales of the MDAAT.

Instruments (registry names in brackets):

* Myositis Disease Activity Assessment Visual Analogue Scales, MYOACT [``myoact``] — developed in
  Isenberg DA, Allen E, Farewell V, et al. *International consensus outcome measures for patients with
  idiopathic inflammatory myopathies. Development and initial validation of myositis activity and damage
  indices in patients with adult onset disease.* Rheumatology (Oxford) 2004;43(1):49–54,
  doi:10.1093/rheumatology/keg427; revised and validated in Sultan SM, Allen E, Oddis CV, et al.
  *Reliability and validity of the myositis disease activity assessment tool.* Arthritis Rheum
  2008;58(11):3593–9, doi:10.1002/art.23963. Scoring as printed on the IMACS form "Myositis Disease
  Activity Assessment Tool – 2009" ("MYOACT Scoring System"); the form was read in a reproduction
  (info.5y1.org), not on the IMACS/NIEHS site itself.

The MYOACT score is the sum of the six extramuscular organ-system VAS scores (constitutional, cutaneous,
skeletal, gastrointestinal, pulmonary, cardiac; each 0–10 cm, so the sum is 0–60) divided by the total
possible score (60); a system marked NA (cannot be assessed) is left out of both the sum and the maximum
possible score. No threshold or activity band is defined for it.

Not implemented here, because their exact scoring could not be confirmed from a primary or official
source during this work (see ``/tmp/notes/myositis_imacs.md`` and the docs section): the MITAX (numerical
values of the A–E system grades and the total), the Myositis Damage Index (item list and extent-of-damage
counting rules for the adult and juvenile versions) and the CDASI (item maxima of Gottron's papules,
periungual changes and alopecia, and the mild / moderate–severe cut-off).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Annotated, Any, ClassVar

from pydantic import BeforeValidator, Field, model_validator

from immunoreset.errors import InvalidInput, Problem
from immunoreset.instruments.base import (
    Exact,
    Instrument,
    InstrumentInput,
    InstrumentOptions,
    InstrumentResult,
    parse,
)

__all__ = [
    "MYOACT_SYSTEMS",
    "MYOACTInput",
    "MYOACTOptions",
    "MYOACTResult",
    "myoact",
]

MYOACT_SOURCE = (
    "Isenberg DA et al. Rheumatology (Oxford) 2004;43(1):49-54, doi:10.1093/rheumatology/keg427; "
    "Sultan SM et al. Arthritis Rheum 2008;58(11):3593-9, doi:10.1002/art.23963; "
    "IMACS MDAAT 2009 form (MYOACT scoring)"
)

MYOACT_SYSTEMS: tuple[str, ...] = (
    "constitutional",
    "cutaneous",
    "skeletal",
    "gastrointestinal",
    "pulmonary",
    "cardiac",
)
"""The six extramuscular organ systems whose VAS scores make up the MYOACT score."""
VAS_MAX = Decimal(10)  # each system: 10-cm visual analogue scale
SCORE_PLACES = Decimal("0.0001")  # the score (a fraction 0-1) is reported to 4 decimal places


def _not_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("a number (cm on the 10-cm line), not true/false")
    return value


VAS = Annotated[Exact, Field(ge=0, le=10), BeforeValidator(_not_bool)]  # Field first: JSON Schema minimum/maximum

_PERIOD = "activity within the past 4 weeks, judged as due to myositis (not to another disease or to therapy)"


def _vas(system: str, examples: str) -> Any:
    return Field(
        default=None,
        description=f"{system} disease activity VAS, 0-10 cm (0 none, 5 moderate, 10 extreme or maximum); "
        f"{_PERIOD}; e.g. {examples}.",
    )


def _na(system: str) -> Any:
    return Field(
        default=None,
        description=f"true when the {system} system cannot be assessed (NA on the form): it is then left out of "
        "the sum and of the maximum possible score. Leave the VAS empty when true.",
    )


class MYOACTInput(InstrumentInput):
    """Physician's MYOACT visual analogue scales (0-10 cm) of one assessment.

    Give each of the six extramuscular systems either its VAS or ``<system>_not_assessed: true``. The muscle
    and extramuscular global VAS are recorded with the assessment but are not part of the MYOACT score.
    """

    constitutional: VAS | None = _vas("Constitutional", "fever, weight loss and fatigue")
    constitutional_not_assessed: bool | None = _na("constitutional")
    cutaneous: VAS | None = _vas(
        "Cutaneous",
        "cutaneous ulceration, erythroderma, panniculitis, erythematous rashes, heliotrope, Gottron's papules or "
        "sign, periungual capillary changes, alopecia and mechanic's hands",
    )
    cutaneous_not_assessed: bool | None = _na("cutaneous")
    skeletal: VAS | None = _vas("Skeletal", "arthritis and arthralgia")
    skeletal_not_assessed: bool | None = _na("skeletal")
    gastrointestinal: VAS | None = _vas("Gastrointestinal", "dysphagia and abdominal pain")
    gastrointestinal_not_assessed: bool | None = _na("gastrointestinal")
    pulmonary: VAS | None = _vas(
        "Pulmonary", "dyspnoea, parenchymal (interstitial) lung disease, pulmonary function and dysphonia"
    )
    pulmonary_not_assessed: bool | None = _na("pulmonary")
    cardiac: VAS | None = _vas("Cardiac", "pericarditis, myocarditis and arrhythmias")
    cardiac_not_assessed: bool | None = _na("cardiac")
    muscle: VAS | None = Field(
        default=None,
        description="Muscle disease activity VAS, 0-10 cm (recorded; not part of the extramuscular MYOACT score).",
    )
    extramuscular_global: VAS | None = Field(
        default=None,
        description="Physician's global assessment of extramuscular disease activity, 0-10 cm VAS (recorded; "
        "not part of the MYOACT score; it is the extramuscular core set measure of the IMACS/ACR-EULAR "
        "response criteria).",
    )

    @model_validator(mode="after")
    def _na_has_no_vas(self) -> MYOACTInput:
        problems = [
            Problem(
                f"{system}_not_assessed",
                True,
                f"not true while {system} has a VAS ({getattr(self, system)}); give one or the other",
            )
            for system in MYOACT_SYSTEMS
            if getattr(self, f"{system}_not_assessed") is True and getattr(self, system) is not None
        ]
        if problems:
            raise InvalidInput(problems=problems)
        return self


assert all(name in MYOACTInput.model_fields for name in MYOACT_SYSTEMS)


class MYOACTOptions(InstrumentOptions):
    """The MYOACT score has one published scoring rule; options exist for interface uniformity."""


class MYOACTResult(InstrumentResult):
    """MYOACT extramuscular sum, maximum possible score and the score (sum ÷ maximum)."""

    TABLE_FIELDS: ClassVar[tuple[str, ...]] = ("extramuscular_sum", "max_possible", "systems_assessed")

    score: Exact | None = Field(
        description="MYOACT score: extramuscular sum ÷ maximum possible score, 0-1, rounded half up to 4 decimals."
    )
    extramuscular_sum: Exact | None = Field(
        description="Sum of the VAS of the assessed extramuscular systems (0-60 when all six are assessed)."
    )
    max_possible: int | None = Field(description="10 cm × number of systems assessed (60 when all six are).")
    systems_assessed: int = Field(description="Systems with a VAS (0-6).")
    systems: dict[str, Exact | None] = Field(description="VAS of each extramuscular system (null: NA or missing).")
    not_assessed: list[str] = Field(description="Systems marked NA (cannot be assessed).")
    missing: list[str] = Field(description="Systems with neither a VAS nor NA.")
    muscle: Exact | None = Field(description="Muscle VAS as recorded (not scored).")
    extramuscular_global: Exact | None = Field(description="Extramuscular global VAS as recorded (not scored).")

    def headline(self) -> str:
        if self.score is None:
            return "not evaluable"
        return f"{self.score} ({self.extramuscular_sum}/{self.max_possible})"


def myoact(
    inputs: MYOACTInput | Mapping[str, Any], *, options: MYOACTOptions | Mapping[str, Any] | None = None
) -> MYOACTResult:
    """MYOACT: Myositis Disease Activity Assessment Visual Analogue Scales (extramuscular score).

    Source: Isenberg DA et al. Rheumatology (Oxford) 2004;43(1):49–54; Sultan SM et al. Arthritis Rheum
    2008;58(11):3593–9; scoring as printed on the IMACS MDAAT 2009 form. The physician marks disease
    activity of the past 4 weeks on a 10-cm line for each of six extramuscular systems — constitutional,
    cutaneous, skeletal, gastrointestinal, pulmonary, cardiac — or NA when a system cannot be assessed.

    * ``extramuscular_sum`` = sum of the assessed systems' VAS (0–60 with all six assessed);
    * ``max_possible`` = 10 × number of assessed systems;
    * ``score`` = ``extramuscular_sum / max_possible`` (0–1), computed exactly and rounded half up to 4
      decimals for display. There is no threshold.

    A system with neither a VAS nor NA makes the result not evaluable (no imputation). When every
    system is NA there is nothing to score and the result is not evaluable.
    """
    inputs = parse(MYOACTInput, inputs)
    parse(MYOACTOptions, options)
    systems: dict[str, Decimal | None] = {system: getattr(inputs, system) for system in MYOACT_SYSTEMS}
    not_assessed = [s for s in MYOACT_SYSTEMS if systems[s] is None and getattr(inputs, f"{s}_not_assessed") is True]
    missing = [s for s in MYOACT_SYSTEMS if systems[s] is None and s not in not_assessed]
    assessed = [value for value in systems.values() if value is not None]

    total: Decimal | None = None
    maximum: int | None = None
    score: Decimal | None = None
    reason: str | None = None
    if missing:
        reason = "not recorded (give the VAS, or <system>_not_assessed=true if NA): " + ", ".join(missing)
    elif not assessed:
        reason = "no system assessed: all six extramuscular systems are NA"
    else:
        with localcontext() as ctx:
            ctx.prec = 100  # the sum of up to six recorded values stays exact
            total = sum(assessed, Decimal(0))
        maximum = int(VAS_MAX) * len(assessed)
        ratio = Fraction(total) / maximum  # exact; rounded once, half up, at the 4th decimal
        score = (Decimal(math.floor(ratio * 10_000 + Fraction(1, 2))) / 10_000).quantize(SCORE_PLACES)
    variant = "MYOACT extramuscular score (MDAAT 2009)"
    if not_assessed and total is not None:
        variant += f", {len(assessed)} of 6 systems assessed"
    return MYOACTResult(
        instrument="myoact",
        variant=variant,
        source=MYOACT_SOURCE,
        evaluable=score is not None,
        reason=reason,
        score=score,
        extramuscular_sum=total,
        max_possible=maximum,
        systems_assessed=len(assessed),
        systems=systems,
        not_assessed=not_assessed,
        missing=missing,
        muscle=inputs.muscle,
        extramuscular_global=inputs.extramuscular_global,
    )


INSTRUMENTS: tuple[Instrument[Any, Any, Any], ...] = (
    Instrument(
        name="myoact",
        title="MYOACT (MDAAT visual analogue scales)",
        description="IMACS myositis extramuscular disease activity: sum of six organ-system VAS ÷ maximum possible.",
        source=MYOACT_SOURCE,
        function=myoact,
        input_model=MYOACTInput,
        options_model=MYOACTOptions,
        result_model=MYOACTResult,
    ),
)
