"""IIM observation model: from the ``iim_cart`` model state to what a myositis clinic records at a visit.

The model (:mod:`immunoreset.models.iim_cart`) gives latent CK, aldolase, MMT-8 total, HAQ-DI and the three
global activities. A visit records them the way a clinic does — and nothing else, so the Total
Improvement Score is computed downstream by the real instrument:

* **CK and aldolase** with the laboratory's upper limits (``ck_uln`` by sex, ``aldolase_uln``) and a
  multiplicative measurement error (CV ``enzyme_cv``; assumption: assay plus day-to-day variation).
* **MMT-8** as eight Kendall 0-10 grades. The observed total is the latent total plus rater noise
  (SD ``mmt_total_sd``), rounded; the strength deficit ``80 - total`` is split over the eight groups in
  proportion to patient-specific weights (the typical weights ``mmt_group_weights`` — proximal and axial
  groups weakest, as in the 2017 EULAR/ACR criteria items — times a log-normal factor of CV
  ``group_weight_cv`` drawn once per patient), at most 10 per group (:func:`immunoreset.trial.emit.allocate`).
* **Globals** (0-10 cm VAS) with rater noise SD ``global_sd``, one decimal; **HAQ-DI** with noise SD
  ``haq_sd`` rounded to the instrument's 0.125 steps.

All numbers are assumptions unless a source is named.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from immunoreset.registry.records import ObservationRecord
from immunoreset.registry.vocabulary import MMT8_GROUPS
from immunoreset.trial.emit import allocate, lab_noise, numeric

__all__ = ["IIMObservationParameters", "IIMPatientTraits", "draw_traits", "observe_visit"]


@dataclass(frozen=True)
class IIMObservationParameters:
    """Parameters of the IIM observation model (assumptions)."""

    ck_uln_female_u_per_l: float = 170.0
    """CK upper limit of normal for women (typical laboratory reference; assumption)."""
    ck_uln_male_u_per_l: float = 190.0
    """CK upper limit of normal for men (typical laboratory reference; assumption)."""
    aldolase_uln_u_per_l: float = 7.6
    """Aldolase upper limit of normal (typical laboratory reference; assumption)."""
    enzyme_cv: float = 0.08
    """Measurement error of CK and aldolase (coefficient of variation; assumption)."""
    mmt_total_sd: float = 1.5
    """Rater noise on the MMT-8 total, points (assumption)."""
    mmt_group_weights: dict[str, float] = field(
        default_factory=lambda: {
            "neck_flexors": 0.17,
            "deltoid": 0.15,
            "biceps": 0.10,
            "wrist_extensors": 0.06,
            "gluteus_maximus": 0.16,
            "gluteus_medius": 0.15,
            "quadriceps": 0.13,
            "ankle_dorsiflexors": 0.08,
        }
    )
    """Share of the strength deficit per muscle group (assumption: proximal/axial predominance)."""
    group_weight_cv: float = 0.3
    """Patient-to-patient variation of the group weights (log-normal CV; assumption)."""
    global_sd: float = 0.4
    """Rater noise on the 0-10 global assessments (assumption)."""
    haq_sd: float = 0.1
    """Noise on HAQ-DI before rounding to 0.125 (assumption)."""


@dataclass(frozen=True)
class IIMPatientTraits:
    """What is fixed for one IIM patient: laboratory limits and the pattern of weakness."""

    ck_uln: float
    aldolase_uln: float
    group_weights: tuple[float, ...]


def draw_traits(
    rng: np.random.Generator, *, female: bool, params: IIMObservationParameters | None = None
) -> IIMPatientTraits:
    """Draw one patient's laboratory limits and muscle-group weights."""
    p = params or IIMObservationParameters()
    sigma = float(np.sqrt(np.log1p(p.group_weight_cv**2)))
    weights = tuple(float(p.mmt_group_weights[g] * np.exp(rng.normal(0.0, sigma))) for g in MMT8_GROUPS)
    uln = p.ck_uln_female_u_per_l if female else p.ck_uln_male_u_per_l
    return IIMPatientTraits(ck_uln=uln, aldolase_uln=p.aldolase_uln_u_per_l, group_weights=weights)


def _bounded(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def observe_visit(
    traits: IIMPatientTraits,
    state: Mapping[str, float],
    rng: np.random.Generator,
    *,
    assessment: bool,
    params: IIMObservationParameters | None = None,
) -> list[ObservationRecord]:
    """One visit's myositis observations. ``state`` holds the ``iim_cart`` outputs at the visit day.

    Laboratory values are recorded at every visit; MMT-8, globals and HAQ-DI only when ``assessment``.
    """
    p = params or IIMObservationParameters()
    out = [
        numeric("ck", lab_noise(state["ck"], p.enzyme_cv, rng), 0),
        numeric("ck_uln", traits.ck_uln, 0),
        numeric("aldolase", lab_noise(state["aldolase"], p.enzyme_cv, rng), 1),
        numeric("aldolase_uln", traits.aldolase_uln, 1),
    ]
    if not assessment:
        return out
    total = round(_bounded(state["mmt8"] + float(rng.normal(0.0, p.mmt_total_sd)), 0.0, 80.0))
    grades = allocate(80 - total, list(traits.group_weights), 10)
    out += [numeric(f"mmt8_{g}", 10 - d, 0) for g, d in zip(MMT8_GROUPS, grades, strict=True)]
    for code, key in (
        ("myo_physician_global", "physicianGlobal"),
        ("myo_patient_global", "patientGlobal"),
        ("myo_extramuscular_global", "extramuscularGlobal"),
    ):
        out.append(numeric(code, _bounded(state[key] + rng.normal(0.0, p.global_sd), 0.0, 10.0), 1))
    haq = _bounded(state["haqDi"] + rng.normal(0.0, p.haq_sd), 0.0, 3.0)
    out.append(numeric("myo_haq_di", round(haq * 8) / 8, 3))
    return out
