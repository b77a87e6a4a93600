"""Benchmark: virtual-patient-years per second for the Park 2025 model, side by side in one run.

    python benchmarks/bench_simulate.py [--patients 1000] [--scaling 100,1000,10000,100000] [--json out.json]

Engines (same 730-day horizon, daily output, same seeded patients from the published IIV, 2 cores):
  * immunoreset   - the compiled engine: Rodas4 in Numba (analytic sparse Jacobian, sparse LU, switches
                    located as events), the patient loop compiled with prange over 2 threads; default
                    tolerances (rtol 1e-7, atol 1e-6 with per-state floors, SolverSettings().atol_vector)
  * roadrunner    - libRoadRunner 2.x on the exported SBML, one patient at a time: one loaded model per
                    process, reset() between patients (+ switch-flag reset), per-state atol 1e-6, max BDF
                    order 4 (as the libRoadRunner documentation advises); rtol 1e-8, 1e-10, 1e-11; 1 and 2 processes
  * scipy loop    - SciPy solve_ivp LSODA (rtol 1e-8, atol 1e-6, same events) with the plain NumPy RHS,
                    one patient at a time, 1 process
Accuracy of every engine: largest relative error over all outputs and days against the tight reference
(SciPy Radau rtol 1e-10, atol 1e-12, switches as events), above the absolute floors for eradicated pools, on
the first --accuracy-patients benchmark patients plus 40 patients of seed 7 (row 39 re-opens the
reconstitution gate on day 485, the hardest case found; untimed runs of the same settings).
Start-up (Numba compile on a cold cache, cached load in a fresh process, SBML load/compile) is reported
separately and not included in any throughput.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np

from immunoreset.models import get_model
from immunoreset.simulate import REFERENCE, SolverSettings, compile_model, sample_population, simulate_population
from immunoreset.simulate.numba_engine import numba_rhs
from immunoreset.simulate.reference import solve_reference
from immunoreset.simulate.rodas import solve_batch

SPEC = get_model("park2025")
DAYS = np.arange(0.0, 731.0)
YEARS = 730 / 365.25
FLOORS = {"tnCart": 1e-3, "cmCart": 1e-3, "emCart": 1e-3, "efCart": 1e-3, "totalCart": 1e-9, "bCell": 1e-9}
DEFAULT = SolverSettings()
MATCHED_RTOL = 5e-8  # reported separately: accuracy comparable to libRoadRunner at rtol 1e-11
RR_RTOLS = (1e-8, 1e-10, 1e-11)
EXTRA_ACCURACY = (7, 40)  # seed, patients added to the accuracy set


def max_rel_error(test: np.ndarray, ref: np.ndarray) -> float:
    """test/ref: (patients, outputs, times). Max |err|/|ref| over points where |err| exceeds the floor."""
    worst = 0.0
    for j, name in enumerate(SPEC.output_names):
        floor = FLOORS.get(name, 0.0)
        a, b = test[:, j], ref[:, j]
        excess = np.abs(a - b) - floor
        rel = np.where(excess > 0, excess / np.maximum(np.abs(b), 1e-300), 0.0)
        worst = max(worst, float(np.nanmax(rel)))
    return worst


def throughput(n: int, seconds: float) -> dict[str, float]:
    return {"seconds": seconds, "ms_per_patient": 1000 * seconds / n, "patient_years_per_s": n * YEARS / seconds}


# ---------------- immunoreset compiled engine ----------------
def run_ours(
    pop: Any, threads: int, repeats: int = 1, rtol: float = DEFAULT.rtol
) -> tuple[np.ndarray, float, dict[str, Any]]:
    model = compile_model(SPEC)
    best = cpu = np.inf
    res = None
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        res = solve_batch(
            model, pop.params, pop.inputs, DAYS, rtol=rtol, atol=DEFAULT.atol_vector(SPEC), threads=threads
        )
        best = min(best, time.perf_counter() - t0)
        cpu = min(cpu, time.process_time() - c0)
    assert res is not None
    info = {
        "cpu_ms_per_patient": 1000 * cpu / pop.n,
        "failures": int((res.status != 0).sum()),
        "nan": int(np.isnan(res.outputs).sum()),
        "mean_steps": float(res.stats[:, 0].mean()),
        "mean_rejected": float(res.stats[:, 1].mean()),
        "mean_rhs_evals": float(res.stats[:, 2].mean()),
        "dense_lu_fallbacks": int(res.stats[:, 4].sum()),
    }
    return res.outputs, best, info


def startup_times() -> dict[str, float]:
    """Cold compile (empty cache directory) and cached load, each in a fresh interpreter."""
    code = (
        "import time; t0=time.perf_counter();"
        "from immunoreset.models import get_model; from immunoreset.simulate import compile_model;"
        "from immunoreset.simulate.rodas import warm_up; t1=time.perf_counter();"
        "w=warm_up(compile_model(get_model('park2025'))); print(t1-t0, w)"
    )
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, IMMUNORESET_CACHE_DIR=tmp)
        for label in ("cold_compile", "cached_load"):
            txt = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
            imp, warm = (float(x) for x in txt.stdout.split())
            out[f"{label}_s"] = warm
            out[f"{label}_import_s"] = imp
    return out


# ---------------- libRoadRunner worker ----------------
_RR: Any = None
_RR_CPU = [float("nan")]  # CPU seconds of the last single-process run


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
    size = max(1, min(50, pop.n // (2 * workers)))
    chunks = [
        (pop.params[i : i + size][:, iiv], names, flags[i : i + size]) for i in range(0, pop.params.shape[0], size)
    ]
    if workers <= 1:
        t0, c0 = time.perf_counter(), time.process_time()
        res = [_rr_chunk(c) for c in chunks]
        el = time.perf_counter() - t0
        _RR_CPU[0] = time.process_time() - c0
    else:
        with ProcessPoolExecutor(workers, initializer=_rr_init, initargs=(sbml, rtol)) as ex:
            list(ex.map(_rr_chunk, chunks[:workers]))  # start the workers and load the model (start-up, not timed)
            t0 = time.perf_counter()
            res = list(ex.map(_rr_chunk, chunks))
            el = time.perf_counter() - t0
    return np.concatenate(res), el, load


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


def reference_outputs(pop: Any, k: int) -> tuple[np.ndarray, float]:
    model = compile_model(SPEC)
    rhs = numba_rhs(model)
    out = np.empty((k, len(SPEC.outputs), DAYS.size))
    t0 = time.perf_counter()
    for i in range(k):
        p, u = pop.params[i], pop.inputs[i]
        tr = solve_reference(model, p, u, DAYS, method=REFERENCE.method, rtol=REFERENCE.rtol, atol=REFERENCE.atol,
                             rhs=rhs)  # fmt: skip
        out[i] = model.outputs(DAYS, tr.y, p, u, tr.flags)
    return out, (time.perf_counter() - t0) / k


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--patients", type=int, default=1000)
    ap.add_argument("--scipy-patients", type=int, default=20)
    ap.add_argument("--accuracy-patients", type=int, default=20)
    ap.add_argument("--scaling", default="100,1000,10000,100000")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--repeats", type=int, default=2, help="best of N timings for immunoreset and RoadRunner")
    ap.add_argument("--no-cold-compile", action="store_true", help="skip the cold-cache compile measurement")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    from immunoreset.simulate.sbml import to_sbml_string

    results: dict[str, Any] = {
        "patients": args.patients,
        "workers": args.workers,
        "horizon_days": 730,
        "load_average_at_start": os.getloadavg(),
    }
    pop = sample_population(SPEC, args.patients, seed=2025)
    k = min(args.accuracy_patients, args.patients)
    extra = sample_population(SPEC, EXTRA_ACCURACY[1], seed=EXTRA_ACCURACY[0])
    acc = type(pop)(
        spec=SPEC,
        params=np.vstack([pop.params[:k], extra.params]),
        inputs=np.vstack([pop.inputs[:k], extra.inputs]),
        seed=None,
    )

    def errors(out: np.ndarray) -> dict[str, float]:
        """Accuracy on the whole accuracy set and on its first k (benchmark) patients alone."""
        return {
            "max_rel_err_vs_reference": max_rel_error(out, ref),
            f"max_rel_err_first_{k}": max_rel_error(out[:k], ref[:k]),
        }

    # start-up, reported separately
    startup: dict[str, Any] = {}
    if not args.no_cold_compile:
        startup |= startup_times()
    from immunoreset.simulate.rodas import warm_up

    startup["this_process_load_s"] = warm_up(compile_model(SPEC))
    sbml = to_sbml_string(SPEC)
    results["startup"] = startup
    print("start-up:", startup, flush=True)

    # tight reference on the accuracy subset
    ref, ref_s = reference_outputs(acc, acc.n)
    results["reference"] = {
        "method": "Radau rtol 1e-10 atol 1e-12, events",
        "s_per_patient": ref_s,
        "accuracy_set": f"first {k} benchmark patients + {EXTRA_ACCURACY[1]} of seed {EXTRA_ACCURACY[0]}",
    }

    # immunoreset compiled engine
    _, el, info = run_ours(pop, args.workers, args.repeats)
    results["immunoreset"] = {
        "engine": f"Rodas4 (Numba) {DEFAULT.describe()}, {args.workers} threads",
        **throughput(pop.n, el),
        **errors(run_ours(acc, 1)[0]),
        **info,
    }
    # the same engine at a looser tolerance whose accuracy still matches libRoadRunner at rtol 1e-10
    _, el, info = run_ours(pop, args.workers, args.repeats, rtol=MATCHED_RTOL)
    results["immunoreset_matched_accuracy"] = {
        "engine": f"Rodas4 (Numba) rtol={MATCHED_RTOL:g}, per-state atol as default, {args.workers} threads",
        **throughput(pop.n, el),
        **errors(run_ours(acc, 1, rtol=MATCHED_RTOL)[0]),
        **info,
    }
    _, el1, _ = run_ours(
        type(pop)(spec=SPEC, params=pop.params[:200], inputs=pop.inputs[:200], seed=None), 1, args.repeats
    )
    results["immunoreset_1_thread"] = throughput(min(200, pop.n), el1)
    # the populations API end to end (tidy pandas table included)
    t0 = time.perf_counter()
    df = simulate_population(pop, DAYS, workers=args.workers)
    results["immunoreset_simulate_population"] = {
        **throughput(pop.n, time.perf_counter() - t0),
        "solver": df.attrs["solver"],
        "radau_fallbacks": df.attrs["radau_fallbacks"],
    }
    print("immunoreset:", results["immunoreset"], flush=True)

    # libRoadRunner, one patient at a time, at the rxode2 tolerance and a tighter one, 1 and 2 processes
    for rtol in RR_RTOLS:
        for workers in sorted({1, args.workers}):
            label = f"roadrunner_rtol{rtol:g}_{workers}proc"
            try:
                best = np.inf
                for _ in range(args.repeats if workers > 1 else 1):
                    rr, el, load = run_roadrunner(pop, workers, sbml, rtol)
                    best = min(best, el)
            except ImportError:
                results[label] = None
                continue
            results[label] = {
                "rtol": rtol,
                "processes": workers,
                **throughput(pop.n, best),
                "sbml_load_compile_s": load,
                "cpu_ms_per_patient": 1000 * _RR_CPU[0] / pop.n if workers == 1 else None,
                **errors(run_roadrunner(acc, 1, sbml, rtol)[0]),
                "nan": int(np.isnan(rr).sum()),
            }
            print(label, results[label], flush=True)

    # SciPy loop
    m = min(args.scipy_patients, args.patients)
    sp_pop = type(pop)(spec=SPEC, params=pop.params[:m], inputs=pop.inputs[:m], seed=None)
    c0 = time.process_time()
    sp, el, sp_fail = run_scipy_loop(sp_pop)
    sp_cpu = time.process_time() - c0
    results["scipy_loop"] = {
        "patients": m,
        "failures": sp_fail,
        **throughput(m, el),
        "cpu_ms_per_patient": 1000 * sp_cpu / m,
        "max_rel_err_vs_reference": max_rel_error(sp[: min(k, m)], ref[: min(k, m)]),
    }
    print("scipy loop:", results["scipy_loop"], flush=True)

    # scaling of our engine (arrays only, in chunks of at most 10,000 patients to bound memory)
    scaling = {}
    for n in [int(x) for x in args.scaling.split(",") if x]:
        el = 0.0
        nan = fail = 0
        for start in range(0, n, 10_000):
            size = min(10_000, n - start)
            p2 = sample_population(SPEC, size, seed=11 + start)
            out, t_chunk, info = run_ours(p2, args.workers)
            el += t_chunk
            nan += info["nan"]
            fail += info["failures"]
            del out
        scaling[n] = {**throughput(n, el), "nan": nan, "failures": fail}
        print("scaling", n, scaling[n], flush=True)
    results["scaling"] = scaling

    ours_py = results["immunoreset"]["patient_years_per_s"]
    for label, value in list(results.items()):
        if label.startswith("roadrunner_") and value:
            results[f"ratio_vs_{label}"] = ours_py / value["patient_years_per_s"]
    matched_py = results["immunoreset_matched_accuracy"]["patient_years_per_s"]
    for label, value in list(results.items()):
        if label.startswith("roadrunner_") and value:
            results[f"matched_ratio_vs_{label}"] = matched_py / value["patient_years_per_s"]
    one_py = results["immunoreset_1_thread"]["patient_years_per_s"]
    for label, value in list(results.items()):
        if label.startswith("roadrunner_") and label.endswith("_1proc") and value:
            results[f"ratio_1_thread_vs_{label}"] = one_py / value["patient_years_per_s"]
            results[f"cpu_ratio_vs_{label}"] = (
                value["cpu_ms_per_patient"] / results["immunoreset"]["cpu_ms_per_patient"]
            )
    results["ratio_vs_scipy_loop"] = ours_py / results["scipy_loop"]["patient_years_per_s"]
    results["load_average_at_end"] = os.getloadavg()
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            fh.write(text)


if __name__ == "__main__":
    main()
