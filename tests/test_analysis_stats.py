"""Cohort statistics: exact binomial intervals and Kaplan–Meier of remission."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import binomtest

from immunoreset.analysis import (
    clopper_pearson,
    kaplan_meier,
    remission_durability,
    response_rates,
    time_to_sustained_remission,
)
from immunoreset.errors import InvalidInput


def test_clopper_pearson_all_responders_published_value() -> None:
    # 8/8 (all Erlangen SLE patients in DORIS remission): exact 95% CI 63.1%-100%.
    p = clopper_pearson(8, 8)
    assert p.estimate == 1.0 and p.upper == 1.0
    assert round(p.lower, 4) == 0.6306  # (0.025)^(1/8)


def test_clopper_pearson_closed_forms_at_the_extremes() -> None:
    n = 15
    assert math.isclose(clopper_pearson(n, n).lower, 0.025 ** (1 / n), rel_tol=1e-12)
    assert math.isclose(clopper_pearson(0, n).upper, 1 - 0.025 ** (1 / n), rel_tol=1e-12)


@given(st.integers(min_value=1, max_value=200).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_clopper_pearson_agrees_with_scipy_binomtest(pair: tuple[int, int]) -> None:
    k, n = pair
    ours = clopper_pearson(k, n)
    ref = binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    assert math.isclose(ours.lower, ref.low, abs_tol=1e-12) and math.isclose(ours.upper, ref.high, abs_tol=1e-12)
    assert ours.lower <= ours.estimate <= ours.upper


def test_clopper_pearson_rejects_impossible_counts() -> None:
    with pytest.raises(InvalidInput) as err:
        clopper_pearson(5, 4)
    assert err.value.field == "successes"


def test_response_rates_leave_not_evaluable_out_of_the_denominator() -> None:
    visits = pd.DataFrame(
        {
            "disease": ["SLE"] * 4 + ["SSc"] * 2,
            "visit": ["month 6"] * 6,
            "remission": [True, True, None, False, True, True],
        }
    )
    table = response_rates(visits, "remission")
    sle = table[table.disease == "SLE"].iloc[0]
    assert (sle.patients, sle.evaluable, sle.responders, sle.not_evaluable) == (4, 3, 2, 1)
    assert math.isclose(sle.rate, 2 / 3)
    assert sle.ci_method == "Clopper-Pearson exact"


def test_response_rates_reject_non_binary_values() -> None:
    with pytest.raises(InvalidInput):
        response_rates(pd.DataFrame({"disease": ["SLE"], "visit": ["m3"], "remission": ["yes"]}), "remission")


def visits_of(patient: str, days: list[int], flags: list[bool | None]) -> pd.DataFrame:
    return pd.DataFrame({"patient": patient, "study_day": days, "dfr": flags})


def test_sustained_remission_onset_and_censoring() -> None:
    visits = pd.concat(
        [
            visits_of("A", [0, 90, 180, 365], [False, True, True, True]),  # sustained from day 90
            visits_of("B", [0, 90, 180, 365], [False, True, False, True]),  # relapse, sustained again from 365
            visits_of("C", [0, 90, 180], [False, False, False]),  # never: censored at 180
            visits_of("D", [0, 90, 180, 270], [False, True, None, True]),  # missing visit skipped
            visits_of("E", [0, 90, 180], [False, True, False]),  # lost at last visit: censored
        ]
    )
    table = time_to_sustained_remission(visits, "dfr").set_index("patient")
    assert table.loc["A", "event"] and table.loc["A", "time"] == 90 and table.loc["A", "onset_interval_start"] == 0
    assert table.loc["B", "event"] and table.loc["B", "time"] == 365
    assert not table.loc["C", "event"] and table.loc["C", "time"] == 180
    assert table.loc["D", "event"] and table.loc["D", "time"] == 90
    assert not table.loc["E", "event"] and table.loc["E", "time"] == 180
    durability = remission_durability(visits, "dfr").set_index("patient")
    assert durability.loc["B", "event"] and durability.loc["B", "time"] == 90
    assert not durability.loc["A", "event"] and durability.loc["A", "time"] == 275
    assert "C" not in durability.index


def test_kaplan_meier_matches_the_product_limit_by_hand() -> None:
    # times 90 (event), 90 (event), 180 (censored), 270 (event), 365 (censored)
    durations = pd.DataFrame({"time": [90, 90, 180, 270, 365], "event": [True, True, False, True, False]})
    km = kaplan_meier(durations)
    s = km.table.set_index("time")["survival"]
    assert math.isclose(s.loc[90.0], 3 / 5)
    assert math.isclose(s.loc[270.0], 3 / 5 * (1 - 1 / 2))
    assert np.all(km.table["ci_lower"] <= km.table["survival"] + 1e-12)
    assert np.all(km.table["survival"] <= km.table["ci_upper"] + 1e-12)
    assert km.median == 270.0
    assert "Greenwood" in km.ci_method


def test_published_series_loads_with_sources() -> None:
    from immunoreset.analysis.published import load_published

    series = load_published("muller2024")
    table = series.table()
    assert {"sle_doris_remission", "crs_any", "b_cell_aplasia_days"} <= set(table["key"])
    assert set(table["confidence"]) <= {"primary", "secondary", "unconfirmed"}
    by_key = {r.key: r for r in series.results}
    assert by_key["sle_doris_remission"].shown() == "8/8"
    total = sum(series.design["patients"].values())
    assert total == 15
    assert all(r.of in (None, 3, 4, 5, 8, 15) for r in series.results)  # 5: the first SLE patients (Mackensen 2022)
    with pytest.raises(InvalidInput):
        load_published("nosuch")
