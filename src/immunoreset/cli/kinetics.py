"""``immunoreset kinetics``: CAR-T NCA, B-cell aplasia/reconstitution, autoantibody decline, model fits.

Every command reads a tidy CSV or Parquet file (columns patient, time, value, unit, analyte;
optional lloq, blq, uln, time_unit; see :mod:`immunoreset.kinetics.data`) — or, with ``--db URL``, the
samples stored in the registry (:func:`immunoreset.registry.tables.kinetics_samples`) — and writes a table:
to ``--out`` (``.csv`` or ``.parquet``) or, without it, as CSV on standard output
(``--format table`` prints a readable table instead). ``--plots DIR`` writes PNG diagnostics.

* ``immunoreset kinetics nca FILE [--analyte A ...]``
* ``immunoreset kinetics bcells FILE [--analyte cd19] [--aplasia-below 1] [--reconstitution-at-least 1]``
* ``immunoreset kinetics autoantibodies FILE --analyte anti_dsdna [--uln X]``
* ``immunoreset kinetics fit FILE --model stein2019 [--population] [--analyte A]``
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from immunoreset.errors import InvalidInput
from immunoreset.inputs import bounded_decimal

if TYPE_CHECKING:
    from immunoreset.kinetics.bcells import BCellOptions

__all__ = ["register"]

kinetics_app = typer.Typer(
    name="kinetics",
    help="Cellular kinetics: CAR-T NCA, B-cell aplasia and reconstitution, autoantibodies, population fits.",
    no_args_is_help=True,
)


class OutputFormat(StrEnum):
    csv = "csv"
    table = "table"
    json = "json"


class AucMethod(StrEnum):
    lin_up_log_down = "lin up/log down"
    linear = "linear"
    lin_log = "lin-log"


class BlqRule(StrEnum):
    zero = "zero"
    drop = "drop"
    half_lloq = "half_lloq"


def _decimal(value: str, name: str) -> Decimal:
    number = bounded_decimal(value, name)
    if number <= 0:
        raise InvalidInput(name, value, "a positive number")
    return number


APLASIA_BELOW_OPTION = typer.Option(
    None, "--aplasia-below", help="B-cell aplasia when CD19+ count < this (cells/µL; default 5, Looney 2004)."
)
RECONSTITUTION_OPTION = typer.Option(
    None, "--reconstitution-at-least", help="B-cell reconstitution when CD19+ count ≥ this (cells/µL; default 5)."
)
CONFIRM_OPTION = typer.Option(None, "--confirm", min=1, help="Consecutive samples needed to call reconstitution.")


def b_cell_options(aplasia_below: str | None, reconstitution_at_least: str | None, confirm: int | None) -> BCellOptions:
    """The B-cell definition from command-line values; anything not given keeps the
    :class:`~immunoreset.kinetics.bcells.BCellOptions` default (one place for the defaults)."""
    from immunoreset.instruments.base import parse
    from immunoreset.kinetics.bcells import BCellOptions

    given = {
        "aplasia_below": None if aplasia_below is None else _decimal(aplasia_below, "--aplasia-below"),
        "reconstitution_at_least": None
        if reconstitution_at_least is None
        else _decimal(reconstitution_at_least, "--reconstitution-at-least"),
        "confirm_samples": confirm,
    }
    return parse(BCellOptions, {k: v for k, v in given.items() if v is not None})


def _emit(frame: pd.DataFrame, out: Path | None, fmt: OutputFormat, title: str) -> None:
    printable = frame.map(lambda v: float(v) if isinstance(v, Decimal) else v)
    if out is not None:
        suffix = out.suffix.lower()
        out.parent.mkdir(parents=True, exist_ok=True)
        if suffix == ".parquet":
            printable.to_parquet(out, index=False)
        elif suffix == ".csv":
            printable.to_csv(out, index=False)
        else:
            raise InvalidInput("--out", str(out), "a path ending in .csv or .parquet")
        typer.echo(f"wrote {len(frame)} row(s) to {out}", err=True)
        return
    if fmt is OutputFormat.csv:
        printable.to_csv(sys.stdout, index=False)
    elif fmt is OutputFormat.json:
        typer.echo(printable.to_json(orient="records", indent=2))
    else:
        table = Table(title=title)
        for column in printable.columns:
            table.add_column(str(column))
        for row in printable.itertuples(index=False):
            table.add_row(*[_cell(v) for v in row])
        Console(width=240).print(table)


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _read(file: Path | None, db: str | None, study: str | None, user: str | None) -> pd.DataFrame:
    """The tidy samples of FILE, or of the registry with --db (the same format; docs/kinetics.md)."""
    from immunoreset.kinetics.data import read_tidy, tidy_frame

    if (file is None) == (db is None):
        raise InvalidInput("FILE / --db", file or db, "either a tidy CSV/Parquet file or --db URL (one of them)")
    if file is not None:
        return read_tidy(file)
    import os

    from immunoreset.registry.store import Registry
    from immunoreset.registry.tables import kinetics_samples

    record = Registry.open(db, user or os.environ.get("IMMUNORESET_USER")).read_study(study)
    samples = kinetics_samples(record)
    if samples.empty:
        raise InvalidInput("--db", db, f"a registry with kinetics samples (study {record.code} has none)")
    return tidy_frame(samples.drop(columns="disease"), source=f"registry study {record.code}")


@kinetics_app.command("nca")
def nca_command(
    file: Path | None = typer.Argument(
        None,
        help="Tidy CSV/Parquet (patient, time, value, unit, analyte). Omit to read the registry (--db).",
        show_default=False,
    ),
    db: str | None = typer.Option(
        None, "--db", help="Read the samples of a registry (URL or SQLite file) instead of FILE."
    ),
    study: str | None = typer.Option(None, "--study", help="Registry study code (default: the only one)."),
    user: str | None = typer.Option(None, "--user", help="Registry user (default: $IMMUNORESET_USER / local admin)."),
    analyte: list[str] = typer.Option([], "--analyte", "-a", help="Analyte(s) to analyse (default: all)."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write the table to this .csv/.parquet file."),
    fmt: OutputFormat = typer.Option(OutputFormat.csv, "--format", help="Standard-output format without --out."),
    auc_method: AucMethod = typer.Option(AucMethod.lin_up_log_down, "--auc-method", help="AUC integration."),
    auc_end: str = typer.Option("28", "--auc-end", help="End day of the fixed AUC interval (AUC0–28d)."),
    blq_first: BlqRule = typer.Option(BlqRule.zero, "--blq-first", help="BLQ before the first quantifiable value."),
    blq_middle: BlqRule = typer.Option(BlqRule.drop, "--blq-middle", help="BLQ between quantifiable values."),
    blq_last: BlqRule = typer.Option(BlqRule.zero, "--blq-last", help="BLQ after the last quantifiable value."),
    start_zero: bool = typer.Option(
        False, "--start-zero", help="Without a day-0 sample, take the pre-infusion level as 0 for AUCs."
    ),
    plots: Path | None = typer.Option(None, "--plots", help="Write a profile plot per analyte into this folder."),
) -> None:
    """Non-compartmental analysis per patient and analyte (PKNCA conventions)."""
    from immunoreset.kinetics.nca import NCAOptions, nca_table

    options = NCAOptions(
        auc_method=auc_method.value,
        auc_end=_decimal(auc_end, "--auc-end"),
        blq_first=blq_first.value,
        blq_middle=blq_middle.value,
        blq_last=blq_last.value,
        start_imputation="zero" if start_zero else "none",
    )
    frame = _read(file, db, study, user)
    table = nca_table(frame, options, analytes=analyte or None)
    _emit(table, out, fmt, "NCA")
    if plots is not None:
        from immunoreset.kinetics.plots import profiles_plot

        plots.mkdir(parents=True, exist_ok=True)
        for name in analyte or sorted(set(frame["analyte"])):
            written = profiles_plot(frame, name, plots / f"profiles_{name}.png")
            typer.echo(f"wrote {written}", err=True)


@kinetics_app.command("bcells")
def bcells_command(
    file: Path | None = typer.Argument(
        None, help="Tidy CSV/Parquet with CD19+ B-cell counts. Omit to read the registry (--db).", show_default=False
    ),
    db: str | None = typer.Option(
        None, "--db", help="Read the samples of a registry (URL or SQLite file) instead of FILE."
    ),
    study: str | None = typer.Option(None, "--study", help="Registry study code (default: the only one)."),
    user: str | None = typer.Option(None, "--user", help="Registry user (default: $IMMUNORESET_USER / local admin)."),
    analyte: str = typer.Option("cd19", "--analyte", "-a", help="Analyte holding CD19+ B-cell counts."),
    naive_analyte: str = typer.Option(
        "cd19_naive", "--naive-analyte", help="Analyte with naive B cells (% of B cells or a count), if recorded."
    ),
    aplasia_below: str | None = APLASIA_BELOW_OPTION,
    reconstitution_at_least: str | None = RECONSTITUTION_OPTION,
    confirm: int | None = CONFIRM_OPTION,
    out: Path | None = typer.Option(None, "--out", "-o", help="Write the table to this .csv/.parquet file."),
    fmt: OutputFormat = typer.Option(OutputFormat.csv, "--format", help="Standard-output format without --out."),
    plots: Path | None = typer.Option(None, "--plots", help="Write a B-cell profile plot into this folder."),
) -> None:
    """Time to B-cell aplasia, its duration and reconstitution, as intervals of study days."""
    from immunoreset.kinetics.bcells import bcell_table

    options = b_cell_options(aplasia_below, reconstitution_at_least, confirm)
    frame = _read(file, db, study, user)
    table = bcell_table(frame, analyte=analyte, naive_analyte=naive_analyte or None, options=options)
    _emit(table, out, fmt, "B-cell aplasia and reconstitution")
    if plots is not None:
        from immunoreset.kinetics.plots import profiles_plot

        plots.mkdir(parents=True, exist_ok=True)
        typer.echo(f"wrote {profiles_plot(frame, analyte, plots / f'profiles_{analyte}.png', log=False)}", err=True)


@kinetics_app.command("autoantibodies")
def autoantibodies_command(
    file: Path | None = typer.Argument(
        None,
        help="Tidy CSV/Parquet with autoantibody titres (optional uln column). Omit to read the registry (--db).",
        show_default=False,
    ),
    db: str | None = typer.Option(
        None, "--db", help="Read the samples of a registry (URL or SQLite file) instead of FILE."
    ),
    study: str | None = typer.Option(None, "--study", help="Registry study code (default: the only one)."),
    user: str | None = typer.Option(None, "--user", help="Registry user (default: $IMMUNORESET_USER / local admin)."),
    analyte: list[str] = typer.Option(..., "--analyte", "-a", help="Autoantibody analyte(s), e.g. anti_dsdna."),
    uln: str | None = typer.Option(None, "--uln", help="Upper limit of normal when the file has no uln column."),
    fit_from: str = typer.Option("0", "--fit-from", help="First study day of the log-linear fit."),
    fit_to: str | None = typer.Option(None, "--fit-to", help="Last study day of the fit (default: last sample)."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write the table to this .csv/.parquet file."),
    fmt: OutputFormat = typer.Option(OutputFormat.csv, "--format", help="Standard-output format without --out."),
) -> None:
    """Per-patient autoantibody half-life (log-linear) and time to normalisation (value ≤ ULN)."""
    from immunoreset.instruments.base import parse
    from immunoreset.kinetics.autoantibodies import AntibodyOptions, antibody_table

    def day(text: str, name: str) -> Decimal:
        return bounded_decimal(text, name)

    options = parse(
        AntibodyOptions,
        {
            "uln": None if uln is None else _decimal(uln, "--uln"),
            "fit_from": day(fit_from, "--fit-from"),
            "fit_to": None if fit_to is None else day(fit_to, "--fit-to"),
        },
    )
    frame = _read(file, db, study, user)
    missing = sorted(set(analyte) - set(frame["analyte"]))
    if missing:
        raise InvalidInput(
            "--analyte",
            ", ".join(missing),
            "an analyte present in the data: " + ", ".join(sorted(set(frame["analyte"]))),
        )
    _emit(antibody_table(frame, analyte, options), out, fmt, "Autoantibody decline")


class ModelName(StrEnum):
    stein2019 = "stein2019"


@kinetics_app.command("fit")
def fit_command(
    file: Path | None = typer.Argument(
        None,
        help="Tidy CSV/Parquet with CAR-T levels (e.g. transgene copies/µg). Omit to read the registry (--db).",
        show_default=False,
    ),
    db: str | None = typer.Option(
        None, "--db", help="Read the samples of a registry (URL or SQLite file) instead of FILE."
    ),
    study: str | None = typer.Option(None, "--study", help="Registry study code (default: the only one)."),
    user: str | None = typer.Option(None, "--user", help="Registry user (default: $IMMUNORESET_USER / local admin)."),
    model: ModelName = typer.Option(..., "--model", "-m", help="Cellular-kinetic model."),
    population: bool = typer.Option(False, "--population", help="Population (mixed-effects, SAEM) fit."),
    analyte: str | None = typer.Option(None, "--analyte", "-a", help="Analyte to fit (needed if several)."),
    out: Path | None = typer.Option(
        None,
        "--out",
        "-o",
        help="Parameter table (.csv/.parquet); individual estimates go next to it as <name>_individual.<ext>.",
    ),
    fmt: OutputFormat = typer.Option(OutputFormat.csv, "--format", help="Standard-output format without --out."),
    plots: Path | None = typer.Option(None, "--plots", help="Write diagnostic plots into this folder."),
    seed: int = typer.Option(20190301, "--seed", help="Random seed (population fit; individual multistarts)."),
    json_out: Path | None = typer.Option(None, "--json", help="Also write the full fit result as JSON."),
    blq: str = typer.Option(
        "m3", "--blq", help="BLQ values: m3 (censored likelihood, needs the LLOQ) or m1 (exclude)."
    ),
) -> None:
    """Fit the Stein 2019 model: per patient (ML, log scale) or as a population (SAEM)."""
    from immunoreset.kinetics.fit import fit_individuals, individual_table
    from immunoreset.kinetics.saem import Dataset, SAEMOptions, saem
    from immunoreset.kinetics.stein2019 import PARAMETERS, initial_estimates, structural_model

    frame = _read(file, db, study, user)
    data = Dataset.from_frame(frame, analyte=analyte, blq=blq)
    sm = structural_model()
    start = initial_estimates(
        [data.times[i][data.mask[i]] for i in range(data.n_patients)],
        [np.exp(data.logy[i][data.mask[i]]) for i in range(data.n_patients)],
    )
    if population:
        fit = saem(sm, data, start, options=SAEMOptions(seed=seed))
        rows: list[dict[str, Any]] = []
        for p in fit.typical:
            rows.append(
                {
                    "parameter": p.name,
                    "kind": "typical",
                    "estimate": p.estimate,
                    "se": p.se,
                    "rse_percent": p.rse_percent,
                    "ci_low": p.ci_low,
                    "ci_high": p.ci_high,
                    "unit": p.unit,
                    "shrinkage": fit.shrinkage.get(p.name),
                }
            )
        for p in fit.omega2:
            rows.append(
                {
                    "parameter": p.name,
                    "kind": "omega2",
                    "estimate": p.estimate,
                    "se": p.se,
                    "rse_percent": p.rse_percent,
                    "ci_low": p.ci_low,
                    "ci_high": p.ci_high,
                    "unit": "",
                    "shrinkage": None,
                }
            )
        rows.append(
            {
                "parameter": "sigma",
                "kind": "residual_sd_log",
                "estimate": fit.sigma.estimate,
                "se": fit.sigma.se,
                "rse_percent": fit.sigma.rse_percent,
                "ci_low": None,
                "ci_high": None,
                "unit": "",
                "shrinkage": None,
            }
        )
        params = pd.DataFrame(rows)
        individual = _with_derived(pd.DataFrame(fit.individual), PARAMETERS)
        typer.echo(
            f"SAEM: {fit.n_patients} patients, {fit.n_obs} observations, {fit.n_censored} BLQ "
            f"({'M3 censored likelihood' if data.cens is not None else 'excluded (M1)'}), "
            f"-2LL {fit.minus2ll:.2f}, {fit.wall_time_s:.1f} s"
            if fit.minus2ll is not None
            else "SAEM done",
            err=True,
        )
        for note in fit.notes:
            typer.echo(f"note: {note}", err=True)
        if plots is not None:
            from immunoreset.kinetics.plots import population_diagnostics

            for path in population_diagnostics(fit, data, sm, plots):
                typer.echo(f"wrote {path}", err=True)
        if json_out is not None:
            json_out.write_text(fit.model_dump_json(indent=2, exclude={"trace"}), encoding="utf-8")
    else:
        fits = fit_individuals(sm, data, start, seed=seed)
        params = _with_derived(individual_table(fits, PARAMETERS), PARAMETERS)
        individual = None
        if plots is not None:
            from immunoreset.kinetics.plots import individual_diagnostics

            for path in individual_diagnostics(fits, data, sm, plots):
                typer.echo(f"wrote {path}", err=True)
        if json_out is not None:
            json_out.write_text(json.dumps([f.model_dump() for f in fits], indent=2), encoding="utf-8")
    _emit(params, out, fmt, f"{model.value} {'population' if population else 'individual'} fit")
    if individual is not None and out is not None:
        _emit(individual, out.with_name(f"{out.stem}_individual{out.suffix}"), fmt, "individual estimates")


def _with_derived(table: pd.DataFrame, parameters: tuple[str, ...]) -> pd.DataFrame:
    """Add the model-based secondary quantities (Stein 2019) computed from each row's estimates."""
    from immunoreset.kinetics.stein2019 import derived

    rows = []
    for rec in table.to_dict("records"):
        values = [rec.get(k) for k in parameters]
        ok = all(isinstance(v, float) and v == v for v in values)
        d = derived({k: float(rec[k]) for k in parameters}) if ok else {}
        rows.append({f"model_{k}": v for k, v in d.items()})
    extra = pd.DataFrame(rows, index=table.index)
    return pd.concat([table, extra], axis=1)


def register(app: typer.Typer) -> None:
    """Add the ``kinetics`` command group to the main app."""
    app.add_typer(kinetics_app, name="kinetics")
