"""Property tests: the Cox fit and KM do not depend on row order, time unit or covariate origin.

Plus a cross-check of the Efron fit against lifelines (same method, independent code).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crlm.stats import cox_ph, kaplan_meier

SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def survival_frames(draw: st.DrawFn) -> pd.DataFrame:
    """Small data sets with tied times (integer days), two covariates and a 3-level factor."""
    seed = draw(st.integers(0, 2**32 - 1))
    n = draw(st.integers(40, 90))
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = rng.binomial(1, 0.4, size=n).astype(float)
    grp = rng.choice(["a", "b", "c"], size=n)
    lp = 0.5 * x1 - 0.4 * x2 + np.where(grp == "b", 0.3, 0.0)
    t = np.ceil(rng.exponential(30 * np.exp(-lp)))
    c = np.ceil(rng.uniform(5, 60, size=n))
    frame = pd.DataFrame({"time": np.minimum(t, c), "event": (t <= c).astype(int),
                          "x1": x1, "x2": x2, "grp": grp})
    if frame["event"].sum() < 8 or frame["x2"].nunique() < 2 or frame["grp"].nunique() < 3:
        frame.loc[: 9, "event"] = 1
        frame.loc[:2, "grp"] = ["a", "b", "c"]
        frame.loc[:1, "x2"] = [0.0, 1.0]
    return frame


COVS = ["x1", "x2", "grp"]


def fit(frame: pd.DataFrame, **kwargs: object) -> pd.DataFrame:
    return cox_ph(frame, "time", "event", COVS, **kwargs).to_frame()


@SETTINGS
@given(frame=survival_frames(), seed=st.integers(0, 1000), ties=st.sampled_from(["efron",
                                                                               "breslow"]))
def test_row_order_invariance(frame: pd.DataFrame, seed: int, ties: str) -> None:
    base = cox_ph(frame, "time", "event", COVS, ties=ties, robust=True)
    shuffled = frame.sample(frac=1.0, random_state=seed)
    other = cox_ph(shuffled, "time", "event", COVS, ties=ties, robust=True)
    np.testing.assert_allclose(other.coef, base.coef, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(other.se, base.se, rtol=1e-8, atol=1e-10)
    assert other.loglik == pytest.approx(base.loglik, rel=1e-10)
    assert other.concordance == pytest.approx(base.concordance, rel=1e-12)
    km_a = kaplan_meier(frame, "time", "event", "grp").summary()
    km_b = kaplan_meier(shuffled, "time", "event", "grp").summary()
    pd.testing.assert_frame_equal(km_a, km_b)


@SETTINGS
@given(frame=survival_frames(), scale=st.sampled_from([1 / 7, 1 / 30.4375, 24.0, 365.25]))
def test_time_scaling_invariance(frame: pd.DataFrame, scale: float) -> None:
    base = fit(frame)
    scaled = fit(frame.assign(time=frame["time"] * scale))
    np.testing.assert_allclose(scaled["hr"], base["hr"], rtol=1e-8)
    np.testing.assert_allclose(scaled["se"], base["se"], rtol=1e-8)


@SETTINGS
@given(frame=survival_frames(), shift=st.floats(-100, 100), factor=st.floats(0.1, 10))
def test_covariate_shift_and_scale(frame: pd.DataFrame, shift: float, factor: float) -> None:
    base = fit(frame)
    moved = fit(frame.assign(x1=frame["x1"] + shift, x2=frame["x2"] * factor))
    unscaled = ["x1", "grp[b]", "grp[c]"]  # shift of x1 leaves every HR but x2's unchanged
    np.testing.assert_allclose(moved.loc[unscaled, "hr"], base.loc[unscaled, "hr"], rtol=1e-7)
    assert moved.loc["x2", "coef"] == pytest.approx(base.loc["x2", "coef"] / factor, rel=1e-7)
    assert moved.loc["x2", "z"] == pytest.approx(base.loc["x2", "z"], rel=1e-7)


def test_efron_agrees_with_lifelines(reference_dir: Path) -> None:
    """Cross-check with lifelines' Efron Cox fit (independent implementation)."""
    from lifelines import CoxPHFitter

    colon = pd.read_csv(reference_dir / "colon.csv")
    data = colon[colon.etype == 2].dropna(subset=["nodes", "differ"])
    cols = ["age", "nodes", "differ", "extent", "obstruct"]
    ours = cox_ph(data, "time", "status", cols)
    cph = CoxPHFitter().fit(data[["time", "status", *cols]], "time", "status")
    np.testing.assert_allclose(ours.coef, cph.params_[cols].to_numpy(), rtol=1e-5)
    np.testing.assert_allclose(ours.se, cph.standard_errors_[cols].to_numpy(), rtol=1e-5)
    assert ours.loglik == pytest.approx(cph.log_likelihood_, rel=1e-8)


def brute_concordance(time: np.ndarray, event: np.ndarray, risk: np.ndarray
                      ) -> tuple[float, float]:
    """O(n²) Harrell's C (higher risk = shorter time) with R's IJ variance, for checking."""
    n = time.size
    infl = np.zeros((n, 3))
    for i in range(n):
        if not event[i]:
            continue
        for j in range(n):
            comparable = time[j] > time[i] or (time[j] == time[i] and not event[j])
            if j == i or not comparable:
                continue
            k = 0 if risk[i] > risk[j] else 1 if risk[i] < risk[j] else 2
            infl[i, k] += 1
            infl[j, k] += 1
    c, d, t = infl.sum(axis=0) / 2
    npair = c + d + t
    if npair == 0:
        return float("nan"), float("nan")
    somer = (c - d) / npair
    dfbeta = (infl[:, 0] - infl[:, 1]) / npair - somer / npair * infl.sum(axis=1)
    return (somer + 1) / 2, float(np.sqrt((dfbeta**2).sum() / 4))


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 70), tied_scores=st.booleans())
def test_concordance_matches_brute_force(seed: int, n: int, tied_scores: bool) -> None:
    from crlm.stats import concordance

    rng = np.random.default_rng(seed)
    time = rng.integers(1, 12, n).astype(float)
    event = rng.integers(0, 2, n).astype(bool)
    risk = rng.integers(0, 4, n).astype(float) if tied_scores else rng.normal(size=n)
    expected = brute_concordance(time, event, risk)
    got = concordance(time, event, risk, reverse=True)
    if np.isnan(expected[0]):
        assert np.isnan(got[0])
    else:
        assert got == pytest.approx(expected, rel=1e-12, abs=1e-15)


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 60))
def test_time_order_sorts_times_with_events_first(seed: int, n: int) -> None:
    from crlm.stats._kernels import time_order

    rng = np.random.default_rng(seed)
    time = rng.integers(0, 6, n).astype(float)
    event = rng.integers(0, 2, n).astype(bool)
    order = time_order(time, event)
    assert sorted(order.tolist()) == list(range(n))
    keys = list(zip(time[order], ~event[order], strict=True))
    assert keys == sorted(keys)
