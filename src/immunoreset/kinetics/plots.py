"""Diagnostic plots written to files (matplotlib, non-interactive Agg backend).

* :func:`population_diagnostics`: observed vs population (PRED) and individual (IPRED)
  predictions, individual weighted residuals (IWRES = (ln y − ln IPRED)/σ) against time and
  against IPRED, individual profiles with fits, and the SAEM convergence trace.
* :func:`individual_diagnostics`: observed vs IPRED and residuals for per-patient ML fits.
* :func:`profiles_plot`: spaghetti plot of a tidy analyte (NCA / B cells) on a log axis.

Every function returns the list of files it wrote.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from immunoreset.kinetics.fit import IndividualFit
from immunoreset.kinetics.saem import Dataset, FloatArray, PopulationFit, StructuralModel

__all__ = ["individual_diagnostics", "population_diagnostics", "profiles_plot"]


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _obs_pred(ax: Any, obs: FloatArray, pred: FloatArray, title: str) -> None:
    ax.loglog(pred, obs, "o", ms=3, alpha=0.6)
    lo = float(np.nanmin([obs.min(), pred.min()]))
    hi = float(np.nanmax([obs.max(), pred.max()]))
    ax.plot([lo, hi], [lo, hi], "k-", lw=1)
    ax.set_xlabel("predicted")
    ax.set_ylabel("observed")
    ax.set_title(title)


def _profiles_grid(
    path: Path,
    model: StructuralModel,
    data: Dataset,
    params: Sequence[FloatArray],
    title: str,
    typical: FloatArray | None = None,
    max_panels: int = 16,
) -> Path:
    n = min(data.n_patients, max_panels)
    cols = 4
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False)
    grid = np.linspace(0, float(data.times[data.mask].max()), 400)
    for i in range(rows * cols):
        ax = axes[i // cols][i % cols]
        if i >= n:
            ax.axis("off")
            continue
        m = data.mask[i]
        ax.semilogy(data.times[i][m], np.exp(data.logy[i][m]), "o", ms=3, label="observed")
        ax.semilogy(grid, np.exp(model.log_predict(params[i][None, :], grid[None, :])[0]), "-", label="individual")
        if typical is not None:
            ax.semilogy(
                grid, np.exp(model.log_predict(typical[None, :], grid[None, :])[0]), "--", lw=0.8, label="population"
            )
        ax.set_title(data.ids[i], fontsize=9)
        ax.set_xlabel("day")
    axes[0][0].legend(fontsize=7)
    fig.suptitle(title)
    return _save(fig, path)


def population_diagnostics(
    fit: PopulationFit, data: Dataset, model: StructuralModel, out_dir: str | Path, prefix: str = "population"
) -> list[Path]:
    """Write the population-fit diagnostics to ``out_dir``; returns the file paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    mu = np.log(np.array([fit.typical_dict()[k] for k in model.parameters]))
    ebe = [np.log(np.array([float(r[k]) for k in model.parameters])) for r in fit.individual]
    m = data.mask
    pred = np.exp(model.log_predict(np.tile(mu, (data.n_patients, 1)), data.times))[m]
    ipred_log = model.log_predict(np.array(ebe), data.times)
    ipred = np.exp(ipred_log)[m]
    obs = np.exp(data.logy)[m]
    t = data.times[m]
    iwres = ((data.logy - ipred_log)[m]) / fit.sigma.estimate
    files = []
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4.5))
    _obs_pred(a1, obs, pred, "observed vs PRED (typical)")
    _obs_pred(a2, obs, ipred, "observed vs IPRED (EBE)")
    files.append(_save(fig, out / f"{prefix}_obs_vs_pred.png"))
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4.5))
    for ax, x, label in ((a1, t, "day"), (a2, ipred, "IPRED")):
        ax.plot(x, iwres, "o", ms=3, alpha=0.6)
        ax.axhline(0, color="k", lw=1)
        for h in (-1.96, 1.96):
            ax.axhline(h, color="grey", ls="--", lw=0.8)
        ax.set_xlabel(label)
        ax.set_ylabel("IWRES")
    a2.set_xscale("log")
    a1.set_xscale("symlog", linthresh=10)
    files.append(_save(fig, out / f"{prefix}_residuals.png"))
    files.append(
        _profiles_grid(
            out / f"{prefix}_individual_fits.png",
            model,
            data,
            ebe,
            f"{fit.model}: individual (EBE) and population predictions",
            typical=mu,
        )
    )
    trace = np.array(fit.trace)
    p = len(model.parameters)
    fig, axes = plt.subplots(3, p, figsize=(2.4 * p, 6.5), squeeze=False)
    for k, name in enumerate(model.parameters):
        axes[0][k].plot(np.exp(trace[:, k]))
        axes[0][k].set_title(name, fontsize=9)
        axes[1][k].plot(trace[:, p + k])
        axes[1][k].set_title(f"ω² {name}", fontsize=9)
        axes[2][k].axis("off")
    axes[2][0].axis("on")
    axes[2][0].plot(trace[:, 2 * p])
    axes[2][0].set_title("σ (log scale)", fontsize=9)
    fig.suptitle("SAEM convergence (iteration)")
    files.append(_save(fig, out / f"{prefix}_convergence.png"))
    files.append(_vpc(fit, data, model, out / f"{prefix}_vpc.png"))
    return files


def _vpc(
    fit: PopulationFit, data: Dataset, model: StructuralModel, path: Path, n_sim: int = 500, seed: int = 0
) -> Path:
    """Visual predictive check: 5th/50th/95th percentiles of simulated observations vs the data."""
    rng = np.random.default_rng(seed)
    mu = np.log(np.array([fit.typical_dict()[k] for k in model.parameters]))
    sd = np.sqrt(np.array([fit.omega2_dict()[k] for k in model.parameters]))
    grid = np.unique(
        np.concatenate([np.linspace(0.0, float(data.times[data.mask].max()), 300), np.unique(data.times[data.mask])])
    )
    phi = mu + sd * rng.standard_normal((n_sim, mu.shape[0]))
    sim = model.log_predict(phi, np.broadcast_to(grid, (n_sim, grid.shape[0])))
    sim = sim + fit.sigma.estimate * rng.standard_normal(sim.shape)
    q = np.exp(np.percentile(sim, [5, 50, 95], axis=0))
    fig, ax = plt.subplots(figsize=(8, 4.8))
    ax.fill_between(grid, q[0], q[2], alpha=0.25, label="simulated 5–95 %")
    ax.plot(grid, q[1], "-", label="simulated median")
    ax.plot(data.times[data.mask], np.exp(data.logy[data.mask]), "o", ms=3, alpha=0.6, color="k", label="observed")
    ax.set_yscale("log")
    ax.set_xscale("symlog", linthresh=30)
    ax.set_xlabel("study day")
    ax.set_ylabel(data.unit or "level")
    ax.set_title(f"{fit.model}: visual predictive check ({n_sim} simulated patients)")
    ax.legend(fontsize=8)
    return _save(fig, path)


def individual_diagnostics(
    fits: Sequence[IndividualFit],
    data: Dataset,
    model: StructuralModel,
    out_dir: str | Path,
    prefix: str = "individual",
) -> list[Path]:
    """Observed vs IPRED, residuals and profile fits for per-patient ML fits."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    keep = [i for i, f in enumerate(fits) if f.evaluable]
    if not keep:
        return []
    sub = Dataset(
        tuple(data.ids[i] for i in keep), data.times[keep], data.logy[keep], data.mask[keep], data.n_censored, data.unit
    )
    params = [np.log(np.array([fits[i].estimates[k] for k in model.parameters])) for i in keep]
    ipred_log = model.log_predict(np.array(params), sub.times)
    m = sub.mask
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4.5))
    _obs_pred(a1, np.exp(sub.logy)[m], np.exp(ipred_log)[m], "observed vs IPRED (individual ML)")
    a2.plot(sub.times[m], (sub.logy - ipred_log)[m], "o", ms=3, alpha=0.6)
    a2.axhline(0, color="k", lw=1)
    a2.set_xscale("symlog", linthresh=10)
    a2.set_xlabel("day")
    a2.set_ylabel("ln observed − ln IPRED")
    files = [_save(fig, out / f"{prefix}_obs_vs_pred.png")]
    files.append(_profiles_grid(out / f"{prefix}_fits.png", model, sub, params, "individual ML fits"))
    return files


def profiles_plot(frame: pd.DataFrame, analyte: str, path: str | Path, *, log: bool = True) -> Path:
    """Spaghetti plot of one analyte (quantifiable values; BLQ shown at the axis floor as ×)."""
    sub = frame[frame["analyte"] == analyte]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for patient, group in sub.groupby("patient", sort=True):
        q = group[group["value"].notna()]
        x = [float(v) for v in q["time"]]
        y = [float(v) for v in q["value"]]
        line = ax.plot(x, y, "o-", ms=3, lw=1, label=str(patient))
        b = group[group["blq"]]
        if not b.empty:
            floor = min([v for v in y if v > 0], default=1.0) / 2
            ax.plot([float(v) for v in b["time"]], [floor] * len(b), "x", color=line[0].get_color())
    if log:
        ax.set_yscale("log")
    unit = str(sub["unit"].iloc[0]) if not sub.empty else ""
    ax.set_xlabel("study day")
    ax.set_ylabel(f"{analyte} ({unit})")
    if sub["patient"].nunique() <= 12:
        ax.legend(fontsize=7)
    return _save(fig, Path(path))
