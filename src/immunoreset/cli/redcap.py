"""``immunoreset redcap``: the REDCap project template, its checker and the sample project."""

from __future__ import annotations

from pathlib import Path

import typer

__all__ = ["register"]

redcap_app = typer.Typer(
    help="REDCap: write the project template for a study, check project files, write the sample project.",
    no_args_is_help=True,
)


def _sites(values: list[str]) -> list[tuple[str, str]]:
    from immunoreset.errors import InvalidInput

    sites = []
    for value in values:
        code, sep, name = value.partition("=")
        if not sep or not code.strip() or not name.strip():
            raise InvalidInput("--site", value, "CODE=NAME, e.g. ERL=Erlangen")
        sites.append((code.strip(), name.strip()))
    return sites


@redcap_app.command("template")
def template(
    out: Path = typer.Option(..., "--out", help="Folder for the project files (created)."),
    design: str = typer.Option(
        "erlangen2024", "--design", help="Design whose visit schedule becomes the events (name or file)."
    ),
    site: list[str] = typer.Option([], "--site", help="A site as CODE=NAME (repeat for each site; default: 1=Site 1)."),
    country: list[str] = typer.Option(
        [], "--country", help="A site's country as CODE=ISO3, e.g. ERL=DEU (SDTM DM.COUNTRY; repeat per site)."
    ),
    study_code: str = typer.Option("CART-AI", "--study-code", help="Registry study code."),
    study_name: str = typer.Option("CD19 CAR T-cell therapy in autoimmune disease", "--study-name"),
) -> None:
    """Write the REDCap project: data dictionary, arms and events, instrument-event mapping, repeating
    instruments and the mapping YAML that imports its exports (docs/registry.md)."""
    from immunoreset.errors import InvalidInput
    from immunoreset.registry.records import SiteRecord
    from immunoreset.registry.redcap_template import build_template
    from immunoreset.trial import load_design

    visits = load_design(design).visits
    sites = _sites(site) or [("1", "Site 1")]
    countries: dict[str, str] = {}
    for value in country:
        code, sep, iso = value.partition("=")
        if not sep or code.strip() not in {c for c, _ in sites}:
            raise InvalidInput("--country", value, "CODE=ISO3 for a site given with --site, e.g. ERL=DEU")
        try:
            countries[code.strip()] = str(SiteRecord(code=code.strip(), country=iso).country)
        except ValueError:
            raise InvalidInput("--country", value, "an ISO 3166-1 alpha-3 country code such as DEU") from None
    built = build_template(visits, sites=sites, study_code=study_code, study_name=study_name, countries=countries)
    for path in built.write(out):
        typer.echo(str(path))


@redcap_app.command("check")
def check(folder: Path = typer.Argument(..., help="A project folder (immunoreset redcap template --out).")) -> None:
    """Check project files against REDCap's data-dictionary rules; exit 2 listing every problem."""
    from immunoreset.errors import InvalidInput
    from immunoreset.registry.redcap_check import check_project

    problems = check_project(folder)
    if problems:
        raise InvalidInput(problems=problems)
    typer.echo(f"{folder}: REDCap project files pass every check")


@redcap_app.command("sample")
def sample(out: Path = typer.Option(..., "--out", help="Folder for the sample project (created).")) -> None:
    """Write the sample project: erlangen2024 simulated and exported as REDCap, with real-world messiness."""
    from immunoreset.trial.redcap_project import write_sample_project

    for path in write_sample_project(out):
        typer.echo(str(path))


def register(app: typer.Typer) -> None:
    """Add the ``redcap`` command group to ``app``."""
    app.add_typer(redcap_app, name="redcap")
