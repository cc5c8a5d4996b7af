"""Cohort views from the analysis table give exactly what the Patient-object path gave.

The reference (tests/cohort_reference.py) is the previous implementation, verbatim: it builds
every view from whole :class:`crlm.domain.Patient` objects. The new path reads columns of the
analysis table kept by every registry write. Same cohort (with missing values), same answers,
to the last digit — on SQLite and PostgreSQL.
"""

from __future__ import annotations

from dataclasses import asdict

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session
from tests import cohort_reference as old
from tests.registry_support import *  # noqa: F403  (fixtures: db_url, session)

from crlm.domain import parse_patient
from crlm.registry import analysis, audit, repository
from crlm.registry.export import aggregate_frame
from crlm.registry.models import patient_analysis
from crlm.synth import synthetic_rectal_cohort, to_patients
from crlm.web.cohort import (
    GROUPINGS,
    Endpoint,
    SurvivalOrigin,
    competing_risks,
    km_columns,
    page_columns,
    summarise,
    summary_columns,
    validate_scores,
)
from crlm.web.survival import kaplan_meier

N = 300


def _with_gaps(i: int, doc: dict) -> dict:
    """Unknown values, as a real registry has them (every kind of missing)."""
    if i % 7 == 0:
        doc.pop("labs", None)
    if i % 11 == 0:
        doc.pop("sex", None)
    if i % 13 == 0:
        doc.pop("outcome", None)
    if i % 17 == 0:
        doc["molecular"] = {"kras": "mutant"} if i % 2 else {"kras": "wildtype",
                                                              "nras": "wildtype"}
    if i % 19 == 0:
        doc["liver"].pop("number_of_metastases", None)
        doc["liver"].pop("largest_diameter_cm", None)
    if i % 23 == 0:
        doc.pop("operations", None)
    if i % 29 == 0:
        doc["primary"].pop("date_of_diagnosis", None)
    if i % 31 == 0:
        doc["primary"] = {"site": "left_colon", "n_category": "N0"}
    if i % 37 == 0:
        doc.pop("age_years", None)
    if i % 3 == 0:
        doc["liver"]["bilobar"] = i % 2 == 0
        doc.setdefault("molecular", {})["braf"] = "v600e" if i % 9 == 0 else "wildtype"
    return doc


def demo_patients(n: int = N, seed: int = 11) -> list:
    docs = [p.model_dump(mode="json", exclude_none=True)
            for p in to_patients(synthetic_rectal_cohort(n, seed=seed))]
    return [parse_patient(_with_gaps(i, d)) for i, d in enumerate(docs)]


@pytest.fixture
def stored(session: Session) -> list:
    patients = demo_patients()
    repository.save_patients(session, patients[:200], centre="A", actor="t")
    repository.save_patients(session, patients[200:], centre="B", actor="t")
    session.commit()
    return patients


ONE_GROUP = "not computable: group: needs at least two groups"  # the reference's wording
NO_FOLLOW_UP = "Competing risks not computable: months: follow-up time must be numeric"


def _same(new, reference) -> bool:  # type: ignore[no-untyped-def]
    """Equal field by field (the reference has its own copies of the result classes), except
    where the reference gave up in a column's words: a cohort of one group (Table 1 now says
    it in words, competing risks show the curves without Gray's test) or of none."""
    if reference.problem == NO_FOLLOW_UP:
        return new.problem == ("Competing risks not computable: no patient has follow-up and "
                               "a known group.")
    if (reference.problem or "").endswith(ONE_GROUP):
        if reference.problem.startswith("Table 1"):
            return new.problem.startswith("Table 1 compares groups (")
        return (new.problem is None and bool(new.rows)
                and "Gray's test needs two groups or more." in new.footnotes[0])
    return asdict(new) == asdict(reference)


def _frame(session: Session, columns: list[str], centre: str | None = None):  # type: ignore[no-untyped-def]
    return aggregate_frame(session, columns, actor="t", centre=centre)


def test_table1_is_the_same(session: Session, stored: list) -> None:
    for grouping in GROUPINGS:
        frame = _frame(session, summary_columns(grouping))
        assert len(frame) == N
        assert _same(summarise(frame, grouping), old.summarise(stored, grouping)), grouping
    by_centre = _frame(session, summary_columns("ras"), centre="B")
    assert _same(summarise(by_centre, "ras"), old.summarise(stored[200:], "ras"))


def test_kaplan_meier_is_the_same(session: Session, stored: list) -> None:
    shown = 0
    for grouping in GROUPINGS:
        for endpoint in Endpoint:
            for origin in SurvivalOrigin:
                frame = _frame(session, km_columns(grouping, endpoint, origin))
                new = kaplan_meier(frame, grouping, endpoint, origin)
                assert new == old.kaplan_meier(stored, grouping, endpoint, origin), (
                    grouping, endpoint, origin)
                shown += len(new.curves)
                assert new.excluded > 0  # gaps are excluded, not lost
    assert shown > len(GROUPINGS) * len(Endpoint) * len(SurvivalOrigin)


def test_page_tables_are_the_same(session: Session, stored: list) -> None:
    mine = stored[:200]
    for endpoint, origin in [(Endpoint.overall_survival, SurvivalOrigin.diagnosis),
                             (Endpoint.recurrence_free_survival,
                              SurvivalOrigin.last_hepatectomy)]:
        frame = _frame(session, page_columns("sex", endpoint, origin), centre="A")
        assert _same(validate_scores(frame, endpoint, origin),
                     old.validate_scores(mine, endpoint, origin))
    for grouping in ("sex", "ras", "node_positive"):
        for origin in SurvivalOrigin:
            frame = _frame(session, page_columns(grouping, Endpoint.overall_survival, origin),
                           centre="A")
            assert _same(competing_risks(frame, grouping, origin),
                         old.competing_risks(mine, grouping, origin)), (grouping, origin)


def _table_rows(session: Session) -> dict[int, dict]:
    rows = session.execute(sa.select(patient_analysis)).mappings()
    return {r["patient_id"]: {k: r[k] for k in analysis.VARIABLES} | {"version": r["version"]}
            for r in rows}


def _expected(session: Session) -> dict[int, dict]:
    ids = repository.all_patient_ids(session)
    return {pid: analysis.analysis_values(p) | {"version": v}
            for pid, (v, p) in repository.patients_by_id(session, ids).items()}


def test_every_write_keeps_the_table_in_step(session: Session) -> None:
    patients = demo_patients(40)
    ids = [pid for pid, _ in repository.save_patients(session, patients, centre="A", actor="t")]
    assert _table_rows(session) == _expected(session)
    # update through the bulk path and the single-patient path
    changed = patients[3].model_copy(update={"sex": None})
    repository.save_patients(session, [changed], centre="A", actor="t")
    repository.update_patient(session, ids[4], parse_patient({"age_years": 40}), actor="t")
    new_id = repository.add_patient(session, patients[5].model_copy(update={"id": "X"}),
                                    centre="B", actor="t")
    repository.delete_patient(session, ids[6], actor="t")
    repository.delete_patients(session, ids[7:9], actor="t", details=[None, None])
    session.commit()
    rows = _table_rows(session)
    assert rows == _expected(session)
    assert rows[ids[3]]["sex"] is None and rows[ids[4]]["age_years"] == 40
    assert rows[ids[4]]["version"] == 2 and new_id in rows and ids[6] not in rows
    assert analysis.stale_ids(session) == []


def test_stale_or_missing_rows_are_recomputed_before_a_view(session: Session) -> None:
    patients = demo_patients(30)
    ids = [pid for pid, _ in repository.save_patients(session, patients, centre="A", actor="t")]
    session.execute(sa.delete(patient_analysis).where(patient_analysis.c.patient_id == ids[0]))
    session.execute(sa.update(patient_analysis).where(patient_analysis.c.patient_id == ids[1])
                    .values(version=0, sex="female"))
    session.commit()
    assert analysis.stale_ids(session) == [ids[0], ids[1]]
    frame = _frame(session, ["sex"])
    assert frame["sex"].tolist() == [p.sex.value if p.sex else None for p in patients]
    assert analysis.stale_ids(session) == []
    assert _table_rows(session) == _expected(session)
    session.execute(sa.delete(patient_analysis))
    assert analysis.rebuild(session) == 30
    assert _table_rows(session) == _expected(session)


def _previous_array(values: list, kind: sa.types.TypeEngine) -> object:
    """The column conversion of read_frame before 2026-11-30 13:00 (verbatim)."""
    import numpy as np

    missing = None in values
    if isinstance(kind, sa.Boolean):
        if missing:
            return np.array([None if v is None else bool(v) for v in values], dtype=object)
        return np.array(values, dtype=bool)
    if isinstance(kind, sa.Integer):
        return np.array(values, dtype=float if missing else np.int64)
    if isinstance(kind, sa.Double):
        return np.array(values, dtype=float)
    return np.array(values, dtype=object)


def test_analysis_read_gives_the_columns_the_previous_read_gave(session: Session,
                                                                stored: list) -> None:
    a = patient_analysis
    rows = session.execute(sa.select(*(a.c[c] for c in analysis.VARIABLES))
                           .order_by(a.c.patient_id)).all()
    frame = analysis.read_frame(session, analysis.VARIABLES)
    assert list(frame.columns) == analysis.VARIABLES and len(frame) == N
    kinds = set()
    for i, name in enumerate(analysis.VARIABLES):
        want = _previous_array([r[i] for r in rows], a.c[name].type)
        got = frame[name].to_numpy()
        assert got.dtype == want.dtype, name  # type: ignore[attr-defined]
        assert frame[name].equals(pd.Series(want)), name
        kinds.add(str(got.dtype))
    assert kinds == {"object", "float64", "int64", "bool"}
    empty = analysis.read_frame(session, ["sex", "os_days", "bilobar"], centre="nowhere")
    assert len(empty) == 0 and list(empty.columns) == ["sex", "os_days", "bilobar"]


def test_one_audit_event_per_view_with_the_records_covered(session: Session,
                                                           stored: list) -> None:
    session.commit()
    before = audit.count_events(session, audit.AuditFilter(action="aggregate"))
    _frame(session, km_columns("sex", Endpoint.overall_survival, SurvivalOrigin.diagnosis),
           centre="B")
    session.commit()
    events = audit.find_events(session, audit.AuditFilter(action="aggregate"))
    assert len(events) == before + 1
    assert events[0].detail.startswith(f"{N - 200} records;")


# ---------------------------------------------------------------------------- disclosure control


def _hand_table():  # type: ignore[no-untyped-def]
    from crlm.web.cohort import CohortSummary

    return CohortSummary("sex", columns=[
        "Variable", "female (n = 20)", "male (n = 30)", "Overall (n = 50)", "p", "Test"], rows=[
        ["Dead at last follow-up, n (%)", "3 (15.0)", "10 (33.3)", "13 (26.0)", "0.2", "χ²"],
        ["RAS, n (%)", "", "", "", "0.01", "χ²"],
        ["  mutant", "2 (10.0)", "12 (40.0)", "14 (28.0)", "", ""],
        ["  unknown", "6 (30.0)", "0 (0.0)", "6 (12.0)", "", ""],
        ["  wildtype", "12 (60.0)", "18 (60.0)", "30 (60.0)", "", ""],
        ["Age, years, median (IQR)", "60 (50–70)", "61 (52–69)", "60 (51–70)", "0.5", "MW"],
    ])


def test_a_hidden_count_cannot_be_worked_out_from_the_others() -> None:
    from crlm.web.cohort import suppress_small_cells

    out = suppress_small_cells(_hand_table(), 5)
    dead, _, mutant, unknown, wildtype, age = out.rows
    # before: Overall 13 − male 10 = the hidden 3 female deaths
    assert dead[1:4] == ["< 5", "10 (33.3)", "suppressed"]
    # female levels add up to 20 = her n: a second female count goes, the smallest one
    assert [mutant[1], unknown[1], wildtype[1]] == ["< 5", "suppressed", "12 (60.0)"]
    assert [mutant[3], unknown[3], wildtype[3]] == ["suppressed"] * 3
    assert [mutant[2], unknown[2], wildtype[2]] == ["12 (40.0)", "0 (0.0)", "18 (60.0)"]
    assert age[1:4] == ["60 (50–70)", "61 (52–69)", "60 (51–70)"]  # nothing hidden there
    assert "Overall of that variable" in out.footnotes[-1]


def test_a_small_group_cannot_be_recovered_as_overall_minus_the_others() -> None:
    from crlm.web.cohort import suppress_small_cells

    table = _hand_table()
    table.columns[1] = "female (n = 4)"
    out = suppress_small_cells(table, 5)
    assert out.columns[1] == "female (n < 5)"
    for row in out.rows:
        assert row[1] in ("", "suppressed") and row[3] in ("", "suppressed")
    assert out.rows[0][2] == "10 (33.3)"


# ---------------------------------------------------------------------------- streamed exports


def test_exports_are_written_as_they_are_read(session: Session, db_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import io
    import json

    from typer.testing import CliRunner

    from crlm.cli import app
    from crlm.registry import export
    from crlm.registry.dataset import analysis_dataset, iter_analysis_frames
    from crlm.safe_output import frame_csv_text

    patients = demo_patients(45)
    repository.save_patients(session, patients, centre="A", actor="t")
    session.commit()
    out = tmp_path / "all.jsonl"
    res = CliRunner().invoke(app, ["db", "export", str(out), "--db", db_url])
    assert res.exit_code == 0, res.output
    lines = out.read_text().splitlines()
    assert [json.loads(x) for x in lines] == [
        p.model_dump(mode="json", exclude_none=True) for p in patients]
    buffer = io.StringIO()
    n = export.write_records(buffer, export.iter_records(session, actor="t"), "csv")
    assert n == 45 and len(buffer.getvalue().splitlines()) == 46
    # the analysis dataset in chunks of 7 writes the same text as in one piece
    chunks = list(iter_analysis_frames(session, "diagnosis", chunk_rows=7))
    assert len(chunks) == 7
    text = "".join(frame_csv_text(f, header=i == 0) for i, f in enumerate(chunks))
    assert text == frame_csv_text(analysis_dataset(session, "diagnosis"))
    import csv

    table = list(csv.DictReader(io.StringIO(text)))
    counts = [r["number_of_metastases"] for r in table]
    assert "" in counts and all(c == "" or c.isdigit() for c in counts)  # 3, never 3.0
    analysis_out = tmp_path / "analysis.csv"
    res = CliRunner().invoke(app, ["db", "export", str(analysis_out), "--db", db_url,
                                   "--analysis", "--origin", "diagnosis"])
    assert res.exit_code == 0, res.output
    assert analysis_out.read_text() == text
    session.commit()
    res = CliRunner().invoke(app, ["db", "rebuild-analysis", "--db", db_url])
    assert res.exit_code == 0 and "analysis table rebuilt: 45 patients" in res.output
