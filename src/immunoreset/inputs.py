"""Reading untrusted input safely: text files, bounded numbers and JSON.

Everything a user hands the toolkit — a ``score`` file, a CSV or REDCap export, a design, a checkpoint —
passes through these few functions, so that any input at all ends in a result or in one
:class:`~immunoreset.errors.InvalidInput` line, never in a traceback or a hang:

* **Text files** (:func:`read_text_file`) must be UTF-8 (a byte-order mark is allowed) and contain no NUL
  byte; UTF-16, Latin-1 with non-ASCII letters, and binary files are refused by name.
* **Numbers** (:func:`bounded_decimal`, :func:`check_number`) must be finite, have at most
  :data:`MAX_DIGITS` significant digits and lie within ``10**MIN_EXPONENT <= |x| < 10**(MAX_EXPONENT + 1)``
  (or be 0). No clinical, kinetic or dosing quantity needs more (a dose of 10¹⁰ cells, a transgene copy
  number of 10⁷/µg, a titre of 1:10⁵); and the bounds are checked on the *text or the decimal*, before
  anything converts it: ``int(Decimal("1E999999999"))`` would run for hours and ``int()`` of a 5,000-digit
  string raises.
* **CSV** (:func:`check_csv`) must be well formed under the strict rules of the ``csv`` module (an
  unterminated quote is an error, not one giant last cell).
* **JSON** (:func:`load_json`) is parsed with exact decimals, bounded numbers, no ``NaN``/``Infinity``,
  and a nesting depth of at most :data:`MAX_DEPTH`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from immunoreset.errors import InvalidInput

__all__ = [
    "MAX_DEPTH",
    "MAX_DIGITS",
    "MAX_EXPONENT",
    "MIN_EXPONENT",
    "NUMBER_BOUNDS",
    "bounded_decimal",
    "check_csv",
    "check_number",
    "check_numbers_in",
    "load_json",
    "read_text_file",
]

MAX_DIGITS = 30
MAX_EXPONENT = 20
MIN_EXPONENT = -20
MAX_DEPTH = 32
NUMBER_BOUNDS = (
    f"a finite number of at most {MAX_DIGITS} digits, 0 or with magnitude from 1e{MIN_EXPONENT} to below "
    f"1e{MAX_EXPONENT + 1}"
)


def _within(number: Decimal) -> bool:
    if not number.is_finite():
        return False
    if number.is_zero():
        return True
    digits = number.as_tuple().digits
    significant = len(digits) - (len(digits) - len(bytes(digits).rstrip(b"\x00")))  # trailing zeros do not count
    return significant <= MAX_DIGITS and MIN_EXPONENT <= number.adjusted() <= MAX_EXPONENT


def bounded_decimal(text: str, field: str = "value", location: str | None = None) -> Decimal:
    """``text`` as an exact :class:`~decimal.Decimal` within the bounds (module docstring), else InvalidInput."""
    stripped = text.strip()
    if len(stripped) > MAX_DIGITS + 40:  # sign, point, exponent and some zeros: anything longer is not a number
        raise InvalidInput(field, stripped, NUMBER_BOUNDS, location=location)
    try:
        number = Decimal(stripped)
    except InvalidOperation:
        raise InvalidInput(field, stripped, "a number", location=location) from None
    if not _within(number):
        raise InvalidInput(field, stripped, NUMBER_BOUNDS, location=location)
    return number


def check_number(value: Any, field: str = "value") -> None:
    """Refuse an int, float or Decimal outside the bounds (bool passes: it is not a quantity)."""
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        # compare without converting a huge int to text (str() of > 4,300 digits raises)
        if value != 0 and not (abs(value) < 10 ** (MAX_EXPONENT + 1)):
            raise InvalidInput(field, "(a huge whole number)", NUMBER_BOUNDS)
        return
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise InvalidInput(field, value, NUMBER_BOUNDS)
        value = Decimal(repr(value))
    if isinstance(value, Decimal) and not _within(value):
        raise InvalidInput(field, value if len(str(value)) < 60 else "(a huge number)", NUMBER_BOUNDS)


def check_numbers_in(data: Any, field: str = "", depth: int = 0) -> None:
    """Walk nested mappings and lists: every number within bounds (numeric text too), nesting at most
    :data:`MAX_DEPTH` deep."""
    if depth > MAX_DEPTH:
        raise InvalidInput(field or "input", "(nested objects)", f"at most {MAX_DEPTH} levels of nesting")
    if isinstance(data, Mapping):
        for key, value in data.items():
            check_numbers_in(value, f"{field}.{key}" if field else str(key), depth + 1)
    elif isinstance(data, list | tuple):
        for index, value in enumerate(data):
            check_numbers_in(value, f"{field}[{index}]", depth + 1)
    elif isinstance(data, str):
        stripped = data.strip()
        if stripped[:1].isdigit() or stripped[:1] in "+-.":
            if len(stripped) > 200:  # no bounded number is this long; numeric-looking text this long is refused
                if not set(stripped) - set("0123456789+-.eE_ "):
                    raise InvalidInput(field or "value", stripped, NUMBER_BOUNDS)
                return
            try:
                number = Decimal(stripped)
            except InvalidOperation:
                return
            if not _within(number):
                raise InvalidInput(field or "value", stripped, NUMBER_BOUNDS)
    else:
        check_number(data, field or "value")


def _json_int(text: str) -> int:
    return int(bounded_decimal(text, "JSON number"))


def _json_float(text: str) -> Decimal:
    return bounded_decimal(text, "JSON number")


def _json_constant(name: str) -> Any:
    raise InvalidInput("JSON number", name, NUMBER_BOUNDS)


def load_json(text: str, source: str = "input") -> Any:
    """Parse JSON with exact, bounded decimals; a syntax error, NaN/Infinity or deep nesting is InvalidInput."""
    try:
        data = json.loads(text, parse_int=_json_int, parse_float=_json_float, parse_constant=_json_constant)
    except json.JSONDecodeError as err:
        raise InvalidInput("FILE", source, f"valid JSON ({err.msg} at line {err.lineno})") from None
    except RecursionError:
        raise InvalidInput("FILE", source, f"JSON nested at most {MAX_DEPTH} levels deep") from None
    except InvalidInput as err:
        raise err.with_location(source) from None
    if _depth_exceeds(data):
        raise InvalidInput("FILE", source, f"JSON nested at most {MAX_DEPTH} levels deep")
    return data


def _depth_exceeds(data: Any) -> bool:
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        if isinstance(item, Mapping):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return False


def read_text_file(path: Path | str, what: str = "FILE") -> str:
    """The text of a UTF-8 file (a BOM is dropped); a missing, unreadable, binary or non-UTF-8 file is one
    InvalidInput naming it."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise InvalidInput(what, str(path), "a file, not a folder") from None
    except OSError as exc:
        reason = "it does not exist" if isinstance(exc, FileNotFoundError) else exc.strerror or type(exc).__name__
        raise InvalidInput(what, str(path), f"a readable file ({reason})") from None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InvalidInput(what, str(path), "UTF-8 text (this file is UTF-16: save it as UTF-8)")
    if b"\x00" in data:
        raise InvalidInput(what, str(path), "a text file (it holds NUL bytes: binary, or UTF-16 without a BOM)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InvalidInput(
            what, str(path), f"UTF-8 text (byte {err.start} is not UTF-8; save the file as UTF-8)"
        ) from None


def check_csv(text: str, source: str = "FILE") -> None:
    """Refuse CSV text that is not well formed (unterminated quote, stray quote, NUL, a cell over 128 KiB)."""
    reader = csv.reader(io.StringIO(text), strict=True)
    try:
        for _row in reader:
            pass
    except csv.Error as err:
        raise InvalidInput("FILE", source, f"well-formed CSV ({err}; line {reader.line_num})") from None
