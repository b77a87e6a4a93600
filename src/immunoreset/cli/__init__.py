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
    (:class:`InvalidInput`) print one line and exit 2; other deliberate errors exit 1. What the environment
    does wrong — a database that cannot be reached or refuses, a file that cannot be read or decoded, a disk
    that is full — is one line too (exit 1, or 2 for an unreadable input file), with passwords masked and
    no data values: never a traceback. ``IMMUNORESET_DEBUG=1`` re-raises for developers.
    """
    import os

    try:
        app(args=argv, standalone_mode=True)
    except InvalidInput as err:
        typer.echo(f"error: {err}", err=True)
        sys.exit(2)
    except ImmunoresetError as err:
        typer.echo(f"error: {err}", err=True)
        sys.exit(1)
    except Exception as err:
        if os.environ.get("IMMUNORESET_DEBUG"):
            raise
        code, message = _environment_error(err)
        typer.echo(f"error: {message}", err=True)
        sys.exit(code)


def _environment_error(err: Exception) -> tuple[int, str]:
    """Exit status and one line for an error that is not the toolkit's own (see :func:`main`)."""
    from sqlalchemy.exc import SQLAlchemyError

    from immunoreset.registry.engine import describe_database_error

    if isinstance(err, SQLAlchemyError):
        return 1, str(describe_database_error(err))
    if isinstance(err, UnicodeError):
        return 2, "an input file is not UTF-8 text (save it as UTF-8 CSV/JSON/YAML)"
    if isinstance(err, RecursionError):
        return 2, "an input is nested too deeply to read"
    if isinstance(err, MemoryError):
        return 2, "an input is too large to read into memory"
    if isinstance(err, OSError):
        where = f" {err.filename}" if getattr(err, "filename", None) else ""
        return 1, f"cannot read or write{where}: {err.strerror or type(err).__name__}"
    return 1, (
        f"internal error ({type(err).__name__}): please report it with the command that caused it; "
        "IMMUNORESET_DEBUG=1 shows the traceback"
    )
