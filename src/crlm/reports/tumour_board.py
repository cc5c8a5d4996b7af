"""Tumour-board summary: the plan first (bottom line, next steps, open decisions, alternatives,
disagreements), the evidence after (scores, volumetry, complexity, advice by topic, references).

One document in three renderings — Markdown, printable HTML and PDF (WeasyPrint from the same
HTML); the web page's print view is the same HTML. The renderer never computes a clinical fact:
it words the plan with the vocabulary (labels, units, yes/no, one rounding rule per quantity).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jinja2 import Environment

from crlm.clinical.assess import Assessment
from crlm.clinical.plan import DecisionPoint, KeyNumber
from crlm.clinical.vocabulary import (
    PHASES,
    SCORES,
    TOPICS,
    bsa,
    field_label,
    humanize,
    needs,
    number,
    percent,
    rate_per_week,
    value_label,
    volume_ml,
)
from crlm.domain import Patient
from crlm.evidence import resolve

SCORE_RANGES = {"fong_crs": "0–5", "nordlinger": "0–7", "game": "0–7", "mcs": "0–3"}
STRENGTH = {"strong": "strong", "moderate": "moderate", "weak": "weak (option to discuss)",
            "information": "information"}


@dataclass(frozen=True)
class Header:
    """Who and when: shown at the top of every page of the document."""

    patient: str
    centre: str | None = None
    meeting_date: dt.date | None = None
    generated_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))


def cite(keys: list[str]) -> str:
    """``Maki 2023a; AHPBA guideline 2025`` — citations by author and year."""
    seen: list[str] = []
    for k in keys:
        short = resolve(k).short
        if short not in seen:
            seen.append(short)
    return "; ".join(seen)


def _labelled(paths: list[str]) -> list[tuple[str, str]]:
    """(field path, its label) pairs, so a page can link each missing field to its input."""
    return [(p, field_label(p)) for p in paths]


def _sentence(text: str) -> str:
    """Human words, a capital first letter and a full stop."""
    text = humanize(text).strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?", ")")) else text + "."


def _key_number(k: KeyNumber) -> tuple[str, str]:
    names = {"fong_crs": "Fong clinical risk score", "complexity_grade": "Hepatectomy "
             "complexity", "flr_percent": "Standardized FLR", "kinetic_growth_rate":
             "Kinetic growth rate", "chemotherapy_weeks": "Preoperative chemotherapy"}
    v = k.value
    if k.name == "flr_percent" and isinstance(v, float):
        text = percent(v)
    elif k.name == "kinetic_growth_rate" and isinstance(v, float):
        text = rate_per_week(v)
    elif k.name == "chemotherapy_weeks" and isinstance(v, float):
        text = f"{number(v, 0)} weeks"
    elif k.name == "complexity_grade":
        text = f"grade {v}"
    elif isinstance(v, float):
        text = number(v)
    else:
        text = str(v)
    if k.note:
        text += f" ({humanize(k.note)})"
    return names.get(k.name, humanize(k.name)), text


def _synopsis(p: Patient) -> list[tuple[str, str]]:
    pr, lv, m = p.primary, p.liver, p.molecular
    primary = [value_label(pr.site) if pr.site else "site unknown"]
    primary += [x for x in (pr.t_category, pr.n_category) if x]
    if pr.distance_from_anal_verge_cm is not None:
        primary.append(f"{number(pr.distance_from_anal_verge_cm)} cm from the anal verge")
    if pr.resected is not None:
        primary.append("resected" if pr.resected else "in place")
    if pr.symptoms:
        primary.append("symptoms: " + ", ".join(value_label(s) for s in pr.symptoms))
    liver = [value_label(lv.timing) if lv.timing else "timing unknown",
             (f"{lv.number_of_metastases} lesion" + ("" if lv.number_of_metastases == 1 else "s"))
             if lv.number_of_metastases is not None else "number unknown"]
    if lv.largest_cm is not None:
        liver.append(f"largest {number(lv.largest_cm)} cm")
    if lv.bilobar is not None:
        liver.append("bilobar" if lv.bilobar else "unilobar")
    if lv.resectability is not None:
        liver.append(value_label(lv.resectability))
    genes = [("KRAS", m.kras), ("NRAS", m.nras), ("BRAF", m.braf), ("TP53", m.tp53),
             ("SMAD4", m.smad4), ("MSI", m.msi), ("HER2", m.her2)]
    rows = [
        ("Age, sex", ", ".join(x for x in (
            f"{number(p.age_years, 0)} years" if p.age_years is not None else "age unknown",
            value_label(p.sex) if p.sex else "sex unknown") if x)),
        ("Primary tumour", ", ".join(primary)),
        ("Liver metastases", ", ".join(liver)),
        ("Planned liver resection", ", ".join(value_label(x) for x in lv.planned_procedures)
         if lv.planned_procedures else "not given"),
        ("Extrahepatic disease", value_label(p.extrahepatic_disease)),
        ("CEA", f"{number(p.labs.cea_ng_ml)} ng/mL" if p.labs.cea_ng_ml is not None
         else "unknown"),
        ("Molecular", ", ".join(f"{g} {value_label(v)}" for g, v in genes
                                if v is not None) or "not tested"),
    ]
    return rows


def _timeline(assessment: Assessment, patient: Patient) -> list[tuple[str, str]]:
    from crlm.clinical.timeline import build_timeline

    out = []
    for e in build_timeline(patient).events:
        when = e.date.isoformat() if e.date else "date unknown"
        if e.end_date:
            when += f" to {e.end_date.isoformat()}"
        parts = [value_label(e.kind)]
        if e.regimen:
            parts.append(value_label(e.regimen) + (f" + {value_label(e.biologic)}"
                                                   if e.biologic and e.biologic.value != "none"
                                                   else ""))
        if e.cycles:
            parts.append(f"{e.cycles} cycles")
        if e.response:
            parts.append(value_label(e.response))
        if e.tumour_size_change_percent is not None:
            parts.append(f"{e.tumour_size_change_percent:+.0f} % in size")
        if e.hepatectomy_stage:
            parts.append(f"stage {e.hepatectomy_stage} of two")
        if e.procedures:
            parts.append(", ".join(value_label(x) for x in e.procedures))
        if e.radiotherapy_course:
            parts.append(value_label(e.radiotherapy_course))
        if e.recurrence_sites:
            parts.append(", ".join(value_label(x) for x in e.recurrence_sites))
        out.append((when, "; ".join(parts)))
    return out


def _scores(assessment: Assessment) -> tuple[list[dict[str, str]], list[str]]:
    """Score rows, and the scores that cannot be computed at all (one line, not a row each)."""
    rows = []
    not_computed: list[str] = []
    for key, s in assessment.scores.items():
        value = "—"
        if s.value is not None:
            value = number(float(s.value), 1) if isinstance(s.value, float) else str(s.value)
        missing = ""
        if s.missing:
            missing = needs(s.missing)
            if s.range:
                missing += f" (possible {number(s.range[0])}–{number(s.range[1])})"
        title = SCORES.get(key, key)
        if key in SCORE_RANGES:
            title += f" ({SCORE_RANGES[key]})"
        if s.value is None and s.risk_group is None and s.range is None and s.missing:
            not_computed.append(f"{SCORES.get(key, key)} ({needs(s.missing)})")
            continue
        rows.append({"title": title, "value": value,
                     "group": value_label(s.risk_group) if s.risk_group else "—",
                     "outcome": humanize(s.expected_outcome or "—"), "missing": missing,
                     "missing_paths": _labelled(s.missing),
                     "source": cite(s.evidence)})
    return rows, not_computed


def _volumetry(assessment: Assessment) -> list[tuple[str, str]]:
    v = assessment.volumetry
    rows = [
        (f"Body surface area ({v.bsa_method.title()})", bsa(v.bsa_m2)),
        ("Standardized total liver volume", volume_ml(v.standardized_tlv_ml)),
        ("Standardized FLR", percent(v.flr_percent)),
    ]
    if v.flr_after_pve_percent is not None:
        rows += [("Standardized FLR after PVE", percent(v.flr_after_pve_percent)),
                 ("Degree of hypertrophy", "unknown" if v.degree_of_hypertrophy_percent is None
                  else f"{v.degree_of_hypertrophy_percent:.1f} percentage points"),
                 ("Kinetic growth rate", rate_per_week(v.kinetic_growth_rate_percent_per_week))]
    threshold = percent(v.flr_threshold_percent) if v.flr_threshold_percent is not None else (
        "undetermined")
    if v.flr_threshold_reason:
        threshold += f" ({humanize(v.flr_threshold_reason)})"
    rows += [("Minimum safe FLR", threshold), ("FLR adequate", value_label(v.flr_adequate))]
    return rows


def context(assessment: Assessment, patient: Patient, header: Header | None = None
            ) -> dict[str, Any]:
    """Everything the templates show, worded and in display order (shared by CLI and web)."""
    header = header or Header(patient=patient.id or "unnamed patient",
                              meeting_date=patient.assessment_date)
    plan = assessment.plan
    numbers = {key: i + 1 for i, key in enumerate(assessment.evidence)}
    warnings = [w for w in assessment.warnings]
    steps = [{"action": _sentence(s.action), "timing": humanize(s.timing or ""),
              "reason": _sentence(s.reason), "source": cite(s.evidence),
              "preparatory": s.preparatory} for s in plan.steps]
    main_steps = [s for s in steps if not s["preparatory"]]
    in_plan = {c for part in (plan.alternatives, plan.disagreements, plan.decision_points)
               for x in part for c in x.codes}
    in_plan |= {c for s in plan.steps if not s.preparatory for c in s.codes}
    topics: dict[str, list[dict[str, str]]] = OrderedDict()
    for item in assessment.advice + assessment.warnings:
        if item.code in in_plan:
            continue  # already stated, with its reason and source, in the plan
        topics.setdefault(TOPICS.get(item.topic, item.topic), []).append({
            "recommendation": _sentence(item.recommendation),
            "rationale": _sentence(item.rationale),
            "strength": STRENGTH[item.strength.value], "source": cite(item.evidence),
            "kind": item.kind})
    complexity = "Not computable: " + needs(["liver.planned_procedures"]) + "."
    if assessment.complexity:
        c = assessment.complexity
        complexity = (f"Grade {c.grade} ({', '.join(value_label(x) for x in c.driving_procedures)})"
                      f"; {'major' if c.major_hepatectomy else 'minor'} hepatectomy "
                      f"({cite(c.evidence)}).")
    return {
        "a": assessment,
        "header": {"patient": header.patient, "centre": header.centre or "not stated",
                   "meeting_date": (header.meeting_date.isoformat() if header.meeting_date
                                    else "not stated"),
                   "generated_at": header.generated_at.strftime("%Y-%m-%d %H:%M UTC"),
                   "version": assessment.crlm_version},
        "phase": PHASES[plan.phase],
        "phase_reasons": humanize("; ".join(plan.phase_reasons)),
        "next_step": main_steps[0] if main_steps else None,
        "no_next_step": ("take the open decisions below" if plan.decision_points else
                         "none follows from the recorded data alone: the MDT decides on the "
                         "plan and evidence below"),
        "key_numbers": [_key_number(k) for k in plan.key_numbers][:4],
        "warnings_short": [_sentence(w.recommendation) for w in warnings],
        "steps": steps,
        "decision_points": [_decision_point(d) for d in plan.decision_points],
        "alternatives": [{"option": _sentence(o.option), "reason": _sentence(o.reason),
                          "source": cite(o.evidence)} for o in plan.alternatives],
        "disagreements": [{"statement": _sentence(d.statement), "reason": _sentence(d.reason),
                           "source": cite(d.evidence)} for d in plan.disagreements],
        "synopsis": _synopsis(patient),
        "timeline": _timeline(assessment, patient),
        "scores": _scores(assessment)[0],
        "scores_not_computed": _scores(assessment)[1],
        "volumetry": _volumetry(assessment),
        "volumetry_missing": (needs(assessment.volumetry.missing)
                              if assessment.volumetry.missing else ""),
        "volumetry_missing_paths": _labelled(assessment.volumetry.missing),
        "volumetry_notes": [_sentence(n) for n in assessment.volumetry.notes],
        "complexity": complexity,
        "molecular": "; ".join(f"{g.upper()} {humanize(str(s))}" for g, s in
                               assessment.molecular_profile.genes.items()),
        "comutation": assessment.molecular_profile.ras_tp53_comutation,
        "topics": list(topics.items()),
        "references": [(numbers[k], resolve(k).short, _short_citation(k))
                       for k in assessment.evidence],
    }


def _decision_point(point: DecisionPoint) -> dict[str, Any]:
    """An open decision as rendered; a question that already says what it needs says it once."""
    question = _sentence(point.question)
    return {"question": question,
            "needs": "" if "needs " in question else needs(point.missing),
            "missing": _labelled(point.missing), "source": cite(point.evidence)}


def _short_citation(key: str) -> str:
    """A reference as a tumour-board handout prints it beside its author-year label: first
    author, journal, year and DOI (the full citation is in ``crlm evidence``)."""
    r = resolve(key)
    names = [a.strip() for a in (r.authors or "").split(",") if a.strip() and a.strip() != "et al."]
    authors = names[0] + (" et al." if len(names) > 1 else "") if names else "Authors not stated"
    parts = [authors, r.journal] + ([str(r.year)] if r.year else [])
    text = ". ".join(p.rstrip(".") for p in parts if p) + "."
    return text + (f" doi:{r.doi}" if r.doi else "")


_MD_SPECIAL = re.compile(r"([`|*])")
_HTML_START = re.compile(r"<(?=[A-Za-z/!?])")


def _md(text: object) -> str:
    """Markdown-safe text: anything that could open raw HTML escaped, table and emphasis
    characters backslashed; ``< 1 cm`` stays readable."""
    text = _HTML_START.sub("&lt;", str(text).replace("&", "&amp;"))
    return _MD_SPECIAL.sub(r"\\\1", text)


@functools.cache
def _env() -> Environment:
    """The template environment, made on first render (``crlm assess`` in JSON needs none)."""
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=PackageLoader("crlm.reports", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["md"] = _md
    return env


def render(assessment: Assessment, patient: Patient, fmt: str = "markdown",
           header: Header | None = None) -> str:
    """The tumour-board summary as ``markdown`` or ``html``."""
    name = {"markdown": "tumour_board.md", "html": "tumour_board.html"}[fmt]
    return _env().get_template(name).render(**context(assessment, patient, header))


def render_pdf(assessment: Assessment, patient: Patient, header: Header | None = None) -> bytes:
    """The same HTML document as A4 PDF (WeasyPrint)."""
    from weasyprint import HTML

    pdf: bytes = HTML(string=render(assessment, patient, "html", header)).write_pdf()
    return pdf
