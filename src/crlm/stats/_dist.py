"""Normal and χ² tail functions on Python's standard library (no scipy import).

``crlm stats cox`` on a large file spends its first second importing: scipy's import alone
(≈0.15-0.2 s, mostly its array-API layer) delays the fit as much as the whole likelihood
takes, so the p values of the Cox and log-rank code do not import it:

- ``norm_sf(x)`` = erfc(x/√2)/2 (``math.erfc``, what scipy's ``ndtr(-x)`` computes);
- ``norm_ppf(q)`` = ``statistics.NormalDist().inv_cdf`` (Wichura's AS 241, accurate to
  about 1e-16);
- ``chi2_sf(x, df)`` for whole ``df`` up to :data:`CLOSED_FORM_MAX_DF` by the closed forms
  of the regularised upper incomplete gamma function Q(df/2, x/2): a Poisson sum for even
  df, erfc plus a sum for odd df, each term in logarithms so that nothing overflows; any
  other df falls back to scipy's ``chdtrc``.

Checked against scipy (``ndtr``, ``ndtri``, ``chdtrc``) in tests/test_stats_dist.py, to
1e-12 relative or better. Scalars give Python floats, arrays (and pandas Series) arrays.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any

import numpy as np

#: above this many degrees of freedom χ² tails come from scipy (the sums grow with df)
CLOSED_FORM_MAX_DF = 1000
_STANDARD = NormalDist()
_SQRT2 = math.sqrt(2.0)


def _elementwise(function: Any, *args: Any) -> Any:
    """``function`` over scalars, or element by element over broadcast arrays."""
    if all(np.ndim(a) == 0 for a in args):
        return function(*(float(a) for a in args))
    arrays = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in args))
    out = np.empty(arrays[0].shape)
    for index in np.ndindex(out.shape):
        out[index] = function(*(float(a[index]) for a in arrays))
    return out


def _norm_sf(x: float) -> float:
    return 0.5 * math.erfc(x / _SQRT2)


def _norm_ppf(q: float) -> float:
    if math.isnan(q) or q < 0.0 or q > 1.0:
        return math.nan
    if q in (0.0, 1.0):
        return math.copysign(math.inf, q - 0.5)
    return _STANDARD.inv_cdf(q)


def _chi2_sf(x: float, df: float) -> float:
    if math.isnan(x) or math.isnan(df) or df < 0.0:
        return math.nan
    if df == 0.0:  # all mass at 0 (scipy: nan at x = 0)
        return 0.0 if x > 0.0 else math.nan
    if x <= 0.0:
        return 1.0 if x == 0.0 else math.nan
    if math.isinf(x):
        return 0.0
    if df != round(df) or df > CLOSED_FORM_MAX_DF:
        from scipy import special  # other df: only here, never on the Cox path

        return float(special.chdtrc(df, x))
    half = x / 2.0
    log_half = math.log(half)
    whole = round(df)
    if whole % 2 == 0:  # Q(m, y) = e^-y Σ_{j<m} y^j / j!, m = df/2
        total = math.exp(-half)
        for j in range(1, whole // 2):
            total += math.exp(-half + j * log_half - math.lgamma(j + 1.0))
        return min(total, 1.0)
    # Q(m + 1/2, y) = erfc(√y) + e^-y Σ_{j=1..m} y^(j-1/2) / Γ(j + 1/2), m = (df-1)/2
    total = math.erfc(math.sqrt(half))
    for j in range(1, (whole - 1) // 2 + 1):
        total += math.exp(-half + (j - 0.5) * log_half - math.lgamma(j + 0.5))
    return min(total, 1.0)


def norm_sf(x: Any) -> Any:
    """Upper tail of the standard normal distribution."""
    return _elementwise(_norm_sf, x)


def norm_ppf(q: Any) -> Any:
    """Quantile of the standard normal distribution."""
    return _elementwise(_norm_ppf, q)


def chi2_sf(x: Any, df: Any) -> Any:
    """Upper tail of the χ² distribution with ``df`` degrees of freedom."""
    return _elementwise(_chi2_sf, x, df)
