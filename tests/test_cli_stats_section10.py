"""``crlm stats cox --start/--weights/--offset/--predict``, ``logrank --rho``, ``km --conf-type
--conf-level``: JSON against the R fixtures of ``tests/fixtures/r/section10.R``; bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from crlm.cli import app

runner = CliRunner()
FIXTURES = Path(__file__).resolve().parent / "fixtures"
HEART = str(FIXTURES / "heart.csv")


@pytest.fixture(scope="module")
def colon_csv(reference_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    colon = pd.read_csv(reference_dir / "colon.csv")
    path = tmp_path_factory.mktemp("stats") / "colon2.csv"
    colon[colon.etype == 2].to_csv(path, index=False)
    return path


def run_json(*args: str) -> dict:
    result = runner.invoke(app, ["stats", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def test_cox_counting_weights_offset_json(tmp_path: Path) -> None:
    ref = load("r_cox_counting.json")["heart_weights_offset_breslow"]
    out = run_json("cox", "--data", HEART, "--time", "stop", "--event", "event", "--start",
                   "start", "--weights", "w", "--offset", "off", "--ties", "breslow",
                   "--covariates", "age,year,surgery,transplant")
    assert (out["start"], out["weights"], out["offset"]) == ("start", "w", "off")
    assert out["robust"] is True  # non-integer weights, as R
    assert out["loglik"] == pytest.approx(ref["loglik"], abs=1e-6)
    for (name, coef), se in zip(ref["coef"].items(), ref["se"].values(), strict=True):
        row = out["coefficients"][name.removesuffix("1")]  # R's factor transplant1
        assert row["coef"] == pytest.approx(coef, abs=1e-6)
        assert row["se"] == pytest.approx(se, abs=1e-6)
    assert out["concordance"] == pytest.approx(ref["concordance"], abs=1e-12)


def test_cox_predict_json_matches_survfit() -> None:
    ref = load("r_cox_counting.json")["heart_efron"]["pred"]
    times = ref["time"][3:8]
    out = run_json("cox", "--data", HEART, "--time", "stop", "--event", "event", "--start",
                   "start", "--covariates", "age,year,surgery,transplant", "--predict",
                   "age=-5,year=3,surgery=1,transplant=1", "--at",
                   ",".join(f"{t:g}" for t in times))
    pred = out["prediction"]
    assert pred["conf_type"] == "log" and pred["covariates"]["age"] == -5
    got = [pred["survival_at"][f"{t:g}"] for t in times]
    np.testing.assert_allclose([g["survival"] for g in got], ref["surv"][3:8], atol=1e-6)
    np.testing.assert_allclose([g["lower95"] for g in got], ref["lower"][3:8], atol=1e-6)
    np.testing.assert_allclose([g["upper95"] for g in got], ref["upper"][3:8], atol=1e-6)


def test_cox_basehaz_csv_matches_r(tmp_path: Path) -> None:
    ref = load("r_cox_counting.json")["heart_breslow"]["pred"]
    out = tmp_path / "basehaz.csv"
    result = runner.invoke(app, ["stats", "cox", "--data", HEART, "--time", "stop", "--event",
                                 "event", "--start", "start", "--ties", "breslow",
                                 "--covariates", "age,year,surgery,transplant", "--basehaz",
                                 str(out)])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out)
    assert list(table.columns) == ["time", "hazard"]
    idx = np.asarray(ref["index"], dtype=int)
    np.testing.assert_allclose(table["hazard"].to_numpy()[idx], ref["basehaz_centered"],
                               atol=1e-6)


def test_logrank_rho_json(colon_csv: Path) -> None:
    ref = load("r_survival_extra.json")["fh_rx_05"]
    out = run_json("logrank", "--data", str(colon_csv), "--time", "time", "--event", "status",
                   "--group", "rx", "--rho", "0.5")
    assert out["rho"] == 0.5
    assert out["chisq"] == pytest.approx(ref["chisq"], abs=1e-9)
    text = runner.invoke(app, ["stats", "logrank", "--data", str(colon_csv), "--time", "time",
                               "--event", "status", "--group", "rx", "--rho", "1"]).stdout
    assert "Fleming–Harrington" in text


def test_km_conf_level_json(colon_csv: Path) -> None:
    ref = load("r_survival_extra.json")["km_log_90"]
    out = run_json("km", "--data", str(colon_csv), "--time", "time", "--event", "status",
                   "--group", "rx", "--at", "1000", "--conf-level", "0.9")
    assert out["conf_level"] == 0.9
    k = ref["times"].index(1000)  # R rows: groups stacked, 60 times each while at risk
    at = out["groups"]["Lev"]["survival_at"]["1000"]
    assert at["lower90"] == pytest.approx(ref["lower"][k], abs=1e-9)
    assert at["upper90"] == pytest.approx(ref["upper"][k], abs=1e-9)
    text = runner.invoke(app, ["stats", "km", "--data", str(colon_csv), "--time", "time",
                               "--event", "status", "--conf-type", "arcsin",
                               "--conf-level", "0.8"]).stdout
    assert "arcsin" in text and "80% CI" in text


@pytest.mark.parametrize(("args", "message"), [
    (["km", "--conf-level", "95"], "--conf-level"),
    (["km", "--conf-type", "probit"], "--conf-type"),
    (["cox", "--covariates", "age", "--at", "100"], "--at"),
    (["cox", "--covariates", "age", "--predict", "age", "--at", "100"], "COLUMN=VALUE"),
    (["cox", "--covariates", "rx,age", "--predict", "age=60", "--at", "100"], "rx"),
    (["cox", "--covariates", "age", "--weights", "nodes"], "weights"),
    (["cox", "--covariates", "age", "--start", "age", "--firth"], "--start"),
])
def test_section10_bad_input_exits_2(colon_csv: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, ["stats", args[0], "--data", str(colon_csv), "--time", "time",
                                 "--event", "status", *args[1:]])
    assert result.exit_code == 2, result.output
    assert message in result.stderr
