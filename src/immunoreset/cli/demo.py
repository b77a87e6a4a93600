"""``immunoreset demo``: the main job on built-in data.

Until the in-silico case series exists, the demo scores the bundled example visits
(``examples/sle_visits.json``: two synthetic SLE patients from screening to month 6 after CD19
CAR T cells) with every instrument each visit lists, and prints one readable table.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from immunoreset import instruments
from immunoreset.cli.score import score_many

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
        output_format: str = typer.Option("table", "--format", help="table (default) or json."),
    ) -> None:
        """Run the main job on built-in data: score the bundled example visits."""
        data = example_assessments()
        visits = data["assessments"]
        names: list[str] = []
        for visit in visits:
            names.extend(n for n in visit["scores"] if n not in names)
        scored: list[dict[str, Any]] = []
        for visit in visits:
            row: dict[str, Any] = {
                "patient": visit["patient"],
                "visit": visit["visit"],
                "study_day": visit["study_day"],
            }
            for name, inputs in visit["scores"].items():
                (result,) = score_many(instruments.get(name), [inputs], label=f"{visit['patient']} {visit['visit']}")
                row[name] = result
            scored.append(row)
        if output_format == "json":
            typer.echo(
                json.dumps(
                    [
                        {k: (v.model_dump(mode="json") if hasattr(v, "model_dump") else v) for k, v in r.items()}
                        for r in scored
                    ],
                    indent=2,
                )
            )
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
