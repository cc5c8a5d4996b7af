"""Tumour-board summary: an Assessment as Markdown or printable self-contained HTML."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from crlm.clinical.assess import Assessment
from crlm.clinical.vocabulary import value_label
from crlm.domain import Patient
from crlm.evidence import resolve
from crlm.safe_output import markdown_text

SCORE_TITLES = OrderedDict(
    [
        ("fong_crs", "Fong clinical risk score (0–5)"),
        ("nordlinger", "Nordlinger score (0–7)"),
        ("tumor_burden_score", "Tumour burden score"),
        ("game", "GAME score (0–7)"),
        ("mcs", "Modified clinical score, m-CS (0–3)"),
        ("contour_5y_os", "Contour model, 5-year OS %"),
        ("pathway_grade", "Pathway-centric grade"),
    ]
)
TOPIC_TITLES = {
    "sequencing": "Treatment sequencing (synchronous rectal primary)",
    "schedule": "Locally advanced rectal primary: liver-first vs M1 schedule",
    "resection": "Resection strategy",
    "ablation": "Ablation",
    "systemic": "Systemic therapy",
    "unresectable": "Unresectable disease and transplantation",
    "transplant": "Transplantation",
    "surveillance": "Surveillance",
    "imaging": "Imaging",
}


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return str(value)


def _synopsis(p: Patient) -> list[tuple[str, str]]:
    rows = [
        ("Patient", p.id or "—"),
        ("Age / sex", f"{_fmt(p.age_years)} y / {p.sex.value if p.sex else '—'}"),
        ("Primary", " ".join(x for x in [
            p.primary.site.value.replace("_", " ") if p.primary.site else "site unknown",
            p.primary.t_category or "", p.primary.n_category or "",
            (f"{_fmt(p.primary.distance_from_anal_verge_cm)} cm from anal verge"
             if p.primary.distance_from_anal_verge_cm is not None else "")] if x)),
        ("Liver metastases", ", ".join(x for x in [
            p.liver.timing.value if p.liver.timing else "",
            f"{p.liver.number_of_metastases} lesion(s)"
            if p.liver.number_of_metastases is not None else "number unknown",
            f"largest {_fmt(p.liver.largest_cm)} cm" if p.liver.largest_cm else "",
            "bilobar" if p.liver.bilobar else ""] if x)),
        ("Planned liver procedures",
         ", ".join(x.value.replace("_", " ") for x in p.liver.planned_procedures or []) or "—"),
        ("Extrahepatic disease", _fmt(p.extrahepatic_disease)),
        ("CEA", f"{_fmt(p.labs.cea_ng_ml)} ng/mL"),
        ("Molecular", ", ".join(f"{g.upper()} {getattr(p.molecular, g).value}"
                                for g in ("kras", "nras", "braf", "tp53", "msi", "her2")
                                if getattr(p.molecular, g) is not None) or "—"),
        ("Chemotherapy", ", ".join(x for x in [
            value_label(p.chemotherapy.regimen) if p.chemotherapy.regimen else "",
            f"{p.chemotherapy.prehepatectomy_cycles} cycles"
            if p.chemotherapy.prehepatectomy_cycles is not None else "",
            f"response {p.chemotherapy.response.value}" if p.chemotherapy.response else ""]
            if x) or "—"),
    ]
    return rows


def context(assessment: Assessment, patient: Patient) -> dict[str, Any]:
    """Everything the templates show, in display order (shared by CLI and web)."""
    numbers = {key: i + 1 for i, key in enumerate(assessment.evidence)}
    topics: dict[str, list[Any]] = OrderedDict()
    for item in assessment.advice:
        topics.setdefault(item.topic, []).append(item)
    scores = [(SCORE_TITLES.get(k, k), s) for k, s in assessment.scores.items()]
    return {
        "a": assessment,
        "synopsis": _synopsis(patient),
        "scores": scores,
        "topics": [(TOPIC_TITLES.get(t, t.title()), items) for t, items in topics.items()],
        "references": [(numbers[k], resolve(k)) for k in assessment.evidence],
        "ref": lambda keys: ", ".join(str(numbers[k]) for k in keys),
        "fmt": _fmt,
    }


_env = Environment(
    loader=PackageLoader("crlm.reports", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
#: Markdown has no autoescape: every value placed in it loses its power to open raw HTML.
_md_env = _env.overlay(finalize=markdown_text)


def render(assessment: Assessment, patient: Patient, fmt: str = "markdown") -> str:
    """The tumour-board summary as ``markdown`` or ``html``."""
    env, name = {"markdown": (_md_env, "tumour_board.md"),
                 "html": (_env, "tumour_board.html")}[fmt]
    return env.get_template(name).render(**context(assessment, patient))
