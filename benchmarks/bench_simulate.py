"""Benchmark: virtual-patient-years per second for the Park 2025 model, side by side.

    python benchmarks/bench_simulate.py [--patients 200] [--scaling 100,1000] [--json out.json]

Engines (same 730-day horizon, daily output, same seeded patients from the published IIV):
  * immunoreset  - SciPy BDF (rtol 1e-9, atol 1e-6) with switch events and a Numba-compiled RHS, one
                   process per core (2 here)
  * roadrunner   - libRoadRunner 2.x on the exported SBML, one loaded model per process, reset() between
                   patients, rtol 1e-8 and 1e-10, per-state atol 1e-6, max BDF order 4 (roadrunner.md), 2 processes
  * scipy loop   - SciPy solve_ivp LSODA (same tolerances, same events) with the plain NumPy RHS, 1 process
Accuracy of every engine is measured against the tight Radau reference (rtol 1e-10, atol 1e-12) on a
subset of patients: max relative error over all outputs and days above the absolute floors.
Start-up (Numba compile, SBML load/compile) is reported separately.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np

from immunoreset.models import get_model
from immunoreset.simulate import REFERENCE, SolverSettings, compile_model, sample_population, simulate_population
from immunoreset.simulate.reference import solve_reference

SPEC = get_model("park2025")
DAYS = np.arange(0.0, 731.0)
YEARS = 730 / 365.25
FLOORS = {"tnCart": 1e-3, "cmCart": 1e-3, "emCart": 1e-3, "efCart": 1e-3, "totalCart": 1e-9, "bCell": 1e-9}


def max_rel_error(test: np.ndarray, ref: np.ndarray) -> float:
    """test/ref: (patients, outputs, times). Max |err|/|ref| over points where |ref| exceeds the floor."""
    worst = 0.0
    for j, name in enumerate(SPEC.output_names):
        floor = FLOORS.get(name, 0.0)
        a, b = test[:, j], ref[:, j]
        excess = np.abs(a - b) - floor
        rel = np.where(excess > 0, excess / np.maximum(np.abs(b), 1e-300), 0.0)
        worst = max(worst, float(np.nanmax(rel)))
    return worst


def to_array(df: Any, n: int) -> np.ndarray:
    vals = df[SPEC.output_names].to_numpy()
    return vals.reshape(n, DAYS.size, len(SPEC.outputs)).transpose(0, 2, 1)


# ---------------- libRoadRunner worker ----------------
_RR: Any = None


def _rr_init(sbml: str, rtol: float = 1e-8) -> None:
    global _RR
    import roadrunner

    roadrunner.Config.setValue(roadrunner.Config.LOADSBMLOPTIONS_RECOMPILE, True)
    _RR = roadrunner.RoadRunner(sbml)
    _RR.integrator.relative_tolerance = rtol
    _RR.integrator.absolute_tolerance = [1e-6] * len(SPEC.states)  # per-state vector, not rescaled
    _RR.integrator.setValue("maximum_bdf_order", 4)
    _RR.integrator.setValue("maximum_num_steps", 200000)


def _rr_chunk(args: tuple[np.ndarray, list[str], np.ndarray]) -> np.ndarray:
    params, names, flags = args
    out = np.empty((params.shape[0], len(SPEC.outputs), DAYS.size))
    sw_names = [s.name for s in SPEC.switches]
    for i in range(params.shape[0]):
        for name, val in zip(names, params[i], strict=True):
            _RR[name] = float(val)
        _RR.reset()
        # reset() restores states (re-evaluating initial assignments) but not parameters changed by events:
        # the switch flags must be set to their initial values explicitly.
        for name, val in zip(sw_names, flags[i], strict=True):
            _RR[name] = float(val)
        res = _RR.simulate(0, 730, 731, selections=["time", *SPEC.output_names])
        out[i] = np.asarray(res)[:, 1:].T
    return out


def run_roadrunner(pop: Any, workers: int, sbml: str, rtol: float) -> tuple[np.ndarray, float, float]:
    from immunoreset.simulate.compile import switch_flags

    model = compile_model(SPEC)
    pop_params = pop.params
    flags = np.array(
        [
            switch_flags(model, model.switch_g(0.0, model.init(p, u), p, u))
            for p, u in zip(pop.params, pop.inputs, strict=True)
        ]
    )
    iiv = [j for j, p in enumerate(SPEC.parameters) if p.omega]
    names = [SPEC.parameters[j].name for j in iiv]
    t0 = time.perf_counter()
    _rr_init(sbml, rtol)
    load = time.perf_counter() - t0
    chunks = [(pop_params[i : i + 50][:, iiv], names, flags[i : i + 50]) for i in range(0, pop_params.shape[0], 50)]
    t0 = time.perf_counter()
    if workers <= 1:
        res = [_rr_chunk(c) for c in chunks]
    else:
        with ProcessPoolExecutor(workers, initializer=_rr_init, initargs=(sbml, rtol)) as ex:
            res = list(ex.map(_rr_chunk, chunks))
    return np.concatenate(res), time.perf_counter() - t0, load


def run_scipy_loop(pop: Any) -> tuple[np.ndarray, float, int]:
    """Plain SciPy: NumPy RHS, LSODA (Fortran finite-difference Jacobian), same events and tolerances."""
    model = compile_model(SPEC)
    out = np.full((pop.n, len(SPEC.outputs), DAYS.size), np.nan)
    failures = 0
    t0 = time.perf_counter()
    for i in range(pop.n):
        p, u = pop.params[i], pop.inputs[i]
        try:
            tr = solve_reference(model, p, u, DAYS, method="LSODA", rtol=1e-8, atol=1e-6)
        except Exception:
            failures += 1
            continue
        out[i] = model.outputs(DAYS, tr.y, p, u, tr.flags)
    return out, time.perf_counter() - t0, failures


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--patients", type=int, default=200)
    ap.add_argument("--scipy-patients", type=int, default=20)
    ap.add_argument("--accuracy-patients", type=int, default=20)
    ap.add_argument("--scaling", default="100,1000")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    from immunoreset.simulate.sbml import to_sbml_string

    results: dict[str, Any] = {"patients": args.patients, "workers": args.workers, "horizon_days": 730}
    pop = sample_population(SPEC, args.patients, seed=2025)

    # start-up
    t0 = time.perf_counter()
    from immunoreset.simulate.numba_engine import numba_rhs

    numba_rhs(compile_model(SPEC))(0.0, np.ones(37), pop.params[0], pop.inputs[0], np.zeros(2))
    results["startup_numba_s"] = time.perf_counter() - t0
    sbml = to_sbml_string(SPEC)

    # reference on the accuracy subset
    k = min(args.accuracy_patients, args.patients)
    sub = sample_population(SPEC, args.patients, seed=2025)
    t0 = time.perf_counter()
    ref_df = simulate_population(
        type(sub)(spec=SPEC, params=sub.params[:k], inputs=sub.inputs[:k], seed=None), DAYS, settings=REFERENCE
    )
    results["reference_s_per_patient"] = (time.perf_counter() - t0) / k
    ref = to_array(ref_df, k)

    # immunoreset engine
    t0 = time.perf_counter()
    df = simulate_population(pop, DAYS, settings=SolverSettings(), workers=args.workers)
    el = time.perf_counter() - t0
    ours = to_array(df, pop.n)
    results["immunoreset"] = {
        "seconds": el,
        "ms_per_patient": 1000 * el / pop.n,
        "patient_years_per_s": pop.n * YEARS / el,
        "max_rel_err_vs_reference": max_rel_error(ours[:k], ref),
        "radau_fallbacks": df.attrs["radau_fallbacks"],
        "nan": int(np.isnan(ours).sum()),
    }

    # libRoadRunner at the rxode2 tolerance and at a tighter one (to reach the same accuracy as ours)
    for label, rtol in (("roadrunner", 1e-8), ("roadrunner_rtol1e-10", 1e-10)):
        try:
            rr, el, load = run_roadrunner(pop, args.workers, sbml, rtol)
        except ImportError:
            results[label] = None
            continue
        results[label] = {
            "rtol": rtol,
            "seconds": el,
            "load_s": load,
            "ms_per_patient": 1000 * el / pop.n,
            "patient_years_per_s": pop.n * YEARS / el,
            "max_rel_err_vs_reference": max_rel_error(rr[:k], ref),
            "nan": int(np.isnan(rr).sum()),
        }

    # SciPy loop
    m = min(args.scipy_patients, args.patients)
    sp_pop = type(pop)(spec=SPEC, params=pop.params[:m], inputs=pop.inputs[:m], seed=None)
    sp, el, sp_fail = run_scipy_loop(sp_pop)
    results["scipy_loop"] = {
        "patients": m,
        "failures": sp_fail,
        "seconds": el,
        "ms_per_patient": 1000 * el / m,
        "patient_years_per_s": m * YEARS / el,
        "max_rel_err_vs_reference": max_rel_error(sp[: min(k, m)], ref[: min(k, m)]),
    }

    # scaling of our engine
    scaling = {}
    for n in [int(x) for x in args.scaling.split(",") if x]:
        p2 = sample_population(SPEC, n, seed=11)
        t0 = time.perf_counter()
        d2 = simulate_population(p2, DAYS, workers=args.workers)
        el = time.perf_counter() - t0
        scaling[n] = {
            "seconds": el,
            "ms_per_patient": 1000 * el / n,
            "nan": int(d2[SPEC.output_names].isna().sum().sum()),
            "radau_fallbacks": d2.attrs["radau_fallbacks"],
        }
    results["scaling"] = scaling
    for label in ("roadrunner", "roadrunner_rtol1e-10"):
        if results.get(label):
            results[f"ratio_vs_{label}"] = (
                results["immunoreset"]["patient_years_per_s"] / results[label]["patient_years_per_s"]
            )
    results["ratio_vs_scipy_loop"] = (
        results["immunoreset"]["patient_years_per_s"] / results["scipy_loop"]["patient_years_per_s"]
    )
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            fh.write(text)


if __name__ == "__main__":
    main()
