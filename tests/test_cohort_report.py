"""``crlm analyze``: the report holds the right numbers and renders in a real browser."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.conftest import EXAMPLES
from typer.testing import CliRunner

from crlm.cli import app
from crlm.stats import kaplan_meier
from crlm.synth import synthetic_rectal_cohort, synthetic_tsh_cohort


@pytest.fixture(scope="module")
def rectal_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("analyze")
    data = root / "cohort.csv"
    synthetic_rectal_cohort(274, seed=1).to_csv(data, index=False)
    out = root / "report"
    res = CliRunner().invoke(app, ["analyze", str(data), "--config",
                                   str(EXAMPLES / "maki2023.toml"), "--out", str(out)])
    assert res.exit_code == 0, res.output
    return data, out


def test_all_outputs_written(rectal_report: tuple[Path, Path]) -> None:
    _, out = rectal_report
    for name in ("report.html", "report.docx", "provenance.json", "table1.csv", "table1.docx",
                 "table2_cox.csv", "table3_logistic.csv", "flow.csv", "fig1_flow.png",
                 "fig1_flow.svg", "fig2_trend.png", "fig3_km_os.png", "fig3_km_os.svg",
                 "fig3_km_os_at_risk.csv", "fig4_forest.svg", "fig4_forest.tiff",
                 "fig5_tdauc_1.png", "fig7_score_validation.png", "score_validation.csv"):
        assert (out / name).stat().st_size > 0, name
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 6 and "Table 1" in html


def test_numbers_match_the_analyses(rectal_report: tuple[Path, Path]) -> None:
    data, out = rectal_report
    df = pd.read_csv(data)
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["rows_input"] == prov["rows_analysed"] == len(df) == 274
    assert len(prov["data_sha256"]) == 64 and prov["crlm_version"]
    flow = pd.read_csv(out / "flow.csv")
    assert flow.Patients.tolist() == [274, 274, 274]  # start, missing follow-up, time 0
    summary = pd.read_csv(out / "fig3_km_os_summary.csv")
    km = kaplan_meier(df, "os_days", "os_event", "approach")
    for level, curve in km.groups.items():
        row = summary.set_index("group").loc[level]
        assert row["n"] == curve.n and row["events"] == curve.events
        median = curve.median()[0]
        assert (pd.isna(row["median"]) if median is None else row["median"] == median)
    risk = pd.read_csv(out / "fig3_km_os_at_risk.csv")
    at0 = risk[risk.time == 0].set_index("group").n_risk
    assert at0.to_dict() == df.approach.value_counts().to_dict()
    t1 = pd.read_csv(out / "table1.csv")
    assert t1.columns[1] == f"Classic (primary first) (n = {(df.approach == 'classic').sum()})"
    assert t1.columns[4] == f"Overall (n = {len(df)})" and "SMD" in t1.columns
    cox = pd.read_csv(out / "table2_cox.csv")
    assert "Pre-hepatectomy cycles > 8" in cox.Characteristic.tolist()


def test_bad_config_exits_2(tmp_path: Path) -> None:
    data = tmp_path / "c.csv"
    synthetic_rectal_cohort(30, seed=2).to_csv(data, index=False)
    cfg = tmp_path / "a.toml"
    cfg.write_text('title = "x"\n[group]\ncolumn = "nope"\n[endpoints.os]\ntime = "os_days"\n'
                   'event = "os_event"\n')
    res = CliRunner().invoke(app, ["analyze", str(data), "-c", str(cfg), "-o",
                                   str(tmp_path / "o")])
    assert res.exit_code == 2 and "nope" in res.stderr
    cfg.write_text('title = "x"\nunknown = 1\n')
    res = CliRunner().invoke(app, ["analyze", str(data), "-c", str(cfg), "-o",
                                   str(tmp_path / "o")])
    assert res.exit_code == 2 and "unknown" in res.stderr


def test_tsh_example(tmp_path: Path) -> None:
    data = tmp_path / "tsh.csv"
    synthetic_tsh_cohort(300, seed=3).to_csv(data, index=False)
    res = CliRunner().invoke(app, ["analyze", str(data), "-c", str(EXAMPLES / "tsh.toml"), "-o",
                                   str(tmp_path / "r")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "r" / "fig3_km_pfs.png").exists()


def test_report_renders_in_chromium(rectal_report: tuple[Path, Path], chromium_path: str,
                                    tmp_path: Path) -> None:
    _, out = rectal_report
    shot = tmp_path / "report.png"
    subprocess.run(
        [chromium_path, "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--disable-component-update", "--no-first-run",
         "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
         f"--screenshot={shot}", "--window-size=1200,2000", (out / "report.html").as_uri()],
        check=True, timeout=120, capture_output=True)
    assert shot.stat().st_size > 20_000


def test_firth_models_in_the_report_name_their_ci_method(tmp_path: Path) -> None:
    data = tmp_path / "cohort.csv"
    synthetic_rectal_cohort(120, seed=3).to_csv(data, index=False)
    config = (EXAMPLES / "maki2023.toml").read_text()
    assert "[cox]\n" in config and "[logistic]\n" in config
    config = config.replace("[cox]\n", "[cox]\nfirth = true\n").replace(
        "[logistic]\n", '[logistic]\nfirth = true\nci = "wald"\n')
    cfg = tmp_path / "firth.toml"
    cfg.write_text(config)
    out = tmp_path / "report"
    res = CliRunner().invoke(app, ["analyze", str(data), "--config", str(cfg), "--out", str(out)])
    assert res.exit_code == 0, res.output
    html = (out / "report.html").read_text()
    assert ("Firth-penalised Cox models (Breslow ties); 95% CIs from the profile penalised "
            "likelihood") in html
    assert "Firth-penalised logistic regression; Wald 95% CIs and p values" in html
    assert "95% CI, profile, log scale" in (out / "fig4_forest.svg").read_text()


P_NEJM = re.compile(r"^(<0\.001|0\.00[1-9]|0\.\d\d|1\.00)$")


def _docx_text(path: Path) -> tuple[list[list[list[str]]], list[str]]:
    from docx import Document

    doc = Document(str(path))
    tables = [[[c.text for c in row.cells] for row in t.rows] for t in doc.tables]
    return tables, [p.text for p in doc.paragraphs]


def test_report_is_journal_ready(rectal_report: tuple[Path, Path]) -> None:
    """Labels, reference rows, n and events per row, one p style, in HTML and DOCX."""
    data, out = rectal_report
    df = pd.read_csv(data)
    html = (out / "report.html").read_text()
    tables, paragraphs = _docx_text(out / "report.docx")
    text = html + "\n".join(paragraphs)
    for raw in ("cea_gt_5", "cycles_gt_8", "[True]", "[False]", "approach[", "(n = ", "os_event"):
        if raw == "(n = ":
            continue
        assert raw not in text, raw
    assert "CEA &gt; 5 ng/mL" in html and "Reverse (liver first)" in html
    assert "1 (reference)" in html
    # Table 2 in the DOCX: reference rows, patients and deaths per level
    cox = next(t for t in tables if t[0][0] == "Characteristic" and "Deaths" in t[0])
    head = cox[0]
    rows = {r[0].strip(): r for r in cox[1:]}
    assert rows["Combined"][head.index("Univariable HR (95% CI)")] == "1 (reference)"
    assert int(rows["Reverse (liver first)"][head.index("Patients")]) == (
        df.approach == "reverse").sum()
    assert int(rows["Reverse (liver first)"][head.index("Deaths")]) == df.os_event[
        df.approach == "reverse"].sum()
    # one p style (NEJM) in every table and sentence
    for table in tables:
        for col, name in enumerate(table[0]):
            if name in ("P", "Univariable P", "Multivariable P"):
                for row in table[1:]:
                    assert row[col] == "" or P_NEJM.match(row[col]), (name, row[col])
    assert "< ." not in text and not re.search(r"[pP] ?= ?0\.\d{4,}", text)
    assert re.search(r"Log-rank test: χ² = [\d.]+ on 2 df, P(=0\.\d+|<0\.001)", text)
    # medians carry their unit; survival outcomes get time-dependent AUC, not a 0/1 ROC
    assert re.search(r"median overall survival [\d.]+ years", text)
    assert "Time-dependent AUC" in html and "ROC:" not in html
    assert "Validation of prognostic scores" in html and "Tumour burden score" in html
    assert "Fong clinical risk score not validated: the data have no column for node-positive" \
        in html


def test_figures_at_journal_size(rectal_report: tuple[Path, Path]) -> None:
    from PIL import Image

    _, out = rectal_report
    with Image.open(out / "fig4_forest.tiff") as im:
        dpi = im.info["dpi"]
        assert round(dpi[0]) == 300
        assert abs(im.size[0] / dpi[0] * 25.4 - 183) < 1  # double column
    svg = (out / "fig4_forest.svg").read_text()
    assert "HR (95% CI)" in svg and "1 (reference)" in svg
    assert "10^{0}" not in svg and "times10" not in svg


def test_apa_style_and_single_column(tmp_path: Path) -> None:
    data = tmp_path / "cohort.csv"
    synthetic_rectal_cohort(150, seed=4).to_csv(data, index=False)
    config = (EXAMPLES / "maki2023.toml").read_text()
    config = config.replace('p_style = "nejm"', 'p_style = "apa"').replace(
        'width = "double"\ndpi = 300', 'width = "single"\ndpi = 600').replace(
        "[score_validation]\n", "[score_validation]\ndraws = 0\n").replace(
        'endpoint = "os"\nhorizons = [1, 3, 5]\n',
        'endpoint = "os"\nhorizons = [1, 3, 5]\nexpected = { 1 = 0.6, 2 = 0.5, 3 = 0.45 }\n')
    cfg = tmp_path / "apa.toml"
    cfg.write_text(config)
    out = tmp_path / "report"
    res = CliRunner().invoke(app, ["analyze", str(data), "--config", str(cfg), "--out", str(out)])
    assert res.exit_code == 0, res.output
    t1 = pd.read_csv(out / "table1.csv", dtype=str).fillna("")
    assert all(p == "" or re.match(r"^(< \.001|\.\d{3})$", p) for p in t1["p"])
    html = (out / "report.html").read_text()
    assert re.search(r"Log-rank test: χ² = [\d.]+ on 2 df, p (= \.\d{3}|&lt; \.001)", html)
    # [[cutoffs]] expected: calibration of the marker against the expected survival
    cal = pd.read_csv(out / "calibration_number_of_metastases.csv")
    assert cal.value.tolist() == [1, 2, 3] and cal.published.tolist() == [0.6, 0.5, 0.45]
    assert re.search(r"Calibration at 5 years \(n = \d+\): observed/expected events", html)
    from PIL import Image

    with Image.open(out / "fig3_km_os.tiff") as im:
        assert round(im.info["dpi"][0]) == 600
        assert abs(im.size[0] / im.info["dpi"][0] * 25.4 - 89) < 1


def test_competing_risks_and_score_calibration_sections(tmp_path: Path) -> None:
    from crlm.stats.competing import gray_test

    df = synthetic_rectal_cohort(200, seed=6)
    recurrence = (df.rfs_event == 1) & ((df.rfs_days < df.os_days) | (df.os_event == 0))
    death_first = (df.rfs_event == 1) & ~recurrence
    df["rec_status"] = np.where(recurrence, 1, np.where(death_first, 2, 0))
    df["node_positive"] = np.random.default_rng(1).uniform(size=len(df)) < 0.6
    data = tmp_path / "cohort.csv"
    df.to_csv(data, index=False)
    config = (EXAMPLES / "maki2023.toml").read_text().replace(
        "[score_validation]\n", "[score_validation]\ndraws = 0\n")
    config += ('\n[competing_risks]\ntime = "rfs_days"\nstatus = "rec_status"\n'
               'causes = { 1 = "Recurrence", 2 = "Death without recurrence" }\n'
               'covariates = ["approach", "cea_gt_5"]\nreference = { approach = "combined" }\n')
    cfg = tmp_path / "cr.toml"
    cfg.write_text(config)
    out = tmp_path / "report"
    res = CliRunner().invoke(app, ["analyze", str(data), "--config", str(cfg), "--out", str(out)])
    assert res.exit_code == 0, res.output
    html = (out / "report.html").read_text()
    assert "Competing risks: cumulative incidence of recurrence" in html
    gray = gray_test(df.assign(approach=df.approach.astype("string")), "rfs_days", "rec_status",
                     "approach")
    assert f"χ² = {gray.statistic:.2f} on 2 df" in html
    fg = pd.read_csv(out / "competing_finegray.csv")
    assert fg.Characteristic.tolist() == ["Approach: Classic (primary first)",
                                          "Approach: Reverse (liver first)", "CEA > 5 ng/mL: Yes"]
    cif = pd.read_csv(out / "competing_cif.csv")
    assert set(cif.Event) == {"Recurrence", "Death without recurrence"}
    assert (out / "fig6_cif.png").stat().st_size > 10_000
    # with node status every score is derived; Fong and GAME are calibrated
    scores = pd.read_csv(out / "score_validation.csv")
    assert scores.Score.tolist() == ["Fong clinical risk score", "GAME score",
                                     "Tumour burden score", "Modified clinical score (m-CS)"]
    calibration = pd.read_csv(out / "score_calibration.csv")
    assert set(calibration.Score) == {"Fong clinical risk score", "GAME score"}
    fong = calibration[calibration.Score == "Fong clinical risk score"]
    assert set(fong["Published 5-year OS (%)"]) <= {60.0, 44.0, 40.0, 20.0, 25.0, 14.0}
    assert "Calibration of the published 5-year survival" in html
