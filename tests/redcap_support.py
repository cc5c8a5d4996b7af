"""REDCap helpers for tests: a REDCap-shaped export of patients against a Data Dictionary, and a
local stub of the REDCap API (a real HTTP server) that answers as REDCap documents.

The stub follows the API's documented request/response: every call is a POST of form fields
(``token``, ``content``, ``format``; records also ``type=flat``, ``rawOrLabel``,
``exportDataAccessGroups``, ``exportSurveyFields``, ``fields[n]``); JSON answers are JSON, CSV
answers are CSV; a wrong token is HTTP 403 with ``{"error": "You do not have permissions to use
the API"}``.
"""

from __future__ import annotations

import csv
import io
import json
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from crlm.domain import Patient
from crlm.registry.dictionary import format_cell
from crlm.registry.redcap import (
    METADATA_KEYS,
    RedcapField,
    checkbox_column,
    read_dictionary,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "redcap"
DICTIONARY = FIXTURES / "CRLMRegistry_DataDictionary_2026-11-30.csv"
RAW = FIXTURES / "CRLMRegistry_DATA_2026-11-30_1012.csv"
LABELS = FIXTURES / "CRLMRegistry_DATA_LABELS_2026-11-30_1012.csv"  # header: field labels
API_LABELS = FIXTURES / "api_records_rawOrLabel_label.csv"  # header: variable names
TOKEN = "0123456789ABCDEF0123456789ABCDEF"
SYSTEM = ["redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance"]


# ---------------------------------------------------------------------------- exports


def _path_of(f: RedcapField) -> str | None:
    for word in f.field_annotation.split():
        if word.startswith("@CRLM="):
            return word.removeprefix("@CRLM=")
    return None


def _get(doc: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(doc, dict):
            return None
        doc = doc.get(part)
    return doc


def _cell(f: RedcapField, value: Any, labels: bool) -> str:
    if value is None:
        return ""
    if f.kind == "yesno":
        return ("Yes" if value else "No") if labels else ("1" if value else "0")
    if f.kind in {"radio", "dropdown"}:
        return dict(f.choices())[str(value)] if labels else str(value)
    return format_cell(value)


def _checkboxes(f: RedcapField, values: list[Any] | None, labels: bool) -> dict[str, str]:
    ticked = {str(v) for v in values or []}
    return {checkbox_column(f.field_name, code): (
        ("Checked" if code in ticked else "Unchecked") if labels
        else ("1" if code in ticked else "0")) for code, _ in f.choices()}


def redcap_export(patients: list[Patient], fields: list[RedcapField], *,
                  labels: bool = False) -> list[dict[str, str]]:
    """The flat rows REDCap exports for these patients in a project built from ``fields``
    (one event; lists of records as repeating instruments; ``<form>_complete`` = 2)."""
    record_id = fields[0].field_name
    forms = list(dict.fromkeys(f.form_name for f in fields))
    columns = [record_id, *SYSTEM]
    for form in forms:
        for f in fields[1:]:
            if f.form_name == form:
                columns += ([checkbox_column(f.field_name, c) for c, _ in f.choices()]
                            if f.kind == "checkbox" else [f.field_name])
        columns.append(f"{form}_complete")
    rows = []
    for patient in patients:
        doc = patient.model_dump(mode="json", exclude_none=True)
        main = dict.fromkeys(columns, "") | {record_id: patient.id,
                                             "redcap_event_name": "baseline_arm_1"}
        repeats: dict[str, list[dict[str, str]]] = {}
        for f in fields[1:]:
            path = _path_of(f)
            if path is None:
                continue
            if "[]" in path:
                head, _, leaf = path.partition("[].")
                for i, item in enumerate(_get(doc, head) or [], start=1):
                    rows_of = repeats.setdefault(f.form_name, [])
                    if len(rows_of) < i:
                        rows_of.append(dict.fromkeys(columns, "") | {
                            record_id: patient.id, "redcap_event_name": "baseline_arm_1",
                            "redcap_repeat_instrument": f.form_name,
                            "redcap_repeat_instance": str(i),
                            f"{f.form_name}_complete": "Complete" if labels else "2"})
                    target = rows_of[i - 1]
                    if f.kind == "checkbox":
                        target.update(_checkboxes(f, item.get(leaf), labels))
                    else:
                        target[f.field_name] = _cell(f, item.get(leaf), labels)
                continue
            if f.kind == "checkbox":
                main.update(_checkboxes(f, _get(doc, path), labels))
            else:
                main[f.field_name] = _cell(f, _get(doc, path), labels)
            main[f"{f.form_name}_complete"] = "Complete" if labels else "2"
        rows.append(main)
        for form_rows in repeats.values():
            rows += form_rows
    return rows


def to_csv(rows: list[dict[str, str]]) -> bytes:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue().encode()


# ---------------------------------------------------------------------------- the API stub


def _metadata() -> list[dict[str, str]]:
    return [{k: f.values.get(k, "") for k in METADATA_KEYS}
            for f in read_dictionary(DICTIONARY.read_text(encoding="utf-8"))]


def _export_field_names() -> list[dict[str, str]]:
    """``exportFieldNames``: one row per export column of every field (a checkbox: one per
    option), as REDCap documents it."""
    out = []
    for f in read_dictionary(DICTIONARY.read_text(encoding="utf-8")):
        if f.kind == "descriptive":
            continue
        if f.kind == "checkbox":
            out += [{"original_field_name": f.field_name, "choice_value": code,
                     "export_field_name": checkbox_column(f.field_name, code)}
                    for code, _ in f.choices()]
        else:
            out.append({"original_field_name": f.field_name, "choice_value": "",
                        "export_field_name": f.field_name})
    return out


def _records(form: dict[str, str]) -> str:
    """The record export REDCap gives for these form fields (columns filtered as REDCap does)."""
    source = API_LABELS if form.get("rawOrLabel") == "label" else RAW
    table = list(csv.reader(io.StringIO(source.read_text(encoding="utf-8"))))
    header = table[0]
    wanted = {v for k, v in form.items() if k.startswith("fields[")}
    dag = form.get("exportDataAccessGroups", "").lower() in {"true", "1"}
    survey = form.get("exportSurveyFields", "").lower() in {"true", "1"}

    def keep(column: str) -> bool:
        if column in {header[0], *SYSTEM}:
            return True
        if column == "redcap_data_access_group":
            return dag
        if column == "redcap_survey_identifier" or column.endswith("_timestamp"):
            return survey
        return not wanted or column.split("___")[0] in wanted

    keep_at = [i for i, c in enumerate(header) if keep(c)]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for row in table:
        writer.writerow([row[i] for i in keep_at])
    return buf.getvalue()


class _Handler(BaseHTTPRequestHandler):
    server: _Stub

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _send(self, status: int, body: str, content_type: str) -> None:
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length).decode("utf-8")
        form = {k: v[-1] for k, v in urllib.parse.parse_qs(body, keep_blank_values=True).items()}
        self.server.requests.append(form)
        if self.path != "/api/" or self.headers.get("Content-Type", "").split(";")[0] != \
                "application/x-www-form-urlencoded":
            self._send(400, json.dumps({"error": "not an API request"}), "application/json")
            return
        if form.get("token") != self.server.token:
            self._send(403, json.dumps({"error": "You do not have permissions to use the API"}),
                       "application/json; charset=utf-8")
            return
        content, fmt = form.get("content"), form.get("format", "xml")
        if content == "project" and fmt == "json":
            info = {"project_id": 4711, "project_title": "CRLM registry (demo centre)",
                    "creation_time": "2026-01-05 10:00:00", "in_production": 1,
                    "is_longitudinal": 1, "has_repeating_instruments_or_events": 1,
                    "surveys_enabled": 1, "record_autonumbering_enabled": 0}
            self._send(200, json.dumps(info), "application/json; charset=utf-8")
        elif content == "metadata" and fmt == "json":
            self._send(200, json.dumps(_metadata()), "application/json; charset=utf-8")
        elif content == "exportFieldNames" and fmt == "json":
            self._send(200, json.dumps(_export_field_names()), "application/json; charset=utf-8")
        elif content == "record" and fmt == "csv" and form.get("type") == "flat":
            self._send(200, _records(form), "text/csv; charset=utf-8")
        else:
            self._send(400, json.dumps({"error": f"The value of the parameter \"content\" "
                                                 f"({content}) is not valid"}),
                       "application/json; charset=utf-8")


class _Stub(ThreadingHTTPServer):
    def __init__(self, token: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.token = token
        self.requests: list[dict[str, str]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/api/"


@contextmanager
def redcap_api(token: str = TOKEN) -> Iterator[_Stub]:
    """A local REDCap API serving the fixture project; ``.url``, ``.requests``."""
    server = _Stub(token)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
