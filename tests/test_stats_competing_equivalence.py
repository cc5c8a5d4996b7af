"""The vectorised Gray's test and cumulative incidence equal the per-time loops they replaced
(tests/competing_reference.py, kept verbatim) to 1e-12, on random and on tied data."""

from __future__ import annotations

import contextlib
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests import competing_reference as old
from tests.conftest import FIXTURES

from crlm.stats.competing import (
    _cif,
    _gray_score_variance,
    cumulative_incidence,
    gray_test,
    qr_rank,
)

TOL = 1e-12


def _frame(rng: np.random.Generator, n: int, groups: int, distinct_times: int | None,
           causes: int = 2) -> pd.DataFrame:
    time = (rng.integers(1, distinct_times + 1, n).astype(float) if distinct_times
            else rng.exponential(10.0, n) + 1e-3)
    return pd.DataFrame({"time": time, "status": rng.integers(0, causes + 1, n),
                         "group": rng.choice([f"g{i}" for i in range(groups)], n)})


def _old_score_variance(df: pd.DataFrame, cause: int, rho: float
                        ) -> tuple[np.ndarray, np.ndarray] | None:
    """The score and variance the per-time loops build (what they hand to ``solve``)."""
    seen: list[tuple[np.ndarray, np.ndarray]] = []
    real = np.linalg.solve

    def spy(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        seen.append((np.array(b), np.array(a)))
        return real(a, b)

    with mock.patch.object(np.linalg, "solve", spy), contextlib.suppress(np.linalg.LinAlgError):
        old.gray_test(df, "time", "status", "group", cause=cause, rho=rho)
    return seen[0] if seen else None


def _same_gray(df: pd.DataFrame, cause: int = 1, rho: float = 0.0) -> None:
    try:
        want = old.gray_test(df, "time", "status", "group", cause=cause, rho=rho)
    except ValueError as exc:  # no two groups, or (LinAlgError) an exactly singular variance
        if not isinstance(exc, np.linalg.LinAlgError):
            with pytest.raises(type(exc)):
                gray_test(df, "time", "status", "group", cause=cause, rho=rho)
            return
        want = None
    got = gray_test(df, "time", "status", "group", cause=cause, rho=rho)
    built = _old_score_variance(df, cause, rho)
    assert built is not None
    score, var = built
    new_score, new_var = _new_score_variance(df, cause, rho)
    np.testing.assert_allclose(new_score, score, rtol=TOL, atol=TOL * np.abs(score).max(initial=1))
    np.testing.assert_allclose(new_var, var, rtol=TOL, atol=TOL * np.abs(var).max(initial=1))
    if not got.computable:  # rank-deficient by R's rule: the loops' matrix is too
        assert qr_rank(var) < var.shape[0]
        return
    assert want is not None
    assert (got.cause, got.df, got.groups) == (want.cause, want.df, want.groups)
    assert got.statistic == pytest.approx(want.statistic, rel=TOL, abs=TOL, nan_ok=True)
    assert got.p == pytest.approx(want.p, rel=TOL, abs=TOL, nan_ok=True)


def _new_score_variance(df: pd.DataFrame, cause: int, rho: float
                        ) -> tuple[np.ndarray, np.ndarray]:
    s = df["status"].to_numpy()
    kind = np.where(s == cause, 1, np.where(s > 0, 2, 0))
    labels = sorted(df["group"].astype(str).unique())
    g = np.searchsorted(labels, df["group"].astype(str).to_numpy())
    return _gray_score_variance(df["time"].to_numpy(float), kind, g, len(labels), rho)


def _same_cif(t: np.ndarray, s: np.ndarray) -> None:
    want, got = old._cif(t, s), _cif(t, s)
    assert list(got) == list(want)
    for cause, curve in want.items():
        np.testing.assert_array_equal(got[cause].time, curve.time)
        np.testing.assert_array_equal(got[cause].estimate, curve.estimate)
        # a variance that is 0 exactly comes out as ±1e-17 from either summation order
        scale = np.abs(curve.variance).max(initial=0.0)
        np.testing.assert_allclose(got[cause].variance, curve.variance, rtol=TOL,
                                   atol=max(TOL * scale, 1e-18))


@pytest.mark.parametrize("seed, n, groups, distinct, rho", [
    (1, 2000, 2, None, 0.0), (2, 3000, 3, 40, 0.0), (3, 1500, 4, 300, 1.0),
    (4, 800, 3, 5, -0.5), (5, 5000, 2, 1000, 0.0),
])
def test_gray_and_cif_equal_the_loops_on_random_cohorts(seed: int, n: int, groups: int,
                                                         distinct: int | None,
                                                         rho: float) -> None:
    df = _frame(np.random.default_rng(seed), n, groups, distinct)
    for cause in (1, 2):
        _same_gray(df, cause, rho)
    _same_cif(df.time.to_numpy(), df.status.to_numpy())


def test_gray_and_cif_equal_the_loops_on_mgus2() -> None:
    m = pd.read_csv(FIXTURES / "mgus2.csv")
    df = pd.DataFrame({"time": np.where(m.pstat == 0, m.futime, m.ptime),
                       "status": np.where(m.pstat == 0, 2 * m.death, 1), "group": m.sex})
    for cause in (1, 2):
        _same_gray(df, cause)
    _same_cif(df.time.to_numpy(float), df.status.to_numpy())


cohorts = st.integers(2, 60).flatmap(lambda n: st.tuples(
    st.lists(st.integers(1, 12), min_size=n, max_size=n),
    st.lists(st.integers(0, 3), min_size=n, max_size=n),
    st.lists(st.sampled_from(["a", "b", "c"]), min_size=n, max_size=n)))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cohorts, st.sampled_from([0.0, 1.0, 2.5]))
def test_gray_and_cif_equal_the_loops_on_small_tied_cohorts(cohort: tuple, rho: float) -> None:
    times, status, groups = cohort
    df = pd.DataFrame({"time": np.array(times, float), "status": status, "group": groups})
    if df.group.nunique() >= 2:
        for cause in (1, 2):
            _same_gray(df, cause, rho)
    if (df.status > 0).any():
        _same_cif(df.time.to_numpy(), df.status.to_numpy())
        assert cumulative_incidence(df, "time", "status").keys() == {"all"}


@pytest.mark.parametrize("block", [1, 20, 2**21])
def test_gray_blocks_of_event_times_give_the_same_test(monkeypatch: pytest.MonkeyPatch,
                                                       block: int) -> None:
    from crlm.stats import competing

    monkeypatch.setattr(competing, "GRAY_BLOCK_VALUES", block)  # 1: one event time per block
    df = _frame(np.random.default_rng(7), 600, 3, 150)
    for cause in (1, 2):
        _same_gray(df, cause, 0.5)
