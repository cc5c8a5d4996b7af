"""Normal and χ² tail functions from ``scipy.special`` (what ``scipy.stats`` calls inside).

``scipy.stats`` takes longer to import than a whole Cox fit on a small file; these are the
same functions (``norm.sf`` = ``ndtr(-x)``, ``norm.ppf`` = ``ndtri``, ``chi2.sf`` =
``chdtrc``), so the results are identical.
"""

from __future__ import annotations

from typing import Any

from scipy import special


def norm_sf(x: Any) -> Any:
    """Upper tail of the standard normal distribution."""
    return special.ndtr(-x)


def norm_ppf(q: Any) -> Any:
    """Quantile of the standard normal distribution."""
    return special.ndtri(q)


def chi2_sf(x: Any, df: Any) -> Any:
    """Upper tail of the χ² distribution with ``df`` degrees of freedom."""
    return special.chdtrc(df, x)
