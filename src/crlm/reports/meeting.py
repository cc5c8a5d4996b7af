"""One tumour-board document for an MDT meeting: a cover with the list of patients, then each
patient's tumour-board summary (:func:`crlm.reports.tumour_board.render`), as one PDF.

PDF by WeasyPrint: each document is laid out on its own (so a patient always starts on a new
page) and the pages are joined into one file.
"""

from __future__ import annotations

import datetime as dt
from html import escape
from typing import Any

from crlm.domain import Patient


def cover_html(date: dt.date, centre: str, title: str | None,
               patients: list[tuple[int, Patient]]) -> str:
    """The cover page: meeting, date, centre and the numbered list of patients."""
    items = "".join(
        f"<li>Patient #{pid}{' · ' + escape(p.id) if p.id else ''}"
        f"{f', {p.age_years:.0f} years' if p.age_years is not None else ''}"
        f"{', ' + escape(p.sex.value) if p.sex else ''}</li>"
        for pid, p in patients
    )
    heading = escape(title) if title else "MDT meeting"
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><style>"
        "body{font-family:'DejaVu Sans',sans-serif;font-size:11pt}"
        "h1{border-bottom:2px solid #15304f}</style></head><body>"
        f"<h1>{heading}</h1><p>Centre {escape(centre)} · {date.isoformat()} · "
        f"{len(patients)} patient{'s' if len(patients) != 1 else ''}</p>"
        f"<ol>{items}</ol><p>Each patient's tumour-board summary follows on its own pages.</p>"
        "</body></html>"
    )


def meeting_document(date: dt.date, centre: str, title: str | None,
                     patients: list[tuple[int, Patient]]) -> tuple[Any, list[int]]:
    """The laid-out WeasyPrint document and the first page (0-based) of each part."""
    from weasyprint import HTML

    from crlm.clinical.assess import assess
    from crlm.reports.tumour_board import render

    documents = [HTML(string=cover_html(date, centre, title, patients)).render()]
    documents += [HTML(string=render(assess(p), p, fmt="html")).render() for _, p in patients]
    starts, pages = [], []
    for document in documents:
        starts.append(len(pages))
        pages += document.pages
    return documents[0].copy(pages), starts


def meeting_pdf(date: dt.date, centre: str, title: str | None,
                patients: list[tuple[int, Patient]]) -> bytes:
    """The meeting's PDF: cover, then one tumour-board summary per patient."""
    return meeting_document(date, centre, title, patients)[0].write_pdf()
