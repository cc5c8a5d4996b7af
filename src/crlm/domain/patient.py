"""Patient model: the input contract of ``crlm assess`` and ``POST /api/v1/assess``.

Units live in field names. Unknown fields are rejected; a field that is absent (or ``null``)
means *unknown* and is never replaced by a default. Molecular values may also say ``"unknown"``
explicitly, which means the same as absent.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from crlm.domain.dates import PastDate, PlannableDate
from crlm.domain.treatment import (
    ClavienDindo,
    HepatectomyProcedure,
    IsglsPhlf,
    PrimaryProcedure,
    RecurrenceSiteCode,
    RegimenCode,
    Response,
    TreatmentEvent,
)


class StrictModel(BaseModel):
    """Base for every clinical input: unknown fields are an error, values are never coerced."""

    model_config = ConfigDict(extra="forbid", strict=False, frozen=False)


# ---------------------------------------------------------------------------- vocabularies


class Sex(StrEnum):
    male = "male"
    female = "female"


class PrimarySite(StrEnum):
    rectum = "rectum"
    right_colon = "right_colon"
    left_colon = "left_colon"
    transverse_colon = "transverse_colon"



class Symptom(StrEnum):
    bleeding = "bleeding"
    obstruction = "obstruction"
    perforation = "perforation"
    pain = "pain"
    anaemia = "anaemia"
    change_in_bowel_habit = "change_in_bowel_habit"
    weight_loss = "weight_loss"
    none = "none"


class Timing(StrEnum):
    synchronous = "synchronous"
    metachronous = "metachronous"



class Resectability(StrEnum):
    resectable = "resectable"
    borderline = "borderline"
    unresectable = "unresectable"


class Mutation(StrEnum):
    mutant = "mutant"
    wildtype = "wildtype"
    unknown = "unknown"


class BrafStatus(StrEnum):
    v600e = "v600e"
    non_v600e = "non_v600e"
    wildtype = "wildtype"
    unknown = "unknown"


class MsiStatus(StrEnum):
    msi_high = "msi_high"
    mss = "mss"
    unknown = "unknown"


class Her2Status(StrEnum):
    amplified = "amplified"
    not_amplified = "not_amplified"
    unknown = "unknown"



class LiverCondition(StrEnum):
    normal = "normal"
    chemotherapy_injured = "chemotherapy_injured"
    cirrhosis = "cirrhosis"




class VitalStatus(StrEnum):
    alive = "alive"
    dead = "dead"


# ---------------------------------------------------------------------------- value types

AgeYears = Annotated[float, Field(ge=18, le=110, description="Age in years (18–110).")]
HeightCm = Annotated[float, Field(ge=100, le=250, description="Height in cm (100–250).")]
WeightKg = Annotated[float, Field(ge=25, le=350, description="Weight in kg (25–350).")]
DiameterCm = Annotated[
    float, Field(gt=0, le=30, description="Diameter in cm: greater than 0, at most 30 cm.")
]
VolumeMl = Annotated[float, Field(gt=0, le=5000, description="Volume in mL (0–5000).")]
NonNegative = Annotated[float, Field(ge=0)]
#: Longest free-text note a patient record holds.
NOTES_MAX_CHARS = 10_000


# ---------------------------------------------------------------------------- sections


class PrimaryTumour(StrictModel):
    site: PrimarySite | None = None
    distance_from_anal_verge_cm: Annotated[float, Field(ge=0, le=30)] | None = None
    t_category: Annotated[str, Field(pattern=r"^T(is|x|0|1|2|3|4|4a|4b)$")] | None = None
    n_category: Annotated[str, Field(pattern=r"^N(x|0|1|1a|1b|1c|2|2a|2b)$")] | None = None
    node_positive: bool | None = None
    serosal_invasion: bool | None = None
    symptoms: list[Symptom] | None = None
    resected: bool | None = None
    date_of_diagnosis: PastDate | None = None
    planned_procedure: PrimaryProcedure | None = None
    easily_resectable: bool | None = Field(
        default=None, description="MDT judges the primary easily resectable (upper rectum)."
    )
    clinical_complete_response: bool | None = Field(
        default=None, description="Complete clinical response of the primary after treatment."
    )
    locally_advanced: bool | None = Field(
        default=None, description="Locally advanced rectal cancer (e.g. cT3-4 and/or N+, MRF+)."
    )
    declines_chemotherapy_before_resection: bool | None = Field(
        default=None,
        description=(
            "Patient cannot accept chemotherapy without prior rectal resection "
            "(Maki 2023a: an indication for the classic approach)."
        ),
    )

    @model_validator(mode="after")
    def _node_status_consistent(self) -> Self:
        if self.node_positive is not None and self.n_category in {"N0"} and self.node_positive:
            raise ValueError("node_positive is true but n_category is N0")
        if (
            self.node_positive is False
            and self.n_category is not None
            and self.n_category.startswith(("N1", "N2"))
        ):
            raise ValueError(f"node_positive is false but n_category is {self.n_category}")
        return self

    @property
    def is_node_positive(self) -> bool | None:
        """Node status from the explicit flag, else from the N category; None if unknown."""
        if self.node_positive is not None:
            return self.node_positive
        if self.n_category is None or self.n_category == "Nx":
            return None
        return self.n_category != "N0"


class Lesion(StrictModel):
    segment: Annotated[int, Field(ge=1, le=8)] | None = None
    diameter_cm: DiameterCm | None = None
    deep: bool | None = Field(default=None, description="Deep-seated (not visible on surface).")


class LiverDisease(StrictModel):
    timing: Timing | None = None
    disease_free_interval_months: Annotated[float, Field(ge=0, le=600)] | None = None
    number_of_metastases: Annotated[int, Field(ge=0, le=200)] | None = None
    largest_diameter_cm: DiameterCm | None = None
    bilobar: bool | None = None
    lesions: list[Lesion] | None = None
    planned_procedures: list[HepatectomyProcedure] | None = None
    planned_ablation: bool | None = None
    margin_mm: Annotated[float, Field(ge=0, le=200)] | None = None
    resectability: Resectability | None = None
    prior_two_stage_hepatectomy: bool | None = None
    extensive_disease: bool | None = Field(
        default=None,
        description=(
            "MDT judges the liver disease extensive (Maki 2023b and the Dutch LFA vs M1 study "
            "give no numeric cut-off)."
        ),
    )
    intrahepatic_progression: bool | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.lesions:
            if self.number_of_metastases is not None and len(self.lesions) > (
                self.number_of_metastases
            ):
                raise ValueError(
                    f"number_of_metastases is {self.number_of_metastases} but "
                    f"{len(self.lesions)} lesions are listed"
                )
            sizes = [les.diameter_cm for les in self.lesions if les.diameter_cm is not None]
            if sizes and self.largest_diameter_cm is not None and max(sizes) > (
                self.largest_diameter_cm
            ):
                raise ValueError(
                    f"largest_diameter_cm is {self.largest_diameter_cm} but a lesion "
                    f"measures {max(sizes)} cm"
                )
        if self.timing == Timing.synchronous and (self.disease_free_interval_months or 0) > 6:
            raise ValueError(
                "timing is synchronous but disease_free_interval_months is "
                f"{self.disease_free_interval_months} (> 6)"
            )
        return self

    @property
    def metastasis_count(self) -> int | None:
        """Number of metastases: the stated count, else the number of listed lesions."""
        if self.number_of_metastases is not None:
            return self.number_of_metastases
        return None

    @property
    def largest_cm(self) -> float | None:
        """Largest diameter: the stated value, else the largest lesion when all are measured."""
        if self.largest_diameter_cm is not None:
            return self.largest_diameter_cm
        if (
            self.lesions
            and self.number_of_metastases == len(self.lesions)
            and all(les.diameter_cm is not None for les in self.lesions)
        ):
            return max(les.diameter_cm for les in self.lesions)  # type: ignore[type-var]
        return None


class Labs(StrictModel):
    cea_ng_ml: Annotated[float, Field(ge=0, le=100000)] | None = None
    ca19_9_u_ml: Annotated[float, Field(ge=0, le=1000000)] | None = None
    bilirubin_mg_dl: Annotated[float, Field(ge=0, le=50)] | None = None
    albumin_g_dl: Annotated[float, Field(ge=0.5, le=7)] | None = None
    icg_r15_percent: Annotated[float, Field(ge=0, le=100)] | None = None
    platelets_10e9_l: Annotated[float, Field(ge=0, le=2000)] | None = None
    inr: Annotated[float, Field(ge=0.5, le=15)] | None = None


class Molecular(StrictModel):
    kras: Mutation | None = None
    nras: Mutation | None = None
    braf: BrafStatus | None = None
    tp53: Mutation | None = None
    smad4: Mutation | None = None
    apc: Mutation | None = None
    fbxw7: Mutation | None = None
    msi: MsiStatus | None = None
    her2: Her2Status | None = None

    @property
    def ras(self) -> Mutation | None:
        """RAS (KRAS or NRAS): mutant if either is; wild type only if both are; else unknown."""
        k, n = self.kras, self.nras
        if Mutation.mutant in (k, n):
            return Mutation.mutant
        if k == Mutation.wildtype and n == Mutation.wildtype:
            return Mutation.wildtype
        return None


class Chemotherapy(StrictModel):
    prehepatectomy_cycles: Annotated[int, Field(ge=0, le=100)] | None = None
    duration_weeks: Annotated[float, Field(ge=0, le=520)] | None = None
    regimen: RegimenCode | None = Field(
        default=None, description="Cytotoxic backbone, coded (targeted agents: anti-VEGF/EGFR)."
    )
    anti_vegf: bool | None = None
    anti_egfr: bool | None = None
    response: Response | None = None
    lines: Annotated[int, Field(ge=0, le=10)] | None = None


class Volumetry(StrictModel):
    total_liver_volume_ml: VolumeMl | None = None
    flr_volume_ml: VolumeMl | None = None
    flr_volume_after_pve_ml: VolumeMl | None = None
    weeks_after_pve: Annotated[float, Field(gt=0, le=52)] | None = None
    liver_condition: LiverCondition | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        tlv = self.total_liver_volume_ml
        for name in ("flr_volume_ml", "flr_volume_after_pve_ml"):
            v = getattr(self, name)
            if tlv is not None and v is not None and v > tlv:
                raise ValueError(f"{name} ({v} mL) exceeds total_liver_volume_ml ({tlv} mL)")
        if (self.flr_volume_after_pve_ml is None) != (self.weeks_after_pve is None):
            # one without the other cannot give a growth rate, but is still valid data
            pass
        return self


class Operation(StrictModel):
    date: PlannableDate | None = None
    kind: Annotated[str, Field(pattern=r"^(hepatectomy|primary_resection|ablation|pve|other)$")]
    procedures: list[HepatectomyProcedure] | None = None
    margin_mm: Annotated[float, Field(ge=0, le=200)] | None = None
    clavien_dindo: ClavienDindo | None = None
    isgls_phlf: IsglsPhlf | None = None


class Outcome(StrictModel):
    date_last_follow_up: PastDate | None = None
    vital_status: VitalStatus | None = None
    date_of_death: PastDate | None = None
    date_of_recurrence: PastDate | None = None
    recurrence_sites: list[RecurrenceSiteCode] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.date_of_death is not None and self.vital_status == VitalStatus.alive:
            raise ValueError("date_of_death is given but vital_status is alive")
        if (
            self.date_of_death is not None
            and self.date_last_follow_up is not None
            and self.date_last_follow_up > self.date_of_death
        ):
            raise ValueError("date_last_follow_up is after date_of_death")
        if (
            self.date_of_recurrence is not None
            and self.date_last_follow_up is not None
            and self.date_of_recurrence > self.date_last_follow_up
        ):
            raise ValueError("date_of_recurrence is after date_last_follow_up")
        return self


class Patient(StrictModel):
    """One CRLM patient as the MDT sees them. Every field is optional; absent means unknown."""

    id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")] | None = (
        None
    )
    age_years: AgeYears | None = None
    sex: Sex | None = None
    height_cm: HeightCm | None = None
    weight_kg: WeightKg | None = None
    assessment_date: PlannableDate | None = Field(
        default=None,
        description="Date of the MDT assessment; rules that need 'today' use it, never the clock.",
    )
    primary: PrimaryTumour = Field(default_factory=PrimaryTumour)
    liver: LiverDisease = Field(default_factory=LiverDisease)
    extrahepatic_disease: bool | None = None
    labs: Labs = Field(default_factory=Labs)
    molecular: Molecular = Field(default_factory=Molecular)
    chemotherapy: Chemotherapy = Field(default_factory=Chemotherapy)
    volumetry: Volumetry = Field(default_factory=Volumetry)
    operations: list[Operation] | None = None
    treatments: list[TreatmentEvent] | None = Field(
        default=None,
        description="The treatment timeline: dated systemic therapy, radiotherapy, PVE/ALPPS, "
        "hepatectomies, primary resection, ablation and recurrence.",
    )
    outcome: Outcome = Field(default_factory=Outcome)
    notes: Annotated[str, Field(min_length=1, max_length=NOTES_MAX_CHARS)] | None = Field(
        default=None,
        description="Free text for the team. Kept in the registry and its full export; never "
        "part of a de-identified export.",
    )

    @model_validator(mode="after")
    def _dates_in_order(self) -> Self:
        """Diagnosis ≤ every operation ≤ last follow-up / death."""
        diagnosis = self.primary.date_of_diagnosis
        op_dates = [op.date for op in self.operations or [] if op.date is not None]
        op_dates += [d for ev in self.treatments or [] for d in (ev.date, ev.end_date)
                     if d is not None]
        end = self.outcome.date_last_follow_up or self.outcome.date_of_death
        for d in op_dates:
            if diagnosis is not None and d < diagnosis:
                raise ValueError(
                    f"treatment date {d} is before primary.date_of_diagnosis {diagnosis}"
                )
            if end is not None and d > end:
                raise ValueError(f"treatment date {d} is after the last follow-up/death {end}")
        if diagnosis is not None and end is not None and end < diagnosis:
            raise ValueError(f"last follow-up/death {end} is before date_of_diagnosis {diagnosis}")
        if (diagnosis is not None and self.assessment_date is not None
                and diagnosis > self.assessment_date):
            raise ValueError(f"primary.date_of_diagnosis {diagnosis} is after the assessment "
                             f"date {self.assessment_date}")
        return self
