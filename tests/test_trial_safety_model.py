"""CRS/ICANS assumption model: calibrated to Müller 2024 and graded by the ASTCT instruments."""

from __future__ import annotations

import numpy as np
from scipy.stats import binomtest

from immunoreset.instruments.safety import crs
from immunoreset.trial.safety_model import CRSModelParameters, simulate_crs_icans


def test_rates_at_the_reference_peak_match_the_published_series() -> None:
    rng = np.random.default_rng(2024)
    n = 3000
    results = [simulate_crs_icans(100.0, 9, rng) for _ in range(n)]
    any_crs = sum(r["crs_max_grade"] >= 1 for r in results)
    grade2 = sum(r["crs_max_grade"] == 2 for r in results)
    icans = sum(r["icans_max_grade"] >= 1 for r in results)
    assert all(r["crs_max_grade"] <= 2 for r in results)
    # Müller 2024: CRS 11/15, grade 2 1/15, ICANS 1/15 -- the simulated rates are consistent (exact binomial tests)
    assert binomtest(any_crs, n, 11 / 15).pvalue > 0.001
    assert binomtest(grade2, n, (11 / 15) * (1 / 11)).pvalue > 0.001
    assert binomtest(icans, n, (11 / 15) * (1 / 11)).pvalue > 0.001


def test_more_expansion_means_more_crs() -> None:
    low = [simulate_crs_icans(10.0, 9, np.random.default_rng(s))["crs_max_grade"] for s in range(400)]
    high = [simulate_crs_icans(1000.0, 9, np.random.default_rng(s))["crs_max_grade"] for s in range(400)]
    assert np.mean(np.array(high) > 0) > np.mean(np.array(low) > 0) + 0.3


def test_courses_are_graded_by_the_instrument_and_start_before_the_peak() -> None:
    params = CRSModelParameters(p_crs_at_reference=0.999, p_grade2_given_crs_at_reference=0.999)
    out = simulate_crs_icans(100.0, 9, np.random.default_rng(1), params)
    regraded = crs({"assessments": out["crs_assessments"]})
    assert regraded.max_grade == out["crs_max_grade"] == 2
    assert 1 <= out["crs_onset_day"] <= 9 - 2
