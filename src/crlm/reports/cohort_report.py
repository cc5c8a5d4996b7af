"""``crlm analyze``: a whole cohort analysis from a TOML config, as the source papers report it.

Selection flow → annual trend → Table 1 → Kaplan–Meier (+ numbers at risk, log-rank) →
univariable/multivariable Cox → logistic model → forest plot → ROC cut-offs. Every table is
also written as CSV, every figure as PNG and SVG; ``report.html`` is self-contained and
``report.docx`` holds the same content; ``provenance.json`` records what produced it.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from crlm import __version__
from crlm.reports import figures
from crlm.safe_output import frame_to_csv
from crlm.stats import kaplan_meier, logrank_test
from crlm.stats.regression_table import regression_table
from crlm.stats.roc import roc_analysis
from crlm.stats.table1 import table1

Op = Literal["==", "!=", "<", "<=", ">", ">=", "in", "not_in", "missing", "present"]


class Filter(BaseModel):
    """One selection step: keep (``include``) or drop (``exclude``) rows matching the condition."""

    model_config = ConfigDict(extra="forbid")

    label: str
    column: str
    op: Op
    value: Any = None


class Endpoint(BaseModel):
    model_config = ConfigDict(extra="forbid")

    time: str
    event: str
    label: str = "Overall survival"
    time_scale: float = Field(365.25, gt=0, description="Data time units per displayed unit.")
    time_label: str = "Years"
    risk_times: list[float] | None = None
    ci_bands: bool = Field(False, description="Draw 95 % confidence bands on KM curves.")


class GroupSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    column: str
    order: list[str] | None = None


class Table1Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    categorical: list[str] = Field(default_factory=list)
    continuous: list[str] = Field(default_factory=list)
    mean_sd: list[str] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)


class CoxSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    endpoint: str = "os"
    factors: list[str]
    threshold: float = Field(0.10, gt=0, le=1)
    forced: list[str] = Field(default_factory=list)
    reference: dict[str, str] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)
    firth: bool = Field(False, description="Firth-penalised Cox (small samples, no-event groups).")
    ci: Literal["profile", "wald"] = Field(
        "profile", description="With firth: profile penalised-likelihood (default) or Wald CIs.")


class LogisticSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = "Logistic regression"
    outcome: str
    factors: list[str]
    threshold: float = Field(0.10, gt=0, le=1)
    forced: list[str] = Field(default_factory=list)
    reference: dict[str, str] = Field(default_factory=dict)
    subset: list[Filter] = Field(default_factory=list)
    firth: bool = Field(False, description="Firth-penalised logistic (separation).")
    ci: Literal["profile", "wald"] = Field(
        "profile", description="With firth: profile penalised-likelihood (default) or Wald CIs.")


class CutoffSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    marker: str
    outcome: str


class SubgroupKM(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str
    group: str
    endpoint: str = "os"
    subset: list[Filter] = Field(default_factory=list)


class AnalysisConfig(BaseModel):
    """The TOML config of ``crlm analyze`` (see examples/maki2023.toml)."""

    model_config = ConfigDict(extra="forbid")

    title: str
    source: str = ""
    start_label: str = "Patients in the dataset"
    include: list[Filter] = Field(default_factory=list)
    exclude: list[Filter] = Field(default_factory=list)
    group: GroupSpec
    trend_year: str | None = None
    endpoints: dict[str, Endpoint]
    table1: Table1Spec = Field(default_factory=Table1Spec)
    cox: CoxSpec | None = None
    logistic: LogisticSpec | None = None
    cutoffs: list[CutoffSpec] = Field(default_factory=list)
    subgroups: list[SubgroupKM] = Field(default_factory=list)


class ConfigError(ValueError):
    """The config or data cannot drive the analysis (message names the setting or column)."""


def load_config(path: Path) -> AnalysisConfig:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    try:
        return AnalysisConfig.model_validate(raw)
    except ValidationError as exc:
        from crlm.domain import format_validation_error

        raise ConfigError(f"{path}:\n{format_validation_error(exc)}") from None


def _mask(df: pd.DataFrame, f: Filter) -> pd.Series:
    if f.column not in df.columns:
        raise ConfigError(f"filter {f.label!r}: column {f.column!r} not in the data")
    col = df[f.column]
    if f.op == "missing":
        return col.isna()
    if f.op == "present":
        return col.notna()
    if f.op in ("in", "not_in"):
        values = f.value if isinstance(f.value, list) else [f.value]
        m = col.isin(values)
        return m if f.op == "in" else ~m & col.notna()
    ops: dict[str, Callable[[Any, Any], Any]] = {
        "==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}
    try:
        return ops[f.op](col, f.value).fillna(False).astype(bool)
    except TypeError as exc:
        raise ConfigError(f"filter {f.label!r}: cannot compare {f.column!r} with "
                          f"{f.value!r} ({exc})") from None


def apply_filters(df: pd.DataFrame, filters: list[Filter]) -> pd.DataFrame:
    for f in filters:
        df = df[_mask(df, f)]
    return df


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


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


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
    try:
        df = pd.read_csv(data_path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{data_path}: cannot read as CSV ({exc})") from None
    out_dir.mkdir(parents=True, exist_ok=True)
    files: list[str] = []
    sections: list[Section] = []

    def write(name: str, data: bytes | str) -> None:
        path = out_dir / name
        path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
        files.append(name)

    def figure(fig: Any, stem: str) -> str:
        for fmt, blob in figures.render(fig).items():
            write(f"{stem}.{fmt}", blob)
        return stem

    def table_csv(frame: pd.DataFrame, stem: str) -> None:
        write(f"{stem}.csv", frame_to_csv(frame))

    # 1. selection flow
    progress("selection")
    steps = [(config.start_label, len(df))]
    excluded: list[tuple[str, int]] = []
    cohort = df
    for f in config.include:
        kept = cohort[_mask(cohort, f)]
        excluded.append((f"not {f.label}", len(cohort) - len(kept)))
        cohort = kept
        steps.append((f.label, len(cohort)))
    for f in config.exclude:
        kept = cohort[~_mask(cohort, f)]
        excluded.append((f.label, len(cohort) - len(kept)))
        cohort = kept
        steps.append(("Remaining", len(cohort)))
    if steps[-1][0] == "Remaining":
        steps[-1] = ("Analysed", len(cohort))
    if cohort.empty:
        raise ConfigError("no patient is left after the selection steps")
    group = config.group.column
    if group not in cohort.columns:
        raise ConfigError(f"group: column {group!r} not in the data")
    order = config.group.order or sorted(cohort[group].dropna().astype(str).unique())
    cohort = cohort.assign(**{group: pd.Categorical(cohort[group].astype("string"),
                                                    categories=order)})
    flow = pd.DataFrame({"step": [s for s, _ in steps], "n": [n for _, n in steps]})
    table_csv(flow, "flow")
    sections.append(Section("Patient selection", figure=figure(
        figures.flow_figure(steps, excluded), "fig1_flow"), table=flow))

    # 2. trend
    if config.trend_year:
        progress("trend")
        if config.trend_year not in cohort.columns:
            raise ConfigError(f"trend_year: column {config.trend_year!r} not in the data")
        trend = pd.crosstab(cohort[config.trend_year], cohort[group])
        table_csv(trend.reset_index(), "trend")
        sections.append(Section(f"Annual trend of {group}", figure=figure(
            figures.trend_figure(cohort, config.trend_year, group, order), "fig2_trend")))

    # 3. Table 1
    if config.table1.categorical or config.table1.continuous:
        progress("table 1")
        t1 = table1(cohort, group, categorical=config.table1.categorical,
                    continuous=config.table1.continuous + [
                        m for m in config.table1.mean_sd if m not in config.table1.continuous],
                    mean_sd=config.table1.mean_sd, labels=config.table1.labels)
        table_csv(t1.frame, "table1")
        t1.to_docx(out_dir / "table1.docx")
        files.append("table1.docx")
        sections.append(Section("Table 1. Characteristics by " + group, html=t1.to_html(),
                                table=t1.frame, notes=t1.footnotes))

    # 4. survival by group
    for key, ep in config.endpoints.items():
        progress(f"Kaplan–Meier ({key})")
        sections.append(_km_section(cohort, ep, group, f"Kaplan–Meier: {ep.label} by {group}",
                                    f"fig3_km_{key}", figure, table_csv))
    for i, sub in enumerate(config.subgroups, start=1):
        progress(f"subgroup {i}")
        ep = _endpoint(config, sub.endpoint)
        part = apply_filters(cohort, sub.subset)
        part = part.assign(**{sub.group: part[sub.group].astype("string")})
        sections.append(_km_section(part, ep, sub.group, sub.title, f"fig3_sub{i}", figure,
                                    table_csv))

    # 5. Cox
    if config.cox:
        progress("Cox regression")
        ep = _endpoint(config, config.cox.endpoint)
        cox = regression_table(cohort, config.cox.factors, kind="cox", time=ep.time,
                               event=ep.event, threshold=config.cox.threshold,
                               forced=config.cox.forced, reference=config.cox.reference,
                               labels=config.cox.labels, firth=config.cox.firth,
                               ci=config.cox.ci)
        table_csv(cox.frame, "table2_cox")
        sections.append(Section(f"Table 2. Cox regression for {ep.label.lower()}",
                                html=cox.to_html(), table=cox.frame, notes=cox.footnotes))
        if cox.entered:
            from crlm.stats.cox import cox_ph
            from crlm.stats.firth import firth_cox

            used = cohort.dropna(subset=[ep.time, ep.event, *cox.entered])
            ref = {k: v for k, v in config.cox.reference.items() if k in cox.entered}
            fit = (firth_cox(used, ep.time, ep.event, cox.entered, reference=ref,
                             ci=config.cox.ci) if config.cox.firth
                   else cox_ph(used, ep.time, ep.event, cox.entered, reference=ref)).to_frame()
            ci_label = "profile" if cox.ci_method == "profile" else "Wald"
            sections.append(Section("Forest plot (multivariable hazard ratios)", figure=figure(
                figures.forest_figure(fit, ci_label=f"95% CI, {ci_label}"), "fig4_forest")))

    # 6. logistic
    if config.logistic:
        progress("logistic regression")
        spec = config.logistic
        part = apply_filters(cohort, spec.subset)
        part = part.assign(**{spec.outcome: _as_01(part[spec.outcome])})
        lt = regression_table(part, spec.factors, kind="logistic", outcome=spec.outcome,
                              threshold=spec.threshold, forced=spec.forced,
                              reference=spec.reference, firth=spec.firth, ci=spec.ci)
        table_csv(lt.frame, "table3_logistic")
        sections.append(Section(f"Table 3. {spec.title}", html=lt.to_html(), table=lt.frame,
                                notes=lt.footnotes))

    # 7. ROC cut-offs
    for i, c in enumerate(config.cutoffs, start=1):
        progress(f"ROC {c.marker}")
        roc = roc_analysis(cohort, c.marker, c.outcome)
        table_csv(pd.DataFrame([roc.to_dict()]).drop(columns=["warnings"]), f"roc_{c.marker}")
        sections.append(Section(
            f"ROC: {c.marker} for {c.outcome}", figure=figure(figures.roc_figure(roc, c.marker),
                                                              f"fig5_roc_{i}"),
            notes=[f"Youden cut-off {c.marker} {'≥' if roc.direction == 'higher' else '≤'} "
                   f"{roc.cutoff:g}: sensitivity {100 * roc.cutoff_sensitivity:.1f} %, "
                   f"specificity {100 * roc.cutoff_specificity:.1f} %.", *roc.warnings]))

    progress("writing report")
    provenance = {
        "crlm_version": __version__,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "config": str(config_path), "config_sha256": _sha256(config_path.read_bytes()),
        "data": str(data_path), "data_sha256": _sha256(data_bytes),
        "rows_input": len(df), "rows_analysed": len(cohort),
        "selection": [{"step": s, "n": n} for s, n in steps],
    }
    write("provenance.json", json.dumps(provenance, indent=2))
    report = Report(out_dir, sections, files, provenance)
    write("report.html", _html(config, report))
    _docx(config, report, out_dir / "report.docx")
    files.append("report.docx")
    return report


def _as_01(series: pd.Series) -> pd.Series:
    """true/false, 1/0 (as values or text) → 1/0; anything else missing."""
    text = series.astype("string").str.strip().str.lower()
    return text.map({"true": 1, "1": 1, "1.0": 1, "false": 0, "0": 0, "0.0": 0}).astype("Float64")


def _endpoint(config: AnalysisConfig, key: str) -> Endpoint:
    if key not in config.endpoints:
        raise ConfigError(f"endpoint {key!r} is not defined under [endpoints]")
    return config.endpoints[key]


def _km_section(df: pd.DataFrame, ep: Endpoint, group: str, title: str, stem: str,
                figure: Callable[[Any, str], str],
                table_csv: Callable[[pd.DataFrame, str], None]) -> Section:
    for col in (ep.time, ep.event, group):
        if col not in df.columns:
            raise ConfigError(f"{title}: column {col!r} not in the data")
    km = kaplan_meier(df, ep.time, ep.event, group)
    lr = logrank_test(df, ep.time, ep.event, group) if len(km.groups) > 1 else None
    t_max = float(df[ep.time].max())
    risk_times = ep.risk_times or [y * ep.time_scale for y in range(0, int(t_max /
                                                                           ep.time_scale) + 1)]
    summary = km.summary().reset_index()
    table_csv(summary, f"{stem}_summary")
    table_csv(km.risk_table(risk_times), f"{stem}_at_risk")
    notes = [f"{level}: median {_median_text(c.median(), ep.time_scale)}"
             for level, c in km.groups.items()]
    if lr is not None:
        notes.append(f"Log-rank χ² = {lr.chisq:.2f} on {lr.df} df, p = {lr.p:.4g}")
    fig = figures.km_figure(km, time_scale=ep.time_scale, time_label=ep.time_label, title="",
                            risk_times=risk_times, p_value=lr.p if lr else None,
                            ci=ep.ci_bands)
    return Section(title, figure=figure(fig, stem), notes=notes)


def _median_text(median: tuple[float | None, float | None, float | None], scale: float) -> str:
    est, lo, hi = median
    if est is None:
        return "not reached"
    def f(v: float | None) -> str:
        return "NR" if v is None else f"{v / scale:.1f}"
    return f"{f(est)} (95% CI {f(lo)}–{f(hi)})"


_env = Environment(loader=PackageLoader("crlm.reports", "templates"),
                   autoescape=select_autoescape(enabled_extensions=("html",)))


def _html(config: AnalysisConfig, report: Report) -> str:
    images = {}
    for s in report.sections:
        if s.figure:
            svg = (report.out_dir / f"{s.figure}.png").read_bytes()
            images[s.figure] = base64.b64encode(svg).decode("ascii")
    return _env.get_template("cohort_report.html").render(
        config=config, report=report, images=images)


def _docx(config: AnalysisConfig, report: Report, path: Path) -> None:
    from docx import Document
    from docx.shared import Inches

    doc = Document()
    doc.add_heading(config.title, level=1)
    if config.source:
        doc.add_paragraph(config.source)
    for s in report.sections:
        doc.add_heading(s.title, level=2)
        if s.figure:
            doc.add_picture(str(report.out_dir / f"{s.figure}.png"), width=Inches(6.0))
        if s.table is not None:
            table = doc.add_table(rows=1, cols=len(s.table.columns))
            table.style = "Table Grid"
            for cell, name in zip(table.rows[0].cells, s.table.columns, strict=True):
                cell.text = str(name)
            for row in s.table.itertuples(index=False):
                for cell, value in zip(table.add_row().cells, row, strict=True):
                    cell.text = "" if pd.isna(value) else str(value)
        for note in s.notes:
            doc.add_paragraph(note)
    p = report.provenance
    doc.add_paragraph(f"crlm {p['crlm_version']}; data sha256 {p['data_sha256'][:16]}…; "
                      f"config sha256 {p['config_sha256'][:16]}…; {p['created']}")
    doc.save(str(path))
