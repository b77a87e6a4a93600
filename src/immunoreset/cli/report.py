"""``immunoreset report``: the case-series report of a registry (real or virtual patients)."""

from __future__ import annotations

from pathlib import Path

import typer

from immunoreset.cli.kinetics import APLASIA_BELOW_OPTION, CONFIRM_OPTION, RECONSTITUTION_OPTION, b_cell_options
from immunoreset.cli.registry import DB_HELP, USER_HELP, open_registry, progress_bar

__all__ = ["register"]


def report(
    out: Path = typer.Option(Path("report.html"), "--out", help="The HTML report to write."),
    study: str | None = typer.Option(None, "--study", help="Study code (default: the only one)."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    user: str | None = typer.Option(None, "--user", help=USER_HELP),
    pdf: bool = typer.Option(False, "--pdf", help="Also print the report to PDF (needs a headless Chromium)."),
    aplasia_below: str | None = APLASIA_BELOW_OPTION,
    reconstitution_at_least: str | None = RECONSTITUTION_OPTION,
    confirm: int | None = CONFIRM_OPTION,
) -> None:
    """Write the case-series report of a registry (outcomes and tables go beside it, in OUT_files/)."""
    from immunoreset.pipeline import report_study
    from immunoreset.registry.engine import masked_url

    b_cells = b_cell_options(aplasia_below, reconstitution_at_least, confirm)

    registry = open_registry(db, user)
    record = registry.read_study(study)
    url = masked_url(registry.engine.url)
    with progress_bar("reporting") as advance:
        result = report_study(
            record,
            out.parent / f"{out.stem}_files",
            report_path=out,
            provenance={"Data source": f"registry {url}, read as user {registry.user.name}"},
            progress=lambda stage, done, total: advance(done, total),
            pdf=pdf,
            b_cells=b_cells,
        )
    typer.echo(f"outcomes and tables in {result.outcomes.parent}")
    if result.pdf is not None:
        typer.echo(str(result.pdf))
    typer.echo(str(result.report))


def register(app: typer.Typer) -> None:
    """Add the ``report`` command to ``app``."""
    app.command("report")(report)
