"""The survival loops three ways: plain Python, numpy (no numba) and numba-compiled.

The numpy path (``crlm.stats._vectorized``) is what runs when numba is not installed or
``CRLM_NO_NUMBA=1``; it must give the loops' results. A subprocess fits Cox models with
``CRLM_NO_NUMBA=1 CRLM_NO_C=1`` and must reproduce this process's fits (C loops and numba).
The C loops have their own tests (tests/test_c_loops.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crlm.stats import _kernels, _loops, _vectorized

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _implementations() -> list[tuple[str, types.SimpleNamespace]]:
    impls = [("numpy", types.SimpleNamespace(
        time_sums=_vectorized.time_sums, scale_rows=_vectorized.scale_rows,
        deaths_first=_vectorized._deaths_first,
        concordance_counts=_vectorized.concordance_counts))]
    jit = _kernels.compiled()
    if jit is not None:
        impls.append(("numba", types.SimpleNamespace(
            time_sums=jit["time_sums"], scale_rows=jit["scale_rows"],
            deaths_first=jit["_deaths_first"],
            concordance_counts=jit["concordance_counts"])))
    return impls


IMPLS = _implementations()


def _tied_data(seed: int, n: int, n_times: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    time = rng.integers(0, n_times, n).astype(float)
    event = rng.random(n) < 0.55
    return time, event


def _sorted_design(seed: int, n: int, n_times: int, p: int):
    time, event = _tied_data(seed, n, n_times)
    order = _loops._deaths_first(np.argsort(time).astype(np.int64), np.sort(time), event)
    t, ev = time[order], event[order]
    new = np.r_[True, t[1:] != t[:-1]]
    first = np.flatnonzero(new).astype(np.int64)
    dead_at = np.add.reduceat(ev.astype(np.int64), first)
    rng = np.random.default_rng(seed + 1)
    x = rng.normal(size=(n, p))
    risk = np.exp(rng.normal(size=n))
    return t, ev, x, risk, first, dead_at


@pytest.mark.parametrize(("label", "impl"), IMPLS, ids=[i[0] for i in IMPLS])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_time_sums_and_gram_match_the_loops(label: str, impl, seed: int) -> None:
    _, _, x, risk, first, dead_at = _sorted_design(seed, 400, 60 if seed else 400, 3)
    dead_at[0] = 0  # a time with no death, and (seed 2) times made of deaths only
    if seed == 2:
        dead_at = np.diff(np.append(first, x.shape[0]))
    expected = _loops.time_sums(x, risk, first, dead_at)
    for got, want in zip(impl.time_sums(x, risk, first, dead_at), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    out, want_out = np.empty_like(x), np.empty_like(x)
    impl.scale_rows(x, risk, out)
    _loops.scale_rows(x, risk, want_out)
    np.testing.assert_array_equal(out, want_out)


@pytest.mark.parametrize(("label", "impl"), IMPLS, ids=[i[0] for i in IMPLS])
@pytest.mark.parametrize(("n", "n_times", "n_scores"), [(1, 1, 1), (300, 40, 25),
                                                        (500, 500, 500), (257, 3, 2)])
def test_deaths_first_and_concordance_counts_match_the_loops(label: str, impl, n: int,
                                                             n_times: int, n_scores: int
                                                             ) -> None:
    time, event = _tied_data(n, n, n_times)
    order = np.argsort(time).astype(np.int64)
    got = impl.deaths_first(order, time[order], event)
    np.testing.assert_array_equal(got, _loops._deaths_first(order, time[order], event))
    t, ev = time[got], event[got]
    rank = np.random.default_rng(n).integers(0, n_scores, n).astype(np.int64)
    first_at = np.searchsorted(t, t, side="left")
    dead_cum = np.concatenate(([0], np.cumsum(ev)))
    block_end = (first_at + dead_cum[np.searchsorted(t, t, side="right")]
                 - dead_cum[first_at]).astype(np.int64)
    want = _loops.concordance_counts(rank, ev, block_end, n_scores)
    np.testing.assert_array_equal(impl.concordance_counts(rank, ev, block_end, n_scores), want)
    assert want.sum() > 0 or ev.sum() == 0 or n == 1


def _sorted_pairs_input(seed: int, n: int, n_times: int, n_scores: int, death_share: float):
    rng = np.random.default_rng(seed)
    time = rng.integers(0, n_times, n).astype(float)
    event = rng.random(n) < death_share
    order = _loops._deaths_first(np.argsort(time).astype(np.int64), np.sort(time), event)
    t, ev = time[order], event[order]
    first_at = np.searchsorted(t, t, side="left")
    dead_cum = np.concatenate(([0], np.cumsum(ev)))
    block_end = (first_at + dead_cum[np.searchsorted(t, t, side="right")]
                 - dead_cum[first_at]).astype(np.int64)
    return rng.integers(0, n_scores, n).astype(np.int64), ev, block_end


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 90), n_times=st.integers(1, 90),
       n_scores=st.integers(1, 90), death_share=st.floats(0.0, 1.0),
       over=st.sampled_from(["ranks", "keys"]), two_threads=st.booleans())
def test_wavelet_concordance_counts_equal_the_fenwick_loops(
        seed: int, n: int, n_times: int, n_scores: int, death_share: float, over: str,
        two_threads: bool) -> None:
    """Either coordinate (ranks or time keys), one thread or the two halves in two threads:
    the loops' counts exactly, for any ties in times and scores."""
    rank, ev, block_end = _sorted_pairs_input(seed, n, n_times, n_scores, death_share)
    want = _loops.concordance_counts(rank, ev, block_end, n_scores)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_vectorized, "PARALLEL_MIN_ROWS", 0 if two_threads else 10**9)
        got = _vectorized.concordance_counts(rank, ev, block_end, n_scores, over=over)
    np.testing.assert_array_equal(got, want)


@settings(max_examples=100, deadline=None)
@given(values=st.lists(st.integers(0, 40), min_size=1, max_size=80),
       dead=st.lists(st.booleans(), min_size=80, max_size=80), two_threads=st.booleans())
def test_rank_counts_are_the_rows_before_of_smaller_and_equal_rank(
        values: list[int], dead: list[bool], two_threads: bool) -> None:
    rank = np.array(values, dtype=np.int64)
    died = np.array(dead[:rank.size])
    given_rank = rank.copy()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_vectorized, "PARALLEL_MIN_ROWS", 0 if two_threads else 10**9)
        smaller, smaller_dead, equal, equal_dead = _vectorized._rank_counts(rank, died)
    np.testing.assert_array_equal(rank, given_rank)  # the input is not reused as scratch
    for i, r in enumerate(rank):
        before, before_dead = rank[:i], rank[:i][died[:i]]
        assert (smaller[i], smaller_dead[i]) == ((before < r).sum(), (before_dead < r).sum())
        assert (equal[i], equal_dead[i]) == ((before == r).sum(), (before_dead == r).sum())


def test_concordance_counts_of_no_death_are_zero() -> None:
    rank = np.array([0, 1, 2], dtype=np.int64)
    got = _vectorized.concordance_counts(rank, np.zeros(3, bool), np.arange(1, 4), 3)
    assert not got.any()


_FIT = """
import json, sys
import pandas as pd
from crlm.stats import _kernels, cox_ph
heart = pd.read_csv(sys.argv[1])
mgus = pd.read_csv(sys.argv[2])
a = cox_ph(mgus, "futime", "death", ["age", "sex", "hgb"], ties="efron")
b = cox_ph(heart, "stop", "event", ["age", "year", "surgery"], start="start")
print(json.dumps({"numba": _kernels._for(len(mgus)) is not None, "fits": [
    {"coef": r.to_frame()["coef"].tolist(), "se": r.to_frame()["se"].tolist(),
     "loglik": r.loglik, "c": r.concordance, "c_se": r.concordance_se} for r in (a, b)]}))
"""


def _fits(no_numba: bool) -> dict:
    """The fits in a subprocess: by default the C loops and numba (when built, installed);
    ``no_numba``: numpy alone."""
    env = {k: v for k, v in os.environ.items() if k not in ("CRLM_NO_NUMBA", "CRLM_NO_C")}
    env["CRLM_NUMBA_MIN_ROWS"] = "0"  # numba (when installed) even on these small files
    if no_numba:
        env["CRLM_NO_NUMBA"] = "1"
        env["CRLM_NO_C"] = "1"
    done = subprocess.run([sys.executable, "-c", _FIT, str(FIXTURES / "heart.csv"),
                           str(FIXTURES / "mgus2.csv")], env=env, capture_output=True,
                          text=True, timeout=120, check=True)
    return json.loads(done.stdout)


def test_cox_fits_without_numba_equal_the_default_path() -> None:
    plain = _fits(no_numba=True)
    assert plain["numba"] is False
    default = _fits(no_numba=False)
    assert default["numba"] is (_kernels.compiled() is not None)
    for got, want in zip(plain["fits"], default["fits"], strict=True):
        assert got["coef"] == pytest.approx(want["coef"], rel=1e-9)
        assert got["se"] == pytest.approx(want["se"], rel=1e-9)
        assert got["loglik"] == pytest.approx(want["loglik"], rel=1e-12)
        assert got["c"] == pytest.approx(want["c"], rel=1e-12)
        assert got["c_se"] == pytest.approx(want["c_se"], rel=1e-9)


def test_small_data_uses_numpy_and_large_data_the_compiled_loops() -> None:
    assert _kernels._for(_kernels.NUMBA_MIN_ROWS - 1) is None
    assert _kernels._for(_kernels.NUMBA_MIN_ROWS) is _kernels.compiled()


def test_cache_dir_falls_back_to_a_private_temp_dir(monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    unwritable = tmp_path / "no"
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(_kernels, "_writable",
                        lambda d: not str(d).startswith((str(unwritable), str(_loops_dir()))))
    assert _kernels.numba_cache_dir() == tmp_path / "xdg" / "crlm" / "numba"
    monkeypatch.setenv("XDG_CACHE_HOME", str(unwritable))
    monkeypatch.setenv("HOME", str(unwritable))
    monkeypatch.setattr(_kernels.tempfile, "gettempdir", lambda: str(tmp_path))
    assert _kernels.numba_cache_dir() == tmp_path / f"crlm-numba-{os.getuid()}"
    # a temp folder someone else can write to is never used: no cache at all
    (tmp_path / f"crlm-numba-{os.getuid()}").chmod(0o777)
    assert _kernels.numba_cache_dir() is None
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(unwritable / "x"))
    assert _kernels.numba_cache_dir() is None


def _loops_dir() -> Path:
    return Path(_loops.__file__).parent


def test_a_single_fit_uses_numba_only_for_very_large_data(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    """One model per process (``crlm stats cox``): numba's load pays off only from 2M rows;
    repeated fits keep the library's threshold; the environment wins."""
    monkeypatch.delenv(_kernels.NUMBA_MIN_ROWS_ENV, raising=False)
    monkeypatch.setattr(_kernels, "NUMBA_MIN_ROWS", 100_000)
    _kernels.expect_single_fit()
    assert _kernels.NUMBA_MIN_ROWS == _kernels.SINGLE_FIT_NUMBA_MIN_ROWS
    assert _kernels._for(_kernels.SINGLE_FIT_NUMBA_MIN_ROWS - 1) is None
    monkeypatch.setenv(_kernels.NUMBA_MIN_ROWS_ENV, "0")
    monkeypatch.setattr(_kernels, "NUMBA_MIN_ROWS", 0)
    _kernels.expect_single_fit()
    assert _kernels.NUMBA_MIN_ROWS == 0


def test_the_cox_command_declares_its_single_fit() -> None:
    """Run in a fresh process: the threshold after ``crlm stats cox`` on a small file."""
    probe = ("import os, sys\nos.environ.pop('CRLM_NUMBA_MIN_ROWS', None)\n"
             "import crlm.cli as cli\n"
             f"sys.argv = ['crlm', 'stats', 'cox', '--data', {str(FIXTURES / 'mgus2.csv')!r}, "
             "'--time', 'futime', '--event', 'death', '--covariates', 'age', '--json']\n"
             "try:\n    cli.main()\nexcept SystemExit:\n    pass\n"
             "from crlm.stats import _kernels\nprint(_kernels.NUMBA_MIN_ROWS)")
    env = {k: v for k, v in os.environ.items() if k != "CRLM_NUMBA_MIN_ROWS"}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=120, check=True, env=env)
    assert done.stdout.split()[-1] == str(_kernels.SINGLE_FIT_NUMBA_MIN_ROWS)


@pytest.mark.parametrize("two_threads", [False, True])
@pytest.mark.parametrize("p", [1, 2, 5])
def test_take_rows_is_the_sorted_copy_in_fortran_order(monkeypatch: pytest.MonkeyPatch,
                                                       two_threads: bool, p: int) -> None:
    monkeypatch.setattr(_kernels, "TWO_THREADS_MIN_ROWS", 0 if two_threads else 10**9)
    rng = np.random.default_rng(p)
    x = np.asfortranarray(rng.normal(size=(500, p)))
    rows = rng.permutation(500)[:300]
    got = _kernels.take_rows(x, rows)
    assert got.flags.f_contiguous
    np.testing.assert_array_equal(got, x[rows])
