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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from crlm import __version__
from crlm.federated import central
from crlm.federated.local import LocalNodes, local_nodes
from crlm.reports import figures
from crlm.reports.analysis_config import AnalysisConfig, ConfigError, Filter, load_config
from crlm.reports.cohort_report import Report, Section, Writer, _docx, _html, _sha256
from crlm.reports.report_tables import frame_html
from crlm.reports.style import Labels, PStyle

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


@dataclass
class _Study:
    """What every federated stage reads: config, centres, labels, p style, the writer."""

    config: AnalysisConfig
    nodes: LocalNodes
    labels: Labels
    style: PStyle
    out: Writer
    progress: Callable[[str], None]

    @property
    def group(self) -> str:
        return self.config.group.column


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
    study = _Study(config, local_nodes(paths, _steps(config)), config.label_dictionary(),
                   PStyle(config.p_style), Writer(out_dir, config), progress)
    flow, (received, analysed) = _flow(study)
    sections = [flow]
    for stage in (_table1, _survival, _cox, _logistic, _unavailable):
        sections += stage(study)
    nodes = study.nodes
    provenance = {"crlm_version": __version__,
                  "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                  "config": str(config_path),
                  "config_sha256": _sha256(config_path.read_bytes()),
                  "federated": [str(p) for p in paths],
                  "centre_sha256": {str(p): _sha256(p.read_bytes()) for p in paths},
                  "rows_input": received, "rows_analysed": analysed,
                  "centre_requests": [{"centre": n, "requests": c.requests,
                                       "bytes_sent": c.bytes_sent}
                                      for n, c in zip(nodes.names, nodes.costs, strict=True)],
                  "p_style": config.p_style}
    provenance["data_sha256"] = _sha256("".join(provenance["centre_sha256"].values()).encode())
    study.out.write("provenance.json", json.dumps(provenance, indent=2))
    report = Report(out_dir, sections, study.out.files, provenance)
    study.out.write("report.html", _html(config, report))
    _docx(config, report, out_dir / "report.docx")
    study.out.files.append("report.docx")
    return report


def _table1(study: _Study) -> list[Section]:
    spec, labels = study.config.table1, study.labels
    if not (spec.categorical or spec.continuous):
        return []
    study.progress("table 1")
    continuous = list(dict.fromkeys([*spec.continuous, *spec.mean_sd]))
    t1 = central.federated_table1(study.nodes, study.group, categorical=spec.categorical,
                                  continuous=continuous,
                                  labels={v: labels.var(v) for v in
                                          [*spec.categorical, *continuous]},
                                  level_labels=labels.level, p_format=study.style.value)
    study.out.csv(t1.frame, "table1")
    return [Section(f"Table 1. Characteristics by {labels.var(study.group).lower()}",
                    html=frame_html(t1.frame, t1.footnotes), table=t1.frame,
                    notes=t1.footnotes)]


def _survival(study: _Study) -> list[Section]:
    sections = []
    labels, style, group = study.labels, study.style, study.group
    for key, ep in study.config.endpoints.items():
        study.progress(f"Kaplan–Meier ({key})")
        axis = ep.risk_times or [y * ep.time_scale for y in range(DEFAULT_YEARS + 1)]
        km = central.federated_km(study.nodes, ep.time, ep.event, group, max_time=max(axis))
        lr = central.federated_logrank(study.nodes, ep.time, ep.event, group)
        fig = figures.km_figure(
            km.result, time_scale=ep.time_scale, time_label=ep.time_label, title="",
            risk_times=[t for t in axis if t <= (km.horizon or 0)], p_text=style.text(lr.p),
            group_labels={str(g): labels.level(group, g) for g in km.result.groups})
        study.out.csv(km.result.summary().reset_index(), f"fig3_km_{key}_summary")
        notes = [km.describe(ep.time_scale, ep.time_unit),
                 f"Log-rank test stratified by centre: χ² = {lr.chisq:.2f} on {lr.df} df, "
                 f"{style.text(lr.p)}."]
        sections.append(Section(f"Kaplan–Meier: {ep.label} by {labels.var(group).lower()}",
                                figure=study.out.figure(fig, f"fig3_km_{key}"), notes=notes))
    return sections


def _cox(study: _Study) -> list[Section]:
    spec = study.config.cox
    if spec is None:
        return []
    study.progress("Cox regression")
    ep = study.config.endpoints[spec.endpoint]
    fit = central.federated_cox(study.nodes, ep.time, ep.event, spec.factors,
                                reference=spec.reference)
    frame = _ratio_frame(fit, study.labels, study.style, "HR")
    study.out.csv(frame, "table2_cox")
    notes = [f"Cox model stratified by centre (n = {fit.n}, events = {fit.events}), fitted "
             "by Newton–Raphson on the centres' score and information; every configured "
             "factor entered (no univariable screening in a federated study)."]
    return [Section(f"Table 2. Cox regression for {ep.label.lower()}",
                    html=frame_html(frame, notes), table=frame, notes=notes)]


def _logistic(study: _Study) -> list[Section]:
    spec = study.config.logistic
    if spec is None:
        return []
    study.progress("logistic regression")
    subset = [{"filter": f.model_dump(), "include": True} for f in spec.subset]
    nodes = LocalNodes(study.nodes.frames, study.nodes.names,
                       (study.nodes.selection or []) + subset)
    fit = central.federated_logistic(nodes, spec.outcome, spec.factors,
                                     reference=spec.reference)
    frame = _ratio_frame(fit, study.labels, study.style, "OR")
    study.out.csv(frame, "table3_logistic")
    notes = [f"Logistic regression over all centres' patients (n = {fit.n}, "
             f"{study.labels.var(spec.outcome).lower()} = {fit.events}); every configured "
             "factor entered."]
    return [Section(f"Table 3. {spec.title}", html=frame_html(frame, notes), table=frame,
                    notes=notes)]


def _unavailable(study: _Study) -> list[Section]:
    missing = [label for key, label in UNAVAILABLE.items() if getattr(study.config, key)]
    if not missing:
        return []
    return [Section("Not available in a federated study", notes=[
        "These configured sections need patient-level rows and were not computed: "
        + ", ".join(missing) + "."])]


def _flow(study: _Study) -> tuple[Section, tuple[int, int]]:
    """Patients per centre after each selection step; the numbers received and analysed."""
    config, nodes = study.config, study.nodes
    steps = [*config.include, *config.exclude]
    answers = nodes.run("partial_count", {"masks": _steps(config)})
    labels = [config.start_label, *[_step_label(f, i < len(config.include))
                                    for i, f in enumerate(steps)]]
    rows = []
    for j, label in enumerate(labels):
        cells = [a["counts"][j] for a in answers]
        row: dict[str, object] = {"Step": label}
        row.update({name: ("< 5" if c is None else c)
                    for name, c in zip(nodes.names, cells, strict=True)})
        row["All centres"] = sum(c or 0 for c in cells)
        rows.append(row)
    frame = pd.DataFrame(rows)
    study.out.csv(frame, "flow")
    notes = ["Patients per centre after each selection step (applied at the centre); a count "
             "under 5 is not released by its centre."]
    counts = (int(rows[0]["All centres"]), int(rows[-1]["All centres"]))  # type: ignore[call-overload]
    return Section("Patient selection", html=frame_html(frame, notes), table=frame,
                   notes=notes), counts


def _step_label(f: Filter, include: bool) -> str:
    return f.label if include else f"After excluding: {f.label.lower()}"
