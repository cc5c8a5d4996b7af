"""Cox PH against R survival 3.5 (coxph) on the colon data."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crlm.stats import StatsInputError, cox_ph
from crlm.stats.cox import concordance

COVARIATES = ["rx", "sex", "age", "obstruct", "perfor", "adhere", "nodes", "differ", "extent",
              "surg"]
REL = 1e-6
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def r_name(name: str) -> str:
    """crlm ``rx[Lev]`` → R ``rxLev``."""
    return name.replace("[", "").replace("]", "")


@pytest.fixture(scope="module")
def colon(reference_dir: Path) -> pd.DataFrame:
    return pd.read_csv(reference_dir / "colon.csv")


@pytest.fixture(scope="module")
def ref_cox(reference_dir: Path) -> dict:
    return json.loads((reference_dir / "ref_colon_cox.json").read_text())


@pytest.mark.parametrize(
    ("key", "ties", "strata"),
    [
        ("efron", "efron", None),
        ("breslow", "breslow", None),
        ("strata_sex_efron", "efron", "sex"),
        ("strata_sex_breslow", "breslow", "sex"),
    ],
)
def test_cox_matches_r(colon: pd.DataFrame, ref_cox: dict, key: str, ties: str,
                       strata: str | None) -> None:
    ref = ref_cox[key]
    covs = [c for c in COVARIATES if c != strata]
    fit = cox_ph(colon[colon.etype == 2], "time", "status", covs, ties=ties, strata=strata,
                 reference={"rx": "Obs"})
    assert fit.n == ref["n"]
    assert fit.events == ref["nevent"]
    assert [r_name(n) for n in fit.names] == list(ref["coef"])
    np.testing.assert_allclose(fit.coef, list(ref["coef"].values()), rtol=REL)
    np.testing.assert_allclose(fit.se, list(ref["se"].values()), rtol=REL)
    assert fit.loglik == pytest.approx(ref["loglik"], rel=REL)
    assert fit.loglik_null == pytest.approx(ref["loglik_null"], rel=REL)
    assert fit.concordance == pytest.approx(ref["concordance"], rel=REL)
    assert fit.concordance_se == pytest.approx(ref["concordance_se"], rel=REL)
    assert fit.lr_test[0] == pytest.approx(ref["lr_test"]["test"], rel=REL)
    assert fit.wald_test[0] == pytest.approx(ref["wald_test"]["test"], rel=REL)
    assert fit.score_logrank_test[0] == pytest.approx(ref["score_test"]["test"], rel=REL)
    assert fit.lr_test[2] == pytest.approx(ref["lr_test"]["pvalue"], rel=1e-5)
    # complete-case report: R's na.omit dropped 41 rows (nodes 18, differ 23 missing)
    assert fit.dropped.n_dropped == 929 - ref["n"]
    assert fit.dropped.missing_by_column["nodes"] == 18
    assert fit.dropped.missing_by_column["differ"] == 23


def test_default_reference_is_first_sorted_level(colon: pd.DataFrame) -> None:
    fit = cox_ph(colon[colon.etype == 2], "time", "status", ["rx", "age"])
    assert fit.names == ["rx[Lev+5FU]", "rx[Obs]", "age"]
    assert fit.references == {"rx": "Lev"}


def test_to_frame_columns(colon: pd.DataFrame) -> None:
    fit = cox_ph(colon[colon.etype == 2], "time", "status", ["rx", "nodes"],
                 reference={"rx": "Obs"})
    frame = fit.to_frame()
    assert list(frame.columns) == ["coef", "se", "hr", "lower95", "upper95", "z", "p"]
    row = frame.loc["rx[Lev+5FU]"]
    assert row["hr"] == pytest.approx(np.exp(row["coef"]))
    assert row["lower95"] == pytest.approx(np.exp(row["coef"] - 1.959963984540054 * row["se"]))


@pytest.mark.parametrize(
    ("kwargs", "column"),
    [
        ({"covariates": ["nope"]}, "nope"),
        ({"covariates": ["study"]}, "study"),  # constant covariate
        ({"covariates": ["age"], "reference": {"rx": "Obs"}}, "rx"),
        ({"covariates": ["rx"], "reference": {"rx": "Placebo"}}, "rx"),
    ],
)
def test_bad_input_names_column(colon: pd.DataFrame, kwargs: dict, column: str) -> None:
    with pytest.raises(StatsInputError) as err:
        cox_ph(colon, "time", "status", **kwargs)
    assert err.value.column == column


def test_bad_outcome(colon: pd.DataFrame) -> None:
    bad = colon.assign(status=colon.status * 2)
    with pytest.raises(StatsInputError, match="event must be 0"):
        cox_ph(bad, "time", "status", ["age"])
    neg = colon.assign(time=-colon.time)
    with pytest.raises(StatsInputError, match="negative"):
        cox_ph(neg, "time", "status", ["age"])
    text = colon.assign(time=colon.time.astype(str))
    with pytest.raises(StatsInputError) as err:
        cox_ph(text, "time", "status", ["age"])
    assert err.value.column == "time"


ROBUST_CASES = {
    "robust_efron": ({"etype": 2}, {"ties": "efron", "robust": True}),
    "robust_breslow": ({"etype": 2}, {"ties": "breslow", "robust": True}),
    "cluster_id_efron": ({}, {"ties": "efron", "cluster": "id"}),
    "cluster_id_breslow": ({}, {"ties": "breslow", "cluster": "id"}),
    "cluster_id_strata_etype_efron": ({}, {"ties": "efron", "cluster": "id", "strata": "etype"}),
}


@pytest.fixture(scope="module")
def ref_robust() -> dict:
    return json.loads((FIXTURES / "r_cox_robust_colon.json").read_text())


@pytest.mark.parametrize("key", list(ROBUST_CASES))
def test_robust_se_matches_r_with_ties(colon: pd.DataFrame, ref_robust: dict, key: str) -> None:
    subset, kwargs = ROBUST_CASES[key]
    data = colon[colon.etype == subset["etype"]] if subset else colon
    fit = cox_ph(data, "time", "status", COVARIATES, reference={"rx": "Obs"}, **kwargs)
    ref = ref_robust[key]
    assert fit.robust
    assert (fit.n, fit.events) == (ref["n"], ref["nevent"])
    np.testing.assert_allclose(fit.coef, list(ref["coef"].values()), rtol=REL)
    np.testing.assert_allclose(fit.se, list(ref["se"].values()), rtol=REL)
    np.testing.assert_allclose(fit.naive_se, list(ref["naive_se"].values()), rtol=REL)
    assert fit.loglik == pytest.approx(ref["loglik"], rel=REL)
    assert fit.wald_test[0] == pytest.approx(ref["wald_test"], rel=REL)
    assert fit.robust_score_test == pytest.approx(ref["robust_score_test"], rel=REL)
    assert fit.concordance == pytest.approx(ref["concordance"], rel=REL)
    assert fit.concordance_se == pytest.approx(ref["concordance_se"], rel=REL)


ZPH_CASES = {
    "efron": {"covariates": COVARIATES},
    "breslow": {"covariates": COVARIATES, "ties": "breslow"},
    "strata_sex_efron": {"covariates": [c for c in COVARIATES if c != "sex"], "strata": "sex"},
    "nodes_extent": {"covariates": ["nodes", "extent"]},
}


@pytest.mark.parametrize("key", list(ZPH_CASES))
def test_cox_zph_matches_r(colon: pd.DataFrame, key: str) -> None:
    ref = json.loads((FIXTURES / "r_cox_zph_colon.json").read_text())[key]
    data = colon[colon.etype == 2].dropna(subset=["nodes", "differ"])  # R script's na.omit
    kwargs = ZPH_CASES[key]
    fit = cox_ph(data, "time", "status", reference={"rx": "Obs"} if "rx" in kwargs["covariates"]
                 else None, **kwargs)
    zph = fit.ph_test(warn=False)
    assert list(zph.table.index) == list(ref)
    for term, row in ref.items():
        assert zph.table.loc[term, "df"] == row["df"]
        assert zph.table.loc[term, "chisq"] == pytest.approx(row["chisq"], rel=REL)
        assert zph.table.loc[term, "p"] == pytest.approx(row["p"], rel=1e-5)


def test_ph_violation_warns(colon: pd.DataFrame) -> None:
    with pytest.warns(UserWarning, match="obstruct, differ"):
        fit = cox_ph(colon[colon.etype == 2], "time", "status", COVARIATES,
                     reference={"rx": "Obs"}, ph_test=True)
    assert fit.zph is not None
    assert fit.zph.violated == ["obstruct", "differ"]
    assert fit.to_dict()["ph_violated"] == ["obstruct", "differ"]


def _toy(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"time": rng.exponential(1, n).round(2) + 0.01,
                         "event": rng.integers(0, 2, n), "age": rng.normal(60, 10, n)})


def test_monotone_likelihood_names_column() -> None:
    toy = _toy()
    toy["separates"] = toy["event"]  # every event has separates == 1
    with pytest.raises(StatsInputError, match="infinity") as err:
        cox_ph(toy, "time", "event", ["age", "separates"])
    assert err.value.column == "separates"


def test_collinear_covariate_names_column() -> None:
    toy = _toy().assign(age_months=lambda d: d.age * 12 + 3)
    with pytest.raises(StatsInputError, match="collinear") as err:
        cox_ph(toy, "time", "event", ["age", "age_months"])
    assert err.value.column == "age_months"


def test_numeric_factor_with_reference_matches_r(colon: pd.DataFrame) -> None:
    """``differ`` as R ``relevel(factor(differ), "2")`` — reference implies categorical."""
    ref = json.loads((FIXTURES / "r_cox_factor_colon.json").read_text())
    data = colon[colon.etype == 2]
    fit = cox_ph(data, "time", "status", ["differ", "age"], reference={"differ": 2})
    assert fit.names == ["differ[1]", "differ[3]", "age"]
    np.testing.assert_allclose(fit.coef, list(ref["coef"].values()), rtol=REL)
    np.testing.assert_allclose(fit.se, ref["se"], rtol=REL)
    same = cox_ph(data, "time", "status", ["differ", "age"], categorical=["differ"],
                  reference={"differ": "2"})
    np.testing.assert_allclose(same.coef, fit.coef)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(5, 80), seed=st.integers(0, 2**32 - 1), n_strata=st.integers(1, 3),
       clustered=st.booleans())
def test_fit_concordance_equals_standalone_concordance(n: int, seed: int, n_strata: int,
                                                       clustered: bool) -> None:
    """The fit's C (from its own time order) is the standalone ``concordance``: C exactly, its
    SE to rounding (the fit sums the rows' influence in time order, not in input order)."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"time": rng.integers(1, 8, n).astype(float),  # heavy time ties
                       "event": rng.integers(0, 2, n), "a": rng.integers(0, 3, n) * 1.0,
                       "b": rng.normal(size=n), "s": rng.integers(0, n_strata, n),
                       "c": rng.integers(0, max(2, n // 4), n)})
    df.loc[0, "event"] = 1
    df.loc[1, "a"] = 7.0  # a never constant
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tiny random data: non-convergence, ill-conditioning
        try:
            fit = cox_ph(df, "time", "event", ["a", "b"],
                         strata="s" if n_strata > 1 else None,
                         cluster="c" if clustered else None)
        except StatsInputError:
            return  # e.g. no event in a stratum's rows
    expected = concordance(fit._time, fit._event, fit._linear_predictor,
                           strata=fit._strata_codes, reverse=True, cluster=fit._cluster_codes)
    got = fit._harrell()
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_allclose(got[1], expected[1], rtol=1e-12)
