"""Score validation, time-dependent AUC, calibration, landmark, Firth, competing risks."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.conftest import FIXTURES

from crlm.stats._data import StatsInputError
from crlm.stats.competing import cumulative_incidence
from crlm.stats.firth import firth_logistic
from crlm.stats.landmark import landmark_dataset
from crlm.stats.validation import (
    calibration_by_group,
    compare_scores,
    harrell_c,
    time_dependent_auc,
)

R = json.loads((FIXTURES / "r_validation_competing_colon.json").read_text())


@pytest.fixture(scope="module")
def deaths(reference_dir: Path) -> pd.DataFrame:
    df = pd.read_csv(reference_dir / "colon.csv")
    return df[(df.etype == 2) & df.nodes.notna()].reset_index(drop=True)


def test_harrell_c_and_two_score_comparison_match_r(deaths: pd.DataFrame) -> None:
    # R: concordance(coxph(~ nodes), coxph(~ age)) — C of each linear predictor and their
    # covariance matrix (infinitesimal jackknife)
    cmp = compare_scores(deaths, "time", "status", "nodes", "age")
    (c1, c2), (v11, _v21, v12, v22) = R["concordance"], R["var"]
    assert cmp.first.c == pytest.approx(c1, rel=1e-10)
    assert cmp.second.c == pytest.approx(c2, rel=1e-10)
    assert cmp.first.se**2 == pytest.approx(v11, rel=1e-8)
    assert cmp.second.se**2 == pytest.approx(v22, rel=1e-8)
    assert cmp.se**2 == pytest.approx(v11 + v22 - 2 * v12, rel=1e-8)
    assert cmp.difference == pytest.approx(c1 - c2) and cmp.p < 0.001
    single = harrell_c(deaths, "time", "status", "nodes")
    assert single.c == pytest.approx(c1) and single.lower95 < c1 < single.upper95


def test_time_dependent_auc_equals_plain_auc_without_censoring() -> None:
    rng = np.random.default_rng(3)
    score = rng.normal(size=400)
    t = rng.exponential(np.exp(-score)) * 100
    df = pd.DataFrame({"t": t, "e": 1, "s": score})
    horizon = float(np.median(t))
    cases, controls = score[t <= horizon], score[t > horizon]
    plain = np.mean([(c > k) + 0.5 * (c == k) for c in cases for k in controls])
    assert time_dependent_auc(df, "t", "e", "s", horizon) == pytest.approx(plain, rel=1e-12)


def test_time_dependent_auc_reweights_censored_cases() -> None:
    # censoring before the horizon removes a would-be case; IPCW up-weights the remaining ones
    df = pd.DataFrame({"t": [1, 2, 3, 4, 10, 11], "e": [1, 0, 1, 1, 0, 0],
                       "s": [5.0, 4, 3, 1, 2, 0]})
    auc = time_dependent_auc(df, "t", "e", "s", 5)
    # G(t−): 1 at t=1; after the censoring at 2: G = 4/5 = 0.8 for t = 3 and 4
    w = np.array([1, 1 / 0.8, 1 / 0.8])
    wins = np.array([2, 2, 0.5])  # case scores 5, 3, 1 vs control scores 2, 0 (1 vs 2: 0; vs 0: 1)
    wins[2] = 1.0
    assert auc == pytest.approx((w * wins).sum() / (w.sum() * 2))
    with pytest.raises(StatsInputError, match="horizon must be > 0"):
        time_dependent_auc(df, "t", "e", "s", 0)


def test_calibration_table(deaths: pd.DataFrame) -> None:
    cal = calibration_by_group(deaths, "time", "status", "rx", 1825,
                               expected={"Obs": 0.5, "Lev": 0.5})
    assert list(cal.index) == ["Lev", "Lev+5FU", "Obs"]
    assert (cal.lower95 <= cal.observed).all() and (cal.observed <= cal.upper95).all()
    assert math.isnan(cal.loc["Lev+5FU", "expected"])
    assert cal.loc["Obs", "observed_minus_expected"] == pytest.approx(
        cal.loc["Obs", "observed"] - 0.5)


def test_landmark_dataset() -> None:
    df = pd.DataFrame({"t": [10, 50, 100, 200, 300], "e": [1, 0, 1, 0, 1], "g": list("aabbb")})
    lm = landmark_dataset(df, "t", "e", 90)
    assert lm.data.t.tolist() == [10, 110, 210] and lm.data.g.tolist() == ["b", "b", "b"]
    assert (lm.n_input, lm.n_event_before, lm.n_censored_before) == (5, 1, 1)
    with pytest.raises(StatsInputError):
        landmark_dataset(df, "t", "e", 0)


def test_firth_equals_half_added_to_each_cell_under_separation() -> None:
    # exposed: 5 events / 0 non-events; unexposed: 2 / 6 — ordinary ML diverges.
    # For the saturated 2×2 model Firth's estimate is the log odds ratio with ½ added per cell.
    df = pd.DataFrame({"x": [1] * 5 + [0] * 8, "y": [1] * 5 + [1] * 2 + [0] * 6})
    fit = firth_logistic(df, "y", ["x"]).to_frame()
    expected = math.log((5.5 / 0.5) / (2.5 / 6.5))
    assert fit.loc["x", "coef"] == pytest.approx(expected, rel=1e-8)
    assert fit.loc["(Intercept)", "coef"] == pytest.approx(math.log(2.5 / 6.5), rel=1e-8)


def test_cumulative_incidence_matches_cmprsk() -> None:
    m = pd.read_csv(FIXTURES / "colon_competing.csv")
    cif = cumulative_incidence(m, "ftime", "fstatus")["all"]
    for cause in (1, 2):
        at = cif[cause].at(R["cif_times"])
        assert at.estimate.tolist() == pytest.approx(R[f"cif{cause}_est"], rel=1e-10)
        # Greenwood-type delta-method variance (etm); cmprsk uses Gray's estimator: < 0.5 %
        assert at.variance.tolist() == pytest.approx(R[f"cif{cause}_var"], rel=5e-3)
    by_rx = cumulative_incidence(m, "ftime", "fstatus", "rx")
    assert set(by_rx) == {"Lev", "Lev+5FU", "Obs"}
    with pytest.raises(StatsInputError, match="status must be 0"):
        cumulative_incidence(m.assign(fstatus=-1), "ftime", "fstatus")


def test_fine_gray_matches_cmprsk_crr() -> None:
    from crlm.stats.competing import fine_gray

    ref = json.loads((FIXTURES / "r_fine_gray_colon.json").read_text())
    m = pd.read_csv(FIXTURES / "colon_competing.csv")
    fit = fine_gray(m, "ftime", "fstatus", ["rx"], reference={"rx": "Obs"})
    assert fit.names == ["rx[Lev]", "rx[Lev+5FU]"]
    # crr stops iterating earlier than crlm: coefficients agree to its tolerance
    assert fit.coef.tolist() == pytest.approx(ref["coef"], rel=1e-5)
    assert fit.loglik == pytest.approx(ref["loglik"], rel=1e-12)
    # model-based SE vs crr's sandwich SE: close, not identical (documented)
    assert fit.se.tolist() == pytest.approx(ref["se"], rel=0.01)
    frame = fit.to_frame()
    assert frame.loc["rx[Lev+5FU]", "shr"] == pytest.approx(np.exp(ref["coef"][1]), rel=1e-5)


def test_gray_test_matches_cmprsk_cuminc() -> None:
    from crlm.stats.competing import gray_test

    ref = json.loads((FIXTURES / "r_fine_gray_colon.json").read_text())
    m = pd.read_csv(FIXTURES / "colon_competing.csv")
    for cause in (1, 2):
        r = gray_test(m, "ftime", "fstatus", "rx", cause=cause)
        assert r.statistic == pytest.approx(ref["gray_stat"][cause - 1], rel=1e-10)
        assert r.p == pytest.approx(ref["gray_p"][cause - 1], rel=1e-8)
        assert r.df == ref["gray_df"][cause - 1] == 2
    with pytest.raises(StatsInputError, match="two groups"):
        gray_test(m.assign(rx="one"), "ftime", "fstatus", "rx")


def test_gray_test_on_small_tied_cohorts_agrees_with_cmprsk_also_when_not_computable() -> None:
    """300 small cohorts (tests/fixtures/r/gray_small_cohorts.R): where R's cuminc finds the
    variance rank-deficient (stat −1) crlm gives no statistic; elsewhere the same χ²."""
    from crlm.stats.competing import gray_test

    data = pd.read_csv(FIXTURES / "gray_small_cohorts.csv")
    ref = json.loads((FIXTURES / "r_gray_small_cohorts.json").read_text())["tests"]
    cohorts = dict(tuple(data.groupby("cohort")))
    singular = 0
    for case in ref:
        got = gray_test(cohorts[case["cohort"]], "time", "status", "group", cause=case["cause"],
                        rho=case["rho"])
        assert got.df == case["df"]
        if case["stat"] == -1:
            singular += 1
            assert not got.computable and math.isnan(got.p), case
        else:
            assert got.computable, case
            assert got.statistic == pytest.approx(case["stat"], rel=1e-9, abs=1e-12), case
    assert singular >= 20  # the fixture does hold rank-deficient cases


def test_firth_cox_maximises_the_penalised_likelihood_under_monotone_likelihood() -> None:
    from crlm.stats.firth import _cox_terms, firth_cox

    rng = np.random.default_rng(5)
    n = 40
    group = np.repeat([0, 1], n // 2)
    t = rng.exponential(10, n).round(1) + 0.1
    e = np.where(group == 1, 0, rng.uniform(size=n) < 0.7).astype(int)  # no event in group 1
    age = rng.normal(60, 10, n).round()
    df = pd.DataFrame({"t": t, "e": e, "group": group, "age": age})
    fit = firth_cox(df, "t", "e", ["group", "age"])
    assert np.all(np.isfinite(fit.coef)) and fit.coef[0] < -1  # finite, strongly protective
    x = df[["group", "age"]].to_numpy(float)

    def penalised(beta: np.ndarray) -> float:
        ll, _s, info, _d = _cox_terms(x, t, e, beta)
        return ll + 0.5 * np.linalg.slogdet(info)[1]

    assert penalised(fit.coef) == pytest.approx(fit.penalized_loglik, rel=1e-12)
    for i in range(2):  # a maximum: the gradient vanishes and every nearby point is lower
        h = np.zeros(2)
        h[i] = 1e-5
        grad = (penalised(fit.coef + h) - penalised(fit.coef - h)) / 2e-5
        assert abs(grad) < 1e-5
        assert penalised(fit.coef + 100 * h) < fit.penalized_loglik
        assert penalised(fit.coef - 100 * h) < fit.penalized_loglik
