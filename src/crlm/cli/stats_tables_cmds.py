"""CLI adapter: ``crlm stats table1|logistic|roc|regression`` (tables and regressions)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from crlm.cli._common import fail_bad_input
from crlm.cli.stats_cmds import (
    CI_HEADERS,
    CiOpt,
    DataOpt,
    FirthOpt,
    JsonOpt,
    _p,
    _parse_reference,
    _run,
    _table,
    ci_method,
    data_console,
    emit_json,
    read_csv,
    split_list,
    stats_app,
)
from crlm.stats.defaults import ModelKind

if TYPE_CHECKING:
    import pandas as pd


def _print_frame(title: str, frame: pd.DataFrame, notes: list[str]) -> None:
    """A result table as a rich table with its footnotes."""
    table = _table(title, tuple(frame.columns))
    for row in frame.itertuples(index=False):
        table.add_row(*[str(v) for v in row])
    console = data_console()
    console.print(table)
    for note in notes:
        console.print(f"  {note}")


@stats_app.command("table1")
def table1_cmd(
    data: DataOpt,
    group: Annotated[str, typer.Option("--group", help="Grouping COLUMN (≥ 2 levels).")],
    categorical: Annotated[str | None, typer.Option(help="Categorical columns: a,b,c.")] = None,
    continuous: Annotated[str | None, typer.Option(help="Continuous columns (median, IQR).")]
    = None,
    mean_sd: Annotated[str | None, typer.Option(
        "--mean-sd", help="Continuous columns to show as mean (SD) with t-test/ANOVA.")] = None,
    overall: Annotated[bool, typer.Option(help="Add an overall column.")] = False,
    smd: Annotated[bool, typer.Option(
        "--smd", help="Add standardised mean differences (as R tableone).")] = False,
    equal_variance: Annotated[bool, typer.Option(
        "--equal-variance", help="Student's t-test instead of Welch's (R's default).")] = False,
    no_yates: Annotated[bool, typer.Option(
        "--no-yates", help="χ² on 2×2 tables without Yates' correction (R's default is "
        "with).")] = False,
    csv_out: Annotated[Path | None, typer.Option("--csv", help="Also write CSV.")] = None,
    html_out: Annotated[Path | None, typer.Option("--html", help="Also write HTML.")] = None,
    docx_out: Annotated[Path | None, typer.Option("--docx", help="Also write DOCX.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Table 1 by group: n (%) with χ²/Fisher, median (IQR) with Mann–Whitney/Kruskal–Wallis.

    Fisher's exact test replaces χ² automatically when an expected count is below 5. Two-group
    tests follow R's defaults: Welch's t-test, Yates' correction on 2×2 χ² tables, exact
    Mann–Whitney for fewer than 50 per group without ties. The footnotes say which tests and
    corrections were used and how many values are missing per variable.

    Example:  crlm stats table1 --data cohort.csv --group approach --categorical sex,pve
              --continuous age_years,number_of_metastases --docx table1.docx
    """
    from crlm.stats.table1 import table1

    frame = read_csv(data)
    cont = split_list(continuous)
    means = split_list(mean_sd)
    t = _run(table1, frame, group, categorical=split_list(categorical),
             continuous=cont + [m for m in means if m not in cont], mean_sd=means,
             overall=overall, var_equal=equal_variance, correct=not no_yates, smd=smd)
    if csv_out:
        t.to_csv(csv_out)
    if html_out:
        html_out.write_text(t.to_html(), encoding="utf-8")
    if docx_out:
        t.to_docx(docx_out)
    if as_json:
        emit_json({"groups": t.group_sizes, "rows": t.frame.to_dict(orient="records"),
                   "tests": [vars(x) for x in t.tests], "footnotes": t.footnotes})
        return
    _print_frame("Table 1", t.frame, t.footnotes)


@stats_app.command("logistic")
def logistic_cmd(
    data: DataOpt,
    outcome: Annotated[str, typer.Option("--outcome", help="0/1 outcome COLUMN.")],
    covariates: Annotated[str, typer.Option("--covariates", help="Comma-separated columns.")],
    reference: Annotated[list[str] | None, typer.Option(
        "--reference", help="Reference level COLUMN=LEVEL (repeatable).")] = None,
    firth: FirthOpt = False,
    ci: CiOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Logistic regression: odds ratios with 95 % CI and p (R glm, binomial).

    --firth: Firth-penalised (R logistf), profile penalised-likelihood CIs and penalised
    likelihood-ratio p values unless --ci wald.
    """
    from crlm.stats.firth import CI_DESCRIPTIONS, firth_logistic
    from crlm.stats.logistic import logistic_regression
    from crlm.stats.regression_table import bound_text

    method = ci_method(firth, ci)
    frame = read_csv(data)
    ref = _parse_reference(reference or [])
    fit: Any
    if firth:
        fit = _run(firth_logistic, frame, outcome, split_list(covariates), reference=ref,
                   ci=method)
    else:
        fit = _run(logistic_regression, frame, outcome, split_list(covariates), reference=ref)
    if as_json:
        emit_json(fit.to_dict() | {"ci_method": method})
        return
    title = "Firth logistic regression" if firth else "Logistic regression"
    table = _table(f"{title}: {outcome} (n = {fit.n}, events = {fit.events})",
                   ("term", "OR", CI_HEADERS[method], "p"))
    for term, row in fit.to_frame().iterrows():
        table.add_row(str(term), f"{row['or']:.2f}",
                      f"{bound_text(row['lower95'])}–{bound_text(row['upper95'])}",
                      _p(row["p"]))
    console = data_console()
    console.print(table)
    if fit.dropped is not None:
        console.print(f"  {fit.dropped.describe()}")
    console.print(f"  {CI_DESCRIPTIONS[method] if firth else 'Wald CIs and p values'}")
    for note in getattr(fit, "notes", []):
        console.print(f"  note: {note}")


@stats_app.command("regression")
def regression_cmd(
    data: DataOpt,
    factors: Annotated[str, typer.Option("--factors", help="Candidate factors: a,b,c.")],
    kind: Annotated[ModelKind, typer.Option("--kind", help="Cox or logistic model.")] = "cox",
    time: Annotated[str | None, typer.Option("--time", help="Time COLUMN (cox).")] = None,
    event: Annotated[str | None, typer.Option("--event", help="Event COLUMN 0/1 (cox).")] = None,
    outcome: Annotated[str | None, typer.Option("--outcome", help="Outcome 0/1 (logistic).")]
    = None,
    threshold: Annotated[float, typer.Option(help="Univariable p to enter (0.10 as Maki 2023a).")]
    = 0.10,
    forced: Annotated[str | None, typer.Option(help="Clinically relevant factors forced in.")]
    = None,
    reference: Annotated[list[str] | None, typer.Option(
        "--reference", help="Reference level COLUMN=LEVEL (repeatable).")] = None,
    csv_out: Annotated[Path | None, typer.Option("--csv", help="Also write CSV.")] = None,
    firth: FirthOpt = False,
    ci: CiOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Univariable screen → multivariable model, as the two-panel tables of the source papers.

    --firth: Firth-penalised Cox/logistic models, profile penalised-likelihood CIs and penalised
    likelihood-ratio p values unless --ci wald. A footnote names the CI method.
    """
    from crlm.stats.regression_table import regression_table

    if not 0 < threshold <= 1:
        fail_bad_input("--threshold: must be in (0, 1]")
    method = ci_method(firth, ci)
    frame = read_csv(data)
    t = _run(regression_table, frame, split_list(factors), kind=kind, time=time, event=event,
             outcome=outcome, threshold=threshold, forced=split_list(forced),
             reference=_parse_reference(reference or []), firth=firth, ci=method)
    if csv_out:
        csv_out.write_text(t.to_csv(), encoding="utf-8")
    if as_json:
        emit_json({"entered": t.entered, "n_multivariable": t.n_multivariable,
                   "firth": t.firth, "ci_method": t.ci_method,
                   "rows": t.frame.to_dict(orient="records"), "footnotes": t.footnotes})
        return
    _print_frame(f"{'Firth ' if firth else ''}{'Cox' if kind == 'cox' else 'Logistic'} "
                 "regression", t.frame, t.footnotes)


@stats_app.command("roc")
def roc_cmd(
    data: DataOpt,
    marker: Annotated[str, typer.Option("--marker", help="Continuous COLUMN.")],
    outcome: Annotated[str, typer.Option("--outcome", help="Outcome 0/1 COLUMN.")],
    as_json: JsonOpt = False,
) -> None:
    """ROC curve, AUC (DeLong 95 % CI) and the Youden-optimal cut-off (Shimizu 2024 style)."""
    from crlm.stats.roc import roc_analysis

    frame = read_csv(data)
    r = _run(roc_analysis, frame, marker, outcome)
    if as_json:
        emit_json(r.to_dict())
        return
    console = data_console()
    console.print(f"AUC {r.auc:.3f} (95% CI {r.auc_lower95:.3f}–{r.auc_upper95:.3f}), "
                   f"n = {r.n}, events = {r.n_events}")
    sign = ">=" if r.direction == "higher" else "<="
    console.print(f"Youden cut-off: {marker} {sign} {r.cutoff:g} (sensitivity "
                   f"{100 * r.cutoff_sensitivity:.1f} %, specificity "
                   f"{100 * r.cutoff_specificity:.1f} %)")
    for w in r.warnings:
        typer.echo(f"warning: {w}", err=True)


@stats_app.command("cutpoint")
def cutpoint_cmd(
    data: DataOpt,
    marker: Annotated[str, typer.Option("--marker", help="Continuous COLUMN.")],
    time: Annotated[str, typer.Option("--time", help="Time COLUMN.")],
    event: Annotated[str, typer.Option("--event", help="Event COLUMN (0/1).")],
    min_prop: Annotated[float, typer.Option(help="Smallest group share.")] = 0.1,
    max_prop: Annotated[float, typer.Option(help="Largest group share.")] = 0.9,
    as_json: JsonOpt = False,
) -> None:
    """Maximally selected log-rank cut-point (R maxstat) with a search-corrected p value."""
    from crlm.stats.roc import maxstat_cutpoint

    frame = read_csv(data)
    r = _run(maxstat_cutpoint, frame, marker, time, event, min_prop=min_prop, max_prop=max_prop)
    if as_json:
        emit_json({"cutpoint": r.cutpoint, "statistic": r.statistic, "p": r.p, "n": r.n,
                   "cuts": r.cuts.tolist(), "statistics": r.statistics.tolist(),
                   "warnings": r.warnings})
        return
    console = data_console()
    console.print(f"{marker} ≤ {r.cutpoint:g} vs > {r.cutpoint:g}: maximally selected "
                   f"log-rank statistic {r.statistic:.3f}, adjusted p = {r.p:.3g} (n = {r.n})")
    for w in r.warnings:
        typer.echo(f"warning: {w}", err=True)


def register(app: typer.Typer) -> None:
    """Commands attach to ``stats_app`` at import; nothing else to add."""
