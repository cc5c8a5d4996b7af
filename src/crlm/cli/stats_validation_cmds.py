"""CLI adapter: ``crlm stats cif|gray|finegray|concordance|tdauc|calibration|validate``.

Competing risks (cumulative incidence, Gray's test, Fine–Gray) and validation of prognostic
scores (Harrell's C, time-dependent AUC, calibration, the four published scores side by side).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer

from crlm.cli._common import fail_bad_input
from crlm.cli.stats_cmds import (
    DataOpt,
    EventOpt,
    JsonOpt,
    TimeOpt,
    _ci,
    _num,
    _p,
    _p_eq,
    _parse_reference,
    _parse_times,
    _run,
    _table,
    data_console,
    emit_json,
    read_csv,
    split_list,
    stats_app,
)
from crlm.stats.defaults import BOOTSTRAP_DRAWS, BOOTSTRAP_SEED, TimeUnit

StatusOpt = Annotated[str, typer.Option(
    "--status", help="Status column: 0 censored, 1, 2, … the cause of the event.")]
CauseOpt = Annotated[int, typer.Option("--cause", help="The cause of interest (status code).")]
ScoreOpt = Annotated[str, typer.Option(
    "--score", help="Risk-score column (higher = worse prognosis).")]
DrawsOpt = Annotated[int, typer.Option(
    "--draws", help="Bootstrap resamples for the AUC CIs (0: no CI).")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Bootstrap random seed.")]


@stats_app.command("cif")
def cif_cmd(
    data: DataOpt,
    time: TimeOpt,
    status: StatusOpt,
    at: Annotated[str, typer.Option("--at", help="Times to report: 365,730,1095.")],
    group: Annotated[str | None, typer.Option("--group", help="Group COLUMN.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Cumulative incidence of each cause (Aalen–Johansen) at given times, per group.

    Use it when another event prevents the one of interest (death before recurrence): 1 − KM
    overstates the incidence then. SE: delta method (Marubini & Valsecchi); 95 % CI plain,
    clipped to [0, 1].

    Example:  crlm stats cif --data cohort.csv --time rfs_days --status rfs_status
              --group approach --at 365,1095 --json
    """
    from crlm.stats.competing import cumulative_incidence

    times = _parse_times(at, "--at")
    if not times:
        fail_bad_input("--at: give at least one time, e.g. --at 365,730")
    from crlm.stats.validation import Z95

    res = _run(cumulative_incidence, read_csv(data), time, status, group)
    rows = []
    for g, causes in res.items():
        for cause, cif in causes.items():
            for r in cif.at(times).itertuples(index=False):
                se = math.sqrt(max(float(r.variance), 0.0))
                rows.append({"group": g, "cause": cause, "time": float(r.time),
                             "estimate": float(r.estimate), "se": se,
                             "lower95": max(0.0, r.estimate - Z95 * se),
                             "upper95": min(1.0, r.estimate + Z95 * se)})
    if as_json:
        emit_json({"group": group, "rows": rows})
        return
    table = _table("Cumulative incidence (Aalen–Johansen)",
                   ("group", "cause", "time", "incidence", "SE", "95% CI"))
    for r in rows:
        table.add_row(str(r["group"]), str(r["cause"]), f"{r['time']:g}", _num(r["estimate"]),
                      _num(r["se"]), _ci(r["lower95"], r["upper95"]))
    data_console().print(table)


@stats_app.command("gray")
def gray_cmd(
    data: DataOpt,
    time: TimeOpt,
    status: StatusOpt,
    group: Annotated[str, typer.Option("--group", help="Group COLUMN (k ≥ 2 levels).")],
    cause: CauseOpt = 1,
    rho: Annotated[float, typer.Option("--rho", help="Weight (1 − F(t−))^rho; 0 = log-rank.")]
    = 0.0,
    as_json: JsonOpt = False,
) -> None:
    """Gray's test: equal cumulative incidence of one cause across groups (R cmprsk cuminc).

    Example:  crlm stats gray --data cohort.csv --time rfs_days --status rfs_status
              --group approach --cause 1
    """
    from crlm.stats.competing import GRAY_NOT_COMPUTABLE, gray_test

    res = _run(gray_test, read_csv(data), time, status, group, cause=cause, rho=rho)
    if as_json:
        emit_json({"cause": res.cause, "statistic": res.statistic, "df": res.df, "p": res.p,
                   "groups": res.groups, "rho": rho, "computable": res.computable})
        return
    if not res.computable:
        data_console().print(f"{GRAY_NOT_COMPUTABLE} (cause {res.cause} by {group}: "
                             f"{', '.join(res.groups)})")
        return
    data_console().print(f"Gray's test, cause {res.cause} by {group} "
                         f"({', '.join(res.groups)}): χ² = {res.statistic:.3f} on {res.df} df, "
                         f"{_p_eq(res.p)}")


@stats_app.command("finegray")
def finegray_cmd(
    data: DataOpt,
    time: TimeOpt,
    status: StatusOpt,
    covariates: Annotated[str, typer.Option("--covariates", help="Comma-separated columns.")],
    cause: CauseOpt = 1,
    reference: Annotated[list[str] | None, typer.Option(
        "--reference", help="Reference level COLUMN=LEVEL (repeatable).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Fine–Gray subdistribution-hazard regression for one cause (R cmprsk crr).

    Coefficients and log partial likelihood equal crr's; SEs are model-based (crr reports a
    sandwich variance), so CIs differ slightly from R's.

    Example:  crlm stats finegray --data cohort.csv --time rfs_days --status rfs_status
              --covariates approach,cea_gt_5 --cause 1 --json
    """
    from crlm.stats.competing import fine_gray

    covs = split_list(covariates)
    if not covs:
        fail_bad_input("--covariates: at least one column is needed")
    fit = _run(fine_gray, read_csv(data), time, status, covs, cause=cause,
               reference=_parse_reference(reference or []))
    frame = fit.to_frame()
    if as_json:
        emit_json({"n": fit.n, "events": fit.events, "cause": fit.cause, "loglik": fit.loglik,
                   "coefficients": {
                       name: {k: float(row[k]) for k in ("coef", "se", "shr", "lower95",
                                                         "upper95", "p")}
                       for name, row in frame.iterrows()}})
        return
    table = _table(f"Fine–Gray model, cause {fit.cause} (n = {fit.n}, events = {fit.events})",
                   ("term", "SHR", "95% CI (Wald)", "coef", "SE", "p"))
    for name, row in frame.iterrows():
        table.add_row(str(name), _num(row["shr"], 2), _ci(row["lower95"], row["upper95"], 2),
                      _num(row["coef"], 4), _num(row["se"], 4), _p(row["p"]))
    data_console().print(table)


@stats_app.command("concordance")
def concordance_cmd(
    data: DataOpt,
    time: TimeOpt,
    event: EventOpt,
    score: Annotated[str, typer.Option(
        "--score", help="One score column, or two (a,b) to compare on the same patients.")],
    as_json: JsonOpt = False,
) -> None:
    """Harrell's C of a risk score (higher = worse) with 95 % CI; two scores: their difference.

    Matches R concordance(): infinitesimal-jackknife SE; two scores are compared on their
    common complete cases with the covariance of the two C's.

    Example:  crlm stats concordance --data cohort.csv --time os_days --event os_event
              --score game,fong_crs
    """
    from crlm.stats.validation import compare_scores, harrell_c

    scores = split_list(score)
    if len(scores) not in (1, 2):
        fail_bad_input("--score: one column, or two separated by a comma")
    frame = read_csv(data)
    if len(scores) == 1:
        c = _run(harrell_c, frame, time, event, scores[0])
        payload = {"score": scores[0], "n": c.n, "events": c.events, "c": c.c, "se": c.se,
                   "lower95": c.lower95, "upper95": c.upper95}
        if as_json:
            emit_json(payload)
            return
        data_console().print(f"Harrell's C of {scores[0]}: {c.c:.3f} (95% CI "
                             f"{_ci(c.lower95, c.upper95)}), n = {c.n}, events = {c.events}")
        return
    cmp = _run(compare_scores, frame, time, event, scores[0], scores[1])
    if as_json:
        emit_json({"n": cmp.first.n, "events": cmp.first.events, "scores": {
            s: {"c": x.c, "se": x.se, "lower95": x.lower95, "upper95": x.upper95}
            for s, x in zip(scores, (cmp.first, cmp.second), strict=True)},
            "difference": cmp.difference, "se": cmp.se, "lower95": cmp.lower95,
            "upper95": cmp.upper95, "p": cmp.p})
        return
    table = _table(f"Harrell's C (n = {cmp.first.n}, events = {cmp.first.events})",
                   ("score", "C", "95% CI"))
    for s, x in zip(scores, (cmp.first, cmp.second), strict=True):
        table.add_row(s, _num(x.c), _ci(x.lower95, x.upper95))
    console = data_console()
    console.print(table)
    console.print(f"difference {scores[0]} − {scores[1]}: {cmp.difference:.3f} (95% CI "
                  f"{_ci(cmp.lower95, cmp.upper95)}), {_p_eq(cmp.p)}")


@stats_app.command("tdauc")
def tdauc_cmd(
    data: DataOpt,
    time: TimeOpt,
    event: EventOpt,
    score: ScoreOpt,
    at: Annotated[str, typer.Option("--at", help="Horizons in time units: 365.25,1095.75.")],
    draws: DrawsOpt = BOOTSTRAP_DRAWS,
    seed: SeedOpt = BOOTSTRAP_SEED,
    as_json: JsonOpt = False,
) -> None:
    """Time-dependent AUC of a score at horizons (cumulative/dynamic, IPCW, Uno 2007).

    The survival counterpart of a ROC AUC: cases died by the horizon, controls were still
    event-free after it; censored patients are reweighted instead of dropped. 95 % CI from a
    percentile bootstrap (--draws, --seed).

    Example:  crlm stats tdauc --data cohort.csv --time os_days --event os_event
              --score game --at 365.25,1095.75,1826.25 --json
    """
    from crlm.stats.validation import time_dependent_auc_ci

    horizons = _parse_times(at, "--at")
    if not horizons:
        fail_bad_input("--at: give at least one horizon")
    if draws < 0:
        fail_bad_input("--draws: must be ≥ 0")
    frame = read_csv(data)
    res = [_run(time_dependent_auc_ci, frame, time, event, score, h, draws=draws, seed=seed)
           for h in horizons]
    if as_json:
        emit_json({"score": score, "draws": draws, "seed": seed,
                   "auc": [{"time": a.horizon, "auc": a.auc, "lower95": a.lower95,
                            "upper95": a.upper95} for a in res]})
        return
    table = _table(f"Time-dependent AUC of {score} (IPCW)", ("time", "AUC", "95% CI"))
    for a in res:
        table.add_row(f"{a.horizon:g}", _num(a.auc), _ci(a.lower95, a.upper95))
    data_console().print(table)


@stats_app.command("calibration")
def calibration_cmd(
    data: DataOpt,
    time: TimeOpt,
    event: EventOpt,
    group: Annotated[str, typer.Option("--group", help="Risk-group or score COLUMN.")],
    at: Annotated[float, typer.Option("--at", help="Horizon in time units (e.g. 1826.25).")],
    expected: Annotated[str | None, typer.Option(
        "--expected", help="Published survival at the horizon per group: low=0.73,high=0.11 "
        "(numeric groups: 0=0.60,1=0.44). With ≥ 2 values also O/E and the slope.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Observed Kaplan–Meier survival at a horizon per risk group beside the expected one.

    With --expected for at least two numeric score values, also calibration-in-the-large
    (observed/expected deaths), the calibration slope and the recalibrated baseline.

    Example:  crlm stats calibration --data cohort.csv --time os_days --event os_event
              --group fong_crs --at 1826.25 --expected 0=0.60,1=0.44,2=0.40,3=0.20,4=0.25,5=0.14
    """
    from crlm.stats.validation import calibration_against_published, calibration_by_group

    exp: dict[str, float] = {}
    for part in split_list(expected):
        key, sep, value = part.partition("=")
        try:
            exp[key.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not 0 < exp.get(key.strip(), -1) < 1:
            fail_bad_input(f"--expected: expected GROUP=SURVIVAL with 0 < survival < 1, "
                           f"got {part!r}")
    frame = read_csv(data)
    table_frame = _run(calibration_by_group, frame, time, event, group, at, exp or None)
    numeric = {}
    for k, v in exp.items():
        try:
            numeric[float(k)] = v
        except ValueError:
            numeric = {}
            break
    cal = (_run(calibration_against_published, frame, time, event, group, numeric, at)
           if len(numeric) >= 2 else None)
    if as_json:
        emit_json({"horizon": at, "groups": table_frame.reset_index().to_dict(orient="records"),
                   "calibration": None if cal is None else {
                       k: v for k, v in vars(cal).items() if k != "table"}})
        return
    table = _table(f"Survival at {at:g} by {group}",
                   ("group", "n", "at risk", "observed", "95% CI", "expected"))
    for g, row in table_frame.iterrows():
        table.add_row(str(g), str(int(row["n"])), str(int(row["n_risk"])), _num(row["observed"]),
                      _ci(row["lower95"], row["upper95"]),
                      _num(row["expected"]) if "expected" in row else "—")
    console = data_console()
    console.print(table)
    if cal is not None:
        console.print(f"observed/expected deaths {cal.oe_ratio:.2f} (95% CI "
                      f"{_ci(cal.oe_lower95, cal.oe_upper95, 2)}); calibration slope "
                      f"{cal.slope:.2f} (95% CI {_ci(cal.slope_lower95, cal.slope_upper95, 2)}); "
                      f"recalibration factor exp(α) = {math.exp(cal.alpha):.2f} (n = {cal.n})")


@stats_app.command("validate")
def validate_cmd(
    data: DataOpt,
    time: TimeOpt,
    event: EventOpt,
    time_unit: Annotated[TimeUnit, typer.Option(
        "--time-unit", help="Unit of --time: days, months or years.")] = "days",
    horizons: Annotated[str, typer.Option(
        "--horizons", help="AUC horizons in years.")] = "1,3,5",
    scores: Annotated[str | None, typer.Option(
        "--scores", help="Score columns already in the data: fong_crs=COL,game=COL,"
        "tumor_burden_score=COL,mcs=COL (default: derive them from the clinical columns).")]
    = None,
    draws: DrawsOpt = BOOTSTRAP_DRAWS,
    seed: SeedOpt = BOOTSTRAP_SEED,
    figure: Annotated[Path | None, typer.Option(
        "--figure", help="Also write the figure (PNG, SVG, PDF or TIFF by extension).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Validate Fong, GAME, TBS and m-CS on your own cohort, side by side.

    For each score: Harrell's C (95 % CI), time-dependent AUC at 1, 3 and 5 years, and — where
    the paper publishes 5-year survival (Fong by score value; GAME 0–1 and ≥ 4) —
    observed/expected deaths, the calibration slope and the recalibrated baseline. Scores are
    derived from node_positive, disease_free_interval_months (or timing), number_of_metastases,
    cea_ng_ml, largest_diameter_cm, kras/ras (or ras_mutant) and extrahepatic_disease, as
    `crlm db export --analysis` writes them; a score whose columns are absent is named with
    the reason.

    Example:  crlm db export --analysis cohort.csv
              crlm stats validate --data cohort.csv --time os_days --event os_event
              --figure validation.png
    """
    from crlm.reports.score_validation import SCORES, validate_cohort_scores

    years = _parse_times(horizons, "--horizons")
    if not years or min(years) <= 0:
        fail_bad_input("--horizons: give horizons > 0 in years, e.g. 1,3,5")
    if draws < 0:
        fail_bad_input("--draws: must be ≥ 0")
    mapping: dict[str, str] = {}
    for part in split_list(scores):
        name, sep, col = part.partition("=")
        if not sep or name.strip() not in SCORES or not col.strip():
            fail_bad_input(f"--scores: expected NAME=COLUMN with NAME one of "
                           f"{', '.join(SCORES)}; got {part!r}")
        mapping[name.strip()] = col.strip()
    frame = read_csv(data)
    for col in [time, event, *mapping.values()]:
        if col not in frame.columns:
            fail_bad_input(f"{col}: column not in the data")
    res = _run(validate_cohort_scores, frame, time, event, time_unit=time_unit,
               horizons_years=years, score_columns=mapping or None, draws=draws, seed=seed)
    if res.result is None:
        fail_bad_input("no score can be computed: " + "; ".join(
            f"{SCORES[k]}: {v}" for k, v in res.not_validated.items()))
    if figure is not None:
        from crlm.reports import figures

        fmt = figure.suffix.lstrip(".").lower()
        if fmt not in figures.FORMATS:
            fail_bad_input(f"--figure: extension must be one of {', '.join(figures.FORMATS)}")
        figure.write_bytes(figures.render(figures.validation_figure(res), (fmt,))[fmt])
    if as_json:
        emit_json({"time_unit": time_unit, "horizons_years": years, "draws": draws,
                   "seed": seed, "scores": res.result.to_dict(),
                   "not_validated": res.not_validated})
        return
    _print_validation(res)


def _print_validation(res: object) -> None:
    from crlm.reports.score_validation import CohortScoreValidation

    assert isinstance(res, CohortScoreValidation)
    frame = res.table()
    table = _table("Validation of prognostic scores", tuple(frame.columns))
    for row in frame.itertuples(index=False):
        table.add_row(*[str(v) for v in row])
    console = data_console()
    console.print(table)
    calibration = res.calibration_table()
    if not calibration.empty:
        cal = _table("Calibration of the published 5-year survival", tuple(calibration.columns))
        for row in calibration.itertuples(index=False):
            cal.add_row(*[str(v) for v in row])
        console.print(cal)
    for note in res.notes():
        console.print(f"  {note}")


def register(app: typer.Typer) -> None:
    """Commands attach to ``stats_app`` at import; nothing else to add."""
