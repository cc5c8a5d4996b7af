"""Table 1: R's default two-group tests (Welch t, Yates χ², exact Wilcoxon) and SMD.

R references: ``tests/fixtures/r/section10.R`` → ``r_tables_defaults.json``. SMD: the formula of
``tableone::ExtractSmd`` (Yang & Dalton 2012) checked on numbers worked out by hand.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from crlm.cli import app
from crlm.stats.table1 import (
    _mean_sd,
    _median_iqr,
    categorical_test,
    continuous_test,
    smd_categorical,
    smd_continuous,
    table1,
)

R = json.loads((Path(__file__).resolve().parent / "fixtures" / "r_tables_defaults.json")
               .read_text())


@pytest.fixture(scope="module")
def colon2(reference_dir: Path) -> pd.DataFrame:
    colon = pd.read_csv(reference_dir / "colon.csv")
    return colon[colon.etype == 2].reset_index(drop=True)


def test_welch_is_the_default_t_test(colon2: pd.DataFrame) -> None:
    by_sex = [colon2.age[colon2.sex == s].to_numpy(float) for s in (0, 1)]
    test, stat, p = continuous_test(by_sex, mean_sd=True)
    assert test == "welch"
    assert stat == pytest.approx(R["welch_age_sex"]["statistic"], abs=1e-10)
    assert p == pytest.approx(R["welch_age_sex"]["p"], abs=1e-12)


def test_yates_on_2x2_is_the_default(colon2: pd.DataFrame) -> None:
    table = pd.crosstab(colon2.sex, colon2.obstruct).to_numpy()
    test, stat, p = categorical_test(table)
    assert test == "chisq_yates"
    assert stat == pytest.approx(R["yates_sex_obstruct"]["statistic"], abs=1e-10)
    assert p == pytest.approx(R["yates_sex_obstruct"]["p"], abs=1e-12)
    assert categorical_test(table, correct=False)[0] == "chisq"


def test_exact_mann_whitney_for_small_samples_without_ties(colon2: pd.DataFrame) -> None:
    r = R["wilcox_exact"]
    test, stat, p = continuous_test([np.array(r["a"]), np.array(r["b"])], mean_sd=False)
    assert r["method"] == "Wilcoxon rank sum exact test"
    assert test == "mannwhitney_exact"
    assert stat == r["statistic"]
    assert p == pytest.approx(r["p"], abs=1e-12)
    ties = R["wilcox_ties"]  # R falls back to the normal approximation with ties
    samples = [colon2.age[:30].to_numpy(float), colon2.age[30:55].to_numpy(float)]
    test, stat, p = continuous_test(samples, mean_sd=False)
    assert test == "mannwhitney" and stat == ties["statistic"]
    assert p == pytest.approx(ties["p"], abs=1e-12)


def test_smd_by_hand() -> None:
    # continuous: means 2.5 and 5, variances 5/3 and 20/3 → 2.5 / √(25/6) = √6 / 2
    assert smd_continuous([np.array([1.0, 2, 3, 4]), np.array([2.0, 4, 6, 8])]) == (
        pytest.approx(math.sqrt(6) / 2, abs=1e-12))
    # categorical, 3 levels: p₁ = (¼, ½, ¼), p₂ = (½, ¼, ¼); T = (¼, 0) over levels 2–3;
    # S = ½[(¼·¾, −⅛; −⅛, 3/16) + (3/16, −1/16; −1/16, 3/16)] = (7/32, −3/32; −3/32, 3/16);
    # det S = 33/1024, (S⁻¹)₁₁ = (3/16)/(33/1024) = 64/11, TᵀS⁻¹T = 1/16 · 64/11 = 4/11
    counts = np.array([[10, 20], [20, 10], [10, 10]])  # levels × groups
    assert smd_categorical(counts) == pytest.approx(math.sqrt(4 / 11), abs=1e-12)
    # binary: |p₁ − p₂| / √((p₁q₁ + p₂q₂)/2) with p = 0.3, 0.5
    binary = np.array([[70, 50], [30, 50]])
    expected = 0.2 / math.sqrt((0.3 * 0.7 + 0.5 * 0.5) / 2)
    assert smd_categorical(binary) == pytest.approx(expected, abs=1e-12)
    # three groups: the average of the three pairwise SMDs
    three = [np.array([1.0, 2, 3, 4]), np.array([2.0, 4, 6, 8]), np.array([1.0, 2, 3, 4])]
    assert smd_continuous(three) == pytest.approx((2 * math.sqrt(6) / 2 + 0) / 3, abs=1e-12)


def test_table1_smd_column_and_footnotes(colon2: pd.DataFrame) -> None:
    t = table1(colon2[colon2.rx != "Lev"], "rx", categorical=["sex", "differ"],
               continuous=["age"], mean_sd=["age"], smd=True)
    rows = t.frame.set_index("Variable")
    assert list(t.frame.columns)[-1] == "SMD"
    sub = colon2[colon2.rx != "Lev"]
    a, b = (sub.age[sub.rx == g] for g in ("Lev+5FU", "Obs"))
    by_hand = abs(a.mean() - b.mean()) / math.sqrt((a.var() + b.var()) / 2)
    assert rows.loc["age, mean (SD)", "SMD"] == f"{by_hand:.3f}"
    assert rows.loc["age, mean (SD)", "Test"] == "Welch's t-test"
    assert rows.loc["sex, n (%)", "Test"] == "χ² test with Yates' continuity correction"
    assert rows.loc["  1", "SMD"] == ""  # level rows carry no SMD
    notes = " ".join(t.footnotes)
    assert "Welch, R's default" in notes and "Yates" in notes and "SMD" in notes
    student = table1(sub, "rx", continuous=["age"], mean_sd=["age"], var_equal=True,
                     correct=False)
    assert "Student" in " ".join(student.footnotes)
    assert "SMD" not in student.frame.columns


def test_cli_table1_smd(colon2: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    colon2.to_csv(path, index=False)
    result = CliRunner().invoke(app, ["stats", "table1", "--data", str(path), "--group", "sex",
                                      "--categorical", "obstruct", "--mean-sd", "age", "--smd",
                                      "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    tests = {t["variable"]: t for t in out["tests"]}
    assert tests["obstruct"]["test"] == "chisq_yates"
    assert tests["obstruct"]["p"] == pytest.approx(R["yates_sex_obstruct"]["p"], abs=1e-12)
    assert tests["age"]["test"] == "welch" and tests["age"]["smd"] > 0
    assert out["rows"][0]["SMD"] != ""


def test_smd_of_two_constant_groups_is_undefined_not_an_error() -> None:
    import numpy as np

    from crlm.stats.table1 import smd_continuous

    assert np.isnan(smd_continuous([np.array([1.0, 1.0, 1.0]), np.array([2.0, 2.0])]))
    assert smd_continuous([np.array([1.0, 1.0]), np.array([1.0, 1.0])]) == 0.0


def test_a_continuous_cell_has_one_number_of_decimals() -> None:
    assert _median_iqr(np.array([11.8, 12.3, 13.0, 14.0, 14.0])) == "13.0 (12.3–14.0)"
    assert _median_iqr(np.array([55.0, 63.0, 71.0])) == "63 (59–67)"  # whole numbers stay so
    assert _mean_sd(np.array([5.0])) == "5 (–)"  # no SD of one value (it used to raise)
