"""Rubin's rules against R ``mice::pool`` / ``pool.scalar`` (``tests/fixtures/r/section10.R``).

The pooling is checked exactly on the same per-imputation estimates (lm on mice's nhanes), on
scalars, and end to end on Cox models fitted to the same completed data sets (lung, m = 5).
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
from crlm.stats import StatsInputError
from crlm.stats.imputation import cox_ph_pooled, rubin_pool, split_imputations

FIXTURES = Path(__file__).resolve().parent / "fixtures"
TOL = 1e-9
FIELDS = {"estimate": "estimate", "ubar": "ubar", "b": "b", "t": "t", "df": "df", "riv": "riv",
          "lambda_": "lambda", "fmi": "fmi"}


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def test_pool_matches_mice_on_the_same_estimates() -> None:
    ref = load("r_mice_pool.json")
    q = np.array([x["estimate"] for x in ref["per_imputation"]])
    u = np.array([x["variance"] for x in ref["per_imputation"]])
    pooled = rubin_pool(q, u, dfcom=ref["dfcom"], names=ref["terms"])
    for ours, theirs in FIELDS.items():
        np.testing.assert_allclose(getattr(pooled, ours), ref[theirs], rtol=1e-12, atol=0,
                                   err_msg=theirs)


def test_pool_written_out_for_one_scalar() -> None:
    ref = load("r_mice_pool.json")["scalar"]
    q, u, m = np.array(ref["q"]), np.array(ref["u"]), 4
    # by hand: Q̄, Ū, B (m − 1 divisor), T, r, λ, Barnard–Rubin df with ν_com = n − k, fmi
    qbar, ubar = q.mean(), u.mean()
    b = ((q - qbar) ** 2).sum() / (m - 1)
    t = ubar + (1 + 1 / m) * b
    lam = (1 + 1 / m) * b / t
    dfcom = ref["n"] - ref["k"]
    df_old = (m - 1) / lam**2
    df_obs = (dfcom + 1) / (dfcom + 3) * dfcom * (1 - lam)
    df = df_old * df_obs / (df_old + df_obs)
    r = (1 + 1 / m) * b / ubar
    pooled = rubin_pool(q, u, dfcom=dfcom)
    for ours, by_hand, theirs in (("estimate", qbar, "qbar"), ("t", t, "t"), ("df", df, "df"),
                                  ("riv", r, "r"),
                                  ("fmi", (r + 2 / (df + 3)) / (r + 1), "fmi")):
        assert getattr(pooled, ours)[0] == pytest.approx(by_hand, rel=1e-12)
        assert getattr(pooled, ours)[0] == pytest.approx(ref[theirs], rel=1e-12)
    inf = load("r_mice_pool.json")["scalar_inf"]  # ν_com = ∞: df is ν_old
    pooled_inf = rubin_pool(q, u)
    assert pooled_inf.df[0] == pytest.approx(inf["df"], rel=1e-12)
    assert pooled_inf.df[0] == pytest.approx(df_old, rel=1e-12)


def test_cox_pooled_over_completed_data_matches_mice() -> None:
    ref = load("r_mice_pool_cox.json")
    datasets = split_imputations(pd.read_csv(FIXTURES / "lung_imputed.csv"))
    pooled, n, events = cox_ph_pooled(datasets, "time", "status",
                                      ["age", "sex", "ph.ecog", "wt.loss"])
    assert (pooled.m, n, events) == (5, 228, 165)
    assert pooled.dfcom == ref["dfcom"]
    for ours, theirs in FIELDS.items():
        np.testing.assert_allclose(getattr(pooled, ours), ref[theirs], rtol=1e-7, atol=TOL,
                                   err_msg=theirs)
    frame = pooled.to_frame()
    summary = [ref["summary"][str(k + 1)] for k in range(4)]
    np.testing.assert_allclose(frame["se"], [s["std_error"] for s in summary], rtol=1e-7)
    np.testing.assert_allclose(frame["p"], [s["p"] for s in summary], rtol=1e-6)
    np.testing.assert_allclose(frame["lower95"], [s["lower"] for s in summary], rtol=1e-7)
    np.testing.assert_allclose(frame["upper95"], [s["upper"] for s in summary], rtol=1e-7)


def test_pool_errors() -> None:
    with pytest.raises(StatsInputError, match="at least 2"):
        rubin_pool([[1.0]], [[0.1]])
    with pytest.raises(StatsInputError, match="differ"):
        rubin_pool([[1.0], [2.0]], [[0.1, 0.2], [0.1, 0.2]])
    long = pd.read_csv(FIXTURES / "lung_imputed.csv")
    with pytest.raises(StatsInputError, match="still has missing"):
        gap = long.copy()
        gap.loc[gap.index[0], "age"] = math.nan
        cox_ph_pooled(split_imputations(gap), "time", "status", ["age", "sex"])


def test_cli_cox_imputations_json() -> None:
    ref = load("r_mice_pool_cox.json")
    result = CliRunner().invoke(app, [
        "stats", "cox", "--data", str(FIXTURES / "lung_imputed.csv"), "--imputations", ".imp",
        "--time", "time", "--event", "status", "--covariates", "age,sex,ph.ecog,wt.loss",
        "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["m"] == 5 and out["dfcom"] == ref["dfcom"]
    sex = out["coefficients"]["sex"]
    assert sex["estimate"] == pytest.approx(ref["estimate"][1], abs=1e-9)
    assert sex["df"] == pytest.approx(ref["df"][1], abs=1e-6)
    bad = CliRunner().invoke(app, [
        "stats", "cox", "--data", str(FIXTURES / "lung_imputed.csv"), "--imputations", "imp",
        "--time", "time", "--event", "status", "--covariates", "age"])
    assert bad.exit_code == 2 and "imp" in bad.stderr
