"""The shape every decision rule returns, and the derived findings rules read.

A rule is a pure function ``(patient, findings) -> list[Advice]``. ``Findings`` carries what the
clinical core has already derived (complexity grade, volumetry, scores), so rules never
recompute it and can be tested with hand-made findings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from crlm.clinical.phase import Phase
from crlm.clinical.timeline import SystemicExposure, Timeline
from crlm.evidence import resolve


class Strength(StrEnum):
    """How firmly an item is stated (certainty of the underlying evidence)."""

    strong = "strong"  # guideline / consensus recommendation or randomised evidence
    moderate = "moderate"  # consistent observational evidence from expert centres
    weak = "weak"  # single-centre / retrospective, option to discuss
    information = "information"  # context for the MDT, not a recommendation


class Advice(BaseModel):
    """One statement for the MDT: stable code, what to do, why (from this patient's data)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=r"^[a-z_]+\.[a-z0-9_]+$")
    topic: str
    recommendation: str
    rationale: str
    strength: Strength
    evidence: list[str] = Field(min_length=1)
    kind: Literal["advice", "warning", "information", "disagreement"] = "advice"
    details: dict[str, Any] = Field(default_factory=dict)

    @field_validator("evidence")
    @classmethod
    def _evidence_resolves(cls, keys: list[str]) -> list[str]:
        for k in keys:
            resolve(k)
        return keys


@dataclass(frozen=True)
class Findings:
    """Facts the clinical core derived before the rules run (``None`` = unknown)."""

    phase: Phase = Phase.workup
    timeline: Timeline = field(
        default_factory=lambda: Timeline(events=(), recorded=False,
                                         preoperative=SystemicExposure(given=None)))
    complexity_grade: Literal["I", "II", "III"] | None = None
    major_hepatectomy: bool | None = None
    flr_percent: float | None = None
    flr_threshold_percent: float | None = None
    flr_adequate: bool | None = None
    flr_threshold_missing: tuple[str, ...] = ()
    kinetic_growth_rate_percent_per_week: float | None = None
    tumour_burden_score: float | None = None
    scores: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
