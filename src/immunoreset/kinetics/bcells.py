"""B-cell aplasia and reconstitution after CD19 CAR-T, reported honestly for sparse sampling.

Published anchors: Mackensen A et al., Nat Med 2022;28:2124 (SLE, n = 5: B cells reappeared at
110 ± 32 days, reappearing B cells naive); Müller F et al., N Engl J Med 2024;390:687 (SLE, IIM,
SSc, n = 15: B-cell aplasia 112 ± 47 days, returning B cells naive). Neither abstract states a
numeric cut-off for "aplasia" or "reappearance". The default cut-off is the published definition of
profound B-cell depletion in SLE, fewer than 5 CD19⁺ B cells per µL (Looney RJ et al., Arthritis Rheum
2004;50:2580-9, rituximab in SLE), which is also the usual limit of conventional flow cytometry; the
thresholds are named options (see ``docs/kinetics.md``) and every result carries the ones it used.

Definitions (counts in CD19⁺ B cells per µL, compared as exact decimals):

* A sample is **aplastic** when count **<** ``aplasia_below`` (default 5 /µL), or when it is
  reported below a limit of quantification that is ≤ ``aplasia_below`` (a BLQ sample with a
  higher or unknown limit cannot show aplasia and is counted as *indeterminate*).
* A sample is **reconstituted** when count **≥** ``reconstitution_at_least`` (default 5 /µL).
  Counts between the two thresholds (when they differ) are neither.
* Only samples on or after day 0 (infusion) count; earlier ones give the baseline.
* **Aplasia onset** is the first aplastic sample. It happened in the interval
  (previous sample on or after day 0, or day 0 itself; first aplastic sample].
* **Reconstitution** is the first reconstituted sample after onset that starts a run of
  ``confirm_samples`` (default 1) consecutive reconstituted samples. It happened in the interval
  (last sample before it known to be below the reconstitution threshold; that sample]. When no
  sample shows it, the patient is right-censored at the last sample.
* **Aplasia duration** is bounded by the two intervals: at least (reconstitution lower bound −
  onset upper bound), at most (reconstitution upper bound − onset lower bound). No single "day"
  is invented; dense sampling narrows the interval.
* **Naive fraction at reconstitution**: naive B cells (an analyte in % of B cells, or a count in
  the B-cell unit) on the first reconstituted day.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from decimal import Decimal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from immunoreset.errors import InvalidInput
from immunoreset.units import canonical_unit, convert

__all__ = ["BCellOptions", "BCellResult", "CountSample", "bcell_kinetics", "bcell_table"]

SOURCE = (
    "Mackensen et al., Nat Med 2022 (B-cell reappearance 110 ± 32 d); Müller et al., N Engl J Med 2024 "
    "(B-cell aplasia 112 ± 47 d); default threshold < 5 CD19+ cells/µL from Looney et al., Arthritis Rheum "
    "2004 (profound depletion in SLE); thresholds are options (docs/kinetics.md)"
)


class BCellOptions(BaseModel):
    """Thresholds for aplasia and reconstitution (CD19⁺ B cells per µL)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    aplasia_below: Decimal = Field(
        Decimal(5),
        gt=0,
        description="Aplastic when count < this (cells/µL). Default: profound B-cell depletion, < 5 CD19+ "
        "cells/µL (Looney et al., Arthritis Rheum 2004).",
    )
    reconstitution_at_least: Decimal = Field(
        Decimal(5),
        gt=0,
        description="Reconstituted when count ≥ this (cells/µL). Default: the complement of the aplasia "
        "default (no published CAR-T cut-off).",
    )
    confirm_samples: int = Field(
        1, ge=1, description="Consecutive reconstituted samples needed to call reconstitution."
    )
    unit: str = Field("/uL", description="Unit of the thresholds (UCUM).")

    @model_validator(mode="after")
    def _check(self) -> BCellOptions:
        canonical_unit(self.unit, field="unit")
        if self.reconstitution_at_least < self.aplasia_below:
            raise InvalidInput(
                "reconstitution_at_least",
                self.reconstitution_at_least,
                f"a threshold ≥ aplasia_below ({self.aplasia_below})",
            )
        return self


class CountSample(BaseModel):
    """One B-cell count (``value`` None with ``blq`` for 'not detected')."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    time: Decimal
    value: Decimal | None = None
    blq: bool = False
    lloq: Decimal | None = None
    naive: Decimal | None = Field(None, description="Naive B cells on this day, in naive_unit.")


class BCellResult(BaseModel):
    """Aplasia and reconstitution of one patient, as intervals of study days."""

    model_config = ConfigDict(frozen=True)

    source: str = SOURCE
    evaluable: bool
    reason: str | None = None
    aplasia_below: Decimal
    reconstitution_at_least: Decimal
    unit: str
    baseline: Decimal | None = Field(None, description="Last count before day 0, if any.")
    n_samples: int
    aplasia_reached: bool | None = None
    aplasia_onset_lower: Decimal | None = Field(None, description="Onset after this day (exclusive).")
    aplasia_onset_upper: Decimal | None = Field(None, description="Onset on or before this day (first aplastic).")
    reconstituted: bool | None = None
    reconstitution_lower: Decimal | None = Field(None, description="Reconstitution after this day (last aplastic).")
    reconstitution_upper: Decimal | None = Field(None, description="Reconstitution on or before this day.")
    censored_at: Decimal | None = Field(None, description="Last sample day when reconstitution was not observed.")
    aplasia_duration_min: Decimal | None = None
    aplasia_duration_max: Decimal | None = None
    naive_fraction_at_reconstitution: Decimal | None = Field(
        None, description="Naive share of B cells (0–1) on the first reconstituted day."
    )
    n_indeterminate: int = Field(0, description="BLQ samples whose limit is above the aplasia threshold.")
    notes: list[str] = Field(default_factory=list)


def _state(s: CountSample, o: BCellOptions) -> str:
    if s.blq or s.value is None:
        if s.blq and s.lloq is not None and s.lloq <= o.aplasia_below:
            return "aplastic"
        return "indeterminate" if s.blq else "missing"
    if s.value < o.aplasia_below:
        return "aplastic"
    if s.value >= o.reconstitution_at_least:
        return "reconstituted"
    return "between"


def _below_reconstitution(s: CountSample, state: str, o: BCellOptions) -> bool:
    """Known to be below the reconstitution threshold."""
    if state in {"aplastic", "between"}:
        return True
    return s.blq and s.lloq is not None and s.lloq <= o.reconstitution_at_least


def bcell_kinetics(
    samples: Sequence[CountSample | dict[str, object]],
    *,
    options: BCellOptions | None = None,
    naive_unit: str | None = None,
) -> BCellResult:
    """Aplasia onset, reconstitution and aplasia duration from one patient's CD19⁺ counts.

    Counts must already be in ``options.unit``. ``naive_unit`` is ``%`` (share of B cells) or the
    count unit; it is needed only when samples carry ``naive``.
    """
    from immunoreset.instruments.base import parse

    o = options or BCellOptions()
    parsed = sorted((parse(CountSample, s) for s in samples), key=lambda s: s.time)
    for a, b in itertools.pairwise(parsed):
        if a.time == b.time:
            raise InvalidInput("time", b.time, "one B-cell count per study day (duplicate time)")
    common = {"aplasia_below": o.aplasia_below, "reconstitution_at_least": o.reconstitution_at_least, "unit": o.unit}
    pre = [s for s in parsed if s.time < 0 and s.value is not None]
    baseline = pre[-1].value if pre else None
    post = [s for s in parsed if s.time >= 0 and (s.value is not None or s.blq)]
    if not post:
        return BCellResult(
            evaluable=False, reason="no B-cell count on or after day 0", n_samples=0, baseline=baseline, **common
        )
    states = [_state(s, o) for s in post]
    n_ind = states.count("indeterminate")
    notes: list[str] = []
    if n_ind:
        notes.append(f"{n_ind} BLQ sample(s) with a limit above {o.aplasia_below} {o.unit} (or none): indeterminate")
    onset = next((i for i, st in enumerate(states) if st == "aplastic"), None)
    if onset is None:
        return BCellResult(
            evaluable=True,
            n_samples=len(post),
            baseline=baseline,
            aplasia_reached=False,
            n_indeterminate=n_ind,
            notes=[*notes, "no aplastic sample on or after day 0"],
            **common,
        )
    onset_upper = post[onset].time
    onset_lower = post[onset - 1].time if onset > 0 else Decimal(0)
    if onset_lower == onset_upper:  # first sample exactly at day 0 is aplastic
        notes.append("aplastic at the first sample (day 0)")
    recon = None
    for i in range(onset + 1, len(post)):
        run = states[i : i + o.confirm_samples]
        if len(run) == o.confirm_samples and all(st == "reconstituted" for st in run):
            recon = i
            break
    if recon is None:
        last = post[-1].time
        tail = [st for st in states[onset:] if st != "indeterminate"]
        if tail and tail[-1] == "reconstituted":
            notes.append(f"reconstituted at the last sample(s) but fewer than {o.confirm_samples} to confirm")
        # The aplasia lasted at least until the last sample known to be below the reconstitution threshold;
        # later samples (unconfirmed reconstitution, indeterminate BLQ) may already be reconstituted.
        known_below = [i for i in range(onset, len(post)) if _below_reconstitution(post[i], states[i], o)]
        last_known_below = post[known_below[-1]].time
        return BCellResult(
            evaluable=True,
            n_samples=len(post),
            baseline=baseline,
            aplasia_reached=True,
            aplasia_onset_lower=onset_lower,
            aplasia_onset_upper=onset_upper,
            reconstituted=False,
            censored_at=last,
            aplasia_duration_min=last_known_below - onset_upper,
            n_indeterminate=n_ind,
            notes=[*notes, f"reconstitution not observed by day {last} (right-censored)"],
            **common,
        )
    below = [i for i in range(onset, recon) if _below_reconstitution(post[i], states[i], o)]
    last_below = below[-1]  # the onset sample itself is below, so this is never empty
    if any(not _below_reconstitution(post[i], states[i], o) for i in range(last_below + 1, recon)):
        notes.append("unconfirmed or indeterminate samples precede the reconstitution sample")
    rec_lower = post[last_below].time
    rec_upper = post[recon].time
    naive_fraction = None
    s = post[recon]
    if s.naive is not None:
        if naive_unit is None:
            raise InvalidInput("naive_unit", None, "'%' or the B-cell count unit, since naive counts are given")
        if canonical_unit(naive_unit, field="naive_unit") == "%":
            naive_fraction = s.naive / Decimal(100)
        elif s.value:
            naive_fraction = convert(s.naive, naive_unit, o.unit, field="naive") / s.value
        if naive_fraction is not None and not (Decimal(0) <= naive_fraction <= Decimal(1)):
            raise InvalidInput("naive", s.naive, f"a naive B-cell value not above the total on day {s.time}")
    else:
        notes.append("naive B-cell phenotype not recorded on the reconstitution day")
    return BCellResult(
        evaluable=True,
        n_samples=len(post),
        baseline=baseline,
        aplasia_reached=True,
        aplasia_onset_lower=onset_lower,
        aplasia_onset_upper=onset_upper,
        reconstituted=True,
        reconstitution_lower=rec_lower,
        reconstitution_upper=rec_upper,
        aplasia_duration_min=rec_lower - onset_upper,
        aplasia_duration_max=rec_upper - onset_lower,
        naive_fraction_at_reconstitution=naive_fraction,
        n_indeterminate=n_ind,
        notes=notes,
        **common,
    )


BCELL_COLUMNS = (
    "patient",
    "evaluable",
    "aplasia_reached",
    "aplasia_onset_lower",
    "aplasia_onset_upper",
    "reconstituted",
    "reconstitution_lower",
    "reconstitution_upper",
    "censored_at",
    "aplasia_duration_min",
    "aplasia_duration_max",
    "naive_fraction_at_reconstitution",
    "baseline",
    "n_samples",
    "aplasia_below",
    "reconstitution_at_least",
    "unit",
    "notes",
)


def bcell_table(
    frame: pd.DataFrame,
    *,
    analyte: str = "cd19",
    naive_analyte: str | None = "cd19_naive",
    options: BCellOptions | None = None,
) -> pd.DataFrame:
    """:func:`bcell_kinetics` for every patient of a tidy frame; one row per patient."""
    o = options or BCellOptions()
    if analyte not in set(frame["analyte"]):
        raise InvalidInput(
            "analyte", analyte, "a B-cell analyte present in the data: " + ", ".join(sorted(set(frame["analyte"])))
        )
    rows: list[dict[str, object]] = []
    for patient, group in frame.groupby("patient", sort=True):
        counts = group[group["analyte"] == analyte]
        if counts.empty:
            continue
        unit = str(counts["unit"].iloc[0])
        naive_by_day: dict[Decimal, Decimal] = {}
        naive_unit: str | None = None
        if naive_analyte:
            naive = group[(group["analyte"] == naive_analyte) & group["value"].notna()]
            if not naive.empty:
                naive_unit = str(naive["unit"].iloc[0])
                naive_by_day = dict(zip(naive["time"], naive["value"], strict=True))
        samples = []
        for r in counts.to_dict("records"):
            value = None if r["value"] is None else convert(r["value"], unit, o.unit, field="value")
            lloq = None if r["lloq"] is None else convert(r["lloq"], unit, o.unit, field="lloq")
            samples.append(
                CountSample(
                    time=r["time"], value=value, blq=bool(r["blq"]), lloq=lloq, naive=naive_by_day.get(r["time"])
                )
            )
        try:
            res = bcell_kinetics(samples, options=o, naive_unit=naive_unit)
        except InvalidInput as err:
            raise err.with_location(f"patient {patient}") from None
        row = {k: getattr(res, k) for k in BCELL_COLUMNS if k not in {"patient", "notes"}}
        row["patient"] = patient
        row["notes"] = "; ".join(([res.reason] if res.reason else []) + res.notes)
        rows.append(row)
    return pd.DataFrame(rows, columns=list(BCELL_COLUMNS))
