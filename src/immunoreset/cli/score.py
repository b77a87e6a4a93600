"""``immunoreset score``: score assessments with any registered instrument.

Contract (the same for every instrument):

* ``immunoreset score --list`` lists the instruments with a one-line description and source.
* ``immunoreset score NAME FILE`` reads a JSON object, a JSON list of objects, or a CSV file with
  one row per assessment (``-`` reads standard input) and prints one JSON result per input, in
  order, as a JSON list. ``--format table`` prints a readable table instead.
* ``immunoreset score NAME --schema`` prints the input JSON Schema.
* ``--option key=value`` (repeatable) sets an instrument option.

CSV conventions: a header row names the input fields; dotted names (``previous_sledai2k.rash``)
build nested objects; an empty cell means "not recorded"; a cell holding a JSON list or object
(``["fever"]``) is read as JSON.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from immunoreset import instruments
from immunoreset.errors import InvalidInput, Problem
from immunoreset.inputs import load_json, read_text_file
from immunoreset.instruments.base import Instrument, InstrumentResult

__all__ = ["read_assessments", "register", "results_table", "score_many"]


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        parts = key.split(".")
        target = nested
        for part in parts[:-1]:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise InvalidInput(key, value, f"'{part}' to be a nested object, not a value")
        target[parts[-1]] = value
    return nested


def _cell(text: str, field: str) -> Any:
    stripped = text.strip()
    if stripped[:1] in "[{":
        try:
            return load_json(stripped, field)
        except InvalidInput as err:
            if err.field == "FILE" and "valid JSON" in err.expected:
                return stripped  # not JSON after all: the text itself
            raise
    return stripped


def read_assessments(source: str, text: str | None = None) -> list[dict[str, Any]]:
    """Read assessments from a JSON object/list or a CSV file (``-`` = standard input).

    Returns one mapping per assessment. Malformed files raise :class:`InvalidInput`.
    """
    if text is None:
        if source == "-":
            text = sys.stdin.read()
        else:
            text = read_text_file(source, "FILE")
    stripped = text.lstrip()
    is_json = stripped[:1] in "[{" or source.lower().endswith(".json")
    if is_json:
        data = load_json(text, source)
        if isinstance(data, dict):
            return [data]
        if isinstance(data, list) and data and all(isinstance(item, dict) for item in data):
            return data
        raise InvalidInput("FILE", source, "a JSON object or a non-empty JSON list of objects")
    if "\x00" in text:
        raise InvalidInput("FILE", source, "a text file (it holds NUL characters)")
    try:
        rows = list(csv.reader(io.StringIO(text), strict=True))
    except csv.Error as err:
        raise InvalidInput("FILE", source, f"a well-formed CSV file ({err})") from None
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise InvalidInput("FILE", source, "a CSV file with a header row naming the input fields")
    header = [name.strip() for name in rows[0]]
    if len(set(header)) != len(header):
        raise InvalidInput("FILE", source, "a CSV header that names each input field once")
    assessments: list[dict[str, Any]] = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise InvalidInput("FILE", source, f"every CSV row to have {len(header)} cells (row {line} has {len(row)})")
        assessments.append(_nest({k: _cell(v, k) for k, v in zip(header, row, strict=True) if v.strip() != ""}))
    if not assessments:
        raise InvalidInput("FILE", source, "a CSV file with at least one assessment row below the header")
    return assessments


def _parse_options(pairs: list[str]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidInput("--option", pair, "key=value")
        try:
            options[key.strip()] = load_json(value, "--option")
        except InvalidInput as err:
            if err.field != "FILE" or "valid JSON" not in err.expected:
                raise
            options[key.strip()] = value
    return options


def score_many(
    instrument: Instrument[Any, Any, Any],
    assessments: list[dict[str, Any]],
    options: dict[str, Any] | None = None,
    *,
    label: str = "item",
) -> list[InstrumentResult]:
    """Score every assessment; if any is invalid, raise one InvalidInput listing all problems."""
    results: list[InstrumentResult] = []
    problems: list[Problem] = []
    for index, assessment in enumerate(assessments, start=1):
        try:
            results.append(instrument.score(assessment, options))
        except InvalidInput as err:
            problems.extend(err.with_location(f"{label} {index}").problems)
    if problems:
        raise InvalidInput(problems=problems)
    return results


def _show(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "—"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_show(v)}" for k, v in value.items()) or "—"
    return str(value)


def results_table(results: list[InstrumentResult], title: str | None = None) -> Table:
    """A readable table: one row per assessment with its headline, the fields the result model
    lists in ``TABLE_FIELDS``, and the reason when it is not evaluable."""
    extra: list[str] = []
    for result in results:
        extra.extend(n for n in getattr(type(result), "TABLE_FIELDS", ()) if n not in extra)
    table = Table(title=title)
    table.add_column("#", justify="right")
    table.add_column("result")
    for name in extra:
        table.add_column(name.replace("_", " "), overflow="fold")
    table.add_column("reason", overflow="fold")
    for index, result in enumerate(results, start=1):
        cells = [_show(getattr(result, name, None)) for name in extra]
        table.add_row(str(index), result.headline(), *cells, result.reason or "")
    return table


def register(app: typer.Typer) -> None:
    """Add the ``score`` command to ``app``."""

    @app.command("score")
    def score(
        instrument: str = typer.Argument(None, help="Instrument name (see --list)."),
        file: str = typer.Argument(None, help="JSON or CSV file of assessments; - for standard input."),
        list_: bool = typer.Option(False, "--list", help="List the instruments and exit."),
        schema: bool = typer.Option(False, "--schema", help="Print the instrument's input JSON Schema."),
        output_format: str = typer.Option("json", "--format", help="json (default) or table."),
        option: list[str] = typer.Option([], "--option", "-o", help="Instrument option key=value (repeatable)."),
    ) -> None:
        """Score assessments with a clinical instrument."""
        console = Console(width=max(Console().width, 140))
        if list_:
            table = Table(title="immunoreset instruments")
            for column in ("name", "instrument", "description", "source"):
                table.add_column(column, overflow="fold")
            for item in instruments.all_instruments():
                table.add_row(item.name, item.title, item.description, item.source)
            console.print(table)
            return
        if instrument is None:
            raise InvalidInput("INSTRUMENT", instrument, "an instrument name (see immunoreset score --list)")
        chosen = instruments.get(instrument)
        if schema:
            typer.echo(json.dumps(chosen.input_schema(), indent=2))
            return
        if output_format not in ("json", "table"):
            raise InvalidInput("--format", output_format, "json or table")
        if file is None:
            raise InvalidInput("FILE", file, "a JSON or CSV file of assessments, or - for standard input")
        assessments = read_assessments(file)
        label = "row" if file != "-" and not file.lower().endswith(".json") and assessments else "item"
        results = score_many(chosen, assessments, _parse_options(option), label=label)
        if output_format == "table":
            console.print(results_table(results, title=chosen.title))
        else:
            typer.echo(json.dumps([r.model_dump(mode="json") for r in results], indent=2, ensure_ascii=False))
