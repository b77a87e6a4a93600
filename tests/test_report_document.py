"""The HTML report is self-contained (no network), escapes text and shows figures and tables."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd

from immunoreset.analysis import kaplan_meier
from immunoreset.report import Document, kaplan_meier_plot, swimmer_plot, trajectory_plot


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.external: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script":
            self.scripts += 1
        for key in ("src", "href"):
            value = values.get(key) or ""
            if value.startswith(("http://", "https://", "//")):
                self.external.append(value)


def build(tmp_path: Path) -> Path:
    doc = Document(title="Case series <test>", subtitle="synthetic")
    follow = pd.DataFrame({"patient": ["A", "B"], "disease": ["SLE", "SSc"], "last_day": [365, 200]})
    periods = pd.DataFrame({"patient": ["A"], "start": [90], "end": [365], "state": ["drug-free remission"]})
    events = pd.DataFrame({"patient": ["A", "B"], "day": [1, 3], "event": ["CRS grade 1", "CRS grade 1"]})
    doc.section("Swimmer").figure(swimmer_plot(follow, periods, events))
    km = kaplan_meier(pd.DataFrame({"time": [90, 180, 200], "event": [True, True, False]}))
    doc.section("Kaplan-Meier").figure(kaplan_meier_plot({"all": km}, title="DFR", y_title="p", cumulative=True))
    traj = pd.DataFrame({"patient": ["A", "A", "B"], "study_day": [0, 7, 7], "cart": [0.1, 80.0, 20.0]})
    doc.section("Trajectories").figure(trajectory_plot(traj, value="cart", title="CAR-T", y_title="/uL", log_y=True))
    doc.section("Table").table(pd.DataFrame({"group": ["<b>x</b>"], "rate": [2 / 3], "n": [None]}), caption="Rates")
    return doc.write(tmp_path / "report.html")


def test_report_is_self_contained_and_escaped(tmp_path: Path) -> None:
    path = build(tmp_path)
    text = path.read_text(encoding="utf-8")
    collector = _Collector()
    collector.feed(text)
    assert collector.external == []
    assert 'src="https://cdn.plot.ly' not in text
    assert text.count("Plotly.newPlot") == 3
    assert "Case series &lt;test&gt;" in text and "&lt;b&gt;x&lt;/b&gt;" in text
    assert re.search(r">0\.667<", text) and ">—<" in text


def test_report_opens_in_headless_chromium_without_errors(tmp_path: Path) -> None:
    import shutil

    import pytest

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Debian chromium is not installed (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    path = build(tmp_path)
    errors: list[str] = []
    remote: list[str] = []
    artifacts = Path(__file__).resolve().parents[1] / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on(
            "request", lambda r: remote.append(r.url) if not r.url.startswith(("file:", "data:", "blob:")) else None
        )
        page.goto(path.as_uri())
        page.wait_for_selector(".js-plotly-plot .main-svg", timeout=30000)
        plots = page.locator(".js-plotly-plot").count()
        page.screenshot(path=str(artifacts / "report_document.png"))
        browser.close()
    assert errors == []
    assert remote == []
    assert plots == 3
