"""``immunoreset simulate``: mechanistic simulations of virtual patients, one command per model.

* ``immunoreset simulate park2025 --patients N --days D [--dose X] [--seed S] --out FILE.parquet``
* ``immunoreset simulate park2025 --typical --days 730 --out typical.csv``
* ``immunoreset simulate sle_cart --patients 200 --plot bands.png`` (median and 90% band)

Models: ``park2025`` (the published model) and the predictive specs ``sle_cart``, ``iim_cart``, ``ssc_cart``
(and their ``_bcma`` / ``_redose`` variants; ``--input NAME=VALUE`` sets any model input, e.g. ``allogeneic=1``)
that virtual trials use (docs/models.md).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import typer
from rich.progress import Progress

from immunoreset.errors import InvalidInput
from immunoreset.models import get_model

__all__ = ["register"]

simulate_app = typer.Typer(
    name="simulate", help="Simulate virtual patients with a mechanistic model.", no_args_is_help=True
)

PLOT_PREFERENCE = (
    "totalCart",
    "bCell",
    "neut",
    "antiDsDNA",
    "complementC3",
    "proteinuria",
    "protectiveAntibody",
    "ck",
    "mmt8",
    "mrss",
    "fvc",
    "IgG",
    "cd4T",
    "sledai_c3",
)
"""Outputs drawn by ``--plot``, the first eight a model has, in this order."""
LOG_SCALE = {"totalCart", "bCell", "antiDsDNA", "ck"}
SIMULATED_MODELS = {
    "park2025": "Simulate the Park 2025 SLE QSP model as published (Clin Transl Sci 2025;18:e70146).",
    "sle_cart": "Simulate the predictive SLE model (Park 2025 core with plasma cells, tissue B cells, relapse).",
    "iim_cart": "Simulate the predictive IIM model (predictive core with the myositis layer).",
    "ssc_cart": "Simulate the predictive SSc model (predictive core with the scleroderma layer).",
}
for _base in ("sle_cart", "iim_cart", "ssc_cart"):
    SIMULATED_MODELS[f"{_base}_bcma"] = f"Simulate {_base} for a CD19/BCMA product (plasma cells are killed too)."
    SIMULATED_MODELS[f"{_base}_redose"] = (
        f"Simulate {_base} with re-infusions (-I Dose2=, -I t_dose2=) and anti-CAR immunity."
    )
    SIMULATED_MODELS[f"{_base}_bcma_redose"] = f"Simulate {_base} for a CD19/BCMA product with re-infusions."


def _write(df: pd.DataFrame, out: Path) -> None:
    suffix = out.suffix.lower()
    if suffix == ".parquet":
        df.to_parquet(out, index=False)
    elif suffix == ".csv":
        df.to_csv(out, index=False)
    else:
        raise InvalidInput("out", str(out), "a file name ending in .parquet or .csv")


def plot_bands(df: pd.DataFrame, path: Path, title: str, model: str = "park2025") -> None:
    """Population median and 5th-95th percentile band of the key outputs of ``model`` over time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    spec = get_model(model)
    units = {o.name: o.unit for o in spec.outputs}
    chosen = [name for name in PLOT_PREFERENCE if name in units and name in df.columns][:8]
    fig, axes = plt.subplots(2, 4, figsize=(16, 7), constrained_layout=True)
    grouped = df.groupby("time")
    for ax, col in zip(axes.flat, chosen, strict=False):
        q = grouped[col].quantile(np.array([0.05, 0.5, 0.95])).unstack()
        t = q.index.to_numpy()
        ax.fill_between(t, q[0.05], q[0.95], alpha=0.3, label="90% band")
        ax.plot(t, q[0.5], lw=1.8, label="median")
        if col in LOG_SCALE:
            ax.set_yscale("log")
        ax.set_title(f"{col} ({units[col]})")
        ax.set_xlabel("study day")
    for ax in list(axes.flat)[len(chosen) :]:
        ax.set_visible(False)
    axes.flat[0].legend()
    fig.suptitle(title)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def register(app: typer.Typer) -> None:
    app.add_typer(simulate_app)


def _simulate(
    model: str,
    patients: int,
    days: float,
    step: float,
    dose: float | None,
    weight: float | None,
    ldc: float | None,
    seed: int,
    typical: bool,
    parameter: list[str],
    out: Path | None,
    plot: Path | None,
    workers: int | None,
    inputs: list[str] | None = None,
) -> None:
    from immunoreset.simulate.population import sample_population, simulate_population

    if patients < 1:
        raise InvalidInput("patients", patients, "an integer >= 1")
    if not np.isfinite(days) or days <= 0 or days > 3650:
        raise InvalidInput("days", days, "a number of days > 0 and <= 3650")
    if not np.isfinite(step) or step <= 0 or step > days:
        raise InvalidInput("step", step, "a grid spacing > 0 and <= days")
    if out is None and plot is None:
        raise InvalidInput("out", None, "--out FILE.parquet and/or --plot FILE.png")
    if plot is not None and plot.suffix.lower() != ".png":
        raise InvalidInput("plot", str(plot), "a file name ending in .png")
    if out is not None and out.suffix.lower() not in (".parquet", ".csv"):
        raise InvalidInput("out", str(out), "a file name ending in .parquet or .csv")
    overrides = {k: v for k, v in (("Dose", dose), ("WT", weight), ("Dose_LDC", ldc)) if v is not None}
    spec = get_model(model)
    changed: dict[str, float] = {}
    for item in parameter:
        name, sep, value = item.partition("=")
        if not sep or name.strip() not in spec.parameter_names:
            raise InvalidInput("parameter", item, f"NAME=VALUE with NAME a parameter of {spec.name}")
        changed[name.strip()] = spec.parameter(name.strip()).checked(value.strip(), field=f"parameter {name}")
    for item in inputs or []:
        name, sep, value = item.partition("=")
        if not sep or name.strip() not in spec.input_names:
            raise InvalidInput("input", item, f"NAME=VALUE with NAME an input of {spec.name} (immunoreset model show)")
        overrides[name.strip()] = spec.input(name.strip()).checked(value.strip(), field=f"input {name}")
    n = 1 if typical else patients
    pop = sample_population(spec, n, seed=seed, inputs=overrides, iiv=not typical, typical=changed)
    times = np.arange(0.0, days + step / 2, step)
    with Progress(transient=True) as bar:
        task = bar.add_task("simulating", total=n)
        df = simulate_population(pop, times, workers=workers, progress=lambda k: bar.advance(task, k))
    if out is not None:
        _write(df, out)
        typer.echo(f"wrote {len(df)} rows ({n} patient(s) x {times.size} days) to {out}")
        if df.attrs.get("radau_fallbacks"):
            typer.echo(f"note: {df.attrs['radau_fallbacks']} patient(s) re-integrated with the Radau reference")
    if plot is not None:
        plot_bands(df, plot, f"{spec.name} — {n} virtual patient(s)", model)
        typer.echo(f"wrote {plot}")


def _command(model: str) -> None:
    def simulate(
        patients: int = typer.Option(100, "--patients", help="number of virtual patients (log-normal IIV)"),
        days: float = typer.Option(
            730.0, "--days", help="horizon in study days (day 0 = infusion and lymphodepletion)"
        ),
        step: float = typer.Option(1.0, "--step", help="output grid spacing in days"),
        dose: float | None = typer.Option(None, "--dose", help="CAR+ T cells per kg (default 1e6)"),
        weight: float | None = typer.Option(None, "--weight", help="body weight in kg (default 70)"),
        ldc: float | None = typer.Option(None, "--ldc", help="lymphodepletion amount in mg (default 1935)"),
        seed: int = typer.Option(0, "--seed", help="random seed for the IIV draw"),
        typical: bool = typer.Option(False, "--typical", help="simulate the typical patient only (no IIV)"),
        parameter: list[str] = typer.Option(
            [],
            "--parameter",
            "-P",
            help="NAME=VALUE: a typical value replacing the model's (repeatable), e.g. -P Emax_LDC_Bnaive=1",
        ),
        inputs: list[str] = typer.Option(
            [],
            "--input",
            "-I",
            help="NAME=VALUE: a model input (repeatable), e.g. -I allogeneic=1 -I Dose2=1e6 -I t_dose2=180",
        ),
        out: Path | None = typer.Option(None, "--out", help="write the table (.parquet or .csv)"),
        plot: Path | None = typer.Option(None, "--plot", help="write a PNG of median and 90% band"),
        workers: int | None = typer.Option(
            None,
            "--workers",
            help="threads of the compiled solver (default: all cores; 1 = a single-threaded loop)",
        ),
    ) -> None:
        _simulate(model, patients, days, step, dose, weight, ldc, seed, typical, parameter, out, plot, workers, inputs)

    simulate.__doc__ = SIMULATED_MODELS[model]
    simulate_app.command(model)(simulate)


for _model in SIMULATED_MODELS:
    _command(_model)
