"""``crlm analyze``: a whole cohort analysis from a TOML config, as the source papers report it.

Selection flow → annual trend → Table 1 → Kaplan–Meier (+ numbers at risk, log-rank) →
univariable/multivariable Cox with its forest plot → logistic model → discrimination of markers
(ROC, or time-dependent AUC and C on a survival endpoint) → competing risks → validation of the
published scores. Every table is also written as CSV, every figure in the configured formats at
a journal column width; ``report.html`` is self-contained and ``report.docx`` holds the same
content; ``provenance.json`` records what produced it.

One label dictionary (``[labels]``, ``[levels]``) names variables and levels everywhere, and one
p-value style (``p_style``: nejm, lancet or apa) formats every p in text, tables and figures.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape

from crlm import __version__
from crlm.reports import figures
from crlm.reports.analysis_config import (
    AnalysisConfig,
    CompetingSpec,
    ConfigError,
    CutoffSpec,
    Endpoint,
    Filter,
    apply_filters,
    load_config,
    row_mask,
)
from crlm.reports.report_tables import (
    forest_rows,
    frame_html,
    journal_regression_frame,
    journal_table1,
)
from crlm.reports.style import Labels, PStyle
from crlm.safe_output import frame_to_csv
from crlm.stats import kaplan_meier, logrank_test
from crlm.stats.regression_table import RegressionTable, regression_table
from crlm.stats.roc import roc_analysis
from crlm.stats.table1 import table1

__all__ = ["AnalysisConfig", "ConfigError", "Filter", "Report", "Section", "analyze",
           "apply_filters", "load_config"]


@dataclass
class Section:
    title: str
    html: str = ""
    figure: str | None = None  # stem of a figure in the output folder
    notes: list[str] = field(default_factory=list)
    table: pd.DataFrame | None = None


@dataclass
class Report:
    """What ``analyze`` produced (paths are inside ``out_dir``)."""

    out_dir: Path
    sections: list[Section]
    files: list[str]
    provenance: dict[str, Any]


class Writer:
    """Writes the output files of one report and remembers their names."""

    def __init__(self, out_dir: Path, config: AnalysisConfig) -> None:
        self.out_dir = out_dir
        self.export = config.figures
        self.files: list[str] = []
        out_dir.mkdir(parents=True, exist_ok=True)

    def write(self, name: str, data: bytes | str) -> None:
        path = self.out_dir / name
        path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
        self.files.append(name)

    def figure(self, fig: Any, stem: str) -> str:
        """Save ``fig`` at the journal width in the configured formats (+ PNG for the report)."""
        formats = list(dict.fromkeys(["png", *self.export.formats]))
        blobs = figures.render(fig, formats, width_mm=figures.JOURNAL_WIDTH_MM[self.export.width],
                               dpi=self.export.dpi)
        for fmt, blob in blobs.items():
            self.write(f"{stem}.{fmt}", blob)
        return stem

    def csv(self, frame: pd.DataFrame, stem: str) -> None:
        self.write(f"{stem}.csv", frame_to_csv(frame))


@dataclass
class Context:
    """What every stage reads: the config, the analysed cohort, labels, p style, the writer."""

    config: AnalysisConfig
    cohort: pd.DataFrame
    group: str
    order: list[str]
    labels: Labels
    style: PStyle
    out: Writer
    progress: Callable[[str], None]

    def endpoint(self, key: str) -> Endpoint:
        if key not in self.config.endpoints:
            raise ConfigError(f"endpoint {key!r} is not defined under [endpoints]")
        return self.config.endpoints[key]

    def group_labels(self, column: str, values: Any) -> dict[str, str]:
        return {str(v): self.labels.level(column, v) for v in values}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------------- stages


def _select(df: pd.DataFrame, config: AnalysisConfig
            ) -> tuple[pd.DataFrame, list[tuple[str, int]], list[tuple[str, int]]]:
    """Apply the include/exclude steps: the cohort, the flow steps and the exclusions."""
    steps = [(config.start_label, len(df))]
    excluded: list[tuple[str, int]] = []
    cohort = df
    for f in config.include:
        kept = cohort[row_mask(cohort, f)]
        excluded.append((f"not {f.label}", len(cohort) - len(kept)))
        cohort = kept
        steps.append((f.label, len(cohort)))
    for f in config.exclude:
        kept = cohort[~row_mask(cohort, f)]
        excluded.append((f.label, len(cohort) - len(kept)))
        cohort = kept
        steps.append(("Remaining", len(cohort)))
    if steps[-1][0] == "Remaining":
        steps[-1] = ("Analysed", len(cohort))
    if cohort.empty:
        raise ConfigError("no patient is left after the selection steps")
    return cohort, steps, excluded


def _flow(ctx: Context, steps: list[tuple[str, int]], excluded: list[tuple[str, int]]
          ) -> list[Section]:
    ctx.progress("selection")
    flow = pd.DataFrame({"Step": [s for s, _ in steps], "Patients": [n for _, n in steps]})
    ctx.out.csv(flow, "flow")
    return [Section("Patient selection", figure=ctx.out.figure(
        figures.flow_figure(steps, excluded), "fig1_flow"), table=flow)]


def _trend(ctx: Context) -> list[Section]:
    year = ctx.config.trend_year
    if not year:
        return []
    ctx.progress("trend")
    if year not in ctx.cohort.columns:
        raise ConfigError(f"trend_year: column {year!r} not in the data")
    trend = pd.crosstab(ctx.cohort[year], ctx.cohort[ctx.group])
    ctx.out.csv(trend.reset_index(), "trend")
    fig = figures.trend_figure(ctx.cohort, year, ctx.group, ctx.order,
                               year_label=ctx.labels.var(year),
                               group_labels=ctx.group_labels(ctx.group, ctx.order))
    return [Section(f"Annual trend of {ctx.labels.var(ctx.group).lower()}",
                    figure=ctx.out.figure(fig, "fig2_trend"))]


def _table1(ctx: Context) -> list[Section]:
    spec = ctx.config.table1
    if not (spec.categorical or spec.continuous):
        return []
    ctx.progress("table 1")
    variables = [*spec.categorical, *spec.continuous, *spec.mean_sd]
    t1 = table1(ctx.cohort, ctx.group, categorical=spec.categorical,
                continuous=spec.continuous + [m for m in spec.mean_sd
                                              if m not in spec.continuous],
                mean_sd=spec.mean_sd,
                labels={v: ctx.labels.var(v) for v in [*variables, ctx.group]},
                overall=spec.overall)
    frame = journal_table1(t1, ctx.cohort, ctx.group, ctx.labels, ctx.style, smd=spec.smd)
    notes = list(t1.footnotes)
    if spec.smd:
        notes.append("SMD: standardised mean difference, averaged over pairs of groups (Yang & "
                     "Dalton's form for categorical variables); < 0.10 is usually read as "
                     "balanced.")
    ctx.out.csv(frame, "table1")
    _docx_table(frame, notes, ctx.out.out_dir / "table1.docx", "Table 1")
    ctx.out.files.append("table1.docx")
    return [Section(f"Table 1. Characteristics by {ctx.labels.var(ctx.group).lower()}",
                    html=frame_html(frame, notes), table=frame, notes=notes)]


def _survival(ctx: Context) -> list[Section]:
    sections = []
    for key, ep in ctx.config.endpoints.items():
        ctx.progress(f"Kaplan–Meier ({key})")
        sections.append(_km_section(ctx, ctx.cohort, ep, ctx.group,
                                    f"Kaplan–Meier: {ep.label} by "
                                    f"{ctx.labels.var(ctx.group).lower()}", f"fig3_km_{key}"))
    for i, sub in enumerate(ctx.config.subgroups, start=1):
        ctx.progress(f"subgroup {i}")
        part = apply_filters(ctx.cohort, sub.subset)
        if sub.group not in part.columns:
            raise ConfigError(f"{sub.title}: column {sub.group!r} not in the data")
        part = part.assign(**{sub.group: part[sub.group].astype("string")})
        sections.append(_km_section(ctx, part, ctx.endpoint(sub.endpoint), sub.group, sub.title,
                                    f"fig3_sub{i}"))
    return sections


def _km_section(ctx: Context, df: pd.DataFrame, ep: Endpoint, group: str, title: str,
                stem: str) -> Section:
    for col in (ep.time, ep.event, group):
        if col not in df.columns:
            raise ConfigError(f"{title}: column {col!r} not in the data")
    km = kaplan_meier(df, ep.time, ep.event, group)
    lr = logrank_test(df, ep.time, ep.event, group) if len(km.groups) > 1 else None
    t_max = float(df[ep.time].max())
    risk_times = ep.risk_times or [y * ep.time_scale
                                   for y in range(0, int(t_max / ep.time_scale) + 1)]
    ctx.out.csv(km.summary().reset_index(), f"{stem}_summary")
    ctx.out.csv(km.risk_table(risk_times), f"{stem}_at_risk")
    names = ctx.group_labels(group, km.groups)
    notes = [f"{names[str(level)]}: median {ep.label.lower()} "
             f"{_median_text(c.median(), ep.time_scale, ep.time_unit)}"
             for level, c in km.groups.items()]
    if lr is not None:
        notes.append(f"Log-rank test: χ² = {lr.chisq:.2f} on {lr.df} df, {ctx.style.text(lr.p)}.")
    fig = figures.km_figure(km, time_scale=ep.time_scale, time_label=ep.time_label, title="",
                            risk_times=risk_times, p_text=ctx.style.text(lr.p) if lr else None,
                            ci=ep.ci_bands, group_labels=names)
    return Section(title, figure=ctx.out.figure(fig, stem), notes=notes)


def _median_text(median: tuple[float | None, float | None, float | None], scale: float,
                 unit: str) -> str:
    est, lo, hi = median
    if est is None:
        return "not reached"

    def f(v: float | None) -> str:
        return "not reached" if v is None else f"{v / scale:.1f}"
    return f"{f(est)} {unit} (95% CI {f(lo)}–{f(hi)}{'' if hi is None else ' ' + unit})"


def _regression_notes(t: RegressionTable, labels: Labels, style: PStyle) -> list[str]:
    """The table's footnotes with factor names replaced by their labels, p in the style."""
    notes = []
    for note in t.footnotes:
        note = note.replace("univariable p < ", f"univariable {style.letter} < ")
        if t.forced and "clinically relevant factors (" in note:
            note = note.replace(", ".join(t.forced), ", ".join(labels.var(f) for f in t.forced))
        notes.append(note)
    return notes


def _cox(ctx: Context) -> list[Section]:
    spec = ctx.config.cox
    if spec is None:
        return []
    ctx.progress("Cox regression")
    ep = ctx.endpoint(spec.endpoint)
    cox = regression_table(ctx.cohort, spec.factors, kind="cox", time=ep.time, event=ep.event,
                           threshold=spec.threshold, forced=spec.forced,
                           reference=spec.reference, firth=spec.firth, ci=spec.ci)
    frame = journal_regression_frame(ctx.cohort.dropna(subset=[ep.time, ep.event]), cox,
                                     ep.event, ctx.labels, ctx.style, ep.event_label)
    notes = _regression_notes(cox, ctx.labels, ctx.style)
    ctx.out.csv(frame, "table2_cox")
    sections = [Section(f"Table 2. Cox regression for {ep.label.lower()}",
                        html=frame_html(frame, notes), table=frame, notes=notes)]
    if cox.entered:  # the forest plot draws the multivariable fit the table already holds
        used = ctx.cohort.dropna(subset=[ep.time, ep.event, *cox.entered])
        rows = forest_rows(used, cox, ep.event, ctx.labels, ctx.style)
        ci_label = "profile" if cox.ci_method == "profile" else "Wald"
        fig = figures.forest_figure(rows, ci_label=f"95% CI, {ci_label}",
                                    p_header=ctx.style.letter)
        sections.append(Section(f"Forest plot: multivariable hazard ratios for "
                                f"{ep.label.lower()} (n = {cox.n_multivariable})",
                                figure=ctx.out.figure(fig, "fig4_forest")))
    return sections


def _logistic(ctx: Context) -> list[Section]:
    spec = ctx.config.logistic
    if spec is None:
        return []
    ctx.progress("logistic regression")
    part = apply_filters(ctx.cohort, spec.subset)
    part = part.assign(**{spec.outcome: _as_01(part[spec.outcome])})
    lt = regression_table(part, spec.factors, kind="logistic", outcome=spec.outcome,
                          threshold=spec.threshold, forced=spec.forced,
                          reference=spec.reference, firth=spec.firth, ci=spec.ci)
    frame = journal_regression_frame(part.dropna(subset=[spec.outcome]), lt, spec.outcome,
                                     ctx.labels, ctx.style, ctx.labels.var(spec.outcome))
    notes = _regression_notes(lt, ctx.labels, ctx.style)
    ctx.out.csv(frame, "table3_logistic")
    return [Section(f"Table 3. {spec.title}", html=frame_html(frame, notes), table=frame,
                    notes=notes)]


def _as_01(series: pd.Series) -> pd.Series:
    """true/false, 1/0 (as values or text) → 1/0; anything else missing."""
    text = series.astype("string").str.strip().str.lower()
    return text.map({"true": 1, "1": 1, "1.0": 1, "false": 0, "0": 0, "0.0": 0}).astype("Float64")


def _cutoffs(ctx: Context) -> list[Section]:
    events = {ep.event: key for key, ep in ctx.config.endpoints.items()}
    sections = []
    for i, c in enumerate(ctx.config.cutoffs, start=1):
        ctx.progress(f"discrimination of {c.marker}")
        endpoint = c.endpoint or events.get(c.outcome or "")
        if endpoint is not None:
            sections.append(_survival_discrimination(ctx, c, ctx.endpoint(endpoint), i))
        else:
            sections.append(_roc_section(ctx, c, i))
    return sections


def _roc_section(ctx: Context, c: CutoffSpec, i: int) -> Section:
    assert c.outcome is not None
    roc = roc_analysis(ctx.cohort, c.marker, c.outcome)
    ctx.out.csv(pd.DataFrame([roc.to_dict()]).drop(columns=["warnings"]), f"roc_{c.marker}")
    marker = ctx.labels.var(c.marker)
    sign = "≥" if roc.direction == "higher" else "≤"
    return Section(
        f"ROC: {marker} for {ctx.labels.var(c.outcome).lower()}",
        figure=ctx.out.figure(figures.roc_figure(roc, marker), f"fig5_roc_{i}"),
        notes=[f"Youden cut-off {marker} {sign} {roc.cutoff:g}: sensitivity "
               f"{100 * roc.cutoff_sensitivity:.1f} %, specificity "
               f"{100 * roc.cutoff_specificity:.1f} %.", *roc.warnings])


def _survival_discrimination(ctx: Context, c: CutoffSpec, ep: Endpoint, i: int) -> Section:
    """Harrell's C, time-dependent AUC at the horizons and the maxstat cut-point."""
    from crlm.stats.roc import maxstat_cutpoint
    from crlm.stats.validation import harrell_c, time_dependent_auc_ci

    marker = ctx.labels.var(c.marker)
    hc = harrell_c(ctx.cohort, ep.time, ep.event, c.marker)
    aucs = [time_dependent_auc_ci(ctx.cohort, ep.time, ep.event, c.marker, h * ep.time_scale)
            for h in c.horizons]
    cut = maxstat_cutpoint(ctx.cohort, c.marker, ep.time, ep.event)
    table = pd.DataFrame({
        f"Time ({ep.time_unit})": [f"{h:g}" for h in c.horizons],
        "Time-dependent AUC (95% CI)": [f"{a.auc:.3f} ({a.lower95:.3f}–{a.upper95:.3f})"
                                        for a in aucs]})
    ctx.out.csv(table, f"tdauc_{c.marker}")
    fig = figures.auc_over_time_figure(
        {marker: [(h, a.auc, a.lower95, a.upper95) for h, a in zip(c.horizons, aucs,
                                                                      strict=True)]},
        time_label=ep.time_label)
    notes = _marker_calibration(ctx, c, ep) if c.expected else []
    return Section(
        f"Discrimination: {marker} for {ep.label.lower()}", table=table,
        figure=ctx.out.figure(fig, f"fig5_tdauc_{i}"),
        notes=[f"Harrell's C {hc.c:.3f} (95% CI {hc.lower95:.3f}–{hc.upper95:.3f}), "
               f"n = {hc.n}, {ep.event_label.lower()} = {hc.events}. Time-dependent AUC: "
               "cumulative/dynamic with inverse-probability-of-censoring weights (Uno 2007), "
               f"95% CI from {aucs[0].draws} bootstrap resamples — the survival outcome's "
               "follow-up is used, not a 0/1 event flag.",
               f"Maximally selected log-rank cut-point: {marker} ≤ {cut.cutpoint:g} vs "
               f"> {cut.cutpoint:g}, {ctx.style.text(cut.p)} (corrected for the search).",
               *cut.warnings, *notes])


def _marker_calibration(ctx: Context, c: CutoffSpec, ep: Endpoint) -> list[str]:
    """Calibration of the marker against the survival the config expects per value."""
    from crlm.stats.validation import calibration_against_published

    try:
        expected = {float(k): v for k, v in c.expected.items()}
    except ValueError:
        raise ConfigError(f"cutoffs {c.marker}: expected keys must be marker values") from None
    cal = calibration_against_published(ctx.cohort, ep.time, ep.event, c.marker, expected,
                                        c.calibration_horizon * ep.time_scale)
    ctx.out.csv(cal.table, f"calibration_{c.marker}")
    h = f"{c.calibration_horizon:g} {ep.time_unit}"
    return [f"Calibration at {h} (n = {cal.n}): observed/expected events {cal.oe_ratio:.2f} "
            f"(95% CI {cal.oe_lower95:.2f}–{cal.oe_upper95:.2f}); calibration slope "
            f"{cal.slope:.2f} (95% CI {cal.slope_lower95:.2f}–{cal.slope_upper95:.2f}); "
            f"recalibration factor exp(α) = {math.exp(cal.alpha):.2f}."]


def _competing(ctx: Context) -> list[Section]:
    spec = ctx.config.competing_risks
    if spec is None:
        return []
    ctx.progress("competing risks")
    from crlm.stats.competing import (
        GRAY_NOT_COMPUTABLE,
        cumulative_incidence,
        fine_gray,
        gray_test,
    )

    group = spec.group or ctx.group
    for col in (spec.time, spec.status, group, *spec.covariates):
        if col not in ctx.cohort.columns:
            raise ConfigError(f"competing_risks: column {col!r} not in the data")
    data = ctx.cohort.assign(**{group: ctx.cohort[group].astype("string")})
    cif = cumulative_incidence(data, spec.time, spec.status, group)
    gray = gray_test(data, spec.time, spec.status, group, cause=spec.cause)
    names = ctx.group_labels(group, cif)
    cause_label = spec.causes.get(str(spec.cause), f"cause {spec.cause}")
    curves = {names[g]: (c[spec.cause].time, c[spec.cause].estimate)
              for g, c in cif.items() if spec.cause in c}
    table = _cif_table(cif, spec, names)
    ctx.out.csv(table, "competing_cif")
    fig = figures.cif_figure(curves, time_scale=spec.time_scale, time_label=spec.time_label,
                             y_label=f"Cumulative incidence of {cause_label.lower()}",
                             p_text=ctx.style.text(gray.p))
    test = (f"Gray's test for {cause_label.lower()}: χ² = {gray.statistic:.2f} on {gray.df} "
            f"df, {ctx.style.text(gray.p)}." if gray.computable else f"{GRAY_NOT_COMPUTABLE}.")
    notes = [f"{test} Cumulative incidence by Aalen–Johansen; competing "
             "events: " + ", ".join(v for k, v in spec.causes.items()
                                    if k != str(spec.cause)) + "."]
    sections = [Section(f"Competing risks: cumulative incidence of {cause_label.lower()}",
                        figure=ctx.out.figure(fig, "fig6_cif"), table=table, notes=notes)]
    if spec.covariates:
        fg = fine_gray(data, spec.time, spec.status, spec.covariates, cause=spec.cause,
                       reference=dict(spec.reference))
        rows = fg.to_frame()
        frame = pd.DataFrame({
            "Characteristic": [ctx.labels.term(str(t)) for t in rows.index],
            "Subdistribution HR (95% CI)": [f"{r.shr:.2f} ({r.lower95:.2f}–{r.upper95:.2f})"
                                            for r in rows.itertuples()],
            ctx.style.letter: [ctx.style.value(float(p)) for p in rows["p"]]})
        ctx.out.csv(frame, "competing_finegray")
        fg_notes = [f"Fine–Gray model for {cause_label.lower()} (n = {fg.n}, events = "
                    f"{fg.events}); model-based standard errors."]
        sections.append(Section(f"Fine–Gray regression for {cause_label.lower()}",
                                html=frame_html(frame, fg_notes), table=frame, notes=fg_notes))
    return sections


def _cif_table(cif: dict[str, Any], spec: CompetingSpec, names: dict[str, str]) -> pd.DataFrame:
    rows = []
    for g, causes in cif.items():
        for cause, curve in causes.items():
            at = curve.at([t * spec.time_scale for t in spec.at])
            for t, est in zip(spec.at, at["estimate"], strict=True):
                rows.append({"Group": names[g],
                             "Event": spec.causes.get(str(cause), f"cause {cause}"),
                             f"Time ({spec.time_label.lower()})": f"{t:g}",
                             "Cumulative incidence (%)": f"{100 * est:.1f}"})
    return pd.DataFrame(rows)


def _score_validation(ctx: Context) -> list[Section]:
    spec = ctx.config.score_validation
    if spec is None:
        return []
    ctx.progress("score validation")
    from crlm.reports.score_validation import validate_cohort_scores

    ep = ctx.endpoint(spec.endpoint)
    res = validate_cohort_scores(ctx.cohort, ep.time, ep.event, time_unit=spec.time_unit,
                                 horizons_years=spec.horizons, score_columns=spec.scores or None,
                                 draws=spec.draws, seed=spec.seed)
    title = f"Validation of prognostic scores for {ep.label.lower()}"
    if res.result is None:
        return [Section(title, notes=res.notes())]
    table, calibration = res.table(), res.calibration_table()
    ctx.out.csv(table, "score_validation")
    sections = [Section(title, figure=ctx.out.figure(figures.validation_figure(res),
                                                     "fig7_score_validation"),
                        html=frame_html(table, res.notes()), table=table, notes=res.notes())]
    if not calibration.empty:
        ctx.out.csv(calibration, "score_calibration")
        note = ["Recalibrated: the published survival raised to exp(α), α chosen so that the "
                "mean expected 5-year risk equals the observed one (slope kept at 1)."]
        sections.append(Section("Calibration of the published 5-year survival",
                                html=frame_html(calibration, note), table=calibration,
                                notes=note))
    return sections


# ---------------------------------------------------------------------------- driver


def _read(data_path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(data_path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{data_path}: cannot read as CSV ({exc})") from None


def _context(config: AnalysisConfig, cohort: pd.DataFrame, out: Writer,
             progress: Callable[[str], None]) -> Context:
    group = config.group.column
    if group not in cohort.columns:
        raise ConfigError(f"group: column {group!r} not in the data")
    order = config.group.order or sorted(cohort[group].dropna().astype(str).unique())
    cohort = cohort.assign(**{group: pd.Categorical(cohort[group].astype("string"),
                                                    categories=order)})
    return Context(config, cohort, group, order, config.label_dictionary(),
                   PStyle(config.p_style), out, progress)


STAGES: tuple[Callable[[Context], list[Section]], ...] = (
    _trend, _table1, _survival, _cox, _logistic, _cutoffs, _competing, _score_validation)


def analyze(
    data_path: Path,
    config_path: Path,
    out_dir: Path,
    *,
    progress: Callable[[str], None] = lambda _step: None,
) -> Report:
    """Run the configured analysis on a cohort CSV and write the report to ``out_dir``."""
    config = load_config(config_path)
    data_bytes = data_path.read_bytes()
    df = _read(data_path)
    out = Writer(out_dir, config)
    cohort, steps, excluded = _select(df, config)
    ctx = _context(config, cohort, out, progress)
    sections = _flow(ctx, steps, excluded)
    for stage in STAGES:
        sections += stage(ctx)
    progress("writing report")
    provenance = {
        "crlm_version": __version__,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "config": str(config_path), "config_sha256": _sha256(config_path.read_bytes()),
        "data": str(data_path), "data_sha256": _sha256(data_bytes),
        "rows_input": len(df), "rows_analysed": len(cohort),
        "selection": [{"step": s, "n": n} for s, n in steps],
        "p_style": config.p_style,
        "figures": config.figures.model_dump(),
    }
    out.write("provenance.json", json.dumps(provenance, indent=2))
    report = Report(out_dir, sections, out.files, provenance)
    out.write("report.html", _html(config, report))
    _docx(config, report, out_dir / "report.docx")
    out.files.append("report.docx")
    return report


_env = Environment(loader=PackageLoader("crlm.reports", "templates"),
                   autoescape=select_autoescape(enabled_extensions=("html",)))


def _html(config: AnalysisConfig, report: Report) -> str:
    images = {}
    for s in report.sections:
        if s.figure:
            png = (report.out_dir / f"{s.figure}.png").read_bytes()
            images[s.figure] = base64.b64encode(png).decode("ascii")
    return _env.get_template("cohort_report.html").render(
        config=config, report=report, images=images)


def _add_table(doc: Any, frame: pd.DataFrame) -> None:
    table = doc.add_table(rows=1, cols=len(frame.columns))
    table.style = "Table Grid"
    for cell, name in zip(table.rows[0].cells, frame.columns, strict=True):
        cell.text = str(name)
    for row in frame.itertuples(index=False):
        for cell, value in zip(table.add_row().cells, row, strict=True):
            cell.text = "" if pd.isna(value) else str(value)


def _docx_table(frame: pd.DataFrame, notes: list[str], path: Path, title: str) -> None:
    """A Word document holding one table and its footnotes."""
    from docx import Document

    doc = Document()
    doc.add_heading(title, level=2)
    _add_table(doc, frame)
    for note in notes:
        doc.add_paragraph(note, style="List Number")
    doc.save(str(path))


def _docx(config: AnalysisConfig, report: Report, path: Path) -> None:
    from docx import Document
    from docx.shared import Mm

    doc = Document()
    doc.add_heading(config.title, level=1)
    if config.source:
        doc.add_paragraph(config.source)
    width = Mm(figures.JOURNAL_WIDTH_MM[config.figures.width])
    for s in report.sections:
        doc.add_heading(s.title, level=2)
        if s.figure:
            doc.add_picture(str(report.out_dir / f"{s.figure}.png"), width=width)
        if s.table is not None:
            _add_table(doc, s.table)
        for note in s.notes:
            doc.add_paragraph(note)
    p = report.provenance
    doc.add_paragraph(f"crlm {p['crlm_version']}; data sha256 {p['data_sha256'][:16]}…; "
                      f"config sha256 {p['config_sha256'][:16]}…; {p['created']}")
    doc.save(str(path))
