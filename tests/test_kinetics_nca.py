"""NCA against the conventions of PKNCA (Denney W et al., J Pharmacokinet Pharmacodyn 2015;42:S65) and
hand-computed areas.

Expected values are computed here from the textbook formulas, independently of the code:
linear trapezoid (C1 + C2)·Δt/2, log trapezoid (C1 − C2)·Δt/ln(C1/C2).
"""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from immunoreset.errors import InvalidInput
from immunoreset.kinetics.data import read_tidy, tidy_frame
from immunoreset.kinetics.nca import NCAOptions, Sample, nca, nca_table
from immunoreset.kinetics.stein2019 import STEIN2019, predict


def lin(c1: float, c2: float, dt: float) -> float:
    return (c1 + c2) * dt / 2


def log(c1: float, c2: float, dt: float) -> float:
    return (c1 - c2) * dt / math.log(c1 / c2)


def profile(times: list[float], values: list[float | None], blq: list[bool] | None = None) -> list[Sample]:
    flags = blq or [False] * len(times)
    return [
        Sample(time=Decimal(repr(float(t))), value=None if v is None else Decimal(repr(float(v))), blq=b)
        for t, v, b in zip(times, values, flags, strict=True)
    ]


# --- published worked example: nlmixr2lib Stein 2019 vignette, PKNCA on the typical profile ----------------


def test_stein_typical_profile_matches_pknca_vignette() -> None:
    """PKNCA on seq(0, 28, by = 0.1) of the typical Stein profile: cmax 24,000, tmax 9.3,
    auclast 172,000 and half.life 4.75 d (reference §1.4 and §3)."""
    t = np.array([i * 0.1 for i in range(281)])
    c = predict(STEIN2019.typical, t)
    res = nca(profile(list(t), list(c)), unit="{copies}/ug")
    assert res.cmax == pytest.approx(24000, rel=1e-9)
    assert res.tmax == pytest.approx(9.3)
    assert res.auclast is not None and round(res.auclast, -3) == 172000
    assert res.auc_0_end == pytest.approx(res.auclast)
    assert res.half_life is not None and round(res.half_life.half_life, 2) == 4.75
    # the analytic AUC0-28 (reference §1.4: 171,774) is within 0.02 % of the trapezoid
    assert res.auclast == pytest.approx(171774, rel=2e-4)


# --- hand-computed AUCs ---------------------------------------------------------------------------------------

TIMES = [0.0, 1.0, 2.0, 4.0, 8.0, 12.0, 24.0, 28.0]
CONC = [0.0, 10.0, 20.0, 15.0, 5.0, 2.0, 0.5, 0.25]


def test_lin_up_log_down_by_hand() -> None:
    expected = (
        lin(0, 10, 1)
        + lin(10, 20, 1)
        + log(20, 15, 2)
        + log(15, 5, 4)
        + log(5, 2, 4)
        + log(2, 0.5, 12)
        + log(0.5, 0.25, 4)
    )
    res = nca(profile(TIMES, CONC), unit="/uL")
    assert res.cmax == 20 and res.tmax == 2
    assert res.clast == 0.25 and res.tlast == 28
    assert res.auclast == pytest.approx(expected, rel=1e-12)
    assert res.auc_0_end == pytest.approx(expected, rel=1e-12)


def test_linear_option_by_hand() -> None:
    expected = sum(lin(CONC[i], CONC[i + 1], TIMES[i + 1] - TIMES[i]) for i in range(len(TIMES) - 1))
    res = nca(profile(TIMES, CONC), unit="/uL", options=NCAOptions(auc_method="linear"))
    assert res.auclast == pytest.approx(expected, rel=1e-12)


def test_lin_log_uses_linear_before_tmax_and_log_after() -> None:
    t = [0.0, 1.0, 2.0, 3.0, 5.0]
    c = [1.0, 4.0, 2.0, 3.0, 1.0]  # rises again after Tmax: log in lin-log, linear in lin-up/log-down
    expected_linlog = lin(1, 4, 1) + log(4, 2, 1) + log(2, 3, 1) + log(3, 1, 2)
    expected_default = lin(1, 4, 1) + log(4, 2, 1) + lin(2, 3, 1) + log(3, 1, 2)
    assert nca(profile(t, c), unit="/uL", options=NCAOptions(auc_method="lin-log")).auclast == pytest.approx(
        expected_linlog
    )
    assert nca(profile(t, c), unit="/uL").auclast == pytest.approx(expected_default)


def test_auc_0_28_interpolates_log_between_samples() -> None:
    t = [0.0, 7.0, 21.0, 35.0]
    c = [0.0, 100.0, 20.0, 5.0]
    c28 = math.exp(math.log(20) + (28 - 21) / (35 - 21) * (math.log(5) - math.log(20)))
    expected = lin(0, 100, 7) + log(100, 20, 14) + log(20, c28, 7)
    res = nca(profile(t, c), unit="/uL")
    assert res.auc_0_end == pytest.approx(expected, rel=1e-12)
    assert res.auclast == pytest.approx(lin(0, 100, 7) + log(100, 20, 14) + log(20, 5, 14))


def test_auc_0_28_when_follow_up_ends_before_day_28() -> None:
    samples = profile([0.0, 7.0, 14.0, 21.0], [0.0, 50.0, 10.0, 4.0])
    res = nca(samples, unit="/uL")  # PKNCA aucint.last: nothing counted after Tlast
    assert res.auc_0_end == pytest.approx(lin(0, 50, 7) + log(50, 10, 7) + log(10, 4, 7))
    assert res.auc_0_end == pytest.approx(394.81, abs=0.01) and res.auc_0_end == res.auclast
    strict = nca(samples, unit="/uL", options=NCAOptions(auc_end_after_last="not_evaluable"))
    assert strict.auc_0_end is None
    assert any("before day 28" in n for n in strict.notes)
    assert strict.auclast is not None


def test_no_day0_sample_makes_auc_not_evaluable_unless_imputed() -> None:
    samples = profile([1.0, 7.0, 14.0, 28.0], [1.0, 50.0, 10.0, 2.0])
    res = nca(samples, unit="/uL")
    assert res.auclast is None and res.auc_0_end is None and res.cmax == 50
    imputed = nca(samples, unit="/uL", options=NCAOptions(start_imputation="zero"))
    assert imputed.auclast == pytest.approx(lin(0, 1, 1) + lin(1, 50, 6) + log(50, 10, 7) + log(10, 2, 14))


# --- lambda z -------------------------------------------------------------------------------------------------


def test_lambda_z_not_estimable_with_two_points_after_tmax() -> None:
    res = nca(profile([0.0, 4.0, 9.0, 14.0, 28.0], [0.0, 30.0, 200.0, 60.0, 10.0]), unit="/uL")
    assert res.evaluable
    assert res.half_life is None and res.lambda_z_n_points is None and res.aucinf_obs is None
    assert any("λz not estimable: 2" in n for n in res.notes)


def test_lambda_z_not_estimable_when_terminal_points_rise() -> None:
    res = nca(profile([0.0, 1.0, 2.0, 3.0, 4.0], [0.0, 100.0, 1.0, 2.0, 3.0]), unit="/uL")
    assert res.half_life is None
    assert any("λz > 0" in n for n in res.notes)


def _brute_force_lambda_z(t: list[float], c: list[float], factor: float = 1e-4) -> tuple[int, float]:
    """Independent restatement of PKNCA's rule with numpy.polyfit."""
    fits = []
    for n in range(3, len(t) + 1):
        x, y = np.array(t[-n:]), np.log(np.array(c[-n:]))
        slope, intercept = np.polyfit(x, y, 1)
        pred = intercept + slope * x
        r2 = 1 - ((y - pred) ** 2).sum() / ((y - y.mean()) ** 2).sum()
        fits.append((n, -slope, 1 - (1 - r2) * (n - 1) / (n - 2)))
    best = max(f[2] for f in fits)
    chosen = max((f for f in fits if f[1] > 0 and f[2] > best - factor), key=lambda f: f[0])
    return chosen[0], chosen[1]


def test_lambda_z_prefers_more_points_within_tolerance() -> None:
    # after Tmax (day 2): a clean mono-exponential tail; the early points bend away
    t = [0.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0]
    c = [0.0, 1000.0, 900.0, 500.0] + [400.0 * math.exp(-0.2 * (x - 6)) for x in [6.0, 8.0, 12.0, 16.0, 24.0]]
    res = nca(profile(t, c), unit="/uL")
    n, lam = _brute_force_lambda_z(t[2:], c[2:])
    assert res.half_life is not None
    assert res.half_life.n_points == n == 5
    assert res.half_life.lambda_z == pytest.approx(lam) == pytest.approx(0.2)
    assert res.half_life.time_first == 6.0 and res.half_life.time_last == 24.0


def test_lambda_z_tolerance_factor_changes_selection() -> None:
    t = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    c = [0.0, 100.0, 50.0, 26.0, 12.4, 6.3, 3.1]
    strict = nca(profile(t, c), unit="/uL", options=NCAOptions(adj_r_squared_factor=1e-12))
    loose = nca(profile(t, c), unit="/uL", options=NCAOptions(adj_r_squared_factor=0.5))
    assert strict.half_life is not None and loose.half_life is not None
    assert loose.half_life.n_points == 5  # all points after Tmax
    assert strict.half_life.n_points == _brute_force_lambda_z(t[2:], c[2:], 1e-12)[0] < 5


def test_tmax_excluded_from_lambda_z_by_default() -> None:
    t = [0.0, 1.0, 2.0, 3.0, 4.0]
    c = [0.0, 80.0, 40.0, 20.0, 10.0]
    default = nca(profile(t, c), unit="/uL")
    allowed = nca(profile(t, c), unit="/uL", options=NCAOptions(allow_tmax_in_half_life=True))
    assert default.half_life is not None and default.half_life.n_points == 3
    assert allowed.half_life is not None and allowed.half_life.n_points == 4
    assert allowed.half_life.half_life == pytest.approx(1.0)


# --- BLQ -----------------------------------------------------------------------------------------------------


def test_blq_default_rules_first_zero_middle_drop_last_zero() -> None:
    t = [0.0, 4.0, 9.0, 14.0, 21.0, 28.0, 56.0]
    v: list[float | None] = [None, 30.0, 300.0, None, 40.0, 10.0, None]
    blq = [True, False, False, True, False, False, True]
    res = nca(profile(t, v, blq), unit="/uL")
    assert res.n_blq == 3
    assert res.n_samples == 6  # the middle BLQ (day 14) is dropped
    expected = lin(0, 30, 4) + lin(30, 300, 5) + log(300, 40, 12) + log(40, 10, 7)
    assert res.auclast == pytest.approx(expected)
    assert res.tlast == 28 and res.clast == 10
    # λz from days 21, 28 only (the trailing zero is not a quantifiable point): not estimable
    assert res.half_life is None


def test_blq_rule_options() -> None:
    t = [0.0, 4.0, 9.0, 14.0, 21.0]
    v: list[float | None] = [None, 30.0, 300.0, None, 40.0]
    blq = [True, False, False, True, False]
    samples = [
        Sample(time=Decimal(repr(a)), value=None if b is None else Decimal(repr(b)), blq=f, lloq=Decimal(2))
        for a, b, f in zip(t, v, blq, strict=True)
    ]
    dropped = nca(samples, unit="/uL", options=NCAOptions(blq_first="drop"))
    assert dropped.auclast is None  # no day-0 sample left
    half = nca(samples, unit="/uL", options=NCAOptions(blq_middle="half_lloq"))
    assert half.n_samples == 5
    assert half.auclast == pytest.approx(lin(0, 30, 4) + lin(30, 300, 5) + log(300, 1, 5) + lin(1, 40, 7))
    with pytest.raises(InvalidInput) as err:
        nca(profile(t, v, blq), unit="/uL", options=NCAOptions(blq_middle="half_lloq"))
    assert err.value.field == "lloq"


def test_all_blq_profile_is_not_evaluable() -> None:
    res = nca(profile([0.0, 7.0], [None, None], [True, True]), unit="/uL")
    assert not res.evaluable and res.reason == "no quantifiable concentration"


def test_bad_input() -> None:
    with pytest.raises(InvalidInput) as err:
        nca([{"time": "1", "value": "-3"}], unit="/uL")
    assert err.value.field == "value"
    with pytest.raises(InvalidInput) as err:
        nca(profile([1.0, 1.0], [2.0, 3.0]), unit="/uL")
    assert err.value.field == "time"


# --- properties ----------------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    lam=st.floats(0.01, 2.0),
    c0=st.floats(1.0, 1e6),
    n=st.integers(3, 8),
    scale=st.floats(0.001, 1000.0),
)
def test_monoexponential_tail_recovered_exactly(lam: float, c0: float, n: int, scale: float) -> None:
    t = [0.0, 1.0] + [1.0 + 2.0 * (k + 1) for k in range(n)]
    c = [0.0, c0] + [c0 * math.exp(-lam * (x - 1.0)) for x in t[2:]]
    res = nca(profile(t, c), unit="/uL")
    assert res.half_life is not None
    assert res.half_life.lambda_z == pytest.approx(lam, rel=1e-6)
    assert res.half_life.n_points == n
    # on a mono-exponential decline the log trapezoid is exact
    exact = lin(0, c0, 1.0) + c0 * (1 - math.exp(-lam * (t[-1] - 1.0))) / lam
    assert res.auclast == pytest.approx(exact, rel=1e-9)
    # AUCs scale with the concentrations, and linear ≥ log-down for a convex decline
    scaled = nca(profile(t, [x * scale for x in c]), unit="/uL")
    assert scaled.auclast == pytest.approx(res.auclast * scale, rel=1e-9)
    linear = nca(profile(t, c), unit="/uL", options=NCAOptions(auc_method="linear"))
    assert linear.auclast is not None and linear.auclast >= res.auclast * (1 - 1e-12)


# --- tidy input and tables -----------------------------------------------------------------------------------


def test_tidy_csv_blq_strings_units_and_table(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "k.csv"
    path.write_text(
        "patient,time,value,unit,analyte\n"
        "P1,0,BLQ,cells/µL,cart_flow\n"
        "P1,7,25,cells/µL,cart_flow\n"
        "P1,14,0.04,10*9/L,cart_flow\n"
        "P1,28,<0.5,/uL,cart_flow\n"
        "P1,0,<5,copies/µg,cart_qpcr\n"
        "P1,9,24000,copies/µg,cart_qpcr\n",
        encoding="utf-8",
    )
    frame = read_tidy(path)
    p1 = frame[frame["analyte"] == "cart_flow"]
    assert list(p1["unit"].unique()) == ["/uL"]
    assert p1["value"].iloc[2] == Decimal(40)  # 0.04 x10^9/L = 40 /µL exactly
    assert bool(p1["blq"].iloc[3]) and p1["lloq"].iloc[3] == Decimal("0.5")
    table = nca_table(frame, analytes=["cart_flow"])
    row = table.iloc[0]
    assert row["cmax"] == 40 and row["tmax"] == 14 and row["n_blq"] == 2
    assert row["auclast"] == pytest.approx(lin(0, 25, 7) + lin(25, 40, 7))
    with pytest.raises(InvalidInput) as err:
        nca_table(frame, analytes=["cd19"])
    assert err.value.field == "analyte"


@pytest.mark.parametrize(
    ("column", "value", "field"),
    [("time", "day7", "time"), ("value", "-1", "value"), ("unit", "furlongs", "unit"), ("value", "lots", "value")],
)
def test_tidy_frame_rejects_bad_cells(column: str, value: str, field: str) -> None:
    row = {"patient": "P1", "time": "7", "value": "10", "unit": "/uL", "analyte": "cd19"}
    row[column] = value
    with pytest.raises(InvalidInput) as err:
        tidy_frame(pd.DataFrame([row]), source="x.csv")
    assert err.value.field == field
    assert "x.csv row 2" in str(err.value)


def test_tidy_frame_missing_columns() -> None:
    with pytest.raises(InvalidInput) as err:
        tidy_frame(pd.DataFrame([{"patient": "P1", "time": 1}]))
    assert err.value.field == "columns"


# --- PKNCA's own test expectations (billdenney/pknca tests/testthat/test-half.life.R) --------------------------


def test_pknca_half_life_test_suite_values() -> None:
    conc = [1.0, 0.5, 0.25, 0.1251]
    time = [0.0, 1.0, 2.0, 3.0]
    with_tmax = NCAOptions(allow_tmax_in_half_life=True, adj_r_squared_factor=0.01)
    res = nca(profile(time, conc), unit="/uL", options=with_tmax)
    fit = res.half_life
    assert fit is not None
    assert fit.lambda_z == pytest.approx(0.6929073, rel=1e-4)
    assert fit.r_squared == pytest.approx(0.9999999, rel=1e-4)
    assert fit.adj_r_squared == pytest.approx(0.9999999, rel=1e-4)
    assert fit.time_first == 0 and fit.n_points == 4
    assert fit.clast_pred == pytest.approx(0.12507, rel=1e-4)
    assert fit.half_life == pytest.approx(1.000346, rel=1e-5)
    assert fit.span_ratio == pytest.approx(2.998962, rel=1e-4)
    loose = nca(
        profile(time, conc), unit="/uL", options=NCAOptions(allow_tmax_in_half_life=True, adj_r_squared_factor=0.1)
    )
    assert loose.half_life is not None and loose.half_life.half_life == pytest.approx(1.000346, rel=1e-4)
    default = nca(profile(time, conc), unit="/uL")  # Tmax excluded: points at 1, 2, 3
    assert default.half_life is not None and default.half_life.half_life == pytest.approx(1.000577, rel=1e-5)
    exact3 = nca(
        profile([0.0, 1.0, 2.0], [1.0, 0.5, 0.25]), unit="/uL", options=NCAOptions(allow_tmax_in_half_life=True)
    )
    assert exact3.half_life is not None and exact3.half_life.half_life == pytest.approx(1.0)
    too_few = nca(
        profile([0.0, 1.0, 2.0], [1.0, 0.5, 0.25]),
        unit="/uL",
        options=NCAOptions(min_hl_points=4, allow_tmax_in_half_life=True),
    )
    assert too_few.half_life is None and any("at least 4 needed" in n for n in too_few.notes)


def test_pknca_auc_test_suite_values() -> None:
    """billdenney/pknca tests/testthat/test-auc.R: BLQ coded as 0, first keep / middle drop / last keep."""
    t = [float(x) for x in range(8)]
    c = [0.0, 2.0, 0.0, 1.0, 2.0, 1.0, 0.0, 0.0]
    default = nca(profile(t, c), unit="/uL", options=NCAOptions(auc_end=Decimal(7)))
    assert default.auclast == pytest.approx(1 + 2 / math.log(2) + 1.5 + 1 / math.log(2))
    linear = nca(profile(t, c), unit="/uL", options=NCAOptions(auc_method="linear", auc_end=Decimal(7)))
    assert linear.auclast == pytest.approx(1 + 3 + 1.5 + 1.5)
    # conc.blq = "keep" everywhere: the middle zero stays
    keep = NCAOptions(blq_middle="zero", auc_end=Decimal(5))
    six = profile(t[:6], c[:6])
    assert nca(six, unit="/uL", options=keep).auclast == pytest.approx(1 + 1 + 0.5 + 1.5 + 1 / math.log(2))
    keep_lin = NCAOptions(blq_middle="zero", auc_method="linear", auc_end=Decimal(5))
    assert nca(six, unit="/uL", options=keep_lin).auclast == pytest.approx(1 + 1 + 0.5 + 1.5 + 1.5)
    # interval (0, 6) with the last sample at day 7: AUC over the interval equals AUClast (zero after Tlast)
    t7 = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 7.0]
    c7 = [0.0, 2.0, 0.0, 1.0, 2.0, 1.0, 0.0]
    res = nca(profile(t7, c7), unit="/uL", options=NCAOptions(auc_end=Decimal(6)))
    assert res.auc_0_end == pytest.approx(1 + 2 / math.log(2) + 1.5 + 1 / math.log(2))
