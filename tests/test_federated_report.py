"""A synthetic three-centre study end to end from the CLI: synth → federated CLI → report."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from crlm.cli import app
from crlm.reports.analysis_config import AnalysisConfig
from crlm.stats.cox import cox_ph

EXAMPLE = Path(__file__).parents[1] / "examples" / "federated_study.toml"


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("study")
    res = CliRunner().invoke(app, ["synth", "rectal", "--n", "1800", "--centres", "3",
                                   "--seed", "3", "--out", str(folder / "study.csv")])
    assert res.exit_code == 0, res.output
    shutil.copy(EXAMPLE, folder / EXAMPLE.name)
    return folder


def test_synth_centres_differ_in_size_and_case_mix(study: Path) -> None:
    pooled = pd.read_csv(study / "study.csv")
    sizes = pooled["centre"].value_counts().sort_index()
    assert sizes.tolist() == [900, 600, 300]
    mix = pd.crosstab(pooled["centre"], pooled["approach"], normalize="index")
    # centre A over-represents the classic approach, centre C the reverse approach
    assert mix.loc["A", "classic"] > mix.loc["C", "classic"]
    assert mix.loc["C", "reverse"] > mix.loc["A", "reverse"]
    for name in "ABC":
        part = pd.read_csv(study / f"study_centre_{name}.csv")
        assert (part["centre"] == name).all() and len(part) == sizes[name]


def test_federated_cli_cox_equals_pooled(study: Path) -> None:
    centres = [arg for n in "ABC" for arg in ("--centre", str(study / f"study_centre_{n}.csv"))]
    covs = "age_years,approach,cea_gt_5"
    res = CliRunner().invoke(app, ["federated", "cox", *centres, "--covariates", covs,
                                   "--ties", "breslow", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    ref = cox_ph(pd.read_csv(study / "study.csv"), "os_days", "os_event", covs.split(","),
                 ties="breslow", strata="centre")
    got = [out["coefficients"][n]["coef"] for n in ref.names]
    np.testing.assert_allclose(got, ref.coef, rtol=0, atol=1e-8)
    assert [c["requests"] for c in out["federated"]["centres"]] == [
        out["federated"]["rounds"] + 1] * 3
    assert all(c["bytes_sent"] > 0 for c in out["federated"]["centres"])


def test_federated_cli_needs_two_centres(study: Path) -> None:
    res = CliRunner().invoke(app, ["federated", "logrank", "--centre",
                                   str(study / "study_centre_A.csv"), "--group", "approach"])
    assert res.exit_code == 2 and "at least two centres" in res.output


def test_federated_study_report_end_to_end(study: Path) -> None:
    out = study / "report"
    res = CliRunner().invoke(app, ["analyze", "--config", str(study / EXAMPLE.name),
                                   "--out", str(out)])
    assert res.exit_code == 0, res.output
    html = (out / "report.html").read_text(encoding="utf-8")
    for title in ("Patient selection", "Table 1. Characteristics by approach",
                  "Kaplan–Meier: Overall survival by approach",
                  "Table 2. Cox regression for overall survival",
                  "Not available in a federated study"):
        assert title in html
    assert "annual trend" in html and "discrimination of markers" in html
    assert "Reverse (liver first)" in html and "approximate median" in html
    cox = pd.read_csv(out / "table2_cox.csv")
    ref = cox_ph(pd.read_csv(study / "study.csv"), "os_days", "os_event",
                 ["age_years", "approach", "extrahepatic_disease", "cea_gt_5", "cycles_gt_8",
                  "diameter_gt_5cm"], strata="centre", reference={"approach": "combined"})
    assert cox["HR (95% CI)"].tolist() == [f"{h:.2f} ({lo:.2f}–{hi:.2f})" for h, lo, hi in
                                            zip(ref.hr, *ref.ci(), strict=True)]
    provenance = json.loads((out / "provenance.json").read_text())
    assert provenance["rows_analysed"] == 1800 and len(provenance["federated"]) == 3
    assert (out / "report.docx").is_file()


def test_source_table_keeps_the_source_line() -> None:
    config = AnalysisConfig.model_validate({
        "title": "t", "group": {"column": "g"}, "endpoints": {},
        "source": {"text": "From three centres.", "federated": ["a.csv", "b.csv"]}})
    assert config.source == "From three centres." and config.federated == ["a.csv", "b.csv"]
    with pytest.raises(ValueError, match="unknown key"):
        AnalysisConfig.model_validate({"title": "t", "group": {"column": "g"},
                                       "endpoints": {}, "source": {"centres": []}})


def test_analyze_without_cohort_needs_a_federated_source(tmp_path: Path) -> None:
    cfg = tmp_path / "a.toml"
    cfg.write_text('title = "t"\n[group]\ncolumn = "g"\n[endpoints]\n', encoding="utf-8")
    res = CliRunner().invoke(app, ["analyze", "--config", str(cfg), "--out", str(tmp_path)])
    assert res.exit_code == 2 and "federated" in res.output


def _registry(path: Path, n: int, seed: int) -> None:
    from crlm.registry import repository
    from crlm.registry.db import init_db, make_session_factory
    from crlm.synth import synthetic_rectal_cohort, to_patients

    factory = make_session_factory(init_db(f"sqlite:///{path}"))
    with factory() as session:
        repository.save_patients(session, list(to_patients(synthetic_rectal_cohort(n, seed))),
                                 centre=path.stem, actor="test")
        session.commit()


def test_federated_cli_reads_registry_databases(tmp_path: Path) -> None:
    from crlm.federated.local import read_centre
    from crlm.stats import logrank_test

    paths = [tmp_path / "a.db", tmp_path / "b.db"]
    _registry(paths[0], 160, 1)
    _registry(paths[1], 120, 2)
    res = CliRunner().invoke(app, ["federated", "logrank", "--centre", str(paths[0]),
                                   "--centre", str(paths[1]), "--group", "approach", "--json"])
    assert res.exit_code == 0, res.output
    pooled = pd.concat([read_centre(p).assign(centre=p.stem) for p in paths])
    ref = logrank_test(pooled, "os_days", "os_event", "approach", strata="centre")
    assert json.loads(res.output)["chisq"] == pytest.approx(ref.chisq, abs=1e-10)


@pytest.mark.parametrize("command", [
    ["km", "--group", "approach", "--max-time", "1826.25", "--times", "365.25,1095.75"],
    ["table1", "--group", "approach", "--categorical", "sex", "--continuous", "age_years"],
    ["logistic", "--outcome", "cea_gt_5", "--covariates", "age_years,sex"],
    ["logrank", "--group", "approach"],
])
def test_federated_cli_commands_answer_in_json(study: Path, command: list[str]) -> None:
    centres = [arg for n in "ABC" for arg in ("--centre", str(study / f"study_centre_{n}.csv"))]
    res = CliRunner().invoke(app, ["federated", command[0], *centres, *command[1:], "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert len(out["federated"]["centres"]) == 3
    assert all(c["bytes_sent"] > 0 for c in out["federated"]["centres"])
