"""End to end: ``immunoreset trial run`` writes tables and a report that opens in headless Chromium."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "immunoreset", *args], capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    first = tmp_path_factory.mktemp("a")
    second = tmp_path_factory.mktemp("b")
    for folder in (first, second):
        done = run("trial", "run", "erlangen2024", "--out", str(folder), "--patients", "6", "--seed", "7")
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip().endswith("report.html")
    return first, second


def test_same_seed_gives_identical_outcome_tables(outputs: tuple[Path, Path]) -> None:
    first, second = outputs
    for name in ("visits.csv", "safety.csv", "patients.csv"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    visits = pd.read_csv(first / "visits.csv")
    assert visits["patient"].nunique() == 3  # 6 patients resized across 3 cohorts: SLE share is 3


def test_report_opens_in_chromium_and_screenshot_is_saved(outputs: tuple[Path, Path]) -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian chromium is not installed (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    report = outputs[0] / "report.html"
    errors: list[str] = []
    artifacts = Path(__file__).resolve().parents[1] / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(report.as_uri())
        page.wait_for_selector(".js-plotly-plot .main-svg", timeout=30000)
        assert "Simulated vs published" in page.content()
        page.screenshot(path=str(artifacts / "trial_report_first_screen.png"))
        browser.close()
    assert errors == []


def test_bad_design_exits_2_naming_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\n")
    done = run("trial", "run", str(bad), "--out", str(tmp_path / "o"))
    assert done.returncode == 2
    assert "field" in done.stderr and len(done.stderr.strip().splitlines()) == 1
