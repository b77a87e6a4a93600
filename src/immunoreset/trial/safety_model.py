"""CRS and ICANS courses of virtual patients, derived from their CAR-T expansion and graded by ASTCT.

No mechanistic cytokine model of this therapy is published, so this is a documented *assumption* model,
calibrated to the Erlangen series (Müller 2024: CRS in 11/15 patients — grade 1 in 10, grade 2 in 1, none
of grade >= 3; ICANS grade 1 in 1/15):

* the probability of CRS rises with the CAR-T peak: ``logit p = logit(p_ref) + slope × log10(peak / peak_ref)``;
* given CRS, the probability that it reaches grade 2 (hypotension responding to fluids, or low-flow oxygen)
  follows the same form with its own reference probability; grade >= 3 is not generated;
* CRS starts 2–6 days before the CAR-T peak (not before day 1) and lasts 1–4 days; fever 38.3–39.5 °C;
* ICANS (grade 1: ICE 7–9, alert) occurs, in a patient with CRS, with probability ``p_icans_given_crs`` on
  the worst CRS day or the day after (1/11, so that 1 in 15 patients overall has ICANS, as published).

The daily assessments are written like a ward's records and graded by
:func:`immunoreset.instruments.safety.crs` and :func:`~immunoreset.instruments.safety.icans`, so the grades are
computed, not asserted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from immunoreset.instruments.safety import crs, icans

__all__ = ["CRSModelParameters", "simulate_crs_icans"]


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def _expit(x: float) -> float:
    return 1 / (1 + math.exp(-x))


@dataclass(frozen=True)
class CRSModelParameters:
    """Assumptions of the CRS/ICANS model (calibration targets in the module docstring)."""

    p_crs_at_reference: float = 11 / 15
    """Probability of any-grade CRS at the reference CAR-T peak (Müller 2024: 11/15)."""
    p_grade2_given_crs_at_reference: float = 1 / 11
    """Probability of grade 2 given CRS at the reference peak (Müller 2024: 1 of 11 CRS)."""
    reference_peak_per_ul: float = 100.0
    """Reference CAR-T peak, cells/µL (assumption: order of the Park 2025 typical peak)."""
    slope_per_log10: float = 1.5
    """Log-odds change per tenfold higher peak (assumption: more expansion, more CRS)."""
    onset_before_peak_days: tuple[int, int] = (2, 6)
    duration_days: tuple[int, int] = (1, 4)
    p_icans_given_crs: float = 1 / 11
    """Probability of grade-1 ICANS in a patient with CRS (Müller 2024: 1/15 overall, 11/15 with CRS)."""


def simulate_crs_icans(
    car_t_peak_per_ul: float,
    car_t_peak_day: int,
    rng: np.random.Generator,
    params: CRSModelParameters | None = None,
    *,
    last_day: int = 28,
) -> dict[str, Any]:
    """Daily CRS and ICANS assessments (days 0..``last_day``) and their ASTCT grading."""
    p = params or CRSModelParameters()
    shift = p.slope_per_log10 * math.log10(max(car_t_peak_per_ul, 1e-9) / p.reference_peak_per_ul)
    has_crs = rng.uniform() < _expit(_logit(p.p_crs_at_reference) + shift)
    grade2 = rng.uniform() < _expit(_logit(p.p_grade2_given_crs_at_reference) + shift)
    onset = max(1, car_t_peak_day - int(rng.integers(p.onset_before_peak_days[0], p.onset_before_peak_days[1] + 1)))
    length = int(rng.integers(p.duration_days[0], p.duration_days[1] + 1))
    crs_days = set(range(onset, onset + length)) if has_crs else set()
    worst_day = onset + length // 2
    has_icans = bool(crs_days) and rng.uniform() < p.p_icans_given_crs
    icans_day = worst_day + int(rng.integers(0, 2)) if has_icans else None
    crs_course: list[dict[str, Any]] = []
    icans_course: list[dict[str, Any]] = []
    for day in range(0, last_day + 1):
        if day in crs_days:
            temperature = round(float(rng.uniform(38.3, 39.5)), 1)
            hypotension = "fluids_only" if (grade2 and day == worst_day) else "none"
        else:
            temperature = round(float(rng.uniform(36.4, 37.4)), 1)
            hypotension = "none"
        crs_course.append(
            {
                "day": day,
                "temperature": {"value": temperature, "unit": "Cel"},
                "hypotension": hypotension,
                "oxygen": "none",
            }
        )
        ice = 10 if day != icans_day else int(rng.integers(7, 10))
        icans_course.append(
            {
                "day": day,
                "ice_score": ice,
                "consciousness": "alert",
                "seizure": "none",
                "motor": "none",
                "intracranial_pressure": "none",
            }
        )
    crs_result = crs({"assessments": crs_course})
    icans_result = icans({"assessments": icans_course})
    return {
        "crs_assessments": crs_course,
        "icans_assessments": icans_course,
        "crs_max_grade": crs_result.max_grade,
        "crs_onset_day": crs_result.onset_day,
        "crs_duration_days": crs_result.duration_days,
        "icans_max_grade": icans_result.max_grade,
    }
