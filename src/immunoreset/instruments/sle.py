"""Systemic lupus erythematosus: disease activity, remission, response and classification.

Instruments (registry names in brackets):

* SLEDAI-2K and clinical SLEDAI [``sledai2k``] — Gladman DD, Ibañez D, Urowitz MB.
  *Systemic lupus erythematosus disease activity index 2000.* J Rheumatol 2002;29(2):288–91.
* DORIS 2021 remission [``doris``] — van Vollenhoven RF, Bertsias G, Doria A, et al.
  *2021 DORIS definition of remission in SLE: final recommendations from an international task
  force.* Lupus Sci Med 2021;8:e000538; with the 2017 framework flags of van Vollenhoven R, Voskuyl A,
  Bertsias G, et al. Ann Rheum Dis 2017;76:554–561.
* LLDAS [``lldas``] — Franklyn K, Lau CS, Navarra SV, et al. *Definition and initial validation of a
  Lupus Low Disease Activity State (LLDAS).* Ann Rheum Dis 2016;75(9):1615–21.
* SRI-4 [``sri4``] — Furie RA, Petri MA, Wallace DJ, et al. *Novel evidence-based systemic lupus
  erythematosus responder index.* Arthritis Rheum 2009;61(9):1143–51.
* 2019 EULAR/ACR classification [``sle_classification_2019``] — Aringer M, Costenbader K, Daikh D,
  et al. Ann Rheum Dis 2019;78(9):1151–9 and Arthritis Rheumatol 2019;71(9):1400–12.

Every threshold is compared in exact decimal arithmetic. Decisions taken where sources disagree are
explicit options with the published default; they are listed in ``docs/instruments.md``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar, Literal, get_args

from pydantic import Field, field_validator, model_validator

from immunoreset.errors import InvalidInput, Problem
from immunoreset.instruments.base import (
    Exact,
    Instrument,
    InstrumentInput,
    InstrumentOptions,
    InstrumentResult,
    all_of,
    parse,
)

__all__ = [
    "DESCRIPTORS",
    "DORISInput",
    "DORISOptions",
    "DORISResult",
    "LLDASInput",
    "LLDASOptions",
    "LLDASResult",
    "SLEClassificationInput",
    "SLEClassificationOptions",
    "SLEClassificationResult",
    "SLEDAI2KInput",
    "SLEDAI2KOptions",
    "SLEDAI2KResult",
    "SRI4Input",
    "SRI4Options",
    "SRI4Result",
    "doris_remission",
    "lldas",
    "sle_classification_2019",
    "sledai2k",
    "sri4",
]

# ---------------------------------------------------------------------------------------------
# SLEDAI-2K descriptors
# ---------------------------------------------------------------------------------------------

SLEDAI2K_SOURCE = "Gladman DD, Ibañez D, Urowitz MB. J Rheumatol 2002;29(2):288-91"
DORIS_SOURCE = "van Vollenhoven RF et al. Lupus Sci Med 2021;8:e000538 (DORIS 2021)"
LLDAS_SOURCE = "Franklyn K et al. Ann Rheum Dis 2016;75(9):1615-21"
SRI4_SOURCE = "Furie RA et al. Arthritis Rheum 2009;61(9):1143-51"
CLASSIFICATION_SOURCE = "Aringer M et al. Ann Rheum Dis 2019;78(9):1151-9; Arthritis Rheumatol 2019;71(9):1400-12"

DescriptorName = Literal[
    "seizure",
    "psychosis",
    "organic_brain_syndrome",
    "visual_disturbance",
    "cranial_nerve_disorder",
    "lupus_headache",
    "cva",
    "vasculitis",
    "arthritis",
    "myositis",
    "urinary_casts",
    "hematuria",
    "proteinuria",
    "pyuria",
    "rash",
    "alopecia",
    "mucosal_ulcers",
    "pleurisy",
    "pericarditis",
    "low_complement",
    "increased_dna_binding",
    "fever",
    "thrombocytopenia",
    "leukopenia",
]

MajorOrgan = Literal["cns", "vasculitis", "renal", "cardiopulmonary", "fever"]


@dataclass(frozen=True)
class Descriptor:
    """One SLEDAI-2K descriptor: its weight and how the other instruments group it."""

    name: str
    weight: int
    label: str
    serological: bool = False
    major_organ: MajorOrgan | None = None
    exclusion_clause: bool = False
    """The glossary excludes other causes (infection, drugs, stones): a value derived from a
    measurement needs the clinician's attribution before it is scored."""


DESCRIPTORS: tuple[Descriptor, ...] = (
    Descriptor("seizure", 8, "Seizure", major_organ="cns"),
    Descriptor("psychosis", 8, "Psychosis", major_organ="cns"),
    Descriptor("organic_brain_syndrome", 8, "Organic brain syndrome", major_organ="cns"),
    Descriptor("visual_disturbance", 8, "Visual disturbance", major_organ="cns"),
    Descriptor("cranial_nerve_disorder", 8, "Cranial nerve disorder", major_organ="cns"),
    Descriptor("lupus_headache", 8, "Lupus headache", major_organ="cns"),
    Descriptor("cva", 8, "Cerebrovascular accident", major_organ="cns"),
    Descriptor("vasculitis", 8, "Vasculitis", major_organ="vasculitis"),
    Descriptor("arthritis", 4, "Arthritis"),
    Descriptor("myositis", 4, "Myositis"),
    Descriptor("urinary_casts", 4, "Urinary casts", major_organ="renal"),
    Descriptor("hematuria", 4, "Haematuria", major_organ="renal", exclusion_clause=True),
    Descriptor("proteinuria", 4, "Proteinuria", major_organ="renal"),
    Descriptor("pyuria", 4, "Pyuria", major_organ="renal", exclusion_clause=True),
    Descriptor("rash", 2, "Rash"),
    Descriptor("alopecia", 2, "Alopecia"),
    Descriptor("mucosal_ulcers", 2, "Mucosal ulcers"),
    Descriptor("pleurisy", 2, "Pleurisy", major_organ="cardiopulmonary"),
    Descriptor("pericarditis", 2, "Pericarditis", major_organ="cardiopulmonary"),
    Descriptor("low_complement", 2, "Low complement", serological=True),
    Descriptor("increased_dna_binding", 2, "Increased DNA binding", serological=True),
    Descriptor("fever", 1, "Fever", major_organ="fever", exclusion_clause=True),
    Descriptor("thrombocytopenia", 1, "Thrombocytopenia", exclusion_clause=True),
    Descriptor("leukopenia", 1, "Leukopenia", exclusion_clause=True),
)
_BY_NAME = {d.name: d for d in DESCRIPTORS}
assert tuple(_BY_NAME) == get_args(DescriptorName)
assert sum(d.weight for d in DESCRIPTORS) == 105

# Published thresholds (SLEDAI-2K glossary, Gladman 2002). Operators are in the comparisons below.
HEMATURIA_RBC_PER_HPF = Decimal(5)  # haematuria: > 5 RBC/hpf
PYURIA_WBC_PER_HPF = Decimal(5)  # pyuria: > 5 WBC/hpf
PROTEINURIA_G_PER_24H = Decimal("0.5")  # proteinuria: > 0.5 g/24 h
FEVER_CELSIUS = Decimal(38)  # fever: > 38 °C
THROMBOCYTOPENIA_10E9_PER_L = Decimal(100)  # thrombocytopenia: < 100 x 10^9/L
LEUKOPENIA_10E9_PER_L = Decimal(3)  # leukopenia: < 3 x 10^9/L


def _flag(description: str) -> Any:
    return Field(default=None, description=description)


UNIT_PLAUSIBILITY: dict[str, tuple[Decimal, str]] = {
    "leukocytes_10e9_per_l": (Decimal(200), "white cells in 10^9/L: a count per µL is divided by 1000 (800/µL = 0.8)"),
    "platelets_10e9_per_l": (Decimal(2000), "platelets in 10^9/L: a count per µL is divided by 1000 (150000/µL = 150)"),
    "upcr_g_per_g": (
        Decimal(25),
        "a protein/creatinine ratio in g/g: mg/mmol is divided by 113.12 (30 mg/mmol = 0.27)",
    ),
}
"""Inputs whose unit is in their name, with the largest plausible value (an assumption: beyond the counts and
ratios seen in SLE, hyperleukocytosis included) and the unit mistake a larger value betrays."""


def _plausible(value: Decimal | None, info: Any) -> Decimal | None:
    limit, meaning = UNIT_PLAUSIBILITY[info.field_name]
    if value is not None and value > limit:
        raise ValueError(f"at most {limit}, {meaning}")
    return value


class SLEDAI2KInput(InstrumentInput):
    """One SLEDAI-2K assessment (features present at the visit or within the scoring window).

    Give each descriptor as ``true``/``false`` (attributed to SLE by the assessing clinician), or give
    the measurement for the laboratory and vital-sign descriptors and let the published threshold
    decide. A descriptor given both ways must agree. A descriptor neither given nor derivable makes the
    assessment not evaluable (never assumed absent).
    """

    seizure: bool | None = _flag("Recent-onset seizure; metabolic, infectious and drug causes excluded (8).")
    psychosis: bool | None = _flag(
        "Psychosis: severe disturbance in the perception of reality; uraemia/drugs excluded (8)."
    )
    organic_brain_syndrome: bool | None = _flag(
        "Organic brain syndrome: acute fluctuating impairment of orientation, memory or intellect (8)."
    )
    visual_disturbance: bool | None = _flag("Lupus retinal changes or optic neuritis (8).")
    cranial_nerve_disorder: bool | None = _flag("New-onset sensory or motor neuropathy of a cranial nerve (8).")
    lupus_headache: bool | None = _flag("Severe persistent headache unresponsive to narcotic analgesia (8).")
    cva: bool | None = _flag("New cerebrovascular accident; atherosclerosis excluded (8).")
    vasculitis: bool | None = _flag(
        "Ulceration, gangrene, tender finger nodules, periungual infarction, splinter haemorrhages, "
        "or biopsy/angiogram-proven vasculitis (8)."
    )
    arthritis: bool | None = _flag("Arthritis: >= 2 joints with pain and signs of inflammation (4).")
    myositis: bool | None = _flag("Proximal muscle aching/weakness with raised CK/aldolase, EMG or biopsy (4).")
    urinary_casts: bool | None = _flag("Heme-granular or red-blood-cell casts (4).")
    hematuria: bool | None = _flag("Haematuria > 5 RBC/hpf; stone, infection or other cause excluded (4).")
    proteinuria: bool | None = _flag("Proteinuria > 0.5 g/24 h (4).")
    pyuria: bool | None = _flag("Pyuria > 5 WBC/hpf; infection excluded (4).")
    rash: bool | None = _flag("Inflammatory lupus rash, new or ongoing (2).")
    alopecia: bool | None = _flag("Abnormal patchy or diffuse hair loss, new or ongoing (2).")
    mucosal_ulcers: bool | None = _flag("Oral or nasal ulceration, new or ongoing (2).")
    pleurisy: bool | None = _flag("Pleuritic chest pain with rub, effusion or pleural thickening (2).")
    pericarditis: bool | None = _flag("Pericardial pain with rub, effusion, or ECG/echo confirmation (2).")
    low_complement: bool | None = _flag("CH50, C3 or C4 below the testing laboratory's lower limit of normal (2).")
    increased_dna_binding: bool | None = _flag("Anti-dsDNA above the testing laboratory's normal range (2).")
    fever: bool | None = _flag("Temperature > 38 °C; infection excluded (1).")
    thrombocytopenia: bool | None = _flag("Platelets < 100 x 10^9/L; drug causes excluded (1).")
    leukopenia: bool | None = _flag("White cells < 3 x 10^9/L; drug causes excluded (1).")

    arthritis_joint_count: int | None = Field(
        default=None, ge=0, le=100, description="Joints with pain and signs of inflammation (count)."
    )
    urine_rbc_per_hpf: Exact | None = Field(default=None, ge=0, le=10000, description="Urine red cells /hpf.")
    urine_wbc_per_hpf: Exact | None = Field(default=None, ge=0, le=10000, description="Urine white cells /hpf.")
    proteinuria_g_per_24h: Exact | None = Field(default=None, ge=0, le=100, description="24-h urine protein, g/24 h.")
    upcr_g_per_g: Exact | None = Field(
        default=None,
        ge=0,
        description="Spot urine protein/creatinine ratio, g/g (surrogate for g/24 h; recorded as such); at most "
        f"{UNIT_PLAUSIBILITY['upcr_g_per_g'][0]} (a larger value is taken for mg/mmol and refused).",
    )
    temperature_celsius: Exact | None = Field(default=None, ge=25, le=45, description="Body temperature, °C.")
    platelets_10e9_per_l: Exact | None = Field(
        default=None,
        ge=0,
        description=f"Platelets, 10^9/L; at most {UNIT_PLAUSIBILITY['platelets_10e9_per_l'][0]} (a count per µL "
        "is refused).",
    )
    leukocytes_10e9_per_l: Exact | None = Field(
        default=None,
        ge=0,
        description=f"White cells, 10^9/L; at most {UNIT_PLAUSIBILITY['leukocytes_10e9_per_l'][0]} (a count per µL "
        "is refused).",
    )
    c3: Exact | None = Field(default=None, ge=0, description="C3 (same unit as c3_lln).")
    c3_lln: Exact | None = Field(default=None, gt=0, description="Laboratory lower limit of normal for C3.")
    c4: Exact | None = Field(default=None, ge=0, description="C4 (same unit as c4_lln).")
    c4_lln: Exact | None = Field(default=None, gt=0, description="Laboratory lower limit of normal for C4.")
    ch50: Exact | None = Field(default=None, ge=0, description="CH50 (same unit as ch50_lln).")
    ch50_lln: Exact | None = Field(default=None, gt=0, description="Laboratory lower limit of normal for CH50.")
    anti_dsdna: Exact | None = Field(default=None, ge=0, description="Anti-dsDNA (same unit as anti_dsdna_uln).")
    anti_dsdna_uln: Exact | None = Field(
        default=None, gt=0, description="Laboratory upper limit of normal, anti-dsDNA."
    )
    other_cause: list[DescriptorName] = Field(
        default_factory=list,
        description="Descriptors whose finding is present but explained by something other than active SLE "
        "(infection, drug, stone, damage); they are not scored.",
    )

    _units = field_validator(*UNIT_PLAUSIBILITY, mode="after")(_plausible)

    @model_validator(mode="after")
    def _paired_limits(self) -> SLEDAI2KInput:
        problems: list[Problem] = []
        for value, limit in (
            ("c3", "c3_lln"),
            ("c4", "c4_lln"),
            ("ch50", "ch50_lln"),
            ("anti_dsdna", "anti_dsdna_uln"),
        ):
            if (getattr(self, value) is None) != (getattr(self, limit) is None):
                given, needed = (value, limit) if getattr(self, value) is not None else (limit, value)
                problems.append(
                    Problem(needed, InvalidInput.MISSING, f"a value, because {given} was given (both or neither)")
                )
        if problems:
            raise InvalidInput(problems=problems)
        return self


ActivityScheme = Literal["four_band", "five_band"]


class SLEDAI2KOptions(InstrumentOptions):
    """Options of :func:`sledai2k`; defaults follow SLEDAI-2K as published."""

    arthritis_joints: Literal["at_least_2", "more_than_2"] = Field(
        default="at_least_2",
        description="Joint count for arthritis: SLEDAI-2K '>= 2 joints' (default) or original SLEDAI '> 2 joints'.",
    )
    activity_scheme: ActivityScheme = Field(
        default="four_band",
        description="Activity category: four_band (0 none, 1-4 low, 5-10 moderate, >10 high) or "
        "five_band (0 none, 1-5 mild, 6-10 moderate, 11-19 high, >=20 very high).",
    )
    unattributed_findings: Literal["not_evaluable", "attribute_to_sle"] = Field(
        default="not_evaluable",
        description="A measurement beyond the threshold of a descriptor whose definition excludes other causes "
        "(haematuria, pyuria, fever, thrombocytopenia, leukopenia) with no clinician attribution: "
        "not_evaluable (default) or attribute_to_sle.",
    )
    scoring_window_days: Literal[10, 28, 30] = Field(
        default=10,
        description="Scoring window the assessment used (recorded in the result): 10 days (SLEDAI-2K), "
        "30 days (Touma 2010 variant) or 28 days.",
    )


class SLEDAI2KResult(InstrumentResult):
    """SLEDAI-2K result. ``descriptors`` holds each descriptor as scored (true = counted)."""

    TABLE_FIELDS: ClassVar[tuple[str, ...]] = ("contributing", "excluded_other_cause")

    total: int | None = Field(description="SLEDAI-2K, 0-105.")
    clinical_sledai: int | None = Field(description="SLEDAI-2K without low complement and DNA binding, 0-101.")
    activity_category: str | None
    activity_scheme: ActivityScheme
    contributing: list[str] = Field(description="Descriptors counted, in glossary order.")
    descriptors: dict[str, bool | None]
    derived_from_measurements: list[str] = Field(description="Descriptors decided by a measurement and threshold.")
    excluded_other_cause: list[str] = Field(description="Findings present but attributed to another cause.")
    not_recorded: list[str] = Field(description="Descriptors that could not be decided.")
    proteinuria_measure: Literal["24h_urine", "upcr"] | None
    scoring_window_days: int

    def headline(self) -> str:
        if self.total is None:
            return "not evaluable"
        return f"{self.total} (clinical {self.clinical_sledai}; {self.activity_category})"


@dataclass
class _SledaiAssessment:
    scored: dict[str, bool | None]
    derived: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    proteinuria_measure: Literal["24h_urine", "upcr"] | None = None

    def points(self, *, clinical: bool = False) -> tuple[int, bool]:
        """Points of descriptors known present, and whether every counted descriptor is known."""
        names = [d for d in DESCRIPTORS if not (clinical and d.serological)]
        known = sum(d.weight for d in names if self.scored[d.name] is True)
        complete = all(self.scored[d.name] is not None for d in names)
        return known, complete

    def total(self, *, clinical: bool = False) -> int | None:
        known, complete = self.points(clinical=clinical)
        return known if complete else None

    @property
    def unknown(self) -> list[str]:
        return [name for name, value in self.scored.items() if value is None]


def _measured(inputs: SLEDAI2KInput, options: SLEDAI2KOptions) -> dict[str, tuple[bool | None, str]]:
    """Descriptor values implied by measurements, with a human-readable account of each."""
    out: dict[str, tuple[bool | None, str]] = {}
    if inputs.arthritis_joint_count is not None:
        n = inputs.arthritis_joint_count
        present = n >= 2 if options.arthritis_joints == "at_least_2" else n > 2
        rule = ">= 2" if options.arthritis_joints == "at_least_2" else "> 2"
        out["arthritis"] = (present, f"arthritis_joint_count={n} (arthritis when {rule} joints)")
    if inputs.urine_rbc_per_hpf is not None:
        v = inputs.urine_rbc_per_hpf
        out["hematuria"] = (v > HEMATURIA_RBC_PER_HPF, f"urine_rbc_per_hpf={v} (haematuria when > 5 /hpf)")
    if inputs.urine_wbc_per_hpf is not None:
        v = inputs.urine_wbc_per_hpf
        out["pyuria"] = (v > PYURIA_WBC_PER_HPF, f"urine_wbc_per_hpf={v} (pyuria when > 5 /hpf)")
    daily, ratio = inputs.proteinuria_g_per_24h, inputs.upcr_g_per_g
    if daily is not None and ratio is not None and (daily > PROTEINURIA_G_PER_24H) != (ratio > PROTEINURIA_G_PER_24H):
        raise InvalidInput(
            "upcr_g_per_g",
            ratio,
            f"agreement with proteinuria_g_per_24h={daily} about the 0.5 threshold (the 24-h urine is the "
            "defined measure; give one or make them agree)",
        )
    if daily is not None:
        out["proteinuria"] = (daily > PROTEINURIA_G_PER_24H, f"proteinuria_g_per_24h={daily} (> 0.5 g/24 h)")
    elif ratio is not None:
        out["proteinuria"] = (ratio > PROTEINURIA_G_PER_24H, f"upcr_g_per_g={ratio} (> 0.5 g/g surrogate)")
    if inputs.temperature_celsius is not None:
        v = inputs.temperature_celsius
        out["fever"] = (v > FEVER_CELSIUS, f"temperature_celsius={v} (fever when > 38 °C)")
    if inputs.platelets_10e9_per_l is not None:
        v = inputs.platelets_10e9_per_l
        out["thrombocytopenia"] = (
            v < THROMBOCYTOPENIA_10E9_PER_L,
            f"platelets_10e9_per_l={v} (thrombocytopenia when < 100 x 10^9/L)",
        )
    if inputs.leukocytes_10e9_per_l is not None:
        v = inputs.leukocytes_10e9_per_l
        out["leukopenia"] = (v < LEUKOPENIA_10E9_PER_L, f"leukocytes_10e9_per_l={v} (leukopenia when < 3 x 10^9/L)")
    components = [
        (name, getattr(inputs, name), getattr(inputs, f"{name}_lln"))
        for name in ("c3", "c4", "ch50")
        if getattr(inputs, name) is not None
    ]
    if components:
        low = [name for name, value, lln in components if value < lln]
        measured = {name for name, _, _ in components}
        account = ", ".join(f"{n}={v} (LLN {lln})" for n, v, lln in components)
        if low:
            out["low_complement"] = (True, f"{account}: below LLN")
        elif {"c3", "c4"} <= measured:
            out["low_complement"] = (False, f"{account}: not below LLN")
        else:
            missing = " and ".join(sorted({"c3", "c4"} - measured))
            out["low_complement"] = (None, f"{account} normal but {missing} not measured")
    if inputs.anti_dsdna is not None and inputs.anti_dsdna_uln is not None:
        v, uln = inputs.anti_dsdna, inputs.anti_dsdna_uln
        out["increased_dna_binding"] = (v > uln, f"anti_dsdna={v} (increased when > ULN {uln})")
    return out


def _assess_sledai(inputs: SLEDAI2KInput, options: SLEDAI2KOptions) -> _SledaiAssessment:
    measured = _measured(inputs, options)
    other = set(inputs.other_cause)
    result = _SledaiAssessment(scored={})
    problems: list[Problem] = []
    for d in DESCRIPTORS:
        given: bool | None = getattr(inputs, d.name)
        derived, account = measured.get(d.name, (None, ""))
        if given is True and d.name in other:
            problems.append(
                Problem(d.name, True, "not true while it is listed in other_cause (scored means attributed to SLE)")
            )
            continue
        conflict = given is not None and derived is not None and given != derived
        if conflict and not (given is False and derived is True and d.name in other):
            hint = "; if the finding has another cause, list it in other_cause" if derived else ""
            problems.append(Problem(d.name, given, f"agreement with the measurement: {account}{hint}"))
            continue
        if d.name in other:
            result.excluded.append(d.name)
            result.scored[d.name] = False
            if given is None and derived is not None:
                result.derived.append(d.name)
            continue
        present = given if given is not None else derived
        if present is None:
            result.scored[d.name] = None
            if account:
                result.reasons.append(f"{d.name}: {account}")
            continue
        if given is None:
            result.derived.append(d.name)
        if present and given is None and d.exclusion_clause and options.unattributed_findings == "not_evaluable":
            result.scored[d.name] = None
            result.reasons.append(
                f"{d.name}: {account} — not attributed; set {d.name}=true if due to SLE or list it in other_cause"
            )
            continue
        result.scored[d.name] = present
    if problems:
        raise InvalidInput(problems=problems)
    if "proteinuria" in result.derived:
        result.proteinuria_measure = "24h_urine" if inputs.proteinuria_g_per_24h is not None else "upcr"
    return result


def activity_category(total: int, scheme: ActivityScheme = "four_band") -> str:
    """SLEDAI-2K activity category under the named scheme.

    * ``four_band`` — 0 no activity; 1-4 low; 5-10 moderate; > 10 high (table of indices in
      Ann Rheum Dis; Malaysian CPG SLE 2024).
    * ``five_band`` — 0 none; 1-5 mild; 6-10 moderate; 11-19 high; >= 20 very high.
    """
    if not 0 <= total <= 105:
        raise InvalidInput("total", total, "a SLEDAI-2K total from 0 to 105")
    if scheme == "four_band":
        if total == 0:
            return "no activity"
        if total <= 4:
            return "low"
        if total <= 10:
            return "moderate"
        return "high"
    if total == 0:
        return "no activity"
    if total <= 5:
        return "mild"
    if total <= 10:
        return "moderate"
    if total <= 19:
        return "high"
    return "very high"


def sledai2k(
    inputs: SLEDAI2KInput | Mapping[str, Any], *, options: SLEDAI2KOptions | Mapping[str, Any] | None = None
) -> SLEDAI2KResult:
    """SLEDAI-2K and clinical SLEDAI.

    Source: Gladman DD, Ibañez D, Urowitz MB. *Systemic lupus erythematosus disease activity index
    2000.* J Rheumatol 2002;29(2):288–91. 24 descriptors, weights 8 (x8), 4 (x6), 2 (x7), 1 (x3);
    total = sum of the weights of descriptors present and attributed to SLE, range 0–105. Clinical
    SLEDAI omits low complement and increased DNA binding (range 0–101; DORIS 2021).

    Thresholds when a measurement is given: arthritis ``>= 2`` joints (option ``more_than_2`` for the
    original SLEDAI's "> 2"); haematuria ``> 5`` RBC/hpf; pyuria ``> 5`` WBC/hpf; proteinuria
    ``> 0.5`` g/24 h (or UPCR ``> 0.5`` g/g as a recorded surrogate); fever ``> 38`` °C; thrombocytopenia
    platelets ``< 100`` x 10^9/L; leukopenia ``< 3`` x 10^9/L; low complement when any of CH50, C3, C4
    ``<`` its lab LLN; increased DNA binding when anti-dsDNA ``>`` lab ULN.
    """
    inputs = parse(SLEDAI2KInput, inputs)
    options = parse(SLEDAI2KOptions, options)
    assessment = _assess_sledai(inputs, options)
    total = assessment.total()
    clinical = assessment.total(clinical=True)
    unknown = assessment.unknown
    reason = None
    if unknown:
        details = [r for r in assessment.reasons]
        plain = [n for n in unknown if not any(r.startswith(f"{n}:") for r in details)]
        parts = ([f"not recorded: {', '.join(plain)}"] if plain else []) + details
        reason = "; ".join(parts)
    return SLEDAI2KResult(
        instrument="sledai2k",
        variant=f"SLEDAI-2K (arthritis {options.arthritis_joints.replace('_', ' ')} joints, "
        f"{options.scoring_window_days}-day window)",
        source=SLEDAI2K_SOURCE,
        evaluable=total is not None,
        reason=reason,
        total=total,
        clinical_sledai=clinical,
        activity_category=activity_category(total, options.activity_scheme) if total is not None else None,
        activity_scheme=options.activity_scheme,
        contributing=[d.name for d in DESCRIPTORS if assessment.scored[d.name] is True],
        descriptors=assessment.scored,
        derived_from_measurements=assessment.derived,
        excluded_other_cause=assessment.excluded,
        not_recorded=unknown,
        proteinuria_measure=assessment.proteinuria_measure,
        scoring_window_days=options.scoring_window_days,
    )


# ---------------------------------------------------------------------------------------------
# Shared visit-level inputs
# ---------------------------------------------------------------------------------------------

PGA = Field(default=None, ge=0, le=3, description="Physician (evaluator) global assessment, SELENA 0-3 scale.")
PREDNISOLONE = Field(
    default=None,
    ge=0,
    le=2000,
    description="Current prednisolone-equivalent glucocorticoid dose, mg/day (0 when none).",
)


def _missing_reason(names: list[str]) -> str | None:
    return f"not recorded: {', '.join(names)}" if names else None


# ---------------------------------------------------------------------------------------------
# DORIS 2021
# ---------------------------------------------------------------------------------------------

DORIS_GLUCOCORTICOID_MG = Decimal(5)
DORIS_PGA = Decimal("0.5")


class DORISInput(InstrumentInput):
    """Inputs for DORIS 2021 remission at one visit.

    Give the SLEDAI-2K assessment (``sledai2k``) or, when only the clinical SLEDAI is known,
    ``clinical_sledai`` (and optionally the two serology flags).
    """

    sledai2k: SLEDAI2KInput | None = Field(default=None, description="The visit's SLEDAI-2K assessment.")
    clinical_sledai: int | None = Field(
        default=None, ge=0, le=101, description="Clinical SLEDAI, if sledai2k is not given."
    )
    low_complement: bool | None = Field(default=None, description="Low C3/C4/CH50 (only with clinical_sledai).")
    increased_dna_binding: bool | None = Field(
        default=None, description="Raised anti-dsDNA (only with clinical_sledai)."
    )
    pga: Exact | None = PGA
    prednisolone_mg_per_day: Exact | None = PREDNISOLONE
    antimalarial: bool | None = Field(
        default=None, description="Currently on an antimalarial (e.g. hydroxychloroquine)."
    )
    immunosuppressant: bool | None = Field(default=None, description="Currently on a conventional immunosuppressant.")
    biologic: bool | None = Field(default=None, description="Currently on a biologic (e.g. belimumab, anifrolumab).")
    stable_doses: bool | None = Field(
        default=None,
        description="Immunosuppressants and biologics, if any, are at stable doses (clinician judgement; DORIS "
        "gives no operational definition). Not needed when neither is taken; antimalarials need no stability.",
    )

    @model_validator(mode="after")
    def _one_sledai(self) -> DORISInput:
        if self.sledai2k is not None and self.clinical_sledai is not None:
            raise InvalidInput("clinical_sledai", self.clinical_sledai, "nothing when sledai2k is given (give one)")
        if self.sledai2k is not None:
            for name in ("low_complement", "increased_dna_binding"):
                if getattr(self, name) is not None:
                    raise InvalidInput(
                        name, getattr(self, name), "nothing when sledai2k is given (it is read from there)"
                    )
        return self


class DORISOptions(InstrumentOptions):
    """Options of :func:`doris_remission`."""

    glucocorticoid_operator: Literal["le", "lt"] = Field(
        default="le",
        description="Prednisolone limit: 'le' = <= 5 mg/day (DORIS 2021 abstract, default) or 'lt' = < 5 mg/day "
        "(Table 2 text as printed).",
    )
    pga_operator: Literal["lt", "le"] = Field(
        default="lt",
        description="PGA limit: 'lt' = < 0.5 (DORIS, default) or 'le' = <= 0.5 (variant seen in later papers).",
    )
    sledai: SLEDAI2KOptions = Field(default_factory=SLEDAI2KOptions, description="Options for the nested SLEDAI-2K.")


class DORISResult(InstrumentResult):
    """DORIS 2021 remission and the 2017 framework flags."""

    TABLE_FIELDS: ClassVar[tuple[str, ...]] = ("criteria", "off_therapy", "drug_free")

    remission: bool | None = Field(description="DORIS 2021 remission (on or off therapy).")
    criteria: dict[str, bool | None]
    clinical_sledai: int | None
    off_therapy: bool | None = Field(
        description="2017 framework therapy condition: no glucocorticoid, immunosuppressant or biologic "
        "(antimalarials allowed)."
    )
    remission_off_therapy: bool | None = Field(description="remission and off_therapy.")
    serologically_quiescent: bool | None = Field(description="Neither low complement nor raised anti-dsDNA.")
    drug_free: bool | None = Field(
        description="No SLE drug at all: no glucocorticoid, antimalarial, immunosuppressant or biologic."
    )

    def headline(self) -> str:
        if self.remission is None:
            return "not evaluable"
        if self.remission:
            return "remission, drug-free" if self.drug_free else "remission"
        return "no remission"


def _clinical_sledai_zero(assessment: _SledaiAssessment) -> tuple[bool | None, int | None]:
    known, complete = assessment.points(clinical=True)
    if known > 0:
        return False, known if complete else None
    return (True, 0) if complete else (None, None)


def doris_remission(
    inputs: DORISInput | Mapping[str, Any], *, options: DORISOptions | Mapping[str, Any] | None = None
) -> DORISResult:
    """DORIS 2021 definition of remission in SLE.

    Source: van Vollenhoven RF et al. *2021 DORIS definition of remission in SLE: final
    recommendations from an international task force.* Lupus Sci Med 2021;8:e000538.

    Remission when all hold (serology ignored):

    1. clinical SLEDAI ``= 0``;
    2. PGA ``< 0.5`` (0–3 scale; option ``pga_operator='le'`` for ``<= 0.5``);
    3. prednisolone-equivalent ``<= 5`` mg/day (option ``glucocorticoid_operator='lt'`` for ``< 5``);
    4. immunosuppressants and biologics only at stable doses (antimalarials are allowed whatever their
       dose history: the 2021 definition asks stability of immunosuppressives including biologics).

    Also reported (van Vollenhoven R et al., Ann Rheum Dis 2017;76:554–61): ``off_therapy`` (no
    glucocorticoid, immunosuppressant or biologic; antimalarials allowed), ``serologically_quiescent``
    (neither low complement nor raised anti-dsDNA) and ``drug_free`` (no SLE drug at all).
    A criterion that fails decides "no remission" even when other data are missing.
    """
    inputs = parse(DORISInput, inputs)
    options = parse(DORISOptions, options)
    clinical: int | None
    if inputs.sledai2k is not None:
        assessment = _assess_sledai(inputs.sledai2k, options.sledai)
        cs_zero, clinical = _clinical_sledai_zero(assessment)
        low_c = assessment.scored["low_complement"]
        dna = assessment.scored["increased_dna_binding"]
    else:
        clinical = inputs.clinical_sledai
        cs_zero = None if clinical is None else clinical == 0
        low_c, dna = inputs.low_complement, inputs.increased_dna_binding

    pga = inputs.pga
    if pga is None:
        pga_ok = None
    else:
        pga_ok = pga < DORIS_PGA if options.pga_operator == "lt" else pga <= DORIS_PGA
    dose = inputs.prednisolone_mg_per_day
    if dose is None:
        gc_ok = None
    else:
        gc_ok = (
            dose <= DORIS_GLUCOCORTICOID_MG
            if options.glucocorticoid_operator == "le"
            else dose < DORIS_GLUCOCORTICOID_MG
        )
    # DORIS 2021: "antimalarials, low-dose glucocorticoids and/or stable immunosuppressives including
    # biologics" -- stability is asked of immunosuppressants and biologics only; antimalarials are allowed
    other_drugs = [inputs.immunosuppressant, inputs.biologic]
    if any(d is True for d in other_drugs):
        stable = inputs.stable_doses
    elif all(d is False for d in other_drugs):
        stable = True  # nothing to be stable
    else:
        stable = inputs.stable_doses if inputs.stable_doses is not None else None

    gc_label = "prednisolone_at_most_5" if options.glucocorticoid_operator == "le" else "prednisolone_below_5"
    pga_label = "pga_below_0_5" if options.pga_operator == "lt" else "pga_at_most_0_5"
    criteria = {
        "clinical_sledai_zero": cs_zero,
        pga_label: pga_ok,
        gc_label: gc_ok,
        "other_drugs_stable": stable,
    }
    remission = all_of(criteria.values())
    no_gc = None if dose is None else dose == 0
    off_therapy = all_of([no_gc, _negate(inputs.immunosuppressant), _negate(inputs.biologic)])
    drug_free = all_of([off_therapy, _negate(inputs.antimalarial)])
    quiescent = all_of([_negate(low_c), _negate(dna)])
    missing = [name for name, value in criteria.items() if value is None]
    return DORISResult(
        instrument="doris",
        variant=f"DORIS 2021 (prednisolone {'<=' if options.glucocorticoid_operator == 'le' else '<'} 5 mg/day, "
        f"PGA {'<' if options.pga_operator == 'lt' else '<='} 0.5)",
        source=DORIS_SOURCE,
        evaluable=remission is not None,
        reason=None if remission is not None else _missing_reason(missing),
        remission=remission,
        criteria=criteria,
        clinical_sledai=clinical,
        off_therapy=off_therapy,
        remission_off_therapy=all_of([remission, off_therapy]),
        serologically_quiescent=quiescent,
        drug_free=drug_free,
    )


def _negate(value: bool | None) -> bool | None:
    return None if value is None else not value


# ---------------------------------------------------------------------------------------------
# LLDAS
# ---------------------------------------------------------------------------------------------

LLDAS_SLEDAI_MAX = 4
LLDAS_PGA_MAX = Decimal(1)
LLDAS_GLUCOCORTICOID_MG = Decimal("7.5")


class LLDASInput(InstrumentInput):
    """Inputs for LLDAS at one visit; ``previous_sledai2k`` is the preceding assessment."""

    sledai2k: SLEDAI2KInput | None = Field(default=None, description="The visit's SLEDAI-2K assessment.")
    previous_sledai2k: SLEDAI2KInput | None = Field(
        default=None, description="The previous assessment's SLEDAI-2K, to judge new activity (criterion 2)."
    )
    hemolytic_anemia: bool | None = Field(default=None, description="Active haemolytic anaemia (not a SLEDAI-2K item).")
    gastrointestinal_activity: bool | None = Field(default=None, description="Active gastrointestinal lupus.")
    pga: Exact | None = PGA
    prednisolone_mg_per_day: Exact | None = PREDNISOLONE
    maintenance_therapy_acceptable: bool | None = Field(
        default=None,
        description="Immunosuppressants and approved biologics, if any, are well tolerated at standard maintenance "
        "doses, and no investigational drug is given (true also when none is taken).",
    )


class LLDASOptions(InstrumentOptions):
    """Options of :func:`lldas`."""

    sledai: SLEDAI2KOptions = Field(
        default_factory=SLEDAI2KOptions, description="Options for the SLEDAI-2K assessments."
    )


class LLDASResult(InstrumentResult):
    """LLDAS and its five criteria."""

    TABLE_FIELDS: ClassVar[tuple[str, ...]] = ("criteria", "new_activity")

    lldas: bool | None
    criteria: dict[str, bool | None]
    sledai2k: int | None
    major_organ_activity: list[str]
    new_activity: list[str] = Field(description="Descriptors present now and absent at the previous assessment.")

    def headline(self) -> str:
        if self.lldas is None:
            return "not evaluable"
        return "LLDAS" if self.lldas else "not in LLDAS"


def lldas(
    inputs: LLDASInput | Mapping[str, Any], *, options: LLDASOptions | Mapping[str, Any] | None = None
) -> LLDASResult:
    """Lupus Low Disease Activity State.

    Source: Franklyn K, Lau CS, Navarra SV, et al. *Definition and initial validation of a Lupus Low
    Disease Activity State (LLDAS).* Ann Rheum Dis 2016;75(9):1615–21. All five must hold:

    1. SLEDAI-2K ``<= 4`` (serology included), with no activity in major organ systems (renal:
       casts, haematuria, proteinuria, pyuria; CNS: descriptors 1–7; cardiopulmonary: pleurisy,
       pericarditis; vasculitis; fever) and no haemolytic anaemia or gastrointestinal activity;
    2. no new features of lupus activity compared with the previous assessment (a SLEDAI-2K
       descriptor present now and absent then) — not evaluable without a previous assessment;
    3. PGA ``<= 1`` (0–3);
    4. prednisolone-equivalent ``<= 7.5`` mg/day;
    5. well-tolerated standard maintenance immunosuppressants/approved biologics, no investigational drug.
    """
    inputs = parse(LLDASInput, inputs)
    options = parse(LLDASOptions, options)
    reasons: list[str] = []
    total: int | None = None
    major: list[str] = []
    new: list[str] = []
    if inputs.sledai2k is None:
        item1: bool | None = None
        item2: bool | None = None
        reasons.append("sledai2k not recorded")
    else:
        now = _assess_sledai(inputs.sledai2k, options.sledai)
        total = now.total()
        known, _ = now.points()
        major = [d.name for d in DESCRIPTORS if d.major_organ and now.scored[d.name] is True]
        unknown_major = [d.name for d in DESCRIPTORS if d.major_organ and now.scored[d.name] is None]
        total_ok: bool | None = False if known > LLDAS_SLEDAI_MAX else (True if total is not None else None)
        major_ok: bool | None = False if major else (None if unknown_major else True)
        item1 = all_of(
            [total_ok, major_ok, _negate(inputs.hemolytic_anemia), _negate(inputs.gastrointestinal_activity)]
        )
        if now.unknown:
            reasons.append(f"current SLEDAI-2K incomplete ({', '.join(now.unknown)})")
        if inputs.previous_sledai2k is None:
            item2 = None
            reasons.append("no previous assessment to judge new activity")
        else:
            before = _assess_sledai(inputs.previous_sledai2k, options.sledai)
            new = [n for n, v in now.scored.items() if v is True and before.scored[n] is False]
            undecided = [
                n
                for n, v in now.scored.items()
                if (v is True and before.scored[n] is None) or (v is None and before.scored[n] is not True)
            ]
            item2 = False if new else (None if undecided else True)
            if undecided and not new:
                reasons.append(f"new activity undecided for {', '.join(undecided)}")
    pga_ok = None if inputs.pga is None else inputs.pga <= LLDAS_PGA_MAX
    dose = inputs.prednisolone_mg_per_day
    gc_ok = None if dose is None else dose <= LLDAS_GLUCOCORTICOID_MG
    criteria = {
        "sledai2k_at_most_4_no_major_organ": item1,
        "no_new_activity": item2,
        "pga_at_most_1": pga_ok,
        "prednisolone_at_most_7_5": gc_ok,
        "maintenance_therapy_acceptable": inputs.maintenance_therapy_acceptable,
    }
    state = all_of(criteria.values())
    for name in (
        "hemolytic_anemia",
        "gastrointestinal_activity",
        "pga",
        "prednisolone_mg_per_day",
        "maintenance_therapy_acceptable",
    ):
        if getattr(inputs, name) is None:
            reasons.append(f"{name} not recorded")
    return LLDASResult(
        instrument="lldas",
        variant="LLDAS (Franklyn 2016)",
        source=LLDAS_SOURCE,
        evaluable=state is not None,
        reason=None if state is not None else "; ".join(reasons),
        lldas=state,
        criteria=criteria,
        sledai2k=total,
        major_organ_activity=major,
        new_activity=new,
    )


# ---------------------------------------------------------------------------------------------
# SRI-4
# ---------------------------------------------------------------------------------------------

SRI_PGA_WORSENING = Decimal("0.3")


class SRI4Input(InstrumentInput):
    """Baseline and follow-up values for the SLE Responder Index."""

    baseline_sledai: int | None = Field(default=None, ge=0, le=105, description="SLEDAI score at baseline.")
    sledai: int | None = Field(default=None, ge=0, le=105, description="SLEDAI score at the assessment visit.")
    new_bilag_a: int | None = Field(default=None, ge=0, le=9, description="Number of new BILAG-2004 A domain scores.")
    new_bilag_b: int | None = Field(default=None, ge=0, le=9, description="Number of new BILAG-2004 B domain scores.")
    baseline_pga: Exact | None = PGA
    pga: Exact | None = PGA


class SRI4Options(InstrumentOptions):
    """Options of :func:`sri4`."""

    sledai_reduction: int = Field(
        default=4, ge=4, le=8, description="Required SLEDAI reduction: 4 for SRI-4 (default); 5-8 for SRI-5 ... SRI-8."
    )
    bilag_combination: Literal["and", "or_as_printed"] = Field(
        default="and",
        description="'and' (no new A and <= 1 new B; as applied in every trial) or 'or_as_printed' "
        "(the Furie 2009 abstract's literal 'or').",
    )
    sledai_version: Literal["SELENA-SLEDAI", "SLEDAI-2K"] = Field(
        default="SLEDAI-2K", description="Which SLEDAI the scores are (recorded in the result)."
    )


class SRI4Result(InstrumentResult):
    """SRI response and its three components."""

    TABLE_FIELDS: ClassVar[tuple[str, ...]] = ("criteria",)

    responder: bool | None
    criteria: dict[str, bool | None]
    sledai_change: int | None
    pga_change: Exact | None

    def headline(self) -> str:
        if self.responder is None:
            return "not evaluable"
        return "responder" if self.responder else "non-responder"


def sri4(
    inputs: SRI4Input | Mapping[str, Any], *, options: SRI4Options | Mapping[str, Any] | None = None
) -> SRI4Result:
    """SLE Responder Index (SRI-4).

    Source: Furie RA, Petri MA, Wallace DJ, et al. *Novel evidence-based systemic lupus erythematosus
    responder index.* Arthritis Rheum 2009;61(9):1143–51. Responder when all hold:

    1. SLEDAI reduction from baseline ``>= 4`` points;
    2. no new BILAG A domain score **and** ``<= 1`` new BILAG B domain score;
    3. no worsening of PGA by ``>= 0.3`` (an increase of exactly 0.3 fails; computed exactly).
    """
    inputs = parse(SRI4Input, inputs)
    options = parse(SRI4Options, options)
    change = None if inputs.sledai is None or inputs.baseline_sledai is None else inputs.sledai - inputs.baseline_sledai
    reduction_ok = None if change is None else -change >= options.sledai_reduction
    a, b = inputs.new_bilag_a, inputs.new_bilag_b
    no_a = None if a is None else a == 0
    few_b = None if b is None else b <= 1
    if options.bilag_combination == "and":
        bilag_ok = all_of([no_a, few_b])
    else:
        bilag_ok = True if (no_a is True or few_b is True) else (False if (no_a is False and few_b is False) else None)
    pga_change = None if inputs.pga is None or inputs.baseline_pga is None else inputs.pga - inputs.baseline_pga
    pga_ok = None if pga_change is None else pga_change < SRI_PGA_WORSENING
    criteria = {
        f"sledai_reduction_at_least_{options.sledai_reduction}": reduction_ok,
        "no_new_bilag_a_and_at_most_1_new_b" if options.bilag_combination == "and" else "bilag_as_printed": bilag_ok,
        "no_pga_worsening_0_3": pga_ok,
    }
    responder = all_of(criteria.values())
    missing = [n for n, v in inputs.model_dump().items() if v is None]
    return SRI4Result(
        instrument="sri4",
        variant=f"SRI-{options.sledai_reduction} ({options.sledai_version}; BILAG {options.bilag_combination})",
        source=SRI4_SOURCE,
        evaluable=responder is not None,
        reason=None if responder is not None else _missing_reason(missing),
        responder=responder,
        criteria=criteria,
        sledai_change=change,
        pga_change=pga_change,
    )


# ---------------------------------------------------------------------------------------------
# 2019 EULAR/ACR classification
# ---------------------------------------------------------------------------------------------

CriterionName = Literal[
    "fever",
    "leukopenia",
    "thrombocytopenia",
    "autoimmune_hemolysis",
    "delirium",
    "psychosis",
    "seizure",
    "non_scarring_alopecia",
    "oral_ulcers",
    "subacute_cutaneous_or_discoid_lupus",
    "acute_cutaneous_lupus",
    "pleural_or_pericardial_effusion",
    "acute_pericarditis",
    "joint_involvement",
    "proteinuria",
    "renal_biopsy_class_ii_or_v",
    "renal_biopsy_class_iii_or_iv",
    "antiphospholipid_antibodies",
    "low_c3",
    "low_c4",
    "anti_dsdna",
    "anti_smith",
]

# domain -> ((criterion, weight), ...); complement criteria are derived from low_c3/low_c4.
CLINICAL_DOMAINS: dict[str, tuple[tuple[str, int], ...]] = {
    "constitutional": (("fever", 2),),
    "hematologic": (("leukopenia", 3), ("thrombocytopenia", 4), ("autoimmune_hemolysis", 4)),
    "neuropsychiatric": (("delirium", 2), ("psychosis", 3), ("seizure", 5)),
    "mucocutaneous": (
        ("non_scarring_alopecia", 2),
        ("oral_ulcers", 2),
        ("subacute_cutaneous_or_discoid_lupus", 4),
        ("acute_cutaneous_lupus", 6),
    ),
    "serosal": (("pleural_or_pericardial_effusion", 5), ("acute_pericarditis", 6)),
    "musculoskeletal": (("joint_involvement", 6),),
    "renal": (("proteinuria", 4), ("renal_biopsy_class_ii_or_v", 8), ("renal_biopsy_class_iii_or_iv", 10)),
}
IMMUNOLOGIC_DOMAINS: dict[str, tuple[tuple[str, int], ...]] = {
    "antiphospholipid_antibodies": (("antiphospholipid_antibodies", 2),),
    "complement_proteins": (("low_c3_or_low_c4", 3), ("low_c3_and_low_c4", 4)),
    "sle_specific_antibodies": (("anti_dsdna", 6), ("anti_smith", 6)),
}
ANA_ENTRY_TITRE = 80  # ANA >= 1:80
CLASSIFICATION_POINTS = 10  # classified when >= 10 points
FEVER_2019_CELSIUS = Decimal("38.3")  # fever: > 38.3 °C
LEUKOPENIA_2019_10E9_PER_L = Decimal(4)  # leukopenia: < 4 x 10^9/L
THROMBOCYTOPENIA_2019_10E9_PER_L = Decimal(100)  # thrombocytopenia: < 100 x 10^9/L
PROTEINURIA_2019_G_PER_24H = Decimal("0.5")  # proteinuria: > 0.5 g/24 h

_TITRE = re.compile(r"^(?:1\s*[:/]\s*)?(\d+)$")
"""An ANA titre as text: ``1:160``, ``1/160`` or the denominator ``160`` (as a CSV cell gives it)."""


def _criterion(description: str) -> Any:
    return Field(default=None, description=description + " Ever present, attributed to SLE.")


class SLEClassificationInput(InstrumentInput):
    """Cumulative history for the 2019 EULAR/ACR criteria (criteria need not be simultaneous).

    Criteria not given are counted as absent (the criteria are counted from those recorded as ever
    present); a criterion given as ``false`` while a measurement shows it is an error.
    """

    ana_titre: str | int | None = Field(
        default=None,
        description="Highest ANA titre ever on HEp-2 cells, as '1:160', '1/160', 160 (or '160'), or 'negative'.",
    )
    ana_equivalent_positive: bool | None = Field(
        default=None, description="An equivalent positive ANA test (instead of a HEp-2 titre)."
    )
    fever: bool | None = _criterion("Fever > 38.3 °C (2).")
    leukopenia: bool | None = _criterion("White cells < 4 x 10^9/L (3).")
    thrombocytopenia: bool | None = _criterion("Platelets < 100 x 10^9/L (4).")
    autoimmune_hemolysis: bool | None = _criterion("Haemolysis with a positive direct Coombs test (4).")
    delirium: bool | None = _criterion("Delirium (2).")
    psychosis: bool | None = _criterion("Psychosis: delusions and/or hallucinations without insight, no delirium (3).")
    seizure: bool | None = _criterion("Primary generalised or partial/focal seizure (5).")
    non_scarring_alopecia: bool | None = _criterion("Non-scarring alopecia observed by a clinician (2).")
    oral_ulcers: bool | None = _criterion("Oral ulcers observed by a clinician (2).")
    subacute_cutaneous_or_discoid_lupus: bool | None = _criterion("Subacute cutaneous or discoid lupus (4).")
    acute_cutaneous_lupus: bool | None = _criterion("Malar or generalised maculopapular rash (6).")
    pleural_or_pericardial_effusion: bool | None = _criterion("Pleural or pericardial effusion on imaging (5).")
    acute_pericarditis: bool | None = _criterion(
        "Acute pericarditis, >= 2 of pain, rub, ECG changes, new effusion (6)."
    )
    joint_involvement: bool | None = _criterion(
        "Synovitis in >= 2 joints, or tenderness in >= 2 joints with >= 30 min morning stiffness (6)."
    )
    proteinuria: bool | None = _criterion("Proteinuria > 0.5 g/24 h (4).")
    renal_biopsy_class_ii_or_v: bool | None = _criterion("Renal biopsy class II or V lupus nephritis (8).")
    renal_biopsy_class_iii_or_iv: bool | None = _criterion("Renal biopsy class III or IV lupus nephritis (10).")
    antiphospholipid_antibodies: bool | None = _criterion(
        "Anticardiolipin > 40 GPL (or > 99th percentile), anti-beta2GP1, or lupus anticoagulant (2)."
    )
    low_c3: bool | None = _criterion("C3 below the lower limit of normal.")
    low_c4: bool | None = _criterion("C4 below the lower limit of normal.")
    anti_dsdna: bool | None = _criterion("Anti-dsDNA by an immunoassay with >= 90% specificity for SLE (6).")
    anti_smith: bool | None = _criterion("Anti-Smith antibodies (6).")
    max_temperature_celsius: Exact | None = Field(default=None, ge=25, le=45, description="Highest temperature, °C.")
    min_leukocytes_10e9_per_l: Exact | None = Field(
        default=None, ge=0, le=1000, description="Lowest white cells, 10^9/L."
    )
    min_platelets_10e9_per_l: Exact | None = Field(default=None, ge=0, le=5000, description="Lowest platelets, 10^9/L.")
    max_proteinuria_g_per_24h: Exact | None = Field(
        default=None, ge=0, le=100, description="Highest proteinuria, g/24 h."
    )
    not_attributable: list[CriterionName] = Field(
        default_factory=list,
        description="Criteria present but with a more likely explanation than SLE; they are not counted.",
    )

    @field_validator("ana_titre")
    @classmethod
    def _titre(cls, value: str | int | None) -> str | int | None:
        if value is None or isinstance(value, int):
            if isinstance(value, int) and value < 0:
                raise ValueError("a titre denominator >= 0")
            return value
        text = value.strip().lower()
        if text in {"negative", "neg", "0"}:
            return 0
        match = _TITRE.match(text)
        if not match:
            raise ValueError("an ANA titre such as '1:160' or '1/160', a denominator such as 160, or 'negative'")
        return int(match.group(1))


class SLEClassificationOptions(InstrumentOptions):
    """The 2019 criteria have no variants; options exist for interface uniformity."""


class SLEClassificationResult(InstrumentResult):
    """2019 EULAR/ACR classification with the points of each domain."""

    TABLE_FIELDS: ClassVar[tuple[str, ...]] = ("points_by_domain",)

    classified: bool | None
    entry_criterion_met: bool | None
    total_points: int
    points_by_domain: dict[str, int]
    criteria_counted: dict[str, str] = Field(description="Domain -> the highest-weighted criterion counted.")
    clinical_criterion_present: bool

    def headline(self) -> str:
        if self.classified is None:
            return "not evaluable"
        verdict = "classified" if self.classified else "not classified"
        return f"{verdict} ({self.total_points} points)"


def sle_classification_2019(
    inputs: SLEClassificationInput | Mapping[str, Any],
    *,
    options: SLEClassificationOptions | Mapping[str, Any] | None = None,
) -> SLEClassificationResult:
    """2019 EULAR/ACR classification criteria for SLE.

    Source: Aringer M, Costenbader K, Daikh D, et al. Ann Rheum Dis 2019;78(9):1151–9;
    Arthritis Rheumatol 2019;71(9):1400–12.

    * Entry criterion: ANA titre ``>= 1:80`` on HEp-2 cells (or an equivalent positive test) ever;
      if not met the criteria are not applied (points are still reported, for information).
    * Each criterion counts once ever; within each domain only the highest weight counts.
    * Classified as SLE when the total is ``>= 10`` points **and** at least one clinical criterion is
      present. Maximum 51.
    * Measurements: fever ``> 38.3`` °C; leukopenia ``< 4`` x 10^9/L; thrombocytopenia ``< 100`` x 10^9/L;
      proteinuria ``> 0.5`` g/24 h.
    """
    inputs = parse(SLEClassificationInput, inputs)
    parse(SLEClassificationOptions, options)
    excluded = set(inputs.not_attributable)
    # criterion -> (measurement, threshold, operator, description)
    measured: dict[str, tuple[Decimal | None, Decimal, Literal["gt", "lt"], str]] = {
        "fever": (inputs.max_temperature_celsius, FEVER_2019_CELSIUS, "gt", "max_temperature_celsius > 38.3"),
        "leukopenia": (
            inputs.min_leukocytes_10e9_per_l,
            LEUKOPENIA_2019_10E9_PER_L,
            "lt",
            "min_leukocytes_10e9_per_l < 4",
        ),
        "thrombocytopenia": (
            inputs.min_platelets_10e9_per_l,
            THROMBOCYTOPENIA_2019_10E9_PER_L,
            "lt",
            "min_platelets_10e9_per_l < 100",
        ),
        "proteinuria": (
            inputs.max_proteinuria_g_per_24h,
            PROTEINURIA_2019_G_PER_24H,
            "gt",
            "max_proteinuria_g_per_24h > 0.5",
        ),
    }
    present: dict[str, bool] = {}
    problems: list[Problem] = []
    for name in get_args(CriterionName):
        given: bool | None = getattr(inputs, name)
        derived: bool | None = None
        if name in measured:
            value, threshold, operator, text = measured[name]
            if value is not None:
                derived = value > threshold if operator == "gt" else value < threshold
                if given is not None and given != derived and not (given is False and name in excluded):
                    problems.append(Problem(name, given, f"agreement with the measurement ({text} is {derived})"))
        if given is True and name in excluded:
            problems.append(Problem(name, given, "not true while listed in not_attributable"))
        value_now = given if given is not None else derived
        present[name] = bool(value_now) and name not in excluded
    if problems:
        raise InvalidInput(problems=problems)
    present["low_c3_or_low_c4"] = present["low_c3"] or present["low_c4"]
    present["low_c3_and_low_c4"] = present["low_c3"] and present["low_c4"]

    points: dict[str, int] = {}
    counted: dict[str, str] = {}
    for domain, items in {**CLINICAL_DOMAINS, **IMMUNOLOGIC_DOMAINS}.items():
        best = max(((w, c) for c, w in items if present[c]), default=None)
        points[domain] = best[0] if best else 0
        if best:
            counted[domain] = best[1]
    total = sum(points.values())
    clinical = any(points[d] > 0 for d in CLINICAL_DOMAINS)

    titre = inputs.ana_titre
    assert titre is None or isinstance(titre, int)
    if titre is None and inputs.ana_equivalent_positive is None:
        entry: bool | None = None
    else:
        entry = (titre is not None and titre >= ANA_ENTRY_TITRE) or inputs.ana_equivalent_positive is True
    if entry is None:
        classified: bool | None = None
        reason: str | None = "ANA not recorded (ana_titre or ana_equivalent_positive): entry criterion unknown"
    elif not entry:
        classified, reason = False, "entry criterion not met (ANA never >= 1:80): criteria not applied"
    else:
        classified = total >= CLASSIFICATION_POINTS and clinical
        reason = None
        if not classified:
            reason = f"{total} points (< 10)" if total < CLASSIFICATION_POINTS else "no clinical criterion present"
    return SLEClassificationResult(
        instrument="sle_classification_2019",
        variant="2019 EULAR/ACR",
        source=CLASSIFICATION_SOURCE,
        evaluable=classified is not None,
        reason=reason,
        classified=classified,
        entry_criterion_met=entry,
        total_points=total,
        points_by_domain=points,
        criteria_counted=counted,
        clinical_criterion_present=clinical,
    )


# ---------------------------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------------------------

INSTRUMENTS: tuple[Instrument[Any, Any, Any], ...] = (
    Instrument(
        name="sledai2k",
        title="SLEDAI-2K",
        description="SLE disease activity (0-105) and clinical SLEDAI from 24 weighted descriptors.",
        source=SLEDAI2K_SOURCE,
        function=sledai2k,
        input_model=SLEDAI2KInput,
        options_model=SLEDAI2KOptions,
        result_model=SLEDAI2KResult,
    ),
    Instrument(
        name="doris",
        title="DORIS 2021 remission",
        description="Remission in SLE: clinical SLEDAI 0, PGA < 0.5, prednisolone <= 5 mg/day, stable drugs.",
        source=DORIS_SOURCE,
        function=doris_remission,
        input_model=DORISInput,
        options_model=DORISOptions,
        result_model=DORISResult,
    ),
    Instrument(
        name="lldas",
        title="LLDAS",
        description="Lupus Low Disease Activity State: SLEDAI-2K <= 4, no new activity, PGA <= 1, pred <= 7.5.",
        source=LLDAS_SOURCE,
        function=lldas,
        input_model=LLDASInput,
        options_model=LLDASOptions,
        result_model=LLDASResult,
    ),
    Instrument(
        name="sri4",
        title="SRI-4",
        description="SLE Responder Index: SLEDAI -4, no new BILAG A / <= 1 new B, PGA worsening < 0.3.",
        source=SRI4_SOURCE,
        function=sri4,
        input_model=SRI4Input,
        options_model=SRI4Options,
        result_model=SRI4Result,
    ),
    Instrument(
        name="sle_classification_2019",
        title="2019 EULAR/ACR SLE classification",
        description="Classification of SLE: ANA >= 1:80 entry, weighted domains, >= 10 points and a clinical item.",
        source=CLASSIFICATION_SOURCE,
        function=sle_classification_2019,
        input_model=SLEClassificationInput,
        options_model=SLEClassificationOptions,
        result_model=SLEClassificationResult,
    ),
)
