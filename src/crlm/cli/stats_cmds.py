"""CLI adapter: ``crlm stats …`` — one analysis on a CSV file.

``stats_app`` is the shared ``stats`` command group; survival commands are defined here and the
table/regression commands in :mod:`crlm.cli.stats_tables_cmds`.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from crlm.cli._common import fail_bad_input
from crlm.safe_output import frame_to_csv
from crlm.stats.defaults import CiMethod, ConfType, Ties

if TYPE_CHECKING:  # imported when a command runs, not when the CLI starts
    import pandas as pd
    from rich.console import Console
    from rich.table import Table

stats_app = typer.Typer(
    help="One analysis on a CSV file (Kaplan–Meier, log-rank, RMST, Cox, logistic, Table 1, "
    "competing risks, discrimination and calibration, validation of the published scores).",
    no_args_is_help=True,
)

DataOpt = Annotated[Path, typer.Option("--data", help="CSV file, one row per patient.")]
TimeOpt = Annotated[str, typer.Option("--time", help="Follow-up time column (≥ 0).")]
EventOpt = Annotated[str, typer.Option("--event", help="Event column: 1 event, 0 censored.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]
FirthOpt = Annotated[bool, typer.Option(
    "--firth", help="Firth-penalised model (small samples, separation, monotone likelihood).")]
CiOpt = Annotated[CiMethod | None, typer.Option(
    "--ci", help="CI and p method: profile (Firth default: profile penalised likelihood, "
    "penalised LR tests) or wald (the only one without --firth).")]
CI_HEADERS = {"profile": "95% CI (profile)", "wald": "95% CI (Wald)"}


def ci_method(firth: bool, ci: str | None) -> str:
    """The CI method for ``--firth``/``--ci``, or exit 2 saying why not."""
    if not firth and ci == "profile":
        fail_bad_input("--ci profile: profile penalised-likelihood CIs need --firth")
    return ci or ("profile" if firth else "wald")


def register(app: typer.Typer) -> None:
    """Add the ``stats`` group to the main app."""
    app.add_typer(stats_app, name="stats")


def read_csv(path: Path, *, analysis: str | None = None) -> pd.DataFrame:
    """Read the ``--data`` CSV (by pyarrow when installed) or exit 2 saying why.

    ``analysis`` names the module that will analyse the frame: it is imported while the file
    is parsed (see :func:`crlm.csv_input.read_frame`).
    """
    from crlm.csv_input import read_frame

    if not path.is_file():
        fail_bad_input(f"--data: file not found: {path}")
    try:
        return read_frame(path, import_meanwhile=(analysis,) if analysis else ())
    except ValueError as exc:  # pandas' ParserError and EmptyDataError, UnicodeDecodeError
        fail_bad_input(f"--data: cannot read {path} as CSV ({exc})")


def split_list(value: str | None) -> list[str]:
    """``"a, b,c"`` → ``["a", "b", "c"]``."""
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _parse_reference(values: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values:
        for part in split_list(item):
            col, sep, level = part.partition("=")
            if not sep or not col.strip() or not level.strip():
                fail_bad_input(f"--reference: expected COLUMN=LEVEL, got {part!r}")
            out[col.strip()] = level.strip()
    return out


def _parse_times(value: str | None, option: str) -> list[float]:
    times: list[float] = []
    for part in split_list(value):
        try:
            t = float(part)
        except ValueError:
            fail_bad_input(f"{option}: {part!r} is not a number")
        if not math.isfinite(t) or t < 0:
            fail_bad_input(f"{option}: {part!r} must be a finite time ≥ 0")
        times.append(t)
    return times


def _clean(value: Any) -> Any:
    """NaN/inf → None, numpy scalars → Python, recursively (strict JSON)."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def emit_json(payload: dict[str, Any]) -> None:
    """Print strict JSON (no NaN) on stdout."""
    typer.echo(json.dumps(_clean(payload), indent=2, allow_nan=False))


def _num(value: float | None, digits: int = 3, missing: str = "—") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return missing
    return f"{value:.{digits}f}"


def _ci(lower: float | None, upper: float | None, digits: int = 3) -> str:
    """A confidence interval as "a–b", or "a to b" when a bound is negative (not "-20.5–-5.0")."""
    low, high = _num(lower, digits), _num(upper, digits)
    return f"{low} to {high}" if "-" in low + high else f"{low}–{high}"


def _nr(value: float | None) -> str:
    """A KM time that may be "not reached"."""
    return _num(value, 1, missing="NR")


def _p(value: float) -> str:
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def _p_eq(value: float) -> str:
    return "p < 0.001" if value < 0.001 else f"p = {value:.3f}"


def _data_table_class() -> type[Table]:
    from rich.table import Table
    from rich.text import Text

    class DataTable(Table):
        """A rich table whose text is data, never markup: ``approach[classic]`` as written."""

        def add_row(self, *cells: Any, **kwargs: Any) -> None:
            super().add_row(*[Text(c) if isinstance(c, str) else c for c in cells], **kwargs)

    return DataTable


def data_console() -> Console:
    """A console that prints data as written (no markup: ``[classic]`` is not a style tag)."""
    from rich.console import Console

    return Console(markup=False)


def _table(title: str, columns: tuple[str, ...]) -> Table:
    """A rich table: first column left-aligned (labels), the others right-aligned (numbers)."""
    from rich.text import Text

    table = _data_table_class()(title=Text(title))
    for i, col in enumerate(columns):
        table.add_column(Text(col), justify="left" if i == 0 else "right")
    return table


def _run(func: Any, *args: Any, **kwargs: Any) -> Any:
    """Run an analysis; input errors exit 2 naming the column, warnings go to stderr."""
    from crlm.stats import StatsInputError

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = func(*args, **kwargs)
        except StatsInputError as exc:
            fail_bad_input(str(exc))
    for w in caught:
        typer.echo(f"warning: {w.message}", err=True)
    return result


@stats_app.command("cox")
def cox_cmd(
    data: DataOpt,
    time: TimeOpt,
    event: EventOpt,
    covariates: Annotated[str, typer.Option("--covariates", help="Comma-separated columns.")],
    ties: Annotated[Ties | None, typer.Option(
        "--ties", help="efron (R default) or breslow (the only one with --firth).")] = None,
    strata: Annotated[str | None, typer.Option("--strata", help="Stratify on COLUMN.")] = None,
    robust: Annotated[bool, typer.Option("--robust", help="Robust (sandwich) SE.")] = False,
    cluster: Annotated[
        str | None, typer.Option("--cluster", help="Cluster COLUMN for robust SE.")
    ] = None,
    reference: Annotated[
        list[str] | None,
        typer.Option("--reference", help="Reference level COLUMN=LEVEL (repeatable)."),
    ] = None,
    categorical: Annotated[
        str | None,
        typer.Option("--categorical", help="Numeric-coded columns to treat as factors: a,b."),
    ] = None,
    ph_test: Annotated[
        bool, typer.Option("--ph-test", help="Schoenfeld-residual PH test (cox.zph).")
    ] = False,
    firth: FirthOpt = False,
    ci: CiOpt = None,
    start: Annotated[str | None, typer.Option(
        "--start", help="Entry time COLUMN: each row is at risk on (start, time] — late "
        "entry, or time-varying covariates as several rows per patient (R Surv(start, stop, "
        "event)).")] = None,
    weights: Annotated[str | None, typer.Option(
        "--weights", help="Case-weight COLUMN (> 0); non-integer weights give robust SE, as "
        "R.")] = None,
    offset: Annotated[str | None, typer.Option(
        "--offset", help="Offset COLUMN added to the linear predictor (R offset()).")] = None,
    predict: Annotated[str | None, typer.Option(
        "--predict", help="Predicted survival for one patient: COLUMN=VALUE for every "
        "covariate, e.g. rx=Lev,age=60 (R survfit(fit, newdata)); times from --at.")] = None,
    at: Annotated[str | None, typer.Option(
        "--at", help="Times for --predict: 365,730.")] = None,
    basehaz: Annotated[Path | None, typer.Option(
        "--basehaz", help="Write the cumulative baseline hazard (at the mean covariates, "
        "0 for 0/1 columns — R basehaz(fit)) to this CSV.")] = None,
    imputations: Annotated[str | None, typer.Option(
        "--imputations", help="Multiply imputed data: the COLUMN numbering the completed data "
        "sets (R mice's .imp in complete(imp, 'long')); fits each and pools by Rubin's "
        "rules.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Cox proportional-hazards model (matches R coxph); --firth: Firth-penalised (R coxphf).

    Also (start, stop] input, case weights and offsets, and a patient's predicted survival.
    """
    method = ci_method(firth, ci)
    covs = split_list(covariates)
    if not covs:
        fail_bad_input("--covariates: at least one column is needed")
    if firth:
        unsupported = {"--ties efron": ties == "efron", "--strata": strata is not None,
                       "--robust": robust, "--cluster": cluster is not None,
                       "--categorical": categorical is not None, "--ph-test": ph_test,
                       "--start": start is not None, "--weights": weights is not None,
                       "--offset": offset is not None, "--predict": predict is not None,
                       "--imputations": imputations is not None,
                       "--basehaz": basehaz is not None}
        for option, given in unsupported.items():
            if given:
                fail_bad_input(f"{option}: not available with --firth (Breslow ties, "
                               "no strata or robust SE)")
        _firth_cox_output(read_csv(data), time, event, covs, method,
                          _parse_reference(reference or []), as_json)
        return
    ties = ties or "efron"
    times = _parse_times(at, "--at")
    if times and predict is None:
        fail_bad_input("--at: needs --predict (the patient whose survival to predict)")
    frame = read_csv(data, analysis="crlm.stats.cox")
    if imputations is not None:
        for option, given in {"--predict": predict is not None, "--ph-test": ph_test,
                              "--basehaz": basehaz is not None}.items():
            if given:
                fail_bad_input(f"{option}: not available with --imputations")
        _pooled_cox_output(frame, imputations, time, event, covs, as_json, ties=ties,
                           strata=strata, robust=robust, cluster=cluster,
                           reference=_parse_reference(reference or []),
                           categorical=split_list(categorical), start=start, weights=weights,
                           offset=offset)
        return
    from crlm.stats import cox_ph
    from crlm.stats._kernels import expect_single_fit

    expect_single_fit()  # one model: numba's load would not pay for itself below 2M rows
    fit = _run(cox_ph, frame, time, event, covs, ties=ties, strata=strata, robust=robust,
               cluster=cluster, reference=_parse_reference(reference or []),
               categorical=split_list(categorical), ph_test=ph_test, start=start,
               weights=weights, offset=offset)
    prediction = _cox_prediction(fit, frame, predict, times) if predict is not None else None
    if basehaz is not None:
        frame_to_csv(_run(fit.baseline_hazard), basehaz)
    if as_json:
        emit_json(fit.to_dict() | {"ci_method": "wald"}
                  | ({"prediction": prediction} if prediction is not None else {}))
        return
    console = data_console()
    title = (f"Cox model ({ties} ties{', robust SE' if fit.robust else ''}"
             f"{', strata ' + strata if strata else ''})")
    table = _table(title, ("term", "HR", CI_HEADERS["wald"], "coef", "SE", "p"))
    for name, row in fit.to_frame().iterrows():
        table.add_row(str(name), _num(row["hr"], 2),
                      _ci(row["lower95"], row["upper95"], 2),
                      _num(row["coef"], 4), _num(row["se"], 4), _p(row["p"]))
    console.print(table)
    lr = fit.lr_test
    console.print(f"n = {fit.n}, events = {fit.events}; {fit.dropped.describe()}")
    concord = (f"; concordance {fit.concordance:.3f} (SE {fit.concordance_se:.3f})"
               if math.isfinite(fit.concordance) else "")
    console.print(f"log-likelihood {fit.loglik:.3f} (null {fit.loglik_null:.3f}); "
                  f"LR χ² = {lr[0]:.2f} on {lr[1]} df, {_p_eq(lr[2])}{concord}")
    extras = [f"entry time {start}" if start else "", f"case weights {weights}" if weights
              else "", f"offset {offset}" if offset else ""]
    if any(extras):
        console.print("counting-process input: " + ", ".join(e for e in extras if e))
    if fit.references:
        console.print("reference levels: "
                      + ", ".join(f"{k} = {v}" for k, v in fit.references.items()))
    if fit.zph is not None:
        console.print("PH test (cox.zph): " + ", ".join(
            f"{k} {_p_eq(r['p'])}" for k, r in fit.zph.table.iterrows()))
    if prediction is not None:
        console.print("predicted survival for " + ", ".join(
            f"{k} = {v:g}" if isinstance(v, float) else f"{k} = {v}"
            for k, v in prediction["covariates"].items()))
        pt = _table("Predicted survival", ("time", "survival", "95% CI (log)"))
        for t, row in prediction["survival_at"].items():
            pt.add_row(t, _num(row["survival"]), f"{_num(row['lower95'])}–"
                       f"{_num(row['upper95'])}")
        console.print(pt)


def _pooled_cox_output(frame: pd.DataFrame, column: str, time: str, event: str,
                       covs: list[str], as_json: bool, **kwargs: Any) -> None:
    """``crlm stats cox --imputations COL``: Rubin's-rules pooled Cox model."""
    from crlm.stats.imputation import cox_ph_pooled, split_imputations

    datasets = _run(split_imputations, frame, column)
    pooled, n, events = _run(cox_ph_pooled, datasets, time, event, covs, **kwargs)
    if as_json:
        emit_json(pooled.to_dict() | {"n": n, "events": events, "ties": kwargs["ties"]})
        return
    from rich.console import Console

    console = Console()
    table = _table(f"Cox model pooled over {pooled.m} imputations (Rubin's rules)",
                   ("term", "HR", "95% CI (t)", "coef", "SE", "df", "FMI", "p"))
    frame_out = pooled.to_frame(ratio="hr")
    for name, row in frame_out.iterrows():
        table.add_row(str(name), _num(row["hr"], 2),
                      _ci(row["hr_lower95"], row["hr_upper95"], 2),
                      _num(row["estimate"], 4), _num(row["se"], 4), _num(row["df"], 1),
                      _num(row["fmi"], 3), _p(row["p"]))
    console.print(table)
    console.print(f"n = {n}, events = {events} per completed data set; Barnard–Rubin df "
                  f"with complete-data df {pooled.dfcom:g} (events − coefficients, as mice); "
                  "FMI: fraction of missing information")


def _cox_prediction(fit: Any, frame: pd.DataFrame, predict: str, times: list[float]
                    ) -> dict[str, Any]:
    """``--predict``: survival with its 95 % CI (log scale, as R) at ``--at`` times."""
    from crlm.stats import StatsInputError

    values: dict[str, object] = {}
    for part in split_list(predict):
        col, sep, value = part.partition("=")
        if not sep or not col.strip() or not value.strip():
            fail_bad_input(f"--predict: expected COLUMN=VALUE, got {part!r}")
        col, value = col.strip(), value.strip()
        numeric = col in frame.columns and frame[col].dtype.kind in "biuf"
        try:
            values[col] = float(value) if numeric and col not in fit.references else value
        except ValueError:
            fail_bad_input(f"--predict: {col} needs a number, not {value!r}")
    if not times:
        fail_bad_input("--predict: needs the times, e.g. --at 365,730")
    try:
        curve = fit.predict_survival(values)
    except StatsInputError as exc:
        fail_bad_input(f"--predict: {exc}")
    table = curve.at(times)
    return {"covariates": values, "conf_type": curve.conf_type, "conf_level": curve.conf_level,
            "survival_at": {
                f"{row.time:g}": {"survival": row.surv, "lower95": row.lower,
                                  "upper95": row.upper, "cumulative_hazard": row.cumhaz}
                for row in table.itertuples(index=False)}}


def _firth_cox_output(frame: pd.DataFrame, time: str, event: str, covs: list[str], method: str,
                      reference: dict[str, str], as_json: bool) -> None:
    """``crlm stats cox --firth``: the Firth Cox table, or its JSON."""
    from crlm.stats.firth import CI_DESCRIPTIONS, firth_cox
    from crlm.stats.regression_table import bound_text

    fit = _run(firth_cox, frame, time, event, covs, reference=reference, ci=method)
    if as_json:
        emit_json(fit.to_dict())
        return
    console = data_console()
    table = _table("Firth-penalised Cox model (Breslow ties)",
                   ("term", "HR", CI_HEADERS[method], "coef", "SE", "p"))
    for name, row in fit.to_frame().iterrows():
        table.add_row(str(name), _num(row["hr"], 2),
                      f"{bound_text(row['lower95'])}–{bound_text(row['upper95'])}",
                      _num(row["coef"], 4), _num(row["se"], 4), _p(row["p"]))
    console.print(table)
    console.print(f"n = {fit.n}, events = {fit.events}; "
                  f"{fit.dropped.describe() if fit.dropped else ''}")
    console.print(f"{CI_DESCRIPTIONS[method]}; penalised log-likelihood "
                  f"{fit.penalized_loglik:.3f}")
    for note in fit.notes:
        console.print(f"  note: {note}")


@stats_app.command("km")
def km_cmd(
    data: DataOpt,
    time: TimeOpt,
    event: EventOpt,
    group: Annotated[str | None, typer.Option("--group", help="Group COLUMN.")] = None,
    at: Annotated[
        str | None, typer.Option("--at", help="Times for survival/numbers at risk: 365,730.")
    ] = None,
    conf_type: Annotated[
        ConfType, typer.Option("--conf-type", help="CI scale: log (R default), log-log, plain, "
                               "logit or arcsin (R survfit conf.type).")
    ] = "log",
    conf_level: Annotated[
        float, typer.Option("--conf-level", help="Confidence level of the CIs, e.g. 0.9.")
    ] = 0.95,
    risk_table: Annotated[
        Path | None,
        typer.Option("--risk-table", help="Write the numbers-at-risk table (--at) to this CSV."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Kaplan–Meier by group: median (CI), quartiles, survival and numbers at risk."""
    from crlm.stats.survival import kaplan_meier

    if not 0.0 < conf_level < 1.0:
        fail_bad_input(f"--conf-level: must be between 0 and 1 (e.g. 0.95), not {conf_level:g}")
    times = _parse_times(at, "--at")
    frame = read_csv(data)
    km = _run(kaplan_meier, frame, time, event, group, conf_type=conf_type,
              conf_level=conf_level)
    if risk_table is not None:
        if not times:
            fail_bad_input("--risk-table: needs the times, e.g. --at 0,365,730")
        frame_to_csv(km.risk_table(times), risk_table)
    if as_json:
        emit_json(km.to_dict(times))
        return
    console = data_console()
    ci_head = f"{100 * conf_level:g}% CI"
    table = _table(f"Kaplan–Meier ({conf_type} CI)",
                   ("group", "n", "events", "median", ci_head, "IQR (q25–q75)"))
    summary = km.summary()
    # rows as dicts keep each column's type (iterrows would turn the counts into floats)
    for level, row in zip(summary.index, summary.to_dict("records"), strict=True):
        table.add_row(str(level), str(row["n"]), str(row["events"]), _nr(row["median"]),
                      f"{_nr(row['median_lower95'])}–{_nr(row['median_upper95'])}",
                      f"{_nr(row['q25'])}–{_nr(row['q75'])}")
    console.print(table)
    if times:
        risk = _table("Survival and numbers at risk (events/censored since previous time)",
                      ("group", "time", "at risk", "events", "censored", "survival", ci_head))
        for row in km.risk_table(times).itertuples(index=False):
            risk.add_row(str(row.group), f"{row.time:g}", str(row.n_risk), str(row.n_event),
                         str(row.n_censor), _num(row.surv), _ci(row.lower, row.upper))
        console.print(risk)
    console.print(km.dropped.describe())


@stats_app.command("logrank")
def logrank_cmd(
    data: DataOpt,
    time: TimeOpt,
    event: EventOpt,
    group: Annotated[str, typer.Option("--group", help="Group COLUMN (k ≥ 2 levels).")],
    strata: Annotated[str | None, typer.Option("--strata", help="Stratify on COLUMN.")] = None,
    trend: Annotated[
        bool, typer.Option("--trend", help="Also the test for trend (groups ordered).")
    ] = False,
    rho: Annotated[float, typer.Option(
        "--rho", help="Fleming–Harrington weight S(t−)^rho (R survdiff rho): 0 log-rank, "
        "1 Peto–Peto (more weight on early differences).")] = 0.0,
    as_json: JsonOpt = False,
) -> None:
    """Log-rank test for k groups (R survdiff), optionally the test for trend."""
    from crlm.stats.survival import logrank_test

    if not math.isfinite(rho):
        fail_bad_input("--rho: must be a finite number")
    frame = read_csv(data)
    res = _run(logrank_test, frame, time, event, group, strata=strata, trend=trend, rho=rho)
    if as_json:
        emit_json(res.to_dict())
        return
    console = data_console()
    table = _table(f"Log-rank test by {group}" + (f", strata {strata}" if strata else ""),
                   ("group", "n", "observed", "expected"))
    for level, row in res.to_frame().iterrows():
        table.add_row(str(level), str(int(row["n"])), f"{row['observed']:.0f}",
                      f"{row['expected']:.2f}")
    console.print(table)
    console.print(f"χ² = {res.chisq:.3f} on {res.df} df, {_p_eq(res.p)}; {res.weights}")
    if res.trend_chisq is not None and res.trend_p is not None:
        console.print(f"test for trend: χ² = {res.trend_chisq:.3f} on 1 df, {_p_eq(res.trend_p)}")


@stats_app.command("rmst")
def rmst_cmd(
    data: DataOpt,
    time: TimeOpt,
    event: EventOpt,
    horizon: Annotated[float, typer.Option("--horizon", help="Restriction time (time units).")],
    group: Annotated[str | None, typer.Option("--group", help="Group COLUMN.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Restricted mean survival time to a horizon, per group and differences (R rmean)."""
    from crlm.stats.survival import rmst

    frame = read_csv(data)
    res = _run(rmst, frame, time, event, horizon, group)
    if as_json:
        emit_json(res.to_dict())
        return
    console = data_console()
    table = _table(f"Restricted mean survival time to {horizon:g}",
                   ("group", "RMST", "SE", "95% CI"))
    for level, row in res.to_frame().iterrows():
        table.add_row(str(level), _num(row["rmst"], 1), _num(row["se"], 1),
                      _ci(row["lower95"], row["upper95"], 1))
    console.print(table)
    diffs = res.differences()
    if len(diffs):
        dt = _table("Differences", ("contrast", "difference", "SE", "95% CI", "p"))
        for row in diffs.itertuples(index=False):
            dt.add_row(row.contrast, _num(row.difference, 1), _num(row.se, 1),
                       _ci(row.lower95, row.upper95, 1), _p(row.p))
        console.print(dt)


@stats_app.command("cox-performance")
def cox_performance_cmd(
    data: DataOpt,
    time: TimeOpt,
    event: EventOpt,
    covariates: Annotated[str, typer.Option("--covariates", help="Comma-separated columns.")],
    at: Annotated[str, typer.Option(
        "--at", help="Times for the Brier score, e.g. 365,730,1095 (the IBS integrates up to "
        "each).")],
    reference: Annotated[list[str] | None, typer.Option(
        "--reference", help="Reference level COLUMN=LEVEL (repeatable).")] = None,
    ties: Annotated[Ties, typer.Option("--ties", help="efron (R default) or breslow.")] = "efron",
    validation: Annotated[Path | None, typer.Option(
        "--validation", help="CSV of other patients: Brier score and calibration slope are "
        "computed there (otherwise the Brier score is apparent, on --data).")] = None,
    bootstrap: Annotated[int, typer.Option(
        "--bootstrap", help="Bootstrap samples for the optimism-corrected C (0: none).")] = 200,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the bootstrap samples.")] = 2026,
    as_json: JsonOpt = False,
) -> None:
    """Performance of a Cox model: Harrell's C with Harrell's bootstrap optimism correction,
    IPCW Brier and integrated Brier score (as riskRegression Score), calibration slope."""
    from crlm.stats import cox_ph
    from crlm.stats.validation import calibration_slope, cox_brier, optimism_corrected_c

    if bootstrap < 0:
        fail_bad_input("--bootstrap: must be 0 or more")
    times = _parse_times(at, "--at")
    if not times or min(times) <= 0:
        fail_bad_input("--at: needs times > 0, e.g. 365,730")
    covs = split_list(covariates)
    if not covs:
        fail_bad_input("--covariates: at least one column is needed")
    refs = _parse_reference(reference or [])
    frame = read_csv(data)
    fit = _run(cox_ph, frame, time, event, covs, ties=ties, reference=refs)
    target = read_csv(validation) if validation is not None else frame
    model_cols = [time, event, *covs]
    target = target.dropna(subset=[c for c in model_cols if c in target.columns])
    brier = _run(cox_brier, fit, target, time, event, times)
    slope = (_run(calibration_slope, fit, target, time, event) if validation is not None
             else None)
    optimism = (_run(optimism_corrected_c, frame, time, event, covs, n_boot=bootstrap,
                     seed=seed, ties=ties, reference=refs) if bootstrap else None)
    payload = {"n": fit.n, "events": fit.events, "apparent_c": fit.concordance,
               "optimism": optimism.to_dict() if optimism else None,
               "brier_data": "validation" if validation is not None else "development",
               "brier": brier.to_dict(),
               "calibration_slope": slope.to_dict() if slope else None}
    if as_json:
        emit_json(payload)
        return
    from rich.console import Console

    console = Console()
    console.print(f"Cox model on {fit.n} patients, {fit.events} events ({ties} ties)")
    if optimism is not None:
        console.print(f"Harrell's C {optimism.apparent:.3f}; optimism {optimism.optimism:.3f} "
                      f"over {optimism.n_boot} bootstrap samples (seed {seed}); "
                      f"optimism-corrected C {optimism.corrected:.3f}")
    else:
        console.print(f"Harrell's C {fit.concordance:.3f} (apparent)")
    where = "validation data" if validation is not None else "development data (apparent)"
    table = _table(f"Brier score on the {where} (IPCW, Kaplan–Meier censoring)",
                   ("time", "Brier", "integrated Brier", "Brier, no covariates",
                    "integrated, no covariates"))
    for row in brier.to_frame().itertuples(index=False):
        table.add_row(f"{row.time:g}", _num(row.brier, 4), _num(row.ibs, 4),
                      _num(row.brier_null, 4), _num(row.ibs_null, 4))
    console.print(table)
    console.print("integrated Brier score: the Brier score as a step function over the --at "
                  "times from 0 (Brier 0 at time 0), divided by the time — as riskRegression; "
                  "give a fine grid of times for a close integral")
    if slope is not None:
        console.print(f"calibration slope {slope.slope:.3f} (95% CI {slope.lower95:.3f}–"
                      f"{slope.upper95:.3f}; 1 is ideal, below 1 predictions too extreme)")
