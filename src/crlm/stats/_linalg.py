"""The small dense solves of the Cox and log-rank code, on ``numpy.linalg``.

``scipy.linalg`` gave the same results but its import (with scipy's array-API layer) takes
longer than a Cox fit's likelihood on a 1M-row file; these p × p systems do not need it.
Like ``scipy.linalg.solve`` (``check_finite``), a NaN or infinite entry is a ValueError, and
a matrix that is not positive definite where one is assumed a :class:`LinAlgError`.
"""

from __future__ import annotations

import numpy as np

LinAlgError = np.linalg.LinAlgError
inv = np.linalg.inv
pinv = np.linalg.pinv


def _finite(*arrays: np.ndarray) -> None:
    for a in arrays:
        if not np.isfinite(a).all():
            raise ValueError("array must not contain infs or NaNs")


def solve_pd(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a⁻¹ b`` for a symmetric positive-definite ``a``, by its Cholesky factor
    (scipy's ``solve(a, b, assume_a="pos")``); LinAlgError when ``a`` is not positive
    definite."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    _finite(a, b)
    lower = np.linalg.cholesky(a)
    return np.linalg.solve(lower.T, np.linalg.solve(lower, b))


def solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a⁻¹ b`` for a square ``a`` (LU); LinAlgError when ``a`` is singular."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    _finite(a, b)
    return np.linalg.solve(a, b)
