"""``immunoreset demo``: the main job on built-in data.

The demo runs the built-in design ``erlangen2024`` — a virtual replica of the Erlangen case series
(8 SLE, 3 IIM, 4 SSc) — end to end into ``./immunoreset-demo/``: simulation, a SQLite registry of the
virtual patients, the outcome table, the cohort analysis tables and ``report.html``.
``--examples`` instead scores the bundled example visits (``examples/sle_visits.json``) and prints a table.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

__all__ = ["example_assessments", "register"]


def example_assessments() -> dict[str, Any]:
    """The bundled example visits (package data ``immunoreset/data/examples/sle_visits.json``)."""
    text = resources.files("immunoreset").joinpath("data/examples/sle_visits.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def register(app: typer.Typer) -> None:
    """Add the ``demo`` command to ``app``."""

    @app.command("demo")
    def demo(
        out: Path = typer.Option(Path("immunoreset-demo"), "--out", help="Output folder."),
        patients: int | None = typer.Option(None, "--patients", min=1, help="Resize the design (quick runs)."),
        seed: int | None = typer.Option(None, "--seed", min=0, help="Random seed (default: the design's)."),
        pdf: bool = typer.Option(False, "--pdf", help="Also print the report to PDF (needs a headless Chromium)."),
        examples: bool = typer.Option(False, "--examples", help="Only score the bundled example visits (fast)."),
        output_format: str = typer.Option("table", "--format", help="With --examples: table (default) or json."),
    ) -> None:
        """The main job: the in-silico Erlangen case series end to end (registry, outcomes, report.html)."""
        if examples:
            _score_examples(output_format)
            return
        from immunoreset.cli.trial import run_with_progress

        result = run_with_progress("erlangen2024", out, patients=patients, seed=seed, pdf=pdf)
        console = Console()
        console.print(f"[bold]Report:[/bold] {result.report.resolve()}")
        console.print("Open it in a browser; every table is also in the tables/ folder beside it.")


def _score_examples(output_format: str) -> None:
    """Score the bundled example visits with every instrument each lists; print one table."""
    from immunoreset import instruments
    from immunoreset.cli.score import score_many

    data = example_assessments()
    visits = data["assessments"]
    names: list[str] = []
    for visit in visits:
        names.extend(n for n in visit["scores"] if n not in names)
    scored: list[dict[str, Any]] = []
    for visit in visits:
        row: dict[str, Any] = {"patient": visit["patient"], "visit": visit["visit"], "study_day": visit["study_day"]}
        for name, inputs in visit["scores"].items():
            (result,) = score_many(instruments.get(name), [inputs], label=f"{visit['patient']} {visit['visit']}")
            row[name] = result
        scored.append(row)
    if output_format == "json":
        dumped = [
            {k: (v.model_dump(mode="json") if hasattr(v, "model_dump") else v) for k, v in r.items()} for r in scored
        ]
        typer.echo(json.dumps(dumped, indent=2))
        return
    table = Table(title=data["description"], title_justify="left")
    for column in ("patient", "visit", "day"):
        table.add_column(column)
    for name in names:
        table.add_column(instruments.get(name).title, overflow="fold")
    for row in scored:
        cells = [row["patient"], row["visit"], str(row["study_day"])]
        cells += [row[n].headline() if n in row else "" for n in names]
        table.add_row(*cells)
    console = Console(width=max(Console().width, 140))
    console.print(table)
    console.print("Score your own visits: immunoreset score --list; immunoreset score sledai2k FILE --format table")
