"""Decision rules: one module per topic; :func:`evaluate_rules` runs them all."""

from __future__ import annotations

from crlm.clinical.rules.base import Advice, Findings, Strength
from crlm.domain import Patient


def evaluate_rules(patient: Patient, findings: Findings) -> list[Advice]:
    """Every advice, warning and information item for this patient, in topic order."""
    return []


__all__ = ["Advice", "Findings", "Strength", "evaluate_rules"]
