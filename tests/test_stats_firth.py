"""Firth logistic and Cox: profile penalised-likelihood CIs and penalised LR tests.

R ``logistf`` cannot be installed here (no Debian package, no CRAN), so the logistic results are
checked against logistf output printed by others (tests/fixtures/logistf_published.json says
where each number comes from); ``coxphf`` is not packaged either, so Firth Cox is checked by
properties, the profile recomputed by an independent optimiser (BFGS).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats
from tests.conftest import FIXTURES

from crlm.stats import firth
from crlm.stats._data import StatsInputError
from crlm.stats.firth import firth_cox, firth_logistic

PUBLISHED = json.loads((FIXTURES / "logistf_published.json").read_text())
SEX2_COVARIATES = ["age", "oc", "vic", "vicl", "vis", "dia"]


@pytest.fixture(scope="module")
def sex2() -> pd.DataFrame:
    return pd.read_csv(FIXTURES / "logistf_sex2.csv")


@pytest.fixture(scope="module")
def endometrial() -> pd.DataFrame:
    return pd.read_csv(FIXTURES / "logistf_endometrial.csv")


def _monotone_cox_data() -> pd.DataFrame:
    """No event in group 1: ordinary Cox ML diverges for ``group``."""
    rng = np.random.default_rng(5)
    n = 40
    group = np.repeat([0, 1], n // 2)
    t = rng.exponential(10, n).round(1) + 0.1  # rounded: tied times
    e = np.where(group == 1, 0, rng.uniform(size=n) < 0.7).astype(int)
    age = rng.normal(60, 10, n).round()
    return pd.DataFrame({"t": t, "e": e, "group": group, "age": age})


def _independent_deviance(terms: firth.Terms, beta_hat: np.ndarray, j: int, b: float) -> float:
    """2{ℓ*(β̂) − max ℓ*(β_j = b)} with scipy BFGS over the other coefficients."""
    free = np.arange(len(beta_hat)) != j
    value_hat = terms(beta_hat)[0]

    def negative(v: np.ndarray) -> tuple[float, np.ndarray]:
        beta = beta_hat.copy()
        beta[j], beta[free] = b, v
        value, grad, _info = terms(beta)
        return -value, -grad[free]

    if not free.any():
        beta = beta_hat.copy()
        beta[j] = b
        return 2 * (value_hat - terms(beta)[0])
    res = optimize.minimize(negative, beta_hat[free], jac=True, method="BFGS",
                            options={"gtol": 1e-9, "maxiter": 2000})
    return 2 * (value_hat + res.fun)


@pytest.mark.parametrize("level_key", ["sex2_level_0.90", "sex2_level_0.95"])
def test_firth_logistic_matches_logistf_on_sex2(sex2: pd.DataFrame, level_key: str) -> None:
    ref = PUBLISHED[level_key]
    level = float(level_key.rsplit("_", 1)[1])
    fit = firth_logistic(sex2, "case", SEX2_COVARIATES, level=level)
    assert fit.names == ref["names"] and fit.ci_method == "profile" and fit.notes == []
    # logistf stops iterating at |Δβ| < 1e-5; printed to 7–8 digits: agreement is ~5e-8
    assert fit.coef.tolist() == pytest.approx(ref["coef"], abs=1e-6)
    assert fit.lower.tolist() == pytest.approx(ref["lower"], abs=1e-6)
    assert fit.upper.tolist() == pytest.approx(ref["upper"], abs=1e-6)
    if "p" in ref:  # penalised likelihood-ratio χ² and p, printed to 7 significant digits
        assert stats.chi2.isf(fit.p, 1).tolist() == pytest.approx(ref["chisq"], rel=1e-6)
        assert fit.p.tolist() == pytest.approx(ref["p"], rel=1e-6)


def test_firth_logistic_matches_logistf_under_quasi_separation(endometrial: pd.DataFrame
                                                               ) -> None:
    # Heinze & Schemper (2002): every NV = 1 patient has HG = 1; ML diverges for NV
    assert not ((endometrial.NV == 1) & (endometrial.HG == 0)).any()
    ref = PUBLISHED["endometrial_level_0.95"]
    fit = firth_logistic(endometrial, "HG", ["NV", "PI", "EH"])
    assert fit.names == ref["names"]
    assert fit.coef.tolist() == pytest.approx(ref["coef"], abs=1e-6)
    assert fit.lower.tolist() == pytest.approx(ref["lower"], abs=1e-6)
    assert fit.upper.tolist() == pytest.approx(ref["upper"], abs=1e-6)
    # the profile CI for NV is strongly asymmetric; Wald's is symmetric and much narrower above
    wald = firth_logistic(endometrial, "HG", ["NV", "PI", "EH"], ci="wald")
    assert fit.upper[1] - fit.coef[1] > 1.5 * (fit.coef[1] - fit.lower[1])
    assert wald.upper[1] < fit.upper[1] - 1


def _assert_bounds_and_p_match_the_deviance(fit: Any, terms: Any) -> None:
    """Each finite bound sits where the profile deviance is χ²₁(0.95); p is the LR test at 0."""
    crit = stats.chi2.ppf(0.95, 1)
    for j in range(fit.coef.size):
        assert fit.lower[j] < fit.coef[j] < fit.upper[j]
        for bound in (fit.lower[j], fit.upper[j]):
            assert _independent_deviance(terms, fit.coef, j, bound) == pytest.approx(crit,
                                                                                     abs=1e-6)
        dev0 = _independent_deviance(terms, fit.coef, j, 0.0)
        assert fit.p[j] == pytest.approx(stats.chi2.sf(dev0, 1), rel=1e-6)


def test_profile_bounds_and_p_are_where_the_deviance_says(endometrial: pd.DataFrame) -> None:
    fit = firth_logistic(endometrial, "HG", ["NV", "PI", "EH"])
    data = endometrial.to_numpy(float)
    x = np.column_stack([np.ones(len(data)), data[:, :3]])
    terms = firth._logistic_terms(x, data[:, 3])
    _assert_bounds_and_p_match_the_deviance(fit, terms)


def test_firth_cox_profile_bounds_and_p_under_monotone_likelihood() -> None:
    df = _monotone_cox_data()
    fit = firth_cox(df, "t", "e", ["group", "age"])
    assert fit.ci_method == "profile" and fit.notes == []
    terms = firth._cox_penalised_terms(df[["group", "age"]].to_numpy(float),
                                       df.t.to_numpy(float), df.e.to_numpy())
    _assert_bounds_and_p_match_the_deviance(fit, terms)
    # no event in group 1: the profile CI excludes 1 far below; Wald's upper bound stays near 1
    assert fit.upper[0] < -1 and fit.p[0] < 0.001
    wald = firth_cox(df, "t", "e", ["group", "age"], ci="wald")
    assert wald.upper[0] > -0.5 and wald.p[0] > 0.03


def test_firth_cox_single_covariate_profile_is_the_penalised_likelihood_itself() -> None:
    df = _monotone_cox_data()
    fit = firth_cox(df, "t", "e", ["group"], level=0.9)
    terms = firth._cox_penalised_terms(df[["group"]].to_numpy(float), df.t.to_numpy(float),
                                       df.e.to_numpy())
    value = terms(fit.coef)[0]
    crit = stats.chi2.ppf(0.9, 1)
    for bound in (fit.lower[0], fit.upper[0]):
        assert 2 * (value - terms(np.array([bound]))[0]) == pytest.approx(crit, abs=1e-6)
    assert fit.p[0] == pytest.approx(stats.chi2.sf(2 * (value - terms(np.zeros(1))[0]), 1),
                                     rel=1e-9)


def _big_logistic(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.binomial(1, 0.4, n)
    y = rng.uniform(size=n) < 1 / (1 + np.exp(-(-0.5 + 0.8 * x1 + 0.6 * x2)))
    return pd.DataFrame({"y": y.astype(int), "x1": x1, "x2": x2})


def test_profile_ci_approaches_wald_in_large_samples() -> None:
    z = stats.norm.ppf(0.975)

    def gap(fit: firth.FirthResult | firth.FirthCoxResult) -> float:
        """Largest distance between profile and Wald bounds, in standard errors."""
        return float(max(np.max(np.abs(fit.lower - (fit.coef - z * fit.se)) / fit.se),
                         np.max(np.abs(fit.upper - (fit.coef + z * fit.se)) / fit.se)))

    small = firth_logistic(_big_logistic(60, 3), "y", ["x1", "x2"])
    large = firth_logistic(_big_logistic(20000, 3), "y", ["x1", "x2"])
    assert gap(large) < 0.02 < gap(small)

    rng = np.random.default_rng(1)
    n = 3000
    x1, x2 = rng.normal(size=n), rng.binomial(1, 0.4, n)
    t_event = rng.exponential(1 / np.exp(0.5 * x1 - 0.3 * x2))
    censor = rng.exponential(2, n)
    surv = pd.DataFrame({"t": np.minimum(t_event, censor).round(3) + 0.001,
                         "e": (t_event < censor).astype(int), "x1": x1, "x2": x2})
    cox_large = firth_cox(surv, "t", "e", ["x1", "x2"])
    cox_small = firth_cox(surv.iloc[:60], "t", "e", ["x1", "x2"])
    assert gap(cox_large) < 0.02 < gap(cox_small)


def test_a_bound_beyond_the_search_limit_is_infinite_and_said(
        endometrial: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    # NV's upper bound lies 4.9 above the estimate; with the search capped at 3 it is not found
    monkeypatch.setattr(firth, "MAX_LINEAR_SPAN", 3.0)
    fit = firth_logistic(endometrial, "HG", ["NV", "PI", "EH"])
    assert fit.upper[1] == math.inf and math.isfinite(fit.lower[1])
    assert any(n.startswith("NV: no upper bound") and "reported as inf" in n for n in fit.notes)
    frame = fit.to_frame()
    assert frame.loc["NV", "upper95"] == math.inf and frame.attrs["ci_method"] == "profile"


def test_wald_option_and_table(sex2: pd.DataFrame) -> None:
    prof = firth_logistic(sex2, "case", SEX2_COVARIATES)
    wald = firth_logistic(sex2, "case", SEX2_COVARIATES, ci="wald")
    z = stats.norm.ppf(0.975)
    assert wald.coef.tolist() == pytest.approx(prof.coef.tolist(), abs=1e-12)
    assert wald.lower.tolist() == pytest.approx((wald.coef - z * wald.se).tolist(), rel=1e-12)
    assert wald.p.tolist() == pytest.approx(
        (2 * stats.norm.sf(np.abs(wald.coef / wald.se))).tolist(), rel=1e-12)
    frame = prof.to_frame()
    assert frame.attrs == {"ci_method": "profile", "level": 0.95}
    assert frame["lower95"].tolist() == pytest.approx(np.exp(prof.lower).tolist(), rel=1e-12)
    assert frame["p"].tolist() == pytest.approx(prof.p.tolist(), rel=1e-12)
    assert wald.to_frame().attrs["ci_method"] == "wald"
    assert list(firth_logistic(sex2, "case", ["age"], level=0.9).to_frame().columns) == [
        "coef", "se", "or", "lower90", "upper90", "p"]
    with pytest.raises(StatsInputError, match="ci must be"):
        firth_logistic(sex2, "case", ["age"], ci="score")  # type: ignore[arg-type]
    with pytest.raises(StatsInputError, match="level"):
        firth_cox(_monotone_cox_data(), "t", "e", ["age"], level=1.0)


def test_cox_terms_match_the_risk_set_definition() -> None:
    df = _monotone_cox_data()
    x = df[["group", "age"]].to_numpy(float)
    t, e = df.t.to_numpy(float), df.e.to_numpy()
    beta = np.array([-0.7, 0.03])
    loglik, score, info, dinfo = firth._cox_terms(x, t, e, beta)
    # direct Breslow sums over each distinct event time's risk set
    ll, u, i2 = 0.0, np.zeros(2), np.zeros((2, 2))
    for time in np.unique(t[e == 1]):
        at, dead = t >= time, (t == time) & (e == 1)
        w = np.exp(x[at] @ beta)
        mean = w @ x[at] / w.sum()
        ll += float(x[dead].sum(axis=0) @ beta - dead.sum() * np.log(w.sum()))
        u += x[dead].sum(axis=0) - dead.sum() * mean
        i2 += dead.sum() * ((x[at] * w[:, None]).T @ x[at] / w.sum() - np.outer(mean, mean))
    assert loglik == pytest.approx(ll, rel=1e-12)
    assert score.tolist() == pytest.approx(u.tolist(), rel=1e-10)
    assert info.ravel().tolist() == pytest.approx(i2.ravel().tolist(), rel=1e-10)
    h = 1e-6  # ∂I/∂β_r by central differences
    for r in range(2):
        step = np.zeros(2)
        step[r] = h
        numeric = (firth._cox_terms(x, t, e, beta + step)[2]
                   - firth._cox_terms(x, t, e, beta - step)[2]) / (2 * h)
        assert dinfo[:, :, r].ravel().tolist() == pytest.approx(numeric.ravel().tolist(),
                                                                rel=1e-6, abs=1e-8)


def test_regression_table_with_firth_says_how_cis_were_made(
        endometrial: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    from crlm.stats.regression_table import regression_table

    t = regression_table(endometrial, ["NV", "PI", "EH"], kind="logistic", outcome="HG",
                         firth=True)
    assert t.firth and t.ci_method == "profile" and t.entered == ["NV", "EH"]
    assert any("profile penalised likelihood" in n for n in t.footnotes)
    fit = firth_logistic(endometrial, "HG", ["NV", "EH"])
    row = t.frame.set_index("Factor").loc["NV"]
    lo, hi = np.exp(fit.lower[1]), np.exp(fit.upper[1])
    assert row["Multivariable OR (95% CI)"] == f"{np.exp(fit.coef[1]):.2f} ({lo:.2f}–{hi:.2f})"
    wald = regression_table(endometrial, ["NV"], kind="logistic", outcome="HG", firth=True,
                            ci="wald")
    assert wald.ci_method == "wald" and any("Wald 95% CIs" in n for n in wald.footnotes)
    plain = regression_table(endometrial, ["PI", "EH"], kind="logistic", outcome="HG")
    assert not plain.firth and plain.ci_method == "wald"
    assert "Logistic regression (maximum likelihood); Wald 95% CIs and p values." in (
        plain.footnotes)
    monkeypatch.setattr(firth, "MAX_LINEAR_SPAN", 3.0)  # NV's upper bound is not found
    capped = regression_table(endometrial, ["NV"], kind="logistic", outcome="HG", firth=True)
    assert capped.frame.loc[0, "Univariable OR (95% CI)"].endswith("–∞)")
    assert any(n.startswith("Univariable: NV: no upper bound") for n in capped.footnotes)


def test_cli_firth_logistic_and_cox(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from crlm.cli import app

    run = CliRunner().invoke
    endo = str(FIXTURES / "logistf_endometrial.csv")
    res = run(app, ["stats", "logistic", "--data", endo, "--outcome", "HG",
                    "--covariates", "NV,PI,EH", "--firth", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    ref = PUBLISHED["endometrial_level_0.95"]
    assert out["ci_method"] == "profile" and out["model"] == "firth_logistic"
    assert math.log(out["coefficients"]["NV"]["upper95"]) == pytest.approx(ref["upper"][1],
                                                                            abs=1e-6)
    res = run(app, ["stats", "logistic", "--data", endo, "--outcome", "HG",
                    "--covariates", "NV,PI,EH", "--firth"])
    assert "95% CI (profile)" in res.stdout and "penalised likelihood-ratio" in res.stdout
    res = run(app, ["stats", "logistic", "--data", endo, "--outcome", "HG",
                    "--covariates", "PI,EH"])
    assert "95% CI (Wald)" in res.stdout
    res = run(app, ["stats", "logistic", "--data", endo, "--outcome", "HG",
                    "--covariates", "PI", "--ci", "profile"])
    assert res.exit_code == 2 and "need --firth" in res.stderr
    surv = tmp_path / "mono.csv"
    _monotone_cox_data().to_csv(surv, index=False)
    args = ["stats", "cox", "--data", str(surv), "--time", "t", "--event", "e",
            "--covariates", "group,age", "--firth"]
    res = run(app, args)
    assert res.exit_code == 0, res.output
    assert "Firth-penalised Cox model (Breslow ties)" in res.stdout
    assert "95% CI (profile)" in res.stdout
    out = json.loads(run(app, [*args, "--ci", "wald", "--json"]).stdout)
    wald = firth_cox(_monotone_cox_data(), "t", "e", ["group", "age"], ci="wald")
    assert out["ci_method"] == "wald"
    assert out["coefficients"]["group"]["p"] == pytest.approx(wald.p[0], rel=1e-9)
    res = run(app, [*args, "--robust"])
    assert res.exit_code == 2 and "--robust: not available with --firth" in res.stderr
    res = run(app, ["stats", "regression", "--data", str(surv), "--time", "t", "--event", "e",
                    "--factors", "group,age", "--firth", "--json"])
    out = json.loads(res.stdout)
    assert out["firth"] and out["ci_method"] == "profile"
    assert any("profile penalised likelihood" in n for n in out["footnotes"])


def test_fit_converges_where_fisher_scoring_cycles() -> None:
    # one exposed patient, a non-event: the penalty's curvature is half the information's, so
    # plain Fisher scoring overshoots by exactly 2 and cycles about the optimum
    df = pd.DataFrame({"x": [0, 0, 0, 0, 0, 0, 0, 1, 0], "y": [0, 0, 1, 0, 0, 1, 1, 0, 1]})
    fit = firth_logistic(df, "y", ["x"])
    # saturated 2×2: Firth's log odds ratio adds ½ to each cell
    assert fit.coef[1] == pytest.approx(math.log((0.5 / 1.5) / (4.5 / 4.5)), rel=1e-10)
    assert fit.notes == [] and fit.lower[1] < fit.coef[1] < fit.upper[1]
    x = np.column_stack([np.ones(9), df.x.to_numpy(float)])
    terms = firth._logistic_terms(x, df.y.to_numpy(float))
    for bound in (fit.lower[1], fit.upper[1]):
        assert _independent_deviance(terms, fit.coef, 1, bound) == pytest.approx(
            stats.chi2.ppf(0.95, 1), abs=1e-6)
