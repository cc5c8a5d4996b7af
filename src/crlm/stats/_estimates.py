"""The estimate table shared by the regression results: coef, SE, ratio, 95 % CI, Wald p."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

Z95 = float(stats.norm.ppf(0.975))


def ratio_table(names: Sequence[str], coef: np.ndarray, se: np.ndarray, ratio: str
                ) -> pd.DataFrame:
    """Rows per term: ``coef``, ``se``, ``<ratio>`` = exp(coef), ``lower95``, ``upper95``, ``p``."""
    coef, se = np.asarray(coef, dtype=float), np.asarray(se, dtype=float)
    return pd.DataFrame({
        "term": list(names), "coef": coef, "se": se, ratio: np.exp(coef),
        "lower95": np.exp(coef - Z95 * se), "upper95": np.exp(coef + Z95 * se),
        "p": 2 * stats.norm.sf(np.abs(coef / se)),
    }).set_index("term")
