"""Benchmark: full `crlm analyze` report (examples/maki2023.toml) on a synthetic cohort.

    python benchmarks/bench_report.py [--n 100000]

Target (issue 6): ≤ 60 s for 100,000 patients on the 2-core reference machine.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from crlm.reports.cohort_report import analyze
from crlm.synth import synthetic_rectal_cohort

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "cohort.csv"
        t0 = time.perf_counter()
        synthetic_rectal_cohort(args.n, args.seed).to_csv(data, index=False)
        t_synth = time.perf_counter() - t0
        steps: list[tuple[str, float]] = []
        t1 = time.perf_counter()
        analyze(data, ROOT / "examples" / "maki2023.toml", Path(tmp) / "report",
                progress=lambda s: steps.append((s, time.perf_counter())))
        t_report = time.perf_counter() - t1
    marks = [t1] + [t for _, t in steps] + [t1 + t_report]
    timing = {name: round(marks[i + 1] - marks[i], 2) for i, (name, _) in enumerate(steps)}
    print(json.dumps({"n": args.n, "synth_seconds": round(t_synth, 2),
                      "report_seconds": round(t_report, 2), "steps": timing}, indent=2))


if __name__ == "__main__":
    main()
