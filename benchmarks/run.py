"""Benchmarks of the survival core: crlm vs lifelines vs R ``survival`` in the same run.

Synthetic data (10 covariates, times in whole days → many ties, ~55 % events, pairs of rows
sharing a cluster id) at each size. Timed per size, median of ``--repeats`` runs (lifelines'
and R's robust fits: one run above 10k rows):

* Cox, Efron ties: the fit alone (crlm and lifelines compute Harrell's C only on access), the
  fit + C (R's ``coxph`` always computes C and its SE), and with robust (sandwich) SE + C:
  ``crlm.stats.cox_ph``, lifelines ``CoxPHFitter``, R ``coxph(..., ties="efron", robust=)``.
  lifelines' and R's robust variance take quadratic time here, so they are timed only up to
  ``--robust-max-n`` rows (default 50k).
* Harrell's C of a risk score (``score`` = x0 + x1; higher = shorter survival) with tied
  times and tied scores: ``crlm.stats.concordance`` (with its SE), lifelines
  ``concordance_index`` (no SE), R ``concordance(..., reverse = TRUE)`` (with SE).
* Kaplan–Meier by a 3-level group + log-rank: crlm, lifelines (``KaplanMeierFitter`` per group
  + ``multivariate_logrank_test``), R (``survfit`` + ``survdiff``).

R timings are measured inside R (``proc.time``) on the same CSV file, so reading the file is
not counted for any tool. Usage: ``python benchmarks/run.py [--sizes 10000,100000,1000000]
[--repeats 3] [--robust-max-n 50000] [--no-r] [--no-lifelines]``. Results: a table on stdout and
``benchmarks/results/survival_<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from crlm.stats import CoxResult, concordance, cox_ph, kaplan_meier, logrank_test

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
COVARIATES = [f"x{i}" for i in range(10)]

R_SCRIPT = r"""
suppressMessages(library(survival))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1]); reps <- as.integer(args[2]); robust <- args[3] == "1"
rreps <- as.integer(args[4])
f <- as.formula(paste("Surv(time, event) ~", paste(sprintf("x%d", 0:9), collapse = " + ")))
tm <- function(expr) { t0 <- proc.time()[["elapsed"]]; force(expr); proc.time()[["elapsed"]] - t0 }
vec <- function(x) paste(sprintf("%.17g", x), collapse = ",")
cox <- sapply(seq_len(reps), function(i) tm(fit <<- coxph(f, data = d, ties = "efron")))
out <- sprintf('"cox": [%s], "coef": [%s], "se": [%s], "loglik": %.17g, "c": [%s]', vec(cox),
               vec(coef(fit)), vec(sqrt(diag(fit$var))), fit$loglik[2],
               vec(fit$concordance[c("concordance", "std")]))
if (robust) {
  rob <- sapply(seq_len(rreps), function(i) tm(rfit <<- coxph(f, data = d, ties = "efron",
                                                            robust = TRUE)))
  out <- paste0(out, sprintf(', "cox_robust": [%s], "robust_se": [%s]', vec(rob),
                             vec(sqrt(diag(rfit$var)))))
}
hc <- sapply(seq_len(reps), function(i) tm(cfit <<- concordance(Surv(time, event) ~ score,
                                                               data = d, reverse = TRUE)))
out <- paste0(out, sprintf(', "harrell_c": [%s], "c_score": [%s]', vec(hc),
                           vec(c(cfit$concordance, sqrt(cfit$var)))))
km <- sapply(seq_len(reps), function(i) tm({
  survfit(Surv(time, event) ~ grp, data = d); survdiff(Surv(time, event) ~ grp, data = d)}))
cat(paste0("{", out, sprintf(', "km_logrank": [%s]', vec(km)), "}\n"))
"""
TASKS = (("cox_fit", "Cox Efron fit, no C"), ("cox", "Cox Efron fit + C"),
         ("cox_robust", "Cox Efron robust SE + C"), ("harrell_c", "Harrell's C of a score"),
         ("km_logrank", "KM by 3 groups + logrank"))


def synthetic(n: int, seed: int = 20240611) -> pd.DataFrame:
    """Survival data with 10 covariates, tied integer-day times and a 3-level group."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(COVARIATES)))
    x[:, 3] = rng.binomial(1, 0.3, n)
    x[:, 7] = rng.binomial(1, 0.6, n)
    beta = np.linspace(-0.4, 0.4, len(COVARIATES))
    event_time = np.ceil(rng.exponential(900.0 * np.exp(-(x @ beta))))
    censor_time = np.ceil(rng.uniform(30, 2500, n))
    frame = pd.DataFrame(x, columns=COVARIATES)
    frame["time"] = np.minimum(event_time, censor_time)
    frame["event"] = (event_time <= censor_time).astype(int)
    frame["grp"] = rng.choice(["A", "B", "C"], n)
    frame["id"] = np.arange(n) // 2
    frame["score"] = np.round(x[:, 0] + x[:, 1], 2)  # tied scores, as real risk scores have
    return frame


def with_c(fit: CoxResult) -> CoxResult:
    """Force crlm's (lazy) concordance, as R's coxph always computes it."""
    _ = fit.concordance_se
    return fit


def timed(func: Callable[[], object], repeats: int) -> tuple[float, object]:
    """Median wall time over ``repeats`` runs and the last result."""
    times = []
    result: object = None
    for _ in range(repeats):
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def run_lifelines(frame: pd.DataFrame, repeats: int, robust: bool, robust_repeats: int
                  ) -> dict[str, object]:
    from lifelines import CoxPHFitter, KaplanMeierFitter
    from lifelines.statistics import multivariate_logrank_test

    cols = [*COVARIATES, "time", "event"]

    def cox(robust_se: bool, with_c: bool = True) -> CoxPHFitter:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = CoxPHFitter().fit(frame[cols], "time", "event", robust=robust_se)
            if with_c:
                _ = fit.concordance_index_  # lifelines computes C on first access
            return fit

    def km() -> object:
        for _, sub in frame.groupby("grp"):
            KaplanMeierFitter().fit(sub["time"], sub["event"])
        return multivariate_logrank_test(frame["time"], frame["grp"], frame["event"])

    out: dict[str, object] = {}
    out["cox_fit"], _ = timed(lambda: cox(False, with_c=False), repeats)
    out["cox"], fit = timed(lambda: cox(False), repeats)
    assert isinstance(fit, CoxPHFitter)
    out["coef"] = fit.params_[COVARIATES].tolist()
    if robust:
        out["cox_robust"], rfit = timed(lambda: cox(True), robust_repeats)
        assert isinstance(rfit, CoxPHFitter)
        out["robust_se"] = rfit.standard_errors_[COVARIATES].tolist()
    from lifelines.utils import concordance_index
    out["harrell_c"], c = timed(
        lambda: concordance_index(frame["time"], -frame["score"], frame["event"]), repeats)
    out["c_score"] = [float(c)]  # type: ignore[arg-type]
    out["km_logrank"], _ = timed(km, repeats)
    return out


def run_r(frame: pd.DataFrame, repeats: int, robust: bool, robust_repeats: int, workdir: Path
          ) -> dict[str, object] | None:
    rscript = shutil.which("Rscript")
    if rscript is None:
        return None
    data = workdir / "data.csv"
    frame.to_csv(data, index=False)
    script = workdir / "bench.R"
    script.write_text(R_SCRIPT)
    proc = subprocess.run([rscript, str(script), str(data), str(repeats), "1" if robust else "0",
                           str(robust_repeats)],
                          capture_output=True, text=True, check=False, timeout=1800)
    if proc.returncode != 0:
        print(f"R failed: {proc.stderr.strip()[:500]}", file=sys.stderr)
        return None
    raw = json.loads(proc.stdout.strip().splitlines()[-1])
    return {k: statistics.median(v) if k in dict(TASKS) else v for k, v in raw.items()}


def max_rel(a: list[float], b: list[float]) -> float:
    x, y = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(x - y) / np.abs(y)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--repeats", type=int, default=3, help="runs per timing (median)")
    parser.add_argument("--robust-max-n", type=int, default=50_000,
                        help="largest n for lifelines' and R's robust fits (quadratic time)")
    parser.add_argument("--no-r", action="store_true")
    parser.add_argument("--no-lifelines", action="store_true")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    warm = synthetic(500)  # first-call costs (imports, caches) are not timed
    cox_ph(warm, "time", "event", COVARIATES, robust=True)
    logrank_test(warm, "time", "event", "grp")
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            frame = synthetic(n)
            reps = args.repeats
            robust_reps = reps if n <= 10_000 else 1  # lifelines'/R's robust: quadratic
            others_robust = n <= args.robust_max_n
            crlm: dict[str, object] = {}
            crlm["cox_fit"], _ = timed(
                lambda f=frame: cox_ph(f, "time", "event", COVARIATES), reps)
            crlm["cox"], fit = timed(lambda f=frame: with_c(cox_ph(f, "time", "event",
                                                                   COVARIATES)), reps)
            crlm["cox_robust"], rfit = timed(
                lambda f=frame: with_c(cox_ph(f, "time", "event", COVARIATES, robust=True)),
                reps)
            crlm["harrell_c"], c_score = timed(
                lambda f=frame: concordance(f["time"].to_numpy(), f["event"].to_numpy(),
                                            f["score"].to_numpy(), reverse=True), reps)
            crlm["km_logrank"], _ = timed(
                lambda f=frame: (kaplan_meier(f, "time", "event", "grp"),
                                 logrank_test(f, "time", "event", "grp")), reps)
            assert isinstance(fit, CoxResult) and isinstance(rfit, CoxResult)
            row: dict[str, object] = {
                "n": n, "events": int(frame["event"].sum()),
                "distinct_times": int(frame["time"].nunique()), "repeats": reps,
                "robust_repeats_lifelines_r": robust_reps,
                "crlm": crlm, "lifelines": None, "r": None,
            }
            if not args.no_lifelines:
                ll = run_lifelines(frame, reps, others_robust, robust_reps)
                ll["max_rel_diff_coef_vs_crlm"] = max_rel(ll.pop("coef"), fit.coef.tolist())
                ll["max_rel_diff_score_c_vs_crlm"] = max_rel(ll.pop("c_score"),
                                                             [float(c_score[0])])
                if "robust_se" in ll:
                    ll["max_rel_diff_robust_se_vs_crlm"] = max_rel(ll.pop("robust_se"),
                                                                   rfit.se.tolist())
                row["lifelines"] = ll
            if not args.no_r:
                rr = run_r(frame, reps, others_robust, robust_reps, Path(tmp))
                if rr is not None:
                    rr["crlm_max_rel_diff_coef"] = max_rel(fit.coef.tolist(), rr.pop("coef"))
                    rr["crlm_max_rel_diff_se"] = max_rel(fit.se.tolist(), rr.pop("se"))
                    rr["crlm_rel_diff_loglik"] = abs(fit.loglik / float(rr.pop("loglik")) - 1)
                    rr["crlm_max_rel_diff_concordance_and_se"] = max_rel(
                        [fit.concordance, fit.concordance_se], rr.pop("c"))
                    rr["crlm_max_rel_diff_score_c_and_se"] = max_rel(list(c_score),
                                                                     rr.pop("c_score"))
                    if "robust_se" in rr:
                        rr["crlm_max_rel_diff_robust_se"] = max_rel(rfit.se.tolist(),
                                                                    rr.pop("robust_se"))
                row["r"] = rr
            rows.append(row)
            print_row(row)
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = {"machine": {"python": platform.python_version(), "platform": platform.platform(),
                       "numpy": np.__version__, "cpus": os.cpu_count()},
           "when": stamp, "results": rows}
    path = RESULTS / f"survival_{stamp}.json"
    path.write_text(json.dumps(out, indent=2))
    print(f"\nwritten {path.relative_to(HERE.parent)}")
    return 0


def _fmt(seconds: object) -> str:
    return "—" if not isinstance(seconds, float) else f"{seconds:8.3f}s"


def _ratio(other: dict[str, object] | None, key: str, ours: float) -> str:
    if not other or key not in other:
        return "—"
    return f"{float(other[key]) / ours:6.1f}×"  # type: ignore[arg-type]


def print_row(row: dict[str, object]) -> None:
    """One block per size: medians and how many times slower the other tools are than crlm."""
    crlm, ll, rr = row["crlm"], row["lifelines"], row["r"]
    assert isinstance(crlm, dict)
    lld = ll if isinstance(ll, dict) else {}
    rrd = rr if isinstance(rr, dict) else {}
    print(f"\nn = {row['n']:,} (events {row['events']:,}, distinct times "
          f"{row['distinct_times']:,}; median of {row['repeats']} runs, lifelines/R robust "
          f"{row['robust_repeats_lifelines_r']})")
    print(f"{'task':<27}{'crlm':>10}{'lifelines':>11}{'R':>11}{'lifelines/crlm':>16}"
          f"{'R/crlm':>9}")
    for key, label in TASKS:
        ours = float(crlm[key])
        print(f"{label:<27}{_fmt(ours):>10}{_fmt(lld.get(key)):>11}{_fmt(rrd.get(key)):>11}"
              f"{_ratio(lld, key, ours):>16}{_ratio(rrd, key, ours):>9}")
    for label, d in (("crlm vs R", rrd), ("lifelines vs crlm", lld)):
        diffs = {k.replace("crlm_", "").replace("max_rel_diff_", "").replace("rel_diff_", "")
                 .replace("_vs_crlm", ""): v for k, v in d.items() if "diff" in k}
        if diffs:
            print(f"{label}: max rel diff " + ", ".join(f"{k} {v:.1e}" for k, v in diffs.items()))


if __name__ == "__main__":
    sys.exit(main())
