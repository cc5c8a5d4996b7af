"""Server-rendered pages: login/logout, session cookie flags, redirects, CSRF on every POST form,
rate limit, role enforcement, inline validation errors, assessment, cohort plot, admin pages."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from web_support import (
    PASSWORD,
    api_token,
    csrf_from,
    page_login,
    route_table,
    sample_patient,
)


def _field_block(html: str, path: str) -> str:
    """The HTML of the form field whose input is named ``path``."""
    start = html.index(f'id="f-{path}"')
    div = html.rindex('<div class="field', 0, start)
    end = html.find('<div class="field', start)
    end = len(html) if end < 0 else end
    return html[div:end]


# ---------------------------------------------------------------------------- login


def test_pages_redirect_to_login(client):
    for url in ("/", "/patients", "/patients/1", "/patients/new", "/cohort", "/import",
                "/audit", "/users", "/cohort/km.png"):
        r = client.get(url, follow_redirects=False)
        assert r.status_code == 303, url
        assert r.headers["location"].startswith("/login?next="), url


def test_login_sets_hardened_cookie_and_logout_ends_session(client):
    r = page_login(client, "alice")
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert "secure" not in cookie  # plain http in this test
    assert client.get("/patients").status_code == 200
    token = csrf_from(client.get("/patients").text)
    r = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    assert client.get("/patients", follow_redirects=False).status_code == 303
    from crlm.registry import audit

    with client.app.state.session_factory() as s:
        actions = [e.action for e in audit.list_events(s, actor="alice", limit=10, offset=0)]
    assert actions[:2] == ["logout", "read"] and "login" in actions


def test_cookie_secure_over_https(app):
    with TestClient(app, base_url="https://testserver") as c:
        r = page_login(c, "alice")
        assert "secure" in r.headers["set-cookie"].lower()
        assert r.headers["strict-transport-security"].startswith("max-age=")


def test_wrong_password_then_rate_limit(client):
    for _ in range(5):
        r = page_login(client, "alice", "nope")
        assert r.status_code == 401 and "Wrong username or password" in r.text
    r = page_login(client, "alice", PASSWORD)
    assert r.status_code == 429 and "Too many failed logins" in r.text


def test_login_next_is_local_only(client):
    token = csrf_from(client.get("/login").text)
    for target, expected in (("/cohort", "/cohort"), ("//evil.example/x", "/"),
                             ("https://evil.example", "/"), ("/\\evil", "/")):
        r = client.post("/login", data={"username": "alice", "password": PASSWORD,
                                        "csrf_token": token, "next": target},
                        follow_redirects=False)
        assert r.headers["location"] == expected, target
        token = csrf_from(client.get("/login").text)


# ---------------------------------------------------------------------------- CSRF


def test_every_post_form_rejects_missing_or_wrong_csrf(app, client):
    r = client.post("/login", data={"username": "alice", "password": PASSWORD})
    assert r.status_code == 403
    page_login(client, "adam")
    api = api_token(client, "adam")
    created = client.post("/api/v1/patients?centre=leiden", json=sample_patient(), headers=api)
    pid = created.json()["id"]
    posts = [
        path.replace("{patient_id}", str(pid)).replace("{user_id}", "1")
        for method, path in route_table(app)
        if method == "POST" and not path.startswith("/api/")
    ]
    assert len(posts) >= 7
    for url in posts:
        for data in ({}, {"csrf_token": "forged"}):
            r = client.post(url, data=data, follow_redirects=False)
            assert r.status_code == 403, (url, data, r.status_code)
    # nothing was changed by the rejected posts
    assert client.get(f"/api/v1/patients/{pid}", headers=api).status_code == 200


# ---------------------------------------------------------------------------- roles


def test_researcher_sees_cohort_but_no_patient_pages(client):
    api = api_token(client, "alice")
    pid = client.post("/api/v1/patients", json=sample_patient(), headers=api).json()["id"]
    page_login(client, "rita")
    assert client.get("/", follow_redirects=False).headers["location"] == "/cohort"
    for url in ("/patients", f"/patients/{pid}", "/patients/new", "/import", "/audit", "/users"):
        r = client.get(url)
        assert r.status_code == 403, url
        assert "LEI-001" not in r.text
    r = client.get("/cohort")
    assert r.status_code == 200 and 'id="km-plot"' in r.text
    png = client.get("/cohort/km.png?grouping=sex")
    assert png.headers["content-type"] == "image/png" and png.content[:8] == b"\x89PNG\r\n\x1a\n"


def test_other_centre_patient_page_is_404(client):
    pid = client.post(
        "/api/v1/patients", json=sample_patient(), headers=api_token(client, "alice")
    ).json()["id"]
    page_login(client, "bob")
    assert client.get(f"/patients/{pid}").status_code == 404
    assert client.get(f"/patients/{pid}/edit").status_code == 404
    assert "LEI-001" not in client.get("/patients").text


def test_admin_pages_only_for_admin(client):
    page_login(client, "alice")
    assert client.get("/audit").status_code == 403
    assert client.get("/users").status_code == 403


# ---------------------------------------------------------------------------- patient form


def test_form_shows_inline_error_then_saves_and_shows_assessment(client):
    page_login(client, "alice")
    form = client.get("/patients/new").text
    data = {
        "csrf_token": csrf_from(form), "id": "LEI-042", "age_years": "67", "sex": "female",
        "primary.site": "rectum", "liver.timing": "synchronous",
        "liver.number_of_metastases": "3", "liver.largest_diameter_cm": "4.5",
        "labs.cea_ng_ml": "-5", "liver.planned_procedures": ["right_hepatectomy"],
    }
    r = client.post("/patients/new", data=data, follow_redirects=False)
    assert r.status_code == 422
    block = _field_block(r.text, "labs.cea_ng_ml")
    assert 'class="field invalid"' in block and 'aria-invalid="true"' in block
    assert "Must be at least 0" in block
    assert 'value="-5"' in block  # the user's input is kept
    assert 'value="67"' in _field_block(r.text, "age_years")
    assert "field-error" not in _field_block(r.text, "age_years")

    data["labs.cea_ng_ml"] = "abc"
    r = client.post("/patients/new", data=data, follow_redirects=False)
    assert "Enter a number" in _field_block(r.text, "labs.cea_ng_ml")

    data["labs.cea_ng_ml"] = "12"
    r = client.post("/patients/new", data=data, follow_redirects=False)
    assert r.status_code == 303
    page = client.get(r.headers["location"])
    assert page.status_code == 200
    assert "LEI-042" in page.text and "Prognostic scores" in page.text
    assert "Bottom line" in page.text
    board = client.get(r.headers["location"] + "/tumour-board")
    assert board.status_code == 200 and "Tumour board summary — LEI-042" in board.text
    pdf = client.get(r.headers["location"] + "/tumour-board.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    csp = board.headers["content-security-policy"]
    assert "style-src 'self' 'sha256-" in csp and "unsafe-inline" not in csp
    assert "script-src 'self'" in csp


def test_cross_field_error_is_shown_on_the_field_in_clinical_words(client):
    page_login(client, "alice")
    token = csrf_from(client.get("/patients/new").text)
    r = client.post("/patients/new", data={
        "csrf_token": token, "liver.timing": "synchronous",
        "liver.disease_free_interval_months": "12",
    })
    assert r.status_code == 422
    block = _field_block(r.text, "liver.disease_free_interval_months")
    assert 'class="field invalid"' in block
    assert "Synchronous metastases have a disease-free interval of at most 6 months" in block
    assert "disease_free_interval_months is" not in r.text  # no internal wording


def test_edit_form_holds_the_stored_lesions(client):
    api = api_token(client, "alice")
    pid = client.post("/api/v1/patients", json=sample_patient(), headers=api).json()["id"]
    page_login(client, "alice")
    form = client.get(f"/patients/{pid}/edit").text
    assert 'value="12"' in _field_block(form, "labs.cea_ng_ml")
    assert 'value="7"' in _field_block(form, "liver.lesions.0.segment")
    r = client.post(f"/patients/{pid}/edit", data={
        "csrf_token": csrf_from(form), "version": "1", "id": "LEI-001", "labs.cea_ng_ml": "30",
        "liver.number_of_metastases": "4", "liver.lesions.0.segment": "7",
        "liver.lesions.0.diameter_cm": "3.2",
    }, follow_redirects=False)
    assert r.status_code == 303
    stored = client.get(f"/api/v1/patients/{pid}", headers=api).json()["patient"]
    assert stored["labs"]["cea_ng_ml"] == 30
    assert stored["liver"]["lesions"] == [{"segment": 7, "diameter_cm": 3.2, "deep": None}]
    assert stored["age_years"] is None  # emptied in the form: now unknown


def test_patient_list_search_and_filters(client):
    api = api_token(client, "alice")
    client.post("/api/v1/patients", json=sample_patient(), headers=api)
    client.post("/api/v1/patients", headers=api, json=sample_patient(
        id="LEI-002", sex="female", primary={"site": "left_colon"}))
    page_login(client, "alice")
    assert "LEI-001" in client.get("/patients").text
    only_two = client.get("/patients?q=LEI-002").text
    assert "LEI-002" in only_two and "LEI-001" not in only_two
    colon = client.get("/patients?site=left_colon").text
    assert "LEI-002" in colon and "LEI-001" not in colon
    women = client.get("/patients?sex=female&site=left_colon").text
    assert "LEI-002" in women and "LEI-001" not in women
    assert "LEI-002" not in client.get("/patients?sex=male").text
    assert client.get("/patients?site=bogus").status_code == 422


# ---------------------------------------------------------------------------- admin


def test_admin_adds_user_who_can_log_in_and_audit_shows_it(client):
    page_login(client, "adam")
    token = csrf_from(client.get("/users").text)
    r = client.post("/users", data={"csrf_token": token, "username": "carol",
                                    "password": "short", "role": "clinician"})
    assert r.status_code == 422 and "at least 12" in r.text
    r = client.post("/users", data={"csrf_token": token, "username": "carol",
                                    "password": "a long enough pass", "role": "clinician",
                                    "centre": "leiden"}, follow_redirects=False)
    assert r.status_code == 303
    assert "carol" in client.get("/users").text
    r = client.post("/users", data={"csrf_token": token, "username": "carol",
                                    "password": "another long pass", "role": "researcher"})
    assert r.status_code == 422 and "exists already" in r.text
    r = client.post("/users", data={"csrf_token": token, "username": "dave",
                                    "password": "another long pass", "role": "clinician"})
    assert r.status_code == 422 and "needs a centre" in r.text
    audit = client.get("/audit").text
    assert "carol" in audit and "login" in audit
    with TestClient(client.app) as other:
        assert page_login(other, "carol", "a long enough pass").status_code == 303


# ---------------------------------------------------------------------------- import


def _import(client: TestClient, text: str, **extra: str):
    token = csrf_from(client.get("/import").text)
    return client.post(
        "/import", data={"csrf_token": token, **extra},
        files={"file": ("cohort.csv", text.encode(), "text/csv")},
    )


def test_import_with_bad_rows_saves_nothing_and_reports_each(client):
    from import_support import csv_rows

    page_login(client, "alice")
    bad = csv_rows([
        {"id": "IMP-1", "age_years": 55, "labs": {"cea_ng_ml": -1}},
        {"id": "IMP-2", "age_years": 70, "sex": "unknown-sex"},
        {"id": "IMP-3", "age_years": 66},
    ])
    r = _import(client, bad)
    assert r.status_code == 422
    assert "Nothing was imported" in r.text
    report = r.text[r.text.index('class="data import-errors"'):]
    rows = re.findall(r"<tr><td>(\d+)</td><td>([^<]*)</td><td><code>([^<]+)</code>", report)
    assert rows == [("2", "IMP-1", "labs.cea_ng_ml"), ("3", "IMP-2", "sex")]
    assert "IMP-3" not in client.get("/patients").text

    good = csv_rows([{"id": "IMP-1", "age_years": 55}, {"id": "IMP-3", "age_years": 66}])
    r = _import(client, good)
    assert r.status_code == 200 and "Imported 2 patients" in r.text and "2 new" in r.text
    r = _import(client, good)  # same file again: matched, not duplicated
    assert "0 new, 0 updated, 2 unchanged" in r.text
    listing = client.get("/patients").text
    assert listing.count(">IMP-1<") == 1 and listing.count(">IMP-3<") == 1
    assert "2 patients in centre leiden" in listing


def test_import_merges_partial_files_unless_replace_and_streams_the_upload(client,
                                                                           monkeypatch):
    import crlm.web.pages.imports as imports
    from import_support import csv_rows

    page_login(client, "alice")
    assert _import(client, csv_rows([{"id": "IMP-9", "age_years": 55, "sex": "male"}])).is_success
    r = _import(client, csv_rows([{"id": "IMP-9", "age_years": 56}]))
    assert "1 updated" in r.text and "Replace mode" not in r.text
    api = api_token(client, "alice")
    [row] = client.get("/api/v1/patients?search=IMP-9", headers=api).json()["items"]
    assert (row["age_years"], row["sex"]) == (56, "male")  # sex kept: not in the file
    r = _import(client, csv_rows([{"id": "IMP-9", "age_years": 57}]), replace="yes")
    assert "Replace mode: 1 stored value of fields not in the file was cleared" in r.text
    [row] = client.get("/api/v1/patients?search=IMP-9", headers=api).json()["items"]
    assert (row["age_years"], row["sex"]) == (57, None)
    seen = []
    real = imports.import_csv_upload
    monkeypatch.setattr(imports, "import_csv_upload",
                        lambda *a, **k: seen.append(type(a[3])) or real(*a, **k))
    assert _import(client, csv_rows([{"id": "IMP-9", "age_years": 58}])).is_success
    assert seen and seen[0] is not bytes  # the spooled upload file, read row by row
    r = client.post("/import", content=b"x",
                    headers={"Content-Length": str(2 * imports.MAX_UPLOAD_BYTES)})
    assert r.status_code == 413  # this route's limit, before the body is read


def test_edit_form_carries_the_version_and_a_stale_save_shows_what_changed(client):
    api = api_token(client, "alice")
    pid = client.post("/api/v1/patients", json=sample_patient(), headers=api).json()["id"]
    page_login(client, "alice")
    form = client.get(f"/patients/{pid}/edit").text
    assert '<input type="hidden" name="version" value="1">' in form
    # someone else saves meanwhile
    r = client.put(f"/api/v1/patients/{pid}", headers=api | {"If-Match": '"1"'},
                   json=sample_patient(labs={"cea_ng_ml": 99.0}))
    assert r.status_code == 200
    r = client.post(f"/patients/{pid}/edit", data={
        "csrf_token": csrf_from(form), "version": "1", "id": "LEI-001", "labs.cea_ng_ml": "30",
    }, follow_redirects=False)
    assert r.status_code == 409 and "Your changes were not saved" in r.text
    row = re.search(r"<td>CEA[^<]*</td><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td>",
                    r.text)
    assert row and row.groups() == ("12.0", "99.0", "30.0")
    assert f'href="/patients/{pid}/edit"' in r.text
    stored = client.get(f"/api/v1/patients/{pid}", headers=api).json()["patient"]
    assert stored["labs"]["cea_ng_ml"] == 99.0
    form = client.get(f"/patients/{pid}/edit").text  # reload: the current version
    r = client.post(f"/patients/{pid}/edit", data={
        "csrf_token": csrf_from(form), "version": "2", "id": "LEI-001", "labs.cea_ng_ml": "30",
    }, follow_redirects=False)
    assert r.status_code == 303


def test_import_by_admin_needs_a_centre(client):
    from import_support import csv_rows

    page_login(client, "adam")
    r = _import(client, csv_rows([{"id": "A-1"}]))
    assert r.status_code == 422 and "name the centre" in r.text
    r = _import(client, csv_rows([{"id": "A-1"}]), centre="oslo")
    assert r.status_code == 200 and "Imported 1 patient" in r.text


def test_user_text_is_escaped(client):
    r = page_login(client, "<script>alert(1)</script>", "x")
    assert r.status_code == 401
    assert "<script>alert(1)</script>" not in r.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text
    page_login(client, "alice")
    token = csrf_from(client.get("/patients/new").text)
    r = client.post("/patients/new", data={"csrf_token": token,
                                           "chemotherapy.regimen": '"><img src=x onerror=1>'},
                    follow_redirects=False)
    # the regimen is coded now: the hostile text is refused, and the error page escapes it
    assert r.status_code == 422
    assert "<img src=x" not in r.text and "&lt;img src=x onerror=1&gt;" in r.text


def test_cohort_plot_reuses_the_page_read(client):
    from crlm.registry import audit

    api = api_token(client, "alice")
    for n in range(3):
        client.post("/api/v1/patients", json=sample_patient(id=f"C-{n}"), headers=api)
    page_login(client, "rita")
    page = client.get("/cohort?grouping=sex")
    assert page.status_code == 200 and "Fewer than 5 patients in all centres" in page.text
    assert client.get("/cohort/km.png?grouping=sex").status_code == 200
    with client.app.state.session_factory() as s:
        events = audit.list_events(s, actor="rita", limit=100, offset=0)
    assert [e.action for e in events].count("aggregate") == 1  # one cohort read, not two
    assert [e.action for e in events].count("read") == 0  # no row per patient of the view
    assert next(e.detail for e in events if e.action == "aggregate").startswith("3 records;")


def test_every_cohort_page_view_is_audited_even_from_the_cache(client):
    """A second view within the cache's lifetime reuses the read but still writes its event."""
    from crlm.registry import audit

    api = api_token(client, "alice")
    for n in range(3):
        client.post("/api/v1/patients", json=sample_patient(id=f"C-{n}"), headers=api)
    page_login(client, "rita")
    for _ in range(3):
        assert client.get("/cohort?grouping=sex").status_code == 200
    assert client.get("/cohort/km.png?grouping=sex").status_code == 200  # the page's own plot
    with client.app.state.session_factory() as s:
        events = [e for e in audit.list_events(s, actor="rita", limit=100, offset=0)
                  if e.action == "aggregate"]
    assert len(events) == 3
    assert all(e.detail.startswith("3 records; cohort page;") for e in events)


def test_patient_form_never_fails_on_arbitrary_input(app):
    """Random text in every form field: the answer is a redirect or the form with errors."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from crlm.web.forms import ALL_FIELDS

    values = st.one_of(
        st.text(max_size=12), st.sampled_from(["", "-1", "1e400", "nan", "2024-02-30", "true"]),
        st.integers(-10**6, 10**6).map(str), st.floats(allow_nan=True).map(str),
    )
    names = sorted(f.name(0) for f in ALL_FIELDS.values())  # list items at index 0
    forms = st.dictionaries(st.sampled_from(names), values, max_size=8)
    with TestClient(app) as c:
        page_login(c, "alice")
        token = csrf_from(c.get("/patients/new").text)

        @settings(max_examples=150, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(form=forms)
        def post(form: dict[str, str]) -> None:
            r = c.post("/patients/new", data={"csrf_token": token, **form},
                       follow_redirects=False)
            assert r.status_code in (303, 409, 422), (form, r.status_code)

        post()
