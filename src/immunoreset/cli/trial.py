"""``immunoreset trial``: show and run virtual-trial designs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import typer
import yaml
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

if TYPE_CHECKING:
    from immunoreset.pipeline import ExplorationResult, MainJobResult

__all__ = ["register", "run_with_progress"]

trial_app = typer.Typer(help="Virtual trials: designs as files, run into tables and a report.", no_args_is_help=True)


@trial_app.command("list")
def list_designs() -> None:
    """List the built-in designs."""
    from immunoreset.trial import builtin_designs

    for name in builtin_designs():
        typer.echo(name)


@trial_app.command("show")
def show(
    design: str | None = typer.Argument(None, help="Built-in design name or a YAML/TOML file."),
    fields: bool = typer.Option(False, "--fields", help="Document every field of the design format instead."),
) -> None:
    """Print a design as YAML (copy it to start your own), or with --fields the reference of every field."""
    from immunoreset.trial import load_design
    from immunoreset.trial.design import design_reference

    if fields:
        for path, kind, default, description in design_reference():
            default_text = (
                f" [default {default}]" if default not in ("", "required") else f" [{default}]" if default else ""
            )
            typer.echo(f"{path}: {kind}{default_text}\n    {description}")
        return
    if design is None:
        raise typer.BadParameter("give a design (immunoreset trial list) or --fields", param_hint="DESIGN")
    loaded = load_design(design)
    typer.echo(yaml.safe_dump(loaded.model_dump(mode="json"), sort_keys=False, allow_unicode=True))


@trial_app.command("run")
def run(
    design: str = typer.Argument(..., help="Built-in design name or a YAML/TOML file."),
    out: Path = typer.Option(Path("immunoreset-trial"), "--out", help="Output folder."),
    patients: int | None = typer.Option(None, "--patients", min=1, help="Resize the design to N patients."),
    seed: int | None = typer.Option(None, "--seed", min=0, help="Random seed (default: the design's)."),
    pdf: bool = typer.Option(False, "--pdf", help="Also print the report to PDF (needs a headless Chromium)."),
    redcap: Path | None = typer.Option(
        None, "--redcap", help="Also write the virtual study as a REDCap project (template + raw export) here."
    ),
    vary: list[str] = typer.Option(
        [],
        "--vary",
        help="Run the design at several values of a field, e.g. product.dose=1e5,1e6,1e7 (repeat for a grid; "
        "fields: immunoreset trial show --fields).",
    ),
) -> None:
    """Run a design: simulate, write the virtual patients to a registry, compute outcomes, report."""
    if vary:
        if pdf or redcap is not None:
            raise typer.BadParameter("--pdf and --redcap apply to a single run, not to --vary", param_hint="--vary")
        explored = _explore_with_progress(design, out, vary, patients=patients, seed=seed)
        typer.echo(str(explored.report))
        return
    result = run_with_progress(design, out, patients=patients, seed=seed, pdf=pdf, redcap=redcap)
    typer.echo(str(result.report))


@contextmanager
def _stage_bars(console: Console, width: int) -> Iterator[Callable[[str, int, int], None]]:
    """A progress bar per stage; a stage's bar completes when the next starts (and all at the end)."""
    with Progress(
        TextColumn(f"{{task.description:<{width}}}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                for other in tasks.values():
                    bar.update(other, completed=bar.tasks[other].total or 1)
                tasks[stage] = bar.add_task(stage, total=max(total, 1))
            bar.update(tasks[stage], completed=done, total=max(total, 1))

        yield progress
        for task in tasks.values():
            bar.update(task, completed=bar.tasks[task].total or 1)


def _explore_with_progress(
    design: str, out: Path, vary: list[str], *, patients: int | None, seed: int | None
) -> ExplorationResult:
    from immunoreset.pipeline import explore_design

    console = Console(stderr=True)
    with _stage_bars(console, 60) as progress:
        explored = explore_design(design, out, vary, patients=patients, seed=seed, progress=progress)
    console.print(f"{len(explored.levels)} levels; table {explored.table}")
    return explored


def run_with_progress(
    design: str,
    out: Path,
    *,
    patients: int | None = None,
    seed: int | None = None,
    pdf: bool = False,
    redcap: Path | None = None,
) -> MainJobResult:
    """:func:`immunoreset.pipeline.run_virtual_trial` with a progress bar per stage and a summary."""
    from immunoreset.pipeline import run_virtual_trial

    console = Console(stderr=True)
    with _stage_bars(console, 34) as progress:
        result = run_virtual_trial(
            design, out, seed=seed, patients=patients, progress=progress, pdf=pdf, redcap_dir=redcap
        )
    analysis = result.analysis
    console.print(
        f"{len(analysis.patients)} virtual patients → registry {result.registry_url}; "
        f"outcomes {result.outcomes}; tables in {out / 'tables'}"
    )
    timing = ", ".join(f"{k.removesuffix('_s')} {v:.1f} s" for k, v in result.timings.items())
    console.print(f"time: {timing}")
    if result.pdf is not None:
        console.print(f"PDF: {result.pdf}")
    if result.redcap:
        console.print(f"REDCap project: {result.redcap[0].parent} (export.csv and the template's files)")
    return result


def register(app: typer.Typer) -> None:
    """Add the ``trial`` command group to ``app``."""
    app.add_typer(trial_app, name="trial")
