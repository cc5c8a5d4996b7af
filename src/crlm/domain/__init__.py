"""Typed clinical inputs (pydantic). See :mod:`crlm.domain.patient`."""

from crlm.domain.errors import (
    ValidationProblem,
    format_validation_error,
    parse_patient,
    parse_patients,
)
from crlm.domain.patient import (
    BrafStatus,
    Chemotherapy,
    ClavienDindo,
    HepatectomyProcedure,
    Her2Status,
    IsglsPhlf,
    Labs,
    Lesion,
    LiverCondition,
    LiverDisease,
    Molecular,
    MsiStatus,
    Mutation,
    Operation,
    Outcome,
    Patient,
    PrimaryProcedure,
    PrimarySite,
    PrimaryTumour,
    Resectability,
    Response,
    Sex,
    Symptom,
    Timing,
    VitalStatus,
    Volumetry,
)
from crlm.domain.treatment import (
    Biologic,
    RadiotherapyCourse,
    RecurrenceSite,
    Regimen,
    TherapyIntent,
    TreatmentEvent,
    TreatmentKind,
)

__all__ = [
    "Biologic", "BrafStatus", "Chemotherapy", "ClavienDindo", "HepatectomyProcedure", "Her2Status",
    "IsglsPhlf", "Labs", "Lesion", "LiverCondition", "LiverDisease", "Molecular", "MsiStatus",
    "Mutation", "Operation", "Outcome", "Patient", "PrimaryProcedure", "PrimarySite",
    "PrimaryTumour", "RadiotherapyCourse", "RecurrenceSite", "Regimen", "Resectability",
    "Response", "Sex", "Symptom", "TherapyIntent", "Timing", "TreatmentEvent", "TreatmentKind",
    "ValidationProblem",
    "VitalStatus", "Volumetry", "format_validation_error", "parse_patient", "parse_patients",
]
