"""The C loops (crlm.stats._cloops) against the plain-Python loops they replace.

Harrell's C pair counts must equal the Fenwick loops exactly; the risk sums, the tied-death
sums and the information's Gram matrix equal the loops and numpy up to the order of
additions. One thread and two.
Bad input raises a Python error, never reads outside an array. The extension is built with
crlm wherever a C compiler is present; CRLM_STRICT=1 (CI) requires it.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import require
from tests.test_stats_kernels import _sorted_design, _sorted_pairs_input

from crlm.stats import _kernels, _loops, _vectorized


@pytest.fixture
def c_loops():
    require(_kernels.C_LOOPS is not None,
            "the C loops were not built (no C compiler when crlm was installed)")
    return _kernels.C_LOOPS


@pytest.fixture(params=["one thread", "two threads"])
def threads(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(_kernels, "TWO_THREADS_MIN_ROWS",
                        0 if request.param == "two threads" else 10**9)
    return request.param


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 90), n_times=st.integers(1, 90),
       n_scores=st.integers(1, 90), death_share=st.floats(0.0, 1.0),
       two_threads=st.booleans())
def test_c_pair_counts_equal_the_fenwick_loops(seed: int, n: int, n_times: int,
                                               n_scores: int, death_share: float,
                                               two_threads: bool) -> None:
    require(_kernels.C_LOOPS is not None, "the C loops were not built")
    rank, ev, block_end = _sorted_pairs_input(seed, n, n_times, n_scores, death_share)
    want = _loops.concordance_counts(rank, ev, block_end, n_scores)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_kernels, "TWO_THREADS_MIN_ROWS", 0 if two_threads else 10**9)
        got = _kernels.concordance_counts(rank, ev, block_end, n_scores)
    np.testing.assert_array_equal(got, want)


def test_c_pair_counts_over_many_ranks_equal_numpy(c_loops, threads: str) -> None:
    """Above 2^14 ranks the tree's spread layout is in use."""
    rank, ev, block_end = _sorted_pairs_input(5, 60_000, 700, 50_000, 0.5)
    np.testing.assert_array_equal(_kernels.concordance_counts(rank, ev, block_end, 50_000),
                                  _vectorized.concordance_counts(rank, ev, block_end, 50_000))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_c_time_sums_match_the_loops(c_loops, threads: str, seed: int) -> None:
    _, _, x, risk, first, dead_at = _sorted_design(seed, 400, 60 if seed else 400, 3)
    dead_at[0] = 0  # a time with no death, and (seed 2) times made of deaths only
    if seed == 2:
        dead_at = np.diff(np.append(first, x.shape[0]))
    got = _kernels.time_sums(np.asfortranarray(x), risk, first, dead_at)
    for value, want in zip(got, _loops.time_sums(x, risk, first, dead_at), strict=True):
        np.testing.assert_allclose(value, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("n", "p"), [(1, 1), (255, 3), (257, 5), (2_000, 8)])
def test_c_risk_set_gram_matches_numpy(c_loops, threads: str, n: int, p: int) -> None:
    rng = np.random.default_rng(n + p)
    x = np.asfortranarray(rng.normal(size=(n, p)))
    risk = rng.exponential(size=n)
    gid = np.sort(rng.integers(0, max(1, n // 7), n))
    event = rng.random(n) < 0.5
    per_time, per_dead = rng.exponential(size=(2, gid.max() + 1))
    got = _kernels.risk_set_gram(x, risk, gid, event, per_time, per_dead)
    v = risk * (per_time[gid] - np.where(event, per_dead[gid], 0.0))
    np.testing.assert_allclose(got, (x * v[:, None]).T @ x, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(got, got.T)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_kernels, "C_LOOPS", None)
        np.testing.assert_allclose(
            _kernels.risk_set_gram(x, risk, gid, event, per_time, per_dead), got, rtol=1e-12,
            atol=1e-12)


@pytest.mark.parametrize("efron", [True, False])
def test_c_efron_sums_match_numpy(c_loops, efron: bool) -> None:
    _, _, _, risk, first, dead_at = _sorted_design(4, 3_000, 200, 2)
    all0 = np.add.reduceat(risk, first)
    s0 = np.cumsum(all0[::-1])[::-1]
    dead0 = np.array([risk[f:f + d].sum() for f, d in zip(first, dead_at, strict=True)])
    group_time = np.flatnonzero(dead_at)
    sizes = dead_at[group_time]
    group_start = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    death_group = np.repeat(np.arange(sizes.size), sizes)
    within = np.arange(sizes.sum()) - group_start[death_group]
    frac = within / sizes[death_group] if efron else np.zeros(sizes.sum())
    got = _kernels.efron_sums(s0, dead0, group_time, group_start, frac, death_group)
    want = _vectorized.efron_sums(s0, dead0, group_time, group_start, frac, death_group)
    assert got[0] == pytest.approx(want[0], rel=1e-14)
    for value, expected in zip(got[1:], want[1:], strict=True):
        np.testing.assert_allclose(value, expected, rtol=1e-13)


def test_c_loops_reject_bad_input(c_loops) -> None:
    rank = np.array([0, 1, 2], dtype=np.int64)
    event = np.array([True, False, True])
    block_end = np.array([1, 2, 3], dtype=np.int64)
    out = np.zeros((3, 3))
    with pytest.raises(ValueError, match="out of range"):
        c_loops.concordance_counts(rank, event, block_end, 2, out, 1)
    with pytest.raises(ValueError, match="out of range"):
        c_loops.concordance_counts(rank, event, block_end + 1, 3, out, 1)
    with pytest.raises(ValueError, match="length"):
        c_loops.concordance_counts(rank, event[:2], block_end, 3, out, 0)
    with pytest.raises(ValueError, match=r"deaths x 3"):  # side 0 writes one row per death
        c_loops.concordance_counts(rank, event, block_end, 3, out, 0)
    with pytest.raises(TypeError, match="rank"):
        c_loops.concordance_counts(rank.astype(np.int32), event, block_end, 3, out, 0)
    with pytest.raises((TypeError, ValueError)):
        c_loops.concordance_counts(rank, event, block_end, 3, out.T.copy()[:, :2], 0)
    with pytest.raises(ValueError, match="side"):
        c_loops.concordance_counts(rank, event, block_end, 3, out, 2)
    x = np.asfortranarray(np.ones((3, 2)))
    first = np.array([0, 2], dtype=np.int64)
    outputs = (np.empty(2), np.empty(2), np.empty((2, 2)), np.empty((2, 2)))
    with pytest.raises(ValueError, match="cut the rows"):
        c_loops.time_sums(x, np.ones(3), first, np.array([0, 2], dtype=np.int64), 0, 2,
                          *outputs)
    with pytest.raises(ValueError, match="range of times"):
        c_loops.time_sums(x, np.ones(3), first, np.array([1, 1], dtype=np.int64), 0, 3,
                          *outputs)
    gram_args = (np.ones(3), np.zeros(3, dtype=np.int64), np.ones(3, dtype=bool), np.ones(2),
                 np.ones(2))
    with pytest.raises(ValueError, match="Fortran"):  # numpy refuses a C-order view
        c_loops.risk_set_gram(np.ones((3, 2)), *gram_args, 0, 3, np.zeros((2, 2)))
    with pytest.raises(ValueError, match="range of rows"):
        c_loops.risk_set_gram(x, *gram_args, 0, 4, np.zeros((2, 2)))
    with pytest.raises(ValueError, match="mismatched"):
        c_loops.risk_set_gram(x, *gram_args, 0, 2, np.zeros((3, 3)))
    with pytest.raises(ValueError, match="time index"):
        c_loops.risk_set_gram(x, gram_args[0], np.array([0, 5, 0]), *gram_args[2:], 0, 3,
                              np.zeros((2, 2)))
    sums = tuple(np.empty(2) for _ in range(5))
    with pytest.raises(ValueError, match="out of range"):
        c_loops.efron_sums(np.ones(3), np.ones(3), np.array([0, 3]), np.array([0, 1]),
                           np.zeros(2), *sums)
    with pytest.raises(ValueError, match="out of range"):
        c_loops.efron_sums(np.ones(3), np.ones(3), np.array([0, 1]), np.array([1, 0]),
                           np.zeros(2), *sums)
    with pytest.raises(ValueError, match="mismatched"):
        c_loops.efron_sums(np.ones(3), np.ones(2), np.array([0, 1]), np.array([0, 1]),
                           np.zeros(2), *sums)


def test_c_loops_can_be_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(_kernels.NO_C_ENV, "1")
    assert _kernels._c_loops() is None
    monkeypatch.setenv(_kernels.NO_C_ENV, "0")
    assert (_kernels._c_loops() is None) is (_kernels.C_LOOPS is None)


@pytest.mark.parametrize(("n", "n_times"), [(1, 1), (300, 40), (500, 500), (257, 3)])
def test_c_deaths_first_equals_the_loop(c_loops, n: int, n_times: int) -> None:
    rng = np.random.default_rng(n)
    time = rng.integers(0, n_times, n).astype(float)
    event = rng.random(n) < 0.5
    order = np.argsort(time).astype(np.int64)
    np.testing.assert_array_equal(_kernels._deaths_first(order, time[order], event),
                                  _loops._deaths_first(order, time[order], event))
    with pytest.raises(ValueError, match="out of range"):
        c_loops.deaths_first(order + n, time[order], event, np.empty(n, dtype=np.int64))
