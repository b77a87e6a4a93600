"""Treatment burden: glucocorticoid prednisolone equivalents, drug classes and drug-free status.

Instruments (registry names in brackets):

* Prednisolone-equivalent glucocorticoid dose [``prednisolone_equivalent``] — equivalent
  anti-inflammatory doses of the British National Formulary (BNF, chapter 6.3.2 "Equivalent
  anti-inflammatory doses of corticosteroids": prednisolone 5 mg = betamethasone 750 µg = cortisone
  acetate 25 mg = deflazacort 6 mg = dexamethasone 750 µg = hydrocortisone 20 mg =
  methylprednisolone 4 mg = triamcinolone 4 mg); option ``table='meikle_tyler_1977'`` for the US
  table of Meikle AW, Tyler FH. *Potency and duration of action of glucocorticoids.* Am J Med
  1977;63(2):200-7 (betamethasone 0.6 mg; no deflazacort).
* Drug-free status [``drug_free``] over a window of a medication history: glucocorticoid-free,
  immunosuppressant-free and free of every disease-directed drug, each with the study day it began —
  the basis of "sustained drug-free remission" (e.g. Müller F et al. N Engl J Med 2024;390:687-700).

The curated drug-class table (``immunoreset/data/drug_classes.csv``: generic names, common brand
names, class) maps names to ``glucocorticoid``, ``antimalarial``, ``conventional_immunosuppressant``,
``biologic``, ``targeted_synthetic``, ``antifibrotic`` or ``not_disease_modifying``; extend it with
:meth:`DrugClassTable.extended` or per entry with ``drug_class``.

:func:`prednisolone_equivalent_mg_per_day` is the library call other layers (e.g. DORIS/LLDAS
inputs) use to turn a prescription into mg/day.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, localcontext
from fractions import Fraction
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from immunoreset.errors import InvalidInput
from immunoreset.instruments.base import (
    Exact,
    Instrument,
    InstrumentInput,
    InstrumentOptions,
    InstrumentResult,
    parse,
)
from immunoreset.units import convert

__all__ = [
    "DRUG_CLASSES",
    "EQUIVALENCE_TABLES",
    "CategoryStatus",
    "DoseQuantity",
    "DrugClass",
    "DrugClassTable",
    "DrugFreeInput",
    "DrugFreeOptions",
    "DrugFreeResult",
    "DrugRecord",
    "MedicationEntry",
    "PrednisoloneEquivalentInput",
    "PrednisoloneEquivalentOptions",
    "PrednisoloneEquivalentResult",
    "Prescription",
    "default_drug_table",
    "drug_class",
    "drug_free",
    "normalise_drug_name",
    "prednisolone_equivalent",
    "prednisolone_equivalent_mg_per_day",
    "prednisolone_equivalent_on_day",
    "prednisolone_equivalent_per_dose_mg",
]

BNF_SOURCE = (
    "Joint Formulary Committee. British National Formulary (BNF), 6.3.2 equivalent anti-inflammatory doses of "
    "corticosteroids, online edition consulted 2026 via NHS formularies "
    "(prednisolone 5 mg = methylprednisolone 4 mg = dexamethasone 750 µg = hydrocortisone 20 mg)"
)
MEIKLE_TYLER_SOURCE = "Meikle AW, Tyler FH. Am J Med 1977;63(2):200-7"
DRUG_FREE_SOURCE = (
    "immunoreset curated drug-class table; drug-free remission as in Müller F et al. N Engl J Med "
    "2024;390(8):687-700 and Greco R et al. (EBMT) EClinicalMedicine 2024;69:102476"
)

DrugClass = Literal[
    "glucocorticoid",
    "antimalarial",
    "conventional_immunosuppressant",
    "biologic",
    "targeted_synthetic",
    "antifibrotic",
    "not_disease_modifying",
]
DRUG_CLASSES: tuple[str, ...] = get_args(DrugClass)

# ---------------------------------------------------------------------------------------------
# Names and the drug-class table
# ---------------------------------------------------------------------------------------------

_SALT_WORDS = {
    "sodium",
    "phosphate",
    "disodium",
    "succinate",
    "hemisuccinate",
    "acetate",
    "acetonide",
    "hydrochloride",
    "sulfate",
    "sulphate",
    "dipropionate",
    "valerate",
    "butyrate",
    "base",
}


def normalise_drug_name(name: str) -> str:
    """Lower case, hyphens/underscores as spaces, single spaces: ``'Solu-Medrol'`` -> ``'solu medrol'``."""
    text = re.sub(r"[-_/]+", " ", name.strip().lower())
    return re.sub(r"\s+", " ", text)


def _without_salt(name: str) -> str:
    return " ".join(w for w in name.split(" ") if w not in _SALT_WORDS)


@dataclass(frozen=True)
class DrugRecord:
    """One drug of the class table: canonical generic name, class, aliases (brand names etc.)."""

    name: str
    drug_class: str
    aliases: tuple[str, ...] = ()
    note: str = ""


class DrugClassTable:
    """Generic and brand names -> :class:`DrugRecord`. Immutable; extend with :meth:`extended`."""

    def __init__(self, records: Iterable[DrugRecord]) -> None:
        self._records: dict[str, DrugRecord] = {}
        self._index: dict[str, DrugRecord] = {}
        for record in records:
            if record.drug_class not in DRUG_CLASSES:
                raise InvalidInput("drug_class", record.drug_class, "one of: " + ", ".join(DRUG_CLASSES))
            self._records[normalise_drug_name(record.name)] = record
            for key in (record.name, *record.aliases):
                norm = normalise_drug_name(key)
                other = self._index.get(norm)
                if other is not None and other.name != record.name:
                    raise InvalidInput("drug name", key, f"a name not already used for {other.name}")
                self._index[norm] = record

    @classmethod
    def from_csv(cls, source: str | Path | io.TextIOBase) -> DrugClassTable:
        """Read a table with columns ``name,class,aliases,note`` (aliases separated by ``;``)."""
        text = source.read() if isinstance(source, io.TextIOBase) else Path(source).read_text(encoding="utf-8")
        return cls(_records_from_csv(str(text)))

    def extended(self, records: Iterable[DrugRecord]) -> DrugClassTable:
        """A new table with ``records`` added (a record with an existing name replaces it)."""
        merged = dict(self._records)
        for record in records:
            merged[normalise_drug_name(record.name)] = record
        return DrugClassTable(merged.values())

    def lookup(self, name: str) -> DrugRecord | None:
        """The record for a generic or brand name (salt words such as 'sodium succinate' ignored)."""
        norm = normalise_drug_name(name)
        return self._index.get(norm) or self._index.get(_without_salt(norm))

    def classify(self, name: str, *, field: str = "drug") -> DrugRecord:
        """The record for ``name``; an unknown drug is an :class:`InvalidInput`."""
        record = self.lookup(name)
        if record is None:
            raise InvalidInput(field, name, "a drug in the class table (or give its drug_class)")
        return record

    def __iter__(self) -> Any:
        return iter(self._records.values())

    def __len__(self) -> int:
        return len(self._records)


def _records_from_csv(text: str) -> list[DrugRecord]:
    records: list[DrugRecord] = []
    for row in csv.DictReader(io.StringIO(text)):
        aliases = tuple(a.strip() for a in (row.get("aliases") or "").split(";") if a.strip())
        records.append(DrugRecord(row["name"].strip(), row["class"].strip(), aliases, (row.get("note") or "").strip()))
    return records


@cache
def default_drug_table() -> DrugClassTable:
    """The curated table shipped with immunoreset (``immunoreset/data/drug_classes.csv``)."""
    text = resources.files("immunoreset").joinpath("data/drug_classes.csv").read_text(encoding="utf-8")
    return DrugClassTable(_records_from_csv(text))


def drug_class(name: str) -> str:
    """Class of a generic or brand drug name in the curated table; unknown names raise InvalidInput."""
    return default_drug_table().classify(name).drug_class


# ---------------------------------------------------------------------------------------------
# Glucocorticoid equivalence
# ---------------------------------------------------------------------------------------------

EquivalenceTable = Literal["bnf", "meikle_tyler_1977"]

# Dose (mg) equivalent to prednisolone 5 mg.
EQUIVALENCE_TABLES: dict[str, dict[str, Decimal]] = {
    "bnf": {
        "prednisolone": Decimal(5),
        "prednisone": Decimal(5),
        "methylprednisolone": Decimal(4),
        "dexamethasone": Decimal("0.75"),
        "betamethasone": Decimal("0.75"),
        "hydrocortisone": Decimal(20),
        "deflazacort": Decimal(6),
        "cortisone": Decimal(25),
        "triamcinolone": Decimal(4),
    },
    "meikle_tyler_1977": {
        "prednisolone": Decimal(5),
        "prednisone": Decimal(5),
        "methylprednisolone": Decimal(4),
        "dexamethasone": Decimal("0.75"),
        "betamethasone": Decimal("0.6"),
        "hydrocortisone": Decimal(20),
        "cortisone": Decimal(25),
        "triamcinolone": Decimal(4),
    },
}
PREDNISOLONE_REFERENCE_MG = Decimal(5)

Route = Literal[
    "oral",
    "intravenous",
    "intramuscular",
    "subcutaneous",
    "topical",
    "inhaled",
    "intra_articular",
    "rectal",
    "intranasal",
    "ophthalmic",
]
SYSTEMIC_ROUTES = frozenset({"oral", "intravenous", "intramuscular", "subcutaneous"})
EQUIVALENCE_ROUTES = frozenset({"oral", "intravenous"})
_ROUTE_ALIASES = {
    "po": "oral",
    "per os": "oral",
    "by mouth": "oral",
    "iv": "intravenous",
    "i.v.": "intravenous",
    "im": "intramuscular",
    "i.m.": "intramuscular",
    "sc": "subcutaneous",
    "s.c.": "subcutaneous",
    "subcut": "subcutaneous",
    "intraarticular": "intra_articular",
    "intra articular": "intra_articular",
    "inhalation": "inhaled",
    "pr": "rectal",
}

Frequency = Literal[
    "once",
    "once_daily",
    "twice_daily",
    "three_times_daily",
    "four_times_daily",
    "every_other_day",
    "once_weekly",
]
DOSES_PER_DAY: dict[str, Fraction] = {
    "once": Fraction(1),  # a single administration: the mg/day of the day it is given
    "once_daily": Fraction(1),
    "twice_daily": Fraction(2),
    "three_times_daily": Fraction(3),
    "four_times_daily": Fraction(4),
    "every_other_day": Fraction(1, 2),
    "once_weekly": Fraction(1, 7),
}
_FREQUENCY_ALIASES = {
    "single": "once",
    "single dose": "once",
    "stat": "once",
    "daily": "once_daily",
    "qd": "once_daily",
    "od": "once_daily",
    "q24h": "once_daily",
    "once a day": "once_daily",
    "bid": "twice_daily",
    "bd": "twice_daily",
    "q12h": "twice_daily",
    "tid": "three_times_daily",
    "tds": "three_times_daily",
    "q8h": "three_times_daily",
    "qid": "four_times_daily",
    "qds": "four_times_daily",
    "q6h": "four_times_daily",
    "qod": "every_other_day",
    "eod": "every_other_day",
    "alternate days": "every_other_day",
    "q48h": "every_other_day",
    "weekly": "once_weekly",
    "qw": "once_weekly",
    "once a week": "once_weekly",
}


def _alias(value: Any, aliases: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        key = re.sub(r"\s+", " ", value.strip().lower().replace("-", " "))
        if key in aliases:
            return aliases[key]
        return key.replace(" ", "_")
    return value


class _Aliases(InstrumentInput):
    """Accept common spellings of routes (po, iv, ...) and frequencies (bid, qd, q8h, ...)."""

    @field_validator("route", mode="before", check_fields=False)
    @classmethod
    def _route(cls, value: Any) -> Any:
        return _alias(value, _ROUTE_ALIASES)

    @field_validator("frequency", mode="before", check_fields=False)
    @classmethod
    def _frequency(cls, value: Any) -> Any:
        return _alias(value, _FREQUENCY_ALIASES)


class DoseQuantity(InstrumentInput):
    """A dose per administration with its unit (mg, g or ug)."""

    value: Exact = Field(gt=0, description="Dose per administration.")
    unit: str = Field(description="Mass unit: mg, g or ug.")


class Prescription(_Aliases):
    """One glucocorticoid prescription."""

    drug: str = Field(description="Generic or brand name, e.g. prednisolone, Medrol, dexamethasone.")
    dose: DoseQuantity = Field(description="Dose per administration (expressed as the base steroid).")
    route: Route = Field(description="oral or intravenous convert; other routes are not evaluable.")
    frequency: Frequency = Field(
        description="once (single administration), once_daily, twice_daily, three_times_daily, "
        "four_times_daily, every_other_day, once_weekly; aliases qd, bid, tid, qid, qod, q6h-q48h, weekly."
    )


def _to_decimal(value: Fraction) -> Decimal:
    """Exact when the fraction has a terminating decimal expansion; 34 significant digits otherwise."""
    if value.denominator == 1:
        return Decimal(value.numerator)
    with localcontext() as ctx:
        ctx.prec = 34
        return Decimal(value.numerator) / Decimal(value.denominator)


def _factor(drug: str, table: str, field: str) -> tuple[str, Fraction]:
    record = default_drug_table().classify(drug, field=field)
    if record.drug_class != "glucocorticoid":
        raise InvalidInput(field, drug, f"a glucocorticoid (this is {record.drug_class})")
    equivalents = EQUIVALENCE_TABLES[table]
    if record.name not in equivalents:
        raise InvalidInput(field, drug, f"a glucocorticoid of the {table} equivalence table: {', '.join(equivalents)}")
    return record.name, Fraction(PREDNISOLONE_REFERENCE_MG) / Fraction(equivalents[record.name])


def _per_dose_fraction(p: Prescription, table: str, field: str) -> tuple[str, Fraction]:
    name, factor = _factor(p.drug, table, f"{field}drug")
    if p.route not in EQUIVALENCE_ROUTES:
        raise InvalidInput(
            f"{field}route", p.route, "oral or intravenous (equivalent doses do not apply to local or depot routes)"
        )
    mg = convert(p.dose.value, p.dose.unit, "mg", field=f"{field}dose")
    return name, Fraction(mg) * factor


def prednisolone_equivalent_per_dose_mg(
    drug: str, dose: Decimal | int | str, unit: str, route: str, *, table: EquivalenceTable = "bnf"
) -> Decimal:
    """Prednisolone-equivalent mg of one administration (see :func:`prednisolone_equivalent`)."""
    p = parse(Prescription, {"drug": drug, "dose": {"value": dose, "unit": unit}, "route": route, "frequency": "once"})
    return _to_decimal(_per_dose_fraction(p, table, "")[1])


def prednisolone_equivalent_mg_per_day(
    drug: str,
    dose: Decimal | int | str,
    unit: str,
    route: str,
    frequency: str,
    *,
    table: EquivalenceTable = "bnf",
) -> Decimal:
    """Prednisolone-equivalent glucocorticoid dose in mg/day (BNF equivalences by default).

    >>> prednisolone_equivalent_mg_per_day("methylprednisolone", 8, "mg", "oral", "once_daily")
    Decimal('10')
    >>> prednisolone_equivalent_mg_per_day("dexamethasone", "1.5", "mg", "oral", "qd")
    Decimal('10')

    Unknown drugs, non-glucocorticoids, routes other than oral/intravenous and unknown frequencies
    raise :class:`~immunoreset.errors.InvalidInput`. The result is exact for terminating decimals
    (34 significant digits otherwise).
    """
    p = parse(
        Prescription,
        {"drug": drug, "dose": {"value": dose, "unit": unit}, "route": route, "frequency": frequency},
    )
    _, per_dose = _per_dose_fraction(p, table, "")
    return _to_decimal(per_dose * DOSES_PER_DAY[p.frequency])


class PrednisoloneEquivalentInput(_Aliases):
    """One glucocorticoid prescription, or ``prescriptions`` (several taken on the same day, summed)."""

    drug: str | None = Field(default=None, description="Generic or brand name of the glucocorticoid.")
    dose: DoseQuantity | None = Field(default=None, description="Dose per administration.")
    route: Route | None = Field(default=None, description="oral or intravenous.")
    frequency: Frequency | None = Field(default=None, description="Administrations (see Prescription.frequency).")
    prescriptions: list[Prescription] | None = Field(default=None, description="Several prescriptions to sum.")

    @model_validator(mode="after")
    def _one_or_many(self) -> PrednisoloneEquivalentInput:
        single = [n for n in ("drug", "dose", "route", "frequency") if getattr(self, n) is not None]
        if self.prescriptions is not None and single:
            raise ValueError(f"either one prescription or 'prescriptions', not both (also got {', '.join(single)})")
        return self


class PrednisoloneEquivalentOptions(InstrumentOptions):
    table: EquivalenceTable = Field(
        default="bnf",
        description="Equivalence table: 'bnf' (UK BNF; default) or 'meikle_tyler_1977' (US; betamethasone "
        "0.6 mg = prednisolone 5 mg; no deflazacort).",
    )


class PrednisoloneEquivalentResult(InstrumentResult):
    mg_per_day: Exact | None = Field(description="Prednisolone-equivalent dose, mg/day.")
    per_dose_mg: Exact | None = Field(default=None, description="Prednisolone-equivalent mg per administration.")
    drugs: list[str] = Field(default_factory=list, description="Canonical drug names converted.")
    factors: dict[str, str] = Field(
        default_factory=dict, description="mg prednisolone per mg of each drug, as an exact fraction."
    )


def prednisolone_equivalent(
    inputs: PrednisoloneEquivalentInput | Mapping[str, Any],
    *,
    options: PrednisoloneEquivalentOptions | Mapping[str, Any] | None = None,
) -> PrednisoloneEquivalentResult:
    """Prednisolone-equivalent glucocorticoid dose (mg/day) of one or several prescriptions.

    Default: BNF equivalent anti-inflammatory doses — prednisolone 5 mg = prednisone 5 mg =
    methylprednisolone 4 mg = dexamethasone 0.75 mg = betamethasone 0.75 mg = hydrocortisone 20 mg =
    deflazacort 6 mg (= cortisone acetate 25 mg = triamcinolone 4 mg). Option
    ``table='meikle_tyler_1977'`` (Meikle & Tyler, Am J Med 1977): betamethasone 0.6 mg, no
    deflazacort. mg/day = dose x (5 / equivalent dose) x administrations per day; ``once`` is a
    single administration counted on its day. Doses are taken as the base steroid (salt forms such
    as 'sodium succinate' are recognised by name, their dose is not re-based). Equivalences apply to
    oral and intravenous use only; they ignore mineralocorticoid activity and duration of action.
    """
    inputs = parse(PrednisoloneEquivalentInput, inputs)
    options = parse(PrednisoloneEquivalentOptions, options)
    source = BNF_SOURCE if options.table == "bnf" else MEIKLE_TYLER_SOURCE
    base = {"instrument": "prednisolone_equivalent", "variant": f"{options.table} equivalence", "source": source}
    if inputs.prescriptions is not None:
        items = [(f"prescriptions.{i}.", p) for i, p in enumerate(inputs.prescriptions)]
        if not items:
            raise InvalidInput("prescriptions", [], "at least one prescription")
    else:
        missing = [n for n in ("drug", "dose", "route", "frequency") if getattr(inputs, n) is None]
        if missing:
            return PrednisoloneEquivalentResult(
                **base, evaluable=False, reason="missing: " + ", ".join(missing), mg_per_day=None
            )
        items = [("", Prescription.model_validate(inputs.model_dump(exclude={"prescriptions"})))]
    total = Fraction(0)
    per_dose: Fraction | None = None
    names: list[str] = []
    factors: dict[str, str] = {}
    for prefix, p in items:
        name, amount = _per_dose_fraction(p, options.table, prefix)
        _, factor = _factor(p.drug, options.table, f"{prefix}drug")
        names.append(name)
        factors[name] = f"{factor.numerator}/{factor.denominator}" if factor.denominator != 1 else str(factor)
        total += amount * DOSES_PER_DAY[p.frequency]
        per_dose = amount if len(items) == 1 else None
    return PrednisoloneEquivalentResult(
        **base,
        evaluable=True,
        mg_per_day=_to_decimal(total),
        per_dose_mg=None if per_dose is None else _to_decimal(per_dose),
        drugs=names,
        factors=factors,
    )


# ---------------------------------------------------------------------------------------------
# Drug-free status
# ---------------------------------------------------------------------------------------------

Purpose = Literal["disease", "car_t_toxicity", "lymphodepletion", "replacement", "prophylaxis", "other"]
Category = Literal["glucocorticoid_free", "immunosuppressant_free", "drug_free"]
CALCINEURIN_INHIBITORS = frozenset({"tacrolimus", "pimecrolimus", "ciclosporin", "voclosporin"})
"""Calcineurin inhibitors: given on the skin or the eye (ointment, cream, eye drops) they act locally and do
not break immunosuppressant-free status (option ``count_local_calcineurin_inhibitors``)."""

CATEGORY_CLASSES: dict[str, frozenset[str]] = {
    "glucocorticoid_free": frozenset({"glucocorticoid"}),
    "immunosuppressant_free": frozenset({"conventional_immunosuppressant", "biologic", "targeted_synthetic"}),
    "drug_free": frozenset(
        {
            "glucocorticoid",
            "antimalarial",
            "conventional_immunosuppressant",
            "biologic",
            "targeted_synthetic",
            "antifibrotic",
        }
    ),
}


class MedicationEntry(_Aliases):
    """One medication of the history, taken from ``start_day`` to ``stop_day`` (both inclusive)."""

    drug: str = Field(description="Generic or brand name.")
    drug_class: DrugClass | None = Field(
        default=None, description="Class, for a drug not in the table (or to override the table)."
    )
    start_day: int | None = Field(default=None, description="First study day taken (none = before the history).")
    stop_day: int | None = Field(default=None, description="Last study day taken (none = ongoing).")
    dose: DoseQuantity | None = Field(default=None, description="Dose per administration.")
    route: Route | None = Field(default=None, description="Route; glucocorticoids without route count as systemic.")
    frequency: Frequency | None = Field(default=None, description="Administrations (see Prescription.frequency).")
    purpose: Purpose = Field(
        default="disease",
        description="Why it was given: disease (default; counts) or car_t_toxicity, lymphodepletion, "
        "replacement (e.g. IgG), prophylaxis, other (do not count unless count_all_purposes).",
    )

    @model_validator(mode="after")
    def _ordered(self) -> MedicationEntry:
        if self.start_day is not None and self.stop_day is not None and self.stop_day < self.start_day:
            raise ValueError(f"stop_day {self.stop_day} is before start_day {self.start_day}")
        return self


class DrugFreeInput(InstrumentInput):
    """A medication history and the window to judge."""

    medications: list[MedicationEntry] = Field(description="Medication history (overlaps allowed).")
    as_of_day: int = Field(description="Study day at which status is judged (end of the window).")
    window_start_day: int | None = Field(
        default=None, description="Start of the window that must be free throughout (none: status at as_of_day only)."
    )
    history_start_day: int | None = Field(
        default=None, description="First study day the history covers (free-since day of never-exposed categories)."
    )

    @model_validator(mode="after")
    def _window(self) -> DrugFreeInput:
        if self.window_start_day is not None and self.window_start_day > self.as_of_day:
            raise ValueError(f"window_start_day {self.window_start_day} is after as_of_day {self.as_of_day}")
        return self


class DrugFreeOptions(InstrumentOptions):
    glucocorticoid_max_mg_per_day: Exact = Field(
        default=Decimal(0),
        ge=0,
        description="Glucocorticoid at or below this prednisolone-equivalent dose (mg/day) does not break "
        "glucocorticoid-free status (0: any systemic dose does; > 0 needs dose, route and frequency).",
    )
    count_local_glucocorticoids: bool = Field(
        default=False,
        description="Count topical, inhaled, intra-articular, rectal, intranasal and ophthalmic glucocorticoids "
        "(EBMT 2024 allows topical/inhaled steroids).",
    )
    count_local_calcineurin_inhibitors: bool = Field(
        default=False,
        description="Count topical and ophthalmic calcineurin inhibitors (tacrolimus ointment, pimecrolimus cream, "
        "ciclosporin eye drops) as immunosuppressants (default false: they follow the rule for local "
        "glucocorticoids; docs/instruments.md).",
    )
    count_all_purposes: bool = Field(
        default=False, description="Count drugs given for a purpose other than the disease."
    )
    equivalence_table: EquivalenceTable = Field(default="bnf", description="Glucocorticoid equivalence table.")


class CategoryStatus(BaseModel):
    """Status of one category at ``as_of_day``."""

    model_config = ConfigDict(frozen=True)

    free: bool = Field(description="No counted exposure on as_of_day.")
    free_since_day: int | None = Field(
        description="First day of the exposure-free period reaching as_of_day (history start if never exposed)."
    )
    free_days: int | None = Field(description="Length of that period in days, inclusive (None if unknown start).")
    free_throughout_window: bool | None = Field(description="No counted exposure in [window_start_day, as_of_day].")
    last_exposure_day: int | None = Field(description="Last day of counted exposure up to as_of_day.")
    never_exposed: bool = Field(description="No counted exposure in the history up to as_of_day.")
    drugs_in_window: list[str] = Field(default_factory=list)


class DrugFreeResult(InstrumentResult):
    as_of_day: int
    glucocorticoid_free: CategoryStatus | None = None
    immunosuppressant_free: CategoryStatus | None = None
    drug_free: CategoryStatus | None = None
    classes: dict[str, str] = Field(default_factory=dict, description="Class used for each drug.")


_EVER = -(10**9)


def _status(
    intervals: list[tuple[int, int, str]], as_of: int, window_start: int | None, history_start: int | None
) -> CategoryStatus:
    past = [(s, min(e, as_of), d) for s, e, d in intervals if s <= as_of]
    on_day = any(s <= as_of <= e for s, e, _ in past)
    last = max((e for _, e, _ in past), default=None)
    if on_day:
        since = None
    elif last is not None:
        since = last + 1
    else:
        since = history_start
    in_window = sorted({d for s, e, d in past if window_start is not None and e >= window_start})
    return CategoryStatus(
        free=not on_day,
        free_since_day=since,
        free_days=None if since is None else as_of - since + 1,
        free_throughout_window=None if window_start is None else not in_window,
        last_exposure_day=last,
        never_exposed=last is None,
        drugs_in_window=in_window,
    )


def prednisolone_equivalent_on_day(
    medications: Iterable[MedicationEntry | Mapping[str, Any]],
    day: int,
    *,
    table: EquivalenceTable = "bnf",
    count_all_purposes: bool = False,
) -> Decimal | None:
    """Total systemic prednisolone-equivalent dose (mg/day) taken on study ``day`` from a history.

    Sums the systemic glucocorticoid entries active on ``day`` (``start_day <= day <= stop_day``;
    open ends as in :func:`drug_free`) given for the disease (all purposes with
    ``count_all_purposes``). Local routes (topical, inhaled, ...) are excluded. Returns ``None`` when
    an active entry lacks dose, route or frequency — the total is then unknown, never guessed — and
    ``Decimal(0)`` when no glucocorticoid is active. Unknown drugs raise InvalidInput.
    """
    table_ = default_drug_table()
    total = Fraction(0)
    for i, raw in enumerate(medications):
        m = parse(MedicationEntry, raw)
        field = f"medications.{i}."
        record = table_.classify(m.drug, field=f"{field}drug") if m.drug_class is None else None
        cls_name = m.drug_class or (record.drug_class if record else "")
        if cls_name != "glucocorticoid" or (m.purpose != "disease" and not count_all_purposes):
            continue
        if m.route is not None and m.route not in SYSTEMIC_ROUTES:
            continue
        if (m.start_day is not None and day < m.start_day) or (m.stop_day is not None and day > m.stop_day):
            continue
        if m.dose is None or m.route is None or m.frequency is None:
            return None
        p = Prescription(drug=m.drug, dose=m.dose, route=m.route, frequency=m.frequency)
        _, per_dose = _per_dose_fraction(p, table, field)
        total += per_dose * DOSES_PER_DAY[p.frequency]
    return _to_decimal(total)


def drug_free(
    inputs: DrugFreeInput | Mapping[str, Any], *, options: DrugFreeOptions | Mapping[str, Any] | None = None
) -> DrugFreeResult:
    """Glucocorticoid-free, immunosuppressant-free and drug-free status from a medication history.

    Each entry is taken from ``start_day`` to ``stop_day`` inclusive (no start = before the history;
    no stop = ongoing); overlapping prescriptions are merged. Categories (drug classes counted):

    * ``glucocorticoid_free`` — systemic glucocorticoids (local routes only with
      ``count_local_glucocorticoids``; doses at or below ``glucocorticoid_max_mg_per_day``
      prednisolone-equivalent, BNF, do not count when that option is > 0);
    * ``immunosuppressant_free`` — conventional immunosuppressants, biologics (incl. IVIG) and
      targeted synthetic drugs (JAK inhibitors); calcineurin inhibitors at a local route (topical
      tacrolimus or pimecrolimus, ciclosporin eye drops) only with ``count_local_calcineurin_inhibitors``;
    * ``drug_free`` — every disease-directed class: the above plus glucocorticoids, antimalarials
      and antifibrotics; ``not_disease_modifying`` drugs never count.

    Drugs given for another purpose (CAR-T toxicity, lymphodepletion, IgG replacement, prophylaxis)
    do not count unless ``count_all_purposes``. For each category: free on ``as_of_day``, the study
    day the free period began (day after the last exposure; the history start if never exposed),
    and whether the window ``[window_start_day, as_of_day]`` was free throughout.
    """
    inputs = parse(DrugFreeInput, inputs)
    options = parse(DrugFreeOptions, options)
    base = {
        "instrument": "drug_free",
        "variant": f"glucocorticoid > {options.glucocorticoid_max_mg_per_day} mg/day counts"
        + ("" if options.count_local_glucocorticoids else "; systemic routes only")
        + ("" if options.count_all_purposes else "; disease-directed purpose only"),
        "source": DRUG_FREE_SOURCE,
    }
    table = default_drug_table()
    classes: dict[str, str] = {}
    per_class: dict[str, list[tuple[int, int, str]]] = {c: [] for c in DRUG_CLASSES}
    dose_missing: list[str] = []
    for i, m in enumerate(inputs.medications):
        field = f"medications.{i}"
        cls_name: str
        if m.drug_class is not None:
            known = table.lookup(m.drug)
            cls_name, canonical = m.drug_class, (known.name if known is not None else m.drug)
        else:
            record = table.classify(m.drug, field=f"{field}.drug")
            cls_name, canonical = record.drug_class, record.name
        classes[m.drug] = cls_name
        if m.purpose != "disease" and not options.count_all_purposes:
            continue
        local = m.route is not None and m.route not in SYSTEMIC_ROUTES
        if canonical in CALCINEURIN_INHIBITORS and local and not options.count_local_calcineurin_inhibitors:
            continue
        if cls_name == "glucocorticoid":
            if local and not options.count_local_glucocorticoids:
                continue
            convertible = m.route is None or m.route in EQUIVALENCE_ROUTES
            if options.glucocorticoid_max_mg_per_day > 0 and not local and convertible:
                if m.dose is None or m.route is None or m.frequency is None:
                    dose_missing.append(f"{field} ({m.drug})")
                    continue
                p = Prescription(drug=m.drug, dose=m.dose, route=m.route, frequency=m.frequency)
                _, per_dose = _per_dose_fraction(p, options.equivalence_table, f"{field}.")
                if per_dose * DOSES_PER_DAY[p.frequency] <= Fraction(options.glucocorticoid_max_mg_per_day):
                    continue
        start = _EVER if m.start_day is None else m.start_day
        stop = inputs.as_of_day if m.stop_day is None else m.stop_day
        per_class[cls_name].append((start, stop, canonical))
    statuses = {}
    for category, counted in CATEGORY_CLASSES.items():
        intervals = [iv for c in counted for iv in per_class[c]]
        statuses[category] = _status(intervals, inputs.as_of_day, inputs.window_start_day, inputs.history_start_day)
    if dose_missing:
        statuses.pop("glucocorticoid_free")
        statuses.pop("drug_free")
        return DrugFreeResult(
            **base,
            evaluable=False,
            reason="dose, route and frequency needed to apply glucocorticoid_max_mg_per_day: "
            + "; ".join(dose_missing),
            as_of_day=inputs.as_of_day,
            classes=classes,
            **statuses,
        )
    return DrugFreeResult(**base, evaluable=True, as_of_day=inputs.as_of_day, classes=classes, **statuses)


# ---------------------------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------------------------

INSTRUMENTS: tuple[Instrument[Any, Any, Any], ...] = (
    Instrument(
        name="prednisolone_equivalent",
        title="Prednisolone-equivalent glucocorticoid dose",
        description="Glucocorticoid dose in prednisolone-equivalent mg/day (BNF equivalences).",
        source=BNF_SOURCE,
        function=prednisolone_equivalent,
        input_model=PrednisoloneEquivalentInput,
        options_model=PrednisoloneEquivalentOptions,
        result_model=PrednisoloneEquivalentResult,
    ),
    Instrument(
        name="drug_free",
        title="Drug-free status",
        description="Glucocorticoid-, immunosuppressant- and drug-free status with start days, from a history.",
        source=DRUG_FREE_SOURCE,
        function=drug_free,
        input_model=DrugFreeInput,
        options_model=DrugFreeOptions,
        result_model=DrugFreeResult,
    ),
)
