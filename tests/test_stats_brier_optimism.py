"""Brier / integrated Brier score, calibration slope and optimism-corrected C against R.

R: ``tests/fixtures/r/section10.R`` → ``r_validation_brier.json`` (riskRegression::Score with
``cens.model = "km"``, ``summary = "ibs"``; ``coxph(Surv ~ lp)``; Harrell's bootstrap with
R's own bootstrap indices). The Brier score is also checked against its formula written out
below, one patient at a time.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from crlm.cli import app
from crlm.stats import StatsInputError, cox_ph
from crlm.stats.validation import (
    brier_score,
    calibration_slope,
    cox_brier,
    integrated_brier,
    optimism_corrected_c,
)

R = json.loads((Path(__file__).resolve().parent / "fixtures" / "r_validation_brier.json")
               .read_text())
COVS = ["rx", "age", "nodes", "obstruct"]
REF = {"rx": "Obs"}


@pytest.fixture(scope="module")
def cd(reference_dir: Path) -> pd.DataFrame:
    colon = pd.read_csv(reference_dir / "colon.csv")
    cols = ["id", "time", "status", "rx", "sex", "age", "nodes", "obstruct"]
    return colon[colon.etype == 2].dropna(subset=cols).reset_index(drop=True)


def test_brier_and_ibs_match_riskregression(cd: pd.DataFrame) -> None:
    fit = cox_ph(cd, "time", "status", COVS, reference=REF)
    res = cox_brier(fit, cd, "time", "status", R["times"])
    np.testing.assert_allclose(res.brier, R["brier_cox"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(res.ibs, R["ibs_cox"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(res.brier_null, R["brier_null"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(res.ibs_null, R["ibs_null"], rtol=0, atol=1e-12)
    assert set(res.to_dict()["times"]) == {f"{t:g}" for t in R["times"]}


def _brier_by_definition(time: np.ndarray, event: np.ndarray, risk: np.ndarray, t: float
                         ) -> float:
    """Graf et al. (1999), one patient at a time. G(s) = Π over censoring times u ≤ s of
    (1 − censored(u) / at risk of censoring(u)), where the events at u come first (are not at
    risk of censoring at u); G(s−) uses u < s."""
    def g(s: float, strict: bool) -> float:
        value = 1.0
        for u in np.unique(time[event == 0]):
            if u < s or (u == s and not strict):
                at_risk = np.sum(time >= u) - np.sum((time == u) & (event == 1))
                value *= 1.0 - np.sum((time == u) & (event == 0)) / at_risk
        return value

    total = 0.0
    for ti, di, fi in zip(time, event, risk, strict=True):
        if ti <= t and di == 1:
            total += (1.0 - fi) ** 2 / g(ti, strict=True)
        elif ti > t:
            total += fi**2 / g(t, strict=False)
    return total / time.size


def test_brier_equals_the_written_out_formula() -> None:
    rng = np.random.default_rng(7)
    time = rng.integers(1, 30, 60).astype(float)  # many ties of events and censorings
    event = (rng.random(60) < 0.6).astype(float)
    risk = rng.random((60, 3))
    times = np.array([5.0, 12.0, 20.0])
    ours = brier_score(time, event, risk, times)
    for k, t in enumerate(times):
        assert ours[k] == pytest.approx(_brier_by_definition(time, event, risk[:, k], t),
                                        abs=1e-14)
    # IBS as riskRegression: ∫ step Brier over (0, t) / t on the grid (0, 5, 12, 20)
    ibs = integrated_brier(times, ours)
    assert ibs[2] == pytest.approx((0 * 5 + ours[0] * 7 + ours[1] * 8) / 20, abs=1e-15)


def test_calibration_slope_matches_r(cd: pd.DataFrame) -> None:
    even = cd.id % 2 == 0
    dev = cox_ph(cd[even], "time", "status", COVS, reference=REF)
    res = calibration_slope(dev, cd[~even], "time", "status")
    assert res.slope == pytest.approx(R["calibration_slope"], abs=1e-6)
    assert res.se == pytest.approx(R["calibration_slope_se"], abs=1e-6)
    apparent = calibration_slope(dev, cd[even], "time", "status")
    assert apparent.slope == pytest.approx(1.0, abs=1e-6)  # on its own data: exactly 1


def test_optimism_corrected_c_matches_r_with_its_bootstrap(cd: pd.DataFrame) -> None:
    indices = [np.asarray(ix) - 1 for ix in R["boot_index"]]  # R's are 1-based
    res = optimism_corrected_c(cd, "time", "status", COVS, reference=REF, indices=indices)
    assert res.apparent == pytest.approx(R["apparent_c"], abs=1e-9)
    np.testing.assert_allclose(res.optimism_each, R["optimism_each"], rtol=0, atol=1e-9)
    assert res.optimism == pytest.approx(R["optimism"], abs=1e-9)
    assert res.corrected == pytest.approx(R["corrected_c"], abs=1e-9)


def test_optimism_is_seeded_and_reproducible(cd: pd.DataFrame) -> None:
    small = cd.iloc[:300]
    a = optimism_corrected_c(small, "time", "status", COVS, reference=REF, n_boot=5, seed=11)
    b = optimism_corrected_c(small, "time", "status", COVS, reference=REF, n_boot=5, seed=11)
    c = optimism_corrected_c(small, "time", "status", COVS, reference=REF, n_boot=5, seed=12)
    assert a.corrected == b.corrected and a.seed == 11
    assert a.corrected != c.corrected
    assert a.to_dict()["bootstrap_samples"] == 5
    with pytest.raises(StatsInputError, match="optimism"):
        optimism_corrected_c(small.assign(w=2.0), "time", "status", COVS, weights="w")


def test_cli_cox_performance(cd: pd.DataFrame, tmp_path: Path) -> None:
    even = cd.id % 2 == 0
    dev, valid = tmp_path / "dev.csv", tmp_path / "valid.csv"
    cd[even].to_csv(dev, index=False)
    cd[~even].to_csv(valid, index=False)
    args = ["stats", "cox-performance", "--data", str(dev), "--time", "time", "--event",
            "status", "--covariates", ",".join(COVS), "--reference", "rx=Obs", "--at",
            "365,730", "--validation", str(valid), "--bootstrap", "3", "--seed", "5"]
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["calibration_slope"]["slope"] == pytest.approx(R["calibration_slope"], abs=1e-6)
    assert out["brier"]["times"]["365"]["brier"] > 0
    assert out["optimism"]["bootstrap_samples"] == 3 and out["optimism"]["seed"] == 5
    text = CliRunner().invoke(app, args)
    assert text.exit_code == 0 and "Brier" in text.stdout and "optimism" in text.stdout
