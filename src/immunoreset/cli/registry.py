"""Registry commands: ``db``, ``import``, ``export``, ``outcomes``, ``audit``, ``users``.

Every command takes ``--db URL`` (default ``$IMMUNORESET_DATABASE_URL`` or ``./immunoreset.db``) and acts
as ``--user NAME`` (default ``$IMMUNORESET_USER``): on PostgreSQL the database login to connect as (the server
authenticates it; default the URL's user), on a SQLite file the registry user (default the local admin).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from immunoreset.cli.kinetics import APLASIA_BELOW_OPTION, CONFIRM_OPTION, RECONSTITUTION_OPTION, b_cell_options

if TYPE_CHECKING:
    from immunoreset.registry.records import StudyRecord
    from immunoreset.registry.store import LoadSummary, Registry

__all__ = ["DB_HELP", "USER_HELP", "open_registry", "progress_bar", "register"]

DB_HELP = (
    "Registry database: sqlite:///FILE, postgresql://USER@HOST/DB or a file path "
    "(default: $IMMUNORESET_DATABASE_URL or ./immunoreset.db)."
)
USER_HELP = (
    "PostgreSQL: the database login to connect as (the server authenticates it; default the URL's user). "
    "SQLite: the registry user (default: $IMMUNORESET_USER, else the local admin)."
)

db_app = typer.Typer(help="Create and upgrade the registry database.", no_args_is_help=True)
import_app = typer.Typer(
    help="Import trial data into the registry (one transaction per file set).", no_args_is_help=True
)
export_app = typer.Typer(help="Export registry data (CDISC SDTM).", no_args_is_help=True)
audit_app = typer.Typer(
    help="The audit trail: verify the hash chain, keep checkpoints of it, show a patient's history.",
    no_args_is_help=True,
)
users_app = typer.Typer(help="Registry users, roles and sites (admin only).", no_args_is_help=True)

_err = Console(stderr=True)


def open_registry(db: str | None, user: str | None) -> Registry:
    from immunoreset.registry.store import Registry

    return Registry.open(db, user or os.environ.get("IMMUNORESET_USER"))


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int, int], None]]:
    with Progress(
        TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=_err, transient=True
    ) as bar:
        task = bar.add_task(label, total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield advance


def _print_summary(summary: LoadSummary) -> None:
    table = Table(title=f"{summary.patients} patient(s) loaded" + ("" if summary.changed else " — no changes"))
    for column in ("table", "inserted", "updated", "deleted", "unchanged"):
        table.add_column(column, justify="left" if column == "table" else "right")
    for row in summary.table():
        table.add_row(*(str(row[c]) for c in ("table", "inserted", "updated", "deleted", "unchanged")))
    Console().print(table)


def _load(study: StudyRecord, db: str | None, user: str | None, prune: bool, notes: list[str] | None = None) -> None:
    registry = open_registry(db, user)
    # Announced before the transaction starts (one line, flushed), so a watcher knows the write has begun.
    _err.print(f"importing {len(study.patients)} patient(s) of study {study.code} into the registry")
    with progress_bar("writing patients") as advance:
        summary = registry.load(study, prune=prune, progress=advance)
    _print_summary(summary)
    for note in notes or []:
        typer.echo(note)


@db_app.command("init")
def db_init(db: str | None = typer.Option(None, "--db", help=DB_HELP)) -> None:
    """Create the registry (or bring it to the current schema) with a local default admin user."""
    from immunoreset.registry.engine import current_revision, database_schema, masked_url
    from immunoreset.registry.store import initialise

    engine = initialise(db)
    where = masked_url(engine.url)
    schema = database_schema(engine)
    typer.echo(
        f"registry ready at {where}"
        + (f" in database schema {schema!r}" if schema else "")
        + f" (schema revision {current_revision(engine)})"
    )


@db_app.command("upgrade")
def db_upgrade(db: str | None = typer.Option(None, "--db", help=DB_HELP)) -> None:
    """Apply the schema migrations shipped with this version."""
    from immunoreset.registry.engine import init_db, make_engine

    engine = make_engine(db)
    typer.echo(f"schema at revision {init_db(engine)}")  # on an existing registry only (make_engine refuses a new file)


@import_app.command("redcap")
def import_redcap(
    export: Path = typer.Argument(..., exists=True, dir_okay=False, help="REDCap 'CSV raw' record export."),
    dictionary: Path = typer.Option(..., "--dictionary", exists=True, dir_okay=False, help="Data dictionary CSV."),
    mapping: Path = typer.Option(
        ..., "--mapping", exists=True, dir_okay=False, help="Mapping YAML (fields → registry)."
    ),
    events: Path | None = typer.Option(None, "--events", exists=True, dir_okay=False, help="Events CSV (day offsets)."),
    keep_missing: bool = typer.Option(
        False, "--keep-missing", help="Incremental: keep a patient's stored rows that this export lacks."
    ),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    user: str | None = typer.Option(None, "--user", help=USER_HELP),
) -> None:
    """Import a REDCap project export (all or nothing; every problem listed)."""
    from immunoreset.registry.redcap import import_redcap_export, load_mapping

    result = import_redcap_export(export, dictionary, load_mapping(mapping), events_csv=events)
    _load(result.study, db, user, prune=not keep_missing, notes=result.notes())


@import_app.command("csv")
def import_csv(
    files: list[Path] = typer.Argument(..., exists=True, help="Tidy CSV file(s) (docs/registry.md)."),
    keep_missing: bool = typer.Option(
        False, "--keep-missing", help="Incremental: keep a patient's stored rows that these files lack."
    ),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    user: str | None = typer.Option(None, "--user", help=USER_HELP),
) -> None:
    """Import the tidy long CSV format (all or nothing; every problem listed)."""
    from immunoreset.registry.tidy_csv import read_tidy_csv

    study = read_tidy_csv(files if len(files) > 1 else files[0])
    _load(study, db, user, prune=not keep_missing)


@export_app.command("sdtm")
def export_sdtm(
    out: Path = typer.Option(..., "--out", file_okay=False, help="Output folder."),
    xpt: bool = typer.Option(False, "--xpt", help="Also write SAS XPORT v5 files."),
    study: str | None = typer.Option(None, "--study", help="Study code (default: the only one)."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    user: str | None = typer.Option(None, "--user", help=USER_HELP),
) -> None:
    """Export the study as CDISC SDTM datasets (CSV; XPT v5 with --xpt): trial design, subjects, collected data."""
    from immunoreset.registry.sdtm import write_sdtm
    from immunoreset.registry.sdtm_conformance import read_conformance

    record = open_registry(db, user).read_study(study)
    written = write_sdtm(record, out, xpt=xpt)
    for path in written:
        typer.echo(str(path))
    findings = read_conformance(out / "conformance.csv")
    errors = [f for f in findings if f.severity == "error"]
    typer.echo(
        f"conformance: {len(errors)} error(s), {len(findings) - len(errors)} warning(s) (conformance.csv)",
        err=bool(errors),
    )
    for finding in errors[:10]:
        typer.echo(f"  {finding}", err=True)


@export_app.command("adam")
def export_adam(
    out: Path = typer.Option(..., "--out", file_okay=False, help="Output folder."),
    xpt: bool = typer.Option(False, "--xpt", help="Also write SAS XPORT v5 files."),
    study: str | None = typer.Option(None, "--study", help="Study code (default: the only one)."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    user: str | None = typer.Option(None, "--user", help=USER_HELP),
    aplasia_below: str | None = APLASIA_BELOW_OPTION,
    reconstitution_at_least: str | None = RECONSTITUTION_OPTION,
    confirm: int | None = CONFIRM_OPTION,
) -> None:
    """Export the study's CDISC ADaM datasets (ADSL, ADRS, ADTTE; CSV, XPT v5 with --xpt), traceable to SDTM.
    The B-cell options are those of `report`, so the export and the report agree."""
    from immunoreset.analysis.adam import write_adam

    b_cells = b_cell_options(aplasia_below, reconstitution_at_least, confirm)
    record = open_registry(db, user).read_study(study)
    for path in write_adam(record, out, xpt=xpt, b_cells=b_cells):
        typer.echo(str(path))


def outcomes(
    out: Path | None = typer.Option(None, "--out", help="Write the table to FILE (.csv or .parquet)."),
    study: str | None = typer.Option(None, "--study", help="Study code (default: the only one)."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    user: str | None = typer.Option(None, "--user", help=USER_HELP),
) -> None:
    """Compute every applicable instrument at every visit from stored data (tidy table)."""
    from immunoreset.registry.outcomes import compute_outcomes, write_outcomes

    record = open_registry(db, user).read_study(study)
    with progress_bar("computing outcomes") as advance:
        table = compute_outcomes(record, progress=advance)
    if out is None:
        typer.echo(table.to_csv(index=False), nl=False)
    else:
        write_outcomes(table, out)
        evaluable = int(table["evaluable"].sum())
        typer.echo(f"{len(table)} outcome rows ({evaluable} evaluable) for {len(record.patients)} patients → {out}")


KEY_HELP = (
    "File holding the checkpoint signing key (HMAC-SHA256; default $IMMUNORESET_CHECKPOINT_KEY). "
    "Without a key a checkpoint is unsigned: keep it where the database administrator cannot write."
)


@audit_app.command("verify")
def audit_verify(
    against: Path | None = typer.Option(
        None,
        "--against",
        dir_okay=False,
        help="A checkpoint written by `audit checkpoint`: detect truncation and rewrites.",
    ),
    key_file: Path | None = typer.Option(None, "--key-file", dir_okay=False, help=KEY_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    user: str | None = typer.Option(None, "--user", help=USER_HELP),
) -> None:
    """Check the hash chain and that every row equals its audited state; exit 1 on any problem.

    Prints the head (last entry and its hash): keep it, or a checkpoint, outside the database.
    """
    from immunoreset.registry.audit import checkpoint_key, read_checkpoint

    checkpoint = read_checkpoint(against, checkpoint_key(key_file)) if against is not None else None
    result = open_registry(db, user).verify_audit(against=checkpoint)
    if result.ok:
        typer.echo(
            f"audit trail intact: {result.entries} entries, {result.rows_checked} rows match; "
            f"head: entry {result.head_seq}, hash {result.head_hash}"
            + (f"; checkpoint at entry {checkpoint.seq} matches" if checkpoint is not None else "")
        )
        return
    for problem in result.problems:
        typer.echo(f"TAMPERED: {problem}", err=True)
    typer.echo(f"audit verification failed: {len(result.problems)} problem(s)", err=True)
    raise typer.Exit(1)


@audit_app.command("checkpoint")
def audit_checkpoint(
    out: Path = typer.Option(..., "--out", dir_okay=False, help="Checkpoint file to write (JSON)."),
    key_file: Path | None = typer.Option(None, "--key-file", dir_okay=False, help=KEY_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    user: str | None = typer.Option(None, "--user", help=USER_HELP),
) -> None:
    """Verify the audit trail, then write its head (entry, hash, count, time) to a file kept elsewhere.

    `audit verify --against FILE` later detects entries removed after the checkpoint and any rewrite of the
    entries it covers, even when every later hash and the head were recomputed.
    """
    from immunoreset.registry.audit import checkpoint_key, make_checkpoint, write_checkpoint
    from immunoreset.registry.engine import masked_url

    key = checkpoint_key(key_file)
    registry = open_registry(db, user)
    result = registry.verify_audit()
    if not result.ok:
        for problem in result.problems:
            typer.echo(f"TAMPERED: {problem}", err=True)
        typer.echo("no checkpoint written: the audit trail does not verify", err=True)
        raise typer.Exit(1)
    checkpoint = make_checkpoint(result.head_seq, result.head_hash, registry=masked_url(registry.engine.url), key=key)
    write_checkpoint(checkpoint, out)
    signed = "signed (HMAC-SHA256)" if checkpoint.signature else "unsigned"
    typer.echo(f"checkpoint {signed}: entry {checkpoint.seq}, hash {checkpoint.hash} → {out}")


@audit_app.command("log")
def audit_log(
    patient: str | None = typer.Option(None, "--patient", help="One patient's history (study code)."),
    study: str | None = typer.Option(None, "--study", help="Study code (default: the only one)."),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    user: str | None = typer.Option(None, "--user", help=USER_HELP),
) -> None:
    """Show who changed what and when (old → new)."""
    for entry in open_registry(db, user).audit_log(study=study, patient=patient):
        changes = entry.changes()
        shown = "; ".join(f"{k}: {old!r} → {new!r}" for k, (old, new) in changes.items() if k not in {"visit_id"})
        typer.echo(
            f"{entry.seq:>6} {entry.at:%Y-%m-%d %H:%M:%S} {entry.user:<12} {entry.action:<6} "
            f"{entry.table}#{entry.row_id} {entry.patient or ''} {shown}"
        )


@users_app.command("add")
def users_add(
    name: str = typer.Argument(..., help="User name (on PostgreSQL also the database login)."),
    role: str = typer.Option(..., "--role", help="admin, investigator, monitor or read-only."),
    site: list[str] = typer.Option([], "--site", help="Site code the user may see (repeat for several)."),
    study: str | None = typer.Option(None, "--study", help="Study the site codes belong to."),
    all_sites: bool = typer.Option(False, "--all-sites", help="Every site of every study (all-sites admins only)."),
    password: bool = typer.Option(
        False,
        "--password",
        help="PostgreSQL: set the login's password (asked for twice on a terminal, else read from stdin's first line).",
    ),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    user: str | None = typer.Option(None, "--user", help=USER_HELP),
) -> None:
    """Add or change a user (admin only; a site-limited admin within its own sites)."""
    secret: str | None = None
    if password:
        if sys.stdin.isatty():
            secret = typer.prompt(f"password for {name}", hide_input=True, confirmation_prompt=True)
        else:
            secret = sys.stdin.readline().rstrip("\r\n")
    login = open_registry(db, user).add_user(name, role, study=study, sites=site, all_sites=all_sites, password=secret)
    typer.echo(
        f"user {name}: {role}, sites: {'all' if all_sites else ', '.join(site) or 'none'}"
        + (f"; database login {login}" if login else "")
    )


@users_app.command("list")
def users_list(
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    user: str | None = typer.Option(None, "--user", help=USER_HELP),
) -> None:
    """List users, roles and sites (admin only)."""
    for row in open_registry(db, user).users():
        typer.echo(f"{row['name']:<16} {row['role']:<13} {row['sites']}")


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
    app.add_typer(import_app, name="import")
    app.add_typer(export_app, name="export")
    app.add_typer(audit_app, name="audit")
    app.add_typer(users_app, name="users")
    app.command("outcomes")(outcomes)
