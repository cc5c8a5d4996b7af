"""CLI adapter: ``crlm federated cox|km|logrank|table1|logistic`` — the vantage6 algorithm's
partials run in-process, one per centre file (a consortium's dry run, and CI)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from crlm.cli._common import fail_bad_input
from crlm.cli.stats_cmds import _parse_reference, emit_json, split_list
from crlm.stats.defaults import SMALL_CELL_MIN as MIN_CELL

federated_app = typer.Typer(
    help="Multi-centre analyses without pooling data: the vantage6 algorithm crlm.federated "
         "run locally, one node per centre file (registry .db or analysis .csv).",
    no_args_is_help=True)

CentreOpt = Annotated[list[Path], typer.Option(
    "--centre", help="A centre's analysis dataset: crlm registry database (.db) or CSV from "
                     "`crlm db export --analysis`. Repeat per centre.")]
TimeOpt = Annotated[str, typer.Option(help="Follow-up time column.")]
EventOpt = Annotated[str, typer.Option(help="Event column (0/1).")]
MinCellOpt = Annotated[int, typer.Option(
    "--min-cell", min=1, help="Smallest count a centre releases (0 is released as 0).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]


def _nodes(centres: list[Path]) -> Any:
    from crlm.federated.local import local_nodes

    if len(centres) < 2:
        fail_bad_input("--centre: give at least two centres")
    for path in centres:
        if not path.is_file():
            fail_bad_input(f"--centre: file not found: {path}")
    return local_nodes(centres)


def _cost(nodes: Any) -> dict[str, Any]:
    return {"centres": [{"name": name, "requests": c.requests, "bytes_sent": c.bytes_sent,
                         "seconds": round(c.seconds, 4)}
                        for name, c in zip(nodes.names, nodes.costs, strict=True)]}


def _run(func: Any, *args: Any, **kwargs: Any) -> Any:
    from crlm.stats import StatsInputError

    try:
        return func(*args, **kwargs)
    except StatsInputError as exc:
        fail_bad_input(str(exc))


@federated_app.command("cox")
def cox_cmd(centre: CentreOpt, covariates: Annotated[str, typer.Option(
                help="Comma-separated covariates.")],
            time: TimeOpt = "os_days", event: EventOpt = "os_event",
            ties: Annotated[str, typer.Option(help="efron or breslow.")] = "efron",
            robust: Annotated[bool, typer.Option(help="Robust (sandwich) standard errors.")]
            = False,
            reference: Annotated[list[str] | None, typer.Option(
                help="Reference level, COLUMN=LEVEL (repeatable).")] = None,
            min_cell: MinCellOpt = MIN_CELL, as_json: JsonOpt = False) -> None:
    """Cox model stratified by centre, by Newton–Raphson on the centres' gradients."""
    from crlm.federated.central import NewtonTrace, federated_cox

    nodes = _nodes(centre)
    trace = NewtonTrace()
    fit = _run(federated_cox, nodes, time, event, split_list(covariates), ties=ties,
               robust=robust, reference=_parse_reference(reference or []), min_cell=min_cell,
               trace=trace)
    out = fit.to_dict()
    for key in ("concordance", "concordance_se"):
        out.pop(key)
    out["federated"] = _cost(nodes) | {"iterations": trace.iterations, "rounds": trace.rounds}
    if as_json:
        emit_json(out)
        return
    typer.echo(f"Cox model stratified by centre ({len(centre)} centres, n = {fit.n}, events = "
               f"{fit.events}, {ties} ties, {trace.iterations} iterations)")
    typer.echo(fit.to_frame().round(4).to_string())


@federated_app.command("logistic")
def logistic_cmd(centre: CentreOpt, outcome: Annotated[str, typer.Option(
                     help="0/1 outcome column.")],
                 covariates: Annotated[str, typer.Option(help="Comma-separated covariates.")],
                 reference: Annotated[list[str] | None, typer.Option(
                     help="Reference level, COLUMN=LEVEL (repeatable).")] = None,
                 min_cell: MinCellOpt = MIN_CELL, as_json: JsonOpt = False) -> None:
    """Logistic regression over all centres' patients, by Newton–Raphson."""
    from crlm.federated.central import federated_logistic

    nodes = _nodes(centre)
    fit = _run(federated_logistic, nodes, outcome, split_list(covariates),
               reference=_parse_reference(reference or []), min_cell=min_cell)
    if as_json:
        emit_json(fit.to_dict() | {"federated": _cost(nodes)})
        return
    typer.echo(f"Logistic regression ({len(centre)} centres, n = {fit.n}, events = "
               f"{fit.events})")
    typer.echo(fit.to_frame().round(4).to_string())


@federated_app.command("logrank")
def logrank_cmd(centre: CentreOpt, group: Annotated[str, typer.Option(help="Group column.")],
                time: TimeOpt = "os_days", event: EventOpt = "os_event",
                min_cell: MinCellOpt = MIN_CELL, as_json: JsonOpt = False) -> None:
    """Log-rank test stratified by centre."""
    from crlm.federated.central import federated_logrank

    nodes = _nodes(centre)
    lr = _run(federated_logrank, nodes, time, event, group, min_cell=min_cell)
    if as_json:
        emit_json(lr.to_dict() | {"federated": _cost(nodes)})
        return
    typer.echo(f"Log-rank test stratified by centre: χ² = {lr.chisq:.3f} on {lr.df} df, "
               f"p = {lr.p:.4g}")
    typer.echo(lr.to_frame().round(3).to_string())


@federated_app.command("km")
def km_cmd(centre: CentreOpt, max_time: Annotated[float, typer.Option(
               help="End of the time axis (centres do not release their longest follow-up).")],
           time: TimeOpt = "os_days", event: EventOpt = "os_event",
           group: Annotated[str | None, typer.Option(help="Group column.")] = None,
           bin_width: Annotated[float, typer.Option(
               help="Width of the shared time bins (data time units).")] = 365.25 / 12,
           exact: Annotated[bool, typer.Option(
               help="Exact event times (refused unless every time has enough events).")]
           = False,
           times: Annotated[str | None, typer.Option(
               help="Comma-separated times for survival estimates.")] = None,
           min_cell: MinCellOpt = MIN_CELL, as_json: JsonOpt = False) -> None:
    """Kaplan–Meier by group from the centres' numbers at risk and events."""
    from crlm.federated.central import federated_km

    nodes = _nodes(centre)
    km = _run(federated_km, nodes, time, event, group, bin_width=bin_width, max_time=max_time,
              exact=exact, min_cell=min_cell)
    at = [float(t) for t in split_list(times)]
    if as_json:
        emit_json(km.result.to_dict(at) | {"points": km.points, "binned": km.binned,
                                           "horizon": km.horizon, "note": km.note,
                                           "federated": _cost(nodes)})
        return
    typer.echo(km.note)
    typer.echo(km.result.summary().to_string())
    if at:
        typer.echo(km.result.risk_table(at).round(4).to_string(index=False))


@federated_app.command("table1")
def table1_cmd(centre: CentreOpt, group: Annotated[str, typer.Option(help="Group column.")],
               categorical: Annotated[str | None, typer.Option(
                   help="Comma-separated categorical variables.")] = None,
               continuous: Annotated[str | None, typer.Option(
                   help="Comma-separated continuous variables.")] = None,
               min_cell: MinCellOpt = MIN_CELL, as_json: JsonOpt = False) -> None:
    """Table 1 by group from counts, sums and histograms (small cells suppressed)."""
    from crlm.federated.central import federated_table1

    nodes = _nodes(centre)
    t1 = _run(federated_table1, nodes, group, categorical=split_list(categorical),
              continuous=split_list(continuous), min_cell=min_cell)
    if as_json:
        emit_json({"table": t1.frame.to_dict(orient="records"), "footnotes": t1.footnotes,
                   "sizes": t1.sizes, "federated": _cost(nodes)})
        return
    typer.echo(t1.frame.to_string(index=False))
    for note in t1.footnotes:
        typer.echo(f"  {note}")


def register(app: typer.Typer) -> None:
    """Add ``crlm federated`` to the main app."""
    app.add_typer(federated_app, name="federated")
