"""Publication figures (matplotlib, Agg): KM with numbers at risk, flow diagram, trend, forest,
ROC, time-dependent AUC, cumulative incidence and score validation. Okabe–Ito colour-blind-safe
palette; each function returns a Figure; :func:`render` exports it at a journal column width
(single 89 mm, double 183 mm) and resolution (300/600 dpi TIFF as journals ask).

Figures never format p values or labels themselves: the report passes the text it wants
(one p style, one label dictionary).
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.text import Text
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from crlm.stats.roc import ROCResult
from crlm.stats.survival import KMResult

if TYPE_CHECKING:
    from crlm.reports.score_validation import CohortScoreValidation

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
    p_text: str | None = None,
    ci: bool = False,
    group_labels: Mapping[str, str] | None = None,
) -> Figure:
    """Kaplan–Meier curves with censor marks, optional CI bands, the log-rank p (``p_text``, as
    the report formats it) and a numbers-at-risk table aligned under the x-axis (``risk_times``
    in the data's time unit). ``group_labels`` name the groups in the legend and risk table."""
    names = dict(group_labels or {})
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
        ax.step(x, y, where="post", color=colour, lw=1.8,
                label=f"{names.get(name, name)} (n = {curve.n})")
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
    if p_text:
        ax.text(0.98, 0.95, f"Log-rank {p_text}", transform=ax.transAxes, ha="right", va="top")
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
        table_ax.text(-0.045, row, names.get(name, name),
                      transform=table_ax.get_yaxis_transform(), ha="right", va="center",
                      color=colour, fontsize=9)
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
        box = textwrap.fill(label, 30, break_on_hyphens=False)
        ax.text(3.2, y, f"{box}\nn = {count:,}", ha="center", va="center",
                bbox={"boxstyle": "round,pad=0.5", "fc": "#eef4f9", "ec": "#0072B2"})
        if i < n - 1:
            ax.annotate("", xy=(3.2, y - 1.45), xytext=(3.2, y - 0.55),
                        arrowprops={"arrowstyle": "->", "color": "#333333"})
            if i < len(excluded):
                label_x, count_x = excluded[i]
                ax.annotate("", xy=(6.2, y - 1.0), xytext=(3.2, y - 1.0),
                            arrowprops={"arrowstyle": "->", "color": "#D55E00"})
                side = textwrap.fill(f"Excluded: {label_x}", 26, break_on_hyphens=False)
                ax.text(6.3, y - 1.0, f"{side}\nn = {count_x:,}", ha="left",
                        va="center", fontsize=9,
                        bbox={"boxstyle": "round,pad=0.4", "fc": "#fff4ec", "ec": "#D55E00"})
    return fig


def trend_figure(df: pd.DataFrame, year: str, group: str, order: Sequence[str], *,
                 year_label: str | None = None,
                 group_labels: Mapping[str, str] | None = None) -> Figure:
    """Annual share of each group (Maki 2023a Fig. 2), stacked bars in percent."""
    fig = _figure(7.0, 3.6)
    ax = fig.add_subplot()
    counts = pd.crosstab(df[year], df[group]).reindex(columns=list(order), fill_value=0)
    share = counts.div(counts.sum(axis=1), axis=0) * 100
    bottom = np.zeros(len(share))
    for i, col in enumerate(share.columns):
        ax.bar(share.index.astype(str), share[col], bottom=bottom,
               label=(group_labels or {}).get(str(col), str(col)),
               color=OKABE_ITO[i % len(OKABE_ITO)], width=0.8)
        bottom += share[col].to_numpy()
    ax.set_ylabel("Patients (%)")
    ax.set_xlabel(year_label or year.replace("_", " "))
    ax.tick_params(axis="x", rotation=45)
    ax.legend(frameon=False, ncols=len(share.columns), loc="upper center",
              bbox_to_anchor=(0.5, 1.12))
    ax.spines[["top", "right"]].set_visible(False)
    return fig


LOG_TICKS = (0.0625, 0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)


def plain_log_axis(ax: object, lo: float, hi: float) -> None:
    """A log x-axis labelled 0.25, 0.5, 1, 2, 4 … (no 10⁰ or 2×10⁰, no minor labels)."""
    ticks = [t for t in LOG_TICKS if lo <= t <= hi] or [1.0]
    ax.set_xscale("log")  # type: ignore[attr-defined]
    ax.xaxis.set_major_locator(FixedLocator(ticks))  # type: ignore[attr-defined]
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))  # type: ignore[attr-defined]
    ax.xaxis.set_minor_locator(NullLocator())  # type: ignore[attr-defined]


def forest_figure(rows: pd.DataFrame, *, label: str = "Hazard ratio",
                  ci_label: str = "95% CI", p_header: str = "P",
                  estimate_header: str = "HR (95% CI)") -> Figure:
    """Forest plot with an aligned estimate (95 % CI) and p column, on a plain log axis.

    ``rows`` (top to bottom): ``label``, ``estimate``, ``lower``, ``upper`` (NaN for header and
    reference rows), ``text`` (the "HR (95% CI)" cell, e.g. "1 (reference)") and ``p`` (text).
    An infinite bound (no profile bound) is drawn to the plot edge with an arrow.
    """
    n = len(rows)
    fig = _figure(7.0, 1.1 + 0.3 * n)
    grid = fig.add_gridspec(1, 3, width_ratios=[3.0, 1.45, 0.55], wspace=0.02)
    ax = fig.add_subplot(grid[0, 0])
    text_ax, p_ax = fig.add_subplot(grid[0, 1], sharey=ax), fig.add_subplot(grid[0, 2], sharey=ax)
    y = np.arange(n)[::-1].astype(float)
    est = rows["estimate"].to_numpy(float)
    lower, upper = rows["lower"].to_numpy(float), rows["upper"].to_numpy(float)
    has = np.isfinite(est)
    finite = np.concatenate([est[has], lower[has & (lower > 0)],
                             upper[has & np.isfinite(upper)], [1.0]])
    lo_edge, hi_edge = finite.min() / 1.6, finite.max() * 1.6
    open_low, open_high = has & (lower <= 0), has & ~np.isfinite(upper)
    lower = np.where(open_low, lo_edge, lower)
    upper = np.where(open_high, hi_edge, upper)
    ax.errorbar(est[has], y[has], xerr=[est[has] - lower[has], upper[has] - est[has]], fmt="s",
                color=OKABE_ITO[0], ecolor="#333333", capsize=3, ms=5)
    for yi in y[open_high]:
        ax.annotate("", (hi_edge, yi), xytext=(hi_edge / 1.5, yi),
                    arrowprops={"arrowstyle": "->", "color": "#333333"})
    for yi in y[open_low]:
        ax.annotate("", (lo_edge, yi), xytext=(lo_edge * 1.5, yi),
                    arrowprops={"arrowstyle": "->", "color": "#333333"})
    ax.axvline(1.0, color="#888888", lw=1, ls="--")
    ax.set_xlim(lo_edge, hi_edge)
    plain_log_axis(ax, lo_edge, hi_edge)
    ax.set_ylim(-0.7, n - 0.3)
    ax.set_yticks(y, [str(t) for t in rows["label"]])
    for tick, is_header in zip(ax.get_yticklabels(), ~has & (rows["text"] == ""), strict=True):
        tick.set_fontweight("bold" if is_header else "normal")
    ax.set_xlabel(f"{label} ({ci_label}, log scale)")
    ax.spines[["top", "right"]].set_visible(False)
    for side_ax, column, header in ((text_ax, "text", estimate_header), (p_ax, "p", p_header)):
        side_ax.axis("off")
        side_ax.text(0.5, n - 0.35, header, ha="center", va="bottom", fontweight="bold",
                     transform=side_ax.get_yaxis_transform())
        for yi, value in zip(y, rows[column], strict=True):
            side_ax.text(0.5, yi, str(value), ha="center", va="center",
                         transform=side_ax.get_yaxis_transform())
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


def auc_over_time_figure(curves: Mapping[str, Sequence[tuple[float, float, float, float]]],
                         *, time_label: str = "Years") -> Figure:
    """Time-dependent AUC (95 % CI) at each horizon, one line per marker or score.

    ``curves[label]`` = [(time in display units, AUC, lower, upper), …].
    """
    fig = _figure(5.6, 3.8)
    ax = fig.add_subplot()
    for i, (name, points) in enumerate(curves.items()):
        colour = OKABE_ITO[i % len(OKABE_ITO)]
        t, auc, lo, hi = (np.array(v, dtype=float) for v in zip(*points, strict=True))
        offset = (i - (len(curves) - 1) / 2) * 0.04 * max(1.0, float(t.max()) / 5)
        ax.errorbar(t + offset, auc, yerr=[np.nan_to_num(auc - lo), np.nan_to_num(hi - auc)],
                    fmt="o-", color=colour, capsize=3, ms=4, lw=1.4, label=name)
    ticks = sorted({float(p[0]) for points in curves.values() for p in points})
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.axhline(0.5, color="#999999", lw=1, ls="--")
    ax.set_ylim(0.3, 1.0)
    ax.set_xlabel(time_label)
    ax.set_ylabel("Time-dependent AUC (95% CI)")
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(frameon=False, loc="lower left")
    return fig


def cif_figure(curves: Mapping[str, tuple[np.ndarray, np.ndarray]], *, time_scale: float = 1.0,
               time_label: str = "Time", y_label: str = "Cumulative incidence",
               p_text: str | None = None) -> Figure:
    """Cumulative incidence step curves; ``curves[label] = (times, estimates)``."""
    fig = _figure(6.0, 4.2)
    ax = fig.add_subplot()
    for i, (name, (t, f)) in enumerate(curves.items()):
        ax.step(np.concatenate([[0.0], t]) / time_scale, np.concatenate([[0.0], f]),
                where="post", color=OKABE_ITO[i % len(OKABE_ITO)], lw=1.8, label=name)
    ax.set_ylim(0, 1.0)
    ax.set_xlim(left=0)
    ax.set_xlabel(time_label)
    ax.set_ylabel(y_label)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(frameon=False, loc="upper left")
    if p_text:
        ax.text(0.98, 0.95, f"Gray's test {p_text}", transform=ax.transAxes, ha="right",
                va="top")
    return fig


def validation_figure(res: CohortScoreValidation) -> Figure:
    """Scores side by side: (a) Harrell's C, (b) AUC over time, (c) published vs observed
    5-year survival per score value (dots) and after recalibration (crosses); legend in (d)."""
    from crlm.reports.score_validation import SHORT_NAMES

    assert res.result is not None
    r = res.result
    fig = _figure(7.0, 6.0)
    a, b, c, key = (fig.add_subplot(2, 2, i) for i in (1, 2, 3, 4))
    names = r.names
    short = {n: SHORT_NAMES.get(n, res.labels[n]) for n in names}
    y = np.arange(len(names))[::-1]
    cs = [r.concordance[n] for n in names]
    a.errorbar([x.c for x in cs], y, xerr=[[x.c - x.lower95 for x in cs],
                                           [x.upper95 - x.c for x in cs]],
               fmt="s", color=OKABE_ITO[0], ecolor="#333333", capsize=3)
    a.axvline(0.5, color="#999999", lw=1, ls="--")
    a.set_yticks(y, [short[n] for n in names])
    a.set_ylim(-0.6, len(names) - 0.4)
    a.set_xlabel("Harrell's C (95% CI)")
    a.set_title("a  Discrimination", loc="left")
    handles = []
    for i, n in enumerate(names):
        pts = [(h, x.auc, x.lower95, x.upper95)
               for h, x in zip(res.horizons_years, r.auc[n], strict=True)]
        t, auc, lo, hi = (np.array(v, dtype=float) for v in zip(*pts, strict=True))
        handles.append(b.errorbar(
            t + (i - (len(names) - 1) / 2) * 0.12, auc,
            yerr=[np.nan_to_num(auc - lo), np.nan_to_num(hi - auc)], fmt="o-",
            color=OKABE_ITO[i % len(OKABE_ITO)], capsize=2, ms=4, label=res.labels[n]))
    b.axhline(0.5, color="#999999", lw=1, ls="--")
    b.set_xticks(res.horizons_years, [f"{h:g}" for h in res.horizons_years])
    b.set_xlabel("Years")
    b.set_ylabel("AUC (95% CI)")
    b.set_title("b  Time-dependent AUC", loc="left")
    c.plot([0, 1], [0, 1], color="#999999", lw=1, ls="--")
    for i, n in enumerate(names):
        cal = r.calibration.get(n)
        if cal is None:
            continue
        colour = OKABE_ITO[i % len(OKABE_ITO)]
        t = cal.table.dropna(subset=["observed"])
        c.errorbar(t["published"], t["observed"], yerr=[t["observed"] - t["observed_lower95"],
                                                        t["observed_upper95"] - t["observed"]],
                   fmt="o", color=colour, capsize=2)
        c.plot(t["recalibrated"], t["observed"], "x", color=colour)
    c.set_xlim(0, 1)
    c.set_ylim(0, 1)
    c.set_xlabel("Expected 5-year survival")
    c.set_ylabel("Observed (95% CI)")
    c.set_title("c  Calibration", loc="left")
    key.axis("off")
    key.legend(handles=handles, frameon=False, loc="upper left",
               title="● published, × recalibrated (c)")
    for axis in (a, b, c):
        axis.spines[["top", "right"]].set_visible(False)
    return fig


FORMATS = ("png", "svg", "pdf", "tiff")
JOURNAL_WIDTH_MM = {"single": 89.0, "double": 183.0}
MIN_FONT_PT = 6.0
MIN_LINE_PT = 0.5
MM_PER_INCH = 25.4


def fit_width(fig: Figure, width_mm: float) -> None:
    """Resize ``fig`` to ``width_mm`` (aspect kept) and scale its text (never below 6 pt),
    lines and markers (never below 0.5 pt) alike."""
    width, height = fig.get_size_inches()
    factor = width_mm / MM_PER_INCH / width
    fig.set_size_inches(width * factor, height * factor)
    for text in fig.findobj(Text):
        text.set_fontsize(max(MIN_FONT_PT, text.get_fontsize() * factor))
    for line in fig.findobj(Line2D):
        line.set_linewidth(max(MIN_LINE_PT, line.get_linewidth() * factor))
        line.set_markersize(line.get_markersize() * factor)
        line.set_markeredgewidth(max(MIN_LINE_PT, line.get_markeredgewidth() * factor))
    for coll in fig.findobj(LineCollection):
        coll.set_linewidth([max(MIN_LINE_PT, w * factor) for w in coll.get_linewidth()])


def render(fig: Figure, formats: Sequence[str] = ("png", "svg"), *,
           width_mm: float | None = None, dpi: int = 300) -> dict[str, bytes]:
    """The figure's bytes per format (png, svg, pdf, tiff), optionally at a journal width.

    TIFF is LZW-compressed; raster formats use ``dpi``.
    """
    if width_mm is not None:
        fit_width(fig, width_mm)
    out: dict[str, bytes] = {}
    for fmt in formats:
        buf = io.BytesIO()
        extra = {"pil_kwargs": {"compression": "tiff_lzw"}} if fmt == "tiff" else {}
        fig.savefig(buf, format=fmt, dpi=dpi, **extra)
        out[fmt] = buf.getvalue()
    return out
