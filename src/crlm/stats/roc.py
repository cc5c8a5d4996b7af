"""ROC analysis and outcome-chosen cut-offs (Shimizu 2024: Youden index for continuous factors).

A cut-off chosen from the same outcome it will predict is optimistic: every result carries a
printed warning saying so, and should be validated on independent data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from crlm.stats._data import StatsInputError, complete_cases

OPTIMISM_WARNING = (
    "The cut-off was chosen from the outcome it predicts: its performance (and any p value "
    "computed at it) is optimistic; validate it on independent data."
)


@dataclass
class ROCResult:
    """ROC curve, AUC with DeLong 95 % CI, and the Youden cut-off."""

    thresholds: np.ndarray
    sensitivity: np.ndarray
    specificity: np.ndarray
    auc: float
    auc_se: float
    auc_lower95: float
    auc_upper95: float
    cutoff: float
    cutoff_sensitivity: float
    cutoff_specificity: float
    youden: float
    direction: str  # "higher" = higher marker values predict the outcome
    n: int
    n_events: int
    warnings: list[str] = field(default_factory=lambda: [OPTIMISM_WARNING])

    def to_dict(self) -> dict[str, object]:
        return {
            "auc": self.auc, "auc_se": self.auc_se, "auc_lower95": self.auc_lower95,
            "auc_upper95": self.auc_upper95, "cutoff": self.cutoff,
            "rule": f"positive when marker {'>=' if self.direction == 'higher' else '<='} cutoff",
            "sensitivity": self.cutoff_sensitivity, "specificity": self.cutoff_specificity,
            "youden": self.youden, "n": self.n, "events": self.n_events,
            "warnings": self.warnings,
        }

    def curve(self) -> pd.DataFrame:
        return pd.DataFrame({"threshold": self.thresholds, "sensitivity": self.sensitivity,
                             "specificity": self.specificity})


def _placements(pos: np.ndarray, neg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DeLong structural components: V10 for positives, V01 for negatives (ties count 1/2)."""
    order = np.sort(neg)
    less = np.searchsorted(order, pos, side="left")
    leq = np.searchsorted(order, pos, side="right")
    v10 = (less + 0.5 * (leq - less)) / neg.size
    order_p = np.sort(pos)
    greater = pos.size - np.searchsorted(order_p, neg, side="right")
    geq = pos.size - np.searchsorted(order_p, neg, side="left")
    v01 = (greater + 0.5 * (geq - greater)) / pos.size
    return v10, v01


def auc_delong(marker: np.ndarray, outcome: np.ndarray) -> tuple[float, float]:
    """AUC (= P(marker_pos > marker_neg) + ½ P(tie)) and its DeLong standard error."""
    pos, neg = marker[outcome == 1], marker[outcome == 0]
    if pos.size < 2 or neg.size < 2:
        raise StatsInputError(None, "ROC needs at least two patients with and without the outcome")
    v10, v01 = _placements(pos, neg)
    auc = float(v10.mean())
    var = v10.var(ddof=1) / pos.size + v01.var(ddof=1) / neg.size
    return auc, float(np.sqrt(var))


def roc_analysis(df: pd.DataFrame, marker: str, outcome: str) -> ROCResult:
    """ROC of a continuous ``marker`` for a 0/1 ``outcome`` with the Youden-optimal cut-off."""
    data, _dropped = complete_cases(df, [marker, outcome])
    x = pd.to_numeric(data[marker], errors="coerce")
    if x.isna().any():
        raise StatsInputError(marker, "marker must be numeric")
    y = pd.to_numeric(data[outcome].astype(float) if data[outcome].dtype == bool
                      else data[outcome], errors="coerce")
    if y.isna().any() or not set(np.unique(y)) <= {0, 1}:
        raise StatsInputError(outcome, "outcome must be coded 0/1")
    xv, yv = x.to_numpy(float), y.to_numpy(int)
    if min(int(yv.sum()), int((1 - yv).sum())) < 2:
        raise StatsInputError(outcome, "ROC needs at least two patients with and two without "
                                       f"the outcome ({int(yv.sum())} with, "
                                       f"{int((1 - yv).sum())} without)")
    auc, se = auc_delong(xv, yv)
    direction = "higher"
    if auc < 0.5:  # lower values predict the outcome: evaluate the reversed marker
        direction = "lower"
    signed = xv if direction == "higher" else -xv
    thresholds = np.unique(signed)[::-1]
    pos, neg = np.sort(signed[yv == 1]), np.sort(signed[yv == 0])
    sens = (pos.size - np.searchsorted(pos, thresholds, side="left")) / pos.size  # P(x ≥ t | 1)
    spec = np.searchsorted(neg, thresholds, side="left") / neg.size  # P(x < t | 0)
    j = sens + spec - 1
    best = int(np.argmax(j))
    shown_auc = auc if direction == "higher" else 1 - auc
    z = stats.norm.ppf(0.975)
    real = thresholds if direction == "higher" else -thresholds
    return ROCResult(
        thresholds=real, sensitivity=sens, specificity=spec, auc=shown_auc, auc_se=se,
        auc_lower95=max(0.0, shown_auc - z * se), auc_upper95=min(1.0, shown_auc + z * se),
        cutoff=float(real[best]), cutoff_sensitivity=float(sens[best]),
        cutoff_specificity=float(spec[best]), youden=float(j[best]), direction=direction,
        n=len(yv), n_events=int(yv.sum()),
    )


@dataclass
class MaxstatResult:
    """Maximally selected log-rank statistic over cut-points of a continuous factor."""

    cutpoint: float  # groups: marker ≤ cutpoint vs > cutpoint
    statistic: float
    p: float  # Lausen & Schumacher (1992) approximation, corrected for the search
    cuts: np.ndarray
    statistics: np.ndarray
    n: int
    warnings: list[str] = field(default_factory=lambda: [OPTIMISM_WARNING])


def logrank_scores(time: np.ndarray, event: np.ndarray) -> np.ndarray:
    """Log-rank scores as ``exactRankTests::cscores`` (used by R ``maxstat``)."""
    n = time.size
    order = np.argsort(time, kind="stable")
    rank_max = stats.rankdata(time, method="max").astype(np.int64)
    fact = event / (n - rank_max + 1)
    cumulative = np.cumsum(fact[order])
    return event - cumulative[rank_max - 1]


def maxstat_cutpoint(df: pd.DataFrame, marker: str, time: str, event: str, *,
                     min_prop: float = 0.1, max_prop: float = 0.9) -> MaxstatResult:
    """Cut-point maximising the standardised log-rank statistic (R ``maxstat``, LogRank, Lau92).

    Candidate cuts are the marker values ``c`` (each the largest value of its lower group) with
    ``max(1, floor(min_prop·N)) ≤ #(marker ≤ c) ≤ floor(max_prop·N)``, as ``maxstat.test``;
    the p value accounts for the search.
    """
    from crlm.stats._data import survival_outcome

    if not 0 < min_prop < max_prop < 1:
        raise StatsInputError(None, "need 0 < min_prop < max_prop < 1")
    data, _dropped = complete_cases(df, [marker, time, event])
    t, e = survival_outcome(data, time, event)
    x = pd.to_numeric(data[marker], errors="coerce").to_numpy(float)
    if np.isnan(x).any():
        raise StatsInputError(marker, "marker must be numeric")
    if not e.any():
        raise StatsInputError(event, "no events: every patient is censored, so no cut-point "
                                     "can separate the survival curves")
    a = logrank_scores(t, e.astype(float))
    n = x.size
    ux = np.unique(x)
    below = np.searchsorted(np.sort(x), ux, side="right")  # #(x ≤ cut) per distinct value
    admissible = (below >= max(1, int(np.floor(n * min_prop)))) & (
        below <= int(np.floor(n * max_prop))) & (below < n)
    cuts = ux[admissible]
    if cuts.size == 0:
        raise StatsInputError(marker, "no cut-point leaves the requested share of patients "
                                      f"({min_prop:g} to {max_prop:g}) in each group")
    centred_ss = float(((a - a.mean()) ** 2).sum())
    order = np.argsort(x, kind="stable")
    cum = np.cumsum(a[order])
    m = np.searchsorted(x[order], cuts, side="right")
    s = cum[m - 1]
    expected = m * a.mean()
    var = m * (n - m) / (n * (n - 1)) * centred_ss
    stat = np.abs(s - expected) / np.sqrt(var)
    best = int(np.argmax(stat))
    b = float(stat[best])
    return MaxstatResult(float(cuts[best]), b, lausen92_p(b, min_prop, max_prop), cuts, stat, n)


def lausen92_p(b: float, min_prop: float, max_prop: float) -> float:
    """Lausen & Schumacher (1992) p of a maximally selected statistic ``b`` (maxstat pLausen92)."""
    if b < 1:
        return 1.0
    phi = float(stats.norm.pdf(b))
    p = 4 * phi / b + phi * (b - 1 / b) * np.log(max_prop * (1 - min_prop)
                                                 / ((1 - max_prop) * min_prop))
    return float(min(1.0, max(p, 0.0)))
