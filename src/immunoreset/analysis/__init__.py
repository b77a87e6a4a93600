"""Cohort analysis, identical for real and virtual cohorts: response rates with exact intervals,
time to remission and its durability (Kaplan–Meier)."""

from immunoreset.analysis.rates import Proportion, clopper_pearson, response_rates
from immunoreset.analysis.survival import (
    KaplanMeier,
    kaplan_meier,
    remission_durability,
    time_to_sustained_remission,
)

__all__ = [
    "KaplanMeier",
    "Proportion",
    "clopper_pearson",
    "kaplan_meier",
    "remission_durability",
    "response_rates",
    "time_to_sustained_remission",
]
