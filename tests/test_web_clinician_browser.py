"""Browser tests of the clinician's web app (Playwright, Debian's chromium, uvicorn on loopback):
centres, a full synchronous rectal case with treatment events, the live calculator, delete
confirmation, the audit export, local API docs, and no horizontal scroll at 390 px."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from test_web_browser import CHROMIUM_ARGS, server  # noqa: F401  (the uvicorn fixture)
from web_support import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def browser(chromium_path: str) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _login(page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)


def _console_errors(page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return errors


def test_admin_creates_a_patient_in_a_chosen_centre(server, browser):  # noqa: F811
    from playwright.sync_api import expect

    page = browser.new_page()
    _login(page, server, "adam")
    page.goto(f"{server}/patients/new")
    page.fill("[name='id']", "ADM-7")
    page.click("form.patient-form button[type=submit]")
    expect(page.locator("#section-centre .field-error")).to_contain_text("Choose the centre")
    page.fill("#f-centre", "leiden")
    page.click("form.patient-form button[type=submit]")
    expect(page.locator("h1")).to_contain_text("ADM-7")
    expect(page.locator("main")).to_contain_text("Centre leiden")


def test_clinician_enters_a_rectal_case_with_events_and_gets_the_ras_tp53_warning(
    server, browser, tmp_path  # noqa: F811
):
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors = _console_errors(page)
    _login(page, server, "alice")
    page.goto(f"{server}/patients/new")
    page.fill("[name='id']", "SYN-RECT")
    page.fill("[name='age_years']", "59")
    page.select_option("[name='sex']", "female")
    page.fill("[name='height_cm']", "168")
    page.fill("[name='weight_kg']", "70")
    page.select_option("[name='primary.site']", "rectum")
    page.fill("[name='primary.distance_from_anal_verge_cm']", "7")
    page.fill("[name='primary.date_of_diagnosis']", "2025-01-15")
    page.select_option("[name='primary.t_category']", "T3")
    page.select_option("[name='primary.n_category']", "N1")
    page.check("[name='primary.symptoms'][value='bleeding']")
    page.check("[name='primary.symptoms'][value='change_in_bowel_habit']")
    page.select_option("[name='primary.locally_advanced']", "true")
    page.select_option("[name='liver.timing']", "synchronous")
    page.fill("[name='liver.disease_free_interval_months']", "0")
    page.fill("[name='liver.number_of_metastases']", "3")
    page.fill("[name='liver.largest_diameter_cm']", "4")
    page.select_option("[name='liver.bilobar']", "true")
    # two lesions, one removed again
    add_lesion = page.locator("[data-group='liver.lesions'] [data-add-item]")
    for _ in range(3):
        add_lesion.click()
    page.fill("[name='liver.lesions.0.segment']", "7")
    page.fill("[name='liver.lesions.0.diameter_cm']", "4")
    page.fill("[name='liver.lesions.1.segment']", "99")  # the one removed
    page.fill("[name='liver.lesions.2.segment']", "3")
    page.locator("[data-group='liver.lesions'] .item").nth(1).locator(
        "[data-remove-item]").click()
    expect(page.locator("[data-group='liver.lesions'] .item")).to_have_count(2)
    page.fill("[name='labs.cea_ng_ml']", "25")
    page.select_option("[name='molecular.kras']", "mutant")
    page.select_option("[name='molecular.nras']", "wildtype")
    page.select_option("[name='molecular.braf']", "wildtype")
    page.select_option("[name='molecular.tp53']", "mutant")
    # treatment events: only the inputs of the chosen kind are shown
    add_event = page.locator("[data-group='treatments'] [data-add-item]")
    add_event.click()
    event = page.locator("[data-group='treatments'] .item").nth(0)
    expect(event.locator("[name='treatments.0.regimen']")).to_be_hidden()
    page.select_option("[name='treatments.0.kind']", "radiotherapy")
    expect(event.locator("[name='treatments.0.radiotherapy_course']")).to_be_visible()
    expect(event.locator("[name='treatments.0.regimen']")).to_be_hidden()
    page.select_option("[name='treatments.0.radiotherapy_course']", "short_course")
    page.fill("[name='treatments.0.date']", "2025-02-01")
    add_event.click()
    page.select_option("[name='treatments.1.kind']", "systemic_therapy")
    page.select_option("[name='treatments.1.regimen']", "folfox")
    page.fill("[name='treatments.1.cycles']", "6")
    page.fill("[name='treatments.1.date']", "2025-03-01")
    page.select_option("[name='treatments.1.response']", "PR")
    page.click("form.patient-form button[type=submit]")
    expect(page.locator("h1")).to_contain_text("SYN-RECT")
    expect(page.locator(".assessment")).to_contain_text("RAS/TP53")
    expect(page.locator(".patient-data")).to_contain_text("short-course (5 × 5 Gy)")
    expect(page.locator(".patient-data")).to_contain_text("FOLFOX")
    page.screenshot(path=str(tmp_path / "rectal-case.png"), full_page=True)
    # the edit form shows the events again, with the irrelevant inputs hidden
    page.click("text=Edit")
    expect(page.locator("[name='treatments.1.regimen']")).to_have_value("folfox")
    expect(page.locator("[name='treatments.0.regimen']")).to_be_hidden()
    assert [e for e in errors if not e.startswith("Failed to load resource")] == []


def test_calculator_updates_without_a_page_load_and_saves(server, browser):  # noqa: F811
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors = _console_errors(page)
    _login(page, server, "alice")
    page.goto(f"{server}/calculator")
    page.evaluate("window.__sameDocument = true")
    page.fill("[name='liver.number_of_metastases']", "3")
    page.fill("[name='liver.largest_diameter_cm']", "6")
    result = page.locator("#calc-result")
    expect(result).to_contain_text("Prognostic scores")
    expect(result.locator("table.scores")).to_contain_text("Tumour burden")
    page.fill("[name='labs.cea_ng_ml']", "-4")
    expect(result).to_contain_text("Must be at least 0")
    page.fill("[name='labs.cea_ng_ml']", "250")
    page.select_option("[name='molecular.kras']", "mutant")
    page.select_option("[name='molecular.tp53']", "mutant")
    expect(result).to_contain_text("RAS/TP53")
    assert page.evaluate("window.__sameDocument") is True  # no navigation happened
    page.fill("[name='id']", "CALC-1")
    page.click("#calc-save")
    expect(page.locator("h1")).to_contain_text("CALC-1")
    assert [e for e in errors if not e.startswith("Failed to load resource")] == []


def test_delete_needs_confirmation_and_the_audit_export_holds_the_reads(
    server, browser, tmp_path  # noqa: F811
):
    from playwright.sync_api import expect

    page = browser.new_page()
    _login(page, server, "alice")
    page.goto(f"{server}/patients/new")
    page.fill("[name='id']", "DEL-1")
    page.click("form.patient-form button[type=submit]")
    expect(page.locator("h1")).to_contain_text("DEL-1")
    patient_url = page.url
    patient_id = patient_url.rsplit("/", 1)[1]
    page.click("text=Delete…")
    expect(page.locator(".confirm")).to_contain_text("cannot be undone")
    page.click("text=No, keep the patient")
    expect(page).to_have_url(patient_url)
    page.click("text=Delete…")
    page.click("text=Yes, delete patient")
    expect(page.locator(".flash")).to_contain_text(f"Patient #{patient_id} (DEL-1)")
    expect(page.locator(".flash")).to_contain_text("was deleted")

    page.click("text=Log out")
    _login(page, server, "adam")
    page.goto(f"{server}/audit?actor=alice&action=read")
    with page.expect_download() as info:
        page.click("#audit-export")
    text = (tmp_path / "audit.csv")
    info.value.save_as(str(text))
    rows = text.read_text(encoding="utf-8").splitlines()
    assert rows[0].startswith("time,time_zone,user,action")
    assert any(f",alice,read,patient,{patient_id}," in row for row in rows[1:])


def test_api_docs_render_without_internet(server, browser):  # noqa: F811
    from playwright.sync_api import expect

    page = browser.new_page()
    offsite: list[str] = []
    # scripts, styles and data must come from this server (ReDoc's decorative logo URL is
    # blocked by the CSP and not needed)
    page.on("request", lambda r: offsite.append(r.url)
            if r.resource_type in ("script", "stylesheet", "fetch", "xhr", "document")
            and not r.url.startswith((server, "blob:", "data:")) else None)
    page.goto(f"{server}/api/v1/docs")
    expect(page.locator(".swagger-ui .title")).to_contain_text("crlm")
    expect(page.locator(".swagger-ui")).to_contain_text("/api/v1/assess")
    page.goto(f"{server}/api/v1/redoc")
    expect(page.locator("h1")).to_contain_text("crlm")
    assert offsite == []


NARROW_PAGES = ["/", "/patients", "/patients/new", "/calculator", "/cohort", "/audit",
                "/users", "/import", "/patients/424242", "/mdt", "/mdt/concordance"]


def test_no_horizontal_scroll_at_390_px(server, browser):  # noqa: F811
    page = browser.new_page(viewport={"width": 390, "height": 844})
    _login(page, server, "adam")
    page.goto(f"{server}/patients/new")
    page.fill("[name='id']", "NARROW-1")
    page.fill("#f-centre", "leiden")
    page.click("form.patient-form button[type=submit]")
    page.wait_for_selector("h1:has-text('NARROW-1')")
    patient = page.url.replace(server, "")
    page.goto(f"{server}/mdt")
    page.fill("#m-centre", "leiden")
    page.click("#new-meeting button[type=submit]")
    page.fill("#add-ref", "NARROW-1")
    page.click("#add-patient button[type=submit]")
    page.wait_for_selector(".mdt-case")
    pages = [*NARROW_PAGES, patient, f"{patient}/edit", f"{patient}/delete",
             page.url.replace(server, "").split("#")[0]]
    too_wide = {}
    for path in pages:
        page.goto(f"{server}{path}")
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > 390:
            too_wide[path] = width
    assert too_wide == {}


def test_mdt_meeting_with_three_patients_prints_one_pdf_and_records_decisions(
    server, browser  # noqa: F811
):
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors = _console_errors(page)
    _login(page, server, "alice")
    for n in range(3):
        page.goto(f"{server}/patients/new")
        page.fill("[name='id']", f"MDT-{n}")
        page.select_option("[name='primary.site']", "rectum")
        page.select_option("[name='liver.timing']", "synchronous")
        page.click("form.patient-form button[type=submit]")
        expect(page.locator("h1")).to_contain_text(f"MDT-{n}")
    page.click("nav >> text=MDT meetings")
    page.fill("#m-date", "2026-12-03")
    page.fill("#m-title", "Liver MDT")
    page.click("#new-meeting button[type=submit]")
    expect(page.locator("h1")).to_contain_text("Liver MDT · 2026-12-03")
    for n in range(3):
        page.fill("#add-ref", f"MDT-{n}")
        page.click("#add-patient button[type=submit]")
        expect(page.locator(".mdt-case")).to_have_count(n + 1)
    expect(page.locator("#meeting-pdf")).to_contain_text("3 patients")
    pdf = page.request.get(server + page.locator("#meeting-pdf").get_attribute("href"))
    assert pdf.ok and pdf.headers["content-type"] == "application/pdf"
    assert pdf.body().startswith(b"%PDF")
    plans = ["liver_first", "simultaneous", "primary_first"]
    for n, plan in enumerate(plans):
        case = page.locator(".mdt-case").nth(n)
        case.locator("select[name='plan']").select_option(plan)
        case.locator("input[name='attendees']").fill("surgeon, oncologist")
        case.locator("button:has-text('Record decision')").click()
        expect(page.locator(".flash")).to_contain_text("recorded")
    expect(page.locator(".mdt-case .decision")).to_have_count(3)
    page.click("text=Concordance")
    expect(page.locator("table.data tbody tr")).to_have_count(3)
    with page.expect_download() as info:
        page.click("#concordance-csv")
    csv_text = Path(info.value.path()).read_text(encoding="utf-8")
    assert csv_text.count("surgeon, oncologist") == 3
    assert [e for e in errors if not e.startswith("Failed to load resource")] == []
