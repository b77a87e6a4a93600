"""Infections of virtual patients: a documented stochastic (Poisson) model producing CTCAE-graded events.

Published autoimmune CAR-T data are sparse: the Erlangen series reports "low levels of infection" and one
hospitalisation for pneumonia among 15 patients (median follow-up 15 months; Müller F et al. N Engl J Med
2024;390(8):687-700, doi:10.1056/NEJMoa2308917). The model is therefore an assumption calibrated to that
aggregate:

* infections arrive as a Poisson process with a daily hazard
  ``h(t) = rate_per_year / 365 × rr_neutropenia^[ANC(t) < 500/µL] × rr_b_cell_aplasia^[B(t) < 1/µL]``,
  read from the patient's simulated neutrophil and B-cell counts (so patients with longer neutropenia or
  aplasia have more infections — a consequence of the biology, not an assignment);
* each infection has a site drawn from ``site_probabilities`` (CTCAE v5.0 organ-based terms, "Infections
  and infestations"); it is grade 3 (intravenous anti-infectives, hospitalisation: ``serious``) with the
  site's probability in ``p_grade3``, otherwise grade 2 (oral anti-infectives; most infection terms have
  no grade 1), and lasts a uniform number of days in ``duration_days``.

With the defaults, 150 virtual patients of the ``erlangen2024`` design (seed 2024) had 0.46 infections
per patient-year and 1.0 grade-3 infection per 15 patients in the first 15 months (most of them lung
infections), in line with the one pneumonia hospitalisation reported (docs/trial.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from immunoreset.registry.records import AdverseEventRecord

__all__ = ["InfectionModelParameters", "simulate_infections"]


@dataclass(frozen=True)
class InfectionModelParameters:
    """Assumptions of the infection model (calibration target in the module docstring)."""

    rate_per_year: float = 0.4
    """Infections needing treatment per patient-year without neutropenia or B-cell aplasia (assumption)."""
    rr_neutropenia: float = 10.0
    """Rate ratio while ANC < 500/µL (assumption: severe neutropenia is the main early risk)."""
    rr_b_cell_aplasia: float = 2.0
    """Rate ratio while blood B cells < 1/µL (assumption: loss of new antibody responses)."""
    site_probabilities: dict[str, float] = field(
        default_factory=lambda: {
            "Upper respiratory infection": 0.40,
            "Urinary tract infection": 0.20,
            "Lung infection": 0.15,
            "Sinusitis": 0.10,
            "Enterocolitis infectious": 0.08,
            "Skin infection": 0.07,
        }
    )
    """Site of an infection (assumption; CTCAE v5.0 terms)."""
    p_grade3: dict[str, float] = field(
        default_factory=lambda: {
            "Upper respiratory infection": 0.02,
            "Urinary tract infection": 0.05,
            "Lung infection": 0.6,
            "Sinusitis": 0.02,
            "Enterocolitis infectious": 0.1,
            "Skin infection": 0.05,
        }
    )
    """Probability that an infection of this site needs IV therapy / hospitalisation (grade 3; assumption)."""
    duration_days: tuple[int, int] = (5, 14)


def simulate_infections(
    anc_per_ul: Sequence[float] | np.ndarray,
    b_cells_per_ul: Sequence[float] | np.ndarray,
    rng: np.random.Generator,
    params: InfectionModelParameters | None = None,
    *,
    key_prefix: str = "infection",
) -> list[AdverseEventRecord]:
    """Infection adverse events over study days ``0 .. len(anc) - 1`` (one count per day)."""
    p = params or InfectionModelParameters()
    anc = np.asarray(anc_per_ul, dtype=float)
    b_cells = np.asarray(b_cells_per_ul, dtype=float)
    if anc.shape != b_cells.shape or anc.ndim != 1:
        raise ValueError("daily ANC and B-cell counts of the same length")
    hazard = p.rate_per_year / 365.0 * np.where(anc < 500.0, p.rr_neutropenia, 1.0)
    hazard = hazard * np.where(b_cells < 1.0, p.rr_b_cell_aplasia, 1.0)
    counts = rng.poisson(hazard)
    sites = list(p.site_probabilities)
    weights = np.array([p.site_probabilities[s] for s in sites])
    weights = weights / weights.sum()
    events: list[AdverseEventRecord] = []
    last_day = anc.size - 1
    for day in np.flatnonzero(counts):
        for _ in range(int(counts[day])):
            site = sites[int(rng.choice(len(sites), p=weights))]
            grade = 3 if rng.uniform() < p.p_grade3[site] else 2
            length = int(rng.integers(p.duration_days[0], p.duration_days[1] + 1))
            end = int(day) + length - 1
            events.append(
                AdverseEventRecord(
                    key=f"{key_prefix}-{len(events) + 1}",
                    term=site,
                    grade=grade,
                    grading="CTCAE v5.0",
                    onset_day=int(day),
                    resolution_day=end if end <= last_day else None,
                    serious=grade >= 3,
                )
            )
    return events
