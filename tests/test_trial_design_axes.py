"""Designs of today's trials: the design format's new axes, their mechanisms, example designs and --vary.

Direction tests run seeded populations of the predictive specs (median over patients), not the typical
patient only, so that a mechanism has to move most patients the documented way.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from immunoreset.errors import InvalidInput
from immunoreset.models import get_model
from immunoreset.simulate import sample_population, simulate_population
from immunoreset.trial import builtin_designs, load_design, simulate_trial
from immunoreset.trial.design import (
    LymphodepletionAgent,
    design_reference,
    lymphodepletion_intensity,
    lymphodepletion_kpd_amount,
    model_for,
    parse_vary,
    with_values,
)
from immunoreset.trial.virtual import FLOW_LLOQ, regimen_inputs

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ["flat_dose_cd28", "reduced_intensity_low_dose", "allogeneic_cd19", "cd19_bcma", "redosing"]
DAYS = np.arange(0.0, 366.0)


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "immunoreset", *args], capture_output=True, text=True, cwd=cwd, timeout=900
    )


def erlangen_data() -> dict:
    return yaml.safe_load((ROOT / "src/immunoreset/data/designs/erlangen2024.yaml").read_text())


def write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "design.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


# --- the design format ------------------------------------------------------------------------------------


def test_every_field_of_the_format_is_documented_by_trial_show() -> None:
    rows = design_reference()
    assert [r for r in rows if not r[3]] == []  # a description for every field
    paths = {r[0] for r in rows}
    for needed in (
        "product.target",
        "product.costimulatory_domain",
        "product.origin",
        "product.hla_edited",
        "product.dose_car_cells_per_kg",
        "product.dose_car_cells",
        "infusions[].day",
        "infusions[].dose_fraction",
        "lymphodepletion[].before_infusion",
        "cohorts[].covariates{}.median",
    ):
        assert needed in paths
    shown = cli("trial", "show", "--fields")
    assert shown.returncode == 0, shown.stderr
    for path in paths:
        assert f"{path}:" in shown.stdout


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (lambda d: d["product"].update(colour="blue"), "product.colour", "no such field"),
        (lambda d: d["product"].update(dose_car_cells_per_kg=-1e6), "product.dose_car_cells_per_kg", "greater than 0"),
        (lambda d: d["product"].update(target="CD20"), "product.target", "CD19/BCMA"),
        (lambda d: d["product"].update(target="BCMA"), "product.target", "not modelled"),
        (lambda d: d["product"].update(dose_car_cells=1e8), "product.dose_car_cells_per_kg", "exactly one"),
        (lambda d: d.pop("lymphodepletion"), "lymphodepletion", "required"),
        (lambda d: d["cohorts"][0]["covariates"].pop("height_cm"), "cohorts.0.covariates", "height_cm"),
        (lambda d: d["product"].update(hla_edited=True), "product.hla_edited", "allogeneic"),
        (lambda d: d["lymphodepletion"][1].update(days=[1]), "lymphodepletion.1.days", "before_infusion"),
        (lambda d: d["lymphodepletion"][0].update(before_infusion=2), "lymphodepletion.0.before_infusion", "1-1"),
        (lambda d: d.update(infusions=[{"day": 3}]), "infusions.0.day", "0"),
        (lambda d: d.update(infusions=[{"day": 0}, {"day": 900}]), "infusions", "follow_up_days"),
        (lambda d: d.update(infusions=[{"day": 0, "dose_fraction": -1}]), "infusions.0.dose_fraction", "greater"),
    ],
)
def test_bad_designs_are_one_line_errors_naming_the_field(tmp_path: Path, change, field: str, words: str) -> None:
    data = erlangen_data()
    change(data)
    with pytest.raises(InvalidInput) as err:
        load_design(write(tmp_path, data))
    assert err.value.field == field, err.value
    assert words in str(err.value)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d["product"].update(dose_car_cells_per_kg=-1e6), "product.dose_car_cells_per_kg"),
        (lambda d: d["lymphodepletion"][1].update(days=[1]), "lymphodepletion.1.days"),
        (lambda d: d["product"].update(target="CD20"), "product.target"),
    ],
)
def test_bad_designs_give_one_line_on_the_command_line(tmp_path: Path, change, field: str) -> None:
    data = erlangen_data()
    change(data)
    ran = cli("trial", "run", str(write(tmp_path, data)), "--out", str(tmp_path / "out"))
    assert ran.returncode != 0 and "Traceback" not in ran.stderr
    assert len(ran.stderr.strip().splitlines()) == 1 and f"'{field}'" in ran.stderr


def test_lymphodepletion_after_the_infusion_is_accepted_for_a_later_infusion(tmp_path: Path) -> None:
    design = load_design("redosing")
    assert [i.day for i in design.infusions] == [0, 180]
    assert {a.agent for a in design.lymphodepletion_for(2)} == {"fludarabine", "cyclophosphamide"}
    data = design.model_dump(mode="json")
    data["lymphodepletion"][2]["days"] = [178, 179, 180]  # on the day of the infusion it prepares
    with pytest.raises(InvalidInput) as err:
        load_design(write(tmp_path, data))
    assert err.value.field == "lymphodepletion.2.days" and "day 180" in str(err.value)


def test_the_target_chooses_the_model() -> None:
    assert model_for("SLE", "CD19") == "sle_cart" and model_for("SLE", "CD19/BCMA") == "sle_cart_bcma"
    assert model_for("IIM", "CD19/BCMA", infusions=2) == "iim_cart_bcma_redose"
    assert load_design("cd19_bcma").product.target == "CD19/BCMA"
    data = load_design("cd19_bcma").model_dump(mode="json")
    data["product"]["target"] = "CD19+BCMA"  # the alias of compound/co-infused products
    assert with_values(load_design("cd19_bcma"), {"product.target": "CD19+BCMA"}).product.target == "CD19/BCMA"


def test_flat_doses_are_divided_by_the_weight() -> None:
    design = load_design("flat_dose_cd28")
    assert design.product.dose_car_cells == 1e8 and design.product.dose_car_cells_per_kg is None
    inputs = regimen_inputs(design, 80.0, 170.0)
    assert inputs["Dose"] == pytest.approx(1e8 / 80) and inputs["costim_cd28"] == 1.0
    assert design.product.anti_car_immunity is False and "immunogenic" not in inputs  # one infusion: no recall


def test_lymphodepletion_host_depletion_is_by_drug() -> None:
    reference = load_design("erlangen2024").lymphodepletion
    # Park's amount for the Erlangen regimen, exactly as the published Σ mg/m² × days × BSA
    assert lymphodepletion_kpd_amount(reference, 1.8) == (3 * 25 + 1000) * 1.8
    bendamustine = [LymphodepletionAgent(agent="bendamustine", dose_mg_per_m2=90, days=[-4, -3])]
    assert lymphodepletion_kpd_amount(bendamustine, 1.8) == pytest.approx(1075 * 1.8)  # not 180 mg × BSA
    cy_only = [a for a in reference if a.agent == "cyclophosphamide"]
    assert lymphodepletion_kpd_amount(cy_only, 1.8) == pytest.approx(1075 * 1.8 / 2)
    assert lymphodepletion_kpd_amount([], 1.8) == 0.0


def test_lymphodepletion_intensity_reference_none_and_timing() -> None:
    reference = load_design("erlangen2024").lymphodepletion
    assert lymphodepletion_intensity(reference) == 1.0  # exactly: Erlangen is the reference regimen
    assert lymphodepletion_intensity([]) == 0.0
    cy_only = [a for a in reference if a.agent == "cyclophosphamide"]
    assert lymphodepletion_intensity(cy_only) == 0.5
    # a regimen ending on day -10 (7 days more rest than the reference's 3) keeps half its benefit
    early = [a.model_copy(update={"days": [d - 7 for d in a.days]}) for a in reference]
    assert lymphodepletion_intensity(early) == pytest.approx(0.5, rel=1e-12)
    # a rest shorter than 3 days counts as 3 (carry-over toxicity is not modelled)
    late = [a.model_copy(update={"days": [d + 2 for d in a.days]}) for a in reference]
    assert lymphodepletion_intensity(late) == 1.0


@given(
    st.floats(min_value=1, max_value=100),
    st.floats(min_value=1, max_value=100),
    st.integers(min_value=-20, max_value=-1),
    st.integers(min_value=1, max_value=10),
)
def test_lymphodepletion_intensity_grows_with_dose_and_falls_with_rest(
    dose: float, more: float, last_day: int, earlier: int
) -> None:
    def course(mg: float, day: int) -> list[LymphodepletionAgent]:
        return [LymphodepletionAgent(agent="fludarabine", dose_mg_per_m2=mg, days=[day - 1, day])]

    assert lymphodepletion_intensity(course(dose + more, last_day)) > lymphodepletion_intensity(course(dose, last_day))
    assert lymphodepletion_intensity(course(dose, last_day - earlier)) <= lymphodepletion_intensity(
        course(dose, last_day)
    )


def test_vary_specifications() -> None:
    assert parse_vary(["product.dose=1e5,1e6", "infusions.0.dose_fraction=1"]) == {
        "product.dose": [1e5, 1e6],
        "infusions.0.dose_fraction": [1],
    }
    for bad in (
        ["product.dose"],
        ["=1,2"],
        ["product.dose="],
        ["a=1", "a=2"],
        ["product.dose=1e5,1e5"],
        ["seed=1,2"],
        ["cohorts.0.size=3,4"],
        ["product.dose=1e5,1e6", "product.dose_car_cells_per_kg=1e7,1e8"],
    ):
        with pytest.raises(InvalidInput):
            parse_vary(bad)
    structured = parse_vary(["lymphodepletion=[];[{agent: cyclophosphamide, dose_mg_per_m2: 1000, days: [-3]}]"])
    assert structured["lymphodepletion"][0] == [] and structured["lymphodepletion"][1][0]["days"] == [-3]
    with pytest.raises(InvalidInput):
        parse_vary(["infusions=[{day: 0};[]"])
    design = load_design("erlangen2024")
    assert with_values(design, {"lymphodepletion": []}).lymphodepletion == []
    assert [i.day for i in with_values(design, {"infusions": [{"day": 0}, {"day": 90}]}).infusions] == [0, 90]
    assert with_values(design, {"product.dose": 1e5}).product.dose_car_cells_per_kg == 1e5
    assert with_values(load_design("flat_dose_cd28"), {"product.dose": 5e7}).product.dose_car_cells == 5e7
    with pytest.raises(InvalidInput) as err:
        with_values(design, {"product.nosuch": 1})
    assert err.value.field == "--vary"
    with pytest.raises(InvalidInput) as err:
        with_values(design, {"product.dose": -5})
    assert err.value.field == "product.dose_car_cells_per_kg"


# --- erlangen2024 is unchanged by the new format ------------------------------------------------------------


def test_erlangen_gives_the_same_records_written_in_the_old_and_the_new_format(tmp_path: Path) -> None:
    old = erlangen_data()
    assert "infusions" not in old and "costimulatory_domain" not in old["product"]  # the file predates them
    new = load_design("erlangen2024").model_dump(mode="json")  # every new field written out with its default
    assert new["infusions"] == [{"day": 0, "dose_fraction": 1.0}] and new["product"]["origin"] == "autologous"
    (tmp_path / "new.yaml").write_text(yaml.safe_dump(new, allow_unicode=True))
    a = simulate_trial("erlangen2024", patients=4, workers=1)
    b = simulate_trial(tmp_path / "new.yaml", patients=4, workers=1)
    assert a.study.model_dump_json() == b.study.model_dump_json()
    pd.testing.assert_frame_equal(a.daily, b.daily)
    inputs = regimen_inputs(load_design("erlangen2024"), 65.0, 168.0)
    # the default of every new axis is the exact identity of the calibrated model
    assert inputs["ld_intensity"] == 1.0 and inputs["costim_cd28"] == inputs["allogeneic"] == 0.0
    assert "Dose2" not in inputs and "immunogenic" not in inputs
    redose = regimen_inputs(load_design("redosing"), 65.0, 168.0)
    assert redose["t_dose2"] == 180.0 and redose["Dose2"] == 1e6 and redose["immunogenic"] == 1.0


# --- mechanisms: directions on seeded populations ---------------------------------------------------------


def population_outputs(model: str, n: int = 40, **inputs: float) -> dict[str, np.ndarray]:
    spec = get_model(model)
    pop = sample_population(spec, n, seed=14, inputs=inputs)
    table = simulate_population(pop, DAYS, workers=1)
    return {name: table[name].to_numpy().reshape(n, DAYS.size) for name in ("totalCart", "bCell")} | {
        name: table[name].to_numpy().reshape(n, DAYS.size)
        for name in ("llpcAutoreactive", "protectiveAntibody", "antiDsDNA", "IgG", "antiCarPriming")
        if name in table
    }


def peak(cart: np.ndarray, start: int = 0, stop: int = 60) -> tuple[np.ndarray, np.ndarray]:
    window = cart[:, start:stop]
    return window.max(axis=1), window.argmax(axis=1) + start


def test_higher_dose_gives_a_higher_and_earlier_car_t_peak() -> None:
    medians = []
    for dose in (1e5, 1e6, 1e7):
        cmax, tmax = peak(population_outputs("sle_cart", Dose=dose)["totalCart"])
        medians.append((float(np.median(cmax)), float(np.median(tmax))))
    assert medians[0][0] < medians[1][0] < medians[2][0]
    assert medians[0][1] > medians[2][1]


def test_no_lymphodepletion_gives_lower_expansion() -> None:
    with_ld = peak(population_outputs("sle_cart")["totalCart"])[0]
    without = peak(population_outputs("sle_cart", ld_intensity=0.0, Dose_LDC=0.0)["totalCart"])[0]
    assert np.median(without) < 0.5 * np.median(with_ld)
    assert (without < with_ld).mean() > 0.9


def test_allogeneic_car_t_fall_below_detection_within_about_two_months() -> None:
    allo = population_outputs("sle_cart", allogeneic=1.0)["totalCart"]
    auto = population_outputs("sle_cart")["totalCart"]
    below = lambda cart: np.array([np.argmax((cart[i] < FLOW_LLOQ) & (DAYS > 14)) for i in range(len(cart))])  # noqa: E731
    assert np.median(below(allo)) <= 60 and (allo[:, 75] < FLOW_LLOQ).mean() >= 0.9
    assert (auto[:, 75] < FLOW_LLOQ).mean() < 0.2  # autologous cells persist
    edited = population_outputs("sle_cart", allogeneic=1.0, hla_edited=1.0)["totalCart"]
    assert np.median(edited[:, 90]) > FLOW_LLOQ  # HLA-edited: beyond 3 months (Wang 2024)


def test_cd28_construct_persists_shorter() -> None:
    cd28 = population_outputs("sle_cart", costim_cd28=1.0)["totalCart"]
    bb = population_outputs("sle_cart")["totalCart"]
    assert np.median(cd28[:, 42]) < 0.1 * np.median(bb[:, 42])


def test_bcma_removes_long_lived_plasma_cell_autoantibodies_that_cd19_leaves() -> None:
    cd19 = population_outputs("sle_cart")
    both = population_outputs("sle_cart_bcma")
    assert np.median(cd19["llpcAutoreactive"][:, 180]) > 0.9
    assert np.median(both["llpcAutoreactive"][:, 180]) < 0.1
    assert np.median(both["antiDsDNA"][:, 180] / cd19["antiDsDNA"][:, 180]) < 0.5
    assert np.median(cd19["protectiveAntibody"][:, 180]) > 0.85  # vaccine titres persist with CD19 alone
    assert np.median(both["protectiveAntibody"][:, 180]) < 0.5


def test_reinfusion_meets_anti_car_immunity() -> None:
    second = {"Dose2": 1e6, "t_dose2": 180.0}
    out = population_outputs("sle_cart_redose", **second)
    immune = out["totalCart"]
    first_peak = peak(immune)[0]
    second_peak = peak(immune, 180, 240)[0]
    assert (second_peak < first_peak).all()
    naive = peak(population_outputs("sle_cart_redose", immunogenic=0.0, **second)["totalCart"], 180, 240)[0]
    assert np.median(second_peak) < np.median(naive)  # immunity, not only the lack of antigen
    relymphodepleted = peak(population_outputs("sle_cart_redose", Dose_LDC2=1935.0, **second)["totalCart"], 180, 240)[0]
    assert np.median(relymphodepleted) > np.median(second_peak)  # lymphodepletion blunts the recall
    # immunity grows with exposure: primed within weeks, more by a course that expands more
    priming = out["antiCarPriming"]
    assert np.median(priming[:, 3]) < 0.1 < 0.5 < np.median(priming[:, 179])
    low = population_outputs("sle_cart_redose", ld_intensity=0.0, Dose_LDC=0.0)["antiCarPriming"]
    assert np.median(low[:, 28]) < np.median(priming[:, 28])


def test_split_dose_days_apart_is_one_exposure() -> None:
    split = population_outputs("sle_cart_redose", Dose=1e5, Dose2=3e5, t_dose2=3.0, Dose3=6e5, t_dose3=6.0)["totalCart"]
    single = population_outputs("sle_cart", Dose=1e6)["totalCart"]
    # no recall within a week: the split dose persists like a single dose, with a lower peak
    assert np.median(peak(split)[0]) < np.median(peak(single)[0])
    assert math.isclose(np.median(split[:, 120] > FLOW_LLOQ), np.median(single[:, 120] > FLOW_LLOQ))


# --- example designs end to end and --vary ----------------------------------------------------------------


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_design_runs_through_trial_run(tmp_path: Path, name: str) -> None:
    assert name in builtin_designs()
    ran = cli("trial", "run", name, "--out", str(tmp_path / name), "--patients", "4")
    assert ran.returncode == 0, ran.stderr[-2000:]
    out = tmp_path / name
    assert (out / "report.html").stat().st_size > 10_000
    patients = pd.read_csv(out / "tables" / "patients.csv")
    assert len(patients) == 4
    outcomes = pd.read_parquet(out / "outcomes.parquet")
    assert len(outcomes) > 0
    daily = pd.read_parquet(out / "tables" / "model_daily.parquet")
    design = load_design(name)
    if design.product.target == "CD19/BCMA":
        assert daily["plasma_cells_relative"].min() < 0.1
    if design.product.dose_car_cells is not None:
        assert patients["dose_cells_total"].notna().all() and patients["dose_cells_per_kg"].isna().all()


def test_vary_runs_the_grid_and_reports_each_level(tmp_path: Path) -> None:
    ran = cli(
        "trial", "run", "erlangen2024", "--out", str(tmp_path), "--patients", "6", "--vary", "product.dose=1e5,1e7"
    )
    assert ran.returncode == 0, ran.stderr[-2000:]
    table = pd.read_csv(tmp_path / "tables" / "exploration.csv")
    assert list(table["level"].unique()) == ["product.dose=100000.0", "product.dose=10000000.0"]
    overall = table[table["disease"] == "all"].set_index("level")
    assert (
        overall.loc["product.dose=10000000.0", "cart_cmax_median"]
        > overall.loc["product.dose=100000.0", "cart_cmax_median"]
    )
    assert (overall["patients"] == 6).all()
    assert (overall["crs_any_ci_lower"] <= overall["crs_any_rate"]).all()
    assert (overall["crs_any_rate"] <= overall["crs_any_ci_upper"]).all()
    report = (tmp_path / "report.html").read_text()
    assert "Design exploration" in report and "plotly" in report.lower()
    for n in (1, 2):
        assert (tmp_path / "levels" / str(n) / "report.html").is_file()


def test_simulate_cli_sets_model_inputs_and_runs_the_bcma_variant(tmp_path: Path) -> None:
    for name, extra in (("auto", []), ("allo", ["-I", "allogeneic=1"])):
        ran = cli("simulate", "sle_cart", "--typical", "--days", "80", *extra, "--out", str(tmp_path / f"{name}.csv"))
        assert ran.returncode == 0, ran.stderr
    auto, allo = (pd.read_csv(tmp_path / f"{n}.csv").set_index("time") for n in ("auto", "allo"))
    assert allo.totalCart[60] < FLOW_LLOQ < auto.totalCart[60]
    bad = cli("simulate", "sle_cart", "--typical", "-I", "nosuch=1", "--out", str(tmp_path / "x.csv"))
    assert bad.returncode != 0 and "field 'input'" in bad.stderr and "Traceback" not in bad.stderr
    ran = cli("simulate", "sle_cart_bcma", "--typical", "--days", "120", "--out", str(tmp_path / "bcma.csv"))
    assert ran.returncode == 0, ran.stderr
    assert pd.read_csv(tmp_path / "bcma.csv").set_index("time").plasmaCells[90] < 0.1


def test_design_errors_that_only_a_drawn_patient_reveals_name_the_design_field(tmp_path: Path) -> None:
    data = load_design("flat_dose_cd28").model_dump(mode="json")
    data["product"]["dose_car_cells"] = 1e11  # 1e11 cells for a 40-kg patient exceed the model's 1e9/kg
    with pytest.raises(InvalidInput) as err:
        simulate_trial(load_design(write(tmp_path, data)), patients=4, workers=1)
    assert err.value.field.startswith("product.dose_car_cells") and "every patient" in str(err.value)


def test_axes_act_through_designs_not_only_model_inputs(tmp_path: Path) -> None:
    base = load_design("erlangen2024")
    without_ld = base.model_copy(update={"lymphodepletion": []})
    allogeneic = load_design("allogeneic_cd19")

    def sle_daily(design) -> pd.DataFrame:
        trial = simulate_trial(design, patients=12, workers=1)
        return trial.daily[trial.daily["disease"] == "SLE"].pivot(
            index="study_day", columns="patient", values="car_t_per_ul"
        )

    with_ld, no_ld, allo = sle_daily(base), sle_daily(without_ld), sle_daily(allogeneic)
    assert no_ld.iloc[:60].max().median() < 0.5 * with_ld.iloc[:60].max().median()
    assert (allo.loc[75] < FLOW_LLOQ).all() and (with_ld.loc[75] > FLOW_LLOQ).all()


def test_reinfusions_are_medication_records_that_do_not_count_against_drug_free(tmp_path: Path) -> None:
    ran = cli(
        "trial", "run", "redosing", "--out", str(tmp_path / "run"), "--patients", "2", "--redcap", str(tmp_path / "rc")
    )
    assert ran.returncode == 0, ran.stderr[-2000:]
    trial = simulate_trial("redosing", patients=1, workers=1)
    meds = {m.key: m for m in trial.study.patients[0].medications}
    assert meds["car-t-infusion-2"].start_day == 180 and meds["car-t-infusion-2"].unit == "cells/kg"
    assert meds["lymphodepletion-2-1"].indication == "lymphodepletion"
    from immunoreset.registry.outcomes import _purpose

    assert _purpose(meds["car-t-infusion-2"].indication) == "other"
    assert _purpose(meds["lymphodepletion-2-1"].indication) == "lymphodepletion"
    assert _purpose("CAR-T toxicity (CRS, ICANS)") == "car_t_toxicity"
