"""The ``immunoreset`` command line: a thin Typer front over the library.

Each command group lives in its own module of this package and is registered below.
User mistakes (:class:`~immunoreset.errors.InvalidInput`) print one line on stderr and exit 2.
"""

from __future__ import annotations

import sys

import typer

from immunoreset import __version__
from immunoreset.errors import ImmunoresetError, InvalidInput

app = typer.Typer(
    name="immunoreset",
    help="CAR T-cell therapy in autoimmune disease, computable: instruments, registry, kinetics, simulation, reports.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"immunoreset {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """immunoreset command line."""


# --- command groups (one module each; register here) ---
from immunoreset.cli import demo as _demo  # noqa: E402
from immunoreset.cli import kinetics as _kinetics  # noqa: E402
from immunoreset.cli import model as _model  # noqa: E402
from immunoreset.cli import redcap as _redcap  # noqa: E402
from immunoreset.cli import registry as _registry  # noqa: E402
from immunoreset.cli import report as _report  # noqa: E402
from immunoreset.cli import score as _score  # noqa: E402
from immunoreset.cli import simulate as _simulate  # noqa: E402
from immunoreset.cli import trial as _trial  # noqa: E402

_score.register(app)
_demo.register(app)
_kinetics.register(app)
_simulate.register(app)
_model.register(app)
_trial.register(app)
_registry.register(app)
_redcap.register(app)
_report.register(app)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point.

    Click/Typer handle usage errors themselves (usage message, exit 2); user mistakes found by the library
    (:class:`InvalidInput`) print one line and exit 2; other deliberate errors exit 1.
    """
    try:
        app(args=argv, standalone_mode=True)
    except InvalidInput as err:
        typer.echo(f"error: {err}", err=True)
        sys.exit(2)
    except ImmunoresetError as err:
        typer.echo(f"error: {err}", err=True)
        sys.exit(1)
