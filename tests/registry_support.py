"""Fixtures for registry tests: one fresh database per test on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from crlm.domain import parse_patient
from crlm.registry.db import init_db, make_session_factory

__all__ = ["RICH_PATIENT", "db_url", "rich_patient", "session"]

RICH_PATIENT = {
    "id": "MDA-0001",
    "age_years": 61,
    "sex": "male",
    "height_cm": 175,
    "weight_kg": 80.5,
    "assessment_date": "2024-04-15",
    "primary": {
        "site": "rectum", "distance_from_anal_verge_cm": 8, "t_category": "T3",
        "n_category": "N1", "node_positive": True, "symptoms": ["bleeding", "obstruction"],
        "resected": True, "date_of_diagnosis": "2024-03-01",
        "planned_procedure": "low_anterior_resection", "easily_resectable": False,
    },
    "liver": {
        "timing": "synchronous", "disease_free_interval_months": 0,
        "number_of_metastases": 4, "largest_diameter_cm": 3.2, "bilobar": True,
        "lesions": [{"segment": 7, "diameter_cm": 3.2, "deep": True}, {"segment": 2}],
        "planned_procedures": ["right_hepatectomy", "wedge_resection"], "margin_mm": 4.5,
        "resectability": "resectable",
    },
    "extrahepatic_disease": False,
    "labs": {"cea_ng_ml": 12.0, "ca19_9_u_ml": 40, "bilirubin_mg_dl": 0.6,
             "albumin_g_dl": 3.9, "icg_r15_percent": 9},
    "molecular": {"kras": "mutant", "nras": "wildtype", "braf": "wildtype", "tp53": "mutant",
                  "msi": "mss", "her2": "not_amplified"},
    "chemotherapy": {"prehepatectomy_cycles": 6, "regimen": "FOLFOX", "anti_vegf": True,
                     "anti_egfr": False, "response": "PR", "duration_weeks": 12},
    "volumetry": {"total_liver_volume_ml": 1600, "flr_volume_ml": 420,
                  "flr_volume_after_pve_ml": 610, "weeks_after_pve": 4,
                  "liver_condition": "chemotherapy_injured"},
    "operations": [
        {"kind": "pve", "date": "2024-06-01"},
        {"kind": "hepatectomy", "date": "2024-07-01", "procedures": ["right_hepatectomy"],
         "margin_mm": 4.5, "clavien_dindo": "II", "isgls_phlf": "A"},
        {"kind": "primary_resection", "date": "2024-09-15"},
    ],
    "treatments": [
        {"kind": "systemic_therapy", "date": "2024-03-10", "end_date": "2024-05-20",
         "regimen": "folfox", "biologic": "bevacizumab", "cycles": 6,
         "intent": "preoperative", "response": "PR", "tumour_size_change_percent": -34.5},
        {"kind": "pve", "date": "2024-06-01"},
        {"kind": "hepatectomy", "date": "2024-07-01", "procedures": ["right_hepatectomy"],
         "hepatectomy_stage": 2, "margin_mm": 4.5, "clavien_dindo": "II", "isgls_phlf": "A"},
        {"kind": "radiotherapy", "date": "2024-08-01", "end_date": "2024-08-05",
         "radiotherapy_course": "short_course"},
        {"kind": "primary_resection", "date": "2024-09-15",
         "primary_procedure": "low_anterior_resection"},
        {"kind": "recurrence", "date": "2025-05-01", "recurrence_sites": ["liver", "lung"]},
    ],
    "outcome": {"date_last_follow_up": "2026-01-10", "vital_status": "alive",
                "date_of_recurrence": "2025-05-01", "recurrence_sites": ["liver", "lung"]},
}


def rich_patient(**changes: object):  # type: ignore[no-untyped-def]
    doc = {**RICH_PATIENT, **changes}
    return parse_patient(doc)


def _reset_postgres(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database URL: a temp SQLite file, or the real PostgreSQL test DB."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'registry.db'}"
        return
    url = request.getfixturevalue("postgres_url")
    _reset_postgres(url)
    yield url


@pytest.fixture
def session(db_url: str) -> Iterator[Session]:
    engine = init_db(db_url)
    factory = make_session_factory(engine)
    with factory() as s:
        yield s
    engine.dispose()
