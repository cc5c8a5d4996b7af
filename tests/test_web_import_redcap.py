"""The web import page takes a REDCap export with its project's Data Dictionary."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from tests.redcap_support import DICTIONARY, LABELS, RAW

from web_support import api_token, csrf_from, page_login


def _import(client: TestClient, data: bytes, name: str, dictionary: bytes | None = None,
            **fields: str):
    token = csrf_from(client.get("/import").text)
    files = {"file": (name, data, "text/csv")}
    if dictionary is not None:
        files["dictionary"] = ("CRLMRegistry_DataDictionary.csv", dictionary, "text/csv")
    return client.post("/import", data={"csrf_token": token, **fields}, files=files)


def _stored(client: TestClient, user: str, ext: str) -> list[dict]:
    api = api_token(client, user)
    return client.get(f"/api/v1/patients?search={ext}", headers=api).json()["items"]


def test_a_redcap_export_with_its_dictionary_imports_and_says_what_was_skipped(client):
    page_login(client, "alice")
    page = client.get("/import").text
    assert 'name="dictionary"' in page and 'name="centre_from_dag"' not in page
    for export in (RAW, LABELS):
        r = _import(client, export.read_bytes(), export.name, DICTIONARY.read_bytes())
        assert r.status_code == 200, r.text
        assert "Imported 3 patients" in r.text
        assert "branching logic was not applied" in r.text  # the importer's notes are shown
    [row] = _stored(client, "alice", "101")
    assert (row["centre"], row["age_years"], row["sex"]) == ("leiden", 61, "male")


def test_a_labels_export_without_the_dictionary_says_what_is_needed(client):
    page_login(client, "alice")
    r = _import(client, LABELS.read_bytes(), LABELS.name)
    assert r.status_code == 422 and "Nothing was imported" in r.text
    assert "dictionary" in r.text.lower()
    assert _stored(client, "alice", "101") == []


def test_an_unusable_dictionary_is_reported_and_nothing_lands(client):
    page_login(client, "alice")
    for bad, says in ((b"name,kind\nx,y\n", "a data dictionary needs the columns"),
                      (b"\xff\xfe\x00bad", "not UTF-8"),
                      (b"column,field\nx," + b"a" * 10_000_001, "larger than 10 MB")):
        r = _import(client, RAW.read_bytes(), RAW.name, bad)
        assert r.status_code == 422, r.text
        report = r.text[r.text.index('class="data import-errors"'):]
        assert re.search(r"<code>\(data dictionary\)</code>", report)
        assert says in report
    assert _stored(client, "alice", "101") == []


def test_data_access_groups_choose_the_centre_for_an_admin_only(client):
    page_login(client, "alice")  # a clinician's centre is fixed
    r = _import(client, RAW.read_bytes(), RAW.name, DICTIONARY.read_bytes(),
                centre_from_dag="yes")
    assert r.status_code == 422 and "only an administrator" in r.text
    assert _stored(client, "alice", "101") == []
    client.cookies.clear()
    page_login(client, "adam")
    assert 'name="centre_from_dag"' in client.get("/import").text
    r = _import(client, RAW.read_bytes(), RAW.name, DICTIONARY.read_bytes(),
                centre="fallback", centre_from_dag="yes")
    assert r.status_code == 200, r.text
    centres = {row["external_id"]: row["centre"]
               for ext in ("101", "102", "103") for row in _stored(client, "adam", ext)}
    assert centres == {"101": "centre_a", "102": "centre_b", "103": "centre_a"}
