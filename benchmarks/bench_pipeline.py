"""Benchmark: the seed-sized univariable screen + multivariable Cox pipeline (issue 4 target:
274 rows, 15 factors in ≤ 0.5 s).

    python benchmarks/bench_pipeline.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from crlm.stats.regression_table import regression_table
from crlm.synth import synthetic_rectal_cohort

FACTORS = ["period", "age_years", "sex", "approach", "distance_le_10cm", "t_category_ge_3",
           "diversion", "extrahepatic_disease", "cea_gt_5", "cycles_gt_8",
           "multiple_metastases", "diameter_gt_5cm", "clavien_dindo_ge_3", "pve",
           "hepatectomy_grade"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    df = synthetic_rectal_cohort(274, seed=1)
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        table = regression_table(df, FACTORS, kind="cox", time="os_days", event="os_event",
                                 threshold=0.10, reference={"approach": "combined"})
        times.append(time.perf_counter() - t0)
    print(json.dumps({"rows": len(df), "factors": len(FACTORS), "entered": table.entered,
                      "median_seconds": round(statistics.median(times), 4),
                      "target_seconds": 0.5}, indent=2))


if __name__ == "__main__":
    main()
