"""The main job end to end: ``demo`` / ``trial run`` (virtual trial → registry → outcomes → report) and
``report --db`` on the imported sample REDCap project; reports open in headless Chromium.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from immunoreset.analysis.cohort import analyse_cohort
from immunoreset.registry.outcomes import compute_outcomes
from immunoreset.registry.redcap import sample_mapping_path, sample_project_path
from immunoreset.registry.store import Registry

SAMPLE = sample_project_path()
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "immunoreset", *args], capture_output=True, text=True, timeout=900, cwd=cwd
    )


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The demo (reduced to 6 patients) run twice with the same seed: once via `demo`, once via `trial run`."""
    first = tmp_path_factory.mktemp("demo") / "immunoreset-demo"
    done = run("demo", "--patients", "6", "--seed", "7", cwd=first.parent)
    assert done.returncode == 0, done.stderr
    assert "Report:" in done.stdout and "report.html" in done.stdout
    second = tmp_path_factory.mktemp("trial")
    again = run("trial", "run", "erlangen2024", "--out", str(second), "--patients", "6", "--seed", "7")
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip().endswith("report.html")
    return first, second


def test_demo_writes_registry_outcomes_tables_and_report(outputs: tuple[Path, Path]) -> None:
    folder = outputs[0]
    for name in ("registry.db", "outcomes.parquet", "outcomes.csv", "report.html", "tables/response_rates.csv"):
        assert (folder / name).exists(), name
    registry = Registry.open(f"sqlite:///{folder / 'registry.db'}")
    study = registry.read_study()
    assert study.source == "simulation"
    assert sorted(p.disease for p in study.patients) == ["IIM", "SLE", "SLE", "SLE", "SSc", "SSc"]
    assert registry.verify_audit().ok
    outcomes = pd.read_parquet(folder / "outcomes.parquet")
    assert set(outcomes["patient"]) == {p.code for p in study.patients}
    # the scores come from the instruments applied to the stored raw observations
    assert {"sledai2k", "doris", "myositis_tis", "eustar_ai", "crs", "icaht", "drug_free"} <= set(
        outcomes["instrument"]
    )


def test_the_demo_registry_exports_a_conformant_sdtm_package(outputs: tuple[Path, Path]) -> None:
    """The demo's registry (a virtual erlangen2024 trial) as SDTM: trial design, DM with a country for every
    patient, the subject datasets, and no conformance error."""
    out = outputs[0] / "sdtm"
    done = run("export", "sdtm", "--db", f"sqlite:///{outputs[0] / 'registry.db'}", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "conformance: 0 error(s)" in done.stdout
    assert {"ts", "te", "ta", "tv", "ti", "dm", "se", "sv", "ds", "ex", "ae", "lb", "qs", "pc"} <= {
        f.stem for f in out.glob("*.csv")
    }
    dm = pd.read_csv(out / "dm.csv", dtype=str, keep_default_na=False)
    assert len(dm) == 6 and (dm["COUNTRY"] == "DEU").all()
    # define.xml: valid Define-XML 2.1, and the simulated values are declared derived, never collected
    from immunoreset.registry.define_xml import define_schema_errors

    assert define_schema_errors(out / "define.xml") == []
    define = (out / "define.xml").read_text(encoding="utf-8")
    assert 'Type="Collected"' not in define and "Simulated by an immunoreset virtual trial" in define
    ti = pd.read_csv(out / "ti.csv", dtype=str, keep_default_na=False)
    assert sorted(ti["IETEST"].str.split(" fulfilling").str[0]) == [
        "Idiopathic inflammatory myopathy", "Systemic lupus erythematosus", "Systemic sclerosis"
    ]  # fmt: skip


def test_same_seed_gives_identical_outcome_tables(outputs: tuple[Path, Path]) -> None:
    first, second = outputs
    assert (first / "outcomes.csv").read_bytes() == (second / "outcomes.csv").read_bytes()
    for table in sorted((first / "tables").glob("*.csv")):
        assert table.read_bytes() == (second / "tables" / table.name).read_bytes(), table.name


def test_different_seed_gives_different_patients(tmp_path: Path, outputs: tuple[Path, Path]) -> None:
    done = run("trial", "run", "erlangen2024", "--out", str(tmp_path), "--patients", "3", "--seed", "8")
    assert done.returncode == 0, done.stderr
    a = pd.read_csv(outputs[0] / "tables" / "patients.csv")
    b = pd.read_csv(tmp_path / "tables" / "patients.csv")
    assert not a["weight_kg"].head(3).equals(b["weight_kg"])


def open_in_chromium(report: Path, screenshot: str, must_contain: str) -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian chromium is not installed (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(report.as_uri())
        page.wait_for_selector(".js-plotly-plot .main-svg", timeout=30000)
        assert must_contain in page.content()
        assert page.locator(".js-plotly-plot").count() >= 4
        page.screenshot(path=str(ARTIFACTS / screenshot))
        browser.close()
    assert errors == []


def test_demo_report_opens_in_chromium_and_screenshot_is_saved(outputs: tuple[Path, Path]) -> None:
    open_in_chromium(outputs[0] / "report.html", "demo_report_first_screen.png", "Simulated vs published")


def test_report_on_the_imported_sample_redcap_project(tmp_path: Path, sample_truth: Any) -> None:
    db = str(tmp_path / "sample.db")
    assert run("db", "init", "--db", db).returncode == 0
    imported = run(
        "import",
        "redcap",
        str(SAMPLE / "export.csv"),
        "--dictionary",
        str(SAMPLE / "data_dictionary.csv"),
        "--mapping",
        str(sample_mapping_path()),
        "--events",
        str(SAMPLE / "events.csv"),
        "--db",
        db,
    )
    assert imported.returncode == 0, imported.stderr
    out = tmp_path / "report.html"
    pdf = ["--pdf"] if shutil.which("chromium") else []
    done = run("report", "--db", db, "--out", str(out), *pdf)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("report.html")
    if pdf:  # the optional PDF, printed by the headless browser
        printed = (tmp_path / "report.pdf").read_bytes()
        assert printed.startswith(b"%PDF-") and printed.count(b"/Type /Page") + printed.count(b"/Type/Page") > 3
    # the report of the imported registry has the rates of the study the sample was made from
    rates = pd.read_csv(tmp_path / "report_files" / "tables" / "response_rates.csv")
    truth = sample_truth[0]
    expected = analyse_cohort(truth, compute_outcomes(truth)).rates
    keys = ["endpoint", "disease", "visit"]
    got = rates.set_index(keys)[["evaluable", "responders"]].sort_index()
    assert got.equals(expected.set_index(keys)[["evaluable", "responders"]].sort_index().astype(got.dtypes))
    doris_m6 = rates[(rates["endpoint"] == "DORIS 2021 remission") & (rates["visit"] == "day 180")].iloc[0]
    assert doris_m6["evaluable"] == 8  # every SLE patient assessed at month 6
    open_in_chromium(out, "sample_registry_report_first_screen.png", "Observed vs published")
    # the B-cell definition: Looney 2004 by default, any other on the command line; the report states it
    b_cells = pd.read_csv(tmp_path / "report_files" / "tables" / "b_cells.csv")
    assert set(b_cells["aplasia_below"]) == {5} and b_cells["aplasia_reached"].all()
    strict = tmp_path / "strict.html"
    again = run("report", "--db", db, "--out", str(strict), "--aplasia-below", "0.5", "--reconstitution-at-least", "20")
    assert again.returncode == 0, again.stderr
    other = pd.read_csv(tmp_path / "strict_files" / "tables" / "b_cells.csv")
    assert set(other["aplasia_below"]) == {0.5} and set(other["reconstitution_at_least"]) == {20}
    assert (other["reconstitution_upper"].dropna() >= b_cells["reconstitution_upper"].dropna().min()).all()
    assert "aplasia &lt; 0.5 /µL" in strict.read_text() or "aplasia < 0.5 /µL" in strict.read_text()
    bad = run("report", "--db", db, "--out", str(tmp_path / "x.html"), "--aplasia-below", "ten")
    assert bad.returncode == 2 and "--aplasia-below" in bad.stderr


def test_bad_design_exits_2_naming_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\n")
    done = run("trial", "run", str(bad), "--out", str(tmp_path / "o"))
    assert done.returncode == 2
    assert "field" in done.stderr and len(done.stderr.strip().splitlines()) == 1
