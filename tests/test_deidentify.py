"""De-identification that holds: the 18 Safe Harbor identifier kinds, the two levels, coded
free text, plausible dates, atomic exports, and output safety (CSV, HTML, markdown)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from pydantic import ValidationError
from sqlalchemy.orm import Session
from tests.registry_support import *  # noqa: F403  (fixtures: db_url, session)
from tests.registry_support import RICH_PATIENT, rich_patient
from typer.testing import CliRunner

from crlm.cli import app
from crlm.domain import Regimen, parse_patient
from crlm.domain import dates as plausible
from crlm.registry import export, repository
from crlm.registry.dataset import analysis_dataset
from crlm.registry.db import alembic_config, init_db, make_engine, make_session_factory
from crlm.safe_output import atomic_write, neutralise, safe_csv_writer

SECRET = "0123456789abcdef-test-secret"
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

# The 18 HIPAA Safe Harbor identifier kinds (45 CFR 164.514(b)(2)(i)(A)–(R)), each as text a
# record might carry. Those that fit the id pattern are also used as patient ids.
IDENTIFIERS = {
    "name": "Johanna Kowalczyk",
    "geographic subdivision": "12 Elm Street, Springfield MA 02139",
    "date element": "born 17 May 1931",
    "telephone": "617-555-0123",
    "fax": "fax 617-555-0199",
    "e-mail": "j.kowalczyk@example.org",
    "social security number": "078-05-1120",
    "medical record number": "MRN-00981234",
    "health plan beneficiary number": "HPB-44718-22",
    "account number": "ACCT-5519-2207",
    "certificate or licence number": "DL-S530-4417-9981",
    "vehicle identifier": "1HGCM82633A004352",
    "device identifier": "DEV-SN-AX7730019",
    "URL": "https://example.org/patients/kowalczyk",
    "IP address": "192.168.17.203",
    "biometric identifier": "fingerprint-template-9F3A11C2",
    "full-face photograph": "photo IMG_20240301_kowalczyk.jpg",
    "other unique identifier": "study-key-QZ81-774",
}
ID_PATTERN = re.compile(r"^[A-Za-z0-9_.\-]+$")
#: Fragments of the identifiers that must not appear anywhere in a de-identified export.
FRAGMENTS = ["Kowalczyk", "kowalczyk", "Elm Street", "Springfield", "02139", "1931",
             "example.org", *IDENTIFIERS.values()]


def _records_with_identifiers(session: Session) -> None:
    """One patient per identifier kind: the text in the notes, in the id where it fits, in the
    centre name; full dates everywhere the model has a date; one patient aged 95."""
    notes = "\n".join(f"{kind}: {text}" for kind, text in IDENTIFIERS.items())
    for n, (_kind, text) in enumerate(IDENTIFIERS.items()):
        external_id = text if ID_PATTERN.match(text) else f"X{n}"
        patient = rich_patient(id=external_id, notes=notes, age_years=95 if n == 0 else 61)
        repository.add_patient(session, patient, centre="Springfield-02139", actor="dm")
    session.commit()


def _cli(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), env={"CRLM_DEID_SECRET": SECRET})
    assert result.exit_code == 0, result.output
    return result.output


def test_coded_fields_refuse_identifiers() -> None:
    for text in IDENTIFIERS.values():
        with pytest.raises(ValidationError, match=r"chemotherapy\.regimen"):
            rich_patient(chemotherapy={"regimen": text})
        with pytest.raises(ValidationError, match="recurrence_sites"):
            rich_patient(outcome={"recurrence_sites": [text]})


def test_no_safe_harbor_identifier_survives_any_safe_harbor_export(
        db_url: str, tmp_path: Path) -> None:
    engine = init_db(db_url)
    with make_session_factory(engine)() as session:
        _records_with_identifiers(session)
        full = {r.patient.id for r in export.iter_records(session, actor="t")}
        session.rollback()
    engine.dispose()
    assert sum(ID_PATTERN.match(t) is not None for t in IDENTIFIERS.values()) >= 10
    assert {t for t in IDENTIFIERS.values() if ID_PATTERN.match(t)} <= full
    outputs = {}
    for name, extra in [("flat.csv", []), ("docs.jsonl", []), ("analysis.csv", ["--analysis"]),
                        ("dx.csv", ["--analysis", "--origin", "diagnosis"])]:
        out = tmp_path / name
        _cli("db", "export", str(out), "--db", db_url, "--deidentify", "safe-harbor", *extra)
        outputs[name] = out.read_text(encoding="utf-8")
    for name, text in outputs.items():
        for fragment in FRAGMENTS:
            assert fragment not in text, f"{fragment!r} survives in {name}"
        assert not ISO_DATE.search(text), f"a full date survives in {name}"
        assert "95" not in re.sub(r"D[0-9a-f]{16}", "", text), f"age 95 survives in {name}"
    docs = [json.loads(line) for line in outputs["docs.jsonl"].splitlines()]
    assert len(docs) == len(IDENTIFIERS)
    assert all("notes" not in d for d in docs)
    assert "90+" in {d["age_years"] for d in docs}
    assert "notes" not in outputs["flat.csv"].splitlines()[0].split(",")


def test_safe_harbor_keeps_years_and_suppresses_those_past_89(session: Session) -> None:
    old = rich_patient(id="OLD-1", age_years=87.5)  # assessed 2024-04-15; over 89 by 2026
    pid = repository.add_patient(session, old, centre="c", actor="dm")
    doc = export.deidentify(repository.get_record(session, pid, actor="dm"), SECRET.encode())
    assert doc["age_years"] == 87
    assert doc["assessment_date"] == 2024 and doc["primary"]["date_of_diagnosis"] == 2024
    assert doc["operations"][0]["date"] == 2024
    # recurrence 2025-05-01 at age 88.5 (kept); follow-up 2026-01-10 at 89.2 (year dropped)
    assert doc["outcome"]["date_of_recurrence"] == 2025
    assert "date_last_follow_up" not in doc["outcome"]
    assert not ISO_DATE.search(json.dumps(doc))


def test_analysis_export_honours_deidentification(tmp_path: Path) -> None:
    """The finding: `--analysis --deidentified` wrote the MRN and age 97.4."""
    url = f"sqlite:///{tmp_path / 'a.db'}"
    engine = init_db(url)
    with make_session_factory(engine)() as session:
        repository.add_patient(session, rich_patient(id="MRN-7731", age_years=97.4),
                               centre="c", actor="dm")
        session.commit()
    out = tmp_path / "analysis.csv"
    assert "HIPAA Safe Harbor" in _cli("db", "export", str(out), "--db", url, "--analysis",
                                       "--deidentified")
    row = next(csv.DictReader(out.open()))
    assert row["id"].startswith("D") and "MRN-7731" not in out.read_text()
    assert row["age_years"] == "90+" and row["year_of_diagnosis"] == ""
    assert row["os_days"] == str((dt.date(2026, 1, 10) - dt.date(2024, 7, 1)).days)
    _cli("db", "export", str(out), "--db", url, "--analysis", "--deidentify", "limited")
    row = next(csv.DictReader(out.open()))
    assert row["age_years"] == "90+" and row["year_of_diagnosis"] in {"2023", "2024", "2025"}
    with make_session_factory(engine)() as session:
        frame = analysis_dataset(session, secret=SECRET.encode(),
                                 level=export.DeidLevel.safe_harbor)
        assert frame.loc[0, "id"] == export.pseudonym(SECRET.encode(), "c", "MRN-7731")
    engine.dispose()


def test_cli_level_flags(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'f.db'}"
    out = tmp_path / "x.csv"
    runner = CliRunner()
    res = runner.invoke(app, ["db", "export", str(out), "--db", url, "--deidentified",
                              "--deidentify", "limited"], env={"CRLM_DEID_SECRET": SECRET})
    assert res.exit_code == 2 and "only one" in res.output
    res = runner.invoke(app, ["db", "export", str(out), "--db", url, "--deidentify",
                              "safe-harbour"], env={"CRLM_DEID_SECRET": SECRET})
    assert res.exit_code == 2
    res = runner.invoke(app, ["db", "export", str(out), "--db", url, "--deidentify", "limited"],
                        env={"CRLM_DEID_SECRET": ""})
    assert res.exit_code == 2 and "secret" in res.output
    assert "limited data set" in _cli("db", "export", str(out), "--db", url, "--deidentify",
                                      "limited")
    key = tmp_path / "deid.key"
    key.write_text(SECRET)
    key.chmod(0o644)
    res = runner.invoke(app, ["db", "export", str(out), "--db", url, "--deidentified",
                              "--secret-file", str(key)])
    assert res.exit_code == 0 and "readable by other users" in res.output
    key.chmod(0o600)
    res = runner.invoke(app, ["db", "export", str(out), "--db", url, "--deidentified",
                              "--secret-file", str(key)])
    assert res.exit_code == 0 and "warning" not in res.output
    res = runner.invoke(app, ["db", "export", str(out), "--db", url, "--secret-file", str(key)])
    assert res.exit_code == 2 and "only used with --deidentify" in res.output


def test_failed_export_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'e.db'}"
    engine = init_db(url)
    with make_session_factory(engine)() as session:
        for n in range(3):
            repository.add_patient(session, rich_patient(id=f"E{n}"), centre="c", actor="dm")
        session.commit()
    engine.dispose()
    calls = []

    def fail_on_second(record, secret, level):  # type: ignore[no-untyped-def]
        calls.append(record)
        if len(calls) == 2:
            raise RuntimeError("disk on fire")
        return {"id": "x"}

    monkeypatch.setattr(export, "deidentify", fail_on_second)
    out = tmp_path / "out.jsonl"
    out.write_text("previous export\n")
    res = CliRunner().invoke(app, ["db", "export", str(out), "--db", url, "--deidentified"],
                             env={"CRLM_DEID_SECRET": SECRET})
    assert res.exit_code != 0 and len(calls) == 2
    assert out.read_text() == "previous export\n"
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith("e.db")] == [
        "out.jsonl"]


def test_atomic_write_replaces_only_on_success(tmp_path: Path) -> None:
    target = tmp_path / "t.txt"
    with atomic_write(target) as fh:
        fh.write("whole")
    assert target.read_text() == "whole"
    with pytest.raises(ZeroDivisionError), atomic_write(target) as fh:
        fh.write("half")
        _ = 1 / 0
    assert target.read_text() == "whole" and len(list(tmp_path.iterdir())) == 1
    private = tmp_path / "p.txt"
    with atomic_write(private, private=True) as fh:
        fh.write("patient data")
    assert private.stat().st_mode & 0o777 == 0o600
    target.chmod(0o640)
    with atomic_write(target) as fh:
        fh.write("again")
    assert target.stat().st_mode & 0o777 == 0o640


# ---------------------------------------------------------------------------- coded free text


@pytest.mark.parametrize(("text", "code"), [
    ("FOLFOX", "folfox"), ("mFOLFOX6", "folfox"), ("modified folfox 6", "folfox"),
    ("XELOX", "capox"), ("CapeOx", "capox"), ("Folfiri", "folfiri"),
    ("FOLFIRINOX", "folfoxiri"), ("5-FU/LV", "fluoropyrimidine"),
    ("capecitabine", "fluoropyrimidine"), ("other", "other"),
])
def test_regimen_spellings_map_to_codes(text: str, code: str) -> None:
    assert rich_patient(chemotherapy={"regimen": text}).chemotherapy.regimen == Regimen(code)
    event = {"kind": "systemic_therapy", "regimen": text}
    assert rich_patient(treatments=[event]).treatments[0].regimen == Regimen(code)


def test_unknown_regimen_and_combination_are_clear_errors() -> None:
    with pytest.raises(ValidationError) as err:
        parse_patient({"chemotherapy": {"regimen": "FOLFOX + bevacizumab"}})
    assert "anti-VEGF" in str(err.value) and "(folfox)" in str(err.value)
    with pytest.raises(ValidationError) as err:
        parse_patient({"chemotherapy": {"regimen": "trial drug ABC"}})
    message = str(err.value)
    assert "not a coded regimen" in message and "capox (XELOX" in message and "notes" in message


def test_recurrence_site_spellings() -> None:
    p = parse_patient({"outcome": {"recurrence_sites": ["Pulmonary", "LIVER", "lymph nodes"]}})
    assert [s.value for s in p.outcome.recurrence_sites] == ["lung", "liver", "lymph_nodes"]
    with pytest.raises(ValidationError, match="not a coded recurrence site"):
        parse_patient({"outcome": {"recurrence_sites": ["behind the left ear"]}})


def test_csv_import_reads_spellings_and_reports_free_text(session: Session) -> None:
    from crlm.registry.importer import import_rows

    rows = [{"id": "S1", "chemotherapy.regimen": "XELOX",
             "outcome.recurrence_sites": "pulmonary;hepatic"},
            {"id": "S2", "chemotherapy.regimen": "Dr Kowalczyk's protocol"}]
    result = import_rows(session, rows, centre="c", actor="dm")
    assert not result.ok and result.errors[0].column == "chemotherapy.regimen"
    assert "not a coded regimen" in result.errors[0].reason
    result = import_rows(session, rows[:1], centre="c", actor="dm")
    assert result.ok
    (record,) = export.iter_records(session, actor="t")
    assert record.patient.chemotherapy.regimen == Regimen.capox
    assert [s.value for s in record.patient.outcome.recurrence_sites] == ["lung", "liver"]


def test_notes_are_bounded_and_kept_in_the_full_export(session: Session) -> None:
    from crlm.domain.patient import NOTES_MAX_CHARS

    with pytest.raises(ValidationError, match="notes"):
        rich_patient(notes="x" * (NOTES_MAX_CHARS + 1))
    pid = repository.add_patient(session, rich_patient(notes="call 617-555-0123"), centre="c",
                                 actor="dm")
    record = repository.get_record(session, pid, actor="dm")
    assert record.patient.notes == "call 617-555-0123"
    assert export.flat_row(record.patient)["notes"] == "call 617-555-0123"
    for level in export.DeidLevel:
        assert "617-555" not in json.dumps(export.deidentify(record, b"k" * 16, level))
        assert "notes" not in export.deidentified_flat_row(record, b"k" * 16, level)


def _just_before_0004(db_url: str) -> sa.Engine:
    """A database migrated up to the revision that migration 0004 follows."""
    from alembic.script import ScriptDirectory

    engine = make_engine(db_url)
    config = alembic_config(engine)
    previous = ScriptDirectory.from_config(config).get_revision("0004_coded_free_text")
    command.upgrade(config, previous.down_revision)
    return engine


def test_migration_codes_free_text_and_loses_nothing(db_url: str) -> None:
    engine = _just_before_0004(db_url)
    now = dt.datetime.now(dt.UTC)
    rows = {"A": ("FOLFOX + bevacizumab", ["Pulmonary", "liver"], "2024-03-01"),
            "B": ("Dr Kowalczyk's protocol 617-555-0123", ["behind the ear"], "0001-01-01"),
            "C": ("XELOX", None, "2024-03-01")}
    with engine.begin() as conn:
        meta = sa.MetaData()
        meta.reflect(conn)
        t = meta.tables
        for n, (ext, (regimen, sites, diagnosis)) in enumerate(rows.items(), start=1):
            conn.execute(t["patients"].insert().values(
                id=n, centre="c", external_id=ext, created_at=now, updated_at=now,
                assessment_date=dt.date(2024, 4, 15)))
            conn.execute(t["chemotherapy_courses"].insert().values(patient_id=n,
                                                                   regimen=regimen))
            conn.execute(t["primary_tumours"].insert().values(
                patient_id=n, date_of_diagnosis=dt.date.fromisoformat(diagnosis)))
            conn.execute(t["follow_up"].insert().values(
                patient_id=n, recurrence_sites=sites,
                date_last_follow_up=dt.date(9999, 12, 31) if ext == "B" else None))
    command.upgrade(alembic_config(engine), "head")
    with make_session_factory(engine)() as session:
        got = {r.external_id: r.patient for r in export.iter_records(session, actor="t")}
    engine.dispose()
    a, b, c = got["A"], got["B"], got["C"]
    assert a.chemotherapy.regimen == Regimen.folfox and a.chemotherapy.anti_vegf is True
    assert "FOLFOX + bevacizumab" in (a.notes or "")
    assert [s.value for s in a.outcome.recurrence_sites] == ["lung", "liver"]
    assert b.chemotherapy.regimen == Regimen.other
    assert b.outcome.recurrence_sites is not None
    assert [s.value for s in b.outcome.recurrence_sites] == ["other"]
    assert "Dr Kowalczyk's protocol 617-555-0123" in b.notes
    assert "behind the ear" in b.notes
    assert b.primary.date_of_diagnosis is None and "0001-01-01" in b.notes
    assert b.outcome.date_last_follow_up is None and "9999-12-31" in b.notes
    assert c.chemotherapy.regimen == Regimen.capox and c.notes is None


# ---------------------------------------------------------------------------- plausible dates


@pytest.fixture
def pinned_today(monkeypatch: pytest.MonkeyPatch) -> dt.date:
    day = dt.date(2026, 6, 1)
    monkeypatch.setattr(plausible, "today", lambda: day)
    return day


def test_dates_before_1900_are_refused_with_the_field_named(pinned_today: dt.date) -> None:
    parse_patient({"primary": {"date_of_diagnosis": "1900-01-01"}})
    with pytest.raises(ValidationError) as err:
        parse_patient({"primary": {"date_of_diagnosis": "1899-12-31"}})
    assert "primary.date_of_diagnosis" in str(err.value) and "1900-01-01" in str(err.value)
    with pytest.raises(ValidationError, match=r"treatments\.0\.date"):
        parse_patient({"treatments": [{"kind": "pve", "date": "0001-01-01"}]})


def test_past_dates_cannot_lie_ahead_planned_ones_up_to_a_year(pinned_today: dt.date) -> None:
    tomorrow = (pinned_today + dt.timedelta(days=1)).isoformat()
    with pytest.raises(ValidationError, match=r"(?s)outcome\.date_of_death.*in the future"):
        parse_patient({"outcome": {"date_of_death": tomorrow, "vital_status": "dead"}})
    last = (pinned_today + plausible.PLANNING_MARGIN).isoformat()
    beyond = (pinned_today + plausible.PLANNING_MARGIN + dt.timedelta(days=1)).isoformat()
    parse_patient({"operations": [{"kind": "hepatectomy", "date": last}],
                   "assessment_date": last})
    for doc in ({"operations": [{"kind": "hepatectomy", "date": beyond}]},
                {"assessment_date": "9999-12-31"},
                {"treatments": [{"kind": "systemic_therapy", "end_date": beyond}]}):
        with pytest.raises(ValidationError, match="more than a year ahead"):
            parse_patient(doc)


def test_diagnosis_cannot_follow_the_assessment() -> None:
    with pytest.raises(ValidationError, match="after the assessment date"):
        rich_patient(assessment_date="2024-02-01")


def test_extreme_dates_are_refused_at_import_exit_2(tmp_path: Path) -> None:
    src = tmp_path / "x.csv"
    src.write_text("id,primary.date_of_diagnosis,outcome.date_last_follow_up\n"
                   "A,0001-01-01,\nB,,9999-12-31\n")
    res = CliRunner().invoke(app, ["db", "import", str(src), "--centre", "c", "--db",
                                   f"sqlite:///{tmp_path / 'x.db'}"])
    assert res.exit_code == 2
    assert "primary.date_of_diagnosis: 0001-01-01 is before 1900-01-01" in res.output
    assert "outcome.date_last_follow_up: 9999-12-31 is in the future" in res.output


# ---------------------------------------------------------------------------- output safety


@pytest.mark.parametrize("cell", ["=HYPERLINK(\"http://x\",\"y\")", "+cmd", "-2+3", "@SUM(A1)",
                                  "\tx", "\rx", "-", "=1"])
def test_formula_cells_are_neutralised(cell: str) -> None:
    assert neutralise(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["-3.5", "+1e-3", "12", "a=b", "", "0.5", 7, None, -2.0])
def test_data_cells_are_left_alone(cell: object) -> None:
    assert neutralise(cell) == cell


def test_every_csv_writer_goes_through_the_safe_helper() -> None:
    src = Path(__file__).resolve().parents[1] / "src" / "crlm"
    unsafe = re.compile(r"csv\.writer\(|csv\.DictWriter\(|\.to_csv\(")
    # calls of the safe methods Table1.to_csv / RegressionTable.to_csv (the CLI's ``t``); the
    # REDCap Data Dictionary holds only text from crlm's code, and its "@CRLM=…" action tags
    # must stay as REDCap reads them (a leading ' would break them)
    allowed = {"cli/stats_tables_cmds.py": "t.to_csv(",
               "registry/redcap.py": "csv.writer(buf, lineterminator=\"\\n\")  # text from code"}
    offenders = []
    for path in src.rglob("*.py"):
        name = str(path.relative_to(src))
        text = path.read_text().replace(allowed.get(name, "\0"), "")
        text = re.sub(r"def to_csv\(", "", text)
        if name != "safe_output.py" and unsafe.search(text):
            offenders.append(name)
    assert offenders == []


def test_import_error_report_neutralises_formulas(session: Session) -> None:
    from crlm.registry.importer import import_rows

    result = import_rows(session, [{"id": "=1+1", "age_years": "@SUM(A1)"},
                                   {"id": "-cmd", "age_years": "+x"}], centre="c", actor="dm")
    assert not result.ok
    rows = list(csv.reader(io.StringIO(result.errors_csv())))[1:]
    assert {r[1] for r in rows} == {"'=1+1", "'-cmd"}
    assert not any(c.startswith(("=", "+", "-", "@")) for row in rows for c in row)


def test_full_cli_export_neutralises_formulas(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'n.db'}"
    engine = init_db(url)
    with make_session_factory(engine)() as session:
        repository.add_patient(session, rich_patient(notes="@SUM(1+1)*cmd|' /C calc'!A0"),
                               centre="c", actor="dm")
        session.commit()
    engine.dispose()
    out = tmp_path / "full.csv"
    _cli("db", "export", str(out), "--db", url)
    row = next(csv.DictReader(out.open(newline="")))
    assert row["notes"].startswith("'@SUM") and row["age_years"] == "61.0"


def test_stats_csv_neutralises_group_labels(tmp_path: Path) -> None:
    import pandas as pd

    from crlm.stats.table1 import table1

    frame = pd.DataFrame({"g": ["=cmd()", "=cmd()", "b", "b"], "x": [1.0, -2.0, 3.0, 4.0]})
    text = table1(frame, "g", continuous=["x"]).to_csv()
    assert "'=cmd()" in text and not re.search(r"(^|,)=cmd", text, re.M)
    writer_buf = io.StringIO()
    safe_csv_writer(writer_buf).writerow(["=a", -1.5, "-1.5"])
    assert writer_buf.getvalue().strip() == "'=a,-1.5,-1.5"


def test_regression_table_footnotes_are_escaped() -> None:
    import pandas as pd

    from crlm.stats.regression_table import RegressionTable

    table = RegressionTable(pd.DataFrame({"a": ["<b>x</b>"]}), "cox", [], 0.1, [], 0,
                            ["<script>alert(1)</script> & co"])
    html = table.to_html()
    assert "<script>" not in html and "&lt;script&gt;" in html and "<b>x</b>" not in html


def test_markdown_summary_escapes_raw_html() -> None:
    from crlm.clinical.assess import assess
    from crlm.reports import tumour_board

    assert "<script>" not in tumour_board._md("<script>alert(1)</script>")
    events = [{**e, "regimen": "XELOX"} if e["kind"] == "systemic_therapy" else e
              for e in RICH_PATIENT["treatments"]]
    patient = parse_patient({**RICH_PATIENT, "treatments": events})
    text = tumour_board.render(assess(patient), patient, "markdown")
    assert "CAPOX" in text and "capox" not in text
