"""Individual (per-patient) maximum-likelihood fits on the log scale, and fit tables.

Each patient is fitted separately: ln yⱼ = f(φ, tⱼ) + σ·εⱼ, εⱼ ~ N(0, 1), which is maximised in
φ by nonlinear least squares on the log scale (σ̂² = RSS/n is the ML estimate). The fit starts
from the given typical values and from ``n_starts − 1`` random log-normal perturbations of them
(deterministic for a seed), with ``scipy.optimize.least_squares`` (trust-region reflective), and
keeps the best. Standard errors of ln-parameters come from s²(JᵀJ)⁻¹ with s² = RSS/(n − p);
their relative SE on the natural scale is 100·SE(ln θ) %. With n ≤ p observations the patient is
not evaluable (a 6-parameter model needs at least 7 values). A poorly conditioned JᵀJ (condition
number > 1e10) flags the fit as not identifiable and withholds the SEs. BLQ values with a known
LLOQ enter the likelihood as P(y < LLOQ) (M3) in a second, joint refinement of the parameters and σ
(Nelder–Mead from the least-squares solution; SEs from the numerical Hessian).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from scipy import optimize, special

from immunoreset.errors import InvalidInput
from immunoreset.kinetics.saem import Dataset, FloatArray, StructuralModel

__all__ = ["IndividualFit", "fit_individual", "fit_individuals", "individual_table"]


class IndividualFit(BaseModel):
    model_config = ConfigDict(frozen=True)

    patient: str
    evaluable: bool
    reason: str | None = None
    n_obs: int
    estimates: dict[str, float] = Field(default_factory=dict, description="Natural scale.")
    rse_percent: dict[str, float | None] = Field(default_factory=dict)
    sigma: float | None = Field(None, description="ML residual SD on the log scale.")
    minus2ll: float | None = None
    identifiable: bool | None = None
    notes: list[str] = Field(default_factory=list)


def fit_individual(
    model: StructuralModel,
    times: Sequence[float],
    values: Sequence[float],
    initial: dict[str, float],
    *,
    patient: str = "",
    n_starts: int = 8,
    seed: int = 0,
    censored: Sequence[tuple[float, float]] = (),
) -> IndividualFit:
    """Maximum-likelihood fit of one patient's profile (values > 0).

    ``censored`` optionally lists (day, LLOQ) of BLQ values: the least-squares solution on the
    quantified values is then refined on the full M3 likelihood (BLQ values contribute
    P(y < LLOQ)), jointly in the parameters and σ, and SEs come from the numerical Hessian.
    """
    t = np.asarray(times, dtype=float)
    y = np.asarray(values, dtype=float)
    p = len(model.parameters)
    if t.shape != y.shape:
        raise InvalidInput("values", len(y), f"as many values as times ({len(t)})")
    if np.any(y <= 0):
        raise InvalidInput("value", float(y[y <= 0][0]), "values > 0 (remove censored values before fitting)")
    n = int(t.size)
    if n <= p:
        return IndividualFit(
            patient=patient,
            evaluable=False,
            n_obs=n,
            reason=f"{n} quantifiable observations; more than {p} are needed for {p} parameters",
        )
    logy = np.log(y)
    tt = t[None, :]

    def residuals(phi: FloatArray) -> FloatArray:
        pred = model.log_predict(phi[None, :], tt)[0]
        r = logy - pred
        return np.asarray(np.where(np.isfinite(r), r, 1e6), dtype=float)

    mu0 = np.log(np.array([initial[k] for k in model.parameters], dtype=float))
    rng = np.random.default_rng(seed)
    best: optimize.OptimizeResult | None = None
    for s in range(n_starts):
        x0 = mu0 if s == 0 else mu0 + 0.7 * rng.standard_normal(p)
        try:
            res = optimize.least_squares(residuals, x0, method="trf", x_scale=1.0, max_nfev=2000)
        except (ValueError, np.linalg.LinAlgError):
            continue
        if best is None or res.cost < best.cost:
            best = res
    if best is None:
        return IndividualFit(patient=patient, evaluable=False, n_obs=n, reason="the optimiser failed from every start")
    rss = 2.0 * float(best.cost)
    sigma2 = rss / n
    notes: list[str] = []
    jac = np.asarray(best.jac, dtype=float)
    jtj = jac.T @ jac
    cond = float(np.linalg.cond(jtj)) if np.all(np.isfinite(jtj)) else math.inf
    identifiable = cond < 1e10
    rse: dict[str, float | None] = {}
    if identifiable and n > p:
        cov = (rss / (n - p)) * np.linalg.inv(jtj)
        for k, name in enumerate(model.parameters):
            v = float(cov[k, k])
            rse[name] = 100 * math.sqrt(v) if v > 0 else None
    else:
        notes.append(f"parameters not identifiable from these data (condition number {cond:.3g}); no SEs")
        rse = {name: None for name in model.parameters}
    m2ll = n * math.log(2 * math.pi * sigma2) + n if sigma2 > 0 else None
    x_best = np.asarray(best.x, dtype=float)
    if censored:
        x_best, sigma2, m2ll, rse, identifiable = _refine_m3(model, t, logy, censored, x_best, sigma2)
        notes.append(f"{len(censored)} BLQ value(s) in the likelihood (M3)")
        if not identifiable:
            notes.append("M3 Hessian not positive definite: no SEs")
    return IndividualFit(
        patient=patient,
        evaluable=True,
        n_obs=n,
        estimates={k: float(math.exp(x_best[i])) for i, k in enumerate(model.parameters)},
        rse_percent=rse,
        sigma=math.sqrt(sigma2),
        minus2ll=m2ll,
        identifiable=identifiable,
        notes=notes,
    )


def _refine_m3(
    model: StructuralModel,
    t: FloatArray,
    logy: FloatArray,
    censored: Sequence[tuple[float, float]],
    x0: FloatArray,
    sigma2: float,
) -> tuple[FloatArray, float, float | None, dict[str, float | None], bool]:
    tc = np.array([c[0] for c in censored], dtype=float)
    limits = np.array([c[1] for c in censored], dtype=float)
    if np.any(~(limits > 0)) or np.any(~np.isfinite(limits)):
        raise InvalidInput("lloq", [c[1] for c in censored], "positive finite LLOQs for the BLQ values")
    lc = np.log(limits)
    tt, tct = t[None, :], tc[None, :]
    p = x0.shape[0]

    def nll(z: FloatArray) -> float:
        phi, lsig = z[:p], z[p]
        sig = math.exp(lsig)
        r = logy - model.log_predict(phi[None, :], tt)[0]
        u = lc - model.log_predict(phi[None, :], tct)[0]
        val = 0.5 * float((r * r).sum()) / sig**2 + r.size * (lsig + 0.5 * math.log(2 * math.pi))
        val -= float(special.log_ndtr(u / sig).sum())
        return val if math.isfinite(val) else 1e300

    z0 = np.append(x0, 0.5 * math.log(max(sigma2, 1e-6)))
    res = optimize.minimize(
        nll, z0, method="Nelder-Mead", options={"xatol": 1e-7, "fatol": 1e-9, "maxiter": 20000, "maxfev": 40000}
    )
    z = np.asarray(res.x, dtype=float)
    hess = _hessian(nll, z)
    rse: dict[str, float | None] = {name: None for name in model.parameters}
    ok = False
    try:
        cov = np.linalg.inv(hess)
        diag = np.diag(cov)[:p]
        ok = bool(np.all(diag > 0) and np.all(np.isfinite(diag)))
        if ok:
            rse = {name: 100 * math.sqrt(float(diag[k])) for k, name in enumerate(model.parameters)}
    except np.linalg.LinAlgError:
        ok = False
    return z[:p], math.exp(2 * z[p]), 2 * float(res.fun), rse, ok


def _hessian(f: Callable[[FloatArray], float], x: FloatArray, h: float = 1e-4) -> FloatArray:
    """Central-difference Hessian."""
    n = x.shape[0]
    out = np.empty((n, n))
    for i in range(n):
        for j in range(i, n):
            ei = np.zeros(n)
            ej = np.zeros(n)
            ei[i] = h
            ej[j] = h
            val = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)) / (4 * h * h)
            out[i, j] = out[j, i] = val
    return out


def fit_individuals(
    model: StructuralModel, data: Dataset, initial: dict[str, float], *, n_starts: int = 8, seed: int = 0
) -> list[IndividualFit]:
    """:func:`fit_individual` for every patient of ``data``."""
    fits = []
    cens = data.cens_mask
    for i, pid in enumerate(data.ids):
        m = data.mask[i]
        c = cens[i]
        fits.append(
            fit_individual(
                model,
                data.times[i][m],
                np.exp(data.logy[i][m]),
                initial,
                patient=pid,
                n_starts=n_starts,
                seed=seed + i,
                censored=[
                    (float(a), float(math.exp(b))) for a, b in zip(data.times[i][c], data.logy[i][c], strict=True)
                ],
            )
        )
    return fits


def individual_table(fits: Sequence[IndividualFit], parameters: Sequence[str]) -> pd.DataFrame:
    """One row per patient: estimates, RSE %, σ, flags and notes."""
    rows = []
    for f in fits:
        row: dict[str, object] = {"patient": f.patient, "evaluable": f.evaluable, "n_obs": f.n_obs}
        for k in parameters:
            row[k] = f.estimates.get(k)
            row[f"{k}_rse_percent"] = f.rse_percent.get(k)
        row.update(
            sigma=f.sigma,
            minus2ll=f.minus2ll,
            identifiable=f.identifiable,
            notes="; ".join(([f.reason] if f.reason else []) + f.notes),
        )
        rows.append(row)
    return pd.DataFrame(rows)
