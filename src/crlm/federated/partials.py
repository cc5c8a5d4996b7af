"""Node-side computations: each takes the centre's analysis dataset and returns aggregates.

Every function here runs at a node on its own rows and returns a JSON-ready dict of sums,
counts, gradients and information matrices — never a row. Counts are checked against the
disclosure threshold (:mod:`crlm.federated._disclosure`) before anything is returned, and the
answer is logged. The Cox terms are crlm's own (:meth:`crlm.stats.cox._Model.evaluate`), so a
Cox model stratified by centre is the sum of these answers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from crlm.federated._disclosure import (
    MIN_CELL,
    DisclosureError,
    released,
    require_safe,
    suppress,
)
from crlm.stats._data import (
    StatsInputError,
    _is_categorical,
    complete_cases,
    level_label,
    survival_outcome,
)
from crlm.stats.cox import _build_model, _residuals_input_order
from crlm.stats.survival import _logrank_terms

#: {"kind": "numeric"} or {"kind": "categorical", "levels": [...], "reference": level}
LevelSpec = Mapping[str, Any]


def _jsonable(value: Any) -> Any:
    """A level as JSON keeps its type (number, bool or text) so the centre can order levels."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def _labels(series: pd.Series) -> np.ndarray:
    """``level_label`` of every value (None when missing), computed once per distinct value."""
    codes, uniques = pd.factorize(series)
    table = np.array([level_label(u) for u in uniques] + [None], dtype=object)
    return table[codes]  # code −1 (missing) picks the trailing None


# ------------------------------------------------------------------------------ schema


def levels_partial(df: pd.DataFrame, columns: Sequence[str], categorical: Sequence[str] = (),
                   min_cell: int = MIN_CELL) -> dict[str, Any]:
    """Per column: numeric, or categorical with the levels present (names only, no counts)."""
    out: dict[str, Any] = {}
    for col in columns:
        if col not in df.columns:
            raise StatsInputError(col, "column not found in the data")
        series = df[col].dropna()
        if _is_categorical(df[col]) or col in categorical:
            out[col] = {"kind": "categorical",
                        "levels": sorted({_jsonable(v) for v in series}, key=repr)}
        else:
            out[col] = {"kind": "numeric"}
    return released("levels", {"columns": out})


def design(df: pd.DataFrame, covariates: Sequence[str], spec: Mapping[str, LevelSpec]
           ) -> tuple[np.ndarray, list[str]]:
    """The design matrix with the columns the centre agreed (a level absent here is all 0)."""
    blocks: list[np.ndarray] = []
    names: list[str] = []
    for cov in covariates:
        s = spec[cov]
        if s["kind"] == "numeric":
            blocks.append(pd.to_numeric(df[cov], errors="raise").to_numpy(dtype=float))
            names.append(cov)
            continue
        labels = _labels(df[cov])
        unknown = set(labels) - set(s["levels"])
        if unknown:
            raise StatsInputError(cov, f"level {sorted(unknown)[0]} not among the agreed levels")
        for lv in s["levels"]:
            if lv != s["reference"]:
                blocks.append((labels == lv).astype(float))
                names.append(f"{cov}[{lv}]")
    matrix = np.column_stack(blocks) if blocks else np.empty((len(df), 0))
    return matrix, names


def require_safe_levels(x: np.ndarray, names: Sequence[str], covariates: Sequence[str],
                        spec: Mapping[str, LevelSpec], min_cell: int) -> None:
    """Refuse when a categorical covariate has a level (reference included) with 1 to
    ``min_cell − 1`` patients here: its score and information would describe those few."""
    position = {n: j for j, n in enumerate(names)}
    for cov in covariates:
        if spec[cov]["kind"] != "categorical":
            continue
        cols = [position[f"{cov}[{lv}]"] for lv in spec[cov]["levels"]
                if lv != spec[cov]["reference"]]
        counts = x[:, cols].sum(axis=0)
        require_safe(f"patients per level of {cov}", [*counts, len(x) - counts.sum()],
                     min_cell)


def _survival_rows(df: pd.DataFrame, time: str, event: str, extra: Sequence[str]
                   ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    used, _ = complete_cases(df, [time, event, *extra])
    if len(used) == 0:
        raise StatsInputError(None, "no complete rows at this centre")
    t, e = survival_outcome(used, time, event)
    return used, t, e.astype(float)


# ------------------------------------------------------------------------------ Cox


def cox_partial(df: pd.DataFrame, time: str, event: str, covariates: Sequence[str],
                spec: Mapping[str, LevelSpec], beta: Sequence[float], ties: str = "efron",
                robust: bool = False, min_cell: int = MIN_CELL) -> dict[str, Any]:
    """Log partial likelihood, score and information of this centre's stratum at ``beta``.

    With ``robust`` also the sum over patients of the score-residual cross-products, from
    which the centre builds the sandwich variance (R ``coxph(robust = TRUE)``).
    """
    used, t, e = _survival_rows(df, time, event, covariates)
    n, events = len(used), int(e.sum())
    require_safe("patients and events", [n, events, n - events], min_cell)
    x, names = design(used, covariates, spec)
    require_safe_levels(x, names, covariates, spec, min_cell)
    x = x - x.mean(axis=0)  # the partial likelihood does not depend on the centring
    model = _build_model(x, t, e.astype(np.int8), None, ties)  # type: ignore[arg-type]
    b = np.asarray(beta, dtype=float)
    loglik, score, info, terms = model.evaluate(b)
    out: dict[str, Any] = {"n": n, "events": events, "n_dropped": suppress(len(df) - n, min_cell),
                           "loglik": float(loglik),
                           "score": score.tolist(), "information": info.tolist()}
    if robust:
        resid = _residuals_input_order(model, terms)
        out["score_cross"] = (resid.T @ resid).tolist()
    return released("cox", out)


# ------------------------------------------------------------------------------ logistic


def logistic_partial(df: pd.DataFrame, outcome: str, covariates: Sequence[str],
                     spec: Mapping[str, LevelSpec], beta: Sequence[float],
                     min_cell: int = MIN_CELL) -> dict[str, Any]:
    """Log-likelihood, gradient and information of ``outcome ~ covariates`` (with intercept)."""
    used, _ = complete_cases(df, [outcome, *covariates])
    y = pd.to_numeric(used[outcome].astype("float") if used[outcome].dtype == bool
                      else used[outcome], errors="coerce").to_numpy(dtype=float)
    if np.isnan(y).any() or not set(np.unique(y)) <= {0.0, 1.0}:
        raise StatsInputError(outcome, "outcome must be coded 0/1 (or false/true)")
    n, events = len(y), int(y.sum())
    require_safe("patients, events and non-events", [n, events, n - events], min_cell)
    x, names = design(used, covariates, spec)
    require_safe_levels(x, names, covariates, spec, min_cell)
    x = np.column_stack((np.ones(n), x))
    eta = x @ np.asarray(beta, dtype=float)
    mu = 1.0 / (1.0 + np.exp(-eta))
    loglik = float(np.sum(y * eta - np.logaddexp(0.0, eta)))
    w = mu * (1.0 - mu)
    return released("logistic", {
        "n": n, "events": events, "n_dropped": suppress(len(df) - n, min_cell),
        "loglik": loglik, "score": (x.T @ (y - mu)).tolist(),
        "information": ((x * w[:, None]).T @ x).tolist()})


# ------------------------------------------------------------------------------ survival


def _group_codes(used: pd.DataFrame, group: str | None, groups: Sequence[str]) -> np.ndarray:
    if group is None:
        return np.zeros(len(used), dtype=np.int64)
    labels = _labels(used[group])
    position = {g: k for k, g in enumerate(groups)}
    unknown = set(labels) - set(position)
    if unknown:
        raise StatsInputError(group, f"group {sorted(unknown)[0]} not among the agreed groups")
    return np.array([position[v] for v in labels], dtype=np.int64)


def event_times_partial(df: pd.DataFrame, time: str, event: str, group: str | None = None,
                        min_cell: int = MIN_CELL) -> dict[str, Any]:
    """The distinct event times, released only when every time has ≥ ``min_cell`` events."""
    _used, t, e = _survival_rows(df, time, event, [group] if group else [])
    times, counts = np.unique(t[e == 1], return_counts=True)
    require_safe("events at each exact time", counts.tolist(), min_cell)
    return released("event_times", {"times": times.tolist()})


def km_partial(df: pd.DataFrame, time: str, event: str, points: Sequence[float],
               group: str | None = None, groups: Sequence[str] = ("all",), binned: bool = True,
               min_cell: int = MIN_CELL) -> dict[str, Any]:
    """Numbers at risk and events per group at ``points``.

    ``binned``: follow-up is coarsened to the shared grid (an event or censoring in
    (p₋₁, p] counts at p), so at risk at p = follow-up > p₋₁. Otherwise ``points`` are exact
    event times: at risk at p = follow-up ≥ p. When a count at some point would fall under
    ``min_cell`` the node releases no count, only the positions of those points
    (``failing``), so that the centre can merge bins (or, for exact times, stop the curve
    before the first of them).
    """
    used, t, e = _survival_rows(df, time, event, [group] if group else [])
    codes = _group_codes(used, group, groups)
    p = np.asarray(points, dtype=float)
    k = len(groups)
    sizes = np.bincount(codes, minlength=k)
    events = np.bincount(codes, weights=e, minlength=k).astype(np.int64)
    require_safe("patients and events per group", [*sizes, *events], min_cell)
    n_risk = np.zeros((k, p.size), dtype=np.int64)
    n_event = np.zeros((k, p.size), dtype=np.int64)
    lower = np.concatenate(([-np.inf], p[:-1]))
    for g in range(k):
        ts = np.sort(t[codes == g])
        ev = np.sort(t[(codes == g) & (e == 1)])
        if binned:
            n_risk[g] = ts.size - np.searchsorted(ts, lower, side="right")
            n_event[g] = (np.searchsorted(ev, p, side="right")
                          - np.searchsorted(ev, lower, side="right"))
        else:
            n_risk[g] = ts.size - np.searchsorted(ts, p, side="left")
            n_event[g] = (np.searchsorted(ev, p, side="right")
                          - np.searchsorted(ev, p, side="left"))
    ok = (np.all((n_risk == 0) | (n_risk >= min_cell), axis=0)
          & np.all((n_event == 0) | (n_event >= min_cell), axis=0))
    if not ok.all():
        return released("km", {"failing": np.flatnonzero(~ok).tolist()})
    return released("km", {"failing": [], "n": sizes.tolist(), "events": events.tolist(),
                           "n_risk": n_risk.tolist(), "n_event": n_event.tolist()})


def logrank_partial(df: pd.DataFrame, time: str, event: str, group: str,
                    groups: Sequence[str], min_cell: int = MIN_CELL) -> dict[str, Any]:
    """This centre's stratum of the log-rank test: O − E per group and its variance matrix."""
    used, t, e = _survival_rows(df, time, event, [group])
    codes = _group_codes(used, group, groups)
    k = len(groups)
    sizes = np.bincount(codes, minlength=k)
    events = np.bincount(codes, weights=e, minlength=k).astype(np.int64)
    require_safe("patients and events per group", [*sizes, *events], min_cell)
    obs, exp, var = _logrank_terms(t, e, codes, k)
    return released("logrank", {"n": sizes.tolist(), "events": events.tolist(),
                                "o_minus_e": (obs - exp).tolist(), "variance": var.tolist()})


# ------------------------------------------------------------------------------ Table 1


def _group_frame(df: pd.DataFrame, group: str, groups: Sequence[str]) -> tuple[pd.DataFrame,
                                                                             np.ndarray]:
    data = df[df[group].notna()]
    return data, _group_codes(data, group, groups)


def table1_partial(df: pd.DataFrame, group: str, groups: Sequence[str],
                   categorical: Mapping[str, Sequence[str]] = {},
                   continuous: Mapping[str, Sequence[float]] = {},
                   min_cell: int = MIN_CELL) -> dict[str, Any]:
    """Counts per level and group; n, sum, sum of squares and a histogram on the shared
    ``continuous[var]`` bin edges per group. Cells under ``min_cell`` are None (suppressed);
    the sums of a group with fewer than ``min_cell`` values are not released."""
    data, codes = _group_frame(df, group, groups)
    k = len(groups)
    sizes = np.bincount(codes, minlength=k)
    out: dict[str, Any] = {"n": [suppress(c, min_cell) for c in sizes],
                           "categorical": {}, "continuous": {}}
    for var, levels in categorical.items():
        labels = _labels(data[var])
        absent = np.array([v is None for v in labels], dtype=bool)
        counts = [[suppress(int(((labels == lv) & (codes == g)).sum()), min_cell)
                   for g in range(k)] for lv in levels]
        missing = [suppress(int((absent & (codes == g)).sum()), min_cell) for g in range(k)]
        out["categorical"][var] = {"counts": counts, "missing": missing}
    for var, edges in continuous.items():
        values = pd.to_numeric(data[var], errors="coerce").to_numpy(dtype=float)
        ok = ~np.isnan(values)
        per_group = []
        for g in range(k):
            v = values[ok & (codes == g)]
            release = v.size >= min_cell
            hist = np.histogram(np.clip(v, edges[0], edges[-1]), bins=np.asarray(edges))[0]
            per_group.append({
                "n": suppress(v.size, min_cell),
                "sum": float(v.sum()) if release else None,
                "sum_squares": float((v * v).sum()) if release else None,
                "histogram": [suppress(int(c), min_cell) for c in hist],
                "missing": suppress(int((~ok & (codes == g)).sum()), min_cell)})
        out["continuous"][var] = per_group
    return released("table1", out)


def moments_partial(df: pd.DataFrame, columns: Sequence[str], min_cell: int = MIN_CELL
                    ) -> dict[str, Any]:
    """n, sum and sum of squares of numeric columns (to place shared histogram bins)."""
    out = {}
    for col in columns:
        v = pd.to_numeric(df[col], errors="coerce").dropna().to_numpy(dtype=float)
        if v.size < min_cell:
            raise DisclosureError(col, f"fewer than {min_cell} values at this centre")
        out[col] = {"n": int(v.size), "sum": float(v.sum()), "sum_squares": float((v * v).sum())}
    return released("moments", out)


def count_partial(df: pd.DataFrame, masks: Sequence[Mapping[str, Any]] = (),
                  min_cell: int = MIN_CELL) -> dict[str, Any]:
    """Patients remaining after each selection step (the flow diagram), suppressed under
    ``min_cell``."""
    from crlm.reports.analysis_config import Filter, row_mask

    counts = [suppress(len(df), min_cell)]
    cohort = df
    for m in masks:
        f = Filter.model_validate(m["filter"])
        keep = row_mask(cohort, f)
        cohort = cohort[keep if m["include"] else ~keep]
        counts.append(suppress(len(cohort), min_cell))
    return released("count", {"counts": counts})
