"""Virtual patients: seeded log-normal IIV sampling, scenario inputs, batched simulation, tidy tables.

``P_i = P * exp(eta_i)``, ``eta_i ~ N(0, omega^2)`` independently per parameter with IIV (omega is the SD
on the log scale, as Park 2025 Table 1 reports it). Sampling uses ``numpy.random.default_rng(seed)`` and
draws the full (n_patients x n_iiv) matrix in spec order, so a seed always gives the same patients.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from immunoreset.errors import InvalidInput
from immunoreset.models import ModelSpec, get_model
from immunoreset.simulate.compile import compile_model
from immunoreset.simulate.reference import SolveFailure, solve_reference

__all__ = [
    "SCIPY_BDF",
    "Population",
    "SolverSettings",
    "input_vector",
    "sample_population",
    "simulate_population",
    "simulate_typical",
]

FloatArray = NDArray[np.float64]


#: Per-state absolute tolerances of the default engine for the CAR-T core shared by the Park 2025, IIM and
#: SSc models, as (glob pattern on the state name, atol); the first matching pattern wins, other states use
#: ``SolverSettings.atol``. Blood CAR-T pools, CAR-T/CD19 complexes and B-cell pools (cells/L) get the
#: documented absolute floor of the outputs they feed (1e-3 cells/L; ``bCell``'s 1e-9 cells/uL is the same
#: 1e-3 cells/L); the marrow CAR-T pools (cells; peaks 1e9-1e12, no output of their own) get 1 cell.
CART_CORE_STATE_ATOL: tuple[tuple[str, float], ...] = (
    ("cd[48]_*_bm", 1.0),
    ("cd[48]_*_pb", 1e-3),
    ("cplx_*", 1e-3),
    ("cd19b_*", 1e-3),
)


@dataclass(frozen=True)
class SolverSettings:
    """Integrator and tolerances.

    The default is the compiled engine (:mod:`immunoreset.simulate.rodas`): Rodas4 in Numba with an analytic
    sparse Jacobian, switches located as events and the patient loop compiled across cores, at rtol 1e-7,
    atol 1e-6 with the per-state absolute tolerances :data:`CART_CORE_STATE_ATOL` (the output floors). It
    agrees with the Radau rtol 1e-10 / atol 1e-12 reference within 1e-4 relative on every reported output
    above the documented absolute floors, including a gate re-opening as late as day 485 (the binding case:
    rtol 2e-7 gave 1.5e-4 there; docs/models.md, docs/benchmarks.md).
    ``method="BDF"``/``"Radau"``/``"LSODA"`` use SciPy ``solve_ivp`` per patient (see :data:`SCIPY_BDF`
    for the tolerances that reach the same accuracy with BDF). ``state_atol`` (Rodas4 engine only; the SciPy
    methods use the scalar ``atol``): (glob pattern on the state name, atol) pairs overriding ``atol`` per
    state, first match wins (:meth:`atol_vector`)."""

    method: Literal["Rodas4", "Radau", "BDF", "LSODA"] = "Rodas4"
    rtol: float = 1e-7
    atol: float = 1e-6
    state_atol: tuple[tuple[str, float], ...] = CART_CORE_STATE_ATOL

    def atol_vector(self, spec: ModelSpec) -> FloatArray:
        """Absolute tolerance per state of ``spec`` (``atol`` unless a ``state_atol`` pattern matches)."""
        out = np.full(len(spec.states), float(self.atol))
        for i, s in enumerate(spec.states):
            for pattern, value in self.state_atol:
                if fnmatch.fnmatchcase(s.name, pattern):
                    out[i] = float(value)
                    break
        return out

    def describe(self) -> str:
        """Human-readable summary (``df.attrs["solver"]``)."""
        if self.method != "Rodas4":
            return f"{self.method} rtol={self.rtol:g} atol={self.atol:g}"
        extra = "".join(f", {pat}: {val:g}" for pat, val in self.state_atol)
        return f"{self.method} rtol={self.rtol:g} atol={self.atol:g}{extra}"


REFERENCE = SolverSettings(method="Radau", rtol=1e-10, atol=1e-12, state_atol=())
SCIPY_BDF = SolverSettings(method="BDF", rtol=1e-9, atol=1e-6, state_atol=())


@dataclass(frozen=True)
class Population:
    """Sampled virtual patients: individual parameter and input vectors (rows = patients)."""

    spec: ModelSpec
    params: FloatArray
    inputs: FloatArray
    seed: int | None

    @property
    def n(self) -> int:
        return int(self.params.shape[0])

    def parameter_table(self) -> pd.DataFrame:
        df = pd.DataFrame(self.params, columns=self.spec.parameter_names)
        for j, name in enumerate(self.spec.input_names):
            df[name] = self.inputs[:, j]
        df.insert(0, "patient", np.arange(1, self.n + 1))
        return df


def input_vector(spec: ModelSpec, overrides: Mapping[str, float] | None = None) -> FloatArray:
    """Input vector in spec order: defaults with ``overrides`` applied and checked against each input's range."""
    values = {i.name: i.value for i in spec.inputs}
    for key, val in (overrides or {}).items():
        values[key] = spec.input(key).checked(val)
    return np.array([values[i.name] for i in spec.inputs], dtype=float)


def sample_population(
    spec: ModelSpec,
    n: int,
    *,
    seed: int | None = 0,
    inputs: Mapping[str, float] | None = None,
    iiv: bool = True,
    typical: Mapping[str, float] | None = None,
) -> Population:
    """Draw ``n`` virtual patients from the spec's log-normal IIV (typical values if ``iiv`` is False).

    ``typical`` replaces the typical value of the named parameters (e.g. a model option that is off in
    the published model); the spec's IIV is applied around the new value, and the random draws are the
    same as without it, so a seed gives the same patients."""
    if n < 1:
        raise InvalidInput("patients", n, "an integer >= 1")
    values = {p.name: p.value for p in spec.parameters}
    for name, value in (typical or {}).items():
        if name not in values:
            raise InvalidInput("typical", name, f"a parameter of model {spec.name} ({', '.join(values)})")
        values[name] = spec.parameter(name).checked(value)
    typical_values = np.array([values[p.name] for p in spec.parameters], dtype=float)
    params = np.tile(typical_values, (n, 1))
    if iiv:
        rng = np.random.default_rng(seed)
        cols = [j for j, p in enumerate(spec.parameters) if p.omega]
        omega = np.array([spec.parameters[j].omega or 0.0 for j in cols])
        eta = rng.standard_normal((n, len(cols))) * omega
        params[:, cols] = typical_values[cols] * np.exp(eta)
    u = np.tile(input_vector(spec, inputs), (n, 1))
    return Population(spec=spec, params=params, inputs=u, seed=seed)


def _solve_chunk(args: tuple[str, FloatArray, FloatArray, FloatArray, SolverSettings]) -> tuple[FloatArray, int]:
    """Worker: outputs (n_patients, n_outputs, n_times) for one chunk (re-compiles the spec by name), and
    the number of patients that needed the Radau fallback."""
    name, params, inputs, times, settings = args
    spec = get_model(name)
    model = compile_model(spec)
    rhs = fast_rhs(model)
    from immunoreset.simulate.numba_engine import numba_jac

    jac = numba_jac(model)
    out = np.empty((params.shape[0], len(spec.outputs), times.size))
    fallbacks = 0
    for i in range(params.shape[0]):
        p, u = params[i], inputs[i]
        try:
            tr = solve_reference(
                model,
                p,
                u,
                times,
                method=settings.method,  # type: ignore[arg-type]  # never "Rodas4" here
                rtol=settings.rtol,
                atol=settings.atol,
                rhs=rhs,
                jac=jac,
            )
        except (SolveFailure, ValueError, FloatingPointError):
            # documented fallback: the tight-tolerance Radau reference for this patient (counted)
            fallbacks += 1
            tr = solve_reference(model, p, u, times, method="Radau", rtol=1e-10, atol=1e-12, rhs=rhs, jac=jac)
        out[i] = model.outputs(times, tr.y, p, u, tr.flags)
        if not np.all(np.isfinite(out[i])):
            raise SolveFailure(f"non-finite output for patient row {i}")
    return out, fallbacks


def fast_rhs(model: object) -> Callable[..., FloatArray]:
    """Numba-compiled right-hand side when Numba is installed, else the NumPy one."""
    from immunoreset.simulate.numba_engine import numba_rhs

    return numba_rhs(model)  # type: ignore[arg-type]


def simulate_population(
    pop: Population,
    times: Sequence[float] | FloatArray,
    *,
    settings: SolverSettings = SolverSettings(),
    workers: int | None = None,
    chunk: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """Simulate every patient; return a table with columns patient, time and one column per output.

    Default engine: the compiled Rodas4 solver, ``workers`` Numba threads (default all cores; 1 = a plain
    compiled loop in the calling thread), ``chunk`` patients per call (default 1000). With a SciPy method,
    chunks of ``chunk`` (default 50) patients run in ``workers`` processes. A patient whose integration with
    ``settings`` fails is re-integrated with the tight Radau reference (rtol 1e-10, atol 1e-12); the count is
    in ``df.attrs["radau_fallbacks"]``. A patient that fails both raises :class:`SolveFailure` (no silent
    gaps). ``progress`` receives the number of patients done.
    """
    t = np.asarray(times, dtype=float)
    if t.ndim != 1 or t.size < 2 or np.any(np.diff(t) <= 0) or t[0] < 0:
        raise InvalidInput("times", list(t[:5]), "at least two strictly increasing study days >= 0")
    if t[0] != 0.0:
        t = np.concatenate([[0.0], t])
        drop_first = True
    else:
        drop_first = False
    nworkers = workers if workers is not None else (os.cpu_count() or 1)
    if settings.method == "Rodas4":
        arr, fallbacks = _simulate_compiled(pop, t, settings, nworkers, chunk or 1000, progress)
    else:
        arr, fallbacks = _simulate_scipy(pop, t, settings, nworkers, chunk or 50, progress)
    if drop_first:
        arr, t = arr[:, :, 1:], t[1:]
    df = tidy(pop.spec, arr, t)
    df.attrs["solver"] = settings.describe()
    df.attrs["radau_fallbacks"] = fallbacks
    return df


def _simulate_compiled(
    pop: Population,
    t: FloatArray,
    settings: SolverSettings,
    nworkers: int,
    chunk: int,
    progress: Callable[[int], None] | None,
) -> tuple[FloatArray, int]:
    from immunoreset.simulate.rodas import STATUS_MESSAGES, solve_batch

    model = compile_model(pop.spec)
    arr = np.empty((pop.n, len(pop.spec.outputs), t.size))
    fallbacks = 0
    for start in range(0, pop.n, chunk):
        stop = min(start + chunk, pop.n)
        res = solve_batch(
            model,
            pop.params[start:stop],
            pop.inputs[start:stop],
            t,
            rtol=settings.rtol,
            atol=settings.atol_vector(pop.spec),
            threads=nworkers,
        )
        arr[start:stop] = res.outputs
        for i in res.failed:
            # documented fallback: the tight-tolerance Radau reference for this patient (counted)
            fallbacks += 1
            p, u = pop.params[start + i], pop.inputs[start + i]
            try:
                tr = solve_reference(model, p, u, t, method="Radau", rtol=1e-10, atol=1e-12, rhs=fast_rhs(model))
            except (SolveFailure, ValueError, FloatingPointError) as err:
                msg = STATUS_MESSAGES.get(int(res.status[i]), "failed")
                raise SolveFailure(f"patient row {start + i}: Rodas4 {msg}; Radau reference: {err}") from err
            arr[start + i] = model.outputs(t, tr.y, p, u, tr.flags)
            if not np.all(np.isfinite(arr[start + i])):
                raise SolveFailure(f"non-finite output for patient row {start + i}")
        if progress:
            progress(stop - start)
    return arr, fallbacks


def _simulate_scipy(
    pop: Population,
    t: FloatArray,
    settings: SolverSettings,
    nworkers: int,
    chunk: int,
    progress: Callable[[int], None] | None,
) -> tuple[FloatArray, int]:
    n = pop.n
    jobs = [
        (pop.spec.name, pop.params[i : i + chunk], pop.inputs[i : i + chunk], t, settings) for i in range(0, n, chunk)
    ]
    results: list[tuple[FloatArray, int]] = []
    if nworkers <= 1 or len(jobs) == 1:
        for job in jobs:
            results.append(_solve_chunk(job))
            if progress:
                progress(job[1].shape[0])
    else:
        with ProcessPoolExecutor(max_workers=nworkers) as ex:
            for job, res in zip(jobs, ex.map(_solve_chunk, jobs), strict=True):
                results.append(res)
                if progress:
                    progress(job[1].shape[0])
    arr = np.concatenate([r[0] for r in results], axis=0)
    return arr, int(sum(r[1] for r in results))


def tidy(spec: ModelSpec, arr: FloatArray, t: FloatArray) -> pd.DataFrame:
    """(patients, outputs, times) array -> table patient, time, <outputs> (one row per patient and day)."""
    n, _k, m = arr.shape
    data: dict[str, NDArray[np.generic]] = {
        "patient": np.repeat(np.arange(1, n + 1), m),
        "time": np.tile(t, n),
    }
    for j, name in enumerate(spec.output_names):
        data[name] = arr[:, j, :].reshape(-1)
    return pd.DataFrame(data)


def simulate_typical(
    spec: ModelSpec,
    times: Sequence[float] | FloatArray,
    *,
    inputs: Mapping[str, float] | None = None,
    settings: SolverSettings = SolverSettings(),
) -> pd.DataFrame:
    """The typical patient (no IIV) with the given scenario inputs."""
    pop = sample_population(spec, 1, inputs=inputs, iiv=False, seed=None)
    return simulate_population(pop, times, settings=settings, workers=1)
