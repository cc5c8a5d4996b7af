"""Fleming–Harrington log-rank (survdiff rho) and KM logit/arcsin CIs at any level, against R.

Fixtures: ``tests/fixtures/r/section10.R`` → ``r_survival_extra.json`` (colon, etype 2).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crlm.stats import StatsInputError
from crlm.stats.survival import kaplan_meier, logrank_test

FIXTURES = Path(__file__).resolve().parent / "fixtures"
TOL = 1e-9  # closed form: agreement to rounding


@pytest.fixture(scope="module")
def ref() -> dict:
    return json.loads((FIXTURES / "r_survival_extra.json").read_text())


@pytest.fixture(scope="module")
def colon2(reference_dir: Path) -> pd.DataFrame:
    colon = pd.read_csv(reference_dir / "colon.csv")
    return colon[colon.etype == 2]


def nan_array(values: list) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


@pytest.mark.parametrize(("key", "group", "strata"), [
    ("fh_rx_1", "rx", None), ("fh_rx_05", "rx", None), ("fh_sex_1", "sex", None),
    ("fh_rx_strata_sex_1", "rx", "sex")])
def test_fleming_harrington_matches_survdiff_rho(ref: dict, colon2: pd.DataFrame, key: str,
                                                 group: str, strata: str | None) -> None:
    r = ref[key]
    res = logrank_test(colon2, "time", "status", group, strata=strata, rho=r["rho"])
    assert res.chisq == pytest.approx(r["chisq"], abs=TOL)
    assert res.p == pytest.approx(r["p"], abs=TOL)
    np.testing.assert_allclose(res.observed, r["observed"], rtol=0, atol=TOL)
    np.testing.assert_allclose(res.expected, r["expected"], rtol=0, atol=TOL)
    assert res.to_dict()["rho"] == r["rho"]
    assert "Fleming–Harrington" in res.weights
    plain = logrank_test(colon2, "time", "status", group, strata=strata)
    assert plain.chisq != pytest.approx(res.chisq, rel=1e-3)  # the weights change the test


@pytest.mark.parametrize("key", ["km_logit_95", "km_arcsin_95", "km_log_90", "km_loglog_99",
                                 "km_logit_80"])
def test_km_conf_types_and_levels_match_r(ref: dict, colon2: pd.DataFrame, key: str) -> None:
    r = ref[key]
    km = kaplan_meier(colon2, "time", "status", "rx", conf_type=r["conf_type"],
                      conf_level=r["conf_level"])
    table = km.risk_table(r["times"])
    table = table[table.n_risk > 0]  # R's summary(times=) drops times past follow-up
    assert list(table.group) == r["group"]
    for col in ("surv", "lower", "upper"):
        np.testing.assert_allclose(table[col].to_numpy(), nan_array(r[col]), rtol=0, atol=TOL,
                                   err_msg=col)
    summary = km.summary()
    for ours, theirs in (("median", "median"), ("median_lower95", "median_lower"),
                         ("median_upper95", "median_upper")):
        np.testing.assert_allclose(summary[ours].to_numpy(dtype=float), nan_array(r[theirs]),
                                   rtol=0, atol=TOL, err_msg=ours)
    out = km.to_dict([365])
    level = f"{100 * r['conf_level']:g}"
    assert out["conf_level"] == r["conf_level"]
    assert f"lower{level}" in out["groups"]["Obs"]["survival_at"]["365"]


def test_km_conf_level_and_rho_errors(colon2: pd.DataFrame) -> None:
    with pytest.raises(StatsInputError, match="conf_level"):
        kaplan_meier(colon2, "time", "status", conf_level=95)
    with pytest.raises(StatsInputError, match="rho"):
        logrank_test(colon2, "time", "status", "rx", rho=float("nan"))
