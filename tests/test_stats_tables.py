"""Table 1, logistic regression, uni→multivariable tables and ROC — against R and by hand."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.conftest import FIXTURES

from crlm.stats._data import StatsInputError
from crlm.stats.logistic import logistic_regression
from crlm.stats.regression_table import regression_table
from crlm.stats.roc import OPTIMISM_WARNING, auc_delong, roc_analysis
from crlm.stats.table1 import categorical_test, continuous_test, table1

R = json.loads((FIXTURES / "r_tables_colon.json").read_text())


@pytest.fixture(scope="module")
def colon(reference_dir: Path) -> pd.DataFrame:
    df = pd.read_csv(reference_dir / "colon.csv")
    return df[df.etype == 2].reset_index(drop=True)


def _table(a: pd.Series, b: pd.Series) -> np.ndarray:
    return pd.crosstab(a, b).to_numpy()


def test_chisq_and_fisher_match_r(colon: pd.DataFrame) -> None:
    test, stat, p = categorical_test(_table(colon.rx, colon.sex))
    assert test == "chisq"
    assert stat == pytest.approx(R["chisq_rx_sex"]["statistic"], rel=1e-10)
    assert p == pytest.approx(R["chisq_rx_sex"]["p"], rel=1e-10)
    small = colon.iloc[:40]
    test, _, p = categorical_test(_table(small.sex, small.obstruct))  # 2×2, small counts
    assert test == "fisher" and p == pytest.approx(R["fisher_sex_obstruct_first40"]["p"],
                                                   rel=1e-9)
    test, _, p = categorical_test(_table(small.rx, small.obstruct))  # 3×2 Freeman–Halton
    assert test == "fisher" and p == pytest.approx(R["fisher_rx_obstruct_first40"]["p"],
                                                   rel=1e-6)


def test_rank_and_mean_tests_match_r(colon: pd.DataFrame) -> None:
    by_rx = [colon.age[colon.rx == g].to_numpy(float) for g in ("Lev", "Lev+5FU", "Obs")]
    by_sex = [colon.age[colon.sex == s].to_numpy(float) for s in (0, 1)]
    test, stat, p = continuous_test(by_rx, mean_sd=False)
    assert test == "kruskal" and stat == pytest.approx(R["kruskal_age_rx"]["statistic"], rel=1e-10)
    assert p == pytest.approx(R["kruskal_age_rx"]["p"], rel=1e-10)
    test, stat, p = continuous_test(by_sex, mean_sd=False)
    assert test == "mannwhitney" and stat == pytest.approx(R["wilcox_age_sex"]["statistic"])
    assert p == pytest.approx(R["wilcox_age_sex"]["p"], rel=1e-9)
    test, stat, p = continuous_test(by_sex, mean_sd=True, var_equal=True)  # R var.equal=TRUE
    assert test == "ttest" and stat == pytest.approx(R["ttest_age_sex"]["statistic"], rel=1e-10)
    assert p == pytest.approx(R["ttest_age_sex"]["p"], rel=1e-10)
    test, stat, p = continuous_test(by_rx, mean_sd=True)
    assert test == "anova" and stat == pytest.approx(R["anova_age_rx"]["F"], rel=1e-10)


def test_table1_rows_footnotes_and_outputs(colon: pd.DataFrame, tmp_path: Path) -> None:
    df = colon.assign(obstruct=colon.obstruct.astype(bool)).copy()
    df.loc[:9, "age"] = np.nan  # ten missing ages → a footnote
    t = table1(df, "rx", categorical=["sex", "obstruct", "differ"], continuous=["age", "nodes"],
               mean_sd=["nodes"], labels={"differ": "Differentiation"}, overall=True)
    rows = t.frame.set_index("Variable")
    obs = colon[colon.rx == "Obs"]
    n_obst = int(obs.obstruct.sum())
    assert rows.loc["obstruct, n (%)", "Obs (n = 315)"] == f"{n_obst} ({100 * n_obst / 315:.1f})"
    q1, med, q3 = R["quantile_age_obs"]
    obs_age = df[df.rx == "Obs"].age.dropna()
    assert rows.loc["age, median (IQR)", "Obs (n = 315)"] == (
        f"{np.median(obs_age):g} ({np.percentile(obs_age, 25):g}–{np.percentile(obs_age, 75):g})")
    assert (q1, med, q3) == (53, 60, 68)  # R type-7 quantiles of the complete column
    assert rows.loc["nodes, mean (SD)", "Test"] == "one-way ANOVA"
    assert rows.loc["sex, n (%)", "p"] == f"{R['chisq_rx_sex']['p']:.3f}"
    assert "  1" in rows.index  # differentiation levels listed
    assert ("Data not available for Differentiation in 23 patients, age in 10 patients, "
            "nodes in 18 patients.") in t.footnotes
    assert "χ² with Yates' continuity correction for 2×2 tables" in t.footnotes[0]
    html = t.to_html()
    assert "<table" in html and "Data not available" in html
    t.to_docx(tmp_path / "t1.docx")
    from docx import Document

    doc = Document(str(tmp_path / "t1.docx"))
    cells = [c.text for row in doc.tables[0].rows for c in row.cells]
    assert f"{n_obst} ({100 * n_obst / 315:.1f})" in cells
    assert "rx" not in t.to_csv() or "Variable" in t.to_csv()


def test_table1_bad_input_names_column(colon: pd.DataFrame) -> None:
    with pytest.raises(StatsInputError, match="nope: column not found"):
        table1(colon, "rx", categorical=["nope"])
    with pytest.raises(StatsInputError, match="sex: needs at least two groups"):
        table1(colon[colon.sex == 1], "sex", continuous=["age"])


def test_logistic_matches_r_glm(colon: pd.DataFrame) -> None:
    fit = logistic_regression(colon, "status", ["rx", "age", "nodes", "obstruct"],
                              reference={"rx": "Obs"})
    g = R["glm"]
    assert fit.n == g["n"] and fit.dropped.n_dropped == len(colon) - g["n"]
    assert fit.intercept == pytest.approx(g["coef"][0], rel=1e-6)
    names = ["rx[Lev]", "rx[Lev+5FU]", "age", "nodes", "obstruct"]
    frame = fit.to_frame()
    for i, name in enumerate(names, start=1):
        assert frame.loc[name, "coef"] == pytest.approx(g["coef"][i], rel=1e-6)
        assert frame.loc[name, "se"] == pytest.approx(g["se"][i], rel=1e-6)
        assert frame.loc[name, "p"] == pytest.approx(g["p"][i], rel=1e-5)
    assert fit.loglik == pytest.approx(g["loglik"], rel=1e-9)
    assert frame.loc["nodes", "or"] == pytest.approx(np.exp(g["coef"][4]), rel=1e-6)


def test_logistic_separation_is_a_clear_error() -> None:
    df = pd.DataFrame({"y": [0, 0, 0, 1, 1, 1], "x": [1, 2, 3, 4, 5, 6]})
    with pytest.raises(StatsInputError, match=r"firth|separation|infinite"):
        logistic_regression(df, "y", ["x"])


def test_regression_table_screens_and_forces(colon: pd.DataFrame) -> None:
    t = regression_table(colon, ["rx", "age", "sex", "nodes", "obstruct"], kind="cox",
                         time="time", event="status", threshold=0.10, forced=["age"],
                         reference={"rx": "Obs"})
    # sex is not associated (p ≈ 0.6): stays out; age forced in; rx, nodes, obstruct enter
    assert t.entered == ["rx", "age", "nodes", "obstruct"]
    frame = t.frame.set_index("Factor")
    assert frame.loc["sex", "Multivariable HR (95% CI)"] == ""
    assert frame.loc["nodes", "Multivariable HR (95% CI)"] != ""
    assert t.n_multivariable == int(colon[["time", "status", "rx", "age", "nodes",
                                           "obstruct"]].dropna().shape[0])
    lt = regression_table(colon, ["age", "nodes"], kind="logistic", outcome="status",
                          threshold=0.05)
    assert lt.entered == ["nodes"] and "OR" in lt.frame.columns[1]


def test_auc_delong_by_hand() -> None:
    # positives 3, 4; negatives 1, 3: pairs (3>1)=1, (3=3)=.5, (4>1)=1, (4>3)=1 → AUC 3.5/4
    auc, se = auc_delong(np.array([3.0, 4, 1, 3]), np.array([1, 1, 0, 0]))
    assert auc == pytest.approx(0.875)
    # V10 = [0.75, 1.0], V01 = [1.0, 0.75]; var = 0.03125/2 + 0.03125/2
    assert se == pytest.approx(np.sqrt(0.03125 / 2 + 0.03125 / 2))


def test_roc_auc_matches_r_and_youden(colon: pd.DataFrame) -> None:
    r = roc_analysis(colon, "nodes", "status")
    assert r.auc == pytest.approx(R["auc_nodes_status"]["auc"], rel=1e-10)
    assert r.n == R["auc_nodes_status"]["n1"] + R["auc_nodes_status"]["n0"]
    j = r.sensitivity + r.specificity - 1
    assert r.youden == pytest.approx(j.max()) and r.auc_lower95 < r.auc < r.auc_upper95
    assert OPTIMISM_WARNING in r.warnings
    d = colon.dropna(subset=["nodes"])
    pred = d.nodes >= r.cutoff
    assert r.cutoff_sensitivity == pytest.approx(pred[d.status == 1].mean())
    assert r.cutoff_specificity == pytest.approx((~pred)[d.status == 0].mean())


def test_cli_table1_logistic_regression_roc(reference_dir: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from crlm.cli import app

    colon_csv = tmp_path / "colon2.csv"
    df = pd.read_csv(reference_dir / "colon.csv")
    df[df.etype == 2].to_csv(colon_csv, index=False)
    run = CliRunner().invoke
    res = run(app, ["stats", "table1", "--data", str(colon_csv), "--group", "rx",
                    "--categorical", "sex", "--continuous", "age", "--json",
                    "--docx", str(tmp_path / "t.docx")])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["groups"] == {"Lev": 310, "Lev+5FU": 304, "Obs": 315}
    assert (tmp_path / "t.docx").stat().st_size > 0
    res = run(app, ["stats", "logistic", "--data", str(colon_csv), "--outcome", "status",
                    "--covariates", "rx,age,nodes,obstruct", "--reference", "rx=Obs", "--json"])
    coef = json.loads(res.stdout)["coefficients"]["nodes"]["coef"]
    assert coef == pytest.approx(R["glm"]["coef"][4], rel=1e-6)
    res = run(app, ["stats", "regression", "--data", str(colon_csv), "--factors", "age,nodes",
                    "--time", "time", "--event", "status", "--json"])
    assert json.loads(res.stdout)["entered"] == ["nodes"]
    res = run(app, ["stats", "roc", "--data", str(colon_csv), "--marker", "nodes",
                    "--outcome", "status", "--json"])
    assert json.loads(res.stdout)["auc"] == pytest.approx(R["auc_nodes_status"]["auc"])
    res = run(app, ["stats", "table1", "--data", str(colon_csv), "--group", "rx",
                    "--categorical", "nope"])
    assert res.exit_code == 2 and "nope: column not found" in res.stderr


def test_table1_variable_without_any_data() -> None:
    df = pd.DataFrame({"g": ["a", "b"] * 5, "site": [None] * 10, "x": range(10)})
    t = table1(df, "g", categorical=["site"], continuous=["x"])
    assert t.frame.set_index("Variable").loc["site, n (%)", "p"] == ""
    assert "Data not available for site in 10 patients" in t.footnotes[-1]


def test_maxstat_cutpoint_matches_r_maxstat(colon: pd.DataFrame) -> None:
    from crlm.stats.roc import maxstat_cutpoint

    ref = json.loads((FIXTURES / "r_maxstat_colon.json").read_text())
    d = colon.dropna(subset=["nodes"])
    r = maxstat_cutpoint(d, "nodes", "time", "status")
    assert r.cuts.tolist() == ref["nodes"]["cuts"]
    assert r.statistics.tolist() == pytest.approx(ref["nodes"]["stats"], rel=1e-10)
    assert r.cutpoint == ref["nodes"]["cutpoint"]
    assert r.p == pytest.approx(ref["nodes"]["p"], rel=1e-8)
    age = maxstat_cutpoint(d, "age", "time", "status")
    assert age.cutpoint == ref["age"]["cutpoint"]
    assert age.statistic == pytest.approx(ref["age"]["statistic"], rel=1e-10)
    assert age.p == pytest.approx(ref["age"]["p"], rel=1e-8)
    assert OPTIMISM_WARNING in age.warnings


def test_logistic_quasi_separation_is_a_clear_error() -> None:
    # Heinze & Schemper's endometrial data: every NV = 1 patient has HG = 1 (ML diverges)
    df = pd.read_csv(Path(__file__).resolve().parent / "fixtures" / "logistf_endometrial.csv")
    with pytest.raises(StatsInputError, match="separation"):
        logistic_regression(df, "HG", ["NV", "PI", "EH"])
    fit = logistic_regression(df, "HG", ["PI", "EH"])
    assert np.all(np.isfinite(fit.se)) and fit.n == len(df)
