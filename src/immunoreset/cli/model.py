"""``immunoreset model``: inspect and export mechanistic model specs.

* ``immunoreset model show park2025`` — states and parameters with units and sources
* ``immunoreset model export park2025 --sbml FILE.xml``
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from immunoreset.errors import InvalidInput
from immunoreset.models import get_model

__all__ = ["register"]

model_app = typer.Typer(name="model", help="Show or export mechanistic model specs.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(model_app)


@model_app.command("show")
def show(name: str = typer.Argument(..., help="model name, e.g. park2025")) -> None:
    """Print the model's states, parameters (with IIV) and inputs."""
    spec = get_model(name)
    console = Console(width=200)
    console.print(f"[bold]{spec.title}[/bold]\n{spec.citation}")
    st = Table(title=f"States ({len(spec.states)})")
    for col in ("#", "name", "unit", "description", "initial"):
        st.add_column(col)
    for i, s in enumerate(spec.states, 1):
        st.add_row(str(i), s.name, s.unit, s.description, s.initial)
    console.print(st)
    pt = Table(title=f"Parameters ({len(spec.parameters)})")
    for col in ("name", "value", "unit", "status", "omega", "description", "source"):
        pt.add_column(col)
    for p in spec.parameters:
        omega = "" if p.omega is None else f"{p.omega:g}" + (" (fixed)" if p.omega_fixed else "")
        pt.add_row(p.name, f"{p.value:g}", p.unit, p.status, omega, p.description, p.source)
    console.print(pt)
    it = Table(title=f"Inputs ({len(spec.inputs)})")
    for col in ("name", "kind", "default", "unit", "description", "source"):
        it.add_column(col)
    for inp in spec.inputs:
        it.add_row(inp.name, inp.kind, f"{inp.value:g}", inp.unit, inp.description, inp.source)
    console.print(it)
    sw = Table(title="Switches")
    for col in ("name", "condition", "description"):
        sw.add_column(col)
    for switch in spec.switches:
        sw.add_row(switch.name, f"{switch.lhs} {switch.op} {switch.rhs}", switch.description)
    console.print(sw)


@model_app.command("export")
def export(
    name: str = typer.Argument(..., help="model name, e.g. park2025"),
    sbml: Path | None = typer.Option(None, "--sbml", help="write SBML Level 3 Version 2 to this file"),
    json_out: Path | None = typer.Option(None, "--json", help="write the spec as JSON"),
) -> None:
    """Export a model as SBML (for libRoadRunner, COPASI, tellurium) or as its JSON spec."""
    spec = get_model(name)
    if sbml is None and json_out is None:
        raise InvalidInput("sbml", None, "--sbml FILE.xml and/or --json FILE.json")
    if sbml is not None:
        from immunoreset.simulate.sbml import export_sbml

        export_sbml(spec, sbml)
        typer.echo(f"wrote {sbml}")
    if json_out is not None:
        json_out.write_text(spec.model_dump_json(indent=2), encoding="utf-8")
        typer.echo(f"wrote {json_out}")
