"""The normal and χ² tails of crlm.stats._dist (standard library) against scipy and R.

scipy is the reference (``ndtr``, ``ndtri``, ``chdtrc``); a few χ² tails are R's
``pchisq(x, df, lower.tail = FALSE)`` printed to 15 digits. The Cox command imports neither
scipy nor its linear algebra (crlm.stats._linalg stands in for ``scipy.linalg``).
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import linalg as scipy_linalg
from scipy import special

from crlm.stats import _dist, _linalg

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@settings(max_examples=400, deadline=None)
@given(df=st.integers(1, 400), scale=st.floats(0.0, 4.0))
def test_chi2_tail_matches_scipy(df: int, scale: float) -> None:
    x = scale * (df + 20.0)
    want = float(special.chdtrc(df, x))
    got = _dist.chi2_sf(x, df)
    if want > 1e-290:
        # p values worth printing: to 1e-13; the far tail (p < 1e-8, large df) to 1e-11
        assert got == pytest.approx(want, rel=1e-13 if want > 1e-8 else 1e-11)
    else:
        assert got < 1e-280


@pytest.mark.parametrize(("x", "df", "r_value"), [
    (1400.0, 15, 1.65543768436286e-289),  # R 4.x pchisq(1400, 15, lower.tail = FALSE)
    (3.84145882069412, 1, 0.05),
    (546.55, 8, None),
])
def test_chi2_tail_matches_r(x: float, df: int, r_value: float | None) -> None:
    want = r_value if r_value is not None else float(special.chdtrc(df, x))
    assert _dist.chi2_sf(x, df) == pytest.approx(want, rel=1e-12)


def test_chi2_tail_edges_as_scipy() -> None:
    for x, df in [(0.0, 3), (-1.0, 3), (math.inf, 3), (math.nan, 3), (2.0, -1.0), (1.0, 0),
                  (0.0, 0), (3.2, 2.5), (50.0, 1500)]:
        want = float(special.chdtrc(df, x))
        got = _dist.chi2_sf(x, df)
        assert (math.isnan(got) and math.isnan(want)) or got == pytest.approx(want, rel=1e-13)


def test_normal_tail_and_quantile_match_scipy() -> None:
    x = np.linspace(-38.0, 38.0, 20_001)
    want = special.ndtr(-x)
    kept = want > 1e-300
    np.testing.assert_allclose(_dist.norm_sf(x)[kept], want[kept], rtol=1e-12)
    near = np.abs(x) < 8  # the p values a table prints
    np.testing.assert_allclose(_dist.norm_sf(x)[near], want[near], rtol=5e-14)
    q = np.linspace(1e-12, 1 - 1e-12, 20_001)
    np.testing.assert_allclose(_dist.norm_ppf(q), special.ndtri(q), rtol=1e-14, atol=1e-15)
    assert _dist.norm_ppf(0.975) == pytest.approx(1.959963984540054, rel=1e-15)
    assert (_dist.norm_ppf(0.0), _dist.norm_ppf(1.0)) == (-math.inf, math.inf)
    assert math.isnan(_dist.norm_ppf(1.5)) and math.isnan(_dist.norm_sf(math.nan))
    assert isinstance(_dist.norm_sf(1.0), float)
    assert _dist.chi2_sf(np.array([1.0, 2.0]), np.array([1, 2])).shape == (2,)


def test_solves_match_scipy_and_refuse_what_scipy_refuses() -> None:
    rng = np.random.default_rng(3)
    m = rng.normal(size=(6, 6))
    pd_matrix = m @ m.T + 6 * np.eye(6)
    b = rng.normal(size=6)
    np.testing.assert_allclose(_linalg.solve_pd(pd_matrix, b),
                               scipy_linalg.solve(pd_matrix, b, assume_a="pos"), rtol=1e-12)
    sym = pd_matrix - 8 * np.eye(6)
    np.testing.assert_allclose(_linalg.solve(sym, b),
                               scipy_linalg.solve(sym, b, assume_a="sym"), rtol=1e-10)
    with pytest.raises(_linalg.LinAlgError):
        _linalg.solve_pd(-pd_matrix, b)
    with pytest.raises(_linalg.LinAlgError):
        _linalg.solve(np.zeros((2, 2)), np.ones(2))
    with pytest.raises(ValueError, match="infs or NaNs"):
        _linalg.solve_pd(np.full((2, 2), np.nan), np.ones(2))
    assert _linalg.LinAlgError is scipy_linalg.LinAlgError


def test_the_cox_command_imports_no_scipy() -> None:
    probe = ("import sys\nfrom crlm.cli import main\n"
             f"sys.argv = ['crlm', 'stats', 'cox', '--data', {str(FIXTURES / 'heart.csv')!r}, "
             "'--time', 'stop', '--event', 'event', '--covariates', 'age,year,surgery', "
             "'--json']\n"
             "try:\n    main()\nexcept SystemExit:\n    pass\n"
             "print(sorted(m for m in sys.modules if m.split('.')[0] == 'scipy') or 'none')")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=60, check=True)
    assert '"coef"' in done.stdout or '"terms"' in done.stdout or "age" in done.stdout
    assert done.stdout.split()[-1] == "none"
