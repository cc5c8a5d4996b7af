"""Calibration against published survival, bootstrap AUC CIs, Table 1 SMD (R references)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.conftest import FIXTURES

from crlm.reports.style import Labels, PStyle
from crlm.stats._data import StatsInputError
from crlm.stats.table1 import standardized_mean_difference
from crlm.stats.validation import (
    calibration_against_published,
    time_dependent_auc,
    time_dependent_auc_ci,
    validate_scores,
)

R = json.loads((FIXTURES / "r_score_calibration_colon.json").read_text())
PUBLISHED = {float(v): s for v, s in enumerate((0.8, 0.75, 0.7, 0.6, 0.5, 0.4))}


@pytest.fixture(scope="module")
def deaths(reference_dir: Path) -> pd.DataFrame:
    df = pd.read_csv(reference_dir / "colon.csv")
    df = df[(df.etype == 2) & df.nodes.notna()].reset_index(drop=True)
    return df.assign(score=np.minimum(df.nodes, 5))


def test_calibration_matches_r(deaths: pd.DataFrame) -> None:
    cal = calibration_against_published(deaths, "time", "status", "score", PUBLISHED, R["tau"])
    assert cal.observed_risk == pytest.approx(R["observed"], rel=1e-12)
    assert cal.expected_risk == pytest.approx(R["expected"], rel=1e-12)
    assert cal.oe_ratio == pytest.approx(R["observed"] / R["expected"], rel=1e-12)
    log_se = R["observed_se"] / R["observed"]
    assert cal.oe_lower95 == pytest.approx(cal.oe_ratio * math.exp(-1.959963984540054 * log_se),
                                           rel=1e-9)
    assert cal.slope == pytest.approx(R["slope"], rel=1e-7)
    assert (cal.slope_upper95 - cal.slope) / 1.959963984540054 == pytest.approx(R["slope_se"],
                                                                                rel=1e-6)
    assert cal.alpha == pytest.approx(R["alpha"], abs=1e-8)
    # the recalibrated baseline reproduces the observed risk on average
    s = deaths.score.map(PUBLISHED).to_numpy(float)
    assert float((1 - s ** math.exp(cal.alpha)).mean()) == pytest.approx(cal.observed_risk)
    assert cal.table.value.tolist() == [0, 1, 2, 3, 4, 5]
    assert cal.table.n.sum() == cal.n == len(deaths)


def test_calibration_uses_only_values_with_a_published_figure(deaths: pd.DataFrame) -> None:
    partial = {0.0: 0.8, 5.0: 0.4}
    cal = calibration_against_published(deaths, "time", "status", "score", partial, R["tau"])
    assert cal.n == int(deaths.score.isin([0, 5]).sum())
    with pytest.raises(StatsInputError, match="published survival"):
        calibration_against_published(deaths, "time", "status", "score", {0.0: 0.8}, R["tau"])


def test_bootstrap_auc_ci_is_reproducible_and_brackets_the_estimate(deaths: pd.DataFrame
                                                                     ) -> None:
    a = time_dependent_auc_ci(deaths, "time", "status", "nodes", 1825, draws=40, seed=7)
    b = time_dependent_auc_ci(deaths, "time", "status", "nodes", 1825, draws=40, seed=7)
    assert a == b and a.lower95 < a.auc < a.upper95
    assert a.auc == time_dependent_auc(deaths, "time", "status", "nodes", 1825)
    none = time_dependent_auc_ci(deaths, "time", "status", "nodes", 1825, draws=0)
    assert math.isnan(none.lower95)


def test_scores_side_by_side(deaths: pd.DataFrame) -> None:
    res = validate_scores(deaths, "time", "status", ["score", "age"], [365, 1825], draws=0,
                          published={"score": (PUBLISHED, R["tau"])})
    frame = res.to_frame()
    assert frame.score.tolist() == ["score", "age"]
    assert res.calibration["age"] is None and res.calibration["score"] is not None
    assert set(res.versus_first) == {"age"}
    payload = res.to_dict()
    assert payload["age"]["difference_vs_first"]["difference"] == pytest.approx(
        res.concordance["age"].c - res.concordance["score"].c)


def test_smd_matches_the_formula_computed_in_r(deaths: pd.DataFrame) -> None:
    assert standardized_mean_difference(deaths.age, deaths.rx, False) == pytest.approx(
        R["age_smd"], rel=1e-10)
    assert standardized_mean_difference(deaths.sex, deaths.rx, True) == pytest.approx(
        R["sex_smd"], rel=1e-10)


@pytest.mark.parametrize(("style", "values"), [
    ("nejm", ["P<0.001", "P=0.003", "P=0.01", "P=0.04", "P=0.24"]),
    ("lancet", ["p=0·0004", "p=0·0028", "p=0·0099", "p=0·043", "p=0·24"]),
    ("apa", ["p < .001", "p = .003", "p = .010", "p = .043", "p = .239"]),
])
def test_p_styles(style: str, values: list[str]) -> None:
    got = [PStyle(style).text(p) for p in (0.0004, 0.0028, 0.0099, 0.043, 0.239)]  # type: ignore[arg-type]
    assert got == values


def test_labels() -> None:
    labels = Labels({"cea_gt_5": "CEA > 5 ng/mL"}, {"completed": {"true": "Completed"}})
    assert labels.term("cea_gt_5[True]") == "CEA > 5 ng/mL: Yes"
    assert labels.level("completed", True) == "Completed"
    assert labels.level("completed", False) == "No"
    assert labels.var("age_years") == "Age years"
