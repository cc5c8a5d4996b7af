"""The centre's side: send a partial to every node, add their answers, iterate.

Written against a small :class:`Nodes` interface (run one method at every node, get the list
of answers back) so that the same code runs inside a vantage6 central task
(:class:`crlm.federated.VantageNodes`) and in-process for a dry run
(:class:`crlm.federated.local.LocalNodes`). Results are crlm's own result objects (CoxResult,
LogisticResult, LogrankResult, KMResult), so the CLI, the JSON and the report render them as
they render a pooled analysis.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd
from scipy import linalg, stats

from crlm.federated._disclosure import MIN_CELL
from crlm.stats._data import DroppedRows, StatsInputError, factor_codes, level_label
from crlm.stats.cox import ConvergenceError, CoxResult
from crlm.stats.logistic import LogisticResult
from crlm.stats.survival import KMCurve, KMResult, LogrankResult, _confint
from crlm.stats.table1 import TEST_NAMES, categorical_test, format_p

#: Newton–Raphson stops when the log-likelihood changes by less than this (crlm's pooled fit
#: uses the same rule), then the largest step is below ~1e-10 on every coefficient.
LOGLIK_TOL = 1e-12
MAX_ITER = 50
#: Default shared time grid of Kaplan–Meier, in the data's time units (days: one month)
DEFAULT_BIN_WIDTH = 365.25 / 12
#: Rounds of bin merging before the Kaplan–Meier request gives up
MAX_ROUNDS = 200
HISTOGRAM_BINS = 20


class Nodes(Protocol):
    """Runs one method at every node (organisation) and returns their answers in order."""

    def run(self, method: str, kwargs: dict[str, Any]) -> list[dict[str, Any]]: ...


# ------------------------------------------------------------------------------ levels


def agree_levels(nodes: Nodes, columns: Sequence[str], categorical: Sequence[str] = (),
                 reference: Mapping[str, object] | None = None, min_cell: int = MIN_CELL
                 ) -> dict[str, dict[str, Any]]:
    """Numeric or categorical per column, and the union of the levels in R's factor order."""
    reference = dict(reference or {})
    answers = nodes.run("partial_levels", {"columns": list(columns),
                                           "categorical": [*categorical, *reference],
                                           "min_cell": min_cell})
    spec: dict[str, dict[str, Any]] = {}
    for col in columns:
        kinds = {a["columns"][col]["kind"] for a in answers}
        if kinds == {"numeric"} and col not in reference:
            spec[col] = {"kind": "numeric"}
            continue
        values = list({repr(v): v for a in answers
                       for v in a["columns"][col].get("levels", [])}.values())
        if "numeric" in kinds:  # numbers at one centre, categories at another
            raise StatsInputError(col, "numeric at some centres and categorical at others")
        _, ordered = factor_codes(pd.Series(values, dtype=object))
        labels = [level_label(v) for v in ordered]
        if len(labels) < 2:
            raise StatsInputError(col, "constant covariate (one level across all centres)")
        ref = level_label(reference[col]) if col in reference else labels[0]
        if ref not in labels:
            raise StatsInputError(col, f"reference level {ref} not among " + ", ".join(labels))
        spec[col] = {"kind": "categorical", "levels": labels, "reference": ref}
    return spec


def _names(covariates: Sequence[str], spec: Mapping[str, Mapping[str, Any]]
           ) -> tuple[list[str], dict[str, list[str]], dict[str, str]]:
    names: list[str] = []
    terms: dict[str, list[str]] = {}
    refs: dict[str, str] = {}
    for cov in covariates:
        s = spec[cov]
        if s["kind"] == "numeric":
            terms[cov] = [cov]
        else:
            terms[cov] = [f"{cov}[{lv}]" for lv in s["levels"] if lv != s["reference"]]
            refs[cov] = s["reference"]
        names += terms[cov]
    return names, terms, refs


# ------------------------------------------------------------------------------ Newton


@dataclass
class NewtonTrace:
    """What the iterations cost: rounds of requests and bytes the nodes sent back."""

    iterations: int = 0
    rounds: int = 0
    answers: list[list[dict[str, Any]]] = field(default_factory=list, repr=False)


def _sum(answers: list[dict[str, Any]], p: int) -> tuple[float, np.ndarray, np.ndarray]:
    loglik = float(sum(a["loglik"] for a in answers))
    score = np.sum([np.asarray(a["score"], dtype=float) for a in answers], axis=0)
    info = np.sum([np.asarray(a["information"], dtype=float) for a in answers], axis=0)
    return loglik, score.reshape(p), info.reshape(p, p)


def _newton(nodes: Nodes, method: str, kwargs: dict[str, Any], p: int, trace: NewtonTrace
            ) -> tuple[np.ndarray, float, np.ndarray, np.ndarray, list[dict[str, Any]],
                       list[dict[str, Any]]]:
    """Newton–Raphson with step halving from 0, as crlm's pooled fit; each evaluation is one
    round in which every node returns its log-likelihood, gradient and information."""

    def evaluate(beta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, list[dict]]:
        answers = nodes.run(method, {**kwargs, "beta": beta.tolist()})
        trace.rounds += 1
        return (*_sum(answers, p), answers)

    beta = np.zeros(p)
    loglik, score, info, answers = evaluate(beta)
    first = answers
    for iteration in range(1, MAX_ITER + 1):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", linalg.LinAlgWarning)
                step = linalg.solve(info, score, assume_a="pos")
        except (linalg.LinAlgError, ValueError) as exc:
            raise ConvergenceError(None, f"information matrix is singular ({exc})") from exc
        new = beta + step
        new_loglik, new_score, new_info, new_answers = evaluate(new)
        halvings = 0
        while (not np.isfinite(new_loglik) or new_loglik < loglik - LOGLIK_TOL) and halvings < 30:
            step /= 2.0
            new = beta + step
            new_loglik, new_score, new_info, new_answers = evaluate(new)
            halvings += 1
        change = abs(new_loglik - loglik)
        beta, loglik, score, info, answers = new, new_loglik, new_score, new_info, new_answers
        trace.iterations = iteration
        if change < max(LOGLIK_TOL, 4e-15 * abs(loglik)):
            return beta, loglik, score, info, answers, first
    raise ConvergenceError(None, f"did not converge in {MAX_ITER} iterations")


def _dropped(answers: list[dict[str, Any]], n: int) -> DroppedRows:
    """Rows used, and rows dropped for a missing value where a centre released that count
    (a centre with 1–4 dropped rows does not)."""
    return DroppedRows(n_input=n + int(sum(a.get("n_dropped") or 0 for a in answers)),
                       n_used=n)


# ------------------------------------------------------------------------------ Cox


def federated_cox(nodes: Nodes, time: str, event: str, covariates: Sequence[str], *,
                  ties: str = "efron", robust: bool = False,
                  reference: Mapping[str, object] | None = None,
                  categorical: Sequence[str] = (), min_cell: int = MIN_CELL,
                  trace: NewtonTrace | None = None) -> CoxResult:
    """Cox model stratified by centre (``coxph(... + strata(centre))``) from node aggregates."""
    if ties not in ("efron", "breslow"):
        raise StatsInputError(None, f"ties must be 'efron' or 'breslow', not {ties!r}")
    covariates = list(covariates)
    if not covariates:
        raise StatsInputError(None, "at least one covariate is needed")
    trace = trace or NewtonTrace()
    spec = agree_levels(nodes, covariates, categorical, reference, min_cell)
    names, terms, refs = _names(covariates, spec)
    kwargs = {"time": time, "event": event, "covariates": covariates, "spec": spec,
              "ties": ties, "min_cell": min_cell}
    beta, loglik, _score, info, _answers, first = _newton(nodes, "partial_cox", kwargs,
                                                          len(names), trace)
    naive_var = linalg.inv(info)
    naive_var = (naive_var + naive_var.T) / 2.0
    loglik0, score0, info0 = _sum(first, len(names))
    var = naive_var
    if robust:  # one more round: score-residual cross-products at the solution
        final = nodes.run("partial_cox", {**kwargs, "beta": beta.tolist(), "robust": True})
        trace.rounds += 1
        cross = np.sum([np.asarray(a["score_cross"]) for a in final], axis=0)
        var = naive_var @ cross @ naive_var
    n = int(sum(a["n"] for a in first))
    result = CoxResult(
        names=names, coef=beta, var=var, naive_var=naive_var, robust=robust, loglik=loglik,
        loglik_null=loglik0, score_test=float(score0 @ linalg.solve(info0, score0,
                                                                     assume_a="pos")),
        n=n, events=int(sum(a["events"] for a in first)), iterations=trace.iterations,
        ties=ties, dropped=_dropped(first, n), terms=terms, references=refs, strata="centre")
    return result


# ------------------------------------------------------------------------------ logistic


def federated_logistic(nodes: Nodes, outcome: str, covariates: Sequence[str], *,
                       reference: Mapping[str, object] | None = None,
                       categorical: Sequence[str] = (), min_cell: int = MIN_CELL,
                       trace: NewtonTrace | None = None) -> LogisticResult:
    """Logistic regression ``glm(outcome ~ covariates, binomial)`` on the pooled rows, by
    Newton–Raphson on the nodes' gradients and information."""
    covariates = list(covariates)
    if not covariates:
        raise StatsInputError(None, "at least one covariate is needed")
    trace = trace or NewtonTrace()
    spec = agree_levels(nodes, covariates, categorical, reference, min_cell)
    names, terms, refs = _names(covariates, spec)
    kwargs = {"outcome": outcome, "covariates": covariates, "spec": spec, "min_cell": min_cell}
    beta, loglik, _score, info, answers, _first = _newton(nodes, "partial_logistic", kwargs,
                                                          len(names) + 1, trace)
    if not np.all(np.isfinite(beta)) or np.any(np.abs(beta) > 30):
        raise StatsInputError(None, "separation: the outcome is perfectly predicted, so a "
                                    "coefficient is infinite; use a Firth-penalised model")
    se = np.sqrt(np.diag(linalg.inv(info)))
    n = int(sum(a["n"] for a in answers))
    events = int(sum(a["events"] for a in answers))
    rate = events / n
    null = events * np.log(rate) + (n - events) * np.log(1 - rate)
    return LogisticResult(names=names, coef=beta[1:], se=se[1:], intercept=float(beta[0]),
                          intercept_se=float(se[0]), loglik=loglik, loglik_null=float(null),
                          n=n, events=events, dropped=_dropped(answers, n), terms=terms,
                          references=refs)


# ------------------------------------------------------------------------------ survival


def _group_levels(nodes: Nodes, group: str | None, min_cell: int) -> list[str]:
    if group is None:
        return ["all"]
    return agree_levels(nodes, [group], [group], None, min_cell)[group]["levels"]


def federated_logrank(nodes: Nodes, time: str, event: str, group: str, *,
                      min_cell: int = MIN_CELL) -> LogrankResult:
    """Log-rank test stratified by centre (``survdiff(... + strata(centre))``)."""
    groups = _group_levels(nodes, group, min_cell)
    answers = nodes.run("partial_logrank", {"time": time, "event": event, "group": group,
                                            "groups": groups, "min_cell": min_cell})
    k = len(groups)
    obs = np.sum([a["events"] for a in answers], axis=0).astype(float)
    diff = np.sum([a["o_minus_e"] for a in answers], axis=0)
    var = np.sum([np.asarray(a["variance"]) for a in answers], axis=0).reshape(k, k)
    chisq = float(diff[1:] @ linalg.solve(var[1:, 1:], diff[1:], assume_a="sym"))
    n = np.sum([a["n"] for a in answers], axis=0).astype(np.int64)
    return LogrankResult(groups, n, obs, obs - diff, var, chisq, k - 1, None, None,
                         DroppedRows(int(n.sum()), int(n.sum())))


@dataclass
class FederatedKM:
    """Kaplan–Meier curves from node counts, with how the time axis was released."""

    result: KMResult
    points: list[float]  # the released time points (bin ends, or exact event times)
    binned: bool
    bin_width: float | None
    horizon: float | None  # last released time point (counts under the threshold beyond)
    per_centre: list[dict[str, Any]]
    min_cell: int = MIN_CELL

    @property
    def note(self) -> str:
        """How the curve was released, in words (times in the data's units)."""
        return self.describe(1.0, "time units")

    def describe(self, scale: float, unit: str) -> str:
        """How the curve was released, times divided by ``scale`` and shown in ``unit``."""
        intervals = len(self.points)
        how = (f"follow-up grouped on a shared grid of {self.bin_width / scale:.3g} {unit} "
               f"({intervals} intervals released: an interval holding 1 to {self.min_cell - 1} "
               "events or patients at a centre is merged with the next; events and censoring "
               "count at the end of their interval)"
               if self.binned and self.bin_width is not None
               else "exact event times (every time has at least the minimum number of events "
                    "at every centre)")
        end = (f"; curves released up to {self.horizon / scale:.3g} {unit}"
               if self.horizon is not None else "")
        return f"Kaplan–Meier from centre counts: {how}{end}."


def _curve(n_risk: np.ndarray, n_event: np.ndarray, points: np.ndarray) -> KMCurve:
    keep = n_risk > 0
    t, r, d = points[keep], n_risk[keep].astype(float), n_event[keep].astype(float)
    surv = np.cumprod(1.0 - d / r)
    with np.errstate(divide="ignore", invalid="ignore"):
        std_err = np.sqrt(np.cumsum(d / (r * (r - d))))
    lower, upper = _confint(surv, std_err, "log", 0.95)
    censor = np.concatenate((r[:-1] - d[:-1] - r[1:], r[-1:] - d[-1:])) if r.size else r
    return KMCurve(t, r.astype(np.int64), d.astype(np.int64), censor.astype(np.int64), surv,
                   std_err, lower, upper, "log")


def _merge_pairs(failing: list[int], size: int) -> list[int]:
    """Points to drop this round: in each run of consecutive refused points every other one
    (each refused bin joins the next), so bins grow no more than needed; a refused last bin
    joins the one before it, so the curve keeps its end."""
    drop: list[int] = []
    for j in failing:
        if j == size - 1 and j > 0:
            j -= 1
        if not drop or drop[-1] < j - 1:
            drop.append(j)
    return drop


def _km_counts(nodes: Nodes, kwargs: dict[str, Any], points: np.ndarray, k: int,
               merge: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
    """Ask every node for counts at ``points``; while some node refuses, merge the refused
    bins with the next one (``merge``) or stop the curve before the first refused point."""
    for _ in range(MAX_ROUNDS):
        answers = nodes.run("partial_km", {**kwargs, "points": points.tolist()})
        failing = sorted({j for a in answers for j in a["failing"]})
        if not failing:
            n_risk = np.sum([np.asarray(a["n_risk"], np.int64).reshape(k, -1)
                             for a in answers], axis=0)
            n_event = np.sum([np.asarray(a["n_event"], np.int64).reshape(k, -1)
                              for a in answers], axis=0)
            return points, n_risk, n_event, answers
        points = (np.delete(points, _merge_pairs(failing, points.size)) if merge
                  else points[:failing[0]])
        if points.size == 0:
            break
    raise StatsInputError(None, "the centres cannot release a Kaplan–Meier curve: too few "
                                "patients or events for the disclosure threshold")


def federated_km(nodes: Nodes, time: str, event: str, group: str | None = None, *,
                 bin_width: float = DEFAULT_BIN_WIDTH, max_time: float | None = None,
                 exact: bool = False, min_cell: int = MIN_CELL) -> FederatedKM:
    """Kaplan–Meier by group from numbers at risk and events per node.

    Default: a shared time grid (``bin_width`` up to ``max_time``) on which bins holding a
    count under ``min_cell`` at any centre are merged with the next one; the curve equals the
    pooled Kaplan–Meier of follow-up grouped on the released grid. ``exact`` asks for the
    union of event times, which a node releases only when every time has ≥ ``min_cell``
    events; the curve then equals the pooled Kaplan–Meier at every released time.
    """
    groups = _group_levels(nodes, group, min_cell)
    k = len(groups)
    kwargs = {"time": time, "event": event, "group": group, "groups": groups,
              "min_cell": min_cell, "binned": not exact}
    if exact:
        times = nodes.run("partial_event_times", {"time": time, "event": event, "group": group,
                                                  "min_cell": min_cell})
        grid = np.unique(np.concatenate([np.asarray(a["times"], float) for a in times]))
        width = None
    else:
        if max_time is None:
            raise StatsInputError(time, "the binned Kaplan–Meier needs the end of the time "
                                        "axis (max_time): nodes do not release their "
                                        "longest follow-up")
        width = bin_width
        grid = np.arange(1, int(np.ceil(max_time / bin_width)) + 1) * bin_width
    points, n_risk, n_event, answers = _km_counts(nodes, kwargs, grid, k, merge=not exact)
    curves = {g: _curve(n_risk[i], n_event[i], points) for i, g in enumerate(groups)}
    n = int(np.sum([a["n"] for a in answers]))
    result = KMResult(curves, group, "log", DroppedRows(n, n))
    per_centre = [{"n": int(sum(a["n"])), "events": int(sum(a["events"]))} for a in answers]
    return FederatedKM(result, points.tolist(), not exact, width,
                       float(points[-1]) if points.size else None, per_centre, min_cell)


# ------------------------------------------------------------------------------ Table 1


@dataclass
class FederatedTable1:
    """Table 1 from centre counts, sums and histograms."""

    frame: pd.DataFrame
    footnotes: list[str]
    sizes: dict[str, int]
    counts: dict[str, np.ndarray]  # categorical: levels × groups (pooled, suppressed cells 0)
    means: dict[str, np.ndarray]
    sds: dict[str, np.ndarray]
    p: dict[str, float]


def _histogram_median(edges: np.ndarray, counts: np.ndarray, q: float) -> float:
    """Quantile ``q`` by linear interpolation within the shared bins (approximate)."""
    cum = np.concatenate(([0.0], np.cumsum(counts)))
    if cum[-1] == 0:
        return float("nan")
    target = q * cum[-1]
    j = int(np.searchsorted(cum, target, side="left"))
    j = min(max(j, 1), counts.size)
    within = (target - cum[j - 1]) / counts[j - 1] if counts[j - 1] else 0.0
    return float(edges[j - 1] + within * (edges[j] - edges[j - 1]))


def _spread(group: Mapping[str, Any]) -> np.ndarray:
    """A centre's histogram with the suppressed cells' total (n − released cells, when n was
    released) shared equally among them."""
    cells = group["histogram"]
    known = np.array([0.0 if c is None else c for c in cells])
    hidden = [j for j, c in enumerate(cells) if c is None]
    if hidden and group["n"]:
        known[hidden] = max(group["n"] - known.sum(), 0.0) / len(hidden)
    return known


def _welch_or_anova(n: np.ndarray, mean: np.ndarray, var: np.ndarray) -> tuple[str, float]:
    if n.size == 2:
        se2 = var / n
        t = (mean[0] - mean[1]) / np.sqrt(se2.sum())
        dof = se2.sum() ** 2 / np.sum(se2**2 / (n - 1))
        return "welch", float(2 * stats.t.sf(abs(t), dof))
    grand = np.sum(n * mean) / n.sum()
    between = np.sum(n * (mean - grand) ** 2) / (n.size - 1)
    within = np.sum((n - 1) * var) / (n.sum() - n.size)
    return "anova", float(stats.f.sf(between / within, n.size - 1, n.sum() - n.size))


class _Cells:
    """Adds centre cells, counting the suppressed ones (None) as 0 and remembering them."""

    def __init__(self) -> None:
        self.suppressed = 0

    def add(self, cells: list[Any]) -> np.ndarray:
        self.suppressed += sum(c is None for c in cells)
        return np.array([0 if c is None else c for c in cells], dtype=float)


def _shared_edges(nodes: Nodes, continuous: Sequence[str], bins: int, min_cell: int
                  ) -> dict[str, list[float]]:
    """Histogram bin edges per variable: mean ± 4 SD of all centres, from their moments."""
    if not continuous:
        return {}
    moments = nodes.run("partial_moments", {"columns": list(continuous), "min_cell": min_cell})
    edges = {}
    for var in continuous:
        n = sum(m[var]["n"] for m in moments)
        mean = sum(m[var]["sum"] for m in moments) / n
        sd = np.sqrt(max(sum(m[var]["sum_squares"] for m in moments) / n - mean**2, 0.0))
        lo, hi = mean - 4 * sd, mean + 4 * sd
        edges[var] = np.linspace(lo, hi if hi > lo else lo + 1, bins + 1).tolist()
    return edges


def federated_table1(nodes: Nodes, group: str, *, categorical: Sequence[str] = (),
                     continuous: Sequence[str] = (), labels: Mapping[str, str] | None = None,
                     level_labels: Callable[[str, str], str] | None = None,
                     p_format: Callable[[float], str] = format_p,
                     bins: int = HISTOGRAM_BINS, min_cell: int = MIN_CELL) -> FederatedTable1:
    """Table 1 by ``group``: n (%) with χ² from pooled counts; mean (SD) with Welch's t /
    ANOVA from pooled sums; median [IQR] read from a shared-bin histogram (approximate).
    ``level_labels(variable, level)`` names the levels and groups (default: as written)."""
    labels = dict(labels or {})
    name = level_labels or (lambda _var, level: level)
    spec = agree_levels(nodes, [group, *categorical], [group, *categorical], None, min_cell)
    groups = spec[group]["levels"]
    edges = _shared_edges(nodes, continuous, bins, min_cell)
    cat_levels = {v: spec[v]["levels"] for v in categorical}
    answers = nodes.run("partial_table1", {"group": group, "groups": groups,
                                           "categorical": cat_levels, "continuous": edges,
                                           "min_cell": min_cell})
    cells = _Cells()
    sizes = np.sum([cells.add(a["n"]) for a in answers], axis=0)
    result = FederatedTable1(pd.DataFrame(), [], dict(zip(groups, sizes.astype(int).tolist(),
                                                          strict=True)), {}, {}, {}, {})
    rows: list[list[object]] = []
    for var in categorical:
        table = np.sum([np.vstack([cells.add(r) for r in a["categorical"][var]["counts"]])
                        for a in answers], axis=0)
        result.counts[var] = table
        test, _stat, p = categorical_test(table)
        result.p[var] = p
        rows.append([f"{labels.get(var, var)}, n (%)", *[""] * len(groups), p_format(p),
                     TEST_NAMES[test]])
        for j, lv in enumerate(cat_levels[var]):
            rows.append([f"  {name(var, lv)}", *[_n_pct(table[j, i], table[:, i].sum())
                                                  for i in range(len(groups))], "", ""])
    for var in continuous:
        rows += _continuous_rows(result, var, labels.get(var, var),
                                 [a["continuous"][var] for a in answers],
                                 np.asarray(edges[var]), cells, p_format)
    result.frame = pd.DataFrame(rows, columns=[
        "Variable", *[f"{name(group, g)} (n = {int(s)})" for g, s in zip(groups, sizes,
                                                                       strict=True)],
        "p", "Test"])
    result.footnotes = [
        "Computed from centre aggregates without pooling patient data: counts and sums per "
        f"centre, cells under {min_cell} suppressed at the centre.",
        f"Medians and quartiles are approximate: read from a histogram of {bins} shared "
        "intervals (mean ± 4 SD of all centres); a centre's suppressed intervals share its "
        "remaining patients equally."]
    if cells.suppressed:
        result.footnotes.append(f"{cells.suppressed} centre cells under {min_cell} were "
                                "suppressed and are not included in the counts or tests.")
    return result


def _n_pct(count: float, total: float) -> str:
    return f"{int(count)} ({100 * count / total:.1f})" if total else ""


def _continuous_rows(result: FederatedTable1, var: str, label: str,
                     per_centre: list[list[dict[str, Any]]], edges: np.ndarray, cells: _Cells,
                     p_format: Callable[[float], str]) -> list[list[object]]:
    """Mean (SD) with Welch's t / ANOVA, and the approximate median [IQR], of one variable."""
    n = np.sum([[g["n"] or 0 for g in c] for c in per_centre], axis=0).astype(float)
    total = np.sum([[g["sum"] or 0.0 for g in c] for c in per_centre], axis=0)
    squares = np.sum([[g["sum_squares"] or 0.0 for g in c] for c in per_centre], axis=0)
    hist = np.sum([[_spread(g) for g in c] for c in per_centre], axis=0)
    cells.suppressed += sum(x is None for c in per_centre for g in c for x in g["histogram"])
    mean = total / n
    variance = (squares - n * mean**2) / (n - 1)
    result.means[var], result.sds[var] = mean, np.sqrt(variance)
    test, p = _welch_or_anova(n, mean, variance)
    result.p[var] = p
    q = [[_histogram_median(edges, h, x) for x in (0.5, 0.25, 0.75)] for h in hist]
    return [[f"{label}, mean (SD)", *[f"{m:.1f} ({np.sqrt(v):.1f})"
                                      for m, v in zip(mean, variance, strict=True)],
             p_format(p), TEST_NAMES[test]],
            [f"{label}, approximate median [IQR]", *[f"{a:.1f} [{b:.1f}, {c:.1f}]"
                                                     for a, b, c in q], "", ""]]
