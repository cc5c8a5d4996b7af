"""Helpers shared by the rule tests (patients as dicts, findings by hand)."""

from __future__ import annotations

from typing import Any

from crlm.clinical.phase import current_phase
from crlm.clinical.rules import Advice, Findings, evaluate_rules
from crlm.clinical.timeline import build_timeline
from crlm.domain import parse_patient


def run(patient: dict[str, Any], **findings: Any) -> list[Advice]:
    """All advice for a patient dict and hand-made findings; the timeline and the phase are
    derived from the patient as ``assess`` does, unless the test gives them."""
    p = parse_patient(patient)
    timeline = findings.setdefault("timeline", build_timeline(p))
    findings.setdefault("phase", current_phase(p, timeline).phase)
    return evaluate_rules(p, Findings(**findings))


def codes(patient: dict[str, Any], **findings: Any) -> list[str]:
    return [a.code for a in run(patient, **findings)]


def one(advice: list[Advice], code: str) -> Advice:
    """The single item with ``code`` (fails if absent or repeated)."""
    hits = [a for a in advice if a.code == code]
    assert len(hits) == 1, f"{code}: {len(hits)} items in {[a.code for a in advice]}"
    return hits[0]


def rectal(distance_cm: float | None = None, **primary: Any) -> dict[str, Any]:
    """A synchronous rectal patient; ``primary`` and liver keys may be overridden."""
    liver = primary.pop("liver", {})
    prim: dict[str, Any] = {"site": "rectum", "resected": False, **primary}
    if distance_cm is not None:
        prim["distance_from_anal_verge_cm"] = distance_cm
    return {"primary": prim, "liver": {"timing": "synchronous", **liver}}
