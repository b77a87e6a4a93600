"""Non-compartmental analysis (NCA) of CAR-T cellular kinetics with the PKNCA conventions.

Source of every convention: the PKNCA R package (Denney W, Duvvuri S, Buckeridge C. "Simple,
automatic noncompartmental analysis: the PKNCA R package." J Pharmacokinet Pharmacodyn 2015;
42(1 Suppl):S65), source code ``R/half.life.R``, ``R/PKNCA.options.R``, ``R/auc_integrate.R``,
``R/pk.calc.simple.R`` at commit 1e1285fb (version 0.12.0.9000). The CAR-T usage (Cmax, Tmax,
AUC over days 0–28, terminal half-life) follows Stein AM et al., CPT Pharmacometrics Syst
Pharmacol 2019;8:285 (Fig. S1) and Mueller KT et al., Clin Cancer Res 2018.

Conventions (each an option of :class:`NCAOptions`, defaults = PKNCA defaults):

* **Missing values** (``None``/NaN) are dropped (PKNCA ``conc.na = "drop"``).
* A reported value of **0** is BLQ, as in PKNCA (which codes BLQ as concentration 0).
* **Below the limit of quantification (BLQ)**: a BLQ sample is classed by position — *first*
  (before the first quantifiable value), *middle* (between quantifiable values) or *last* (after
  the last quantifiable value) — and each class is handled by its own rule: ``zero`` (kept as 0),
  ``drop``, or ``half_lloq`` (kept as LLOQ/2; needs the LLOQ). PKNCA default: first = zero,
  middle = drop, last = zero (PKNCA ``conc.blq``).
* **Cmax** is the largest kept concentration; **Tmax** the first time it occurs
  (``first_tmax=True``; PKNCA ``first.tmax``), else the last.
* **Tlast/Clast**: the last time with a concentration > 0 and that concentration.
* **AUC**: ``"lin up/log down"`` (default): an interval is integrated with the log trapezoid
  ``(C1 − C2)·Δt / ln(C1/C2)`` when C2 < C1 and C2 ≠ 0, as zero when both ends are 0 and with
  the linear trapezoid ``(C1 + C2)·Δt/2`` otherwise. ``"linear"``: always linear.
  ``"lin-log"``: linear up to Tmax, log after Tmax when both ends are > 0 and differ.
* **AUClast** runs from the interval start (day 0) to Tlast. It needs a sample at day 0
  (PKNCA refuses an AUC that starts before the first measurement); without one it is not
  evaluable, unless ``start_imputation="zero"`` asserts that the pre-infusion level is 0.
* **AUC0–28d** (``auc_end``, default 28 d) is PKNCA's ``aucint.last``: the area over
  [0, 28] with the curve taken as 0 after Tlast; when day 28 falls between two samples the
  concentration at day 28 is interpolated (log when the interval is a "log" interval, linear
  otherwise). When the last sample of any kind is before day 28 the area is not evaluable
  (rather than silently truncated).
* **λz** (terminal slope), by PKNCA's automatic rule: keep the points with concentration > 0
  and time > Tmax (≥ Tmax when ``allow_tmax_in_half_life``); with fewer than ``min_hl_points``
  (default 3) λz is not estimable. Otherwise, for i = min_hl_points … n, fit ordinary least
  squares of ln(C) on time to the last i points; adjusted R² = 1 − (1 − R²)(i − 1)/(i − 2).
  Candidates have λz > 0 **and** adjusted R² **>** max(adjusted R²) − ``adj_r_squared_factor``
  (default 1e-4); among the candidates the fit with the **most points** wins. Half-life = ln 2/λz.
* **AUCinf,obs** = AUClast + Clast/λz, with the extrapolated percentage.

Numbers are computed in binary floating point (as PKNCA does); the BLQ decision
(value < LLOQ) is made on exact decimals.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from immunoreset.errors import InvalidInput
from immunoreset.instruments.base import parse

__all__ = [
    "AUC_METHODS",
    "TABLE_COLUMNS",
    "BLQRule",
    "HalfLifeFit",
    "NCAOptions",
    "NCAResult",
    "Sample",
    "auc_intervals",
    "half_life",
    "nca",
    "nca_table",
]

AUC_METHODS = ("lin up/log down", "linear", "lin-log")
BLQRule = Literal["zero", "drop", "half_lloq"]
SOURCE = (
    "PKNCA conventions (Denney et al., J Pharmacokinet Pharmacodyn 2015; R package source at 1e1285fb); "
    "CAR-T usage per Stein et al., CPT Pharmacometrics Syst Pharmacol 2019"
)


class NCAOptions(BaseModel):
    """NCA options; every default is the PKNCA default (``PKNCA.options()``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    auc_method: Literal["lin up/log down", "linear", "lin-log"] = Field(
        "lin up/log down", description="AUC integration method (PKNCA auc.method)."
    )
    auc_end: Decimal = Field(
        Decimal(28), gt=0, description="End (days) of the fixed AUC interval starting at day 0 (AUC0–28d)."
    )
    adj_r_squared_factor: float = Field(
        1e-4,
        gt=0,
        lt=1,
        description=(
            "Tolerance below the best adjusted R² for λz candidates (PKNCA); > 0 because the comparison is strict."
        ),
    )
    min_hl_points: int = Field(3, ge=3, description="Minimum number of points for λz (PKNCA min.hl.points).")
    allow_tmax_in_half_life: bool = Field(False, description="Allow the Tmax point in the λz fit (PKNCA).")
    first_tmax: bool = Field(True, description="Tmax is the first (True) or last (False) time of Cmax.")
    blq_first: BLQRule = Field("zero", description="BLQ before the first quantifiable value (PKNCA: keep as 0).")
    blq_middle: BLQRule = Field("drop", description="BLQ between quantifiable values (PKNCA: drop).")
    blq_last: BLQRule = Field("zero", description="BLQ after the last quantifiable value (PKNCA: keep as 0).")
    auc_end_after_last: Literal["zero", "not_evaluable"] = Field(
        "zero",
        description="AUC0-end when the last sample is before the end day: 'zero' = no exposure after the last "
        "measurable sample, i.e. AUC0-min(end, Tlast) (PKNCA aucint.last, default); 'not_evaluable' = no value.",
    )
    start_imputation: Literal["none", "zero"] = Field(
        "none",
        description=(
            "Without a sample at day 0: 'none' makes AUCs not evaluable (PKNCA); "
            "'zero' asserts a pre-infusion level of 0 at day 0."
        ),
    )


class Sample(BaseModel):
    """One measurement: study day, value (None = missing), and whether it is BLQ."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    time: Decimal
    value: Decimal | None = None
    blq: bool = False
    lloq: Decimal | None = None

    @model_validator(mode="after")
    def _check(self) -> Sample:
        if self.value is not None and self.value < 0:
            raise InvalidInput("value", self.value, "a concentration ≥ 0")
        if self.lloq is not None and self.lloq <= 0:
            raise InvalidInput("lloq", self.lloq, "a limit of quantification > 0")
        return self


class HalfLifeFit(BaseModel):
    """The selected terminal-phase regression (PKNCA ``half.life``)."""

    model_config = ConfigDict(frozen=True)

    lambda_z: float = Field(description="Terminal elimination rate constant λz (1/day).")
    half_life: float = Field(description="ln 2 / λz (days).")
    r_squared: float
    adj_r_squared: float
    n_points: int = Field(description="Number of points in the selected fit.")
    time_first: float = Field(description="Time of the first point in the fit (day).")
    time_last: float = Field(description="Time of the last point in the fit (day).")
    clast_pred: float = Field(description="Concentration at Tlast predicted by the fit.")
    span_ratio: float = Field(description="(time_last − time_first) / half-life.")


class NCAResult(BaseModel):
    """NCA of one profile. Fields that cannot be computed are None with a reason in ``notes``."""

    model_config = ConfigDict(frozen=True)

    source: str = SOURCE
    evaluable: bool
    reason: str | None = None
    unit: str = Field(description="Concentration unit (UCUM).")
    time_unit: str = "d"
    n_samples: int = Field(description="Samples used after the missing-value and BLQ rules.")
    n_blq: int = Field(description="Samples reported below the limit of quantification.")
    cmax: float | None = None
    tmax: float | None = None
    clast: float | None = None
    tlast: float | None = None
    auclast: float | None = Field(None, description="AUC from day 0 to Tlast (unit·day).")
    auc_0_end: float | None = Field(None, description="AUC over [0, auc_end] (AUC0–28d by default; unit·day).")
    auc_end: float = 28.0
    aucinf_obs: float | None = None
    aucpext_obs: float | None = Field(None, description="Extrapolated share of AUCinf,obs (%).")
    half_life: HalfLifeFit | None = None
    lambda_z_n_points: int | None = Field(None, description="Points used for λz (None when not estimable).")
    notes: list[str] = Field(default_factory=list)


def _interval_kind(c1: float, c2: float, after_tmax: bool, method: str) -> str:
    if c1 == 0 and c2 == 0:
        return "zero"
    if method == "linear":
        return "linear"
    if method == "lin up/log down":
        return "log" if (c2 < c1 and c2 != 0) else "linear"
    # lin-log: log after Tmax when both ends positive and different
    return "log" if (after_tmax and c1 > 0 and c2 > 0 and c1 != c2) else "linear"


def _segment(t1: float, t2: float, c1: float, c2: float, kind: str) -> float:
    dt = t2 - t1
    if kind == "zero":
        return 0.0
    if kind == "log":
        return (c1 - c2) * dt / math.log(c1 / c2)
    return (c1 + c2) * dt / 2.0


def _interp(t: float, t1: float, t2: float, c1: float, c2: float, kind: str) -> float:
    if kind == "zero":
        return 0.0
    frac = (t - t1) / (t2 - t1)
    if kind == "log":
        return math.exp(math.log(c1) + frac * (math.log(c2) - math.log(c1)))
    return c1 + frac * (c2 - c1)


def auc_intervals(
    times: Sequence[float], conc: Sequence[float], *, tmax: float, method: str, start: float, end: float
) -> float:
    """Area over [start, end] with the given method; the curve is 0 after the last value > 0.

    ``times`` must be sorted, include ``start`` and extend to or past ``end``.
    """
    positive = [i for i, c in enumerate(conc) if c > 0]
    tlast = times[positive[-1]] if positive else times[0]
    total = 0.0
    for i in range(len(times) - 1):
        t1, t2, c1, c2 = times[i], times[i + 1], conc[i], conc[i + 1]
        if t2 <= start or t1 >= end:
            continue
        if t1 >= tlast:  # after Tlast the curve is zero (AUClast semantics)
            break
        kind = _interval_kind(c1, c2, t1 >= tmax, method)
        lo, hi = max(t1, start), min(t2, end)
        ca = c1 if lo == t1 else _interp(lo, t1, t2, c1, c2, kind)
        cb = c2 if hi == t2 else _interp(hi, t1, t2, c1, c2, kind)
        total += _segment(lo, hi, ca, cb, _interval_kind(ca, cb, t1 >= tmax, method) if kind != "zero" else "zero")
    return total


def half_life(
    times: Sequence[float], conc: Sequence[float], *, tmax: float, tlast: float, options: NCAOptions
) -> tuple[HalfLifeFit | None, str | None]:
    """PKNCA's automatic λz selection. Returns the fit, or None and the reason."""
    keep = [
        (t, c)
        for t, c in zip(times, conc, strict=True)
        if c > 0 and (t >= tmax if options.allow_tmax_in_half_life else t > tmax)
    ]
    if len(keep) < options.min_hl_points:
        return None, (
            f"λz not estimable: {len(keep)} quantifiable point(s) after Tmax, at least {options.min_hl_points} needed"
        )
    keep.sort()
    t_all = np.array([t for t, _ in keep])
    y_all = np.log(np.array([c for _, c in keep]))
    fits: list[tuple[int, float, float, float, float]] = []  # n, lambda_z, intercept, r2, adj_r2
    for n in range(options.min_hl_points, len(keep) + 1):
        t = t_all[-n:]
        y = y_all[-n:]
        tm, ym = t.mean(), y.mean()
        sxx = float(((t - tm) ** 2).sum())
        if sxx == 0:
            continue
        slope = float(((t - tm) * (y - ym)).sum()) / sxx
        intercept = float(ym - slope * tm)
        ss_res = float(((y - (intercept + slope * t)) ** 2).sum())
        ss_tot = float(((y - ym) ** 2).sum())
        # PKNCA (fit_half_life): a flat run has R² = 1 - 0/0 = NaN and is ignored when choosing the best fit.
        r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else math.nan
        adj = 1.0 - (1.0 - r2) * (n - 1) / (n - 2)
        fits.append((n, -slope, intercept, r2, adj))
    if not fits:
        return None, "λz not estimable: all points after Tmax at one time"
    finite = [f for f in fits if not math.isnan(f[4])]
    if not finite:
        return None, "λz not estimable: no terminal fit with a declining slope (λz > 0)"
    best_adj = max(f[4] for f in finite)
    candidates = [f for f in finite if f[1] > 0 and f[4] > best_adj - options.adj_r_squared_factor]
    if not candidates:
        return None, "λz not estimable: no terminal fit with a declining slope (λz > 0)"
    n, lam, intercept, r2, adj = max(candidates, key=lambda f: f[0])
    t_first = float(t_all[-n])
    t_last = float(t_all[-1])
    hl = math.log(2) / lam
    return (
        HalfLifeFit(
            lambda_z=lam,
            half_life=hl,
            r_squared=r2,
            adj_r_squared=adj,
            n_points=n,
            time_first=t_first,
            time_last=t_last,
            clast_pred=math.exp(intercept - lam * tlast),
            span_ratio=(t_last - t_first) / hl,
        ),
        None,
    )


def _apply_blq(samples: list[Sample], options: NCAOptions) -> tuple[list[float], list[float], int]:
    """Times and concentrations after the missing and BLQ rules; also the BLQ count."""
    present = [s for s in samples if s.blq or s.value is not None]
    quant = [i for i, s in enumerate(present) if not s.blq and s.value is not None and s.value > 0]
    first_q = quant[0] if quant else len(present)
    last_q = quant[-1] if quant else -1
    times: list[float] = []
    conc: list[float] = []
    n_blq = 0
    for i, s in enumerate(present):
        if s.blq or s.value == 0:  # a reported 0 is below quantification (PKNCA treats conc == 0 as BLQ)
            n_blq += 1
            rule = options.blq_first if i < first_q else options.blq_last if i > last_q else options.blq_middle
            if rule == "drop":
                continue
            if rule == "half_lloq":
                if s.lloq is None:
                    raise InvalidInput("lloq", None, f"the LLOQ of the BLQ sample at day {s.time} (rule half_lloq)")
                times.append(float(s.time))
                conc.append(float(s.lloq) / 2.0)
                continue
            times.append(float(s.time))
            conc.append(0.0)
            continue
        assert s.value is not None
        times.append(float(s.time))
        conc.append(float(s.value))
    return times, conc, n_blq


def nca(
    samples: Sequence[Sample | dict[str, object]],
    *,
    unit: str,
    options: NCAOptions | None = None,
) -> NCAResult:
    """NCA of one patient's profile of one analyte (study days; day 0 = infusion).

    ``samples`` are :class:`Sample` records (or mappings with ``time``, ``value``, ``blq``,
    ``lloq``). Duplicate times raise :class:`InvalidInput`; an empty or all-BLQ profile gives a
    result with ``evaluable=False``.
    """
    opts = options or NCAOptions()
    parsed = [parse(Sample, s) for s in samples]
    parsed.sort(key=lambda s: s.time)
    seen: set[Decimal] = set()
    for s in parsed:
        if s.time in seen:
            raise InvalidInput("time", s.time, "one sample per study day and analyte (duplicate time)")
        seen.add(s.time)
    pre_infusion = [s for s in parsed if s.time < 0]
    parsed = [s for s in parsed if s.time >= 0]  # the profile starts at the infusion (PKNCA interval [0, ...))
    times, conc, n_blq = _apply_blq(parsed, opts)
    if not times:
        return NCAResult(evaluable=False, reason="no samples", unit=unit, n_samples=0, n_blq=n_blq)
    if max(conc) <= 0:
        return NCAResult(
            evaluable=False,
            reason="no quantifiable concentration",
            unit=unit,
            n_samples=len(times),
            n_blq=n_blq,
            auc_end=float(opts.auc_end),
        )
    notes: list[str] = []
    if pre_infusion:
        notes.append(f"{len(pre_infusion)} pre-infusion sample(s) (study day < 0) not part of the profile")
    cmax = max(conc)
    idx = [i for i, c in enumerate(conc) if c == cmax]
    tmax = times[idx[0] if opts.first_tmax else idx[-1]]
    last_pos = max(i for i, c in enumerate(conc) if c > 0)
    tlast, clast = times[last_pos], conc[last_pos]

    # AUCs start at day 0
    auc_times, auc_conc = list(times), list(conc)
    has_start = auc_times[0] == 0.0
    if not has_start and auc_times[0] > 0 and opts.start_imputation == "zero":
        auc_times.insert(0, 0.0)
        auc_conc.insert(0, 0.0)
        has_start = True
        notes.append("concentration at day 0 imputed as 0 (start_imputation='zero')")
    auclast = auc_0_end = None
    if not has_start:
        notes.append("AUC not evaluable: no sample at day 0 (set start_imputation='zero' to assume 0 before infusion)")
    else:
        auclast = auc_intervals(auc_times, auc_conc, tmax=tmax, method=opts.auc_method, start=0.0, end=tlast)
        end = float(opts.auc_end)
        if auc_times[-1] >= end:
            auc_0_end = auc_intervals(auc_times, auc_conc, tmax=tmax, method=opts.auc_method, start=0.0, end=end)
        elif opts.auc_end_after_last == "zero":
            auc_0_end = auclast
            notes.append(
                f"AUC0–{opts.auc_end}: last sample at day {auc_times[-1]:g} is before day {end:g}; "
                "no exposure counted after the last measurable sample (PKNCA aucint.last)"
            )
        else:
            notes.append(
                f"AUC0–{opts.auc_end} not evaluable: last sample at day {auc_times[-1]:g} is before day {end:g}"
            )

    fit, why = half_life(times, conc, tmax=tmax, tlast=tlast, options=opts)
    if why:
        notes.append(why)
    aucinf = pext = None
    if fit is not None and auclast is not None:
        aucinf = auclast + clast / fit.lambda_z
        pext = 100.0 * (aucinf - auclast) / aucinf
    return NCAResult(
        evaluable=True,
        unit=unit,
        n_samples=len(times),
        n_blq=n_blq,
        cmax=cmax,
        tmax=tmax,
        clast=clast,
        tlast=tlast,
        auclast=auclast,
        auc_0_end=auc_0_end,
        auc_end=float(opts.auc_end),
        aucinf_obs=aucinf,
        aucpext_obs=pext,
        half_life=fit,
        lambda_z_n_points=fit.n_points if fit else None,
        notes=notes,
    )


TABLE_COLUMNS = (
    "patient",
    "analyte",
    "unit",
    "auc_unit",
    "evaluable",
    "n_samples",
    "n_blq",
    "cmax",
    "tmax",
    "clast",
    "tlast",
    "auclast",
    "auc_0_end",
    "auc_end",
    "lambda_z",
    "half_life",
    "lambda_z_n_points",
    "adj_r_squared",
    "aucinf_obs",
    "aucpext_obs",
    "notes",
)


def nca_table(
    frame: pd.DataFrame, options: NCAOptions | None = None, analytes: Sequence[str] | None = None
) -> pd.DataFrame:
    """NCA of every (patient, analyte) profile of a tidy frame (:func:`immunoreset.kinetics.data.tidy_frame`).

    One row per profile with the columns of :data:`TABLE_COLUMNS`; AUCs are in unit·day.
    """
    opts = options or NCAOptions()
    data = frame
    if analytes:
        unknown = sorted(set(analytes) - set(frame["analyte"]))
        if unknown:
            raise InvalidInput(
                "analyte",
                ", ".join(unknown),
                "an analyte present in the data: " + ", ".join(sorted(set(frame["analyte"]))),
            )
        data = frame[frame["analyte"].isin(list(analytes))]
    rows: list[dict[str, object]] = []
    for (patient, analyte), group in data.groupby(["patient", "analyte"], sort=True):
        unit = str(group["unit"].iloc[0])
        samples = [
            Sample(time=r.time, value=r.value, blq=bool(r.blq), lloq=r.lloq) for r in group.itertuples(index=False)
        ]
        try:
            res = nca(samples, unit=unit, options=opts)
        except InvalidInput as err:
            raise err.with_location(f"patient {patient}, analyte {analyte}") from None
        fit = res.half_life
        rows.append(
            {
                "patient": patient,
                "analyte": analyte,
                "unit": unit,
                "auc_unit": f"{unit}.d",
                "evaluable": res.evaluable,
                "n_samples": res.n_samples,
                "n_blq": res.n_blq,
                "cmax": res.cmax,
                "tmax": res.tmax,
                "clast": res.clast,
                "tlast": res.tlast,
                "auclast": res.auclast,
                "auc_0_end": res.auc_0_end,
                "auc_end": res.auc_end,
                "lambda_z": fit.lambda_z if fit else None,
                "half_life": fit.half_life if fit else None,
                "lambda_z_n_points": fit.n_points if fit else None,
                "adj_r_squared": fit.adj_r_squared if fit else None,
                "aucinf_obs": res.aucinf_obs,
                "aucpext_obs": res.aucpext_obs,
                "notes": "; ".join(([res.reason] if res.reason else []) + res.notes),
            }
        )
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
