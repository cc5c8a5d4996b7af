"""REDCap interchange: a real Data Dictionary and exports in, crlm's dictionary out, the API."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from pathlib import Path

import pytest
from sqlalchemy.orm import Session
from tests.redcap_support import (
    API_LABELS,
    DICTIONARY,
    LABELS,
    RAW,
    TOKEN,
    redcap_api,
    redcap_export,
    to_csv,
)
from tests.registry_support import *  # noqa: F403  (fixtures: db_url, session)
from tests.registry_support import rich_patient
from typer.testing import CliRunner

from crlm.domain import Patient
from crlm.registry import redcap, repository
from crlm.registry.dictionary import DataDictionary
from crlm.registry.importer import import_file

EXACT_HEADER = (
    '"Variable / Field Name","Form Name","Section Header","Field Type","Field Label",'
    '"Choices, Calculations, OR Slider Labels","Field Note",'
    '"Text Validation Type OR Show Slider Number","Text Validation Min","Text Validation Max",'
    '"Identifier?","Branching Logic (Show field only if...)","Required Field?",'
    '"Custom Alignment","Question Number (surveys only)","Matrix Group Name","Matrix Ranking?",'
    '"Field Annotation"')


def _header(text: str) -> list[str]:
    return next(csv.reader(io.StringIO(text)))


def _stored(session: Session, ext: str, centre: str = "c") -> Patient:
    pid = repository.find_patient_id(session, centre=centre, external_id=ext)
    assert pid is not None, ext
    return repository.get_patient(session, pid, actor="t")


def _project() -> DataDictionary:
    return DataDictionary.from_csv(DICTIONARY)


def _check_fixture_records(session: Session) -> None:
    """The records the fixture project holds, field by field."""
    p = _stored(session, "101")
    assert (p.age_years, p.sex, p.height_cm, p.weight_kg) == (61, "male", 175, 80)
    assert p.primary.site == "rectum" and p.primary.t_category == "T3"
    assert p.primary.date_of_diagnosis == dt.date(2023, 2, 14)
    assert p.primary.symptoms == ["bleeding", "obstruction"]
    assert (p.primary.node_positive, p.primary.resected) == (True, False)
    assert (p.liver.timing, p.liver.number_of_metastases, p.liver.largest_diameter_cm,
            p.liver.bilobar, p.extrahepatic_disease) == ("synchronous", 3, 4.2, True, False)
    assert [(les.segment, les.diameter_cm) for les in p.liver.lesions or []] == [
        (7, 4.2), (2, 1.5), (4, 1.1)]
    assert (p.labs.cea_ng_ml, p.labs.ca19_9_u_ml, p.labs.bilirubin_mg_dl) == (12.5, 40, 0.6)
    assert (p.molecular.kras, p.molecular.braf, p.molecular.msi) == ("mutant", "wildtype", "mss")
    assert [(o.kind, o.date, o.procedures, o.clavien_dindo, o.margin_mm)
            for o in p.operations or []] == [
        ("hepatectomy", dt.date(2023, 6, 20), ["right_hepatectomy"], "II", 5)]
    assert (p.outcome.date_last_follow_up, p.outcome.vital_status, p.outcome.date_of_recurrence,
            p.outcome.recurrence_sites) == (dt.date(2025, 1, 10), "alive", dt.date(2024, 8, 1),
                                           ["lung"])
    q = _stored(session, "102")
    assert (q.age_years, q.sex, q.primary.site, q.primary.t_category) == (
        72, "female", "right_colon", "T4b")  # site: @CRLM-CHOICES; T4b: the choice's label
    assert q.primary.symptoms == ["anaemia"] and q.primary.resected is True
    assert (q.molecular.kras, q.molecular.braf, q.molecular.msi) == (
        "wildtype", "v600e", "msi_high")
    assert q.labs.ca19_9_u_ml is None and q.liver.timing == "metachronous"
    # repeating instances come in any row order and are ordered by instance
    assert [(o.kind, o.date, o.procedures, o.clavien_dindo) for o in q.operations or []] == [
        ("primary_resection", dt.date(2022, 1, 15), None, "I"),
        ("hepatectomy", dt.date(2022, 9, 30), ["wedge_resection"], "IIIa")]
    assert q.outcome.vital_status == "dead" and q.outcome.recurrence_sites is None
    r = _stored(session, "103")
    assert r.sex is None  # "9, Unknown": unknown, never a value
    assert r.molecular.kras is None  # "9, Not tested"
    assert r.primary.site == "left_colon" and r.primary.t_category == "Tx"
    assert r.primary.symptoms == ["none"] and r.liver.lesions is None and r.operations is None


@pytest.mark.parametrize("export", [RAW, LABELS, API_LABELS],
                         ids=["raw", "labels", "api-labels"])
def test_a_real_project_export_imports_with_no_error(session: Session, export: Path) -> None:
    result = import_file(session, export, centre="c", actor="t", dictionary=_project())
    assert result.ok and result.n_errors == 0, result.errors
    assert (result.n_rows, result.n_patients, result.n_created) == (14, 3, 3)
    _check_fixture_records(session)
    notes = "\n".join(result.notes)
    assert "initials, bmi, path_report, qol_score" in notes  # fields crlm does not hold
    assert "branching logic was not applied" in notes and "resected" in notes
    assert "data access groups" in notes
    assert ("centre_a, centre_b" if export == RAW else "Centre A, Centre B") in notes


def test_fixture_follows_redcap_formats() -> None:
    """The fixtures spell REDCap's header and columns exactly as REDCap does."""
    text = DICTIONARY.read_text(encoding="utf-8")
    assert text.splitlines()[0].replace('"', "") == EXACT_HEADER.replace('"', "")
    raw = _header(RAW.read_text(encoding="utf-8"))
    assert raw[:6] == ["record_id", "redcap_event_name", "redcap_repeat_instrument",
                       "redcap_repeat_instance", "redcap_data_access_group",
                       "redcap_survey_identifier"]
    assert {"symptoms___1", "symptoms___99", "follow_up_timestamp",
            "surgery_complete"} <= set(raw)
    assert _header(API_LABELS.read_text(encoding="utf-8")) == raw
    labels = _header(LABELS.read_text(encoding="utf-8"))
    assert labels[:6] == ["Record ID", "Event Name", "Repeat Instrument", "Repeat Instance",
                          "Data Access Group", "Survey Identifier"]
    assert labels.count("Complete?") == 8 and "Survey Timestamp" in labels
    assert "Symptoms at presentation (choice=Abdominal pain)" in labels
    assert _project().header_names(labels) == raw


def test_a_labels_export_without_its_dictionary_says_what_is_needed(session: Session) -> None:
    result = import_file(session, LABELS, centre="c", actor="t")
    assert not result.ok
    assert "give the project's Data Dictionary to read it" in result.errors[0].reason


def test_a_labels_export_whose_header_is_not_the_projects_is_refused(session: Session) -> None:
    text = LABELS.read_text(encoding="utf-8").replace("Couinaud segment", "Segment", 1)
    result = import_file(session, text.encode(), centre="c", actor="t", dictionary=_project())
    assert not result.ok and result.errors[0].column == "(file)"
    assert "column 32 of the labels export, 'Segment', is not a field label" in \
        result.errors[0].reason


def test_export_without_the_project_dictionary_still_accepts_redcap_columns(
        session: Session) -> None:
    """``<form>_complete``, survey timestamps, DAG and survey id are not 'unknown columns'."""
    mapping = DataDictionary.from_csv("column,field\nrecord_id,id\nage,age_years\n")
    rows = [{"record_id": "R1", "redcap_event_name": "baseline_arm_1",
             "redcap_repeat_instrument": "", "redcap_repeat_instance": "",
             "redcap_data_access_group": "centre_a", "redcap_survey_identifier": "",
             "enrolment_timestamp": "2026-01-01 10:00:00", "age": "61",
             "enrolment_complete": "2"}]
    result = import_file(session, to_csv(rows), centre="c", actor="t", dictionary=mapping)
    assert result.ok, result.errors
    assert _stored(session, "R1").age_years == 61
    # a classic project (no events, no repeating instruments) has only <form>_complete
    classic = [{"record_id": "R2", "age": "70", "enrolment_complete": "0"}]
    result = import_file(session, to_csv(classic), centre="c", actor="t", dictionary=mapping)
    assert result.ok, result.errors
    # an unknown column of a REDCap export is still refused
    rows[0]["favourite_colour"] = "red"
    result = import_file(session, to_csv(rows), centre="c", actor="t", dictionary=mapping)
    assert [(e.column, e.reason) for e in result.errors] == [
        ("favourite_colour", "column not in the data dictionary")]


def _raw_rows() -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(RAW.read_text(encoding="utf-8"))))


def test_bad_cells_are_reported_row_by_row_and_nothing_lands(session: Session) -> None:
    rows = _raw_rows()
    rows[0]["sex"] = "3"  # no such choice
    rows[0]["symptoms___3"] = "2"  # a checkbox is 1/0
    rows[7]["age"] = "130"  # over the project's (and crlm's) range
    rows[5]["op_date"] = "31-02-2023"  # no such day
    result = import_file(session, to_csv(rows), centre="c", actor="t", dictionary=_project())
    assert not result.ok and repository.count_patients(session) == 0
    got = {(e.row, e.external_id, e.column): e.reason for e in result.errors}
    assert got[(2, "101", "sex")] == "'3' is not one of the choices 1 (Male), 2 (Female), " \
                                     "9 (Unknown)"
    assert "'2' is not 1/0 (Checked/Unchecked)" in got[(2, "101", "symptoms___3")]
    assert got[(9, "102", "age")] == "130 is outside the project's range 18–110"
    assert "is not a date (DD-MM-YYYY or YYYY-MM-DD)" in got[(7, "101", "op_date")]


def test_date_dmy_cells_in_the_projects_order_are_read() -> None:
    project = _project()
    read = project.by_column["date_dx"].read
    assert read is not None
    assert read("14-02-2023") == read("2023-02-14") == "2023-02-14"
    assert project.by_column["fu_date"].read is not None
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        project.by_column["fu_date"].read("14-02-2023")  # date_ymd: only Y-M-D


def _with_row(*rows: list[str]) -> str:
    fixture = DICTIONARY.read_text(encoding="utf-8")
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return fixture + buf.getvalue()


def _field(name: str, form: str, kind: str, label: str, choices: str = "",
           validation: str = "", annotation: str = "") -> list[str]:
    return [name, form, "", kind, label, choices, "", validation, "", "", "", "", "", "", "",
            "", "", annotation]


@pytest.mark.parametrize(("row", "message"), [
    (_field("cea_date", "labs", "text", "CEA", validation="date_ymd",
            annotation="@CRLM=labs.platelets_10e9_l"), "validation date_ymd is a date"),
    (_field("mdt_day", "labs", "text", "MDT", validation="email",
            annotation="@CRLM=assessment_date"), "is a date but the validation is email"),
    (_field("n_cycles", "labs", "text", "Cycles", validation="integer",
            annotation="@CRLM=assessment_date"), "validation integer is a number"),
    (_field("mol_nras", "molecular", "radio", "NRAS", "1, Mutated | 2, Normal"),
     "the choice '1' (Mutated) matches no crlm value; name one with @CRLM-CHOICES=1:<value>"),
    (_field("x", "labs", "text", "X", annotation="@CRLM=labs.potassium"),
     "@CRLM=labs.potassium names no crlm field"),
    (_field("molecular_tp53", "molecular", "checkbox", "TP53", "1, Mutant"),
     "a checkbox can only hold a crlm list of choices"),
    (_field("kras_again", "molecular", "radio", "KRAS", "1, Mutant",
            annotation="@CRLM=molecular.kras"), "molecular.kras is already mapped from kras"),
])
def test_a_dictionary_crlm_cannot_honour_is_refused_naming_line_and_field(
        row: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        DataDictionary.from_csv(_with_row(row))
    assert str(info.value).startswith(f"dictionary line 40 (field {row[0]})")


def test_explicit_choice_map_rescues_an_unmatched_label() -> None:
    row = _field("nras", "molecular", "radio", "NRAS", "1, Mutated | 2, Normal | 9, Not done",
                 annotation="@CRLM=molecular.nras @CRLM-CHOICES=1:mutant|2:wildtype")
    read = DataDictionary.from_csv(_with_row(row)).by_column["nras"].read
    assert read is not None
    assert [read(t) for t in ("1", "Normal", "9", "not done")] == [
        "mutant", "wildtype", None, None]


def test_a_misspelt_header_is_not_taken_for_a_redcap_dictionary() -> None:
    text = DICTIONARY.read_text(encoding="utf-8").replace("Field Type", "Field type", 1)
    with pytest.raises(ValueError, match="not a REDCap Data Dictionary column: 'Field type'"):
        DataDictionary.from_csv(text)
    with pytest.raises(ValueError, match="REDCap Data Dictionary"):
        DataDictionary.from_csv("Variable,Form\nrecord_id,enrolment\n")


# ---------------------------------------------------------------------------- crlm's dictionary


def test_crlm_dictionary_is_one_a_redcap_project_can_be_created_from() -> None:
    text = redcap.data_dictionary_csv()
    assert _header(text) == list(redcap.REDCAP_HEADER)
    rows = list(csv.DictReader(io.StringIO(text)))
    names = [r["Variable / Field Name"] for r in rows]
    assert names[0] == "record_id" and len(set(names)) == len(names)
    for name in names:  # REDCap: lower-case letters, digits, "_"; at most 26 characters advised
        assert re.fullmatch(r"[a-z][a-z0-9_]*", name) and len(name) <= redcap.MAX_NAME, name
        assert not name.startswith("redcap_") and not name.endswith(("_complete", "_timestamp"))
    forms = [r["Form Name"] for r in rows]
    assert len(set(forms)) == len(list(dict.fromkeys(forms)))  # forms are contiguous...
    assert all(forms.index(f) + forms.count(f) - 1 == max(
        i for i, g in enumerate(forms) if g == f) for f in set(forms))
    by_name = {r["Variable / Field Name"]: r for r in rows}
    assert by_name["sex"]["Choices, Calculations, OR Slider Labels"] == \
        "male, Male | female, Female"
    assert by_name["prim_symptoms"]["Field Type"] == "checkbox"
    assert by_name["lab_cea_ng_ml"]["Field Note"] == "ng/mL"
    assert by_name["lab_cea_ng_ml"]["Field Label"] == "CEA"
    assert by_name["age_years"]["Text Validation Type OR Show Slider Number"] == "number"
    assert (by_name["age_years"]["Text Validation Min"],
            by_name["age_years"]["Text Validation Max"]) == ("18", "110")
    assert by_name["out_date_of_death"]["Text Validation Type OR Show Slider Number"] == \
        "date_ymd"
    assert by_name["tx_cycles"]["Text Validation Type OR Show Slider Number"] == "integer"
    assert by_name["lesion_segment"]["Form Name"] in redcap.REPEATING_FORMS
    assert by_name["prim_resected"]["Field Type"] == "yesno"
    # every crlm field is there (lists of records through their items)
    mapped = {r["Field Annotation"].removeprefix("@CRLM=") for r in rows}
    assert mapped == {p for p in redcap.crlm_paths() if p not in redcap.RECORD_LISTS}
    # no user-facing label is an internal name
    for r in rows:
        assert "_" not in r["Field Label"] and "." not in r["Field Label"], r["Field Label"]


@pytest.mark.parametrize("labels", [False, True], ids=["raw", "labels"])
def test_an_export_of_a_project_built_from_crlms_dictionary_re_imports(
        session: Session, labels: bool) -> None:
    fields = redcap.read_dictionary(redcap.data_dictionary_csv())
    mapping = redcap.mapping_from_fields(fields)
    patients = [rich_patient(), rich_patient(id="MDA-0002", sex="female", age_years=47.5,
                                             notes="Seen twice, second opinion")]
    rows = redcap_export(patients, fields, labels=labels)
    assert {"prim_symptoms___bleeding", "liver_planned_procedures___right_hepatectomy",
            "tx_procedures___right_hepatectomy", "patient_complete"} <= set(rows[0])
    result = import_file(session, to_csv(rows), centre="c", actor="t", dictionary=mapping)
    assert result.ok, result.errors
    assert result.notes == []  # nothing skipped, no branching logic
    for p in patients:  # a checkbox is a set: its options come back in the choices' order
        assert _as_sets(_stored(session, p.id)) == _as_sets(p)
    assert _stored(session, "MDA-0001").liver.planned_procedures == [
        "wedge_resection", "right_hepatectomy"]


def _as_sets(value: object) -> object:
    """A patient document with every list of codes as a sorted list."""
    if isinstance(value, Patient):
        value = value.model_dump(mode="json", exclude_none=True)
    if isinstance(value, dict):
        return {k: _as_sets(v) for k, v in value.items()}
    if isinstance(value, list):
        items = [_as_sets(v) for v in value]
        return sorted(items) if all(isinstance(v, str) for v in items) else items
    return value


def test_checkbox_columns_without_the_codes_underscores_are_read(session: Session) -> None:
    """Some REDCap versions export the option ``change_in_bowel_habit`` of ``prim_symptoms`` as
    ``prim_symptoms___changeinbowelhabit``."""
    fields = redcap.read_dictionary(redcap.data_dictionary_csv())
    patient = rich_patient(primary={**rich_patient().primary.model_dump(mode="json"),
                                    "symptoms": ["change_in_bowel_habit", "weight_loss"]})
    rows = [{k.replace("___change_in_bowel_habit", "___changeinbowelhabit")
              .replace("___weight_loss", "___weightloss"): v for k, v in row.items()}
            for row in redcap_export([patient], fields)]
    assert "prim_symptoms___changeinbowelhabit" in rows[0]
    result = import_file(session, to_csv(rows), centre="c", actor="t",
                         dictionary=redcap.mapping_from_fields(fields))
    assert result.ok, result.errors
    assert _stored(session, patient.id).primary.symptoms == [
        "change_in_bowel_habit", "weight_loss"]


def test_cli_writes_the_dictionary_and_imports_a_redcap_export(tmp_path: Path) -> None:
    from crlm.cli import app as cli

    url = f"sqlite:///{tmp_path / 'r.db'}"
    runner = CliRunner()
    out = tmp_path / "crlm_DataDictionary.csv"
    r = runner.invoke(cli, ["db", "export", "--redcap-dictionary", str(out), "--db", url])
    assert r.exit_code == 0, r.output
    assert out.read_text(encoding="utf-8") == redcap.data_dictionary_csv()
    assert "liver_lesions, operations, treatments" in r.output
    r = runner.invoke(cli, ["db", "import", str(RAW), "--centre", "oslo", "--dictionary",
                            str(DICTIONARY), "--db", url])
    assert r.exit_code == 0, r.output
    assert "3 patients (3 new" in r.output and "branching logic was not applied" in r.output
    r = runner.invoke(cli, ["db", "import", str(RAW), "--centre", "oslo", "--dictionary",
                            str(DICTIONARY), "--centre-from-dag", "--db",
                            f"sqlite:///{tmp_path / 'dag.db'}"])
    assert r.exit_code == 0, r.output
    assert "into centres centre_a, centre_b" in r.output


# ---------------------------------------------------------------------------- the API


def test_pull_through_the_api_with_pycap_imports_the_project(tmp_path: Path) -> None:
    from crlm.cli import app as cli

    url = f"sqlite:///{tmp_path / 'r.db'}"
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o600)
    with redcap_api() as api:
        r = CliRunner().invoke(cli, ["db", "import", "--redcap-url", api.url, "--token-file",
                                     str(token_file), "--centre", "c", "--db", url])
        requests = list(api.requests)
    assert r.exit_code == 0, r.output
    assert "from REDCap project 'CRLM registry (demo centre)'" in r.output
    assert all(q["token"] == TOKEN for q in requests)
    record = next(q for q in requests if q["content"] == "record")
    assert (record["format"], record["type"], record["rawOrLabel"]) == ("csv", "flat", "raw")
    assert record["exportDataAccessGroups"].lower() == "true"
    assert {q["content"] for q in requests} >= {"project", "metadata", "exportFieldNames",
                                                "record"}
    from crlm.registry.db import init_db, make_session_factory

    with make_session_factory(init_db(url))() as session:
        _check_fixture_records(session)


def test_a_refused_token_is_reported_without_showing_it(tmp_path: Path) -> None:
    from crlm.cli import app as cli

    token_file = tmp_path / "token"
    other = "F" * 32
    token_file.write_text(other)
    token_file.chmod(0o600)
    with redcap_api() as api:
        r = CliRunner().invoke(cli, ["db", "import", "--redcap-url", api.url, "--token-file",
                                     str(token_file), "--centre", "c", "--db",
                                     f"sqlite:///{tmp_path / 'r.db'}"])
    assert r.exit_code == 2
    assert "You do not have permissions to use the API" in r.output
    assert other not in r.output
    token_file.write_text("not-a-token")
    r = CliRunner().invoke(cli, ["db", "import", "--redcap-url", "http://127.0.0.1:9/api/",
                                 "--token-file", str(token_file), "--centre", "c"])
    assert r.exit_code == 2 and "32 hexadecimal characters" in r.output
    assert "not-a-token" not in r.output


def test_docs_list_every_field_with_its_redcap_name() -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "redcap.md").read_text()
    for row in redcap.dictionary_rows():
        path = row["field_annotation"].removeprefix("@CRLM=")
        assert f"| `{path}` | `{row['field_name']}` | {row['form_name']} |" in doc, path


def test_an_unreachable_server_is_a_clear_error() -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ValueError, match=r"cannot be reached \(ConnectionError\)"):
        redcap.pull(f"http://127.0.0.1:{port}/api/", TOKEN)
    with pytest.raises(ValueError, match="is not a REDCap API address"):
        redcap.pull("http://127.0.0.1/redcap/", TOKEN)


def test_data_access_groups_can_choose_the_centre(session: Session) -> None:
    from crlm.registry import audit
    from crlm.registry.undo import undo_import

    result = import_file(session, RAW, centre="fallback", actor="t", dictionary=_project(),
                         dag_centres=True)
    assert result.ok, result.errors
    assert result.centres == ["centre_a", "centre_b"]
    assert "each record went to the centre its group names" in "\n".join(result.notes)
    _check_fixture_records_in(session, {"101": "centre_a", "102": "centre_b",
                                        "103": "centre_a"})
    assert repository.find_patient_id(session, centre="fallback", external_id="101") is None
    event = next(e for e in audit.list_events(session, limit=50) if e.action == "import")
    assert '"centres": ["centre_a", "centre_b"]' in (event.detail or "")
    # re-importing merges into the same patients of each centre
    again = import_file(session, RAW, centre="fallback", actor="t", dictionary=_project(),
                        dag_centres=True)
    assert (again.n_created, again.n_unchanged) == (0, 3)
    undone = undo_import(session, result.import_id or "", actor="t")
    assert (undone.n_deleted, repository.count_patients(session)) == (3, 0)


def _check_fixture_records_in(session: Session, centres: dict[str, str]) -> None:
    for ext, centre in centres.items():
        assert _stored(session, ext, centre).id == ext
    assert _stored(session, "102", "centre_b").molecular.braf == "v600e"


def test_a_record_in_two_data_access_groups_is_refused(session: Session) -> None:
    rows = _raw_rows()
    rows[3]["redcap_data_access_group"] = "centre_b"  # a lesion row of record 101
    result = import_file(session, to_csv(rows), centre="c", actor="t", dictionary=_project(),
                         dag_centres=True)
    assert not result.ok and repository.count_patients(session) == 0
    assert [(e.row, e.column) for e in result.errors] == [(5, "redcap_data_access_group")]
    assert result.errors[0].reason == ("the record is in data access group 'centre_b' here "
                                       "and in 'centre_a' on row 2")


def test_the_apis_export_field_names_name_the_checkbox_columns() -> None:
    fields = redcap.read_dictionary(DICTIONARY.read_text(encoding="utf-8"))
    mapping = redcap.mapping_from_fields(
        fields, export_names={("symptoms", "4"): "symptoms___pain4"})
    assert mapping.by_column["symptoms___pain4"].field == "primary.symptoms"
    assert "symptoms___4" not in mapping.by_column and "symptoms___1" in mapping.by_column
