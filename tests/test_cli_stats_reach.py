"""``crlm stats``: readable tables keep factor levels; every built analysis is reachable."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from crlm.cli import app
from crlm.synth import synthetic_rectal_cohort

runner = CliRunner()


@pytest.fixture(scope="module")
def rectal_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("reach") / "rectal.csv"
    synthetic_rectal_cohort(274, seed=1).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("args", [
    ["cox", "--time", "os_days", "--event", "os_event", "--covariates", "approach,age_years"],
    ["logistic", "--outcome", "os_event", "--covariates", "approach"],
    ["regression", "--time", "os_days", "--event", "os_event", "--factors", "approach",
     "--forced", "approach"],
])
def test_readable_tables_keep_factor_levels(rectal_csv: Path, args: list[str]) -> None:
    result = runner.invoke(app, ["stats", *args, "--data", str(rectal_csv)],
                           env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "[combined]" in result.output and "[reverse]" in result.output, result.output


def test_readable_table1_keeps_bracketed_levels(rectal_csv: Path, tmp_path: Path) -> None:
    import pandas as pd

    df = pd.read_csv(rectal_csv)
    df["grade"] = "[grade " + df.hepatectomy_grade.str.lower() + "]"
    path = tmp_path / "bracket.csv"
    df.to_csv(path, index=False)
    result = runner.invoke(app, ["stats", "table1", "--data", str(path), "--group", "approach",
                                 "--categorical", "grade"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "[grade iii]" in result.output and "[grade i]" in result.output


FIX = Path(__file__).resolve().parent / "fixtures"


def _json(*args: str) -> dict:
    import json

    result = runner.invoke(app, ["stats", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_cif_gray_finegray_json_match_r() -> None:
    import json

    r = json.loads((FIX / "r_validation_competing_colon.json").read_text())
    fg = json.loads((FIX / "r_fine_gray_colon.json").read_text())
    data = str(FIX / "colon_competing.csv")
    cif = _json("cif", "--data", data, "--time", "ftime", "--status", "fstatus",
                "--at", ",".join(str(t) for t in r["cif_times"]))
    for cause in (1, 2):
        est = [row["estimate"] for row in cif["rows"] if row["cause"] == cause]
        assert est == pytest.approx(r[f"cif{cause}_est"], rel=1e-10)
    gray = _json("gray", "--data", data, "--time", "ftime", "--status", "fstatus",
                 "--group", "rx", "--cause", "2")
    assert gray["statistic"] == pytest.approx(fg["gray_stat"][1], rel=1e-10)
    assert gray["df"] == 2 and gray["p"] == pytest.approx(fg["gray_p"][1], rel=1e-8)
    fine = _json("finegray", "--data", data, "--time", "ftime", "--status", "fstatus",
                 "--covariates", "rx", "--reference", "rx=Obs")
    assert [c["coef"] for c in fine["coefficients"].values()] == pytest.approx(fg["coef"],
                                                                            rel=1e-5)
    assert set(fine["coefficients"]) == {"rx[Lev]", "rx[Lev+5FU]"}
    readable = runner.invoke(app, ["stats", "finegray", "--data", data, "--time", "ftime",
                                   "--status", "fstatus", "--covariates", "rx"],
                             env={"COLUMNS": "200"})
    assert readable.exit_code == 0 and "rx[Lev+5FU]" in readable.output


def test_concordance_json_matches_r(reference_dir: Path, tmp_path: Path) -> None:
    import json

    import pandas as pd

    r = json.loads((FIX / "r_validation_competing_colon.json").read_text())
    df = pd.read_csv(reference_dir / "colon.csv")
    path = tmp_path / "deaths.csv"
    df[(df.etype == 2) & df.nodes.notna()].to_csv(path, index=False)
    one = _json("concordance", "--data", str(path), "--time", "time", "--event", "status",
                "--score", "nodes")
    assert one["c"] == pytest.approx(r["concordance"][0], rel=1e-10)
    assert one["se"] ** 2 == pytest.approx(r["var"][0], rel=1e-8)
    two = _json("concordance", "--data", str(path), "--time", "time", "--event", "status",
                "--score", "nodes,age")
    v11, v21, _v12, v22 = r["var"]
    assert two["difference"] == pytest.approx(r["concordance"][0] - r["concordance"][1],
                                              rel=1e-10)
    assert two["se"] ** 2 == pytest.approx(v11 + v22 - 2 * v21, rel=1e-8)


def test_tdauc_and_calibration(rectal_csv: Path) -> None:
    import pandas as pd

    from crlm.stats.validation import time_dependent_auc

    df = pd.read_csv(rectal_csv)
    res = _json("tdauc", "--data", str(rectal_csv), "--time", "os_days", "--event", "os_event",
                "--score", "number_of_metastases", "--at", "365.25,1826.25", "--draws", "30")
    assert [a["auc"] for a in res["auc"]] == pytest.approx(
        [time_dependent_auc(df, "os_days", "os_event", "number_of_metastases", h)
         for h in (365.25, 1826.25)], rel=1e-12)
    assert all(a["lower95"] <= a["auc"] <= a["upper95"] for a in res["auc"])
    df["grade3"] = (df.hepatectomy_grade == "III").astype(int)
    path = rectal_csv.with_name("grade.csv")
    df.to_csv(path, index=False)
    cal = _json("calibration", "--data", str(path), "--time", "os_days", "--event",
                "os_event", "--group", "grade3", "--at", "1826.25", "--expected", "0=0.6,1=0.4")
    assert len(cal["groups"]) == 2 and cal["calibration"]["n"] == len(df)
    assert cal["groups"][0]["expected"] == 0.6
    # O/E by hand: observed KM 5-year risk over the mean expected risk
    from crlm.stats import kaplan_meier

    surv = kaplan_meier(df, "os_days", "os_event").risk_table([1826.25])["surv"].iloc[0]
    expected = (1 - df.grade3.map({0: 0.6, 1: 0.4})).mean()
    assert cal["calibration"]["oe_ratio"] == pytest.approx((1 - surv) / expected, rel=1e-12)


def test_validate_derives_the_scores_and_names_what_is_missing(rectal_csv: Path,
                                                               tmp_path: Path) -> None:
    import numpy as np
    import pandas as pd

    no_nodes = _json("validate", "--data", str(rectal_csv), "--time", "os_days", "--event",
                     "os_event", "--draws", "0")
    assert list(no_nodes["scores"]) == ["tumor_burden_score"]
    assert "node-positive primary" in no_nodes["not_validated"]["fong_crs"]
    df = pd.read_csv(rectal_csv)
    df["node_positive"] = np.random.default_rng(0).uniform(size=len(df)) < 0.6
    path = tmp_path / "nodes.csv"
    df.to_csv(path, index=False)
    fig = tmp_path / "validation.tiff"
    res = _json("validate", "--data", str(path), "--time", "os_days", "--event", "os_event",
                "--draws", "0", "--figure", str(fig))
    assert list(res["scores"]) == ["fong_crs", "game", "tumor_burden_score", "mcs"]
    assert fig.stat().st_size > 10_000
    fong = res["scores"]["fong_crs"]
    assert [a["time"] for a in fong["auc"]] == [365.25, 1095.75, 1826.25]
    assert fong["calibration"]["n"] == fong["n"]  # every Fong value 0–5 has a published figure
    assert res["scores"]["tumor_burden_score"]["calibration"] is None
    game = res["scores"]["game"]
    # GAME 2–3 has no published 5-year survival: calibration uses 0–1 and ≥ 4 only
    assert game["calibration"]["n"] < game["n"]
    assert {row["value"] for row in game["calibration"]["by_value"]} <= {0, 1, 4, 5, 6, 7}
    readable = runner.invoke(app, ["stats", "validate", "--data", str(path), "--time",
                                   "os_days", "--event", "os_event", "--draws", "0"],
                             env={"COLUMNS": "250"})
    assert readable.exit_code == 0 and "Fong clinical risk score" in readable.output
    assert "Calibration of the published 5-year survival" in readable.output


@pytest.mark.parametrize("command", ["cif", "gray", "finegray", "concordance", "tdauc",
                                     "calibration", "validate"])
def test_every_new_command_teaches(command: str) -> None:
    result = runner.invoke(app, ["stats", command, "--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0
    assert "Example:" in result.output and "--json" in result.output


def test_gray_without_a_statistic_says_so(tmp_path: Path) -> None:
    """Group c has no event while at risk: R cuminc gives stat −1; crlm says why, exit 0."""
    data = tmp_path / "small.csv"
    data.write_text("time,status,group\n5,2,a\n7,2,a\n7,1,a\n1,0,b\n3,0,b\n4,1,b\n5,2,b\n"
                    "7,2,b\n9,1,b\n11,2,b\n1,0,c\n3,0,c\n3,0,c\n")
    args = ["stats", "gray", "--data", str(data), "--time", "time", "--status", "status",
            "--group", "group"]
    shown = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    assert "not computable" in shown.output and "no event while at risk" in shown.output
    as_json = _json("gray", "--data", str(data), "--time", "time", "--status", "status",
                    "--group", "group")
    assert as_json["computable"] is False and as_json["statistic"] is None
