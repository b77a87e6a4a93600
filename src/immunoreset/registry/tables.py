"""Tidy tables from registry records, for analysis and the kinetics tools.

* :func:`observation_table` — every observation, one row per (patient, visit, code).
* :func:`kinetics_samples` — the cellular-kinetics, B-cell and autoantibody series in the tidy format the
  kinetics module reads (``patient, analyte, time, value, unit, blq, uln``; docs/kinetics.md), so
  ``immunoreset kinetics … --db`` analyses stored patients exactly like a CSV file.

Registry code → kinetics analyte: ``car_t_cells`` → ``cart_flow``, ``transgene_copies`` → ``cart_qpcr``,
``cd19_b_cells`` → ``cd19``, ``naive_b_cell_pct`` → ``cd19_naive`` (% of B cells), ``anti_dsdna`` →
``anti_dsdna`` and ``anti_scl70`` → ``anti_scl70`` (with the laboratory's ULN recorded at the same visit),
``ck`` → ``ck`` (with ``ck_uln``). A stored value of 0 for the cellular analytes means "below the limit of
quantification" (the convention of flow-cytometry and qPCR case report forms, e.g. the sample REDCap
project): CAR-T cells and transgene copies pass it on as BLQ (the NCA's BLQ rule applies). An undetectable
CD19+ B-cell count stays 0 cells/µL: B-cell assays quantify well below the aplasia threshold of
:mod:`immunoreset.kinetics.bcells` (5 cells/µL by default, Looney 2004), so "not detected" is aplasia, as
trials report it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pandas as pd

from immunoreset.registry.records import StudyRecord
from immunoreset.units import convert

__all__ = ["KINETICS_ANALYTES", "kinetics_samples", "observation_table"]

KINETICS_ANALYTES: dict[str, tuple[str, str | None, bool]] = {
    # registry code: (kinetics analyte, ULN code at the same visit, zero means BLQ)
    "car_t_cells": ("cart_flow", None, True),
    "transgene_copies": ("cart_qpcr", None, True),
    "cd19_b_cells": ("cd19", None, False),
    "naive_b_cell_pct": ("cd19_naive", None, False),
    "anti_dsdna": ("anti_dsdna", "anti_dsdna_uln", False),
    "anti_scl70": ("anti_scl70", "anti_scl70_uln", False),
    "ck": ("ck", "ck_uln", False),
}

OBSERVATION_COLUMNS = (
    "study",
    "site",
    "patient",
    "disease",
    "visit",
    "visit_kind",
    "study_day",
    "code",
    "value",
    "unit",
    "value_text",
    "method",
)


def observation_table(study: StudyRecord) -> pd.DataFrame:
    """Every observation of the study: one row per (patient, visit, code); ``value`` is exact (Decimal)."""
    rows: list[dict[str, Any]] = []
    for p in study.patients:
        for v in p.visits:
            for o in v.observations:
                rows.append(
                    {
                        "study": study.code,
                        "site": p.site,
                        "patient": p.code,
                        "disease": p.disease,
                        "visit": v.label,
                        "visit_kind": v.kind,
                        "study_day": v.study_day,
                        "code": o.code,
                        "value": o.value,
                        "unit": o.unit,
                        "value_text": o.value_text,
                        "method": o.method,
                    }
                )
    return pd.DataFrame(rows, columns=list(OBSERVATION_COLUMNS))


def kinetics_samples(study: StudyRecord, analytes: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Kinetics series of every patient in the kinetics tidy format (see the module docstring)."""
    wanted = set(analytes) if analytes is not None else None
    rows: list[dict[str, Any]] = []
    for p in study.patients:
        for v in p.visits:
            by_code = {o.code: o for o in v.observations}
            for code, (analyte, uln_code, zero_is_blq) in KINETICS_ANALYTES.items():
                o = by_code.get(code)
                if o is None or o.value is None or (wanted is not None and analyte not in wanted):
                    continue
                uln = by_code.get(uln_code) if uln_code else None
                blq = zero_is_blq and o.value == Decimal(0)
                rows.append(
                    {
                        "patient": p.code,
                        "analyte": analyte,
                        "time": v.study_day,
                        "value": None if blq else str(o.value),
                        "unit": o.unit,
                        "blq": blq,
                        "uln": None if uln is None or uln.value is None else str(convert(uln.value, uln.unit, o.unit)),
                        "scheduled": v.kind == "scheduled",
                        "disease": p.disease,
                    }
                )
    columns = ["patient", "analyte", "time", "value", "unit", "blq", "uln", "disease", "scheduled"]
    frame = pd.DataFrame(rows, columns=columns)
    # One sample per patient, analyte and day: a scheduled visit's sample wins over a daily assessment's.
    frame = frame.sort_values(["patient", "analyte", "time", "scheduled"], ascending=[True, True, True, False])
    frame = frame.drop_duplicates(["patient", "analyte", "time"], keep="first")
    return frame.drop(columns="scheduled").reset_index(drop=True)
