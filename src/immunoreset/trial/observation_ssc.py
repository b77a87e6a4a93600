"""SSc observation model: from the ``ssc_cart`` model state to what a scleroderma clinic records at a visit.

The model (:mod:`immunoreset.models.ssc_cart`) gives latent skin score, CRP, FVC, DLCO, globals, HAQ-DI,
anti-Scl-70 (relative) and inflammation. A visit records the raw inputs of EUSTAR-AI and CRISS — never
the scores:

* **mRSS** as 17 area grades 0-3. The observed total is the latent skin score plus assessor noise
  (SD ``mrss_sd``), rounded; it is split over the areas in proportion to patient-specific weights
  (``area_weights`` — distal limbs most, trunk least, the usual diffuse cutaneous pattern — times a
  log-normal factor of CV ``area_weight_cv`` drawn once), at most 3 per area
  (:func:`immunoreset.trial.emit.allocate`).
* **Patient-reported skin worsening, digital ulcers, tendon friction rubs**: present at baseline with
  the prevalences ``baseline_prevalence``; each present item persists while the model's inflammation is
  at or above a patient- and item-specific threshold drawn uniformly in ``resolution_threshold`` (as the
  SLE clinical descriptors do), and returns if inflammation rises again. Skin worsening is also
  reported without disease activity with probability ``spurious_worsening`` per visit.
* **CRP** (mg/L) with measurement error CV ``crp_cv`` and a detection limit ``crp_lod``; **FVC and DLCO**
  (% predicted) with test-retest noise; **anti-Scl-70** (U/mL) = the patient's baseline titre × the
  model's relative level, with error CV ``antibody_cv``, and the assay ULN.
* **Globals** (0-10) and **HAQ-DI** (0.125 steps) with rater noise.

Eligibility: the trial enrols patients with active disease; :func:`baseline_eustar_ai` gives the
revised EUSTAR-AI of the noise-free baseline (by :func:`immunoreset.instruments.ssc.eustar_ai`) so that
the trial can redraw patients below ``minimum_baseline_eustar_ai`` (assumption: refractory, active SSc).
All numbers are assumptions unless a source is named.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np

from immunoreset.instruments.ssc import eustar_ai
from immunoreset.registry.records import ObservationRecord
from immunoreset.registry.vocabulary import MRSS_AREAS
from immunoreset.trial.emit import allocate, lab_noise, numeric, yes_no

__all__ = ["SScObservationParameters", "SScPatientTraits", "baseline_eustar_ai", "draw_traits", "observe_visit"]

ITEMS = ("skin_worsening", "digital_ulcers", "tendon_friction_rubs")


@dataclass(frozen=True)
class SScObservationParameters:
    """Parameters of the SSc observation model (assumptions)."""

    anti_scl70_uln_u_per_ml: float = 10.0
    """Anti-Scl-70 assay cut-off (common EliA cut-off; laboratory-specific; assumption)."""
    antibody_cv: float = 0.1
    crp_cv: float = 0.1
    crp_lod_mg_per_l: float = 0.3
    fvc_sd: float = 2.0
    """Test-retest SD of FVC, % predicted (assumption)."""
    dlco_sd: float = 3.0
    """Test-retest SD of DLCO, % predicted (assumption)."""
    mrss_sd: float = 1.5
    """Noise of one trained assessor's mRSS total (assumption)."""
    area_weights: dict[str, float] = field(
        default_factory=lambda: {
            "face": 0.07,
            "anterior_chest": 0.05,
            "abdomen": 0.04,
            "fingers_right": 0.095,
            "fingers_left": 0.095,
            "dorsum_hand_right": 0.08,
            "dorsum_hand_left": 0.08,
            "forearm_right": 0.07,
            "forearm_left": 0.07,
            "upper_arm_right": 0.05,
            "upper_arm_left": 0.05,
            "thigh_right": 0.035,
            "thigh_left": 0.035,
            "lower_leg_right": 0.05,
            "lower_leg_left": 0.05,
            "dorsum_foot_right": 0.04,
            "dorsum_foot_left": 0.04,
        }
    )
    """Share of the skin score per area (assumption: diffuse cutaneous SSc, distal > proximal > trunk)."""
    area_weight_cv: float = 0.3
    baseline_prevalence: dict[str, float] = field(
        default_factory=lambda: {"skin_worsening": 0.6, "digital_ulcers": 0.3, "tendon_friction_rubs": 0.15}
    )
    """Probability that an EUSTAR-AI clinical item is present at baseline (assumption; active dcSSc)."""
    resolution_threshold: tuple[float, float] = (0.05, 0.5)
    """Inflammation (1 = baseline) below which a present item resolves (assumption)."""
    spurious_worsening: float = 0.03
    """Probability per visit of reported skin worsening without disease activity (assumption)."""
    global_sd: float = 0.4
    haq_sd: float = 0.1
    minimum_baseline_eustar_ai: float = 2.5
    """Eligibility: active disease by the revised EUSTAR-AI cut-off (Valentini 2017; assumption for the trial)."""


@dataclass(frozen=True)
class SScPatientTraits:
    """What is fixed for one SSc patient: baseline items, their thresholds, skin pattern, antibody titre."""

    present: tuple[str, ...]
    thresholds: dict[str, float]
    area_weights: tuple[float, ...]
    anti_scl70_baseline: float


def draw_traits(
    rng: np.random.Generator, *, anti_scl70_baseline: float, params: SScObservationParameters | None = None
) -> SScPatientTraits:
    """Draw one patient's baseline items, resolution thresholds and skin-area weights."""
    p = params or SScObservationParameters()
    present = tuple(name for name in ITEMS if rng.uniform() < p.baseline_prevalence[name])
    low, high = p.resolution_threshold
    thresholds = {name: float(rng.uniform(low, high)) for name in present}
    sigma = float(np.sqrt(np.log1p(p.area_weight_cv**2)))
    weights = tuple(float(p.area_weights[a] * np.exp(rng.normal(0.0, sigma))) for a in MRSS_AREAS)
    return SScPatientTraits(present, thresholds, weights, anti_scl70_baseline)


def baseline_eustar_ai(traits: SScPatientTraits, *, mrss0: float, crp0: float, dlco0: float) -> Decimal:
    """Revised EUSTAR-AI of the noise-free baseline (eligibility screen), by the real instrument."""
    result = eustar_ai(
        {
            "delta_skin": "skin_worsening" in traits.present,
            "digital_ulcers": "digital_ulcers" in traits.present,
            "tendon_friction_rubs": "tendon_friction_rubs" in traits.present,
            "mrss": round(mrss0),
            "crp": {"value": Decimal(f"{crp0:.2f}"), "unit": "mg/L"},
            "dlco_percent_predicted": Decimal(f"{dlco0:.1f}"),
        }
    )
    assert result.total is not None  # all six items given
    return Decimal(result.total)


def _bounded(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def observe_visit(
    traits: SScPatientTraits,
    state: Mapping[str, float],
    rng: np.random.Generator,
    *,
    assessment: bool,
    params: SScObservationParameters | None = None,
) -> list[ObservationRecord]:
    """One visit's SSc observations. ``state`` holds the ``ssc_cart`` outputs at the visit day.

    CRP and anti-Scl-70 are recorded at every visit; skin, lung function, items, globals and HAQ-DI only
    when ``assessment``.
    """
    p = params or SScObservationParameters()
    crp = max(lab_noise(state["crp"], p.crp_cv, rng), p.crp_lod_mg_per_l)
    out = [
        numeric("crp", crp, 1),
        numeric("anti_scl70", lab_noise(traits.anti_scl70_baseline * state["antiScl70"], p.antibody_cv, rng), 0),
        numeric("anti_scl70_uln", p.anti_scl70_uln_u_per_ml, 0),
    ]
    if not assessment:
        return out
    total = round(_bounded(state["mrss"] + float(rng.normal(0.0, p.mrss_sd)), 0.0, 51.0))
    grades = allocate(total, list(traits.area_weights), 3)
    out += [numeric(f"mrss_{a}", g, 0) for a, g in zip(MRSS_AREAS, grades, strict=True)]
    inflammation = state["inflammation"]
    for name in ITEMS:
        present = name in traits.present and inflammation >= traits.thresholds[name]
        if name == "skin_worsening" and not present:
            present = bool(rng.uniform() < p.spurious_worsening)
        out.append(yes_no(name, present))
    out += [
        numeric("fvc_pct", state["fvc"] + float(rng.normal(0.0, p.fvc_sd)), 0),
        numeric("dlco_pct", state["dlco"] + float(rng.normal(0.0, p.dlco_sd)), 0),
        numeric("ssc_patient_global", _bounded(state["patientGlobal"] + rng.normal(0.0, p.global_sd), 0, 10), 1),
        numeric("ssc_physician_global", _bounded(state["physicianGlobal"] + rng.normal(0.0, p.global_sd), 0, 10), 1),
    ]
    haq = _bounded(state["haqDi"] + float(rng.normal(0.0, p.haq_sd)), 0.0, 3.0)
    out.append(numeric("ssc_haq_di", round(haq * 8) / 8, 3))
    # CRISS step 1: renal crisis, LV failure and PAH are not part of the model (assumption: none occur);
    # ILD progression is judged by the CRISS instrument from the recorded FVC as well.
    out += [
        yes_no(f"ssc_{event}", False) for event in ("new_renal_crisis", "ild_progression", "new_lv_failure", "new_pah")
    ]
    return out
