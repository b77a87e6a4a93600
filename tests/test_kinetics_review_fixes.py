"""Regression tests from the independent review of the kinetics module (expected values: PKNCA's rules)."""

from __future__ import annotations

import math

from immunoreset.kinetics.bcells import BCellOptions, bcell_kinetics
from immunoreset.kinetics.nca import nca


def test_pre_infusion_samples_do_not_block_the_auc() -> None:
    # days -7 (BLQ), 0 (BLQ), 7, 14, 28: lin(0->100 over 7) + log(100->20 over 7) + log(20->5 over 14)
    result = nca(
        [
            {"time": -7, "value": None, "blq": True},
            {"time": 0, "value": None, "blq": True},
            {"time": 7, "value": 100},
            {"time": 14, "value": 20},
            {"time": 28, "value": 5},
        ],
        unit="/uL",
    )
    expected = 350 + 80 * 7 / math.log(5) + 15 * 14 / math.log(4)
    assert result.auclast is not None and math.isclose(result.auclast, expected, rel_tol=1e-12)
    assert math.isclose(expected, 849.4305, rel_tol=1e-6)
    assert any("pre-infusion" in n for n in result.notes)


def test_flat_terminal_run_is_ignored_like_pknca() -> None:
    profile = [0, 100, 50, 25, 10, 10, 10]
    result = nca([{"time": d, "value": v} for d, v in enumerate(profile)], unit="/uL")
    assert result.half_life is not None
    assert result.half_life.n_points == 5
    assert math.isclose(result.half_life.lambda_z, 0.4135166556742355, rel_tol=1e-9)
    assert math.isclose(result.half_life.adj_r_squared, 0.7251290043032661, rel_tol=1e-9)


def test_censored_minimum_aplasia_stops_at_the_last_count_known_below_reconstitution() -> None:
    options = BCellOptions(confirm_samples=2)
    result = bcell_kinetics(
        [{"time": 14, "value": 0}, {"time": 60, "value": 0}, {"time": 90, "value": 30}], options=options
    )
    assert result.reconstituted is False
    assert result.aplasia_duration_min == 46  # reconstitution may have happened in (60, 90]


def test_population_fit_on_too_few_patients_says_so_and_gives_no_partial_standard_errors() -> None:
    import numpy as np

    from immunoreset.kinetics.recovery import SCHEDULE
    from immunoreset.kinetics.saem import Dataset, SAEMOptions, saem
    from immunoreset.kinetics.stein2019 import STEIN2019, simulate, structural_model

    t = np.array(SCHEDULE[:5], dtype=float)
    _, y = simulate(2, t, seed=3)
    data = Dataset.from_lists(["a", "b"], [list(t)] * 2, list(y))
    fit = saem(
        structural_model(),
        data,
        STEIN2019.typical,
        options=SAEMOptions(k1=40, k2=20, anneal=20, k_post=20, is_samples=100, seed=5),
    )
    assert any("few data" in note for note in fit.notes)
