"""Stein 2019 multiphasic CAR-T cellular-kinetic model: closed form and published parameters.

Stein AM, Grupp SA, Levine JE, et al. *Tisagenlecleucel model-based cellular kinetic analysis of
chimeric antigen receptor–T cells.* CPT Pharmacometrics Syst Pharmacol 2019;8(5):285–295.
doi:10.1002/psp4.12388. Parameters from Table 1 as transcribed by nlmixr2lib
(``Stein_2019_Tisagenlecleucel.R``), checked against that file.

Model (Stein 2019 Fig. 2; two pools, effector E and memory M, observed C = E + M)::

    t < Tmax :  dE/dt = ρ·E,                 E(0) = R0 = Cmax/foldx,  ρ = ln(foldx)/Tmax
    t ≥ Tmax :  dE/dt = −α·E;  dM/dt = k·E − β·M,  M(Tmax) = 0,  k = FB·(α − β)

with the analytical solution (Stein 2019 supplement, "Analytical solution")::

    C(t) = R0·exp(ρ·t)                                               0 ≤ t < Tmax
    C(t) = (1 − FB)·Cmax·exp(−α(t − Tmax)) + FB·Cmax·exp(−β(t − Tmax))   t ≥ Tmax

Residual error: constant on the log scale, SD a = 0.56. Inter-individual variability: log-normal
on all six parameters with the variances ω² of Table 1 (see ``docs/kinetics.md`` for the
decision that the published numbers are variances). The co-medication factors Ftoci = 1.2 and
Fster = 1.0 are not part of this implementation (Stein concluded neither changed expansion).

This module is the closed form used for fitting (vectorised over patients, exact, and about a
thousand times faster than an ODE solve); the model spec :data:`immunoreset.models.stein2019.STEIN2019_SPEC`
is the same model for the ODE engine (:func:`engine_predict`, ``simulate(engine=True)``), and the
tests check that the two agree.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from immunoreset.errors import InvalidInput
from immunoreset.kinetics.saem import StructuralModel

__all__ = [
    "PARAMETERS",
    "SOURCE",
    "STEIN2019",
    "STEIN2019_OMEGA_AS_SD",
    "PopulationParameters",
    "derived",
    "engine_predict",
    "initial_estimates",
    "predict",
    "predict_log",
    "simulate",
    "stein2019_population",
    "structural_model",
]

SOURCE = (
    "Stein AM, Grupp SA, Levine JE, et al. Tisagenlecleucel model-based cellular kinetic analysis of "
    "chimeric antigen receptor-T cells. CPT Pharmacometrics Syst Pharmacol 2019;8(5):285-295"
)

PARAMETERS: tuple[str, ...] = ("foldx", "tmax", "cmax", "alpha", "fb", "beta")
"""Order of the structural parameters everywhere in this package."""

UNITS: dict[str, str] = {
    "foldx": "1",
    "tmax": "d",
    "cmax": "{copies}/ug",
    "alpha": "/d",
    "fb": "1",
    "beta": "/d",
}

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class PopulationParameters:
    """Typical values (natural scale), IIV variances ω² (log scale) and residual SD (log scale)."""

    typical: dict[str, float]
    omega2: dict[str, float]
    sigma: float

    def mu(self) -> FloatArray:
        """Log typical values in :data:`PARAMETERS` order."""
        return np.asarray(np.log(np.array([self.typical[p] for p in PARAMETERS], dtype=float)), dtype=np.float64)

    def omega2_vector(self) -> FloatArray:
        return np.array([self.omega2[p] for p in PARAMETERS], dtype=float)


STEIN2019 = PopulationParameters(
    typical={"foldx": 3900.0, "tmax": 9.3, "cmax": 24000.0, "alpha": 0.16, "fb": 0.0079, "beta": 0.0032},
    omega2={"foldx": 2.4, "tmax": 0.38, "cmax": 0.65, "alpha": 0.91, "fb": 0.80, "beta": 0.86},
    sigma=0.56,
)
"""Stein 2019 Table 1 (final model, no covariates, no co-medication factors); IIV read as variances ω²."""

STEIN2019_OMEGA_AS_SD = PopulationParameters(
    typical=dict(STEIN2019.typical),
    omega2={k: v * v for k, v in STEIN2019.omega2.items()},
    sigma=STEIN2019.sigma,
)
"""The variant in which the Table 1 random-effect numbers are standard deviations ω (so ω² = 5.76, 0.144,
0.4225, 0.8281, 0.64, 0.7396). Unresolved in the reference (tag [U]); see ``docs/kinetics.md``."""


def stein2019_population(omega_scale: str = "variance") -> PopulationParameters:
    """Published parameters, reading the Table 1 IIV numbers as ``"variance"`` (default) or ``"sd"``."""
    if omega_scale == "variance":
        return STEIN2019
    if omega_scale == "sd":
        return STEIN2019_OMEGA_AS_SD
    raise InvalidInput("omega_scale", omega_scale, "'variance' (published default) or 'sd'")


def predict_log(log_params: FloatArray, times: FloatArray) -> FloatArray:
    """ln C(t) for each row of ``log_params`` (shape (n, 6), natural logs in PARAMETERS order).

    ``times`` has shape (m,) (shared) or (n, m) (per patient); the result has shape (n, m).
    Computed on the log scale so that the expansion phase never underflows.
    """
    lp = np.atleast_2d(np.asarray(log_params, dtype=float))
    t = np.asarray(times, dtype=float)
    if t.ndim == 1:
        t = np.broadcast_to(t, (lp.shape[0], t.shape[0]))
    lfold, ltmax, lcmax, lalpha, lfb, lbeta = (lp[:, i : i + 1] for i in range(6))
    tmax = np.exp(ltmax)
    rho = lfold / tmax  # ln(foldx) / Tmax
    expansion = lcmax - lfold + rho * t
    tau = np.maximum(t - tmax, 0.0)
    fb = np.minimum(np.exp(lfb), 1.0 - 1e-12)  # FB is a fraction; values ≥ 1 leave no fast phase
    # log((1-FB) e^{-α τ} + FB e^{-β τ}) computed stably
    a = np.log1p(-fb) - np.exp(lalpha) * tau
    b = np.log(fb) - np.exp(lbeta) * tau
    contraction = lcmax + np.logaddexp(a, b)
    return np.asarray(np.where(t < tmax, expansion, contraction), dtype=np.float64)


def predict(params: dict[str, float], times: FloatArray) -> FloatArray:
    """C(t) for one patient given natural-scale parameters ``{foldx, tmax, cmax, alpha, fb, beta}``."""
    lp = np.log(np.array([[params[p] for p in PARAMETERS]], dtype=float))
    return np.asarray(np.exp(predict_log(lp, np.asarray(times, dtype=float)))[0], dtype=float)


def structural_model() -> StructuralModel:
    """The closed form as a :class:`~immunoreset.kinetics.saem.StructuralModel` for fitting."""
    return StructuralModel(name="stein2019", parameters=PARAMETERS, log_predict=predict_log, units=dict(UNITS))


def engine_predict(params: dict[str, float], times: FloatArray) -> FloatArray:
    """C(t) of one patient from the ODE engine on the model spec
    (:data:`immunoreset.models.stein2019.STEIN2019_SPEC`, tight Radau reference tolerances; the switch
    at Tmax is located as an event). Agrees with :func:`predict` to about 1e-10 relative."""
    from immunoreset.models.stein2019 import STEIN2019_SPEC
    from immunoreset.simulate import compile_model, solve_reference

    model = compile_model(STEIN2019_SPEC)
    t = np.asarray(times, dtype=float)
    p = np.array([params[name] for name in STEIN2019_SPEC.parameter_names], dtype=float)
    u = np.zeros(0)
    grid = t if t[0] == 0.0 else np.concatenate([[0.0], t])
    traj = solve_reference(model, p, u, grid)
    out = np.asarray(model.outputs(grid, traj.y, p, u, traj.flags)[0], dtype=np.float64)
    return out if t[0] == 0.0 else out[1:]


def simulate(
    n: int,
    times: FloatArray,
    *,
    population: PopulationParameters = STEIN2019,
    seed: int = 0,
    residual: bool = True,
    engine: bool = False,
) -> tuple[FloatArray, FloatArray]:
    """Simulate ``n`` patients: ln-parameters φ (n, 6) and observations (n, len(times)).

    φᵢ = ln(typical) + ηᵢ, ηᵢ ~ N(0, diag(ω²)); y = exp(f(φᵢ, t) + σ·ε) (log-scale residual error).
    ``engine=True`` computes f with the ODE engine on the model spec instead of the closed form (same
    random numbers, same patients; slower).
    """
    rng = np.random.default_rng(seed)
    mu = population.mu()
    sd = np.sqrt(population.omega2_vector())
    phi = mu + sd * rng.standard_normal((n, mu.shape[0]))
    t = np.asarray(times, dtype=float)
    if engine:
        logc = np.log(np.array([engine_predict(dict(zip(PARAMETERS, np.exp(row), strict=True)), t) for row in phi]))
    else:
        logc = predict_log(phi, t)
    if residual:
        logc = logc + population.sigma * rng.standard_normal(logc.shape)
    return np.asarray(phi, dtype=np.float64), np.asarray(np.exp(logc), dtype=np.float64)


def initial_estimates(times: Sequence[FloatArray], values: Sequence[FloatArray]) -> dict[str, float]:
    """Data-driven starting values (any concentration unit): Cmax and Tmax from the medians of each
    patient's observed peak and its day, foldx from the median ratio of the peak to the first value
    (bounded to 10–10⁶); α, FB and β from Stein 2019 (they are unit-free rates and a fraction)."""
    peaks, tpeaks, folds = [], [], []
    for t, v in zip(times, values, strict=True):
        t_arr, v_arr = np.asarray(t, dtype=float), np.asarray(v, dtype=float)
        if v_arr.size == 0:
            continue
        i = int(np.argmax(v_arr))
        peaks.append(float(v_arr[i]))
        tpeaks.append(max(float(t_arr[i]), 1.0))
        folds.append(float(v_arr[i] / v_arr[0]) if i > 0 and v_arr[0] > 0 else float("nan"))
    if not peaks:
        raise InvalidInput("values", 0, "at least one quantifiable value to start the fit")
    fold = float(np.nanmedian(folds)) if np.any(np.isfinite(folds)) else STEIN2019.typical["foldx"]
    return {
        "foldx": float(min(max(fold, 10.0), 1e6)),
        "tmax": float(np.median(tpeaks)),
        "cmax": float(np.median(peaks)),
        "alpha": STEIN2019.typical["alpha"],
        "fb": STEIN2019.typical["fb"],
        "beta": STEIN2019.typical["beta"],
    }


def derived(params: dict[str, float], *, auc_end: float = 28.0) -> dict[str, float]:
    """Model-based secondary quantities of one patient (Stein 2019 Discussion and Fig. S1).

    ``auc_0_end`` is the analytic AUC over [0, auc_end] (copies·d/µg for qPCR data):
    (min(t, Tmax)-part) R0(e^{ρ·min(auc_end, Tmax)} − 1)/ρ, plus, after Tmax,
    (1 − FB)·Cmax(1 − e^{−α τ})/α + FB·Cmax(1 − e^{−β τ})/β with τ = auc_end − Tmax.
    """
    foldx, tmax, cmax = params["foldx"], params["tmax"], params["cmax"]
    alpha, fb, beta = params["alpha"], params["fb"], params["beta"]
    rho = math.log(foldx) / tmax
    r0 = cmax / foldx
    t1 = min(auc_end, tmax)
    auc = r0 * math.expm1(rho * t1) / rho
    if auc_end > tmax:
        tau = auc_end - tmax
        auc += (1 - fb) * cmax * -math.expm1(-alpha * tau) / alpha + fb * cmax * -math.expm1(-beta * tau) / beta
    return {
        "r0": r0,
        "rho": rho,
        "doubling_time": math.log(2) / rho,
        "half_life_contraction": math.log(2) / alpha,
        "half_life_persistence": math.log(2) / beta,
        "auc_0_end": auc,
    }
