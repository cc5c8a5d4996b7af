"""The clinician's web app: form = model, centres, treatment events, cross-field errors in
clinical words, delete confirmation, quick calculator, local API docs, error pages."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from web_support import api_token, csrf_from, page_login, sample_patient


def _block(html: str, name: str) -> str:
    """The HTML of the form field whose input is named ``name``."""
    start = html.index(f'name="{name}"')
    div = html.rindex('<div class="field', 0, start)
    end = html.find('<div class="field', start)
    return html[div:len(html) if end < 0 else end]


# ---------------------------------------------------------------------------- form = model


def test_every_field_of_the_patient_model_can_be_entered_in_the_form(client):
    """Fails when a field is added to the model (or the timeline) without a form input."""
    from crlm.web.forms import ALL_FIELDS, NOT_IN_FORM, model_leaf_paths

    model = model_leaf_paths()
    assert "treatments.*.regimen" in model and "molecular.tp53" in model  # the walk is deep
    missing = model - set(ALL_FIELDS) - set(NOT_IN_FORM)
    assert not missing, f"model fields without a form input: {sorted(missing)}"
    assert not set(NOT_IN_FORM) - model  # no stale exception
    page_login(client, "alice")
    html = client.get("/patients/new").text
    for path, f in ALL_FIELDS.items():
        name = f.name("__i__") if "*" in path else path
        assert f'name="{name}"' in html, path
        assert f.help, f"{path} has no help text"
        assert "_" not in f.label, f"{path} label {f.label!r} is not words"


def test_fields_the_rules_read_are_in_the_form():
    """The fields named by the rules' and scores' "needs …" lists have inputs."""
    from crlm.clinical.assess import assess
    from crlm.domain import Patient
    from crlm.web.forms import FORM_FIELDS

    a = assess(Patient())
    needed = {m for s in a.scores.values() for m in s.missing} | set(a.volumetry.missing)
    needed = {m for m in needed if re.fullmatch(r"[a-z0-9_.]+", m)}
    assert needed and needed <= set(FORM_FIELDS), sorted(needed - set(FORM_FIELDS))


def test_sections_follow_the_clinical_order_and_fields_have_units():
    from crlm.web.forms import ALL_FIELDS, FORM_SECTIONS

    titles = [s.title for s in FORM_SECTIONS]
    assert titles.index("Primary tumour") < titles.index("Liver metastases") < titles.index(
        "Treatment timeline") < titles.index("Follow-up")
    assert ALL_FIELDS["labs.cea_ng_ml"].unit == "ng/mL"
    assert ALL_FIELDS["liver.lesions.*.diameter_cm"].unit == "cm"
    assert ALL_FIELDS["primary.t_category"].kind == "select"
    assert set(ALL_FIELDS["treatments.*.regimen"].applies_to) == {"systemic_therapy"}


def _rectal_case(token: str) -> dict[str, object]:
    return {
        "csrf_token": token, "id": "SYN-1", "age_years": "58", "sex": "male",
        "primary.site": "rectum", "primary.date_of_diagnosis": "2024-01-10",
        "primary.symptoms": ["bleeding", "anaemia"], "primary.locally_advanced": "true",
        "liver.timing": "synchronous", "liver.number_of_metastases": "2",
        "liver.lesions.0.segment": "7", "liver.lesions.0.diameter_cm": "3",
        "liver.lesions.3.segment": "2",  # indices need not be contiguous (an item removed)
        "molecular.kras": "mutant", "molecular.tp53": "mutant",
        "treatments.0.kind": "radiotherapy", "treatments.0.date": "2024-02-01",
        "treatments.0.radiotherapy_course": "short_course",
        "treatments.1.kind": "systemic_therapy", "treatments.1.date": "2024-03-01",
        "treatments.1.regimen": "capox", "treatments.1.cycles": "4",
    }


def test_treatment_events_and_lesions_are_saved_and_shown_again(client):
    page_login(client, "alice")
    token = csrf_from(client.get("/patients/new").text)
    r = client.post("/patients/new", data=_rectal_case(token), follow_redirects=False)
    assert r.status_code == 303, r.text[:2000]
    pid = int(r.headers["location"].rsplit("/", 1)[1])
    stored = client.get(f"/api/v1/patients/{pid}", headers=api_token(client, "alice")).json()
    p = stored["patient"]
    assert [e["kind"] for e in p["treatments"]] == ["radiotherapy", "systemic_therapy"]
    assert p["treatments"][1]["regimen"] == "capox" and p["treatments"][1]["cycles"] == 4
    assert [les["segment"] for les in p["liver"]["lesions"]] == [7, 2]
    assert p["primary"]["symptoms"] == ["bleeding", "anaemia"]
    page = client.get(f"/patients/{pid}").text
    assert "RAS/TP53" in page
    form = client.get(f"/patients/{pid}/edit").text
    assert "selected" in _block(form, "treatments.1.regimen").split('value="capox"')[1][:12]
    assert 'value="2"' in _block(form, "liver.lesions.1.segment")


def test_event_field_of_another_kind_is_an_error_on_that_field(client):
    page_login(client, "alice")
    token = csrf_from(client.get("/patients/new").text)
    r = client.post("/patients/new", data={
        "csrf_token": token, "treatments.0.kind": "hepatectomy", "treatments.0.regimen": "folfox",
        "treatments.1.kind": "systemic_therapy", "treatments.1.date": "2024-03-01",
        "treatments.1.end_date": "2024-01-01",
    })
    assert r.status_code == 422
    block = _block(r.text, "treatments.0.regimen")
    assert "invalid" in block and "Does not apply to this kind of event" in block
    assert "The end date is before the start date" in _block(r.text, "treatments.1.end_date")


def test_lesion_count_error_is_on_the_count_in_words(client):
    page_login(client, "alice")
    token = csrf_from(client.get("/patients/new").text)
    r = client.post("/patients/new", data={
        "csrf_token": token, "liver.number_of_metastases": "1",
        "liver.lesions.0.segment": "2", "liver.lesions.1.segment": "3",
    })
    assert r.status_code == 422
    assert "1 liver metastases are stated but 2 lesions are listed" in _block(
        r.text, "liver.number_of_metastases")


# ---------------------------------------------------------------------------- centres


def test_admin_chooses_the_centre_form_and_api_alike(client):
    page_login(client, "adam")
    form = client.get("/patients/new").text
    assert 'name="centre"' in form and '<option value="leiden">' in form
    token = csrf_from(form)
    r = client.post("/patients/new", data={"csrf_token": token, "id": "ADM-1"})
    assert r.status_code == 422
    assert "Choose the centre of the new patient" in _block(r.text, "centre")
    r = client.post("/patients/new", data={"csrf_token": token, "id": "ADM-1",
                                           "centre": "houston"}, follow_redirects=False)
    assert r.status_code == 303
    adam = api_token(client, "adam")
    pid = r.headers["location"].rsplit("/", 1)[1]
    assert client.get(f"/api/v1/patients/{pid}", headers=adam).json()["centre"] == "houston"
    r = client.post("/api/v1/patients", json=sample_patient(id="ADM-2"), headers=adam)
    assert r.status_code == 422 and "choose the centre" in r.json()["detail"]


def test_a_clinicians_centre_is_fixed(client):
    alice = api_token(client, "alice")
    r = client.post("/api/v1/patients?centre=houston", json=sample_patient(), headers=alice)
    assert r.status_code == 403 and "own centre (leiden)" in r.json()["detail"]
    r = client.post("/api/v1/patients?centre=leiden", json=sample_patient(), headers=alice)
    assert r.status_code == 201
    page_login(client, "alice")
    form = client.get("/patients/new").text
    assert 'name="centre"' not in form and "your centre, <strong>leiden" in form
    r = client.post("/patients/new", data={"csrf_token": csrf_from(form), "id": "X-2",
                                           "centre": "houston"})
    assert r.status_code == 403 and "own centre (leiden)" in r.text


# ---------------------------------------------------------------------------- polish


def test_delete_asks_for_confirmation_and_says_what_happened(client):
    alice = api_token(client, "alice")
    pid = client.post("/api/v1/patients", json=sample_patient(), headers=alice).json()["id"]
    page_login(client, "alice")
    page = client.get(f"/patients/{pid}").text
    assert f'href="/patients/{pid}/delete"' in page
    confirm = client.get(f"/patients/{pid}/delete")
    assert confirm.status_code == 200 and "cannot be undone" in confirm.text
    token = csrf_from(confirm.text)
    r = client.post(f"/patients/{pid}/delete", data={"csrf_token": token},
                    follow_redirects=False)
    assert r.headers["location"] == f"/patients/{pid}/delete"  # no confirmation: nothing gone
    assert client.get(f"/api/v1/patients/{pid}", headers=alice).status_code == 200
    r = client.post(f"/patients/{pid}/delete", data={"csrf_token": token, "confirm": "yes"})
    assert r.status_code == 200
    assert f"Patient #{pid} (LEI-001) of centre leiden was deleted" in r.text
    assert client.get(f"/api/v1/patients/{pid}", headers=alice).status_code == 404
    assert "was deleted" not in client.get("/patients").text  # shown once


def test_list_filters_count_every_match_in_the_database(client):
    from crlm.registry import repository

    alice = api_token(client, "alice")
    for n in range(7):
        sex = "female" if n % 2 else "male"
        client.post("/api/v1/patients", json=sample_patient(id=f"F-{n}", sex=sex), headers=alice)
    with client.app.state.session_factory() as s:
        assert repository.count_patients(s, centre="leiden", sex="female") == 3
        assert repository.count_patients(s, centre="leiden", primary_site="rectum") == 7
        assert repository.count_patients(s, centre="houston", sex="female") == 0
    page_login(client, "alice")
    assert "3 patients in centre leiden" in client.get("/patients?sex=female").text


def test_error_pages_keep_the_navigation(client):
    page_login(client, "alice")
    r = client.get("/patients/999999")
    assert r.status_code == 404 and 'href="/patients"' in r.text and "Page not found" in r.text
    r = client.get("/audit")
    assert r.status_code == 403 and 'href="/cohort"' in r.text


def test_api_docs_and_favicon_are_served_locally(client):
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200 and "https://" not in docs.text
    for src in re.findall(r'(?:src|href)="(/static/[^"]+)"', docs.text):
        assert client.get(src).status_code == 200, src
    assert "cdn" not in docs.headers["content-security-policy"]
    redoc = client.get("/api/v1/redoc")
    assert redoc.status_code == 200 and "https://" not in redoc.text
    for src in re.findall(r'(?:src|href)="(/static/[^"]+)"', redoc.text):
        assert client.get(src).status_code == 200, src
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and "svg" in icon.headers["content-type"]


# ---------------------------------------------------------------------------- calculator


def test_calculator_assesses_without_storing(client):
    from crlm.registry import audit, repository

    page_login(client, "alice")
    page = client.get("/calculator")
    assert page.status_code == 200 and 'id="calc-result"' in page.text
    token = csrf_from(page.text)
    r = client.post("/calculator/assess", data=_rectal_case(token))
    assert r.status_code == 200 and "Prognostic scores" in r.text and "RAS/TP53" in r.text
    r = client.post("/calculator/assess", data={"csrf_token": token, "labs.cea_ng_ml": "-1"})
    assert "Must be at least 0" in r.text and 'href="#f-labs.cea_ng_ml"' in r.text
    assert client.post("/calculator/assess", data={}).status_code == 403  # CSRF
    with client.app.state.session_factory() as s:
        assert repository.count_patients(s) == 0
        assert [e for e in audit.list_events(s, actor="alice") if e.entity == "patient"] == []
    # "Save as patient" posts the same form to /patients/new
    assert 'action="/patients/new"' in page.text


# ---------------------------------------------------------------------------- audit


def test_audit_filters_paginates_and_exports_in_the_centre_time_zone(app, client, monkeypatch):
    import csv
    import io

    monkeypatch.setenv("CRLM_TIMEZONE", "Europe/Amsterdam")
    alice = api_token(client, "alice")
    ids = [client.post("/api/v1/patients", json=sample_patient(id=f"A-{n}"), headers=alice)
           .json()["id"] for n in range(3)]
    for pid in ids:
        client.get(f"/api/v1/patients/{pid}", headers=alice)
    page_login(client, "alice")
    client.get("/cohort")  # an aggregate view: one event with the count
    page_login(client, "adam")
    page = client.get(f"/audit?patient={ids[1]}&action=read&actor=alice&from=2000-01-01&to=")
    assert page.status_code == 200 and "1 event." in page.text and "Europe/Amsterdam" in page.text
    agg = client.get("/audit?action=aggregate").text
    assert "1 event." in agg and "3 records; cohort page" in agg
    r = client.get("/audit.csv?action=read&actor=alice")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert sorted(int(row["entity_id"]) for row in rows) == ids
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", row["time"]) for row in rows)
    assert {row["time_zone"] for row in rows} == {"Europe/Amsterdam"}
    import datetime as dt
    from zoneinfo import ZoneInfo

    from crlm.registry import audit

    with app.state.session_factory() as s:
        last = audit.list_events(s, limit=1)[0]
        read = audit.list_events(s, actor="alice", entity_id=ids[0], limit=1)[0]
    assert (last.action, last.entity) == ("export", "audit")  # the export is audited too
    local = read.at.replace(tzinfo=dt.UTC).astimezone(ZoneInfo("Europe/Amsterdam"))
    row = next(row for row in rows if row["entity_id"] == str(ids[0]))
    assert row["time"] == local.strftime("%Y-%m-%d %H:%M:%S")
    assert client.get("/audit?from=2999-01-01").text.count("No event matches") == 1
    assert client.get("/audit?from=30-11-2026").status_code == 422


def test_audit_pages_are_bounded(app, client):
    from crlm.registry import audit

    with app.state.session_factory() as s:
        for _ in range(130):
            audit.record(s, actor="alice", action="login", entity="session", entity_id=None)
        s.commit()
    page_login(client, "adam")
    first = client.get("/audit?action=login&actor=alice").text
    assert "130 events" in first and "older →" in first
    second = client.get("/audit?action=login&actor=alice&page=2").text
    assert second.count("<tr><td>") == 30 and "older →" not in second


# ---------------------------------------------------------------------------- governance


def _two_centres(client: TestClient) -> None:
    alice, bob = api_token(client, "alice"), api_token(client, "bob")
    for n in range(3):
        client.post("/api/v1/patients", json=sample_patient(id=f"L-{n}", sex="female"),
                    headers=alice)
    for n in range(6):
        client.post("/api/v1/patients", json=sample_patient(id=f"H-{n}"), headers=bob)


def test_clinician_cannot_see_other_centres_aggregates(client):
    _two_centres(client)
    page_login(client, "alice")
    page = client.get("/cohort?grouping=sex&centre=houston").text
    assert "3 patients in centre leiden" in page and "your own centre (leiden) only" in page
    assert 'name="centre"' not in page
    api = api_token(client, "alice")
    assert client.get("/api/v1/cohort/summary?centre=houston", headers=api).json()["n"] == 3
    km = client.post("/api/v1/analysis/km", json={"grouping": "sex"}, headers=api).json()
    assert sum(c["n"] for c in km["curves"]) + km["excluded"] == 3


def test_researcher_sees_all_centres_with_small_cells_suppressed(client, monkeypatch):
    _two_centres(client)
    page_login(client, "rita")
    page = client.get("/cohort?grouping=sex").text
    assert "9 patients in all centres" in page
    assert "counts of fewer than 5 patients are shown as “&lt; 5”" in page
    assert "female (n &lt; 5)" in page and "3 (33.3)" not in page and "&lt; 5" in page
    assert "1 group of fewer than 5 patients not shown" in page
    api = api_token(client, "rita")
    body = client.get("/api/v1/cohort/summary?grouping=sex", headers=api).json()
    assert "female (n < 5)" in body["columns"]
    assert not any("3 (33.3)" in row for row in body["rows"])
    overall = [c.startswith("Overall") for c in body["columns"]].index(True)
    assert all(row[overall] in ("", "suppressed") for row in body["rows"])  # not 9 − 6 = 3
    km = client.post("/api/v1/analysis/km", json={"grouping": "sex"}, headers=api).json()
    assert [c["group"] for c in km["curves"]] == ["male"]
    monkeypatch.setenv("CRLM_SMALL_CELL_MIN", "2")  # configurable
    body = client.get("/api/v1/cohort/summary?grouping=sex", headers=api).json()
    assert "female (n = 3)" in body["columns"]
    page_login(client, "adam")  # admins: unsuppressed
    assert "female (n = 3)" in client.get("/cohort?grouping=sex").text


def test_patient_list_filters_run_in_the_database_with_pagination(client):
    _two_centres(client)  # leiden: 3 female; houston: 6 (sample sex)
    adam = api_token(client, "adam")
    body = client.get("/api/v1/patients?sex=female&limit=2", headers=adam).json()
    assert body["total"] == 3 and len(body["items"]) == 2
    assert {i["sex"] for i in body["items"]} == {"female"}
    rest = client.get("/api/v1/patients?sex=female&limit=2&offset=2", headers=adam).json()
    assert len(rest["items"]) == 1 and rest["items"][0]["id"] not in {
        i["id"] for i in body["items"]}
    houston = client.get("/api/v1/patients?centre=houston", headers=adam).json()
    assert houston["total"] == 6 and {i["centre"] for i in houston["items"]} == {"houston"}
    site = client.get("/api/v1/patients?site=rectum&centre=leiden", headers=adam).json()
    assert site["total"] == 3 and {i["primary_site"] for i in site["items"]} == {"rectum"}
    # a clinician's centre filter is fixed to their own, whatever they ask for
    alice = api_token(client, "alice")
    assert client.get("/api/v1/patients?centre=houston", headers=alice).json()["total"] == 3
    page_login(client, "adam")
    page = client.get("/patients?centre=houston&sex=female").text
    assert "0 patients in centre houston" in page and 'name="centre"' in page


# ---------------------------------------------------------------------------- MDT meeting


def test_crlm_plan_comes_from_the_strategy_advice():
    from crlm.clinical.assess import assess
    from crlm.domain.errors import parse_patient
    from crlm.web.mdt import PLAN_FROM_CODES, PLAN_OPTIONS, crlm_plan

    assert {plan for _, plan in PLAN_FROM_CODES} <= set(PLAN_OPTIONS)
    from crlm.clinical.rules.catalogue import all_rules

    codes = {c for r in all_rules() for c in r.codes}
    assert {code for code, _ in PLAN_FROM_CODES} <= codes  # no stale code
    plan, _ = crlm_plan(assess(parse_patient({})))
    assert plan is None
    # a resectable metachronous solitary metastasis with an adequate remnant: a plan is named
    case = parse_patient(sample_patient(
        liver={"timing": "metachronous", "disease_free_interval_months": 30,
               "number_of_metastases": 1, "largest_diameter_cm": 2.5, "bilobar": False,
               "resectability": "resectable", "planned_procedures": ["segmentectomy_6"]},
        primary={"site": "left_colon", "resected": True, "date_of_diagnosis": "2021-03-01"}))
    plan, words = crlm_plan(assess(case))
    assert plan in PLAN_OPTIONS and words


def test_mdt_meeting_decisions_concordance_and_pdf(client):
    alice = api_token(client, "alice")
    ids = [client.post("/api/v1/patients", json=sample_patient(id=f"M-{n}"), headers=alice)
           .json()["id"] for n in range(3)]
    bob = api_token(client, "bob")
    other = client.post("/api/v1/patients", json=sample_patient(id="H-1"), headers=bob).json()
    page_login(client, "alice")
    token = csrf_from(client.get("/mdt").text)
    r = client.post("/mdt", data={"csrf_token": token, "date": "2026-12-01", "title": "Liver"},
                    follow_redirects=False)
    assert r.status_code == 303
    url = r.headers["location"]
    for ref in (str(ids[0]), f"#{ids[1]}", "M-2", str(other["id"])):
        client.post(f"{url}/patients", data={"csrf_token": token, "patient": ref})
    page = client.get(url).text
    assert page.count('class="mdt-case"') == 3  # the other centre's patient was refused
    assert "crlm&#39;s plan:" in page or "crlm's plan:" in page
    client.post(f"{url}/patients/{ids[0]}/decision", data={
        "csrf_token": token, "plan": "liver_first", "text": "Liver first after short course",
        "attendees": "surgeon, oncologist, radiologist"})
    client.post(f"{url}/patients/{ids[1]}/decision", data={
        "csrf_token": token, "plan": "other", "attendees": "surgeon"})
    r = client.post(f"{url}/patients/{ids[2]}/decision", data={"csrf_token": token, "plan": ""})
    assert "Choose the plan the MDT decided" in r.text
    page = client.get("/mdt/concordance").text
    assert "Liver first (reverse)" in page and "surgeon, oncologist, radiologist" in page
    csv_text = client.get("/mdt/concordance.csv").text
    lines = csv_text.strip().splitlines()
    assert lines[0].startswith("meeting,meeting_date,centre,patient,mdt_decision,crlm_plan")
    assert len(lines) == 3 and "Liver first (reverse)" in lines[1]
    pdf = client.get(f"{url}/tumour-board.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    # bob (another centre) cannot open the meeting
    page_login(client, "bob")
    assert client.get(url).status_code == 404
    assert "M-0" not in client.get("/mdt/concordance").text


def test_meeting_document_has_a_cover_and_one_part_per_patient():
    import datetime as dt

    from crlm.domain.errors import parse_patient
    from crlm.reports.meeting import meeting_document

    patients = [(n, parse_patient(sample_patient(id=f"P-{n}"))) for n in (4, 5, 6)]
    document, starts = meeting_document(dt.date(2026, 12, 1), "leiden", "Liver MDT", patients)
    assert len(starts) == 4 and starts == sorted(set(starts)) and starts[0] == 0
    assert len(document.pages) > starts[-1]
    for (_, p), first in zip(patients, starts[1:], strict=True):  # each starts on a new page
        text = document.pages[first]._page_box.descendants()
        words = "".join(getattr(box, "text", "") for box in text)
        assert p.id in words


def test_every_cross_field_rule_of_the_model_is_worded_on_a_field():
    """Each model validator's message maps to an input, without internal names."""
    from pydantic import ValidationError

    from crlm.domain.errors import parse_patient
    from crlm.web.forms import ALL_FIELDS, errors_by_field, field_path

    cases = [
        {"primary": {"node_positive": True, "n_category": "N0"}},
        {"primary": {"node_positive": False, "n_category": "N2"}},
        {"liver": {"number_of_metastases": 1, "lesions": [{"segment": 2}, {"segment": 3}]}},
        {"liver": {"largest_diameter_cm": 2, "lesions": [{"diameter_cm": 3}]}},
        {"liver": {"timing": "synchronous", "disease_free_interval_months": 9}},
        {"volumetry": {"total_liver_volume_ml": 1000, "flr_volume_ml": 1200}},
        {"volumetry": {"total_liver_volume_ml": 1000, "flr_volume_after_pve_ml": 1200}},
        {"outcome": {"date_of_death": "2024-01-01", "vital_status": "alive"}},
        {"outcome": {"date_of_death": "2024-01-01", "date_last_follow_up": "2024-02-01"}},
        {"outcome": {"date_of_recurrence": "2024-03-01", "date_last_follow_up": "2024-02-01"}},
        {"primary": {"date_of_diagnosis": "2024-01-01"},
         "treatments": [{"kind": "pve", "date": "2023-01-01"}]},
        {"outcome": {"date_last_follow_up": "2024-01-01"},
         "treatments": [{"kind": "pve", "date": "2025-01-01"}]},
        {"primary": {"date_of_diagnosis": "2024-01-01"},
         "outcome": {"date_last_follow_up": "2023-01-01"}},
        {"treatments": [{"kind": "pve", "regimen": "folfox"}]},
        {"treatments": [{"kind": "systemic_therapy", "date": "2024-02-01",
                         "end_date": "2024-01-01"}]},
    ]
    for data in cases:
        with pytest.raises(ValidationError) as info:
            parse_patient(data)
        by_field, other = errors_by_field(info.value)
        assert other == [], (data, other)
        for name, reasons in by_field.items():
            assert field_path(name) in ALL_FIELDS
            assert not any(re.search(r"[a-z]+_[a-z]+", r) for r in reasons), reasons


def test_mdt_audit_and_governance_on_postgres(postgres_url):
    """The MDT tables, the aggregate event, audit filters and the DB list filters on PostgreSQL."""
    from web_support import fresh_postgres_database, make_app_on

    url, drop = fresh_postgres_database(postgres_url)
    try:
        with TestClient(make_app_on(url)) as client:
            test_mdt_meeting_decisions_concordance_and_pdf(client)
            page_login(client, "rita")
            assert "Fewer than 5 patients in all centres" in client.get("/cohort").text
            page_login(client, "adam")
            agg = client.get("/audit?action=aggregate&actor=rita&from=2000-01-01").text
            assert "1 event." in agg and "4 records; cohort page" in agg
            rows = client.get("/audit.csv?action=read&actor=alice").text.splitlines()
            assert len(rows) > 3
            page_login(client, "alice")
            assert "3 patients in centre leiden" in client.get("/patients?site=rectum").text
    finally:
        drop()
