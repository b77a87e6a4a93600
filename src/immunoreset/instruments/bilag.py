"""BILAG-2004 disease activity (SLE) and the BILAG-based Combined Lupus Assessment.

Instruments (registry names in brackets):

* BILAG-2004 index [``bilag2004``] — Isenberg DA, Rahman A, Allen E, et al. *BILAG 2004. Development
  and initial validation of an updated version of the British Isles Lupus Assessment Group's disease
  activity index for patients with systemic lupus erythematosus.* Rheumatology (Oxford)
  2005;44(7):902–6, doi:10.1093/rheumatology/keh624; glossary and scoring: Yee CS, Farewell V,
  Isenberg DA, et al. Arthritis Rheum 2007;56(12):4113–9, doi:10.1002/art.23130 (overall score = the
  highest system grade); numerical scoring: Yee CS, Cresswell L, Farewell V, et al. *Numerical scoring
  for the BILAG-2004 index.* Rheumatology (Oxford) 2010;49(9):1665–9, doi:10.1093/rheumatology/keq026
  (A = 12, B = 8, C = 1, D = 0, E = 0).
* BICLA [``bicla``] — Wallace DJ, Kalunian K, Petri MA, et al. *Efficacy and safety of epratuzumab in
  patients with moderate/severe active systemic lupus erythematosus: results from EMBLEM.* Ann Rheum
  Dis 2014;73(1):183–90, doi:10.1136/annrheumdis-2012-202760 (first described by Wallace D, Strand V,
  Furie R, et al. Arthritis Rheum 2011;63(10 Suppl):S894).

**What is and is not implemented for BILAG-2004.** The 97 items of the 2009 form (revision
1 Sep 2009) are recorded, each under a short field name ``<system>_<item>``. The per-system
rule tables of the BILAG-2004 glossary that turn items into grades A–C could not be read in a
primary source while this module was written, and they are **not** implemented: the grade of a
system with any active item (and of every renal and haematological system with data) is taken from
``<system>_grade`` as assigned with the official glossary/scoring program, and is otherwise *not
evaluable*. What follows from the grade definitions alone is applied exactly:

* a clinical system (all but renal and haematological) whose items are all recorded 0 (not present)
  has no current activity, so its grade is D (``<system>_ever_involved`` true) or E (false); when
  involvement ever is unknown the grade is "D or E", which scores 0 either way;
* E means never involved: E with ``ever_involved`` true, or E while an item of the system is present
  (1–4), is an input error; D means previously involved: D with ``ever_involved`` false is an error;
  A, B or C with every item recorded 0 is an error.

Grades: A severe activity, B moderate, C mild stable, D previously involved but inactive, E never
involved. Numerical score (option ``numeric_scoring``): Yee 2010 ``A=12, B=8, C=1, D=0, E=0``
(default); the Classic-BILAG codings ``12/5/1/0/0`` and ``9/3/1/0/0`` that Yee 2010 tested and found
to fit less well are available for comparison with older data. The overall grade is the highest
system grade (Yee 2007).

**BICLA** responder when all hold (baseline vs follow-up):

1. every system graded A at baseline is B, C or D at follow-up, and every system graded B at
   baseline is C or D;
2. no new BILAG-2004 A (a system A at follow-up that was not A at baseline) and at most one new B (a
   system B at follow-up that was C, D or E at baseline): 1 new B passes, 2 fail;
3. no worsening of SLEDAI-2K: follow-up minus baseline ``<= 0``;
4. no worsening of the physician's global assessment (0–3 VAS) by 10% of the scale: the increase must
   be ``< 0.3`` (option ``pga_worsening``: ``lt_0.3`` default, or ``le_0.3`` for the "≤ 10%" reading);
5. no treatment failure (no prohibited/non-protocol treatment, no discontinuation).

A patient with no A or B at baseline has nothing for item 1 to improve: the result is not evaluable
(BICLA is defined for moderate/severe baseline activity). Every comparison is exact (Decimal).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field, create_model, model_validator

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
    parse,
    reject_bool,
)
from immunoreset.units import canonical_unit, same_dimension

__all__ = [
    "BILAG_ITEMS",
    "NUMERIC_SCORING",
    "SYSTEMS",
    "BICLAInput",
    "BICLAOptions",
    "BICLAResult",
    "BILAG2004Input",
    "BILAG2004Options",
    "BILAG2004Result",
    "CellCount",
    "ProteinExcretion",
    "SubstanceConcentration",
    "bicla",
    "bilag2004",
]

BILAG2004_SOURCE = (
    "Isenberg DA et al. Rheumatology (Oxford) 2005;44(7):902-6, doi:10.1093/rheumatology/keh624; "
    "Yee CS et al. Arthritis Rheum 2007;56(12):4113-9; numerical scoring: Yee CS et al. Rheumatology (Oxford) "
    "2010;49(9):1665-9, doi:10.1093/rheumatology/keq026"
)
BICLA_SOURCE = "Wallace DJ et al. Ann Rheum Dis 2014;73(1):183-90, doi:10.1136/annrheumdis-2012-202760 (BICLA)"

Grade = Literal["A", "B", "C", "D", "E"]
GRADES: tuple[Grade, ...] = ("A", "B", "C", "D", "E")

SYSTEMS: tuple[str, ...] = (
    "constitutional",
    "mucocutaneous",
    "neuropsychiatric",
    "musculoskeletal",
    "cardiorespiratory",
    "gastrointestinal",
    "ophthalmic",
    "renal",
    "haematological",
)
"""The nine BILAG-2004 systems, in form order."""

LAB_SYSTEMS = frozenset({"renal", "haematological"})

NUMERIC_SCORING: dict[str, dict[str, int]] = {
    "yee2010": {"A": 12, "B": 8, "C": 1, "D": 0, "E": 0},
    "classic_12_5_1": {"A": 12, "B": 5, "C": 1, "D": 0, "E": 0},
    "classic_9_3_1": {"A": 9, "B": 3, "C": 1, "D": 0, "E": 0},
}
"""Numerical codings of the system grades; ``yee2010`` is the one recommended for BILAG-2004."""


ItemScore = Annotated[
    int,
    Field(ge=0, le=4),
    BeforeValidator(reject_bool),
]
"""A clinical item: 0 not present, 1 improving, 2 same, 3 worse, 4 new (last 4 weeks vs previous 4)."""


class ProteinExcretion(Quantity):
    """Urine protein excretion per 24 hours with its unit (e.g. ``g/(24.h)``, ``mg/(24.h)``)."""

    value: Exact = Field(ge=0, description="The measured excretion.")

    @model_validator(mode="after")
    def _unit(self) -> ProteinExcretion:
        canonical_unit(self.unit, field="unit")
        if not same_dimension(self.unit, "g/(24.h)"):
            raise InvalidInput("unit", self.unit, "an excretion-rate unit such as 'g/24h' or 'mg/24h'")
        return self


class SubstanceConcentration(Quantity):
    """An amount-of-substance concentration with its unit (e.g. creatinine in ``umol/L``)."""

    value: Exact = Field(ge=0, description="The measured value.")

    @model_validator(mode="after")
    def _unit(self) -> SubstanceConcentration:
        canonical_unit(self.unit, field="unit")
        if not same_dimension(self.unit, "umol/L"):
            raise InvalidInput("unit", self.unit, "a molar concentration unit such as 'umol/L' or 'mmol/L'")
        return self


# (system, field suffix, form item number, kind, description). kind: "score" 0-4, "yes_no", or a value.
_ITEM_TABLE: tuple[tuple[str, str, int, str, str], ...] = (
    ("constitutional", "pyrexia", 1, "score", "Pyrexia, documented > 37.5 °C."),
    ("constitutional", "weight_loss", 2, "score", "Unintentional weight loss > 5%."),
    ("constitutional", "lymphadenopathy", 3, "score", "Lymphadenopathy/splenomegaly."),
    ("constitutional", "anorexia", 4, "score", "Anorexia."),
    ("mucocutaneous", "eruption_severe", 5, "score", "Skin eruption, severe."),
    ("mucocutaneous", "eruption_mild", 6, "score", "Skin eruption, mild."),
    ("mucocutaneous", "angioedema_severe", 7, "score", "Angio-oedema, severe."),
    ("mucocutaneous", "angioedema_mild", 8, "score", "Angio-oedema, mild."),
    ("mucocutaneous", "ulcers_severe", 9, "score", "Mucosal ulceration, severe."),
    ("mucocutaneous", "ulcers_mild", 10, "score", "Mucosal ulceration, mild."),
    ("mucocutaneous", "panniculitis_severe", 11, "score", "Panniculitis/bullous lupus, severe."),
    ("mucocutaneous", "panniculitis_mild", 12, "score", "Panniculitis/bullous lupus, mild."),
    ("mucocutaneous", "major_vasculitis", 13, "score", "Major cutaneous vasculitis/thrombosis."),
    ("mucocutaneous", "digital_infarcts", 14, "score", "Digital infarcts or nodular vasculitis."),
    ("mucocutaneous", "alopecia_severe", 15, "score", "Alopecia, severe."),
    ("mucocutaneous", "alopecia_mild", 16, "score", "Alopecia, mild."),
    ("mucocutaneous", "periungual_erythema", 17, "score", "Peri-ungual erythema/chilblains."),
    ("mucocutaneous", "splinter_haemorrhages", 18, "score", "Splinter haemorrhages."),
    ("neuropsychiatric", "aseptic_meningitis", 19, "score", "Aseptic meningitis."),
    ("neuropsychiatric", "cerebral_vasculitis", 20, "score", "Cerebral vasculitis."),
    ("neuropsychiatric", "demyelinating", 21, "score", "Demyelinating syndrome."),
    ("neuropsychiatric", "myelopathy", 22, "score", "Myelopathy."),
    ("neuropsychiatric", "confusional_state", 23, "score", "Acute confusional state."),
    ("neuropsychiatric", "psychosis", 24, "score", "Psychosis."),
    ("neuropsychiatric", "aidp", 25, "score", "Acute inflammatory demyelinating polyradiculoneuropathy."),
    ("neuropsychiatric", "mononeuropathy", 26, "score", "Mononeuropathy (single/multiplex)."),
    ("neuropsychiatric", "cranial_neuropathy", 27, "score", "Cranial neuropathy."),
    ("neuropsychiatric", "plexopathy", 28, "score", "Plexopathy."),
    ("neuropsychiatric", "polyneuropathy", 29, "score", "Polyneuropathy."),
    ("neuropsychiatric", "seizures", 30, "score", "Seizure disorder."),
    ("neuropsychiatric", "status_epilepticus", 31, "score", "Status epilepticus."),
    ("neuropsychiatric", "cerebrovascular", 32, "score", "Cerebrovascular disease (not due to vasculitis)."),
    ("neuropsychiatric", "cognitive", 33, "score", "Cognitive dysfunction."),
    ("neuropsychiatric", "movement_disorder", 34, "score", "Movement disorder."),
    ("neuropsychiatric", "autonomic", 35, "score", "Autonomic disorder."),
    ("neuropsychiatric", "cerebellar_ataxia", 36, "score", "Cerebellar ataxia (isolated)."),
    ("neuropsychiatric", "lupus_headache", 37, "score", "Lupus headache, severe unremitting."),
    ("neuropsychiatric", "intracranial_htn", 38, "score", "Headache from intracranial hypertension."),
    ("musculoskeletal", "myositis_severe", 39, "score", "Myositis, severe."),
    ("musculoskeletal", "myositis_mild", 40, "score", "Myositis, mild."),
    ("musculoskeletal", "arthritis_severe", 41, "score", "Arthritis, severe."),
    ("musculoskeletal", "arthritis_moderate", 42, "score", "Arthritis (moderate)/tendonitis/tenosynovitis."),
    ("musculoskeletal", "arthritis_mild", 43, "score", "Arthritis (mild)/arthralgia/myalgia."),
    ("cardiorespiratory", "myocarditis_mild", 44, "score", "Myocarditis, mild."),
    ("cardiorespiratory", "myocarditis_failure", 45, "score", "Myocarditis/endocarditis with cardiac failure."),
    ("cardiorespiratory", "arrhythmia", 46, "score", "Arrhythmia."),
    ("cardiorespiratory", "valvular", 47, "score", "New valvular dysfunction."),
    ("cardiorespiratory", "pleurisy_pericarditis", 48, "score", "Pleurisy/pericarditis."),
    ("cardiorespiratory", "tamponade", 49, "score", "Cardiac tamponade."),
    ("cardiorespiratory", "effusion_dyspnoea", 50, "score", "Pleural effusion with dyspnoea."),
    ("cardiorespiratory", "pulmonary_haemorrhage", 51, "score", "Pulmonary haemorrhage/vasculitis."),
    ("cardiorespiratory", "pneumonitis", 52, "score", "Interstitial alveolitis/pneumonitis."),
    ("cardiorespiratory", "shrinking_lung", 53, "score", "Shrinking lung syndrome."),
    ("cardiorespiratory", "aortitis", 54, "score", "Aortitis."),
    ("cardiorespiratory", "coronary_vasculitis", 55, "score", "Coronary vasculitis."),
    ("gastrointestinal", "peritonitis", 56, "score", "Lupus peritonitis."),
    ("gastrointestinal", "serositis_ascites", 57, "score", "Abdominal serositis or ascites."),
    ("gastrointestinal", "enteritis_colitis", 58, "score", "Lupus enteritis/colitis."),
    ("gastrointestinal", "malabsorption", 59, "score", "Malabsorption."),
    ("gastrointestinal", "protein_losing", 60, "score", "Protein-losing enteropathy."),
    ("gastrointestinal", "pseudo_obstruction", 61, "score", "Intestinal pseudo-obstruction."),
    ("gastrointestinal", "hepatitis", 62, "score", "Lupus hepatitis."),
    ("gastrointestinal", "cholecystitis", 63, "score", "Acute lupus cholecystitis."),
    ("gastrointestinal", "pancreatitis", 64, "score", "Acute lupus pancreatitis."),
    ("ophthalmic", "orbital", 65, "score", "Orbital inflammation/myositis/proptosis."),
    ("ophthalmic", "keratitis_severe", 66, "score", "Keratitis, severe."),
    ("ophthalmic", "keratitis_mild", 67, "score", "Keratitis, mild."),
    ("ophthalmic", "anterior_uveitis", 68, "score", "Anterior uveitis."),
    ("ophthalmic", "posterior_uveitis_severe", 69, "score", "Posterior uveitis/retinal vasculitis, severe."),
    ("ophthalmic", "posterior_uveitis_mild", 70, "score", "Posterior uveitis/retinal vasculitis, mild."),
    ("ophthalmic", "episcleritis", 71, "score", "Episcleritis."),
    ("ophthalmic", "scleritis_severe", 72, "score", "Scleritis, severe."),
    ("ophthalmic", "scleritis_mild", 73, "score", "Scleritis, mild."),
    ("ophthalmic", "vaso_occlusive", 74, "score", "Retinal/choroidal vaso-occlusive disease."),
    ("ophthalmic", "cotton_wool_spots", 75, "score", "Isolated cotton-wool spots (cytoid bodies)."),
    ("ophthalmic", "optic_neuritis", 76, "score", "Optic neuritis."),
    ("ophthalmic", "aion", 77, "score", "Anterior ischaemic optic neuropathy."),
    ("renal", "systolic_bp", 78, "mmhg", "Systolic blood pressure, mmHg."),
    ("renal", "diastolic_bp", 79, "mmhg", "Diastolic blood pressure, mmHg."),
    ("renal", "accelerated_htn", 80, "yes_no", "Accelerated hypertension (yes/no)."),
    ("renal", "dipstick_protein", 81, "dipstick", "Urine dipstick protein: 0 negative/trace, 1 '+', 2 '++', 3 '+++'."),
    ("renal", "uacr_mg_mmol", 82, "ratio", "Urine albumin-creatinine ratio, mg/mmol."),
    ("renal", "upcr_mg_mmol", 83, "ratio", "Urine protein-creatinine ratio, mg/mmol."),
    (
        "renal",
        "protein_24h",
        84,
        "excretion",
        'Urine protein per 24 hours with unit, e.g. {"value": 1.2, "unit": "g/24h"}.',
    ),
    ("renal", "nephrotic", 85, "yes_no", "Nephrotic syndrome (yes/no)."),
    ("renal", "creatinine", 86, "molar", 'Plasma/serum creatinine with unit, e.g. {"value": 90, "unit": "umol/L"}.'),
    ("renal", "gfr", 87, "gfr", "GFR (calculated), mL/min/1.73 m²."),
    ("renal", "active_sediment", 88, "yes_no", "Active urinary sediment (yes/no)."),
    ("renal", "active_nephritis", 89, "yes_no", "Histology of active nephritis (yes/no)."),
    ("haematological", "haemoglobin", 90, "mass", 'Haemoglobin with unit, e.g. {"value": 11.2, "unit": "g/dL"}.'),
    ("haematological", "wbc", 91, "cells", 'Total white cell count with unit, e.g. {"value": 4.1, "unit": "10*9/L"}.'),
    ("haematological", "neutrophils", 92, "cells", "Neutrophil count with unit."),
    ("haematological", "lymphocytes", 93, "cells", "Lymphocyte count with unit."),
    ("haematological", "platelets", 94, "cells", "Platelet count with unit."),
    ("haematological", "ttp", 95, "score", "Thrombotic thrombocytopenic purpura."),
    ("haematological", "haemolysis", 96, "yes_no", "Evidence of active haemolysis (yes/no)."),
    ("haematological", "coombs_isolated", 97, "yes_no", "Coombs' test positive, isolated (yes/no)."),
)

BILAG_ITEMS: dict[str, tuple[str, int, str]] = {
    f"{system}_{suffix}": (system, number, kind) for system, suffix, number, kind, _ in _ITEM_TABLE
}
"""Field name -> (system, form item number, kind) of the 97 BILAG-2004 items."""
assert len(BILAG_ITEMS) == 97 and all(len(name) <= 40 for name in BILAG_ITEMS)
assert [n for _, n, _ in BILAG_ITEMS.values()] == list(range(1, 98))

_SCORE_NOTE = " Score 0 not present, 1 improving, 2 same, 3 worse, 4 new (last 4 weeks vs the previous 4)."


def _item_field(kind: str, description: str, number: int) -> tuple[Any, Any]:
    text = f"BILAG-2004 item {number}: {description}"
    if kind == "score":
        return (ItemScore | None, Field(default=None, description=text + _SCORE_NOTE))
    if kind == "yes_no":
        return (bool | None, Field(default=None, description=text))
    if kind == "mmhg":
        return (int | None, Field(default=None, ge=0, le=350, description=text))
    if kind == "dipstick":
        return (int | None, Field(default=None, ge=0, le=3, description=text))
    if kind == "ratio":
        return (Exact | None, Field(default=None, ge=0, le=100000, description=text))
    if kind == "gfr":
        return (Exact | None, Field(default=None, ge=0, le=300, description=text))
    models: dict[str, type[Quantity]] = {
        "excretion": ProteinExcretion,
        "molar": SubstanceConcentration,
        "mass": MassConcentration,
        "cells": CellCount,
    }
    return (models[kind] | None, Field(default=None, description=text))


def _system_fields() -> dict[str, tuple[Any, Any]]:
    fields: dict[str, tuple[Any, Any]] = {}
    for system in SYSTEMS:
        fields[f"{system}_ever_involved"] = (
            bool | None,
            Field(
                default=None,
                description=f"Has the {system} system ever been involved by SLE (distinguishes grade D from E)?",
            ),
        )
        fields[f"{system}_grade"] = (
            Grade | None,
            Field(
                default=None,
                description=f"{system.capitalize()} grade A-E as assigned with the BILAG-2004 glossary/scoring "
                "program (A severe, B moderate, C mild, D previously involved now inactive, E never involved).",
            ),
        )
    return fields


BILAG2004Input: type[InstrumentInput] = create_model(  # type: ignore[call-overload]
    "BILAG2004Input",
    __base__=InstrumentInput,
    __doc__="One BILAG-2004 assessment: the 97 items, each system's assigned grade and whether it was ever "
    "involved. Unrecorded items are left out (null).",
    **{f"{system}_{suffix}": _item_field(kind, text, number) for system, suffix, number, kind, text in _ITEM_TABLE},
    **_system_fields(),
)


class BILAG2004Options(InstrumentOptions):
    """Options of :func:`bilag2004`."""

    numeric_scoring: Literal["yee2010", "classic_12_5_1", "classic_9_3_1"] = Field(
        default="yee2010",
        description="Numerical coding of grades: 'yee2010' A=12, B=8, C=1, D=E=0 (default; Yee 2010, recommended "
        "for BILAG-2004); 'classic_12_5_1' or 'classic_9_3_1' (Classic-BILAG codings, for comparison only).",
    )


class BILAG2004Result(InstrumentResult):
    """BILAG-2004 system grades, A/B counts, numerical score and overall (highest) grade."""

    TABLE_FIELDS: ClassVar[tuple[str, ...]] = ("a_count", "b_count", "highest_grade")

    score: int | None = Field(description="Sum of the numerical codes of the nine system grades.")
    grades: dict[str, Grade | None] = Field(description="Grade of each system; null when not known.")
    grade_basis: dict[str, str] = Field(description="How each grade was obtained (or why it is unknown).")
    a_count: int | None = Field(description="Number of systems graded A.")
    b_count: int | None = Field(description="Number of systems graded B.")
    highest_grade: Grade | None = Field(description="Overall BILAG-2004 grade: the highest system grade.")
    known_score: int = Field(description="Score of the systems whose contribution is known.")
    max_possible_score: int = Field(description="Highest score possible given the unknown systems.")
    items_present: dict[str, int] = Field(description="Clinical items recorded 1-4, per system.")

    def headline(self) -> str:
        if self.score is None:
            return "not evaluable"
        return f"{self.score} ({self.a_count}A {self.b_count}B; highest {self.highest_grade or 'D/E'})"


def _highest(grades: dict[str, Grade | None], unknown: list[str]) -> Grade | None:
    """Overall grade (highest system grade); decided by a known A even when other systems are unknown."""
    known = [g for g in grades.values() if g is not None]
    if "A" in known:
        return "A"
    if unknown:
        return None
    for grade in ("B", "C", "D"):
        if grade in known:
            return grade
    return "E" if len(known) == len(grades) else None  # a "D or E" system leaves D vs E open


def _system_items(system: str) -> list[str]:
    return [name for name, (s, _, _) in BILAG_ITEMS.items() if s == system]


def bilag2004(
    inputs: InstrumentInput | Mapping[str, Any], *, options: BILAG2004Options | Mapping[str, Any] | None = None
) -> BILAG2004Result:
    """BILAG-2004 index: system grades, counts of A and B, numerical score.

    Source: Isenberg DA et al. Rheumatology (Oxford) 2005;44:902–6; Yee CS et al. Arthritis Rheum
    2007;56:4113–9; numerical scoring Yee CS et al. Rheumatology (Oxford) 2010;49:1665–9 (A=12, B=8,
    C=1, D=0, E=0). The glossary's item-to-grade rule tables are not implemented (see the module
    docstring): grades come from ``<system>_grade``; a clinical system with every item recorded 0 is
    D or E (by ``<system>_ever_involved``); other systems without a grade are not evaluable.
    The score is decided when every system's contribution is known (D and E both score 0).
    """
    data = parse(BILAG2004Input, inputs)
    options = parse(BILAG2004Options, options)
    weights = NUMERIC_SCORING[options.numeric_scoring]
    values = data.model_dump()
    problems: list[Problem] = []
    grades: dict[str, Grade | None] = {}
    basis: dict[str, str] = {}
    present: dict[str, int] = {}
    contribution: dict[str, tuple[int, int]] = {}  # (lowest, highest) possible points
    for system in SYSTEMS:
        grade: Grade | None = values[f"{system}_grade"]
        ever: bool | None = values[f"{system}_ever_involved"]
        scores = [values[n] for n in _system_items(system) if BILAG_ITEMS[n][2] == "score"]
        n_present = sum(1 for s in scores if s is not None and s > 0)
        present[system] = n_present
        all_zero = system not in LAB_SYSTEMS and all(s == 0 for s in scores)
        field = f"{system}_grade"
        if grade == "E" and ever is True:
            problems.append(Problem(field, grade, f"not E: {system}_ever_involved is true (E = never involved)"))
        if grade == "D" and ever is False:
            problems.append(Problem(field, grade, f"not D: {system}_ever_involved is false (D = previously involved)"))
        if grade == "E" and n_present:
            problems.append(Problem(field, grade, f"not E: {n_present} {system} item(s) recorded present (1-4)"))
        if grade in ("A", "B", "C") and all_zero:
            problems.append(Problem(field, grade, f"D or E: every {system} item is recorded 0 (not present)"))
        if grade is not None:
            grades[system], basis[system] = grade, "assigned"
            contribution[system] = (weights[grade], weights[grade])
        elif all_zero:
            derived: Grade | None = None if ever is None else ("D" if ever else "E")
            grades[system] = derived
            basis[system] = "all items not present: " + (derived or f"D or E ({system}_ever_involved unknown)")
            contribution[system] = (0, 0)
        else:
            grades[system] = None
            basis[system] = "not evaluable: grade not given" + (
                " (grade rules for this system are not implemented)"
                if system in LAB_SYSTEMS or n_present
                else " and items not all recorded"
            )
            contribution[system] = (0, max(weights.values()))
    if problems:
        raise InvalidInput(problems=problems)
    unknown = [s for s in SYSTEMS if contribution[s][0] != contribution[s][1]]
    known_score = sum(low for low, high in contribution.values() if low == high)
    max_score = sum(high for _, high in contribution.values())
    known_a = sum(1 for g in grades.values() if g == "A")
    known_b = sum(1 for g in grades.values() if g == "B")
    highest = _highest(grades, unknown)
    reason = None
    if unknown:
        reason = "system grade unknown: " + ", ".join(unknown)
    return BILAG2004Result(
        instrument="bilag2004",
        variant=f"BILAG-2004 (numerical scoring {options.numeric_scoring})",
        source=BILAG2004_SOURCE,
        evaluable=not unknown,
        reason=reason,
        score=None if unknown else known_score,
        grades=grades,
        grade_basis=basis,
        a_count=None if unknown else known_a,
        b_count=None if unknown else known_b,
        highest_grade=highest,
        known_score=known_score,
        max_possible_score=max_score,
        items_present=present,
    )


# ---------------------------------------------------------------------------------------------
# BICLA
# ---------------------------------------------------------------------------------------------

BICLA_PGA_WORSENING = Decimal("0.3")  # 10% of the 0-3 PGA scale

PGA = Field(default=None, ge=0, le=3, description="Physician's global assessment, 0-3 visual analogue scale.")


def _bicla_fields() -> dict[str, tuple[Any, Any]]:
    fields: dict[str, tuple[Any, Any]] = {}
    for visit in ("baseline", "followup"):
        for system in SYSTEMS:
            fields[f"{visit}_{system}"] = (
                Grade | None,
                Field(
                    default=None,
                    description=f"BILAG-2004 {system} grade (A-E) at {visit.replace('followup', 'follow-up')}.",
                ),
            )
    return fields


class _BICLABase(InstrumentInput):
    baseline_sledai2k: int | None = Field(default=None, ge=0, le=105, description="SLEDAI-2K total at baseline.")
    followup_sledai2k: int | None = Field(default=None, ge=0, le=105, description="SLEDAI-2K total at follow-up.")
    baseline_pga: Exact | None = PGA
    followup_pga: Exact | None = PGA
    treatment_failure: bool | None = Field(
        default=None,
        description="Treatment failure: prohibited/non-protocol medication started or study treatment discontinued.",
    )


BICLAInput: type[_BICLABase] = create_model(  # type: ignore[call-overload]
    "BICLAInput",
    __base__=_BICLABase,
    __doc__="Baseline and follow-up BILAG-2004 system grades, SLEDAI-2K totals, PGA and treatment failure.",
    **_bicla_fields(),
)


class BICLAOptions(InstrumentOptions):
    """Options of :func:`bicla`."""

    pga_worsening: Literal["lt_0.3", "le_0.3"] = Field(
        default="lt_0.3",
        description="PGA criterion: 'lt_0.3' (default; increase < 0.3, i.e. < 10% of the 0-3 scale, as in "
        "Wallace 2014 and the anifrolumab trials) or 'le_0.3' (increase <= 0.3, the '<= 10%' restatement).",
    )


class BICLAResult(InstrumentResult):
    """BICLA response and its five components."""

    TABLE_FIELDS: ClassVar[tuple[str, ...]] = ("failed_components",)

    responder: bool | None
    components: dict[str, bool | None] = Field(description="Each component: met, not met, or unknown (null).")
    failed_components: list[str]
    new_a_count: int | None = Field(description="Systems A at follow-up that were not A at baseline.")
    new_b_count: int | None = Field(description="Systems B at follow-up that were C, D or E at baseline.")
    not_improved: list[str] = Field(description="Systems A or B at baseline without the required improvement.")
    sledai_change: int | None
    pga_change: Exact | None

    def headline(self) -> str:
        if self.responder is None:
            return "not evaluable"
        if self.responder:
            return "responder"
        return "non-responder (" + ", ".join(self.failed_components) + ")"


_IMPROVED: dict[str, frozenset[str]] = {"A": frozenset("BCD"), "B": frozenset("CD")}


def _outcome(base: str, follow: str) -> tuple[bool, int, int]:
    """(improvement failed, new A, new B) for one system."""
    failed = base in _IMPROVED and follow not in _IMPROVED[base]
    new_a = int(follow == "A" and base != "A")
    new_b = int(follow == "B" and base in ("C", "D", "E"))
    return failed, new_a, new_b


def bicla(
    inputs: _BICLABase | Mapping[str, Any], *, options: BICLAOptions | Mapping[str, Any] | None = None
) -> BICLAResult:
    """BILAG-based Combined Lupus Assessment (BICLA).

    Source: Wallace DJ et al. Ann Rheum Dis 2014;73:183–90. Responder when: every baseline A is B/C/D
    and every baseline B is C/D at follow-up; no new A and ``<= 1`` new B; SLEDAI-2K change ``<= 0``;
    PGA increase ``< 0.3`` (10% of the 0–3 scale; option ``pga_worsening``); no treatment failure.
    Unknown grades are resolved over every possible value: a decision that holds for all is given.
    """
    data = parse(BICLAInput, inputs)
    options = parse(BICLAOptions, options)
    values = data.model_dump()
    problems: list[Problem] = []
    outcomes: dict[str, list[tuple[bool, int, int]]] = {}
    not_improved: list[str] = []
    for system in SYSTEMS:
        base, follow = values[f"baseline_{system}"], values[f"followup_{system}"]
        if base is not None and base != "E" and follow == "E":
            problems.append(
                Problem(f"followup_{system}", follow, f"not E: baseline grade {base} means the system was involved")
            )
            continue
        bases = [base] if base is not None else list(GRADES)
        follows = [follow] if follow is not None else list(GRADES)
        outcomes[system] = [_outcome(b, f) for b in bases for f in follows if not (b != "E" and f == "E")]
        if base in _IMPROVED and follow is not None and follow not in _IMPROVED[base]:
            not_improved.append(system)
    if problems:
        raise InvalidInput(problems=problems)
    baselines = [values[f"baseline_{system}"] for system in SYSTEMS]
    any_baseline_ab = True if any(b in _IMPROVED for b in baselines) else (None if None in baselines else False)

    # Component 1: improvement of every baseline A and B.
    improvement = _decide([[o[0] is False for o in outcomes[s]] for s in SYSTEMS])
    # Component 2: no new A and at most one new B (exact over the unknown systems).
    new_a_min = sum(min(o[1] for o in outcomes[s]) for s in SYSTEMS)
    new_a_max = sum(max(o[1] for o in outcomes[s]) for s in SYSTEMS)
    b_without_a = [[o[2] for o in outcomes[s] if o[1] == 0] for s in SYSTEMS]
    possible_pass = all(b_without_a) and sum(min(b) for b in b_without_a) <= 1
    new_b_min = sum(min(o[2] for o in outcomes[s]) for s in SYSTEMS)
    new_b_max = sum(max(o[2] for o in outcomes[s]) for s in SYSTEMS)
    no_new_flare: bool | None
    if new_a_max == 0 and new_b_max <= 1:
        no_new_flare = True
    elif not possible_pass:
        no_new_flare = False
    else:
        no_new_flare = None
    # The BILAG part as a whole: pass is possible only with an outcome per system that passes both.
    both = [[o for o in outcomes[s] if not o[0] and o[1] == 0] for s in SYSTEMS]
    bilag_possible = all(both) and sum(min(o[2] for o in b) for b in both) <= 1

    sledai_change = (
        None
        if data.followup_sledai2k is None or data.baseline_sledai2k is None
        else data.followup_sledai2k - data.baseline_sledai2k
    )
    sledai_ok = None if sledai_change is None else sledai_change <= 0
    pga_change = (
        None if data.followup_pga is None or data.baseline_pga is None else data.followup_pga - data.baseline_pga
    )
    if pga_change is None:
        pga_ok = None
    elif options.pga_worsening == "lt_0.3":
        pga_ok = pga_change < BICLA_PGA_WORSENING
    else:
        pga_ok = pga_change <= BICLA_PGA_WORSENING
    no_failure = None if data.treatment_failure is None else not data.treatment_failure

    components: dict[str, bool | None] = {
        "bilag_improvement": improvement,
        "no_new_a_and_at_most_1_new_b": no_new_flare,
        "no_sledai2k_worsening": sledai_ok,
        "no_pga_worsening": pga_ok,
        "no_treatment_failure": no_failure,
    }
    responder = all_of(components.values())
    if responder is None and not bilag_possible:
        responder = False  # every completion of the unknown grades fails component 1 or 2
    reasons: list[str] = []
    if any_baseline_ab is False:
        responder = None
        reasons.append("no BILAG-2004 A or B at baseline (BICLA needs moderate/severe baseline activity)")
    elif any_baseline_ab is None and responder is True:
        responder = None  # the unknown baseline grades may all be C-E
    missing = [name for name, value in values.items() if value is None]
    if responder is None and missing:
        reasons.append("not recorded: " + ", ".join(missing))
    failed = [name for name, ok in components.items() if ok is False]
    return BICLAResult(
        instrument="bicla",
        variant=f"BICLA (PGA increase {'< 0.3' if options.pga_worsening == 'lt_0.3' else '<= 0.3'})",
        source=BICLA_SOURCE,
        evaluable=responder is not None,
        reason="; ".join(reasons) or None,
        responder=responder,
        components=components,
        failed_components=failed,
        new_a_count=new_a_min if new_a_min == new_a_max else None,
        new_b_count=new_b_min if new_b_min == new_b_max else None,
        not_improved=not_improved,
        sledai_change=sledai_change,
        pga_change=pga_change,
    )


def _decide(per_system: list[list[bool]]) -> bool | None:
    """All systems pass for every possible value (True), some system fails for every value (False), else None."""
    if all(all(options) for options in per_system):
        return True
    if any(not any(options) for options in per_system):
        return False
    return None


# ---------------------------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------------------------

INSTRUMENTS: tuple[Instrument[Any, Any, Any], ...] = (
    Instrument(
        name="bilag2004",
        title="BILAG-2004 index",
        description="SLE activity in 9 systems graded A-E; A/B counts and numerical score (A=12, B=8, C=1).",
        source=BILAG2004_SOURCE,
        function=bilag2004,
        input_model=BILAG2004Input,
        options_model=BILAG2004Options,
        result_model=BILAG2004Result,
    ),
    Instrument(
        name="bicla",
        title="BICLA",
        description="BILAG-based Combined Lupus Assessment: BILAG improvement, no new flare, SLEDAI, PGA, no failure.",
        source=BICLA_SOURCE,
        function=bicla,
        input_model=BICLAInput,
        options_model=BICLAOptions,
        result_model=BICLAResult,
    ),
)
