"""``immunoreset trial``: show and run virtual-trial designs."""

from __future__ import annotations

from pathlib import Path

import typer
import yaml
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from immunoreset.report.case_series import case_series_report, write_tables
from immunoreset.trial import builtin_designs, load_design

__all__ = ["register"]

trial_app = typer.Typer(help="Virtual trials: designs as files, run into tables and a report.", no_args_is_help=True)


@trial_app.command("list")
def list_designs() -> None:
    """List the built-in designs."""
    for name in builtin_designs():
        typer.echo(name)


@trial_app.command("show")
def show(design: str = typer.Argument(..., help="Built-in design name or a YAML/TOML file.")) -> None:
    """Print a design as YAML (copy it to start your own)."""
    loaded = load_design(design)
    typer.echo(yaml.safe_dump(loaded.model_dump(mode="json"), sort_keys=False, allow_unicode=True))


@trial_app.command("run")
def run(
    design: str = typer.Argument(..., help="Built-in design name or a YAML/TOML file."),
    out: Path = typer.Option(Path("immunoreset-trial"), "--out", help="Output folder."),
    patients: int | None = typer.Option(None, "--patients", min=1, help="Resize the design to N patients."),
    seed: int | None = typer.Option(None, "--seed", min=0, help="Random seed (default: the design's)."),
) -> None:
    """Run a design: simulate, score with the instruments, write tables and report.html."""
    from immunoreset.trial.sle import run_sle_arm

    console = Console(stderr=True)
    loaded = load_design(design)
    if patients is not None:
        loaded = loaded.resized(patients)
    skipped = [c.disease for c in loaded.cohorts if c.disease != "SLE"]
    sle_size = next((c.size for c in loaded.cohorts if c.disease == "SLE"), 0)
    if sle_size == 0:
        console.print("This design has no SLE cohort; only the SLE arm can be simulated so far.")
        raise typer.Exit(code=1)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        task = bar.add_task("Simulating SLE patients", total=sle_size)
        arm = run_sle_arm(loaded, seed=seed, progress=lambda k: bar.advance(task, k))
    tables = write_tables(
        {"patients": arm.patients, "visits": arm.visits, "safety": arm.safety, "daily": arm.daily}, out
    )
    used_seed = loaded.seed if seed is None else seed
    report = case_series_report(
        arm.visits,
        arm.safety,
        daily=arm.daily,
        title=f"Virtual case series: {loaded.name}",
        provenance={
            "Design": f"{loaded.name} — {loaded.description}",
            "Data source": "virtual patients (immunoreset trial run)",
            "Random seed": str(used_seed),
            "Models": "Park 2025 CD19 CAR-T SLE QSP model; SLE observation model (docs/trial.md)",
            "Not simulated in this version": ", ".join(skipped) or "none",
        },
    ).write(out / "report.html")
    for path in tables:
        console.print(f"wrote {path}")
    if skipped:
        console.print(f"[yellow]Not simulated yet: {', '.join(skipped)} arm(s) (no disease module).[/yellow]")
    typer.echo(str(report))


def register(app: typer.Typer) -> None:
    """Add the ``trial`` command group to ``app``."""
    app.add_typer(trial_app, name="trial")
