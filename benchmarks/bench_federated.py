"""Federated Cox cost: 3 centres × 100,000 patients (crlm synth), Cox stratified by centre.

Reports Newton iterations, rounds of requests, time per node and bytes each node sent, and the
agreement with crlm's pooled fit (``cox_ph(..., strata="centre")``).

    .venv/bin/python benchmarks/bench_federated.py [--n 100000] [--centres 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from crlm.federated import central
from crlm.federated.local import LocalNodes
from crlm.stats.cox import cox_ph
from crlm.synth.cohorts import synthetic_rectal_cohort

COVARIATES = ["age_years", "approach", "cea_gt_5", "largest_diameter_cm", "extrahepatic_disease"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--centres", type=int, default=3)
    args = parser.parse_args()
    frames = [synthetic_rectal_cohort(args.n, seed=100 + i).assign(centre=f"C{i + 1}")
              for i in range(args.centres)]
    warm = LocalNodes([f.head(2000) for f in frames])  # numba kernels compiled outside timing
    central.federated_cox(warm, "os_days", "os_event", COVARIATES)
    for robust in (False, True):
        nodes = LocalNodes(frames)
        trace = central.NewtonTrace()
        start = time.perf_counter()
        fed = central.federated_cox(nodes, "os_days", "os_event", COVARIATES, robust=robust,
                                    trace=trace)
        wall = time.perf_counter() - start
        pooled = pd.concat(frames, ignore_index=True)
        start = time.perf_counter()
        ref = cox_ph(pooled, "os_days", "os_event", COVARIATES, strata="centre", robust=robust)
        pooled_s = time.perf_counter() - start
        print(f"{args.centres} × {args.n:,} patients, Efron, robust={robust}: "
              f"{trace.iterations} Newton iterations, {trace.rounds} Cox rounds "
              f"(+1 levels round), wall {wall:.2f} s (pooled fit {pooled_s:.2f} s)")
        for name, c in zip(nodes.names, nodes.costs, strict=True):
            print(f"  {name}: {c.requests} requests, {c.seconds:.2f} s "
                  f"({c.seconds / c.requests:.3f} s/request), {c.bytes_sent:,} bytes sent "
                  f"({c.bytes_sent / c.requests:,.0f} per request)")
        print(f"  max |coef − pooled| {np.abs(fed.coef - ref.coef).max():.2e}, "
              f"max |SE − pooled| {np.abs(fed.se - ref.se).max():.2e}")


if __name__ == "__main__":
    main()
