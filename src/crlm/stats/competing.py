"""Competing risks (recurrence vs death without recurrence): cumulative incidence.

Aalen–Johansen estimate of the cumulative incidence of each cause, F_k(t) = Σ S(t_j−) d_kj / n_j,
with S the all-cause Kaplan–Meier survival, and its delta-method variance (Marubini &
Valsecchi 1995). Status coding: 0 = censored, 1, 2, … = causes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from crlm.stats._data import StatsInputError, complete_cases


@dataclass
class CumulativeIncidence:
    cause: int
    time: np.ndarray
    estimate: np.ndarray
    variance: np.ndarray

    def at(self, times: Sequence[float]) -> pd.DataFrame:
        idx = np.searchsorted(self.time, np.asarray(times, dtype=float), side="right") - 1
        est = np.where(idx >= 0, self.estimate[np.maximum(idx, 0)], 0.0)
        var = np.where(idx >= 0, self.variance[np.maximum(idx, 0)], 0.0)
        return pd.DataFrame({"time": times, "estimate": est, "variance": var})


def cumulative_incidence(
    df: pd.DataFrame, time: str, status: str, group: str | None = None
) -> dict[str, dict[int, CumulativeIncidence]]:
    """CIF of every cause, per group (``"all"`` without a group)."""
    used, _dropped = complete_cases(df, [time, status] + ([group] if group else []))
    t = pd.to_numeric(used[time], errors="coerce").to_numpy(float)
    s = pd.to_numeric(used[status], errors="coerce").to_numpy(float)
    if np.isnan(t).any() or (t < 0).any():
        raise StatsInputError(time, "times must be numbers ≥ 0")
    if np.isnan(s).any() or (s < 0).any() or (s != np.round(s)).any():
        raise StatsInputError(status, "status must be 0 (censored) or a cause number 1, 2, …")
    s = s.astype(int)
    labels = used[group].astype(str).to_numpy() if group else np.full(len(t), "all")
    return {g: _cif(t[labels == g], s[labels == g]) for g in sorted(set(labels))}


def _cif(t: np.ndarray, s: np.ndarray) -> dict[int, CumulativeIncidence]:
    times = np.unique(t[s > 0])
    causes = sorted(set(s[s > 0].tolist()))
    n_risk = np.array([(t >= u).sum() for u in times], dtype=float)
    d_all = np.array([((t == u) & (s > 0)).sum() for u in times], dtype=float)
    surv = np.cumprod(1 - d_all / n_risk)
    s_before = np.concatenate([[1.0], surv[:-1]])
    out: dict[int, CumulativeIncidence] = {}
    for k in causes:
        d_k = np.array([((t == u) & (s == k)).sum() for u in times], dtype=float)
        f = np.cumsum(s_before * d_k / n_risk)
        var = np.empty_like(f)
        with np.errstate(divide="ignore", invalid="ignore"):
            greenwood = np.where(n_risk > d_all, d_all / (n_risk * (n_risk - d_all)), 0.0)
        for j in range(times.size):
            diff = f[j] - f[: j + 1]
            var[j] = np.sum(
                diff**2 * greenwood[: j + 1]
                + s_before[: j + 1] ** 2 * d_k[: j + 1] * (n_risk[: j + 1] - d_k[: j + 1])
                / n_risk[: j + 1] ** 3
                - 2 * diff * s_before[: j + 1] * d_k[: j + 1] * (n_risk[: j + 1] - d_k[: j + 1])
                / (n_risk[: j + 1] ** 2 * (n_risk[: j + 1] - d_all[: j + 1]).clip(min=1))
            )
        out[k] = CumulativeIncidence(k, times, f, var)
    return out
