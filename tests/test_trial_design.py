"""Trial design files: the built-in Erlangen design, validation errors, covariate sampling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from immunoreset.errors import InvalidInput
from immunoreset.trial import builtin_designs, load_design
from immunoreset.trial.design import CovariateDistribution


def test_builtin_erlangen_design_mirrors_the_published_series() -> None:
    assert "erlangen2024" in builtin_designs()
    design = load_design("erlangen2024")
    assert {c.disease: c.size for c in design.cohorts} == {"SLE": 8, "IIM": 3, "SSc": 4}
    assert design.product.dose_car_cells_per_kg == 1e6
    ld = {a.agent: (a.dose_mg_per_m2, a.days) for a in design.lymphodepletion}
    assert ld == {"fludarabine": (25, [-5, -4, -3]), "cyclophosphamide": (1000, [-3])}
    assert design.follow_up_days == 730 and design.visits[-1] == 730
    assert design.concomitant.glucocorticoid_on(-10) == 0 and design.concomitant.glucocorticoid_on(365) == 0


def edited(tmp_path: Path, **changes: object) -> Path:
    data = yaml.safe_load(
        (Path(__file__).resolve().parents[1] / "src/immunoreset/data/designs/erlangen2024.yaml").read_text()
    )
    data.update(changes)
    path = tmp_path / "design.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_user_copy_with_another_dose_loads(tmp_path: Path) -> None:
    path = edited(tmp_path, name="half_dose")
    data = yaml.safe_load(path.read_text())
    data["product"]["dose_car_cells_per_kg"] = 5e5
    path.write_text(yaml.safe_dump(data))
    assert load_design(path).product.dose_car_cells_per_kg == 5e5


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"endpoints": ["sledai2k", "sledai3k"]}, "endpoints"),
        ({"visits": [0, 7, 3]}, "visits"),
        ({"visits": [0, 900]}, "visits"),
        ({"seed": -1}, "seed"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_designs_name_the_field(tmp_path: Path, changes: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        load_design(edited(tmp_path, **changes))
    assert err.value.field.split(".")[0] == field


def test_model_parameters_are_checked_against_the_disease_model(tmp_path: Path) -> None:
    design = load_design("erlangen2024")
    # the predictive specs carry the lymphodepletion option themselves: the default design overrides nothing
    assert all(c.model_parameters == {} for c in design.cohorts)
    data = yaml.safe_load(edited(tmp_path).read_text())
    data["cohorts"][1]["model_parameters"] = {"Emax_LDC_Bnaive": 1.0, "Kkill_maxx": 3.0}
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(InvalidInput) as err:
        load_design(str(tmp_path / "bad.yaml"))
    assert err.value.field == "cohorts.1.model_parameters" and err.value.value == "Kkill_maxx"
    assert "iim_cart" in str(err.value)
    for value, why in ((1.5, "<= 1"), (-0.1, ">= 0"), ("high", "a number")):
        data["cohorts"][0]["model_parameters"] = {"Emax_LDC_Bnaive": value}
        data["cohorts"][1]["model_parameters"] = {}
        (tmp_path / "bad.yaml").write_text(yaml.safe_dump(data))
        with pytest.raises(InvalidInput) as err:
            load_design(str(tmp_path / "bad.yaml"))
        assert err.value.field.endswith("model_parameters.Emax_LDC_Bnaive") and why in str(err.value), err.value


def test_b_cell_definition_defaults_to_looney_2004_and_can_be_set(tmp_path: Path) -> None:
    assert load_design("erlangen2024").b_cell_definition.aplasia_below == 5
    custom = load_design(str(edited(tmp_path, b_cell_definition={"aplasia_below": 1, "reconstitution_at_least": 10})))
    assert (custom.b_cell_definition.aplasia_below, custom.b_cell_definition.reconstitution_at_least) == (1, 10)
    with pytest.raises(InvalidInput) as err:
        load_design(str(edited(tmp_path, b_cell_definition={"aplasia_below": 10, "reconstitution_at_least": 1})))
    assert "reconstitution_at_least" in err.value.field


def test_unknown_design_name() -> None:
    with pytest.raises(InvalidInput) as err:
        load_design("nosuch")
    assert "erlangen2024" in str(err.value)


@given(st.integers(min_value=3, max_value=500))
def test_resizing_keeps_every_cohort_and_the_total(patients: int) -> None:
    design = load_design("erlangen2024").resized(patients)
    assert design.patients == patients
    assert all(c.size >= 1 for c in design.cohorts)


def test_truncated_lognormal_respects_bounds_and_median() -> None:
    dist = CovariateDistribution(kind="lognormal", median=65, cv=0.18, low=40, high=120)
    draws = dist.sample(np.random.default_rng(7), 20000)
    assert draws.min() >= 40 and draws.max() <= 120
    assert abs(np.median(draws) - 65) < 1.0
    with pytest.raises(ValidationError):
        CovariateDistribution(kind="normal", mean=1)
