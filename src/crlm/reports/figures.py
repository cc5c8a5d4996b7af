"""Publication figures (matplotlib, Agg): KM with numbers at risk, flow diagram, trend, forest,
ROC. Okabe–Ito colour-blind-safe palette; each function returns a Figure."""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from crlm.stats.roc import ROCResult
from crlm.stats.survival import KMResult

OKABE_ITO = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442",
             "#000000"]
FONT = {"font.size": 10, "axes.titlesize": 11, "axes.labelsize": 10, "legend.fontsize": 9,
        "font.family": "DejaVu Sans"}


def _figure(width: float, height: float) -> Figure:
    matplotlib.rcParams.update(FONT)
    return Figure(figsize=(width, height), dpi=150, layout="constrained")


def km_figure(
    km: KMResult,
    *,
    time_scale: float = 1.0,
    time_label: str = "Time",
    title: str = "",
    risk_times: Sequence[float] | None = None,
    p_value: float | None = None,
    ci: bool = False,
) -> Figure:
    """Kaplan–Meier curves with censor marks, optional CI bands, log-rank p and a numbers-at-risk
    table aligned under the x-axis (``risk_times`` in the data's time unit)."""
    fig = _figure(7.0, 5.2)
    grid = fig.add_gridspec(2, 1, height_ratios=[4, 1.1 + 0.22 * len(km.groups)])
    ax, table_ax = fig.add_subplot(grid[0]), fig.add_subplot(grid[1])
    t_max = max(float(c.time.max()) for c in km.groups.values() if c.time.size)
    if risk_times is None:
        step = _nice_step(t_max / time_scale)
        risk_times = list(np.arange(0, t_max / time_scale + 1e-9, step) * time_scale)
    for i, (name, curve) in enumerate(km.groups.items()):
        colour = OKABE_ITO[i % len(OKABE_ITO)]
        x = np.concatenate([[0.0], curve.time]) / time_scale
        y = np.concatenate([[1.0], curve.surv])
        ax.step(x, y, where="post", color=colour, lw=1.8, label=f"{name} (n = {curve.n})")
        if ci:
            lo = np.concatenate([[1.0], curve.lower])
            hi = np.concatenate([[1.0], curve.upper])
            ax.fill_between(x, lo, hi, step="post", color=colour, alpha=0.15, lw=0)
        censored = curve.n_censor > 0
        ax.plot(curve.time[censored] / time_scale, curve.surv[censored], "|", color=colour,
                ms=7, mew=1.2)
    ax.set_ylim(0, 1.02)
    ax.set_xlim(0, max(risk_times) / time_scale * 1.02 if risk_times else None)
    ax.set_ylabel("Survival probability")
    ax.set_xlabel(time_label)
    ax.set_xticks([t / time_scale for t in risk_times])
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(loc="lower left", frameon=False)
    if title:
        ax.set_title(title, loc="left")
    if p_value is not None:
        ax.text(0.98, 0.95, "Log-rank p < 0.001" if p_value < 0.001 else
                f"Log-rank p = {p_value:.3f}", transform=ax.transAxes, ha="right", va="top")
    # numbers at risk, aligned on the same x positions
    risk = km.risk_table(list(risk_times))
    table_ax.set_xlim(ax.get_xlim())
    table_ax.set_ylim(-0.5, len(km.groups) - 0.5)
    table_ax.axis("off")
    table_ax.set_title("Number at risk", loc="left", fontsize=9)
    for i, name in enumerate(km.groups):
        row = len(km.groups) - 1 - i
        colour = OKABE_ITO[i % len(OKABE_ITO)]
        sub = risk[risk["group"] == name] if "group" in risk.columns else risk
        table_ax.text(-0.045, row, name, transform=table_ax.get_yaxis_transform(), ha="right",
                      va="center", color=colour, fontsize=9)
        for t, n in zip(sub["time"], sub["n_risk"], strict=True):
            table_ax.text(t / time_scale, row, f"{int(n)}", ha="center", va="center", fontsize=9)
    return fig


def _nice_step(span: float) -> float:
    for step in (0.5, 1, 2, 5, 10, 20, 50, 100, 250, 500, 1000):
        if span / step <= 8:
            return step
    return span / 6


def flow_figure(steps: Sequence[tuple[str, int]], excluded: Sequence[tuple[str, int]]) -> Figure:
    """Patient-selection flow (Maki 2023a Fig. 1): boxes with counts, exclusions to the side."""
    fig = _figure(7.0, 1.2 + 1.1 * len(steps))
    ax = fig.add_subplot()
    ax.axis("off")
    n = len(steps)
    ax.set_xlim(0, 10)
    ax.set_ylim(0, n * 2)
    for i, (label, count) in enumerate(steps):
        y = n * 2 - 1 - 2 * i
        ax.text(3.2, y, f"{label}\nn = {count:,}", ha="center", va="center",
                bbox={"boxstyle": "round,pad=0.5", "fc": "#eef4f9", "ec": "#0072B2"})
        if i < n - 1:
            ax.annotate("", xy=(3.2, y - 1.45), xytext=(3.2, y - 0.55),
                        arrowprops={"arrowstyle": "->", "color": "#333333"})
            if i < len(excluded):
                label_x, count_x = excluded[i]
                ax.annotate("", xy=(6.2, y - 1.0), xytext=(3.2, y - 1.0),
                            arrowprops={"arrowstyle": "->", "color": "#D55E00"})
                ax.text(6.3, y - 1.0, f"Excluded: {label_x}\nn = {count_x:,}", ha="left",
                        va="center", fontsize=9,
                        bbox={"boxstyle": "round,pad=0.4", "fc": "#fff4ec", "ec": "#D55E00"})
    return fig


def trend_figure(df: pd.DataFrame, year: str, group: str, order: Sequence[str]) -> Figure:
    """Annual share of each group (Maki 2023a Fig. 2), stacked bars in percent."""
    fig = _figure(7.0, 3.6)
    ax = fig.add_subplot()
    counts = pd.crosstab(df[year], df[group]).reindex(columns=list(order), fill_value=0)
    share = counts.div(counts.sum(axis=1), axis=0) * 100
    bottom = np.zeros(len(share))
    for i, col in enumerate(share.columns):
        ax.bar(share.index.astype(str), share[col], bottom=bottom, label=str(col),
               color=OKABE_ITO[i % len(OKABE_ITO)], width=0.8)
        bottom += share[col].to_numpy()
    ax.set_ylabel("Patients (%)")
    ax.set_xlabel(year.replace("_", " "))
    ax.tick_params(axis="x", rotation=45)
    ax.legend(frameon=False, ncols=len(share.columns), loc="upper center",
              bbox_to_anchor=(0.5, 1.12))
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def forest_figure(frame: pd.DataFrame, estimate: str = "hr", label: str = "Hazard ratio",
                  ci_label: str = "95% CI") -> Figure:
    """Forest plot of estimates with 95 % CIs on a log scale (one row per term).

    An infinite bound (no profile bound) is drawn to the plot edge with an arrow.
    """
    fig = _figure(7.0, 0.9 + 0.35 * len(frame))
    ax = fig.add_subplot()
    y = np.arange(len(frame))[::-1]
    est = frame[estimate].to_numpy(float)
    lower, upper = frame["lower95"].to_numpy(float), frame["upper95"].to_numpy(float)
    finite = np.concatenate([est, lower[lower > 0], upper[np.isfinite(upper)]])
    lo_edge, hi_edge = finite.min() / 2, finite.max() * 2
    open_low, open_high = lower <= 0, ~np.isfinite(upper)
    lower, upper = np.where(open_low, lo_edge, lower), np.where(open_high, hi_edge, upper)
    ax.errorbar(est, y, xerr=[est - lower, upper - est], fmt="s", color=OKABE_ITO[0],
                ecolor="#333333", capsize=3, ms=5)
    for yi in y[open_high]:
        ax.annotate("", (hi_edge, yi), xytext=(hi_edge / 1.5, yi),
                    arrowprops={"arrowstyle": "->", "color": "#333333"})
    for yi in y[open_low]:
        ax.annotate("", (lo_edge, yi), xytext=(lo_edge * 1.5, yi),
                    arrowprops={"arrowstyle": "->", "color": "#333333"})
    ax.axvline(1.0, color="#888888", lw=1, ls="--")
    ax.set_xscale("log")
    ax.set_yticks(y, [str(t) for t in frame.index])
    ax.set_xlabel(f"{label} ({ci_label}, log scale)")
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def roc_figure(roc: ROCResult, marker: str) -> Figure:
    """ROC curve with the Youden cut-off marked."""
    fig = _figure(4.8, 4.6)
    ax = fig.add_subplot()
    fpr = np.concatenate([[0.0], 1 - roc.specificity, [1.0]])
    tpr = np.concatenate([[0.0], roc.sensitivity, [1.0]])
    ax.plot(fpr, tpr, color=OKABE_ITO[0], lw=1.8)
    ax.plot([0, 1], [0, 1], color="#999999", lw=1, ls="--")
    ax.plot(1 - roc.cutoff_specificity, roc.cutoff_sensitivity, "o", color=OKABE_ITO[1])
    sign = "≥" if roc.direction == "higher" else "≤"
    ax.annotate(f"{marker} {sign} {roc.cutoff:g}", (1 - roc.cutoff_specificity,
                                                   roc.cutoff_sensitivity),
                xytext=(10, -15), textcoords="offset points")
    ax.set_xlabel("1 − specificity")
    ax.set_ylabel("Sensitivity")
    ax.set_title(f"AUC {roc.auc:.3f} ({roc.auc_lower95:.3f}–{roc.auc_upper95:.3f})", loc="left")
    ax.set_aspect("equal")
    return fig


def render(fig: Figure) -> dict[str, bytes]:
    """PNG and SVG bytes of a figure."""
    out: dict[str, bytes] = {}
    for fmt in ("png", "svg"):
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt)
        out[fmt] = buf.getvalue()
    return out
