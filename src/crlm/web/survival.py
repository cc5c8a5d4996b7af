"""Kaplan–Meier curves by a cohort grouping, and their plot (matplotlib, PNG).

Estimates use :mod:`crlm.stats` (product-limit with Greenwood variance and R's default "log"
confidence interval, R ``survfit`` median rule; log-rank test as R ``survdiff``), which is
validated against R ``survival``. Patients whose group is unknown or whose survival dates are
missing are left out and counted in ``excluded``.
"""

from __future__ import annotations

import io
import math
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from crlm.web.cohort import (
    GROUPINGS,
    UNKNOWN,
    Endpoint,
    SurvivalOrigin,
    group_labels,
    ordered_groups,
    survival_months,
)

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


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
    censored_months: list[float] = Field(description="Times with a censored observation")


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
    cohort: pd.DataFrame,
    grouping: str,
    endpoint: Endpoint = Endpoint.overall_survival,
    origin: SurvivalOrigin = SurvivalOrigin.diagnosis,
) -> KMResult:
    """KM curves and a log-rank p-value for every known group of ``grouping`` (``cohort``: a
    frame of analysis-table columns, :data:`crlm.web.cohort.KM_COLUMNS`)."""
    import numpy as np
    import pandas as pd

    from crlm.stats import StatsInputError, km_curve, logrank_test

    labels = group_labels(cohort, grouping)
    months, event, usable = survival_months(cohort, endpoint, origin)
    curves: list[KMCurve] = []
    parts: list[tuple[np.ndarray, np.ndarray, str]] = []
    excluded = 0
    for group in ordered_groups(labels):
        members = labels == group
        taken = members & usable
        n_usable = int(taken.sum())
        excluded += int(members.sum()) - n_usable
        if group == UNKNOWN:
            excluded += n_usable
            continue
        if not n_usable:
            continue
        fit = km_curve(months[taken], event[taken])
        curves.append(
            KMCurve(
                group=group,
                n=fit.n,
                events=fit.events,
                median_months=fit.median()[0],
                time_months=[0.0, *map(float, fit.time)],
                survival=[1.0, *map(float, fit.surv)],
                ci_lower=[1.0, *(float(x) for x in np.nan_to_num(fit.lower, nan=0.0))],
                ci_upper=[1.0, *(float(x) for x in np.nan_to_num(fit.upper, nan=1.0))],
                censored_months=[
                    float(t) for t, c in zip(fit.time, fit.n_censor, strict=True) if c
                ],
            )
        )
        parts.append((months[taken], event[taken], group))
    p_value = None
    if len(curves) >= 2 and any(e.any() for _, e, _ in parts):
        frame = pd.DataFrame({
            "time": np.concatenate([t for t, _, _ in parts]),
            "event": np.concatenate([e for _, e, _ in parts]).astype(int),
            "group": np.repeat(np.array([g for _, _, g in parts], dtype=object),
                               [t.size for t, _, _ in parts]),
        })
        try:
            p_value = _finite(logrank_test(frame, "time", "event", "group").p)
        except (StatsInputError, np.linalg.LinAlgError, ValueError):
            p_value = None
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
    """The curves as a PNG (step lines, + at censored times, log-rank p in the title)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.5), dpi=110)
    ax = fig.add_subplot()
    for curve in result.curves:
        (line,) = ax.step(
            curve.time_months,
            curve.survival,
            where="post",
            label=f"{curve.group} (n={curve.n}, events={curve.events})",
        )
        at = dict(zip(curve.time_months, curve.survival, strict=True))
        ax.plot(
            curve.censored_months, [at[t] for t in curve.censored_months],
            linestyle="none", marker="+", markersize=7, color=line.get_color(),
        )
    name = "Overall survival" if result.endpoint == Endpoint.overall_survival else "RFS"
    label = result.grouping_label
    if len(label) > 1 and label[1].islower():  # "Sex" → "sex", but "RAS" and "CEA" stay
        label = label[0].lower() + label[1:]
    title = f"{name} by {label}"
    if result.logrank_p is not None:
        title += f" — log-rank p = {result.logrank_p:.3g}"
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(f"Months from {result.origin.value.replace('_', ' ')}")
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


def suppress_small_groups(km: KMResult, minimum: int) -> tuple[KMResult, int]:
    """The curves of groups with at least ``minimum`` patients; and how many were hidden."""
    kept = [c for c in km.curves if c.n >= minimum]
    return km.model_copy(update={"curves": kept}), len(km.curves) - len(kept)
