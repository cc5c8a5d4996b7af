"""Kaplan–Meier, log-rank and RMST against R survival 3.5 on the colon data.

Fixtures are produced by ``tests/fixtures/r/km_logrank_rmst.R`` (R is not needed at test time).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crlm.stats import StatsInputError
from crlm.stats.survival import kaplan_meier, logrank_test, rmst

FIXTURES = Path(__file__).resolve().parent / "fixtures"
REL = 1e-9  # these are closed-form: R agrees to rounding
SMALL = {
    "small_log": pd.DataFrame({"time": [1, 2, 3, 4, 5, 6], "status": [1, 1, 1, 0, 1, 1]}),
    "small_half": pd.DataFrame({"time": [1, 2, 3, 4], "status": [1, 1, 0, 0]}),
}
KM_CASES = {
    "rx_log": ("rx", "log"),
    "rx_loglog": ("rx", "log-log"),
    "rx_plain": ("rx", "plain"),
    "all_log": (None, "log"),
    "sex_loglog": ("sex", "log-log"),
    "small_log": (None, "log"),
    "small_half": (None, "log"),
}
CURVE_COLUMNS = ["time", "n_risk", "n_event", "n_censor", "surv", "std_err", "lower", "upper"]


@pytest.fixture(scope="module")
def colon2(reference_dir: Path) -> pd.DataFrame:
    colon = pd.read_csv(reference_dir / "colon.csv")
    return colon[colon.etype == 2]


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def assert_same(ours: object, ref: list, what: str) -> None:
    """Equal to R up to REL; R's NA/Inf (JSON null) must be non-finite here too."""
    a = np.asarray(ours, dtype=float)
    b = np.array([np.nan if v is None else v for v in ref], dtype=float)
    a = np.where(np.isfinite(a), a, np.nan)
    assert a.shape == b.shape, what
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b), err_msg=what)
    np.testing.assert_allclose(a[~np.isnan(a)], b[~np.isnan(b)], rtol=REL, err_msg=what)


@pytest.mark.parametrize("key", list(KM_CASES))
def test_kaplan_meier_matches_r(colon2: pd.DataFrame, key: str) -> None:
    ref = load("r_km_colon.json")
    group, conf_type = KM_CASES[key]
    data = SMALL.get(key, colon2)
    km = kaplan_meier(data, "time", "status", group, conf_type=conf_type)
    assert list(km.groups) == list(ref[key]["groups"])
    for level, curve in km.groups.items():
        r = ref[key]["groups"][level]
        assert (curve.n, curve.events) == (r["n"], r["events"])
        frame = curve.to_frame()
        for col in CURVE_COLUMNS:
            assert_same(frame[col], r["curve"][col], f"{key}/{level}/curve.{col}")
        at = curve.at(ref["times"])
        at = at[np.isin(at["time"], r["at"]["time"])]  # R drops times after the last one
        for col in CURVE_COLUMNS:
            assert_same(at[col], r["at"][col], f"{key}/{level}/at.{col}")
        med, lo, hi = curve.median()
        q25, q25_lo, q25_hi = curve.quantile(0.25)
        q75, q75_lo, q75_hi = curve.quantile(0.75)
        ours = {"median": med, "median_lower95": lo, "median_upper95": hi,
                "quantile_25": q25, "quantile_25_lower": q25_lo, "quantile_25_upper": q25_hi,
                "quantile_75": q75, "quantile_75_lower": q75_lo, "quantile_75_upper": q75_hi,
                "quantile_50": curve.quantile(0.5)[0]}
        assert ours == {k: r[k] for k in ours}, f"{key}/{level}"


def test_median_rules_differ_like_r() -> None:
    """print.survfit's median and quantile(0.5) differ when S stays at 0.5 to the end."""
    curve = kaplan_meier(SMALL["small_half"], "time", "status").groups["all"]
    assert curve.median()[0] == 2
    assert curve.quantile(0.5)[0] == 3


def test_km_json_shape(colon2: pd.DataFrame) -> None:
    out = kaplan_meier(colon2, "time", "status", "rx").to_dict([365, 730, 5000])
    obs = out["groups"]["Obs"]
    assert obs["n"] == 315 and obs["events"] == 168
    assert (obs["median"], obs["median_lower95"], obs["median_upper95"]) == (2083, 1656, 2789)
    assert (obs["q25"], obs["q75"]) == (760, None)
    at365 = obs["survival_at"]["365"]
    assert at365["n_risk"] == 292
    assert at365["survival"] == pytest.approx(0.9238095238095237, rel=1e-12)
    assert obs["survival_at"]["5000"]["survival"] is None
    assert obs["survival_at"]["5000"]["n_risk"] == 0


@pytest.mark.parametrize(
    ("key", "kwargs"),
    [
        ("rx", {"group": "rx", "trend": True}),
        ("sex", {"group": "sex"}),
        ("differ", {"group": "differ", "trend": True}),
        ("rx_strata_sex", {"group": "rx", "strata": "sex"}),
    ],
)
def test_logrank_matches_r(colon2: pd.DataFrame, key: str, kwargs: dict) -> None:
    ref = load("r_logrank_colon.json")[key]
    res = logrank_test(colon2, "time", "status", **kwargs)
    assert res.groups == ref["groups"]
    assert res.df == ref["df"]
    assert res.n.tolist() == ref["n"]
    assert res.observed.tolist() == ref["observed"]
    np.testing.assert_allclose(res.expected, ref["expected"], rtol=REL)
    np.testing.assert_allclose(res.var, np.array(ref["var"]), rtol=1e-9, atol=1e-9)
    assert res.chisq == pytest.approx(ref["chisq"], rel=REL)
    assert res.p == pytest.approx(ref["p"], rel=1e-9)
    if "trend_chisq" in ref:
        assert res.trend_chisq == pytest.approx(ref["trend_chisq"], rel=REL)
        assert res.trend_p == pytest.approx(ref["trend_p"], rel=1e-9)


RMST_CASES = {"rx_1000": ("rx", 1000), "rx_2000": ("rx", 2000), "rx_3000": ("rx", 3000),
              "all_1826": (None, 1826), "sex_5000": ("sex", 5000)}


@pytest.mark.parametrize("key", list(RMST_CASES))
def test_rmst_matches_r(colon2: pd.DataFrame, key: str) -> None:
    ref = load("r_rmst_colon.json")[key]
    group, horizon = RMST_CASES[key]
    res = rmst(colon2, "time", "status", horizon, group)
    assert list(res.groups) == list(ref)
    for level, (mean, se) in res.groups.items():
        assert mean == pytest.approx(ref[level]["rmean"], rel=1e-6)
        assert se == pytest.approx(ref[level]["se_rmean"], rel=1e-6)


def test_rmst_shared_reference(colon2: pd.DataFrame, reference_dir: Path) -> None:
    ref = json.loads((reference_dir / "ref_colon_rmst2000.json").read_text())
    res = rmst(colon2, "time", "status", 2000, "rx")
    for level, (mean, se) in res.groups.items():
        assert mean == pytest.approx(ref[f"rx={level}"]["rmean"], rel=1e-6)
        assert se == pytest.approx(ref[f"rx={level}"]["se_rmean"], rel=1e-6)
    diff = res.differences().set_index("contrast")
    row = diff.loc["Obs - Lev+5FU"]
    r_obs, r_5fu = ref["rx=Obs"], ref["rx=Lev+5FU"]
    assert row["difference"] == pytest.approx(r_obs["rmean"] - r_5fu["rmean"], rel=1e-9)
    assert row["se"] == pytest.approx(np.hypot(r_obs["se_rmean"], r_5fu["se_rmean"]), rel=1e-9)


def test_bad_survival_input(colon2: pd.DataFrame) -> None:
    with pytest.raises(StatsInputError) as err:
        kaplan_meier(colon2, "time", "status", "nope")
    assert err.value.column == "nope"
    with pytest.raises(StatsInputError) as err:
        logrank_test(colon2.assign(status=colon2.status + 1), "time", "status", "rx")
    assert err.value.column == "status"
    with pytest.raises(StatsInputError) as err:
        logrank_test(colon2, "time", "status", "study")
    assert err.value.column == "study"
    with pytest.raises(StatsInputError, match="horizon"):
        rmst(colon2, "time", "status", -1)
