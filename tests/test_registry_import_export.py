"""Import (CSV, Excel, REDCap), export (full, de-identified), analysis dataset, durability."""

from __future__ import annotations

import csv
import datetime as dt
import gc
import io
import itertools
import json
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

from crlm.registry import audit, export, repository
from crlm.registry.dataset import analysis_dataset, analysis_row
from crlm.registry.dictionary import CRLM_EXPORT, DataDictionary
from crlm.registry.importer import SURPLUS_CELLS, import_file, import_rows, read_rows
from crlm.registry.undo import UndoError, undo_import

SECRET = b"0123456789abcdef-test-secret"
RICH_TREATMENTS = rich_patient().model_dump(mode="json", exclude_none=True)["treatments"]


def audit_events(session: Session) -> list:  # type: ignore[type-arg]
    """Every audit event, oldest first."""
    return list(reversed(audit.list_events(session, limit=10_000)))


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
    assert (first.n_created, second.n_created, second.n_updated, second.n_unchanged) == (
        2, 0, 0, 2)
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
        assert import_rows(session, rows, centre="c", actor="dm").n_unchanged == 2
        assert not gc.isenabled()  # left off, as the caller had it
    finally:
        gc.enable()
    changed = [{**row, "age_years": "70"} for row in rows]  # an unchanged row writes nothing
    with pytest.raises(ZeroDivisionError):
        import_rows(session, changed, centre="c", actor="dm", progress=lambda _n: 1 / 0)
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


# ---------------------------------------------------------------------------- integrity


def _xlsx(path: Path, rows: list[list[object]], dimension: str | None = None) -> Path:
    """An Excel file of ``rows``; ``dimension`` overwrites the sheet's <dimension> tag."""
    import re
    import zipfile

    from openpyxl import Workbook

    wb = Workbook()
    for row in rows:
        wb.active.append(row)
    wb.save(path)
    if dimension is not None:
        with zipfile.ZipFile(path) as z:
            parts = {n: z.read(n) for n in z.namelist()}
        sheet = "xl/worksheets/sheet1.xml"
        parts[sheet], n = re.subn(rb'<dimension ref="[^"]*"',
                                  f'<dimension ref="{dimension}"'.encode(), parts[sheet])
        assert n == 1
        with zipfile.ZipFile(path, "w") as z:
            for name, data in parts.items():
                z.writestr(name, data)
    return path


def test_xlsx_with_a_wrong_dimension_tag_imports_every_row_and_cell(
        session: Session, tmp_path: Path) -> None:
    rows = [["id", "age_years", "labs.cea_ng_ml", "labs.ca19_9_u_ml"]]
    rows += [[f"X{i}", 50 + i, 3.5, 40 + i] for i in range(10)]
    path = _xlsx(tmp_path / "lying.xlsx", rows, dimension="A1:C4")
    result = import_file(session, path, centre="c", actor="dm")
    assert result.ok, result.errors
    assert (result.n_rows, result.n_created) == (10, 10)
    assert repository.count_patients(session) == 10
    last = repository.get_patient(session, repository.find_patient_id(
        session, centre="c", external_id="X9"), actor="dm")
    assert last.labs.ca19_9_u_ml == 49  # column D, outside the tag's A:C


def test_xlsx_rows_are_numbered_as_sheet_rows_below_a_lower_header(
        session: Session, tmp_path: Path) -> None:
    path = _xlsx(tmp_path / "low.xlsx", [[None], [None], ["id", "age_years"], ["L1", 60],
                                         [None], ["L2", "sixty"]])
    result = import_file(session, path, centre="c", actor="dm")
    assert [(e.row, e.external_id, e.column) for e in result.errors] == [(6, "L2", "age_years")]


def test_xlsx_with_data_on_a_second_sheet_is_refused(session: Session, tmp_path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.append(["id", "age_years"])
    wb.active.append(["X1", 60])
    wb.create_sheet("More").append(["X2", 61])
    wb.create_sheet("Empty")
    wb.save(tmp_path / "two.xlsx")
    result = import_file(session, tmp_path / "two.xlsx", centre="c", actor="dm")
    assert not result.ok and "more than one sheet" in result.errors[0].reason
    assert "More" in result.errors[0].reason and "Empty" not in result.errors[0].reason


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_duplicate_header_is_refused_naming_it(session: Session, tmp_path: Path,
                                               fmt: str) -> None:
    rows = [["id", "age_years", "labs.cea_ng_ml", "age_years"], ["A1", "61", "3", "62"]]
    if fmt == "csv":
        source: Path | bytes = "\n".join(",".join(r) for r in rows).encode()
    else:
        source = _xlsx(tmp_path / "dup.xlsx", rows)  # type: ignore[arg-type]
    result = import_file(session, source, centre="c", actor="dm")
    assert not result.ok and repository.count_patients(session) == 0
    assert result.errors[0].column == "(file)"
    assert "'age_years' twice (columns 2 and 4)" in result.errors[0].reason


def test_overlong_csv_cell_is_a_row_error(session: Session) -> None:
    data = b"id,age_years\nA1,61\nA2," + b"9" * 140_000 + b"\nA3,63\n"
    result = import_file(session, data, centre="c", actor="dm")
    assert not result.ok and repository.count_patients(session) == 0
    [error] = result.errors
    assert (error.row, error.column) == (3, "(row)")
    assert "longer than 131,072 characters" in error.reason


def test_duplicate_json_keys_are_refused() -> None:
    from crlm.domain import parse_patient

    with pytest.raises(ValueError, match="duplicate key 'age_years'"):
        parse_patient('{"id": "A", "age_years": 61, "age_years": 16}')
    with pytest.raises(ValueError, match="duplicate key 'kras'"):
        parse_patient('{"molecular": {"kras": "mutant", "kras": "wildtype"}}')


def test_duplicate_json_key_in_a_list_cell_is_a_row_error(session: Session) -> None:
    rows = [{"id": "A1", "liver.lesions": '[{"segment": 7, "segment": 2}]'}]
    result = import_file(session, _csv(rows), centre="c", actor="dm")
    assert [(e.row, e.column, e.reason) for e in result.errors] == [
        (2, "liver.lesions", "duplicate key 'segment' in a JSON object")]


def _stored_patient(session: Session, ext: str, centre: str = "c"):  # type: ignore[no-untyped-def]
    pid = repository.find_patient_id(session, centre=centre, external_id=ext)
    return None if pid is None else repository.get_patient(session, pid, actor="test")


def test_a_file_with_fewer_columns_changes_only_its_columns(session: Session) -> None:
    p = rich_patient()
    assert import_file(session, _csv([export.flat_row(p)]), centre="c", actor="dm").ok
    partial = _csv([{"id": p.id, "labs.cea_ng_ml": "20", "treatments": "[]"}])
    result = import_file(session, partial, centre="c", actor="dm")
    assert result.ok and (result.n_updated, result.n_cleared) == (1, 0)
    got = _stored_patient(session, p.id)
    expected = p.model_copy(update={"labs": p.labs.model_copy(update={"cea_ng_ml": 20.0}),
                                    "treatments": []})
    assert got == expected  # every other field kept; the list in the file replaced
    update = next(e for e in audit_events(session) if e.action == "update")
    detail = json.loads(update.detail)
    assert detail["import"] == result.import_id and detail["version"] == 2
    assert detail["changes"]["labs.cea_ng_ml"] == [12.0, 20.0]
    assert detail["changes"]["treatments"][0] == RICH_TREATMENTS and \
        detail["changes"]["treatments"][1] == []
    assert set(detail["changes"]) == {"labs.cea_ng_ml", "treatments"}


def test_replace_mode_clears_fields_not_in_the_file_and_says_so(session: Session) -> None:
    p = rich_patient()
    assert import_file(session, _csv([export.flat_row(p)]), centre="c", actor="dm").ok
    partial = _csv([{"id": p.id, "age_years": "61", "labs.cea_ng_ml": "20"}])
    result = import_file(session, partial, centre="c", actor="dm", replace=True)
    assert result.ok and result.n_updated == 1 and result.n_cleared > 30
    assert "replace mode" in result.summary() and "cleared" in result.summary()
    got = _stored_patient(session, p.id)
    assert got.labs.cea_ng_ml == 20.0 and got.age_years == 61 and got.operations is None


def test_undo_import_restores_exactly_the_state_before(session: Session) -> None:
    a, b = rich_patient(), rich_patient(id="MDA-0002", age_years=70)
    first = import_file(session, _csv([export.flat_row(a), export.flat_row(b)]),
                        centre="c", actor="dm")
    session.commit()
    before = {x: _stored_patient(session, x) for x in ("MDA-0001", "MDA-0002")}
    second = import_file(session, _csv([
        {"id": "MDA-0001", "labs.cea_ng_ml": "99", "outcome.vital_status": ""},
        {"id": "MDA-0003", "labs.cea_ng_ml": "5"}]), centre="c", actor="dm")
    session.commit()
    assert (second.n_created, second.n_updated) == (1, 1)
    assert _stored_patient(session, "MDA-0001").labs.cea_ng_ml == 99
    assert _stored_patient(session, "MDA-0001").outcome.vital_status is None
    result = undo_import(session, second.import_id, actor="dm")
    session.commit()
    assert (result.n_restored, result.n_deleted) == (1, 1)
    assert {x: _stored_patient(session, x) for x in ("MDA-0001", "MDA-0002")} == before
    assert _stored_patient(session, "MDA-0003") is None
    with pytest.raises(UndoError, match="undone already"):
        undo_import(session, second.import_id, actor="dm")
    with pytest.raises(UndoError, match="patient MDA-0001"):  # changed since (by the undo)
        undo_import(session, first.import_id, actor="dm")


def test_undo_is_refused_naming_patients_changed_since(session: Session) -> None:
    first = import_file(session, _csv([{"id": "A1", "age_years": "61"},
                                       {"id": "A2", "age_years": "62"}]),
                        centre="c", actor="dm")
    session.commit()
    pid = repository.find_patient_id(session, centre="c", external_id="A2")
    repository.update_patient(session, pid, rich_patient(id="A2", age_years=63), actor="web")
    session.commit()
    with pytest.raises(UndoError) as info:
        undo_import(session, first.import_id, actor="dm")
    session.rollback()
    message = str(info.value)
    assert "nothing changed" in message and "patient A2" in message
    assert "changed since the import (version 1 then, 2 now)" in message
    assert "A1" not in message
    assert repository.count_patients(session) == 2
    with pytest.raises(UndoError, match="no import with id 'nope'"):
        undo_import(session, "nope", actor="dm")


def test_cli_import_replace_and_undo(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from crlm.cli import app

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    src = tmp_path / "in.csv"
    src.write_bytes(_csv([{"id": "A1", "age_years": "61", "labs.cea_ng_ml": "3"}]))
    runner = CliRunner()
    res = runner.invoke(app, ["db", "import", str(src), "--centre", "c", "--db", url])
    assert res.exit_code == 0, res.output
    src.write_bytes(_csv([{"id": "A1", "labs.cea_ng_ml": "4"}]))
    res = runner.invoke(app, ["db", "import", str(src), "--centre", "c", "--db", url,
                              "--replace"])
    assert res.exit_code == 0, res.output
    assert "1 updated" in res.output and "replace mode: 1 stored value(s)" in res.output
    import_id = res.output.split("import id ")[1].split()[0]
    res = runner.invoke(app, ["db", "undo-import", import_id, "--db", url])
    assert res.exit_code == 0, res.output
    assert "1 patients restored" in res.output
    res = runner.invoke(app, ["db", "undo-import", import_id, "--db", url])
    assert res.exit_code == 2 and "undone already" in res.output


def test_concurrent_imports_of_one_file_end_cleanly(db_url: str) -> None:
    import threading

    from crlm.registry.db import init_db, make_session_factory

    data = _csv([{"id": f"C{i}", "age_years": str(40 + i % 50)} for i in range(300)])
    factory = make_session_factory(init_db(db_url))
    results: list[object] = []
    start = threading.Barrier(2)

    def run() -> None:
        with factory() as s:
            start.wait()
            try:
                result = import_file(s, data, centre="c", actor="dm")
                s.commit() if result.ok else s.rollback()
                results.append(result)
            except Exception as exc:  # the test fails on any exception
                results.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(not isinstance(r, Exception) for r in results), results
    assert any(r.ok and r.n_created == 300 for r in results)  # type: ignore[attr-defined]
    for r in results:
        assert r.ok or "nothing imported" in r.errors[0].reason  # type: ignore[attr-defined]
    with factory() as s:
        assert repository.count_patients(s) == 300


def test_treatments_import_as_a_json_cell_and_as_a_repeating_instrument(
        session: Session) -> None:
    row = {"id": "T1", "treatments": json.dumps(RICH_TREATMENTS)}
    assert import_file(session, _csv([row]), centre="c", actor="dm").ok
    got = _stored_patient(session, "T1")
    assert got.treatments == rich_patient().treatments
    mapping = DataDictionary.from_csv("column,field\nrecord_id,id\n"
                                      "tx_kind,treatments[].kind\ntx_date,treatments[].date\n"
                                      "tx_regimen,treatments[].regimen\n")
    cols = ["record_id", "redcap_event_name", "redcap_repeat_instrument",
            "redcap_repeat_instance", "tx_kind", "tx_date", "tx_regimen"]
    raw = [["R1", "base", "", "", "", "", ""],
           ["R1", "tx", "treatments", "2", "hepatectomy", "2024-07-01", ""],
           ["R1", "tx", "treatments", "1", "systemic_therapy", "2024-03-10", "folfox"]]
    result = import_file(session, _csv([dict(zip(cols, r, strict=True)) for r in raw]),
                         centre="c", actor="dm", dictionary=mapping)
    assert result.ok, result.errors
    got = _stored_patient(session, "R1")
    assert [(t.kind, t.date, t.regimen) for t in got.treatments or []] == [
        ("systemic_therapy", dt.date(2024, 3, 10), "folfox"),
        ("hepatectomy", dt.date(2024, 7, 1), None)]
