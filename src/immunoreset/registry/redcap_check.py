"""Check a REDCap project's files against REDCap's data-dictionary rules before anyone uploads them.

:func:`check_dictionary` checks a data dictionary (CSV text) on its own; :func:`check_project` checks a
folder written by ``immunoreset redcap template`` (dictionary, events, instrument–event mapping,
repeating instruments and the mapping YAML) as a whole. Both return every problem found (an empty list
when the files are fine); ``immunoreset redcap check DIR`` prints them and exits 2 when there are any.

The rules are REDCap's own (as its Data Dictionary upload enforces them or warns):

* the header has REDCap's 18 columns in order (download or API spelling);
* the first field is the record ID; variable names are lower-case letters, digits and underscores,
  start with a letter, do not end with an underscore, do not contain ``___`` (REDCap's checkbox column
  separator), are at most 26 characters (REDCap warns above 26: longer names are cut by statistics
  packages) and unique; reserved names (``redcap_event_name`` …, ``<form>_complete``) are not used;
* form names are lower-case letters, digits and underscores, and a form's fields are contiguous;
* field types are REDCap's (``text``, ``notes``, ``dropdown``, ``radio``, ``checkbox``, ``yesno``,
  ``truefalse``, ``calc``, ``file``, ``slider``, ``descriptive``, ``sql``);
* coded fields have choices written ``code, label | code, label``, codes unique and made of letters,
  digits and underscores (a minus sign before digits allowed except for checkboxes), labels not empty;
  yes/no and true/false fields have none; calculated fields have an equation;
* text validation is one of REDCap's types and only on text fields; minimum and maximum are valid for
  the type and minimum <= maximum;
* ``Required Field?``, ``Identifier?`` and ``Matrix Ranking?`` are empty or ``y``; custom alignment is
  empty or one of ``LV``, ``LH``, ``RV``, ``RH``;
* branching logic parses as REDCap logic (``[field] = 'value'``, ``[event][field]``, checkbox options
  ``[field(code)]``, ``and``/``or``, parentheses, comparisons ``= == <> != < <= > >=``, numbers, quoted
  strings, arithmetic and function calls) and names fields (and checkbox options and events) that exist.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from immunoreset.errors import InvalidInput, Problem
from immunoreset.inputs import check_csv, read_text_file
from immunoreset.registry.redcap import DICTIONARY_HEADERS

__all__ = ["FIELD_TYPES", "VALIDATION_TYPES", "check_dictionary", "check_project", "parse_logic"]

FIELD_TYPES = frozenset(
    {"text", "notes", "dropdown", "radio", "checkbox", "yesno", "truefalse", "calc", "file", "slider", "descriptive",
     "sql"}
)  # fmt: skip
NUMBER_TYPES = frozenset(
    {"number", "number_1dp", "number_2dp", "number_3dp", "number_4dp", "number_comma_decimal",
     "number_1dp_comma_decimal", "number_2dp_comma_decimal", "number_3dp_comma_decimal", "number_4dp_comma_decimal"}
)  # fmt: skip
DATE_TYPES = frozenset({"date_ymd", "date_mdy", "date_dmy"})
DATETIME_TYPES = frozenset(
    {"datetime_ymd", "datetime_mdy", "datetime_dmy", "datetime_seconds_ymd", "datetime_seconds_mdy",
     "datetime_seconds_dmy"}
)  # fmt: skip
VALIDATION_TYPES = frozenset(
    {"integer", "time", "time_mm_ss", "time_hh_mm_ss", "email", "phone", "phone_australia", "postalcode_australia",
     "postalcode_canada", "postalcode_french", "postalcode_germany", "zipcode", "ssn", "alpha_only", "mrn_10d",
     "mrn_generic", "vmrn", "signature"} | NUMBER_TYPES | DATE_TYPES | DATETIME_TYPES
)  # fmt: skip
"""REDCap's built-in text validation types."""

RESERVED = frozenset(
    {"redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance", "redcap_data_access_group",
     "redcap_survey_identifier", "redcap_csrf_token"}
)  # fmt: skip
MAX_NAME = 26
CODED = frozenset({"dropdown", "radio", "checkbox"})
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_CODE = re.compile(r"^-?[0-9]+$|^[A-Za-z0-9_]+$")
_CHECKBOX_CODE = re.compile(r"^[A-Za-z0-9_]+$")


@dataclass(frozen=True)
class _Field:
    row: int
    name: str
    form: str
    type: str
    choices: dict[str, str]
    validation: str
    minimum: str
    maximum: str
    branching: str
    cells: tuple[str, ...]


# --------------------------------------------------------------------------------------------------
# Branching logic


@dataclass(frozen=True)
class LogicReference:
    """A variable named in a logic expression: ``[event][field(code)][instance]``."""

    field: str
    event: str | None = None
    option: str | None = None


_TOKEN = re.compile(
    r"""\s*(?:
    (?P<var>\[[^\[\]]*\])
    |(?P<num>\d+(?:\.\d+)?)
    |(?P<str>'[^']*'|"[^"]*")
    |(?P<op><>|!=|<=|>=|==|=|<|>|\+|-|\*|/|\^)
    |(?P<paren>[(),])
    |(?P<word>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)
_COMPARISON = {"=", "==", "<>", "!=", "<", "<=", ">", ">="}
_ARITHMETIC = {"+", "-", "*", "/", "^"}


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if not text[pos:].strip():
            break
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise ValueError(f"unexpected {text[pos:].strip()[:12]!r}")
        kind = match.lastgroup
        assert kind is not None
        value = match.group(kind)
        if kind == "word" and value.lower() in ("and", "or"):
            kind = "bool"
            value = value.lower()
        out.append((kind, value))
        pos = match.end()
    return out


class _LogicParser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.i = 0
        self.refs: list[LogicReference] = []

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise ValueError("the expression ends too early")
        self.i += 1
        return token

    def expect(self, value: str) -> None:
        token = self.take()
        if token[1] != value:
            raise ValueError(f"expected {value!r}, found {token[1]!r}")

    def parse(self) -> list[LogicReference]:
        if not self.tokens:
            raise ValueError("an empty expression")
        self.boolean()
        if self.peek() is not None:
            raise ValueError(f"unexpected {self.peek()[1]!r}")  # type: ignore[index]
        return self.refs

    def boolean(self) -> None:
        self.comparison()
        while (token := self.peek()) is not None and token[0] == "bool":
            self.take()
            self.comparison()

    def comparison(self) -> None:
        self.arithmetic()
        token = self.peek()
        if token is not None and token[0] == "op" and token[1] in _COMPARISON:
            self.take()
            self.arithmetic()

    def arithmetic(self) -> None:
        self.operand()
        while (token := self.peek()) is not None and token[0] == "op" and token[1] in _ARITHMETIC:
            self.take()
            self.operand()

    def operand(self) -> None:
        kind, value = self.take()
        if kind == "op" and value == "-":
            self.operand()
        elif kind in ("num", "str"):
            return
        elif kind == "var":
            self.variable(value)
        elif kind == "paren" and value == "(":
            self.boolean()
            self.expect(")")
        elif kind == "word":
            self.expect("(")
            if (token := self.peek()) is not None and token[1] != ")":
                self.boolean()
                while (token := self.peek()) is not None and token[1] == ",":
                    self.take()
                    self.boolean()
            self.expect(")")
        else:
            raise ValueError(f"unexpected {value!r}")

    def variable(self, first: str) -> None:
        parts = [first[1:-1]]
        while (token := self.peek()) is not None and token[0] == "var":
            parts.append(self.take()[1][1:-1])
        if len(parts) > 3:
            raise ValueError(f"too many brackets at [{']['.join(parts)}]")
        # [field], [event][field], [field][instance], [event][field][instance]; smart variables such as
        # [event-name] or [first-event-name] stand for an event (or a value) and name no field
        smart = [bool(_SMART.fullmatch(p)) for p in parts]
        instance_at_end = len(parts) > 1 and (parts[-1].isdigit() or parts[-1].endswith("-instance"))
        names = parts[:-1] if instance_at_end else parts
        if len(names) == 1 and smart[0]:
            return
        if len(names) > 2:
            raise ValueError(f"[{']['.join(parts)}] is not [event][field][instance]")
        event = names[0] if len(names) == 2 else None
        target = names[-1]
        if event is not None and not smart[0] and not _EVENT.fullmatch(event):
            raise ValueError(f"[{event}] is not an event name")
        match = _FIELD_REF.fullmatch(target)
        if match is None:
            raise ValueError(f"[{target}] is not a field name")
        self.refs.append(LogicReference(match.group(1), None if event is None or smart[0] else event, match.group(2)))


_SMART = re.compile(r"[a-z]+(?:-[a-z0-9]+)+")
"""A REDCap smart variable such as ``event-name``, ``first-event-name``, ``previous-event-name``."""
_EVENT = re.compile(r"[a-z0-9][a-z0-9_]*")
_FIELD_REF = re.compile(r"([a-z][a-z0-9_]*)(?:\(([A-Za-z0-9_-]+)\))?(?::(?:checked|unchecked|value|label))?")
"""A field, optionally a checkbox option ``(code)`` and a modifier ``:checked``, ``:value`` ..."""


def parse_logic(text: str) -> list[LogicReference]:
    """Parse REDCap logic; returns the variables it names. Raises ValueError with what is wrong."""
    return _LogicParser(text).parse()


# --------------------------------------------------------------------------------------------------
# The dictionary


def _read(text: str, name: str, problems: list[Problem]) -> list[_Field]:
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = next(reader)
    except StopIteration:
        problems.append(Problem("header", "", "a REDCap data dictionary with a header row", name))
        return []
    except csv.Error as exc:
        problems.append(Problem("csv", "", f"well-formed CSV ({exc})", name))
        return []
    if len(header) != len(DICTIONARY_HEADERS):
        problems.append(
            Problem("header", len(header), f"{len(DICTIONARY_HEADERS)} columns (REDCap's layout)", f"{name} row 1")
        )
    for i, (download, api) in enumerate(DICTIONARY_HEADERS):
        got = header[i].strip().lower() if i < len(header) else ""
        if got not in (download, api):
            problems.append(Problem(f"column {i + 1}", got, f"'{download}' or '{api}'", f"{name} row 1"))
    if problems:
        return []
    fields: list[_Field] = []
    try:
        for row in reader:
            line = reader.line_num
            if not any(c.strip() for c in row):
                continue
            cells = tuple(c.strip() for c in (row + [""] * len(DICTIONARY_HEADERS))[: len(DICTIONARY_HEADERS)])
            if len(row) > len(DICTIONARY_HEADERS):
                problems.append(Problem("row", len(row), f"{len(DICTIONARY_HEADERS)} cells", f"{name} row {line}"))
            ftype = cells[3]
            choices: dict[str, str] = {}
            if ftype in CODED:
                choices = _choices(cells[5], cells[0], f"{name} row {line}", problems, checkbox=ftype == "checkbox")
            fields.append(
                _Field(line, cells[0], cells[1], ftype, choices, cells[7], cells[8], cells[9], cells[11], cells)
            )
    except csv.Error as exc:
        problems.append(Problem("csv", "", f"well-formed CSV ({exc})", f"{name} row {reader.line_num}"))
    return fields


def _choices(text: str, fname: str, where: str, problems: list[Problem], *, checkbox: bool) -> dict[str, str]:
    choices: dict[str, str] = {}
    if not text.strip():
        problems.append(Problem(fname, "", "choices 'code, label | code, label' for a coded field", where))
        return choices
    for part in text.split("|"):
        code, comma, label = part.partition(",")
        code, label = code.strip(), label.strip()
        pattern = _CHECKBOX_CODE if checkbox else _CODE
        if not comma or not code or not label:
            problems.append(Problem(fname, part.strip(), "a choice written 'code, label'", where))
        elif not pattern.match(code):
            what = "letters, digits and underscores" + ("" if checkbox else " (or a whole number)")
            problems.append(Problem(fname, code, f"a choice code of {what}", where))
        elif code in choices:
            problems.append(Problem(fname, code, "each choice code once", where))
        else:
            choices[code] = label
    return choices


def _bound(text: str, validation: str) -> Decimal | dt.date | dt.datetime | None:
    """A validation minimum/maximum as a comparable value; raises ValueError if it does not fit the type."""
    if validation == "integer":
        if not re.fullmatch(r"-?\d+", text):
            raise ValueError("a whole number")
        return Decimal(text)
    if validation in NUMBER_TYPES:
        try:
            value = Decimal(text.replace(",", ".") if "comma" in validation else text)
        except InvalidOperation:
            raise ValueError("a number") from None
        if not value.is_finite():
            raise ValueError("a finite number")
        return value
    if validation in DATE_TYPES:
        order = {"date_ymd": "%Y-%m-%d", "date_mdy": "%m-%d-%Y", "date_dmy": "%d-%m-%Y"}
        try:
            return dt.datetime.strptime(text, "%Y-%m-%d").date()  # REDCap stores bounds as Y-M-D
        except ValueError:
            try:
                return dt.datetime.strptime(text, order[validation]).date()
            except ValueError:
                raise ValueError("a date YYYY-MM-DD") from None
    if validation in DATETIME_TYPES:
        for fmt in ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"):
            try:
                return dt.datetime.strptime(text, fmt)
            except ValueError:
                pass
        raise ValueError("a date and time YYYY-MM-DD HH:MM")
    return None


def check_dictionary(
    text: str, *, name: str = "data_dictionary.csv", events: Iterable[str] | None = None
) -> list[Problem]:
    """Every problem of a data dictionary (CSV text) by REDCap's rules (module docstring).

    ``events`` (unique event names) are the events that ``[event][field]`` in branching logic may name;
    without them any event name is accepted.
    """
    problems: list[Problem] = []
    fields = _read(text, name, problems)
    if not fields:
        if not problems:
            problems.append(Problem("fields", "", "at least one field (the record ID)", name))
        return problems
    by_name: dict[str, _Field] = {}
    forms_seen: list[str] = []
    for f in fields:
        where = f"{name} row {f.row}"
        if not _NAME.match(f.name):
            problems.append(
                Problem(f.name or "field name", f.name, "lower-case letters, digits, _; a letter first", where)
            )
        elif f.name.endswith("_") or "___" in f.name:
            problems.append(Problem(f.name, f.name, "a name not ending in _ and without ___", where))
        if len(f.name) > MAX_NAME:
            problems.append(Problem(f.name, len(f.name), f"at most {MAX_NAME} characters", where))
        if f.name in by_name:
            problems.append(Problem(f.name, f.name, f"each variable once (first at row {by_name[f.name].row})", where))
        by_name.setdefault(f.name, f)
        if f.name in RESERVED:
            problems.append(Problem(f.name, f.name, "a name REDCap does not reserve", where))
        if not _NAME.match(f.form) or f.form.endswith("_"):
            problems.append(Problem(f"{f.name} form", f.form, "a form name of lower-case letters, digits, _", where))
        if not forms_seen or forms_seen[-1] != f.form:
            if f.form in forms_seen:
                problems.append(Problem(f"{f.name} form", f.form, "the fields of a form together (contiguous)", where))
            forms_seen.append(f.form)
        _check_cells(f, where, problems)
    first = fields[0]
    if first.type != "text":
        problems.append(Problem(first.name, first.type, "the record ID first: a text field", f"{name} row {first.row}"))
    for form in set(forms_seen):
        clash = by_name.get(f"{form}_complete")
        if clash is not None:
            problems.append(
                Problem(clash.name, clash.name, f"a name other than {form}_complete", f"{name} row {clash.row}")
            )
    known_events = set(events) if events is not None else None
    for f in fields:
        if f.branching:
            _check_logic(f, by_name, known_events, f"{name} row {f.row}", problems)
    return problems


def _check_cells(f: _Field, where: str, problems: list[Problem]) -> None:
    c = f.cells
    if f.type not in FIELD_TYPES:
        problems.append(
            Problem(f"{f.name} type", f.type, "a REDCap field type: " + ", ".join(sorted(FIELD_TYPES)), where)
        )
    if f.type in ("yesno", "truefalse") and c[5]:
        problems.append(Problem(f"{f.name} choices", c[5], f"no choices for a {f.type} field", where))
    if f.type == "calc" and not c[5]:
        problems.append(Problem(f"{f.name} choices", "", "the equation of a calculated field", where))
    if not c[4] and f.type != "descriptive":
        problems.append(Problem(f"{f.name} label", "", "a field label", where))
    if f.validation:
        if f.type == "slider":
            if f.validation != "number":
                problems.append(Problem(f"{f.name} validation", f.validation, "'number' or empty for a slider", where))
        elif f.type != "text":
            problems.append(Problem(f"{f.name} validation", f.validation, "validation only on text fields", where))
        elif f.validation not in VALIDATION_TYPES:
            problems.append(Problem(f"{f.name} validation", f.validation, "a REDCap validation type", where))
    bounds: list[Decimal | dt.date | dt.datetime | None] = []
    for label, text in (("minimum", f.minimum), ("maximum", f.maximum)):
        if not text:
            bounds.append(None)
            continue
        if f.type != "text" or not f.validation:
            problems.append(Problem(f"{f.name} {label}", text, "a bound only on a validated text field", where))
            bounds.append(None)
            continue
        try:
            bounds.append(_bound(text, f.validation))
        except ValueError as exc:
            problems.append(Problem(f"{f.name} {label}", text, f"{exc} ({f.validation})", where))
            bounds.append(None)
    low, high = bounds
    if low is not None and high is not None and type(low) is type(high) and low > high:  # type: ignore[operator]
        problems.append(Problem(f"{f.name} minimum", f.minimum, f"at most the maximum {f.maximum}", where))
    for index, label in ((10, "identifier"), (12, "required"), (16, "matrix ranking")):
        if c[index] not in ("", "y"):
            problems.append(Problem(f"{f.name} {label}", c[index], "'y' or empty", where))
    if c[13] not in ("", "LV", "LH", "RV", "RH"):
        problems.append(Problem(f"{f.name} alignment", c[13], "empty, LV, LH, RV or RH", where))


def _check_logic(
    f: _Field, by_name: Mapping[str, _Field], events: set[str] | None, where: str, problems: list[Problem]
) -> None:
    try:
        refs = parse_logic(f.branching)
    except ValueError as exc:
        problems.append(Problem(f"{f.name} branching logic", f.branching, f"REDCap logic that parses ({exc})", where))
        return
    for ref in refs:
        target = by_name.get(ref.field)
        if target is None:
            problems.append(Problem(f"{f.name} branching logic", ref.field, "a field of the dictionary", where))
            continue
        if target.name == f.name:
            problems.append(Problem(f"{f.name} branching logic", ref.field, "another field (not itself)", where))
        if ref.option is not None:
            if target.type != "checkbox":
                problems.append(
                    Problem(
                        f"{f.name} branching logic", f"{ref.field}({ref.option})", "(code) only on a checkbox", where
                    )
                )
            elif ref.option not in target.choices:
                problems.append(
                    Problem(
                        f"{f.name} branching logic", f"{ref.field}({ref.option})", "a choice of the checkbox", where
                    )
                )
        if ref.event is not None and events is not None and ref.event not in events:
            problems.append(Problem(f"{f.name} branching logic", ref.event, "an event of the project", where))


# --------------------------------------------------------------------------------------------------
# A whole project folder


def _table(path: Path, columns: Sequence[str], problems: list[Problem]) -> list[dict[str, str]]:
    if not path.is_file():
        problems.append(Problem(path.name, str(path), "a file of the project (missing)"))
        return []
    text = read_text_file(path, path.name)
    check_csv(text, path.name)
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in columns if c not in (reader.fieldnames or [])]
    if missing:
        problems.append(Problem(path.name, ", ".join(missing), "columns " + ", ".join(columns), f"{path.name} row 1"))
        return []
    return [{k: (v or "").strip() for k, v in row.items() if k is not None} for row in reader]


def check_project(folder: Path) -> list[Problem]:
    """Every problem of a project folder: the dictionary's own rules, events (unique names as REDCap makes
    them), the instrument–event mapping, the repeating instruments, and the mapping YAML against them."""
    from immunoreset.registry.redcap import load_mapping, read_dictionary
    from immunoreset.registry.redcap_template import unique_event_name

    if not folder.is_dir():
        raise InvalidInput("project folder", str(folder), "an existing folder (immunoreset redcap template --out)")
    problems: list[Problem] = []
    dictionary = folder / "data_dictionary.csv"
    events = _table(folder / "events.csv", ("event_name", "arm_num", "unique_event_name"), problems)
    arms = {r["arm_num"] for r in _table(folder / "arms.csv", ("arm_num", "name"), problems)}
    event_names: list[str] = []
    for k, row in enumerate(events, start=2):
        where = f"events.csv row {k}"
        expected = unique_event_name(row["event_name"], int(row["arm_num"]) if row["arm_num"].isdigit() else 1)
        if row["unique_event_name"] != expected:
            problems.append(Problem("unique_event_name", row["unique_event_name"], f"{expected} (REDCap's)", where))
        if row["arm_num"] not in arms:
            problems.append(Problem("arm_num", row["arm_num"], "an arm of arms.csv", where))
        if row["unique_event_name"] in event_names:
            problems.append(Problem("unique_event_name", row["unique_event_name"], "each event once", where))
        event_names.append(row["unique_event_name"])
    if not dictionary.is_file():
        problems.append(Problem("data_dictionary.csv", str(dictionary), "a file of the project (missing)"))
        return problems
    text = read_text_file(dictionary, dictionary.name)
    check_csv(text, dictionary.name)
    problems += check_dictionary(text, events=event_names or None)
    forms = {row[1] for row in list(csv.reader(io.StringIO(text)))[1:] if len(row) > 1}
    mapped = _table(folder / "instrument_event_mapping.csv", ("arm_num", "unique_event_name", "form"), problems)
    pairs = set()
    for k, row in enumerate(mapped, start=2):
        where = f"instrument_event_mapping.csv row {k}"
        if row["unique_event_name"] not in event_names:
            problems.append(Problem("unique_event_name", row["unique_event_name"], "an event of events.csv", where))
        if row["form"] not in forms:
            problems.append(Problem("form", row["form"], "a form of the data dictionary", where))
        pairs.add((row["unique_event_name"], row["form"]))
    fields = {f.name: f for f in _read(text, "data_dictionary.csv", [])}
    for f in fields.values():
        if not f.branching:
            continue
        try:
            refs = parse_logic(f.branching)
        except ValueError:
            continue  # reported by check_dictionary
        for ref in refs:
            target = fields.get(ref.field)
            if ref.event is not None and target is not None and pairs and (ref.event, target.form) not in pairs:
                problems.append(
                    Problem(
                        f"{f.name} branching logic",
                        f"[{ref.event}][{ref.field}]",
                        f"a field of a form designated for event {ref.event} ({target.form} is not)",
                        f"data_dictionary.csv row {f.row}",
                    )
                )
    for form in sorted(forms - {f for _e, f in pairs}):
        problems.append(
            Problem("form", form, "a form designated for at least one event", "instrument_event_mapping.csv")
        )
    repeating = _table(folder / "repeating_instruments.csv", ("event_name", "form_name"), problems)
    repeating_forms = set()
    for k, row in enumerate(repeating, start=2):
        if (row["event_name"], row["form_name"]) not in pairs:
            problems.append(
                Problem("form_name", f"{row['event_name']} / {row['form_name']}", "a form designated for that event",
                        f"repeating_instruments.csv row {k}")
            )  # fmt: skip
        repeating_forms.add(row["form_name"])
    mapping_path = folder / "mapping.yaml"
    if not mapping_path.is_file():
        problems.append(Problem("mapping.yaml", str(mapping_path), "a file of the project (missing)"))
        return problems
    if any(p.location and p.location.startswith("data_dictionary.csv") for p in problems):
        return problems  # the mapping is checked against a dictionary that reads
    try:
        mapping = load_mapping(mapping_path, read_dictionary(dictionary))
    except InvalidInput as err:
        return problems + list(err.problems)
    for event in mapping.visits.events:
        if event_names and event not in event_names:
            problems.append(Problem("visits.events", event, "an event of events.csv", "mapping.yaml"))
    for inst in [*mapping.visit_instruments(), *mapping.repeat_maps()]:
        if inst not in repeating_forms:
            problems.append(Problem(inst, inst, "a repeating instrument (repeating_instruments.csv)", "mapping.yaml"))
    return problems
