"""The estimate table shared by the regression results: coef, SE, ratio, CI, p."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from crlm.stats import _dist


def wald(coef: np.ndarray, se: np.ndarray, level: float = 0.95
         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Wald CI bounds (coefficient scale) at ``level`` and two-sided p values."""
    z = float(_dist.norm_ppf(0.5 + level / 2))
    return coef - z * se, coef + z * se, 2 * _dist.norm_sf(np.abs(coef / se))


def ci_columns(level: float = 0.95) -> tuple[str, str]:
    """Names of the CI columns at ``level``: ``("lower95", "upper95")`` for 0.95."""
    pct = f"{100 * level:g}"
    return f"lower{pct}", f"upper{pct}"


def ratio_table(names: Sequence[str], coef: np.ndarray, se: np.ndarray, ratio: str, *,
                lower: np.ndarray | None = None, upper: np.ndarray | None = None,
                p: np.ndarray | None = None, ci_method: str = "wald", level: float = 0.95
                ) -> pd.DataFrame:
    """Rows per term: ``coef``, ``se``, ``<ratio>`` = exp(coef), ``lower95``, ``upper95``, ``p``.

    Without ``lower``/``upper``/``p`` (coefficient scale) the CI and p are Wald's. The CI method
    and level are kept in ``frame.attrs["ci_method"]`` and ``frame.attrs["level"]``.
    """
    coef, se = np.asarray(coef, dtype=float), np.asarray(se, dtype=float)
    wald_lo, wald_hi, wald_p = wald(coef, se, level)
    lo = wald_lo if lower is None else np.asarray(lower, dtype=float)
    hi = wald_hi if upper is None else np.asarray(upper, dtype=float)
    pv = wald_p if p is None else np.asarray(p, dtype=float)
    lo_name, hi_name = ci_columns(level)
    frame = pd.DataFrame({
        "term": list(names), "coef": coef, "se": se, ratio: np.exp(coef),
        lo_name: np.exp(lo), hi_name: np.exp(hi), "p": pv,
    }).set_index("term")
    frame.attrs["ci_method"] = ci_method
    frame.attrs["level"] = level
    return frame
