"""The main job, end to end: registry records → outcomes → cohort analysis → case-series report.

One path for real and virtual patients:

* :func:`report_study` takes a study's registry records (read back from the registry), computes every
  outcome with the instruments, analyses the cohort and writes ``report.html``, ``outcomes.parquet`` and
  the analysis tables. ``immunoreset report --db`` uses it on a real registry.
* :func:`run_virtual_trial` simulates a trial design, writes the virtual patients into a fresh registry
  exactly as an import would (``registry.db``), reads them back and calls :func:`report_study`.
  ``immunoreset trial run`` and ``immunoreset demo`` use it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from immunoreset import __version__
from immunoreset.analysis.cohort import CohortAnalysis, analyse_cohort
from immunoreset.kinetics.bcells import BCellOptions
from immunoreset.registry.outcomes import compute_outcomes, write_outcomes
from immunoreset.registry.records import StudyRecord
from immunoreset.registry.store import Registry, initialise
from immunoreset.report.case_series import case_series_report, write_tables
from immunoreset.report.document import html_to_pdf
from immunoreset.trial.design import TrialDesign

__all__ = ["ExplorationResult", "MainJobResult", "explore_design", "report_study", "run_virtual_trial"]

Step = Callable[[str, int, int], None]
"""Progress callback: (stage description, done, total)."""


@dataclass
class MainJobResult:
    """Where everything was written, and the analysis itself."""

    report: Path
    outcomes: Path
    tables: list[Path]
    analysis: CohortAnalysis
    registry_url: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    pdf: Path | None = None
    redcap: list[Path] = field(default_factory=list)
    """The REDCap project files written (``run_virtual_trial(redcap_dir=...)``)."""


def report_study(
    study: StudyRecord,
    out_dir: Path,
    *,
    provenance: Mapping[str, str],
    title: str | None = None,
    daily: pd.DataFrame | None = None,
    report_path: Path | None = None,
    progress: Step | None = None,
    pdf: bool = False,
    b_cells: BCellOptions | None = None,
) -> MainJobResult:
    """Outcomes, analysis, tables and the HTML report of one study into ``out_dir`` (and a PDF if asked);
    ``b_cells`` is the B-cell aplasia/reconstitution definition (default :class:`BCellOptions`)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    start = time.perf_counter()

    def step(done: int, total: int) -> None:
        if progress is not None:
            progress("Computing outcomes", done, total)

    outcomes = compute_outcomes(study, progress=step)
    outcomes_path = write_outcomes(outcomes, out_dir / "outcomes.parquet")
    outcomes.to_csv(out_dir / "outcomes.csv", index=False)
    timings["outcomes_s"] = time.perf_counter() - start
    if progress is not None:
        progress("Analysing the cohort", 0, 1)
    analysis = analyse_cohort(study, outcomes, b_cells=b_cells)
    tables = write_tables(analysis.tables(), out_dir / "tables")
    if daily is not None:
        daily.to_parquet(out_dir / "tables" / "model_daily.parquet", index=False)
    timings["analysis_s"] = time.perf_counter() - start - timings["outcomes_s"]
    if progress is not None:
        progress("Writing the report", 0, 1)
    kind = "Virtual case series" if study.source == "simulation" else "Case series"
    doc = case_series_report(
        analysis,
        title=title or f"{kind}: {study.name or study.code}",
        provenance={"Toolkit": f"immunoreset {__version__}", "Study": study.code, **provenance},
        daily=daily,
    )
    report = doc.write(report_path or out_dir / "report.html")
    pdf_path = html_to_pdf(report) if pdf else None
    timings["report_s"] = time.perf_counter() - start - timings["outcomes_s"] - timings["analysis_s"]
    return MainJobResult(
        report=report, outcomes=Path(outcomes_path), tables=tables, analysis=analysis, timings=timings, pdf=pdf_path
    )


def run_virtual_trial(
    design: str | Path | TrialDesign,
    out_dir: Path,
    *,
    seed: int | None = None,
    patients: int | None = None,
    progress: Step | None = None,
    pdf: bool = False,
    redcap_dir: Path | None = None,
) -> MainJobResult:
    """Simulate ``design`` (built-in name or file), register the virtual patients, report (module docstring).

    ``redcap_dir``: also write the virtual study as a REDCap project (the template for the design's visits
    and the raw export; :func:`immunoreset.trial.redcap_project.write_redcap_project`).
    """
    from immunoreset.trial import load_design, simulate_trial
    from immunoreset.trial.redcap_project import write_redcap_project

    loaded = design if isinstance(design, TrialDesign) else load_design(str(design))
    start = time.perf_counter()
    total = sum(c.size for c in (loaded.resized(patients) if patients is not None else loaded).cohorts)
    simulated_so_far = [0]

    def sim_step(finished: int) -> None:
        simulated_so_far[0] += finished
        if progress is not None:
            progress("Simulating virtual patients", simulated_so_far[0], total)

    if progress is not None:
        progress("Simulating virtual patients", 0, total)
    trial = simulate_trial(loaded, seed=seed, patients=patients, progress=sim_step)
    simulated = time.perf_counter() - start
    out_dir.mkdir(parents=True, exist_ok=True)
    redcap_files: list[Path] = []
    if redcap_dir is not None:
        if progress is not None:
            progress("Writing the REDCap export", 0, 1)
        redcap_files = write_redcap_project(trial.study, loaded, redcap_dir)
    registry_file = out_dir / "registry.db"
    for stale in out_dir.glob("registry.db*"):
        stale.unlink()  # a fresh registry per run: the same seed gives the same tables
    url = f"sqlite:///{registry_file}"
    initialise(url)
    registry = Registry.open(url)

    def load_step(done: int, total: int) -> None:
        if progress is not None:
            progress("Writing patients to the registry", done, total)

    registry.load(trial.study, progress=load_step)
    stored = registry.read_study(trial.study.code)
    registry.engine.dispose()
    registered = time.perf_counter() - start - simulated
    provenance = {
        "Design": f"{loaded.name} — {loaded.description}",
        "Random seed": str(loaded.seed if seed is None else seed),
        "Data source": f"virtual patients written to {registry_file.name} (SQLite registry) and read back",
        **{str(k): str(v) for k, v in trial.provenance.items()},
    }
    result = report_study(
        stored,
        out_dir,
        provenance=provenance,
        daily=trial.daily,
        progress=progress,
        pdf=pdf,
        b_cells=loaded.b_cell_definition,
    )
    result.registry_url = url
    result.redcap = redcap_files
    result.timings = {"simulate_s": simulated, "registry_s": registered, **result.timings}
    return result


@dataclass
class ExplorationResult:
    """A design run at every level of a grid: the summary table, the report and each level's own result."""

    report: Path
    summary: pd.DataFrame
    table: Path
    levels: dict[str, MainJobResult]


def explore_design(
    design: str | Path,
    out_dir: Path,
    vary: list[str],
    *,
    seed: int | None = None,
    patients: int | None = None,
    progress: Step | None = None,
) -> ExplorationResult:
    """Run ``design`` at every combination of the ``vary`` levels (``["product.dose=1e5,1e6,1e7"]``; several
    fields make a full grid), each into ``out_dir/levels/<n>`` with the same seed, and write the exploration
    table (``tables/exploration.csv``) and report (``report.html``; :mod:`immunoreset.report.exploration`)."""
    import itertools

    from immunoreset.analysis.exploration import level_summary
    from immunoreset.report.exploration import exploration_report
    from immunoreset.trial import load_design
    from immunoreset.trial.design import parse_vary, with_values

    loaded = load_design(str(design))
    grid = parse_vary(vary)
    combinations = [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]
    designs = {
        ", ".join(f"{path}={value}" for path, value in combo.items()): with_values(loaded, combo)
        for combo in combinations
    }  # every level validated before the first is simulated
    results: dict[str, MainJobResult] = {}
    summaries = []
    for n, (label, level_design) in enumerate(designs.items(), start=1):

        def level_progress(stage: str, done: int, total: int, label: str = label, n: int = n) -> None:
            if progress is not None:
                progress(f"Level {n}/{len(designs)} ({label}): {stage}", done, total)

        result = run_virtual_trial(
            level_design, out_dir / "levels" / str(n), seed=seed, patients=patients, progress=level_progress
        )
        results[label] = result
        summaries.append(level_summary(result.analysis, label))
    summary = pd.concat(summaries, ignore_index=True)
    (out_dir / "tables").mkdir(parents=True, exist_ok=True)
    table = out_dir / "tables" / "exploration.csv"
    summary.to_csv(table, index=False)
    report = exploration_report(
        summary,
        design=loaded.name,
        varied=list(grid),
        level_reports={label: r.report for label, r in results.items()},
        seed=loaded.seed if seed is None else seed,
        out=out_dir / "report.html",
    )
    return ExplorationResult(report=report, summary=summary, table=table, levels=results)
