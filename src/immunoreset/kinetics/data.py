"""Tidy kinetics input: one row per (patient, study day, analyte).

Columns (CSV or Parquet):

=========  ==========================================================================
patient    patient identifier (text)
time       study day (day 0 = CAR-T infusion; may be negative or fractional)
value      the measurement; empty = missing; ``BLQ``/``<LLOQ``/``ND`` = below the limit of
           quantification; ``<x`` = below a limit of quantification x
unit       UCUM unit or a common alias (``/uL``, ``cells/µL``, ``copies/ug``, ``[IU]/mL``)
analyte    what was measured (e.g. ``cart_flow``, ``cart_qpcr``, ``cd19``, ``anti_dsdna``)
lloq       optional: limit of quantification in the row's unit
blq        optional: true/false (or 1/0) flag, alternative to a ``BLQ`` value
uln        optional: the laboratory's upper limit of normal (autoantibodies), in the row's unit
time_unit  optional: unit of ``time`` (``d`` default, ``h``); converted to days
=========  ==========================================================================

Values of one analyte are converted to one unit (the first one seen, or ``target_units``) with
:func:`immunoreset.units.convert`, exactly. Wrong input raises
:class:`~immunoreset.errors.InvalidInput` naming the file, row and column.
"""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pandas as pd

from immunoreset.errors import InvalidInput, Problem
from immunoreset.inputs import NUMBER_BOUNDS, check_number
from immunoreset.units import canonical_unit, convert

__all__ = ["REQUIRED_COLUMNS", "read_tidy", "tidy_frame"]

REQUIRED_COLUMNS = ("patient", "time", "value", "unit", "analyte")
_BLQ_WORDS = {"blq", "<lloq", "bloq", "nd", "not detected", "<lod", "bql", "undetectable"}
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f", ""}


def _dec(raw: Any, field: str, where: str, expected: str) -> Decimal | None:
    if raw is None or (isinstance(raw, float) and math.isnan(raw)):
        return None
    if isinstance(raw, Decimal):
        return raw
    if isinstance(raw, bool):
        raise InvalidInput(field, raw, expected, location=where)
    if isinstance(raw, int):
        check_number(raw, field)
        return Decimal(raw)
    if isinstance(raw, float):
        if math.isinf(raw):
            raise InvalidInput(field, raw, expected, location=where)
        check_number(raw, field)
        return Decimal(repr(raw))
    text = str(raw).strip()
    if text == "" or text.lower() in {"na", "nan"}:
        return None
    try:
        value = Decimal(text) if len(text) <= 200 else Decimal("NaN")
    except InvalidOperation:
        raise InvalidInput(field, raw, expected, location=where) from None
    if not value.is_finite():
        raise InvalidInput(field, raw, expected, location=where)
    try:
        check_number(value, field)  # within immunoreset.inputs' bounds (no 1E999999999 study day)
    except InvalidInput:
        raise InvalidInput(field, raw, f"{expected}: {NUMBER_BOUNDS}", location=where) from None
    return value


def tidy_frame(raw: pd.DataFrame, *, source: str = "input", target_units: dict[str, str] | None = None) -> pd.DataFrame:
    """Validate a tidy table and normalise it.

    Returns a DataFrame with columns ``patient`` (str), ``analyte`` (str), ``time`` (Decimal,
    days), ``value`` (Decimal or None), ``blq`` (bool), ``lloq`` (Decimal or None) and ``unit``
    (canonical UCUM, one per analyte) and ``uln`` (Decimal or None), sorted by patient, analyte and time.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in raw.columns]
    if missing:
        raise InvalidInput(
            "columns", list(raw.columns), f"the columns {', '.join(REQUIRED_COLUMNS)} (missing: {', '.join(missing)})"
        )
    targets = {k: canonical_unit(v, field="target unit") for k, v in (target_units or {}).items()}
    rows: list[dict[str, Any]] = []
    problems: list[Problem] = []
    for index, rec in enumerate(raw.to_dict("records"), start=2 if source.endswith(".csv") else 1):
        where = f"{source} row {index}"
        try:
            rows.append(_row({str(k): v for k, v in rec.items()}, where, targets))
        except InvalidInput as err:
            problems.extend(err.problems)
            if len(problems) >= 20:
                break
    if problems:
        raise InvalidInput(problems=problems)
    frame = pd.DataFrame(rows, columns=["patient", "analyte", "time", "value", "blq", "lloq", "uln", "unit"])
    if frame.empty:
        raise InvalidInput("rows", 0, f"at least one data row in {source}")
    dup = frame.duplicated(subset=["patient", "analyte", "time"], keep=False)
    if dup.any():
        first = frame[dup].iloc[0]
        raise InvalidInput(
            "time",
            first["time"],
            f"one row per patient, analyte and study day (patient {first['patient']}, {first['analyte']} repeated)",
            location=source,
        )
    for column in ("value", "lloq", "uln"):
        frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    frame = _harmonise_units(frame)
    return frame.sort_values(["patient", "analyte", "time"], kind="stable").reset_index(drop=True)


def _row(rec: dict[str, Any], where: str, targets: dict[str, str]) -> dict[str, Any]:
    patient = rec.get("patient")
    if patient is None or (isinstance(patient, float) and math.isnan(patient)) or str(patient).strip() == "":
        raise InvalidInput("patient", patient, "a patient identifier", location=where)
    analyte = str(rec.get("analyte") or "").strip()
    if not analyte or analyte.lower() == "nan":
        raise InvalidInput("analyte", rec.get("analyte"), "an analyte name (e.g. cart_qpcr, cd19)", location=where)
    time = _dec(rec.get("time"), "time", where, "a study day (number; day 0 = infusion)")
    if time is None:
        raise InvalidInput("time", rec.get("time"), "a study day (number; day 0 = infusion)", location=where)
    time_unit = str(rec.get("time_unit") or "d").strip()
    if time_unit.lower() == "nan" or time_unit == "":
        time_unit = "d"
    if canonical_unit(time_unit, field="time_unit") != "d":
        time = convert(time, time_unit, "d", field="time")
    unit_raw = rec.get("unit")
    if unit_raw is None or (isinstance(unit_raw, float) and math.isnan(unit_raw)):
        raise InvalidInput("unit", unit_raw, "a UCUM unit such as /uL or {copies}/ug", location=where)
    try:
        unit = canonical_unit(str(unit_raw), field="unit")
    except InvalidInput as err:
        raise err.with_location(where) from None
    lloq = _dec(rec.get("lloq"), "lloq", where, "a number > 0 (limit of quantification) or empty")
    if lloq is not None and lloq <= 0:
        raise InvalidInput("lloq", lloq, "a limit of quantification > 0", location=where)
    uln = _dec(rec.get("uln"), "uln", where, "a number > 0 (upper limit of normal) or empty")
    if uln is not None and uln <= 0:
        raise InvalidInput("uln", uln, "an upper limit of normal > 0", location=where)
    blq_flag = rec.get("blq")
    blq = False
    if blq_flag is not None and not (isinstance(blq_flag, float) and math.isnan(blq_flag)):
        text = str(blq_flag).strip().lower()
        if text in _TRUE:
            blq = True
        elif text not in _FALSE:
            raise InvalidInput("blq", blq_flag, "true/false (or 1/0)", location=where)
    raw_value = rec.get("value")
    value: Decimal | None
    if isinstance(raw_value, str) and raw_value.strip().lower() in _BLQ_WORDS:
        blq, value = True, None
    elif isinstance(raw_value, str) and raw_value.strip().startswith("<"):
        limit = _dec(raw_value.strip()[1:], "value", where, "a number, empty, BLQ or <limit")
        if limit is None or limit <= 0:
            raise InvalidInput("value", raw_value, "a number, empty, BLQ or <limit with a limit > 0", location=where)
        blq, value, lloq = True, None, limit
    else:
        value = _dec(raw_value, "value", where, "a number, empty (missing), BLQ or <limit")
        if value is not None and value < 0:
            raise InvalidInput("value", raw_value, "a measurement ≥ 0", location=where)
        if value is not None and lloq is not None and value < lloq:
            blq = True  # reported below the stated LLOQ: censored, value kept only for reference
    if blq:
        value = None
    target = targets.get(analyte)
    if target is not None and target != unit:
        value = None if value is None else convert(value, unit, target, field="value")
        lloq = None if lloq is None else convert(lloq, unit, target, field="lloq")
        uln = None if uln is None else convert(uln, unit, target, field="uln")
        unit = target
    return {
        "patient": str(patient).strip(),
        "analyte": analyte,
        "time": time,
        "value": value,
        "blq": blq,
        "lloq": lloq,
        "uln": uln,
        "unit": unit,
    }


def _harmonise_units(frame: pd.DataFrame) -> pd.DataFrame:
    """Convert every analyte to the first unit seen for it (exact decimal conversion)."""
    out = frame.copy()
    for analyte, group in frame.groupby("analyte", sort=False):
        target = str(group["unit"].iloc[0])
        other = group.index[group["unit"] != target]
        for i in other:
            src = str(out.at[i, "unit"])
            v: Any = out.at[i, "value"]
            lq: Any = out.at[i, "lloq"]
            un: Any = out.at[i, "uln"]
            new_v: Any = None if v is None else convert(v, src, target, field=f"value ({analyte})")
            new_lq: Any = None if lq is None else convert(lq, src, target, field=f"lloq ({analyte})")
            new_un: Any = None if un is None else convert(un, src, target, field=f"uln ({analyte})")
            out.at[i, "value"] = new_v
            out.at[i, "lloq"] = new_lq
            out.at[i, "uln"] = new_un
            out.at[i, "unit"] = target
    return out


def read_tidy(path: str | Path, *, target_units: dict[str, str] | None = None) -> pd.DataFrame:
    """Read a tidy CSV or Parquet file (see module doc) and return :func:`tidy_frame` output."""
    p = Path(path)
    if not p.is_file():
        raise InvalidInput("FILE", str(path), "an existing CSV or Parquet file")
    suffix = p.suffix.lower()
    if suffix == ".parquet" or suffix == ".pq":
        try:
            raw = pd.read_parquet(p)
        except Exception as err:  # pyarrow raises many types
            raise InvalidInput("FILE", str(path), f"a readable Parquet file ({type(err).__name__})") from None
    elif suffix in {".csv", ".txt", ".tsv"}:
        try:
            raw = pd.read_csv(p, dtype=str, keep_default_na=False, sep="\t" if suffix == ".tsv" else ",")
        except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as err:
            raise InvalidInput("FILE", str(path), f"a readable CSV file ({type(err).__name__})") from None
    else:
        raise InvalidInput("FILE", str(path), "a .csv, .tsv or .parquet file")
    raw.columns = [str(c).strip().lower() for c in raw.columns]
    source = p.name
    return tidy_frame(raw, source=source, target_units=target_units)
