"""SLE activity and flare on the SELENA instruments.

Instruments (registry names in brackets):

* SELENA-SLEDAI [``selena_sledai``] — the Safety of Estrogens in Lupus Erythematosus National
  Assessment (SELENA) modification of SLEDAI: Petri M, Kim MY, Kalunian KC, et al. *Combined oral
  contraceptives in women with systemic lupus erythematosus.* N Engl J Med 2005;353(24):2550–2558,
  doi:10.1056/NEJMoa051135 (and Buyon JP, Petri MA, Kim MY, et al. Ann Intern Med 2005;142:953–962).
  Same 24 descriptors and weights as SLEDAI-2K (imported from :mod:`immunoreset.instruments.sle`, not
  restated), total 0–105, 10-day window. What differs from SLEDAI-2K and is computed here:

  - **proteinuria** counts only when it is *new onset or a recent increase of more than 0.5 g/24 h*
    (SLEDAI-2K also scores persistent proteinuria ``> 0.5`` g/24 h). Option ``proteinuria_rule=
    "persistent"`` scores it as SLEDAI-2K does (a modification used in later trials; unconfirmed here);
  - **arthritis** needs *more than 2* joints (``> 2``; SLEDAI-2K: ``>= 2``).

  What differs only in wording (the clinician applies it when answering the item, nothing is
  computed): rash, alopecia and mucosal ulcers count when *new or ongoing* — so persistent activity
  *is* scored for them, as in SLEDAI-2K and unlike the original 1985 SLEDAI ("new or recurrent");
  pleurisy and pericarditis accept classic and severe pleuritic/pericardial pain alone; visual
  disturbance includes scleritis and episcleritis; cranial nerve disorder includes vertigo due to lupus;
  seizure excludes seizures due to past irreversible CNS damage; CVA excludes arteriosclerotic and
  hypertensive causes; thrombocytopenia has no drug exclusion; fever ``> 38`` °C, platelets
  ``< 100`` x 10^9/L, white cells ``< 3`` x 10^9/L, haematuria/pyuria ``> 5`` /hpf are as in SLEDAI-2K.
  The wording is restated from secondary reproductions of the SELENA glossary (the NEJM 2005
  supplementary glossary itself was not available); unconfirmed against the full text.

* SELENA flare index [``selena_flare_index``] (SFI) — Petri M, Buyon J, Kim M. *Classification and
  definition of major flares in SLE clinical trials.* Lupus 1999;8(8):685–691,
  doi:10.1191/096120399680411281, as applied in the SELENA trial (Petri 2005, Buyon 2005). Compared
  with the previous visit; a flare is *severe* when any severe criterion is met, otherwise
  *mild/moderate* when any mild/moderate criterion is met, otherwise none:

  - mild/moderate: SELENA-SLEDAI increase ``>= 3`` points to a score ``<= 12``; new or worse discoid,
    photosensitive, profundus, cutaneous-vasculitic or bullous rash, nasopharyngeal ulcers, pleuritis,
    pericarditis, arthritis or fever (SLE); prednisone increased to ``<= 0.5`` mg/kg/day; NSAID or
    hydroxychloroquine added for SLE activity; PGA increase ``>= 1.0`` to a PGA ``<= 2.5``;
  - severe: SELENA-SLEDAI increased to ``> 12`` (option ``severe_score_rule``); new or worse CNS-SLE,
    vasculitis, nephritis, myositis, platelets ``< 60`` x 10^9/L or haemolytic anaemia (Hb ``< 7`` g/dL or
    a fall ``> 3`` g/dL) *requiring* doubling of prednisone, prednisone ``> 0.5`` mg/kg/day or
    hospitalisation; prednisone increased to ``> 0.5`` mg/kg/day; new cyclophosphamide, azathioprine or
    methotrexate (mycophenolate by option); hospitalisation for SLE activity; PGA increased to ``> 2.5``.

  The revised SELENA flare index (SFI-R; organ-by-organ mild, moderate and severe flares, independent
  of SLEDAI; Petri M et al., EULAR/ACR 2013 abstracts on its validation in the ROSE trial) could not be
  confirmed against a published definition and is **not implemented**: asking for it is an error.

Every threshold is compared in exact decimal arithmetic (mg/kg limits as ``dose > 0.5 x weight``,
never a rounded quotient). Decisions are listed in ``docs/instruments.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field, field_validator

from immunoreset.errors import InvalidInput, Problem
from immunoreset.instruments.base import (
    Exact,
    Instrument,
    InstrumentInput,
    InstrumentOptions,
    InstrumentResult,
    all_of,
    missing_reason,
    parse,
)
from immunoreset.instruments.sle import DESCRIPTORS, PROTEINURIA_G_PER_24H

__all__ = [
    "SELENASLEDAIInput",
    "SELENASLEDAIOptions",
    "SELENASLEDAIResult",
    "SFIInput",
    "SFIOptions",
    "SFIResult",
    "selena_flare_index",
    "selena_sledai",
]

SELENA_SLEDAI_SOURCE = (
    "Petri M et al. N Engl J Med 2005;353(24):2550-2558, doi:10.1056/NEJMoa051135 (SELENA-SLEDAI); "
    "weights of Gladman DD et al. J Rheumatol 2002;29(2):288-91"
)
SFI_SOURCE = (
    "Petri M, Buyon J, Kim M. Lupus 1999;8(8):685-691, doi:10.1191/096120399680411281 (SELENA flare index); "
    "as applied in Petri M et al. N Engl J Med 2005;353:2550-8"
)


def _not_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("a number, not true/false")
    return value


# ---------------------------------------------------------------------------------------------
# SELENA-SLEDAI
# ---------------------------------------------------------------------------------------------

_WEIGHT = {d.name: d.weight for d in DESCRIPTORS}
SELENA_ARTHRITIS_JOINTS = 2  # arthritis: more than 2 joints (> 2)
SELENA_PROTEINURIA_INCREASE_G_PER_24H = PROTEINURIA_G_PER_24H  # recent increase of more than 0.5 g/24 h


def _item(description: str) -> Any:
    return Field(default=None, description=description)


class SELENASLEDAIInput(InstrumentInput):
    """One SELENA-SLEDAI assessment: each descriptor present at the visit or in the preceding 10 days,
    attributed to SLE, as defined in the SELENA glossary (``true``/``false``). A descriptor not given
    makes the total unknown (never assumed absent).

    Proteinuria is given as the finding (``proteinuria``: > 0.5 g/24 h) plus the SELENA qualifier
    ``proteinuria_new_or_increased``, or as the current and previous 24-h urine protein.
    """

    seizure: bool | None = _item(
        "Recent onset; metabolic, infectious, drug causes and past irreversible CNS damage excluded (8)."
    )
    psychosis: bool | None = _item(
        "Severe disturbance in the perception of reality impairing normal function; uraemia/drugs excluded (8)."
    )
    organic_brain_syndrome: bool | None = _item(
        "Rapid-onset, fluctuating impairment of orientation, memory or intellect; other causes excluded (8)."
    )
    visual_disturbance: bool | None = _item(
        "Retinal and eye changes of SLE (cytoid bodies, retinal/choroidal haemorrhage or exudate, optic "
        "neuritis, scleritis, episcleritis); hypertension, infection, drugs excluded (8)."
    )
    cranial_nerve_disorder: bool | None = _item(
        "New sensory or motor neuropathy of cranial nerves, including vertigo due to lupus (8)."
    )
    lupus_headache: bool | None = _item("Severe persistent headache unresponsive to narcotic analgesia (8).")
    cva: bool | None = _item("New cerebrovascular accident; arteriosclerotic or hypertensive causes excluded (8).")
    vasculitis: bool | None = _item(
        "Ulceration, gangrene, tender finger nodules, periungual infarction, splinter haemorrhages, or "
        "biopsy/angiogram-proven vasculitis (8)."
    )
    arthritis: bool | None = _item("More than 2 joints (> 2) with pain and signs of inflammation (4).")
    myositis: bool | None = _item("Proximal muscle aching/weakness with raised CK/aldolase, EMG or biopsy (4).")
    urinary_casts: bool | None = _item("Heme-granular or red-cell casts (4).")
    hematuria: bool | None = _item("> 5 red cells/hpf; stone, infection or other cause excluded (4).")
    proteinuria: bool | None = _item(
        "Urine protein > 0.5 g/24 h present (the finding; SELENA scores it only with proteinuria_new_or_increased) (4)."
    )
    proteinuria_new_or_increased: bool | None = _item(
        "SELENA qualifier: the proteinuria > 0.5 g/24 h is of new onset or a recent increase of > 0.5 g/24 h."
    )
    pyuria: bool | None = _item("> 5 white cells/hpf; infection excluded (4).")
    rash: bool | None = _item("New or ongoing inflammatory lupus rash (2).")
    alopecia: bool | None = _item("New or ongoing abnormal patchy or diffuse hair loss due to active lupus (2).")
    mucosal_ulcers: bool | None = _item("New or ongoing oral or nasal ulceration due to active lupus (2).")
    pleurisy: bool | None = _item(
        "Classic and severe pleuritic chest pain, or pleural rub or effusion, or new pleural thickening "
        "due to lupus (2)."
    )
    pericarditis: bool | None = _item(
        "Classic and severe pericardial pain, or rub or effusion, or ECG/echocardiographic confirmation (2)."
    )
    low_complement: bool | None = _item("CH50, C3 or C4 below the testing laboratory's lower limit of normal (2).")
    increased_dna_binding: bool | None = _item(
        "Anti-dsDNA > 25% binding by Farr assay or above the testing laboratory's normal range (2)."
    )
    fever: bool | None = _item("Temperature > 38 °C; infection excluded (1).")
    thrombocytopenia: bool | None = _item("Platelets < 100 x 10^9/L (1).")
    leukopenia: bool | None = _item("White cells < 3 x 10^9/L; drug causes excluded (1).")

    arthritis_joint_count: Annotated[int | None, BeforeValidator(_not_bool)] = Field(
        default=None, ge=0, le=100, description="Joints with pain and signs of inflammation; arthritis when > 2."
    )
    proteinuria_g_per_24h: Annotated[Exact | None, BeforeValidator(_not_bool)] = Field(
        default=None, ge=0, le=100, description="24-h urine protein now, g/24 h (finding when > 0.5)."
    )
    previous_proteinuria_g_per_24h: Annotated[Exact | None, BeforeValidator(_not_bool)] = Field(
        default=None,
        ge=0,
        le=100,
        description="24-h urine protein at the previous assessment, g/24 h: new onset when it was <= 0.5, "
        "recent increase when now exceeds it by > 0.5.",
    )


class SELENASLEDAIOptions(InstrumentOptions):
    """Options of :func:`selena_sledai`; defaults follow SELENA-SLEDAI as published."""

    proteinuria_rule: Literal["new_or_increased", "persistent"] = Field(
        default="new_or_increased",
        description="new_or_increased (SELENA, default): proteinuria > 0.5 g/24 h scored only when of new onset "
        "or a recent increase of > 0.5 g/24 h; persistent: scored whenever > 0.5 g/24 h (as SLEDAI-2K).",
    )


class SELENASLEDAIResult(InstrumentResult):
    """SELENA-SLEDAI total and the descriptors as scored (true = counted)."""

    TABLE_FIELDS: ClassVar[tuple[str, ...]] = ("contributing", "not_recorded")

    total: int | None = Field(description="SELENA-SLEDAI, 0-105 (sum of weights of descriptors scored).")
    known_points: int = Field(description="Points of descriptors known to be scored (the total when complete).")
    max_possible: int = Field(description="known_points plus the weights of descriptors not recorded.")
    contributing: list[str] = Field(description="Descriptors scored, in glossary order.")
    descriptors: dict[str, bool | None]
    derived_from_measurements: list[str]
    not_recorded: list[str]
    persistent_proteinuria_not_scored: bool = Field(
        description="Proteinuria > 0.5 g/24 h is present but neither new nor recently increased: SLEDAI-2K would "
        "score it (4), SELENA-SLEDAI does not."
    )
    proteinuria_rule: str

    def headline(self) -> str:
        if self.total is None:
            return f"not evaluable ({self.known_points}-{self.max_possible})"
        return str(self.total)


def _agree(problems: list[Problem], name: str, given: bool | None, derived: bool | None, account: str) -> bool | None:
    if given is not None and derived is not None and given != derived:
        problems.append(Problem(name, given, f"agreement with the measurement: {account} gives {derived}"))
    return given if given is not None else derived


def selena_sledai(
    inputs: SELENASLEDAIInput | Mapping[str, Any], *, options: SELENASLEDAIOptions | Mapping[str, Any] | None = None
) -> SELENASLEDAIResult:
    """SELENA-SLEDAI (Petri M et al. N Engl J Med 2005;353:2550–8, doi:10.1056/NEJMoa051135).

    Total = sum of the SLEDAI-2K weights (8 x8, 4 x6, 2 x7, 1 x3; 0–105) of the descriptors present.
    Computed SELENA rules: arthritis when the joint count is ``> 2``; proteinuria (finding ``> 0.5`` g/24 h)
    scored only when of new onset (previous ``<= 0.5``) or a recent increase ``> 0.5`` g/24 h (now minus
    previous), unless option ``proteinuria_rule="persistent"``. A descriptor not recorded leaves the total
    unknown; ``known_points`` and ``max_possible`` bound it.
    """
    inputs = parse(SELENASLEDAIInput, inputs)
    options = parse(SELENASLEDAIOptions, options)
    problems: list[Problem] = []
    derived: list[str] = []

    arthritis = inputs.arthritis
    if inputs.arthritis_joint_count is not None:
        n = inputs.arthritis_joint_count
        if arthritis is None:
            derived.append("arthritis")
        arthritis = _agree(problems, "arthritis", arthritis, n > SELENA_ARTHRITIS_JOINTS, f"{n} joints (> 2)")

    finding = inputs.proteinuria
    qualifier = inputs.proteinuria_new_or_increased
    now, before = inputs.proteinuria_g_per_24h, inputs.previous_proteinuria_g_per_24h
    if before is not None and now is None:
        problems.append(
            Problem(
                "proteinuria_g_per_24h",
                InvalidInput.MISSING,
                "a value, because previous_proteinuria_g_per_24h was given",
            )
        )
    if now is not None:
        above = now > PROTEINURIA_G_PER_24H
        finding = _agree(problems, "proteinuria", finding, above, f"proteinuria_g_per_24h={now} (> 0.5)")
        new_or_up: bool | None = None
        if not above:
            new_or_up = False
        elif before is not None:
            new_or_up = before <= PROTEINURIA_G_PER_24H or now - before > SELENA_PROTEINURIA_INCREASE_G_PER_24H
        if new_or_up is not None:
            account = f"proteinuria {before} -> {now} g/24 h"
            qualifier = _agree(problems, "proteinuria_new_or_increased", qualifier, new_or_up, account)
    if finding is False and qualifier is True:
        problems.append(
            Problem("proteinuria_new_or_increased", True, "not true while proteinuria (> 0.5 g/24 h) is false")
        )
    if problems:
        raise InvalidInput(problems=problems)

    if options.proteinuria_rule == "persistent":
        proteinuria_scored = finding
    else:
        proteinuria_scored = all_of([finding, qualifier])
    if now is not None and inputs.proteinuria is None:
        derived.append("proteinuria")

    scored: dict[str, bool | None] = {}
    for d in DESCRIPTORS:
        if d.name == "arthritis":
            scored[d.name] = arthritis
        elif d.name == "proteinuria":
            scored[d.name] = proteinuria_scored
        else:
            scored[d.name] = getattr(inputs, d.name)
    unknown = [name for name, value in scored.items() if value is None]
    missing_inputs = [n for n in unknown if n != "proteinuria"]
    if "proteinuria" in unknown:
        missing_inputs.append("proteinuria" if finding is None else "proteinuria_new_or_increased")
    known = sum(_WEIGHT[name] for name, value in scored.items() if value is True)
    possible = known + sum(_WEIGHT[name] for name in unknown)
    return SELENASLEDAIResult(
        instrument="selena_sledai",
        variant=f"SELENA-SLEDAI (proteinuria {options.proteinuria_rule.replace('_', ' ')})",
        source=SELENA_SLEDAI_SOURCE,
        evaluable=not unknown,
        reason=missing_reason(missing_inputs) if unknown else None,
        total=None if unknown else known,
        known_points=known,
        max_possible=possible,
        contributing=[name for name, value in scored.items() if value is True],
        descriptors=scored,
        derived_from_measurements=derived,
        not_recorded=unknown,
        persistent_proteinuria_not_scored=finding is True and qualifier is False,
        proteinuria_rule=options.proteinuria_rule,
    )


# ---------------------------------------------------------------------------------------------
# SELENA flare index (SFI, Petri 1999)
# ---------------------------------------------------------------------------------------------

FlareCategory = Literal["none", "mild_moderate", "severe"]
_LEVELS: tuple[FlareCategory, ...] = ("none", "mild_moderate", "severe")

SFI_SLEDAI_INCREASE = 3  # mild/moderate: SELENA-SLEDAI increase >= 3 ...
SFI_SLEDAI_SEVERE = 12  # ... to <= 12; severe: increase to > 12
SFI_PGA_INCREASE = Decimal("1.0")  # mild/moderate: PGA increase >= 1.0 ...
SFI_PGA_SEVERE = Decimal("2.5")  # ... to <= 2.5; severe: increase to > 2.5
SFI_PREDNISONE_MG_PER_KG = Decimal("0.5")  # prednisone increased to <= 0.5 (mild) or > 0.5 mg/kg/day (severe)
SFI_PLATELETS_10E9_PER_L = 60  # severe manifestation: platelets < 60 x 10^9/L
SFI_HB_G_PER_DL = 7  # severe manifestation: haemolytic anaemia with Hb < 7 g/dL ...
SFI_HB_FALL_G_PER_DL = 3  # ... or a fall in Hb > 3 g/dL

MILD_MANIFESTATIONS: dict[str, str] = {
    "new_or_worse_rash": "discoid, photosensitive, profundus, cutaneous-vasculitic or bullous lupus rash",
    "new_or_worse_nasopharyngeal_ulcers": "nasopharyngeal ulcers",
    "new_or_worse_pleuritis": "pleuritis",
    "new_or_worse_pericarditis": "pericarditis",
    "new_or_worse_arthritis": "arthritis",
    "new_or_worse_fever": "fever due to SLE",
}
SEVERE_MANIFESTATIONS: dict[str, str] = {
    "new_or_worse_cns_sle": "CNS-SLE",
    "new_or_worse_vasculitis": "vasculitis",
    "new_or_worse_nephritis": "nephritis",
    "new_or_worse_myositis": "myositis",
    "new_or_worse_thrombocytopenia": "platelets < 60 x 10^9/L",
    "new_or_worse_hemolytic_anemia": "haemolytic anaemia with Hb < 7 g/dL or a fall in Hb > 3 g/dL",
}
MILD_TREATMENTS: dict[str, str] = {
    "new_nsaid": "NSAID added for SLE activity",
    "new_hydroxychloroquine": "hydroxychloroquine added for SLE activity",
}
SEVERE_TREATMENTS: dict[str, str] = {
    "new_cyclophosphamide": "new cyclophosphamide",
    "new_azathioprine": "new azathioprine",
    "new_methotrexate": "new methotrexate",
    "new_mycophenolate": "new mycophenolate (counted only with option count_mycophenolate)",
    "hospitalized_for_sle": "hospitalisation for SLE activity",
}

_Score = Annotated[int | None, BeforeValidator(_not_bool)]
_Number = Annotated[Exact | None, BeforeValidator(_not_bool)]


def _flag(description: str) -> Any:
    return Field(default=None, description=description)


class SFIInput(InstrumentInput):
    """Current visit compared with the previous visit, for the SELENA flare index.

    Every item is a scalar; the boolean items say whether the feature is new or worse (manifestations)
    or newly started (treatments) since the previous visit.
    """

    previous_selena_sledai: _Score = Field(
        default=None, ge=0, le=105, description="SELENA-SLEDAI at the previous visit."
    )
    selena_sledai: _Score = Field(default=None, ge=0, le=105, description="SELENA-SLEDAI now.")
    previous_pga: _Number = Field(default=None, ge=0, le=3, description="Physician's global assessment before, 0-3.")
    pga: _Number = Field(default=None, ge=0, le=3, description="Physician's global assessment now, 0-3.")
    previous_prednisone_mg_per_day: _Number = Field(
        default=None, ge=0, le=2000, description="Prednisone (or equivalent) at the previous visit, mg/day."
    )
    prednisone_mg_per_day: _Number = Field(
        default=None, ge=0, le=2000, description="Prednisone (or equivalent) now, mg/day."
    )
    weight_kg: _Number = Field(
        default=None, ge=1, le=500, description="Body weight, kg (for the 0.5 mg/kg/day prednisone limit)."
    )
    new_or_worse_rash: bool | None = _flag(
        "New or worse discoid, photosensitive, profundus, cutaneous-vasculitic or bullous lupus (mild/moderate)."
    )
    new_or_worse_nasopharyngeal_ulcers: bool | None = _flag("New or worse nasopharyngeal ulcers (mild/moderate).")
    new_or_worse_pleuritis: bool | None = _flag("New or worse pleuritis (mild/moderate).")
    new_or_worse_pericarditis: bool | None = _flag("New or worse pericarditis (mild/moderate).")
    new_or_worse_arthritis: bool | None = _flag("New or worse arthritis (mild/moderate).")
    new_or_worse_fever: bool | None = _flag("New or worse fever due to SLE (mild/moderate).")
    new_or_worse_cns_sle: bool | None = _flag(
        "New or worse CNS-SLE (severe when it requires doubling of prednisone, > 0.5 mg/kg/day or hospitalisation)."
    )
    new_or_worse_vasculitis: bool | None = _flag("New or worse vasculitis (severe with escalation, as CNS-SLE).")
    new_or_worse_nephritis: bool | None = _flag("New or worse nephritis (severe with escalation, as CNS-SLE).")
    new_or_worse_myositis: bool | None = _flag("New or worse myositis (severe with escalation, as CNS-SLE).")
    new_or_worse_thrombocytopenia: bool | None = _flag(
        "New or worse thrombocytopenia, platelets < 60 x 10^9/L (severe with escalation, as CNS-SLE)."
    )
    new_or_worse_hemolytic_anemia: bool | None = _flag(
        "New or worse haemolytic anaemia, Hb < 7 g/dL or a fall in Hb > 3 g/dL (severe with escalation)."
    )
    new_nsaid: bool | None = _flag("NSAID added for SLE activity (mild/moderate).")
    new_hydroxychloroquine: bool | None = _flag("Hydroxychloroquine added for SLE activity (mild/moderate).")
    new_cyclophosphamide: bool | None = _flag("Cyclophosphamide newly started (severe).")
    new_azathioprine: bool | None = _flag("Azathioprine newly started (severe).")
    new_methotrexate: bool | None = _flag("Methotrexate newly started (severe).")
    new_mycophenolate: bool | None = _flag(
        "Mycophenolate newly started (severe only with option count_mycophenolate; ignored otherwise)."
    )
    hospitalized_for_sle: bool | None = _flag("Hospitalised for SLE activity (severe).")


class SFIOptions(InstrumentOptions):
    """Options of :func:`selena_flare_index`; defaults follow the published SFI."""

    version: Literal["sfi_1999"] = Field(
        default="sfi_1999",
        description="sfi_1999: the SELENA flare index (Petri 1999; SELENA trial). The revised index (SFI-R) is not "
        "implemented: its definition could not be confirmed against a published source.",
    )
    severe_score_rule: Literal["any_increase", "qualifying_increase"] = Field(
        default="any_increase",
        description="SELENA-SLEDAI and PGA severe criteria ('increased to > 12', 'increased to > 2.5'): any_increase "
        "(default, literal text) = any increase ending above the level; qualifying_increase = only an increase of "
        ">= 3 (SLEDAI) or >= 1.0 (PGA) ending above it.",
    )
    count_mycophenolate: bool = Field(
        default=False,
        description="Count new mycophenolate with cyclophosphamide/azathioprine/methotrexate as severe (not in "
        "the 1999/2005 definition; used by later trials).",
    )

    @field_validator("version", mode="before")
    @classmethod
    def _no_revised(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() in {"sfi_revised", "sfi-r", "sfi_r", "revised"}:
            raise ValueError(
                "'sfi_1999': the revised SELENA flare index (SFI-R) is not implemented, because its organ-by-organ "
                "definition could not be confirmed against a published source"
            )
        return value


class SFIResult(InstrumentResult):
    """SELENA flare index: flare category and the criteria that decided it."""

    TABLE_FIELDS: ClassVar[tuple[str, ...]] = ("triggered_by",)

    category: FlareCategory | None = Field(description="none, mild_moderate or severe (None when undecided).")
    flare: bool | None = Field(description="Any flare (mild/moderate or severe).")
    severe: bool | None = Field(description="Severe flare.")
    criteria: dict[str, str | None] = Field(
        description="Each criterion: none, mild_moderate, severe, at_least_mild_moderate (partly known) or None."
    )
    triggered_by: list[str] = Field(description="Criteria known to be met, the most severe first.")
    sledai_change: int | None
    pga_change: Exact | None
    prednisone_change_mg_per_day: Exact | None
    prednisone_mg_per_kg: Exact | None = Field(description="Current dose / weight, rounded to 0.001 (display only).")
    prednisone_doubled: bool | None = Field(description="Current prednisone >= 2 x previous and above it.")
    prednisone_above_limit: bool | None = Field(description="Current prednisone > 0.5 mg/kg/day.")

    def headline(self) -> str:
        if self.category is not None:
            return {"none": "no flare", "mild_moderate": "mild/moderate flare", "severe": "severe flare"}[self.category]
        if self.flare:
            return "flare (severity undecided)"
        return "not evaluable"


_Bounds = tuple[int, int]  # lowest and highest level still possible: 0 none, 1 mild/moderate, 2 severe
_UNKNOWN: _Bounds = (0, 2)


def _boolean_level(value: bool | None, level: int) -> _Bounds:
    if value is None:
        return (0, level)
    return (level, level) if value else (0, 0)


def _score_level(before: Decimal | None, now: Decimal | None, step: Decimal, ceiling: Decimal, rule: str) -> _Bounds:
    if before is None or now is None:
        return _UNKNOWN
    increase = now - before
    if increase <= 0:
        return (0, 0)
    if now > ceiling and (rule == "any_increase" or increase >= step):
        return (2, 2)
    if increase >= step:
        return (1, 1)
    return (0, 0)


def _describe(bounds: _Bounds) -> str | None:
    low, high = bounds
    if low == high:
        return _LEVELS[low]
    return "at_least_mild_moderate" if low >= 1 else None


def selena_flare_index(
    inputs: SFIInput | Mapping[str, Any], *, options: SFIOptions | Mapping[str, Any] | None = None
) -> SFIResult:
    """SELENA flare index (Petri M, Buyon J, Kim M. Lupus 1999;8:685–91), current vs previous visit.

    Severe flare when any of: SELENA-SLEDAI increased to ``> 12``; a new/worse severe manifestation
    (CNS-SLE, vasculitis, nephritis, myositis, platelets ``< 60`` x 10^9/L, haemolytic anaemia with Hb
    ``< 7`` g/dL or a fall ``> 3`` g/dL) *requiring* escalation — prednisone doubled (now ``>= 2 x`` before
    and above it), prednisone ``> 0.5`` mg/kg/day, or hospitalisation; prednisone increased to ``> 0.5``
    mg/kg/day; new cyclophosphamide, azathioprine, methotrexate (mycophenolate with
    ``count_mycophenolate``); hospitalisation for SLE; PGA increased to ``> 2.5``.

    Otherwise mild/moderate when any of: SELENA-SLEDAI increase ``>= 3`` ending ``<= 12``; a new/worse
    mild manifestation (discoid/photosensitive/profundus/cutaneous-vasculitic/bullous rash,
    nasopharyngeal ulcers, pleuritis, pericarditis, arthritis, fever); prednisone increased to
    ``<= 0.5`` mg/kg/day; NSAID or hydroxychloroquine added for SLE; PGA increase ``>= 1.0`` ending
    ``<= 2.5``. Otherwise no flare.

    With ``severe_score_rule="any_increase"`` (default) any SLEDAI or PGA increase that ends above 12 or
    2.5 is severe; ``"qualifying_increase"`` needs an increase of ``>= 3`` / ``>= 1.0`` for that too.
    Missing items leave the category undecided unless the known items already decide it.
    """
    inputs = parse(SFIInput, inputs)
    options = parse(SFIOptions, options)
    rule = options.severe_score_rule

    prev_s, now_s = inputs.previous_selena_sledai, inputs.selena_sledai
    sledai_change = None if prev_s is None or now_s is None else now_s - prev_s
    prev_p, now_p = inputs.previous_pga, inputs.pga
    pga_change = None if prev_p is None or now_p is None else now_p - prev_p

    before, now, weight = inputs.previous_prednisone_mg_per_day, inputs.prednisone_mg_per_day, inputs.weight_kg
    increased = None if before is None or now is None else now > before
    above_limit = None if now is None or weight is None else now > SFI_PREDNISONE_MG_PER_KG * weight
    doubled = None if increased is None or now is None or before is None else increased and now >= 2 * before
    if increased is None:
        prednisone: _Bounds = _UNKNOWN
    elif not increased:
        prednisone = (0, 0)
    elif above_limit is None:
        prednisone = (1, 2)
    else:
        prednisone = (2, 2) if above_limit else (1, 1)

    # a severe manifestation counts when it requires escalation: prednisone doubled, prednisone
    # > 0.5 mg/kg/day, or hospitalisation
    escalation = _any_of([doubled, above_limit, inputs.hospitalized_for_sle])

    criteria: dict[str, _Bounds] = {
        "sledai_increase": _score_level(
            None if prev_s is None else Decimal(prev_s),
            None if now_s is None else Decimal(now_s),
            Decimal(SFI_SLEDAI_INCREASE),
            Decimal(SFI_SLEDAI_SEVERE),
            rule,
        ),
        "pga_increase": _score_level(prev_p, now_p, SFI_PGA_INCREASE, SFI_PGA_SEVERE, rule),
        "prednisone_increase": prednisone,
    }
    for name in MILD_MANIFESTATIONS:
        criteria[name] = _boolean_level(getattr(inputs, name), 1)
    for name in SEVERE_MANIFESTATIONS:
        criteria[name] = _boolean_level(all_of([getattr(inputs, name), escalation]), 2)
    for name in MILD_TREATMENTS:
        criteria[name] = _boolean_level(getattr(inputs, name), 1)
    for name in SEVERE_TREATMENTS:
        if name == "new_mycophenolate" and not options.count_mycophenolate:
            continue
        criteria[name] = _boolean_level(getattr(inputs, name), 2)

    low = max(b[0] for b in criteria.values())
    high = max(b[1] for b in criteria.values())
    category: FlareCategory | None = _LEVELS[low] if low == high else None
    flare = True if low >= 1 else (False if high == 0 else None)
    severe = True if low == 2 else (False if high <= 1 else None)

    triggered = sorted((name for name, b in criteria.items() if b[0] >= 1), key=lambda n: -criteria[n][0])
    reason = None
    if category is None:
        reason = missing_reason(
            _missing_inputs(
                inputs,
                options,
                weight_needed=increased is not False
                or any(getattr(inputs, n) is not False for n in SEVERE_MANIFESTATIONS),
            )
        )
        if flare:
            reason += " (a flare is certain; its severity is not)"
    mg_per_kg = None if now is None or weight is None else (now / weight).quantize(Decimal("0.001"))
    return SFIResult(
        instrument="selena_flare_index",
        variant=f"SELENA flare index 1999 (severe score rule {rule.replace('_', ' ')}"
        f"{'; mycophenolate counted' if options.count_mycophenolate else ''})",
        source=SFI_SOURCE,
        evaluable=category is not None,
        reason=reason,
        category=category,
        flare=flare,
        severe=severe,
        criteria={name: _describe(b) for name, b in criteria.items()},
        triggered_by=triggered,
        sledai_change=sledai_change,
        pga_change=pga_change,
        prednisone_change_mg_per_day=None if increased is None or now is None or before is None else now - before,
        prednisone_mg_per_kg=mg_per_kg,
        prednisone_doubled=doubled,
        prednisone_above_limit=above_limit,
    )


def _any_of(values: list[bool | None]) -> bool | None:
    if any(v is True for v in values):
        return True
    if any(v is None for v in values):
        return None
    return False


def _missing_inputs(inputs: SFIInput, options: SFIOptions, *, weight_needed: bool) -> list[str]:
    """Inputs not recorded that could still change the category (weight only when a dose limit matters)."""
    names = ["previous_selena_sledai", "selena_sledai", "previous_pga", "pga"]
    names += ["previous_prednisone_mg_per_day", "prednisone_mg_per_day"] + (["weight_kg"] if weight_needed else [])
    names += [*MILD_MANIFESTATIONS, *SEVERE_MANIFESTATIONS, *MILD_TREATMENTS]
    names += [n for n in SEVERE_TREATMENTS if n != "new_mycophenolate" or options.count_mycophenolate]
    return [n for n in names if getattr(inputs, n) is None]


# ---------------------------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------------------------

INSTRUMENTS: tuple[Instrument[Any, Any, Any], ...] = (
    Instrument(
        name="selena_sledai",
        title="SELENA-SLEDAI",
        description="SLE activity 0-105 (SLEDAI-2K weights; proteinuria only new/increased, arthritis > 2 joints).",
        source=SELENA_SLEDAI_SOURCE,
        function=selena_sledai,
        input_model=SELENASLEDAIInput,
        options_model=SELENASLEDAIOptions,
        result_model=SELENASLEDAIResult,
    ),
    Instrument(
        name="selena_flare_index",
        title="SELENA flare index",
        description="SLE flare vs previous visit: mild/moderate or severe from SLEDAI, PGA, prednisone, drugs.",
        source=SFI_SOURCE,
        function=selena_flare_index,
        input_model=SFIInput,
        options_model=SFIOptions,
        result_model=SFIResult,
    ),
)
