"""Kaplan–Meier curves by a cohort grouping, and their plot (matplotlib, PNG).

Estimates use lifelines' ``KaplanMeierFitter`` (product-limit, Greenwood variance, log-log
confidence interval) and ``multivariate_logrank_test``; patients whose group is unknown or whose
survival dates are missing are left out and counted in ``excluded``.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

from pydantic import BaseModel, Field

from crlm.domain import Patient
from crlm.web.cohort import GROUPINGS, UNKNOWN, Endpoint, SurvivalOrigin, split, survival_time


class KMCurve(BaseModel):
    """One group's product-limit estimate as a step function."""

    group: str
    n: int
    events: int
    median_months: float | None = Field(description="None when survival never drops to 50%")
    time_months: list[float]
    survival: list[float]
    ci_lower: list[float]
    ci_upper: list[float]


class KMResult(BaseModel):
    """Kaplan–Meier curves of one endpoint by one grouping."""

    grouping: str
    grouping_label: str
    endpoint: Endpoint
    origin: SurvivalOrigin
    curves: list[KMCurve]
    logrank_p: float | None = Field(description="Log-rank test across groups (None if < 2)")
    excluded: int = Field(description="Patients without group or without survival dates")


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(float(x)) else None


def kaplan_meier(
    patients: Sequence[Patient],
    grouping: str,
    endpoint: Endpoint = Endpoint.overall_survival,
    origin: SurvivalOrigin = SurvivalOrigin.diagnosis,
) -> KMResult:
    """KM curves and a log-rank p-value for every known group of ``grouping``."""
    from lifelines import KaplanMeierFitter
    from lifelines.statistics import multivariate_logrank_test

    curves: list[KMCurve] = []
    times: list[float] = []
    events: list[bool] = []
    labels: list[str] = []
    excluded = 0
    for group, members in split(patients, grouping).items():
        data = [survival_time(p, endpoint, origin) for p in members]
        usable = [d for d in data if d is not None]
        excluded += len(members) - len(usable)
        if group == UNKNOWN:
            excluded += len(usable)
            continue
        if not usable:
            continue
        t = [d[0] for d in usable]
        e = [d[1] for d in usable]
        kmf = KaplanMeierFitter().fit(t, e, label=group)
        sf = kmf.survival_function_[group]
        ci = kmf.confidence_interval_survival_function_
        curves.append(
            KMCurve(
                group=group,
                n=len(usable),
                events=int(sum(e)),
                median_months=_finite(kmf.median_survival_time_),
                time_months=[float(x) for x in sf.index],
                survival=[float(x) for x in sf.to_numpy()],
                ci_lower=[float(x) for x in ci.iloc[:, 0].fillna(0).to_numpy()],
                ci_upper=[float(x) for x in ci.iloc[:, 1].fillna(1).to_numpy()],
            )
        )
        times += t
        events += e
        labels += [group] * len(t)
    p_value = None
    if len(curves) >= 2 and any(events):
        p_value = _finite(multivariate_logrank_test(times, labels, events).p_value)
    return KMResult(
        grouping=grouping,
        grouping_label=GROUPINGS[grouping].label,
        endpoint=endpoint,
        origin=origin,
        curves=curves,
        logrank_p=p_value,
        excluded=excluded,
    )


def plot_png(result: KMResult) -> bytes:
    """The curves as a PNG (step lines, censoring not marked, log-rank p in the title)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.5), dpi=110)
    ax = fig.add_subplot()
    for curve in result.curves:
        ax.step(
            curve.time_months,
            curve.survival,
            where="post",
            label=f"{curve.group} (n={curve.n}, events={curve.events})",
        )
    name = "Overall survival" if result.endpoint == Endpoint.overall_survival else "RFS"
    title = f"{name} by {result.grouping_label.lower()}"
    if result.logrank_p is not None:
        title += f" — log-rank p = {result.logrank_p:.3g}"
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(f"Months from {result.origin.value}")
    ax.set_ylabel("Survival probability")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    if result.curves:
        ax.legend(fontsize=8, loc="lower left")
    else:
        ax.text(0.5, 0.5, "No patient with known group and survival dates",
                ha="center", va="center", transform=ax.transAxes)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
