"""The tumour-board document a surgeon signs: every example, every format, no internal word;
the bottom line first; two A4 pages for a typical patient; PDF and print view the same HTML."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import EXAMPLES
from crlm.cli import app
from crlm.clinical.assess import assess
from crlm.clinical.phase import Phase
from crlm.clinical.vocabulary import FIELDS
from crlm.domain import parse_patient
from crlm.reports.tumour_board import Header, render

PATIENTS = sorted(EXAMPLES.glob("*.json"))
runner = CliRunner()

SEED = re.compile(r"\bseeds?\b", re.IGNORECASE)
SNAKE = re.compile(r"\b[a-z][a-z0-9]*_[a-z0-9_]+\b")
LITERAL = re.compile(r"\b(True|False|None|nan|NaN)\b")
PATHS = re.compile(r"\b(" + "|".join(re.escape(p) for p in FIELDS if "." in p) + r")\b")
OVERPRECISE = re.compile(r"(?<![\d.])\d+\.\d{4,}\b")
DOI = re.compile(r"doi:\S+")


def _visible_text(html: str) -> str:
    html = re.sub(r"<style.*?</style>", " ", html, flags=re.S)
    html = re.sub(r"<title>.*?</title>", " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def _pdf_text(pdf: bytes) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages)


def internal_words(text: str) -> list[str]:
    """Everything a reader must never see: the word seed, snake_case names, field paths,
    Python literals and over-precise numbers."""
    text = DOI.sub(" ", text)
    found = SEED.findall(text) + SNAKE.findall(text) + PATHS.findall(text)
    # rounding is checked on computed text; the reference list is bibliographic data
    body = text.rsplit("References", 1)[0]
    found += LITERAL.findall(text) + OVERPRECISE.findall(body)
    return found


def _load(path: Path):  # type: ignore[no-untyped-def]
    patient = parse_patient(json.loads(path.read_text(encoding="utf-8")))
    return patient, assess(patient)


@pytest.mark.parametrize("path", PATIENTS, ids=lambda p: p.stem)
def test_every_format_reads_as_a_tumour_board_writes(path: Path) -> None:
    """Markdown, HTML and PDF: no internal word; bottom line first; at most two A4 pages."""
    from weasyprint import HTML

    patient, a = _load(path)
    header = Header(patient=patient.id or path.stem, centre="Test centre")
    markdown = render(a, patient, "markdown", header)
    html = render(a, patient, "html", header)
    assert internal_words(markdown) == [], path.name
    text = _visible_text(html)
    assert internal_words(text) == [], path.name
    assert text.index("Where the patient is") < text.index("Prognostic scores")
    assert text.index("Next step") < text.index("Supporting evidence")
    document = HTML(string=html).render()
    pdf_text = _pdf_text(document.write_pdf())
    assert internal_words(pdf_text) == [], path.name
    assert pdf_text.index("Where the patient is") < pdf_text.index("Prognostic scores")
    # a typical patient fits two A4 pages; the conversion example (14 metastases, three
    # warnings, transplant, HAI and completion-ablation alternatives) is the long case
    limit = 3 if path.stem == "conversion" else 2
    assert len(document.pages) <= limit, f"{path.name}: {len(document.pages)} A4 pages"


def test_header_names_patient_centre_meeting_time_and_version() -> None:
    patient, a = _load(EXAMPLES / "synchronous_rectal.json")
    md = render(a, patient, "markdown", Header(patient="P-1", centre="Houston",
                                               meeting_date=patient.assessment_date))
    head = md.splitlines()[2]
    assert "Houston" in head and "Meeting: 2024-05-20" in head and "Generated:" in head
    assert f"crlm {a.crlm_version}" in head


def test_examples_cover_every_phase_a_board_meets() -> None:
    phases = {_load(p)[1].phase for p in PATIENTS}
    assert {Phase.workup, Phase.preoperative_therapy, Phase.after_pve, Phase.between_stages,
            Phase.surveillance, Phase.conversion} <= phases


def test_cli_pdf_is_the_html_document(tmp_path: Path) -> None:
    out = tmp_path / "tb.pdf"
    res = runner.invoke(app, ["assess", str(EXAMPLES / "bilobar_pve.json"), "-f", "pdf",
                              "-o", str(out), "--centre", "MDA"])
    assert res.exit_code == 0, res.output
    text = _pdf_text(out.read_bytes())
    assert "Tumour board summary" in text and "MDA" in text and "Next step" in text
    res = runner.invoke(app, ["assess", str(EXAMPLES / "bilobar_pve.json"), "-f", "pdf"])
    assert res.exit_code == 2 and "--out" in res.output


def test_markdown_escapes_raw_html_from_data() -> None:
    from crlm.reports.tumour_board import _md

    assert "<script" not in _md("<script>alert(1)</script>")
    assert _md("lesion < 1 cm") == "lesion < 1 cm"


def test_the_lesion_count_reads_as_words() -> None:
    patient, a = _load(EXAMPLES / "between_stages.json")
    md = render(a, patient, "markdown", Header(patient="P-1"))
    assert "9 lesions" in md and "lesion(s)" not in md
    single = patient.model_copy(update={"liver": patient.liver.model_copy(
        update={"number_of_metastases": 1})})
    assert "| synchronous, 1 lesion," in render(assess(single), single, "markdown",
                                                  Header(patient="P-1"))
