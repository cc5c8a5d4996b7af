"""Import (CSV, Excel, REDCap), export (full, de-identified), analysis dataset, durability."""

from __future__ import annotations

import csv
import datetime as dt
import gc
import io
import itertools
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy.orm import Session
from tests.registry_support import *  # noqa: F403  (fixtures: db_url, session)
from tests.registry_support import rich_patient

from crlm.registry import export, repository
from crlm.registry.dataset import analysis_dataset, analysis_row
from crlm.registry.dictionary import CRLM_EXPORT, DataDictionary
from crlm.registry.importer import SURPLUS_CELLS, import_file, import_rows, read_rows

SECRET = b"0123456789abcdef-test-secret"


def _csv(rows: list[dict[str, str]]) -> bytes:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue().encode()


def test_shipped_dictionary_is_current() -> None:
    assert CRLM_EXPORT.read_text() == DataDictionary.crlm_export().to_csv()


def test_flat_export_then_import_round_trips(session: Session) -> None:
    p = rich_patient()
    data = _csv([export.flat_row(p)])
    result = import_file(session, data, centre="mda", actor="dm")
    assert result.ok, result.errors
    pid = repository.find_patient_id(session, centre="mda", external_id=p.id)
    assert repository.get_patient(session, pid, actor="dm") == p


def test_bad_row_means_nothing_lands_and_report_names_row_column_reason(session: Session) -> None:
    rows = [
        {"id": "A1", "age_years": "61", "labs.cea_ng_ml": "12"},
        {"id": "A2", "age_years": "61", "labs.cea_ng_ml": "-1"},
        {"id": "A3", "age_years": "sixty", "labs.cea_ng_ml": ""},
        {"id": "A4", "age_years": "17", "labs.cea_ng_ml": ""},
    ]
    result = import_file(session, _csv(rows), centre="mda", actor="dm")
    session.commit()
    assert not result.ok
    assert repository.count_patients(session) == 0
    report = list(csv.DictReader(io.StringIO(result.errors_csv())))
    assert [(r["row"], r["external_id"], r["column"]) for r in report] == [
        ("3", "A2", "labs.cea_ng_ml"),
        ("4", "A3", "age_years"),
        ("5", "A4", "age_years"),
    ]
    assert "greater than or equal to 0" in report[0]["reason"]
    assert "'sixty' is not a number" in report[1]["reason"]


def test_dates_out_of_order_are_rejected(session: Session) -> None:
    row = {"id": "A1", "primary.date_of_diagnosis": "2024-05-01",
           "outcome.date_last_follow_up": "2024-01-01"}
    result = import_file(session, _csv([row]), centre="c", actor="dm")
    assert not result.ok and "before date_of_diagnosis" in result.errors[0].reason


def test_unknown_column_and_duplicate_id_are_errors(session: Session) -> None:
    rows = [{"id": "A1", "cea": "3"}, {"id": "A1", "cea": "4"}]
    result = import_file(session, _csv(rows), centre="c", actor="dm")
    reasons = {(e.row, e.column): e.reason for e in result.errors}
    assert reasons[(1, "cea")] == "column not in the data dictionary"
    assert "duplicate id" in reasons[(3, "id")]


def test_reimport_updates_instead_of_duplicating(session: Session) -> None:
    data = _csv([{"id": "A1", "age_years": "61"}, {"id": "A2", "age_years": "70"}])
    first = import_file(session, data, centre="c", actor="dm")
    second = import_file(session, data, centre="c", actor="dm")
    assert (first.n_created, second.n_created, second.n_updated) == (2, 0, 2)
    assert repository.count_patients(session) == 2


def test_excel_import(session: Session, tmp_path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["id", "age_years", "primary.date_of_diagnosis", "liver.number_of_metastases"])
    ws.append(["X1", 64, dt.datetime(2023, 2, 1), 3])
    path = tmp_path / "cohort.xlsx"
    wb.save(path)
    result = import_file(session, path, centre="c", actor="dm")
    assert result.ok, result.errors
    got = repository.get_patient(session, repository.find_patient_id(
        session, centre="c", external_id="X1"), actor="dm")
    assert got.primary.date_of_diagnosis == dt.date(2023, 2, 1)
    assert got.liver.number_of_metastases == 3 and got.age_years == 64


REDCAP_DICTIONARY = """column,field
record_id,id
age,age_years
cea,labs.cea_ng_ml
kras,molecular.kras
lesion_segment,liver.lesions[].segment
lesion_size,liver.lesions[].diameter_cm
n_lesions,liver.number_of_metastases
op_kind,operations[].kind
op_date,operations[].date
dx_date,primary.date_of_diagnosis
"""


def test_redcap_repeating_instruments_become_one_tidy_record(session: Session) -> None:
    cols = ["record_id", "redcap_event_name", "redcap_repeat_instrument",
            "redcap_repeat_instance", "age", "cea", "kras", "dx_date", "n_lesions",
            "lesion_segment", "lesion_size", "op_kind", "op_date"]
    raw = [
        ["R1", "baseline_arm_1", "", "", "58", "", "", "2022-01-10", "2", "", "", "", ""],
        ["R1", "labs_arm_1", "", "", "", "8.5", "mutant", "", "", "", "", "", ""],
        ["R1", "baseline_arm_1", "lesions", "2", "", "", "", "", "", "4", "1.5", "", ""],
        ["R1", "baseline_arm_1", "lesions", "1", "", "", "", "", "", "7", "3.0", "", ""],
        ["R1", "surgery_arm_1", "operations", "1", "", "", "", "", "", "", "", "hepatectomy",
         "2022-04-01"],
        ["R2", "baseline_arm_1", "", "", "66", "", "", "", "", "", "", "", ""],
    ]
    data = _csv([dict(zip(cols, r, strict=True)) for r in raw])
    mapping = DataDictionary.from_csv(REDCAP_DICTIONARY)
    result = import_file(session, data, centre="c", actor="dm", dictionary=mapping)
    assert result.ok, result.errors
    assert result.n_patients == 2
    p = repository.get_patient(session, repository.find_patient_id(
        session, centre="c", external_id="R1"), actor="dm")
    assert p.age_years == 58 and p.labs.cea_ng_ml == 8.5 and p.molecular.kras == "mutant"
    assert [(les.segment, les.diameter_cm) for les in p.liver.lesions or []] == [
        (7, 3.0), (4, 1.5)]
    assert [(o.kind, o.date) for o in p.operations or []] == [
        ("hepatectomy", dt.date(2022, 4, 1))]


def test_redcap_conflicting_values_across_events_are_errors(session: Session) -> None:
    cols = ["record_id", "redcap_event_name", "redcap_repeat_instrument",
            "redcap_repeat_instance", "age"]
    raw = [["R1", "a", "", "", "58"], ["R1", "b", "", "", "59"]]
    mapping = DataDictionary.from_csv(REDCAP_DICTIONARY)
    result = import_file(session, _csv([dict(zip(cols, r, strict=True)) for r in raw]),
                         centre="c", actor="dm", dictionary=mapping)
    assert not result.ok
    assert result.errors[0].row == 3 and "conflicts with 58.0" in result.errors[0].reason


def test_limited_data_set_export_shifts_dates(session: Session) -> None:
    p = rich_patient(age_years=93)
    pid = repository.add_patient(session, p, centre="mda", actor="dm")
    record = repository.get_record(session, pid, actor="dm")
    doc = export.deidentify(record, SECRET, export.DeidLevel.limited)
    assert doc["id"] != p.id and doc["id"].startswith("D") and p.id not in str(doc)
    assert doc["age_years"] == "90+"
    shift = export.date_shift_days(SECRET, "mda", p.id)
    assert shift != 0 and abs(shift) <= 365
    shifted_dx = dt.date.fromisoformat(doc["primary"]["date_of_diagnosis"])
    assert shifted_dx - p.primary.date_of_diagnosis == dt.timedelta(days=shift)
    # intervals within the patient are kept
    op_dates = [dt.date.fromisoformat(o["date"]) for o in doc["operations"]]
    orig = [o.date for o in p.operations or []]
    assert [b - a for a, b in itertools.pairwise(op_dates)] == [
        b - a for a, b in itertools.pairwise(orig)]
    for original in ("2024-03-01", "2024-07-01", "2026-01-10", "2024-04-15"):
        assert original not in str(doc)
    # the same secret gives the same pseudonym; another secret does not
    assert export.deidentify(record, SECRET)["id"] == doc["id"]  # safe-harbor: same pseudonym
    assert export.deidentify(record, b"another-secret-0123456")["id"] != doc["id"]


def test_analysis_dataset(session: Session) -> None:
    repository.add_patient(session, rich_patient(), centre="mda", actor="dm")
    frame = analysis_dataset(session, "last_hepatectomy")
    row = frame.iloc[0]
    assert row["approach"] == "reverse"  # hepatectomy 2024-07-01 before primary 2024-09-15
    assert row["os_days"] == (dt.date(2026, 1, 10) - dt.date(2024, 7, 1)).days
    assert row["os_event"] == 0
    assert row["rfs_days"] == (dt.date(2025, 5, 1) - dt.date(2024, 7, 1)).days
    assert row["rfs_event"] == 1
    assert row["ras"] == "mutant" and row["pve"]
    dx = analysis_row(rich_patient(), "diagnosis")
    assert dx["os_days"] == (dt.date(2026, 1, 10) - dt.date(2024, 3, 1)).days


def test_cli_import_reports_and_exits_2(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from crlm.cli import app

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    src = tmp_path / "in.csv"
    src.write_bytes(_csv([{"id": "A1", "labs.cea_ng_ml": "x"}]))
    report = tmp_path / "errors.csv"
    res = CliRunner().invoke(app, ["db", "import", str(src), "--centre", "c", "--db", url,
                                   "--errors", str(report)])
    assert res.exit_code == 2
    assert "row 2 (id A1), column labs.cea_ng_ml: 'x' is not a number" in res.output
    assert "labs.cea_ng_ml" in report.read_text()
    src.write_bytes(_csv([{"id": "A1", "labs.cea_ng_ml": "3"}]))
    res = CliRunner().invoke(app, ["db", "import", str(src), "--centre", "c", "--db", url])
    assert res.exit_code == 0, res.output
    out = tmp_path / "out.csv"
    res = CliRunner().invoke(app, ["db", "export", str(out), "--db", url])
    assert res.exit_code == 0 and "A1" in out.read_text()


_KILL_SCRIPT = """
import sys, time
from pathlib import Path
from crlm.registry.db import init_db, make_session_factory
import crlm.registry.importer as importer
from crlm.registry.importer import import_rows, read_rows
importer.IMPORT_BATCH = 50  # several batches, so the kill lands between two of them
url, path, marker = sys.argv[1:4]
rows = read_rows(Path(path))
session = make_session_factory(init_db(url))()
done = 0
def progress(n):
    global done
    done += n
    if done >= len(rows) // 2 and not Path(marker).exists():
        Path(marker).write_text("half")
        time.sleep(60)   # the parent kills us here, mid-file
import_rows(session, rows, centre="c", actor="dm", progress=progress)
session.commit()
"""


def test_sigkill_mid_import_leaves_all_or_nothing(tmp_path: Path) -> None:
    db = tmp_path / "kill.db"
    url = f"sqlite:///{db}"
    src = tmp_path / "big.csv"
    src.write_bytes(_csv([{"id": f"K{i}", "age_years": str(40 + i % 50),
                           "labs.cea_ng_ml": str(i % 300)} for i in range(400)]))
    marker = tmp_path / "marker"
    proc = subprocess.Popen([sys.executable, "-c", _KILL_SCRIPT, url, str(src), str(marker)],
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert proc.poll() is None, "import process ended before the kill"
        assert time.monotonic() < deadline, "import never reached the middle of the file"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert con.execute("SELECT count(*) FROM patients").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM labs").fetchone()[0] == 0
    finally:
        con.close()
    # the interrupted import can simply be run again
    from crlm.registry.db import init_db, make_session_factory

    with make_session_factory(init_db(url))() as s:
        result = import_rows(s, read_rows(src), centre="c", actor="dm")
        s.commit()
        assert result.ok and repository.count_patients(s) == 400


def test_repeated_cells_read_alike_and_every_bad_cell_is_reported(session: Session) -> None:
    rows = [{"id": f"R{i}", "labs.cea_ng_ml": cea, "liver.planned_procedures": procs}
            for i, (cea, procs) in enumerate([
                ("12.5", '["wedge_resection"]'), ("x", '["wedge_resection"]'),
                ("12.5", '["wedge_resection"] x'), ("x", "["), ("12.5", "wedge_resection")])]
    result = import_file(session, _csv(rows), centre="c", actor="dm")
    assert [(e.row, e.column, e.reason) for e in result.errors] == [
        (3, "labs.cea_ng_ml", "'x' is not a number"),
        (4, "liver.planned_procedures", "not a valid JSON list: Extra data"),
        (5, "labs.cea_ng_ml", "'x' is not a number"),
        (5, "liver.planned_procedures", "not a valid JSON list: Expecting value"),
    ]
    good = [rows[0], rows[4]]
    assert import_file(session, _csv(good), centre="c", actor="dm").ok
    for ext in ("R0", "R4"):
        got = repository.get_patient(session, repository.find_patient_id(
            session, centre="c", external_id=ext), actor="dm")
        assert got.labs.cea_ng_ml == 12.5
        assert [p.value for p in got.liver.planned_procedures or []] == ["wedge_resection"]


def test_import_pauses_the_cyclic_gc_and_restores_its_state(session: Session) -> None:
    rows = read_rows(_csv([{"id": "G1", "age_years": "61"}, {"id": "G2", "age_years": "62"}]))
    during: list[bool] = []
    assert gc.isenabled()
    result = import_rows(session, rows, centre="c", actor="dm",
                         progress=lambda _n: during.append(gc.isenabled()))
    assert result.ok and during == [False] and gc.isenabled()
    gc.disable()
    try:
        assert import_rows(session, rows, centre="c", actor="dm").n_updated == 2
        assert not gc.isenabled()  # left off, as the caller had it
    finally:
        gc.enable()
    with pytest.raises(ZeroDivisionError):
        import_rows(session, rows, centre="c", actor="dm", progress=lambda _n: 1 / 0)
    assert gc.isenabled()


def test_read_rows_blank_short_and_long_lines() -> None:
    data = b"\xef\xbb\xbfid, age_years ,labs.cea_ng_ml\r\nA1,61,3\r\n\r\nA2,62\nA3,63,\"4\",x\n"
    assert read_rows(data) == [
        {"id": "A1", "age_years": "61", "labs.cea_ng_ml": "3"},
        {"id": "A2", "age_years": "62", "labs.cea_ng_ml": ""},  # missing cells are empty
        {"id": "A3", "age_years": "63", "labs.cea_ng_ml": "4", SURPLUS_CELLS: "1"},
    ]


def test_a_row_with_surplus_cells_is_an_error_not_a_silent_drop(session: Session) -> None:
    data = b"id,age_years\nA1,61\nA2,62,stray\n"
    result = import_file(session, data, centre="c", actor="dm")
    assert not result.ok
    [error] = result.errors
    assert (error.row, error.external_id, error.column) == (3, "A2", "(row)")
    assert "1 cell(s) more than the header's 2 columns" in error.reason


@pytest.mark.parametrize("bad", [b"", b"\xff\xfe\x00bad"])
def test_unreadable_file_is_a_clean_error(session: Session, bad: bytes) -> None:
    result = import_file(session, bad, centre="c", actor="dm")
    assert not result.ok and result.errors[0].column == "(file)"
