"""Typed clinical inputs (pydantic). See :mod:`crlm.domain.patient`."""

from crlm.domain.errors import ValidationProblem, format_validation_error, parse_patient
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

__all__ = [
    "BrafStatus", "Chemotherapy", "ClavienDindo", "HepatectomyProcedure", "Her2Status",
    "IsglsPhlf", "Labs", "Lesion", "LiverCondition", "LiverDisease", "Molecular", "MsiStatus",
    "Mutation", "Operation", "Outcome", "Patient", "PrimaryProcedure", "PrimarySite",
    "PrimaryTumour", "Resectability", "Response", "Sex", "Symptom", "Timing", "ValidationProblem",
    "VitalStatus", "Volumetry", "format_validation_error", "parse_patient",
]
