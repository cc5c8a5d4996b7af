"""``crlm analyze`` on a federated study: the report's sections that centre aggregates support.

The centres listed under ``[source] federated`` run the partials (in-process here, as the
vantage6 nodes would); selection steps are applied at each centre. Table 1, Kaplan–Meier with
the log-rank test stratified by centre, the Cox model stratified by centre (all configured
factors, no univariable screening) and the logistic model are computed; the others are listed
as unavailable.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from crlm import __version__
from crlm.federated import central
from crlm.federated.local import local_nodes
from crlm.reports import figures
from crlm.reports.analysis_config import AnalysisConfig, ConfigError, Filter, load_config
from crlm.reports.cohort_report import Report, Section, Writer, _docx, _html, _sha256
from crlm.reports.report_tables import frame_html
from crlm.reports.style import PStyle

UNAVAILABLE = {"trend_year": "annual trend", "cutoffs": "discrimination of markers",
               "subgroups": "subgroup Kaplan–Meier curves",
               "competing_risks": "competing risks",
               "score_validation": "validation of the published scores"}
DEFAULT_YEARS = 10


def _steps(config: AnalysisConfig) -> list[dict[str, Any]]:
    return ([{"filter": f.model_dump(), "include": True} for f in config.include]
            + [{"filter": f.model_dump(), "include": False} for f in config.exclude])


def _ratio_frame(fit: Any, labels: Any, style: PStyle, kind: str) -> pd.DataFrame:
    rows = fit.to_frame()
    lo, hi = rows["lower95"].to_numpy(), rows["upper95"].to_numpy()
    ratio = rows["hr"] if kind == "HR" else rows["or"]
    return pd.DataFrame({
        "Characteristic": [labels.term(str(t)) for t in rows.index],
        f"{kind} (95% CI)": [f"{r:.2f} ({a:.2f}–{b:.2f})"
                             for r, a, b in zip(ratio, lo, hi, strict=True)],
        style.letter: [style.value(float(p)) for p in rows["p"]]})


def analyze_federated(config_path: Path, out_dir: Path, *,
                      progress: Callable[[str], None] = lambda _s: None) -> Report:
    """Run the federated sections of the configured analysis and write the report."""
    config = load_config(config_path)
    if not config.federated:
        raise ConfigError("[source] federated: no centre listed")
    paths = [(config_path.parent / p) for p in config.federated]
    for p in paths:
        if not p.is_file():
            raise ConfigError(f"[source] federated: file not found: {p}")
    nodes = local_nodes(paths, _steps(config))
    labels, style, out = config.label_dictionary(), PStyle(config.p_style), Writer(out_dir,
                                                                                    config)
    group = config.group.column
    sections = [_flow(config, paths, nodes, out)]
    spec = config.table1
    if spec.categorical or spec.continuous:
        progress("table 1")
        continuous = list(dict.fromkeys([*spec.continuous, *spec.mean_sd]))
        t1 = central.federated_table1(nodes, group, categorical=spec.categorical,
                                      continuous=continuous,
                                      labels={v: labels.var(v) for v in
                                              [*spec.categorical, *continuous]},
                                      level_labels=labels.level)
        out.csv(t1.frame, "table1")
        sections.append(Section(f"Table 1. Characteristics by {labels.var(group).lower()}",
                                html=frame_html(t1.frame, t1.footnotes), table=t1.frame,
                                notes=t1.footnotes))
    for key, ep in config.endpoints.items():
        progress(f"Kaplan–Meier ({key})")
        max_time = max(ep.risk_times or [DEFAULT_YEARS * ep.time_scale])
        km = central.federated_km(nodes, ep.time, ep.event, group, max_time=max_time)
        lr = central.federated_logrank(nodes, ep.time, ep.event, group)
        names = {str(g): labels.level(group, g) for g in km.result.groups}
        risk = [t for t in (ep.risk_times or [y * ep.time_scale for y in range(DEFAULT_YEARS + 1)])
                if t <= (km.horizon or 0)]
        fig = figures.km_figure(km.result, time_scale=ep.time_scale, time_label=ep.time_label,
                                title="", risk_times=risk, p_text=style.text(lr.p),
                                group_labels=names)
        out.csv(km.result.summary().reset_index(), f"fig3_km_{key}_summary")
        notes = [km.note, f"Log-rank test stratified by centre: χ² = {lr.chisq:.2f} on {lr.df} "
                          f"df, {style.text(lr.p)}."]
        sections.append(Section(f"Kaplan–Meier: {ep.label} by {labels.var(group).lower()}",
                                figure=out.figure(fig, f"fig3_km_{key}"), notes=notes))
    if config.cox is not None:
        progress("Cox regression")
        ep = config.endpoints[config.cox.endpoint]
        fit = central.federated_cox(nodes, ep.time, ep.event, config.cox.factors,
                                    reference=config.cox.reference)
        frame = _ratio_frame(fit, labels, style, "HR")
        out.csv(frame, "table2_cox")
        notes = [f"Cox model stratified by centre (n = {fit.n}, events = {fit.events}), fitted "
                 "by Newton–Raphson on the centres' score and information; every configured "
                 "factor entered (no univariable screening in a federated study)."]
        sections.append(Section(f"Table 2. Cox regression for {ep.label.lower()}",
                                html=frame_html(frame, notes), table=frame, notes=notes))
    if config.logistic is not None:
        progress("logistic regression")
        lspec = config.logistic
        sub = local_nodes(paths, _steps(config) + [{"filter": f.model_dump(), "include": True}
                                                   for f in lspec.subset])
        fit = central.federated_logistic(sub, lspec.outcome, lspec.factors,
                                         reference=lspec.reference)
        frame = _ratio_frame(fit, labels, style, "OR")
        out.csv(frame, "table3_logistic")
        notes = [f"Logistic regression over all centres' patients (n = {fit.n}); every "
                 "configured factor entered."]
        sections.append(Section(f"Table 3. {lspec.title}", html=frame_html(frame, notes),
                                table=frame, notes=notes))
    missing = [label for key, label in UNAVAILABLE.items() if getattr(config, key)]
    if missing:
        sections.append(Section("Not available in a federated study", notes=[
            "These configured sections need patient-level rows and were not computed: "
            + ", ".join(missing) + "."]))
    provenance = {"crlm_version": __version__,
                  "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                  "config": str(config_path),
                  "config_sha256": _sha256(config_path.read_bytes()),
                  "federated": [str(p) for p in paths],
                  "data_sha256": "federated (no pooled data)",
                  "rows_analysed": sum(c.get("n", 0) for c in (km.per_centre if config.endpoints
                                                               else [])),
                  "centre_requests": [{"centre": n, "requests": c.requests,
                                       "bytes_sent": c.bytes_sent}
                                      for n, c in zip(nodes.names, nodes.costs, strict=True)],
                  "p_style": config.p_style}
    out.write("provenance.json", json.dumps(provenance, indent=2))
    report = Report(out_dir, sections, out.files, provenance)
    out.write("report.html", _html(config, report))
    _docx(config, report, out_dir / "report.docx")
    out.files.append("report.docx")
    return report


def _flow(config: AnalysisConfig, paths: list[Path], nodes: Any, out: Writer) -> Section:
    steps = [f for f in config.include] + [f for f in config.exclude]
    answers = nodes.run("partial_count", {"masks": _steps(config)})
    labels = [config.start_label, *[_step_label(f, i < len(config.include))
                                    for i, f in enumerate(steps)]]
    rows = []
    for j, label in enumerate(labels):
        cells = [a["counts"][j] for a in answers]
        row = {"Step": label}
        row.update({p.stem: ("< 5" if c is None else c) for p, c in zip(paths, cells,
                                                                         strict=True)})
        row["All centres"] = sum(c or 0 for c in cells)
        rows.append(row)
    frame = pd.DataFrame(rows)
    out.csv(frame, "flow")
    notes = ["Patients per centre after each selection step (applied at the centre)."]
    return Section("Patient selection", html=frame_html(frame, notes), table=frame,
                   notes=notes)


def _step_label(f: Filter, include: bool) -> str:
    return f.label if include else f"After excluding: {f.label.lower()}"
