"""Documentation stays in step with the code: every registered instrument is documented."""

from __future__ import annotations

from pathlib import Path

from immunoreset import instruments

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_every_instrument_has_a_section_in_docs() -> None:
    # docs/instruments-*.md are sections still to be merged into instruments.md
    text = "".join(p.read_text(encoding="utf-8") for p in sorted(DOCS.glob("instruments*.md")))
    missing = [i.name for i in instruments.all_instruments() if f"`{i.name}`" not in text]
    assert missing == []


def test_every_instrument_cites_a_year_and_documents_its_options() -> None:
    for item in instruments.all_instruments():
        assert any(str(year) in item.source for year in range(1934, 2030)), item.name
        for name, field in item.options_model.model_fields.items():
            assert field.description or field.default is not None, f"{item.name}.{name}"
