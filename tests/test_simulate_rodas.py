"""The compiled Rodas4 engine (immunoreset.simulate.rodas): accuracy against the tight SciPy Radau reference
(typical patient and sampled patients), located switch times, no NaN, reproducible seeded populations, the
default engine of the populations API, the analytic Jacobian, and a second model (Stein 2019) through the
same engine without engine changes."""

from __future__ import annotations

import numpy as np
import pytest

from immunoreset.models import get_model
from immunoreset.simulate import (
    SolverSettings,
    compile_model,
    input_vector,
    sample_population,
    simulate_population,
    solve_reference,
)
from immunoreset.simulate.numba_engine import numba_rhs
from immunoreset.simulate.rodas import build_solver, solve_batch

SPEC = get_model("park2025")
MODEL = compile_model(SPEC)
DAYS = np.arange(0.0, 731.0)
FLOORS = {"tnCart": 1e-3, "cmCart": 1e-3, "emCart": 1e-3, "efCart": 1e-3, "totalCart": 1e-9, "bCell": 1e-9}
DEFAULT = SolverSettings()


def _patients() -> tuple[np.ndarray, np.ndarray]:
    """The typical patient, four sampled patients (seed 2025; one has a late gate re-opening, day 250) and
    the hardest case found in 60 sampled patients: row 39 of seed 7, whose gate re-opens on day 485 (the
    B-cell count after it is proportional to the time since the switch; rtol 2e-7 gave 1.5e-4 there)."""
    typical = np.array([p.value for p in SPEC.parameters])
    pop = sample_population(SPEC, 4, seed=2025)
    late = sample_population(SPEC, 40, seed=7)
    return (
        np.vstack([typical, pop.params, late.params[39:40]]),
        np.vstack([input_vector(SPEC), pop.inputs, late.inputs[39:40]]),
    )


@pytest.fixture(scope="module")
def reference() -> tuple[np.ndarray, list[list[tuple[float, str, bool]]]]:
    """SciPy with switches as events, rtol 1e-10, atol 1e-12: Radau for the typical patient, LSODA for the
    sampled ones (agrees with Radau within 1e-6, test_reference_is_converged_radau_vs_lsoda_tight, and is
    15x faster). Numba RHS for speed (the same generated equations)."""
    P, U = _patients()
    rhs = numba_rhs(MODEL)
    outs, events = [], []
    for k, (p, u) in enumerate(zip(P, U, strict=True)):
        method = "Radau" if k == 0 else "LSODA"
        tr = solve_reference(MODEL, p, u, DAYS, method=method, rtol=1e-10, atol=1e-12, rhs=rhs)
        outs.append(MODEL.outputs(DAYS, tr.y, p, u, tr.flags))
        events.append([(e.time, e.switch, e.on) for e in tr.events])
    return np.array(outs), events


@pytest.fixture(scope="module")
def ours():  # type: ignore[no-untyped-def]
    P, U = _patients()
    return solve_batch(MODEL, P, U, DAYS, rtol=DEFAULT.rtol, atol=DEFAULT.atol_vector(SPEC), threads=2, states=True)


def _max_rel(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    worst = {}
    for j, name in enumerate(SPEC.output_names):
        excess = np.abs(a[:, j] - b[:, j]) - FLOORS.get(name, 0.0)
        worst[name] = float(np.max(np.where(excess > 0, excess / np.maximum(np.abs(b[:, j]), 1e-300), 0.0)))
    return worst


def test_default_engine_within_1e_4_of_tight_reference(reference, ours) -> None:  # type: ignore[no-untyped-def]
    ref, _ = reference
    assert np.all(ours.status == 0)
    assert np.all(np.isfinite(ours.outputs)) and np.all(np.isfinite(ours.states))
    errors = _max_rel(ours.outputs, ref)
    assert max(errors.values()) <= 1e-4, errors


def test_switch_times_match_reference(reference, ours) -> None:  # type: ignore[no-untyped-def]
    _, ref_events = reference
    for mine, theirs in zip(ours.events, ref_events, strict=True):
        assert [(s, on) for _, s, on in mine] == [(s, on) for _, s, on in theirs]
        for (t1, _, _), (t2, _, _) in zip(mine, theirs, strict=True):
            assert abs(t1 - t2) <= 1e-4 * max(1.0, t2)  # days
    # typical patient: gate opens, closes, release stops near day 5.07, gate re-opens near day 54.8
    assert [(s, on) for _, s, on in ours.events[0]] == [
        ("reconstitution_gate", True),
        ("reconstitution_gate", False),
        ("aab_release", False),
        ("reconstitution_gate", True),
    ]
    assert ours.events[0][2][0] == pytest.approx(5.0663, abs=1e-3)
    assert ours.events[0][3][0] == pytest.approx(54.841, abs=1e-2)


def test_switch_located_at_threshold(ours) -> None:  # type: ignore[no-untyped-def]
    """Integrating the typical patient up to each located time puts the switch quantity on its threshold."""
    p, u = _patients()[0][0], _patients()[1][0]
    for t_ev, name, _on in ours.events[0]:
        res = solve_batch(MODEL, p, u, np.array([0.0, t_ev]), rtol=1e-9, atol=1e-10, threads=1, states=True)
        assert res.states is not None
        g = MODEL.switch_g(t_ev, res.states[0, :, -1], p, u)
        i = [s.name for s in SPEC.switches].index(name)
        scale = 2.38 if name == "reconstitution_gate" else 1e6
        assert abs(g[i]) <= 1e-6 * scale


def test_threads_and_serial_loop_identical_and_seeded_populations_reproducible() -> None:
    pop = sample_population(SPEC, 6, seed=11)
    two = simulate_population(pop, DAYS, workers=2)
    one = simulate_population(sample_population(SPEC, 6, seed=11), DAYS, workers=1)
    assert two.attrs["solver"].startswith("Rodas4")  # the compiled engine is the default
    assert two.attrs["radau_fallbacks"] == 0
    np.testing.assert_array_equal(two[SPEC.output_names].to_numpy(), one[SPEC.output_names].to_numpy())
    assert not two[SPEC.output_names].isna().any().any()
    other = simulate_population(sample_population(SPEC, 6, seed=12), DAYS, workers=2)
    assert not np.array_equal(two["bCell"].to_numpy(), other["bCell"].to_numpy())


def test_population_grid_not_starting_at_zero_and_chunking() -> None:
    pop = sample_population(SPEC, 3, seed=5)
    t = np.array([7.0, 28.0, 90.0, 365.0])
    df = simulate_population(pop, t, chunk=2)
    full = simulate_population(pop, np.arange(0.0, 366.0))
    assert df["time"].unique().tolist() == t.tolist()
    sub = full[full["time"].isin(t)].reset_index(drop=True)
    np.testing.assert_allclose(df["cd4T"].to_numpy(), sub["cd4T"].to_numpy(), rtol=1e-4)


def test_analytic_jacobian_matches_finite_differences() -> None:
    mod = build_solver(MODEL).module
    p, u = _patients()[0][0], _patients()[1][0]
    # days 3, 8 and 10: every pool active (no max() guard at its kink, where one-sided slopes differ)
    res = solve_batch(MODEL, p, u, np.array([0.0, 3.0, 8.0, 10.0]), rtol=1e-8, atol=1e-10, threads=1, states=True)
    assert res.states is not None
    for k in range(1, 4):
        y = res.states[0, :, k]
        sw = np.array([1.0, 1.0])
        J = np.zeros(mod.nnz)
        mod.jac_k(0.0, y, p, u, sw, J)
        f0 = np.empty(y.size)
        mod.rhs_k(0.0, y, p, u, sw, f0)
        for j in range(y.size):
            h = 1e-7 * max(abs(y[j]), 1e-3)
            a, b = y.copy(), y.copy()
            a[j] += h
            b[j] -= h
            fa, fb = np.empty(y.size), np.empty(y.size)
            mod.rhs_k(0.0, a, p, u, sw, fa)
            mod.rhs_k(0.0, b, p, u, sw, fb)
            fd = (fa - fb) / (2 * h)
            for i in range(y.size):
                q = mod.pos[i, j]
                exact = J[q] if q >= 0 else 0.0
                # scale: size of the terms of f_i (differences below rounding of f_i are not resolvable)
                tol = 1e-5 * abs(exact) + 1e-6 * (abs(f0[i]) + abs(fa[i])) / h * 1e-7 + 1e-12
                assert abs(fd[i] - exact) <= max(tol, 1e-4 * abs(fd[i])), (k, i, j, exact, fd[i])


def test_second_model_stein2019_runs_through_the_same_engine() -> None:
    spec = get_model("stein2019")
    model = compile_model(spec)
    p = np.array([x.value for x in spec.parameters])
    u = np.array([x.value for x in spec.inputs]) if spec.inputs else np.zeros(0)
    t = np.linspace(0.0, 120.0, 121)
    ref = solve_reference(model, p, u, t, method="Radau", rtol=1e-10, atol=1e-12)
    res = solve_batch(model, p, u if u.size else np.zeros((1, 0)), t, rtol=1e-8, atol=1e-12, threads=1)
    assert res.status[0] == 0
    want = model.outputs(t, ref.y, p, u, ref.flags)
    np.testing.assert_allclose(res.outputs[0], want, rtol=1e-5, atol=1e-9)
    assert [(s, on) for _, s, on in res.events[0]] == [(e.switch, e.on) for e in ref.events]
    for (t1, _, _), e in zip(res.events[0], ref.events, strict=True):
        assert t1 == pytest.approx(e.time, abs=1e-9)


def test_cli_simulate_uses_the_compiled_engine(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`immunoreset simulate park2025` writes exactly what simulate_population's default (Rodas4) gives."""
    import pandas as pd
    from typer.testing import CliRunner

    from immunoreset.cli import app

    out = tmp_path / "p.csv"
    args = ["simulate", "park2025", "--patients", "3", "--days", "30", "--seed", "3", "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    cli = pd.read_csv(out)
    api = simulate_population(sample_population(SPEC, 3, seed=3), np.arange(0.0, 30.5, 1.0))
    assert api.attrs["solver"].startswith("Rodas4")
    np.testing.assert_allclose(cli[SPEC.output_names].to_numpy(), api[SPEC.output_names].to_numpy(), rtol=1e-12)


def test_model_without_switches_or_inputs_matches_closed_form() -> None:
    """A two-compartment chain (no switches, no inputs) through the generated engine: exact solution."""
    from immunoreset.models import ModelSpec, OutputSpec, ParameterSpec, StateSpec

    spec = ModelSpec(
        name="chain_test",
        title="two-compartment chain",
        citation="test",
        states=[
            StateSpec(name="a", unit="1", description="a", initial="A0", rhs="-k1*a"),
            StateSpec(name="b", unit="1", description="b", initial="0", rhs="k1*a - k2*b"),
        ],
        parameters=[
            ParameterSpec(name="k1", value=0.7, unit="1/d", description="k1", source="test"),
            ParameterSpec(name="k2", value=0.2, unit="1/d", description="k2", source="test"),
            ParameterSpec(name="A0", value=100.0, unit="1", description="A0", source="test"),
        ],
        outputs=[OutputSpec(name="total", expression="a + b", unit="1", description="a + b")],
    )
    model = compile_model(spec)
    t = np.linspace(0.0, 30.0, 61)
    res = solve_batch(model, np.array([0.7, 0.2, 100.0]), np.zeros((1, 0)), t, rtol=1e-9, atol=1e-12, states=True)
    assert res.status[0] == 0 and res.events == [[]]
    a = 100.0 * np.exp(-0.7 * t)
    b = 100.0 * 0.7 / (0.2 - 0.7) * (np.exp(-0.7 * t) - np.exp(-0.2 * t))
    np.testing.assert_allclose(res.outputs[0, 0], a + b, rtol=1e-7)
    assert res.states is not None
    np.testing.assert_allclose(res.states[0, 1], b, rtol=1e-7, atol=1e-9)
