"""A self-contained HTML document: plotly embedded once, no CDN, opens offline.

The document is a list of sections; each holds paragraphs, tables (pandas DataFrames) and plotly
figures. ``render()`` returns one HTML string with plotly.js inlined, so the file can be mailed,
archived with a trial master file, or opened on a machine without network access.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

__all__ = ["Document", "Section", "html_to_pdf"]

_STYLE = """
body { font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; margin: 0; color: #1d2733; }
header { background: #12355b; color: white; padding: 1.2rem 2rem; }
header h1 { margin: 0 0 .3rem 0; font-size: 1.6rem; }
header p { margin: 0; opacity: .85; }
nav { padding: .6rem 2rem; background: #eef2f7; font-size: .9rem; }
nav a { margin-right: 1rem; color: #12355b; text-decoration: none; }
main { padding: 0 2rem 2rem 2rem; max-width: 1200px; }
section { margin-top: 1.6rem; }
h2 { border-bottom: 2px solid #12355b; padding-bottom: .2rem; font-size: 1.25rem; }
table.data { border-collapse: collapse; font-size: .85rem; margin: .6rem 0; }
table.data th, table.data td { border: 1px solid #cfd8e3; padding: .25rem .5rem; text-align: right; }
table.data th { background: #eef2f7; }
table.data td:first-child, table.data th:first-child { text-align: left; }
p.note { font-size: .85rem; color: #4a5a6a; }
footer { font-size: .8rem; color: #4a5a6a; padding: 1rem 2rem; border-top: 1px solid #cfd8e3; }
"""


@dataclass
class Section:
    """One titled section of the report."""

    title: str
    anchor: str
    parts: list[str] = field(default_factory=list)

    def text(self, paragraph: str, *, note: bool = False) -> Section:
        """Add a paragraph (plain text, escaped)."""
        css = ' class="note"' if note else ""
        self.parts.append(f"<p{css}>{html.escape(paragraph)}</p>")
        return self

    def table(self, frame: pd.DataFrame, *, caption: str | None = None, float_format: str = "{:.3g}") -> Section:
        """Add a table; floats are shown with ``float_format``; missing values as an em dash."""

        def fmt(value: Any) -> str:
            if value is None or (isinstance(value, float) and value != value):
                return "—"
            if isinstance(value, float):
                return float_format.format(value)
            return str(value)

        shown = frame.copy()
        for column in shown.columns:
            shown[column] = shown[column].map(fmt)
        body = shown.to_html(index=False, classes="data", border=0, escape=True)
        if caption:
            body = f"<p><strong>{html.escape(caption)}</strong></p>{body}"
        self.parts.append(body)
        return self

    def figure(self, fig: go.Figure) -> Section:
        """Add a plotly figure (its script uses the plotly.js embedded once in the document)."""
        self.parts.append(fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False}))
        return self


@dataclass
class Document:
    """An HTML report made of sections."""

    title: str
    subtitle: str = ""
    sections: list[Section] = field(default_factory=list)
    footer: str = ""

    def section(self, title: str) -> Section:
        """Start a new section and return it."""
        anchor = "s" + str(len(self.sections) + 1)
        created = Section(title=title, anchor=anchor)
        self.sections.append(created)
        return created

    def render(self) -> str:
        """The whole document as one self-contained HTML string."""
        nav = "".join(f'<a href="#{s.anchor}">{html.escape(s.title)}</a>' for s in self.sections)
        body = "".join(
            f'<section id="{s.anchor}"><h2>{html.escape(s.title)}</h2>{"".join(s.parts)}</section>'
            for s in self.sections
        )
        generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        return (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(self.title)}</title>"
            f'<style>{_STYLE}</style><script type="text/javascript">{get_plotlyjs()}</script></head><body>'
            f"<header><h1>{html.escape(self.title)}</h1><p>{html.escape(self.subtitle)}</p></header>"
            f"<nav>{nav}</nav><main>{body}</main>"
            f"<footer>{html.escape(self.footer)} Generated {generated}.</footer></body></html>\n"
        )

    def write(self, path: str | Path) -> Path:
        """Write the document to ``path`` (UTF-8) and return the path."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(self.render(), encoding="utf-8")
        return target


def html_to_pdf(report: str | Path, pdf: str | Path | None = None, *, browser: str | None = None) -> Path:
    """Print a written HTML report to PDF with a headless Chromium (Playwright), A4, backgrounds on.

    ``browser`` is the Chromium executable (default: ``chromium``/``chromium-browser``/``google-chrome`` on
    the PATH). Without an installed browser this raises :class:`~immunoreset.errors.ImmunoresetError` with
    what to install; the HTML report itself never needs one.
    """
    import shutil

    from immunoreset.errors import ImmunoresetError

    source = Path(report).resolve()
    target = Path(pdf) if pdf is not None else source.with_suffix(".pdf")
    executable = browser or next(
        (found for name in ("chromium", "chromium-browser", "google-chrome") if (found := shutil.which(name))), None
    )
    if executable is None:
        raise ImmunoresetError("PDF needs a headless Chromium: install Debian 'chromium' (the HTML report is written)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise ImmunoresetError("PDF needs the 'playwright' package: pip install playwright") from None
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=executable, args=["--no-sandbox", "--disable-gpu"])
        page = launched.new_page(viewport={"width": 1200, "height": 900})
        page.goto(source.as_uri())
        page.wait_for_load_state("load")
        if page.locator(".js-plotly-plot").count():
            page.wait_for_selector(".js-plotly-plot .main-svg", timeout=60000)
        page.emulate_media(media="screen")
        page.pdf(path=str(target), format="A4", print_background=True, margin={"top": "12mm", "bottom": "12mm"})
        launched.close()
    return target
