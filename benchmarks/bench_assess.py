"""Benchmark: ``assess(patient)`` per call, in process (issue 10: the assess path stays fast).

    python benchmarks/bench_assess.py [--loops 200] [--repeats 5] [--synthetic 20]
        [--examples examples] [--fixed N]

Patients: every ``examples/*.json`` the installed patient model accepts, the web benchmark's
patient (``benchmarks/web_load.py``) and ``--synthetic`` patients of the synthetic rectal cohort
(seed 0). Each patient is assessed ``--loops`` times per repeat (after one warm-up call); the
figure per patient is the median over ``--repeats`` of the mean wall time per call, with the
process CPU time per call beside it (on a shared machine the CPU time is the fairer figure:
it does not count the time other jobs hold the core, though cache misses still count).
The summary is the median over patients, and the mean over the whole set (one call per patient
in turn = one "mixed" call).

``--fixed N`` instead runs exactly N rounds over the patient set and prints nothing but the
count, for instruction counting, which is load-independent::

    valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        python benchmarks/bench_assess.py --fixed 20
    perf stat -e instructions:u python benchmarks/bench_assess.py --fixed 200

(subtract a ``--fixed 0`` run to remove start-up and imports).
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from crlm.clinical.assess import assess
from crlm.domain import Patient

sys.path.insert(0, str(Path(__file__).resolve().parent))
from web_load import PATIENT


def patients(examples: Path, synthetic: int) -> list[tuple[str, Patient]]:
    """The benchmark's patients, by name (examples the model refuses are skipped)."""
    out: list[tuple[str, Patient]] = [("web_load", Patient.model_validate(PATIENT))]
    for path in sorted(examples.glob("*.json")):
        try:
            out.append((path.stem, Patient.model_validate_json(path.read_text())))
        except ValueError as exc:  # an example newer than the code under test
            print(f"skipped {path.name}: {str(exc).splitlines()[0]}", file=sys.stderr)
    if synthetic:
        from crlm.synth import synthetic_rectal_cohort, to_patients

        for i, p in enumerate(to_patients(synthetic_rectal_cohort(synthetic, seed=0))):
            out.append((f"synthetic_{i}", p))
    return out


def time_one(patient: Patient, loops: int, repeats: int) -> tuple[float, float]:
    """Median over repeats of (wall µs per call, CPU µs per call)."""
    assess(patient)
    walls, cpus = [], []
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        for _ in range(loops):
            assess(patient)
        walls.append((time.perf_counter() - t0) / loops * 1e6)
        cpus.append((time.process_time() - c0) / loops * 1e6)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--loops", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--synthetic", type=int, default=20)
    parser.add_argument("--examples", type=Path,
                        default=Path(__file__).resolve().parent.parent / "examples")
    parser.add_argument("--fixed", type=int, default=None)
    args = parser.parse_args()
    cases = patients(args.examples, args.synthetic)
    gc.collect()
    gc.freeze()  # as the served app does at start-up
    if args.fixed is not None:
        for _ in range(args.fixed):
            for _, p in cases:
                assess(p)
        print(json.dumps({"rounds": args.fixed, "patients": len(cases)}))
        return
    per: dict[str, dict[str, float]] = {}
    for name, p in cases:
        wall, cpu = time_one(p, args.loops, args.repeats)
        per[name] = {"wall_us": round(wall, 1), "cpu_us": round(cpu, 1)}
    mixed_wall, mixed_cpu = [], []
    rounds = max(1, args.loops // 4)
    for _ in range(args.repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        for _ in range(rounds):
            for _, p in cases:
                assess(p)
        n = rounds * len(cases)
        mixed_wall.append((time.perf_counter() - t0) / n * 1e6)
        mixed_cpu.append((time.process_time() - c0) / n * 1e6)
    result: dict[str, Any] = {
        "module": str(Path(sys.modules["crlm"].__file__ or "").parent),
        "patients": len(cases),
        "median_wall_us": round(statistics.median(v["wall_us"] for v in per.values()), 1),
        "median_cpu_us": round(statistics.median(v["cpu_us"] for v in per.values()), 1),
        "mixed_wall_us": round(statistics.median(mixed_wall), 1),
        "mixed_cpu_us": round(statistics.median(mixed_cpu), 1),
        "per_patient": per,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
