"""Ablation margin by RAS status (Maki 2023b, Odisio 2017): exactly one margin code per patient."""

from __future__ import annotations

from collections.abc import Iterator

from crlm.clinical.phase import BEFORE_LIVER_TREATMENT, Phase
from crlm.clinical.rules._facts import ras_text
from crlm.clinical.rules.base import Findings, Strength
from crlm.clinical.rules.registry import Item, rule
from crlm.domain import Patient
from crlm.domain.patient import Mutation

TOPIC = "ablation"

MARGIN_RAS_WILDTYPE_MM = 5
MARGIN_RAS_MUTANT_OR_UNKNOWN_MM = 10


@rule(
    topic=TOPIC,
    codes=["ablation.margin_5mm", "ablation.margin_10mm"],
    trigger="every patient: RAS wild type → 5 mm; RAS mutant or unknown → 10 mm",
    evidence=["maki2023_locoregional", "odisio2017_ablation"],
    phases=BEFORE_LIVER_TREATMENT | {Phase.between_stages},
    excludes={
        "ablation.margin_5mm": ["ablation.margin_10mm"],
        "ablation.margin_10mm": ["ablation.margin_5mm"],
    },
)
def ablation_margin(patient: Patient, findings: Findings) -> Iterator[Item]:
    """Minimum ablation margin: 5 mm for RAS wild type, 10 mm for RAS mutant or unknown."""
    ras = patient.molecular.ras
    planned = patient.liver.planned_ablation is True
    kind = "advice" if planned else "information"
    context = "ablation planned" if planned else "if ablation is used"
    facts = (
        "margins < 5 mm (HR 2.48) and RAS alteration (HR 3.01) independently predicted local "
        "tumour progression (Odisio 2017, Maki 2023b)"
    )
    if ras == Mutation.wildtype:
        yield Item(
            code="ablation.margin_5mm",
            recommendation=f"Aim for an ablation margin of at least {MARGIN_RAS_WILDTYPE_MM} mm "
            f"({context}).",
            rationale=f"{ras_text(patient)} → {MARGIN_RAS_WILDTYPE_MM} mm suffices; {facts}.",
            strength=Strength.moderate,
            kind=kind,
            details={"margin_mm": MARGIN_RAS_WILDTYPE_MM, "ras": "wildtype"},
        )
        return
    missing = [] if ras == Mutation.mutant else ["molecular.kras", "molecular.nras"]
    reason = (
        "RAS mutant" if ras == Mutation.mutant
        else "RAS status unknown, so the mutant margin applies until tested"
    )
    yield Item(
        code="ablation.margin_10mm",
        recommendation=f"Aim for an ablation margin of at least "
        f"{MARGIN_RAS_MUTANT_OR_UNKNOWN_MM} mm ({context}).",
        rationale=f"{ras_text(patient)}: {reason} → {MARGIN_RAS_MUTANT_OR_UNKNOWN_MM} mm; "
        f"{facts}.",
        strength=Strength.moderate,
        kind=kind,
        details={
            "margin_mm": MARGIN_RAS_MUTANT_OR_UNKNOWN_MM,
            "ras": "mutant" if ras == Mutation.mutant else "unknown",
            "missing": missing,
        },
    )
