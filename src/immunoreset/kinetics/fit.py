"""Individual (per-patient) maximum-likelihood fits on the log scale, and fit tables.

Each patient is fitted separately: ln yⱼ = f(φ, tⱼ) + σ·εⱼ, εⱼ ~ N(0, 1), which is maximised in
φ by nonlinear least squares on the log scale (σ̂² = RSS/n is the ML estimate). The fit starts
from the given typical values and from ``n_starts − 1`` random log-normal perturbations of them
(deterministic for a seed), with ``scipy.optimize.least_squares`` (trust-region reflective), and
keeps the best. Standard errors of ln-parameters come from s²(JᵀJ)⁻¹ with s² = RSS/(n − p);
their relative SE on the natural scale is 100·SE(ln θ) %. With n ≤ p observations the patient is
not evaluable (a 6-parameter model needs at least 7 values). A poorly conditioned JᵀJ (condition
number > 1e10) flags the fit as not identifiable and withholds the SEs. Only quantified values are
used (BLQ values are excluded, M1); use the population fit for the M3 censored likelihood.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from scipy import optimize

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
) -> IndividualFit:
    """Maximum-likelihood fit of one patient's profile (values > 0; censored values removed)."""
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
    return IndividualFit(
        patient=patient,
        evaluable=True,
        n_obs=n,
        estimates={k: float(math.exp(best.x[i])) for i, k in enumerate(model.parameters)},
        rse_percent=rse,
        sigma=math.sqrt(sigma2),
        minus2ll=m2ll,
        identifiable=identifiable,
        notes=notes,
    )


def fit_individuals(
    model: StructuralModel, data: Dataset, initial: dict[str, float], *, n_starts: int = 8, seed: int = 0
) -> list[IndividualFit]:
    """:func:`fit_individual` for every patient of ``data``."""
    fits = []
    for i, pid in enumerate(data.ids):
        m = data.mask[i]
        fits.append(
            fit_individual(
                model,
                data.times[i][m],
                np.exp(data.logy[i][m]),
                initial,
                patient=pid,
                n_starts=n_starts,
                seed=seed + i,
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
