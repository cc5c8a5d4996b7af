"""Decision rules: one module per topic; :func:`evaluate_rules` runs them all.

Every rule is declared once with :func:`crlm.clinical.rules.registry.rule`; that declaration
drives both the run and the catalogue (:mod:`crlm.clinical.rules.catalogue`).
"""

from __future__ import annotations

from crlm.clinical.rules import (  # noqa: F401  (importing a topic module registers its rules)
    ablation,
    imaging,
    resection,
    schedule,
    sequencing,
    surveillance,
    systemic,
    unresectable,
)
from crlm.clinical.rules.base import Advice, Findings, Strength
from crlm.clinical.rules.registry import TOPIC_ORDER, all_rules, evaluate_all
from crlm.domain import Patient


def evaluate_rules(patient: Patient, findings: Findings) -> list[Advice]:
    """Every advice, warning and information item for this patient, in topic order."""
    return evaluate_all(patient, findings)


__all__ = ["TOPIC_ORDER", "Advice", "Findings", "Strength", "all_rules", "evaluate_rules"]
