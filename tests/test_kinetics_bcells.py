"""B-cell aplasia/reconstitution intervals and autoantibody decline."""

from __future__ import annotations

import math
from decimal import Decimal

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from immunoreset.errors import InvalidInput
from immunoreset.instruments.base import parse
from immunoreset.kinetics.autoantibodies import AntibodyOptions, antibody_decline, antibody_table
from immunoreset.kinetics.bcells import BCellOptions, CountSample, bcell_kinetics, bcell_table
from immunoreset.kinetics.data import tidy_frame

D = Decimal


def counts(pairs: list[tuple[float, float | None]]) -> list[CountSample]:
    return [CountSample(time=D(repr(t)), value=None if v is None else D(repr(v))) for t, v in pairs]


def test_dense_daily_sampling_gives_one_day_intervals() -> None:
    pairs: list[tuple[float, float | None]] = [(-5.0, 180.0)]
    for day in range(0, 151):
        pairs.append((float(day), 0.0 if 3 <= day < 110 else 150.0))
    res = bcell_kinetics(counts(pairs))
    assert res.baseline == 180
    assert (res.aplasia_onset_lower, res.aplasia_onset_upper) == (2, 3)
    assert (res.reconstitution_lower, res.reconstitution_upper) == (109, 110)
    assert (res.aplasia_duration_min, res.aplasia_duration_max) == (106, 108)


def test_sparse_sampling_reports_the_interval_not_a_day() -> None:
    res = bcell_kinetics(counts([(-5, 200), (7, 0), (28, 0), (90, 0.4), (180, 45)]))
    assert res.aplasia_reached and res.reconstituted
    assert (res.aplasia_onset_lower, res.aplasia_onset_upper) == (0, 7)
    assert (res.reconstitution_lower, res.reconstitution_upper) == (90, 180)
    assert (res.aplasia_duration_min, res.aplasia_duration_max) == (83, 180)


def test_thresholds_both_sides_of_the_boundary() -> None:
    # default: Looney 2004, aplastic when < 5 /µL, reconstituted when ≥ 5 /µL
    assert BCellOptions().aplasia_below == 5 and BCellOptions().reconstitution_at_least == 5
    at = bcell_kinetics(counts([(0, 100), (7, 5), (14, 0)]))  # exactly 5 /µL: not aplastic (< 5)
    assert at.aplasia_onset_upper == 14
    below = bcell_kinetics(counts([(0, 100), (7, 4.99), (14, 4.99), (30, 5)]))  # 5 is reconstituted (≥ 5)
    assert below.aplasia_onset_upper == 7 and below.reconstitution_upper == 30
    strict = BCellOptions(aplasia_below=D(1), reconstitution_at_least=D(1))
    at1 = bcell_kinetics(counts([(0, 100), (7, 1), (14, 0)]), options=strict)
    assert at1.aplasia_onset_upper == 14
    below1 = bcell_kinetics(counts([(0, 100), (7, 0.99), (14, 0.99), (30, 1)]), options=strict)
    assert below1.aplasia_onset_upper == 7 and below1.reconstitution_upper == 30
    custom = BCellOptions(aplasia_below=D(5), reconstitution_at_least=D(20))
    hyst = bcell_kinetics(counts([(0, 100), (7, 4.99), (30, 19.99), (60, 20)]), options=custom)
    assert hyst.aplasia_onset_upper == 7
    assert (hyst.reconstitution_lower, hyst.reconstitution_upper) == (30, 60)  # 19.99 is known below 20
    assert hyst.aplasia_below == 5 and hyst.reconstitution_at_least == 20


def test_blq_counts_aplastic_only_if_the_limit_is_low_enough() -> None:
    low = [CountSample(time=D(0), value=D(90)), CountSample(time=D(7), blq=True, lloq=D("0.5"))]
    assert bcell_kinetics(low).aplasia_onset_upper == 7
    at_limit = [CountSample(time=D(0), value=D(90)), CountSample(time=D(7), blq=True, lloq=D(5))]
    assert bcell_kinetics(at_limit).aplasia_onset_upper == 7  # < 5 is below the default 5 /µL: aplastic
    high = [CountSample(time=D(0), value=D(90)), CountSample(time=D(7), blq=True, lloq=D(10))]
    res = bcell_kinetics(high)
    assert res.aplasia_reached is False and res.n_indeterminate == 1


def test_not_reconstituted_is_right_censored() -> None:
    res = bcell_kinetics(counts([(0, 50), (14, 0), (90, 0), (120, 0)]))
    assert res.reconstituted is False and res.censored_at == 120
    assert res.aplasia_duration_min == 106 and res.aplasia_duration_max is None


def test_never_aplastic_and_no_post_infusion_data() -> None:
    assert bcell_kinetics(counts([(0, 50), (14, 20)])).aplasia_reached is False
    none = bcell_kinetics(counts([(-3, 50)]))
    assert not none.evaluable and none.baseline == 50


def test_confirmation_ignores_a_transient_blip() -> None:
    pairs = [(0.0, 80.0), (7.0, 0.0), (28.0, 6.0), (56.0, 0.0), (90.0, 12.0), (120.0, 40.0)]
    one = bcell_kinetics(counts(pairs))
    two = bcell_kinetics(counts(pairs), options=BCellOptions(confirm_samples=2))
    assert one.reconstitution_upper == 28
    assert (two.reconstitution_lower, two.reconstitution_upper) == (56, 90)


def test_naive_fraction_at_reconstitution() -> None:
    samples = [
        CountSample(time=D(0), value=D(80)),
        CountSample(time=D(14), value=D(0)),
        CountSample(time=D(110), value=D(40), naive=D(36)),
    ]
    assert bcell_kinetics(samples, naive_unit="/uL").naive_fraction_at_reconstitution == D("0.9")
    pct = [*samples[:2], CountSample(time=D(110), value=D(40), naive=D("92.5"))]
    assert bcell_kinetics(pct, naive_unit="%").naive_fraction_at_reconstitution == D("0.925")
    bad = [*samples[:2], CountSample(time=D(110), value=D(40), naive=D(41))]
    with pytest.raises(InvalidInput):
        bcell_kinetics(bad, naive_unit="/uL")


def test_bad_options_and_duplicates() -> None:
    with pytest.raises(InvalidInput) as err:
        parse(BCellOptions, {"aplasia_below": 10, "reconstitution_at_least": 5})
    assert err.value.field == "reconstitution_at_least"
    with pytest.raises(InvalidInput):
        bcell_kinetics(counts([(7, 1), (7, 2)]))


@settings(max_examples=80, deadline=None)
@given(
    onset=st.integers(1, 30),
    length=st.integers(20, 200),
    days=st.sets(st.integers(1, 400), min_size=3, max_size=25),
)
def test_true_crossing_days_lie_in_the_reported_intervals(onset: int, length: int, days: set[int]) -> None:
    recon = onset + length
    pairs = [(0.0, 100.0)] + [(float(d), 0.0 if onset <= d < recon else 100.0) for d in sorted(days)]
    res = bcell_kinetics(counts(pairs))
    if not res.aplasia_reached:
        assert all(not (onset <= d < recon) for d in days)
        return
    assert res.aplasia_onset_lower is not None and res.aplasia_onset_upper is not None
    assert res.aplasia_onset_lower < onset <= res.aplasia_onset_upper
    if res.reconstituted:
        assert res.reconstitution_lower is not None and res.reconstitution_upper is not None
        assert res.reconstitution_lower < recon <= res.reconstitution_upper
        assert res.aplasia_duration_min is not None and res.aplasia_duration_max is not None
        assert res.aplasia_duration_min <= length <= res.aplasia_duration_max
    else:
        assert res.censored_at is not None and res.censored_at < recon


def test_bcell_table_from_tidy_rows() -> None:
    rows = [
        ("P1", -5, "0.2", "10*9/L", "cd19"),
        ("P1", 7, "ND", "/uL", "cd19"),
        ("P1", 110, "30", "/uL", "cd19"),
        ("P1", 110, "90", "%", "cd19_naive"),
        ("P2", 0, "150", "/uL", "cd19"),
        ("P2", 28, "0", "/uL", "cd19"),
    ]
    frame = tidy_frame(pd.DataFrame(rows, columns=["patient", "time", "value", "unit", "analyte"]))
    # 'ND' has no stated limit: indeterminate, so P1's first aplastic sample is not seen
    table = bcell_table(frame).set_index("patient")
    assert table.loc["P1", "baseline"] == 200  # 0.2 x10^9/L = 200 /µL
    assert not table.loc["P1", "aplasia_reached"]
    assert table.loc["P2", "aplasia_onset_upper"] == 28 and table.loc["P2", "censored_at"] == 28
    with pytest.raises(InvalidInput):
        bcell_table(frame, analyte="cd20")


# --- autoantibodies ------------------------------------------------------------------------------------------


def ab(pairs: list[tuple[float, float]], uln: float | None = None) -> list[dict[str, object]]:
    return [{"time": repr(t), "value": repr(v), "uln": None if uln is None else repr(uln)} for t, v in pairs]


def test_exact_exponential_half_life() -> None:
    pairs = [(-7.0, 800.0)] + [(float(t), 800.0 * 2 ** (-t / 30)) for t in (0, 14, 28, 56, 90)]
    res = antibody_decline(ab(pairs), unit="[IU]/mL")
    assert res.half_life == pytest.approx(30.0, rel=1e-9)
    assert res.n_fit == 5 and res.declining
    assert res.half_life_ci_low == pytest.approx(30.0, rel=1e-6)


def test_noisy_half_life_ci_contains_truth() -> None:
    noise = [0.1, -0.12, 0.05, -0.02, 0.08, -0.1]
    pairs = [
        (float(t), 500 * math.exp(-math.log(2) / 40 * t + e))
        for t, e in zip([0, 14, 28, 56, 90, 120], noise, strict=True)
    ]
    res = antibody_decline(ab(pairs), unit="[IU]/mL")
    assert res.half_life_ci_low is not None and res.half_life_ci_high is not None
    assert res.half_life_ci_low < 40 < res.half_life_ci_high


def test_time_to_normalisation_at_uln_boundary() -> None:
    at = antibody_decline(ab([(-7, 400), (30, 200), (60, 100), (90, 80)], uln=100), unit="[IU]/mL")
    assert at.normalised and (at.normalisation_lower, at.normalisation_upper) == (30, 60)
    above = antibody_decline(ab([(-7, 400), (30, 200), (60, 100.01), (90, 80)], uln=100), unit="[IU]/mL")
    assert (above.normalisation_lower, above.normalisation_upper) == (60, 90)
    assert above.reverted is False


def test_normalisation_censored_reverted_and_normal_baseline() -> None:
    censored = antibody_decline(ab([(-7, 400), (30, 300), (60, 150)], uln=100), unit="[IU]/mL")
    assert censored.normalised is False and censored.censored_at == 60
    reverted = antibody_decline(ab([(-7, 400), (30, 50), (60, 150)], uln=100), unit="[IU]/mL")
    assert reverted.normalised and reverted.reverted
    normal = antibody_decline(ab([(-7, 40), (30, 20)], uln=100), unit="[IU]/mL")
    assert normal.abnormal_at_baseline is False and normal.normalised is None
    blq = antibody_decline(
        [*ab([(-7, 400)], uln=100), {"time": "30", "blq": True, "lloq": "10", "uln": "100"}], unit="[IU]/mL"
    )
    assert blq.normalised and blq.normalisation_upper == 30
    no_uln = antibody_decline(ab([(-7, 400), (30, 200), (60, 100)]), unit="[IU]/mL")
    assert no_uln.normalised is None and any("no ULN" in n for n in no_uln.notes)
    opt = antibody_decline(ab([(-7, 400), (30, 200), (60, 100)]), unit="[IU]/mL", options=AntibodyOptions(uln=D(150)))
    assert opt.normalisation_upper == 60


def test_rising_titre_is_not_a_decline_and_too_few_points() -> None:
    rising = antibody_decline(ab([(0, 100), (30, 150), (60, 300)]), unit="[IU]/mL")
    assert rising.declining is False and rising.half_life is None
    few = antibody_decline(ab([(0, 100), (30, 50)]), unit="[IU]/mL")
    assert few.half_life is None and few.n_fit == 2


def test_antibody_table_and_conflicting_uln() -> None:
    rows = [("P1", t, v, "[IU]/mL", "anti_dsdna", "100") for t, v in [(-7, "400"), (30, "150"), (90, "60")]]
    frame = tidy_frame(pd.DataFrame(rows, columns=["patient", "time", "value", "unit", "analyte", "uln"]))
    table = antibody_table(frame, ["anti_dsdna"])
    assert table.iloc[0]["normalisation_upper"] == 90
    rows[1] = ("P1", 30, "150", "[IU]/mL", "anti_dsdna", "120")
    frame = tidy_frame(pd.DataFrame(rows, columns=["patient", "time", "value", "unit", "analyte", "uln"]))
    with pytest.raises(InvalidInput) as err:
        antibody_table(frame, ["anti_dsdna"])
    assert err.value.field == "uln"
