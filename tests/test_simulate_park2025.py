"""Engine tests on the Park 2025 model: identities (spec §9.2), switch events, accuracy against the
tight-tolerance Radau reference, libRoadRunner round trip, seeded populations, CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from immunoreset.errors import InvalidInput
from immunoreset.models import get_model
from immunoreset.simulate import (
    REFERENCE,
    compile_model,
    input_vector,
    sample_population,
    simulate_population,
    simulate_typical,
    solve_reference,
)
from immunoreset.simulate.compile import switch_flags

SPEC = get_model("park2025")
MODEL = compile_model(SPEC)
DAYS = np.arange(0.0, 731.0)
# Absolute floors (in each output's unit) below which a pool counts as eradicated; relative accuracy is
# meaningless there (values of 1e-20 cells/L and below). Everything else must agree within 1e-4 relative.
FLOORS = {"tnCart": 1e-3, "cmCart": 1e-3, "emCart": 1e-3, "efCart": 1e-3, "totalCart": 1e-9, "bCell": 1e-9}


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return simulate_typical(SPEC, DAYS, settings=REFERENCE)


@pytest.fixture(scope="module")
def default() -> pd.DataFrame:
    return simulate_typical(SPEC, DAYS)


def _close(a: np.ndarray, b: np.ndarray, rel: float, floor: float) -> bool:
    return bool(np.all(np.abs(a - b) <= rel * np.abs(b) + floor))


def test_default_solver_matches_tight_reference(default: pd.DataFrame, reference: pd.DataFrame) -> None:
    assert default.attrs["radau_fallbacks"] == 0  # the BDF result itself, not the fallback
    for name in SPEC.output_names:
        assert _close(default[name].to_numpy(), reference[name].to_numpy(), 1e-4, FLOORS.get(name, 0.0)), name


def test_reference_is_converged_radau_vs_lsoda_tight(reference: pd.DataFrame) -> None:
    p = np.array([x.value for x in SPEC.parameters])
    u = input_vector(SPEC)
    tr = solve_reference(MODEL, p, u, DAYS, method="LSODA", rtol=1e-10, atol=1e-12)
    other = MODEL.outputs(DAYS, tr.y, p, u, tr.flags)
    for j, name in enumerate(SPEC.output_names):
        assert _close(other[j], reference[name].to_numpy(), 1e-6, FLOORS.get(name, 0.0)), name


def test_cart_peak_between_day_7_and_10(reference: pd.DataFrame) -> None:
    peak_day = float(reference["time"].iloc[int(reference["totalCart"].to_numpy().argmax())])
    assert 7.0 <= peak_day <= 10.0


def test_switch_events_located_exactly() -> None:
    p = np.array([x.value for x in SPEC.parameters])
    u = input_vector(SPEC)
    tr = solve_reference(MODEL, p, u, DAYS, method="Radau", rtol=1e-10, atol=1e-12)
    kinds = [(e.switch, e.on) for e in tr.events]
    # gate opens early (distribution to marrow), closes with expansion; release stops; gate reopens late
    assert kinds == [
        ("reconstitution_gate", True),
        ("reconstitution_gate", False),
        ("aab_release", False),
        ("reconstitution_gate", True),
    ]
    assert 5.0 < tr.events[2].time < 5.2
    # at each located time the switch quantity is at its threshold
    for ev in tr.events:
        dense = solve_reference(MODEL, p, u, np.array([0.0, ev.time]), method="Radau", rtol=1e-10, atol=1e-12)
        g = MODEL.switch_g(ev.time, dense.y[:, -1], p, u)
        i = [s.name for s in SPEC.switches].index(ev.switch)
        scale = 2.38 if ev.switch == "reconstitution_gate" else 1e6
        assert abs(g[i]) <= 1e-6 * scale


def test_c3_plateau_closed_form(reference: pd.DataFrame) -> None:
    aab_plateau = reference["antiDsDNA"].iloc[-1]
    assert reference["antiDsDNA"].iloc[30] == pytest.approx(aab_plateau, rel=1e-12)  # frozen after the switch
    c3_0, aab0, gamma = 555.0, 470000.0, SPEC.parameter("gam_C3").value
    assert reference["complementC3"].iloc[-1] == pytest.approx(c3_0 * (aab0 / aab_plateau) ** gamma, rel=1e-8)


def test_host_cells_hold_baseline_without_lymphodepletion() -> None:
    df = simulate_typical(SPEC, DAYS, inputs={"Dose_LDC": 0.0})
    t4 = SPEC.parameter("K0_CD4").value / SPEC.parameter("Kout_CD4").value
    t8 = SPEC.parameter("K0_CD8").value / SPEC.parameter("Kout_CD8").value
    assert np.allclose(df["cd4T"], t4, rtol=1e-9, atol=0)
    assert np.allclose(df["cd8T"], t8, rtol=1e-9, atol=0)
    assert np.allclose(df["neut"], SPEC.parameter("Circ0").value, rtol=1e-9, atol=0)


def test_sbml_round_trip_through_libroadrunner(reference: pd.DataFrame) -> None:
    roadrunner = pytest.importorskip("roadrunner")
    from immunoreset.simulate.sbml import to_sbml_string

    rr = roadrunner.RoadRunner(to_sbml_string(SPEC))
    rr.integrator.relative_tolerance = 1e-10
    rr.integrator.absolute_tolerance = 1e-12
    rr.integrator.setValue("maximum_bdf_order", 4)
    rr.integrator.setValue("maximum_num_steps", 100000)
    res = rr.simulate(0, 730, 731, selections=["time", *SPEC.output_names])
    for j, name in enumerate(SPEC.output_names, start=1):
        assert _close(res[:, j], reference[name].to_numpy(), 1e-3, FLOORS.get(name, 0.0)), name


def test_seeded_population_reproducible_and_lognormal() -> None:
    a = sample_population(SPEC, 5000, seed=42)
    b = sample_population(SPEC, 5000, seed=42)
    c = sample_population(SPEC, 5000, seed=43)
    assert np.array_equal(a.params, b.params)
    assert not np.array_equal(a.params, c.params)
    j = SPEC.parameter_names.index("K0_rev")
    eta = np.log(a.params[:, j] / SPEC.parameter("K0_rev").value)
    assert abs(eta.std() - 1.04) < 0.05 and abs(eta.mean()) < 0.05
    fixed = SPEC.parameter_names.index("K12")
    assert np.all(a.params[:, fixed] == SPEC.parameter("K12").value)


def test_small_population_no_failures_and_parquet(tmp_path: Path) -> None:
    pop = sample_population(SPEC, 6, seed=7)
    df = simulate_population(pop, DAYS, workers=1)
    assert df.shape == (6 * DAYS.size, 2 + len(SPEC.outputs))
    assert np.isfinite(df[SPEC.output_names].to_numpy()).all()
    again = simulate_population(sample_population(SPEC, 6, seed=7), DAYS, workers=1)
    pd.testing.assert_frame_equal(df, again)
    out = tmp_path / "pop.parquet"
    df.to_parquet(out)
    pd.testing.assert_frame_equal(pd.read_parquet(out), df)


def test_dose_ranging_lower_dose_delays_peak() -> None:
    t = np.arange(0.0, 61.0, 0.25)
    full = simulate_typical(SPEC, t)
    low = simulate_typical(SPEC, t, inputs={"Dose": 1e4})
    tf = full["time"].iloc[int(full["totalCart"].to_numpy().argmax())]
    tl = low["time"].iloc[int(low["totalCart"].to_numpy().argmax())]
    assert tl > tf
    # peak falls much less than proportionally to the dose (1 %)
    assert low["totalCart"].max() > 0.05 * full["totalCart"].max()


def test_flags_follow_strict_operators_at_start() -> None:
    p = np.array([x.value for x in SPEC.parameters])
    y0 = MODEL.init(p, input_vector(SPEC))
    assert switch_flags(MODEL, MODEL.switch_g(0.0, y0, p, input_vector(SPEC))).tolist() == [0.0, 1.0]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "immunoreset", *args], capture_output=True, text=True, timeout=300)


def test_cli_typical_and_population(tmp_path: Path) -> None:
    out = tmp_path / "typ.parquet"
    r = _cli("simulate", "park2025", "--typical", "--days", "60", "--out", str(out))
    assert r.returncode == 0, r.stderr
    df = pd.read_parquet(out)
    assert df["patient"].nunique() == 1 and df["time"].max() == 60
    png = tmp_path / "bands.png"
    r = _cli(
        "simulate",
        "park2025",
        "--patients",
        "4",
        "--days",
        "40",
        "--seed",
        "3",
        "--out",
        str(tmp_path / "p.csv"),
        "--plot",
        str(png),
        "--workers",
        "1",
    )
    assert r.returncode == 0, r.stderr
    assert png.stat().st_size > 10000
    assert pd.read_csv(tmp_path / "p.csv")["patient"].nunique() == 4


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--patients", "0"], "patients"),
        (["--days", "-5"], "days"),
        (["--dose", "-1"], "Dose"),
        (["--weight", "0"], "WT"),
        (["-P", "Emax_LDC_Bnaive=1.5"], "Emax_LDC_Bnaive"),
        (["-P", "Emax_LDC_Bnaive=high"], "Emax_LDC_Bnaive"),
        (["-P", "Kkill=1"], "parameter"),
        (["-P", "CARTrev_min=0"], "CARTrev_min"),
    ],
)
def test_cli_bad_input_exit_2(tmp_path: Path, args: list[str], field: str) -> None:
    r = _cli("simulate", "park2025", *args, "--out", str(tmp_path / "x.parquet"))
    assert r.returncode == 2
    assert field in r.stderr


def test_cli_model_show_and_export(tmp_path: Path) -> None:
    r = _cli("model", "show", "park2025")
    assert r.returncode == 0 and "Ksyn_PTU" in r.stdout and "cd19b_pb" in r.stdout
    sbml = tmp_path / "park.xml"
    r = _cli("model", "export", "park2025", "--sbml", str(sbml))
    assert r.returncode == 0 and "<sbml" in sbml.read_text()
    r = _cli("model", "show", "nosuchmodel")
    assert r.returncode == 2 and "model" in r.stderr


def test_sbml_sampled_patients_through_libroadrunner_with_flag_reset() -> None:
    roadrunner = pytest.importorskip("roadrunner")
    from immunoreset.simulate.sbml import to_sbml_string

    pop = sample_population(SPEC, 2, seed=5)
    ours = simulate_population(pop, DAYS, workers=1)
    rr = roadrunner.RoadRunner(to_sbml_string(SPEC))
    rr.integrator.relative_tolerance = 1e-10
    rr.integrator.absolute_tolerance = [1e-6] * len(SPEC.states)
    rr.integrator.setValue("maximum_bdf_order", 4)
    for i in range(pop.n):
        p, u = pop.params[i], pop.inputs[i]
        for param in SPEC.iiv_parameters():
            rr[param.name] = float(p[SPEC.parameter_names.index(param.name)])
        rr.reset()  # restores states, not event-changed flags: set those explicitly
        flags = switch_flags(MODEL, MODEL.switch_g(0.0, MODEL.init(p, u), p, u))
        for sw, value in zip(SPEC.switches, flags, strict=True):
            rr[sw.name] = float(value)
        res = rr.simulate(0, 730, 731, selections=["time", *SPEC.output_names])
        mine = ours[ours["patient"] == i + 1]
        for j, name in enumerate(SPEC.output_names, start=1):
            assert _close(res[:, j], mine[name].to_numpy(), 1e-3, FLOORS.get(name, 0.0)), (i, name)


def test_sbml_export_is_generic_stein2019_round_trip() -> None:
    """The exporter reads only the spec: the Stein 2019 kinetic spec (time-based switch) round-trips too."""
    roadrunner = pytest.importorskip("roadrunner")
    from immunoreset.simulate.sbml import to_sbml_string

    spec = get_model("stein2019")
    t = np.arange(0.0, 57.0)
    ours = simulate_typical(spec, t, settings=REFERENCE)
    rr = roadrunner.RoadRunner(to_sbml_string(spec))
    rr.integrator.relative_tolerance = 1e-10
    rr.integrator.absolute_tolerance = 1e-14
    res = rr.simulate(0, 56, 57, selections=["time", *spec.output_names])
    for j, name in enumerate(spec.output_names, start=1):
        assert _close(res[:, j], ours[name].to_numpy(), 1e-6, 0.0), name


def test_lymphodepletion_option_removes_the_early_naive_seeding(reference: pd.DataFrame) -> None:
    """Emax_LDC_Bnaive = 0 is Park 2025 as published (the early gate window seeds a naive plateau of a few
    cells/uL); = 1 suppresses naive output while the lymphodepletion signal is high, so blood B cells stay
    near zero until the CAR-T decline re-opens the gate, and reconstitution afterwards is unchanged."""
    assert SPEC.parameter("Emax_LDC_Bnaive").value == 0.0
    published = reference.set_index("time")["bCell"]
    pop = sample_population(SPEC, 1, iiv=False, typical={"Emax_LDC_Bnaive": 1.0})
    option = simulate_population(pop, DAYS).set_index("time")["bCell"]
    assert published.loc[14:45].min() > 1.0  # published: seeded naive plateau through aplasia
    assert option.loc[14:45].max() < 0.1  # option: no B cells until the gate re-opens
    assert published.loc[:7].idxmin() < 10 and option.loc[:7].min() < published.loc[:7].min()
    # reconstitution starts when total CAR-T falls below CARTrev_min, with or without the option
    gate = reference.set_index("time")["totalCart"]
    reopen = float(gate[(gate.index > 14) & (gate < SPEC.parameter("CARTrev_min").value)].index[0])
    first = float(option[(option.index > 14) & (option >= 5.0)].index[0])
    assert reopen < first <= reopen + 10
    assert option.loc[365] == pytest.approx(published.loc[365], rel=0.02)


def test_typical_overrides_keep_the_random_draws() -> None:
    base = sample_population(SPEC, 20, seed=3)
    moved = sample_population(SPEC, 20, seed=3, typical={"CARTrev_min": 4.76, "Emax_LDC_Bnaive": 1.0})
    j = SPEC.parameter_names.index("CARTrev_min")
    assert np.allclose(moved.params[:, j], 2 * base.params[:, j])  # same eta around the new typical value
    k = SPEC.parameter_names.index("Emax_LDC_Bnaive")
    assert (moved.params[:, k] == 1.0).all() and (base.params[:, k] == 0.0).all()
    with pytest.raises(InvalidInput) as err:
        sample_population(SPEC, 2, typical={"Emax_B": 1.0})
    assert err.value.value == "Emax_B"
    with pytest.raises(InvalidInput):
        sample_population(SPEC, 2, typical={"K12": float("nan")})


def test_cli_parameter_option_reaches_the_simulation(tmp_path: Path) -> None:
    on, off = tmp_path / "on.csv", tmp_path / "off.csv"
    assert _cli("simulate", "park2025", "--typical", "--days", "40", "--out", str(off)).returncode == 0
    r = _cli("simulate", "park2025", "--typical", "--days", "40", "-P", "Emax_LDC_Bnaive=1", "--out", str(on))
    assert r.returncode == 0, r.stderr
    b_on = pd.read_csv(on).set_index("time")["bCell"]
    b_off = pd.read_csv(off).set_index("time")["bCell"]
    assert b_off.loc[30] > 1.0 and b_on.loc[30] < 0.1
