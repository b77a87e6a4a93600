"""SLE damage and cutaneous lupus: the SLICC/ACR Damage Index and the CLASI.

Instruments (registry names in brackets):

* SLICC/ACR Damage Index [``sdi``] — Gladman D, Ginzler E, Goldsmith C, et al. *The development and
  initial validation of the Systemic Lupus International Collaborating Clinics/American College of
  Rheumatology damage index for systemic lupus erythematosus.* Arthritis Rheum 1996;39(3):363–9,
  doi:10.1002/art.1780390303 (Table: items and scores). Item wording as reproduced from that table by
  the PhenX Toolkit (protocol 171001); reliability: Gladman DD, Urowitz MB, Goldsmith CH, et al.
  Arthritis Rheum 1997;40(5):809–13, doi:10.1002/art.1780400506. The separately circulated glossary of
  item definitions could not be confirmed against a primary text here; descriptions restate the
  item wording only.
* CLASI [``clasi``] — Albrecht J, Taylor L, Berlin JA, et al. *The CLASI (Cutaneous Lupus
  Erythematosus Disease Area and Severity Index): an outcome instrument for cutaneous lupus
  erythematosus.* J Invest Dermatol 2005;125(5):889–94, doi:10.1111/j.0022-202X.2005.23889.x; activity
  severity bands and improvement thresholds from Klein R, Moghadam-Kia S, LoMonico J, et al.
  *Development of the CLASI as a tool to measure disease severity and responsiveness to therapy in
  cutaneous lupus erythematosus.* Arch Dermatol 2011;147(2):203–8, doi:10.1001/archdermatol.2010.435;
  the CLASI-A 50 response as described by Chakka S, et al. J Am Acad Dermatol 2021;84(6):1562–7,
  doi:10.1016/j.jaad.2020.07.047.

SDI: 41 items in 12 organ systems, each scored only when the damage (an irreversible change, not due
to active inflammation, occurring since the onset of lupus, whatever its cause) has been present for
at least 6 months unless the item says otherwise ("ever" items count from the first event). Items are
scored 1, except six recurrent items scored 0, 1 or 2 (2 = more than one event or site; repeat
episodes must be at least 6 months apart): cerebrovascular accident, myocardial infarction,
significant tissue loss, infarction or resection of bowel/spleen/liver/gall bladder, avascular
necrosis and malignancy. End-stage renal disease scores 3 and replaces the other two renal items
(GFR < 50% and proteinuria >= 3.5 g/24 h), so the renal system scores at most 3 and the index at
most 47. Damage is present when SDI >= 1.

CLASI: activity = erythema (0-3) + scale/hypertrophy (0-2) in each of 13 areas (scalp, ears, nose
including the malar area, rest of the face, V-area of the neck, posterior neck and/or shoulders,
chest, abdomen, back and buttocks, arms, hands, legs, feet) + mucous membrane lesions (0-1) + recent
hair loss within the last 30 days (0-1) + non-scarring alopecia (0-3): 0-70. Damage = dyspigmentation
(0-1) in each of the 13 areas, the dyspigmentation sum doubled when dyspigmentation usually lasts at
least 12 months, + scarring/atrophy/panniculitis (0-2) in the 12 areas other than the scalp + scarring
of the scalp (0, 3, 4, 5 or 6): 0-56. Activity severity (Klein 2011): mild 0-9, moderate 10-20,
severe 21-70 (integers, so mild <= 9, moderate 10 <= A <= 20, severe >= 21). Change from a baseline
activity score: a decrease of >= 4 points, of >= 20%, and (CLASI-A 50) of >= 50%.

Every threshold is compared exactly (integer arithmetic; a percentage p of a baseline B is compared as
100 x decrease >= p x B). Decisions where the sources were not confirmed are listed in
``docs/instruments.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field

from immunoreset.instruments.base import (
    Exact,
    Instrument,
    InstrumentInput,
    InstrumentOptions,
    InstrumentResult,
    missing_reason,
    parse,
    reject_bool,
)

__all__ = [
    "CLASI_AREAS",
    "SDI_ITEMS",
    "SDI_SYSTEMS",
    "CLASIInput",
    "CLASIOptions",
    "CLASIResult",
    "SDIInput",
    "SDIOptions",
    "SDIResult",
    "clasi",
    "sdi",
]

SDI_SOURCE = "Gladman D et al. Arthritis Rheum 1996;39(3):363-9, doi:10.1002/art.1780390303 (SLICC/ACR Damage Index)"
CLASI_SOURCE = (
    "Albrecht J et al. J Invest Dermatol 2005;125(5):889-94, doi:10.1111/j.0022-202X.2005.23889.x; "
    "severity and improvement: Klein R et al. Arch Dermatol 2011;147(2):203-8, doi:10.1001/archdermatol.2010.435"
)


# ---------------------------------------------------------------------------------------------
# SLICC/ACR Damage Index
# ---------------------------------------------------------------------------------------------

Recurrent = Annotated[int, Field(ge=0, le=2), BeforeValidator(reject_bool)]
"""0 none, 1 one event/site, 2 more than one (repeat episodes at least 6 months apart)."""

SDI_SYSTEMS: tuple[str, ...] = (
    "ocular",
    "neuropsychiatric",
    "renal",
    "pulmonary",
    "cardiovascular",
    "peripheral_vascular",
    "gastrointestinal",
    "musculoskeletal",
    "skin",
    "premature_gonadal_failure",
    "diabetes",
    "malignancy",
)
"""The 12 organ systems of the SDI, in form order."""

SDI_ITEMS: dict[str, tuple[str, int]] = {
    # item: (organ system, maximum points)
    "cataract": ("ocular", 1),
    "retinal_change_or_optic_atrophy": ("ocular", 1),
    "cognitive_impairment_or_psychosis": ("neuropsychiatric", 1),
    "seizures_requiring_therapy_6_months": ("neuropsychiatric", 1),
    "cerebrovascular_accident": ("neuropsychiatric", 2),
    "cranial_or_peripheral_neuropathy": ("neuropsychiatric", 1),
    "transverse_myelitis": ("neuropsychiatric", 1),
    "gfr_below_50_percent": ("renal", 1),
    "proteinuria_3_5_g_per_24h": ("renal", 1),
    "end_stage_renal_disease": ("renal", 3),
    "pulmonary_hypertension": ("pulmonary", 1),
    "pulmonary_fibrosis": ("pulmonary", 1),
    "shrinking_lung": ("pulmonary", 1),
    "pleural_fibrosis": ("pulmonary", 1),
    "pulmonary_infarction": ("pulmonary", 1),
    "angina_or_coronary_bypass": ("cardiovascular", 1),
    "myocardial_infarction": ("cardiovascular", 2),
    "cardiomyopathy": ("cardiovascular", 1),
    "valvular_disease": ("cardiovascular", 1),
    "pericarditis_6_months_or_pericardiectomy": ("cardiovascular", 1),
    "claudication_6_months": ("peripheral_vascular", 1),
    "minor_tissue_loss": ("peripheral_vascular", 1),
    "significant_tissue_loss": ("peripheral_vascular", 2),
    "venous_thrombosis_with_sequelae": ("peripheral_vascular", 1),
    "gi_infarction_or_resection": ("gastrointestinal", 2),
    "mesenteric_insufficiency": ("gastrointestinal", 1),
    "chronic_peritonitis": ("gastrointestinal", 1),
    "stricture_or_upper_gi_surgery": ("gastrointestinal", 1),
    "pancreatic_insufficiency": ("gastrointestinal", 1),
    "muscle_atrophy_or_weakness": ("musculoskeletal", 1),
    "deforming_or_erosive_arthritis": ("musculoskeletal", 1),
    "osteoporosis_with_fracture": ("musculoskeletal", 1),
    "avascular_necrosis": ("musculoskeletal", 2),
    "osteomyelitis": ("musculoskeletal", 1),
    "tendon_rupture": ("musculoskeletal", 1),
    "scarring_chronic_alopecia": ("skin", 1),
    "extensive_scarring_or_panniculum": ("skin", 1),
    "skin_ulceration_6_months": ("skin", 1),
    "premature_gonadal_failure": ("premature_gonadal_failure", 1),
    "diabetes": ("diabetes", 1),
    "malignancy": ("malignancy", 2),
}
"""The 41 SDI items: organ system and maximum points (2 for the six recurrent items, 3 for ESRD)."""

SDI_RENAL_ESRD_POINTS = 3
SDI_MAX = 47
SDI_DAMAGE = 1  # damage present: SDI >= 1


class SDIInput(InstrumentInput):
    """SLICC/ACR Damage Index items, each as defined (present for >= 6 months unless the item says "ever").

    Items scored 1 are ``true``/``false``; the six recurrent items are whole numbers 0-2.
    """

    cataract: bool | None = Field(default=None, description="Ocular: any cataract ever, either eye (1).")
    retinal_change_or_optic_atrophy: bool | None = Field(
        default=None, description="Ocular: retinal change or optic atrophy, either eye (1)."
    )
    cognitive_impairment_or_psychosis: bool | None = Field(
        default=None,
        description="Neuropsychiatric: cognitive impairment (memory deficit, difficulty with calculation, poor "
        "concentration, difficulty in spoken or written language, impaired performance level) or major psychosis (1).",
    )
    seizures_requiring_therapy_6_months: bool | None = Field(
        default=None, description="Neuropsychiatric: seizures requiring therapy for 6 months (1)."
    )
    cerebrovascular_accident: Recurrent | None = Field(
        default=None, description="Neuropsychiatric: cerebrovascular accident ever: 0 none, 1 one, 2 more than one."
    )
    cranial_or_peripheral_neuropathy: bool | None = Field(
        default=None, description="Neuropsychiatric: cranial or peripheral neuropathy, excluding optic (1)."
    )
    transverse_myelitis: bool | None = Field(default=None, description="Neuropsychiatric: transverse myelitis (1).")
    gfr_below_50_percent: bool | None = Field(
        default=None,
        description="Renal: estimated or measured glomerular filtration rate < 50% (1; not added when ESRD).",
    )
    proteinuria_3_5_g_per_24h: bool | None = Field(
        default=None, description="Renal: proteinuria >= 3.5 g/24 h (1; not added when ESRD)."
    )
    end_stage_renal_disease: bool | None = Field(
        default=None,
        description="Renal: end-stage renal disease, regardless of dialysis or transplantation (3; replaces the "
        "other renal items, renal maximum 3).",
    )
    pulmonary_hypertension: bool | None = Field(
        default=None, description="Pulmonary: pulmonary hypertension (right ventricular prominence or loud P2) (1)."
    )
    pulmonary_fibrosis: bool | None = Field(
        default=None, description="Pulmonary: pulmonary fibrosis (physical examination and radiograph) (1)."
    )
    shrinking_lung: bool | None = Field(default=None, description="Pulmonary: shrinking lung (radiograph) (1).")
    pleural_fibrosis: bool | None = Field(default=None, description="Pulmonary: pleural fibrosis (radiograph) (1).")
    pulmonary_infarction: bool | None = Field(
        default=None, description="Pulmonary: pulmonary infarction (radiograph) (1)."
    )
    angina_or_coronary_bypass: bool | None = Field(
        default=None, description="Cardiovascular: angina or coronary artery bypass (1)."
    )
    myocardial_infarction: Recurrent | None = Field(
        default=None, description="Cardiovascular: myocardial infarction ever: 0 none, 1 one, 2 more than one."
    )
    cardiomyopathy: bool | None = Field(
        default=None, description="Cardiovascular: cardiomyopathy (ventricular dysfunction) (1)."
    )
    valvular_disease: bool | None = Field(
        default=None, description="Cardiovascular: valvular disease (diastolic murmur, or systolic murmur > 3/6) (1)."
    )
    pericarditis_6_months_or_pericardiectomy: bool | None = Field(
        default=None, description="Cardiovascular: pericarditis for 6 months, or pericardiectomy (1)."
    )
    claudication_6_months: bool | None = Field(
        default=None, description="Peripheral vascular: claudication for 6 months (1)."
    )
    minor_tissue_loss: bool | None = Field(
        default=None, description="Peripheral vascular: minor tissue loss (pulp space) (1)."
    )
    significant_tissue_loss: Recurrent | None = Field(
        default=None,
        description="Peripheral vascular: significant tissue loss ever (e.g. loss of digit or limb): 0 none, "
        "1 one site, 2 more than one site.",
    )
    venous_thrombosis_with_sequelae: bool | None = Field(
        default=None,
        description="Peripheral vascular: venous thrombosis with swelling, ulceration or venous stasis (1).",
    )
    gi_infarction_or_resection: Recurrent | None = Field(
        default=None,
        description="Gastrointestinal: infarction or resection of bowel below the duodenum, spleen, liver or gall "
        "bladder ever, for any cause: 0 none, 1 one site, 2 more than one site.",
    )
    mesenteric_insufficiency: bool | None = Field(
        default=None, description="Gastrointestinal: mesenteric insufficiency (1)."
    )
    chronic_peritonitis: bool | None = Field(default=None, description="Gastrointestinal: chronic peritonitis (1).")
    stricture_or_upper_gi_surgery: bool | None = Field(
        default=None, description="Gastrointestinal: stricture or upper gastrointestinal tract surgery ever (1)."
    )
    pancreatic_insufficiency: bool | None = Field(
        default=None,
        description="Gastrointestinal: pancreatic insufficiency requiring enzyme replacement or with pseudocyst (1).",
    )
    muscle_atrophy_or_weakness: bool | None = Field(
        default=None, description="Musculoskeletal: muscle atrophy or weakness (1)."
    )
    deforming_or_erosive_arthritis: bool | None = Field(
        default=None,
        description="Musculoskeletal: deforming or erosive arthritis, including reducible deformities, excluding "
        "avascular necrosis (1).",
    )
    osteoporosis_with_fracture: bool | None = Field(
        default=None,
        description="Musculoskeletal: osteoporosis with fracture or vertebral collapse, excluding avascular "
        "necrosis (1).",
    )
    avascular_necrosis: Recurrent | None = Field(
        default=None, description="Musculoskeletal: avascular necrosis: 0 none, 1 one, 2 more than one."
    )
    osteomyelitis: bool | None = Field(default=None, description="Musculoskeletal: osteomyelitis (1).")
    tendon_rupture: bool | None = Field(default=None, description="Musculoskeletal: ruptured tendon (1).")
    scarring_chronic_alopecia: bool | None = Field(default=None, description="Skin: scarring chronic alopecia (1).")
    extensive_scarring_or_panniculum: bool | None = Field(
        default=None, description="Skin: extensive scarring or panniculum other than scalp and pulp space (1)."
    )
    skin_ulceration_6_months: bool | None = Field(
        default=None, description="Skin: skin ulceration, excluding thrombosis, for more than 6 months (1)."
    )
    premature_gonadal_failure: bool | None = Field(default=None, description="Premature gonadal failure (1).")
    diabetes: bool | None = Field(default=None, description="Diabetes, regardless of treatment (1).")
    malignancy: Recurrent | None = Field(
        default=None, description="Malignancy, excluding dysplasia: 0 none, 1 one site, 2 more than one site."
    )


assert tuple(SDIInput.model_fields) == tuple(SDI_ITEMS)
assert len(SDI_ITEMS) == 41 and {system for system, _ in SDI_ITEMS.values()} == set(SDI_SYSTEMS)


class SDIOptions(InstrumentOptions):
    """The SDI has no published scoring variants; options exist for interface uniformity."""


class SDIResult(InstrumentResult):
    """SLICC/ACR Damage Index: total, organ-system subtotals and item scores."""

    TABLE_FIELDS: ClassVar[tuple[str, ...]] = ("systems",)

    total: int | None = Field(description="SDI, 0-47 (sum of the organ-system subtotals).")
    damage: bool | None = Field(description="Any damage: SDI >= 1 (decided when the known items already score).")
    systems: dict[str, int | None] = Field(
        description="Subtotal of each organ system (renal 3 when ESRD); null when an item it needs is not recorded."
    )
    items: dict[str, int | None] = Field(description="Points of each item as recorded (true = its points).")
    known_points: int = Field(description="Points of the items known (the total when every item is known).")
    max_possible: int = Field(description="Highest total the unrecorded items still allow.")
    not_recorded: list[str]

    def headline(self) -> str:
        if self.total is None:
            if self.damage:
                return f"damage (SDI >= {self.known_points} known)"
            return "not evaluable"
        return f"{self.total} ({'damage' if self.damage else 'no damage'})"


def _sdi_points(name: str, value: bool | int | None) -> int | None:
    if value is None:
        return None
    maximum = SDI_ITEMS[name][1]
    if isinstance(value, bool):
        return maximum if value else 0
    return value


def sdi(inputs: SDIInput | Mapping[str, Any], *, options: SDIOptions | Mapping[str, Any] | None = None) -> SDIResult:
    """SLICC/ACR Damage Index for SLE.

    Source: Gladman D, Ginzler E, Goldsmith C, et al. Arthritis Rheum 1996;39(3):363–9,
    doi:10.1002/art.1780390303. 41 items in 12 organ systems, each recorded
    when present for at least 6 months (unless "ever"); items score 1, six recurrent items 0–2 (2 when
    more than one event or site, at least 6 months apart), end-stage renal disease 3 in place of the
    other renal items. Total 0–47; damage when the total is ``>= 1``.

    An unrecorded item leaves the total unknown, but damage is still decided when the known items
    already score at least 1; with end-stage renal disease the other two renal items are not needed.
    """
    inputs = parse(SDIInput, inputs)
    parse(SDIOptions, options)
    items = {name: _sdi_points(name, getattr(inputs, name)) for name in SDI_ITEMS}

    systems: dict[str, int | None] = {}
    known = 0
    possible = 0
    needed_missing: list[str] = []
    for system in SDI_SYSTEMS:
        names = [name for name, (sys_name, _) in SDI_ITEMS.items() if sys_name == system]
        if system == "renal":
            esrd = items["end_stage_renal_disease"]
            others = [n for n in names if n != "end_stage_renal_disease"]
            other_known = sum(items[n] or 0 for n in others)
            other_possible = sum(SDI_ITEMS[n][1] if items[n] is None else items[n] or 0 for n in others)
            if esrd:
                low = high = SDI_RENAL_ESRD_POINTS
                missing_here: list[str] = []
            elif esrd == 0:
                low, high = other_known, other_possible
                missing_here = [n for n in others if items[n] is None]
            else:  # ESRD unknown: 3 if present, else the other two
                low, high = other_known, max(SDI_RENAL_ESRD_POINTS, other_possible)
                missing_here = ["end_stage_renal_disease"] + [n for n in others if items[n] is None]
        else:
            low = sum(items[n] or 0 for n in names)
            high = sum(SDI_ITEMS[n][1] if items[n] is None else items[n] or 0 for n in names)
            missing_here = [n for n in names if items[n] is None]
        systems[system] = low if not missing_here else None
        known += low
        possible += high
        needed_missing += missing_here

    total = known if not needed_missing else None
    damage: bool | None
    if known >= SDI_DAMAGE:
        damage = True
    elif possible < SDI_DAMAGE:
        damage = False
    else:
        damage = None
    reason = None
    if needed_missing:
        reason = missing_reason(needed_missing)
        if damage is not None:
            reason += f" (damage decided: {known} points known)"
    return SDIResult(
        instrument="sdi",
        variant="SLICC/ACR Damage Index (1996)",
        source=SDI_SOURCE,
        evaluable=total is not None,
        reason=reason,
        total=total,
        damage=damage,
        systems=systems,
        items=items,
        known_points=known,
        max_possible=possible,
        not_recorded=[name for name, value in items.items() if value is None],
    )


# ---------------------------------------------------------------------------------------------
# CLASI (Albrecht 2005; Klein 2011)
# ---------------------------------------------------------------------------------------------

Erythema = Annotated[int, Field(ge=0, le=3), BeforeValidator(reject_bool)]
Scale = Annotated[int, Field(ge=0, le=2), BeforeValidator(reject_bool)]
Presence = Annotated[int, Field(ge=0, le=1), BeforeValidator(reject_bool)]
Scarring = Annotated[int, Field(ge=0, le=2), BeforeValidator(reject_bool)]
Alopecia = Annotated[int, Field(ge=0, le=3), BeforeValidator(reject_bool)]

_ERYTHEMA = "0 absent, 1 pink/faint erythema, 2 red, 3 dark red/purple/violaceous/crusted/haemorrhagic."
_SCALE = "0 absent, 1 scale, 2 verrucous/hypertrophic."
_DYSPIGMENTATION = "0 absent, 1 dyspigmentation (doubled for the whole score when it usually lasts >= 12 months)."
_SCARRING = "0 absent, 1 scarring, 2 severely atrophic scarring or panniculitis."

CLASI_AREAS: tuple[str, ...] = (
    "scalp",
    "ears",
    "nose_malar",
    "rest_of_face",
    "v_area_neck",
    "posterior_neck_shoulders",
    "chest",
    "abdomen",
    "back_buttocks",
    "arms",
    "hands",
    "legs",
    "feet",
)
"""The 13 CLASI anatomical areas, in form order (the nose area includes the malar area)."""
CLASI_SCARRING_AREAS = CLASI_AREAS[1:]  # the scalp's scarring is scored as 'scarring of the scalp'
CLASI_ACTIVITY_MAX = 70
CLASI_DAMAGE_MAX = 56
CLASI_MILD_MAX = 9  # mild: activity 0-9
CLASI_MODERATE_MAX = 20  # moderate: 10-20; severe: 21-70
CLASI_IMPROVEMENT_POINTS = 4  # decrease >= 4 points (Klein 2011)
CLASI_IMPROVEMENT_PERCENT = 20  # decrease >= 20% (Klein 2011)
CLASI_A50_PERCENT = 50  # decrease >= 50% (CLASI-A 50)


class CLASIInput(InstrumentInput):
    """One CLASI assessment: each area's worst lesion, scored on the CLASI form (integers).

    Activity: erythema and scale/hypertrophy in 13 areas, mucous membrane lesions, recent hair loss and
    non-scarring alopecia. Damage: dyspigmentation in 13 areas (with its 12-month duration), scarring/
    atrophy/panniculitis in the 12 areas other than the scalp, and scarring of the scalp. Optionally the
    baseline activity score, for the change from baseline.
    """

    erythema_scalp: Erythema | None = Field(default=None, description="Erythema, scalp: " + _ERYTHEMA)
    scale_scalp: Scale | None = Field(default=None, description="Scale/hypertrophy, scalp: " + _SCALE)
    erythema_ears: Erythema | None = Field(default=None, description="Erythema, ears: " + _ERYTHEMA)
    scale_ears: Scale | None = Field(default=None, description="Scale/hypertrophy, ears: " + _SCALE)
    erythema_nose_malar: Erythema | None = Field(
        default=None, description="Erythema, nose (including the malar area): " + _ERYTHEMA
    )
    scale_nose_malar: Scale | None = Field(
        default=None, description="Scale/hypertrophy, nose (including the malar area): " + _SCALE
    )
    erythema_rest_of_face: Erythema | None = Field(default=None, description="Erythema, rest of the face: " + _ERYTHEMA)
    scale_rest_of_face: Scale | None = Field(default=None, description="Scale/hypertrophy, rest of the face: " + _SCALE)
    erythema_v_area_neck: Erythema | None = Field(
        default=None, description="Erythema, V-area of the neck (frontal): " + _ERYTHEMA
    )
    scale_v_area_neck: Scale | None = Field(
        default=None, description="Scale/hypertrophy, V-area of the neck (frontal): " + _SCALE
    )
    erythema_posterior_neck_shoulders: Erythema | None = Field(
        default=None, description="Erythema, posterior neck and/or shoulders: " + _ERYTHEMA
    )
    scale_posterior_neck_shoulders: Scale | None = Field(
        default=None, description="Scale/hypertrophy, posterior neck and/or shoulders: " + _SCALE
    )
    erythema_chest: Erythema | None = Field(default=None, description="Erythema, chest: " + _ERYTHEMA)
    scale_chest: Scale | None = Field(default=None, description="Scale/hypertrophy, chest: " + _SCALE)
    erythema_abdomen: Erythema | None = Field(default=None, description="Erythema, abdomen: " + _ERYTHEMA)
    scale_abdomen: Scale | None = Field(default=None, description="Scale/hypertrophy, abdomen: " + _SCALE)
    erythema_back_buttocks: Erythema | None = Field(
        default=None, description="Erythema, back and buttocks: " + _ERYTHEMA
    )
    scale_back_buttocks: Scale | None = Field(
        default=None, description="Scale/hypertrophy, back and buttocks: " + _SCALE
    )
    erythema_arms: Erythema | None = Field(default=None, description="Erythema, arms: " + _ERYTHEMA)
    scale_arms: Scale | None = Field(default=None, description="Scale/hypertrophy, arms: " + _SCALE)
    erythema_hands: Erythema | None = Field(default=None, description="Erythema, hands: " + _ERYTHEMA)
    scale_hands: Scale | None = Field(default=None, description="Scale/hypertrophy, hands: " + _SCALE)
    erythema_legs: Erythema | None = Field(default=None, description="Erythema, legs: " + _ERYTHEMA)
    scale_legs: Scale | None = Field(default=None, description="Scale/hypertrophy, legs: " + _SCALE)
    erythema_feet: Erythema | None = Field(default=None, description="Erythema, feet: " + _ERYTHEMA)
    scale_feet: Scale | None = Field(default=None, description="Scale/hypertrophy, feet: " + _SCALE)
    dyspigmentation_scalp: Presence | None = Field(
        default=None, description="Dyspigmentation, scalp: " + _DYSPIGMENTATION
    )
    dyspigmentation_ears: Presence | None = Field(
        default=None, description="Dyspigmentation, ears: " + _DYSPIGMENTATION
    )
    dyspigmentation_nose_malar: Presence | None = Field(
        default=None, description="Dyspigmentation, nose (including the malar area): " + _DYSPIGMENTATION
    )
    dyspigmentation_rest_of_face: Presence | None = Field(
        default=None, description="Dyspigmentation, rest of the face: " + _DYSPIGMENTATION
    )
    dyspigmentation_v_area_neck: Presence | None = Field(
        default=None, description="Dyspigmentation, V-area of the neck (frontal): " + _DYSPIGMENTATION
    )
    dyspigmentation_posterior_neck_shoulders: Presence | None = Field(
        default=None, description="Dyspigmentation, posterior neck and/or shoulders: " + _DYSPIGMENTATION
    )
    dyspigmentation_chest: Presence | None = Field(
        default=None, description="Dyspigmentation, chest: " + _DYSPIGMENTATION
    )
    dyspigmentation_abdomen: Presence | None = Field(
        default=None, description="Dyspigmentation, abdomen: " + _DYSPIGMENTATION
    )
    dyspigmentation_back_buttocks: Presence | None = Field(
        default=None, description="Dyspigmentation, back and buttocks: " + _DYSPIGMENTATION
    )
    dyspigmentation_arms: Presence | None = Field(
        default=None, description="Dyspigmentation, arms: " + _DYSPIGMENTATION
    )
    dyspigmentation_hands: Presence | None = Field(
        default=None, description="Dyspigmentation, hands: " + _DYSPIGMENTATION
    )
    dyspigmentation_legs: Presence | None = Field(
        default=None, description="Dyspigmentation, legs: " + _DYSPIGMENTATION
    )
    dyspigmentation_feet: Presence | None = Field(
        default=None, description="Dyspigmentation, feet: " + _DYSPIGMENTATION
    )
    scarring_ears: Scarring | None = Field(
        default=None, description="Scarring/atrophy/panniculitis, ears: " + _SCARRING
    )
    scarring_nose_malar: Scarring | None = Field(
        default=None, description="Scarring/atrophy/panniculitis, nose (including the malar area): " + _SCARRING
    )
    scarring_rest_of_face: Scarring | None = Field(
        default=None, description="Scarring/atrophy/panniculitis, rest of the face: " + _SCARRING
    )
    scarring_v_area_neck: Scarring | None = Field(
        default=None, description="Scarring/atrophy/panniculitis, V-area of the neck (frontal): " + _SCARRING
    )
    scarring_posterior_neck_shoulders: Scarring | None = Field(
        default=None, description="Scarring/atrophy/panniculitis, posterior neck and/or shoulders: " + _SCARRING
    )
    scarring_chest: Scarring | None = Field(
        default=None, description="Scarring/atrophy/panniculitis, chest: " + _SCARRING
    )
    scarring_abdomen: Scarring | None = Field(
        default=None, description="Scarring/atrophy/panniculitis, abdomen: " + _SCARRING
    )
    scarring_back_buttocks: Scarring | None = Field(
        default=None, description="Scarring/atrophy/panniculitis, back and buttocks: " + _SCARRING
    )
    scarring_arms: Scarring | None = Field(
        default=None, description="Scarring/atrophy/panniculitis, arms: " + _SCARRING
    )
    scarring_hands: Scarring | None = Field(
        default=None, description="Scarring/atrophy/panniculitis, hands: " + _SCARRING
    )
    scarring_legs: Scarring | None = Field(
        default=None, description="Scarring/atrophy/panniculitis, legs: " + _SCARRING
    )
    scarring_feet: Scarring | None = Field(
        default=None, description="Scarring/atrophy/panniculitis, feet: " + _SCARRING
    )
    mucous_membrane_lesions: Presence | None = Field(
        default=None,
        description="Mucous membrane lesions (examine if the patient confirms involvement): 0 absent, "
        "1 lesion or ulceration.",
    )
    recent_hair_loss: Presence | None = Field(
        default=None, description="Recent hair loss, within the last 30 days as reported by the patient: 0 no, 1 yes."
    )
    nonscarring_alopecia: Alopecia | None = Field(
        default=None,
        description="Alopecia not obviously scarred, judged clinically: 0 absent, 1 diffuse non-inflammatory, "
        "2 focal or patchy in one scalp quadrant, 3 focal or patchy in more than one quadrant.",
    )
    scalp_scarring: Literal[0, 3, 4, 5, 6] | None = Field(
        default=None,
        description="Scarring of the scalp, judged clinically: 0 absent, 3 in one quadrant, 4 two quadrants, "
        "5 three quadrants, 6 the whole skull.",
    )
    dyspigmentation_lasts_12_months: bool | None = Field(
        default=None,
        description="Dyspigmentation usually lasts at least 12 months after active lesions resolve (patient's "
        "report): true doubles the dyspigmentation score; needed only when dyspigmentation is present.",
    )
    baseline_activity: int | None = Field(
        default=None,
        ge=0,
        le=CLASI_ACTIVITY_MAX,
        description="Optional CLASI activity score at baseline (0-70), for the change from baseline.",
    )


CLASI_ACTIVITY_FIELDS: tuple[str, ...] = (
    *(f"{kind}_{area}" for area in CLASI_AREAS for kind in ("erythema", "scale")),
    "mucous_membrane_lesions",
    "recent_hair_loss",
    "nonscarring_alopecia",
)
CLASI_DAMAGE_FIELDS: tuple[str, ...] = (
    *(f"dyspigmentation_{area}" for area in CLASI_AREAS),
    *(f"scarring_{area}" for area in CLASI_SCARRING_AREAS),
    "scalp_scarring",
    "dyspigmentation_lasts_12_months",
)
assert set(CLASIInput.model_fields) == {*CLASI_ACTIVITY_FIELDS, *CLASI_DAMAGE_FIELDS, "baseline_activity"}
assert all(len(name) <= 40 for name in CLASIInput.model_fields)


class CLASIOptions(InstrumentOptions):
    """Options of :func:`clasi`."""

    scores: Literal["activity_and_damage", "activity", "damage"] = Field(
        default="activity_and_damage",
        description="Which scores the assessment recorded: both (default; every item needed for an evaluable "
        "result), 'activity' only (CLASI-A; damage items not needed) or 'damage' only (CLASI-D).",
    )


ActivitySeverity = Literal["mild", "moderate", "severe"]


class CLASIResult(InstrumentResult):
    """CLASI activity and damage scores, activity severity and change from a baseline activity score."""

    TABLE_FIELDS: ClassVar[tuple[str, ...]] = ("activity", "activity_severity", "damage", "clasi_a_50")

    activity: int | None = Field(description="CLASI activity score (CLASI-A), 0-70.")
    damage: int | None = Field(description="CLASI damage score (CLASI-D), 0-56.")
    activity_severity: ActivitySeverity | None = Field(
        description="Klein 2011: mild 0-9, moderate 10-20, severe 21-70 (decided from the known items when certain)."
    )
    activity_components: dict[str, int | None] = Field(
        description="Erythema, scale/hypertrophy, mucous membrane, recent hair loss and alopecia points."
    )
    damage_components: dict[str, int | None] = Field(
        description="Dyspigmentation (as recorded and as scored), scarring/atrophy/panniculitis, scalp scarring."
    )
    dyspigmentation_doubled: bool | None = Field(description="Dyspigmentation lasting >= 12 months: its sum doubled.")
    activity_known_points: int = Field(description="Activity points of the items known.")
    activity_max_possible: int = Field(description="Highest activity score the unrecorded items still allow.")
    baseline_activity: int | None
    activity_change: int | None = Field(description="Activity minus baseline activity (negative = improvement).")
    percent_reduction: Exact | None = Field(
        description="Decrease from baseline as % of baseline, to 0.1 (display only; flags compare exactly)."
    )
    decrease_4_points: bool | None = Field(description="Activity decreased by >= 4 points (Klein 2011).")
    decrease_20_percent: bool | None = Field(description="Activity decreased by >= 20% of baseline (Klein 2011).")
    clasi_a_50: bool | None = Field(description="CLASI-A 50: activity decreased by >= 50% of baseline.")
    not_recorded: list[str]

    def headline(self) -> str:
        parts: list[str] = []
        if self.activity is not None:
            parts.append(f"A {self.activity} ({self.activity_severity})")
        elif self.activity_severity is not None:
            parts.append(f"A {self.activity_severity} (>= {self.activity_known_points} known)")
        if self.damage is not None:
            parts.append(f"D {self.damage}")
        if self.clasi_a_50 is not None:
            parts.append("CLASI-A 50" if self.clasi_a_50 else "no CLASI-A 50")
        return ", ".join(parts) if parts else "not evaluable"


def _severity(points: int) -> ActivitySeverity:
    if points <= CLASI_MILD_MAX:
        return "mild"
    if points <= CLASI_MODERATE_MAX:
        return "moderate"
    return "severe"


def _sum_known(values: list[int | None]) -> int | None:
    return None if any(v is None for v in values) else sum(v for v in values if v is not None)


def clasi(
    inputs: CLASIInput | Mapping[str, Any], *, options: CLASIOptions | Mapping[str, Any] | None = None
) -> CLASIResult:
    """Cutaneous Lupus Erythematosus Disease Area and Severity Index (CLASI).

    Source: Albrecht J, Taylor L, Berlin JA, et al. J Invest Dermatol 2005;125(5):889–94; Klein R et
    al. Arch Dermatol 2011;147(2):203–8. Activity (0–70) = erythema 0–3 + scale/hypertrophy 0–2 in 13
    areas + mucous membrane lesions 0–1 + recent hair loss 0–1 + non-scarring alopecia 0–3. Damage
    (0–56) = dyspigmentation 0–1 in 13 areas (sum doubled when dyspigmentation usually lasts ``>= 12``
    months) + scarring/atrophy/panniculitis 0–2 in 12 areas (not the scalp) + scarring of the scalp
    (0, 3, 4, 5, 6). Activity severity: mild ``<= 9``, moderate 10–20, severe ``>= 21``. From a
    baseline activity B to activity A: decrease ``B - A >= 4`` points; ``>= 20%`` and CLASI-A 50
    (``>= 50%``) of B, compared as ``100 x (B - A) >= p x B`` (undefined when B is 0).
    """
    inputs = parse(CLASIInput, inputs)
    options = parse(CLASIOptions, options)
    value = {name: getattr(inputs, name) for name in CLASIInput.model_fields}

    # activity
    erythema = [value[f"erythema_{area}"] for area in CLASI_AREAS]
    scale = [value[f"scale_{area}"] for area in CLASI_AREAS]
    activity_components = {
        "erythema": _sum_known(erythema),
        "scale_hypertrophy": _sum_known(scale),
        "mucous_membrane_lesions": value["mucous_membrane_lesions"],
        "recent_hair_loss": value["recent_hair_loss"],
        "nonscarring_alopecia": value["nonscarring_alopecia"],
    }
    activity_maxima = {f"erythema_{a}": 3 for a in CLASI_AREAS} | {f"scale_{a}": 2 for a in CLASI_AREAS}
    activity_maxima |= {"mucous_membrane_lesions": 1, "recent_hair_loss": 1, "nonscarring_alopecia": 3}
    assert sum(activity_maxima.values()) == CLASI_ACTIVITY_MAX
    activity_missing = [name for name in CLASI_ACTIVITY_FIELDS if value[name] is None]
    activity_known = sum(value[name] or 0 for name in CLASI_ACTIVITY_FIELDS)
    activity_possible = activity_known + sum(activity_maxima[name] for name in activity_missing)
    activity = activity_known if not activity_missing else None
    low, high = _severity(activity_known), _severity(activity_possible)
    severity: ActivitySeverity | None = low if low == high else None

    # damage
    dysp = [value[f"dyspigmentation_{area}"] for area in CLASI_AREAS]
    scars = [value[f"scarring_{area}"] for area in CLASI_SCARRING_AREAS]
    dysp_sum = _sum_known(dysp)
    doubled: bool | None = value["dyspigmentation_lasts_12_months"]
    damage_missing = [n for n in CLASI_DAMAGE_FIELDS[:-1] if value[n] is None]
    if dysp_sum == 0:
        doubled_needed = False
    else:  # dyspigmentation present, or possibly present: its duration decides the points
        doubled_needed = doubled is None
    if doubled_needed:
        damage_missing.append("dyspigmentation_lasts_12_months")
    dysp_points: int | None
    if dysp_sum is None:
        dysp_points = None
    elif dysp_sum == 0:
        dysp_points = 0
    else:
        dysp_points = None if doubled is None else dysp_sum * (2 if doubled else 1)
    scar_sum = _sum_known(scars)
    damage_components = {
        "dyspigmentation": dysp_sum,
        "dyspigmentation_points": dysp_points,
        "scarring_atrophy_panniculitis": scar_sum,
        "scalp_scarring": value["scalp_scarring"],
    }
    damage: int | None = None
    if not damage_missing:
        assert dysp_points is not None and scar_sum is not None and value["scalp_scarring"] is not None
        damage = dysp_points + scar_sum + value["scalp_scarring"]

    # change from baseline activity
    baseline = inputs.baseline_activity
    change = percent = None
    dec4 = dec20 = a50 = None
    if baseline is not None and activity is not None:
        decrease = baseline - activity
        change = activity - baseline
        dec4 = decrease >= CLASI_IMPROVEMENT_POINTS
        if baseline > 0:
            percent = (Decimal(100 * decrease) / Decimal(baseline)).quantize(Decimal("0.1"))
            dec20 = 100 * decrease >= CLASI_IMPROVEMENT_PERCENT * baseline
            a50 = 100 * decrease >= CLASI_A50_PERCENT * baseline

    needed = {
        "activity_and_damage": activity_missing + damage_missing,
        "activity": activity_missing,
        "damage": damage_missing,
    }[options.scores]
    reasons: list[str] = []
    if needed:
        reasons.append(missing_reason(needed))
        if severity is not None and activity is None:
            reasons.append(f"activity severity decided: {activity_known}-{activity_possible} points possible")
    if baseline is not None and activity is not None and baseline == 0:
        reasons.append("baseline activity 0: percentage change undefined")
    return CLASIResult(
        instrument="clasi",
        variant={
            "activity_and_damage": "CLASI (activity and damage)",
            "activity": "CLASI activity (CLASI-A)",
            "damage": "CLASI damage (CLASI-D)",
        }[options.scores],
        source=CLASI_SOURCE,
        evaluable=not needed,
        reason="; ".join(reasons) or None,
        activity=activity,
        damage=damage,
        activity_severity=severity,
        activity_components=activity_components,
        damage_components=damage_components,
        dyspigmentation_doubled=doubled if dysp_sum != 0 else False,
        activity_known_points=activity_known,
        activity_max_possible=activity_possible,
        baseline_activity=baseline,
        activity_change=change,
        percent_reduction=percent,
        decrease_4_points=dec4,
        decrease_20_percent=dec20,
        clasi_a_50=a50,
        not_recorded=[name for name in CLASI_ACTIVITY_FIELDS + CLASI_DAMAGE_FIELDS if value[name] is None],
    )


# ---------------------------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------------------------

INSTRUMENTS: tuple[Instrument[Any, Any, Any], ...] = (
    Instrument(
        name="sdi",
        title="SLICC/ACR Damage Index",
        description="SLE damage: 41 items in 12 organ systems (recurrent items 0-2, ESRD 3), total 0-47; damage >= 1.",
        source=SDI_SOURCE,
        function=sdi,
        input_model=SDIInput,
        options_model=SDIOptions,
        result_model=SDIResult,
    ),
    Instrument(
        name="clasi",
        title="CLASI",
        description="Cutaneous lupus activity 0-70 (mild <= 9, moderate 10-20, severe >= 21) and damage 0-56.",
        source=CLASI_SOURCE,
        function=clasi,
        input_model=CLASIInput,
        options_model=CLASIOptions,
        result_model=CLASIResult,
    ),
)
