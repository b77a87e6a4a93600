"""SLE observation model: from a virtual patient's biology to what a clinic records at each visit.

The mechanistic model (Park 2025) gives anti-dsDNA, complement C3 and proteinuria over time but no
clinical descriptors. This module turns each visit's model state into the inputs of the real
instruments — SLEDAI-2K descriptors and measurements, a physician global assessment — so that DORIS,
LLDAS and SLEDAI-2K of virtual patients are computed by the same code as for real patients, never
asserted.

Model (every number is in :class:`SLEObservationParameters` with its source or marked as an assumption):

* **Serology and kidney** come from the biomarkers with laboratory limits: anti-dsDNA (model IU/L → IU/mL)
  against the assay's ULN; C3 (mg/L) against its LLN; C4 follows C3 proportionally (assumption: the model
  has no C4); proteinuria (mg/g creatinine) enters as a spot protein/creatinine ratio in g/g.
* **Clinical descriptors** are drawn once per patient at baseline from their prevalence in refractory
  lupus nephritis cohorts (assumption, calibrated so the baseline SLEDAI-2K is near the Erlangen median of
  16). Each one present at baseline resolves when the patient's *latent activity* falls below a patient-
  and descriptor-specific threshold drawn uniformly in ``resolution_threshold`` (assumption). Latent
  activity is anti-dsDNA relative to its baseline — the model's readout of the autoreactive B-cell clone —
  passed through a first-order lag of ``activity_lag_days`` (:func:`lagged_activity`), because inflamed
  tissue heals over weeks after the autoantibody falls (assumption, set so that clinical features settle
  within about three months, as DORIS remission was reached at 3 months in Mackensen 2022). Activity that
  rises above the threshold again makes the descriptor return, so a relapse of the biology shows up as a
  clinical flare.
* **PGA** = ``pga_per_clinical_point`` × clinical SLEDAI + |N(0, ``pga_noise_sd``)|, capped at 3 and rounded to
  one decimal, as recorded on the 0–3 scale (assumption).

Randomness comes only from the ``numpy.random.Generator`` passed in, so a seeded trial is reproducible.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np

from immunoreset.errors import InvalidInput
from immunoreset.instruments.sle import DESCRIPTORS

__all__ = ["SLEObservationParameters", "SLEPatientTraits", "draw_traits", "lagged_activity", "observe_visit"]

LAB_DERIVED = ("urinary_casts", "hematuria", "proteinuria", "pyuria", "low_complement", "increased_dna_binding")
"""Descriptors decided from laboratory values (casts, haematuria and pyuria follow the nephritis)."""


@dataclass(frozen=True)
class SLEObservationParameters:
    """Parameters of the SLE observation model (assumptions unless a source is named)."""

    anti_dsdna_uln_iu_per_ml: float = 100.0
    """Assay ULN for anti-dsDNA. Laboratory-specific; 100 IU/mL is a common ELISA cut-off (assumption)."""
    c3_lln_mg_per_l: float = 900.0
    """C3 lower limit of normal, 0.9 g/L (typical laboratory reference range; assumption)."""
    c4_lln_mg_per_l: float = 100.0
    """C4 lower limit of normal, 0.1 g/L (typical laboratory reference range; assumption)."""
    c4_to_c3_ratio: float = 0.16
    """C4 = ratio × C3 (assumption: the mechanistic model has no C4; ratio of the typical reference midpoints)."""
    baseline_prevalence: dict[str, float] = field(
        default_factory=lambda: {
            "arthritis": 0.55,
            "rash": 0.45,
            "alopecia": 0.30,
            "mucosal_ulcers": 0.30,
            "pleurisy": 0.12,
            "pericarditis": 0.08,
            "vasculitis": 0.05,
            "myositis": 0.03,
            "fever": 0.10,
            "thrombocytopenia": 0.12,
            "leukopenia": 0.20,
        }
    )
    """Probability that a clinical descriptor is present at baseline (assumption; refractory lupus nephritis)."""
    nephritis_sediment_prevalence: dict[str, float] = field(
        default_factory=lambda: {"urinary_casts": 0.35, "hematuria": 0.6, "pyuria": 0.25}
    )
    """Probability of an active urinary sediment item at baseline, given proteinuria (assumption)."""
    sediment_upcr_g_per_g: float = 1.0
    """Sediment items present at baseline persist while the UPCR stays above this level (assumption)."""
    resolution_threshold: tuple[float, float] = (0.05, 0.5)
    """Latent activity (anti-dsDNA / baseline) below which a baseline descriptor resolves (assumption)."""
    pga_per_clinical_point: float = 0.12
    """PGA per clinical SLEDAI point (assumption: clinical SLEDAI 16 ≈ PGA 1.9, moderate-severe)."""
    pga_noise_sd: float = 0.1
    """Spread of the PGA when there is no clinical activity (assumption; keeps quiescent PGA < 0.5)."""
    activity_lag_days: float = 21.0
    """Time constant of the lag between autoantibody loss and tissue healing (assumption)."""


@dataclass(frozen=True)
class SLEPatientTraits:
    """What is fixed for one virtual patient: which descriptors were active, and when each resolves."""

    clinical: tuple[str, ...]
    sediment: tuple[str, ...]
    thresholds: dict[str, float]


def draw_traits(rng: np.random.Generator, params: SLEObservationParameters | None = None) -> SLEPatientTraits:
    """Draw one patient's baseline clinical picture and resolution thresholds."""
    p = params or SLEObservationParameters()
    clinical = tuple(name for name, prob in p.baseline_prevalence.items() if rng.uniform() < prob)
    sediment = tuple(name for name, prob in p.nephritis_sediment_prevalence.items() if rng.uniform() < prob)
    low, high = p.resolution_threshold
    thresholds = {name: float(rng.uniform(low, high)) for name in (*clinical, *sediment)}
    return SLEPatientTraits(clinical=clinical, sediment=sediment, thresholds=thresholds)


def lagged_activity(
    days: Sequence[float] | np.ndarray, ratio: Sequence[float] | np.ndarray, lag_days: float
) -> np.ndarray:
    """First-order lag ``dA/dt = (r(t) - A) / lag`` of the relative autoantibody ``r``, with ``A(t0) = r(t0)``.

    ``r`` is taken as piecewise linear between the given days; the update is exact for that input, so the
    result does not depend on the grid beyond the linear interpolation of ``r``.
    """
    t = np.asarray(days, dtype=float)
    r = np.asarray(ratio, dtype=float)
    if t.ndim != 1 or t.shape != r.shape or t.size == 0 or np.any(np.diff(t) <= 0):
        raise InvalidInput("days", list(t[:5]), "strictly increasing days, one per activity value")
    if lag_days <= 0:
        raise InvalidInput("activity_lag_days", lag_days, "a positive number of days")
    out = np.empty_like(r)
    out[0] = r[0]
    for i in range(1, t.size):
        h = t[i] - t[i - 1]
        decay = np.exp(-h / lag_days)
        slope = (r[i] - r[i - 1]) / h
        # exact solution for a linearly varying input over the step
        out[i] = r[i] - slope * lag_days + (out[i - 1] - r[i - 1] + slope * lag_days) * decay
    return out


def _decimal(value: float, places: int) -> Decimal:
    return Decimal(f"{value:.{places}f}")


def observe_visit(
    traits: SLEPatientTraits,
    *,
    anti_dsdna_iu_per_l: float,
    baseline_anti_dsdna_iu_per_l: float,
    c3_mg_per_l: float,
    latent_activity: float | None = None,
    proteinuria_mg_per_g: float,
    rng: np.random.Generator,
    params: SLEObservationParameters | None = None,
) -> dict[str, Any]:
    """One visit's SLEDAI-2K input (``sledai2k``) and PGA (``pga``) for a virtual patient.

    Biomarkers are in the mechanistic model's units: anti-dsDNA IU/L, C3 mg/L, proteinuria mg/g creatinine.
    ``latent_activity`` is the lagged relative anti-dsDNA (:func:`lagged_activity`); without it the
    unlagged ratio is used.
    """
    p = params or SLEObservationParameters()
    values = {
        "anti_dsdna_iu_per_l": anti_dsdna_iu_per_l,
        "baseline_anti_dsdna_iu_per_l": baseline_anti_dsdna_iu_per_l,
        "c3_mg_per_l": c3_mg_per_l,
        "proteinuria_mg_per_g": proteinuria_mg_per_g,
    }
    for name, value in values.items():
        if not np.isfinite(value) or value < 0 or (name.startswith("baseline") and value <= 0):
            raise InvalidInput(name, value, "a finite non-negative model output (baseline > 0)")
    activity = anti_dsdna_iu_per_l / baseline_anti_dsdna_iu_per_l if latent_activity is None else latent_activity
    if not np.isfinite(activity) or activity < 0:
        raise InvalidInput("latent_activity", activity, "a finite non-negative number")
    upcr = proteinuria_mg_per_g / 1000.0
    sledai: dict[str, Any] = {d.name: False for d in DESCRIPTORS if d.name not in ("proteinuria",)}
    for name in traits.clinical:
        sledai[name] = activity >= traits.thresholds[name]
    for name in traits.sediment:
        sledai[name] = activity >= traits.thresholds[name] and upcr > p.sediment_upcr_g_per_g
    c4 = p.c4_to_c3_ratio * c3_mg_per_l
    del sledai["low_complement"], sledai["increased_dna_binding"]
    sledai.update(
        {
            "upcr_g_per_g": _decimal(upcr, 3),
            "c3": _decimal(c3_mg_per_l / 1000.0, 3),
            "c3_lln": _decimal(p.c3_lln_mg_per_l / 1000.0, 3),
            "c4": _decimal(c4 / 1000.0, 3),
            "c4_lln": _decimal(p.c4_lln_mg_per_l / 1000.0, 3),
            "anti_dsdna": _decimal(anti_dsdna_iu_per_l / 1000.0, 1),
            "anti_dsdna_uln": _decimal(p.anti_dsdna_uln_iu_per_ml, 1),
        }
    )
    clinical_points = sum(d.weight for d in DESCRIPTORS if not d.serological and sledai.get(d.name) is True)
    clinical_points += 4 if upcr > 0.5 else 0
    pga = min(3.0, p.pga_per_clinical_point * clinical_points + abs(float(rng.normal(0.0, p.pga_noise_sd))))
    return {"sledai2k": sledai, "pga": _decimal(round(pga, 1), 1), "latent_activity": activity}


def baseline_sledai_points(traits: Sequence[str]) -> int:
    """Points of a set of descriptors (helper for calibration reports)."""
    weights = {d.name: d.weight for d in DESCRIPTORS}
    return sum(weights[n] for n in traits)
