"""B-cell aplasia with censoring (Kaplan–Meier, nobody dropped) and the decline-phase autoantibody half-life."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from immunoreset.analysis.survival import aplasia_durations, aplasia_summary, kaplan_meier, restricted_moments
from immunoreset.errors import InvalidInput
from immunoreset.kinetics.autoantibodies import AntibodyOptions, antibody_decline


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=400), min_size=2, max_size=40))
def test_restricted_moments_without_censoring_are_the_plain_mean_and_sd(times: list[int]) -> None:
    km = kaplan_meier(pd.DataFrame({"time": times, "event": [True] * len(times)}))
    mean, sd = restricted_moments(km, float(max(times)))
    assert mean == pytest.approx(float(np.mean(times)), rel=1e-9)
    assert sd == pytest.approx(float(np.std(times)), rel=1e-9, abs=1e-9)


def test_restricted_moments_rejects_a_bad_horizon() -> None:
    km = kaplan_meier(pd.DataFrame({"time": [3.0], "event": [True]}))
    with pytest.raises(InvalidInput, match="horizon"):
        restricted_moments(km, 0.0)


def _bcells() -> pd.DataFrame:
    base = {"aplasia_below": 5, "censored_at": None}
    return pd.DataFrame(
        [
            {
                **base,
                "patient": "A",
                "aplasia_reached": True,
                "reconstituted": True,
                "aplasia_onset_upper": 7,
                "aplasia_duration_min": 80,
                "aplasia_duration_max": 100,
            },
            {
                **base,
                "patient": "B",
                "aplasia_reached": True,
                "reconstituted": True,
                "aplasia_onset_upper": 7,
                "aplasia_duration_min": 110,
                "aplasia_duration_max": 130,
            },
            {
                **base,
                "patient": "C",
                "aplasia_reached": True,
                "reconstituted": False,
                "aplasia_onset_upper": 7,
                "aplasia_duration_min": None,
                "aplasia_duration_max": None,
                "censored_at": 207,
            },
            {
                **base,
                "patient": "D",
                "aplasia_reached": False,
                "reconstituted": False,
                "aplasia_onset_upper": None,
                "aplasia_duration_min": None,
                "aplasia_duration_max": None,
                "censored_at": 300,
            },
        ]
    )


def test_a_patient_still_in_aplasia_is_censored_not_dropped() -> None:
    durations = aplasia_durations(_bcells()).set_index("patient")
    assert list(durations.index) == ["A", "B", "C"]  # D never reached aplasia: nothing to end
    assert durations.loc["A", "time"] == 90 and durations.loc["B", "time"] == 120
    assert durations.loc["C", "time"] == 200 and not durations.loc["C", "event"]
    summary = aplasia_summary(_bcells())
    assert summary is not None and (summary.reconstituted, summary.censored) == (2, 1)
    # counted: the censored patient pulls the mean above the mean of the two who reconstituted (105)
    assert summary.restricted_mean == pytest.approx((90 + 120 + 200) / 3)
    # the censored patient's 200 d is the horizon: min(T, 200) has the moments of {90, 120, 200}
    assert summary.restricted_sd == pytest.approx(float(np.std([90, 120, 200], ddof=1)))
    assert "1 censored of 3" in summary.describe() and summary.median == 120


def test_aplasia_table_needs_its_columns() -> None:
    with pytest.raises(InvalidInput, match="columns"):
        aplasia_durations(pd.DataFrame({"patient": ["A"]}))


DAYS = [0, 7, 14, 21, 28, 42, 56, 90, 120, 180, 270, 365]


def _biphasic(rise_after: int | None = None) -> list[dict[str, object]]:
    """IgG-like decline (t½ 21 d) to a long-lived plasma-cell floor of 5 %, optionally rising again."""
    k = math.log(2) / 21
    samples = []
    for day in DAYS:
        value = 400 * (0.95 * math.exp(-k * day) + 0.05)
        if rise_after is not None and day > rise_after:
            value *= 1 + (day - rise_after) / 30
        samples.append({"time": day, "value": round(value, 3), "uln": 100})
    return samples


def test_half_life_is_fitted_on_the_decline_phase() -> None:
    decline = antibody_decline(_biphasic(), unit="[IU]/mL")
    assert decline.half_life is not None and 18 < decline.half_life < 32
    assert decline.fit_end is not None and decline.fit_end <= 90
    whole = antibody_decline(_biphasic(), unit="[IU]/mL", options=AntibodyOptions(window="fixed"))
    assert whole.half_life is not None and whole.half_life > 2 * decline.half_life  # the floor flattens it
    # a rise after the nadir (relapse) does not change the decline-phase fit
    relapse = antibody_decline(_biphasic(rise_after=180), unit="[IU]/mL")
    assert relapse.half_life == pytest.approx(decline.half_life, rel=1e-9)
    assert relapse.reverted is True


def test_non_response_and_relapse_with_exact_intervals() -> None:
    from immunoreset.analysis.cohort import response_course_table
    from immunoreset.analysis.rates import clopper_pearson

    rows = []
    course = {
        "A": [False, True, True, True],  # responds on day 90 and stays
        "B": [False, False, False, False],  # primary non-response
        "C": [False, True, True, False],  # responds, then relapses on day 365
        "D": [None, None, None, None],  # never evaluable: left out
    }
    for patient, flags in course.items():
        for day, flag in zip((28, 90, 180, 365), flags, strict=True):
            rows.append({"patient": patient, "disease": "SLE", "study_day": day, "response": flag})
    rows.append({"patient": "A", "disease": "SLE", "study_day": -7, "response": True})  # before infusion: ignored
    table = response_course_table(pd.DataFrame(rows)).set_index("disease")
    row = table.loc["SLE"]
    assert (row.patients, row.responders, row.non_responders, row.relapsed) == (3, 2, 1, 1)
    expected = clopper_pearson(1, 2)
    assert row.relapse_rate == pytest.approx(0.5)
    assert row.relapse_ci == f"{expected.lower * 100:.1f}–{expected.upper * 100:.1f} %"
    assert row.relapse_days == "365 (365–365)"
    assert row.non_response_rate == pytest.approx(1 / 3)


def test_censoring_uses_the_longest_proven_aplasia_and_nan_flags_are_not_true() -> None:
    from immunoreset.analysis.survival import reconstitution_summary, reconstitution_times

    table = _bcells()
    extra = {
        "patient": "E",
        "aplasia_below": 5,
        "aplasia_reached": True,
        "reconstituted": False,
        "aplasia_onset_upper": 7,
        "aplasia_duration_min": 173,  # last sample known below the threshold: day 180
        "aplasia_duration_max": None,
        "censored_at": 300,  # a later sample was indeterminate / unconfirmed
        "reconstitution_lower": None,
        "reconstitution_upper": None,
    }
    table = pd.DataFrame([*table.to_dict("records"), extra])
    durations = aplasia_durations(table).set_index("patient")
    assert durations.loc["E", "time"] == 173 and not durations.loc["E", "event"]
    flags = table.astype({"aplasia_reached": float, "reconstituted": float})
    flags.loc[flags["patient"] == "D", "aplasia_reached"] = float("nan")  # e.g. after a CSV round trip
    assert "D" not in set(aplasia_durations(flags)["patient"])
    table["reconstitution_lower"] = [90, 120, None, None, None]
    table["reconstitution_upper"] = [100, 130, None, None, None]
    returns = reconstitution_times(table).set_index("patient")
    assert returns.loc["A", "time"] == 95 and returns.loc["E", "time"] == 180 and not returns.loc["E", "event"]
    summary = reconstitution_summary(table)
    assert summary is not None and (summary.reconstituted, summary.censored) == (2, 2)


def test_no_decline_phase_when_the_fall_ends_before_three_samples() -> None:
    samples = [{"time": d, "value": v} for d, v in zip((0, 7, 14, 21, 28), (100, 20, 60, 90, 95), strict=True)]
    result = antibody_decline(samples, unit="[IU]/mL")
    assert result.half_life is None and result.n_fit == 2


def test_a_single_visit_below_the_threshold_is_not_a_relapse_by_default() -> None:
    from immunoreset.analysis.cohort import response_course_table

    rows = [
        {"patient": "A", "disease": "IIM", "study_day": day, "response": flag}
        for day, flag in zip((28, 90, 180, 365), (True, False, True, True), strict=True)
    ]
    visits = pd.DataFrame(rows)
    assert response_course_table(visits).iloc[0]["relapsed"] == 0
    assert response_course_table(visits, confirm=1).iloc[0]["relapsed"] == 1
    with pytest.raises(InvalidInput, match="confirm"):
        response_course_table(visits, confirm=0)
