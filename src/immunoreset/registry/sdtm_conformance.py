"""Conformance checks of an SDTM package, run offline (no validator download, no network).

:func:`sdtm_conformance` reads the datasets of :func:`immunoreset.registry.sdtm.sdtm_domains` (or any
DataFrames with the same variables) and returns every finding. It checks what a reviewer's validator
checks first, by SDTMIG 3.4 and the FDA technical-rejection criteria:

* **structure** -- every variable of :data:`~immunoreset.registry.sdtm.DOMAIN_VARIABLES` present, in order,
  and required (``Req``) variables populated on every row; TS, DM and the trial-design datasets present;
* **keys** -- one DM row per subject, ``--SEQ`` unique per subject, and the natural keys of the trial-design
  datasets (TSPARMCD/TSSEQ, ETCD, ARMCD/TAETORD, VISITNUM, IETESTCD) and of SV (subject, VISITNUM) unique;
* **controlled terminology** -- SEX, RACE, ETHNIC, COUNTRY (ISO 3166-1 alpha-3), AGEU, EPOCH, the Y/N flags,
  AEACN, DSDECOD/DSCAT, TSVALNF and every unit variable against :data:`~immunoreset.registry.vocabulary.
  CDISC_UNITS`;
* **timing** -- every ``--DTC`` ISO 8601 (a date or a date and time, and a real calendar date), and every
  ``--DY`` equal to the day
  computed from its ``--DTC`` and DM.RFSTDTC (no day 0);
* **cross-dataset** -- every subject in DM, DM.ARMCD in TA, every EPOCH in TA, each SE element with the
  order and epoch TA gives it in the subject's arm, RFXSTDTC the first EXSTDTC, the TS parameters FDA
  requires present (SSTDTC among them), a serious adverse event with at least one seriousness criterion; and,
  as warnings, an exposure without route or dose form and an empty TV or TI.

Each finding is ``error`` (the package would be rejected or is wrong) or ``warning`` (a value to review, e.g.
a unit outside the table or an expected value not collected).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeAlias

import pandas as pd

from immunoreset.registry.records import ACTIONS_TAKEN, DISPOSITIONS, ETHNICITIES, RACES
from immunoreset.registry.sdtm import DOMAIN_VARIABLES, TRIAL_DESIGN_DOMAINS
from immunoreset.registry.vocabulary import CDISC_UNITS

__all__ = ["REQUIRED_TS_PARAMETERS", "ConformanceFinding", "read_conformance", "sdtm_conformance", "write_conformance"]

REQUIRED_TS_PARAMETERS: tuple[str, ...] = (
    "TITLE",
    "TPHASE",
    "SPONSOR",
    "INDIC",
    "TRT",
    "STYPE",
    "PLANSUB",
    "SSTDTC",
    "SDTMVER",
    "SDTIGVER",
)
"""TS parameters checked for presence (a value or a null flavour): the FDA Study Data Technical Conformance
Guide lists SSTDTC as a technical-rejection criterion and these others as expected in every study."""

Severity = Literal["error", "warning"]
_Add: TypeAlias = Callable[[Severity, str, str, "int | None", str], None]

_EPOCHS = frozenset({"SCREENING", "TREATMENT", "FOLLOW-UP"})
_NULL_FLAVOURS = frozenset({"NI", "INV", "OTH", "PINF", "NINF", "UNC", "DER", "UNK", "ASKU", "NAV", "NASK", "NA"})
CONTROLLED_TERMINOLOGY: dict[str, frozenset[str]] = {
    "SEX": frozenset({"F", "M", "U", "UNDIFFERENTIATED"}),
    "RACE": frozenset(RACES),
    "ETHNIC": frozenset(ETHNICITIES),
    "AGEU": frozenset({"YEARS", "MONTHS", "WEEKS", "DAYS"}),
    "EPOCH": _EPOCHS,
    "AEACN": frozenset(ACTIONS_TAKEN),
    "DSDECOD": frozenset({*DISPOSITIONS, "INFORMED CONSENT OBTAINED"}),
    "DSCAT": frozenset({"PROTOCOL MILESTONE", "DISPOSITION EVENT", "OTHER EVENT"}),
    "TSVALNF": _NULL_FLAVOURS,
    "IECAT": frozenset({"INCLUSION", "EXCLUSION"}),
}
_YES_NO = frozenset({"Y", "N"})
_FLAG_ONLY_Y = ("DTHFL", "LOBXFL")
_UNITS = frozenset(CDISC_UNITS.values())
_ISO8601 = re.compile(r"^\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?)?)?$")


@dataclass(frozen=True)
class ConformanceFinding:
    """One problem of an SDTM package: where it is and what a conformant package would hold."""

    severity: Severity
    domain: str
    variable: str
    row: int | None
    """1-based row of the dataset; None for a dataset-level finding."""
    message: str

    def __str__(self) -> str:
        where = f"{self.domain}.{self.variable}" + (f" row {self.row}" if self.row is not None else "")
        return f"{self.severity}: {where}: {self.message}"


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value == ""


def _iso8601(text: str) -> bool:
    """An ISO 8601 date or date-time of SDTM's forms, and a real calendar date (2024-02-30 is not)."""
    if not _ISO8601.match(text):
        return False
    if len(text) >= 10:
        try:
            dt.date.fromisoformat(text[:10])
        except ValueError:
            return False
    return True


def _sdtm_day(date: str, reference: str) -> int | None:
    try:
        days = (dt.date.fromisoformat(date[:10]) - dt.date.fromisoformat(reference[:10])).days
    except ValueError:
        return None
    return days + 1 if days >= 0 else days


def sdtm_conformance(frames: Mapping[str, pd.DataFrame]) -> list[ConformanceFinding]:
    """Every conformance finding of the SDTM datasets ``frames`` (``{"DM": ..., ...}``); empty when clean."""
    found: list[ConformanceFinding] = []

    def add(severity: Severity, domain: str, variable: str, row: int | None, text: str) -> None:
        found.append(ConformanceFinding(severity, domain, variable, row, text))

    for domain in (*TRIAL_DESIGN_DOMAINS, "DM"):
        if domain not in frames:
            add("error", domain, "", None, "dataset missing (SDTMIG: every study has trial-design datasets and DM)")
    for domain, frame in frames.items():
        _structure(domain, frame, add)
        _terminology(domain, frame, add)
        _keys(domain, frame, add)
    _timing(frames, add)
    _cross_dataset(frames, add)
    return found


def _structure(domain: str, frame: pd.DataFrame, add: _Add) -> None:
    variables = DOMAIN_VARIABLES.get(domain)
    if variables is None:
        add("error", domain, "", None, "not a dataset of SDTMIG 3.4 known to immunoreset")
        return
    expected = [v.name for v in variables]
    if list(frame.columns) != expected:
        missing = [n for n in expected if n not in frame.columns]
        extra = [str(c) for c in frame.columns if c not in expected]
        add("error", domain, ",".join(missing + extra), None, f"variables missing {missing} or unknown {extra}")
        return
    for var in variables:
        if var.core != "Req":
            continue
        if domain == "TS" and var.name == "TSVAL":
            continue
        for index, value in enumerate(frame[var.name], start=1):
            if _blank(value):
                add("error", domain, var.name, index, "required variable is null")
    if domain == "TS":
        for index, (value, flavour) in enumerate(zip(frame["TSVAL"], frame["TSVALNF"], strict=True), start=1):
            if _blank(value) == _blank(flavour):
                add("error", "TS", "TSVAL", index, "exactly one of TSVAL and TSVALNF (a null flavour)")


def _terminology(domain: str, frame: pd.DataFrame, add: _Add) -> None:
    for column in frame.columns:
        name = str(column)
        short = name[len(domain) :] if name.startswith(domain) and len(name) > len(domain) else name
        allowed = CONTROLLED_TERMINOLOGY.get(name) or CONTROLLED_TERMINOLOGY.get(short)
        values = list(frame[name])
        if name == "COUNTRY":
            import pycountry

            for index, value in enumerate(values, start=1):
                if not _blank(value) and pycountry.countries.get(alpha_3=str(value)) is None:
                    add("error", domain, name, index, f"{value!r} is not an ISO 3166-1 alpha-3 code")
            continue
        if allowed is not None:
            for index, value in enumerate(values, start=1):
                if not _blank(value) and value not in allowed:
                    add("error", domain, name, index, f"{value!r} is not a term of its codelist")
        elif short.endswith("FL") or name in ("AESER",) or re.fullmatch(r"AES(CONG|DISAB|DTH|HOSP|LIFE|MIE)", name):
            allowed_flags = {"Y"} if short in _FLAG_ONLY_Y or name in _FLAG_ONLY_Y else _YES_NO
            for index, value in enumerate(values, start=1):
                if not _blank(value) and value not in allowed_flags:
                    add("error", domain, name, index, f"{value!r}: expected {' or '.join(sorted(allowed_flags))}")
        elif name.endswith(("ORRESU", "STRESU", "DOSU")):
            for index, value in enumerate(values, start=1):
                if not _blank(value) and value not in _UNITS and value not in ("10^6 cells/kg", "10^6 cells"):
                    add("warning", domain, name, index, f"unit {value!r} is outside immunoreset's CDISC unit table")


_KEYS: dict[str, tuple[str, ...]] = {
    "TS": ("TSPARMCD", "TSSEQ"),
    "TE": ("ETCD",),
    "TA": ("ARMCD", "TAETORD"),
    "TV": ("VISITNUM", "ARMCD"),
    "TI": ("IETESTCD",),
    "DM": ("USUBJID",),
    "SV": ("USUBJID", "VISITNUM"),
}


def _keys(domain: str, frame: pd.DataFrame, add: _Add) -> None:
    keys = _KEYS.get(domain)
    if keys is None and f"{domain}SEQ" in frame.columns:
        keys = ("USUBJID", f"{domain}SEQ")
    if keys is None or not len(frame):
        return
    duplicated = frame.duplicated(subset=list(keys), keep="first")
    for index in frame.index[duplicated]:
        add("error", domain, "/".join(keys), int(index) + 1, "key repeated: " + ", ".join(map(str, keys)))


def _timing(frames: Mapping[str, pd.DataFrame], add: _Add) -> None:
    dm = frames.get("DM")
    reference = dict(zip(dm["USUBJID"], dm["RFSTDTC"], strict=True)) if dm is not None else {}
    for domain, frame in frames.items():
        for column in frame.columns:
            name = str(column)
            if not name.endswith("DTC"):
                continue
            for index, value in enumerate(frame[name], start=1):
                if not _blank(value) and not _iso8601(str(value)):
                    add("error", domain, name, index, f"{value!r} is not an ISO 8601 date (or date and time)")
            day_column = name[:-3] + "DY"
            if day_column not in frame.columns or "USUBJID" not in frame.columns:
                continue
            for index, (subject, date, day) in enumerate(
                zip(frame["USUBJID"], frame[name], frame[day_column], strict=True), start=1
            ):
                start = reference.get(subject, "")
                if _blank(date) or _blank(start) or _blank(day):
                    continue
                expected = _sdtm_day(str(date), str(start))
                if expected is not None and expected != int(day):
                    add(
                        "error",
                        domain,
                        day_column,
                        index,
                        f"{int(day)}, but {date} vs RFSTDTC {start} is day {expected}",
                    )


def _cross_dataset(frames: Mapping[str, pd.DataFrame], add: _Add) -> None:
    dm, ta, ts, ex, ae = (frames.get(d) for d in ("DM", "TA", "TS", "EX", "AE"))
    subjects = set(dm["USUBJID"]) if dm is not None else set()
    for domain, frame in frames.items():
        if "USUBJID" in frame.columns and domain != "DM":
            for index, subject in enumerate(frame["USUBJID"], start=1):
                if subject not in subjects:
                    add("error", domain, "USUBJID", index, f"{subject} is not a subject of DM")
    if ta is not None and dm is not None:
        arms, epochs = set(ta["ARMCD"]), set(ta["EPOCH"])
        for index, armcd in enumerate(dm["ARMCD"], start=1):
            if not _blank(armcd) and armcd not in arms:
                add("error", "DM", "ARMCD", index, f"{armcd} is not an arm of TA")
        for domain, frame in frames.items():
            if "EPOCH" in frame.columns and domain not in ("TA",):
                for index, epoch in enumerate(frame["EPOCH"], start=1):
                    if not _blank(epoch) and epoch not in epochs:
                        add("error", domain, "EPOCH", index, f"{epoch} is not an epoch of TA")
    if ts is not None:
        present = set(ts["TSPARMCD"])
        for parameter in REQUIRED_TS_PARAMETERS:
            if parameter not in present:
                add("error", "TS", "TSPARMCD", None, f"parameter {parameter} missing")
        for index, (parameter, flavour) in enumerate(zip(ts["TSPARMCD"], ts["TSVALNF"], strict=True), start=1):
            if parameter in REQUIRED_TS_PARAMETERS and not _blank(flavour):
                add("warning", "TS", "TSVAL", index, f"{parameter} not recorded (TSVALNF {flavour})")
    if dm is not None and ex is not None and len(ex):
        dated = ex[ex["EXSTDTC"] != ""]
        first = dated.groupby("USUBJID")["EXSTDTC"].min()
        for index, (subject, start) in enumerate(zip(dm["USUBJID"], dm["RFXSTDTC"], strict=True), start=1):
            if subject in first.index and not _blank(first[subject]) and start != first[subject]:
                add("error", "DM", "RFXSTDTC", index, f"{start!r}, but the first EXSTDTC is {first[subject]}")
    if ex is not None:
        for index, (treatment, route, form) in enumerate(
            zip(ex["EXTRT"], ex["EXROUTE"], ex["EXDOSFRM"], strict=True), start=1
        ):
            if _blank(route) or _blank(form):
                add("warning", "EX", "EXROUTE", index, f"route or dose form of {treatment} not known")
    for design in ("TV", "TI"):
        if design in frames and not len(frames[design]):
            add("warning", design, "", None, "no rows: the study records no visit schedule / eligibility criteria")
    se = frames.get("SE")
    if se is not None and ta is not None and dm is not None and len(se):
        arm_of = dict(zip(dm["USUBJID"], dm["ACTARMCD"], strict=True))
        planned = {
            (a, e): (o, ep) for a, e, o, ep in zip(ta["ARMCD"], ta["ETCD"], ta["TAETORD"], ta["EPOCH"], strict=True)
        }
        for index, (subject, etcd, order, epoch) in enumerate(
            zip(se["USUBJID"], se["ETCD"], se["TAETORD"], se["EPOCH"], strict=True), start=1
        ):
            expected = planned.get((arm_of.get(subject, ""), etcd))
            if expected is None or expected != (order, epoch):
                add("error", "SE", "ETCD", index, f"{etcd} (TAETORD {order}, {epoch}) is not so in TA for the arm")
    if ae is not None:
        criteria = [c for c in ("AESCONG", "AESDISAB", "AESDTH", "AESHOSP", "AESLIFE", "AESMIE") if c in ae.columns]
        for index, record in enumerate(ae.to_dict(orient="records"), start=1):
            if record.get("AESER") == "Y" and not any(record[c] == "Y" for c in criteria):
                add("warning", "AE", "AESER", index, "serious event without a seriousness criterion")
            for variable in ("AEREL", "AEACN"):
                if _blank(record.get(variable)):
                    add("warning", "AE", variable, index, "expected variable not collected")


_FINDING_COLUMNS = ("severity", "domain", "variable", "row", "message")


def write_conformance(frames: Mapping[str, pd.DataFrame], path: Path) -> Path:
    """Check ``frames`` and write the findings to ``path`` (CSV, a header only when the package is clean)."""
    findings = sdtm_conformance(frames)
    table = pd.DataFrame(
        [(f.severity, f.domain, f.variable, "" if f.row is None else f.row, f.message) for f in findings],
        columns=list(_FINDING_COLUMNS),
    )
    path.write_text(table.to_csv(index=False, lineterminator="\n"), encoding="utf-8")
    return path


def read_conformance(path: Path) -> list[ConformanceFinding]:
    """The findings of a ``conformance.csv`` written by :func:`write_conformance`."""
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    return [
        ConformanceFinding(r["severity"], r["domain"], r["variable"], int(r["row"]) if r["row"] else None, r["message"])
        for r in table.to_dict(orient="records")
    ]
