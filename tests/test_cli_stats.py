"""``crlm stats cox|km|logrank|rmst`` on CSV files: JSON contract, R agreement, bad input."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from crlm.cli import app

runner = CliRunner()
FIXTURES = Path(__file__).resolve().parent / "fixtures"


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


def test_cox_json_matches_r(colon_csv: Path, reference_dir: Path) -> None:
    ref = json.loads((reference_dir / "ref_colon_cox.json").read_text())["efron"]
    out = run_json("cox", "--data", str(colon_csv), "--time", "time", "--event", "status",
                   "--covariates", "rx,sex,age,obstruct,perfor,adhere,nodes,differ,extent,surg",
                   "--reference", "rx=Obs")
    assert {"n", "events", "loglik", "concordance", "coefficients"} <= set(out)
    assert (out["n"], out["events"]) == (ref["n"], ref["nevent"])
    assert out["loglik"] == pytest.approx(ref["loglik"], rel=1e-6)
    assert out["concordance"] == pytest.approx(ref["concordance"], rel=1e-6)
    lev = out["coefficients"]["rx[Lev+5FU]"]
    assert set(lev) == {"coef", "se", "hr", "lower95", "upper95", "p"}
    assert lev["coef"] == pytest.approx(ref["coef"]["rxLev+5FU"], rel=1e-6)
    assert lev["se"] == pytest.approx(ref["se"]["rxLev+5FU"], rel=1e-6)
    assert out["dropped"]["n_dropped"] == 41


def test_cox_robust_strata_json(colon_csv: Path) -> None:
    out = run_json("cox", "--data", str(colon_csv), "--time", "time", "--event", "status",
                   "--covariates", "age,nodes", "--strata", "sex", "--robust",
                   "--ties", "breslow")
    assert out["robust"] is True and out["strata"] == "sex" and out["ties"] == "breslow"
    assert "naive_se" in out["coefficients"]["age"]
    assert "robust_score" in out["tests"]


def test_km_json_shape_and_values(colon_csv: Path) -> None:
    ref = json.loads((FIXTURES / "r_km_colon.json").read_text())["rx_loglog"]["groups"]["Obs"]
    out = run_json("km", "--data", str(colon_csv), "--time", "time", "--event", "status",
                   "--group", "rx", "--at", "365,730", "--conf-type", "log-log")
    obs = out["groups"]["Obs"]
    assert set(obs) >= {"n", "events", "median", "median_lower95", "median_upper95", "q25",
                        "q75", "survival_at"}
    assert obs["median_lower95"] == ref["median_lower95"]
    at730 = obs["survival_at"]["730"]
    i = ref["at"]["time"].index(730)
    assert at730["survival"] == pytest.approx(ref["at"]["surv"][i], rel=1e-12)
    assert at730["lower95"] == pytest.approx(ref["at"]["lower"][i], rel=1e-9)
    assert at730["n_risk"] == ref["at"]["n_risk"][i]
    assert at730["n_event"] == ref["at"]["n_event"][i]


def test_logrank_and_rmst_json(colon_csv: Path) -> None:
    ref = json.loads((FIXTURES / "r_logrank_colon.json").read_text())["rx"]
    out = run_json("logrank", "--data", str(colon_csv), "--time", "time", "--event", "status",
                   "--group", "rx", "--trend")
    assert {"chisq", "df", "p", "observed", "expected"} <= set(out)
    assert out["chisq"] == pytest.approx(ref["chisq"], rel=1e-9)
    assert out["observed"] == dict(zip(ref["groups"], ref["observed"], strict=True))
    assert out["trend"]["chisq"] == pytest.approx(ref["trend_chisq"], rel=1e-9)
    rm = run_json("rmst", "--data", str(colon_csv), "--time", "time", "--event", "status",
                  "--group", "rx", "--horizon", "2000")
    assert rm["groups"]["Obs"]["rmst"] == pytest.approx(1428.59011780692, rel=1e-9)
    assert len(rm["differences"]) == 3


def test_human_readable_output(colon_csv: Path) -> None:
    result = runner.invoke(app, ["stats", "km", "--data", str(colon_csv), "--time", "time",
                                 "--event", "status", "--group", "rx", "--at", "365"])
    assert result.exit_code == 0, result.output
    assert "Lev+5FU" in result.output and "NR" in result.output


def test_km_table_prints_counts_as_whole_numbers() -> None:
    """Every median reached (no missing cell): the counts were once printed as 631.0."""
    args = ["stats", "km", "--data", str(FIXTURES / "mgus2.csv"), "--time", "futime",
            "--event", "death", "--group", "sex"]
    groups = json.loads(runner.invoke(app, [*args, "--json"]).output)["groups"]
    shown = runner.invoke(app, args).output
    for group in groups.values():
        assert re.search(rf"│\s+{group['n']}\s+│\s+{group['events']}\s+│", shown), shown
        assert f"{group['n']}.0" not in shown


@pytest.mark.parametrize(
    ("change", "args", "needle"),
    [
        (None, ["cox", "--covariates", "nope"], "nope"),
        (lambda d: d.assign(time=d.time.astype(str) + "d"), ["km"], "time"),
        (lambda d: d.assign(status=d.status + 1), ["km"], "status"),
        (lambda d: d.assign(time=-d.time), ["rmst", "--horizon", "100"], "time"),
        (None, ["cox", "--covariates", "age", "--ties", "exact"], "--ties"),
        (None, ["km", "--conf-type", "probit"], "--conf-type"),
        (None, ["km", "--at", "365,soon"], "--at"),
        (None, ["cox", "--covariates", "rx", "--reference", "rx=Placebo"], "rx"),
        (None, ["logrank", "--group", "study"], "study"),
    ],
)
def test_bad_input_exit_2_names_column(colon_csv: Path, tmp_path: Path, change: object,
                                       args: list[str], needle: str) -> None:
    path = colon_csv
    if change is not None:
        path = tmp_path / "bad.csv"
        change(pd.read_csv(colon_csv)).to_csv(path, index=False)  # type: ignore[operator]
    result = runner.invoke(app, ["stats", args[0], "--data", str(path), "--time", "time",
                                 "--event", "status", *args[1:]])
    assert result.exit_code == 2, result.output
    assert needle in result.stderr
    assert "Traceback" not in result.output


def test_missing_file_exit_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["stats", "km", "--data", str(tmp_path / "none.csv"),
                                 "--time", "t", "--event", "e"])
    assert result.exit_code == 2
    assert "--data" in result.stderr


def test_risk_table_csv_like_r_summary(colon_csv: Path, tmp_path: Path) -> None:
    ref = json.loads((FIXTURES / "r_km_colon.json").read_text())["rx_log"]["groups"]["Lev"]
    out = tmp_path / "risk.csv"
    times = ",".join(str(t) for t in ref["at"]["time"])
    result = runner.invoke(app, ["stats", "km", "--data", str(colon_csv), "--time", "time",
                                 "--event", "status", "--group", "rx", "--at", times,
                                 "--risk-table", str(out)])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out)
    lev = table[table.group == "Lev"]
    assert lev["n_risk"].tolist() == ref["at"]["n_risk"]
    assert lev["n_event"].tolist() == ref["at"]["n_event"]
    assert lev["n_censor"].tolist() == ref["at"]["n_censor"]


def test_logistic_table_prints_a_small_p_as_below_a_thousandth(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=400)
    y = (rng.random(400) < 1 / (1 + np.exp(-2.5 * x))).astype(int)
    path = tmp_path / "lg.csv"
    pd.DataFrame({"y": y, "x": x, "z": rng.normal(size=400)}).to_csv(path, index=False)
    shown = runner.invoke(app, ["stats", "logistic", "--data", str(path), "--outcome", "y",
                                "--covariates", "x,z"]).output
    assert "<0.001" in shown and "0.000" not in shown, shown


def test_a_negative_interval_reads_a_to_b() -> None:
    args = ["stats", "rmst", "--data", str(FIXTURES / "mgus2.csv"), "--time", "futime",
            "--event", "death", "--group", "sex", "--horizon", "200"]
    difference = json.loads(runner.invoke(app, [*args, "--json"]).output)["differences"][0]
    assert difference["upper95"] < 0  # men: shorter restricted mean survival
    shown = runner.invoke(app, args).output
    assert f"{difference['lower95']:.1f} to {difference['upper95']:.1f}" in shown, shown
    assert "–-" not in shown
