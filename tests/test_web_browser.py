"""Browser test: Playwright drives Debian's chromium against uvicorn on a free loopback port."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from web_support import PASSWORD, make_app

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    import uvicorn

    app = make_app(tmp_path)
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


def test_login_patient_form_import_and_cohort(server, chromium_path, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    shots = tmp_path / "screenshots"
    shots.mkdir()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        console_errors: list[str] = []
        page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)

        # log in (a protected page sends us to /login and back)
        page.goto(f"{server}/patients/new")
        expect(page).to_have_url(f"{server}/login?next=/patients/new")
        page.fill("#username", "alice")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        expect(page).to_have_url(f"{server}/patients/new")

        # a patient with a negative CEA: the error appears next to the field
        page.fill("[name='id']", "BRW-001")
        page.fill("[name='age_years']", "64")
        page.select_option("[name='sex']", "male")
        page.select_option("[name='primary.site']", "rectum")
        page.fill("[name='primary.date_of_diagnosis']", "2022-02-01")
        page.select_option("[name='liver.timing']", "synchronous")
        page.fill("[name='liver.number_of_metastases']", "2")
        page.fill("[name='liver.largest_diameter_cm']", "3.5")
        page.fill("[name='labs.cea_ng_ml']", "-3")
        page.fill("[name='outcome.date_last_follow_up']", "2024-05-01")
        page.select_option("[name='outcome.vital_status']", "alive")
        page.click("form.patient-form button[type=submit]")
        error = page.locator(".field.invalid .field-error")
        expect(error).to_have_count(1)
        expect(error).to_contain_text("Must be at least 0")
        expect(page.locator(".field.invalid input")).to_have_attribute("name", "labs.cea_ng_ml")
        page.screenshot(path=str(shots / "1-form-error.png"), full_page=True)

        # fix it: the patient page with the assessment
        page.fill("[name='labs.cea_ng_ml']", "15")
        page.click("form.patient-form button[type=submit]")
        expect(page.locator("h1")).to_contain_text("BRW-001")
        expect(page.locator("table.scores")).to_be_visible()
        expect(page.get_by_role("heading", name="Bottom line")).to_be_visible()
        page.screenshot(path=str(shots / "2-patient.png"), full_page=True)

        # the printable tumour-board summary: its inline style is allowed by hash
        page.click("text=Tumour-board summary")
        expect(page.locator("h1")).to_contain_text("Tumour board summary — BRW-001")
        border = page.evaluate(
            "getComputedStyle(document.querySelector('h1')).borderBottomStyle"
        )
        assert border == "solid"  # the report's stylesheet was applied despite the CSP
        page.screenshot(path=str(shots / "2b-tumour-board.png"), full_page=True)

        # import a CSV with bad rows: the report lists them, nothing is saved
        bad_csv = tmp_path / "bad.csv"
        bad_csv.write_text(_bad_import_csv(), encoding="utf-8")
        page.goto(f"{server}/import")
        page.set_input_files("#file", str(bad_csv))
        page.click("form[action='/import'] button[type=submit]")
        expect(page.locator(".error-summary")).to_contain_text("Nothing was imported")
        rows = page.locator("table.import-errors tbody tr")
        expect(rows).to_have_count(2)
        page.screenshot(path=str(shots / "3-import.png"), full_page=True)
        page.goto(f"{server}/patients")
        expect(page.locator("table.data tbody tr")).to_have_count(1)

        # cohort page: the KM plot image loads
        page.goto(f"{server}/cohort?grouping=sex")
        img = page.locator("#km-plot")
        expect(img).to_be_visible()
        page.wait_for_function("document.getElementById('km-plot').naturalWidth > 0")
        page.screenshot(path=str(shots / "4-cohort.png"), full_page=True)
        browser.close()
    # HTTP error statuses (422 form answers) are logged as "Failed to load resource"; anything
    # else, e.g. a Content-Security-Policy violation, is a defect
    assert [m for m in console_errors if not m.startswith("Failed to load resource")] == []


def _bad_import_csv() -> str:
    """Two invalid rows (negative CEA; unknown sex) and one valid row."""
    from import_support import csv_rows

    return csv_rows([
        {"id": "IMP-1", "age_years": 55, "labs": {"cea_ng_ml": -1}},
        {"id": "IMP-2", "age_years": 70, "sex": "unknown-sex"},
        {"id": "IMP-3", "age_years": 66},
    ])
